"""Score a trained model on a dataset split: beam-search generation only, never teacher forcing.

Writes hypotheses, references, per-sample scores and the scorer signature
(``glossfree.evaluation.report``). Also provides the two sanity baselines the demo prints: the most
frequent training sentence for every input, and the same model fed another sample's poses.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from glossfree.inference.loading import TrainedModel
from glossfree.data.datasets import LengthBucketBatchSampler, collate_pose
from glossfree.data.manifest import Record, load_split
from glossfree.errors import DataError
from glossfree.evaluation import Scores, score
from glossfree.evaluation.report import write_report
from glossfree.inference.device import InferenceDevice
from glossfree.inference.translator import check_decoding
from glossfree.io import check_output_dir


@dataclass
class SplitResult:
    ids: list[str]
    hypotheses: list[str]
    references: list[str]
    scores: Scores


def generate_records(
    trained: TrainedModel,
    records: list[Record],
    root: Path,
    *,
    batch_size: int | None = None,
    num_beams: int | None = None,
    max_new_tokens: int | None = None,
    progress: bool = False,
    device: InferenceDevice | None = None,
) -> dict[str, str]:
    """Translate every record in batches on ``device`` (default: where the model is); ``{id: hypothesis}``."""
    recipe = trained.recipe
    from glossfree.training.datamodule import build_dataset

    # The training data options (inputs, spans, window, fps), without augmentation; a bad file is an error.
    dataset = build_dataset(recipe.data, recipe.model, records, root, train=False, skip_bad=False, seed=recipe.seed)
    sampler = LengthBucketBatchSampler(dataset.lengths, batch_size=batch_size or recipe.evaluation.batch_size, shuffle=False)
    loader = DataLoader(dataset, batch_sampler=sampler, collate_fn=collate_pose)
    device = device or InferenceDevice(next(trained.model.parameters()).device)
    trained.model.to(device.device)
    hypotheses: dict[str, str] = {}
    iterator = loader
    if progress:
        from rich.console import Console
        from rich.progress import track

        # stderr: stdout stays clean for `glossfree evaluate --json`.
        iterator = track(loader, description="translating", total=len(loader), console=Console(stderr=True))
    with torch.inference_mode(), device.autocast():
        for batch in iterator:
            outputs = trained.model.generate(batch.to(device.device), num_beams=num_beams, max_new_tokens=max_new_tokens)
            hypotheses.update(zip(batch.ids, outputs))
    return hypotheses


def score_split(
    hypotheses: dict[str, str], records: list[Record], *, preset: str, append_period: bool
) -> SplitResult:
    ids = [record.id for record in records]
    hyps = [hypotheses[i] for i in ids]
    refs = [record.text for record in records]
    return SplitResult(ids, hyps, refs, score(hyps, refs, preset=preset, append_period=append_period))


def evaluate_split(
    trained: TrainedModel,
    root: str | Path,
    split: str = "test",
    *,
    out_dir: str | Path | None = None,
    preset: str | None = None,
    append_period: bool | None = None,
    num_beams: int | None = None,
    progress: bool = False,
    device: InferenceDevice | None = None,
    batch_size: int | None = None,
) -> SplitResult:
    """Generate translations for ``split`` of the dataset at ``root`` and score them.

    ``device``: where to run (default: where the model is); ``batch_size``: samples per generation
    batch (default: the recipe's ``evaluation.batch_size``).
    """
    check_decoding(num_beams=num_beams, max_new_tokens=None)
    if out_dir is not None:
        check_output_dir(out_dir, what="output folder")
    root = Path(root)
    _check_not_a_stream_corpus(root)
    records = load_split(root, split)
    preset = preset or trained.recipe.evaluation.preset
    append_period = trained.recipe.evaluation.append_period if append_period is None else append_period
    hypotheses = generate_records(
        trained, records, root, num_beams=num_beams, progress=progress, device=device, batch_size=batch_size
    )
    result = score_split(hypotheses, records, preset=preset, append_period=append_period)
    if out_dir is not None:
        write_report(
            Path(out_dir),
            ids=result.ids,
            hypotheses=result.hypotheses,
            references=result.references,
            scores=result.scores,
        )
    return result


def _check_not_a_stream_corpus(root: Path) -> None:
    """A stream corpus (long streams and their subtitle files: what a ``data.ssa`` recipe trains on)
    has no sentence samples to translate: :class:`DataError` saying what scores it instead."""
    from glossfree.data.synth.broadcast import read_broadcast_manifest

    try:
        streams = read_broadcast_manifest(root)
    except DataError:
        return  # not a stream manifest: load_split says what is wrong with it, if anything
    raise DataError(
        f"{root / 'manifest.jsonl'}: a stream corpus ({len(streams)} long streams with signing and audio "
        "subtitles, as data.ssa trains on), not sentence samples: `glossfree evaluate` cannot score it. Score "
        f"the subtitle alignment with `python -m glossfree.inference.aligner MODEL {root}` (or one stream with "
        "`glossfree align STREAM.pose SUBTITLES.vtt --model MODEL`); the dev streams' translation was scored "
        "in training (dev/bleu4 in the run's logs)"
    )


def most_frequent_sentence_baseline(
    train_records: list[Record], test_records: list[Record], *, preset: str, append_period: bool = False
) -> SplitResult:
    """Predict the most frequent training sentence for every test input (ties: first seen)."""
    counts = Counter(record.text for record in train_records)
    sentence = counts.most_common(1)[0][0]
    hypotheses = {record.id: sentence for record in test_records}
    return score_split(hypotheses, test_records, preset=preset, append_period=append_period)


def shuffled_input_baseline(
    trained: TrainedModel, records: list[Record], root: Path, *, seed: int = 0, preset: str,
    append_period: bool = False,
) -> SplitResult:
    """The same model fed another sample's input (a derangement of the split): it must do much worse.

    Sample ``i`` is scored on the translation of sample ``order[i]``'s whole input (its poses, video,
    cached features and span alike), so the baseline holds for every kind of input; swapping only the
    ``pose`` path left a features or video model its own input."""
    rng = np.random.default_rng(seed)
    order = np.arange(len(records))
    while len(records) > 1 and np.any(order == np.arange(len(records))):
        order = rng.permutation(len(records))
    hypotheses = generate_records(trained, records, root)
    swapped = {record.id: hypotheses[records[j].id] for record, j in zip(records, order)}
    return score_split(swapped, records, preset=preset, append_period=append_period)


def split_baselines(
    trained: TrainedModel, root: str | Path, split: str = "test", *, seed: int = 0, preset: str | None = None,
    append_period: bool | None = None,
) -> dict[str, SplitResult]:
    """The demo's two baselines on ``split``, scored as :func:`evaluate_split` scores the model: the
    most frequent training sentence, and the model fed another sample's signing."""
    root = Path(root)
    preset = preset or trained.recipe.evaluation.preset
    append_period = trained.recipe.evaluation.append_period if append_period is None else append_period
    train_records = load_split(root, trained.recipe.data.train_split)
    records = load_split(root, split)
    return {
        "most_frequent_sentence": most_frequent_sentence_baseline(
            train_records, records, preset=preset, append_period=append_period
        ),
        "shuffled_inputs": shuffled_input_baseline(
            trained, records, root, seed=seed, preset=preset, append_period=append_period
        ),
    }
