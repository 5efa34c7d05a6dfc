"""The continuation's memory of the player (copy model) and the adaptive mixture: a
motif played before is quoted, in any key; the memory is bounded and a new tune starts
it empty; a late neural step leaves a valid mixture."""

from __future__ import annotations

import numpy as np
import pytest

from instrument import places
from instrument.baselines.markov import MarkovContinuator
from instrument.evaluation.generators import continuation_metrics
from instrument.memory.adaptive import (
    DEFAULT_WEIGHTS,
    MATCH_BINS,
    AdaptiveContinuator,
    match_bin,
    mix_continuation,
)
from instrument.memory.note_memory import NoteMemory, NoteMemorySettings
from instrument.models import melody as enc
from instrument.models.loader import load_model
from instrument.models.tune import Tune, read_midi
from instrument.music import GridNote, Meter
from tests.models.conftest import DATA

M44 = Meter(4, 4)
MOTIF = [(67, 6), (71, 6), (74, 12), (72, 6), (71, 6), (69, 12), (67, 6), (66, 6), (67, 24)]


def played(motifs: list[list[tuple[int, int]]], start: int = 0) -> list[GridNote]:
    notes, tick = [], start
    for motif in motifs:
        for pitch, duration in motif:
            notes.append(GridNote(pitch, tick, duration))
            tick += duration
        tick += 12  # a beat's rest between phrases
    return notes


def shifted(motif, semitones: int):
    return [(p + semitones, d) for p, d in motif]


def predictions(memory: NoteMemory, notes: list[GridNote]) -> list:
    """The copy's prediction before each note, learning each after it is predicted."""
    out = []
    for note in notes:
        out.append(memory.predict())
        memory.learn(note, M44)
        memory.follow(note, M44)
    return out


def quoted(preds, notes) -> float:
    """Share of notes whose pitch the copy predicted (argmax, when it had a match)."""
    hits = [p.length > 0 and int(np.argmax(p.pitch)) == enc.pitch_index(n.pitch)
            for p, n in zip(preds, notes, strict=True)]
    return sum(hits) / len(hits)


def test_a_motif_played_before_is_quoted_after_its_first_notes():
    notes = played([MOTIF, MOTIF])
    preds = predictions(NoteMemory(), notes)
    n = len(MOTIF)
    assert quoted(preds[:n], notes[:n]) < 0.5  # the first pass has little to copy
    assert quoted(preds[n + 3:], notes[n + 3:]) == 1.0  # after three notes of the repeat
    assert preds[-1].length >= n - 2  # the match grows with the repeat


def test_a_transposed_motif_is_quoted_in_its_new_key():
    notes = played([MOTIF, shifted(MOTIF, 5)])
    preds = predictions(NoteMemory(), notes)
    n = len(MOTIF)
    assert quoted(preds[n + 3:], notes[n + 3:]) == 1.0


def test_a_different_phrase_gets_no_long_match():
    other = [(60, 12), (64, 3), (62, 3), (60, 6), (57, 12), (55, 6), (57, 18), (60, 24)]
    notes = played([MOTIF, other])
    preds = predictions(NoteMemory(), notes)
    assert max(p.length for p in preds[len(MOTIF):]) < 3


def test_the_memory_stays_bounded_and_still_quotes_what_is_in_it():
    rng = np.random.default_rng(0)
    memory = NoteMemory(NoteMemorySettings(capacity=256))
    sizes = (memory._symbols.nbytes, memory._match.nbytes)
    phrases = [[(int(p), int(d)) for p, d in zip(rng.integers(60, 80, 8),
                                                 rng.choice([3, 6, 12], 8), strict=True)]
               for _ in range(600)]  # 4,800 random notes: the ring wraps many times
    predictions(memory, played(phrases))
    assert memory.notes == 256 and (memory._symbols.nbytes, memory._match.nbytes) == sizes
    tail = played([MOTIF, MOTIF], start=10**6)
    preds = predictions(memory, tail)
    assert quoted(preds[len(MOTIF) + 3:], tail[len(MOTIF) + 3:]) == 1.0


def test_a_new_tune_forgets_and_a_restart_keeps_the_notes():
    memory = NoteMemory()
    predictions(memory, played([MOTIF]))
    memory.restart()  # a new phrase of the same tune: the motif is still remembered
    again = predictions(memory, played([MOTIF], start=1000))
    assert quoted(again[3:], played([MOTIF], start=1000)[3:]) == 1.0
    memory.reset()
    assert memory.notes == 0
    fresh_notes = played([MOTIF], start=2000)
    fresh = predictions(memory, fresh_notes)
    assert max(p.length for p in fresh) < 3 and quoted(fresh, fresh_notes) < 0.5


def _markov_step(notes) -> object:
    m = MarkovContinuator()
    m.reset()
    d = m.step(None, M44)
    for n in notes:
        d = m.step(n, M44)
    return d


def test_the_mixture_follows_the_copy_more_the_longer_it_matches():
    assert len(DEFAULT_WEIGHTS.pitch) == len(MATCH_BINS)
    copy_weights = [w[2] for w in DEFAULT_WEIGHTS.pitch]
    assert copy_weights[0] == 0.0 and copy_weights[-1] > 0.5
    assert copy_weights == sorted(copy_weights)
    notes = played([MOTIF, MOTIF])
    memory = NoteMemory()
    predictions(memory, notes[: len(MOTIF) + 5])
    copy = memory.predict()
    markov = _markov_step(notes[: len(MOTIF) + 5])
    mixed = mix_continuation(None, markov, copy)  # the neural step was late
    for attr in ("pitch", "rest", "duration"):
        assert np.exp(getattr(mixed, attr)).sum() == pytest.approx(1.0, abs=1e-6)
    target = enc.pitch_index(notes[len(MOTIF) + 5].pitch)
    assert int(np.argmax(mixed.pitch)) == target
    assert match_bin(copy.length) > 0
    no_copy = mix_continuation(None, markov, NoteMemory().predict())
    np.testing.assert_allclose(no_copy.pitch, markov.pitch, atol=1e-6)


def test_adapting_within_the_tune_predicts_its_repeats():
    """On the folk files' repeats: the shipped model with the online Markov and copy
    models predicts the repeated passes almost always; the copy model alone lifts the
    Markov fallback far above itself; neither costs the first passes."""
    neural = load_model("continuation")
    neural.warm_up()
    prior = places.models_dir() / "markov_prior.npz"
    tunes = [read_midi(p) for p in sorted(DATA.glob("*.mid"))]
    plain = continuation_metrics(neural, tunes)
    adaptive = continuation_metrics(
        AdaptiveContinuator(neural, MarkovContinuator.from_prior(prior)), tunes)
    assert adaptive["repeated"]["top1"] >= 0.85
    assert adaptive["repeated"]["top1"] >= plain["repeated"]["top1"] - 0.02
    assert adaptive["repeated"]["nll_bits"] < 1.0
    assert adaptive["first"]["top1"] >= plain["first"]["top1"] - 0.02
    markov = continuation_metrics(MarkovContinuator.from_prior(prior), tunes)
    fallback = continuation_metrics(
        AdaptiveContinuator(None, MarkovContinuator.from_prior(prior)), tunes)
    assert fallback["repeated"]["top1"] >= markov["repeated"]["top1"] + 0.15
    assert fallback["repeated"]["nll_bits"] < markov["repeated"]["nll_bits"] - 0.5


def test_evaluation_scores_each_note_before_the_memory_learns_it():
    tune = Tune("once", M44, played([MOTIF]))  # nothing repeats: nothing to copy
    adaptive = continuation_metrics(AdaptiveContinuator(None, MarkovContinuator()), [tune])
    plain = continuation_metrics(MarkovContinuator(), [tune])
    assert adaptive["top1"] <= plain["top1"] + 1e-9
