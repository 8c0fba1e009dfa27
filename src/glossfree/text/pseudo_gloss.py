"""Pseudo-glosses: content-word lemmas of the target sentence, their vocabulary, and dataset files.

Follows Sign2GPT (Wong et al., ICLR 2024, ``ryanwongsa/Sign2GPT``), HFA (paper 001, Sec. 3
"Pseudo-Gloss Pretraining") and SAGE (paper 002, Sec. 3.1 "Pseudo-Gloss Extraction"): tag the
spoken sentence, keep the lemmas of words tagged NOUN, NUM, ADV, PRON, PROPN, ADJ or VERB,
lowercased, in sentence order. Sign2GPT additionally drops frequent lemmas from the targets:
its ``dataloaders/phoenix_video_dataset.py`` keeps a lemma only if (occurrences of the lemma) /
(number of distinct sentences) < 0.4 (``filter_mode="occurrences"``); the default here is the
plainer document frequency, the share of training sentences that contain the lemma
(``filter_mode="sentences"``).

The vocabulary is built from the *training* split only. Its ids are deterministic: id 0 is the
blank / non-sign entry (HFA's zero prototype), ids 1.. are the lemmas in sorted order. A
sentence may have no pseudo-gloss at all (e.g. "und in der"); its list is empty and the losses
downstream must accept an all-zero target.

Files written next to a dataset manifest by :func:`annotate_manifest`:

- ``pseudo_gloss_vocab.json`` - the :class:`PseudoGlossVocab` (tokens, document frequencies, filter);
- ``pseudo_glosses.json`` - ``{"samples": {id: [lemma, ...]}}`` for every record of every split
  (dev/test lemmas outside the training vocabulary are kept in the file and skipped by
  :meth:`PseudoGlossVocab.encode`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch

from glossfree.config import StrictModel
from glossfree.data.manifest import Record, read_manifest
from glossfree.errors import ConfigError, DataError
from glossfree.io import atomic_write_json, read_json
from glossfree.text.taggers import (
    SUPPORTED_LANGUAGES,
    HanTaTagger,
    TaggedToken,
    Tagger,
    get_tagger,
    normalize_language,
)

CONTENT_UPOS: frozenset[str] = frozenset({"NOUN", "NUM", "ADV", "PRON", "PROPN", "ADJ", "VERB"})
"""UPOS tags kept as pseudo-glosses (Sign2GPT, HFA, SAGE)."""

BLANK = "<blank>"
"""The blank / non-sign vocabulary entry; always id 0."""

VOCAB_FILE = "pseudo_gloss_vocab.json"
GLOSSES_FILE = "pseudo_glosses.json"
_VOCAB_FORMAT = "glossfree.pseudo_gloss_vocab/1"
_GLOSSES_FORMAT = "glossfree.pseudo_glosses/1"


class PseudoGlossConfig(StrictModel):
    """How pseudo-glosses are extracted (recipe section ``pseudo_glosses``).

    Attributes:
        language: target-text language code (``de`` or ``en`` for the built-in tagger).
        spacy_model: name/path of an installed spaCy pipeline to use instead of HanTa.
        keep_upos: UPOS tags whose lemmas become pseudo-glosses.
        max_doc_freq: drop lemmas whose frequency (see ``filter_mode``) is at least this
            (Sign2GPT: 0.4); ``None`` keeps all (HFA, SAGE).
        filter_mode: ``sentences`` (share of training sentences containing the lemma) or
            ``occurrences`` (Sign2GPT: occurrences / number of distinct training sentences).
        min_count: drop lemmas seen in fewer training sentences than this.
    """

    language: str = "de"
    spacy_model: str | None = None
    keep_upos: list[str] = sorted(CONTENT_UPOS)
    max_doc_freq: float | None = None
    filter_mode: Literal["sentences", "occurrences"] = "sentences"
    min_count: int = 1


# --------------------------------------------------------------------------------------------
# Extraction


def check_texts(texts: Iterable[Any], *, source: str = "input") -> list[str]:
    """Return ``texts`` as ``str``; bytes must be UTF-8. Errors name ``source`` and the index."""
    out = []
    for index, text in enumerate(texts):
        if isinstance(text, (bytes, bytearray)):
            try:
                text = bytes(text).decode("utf-8")
            except UnicodeDecodeError as error:
                raise DataError(
                    f"{source}: sentence {index} is not valid UTF-8 (byte {error.start})"
                ) from None
        if not isinstance(text, str):
            raise DataError(f"{source}: sentence {index} is {type(text).__name__}, expected text")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as error:
            raise DataError(
                f"{source}: sentence {index} contains undecodable bytes "
                f"(surrogate at character {error.start})"
            ) from None
        out.append(text)
    return out


def _normalize_lemma(lemma: str) -> str:
    return lemma.strip().lower()


def pseudo_glosses_from_tags(
    tagged: Sequence[TaggedToken], *, keep_upos: Iterable[str] = CONTENT_UPOS
) -> list[str]:
    """Lowercased lemmas of the tokens whose UPOS is in ``keep_upos``, in sentence order."""
    keep = frozenset(keep_upos)
    out = []
    for token in tagged:
        lemma = _normalize_lemma(token.lemma or token.token)
        # A lemma with no letter or digit (a stray symbol tagged as a noun) is never a gloss.
        if token.upos in keep and any(ch.isalnum() for ch in lemma):
            out.append(lemma)
    return out


def extract_pseudo_glosses(
    texts: Sequence[str],
    *,
    language: str = "de",
    tagger: Tagger | None = None,
    keep_upos: Iterable[str] = CONTENT_UPOS,
    source: str = "input",
) -> list[list[str]]:
    """Pseudo-gloss list per sentence (possibly empty). ``tagger`` defaults to HanTa for ``language``."""
    texts = check_texts(texts, source=source)
    tagger = tagger if tagger is not None else HanTaTagger(language)
    keep = frozenset(keep_upos)
    return [pseudo_glosses_from_tags(sentence, keep_upos=keep) for sentence in tagger.tag(texts)]


def lemmatize(
    texts: Sequence[str], *, language: str = "de", tagger: Tagger | None = None, source: str = "input"
) -> list[list[str]]:
    """All lowercased lemmas of each sentence, punctuation dropped (corpus for fastText prototypes)."""
    texts = check_texts(texts, source=source)
    tagger = tagger if tagger is not None else HanTaTagger(language)
    return [
        [_normalize_lemma(t.lemma or t.token) for t in sentence if t.upos != "PUNCT"]
        for sentence in tagger.tag(texts)
    ]


# --------------------------------------------------------------------------------------------
# Vocabulary


@dataclass(frozen=True)
class PseudoGlossVocab:
    """Pseudo-gloss vocabulary: ``tokens[0]`` is :data:`BLANK`, then the lemmas sorted.

    Attributes:
        tokens: id -> token.
        language: language code of the lemmas.
        doc_freq: number of training sentences containing each kept lemma.
        num_sentences: number of training sentences the vocabulary was built from.
        max_doc_freq: the frequency filter used (``None``: none).
        filter_mode: how the frequency was measured (see :func:`build_vocab`).
        min_count: the minimum document frequency used.
        dropped: lemmas removed by the filters, sorted.
        tagger: name of the tagger that produced the lemmas.
    """

    tokens: tuple[str, ...]
    language: str
    doc_freq: Mapping[str, int]
    num_sentences: int
    max_doc_freq: float | None = None
    filter_mode: str = "sentences"
    min_count: int = 1
    dropped: tuple[str, ...] = ()
    tagger: str = ""
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    blank_id: ClassVar[int] = 0

    def __post_init__(self) -> None:
        if not self.tokens or self.tokens[0] != BLANK:
            raise ValueError(f"tokens[0] must be {BLANK!r}")
        index = {token: i for i, token in enumerate(self.tokens)}
        if len(index) != len(self.tokens):
            raise ValueError("duplicate tokens in pseudo-gloss vocabulary")
        object.__setattr__(self, "_index", index)

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: object) -> bool:
        return token in self._index and token != BLANK

    @property
    def num_glosses(self) -> int:
        """Number of lemma entries (without the blank)."""
        return len(self.tokens) - 1

    def id(self, token: str) -> int:
        """Id of ``token``; ``KeyError`` if it is not in the vocabulary."""
        return self._index[token]

    def encode(self, lemmas: Iterable[str], *, unique: bool = False) -> list[int]:
        """Ids of the lemmas in the vocabulary, in order (unknown/filtered lemmas skipped)."""
        ids = [self._index[lemma] for lemma in lemmas if lemma in self._index and lemma != BLANK]
        if unique:
            ids = list(dict.fromkeys(ids))
        return ids

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.tokens[int(i)] for i in ids]

    def multi_hot(self, batch: Sequence[Sequence[str]]) -> torch.Tensor:
        """``[B, V]`` float targets: 1 where a lemma occurs in the sentence (blank column 0)."""
        target = torch.zeros(len(batch), len(self.tokens))  # [B, V]
        for row, lemmas in enumerate(batch):
            ids = self.encode(lemmas, unique=True)
            if ids:
                target[row, ids] = 1.0
        return target

    # ---- persistence

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": _VOCAB_FORMAT,
            "language": self.language,
            "tagger": self.tagger,
            "blank": BLANK,
            "blank_id": self.blank_id,
            "num_sentences": self.num_sentences,
            "max_doc_freq": self.max_doc_freq,
            "filter_mode": self.filter_mode,
            "min_count": self.min_count,
            "tokens": list(self.tokens),
            "doc_freq": {token: int(self.doc_freq[token]) for token in self.tokens[1:]},
            "dropped": list(self.dropped),
        }

    def save(self, path: str | Path) -> Path:
        """Write the vocabulary as JSON, atomically."""
        path = Path(path)
        atomic_write_json(path, self.to_dict(), indent=1)
        return path

    @classmethod
    def load(cls, path: str | Path) -> PseudoGlossVocab:
        """Read a vocabulary written by :meth:`save`; malformed files raise :class:`DataError`."""
        path = Path(path)
        data = read_json(path, what="pseudo-gloss vocabulary")
        if not isinstance(data, dict) or data.get("format") != _VOCAB_FORMAT:
            raise DataError(f"{path}: not a pseudo-gloss vocabulary (expected format {_VOCAB_FORMAT!r})")
        for key in ("tokens", "language", "doc_freq", "num_sentences"):
            if key not in data:
                raise DataError(f"{path}: missing key {key!r}")
        tokens = data["tokens"]
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise DataError(f"{path}: 'tokens' must be a list of strings")
        if not tokens or tokens[0] != BLANK:
            raise DataError(f"{path}: tokens[0] must be {BLANK!r}, got {tokens[:1]}")
        if tokens[1:] != sorted(tokens[1:]) or len(set(tokens)) != len(tokens):
            raise DataError(f"{path}: 'tokens' after the blank must be sorted and unique")
        doc_freq = data["doc_freq"]
        missing = [t for t in tokens[1:] if t not in doc_freq]
        if missing:
            raise DataError(f"{path}: 'doc_freq' lacks {len(missing)} tokens, e.g. {missing[:3]}")
        return cls(
            tokens=tuple(tokens),
            language=str(data["language"]),
            doc_freq={t: int(doc_freq[t]) for t in tokens[1:]},
            num_sentences=int(data["num_sentences"]),
            max_doc_freq=data.get("max_doc_freq"),
            filter_mode=str(data.get("filter_mode", "sentences")),
            min_count=int(data.get("min_count", 1)),
            dropped=tuple(data.get("dropped", ())),
            tagger=str(data.get("tagger", "")),
        )


def build_vocab(
    pseudo_glosses: Sequence[Sequence[str]],
    *,
    language: str,
    max_doc_freq: float | None = None,
    filter_mode: Literal["sentences", "occurrences"] = "sentences",
    num_distinct_sentences: int | None = None,
    min_count: int = 1,
    tagger: str = "",
) -> PseudoGlossVocab:
    """Vocabulary from the pseudo-gloss lists of the *training* sentences.

    Args:
        pseudo_glosses: one list per training sentence (empty lists count as sentences).
        language: language code stored with the vocabulary.
        max_doc_freq: drop lemmas whose frequency is ``>= max_doc_freq`` (Sign2GPT: 0.4).
        filter_mode: ``"sentences"``: frequency = share of sentences containing the lemma;
            ``"occurrences"``: Sign2GPT's measure, occurrences of the lemma (repeats and duplicate
            sentences included) / ``num_distinct_sentences``.
        num_distinct_sentences: number of distinct training sentence texts (default: the number
            of lists), used by ``"occurrences"``.
        min_count: drop lemmas present in fewer than ``min_count`` sentences.
        tagger: tagger name stored with the vocabulary.
    """
    if max_doc_freq is not None and not 0.0 < max_doc_freq <= 1.0:
        raise ConfigError(f"max_doc_freq must be in (0, 1], got {max_doc_freq}")
    if filter_mode not in ("sentences", "occurrences"):
        raise ConfigError(f"filter_mode must be 'sentences' or 'occurrences', got {filter_mode!r}")
    if min_count < 1:
        raise ConfigError(f"min_count must be >= 1, got {min_count}")
    if not pseudo_glosses:
        raise DataError("cannot build a pseudo-gloss vocabulary from zero training sentences")
    num = len(pseudo_glosses)
    doc_freq = Counter(lemma for lemmas in pseudo_glosses for lemma in set(lemmas))
    doc_freq.pop(BLANK, None)
    if filter_mode == "sentences":
        share = {lemma: count / num for lemma, count in doc_freq.items()}
    else:
        occurrences = Counter(lemma for lemmas in pseudo_glosses for lemma in lemmas)
        denominator = num_distinct_sentences or num
        share = {lemma: occurrences[lemma] / denominator for lemma in doc_freq}
    kept, dropped = [], []
    for lemma, count in doc_freq.items():
        too_frequent = max_doc_freq is not None and share[lemma] >= max_doc_freq
        (dropped if too_frequent or count < min_count else kept).append(lemma)
    tokens = (BLANK, *sorted(kept))
    return PseudoGlossVocab(
        tokens=tokens,
        language=language,
        doc_freq={t: doc_freq[t] for t in tokens[1:]},
        num_sentences=num,
        max_doc_freq=max_doc_freq,
        filter_mode=filter_mode,
        min_count=min_count,
        dropped=tuple(sorted(dropped)),
        tagger=tagger,
    )


# --------------------------------------------------------------------------------------------
# Dataset files


def _manifest_files(manifest_or_root: Path) -> list[Path]:
    if manifest_or_root.is_file():
        return [manifest_or_root]
    if not manifest_or_root.is_dir():
        raise DataError(f"{manifest_or_root}: no such manifest file or dataset folder")
    single = manifest_or_root / "manifest.jsonl"
    if single.is_file():
        return [single]
    files = sorted(manifest_or_root.glob("*.jsonl"))
    if not files:
        raise DataError(f"{manifest_or_root}: no manifest.jsonl or <split>.jsonl files in this folder")
    return files


def read_text_records(manifest_or_root: str | Path) -> list[Record]:
    """Every record of a manifest file, or of a dataset root (``manifest.jsonl``, else every
    ``<split>.jsonl``), read and validated by :func:`glossfree.data.manifest.read_manifest`."""
    records: list[Record] = []
    seen: dict[str, Path] = {}
    for path in _manifest_files(Path(manifest_or_root)):
        for record in read_manifest(path):
            if record.id in seen:
                raise DataError(f"{path}: duplicate id {record.id!r} (also in {seen[record.id]})")
            seen[record.id] = path
            records.append(record)
    return records


@dataclass(frozen=True)
class PseudoGlossAnnotation:
    """What :func:`annotate_manifest` wrote."""

    vocab_path: Path
    glosses_path: Path
    vocab: PseudoGlossVocab
    num_samples: int
    num_empty: int
    split_counts: dict[str, int]


def annotate_manifest(
    manifest_or_root: str | Path,
    *,
    language: str | None = None,
    tagger: Tagger | None = None,
    keep_upos: Iterable[str] = CONTENT_UPOS,
    max_doc_freq: float | None = None,
    filter_mode: Literal["sentences", "occurrences"] = "sentences",
    min_count: int = 1,
    train_split: str = "train",
    out_dir: str | Path | None = None,
) -> PseudoGlossAnnotation:
    """Tag every record, build the vocabulary on ``train_split``, write both files next to the data.

    Args:
        manifest_or_root: a manifest ``.jsonl`` or a dataset root (see :func:`read_text_records`).
        language: records of other languages are an error unless this is given, in which case
            only records of this language are annotated. Default: the records' single language.
        tagger: default HanTa for ``language``.
        max_doc_freq, filter_mode, min_count: the vocabulary filters of :func:`build_vocab`.
        out_dir: where to write the files (default: the manifest's folder).
    """
    manifest_or_root = Path(manifest_or_root)
    keep_upos = frozenset(keep_upos)
    records = read_text_records(manifest_or_root)
    if not records:
        raise DataError(f"{manifest_or_root}: the manifest has no records")
    # The built-in tagger supports SUPPORTED_LANGUAGES; a user's spaCy pipeline any language.
    records, language = _select_language(records, language, manifest_or_root, strict=tagger is None)
    train = [r for r in records if r.split == train_split]
    if not train:
        splits = sorted({r.split for r in records})
        raise DataError(
            f"{manifest_or_root}: no records with split {train_split!r} (found {', '.join(splits)}); "
            "the pseudo-gloss vocabulary is built from training sentences only"
        )
    tagger = tagger if tagger is not None else get_tagger(language)
    texts = check_texts([r.text for r in records], source=str(manifest_or_root))
    glosses = extract_pseudo_glosses(texts, tagger=tagger, keep_upos=keep_upos)
    by_id = {r.id: g for r, g in zip(records, glosses)}
    vocab = build_vocab(
        [by_id[r.id] for r in train],
        language=language,
        max_doc_freq=max_doc_freq,
        filter_mode=filter_mode,
        num_distinct_sentences=len({r.text for r in train}),
        min_count=min_count,
        tagger=tagger.name,
    )
    folder = Path(out_dir) if out_dir is not None else (
        manifest_or_root.parent if manifest_or_root.is_file() else manifest_or_root
    )
    vocab_path = vocab.save(folder / VOCAB_FILE)
    glosses_path = folder / GLOSSES_FILE
    atomic_write_json(
        glosses_path,
        {
            "format": _GLOSSES_FORMAT,
            "language": language,
            "tagger": tagger.name,
            "keep_upos": sorted(keep_upos),
            "vocab": VOCAB_FILE,
            "samples": by_id,
        },
        indent=1,
    )
    split_counts = dict(Counter(r.split for r in records))
    return PseudoGlossAnnotation(
        vocab_path=vocab_path,
        glosses_path=glosses_path,
        vocab=vocab,
        num_samples=len(records),
        num_empty=sum(1 for g in glosses if not g),
        split_counts=split_counts,
    )


def _select_language(
    records: list[Record], language: str | None, source: Path, *, strict: bool
) -> tuple[list[Record], str]:
    check = normalize_language if strict else _language_code
    if language is not None:
        code = check(language)
        chosen = [r for r in records if _language_code(r.language) == code]
        if not chosen:
            found = sorted({r.language for r in records})
            raise DataError(f"{source}: no records with language {code!r} (found {', '.join(found)})")
        return chosen, code
    found = sorted({_language_code(r.language) for r in records})
    if len(found) > 1:
        raise DataError(
            f"{source}: records in several languages ({', '.join(found)}); pick one with --language "
            "(language= from Python)"
        )
    return records, check(found[0])


def _language_code(language: str) -> str:
    return language.strip().lower().replace("_", "-").split("-", 1)[0]


def load_pseudo_glosses(path: str | Path) -> dict[str, list[str]]:
    """``{sample id: [lemma, ...]}`` from a ``pseudo_glosses.json`` written by :func:`annotate_manifest`."""
    path = Path(path)
    if path.is_dir():
        path = path / GLOSSES_FILE
    data = read_json(path, what="pseudo-gloss file")
    if not isinstance(data, dict) or data.get("format") != _GLOSSES_FORMAT:
        raise DataError(f"{path}: not a pseudo-gloss file (expected format {_GLOSSES_FORMAT!r})")
    samples = data.get("samples")
    if not isinstance(samples, dict):
        raise DataError(f"{path}: missing 'samples' mapping")
    for sample_id, lemmas in samples.items():
        if not isinstance(lemmas, list) or not all(isinstance(x, str) for x in lemmas):
            raise DataError(f"{path}: samples[{sample_id!r}] must be a list of strings")
    return samples


__all__ = [
    "BLANK",
    "CONTENT_UPOS",
    "GLOSSES_FILE",
    "SUPPORTED_LANGUAGES",
    "VOCAB_FILE",
    "PseudoGlossAnnotation",
    "PseudoGlossConfig",
    "PseudoGlossVocab",
    "annotate_manifest",
    "build_vocab",
    "check_texts",
    "extract_pseudo_glosses",
    "lemmatize",
    "load_pseudo_glosses",
    "pseudo_glosses_from_tags",
    "read_text_records",
]
