"""Per-step timing: a fixed-size ring buffer of durations and their percentiles.

``record`` is O(1) and never allocates, so it can sit around every model step on the
engine thread; ``percentiles`` copies the buffer and is meant for reports and status.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class StepTimer:
    """The last ``capacity`` step durations, in seconds."""

    def __init__(self, capacity: int = 4096) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self._buf = np.zeros(capacity, dtype=np.float64)
        self._next = 0
        self.count = 0  # steps recorded since the last reset, including overwritten ones

    def record(self, seconds: float) -> None:
        self._buf[self._next] = seconds
        self._next = (self._next + 1) % len(self._buf)
        self.count += 1

    def durations(self) -> np.ndarray:
        """The retained durations, oldest first."""
        n = min(self.count, len(self._buf))
        if self.count <= len(self._buf):
            return self._buf[:n].copy()
        return np.roll(self._buf, -self._next).copy()

    def percentiles(self, qs: Sequence[float] = (50.0, 99.0, 99.9)) -> dict[float, float]:
        """Percentiles in seconds of the retained durations (NaN when none recorded)."""
        d = self.durations()
        if d.size == 0:
            return {q: float("nan") for q in qs}
        return {q: float(v) for q, v in zip(qs, np.percentile(d, list(qs)), strict=True)}

    def reset(self) -> None:
        self._next = 0
        self.count = 0
