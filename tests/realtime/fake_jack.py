"""Fakes of the JACK-Client objects a ``JackCycle`` touches, recording what it writes.

They follow JACK's rules where a cycle could break them: MIDI out events must come in
non-decreasing frame order, and a port buffer holds a limited number of bytes.
"""

from __future__ import annotations

import numpy as np


class _CffiLikeBuffer:
    """Like the cffi buffer JACK-Client returns: slices take bytes-like objects, and an
    item only a one-byte ``bytes`` (an int raises, as it does there)."""

    def __init__(self, data: bytearray) -> None:
        self._data = data

    def __len__(self) -> int:
        return len(self._data)

    def __bool__(self) -> bool:
        return len(self._data) > 0

    def __setitem__(self, key, value) -> None:
        if isinstance(key, int) and not isinstance(value, bytes):
            raise TypeError("a cffi buffer item takes a bytes of length 1")
        self._data[key] = value if not isinstance(key, int) else value[0]


class FakeMidiOutPort:
    def __init__(self, capacity: int = 1 << 16) -> None:
        self.capacity = capacity
        self.cycles: list[list[tuple[int, bytes]]] = [[]]
        self._used = 0

    def clear_buffer(self) -> None:
        self.cycles.append([])
        self._used = 0

    def reserve_midi_event(self, offset: int, size: int):
        events = self.cycles[-1]
        if events and offset < events[-1][0]:
            raise AssertionError(f"out of order: frame {offset} after {events[-1][0]}")
        if self._used + size > self.capacity:
            return b""
        self._used += size
        buffer = bytearray(size)
        events.append((offset, buffer))
        return _CffiLikeBuffer(buffer)

    def written(self) -> list[tuple[int, int, tuple[int, ...]]]:
        """(cycle index, frame, message) of everything written."""
        return [(i, f, tuple(b)) for i, cycle in enumerate(self.cycles) for f, b in cycle]


class FakeMidiInPort:
    def __init__(self) -> None:
        self.next_cycle: list[tuple[int, bytes]] = []

    def incoming_midi_events(self):
        events, self.next_cycle = self.next_cycle, []
        yield from events


class FakeAudioPort:
    def __init__(self, frames: int) -> None:
        self.buffer = np.full(frames, np.nan, dtype=np.float32)

    def get_array(self) -> np.ndarray:
        return self.buffer


class FakeClient:
    def __init__(self, rate: int = 48000, period: int = 64) -> None:
        self.samplerate = rate
        self.blocksize = period
        self.last_frame_time = 0
        self.frame_time = 0
        self.outports: list[FakeAudioPort] = []
        self.midi_outports: list[FakeMidiOutPort] = []

    def advance(self) -> None:
        self.last_frame_time += self.blocksize
        self.frame_time = self.last_frame_time + 3
