"""The demo driver on a tiny corpus, and the two baselines it prints."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from glossfree.data.manifest import Record
from glossfree.data.synth import SynthConfig
from glossfree.demo import run_demo
from glossfree.inference.evaluate import most_frequent_sentence_baseline
from tiny import FAST_RECIPE


def _record(i: int, text: str, split: str) -> Record:
    return Record(id=f"{split}-{i}", split=split, text=text, language="de", pose=f"poses/{i}.pose")


def test_most_frequent_sentence_baseline_predicts_the_mode():
    train = [_record(0, "es regnet", "train"), _record(1, "es schneit", "train"), _record(2, "es regnet", "train")]
    test = [_record(3, "es regnet", "test"), _record(4, "die sonne scheint", "test")]
    result = most_frequent_sentence_baseline(train, test, preset="signjoey")
    assert result.hypotheses == ["es regnet", "es regnet"]
    # BLEU-1: 2 of 4 hypothesis unigrams match; BP = 1 (4 hyp tokens vs 5 ref tokens -> exp(1 - 5/4)).
    assert result.scores.bleu1 == pytest.approx(100 * 0.5 * 2.718281828 ** (1 - 5 / 4), rel=1e-6)


@pytest.mark.slow
def test_demo_runs_end_to_end_and_resumes(tmp_path):
    synth = SynthConfig(seed=5, num_train=24, num_dev=4, num_test=4, fps=12.5, face_points="contours")
    console = Console(record=True, width=160)
    result = run_demo(tmp_path, synth=synth, recipe_overrides=FAST_RECIPE, console=console, progress=False)
    output = console.export_text()
    for expected in ("baseline: most frequent training sentence", "another sample's poses", "glossfree translate"):
        assert expected in output
    saved = json.loads((tmp_path / "demo_results.json").read_text())
    assert saved["test"]["bleu4"] == pytest.approx(result.scores.bleu4)
    assert saved["test"]["num_sentences"] == 4
    assert (tmp_path / "eval_test" / "hypotheses.txt").is_file()
    assert set(result.timings_s) == {"synth", "train", "evaluate", "translate"}

    # A second run reuses the corpus and the finished training.
    console = Console(record=True, width=160)
    again = run_demo(tmp_path, synth=synth, recipe_overrides=FAST_RECIPE, console=console, progress=False)
    assert "reusing the synthetic corpus" in console.export_text()
    assert again.scores.bleu4 == pytest.approx(result.scores.bleu4)


@pytest.mark.slow
def test_the_demo_model_beats_both_baselines(tmp_path):
    """The demo's promise on a smaller corpus: the trained model reads its input. It must beat the
    most frequent training sentence and itself fed another sample's poses, on the held-out test split."""
    synth = SynthConfig(seed=3, num_train=400, num_dev=24, num_test=40, fps=12.5, face_points="contours",
                        text_style="lower", lexicon_size=24, num_signers=2, hand_drop_rate=0.0)  # fmt: skip
    overrides = [
        "stages.0.max_epochs=10", "stages.0.val_every_n_epochs=5", "stages.0.batch_size=16",
        "model.lm.generation.num_beams=1", "tokenizer.vocab_size=200", "evaluation.batch_size=40",
    ]  # fmt: skip
    result = run_demo(tmp_path, synth=synth, recipe_overrides=overrides, console=Console(quiet=True), progress=False)
    assert result.scores.bleu4 > result.most_frequent.bleu4 + 5
    assert result.scores.bleu4 > result.shuffled.bleu4 + 5
    done = json.loads((tmp_path / "run" / "stages" / "slt" / "done.json").read_text())
    assert done["input_reliance"] > 0.2 and not done["not_reading_input"]  # measured: 0.42


def test_shuffled_input_baseline_scores_another_samples_translation(tiny_run, tiny_corpus, monkeypatch):
    """Each sample is scored on the translation of another sample's whole input: the baseline holds for
    any input (poses, video, cached features), not only for pose paths."""
    from glossfree.data.manifest import load_split
    from glossfree.inference import evaluate as evaluate_module
    from glossfree.inference.loading import load_trained

    records = load_split(tiny_corpus, "test")
    seen = []

    def fake_generate(trained, given, root, **kwargs):
        seen.append([r.id for r in given])
        return {r.id: f"translation of {r.id}" for r in given}

    monkeypatch.setattr(evaluate_module, "generate_records", fake_generate)
    result = evaluate_module.shuffled_input_baseline(load_trained(tiny_run), records, tiny_corpus, seed=3, preset="signjoey")
    assert seen == [[r.id for r in records]]  # every sample's own, complete input, translated once
    sources = [hyp.removeprefix("translation of ") for hyp in result.hypotheses]
    assert sorted(sources) == sorted(result.ids) and all(s != i for s, i in zip(sources, result.ids))
