"""MIDI in, from one producer thread to the engine: checked, stamped, preallocated.

An ``InputRing`` belongs to one producer (the JACK cycle, or one rtmidi callback
thread). ``write`` checks the message (``instrument.midi.messages.check``), counts what
it drops by reason, and stores the accepted message with its time in the next of a
fixed number of preallocated records; the engine thread reads them back with
``read_into``. Single producer, single consumer: the producer fills a record and only
then publishes it by advancing its count, so the consumer never sees a half-written one.

``write`` follows the rules of ``instrument.realtime``: no lock, no allocation (it keeps
a reference to the message object it was given), bounded work.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from instrument.midi import messages as mm

#: Why messages are dropped, in the order of the ``dropped_counts`` list.
DROP_REASONS = (mm.MALFORMED, mm.SYSEX_DROPPED, mm.UNUSED, "queue full")
_REASON_INDEX = {reason: i for i, reason in enumerate(DROP_REASONS)}
_QUEUE_FULL = _REASON_INDEX["queue full"]
CAPACITY = 8192


class _Record:
    __slots__ = ("data", "time")

    def __init__(self) -> None:
        self.time = 0.0
        self.data: Sequence[int] = ()


class InputRing:
    """Fixed records from one producer to the engine (see the module docstring)."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self._records = [_Record() for _ in range(capacity)]
        self._capacity = capacity
        self._written = 0  # advanced by the producer only
        self._read = 0  # advanced by the consumer only
        self.received = 0
        self.dropped_counts = [0] * len(DROP_REASONS)
        # No message stamped before this will still be written (the JACK cycle moves it
        # to the end of each cycle; a producer that stamps on arrival leaves it infinite).
        self.complete_until = float("inf")

    def write(self, data: Sequence[int], time: float) -> bool:
        """Producer: check and keep ``data`` (not copied: pass a fresh object) at ``time``."""
        self.received += 1
        reason = mm.check(data)
        if reason is not None:
            self.dropped_counts[_REASON_INDEX[reason]] += 1
            return False
        written = self._written
        if written - self._read >= self._capacity:
            self.dropped_counts[_QUEUE_FULL] += 1
            return False
        record = self._records[written % self._capacity]
        record.time = time
        record.data = data
        self._written = written + 1
        return True

    def read_into(self, emit: Callable[[float, tuple[int, ...]], None]) -> int:
        """Consumer: ``emit(time, message)`` for each record written so far; the count."""
        read, written = self._read, self._written
        records, capacity = self._records, self._capacity
        for i in range(read, written):
            record = records[i % capacity]
            emit(record.time, tuple(record.data))
            record.data = ()
        self._read = written
        return written - read

    def take(self, handle: Callable[[Sequence[int], float], None], limit: int) -> int:
        """Consumer in the JACK cycle: ``handle(message, time)`` for at most ``limit``
        records, the message as the producer wrote it (no copy); the count."""
        read = self._read
        n = min(self._written - read, limit)
        records, capacity = self._records, self._capacity
        for i in range(read, read + n):
            record = records[i % capacity]
            data, time = record.data, record.time
            record.data = ()
            self._read = i + 1  # taken before it is handled: an error skips it, once
            handle(data, time)
        return n

    def __len__(self) -> int:
        return self._written - self._read

    def dropped(self) -> dict[str, int]:
        """Drops by reason (any thread; a snapshot)."""
        return {r: n for r, n in zip(DROP_REASONS, self.dropped_counts, strict=True) if n}
