"""PoseDataset, collate_pose/PoseBatch and LengthBucketBatchSampler."""

from __future__ import annotations

import re
import logging
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from glossfree.data.datasets import LengthBucketBatchSampler, PoseBatch, PoseDataset, collate_pose
from glossfree.data.layouts import BODY_POINTS, get_layout
from glossfree.data.manifest import Record
from glossfree.data.pose_io import Keypoints, extract_keypoints, keypoints_to_pose, read_pose, write_pose
from glossfree.data.transforms import RandomAffine, RandomPointDropout
from glossfree.errors import DataError

HOLISTIC = get_layout("holistic")


def _holistic_keypoints(frames: int, seed: int, fps: float = 25.0) -> Keypoints:
    """Raw (pixel-like) holistic keypoints with detected shoulders, some points missing."""
    rng = np.random.default_rng(seed)
    mask = rng.random((frames, HOLISTIC.num_points)) > 0.1
    mask[:, [BODY_POINTS.index("LEFT_SHOULDER"), BODY_POINTS.index("RIGHT_SHOULDER")]] = True
    points = np.where(mask[..., None], rng.uniform(100, 400, size=(frames, HOLISTIC.num_points, 3)), 0)
    return Keypoints(points=points.astype(np.float32), mask=mask, fps=fps)


def _dataset_root(tmp_path: Path, frames: list[int], fps: float = 25.0) -> tuple[Path, list[Record]]:
    records = []
    for i, count in enumerate(frames):
        write_pose(
            tmp_path / "poses" / f"s{i}.pose", keypoints_to_pose(_holistic_keypoints(count, i, fps), HOLISTIC)
        )
        records.append(
            Record(id=f"s{i}", split="train", text=f"satz {i}", language="de", pose=f"poses/s{i}.pose")
        )
    return tmp_path, records


def test_items_match_extract_keypoints(tmp_path):
    root, records = _dataset_root(tmp_path, [5, 8, 3])
    dataset = PoseDataset(records, root)
    assert len(dataset) == 3 and dataset.lengths == [5, 8, 3]
    item = dataset[1]
    assert set(item) == {"id", "keypoints", "keypoint_mask", "text", "language"}
    assert item["id"] == "s1" and item["text"] == "satz 1" and item["language"] == "de"
    assert item["keypoints"].dtype == torch.float32 and item["keypoints"].shape == (8, 203, 3)
    assert item["keypoint_mask"].dtype == torch.bool and item["keypoint_mask"].shape == (8, 203)
    expected = extract_keypoints(read_pose(root / "poses/s1.pose"), "pose203")
    np.testing.assert_array_equal(item["keypoints"].numpy(), expected.points)
    np.testing.assert_array_equal(item["keypoint_mask"].numpy(), expected.mask)
    holistic = PoseDataset(records, root, layout="holistic", normalize=False)[1]
    np.testing.assert_allclose(holistic["keypoints"].numpy(), _holistic_keypoints(8, 1).points)


def test_fps_resampling_and_lengths(tmp_path):
    root, records = _dataset_root(tmp_path, [10, 7], fps=50.0)
    dataset = PoseDataset(records, root, fps=25.0)
    assert dataset.lengths == [5, 4]
    assert [dataset[i]["keypoints"].shape[0] for i in range(2)] == [5, 4]
    full = PoseDataset(records, root)[0]["keypoints"]
    torch.testing.assert_close(dataset[0]["keypoints"], full[1::2])


def test_use_span(tmp_path):
    root, _ = _dataset_root(tmp_path, [50])
    record = Record(id="c", split="train", text="", language="de", pose="poses/s0.pose", start=0.4, end=1.0)
    dataset = PoseDataset([record], root, normalize=False, use_span=True)
    assert dataset.lengths == [15] and dataset[0]["keypoints"].shape[0] == 15
    whole = PoseDataset([record], root, normalize=False)
    torch.testing.assert_close(dataset[0]["keypoints"], whole[0]["keypoints"][10:25])


def test_missing_pose_file_names_file(tmp_path):
    root, records = _dataset_root(tmp_path, [4])
    records.append(Record(id="gone", split="train", text="x", language="de", pose="poses/gone.pose"))
    dataset = PoseDataset(records, root)
    with pytest.raises(DataError, match="^" + re.escape(f"{root / 'poses/gone.pose'}: pose file not found")):
        dataset[1]
    with pytest.raises(DataError, match="pose file not found"):
        _ = dataset.lengths


def test_record_without_pose(tmp_path):
    record = Record(id="v", split="train", text="x", language="de", video="videos/v.mp4")
    with pytest.raises(DataError, match="record 'v' has no 'pose' path"):
        PoseDataset([record], tmp_path)


def test_skip_bad_counts_and_logs(tmp_path, caplog):
    root, records = _dataset_root(tmp_path, [4, 6])
    (root / "poses/empty.pose").write_bytes(b"")
    bad = [
        Record(id="gone", split="train", text="x", language="de", pose="poses/gone.pose"),
        Record(id="empty", split="train", text="x", language="de", pose="poses/empty.pose"),
        Record(id="video", split="train", text="x", language="de", video="v.mp4"),
    ]
    with caplog.at_level(logging.WARNING, logger="glossfree.data.datasets"):
        dataset = PoseDataset([records[0], *bad, records[1]], root, skip_bad=True, cache=True)
    assert [r.id for r in dataset.records] == ["s0", "s1"] and dataset.lengths == [4, 6]
    assert [i for i, _ in dataset.skipped] == ["gone", "empty", "video"]
    assert "pose file not found" in dataset.skipped[0][1] and "empty.pose" in dataset.skipped[1][1]
    assert "skipped 3 of 5 samples" in caplog.text
    (root / "poses/s1.pose").unlink()  # cached at the check: no second read
    assert dataset[1]["keypoints"].shape == (6, 203, 3)


def test_reduced_files_need_allow_missing(samples_dir, tmp_path):
    record = Record(
        id="m",
        split="test",
        text="",
        language="en",
        pose=str(samples_dir / "pose-format/tests/mediapipe.pose"),
    )
    with pytest.raises(DataError, match="POSE_LANDMARKS \\(25 of 33 points missing\\)"):
        PoseDataset([record], tmp_path)[0]
    item = PoseDataset([record], tmp_path, allow_missing=True)[0]
    assert item["keypoints"].shape == (170, 203, 3)
    assert not item["keypoint_mask"][:, 161:182].any()  # left hand never detected in this file


def test_transform_seeded_per_item_and_epoch(tmp_path):
    root, records = _dataset_root(tmp_path, [6, 6])
    dataset = PoseDataset(records, root, transform=RandomAffine(), seed=7)
    first = dataset[0]["keypoints"]
    torch.testing.assert_close(dataset[0]["keypoints"], first)
    assert not torch.equal(first, PoseDataset(records, root)[0]["keypoints"])
    dataset.set_epoch(1)
    assert not torch.equal(dataset[0]["keypoints"], first)
    dropped = PoseDataset(records, root, transform=RandomPointDropout(1.0))[0]
    assert not dropped["keypoint_mask"].any() and not dropped["keypoints"].any()


def test_from_keypoints():
    layout = get_layout("pose203")
    samples = [
        (Record(id=f"k{i}", split="train", text="t", language="en", pose=f"k{i}.pose"),
         Keypoints(np.ones((t, 203, 3), np.float32), np.ones((t, 203), bool), 25.0))
        for i, t in enumerate([3, 9])
    ]  # fmt: skip
    dataset = PoseDataset.from_keypoints(samples, layout=layout)
    assert dataset.lengths == [3, 9] and dataset[1]["keypoints"].shape == (9, 203, 3)
    with pytest.raises(ValueError, match="has 5 points"):
        PoseDataset.from_keypoints(
            [(samples[0][0], Keypoints(np.ones((2, 5, 3)), np.ones((2, 5), bool), 25.0))]
        )


def _item(name: str, frames: int, seed: int, points: int = 4) -> dict:
    generator = torch.Generator().manual_seed(seed)
    mask = torch.rand(frames, points, generator=generator) > 0.3
    values = torch.randn(frames, points, 3, generator=generator) * mask[..., None]
    return {"id": name, "keypoints": values, "keypoint_mask": mask, "text": name.upper(), "language": "de"}


def test_collate_pads_and_keeps_each_sample():
    items = [_item("a", 3, 0), _item("b", 5, 1), _item("c", 1, 2)]
    batch = collate_pose(items)
    assert isinstance(batch, PoseBatch) and len(batch) == 3
    assert batch.keypoints.shape == (3, 5, 4, 3) and batch.keypoint_mask.shape == (3, 5, 4)
    assert batch.lengths.tolist() == [3, 5, 1] and batch.lengths.dtype == torch.long
    assert batch.frame_mask.tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]]
    for row, item in enumerate(items):
        frames = item["keypoints"].shape[0]
        assert torch.equal(batch.keypoints[row, :frames], item["keypoints"])
        assert torch.equal(batch.keypoint_mask[row, :frames], item["keypoint_mask"])
        assert not batch.keypoints[row, frames:].any() and not batch.keypoint_mask[row, frames:].any()
    assert batch.ids == ["a", "b", "c"] and batch.texts == ["A", "B", "C"] and batch.languages == ["de"] * 3
    moved = batch.to("cpu")
    assert moved.keypoints.device.type == "cpu" and moved.ids == batch.ids


def test_collate_errors():
    with pytest.raises(ValueError, match="empty list"):
        collate_pose([])
    with pytest.raises(ValueError, match="different point shapes a: \\(3, 4, 3\\), b: \\(2, 5, 3\\)"):
        collate_pose([_item("a", 3, 0), _item("b", 2, 0, points=5)])


def test_dataloader_end_to_end(tmp_path):
    root, records = _dataset_root(tmp_path, [4, 9, 5, 8, 3])
    dataset = PoseDataset(records, root, cache=True)
    sampler = LengthBucketBatchSampler(dataset.lengths, batch_size=2, shuffle=False)
    batches = list(DataLoader(dataset, batch_sampler=sampler, collate_fn=collate_pose))
    assert [b.ids for b in batches] == [["s4", "s0"], ["s2", "s3"], ["s1"]]
    assert [b.keypoints.shape[1] for b in batches] == [4, 8, 9]


def _flatten(batches: list[list[int]]) -> list[int]:
    return [i for batch in batches for i in batch]


@pytest.mark.parametrize("shuffle", [True, False])
def test_sampler_one_rank_covers_every_index_once(shuffle):
    lengths = np.random.default_rng(0).integers(1, 300, size=103).tolist()
    sampler = LengthBucketBatchSampler(lengths, batch_size=8, shuffle=shuffle, window_batches=4)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 13
    assert sorted(_flatten(batches)) == list(range(103))
    assert sum(len(b) < 8 for b in batches) == 1


def test_sampler_groups_similar_lengths():
    lengths = list(range(64))
    sorted_batches = list(LengthBucketBatchSampler(lengths, batch_size=8, shuffle=False))
    assert sorted_batches == [list(range(i, i + 8)) for i in range(0, 64, 8)]
    # one window covers the whole epoch: batches are sorted runs whatever the shuffle
    shuffled = list(LengthBucketBatchSampler(lengths, batch_size=8, shuffle=True, seed=3, window_batches=8))
    assert sorted(tuple(b) for b in shuffled) == [tuple(range(i, i + 8)) for i in range(0, 64, 8)]
    assert shuffled != sorted_batches  # batch order is shuffled


def test_sampler_two_ranks_disjoint():
    lengths = np.random.default_rng(1).integers(1, 100, size=64).tolist()
    ranks = [
        list(LengthBucketBatchSampler(lengths, batch_size=4, seed=5, num_replicas=2, rank=r)) for r in (0, 1)
    ]
    assert len(ranks[0]) == len(ranks[1]) == 8
    assert not set(_flatten(ranks[0])) & set(_flatten(ranks[1]))
    assert sorted(_flatten(ranks[0]) + _flatten(ranks[1])) == list(range(64))


def test_sampler_pads_uneven_ranks_with_repeats():
    sampler = [
        LengthBucketBatchSampler(list(range(22)), batch_size=4, seed=0, num_replicas=4, rank=r)
        for r in range(4)
    ]
    per_rank = [list(s) for s in sampler]
    assert [len(b) for b in per_rank] == [len(s) for s in sampler] == [2, 2, 2, 2]  # 6 batches padded to 8
    counts = Counter(_flatten([b for rank in per_rank for b in rank]))
    assert set(counts) == set(range(22))
    everything = sampler[0].global_batches()
    assert len(everything) == 6
    assert counts - Counter(range(22)) == Counter(everything[0] + everything[1])  # the repeats


def test_sampler_drop_last():
    sampler = LengthBucketBatchSampler(list(range(22)), batch_size=4, drop_last=True, num_replicas=2, rank=1)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 2  # 5 full batches, truncated to 4, 2 per rank
    assert all(len(b) == 4 for b in batches)
    assert (
        list(LengthBucketBatchSampler([], batch_size=4)) == []
        and len(LengthBucketBatchSampler([], batch_size=4)) == 0
    )


def test_sampler_deterministic_per_seed_and_epoch():
    lengths = np.random.default_rng(2).integers(1, 50, size=40).tolist()
    a = LengthBucketBatchSampler(lengths, batch_size=4, seed=1, window_batches=2)
    b = LengthBucketBatchSampler(lengths, batch_size=4, seed=1, window_batches=2)
    assert list(a) == list(b)
    first = list(a)
    a.set_epoch(1)
    assert list(a) != first
    b.set_epoch(1)
    assert list(a) == list(b)


def test_sampler_argument_errors():
    with pytest.raises(ValueError, match="rank 2 is outside 0..1"):
        LengthBucketBatchSampler([1], batch_size=1, num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="batch_size \\(0\\)"):
        LengthBucketBatchSampler([1], batch_size=0)


def test_batch_select_keeps_every_per_sample_field_in_order():
    import torch

    from glossfree.data.datasets import collate_pose

    items = [
        {"id": f"s{i}", "keypoints": torch.full((3 + i, 203, 3), float(i)), "keypoint_mask": torch.ones(3 + i, 203, dtype=torch.bool),
         "text": f"text {i}", "language": "de"}
        for i in range(3)
    ]  # fmt: skip
    batch = collate_pose(items)
    picked = batch.select([2, 0])
    assert picked.ids == ["s2", "s0"] and picked.texts == ["text 2", "text 0"]
    assert picked.keypoints.shape == (2, 5, 203, 3) and picked.keypoints[0, 0, 0, 0] == 2.0
    assert picked.lengths.tolist() == [5, 3]
    assert all(mask.shape[0] == 2 for mask in picked.masks.values())
