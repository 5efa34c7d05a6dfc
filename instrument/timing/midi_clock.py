"""MIDI clock, 24 ticks a beat: followed in (an external clock leads the beat) and
written out (the instrument leads a drum machine or a sequencer). Engine thread."""

from __future__ import annotations

from instrument.timing.beat import BeatClock, clamp_bpm

CLOCKS_PER_BEAT = 24


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
