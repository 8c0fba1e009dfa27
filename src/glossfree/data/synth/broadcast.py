"""Synthetic broadcast streams for sign-subtitle alignment: continuous signing with two subtitle tracks.

A stream is one synthetic interpreter signing ``sentences_per_stream`` sentences back to back, with
rest pauses between them, written as one long ``.pose`` file. Each sentence has

- its **signing-aligned** subtitle: the true span of its signing, from the first frame of its first
  sign to the last frame of its last sign (hands rising from and falling back to rest are outside);
- its **audio-aligned** subtitle: the same text at the time it would be spoken. In interpreted
  broadcasts (BOBSL, paper 004 Sec. 4.1) subtitles follow the audio and the interpreter signs
  after hearing it, so the audio subtitle *leads* the signing. Here every stream draws one lag
  ``L ~ U(lag_s)``, and each subtitle's start and end are moved earlier by ``L + U(-jitter_s,
  jitter_s)`` (drawn separately for start and end). Audio subtitles are then made sequential and
  non-overlapping, as broadcast subtitles are: each lasts at least ``min_subtitle_s`` and ends no
  later than the next one starts (a start's jitter is drawn from the part of the range that keeps
  the starts ``min_subtitle_s`` apart, so every start shift stays within ``lag +- jitter_s``). The lag and jitter ranges are glossfree's choice, not measured
  BOBSL statistics (paper 004 gives none); How2Sign's lag can exceed 20 s (paper 004 Sec. 4.4).

Output (``out_dir``)::

    streams/<id>.pose          MediaPipe holistic keypoints of the whole stream (pose-format)
    streams/<id>.signing.vtt   true signing spans (WebVTT)
    streams/<id>.audio.vtt     audio-aligned (shifted, jittered) subtitles (WebVTT)
    manifest.jsonl             {"id", "pose", "signing", "audio", "fps", "num_frames", "duration",
                                "signer", "lag", "language"} per stream
    broadcast_config.json      the configuration that produced the streams

Built from the synthetic signer's public parts (:func:`build_lexicon`, :func:`make_signers`,
:func:`sample_sentence`, :func:`plan_sample`, :func:`render_plan`, :func:`to_pose`). Each
sentence is planned and rendered on its own and the renderings are joined at rest, so head sway
and blinks restart at sentence boundaries. Everything is a function of the configuration: the
same seed gives byte-identical files; stream ``i`` draws from its own seeded stream, so it does
not depend on how many streams come before it.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from glossfree.alignment.subtitles import Cue, write_subtitles
from glossfree.config import StrictModel
from glossfree.data.synth.corpus import MAX_FPS, MIN_FPS, SynthConfig, build_lexicon, make_signers
from glossfree.data.synth.body import Signer
from glossfree.data.synth.grammar import Vocabulary, sample_sentence
from glossfree.data.synth.lexicon import Sign
from glossfree.data.synth.render import Rendering, plan_sample, pose_bytes, render_plan, to_pose
from glossfree.errors import DataError
from glossfree.io import atomic_write_bytes, atomic_write_text, make_output_dir

_PURPOSE = 11  # SeedSequence purpose of broadcast streams (corpus.py uses 1-3)
_OUTPUT_FILES = ("manifest.jsonl", "broadcast_config.json")


class BroadcastConfig(StrictModel):
    """Synthetic broadcast settings.

    Attributes:
        seed: seed of every random choice (sentences, signers, pauses, lags, noise).
        num_streams: streams to write.
        sentences_per_stream: sentences (subtitles) per stream.
        language, text_style: subtitle language and style (as :class:`SynthConfig`).
        fps, width, height: frame rate (5 to 240) and image size.
        num_signers: distinct interpreters; each stream has one.
        lexicon_size, lexicon_seed: the sign language (as :class:`SynthConfig`).
        face_points: ``contours`` (128 face points, small files) or ``full`` (468).
        jitter_std, hand_drop_rate: keypoint noise and dropped hand detections (as :class:`SynthConfig`).
        pause_s: rest between two sentences, seconds (uniform range).
        lag_s: range of the per-stream lag of signing behind audio, seconds (uniform).
        jitter_s: per-boundary jitter of the audio subtitles around the lag, seconds (uniform +-).
        min_subtitle_s: shortest audio subtitle, seconds.
    """

    seed: int = 0
    num_streams: int = Field(8, ge=1)
    sentences_per_stream: int = Field(12, ge=1)
    language: Literal["de", "en"] = "en"
    text_style: Literal["sentence", "lower"] = "sentence"
    fps: float = Field(25.0, ge=MIN_FPS, le=MAX_FPS)
    width: int = Field(640, ge=64, le=4096)
    height: int = Field(480, ge=64, le=4096)
    num_signers: int = Field(4, ge=1, le=100)
    lexicon_size: int | None = None
    lexicon_seed: int = 0
    face_points: Literal["full", "contours"] = "contours"
    jitter_std: float = Field(0.01, ge=0.0, le=0.5)
    hand_drop_rate: float = Field(0.05, ge=0.0, le=0.9)
    pause_s: tuple[float, float] = (0.5, 2.5)
    lag_s: tuple[float, float] = (1.0, 4.0)
    jitter_s: float = Field(0.5, ge=0.0)
    min_subtitle_s: float = Field(0.5, gt=0.0)

    @model_validator(mode="after")
    def _check_ranges(self) -> BroadcastConfig:
        for name in ("pause_s", "lag_s"):
            low, high = getattr(self, name)
            if not 0.0 <= low <= high:
                raise ValueError(f"{name} must be a range [low, high] with 0 <= low <= high, got {[low, high]}")
        return self

    def synth_config(self) -> SynthConfig:
        """The synthetic-signer settings shared with :mod:`glossfree.data.synth.corpus`."""
        return SynthConfig(
            seed=self.seed, num_train=0, num_dev=0, num_test=0, language=self.language,
            text_style=self.text_style, fps=self.fps, width=self.width, height=self.height,
            num_signers=self.num_signers, lexicon_size=self.lexicon_size, lexicon_seed=self.lexicon_seed,
            face_points=self.face_points, jitter_std=self.jitter_std, hand_drop_rate=self.hand_drop_rate,
        )  # fmt: skip


@dataclass(frozen=True)
class BroadcastStream:
    """One generated stream (what its files hold)."""

    id: str
    signer: str
    lag: float
    num_frames: int
    fps: float
    signing: list[Cue]
    audio: list[Cue]

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps


def _rng(seed: int, *purpose: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, _PURPOSE, *purpose]))


def _frames(seconds: float, fps: float) -> int:
    return max(1, int(round(seconds * fps)))


def _audio_cues(signing: list[Cue], lag: float, config: BroadcastConfig, rng: np.random.Generator) -> list[Cue]:
    """Audio-aligned cues: each boundary ``lag + U(-jitter, jitter)`` earlier, then sequential."""
    jitter, shortest = config.jitter_s, config.min_subtitle_s
    starts, ends = [], []
    for k, cue in enumerate(signing):
        low = -jitter
        high = jitter if k == 0 else min(jitter, cue.start - lag - starts[-1] - shortest)
        if high < low:
            raise DataError(
                f"broadcast: sentence {k} starts too soon after the previous one to keep audio subtitles in "
                f"order with jitter_s={jitter}; lower jitter_s or min_subtitle_s, or raise pause_s"
            )
        starts.append(cue.start - lag - rng.uniform(low, high))
        ends.append(max(cue.end - lag - rng.uniform(-jitter, jitter), starts[-1] + shortest))
    for k in range(len(ends) - 1):
        ends[k] = min(ends[k], starts[k + 1])  # >= starts[k] + shortest, by the draw of starts[k + 1]
    return [Cue(round(s, 3), round(e, 3), cue.text) for s, e, cue in zip(starts, ends, signing, strict=True)]


def synthesize_stream(config: BroadcastConfig, index: int, *, lexicon: tuple[Vocabulary, dict[str, Sign]] | None = None,
                      signers: list[Signer] | None = None) -> tuple[BroadcastStream, bytes]:  # fmt: skip
    """Stream ``index``: its subtitles and its ``.pose`` bytes (``lexicon`` and ``signers``, from
    :func:`build_lexicon` and :func:`make_signers` of :meth:`BroadcastConfig.synth_config`, can be
    passed to skip rebuilding them)."""
    synth = config.synth_config()
    vocab, signs = lexicon if lexicon is not None else build_lexicon(synth)
    signers = signers if signers is not None else make_signers(synth)
    rng = _rng(config.seed, index)
    signer = signers[int(rng.integers(len(signers)))]
    lag = float(rng.uniform(*config.lag_s))
    fps = config.fps
    # Lead-in long enough that the first audio subtitle starts at or after 0 s; tail likewise.
    lead_in = _frames(config.lag_s[1] + config.jitter_s + 0.5, fps)
    tail = _frames(max(0.0, config.jitter_s - config.lag_s[0]) + 0.5, fps)

    renderings: list[Rendering] = []
    signing: list[Cue] = []
    offset = 0
    for k in range(config.sentences_per_stream):
        sentence = sample_sentence(rng, config.language, vocab=vocab, style=config.text_style)
        plan = plan_sample(rng, [signs[g] for g in sentence.glosses], signer, fps)
        pause = lead_in if k == 0 else _frames(rng.uniform(*config.pause_s), fps)
        plan = dataclasses.replace(plan, lead=pause)
        if k == config.sentences_per_stream - 1:
            plan = dataclasses.replace(plan, tail=plan.tail + tail)
        bounds = plan.boundaries
        signing.append(Cue((offset + bounds[0][0]) / fps, (offset + bounds[-1][1]) / fps, sentence.text))
        renderings.append(render_plan(plan, signer, fps))
        offset += plan.num_frames

    fields = [f.name for f in dataclasses.fields(Rendering)]
    joined = Rendering(**{name: np.concatenate([getattr(r, name) for r in renderings]) for name in fields})
    pose = to_pose(joined, signer, rng, width=config.width, height=config.height, fps=fps,
                   jitter_std=config.jitter_std, hand_drop_rate=config.hand_drop_rate,
                   face_points=config.face_points)  # fmt: skip
    audio = _audio_cues(signing, lag, config, rng)
    stream = BroadcastStream(f"stream-{index:04d}", signer.name, lag, offset, fps, signing, audio)
    return stream, pose_bytes(pose, face_points=config.face_points)


def _prepare_out_dir(out_dir: Path, overwrite: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise DataError(f"{out_dir}: exists and is not a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        if not overwrite:
            raise DataError(f"{out_dir}: folder is not empty (pass overwrite=True to replace broadcast streams)")
        if not (out_dir / "broadcast_config.json").is_file():
            raise DataError(
                f"{out_dir}: not empty and not a broadcast set (no broadcast_config.json); refusing to overwrite"
            )
        shutil.rmtree(out_dir / "streams", ignore_errors=True)
        for name in _OUTPUT_FILES:
            (out_dir / name).unlink(missing_ok=True)
    make_output_dir(out_dir / "streams", what="broadcast folder")


def generate_broadcast(out_dir: str | Path, config: BroadcastConfig | None = None, *,
                       overwrite: bool = False) -> list[BroadcastStream]:  # fmt: skip
    """Write the streams described by ``config`` into ``out_dir`` (see the module docstring)."""
    config = config or BroadcastConfig()
    out_dir = Path(out_dir)
    _prepare_out_dir(out_dir, overwrite)
    # Written first: it marks the folder as a broadcast set, so an interrupted run can be overwritten.
    atomic_write_text(out_dir / "broadcast_config.json", json.dumps(config.model_dump(), indent=1) + "\n")
    synth = config.synth_config()
    lexicon, signers = build_lexicon(synth), make_signers(synth)
    streams, lines = [], []
    for index in range(config.num_streams):
        stream, data = synthesize_stream(config, index, lexicon=lexicon, signers=signers)
        base = f"streams/{stream.id}"
        atomic_write_bytes(out_dir / f"{base}.pose", data)
        write_subtitles(out_dir / f"{base}.signing.vtt", stream.signing)
        write_subtitles(out_dir / f"{base}.audio.vtt", stream.audio)
        lines.append(json.dumps({
            "id": stream.id, "pose": f"{base}.pose", "signing": f"{base}.signing.vtt", "audio": f"{base}.audio.vtt",
            "fps": stream.fps, "num_frames": stream.num_frames, "duration": round(stream.duration, 3),
            "signer": stream.signer, "lag": round(stream.lag, 3), "language": config.language,
        }, ensure_ascii=False))  # fmt: skip
        streams.append(stream)
    atomic_write_text(out_dir / "manifest.jsonl", "".join(line + "\n" for line in lines))
    return streams


def read_broadcast_manifest(
    root: str | Path, *, required: tuple[str, ...] = ("id", "signing", "audio", "fps", "num_frames")
) -> list[dict]:
    """The manifest lines of a broadcast set (or any stream manifest with the ``required`` keys),
    with a :class:`DataError` naming a bad line."""
    path = Path(root) / "manifest.jsonl"
    if not path.is_file():
        raise DataError(f"{path}: broadcast manifest not found")
    entries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(f"{path}:{number}: not valid JSON: {error.msg}") from None
        missing = set(required) - set(entry)
        if missing:
            raise DataError(f"{path}:{number}: missing keys {sorted(missing)}")
        entries.append(entry)
    return entries
