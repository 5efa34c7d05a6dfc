"""The audio-callback side, on pyo's manual server: thru with sustain, planned notes."""

from __future__ import annotations

import itertools

from instrument.audio.bridge import AudioBridge, BlockTimer, SynthEvent
from instrument.audio.synth import PATCHES, PolySynth
from instrument.audio.thru import ThruPlayer
from instrument.midi.router import InputQueue, InputRouter
from tests.support.analysis import first_onset, rms
from tests.support.pyo_manual import BLOCK, RATE, Recorder


def thru_rig(listen_channel=0):
    synth = PolySynth(PATCHES["organ"], 8, RATE, BLOCK)
    panics = []
    thru = ThruPlayer(synth, listen_channel, on_panic=lambda: panics.append(True))
    return synth, thru, panics, Recorder(synth.output)


def test_sustain_pedal_holds_notes_until_lifted():
    synth, thru, _, rec = thru_rig()
    thru.handle((0x90, 60, 100))
    thru.handle((0xB0, 64, 127))
    thru.handle((0x80, 60, 0))
    rec.seconds(0.3)
    assert synth.sounding() == [60]
    assert rms(rec.audio()[-2400:]) > 0.01
    thru.handle((0xB0, 64, 0))
    assert synth.sounding() == []
    rec.seconds(0.3)
    assert rms(rec.audio()[-2400:]) < 1e-5


def test_other_channels_are_ignored_and_panic_silences():
    synth, thru, panics, _rec = thru_rig(listen_channel=2)
    thru.handle((0x90, 60, 100))  # channel 1: not ours
    assert synth.sounding() == []
    thru.handle((0x91, 62, 100))
    thru.handle((0x91, 65, 100))
    assert synth.sounding() == [62, 65]
    thru.handle((0xB1, 123, 0))
    assert panics == [True]
    assert synth.sounding() == []


def test_router_stamps_checks_counts_and_queues():
    synth, thru, _, _rec = thru_rig()
    queue = InputQueue(maxlen=3)
    times = iter([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    router = InputRouter(lambda: next(times), queue, thru)
    router.from_midi_thread([0x90, 60, 100])
    router.from_midi_thread([0x90, 60])  # truncated
    router.from_midi_thread([0xF0, 1, 2, 0xF7])
    router.from_midi_thread([0x80, 60, 0])
    router.from_midi_thread([0xF8])
    router.from_midi_thread([0xF8])  # queue full
    assert [(e.time, e.message) for e in queue.take_all()] == [
        (1.0, (0x90, 60, 100)), (4.0, (0x80, 60, 0)), (5.0, (0xF8,)),
    ]
    assert router.received == 6
    assert dict(router.dropped) == {"malformed": 1, "sysex": 1, "queue full": 1}
    # The thru notes wait for the next audio block, then play.
    assert synth.sounding() == []
    thru.drain()
    assert synth.sounding() == []  # on and off both played


def test_block_timer_smooths_jitter_and_relocks_after_a_stall():
    wall = iter([0.0, 0.0014, 0.0026, 0.0041, 0.0053, 1.0, 1.00134])
    timer = BlockTimer(period=0.00133, now=lambda: next(wall))
    starts = [timer.tick() for _ in range(5)]
    assert max(abs(b - a - 0.00133) for a, b in itertools.pairwise(starts)) < 0.0002
    assert timer.tick() == 1.0 and timer.relocks == 1


def test_planned_notes_start_on_their_sample():
    synth = PolySynth(PATCHES["organ"], 4, RATE, BLOCK)
    rec = Recorder(synth.output)
    t = {"now": 0.0}
    bridge = AudioBridge({"accompaniment": synth}, RATE, BLOCK, now=lambda: t["now"])
    period = BLOCK / RATE
    rec.server.setCallback(lambda: (bridge.on_block(), t.__setitem__("now", t["now"] + period)))
    try:
        due = 10 * period + 23 / RATE  # 23 samples into block 10
        bridge.schedule(SynthEvent(due, "accompaniment", 69, 100))
        bridge.schedule(SynthEvent(due + 0.1, "accompaniment", 69, 0))
        rec.blocks(20)
        onset = first_onset(rec.audio(), threshold=1e-7)
        assert onset in (10 * BLOCK + 23, 10 * BLOCK + 24)
        rec.seconds(0.3)
        assert bridge.late_events == 0
        assert synth.sounding() == []
    finally:
        rec.server.setCallback(lambda: None)


def test_cancel_and_silence_drop_planned_notes():
    synth = PolySynth(PATCHES["organ"], 4, RATE, BLOCK)
    bridge = AudioBridge({"continuation": synth}, RATE, BLOCK, now=lambda: 0.0)
    bridge.schedule(SynthEvent(0.5, "continuation", 60, 100))
    bridge.cancel("continuation")
    bridge.on_block()
    bridge.schedule(SynthEvent(0.0, "continuation", 62, 100))
    bridge.on_block()
    assert synth.sounding() == [62]
    bridge.schedule(SynthEvent(0.5, "continuation", 64, 100))
    bridge.silence_all()
    assert synth.sounding() == []
    bridge.on_block()
    assert synth.sounding() == []
