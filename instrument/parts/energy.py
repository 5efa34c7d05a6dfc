"""How much the player is putting in: an energy from 0 (long, soft notes) to 1 (a torrent).

The band plays to it: which parts play, how busy their patterns are, and how hard they
strike (``instrument.parts.style_player``). Two readings make it:

- **busy**: the player's onsets per beat over the last ``window_bars`` bar (the notes
  of a chord count once; the tune so far when it is shorter), with compound meters'
  beats counted as their three eighths' two: eighths are 0.6 in a reel and a jig alike,
  sixteenths 0.84, a note a beat 0.4, a note a bar 0 (``0.4 + 0.22 log2`` of the onsets
  per simple beat, clipped), weighed with the same over the last beat alone (or, on a
  repeat the tune memory recognises, the beat to come as the player played it before),
  so the band thins within the bar where the player holds a long note;
- **loud**: the player's smoothed velocity (:class:`~instrument.parts.dynamics.Dynamics`)
  from 40 (0) to 120 (1).

``energy = BUSY_SHARE * busy + (1 - BUSY_SHARE) * loud``; before the player has played,
``DEFAULT``. The feel a style is chosen for (:meth:`Energy.feel`) is read from ``busy``
and the onsets per second over the last ``feel_bars`` (a slow tune of eighths is still
an air; a phrase's last long notes do not make a reel one).

Engine thread only; constant work per note and per reading.
"""

from __future__ import annotations

import math
from collections import deque

from instrument.music import Meter
from instrument.parts.dynamics import CHORD_WINDOW
from instrument.styles.style import Feel

DEFAULT = 0.5
BUSY_SHARE = 0.75
LAST_BEAT_SHARE = 0.7  # of busy: the last beat's (or the expected beat's), the rest the bar's
SPARSE_BELOW = 0.25  # busy under this: a sparse feel (a note a beat and a half or fewer)...
BUSY_FROM = 0.55  # ...over this a busy one (about eighths); steady between
SPARSE_RATE = 1.6  # onsets per second under which the playing is sparse (a slow air)...
BUSY_RATE = 2.5  # ...and from which busy playing can be busy (a reel, a jig: eighths from 75 bpm)
_MAX_ONSETS = 256


class Energy:
    """See the module docstring."""

    def __init__(self, window_bars: float = 1.0, feel_bars: float = 8.0) -> None:
        self.window_bars = window_bars
        self.feel_bars = feel_bars
        self._onsets: deque[float] = deque(maxlen=_MAX_ONSETS)

    def reset(self) -> None:
        self._onsets.clear()

    def hear(self, t: float) -> None:
        """The player began a note at ``t`` (a chord's notes count once)."""
        if self._onsets and t - self._onsets[-1] <= CHORD_WINDOW:
            return
        self._onsets.append(t)

    def _per_beat(self, now: float, seconds_per_beat: float, meter: Meter, bars: float) -> float:
        window = bars * meter.beats_per_bar * seconds_per_beat
        count = sum(1 for t in self._onsets if now - window < t <= now)
        heard = min(window, now - self._onsets[0] + seconds_per_beat)  # the tune so far
        return count * seconds_per_beat / max(heard, seconds_per_beat)

    def busy(self, now: float, seconds_per_beat: float, meter: Meter,
             bars: float | None = None) -> float | None:
        """0..1 from the onsets per beat over the last ``bars`` (the window); None
        before any note."""
        if not self._onsets:
            return None
        return _busy(self._per_beat(now, seconds_per_beat, meter, bars or self.window_bars),
                     meter)

    def level(self, now: float, seconds_per_beat: float, meter: Meter,
              loudness: float | None, expected: int | None = None) -> float:
        """The energy (see the module docstring); ``loudness``: the smoothed velocity;
        ``expected``: the notes the tune memory expects in the beat to come (a repeat),
        which stand for the last beat's."""
        bar = self.busy(now, seconds_per_beat, meter)
        if bar is None:
            return DEFAULT
        if expected is None:  # the last beat's onsets stand for the coming beat's
            beat = _busy(self._per_beat(now, seconds_per_beat, meter, 1.0 / meter.beats_per_bar),
                         meter)
        else:
            beat = _busy(expected, meter)
        busy = (1.0 - LAST_BEAT_SHARE) * bar + LAST_BEAT_SHARE * beat
        loud = 0.5 if loudness is None else min(1.0, max(0.0, (loudness - 40.0) / 80.0))
        return BUSY_SHARE * busy + (1.0 - BUSY_SHARE) * loud

    def feel(self, now: float, seconds_per_beat: float, meter: Meter,
             bars: float | None = None) -> Feel | None:
        """The feel of the playing over the last ``bars`` (``feel_bars`` by default;
        None before any note): sparse when the notes are few to the beat or slow in
        time, busy when many and quick, else steady."""
        if not self._onsets:
            return None
        per_beat = self._per_beat(now, seconds_per_beat, meter, bars or self.feel_bars)
        busy = _busy(per_beat, meter)
        per_second = per_beat / seconds_per_beat
        if busy < SPARSE_BELOW or per_second < SPARSE_RATE:
            return Feel.SPARSE
        if busy >= BUSY_FROM and per_second >= BUSY_RATE:
            return Feel.BUSY
        return Feel.STEADY


def _busy(per_beat: float, meter: Meter) -> float:
    """0..1 from onsets per beat (see the module docstring)."""
    if meter.compound:
        per_beat /= 1.5  # a dotted-quarter beat's three eighths are two simple eighths
    if per_beat <= 0:
        return 0.0
    return min(1.0, max(0.0, 0.4 + 0.22 * math.log2(per_beat)))
