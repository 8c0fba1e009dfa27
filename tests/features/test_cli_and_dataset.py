"""``glossfree extract`` end to end, the FeatureDataset/collate and the features frontend."""

from __future__ import annotations

import pytest
import torch
import yaml
from typer.testing import CliRunner

from features.helpers import TINY_CONFIGS
from glossfree.cli.main import app
from glossfree.errors import ConfigError, DataError
from glossfree.features.cache import FeatureCache
from glossfree.features.dataset import FeatureDataset, collate_features
from glossfree.models.frontends.features import FeatureStreamConfig, FeatureStreamFrontend

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def _config(tmp_path, family, **changes):
    path = tmp_path / f"{family}.yaml"
    path.write_text(yaml.safe_dump({**TINY_CONFIGS[family], **changes}), encoding="utf-8")
    return path


def test_extract_cli_end_to_end(dataset, tmp_path):
    config = _config(tmp_path, "videomae")
    result = invoke("extract", dataset, "--config", config, "--batch-size", "2", "--no-progress")
    assert result.exit_code == 0, result.output
    assert "written" in result.stdout and "4" in result.stdout
    files = sorted(p.relative_to(dataset).as_posix() for p in (dataset / "features").rglob("*.safetensors"))
    assert files == ["features/videomae/a.safetensors", "features/videomae/b.safetensors",
                     "features/videomae/b_span.safetensors", "features/videomae/dev/c.safetensors"]  # fmt: skip
    entry = FeatureCache(dataset, "videomae").read("b")
    assert entry.features.shape == (14, 32) and entry.fps == 5.0 and entry.metadata["frame_fps"] == "10.0"  # 10 fps / stride 2
    assert "extract" in invoke("--help").output
    again = invoke("extract", dataset, "--config", config, "--no-progress")
    assert again.exit_code == 0 and "already there" in again.stdout

    stale = invoke("extract", dataset, "--config", _config(tmp_path, "videomae", stride=3), "--name", "videomae",
                   "--no-progress")  # fmt: skip
    assert stale.exit_code == 2
    assert "4 cached files (of the 4 records" in stale.output and "stride: 2 -> 3" in stale.output and "--overwrite" in stale.output


def test_extract_cli_failures_and_bad_config(dataset, tmp_path):
    (dataset / "videos" / "b.mp4").write_bytes(b"garbage")
    result = invoke("extract", dataset, "--config", _config(tmp_path, "resnet"), "--split", "train", "--no-progress")
    assert result.exit_code == 1
    assert "2 of 3 records failed" in result.output and "videos/b.mp4" in result.output

    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: image\nmodel: clip\nname_or_path: x\npoolng: cls\n", encoding="utf-8")
    result = invoke("extract", dataset, "--config", bad)
    assert result.exit_code == 2 and "bad.yaml: unknown key 'poolng'" in result.output
    # Issue 23, 7: a missing local folder is not a malformed Hub id; the config file is named.
    bad.write_text("kind: image\nmodel: dinov2\nname_or_path: /nonexistent/dinov2-small\n", encoding="utf-8")
    result = invoke("extract", dataset, "--config", bad)
    assert result.exit_code == 2
    assert "bad.yaml: name_or_path /nonexistent/dinov2-small: no such folder; give the folder" in " ".join(result.output.split())
    assert "Repo id" not in result.output
    result = invoke("extract", dataset, "--config", _config(tmp_path, "resnet"), "--num-shards", "2", "--shard-index", "5")
    assert result.exit_code == 2 and "--shard-index must be in [0, 1]" in result.output
    result = invoke("extract", dataset, "--config", _config(tmp_path, "resnet"), "--split", "nope")
    assert result.exit_code == 2 and "no records with split 'nope'" in result.output


def test_dataset_collate_and_frontend(dataset, tmp_path):
    for family in ("resnet", "videomae"):
        assert invoke("extract", dataset, "--config", _config(tmp_path, family), "--no-progress").exit_code == 0
    data = FeatureDataset(dataset, "train", ["resnet", "videomae"])
    items = [data[i] for i in range(len(data))]
    assert [item["id"] for item in items] == ["a", "b", "b_span"] and items[1]["text"] == "es regnet"
    assert items[1]["features"]["resnet"].shape == (30, 32) and items[1]["features"]["videomae"].shape == (14, 32)
    batch = collate_features(items)
    assert batch["features"]["resnet"].shape == (3, 30, 32)
    assert batch["masks"]["resnet"].sum(1).tolist() == [20, 30, 10]
    assert batch["masks"]["videomae"].sum(1).tolist() == [9, 14, 4]
    assert torch.all(batch["features"]["resnet"][2, 10:] == 0)

    frontend = FeatureStreamFrontend(FeatureStreamConfig(stream="resnet", input_dim=32, dim=16, input_norm=True)).eval()
    out = frontend(batch["features"]["resnet"], batch["masks"]["resnet"])
    assert out.shape == (3, 30, 16) and torch.all(out[2, 10:] == 0) and out[2, :10].abs().sum() > 0
    with pytest.raises(ConfigError, match=r"stream 'resnet': expected \[B, T, 64\]"):
        FeatureStreamFrontend(FeatureStreamConfig(stream="resnet", input_dim=64))(batch["features"]["resnet"], batch["masks"]["resnet"])

    # a file of another config slipped into the folder is refused by name
    other = FeatureDataset(dataset, "train", ["videomae"])
    other.caches["videomae"].path("a").write_bytes((dataset / "features" / "resnet" / "a.safetensors").read_bytes())
    with pytest.raises(DataError, match=r"videomae/a.safetensors: stale cached features"):
        FeatureDataset(dataset, "train", ["videomae"])[0]
    with pytest.raises(DataError, match="extractor.json: not found"):
        FeatureDataset(dataset, "train", ["clip"])
