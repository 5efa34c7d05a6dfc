"""Train an onset network (:mod:`instrument.follow.bar_net`) and export it with a manifest.

    python -m training.bar_net                 # -> exported_models/bar.{onnx,json}
    python -m training.bar_net --task meter    # -> exported_models/meter.{onnx,json}
    python -m training.bar_net --tiny --out /tmp/m   # smoke run (CI)

Tunes: folk melodies and chorales from the extraction cache (``python -m
training.corpus`` first), those in a meter of :data:`instrument.follow.bar.METERS`; trained
on the fit part of the training split (``training.data.split_dev``), its dev part kept
to choose how the reader weighs the network, the validation split never seen. Each
batch takes windows of ``--max-len`` onsets from random tunes (40 % from the tune's first
onset, the rest from anywhere), half of them with every onset snapped to a sixteenth
(a sixth of a beat in compound meters), as the recording in hindsight hears them. The
bar network's target at each onset is the beat of the bar it falls on (the corpus puts
bar lines on multiples of the bar), told the tune's meter; the meter network's is the
tune's meter, told none. The figures written into the manifest's ``metrics`` are
measured on the exact grids of dev and validation tunes after two, four and eight bars
and over the whole tune: for the bar network, the share of tunes whose bar phase is
read right by the network alone (its summed log-probabilities over the onsets heard)
beside the bar reader's tables (:class:`instrument.follow.bar.BarReader` without the
network); for the meter network, the share whose meter is read right by the network
alone (its last answer), by the reader without it (the meter heard) and by the reader
with it at its shipped weight.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from instrument.follow.bar import METER_NET_FLOOR, METERS, BarReader, BarWeights, KeyFinder
from instrument.follow.bar_net import TASKS, TPB, VOCAB, encoding_spec, onset_features
from instrument.models.manifest import MANIFEST_FORMAT, sha256_file, write_manifest
from instrument.models.tune import Tune
from training.loop import EXPORT_DIR, environment, rounded, seed_everything, state_specs, train
from training.nets import NetConfig, StepNet
from training.onnx_export import OPSET, build_graph, check_against_torch, save

VERSION = "1.0.0"
DIMS = (8, 4, 6, 8, 6, 4) + (2,) * (len(VOCAB) - 6)
START_SHARE = 0.4  # windows that begin at the tune's first onset
SNAP_SHARE = 0.5  # windows heard on sixteenths


def tune_onsets(tune: Tune) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A tune's distinct onsets (grid ticks), the highest pitch at each, and the key's
    tonic heard at each (causally, as the reader hears them)."""
    highest: dict[int, int] = {}
    for note in tune.melody:
        highest[note.onset] = max(note.pitch, highest.get(note.onset, 0))
    x = np.array(sorted(highest), dtype=np.int64)
    pitch = np.array([highest[k] for k in x], dtype=np.int64)
    keys = KeyFinder()
    tonic = np.array([keys.hear(int(p)) for p in pitch], dtype=np.int64)
    return x, pitch, tonic


def snapped(x: np.ndarray, compound: bool) -> np.ndarray:
    """Onsets rounded to sixteenths (a sixth of a beat in compound meters); the first
    onset of ticks that meet is kept (the mask of those kept)."""
    step = 2 if compound else 3
    y = np.round(x / step).astype(np.int64) * step
    return np.concatenate([[True], np.diff(y) > 0]) if len(y) else np.zeros(0, dtype=bool)


def usable(tunes: Sequence[Tune]) -> list[Tune]:
    return [t for t in tunes if t.meter in METERS and len(t.melody) >= 8]


class Windows:
    """Training windows drawn from tunes for the network of ``task`` (see the module
    docstring)."""

    def __init__(self, tunes: Sequence[Tune], task: str = "bar") -> None:
        self.tunes = [(tune_onsets(t), METERS.index(t.meter), t.meter) for t in tunes]
        self.task = task

    def batch(self, size: int, length: int, rng: np.random.Generator):
        """(input rows, targets, the classes allowed per window) of ``size`` windows."""
        ints = np.zeros((size, length, len(VOCAB)), dtype=np.int64)
        target = np.full((size, length), -100, dtype=np.int64)
        allowed = np.zeros((size, TASKS[self.task][1]), dtype=bool)
        for b in range(size):
            (x, pitch, tonic), mi, meter = self.tunes[rng.integers(len(self.tunes))]
            if rng.random() < SNAP_SHARE:
                keep = snapped(x, meter.compound)
                step = 2 if meter.compound else 3
                x = np.round(x[keep] / step).astype(np.int64) * step
                pitch, tonic = pitch[keep], tonic[keep]
            start = 0
            if rng.random() >= START_SHARE and len(x) > length:
                start = int(rng.integers(0, len(x) - length))
            sl = slice(start, start + length)
            if self.task == "meter":
                rows = onset_features(x[sl], pitch[sl], tonic[sl], 0)
                target[b, :len(rows)] = mi
                allowed[b] = True
            else:
                rows = onset_features(x[sl], pitch[sl], tonic[sl], mi)
                target[b, :len(rows)] = (x[sl] // TPB) % meter.beats_per_bar
                allowed[b, :meter.beats_per_bar] = True
            ints[b, :len(rows)] = rows
        return torch.from_numpy(ints), torch.from_numpy(target), torch.from_numpy(allowed)


def beat_log_probs(net: StepNet, x: np.ndarray, pitch: np.ndarray, tonic: np.ndarray,
                   meter) -> np.ndarray:
    """The network's log-probability of each beat of ``meter``'s bar per onset."""
    rows = onset_features(x, pitch, tonic, METERS.index(meter))
    with torch.no_grad():
        logits, _ = net(torch.from_numpy(rows)[None])
    bpb = meter.beats_per_bar
    return torch.log_softmax(logits["beat"][0, :, :bpb], -1).numpy()


def phase_accuracy(net: StepNet | None, tunes: Sequence[Tune],
                   checkpoints: Sequence[int | None] = (2, 4, 8, None)) -> dict:
    """Share of ``tunes`` whose right bar phase is read after each checkpoint's bars
    (None: the whole tune), on their exact grids: by the network's summed
    log-probabilities (``net``), or by the bar reader's tables (``net`` None; a reader
    that forgets nothing for the whole tune)."""
    right = dict.fromkeys(checkpoints, 0)
    for tune in tqdm(tunes, desc="phase", unit="tune", mininterval=2.0, leave=False,
                     disable=None):
        x, pitch, tonic = tune_onsets(tune)
        bpb = tune.meter.beats_per_bar
        lp = beat_log_probs(net, x, pitch, tonic, tune.meter) if net is not None else None
        for bars in checkpoints:
            n = len(x) if bars is None else int(np.searchsorted(
                x, x[0] + bars * tune.meter.ticks_per_bar))
            if lp is not None:
                beat = x[:n] // TPB
                score = [lp[np.arange(n), (beat - r) % bpb].sum() for r in range(bpb)]
            else:
                whole = bars is None
                reader = BarReader(tune.meter, max(64, n) if whole else 64,
                                   1.0 if whole else 0.99, BarWeights(net=0.0))
                for k in range(n):
                    reader.hear(int(x[k]), x[k] / TPB, int(pitch[k]), 0.0, score=False)
                reader.rescore()
                score = [reader.score_of(tune.meter, r) for r in range(bpb)]
            right[bars] += int(np.argmax(score)) == 0
    n = max(1, len(tunes))
    return {("whole" if b is None else f"bars_{b}"): round(v / n, 4) for b, v in right.items()}


def meter_accuracy(net: StepNet, tunes: Sequence[Tune], weight: float,
                   checkpoints: Sequence[int | None] = (2, 4, 8, None)) -> dict:
    """Shares of ``tunes`` whose meter is read right after each checkpoint's bars (None:
    the whole tune) on their exact grids: by the meter network alone (``network``, its
    answer after the last onset heard), by the bar reader with the meter heard and no
    network (``reader``; one that forgets nothing for the whole tune), and by the reader
    with the network at ``weight`` (``reader_with_network``)."""
    ways = ("network", "reader", "reader_with_network")
    right = {(w, b): 0 for w in ways for b in checkpoints}
    for tune in tqdm(tunes, desc="meter", unit="tune", mininterval=2.0, leave=False,
                     disable=None):
        x, pitch, tonic = tune_onsets(tune)
        rows = onset_features(x, pitch, tonic, 0)
        with torch.no_grad():
            lp = torch.log_softmax(net(torch.from_numpy(rows)[None])[0]["meter"][0], -1).numpy()
        for bars in checkpoints:
            n = len(x) if bars is None else max(1, int(np.searchsorted(
                x, x[0] + bars * tune.meter.ticks_per_bar)))
            reader = BarReader(None, max(64, n) if bars is None else 64,
                               1.0 if bars is None else 0.99, BarWeights(meter_net=0.0))
            for k in range(n):
                reader.hear(int(x[k]), x[k] / TPB, int(pitch[k]), 0.0, score=False)
            reader.rescore()
            m = reader.tables.meter_of
            both = reader.scores + weight * np.maximum(lp[n - 1], METER_NET_FLOOR)[m]
            truth = METERS.index(tune.meter)
            right["network", bars] += int(np.argmax(lp[n - 1])) == truth
            right["reader", bars] += int(m[int(np.argmax(reader.scores))]) == truth
            right["reader_with_network", bars] += int(m[int(np.argmax(both))]) == truth
    n = max(1, len(tunes))
    return {w: {("whole" if b is None else f"bars_{b}"): round(right[w, b] / n, 4)
                for b in checkpoints} for w in ways}


def net_config(hidden: int, layers: int, task: str = "bar") -> NetConfig:
    head = "beat" if task == "bar" else "meter"
    return NetConfig(int_vocab=list(VOCAB), int_dims=list(DIMS), hidden=hidden,
                     layers=layers, dropout=0.1, heads={head: TASKS[task][1]}, arch="gru")


DESCRIPTIONS = {
    "bar": ("Bar network: one step per melody onset on the beat grid; returns logits for "
            "the beat of the bar the onset falls on, in the meter given "
            "(instrument.follow.bar_net).",
            "beat of the bar 0..3 (only the meter's first beats count)"),
    "meter": ("Meter network: one step per melody onset on the beat grid; returns logits "
              "for the meter of the tune heard so far (instrument.follow.bar_net).",
              "meter, in the order of encoding.meters"),
}


def manifest_dict(cfg: NetConfig, onnx_path: Path, training: dict, metrics: dict,
                  task: str = "bar") -> dict:
    state_inputs, state_outputs, state_pairs = state_specs(cfg)
    output, classes = TASKS[task]
    return {
        "format": MANIFEST_FORMAT,
        "name": task,
        "version": VERSION,
        "task": task,
        "description": DESCRIPTIONS[task][0],
        "onnx": onnx_path.name,
        "sha256": sha256_file(onnx_path),
        "opset": OPSET,
        "inputs": [{"name": "features", "shape": [1, len(VOCAB)], "dtype": "int64",
                    "description": "one onset; columns as encoding.vocab"},
                   *state_inputs],
        "outputs": [{"name": output, "shape": [1, classes], "dtype": "float32",
                     "description": DESCRIPTIONS[task][1]},
                    *state_outputs],
        "state": state_pairs,
        "encoding": encoding_spec(task),
        "sampling": {},
        "network": cfg.to_json(),
        "training": training,
        "metrics": metrics,
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.bar_net",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--task", choices=tuple(TASKS), default="bar",
                    help="the bar network or the meter network")
    ap.add_argument("--out", type=Path, default=EXPORT_DIR)
    ap.add_argument("--steps", type=int, default=5000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--max-len", type=int, default=96, help="onsets a training window")
    ap.add_argument("--hidden", type=int, default=96)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--eval-limit", type=int, default=0,
                    help="dev and validation tunes for the figures (0: all)")
    ap.add_argument("--tiny", action="store_true", help="smoke run: few tunes and steps")
    args = ap.parse_args(argv)
    started = time.time()
    rng = seed_everything(args.seed, args.threads)
    from training.data import SPLIT_DOC, split_dev
    from training.evaluate_follow import corpus_tunes, pick

    if args.tiny:
        from training import corpus
        from training.data import tune_from_record

        tunes = [tune_from_record(r) for r in corpus.folk_tunes(tiny=True)]
        args.steps, args.hidden, args.layers, args.batch = min(args.steps, 5), 16, 1, 8
        fit = dev = val = usable(tunes)
    else:
        fit, dev, val = (usable(part) for part in split_dev(corpus_tunes()))
    if args.eval_limit or args.tiny:
        limit = args.eval_limit or 10
        dev, val = pick(dev, limit, 0), pick(val, limit, 0)
    print(f"{len(fit)} fit tunes, {len(dev)} dev, {len(val)} validation")
    task = args.task
    windows = Windows(fit, task)
    cfg = net_config(args.hidden, args.layers, task)
    head = next(iter(cfg.heads))
    classes = TASKS[task][1]
    net = StepNet(cfg)

    def loss_fn(model: StepNet, g: np.random.Generator) -> torch.Tensor:
        ints, target, allowed = windows.batch(args.batch, args.max_len, g)
        logits = model(ints)[0][head].masked_fill(~allowed[:, None, :], -1e9)
        return F.cross_entropy(logits.reshape(-1, classes), target.reshape(-1),
                               ignore_index=-100)

    hist = train(net, loss_fn, args.steps, args.lr, rng, desc=task)
    model = build_graph(net, "features", None, head_outputs={head: TASKS[task][0]})
    onnx_path = args.out / f"{task}.onnx"
    save(model, onnx_path)
    diff = check_against_torch(net, model, "features", None)
    print(f"exported {onnx_path}; max |onnx - torch| = {diff:.2e}")
    if task == "bar":
        metrics = {
            "what": "share of tunes whose bar phase is read right on their exact grid, "
                    "meter given, after 2/4/8 bars and over the whole tune",
            "dev_tunes": len(dev), "validation_tunes": len(val),
            "network_alone": {"dev": phase_accuracy(net, dev),
                              "validation": phase_accuracy(net, val)},
            "reader_tables": {"dev": phase_accuracy(None, dev),
                              "validation": phase_accuracy(None, val)},
        }
    else:
        weight = BarWeights().meter_net
        metrics = {
            "what": "share of tunes whose meter is read right on their exact grid after "
                    "2/4/8 bars and over the whole tune: the network alone, the bar reader "
                    f"without it and with it (weight {weight})",
            "dev_tunes": len(dev), "validation_tunes": len(val),
            "dev": meter_accuracy(net, dev, weight),
            "validation": meter_accuracy(net, val, weight),
        }
    print(metrics)
    training = {
        "data": {"tunes": "folk melodies and chorales of the extraction cache, meters "
                          + ", ".join(str(m) for m in METERS),
                 "fit_tunes": len(fit), "split": SPLIT_DOC,
                 "windows": f"{args.max_len} onsets, {START_SHARE:.0%} from the first onset, "
                            f"{SNAP_SHARE:.0%} snapped to sixteenths"},
        "steps": args.steps, "batch": args.batch, "lr": args.lr, "seed": args.seed,
        "loss": hist, "environment": environment(),
        "command": " ".join(["python -m training.bar_net"]
                            + (["--task", task] if task != "bar" else [])
                            + (["--steps", str(args.steps)] if args.steps != 5000 else [])
                            + (["--tiny"] if args.tiny else [])),
        "total_seconds": round(time.time() - started, 1),
    }
    write_manifest(manifest_dict(cfg, onnx_path, rounded(training), metrics, task),
                   args.out / f"{task}.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
