"""Fixed-size records between two processes, lock-free, in shared memory.

A ``SharedRing`` is a file in ``/dev/shm`` (a temporary directory where there is none)
mapped by both processes: a header, then ``capacity`` records of ``FIELDS`` signed 64-bit
integers each: ``[seq, check, kind, time, a, b, c, d]``. One process writes, the other
reads (single producer, single consumer).

Ordering without barriers. Python cannot issue memory barriers, and on aarch64 (a
Jetson) stores may become visible to the other core out of program order, and loads may
be satisfied out of order. So a record is trusted only by its content: the writer fills
the fields, then a checksum over the sequence number and the fields, then the sequence
number; the reader takes a record only when its sequence number is the one it expects
and the checksum matches what it read. A record seen half-written (in any order) fails
the check and is read again at the next poll. The reader publishes how far it has read;
the writer never reuses the ``SLACK`` slots behind that point, so a slot is never
rewritten while a reader's out-of-order loads of it could still be in flight.

The reader side (``read``) follows the rules of ``instrument.realtime``: no lock, no
system call, bounded work (``limit`` records a poll), nothing allocated but the ints it
returns. A full ring refuses the write (``write`` returns False) and counts it.
"""

from __future__ import annotations

import mmap
import os
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

FIELDS = 8
SEQ, CHECK, KIND, TIME, A, B, C, D = range(FIELDS)
_HEADER = 5  # int64s: write index, read index, capacity, writes refused, the writer's mark
_WRITE, _READ, _CAPACITY, _REFUSED, _MARK = range(_HEADER)
SLACK = 64
_MASK = (1 << 63) - 1
_K = (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93,
      0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53, 0x94D049BB133111EB)


def checksum(seq: int, kind: int, time: int, a: int, b: int, c: int, d: int) -> int:
    return ((seq * _K[0]) ^ (kind * _K[1]) ^ (time * _K[2]) ^ (a * _K[3]) ^ (b * _K[4])
            ^ (c * _K[5]) ^ (d * _K[6]) ^ (seq >> 7)) & _MASK


def _shm_dir() -> Path:
    shm = Path("/dev/shm")
    return shm if shm.is_dir() and os.access(shm, os.W_OK) else Path(tempfile.gettempdir())


class SharedRing:
    """One direction of records (see the module docstring). ``create`` in the process
    that owns the file, ``attach`` in the other by its path."""

    def __init__(self, path: Path, mapping: mmap.mmap, owner: bool) -> None:
        self.path = path
        self._map = mapping
        self._view = memoryview(mapping).cast("q")
        self.capacity = self._view[_CAPACITY]
        self._owner = owner
        self._next_write = self._view[_WRITE]
        self._next_read = self._view[_READ]

    @classmethod
    def create(cls, capacity: int = 4096, prefix: str = "instrument") -> SharedRing:
        path = _shm_dir() / f"{prefix}-{os.getpid()}-{uuid.uuid4().hex[:8]}.ring"
        size = 8 * (_HEADER + capacity * FIELDS)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.ftruncate(fd, size)
            mapping = mmap.mmap(fd, size)
        finally:
            os.close(fd)
        memoryview(mapping).cast("q")[_CAPACITY] = capacity
        return cls(path, mapping, owner=True)

    @classmethod
    def attach(cls, path: str | os.PathLike) -> SharedRing:
        path = Path(path)
        fd = os.open(path, os.O_RDWR)
        try:
            mapping = mmap.mmap(fd, os.fstat(fd).st_size)
        finally:
            os.close(fd)
        return cls(path, mapping, owner=False)

    # -- writer --------------------------------------------------------------------------

    def write(self, kind: int, time: int = 0, a: int = 0, b: int = 0, c: int = 0,
              d: int = 0) -> bool:
        """Append one record; False (counted) if the reader is too far behind."""
        view = self._view
        index = self._next_write
        if index - view[_READ] >= self.capacity - SLACK:
            view[_REFUSED] += 1
            return False
        base = _HEADER + (index % self.capacity) * FIELDS
        seq = index + 1
        view[base + KIND] = kind
        view[base + TIME] = time
        view[base + A] = a
        view[base + B] = b
        view[base + C] = c
        view[base + D] = d
        view[base + CHECK] = checksum(seq, kind, time, a, b, c, d)
        view[base + SEQ] = seq
        self._next_write = seq
        view[_WRITE] = seq
        return True

    @property
    def refused(self) -> int:
        return self._view[_REFUSED]

    @property
    def mark(self) -> int:
        """A number the writer publishes beside its records (the JACK cycle: the frame
        until which its inputs are complete). A single aligned store: read whole."""
        return self._view[_MARK]

    @mark.setter
    def mark(self, value: int) -> None:
        self._view[_MARK] = value

    # -- reader --------------------------------------------------------------------------

    def read(self, handle: Callable[[int, int, int, int, int, int], None],
             limit: int = 256) -> int:
        """``handle(kind, time, a, b, c, d)`` for each complete record, in order, at most
        ``limit``; the number handled."""
        view = self._view
        capacity = self.capacity
        index = self._next_read
        n = 0
        while n < limit:
            base = _HEADER + (index % capacity) * FIELDS
            seq = index + 1
            if view[base + SEQ] != seq:
                break
            kind, time = view[base + KIND], view[base + TIME]
            a, b, c, d = view[base + A], view[base + B], view[base + C], view[base + D]
            if view[base + CHECK] != checksum(seq, kind, time, a, b, c, d):
                break  # seen half-written: read it again at the next poll
            handle(kind, time, a, b, c, d)
            index = seq
            n += 1
        if n:
            self._next_read = index
            view[_READ] = index
        return n

    # -- a new process on the other end -------------------------------------------------

    def restart_writer(self) -> None:
        """Reader's process, once the writing process is gone and every complete record
        was read: a new writer (``attach``) continues from where reading stopped, over
        whatever the old one left half-written."""
        self._view[_WRITE] = self._next_read

    def discard_unread(self) -> None:
        """Writer's process, while no reader is attached (the reading process is gone):
        what it did not read is forgotten, and a new reader starts from the newest."""
        self._view[_READ] = self._next_write

    def __len__(self) -> int:
        """Records written and not yet read (either process; a snapshot)."""
        return self._view[_WRITE] - self._view[_READ]

    def close(self) -> None:
        self._view.release()
        self._map.close()
        if self._owner:
            self.path.unlink(missing_ok=True)
