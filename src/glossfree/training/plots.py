"""Training curves as a picture: loss per step and generated dev BLEU-4 per validation, every stage."""

from __future__ import annotations

import csv
from pathlib import Path

from glossfree.io import atomic_path


def read_metrics(stage_logs: Path) -> dict[str, list[tuple[int, float]]]:
    """``{metric: [(step, value), ...]}`` over every attempt's ``metrics.csv`` (later attempts win)."""
    series: dict[str, dict[int, float]] = {}
    for path in sorted(stage_logs.glob("attempt-*/metrics.csv")):
        with open(path, newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                step = int(row["step"])
                for key, value in row.items():
                    if key not in ("step", "epoch") and value not in ("", None):
                        series.setdefault(key, {})[step] = float(value)
    return {key: sorted(values.items()) for key, values in series.items()}


def plot_training_curves(run_dir: str | Path) -> Path | None:
    """Write ``<run>/curves.png``; returns its path (None when nothing was logged yet)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run_dir = Path(run_dir)
    stages = sorted(p for p in (run_dir / "logs").glob("*") if p.is_dir())
    metrics = {stage.name: read_metrics(stage) for stage in stages}
    metrics = {name: m for name, m in metrics.items() if m}
    if not metrics:
        return None
    figure, (loss_ax, bleu_ax) = plt.subplots(1, 2, figsize=(11, 4))
    for name, series in metrics.items():
        for key, style in (("train/loss", "-"), ("dev/loss", "o--")):
            if key in series:
                steps, values = zip(*series[key])
                loss_ax.plot(steps, values, style, label=f"{name} {key}", markersize=4)
        if "dev/bleu4" in series:
            steps, values = zip(*series["dev/bleu4"])
            bleu_ax.plot(steps, values, "o-", label=f"{name} dev BLEU-4 (generated)")
    loss_ax.set(xlabel="step", ylabel="loss", title="training and dev loss")
    bleu_ax.set(xlabel="step", ylabel="BLEU-4", title="dev BLEU-4 of beam-search output")
    for ax in (loss_ax, bleu_ax):
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8)
    figure.tight_layout()
    out = run_dir / "curves.png"
    with atomic_path(out) as tmp:
        figure.savefig(tmp, dpi=100)
    plt.close(figure)
    return out
