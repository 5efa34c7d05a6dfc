"""The hand-over point between the engine thread and pyo's audio callback.

The engine hands over planned notes (``SynthEvent``, due at a clock time) through a
``TimedQueue`` and commands (``call_soon``) through a lock-free deque; ``on_block`` runs
at the start of every audio block and plays what falls due inside that block at its
exact sample offset.

Real-time rules for ``on_block`` and every hook it calls: it runs inside pyo's audio
callback holding the GIL, once per block (1.3 ms at 48 kHz / 64 frames). It only pops
from queues (never waiting for a lock: see ``TimedQueue``), sets pyo attributes and
counts; it never blocks or logs.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from instrument.audio.synth import PolySynth
from instrument.timed_queue import TimedQueue

MAX_EVENTS_PER_BLOCK = 256


@dataclass(frozen=True, slots=True)
class SynthEvent:
    """A note start (velocity > 0) or stop (velocity 0) for one part, due at ``due``."""

    due: float
    part: str
    pitch: int
    velocity: int


class BlockTimer:
    """Estimates the clock time at which each audio block starts.

    The callback's own wake-up time jitters; a first-order lock onto the nominal period
    smooths it, and a jump of more than a few periods (an xrun, a stall) re-locks.
    """

    def __init__(self, period: float, now: Callable[[], float]) -> None:
        self.period = period
        self._now = now
        self.start: float | None = None
        self.relocks = 0

    def tick(self) -> float:
        measured = self._now()
        if self.start is None:
            self.start = measured
            return measured
        predicted = self.start + self.period
        error = measured - predicted
        if abs(error) > 4 * self.period:
            self.start = measured
            self.relocks += 1
        else:
            self.start = predicted + 0.1 * error
        return self.start


class AudioBridge:
    """Plays scheduled notes and runs hooks in the audio callback (see module doc)."""

    def __init__(
        self,
        synths: dict[str, PolySynth],
        sample_rate: int,
        block_size: int,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.synths = synths
        self.sample_rate = sample_rate
        self.block_size = block_size
        self.timer = BlockTimer(block_size / sample_rate, now)
        self._events: TimedQueue[SynthEvent] = TimedQueue()
        self._commands: deque[Callable[[], None]] = deque()
        self._hooks: list[Callable[[float], None]] = []
        self.blocks = 0
        self.late_events = 0  # planned notes that started more than a period late
        self.max_lateness = 0.0

    # -- engine thread ---------------------------------------------------------------

    def schedule(self, event: SynthEvent) -> None:
        """Hand over a planned note (any order; it plays at its due time)."""
        self._events.push(event.due, event)

    def call_soon(self, command: Callable[[], None]) -> None:
        """Run ``command`` at the start of the next audio block."""
        self._commands.append(command)

    def add_hook(self, hook: Callable[[float], None]) -> None:
        """Register ``hook(block_start)`` to run every block (set up before starting)."""
        self._hooks.append(hook)

    def cancel(self, part: str) -> None:
        """Engine thread: drop ``part``'s planned notes now; release its sounding ones at
        the next block."""
        self._events.drop(lambda _due, e: e.part == part)
        synth = self.synths.get(part)
        if synth is not None:
            self.call_soon(synth.release_all)

    def clear_planned(self) -> None:
        """Engine thread: forget every planned note (panic)."""
        self._events.clear()

    # -- audio callback --------------------------------------------------------------

    def on_block(self, start: float | None = None) -> None:
        """Start of an audio block. ``start`` is the block's exact time when the caller
        knows it (the JACK callback); pyo's own block callback passes nothing and the
        block timer estimates it. See the module docstring for the rules."""
        if start is None:
            start = self.timer.tick()
        self.blocks += 1
        for synth in self.synths.values():
            synth.tick()
        commands = self._commands
        while commands:
            commands.popleft()()
        for hook in self._hooks:
            hook(start)
        self._play_due(start)

    def _play_due(self, start: float) -> None:
        end = start + self.timer.period
        for _, event in self._events.pop_due(end, MAX_EVENTS_PER_BLOCK):
            offset = round((event.due - start) * self.sample_rate)
            if offset >= self.block_size:
                offset = self.block_size - 1
            elif offset < 0:
                # Late: it starts at once. Counted when later than one period.
                self.max_lateness = max(self.max_lateness, start - event.due)
                if offset < -self.block_size:
                    self.late_events += 1
                offset = 0
            synth = self.synths.get(event.part)
            if synth is None:
                continue
            if event.velocity > 0:
                synth.note_on(event.pitch, event.velocity, offset)
            else:
                synth.note_off(event.pitch, offset)

    def silence_all(self) -> None:
        """Audio callback: cut every part now and forget planned notes (panic)."""
        self._events.try_clear()
        for synth in self.synths.values():
            synth.release_all(fast=True)
