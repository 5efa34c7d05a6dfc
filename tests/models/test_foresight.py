"""Foresight for the harmony, with the shipped continuation and accompaniment models
really run: the melody note the continuation model expects on the coming beat, read
without committing anything, and the chords weighed by it."""

from __future__ import annotations

import numpy as np
import pytest

from instrument.evaluation.generators import as_played, beat_range, run_accompanist
from instrument.models import load_model
from instrument.models.accompaniment import NO_CHORD, BeatInput, ChordDistribution
from instrument.models.chords import CHORD_INDEX, N_CHORDS, Chord
from instrument.models.foresight import (
    FLOOR,
    SEVENTH_SHARE,
    SUSPENDED_FOURTH_SHARE,
    MelodyForecast,
    foresee,
)
from instrument.models.tune import Tune, read_midi
from instrument.music import TICKS_PER_BEAT, GridNote, Meter

from .conftest import DATA

FOLK = ("reel_4-4", "jig_6-8", "song_3-4")


@pytest.fixture(scope="module")
def continuation():
    model = load_model("continuation")
    model.warm_up()
    return model


@pytest.fixture(scope="module")
def accompaniment():
    model = load_model("accompaniment")
    model.warm_up()
    return model


def beats(tune, deadline: int = 2):
    """The tune's beats as the part hands them over: the notes begun before each
    beat's deadline."""
    notes, i = tune.melody, 0
    for b in range(beat_range(tune).stop):
        tick = b * TICKS_PER_BEAT
        start = i
        while i < len(notes) and notes[i].onset < tick - deadline:
            i += 1
        yield BeatInput(tick, tune.meter, tuple(notes[start:i])), notes[i:]


def test_the_forecast_names_the_note_the_beat_brings(continuation):
    """At each beat's deadline the forecast's likeliest pitch class is the next note's
    far more often than the note just heard is (which is what a chord decided from the
    notes heard leans on)."""
    named = kept = counted = 0
    for name in FOLK:
        forecast = MelodyForecast.beside(continuation)
        last = None
        for beat, coming in beats(read_midi(DATA / f"{name}.mid")):
            odds = forecast.observe(beat)
            assert odds.shape == (12,) and odds.sum() == pytest.approx(1.0, abs=1e-5)
            if beat.notes:
                last = beat.notes[-1].pitch % 12
            if coming and coming[0].onset < beat.beat_tick + TICKS_PER_BEAT and last is not None:
                counted += 1
                named += int(np.argmax(odds)) == coming[0].pitch % 12
                kept += last == coming[0].pitch % 12
    assert counted > 50
    print(f"\nnext note named {named / counted:.2f}, same as the last {kept / counted:.2f}")
    assert named / counted >= 0.5
    assert named / counted >= kept / counted + 0.3


def reference_forecast(continuation, heard: list[GridNote], beat_tick: int, meter):
    """The forecast by its definition, from scratch: every note heard lasting until the
    next began, the last until the beat."""
    fresh = MelodyForecast.beside(continuation).continuator
    odds = fresh.step(None, meter)
    for note, end in zip(heard, [n.onset for n in heard[1:]] + [beat_tick], strict=True):
        odds = fresh.step(GridNote(note.pitch, note.onset, max(1, end - note.onset), 80),
                          meter)
    return odds.pitch_classes()


def test_a_note_stepped_on_an_assumed_length_is_stepped_again_with_its_own(continuation):
    """The note still sounding at a beat's deadline is stepped as ending on the beat; a
    note held past the beat, or one followed before it, is stepped again from the context
    saved before it: at every beat the forecast is the one read with every length known."""
    meter = Meter(4, 4)
    # a note held over beat 2 (18), one followed after the next deadline (33 then 35),
    # notes on the beat, and a note held over the last two beats (72)
    onsets = [0, 6, 18, 30, 33, 35, 48, 54, 60, 72]
    melody = [GridNote(60 + (i * 5) % 12, t, 1, 80) for i, t in enumerate(onsets)]
    forecast = MelodyForecast.beside(continuation)
    for b in range(1, 9):
        tick = b * TICKS_PER_BEAT
        new = tuple(n for n in melody if tick - TICKS_PER_BEAT - 2 <= n.onset < tick - 2)
        got = forecast.observe(BeatInput(tick, meter, new))
        heard = [n for n in melody if n.onset < tick - 2]
        np.testing.assert_allclose(got, reference_forecast(continuation, heard, tick, meter),
                                   atol=1e-5, err_msg=f"beat {b}")


def test_notes_taken_ahead_of_their_beat_forecast_what_the_deadline_would(continuation):
    """Notes taken as they are heard (for the next beat, or guessed for the wrong one,
    or in a meter the beat does not have) and the sounding note stepped ahead to the
    next beat: at every deadline the same forecast as from the beat's notes alone."""
    meter = Meter(4, 4)
    onsets = [0, 6, 18, 30, 33, 35, 48, 54, 60, 72, 73, 90]
    melody = [GridNote(62 + (i * 7) % 12, t, 1, 80) for i, t in enumerate(onsets)]
    ahead = MelodyForecast.beside(continuation)
    plain = MelodyForecast.beside(continuation)  # everything at the deadlines
    for b in range(1, 10):
        tick = b * TICKS_PER_BEAT
        new = tuple(n for n in melody if tick - TICKS_PER_BEAT - 2 <= n.onset < tick - 2)
        for i, note in enumerate(new):
            if b == 4 and i == 1:  # a guess that the note is for a later beat
                ahead.hear_ahead(note, tick + TICKS_PER_BEAT, meter)
            elif b == 6:  # heard in another meter: the deadline steps it again
                ahead.hear_ahead(note, tick, Meter(3, 4))
            else:
                ahead.hear_ahead(note, tick, meter)
        if b == 7:  # taken for this beat, but the beat is decided before it came
            ahead.hear_ahead(GridNote(70, tick - 1, 1, 80), tick, meter)
        got = ahead.observe(BeatInput(tick, meter, new))
        over_beat = ahead.over_beat
        ahead.expect(tick + TICKS_PER_BEAT, meter)
        heard = [n for n in melody if n.onset < tick - 2]
        np.testing.assert_allclose(got, reference_forecast(continuation, heard, tick, meter),
                                   atol=1e-5, err_msg=f"beat {b}")
        plain.observe(BeatInput(tick, meter, new))
        np.testing.assert_allclose(over_beat, plain.over_beat, atol=1e-5, err_msg=f"beat {b}")


def test_the_beats_forecast_holds_the_note_expected_after_the_first(continuation):
    """Over running eighths (an arpeggio) the beat brings two notes: the forecast over the
    beat holds the second as well as the first, where the next note's odds name only the
    first. Over a melody of quarter notes the beat's forecast is the next note's."""
    meter = Meter(4, 4)
    half = TICKS_PER_BEAT // 2
    eighths = [GridNote((60, 64, 67, 64)[i % 4], i * half, half, 80) for i in range(64)]
    quarters = [GridNote((60, 62, 64, 65)[i % 4], i * TICKS_PER_BEAT, TICKS_PER_BEAT, 80)
                for i in range(32)]
    for melody, two_notes in ((eighths, True), (quarters, False)):
        forecast = MelodyForecast.beside(continuation)
        for b in range(1, 20):
            tick = b * TICKS_PER_BEAT
            new = tuple(n for n in melody if tick - TICKS_PER_BEAT - 2 <= n.onset < tick - 2)
            odds = forecast.observe(BeatInput(tick, meter, new))
        over = forecast.over_beat
        assert over.sum() == pytest.approx(1.0, abs=1e-5)
        if two_notes:
            first, second = [n.pitch % 12 for n in melody if n.onset >= tick - 2][:2]
            assert odds[first] > 0.8 and odds[second] < 0.1
            assert over[first] >= 0.4 and over[second] >= 0.3
        else:
            np.testing.assert_allclose(over, odds, atol=1e-6)


def test_the_forecast_is_weighed_flattened():
    """A chord holding the forecast's second guess is raised above one holding none of
    it by more than the raw odds would (the model is over-sure on a new tune)."""
    dist = ChordDistribution(np.full(N_CHORDS, -np.log(N_CHORDS)), 12, None)
    forecast = np.zeros(12)
    forecast[4], forecast[2] = 0.95, 0.05  # E, and a little D
    weighed = foresee(dist, forecast, 1.0)
    g_major, f_major = CHORD_INDEX[Chord(7, "maj", 7)], CHORD_INDEX[Chord(5, "maj", 5)]
    raw_gap = np.log((FLOOR + 0.05) / FLOOR)
    assert weighed.logp[g_major] - weighed.logp[f_major] > 2 * raw_gap


def test_observing_the_same_melody_again_forecasts_the_same():
    """Two forecasts over one continuator session, reset in between: the same odds."""
    model = load_model("continuation")
    forecast = MelodyForecast.beside(model)
    tune = read_midi(DATA / "reel_4-4.mid")
    first = [forecast.observe(b) for b, _ in beats(tune)]
    forecast.reset()
    again = [forecast.observe(b) for b, _ in beats(tune)]
    np.testing.assert_allclose(np.array(first), np.array(again), atol=1e-6)


def test_foresee_raises_the_chords_that_hold_the_expected_note():
    logp = np.full(N_CHORDS, -np.log(N_CHORDS))
    dist = ChordDistribution(logp, 12, None)
    expect_e = np.zeros(12)
    expect_e[4] = 1.0
    weighed = foresee(dist, expect_e, 3.0)
    c_major, g_major = CHORD_INDEX[Chord(0, "maj", 0)], CHORD_INDEX[Chord(7, "maj", 7)]
    assert weighed.logp[c_major] > weighed.logp[g_major] + 3.0  # (1.05 / 0.05) ** 3
    assert np.exp(weighed.logp).sum() == pytest.approx(1.0)
    assert foresee(dist, expect_e, 0.0) is dist
    # As much as the tune memory does not recall the music: not at all on a clear repeat.
    assert foresee(dist, expect_e, 3.0, recalled=1.0) is dist
    halfway = foresee(dist, expect_e, 3.0, recalled=0.5)
    gap = halfway.logp[c_major] - halfway.logp[g_major]
    assert gap == pytest.approx((weighed.logp[c_major] - weighed.logp[g_major]) / 2)
    # Whether to play at all stays the model's: the silent chord keeps its odds, and a
    # distribution sure of silence (before the melody) stays so.
    silent = CHORD_INDEX[NO_CHORD]
    assert weighed.logp[silent] == pytest.approx(dist.logp[silent])
    sure = np.full(N_CHORDS, -np.inf)
    sure[silent] = 0.0
    kept = foresee(ChordDistribution(sure, 0, None), expect_e, 3.0)
    assert kept.top() == NO_CHORD and not np.isnan(kept.logp).any()
    assert MelodyForecast.beside(None) is None  # no continuation model: no foresight


def test_a_chord_holding_the_expected_note_as_its_seventh_is_raised_less():
    """A four-note chord holds more of any forecast; the seventh counts part of its share,
    so a plain tune's forecast does not turn its chords into sevenths."""
    assert 0.0 < SEVENTH_SHARE < 1.0
    dist = ChordDistribution(np.full(N_CHORDS, -np.log(N_CHORDS)), 12, None)
    expect_c = np.zeros(12)
    expect_c[0] = 1.0
    weighed = foresee(dist, expect_c, 6.0)
    a_minor, d_minor7 = CHORD_INDEX[Chord(9, "min", 9)], CHORD_INDEX[Chord(2, "m7", 2)]
    f_major, g_major = CHORD_INDEX[Chord(5, "maj", 5)], CHORD_INDEX[Chord(7, "maj", 7)]
    assert weighed.logp[a_minor] == pytest.approx(weighed.logp[f_major])  # C a triad tone
    assert weighed.logp[g_major] < weighed.logp[d_minor7] < weighed.logp[a_minor]


def test_a_suspension_is_not_raised_for_holding_the_melody_coming():
    """A sus4 holds the forecast's fourth at a part of its share: a melody expected on
    C and F raises F major (both chord tones) above Csus4, where F is the suspension;
    counted whole the two would tie, and a strong foresight played busy tunes on
    suspended chords."""
    assert 0.0 < SUSPENDED_FOURTH_SHARE < 1.0
    dist = ChordDistribution(np.full(N_CHORDS, -np.log(N_CHORDS)), 12, None)
    expect = np.zeros(12)
    expect[[0, 5]] = 0.5
    weighed = foresee(dist, expect, 6.0)
    c_sus4, f_major = CHORD_INDEX[Chord(0, "sus4", 0)], CHORD_INDEX[Chord(5, "maj", 5)]
    c_major = CHORD_INDEX[Chord(0, "maj", 0)]
    assert weighed.logp[c_major] < weighed.logp[c_sus4] < weighed.logp[f_major]


def held(chords, tune) -> int:
    """How many of the tune's melody notes the chord on their beat holds."""
    return sum(n.pitch % 12 in chords[n.onset // TICKS_PER_BEAT].pitch_classes
               for n in tune.melody if n.onset // TICKS_PER_BEAT < len(chords))


def test_the_shipped_policy_looks_ahead_and_its_chords_hold_more_of_the_melody(
        continuation, accompaniment):
    """The shipped manifest's policy weighs its chords by the forecast; on the folk files
    heard for the first time (no tune memory: where the memory recalls the music, its
    chords, fitted with hindsight, take the forecast's place), the chords hold the
    melody's notes more often with it than without."""
    assert accompaniment.policy.foresight > 0
    seeing = as_played(accompaniment, accompaniment.deadline_ticks, continuation)
    blind = as_played(accompaniment, accompaniment.deadline_ticks)
    assert seeing.forecast is not None and blind.forecast is None
    hits = {"seeing": 0, "blind": 0}
    notes = 0
    for name in FOLK:
        tune = read_midi(DATA / f"{name}.mid")
        for label, played in (("seeing", seeing), ("blind", blind)):
            hits[label] += held(run_accompanist(played, tune, 2), tune)
        notes += len(tune.melody)
    print(f"\nnote in chord with foresight {hits['seeing'] / notes:.3f}, "
          f"without {hits['blind'] / notes:.3f}")
    assert hits["seeing"] > hits["blind"]


def test_no_foresight_on_the_beats_the_band_holds_its_chord_through(continuation,
                                                                     accompaniment):
    """Over a busy melody the policy holds the chord between the bar's strong beats; the
    forecast of the next passing note does not move it there, and does on strong beats."""
    from instrument.models.harmony import holding, strong_beat

    played = as_played(accompaniment, accompaniment.deadline_ticks, continuation)
    meter = Meter(3, 4)
    scale = [60, 62, 64, 65, 67, 69, 71, 72, 71, 69, 67, 65]
    tune_notes = [GridNote(scale[i % 12], i * 6, 6, 80) for i in range(96)]  # eighths
    played.reset()
    weighed = {"strong": 0, "held": 0}
    previous = None
    for beat, _ in beats(Tune("waltz", meter, tune_notes)):
        beat = BeatInput(beat.beat_tick, meter, beat.notes, previous)
        dist = played.step(beat)
        ahead = played.look_ahead(dist)
        changed = not np.allclose(ahead.logp, dist.logp)
        if strong_beat(beat.beat_tick, meter) and beat.beat_tick >= 4 * 36:
            weighed["strong"] += changed
        elif holding(beat, played.policy, 2.0):
            assert ahead is dist  # held: the forecast is not weighed
            weighed["held"] += 1
        previous = played.sample(ahead, played.decoding(), np.random.default_rng(0))
    assert weighed["held"] >= 20 and weighed["strong"] >= 4


def test_the_next_notes_pitch_classes_gather_its_octaves():
    from instrument.models.continuation import NextNoteDistribution
    from instrument.models.melody import N_PITCHES, PITCH_LOW

    pitch = np.full(N_PITCHES, -np.inf)
    pitch[[64 - PITCH_LOW, 76 - PITCH_LOW]] = np.log(0.3)  # E in two octaves
    pitch[67 - PITCH_LOW] = np.log(0.4)  # G
    odds = NextNoteDistribution(pitch, np.zeros(1), np.zeros(1), np.zeros(1), 0)
    np.testing.assert_allclose(odds.pitch_classes()[[4, 7]], [0.6, 0.4])
    assert odds.pitch_classes().sum() == pytest.approx(1.0)


def test_a_step_that_fails_ahead_of_the_deadline_leaves_the_deadline_to_do_it(continuation):
    """A continuation step that raises while a note is taken ahead (its assumed length
    stepped): the forecast puts back what it had, and the deadline steps the note again
    and answers as if nothing had been taken ahead."""
    meter = Meter(4, 4)
    melody = [GridNote(60 + 2 * i, 6 * i, 6, 80) for i in range(3)]
    ahead = MelodyForecast.beside(continuation)
    ahead.observe(BeatInput(TICKS_PER_BEAT, meter, tuple(melody[:2])))
    step = ahead.continuator.step
    ahead.continuator.step = lambda note, m: (_ for _ in ()).throw(RuntimeError("onnx"))
    with pytest.raises(RuntimeError):
        ahead.hear_ahead(melody[2], 2 * TICKS_PER_BEAT, meter)
    ahead.continuator.step = step
    got = ahead.observe(BeatInput(2 * TICKS_PER_BEAT, meter, (melody[2],)))
    want = reference_forecast(continuation, melody, 2 * TICKS_PER_BEAT, meter)
    np.testing.assert_allclose(got, want, atol=1e-5)
