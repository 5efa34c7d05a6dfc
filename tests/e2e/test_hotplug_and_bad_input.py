"""End to end on JACK: controller hotplug, and hostile or broken input survived."""

from __future__ import annotations

import ast
import re
import time

import numpy as np
import pytest

from instrument.music import midi_to_hz
from tests.support.analysis import cents, estimate_f0, rms
from tests.support.instrument_proc import InstrumentProcess
from tests.support.jack_tap import Controller, JackTap

pytestmark = [pytest.mark.jack, pytest.mark.e2e]


def played(tap: JackTap, controller: Controller, pitch: int, hold: float = 0.3) -> np.ndarray:
    """Play one note and return what the instrument sounded while it was held."""
    start = tap.now_frame()
    controller.note_on(pitch, 100)
    tap.wait_frames(int(hold * tap.rate))
    controller.note_off(pitch)
    end = tap.now_frame()
    tap.wait_frames(int(0.5 * tap.rate))
    return tap.audio(start, end)


def assert_sounds(audio: np.ndarray, pitch: int, rate: int) -> None:
    assert rms(audio) > 1e-2, "no sound"
    body = audio[int(0.05 * rate) :]
    assert abs(cents(estimate_f0(body, rate), midi_to_hz(pitch))) < 30


@pytest.fixture
def tap(jack_server):
    tap = JackTap("tap", midi_inputs=("midi_out",))
    yield tap
    tap.close()


def test_controller_plugged_in_late_unplugged_and_back(jack_server, tmp_path, tap):
    inst = InstrumentProcess(jack_server, tmp_path, "--midi-in", "controller", "--mode", "thru")
    try:
        inst.wait_for("ready to play")
        inst.wait_for("no controller yet")
        tap.connect("instrument:out_1", "tap:in_1")
        controller = Controller("controller")
        plugged = time.monotonic()
        inst.wait_for("MIDI input connected: controller:out", timeout=2.0)
        print(f"\ncontroller connected {time.monotonic() - plugged:.2f} s after it appeared")
        assert_sounds(played(tap, controller, 67), 67, tap.rate)

        controller.unplug()
        inst.wait_for("controller:out is gone", timeout=2.0)
        controller.plug()
        replugged = time.monotonic()
        deadline = replugged + 2.0
        while inst.count("MIDI input connected: controller:out") < 2:
            assert time.monotonic() < deadline, inst.log
            time.sleep(0.02)
        print(f"reconnected {time.monotonic() - replugged:.2f} s after it came back")
        assert_sounds(played(tap, controller, 72), 72, tap.rate)
        controller.close()
        assert inst.terminate() == 0
    finally:
        inst.kill()


def test_malformed_unknown_sysex_floods_and_5000_notes_per_second(jack_server, tmp_path, tap):
    controller = Controller("controller")
    inst = InstrumentProcess(jack_server, tmp_path, "--midi-in", "controller", "--mode", "thru")
    try:
        inst.wait_for("MIDI input connected: controller:out")
        tap.connect("instrument:out_1", "tap:in_1")
        tap.connect("instrument:midi_out", "tap:midi_out")

        broken = [[0x90, 60], [0x45, 0x12], [0xF4], [0x90, 200, 100], [0xF8, 1], [0xB0]]
        unknown = [[0xF9], [0xFD], [0xA0, 60, 10], [0xD0, 40], [0xF6]]
        controller.send_all((broken + unknown) * 20)
        # A SysEx flood: 2,000 messages of 64 bytes over one second.
        controller.paced([0xF0, 0x7D, *([0x11] * 62), 0xF7], count=2000, per_batch=20, every=0.01)
        # 5,000 note events per second for 10 seconds.
        sent = controller.flood(rate=5000, seconds=10.0)
        assert inst.process.poll() is None, inst.log
        time.sleep(1.0)

        # Right after, it still plays the right note, on sound and on MIDI out.
        before = len(tap.midi["midi_out"])
        assert_sounds(played(tap, controller, 64), 64, tap.rate)
        after = [d for _, d in tap.midi["midi_out"][before:] if d[0] & 0xF0 == 0x90 and d[2] > 0]
        assert [d[1] for d in after] == [64]

        # Every event was received and the drops were counted in the log (the report
        # comes every 5 s and once more at exit).
        assert inst.terminate() == 0
        reports = re.findall(r"input: (\d+) received; dropped (\{.*?\}); .*", inst.log)
        assert reports, inst.log
        received, dropped_text = reports[-1]
        dropped = ast.literal_eval(dropped_text)
        assert dropped.get("malformed", 0) >= len(broken) * 20
        assert dropped.get("sysex", 0) >= 1900
        # JACK itself may lose a few events of a flood on a loaded machine (the sender's
        # ring buffer); what arrived was all counted.
        expected = sent + 2000 + len(broken + unknown) * 20 + 2
        assert int(received) >= 0.98 * expected
        print(f"\n{sent} note events in 10 s; {received} of {expected} received; "
              f"last report: {reports[-1]}")
        assert re.search(r"recording saved", inst.log)
    finally:
        inst.kill()
        controller.close()
