"""Synthetic playing for the follower's tests: played beat times, notes on them, and the
follower run over them causally as the band reads it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from instrument.follow import BeatFollower, FollowSettings
from instrument.music import Meter

LEAD = 0.05  # the band reads a beat's prediction this long before it is due (s)


def played_beats(
    beats: int, bpm: float | Callable[[int], float], rubato: float = 0.0, seed: int = 0,
    start: float = 1.0,
) -> np.ndarray:
    """Times of ``beats`` played beats: ``bpm`` a tempo or a tempo per beat index, each
    beat's length scaled by a random ``rubato`` share (sd)."""
    rng = np.random.default_rng(seed)
    tempo = bpm if callable(bpm) else (lambda _k: bpm)
    lengths = np.array([60.0 / tempo(k) for k in range(beats - 1)])
    lengths *= 1.0 + rng.normal(0.0, rubato, len(lengths))
    return np.concatenate([[start], start + np.cumsum(lengths)])


TUNE = (67, 69, 71, 72, 74, 72, 71, 69, 67, 64, 62, 64, 66, 67, 71, 69)


def notes_on(
    beats: np.ndarray, bar: Sequence[float], beats_per_bar: int, first: float = 0,
    last: float | None = None, loud: int = 96, soft: int = 64,
    melody: Sequence[Sequence[int]] | None = None,
) -> list[tuple[float, int, int]]:
    """A note at each position of ``bar`` (beats from the downbeat) in every bar, from
    played beat ``first`` to before ``last``; downbeats loud, the rest soft. Pitches:
    the bars of ``melody`` in turn (one pitch per position), else TUNE note by note.
    Times between beats are interpolated within the played beat."""
    out = []
    k = np.arange(len(beats))
    stop = len(beats) - 1 if last is None else last
    for n, b0 in enumerate(range(0, len(beats) - 1, beats_per_bar)):
        for j, pos in enumerate(bar):
            at = b0 + pos
            if at < first or at >= stop:
                continue
            velocity = loud if pos == 0 else soft
            pitch = melody[n % len(melody)][j] if melody else TUNE[len(out) % len(TUNE)]
            out.append((float(np.interp(at, k, beats)), pitch, velocity))
    return out


@dataclass
class Tracking:
    """The follower's prediction of each played beat, read ``LEAD`` before it."""

    played: np.ndarray  # played beat times
    predicted: np.ndarray  # predicted time of the next beat (nan: no beat yet)
    numbers: np.ndarray  # its number in the follower's count
    bpm: np.ndarray
    confidence: np.ndarray
    follower: BeatFollower

    def errors_ms(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """|predicted - played| of played beats ``start:stop``, in ms."""
        return np.abs(self.predicted[start:stop] - self.played[start:stop]) * 1000.0

    def downbeats_right(self, beats_per_bar: int, start: int = 0, stop: int | None = None,
                        first_downbeat: int = 0) -> bool:
        """Whether the follower's downbeats fall on the played downbeats."""
        idx = np.arange(len(self.played))[start:stop]
        played_down = (idx - first_downbeat) % beats_per_bar == 0
        return bool(np.all((self.numbers[start:stop] % beats_per_bar == 0) == played_down))


def follow(
    notes: Sequence[tuple[float, int, int]], played: np.ndarray, meter: Meter,
    bpm: float = 100.0, settings: FollowSettings | None = None,
    follower: BeatFollower | None = None,
) -> Tracking:
    """Feed ``notes`` to a follower in time order; LEAD before each played beat, read
    the predicted time of the first beat after that moment (as the band plans it)."""
    f = follower or BeatFollower(meter, bpm, settings)
    n = len(played)
    pred, num, tempo, conf = (np.full(n, np.nan) for _ in range(4))
    events = sorted([(t, 0, i) for i, (t, _p, _v) in enumerate(notes)]
                    + [(played[b] - LEAD, 1, b) for b in range(n)])
    for t, kind, i in events:
        if kind == 0:
            _, pitch, velocity = notes[i]
            f.onset(t, pitch, velocity)
            continue
        f.advance(t)
        if f.has_beat:
            k = int(np.ceil(f.beat_at(t)))
            pred[i], num[i], tempo[i], conf[i] = f.time_at(k), k, f.bpm, f.confidence
    return Tracking(played, pred, num, tempo, conf, f)
