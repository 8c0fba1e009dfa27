"""``glossfree synth``: generate a seeded synthetic parallel corpus in the documented layout.

Output (``out_dir``)::

    poses/<id>.pose       MediaPipe holistic keypoints (pose-format), one file per sample
    videos/<id>.mp4       stick-figure video (only with ``render_video``)
    manifest.jsonl        {"id", "split", "text", "language", ["video"], "pose", "signer", "gloss"}
    segments.jsonl        {"id", "fps", "num_frames", "signs": [{"gloss", "start", "end"}]}
                          true sign boundaries, frame indices, end exclusive
    lexicon.json          the signs' parameters (handshape, location, movement, ...)
    synth_config.json     the configuration that produced the corpus

Everything is a function of the configuration: the same seed gives byte-identical files. Random
streams are derived from the seed with ``np.random.SeedSequence`` per purpose (sentences,
signers) and per sample, so a sample does not depend on how many came before it. With
``split_disjoint`` no dev or test gloss sequence occurs in train, so the test set measures
translation of unseen sentences (built from seen signs).

With ``source: phoenix14t`` (``glossfree synth OUT --from-phoenix DIR``) the sentences are not
drawn from the grammar: every sample of PHOENIX-2014-T's ``{train,dev,test}.jsonl`` in
``source_dir`` is performed with its split, German text, official glosses (``gloss_orth``) and
clip length (:mod:`.phoenix`), by the synthetic signer its PHOENIX signer maps to (sorted PHOENIX
signer names -> ``synth-00``, ``synth-01``, ...). Ids are the PHOENIX names with ``/`` replaced
by ``-`` (``train-11August_2010_Wednesday_tagesschau-1``); the manifest also keeps the original
``name`` and ``source_signer``. ``limit`` renders only the first N samples of each split: a
prefix of the full corpus, byte for byte, with the full lexicon.
"""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Literal

import numpy as np
from pose_format import Pose
from pydantic import Field, ValidationInfo, field_validator, model_validator

from glossfree.config import StrictModel
from glossfree.data.manifest import Record, write_manifest
from glossfree.data.synth.body import Signer, sample_signer
from glossfree.data.synth.grammar import (
    FULL_LEXICON_SIZE,
    MIN_LEXICON_SIZE,
    Sentence,
    Vocabulary,
    sample_sentence,
    vocabulary,
)
from glossfree.data.synth.lexicon import HANDSHAPES, ORIENTATIONS, Sign, generate_lexicon
from glossfree.data.synth.phoenix import (
    PhoenixSample,
    phoenix_glosses,
    phoenix_lexicon,
    read_phoenix,
    target_frames,
)
from glossfree.data.synth.render import SamplePlan, plan_sample, pose_bytes, render_plan, to_pose
from glossfree.data.synth.video import render_video
from glossfree.errors import DataError
from glossfree.io import atomic_write_bytes, atomic_write_text, make_output_dir

SPLITS: tuple[str, ...] = ("train", "dev", "test")
# Frame rates a camera records signing at: below 5 fps a sign (about half a second) has two or three
# frames and a 12-frame isolated clip would last seconds to hours; above 240, no camera.
MIN_FPS, MAX_FPS = 5.0, 240.0
_OUTPUT_FILES = ("manifest.jsonl", "segments.jsonl", "lexicon.json", "synth_config.json")
_OUTPUT_DIRS = ("poses", "videos")
# Settings of grammar sentences; with source: phoenix14t they stay at their defaults (the files
# give splits, texts and signers) and synth_config.json leaves them out.
_ISOLATED_ONLY = ("per_sign", "per_sign_eval", "num_signs")
_GRAMMAR_ONLY = ("num_train", "num_dev", "num_test", "num_signers", "lexicon_size", "split_disjoint", "text_style")


class SynthConfig(StrictModel):
    """Synthetic corpus settings. Defaults are the ``glossfree demo`` corpus.

    Attributes:
        seed: seed of every random choice (sentences, signers, performances, noise).
        num_train, num_dev, num_test: samples per split.
        language: spoken language of the targets (``de`` or ``en``); one per corpus.
        text_style: ``sentence`` (capitalised, final punctuation) or ``lower`` (PHOENIX14T style).
        fps: frame rate (5 to 240); sign and transition durations are set in seconds.
        width, height: image size in pixels (keypoints are in pixels of this frame).
        num_signers: number of distinct signers (body proportions, framing, speed, habits).
        lexicon_size: signs in the vocabulary (None: the whole grammar, 59 signs).
        lexicon_seed: seed of the procedural lexicon (kept apart from ``seed`` so that corpora
            with different seeds share one sign language).
        face_points: ``full`` 468-point face mesh (as MediaPipe holistic) or ``contours``, the 128
            contour points only (as pose-format's ``reduce_holistic``; files 2.4x smaller, and
            all that the ``pose203`` layout reads).
        jitter_std: Gaussian keypoint noise, in shoulder widths.
        hand_drop_rate: fraction of frames whose hand detection is dropped (in short bursts),
            on top of hands that leave the frame.
        split_disjoint: no dev/test gloss sequence appears in train.
        render_video: also write a stick-figure ``videos/<id>.mp4`` per sample.
        source: ``grammar`` (sentences drawn from the synthetic grammar) or ``phoenix14t`` (the
            PHOENIX-2014-T samples in ``source_dir``, see :mod:`.phoenix`). With ``phoenix14t``
            the splits, texts and signers come from the files: ``num_train``, ``num_dev``,
            ``num_test``, ``num_signers``, ``lexicon_size``, ``split_disjoint`` and
            ``text_style`` must stay at their defaults and ``language`` is ``de``.
        source_dir: folder with PHOENIX-2014-T ``{train,dev,test}.jsonl`` (``phoenix14t`` only).
        limit: at most this many samples per split, the first of each file (``phoenix14t``
            only; None: all).
        per_sign: with ``source: isolated``, training clips per sign.
        per_sign_eval: with ``source: isolated``, dev clips and test clips per sign (each).
        num_signs: with ``source: isolated``, how many signs of the lexicon are performed (drawn
            from the seed, listed in lexicon.json; None: the whole lexicon, 61 signs).

    ``source: isolated`` (``glossfree synth OUT --isolated``) writes isolated sign clips for ISLR
    pre-training (:mod:`glossfree.training.tasks.islr`): every clip is ONE sign of the lexicon (rest,
    rise, the sign, fall to rest), performed by a random signer of the pool with the usual
    variation (speed, offset, amplitude, handshape noise, tilt, keypoint jitter, dropped hand
    detections). Clip ``k`` of a split performs sign ``k mod num_signs`` (balanced classes). The
    manifest's ``label`` and ``gloss`` are the sign's gloss, ``text`` its lower case. The grammar's
    split sizes (``num_train``...), ``lexicon_size`` and ``split_disjoint`` do not apply.
    """

    seed: int = 0
    num_train: int = Field(1500, ge=0)
    num_dev: int = Field(150, ge=0)
    num_test: int = Field(150, ge=0)
    language: Literal["de", "en"] = "de"
    text_style: Literal["sentence", "lower"] = "sentence"
    fps: float = Field(25.0, ge=MIN_FPS, le=MAX_FPS)
    width: int = Field(640, ge=64, le=4096)
    height: int = Field(480, ge=64, le=4096)
    num_signers: int = Field(8, ge=1, le=100)
    lexicon_size: int | None = None
    lexicon_seed: int = 0
    face_points: Literal["full", "contours"] = "full"
    jitter_std: float = Field(0.01, ge=0.0, le=0.5)
    hand_drop_rate: float = Field(0.05, ge=0.0, le=0.9)
    split_disjoint: bool = True
    render_video: bool = False
    source: Literal["grammar", "phoenix14t", "isolated"] = "grammar"
    source_dir: str | None = Field(None, validate_default=True)
    limit: int | None = Field(None, ge=1, validate_default=True)
    per_sign: int = Field(20, ge=1)
    per_sign_eval: int = Field(4, ge=1)
    num_signs: int | None = Field(None, ge=2, le=FULL_LEXICON_SIZE)

    @field_validator("lexicon_size")
    @classmethod
    def _check_lexicon_size(cls, value: int | None) -> int | None:
        if value is not None and not MIN_LEXICON_SIZE <= value <= FULL_LEXICON_SIZE:
            raise ValueError(f"must be between {MIN_LEXICON_SIZE} and {FULL_LEXICON_SIZE} (or null for all)")
        return value

    # Field validators run in field order, so these see every key above them in ``info.data``.
    @field_validator("source")
    @classmethod
    def _check_source(cls, value: str, info: ValidationInfo) -> str:
        if value != "phoenix14t":
            return value
        if info.data.get("language", "de") != "de":
            raise ValueError(f"phoenix14t has German texts: language must be de, got {info.data['language']!r}")
        for key in _GRAMMAR_ONLY:
            if key in info.data and info.data[key] != cls.model_fields[key].default:
                raise ValueError(
                    f"{key} is for source: grammar; with phoenix14t the splits, texts, signers and glosses "
                    f"come from the files (leave {key} at its default; limit gives fewer samples)"
                )
        return value

    @field_validator("source_dir", "limit")
    @classmethod
    def _check_phoenix_only(cls, value: object, info: ValidationInfo) -> object:
        source = info.data.get("source")
        if source != "phoenix14t" and value is not None:
            raise ValueError(f"only for source: phoenix14t (source is {source})")
        if source == "phoenix14t" and info.field_name == "source_dir" and not value:
            raise ValueError("source: phoenix14t needs source_dir, the folder with train/dev/test.jsonl")
        return value

    @model_validator(mode="after")
    def _check_isolated(self) -> SynthConfig:
        if self.source != "isolated":
            changed = [key for key in _ISOLATED_ONLY if getattr(self, key) != type(self).model_fields[key].default]
            if changed:
                raise ValueError(f"{', '.join(changed)}: only for source: isolated (source is {self.source})")
            return self
        for key in ("num_train", "num_dev", "num_test", "lexicon_size", "split_disjoint"):
            if getattr(self, key) != type(self).model_fields[key].default:
                raise ValueError(
                    f"{key} is for source: grammar; isolated clips are sized by per_sign, per_sign_eval and num_signs"
                )
        return self

    def split_sizes(self) -> dict[str, int]:
        return {"train": self.num_train, "dev": self.num_dev, "test": self.num_test}


@dataclass
class SynthSummary:
    """What :func:`generate_corpus` wrote."""

    out_dir: Path
    samples: dict[str, int]
    num_frames: int
    mean_frames: float
    sign_vocabulary: int  # distinct signs used
    word_vocabulary: int  # distinct lower-cased words in the texts
    videos: int
    seconds: float
    signers: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.samples.values())


def build_lexicon(config: SynthConfig) -> tuple[Vocabulary, dict[str, Sign]]:
    """The corpus vocabulary and its signs. Signs are drawn for the whole grammar, so a smaller
    ``lexicon_size`` keeps the same form for every sign it keeps."""
    full = generate_lexicon(Vocabulary().glosses, seed=config.lexicon_seed)
    vocab = vocabulary(config.lexicon_size)
    return vocab, {gloss: full[gloss] for gloss in vocab.glosses}


def _rng(seed: int, *purpose: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, *purpose]))


def sample_sentences(config: SynthConfig, vocab: Vocabulary) -> dict[str, list[Sentence]]:
    """The sentences of every split (test and dev first; train then avoids their gloss sequences)."""
    rng = _rng(config.seed, 1)
    sizes = config.split_sizes()
    out: dict[str, list[Sentence]] = {}
    held_out: set[tuple[str, ...]] = set()
    for split in ("test", "dev", "train"):
        sentences = []
        for _ in range(sizes[split]):
            for _attempt in range(10_000):
                sentence = sample_sentence(rng, config.language, vocab=vocab, style=config.text_style)
                if split != "train" or not config.split_disjoint or sentence.glosses not in held_out:
                    break
            else:
                raise DataError(
                    "synth: cannot draw train sentences outside the dev/test sentences; use a "
                    "larger lexicon_size, fewer dev/test samples, or split_disjoint: false"
                )
            sentences.append(sentence)
            if split != "train":
                held_out.add(sentence.glosses)
        out[split] = sentences
    return {split: out[split] for split in SPLITS}


def make_signers(config: SynthConfig) -> list[Signer]:
    """The corpus's signers (``synth-00`` ...), drawn from the seed."""
    rng = _rng(config.seed, 2)
    return [sample_signer(rng, i, width=config.width, height=config.height) for i in range(config.num_signers)]


def synthesize_sample(config: SynthConfig, signs: dict[str, Sign], signers: list[Signer], sentence: Sentence,
                      split: str, index: int) -> tuple[Signer, SamplePlan, Pose]:  # fmt: skip
    """Sample ``index`` of ``split``: its signer, performance plan and pose (what the corpus holds)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    rng = _rng(config.seed, 3, SPLITS.index(split), index)
    signer = signers[int(rng.integers(len(signers)))]
    plan = plan_sample(rng, [signs[g] for g in sentence.glosses], signer, config.fps)
    pose = to_pose(render_plan(plan, signer, config.fps), signer, rng, width=config.width, height=config.height,
                   fps=config.fps, jitter_std=config.jitter_std, hand_drop_rate=config.hand_drop_rate,
                   face_points=config.face_points)  # fmt: skip
    return signer, plan, pose


def phoenix_signers(config: SynthConfig, names: list[str]) -> dict[str, Signer]:
    """Synthetic signers of the PHOENIX signers ``names``: sorted, the k-th is ``synth-{k:02d}``,
    drawn from the seed as :func:`make_signers` draws them (its first signers are the same)."""
    rng = _rng(config.seed, 2)
    return {name: sample_signer(rng, k, width=config.width, height=config.height) for k, name in enumerate(sorted(names))}


def synthesize_phoenix_sample(config: SynthConfig, signs: dict[str, Sign], signer: Signer,
                              sample: PhoenixSample) -> tuple[SamplePlan, Pose]:  # fmt: skip
    """A PHOENIX sample performed by ``signer`` in exactly ``target_frames(sample.length, fps)``
    frames; its random stream depends only on the seed, its split and its index in the file."""
    rng = _rng(config.seed, 4, SPLITS.index(sample.split), sample.index)
    frames = target_frames(sample.length, config.fps)
    try:
        plan = plan_sample(rng, [signs[g] for g in sample.signs], signer, config.fps, num_frames=frames)
    except ValueError as error:
        raise DataError(f"{sample.name}: {error}; use a higher fps") from None
    pose = to_pose(render_plan(plan, signer, config.fps), signer, rng, width=config.width, height=config.height,
                   fps=config.fps, jitter_std=config.jitter_std, hand_drop_rate=config.hand_drop_rate,
                   face_points=config.face_points)  # fmt: skip
    return plan, pose


@dataclass(frozen=True)
class _Item:
    """One sample to write: its manifest fields, the glosses it performs and how to make it."""

    split: str
    id: str
    text: str
    gloss: str  # for the manifest
    signs: tuple[str, ...]  # performed, one segment each
    extra: dict[str, str]  # more manifest keys
    synthesize: Callable[[], tuple[Signer, SamplePlan, Pose]]


def _grammar_script(config: SynthConfig) -> tuple[dict[str, Sign], list[_Item]]:
    vocab, signs = build_lexicon(config)
    sentences = sample_sentences(config, vocab)
    signers = make_signers(config)
    items = []
    for split in SPLITS:
        for index, sentence in enumerate(sentences[split]):
            make = partial(synthesize_sample, config, signs, signers, sentence, split, index)
            items.append(_Item(split, f"{split}-{index:05d}", sentence.text, " ".join(sentence.glosses),
                               sentence.glosses, {}, make))  # fmt: skip
    return signs, items


def isolated_signs(config: SynthConfig) -> dict[str, Sign]:
    """The signs an isolated corpus performs: ``num_signs`` of the full lexicon drawn from the seed
    (all of them when None), in lexicon order."""
    full = generate_lexicon(Vocabulary().glosses, seed=config.lexicon_seed)
    glosses = list(full)
    if config.num_signs is not None:
        chosen = sorted(_rng(config.seed, 6).choice(len(glosses), size=config.num_signs, replace=False).tolist())
        glosses = [glosses[i] for i in chosen]
    return {gloss: full[gloss] for gloss in glosses}


def synthesize_isolated(config: SynthConfig, sign: Sign, signers: list[Signer], split: str,
                        index: int) -> tuple[Signer, SamplePlan, Pose]:  # fmt: skip
    """Isolated clip ``index`` of ``split``: ``sign`` alone, by a signer drawn for this clip; its random
    stream depends only on the seed, the split and the index."""
    rng = _rng(config.seed, 5, SPLITS.index(split), index)
    signer = signers[int(rng.integers(len(signers)))]
    plan = plan_sample(rng, [sign], signer, config.fps)
    pose = to_pose(render_plan(plan, signer, config.fps), signer, rng, width=config.width, height=config.height,
                   fps=config.fps, jitter_std=config.jitter_std, hand_drop_rate=config.hand_drop_rate,
                   face_points=config.face_points)  # fmt: skip
    return signer, plan, pose


def _isolated_script(config: SynthConfig) -> tuple[dict[str, Sign], list[_Item]]:
    signs = isolated_signs(config)
    glosses = list(signs)
    signers = make_signers(config)
    items = []
    for split in SPLITS:
        per_sign = config.per_sign if split == "train" else config.per_sign_eval
        for index in range(per_sign * len(glosses)):
            gloss = glosses[index % len(glosses)]
            make = partial(synthesize_isolated, config, signs[gloss], signers, split, index)
            items.append(_Item(split, f"{split}-{index:05d}", gloss.lower(), gloss, (gloss,), {"label": gloss}, make))
    return signs, items


def _phoenix_script(config: SynthConfig) -> tuple[dict[str, Sign], list[_Item]]:
    """Read (and check) every split in full: lexicon and signers do not depend on ``limit``."""
    splits = read_phoenix(config.source_dir)
    everything = [sample for split in SPLITS for sample in splits[split]]
    signs = phoenix_lexicon(phoenix_glosses(everything), seed=config.lexicon_seed)
    signers = phoenix_signers(config, sorted({sample.signer for sample in everything}))
    items = []
    for split in SPLITS:
        for sample in splits[split][: config.limit]:
            if len(sample.signs) > target_frames(sample.length, config.fps):
                raise DataError(
                    f"{config.source_dir}/{split}.jsonl:{sample.line}: {len(sample.signs)} glosses do not fit into "
                    f"{target_frames(sample.length, config.fps)} frames at {config.fps:g} fps; use a higher fps"
                )
            signer = signers[sample.signer]

            def make(sample: PhoenixSample = sample, signer: Signer = signer) -> tuple[Signer, SamplePlan, Pose]:
                return (signer, *synthesize_phoenix_sample(config, signs, signer, sample))

            extra = {"name": sample.name, "source_signer": sample.signer}
            items.append(_Item(split, sample.id, sample.text, " ".join(sample.glosses), sample.signs, extra, make))
    return signs, items


def _prepare_out_dir(out_dir: Path, overwrite: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise DataError(f"{out_dir}: exists and is not a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        if not overwrite:
            raise DataError(f"{out_dir}: folder is not empty (pass overwrite=True / --overwrite to replace a corpus)")
        if not (out_dir / "synth_config.json").is_file():
            raise DataError(f"{out_dir}: not empty and not a synthetic corpus (no synth_config.json); refusing to overwrite")
        for name in _OUTPUT_DIRS:
            shutil.rmtree(out_dir / name, ignore_errors=True)
        for name in _OUTPUT_FILES:
            (out_dir / name).unlink(missing_ok=True)
    make_output_dir(out_dir / "poses", what="corpus folder")


def _lexicon_json(config: SynthConfig, signs: dict[str, Sign]) -> str:
    data = {
        "lexicon_seed": config.lexicon_seed,
        "handshapes": {name: [round(float(v), 4) for v in shape] for name, shape in HANDSHAPES.items()},
        "orientations": {name: {"fingers": list(u), "palm": list(p)} for name, (u, p) in ORIENTATIONS.items()},
        "signs": {gloss: sign.to_json() for gloss, sign in signs.items()},
    }
    return json.dumps(data, ensure_ascii=False, indent=1) + "\n"


def config_json(config: SynthConfig) -> str:
    """``synth_config.json``: every setting, less the grammar-only ones of a phoenix14t corpus and the
    isolated-only ones of the others."""
    data = config.model_dump()
    if config.source == "phoenix14t":
        data = {key: value for key, value in data.items() if key not in _GRAMMAR_ONLY}
    if config.source != "isolated":  # corpora of the other sources keep the file they always had
        data = {key: value for key, value in data.items() if key not in _ISOLATED_ONLY}
    return json.dumps(data, indent=1) + "\n"


def generate_corpus(out_dir: str | Path, config: SynthConfig | None = None, *, progress: bool = True,
                    overwrite: bool = False) -> SynthSummary:  # fmt: skip
    """Generate the corpus described by ``config`` into ``out_dir`` (see the module docstring).

    ``out_dir`` must be empty or absent; with ``overwrite`` a previous synthetic corpus there
    (recognised by its ``synth_config.json``) is replaced. Sources are read and checked before
    anything is written.
    """
    config = config or SynthConfig()
    out_dir = Path(out_dir)
    started = time.perf_counter()
    scripts = {"grammar": _grammar_script, "phoenix14t": _phoenix_script, "isolated": _isolated_script}
    signs, items = scripts[config.source](config)
    _prepare_out_dir(out_dir, overwrite)
    # Written first: it marks the folder as a synthetic corpus, so an interrupted run can be overwritten.
    atomic_write_text(out_dir / "synth_config.json", config_json(config))

    records: list[Record] = []
    segments: list[str] = []
    performed: set[str] = set()
    frames_total = 0
    with _progress(progress, len(items)) as advance:
        for item in items:
            signer, plan, pose = item.synthesize()
            atomic_write_bytes(out_dir / "poses" / f"{item.id}.pose", pose_bytes(pose, face_points=config.face_points))
            video = None
            if config.render_video:
                video = f"videos/{item.id}.mp4"
                render_video(pose, out_dir / video, fps=config.fps)
            records.append(Record(
                id=item.id, split=item.split, text=item.text, language=config.language,
                video=video, pose=f"poses/{item.id}.pose", signer=signer.name, gloss=item.gloss, extra=item.extra,
            ))  # fmt: skip
            spans = [{"gloss": g, "start": s, "end": e} for g, (s, e) in zip(item.signs, plan.boundaries, strict=True)]
            segments.append(json.dumps({"id": item.id, "fps": config.fps, "num_frames": plan.num_frames, "signs": spans}))
            frames_total += plan.num_frames
            performed.update(item.signs)
            advance()

    write_manifest(out_dir / "manifest.jsonl", records)
    atomic_write_text(out_dir / "segments.jsonl", "".join(line + "\n" for line in segments))
    atomic_write_text(out_dir / "lexicon.json", _lexicon_json(config, signs))
    words = Counter(word for record in records for word in record.text.lower().strip(".?").split())
    return SynthSummary(
        out_dir=out_dir,
        samples={split: sum(record.split == split for record in records) for split in SPLITS},
        num_frames=frames_total,
        mean_frames=frames_total / max(1, len(records)),
        sign_vocabulary=len(performed),
        word_vocabulary=len(words),
        videos=len(records) if config.render_video else 0,
        seconds=time.perf_counter() - started,
        signers=sorted({r.signer for r in records if r.signer}),
    )


@contextmanager
def _progress(enabled: bool, total: int) -> Iterator[Callable[[], None]]:
    """A rich progress bar (or nothing) around the sample loop; the yielded ``advance()`` counts one."""
    if not enabled:
        yield lambda: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("synth"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()) as bar:
        task = bar.add_task("samples", total=total)
        yield lambda: bar.advance(task)
