"""PHOENIX14T pseudo-gloss report: gloss normalisation, matching, and a small real-data run."""

from __future__ import annotations

import json

import pytest

from glossfree.errors import DataError
from glossfree.text.report import (
    build_phoenix_report,
    match_count,
    normalize_gloss_tokens,
    normalize_pseudo_gloss_tokens,
    read_phoenix_split,
    render_markdown,
)


def test_gloss_normalisation_rules():
    gloss = "__ON__ JETZT IX neg-KALT negalp-MUSS poss-EUCH E+R+Z HABEN2 WIE-AUSSEHEN SUED __OFF__"
    assert normalize_gloss_tokens(gloss) == [
        "jetzt", "kalt", "muss", "euch", "erz", "haben", "wie", "aussehen", "sued",
    ]
    assert normalize_gloss_tokens("") == []


def test_pseudo_gloss_normalisation():
    assert normalize_pseudo_gloss_tokens(["süden", "größe", "nordrhein-westfalen"]) == [
        "sueden", "groesse", "nordrhein", "westfalen",
    ]


def test_match_count_exact_and_relaxed():
    pred = ["nun", "wettervorhersage", "morgen", "zwoelft", "regen", "regen"]
    ref = ["jetzt", "wetter", "morgen", "zwoelf", "regen"]
    assert match_count(pred, ref) == 2  # morgen, one regen (bags: the second regen is unmatched)
    assert match_count(pred, ref, relaxed=True) == 4  # + wetter/wettervorhersage, zwoelf/zwoelft
    assert match_count(["ab"], ["abend"], relaxed=True) == 0  # prefixes shorter than 3 letters don't count
    assert match_count([], ref) == 0


def test_read_split_errors(tmp_path):
    with pytest.raises(DataError, match=r"train.jsonl: PHOENIX14T split file not found"):
        read_phoenix_split(tmp_path, "train")
    (tmp_path / "dev.jsonl").write_text('{"name": "a", "text": "x"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"dev.jsonl:1: missing string field 'gloss_orth'"):
        read_phoenix_split(tmp_path, "dev")
    (tmp_path / "test.jsonl").write_bytes(b'{"name": "a", "text": "\xff"}\n')
    with pytest.raises(DataError, match=r"test.jsonl:1: not a UTF-8 JSON object"):
        read_phoenix_split(tmp_path, "test")


def test_small_real_report(phoenix_dir):
    report = build_phoenix_report(phoenix_dir, limit=40, variants=False, num_examples=3)
    train = report.splits["train"]
    assert train.sentences == 40 and report.splits["test"].sentences == 40
    assert sum(train.per_sentence) == train.coverage.predicted
    assert 0 < train.coverage.exact <= train.coverage.relaxed <= min(train.coverage.predicted, train.coverage.reference)
    assert report.vocab_size == train.types
    labels = [row[0] for row in report.vocab_rows]
    assert labels[0] == "train, no filter" and report.vocab_rows[0][1] == report.vocab_size
    assert all(types <= report.vocab_size for _, types, _ in report.vocab_rows[:3])
    assert report.vocab_rows[3][1] >= report.vocab_size  # train + dev + test
    for _, types, dropped in report.vocab_rows[1:3]:
        assert types + len(dropped) == report.vocab_size
        assert all(share >= 0.4 for _, share in dropped)
    assert report.gloss_types_matched <= report.gloss_types_train
    assert len(report.examples) == 3
    assert [v.types for v in report.variants] == [report.vocab_size]
    rows = [json.loads(line) for line in (phoenix_dir / "train.jsonl").read_text(encoding="utf-8").splitlines()[:40]]
    expected_reference = sum(len(normalize_gloss_tokens(r["gloss_orth"])) for r in rows)
    assert train.coverage.reference == expected_reference
    text = render_markdown(report, command="glossfree pseudo-gloss-report X")
    assert text.startswith("# Pseudo-glosses on PHOENIX-2014-T")
    assert "glossfree pseudo-gloss-report X" in text
    assert f"**{report.vocab_size:,}**" in text and "2,322" in text
