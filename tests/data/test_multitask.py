"""Multitask SLT + SSA samples from broadcast streams, mixed batches and per-sample prompts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from glossfree.alignment.subtitles import read_subtitles
from glossfree.alignment.windows import decode_target, ssa_window
from glossfree.data.datasets import PoseDataset
from glossfree.data.multitask import (
    MixedTaskBatchSampler,
    MultitaskDataset,
    collate_multitask,
    multitask_records,
    read_stream_manifest,
    stream_splits,
)
from glossfree.data.synth.broadcast import BroadcastConfig, generate_broadcast
from glossfree.errors import DataError
from glossfree.text.prompts import SSA_PRIOR


@pytest.fixture(scope="module")
def streams(tmp_path_factory):
    out = tmp_path_factory.mktemp("bc")
    generate_broadcast(out, BroadcastConfig(num_streams=3, sentences_per_stream=4, seed=2))
    return out


def test_records_slt_spans_and_ssa_targets(streams):
    records, counts = multitask_records(streams, split="train", window_s=16.0, dev_streams=1)
    assert counts["streams"] == 2 and counts["slt"] == 8 and counts["ssa"] + counts["ssa_outside_window"] == 8
    entries = {e["id"]: e for e in read_stream_manifest(streams)}
    for record in records:
        entry = entries[record.extra["stream"]]
        k = int(record.id.rsplit("/", 1)[1])
        truth = read_subtitles(streams / entry["signing"])[k]
        prior = read_subtitles(streams / entry["audio"])[k]
        if record.extra["task"] == "slt":
            assert (record.start, record.end, record.text) == (truth.start, truth.end, truth.text)
            continue
        window = ssa_window(prior.start, prior.end, num_frames=entry["num_frames"], fps=entry["fps"], seconds=16.0)
        assert (record.start, record.end) == (window.start_s, window.end_s)
        span = decode_target(record.text, window)  # the answer is the true span, to the frame
        assert span.start == pytest.approx(max(truth.start, window.start_s), abs=0.021)
        assert span.end == pytest.approx(min(truth.end, window.end_s), abs=0.021)
        first, last = record.extra["prior"]
        assert first / entry["fps"] + window.start_s == pytest.approx(prior.start, abs=0.021)
        assert record.extra["subtitle"] == prior.text
    dev, _ = multitask_records(streams, split="dev", window_s=16.0, dev_streams=1)
    assert {r.extra["stream"] for r in dev} == {"stream-0002"}


def test_splits_from_the_manifest_win():
    assert stream_splits([{}, {"split": "test"}, {}, {}], 1) == ["train", "test", "train", "dev"]
    assert stream_splits([{}, {}], 0) == ["train", "train"]


def test_mixed_batches_hold_the_configured_share():
    tasks = ["slt"] * 40 + ["ssa"] * 7
    sampler = MixedTaskBatchSampler(tasks, [10] * 47, batch_size=10, ssa_fraction=0.2, seed=1)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 5
    for batch in batches:
        kinds = [tasks[i] for i in batch]
        assert kinds.count("ssa") == 2 and kinds.count("slt") == 8
    slt = sorted(i for batch in batches for i in batch if tasks[i] == "slt")
    assert slt == list(range(40))  # every SLT sample once per epoch
    sampler.set_epoch(1)
    assert list(sampler) != batches
    assert all(tasks[i] == "slt" for b in MixedTaskBatchSampler(tasks, [1] * 47, batch_size=10, ssa_fraction=0.0) for i in b)
    ranks = [list(MixedTaskBatchSampler(tasks, [1] * 47, batch_size=10, ssa_fraction=0.2, num_replicas=2, rank=r)) for r in (0, 1)]
    assert len(ranks[0]) == len(ranks[1]) == 3
    evaluation = MixedTaskBatchSampler(tasks, list(range(47)), batch_size=10, ssa_fraction=0.2, shuffle=False)
    assert sorted(i for b in evaluation for i in b) == list(range(47))
    with pytest.raises(DataError, match="no SLT samples"):
        MixedTaskBatchSampler(["ssa"] * 3, [1] * 3, batch_size=2, ssa_fraction=0.5)


def test_batches_carry_prompts_and_tasks(streams):
    records, _ = multitask_records(streams, split="train", window_s=16.0, dev_streams=1)
    poses = PoseDataset(records, streams, layout="pose203", use_span=True, fps=12.5)
    dataset = MultitaskDataset(poses, sample_prior=True, prior_probability=0.5)
    ssa = [i for i, task in enumerate(dataset.tasks) if task == "ssa"]
    slt = [i for i, task in enumerate(dataset.tasks) if task == "slt"]
    batch = collate_multitask([dataset[slt[0]], dataset[(ssa[0], 0)]])
    assert batch.tasks == ["slt", "ssa"]
    assert batch.prompts[0].startswith("Translate the sign language video into English")
    assert records[ssa[0]].extra["subtitle"] in batch.prompts[1]
    assert max(dataset.lengths[i] for i in ssa) == 200  # 16 s at 12.5 fps (windows at a stream's ends are shorter)
    shown = [SSA_PRIOR.split(":")[0] in dataset[(i, epoch)]["prompt"] for i in ssa for epoch in range(10)]
    assert 0.2 < np.mean(shown) < 0.8  # the prior is shown about half of the time in training
    assert dataset[(ssa[0], 3)]["prompt"] == dataset[(ssa[0], 3)]["prompt"]  # deterministic per (epoch, index)
    evaluation = MultitaskDataset(poses, sample_prior=False)
    assert all(SSA_PRIOR.split(":")[0] in evaluation[i]["prompt"] for i in ssa)
    moved = batch.to("cpu")
    assert moved.prompts == batch.prompts and torch.equal(moved.keypoints, batch.keypoints)
