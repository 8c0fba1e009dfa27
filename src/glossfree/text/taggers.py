"""POS taggers: sentences in, ``(token, lemma, UPOS)`` triples out, for pseudo-gloss extraction.

Pseudo-glosses (Sign2GPT, HFA paper 001 Sec. 3, SAGE paper 002 Sec. 3.1) are the lemmas of the
content words of the target sentence, chosen by their Universal POS tag. The peers used spaCy
pipelines; glossfree's default is HanTa (Wartena 2019), which ships its German and English models
inside the wheel and runs offline. HanTa tags German with STTS (TIGER variant, e.g. ``VV(FIN)``)
and English with CLAWS5 (the BNC tag set); both are mapped to UPOS here with explicit tables.

The STTS table follows the UD conversion of STTS used by spaCy's German tag map (modal verbs are
``AUX``, ``PROAV``/``PWAV`` are ``ADV``, separable verb particles ``PTKVZ`` are ``ADP``). The
CLAWS5 table follows the UD English guidelines as far as a tag alone allows: every form of *be*,
*have*, *do* and the modals is ``AUX`` (HanTa does not tell auxiliary from main-verb *have*/*do*;
spaCy does). Any tag missing from a table maps to ``X`` and is therefore never a pseudo-gloss.

A spaCy pipeline can be used instead (:class:`SpacyTagger`) when the user has one installed; it is
imported lazily, so spaCy is not a dependency.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple, Protocol, runtime_checkable

from glossfree.errors import ConfigError

SUPPORTED_LANGUAGES: tuple[str, ...] = ("de", "en")
"""Language codes with a built-in (HanTa) tagger."""

_HANTA_MODELS = {"de": "morphmodel_ger.pgz", "en": "morphmodel_en.pgz"}

# STTS (HanTa's TIGER variant writes ADJA as ADJ(A), VVFIN as VV(FIN), ...) -> UPOS.
STTS_TO_UPOS: dict[str, str] = {
    "ADJ(A)": "ADJ", "ADJ(D)": "ADJ", "ADJA": "ADJ", "ADJD": "ADJ",
    "ADV": "ADV", "PROAV": "ADV", "PAV": "ADV", "PWAV": "ADV",
    "APPO": "ADP", "APPR": "ADP", "APPRART": "ADP", "APZR": "ADP", "PTKVZ": "ADP",
    "ART": "DET", "PDAT": "DET", "PIAT": "DET", "PIDAT": "DET", "PPOSAT": "DET", "PRELAT": "DET",
    "PWAT": "DET",
    "CARD": "NUM",
    "FM": "X", "XY": "X", "TRUNC": "X", "UNKNOWN": "X",
    "ITJ": "INTJ",
    "KOKOM": "CCONJ", "KON": "CCONJ", "KOUI": "SCONJ", "KOUS": "SCONJ",
    "NE": "PROPN", "NNE": "PROPN",
    "NN": "NOUN", "NNA": "NOUN", "NNI": "NOUN",
    "PDS": "PRON", "PIS": "PRON", "PPER": "PRON", "PPOSS": "PRON", "PRELS": "PRON", "PRF": "PRON",
    "PWS": "PRON",
    "PTKA": "PART", "PTKANT": "PART", "PTKNEG": "PART", "PTKZU": "PART",
    "VA(FIN)": "AUX", "VA(IMP)": "AUX", "VA(INF)": "AUX", "VA(PP)": "AUX",
    "VM(FIN)": "AUX", "VM(INF)": "AUX", "VM(PP)": "AUX",
    "VV(FIN)": "VERB", "VV(IMP)": "VERB", "VV(INF)": "VERB", "VV(IZU)": "VERB", "VV(PP)": "VERB",
    "$(": "PUNCT", "$,": "PUNCT", "$.": "PUNCT",
}

# CLAWS5 (BNC basic tag set, as written by HanTa's English model) -> UPOS.
CLAWS5_TO_UPOS: dict[str, str] = {
    "AJ0": "ADJ", "AJC": "ADJ", "AJS": "ADJ", "ORD": "ADJ",
    "AT0": "DET", "DT0": "DET", "DTQ": "DET",
    "AV0": "ADV", "AVQ": "ADV", "AVP": "ADP",
    "CJC": "CCONJ", "CJS": "SCONJ", "CJT": "SCONJ",
    "CRD": "NUM",
    "DPS": "PRON", "EX0": "PRON", "PNI": "PRON", "PNP": "PRON", "PNQ": "PRON", "PNX": "PRON",
    "ITJ": "INTJ",
    "NN0": "NOUN", "NN1": "NOUN", "NN2": "NOUN", "NN": "NOUN",
    "NP0": "PROPN",
    "POS": "PART", "TO0": "PART", "XX0": "PART",
    "PRF": "ADP", "PRP": "ADP",
    "PUL": "PUNCT", "PUN": "PUNCT", "PUQ": "PUNCT", "PUR": "PUNCT",
    "VBB": "AUX", "VBD": "AUX", "VBG": "AUX", "VBI": "AUX", "VBN": "AUX", "VBZ": "AUX",
    "VDB": "AUX", "VDD": "AUX", "VDG": "AUX", "VDI": "AUX", "VDN": "AUX", "VDZ": "AUX",
    "VHB": "AUX", "VHD": "AUX", "VHG": "AUX", "VHI": "AUX", "VHN": "AUX", "VHZ": "AUX",
    "VM0": "AUX",
    "VVB": "VERB", "VVD": "VERB", "VVG": "VERB", "VVI": "VERB", "VVN": "VERB", "VVZ": "VERB",
    "UNC": "X", "ZZ0": "X", "IN": "X", "!!!": "X", "UNKNOWN": "X",
}

_TAG_TABLES = {"de": STTS_TO_UPOS, "en": CLAWS5_TO_UPOS}

# Words (with inner hyphens/apostrophes) or single punctuation marks.
_WORD_RE = re.compile(r"\w+(?:[-'’]\w+)*|[^\w\s]")
# English: split the clitics HanTa's BNC-trained model expects as separate tokens (do|n't, it|'s).
_EN_WORD_RE = re.compile(r"\w+(?=n['’]t\b)|n['’]t\b|['’](?:s|re|ve|ll|d|m)\b|\w+(?:-\w+)*|[^\w\s]",
                         re.IGNORECASE)


class TaggedToken(NamedTuple):
    """One token of a tagged sentence: surface form, lemma (as the tagger wrote it), UPOS tag."""

    token: str
    lemma: str
    upos: str


@runtime_checkable
class Tagger(Protocol):
    """Anything that tags a batch of sentences. ``name`` is recorded in saved vocabularies."""

    name: str
    language: str

    def tag(self, sentences: Sequence[str]) -> list[list[TaggedToken]]:
        """Tag each sentence; an empty sentence gives an empty list."""
        ...


def normalize_language(language: str) -> str:
    """``"de"``, ``"de_DE"``, ``"DE-de"`` -> ``"de"``; anything unsupported raises :class:`ConfigError`."""
    code = re.split(r"[-_]", str(language).strip().lower(), maxsplit=1)[0]
    if code not in SUPPORTED_LANGUAGES:
        raise ConfigError(
            f"unsupported language {language!r} for pseudo-glosses; supported: "
            f"{', '.join(SUPPORTED_LANGUAGES)} (or pass a spaCy pipeline with --spacy-model)"
        )
    return code


def tokenize(sentence: str, language: str) -> list[str]:
    """Split a sentence into words and punctuation marks the way HanTa's models expect."""
    pattern = _EN_WORD_RE if normalize_language(language) == "en" else _WORD_RE
    return pattern.findall(sentence)


@functools.lru_cache(maxsize=None)
def _load_hanta(model_file: str) -> Any:
    # Loading a model takes ~0.1 s and ~50 MB; one instance per model file per process.
    from HanTa import HanoverTagger

    return HanoverTagger.HanoverTagger(model_file)


def map_tag(tag: str, language: str) -> str:
    """Map a HanTa tag to UPOS (unknown tags -> ``X``)."""
    return _TAG_TABLES[normalize_language(language)].get(tag, "X")


class HanTaTagger:
    """HanTa POS tagger and lemmatiser (German or English), tags mapped to UPOS.

    Args:
        language: ``"de"`` or ``"en"``.
        case_sensitive: passed to HanTa. ``None`` (default) decides per sentence: a sentence with
            no uppercase letter (PHOENIX14T's text is all lowercase) is tagged case-insensitively,
            any other case-sensitively, so that German capitalised nouns still help. On PHOENIX14T
            this matches the glosses slightly better than ``True`` (``docs/pseudo_glosses.md``).
    """

    def __init__(self, language: str = "de", *, case_sensitive: bool | None = None) -> None:
        self.language = normalize_language(language)
        self.case_sensitive = case_sensitive
        self.name = f"hanta-{self.language}" + (
            "" if case_sensitive is None else f"-case_sensitive={case_sensitive}"
        )
        self._table = _TAG_TABLES[self.language]
        self._model = _load_hanta(_HANTA_MODELS[self.language])

    def tag_one(self, sentence: str) -> list[TaggedToken]:
        words = tokenize(sentence, self.language)
        if not words:
            return []
        case_sensitive = self.case_sensitive
        if case_sensitive is None:
            case_sensitive = not sentence.islower()
        tagged = self._model.tag_sent(words, taglevel=1, casesensitive=case_sensitive)
        return [TaggedToken(word, lemma, self._table.get(tag, "X")) for word, lemma, tag in tagged]

    def tag(self, sentences: Sequence[str]) -> list[list[TaggedToken]]:
        # Datasets repeat sentences (PHOENIX14T train: 6,853 unique of 7,096): tag each once.
        cache: dict[str, list[TaggedToken]] = {}
        out = []
        for sentence in sentences:
            if sentence not in cache:
                cache[sentence] = self.tag_one(sentence)
            out.append(list(cache[sentence]))
        return out


class SpacyTagger:
    """A spaCy pipeline as tagger (what Sign2GPT, HFA and SAGE used), e.g. ``de_core_news_lg``.

    Args:
        pipeline: a loaded ``spacy.Language`` (anything callable with ``.pipe`` and tokens that
            have ``text``, ``lemma_``, ``pos_``) or the name/path of an installed pipeline.
        batch_size: sentences per ``nlp.pipe`` batch.
    """

    def __init__(self, pipeline: Any, *, batch_size: int = 256) -> None:
        if isinstance(pipeline, str):
            pipeline = _load_spacy(pipeline)
        self._nlp = pipeline
        self.language = str(getattr(pipeline, "lang", "") or "")
        meta = getattr(pipeline, "meta", {}) or {}
        self.name = f"spacy-{meta.get('lang', self.language)}_{meta.get('name', 'pipeline')}"
        self.batch_size = batch_size

    def tag(self, sentences: Sequence[str]) -> list[list[TaggedToken]]:
        docs = self._nlp.pipe(list(sentences), batch_size=self.batch_size)
        return [
            [TaggedToken(t.text, t.lemma_, t.pos_) for t in doc if not t.text.isspace()]
            for doc in docs
        ]


def _load_spacy(name: str) -> Any:
    try:
        import spacy
    except ImportError:
        raise ConfigError(
            f"spaCy pipeline {name!r} requested but spaCy is not installed; "
            "`pip install spacy` and the pipeline (e.g. `python -m spacy download de_core_news_lg`), "
            "or use the built-in HanTa tagger"
        ) from None
    try:
        return spacy.load(name)
    except OSError as error:
        raise ConfigError(f"cannot load spaCy pipeline {name!r}: {error}") from None


def get_tagger(language: str, *, spacy_model: str | None = None) -> Tagger:
    """The tagger for ``language``: a spaCy pipeline when ``spacy_model`` is given, else HanTa."""
    if spacy_model:
        return SpacyTagger(spacy_model)
    return HanTaTagger(language)


def upos_histogram(tagged: Iterable[Sequence[TaggedToken]]) -> dict[str, int]:
    """Count UPOS tags over tagged sentences (for reports)."""
    counts: dict[str, int] = {}
    for sentence in tagged:
        for token in sentence:
            counts[token.upos] = counts.get(token.upos, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
