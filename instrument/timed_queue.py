"""A queue of timed items from the engine thread to a real-time callback, in due order.

Parts decide their notes at different distances ahead of time (chords a beat's planning
time ahead, melody notes a lookahead ahead, MIDI clock 50 ms ahead), so items arrive out
of due order; a heap keeps them in order. The heap is guarded by a lock that the
real-time side only ever *tries* to take: if the engine thread holds it at that instant
(for the few microseconds of a push), the callback skips the queue for this block and
counts it, rather than wait.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class TimedQueue(Generic[T]):
    """``push`` from one thread, ``pop_due`` from the real-time callback."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, T]] = []
        self._seq = itertools.count()
        self._lock = threading.Lock()
        self.busy_skips = 0  # callback blocks that found the lock held

    def push(self, due: float, item: T) -> None:
        with self._lock:
            heapq.heappush(self._heap, (due, next(self._seq), item))

    def clear(self) -> None:
        with self._lock:
            self._heap.clear()

    def try_clear(self) -> bool:
        """Real-time side: clear if the lock is free right now; False if it was not."""
        if not self._lock.acquire(blocking=False):
            self.busy_skips += 1
            return False
        try:
            self._heap.clear()
            return True
        finally:
            self._lock.release()

    def drop(self, doomed: Callable[[float, T], bool]) -> None:
        """Remove the items for which ``doomed(due, item)`` is true."""
        with self._lock:
            self._heap = [entry for entry in self._heap if not doomed(entry[0], entry[2])]
            heapq.heapify(self._heap)

    def pop_due(self, end: float, limit: int = 1 << 30) -> Iterator[tuple[float, T]]:
        """Real-time side: items due before ``end``, earliest first (at most ``limit``).

        Never waits: if the lock is held, nothing is popped this time.
        """
        if not self._heap or self._heap[0][0] >= end:
            return
        if not self._lock.acquire(blocking=False):
            self.busy_skips += 1
            return
        try:
            heap = self._heap
            n = 0
            while heap and heap[0][0] < end and n < limit:
                due, _, item = heapq.heappop(heap)
                n += 1
                yield due, item
        finally:
            self._lock.release()

    def __len__(self) -> int:
        return len(self._heap)
