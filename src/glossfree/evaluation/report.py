"""Evaluation reports: raw hypotheses, references, per-sample scores and the corpus scores on disk.

Every evaluation leaves ``hypotheses.txt`` and ``references.txt`` (one sentence per line, same
order), ``per_sample.tsv`` and ``scores.json`` (numbers, preset, ``append_period`` and the scorer
signature), so any published number can be re-scored under another preset later, as
facebookresearch/ssvp_slt writes ``{split}_outputs.tsv`` and ``{split}_results.json``.
Files are written atomically (:mod:`glossfree.io`).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from pathlib import Path

from rich.table import Table

from glossfree.errors import DataError
from glossfree.evaluation.metrics import Scores, score, sentence_scores
from glossfree.evaluation.presets import get_preset
from glossfree.io import atomic_write_json, atomic_write_text, make_output_dir

HYPOTHESES_FILE = "hypotheses.txt"
REFERENCES_FILE = "references.txt"
PER_SAMPLE_FILE = "per_sample.tsv"
SCORES_FILE = "scores.json"

_LINE_BREAKS = str.maketrans({"\n": " ", "\r": " "})


def _one_line(text: str) -> str:
    """A sentence as one line of a ``.txt`` file (a line break inside it becomes a space)."""
    return text.translate(_LINE_BREAKS)


def _lines_text(lines: Sequence[str]) -> str:
    return "".join(f"{_one_line(line)}\n" for line in lines)


def _per_sample_text(
    ids: Sequence[str], hypotheses: Sequence[str], references: Sequence[str], per_sample: Sequence[dict]
) -> str:
    metric_names = list(per_sample[0]) if per_sample else []
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t", lineterminator="\n")
    writer.writerow(["id", "hypothesis", "reference", *metric_names])
    for sample_id, hyp, ref, row in zip(ids, hypotheses, references, per_sample):
        values = [f"{float(row[name]):.4f}" for name in metric_names]
        writer.writerow([sample_id, hyp, ref, *values])
    return buffer.getvalue()


def write_report(
    out_dir: str | os.PathLike[str],
    *,
    ids: Sequence[str],
    hypotheses: Sequence[str],
    references: Sequence[str],
    scores: Scores,
    per_sample: Sequence[dict[str, float]] | None = None,
) -> Path:
    """Write the four report files into ``out_dir`` (created if needed) and return ``out_dir``.

    ``per_sample`` defaults to :func:`sentence_scores` under ``scores.preset`` and
    ``scores.append_period``. The ``.txt`` files hold the raw sentences (without an appended period);
    a line break inside a sentence is written as a space, ``per_sample.tsv`` keeps it (quoted).
    """
    n = len(hypotheses)
    lengths = {"ids": len(ids), "hypotheses": n, "references": len(references)}
    if per_sample is not None:
        lengths["per_sample"] = len(per_sample)
    if len(set(lengths.values())) != 1:
        detail = ", ".join(f"{len_} {name}" for name, len_ in lengths.items())
        raise ValueError(f"report inputs differ in length: {detail}")
    if per_sample is None:
        per_sample = sentence_scores(
            hypotheses, references, preset=scores.preset, append_period=scores.append_period
        )
    out = make_output_dir(out_dir, what="report folder")
    atomic_write_text(out / HYPOTHESES_FILE, _lines_text(hypotheses))
    atomic_write_text(out / REFERENCES_FILE, _lines_text(references))
    atomic_write_text(out / PER_SAMPLE_FILE, _per_sample_text(ids, hypotheses, references, per_sample))
    payload = {**scores.as_dict(), "preset_description": get_preset(scores.preset).description}
    atomic_write_json(out / SCORES_FILE, payload)
    return out


def read_lines(path: str | os.PathLike[str]) -> list[str]:
    """Read a UTF-8 text file as one string per line (``\\n`` or ``\\r\\n`` endings, no terminator kept).

    A final line break does not start another line; empty lines in between are kept (an empty
    hypothesis is a valid line). A leading UTF-8 byte-order mark is dropped.

    Raises:
        DataError: the file is missing, is not a file, or a line is not valid UTF-8 (file and line named).
    """
    file = Path(path)
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{file}: file not found") from None
    except IsADirectoryError:
        raise DataError(f"{file}: is a directory, expected a text file") from None
    except OSError as error:
        raise DataError(f"{file}: cannot read ({error.strerror or error})") from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    raw_lines = data.split(b"\n")
    if raw_lines and raw_lines[-1] == b"":
        raw_lines.pop()
    lines = []
    for number, raw in enumerate(raw_lines, start=1):
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError as error:
            bad_byte = raw[error.start]
            raise DataError(
                f"{file}:{number}: not valid UTF-8 (byte 0x{bad_byte:02x} at column {error.start + 1})"
            ) from None
    return lines


def evaluate_files(
    hyp_path: str | os.PathLike[str],
    ref_path: str | os.PathLike[str],
    *,
    preset: str = "signjoey",
    append_period: bool = False,
    out_dir: str | os.PathLike[str] | None = None,
) -> Scores:
    """Score a hypothesis file against a reference file (one sentence per line, same order).

    With ``out_dir`` the full report is written there (sample ids are line numbers ``"1"``, ``"2"``, ...).

    Raises:
        ConfigError: unknown preset.
        DataError: a file is missing, not UTF-8, empty, or the line counts differ (both files named).
    """
    get_preset(preset)  # fail on a bad preset before reading anything
    hypotheses = read_lines(hyp_path)
    references = read_lines(ref_path)
    if len(hypotheses) != len(references):
        raise DataError(
            f"line counts differ: {hyp_path} has {len(hypotheses)} lines, {ref_path} has {len(references)}"
        )
    if not references:
        raise DataError(f"nothing to score: {hyp_path} and {ref_path} are empty")
    scores = score(hypotheses, references, preset=preset, append_period=append_period)
    if out_dir is not None:
        ids = [str(number) for number in range(1, len(hypotheses) + 1)]
        write_report(out_dir, ids=ids, hypotheses=hypotheses, references=references, scores=scores)
    return scores


def _signature_parts(signature: str) -> dict[str, str]:
    """Split :attr:`Scores.signature` (``"; "``-joined ``"NAME: ..."`` parts) by scorer name."""
    parts = {}
    for part in signature.split("; "):
        name, sep, rest = part.partition(": ")
        if sep:
            parts[name] = rest
    return parts


def format_scores_table(scores: Scores) -> Table:
    """A rich table of the corpus scores with the scorer signature beside each metric group."""
    period = ", append_period" if scores.append_period else ""
    parts = _signature_parts(scores.signature)
    table = Table(title=f"{scores.num_sentences} sentences, preset {scores.preset}{period}")
    table.add_column("metric")
    table.add_column("score", justify="right")
    table.add_column("scorer", overflow="fold")
    table.add_row("BLEU-1", f"{scores.bleu1:.2f}", parts.get("BLEU", ""))
    table.add_row("BLEU-2", f"{scores.bleu2:.2f}", "")
    table.add_row("BLEU-3", f"{scores.bleu3:.2f}", "")
    table.add_row("BLEU-4", f"{scores.bleu4:.2f}", "", end_section=True)
    table.add_row("ROUGE-L", f"{scores.rouge_l:.2f}", parts.get("ROUGE-L", ""), end_section=True)
    table.add_row("chrF", f"{scores.chrf:.2f}", parts.get("chrF", ""))
    if scores.cider is not None:
        table.add_row("CIDEr-D", f"{scores.cider:.3f}", parts.get("CIDEr-D", ""))
    return table
