"""Evaluation: BLEU-1..4, ROUGE-L and chrF under protocol presets that reproduce published numbers,
exact corpus BLEU across workers, and on-disk reports (hypotheses, references, per-sample scores)."""

from glossfree.evaluation.metrics import (
    BLEU_STATS_SIZE,
    Scores,
    bleu_from_statistics,
    bleu_statistics,
    coco_rouge_l,
    lcs_length,
    score,
    sentence_scores,
)
from glossfree.evaluation.presets import PRESETS, Preset, get_preset
from glossfree.evaluation.report import evaluate_files, format_scores_table, read_lines, write_report

__all__ = [
    "BLEU_STATS_SIZE",
    "PRESETS",
    "Preset",
    "Scores",
    "bleu_from_statistics",
    "bleu_statistics",
    "coco_rouge_l",
    "evaluate_files",
    "format_scores_table",
    "get_preset",
    "lcs_length",
    "read_lines",
    "score",
    "sentence_scores",
    "write_report",
]
