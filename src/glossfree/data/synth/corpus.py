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
"""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from pose_format import Pose
from pydantic import Field, field_validator

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
from glossfree.data.synth.render import SamplePlan, plan_sample, pose_bytes, render_plan, to_pose
from glossfree.data.synth.video import render_video
from glossfree.errors import DataError
from glossfree.io import atomic_write_bytes, atomic_write_text

SPLITS: tuple[str, ...] = ("train", "dev", "test")
_OUTPUT_FILES = ("manifest.jsonl", "segments.jsonl", "lexicon.json", "synth_config.json")
_OUTPUT_DIRS = ("poses", "videos")


class SynthConfig(StrictModel):
    """Synthetic corpus settings. Defaults are the ``glossfree demo`` corpus.

    Attributes:
        seed: seed of every random choice (sentences, signers, performances, noise).
        num_train, num_dev, num_test: samples per split.
        language: spoken language of the targets (``de`` or ``en``); one per corpus.
        text_style: ``sentence`` (capitalised, final punctuation) or ``lower`` (PHOENIX14T style).
        fps: frame rate; sign and transition durations are set in seconds.
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
    """

    seed: int = 0
    num_train: int = Field(1500, ge=0)
    num_dev: int = Field(150, ge=0)
    num_test: int = Field(150, ge=0)
    language: Literal["de", "en"] = "de"
    text_style: Literal["sentence", "lower"] = "sentence"
    fps: float = Field(25.0, gt=0, le=240)
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

    @field_validator("lexicon_size")
    @classmethod
    def _check_lexicon_size(cls, value: int | None) -> int | None:
        if value is not None and not MIN_LEXICON_SIZE <= value <= FULL_LEXICON_SIZE:
            raise ValueError(f"must be between {MIN_LEXICON_SIZE} and {FULL_LEXICON_SIZE} (or null for all)")
        return value

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
    (out_dir / "poses").mkdir(parents=True, exist_ok=True)


def _lexicon_json(config: SynthConfig, signs: dict[str, Sign]) -> str:
    data = {
        "lexicon_seed": config.lexicon_seed,
        "handshapes": {name: [round(float(v), 4) for v in shape] for name, shape in HANDSHAPES.items()},
        "orientations": {name: {"fingers": list(u), "palm": list(p)} for name, (u, p) in ORIENTATIONS.items()},
        "signs": {gloss: sign.to_json() for gloss, sign in signs.items()},
    }
    return json.dumps(data, ensure_ascii=False, indent=1) + "\n"


def generate_corpus(out_dir: str | Path, config: SynthConfig | None = None, *, progress: bool = True,
                    overwrite: bool = False) -> SynthSummary:  # fmt: skip
    """Generate the corpus described by ``config`` into ``out_dir`` (see the module docstring).

    ``out_dir`` must be empty or absent; with ``overwrite`` a previous synthetic corpus there
    (recognised by its ``synth_config.json``) is replaced.
    """
    config = config or SynthConfig()
    out_dir = Path(out_dir)
    started = time.perf_counter()
    _prepare_out_dir(out_dir, overwrite)
    # Written first: it marks the folder as a synthetic corpus, so an interrupted run can be overwritten.
    atomic_write_text(out_dir / "synth_config.json", json.dumps(config.model_dump(), indent=1) + "\n")
    vocab, signs = build_lexicon(config)
    sentences = sample_sentences(config, vocab)
    signers = make_signers(config)

    records: list[Record] = []
    segments: list[str] = []
    frames_total = 0
    total = sum(len(s) for s in sentences.values())
    with _progress(progress, total) as advance:
        for split in SPLITS:
            for index, sentence in enumerate(sentences[split]):
                sample_id = f"{split}-{index:05d}"
                signer, plan, pose = synthesize_sample(config, signs, signers, sentence, split, index)
                atomic_write_bytes(out_dir / "poses" / f"{sample_id}.pose", pose_bytes(pose, face_points=config.face_points))
                video = None
                if config.render_video:
                    video = f"videos/{sample_id}.mp4"
                    render_video(pose, out_dir / video, fps=config.fps)
                records.append(Record(
                    id=sample_id, split=split, text=sentence.text, language=config.language,
                    video=video, pose=f"poses/{sample_id}.pose", signer=signer.name,
                    gloss=" ".join(sentence.glosses),
                ))  # fmt: skip
                spans = [{"gloss": g, "start": s, "end": e} for g, (s, e) in zip(sentence.glosses, plan.boundaries, strict=True)]
                segments.append(json.dumps({"id": sample_id, "fps": config.fps, "num_frames": plan.num_frames, "signs": spans}))
                frames_total += plan.num_frames
                advance()

    write_manifest(out_dir / "manifest.jsonl", records)
    atomic_write_text(out_dir / "segments.jsonl", "".join(line + "\n" for line in segments))
    atomic_write_text(out_dir / "lexicon.json", _lexicon_json(config, signs))
    words = Counter(word for record in records for word in record.text.lower().strip(".?").split())
    used = {g for record in records for g in (record.gloss or "").split()}
    return SynthSummary(
        out_dir=out_dir,
        samples={split: len(sentences[split]) for split in SPLITS},
        num_frames=frames_total,
        mean_frames=frames_total / max(1, len(records)),
        sign_vocabulary=len(used),
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
