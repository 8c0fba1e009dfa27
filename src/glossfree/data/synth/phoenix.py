"""PHOENIX-2014-T as the script of the synthetic signer (``glossfree synth --from-phoenix DIR``).

The synthetic benchmark keeps everything of PHOENIX-2014-T except the video: each sample of
``{train,dev,test}.jsonl`` (fields ``name``, ``text``, ``gloss_orth``, ``length`` in frames at
25 fps, ``signer``; see the data folder's README) keeps its split, its German text (the
translation target), its official gloss sequence (``gloss_orth``, not GFSLT's ``gloss``) and its
duration; the synthetic signer performs the glosses in that time. The lexicon
(:func:`phoenix_lexicon`) has one sign per gloss type of all three splits (1,115 types), drawn
after the demo grammar's signs so that glosses both share (``REGEN``, ``NORD``, ...) keep the
demo's form.

Special tokens: ``__PU__`` (palm-up gesture) is performed as a gesture
(:data:`glossfree.data.synth.lexicon.GESTURE_SIGNS`); every other ``__X__`` token (``__ON__``,
``__OFF__``, ``__EMOTION__``, ``__LEFTHAND__``, ``__EPENTHESIS__``, ...) marks no manual sign of
its own and is not performed: the hands' rise from and fall to rest already show ``__ON__`` and
``__OFF__``. Such tokens stay in the manifest's ``gloss`` but get no segment. (PHOENIX-2014-T's
``gloss_orth`` holds none of them; the rule is for other gloss files in the same format.)
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from glossfree.data.synth.grammar import Vocabulary
from glossfree.data.synth.lexicon import GESTURE_SIGNS, Sign, generate_lexicon
from glossfree.errors import DataError

PHOENIX_FPS = 25.0
PHOENIX_SPLITS: tuple[str, ...] = ("train", "dev", "test")
_FIELDS: dict[str, type] = {"name": str, "text": str, "gloss_orth": str, "length": int, "signer": str}
_MAX_LISTED = 20


@dataclass(frozen=True)
class PhoenixSample:
    """One line of a PHOENIX-2014-T ``{split}.jsonl``.

    Attributes:
        split: the file's split (train, dev or test).
        index: 0-based position in the file (the sample's random stream depends on it).
        name: PHOENIX name, e.g. ``train/11August_2010_Wednesday_tagesschau-1``.
        text: the German translation (lower case, no punctuation).
        glosses: the official ``gloss_orth`` sequence.
        length: frames of the original clip at 25 fps.
        signer: PHOENIX signer (``Signer01`` ... ``Signer09``).
        line: line number in the file (for messages).
    """

    split: str
    index: int
    name: str
    text: str
    glosses: tuple[str, ...]
    length: int
    signer: str
    line: int

    @property
    def id(self) -> str:
        """Manifest id and pose file stem: the name with ``/`` replaced by ``-``."""
        return self.name.replace("/", "-")

    @property
    def signs(self) -> tuple[str, ...]:
        """The glosses that are performed (skipped special tokens left out)."""
        return tuple(gloss for gloss in self.glosses if not is_skipped(gloss))


def is_skipped(gloss: str) -> bool:
    """A special ``__X__`` token without a manual form (every one except ``__PU__``)."""
    return gloss.startswith("__") and gloss.endswith("__") and gloss not in GESTURE_SIGNS


def target_frames(length: int, fps: float) -> int:
    """Frames at ``fps`` of a clip of ``length`` frames at 25 fps (same duration, rounded half up)."""
    return max(1, int(length * fps / PHOENIX_FPS + 0.5))


def _parse_line(path: Path, lineno: int, line: str, split: str, index: int) -> tuple[PhoenixSample | None, list[str]]:
    where = f"{path}:{lineno}"
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as error:
        return None, [f"{where}: invalid JSON ({error.msg} at column {error.colno})"]
    if not isinstance(obj, dict):
        return None, [f"{where}: expected a JSON object, got {type(obj).__name__}"]
    problems = []
    for key, kind in _FIELDS.items():
        value = obj.get(key)
        if key not in obj:
            problems.append(f"{where}: missing key '{key}'")
        elif not isinstance(value, kind) or isinstance(value, bool):
            problems.append(f"{where}: '{key}' must be {'an integer' if kind is int else 'a string'}, got {value!r}")
        elif key == "length" and value < 1:
            problems.append(f"{where}: 'length' must be at least 1 frame, got {value}")
        elif key in ("name", "signer") and not value.strip():
            problems.append(f"{where}: '{key}' must not be empty")
    if problems:
        return None, problems
    sample = PhoenixSample(split, index, obj["name"], obj["text"], tuple(obj["gloss_orth"].split()), obj["length"],
                           obj["signer"], lineno)  # fmt: skip
    if not sample.signs:
        return None, [f"{where}: 'gloss_orth' has no gloss to sign ({obj['gloss_orth']!r})"]
    return sample, []


def read_phoenix_split(source_dir: str | Path, split: str) -> list[PhoenixSample]:
    """Every sample of ``<source_dir>/<split>.jsonl``; a :class:`DataError` names each bad line."""
    path = Path(source_dir) / f"{split}.jsonl"
    if not path.is_file():
        expected = ", ".join(f"{name}.jsonl" for name in PHOENIX_SPLITS)
        raise DataError(f"{path}: PHOENIX-2014-T {split} file not found (expected {expected} in {source_dir})")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: cannot read ({error})") from None
    samples: list[PhoenixSample] = []
    problems: list[str] = []
    index = 0
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        sample, line_problems = _parse_line(path, lineno, line, split, index)
        index += 1
        problems += line_problems
        if sample is not None:
            samples.append(sample)
    if problems:
        shown = problems[:_MAX_LISTED]
        more = f"\n... and {len(problems) - len(shown)} more problems" if len(problems) > len(shown) else ""
        raise DataError("\n".join(shown) + more)
    if not samples:
        raise DataError(f"{path}: no samples")
    return samples


def read_phoenix(source_dir: str | Path) -> dict[str, list[PhoenixSample]]:
    """All three splits of a PHOENIX-2014-T folder; ids must be unique across them."""
    source_dir = Path(source_dir)
    if not source_dir.is_dir():
        raise DataError(f"{source_dir}: PHOENIX-2014-T folder not found (it should hold train/dev/test.jsonl)")
    splits = {split: read_phoenix_split(source_dir, split) for split in PHOENIX_SPLITS}
    first: dict[str, str] = {}
    for split, samples in splits.items():
        for sample in samples:
            if sample.id in first:
                raise DataError(
                    f"{source_dir / f'{split}.jsonl'}:{sample.line}: name {sample.name!r} gives id "
                    f"{sample.id!r}, already used in {first[sample.id]}.jsonl"
                )
            first[sample.id] = split
    return splits


def phoenix_glosses(samples: Iterable[PhoenixSample]) -> list[str]:
    """The performed gloss types of ``samples``, sorted."""
    return sorted({gloss for sample in samples for gloss in sample.signs})


def phoenix_lexicon(glosses: Iterable[str], *, seed: int = 0) -> dict[str, Sign]:
    """One sign per gloss, drawn after the demo grammar's signs (a gloss both have keeps the
    demo's sign), the others in sorted order: the lexicon is a function of the set of glosses.
    ``glossfree synth`` passes every gloss of all three splits, so ``limit`` leaves it unchanged."""
    wanted = sorted(set(glosses))
    grammar = Vocabulary().glosses
    full = generate_lexicon([*grammar, *(g for g in wanted if g not in grammar)], seed=seed)
    return {gloss: full[gloss] for gloss in wanted}
