"""Counters the audio process and the engine process show each other, in shared memory.

A ``SharedStats`` block is a file in ``/dev/shm`` mapped by both processes, laid out by
the names below: 64-bit counters, a few short texts and the two timing histograms of the
audio cycle. Each name has one writer: the audio process publishes its counters a few
times a second from its main thread (``HOST_COUNTERS``, the texts, the histograms); the
engine process writes its own (``ENGINE_COUNTERS``). A reader may see a counter a
moment old; each value is one aligned store, never torn. Nothing here runs in the cycle.
"""

from __future__ import annotations

import array
import mmap
import os
import uuid
from pathlib import Path

from instrument.realtime.histogram import BINS, TimingHistogram
from instrument.realtime.shared_ring import _shm_dir

HOST_COUNTERS = (
    "host_pid", "cycles", "callback_errors", "input_overflow", "overruns", "xruns",
    "late_events", "max_lateness_us", "midi_sent", "midi_late", "midi_deferred",
    "midi_dropped", "midi_max_late_us", "midi_pending", "planned_pending",
    "thru_overflowed", "voices_dropped", "input_received", "dropped_malformed",
    "dropped_sysex", "dropped_unused", "dropped_queue_full", "plans_refused",
    "server_lost", "rate", "period", "publishes", "engine_restarts", "engine_down",
)
ENGINE_COUNTERS = (
    "engine_pid", "engine_loops", "engine_ready", "engine_alive", "recorder_alive",
    "responses", "responding",
)
TEXTS = ("midi_in", "midi_out", "last_callback_error")
HISTOGRAMS = ("callback", "callback_start")
_TEXT_BYTES = 256
_HISTOGRAM_INTS = BINS + 2  # the counts, then the count and the worst (in nanoseconds)


class SharedStats:
    """See the module docstring. ``create`` in the audio process, ``attach`` in the
    engine process by its path."""

    def __init__(self, path: Path, mapping: mmap.mmap, owner: bool) -> None:
        self.path = path
        self._map = mapping
        self._ints = memoryview(mapping).cast("q")
        self._owner = owner
        names = HOST_COUNTERS + ENGINE_COUNTERS
        self._index = {name: i for i, name in enumerate(names)}
        self._texts_at = len(names) * 8
        self._histograms_at = len(names) + len(TEXTS) * _TEXT_BYTES // 8

    @staticmethod
    def _size() -> int:
        ints = len(HOST_COUNTERS) + len(ENGINE_COUNTERS) + len(HISTOGRAMS) * _HISTOGRAM_INTS
        return ints * 8 + len(TEXTS) * _TEXT_BYTES

    @classmethod
    def create(cls) -> SharedStats:
        path = _shm_dir() / f"instrument-{os.getpid()}-{uuid.uuid4().hex[:8]}.stats"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.ftruncate(fd, cls._size())
            mapping = mmap.mmap(fd, cls._size())
        finally:
            os.close(fd)
        return cls(path, mapping, owner=True)

    @classmethod
    def attach(cls, path: str | os.PathLike) -> SharedStats:
        path = Path(path)
        fd = os.open(path, os.O_RDWR)
        try:
            mapping = mmap.mmap(fd, cls._size())
        finally:
            os.close(fd)
        return cls(path, mapping, owner=False)

    def set(self, name: str, value: int) -> None:
        self._ints[self._index[name]] = int(value)

    def get(self, name: str) -> int:
        return self._ints[self._index[name]]

    def add(self, name: str, value: int = 1) -> None:
        self.set(name, self.get(name) + value)

    def set_text(self, name: str, text: str | None) -> None:
        data = (text or "").encode()[: _TEXT_BYTES - 1]
        at = self._texts_at + TEXTS.index(name) * _TEXT_BYTES
        self._map[at : at + _TEXT_BYTES] = data + bytes(_TEXT_BYTES - len(data))

    def text(self, name: str) -> str | None:
        at = self._texts_at + TEXTS.index(name) * _TEXT_BYTES
        raw = bytes(self._map[at : at + _TEXT_BYTES]).split(b"\0", 1)[0]
        return raw.decode(errors="replace") or None

    def set_histogram(self, name: str, histogram: TimingHistogram) -> None:
        at = self._histograms_at + HISTOGRAMS.index(name) * _HISTOGRAM_INTS
        self._ints[at : at + BINS] = memoryview(array.array("q", histogram.counts))
        self._ints[at + BINS] = histogram.count
        self._ints[at + BINS + 1] = round(histogram.max * 1e9)

    def histogram(self, name: str) -> TimingHistogram:
        at = self._histograms_at + HISTOGRAMS.index(name) * _HISTOGRAM_INTS
        out = TimingHistogram()
        out.counts = list(self._ints[at : at + BINS])
        out.count = self._ints[at + BINS]
        out.max = self._ints[at + BINS + 1] / 1e9
        return out

    def close(self) -> None:
        self._ints.release()
        self._map.close()
        if self._owner:
            self.path.unlink(missing_ok=True)
