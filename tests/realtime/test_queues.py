"""The engine-to-cycle hand-overs: the due-time queue, MIDI out (through a fake JACK port
that refuses what does not fit), the input ring and the wakeup."""

from __future__ import annotations

import threading
import time

import pytest

from instrument.realtime.due_queue import DueQueue
from instrument.realtime.input_ring import InputRing
from instrument.realtime.midi_out import MAX_PER_CYCLE, STALE, MidiOutQueue
from instrument.realtime.wakeup import Wakeup
from tests.realtime.fake_jack import FakeMidiOutPort

RATE, FRAMES = 48000, 64
PERIOD = FRAMES / RATE


def drain(queue: DueQueue, end: float) -> list:
    queue.sync()
    out = []
    while (due := queue.head_due()) is not None and due < end:
        out.append((due, queue.pop()))
    return out


def test_due_queue_orders_by_due_time_and_applies_commands_in_order():
    q: DueQueue[str] = DueQueue()
    q.push(0.3, "c", "a")
    q.push(0.1, "a", "a")
    q.push(0.2, "b", "b")
    q.drop("a", 0.15)  # drops c (a, due 0.3), keeps a (due 0.1)
    q.push(0.4, "d", "a")  # pushed after the drop: kept
    assert drain(q, 1.0) == [(0.1, "a"), (0.2, "b"), (0.4, "d")]
    q.push(0.5, "e")
    q.clear()
    q.push(0.6, "f")
    assert drain(q, 1.0) == [(0.6, "f")]
    assert len(q) == 0


def test_due_queue_sync_is_capped_the_rest_waits():
    q: DueQueue[int] = DueQueue()
    for i in range(10):
        q.push(float(i), i)
    q.sync(limit=4)
    assert len(q._heap) == 4 and len(q) == 10
    q.sync()
    assert [q.pop() for _ in range(10)] == list(range(10))


def on_off(pitch, channel=1):
    return (0x90 | (channel - 1), pitch, 100), (0x80 | (channel - 1), pitch, 0)


def test_midi_out_writes_each_message_at_its_frame():
    out, port = MidiOutQueue(), FakeMidiOutPort()
    on, off = on_off(60)
    out.send(on, 10 / RATE)
    out.send(off, PERIOD + 5 / RATE)
    out.send((0xF8,), 30 / RATE)
    for cycle in range(2):
        port.clear_buffer()
        out.write_cycle(port, cycle * PERIOD, FRAMES, RATE)
    assert port.written() == [(1, 10, on), (1, 30, (0xF8,)), (2, 5, off)]
    assert out.sent == 3 and out.late == 0 and len(out) == 0


def test_a_full_buffer_delays_messages_never_loses_a_note_off_and_note_offs_go_first():
    out = MidiOutQueue()
    port = FakeMidiOutPort(capacity=3 * 5)  # five 3-byte messages a cycle
    notes = [on_off(48 + i) for i in range(8)]
    for i, (on, _) in enumerate(notes):
        out.send(on, i / RATE)
    for i, (_, off) in enumerate(notes):
        out.send(off, (20 + i) / RATE)
    cycles = 0
    while len(out):
        port.clear_buffer()
        out.write_cycle(port, cycles * PERIOD, FRAMES, RATE)
        cycles += 1
        assert cycles < 10
    written = port.written()
    assert sorted(m for *_, m in written) == sorted(m for pair in notes for m in pair)
    assert out.deferred > 0 and out.dropped == 0
    second = [m for c, _, m in written if c == 2]
    # The backlog leaves at the next cycle's first frame, note-offs before note-ons.
    kinds = [m[0] & 0xF0 for m in second]
    assert kinds == sorted(kinds), second
    # And each note's off comes after its on.
    order = [m for *_, m in written]
    for on, off in notes:
        assert order.index(on) < order.index(off)


def test_per_cycle_cap_then_the_rest_next_cycle():
    out, port = MidiOutQueue(), FakeMidiOutPort()
    for i in range(MAX_PER_CYCLE + 20):
        out.send((0xB0, 1, i % 128), 1 / RATE)
    port.clear_buffer()
    out.write_cycle(port, 0.0, FRAMES, RATE)
    assert len(port.cycles[-1]) == MAX_PER_CYCLE
    port.clear_buffer()
    out.write_cycle(port, PERIOD, FRAMES, RATE)
    assert len(port.cycles[-1]) == 20


def test_stale_planned_notes_are_dropped_and_counted_but_never_note_offs():
    out, port = MidiOutQueue(), FakeMidiOutPort()
    on, off = on_off(60)
    out.send(on, 0.0)
    out.send(off, 0.01)
    out.send((0xF8,), 0.02)
    port.clear_buffer()
    out.write_cycle(port, STALE + 1.0, FRAMES, RATE)  # the engine stalled for a second
    assert [m for *_, m in port.written()] == [off]
    assert out.dropped == 2


def test_player_messages_leave_with_the_next_cycle_and_panic_drops_what_waits():
    out, port = MidiOutQueue(), FakeMidiOutPort()
    on, off = on_off(64)
    out.send(on, 5.0)
    out.send(off)  # the player's own: now
    out.drop_pending()
    out.send((0xB0, 123, 0))
    port.clear_buffer()
    out.write_cycle(port, 0.0, FRAMES, RATE)
    assert [m for *_, m in port.written()] == [(0xB0, 123, 0)]
    port.clear_buffer()
    out.write_cycle(port, 5.0, FRAMES, RATE)
    assert port.cycles[-1] == []


def test_drop_channel_forgets_only_that_channel_after_the_time():
    out, port = MidiOutQueue(), FakeMidiOutPort()
    out.send((0x91, 60, 90), 0.5)
    out.send((0x92, 62, 90), 0.5)
    out.send((0xF8,), 0.5)
    out.drop_channel(3, 0.1)
    out.drop_channel(0, 0.1)  # MIDI clock
    port.clear_buffer()
    out.write_cycle(port, 0.5, FRAMES, RATE)
    assert [m for *_, m in port.written()] == [(0x91, 60, 90)]


def test_sender_thread_delivery_keeps_a_message_whose_delivery_failed():
    out = MidiOutQueue()
    out.send((0x90, 60, 90), 1.0)
    failures = iter([True, False])

    def deliver(message):
        if next(failures):
            raise OSError("port gone")
        delivered.append(message)

    delivered: list = []
    with pytest.raises(OSError):
        out.take_due(2.0, deliver)
    assert len(out) == 1
    out.take_due(2.0, deliver)
    assert delivered == [bytes((0x90, 60, 90))] and len(out) == 0


def test_input_ring_full_drops_and_counts_and_keeps_what_it_has():
    ring = InputRing(capacity=4)
    for i in range(6):
        ring.write([0x90, 60 + i, 100], float(i))
    got = []
    ring.read_into(lambda t, m: got.append((t, m)))
    assert got == [(float(i), (0x90, 60 + i, 100)) for i in range(4)]
    assert ring.dropped() == {"queue full": 2}
    assert ring.write([0x80, 60, 0], 9.0)  # room again once the engine has read


def test_wakeup_wakes_a_waiting_thread_and_clears():
    wakeup = Wakeup()
    woke = []

    def waiter():
        woke.append(wakeup.wait(5.0))

    thread = threading.Thread(target=waiter)
    thread.start()
    time.sleep(0.05)
    began = time.monotonic()
    wakeup.set()
    thread.join(2.0)
    assert woke == [True] and time.monotonic() - began < 1.0
    wakeup.clear()
    assert not wakeup.is_set() and wakeup.wait(0.01) is False
    wakeup.close()


def test_a_panic_between_looking_at_a_message_and_removing_it_is_harmless():
    """The forced interleaving that killed the old ALSA sender: it peeked at its heap,
    a panic emptied it, and the pop raised IndexError in the thread."""
    out = MidiOutQueue()
    for i in range(5):
        out.send((0x90, 60 + i, 90), 0.1 * i)
    delivered = []

    def deliver_then_panic(message):
        delivered.append(message)
        out.drop_pending()  # the engine's panic, arriving mid-delivery
        out.drop_channel(1, 0.0)

    out.take_due(1.0, deliver_then_panic)  # raises nothing
    out.take_due(1.0, delivered.append)
    assert delivered == [bytes((0x90, 60, 90))]  # what was not yet delivered never is
    assert len(out) == 0
