"""Booting pyo on the chosen backend: JACK, PortAudio, offline (WAV), or manual (tests).

``offline`` in a live run means "no sound card": a pacing thread computes one block per
period of wall time and pyo writes the result to a WAV file, so the instrument still
runs in real time and everything it played can be listened to afterwards.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("PYO_GUI_WX", "0")

import pyo  # noqa: E402  (after PYO_GUI_WX, or pyo warns about a missing GUI)

from instrument.jack_graph import jack_server_running  # noqa: E402

log = logging.getLogger(__name__)


class AudioUnavailable(RuntimeError):
    """The requested audio backend cannot start here (with the reason)."""


@dataclass(frozen=True)
class AudioSettings:
    backend: str  # jack | portaudio | offline | manual
    rate: int = 48000
    buffer: int = 64
    jack_client: str = "instrument"
    device: str = ""
    wav: str = ""
    jack_midi: bool = False


def portaudio_outputs() -> list[tuple[int, str]]:
    """(pyo device index, name) of PortAudio output devices."""
    try:
        names, indexes = pyo.pa_get_output_devices()
    except Exception:  # pyo raises plain errors when PortAudio has no host API
        return []
    return list(zip(indexes, names, strict=False))


def resolve_backend(requested: str) -> tuple[str, str]:
    """``auto`` becomes JACK if a JACK server runs, else PortAudio if a device exists,
    else offline. Returns (backend, why)."""
    if requested != "auto":
        return requested, "as configured"
    if jack_server_running():
        return "jack", "a JACK server is running"
    if portaudio_outputs():
        return "portaudio", "no JACK server; using the default sound device"
    return "offline", "no JACK server and no sound device: writing audio to a WAV file"


def boot(settings: AudioSettings) -> pyo.Server:
    """Create and boot a pyo server (not started). Raises AudioUnavailable."""
    if settings.backend == "jack" and not jack_server_running():
        raise AudioUnavailable("no JACK server is running (start jackd, or use --audio portaudio)")
    audio = {"jack": "jack", "portaudio": "portaudio", "offline": "manual", "manual": "manual"}[
        settings.backend
    ]
    server = pyo.Server(
        sr=settings.rate,
        nchnls=2,
        buffersize=settings.buffer,
        duplex=0,
        audio=audio,
        jackname=settings.jack_client,
        midi="jack" if settings.jack_midi else "portmidi",
        verbosity=1,
    )
    if not settings.jack_midi:
        server.deactivateMidi()
    if settings.backend == "jack":
        server.setJackAuto(False, False)
    if settings.backend == "portaudio":
        server.setOutputDevice(_portaudio_device(settings.device))
    server.boot()
    if not server.getIsBooted():
        raise AudioUnavailable(f"pyo could not start its {settings.backend} audio backend")
    if settings.backend == "jack":
        server.setJackOutputPortNames(["out_1", "out_2"])
        if settings.jack_midi:
            server.setJackMidiInputPortName("midi_in")
            server.setJackMidiOutputPortName("midi_out")
    return server


def _portaudio_device(wanted: str) -> int:
    devices = portaudio_outputs()
    if not devices:
        raise AudioUnavailable("PortAudio finds no output device")
    if not wanted:
        return pyo.pa_get_default_output()
    for index, name in devices:
        if wanted.lower() in name.lower():
            return index
    names = ", ".join(name for _, name in devices)
    raise AudioUnavailable(f"no audio output device matches {wanted!r}; there are: {names}")


class PacedServer:
    """Drives a manual pyo server in real time and records its output to a WAV file."""

    def __init__(self, server: pyo.Server, rate: int, buffer: int, wav: Path) -> None:
        self.server = server
        self.period = buffer / rate
        self.wav = wav
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audio-offline", daemon=True)
        self.late_blocks = 0

    def start(self) -> None:
        self.wav.parent.mkdir(parents=True, exist_ok=True)
        self.server.recordOptions(dur=-1, filename=str(self.wav), fileformat=0, sampletype=1)
        self.server.start()
        self.server.recstart()
        self._thread.start()

    def _run(self) -> None:
        next_block = time.monotonic()
        while not self._stop.is_set():
            self.server.process()
            next_block += self.period
            delay = next_block - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -0.1:
                self.late_blocks += 1
                next_block = time.monotonic()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)
        self.server.recstop()
        self.server.stop()
