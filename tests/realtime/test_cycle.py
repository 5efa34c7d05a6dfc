"""One JACK cycle at a time, with a fake JACK client: MIDI in at frames (into the ring,
and thru on its own sample), planned notes in the block, MIDI out at frames, what a
flood does, and that an error becomes silence."""

from __future__ import annotations

import numpy as np

from instrument.audio.synth import PATCHES, PolySynth
from instrument.realtime.cycle import MAX_INPUT_EVENTS_PER_CYCLE, JackCycle, NoAudio, PyoStage
from instrument.realtime.midi_out import MidiOutQueue
from instrument.realtime.planned import PlannedNotes, SynthEvent
from instrument.realtime.router import InputQueue
from instrument.realtime.thru import ThruPlayer
from tests.realtime.fake_jack import FakeAudioPort, FakeClient, FakeMidiInPort, FakeMidiOutPort
from tests.support.pyo_manual import BLOCK, RATE, manual_server


class Rig:
    def __init__(self, audio: bool = True, render=None) -> None:
        self.client = FakeClient(RATE, BLOCK)
        self.midi_in, self.midi_out = FakeMidiInPort(), FakeMidiOutPort()
        self.queue = InputQueue()
        self.player = PolySynth(PATCHES["organ"], 8, RATE, BLOCK)
        self.accomp = PolySynth(PATCHES["organ"], 8, RATE, BLOCK)
        self.thru = ThruPlayer(self.player, 0, on_panic=lambda: None)
        self.planned = PlannedNotes({"accompaniment": self.accomp}, RATE, BLOCK)
        self.outgoing = MidiOutQueue()
        self.ports = (FakeAudioPort(BLOCK), FakeAudioPort(BLOCK))
        server = manual_server()
        self.frames = np.zeros(2 * BLOCK, dtype=np.float32)

        def default_render():
            server.process()
            self.frames[:] = 0.25
            return self.frames

        stage = (
            PyoStage(self.thru, self.planned, render or default_render, self.ports)
            if audio else NoAudio(self.thru)
        )
        self.cycle = JackCycle(self.client, self.midi_in, self.midi_out, self.queue.ring(),
                               self.queue.wakeup, stage, self.outgoing)

    def run(self, incoming=()):
        self.midi_in.next_cycle = [(f, bytes(m)) for f, m in incoming]
        self.midi_out.clear_buffer()  # as JACK hands a fresh buffer each cycle
        self.cycle.process(BLOCK)
        self.client.advance()


def test_midi_in_reaches_the_engine_with_its_frame_time_and_thru_plays_it_at_once():
    rig = Rig()
    rig.run()
    rig.run([(10, (0x90, 60, 100)), (20, (0x90, 60)), (30, (0x80, 60, 0))])
    events = rig.queue.take_all()
    assert [(round(e.time * RATE), e.message) for e in events] == [
        (BLOCK + 10, (0x90, 60, 100)), (BLOCK + 30, (0x80, 60, 0))
    ]
    assert dict(rig.queue.dropped) == {"malformed": 1}
    assert rig.player.sounding() == []  # on, then off, both in that cycle
    rig.run([(5, (0x90, 64, 90))])
    assert rig.player.sounding() == [64]
    assert rig.queue.wakeup.is_set()


def test_notes_queued_by_another_thread_play_at_the_next_cycle():
    """ALSA MIDI in (rtmidi's thread) with audio on JACK, and the demo, queue thru notes."""
    rig = Rig()
    rig.thru.enqueue((0x90, 65, 100))
    assert rig.player.sounding() == []
    rig.run()
    assert rig.player.sounding() == [65]


def test_without_audio_thru_waits_for_pyos_own_block():
    rig = Rig(audio=False)
    rig.run([(3, (0x90, 62, 100))])
    assert rig.player.sounding() == []
    rig.thru.drain()
    assert rig.player.sounding() == [62]


def test_planned_notes_and_midi_out_fall_in_their_cycle_and_frame():
    rig = Rig()
    period = BLOCK / RATE
    rig.planned.schedule(SynthEvent(2 * period + 7 / RATE, "accompaniment", 55, 80))
    rig.outgoing.send((0x91, 55, 80), 2 * period + 7 / RATE)
    for _ in range(2):
        rig.run()
    assert rig.accomp.sounding() == []
    rig.run()
    assert rig.accomp.sounding() == [55]
    assert rig.midi_out.written()[-1][1:] == (7, (0x91, 55, 80))
    assert np.all(rig.ports[0].buffer == 0.25) and np.all(rig.ports[1].buffer == 0.25)


def test_an_input_flood_is_capped_per_cycle_and_counted():
    rig = Rig()
    flood = [(i % BLOCK, (0x90 if i % 2 == 0 else 0x80, 60, 100)) for i in range(400)]
    rig.run(sorted(flood, key=lambda e: e[0]))
    assert len(rig.queue.take_all()) == MAX_INPUT_EVENTS_PER_CYCLE
    assert rig.cycle.input_overflow == 400 - MAX_INPUT_EVENTS_PER_CYCLE


def test_an_error_in_the_cycle_is_counted_and_the_outputs_are_silence():
    def broken():
        raise RuntimeError("pyo went away")

    rig = Rig(render=broken)
    rig.outgoing.send((0x90, 60, 90), 0.0)
    rig.run()
    assert rig.cycle.errors == 1 and "pyo went away" in rig.cycle.last_error
    assert np.all(rig.ports[0].buffer == 0.0)
    assert rig.midi_out.cycles[-1] == []
    assert rig.cycle.cycles == 1 and rig.cycle.cycle_times.count == 1
