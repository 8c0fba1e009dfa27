"""Report files, line reading, file evaluation and the CLI table."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from rich.console import Console

from glossfree.errors import ConfigError, DataError
from glossfree.evaluation import (
    evaluate_files,
    format_scores_table,
    read_lines,
    score,
    sentence_scores,
    write_report,
)

HYPS = ["am tag scheint die sonne", "", "morgen wird es kalt"]
REFS = ["am tag scheint überall die sonne", "in der nacht frost", "morgen wird es sehr kalt"]
IDS = ["dev/a", "dev/b", "dev/c"]


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_write_report_files(tmp_path):
    scores = score(HYPS, REFS, preset="spamo", append_period=True)
    out = write_report(tmp_path / "eval", ids=IDS, hypotheses=HYPS, references=REFS, scores=scores)
    assert out == tmp_path / "eval"
    assert sorted(p.name for p in out.iterdir()) == [
        "hypotheses.txt", "per_sample.tsv", "references.txt", "scores.json",
    ]  # fmt: skip  (no temporary files left behind)
    # Raw sentences, one per line, empty hypothesis kept as an empty line, no period appended.
    assert read_lines(out / "hypotheses.txt") == HYPS
    assert read_lines(out / "references.txt") == REFS
    saved = json.loads((out / "scores.json").read_text(encoding="utf-8"))
    assert {k: saved[k] for k in scores.as_dict()} == scores.as_dict()
    assert saved["append_period"] is True and saved["preset"] == "spamo"
    assert "tok:13a" in saved["signature"]
    with (out / "per_sample.tsv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert [r["id"] for r in rows] == IDS
    assert [r["hypothesis"] for r in rows] == HYPS
    assert [r["reference"] for r in rows] == REFS
    expected = sentence_scores(HYPS, REFS, preset="spamo", append_period=True)
    for row, exp in zip(rows, expected):
        for key in ("bleu4", "rouge_l", "chrf"):
            assert float(row[key]) == pytest.approx(exp[key], abs=1e-4)


def test_write_report_uses_given_per_sample_and_overwrites(tmp_path):
    scores = score(HYPS, REFS)
    per_sample = [{"bleu4": float(i), "rouge_l": 0.0, "chrf": 0.0} for i in range(3)]
    write_report(tmp_path, ids=IDS, hypotheses=["x", "y", "z"], references=REFS, scores=scores)
    write_report(tmp_path, ids=IDS, hypotheses=HYPS, references=REFS, scores=scores, per_sample=per_sample)
    assert read_lines(tmp_path / "hypotheses.txt") == HYPS
    with (tmp_path / "per_sample.tsv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert [float(r["bleu4"]) for r in rows] == [0.0, 1.0, 2.0]


def test_write_report_keeps_one_line_per_sentence(tmp_path):
    hyps = ["a\nb", "c\td", "e"]
    write_report(tmp_path, ids=IDS, hypotheses=hyps, references=REFS, scores=score(hyps, REFS))
    assert read_lines(tmp_path / "hypotheses.txt") == ["a b", "c\td", "e"]
    with (tmp_path / "per_sample.tsv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert [r["hypothesis"] for r in rows] == hyps  # quoted, unchanged


def test_write_report_length_mismatch(tmp_path):
    with pytest.raises(ValueError, match="2 ids, 3 hypotheses, 3 references"):
        write_report(tmp_path, ids=IDS[:2], hypotheses=HYPS, references=REFS, scores=score(HYPS, REFS))
    assert not (tmp_path / "scores.json").exists()


def test_read_lines_endings_bom_and_empty_lines(tmp_path):
    path = _write(tmp_path / "h.txt", "\ufeffa b\r\n\r\nüber c\n".encode())
    assert read_lines(path) == ["a b", "", "über c"]
    assert read_lines(_write(tmp_path / "n.txt", b"x\ny")) == ["x", "y"]  # no final newline
    assert read_lines(_write(tmp_path / "e.txt", b"")) == []
    assert read_lines(_write(tmp_path / "one.txt", b"\n")) == [""]


def test_read_lines_errors_name_file_and_line(tmp_path):
    bad = _write(tmp_path / "latin1.txt", "gut\nschön\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin1\.txt:2: not valid UTF-8 \(byte 0xf6 at column 4\)"):
        read_lines(bad)
    with pytest.raises(DataError, match=r"missing\.txt: file not found"):
        read_lines(tmp_path / "missing.txt")
    with pytest.raises(DataError, match="is a directory"):
        read_lines(tmp_path)


def test_evaluate_files_scores_and_writes_report(tmp_path):
    hyp = _write(tmp_path / "hyp.txt", ("\n".join(HYPS) + "\n").encode())
    ref = _write(tmp_path / "ref.txt", ("\n".join(REFS) + "\n").encode())
    result = evaluate_files(hyp, ref, preset="signjoey", append_period=True, out_dir=tmp_path / "out")
    assert result == score(HYPS, REFS, preset="signjoey", append_period=True)
    assert read_lines(tmp_path / "out" / "hypotheses.txt") == HYPS
    with (tmp_path / "out" / "per_sample.tsv").open(encoding="utf-8", newline="") as handle:
        assert [r["id"] for r in csv.DictReader(handle, delimiter="\t")] == ["1", "2", "3"]
    assert evaluate_files(hyp, ref, preset="sacrebleu") == score(HYPS, REFS, preset="sacrebleu")


def test_evaluate_files_errors(tmp_path):
    hyp = _write(tmp_path / "hyp.txt", b"a\nb\n")
    ref = _write(tmp_path / "ref.txt", b"a\nb\nc\n")
    with pytest.raises(DataError, match=r"hyp\.txt has 2 lines, .*ref\.txt has 3"):
        evaluate_files(hyp, ref)
    empty_h, empty_r = _write(tmp_path / "eh.txt", b""), _write(tmp_path / "er.txt", b"")
    with pytest.raises(DataError, match=r"nothing to score: .*eh\.txt and .*er\.txt are empty"):
        evaluate_files(empty_h, empty_r)
    with pytest.raises(ConfigError, match="valid presets: sacrebleu, signjoey, spamo"):
        evaluate_files(hyp, tmp_path / "missing.txt", preset="bleu")
    with pytest.raises(DataError, match=r"missing\.txt: file not found"):
        evaluate_files(hyp, tmp_path / "missing.txt")


def test_format_scores_table():
    scores = score(HYPS, REFS, preset="signjoey", append_period=True)
    console = Console(record=True, width=300)
    console.print(format_scores_table(scores))
    lines = console.export_text().splitlines()
    assert "3 sentences, preset signjoey, append_period" in lines[0]
    rows = {line.split("│")[1].strip(): line.split("│")[2:] for line in lines if line.count("│") == 4}
    for label, value in [
        ("BLEU-1", scores.bleu1),
        ("BLEU-2", scores.bleu2),
        ("BLEU-3", scores.bleu3),
        ("BLEU-4", scores.bleu4),
        ("ROUGE-L", scores.rouge_l),
        ("chrF", scores.chrf),
    ]:
        assert rows[label][0].strip() == f"{value:.2f}"
    assert "tok:none|smooth:floor[0.00]" in rows["BLEU-1"][1]
    assert "beta=1.2" in rows["ROUGE-L"][1]
    assert "nc:6" in rows["chrF"][1]
