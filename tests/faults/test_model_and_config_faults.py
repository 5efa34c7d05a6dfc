"""A model missing or corrupt: the instrument starts with its fallback generators, says
so in one clear log line, and plays. A config error: a message naming the key and a
non-zero exit, before anything starts."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.faults.support import REPO, Instrument, assert_plays
from tests.support.jack_tap import Controller, JackTap

SHIPPED = REPO / "exported_models"  # the Markov prior
FALLBACK = r"{task} model {task} unavailable \(.*{why}.*\): using the fallback"


def models_dir(tmp_path, case: str, model_pair):
    d = tmp_path / "models"
    d.mkdir()
    shutil.copy(SHIPPED / "markov_prior.npz", d)
    expect = {}
    if case == "missing":
        expect = {"continuation": "cannot read manifest", "accompaniment": "cannot read manifest"}
    elif case == "corrupt":
        (d / "continuation.json").write_text('{"format": "instrument-model/1", "name": ')
        (d / "continuation.onnx").write_bytes(b"\x08\x07garbage" * 100)
        expect["continuation"] = "not valid JSON"
        (d / "accompaniment.json").write_text("[]")
        expect["accompaniment"] = "must be a JSON object"
    elif case == "sha256":
        # A real model with one byte of its ONNX file changed: the sha256 refuses it.
        shutil.copy(model_pair / "continuation.json", d)
        data = bytearray((model_pair / "continuation.onnx").read_bytes())
        data[len(data) // 2] ^= 0xFF
        (d / "continuation.onnx").write_bytes(bytes(data))
        expect["continuation"] = "sha256 mismatch"
    return d, expect


@pytest.mark.jack
@pytest.mark.e2e
@pytest.mark.parametrize("case", ["missing", "corrupt", "sha256"])
def test_bad_models_start_with_fallbacks_and_play(jack_server, tmp_path, case, model_pair):
    directory, expect = models_dir(tmp_path, case, model_pair)
    config = tmp_path / "instrument.toml"
    config.write_text(f'[models]\ndirectory = "{directory}"\nproviders = ["cpu"]\nseed = 1\n')
    controller = Controller("controller")
    tap = JackTap("tap", midi_inputs=("midi_out",))
    inst = Instrument(jack_server, tmp_path, "--config", str(config), "--mode", "continue",
                      "--midi-in", "controller")
    try:
        inst.wait_for("ready to play")
        for task, why in expect.items():
            inst.wait_for(FALLBACK.format(task=task, why=why), timeout=1)
        inst.wait_for("MIDI input connected: controller:out")
        tap.connect("instrument:out_1", "tap:in_1")
        tap.connect("instrument:midi_out", "tap:midi_out")
        assert_plays(tap, controller, 67)  # the player's own notes
        # A phrase, then silence: the fallback (Markov) continuation answers, in sound.
        for pitch in (60, 62, 64, 65, 67):
            controller.note_on(pitch, 90)
            time.sleep(0.15)
            controller.note_off(pitch)
            time.sleep(0.05)
        phrase_end = tap.now_frame()
        quiet_from = phrase_end + int(0.4 * tap.rate)  # the player's last note has decayed
        answered_at = None
        deadline = time.monotonic() + 10
        while answered_at is None and time.monotonic() < deadline:
            time.sleep(0.1)
            audio = tap.audio(quiet_from, tap.now_frame())
            loud = np.flatnonzero(np.abs(audio) > 0.01)
            if loud.size:
                answered_at = (quiet_from + int(loud[0]) - phrase_end) / tap.rate
        assert answered_at is not None, "no continuation from the fallback:\n" + inst.log[-3000:]
        assert inst.terminate() == 0, inst.log[-5000:]
        print(f"\n{case}: the fallback answered {answered_at:.1f} s after the phrase; " +
              "; ".join(line.split(": ", 1)[1] for line in inst.lines
                        if "using the fallback" in line))
    except BaseException:
        print(inst.log[-6000:])  # pytest shows it with the failure
        raise
    finally:
        inst.kill()
        tap.close()
        controller.close()


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[service]\nstatus_sockt = \"/tmp/x\"\n", "service.status_sockt"),
        ("[service]\nwatchdog = \"yes\"\n", "service.watchdog must be true or false"),
        ("[models]\nproviders = [\"gpu\"]\n", "models.providers"),
        ("[audio]\nbuffer = 100\n", "audio.buffer must be one of"),
        ("[audio\n", "not valid TOML"),
    ],
)
def test_config_error_names_the_key_and_exits_2(tmp_path, text, key):
    config = tmp_path / "config.toml"
    config.write_text(text)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "instrument", "run", "--config", str(config)],
        capture_output=True, text=True, timeout=60, cwd=REPO,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert key in done.stderr and str(config) in done.stderr
    assert "Traceback" not in done.stderr
    assert time.monotonic() - started < 20


def test_missing_config_file_exits_2(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "instrument", "run", "--config", str(tmp_path / "nope.toml")],
        capture_output=True, text=True, timeout=60, cwd=REPO,
    )
    assert done.returncode == 2 and "cannot read config file" in done.stderr
