"""One clock interface, two clocks: live (wall time) and offline (advanced by hand).

The engine only ever asks its clock for ``now()`` and to ``wait(wakeup, until)`` (until
a time, or until its wakeup is set: a ``threading.Event`` or an
``instrument.realtime.wakeup.Wakeup``), so the same engine code runs live and in offline
rendering and tests, where the transcript of what it played is exact and repeatable.
The JACK clock (``instrument.jack.client.JackClock``) counts JACK frames.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """Seconds on a monotonic time line shared by inputs, the engine and the outputs."""

    def now(self) -> float: ...

    def wait(self, event: threading.Event, until: float) -> bool:
        """Block until ``until`` or until ``event`` is set; True if the event was set.

        ``event`` is anything with ``wait(timeout)`` and ``is_set()``."""
        ...


class LiveClock:
    """Wall time from ``time.monotonic()``; MIDI callbacks stamp events with it."""

    def now(self) -> float:
        return time.monotonic()

    def wait(self, event: threading.Event, until: float) -> bool:
        return event.wait(max(0.0, until - time.monotonic()))


class OfflineClock:
    """Time that moves only when told to: deterministic rendering and tests."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance_to(self, t: float) -> None:
        if t < self._now:
            raise ValueError(f"offline clock cannot go back from {self._now} to {t}")
        self._now = t

    def wait(self, event: threading.Event, until: float) -> bool:
        if event.is_set():
            return True
        self.advance_to(max(self._now, until))
        return False
