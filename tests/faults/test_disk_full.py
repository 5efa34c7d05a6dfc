"""Recordings disk full: the instrument keeps playing, warns once, and catches up when
space comes back.

The recording grows in place inside a reserve at the end of each track, so a full disk
bites when a track outgrows its reserve and the file must be written anew: the tests
play enough notes for that.

Two honest ways to make the disk refuse writes:

- ``tmpfs``: the recordings directory is a tiny tmpfs (needs root and permission to
  mount, as in CI containers run as root) which the test then fills: writes fail with
  ENOSPC, exactly as on a full SD card;
- ``fsize``: without that permission, the instrument runs with RLIMIT_FSIZE (``ulimit
  -f``) below what the recording grows to: writes fail with EFBIG ("File too large").
  Python ignores SIGXFSZ, so the failure arrives as an OSError like a full disk.
"""

from __future__ import annotations

import os
import resource
import subprocess
import time

import mido
import pytest

from tests.faults.support import Instrument, assert_plays
from tests.support.jack_tap import Controller, JackTap

pytestmark = [pytest.mark.jack, pytest.mark.e2e]

WARNING = "cannot write the recording"


def try_mount_tmpfs(path, size: str) -> str | None:
    """Mount a small tmpfs at ``path``; None when mounted, otherwise why not."""
    if os.geteuid() != 0:
        return "not root"
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs",
                           str(path)], capture_output=True, text=True)
    return None if done.returncode == 0 else f"mount failed: {done.stderr.strip()}"


def fill(directory) -> int:
    """Write until the file system is full; return bytes written."""
    written = 0
    for name, chunk in (("filler", 4096), ("filler-tail", 1)):
        fd = os.open(directory / name, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while True:
                written += os.write(fd, b"\0" * chunk)
        except OSError:
            pass
        finally:
            os.close(fd)
    return written


@pytest.fixture
def rig(jack_server):
    controller = Controller("controller")
    tap = JackTap("tap", midi_inputs=())
    yield controller, tap
    tap.close()
    controller.close()


def play_melody(controller, notes: int) -> None:
    """``notes`` short notes, 10 at a time (JACK takes at most 256 events per cycle)."""
    for start in range(0, notes, 10):
        messages = []
        for i in range(start, min(notes, start + 10)):
            pitch = 48 + i % 24
            messages += [[0x90, pitch, 80], [0x80, pitch, 0]]
        controller.send_all(messages)
        time.sleep(0.01)


def test_disk_full_tmpfs_keeps_playing_warns_once_and_recovers(jack_server, tmp_path, rig):
    controller, tap = rig
    rec = tmp_path / "rec"
    why_not = try_mount_tmpfs(rec, "256k")
    if why_not is not None:
        # Only where a tmpfs cannot be mounted; CI runs as root and mounts it.
        pytest.skip(f"cannot mount a tmpfs here ({why_not}): the fsize variant covers this")
    inst = None
    try:
        inst = Instrument(jack_server, tmp_path, "--midi-in", "controller", recordings=rec)
        inst.wait_for("MIDI input connected: controller:out")
        tap.connect("instrument:out_1", "tap:in_1")
        assert_plays(tap, controller, 60)
        time.sleep(0.7)  # flushed while there is room
        filled = fill(rec)
        play_melody(controller, 400)  # the player's track outgrows its reserve
        inst.wait_for(WARNING, timeout=5)
        for pitch in (62, 64, 65):  # it keeps playing, through several failed flushes
            assert_plays(tap, controller, pitch)
        time.sleep(1.5)
        assert inst.count(WARNING) == 1, inst.log
        assert "No space left on device" in inst.log
        assert inst.process.poll() is None

        (rec / "filler").unlink()  # space comes back: the recording catches up
        (rec / "filler-tail").unlink(missing_ok=True)
        inst.wait_for("written again", timeout=5)
        assert inst.terminate() == 0, inst.log[-5000:]
        smf = mido.MidiFile(inst.recording())
        player = next(t for t in smf.tracks if t.name == "player")
        ons = [m.note for m in player if m.type == "note_on" and m.velocity > 0]
        assert len(ons) >= 1 + 400 + 3, ons  # nothing played while full was lost
        print(f"\ndisk full (tmpfs 256k, {filled} bytes of filler): one warning, played on, "
              f"{len(ons)} notes in the recording after space came back")
    finally:
        if inst is not None:
            inst.kill()
        subprocess.run(["umount", "-l", str(rec)], check=False)


def test_file_size_limit_keeps_playing_and_warns_once(jack_server, tmp_path, rig):
    controller, tap = rig
    limit = 2048  # bytes: the recording passes this after ~250 note events

    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    inst = Instrument(jack_server, tmp_path, "--midi-in", "controller",
                      env={"PYTHONDONTWRITEBYTECODE": "1"}, preexec_fn=limit_file_size)
    try:
        inst.wait_for("MIDI input connected: controller:out")
        tap.connect("instrument:out_1", "tap:in_1")
        play_melody(controller, 400)
        inst.wait_for(WARNING, timeout=10)
        assert "File too large" in inst.log
        for pitch in (62, 67):
            assert_plays(tap, controller, pitch)
        time.sleep(1.5)
        assert inst.count(WARNING) == 1, inst.log
        assert inst.process.poll() is None
        assert inst.terminate() == 0, inst.log[-5000:]  # an unwritable recording is no error
        smf = mido.MidiFile(inst.recording())  # the last good flush is still a valid file
        assert smf.tracks
    finally:
        inst.kill()
