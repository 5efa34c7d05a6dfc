"""Rule-based arranger: a key estimate plus a diatonic chord fit with hysteresis. Numpy.

Each beat, at its deadline, the arranger:

1. adds the pitch classes heard since the last beat (weighted by how long they have
   sounded) to a slowly decaying histogram and estimates the key from it (Krumhansl-
   Kessler profiles, with its own hysteresis so the key does not flicker);
2. scores the key's diatonic chords (I ii iii IV V V7 vi in major; i III iv V V7 VI VII
   in minor) against the notes of the last beat: tones in the chord count for, tones
   outside against, plus a small prior for the common functions;
3. keeps the chord it played on the previous beat unless another beats it by a margin
   (the hysteresis, set from ``harmonic_rhythm`` when that is given).

It plays nothing until it has heard a note. The result is a sharply peaked distribution
over the shared chord vocabulary (scores times ``sharpness``), so sampling works as for
the neural model and greedy sampling gives the rule's choice. It is the fallback when
the model misses its deadline.

Real-time rules: ``step`` costs tens of microseconds; engine thread only. It is
:meth:`RuleArranger.hear` (the beat's notes, the key) then :meth:`RuleArranger.chords`
(the scoring): where the neural model plays, the part hears every beat but scores the
rules' chords only where it plays them (the fallback, or a policy's rules between the
strong beats).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from instrument.models.accompaniment import (
    Accompanist,
    BeatEncoder,
    BeatInput,
    ChordDistribution,
)
from instrument.models.chords import (
    CHORD_INDEX,
    IDENTITY,
    N_CHORDS,
    NO_CHORD,
    TEMPLATES,
    Chord,
)
from instrument.models.keys import (  # noqa: F401 - re-exported: the rules' key estimate
    KEY_PROFILES,
    MAJOR_PROFILE,
    MINOR_PROFILE,
    KeyTracker,
    estimate_key,
    key_correlations,
)

# (degree in semitones above the tonic, quality, prior)
MAJOR_CHORDS = (
    (0, "maj", 0.3), (2, "min", 0.1), (4, "min", 0.05), (5, "maj", 0.2),
    (7, "maj", 0.25), (7, "7", 0.15), (9, "min", 0.1),
)
MINOR_CHORDS = (
    (0, "min", 0.3), (3, "maj", 0.05), (5, "min", 0.2), (7, "maj", 0.25),
    (7, "7", 0.15), (8, "maj", 0.1), (10, "maj", 0.05),
)


def diatonic_chords(tonic: int, minor: bool) -> list[tuple[Chord, float]]:
    """The key's chords in root position with their priors."""
    table = MINOR_CHORDS if minor else MAJOR_CHORDS
    return [
        (Chord((tonic + d) % 12, q, (tonic + d) % 12), prior) for d, q, prior in table
    ]


@dataclass(frozen=True)
class KeyChords:
    """A key's candidate chords as arrays, for scoring them all at once: their places in
    the chord vocabulary, templates, priors, identities and which are the same chord
    (identity) as which. The rule arranger scores its key's diatonic chords with it; the
    tune memory's hindsight fit (:func:`instrument.memory.hindsight.key_chords`) adds
    sevenths."""

    chords: tuple[Chord, ...]
    index: np.ndarray  # (k,) places in the chord vocabulary
    templates: np.ndarray  # (k, 12) float64
    priors: np.ndarray  # (k,)
    same: np.ndarray  # (k, k) bool
    identity: np.ndarray  # (k,) each chord's IDENTITY


def chord_table(candidates: list[tuple[Chord, float]]) -> KeyChords:
    """:class:`KeyChords` of ``candidates`` (chord, prior)."""
    index = np.array([CHORD_INDEX[c] for c, _ in candidates])
    ids = IDENTITY[index]
    return KeyChords(tuple(c for c, _ in candidates), index,
                     TEMPLATES[index].astype(np.float64),
                     np.array([p for _, p in candidates]), ids[:, None] == ids[None, :], ids)


@lru_cache(maxsize=24)
def _diatonic_table(tonic: int, minor: bool) -> KeyChords:
    return chord_table(diatonic_chords(tonic, minor))


class RuleArranger(Accompanist):
    """Key estimate + diatonic chord fit with hysteresis (see module doc)."""

    def __init__(
        self,
        deadline_ticks: int = 2,
        hysteresis: float = 0.5,
        key_half_life_beats: float = 16.0,
        key_margin: float = 0.05,
        sharpness: float = 50.0,
    ) -> None:
        self.encoder = BeatEncoder(deadline_ticks)
        self.hysteresis = hysteresis
        self.keys = KeyTracker(key_half_life_beats, key_margin)
        self.sharpness = sharpness
        self.harmonic_rhythm = None
        self.reset()

    def reset(self) -> None:
        self.encoder.reset()
        self.keys.reset()
        self._heard = False
        self._beat: BeatInput | None = None  # the beat last heard
        self._floats: np.ndarray | None = None  # its encoder row
        self._sounding: np.ndarray | None = None  # its first 12 columns, as float64

    @property
    def key(self) -> tuple[int, bool] | None:
        """The key heard so far (tonic, is_minor), None before anything was heard."""
        return self.keys.key

    def _hysteresis(self) -> float:
        if self.harmonic_rhythm is None:
            return self.hysteresis
        # 0.25 changes a beat -> strong hold; 1.0 -> almost none.
        return float(np.clip(1.5 * (1.0 - self.harmonic_rhythm), 0.0, 1.5))

    def step(self, beat: BeatInput) -> ChordDistribution:
        self.hear(beat)
        return self.chords()

    def hear(self, beat: BeatInput) -> None:
        """Take the melody heard up to this beat's deadline (the key follows it), without
        scoring its chords: where the model plays, the rules' key is all that is used,
        and :meth:`chords` scores them only for the beats that need them."""
        _, self._floats = self.encoder.encode(beat, 0)
        self._sounding = self._floats[:12].astype(np.float64)
        self._beat = beat
        self._heard = self._heard or bool(beat.notes)
        if self._heard and self.keys.update(self._sounding) is None:
            self.keys.key = (0, False)  # heard, but no pitch class weighs more than another

    def chords(self) -> ChordDistribution:
        """The distribution over chords for the beat last :meth:`hear`-d."""
        beat, floats, sounding = self._beat, self._floats, self._sounding
        assert beat is not None and floats is not None and sounding is not None, \
            "hear a beat first"
        logits = np.full(N_CHORDS, -np.inf)
        if not self._heard:
            logits[CHORD_INDEX[NO_CHORD]] = 0.0
            return ChordDistribution(logits, beat.beat_tick, beat.previous_chord)
        assert self.keys.key is not None
        tonic, minor = self.keys.key
        evidence = sounding + 0.5 * floats[12:].astype(np.float64)
        scale = max(evidence.sum(), 1e-6)
        prev = beat.previous_chord
        total = evidence.sum()
        table = _diatonic_table(tonic, minor)
        inside = table.templates @ evidence
        score = (inside - 0.6 * (total - inside)) / scale + table.priors
        if prev is not None:
            score += self._hysteresis() * (table.identity == IDENTITY[CHORD_INDEX[prev]])
        logits[table.index] = self.sharpness * score
        if prev is not None and not prev.is_silent and not np.isfinite(logits[CHORD_INDEX[prev]]):
            # The previous chord is outside the new key: it may still hold.
            t = TEMPLATES[CHORD_INDEX[prev]].astype(np.float64)
            score = (evidence @ t - 0.6 * evidence @ (1.0 - t)) / scale + self._hysteresis()
            logits[CHORD_INDEX[prev]] = self.sharpness * score
        logits -= logits.max()
        logits -= np.log(np.exp(logits).sum())
        return ChordDistribution(logits, beat.beat_tick, beat.previous_chord)
