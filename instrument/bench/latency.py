"""Key-to-sound latency of the thru path, on a private JACK server (dummy backend).

A test controller (rtmidi, its own process) plays single notes; a capture client records
the audio and the controller's MIDI with frame times. The figure per note is the first
audible sample minus the frame at which the key press entered the JACK graph: what the
instrument itself adds. What a player hears adds JACK's own input and output buffering,
the same for every JACK client (a key press waits up to one period for the cycle that
reads it; the output plays a period or two later on a sound card). The same harness
measures ``jack_midisine`` (JACK's C example thru synth) as the floor.

Beside it, for the instrument: the player's own note-on on ``instrument:midi_out``
minus the same arrival frame (``midi_out_from_arrival``): the goal is at most one
period (JACK MIDI: the cycle that reads a key press writes it out at the same frame,
which leaves the graph one period later, as ``jack_midisine``'s sound does).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from instrument.bench.analysis import first_onset, rms
from instrument.bench.jack_tap import Controller, JackTap
from instrument.bench.rig import playing
from instrument.jack.server import JackServer

PITCHES = (60, 64, 67, 72, 57, 53, 69, 76)


@dataclass
class LatencyRun:
    synth: str
    period: int
    rate: int
    from_arrival: list[int]  # frames
    missing: int
    midi_out_from_arrival: list[int] | None = None  # frames; the instrument only

    def summary(self) -> dict:
        def stats(frames: list[int]) -> dict:
            if not frames:
                return {}
            a = np.array(frames, dtype=float)
            ms = a / self.rate * 1000
            return {
                "p50_ms": round(float(np.percentile(ms, 50)), 3),
                "p99_ms": round(float(np.percentile(ms, 99)), 3),
                "max_ms": round(float(ms.max()), 3),
                "p50_periods": round(float(np.percentile(a, 50)) / self.period, 3),
                "p99_periods": round(float(np.percentile(a, 99)) / self.period, 3),
                "max_periods": round(float(a.max()) / self.period, 3),
            }

        result = {
            "synth": self.synth, "period": self.period, "rate": self.rate,
            "notes": len(self.from_arrival), "missing": self.missing,
            "from_arrival": stats(self.from_arrival),
        }
        if self.midi_out_from_arrival is not None:
            result["midi_out_notes"] = len(self.midi_out_from_arrival)
            result["midi_out_from_arrival"] = stats(self.midi_out_from_arrival)
        return result


def midi_out_latency(tap: JackTap) -> list[int]:
    """Frames from each key press's arrival (``ctl``) to the same note-on on the
    instrument's MIDI out (``midi_out``)."""
    out = [(f, d[1]) for f, d in tap.midi["midi_out"] if d[0] & 0xF0 == 0x90 and d[2] > 0]
    result = []
    for frame, d in tap.midi["ctl"]:
        if d[0] & 0xF0 != 0x90 or d[2] == 0:
            continue
        later = [f for f, pitch in out if pitch == d[1] and f >= frame]
        if later:
            result.append(later[0] - frame)
    return result


def _measure(
    tap: JackTap, controller: Controller, notes: int, gap: float, threshold: float
) -> tuple[list[int], int]:
    arrival, missing = [], 0
    hold = int(0.15 * tap.rate)
    for i in range(notes):
        pitch = PITCHES[i % len(PITCHES)]
        before = len(tap.midi["ctl"])
        controller.note_on(pitch, 100)
        tap.wait_frames(hold)
        controller.note_off(pitch)
        tap.wait_frames(int(gap * tap.rate))
        events = [f for f, d in tap.midi["ctl"][before:] if d[0] & 0xF0 == 0x90 and d[2] > 0]
        if not events:
            missing += 1
            continue
        arrived = events[0]
        # Sound may begin in the block the event arrived in, i.e. before its frame.
        window = tap.audio(arrived - tap.period, arrived + hold)
        if rms(tap.audio(arrived - 4 * tap.period, arrived - tap.period)) > threshold:
            missing += 1  # the previous note had not died away: not a clean measurement
            continue
        onset = first_onset(window, threshold)
        if onset is None:
            missing += 1
            continue
        onset_frame = arrived - tap.period + onset
        arrival.append(max(0, onset_frame - arrived))
    return arrival, missing


def measure_instrument(
    server: JackServer, workdir: Path, notes: int = 100, gap: float = 0.35
) -> LatencyRun:
    config = 'mode = "thru"\n[synth]\nplayer_patch = "organ"\n[recording]\nenabled = false\n'
    with playing(server, workdir, config) as rig:
        tap = rig.tap
        arrival, missing = _measure(tap, rig.controller, notes, gap, 1e-4)
        return LatencyRun("instrument", tap.period, tap.rate, arrival, missing,
                          midi_out_latency(tap))


def measure_midisine(server: JackServer, notes: int = 100, gap: float = 0.2) -> LatencyRun | None:
    """JACK's example C thru synth under the same harness; None if it is not installed."""
    if shutil.which("jack_midisine") is None:
        return None
    proc = subprocess.Popen(
        ["jack_midisine"], env=server.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    tap = JackTap("tap", midi_inputs=("ctl",))
    controller = Controller("controller")
    try:
        deadline = time.monotonic() + 5
        while True:
            try:
                tap.connect("midisine:audio_out", "tap:in_1")
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        tap.connect(controller.port, "tap:ctl")
        tap.connect(controller.port, "midisine:midi_in")
        tap.wait_frames(tap.rate // 10)
        arrival, missing = _measure(tap, controller, notes, gap, 1e-4)
        return LatencyRun("jack_midisine", tap.period, tap.rate, arrival, missing)
    finally:
        tap.close()
        controller.close()
        proc.terminate()
        proc.wait(timeout=5)
