"""Real ONNX sessions over the shipped models, through the engine-facing interfaces."""

from __future__ import annotations

import numpy as np
import pytest

from instrument.baselines import MarkovContinuator, RuleArranger
from instrument.evaluation.generators import accompaniment_metrics
from instrument.models import (
    BeatInput,
    ChordSamplingParams,
    NeuralAccompanist,
    NeuralContinuator,
    SamplingParams,
    load_model,
)
from instrument.models import melody as enc
from instrument.models.chords import N_CHORDS
from instrument.models.tune import read_midi
from instrument.music import GridNote, Meter
from tests.models.conftest import DATA

M44, M68 = Meter(4, 4), Meter(6, 8)
C_MAJOR = frozenset({0, 2, 4, 5, 7, 9, 11})
# "Twinkle": a plain C major tune in quarters
TUNE = [GridNote(p, 12 * i, 12, 80) for i, p in enumerate([60, 60, 67, 67, 69, 69, 67])]


@pytest.fixture(scope="module")
def cont() -> NeuralContinuator:
    model = load_model("continuation")
    model.warm_up()
    return model


@pytest.fixture(scope="module")
def acc() -> NeuralAccompanist:
    model = load_model("accompaniment")
    model.warm_up()
    return model


def run_melody(model, notes, meter=M44):
    model.reset()
    dist = model.step(None, meter)
    for n in notes:
        dist = model.step(n, meter)
    return dist


def test_continuation_step_shapes_and_one_run_per_note(cont):
    assert cont.timer.count == 0  # warm-up clears the timer
    dist = run_melody(cont, TUNE)
    assert dist.pitch.shape == (enc.N_PITCHES,)
    assert dist.rest.shape == (len(enc.REST_TICKS),)
    assert dist.duration.shape == (len(enc.DURATION_TICKS),)
    assert dist.level.shape == (enc.N_LEVELS,)
    assert np.exp(dist.pitch).sum() == pytest.approx(1.0, abs=1e-5)
    assert dist.after_tick == TUNE[-1].onset + TUNE[-1].duration
    before = cont.timer.count
    cont.step(GridNote(65, 84, 12), M44)
    assert cont.timer.count == before + 1  # exactly one ONNX run per committed note
    assert 0 < cont.timer.percentile(50.0) <= cont.timer.percentile(99.0) <= cont.timer.max


def test_continuation_is_deterministic_for_a_seed_and_reset_restores_the_start(cont):
    d1 = run_melody(cont, TUNE)
    d2 = run_melody(cont, TUNE)
    np.testing.assert_allclose(d1.pitch, d2.pitch, atol=1e-6)
    params = SamplingParams(temperature=1.0, top_p=0.95)
    a = [cont.sample(d1, params, np.random.default_rng(11)) for _ in range(2)]
    assert a[0] == a[1]


def test_continuation_continues_a_c_major_tune_in_c_major(cont):
    dist = run_melody(cont, TUNE)
    probs = np.exp(dist.pitch)
    pcs = (np.arange(enc.N_PITCHES) + enc.PITCH_LOW) % 12
    assert probs[np.isin(pcs, list(C_MAJOR))].sum() > 0.9
    assert abs(dist.top_pitch() - 67) <= 5


def test_scale_constraint_is_respected(cont):
    dist = run_melody(cont, TUNE)
    pentatonic_fs = frozenset({6, 8, 10, 1, 3})  # nothing the model would pick by itself
    params = SamplingParams(temperature=1.0, top_p=1.0, pitch_classes=pentatonic_fs)
    rng = np.random.default_rng(0)
    assert all(cont.sample(dist, params, rng).pitch % 12 in pentatonic_fs for _ in range(100))


def test_generated_notes_fall_on_the_6_8_grid(cont):
    jig = [GridNote(p, 4 * i, 4) for i, p in enumerate([67, 71, 74, 72, 71, 69, 67, 71, 74])]
    rng = np.random.default_rng(1)
    dist = run_melody(cont, jig, M68)
    greedy = SamplingParams(temperature=0.0)
    onsets = []
    for _ in range(12):
        note = cont.sample(dist, greedy, rng)
        onsets.append(note.onset)
        dist = cont.step(note, M68)
    assert all(o % 4 == 0 for o in onsets)  # eighths of 6/8 are 4 ticks


def test_markov_and_model_are_interchangeable_step_by_step(cont):
    markov = MarkovContinuator()
    for model in (cont, markov):
        model.reset()
        dist = model.step(None, M44)
        note = model.sample(dist, SamplingParams(temperature=0.0), np.random.default_rng(0))
        dist = model.step(note, M44)
        assert dist.after_tick == note.onset + note.duration


def beat_inputs(melody, meter=M44, beats=16, deadline=2):
    i = 0
    for b in range(beats):
        start = i
        while i < len(melody) and melody[i].onset < b * 12 - deadline:
            i += 1
        yield BeatInput(b * 12, meter, tuple(melody[start:i]), None)


def test_accompaniment_step_shape_determinism_and_feedback(acc):
    assert acc.deadline_ticks == 2
    dists = []
    for _ in range(2):
        acc.reset()
        prev = None
        rng = np.random.default_rng(5)
        chords = []
        for beat in beat_inputs(TUNE):
            d = acc.step(BeatInput(beat.beat_tick, beat.meter, beat.notes, prev))
            assert d.logp.shape == (N_CHORDS,)
            prev = acc.sample(d, ChordSamplingParams(temperature=1.0), rng)
            chords.append(prev)
        dists.append(chords)
    assert dists[0] == dists[1]


def test_accompaniment_harmonises_a_c_major_tune_with_c_major_chords(acc):
    acc.reset()
    prev = None
    rng = np.random.default_rng(0)
    chords = []
    for beat in beat_inputs(TUNE):
        prev = acc.sample(acc.step(BeatInput(beat.beat_tick, beat.meter, beat.notes, prev)),
                          ChordSamplingParams(temperature=0.0), rng)
        chords.append(prev)
    played = [c for c in chords[2:8] if not c.is_silent]
    assert played and all(set(c.pitch_classes) <= C_MAJOR | {10} for c in played)


def test_hold_and_key_constraint_apply_to_the_model(acc):
    acc.reset()
    rng = np.random.default_rng(0)
    d = None
    prev = None
    for beat in beat_inputs(TUNE, beats=6):
        d = acc.step(BeatInput(beat.beat_tick, beat.meter, beat.notes, prev))
        prev = d.top()
    hold = ChordSamplingParams(temperature=1.0, hold=1.0)
    assert all(acc.sample(d, hold, rng).identity == d.previous.identity for _ in range(50))
    key = ChordSamplingParams(temperature=1.5, top_p=1.0, pitch_classes=C_MAJOR)
    assert all(set(acc.sample(d, key, rng).pitch_classes) <= C_MAJOR for _ in range(100))


def test_harmonic_rhythm_control_steers_how_often_the_model_changes_chord(acc):
    tunes = [read_midi(p) for p in sorted(DATA.glob("*.mid"))]
    rates = {}
    for rate in (0.25, 0.9):
        acc.harmonic_rhythm = rate
        rates[rate] = accompaniment_metrics(acc, tunes, acc.deadline_ticks)["change_rate"]
    acc.harmonic_rhythm = None
    assert rates[0.25] < rates[0.9]


def test_rule_arranger_and_model_are_interchangeable_per_beat(acc):
    rules = RuleArranger(acc.deadline_ticks)
    prev = None
    rng = np.random.default_rng(0)
    for b, beat in enumerate(beat_inputs(TUNE, beats=8)):
        player = acc if b % 2 else rules  # alternate, as when the model misses deadlines
        other = rules if b % 2 else acc
        beat = BeatInput(beat.beat_tick, beat.meter, beat.notes, prev)
        d = player.step(beat)
        other.step(beat)
        prev = player.sample(d, ChordSamplingParams(temperature=0.0), rng)
    assert prev is not None and not prev.is_silent
