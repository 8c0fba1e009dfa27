"""Prompts: SLT instructions, training-only in-context exemplars, paper 004 SSA prompts."""

from __future__ import annotations

import numpy as np
import pytest

from glossfree.data.manifest import Record
from glossfree.errors import ConfigError, DataError
from glossfree.text.prompts import (
    SLT_INSTRUCTIONS,
    Exemplar,
    ExemplarPool,
    build_paper004_slt_prompt,
    build_slt_prompt,
    build_ssa_prompt,
    format_ssa_target,
    parse_ssa_target,
    sample_ssa_prompt,
)

RECORDS = [
    {"id": "t1", "split": "train", "text": "morgen sonne", "language": "de"},
    {"id": "t2", "split": "train", "text": "abends regen", "language": "de"},
    {"id": "t3", "split": "train", "text": "nachts frost", "language": "de"},
    {"id": "d1", "split": "dev", "text": "DEV REFERENCE", "language": "de"},
    {"id": "x1", "split": "test", "text": "TEST REFERENCE", "language": "de"},
]


def test_instructions_per_language():
    assert SLT_INSTRUCTIONS["de"] == "Translate the given sentence into German."  # SpaMo, Table 8
    assert SLT_INSTRUCTIONS["en"] == "Translate the given sentence into English."
    assert build_slt_prompt("de_DE") == SLT_INSTRUCTIONS["de"]
    assert build_paper004_slt_prompt("en") == "Translate the sign language video into English."
    with pytest.raises(ConfigError, match=r"no prompt for target language 'xx'; supported: de, en, fr"):
        build_slt_prompt("xx")


def test_prompt_with_exemplars_uses_spamo_format():
    exemplars = [Exemplar("t1", "morgen sonne", "Tomorrow sun."), Exemplar("t2", "abends regen")]
    assert build_slt_prompt("de", exemplars=exemplars) == (
        "Translate the given sentence into German. Tomorrow sun.=morgen sonne abends regen"
    )


def test_pool_from_mixed_records_keeps_only_train():
    pool = ExemplarPool.from_records(RECORDS)
    assert pool.ids == {"t1", "t2", "t3"}
    assert len(pool) == 3
    assert all(e.split == "train" for e in pool)
    records = [Record(id=r["id"], split=r["split"], text=r["text"], language="de", pose="p") for r in RECORDS]
    assert ExemplarPool.from_records(records).ids == {"t1", "t2", "t3"}


def test_test_references_never_reach_a_prompt():
    pool = ExemplarPool.from_records(RECORDS)
    rng = np.random.default_rng(0)
    held_out = {r["text"] for r in RECORDS if r["split"] != "train"}
    for _ in range(200):
        prompt = build_slt_prompt("de", exemplars=pool.draw(3, rng))
        assert not any(ref in prompt for ref in held_out)


def test_asking_for_a_non_train_split_raises():
    for split in ("test", "dev"):
        with pytest.raises(ConfigError, match=f"must come from the training split, not '{split}'"):
            ExemplarPool.from_records(RECORDS, split=split)
    with pytest.raises(ConfigError, match=r"1 are from \['test'\] \(e.g. id 'x1'\)"):
        ExemplarPool([Exemplar("t1", "a"), Exemplar("x1", "TEST REFERENCE", split="test")])
    with pytest.raises(ConfigError, match="exemplar 'x1' is from split 'test'"):
        build_slt_prompt("de", exemplars=[Exemplar("x1", "TEST REFERENCE", split="test")])
    with pytest.raises(ConfigError, match="must be Exemplar objects"):
        build_slt_prompt("de", exemplars=["TEST REFERENCE"])
    with pytest.raises(DataError, match="no training sentences"):
        ExemplarPool.from_records([r for r in RECORDS if r["split"] != "train"])


def test_draw_excludes_own_sample_and_target():
    pool = ExemplarPool.from_records(
        RECORDS + [{"id": "t4", "split": "train", "text": "morgen sonne", "language": "de"}]
    )
    rng = np.random.default_rng(1)
    for _ in range(50):
        drawn = pool.draw(2, rng, exclude_id="t1", exclude_text="morgen sonne")
        assert len({e.id for e in drawn}) == 2
        assert {e.id for e in drawn} == {"t2", "t3"}
    with pytest.raises(ConfigError, match="asked for 3 in-context exemplars but only 2 are available"):
        pool.draw(3, rng, exclude_id="t1", exclude_text="morgen sonne")
    assert pool.draw(0, rng) == []
    first = pool.draw(2, np.random.default_rng(7))
    assert first == pool.draw(2, np.random.default_rng(7))  # seeded, no global state


def test_translations_become_sources():
    pool = ExemplarPool.from_records(RECORDS, sources={"t1": ["Tomorrow sun.", "Demain soleil."]})
    rendered = sorted(e.render() for e in pool if e.id == "t1")
    assert rendered == ["Demain soleil.=morgen sonne", "Tomorrow sun.=morgen sonne"]
    assert len(pool) == 4


def test_pool_from_real_phoenix_splits(phoenix_rows):
    rows = [dict(r, id=r["name"], split=r["name"].split("/")[0], language="de") for r in
            phoenix_rows("train", 200) + phoenix_rows("test", 642)]
    pool = ExemplarPool.from_records(rows)
    assert len(pool) == 200
    test_only = {r["text"] for r in rows if r["split"] == "test"} - {r["text"] for r in rows if r["split"] == "train"}
    assert len(test_only) > 600
    rng = np.random.default_rng(0)
    drawn = {e.target for _ in range(100) for e in pool.draw(4, rng)}
    assert not drawn & test_only


def test_ssa_target_format_and_parse():
    assert format_ssa_target(42, 137) == "042-137"
    assert parse_ssa_target("042-137") == (42, 137)
    assert parse_ssa_target(" 0 4 2 - 1 3 7 ") == (42, 137)
    for start, end in [(-1, 3), (5, 4), (0, 1000)]:
        with pytest.raises(DataError, match="SSA frames must satisfy"):
            format_ssa_target(start, end)
    with pytest.raises(DataError, match="not an SSA answer"):
        parse_ssa_target("from 4 to 5")


def test_ssa_prompt_and_prior_probability():
    plain = build_ssa_prompt("  It will rain tomorrow. ")
    assert plain.endswith("Subtitle: It will rain tomorrow.")
    with_prior = build_ssa_prompt("It will rain tomorrow.", prior=(10, 90))
    assert with_prior == plain + " Audio-aligned timing: 010-090"
    with pytest.raises(DataError, match="non-empty subtitle"):
        build_ssa_prompt("  ")
    rng = np.random.default_rng(0)
    shown = sum("Audio-aligned" in sample_ssa_prompt("x", rng, prior=(1, 2)) for _ in range(1000))
    assert 450 < shown < 550
    assert all("Audio" not in sample_ssa_prompt("x", rng, prior=None) for _ in range(20))
    assert all("Audio" in sample_ssa_prompt("x", rng, prior=(1, 2), prior_probability=1.0) for _ in range(20))
    with pytest.raises(ConfigError, match=r"prior_probability must be in \[0, 1\]"):
        sample_ssa_prompt("x", rng, prior_probability=2.0)
