"""Session recordings: named tracks, exact times, atomic rewrites, a full disk survived."""

from __future__ import annotations

import time

import mido
import numpy as np
import pytest

from instrument.engine.engine import TimedEvent
from instrument.midifile import growing_smf
from instrument.midifile import recorder as recording
from instrument.midifile.recorder import SmfRecorder, session_path


def notes(track):
    out, now = [], 0
    for m in track:
        now += m.time
        if m.type in ("note_on", "note_off"):
            out.append((now, m.type, m.note, m.channel))
    return out


class Clock:
    def __init__(self, t=0.0):
        self.t = t

    def __call__(self):
        return self.t


def test_player_and_instrument_parts_go_to_named_tracks_with_their_times(tmp_path):
    rec = SmfRecorder(tmp_path / "s.mid", start_time=10.0, now=Clock(20.0), tempo_bpm=120)
    rec.play(TimedEvent(10.5, "player", (0x90, 60, 100)))
    rec.play(TimedEvent(11.0, "player", (0x80, 60, 0)))
    rec.play(TimedEvent(11.0, "accompaniment", (0x90, 48, 70)))
    rec.play(TimedEvent(12.0, "accompaniment", (0x90, 48, 0)))
    rec.play(TimedEvent(10.75, "player", (0xB0, 64, 127)))
    assert rec.flush()
    smf = mido.MidiFile(tmp_path / "s.mid")
    assert smf.type == 1 and smf.ticks_per_beat == 480
    assert [t.name for t in smf.tracks] == ["instrument", "player", "accompaniment"]
    tempo = next(m for m in smf.tracks[0] if m.type == "set_tempo")
    assert mido.tempo2bpm(tempo.tempo) == pytest.approx(120)
    player, accomp = smf.tracks[1], smf.tracks[2]
    # 120 bpm, 480 ticks per beat: 0.5 s = 480 ticks.
    assert notes(player) == [(480, "note_on", 60, 0), (960, "note_off", 60, 0)]
    assert notes(accomp) == [(960, "note_on", 48, 1), (1920, "note_off", 48, 1)]
    pedal = [m for m in player if m.type == "control_change"]
    assert pedal[0].control == 64 and pedal[0].value == 127


def test_the_bass_and_the_drums_get_tracks_of_their_own_on_channels_4_and_10(tmp_path):
    rec = SmfRecorder(tmp_path / "s.mid", start_time=0.0, now=Clock(5.0), tempo_bpm=120)
    rec.play(TimedEvent(0.5, "drums", (0x90, 36, 100)))
    rec.play(TimedEvent(0.5, "bass", (0x90, 40, 90)))
    rec.play(TimedEvent(0.6, "drums", (0x80, 36, 0)))
    rec.play(TimedEvent(1.0, "bass", (0x80, 40, 0)))
    assert rec.flush()
    smf = mido.MidiFile(tmp_path / "s.mid")
    tracks = {t.name: t for t in smf.tracks}
    assert list(tracks) == ["instrument", "player", "drums", "bass"]
    assert notes(tracks["drums"]) == [(480, "note_on", 36, 9), (576, "note_off", 36, 9)]
    assert notes(tracks["bass"]) == [(480, "note_on", 40, 3), (960, "note_off", 40, 3)]


def test_events_are_written_once_they_have_happened_and_appended_incrementally(tmp_path):
    clock = Clock(0.0)
    rec = SmfRecorder(tmp_path / "s.mid", start_time=0.0, now=clock)
    rec.play(TimedEvent(0.5, "continuation", (0x90, 72, 90)))
    rec.play(TimedEvent(1.5, "continuation", (0x80, 72, 0)))
    clock.t = 1.0
    rec.flush()
    smf = mido.MidiFile(tmp_path / "s.mid")
    assert [n[1:3] for n in notes(smf.tracks[-1])] == [("note_on", 72)]
    clock.t = 2.0
    rec.play(TimedEvent(1.8, "continuation", (0x90, 74, 90)))
    rec.flush()
    smf = mido.MidiFile(tmp_path / "s.mid")
    assert notes(smf.tracks[-1]) == [
        (480, "note_on", 72, 2), (1440, "note_off", 72, 2), (1728, "note_on", 74, 2),
    ]


def test_file_on_disk_is_complete_while_the_session_runs(tmp_path):
    rec = SmfRecorder(tmp_path / "s.mid", start_time=0.0, now=time.monotonic, flush_interval=0.05)
    rec.start()
    try:
        rec.play(TimedEvent(0.0, "player", (0x90, 64, 90)))
        time.sleep(0.3)
        # Read it as a crash would leave it: complete, with the note so far.
        smf = mido.MidiFile(tmp_path / "s.mid")
        assert [n[2] for n in notes(smf.tracks[1])] == [64]
        assert not (tmp_path / "s.mid.tmp").exists()
    finally:
        rec.close()


def test_panic_drops_notes_that_had_not_happened_yet(tmp_path):
    rec = SmfRecorder(tmp_path / "s.mid", start_time=0.0, now=Clock(2.0))
    rec.play(TimedEvent(1.0, "continuation", (0x90, 72, 90)))
    rec.play(TimedEvent(2.5, "continuation", (0x90, 74, 90)))
    rec.panic(2.0)
    rec.play(TimedEvent(2.0, "continuation", (0x80, 72, 0)))
    rec.close()
    smf = mido.MidiFile(tmp_path / "s.mid")
    assert [(n[1], n[2]) for n in notes(smf.tracks[-1])] == [("note_on", 72), ("note_off", 72)]


def test_disk_full_warns_once_and_keeps_going(tmp_path, monkeypatch, caplog):
    rec = SmfRecorder(tmp_path / "s.mid", start_time=0.0, now=Clock(1.0))
    real_fsync = growing_smf.os.fsync

    def full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(growing_smf.os, "fsync", full)
    rec.play(TimedEvent(0.1, "player", (0x90, 60, 90)))
    assert rec.flush() is False
    assert rec.flush() is False
    warnings = [r for r in caplog.records if "cannot write the recording" in r.message]
    assert len(warnings) == 1 and "No space left" in warnings[0].message
    monkeypatch.setattr(growing_smf.os, "fsync", real_fsync)
    assert rec.flush() is True
    assert notes(mido.MidiFile(tmp_path / "s.mid").tracks[1])[0][2] == 60


def test_session_files_never_overwrite(tmp_path):
    first = session_path(tmp_path, 0.0)
    first.write_bytes(b"x")
    second = session_path(tmp_path, 0.0)
    assert second != first and second.name.endswith("-2.mid")


@pytest.mark.parametrize("message", [(0xF8,), (0xA0, 60, 10)])
def test_messages_a_daw_cannot_use_are_left_out(tmp_path, message):
    rec = SmfRecorder(tmp_path / "s.mid", start_time=0.0, now=Clock(1.0))
    rec.play(TimedEvent(0.1, "player", message))
    rec.flush()
    player = mido.MidiFile(tmp_path / "s.mid").tracks[1]
    assert [m for m in player if not m.is_meta] == []


def test_a_long_session_encodes_each_event_once(tmp_path):
    clock = Clock(0.0)
    rec = SmfRecorder(tmp_path / "s.mid", start_time=0.0, now=clock)
    for i in range(40000):  # about an hour of busy playing
        rec.play(TimedEvent(i * 0.09, "player", (0x90 if i % 2 == 0 else 0x80, 60 + i % 12, 80)))
    clock.t = 3600.0 + recording.HORIZON_LAG  # a flush takes what happened until then
    rec.flush()
    assert rec.encoded == 40000
    rec.play(TimedEvent(3600.1, "player", (0x90, 60, 80)))
    clock.t = 3601.0 + recording.HORIZON_LAG
    rec.flush()
    assert rec.encoded == 40001  # a flush costs what happened since the last one
    assert len(notes(mido.MidiFile(tmp_path / "s.mid").tracks[1])) == 40001


# The first note between two flushes; at once (the file then begins at it, not a blip of
# 600 bpm before it); after a minute of flushes in silence.
@pytest.mark.parametrize("first_note, file_begins", [(1.37, 0.0), (0.02, 0.02), (61.37, 0.0)])
def test_the_tempo_map_follows_the_beat_clock_and_bars_fall_on_its_bars(
    tmp_path, first_note, file_begins
):
    from instrument.music import Meter
    from instrument.timing.beat import BeatClock

    clock = Clock(0.0)
    beat = BeatClock(100.0, Meter(3, 4))
    rec = SmfRecorder(tmp_path / "s.mid", start_time=0.0, now=clock, beat=beat)
    played: list[tuple[float, int]] = []  # (time, clock beat) of each note-on
    b = 0
    while clock.t < first_note + 19.0:
        clock.t = round(clock.t + 0.01, 6)
        if not beat.running and clock.t >= first_note:
            beat.start(first_note, 0.0)  # the first note starts the beat
        if beat.running and beat.time_at(b) <= clock.t:
            t = beat.time_at(b)
            rec.play(TimedEvent(t, "player", (0x90, 60 + b % 12, 90)))
            rec.play(TimedEvent(t + 0.05, "player", (0x80, 60 + b % 12, 0)))
            played.append((t, b))
            if b == 6:
                beat.set_tempo(140.0, t)  # the band speeds up...
            elif b == 15:
                beat.set_tempo(80.0, t)  # ...and slows down
            b += 1
        if round(clock.t * 100) % 25 == 0:  # a flush every 0.25 s
            rec.flush()
    rec.close()

    smf = mido.MidiFile(tmp_path / "s.mid")
    tempos = [mido.tempo2bpm(m.tempo) for m in smf.tracks[0] if m.type == "set_tempo"]
    assert any(abs(t - 140) < 1 for t in tempos) and any(abs(t - 80) < 1 for t in tempos)
    assert all(70 < t < 150 for t in tempos), tempos
    signature = next(m for m in smf.tracks[0] if m.type == "time_signature")
    assert (signature.numerator, signature.denominator) == (3, 4)
    ticks = [n[0] for n in notes(smf.tracks[1]) if n[1] == "note_on"]
    assert len(ticks) == len(played)
    # Every downbeat of the clock is a bar line of the file (3 x 480 ticks).
    first = ticks[0]
    assert first % 1440 == 0
    for tick, (_, clock_beat) in zip(ticks, played, strict=True):
        assert abs(tick - first - 480 * clock_beat) <= 1
    # Played back with the file's tempo map, every note sounds when it was played.
    seconds, now = [], 0.0
    for message in smf:
        now += message.time
        if message.type == "note_on":
            seconds.append(now)
    errors = [abs(s + file_begins - t) for s, (t, _) in zip(seconds, played, strict=True)]
    assert max(errors) < 0.002, errors


def test_a_flush_with_nothing_new_writes_nothing(tmp_path, monkeypatch):
    clock = Clock(1.0)
    rec = SmfRecorder(tmp_path / "s.mid", start_time=0.0, now=clock)
    rec.play(TimedEvent(0.1, "player", (0x90, 60, 90)))
    rec.flush()
    syncs = []
    monkeypatch.setattr(growing_smf.os, "fsync", lambda fd: syncs.append(fd))
    monkeypatch.setattr(growing_smf.os, "pwritev", lambda *a: pytest.fail("wrote"))
    for t in (2.0, 3.0, 4.0):
        clock.t = t
        assert rec.flush()
    assert syncs == []


def test_the_file_grows_in_place_and_is_readable_after_every_append(tmp_path):
    from instrument.midifile.growing_smf import GrowingSmf

    path = tmp_path / "g.mid"
    smf = GrowingSmf(path, 480)
    smf.add_track(bytes([0x00, 0xFF, 0x03, 1, 65]))
    smf.write()
    sizes = set()
    for i in range(2000):
        smf.append(0, bytes([0x10, 0x90, 60 + i % 12, 90]))
        smf.write()
        sizes.add(path.stat().st_size)
        if i % 97 == 0:  # as a crash would leave it, at any moment
            track = mido.MidiFile(path).tracks[0]
            assert sum(1 for m in track if m.type == "note_on") == i + 1
    # 8 KB of events: the file was laid out anew only when a reserve ran out (doubling).
    assert smf.rewrites <= 6 and len(sizes) == smf.rewrites
    assert mido.MidiFile(path).tracks[0].name == "A"


@pytest.mark.parametrize("moved_by", [1.0, 3.0, 2.5])
def test_a_renumbered_beat_keeps_every_note_in_its_place_in_the_bar(tmp_path, moved_by):
    """The follower changes its mind about the bar (or jumps its phase): the file moves to
    the clock's new place in the bar at once, so no note lands in a catching-up stretch."""
    from instrument.music import Meter
    from instrument.timing.beat import BeatClock

    clock = Clock(0.0)
    beat = BeatClock(100.0, Meter(4, 4))
    rec = SmfRecorder(tmp_path / "s.mid", start_time=0.0, now=clock, beat=beat,
                      flush_interval=0.1)
    beat.start(2.0, 0.0)
    played: list[float] = []  # the clock's beat of each note-on, as the clock said then
    b = 0.0
    while clock.t < 14.0:
        clock.t = round(clock.t + 0.01, 6)
        if beat.time_at(b) <= clock.t:
            t = beat.time_at(b)
            rec.play(TimedEvent(t, "player", (0x90, 60, 90)))
            rec.play(TimedEvent(t + 0.05, "player", (0x80, 60, 0)))
            played.append(b)
            b += 0.5
            if len(played) == 17:  # renumbered just after the seventeenth eighth
                beat.place(t + 0.01, beat.beat_at(t + 0.01) + moved_by, 100.0)
                b = float(np.ceil(2 * beat.beat_at(t + 0.01) - 1e-9)) / 2
        if round(clock.t * 100) % 10 == 0:
            rec.flush()
    rec.close()

    smf = mido.MidiFile(tmp_path / "s.mid")
    ticks = [n[0] for n in notes(smf.tracks[1]) if n[1] == "note_on"]
    assert len(ticks) == len(played)
    for tick, clock_beat in zip(ticks, played, strict=True):
        off = (tick / 480 - clock_beat + 2) % 4 - 2
        assert abs(off) <= 2 / 480, (tick, clock_beat)
