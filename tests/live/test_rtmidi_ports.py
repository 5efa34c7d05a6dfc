"""MIDI out's sender thread (rtmidi; ALSA on stage, rtmidi's JACK API here): every
message at its time, a panic at any moment never kills it, an error is counted and it
goes on, and its health is visible."""

from __future__ import annotations

import threading
import time

import pytest

from instrument.live.rtmidi_ports import RtMidiOutput

pytestmark = pytest.mark.jack


@pytest.fixture
def sender(jack_server):
    out = RtMidiOutput("jack", "sender-test", "", time.monotonic)
    delivered: list[tuple[float, bytes]] = []
    write = out._write

    def recording_write(message):
        delivered.append((time.monotonic(), bytes(message)))
        write(message)

    out._write = recording_write
    out.start()
    yield out, delivered
    out.close()


def test_messages_leave_at_their_due_time_in_order(sender):
    out, delivered = sender
    start = time.monotonic() + 0.05
    for i in range(5):
        out.queue.send((0x90, 60 + i, 90), start + 0.02 * i)
    out.queue.send((0x80, 60, 0))  # now
    time.sleep(0.25)
    assert [m for _, m in delivered] == [bytes((0x80, 60, 0))] + [
        bytes((0x90, 60 + i, 90)) for i in range(5)
    ]
    lateness = [t - (start + 0.02 * i) for i, (t, _) in enumerate(delivered[1:])]
    # Never early; on time as a rule. A loaded CI machine may hold the sender thread up
    # once (seen: 37 ms); the timing distribution is the benchmarks' (instrument bench).
    assert all(late >= -0.001 for late in lateness), lateness
    assert sorted(lateness)[len(lateness) // 2] < 0.005, lateness
    assert max(lateness) < 0.1, lateness


def test_panics_at_any_moment_never_kill_the_sender(sender):
    """The sender used to peek under its lock and pop under another acquisition: a panic
    in between raised IndexError in its thread, which died silently."""
    out, delivered = sender
    stop = threading.Event()

    def panicking():
        while not stop.wait(0.0003):  # panics far faster than a player's hands
            out.queue.drop_pending()
            out.queue.drop_channel(1, 0.0)

    thread = threading.Thread(target=panicking)
    thread.start()
    try:
        for round_ in range(200):
            now = time.monotonic()
            for i in range(20):
                out.queue.send((0x90, 40 + i, 90), now + i * 0.0002)
            time.sleep(0.002)
            assert out.alive, f"sender died in round {round_}: {out.last_error}"
    finally:
        stop.set()
        thread.join()
    out.queue.send((0x80, 99, 0))
    time.sleep(0.05)
    assert out.alive and delivered[-1][1] == bytes((0x80, 99, 0))
    assert out.errors == 0


def test_an_error_in_the_sender_is_counted_and_it_goes_on(sender, monkeypatch):
    out, delivered = sender
    calls = iter([RuntimeError("the port broke")])
    take_due = out.queue.take_due

    def failing_once(now, deliver):
        error = next(calls, None)
        if error is not None:
            raise error
        return take_due(now, deliver)

    monkeypatch.setattr(out.queue, "take_due", failing_once)
    out.queue.send((0x90, 61, 90))
    time.sleep(0.1)
    assert out.alive and out.errors == 1 and "the port broke" in out.last_error
    assert delivered[-1][1] == bytes((0x90, 61, 90))
    out.close()
    assert not out.alive
