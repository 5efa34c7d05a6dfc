"""Booting pyo on the chosen backend: JACK, PortAudio, offline (WAV), or manual (tests).

``offline`` in a live run means "no sound card": a pacing thread computes one block per
period of wall time and pyo writes the result to a WAV file, so the instrument still
runs in real time and everything it played can be listened to afterwards.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

os.environ.setdefault("PYO_GUI_WX", "0")

import pyo

from instrument.audio.quiet_stderr import quiet_c_stderr
from instrument.names import AudioBackend

log = logging.getLogger(__name__)


class AudioUnavailable(RuntimeError):
    """The requested audio backend cannot start here (with the reason)."""


@dataclass(frozen=True)
class AudioSettings:
    backend: str  # jack | portaudio | offline | manual
    rate: int = 48000
    buffer: int = 64
    device: str | None = None  # a PortAudio output device: a substring of its name


def portaudio_outputs() -> list[tuple[int, str]]:
    """(pyo device index, name) of PortAudio output devices."""
    try:
        with quiet_c_stderr():
            names, indexes = pyo.pa_get_output_devices()
    except Exception:  # pyo raises plain errors when PortAudio has no host API
        return []
    return list(zip(indexes, names, strict=False))


def resolve_without_jack() -> tuple[AudioBackend, str]:
    """With no JACK: PortAudio if a device exists, else offline. Returns (backend, why)."""
    if portaudio_outputs():
        return AudioBackend.PORTAUDIO, "no JACK server; using the default sound device"
    return AudioBackend.OFFLINE, "no JACK server and no sound device: writing audio to a WAV file"


def boot(settings: AudioSettings) -> pyo.Server:
    """Create and boot a pyo server (not started). Raises AudioUnavailable.

    With JACK, pyo runs as a manual server that our own JACK client drives
    (``instrument.jack.client``); with ``offline`` a pacing thread drives it.
    """
    audio = "portaudio" if settings.backend == "portaudio" else "manual"
    server = pyo.Server(
        sr=settings.rate,
        nchnls=2,
        buffersize=settings.buffer,
        duplex=0,
        audio=audio,
        verbosity=1,
    )
    server.deactivateMidi()
    if settings.backend == "portaudio":
        server.setOutputDevice(_portaudio_device(settings.device))
    server.boot()
    if not server.getIsBooted():
        raise AudioUnavailable(f"pyo could not start its {settings.backend} audio backend")
    return server


def _portaudio_device(wanted: str | None) -> int:
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


class ManualRenderer:
    """Computes one block of a manual pyo server and returns it (interleaved stereo).

    The returned array is a view of pyo's own output buffer: read it before the next call.
    Real-time: called from the JACK process callback.
    """

    def __init__(self, server: pyo.Server, block_size: int, channels: int = 2) -> None:
        self.server = server
        address = int(server.getOutputAddr(), 16)
        samples = (ctypes.c_float * (block_size * channels)).from_address(address)
        self.buffer = np.ctypeslib.as_array(samples)

    def __call__(self) -> np.ndarray:
        self.server.process()
        return self.buffer


class PacedServer:
    """Drives a manual pyo server in real time and records its output to a WAV file."""

    def __init__(self, server: pyo.Server, rate: int, buffer: int, wav: Path) -> None:
        self.server = server
        self.period = buffer / rate
        self.wav = wav
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audio-offline", daemon=True)

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
                next_block = time.monotonic()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)
        self.server.recstop()
        self.server.stop()
