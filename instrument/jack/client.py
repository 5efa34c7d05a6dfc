"""Our JACK client: ``instrument:midi_in``, ``instrument:midi_out``, ``instrument:out_1/2``.

One JACK client owns every port, so a headless box is wired by name. ``JackClient``
creates the client, gives JACK its process callback and activates it *before* it
registers the ports, so a patchbay or a script that connects the moment a port appears
can always connect. Until the instrument's ``JackCycle`` is built (``run``), the
callback is a ``SilentCycle``: every output of the client is silence. ``deactivate``
parks the cycles first (``instrument.jack.ending``): JACK cancels the process thread it
stops, and one cancelled inside Python hangs the process.

The work of each cycle is ``instrument.realtime.cycle.JackCycle``; its rules are stated
in ``instrument.realtime``. Driving pyo's manual server from our own JACK client (rather
than pyo's JACK backend) gives frame-exact MIDI in and out and one clock for
everything: JACK's frame time.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import jack

from instrument.jack.ending import ProcessEnd
from instrument.jack.graph import JackGraph
from instrument.realtime.cycle import JackCycle, SilentCycle


class JackClock:
    """Clock in seconds of JACK frames: inputs, plans and blocks share one time line."""

    def __init__(self, client: jack.Client) -> None:
        self._client = client
        self._rate = float(client.samplerate)
        self._last: int | None = None

    def now(self) -> float:
        """JACK's estimate of the current frame, never a step back: read while the
        server updates its timer (a busy or synchronous graph), ``jack_frame_time`` can
        come out just below a frame already read, which as an unsigned 32-bit number is
        about 2**32 frames (a day) ahead. Such a reading is held at the last one."""
        frame = self._client.frame_time
        last = self._last
        if last is not None and (frame - last) & 0xFFFFFFFF >= 0x80000000:
            frame = last
        self._last = frame
        return frame / self._rate

    def wait(self, event, until: float) -> bool:
        return event.wait(max(0.0, until - self.now()))


@dataclass(frozen=True)
class JackPorts:
    midi_in: jack.OwnMidiPort
    midi_out: jack.OwnMidiPort
    audio_out: tuple[jack.OwnPort, ...]  # out_1, out_2; empty when pyo plays elsewhere


class JackClient:
    """Owns the JACK client (see the module docstring)."""

    def __init__(self, name: str) -> None:
        self.client = jack.Client(name, no_start_server=True)
        self.name = self.client.name
        self.rate = self.client.samplerate
        self.period = self.client.blocksize
        self.graph = JackGraph(self.client)
        self.clock = JackClock(self.client)
        self.cycle: JackCycle | SilentCycle = SilentCycle(self.client)
        self._active = False
        self._open = True
        self._cycles = ProcessEnd(self.client, self._process)

    def port(self, short: str) -> str:
        return f"{self.name}:{short}"

    def open_ports(self, with_audio: bool) -> JackPorts:
        """Activate the client, then register its ports (connectable as they appear)."""
        self.client.activate()
        self._active = True
        midi_in = self.client.midi_inports.register("midi_in")
        midi_out = self.client.midi_outports.register("midi_out")
        audio = (
            tuple(self.client.outports.register(f"out_{i}") for i in (1, 2))
            if with_audio else ()
        )
        return JackPorts(midi_in, midi_out, audio)

    def run(self, cycle: JackCycle) -> None:
        """From the next period on, ``cycle`` is the instrument's process callback."""
        self.cycle = cycle

    def _process(self, frames: int) -> None:
        self.cycle.process(frames)

    def deactivate(self) -> None:
        """No more cycles from here on (the client stays open: its clock still reads).
        The cycles are parked first (``ProcessEnd``)."""
        if self._active:
            self._active = False
            if self.graph.server_lost.is_set():  # no more cycles come: none to wait for
                self._cycles.deactivate(timeout=0.0)
            else:
                self._cycles.deactivate()

    def close(self) -> None:
        """Deactivate if still active, then close the client; nothing may read the clock
        afterwards. Safe to call twice."""
        self.deactivate()
        if self._open:
            self._open = False
            with contextlib.suppress(jack.JackError):
                self.client.close()
