"""Synthetic signer: grammar, lexicon, kinematics, corpus layout, determinism, boundaries, CLI."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
from pathlib import Path

import av
import numpy as np
import pytest
import typer
import yaml
from pose_format import Pose
from typer.testing import CliRunner

from glossfree.cli.synth_command import register
from glossfree.config import validate
from glossfree.data.layouts import CONTOUR_FACE_POINTS, FACE_MIRROR, get_layout
from glossfree.data.manifest import read_manifest
from glossfree.data.pose_io import extract_keypoints, read_pose
from glossfree.data.synth import (
    Clause,
    SynthConfig,
    build_lexicon,
    generate_corpus,
    make_signers,
    parse_glosses,
    plan_sample,
    realize,
    render_plan,
    render_video,
    sample_sentence,
    sample_sentences,
    sample_signer,
    synthesize_sample,
    to_pose,
    translate_glosses,
    vocabulary,
)
from glossfree.data.synth.body import FACE_CONTOUR_LIMBS, MOUTH_POINTS, face_template, hand_points
from glossfree.data.synth.grammar import (
    ADJECTIVES,
    FULL_LEXICON_SIZE,
    MIN_LEXICON_SIZE,
    MOTION_VERBS,
    NOUNS,
    NUMBERS,
    PLACES,
    REGIONS,
    SUBJECTS,
    TIMES,
    TRANSITIVE_VERBS,
    WEATHER,
    Vocabulary,
)
from glossfree.data.synth.lexicon import HANDSHAPES, generate_lexicon
from glossfree.data.synth.render import SamplePlan, mouth_pattern, pose_bytes
from glossfree.errors import ConfigError, DataError

TINY = dict(num_train=6, num_dev=2, num_test=2, width=256, height=192, num_signers=3)


def _by_gloss(items) -> dict:
    return {item.gloss: item for item in items}


S, N, V, MV, T, P, R, W, NUM, A = (
    _by_gloss(x) for x in (SUBJECTS, NOUNS, TRANSITIVE_VERBS, MOTION_VERBS, TIMES, PLACES, REGIONS, WEATHER, NUMBERS,
                           ADJECTIVES)
)  # fmt: skip


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "corpus"
    generate_corpus(out, SynthConfig(**TINY), progress=False)
    return out


# ---------------------------------------------------------------------------------------------
# Grammar.


@pytest.mark.parametrize(
    ("clause", "de", "en"),
    [
        (Clause("transitive", T["GESTERN"], S["MANN"], V["KAUFEN"], N["BUCH"], NUM["DREI"], negated=True),
         "Gestern hat der Mann nicht drei Bücher gekauft.", "The man did not buy three books yesterday."),
        (Clause("transitive", T["HEUTE"], S["DU"], V["ESSEN"], N["APFEL"], question=True),
         "Isst du heute den Apfel?", "Do you eat the apple today?"),
        (Clause("transitive", T["HEUTE"], S["KIND"], V["SEHEN"], N["HUND"], adjective=A["KLEIN"]),
         "Heute sieht das Kind den kleinen Hund.", "The child sees the small dog today."),
        (Clause("transitive", None, S["FRAU"], V["BRAUCHEN"], N["AUTO"], NUM["ZWEI"], adjective=A["GROSS"]),
         "Die Frau braucht zwei große Autos.", "The woman needs two big cars."),
        (Clause("transitive", None, S["ICH"], V["LESEN"], N["ZEITUNG"], adjective=A["NEU"]),
         "Ich lese die neue Zeitung.", "I read the new newspaper."),
        (Clause("transitive", None, S["ER"], V["LESEN"], N["ZEITUNG"], negated=True),
         "Er liest die Zeitung nicht.", "He does not read the newspaper."),
        (Clause("transitive", T["MORGEN"], S["WIR"], V["SUCHEN"], N["HUND"]),
         "Morgen suchen wir den Hund.", "We will look for the dog tomorrow."),
        (Clause("motion", T["GESTERN"], S["FRAU"], MV["GEHEN"], place=P["SCHULE"], question=True),
         "Ist die Frau gestern in die Schule gegangen?", "Did the woman go to school yesterday?"),
        (Clause("weather", T["GESTERN"], region=R["NORD"], weather=W["REGEN"], negated=True),
         "Gestern hat es im Norden nicht geregnet.", "It did not rain in the north yesterday."),
        (Clause("weather", T["HEUTE"], region=R["SUED"], weather=W["SONNE"]),
         "Heute scheint die Sonne im Süden.", "The sun is shining in the south today."),
        (Clause("weather", T["MORGEN"], region=R["OST"], weather=W["KALT"]),
         "Morgen ist es im Osten kalt.", "It will be cold in the east tomorrow."),
    ],
)  # fmt: skip
def test_realize_hand_written_sentences(clause: Clause, de: str, en: str) -> None:
    assert realize(clause, "de") == de
    assert realize(clause, "en") == en
    assert realize(clause, "de", style="lower") == de.lower().rstrip(".?")


def test_sign_order_differs_from_spoken_order() -> None:
    clause = Clause("transitive", T["GESTERN"], S["MANN"], V["KAUFEN"], N["BUCH"], NUM["DREI"], negated=True,
                    adjective=A["NEU"])  # fmt: skip
    assert parse_glosses(("GESTERN", "MANN", "DREI", "BUCH", "NEU", "KAUFEN", "NICHT")) == clause
    # time first, adjective after the noun, verb final, negation after the verb:
    assert realize(clause, "de") == "Gestern hat der Mann nicht drei neue Bücher gekauft."


@pytest.mark.parametrize("language", ["de", "en"])
def test_text_is_a_function_of_the_glosses(language: str) -> None:
    rng = np.random.default_rng(7)
    seen: dict[tuple[str, ...], str] = {}
    lengths = set()
    for _ in range(3000):
        sentence = sample_sentence(rng, language)
        lengths.add(len(sentence.glosses))
        assert seen.setdefault(sentence.glosses, sentence.text) == sentence.text
        assert translate_glosses(sentence.glosses, language) == sentence.text
    words = {w for text in seen.values() for w in text.lower().strip(".?").split()}
    unsigned = {"der", "die", "das", "den", "hat", "ist"} if language == "de" else {"the", "did", "will", "does"}
    assert unsigned <= words  # articles and auxiliaries appear although no sign carries them
    assert len(seen) > 1500  # combinatorial: most draws are new sentences
    assert lengths == {3, 4, 5, 6, 7}


def test_parse_rejects_non_sentences() -> None:
    with pytest.raises(ValueError, match="unknown sign 'HAUS'"):
        parse_glosses(("ICH", "HAUS", "KAUFEN"))
    with pytest.raises(ValueError, match="not a sentence"):
        parse_glosses(("KAUFEN", "ICH", "BUCH"))
    with pytest.raises(ValueError, match="no verb"):
        parse_glosses(("ICH", "BUCH"))


def test_vocabulary_sizes() -> None:
    assert len(vocabulary(None).glosses) == FULL_LEXICON_SIZE == 61
    for size in range(MIN_LEXICON_SIZE, FULL_LEXICON_SIZE + 1):
        vocab = vocabulary(size)
        assert len(vocab.glosses) == size
        rng = np.random.default_rng(size)
        for _ in range(50):
            assert set(sample_sentence(rng, "de", vocab=vocab).glosses) <= set(vocab.glosses)
    with pytest.raises(ConfigError, match=f"at least {MIN_LEXICON_SIZE}"):
        vocabulary(MIN_LEXICON_SIZE - 1)
    with pytest.raises(ConfigError, match="larger than"):
        vocabulary(FULL_LEXICON_SIZE + 1)


# ---------------------------------------------------------------------------------------------
# Lexicon and body.


def test_lexicon_is_seeded_and_signs_are_distinct() -> None:
    glosses = Vocabulary().glosses
    first, again, other = (generate_lexicon(glosses, seed=s) for s in (0, 0, 1))
    assert first == again
    assert first != other
    pairs = [(s.handshape, s.location + s.base_handshape) for s in first.values()]
    assert len(set(pairs)) == len(pairs)
    assert {s.handshape for s in first.values()} <= set(HANDSHAPES)
    assert first["NICHT"].nonmanual == "headshake" and first["FRAGE"].nonmanual == "brows"


def test_grammar_signs_are_the_demos() -> None:
    """Growing the lexicon (PHOENIX glosses drawn after the grammar's) left the demo's signs as they
    were when the demo figures were measured: same draws, same parameters (digest of commit ea6acc8)."""
    signs = generate_lexicon(Vocabulary().glosses, seed=0)
    digest = hashlib.sha256(json.dumps([sign.to_json() for sign in signs.values()]).encode()).hexdigest()
    assert digest == "9956e87bc75762efc5b95503de95a71fc26aefbefe4fd9d26234c66b308c5450"
    longer = generate_lexicon([*Vocabulary().glosses, "WETTER", "neg-WETTER", "A+B"], seed=0)
    assert all(longer[gloss] == sign for gloss, sign in signs.items())


def test_hand_kinematics() -> None:
    points = hand_points(np.stack([HANDSHAPES["B"], HANDSHAPES["S"], HANDSHAPES["1"]]))  # [3, 21, 3]
    assert points.shape == (3, 21, 3)
    np.testing.assert_allclose(points[:, 0], 0.0)  # wrist at the origin
    np.testing.assert_allclose(points[0, 12], [0.055, 1.0, 0.0], atol=1e-9)  # flat hand: middle tip at 1
    tips = np.array([8, 12, 16, 20])
    assert np.all(np.linalg.norm(points[1, tips], axis=-1) < 0.6)  # fist: fingertips curled in
    assert points[2, 8, 1] > 0.9 and np.all(points[2, [12, 16, 20], 1] < 0.6)  # index extended only


def test_face_template_is_mirror_symmetric_and_mouth_is_in_pose203() -> None:
    points = face_template().points[:468]
    np.testing.assert_allclose(points[list(FACE_MIRROR[:468])] * [-1, 1, 1], points, atol=1e-9)
    assert {str(i) for i in MOUTH_POINTS} <= set(CONTOUR_FACE_POINTS)
    assert points[61, 0] < 0 < points[291, 0]  # the signer's right mouth corner is on the image left
    assert points[10, 1] < points[1, 1] < points[13, 1] < points[152, 1]  # forehead, nose, lips, chin


def test_face_loops_are_mediapipe_contours() -> None:
    """The procedural face's loops (and so the animated lips) are MediaPipe's own contour edges."""
    connections = pytest.importorskip("mediapipe.python.solutions.face_mesh_connections")
    as_set = lambda edges: {frozenset(map(int, e)) for e in edges}  # noqa: E731
    assert as_set(FACE_CONTOUR_LIMBS) == as_set(connections.FACEMESH_CONTOURS)
    assert {i for e in connections.FACEMESH_LIPS for i in e} == set(MOUTH_POINTS)


def test_mouthing_moves_the_pose203_lip_points() -> None:
    assert np.all(mouth_pattern("KAUFEN", 12)[[0, -1]] == 0.0)
    assert mouth_pattern("KAUFEN", 12)[:, 0].max() > 0.5
    vocab, signs = build_lexicon(SynthConfig())
    signer = sample_signer(np.random.default_rng(0), 0, width=640, height=480)
    plan = plan_sample(np.random.default_rng(1), [signs["KAUFEN"]], signer, 25.0)
    silent = dataclasses.replace(plan, tokens=(dataclasses.replace(plan.tokens[0], mouthed=False),))
    face = {name: render_plan(p, signer, 25.0).face for name, p in (("mouthed", plan), ("silent", silent))}
    moved = np.abs(face["mouthed"] - face["silent"]).max(axis=(0, 2)) / signer.face_width  # [468]
    lips = np.array(MOUTH_POINTS)
    assert moved[lips].max() > 0.1  # lips open by more than a tenth of the face width
    assert set(np.flatnonzero(moved > 0.05).astype(str)) & set(CONTOUR_FACE_POINTS)


def test_signers_differ_in_body_and_framing() -> None:
    rng = np.random.default_rng(0)
    signers = [sample_signer(rng, i, width=640, height=480) for i in range(5)]
    for field in ("upper_arm", "forearm", "hand", "face_width", "torso", "scale_px", "speed"):
        assert len({round(getattr(s, field), 6) for s in signers}) == 5, field
    assert [s.name for s in signers] == [f"synth-0{i}" for i in range(5)]


def test_signer_variation_changes_body_proportions_in_the_poses() -> None:
    _, signs = build_lexicon(SynthConfig())
    ratios = []
    for index in range(3):
        signer = sample_signer(np.random.default_rng(index), index, width=640, height=480)
        rendering = render_plan(plan_sample(np.random.default_rng(9), [signs["ICH"]], signer, 25.0), signer, 25.0)
        pose = to_pose(rendering, signer, np.random.default_rng(0), width=640, height=480, fps=25.0,
                       jitter_std=0.0, hand_drop_rate=0.0)  # fmt: skip
        body = np.ma.getdata(pose.body.data[:, 0, :33])  # [T, 33, 3] pixels
        shoulders = np.linalg.norm(body[:, 11, :2] - body[:, 12, :2], axis=-1)
        upper_arm = np.linalg.norm(body[:, 12, :2] - body[:, 14, :2], axis=-1)
        eye_to_shoulder = body[:, 11:13, 1].mean(axis=1) - body[:, 2, 1]
        ratios.append((shoulders.mean(), (upper_arm / shoulders).max(), (eye_to_shoulder / shoulders).mean()))
    ratios = np.array(ratios)
    assert np.all(np.ptp(ratios, axis=0) > [5.0, 0.01, 0.01])  # pixel size, arm and neck proportions


# ---------------------------------------------------------------------------------------------
# Corpus files.


def test_header_matches_a_real_mediapipe_file(tiny_corpus: Path, samples_dir: Path) -> None:
    real = Pose.read((samples_dir / "segmentation" / "example.pose").read_bytes()).header
    ours = read_pose(tiny_corpus / "poses" / "train-00000.pose").header
    assert [c.name for c in ours.components] == [c.name for c in real.components]
    for mine, theirs in zip(ours.components, real.components, strict=True):
        assert list(mine.points) == list(theirs.points)
        assert mine.format == theirs.format == "XYZC"
    assert (ours.dimensions.width, ours.dimensions.height) == (256, 192)


@pytest.mark.parametrize("face_points", ["full", "contours"])
def test_pose_bytes_are_what_pose_format_writes(face_points: str) -> None:
    config = SynthConfig(num_train=1, num_dev=0, num_test=0, width=200, height=150, face_points=face_points)
    vocab, signs = build_lexicon(config)
    sentence = sample_sentences(config, vocab)["train"][0]
    _, _, pose = synthesize_sample(config, signs, make_signers(config), sentence, "train", 0)
    buffer = io.BytesIO()
    pose.write(buffer)
    assert pose_bytes(pose, face_points=face_points) == buffer.getvalue()


def test_corpus_layout(tiny_corpus: Path) -> None:
    names = {p.name for p in tiny_corpus.iterdir()}
    assert names == {"poses", "manifest.jsonl", "segments.jsonl", "lexicon.json", "synth_config.json"}
    lines = (tiny_corpus / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])
    assert list(first) == ["id", "split", "text", "language", "pose", "signer", "gloss"]
    records = read_manifest(tiny_corpus / "manifest.jsonl")
    assert [r.split for r in records] == ["train"] * 6 + ["dev"] * 2 + ["test"] * 2
    segments = [json.loads(line) for line in (tiny_corpus / "segments.jsonl").read_text().splitlines()]
    lexicon = json.loads((tiny_corpus / "lexicon.json").read_text())
    assert SynthConfig(**json.loads((tiny_corpus / "synth_config.json").read_text())) == SynthConfig(**TINY)
    for record, segment in zip(records, segments, strict=True):
        assert record.pose == f"poses/{record.id}.pose" and record.language == "de"
        assert record.signer.startswith("synth-") and record.video is None
        assert translate_glosses(record.gloss.split(), "de") == record.text
        pose = read_pose(tiny_corpus / record.pose)
        assert segment["id"] == record.id and segment["fps"] == pose.body.fps == 25.0
        assert segment["num_frames"] == pose.body.data.shape[0]
        assert [s["gloss"] for s in segment["signs"]] == record.gloss.split()
        ends = [0] + [b for s in segment["signs"] for b in (s["start"], s["end"])] + [segment["num_frames"]]
        assert all(a < b for a, b in zip(ends[:-1], ends[1:], strict=True))  # ordered, gaps between signs
        assert all(g in lexicon["signs"] for g in record.gloss.split())
        world = np.ma.getdata(pose.body.data[:, 0, 543:]) / [256, 192, 1]  # metres, hip-centred
        np.testing.assert_allclose(world[:, 23:25].mean(axis=1), 0.0, atol=0.02)
        assert 0.3 < np.linalg.norm(world[:, 11] - world[:, 12], axis=-1).mean() < 0.45


def test_same_seed_gives_identical_bytes_and_other_seeds_differ(tmp_path: Path) -> None:
    config = SynthConfig(num_train=1, num_dev=1, num_test=0, width=128, height=96, render_video=True)
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        generate_corpus(tmp_path / name, config.model_copy(update={"seed": seed}), progress=False)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert len(files) == 4 + 2 + 2  # manifest, segments, lexicon, config; 2 poses; 2 videos
    for relative in files:
        assert (tmp_path / "a" / relative).read_bytes() == (tmp_path / "b" / relative).read_bytes(), relative
    assert (tmp_path / "a" / "manifest.jsonl").read_bytes() != (tmp_path / "c" / "manifest.jsonl").read_bytes()
    pose_a = (tmp_path / "a" / "poses" / "train-00000.pose").read_bytes()
    assert pose_a != (tmp_path / "c" / "poses" / "train-00000.pose").read_bytes()


def test_split_disjoint_sentences() -> None:
    config = SynthConfig(num_train=400, num_dev=40, num_test=40, lexicon_size=MIN_LEXICON_SIZE)
    vocab, _ = build_lexicon(config)
    sentences = sample_sentences(config, vocab)
    held_out = {s.glosses for split in ("dev", "test") for s in sentences[split]}
    assert not held_out & {s.glosses for s in sentences["train"]}
    allowed = set(vocab.glosses)
    assert all(set(s.glosses) <= allowed for split in sentences.values() for s in split)


def test_stored_boundaries_are_the_lexical_signs(tmp_path: Path) -> None:
    """Within [start, end) the dominant hand is exactly the sign performed alone; between signs it
    moves on the straight line from one sign's last pose to the next sign's first pose."""
    config = SynthConfig(num_train=2, num_dev=0, num_test=0, jitter_std=0.0, hand_drop_rate=0.0)
    generate_corpus(tmp_path / "c", config, progress=False)
    vocab, signs = build_lexicon(config)
    sentences = sample_sentences(config, vocab)["train"]
    signers = make_signers(config)
    for index, sentence in enumerate(sentences):
        signer, plan, pose = synthesize_sample(config, signs, signers, sentence, "train", index)
        stored = json.loads((tmp_path / "c" / "segments.jsonl").read_text().splitlines()[index])
        spans = [(s["start"], s["end"]) for s in stored["signs"]]
        assert spans == plan.boundaries
        right = np.ma.getdata(read_pose(tmp_path / "c" / "poses" / f"train-{index:05d}.pose").body.data)[:, 0, 522:543]
        for token, (start, end) in zip(plan.tokens, spans, strict=True):
            alone = SamplePlan((token,), plan.lead, plan.rise, (), plan.fall, plan.tail, plan.sway_freq,
                               plan.sway_phase, ())  # fmt: skip
            (s0, e0), = alone.boundaries
            iso = render_plan(alone, signer, config.fps).right_hand[s0:e0]  # [n, 21, 3] signer space
            pixels = iso[..., :2] * signer.scale_px + np.array(signer.center_px)
            np.testing.assert_allclose(right[start:end, :, :2], pixels, atol=1e-2)
        centers = render_plan(plan, signer, config.fps).right_hand[:, [0, 9]].mean(axis=1)  # [T, 3]
        for (_, end), (start, _) in zip(spans[:-1], spans[1:], strict=True):
            a, b = centers[end - 1], centers[start]
            w = (centers[end:start] - a) @ (b - a) / ((b - a) @ (b - a))
            np.testing.assert_allclose(centers[end:start], a + np.outer(w, b - a), atol=1e-9)
            assert np.all((0 < w) & (w < 1)) and np.all(np.diff(w) > 0)


def test_dropped_hand_detections_are_masked(tmp_path: Path) -> None:
    config = SynthConfig(num_train=3, num_dev=0, num_test=0, hand_drop_rate=0.4, width=256, height=192)
    generate_corpus(tmp_path / "c", config, progress=False)
    pose = read_pose(tmp_path / "c" / "poses" / "train-00000.pose")
    data, conf = pose.body.data[:, 0], pose.body.confidence[:, 0]
    hands = slice(501, 543)
    mask = np.ma.getmaskarray(data[:, hands]).all(axis=-1)  # [T, 42]
    np.testing.assert_array_equal(mask, conf[:, hands] == 0)
    assert 0 < mask.mean() < 1
    assert np.all(np.ma.getdata(data[:, hands])[mask] == 0)  # nothing real-looking under the mask
    assert mask[0].all() and mask[-1].all()  # hands at rest are out of frame: not detected
    assert set(np.unique(conf[:, hands])) == {0.0, 1.0}
    assert not np.ma.getmaskarray(data[:, :501]).any() and np.all(conf[:, 33:501] == 1.0)
    keypoints = extract_keypoints(pose, "pose203")
    assert not keypoints.mask[:, 161:].all() and keypoints.mask[:, :161].all()


def test_contour_face_files_hold_the_pose203_face(tmp_path: Path) -> None:
    base = dict(num_train=1, num_dev=0, num_test=0, jitter_std=0.0, hand_drop_rate=0.0, width=256, height=192)
    for kind in ("full", "contours"):
        generate_corpus(tmp_path / kind, SynthConfig(**base, face_points=kind), progress=False)
    full, small = (read_pose(tmp_path / k / "poses" / "train-00000.pose") for k in ("full", "contours"))
    assert small.header.components[1].points == list(CONTOUR_FACE_POINTS)
    a, b = (extract_keypoints(p, "pose203") for p in (full, small))
    np.testing.assert_allclose(a.points, b.points, atol=1e-5)
    np.testing.assert_array_equal(a.mask, b.mask)


def test_nearest_neighbour_identifies_isolated_signs() -> None:
    """The shoulder-normalised mean pose of both hands identifies a sign across signers (> 90 %)."""
    config = SynthConfig()
    _, signs = build_lexicon(config)
    layout = get_layout("pose203")
    hands = slice(layout.groups["left_hand"][0], layout.groups["right_hand"][1])

    def features(signer_index: int) -> np.ndarray:
        signer = sample_signer(np.random.default_rng(100 + signer_index), signer_index, width=640, height=480)
        rows = []
        for k, sign in enumerate(signs.values()):
            rng = np.random.default_rng([signer_index, k])
            plan = plan_sample(rng, [sign], signer, 25.0)
            pose = to_pose(render_plan(plan, signer, 25.0), signer, rng, width=640, height=480, fps=25.0,
                           jitter_std=0.01, hand_drop_rate=0.0)  # fmt: skip
            (start, end), = plan.boundaries
            points = extract_keypoints(pose, layout).points[start:end, hands]  # [n, 42, 3]
            rows.append(points.mean(axis=0).ravel())
        return np.stack(rows)

    reference = features(0)
    correct = []
    for signer_index in (1, 2):
        queries = features(signer_index)
        distances = np.linalg.norm(queries[:, None] - reference[None], axis=-1)
        correct.append(distances.argmin(axis=1) == np.arange(len(signs)))
    assert np.mean(correct) > 0.9


def test_render_video(tmp_path: Path) -> None:
    config = SynthConfig(num_train=1, num_dev=0, num_test=0, width=130, height=96)
    vocab, signs = build_lexicon(config)
    sentence = sample_sentences(config, vocab)["train"][0]
    _, plan, pose = synthesize_sample(config, signs, make_signers(config), sentence, "train", 0)
    render_video(pose, tmp_path / "v.mp4", fps=12.5)
    with av.open(str(tmp_path / "v.mp4")) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        assert float(stream.average_rate) == 12.5
    assert len(frames) == plan.num_frames and frames[0].shape == (96, 130, 3)
    assert frames[len(frames) // 2].max() > 150  # something was drawn
    assert not list(tmp_path.glob(".*"))  # no temp files left


# ---------------------------------------------------------------------------------------------
# Configuration and errors.


def test_config_errors_name_the_key() -> None:
    with pytest.raises(ConfigError, match="lexicon_size.*between 24 and 61"):
        validate(SynthConfig, {"lexicon_size": 5}, source="synth.yaml")
    with pytest.raises(ConfigError, match="synth.yaml: unknown key 'speed'"):
        validate(SynthConfig, {"speed": 2}, source="synth.yaml")
    with pytest.raises(ConfigError, match="language"):
        validate(SynthConfig, {"language": "fr"}, source="synth.yaml")


def test_refuses_to_overwrite(tmp_path: Path) -> None:
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    config = SynthConfig(num_train=1, num_dev=0, num_test=0, width=128, height=96)
    with pytest.raises(DataError, match="not empty"):
        generate_corpus(tmp_path / "other", config, progress=False)
    with pytest.raises(DataError, match="not a synthetic corpus"):
        generate_corpus(tmp_path / "other", config, progress=False, overwrite=True)
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"
    generate_corpus(tmp_path / "c", config.model_copy(update={"num_train": 2}), progress=False)
    generate_corpus(tmp_path / "c", config, progress=False, overwrite=True)
    assert sorted(p.name for p in (tmp_path / "c" / "poses").iterdir()) == ["train-00000.pose"]


def _cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:  # a group, so that "synth" is a sub-command as in the real app
        pass

    register(app)
    return app


def test_cli_writes_a_corpus_with_yaml_and_flag_overrides(tmp_path: Path) -> None:
    (tmp_path / "synth.yaml").write_text(yaml.safe_dump({"num_dev": 1, "num_test": 1, "width": 128, "height": 96,
                                                         "language": "de"}))  # fmt: skip
    result = CliRunner().invoke(_cli(), [
        "synth", str(tmp_path / "out"), "--config", str(tmp_path / "synth.yaml"), "--num-train", "2",
        "--language", "en", "--seed", "5", "--fps", "20", "--no-video", "--no-progress",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "wrote 4 samples (train 2, dev 1, test 1)" in result.output
    saved = json.loads((tmp_path / "out" / "synth_config.json").read_text())
    assert (saved["language"], saved["seed"], saved["fps"], saved["width"], saved["num_train"]) == ("en", 5, 20.0, 128, 2)
    records = read_manifest(tmp_path / "out" / "manifest.jsonl")
    assert all(r.language == "en" and translate_glosses(r.gloss.split(), "en") == r.text for r in records)


def test_cli_reports_bad_input(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("fps: -1\n")
    result = CliRunner().invoke(_cli(), ["synth", str(tmp_path / "out"), "--config", str(tmp_path / "bad.yaml")])
    assert result.exit_code == 2
    assert "bad.yaml" in result.output and "fps" in result.output
    result = CliRunner().invoke(_cli(), ["synth", str(tmp_path / "out"), "--language", "fr"])
    assert result.exit_code == 2 and "language" in result.output
    assert not (tmp_path / "out").exists()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("x")
    result = CliRunner().invoke(_cli(), ["synth", str(tmp_path / "full"), "--num-train", "1"])
    assert result.exit_code == 2 and "not empty" in result.output


def test_cli_bounds_the_frame_rate_and_names_an_unwritable_folder(tmp_path: Path) -> None:
    """Issue 23, 10-11: no 3-hour clips at 0.001 fps; no FileNotFoundError traceback for /proc."""
    for fps in ("0.001", "100000"):
        result = CliRunner().invoke(_cli(), ["synth", str(tmp_path / "out"), "--isolated", "--video", "--fps", fps])
        assert result.exit_code == 2
        assert f"fps: Input should be {'greater' if fps == '0.001' else 'less'} than or equal to" in result.output
    assert not (tmp_path / "out").exists()
    result = CliRunner().invoke(_cli(), ["synth", "/proc/glossfree-synth", "--num-train", "1", "--no-progress"])
    assert result.exit_code == 2, result.output
    assert "/proc/glossfree-synth/poses: cannot create the corpus folder: No such file or directory" in result.output
