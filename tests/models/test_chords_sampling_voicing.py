"""Chord vocabulary and labeller, sampling and voicing: no model needed."""

from __future__ import annotations

import numpy as np
import pytest

from instrument.models.accompaniment import (
    ChordDistribution,
    ChordSamplingParams,
    sample_chord,
    without_chords,
)
from instrument.models.chords import (
    CHORD_INDEX,
    CHORD_VOCAB,
    N_CHORDS,
    NO_CHORD,
    Chord,
    change_rate,
    fit_chord,
    scale_chord_mask,
)
from instrument.models.sampling import sample_index
from instrument.models.voicing import voice_chord

C, D, E, F, G, A, B = 0, 2, 4, 5, 7, 9, 11


def pitch_class_weights(pitches: list[int]) -> np.ndarray:
    """One count per sounding pitch, folded onto its pitch class: what ``fit_chord`` reads."""
    w = np.zeros(12, dtype=np.float32)
    for p in pitches:
        w[p % 12] += 1.0
    return w


def test_vocabulary_indexes_every_chord_once_and_silence_first():
    assert CHORD_VOCAB[0] is NO_CHORD
    assert len(set(CHORD_VOCAB)) == len(CHORD_VOCAB)
    assert all(CHORD_INDEX[c] == i for i, c in enumerate(CHORD_VOCAB))
    assert Chord(G, "7", D).name == "G7/D"
    with pytest.raises(ValueError):
        Chord(C, "maj", D)  # D is not a tone of C major


@pytest.mark.parametrize(
    ("pitches", "bass", "name"),
    [
        ([48, 64, 67, 72], 48, "C"),
        ([45, 60, 64, 69], 45, "Am"),
        ([43, 59, 62, 65], 43, "G7"),
        ([40, 60, 67, 72], 40, "C/E"),
        ([50, 65, 69, 72], 50, "Dm7"),
    ],
)
def test_fit_chord_names_common_chords(pitches, bass, name):
    assert fit_chord(pitch_class_weights(pitches), bass=bass).name == name


def test_fit_chord_of_nothing_is_silence():
    assert fit_chord(np.zeros(12)) is NO_CHORD


def test_change_rate_counts_root_and_quality_changes_only():
    c, c_e, g = Chord(C, "maj", C), Chord(C, "maj", E), Chord(G, "maj", G)
    assert change_rate([c, c_e, g, g]) == pytest.approx(1 / 3)  # inversion is no change


def test_transposition_moves_root_and_bass():
    assert Chord(G, "7", B).transposed(2) == Chord(A, "7", 1)


def test_scale_mask_keeps_diatonic_chords_only():
    mask = scale_chord_mask({C, D, E, F, G, A, B})
    assert mask[CHORD_INDEX[Chord(D, "min", D)]]
    assert not mask[CHORD_INDEX[Chord(D, "maj", D)]]


def test_sampling_is_deterministic_for_a_seed_and_greedy_at_zero_temperature():
    logits = np.log(np.array([0.1, 0.2, 0.3, 0.4]))
    draws = [sample_index(logits, np.random.default_rng(7)) for _ in range(3)]
    assert len(set(draws)) == 1
    seq1 = [sample_index(logits, r) for r in [np.random.default_rng(1)] for _ in range(50)]
    rng = np.random.default_rng(1)
    seq2 = [sample_index(logits, rng) for _ in range(50)]
    assert seq1 == seq2
    assert sample_index(logits, np.random.default_rng(3), temperature=0.0) == 3


def test_top_p_and_mask_remove_classes():
    logits = np.log(np.array([0.05, 0.05, 0.5, 0.4]))
    rng = np.random.default_rng(0)
    got = {sample_index(logits, rng, top_p=0.8) for _ in range(300)}
    assert got == {2, 3}
    mask = np.array([True, True, False, False])
    got = {sample_index(logits, rng, mask=mask) for _ in range(300)}
    assert got == {0, 1}
    # A mask that removes everything is ignored rather than failing.
    assert sample_index(logits, rng, temperature=0.0, mask=np.zeros(4, bool)) == 2


def test_hold_knob_keeps_or_avoids_the_previous_chord():
    prev = Chord(C, "maj", C)
    logp = np.full(len(CHORD_VOCAB), -20.0)
    logp[CHORD_INDEX[prev]] = np.log(0.4)
    logp[CHORD_INDEX[Chord(F, "maj", F)]] = np.log(0.6)
    dist = ChordDistribution(logp, 12, prev)
    rng = np.random.default_rng(0)

    def share_held(hold: float) -> float:
        params = ChordSamplingParams(temperature=1.0, top_p=1.0, hold=hold)
        draws = [sample_chord(dist, params, rng) for _ in range(400)]
        return sum(d.identity == prev.identity for d in draws) / len(draws)

    assert share_held(1.0) > 0.95
    assert share_held(0.0) < 0.05
    assert 0.25 < share_held(0.5) < 0.55


@pytest.mark.parametrize("chord", [Chord(C, "maj", C), Chord(G, "7", B), Chord(A, "min", E)])
def test_voicing_sounds_every_chord_tone_in_range(chord):
    v = voice_chord(chord)
    assert v.bass % 12 == chord.bass and 36 <= v.bass <= 50
    assert {p % 12 for p in v.pitches} == set(chord.pitch_classes)
    assert all(52 <= p <= 72 for p in v.upper)


def test_voicing_moves_smoothly_from_the_previous_chord():
    c = voice_chord(Chord(C, "maj", C))
    f = voice_chord(Chord(F, "maj", F), previous=c)
    assert sum(abs(a - b) for a, b in zip(c.upper, f.upper, strict=True)) <= 4
    assert voice_chord(NO_CHORD).pitches == ()


def test_greedy_decoding_changes_when_change_is_more_likely_than_not():
    prev = Chord(C, "maj", C)
    logp = np.full(len(CHORD_VOCAB), -30.0)
    for chord, p in ((prev, 0.4), (Chord(F, "maj", F), 0.35), (Chord(G, "maj", G), 0.25)):
        logp[CHORD_INDEX[chord]] = np.log(p)
    dist = ChordDistribution(logp, 12, prev)
    greedy = ChordSamplingParams(temperature=0.0)
    # C alone is the likeliest chord, but a change (0.6) is likelier than keeping it (0.4)
    assert sample_chord(dist, greedy, np.random.default_rng(0)).name == "F"
    held = ChordSamplingParams(temperature=0.0, hold=0.7)
    assert sample_chord(dist, held, np.random.default_rng(0)).name == "C"


def test_chords_a_style_leaves_out_give_their_share_to_the_others_not_to_silence():
    """Am7 left out (a style playing only dominant sevenths): the draw chooses among the
    others, the odds of playing no chord at all stay what they were, and a distribution
    with nothing else to play is left as it was."""
    from instrument.models.chords import sevenths_left_out

    am7, c, silent = CHORD_INDEX[Chord(9, "m7", 9)], CHORD_INDEX[Chord(0, "maj", 0)], 0
    logp = np.full(N_CHORDS, -30.0)
    logp[[am7, c, silent]] = np.log([0.6, 0.3, 0.1])
    left_out = sevenths_left_out(frozenset({"7"}))
    assert left_out[am7] and not left_out[CHORD_INDEX[Chord(7, "7", 7)]] and not left_out[c]
    kept = without_chords(ChordDistribution(logp, 0, None), left_out)
    assert kept.top() == Chord(0, "maj", 0) and np.exp(kept.logp[am7]) == 0.0
    assert np.exp(kept.logp[silent]) == pytest.approx(0.1)
    assert np.exp(kept.logp).sum() == pytest.approx(1.0)
    only = np.full(N_CHORDS, -np.inf)
    only[am7] = 0.0
    assert without_chords(ChordDistribution(only, 0, None), left_out).top().name == "Am7"
