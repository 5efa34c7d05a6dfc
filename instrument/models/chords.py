"""Chords: the accompaniment vocabulary, a template labeller and harmonic-rhythm helpers.

A :class:`Chord` is a root pitch class, a quality and a bass pitch class that is one of
its tones (so inversions are explicit). The vocabulary the accompaniment models predict
over is :data:`CHORD_VOCAB`: index 0 is "no chord" (the accompaniment is silent), then
every root x quality x inversion. Pure numpy; safe to call on the engine thread.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from instrument.music import PITCH_CLASS_NAMES

#: Chord qualities: name and intervals above the root, in the order they are tried.
QUALITIES: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("maj", (0, 4, 7)),
    ("min", (0, 3, 7)),
    ("7", (0, 4, 7, 10)),
    ("m7", (0, 3, 7, 10)),
    ("maj7", (0, 4, 7, 11)),
    ("dim", (0, 3, 6)),
    ("m7b5", (0, 3, 6, 10)),
    ("dim7", (0, 3, 6, 9)),
    ("aug", (0, 4, 8)),
    ("sus4", (0, 5, 7)),
)
_INTERVALS = dict(QUALITIES)
#: The triad each seventh chord is built on (:meth:`Chord.without_seventh`).
TRIAD_UNDER = {"7": "maj", "m7": "min", "maj7": "maj", "m7b5": "dim", "dim7": "dim"}
_SUFFIX = {"maj": "", "min": "m"}
NO_CHORD_NAME = "N.C."


@dataclass(frozen=True)
class Chord:
    """A chord to play: ``root`` and ``bass`` are pitch classes 0..11, ``bass`` a chord tone.

    The silent chord is :data:`NO_CHORD` (``quality == "N.C."``, no pitch classes).
    """

    root: int
    quality: str
    bass: int

    def __post_init__(self) -> None:
        if self.quality == NO_CHORD_NAME:
            return
        if self.quality not in _INTERVALS:
            raise ValueError(f"unknown chord quality {self.quality!r}")
        if self.bass not in self.pitch_classes:
            raise ValueError(f"bass {self.bass} is not a tone of {self.root} {self.quality}")

    @property
    def is_silent(self) -> bool:
        return self.quality == NO_CHORD_NAME

    @cached_property
    def pitch_classes(self) -> tuple[int, ...]:
        """Chord tones from the root up (root, third, fifth, seventh); empty when silent."""
        if self.is_silent:
            return ()
        return tuple((self.root + i) % 12 for i in _INTERVALS[self.quality])

    @property
    def identity(self) -> tuple[int, str]:
        """(root, quality): what counts as "the same chord" for harmonic rhythm."""
        return (-1, NO_CHORD_NAME) if self.is_silent else (self.root, self.quality)

    @property
    def name(self) -> str:
        if self.is_silent:
            return NO_CHORD_NAME
        text = PITCH_CLASS_NAMES[self.root] + _SUFFIX.get(self.quality, self.quality)
        return text if self.bass == self.root else f"{text}/{PITCH_CLASS_NAMES[self.bass]}"

    @property
    def has_seventh(self) -> bool:
        return self.quality in TRIAD_UNDER

    def without_seventh(self) -> Chord:
        """The chord's triad, its seventh left out (a seventh in the bass gives the bass
        to the root); the chord itself when it has no seventh."""
        if not self.has_seventh:
            return self
        triad = TRIAD_UNDER[self.quality]
        bass = self.bass if (self.bass - self.root) % 12 in _INTERVALS[triad] else self.root
        return Chord(self.root, triad, bass)

    def transposed(self, semitones: int) -> Chord:
        if self.is_silent:
            return self
        return Chord((self.root + semitones) % 12, self.quality, (self.bass + semitones) % 12)

    def __str__(self) -> str:
        return self.name


NO_CHORD = Chord(-1, NO_CHORD_NAME, -1)


def _build_vocab() -> tuple[Chord, ...]:
    vocab = [NO_CHORD]
    for root in range(12):
        for quality, intervals in QUALITIES:
            vocab.extend(Chord(root, quality, (root + i) % 12) for i in intervals)
    return tuple(vocab)


#: Index 0 is NO_CHORD; the rest is root x quality x inversion.
CHORD_VOCAB: tuple[Chord, ...] = _build_vocab()
CHORD_INDEX: dict[Chord, int] = {c: i for i, c in enumerate(CHORD_VOCAB)}
N_CHORDS = len(CHORD_VOCAB)

# Per-class arrays for vectorised scoring (index 0, NO_CHORD, has an empty template).
TEMPLATES = np.zeros((N_CHORDS, 12), dtype=np.float32)
BASS = np.full(N_CHORDS, -1, dtype=np.int64)
ROOT = np.full(N_CHORDS, -1, dtype=np.int64)
#: Index of each class's (root, quality) identity: 0 for NO_CHORD, then 1..120.
IDENTITY = np.zeros(N_CHORDS, dtype=np.int64)
_QUALITY_PRIOR = {"maj": 0.3, "min": 0.25, "7": 0.2, "m7": 0.1}
PRIOR = np.zeros(N_CHORDS, dtype=np.float32)
for _i, _c in enumerate(CHORD_VOCAB[1:], start=1):
    TEMPLATES[_i, list(_c.pitch_classes)] = 1.0
    BASS[_i], ROOT[_i] = _c.bass, _c.root
    IDENTITY[_i] = 1 + _c.root * len(QUALITIES) + [q for q, _ in QUALITIES].index(_c.quality)
    PRIOR[_i] = _QUALITY_PRIOR.get(_c.quality, 0.0) + (0.2 if _c.bass == _c.root else 0.0)


#: TRANSPOSED[c, t]: index of chord c moved up t semitones.
TRANSPOSED = np.array(
    [[CHORD_INDEX[c.transposed(t)] for t in range(12)] for c in CHORD_VOCAB], dtype=np.int64
)


def fit_chord(weights: Sequence[float] | np.ndarray, bass: int | None = None) -> Chord:
    """The vocabulary chord that best explains pitch-class ``weights`` (length 12).

    Score: weight of pitch classes in the chord, minus weight outside it, minus half a
    point per chord tone that is absent, plus a small prior for common qualities and root
    position. If ``bass`` is given, only chords with that bass are considered. All-zero
    weights give :data:`NO_CHORD`.
    """
    w = np.asarray(weights, dtype=np.float32)
    if w.shape != (12,):
        raise ValueError(f"weights must have 12 pitch classes, got shape {w.shape}")
    if not np.any(w > 0):
        return NO_CHORD
    present = (w > 0).astype(np.float32)
    scale = float(w[w > 0].mean())
    score = TEMPLATES @ w - (1.0 - TEMPLATES) @ w - 0.5 * scale * (TEMPLATES @ (1.0 - present))
    score += scale * PRIOR
    score[0] = -np.inf
    if bass is not None:
        score[bass % 12 != BASS] = -np.inf
    return CHORD_VOCAB[int(np.argmax(score))]


def change_rate(chords: Sequence[Chord]) -> float:
    """Share of beat boundaries where the chord identity (root, quality) changes."""
    if len(chords) < 2:
        return 0.0
    changes = sum(a.identity != b.identity for a, b in itertools.pairwise(chords))
    return changes / (len(chords) - 1)


def scale_chord_mask(allowed_pitch_classes: Iterable[int]) -> np.ndarray:
    """Boolean mask over the vocabulary: chords whose tones all lie in the allowed set."""
    allowed = np.zeros(12, dtype=np.float32)
    allowed[list({p % 12 for p in allowed_pitch_classes})] = 1.0
    mask = (TEMPLATES @ (1.0 - allowed)) == 0
    return mask


@lru_cache(maxsize=4)
def sevenths_left_out(kept: frozenset[str]) -> np.ndarray:
    """Mask over :data:`CHORD_VOCAB`: the chords with a seventh whose quality is not in
    ``kept`` (read-only, one per set)."""
    mask = np.array([c.has_seventh and c.quality not in kept for c in CHORD_VOCAB])
    mask.flags.writeable = False
    return mask
