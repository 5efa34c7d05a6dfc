"""Counters the audio process and the engine process show each other, in shared memory.

A ``SharedStats`` block is a file in ``/dev/shm`` mapped by both processes, laid out by
the names below: 64-bit counters, a few short texts and the two timing histograms of the
audio cycle. Each name has one writer: the audio process publishes the sound side's
counters (``SOUND_COUNTERS``, the one table of them), its own (``AUDIO_PROCESS_COUNTERS``),
the texts and the histograms a few times a second from its main thread; the engine
process writes its own (``ENGINE_COUNTERS``). A reader may see a counter a
moment old; each value is one aligned store, never torn. Nothing here runs in the cycle.
"""

from __future__ import annotations

import array
import mmap
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from instrument.realtime.histogram import BINS, TimingHistogram
from instrument.realtime.input_ring import DROP_REASONS
from instrument.realtime.shared_ring import _shm_dir


@dataclass(frozen=True)
class Counter:
    """One of the sound side's counters: its name (a key of ``SoundSide.stats()`` and a
    slot here), what it counts, and whether `instrument status` shows it."""

    name: str
    meaning: str
    shown: bool = False


#: The player's input dropped, by reason (``DROP_REASONS``): the counter of each.
DROPPED_BY_REASON = dict(zip(DROP_REASONS, ("dropped_malformed", "dropped_sysex",
                                            "dropped_unused", "dropped_queue_full"),
                             strict=True))



def input_counters(received: int, dropped: Mapping[str, int]) -> dict[str, int]:
    """The input's counters of ``SOUND_COUNTERS``: received, and dropped by reason."""
    return {"input_received": received,
            **{name: dropped.get(reason, 0) for reason, name in DROPPED_BY_REASON.items()}}


#: The sound side's counters, the one table of them: ``SoundSide.counters()`` reads them
#: in either layout, the audio process publishes them here, and ``SoundSide.stats()``,
#: the engine process's copy of it and `instrument status` are made from them.
SOUND_COUNTERS: tuple[Counter, ...] = (
    Counter("cycles", "JACK cycles run"),
    Counter("xruns", "JACK xruns", shown=True),
    Counter("callback_overruns", "JACK cycles that ended over a period"),
    Counter("callback_errors", "errors caught in the JACK callback"),
    Counter("input_received", "MIDI messages received from the player", shown=True),
    *(Counter(name, f"input dropped: {reason}") for reason, name in DROPPED_BY_REASON.items()),
    Counter("input_overflow", "input over the per-cycle limit"),
    Counter("thru_overflowed", "thru events the thru queue had no room for"),
    Counter("voices_dropped", "notes without a free voice"),
    Counter("late_events", "planned notes that reached the synth late"),
    Counter("max_lateness_us", "the latest planned note, in microseconds"),
    Counter("late_midi_out", "MIDI out messages sent late"),
    Counter("midi_out_max_late_us", "the latest MIDI out message, in microseconds"),
    Counter("midi_out_deferred", "MIDI out messages put off to a later cycle", shown=True),
    Counter("midi_out_dropped", "stale MIDI out messages dropped", shown=True),
    Counter("midi_out_sent", "MIDI out messages sent"),
    Counter("midi_out_pending", "MIDI out messages waiting"),
    Counter("planned_pending", "planned notes waiting"),
    Counter("plans_refused", "plans the full plan ring refused (the engine process's)",
            shown=True),
)
#: The audio process's own: its pid, JACK's rate and period, how many times it published,
#: and how its engine process fares (``engine_down`` while it is dead).
AUDIO_PROCESS_COUNTERS = (
    "audio_pid", "rate", "period", "publishes", "engine_restarts", "engine_down",
)
ENGINE_COUNTERS = (
    "engine_pid", "engine_loops", "engine_ready", "engine_alive", "recorder_alive",
)
TEXTS = ("midi_in", "midi_out", "last_callback_error", "last_engine_death")
HISTOGRAMS = ("callback", "callback_start")
_TEXT_BYTES = 256
_HISTOGRAM_INTS = BINS + 2  # the counts, then the count and the worst (in nanoseconds)
_COUNTERS = (*(c.name for c in SOUND_COUNTERS), *AUDIO_PROCESS_COUNTERS, *ENGINE_COUNTERS)


class SharedStats:
    """See the module docstring. ``create`` in the audio process, ``attach`` in the
    engine process by its path."""

    def __init__(self, path: Path, mapping: mmap.mmap, owner: bool) -> None:
        self.path = path
        self._map = mapping
        self._ints = memoryview(mapping).cast("q")
        self._owner = owner
        names = _COUNTERS
        self._index = {name: i for i, name in enumerate(names)}
        self._texts_at = len(names) * 8
        self._histograms_at = len(names) + len(TEXTS) * _TEXT_BYTES // 8

    @staticmethod
    def _size() -> int:
        ints = len(_COUNTERS) + len(HISTOGRAMS) * _HISTOGRAM_INTS
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
