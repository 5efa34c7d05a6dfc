"""End to end on JACK: the engine runs in a process of its own, and its death is survived.

`instrument run` (audio and MIDI on JACK) is two processes: the audio process with the
JACK client, and the engine process with the models and the Band. The engine process is
killed with SIGKILL while the accompaniment holds a chord: MIDI out gets a note-off for
each note of the chord (for gear that ignores CC 123/120), then all notes off and all
sound off on the accompaniment's channel, the instrument's sound stops, the player's own
notes still sound and still reach MIDI out, and the engine comes back and accompanies
again.

The same with ALSA MIDI, through its test seam (``INSTRUMENT_TEST_ALSA_VIA_JACK``: the
rtmidi ports of the ALSA path open with rtmidi's JACK API, as this machine has no ALSA
sequencer): two processes, the player's note sounds and leaves on MIDI out from
rtmidi's sender, before and after a SIGKILL of the engine process, which comes back.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from instrument.bench.instrument_proc import InstrumentProcess
from instrument.bench.jack_tap import Controller, JackTap
from instrument.bench.rig import playing
from tests.faults.support import play, sounds_at, wait_frames
from tests.support.analysis import rms

pytestmark = [pytest.mark.jack, pytest.mark.e2e]

BPM = 120
ACCOMPANIMENT_CHANNEL = 2  # the default midi.accompaniment_channel
CONFIG = (
    'mode = "accompany"\n[tempo]\nbpm = 120\nsource = "internal"\nsend_clock = false\n'
    '[synth]\naccompaniment_patch = "organ"\n'
)
MELODY = [67, 69, 71, 72, 74, 72, 71, 69, 67, 66, 67, 69, 71, 67, 62, 67]


def accompaniment_notes(tap, since: int = 0) -> list[tuple[int, int, bool]]:
    out = []
    for frame, d in list(tap.midi["midi_out"]):
        if (frame >= since and len(d) == 3 and d[0] & 0xF0 in (0x80, 0x90)
                and (d[0] & 0x0F) + 1 == ACCOMPANIMENT_CHANNEL):
            out.append((frame, d[1], d[0] & 0xF0 == 0x90 and d[2] > 0))
    return out


def held(notes: list[tuple[int, int, bool]]) -> set[int]:
    sounding: set[int] = set()
    for _, pitch, on in notes:
        (sounding.add if on else sounding.discard)(pitch)
    return sounding


def play_until_a_chord_is_held(controller, tap, timeout: float = 20.0) -> None:
    frames = int(60 / BPM * 0.5 * tap.rate)
    deadline = time.monotonic() + timeout
    i = 0
    while time.monotonic() < deadline:
        pitch = MELODY[i % len(MELODY)]
        controller.note_on(pitch, 90)
        tap.wait_frames(int(frames * 0.8))
        controller.note_off(pitch)
        tap.wait_frames(frames - int(frames * 0.8))
        i += 1
        if i >= 8 and held(accompaniment_notes(tap)):
            return
    raise AssertionError(f"no accompaniment chord held: {accompaniment_notes(tap)}")


def test_the_engine_process_killed_mid_chord_silences_its_parts_keeps_thru_and_comes_back(
    jack_server, tmp_path
):
    with playing(jack_server, tmp_path, CONFIG) as rig:
        controller, tap, inst = rig.controller, rig.tap, rig.instrument
        pid = int(inst.wait_for(r"the engine runs in process (\d+)").group(1))
        play_until_a_chord_is_held(controller, tap)
        chord = held(accompaniment_notes(tap))
        killed = tap.now_frame()
        os.kill(pid, signal.SIGKILL)
        inst.wait_for(rf"the engine process {pid} died \(killed by SIGKILL\)", timeout=5)
        wait_frames(tap, int(0.6 * tap.rate))

        # MIDI out: a note-off for each note that sounded, then all notes off and all
        # sound off, on the accompaniment's channel: nothing of it left sounding.
        after = [d for f, d in list(tap.midi["midi_out"]) if f >= killed]
        status = 0xB0 | (ACCOMPANIMENT_CHANNEL - 1)
        assert bytes((status, 123, 0)) in after and bytes((status, 120, 0)) in after, (
            chord, after)
        assert chord and held(accompaniment_notes(tap)) == set(), (chord, after)
        inst.wait_for(r"a note-off for each of the \d+ notes", timeout=5)
        # The instrument's sound stops (the player played nothing since).
        quiet = tap.audio(tap.now_frame() - int(0.15 * tap.rate), tap.now_frame())
        assert rms(quiet) < 1e-3, rms(quiet)
        # The player's own notes still sound, and still leave on MIDI out.
        pressed = tap.now_frame()
        assert sounds_at(play(tap, controller, 76), 76, tap.rate)
        assert any(d == bytes((0x90, 76, 100)) for f, d in list(tap.midi["midi_out"])
                   if f >= pressed), [(f - pressed, d) for f, d in tap.midi["midi_out"][-12:]]

        # The engine comes back and accompanies again.
        inst.wait_for(r"engine process \d+ is back", timeout=60)
        back = tap.now_frame()
        play_until_a_chord_is_held(controller, tap)
        assert any(on for _, _, on in accompaniment_notes(tap, since=back))
        assert inst.count(r"engine process \d+ started") == 2
        assert inst.terminate() == 0, inst.log[-3000:]
    assert inst.count(r"session: \d+ xruns") == 1  # from the engine that came back


def _port(tap: JackTap, pattern: str, midi_output: bool) -> str:
    ports = tap.client.get_ports(pattern, is_midi=True, is_output=midi_output)
    assert ports, [p.name for p in tap.client.get_ports(is_midi=True)]
    return ports[0].name


def test_alsa_midi_runs_in_two_processes_and_the_players_midi_out_outlives_the_engine(
    jack_server, tmp_path, monkeypatch
):
    monkeypatch.setenv("INSTRUMENT_TEST_ALSA_VIA_JACK", "1")
    config = tmp_path / "alsa.toml"
    config.write_text(CONFIG)
    out = subprocess.run([sys.executable, "-m", "instrument", "check", "--config",
                          str(config), "--midi-api", "alsa"], capture_output=True,
                         text=True, timeout=60)
    assert "ALSA via python-rtmidi" in out.stdout and "layout: two processes" in out.stdout, (
        out.stdout + out.stderr)
    tap = JackTap("tap", midi_inputs=("midi_out", "ctl"))
    controller = Controller("controller")
    tap.connect(controller.port, "tap:ctl")
    # The last --midi-api wins over InstrumentProcess's own "--midi-api jack".
    inst = InstrumentProcess(jack_server, tmp_path, "--config", str(config),
                             "--midi-api", "alsa", "--midi-in", "controller")
    try:
        pid = int(inst.wait_for(r"the engine runs in process (\d+)", timeout=60).group(1))
        assert inst.count("ALSA via python-rtmidi") == 1
        inst.wait_for("MIDI input connected: controller:out")
        # rtmidi's own JACK clients (the seam) hold the ALSA path's ports.
        midi_out = _port(tap, r"instrument-[0-9]+:midi_out", midi_output=True)
        tap.connect("instrument:out_1", "tap:in_1")
        tap.connect(midi_out, "tap:midi_out")
        tap.wait_frames(tap.rate // 10)

        # The player's note sounds, and leaves on MIDI out (not through the engine).
        pressed = tap.now_frame()
        assert sounds_at(play(tap, controller, 72), 72, tap.rate)
        assert any(d == bytes((0x90, 72, 100)) for f, d in list(tap.midi["midi_out"])
                   if f >= pressed), tap.midi["midi_out"][-10:]

        # The engine process killed: the player's note still sounds and still leaves on
        # MIDI out (neither goes through the engine). (A held chord is not waited for
        # here: the seam's own rtmidi JACK clients make the test server's frame clock
        # jump; the note-offs after a kill are shown on JACK MIDI above, and MIDI out's
        # memory of what the sender delivered in tests/realtime/test_player_out.py.)
        os.kill(pid, signal.SIGKILL)
        inst.wait_for(rf"the engine process {pid} died \(killed by SIGKILL\)", timeout=5)
        pressed = tap.now_frame()
        assert sounds_at(play(tap, controller, 74), 74, tap.rate)
        assert any(d == bytes((0x90, 74, 100)) for f, d in list(tap.midi["midi_out"])
                   if f >= pressed), tap.midi["midi_out"][-10:]
        inst.wait_for(r"engine process \d+ is back", timeout=60)
        assert inst.terminate(timeout=30) == 0, inst.log[-3000:]
    finally:
        inst.kill()
        tap.close()
        controller.close()
    assert re.search(r"session: \d+ xruns", inst.log)
