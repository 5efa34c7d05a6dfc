"""The Band on the offline clock: call and response, accompaniment on the beat, modes,
controls. Exact transcripts of what reaches the outputs; real fallback generators."""

from __future__ import annotations

import itertools

import pytest

from instrument.baselines.markov import MarkovContinuator
from instrument.config import Config, PresetConfig
from instrument.engine.engine import Engine, TimedEvent
from instrument.names import Mode
from instrument.parts.factory import LoadedModels, build_band
from instrument.realtime.router import InputEvent
from instrument.timing.clock import OfflineClock

BPM = 120.0
BEAT = 60.0 / BPM


class Transcript:
    """An engine output that writes down everything it is handed."""

    def __init__(self):
        self.events: list[TimedEvent] = []
        self.panics = 0

    def play(self, event):
        self.events.append(event)

    def panic(self, now):
        self.panics += 1

    def cancel(self, part, now):
        """Events of ``part`` not yet due will not happen (as in the real outputs)."""
        self.events = [e for e in self.events if e.part != part or e.due <= now]

    def notes(self, part):
        return [e for e in self.events if e.part == part and (e.is_note_on or e.is_note_off)]

    def onsets(self, part):
        return [(e.due, e.message[1]) for e in self.events if e.part == part and e.is_note_on]

    def unfinished(self, part):
        """Pitches started and never stopped, in order of events."""
        on: dict[int, int] = {}
        for e in sorted(self.notes(part), key=lambda e: e.due):
            p = e.message[1]
            on[p] = on.get(p, 0) + (1 if e.is_note_on else -1)
            on[p] = max(on[p], 0)
        return {p for p, n in on.items() if n}


def rig(mode="continue", seed=3, **config_changes):
    config = Config()
    config.mode = mode
    config.tempo.bpm = BPM
    config.tempo.source = "internal"  # a fixed beat: exact transcripts (test_follow_band)
    config.tempo.send_clock = False
    for dotted, value in config_changes.items():
        section, key = dotted.split("__")
        setattr(getattr(config, section), key, value)
    clock = OfflineClock()
    out = Transcript()
    prior = config.models_dir() / config.models.markov_prior
    markov = MarkovContinuator.from_prior(prior)
    engine = None
    band = build_band(
        config, LoadedModels(None, None, markov, []), clock.now,
        cancel=lambda part: engine.cancel(part), live=False, seed=seed,
    )
    engine = Engine(clock, [out], parts=[band])
    return engine, band, out


def play(engine, notes, start=0.0, velocity=90):
    """Queue (beat, pitch, length in beats) notes from ``start`` seconds."""
    for beat, pitch, length in notes:
        engine.submit(InputEvent(start + beat * BEAT, (0x90, pitch, velocity)))
        engine.submit(InputEvent(start + (beat + length) * BEAT, (0x80, pitch, 0)))


C_MAJOR_PHRASE = [(0, 60, 0.5), (0.5, 62, 0.5), (1, 64, 0.5), (1.5, 65, 0.5), (2, 67, 1),
                  (3, 64, 0.5), (3.5, 62, 0.5)]


def test_a_pause_gets_a_response_on_the_grid_in_the_key_then_it_ends():
    engine, band, out = rig("continue")
    play(engine, C_MAJOR_PHRASE)
    engine.advance_to(30.0)
    responses = out.onsets("continuation")
    assert responses, "no response"
    silence_starts = 4 * BEAT  # the last note ends at beat 4
    first = responses[0][0]
    # Starts once the 0.6 s silence has passed, on the next eighth, within one beat.
    assert silence_starts + 0.6 <= first <= silence_starts + 0.6 + BEAT
    assert (first / (BEAT / 2)) == pytest.approx(round(first / (BEAT / 2)))
    # In C major (the scale constraint follows the player's key).
    assert {p % 12 for _, p in responses} <= {0, 2, 4, 5, 7, 9, 11}
    # As long as the call (4 beats, density 0.5 -> ratio 1.0), within min/max.
    last_end = max(e.due for e in out.notes("continuation"))
    assert 2 * BEAT <= last_end - first <= 4 * BEAT + BEAT
    assert out.unfinished("continuation") == set()
    assert band.responder.responses == 1


def test_playing_again_stops_the_response_at_once():
    engine, band, out = rig("continue", **{"continuation__min_beats": 16.0})
    play(engine, C_MAJOR_PHRASE)
    engine.advance_to(4 * BEAT + 0.6 + 2 * BEAT)  # the response is playing
    assert band.responder.responding
    interrupt = engine.clock.now() + 0.01
    play(engine, [(0, 72, 0.5)], start=interrupt)
    engine.advance_to(interrupt + 0.1)
    assert not band.responder.responding
    # Every sounding response note ended at the interruption, nothing more started...
    assert out.unfinished("continuation") == set()
    offs = [e.due for e in out.notes("continuation") if e.is_note_off]
    assert max(offs) <= interrupt + 0.001
    # ...until the new phrase (one note) ends and gets its own answer.
    engine.advance_to(interrupt + 8 * BEAT)
    new_silence = interrupt + 0.5 * BEAT + 0.6
    assert [t for t, _ in out.onsets("continuation") if interrupt < t < new_silence] == []
    assert band.responder.responses == 2


def test_response_is_deterministic_for_a_seed_and_varies_with_it():
    def response(seed):
        engine, _, out = rig("continue", seed=seed)
        play(engine, C_MAJOR_PHRASE)
        engine.advance_to(30.0)
        return out.onsets("continuation")

    assert response(5) == response(5)
    assert response(5) != response(6)


def test_accompaniment_plays_chords_on_the_beats_with_bass_and_voice_leading():
    engine, band, out = rig("accompany")
    melody = [(b, 60 + (0, 4, 7, 12)[b % 4], 1) for b in range(16)]
    play(engine, melody)
    engine.advance_to(16 * BEAT)
    ons = out.onsets("accompaniment")
    assert ons, "no accompaniment"
    for t, _ in ons:
        assert (t / BEAT) == pytest.approx(round(t / BEAT), abs=1e-9)  # exactly on a beat
    assert ons[0][0] == pytest.approx(BEAT)  # the beat after the first note
    chords = band.accompaniment.history
    assert all(c.voicing.bass is not None and 36 <= c.voicing.bass <= 50 for c in chords[1:])
    assert all(52 <= p <= 72 for c in chords for p in c.voicing.upper)
    # Voice leading: upper voices move little from chord to chord.
    moves = [
        sum(abs(a - b) for a, b in zip(x.voicing.upper, y.voicing.upper, strict=False))
        for x, y in itertools.pairwise(chords) if x.voicing.upper and y.voicing.upper
    ]
    assert moves and max(moves) <= 12


def test_a_beat_is_decided_only_from_notes_before_its_deadline():
    def chord_at_beat_4(last_pitch):
        engine, band, _ = rig("accompany", seed=1)
        play(engine, [(0, 60, 1), (1, 64, 1), (2, 67, 1), (3, 64, 1), (4, last_pitch, 1)])
        engine.advance_to(4.6 * BEAT)
        return next(c.chord for c in band.accompaniment.history if c.beat == 4)

    # The note on beat 4 itself cannot change beat 4's chord (decided before it).
    assert chord_at_beat_4(66) == chord_at_beat_4(61)


def test_accompaniment_rests_when_the_player_stops_and_leaves_nothing_sounding():
    engine, band, out = rig("accompany", **{"accompaniment__stop_after_bars": 1.0})
    play(engine, [(b, 67, 1) for b in range(4)])
    engine.advance_to(20 * BEAT)
    assert not band.accompaniment.playing
    assert out.unfinished("accompaniment") == set()
    last = max(t for t, _ in out.onsets("accompaniment"))
    assert last < 4 * BEAT + 4 * BEAT + 0.01


@pytest.mark.parametrize("to_mode", ["thru", "continue"])
def test_switching_mode_live_leaves_no_accompaniment_sounding(to_mode):
    engine, band, out = rig("accompany")
    play(engine, [(b, 64, 1) for b in range(8)])
    engine.advance_to(3.2 * BEAT)
    assert engine.sounding("accompaniment")
    engine.submit(InputEvent(3.2 * BEAT, (0xB0, 20, {"thru": 0, "continue": 40}[to_mode])))
    engine.advance_to(8 * BEAT)
    assert band.mode == to_mode
    assert out.unfinished("accompaniment") == set()
    assert all(t < 3.3 * BEAT for t, _ in out.onsets("accompaniment"))


def test_controls_change_what_is_played():
    engine, band, out = rig("thru")
    cc = lambda t, n, v: engine.submit(InputEvent(t, (0xB0, n, v)))  # noqa: E731
    cc(0.0, 20, 70)  # mode: accompany
    cc(0.0, 21, 0)  # temperature: 0.1
    cc(0.0, 22, 127)  # density: busy
    cc(0.0, 23, 32)  # accompaniment volume: a quarter
    engine.advance_to(0.1)
    assert band.mode == "accompany"
    assert band.responder.sampling.temperature == pytest.approx(0.1)
    assert band.accompaniment.sampling.hold == pytest.approx(0.05)
    play(engine, [(b, 60, 1) for b in range(4)], start=0.1)
    engine.advance_to(0.1 + 4 * BEAT)
    velocities = {e.message[2] for e in out.events if e.part == "accompaniment" and e.is_note_on}
    assert velocities == {round(72 * 32 / 127)}


def test_program_change_recalls_a_preset():
    engine, band, _ = rig("thru")
    band.settings.presets = {
        5: PresetConfig(program=5, name="reel", mode=Mode.ACCOMPANY, tempo=112.0)
    }
    engine.submit(InputEvent(0.0, (0xC0, 5)))
    engine.advance_to(0.1)
    assert band.mode == "accompany" and band.clock.bpm == pytest.approx(112)




def test_panic_resets_every_part():
    engine, band, out = rig("accompany+continue")
    play(engine, C_MAJOR_PHRASE)
    engine.advance_to(2 * BEAT)
    assert engine.sounding("accompaniment")
    engine.submit(InputEvent(2 * BEAT, (0xB0, 123, 0)))
    engine.advance_to(2 * BEAT)
    assert out.panics == 1
    assert not band.clock.running  # until the player plays again
    assert out.unfinished("accompaniment") == set() and out.unfinished("continuation") == set()
    assert engine.sounding("accompaniment") == set()


def accompaniment_velocities(out, start, end):
    return [e.message[2] for e in out.events
            if e.part == "accompaniment" and e.is_note_on and start <= e.due < end]


def test_the_accompaniment_follows_the_players_touch():
    engine, _band, out = rig("accompany")
    play(engine, [(b, 64, 1) for b in range(8)], velocity=30)  # softly...
    play(engine, [(b, 64, 1) for b in range(8, 16)], velocity=110)  # ...then hard
    engine.advance_to(16 * BEAT)
    soft = accompaniment_velocities(out, 0, 8 * BEAT)
    loud = accompaniment_velocities(out, 12 * BEAT, 16 * BEAT)
    assert soft and loud
    # 0.8 of the player's smoothed velocity (over about 8 notes): 24 while soft, well up
    # towards 88 within a bar of playing hard.
    assert max(soft) <= 30 and min(loud) >= 60
    # One accent does not yank it: a single loud note among soft ones moves it a little.
    engine, _band, out = rig("accompany")
    play(engine, [(b, 64, 1) for b in range(8)], velocity=30)
    play(engine, [(8, 64, 1)], velocity=127)
    play(engine, [(b, 64, 1) for b in range(9, 17)], velocity=30)
    engine.advance_to(17 * BEAT)
    after = accompaniment_velocities(out, 9 * BEAT, 17 * BEAT)  # the next downbeats
    assert after and max(after) <= 45


def test_with_dynamics_following_off_the_accompaniment_keeps_its_velocity():
    engine, _band, out = rig("accompany", **{"accompaniment__follow_dynamics": False})
    play(engine, [(b, 64, 1) for b in range(8)], velocity=120)
    engine.advance_to(8 * BEAT)
    assert set(accompaniment_velocities(out, 0, 8 * BEAT)) == {72}


@pytest.mark.parametrize("velocity", [30, 110])
def test_the_answer_keeps_the_calls_level(velocity):
    engine, _band, out = rig("continue")
    play(engine, C_MAJOR_PHRASE, velocity=velocity)
    engine.advance_to(30.0)
    answer = [e.message[2] for e in out.events if e.part == "continuation" and e.is_note_on]
    assert answer
    assert abs(sum(answer) / len(answer) - velocity) <= 12, answer
