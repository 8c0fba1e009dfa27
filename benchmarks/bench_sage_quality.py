"""``sage/tiny`` against the demo's two baselines on a synthetic corpus with video (issue 25, Quality).

1. the demo corpus (``glossfree.demo.demo_synth_config``) with 96x96 stick-figure videos, segmented
   by the pose-motion segmenter (``segments_motion.jsonl``), unless ``--data`` holds one already;
2. ``sage/tiny`` trained through the engine (``--set`` overrides pass through);
3. test-split BLEU/ROUGE-L/chrF (beam search) next to the demo's baselines on the same split: the
   most frequent training sentence, and the same model fed another sample's input (a derangement of
   the split: each record's whole input, video and segments, replaced by another record's).

    python benchmarks/bench_sage_quality.py --data data/sage_demo --out runs/sage_quality [--set KEY=VALUE ...] [--json FILE]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from _util import machine, machine_line, write_json
from glossfree.data.manifest import load_split
from glossfree.data.synth import generate_corpus
from glossfree.demo import demo_synth_config
from glossfree.inference.evaluate import evaluate_split, generate_records, most_frequent_sentence_baseline, score_split
from glossfree.inference.loading import load_trained
from glossfree.segmentation.motion import PoseMotionConfig, PoseMotionSegmenter
from glossfree.segmentation.run import segment_dataset
from glossfree.training.engine import LaunchConfig, train
from glossfree.training.tasks import load_recipe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--recipe", default="sage/tiny")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    info = machine()
    print(machine_line(info))
    timings = {}
    started = time.perf_counter()
    if not (args.data / "manifest.jsonl").is_file():
        config = demo_synth_config(args.seed).model_copy(update={"render_video": True, "width": 96, "height": 96})
        generate_corpus(args.data, config, progress=False)
    if not (args.data / "segments_motion.jsonl").is_file():
        summary = segment_dataset(args.data, PoseMotionSegmenter(PoseMotionConfig()), name="pose_motion",
                                  out=args.data / "segments_motion.jsonl", truth=args.data / "segments.jsonl", progress=False)  # fmt: skip
        print(f"segments: {summary.tokens_per_frame:.3f} per frame, boundary F1 {summary.score.f1:.3f}")
    timings["data_s"] = time.perf_counter() - started
    started = time.perf_counter()
    recipe = load_recipe(args.recipe, [f"seed={args.seed}", *args.overrides])
    result = train(recipe, data_root=args.data, run_dir=args.out, resume=(args.out / "recipe.yaml").is_file(),
                   launch=LaunchConfig(accelerator="cpu", progress=False))  # fmt: skip
    timings["train_s"] = time.perf_counter() - started
    trained = load_trained(result.model_dir)
    preset, period = trained.recipe.evaluation.preset, trained.recipe.evaluation.append_period
    test = evaluate_split(trained, args.data, "test", out_dir=args.out / "eval_test", progress=False)
    records = load_split(args.data, "test")
    frequent = most_frequent_sentence_baseline(load_split(args.data, "train"), records, preset=preset, append_period=period)
    rng = np.random.default_rng(args.seed)
    order = np.arange(len(records))
    while np.any(order == np.arange(len(records))):
        order = rng.permutation(len(records))
    hypotheses = generate_records(trained, [records[j] for j in order], args.data)
    swapped = score_split({record.id: hypotheses[records[j].id] for record, j in zip(records, order)}, records,
                          preset=preset, append_period=period)  # fmt: skip
    rows = {"sage": test.scores, "most_frequent": frequent.scores, "another_input": swapped.scores}
    for name, scores in rows.items():
        print(f"{name:<15} BLEU-4 {scores.bleu4:6.2f}  BLEU-1 {scores.bleu1:6.2f}  ROUGE-L {scores.rouge_l:6.2f}  chrF {scores.chrf:6.2f}")
    print(f"train {timings['train_s'] / 60:.1f} min on {info['nproc']} cores")
    if args.json:
        write_json(args.json, {"machine": info, "timings": timings, **{k: v.as_dict() for k, v in rows.items()}})


if __name__ == "__main__":
    main()
