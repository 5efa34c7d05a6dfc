"""The shipped accompaniment as it plays live (the model with its manifest's harmony
policy: the rules' changes between strong beats, the key they hear, the hold on weak
beats over a busy melody, the continuation model's forecast of the coming note): a plain
C major tune is harmonised in C major from its first bar, a tune that modulates to G
major is followed into G, a busy waltz changes chord on its downbeats, a hymn still a
chord a beat. Plus the policy's pieces on their own."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest

from instrument.baselines.rules import RuleArranger
from instrument.evaluation.generators import as_played, run_accompanist
from instrument.models import load_model
from instrument.models.accompaniment import BeatInput, ChordDistribution
from instrument.models.chords import CHORD_INDEX, N_CHORDS, Chord
from instrument.models.foresight import foresee
from instrument.models.harmony import (
    HELD_FORESIGHT,
    HarmonyPolicy,
    MelodyPace,
    ModelWithRules,
    combine,
    foresight_weight,
    out_of_key_tones,
    strong_beat,
)
from instrument.models.tune import Tune
from instrument.music import TICKS_PER_BEAT, GridNote, Meter

M44 = Meter(4, 4)
C_MAJOR = {0, 2, 4, 5, 7, 9, 11}
G_MAJOR = {7, 9, 11, 0, 2, 4, 6}
# A plain C major tune: arpeggios and scale steps outlining I, IV, V, I (8 bars).
IN_C = [[60, 64, 67, 64], [65, 67, 69, 67], [67, 65, 64, 62], [(60, 2), (67, 2)],
        [64, 65, 67, 72], [71, 69, 67, 65], [64, 62, 67, 71], [(72, 4)]]
# The same tune goes on in G major, its F sharp heard from the second bar (8 bars).
IN_G = [[67, 71, 74, 71], [72, 69, 66, 69], [71, 67, 74, 71], [69, 66, (62, 2)],
        [67, 71, 74, 79], [78, 76, 74, 72], [71, 69, 66, 69], [(67, 4)]]
MODULATION_BAR = 8
WITHIN_BARS = 4  # the new key's chords from this many bars after the modulation


def tune(bars) -> Tune:
    notes, t = [], 0
    for bar in bars:
        for item in bar:
            pitch, beats = item if isinstance(item, tuple) else (item, 1)
            notes.append(GridNote(pitch, t, beats * TICKS_PER_BEAT, 80))
            t += beats * TICKS_PER_BEAT
    return Tune("test", M44, notes)


@pytest.fixture(scope="module")
def played():
    """The shipped model as the live part plays it: its policy, with the continuation
    model's forecast for its foresight."""
    model = load_model("accompaniment")
    model.warm_up()
    assert model.policy is not None, "the shipped manifest names its harmony policy"
    continuation = load_model("continuation")
    continuation.warm_up()
    return as_played(model, model.deadline_ticks, continuation)


def bars_of(chords):
    return [chords[b: b + 4] for b in range(0, len(chords), 4)]


def test_a_plain_c_major_tune_is_harmonised_in_c_major_from_its_first_bar(played):
    chords = run_accompanist(played, tune(IN_C), 2)
    heard = [c for c in chords if not c.is_silent]
    assert chords[0].is_silent and len(heard) == len(chords) - 1  # plays from beat 1 on
    outside = [c.name for c in heard if not set(c.pitch_classes) <= C_MAJOR]
    assert outside == [], outside
    assert heard[0].identity in {Chord(r, "maj", r).identity for r in (0, 5, 7)} | {
        Chord(9, "min", 9).identity}  # I, IV, V or vi
    assert any(c.root == 0 and c.quality == "maj" for c in chords[:8])  # the tonic, bars 1-2


def test_a_tune_that_modulates_to_g_major_is_followed_into_g(played):
    chords = run_accompanist(played, tune(IN_C + IN_G), 2)
    bars = bars_of(chords)
    after = [c for bar in bars[MODULATION_BAR + WITHIN_BARS:] for c in bar]
    assert after and all(set(c.pitch_classes) <= G_MAJOR for c in after), \
        [c.name for c in after]
    # The new key's own chords sound: its dominant (or any chord with the F sharp).
    new_key = [c for bar in bars[MODULATION_BAR:] for c in bar if 6 in c.pitch_classes]
    assert new_key, [c.name for bar in bars[MODULATION_BAR:] for c in bar]
    # Before the modulation the C major tune is not heard in G.
    before = [c for bar in bars[:MODULATION_BAR] for c in bar if not c.is_silent]
    assert all(6 not in c.pitch_classes for c in before)


def dist(chord: Chord, tick: int) -> ChordDistribution:
    logp = np.full(N_CHORDS, -20.0)
    logp[CHORD_INDEX[chord]] = 0.0
    return ChordDistribution(logp, tick, None)


def test_strong_beats_and_the_rules_between_them():
    assert [strong_beat(b * TICKS_PER_BEAT, M44) for b in range(5)] == \
        [True, False, True, False, True]
    assert [strong_beat(b * TICKS_PER_BEAT, Meter(3, 4)) for b in range(3)] == \
        [True, False, False]
    c, f, g = Chord(0, "maj", 0), Chord(5, "maj", 5), Chord(7, "maj", 7)
    policy = HarmonyPolicy(key_weight=0.0)
    for beat, rules_chord, expected in ((1, f, f), (1, c, g), (2, f, g), (3, f, f)):
        tick = beat * TICKS_PER_BEAT
        rules = dist(rules_chord, tick)
        got = combine(BeatInput(tick, M44, (), c), dist(g, tick), lambda r=rules: r, None,
                      policy).top()
        assert got == expected, (beat, rules_chord, got)


def test_the_key_prior_counts_tones_outside_the_key():
    outside = out_of_key_tones((0, False))
    assert outside[CHORD_INDEX[Chord(0, "maj", 0)]] == 0
    assert outside[CHORD_INDEX[Chord(2, "7", 2)]] == 1  # D7: its F sharp
    assert outside[CHORD_INDEX[Chord(5, "min", 5)]] == 1  # Fm: its A flat
    assert out_of_key_tones((9, True))[CHORD_INDEX[Chord(4, "7", 4)]] == 0  # E7 in A minor
    tick = TICKS_PER_BEAT * 4
    logp = np.full(N_CHORDS, -10.0)
    logp[CHORD_INDEX[Chord(5, "min", 5)]] = -1.0
    logp[CHORD_INDEX[Chord(5, "maj", 5)]] = -1.5
    model = ChordDistribution(logp, tick, None)
    got = combine(BeatInput(tick, M44, (), None), model, lambda: model, (0, False),
                  HarmonyPolicy(2.0))
    assert got.top() == Chord(5, "maj", 5) and np.isclose(np.exp(got.logp).sum(), 1.0)


M34 = Meter(3, 4)
# A busy waltz in C, G7, C, F: running eighths with passing tones between chord tones.
BUSY_WALTZ = [[60, 62, 64, 65, 67, 64], [65, 67, 71, 69, 67, 65], [64, 62, 60, 64, 67, 72],
              [69, 67, 65, 64, 65, 69], [67, 69, 71, 72, 74, 71], [67, 65, 64, 62, 60, 62],
              [64, 65, 67, 69, 71, 72], [72, 71, 69, 67, 65, 64]] * 2
# A hymn: a note a beat, the harmony free to move with each.
HYMN = [[60, 62, 64, 65], [67, 65, 64, 62], [64, 65, 67, 69], [67, 65, 64, 60]] * 2


def eighths(bars, meter: Meter) -> Tune:
    notes = [GridNote(p, i * TICKS_PER_BEAT // 2, TICKS_PER_BEAT // 2, 80)
             for i, p in enumerate(p for bar in bars for p in bar)]
    return Tune("test", meter, notes)


def without_weak_hold(played) -> ModelWithRules:
    policy = replace(played.policy, weak_hold=0.0, weak_hold_rules=0.0)
    return ModelWithRules(played.model, RuleArranger(played.model.deadline_ticks), policy,
                          played.forecast)  # one tune at a time: reset by each run


def weak_beat_changes(chords, meter: Meter) -> int:
    return sum(a.identity != b.identity and not strong_beat(i * TICKS_PER_BEAT, meter)
               for i, (a, b) in enumerate(itertools.pairwise(chords), start=1)
               if not a.is_silent)


def test_over_a_busy_melody_the_chord_changes_on_the_strong_beats(played):
    assert played.policy.weak_hold > 0 and played.policy.weak_hold_rules > 0, \
        "the shipped policy holds on weak beats"
    waltz = eighths(BUSY_WALTZ, M34)
    held = run_accompanist(played, waltz, 2)
    free = run_accompanist(without_weak_hold(played), waltz, 2)
    assert weak_beat_changes(held, M34) <= weak_beat_changes(free, M34) // 2, \
        ([c.name for c in held], [c.name for c in free])
    assert sum(a.identity != b.identity for a, b in itertools.pairwise(held[1:])) >= 4


def test_a_hymn_a_note_a_beat_keeps_its_chord_a_beat(played):
    hymn = tune(HYMN)
    held = run_accompanist(played, hymn, 2)
    assert held == run_accompanist(without_weak_hold(played), hymn, 2)


def test_the_weak_beat_hold_and_the_pace_that_turns_it_on():
    c, g = Chord(0, "maj", 0), Chord(7, "maj", 7)
    policy = HarmonyPolicy(weak_hold=8.0, weak_hold_rules=8.0, busy_onsets=1.2)
    logp = np.full(N_CHORDS, -20.0)
    logp[CHORD_INDEX[g]], logp[CHORD_INDEX[c]] = np.log(0.9), np.log(0.1)
    for beat, pace, expected in ((1, 2.0, c), (2, 2.0, g), (1, 1.0, g), (3, 2.0, c)):
        tick = beat * TICKS_PER_BEAT
        model = ChordDistribution(logp, tick, c)
        got = combine(BeatInput(tick, M44, (), c), model, lambda m=model: m, None, policy, pace)
        assert got.top() == expected, (beat, pace, got)
        assert np.isclose(np.exp(got.logp).sum(), 1.0)
    pace = MelodyPace()
    notes = (GridNote(60, 0, 240, 80),) * 3
    rates = [pace.update(BeatInput(b * TICKS_PER_BEAT, M34, notes if b < 6 else (), None))
             for b in range(12)]
    assert rates[5] == 3.0 and rates[8] == 1.5 and rates[11] == 0.0  # two bars of 3/4


def test_a_chord_the_hold_will_keep_is_chosen_for_the_melody_coming():
    """Over a busy melody the forecast weighs ``held_foresight`` times more on a beat
    whose chord the weak-beat hold will keep through the next beat, nothing on the beats
    it holds, the policy's own weight where the next beat may change again (a slow
    melody, a bar of two strong beats), and HELD_FORESIGHT times where the style keeps
    it. Weighed that much, a forecast of G major tones turns the model's preference for
    C into G."""
    c, g = Chord(0, "maj", 0), Chord(7, "maj", 7)
    policy = HarmonyPolicy(weak_hold=8.0, weak_hold_rules=8.0, busy_onsets=1.2,
                           foresight=2.0, held_foresight=10.0)

    def weight(beat: int, pace: float, meter: Meter = M44, **kw) -> float:
        return foresight_weight(BeatInput(beat * TICKS_PER_BEAT, meter, (), c), policy,
                                pace, **kw)

    assert [weight(b, 2.0) for b in range(4)] == [20.0, 0.0, 20.0, 0.0]
    assert [weight(b, 1.0) for b in range(4)] == [2.0] * 4  # not busy: no hold
    assert [weight(b, 2.0, Meter(2, 4)) for b in range(2)] == [2.0, 2.0]
    assert weight(0, 1.0, next_held=True) == 2.0 * HELD_FORESIGHT
    assert weight(1, 2.0, next_held=True) == 0.0  # the hold's own beat draws nothing new

    logp = np.full(N_CHORDS, -20.0)
    logp[CHORD_INDEX[c]], logp[CHORD_INDEX[g]] = np.log(0.9), np.log(0.1)
    dist = ChordDistribution(logp, 0, None)
    forecast = np.full(12, 0.01)
    forecast[[7, 11, 2]] = 0.3  # the melody coming: G, B, D
    assert foresee(dist, forecast, weight(0, 1.0)).top() == c
    assert foresee(dist, forecast, weight(0, 2.0)).top() == g
