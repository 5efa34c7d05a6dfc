"""MIDI clock, 24 ticks a quarter note: followed in (an external clock leads the beat)
and written out (the instrument leads a drum machine or a sequencer). Engine thread.

MIDI clock counts quarter notes whatever the meter, so a beat of the grid is
:func:`clocks_per_beat` clocks: 24 for a quarter (4/4, 3/4, 2/4), 36 for the dotted
quarter of 6/8, 9/8 and 12/8, 12 for an eighth (3/8). A receiver then plays the tempo and
the eighths that were played.
"""

from __future__ import annotations

from instrument.music import Meter
from instrument.timing.beat import BeatClock, clamp_bpm

CLOCKS_PER_QUARTER = 24


def clocks_per_beat(meter: Meter) -> int:
    """MIDI clocks in one beat of ``meter`` (see the module docstring)."""
    eighths = 3 if meter.compound else 1
    return CLOCKS_PER_QUARTER * 4 * eighths // meter.denominator


class MidiClockFollower:
    """Follows external MIDI clock: tempo from tick spacing, transport from start/stop.

    Feed it every 0xF8/0xFA/0xFB/0xFC message with its arrival time; it moves ``clock``
    (a beat of its meter is :func:`clocks_per_beat` ticks). The tempo is the mean over
    the last quarter note's worth of ticks, which smooths the jitter of USB MIDI.
    """

    def __init__(self, clock: BeatClock, window: int = CLOCKS_PER_QUARTER) -> None:
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
        per_beat = clocks_per_beat(self.clock.meter)
        if len(self._ticks) >= 3:
            spacing = (self._ticks[-1] - self._ticks[0]) / (len(self._ticks) - 1)
            if spacing > 0:
                self.clock.bpm = clamp_bpm(60.0 / (spacing * per_beat))
        if self.clock.running and self._count >= 0:
            self.clock.align(t, self._count / per_beat)

    def stale(self, now: float, timeout: float = 0.5) -> bool:
        """No tick for ``timeout`` seconds: the external clock stopped leading."""
        return self.last_tick is None or now - self.last_tick > timeout


def midi_clock_times(clock: BeatClock, start: float, end: float) -> list[tuple[float, int]]:
    """Times and indexes of the MIDI clock ticks (24 a quarter note) in [start, end)."""
    per_beat = clocks_per_beat(clock.meter)
    first = int(clock.beat_at(start) * per_beat)
    out = []
    n = first
    while True:
        t = clock.time_at(n / per_beat)
        if t >= end:
            return out
        if t >= start:
            out.append((t, n))
        n += 1
