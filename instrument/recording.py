"""Recording every session as a Standard MIDI File a producer can open in a DAW.

A type-1 file: a conductor track (tempo, meter) and one named track per part ("player",
"accompaniment", "continuation"). The file is rewritten from memory every
``flush_interval`` seconds by a background thread, atomically (write a temporary file,
then rename), so a crash or a SIGKILL leaves a complete, readable file that lacks at
most the last interval. A full disk is warned about once; playing goes on.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

import mido

from instrument.engine import TimedEvent
from instrument.midi import messages as mm

log = logging.getLogger(__name__)

TICKS_PER_BEAT = 480
PART_ORDER = ("player", "accompaniment", "continuation")


def session_path(directory: Path, started: float | None = None) -> Path:
    """``session-YYYYmmdd-HHMMSS.mid`` in ``directory``; never overwrites a file."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(started or time.time()))
    path = directory / f"session-{stamp}.mid"
    n = 1
    while path.exists():
        n += 1
        path = directory / f"session-{stamp}-{n}.mid"
    return path


class SmfRecorder:
    """An engine output that records events with their due times (see module doc)."""

    def __init__(
        self,
        path: Path,
        start_time: float,
        tempo_bpm: float = 120.0,
        meter: tuple[int, int] = (4, 4),
        flush_interval: float = 0.5,
        channels: dict[str, int] | None = None,
    ) -> None:
        self.path = path
        self.start_time = start_time
        self.tempo_bpm = tempo_bpm
        self.meter = meter
        self.flush_interval = flush_interval
        self.channels = channels or {"player": 1, "accompaniment": 2, "continuation": 3}
        self._events: dict[str, list[tuple[float, tuple[int, ...]]]] = {"player": []}
        self._lock = threading.Lock()
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.write_failures = 0
        self.writes = 0

    # -- engine output ---------------------------------------------------------------

    def play(self, event: TimedEvent) -> None:
        with self._lock:
            self._events.setdefault(event.part, []).append((event.due, event.message))
        self._dirty.set()

    def panic(self, now: float) -> None:
        """What was planned for later never happened: drop it."""
        with self._lock:
            for part, events in self._events.items():
                self._events[part] = [(t, m) for t, m in events if t <= now]
        self._dirty.set()

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.write()
        self._thread = threading.Thread(target=self._run, name="recorder", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.flush_interval):
            if self._dirty.is_set():
                self._dirty.clear()
                self.write()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        self.write()

    # -- the file ----------------------------------------------------------------------

    def _ticks(self, t: float) -> int:
        beats = max(0.0, t - self.start_time) * self.tempo_bpm / 60.0
        return round(beats * TICKS_PER_BEAT)

    def to_midi_file(self) -> mido.MidiFile:
        with self._lock:
            parts = {part: list(events) for part, events in self._events.items()}
        smf = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
        conductor = mido.MidiTrack()
        conductor.append(mido.MetaMessage("track_name", name="instrument", time=0))
        conductor.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(self.tempo_bpm)))
        conductor.append(
            mido.MetaMessage("time_signature", numerator=self.meter[0], denominator=self.meter[1])
        )
        smf.tracks.append(conductor)
        names = [p for p in PART_ORDER if p in parts] + sorted(set(parts) - set(PART_ORDER))
        for part in names:
            smf.tracks.append(self._track(part, parts[part]))
        return smf

    def _track(self, part: str, events: list[tuple[float, tuple[int, ...]]]) -> mido.MidiTrack:
        track = mido.MidiTrack()
        track.append(mido.MetaMessage("track_name", name=part, time=0))
        channel = self.channels.get(part, 1) - 1
        last = 0
        for t, message in sorted(events, key=lambda item: item[0]):
            ticks = self._ticks(t)
            status = message[0]
            if status >= 0xF0:
                continue
            kind = status & 0xF0
            if kind == mm.NOTE_ON and message[2] > 0:
                msg = mido.Message("note_on", note=message[1], velocity=message[2])
            elif kind in (mm.NOTE_ON, mm.NOTE_OFF):
                msg = mido.Message("note_off", note=message[1], velocity=0)
            elif kind == mm.CONTROL_CHANGE:
                msg = mido.Message("control_change", control=message[1], value=message[2])
            elif kind == mm.PITCH_BEND:
                msg = mido.Message("pitchwheel", pitch=(message[2] << 7 | message[1]) - 8192)
            elif kind == mm.PROGRAM_CHANGE:
                msg = mido.Message("program_change", program=message[1])
            else:
                continue
            track.append(msg.copy(channel=channel, time=ticks - last))
            last = ticks
        return track

    def write(self) -> bool:
        """Rewrite the file atomically; False (warned once) if the disk refused."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            smf = self.to_midi_file()
            with open(tmp, "wb") as f:
                smf.save(file=f)
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
            self._dirty.set()
            return False
        self.writes += 1
        if self.write_failures:
            log.info("recording %s written again", self.path)
            self.write_failures = 0
        return True
