"""Prompts for LLM-based SLT: instructions per target language, in-context exemplars, SSA prompts.

SpaMo (paper 003, appendix A "Prompt Template", Table 8) prefixes the visual tokens with the
instruction "Translate the given sentence into German." followed by in-context pairs
``[SRC]=[TRG]`` - a training sentence machine-translated into another language (``SRC``) and the
training sentence itself (``TRG``) - "sampled from the training set", shuffled during training
so that the pair never shows the sample's own target.

In-context exemplars here can only come from the training split: :class:`ExemplarPool` refuses
any other split and drops non-training records, :class:`Exemplar` carries its split, and
:func:`build_slt_prompt` rejects an exemplar that is not from ``train``. (In SpaMo-style code
the in-context strings are built from the *batch's own* references and their translations and
deranged across the batch in every split, so at test time each prompt carries another test
sample's reference; the released ``t5_slt.py`` of ``eddie-euijun-hwang/SpaMo`` instead uses fixed
lists from ``prompt.py`` at test time, and joins only their foreign-language side.)

Paper 004 ("Lost in Translation, Found in Embeddings", Sec. 3.4 and 4.2) specifies each task by a
prompt: SLT, and sign-subtitle alignment (SSA), whose prompt carries the subtitle text and, with
probability 0.5 when audio-aligned subtitles exist (BOBSL), the audio-aligned "prior" timing; the
answer is "a fixed start-end format" of frame indices in the 20 s (500-frame, 25 fps) window, three
digits each. The paper's text does not print the prompts' wording (it is only in its Fig. 1/2), so
:data:`SSA_INSTRUCTION` and :data:`PAPER004_SLT_INSTRUCTION` are glossfree's wording of that
description.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import Field

from glossfree.config import StrictModel
from glossfree.errors import ConfigError, DataError

LANGUAGE_NAMES: dict[str, str] = {
    "de": "German",
    "en": "English",
    "fr": "French",
    "es": "Spanish",
    "it": "Italian",
    "nl": "Dutch",
    "pt": "Portuguese",
}
"""Target languages with an instruction, by code."""

SLT_INSTRUCTION = "Translate the given sentence into {language}."
"""SpaMo's instruction (paper 003, appendix A and Table 8)."""

SLT_INSTRUCTIONS: dict[str, str] = {
    code: SLT_INSTRUCTION.format(language=name) for code, name in LANGUAGE_NAMES.items()
}

PAPER004_SLT_INSTRUCTION = "Translate the sign language video into {language}."
"""Paper 004's SLT task prompt (glossfree's wording; the paper shows it only in a figure)."""

SSA_INSTRUCTION = (
    "Find where the following subtitle is signed in the video. "
    "Answer with its start and end frames. Subtitle: {subtitle}"
)
"""Paper 004's SSA task prompt (glossfree's wording of Sec. 3.4)."""

SSA_PRIOR = " Audio-aligned timing: {timing}"
"""Appended to the SSA prompt when the audio-aligned prior timing is shown."""

TRAIN_SPLIT = "train"


def language_name(language: str) -> str:
    """``"de"``/``"de_DE"`` -> ``"German"``; unknown codes raise :class:`ConfigError` listing the known ones."""
    code = re.split(r"[-_]", str(language).strip().lower(), maxsplit=1)[0]
    if code not in LANGUAGE_NAMES:
        raise ConfigError(
            f"no prompt for target language {language!r}; supported: {', '.join(LANGUAGE_NAMES)}"
        )
    return LANGUAGE_NAMES[code]


@dataclass(frozen=True)
class Exemplar:
    """One in-context pair: a training sentence (``target``) and optionally a translation of it."""

    id: str
    target: str
    source: str | None = None
    split: str = TRAIN_SPLIT

    def render(self) -> str:
        """``source=target`` (SpaMo's format), or just ``target`` when there is no translation."""
        return f"{self.source}={self.target}" if self.source else self.target


def _field(record: Any, name: str) -> Any:
    if isinstance(record, Mapping):
        return record.get(name)
    return getattr(record, name, None)


class ExemplarPool:
    """In-context exemplars drawn from the training split only.

    Build it with :meth:`from_records`; every exemplar is a training sentence.
    """

    def __init__(self, exemplars: Sequence[Exemplar]) -> None:
        leaked = [e for e in exemplars if e.split != TRAIN_SPLIT]
        if leaked:
            raise ConfigError(
                f"in-context exemplars must come from the training split; {len(leaked)} are from "
                f"{sorted({e.split for e in leaked})} (e.g. id {leaked[0].id!r})"
            )
        if not exemplars:
            raise DataError("the exemplar pool is empty: no training sentences")
        self._exemplars = tuple(exemplars)

    @classmethod
    def from_records(
        cls,
        records: Iterable[Any],
        *,
        split: str = TRAIN_SPLIT,
        sources: Mapping[str, Sequence[str]] | None = None,
        language: str | None = None,
    ) -> ExemplarPool:
        """Pool of the ``train`` records (others are dropped), one exemplar per translation.

        Args:
            records: manifest records (objects or mappings with ``id``, ``split``, ``text``,
                optional ``language``).
            split: must be ``"train"``; asking for any other split raises :class:`ConfigError`.
            sources: optional ``{record id: [translation, ...]}`` (SpaMo's machine translations
                into other languages); a record without translations gives a target-only exemplar.
            language: keep only records of this language.
        """
        if split != TRAIN_SPLIT:
            raise ConfigError(
                f"in-context exemplars must come from the training split, not {split!r}: "
                "a dev/test sentence in the prompt leaks evaluation references"
            )
        exemplars = []
        for record in records:
            if _field(record, "split") != TRAIN_SPLIT:
                continue
            if language is not None and _field(record, "language") not in (None, language):
                continue
            record_id, text = str(_field(record, "id")), _field(record, "text")
            if not isinstance(text, str) or not text.strip():
                continue
            translations = list((sources or {}).get(record_id, ())) or [None]
            exemplars.extend(Exemplar(record_id, text, source) for source in translations)
        return cls(exemplars)

    def __len__(self) -> int:
        return len(self._exemplars)

    def __iter__(self) -> Iterator[Exemplar]:
        return iter(self._exemplars)

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(e.id for e in self._exemplars)

    def draw(
        self,
        k: int,
        rng: np.random.Generator,
        *,
        exclude_id: str | None = None,
        exclude_text: str | None = None,
    ) -> list[Exemplar]:
        """``k`` distinct exemplars, never the sample ``exclude_id`` nor one whose target equals
        ``exclude_text`` (SpaMo's shuffle: the prompt must not give away the training target).
        At evaluation time pass neither: the draw must not depend on the reference."""
        if k < 0:
            raise ConfigError(f"number of in-context exemplars must be >= 0, got {k}")
        candidates = [
            e
            for e in self._exemplars
            if e.id != exclude_id and (exclude_text is None or e.target != exclude_text)
        ]
        if k > len(candidates):
            raise ConfigError(f"asked for {k} in-context exemplars but only {len(candidates)} are available")
        picks = rng.choice(len(candidates), size=k, replace=False)
        return [candidates[int(i)] for i in picks]


def _check_exemplars(exemplars: Sequence[Exemplar]) -> None:
    for exemplar in exemplars:
        if not isinstance(exemplar, Exemplar):
            raise ConfigError(
                f"exemplars must be Exemplar objects from an ExemplarPool, got {type(exemplar).__name__}"
            )
        if exemplar.split != TRAIN_SPLIT:
            raise ConfigError(
                f"exemplar {exemplar.id!r} is from split {exemplar.split!r}; in-context exemplars "
                "must come from the training split"
            )


def build_slt_prompt(
    language: str, *, exemplars: Sequence[Exemplar] = (), template: str = SLT_INSTRUCTION
) -> str:
    """SLT instruction for the target ``language`` followed by the in-context exemplars.

    >>> build_slt_prompt("de")
    'Translate the given sentence into German.'
    """
    _check_exemplars(exemplars)
    prompt = template.format(language=language_name(language))
    if exemplars:
        prompt += " " + " ".join(e.render() for e in exemplars)
    return prompt


def build_paper004_slt_prompt(language: str = "en") -> str:
    """Paper 004's SLT task prompt for ``language``."""
    return PAPER004_SLT_INSTRUCTION.format(language=language_name(language))


def format_ssa_target(start: int, end: int, *, digits: int = 3) -> str:
    """Paper 004's SSA answer: zero-padded start and end frame, e.g. ``"042-137"``."""
    limit = 10**digits
    if not (0 <= start <= end < limit):
        raise DataError(f"SSA frames must satisfy 0 <= start <= end < {limit}, got start={start}, end={end}")
    return f"{start:0{digits}d}-{end:0{digits}d}"


_SSA_TARGET = re.compile(r"^\s*(\d[\d ]*?)\s*-\s*(\d[\d ]*?)\s*$")


def parse_ssa_target(text: str) -> tuple[int, int]:
    """Inverse of :func:`format_ssa_target` (spaces between digits tolerated); bad text -> DataError."""
    match = _SSA_TARGET.match(text)
    if not match:
        raise DataError(f"not an SSA answer of the form 'start-end': {text!r}")
    start, end = (int(group.replace(" ", "")) for group in match.groups())
    return start, end


def build_ssa_prompt(subtitle: str, *, prior: tuple[int, int] | None = None, digits: int = 3) -> str:
    """Paper 004's SSA task prompt for ``subtitle``, with the audio-aligned ``prior`` frames if given."""
    if not subtitle.strip():
        raise DataError("SSA prompt needs a non-empty subtitle")
    prompt = SSA_INSTRUCTION.format(subtitle=subtitle.strip())
    if prior is not None:
        prompt += SSA_PRIOR.format(timing=format_ssa_target(*prior, digits=digits))
    return prompt


def sample_ssa_prompt(
    subtitle: str,
    rng: np.random.Generator,
    *,
    prior: tuple[int, int] | None = None,
    prior_probability: float = 0.5,
    digits: int = 3,
) -> str:
    """Training-time SSA prompt: the prior timing is shown with ``prior_probability`` when known
    (paper 004 Sec. 4.2: 50 %, only where audio-aligned subtitles exist)."""
    if not 0.0 <= prior_probability <= 1.0:
        raise ConfigError(f"prior_probability must be in [0, 1], got {prior_probability}")
    show = prior is not None and rng.random() < prior_probability
    return build_ssa_prompt(subtitle, prior=prior if show else None, digits=digits)


class SLTPromptConfig(StrictModel):
    """SpaMo's per-sample prompt (``data.prompt`` of a recipe): the instruction in each record's
    language, then ``exemplars`` in-context pairs from the training split.

    Attributes:
        exemplars: in-context pairs per prompt (0: the instruction alone). Training prompts draw
            them per sample, epoch and seed, never the sample's own sentence (SpaMo's shuffle);
            dev/test prompts all carry one fixed draw (seeded by the recipe seed), so an evaluation
            prompt depends on neither the sample nor its reference ("at test time, we select a
            translation pair from the training set").
        translations: a JSON file under the dataset root, ``{train record id: [sentence in another
            language, ...]}`` (SpaMo's machine-translated ``[SRC]`` side); ``None``: target-only pairs.
    """

    exemplars: int = Field(0, ge=0)
    translations: str | None = None


class SLTPrompter:
    """Builds each sample's prompt (:class:`SLTPromptConfig`) from a pool of training sentences.

    Args:
        config: the prompt settings.
        pool: the training split's exemplars (:meth:`ExemplarPool.from_records`); needed when
            ``config.exemplars > 0``.
        seed: the recipe seed (training draws and the one evaluation draw follow it).
    """

    def __init__(self, config: SLTPromptConfig, pool: ExemplarPool | None, *, seed: int = 0) -> None:
        if config.exemplars and pool is None:
            raise ConfigError(f"data.prompt.exemplars is {config.exemplars} but there is no training pool to draw from")
        if pool is not None and config.exemplars > len(pool):
            raise ConfigError(
                f"data.prompt.exemplars is {config.exemplars} but the training split has only {len(pool)} exemplars"
            )
        self.config, self.pool, self.seed = config, pool, seed
        # one draw for every evaluation prompt: it depends on the pool and the seed only
        self._eval_exemplars = pool.draw(config.exemplars, np.random.default_rng((seed, 2))) if config.exemplars else []

    def prompt(self, record: Any, *, train: bool, epoch: int = 0, index: int = 0) -> str:
        """The prompt of ``record`` (its ``language``; in training also its ``id`` and ``text``)."""
        language = _field(record, "language")
        if not self.config.exemplars:
            return build_slt_prompt(language)
        if not train:
            return build_slt_prompt(language, exemplars=self._eval_exemplars)
        assert self.pool is not None
        rng = np.random.default_rng((self.seed, epoch, index, 2))
        picks = self.pool.draw(self.config.exemplars, rng, exclude_id=str(_field(record, "id")),
                               exclude_text=_field(record, "text"))  # fmt: skip
        return build_slt_prompt(language, exemplars=picks)
