"""The rule arranger: key estimate, diatonic chord fit, hysteresis, silence before notes."""

from __future__ import annotations

import itertools

import numpy as np

from instrument.baselines.rules import RuleArranger, diatonic_chords, estimate_key
from instrument.models.accompaniment import Accompanist, BeatInput, ChordSamplingParams
from instrument.models.chords import Chord
from instrument.music import GridNote, Meter

M44 = Meter(4, 4)
GREEDY = ChordSamplingParams(temperature=0.0)


def play(arranger: RuleArranger, beats: list[list[int]], start_chord: Chord | None = None):
    """Quarter-note melody, one list of pitches per beat; returns the chord of each beat."""
    arranger.reset()
    rng = np.random.default_rng(0)
    prev = start_chord
    out = []
    pending: list[GridNote] = []
    for b, pitches in enumerate([*beats, []]):
        beat_tick = b * 12
        dist = arranger.step(BeatInput(beat_tick, M44, tuple(pending), prev))
        prev = arranger.sample(dist, GREEDY, rng)
        out.append(prev)
        step = 12 // max(1, len(pitches))
        pending = [GridNote(p, beat_tick + i * step, step) for i, p in enumerate(pitches)]
    return out[1:]  # chord of beat b+1 is planned from the notes of beat b


def test_it_is_an_accompanist_and_silent_until_it_hears_a_note():
    r = RuleArranger()
    assert isinstance(r, Accompanist)
    first = r.step(BeatInput(0, M44, (), None))
    assert r.sample(first, GREEDY, np.random.default_rng(0)).is_silent


def test_key_estimates():
    c_major = np.zeros(12)
    c_major[[0, 2, 4, 5, 7, 9, 11]] = 1
    c_major[[0, 4, 7]] += 2
    assert estimate_key(c_major) == (0, False)
    a_minor = np.zeros(12)
    a_minor[[9, 11, 0, 2, 4, 5, 8]] = 1
    a_minor[[9, 0, 4]] += 2
    assert estimate_key(a_minor) == (9, True)
    names = [c.name for c, _ in diatonic_chords(7, False)]
    assert names[:5] == ["G", "Am", "Bm", "C", "D"]


def test_fits_the_diatonic_chord_of_what_was_just_played():
    beats = [[60, 64, 67, 64]] * 4 + [[65, 69, 72, 69]] * 4 + [[67, 71, 74, 71]] * 4
    chords = play(RuleArranger(), beats)
    assert chords[3].name == "C"
    assert chords[7].name == "F"
    assert chords[11].name in ("G", "G7")


def test_hysteresis_holds_a_chord_through_a_passing_note():
    # C major arpeggios, then an accented passing A (in F and Am, not in C) to G, then C.
    beats = [[60, 64, 67, 72]] * 4 + [[69, 67]] + [[72, 67, 64, 60]]
    held = play(RuleArranger(hysteresis=0.8), beats)
    jumpy = play(RuleArranger(hysteresis=0.0), beats)
    assert held[4].name == "C"
    assert jumpy[4].name != "C"


def test_harmonic_rhythm_setting_changes_how_often_it_changes():
    rng = np.random.default_rng(3)
    beats = [[int(p)] for p in rng.choice([60, 62, 64, 65, 67, 69, 71], size=64)]
    slow, fast = RuleArranger(), RuleArranger()
    slow.harmonic_rhythm, fast.harmonic_rhythm = 0.25, 1.0

    def changes(chords):
        return sum(a.identity != b.identity for a, b in itertools.pairwise(chords))

    assert changes(play(slow, beats)) < changes(play(fast, beats))


def test_hearing_every_beat_and_scoring_only_some_plays_the_same_chords():
    """The live part hears every beat but asks for the rules' chords only where it plays
    them (the model was late): those chords, and the key, are what a step every beat
    gives."""
    melody = [[60, 64], [67], [65, 69], [72], [62, 65], [71], [60, 64], [67, 72]] * 2
    stepped, heard = RuleArranger(), RuleArranger()
    rng = np.random.default_rng(0)
    prev = None
    for b, pitches in enumerate(melody):
        notes = tuple(GridNote(p, b * 12 - 12 + 6 * i, 6) for i, p in enumerate(pitches))
        beat = BeatInput(b * 12, M44, notes, prev)
        want = stepped.step(beat)
        heard.hear(beat)
        assert heard.key == stepped.key
        if b % 3 == 0:  # the beats the fallback plays
            np.testing.assert_array_equal(heard.chords().logp, want.logp)
        prev = stepped.sample(want, GREEDY, rng)
    assert stepped.key == (0, False)
