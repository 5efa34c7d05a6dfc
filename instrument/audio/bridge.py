"""The hand-over point between the engine thread and pyo's audio callback.

The engine hands over planned notes (``SynthEvent``, due at a clock time) and commands
(``call_soon``) through lock-free deques; pyo calls ``on_block`` at the start of every
audio block, which plays what falls due inside that block at its exact sample offset.

Real-time rules for ``on_block`` and every hook it calls: it runs inside pyo's audio
callback holding the GIL, once per block (1.3 ms at 48 kHz / 64 frames). It only pops
from deques, sets pyo attributes and counts; it never blocks, logs, or waits on a lock
another thread may hold for long.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from instrument.audio.synth import PolySynth

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
        self._events: deque[SynthEvent] = deque()
        self._commands: deque[Callable[[], None]] = deque()
        self._hooks: list[Callable[[float], None]] = []
        self.blocks = 0
        self.late_events = 0
        self.max_lateness = 0.0

    # -- engine thread ---------------------------------------------------------------

    def schedule(self, event: SynthEvent) -> None:
        """Hand over a planned note; events must arrive in due order."""
        self._events.append(event)

    def call_soon(self, command: Callable[[], None]) -> None:
        """Run ``command`` at the start of the next audio block."""
        self._commands.append(command)

    def add_hook(self, hook: Callable[[float], None]) -> None:
        """Register ``hook(block_start)`` to run every block (set up before starting)."""
        self._hooks.append(hook)

    def cancel(self, part: str) -> None:
        """Drop ``part``'s planned notes and release its sounding ones (next block)."""
        self.call_soon(lambda: self._drop_part(part))

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
        events = self._events
        for _ in range(MAX_EVENTS_PER_BLOCK):
            if not events or events[0].due >= end:
                return
            event = events.popleft()
            offset = round((event.due - start) * self.sample_rate)
            if offset >= self.block_size:
                offset = self.block_size - 1
            elif offset < 0:
                self.late_events += 1
                self.max_lateness = max(self.max_lateness, start - event.due)
                offset = 0
            synth = self.synths.get(event.part)
            if synth is None:
                continue
            if event.velocity > 0:
                synth.note_on(event.pitch, event.velocity, offset)
            else:
                synth.note_off(event.pitch, offset)

    def _drop_part(self, part: str) -> None:
        kept = [e for e in self._events if e.part != part]
        self._events.clear()
        self._events.extend(kept)
        synth = self.synths.get(part)
        if synth is not None:
            synth.release_all()

    def silence_all(self) -> None:
        """Audio callback: cut every part now and forget planned notes (panic)."""
        self._events.clear()
        for synth in self.synths.values():
            synth.release_all(fast=True)
