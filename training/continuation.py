"""Train, export and evaluate the melodic continuation model.

    python -m training.continuation            # full run -> exported_models/continuation.*
    python -m training.continuation --tiny --out /tmp/m   # smoke run (CI)

Steps: extract folk melodies (cached), split by piece, build the Markov prior from the
training split, train the network (GRU or Transformer, ``--arch``) with random
transpositions to all keys, export one-step ONNX (opset 17) and check it against torch,
then load it through the runtime (sha256 and signature checks included) and evaluate on
the validation split, all / first passes / repeated passes: the model learning the tune
(``adaptive``: mixed with the online Markov model and the copy model, as the live part
plays), the model alone, and the online Markov baseline; the figures go into the
manifest. ``--evaluate-only`` re-runs that evaluation for the model in ``--out``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from instrument.baselines.markov import MarkovContinuator
from instrument.evaluation.generators import continuation_comparison
from instrument.models import melody as enc
from instrument.models.loader import load_model
from instrument.models.manifest import MANIFEST_FORMAT, sha256_file, write_manifest
from training import corpus, data
from training.loop import (
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

NAME = "continuation"
MARKOV_FILE = "markov_prior.npz"
VERSION = "1.0.0"


def net_config(hidden: int, layers: int, **core) -> NetConfig:
    return NetConfig(
        int_vocab=[enc.N_PITCHES + 1, len(enc.REST_TICKS), len(enc.DURATION_TICKS),
                   enc.N_LEVELS, enc.N_POSITIONS, enc.N_POSITIONS, enc.N_METERS],
        int_dims=[64, 16, 16, 8, 24, 24, 8],
        hidden=hidden,
        layers=layers,
        heads={"pitch": enc.N_PITCHES, "rest": len(enc.REST_TICKS),
               "duration": len(enc.DURATION_TICKS), "level": enc.N_LEVELS},
        **core,
    )


def build_markov(tunes: list) -> MarkovContinuator:
    """The Markov prior from the training split (first-note pitches in all keys)."""
    m = MarkovContinuator()
    for t in tunes:
        m.learn(t.melody, t.meter, into_prior=True)
        p = enc.fold_pitch(t.melody[0].pitch) - enc.PITCH_LOW
        for s in range(-6, 6):
            if 0 <= p + s < enc.N_PITCHES and s != 0:
                m.first_pitch[p + s] += 1.0
    return m


def manifest_dict(cfg: NetConfig, onnx_path: Path, training: dict, metrics: dict) -> dict:
    state_inputs, state_outputs, state_pairs = state_specs(cfg)
    return {
        "format": MANIFEST_FORMAT,
        "name": NAME,
        "version": VERSION,
        "task": "continuation",
        "description": (
            "Melodic continuation: one step per committed melody note; returns logits for "
            "the next note's pitch, rest, duration and dynamic level."
        ),
        "onnx": onnx_path.name,
        "sha256": sha256_file(onnx_path),
        "opset": OPSET,
        "inputs": [
            {"name": "event", "shape": [1, enc.N_COLUMNS], "dtype": "int64",
             "description": "one note event; columns as encoding.columns"},
            *state_inputs,
        ],
        "outputs": [
            {"name": "pitch_logits", "shape": [1, enc.N_PITCHES], "dtype": "float32",
             "description": "MIDI pitch pitch_low..pitch_high"},
            {"name": "rest_logits", "shape": [1, len(enc.REST_TICKS)], "dtype": "float32",
             "description": "rest before the next note, classes encoding.rest_ticks"},
            {"name": "duration_logits", "shape": [1, len(enc.DURATION_TICKS)],
             "dtype": "float32", "description": "classes encoding.duration_ticks"},
            {"name": "level_logits", "shape": [1, enc.N_LEVELS], "dtype": "float32",
             "description": "dynamic level, velocity = 16 * level + 8"},
            *state_outputs,
        ],
        "state": state_pairs,
        "encoding": enc.encoding_spec(),
        "sampling": {"temperature": 0.9, "top_p": 0.95},
        "network": cfg.to_json(),
        "training": training,
        "metrics": metrics,
    }


def validation_metrics(manifest_path: Path, markov_path: Path, val_tunes: list) -> dict:
    """The manifest's ``metrics``: the comparison rows on the validation tunes."""
    neural = load_model(manifest_path)
    neural.warm_up()
    rows = continuation_comparison(
        neural, lambda: MarkovContinuator.from_prior(markov_path), val_tunes)
    return {
        "split": "validation",
        "tunes": len(val_tunes),
        **rounded(rows),
        "markov_prior": {"file": MARKOV_FILE, "sha256": sha256_file(markov_path),
                         "orders": "0-4", "online_learning": "each note after it is scored"},
        "adaptive_mix": "neural + online Markov + copy of this tune's notes, weights by "
                        "match length fitted on the dev split (python -m training.adaptation "
                        "continuation)",
        "step_ms_during_eval": neural.timer.summary_ms(),
    }


def reevaluate(args: argparse.Namespace, val_tunes: list) -> int:
    """Recompute the metrics of the model in ``--out`` and rewrite its manifest."""
    manifest_path = args.out / f"{NAME}.json"
    data_ = json.loads(manifest_path.read_text())
    data_["metrics"] = validation_metrics(manifest_path, args.out / MARKOV_FILE, val_tunes)
    write_manifest(data_, manifest_path)
    print(json.dumps({k: data_["metrics"][k] for k in ("adaptive", "model", "markov")},
                     indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.continuation", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    common_arguments(parser, steps=4000, hidden=256)
    parser.set_defaults(arch="transformer")  # it scored better than the GRU: README.md
    args = parser.parse_args(argv)
    t_start = time.time()
    rng = seed_everything(args.seed, args.threads)
    if args.tiny:
        args.steps, args.hidden, args.layers, args.batch = min(args.steps, 5), 32, 1, 8
        args.val_limit = args.val_limit or 20

    records = corpus.folk_tunes(tiny=args.tiny)
    tunes = [data.tune_from_record(r) for r in records]
    train_tunes, _dev, val_tunes = data.split_dev(tunes)
    if args.tiny:  # smoke run: too few validation tunes may exist; borrow training ones
        train_tunes = train_tunes[:64]
        val_tunes = val_tunes if len(val_tunes) >= 3 else train_tunes[:5]
    if args.val_limit:
        val_tunes = val_tunes[: args.val_limit]
    print(f"{len(train_tunes)} training tunes, {len(val_tunes)} validation tunes")
    if args.evaluate_only:
        return reevaluate(args, val_tunes)

    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    markov = build_markov(train_tunes)
    markov_path = args.out / MARKOV_FILE
    markov.save_prior(markov_path, min_count=1.0)
    print(f"Markov prior: {markov_path} ({markov_path.stat().st_size // 1024} KiB, "
          f"{time.time() - t0:.1f} s)")

    seqs = [data.melody_sequence(t, rng) for t in train_tunes]
    cfg = net_config(args.hidden, args.layers, **core_options(args))
    net = StepNet(cfg)
    print(f"network: {net.n_params()} parameters")
    weights = (2.0, 1.0, 1.0, 0.5)  # pitch, rest, duration, level

    def loss_fn(model: StepNet, g: np.random.Generator) -> torch.Tensor:
        batch = [seqs[i] for i in g.integers(len(seqs), size=args.batch)]
        x, y, mask = data.melody_batch(batch, args.max_len, g)
        logits, _ = model(torch.from_numpy(x))
        m = torch.from_numpy(mask)
        yt = torch.from_numpy(y)
        total = torch.zeros(())
        for k, (head, w) in enumerate(zip(("pitch", "rest", "duration", "level"), weights,
                                          strict=True)):
            total = total + w * F.cross_entropy(logits[head][m], yt[..., k][m])
        return total / sum(weights)

    RUNS_DIR.mkdir(parents=True, exist_ok=True)
    hist = train(net, loss_fn, args.steps, args.lr, rng,
                 None if args.tiny else RUNS_DIR / f"{NAME}-loss.jsonl", desc=NAME,
                 checkpoint=args.checkpoint)

    model = build_graph(net, "event", None)
    onnx_path = args.out / f"{NAME}.onnx"
    save(model, onnx_path)
    diff = check_against_torch(net, model, "event", None)
    print(f"exported {onnx_path} ({onnx_path.stat().st_size // 1024} KiB); "
          f"max |onnx - torch| = {diff:.2e}")

    training = {
        "data": {
            "corpora": list(corpus.FOLK_COLLECTIONS),
            "source": "music21 bundled corpus",
            "train_tunes": len(train_tunes),
            "validation_tunes": len(val_tunes),
            "train_notes": int(sum(len(t.melody) for t in train_tunes)),
            "split": data.SPLIT_DOC,
            "transposition": "random shift in -6..+5 semitones per sequence per batch",
            "dynamics": "corpora have none: synthetic levels (base 3..6 drifting at bar "
                        "lines, +1 on downbeats), so the model carries the player's level on",
        },
        "steps": args.steps, "batch": args.batch, "max_len": args.max_len, "lr": args.lr,
        "seed": args.seed, "loss": hist,
        "environment": environment(),
        "command": "python -m training.continuation" + (" --tiny" if args.tiny else ""),
    }
    manifest_path = args.out / f"{NAME}.json"
    write_manifest(manifest_dict(cfg, onnx_path, training, {}), manifest_path)

    t0 = time.time()
    metrics = validation_metrics(manifest_path, markov_path, val_tunes)
    training["total_seconds"] = round(time.time() - t_start, 1)
    write_manifest(manifest_dict(cfg, onnx_path, training, metrics), manifest_path)
    print(f"validation ({time.time() - t0:.1f} s):")
    print(json.dumps({k: metrics[k] for k in ("adaptive", "model", "markov")}, indent=2))
    print(f"total {training['total_seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
