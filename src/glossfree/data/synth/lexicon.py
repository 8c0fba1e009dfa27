"""Sign phonology and the procedurally generated lexicon of the synthetic sign language.

A sign is described the way sign linguistics does (Stokoe's parameters plus non-manuals):

- **handshape**: finger joint angles (:data:`HANDSHAPES`, named after the ASL/DGS handshapes they
  imitate: B, 5, 1, V, Y, C, O, ...), turned into the 21 MediaPipe hand points by
  :func:`glossfree.data.synth.body.hand_points`;
- **orientation**: where the fingers point and the palm faces (:data:`ORIENTATIONS`);
- **location**: a place on or in front of the body or face (:data:`LOCATIONS`), resolved against
  each signer's own proportions (:func:`glossfree.data.synth.body.anchors`);
- **movement**: hold, line, arc, circle, repeat, tap, twist (wrist rotation) or wiggle (fingers),
  with a direction and an amplitude in shoulder widths;
- **hands**: one-handed, symmetric, alternating, or with the non-dominant hand as a static base;
- **mouthing**: the German word the signer mouths (its vowels drive the lips), and for two signs
  a non-manual marker: a headshake on ``NICHT``, raised brows over a question (``FRAGE``).

Pronouns point (index finger to the chest, forward, or to the sides), numbers show their count of
fingers, NICHT wags the index finger; every other sign is drawn by :func:`generate_lexicon` from a
seeded generator. While the (handshape, location) pairs last, no two drawn signs share one; a
larger lexicon (the ~1,100 PHOENIX-2014-T glosses, :mod:`.phoenix`) then reuses pairs, as real
sign languages reuse handshapes and places, and signs differ by movement, orientation or hands:
every sign's :attr:`Sign.form` is unique. Gloss conventions of the PHOENIX annotation get forms
that follow them:

- ``neg-X`` / ``negalp-X`` (X negated by a headshake) is X's manual sign with a headshake;
- ``A+B+C`` (fingerspelling) is a one-handed movement to the dominant side at chest height,
  longer the more letters it spells (one handshape: a sign has no handshape changes);
- ``X-Y`` compounds (``HEUTE-ABEND``) are one sign, longer the more parts they have;
- ``IX`` (index) points into the signing space and ``__PU__`` is the palm-up gesture
  (:data:`GESTURE_SIGNS`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np

# Finger states (MCP flexion, PIP flexion) in radians; DIP flexion is 0.7 x PIP.
_E, _F, _C, _BENT, _HOOK, _O = (0.0, 0.0), (1.45, 1.6), (0.55, 0.7), (1.45, 0.05), (0.25, 1.45), (0.8, 0.9)
# Thumb states (abduction 0..1, opposition 0..1, flexion in radians).
_T_OUT, _T_SIDE, _T_ACROSS = (1.0, 0.0, 0.0), (0.0, 0.0, 0.1), (0.0, 0.9, 0.7)
_T_PALM, _T_C, _T_O = (0.0, 1.0, 1.1), (0.5, 0.4, 0.3), (0.2, 0.75, 0.45)


def _shape(index, middle, ring, pinky, spread: float, thumb) -> np.ndarray:
    """Handshape vector [12]: (MCP, PIP) of index, middle, ring, pinky; spread; thumb (abd, opp, flex)."""
    return np.array([*index, *middle, *ring, *pinky, spread, *thumb], dtype=np.float64)


HANDSHAPE_DIM = 12
HANDSHAPES: dict[str, np.ndarray] = {
    "B": _shape(_E, _E, _E, _E, 0.0, _T_SIDE),
    "5": _shape(_E, _E, _E, _E, 0.35, _T_OUT),
    "4": _shape(_E, _E, _E, _E, 0.25, _T_PALM),
    "A": _shape(_F, _F, _F, _F, 0.0, _T_SIDE),
    "S": _shape(_F, _F, _F, _F, 0.0, _T_ACROSS),
    "1": _shape(_E, _F, _F, _F, 0.0, _T_ACROSS),
    "V": _shape(_E, _E, _F, _F, 0.35, _T_ACROSS),
    "U": _shape(_E, _E, _F, _F, 0.0, _T_ACROSS),
    "W": _shape(_E, _E, _E, _F, 0.3, _T_ACROSS),
    "3": _shape(_E, _E, _F, _F, 0.35, _T_OUT),
    "L": _shape(_E, _F, _F, _F, 0.0, _T_OUT),
    "Y": _shape(_F, _F, _F, _E, 0.2, _T_OUT),
    "I": _shape(_F, _F, _F, _E, 0.0, _T_ACROSS),
    "C": _shape(_C, _C, _C, _C, 0.05, _T_C),
    "O": _shape(_O, _O, _O, _O, 0.0, _T_O),
    "F": _shape(_O, _E, _E, _E, 0.25, _T_O),
    "X": _shape(_HOOK, _F, _F, _F, 0.0, _T_ACROSS),
    "bentB": _shape(_BENT, _BENT, _BENT, _BENT, 0.0, _T_SIDE),
    "claw": _shape((0.3, 1.2), (0.3, 1.2), (0.3, 1.2), (0.3, 1.2), 0.35, _T_C),
}
# The hand's shape when it is not signing (at rest, or the idle non-dominant hand).
RELAXED = _shape((0.35, 0.45), (0.4, 0.5), (0.45, 0.55), (0.5, 0.6), 0.1, (0.3, 0.2, 0.25))

# Unit directions in signer space: x to the image right (the signer's left), y down, z away from
# the camera. The dominant hand is the signer's right, so "in" (+x) points to the body midline.
DIRECTIONS: dict[str, tuple[float, float, float]] = {
    "up": (0.0, -1.0, 0.0), "down": (0.0, 1.0, 0.0), "in": (1.0, 0.0, 0.0), "out": (-1.0, 0.0, 0.0),
    "fwd": (0.0, 0.0, -1.0), "back": (0.0, 0.0, 1.0),
}  # fmt: skip
# Orientation = (finger direction, palm direction), both unit vectors, perpendicular.
_S = float(np.sqrt(0.5))
ORIENTATIONS: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "up_fwd": ((0, -1, 0), (0, 0, -1)),  # fingers up, palm to the camera
    "up_in": ((0, -1, 0), (1, 0, 0)),  # fingers up, palm to the midline
    "up_back": ((0, -1, 0), (0, 0, 1)),  # fingers up, palm to the signer
    "fwd_down": ((0, 0, -1), (0, 1, 0)),  # fingers forward, palm down
    "fwd_up": ((0, 0, -1), (0, -1, 0)),  # fingers forward, palm up
    "fwd_in": ((0, 0, -1), (1, 0, 0)),  # fingers forward, palm to the midline
    "in_down": ((1, 0, 0), (0, 1, 0)),  # fingers to the midline, palm down
    "in_back": ((1, 0, 0), (0, 0, 1)),  # fingers to the midline, palm to the signer
    "in_up": ((1, 0, 0), (0, -1, 0)),  # fingers to the midline, palm up
    "diag_fwd": ((_S, -_S, 0), (0, 0, -1)),  # fingers up and in, palm to the camera
    "down_in": ((0, 1, 0), (1, 0, 0)),  # fingers down, palm to the midline (arm hanging)
    "back_in": ((0, 0, 1), (1, 0, 0)),  # fingers to the signer (pointing at oneself)
    "side_down": ((-_S, 0, -_S), (0, 1, 0)),  # pointing forward to the dominant side
    "cross_down": ((_S, 0, -_S), (0, 1, 0)),  # pointing forward across the body
}  # fmt: skip
LOCATIONS: tuple[str, ...] = (
    "forehead", "eye", "nose", "mouth", "chin", "cheek", "ear", "temple",
    "neck", "chest", "chest_dom", "chest_nd", "shoulder_nd", "stomach",
    "neutral", "neutral_high", "neutral_low", "neutral_dom", "neutral_far",
    "base",
)  # fmt: skip
MOVEMENTS: tuple[str, ...] = ("hold", "line", "arc", "circle", "repeat", "tap", "twist", "wiggle")
HANDS: tuple[str, ...] = ("one", "symmetric", "alternating", "base")
# Base duration (seconds) by movement; signs last 0.32-0.56 s (8-14 frames at 25 fps).
_DURATION = {"hold": 0.34, "line": 0.4, "arc": 0.44, "circle": 0.52, "repeat": 0.5, "tap": 0.44,
             "twist": 0.4, "wiggle": 0.48}  # fmt: skip
_AMPLITUDE = {"hold": (0.03, 0.05), "line": (0.2, 0.35), "arc": (0.2, 0.32), "circle": (0.14, 0.22),
              "repeat": (0.1, 0.18), "tap": (0.08, 0.12), "twist": (0.6, 0.9), "wiggle": (0.3, 0.45)}  # fmt: skip


@dataclass(frozen=True)
class Sign:
    """One lexicon entry. Directions, orientations and locations name the tables above.

    ``amplitude`` is in shoulder widths (radians for ``twist``, flexion for ``wiggle``);
    ``bulge`` is the second axis of an arc or circle; ``duration`` is in seconds at normal speed.
    ``base_handshape``/``base_orientation`` describe the non-dominant hand of ``hands="base"``.
    """

    gloss: str
    hands: str
    handshape: str
    orientation: str
    location: str
    movement: str
    direction: str
    bulge: str
    amplitude: float
    duration: float
    mouthing: str | None
    nonmanual: str = ""
    base_handshape: str = ""
    base_orientation: str = ""

    def to_json(self) -> dict:
        return asdict(self)

    @property
    def form(self) -> tuple[str, str, str, str, str, str, str]:
        """What tells two signs apart at a glance: (hands, handshape, location, movement,
        orientation, base handshape, non-manual). No two signs of a lexicon share it."""
        return (self.hands, self.handshape, self.location, self.movement, self.orientation,
                self.base_handshape, self.nonmanual)  # fmt: skip


def _fixed(gloss: str, handshape: str, orientation: str, location: str, movement: str,
           direction: str, bulge: str = "up", amplitude: float | None = None, *, hands: str = "one",
           mouthing: str | None = None, nonmanual: str = "") -> Sign:  # fmt: skip
    amp = amplitude if amplitude is not None else float(np.mean(_AMPLITUDE[movement]))
    return Sign(gloss, hands, handshape, orientation, location, movement, direction, bulge, amp,
                _DURATION[movement], mouthing, nonmanual)  # fmt: skip


# Signs whose form is conventional rather than drawn at random.
FIXED_SIGNS: dict[str, Sign] = {
    sign.gloss: sign
    for sign in (
        _fixed("ICH", "1", "back_in", "chest", "tap", "back"),
        _fixed("DU", "1", "fwd_in", "neutral", "line", "fwd", amplitude=0.15),
        _fixed("ER", "1", "side_down", "neutral_dom", "tap", "out"),
        _fixed("SIE", "1", "cross_down", "chest_nd", "tap", "fwd"),
        _fixed("WIR", "1", "back_in", "chest_dom", "arc", "in", "fwd", 0.45),
        _fixed("ZWEI", "V", "up_back", "neutral_high", "hold", "fwd", mouthing="zwei"),
        _fixed("DREI", "3", "up_back", "neutral_high", "hold", "fwd", mouthing="drei"),
        _fixed("VIER", "4", "up_back", "neutral_high", "hold", "fwd", mouthing="vier"),
        _fixed("FUENF", "5", "up_back", "neutral_high", "hold", "fwd", mouthing="fuenf"),
        _fixed("NICHT", "1", "up_fwd", "neutral_high", "repeat", "in", amplitude=0.16,
               mouthing="nicht", nonmanual="headshake"),
        _fixed("FRAGE", "5", "fwd_up", "neutral_low", "arc", "out", "up", 0.22, hands="symmetric",
               nonmanual="brows"),
    )
}
_PERPENDICULAR = {"up": ("in", "fwd"), "down": ("in", "fwd"), "in": ("up", "fwd"),
                  "out": ("up", "fwd"), "fwd": ("up", "in"), "back": ("up", "in")}  # fmt: skip
_BASE_SHAPES = ("B", "5", "S", "1")
_BASE_ORIENTATIONS = ("fwd_up", "in_back", "fwd_in", "up_in")


# Conventional gestures of the PHOENIX-2014-T vocabulary. Kept out of FIXED_SIGNS, whose
# (handshape, location) pairs steer the draws of the demo grammar's signs.
GESTURE_SIGNS: dict[str, Sign] = {
    sign.gloss: sign
    for sign in (
        _fixed("IX", "1", "fwd_down", "neutral_dom", "tap", "fwd"),  # index: points into space
        _fixed("__PU__", "5", "fwd_up", "neutral", "hold", "fwd", hands="symmetric"),  # palm up
    )
}
NEGATION_PREFIXES: tuple[str, ...] = ("neg-", "negalp-")
# Tries at a (handshape, location) pair not yet used before a sign shares one (only when most
# pairs are taken: the demo grammar's 61 signs never get near this).
_PAIR_ATTEMPTS = 64


def negated_base(gloss: str) -> str | None:
    """``X`` for a negated gloss ``neg-X`` / ``negalp-X``, else None."""
    for prefix in NEGATION_PREFIXES:
        if gloss.startswith(prefix) and len(gloss) > len(prefix):
            return gloss[len(prefix) :]
    return None


def is_fingerspelled(gloss: str) -> bool:
    """``A+B+C``: letters (or letter groups such as ``SCH``) joined by ``+``."""
    parts = gloss.split("+")
    return len(parts) > 1 and all(part.isalpha() for part in parts)


def _pair(sign: Sign) -> tuple[str, str]:
    return sign.handshape, sign.location + sign.base_handshape


def _draw_candidate(rng: np.random.Generator, gloss: str, used_pairs: set[tuple[str, str]]) -> Sign:
    """One random sign, at a (handshape, location) pair not in ``used_pairs`` if one is found in
    :data:`_PAIR_ATTEMPTS` tries."""
    hands = HANDS[int(rng.choice(4, p=[0.6, 0.2, 0.1, 0.1]))]
    locations = [loc for loc in LOCATIONS if loc != "base"]
    shapes = list(HANDSHAPES)
    for _attempt in range(_PAIR_ATTEMPTS):
        location = "base" if hands == "base" else locations[int(rng.integers(len(locations)))]
        handshape = shapes[int(rng.integers(len(shapes)))]
        base_shape = _BASE_SHAPES[int(rng.integers(len(_BASE_SHAPES)))] if hands == "base" else ""
        if (handshape, location + base_shape) not in used_pairs:
            break
    if hands == "alternating":
        movement = ("repeat", "circle")[int(rng.integers(2))]
    else:
        movement = MOVEMENTS[int(rng.integers(len(MOVEMENTS)))]
    direction = list(DIRECTIONS)[int(rng.integers(len(DIRECTIONS)))]
    bulge = _PERPENDICULAR[direction][int(rng.integers(2))]
    orientations = [o for o in ORIENTATIONS if o not in ("down_in", "back_in")]
    low, high = _AMPLITUDE[movement]
    return Sign(
        gloss=gloss,
        hands=hands,
        handshape=handshape,
        orientation=orientations[int(rng.integers(len(orientations)))],
        location=location,
        movement=movement,
        direction=direction,
        bulge=bulge,
        amplitude=round(float(rng.uniform(low, high)), 4),
        duration=round(_DURATION[movement] + float(rng.uniform(-0.03, 0.03)), 4),
        mouthing=gloss.lower() if rng.random() < 0.9 else None,
        base_handshape=base_shape,
        base_orientation=_BASE_ORIENTATIONS[int(rng.integers(4))] if hands == "base" else "",
    )


def _draw_sign(rng: np.random.Generator, gloss: str, used_pairs: set[tuple[str, str]],
               used_forms: set[tuple[str, ...]]) -> Sign:  # fmt: skip
    """A random sign whose form no other sign has (its pair is new while new pairs are found)."""
    while True:
        sign = _draw_candidate(rng, gloss, used_pairs)
        if sign.form not in used_forms:
            used_pairs.add(_pair(sign))
            used_forms.add(sign.form)
            return sign


def _draw_fingerspelled(rng: np.random.Generator, gloss: str, used_pairs: set[tuple[str, str]],
                        used_forms: set[tuple[str, ...]]) -> Sign:  # fmt: skip
    """Fingerspelling: the hand moves to the dominant side at chest height, 0.12 s per letter
    (once the 95 handshape x orientation forms of spelling run out: a drawn sign of that length)."""
    letters = len(gloss.split("+"))
    duration = round(min(1.2, 0.16 + 0.12 * letters), 4)
    shapes = list(HANDSHAPES)
    orientations = ("up_fwd", "up_in", "diag_fwd", "fwd_down", "fwd_in")
    for _attempt in range(256):
        sign = Sign(
            gloss=gloss,
            hands="one",
            handshape=shapes[int(rng.integers(len(shapes)))],
            orientation=orientations[int(rng.integers(len(orientations)))],
            location="neutral_dom",
            movement="line",
            direction="out",
            bulge="up",
            amplitude=round(min(0.45, 0.08 * letters) * float(rng.uniform(0.9, 1.1)), 4),
            duration=duration,
            mouthing=gloss.replace("+", "").lower(),
        )
        if sign.form not in used_forms:
            used_forms.add(sign.form)
            return sign
    return replace(_draw_sign(rng, gloss, used_pairs, used_forms), duration=duration)


def _own_sign(rng: np.random.Generator, gloss: str, used_pairs: set[tuple[str, str]],
              used_forms: set[tuple[str, ...]]) -> Sign:  # fmt: skip
    """A conventional sign, or a drawn one (fingerspelled; compounds last longer)."""
    if gloss in FIXED_SIGNS:
        return FIXED_SIGNS[gloss]
    if gloss in GESTURE_SIGNS:
        return GESTURE_SIGNS[gloss]
    if is_fingerspelled(gloss):
        return _draw_fingerspelled(rng, gloss, used_pairs, used_forms)
    sign = _draw_sign(rng, gloss, used_pairs, used_forms)
    parts = len([part for part in gloss.split("-") if part])
    if parts > 1:  # a compound such as HEUTE-ABEND: one sign, with the time of its parts
        sign = replace(sign, duration=round(sign.duration * min(2.0, 1.0 + 0.5 * (parts - 1)), 4))
    return sign


def generate_lexicon(glosses: tuple[str, ...] | list[str], *, seed: int = 0) -> dict[str, Sign]:
    """One sign per gloss, in the given order; the same seed and glosses give the same signs.

    Conventional signs come from :data:`FIXED_SIGNS` and :data:`GESTURE_SIGNS`; the others are
    drawn in the given order, so a list that starts with another list keeps that list's signs
    (the demo grammar's signs stay as they are when PHOENIX glosses follow them). While pairs are
    available no two drawn signs share a (handshape, location) pair (for base signs: handshape and
    base handshape); every sign's :attr:`Sign.form` is unique. Negated glosses (``neg-X``) come
    last: X's manual form with a headshake (X is drawn, unlisted, if it is not a gloss itself).
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x51C0]))
    used_pairs = {(sign.handshape, sign.location) for sign in FIXED_SIGNS.values()}
    used_forms = {sign.form for sign in (*FIXED_SIGNS.values(), *GESTURE_SIGNS.values())}
    lexicon: dict[str, Sign] = {}
    for gloss in glosses:
        if gloss not in lexicon and negated_base(gloss) is None:
            lexicon[gloss] = _own_sign(rng, gloss, used_pairs, used_forms)
    unlisted: dict[str, Sign] = {}
    for gloss in glosses:
        base_gloss = negated_base(gloss)
        if base_gloss is None or gloss in lexicon:
            continue
        base = lexicon.get(base_gloss) or unlisted.get(base_gloss)
        if base is None:
            base = unlisted[base_gloss] = _own_sign(rng, base_gloss, used_pairs, used_forms)
        sign = replace(base, gloss=gloss, nonmanual="headshake")
        while sign.form in used_forms:  # the base already has a non-manual (NICHT): a sign of its own
            sign = replace(_draw_sign(rng, gloss, used_pairs, used_forms), nonmanual="headshake")
        used_forms.add(sign.form)
        lexicon[gloss] = sign
    return {gloss: lexicon[gloss] for gloss in glosses}
