"""Boundary F1: how many sign boundaries a segmenter finds, within a tolerance."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np


def boundaries(spans: np.ndarray) -> np.ndarray:
    """Sorted unique boundary frames of ``[S, 2]`` spans: every start and every (exclusive) end,
    so two touching segments share one boundary and a gap between signs gives two."""
    return np.unique(np.asarray(spans, dtype=np.int64).reshape(-1))


def match_boundaries(predicted: np.ndarray, true: np.ndarray, tolerance: int) -> int:
    """Pairs of one predicted and one true boundary at most ``tolerance`` frames apart, each used
    once (greedy by distance, then by position: optimal for points on a line with one tolerance)."""
    pairs = sorted(
        (abs(int(p) - int(t)), int(t), int(p)) for p in predicted for t in true if abs(int(p) - int(t)) <= tolerance
    )
    used_p, used_t, hits = set(), set(), 0
    for _, t, p in pairs:
        if p not in used_p and t not in used_t:
            used_p.add(p), used_t.add(t)
            hits += 1
    return hits


@dataclass(frozen=True)
class BoundaryScore:
    """Counts summed over clips and the F1 they give."""

    hits: int
    predicted: int
    true: int

    @property
    def precision(self) -> float:
        return self.hits / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.hits / self.true if self.true else 0.0

    @property
    def f1(self) -> float:
        total = self.predicted + self.true
        return 2 * self.hits / total if total else 0.0


def boundary_f1(pairs: Iterable[tuple[np.ndarray, np.ndarray]], tolerance: int = 2) -> BoundaryScore:
    """Boundary precision/recall/F1 over ``(predicted spans, true spans)`` of many clips, each
    predicted boundary matching at most one true boundary within ``tolerance`` frames (±2 in the
    brief of issue 25), counts summed over the clips (micro average)."""
    hits = predicted = true = 0
    for pred_spans, true_spans in pairs:
        p, t = boundaries(pred_spans), boundaries(true_spans)
        hits += match_boundaries(p, t, tolerance)
        predicted, true = predicted + len(p), true + len(t)
    return BoundaryScore(hits, predicted, true)
