"""A type-1 Standard MIDI File on disk whose tracks grow in place.

mido writes a MIDI file whole; a session recording that is rewritten whole every half
second writes about a megabyte each time by the third hour of a gig (and wears an SD
card). ``GrowingSmf`` keeps each track chunk a fixed size on disk, its events followed
by a reserve: a sequencer-specific meta event (``FF 7F``, which players and DAWs skip)
that fills the rest of the chunk, then End of Track. Appending events to a track is one
``pwrite`` over the start of the reserve (the events, then a shorter reserve header), so
the cost of a flush is the size of what is new. Each ``pwrite`` is a single system call,
so a process killed at any moment leaves a valid file. When a track's reserve runs out,
or a track is added, or more than ``IN_PLACE_MAX`` bytes of a track are replaced
(``replace``: a tail laid anew is written in place from where it changed), the whole
file is rewritten once with twice the room
(``os.writev`` straight from the track buffers, to a temporary file, then renamed).

The message and meta-event bytes come from mido (``instrument.midifile.recorder``); this module
only lays out the chunks. It is used from one thread (the recorder's).
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from mido.midifiles.meta import encode_variable_int

END_OF_TRACK = b"\x00\xff\x2f\x00"
EMPTY_RESERVE = b"\x00\xff\x7f\x00"  # a reserve event with no data: 4 bytes
INITIAL_ROOM = 512  # bytes of a new track chunk
RESERVE_MARGIN = 8  # a track is moved when its reserve would fall below this
#: A write in place of more than this many bytes (a track laid anew) is made as a whole
#: new file, renamed over the old: a kill in the middle of a large ``pwrite`` could
#: leave half of it.
IN_PLACE_MAX = 4096


def reserve_header(space: int) -> bytes:
    """The start of reserve events that fill exactly ``space`` bytes (>= 4) once their
    data (any bytes: what the file holds there already) follows."""
    for prefix in (b"", EMPTY_RESERVE):
        room = space - len(prefix)
        for vlq_len in (1, 2, 3, 4):
            n = room - 3 - vlq_len
            if n >= 0 and len(encode_variable_int(n)) == vlq_len:
                return prefix + b"\x00\xff\x7f" + bytes(encode_variable_int(n))
    raise ValueError(f"no reserve fills {space} bytes")


def _write_all(fd: int, buffers: list[bytes | memoryview]) -> None:
    """``writev`` until everything is written; a short write is retried, so a full disk
    or a file size limit raises its own error."""
    views = [memoryview(b) for b in buffers]
    while views:
        written = os.writev(fd, views)
        while views and written >= len(views[0]):
            written -= len(views[0])
            views.pop(0)
        if views and written:
            views[0] = views[0][written:]


class _Chunk:
    __slots__ = ("data", "dirty", "offset", "on_disk", "room")

    def __init__(self, data: bytes) -> None:
        self.data = bytearray(data)  # the track's events so far (after "MTrk" + length)
        self.offset = 0  # of "MTrk" in the file
        self.room = 0  # the chunk's length on disk: data + reserve + End of Track
        self.on_disk = 0  # bytes of ``data`` written to the file
        self.dirty = False  # the file holds bytes after ``on_disk`` that are gone


class GrowingSmf:
    """See the module docstring. ``append`` buffers, ``write`` puts it on disk."""

    def __init__(self, path: Path, ticks_per_beat: int) -> None:
        self.path = path
        self.ticks_per_beat = ticks_per_beat
        self._chunks: list[_Chunk] = []
        self._fd: int | None = None
        self._layout_stale = True  # a track was added or must move: rewrite the file
        self.rewrites = 0

    def add_track(self, first_events: bytes) -> int:
        """A new track starting with ``first_events`` (its name); returns its index."""
        self._chunks.append(_Chunk(first_events))
        self._layout_stale = True
        return len(self._chunks) - 1

    def append(self, track: int, events: bytes) -> None:
        self._chunks[track].data += events

    def replace(self, track: int, keep: int, events: bytes) -> None:
        """The track's events after its first ``keep`` bytes are ``events`` now (a tail
        laid anew; ``keep`` 0: the whole track)."""
        chunk = self._chunks[track]
        del chunk.data[keep:]
        chunk.data += events
        if keep < chunk.on_disk:
            chunk.on_disk = keep
            chunk.dirty = True

    @property
    def pending(self) -> bool:
        """Whether anything appended is not on disk yet."""
        return self._layout_stale or any(
            len(c.data) > c.on_disk or c.dirty for c in self._chunks)

    def write(self) -> bool:
        """Put what is new on disk; False if nothing was new. Raises OSError (nothing
        is lost: the next ``write`` tries again)."""
        if not self.pending:
            return False
        if not self._layout_stale:
            for chunk in self._chunks:
                space = chunk.room - len(chunk.data) - len(END_OF_TRACK)
                if len(chunk.data) > chunk.on_disk and space < RESERVE_MARGIN:
                    self._layout_stale = True
                if len(chunk.data) - chunk.on_disk > IN_PLACE_MAX:
                    self._layout_stale = True
        if self._layout_stale:
            self._rewrite()
            return True
        fd = self._open()
        for chunk in self._chunks:
            if len(chunk.data) == chunk.on_disk and not chunk.dirty:
                continue
            space = chunk.room - len(chunk.data) - len(END_OF_TRACK)
            new = memoryview(chunk.data)[chunk.on_disk:]
            start = chunk.offset + 8 + chunk.on_disk
            header = reserve_header(space)
            if os.pwritev(fd, [new, header], start) != len(new) + len(header):
                raise OSError(5, "short write into the recording")
            chunk.on_disk = len(chunk.data)
            chunk.dirty = False
        return True

    def sync(self) -> None:
        if self._fd is not None:
            os.fsync(self._fd)

    def _open(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CLOEXEC)
        return self._fd

    def _rewrite(self) -> None:
        """The whole file anew, each track with room to grow, atomically replaced."""
        rooms = []
        for chunk in self._chunks:
            need = len(chunk.data) + len(END_OF_TRACK) + RESERVE_MARGIN + 4
            room = max(chunk.room, INITIAL_ROOM)
            while room < need:
                room *= 2
            if room < 2 * need and room == chunk.room:
                room *= 2  # moving anyway: leave as much again to grow into
            rooms.append(room)
        buffers: list[bytes | memoryview] = [
            b"MThd" + struct.pack(">IHHH", 6, 1, len(self._chunks), self.ticks_per_beat)
        ]
        offset = 14
        for chunk, room in zip(self._chunks, rooms, strict=True):
            space = room - len(chunk.data) - len(END_OF_TRACK)
            header = reserve_header(space)
            buffers += [
                b"MTrk" + struct.pack(">I", room), memoryview(chunk.data),
                header + bytes(space - len(header)), END_OF_TRACK,
            ]
            offset += 8 + room
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            _write_all(fd, buffers)
            os.fsync(fd)
        except OSError:
            os.close(fd)
            os.unlink(tmp)
            raise
        os.close(fd)
        os.replace(tmp, self.path)
        self.close()
        offset = 14
        for chunk, room in zip(self._chunks, rooms, strict=True):
            chunk.offset, chunk.room, chunk.on_disk = offset, room, len(chunk.data)
            chunk.dirty = False
            offset += 8 + room
        self._layout_stale = False
        self.rewrites += 1

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
