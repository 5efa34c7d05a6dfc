"""Planned notes, from the engine thread to the synth, each on its own sample.

The engine hands over planned notes (``SynthEvent``, due at a clock time) and the two
commands it needs, "release this part's voices" and "silence everything", through one
``DueQueue``; ``play_due(start)`` runs at the start of every audio block and plays what
falls due inside that block at its exact sample offset. Commands are queued as events
due at once, after the queue has dropped what they cancel, so their order with the
notes is kept.

Real-time rules (see ``instrument.realtime``): ``play_due``, ``silence_all`` and
``BlockTimer.tick`` run inside the audio callback; they never wait, log or allocate
beyond what ``DueQueue`` does; at most ``MAX_EVENTS_PER_BLOCK`` events are played per
block, the rest wait for the next.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from instrument.audio.voices import PartSound
from instrument.realtime.due_queue import DueQueue

MAX_EVENTS_PER_BLOCK = 256
RELEASE_PART = -1  # SynthEvent.pitch of the command "release this part's voices"
SILENCE_ALL = -2  # ... and of "cut every part now"
AT_ONCE = float("-inf")  # the due time of commands


@dataclass(frozen=True, slots=True)
class SynthEvent:
    """A note start (velocity > 0) or stop (velocity 0) for one part, due at ``due``;
    a ``pitch`` below 0 is a command (``RELEASE_PART``, ``SILENCE_ALL``)."""

    due: float
    part: str
    pitch: int
    velocity: int


class BlockTimer:
    """Estimates the clock time at which each audio block starts (pyo's own callback).

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


class PlannedNotes:
    """Plays scheduled notes on the part synths (see the module docstring)."""

    def __init__(self, synths: dict[str, PartSound], sample_rate: int, block_size: int) -> None:
        self.synths = synths
        self.sample_rate = sample_rate
        self.block_size = block_size
        self.period = block_size / sample_rate
        self._queue: DueQueue[SynthEvent] = DueQueue()
        self.blocks = 0
        self.late_events = 0  # planned notes that started more than a period late
        self.max_lateness = 0.0

    # -- engine thread ---------------------------------------------------------------

    def schedule(self, event: SynthEvent) -> None:
        """Hand over a planned note (any order; it plays at its due time)."""
        self._queue.push(event.due, event, event.part)

    def cancel(self, part: str, now: float) -> None:
        """Drop ``part``'s planned notes due after ``now``; release its sounding ones at
        the next block."""
        self._queue.drop(part, now)
        self._queue.push(AT_ONCE, SynthEvent(AT_ONCE, part, RELEASE_PART, 0), part)

    def panic(self) -> None:
        """Forget every planned note and cut every part at the next block."""
        self._queue.clear()
        self._queue.push(AT_ONCE, SynthEvent(AT_ONCE, "", SILENCE_ALL, 0))

    # -- audio callback --------------------------------------------------------------

    def play_due(self, start: float) -> None:
        """Start of the audio block beginning at clock time ``start``."""
        self.blocks += 1
        for synth in self.synths.values():
            synth.tick()
        queue = self._queue
        queue.sync()
        end = start + self.period
        n = 0
        while n < MAX_EVENTS_PER_BLOCK:
            due = queue.head_due()
            if due is None or due >= end:
                break
            event = queue.pop()
            n += 1
            if event.pitch < 0:
                self._command(event)
                continue
            offset = round((due - start) * self.sample_rate)
            if offset >= self.block_size:
                offset = self.block_size - 1
            elif offset < 0:
                # Late: it starts at once. Counted when later than one period.
                lateness = start - due
                if lateness > self.max_lateness:
                    self.max_lateness = lateness
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

    def _command(self, event: SynthEvent) -> None:
        if event.pitch == SILENCE_ALL:
            self.silence_all()
            return
        synth = self.synths.get(event.part)
        if synth is not None:
            synth.release_all()

    def silence_all(self) -> None:
        """Audio callback: cut every part now and forget planned notes (panic)."""
        self._queue.clear_now()
        for synth in self.synths.values():
            synth.release_all(fast=True)

    def __len__(self) -> int:
        return len(self._queue)
