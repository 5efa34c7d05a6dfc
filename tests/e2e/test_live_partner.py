"""End to end on JACK: the instrument as a partner, accompanying and answering live.

`instrument run` plays with a test controller on a private JACK server; a capture client
records its MIDI out and audio with frame times. The player's own synth voice is muted
here so the captured audio is the instrument's alone.
"""

from __future__ import annotations

import numpy as np
import pytest

from instrument.bench.rig import playing
from tests.support.analysis import rms
from tests.support.jack_tap import JackTap

pytestmark = [pytest.mark.jack, pytest.mark.e2e]

BPM = 120


def config_text(mode, extra="", meter="4/4", bpm=BPM, source="follow"):
    return (
        f'mode = "{mode}"\n[tempo]\nbpm = {bpm}\nmeter = "{meter}"\nsource = "{source}"\n'
        "send_clock = false\n"
        "[synth]\nplayer_volume = 0.0\naccompaniment_patch = \"organ\"\n" + extra
    )


@pytest.fixture
def partner(jack_server, tmp_path, request):
    mode, extra, *tempo = request.param
    with playing(jack_server, tmp_path, config_text(mode, extra, *tempo)) as rig:
        yield rig.controller, rig.tap, rig.instrument


def notes_out(tap: JackTap, channel: int) -> list[tuple[int, int, bool]]:
    """(frame, pitch, is_on) of note messages on MIDI out on ``channel`` (1-16)."""
    out = []
    for frame, d in tap.midi["midi_out"]:
        if len(d) == 3 and d[0] & 0xF0 in (0x80, 0x90) and (d[0] & 0x0F) + 1 == channel:
            out.append((frame, d[1], d[0] & 0xF0 == 0x90 and d[2] > 0))
    return out


def arrivals(tap: JackTap) -> list[tuple[int, int, bool]]:
    return [
        (f, d[1], d[0] & 0xF0 == 0x90 and d[2] > 0)
        for f, d in tap.midi["ctl"]
        if len(d) == 3 and d[0] & 0xF0 in (0x80, 0x90)
    ]


def play_line(controller, tap, pitches, beats_each=0.5, bpm=BPM):
    frames = int(60 / bpm * beats_each * tap.rate)
    for pitch in pitches:
        controller.note_on(pitch, 90)
        tap.wait_frames(int(frames * 0.8))
        controller.note_off(pitch)
        tap.wait_frames(frames - int(frames * 0.8))


MELODY = [67, 69, 71, 72, 74, 72, 71, 69, 67, 66, 67, 69, 71, 67, 62, 67] * 2


# On the fixed clock (source "internal") the beat is exact, so this measures the engine's
# scheduling: chords leave on the frame of their beat. Following a player is measured in
# test_live_follow.
@pytest.mark.parametrize("partner", [("accompany", "", "4/4", BPM, "internal")],
                         indirect=True)
def test_on_a_fixed_clock_the_accompaniment_sounds_exactly_on_its_beats(partner):
    controller, tap, inst = partner
    play_line(controller, tap, MELODY)
    tap.wait_frames(tap.rate // 2)

    first_note = arrivals(tap)[0][0]
    # The style's steps: eighths of the 4/4 beat (its chords strike on and off the beat).
    step = 60 / BPM * tap.rate / 2  # frames
    chords = [f for f, _, on in notes_out(tap, 2) if on]
    assert len(chords) >= 8, f"accompaniment notes on MIDI out: {len(chords)}"
    starts = sorted(set(chords))
    errors = np.array([(f - first_note + step / 2) % step - step / 2 for f in starts])
    p50, p99 = np.percentile(np.abs(errors), [50, 99])
    print(f"\naccompaniment onsets vs the eighths' grid over {errors.size} chord changes "
          f"({tap.rate} Hz, {tap.period} frames): |error| p50 {p50:.1f} frames, "
          f"p99 {p99:.1f} frames, max {np.abs(errors).max():.0f} frames")
    # Exactly on the beat as a rule. A machine loaded far beyond a gig's (CI beside model
    # training, no real-time priorities) can starve the engine thread; a late note then
    # leaves at once. The benchmarks report the distribution; here: on the beat at the
    # median, and never later than a clearly audible flam.
    assert p50 <= tap.period
    assert np.abs(errors).max() <= 0.050 * tap.rate

    # It is heard: silence before the first chord, sound from its frame on.
    first_chord = starts[0]
    assert rms(tap.audio(first_chord - 2400, first_chord - 10)) < 1e-4
    after = tap.audio(first_chord, first_chord + 4800)
    assert rms(after) > 1e-2
    onset = int(np.flatnonzero(np.abs(after) > 1e-4)[0])
    print(f"first chord audible {onset} frames after its MIDI out frame")
    assert onset <= tap.period

    # The model read the melody forecast, which took the player's notes as they came,
    # before the beats' deadlines (status: its work ahead, apart from the step's).
    model = status_of(inst)["models"]["accompaniment"]
    print(f"accompaniment steps {model['steps']}, p50 {model['p50_ms']} ms; forecast "
          f"{model['foresight']}")
    assert model["steps"] >= 8 and model["foresight"]["ahead_p50_ms"] is not None
    # The whole beat's decision is timed too; the model's step for a beat was taken
    # ahead of its deadline, with the notes heard before it, on most beats.
    decision = model["decision"]
    print(f"decisions {decision}")
    assert decision["p50_ms"] > 0 and decision["stepped_ahead"] >= decision["beats"] // 2

    # Nothing is left sounding when it stops.
    assert inst.terminate() == 0
    ons = notes_out(tap, 2)
    for pitch in {p for _, p, _ in ons}:
        events = [on for _, p, on in ons if p == pitch]
        assert events.count(True) <= events.count(False), f"note {pitch} left on"


@pytest.mark.parametrize("partner", [("continue", "[continuation]\nmin_beats = 4.0\n")],
                         indirect=True)
def test_a_phrase_gets_an_answer_within_a_beat_and_playing_again_stops_it(partner):
    controller, tap, inst = partner
    play_line(controller, tap, [60, 62, 64, 65, 67, 65, 64, 62])
    last_off = max(f for f, _, on in arrivals(tap) if not on)
    tap.wait_frames(int(1.5 * tap.rate))

    beat = 60 / BPM * tap.rate
    answer = [f for f, _, on in notes_out(tap, 3) if on]
    assert answer, "no response on MIDI out"
    silence = 0.6 * tap.rate
    delay = answer[0] - (last_off + silence)
    print(f"\nresponse began {(answer[0] - last_off) / tap.rate:.3f} s after the last "
          f"note-off ({delay / beat:.2f} beats after the 0.6 s silence)")
    assert 0 <= delay <= beat
    assert rms(tap.audio(answer[0], answer[0] + 2400)) > 1e-2

    # Play again during the response: it stops within one grid step (an eighth).
    interrupt_send = tap.now_frame()
    controller.note_on(72, 90)
    tap.wait_frames(int(0.3 * tap.rate))
    controller.note_off(72)
    interrupt = max(f for f, p, on in arrivals(tap) if on and p == 72)
    assert interrupt >= interrupt_send
    grid_step = beat / 2
    later = [f for f, _, on in notes_out(tap, 3) if on and f > interrupt + grid_step]
    new_answer_earliest = interrupt + 0.3 * tap.rate + silence
    assert all(f >= new_answer_earliest for f in later), "response went on after playing"
    offs_after = [f for f, _, on in notes_out(tap, 3) if not on and f >= interrupt]
    sounding_at_interrupt = {
        p for f, p, on in notes_out(tap, 3) if f <= interrupt
    }
    if sounding_at_interrupt:
        assert offs_after and min(offs_after) - interrupt <= grid_step
    assert inst.terminate() == 0



def status_of(inst) -> dict:
    from instrument.live.status import query

    path = inst.wait_for(r"`instrument status` reads (\S+)").group(1)
    return query(path)


def loops_per_second(inst, tap, seconds: float) -> float:
    before = status_of(inst)["engine_loops"]
    tap.wait_frames(int(seconds * tap.rate))
    return (status_of(inst)["engine_loops"] - before) / seconds


@pytest.mark.parametrize("partner", [("continue", "[continuation]\nmin_beats = 8.0\n")],
                         indirect=True)
def test_the_engine_thread_does_not_spin_idle_or_while_answering(partner):
    controller, tap, inst = partner
    idle = loops_per_second(inst, tap, 1.5)
    play_line(controller, tap, [60, 62, 64, 65, 67, 65, 64, 62])
    tap.wait_frames(int(0.9 * tap.rate))  # the phrase has ended: it answers
    answering = loops_per_second(inst, tap, 1.5)
    assert notes_out(tap, 3), "no response"
    print(f"\nengine passes per second: idle {idle:.0f}, while answering {answering:.0f}")
    # Idle it wakes every 50 ms; answering, for each planned note and its hand-out.
    assert idle <= 40
    assert answering <= 200
    assert inst.terminate() == 0


@pytest.mark.parametrize("partner", [("accompany", "", "3/4", 90)],
                         indirect=True)
def test_the_recording_has_the_beat_clocks_tempo_and_meter_and_its_bars(partner):
    import mido

    controller, tap, inst = partner
    play_line(controller, tap, MELODY[:12], beats_each=1.0, bpm=90)
    tap.wait_frames(tap.rate // 2)
    assert inst.terminate() == 0
    smf = mido.MidiFile(inst.recording())
    conductor = smf.tracks[0]
    signature = next(m for m in conductor if m.type == "time_signature")
    tempo = next(m for m in conductor if m.type == "set_tempo")
    assert (signature.numerator, signature.denominator) == (3, 4)
    # The file's tempo is the tempo played (laid in hindsight from the notes): 90 bpm as
    # the controller sent them, each beat a few frames late on a loaded machine. The
    # beat played is the slope of the arrivals (a beat's arrival is a JACK period late or
    # not, so one interval, or their median, is up to 0.2 % off it).
    ons = [f for f, _pitch, on in arrivals(tap) if on]
    played_bpm = 60.0 * tap.rate / float(np.polyfit(np.arange(len(ons)), ons, 1)[0])
    assert played_bpm == pytest.approx(90, rel=0.02)
    assert mido.tempo2bpm(tempo.tempo) == pytest.approx(played_bpm, rel=0.003)

    def onsets(name):
        track = next(t for t in smf.tracks if t.name == name)
        tick, out = 0, []
        for m in track:
            tick += m.time
            if m.type == "note_on" and m.velocity > 0:
                out.append(tick)
        return out

    beat, bar = smf.ticks_per_beat, 3 * smf.ticks_per_beat
    player, chords = onsets("player"), onsets("accompaniment")
    assert chords, "no accompaniment recorded"
    # The player's first note is on a beat of the file, and the file's bars are the
    # instrument's (where it hears the bar begin, from the melody: here a one-beat
    # pickup may be heard): the accompaniment strikes a chord on every bar line.
    tempos = [m for m in conductor if m.type == "set_tempo"]
    assert player[0] % beat <= 30 or player[0] % beat >= beat - 30, (player[:4], tempos[:8])
    struck = {round(t / beat) for t in chords}
    bar_lines = range(-(-chords[0] // bar) * 3, (chords[-1] // bar) * 3 + 1, 3)
    assert all(b in struck for b in bar_lines), (sorted(struck), list(bar_lines))
    # The chords are on the file's beats (a JACK period of jitter is 17 ticks at 90).
    off_beat = [(t + beat // 2) % beat - beat // 2 for t in chords]
    assert max(abs(o) for o in off_beat) <= 30, off_beat
