"""``instrument evaluate DIR``: teacher-forced metrics of the models and their baselines
(``--follow``: the beat follower against the fixed clock, :mod:`instrument.follow.report`).

Every ``*.mid``/``*.midi`` file under DIR is read with :func:`instrument.models.tune.read_midi`:
the first note track is the melody, a second one (if any) the reference accompaniment.
See :mod:`instrument.evaluation.generators` for what each figure means.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

NAME = "evaluate"
HELP = (
    "Score the continuation and accompaniment models against the Markov and rule "
    "baselines on a folder of MIDI files."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", type=Path, help="folder of MIDI files (searched recursively)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--models-dir", type=Path, default=None,
                        help="where NAME.onnx/NAME.json live (default: exported_models/)")
    parser.add_argument("--continuation", default="continuation", metavar="NAME",
                        help="continuation model name or manifest path")
    parser.add_argument("--accompaniment", default="accompaniment", metavar="NAME",
                        help="accompaniment model name or manifest path")
    parser.add_argument("--providers", default="cpu",
                        help="execution providers in order, comma-separated (tensorrt,cuda,cpu)")
    parser.add_argument("--seed", type=int, default=None,
                        help="sample chords with this seed instead of greedily")
    parser.add_argument("--temperature", type=float, default=1.0,
                        help="chord sampling temperature when --seed is given")
    parser.add_argument("--follow", action="store_true",
                        help="score the beat follower instead, against the fixed clock, on "
                        "performances of the files with drifting tempo (see "
                        "instrument.follow.report); --seed seeds the performances")
    parser.add_argument("--band", action="store_true",
                        help="score the band instead: performances of the files played into "
                        "it with each style choice (see instrument.evaluation.band)")
    parser.add_argument("--performances", type=int, default=8, metavar="N",
                        help="with --follow or --band: performances of each file (default 8)")


def _fmt(x) -> str:
    if isinstance(x, float):
        return "nan" if math.isnan(x) else f"{x:.3f}"
    return str(x)


def _passes(m: dict, key: str) -> str:
    """``all (first / repeated)`` of one figure."""
    split = " / ".join(_fmt(m[p][key]) if p in m else "nan" for p in ("first", "repeated"))
    return f"{_fmt(m[key])} ({split})".ljust(22)


def _clean(obj):
    """NaN is not JSON: report it as null."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, float) and math.isnan(obj):
        return None
    return obj


def evaluate_directory(args: argparse.Namespace) -> dict:
    from instrument.baselines.markov import MarkovContinuator
    from instrument.evaluation.generators import accompaniment_comparison, continuation_comparison
    from instrument.models.loader import load_model
    from instrument.models.tune import read_midi
    from instrument.places import models_dir as shipped_or_configured

    files = sorted(
        p for p in args.directory.rglob("*") if p.suffix.lower() in (".mid", ".midi")
    )
    if not files:
        raise FileNotFoundError(f"no .mid or .midi files under {args.directory}")
    tunes = [read_midi(p) for p in files]
    providers = [p.strip() for p in args.providers.split(",") if p.strip()]
    models_dir = shipped_or_configured(args.models_dir)

    continuation = load_model(args.continuation, providers, models_dir)
    continuation.warm_up()
    prior = Path(models_dir) / "markov_prior.npz"

    accompanist = load_model(args.accompaniment, providers, models_dir)
    accompanist.warm_up()
    deadline = accompanist.deadline_ticks
    temperature = 0.0
    seed = 0
    if args.seed is not None:
        temperature = args.temperature
        seed = args.seed

    def new_markov() -> MarkovContinuator:
        return MarkovContinuator.from_prior(prior) if prior.exists() else MarkovContinuator()

    return {
        "files": len(tunes),
        "continuation": continuation_comparison(continuation, new_markov, tunes),
        "accompaniment": accompaniment_comparison(accompanist, tunes, deadline, temperature, seed,
                                                  continuation=continuation),
        "markov_prior": str(prior) if prior.exists() else None,
        "deadline_ticks_before_beat": deadline,
    }


def run(args: argparse.Namespace) -> int:
    from instrument.models.onnx_sessions import ModelError

    if args.follow:
        from instrument.follow.report import run_command

        return run_command(args)
    if args.band:
        from instrument.evaluation.band import run_command as run_band

        return run_band(args)
    try:
        result = evaluate_directory(args)
    except (ModelError, FileNotFoundError, OSError, ValueError) as exc:
        print(f"evaluate: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(_clean(result)))
        return 0
    print(f"{result['files']} files; each figure: all (first passes / repeated passes)")
    print("continuation      top1                    bits/note               rhythm bits  notes")
    for name, m in result["continuation"].items():
        print(f"  {name:<14} {_passes(m, 'top1')}  {_passes(m, 'nll_bits')}  "
              f"{_fmt(m.get('rhythm_nll_bits', float('nan'))):>11}  {m['notes']}")
    print("accompaniment     in-chord                changes/beat  pitch classes  coverage  "
          "distinct chords")
    for name, m in result["accompaniment"].items():
        if m is None:
            print(f"  {name:<14} (no second track in any file)")
            continue
        print(f"  {name:<14} {_passes(m, 'note_in_chord')}  {_fmt(m['change_rate']):>12} "
              f"{m['max_pitch_classes']:>14} {_fmt(m['coverage']):>9}  {m['distinct_chords']}")
    return 0
