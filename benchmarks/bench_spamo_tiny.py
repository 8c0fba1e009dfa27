"""spamo/tiny quality run (issue 26): the demo corpus with 64x64 stick-figure videos -> extract the two tiny
streams -> train spamo/tiny -> test, beside the demo's two baselines (most frequent training sentence,
the same model fed another sample's input). Extra arguments are recipe overrides.

    OUT=/tmp/spamo_quality RUN=run OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_spamo_tiny.py [key=value ...]
"""
import json
import os
import sys
import time
from pathlib import Path

from glossfree.data.manifest import load_split
from glossfree.data.synth import generate_corpus
from glossfree.demo import demo_synth_config
from glossfree.features.config import load_extractor_config
from glossfree.features.extract import extract_features
from glossfree.inference.evaluate import (
    evaluate_split,
    most_frequent_sentence_baseline,
    shuffled_input_baseline,
)
from glossfree.inference.loading import load_trained
from glossfree.training.engine import LaunchConfig, train
from glossfree.training.tasks import load_recipe



def timed(times: dict, key: str, start: float) -> None:
    times[key] = time.perf_counter() - start
    print(f"{key}: {times[key]:.1f} s", flush=True)


def main() -> None:
    out = Path(os.environ.get("OUT", "/tmp/spamo_quality"))
    data, run, times = out / "data", out / os.environ.get("RUN", "run"), {}
    start = time.perf_counter()
    if not (data / "manifest.jsonl").is_file():
        config = demo_synth_config(0).model_copy(update={"render_video": True, "width": 64, "height": 64})
        generate_corpus(data, config, progress=False)
    timed(times, "synth", start)
    for name, stream in (("spamo/clip_tiny", "clip_s2"), ("spamo/videomae_tiny", "videomae")):
        start = time.perf_counter()
        summary = extract_features(data, load_extractor_config(name), name=stream, progress=False)
        assert not summary.failed, summary.failed[:3]
        timed(times, f"extract_{stream}", start)
    start = time.perf_counter()
    recipe = load_recipe("spamo/tiny", sys.argv[1:])
    train(recipe, data_root=data, run_dir=run, resume=(run / "recipe.yaml").is_file(),
          launch=LaunchConfig(accelerator="cpu", progress=False))  # fmt: skip
    timed(times, "train", start)
    start = time.perf_counter()
    trained = load_trained(run)
    preset = trained.recipe.evaluation.preset
    test = evaluate_split(trained, data, "test", out_dir=run.parent / f"{run.name}_eval_test")
    train_records, test_records = load_split(data, "train"), load_split(data, "test")
    frequent = most_frequent_sentence_baseline(train_records, test_records, preset=preset)
    shuffled = shuffled_input_baseline(trained, test_records, data, seed=0, preset=preset)
    timed(times, "evaluate", start)
    result = {"test": test.scores.as_dict(), "most_frequent": frequent.scores.as_dict(),
              "shuffled": shuffled.scores.as_dict(), "times_s": times, "overrides": sys.argv[1:]}  # fmt: skip
    for name in ("test", "most_frequent", "shuffled"):
        scores = result[name]
        print(f"{name:<14} BLEU-4 {scores['bleu4']:6.2f}  ROUGE-L {scores['rouge_l']:6.2f}  chrF {scores['chrf']:6.2f}")
    (out / f"{run.name}_results.json").write_text(json.dumps(result, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
