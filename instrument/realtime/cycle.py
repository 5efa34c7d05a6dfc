"""The real-time path as one structure: one JACK process cycle, or one pyo block.

``JackCycle`` is called by JACK once per period (``JackClient`` registers it); each cycle:

0. applies the engine's plans that arrived (``PlanSource.apply``): with the engine in a
   process of its own, ``remote.PlanReader`` moves planned notes, MIDI out messages and
   sound controls from the shared ring into ``PlannedNotes`` and ``MidiOutQueue``; in
   one process the engine writes those directly and this is ``NO_PLANS``;
1. reads the MIDI that arrived at ``midi_in`` (at most ``MAX_INPUT_EVENTS_PER_CYCLE``;
   more are dropped and counted), stamps each event with its own frame, writes it to
   the engine's ``InputRing`` (or ``remote.InputWriter``: the same ``write`` into the
   shared ring the engine process reads) and, with audio on JACK, plays the player's note on its own
   sample in this very cycle (thru); the player's notes, pedal and pitch bend also go
   to MIDI out in this very cycle, at the same frame (``player_out.CycleMessages``).
   With ALSA MIDI and the engine in its own process, rtmidi's callback stamps each
   message into an ``InputRing`` that the cycle reads here too (``stamped``): the same
   path to the engine and the thru synth, at the frame of the period it arrived in
   (its MIDI out left from rtmidi's sender already). Wakes the engine once if anything
   arrived;
2. runs the audio stage: the player's notes that other threads queued (ALSA MIDI in,
   the demo), the planned notes due in this block (``PlannedNotes``), then pyo's manual
   server computes the block, copied to ``out_1``/``out_2``;
3. writes the MIDI out messages due in this cycle at their frames (``MidiOutQueue``).

Without audio on JACK (pyo on a sound card through PortAudio, JACK only for MIDI), the
audio stage is ``NoAudio``: thru notes wait for pyo's next block, where ``PyoBlock``
plays them and the planned notes.

Everything is given to the constructors. The rules of ``instrument.realtime`` hold for
``JackCycle.process``, ``PyoBlock.__call__`` and everything they call. An exception is
counted (``errors``, ``last_error``) and the cycle's outputs become silence; it never
reaches JACK's thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Protocol

import jack
import numpy as np

from instrument.realtime.histogram import TimingHistogram
from instrument.realtime.input_ring import InputRing
from instrument.realtime.midi_out import MidiOutQueue
from instrument.realtime.planned import BlockTimer, PlannedNotes
from instrument.realtime.player_out import NO_MESSAGES, CycleMessages
from instrument.realtime.thru import ThruPlayer
from instrument.realtime.wakeup import Wakeup

#: Incoming MIDI events handled per cycle; more are dropped and counted (a flood must
#: not make the audio late).
MAX_INPUT_EVENTS_PER_CYCLE = 256


class InputSink(Protocol):
    """Where the cycle writes the player's MIDI: ``InputRing`` or ``remote.InputWriter``."""

    complete_until: float

    def write(self, data: Sequence[int], time: float) -> bool: ...


class PlanSource(Protocol):
    """Plans from an engine in another process, applied at the start of each cycle."""

    def apply(self) -> None: ...


class _NoPlans:
    """One process: the engine hands its plans to the queues itself."""

    def apply(self) -> None:
        return None


NO_PLANS: PlanSource = _NoPlans()


class AudioStage(Protocol):
    def thru(self, message: bytes, offset: int) -> None:
        """The player's accepted message, ``offset`` frames into this cycle."""

    def run(self, start: float) -> None:
        """This cycle's audio, for the block starting at clock time ``start``."""

    def silence(self) -> None:
        """After an error: this cycle's audio outputs become zeros."""


class PyoStage:
    """Audio on JACK: thru and planned notes on pyo's voices, the block to the ports."""

    def __init__(
        self,
        thru: ThruPlayer,
        planned: PlannedNotes,
        render: Callable[[], np.ndarray],
        ports: Sequence[jack.OwnPort],
    ) -> None:
        self._thru = thru
        self._planned = planned
        self._render = render
        self._left, self._right = ports

    def thru(self, message: bytes, offset: int) -> None:
        self._thru.handle(message, offset)

    def run(self, start: float) -> None:
        self._thru.drain()  # what rtmidi (ALSA) or the demo queued since the last cycle
        self._planned.play_due(start)
        block = self._render()
        self._left.get_array()[:] = block[0::2]
        self._right.get_array()[:] = block[1::2]

    def silence(self) -> None:
        self._left.get_array().fill(0.0)
        self._right.get_array().fill(0.0)


class NoAudio:
    """JACK for MIDI only: thru notes go to pyo's own callback (``PyoBlock``)."""

    def __init__(self, thru: ThruPlayer) -> None:
        self._thru = thru

    def thru(self, message: bytes, offset: int) -> None:
        self._thru.enqueue(message)

    def run(self, start: float) -> None:
        return None

    def silence(self) -> None:
        return None


class JackCycle:
    """One JACK process cycle (see the module docstring)."""

    def __init__(
        self,
        client: jack.Client,
        midi_in: jack.OwnMidiPort,
        midi_out: jack.OwnMidiPort,
        inputs: InputSink,
        wakeup: Wakeup,
        audio: AudioStage,
        outgoing: MidiOutQueue,
        plans: PlanSource = NO_PLANS,
        own: CycleMessages = NO_MESSAGES,
        stamped: Sequence[InputRing] = (),
    ) -> None:
        self._client = client
        self._rate = float(client.samplerate)
        self._midi_in = midi_in
        self._midi_out = midi_out
        self._inputs = inputs
        self._wakeup = wakeup
        self._audio = audio
        self._outgoing = outgoing
        self._plans = plans
        self._own = own
        self._stamped = tuple(stamped)
        self._take_stamped = self._stamped_message  # bound once, not per cycle
        self._frame0 = 0
        self._frames = 0
        self._count = 0
        self._arrived = False
        self.cycles = 0
        self.errors = 0
        self.last_error = ""
        self.input_overflow = 0
        self.overruns = 0  # cycles that ended more than a period after they began
        # Every cycle of the session: how long after the cycle began it was entered (the
        # JACK thread waiting for the GIL shows here), and how long it ran.
        self.start_delays = TimingHistogram()
        self.cycle_times = TimingHistogram()

    def process(self, frames: int) -> None:
        began = time.perf_counter()
        rate = self._rate
        client = self._client
        frame0 = client.last_frame_time
        delay = (client.frame_time - frame0) / rate
        start = frame0 / rate
        self.cycles += 1
        audio = self._audio
        try:
            self._plans.apply()
            inputs = self._inputs
            own = self._own
            own.reset()
            count = 0
            arrived = False
            for offset, data in self._midi_in.incoming_midi_events():
                count += 1
                if count > MAX_INPUT_EVENTS_PER_CYCLE:
                    self.input_overflow += 1
                    continue
                message = bytes(data)
                if inputs.write(message, (frame0 + offset) / rate):
                    audio.thru(message, offset)
                    own.add(message, offset)
                    arrived = True
            if self._stamped:
                self._frame0, self._frames = frame0, frames
                self._count, self._arrived = count, arrived
                for ring in self._stamped:
                    ring.take(self._take_stamped, MAX_INPUT_EVENTS_PER_CYCLE)
                arrived = self._arrived
            inputs.complete_until = start + frames / rate
            if arrived:
                self._wakeup.set()
            audio.run(start)
            self._midi_out.clear_buffer()
            self._outgoing.write_cycle(self._midi_out, start, frames, rate, own)
        except Exception as exc:  # never raise into JACK's thread: count it, output silence
            self.errors += 1
            self.last_error = repr(exc)
            audio.silence()
            self._midi_out.clear_buffer()
        spent = time.perf_counter() - began
        self.start_delays.record(delay)
        self.cycle_times.record(spent)
        if delay + spent > frames / rate:
            self.overruns += 1


    def _stamped_message(self, message: Sequence[int], time: float) -> None:
        """One message an rtmidi thread stamped (clock seconds, JACK's frame clock): it
        arrived during the last period, so it plays one period after it arrived, at its
        own frame in this cycle, like a JACK MIDI event (late ones at frame 0)."""
        self._count += 1
        if self._count > MAX_INPUT_EVENTS_PER_CYCLE:
            self.input_overflow += 1
            return
        rate, frames = self._rate, self._frames
        offset = round(time * rate) - (self._frame0 - frames)
        offset = 0 if offset < 0 else (frames - 1 if offset >= frames else offset)
        if self._inputs.write(message, (self._frame0 + offset) / rate):
            self._audio.thru(message, offset)
            self._arrived = True


class SilentCycle:
    """Before the instrument's cycle is built: every output port of the client is zeros."""

    def __init__(self, client: jack.Client) -> None:
        self._client = client
        self.cycles = 0

    def process(self, frames: int) -> None:
        self.cycles += 1
        silence(self._client)


def silence(client: jack.Client) -> None:
    """This cycle, every output port of ``client`` is zeros (audio) or empty (MIDI)."""
    for port in client.outports:
        port.get_array().fill(0.0)
    for port in client.midi_outports:
        port.clear_buffer()


class PyoBlock:
    """pyo's own block callback (PortAudio, or the offline pacing thread): thru notes
    that rtmidi or JACK queued, then the planned notes of this block."""

    def __init__(self, thru: ThruPlayer, planned: PlannedNotes, timer: BlockTimer) -> None:
        self._thru = thru
        self._planned = planned
        self._timer = timer

    def __call__(self) -> None:
        start = self._timer.tick()
        self._thru.drain()
        self._planned.play_due(start)
