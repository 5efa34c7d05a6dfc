"""Train, export and evaluate the online accompaniment model.

    python -m training.accompaniment            # full run -> exported_models/accompaniment.*
    python -m training.accompaniment --tiny --out /tmp/m   # smoke run (CI)

Data (music21's bundled corpora only), each split by piece (see training/data.py):

- Bach chorales: soprano is the melody; the chord of each beat is labelled from the four
  voices sounding at the beat (bass from the bass voice).
- Chord-symbol tunes: the Nottingham reels file and the two lead sheets.
- Folk dance tunes (O'Neill's 1850, Ryan's Mammoth) with offline labels from
  :mod:`training.harmonize`, so the model learns a folk harmonic rhythm (a chord a bar or
  half bar) as well as the chorales' chord a beat.

The model runs once per beat at that beat's deadline (``DEADLINE_TICKS`` before it) and
sees only melody notes that began before the deadline, in training, evaluation and live
alike; its previous chord comes back as an input (teacher-forced in training, with 10 %
replaced by random chords; its own greedy output in evaluation). Each training sequence
is in a random key, and half of them carry their harmonic-rhythm bucket as a steering
input (the rest "unset", so the model also infers the style from the melody).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from instrument.evaluation.generators import (
    accompaniment_comparison,
    accompaniment_metrics,
    reference_chords,
    reference_metrics,
)
from instrument.models import accompaniment as acc
from instrument.models.accompaniment import ChordSamplingParams
from instrument.models.chords import N_CHORDS, TEMPLATES
from instrument.models.harmony import HarmonyPolicy
from instrument.models.keys import NO_KEY
from instrument.models.loader import load_model
from instrument.models.manifest import (
    MANIFEST_FORMAT,
    read_manifest,
    sha256_file,
    write_manifest,
)
from instrument.models.tune import Tune
from training import corpus, data, harmonize
from training.loop import (
    EXPORT_DIR,
    RUNS_DIR,
    common_arguments,
    core_options,
    environment,
    rounded,
    seed_everything,
    state_specs,
    train,
)
from training.nets import NetConfig, StepNet
from training.onnx_export import OPSET, build_graph, check_against_torch, save

NAME = "accompaniment"
VERSION = "1.0.0"
DEADLINE_TICKS = 2  # a sixteenth-note triplet before the beat: ~83 ms at 120 bpm
DANCE_COLLECTIONS = ("oneills1850", "ryansMammoth", "airdsAirs", "miscFolk")
SOURCE_WEIGHTS = {"chorale": 0.35, "symbols": 0.05, "offline": 0.6}


def net_config(hidden: int, layers: int, encoding: str = acc.ENCODING_NAME,
               **core) -> NetConfig:
    vocab = [N_CHORDS + 1, acc.MAX_BEATS, 16, 13, acc.MAX_ONSETS + 1, acc.N_RHYTHM]
    dims = [48, 8, 8, 16, 4, 8]
    if encoding != acc.ENCODING_NAME:  # key so far (24 keys + none), bar in phrase
        vocab, dims = [*vocab, NO_KEY + 1, acc.PHRASE_BARS], [*dims, 16, 4]
    return NetConfig(
        int_vocab=vocab,
        int_dims=dims,
        n_floats=len(acc.FLOAT_COLUMNS[encoding]),
        hidden=hidden,
        layers=layers,
        heads={"chord": N_CHORDS},
        **core,
    )


LABELLERS = {"offline": harmonize.harmonize, "hindsight": harmonize.hindsight_labels}


def load_splits(tiny: bool, labels: str = "offline",
                ) -> dict[str, tuple[list[Tune], list[Tune], list[Tune]]]:
    """(train, dev, validation) tunes per source, with per-beat chord labels in
    ``tune.chords``; the network trains on the first only (see training/data.py).
    ``labels`` picks the folk tunes' labeller (:data:`LABELLERS`)."""
    sets: dict[str, tuple[list[Tune], list[Tune], list[Tune]]] = {}
    chor = [data.tune_from_record(r) for r in corpus.chorales(tiny=tiny)]
    for t in chor:
        t.chords = reference_chords(t)
    sets["chorale"] = data.split_dev(chor)
    sym = []
    for r in corpus.chord_symbol_tunes():
        t = data.tune_from_record(r)
        t.chords = data.chords_from_symbols(t, r["chord_symbols"])
        t.accompaniment = data.realize(t, t.chords)
        sym.append(t)
    sets["symbols"] = data.split_dev(sym)
    folk = [data.tune_from_record(r) for r in corpus.folk_tunes(tiny=tiny)
            if r["collection"] in DANCE_COLLECTIONS]
    if tiny:
        folk = folk[:300]
    for t in folk:
        t.chords = LABELLERS[labels](t)
    sets["offline"] = data.split_dev(folk)
    if tiny:
        # Smoke run: borrow training tunes where a source has no validation tune.
        sets = {k: (tr[:40], dv[:5], va[:10] or tr[:3]) for k, (tr, dv, va) in sets.items()}
    return sets


def load_sets(tiny: bool, labels: str = "offline") -> dict[str, tuple[list[Tune], list[Tune]]]:
    """(train, validation) tunes per source (the dev part left out)."""
    return {k: (tr, va) for k, (tr, _, va) in load_splits(tiny, labels).items()}


def manifest_dict(cfg: NetConfig, onnx_path: Path, training: dict, metrics: dict,
                  encoding: str = acc.ENCODING_NAME, policy: HarmonyPolicy | None = None,
                  hold: float = 0.5) -> dict:
    state_inputs, state_outputs, state_pairs = state_specs(cfg)
    return {
        "format": MANIFEST_FORMAT,
        "name": NAME,
        "version": VERSION,
        "task": "accompaniment",
        "description": (
            "Online accompaniment: one step per beat at its planning deadline; returns "
            "logits over the chord vocabulary (root x quality x bass, index 0 = silence)."
        ),
        "onnx": onnx_path.name,
        "sha256": sha256_file(onnx_path),
        "opset": OPSET,
        "inputs": [
            {"name": "beat_ints", "shape": [1, len(acc.ENCODINGS[encoding])], "dtype": "int64",
             "description": "columns as encoding.int_columns"},
            {"name": "beat_floats", "shape": [1, len(acc.FLOAT_COLUMNS[encoding])],
             "dtype": "float32", "description": "columns as encoding.float_columns"},
            *state_inputs,
        ],
        "outputs": [
            {"name": "chord_logits", "shape": [1, N_CHORDS], "dtype": "float32",
             "description": "chord of the planned beat, classes encoding.chords"},
            *state_outputs,
        ],
        "state": state_pairs,
        "encoding": acc.encoding_spec(DEADLINE_TICKS, encoding),
        "sampling": {"temperature": 0.0, "top_p": 0.95, "hold": hold,
                     **({"harmony_policy": policy.to_json()} if policy else {})},
        "network": cfg.to_json(),
        "training": training,
        "metrics": metrics,
    }


def continuation_manifest(out: Path) -> Path:
    """The continuation model the foresight reads (live, the box loads it beside the
    accompaniment): ``out``'s own, else the shipped one."""
    path = out / "continuation.json"
    return path if path.exists() else EXPORT_DIR / "continuation.json"


def load_continuation(out: Path):
    """The :func:`continuation_manifest`'s model, warmed up."""
    model = load_model(continuation_manifest(out))
    model.warm_up()
    return model


def forecasts_for(tunes: list[Tune], manifest_path: Path) -> list[np.ndarray]:
    """The melody forecast at every beat of each tune (:mod:`training.forecasts`)."""
    from training.forecasts import tune_forecasts

    return tune_forecasts(tunes, manifest_path, read_manifest(manifest_path).sha256,
                          DEADLINE_TICKS)


def evaluate_sets(model, sets, label: str, continuation=None) -> dict:
    """Per validation source and pooled: the model with its tune memory (``adaptive``,
    with its harmony policy when it has one, its foresight from ``continuation``), alone,
    with the policy and no memory (``policy``), the rule arranger with and without the
    memory, and the reference."""
    out = {}
    for source, (_, val) in sets.items():
        if not val:
            continue
        rows = accompaniment_comparison(model, val, DEADLINE_TICKS, continuation=continuation)
        entry = {"tunes": len(val), **{k: rounded(v) for k, v in rows.items()
                                       if k != "reference"}}
        if source == "offline":
            labelled = [Tune(t.name, t.meter, t.melody, data.realize(t, t.chords)) for t in val]
            entry["offline_labels"] = rounded(reference_metrics(labelled))
        elif rows["reference"] is not None:
            entry["reference"] = rounded(rows["reference"])
        out[source] = entry
        print(f"{label} {source}: " + json.dumps(entry))
    pooled = [t for _, val in sets.values() for t in val]
    rows = accompaniment_comparison(model, pooled, DEADLINE_TICKS, continuation=continuation)
    out["all"] = {"tunes": len(pooled), **{k: rounded(v) for k, v in rows.items()
                                           if k != "reference"}}
    print(f"{label} all: " + json.dumps(out["all"]))
    return out


def steering(model, sets) -> dict:
    """Change rate of the model under the two live controls, on the validation split."""
    val = [t for _, v in sets.values() for t in v]
    out = {}
    for rate in (None, 0.25, 0.5, 0.9):
        model.harmonic_rhythm = rate
        m = accompaniment_metrics(model, val, DEADLINE_TICKS)
        out[f"harmonic_rhythm={rate}"] = rounded(
            {"change_rate": m["change_rate"], "note_in_chord": m["note_in_chord"]})
    model.harmonic_rhythm = None
    for hold in (0.2, 0.8):
        m = accompaniment_metrics(model, val, DEADLINE_TICKS,
                                  ChordSamplingParams(temperature=0.0, hold=hold))
        out[f"hold={hold}"] = rounded(
            {"change_rate": m["change_rate"], "note_in_chord": m["note_in_chord"]})
    return out


#: What "policy" means in the manifest's metrics.
POLICY_TEXT = ("with the manifest's harmony policy (sampling.harmony_policy; "
               "instrument.models.harmony: the rule arranger stepped beside the model; with "
               "rules_between, between a bar's strong beats its chord where it changes chord; "
               "with key_weight, its key weighing the model's chords; with weak_hold, over a "
               "busy melody a hold on the beats between the strong ones; with foresight, "
               "after the tune memory's blend, the chords weighed by the continuation "
               "model's forecast of the next melody note), as the live part plays; 'model' "
               "is the model alone")


def validation_metrics(neural, sets, with_steering: bool, out: Path) -> dict:
    policy = getattr(neural, "policy", None)
    wants = (policy is not None and policy.foresight > 0) or neural.takes_forecast
    continuation = load_continuation(out) if wants else None
    per_source = evaluate_sets(neural, sets, "validation", continuation)
    return {
        "split": "validation",
        "decoding": "greedy (change-or-keep, then chord), own previous chord fed back, "
                    "online at each beat's deadline",
        "policy": POLICY_TEXT,
        **({"foresight_from": {"continuation_sha256": continuation.manifest.sha256}}
           if continuation is not None else {}),
        "adaptive": "the tune memory (instrument.memory.tune_memory, default settings "
                    "chosen on the dev split) observes each beat and blends its "
                    "recollection in, as the live part does; reset between tunes",
        "by_source": per_source,
        "steering": steering(neural, sets) if with_steering else {},
        "step_ms_during_eval": neural.timer.summary_ms(),
    }


#: The harmony policy's settings the command line can give (here and in training.harmony_eval).
POLICY_FLAGS = ("key_weight", "rules_between", "weak_hold", "weak_hold_rules", "foresight",
                "held_foresight")


def on_off(value: str) -> bool:
    """A switch given on the command line as ``on`` or ``off``."""
    if value not in ("on", "off"):
        raise argparse.ArgumentTypeError(f"{value!r}: on or off")
    return value == "on"


def policy_given(args: argparse.Namespace) -> dict:
    """The policy settings the flags give (those left unset are not in it)."""
    return {k: getattr(args, k) for k in POLICY_FLAGS if getattr(args, k) is not None}


def policy_of(args: argparse.Namespace, base: HarmonyPolicy | None = None) -> HarmonyPolicy:
    """``base`` (or the default policy) with the key weight and weak-beat holds the flags
    give, if any."""
    return replace(base or HarmonyPolicy(), **policy_given(args))


def reevaluate(args: argparse.Namespace) -> int:
    """Recompute the metrics of an exported model (same data, split and code as training)."""
    manifest_path = args.out / f"{NAME}.json"
    old = read_manifest(manifest_path)
    # The hold and the policy to ship, where given: the metrics below are drawn with them.
    data_ = json.loads(manifest_path.read_text())
    if args.hold is not None:
        data_["sampling"]["hold"] = args.hold
    if not args.no_policy and policy_given(args):
        named = data_["sampling"].get("harmony_policy")
        base = HarmonyPolicy(**named) if isinstance(named, dict) else None
        data_["sampling"]["harmony_policy"] = policy_of(args, base).to_json()
    write_manifest(data_, manifest_path)
    sets = load_sets(args.tiny)
    neural = load_model(manifest_path)
    neural.warm_up()
    metrics = validation_metrics(neural, sets, not args.tiny, args.out)
    data_ = json.loads(manifest_path.read_text())
    data_["metrics"] = metrics
    if data_["sha256"] != old.sha256:  # pragma: no cover - the file was just verified
        raise SystemExit("manifest changed while evaluating")
    write_manifest(data_, manifest_path)
    print(json.dumps(metrics["steering"], indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.accompaniment", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    common_arguments(parser, steps=2500, hidden=192)
    parser.add_argument("--labels", choices=sorted(LABELLERS), default="offline",
                        help="the folk tunes' chord labels: the offline labeller (a chord a "
                             "bar or half bar) or the tune memory's hindsight fit (any beat)")
    parser.add_argument("--encoding", choices=sorted(acc.ENCODINGS), default=acc.ENCODING_NAME,
                        help="beat features; beat-features/2 adds the key heard so far and "
                             "the bar's place in an eight-bar phrase; beat-features/3 also "
                             "the melody of the same beat one, two and four bars back; "
                             "beat-features/4 also the continuation model's forecast of the "
                             "next melody note")
    parser.add_argument("--nic-weight", type=float, default=0.0,
                        help="weight of an extra loss: minus the expected share of the next "
                             "beat's melody onsets that lie in the chord (0: labels only)")
    parser.add_argument("--key-weight", type=float, default=None,
                        help="the harmony policy the manifest names (instrument.models.harmony): "
                             "its key prior (default 0; with --evaluate-only, the manifest's "
                             "own unless given); chosen on the dev split with "
                             "training.harmony_eval --policy")
    parser.add_argument("--rules-between", type=on_off, default=None, metavar="on|off",
                        help="the harmony policy's rule arranger's chord where it changes "
                             "between strong beats (default on; with --evaluate-only, the "
                             "manifest's own unless given)")
    parser.add_argument("--weak-hold", type=float, default=None,
                        help="the harmony policy's hold on the beats between strong ones over "
                             "a busy melody, for the model (default 0; with --evaluate-only, "
                             "the manifest's own unless given); chosen on the dev split with "
                             "training.harmony_eval --policy --weak-hold")
    parser.add_argument("--weak-hold-rules", type=float, default=None,
                        help="the same for the rule arranger's changes (default 0)")
    parser.add_argument("--foresight", type=float, default=None,
                        help="the harmony policy's weight of the continuation model's "
                             "forecast of the next melody note (default 0; with "
                             "--evaluate-only, the manifest's own unless given); chosen on "
                             "the dev split with training.harmony_eval --policy --foresight")
    parser.add_argument("--held-foresight", type=float, default=None,
                        help="the foresight times this on a beat whose chord the weak-beat "
                             "hold will hold through the next one (default 1; with "
                             "--evaluate-only, the manifest's own unless given)")
    parser.add_argument("--hold", type=float, default=None,
                        help="the manifest's sampling.hold, with which the live part and the "
                             "evaluators draw its chords (default 0.5; with --evaluate-only, "
                             "the manifest's own unless given); chosen on the dev split with "
                             "training.harmony_eval --hold")
    parser.add_argument("--forecast-dropout", type=float, default=0.15,
                        help="with beat-features/4: the share of training sequences given "
                             "no melody forecast (as on a box without the continuation "
                             "model)")
    parser.add_argument("--no-policy", action="store_true",
                        help="the manifest names no harmony policy: the model plays alone")
    parser.add_argument("--skip-eval", action="store_true",
                        help="export and write the manifest without validation metrics")
    args = parser.parse_args(argv)
    if args.evaluate_only:
        return reevaluate(args)
    t_start, c_start = time.time(), time.process_time()
    rng = seed_everything(args.seed, args.threads)
    if args.tiny:
        args.steps, args.hidden, args.layers, args.batch = min(args.steps, 5), 32, 1, 8

    sets = load_sets(args.tiny, args.labels)
    foresight = args.encoding == acc.ENCODING_NAME_V4
    continuation = continuation_manifest(args.out) if foresight else None
    seqs: dict[str, list[data.BeatSequence]] = {}

    def sequences(tunes: list[Tune], source: str) -> list[data.BeatSequence]:
        ahead = forecasts_for(tunes, continuation) if continuation else [None] * len(tunes)
        return [data.beat_sequence(t, t.chords, DEADLINE_TICKS, source, args.encoding, f)
                for t, f in zip(tunes, ahead, strict=True)]

    for source, (tr, _) in sets.items():
        seqs[source] = sequences(tr, source)
        print(f"{source}: {len(tr)} training tunes, {len(sets[source][1])} validation tunes, "
              f"{sum(len(s.labels) for s in seqs[source])} training beats")
    sources = [s for s in SOURCE_WEIGHTS if seqs.get(s)]
    probs = np.array([SOURCE_WEIGHTS[s] for s in sources])
    probs /= probs.sum()

    cfg = net_config(args.hidden, args.layers, args.encoding, **core_options(args))
    templates = torch.from_numpy(TEMPLATES.astype(np.float32))  # (N_CHORDS, 12)
    net = StepNet(cfg)
    print(f"network: {net.n_params()} parameters")

    forecast_columns = acc.FORECAST_COLUMNS if foresight else None

    def loss_fn(model: StepNet, g: np.random.Generator) -> torch.Tensor:
        picks = g.choice(len(sources), size=args.batch, p=probs)
        batch = [seqs[sources[k]][g.integers(len(seqs[sources[k]]))] for k in picks]
        ints, floats, labels, mask, onsets = data.beat_batch(
            batch, args.max_len, g, with_onsets=True, forecast_columns=forecast_columns,
            forecast_dropout=args.forecast_dropout)
        logits, _ = model(torch.from_numpy(ints), torch.from_numpy(floats))
        m = torch.from_numpy(mask)
        loss = F.cross_entropy(logits["chord"][m], torch.from_numpy(labels)[m])
        if args.nic_weight > 0:
            # Expected note-in-chord of the beat's own onsets under the predicted chords.
            on = torch.from_numpy(onsets)[m]
            count = on.sum(-1)
            hit = (on @ templates.T) / count.clamp(min=1.0)[:, None]  # (N, N_CHORDS)
            expected = (torch.softmax(logits["chord"][m], -1) * hit).sum(-1)
            scored = count > 0
            if scored.any():
                loss = loss - args.nic_weight * expected[scored].mean()
        return loss

    # Held-out teacher-forced loss per source, on fixed batches (monitoring only).
    mon_rng = np.random.default_rng(1234)
    mon_batches = {}
    for source, (_, val) in sets.items():
        if val:
            mon_batches[source] = data.beat_batch(sequences(val[:64], source), args.max_len,
                                                  mon_rng, prev_noise=0.0)

    def monitor(model: StepNet) -> dict:
        out = {}
        for source, (ints, floats, labels, mask) in mon_batches.items():
            logits, _ = model(torch.from_numpy(ints), torch.from_numpy(floats))
            m = torch.from_numpy(mask)
            out[f"val_{source}"] = float(
                F.cross_entropy(logits["chord"][m], torch.from_numpy(labels)[m]))
        return out

    RUNS_DIR.mkdir(parents=True, exist_ok=True)
    hist = train(net, loss_fn, args.steps, args.lr, rng,
                 None if args.tiny else RUNS_DIR / f"{NAME}-loss.jsonl", desc=NAME,
                 monitor=monitor, checkpoint=args.checkpoint)

    args.out.mkdir(parents=True, exist_ok=True)
    model = build_graph(net, "beat_ints", "beat_floats")
    onnx_path = args.out / f"{NAME}.onnx"
    save(model, onnx_path)
    diff = check_against_torch(net, model, "beat_ints", "beat_floats")
    print(f"exported {onnx_path} ({onnx_path.stat().st_size // 1024} KiB); "
          f"max |onnx - torch| = {diff:.2e}")

    training = {
        "data": {
            "source": "music21 bundled corpus",
            "chorales": "bach chorales with exactly four parts (corpus.chorales.Iterator); "
                        "soprano -> chord labelled from all four voices at each beat",
            "chord_symbols": "nottingham-dataset/reelsa-c.abc and leadSheet/*.mxl",
            "offline_labels": "oneills1850, ryansMammoth, airdsAirs and miscFolk tunes "
                              "labelled by training/harmonize.py (offline, non-causal)",
            "folk_labels": args.labels,
            "tunes": {s: {"train": len(tr), "validation": len(va)}
                      for s, (tr, va) in sets.items()},
            "source_weights": SOURCE_WEIGHTS,
            "split": data.SPLIT_DOC,
            "transposition": "random key (0..11 semitones) per sequence per batch",
            "deadline": f"melody notes with onset < beat - {DEADLINE_TICKS} ticks",
        },
        "steps": args.steps, "batch": args.batch, "max_len": args.max_len, "lr": args.lr,
        "seed": args.seed, "nic_weight": args.nic_weight, "loss": hist,
        **({"forecast": {
            "continuation_sha256": read_manifest(continuation).sha256,
            "dropout": args.forecast_dropout,
            "how": "training.forecasts: the shipped continuation model's forecast at each "
                   "beat's deadline, on the tune's own key, transposed with the beat"}}
           if continuation else {}),
        "environment": environment(),
        "command": "python -m training.accompaniment " + " ".join(argv or sys.argv[1:]),
    }
    manifest_path = args.out / f"{NAME}.json"
    policy = None if args.no_policy else policy_of(args)
    hold = 0.5 if args.hold is None else args.hold
    write_manifest(manifest_dict(cfg, onnx_path, training, {}, args.encoding, policy, hold),
                   manifest_path)
    if args.skip_eval:
        return 0

    t0 = time.time()
    neural = load_model(manifest_path)
    neural.warm_up()
    metrics = validation_metrics(neural, sets, not args.tiny, args.out)
    training["total_seconds"] = round(time.time() - t_start, 1)
    training["process_cpu_seconds"] = round(time.process_time() - c_start, 1)
    write_manifest(manifest_dict(cfg, onnx_path, training, metrics, args.encoding, policy,
                                 hold), manifest_path)
    print(f"evaluation {time.time() - t0:.1f} s; total {training['total_seconds']} s")
    print(json.dumps(metrics["steering"], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
