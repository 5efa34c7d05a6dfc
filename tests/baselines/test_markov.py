"""The variable-order Markov continuation: online learning, prior files, the interface."""

from __future__ import annotations

import numpy as np
import pytest

from instrument.baselines.markov import MarkovContinuator, VariableOrderMarkov
from instrument.models import melody as enc
from instrument.models.continuation import Continuator
from instrument.models.sampling import SamplingParams
from instrument.music import GridNote, Meter

M44 = Meter(4, 4)


def phrase(pitches, start=0, dur=6):
    return [GridNote(p, start + i * dur, dur, 90) for i, p in enumerate(pitches)]


def feed(m: MarkovContinuator, notes):
    m.reset()
    dist = m.step(None, M44)
    for n in notes:
        dist = m.step(n, M44)
    return dist


def test_it_is_a_continuator_and_distributions_are_normalised():
    m = MarkovContinuator()
    assert isinstance(m, Continuator)
    dist = feed(m, phrase([60, 62, 64]))
    for logp in (dist.pitch, dist.rest, dist.duration, dist.level):
        assert np.exp(logp).sum() == pytest.approx(1.0, abs=1e-6)


def test_learns_a_phrase_online_and_continues_it():
    m = MarkovContinuator()
    riff = [60, 64, 67, 72, 67, 64, 60, 64, 67, 72, 67, 64]
    before = feed(m, phrase(riff[:5])).top_pitch()
    m.learn(phrase(riff), M44)
    dist = feed(m, phrase(riff[:5]))
    assert dist.top_pitch() == riff[5]
    assert before != riff[5] or np.exp(dist.pitch[enc.pitch_index(riff[5])]) > 0.5
    # the rhythm it heard (eighth notes, no rests) is what it predicts
    assert enc.DURATION_TICKS[int(np.argmax(dist.duration))] == 6
    assert dist.after_tick + enc.REST_TICKS[int(np.argmax(dist.rest))] == 5 * 6


def test_what_is_learned_in_one_key_is_known_in_all():
    m = MarkovContinuator()
    m.learn(phrase([60, 62, 64, 65, 67]), M44)
    assert feed(m, phrase([62, 64, 66, 67])).top_pitch() == 69


def test_forget_online_drops_the_player_but_keeps_the_prior(tmp_path):
    m = MarkovContinuator()
    m.learn(phrase([60, 67, 65, 64, 62, 60]), M44, into_prior=True)
    m.learn(phrase([60, 67, 61, 61, 61, 61]), M44)
    assert feed(m, phrase([60, 67])).top_pitch() == 61
    m.forget_online()
    assert feed(m, phrase([60, 67])).top_pitch() == 65


def test_prior_file_round_trip_gives_the_same_distributions(tmp_path):
    m = MarkovContinuator()
    for shift in range(4):
        m.learn(phrase([60 + shift, 62, 64, 62, 60, 67, 65, 64]), M44, into_prior=True)
    path = tmp_path / "prior.npz"
    m.save_prior(path)
    loaded = MarkovContinuator.from_prior(path)
    a, b = feed(m, phrase([60, 62, 64])), feed(loaded, phrase([60, 62, 64]))
    np.testing.assert_allclose(a.pitch, b.pitch, atol=1e-9)
    np.testing.assert_allclose(a.duration, b.duration, atol=1e-9)
    with np.load(path, allow_pickle=False) as data:  # plain arrays, no pickle
        assert all(data[k].dtype != object for k in data.files)


def test_witten_bell_falls_back_to_shorter_contexts():
    vom = VariableOrderMarkov(n_symbols=5, max_order=2)
    vom.add([0, 1], 2)
    p_seen = vom.probabilities([0, 1])
    p_unseen = vom.probabilities([3, 1])  # order-2 context unseen, order 1 ([1]) seen
    assert p_seen[2] > p_unseen[2] > 1 / 5
    assert p_seen.sum() == pytest.approx(1.0)


def test_sampling_respects_a_scale_and_is_deterministic_for_a_seed():
    m = MarkovContinuator()
    m.learn(phrase([60, 61, 63, 66, 68, 70, 61, 63]), M44)
    dist = feed(m, phrase([60, 61]))
    c_major = frozenset({0, 2, 4, 5, 7, 9, 11})
    params = SamplingParams(temperature=1.2, top_p=1.0, pitch_classes=c_major)
    notes = [m.sample(dist, params, np.random.default_rng(5)) for _ in range(3)]
    assert notes[0] == notes[1] == notes[2]
    rng = np.random.default_rng(0)
    assert all(m.sample(dist, params, rng).pitch % 12 in c_major for _ in range(200))


def test_shipped_prior_loads_and_predicts_stepwise_folk_motion():
    from instrument.places import SOURCE_MODELS_DIR

    path = SOURCE_MODELS_DIR / "markov_prior.npz"
    m = MarkovContinuator.from_prior(path)
    dist = feed(m, phrase([67, 69, 71, 72, 74]))  # a rising G major scale
    top = dist.top_pitch()
    assert abs(top - 74) <= 3
