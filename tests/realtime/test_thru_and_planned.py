"""Thru and planned notes on pyo's manual server: sustain, channels, panic, the sample a
planned note starts on, cancel and silence."""

from __future__ import annotations

import itertools

from instrument.audio.synth import PATCHES, PolySynth
from instrument.realtime.cycle import PyoBlock
from instrument.realtime.planned import BlockTimer, PlannedNotes, SynthEvent
from instrument.realtime.router import InputQueue, MidiThreadInput
from instrument.realtime.thru import ThruPlayer
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


def test_midi_thread_input_stamps_checks_counts_queues_and_plays_at_the_next_block():
    synth, thru, _, _rec = thru_rig()
    queue = InputQueue()
    times = iter([1.0, 2.0, 3.0, 4.0, 5.0])
    deliver = MidiThreadInput(queue.ring(), queue.wakeup, lambda: next(times), thru)
    deliver([0x90, 60, 100])
    deliver([0x90, 60])  # truncated
    deliver([0xF0, 1, 2, 0xF7])
    deliver([0x80, 60, 0])
    deliver([0xF8])
    assert queue.wakeup.is_set()
    assert [(e.time, e.message) for e in queue.take_all()] == [
        (1.0, (0x90, 60, 100)), (4.0, (0x80, 60, 0)), (5.0, (0xF8,)),
    ]
    assert not queue.wakeup.is_set()
    assert queue.received == 5
    assert dict(queue.dropped) == {"malformed": 1, "sysex": 1}
    # The thru notes wait for the next audio block, then play.
    thru.handle((0x90, 67, 100))
    assert synth.sounding() == [67]
    thru.drain()
    assert synth.sounding() == [67]  # 60 on and off both played


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
    planned = PlannedNotes({"accompaniment": synth}, RATE, BLOCK)
    period = BLOCK / RATE
    player = PolySynth(PATCHES["organ"], 4, RATE, BLOCK)
    block = PyoBlock(ThruPlayer(player, 0, lambda: None), planned,
                     BlockTimer(period, lambda: t["now"]))
    rec.server.setCallback(lambda: (block(), t.__setitem__("now", t["now"] + period)))
    try:
        due = 10 * period + 23 / RATE  # 23 samples into block 10
        planned.schedule(SynthEvent(due, "accompaniment", 69, 100))
        planned.schedule(SynthEvent(due + 0.1, "accompaniment", 69, 0))
        rec.blocks(20)
        onset = first_onset(rec.audio(), threshold=1e-7)
        assert onset in (10 * BLOCK + 23, 10 * BLOCK + 24)
        rec.seconds(0.3)
        assert planned.late_events == 0
        assert synth.sounding() == []
    finally:
        rec.server.setCallback(lambda: None)


def test_cancel_and_panic_drop_planned_notes_in_order_with_the_notes():
    synth = PolySynth(PATCHES["organ"], 4, RATE, BLOCK)
    planned = PlannedNotes({"continuation": synth}, RATE, BLOCK)
    planned.schedule(SynthEvent(0.001, "continuation", 60, 100))
    planned.play_due(0.0)
    assert synth.sounding() == [60]
    planned.schedule(SynthEvent(0.5, "continuation", 62, 100))
    planned.cancel("continuation", 0.01)  # drops 62, releases 60
    planned.schedule(SynthEvent(0.02, "continuation", 64, 100))  # after the cancel: kept
    planned.play_due(0.02)
    assert synth.sounding() == [64]
    planned.play_due(0.5)
    assert synth.sounding() == [64]
    planned.schedule(SynthEvent(0.6, "continuation", 65, 100))
    planned.panic()
    planned.play_due(0.6)
    assert synth.sounding() == [] and len(planned) == 0


def test_silence_from_the_audio_thread_forgets_what_waits():
    synth = PolySynth(PATCHES["organ"], 4, RATE, BLOCK)
    planned = PlannedNotes({"continuation": synth}, RATE, BLOCK)
    planned.schedule(SynthEvent(0.0, "continuation", 62, 100))
    planned.play_due(0.0)
    planned.schedule(SynthEvent(0.5, "continuation", 64, 100))
    planned.silence_all()
    assert synth.sounding() == []
    planned.play_due(0.5)
    assert synth.sounding() == []


def test_at_most_a_capped_number_of_planned_notes_per_block_the_rest_wait():
    from instrument.realtime.planned import MAX_EVENTS_PER_BLOCK

    synth = PolySynth(PATCHES["organ"], 4, RATE, BLOCK)
    planned = PlannedNotes({"accompaniment": synth}, RATE, BLOCK)
    for _ in range(MAX_EVENTS_PER_BLOCK + 10):
        planned.schedule(SynthEvent(0.0, "accompaniment", 60, 0))  # note-offs, harmless
    planned.play_due(0.0)
    assert len(planned) == 10
    planned.play_due(0.01)
    assert len(planned) == 0
