"""MIDI out (``MidiOutput``): each sounding part on its own channel, the drums on 10, and a
panic that reaches every channel the parts use."""

from __future__ import annotations

from instrument.config import MidiConfig
from instrument.engine.engine import TimedEvent
from instrument.engine.outputs import MidiOutput
from instrument.midi import messages as mm
from instrument.realtime.midi_out import MidiOutQueue
from tests.realtime.fake_jack import FakeMidiOutPort
from tests.support.pyo_manual import BLOCK, RATE


def sent(queue: MidiOutQueue, port: FakeMidiOutPort, start: float) -> list[tuple[int, ...]]:
    port.clear_buffer()
    queue.write_cycle(port, start, BLOCK, RATE)
    return [tuple(b) for _, b in port.cycles[-1]]


def test_the_drums_go_out_on_channel_10_and_the_bass_on_4_and_a_panic_reaches_both():
    queue, port = MidiOutQueue(), FakeMidiOutPort()
    channels = MidiConfig().channels()
    out = MidiOutput(queue, channels)
    out.play(TimedEvent(0.0, "drums", (0x90, 36, 100)))
    out.play(TimedEvent(0.0, "bass", (0x90, 40, 90)))
    out.play(TimedEvent(0.0, "accompaniment", (0x90, 60, 80)))
    assert sent(queue, port, 0.0) == [(0x99, 36, 100), (0x93, 40, 90), (0x91, 60, 80)]
    assert queue.sounding(10) == [36] and queue.sounding(4) == [40]

    out.panic(0.1)
    cut = sent(queue, port, 0.1)
    for channel in (1, 2, 3, 4, 10):
        status = mm.CONTROL_CHANGE | (channel - 1)
        assert (status, mm.CC_ALL_NOTES_OFF, 0) in cut
        assert (status, mm.CC_ALL_SOUND_OFF, 0) in cut
    # Stopping: each note still sounding gets its own note-off, on its own channel.
    assert queue.release_sounding(channels.values()) == 3
    offs = sent(queue, port, 0.2)
    assert {m for m in offs if m[0] & 0xF0 == 0x80} == {(0x89, 36, 0), (0x83, 40, 0),
                                                        (0x81, 60, 0)}
