"""SSA metrics: frame accuracy, class-balanced accuracy and F1@{0.10, 0.25, 0.50} over subtitles.

Paper 004 (Sec. 4.1 "Evaluation metrics") follows SAT [Bull21] for SSA: frame-level accuracy
(Acc) and F1 at IoU thresholds 0.1, 0.25 and 0.5, and adds class-balanced accuracy (CB-Acc,
appendix A.8). The frame timeline of a stream is labelled per frame:

- class 0 is background (no subtitle), class ``k + 1`` is the ``k``-th subtitle of the stream -
  each subtitle is its own class (appendix A.8: "background frames ... class 0, and subtitle
  frames are assigned class indices 1 through N"). Predicted and true subtitle ``k`` are the same
  text, so they share class ``k + 1``.
- **Acc**: fraction of frames whose predicted class equals the true class (background included,
  which is why it can be high while no subtitle is found: appendix C.2, Fig. A.6(a)).
- **CB-Acc**: balanced accuracy, the mean over classes of the per-class recall
  ``R_c = TP_c / N_c`` (A.8), over the classes present in the ground truth (a class with
  ``N_c = 0`` has no recall; this is scikit-learn's ``balanced_accuracy_score``).
- **F1@tau**: the action-segmentation F1 of Lea et al. that SAT uses (reference code:
  yabufarha/ms-tcn ``eval.py`` ``f_score``): background is not a segment; every predicted
  segment, in temporal order, is matched to the true segment of the same class with the highest
  IoU; it is a true positive when that IoU >= tau and the true segment is not matched yet, else a
  false positive; unmatched true segments are false negatives. F1 = 2PR / (P + R), x100.

Corpus figures (:class:`SSAStatistics`, summed over streams as ms-tcn ``eval.py`` sums them):
Acc and F1 pool frames and segment counts over all streams; CB-Acc is computed per stream (its
classes are that stream's subtitles) and averaged over streams. All scores are on a 0-100 scale.

Times are turned into frames by rounding to the nearest frame boundary: ``[start, end)`` seconds
cover frames ``round(start * fps)`` to ``round(end * fps) - 1``, clipped to the timeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from glossfree.errors import DataError

F1_THRESHOLDS: tuple[float, ...] = (0.10, 0.25, 0.50)
"""IoU thresholds of paper 004 Tab. 6 (after SAT [Bull21])."""

Span = tuple[float, float]


def _as_span(segment: Any) -> Span:
    if hasattr(segment, "start") and hasattr(segment, "end"):
        return float(segment.start), float(segment.end)
    start, end = segment
    return float(start), float(end)


def frame_span(start: float, end: float, fps: float, num_frames: int) -> tuple[int, int]:
    """``[first, last + 1)`` frames of ``[start, end)`` seconds (nearest frame boundary, clipped)."""
    first = min(max(int(round(start * fps)), 0), num_frames)
    stop = min(max(int(round(end * fps)), 0), num_frames)
    return first, max(first, stop)


def frame_labels(segments: Sequence[Any], *, num_frames: int, fps: float, what: str = "segments") -> np.ndarray:
    """``[num_frames]`` int labels: 0 background, ``k + 1`` inside segment ``k``.

    ``segments`` are ``(start, end)`` pairs in seconds or objects with ``start``/``end`` (a
    :class:`~glossfree.alignment.subtitles.Cue`). Two segments sharing a frame raise
    :class:`DataError` naming both: a frame has one class (resolve overlapping predictions with
    :func:`glossfree.alignment.dtw.dtw_align` first).
    """
    if num_frames < 0 or fps <= 0:
        raise DataError(f"{what}: need num_frames >= 0 and fps > 0, got {num_frames} and {fps}")
    labels = np.zeros(num_frames, dtype=np.int64)
    for k, segment in enumerate(segments):
        start, end = _as_span(segment)
        if end < start:
            raise DataError(f"{what}: segment {k} ends before it starts ({start} -> {end} s)")
        first, stop = frame_span(start, end, fps, num_frames)
        taken = labels[first:stop]
        if taken.any():
            other = int(taken[taken > 0][0]) - 1
            raise DataError(
                f"{what}: segments {other} and {k} overlap at frame {first + int(np.flatnonzero(taken)[0])}; "
                "a frame has one class (remove overlaps, e.g. with glossfree.alignment.dtw.dtw_align)"
            )
        labels[first:stop] = k + 1
    return labels


def label_segments(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs of equal non-background labels: ``(label, start, end)`` arrays, ``end`` exclusive."""
    labels = np.asarray(labels)
    if labels.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    change = np.flatnonzero(np.diff(labels)) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [labels.size]])
    run_labels = labels[starts]
    keep = run_labels != 0
    return run_labels[keep], starts[keep], ends[keep]


def f1_counts(pred: np.ndarray, true: np.ndarray, threshold: float) -> tuple[int, int, int]:
    """``(tp, fp, fn)`` of the action-segmentation F1 at IoU ``threshold`` (ms-tcn ``f_score``)."""
    p_label, p_start, p_end = label_segments(pred)
    y_label, y_start, y_end = label_segments(true)
    hits = np.zeros(len(y_label), dtype=bool)
    tp = fp = 0
    for label, start, end in zip(p_label, p_start, p_end, strict=True):
        intersection = np.clip(np.minimum(end, y_end) - np.maximum(start, y_start), 0, None)
        union = (end - start) + (y_end - y_start) - intersection
        iou = np.where(y_label == label, intersection / np.maximum(union, 1), 0.0)
        if len(iou) == 0:
            fp += 1
            continue
        best = int(iou.argmax())
        if iou[best] >= threshold and not hits[best]:
            tp += 1
            hits[best] = True
        else:
            fp += 1
    return tp, fp, int(len(y_label) - hits.sum())


def balanced_accuracy(pred: np.ndarray, true: np.ndarray) -> float:
    """Mean per-class recall over the classes present in ``true`` (appendix A.8), in [0, 1]."""
    classes, counts = np.unique(true, return_counts=True)
    correct = np.bincount(true[pred == true], minlength=int(classes.max()) + 1)[classes]
    return float(np.mean(correct / counts))


@dataclass
class SSAStatistics:
    """Sums over streams from which the corpus scores follow (see the module docstring)."""

    correct_frames: int = 0
    total_frames: int = 0
    cb_acc_sum: float = 0.0  # sum over streams of the stream's CB-Acc, in [0, 1]
    streams: int = 0
    subtitles: int = 0
    tp: dict[float, int] = field(default_factory=lambda: dict.fromkeys(F1_THRESHOLDS, 0))
    fp: dict[float, int] = field(default_factory=lambda: dict.fromkeys(F1_THRESHOLDS, 0))
    fn: dict[float, int] = field(default_factory=lambda: dict.fromkeys(F1_THRESHOLDS, 0))

    def add_labels(self, pred: np.ndarray, true: np.ndarray) -> SSAStatistics:
        """Add one stream given its per-frame labels (same length; 0 = background)."""
        pred, true = np.asarray(pred), np.asarray(true)
        if pred.shape != true.shape or pred.ndim != 1:
            raise DataError(f"predicted and true labels must be 1-D of one length, got {pred.shape} and {true.shape}")
        if true.size == 0:
            raise DataError("a stream with no frames cannot be scored")
        if pred.min(initial=0) < 0 or true.min(initial=0) < 0:
            raise DataError("frame labels must be >= 0 (0 = background)")
        self.correct_frames += int((pred == true).sum())
        self.total_frames += int(true.size)
        self.cb_acc_sum += balanced_accuracy(pred, true)
        self.streams += 1
        self.subtitles += len(label_segments(true)[0])
        for threshold in self.tp:
            tp, fp, fn = f1_counts(pred, true, threshold)
            self.tp[threshold] += tp
            self.fp[threshold] += fp
            self.fn[threshold] += fn
        return self

    def add(self, predicted: Sequence[Any], truth: Sequence[Any], *, num_frames: int, fps: float) -> SSAStatistics:
        """Add one stream given predicted and true segments (seconds); subtitle ``k`` of each is class ``k + 1``."""
        if len(predicted) != len(truth):
            raise DataError(f"{len(predicted)} predicted subtitles for {len(truth)} true ones; SSA keeps every subtitle")
        pred = frame_labels(predicted, num_frames=num_frames, fps=fps, what="predicted subtitles")
        true = frame_labels(truth, num_frames=num_frames, fps=fps, what="true subtitles")
        return self.add_labels(pred, true)

    def __iadd__(self, other: SSAStatistics) -> SSAStatistics:
        self.correct_frames += other.correct_frames
        self.total_frames += other.total_frames
        self.cb_acc_sum += other.cb_acc_sum
        self.streams += other.streams
        self.subtitles += other.subtitles
        for counts, theirs in ((self.tp, other.tp), (self.fp, other.fp), (self.fn, other.fn)):
            for threshold, value in theirs.items():
                counts[threshold] = counts.get(threshold, 0) + value
        return self

    def scores(self) -> SSAScores:
        if self.streams == 0:
            raise DataError("no streams were scored")
        f1 = {}
        for threshold in sorted(self.tp):
            tp, fp, fn = self.tp[threshold], self.fp[threshold], self.fn[threshold]
            precision = tp / (tp + fp) if tp + fp else 0.0
            recall = tp / (tp + fn) if tp + fn else 0.0
            f1[threshold] = 100.0 * 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return SSAScores(
            frame_accuracy=100.0 * self.correct_frames / self.total_frames,
            cb_accuracy=100.0 * self.cb_acc_sum / self.streams,
            f1=f1,
            streams=self.streams,
            subtitles=self.subtitles,
            frames=self.total_frames,
        )


@dataclass(frozen=True)
class SSAScores:
    """Corpus SSA scores on a 0-100 scale (paper 004 Tab. 6 columns)."""

    frame_accuracy: float
    cb_accuracy: float
    f1: dict[float, float]
    streams: int
    subtitles: int
    frames: int

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["f1"] = {f"{t:.2f}": v for t, v in self.f1.items()}
        return data

    def row(self) -> str:
        """``Acc CB-Acc F1@.10 F1@.25 F1@.50`` as in Tab. 6."""
        f1 = " ".join(f"{self.f1[t]:5.1f}" for t in sorted(self.f1))
        return f"{self.frame_accuracy:5.1f} {self.cb_accuracy:5.1f} {f1}"


def ssa_scores(predicted: Sequence[Any], truth: Sequence[Any], *, num_frames: int, fps: float) -> SSAScores:
    """Scores of one stream (see :class:`SSAStatistics` to pool several)."""
    return SSAStatistics().add(predicted, truth, num_frames=num_frames, fps=fps).scores()
