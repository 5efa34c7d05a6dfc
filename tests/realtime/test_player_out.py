"""The player's own messages on MIDI out, from the JACK cycle they arrive in, and what
MIDI out remembers of the notes it sent (note-offs when the engine is gone)."""

from __future__ import annotations

from instrument.audio.synth import PATCHES, PolySynth
from instrument.realtime.cycle import JackCycle, NoAudio
from instrument.realtime.input_ring import InputRing
from instrument.realtime.midi_out import MidiOutQueue
from instrument.realtime.player_out import CycleMessages, PlayerOut
from instrument.realtime.router import CycleInput, InputQueue
from instrument.realtime.thru import ThruPlayer
from tests.realtime.fake_jack import FakeClient, FakeMidiInPort, FakeMidiOutPort
from tests.support.pyo_manual import BLOCK, RATE

PLAYER_OUT_CHANNEL = 1


class Rig:
    def __init__(self, out_channel: int | None = PLAYER_OUT_CHANNEL, listen: int = 0,
                 capacity: int = 1 << 16, stamped: bool = False) -> None:
        self.client = FakeClient(RATE, BLOCK)
        self.midi_in = FakeMidiInPort()
        self.midi_out = FakeMidiOutPort(capacity)
        self.queue = InputQueue()
        self.thru = ThruPlayer(PolySynth(PATCHES["organ"], 8, RATE, BLOCK), listen,
                               on_panic=lambda: None)
        self.outgoing = MidiOutQueue()
        self.ring = InputRing()
        self.seen: list[tuple[float, tuple[int, ...]]] = []
        self.cycle = JackCycle(
            self.client, self.midi_in, self.midi_out, self.queue.ring(), self.queue.wakeup,
            NoAudio(self.thru), self.outgoing, own=CycleMessages(PlayerOut(listen, out_channel)),
            stamped=[self.ring] if stamped else (),
        )

    def run(self, incoming=()):
        self.midi_in.next_cycle = [(f, bytes(m)) for f, m in incoming]
        self.midi_out.clear_buffer()
        self.cycle.process(BLOCK)
        self.client.advance()
        return [(f, tuple(b)) for f, b in self.midi_out.cycles[-1]]

    def engine_saw(self):
        return [(round(e.time * RATE), e.message) for e in self.queue.take_all()]


def test_the_players_notes_leave_in_the_cycle_they_arrive_in_at_their_frame():
    rig = Rig(out_channel=4)
    out = rig.run([(10, (0x90, 60, 100)), (30, (0xB0, 64, 127)), (40, (0x80, 60, 0))])
    # Same cycle, same frames, on the player's MIDI out channel (4).
    assert out == [(10, (0x93, 60, 100)), (30, (0xB3, 64, 127)), (40, (0x83, 60, 0))]
    # The engine (and so the recording) still sees them, as they were played.
    assert [m for _, m in rig.engine_saw()] == [(0x90, 60, 100), (0xB0, 64, 127),
                                                 (0x80, 60, 0)]


def test_the_players_notes_merge_in_frame_order_with_planned_messages():
    rig = Rig()
    start = rig.client.last_frame_time / RATE
    rig.outgoing.send((0x91, 48, 80), start + 5 / RATE)
    rig.outgoing.send((0x91, 52, 80), start + 50 / RATE)
    out = rig.run([(20, (0x90, 60, 100))])
    assert out == [(5, (0x91, 48, 80)), (20, (0x90, 60, 100)), (50, (0x91, 52, 80))]


def test_only_notes_pedal_and_pitch_bend_on_the_listened_channel_are_forwarded():
    rig = Rig(listen=1)
    out = rig.run([(1, (0xB0, 1, 64)), (2, (0x91, 60, 100)), (3, (0xE0, 0, 64)),
                   (4, (0xB0, 123, 0)), (5, (0xC0, 3))])
    assert out == [(3, (0xE0, 0, 64))]


def test_send_player_off_sends_nothing_of_the_player():
    rig = Rig(out_channel=None)
    assert rig.run([(3, (0x90, 60, 100))]) == []


def test_a_full_buffer_delays_the_players_note_to_the_next_cycle_never_loses_it():
    rig = Rig(capacity=3)
    out = rig.run([(1, (0x90, 60, 100)), (2, (0x90, 64, 100))])
    assert out == [(1, (0x90, 60, 100))]
    assert rig.run() == [(0, (0x90, 64, 100))]


def test_messages_an_rtmidi_thread_stamped_play_on_their_frame_a_period_later():
    """ALSA MIDI, two processes: rtmidi's callback stamps into a ring; the cycle gives
    the engine and thru what arrived during the last period, at its own frame."""
    rig = Rig(stamped=True)
    forwarded = []
    # Between two cycles JACK's frame clock reads inside the period before the next one.
    deliver = CycleInput(rig.ring, lambda: (rig.client.last_frame_time - BLOCK + 17) / RATE,
                         forwarded.append)
    rig.run()
    deliver([0x90, 62, 90])  # 17 frames into the period before the next cycle
    frame0 = rig.client.last_frame_time
    out = rig.run()
    assert rig.engine_saw() == [(frame0 + 17, (0x90, 62, 90))]
    assert forwarded == [[0x90, 62, 90]]  # MIDI out leaves from rtmidi's sender
    assert out == []  # ... not a second time from the cycle


def test_midi_out_remembers_the_notes_it_sent_and_releases_each_one():
    queue = MidiOutQueue()
    port = FakeMidiOutPort()
    for message in [(0x91, 48, 80), (0x91, 52, 80), (0x91, 55, 80), (0x81, 52, 0),
                    (0x91, 55, 0), (0xB1, 64, 127), (0x92, 70, 90)]:
        queue.send(message)
    queue.write_cycle(port, 0.0, BLOCK, RATE)
    assert queue.sounding(2) == [48] and queue.sounding(3) == [70]
    assert queue.release_sounding([2]) == 1
    port.clear_buffer()
    queue.write_cycle(port, 1.0, BLOCK, RATE)
    sent = [tuple(b) for _, b in port.cycles[-1]]
    assert sent[0] == (0x81, 48, 0)  # the note-off first (releases go first)
    assert sorted(sent[1:]) == [(0xB1, 64, 0), (0xB1, 120, 0), (0xB1, 123, 0)]
    assert queue.sounding(2) == [] and queue.sounding(3) == [70]


def test_all_notes_off_does_not_count_as_each_notes_note_off():
    """Gear that ignores CC 123 still sounds the note: it still needs its note-off."""
    queue = MidiOutQueue()
    port = FakeMidiOutPort()
    queue.send((0x90, 60, 100))
    queue.send((0xB0, 123, 0))
    queue.write_cycle(port, 0.0, BLOCK, RATE)
    assert queue.sounding(1) == [60]


def test_the_rtmidi_sender_path_remembers_what_it_delivered():
    queue = MidiOutQueue()
    queue.send((0x90, 60, 100))
    delivered = []
    queue.next_due()
    queue.take_due(0.0, delivered.append)
    assert delivered == [bytes((0x90, 60, 100))] and queue.sounding(1) == [60]


def test_the_cycle_keeps_the_players_messages_in_preallocated_records():
    own = CycleMessages(PlayerOut(0, 2), capacity=4)
    records = list(own.messages)
    for i in range(6):
        own.add(bytes((0x90, 60 + i, 100)), i)
    assert own.count == 4 and own.overflow == 2
    assert all(a is b for a, b in zip(own.messages, records, strict=True))
    assert own.messages[0] == bytes((0x91, 60, 100))  # on the player's channel (2)
    own.reset()
    assert own.count == 0
