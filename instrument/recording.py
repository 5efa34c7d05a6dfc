"""Recording every session as a Standard MIDI File a producer can open in a DAW.

A type-1 file: a conductor track (tempo, meter) and one named track per part ("player",
"accompaniment", "continuation"). Every ``flush_interval`` seconds a background thread
encodes the events that have happened since the last flush onto each track's bytes and
rewrites the file atomically (a temporary file, then a rename), so a crash or a SIGKILL
leaves a complete, readable file that lacks at most the last interval. Encoding is
incremental, so a flush costs the same in the first minute of a gig and in the third
hour. A full disk is warned about once; playing goes on.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path

import mido

from instrument.engine import TimedEvent
from instrument.midi import messages as mm

log = logging.getLogger(__name__)

TICKS_PER_BEAT = 480
PART_ORDER = ("player", "accompaniment", "continuation")
_END_OF_TRACK = b"\x00\xff\x2f\x00"


def session_path(directory: Path, started: float | None = None) -> Path:
    """``session-YYYYmmdd-HHMMSS.mid`` in ``directory``; never overwrites a file."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(started or time.time()))
    path = directory / f"session-{stamp}.mid"
    n = 1
    while path.exists():
        n += 1
        path = directory / f"session-{stamp}-{n}.mid"
    return path


def _varlen(value: int) -> bytes:
    out = bytearray([value & 0x7F])
    value >>= 7
    while value:
        out.insert(0, 0x80 | (value & 0x7F))
        value >>= 7
    return bytes(out)


def _meta(kind: int, data: bytes) -> bytes:
    return b"\x00\xff" + bytes([kind]) + _varlen(len(data)) + data


def _recordable(message: tuple[int, ...], channel: int) -> bytes | None:
    """The message as it goes into the file, on ``channel`` (0..15), or None."""
    status = message[0]
    if status >= 0xF0:
        return None
    kind = status & 0xF0
    if kind == mm.NOTE_ON and message[2] == 0:
        return bytes((mm.NOTE_OFF | channel, message[1], 0))
    if kind in (mm.NOTE_ON, mm.NOTE_OFF, mm.CONTROL_CHANGE, mm.PITCH_BEND, mm.PROGRAM_CHANGE):
        return bytes((kind | channel, *message[1:]))
    return None


class _Track:
    """One part's events: encoded bytes so far plus events not yet due."""

    def __init__(self, name: str, channel: int) -> None:
        self.channel = channel
        self.data = bytearray(_meta(0x03, name.encode()))
        self.last_tick = 0
        self.pending: list[tuple[float, tuple[int, ...]]] = []


class SmfRecorder:
    """An engine output that records events with their due times (see module doc)."""

    def __init__(
        self,
        path: Path,
        start_time: float,
        now: Callable[[], float],
        tempo_bpm: float = 120.0,
        meter: tuple[int, int] = (4, 4),
        flush_interval: float = 0.5,
        channels: dict[str, int] | None = None,
    ) -> None:
        self.path = path
        self.start_time = start_time
        self.now = now
        self.tempo_bpm = tempo_bpm
        self.meter = meter
        self.flush_interval = flush_interval
        self.channels = channels or {"player": 1, "accompaniment": 2, "continuation": 3}
        self._tracks: dict[str, _Track] = {}
        self._track("player")
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.write_failures = 0
        self.writes = 0
        self.encoded = 0  # events encoded so far (each exactly once)

    def _track(self, part: str) -> _Track:
        track = self._tracks.get(part)
        if track is None:
            track = _Track(part, self.channels.get(part, 1) - 1)
            self._tracks[part] = track
        return track

    # -- engine output ---------------------------------------------------------------

    def play(self, event: TimedEvent) -> None:
        with self._lock:
            self._track(event.part).pending.append((event.due, event.message))

    def cancel(self, part: str, now: float) -> None:
        """A part was cut short: its events after ``now`` never happened."""
        with self._lock:
            track = self._tracks.get(part)
            if track is not None:
                track.pending = [(t, m) for t, m in track.pending if t <= now]

    def panic(self, now: float) -> None:
        """What was planned for later never happened: drop it."""
        with self._lock:
            for track in self._tracks.values():
                track.pending = [(t, m) for t, m in track.pending if t <= now]

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.flush()
        self._thread = threading.Thread(target=self._run, name="recorder", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.flush_interval):
            self.flush()

    def close(self) -> bool:
        """Write everything, including events still in the future, and stop.

        False if the last write failed (the warning was logged)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        return self.flush(until=float("inf"))

    # -- the file ----------------------------------------------------------------------

    def _ticks(self, t: float) -> int:
        beats = max(0.0, t - self.start_time) * self.tempo_bpm / 60.0
        return round(beats * TICKS_PER_BEAT)

    def _encode_due(self, until: float) -> None:
        with self._lock:
            for track in self._tracks.values():
                due = sorted((e for e in track.pending if e[0] <= until), key=lambda e: e[0])
                if not due:
                    continue
                track.pending = [e for e in track.pending if e[0] > until]
                for t, message in due:
                    data = _recordable(message, track.channel)
                    if data is None:
                        continue
                    tick = max(track.last_tick, self._ticks(t))
                    track.data += _varlen(tick - track.last_tick) + data
                    track.last_tick = tick
                    self.encoded += 1

    def to_bytes(self) -> bytes:
        """The file as it stands (events encoded so far)."""
        conductor = (
            _meta(0x03, b"instrument")
            + _meta(0x51, struct.pack(">I", mido.bpm2tempo(self.tempo_bpm))[1:])
            + _meta(0x58, bytes([self.meter[0], self.meter[1].bit_length() - 1, 24, 8]))
        )
        with self._lock:
            order = [p for p in PART_ORDER if p in self._tracks]
            order += sorted(set(self._tracks) - set(PART_ORDER))
            tracks = [conductor] + [bytes(self._tracks[p].data) for p in order]
        out = bytearray(b"MThd" + struct.pack(">IHHH", 6, 1, len(tracks), TICKS_PER_BEAT))
        for data in tracks:
            body = data + _END_OF_TRACK
            out += b"MTrk" + struct.pack(">I", len(body)) + body
        return bytes(out)

    def flush(self, until: float | None = None) -> bool:
        """Encode what has happened and rewrite the file atomically.

        False (warned once per failure streak) if the disk refused; events stay in
        memory and the next flush tries again.
        """
        self._encode_due(self.now() if until is None else until)
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            with open(tmp, "wb") as f:
                f.write(self.to_bytes())
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            self.write_failures += 1
            if self.write_failures == 1:
                log.warning(
                    "cannot write the recording %s (%s); playing on, will retry",
                    self.path, exc.strerror or exc,
                )
            return False
        self.writes += 1
        if self.write_failures:
            log.info("recording %s written again", self.path)
            self.write_failures = 0
        return True
