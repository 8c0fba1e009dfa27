"""The synthetic PHOENIX-2014-T benchmark: the signer performs the real glosses, texts and lengths.

Uses small prefixes (``limit``) of the real label files in ``shared/data/phoenix14t`` next to the
repository; tests that need them are skipped when that folder is absent. Error paths use tiny
hand-written files.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from glossfree.cli.synth_command import register
from glossfree.config import validate
from glossfree.data.manifest import read_manifest
from glossfree.data.pose_io import read_pose
from glossfree.data.synth import (
    SynthConfig,
    build_lexicon,
    generate_corpus,
    phoenix_glosses,
    phoenix_lexicon,
    plan_sample,
    read_phoenix,
    sample_signer,
    synthesize_phoenix_sample,
    target_frames,
)
from glossfree.data.synth.corpus import phoenix_signers
from glossfree.data.synth.grammar import Vocabulary
from glossfree.data.synth.lexicon import HANDSHAPES, LOCATIONS, generate_lexicon
from glossfree.data.synth.render import MIN_SIGN_SECONDS, TEMPO_RANGE, allocate_frames
from glossfree.errors import ConfigError, DataError

PHOENIX = (Path(__file__).parents[2] / "../shared/data/phoenix14t").resolve()
needs_phoenix = pytest.mark.skipif(
    not (PHOENIX / "train.jsonl").is_file(), reason=f"PHOENIX-2014-T label files not found in {PHOENIX}"
)
SMALL = dict(source="phoenix14t", source_dir=str(PHOENIX), fps=12.5, face_points="contours", width=256, height=192)


def _lines(split: str, n: int) -> list[dict]:
    with open(PHOENIX / f"{split}.jsonl", encoding="utf-8") as file:
        return [json.loads(next(file)) for _ in range(n)]


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("phoenix") / "corpus"
    generate_corpus(out, SynthConfig(**SMALL, limit=3), progress=False)
    return out


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------------------------------------
# The corpus keeps PHOENIX's splits, texts, glosses and lengths.


@needs_phoenix
def test_samples_keep_split_text_glosses_and_signer(small_corpus: Path) -> None:
    records = read_manifest(small_corpus / "manifest.jsonl")
    assert [r.split for r in records] == ["train"] * 3 + ["dev"] * 3 + ["test"] * 3
    expected = [line for split in ("train", "dev", "test") for line in _lines(split, 3)]
    signers = phoenix_signers(SynthConfig(**SMALL), [f"Signer0{k}" for k in range(1, 10)])
    for record, line in zip(records, expected, strict=True):
        assert record.id == line["name"].replace("/", "-") and record.extra["name"] == line["name"]
        assert record.text == line["text"] and record.language == "de"
        assert record.gloss == line["gloss_orth"]  # the official gloss, not GFSLT's "gloss"
        assert record.pose == f"poses/{record.id}.pose"
        assert record.extra["source_signer"] == line["signer"]
        assert record.signer == signers[line["signer"]].name  # Signer0k -> synth-0(k-1)
    assert signers["Signer01"].name == "synth-00" and signers["Signer09"].name == "synth-08"
    lexicon = json.loads((small_corpus / "lexicon.json").read_text())
    assert len(lexicon["signs"]) == len(phoenix_glosses(s for v in read_phoenix(PHOENIX).values() for s in v))


@needs_phoenix
def test_frame_counts_are_the_clip_lengths(small_corpus: Path) -> None:
    records = read_manifest(small_corpus / "manifest.jsonl")
    segments = [json.loads(line) for line in (small_corpus / "segments.jsonl").read_text().splitlines()]
    lengths = [line["length"] for split in ("train", "dev", "test") for line in _lines(split, 3)]
    for record, segment, length in zip(records, segments, lengths, strict=True):
        pose = read_pose(small_corpus / record.pose)
        assert segment["id"] == record.id and segment["fps"] == pose.body.fps == 12.5
        assert segment["num_frames"] == pose.body.data.shape[0] == int(length / 2 + 0.5)
    # At 25 fps every clip keeps its exact frame count; at other rates its duration.
    splits = read_phoenix(PHOENIX)
    config = SynthConfig(**{**SMALL, "fps": 25.0})
    lexicon = phoenix_lexicon(phoenix_glosses(s for v in splits.values() for s in v))
    signer = sample_signer(np.random.default_rng(0), 0, width=256, height=192)
    for sample in splits["dev"][:40]:
        plan, _ = synthesize_phoenix_sample(config, lexicon, signer, sample)
        assert plan.num_frames == sample.length
        for fps in (12.5, 10.0, 50.0):
            plan = plan_sample(np.random.default_rng(1), [lexicon[g] for g in sample.signs], signer, fps,
                               num_frames=target_frames(sample.length, fps))  # fmt: skip
            assert plan.num_frames == target_frames(sample.length, fps)
            assert abs(plan.num_frames / fps - sample.length / 25.0) <= 0.5 / fps + 1e-9


@needs_phoenix
def test_every_gloss_is_its_own_sign_with_its_true_boundaries(small_corpus: Path) -> None:
    records = read_manifest(small_corpus / "manifest.jsonl")
    segments = [json.loads(line) for line in (small_corpus / "segments.jsonl").read_text().splitlines()]
    signs = json.loads((small_corpus / "lexicon.json").read_text())["signs"]
    used = sorted({g for r in records for g in r.gloss.split()})
    form_keys = ("hands", "handshape", "location", "movement", "orientation", "base_handshape", "nonmanual")
    forms = {tuple(signs[g][k] for k in form_keys) for g in used}
    assert len(forms) == len(used) > 30  # every gloss of the subset: a sign no other gloss has
    for record, segment in zip(records, segments, strict=True):
        assert [s["gloss"] for s in segment["signs"]] == record.gloss.split()
        bounds = [b for s in segment["signs"] for b in (s["start"], s["end"])]
        assert bounds[0] >= 0 and bounds[-1] <= segment["num_frames"]
        assert all(a <= b for a, b in zip(bounds[:-1], bounds[1:], strict=True))  # ordered, no overlap
        assert all(s["end"] - s["start"] >= 2 for s in segment["signs"])  # 2 frames at 12.5 fps: 0.16 s
    pose = read_pose(small_corpus / records[0].pose)  # detections drop as in the grammar corpora
    hands = np.ma.getmaskarray(pose.body.data[:, 0, 33 + 128 : 33 + 128 + 42]).all(axis=-1)
    assert 0 < hands.mean() < 1


@needs_phoenix
def test_same_config_gives_identical_bytes_and_limit_gives_a_prefix(tmp_path: Path, small_corpus: Path) -> None:
    generate_corpus(tmp_path / "again", SynthConfig(**SMALL, limit=3), progress=False)
    first, again = _files(small_corpus), _files(tmp_path / "again")
    assert first.keys() == again.keys() and len(first) == 4 + 9
    for name, data in first.items():
        assert again[name] == data, name
    generate_corpus(tmp_path / "two", SynthConfig(**SMALL, limit=2), progress=False)
    two = _files(tmp_path / "two")
    assert two["lexicon.json"] == first["lexicon.json"]  # the lexicon covers all glosses whatever the limit
    poses = [name for name in two if name.startswith("poses/")]
    assert len(poses) == 6 and all(two[name] == first[name] for name in poses)
    full_lines = first["manifest.jsonl"].decode().splitlines()
    assert two["manifest.jsonl"].decode().splitlines() == [full_lines[i] for i in (0, 1, 3, 4, 6, 7)]
    generate_corpus(tmp_path / "seed", SynthConfig(**SMALL, limit=1, seed=1), progress=False)
    seeded = _files(tmp_path / "seed")
    pose = "poses/train-11August_2010_Wednesday_tagesschau-1.pose"
    assert seeded[pose] != first[pose]


# ---------------------------------------------------------------------------------------------
# The full lexicon (no rendering).


@needs_phoenix
def test_full_lexicon_has_one_distinct_sign_per_gloss() -> None:
    splits = read_phoenix(PHOENIX)
    assert {split: len(samples) for split, samples in splits.items()} == {"train": 7096, "dev": 519, "test": 642}
    glosses = phoenix_glosses(s for v in splits.values() for s in v)
    assert len(glosses) == 1115
    lexicon = phoenix_lexicon(glosses)
    assert list(lexicon) == glosses and lexicon == phoenix_lexicon(reversed(glosses))
    forms = Counter(sign.form for sign in lexicon.values())
    assert len(forms) == len(glosses)  # no two glosses look alike
    # ... while handshapes and places are reused, as in real sign languages.
    shapes = Counter(sign.handshape for sign in lexicon.values())
    places = Counter(sign.location for sign in lexicon.values())
    assert set(shapes) == set(HANDSHAPES) and min(shapes.values()) >= 20
    assert set(places) == set(LOCATIONS) and min(places.values()) >= 20
    pairs = Counter((s.handshape, s.location + s.base_handshape) for s in lexicon.values())
    assert max(pairs.values()) > 1
    # Conventions: negation = the sign with a headshake; the demo grammar's signs are kept.
    assert lexicon["neg-REGEN"].form[:-1] == lexicon["REGEN"].form[:-1]
    assert (lexicon["neg-REGEN"].nonmanual, lexicon["REGEN"].nonmanual) == ("headshake", "")
    assert all(lexicon[g].nonmanual == "headshake" for g in glosses if g.startswith(("neg-", "negalp-")))
    _, demo = build_lexicon(SynthConfig())
    shared = set(demo) & set(lexicon)
    assert len(shared) > 20 and all(lexicon[g] == demo[g] for g in shared)
    spelled = lexicon["M+A+R+T+I+N"]
    assert (spelled.location, spelled.movement) == ("neutral_dom", "line") and spelled.duration > lexicon["A+Z"].duration
    assert lexicon["IX"].handshape == "1"


def test_lexicon_forms_stay_unique_past_the_conventions_capacity() -> None:
    """More fingerspelled glosses than spelling has forms, and negations of signs that already carry
    a headshake, still get signs of their own."""
    spelled = [f"{a}+{b}" for a in "ABCDEFGHIJKLM" for b in "ABCDEFGHIJKLMNOP"][:200]
    lexicon = generate_lexicon([*Vocabulary().glosses, *spelled, "neg-NICHT", "neg-ICH", "neg-WETTER", "WETTER"])
    forms = [sign.form for sign in lexicon.values()]
    assert len(set(forms)) == len(forms) == 61 + 200 + 4
    assert lexicon["neg-ICH"].form[:-1] == lexicon["ICH"].form[:-1] and lexicon["neg-NICHT"].nonmanual == "headshake"
    assert lexicon["neg-WETTER"].form[:-1] == lexicon["WETTER"].form[:-1]  # order-free: negations come last
    assert all(lexicon[g].duration == round(0.16 + 0.12 * 2, 4) for g in spelled)


# ---------------------------------------------------------------------------------------------
# Fitting a performance to a clip.


def test_allocate_frames() -> None:
    frames = allocate_frames(np.array([1.0, 2.0, 3.0]), np.array([1, 1, 1]), 12)
    assert frames.tolist() == [2, 4, 6]
    frames = allocate_frames(np.array([0.1, 5.0, 5.0]), np.array([3, 1, 1]), 11)
    assert frames.tolist() == [3, 4, 4] and frames.sum() == 11
    with pytest.raises(ValueError, match="into 2 frames"):
        allocate_frames(np.ones(3), np.ones(3, dtype=int), 2)


def test_plan_fits_any_length_with_a_clipped_tempo() -> None:
    _, signs = build_lexicon(SynthConfig())
    words = [signs[g] for g in ("HEUTE", "NORD", "REGEN", "NICHT")]
    signer = sample_signer(np.random.default_rng(0), 0, width=640, height=480)
    natural = plan_sample(np.random.default_rng(3), words, signer, 25.0)
    for frames in (4, 12, 30, natural.num_frames, 90, 400):
        plan = plan_sample(np.random.default_rng(3), words, signer, 25.0, num_frames=frames)
        assert plan.num_frames == frames
        assert all(token.frames >= 1 for token in plan.tokens)
        assert TEMPO_RANGE[0] * 0.98 <= plan.tempo <= TEMPO_RANGE[1] * 1.02 or frames < 40
        if frames >= 30:  # room for the shortest signs
            assert min(token.frames for token in plan.tokens) >= round(MIN_SIGN_SECONDS * 25)
    slow = plan_sample(np.random.default_rng(3), words, signer, 25.0, num_frames=400)
    assert slow.lead + slow.tail > 200  # beyond half speed the clip's rest is spent at rest
    fast = plan_sample(np.random.default_rng(3), words, signer, 25.0, num_frames=4)
    assert [t.frames for t in fast.tokens] == [1, 1, 1, 1] and fast.transitions == (0, 0, 0)
    with pytest.raises(ValueError, match="4 signs do not fit into 3 frames"):
        plan_sample(np.random.default_rng(3), words, signer, 25.0, num_frames=3)


# ---------------------------------------------------------------------------------------------
# Special tokens, errors, configuration, command line.


def _write_phoenix(root: Path, lines: dict[str, list[str]]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for split, rows in lines.items():
        (root / f"{split}.jsonl").write_text("".join(row + "\n" for row in rows), encoding="utf-8")
    return root


def _row(name: str, gloss: str, length: int = 60, signer: str = "Signer01", text: str = "es regnet") -> str:
    return json.dumps({"name": name, "gloss": gloss, "text": text, "length": length, "signer": signer,
                       "gloss_orth": gloss}, ensure_ascii=False)  # fmt: skip


def _tiny_source(root: Path) -> Path:
    return _write_phoenix(root, {
        "train": [_row("train/a", "__ON__ REGEN neg-REGEN __PU__ __EMOTION__ __OFF__"), _row("train/b", "IX M+A+X", 30)],
        "dev": [_row("dev/c", "HEUTE-ABEND SONNE", signer="Signer02")],
        "test": [_row("test/d", "NORD WIND", 40, "Signer02")],
    })  # fmt: skip


def test_special_tokens_are_kept_in_the_manifest_but_not_performed(tmp_path: Path) -> None:
    source = _tiny_source(tmp_path / "src")
    config = SynthConfig(source="phoenix14t", source_dir=str(source), width=128, height=96, face_points="contours")
    summary = generate_corpus(tmp_path / "out", config, progress=False)
    assert summary.samples == {"train": 2, "dev": 1, "test": 1}
    records = read_manifest(tmp_path / "out" / "manifest.jsonl")
    segments = [json.loads(line) for line in (tmp_path / "out" / "segments.jsonl").read_text().splitlines()]
    assert records[0].gloss == "__ON__ REGEN neg-REGEN __PU__ __EMOTION__ __OFF__"
    assert [s["gloss"] for s in segments[0]["signs"]] == ["REGEN", "neg-REGEN", "__PU__"]
    assert [s["num_frames"] for s in segments] == [60, 30, 60, 40]
    assert [r.signer for r in records] == ["synth-00", "synth-00", "synth-01", "synth-01"]
    signs = json.loads((tmp_path / "out" / "lexicon.json").read_text())["signs"]
    assert sorted(signs) == sorted(["REGEN", "neg-REGEN", "__PU__", "IX", "M+A+X", "HEUTE-ABEND", "SONNE", "NORD", "WIND"])


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (["{not json"], "train.jsonl:1: invalid JSON"),
        (['["a list"]'], "train.jsonl:1: expected a JSON object"),
        ([_row("train/a", "REGEN").replace('"length": 60', '"length": "60"')], "train.jsonl:1: 'length' must be an integer"),
        ([_row("train/a", "REGEN"), json.dumps({"name": "train/b", "text": "x", "length": 9, "signer": "S"})],
         "train.jsonl:2: missing key 'gloss_orth'"),
        ([_row("train/a", "__ON__ __OFF__")], "train.jsonl:1: 'gloss_orth' has no gloss to sign"),
        ([_row("train/a", "REGEN", length=0)], "train.jsonl:1: 'length' must be at least 1"),
        ([_row("dev/c", "REGEN")], "name 'dev/c' gives id 'dev-c', already used in train.jsonl"),
    ],
)  # fmt: skip
def test_malformed_source_lines_are_named(tmp_path: Path, rows: list[str], message: str) -> None:
    source = _tiny_source(tmp_path / "src")
    (source / ("dev.jsonl" if "already used" in message else "train.jsonl")).write_text("\n".join(rows) + "\n")
    if "already used" in message:
        (source / "train.jsonl").write_text(_row("train/x", "REGEN") + "\n" + _row("dev/c", "REGEN") + "\n")
    config = SynthConfig(source="phoenix14t", source_dir=str(source))
    with pytest.raises(DataError, match=message.replace("[", r"\[")):
        generate_corpus(tmp_path / "out", config, progress=False)
    assert not (tmp_path / "out").exists()  # sources are checked before anything is written


def test_missing_folder_or_split_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="nowhere: PHOENIX-2014-T folder not found"):
        generate_corpus(tmp_path / "out", SynthConfig(source="phoenix14t", source_dir=str(tmp_path / "nowhere")))
    source = _tiny_source(tmp_path / "src")
    (source / "dev.jsonl").unlink()
    with pytest.raises(DataError, match=r"dev.jsonl: PHOENIX-2014-T dev file not found"):
        generate_corpus(tmp_path / "out", SynthConfig(source="phoenix14t", source_dir=str(source)))


def test_too_low_a_frame_rate_is_an_error(tmp_path: Path) -> None:
    rows = {split: [_row(f"{split}/a", "REGEN SONNE NORD WIND", length=16)] for split in ("train", "dev", "test")}
    source = _write_phoenix(tmp_path / "src", rows)
    with pytest.raises(DataError, match=r"train.jsonl:1: 4 glosses do not fit into 3 frames at 5 fps"):
        generate_corpus(tmp_path / "out", SynthConfig(source="phoenix14t", source_dir=str(source), fps=5.0))


def test_config_keys_belong_to_their_source() -> None:
    with pytest.raises(ConfigError, match="source_dir: .*needs source_dir"):
        validate(SynthConfig, {"source": "phoenix14t"}, source="synth.yaml")
    with pytest.raises(ConfigError, match="source: .*num_train is for source: grammar"):
        validate(SynthConfig, {"source": "phoenix14t", "source_dir": "x", "num_train": 5}, source="synth.yaml")
    with pytest.raises(ConfigError, match="language must be de"):
        validate(SynthConfig, {"source": "phoenix14t", "source_dir": "x", "language": "en"}, source="synth.yaml")
    with pytest.raises(ConfigError, match="limit: .*only for source: phoenix14t"):
        validate(SynthConfig, {"limit": 5}, source="synth.yaml")
    with pytest.raises(ConfigError, match="limit"):
        validate(SynthConfig, {"source": "phoenix14t", "source_dir": "x", "limit": 0}, source="synth.yaml")


def _cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        pass

    register(app)
    return app


def test_cli_from_phoenix(tmp_path: Path) -> None:
    source = _tiny_source(tmp_path / "src")
    result = CliRunner().invoke(_cli(), [
        "synth", str(tmp_path / "out"), "--from-phoenix", str(source), "--limit", "1", "--fps", "12.5",
        "--face-points", "contours", "--no-progress",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "wrote 3 samples (train 1, dev 1, test 1)" in result.output
    saved = json.loads((tmp_path / "out" / "synth_config.json").read_text())
    assert (saved["source"], saved["source_dir"], saved["limit"], saved["fps"], saved["face_points"]) == (
        "phoenix14t", str(source), 1, 12.5, "contours")
    assert "num_train" not in saved and SynthConfig(**saved).source_dir == str(source)  # grammar keys do not apply
    segments = (tmp_path / "out" / "segments.jsonl").read_text().splitlines()
    assert [json.loads(line)["num_frames"] for line in segments] == [30, 30, 20]
    result = CliRunner().invoke(_cli(), ["synth", str(tmp_path / "bad"), "--from-phoenix", str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and "nowhere" in result.output and "not found" in result.output
