"""The beat: a clock of beats on the engine's time line, and what sets its tempo.

``BeatClock`` maps clock seconds to beats and back. Tempo sources move it:

- ``TapTempo``: a note or a CC tapped on the beat;
- ``MidiClockFollower``: external MIDI clock (24 ticks a beat; start, stop, continue);
- ``instrument.timing.link``: Ableton Link, when the optional binding is installed;
- otherwise the tempo from the config or a preset.

``midi_clock_events`` writes MIDI clock out for the beats the instrument leads.

Everything here runs on the engine thread; other threads only read a ``BeatClock``
through ``mapping()``.
"""

from __future__ import annotations

import statistics
from collections import deque

from instrument.music import TICKS_PER_BEAT, Meter

MIN_BPM = 30.0
MAX_BPM = 300.0
CLOCKS_PER_BEAT = 24


def clamp_bpm(bpm: float) -> float:
    return min(MAX_BPM, max(MIN_BPM, bpm))


class BeatClock:
    """Beats on the clock's time line: ``beat_at(t)`` and ``time_at(beat)``.

    Beat 0 is the first downbeat. Tempo changes keep the beat continuous: the clock is
    re-anchored at the moment of the change. ``running`` is False until something
    starts it (the player's first note, a count-in, MIDI Start, Link).

    The mapping (anchor time, anchor beat, seconds per beat) is one tuple replaced
    whole at each change, so another thread reading it with ``mapping()`` never sees
    half of a change. Every change is also logged, numbered, with whether the clock runs
    (the last ``CHANGES_KEPT``): the recorder reads them (``changes_since``) to write the
    tempo map as it was played. Changes come from the engine thread.
    """

    CHANGES_KEPT = 256

    def __init__(self, bpm: float = 100.0, meter: Meter | None = None) -> None:
        self.meter = meter if meter is not None else Meter(4, 4)
        self._running = False
        self._changes: deque[tuple[int, bool, tuple[float, float, float]]] = deque(
            maxlen=self.CHANGES_KEPT
        )
        self._count = 0
        self._set((0.0, 0.0, 60.0 / clamp_bpm(bpm)))

    def _set(self, mapping: tuple[float, float, float], running: bool | None = None) -> None:
        if running is not None:
            self._running = running
        self._map = mapping
        self._count += 1
        self._changes.append((self._count, self._running, mapping))

    @property
    def running(self) -> bool:
        return self._running

    @running.setter
    def running(self, running: bool) -> None:
        if running != self._running:
            self._set(self._map, running)

    def changes_since(self, count: int) -> list[tuple[int, bool, tuple[float, float, float]]]:
        """(number, running, mapping) of the changes numbered above ``count``, in order
        (any thread; copying the log is one C call)."""
        return [c for c in list(self._changes) if c[0] > count]

    def mapping(self) -> tuple[float, float, float]:
        """(anchor time, beat at the anchor, seconds per beat), consistent (any thread)."""
        return self._map

    @property
    def bpm(self) -> float:
        return 60.0 / self._map[2]

    @bpm.setter
    def bpm(self, bpm: float) -> None:
        """Set the tempo around the current anchor (callers then ``align``)."""
        t, b, _ = self._map
        self._set((t, b, 60.0 / clamp_bpm(bpm)))

    @property
    def anchor_time(self) -> float:
        return self._map[0]

    @property
    def anchor_beat(self) -> float:
        return self._map[1]

    @property
    def seconds_per_beat(self) -> float:
        return self._map[2]

    @property
    def seconds_per_tick(self) -> float:
        return self._map[2] / TICKS_PER_BEAT

    def beat_at(self, t: float) -> float:
        anchor_time, anchor_beat, spb = self._map
        return anchor_beat + (t - anchor_time) / spb

    def time_at(self, beat: float) -> float:
        anchor_time, anchor_beat, spb = self._map
        return anchor_time + (beat - anchor_beat) * spb

    def tick_at(self, t: float) -> int:
        """The grid tick nearest to time ``t`` (12 ticks a beat)."""
        return round(self.beat_at(t) * TICKS_PER_BEAT)

    def time_of_tick(self, tick: float) -> float:
        return self.time_at(tick / TICKS_PER_BEAT)

    def start(self, t: float, beat: float = 0.0) -> None:
        """Start (or restart) with ``beat`` falling at time ``t``."""
        self._set((t, beat, self._map[2]), running=True)

    def stop(self) -> None:
        self.running = False

    def set_tempo(self, bpm: float, t: float) -> None:
        """Change tempo at time ``t`` without a jump in the beat position."""
        self._set((t, self.beat_at(t), 60.0 / clamp_bpm(bpm)))

    def align(self, t: float, beat: float) -> None:
        """Make ``beat`` fall at ``t`` (phase correction), keeping the tempo."""
        self._set((t, beat, self._map[2]))

    def place(self, t: float, beat: float, bpm: float) -> None:
        """Make ``beat`` fall at ``t`` at ``bpm``: phase and tempo in one change."""
        self._set((t, beat, 60.0 / clamp_bpm(bpm)))

    def next_beat(self, t: float) -> int:
        """The first whole beat at or after ``t``."""
        b = self.beat_at(t)
        whole = int(b)
        return whole if abs(b - whole) < 1e-9 else int(b // 1 + 1)


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


class MidiClockFollower:
    """Follows external MIDI clock: tempo from tick spacing, transport from start/stop.

    Feed it every 0xF8/0xFA/0xFB/0xFC message with its arrival time; it moves ``clock``.
    The tempo is the mean over the last beat's worth of ticks, which smooths the jitter
    of USB MIDI.
    """

    def __init__(self, clock: BeatClock, window: int = CLOCKS_PER_BEAT) -> None:
        self.clock = clock
        self.window = window
        self._ticks: list[float] = []
        self._count = 0  # clock ticks since start
        self.active = False  # ticks seen recently: the external clock leads
        self.last_tick: float | None = None

    def on_message(self, status: int, t: float) -> None:
        if status == 0xFA:  # start: the next tick is beat 0
            self._count = -1
            self._ticks.clear()
            self.active = True
            self.clock.start(t, 0.0)
        elif status == 0xFB:  # continue from where we stopped
            self.active = True
            self.clock.running = True
        elif status == 0xFC:
            self.clock.stop()
        elif status == 0xF8:
            self._tick(t)

    def _tick(self, t: float) -> None:
        self.active = True
        self.last_tick = t
        self._count += 1
        self._ticks.append(t)
        self._ticks = self._ticks[-(self.window + 1) :]
        if len(self._ticks) >= 3:
            spacing = (self._ticks[-1] - self._ticks[0]) / (len(self._ticks) - 1)
            if spacing > 0:
                self.clock.bpm = clamp_bpm(60.0 / (spacing * CLOCKS_PER_BEAT))
        if self.clock.running and self._count >= 0:
            self.clock.align(t, self._count / CLOCKS_PER_BEAT)

    def stale(self, now: float, timeout: float = 0.5) -> bool:
        """No tick for ``timeout`` seconds: the external clock stopped leading."""
        return self.last_tick is None or now - self.last_tick > timeout


def midi_clock_times(clock: BeatClock, start: float, end: float) -> list[tuple[float, int]]:
    """Times and indexes of the MIDI clock ticks (24 a beat) in [start, end)."""
    first = int(clock.beat_at(start) * CLOCKS_PER_BEAT)
    out = []
    n = first
    while True:
        t = clock.time_at(n / CLOCKS_PER_BEAT)
        if t >= end:
            return out
        if t >= start:
            out.append((t, n))
        n += 1
