"""The player's onsets as the follower hears them: chords grouped, each with an accent.

Notes that begin less than ``window`` seconds after a group's first note are one onset (a
chord, or a melody note and its bass): the onset's time is its first note's, its
velocity its loudest note's, and it remembers how many notes it had and its lowest
and highest pitch (the melody is taken to be the top note). A group is complete when a
note begins after the window, or when the time is past it (``flush``).

:class:`Accents` turns an onset into an accent strength, a number near 0 for an
ordinary note, positive for a stressed one: louder than the player's recent notes,
more notes at once, lower than the recent bass; and, once the next onset has come,
longer than the recent inter-onset intervals. Strong beats tend to carry such notes.
Everything is running averages: constant memory and time.

:class:`Contour` gives each onset, once the next one has come, the code of the melodic
intervals into and out of its top note (:func:`instrument.follow.prior.interval_code`):
notes on the beat are approached and left differently from notes between beats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from instrument.follow.prior import INTERVAL_CODES, interval_code


@dataclass(slots=True)
class Onset:
    time: float
    velocity: int
    notes: int
    lowest: int
    highest: int


class OnsetGrouper:
    """Groups note-ons into onsets (see the module docstring)."""

    def __init__(self, window: float = 0.04) -> None:
        self.window = window
        self.pending: Onset | None = None

    def add(self, t: float, pitch: int, velocity: int) -> Onset | None:
        """A note-on; returns the previous group when this note starts a new one."""
        group = self.pending
        if group is not None and t < group.time + self.window:
            group.velocity = max(group.velocity, velocity)
            group.notes += 1
            group.lowest = min(group.lowest, pitch)
            group.highest = max(group.highest, pitch)
            return None
        self.pending = Onset(t, velocity, 1, pitch, pitch)
        return group

    def flush(self, now: float) -> Onset | None:
        """The pending group, if no more notes can join it by ``now``."""
        group = self.pending
        if group is not None and now >= group.time + self.window:
            self.pending = None
            return group
        return None

    def clear(self) -> None:
        self.pending = None


class Accents:
    """Accent strength of onsets against running averages of the player's playing."""

    def __init__(self, rate: float = 0.1, warm_up: int = 8) -> None:
        self.rate = rate
        self.warm_up = warm_up
        self.reset()

    def reset(self) -> None:
        self._vel_mean: float | None = None
        self._vel_var = 100.0
        self._low_mean: float | None = None
        self._log_ioi: float | None = None
        self._heard = 0

    def strength(self, onset: Onset) -> float:
        """Accent of an onset when it is heard: loudness, chord size and register."""
        a = self.rate
        v = float(onset.velocity)
        if self._vel_mean is None:
            self._vel_mean, self._low_mean = v, float(onset.lowest)
            return 0.0
        dv = v - self._vel_mean
        z = dv / math.sqrt(max(self._vel_var, 16.0))
        z += 0.5 * min(onset.notes - 1, 3)
        low = self._low_mean if self._low_mean is not None else float(onset.lowest)
        z += max(-1.0, min(1.0, (low - onset.lowest) / 12.0))
        self._vel_mean += a * dv
        self._vel_var += a * (dv * dv - self._vel_var)
        self._low_mean = low + a * (onset.lowest - low)
        self._heard += 1
        # The running figures settle over the first notes: trust them gradually.
        return max(-3.0, min(3.0, z)) * min(1.0, self._heard / self.warm_up)

    def length(self, ioi: float) -> float:
        """Accent of the previous onset once its inter-onset interval is known."""
        if ioi <= 0.0:
            return 0.0
        x = math.log2(ioi)
        if self._log_ioi is None:
            self._log_ioi = x
            return 0.0
        z = x - self._log_ioi
        self._log_ioi += self.rate * z
        return max(-1.0, min(2.0, z))


class Contour:
    """The interval codes of the previous onset (see the module docstring)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._before: int | None = None
        self._last: int | None = None

    def step(self, onset: Onset) -> int:
        """This onset heard: the previous onset's code, into it and out of it, as
        ``into * INTERVAL_CODES + out``; -1 while fewer than three onsets were heard."""
        pitch = onset.highest
        before, last = self._before, self._last
        self._before, self._last = last, pitch
        if before is None or last is None:
            return -1
        return interval_code(last - before) * INTERVAL_CODES + interval_code(pitch - last)
