"""The continuation's memory of the player: a copy model over the notes of this tune.

A :class:`NoteMemory` keeps the player's notes of the tune (a ring of ``capacity``
notes, so its cost never grows), each as one symbol: the interval from the note before
(so a motif is recognised in any key) and its rest and duration classes. It also follows
the melody as it is committed, the player's and the instrument's own notes alike, and
keeps for every remembered note the length of the longest run of symbols ending there
that equals the run just played (updated in one vectorised pass per note).

Its prediction (:meth:`NoteMemory.predict`) is what came next after those matches: a
distribution over the next pitch (the last pitch plus the remembered interval), rest
and duration, each match weighted by ``growth ** min(length, max_length)``, and the
longest match length, which says how much to trust it. Matches shorter than
``min_length`` notes are ignored. How the copy is mixed with the neural model and the
Markov model is :mod:`instrument.memory.adaptive`'s business.

Real-time rules: engine thread; ``learn`` and ``follow`` cost one pass over the capacity
(microseconds); nothing allocates per note beyond the returned arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from instrument.baselines.markov import MAX_INTERVAL, interval_symbol
from instrument.models import melody as enc
from instrument.music import GridNote, Meter

N_RHYTHM = len(enc.REST_TICKS) * len(enc.DURATION_TICKS)
START_INTERVAL = 2 * MAX_INTERVAL + 1  # the first note of a melody: no interval
EMPTY = -1


@dataclass(frozen=True)
class NoteMemorySettings:
    capacity: int = 2048
    min_length: int = 2
    max_length: int = 12
    growth: float = 2.0


@dataclass(frozen=True)
class CopyPrediction:
    """Probabilities (not logs) over the pitch, rest and duration vocabularies, and the
    longest match (0: nothing matched; the arrays are then uniform)."""

    pitch: np.ndarray
    rest: np.ndarray
    duration: np.ndarray
    length: int


def note_symbol(interval: int | None, rest_ticks: int, duration_ticks: int) -> int:
    iv = START_INTERVAL if interval is None else interval_symbol(interval)
    rhythm = enc.rest_index(rest_ticks) * len(enc.DURATION_TICKS) + enc.duration_index(
        duration_ticks)
    return iv * N_RHYTHM + rhythm


class NoteMemory:
    """See the module docstring."""

    def __init__(self, settings: NoteMemorySettings | None = None) -> None:
        self.settings = settings or NoteMemorySettings()
        n = self.settings.capacity
        self._symbols = np.full(n, EMPTY, dtype=np.int64)
        self._match = np.zeros(n, dtype=np.int64)
        self.reset()

    def reset(self) -> None:
        """Forget the tune (a new one starts)."""
        self._symbols.fill(EMPTY)
        self._match.fill(0)
        self._count = 0
        self.restart()

    def restart(self) -> None:
        """A new melody starts within the tune (the context is broken, the notes stay)."""
        self._match.fill(0)
        self._last_pitch: int | None = None
        self._last_end: int | None = None
        self._learn_pitch: int | None = None
        self._learn_end: int | None = None

    @property
    def notes(self) -> int:
        return min(self._count, self.settings.capacity)

    @staticmethod
    def _symbol(note: GridNote, meter: Meter, pitch: int | None, end: int | None) -> int:
        p = enc.fold_pitch(note.pitch)
        rest = enc.first_rest(note.onset, meter) if end is None else note.onset - end
        return note_symbol(None if pitch is None else p - pitch, rest, note.duration)

    def learn(self, note: GridNote, meter: Meter) -> None:
        """Remember a note of the player (call before :meth:`follow` with the same note)."""
        sym = self._symbol(note, meter, self._learn_pitch, self._learn_end)
        self._learn_pitch, self._learn_end = enc.fold_pitch(note.pitch), note.onset + note.duration
        n = self.settings.capacity
        slot = self._count % n
        self._symbols[slot] = sym
        self._match[slot] = 0  # a new position has no match yet
        self._count += 1

    def follow(self, note: GridNote, meter: Meter) -> None:
        """The melody went on with ``note`` (the player's or the instrument's own)."""
        sym = self._symbol(note, meter, self._last_pitch, self._last_end)
        self._last_pitch, self._last_end = enc.fold_pitch(note.pitch), note.onset + note.duration
        n = self.settings.capacity
        # match[i] <- match[i - 1] + 1 where symbol i equals the new symbol, else 0.
        prev = np.roll(self._match, 1)
        if self._count < n:
            prev[0] = 0  # slot 0 has no predecessor until the ring wraps
        else:
            oldest = self._count % n  # slot of the oldest note: its predecessor is gone
            prev[oldest] = 0
        np.copyto(self._match, np.where(self._symbols == sym, prev + 1, 0))

    def predict(self) -> CopyPrediction:
        """What followed the current context before (see the module docstring)."""
        s = self.settings
        n = s.capacity
        uniform = CopyPrediction(np.full(enc.N_PITCHES, 1.0 / enc.N_PITCHES),
                                 np.full(len(enc.REST_TICKS), 1.0 / len(enc.REST_TICKS)),
                                 np.full(len(enc.DURATION_TICKS), 1.0 / len(enc.DURATION_TICKS)),
                                 0)
        if self._last_pitch is None or self._count < 2:
            return uniform
        match = self._match.copy()
        newest = (self._count - 1) % n
        match[newest] = 0  # no note follows the newest one yet
        hits = np.flatnonzero(match >= s.min_length)
        if not len(hits):
            return uniform
        nxt = self._symbols[(hits + 1) % n]
        ok = nxt != EMPTY
        hits, nxt = hits[ok], nxt[ok]
        if not len(hits):
            return uniform
        lengths = match[hits]
        w = s.growth ** np.minimum(lengths, s.max_length).astype(np.float64)
        iv_sym, rhythm = np.divmod(nxt, N_RHYTHM)
        rest_i, dur_i = np.divmod(rhythm, len(enc.DURATION_TICKS))
        pitch = np.zeros(enc.N_PITCHES)
        starts = iv_sym == START_INTERVAL
        target = self._last_pitch + iv_sym - MAX_INTERVAL - enc.PITCH_LOW
        inside = (~starts) & (target >= 0) & (target < enc.N_PITCHES)
        np.add.at(pitch, target[inside], w[inside])
        rest = np.bincount(rest_i, weights=w, minlength=len(enc.REST_TICKS))
        duration = np.bincount(dur_i, weights=w, minlength=len(enc.DURATION_TICKS))
        pitch = pitch / pitch.sum() if pitch.sum() > 0 else uniform.pitch
        return CopyPrediction(pitch, rest / rest.sum(), duration / duration.sum(),
                              int(lengths.max()))
