"""The onset networks: their inputs say nothing about where the bar lines are, their
shipped ONNX steps are the training graphs' steps, the bar network reads the bar and the
meter network the meter of tunes written here."""

import numpy as np
import pytest

from instrument.follow import bar_net
from instrument.follow.bar import TERMS, BarReader, BarWeights
from instrument.follow.bar_net import TPB, onset_features
from instrument.music import Meter
from tests.follow.test_bar import JIG, POLKA, REEL, tune
from tests.follow.test_bar import WALTZ as PLAIN_WALTZ

WALTZ = [
    [(67, 4), (71, 2), (74, 2), (71, 2), (67, 2)], [(72, 4), (76, 4), (72, 4)],
    [(74, 8), (71, 4)], [(67, 12)],
    [(69, 4), (72, 4), (69, 4)], [(71, 4), (74, 2), (71, 2), (67, 4)],
    [(66, 4), (69, 4), (72, 4)], [(67, 12)],
] * 2


def _onsets(t):
    x = np.array([n.onset for n in t.melody])
    pitch = np.array([n.pitch for n in t.melody])
    return x, pitch


def test_the_inputs_are_the_same_wherever_the_bar_lines_are():
    x, pitch = _onsets(tune("reel", Meter(4, 4), REEL))
    tonic = np.full(len(x), 2)
    rows = onset_features(x, pitch, tonic, 2)
    for beats in (1, 2, 3, 7):
        assert np.array_equal(onset_features(x + beats * TPB, pitch, tonic, 2), rows)
    assert rows[0, 1] == bar_net.NONE_BEATS  # the first onset has none before it
    assert rows.shape == (len(x), len(bar_net.VOCAB))
    assert (rows < np.array(bar_net.VOCAB)).all() and (rows >= 0).all()


def test_each_onsets_row_as_the_reader_asks_for_it_is_the_same_as_in_training():
    x, pitch = _onsets(tune("waltz", Meter(3, 4), WALTZ))
    x = np.concatenate([x, x[-1] + [3, 3 + 4 * TPB, 3 + 20 * TPB]])  # gaps up to 16+ beats
    pitch = np.concatenate([pitch, [60, 61, 61]])
    tonic = np.arange(len(x)) % 12
    rows = onset_features(x, pitch, tonic, 1)
    for k in range(len(x)):
        assert np.array_equal(onset_features(x[:k + 1], pitch[:k + 1], tonic[:k + 1], 1,
                                             last=True)[0], rows[k])


def test_a_repeat_a_bar_later_is_seen():
    x, pitch = _onsets(tune("polka", Meter(2, 4), POLKA))
    rows = onset_features(x, pitch, np.zeros(len(x), dtype=np.int64), 0)
    eight_bars = 16  # beats: the polka repeats after eight bars of 2/4
    col = 6 + bar_net.REPEAT_BEATS.index(eight_bars)
    later = x >= x[0] + eight_bars * TPB
    assert rows[later, col].all()
    assert not rows[~later, col].any()


@pytest.mark.parametrize("task,head,meter_column", [("bar", "beat", 1), ("meter", "meter", 0)])
def test_the_shipped_onnx_step_is_the_training_graphs_step(task, head, meter_column):
    torch = pytest.importorskip("torch", reason="the training graph needs the train extra")
    pytest.importorskip("onnx", reason="the training graph needs the train extra")
    import json

    import onnx

    from training.bar_net import net_config
    from training.onnx_export import gru_net_from_graph

    net = bar_net.shipped(task)
    assert net is not None and net.manifest.task == task
    network = json.loads(net.manifest.path.read_text())["network"]
    cfg = net_config(network["hidden"], network["layers"], task)
    graph = gru_net_from_graph(onnx.load(str(net.manifest.onnx_path)), cfg)
    x, pitch = _onsets(tune("waltz", Meter(3, 4), WALTZ))
    rows = onset_features(x, pitch, np.full(len(x), 7), meter_column)
    state = net.zero_state()
    onnx_logits = []
    for row in rows:
        logits, state = net.step(row, state)
        onnx_logits.append(logits)
    with torch.no_grad():
        torch_logits = graph(torch.from_numpy(rows)[None])[0][head][0].numpy()
    assert np.abs(np.array(onnx_logits) - torch_logits).max() < 1e-4


@pytest.mark.parametrize("name,meter,bars", [("waltz", Meter(3, 4), WALTZ),
                                              ("polka", Meter(2, 4), POLKA),
                                              ("reel", Meter(4, 4), REEL)])
def test_the_shipped_network_alone_reads_the_bar_wherever_the_numbering_starts(
        name, meter, bars):
    t = tune(name, meter, bars)
    x, pitch = _onsets(t)
    for shift in range(meter.beats_per_bar):
        reader = BarReader(meter, 64, 0.99,
                           BarWeights(**{f: 0.0 for f in TERMS if f != "net"}, net=1.0))
        assert reader.net is not None
        for k in range(len(x)):
            reader.hear(int(x[k]) + shift * TPB, x[k] / TPB, int(pitch[k]), 0.0)
        assert reader.best() == (meter, shift)


def _meter_network_only() -> BarWeights:
    return BarWeights(**{f: 0.0 for f in TERMS if f != "meter_net"}, meter_net=1.0)


@pytest.mark.parametrize("name,meter,bars,unit", [("waltz", Meter(3, 4), PLAIN_WALTZ, 12),
                                                   ("jig", Meter(6, 8), JIG, 4)])
def test_the_shipped_meter_network_alone_hears_the_meter_and_keeps_it_on_a_new_grid(
        name, meter, bars, unit):
    x, pitch = _onsets(tune(name, meter, bars, unit=unit))
    reader = BarReader(None, 64, 0.99, _meter_network_only())
    assert reader.meter_net is not None and reader.net is None
    for k in range(len(x)):
        reader.hear(int(x[k]) + TPB, x[k] / TPB, int(pitch[k]), 0.0)
    assert reader.best()[0] == meter
    assert reader.confidence(*reader.best())[1] > 0.5
    reader.remap(lambda t: t)  # the same grid again: it hears the latest onsets again
    reader.rescore()
    assert reader.best()[0] == meter
    reader.forget()  # the onsets are dropped: it has heard nothing
    assert not reader.meter_lp.any()


def test_the_meter_network_is_not_run_with_the_meter_set():
    reader = BarReader(Meter(3, 4))
    assert reader.meter_net is None and reader.net is not None
