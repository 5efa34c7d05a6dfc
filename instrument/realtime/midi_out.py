"""MIDI out, from the engine thread to the wire, each message at its due time.

``MidiOutQueue`` is what the engine's ``MidiOutput`` sends to: messages with a due time
(planned notes, MIDI clock) or none (the player's own, which have already happened and
leave with the next cycle). Two consumers read it:

- the JACK cycle, ``write_cycle``: each message due before the end of the cycle is
  written into the port buffer at its frame; a message is removed only once JACK took
  it, so a full buffer delays it to the next cycle instead of losing it. Messages that
  are late (their frame has passed: a backlog after a full buffer, a stall) all go at
  the cycle's first frame, note-offs first (but never before their own note-on). At
  most ``MAX_PER_CYCLE`` messages are written per cycle;
- the rtmidi sender thread (``RtMidiOutput``, ALSA): ``take_due(now)`` hands over what is
  due, and the thread writes it.

A planned message other than a note-off that is more than ``STALE`` seconds late is
dropped and counted (a chord two seconds late is wrong music); note-offs are never
dropped.

The player's own messages of a JACK cycle (``player_out.CycleMessages``) are merged into
that cycle's output at their own frames, in frame order with the due messages; what
does not fit waits for the next cycle like any message.

It remembers which notes it sent on each channel (and whether the sustain pedal is
down), as they left: ``sounding``; ``release_sounding`` sends each of them a note-off
(the pedal up, then CC 123/120), so gear that ignores those controllers stops too when
the engine process dies or the instrument stops.

Real-time rules (see ``instrument.realtime``): ``write_cycle`` runs in the JACK cycle.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from instrument.midi import messages as mm
from instrument.realtime.due_queue import DueQueue
from instrument.realtime.player_out import NO_MESSAGES, CycleMessages

MAX_PER_CYCLE = 256
STALE = 1.0  # seconds late after which a planned message other than a note-off is dropped
AT_ONCE = float("-inf")  # due time of the player's own messages


def _releases(message: bytes) -> bool:
    """Note-offs and the all-notes/all-sound-off controls: must never be lost."""
    return mm.is_note_off(message) or mm.is_panic(message)


class MidiOutQueue:
    """Timed MIDI out messages (see the module docstring)."""

    def __init__(self, on_push: Callable[[], None] | None = None) -> None:
        # Messages as bytes, so a cycle copies them into JACK's buffer as they are.
        self._queue: DueQueue[bytes] = DueQueue()
        self._on_push = on_push
        # Late messages of one cycle, held while note-offs go first.
        self._late: list[tuple[float, bytes]] = []
        self._late_ons: set[tuple[int, int]] = set()
        self._late_first: set[int] = set()
        self.sent = 0
        self.late = 0  # planned messages that left more than one period after their time
        self.max_late = 0.0  # seconds
        self.deferred = 0  # messages that did not fit their cycle and waited
        self.dropped = 0  # stale messages dropped (never a note-off)
        # Written by the consumer as messages leave: note (channel * 128 + pitch) -> 1
        # while it sounds; channel -> 1 while its sustain pedal is down.
        self._sounding = bytearray(16 * 128)
        self._pedal = bytearray(16)

    # -- engine thread -----------------------------------------------------------------

    def send(self, message: Sequence[int], due: float | None = None) -> None:
        """Queue a message: ``None`` leaves with the next cycle, a due time at its time."""
        msg = bytes(message)
        key = mm.channel_of(msg[0])
        self._queue.push(AT_ONCE if due is None else due, msg, key)
        if self._on_push is not None:
            self._on_push()

    def drop_pending(self) -> None:
        """Forget messages not yet sent (panic: what was not due never happens)."""
        self._queue.clear()

    def drop_channel(self, channel: int, after: float) -> None:
        """Forget queued messages on ``channel`` (1-16; 0: system messages, i.e. MIDI
        clock) due after ``after``."""
        self._queue.drop(channel, after)

    def __len__(self) -> int:
        return len(self._queue)

    def synced(self) -> bool:
        """Whether the consumer has taken in every message and command sent so far."""
        return self._queue.synced()

    def sounding(self, channel: int) -> list[int]:
        """Any thread (a snapshot): the pitches sent a note-on and no note-off yet on
        ``channel`` (1-16)."""
        base = (channel - 1) * 128
        notes = self._sounding
        return [pitch for pitch in range(128) if notes[base + pitch]]

    def release_sounding(self, channels) -> int:
        """Main thread, once nothing more will be sent on ``channels`` (their queued
        messages dropped and ``synced``): a note-off for each note still sounding on
        them, the pedal up where it is down, then all notes off and all sound off. The
        note-offs sent."""
        sent = 0
        for channel in sorted(set(channels)):
            low = channel - 1
            for pitch in self.sounding(channel):
                self.send((mm.NOTE_OFF | low, pitch, 0))
                sent += 1
            if self._pedal[low]:
                self.send((mm.CONTROL_CHANGE | low, mm.CC_SUSTAIN, 0))
            self.send((mm.CONTROL_CHANGE | low, mm.CC_ALL_NOTES_OFF, 0))
            self.send((mm.CONTROL_CHANGE | low, mm.CC_ALL_SOUND_OFF, 0))
        return sent

    def wait_sent(self, timeout: float) -> bool:
        """Main thread, at shutdown: block until every queued message has left; False on
        timeout."""
        deadline = time.monotonic() + timeout
        while len(self._queue) and time.monotonic() < deadline:
            time.sleep(0.002)
        return not len(self._queue)

    # -- consumers ---------------------------------------------------------------------

    def next_due(self) -> float | None:
        """Sender thread: the earliest due time (after taking what the engine sent)."""
        self._queue.sync()
        return self._queue.head_due()

    def take_due(self, now: float, deliver: Callable[[bytes], None]) -> int:
        """Sender thread: ``deliver`` each message due by ``now``; removed once delivered
        (if ``deliver`` raises, the message stays for the next try)."""
        queue = self._queue
        n = 0
        while n < MAX_PER_CYCLE:
            queue.sync()  # a panic while delivering takes effect before the next message
            due = queue.head_due()
            if due is None or due > now:
                break
            message = queue.head()
            if self._stale(due, message, now):
                queue.pop()
                continue
            deliver(message)
            queue.pop()
            self._track(message[0], message[1] if len(message) > 1 else 0,
                        message[2] if len(message) > 2 else 0)
            self._sent(due, now, 0.0)
            n += 1
        return n

    def write_cycle(self, port, start: float, frames: int, rate: float,
                    own: CycleMessages = NO_MESSAGES) -> None:
        """JACK cycle: write what is due before the end of this cycle into ``port``, and
        the player's messages of this cycle (``own``) at their frames."""
        queue = self._queue
        queue.sync()
        period = frames / rate
        end = start + period
        late = self._late
        n = 0
        # 1. late messages (due before this cycle began) at frame 0, note-offs first
        while n < MAX_PER_CYCLE:
            due = queue.head_due()
            if due is None or due >= start:
                break
            message = queue.pop()
            n += 1
            if not self._stale(due, message, start):
                late.append((due, message))
        full = False
        if late:
            # Releases first, except one whose note-on is itself in this backlog: it
            # must still follow its note-on.
            ons = self._late_ons
            first = self._late_first
            for _, message in late:
                status = message[0]
                if status & 0xF0 == 0x90 and message[2] > 0:
                    ons.add((status & 0x0F, message[1]))
                    ons.add((status & 0x0F, -1))
                elif _releases(message):
                    key = (status & 0x0F, message[1] if mm.is_note_off(message) else -1)
                    if key not in ons:
                        first.add(id(message))
            for releases_pass in (True, False):
                for due, message in late:
                    if (id(message) in first) != releases_pass:
                        continue
                    if not full and self._write(port, 0, message):
                        self._sent(due, start, period)
                    else:
                        full = True
                        self.deferred += 1
                        queue.requeue(due, message, mm.channel_of(message[0]))
            late.clear()
            ons.clear()
            first.clear()
        # 2. messages due inside this cycle, each at its frame, and the player's own
        # in frame order among them
        mine = 0
        count = own.count
        while not full and n < MAX_PER_CYCLE:
            due = queue.head_due()
            if due is None or due >= end:
                break
            offset = min(frames - 1, max(0, round((due - start) * rate)))
            while mine < count and own.offsets[mine] <= offset:
                if not self._write(port, own.offsets[mine], own.messages[mine]):
                    full = True
                    break
                self.sent += 1
                mine += 1
            if full or not self._write(port, offset, queue.head()):
                self.deferred += 1
                full = True
                break  # the buffer is full: the rest waits for the next cycle
            queue.pop()
            n += 1
            self.sent += 1
        while not full and mine < count:
            if not self._write(port, own.offsets[mine], own.messages[mine]):
                break
            self.sent += 1
            mine += 1
        # What did not fit leaves first in the next cycle (rare: allocates only here).
        while mine < count:
            self.deferred += 1
            queue.requeue(AT_ONCE, bytes(own.messages[mine]), own.player.out_channel)
            mine += 1

    # -- internals ---------------------------------------------------------------------

    def _write(self, port, offset: int, message: bytes) -> bool:
        buffer = port.reserve_midi_event(offset, len(message))
        if not buffer:
            return False
        buffer[:] = message
        n = len(message)
        self._track(message[0], message[1] if n > 1 else 0, message[2] if n > 2 else 0)
        return True

    def _track(self, status: int, d1: int, d2: int) -> None:
        """What a message that left does to the notes sounding on its channel."""
        kind = status & 0xF0
        low = status & 0x0F
        if kind == 0x90:
            self._sounding[low * 128 + d1] = 1 if d2 else 0
        elif kind == 0x80:
            self._sounding[low * 128 + d1] = 0
        elif kind == 0xB0 and d1 == mm.CC_SUSTAIN:
            self._pedal[low] = 1 if d2 >= 64 else 0
        # CC 123/120 end nothing here: gear that ignores them still sounds the note.

    def _stale(self, due: float, message: bytes, now: float) -> bool:
        if due == AT_ONCE or now - due <= STALE or _releases(message):
            return False
        self.dropped += 1
        return True

    def _sent(self, due: float, now: float, period: float) -> None:
        self.sent += 1
        if due == AT_ONCE:
            return
        lateness = now - due
        if lateness > self.max_late:
            self.max_late = lateness
        if lateness > period:
            self.late += 1
