"""The one due-time queue: from the engine thread to a consumer, in due order, no lock.

Parts decide their notes at different distances ahead (chords a beat's planning time
ahead, melody notes a lookahead ahead, MIDI clock 200 ms ahead), so items arrive out of
due order. The producer (the engine thread) appends each push, and each command
(``drop`` a key's items due after a time, ``clear``), to a deque; the consumer (the
audio cycle, or MIDI out's sender thread) moves them, in order and at most ``limit``
at a time, into a heap it alone owns (``sync``), then looks at the earliest item
(``head``) and removes it only once it has delivered it (``pop``). A deque's
``append`` and ``popleft`` are atomic, so neither side ever waits for the other.

Consumer-side methods (``sync``, ``head``, ``head_due``, ``pop``, ``requeue``,
``clear_now``) follow the rules of ``instrument.realtime``: bounded work, no lock, no
allocation beyond the heap's own list. The producer creates the entries.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Hashable
from typing import Generic, TypeVar

T = TypeVar("T")

_PUSH, _DROP, _CLEAR = 0, 1, 2
#: Commands and pushes the consumer applies per ``sync``; the rest wait for the next one.
SYNC_LIMIT = 512


class DueQueue(Generic[T]):
    """Items of type ``T`` with a due time and a key (see the module docstring)."""

    def __init__(self) -> None:
        # (command, due, seq, key, item): pushes and commands, in the producer's order
        self._inbox: deque[tuple[int, float, int, Hashable, T | None]] = deque()
        # (due, seq, key, item): the consumer's own
        self._heap: list[tuple[float, int, Hashable, T]] = []
        self._seq = itertools.count()

    # -- producer (engine thread) ------------------------------------------------------

    def push(self, due: float, item: T, key: Hashable = None) -> None:
        self._inbox.append((_PUSH, due, next(self._seq), key, item))

    def drop(self, key: Hashable, after: float) -> None:
        """Forget the items of ``key`` due after ``after`` (pushed before this call)."""
        self._inbox.append((_DROP, after, 0, key, None))

    def clear(self) -> None:
        """Forget every item pushed before this call."""
        self._inbox.append((_CLEAR, 0.0, 0, None, None))

    def synced(self) -> bool:
        """Any thread: whether the consumer has taken in every push and command."""
        return not self._inbox

    def __len__(self) -> int:
        """Items and commands not yet delivered (any thread; a snapshot)."""
        return len(self._inbox) + len(self._heap)

    # -- consumer ----------------------------------------------------------------------

    def sync(self, limit: int = SYNC_LIMIT) -> None:
        """Apply what the producer sent, in order, at most ``limit`` entries."""
        inbox, heap = self._inbox, self._heap
        n = 0
        while inbox and n < limit:
            command, due, seq, key, item = inbox.popleft()
            n += 1
            if command == _PUSH:
                heapq.heappush(heap, (due, seq, key, item))  # type: ignore[arg-type]
            elif command == _DROP:
                kept = [e for e in heap if e[2] != key or e[0] <= due]
                if len(kept) != len(heap):
                    heap[:] = kept
                    heapq.heapify(heap)
            else:
                heap.clear()

    def head_due(self) -> float | None:
        """Due time of the earliest item (after the last ``sync``), or None."""
        return self._heap[0][0] if self._heap else None

    def head(self) -> T:
        return self._heap[0][3]

    def pop(self) -> T:
        """Remove the earliest item (once it was delivered)."""
        return heapq.heappop(self._heap)[3]

    def requeue(self, due: float, item: T, key: Hashable = None) -> None:
        """Consumer: put back an item it popped but could not deliver."""
        heapq.heappush(self._heap, (due, -1, key, item))

    def clear_now(self) -> None:
        """Consumer: forget everything now, pushed and not yet synced alike (panic)."""
        self._inbox.clear()
        self._heap.clear()
