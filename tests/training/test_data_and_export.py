"""Training-side pieces: the split, transposition of beat features, the offline labeller,
and the hand-built ONNX export against torch."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from instrument.models import melody as enc
from instrument.models.tune import Tune
from instrument.music import GridNote, Meter
from training import data, harmonize
from training.nets import NetConfig, StepNet
from training.onnx_export import build_graph, check_against_torch

M44 = Meter(4, 4)


def tune(pitches, meter=M44, dur=6, start=0):
    return Tune("t", meter, [GridNote(p, start + i * dur, dur) for i, p in enumerate(pitches)])


def test_split_is_by_melody_content_and_holds_out_about_a_tenth():
    rng = np.random.default_rng(0)
    melodies = [list(rng.integers(55, 80, size=20)) for _ in range(2000)]
    share = np.mean([data.is_validation(m) for m in melodies])
    assert 0.07 < share < 0.13
    m = melodies[0]
    # the same tune transposed, or with another ending, lands on the same side
    assert data.is_validation([p + 5 for p in m]) == data.is_validation(m)
    assert data.is_validation([*m[:17], 60, 62]) == data.is_validation(m)


@pytest.mark.parametrize("encoding", ["beat-features/1", "beat-features/2", "beat-features/3",
                                      "beat-features/4"])
def test_transposed_beat_features_equal_features_of_the_transposed_tune(encoding):
    t = tune([60, 64, 67, 72, 71, 67, 62, 65, 69, 67, 64, 60] * 2)
    t.chords = harmonize.harmonize(t)
    # A forecast that leans to the next note's pitch class (the foresight encoding's).
    ahead = np.random.default_rng(0).dirichlet(np.ones(12), size=t.n_beats).astype(np.float32)
    base = data.beat_sequence(t, t.chords, 2, "offline", encoding, ahead)
    for shift in (1, 5, 11):
        moved = t.transposed(shift)
        expected = data.beat_sequence(moved, moved.chords, 2, "offline", encoding,
                                      np.roll(ahead, shift, axis=-1))
        ints, floats, labels = data.transpose_beats(base.ints, base.floats, base.labels, shift)
        np.testing.assert_array_equal(ints, expected.ints)
        np.testing.assert_allclose(floats, expected.floats)
        np.testing.assert_array_equal(labels, expected.labels)


def test_offline_labels_change_about_once_or_twice_a_bar_in_a_folk_tune():
    # A bar of I, a bar of V, eight times: eighth notes, chord tones and passing notes.
    bar_c = [60, 62, 64, 65, 67, 65, 64, 62]
    bar_g = [67, 69, 71, 72, 74, 72, 71, 69]
    t = tune((bar_c + bar_g) * 4)
    chords = harmonize.harmonize(t)
    names = [c.name for c in chords]
    assert names[0] == "C" and names[4] in ("G", "G7")
    changes = [b for b in range(1, len(chords)) if chords[b].identity != chords[b - 1].identity]
    assert all(b % 2 == 0 for b in changes)  # at bar lines or half bars, never mid-beat-pair
    assert 5 <= len(changes) <= 8  # about one per bar over 8 bars


def test_hindsight_labels_follow_the_bars_and_count_each_beats_onsets():
    bar_c = [60, 62, 64, 65, 67, 65, 64, 62]
    bar_g = [67, 69, 71, 72, 74, 72, 71, 69]
    t = tune((bar_c + bar_g) * 4)
    chords = harmonize.hindsight_labels(t)
    assert len(chords) == t.n_beats
    assert 0 in chords[0].pitch_classes and 7 in chords[4].pitch_classes
    seq = data.beat_sequence(t, chords, 2, "offline", "beat-features/2")
    assert seq.ints.shape[1] == 8 and seq.onset_pcs.sum() == len(t.melody)
    assert seq.ints[0, 6] == 24 and seq.ints[-1, 6] == 0  # no key yet, then C major
    assert seq.ints[4, 7] == 1  # the second bar of the phrase


def test_melody_batches_stay_in_range_after_random_transposition():
    rng = np.random.default_rng(0)
    seqs = [data.melody_sequence(tune([40, 95, 60, 61] * 10), rng) for _ in range(3)]
    x, y, mask = data.melody_batch(seqs, 16, rng)
    assert x.shape == (3, 16, enc.N_COLUMNS) and y.shape == (3, 16, 4) and mask.all()
    assert y[..., 0].min() >= 0 and y[..., 0].max() < enc.N_PITCHES


@pytest.mark.parametrize("n_floats", [0, 5])
def test_onnx_step_graph_matches_torch(n_floats):
    cfg = NetConfig(int_vocab=[7, 4], int_dims=[3, 2], n_floats=n_floats, hidden=8, layers=2,
                    heads={"a": 5, "b": 3})
    net = StepNet(cfg).eval()
    model = build_graph(net, "ints", "floats" if n_floats else None)
    assert check_against_torch(net, model, "ints", "floats" if n_floats else None) < 1e-4
    # Swapping two gates' weights must be caught by the check.
    with_bug = StepNet(cfg).eval()
    with_bug.load_state_dict(net.state_dict())
    w = with_bug.gru.weight_hh_l0.data
    w[:8], w[8:16] = w[8:16].clone(), w[:8].clone()
    with pytest.raises(AssertionError):
        check_against_torch(with_bug, model, "ints", "floats" if n_floats else None)


def test_training_batches_leave_the_forecast_out_of_the_share_of_sequences_asked():
    t = tune([60, 64, 67, 72, 71, 67, 62, 65, 69, 67, 64, 60] * 2)
    t.chords = harmonize.harmonize(t)
    ahead = np.full((t.n_beats, 12), 1 / 12, dtype=np.float32)
    seqs = [data.beat_sequence(t, t.chords, 2, "offline", "beat-features/4", ahead)] * 400
    columns = slice(60, 72)
    kept = []
    for dropout in (0.0, 0.25, 1.0):
        _, floats, _, mask = data.beat_batch(seqs, 64, np.random.default_rng(1),
                                             forecast_columns=columns,
                                             forecast_dropout=dropout)
        has = floats[:, :, columns].sum(-1)[mask]
        assert np.allclose(has[has > 0], 1.0)  # a forecast is kept whole or left out
        kept.append(float(np.mean(floats[:, 0, columns].sum(-1) > 0)))
    assert kept[0] == 1.0 and kept[2] == 0.0
    assert 0.68 < kept[1] < 0.82
