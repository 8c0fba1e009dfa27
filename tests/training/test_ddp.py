"""Distributed data parallel on CPU: two processes (gloo) launched by torchrun train a few steps."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import pytest

from tiny import FAST_RECIPE


@pytest.mark.slow
def test_two_process_ddp_trains_and_exports(tiny_corpus, tmp_path):
    run_dir = tmp_path / "ddp"
    overrides = [arg for item in FAST_RECIPE if not item.startswith("stages.0.max_epochs") for arg in ("--set", item)]
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
        "-m", "glossfree.cli.main", "train", "pose_perceiver/tiny",
        "--data", str(tiny_corpus), "--out", str(run_dir),
        "--accelerator", "cpu", "--devices", "2", "--strategy", "ddp", "--no-progress",
        "--set", "stages.0.max_epochs=1", *overrides,
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    done = json.loads((run_dir / "stages" / "slt" / "done.json").read_text())
    # 24 training samples in batches of 8 = 3 batches, padded to 4 and split over 2 ranks.
    assert done["steps"] == 2
    assert done["best_dev_bleu4"] is not None
    assert (run_dir / "model" / "model.safetensors").is_file()
    with open(run_dir / "logs" / "slt" / "attempt-0" / "metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert any(row.get("dev/bleu4") for row in rows)
