"""A JACK client that records audio and MIDI with exact frame times, and a test
"controller": an rtmidi JACK virtual output that tests and benchmarks play notes into."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time

import jack
import numpy as np

from instrument.jack.ending import ProcessEnd


class JackTap:
    """Records audio inputs and MIDI inputs, each sample/event stamped with its JACK frame.

    Audio lands in a preallocated buffer indexed by frame (no allocation in the process
    callback); MIDI events are appended as (frame, bytes).
    """

    def __init__(self, name: str = "tap", seconds: float = 180.0, midi_inputs=("midi",)) -> None:
        self.client = jack.Client(name, no_start_server=True)
        self.rate = self.client.samplerate
        self.period = self.client.blocksize
        self.audio_in = self.client.inports.register("in_1")
        self.midi_in = {n: self.client.midi_inports.register(n) for n in midi_inputs}
        self.buffer = np.zeros(int(seconds * self.rate), dtype=np.float32)
        self.first_frame: int | None = None
        self.last_frame = 0
        self.midi: dict[str, list[tuple[int, bytes]]] = {n: [] for n in midi_inputs}
        self.xruns = 0
        self._cycles = ProcessEnd(self.client, self._process)
        self.client.set_xrun_callback(self._xrun)
        self.client.activate()

    def _xrun(self, delay: float) -> None:
        self.xruns += 1

    def _process(self, frames: int) -> None:
        frame = self.client.last_frame_time
        if self.first_frame is None:
            self.first_frame = frame
        pos = frame - self.first_frame
        if pos + frames <= self.buffer.size:
            self.buffer[pos : pos + frames] = self.audio_in.get_array()
        self.last_frame = frame + frames
        for name, port in self.midi_in.items():
            for offset, data in port.incoming_midi_events():
                self.midi[name].append((frame + offset, bytes(data)))

    def connect(self, source: str, destination: str) -> None:
        self.client.connect(source, destination)

    def now_frame(self) -> int:
        return self.last_frame

    def audio(self, start_frame: int, end_frame: int) -> np.ndarray:
        """Captured samples between two JACK frames (zeros where nothing was captured)."""
        assert self.first_frame is not None
        a = max(0, start_frame - self.first_frame)
        b = max(a, min(self.buffer.size, end_frame - self.first_frame))
        return self.buffer[a:b].copy()

    def wait_frames(self, frames: int) -> None:
        target = self.now_frame() + frames
        deadline = time.monotonic() + frames / self.rate * 4 + 2
        while self.now_frame() < target and time.monotonic() < deadline:
            time.sleep(0.005)

    def close(self) -> None:
        self._cycles.deactivate()
        self.client.close()


class Controller:
    """The musician's keyboard, for tests: an rtmidi JACK virtual output port
    (``NAME:out``), living in a process of its own (see ``controller_proc``)."""

    def __init__(self, name: str = "controller") -> None:
        self.name = name
        self.process = subprocess.Popen(
            [sys.executable, "-m", "instrument.bench.controller_proc", name],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        self._read()

    def _read(self) -> dict:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the test controller exited ({self.process.poll()})")
        return json.loads(line)

    def _command(self, **cmd) -> dict:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(cmd) + "\n")
        self.process.stdin.flush()
        return self._read()

    @property
    def port(self) -> str:
        return f"{self.name}:out"

    def send(self, *message: int) -> int:
        """Send one message; returns JACK's frame time read just before sending."""
        return self._command(send=[list(message)])["frames"][0]

    def send_all(self, messages: list[list[int]]) -> None:
        self._command(send=messages)

    def paced(self, message: list[int], count: int, per_batch: int, every: float) -> None:
        self._command(paced={"message": message, "count": count, "per_batch": per_batch,
                             "every": every})

    def flood(self, rate: int, seconds: float) -> int:
        """Note on/off pairs at ``rate`` events per second; returns how many were sent."""
        return self._command(flood={"rate": rate, "seconds": seconds})["sent"]

    def note_on(self, pitch: int, velocity: int = 100, channel: int = 1) -> int:
        return self.send(0x90 | (channel - 1), pitch, velocity)

    def note_off(self, pitch: int, channel: int = 1) -> None:
        self.send(0x80 | (channel - 1), pitch, 0)

    def unplug(self) -> None:
        """The port disappears, as when the USB cable is pulled."""
        self._command(unplug=True)

    def plug(self) -> None:
        self._command(plug=True)

    def close(self) -> None:
        """Ask the controller to quit; if it has not within 5 s (its JACK client's close
        can block), kill it. Its answer is not waited for."""
        if self.process.poll() is None:
            assert self.process.stdin is not None
            with contextlib.suppress(BrokenPipeError, ValueError):
                self.process.stdin.write(json.dumps({"quit": True}) + "\n")
                self.process.stdin.flush()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def play_onsets(controller: Controller, onsets, velocity=None, gap: float = 0.03) -> None:
    """Play ``(time, pitch, velocity)`` onsets (a played performance's) into
    ``controller`` in real time from now, each note held until ``gap`` before the next
    (the last for 0.4 s). ``velocity(i)``, if given, replaces the i-th note's velocity."""
    start = time.monotonic() + 0.2
    for i, (t, pitch, played) in enumerate(onsets):
        until = onsets[i + 1][0] - gap if i + 1 < len(onsets) else t + 0.4
        delay = start + t - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        controller.note_on(pitch, played if velocity is None else velocity(i))
        time.sleep(max(0.01, until - t))
        controller.note_off(pitch)


def play_for(controller: Controller, performance, seconds: float, pause: float = 3.0) -> int:
    """Loop a ``MidiPerformance``'s messages into ``controller`` for ``seconds``, with a
    ``pause`` after each pass (the instrument answers), then every note off; the note-ons
    sent."""
    notes = 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        loop = time.monotonic()
        for t, message in performance.events:
            delay = loop + t - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            controller.send(*message)
            notes += message[0] & 0xF0 == 0x90 and message[2] > 0
            if time.monotonic() - t0 >= seconds:
                break
        time.sleep(min(pause, max(0.0, seconds - (time.monotonic() - t0))))
    for pitch in range(128):
        controller.send(0x80, pitch, 0)
    return notes
