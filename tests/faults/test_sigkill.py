"""SIGKILL mid-performance: the session's recording is readable up to the last second.

The recorder rewrites the file atomically every 0.5 s, so a kill (or a power cut) leaves
a complete Standard MIDI File that lacks at most the last flush interval.

Runs on a JACK server of its own: with the test server's ``--sync``, jackd waits about
10 s for a killed client before the graph moves again, which would stall other tests.
"""

from __future__ import annotations

import time
import uuid

import mido
import pytest

from tests.faults.support import Instrument, dispose_server
from tests.support.jack_tap import Controller
from tests.support.jackd import start_test_jackd

pytestmark = [pytest.mark.jack, pytest.mark.e2e]

PITCHES = [60, 62, 64, 65, 67, 69, 71, 72, 74, 76, 77, 79]
STEP = 0.25  # seconds per note (on, then off half-way)


def test_sigkill_leaves_a_readable_recording_up_to_the_last_second(tmp_path, monkeypatch):
    server = start_test_jackd(name=f"instrument-kill-{uuid.uuid4().hex[:8]}")
    monkeypatch.setenv("JACK_DEFAULT_SERVER", server.name)  # for the controller
    monkeypatch.setenv("JACK_NO_START_SERVER", "1")
    controller = inst = None
    try:
        controller = Controller("controller")
        inst = Instrument(server, tmp_path, "--midi-in", "controller")
        inst.wait_for("MIDI input connected: controller:out")
        sent_at: list[tuple[float, int]] = []
        for pitch in PITCHES:
            sent_at.append((time.monotonic(), pitch))
            controller.note_on(pitch, 90)
            time.sleep(STEP / 2)
            controller.note_off(pitch)
            time.sleep(STEP / 2)
        # Keep a note held while the kill comes: its note-off is never written.
        controller.note_on(84, 90)
        time.sleep(0.3)
        killed = time.monotonic()
        inst.sigkill()
        assert inst.process.returncode == -9

        path = inst.recording()
        smf = mido.MidiFile(path)  # raises if the file is not a complete SMF
        player = next(t for t in smf.tracks if t.name == "player")
        recorded = [m.note for m in player if m.type == "note_on" and m.velocity > 0]
        all_sent = [*sent_at, (killed - 0.3, 84)]
        # What is in the file is exactly what was played, in order, with nothing missing
        # before the last second.
        assert recorded == [p for _, p in all_sent][: len(recorded)], (recorded, all_sent)
        due = [p for t, p in all_sent if t < killed - 1.0]
        assert len(due) >= len(PITCHES) - 6
        assert len(recorded) >= len(due), (recorded, due)
        missing = all_sent[len(recorded):]
        gap = killed - missing[0][0] if missing else 0.0
        print(f"\nSIGKILL: {len(recorded)} of {len(all_sent)} note-ons in {path.name} "
              f"({path.stat().st_size} bytes); lost: those played in the last {gap:.2f} s")
    finally:
        if inst is not None:
            inst.kill()
        if controller is not None:
            controller.process.kill()  # closing it politely would wait out jackd's timeout
            controller.process.wait()
        dispose_server(server)
