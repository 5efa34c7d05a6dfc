"""The records between the engine process and the audio process (``realtime.remote``):
every kind of plan and input makes the round trip through shared memory, a full ring
refuses and counts, a record that fails its checksum is not applied, and the eventfd
wakes a waiter in another process."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from instrument.audio.drums import DrumKit
from instrument.audio.synth import PATCHES, PolySynth
from instrument.names import SOUNDING_PARTS, Part
from instrument.realtime import remote
from instrument.realtime.midi_out import MidiOutQueue
from instrument.realtime.planned import PlannedNotes, SynthEvent
from instrument.realtime.router import InputQueue
from instrument.realtime.shared_ring import _HEADER, CHECK, FIELDS, SLACK, SharedRing
from instrument.realtime.shared_stats import SharedStats, input_counters
from instrument.realtime.thru import ThruPlayer
from instrument.realtime.wakeup import Wakeup
from tests.realtime.fake_jack import FakeMidiOutPort
from tests.support.pyo_manual import BLOCK, RATE

PERIOD = BLOCK / RATE


class Audio:
    """The audio process's side: the real planned notes, MIDI out queue and thru."""

    def __init__(self, capacity: int = 4096) -> None:
        self.synths = {p: PolySynth(PATCHES["organ"], 8, RATE, BLOCK)
                       for p in SOUNDING_PARTS if p != Part.DRUMS}
        self.synths[Part.DRUMS] = DrumKit(RATE, BLOCK)
        self.planned = PlannedNotes(self.synths, RATE, BLOCK)
        self.outgoing = MidiOutQueue()
        self.thru = ThruPlayer(self.synths["player"], 0, self.planned.silence_all)
        self.volumes: list[tuple[str, float]] = []
        self.ring = SharedRing.create(capacity)
        self.stats = SharedStats.create()
        self.reader = remote.PlanReader(self.ring, RATE, self.planned, self.outgoing,
                                        self.thru, lambda p, v: self.volumes.append((p, v)))
        # The engine process's side, on its own mapping of the same files.
        self.writer_ring = SharedRing.attach(self.ring.path)
        self.writer_stats = SharedStats.attach(self.stats.path)
        self.writer = remote.PlanWriter(self.writer_ring, self.writer_stats, RATE)
        self.port = FakeMidiOutPort()
        self.frame = 0

    def cycle(self) -> None:
        """One JACK cycle: plans first, then the block and MIDI out."""
        start = self.frame / RATE
        self.reader.apply()
        self.planned.play_due(start)
        self.port.clear_buffer()
        self.outgoing.write_cycle(self.port, start, BLOCK, RATE)
        self.frame += BLOCK

    def close(self) -> None:
        for thing in (self.writer_ring, self.writer_stats, self.ring, self.stats):
            thing.close()


@pytest.fixture
def audio():
    a = Audio()
    yield a
    a.close()


def test_planned_notes_cancel_and_panic_cross_with_their_frames(audio):
    acc = audio.synths["accompaniment"]
    due = 3 * PERIOD + 17 / RATE
    audio.writer.schedule(SynthEvent(due, "accompaniment", 60, 100))
    audio.writer.schedule(SynthEvent(due + 10 * PERIOD, "accompaniment", 60, 0))
    audio.writer.schedule(SynthEvent(due, "continuation", 72, 90))
    for _ in range(4):
        audio.cycle()
    assert acc.sounding() == [60] and audio.synths["continuation"].sounding() == [72]
    # cancel: the part's later notes are dropped, its sounding ones released
    audio.writer.schedule(SynthEvent(20 * PERIOD, "continuation", 74, 90))
    audio.writer.cancel("continuation", audio.frame / RATE)
    audio.writer.cancel("clock", audio.frame / RATE)  # no synth: nothing to cancel
    assert len(audio.reader) == 2
    for _ in range(20):
        audio.cycle()
    assert audio.synths["continuation"].sounding() == []
    assert acc.sounding() == []  # its planned note-off played
    assert audio.planned.late_events == 0
    # panic: every planned note forgotten, every part cut
    audio.writer.schedule(SynthEvent(audio.frame / RATE, "accompaniment", 64, 100))
    audio.cycle()
    assert acc.sounding() == [64]
    audio.writer.schedule(SynthEvent(audio.frame / RATE + PERIOD, "accompaniment", 65, 100))
    audio.writer.panic()
    audio.cycle()
    audio.cycle()
    assert acc.sounding() == [] and len(audio.planned) == 0


def test_every_sounding_part_crosses_the_bass_and_the_drums_too(audio):
    due = 2 * PERIOD
    for part, pitch in zip(SOUNDING_PARTS, (60, 64, 72, 40, 38), strict=True):
        audio.writer.schedule(SynthEvent(due, part, pitch, 100))
        audio.writer.set_volume(part, 0.5)
    for _ in range(3):
        audio.cycle()
    assert {p: audio.synths[p].sounding() for p in SOUNDING_PARTS} == {
        "player": [60], "accompaniment": [64], "continuation": [72], "bass": [40],
        "drums": [38],
    }
    assert audio.volumes == [(p, 0.5) for p in SOUNDING_PARTS]


def test_a_due_time_keeps_its_sample_across_the_processes(audio):
    """A frame-exact due time: the note starts at that sample of its block."""
    frame = 5 * BLOCK + 23
    audio.writer.schedule(SynthEvent(frame / RATE, "accompaniment", 69, 100))
    got = []
    audio.synths["accompaniment"].note_on = lambda p, v, offset=0: got.append(
        (audio.frame, offset)) or True
    for _ in range(7):
        audio.cycle()
    assert got == [(5 * BLOCK, 23)]


def test_midi_out_timed_at_once_cleared_and_dropped_by_channel(audio):
    audio.writer.send((0x90, 60, 100), 2 * PERIOD + 5 / RATE)
    audio.writer.send((0xB0, 64, 127))  # at once
    audio.writer.send((0xF8,), 2 * PERIOD + 9 / RATE)  # MIDI clock: one byte
    for _ in range(3):
        audio.cycle()
    assert audio.port.written() == [
        (1, 0, (0xB0, 64, 127)), (3, 5, (0x90, 60, 100)), (3, 9, (0xF8,))
    ]
    # drop_channel: channel 2's later messages go, channel 1's stay
    later = audio.frame / RATE + 4 * PERIOD
    audio.writer.send((0x91, 62, 90), later)
    audio.writer.send((0x90, 63, 90), later)
    audio.writer.drop_channel(2, audio.frame / RATE)
    # drop_pending: everything queued before it is forgotten, what follows is kept
    audio.writer.send((0x90, 70, 90), later)
    for _ in range(6):
        audio.cycle()
    sent = [m for _, _, m in audio.port.written()[3:]]
    assert sent == [(0x90, 63, 90), (0x90, 70, 90)]
    audio.writer.send((0x90, 71, 90), audio.frame / RATE + 4 * PERIOD)
    audio.writer.drop_pending()
    audio.writer.send((0x80, 71, 0))
    for _ in range(6):
        audio.cycle()
    assert [m for _, _, m in audio.port.written()[5:]] == [(0x80, 71, 0)]


def test_volume_and_thru_muted(audio):
    audio.writer.set_volume("continuation", 0.375)
    audio.writer.set_thru_muted(True)
    audio.cycle()
    assert audio.volumes == [("continuation", 0.375)]
    assert audio.thru.muted
    audio.writer.set_thru_muted(False)
    audio.cycle()
    assert not audio.thru.muted


def test_a_full_plan_ring_refuses_and_counts():
    a = Audio(capacity=128)
    try:
        for i in range(200):
            a.writer.send((0x90, 60, 1 + i % 100), 10.0)
        assert a.writer.refused == 200 - (128 - SLACK)
        assert a.ring.refused == a.writer.refused
        a.cycle()
        assert len(a.outgoing) == 128 - SLACK
        a.writer.send((0x80, 60, 0))  # room again
        assert a.writer.refused == 200 - (128 - SLACK)
    finally:
        a.close()


def test_a_plan_that_fails_its_checksum_is_not_applied_until_it_is_whole(audio):
    audio.writer.send((0x90, 60, 100))
    view = memoryview(audio.ring._map).cast("q")
    good = view[_HEADER + CHECK]
    view[_HEADER + CHECK] = good ^ 1  # as if the checksum were not visible yet
    audio.cycle()
    assert audio.port.written() == [] and len(audio.reader) == 1
    view[_HEADER + CHECK] = good
    audio.cycle()
    assert audio.port.written() == [(2, 0, (0x90, 60, 100))]
    view.release()


def test_a_new_writer_after_the_old_one_died_continues_where_reading_stopped(audio):
    audio.writer.send((0x90, 60, 100))
    # The old writer dies after filling a record's fields but before its sequence number.
    view = memoryview(audio.writer_ring._map).cast("q")
    base = _HEADER + 1 * FIELDS
    view[base + 2 : base + FIELDS] = memoryview(bytearray(8 * (FIELDS - 2))).cast("q")
    view.release()
    audio.cycle()
    audio.ring.restart_writer()
    writer = remote.PlanWriter(SharedRing.attach(audio.ring.path), audio.writer_stats, RATE)
    writer.send((0x90, 61, 100))
    audio.cycle()
    assert [m for _, _, m in audio.port.written()] == [(0x90, 60, 100), (0x90, 61, 100)]


def publish_inputs(writer: remote.InputWriter, stats: SharedStats) -> None:
    """What the audio process publishes of its inputs (``SoundSide.publish``)."""
    for name, value in input_counters(writer.received, writer.dropped()).items():
        stats.set(name, value)


def test_inputs_cross_checked_with_their_frames_and_counts():
    ring = SharedRing.create(256)
    stats = SharedStats.create()
    try:
        writer = remote.InputWriter(ring, RATE)
        reader = remote.InputReader(SharedRing.attach(ring.path), RATE, SharedStats.attach(
            stats.path))
        queue = InputQueue()
        queue.add_source(reader)
        assert writer.write(b"\x90\x3c\x64", 100 / RATE)
        assert writer.write((0xF8,), 101 / RATE)
        assert writer.write((0xE0, 0, 64), 102 / RATE)
        assert not writer.write((0x90, 200, 1), 103 / RATE)  # malformed
        assert not writer.write((0xF0, 1, 0xF7), 104 / RATE)  # sysex
        writer.complete_until = 2 * BLOCK / RATE
        events = queue.take_all()
        assert [(round(e.time * RATE), e.message) for e in events] == [
            (100, (0x90, 60, 100)), (101, (0xF8,)), (102, (0xE0, 0, 64))
        ]
        assert queue.complete_until() == 2 * BLOCK / RATE
        publish_inputs(writer, stats)
        assert queue.received == 5
        assert dict(queue.dropped) == {"malformed": 1, "sysex": 1}
        # a full ring: counted as "queue full"
        accepted = sum(writer.write((0x90, 60, 100), 0.0) for _ in range(300))
        assert accepted == 256 - SLACK
        publish_inputs(writer, stats)
        assert queue.dropped["queue full"] == 300 - accepted
        # the engine process died: what it did not read is forgotten for the next one
        ring.discard_unread()
        fresh = remote.InputReader(SharedRing.attach(ring.path), RATE, stats)
        assert len(fresh) == 0
        writer.write((0x80, 60, 0), 0.5)
        got: list = []
        fresh.read_into(lambda t, m: got.append(m))
        assert got == [(0x80, 60, 0)]
    finally:
        ring.close()
        stats.close()


def test_wait_sent_waits_for_a_publication_after_the_ring_emptied(audio):
    audio.writer.send((0x90, 60, 100), 1.0)
    assert not audio.writer.wait_sent(0.05)  # nothing reads it
    audio.cycle()
    audio.stats.set("midi_out_pending", len(audio.outgoing))
    for _ in range(3):
        audio.stats.add("publishes")
    assert not audio.writer.wait_sent(0.05)  # still pending, and nothing publishes

    import threading

    stop = threading.Event()

    def publish() -> None:
        while not stop.is_set():
            audio.stats.set("midi_out_pending", 0)
            audio.stats.add("publishes")
            time.sleep(0.005)

    thread = threading.Thread(target=publish)
    thread.start()
    try:
        assert audio.writer.wait_sent(1.0)
    finally:
        stop.set()
        thread.join()


def test_a_shared_wakeup_wakes_a_waiter_in_another_process_every_time():
    wakeup = Wakeup(shared=True)
    try:
        assert not wakeup.is_set()
        code = ("import sys; from instrument.realtime.wakeup import Wakeup; "
                "w = Wakeup.from_fd(int(sys.argv[1]))\n"
                "for _ in range(3):\n"
                "    assert w.wait(10.0); w.clear()\n"
                "    print('woken', flush=True)\n")
        child = subprocess.Popen([sys.executable, "-c", code, str(wakeup.fileno())],
                                 pass_fds=(wakeup.fileno(),), stdout=subprocess.PIPE,
                                 text=True)
        assert child.stdout is not None
        for _ in range(3):
            wakeup.set()  # no "already pending" shortcut across processes
            assert child.stdout.readline() == "woken\n"
        assert child.wait(10) == 0
    finally:
        wakeup.close()
