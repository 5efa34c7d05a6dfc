"""Tap tempo: the tempo of a note or a CC tapped on the beat (engine thread)."""

from __future__ import annotations

import statistics

from instrument.timing.beat import clamp_bpm


class TapTempo:
    """Tempo from taps: the median of the last intervals; a pause starts a new count.

    Each tap also marks a beat, so the phase follows the taps.
    """

    def __init__(self, max_taps: int = 6, reset_after: float = 2.0) -> None:
        self.max_taps = max_taps
        self.reset_after = reset_after
        self._taps: list[float] = []

    def tap(self, t: float) -> float | None:
        """Register a tap; return the tempo once two taps make an interval."""
        if self._taps and t - self._taps[-1] > self.reset_after:
            self._taps.clear()
        self._taps.append(t)
        self._taps = self._taps[-self.max_taps :]
        if len(self._taps) < 2:
            return None
        intervals = [b - a for a, b in zip(self._taps, self._taps[1:], strict=False)]
        interval = statistics.median(intervals)
        if interval <= 0:
            return None
        return clamp_bpm(60.0 / interval)
