"""The synthetic sign language's grammar: sign order, and its German and English translations.

A sentence is a :class:`Clause` (what is said). Two functions read it out:

- :func:`clause_glosses` gives the sign order, a topic-comment / SOV order with the time sign
  first, adjectives after their noun, negation after the verb and a question sign at the end,
  as in German Sign Language (DGS);
- :func:`realize` gives the spoken sentence, SVO with German verb-second order or English
  do-support, articles, plural, adjective and agreement inflections, tense and auxiliaries that
  are not signed: ``GESTERN MANN DREI BUCH NEU KAUFEN NICHT`` is "Gestern hat der Mann nicht drei
  neue Bücher gekauft." / "The man did not buy three new books yesterday."

The spoken sentence is a function of the gloss sequence alone: :func:`parse_glosses` recovers the
clause from the glosses (every gloss belongs to exactly one word class, and each template has one
sign order), and :func:`translate_glosses` = parse + realise is the oracle translation a model
has to learn. Tense is marked only by the time sign (no time sign or ``HEUTE``: present,
``GESTERN``: past, ``MORGEN``: future), as in DGS.

Templates (sign order; brackets are optional):

- transitive: ``[TIME] SUBJECT [NUMBER] OBJECT [ADJECTIVE] VERB [NICHT | FRAGE]``
- motion: ``[TIME] SUBJECT PLACE GEHEN|FAHREN [NICHT | FRAGE]``
- intransitive: ``[TIME] SUBJECT VERB [NICHT | FRAGE]`` (at least three signs)
- weather: ``TIME REGION WEATHER [NICHT]``

Questions never take ``ICH`` as subject, and a sentence is either negated or a question, so that
every spoken sentence is natural. :class:`Vocabulary` holds the word classes; :func:`vocabulary`
keeps a smaller subset of the open classes (``lexicon_size``) for easier corpora.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from glossfree.errors import ConfigError

Language = Literal["de", "en"]
TextStyle = Literal["sentence", "lower"]
LANGUAGES: tuple[str, ...] = ("de", "en")
PERSONS = ("1sg", "2sg", "3sg", "1pl")


@dataclass(frozen=True)
class Subject:
    """A subject: pronoun or person noun, German nominative and English form, with its person."""

    gloss: str
    de: str
    en: str
    person: str


@dataclass(frozen=True)
class Noun:
    """An object noun. ``de``/``en``: accusative singular with article; ``*_plural``: bare plural."""

    gloss: str
    de: str
    en: str
    de_plural: str | None
    en_plural: str | None
    kind: str  # food, drink, book, paper, thing, animal


@dataclass(frozen=True)
class Verb:
    """A verb. ``de_present``: forms for 1sg, 2sg, 3sg, 1pl; ``de_aux``: perfect auxiliary."""

    gloss: str
    kind: str  # transitive, motion, intransitive
    de_present: tuple[str, str, str, str]
    de_participle: str
    de_aux: str  # haben or sein
    en_base: str
    en_3sg: str
    en_past: str
    objects: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Word:
    """A word of a closed class (time, place, region, number): German and English phrase."""

    gloss: str
    de: str
    en: str
    tense: str = ""  # time signs only: present, past, future


@dataclass(frozen=True)
class Weather:
    """A weather predicate ``kind``: ``verb`` (es regnet), ``sun`` (die Sonne scheint), ``copula``."""

    gloss: str
    kind: str
    de_present: str  # finite verb, or the adjective for copula
    de_participle: str  # participle, or the adjective for copula
    en_base: str  # rain / shine / cold
    en_progressive: str  # raining / shining / cold
    en_past: str  # rained / shone / cold


_ALL_OBJECTS = frozenset({"food", "drink", "book", "paper", "thing", "animal"})

SUBJECTS: tuple[Subject, ...] = (
    Subject("ICH", "ich", "I", "1sg"),
    Subject("DU", "du", "you", "2sg"),
    Subject("ER", "er", "he", "3sg"),
    Subject("SIE", "sie", "she", "3sg"),
    Subject("WIR", "wir", "we", "1pl"),
    Subject("MANN", "der Mann", "the man", "3sg"),
    Subject("FRAU", "die Frau", "the woman", "3sg"),
    Subject("KIND", "das Kind", "the child", "3sg"),
    Subject("LEHRER", "der Lehrer", "the teacher", "3sg"),
)
NOUNS: tuple[Noun, ...] = (
    # The first three cover every verb's objects, so a smaller lexicon keeps every verb usable.
    Noun("BUCH", "das Buch", "the book", "Bücher", "books", "book"),
    Noun("APFEL", "den Apfel", "the apple", "Äpfel", "apples", "food"),
    Noun("WASSER", "das Wasser", "the water", None, None, "drink"),
    Noun("AUTO", "das Auto", "the car", "Autos", "cars", "thing"),
    Noun("HUND", "den Hund", "the dog", "Hunde", "dogs", "animal"),
    Noun("ZEITUNG", "die Zeitung", "the newspaper", "Zeitungen", "newspapers", "paper"),
    Noun("KUCHEN", "den Kuchen", "the cake", "Kuchen", "cakes", "food"),
    Noun("BRIEF", "den Brief", "the letter", "Briefe", "letters", "book"),
    Noun("KAFFEE", "den Kaffee", "the coffee", None, None, "drink"),
    Noun("KATZE", "die Katze", "the cat", "Katzen", "cats", "animal"),
    Noun("BANANE", "die Banane", "the banana", "Bananen", "bananas", "food"),
)
TRANSITIVE_VERBS: tuple[Verb, ...] = (
    Verb("KAUFEN", "transitive", ("kaufe", "kaufst", "kauft", "kaufen"), "gekauft", "haben",
         "buy", "buys", "bought", _ALL_OBJECTS),
    Verb("SEHEN", "transitive", ("sehe", "siehst", "sieht", "sehen"), "gesehen", "haben",
         "see", "sees", "saw", _ALL_OBJECTS),
    Verb("ESSEN", "transitive", ("esse", "isst", "isst", "essen"), "gegessen", "haben",
         "eat", "eats", "ate", frozenset({"food"})),
    Verb("TRINKEN", "transitive", ("trinke", "trinkst", "trinkt", "trinken"), "getrunken", "haben",
         "drink", "drinks", "drank", frozenset({"drink"})),
    Verb("LESEN", "transitive", ("lese", "liest", "liest", "lesen"), "gelesen", "haben",
         "read", "reads", "read", frozenset({"book", "paper"})),
    Verb("MOEGEN", "transitive", ("mag", "magst", "mag", "mögen"), "gemocht", "haben",
         "like", "likes", "liked", _ALL_OBJECTS),
    Verb("SUCHEN", "transitive", ("suche", "suchst", "sucht", "suchen"), "gesucht", "haben",
         "look for", "looks for", "looked for", _ALL_OBJECTS),
    Verb("BRAUCHEN", "transitive", ("brauche", "brauchst", "braucht", "brauchen"), "gebraucht",
         "haben", "need", "needs", "needed", _ALL_OBJECTS - {"animal"}),
    Verb("SCHREIBEN", "transitive", ("schreibe", "schreibst", "schreibt", "schreiben"),
         "geschrieben", "haben", "write", "writes", "wrote", frozenset({"book"})),
)  # fmt: skip
MOTION_VERBS: tuple[Verb, ...] = (
    Verb("GEHEN", "motion", ("gehe", "gehst", "geht", "gehen"), "gegangen", "sein",
         "go", "goes", "went"),
    Verb("FAHREN", "motion", ("fahre", "fährst", "fährt", "fahren"), "gefahren", "sein",
         "drive", "drives", "drove"),
)  # fmt: skip
INTRANSITIVE_VERBS: tuple[Verb, ...] = (
    Verb("SCHLAFEN", "intransitive", ("schlafe", "schläfst", "schläft", "schlafen"), "geschlafen",
         "haben", "sleep", "sleeps", "slept"),
    Verb("ARBEITEN", "intransitive", ("arbeite", "arbeitest", "arbeitet", "arbeiten"),
         "gearbeitet", "haben", "work", "works", "worked"),
    Verb("SPIELEN", "intransitive", ("spiele", "spielst", "spielt", "spielen"), "gespielt",
         "haben", "play", "plays", "played"),
    Verb("LACHEN", "intransitive", ("lache", "lachst", "lacht", "lachen"), "gelacht", "haben",
         "laugh", "laughs", "laughed"),
)  # fmt: skip
PLACES: tuple[Word, ...] = (
    Word("SCHULE", "in die Schule", "to school"),
    Word("STADT", "in die Stadt", "to the city"),
    Word("PARK", "in den Park", "to the park"),
    Word("BAHNHOF", "zum Bahnhof", "to the station"),
)
TIMES: tuple[Word, ...] = (
    Word("HEUTE", "heute", "today", "present"),
    Word("GESTERN", "gestern", "yesterday", "past"),
    Word("MORGEN", "morgen", "tomorrow", "future"),
)
REGIONS: tuple[Word, ...] = (
    Word("NORD", "im Norden", "in the north"),
    Word("SUED", "im Süden", "in the south"),
    Word("OST", "im Osten", "in the east"),
    Word("WEST", "im Westen", "in the west"),
)
ADJECTIVES: tuple[Word, ...] = (  # German stems; the ending depends on gender, number, article
    Word("NEU", "neu", "new"),
    Word("ALT", "alt", "old"),
    Word("GROSS", "groß", "big"),
    Word("KLEIN", "klein", "small"),
)
NUMBERS: tuple[Word, ...] = (
    Word("ZWEI", "zwei", "two"),
    Word("DREI", "drei", "three"),
    Word("VIER", "vier", "four"),
    Word("FUENF", "fünf", "five"),
)
WEATHER: tuple[Weather, ...] = (
    Weather("REGEN", "verb", "regnet", "geregnet", "rain", "raining", "rained"),
    Weather("SONNE", "sun", "scheint", "geschienen", "shine", "shining", "shone"),
    Weather("KALT", "copula", "kalt", "kalt", "cold", "cold", "cold"),
    Weather("SCHNEE", "verb", "schneit", "geschneit", "snow", "snowing", "snowed"),
    Weather("WARM", "copula", "warm", "warm", "warm", "warm", "warm"),
)
NEGATION = "NICHT"
QUESTION = "FRAGE"

# Open classes and the smallest number of items each keeps when the lexicon is made smaller.
_OPEN_CLASSES: tuple[tuple[str, int], ...] = (
    ("subjects", 3), ("nouns", 3), ("transitive", 2), ("motion", 1), ("places", 2),
    ("intransitive", 1), ("regions", 2), ("numbers", 2), ("weather", 2), ("adjectives", 1),
)  # fmt: skip
_CLOSED_SIGNS = len(TIMES) + 2  # time signs, NICHT, FRAGE


@dataclass(frozen=True)
class Vocabulary:
    """The word classes a corpus draws from (a subset of the full grammar's)."""

    subjects: tuple[Subject, ...] = SUBJECTS
    nouns: tuple[Noun, ...] = NOUNS
    transitive: tuple[Verb, ...] = TRANSITIVE_VERBS
    motion: tuple[Verb, ...] = MOTION_VERBS
    places: tuple[Word, ...] = PLACES
    intransitive: tuple[Verb, ...] = INTRANSITIVE_VERBS
    regions: tuple[Word, ...] = REGIONS
    numbers: tuple[Word, ...] = NUMBERS
    weather: tuple[Weather, ...] = WEATHER
    adjectives: tuple[Word, ...] = ADJECTIVES
    times: tuple[Word, ...] = TIMES
    _index: dict[str, tuple[str, object]] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        index: dict[str, tuple[str, object]] = {}
        for name in ("subjects", "nouns", "transitive", "motion", "places", "intransitive",
                     "regions", "numbers", "weather", "adjectives", "times"):  # fmt: skip
            for item in getattr(self, name):
                if item.gloss in index:
                    raise ValueError(f"gloss {item.gloss} is in two word classes")
                index[item.gloss] = (name, item)
        index[NEGATION] = ("negation", None)
        index[QUESTION] = ("question", None)
        object.__setattr__(self, "_index", index)

    @property
    def glosses(self) -> tuple[str, ...]:
        """Every sign of this vocabulary, in a fixed order."""
        return tuple(self._index)

    def lookup(self, gloss: str) -> tuple[str, object]:
        """Word class name and entry of ``gloss``; ``KeyError`` when it is not in the vocabulary."""
        return self._index[gloss]


FULL_LEXICON_SIZE = len(Vocabulary().glosses)
MIN_LEXICON_SIZE = sum(keep for _, keep in _OPEN_CLASSES) + _CLOSED_SIGNS


def vocabulary(lexicon_size: int | None = None) -> Vocabulary:
    """The grammar's vocabulary with ``lexicon_size`` signs (None: all of them).

    Open classes are shortened in turn, each from its end, down to a minimum per class, so that
    every template stays possible; verbs whose objects are all gone are dropped with them.
    """
    if lexicon_size is None or lexicon_size >= FULL_LEXICON_SIZE:
        if lexicon_size is not None and lexicon_size > FULL_LEXICON_SIZE:
            raise ConfigError(
                f"lexicon_size {lexicon_size} is larger than the grammar's {FULL_LEXICON_SIZE} signs"
            )
        return Vocabulary()
    if lexicon_size < MIN_LEXICON_SIZE:
        raise ConfigError(
            f"lexicon_size {lexicon_size} is too small: the grammar needs at least "
            f"{MIN_LEXICON_SIZE} signs (valid: {MIN_LEXICON_SIZE}..{FULL_LEXICON_SIZE})"
        )
    full = Vocabulary()
    counts = {name: len(getattr(full, name)) for name, _ in _OPEN_CLASSES}
    minimum = dict(_OPEN_CLASSES)
    excess = FULL_LEXICON_SIZE - lexicon_size
    while excess > 0:
        for name, _ in _OPEN_CLASSES:
            if excess > 0 and counts[name] > minimum[name]:
                counts[name] -= 1
                excess -= 1
    parts = {name: getattr(full, name)[: counts[name]] for name, _ in _OPEN_CLASSES}
    kinds = {noun.kind for noun in parts["nouns"]}
    parts["transitive"] = tuple(verb for verb in parts["transitive"] if verb.objects & kinds)
    return Vocabulary(**parts)


@dataclass(frozen=True)
class Clause:
    """One sentence's content. ``template`` is transitive, motion, intransitive or weather."""

    template: str
    time: Word | None = None
    subject: Subject | None = None
    verb: Verb | None = None
    obj: Noun | None = None
    number: Word | None = None
    place: Word | None = None
    region: Word | None = None
    weather: Weather | None = None
    negated: bool = False
    question: bool = False
    adjective: Word | None = None


@dataclass(frozen=True)
class Sentence:
    """A sampled sentence: its signs (gloss sequence) and its spoken translation."""

    glosses: tuple[str, ...]
    text: str
    language: str


_TEMPLATE_WEIGHTS = (("transitive", 0.45), ("motion", 0.2), ("intransitive", 0.2), ("weather", 0.15))


def _pick(rng: np.random.Generator, items: tuple) -> object:
    return items[int(rng.integers(len(items)))]


def sample_clause(rng: np.random.Generator, vocab: Vocabulary | None = None) -> Clause:
    """Draw one clause: a template, then its words, negation or question."""
    vocab = vocab or Vocabulary()
    names = [name for name, _ in _TEMPLATE_WEIGHTS]
    weights = np.array([weight for _, weight in _TEMPLATE_WEIGHTS])
    template = names[int(rng.choice(len(names), p=weights / weights.sum()))]
    if template == "weather":
        return Clause(
            template="weather",
            time=_pick(rng, vocab.times),
            region=_pick(rng, vocab.regions),
            weather=_pick(rng, vocab.weather),
            negated=bool(rng.random() < 0.3),
        )
    time = _pick(rng, vocab.times) if rng.random() < 0.6 else None
    subject = _pick(rng, vocab.subjects)
    mood = rng.random()
    question = mood < 0.2 and subject.gloss != "ICH"
    negated = 0.2 <= mood < 0.4
    obj = number = place = adjective = None
    if template == "transitive":
        verb = _pick(rng, vocab.transitive)
        obj = _pick(rng, tuple(noun for noun in vocab.nouns if noun.kind in verb.objects))
        if obj.de_plural is not None and rng.random() < 0.25:
            number = _pick(rng, vocab.numbers)
        if rng.random() < 0.25:
            adjective = _pick(rng, vocab.adjectives)
    elif template == "motion":
        verb = _pick(rng, vocab.motion)
        place = _pick(rng, vocab.places)
    else:
        verb = _pick(rng, vocab.intransitive)
        if time is None and not (negated or question):
            time = _pick(rng, vocab.times)  # at least three signs
    return Clause(template, time, subject, verb, obj, number, place, None, None, negated, question, adjective)


def clause_glosses(clause: Clause) -> tuple[str, ...]:
    """The sign order of ``clause`` (time first, verb final, then NICHT or FRAGE)."""
    signs: list[str] = []
    if clause.time is not None:
        signs.append(clause.time.gloss)
    if clause.template == "weather":
        signs += [clause.region.gloss, clause.weather.gloss]
    else:
        signs.append(clause.subject.gloss)
        if clause.number is not None:
            signs.append(clause.number.gloss)
        if clause.obj is not None:
            signs.append(clause.obj.gloss)
        if clause.adjective is not None:
            signs.append(clause.adjective.gloss)
        if clause.place is not None:
            signs.append(clause.place.gloss)
        signs.append(clause.verb.gloss)
    if clause.negated:
        signs.append(NEGATION)
    if clause.question:
        signs.append(QUESTION)
    return tuple(signs)


def parse_glosses(glosses: tuple[str, ...] | list[str], vocab: Vocabulary | None = None) -> Clause:
    """Recover the clause from a gloss sequence; ``ValueError`` if it is not a sentence."""
    vocab = vocab or Vocabulary()
    slots: dict[str, object] = {}
    order: list[str] = []
    for gloss in glosses:
        try:
            name, entry = vocab.lookup(gloss)
        except KeyError:
            raise ValueError(f"unknown sign {gloss!r}") from None
        if name in slots:
            raise ValueError(f"two signs of class {name} in {' '.join(glosses)}")
        slots[name] = entry
        order.append(name)
    verb_class = next((n for n in ("transitive", "motion", "intransitive") if n in slots), None)
    template = "weather" if "weather" in slots else verb_class
    if template is None:
        raise ValueError(f"no verb or weather sign in {' '.join(glosses)}")
    clause = Clause(
        template=template,
        time=slots.get("times"),
        subject=slots.get("subjects"),
        verb=slots.get(verb_class) if verb_class else None,
        obj=slots.get("nouns"),
        number=slots.get("numbers"),
        place=slots.get("places"),
        region=slots.get("regions"),
        weather=slots.get("weather"),
        negated="negation" in slots,
        question="question" in slots,
        adjective=slots.get("adjectives"),
    )
    if clause_glosses(clause) != tuple(glosses):
        raise ValueError(f"not a sentence of the grammar: {' '.join(glosses)}")
    return clause


def _tense(clause: Clause) -> str:
    return clause.time.tense if clause.time is not None else "present"


def _object_de(clause: Clause) -> str:
    """Accusative object: weak adjective ending after the definite article (den neuen Apfel, die
    neue Zeitung, das neue Buch), strong plural ending after a number (drei neue Bücher)."""
    noun, adjective = clause.obj, clause.adjective
    if clause.number is not None:
        words = [clause.number.de] + ([adjective.de + "e"] if adjective else []) + [noun.de_plural]
        return " ".join(words)
    if adjective is None:
        return noun.de
    article, word = noun.de.split(" ", 1)
    return f"{article} {adjective.de}{'en' if article == 'den' else 'e'} {word}"


def _object_en(clause: Clause) -> str:
    noun, adjective = clause.obj, clause.adjective
    extra = [adjective.en] if adjective else []
    if clause.number is not None:
        return " ".join([clause.number.en] + extra + [noun.en_plural])
    article, word = noun.en.split(" ", 1)
    return " ".join([article] + extra + [word])


def _realize_de(clause: Clause) -> list[str]:
    tense = _tense(clause)
    time = [clause.time.de] if clause.time is not None else []
    nicht = ["nicht"] if clause.negated else []
    if clause.template == "weather":
        weather = clause.weather
        subject = "die Sonne" if weather.kind == "sun" else "es"
        if weather.kind == "copula":
            finite, final = ("war" if tense == "past" else "ist"), weather.de_present
        elif tense == "past":
            finite, final = "hat", weather.de_participle
        else:
            finite, final = weather.de_present, None
        tail = [final] if final else []
        return time + [finite, subject, clause.region.de] + nicht + tail
    person = PERSONS.index(clause.subject.person)
    verb = clause.verb
    if tense == "past":
        auxiliary = ("habe", "hast", "hat", "haben") if verb.de_aux == "haben" else ("bin", "bist", "ist", "sind")
        finite, tail = auxiliary[person], [verb.de_participle]
    else:
        finite, tail = verb.de_present[person], []
    if clause.obj is not None:
        obj = _object_de(clause)
        # "nicht" follows a definite object and precedes a counted one.
        middle = nicht + [obj] if clause.number else [obj] + nicht
    elif clause.place is not None:
        middle = nicht + [clause.place.de]
    else:
        middle = nicht
    if clause.question:
        return [finite, clause.subject.de] + time + middle + tail
    if time:
        return time + [finite, clause.subject.de] + middle + tail
    return [clause.subject.de, finite] + middle + tail


def _realize_en(clause: Clause) -> list[str]:
    tense = _tense(clause)
    time = [clause.time.en] if clause.time is not None else []
    neg = ["not"] if clause.negated else []
    if clause.template == "weather":
        weather = clause.weather
        subject = "the sun" if weather.kind == "sun" else "it"
        if weather.kind == "copula":
            verb = {"present": ["is"] + neg, "past": ["was"] + neg, "future": ["will"] + neg + ["be"]}[tense]
            words = [subject] + verb + [weather.en_base]
        elif tense == "present":
            words = [subject, "is"] + neg + [weather.en_progressive]
        elif tense == "past":
            words = [subject] + (["did", "not", weather.en_base] if neg else [weather.en_past])
        else:
            words = [subject, "will"] + neg + [weather.en_base]
        return words + [clause.region.en] + time
    verb = clause.verb
    third = clause.subject.person == "3sg"
    if clause.obj is not None:
        complement = [_object_en(clause)]
    elif clause.place is not None:
        complement = [clause.place.en]
    else:
        complement = []
    auxiliary = {"present": "does" if third else "do", "past": "did", "future": "will"}[tense]
    if clause.question:
        return [auxiliary, clause.subject.en, verb.en_base] + complement + time
    if clause.negated:
        phrase = [auxiliary, "not", verb.en_base]
    elif tense == "future":
        phrase = ["will", verb.en_base]
    elif tense == "past":
        phrase = [verb.en_past]
    else:
        phrase = [verb.en_3sg if third else verb.en_base]
    return [clause.subject.en] + phrase + complement + time


def realize(clause: Clause, language: str, *, style: TextStyle = "sentence") -> str:
    """The spoken ``language`` sentence of ``clause``.

    ``style="sentence"``: capitalised first word and final "." or "?"; ``"lower"``: lower case
    without punctuation, the way PHOENIX14T references are written.
    """
    if language == "de":
        words = _realize_de(clause)
    elif language == "en":
        words = _realize_en(clause)
    else:
        raise ConfigError(f"unknown language '{language}'; valid: {', '.join(LANGUAGES)}")
    text = " ".join(words)
    if style == "lower":
        return text.lower()
    return text[0].upper() + text[1:] + ("?" if clause.question else ".")


def translate_glosses(
    glosses: tuple[str, ...] | list[str], language: str, *, style: TextStyle = "sentence",
    vocab: Vocabulary | None = None,
) -> str:
    """The oracle translation of a gloss sequence (parse, then realise)."""
    return realize(parse_glosses(glosses, vocab), language, style=style)


def sample_sentence(
    rng: np.random.Generator, language: str, *, vocab: Vocabulary | None = None,
    style: TextStyle = "sentence",
) -> Sentence:
    """Draw one sentence: its gloss sequence and its ``language`` translation."""
    clause = sample_clause(rng, vocab)
    return Sentence(clause_glosses(clause), realize(clause, language, style=style), language)
