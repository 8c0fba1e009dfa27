"""The feature cache (round trip, checks, atomic writes) and the sharded, resumable extract driver."""

from __future__ import annotations

import json

import pytest
import torch

from features.helpers import TINY_CONFIGS
from glossfree.errors import DataError
from glossfree.features import cache as cache_module
from glossfree.features.cache import FeatureCache, entry_path, write_entry
from glossfree.features.config import config_dict, parse_extractor_config, signature
from glossfree.features.extract import extract_features, select_records, shard_records

RESNET = parse_extractor_config(TINY_CONFIGS["resnet"])


def _write(root, record_id="a", features=None, **meta):
    features = torch.randn(5, 8) if features is None else features
    metadata = {"signature": "s" * 64, "fps": 25.0, "num_frames": 5, **meta}
    path = FeatureCache(root, "x").path(record_id)
    write_entry(path, features, metadata)
    return path, features


def test_round_trip_and_metadata(tmp_path):
    path, features = _write(tmp_path, "train/a", torch.randn(5, 8).half())
    assert path == tmp_path / "features" / "x" / "train" / "a.safetensors"
    entry = FeatureCache(tmp_path, "x", signature="s" * 64, dim=8, dtype="float16").read("train/a")
    assert torch.equal(entry.features, features) and entry.features.dtype == torch.float16
    assert entry.fps == 25.0 and entry.num_frames == 5 and entry.metadata["dtype"] == "float16"


def test_cache_files_are_readable_by_others(tmp_path):
    """Issue 23, 12: the process's umask decides, as for every other output (safetensors alone makes 0o600)."""
    import os
    import stat

    old = os.umask(0o022)
    try:
        path, _ = _write(tmp_path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_read_checks_name_the_file(tmp_path):
    path, _ = _write(tmp_path)
    with pytest.raises(DataError, match=rf"{path}: features are 8-d, expected 16-d"):
        FeatureCache(tmp_path, "x", dim=16).read("a")
    with pytest.raises(DataError, match=rf"{path}: features are float32, expected float16"):
        FeatureCache(tmp_path, "x", dtype="float16").read("a")
    with pytest.raises(DataError, match=r"b.safetensors: cached features not found"):
        FeatureCache(tmp_path, "x").read("b")
    path.write_bytes(path.read_bytes()[:40])  # truncated
    with pytest.raises(DataError, match=rf"{path}: cannot read cached features \(corrupt or truncated"):
        FeatureCache(tmp_path, "x").read("a")
    assert FeatureCache(tmp_path, "x").status("a")[0] == "invalid"
    with pytest.raises(DataError, match="cannot name a cache file"):
        entry_path(tmp_path, "../escape")
    with pytest.raises(DataError, match="refusing to cache features of shape"):
        write_entry(tmp_path / "e.safetensors", torch.zeros(0, 4), {})


def test_stale_signature_says_what_changed_and_what_to_do(tmp_path):
    old = parse_extractor_config({**TINY_CONFIGS["resnet"], "fps": 10})
    path, _ = _write(tmp_path, signature=signature(old), config=config_dict(old))
    cache = FeatureCache(tmp_path, "x", signature=signature(RESNET), expected_config=config_dict(RESNET))
    with pytest.raises(DataError) as error:
        cache.read("a")
    message = str(error.value)
    assert str(path) in message and "stale" in message and "--overwrite" in message
    assert "fps: 10.0 -> None" in message and "extractor config these files were written with" in message
    assert cache.status("a")[0] == "stale"


def test_failed_write_leaves_no_file(tmp_path, monkeypatch):
    def broken_save(tensors, filename, metadata=None):
        with open(filename, "wb") as handle:
            handle.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(cache_module, "save_file", broken_save)
    with pytest.raises(OSError, match="disk full"):
        _write(tmp_path)
    assert list((tmp_path / "features" / "x").iterdir()) == []  # neither the target nor a temp file


def test_extract_resume_spans_and_overwrite(dataset):
    summary = extract_features(dataset, RESNET, name="resnet", progress=False)
    assert (summary.written, summary.skipped, summary.failed) == (4, 0, [])
    cache = FeatureCache(dataset, "resnet", signature=signature(RESNET), dim=32)
    full, span = cache.read("b"), cache.read("b_span")
    assert full.features.shape == (30, 32) and full.num_frames == 30 and full.fps == 10.0
    assert span.features.shape == (10, 32) and span.metadata["start"] == "0.5"  # 0.5-1.5 s at 10 fps
    torch.testing.assert_close(span.features, full.features[5:15])  # the same frames
    assert cache.read("dev/c").features.shape == (20, 32)
    info = json.loads((dataset / "features" / "resnet" / "extractor.json").read_text())
    assert info["signature"] == signature(RESNET) and info["dim"] == 32

    stamp = cache.path("a").stat().st_mtime_ns
    again = extract_features(dataset, RESNET, name="resnet", progress=False)
    assert (again.written, again.skipped) == (0, 4) and cache.path("a").stat().st_mtime_ns == stamp

    changed = parse_extractor_config({**TINY_CONFIGS["resnet"], "fps": 5})
    with pytest.raises(DataError, match=r"4 cached files \(of the 4 records of this shard\) were written with a different extractor config; pass --overwrite"):
        extract_features(dataset, changed, name="resnet", progress=False)
    assert cache.path("a").stat().st_mtime_ns == stamp  # nothing touched
    redone = extract_features(dataset, changed, name="resnet", overwrite=True, progress=False)
    assert redone.written == 4 and redone.replaced_stale == 4
    assert FeatureCache(dataset, "resnet", signature=signature(changed)).read("b").features.shape == (15, 32)


def test_failures_are_counted_and_named(dataset):
    (dataset / "videos" / "a.mp4").unlink()
    broken = FeatureCache(dataset, "resnet").path("b")
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"not safetensors")
    summary = extract_features(dataset, RESNET, name="resnet", splits=["train"], progress=False)
    assert summary.written == 2 and summary.replaced_invalid == ["b"]
    assert [record_id for record_id, _ in summary.failed] == ["a"]
    assert "videos/a.mp4: video file not found" in summary.failed[0][1]


def test_shards_partition_the_records(dataset):
    records = select_records(dataset)
    shards = [shard_records(records, num_shards=3, shard_index=i) for i in range(3)]
    ids = [r.id for shard in shards for r in shard]
    assert sorted(ids) == sorted(r.id for r in records) and len(set(ids)) == len(ids)
    written = [extract_features(dataset, RESNET, name="r", num_shards=2, shard_index=i, progress=False).written
               for i in range(2)]  # fmt: skip
    assert written == [2, 2]
    assert len(list((dataset / "features" / "r").rglob("*.safetensors"))) == 4
    with pytest.raises(Exception, match=r"--shard-index must be in \[0, 1\]"):
        shard_records(records, num_shards=2, shard_index=2)


def test_killed_run_resumes_where_it_stopped(dataset, monkeypatch):
    from glossfree.features.extractors import ImageExtractor

    original, calls = ImageExtractor.extract, []

    def dies_on_the_third(self, frames, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # the run is killed while extracting the third record
        return original(self, frames, **kwargs)

    monkeypatch.setattr(ImageExtractor, "extract", dies_on_the_third)
    with pytest.raises(KeyboardInterrupt):
        extract_features(dataset, RESNET, name="resnet", progress=False)
    folder = dataset / "features" / "resnet"
    assert sorted(p.name for p in folder.rglob("*") if p.is_file()) == ["a.safetensors", "b.safetensors", "extractor.json"]
    monkeypatch.setattr(ImageExtractor, "extract", original)
    resumed = extract_features(dataset, RESNET, name="resnet", progress=False)
    assert (resumed.skipped, resumed.written, resumed.failed) == (2, 2, [])


_KILLED_WRITER = """
import os, signal, sys
sys.path.insert(0, {tests!r})
from features.helpers import TINY_CONFIGS
from glossfree.features import cache as cache_module
from glossfree.features.config import parse_extractor_config
from glossfree.features.extract import extract_features

original, calls = cache_module.save_file, []

def killed_while_writing(tensors, filename, metadata=None):
    calls.append(filename)
    if len(calls) == 3:  # SIGKILL half-way through the third file: no handler, no clean-up runs
        with open(filename, "wb") as handle:
            handle.write(b"half a safetensors file")
            handle.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    return original(tensors, filename, metadata=metadata)

cache_module.save_file = killed_while_writing
extract_features({root!r}, parse_extractor_config(TINY_CONFIGS["resnet"]), name="resnet", progress=False)
"""


def test_sigkill_mid_write_leaves_no_partial_file_that_is_ever_read(dataset):
    """A real kill (SIGKILL, nothing cleans up) while a file is being written: the partial bytes stay
    in a hidden temp file that no reader opens, the record counts as not done, and the next run
    writes it and the rest."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    tests = str(Path(__file__).resolve().parents[1])
    script = _KILLED_WRITER.format(tests=tests, root=str(dataset))
    done = subprocess.run([sys.executable, "-c", script], env={**os.environ, "OMP_NUM_THREADS": "1"},
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == -signal.SIGKILL, done.stderr
    folder = dataset / "features" / "resnet"
    finished = sorted(p.name for p in folder.glob("*.safetensors") if not p.name.startswith("."))
    assert finished == ["a.safetensors", "b.safetensors"]  # whole files only
    leftovers = [p for p in folder.rglob(".*.tmp.safetensors")]
    assert len(leftovers) == 1 and leftovers[0].read_bytes() == b"half a safetensors file"
    cache = FeatureCache(dataset, "resnet", signature=signature(RESNET), dim=32)
    assert cache.status("b_span")[0] != "valid"  # the killed record is not done
    resumed = extract_features(dataset, RESNET, name="resnet", progress=False)
    assert (resumed.skipped, resumed.written, resumed.failed, resumed.replaced_invalid) == (2, 2, [], [])
    for record_id in ("a", "b", "b_span", "dev/c"):
        assert torch.isfinite(cache.read(record_id).features).all()
