"""Our JACK client: ``instrument:midi_in``, ``instrument:midi_out``, ``instrument:out_1/2``.

One JACK client owns every port, so a headless box is wired by name. Its process
callback is the heart of the live instrument on JACK; each cycle it:

1. reads the MIDI that arrived, with each event's frame, and hands it to the input
   router: the player's note starts on its own sample in this very cycle (thru);
2. runs the audio bridge for this block (planned notes at their sample) and computes the
   block with pyo's manual server, then copies it to the audio ports;
3. writes the MIDI out messages due in this cycle, each at its frame.

Driving pyo's manual server from our own JACK client (rather than pyo's JACK backend)
gives frame-exact MIDI in and out and one clock for everything: JACK's frame time.

Real-time rules for ``_process``: it runs on JACK's process thread holding the GIL for
the whole cycle. It reads and writes port buffers, pops bounded deques and runs pyo; it
never blocks, logs, allocates much, or waits on a lock. Errors are counted, and the
cycle's output becomes silence rather than an exception in JACK's thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import jack
import numpy as np

from instrument.cycle_timing import CycleHistogram
from instrument.jack_graph import JackGraph
from instrument.midi.jack_midi import JackMidiSender

# Incoming MIDI events handled per cycle; more are dropped and counted (a flood must not
# make the audio late).
MAX_INPUT_EVENTS_PER_CYCLE = 256


class JackClock:
    """Clock in seconds of JACK frames: inputs, plans and blocks share one time line."""

    def __init__(self, client: jack.Client) -> None:
        self._client = client
        self._rate = float(client.samplerate)

    def now(self) -> float:
        return self._client.frame_time / self._rate

    def wait(self, event: threading.Event, until: float) -> bool:
        return event.wait(max(0.0, until - self.now()))


class JackHost:
    """Owns the JACK client and its process callback (see the module docstring)."""

    def __init__(self, name: str, with_audio: bool) -> None:
        self.client = jack.Client(name, no_start_server=True)
        self.name = self.client.name
        self.rate = self.client.samplerate
        self.period = self.client.blocksize
        self.graph = JackGraph(self.client)
        self.clock = JackClock(self.client)
        self.midi_in = self.client.midi_inports.register("midi_in")
        self.midi_out = self.client.midi_outports.register("midi_out")
        self.audio_out = (
            [self.client.outports.register(f"out_{i}") for i in (1, 2)] if with_audio else []
        )
        self.on_midi: Callable[[bytes, float, int], None] | None = None
        self.on_block: Callable[[float], None] | None = None
        self.render: Callable[[], np.ndarray] | None = None
        self.sender: JackMidiSender | None = None
        self.cycles = 0
        self.errors = 0
        self.last_error = ""
        # Every cycle of the session: how long after the cycle began our callback was
        # entered (JACK's thread waiting for the GIL shows here), and how long it ran.
        self.start_delays = CycleHistogram()
        self.cycle_times = CycleHistogram()
        self.overruns = 0  # cycles that ended more than a period after they began
        self.input_overflow = 0
        self.client.set_process_callback(self._process)

    def port(self, short: str) -> str:
        return f"{self.name}:{short}"

    def activate(self) -> None:
        self.client.activate()

    def _process(self, frames: int) -> None:
        began = time.perf_counter()
        rate = self.rate
        frame0 = self.client.last_frame_time
        delay = (self.client.frame_time - frame0) / rate
        start = frame0 / rate
        self.cycles += 1
        try:
            on_midi = self.on_midi
            count = 0
            for offset, data in self.midi_in.incoming_midi_events():
                count += 1
                if count > MAX_INPUT_EVENTS_PER_CYCLE:
                    self.input_overflow += 1
                    continue
                if on_midi is not None:
                    on_midi(bytes(data), (frame0 + offset) / rate, offset)
            if self.on_block is not None:
                self.on_block(start)
            if self.audio_out:
                block = self.render() if self.render is not None else None
                if block is None:
                    for port in self.audio_out:
                        port.get_array().fill(0.0)
                else:
                    self.audio_out[0].get_array()[:] = block[0::2]
                    self.audio_out[1].get_array()[:] = block[1::2]
            if self.sender is not None:
                self.sender.write(self.midi_out, start, frames, rate)
            else:
                self.midi_out.clear_buffer()
        except Exception as exc:  # never raise into JACK's thread: count it, output silence
            self.errors += 1
            self.last_error = repr(exc)
            for port in self.audio_out:
                port.get_array().fill(0.0)
            self.midi_out.clear_buffer()
        spent = time.perf_counter() - began
        self.start_delays.record(delay)
        self.cycle_times.record(spent)
        if delay + spent > frames / rate:
            self.overruns += 1

    def close(self) -> None:
        try:
            self.client.deactivate()
            self.client.close()
        except jack.JackError:
            pass
