"""Fit what the instrument learns during a tune on the dev part of the training split.

    python -m training.adaptation continuation [--models-dir exported_models] [--limit 0]
    python -m training.adaptation accompaniment [--models-dir ...] [SETTINGS_JSON ...]

``continuation``: the continuation's mixture weights
(:data:`instrument.memory.adaptive.DEFAULT_WEIGHTS`):
every dev tune is played through the neural model, the Markov model (shipped prior,
learning the tune online after each note is scored) and the copy model
(:class:`~instrument.memory.note_memory.NoteMemory`), causally as ``instrument evaluate``
does; for each note the three probabilities of the true pitch and of the true rest and
duration are kept with the copy's longest match; then EM finds, per match bin, the
(neural, Markov, copy) weights that maximise the dev likelihood. The result is printed
as the Python literal to paste into ``DEFAULT_WEIGHTS``, with the dev figures before and
after.

``accompaniment``: the tune memory's settings
(:class:`~instrument.memory.tune_memory.MemorySettings`): each JSON object given (fields
of ``MemorySettings``, ``hindsight`` a dict of
:class:`~instrument.memory.hindsight.HindsightSettings` fields; none: the defaults) is
scored on the dev tunes of every accompaniment source with the accompaniment model, as
``instrument evaluate`` scores it, one JSON line each (note-in-chord all / first /
repeated, change rate). The defaults were chosen from such lines (training/README.md).

The dev part is never trained on (training/data.py); the validation split is not
touched here.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from instrument.baselines.markov import MarkovContinuator
from instrument.evaluation.generators import accompaniment_metrics
from instrument.memory.adaptive import MATCH_BINS, MixWeights, match_bin
from instrument.memory.hindsight import HindsightSettings
from instrument.memory.note_memory import NoteMemory
from instrument.memory.tune_memory import MemorySettings, TuneMemory
from instrument.models import melody as enc
from instrument.models.loader import load_model
from instrument.places import SOURCE_MODELS_DIR
from training import corpus, data

EM_ROUNDS = 200


def collect(neural, markov: MarkovContinuator, tunes) -> dict[str, np.ndarray]:
    """Per dev note: the three probabilities of the true pitch, rest and duration, and
    the copy's match bin."""
    rows: dict[str, list] = {"pitch": [], "rest": [], "duration": [], "bin": [], "top": []}
    memory = NoteMemory()
    for tune in tunes:
        markov.forget_online()
        memory.reset()
        neural.reset()
        markov.reset()
        meter = tune.meter
        dn, dm = neural.step(None, meter), markov.step(None, meter)
        prev_end = None
        for note in tune.melody:
            cp = memory.predict()
            rest = enc.first_rest(note.onset, meter) if prev_end is None else note.onset - prev_end
            targets = {"pitch": enc.pitch_index(note.pitch), "rest": enc.rest_index(rest),
                       "duration": enc.duration_index(note.duration)}
            for attr, k in targets.items():
                copy = getattr(cp, attr)[k] if cp.length > 0 else 0.0
                rows[attr].append((np.exp(getattr(dn, attr)[k]), np.exp(getattr(dm, attr)[k]),
                                   copy))
            rows["top"].append((np.exp(dn.pitch), np.exp(dm.pitch), cp.pitch, targets["pitch"],
                                cp.length > 0))
            rows["bin"].append(match_bin(cp.length))
            markov.learn_next(note, meter)
            memory.learn(note, meter)
            memory.follow(note, meter)
            dn, dm = neural.step(note, meter), markov.step(note, meter)
            prev_end = note.onset + note.duration
    out = {k: np.array(v) for k, v in rows.items() if k != "top"}
    out["top"] = rows["top"]
    return out


def em(probs: np.ndarray, bins: np.ndarray) -> list[tuple[float, float, float]]:
    """Per bin, mixture weights maximising sum log(w . p); the copy gets none in bin 0."""
    out = []
    for b in range(len(MATCH_BINS)):
        p = probs[bins == b]
        w = np.array([0.6, 0.4, 0.0]) if b == 0 else np.full(3, 1.0 / 3)
        for _ in range(EM_ROUNDS if len(p) else 0):
            r = w * p
            r /= np.maximum(r.sum(axis=1, keepdims=True), 1e-300)
            w = r.mean(axis=0)
        out.append(tuple(round(float(x), 3) for x in w))
    return out


def figures(c: dict, weights: MixWeights) -> dict[str, float]:
    """Dev top-1 and bits of the mixture with ``weights``."""
    w_pitch = np.array([weights.pitch[b] for b in c["bin"]])
    w_rhythm = np.array([weights.rhythm[b] for b in c["bin"]])
    pitch = (w_pitch * c["pitch"]).sum(1) / w_pitch.sum(1)
    rhythm = ((w_rhythm * c["rest"]).sum(1) / w_rhythm.sum(1)) * (
        (w_rhythm * c["duration"]).sum(1) / w_rhythm.sum(1))
    hits = 0
    for (pn, pm, pc, target, has_copy), w in zip(c["top"], w_pitch, strict=True):
        mix = w[0] * pn + w[1] * pm + (w[2] * pc if has_copy else 0.0)
        hits += int(np.argmax(mix) == target)
    return {"top1": hits / len(pitch), "nll_bits": float(-np.log2(pitch).mean()),
            "rhythm_nll_bits": float(-np.log2(rhythm).mean()), "notes": len(pitch)}


def fit_continuation(models_dir: Path, limit: int) -> None:
    _, dev, _ = data.split_dev(data.tune_from_record(r) for r in corpus.folk_tunes())
    if limit:
        dev = dev[:limit]
    neural = load_model(models_dir / "continuation.json")
    neural.warm_up()
    markov = MarkovContinuator.from_prior(models_dir / "markov_prior.npz")
    c = collect(neural, markov, dev)
    weights = MixWeights(pitch=tuple(em(c["pitch"], c["bin"])),
                         rhythm=tuple(em(np.sqrt(c["rest"] * c["duration"]), c["bin"])))
    neural_only = MixWeights(pitch=((1.0, 0.0, 0.0),) * len(MATCH_BINS),
                             rhythm=((1.0, 0.0, 0.0),) * len(MATCH_BINS))
    print(json.dumps({"dev_tunes": len(dev),
                      "notes_per_bin": np.bincount(c["bin"], minlength=len(MATCH_BINS)).tolist(),
                      "neural_only": figures(c, neural_only),
                      "fitted": figures(c, weights)}, indent=2))
    print(f"DEFAULT_WEIGHTS = {weights!r}")


def memory_settings(text: str) -> MemorySettings:
    fields = json.loads(text)
    hindsight = fields.pop("hindsight", None)
    if hindsight is not None:
        fields["hindsight"] = HindsightSettings(**hindsight)
    return MemorySettings(**fields)


def score_memory(models_dir: Path, settings: list[str], limit: int) -> None:
    from training.accompaniment import DEADLINE_TICKS, load_splits

    dev = [t for _, tunes, _ in load_splits(tiny=False).values() for t in tunes]
    if limit:
        dev = dev[:limit]
    neural = load_model(models_dir / "accompaniment.json")
    neural.warm_up()
    for text in settings or ["{}"]:
        m = accompaniment_metrics(neural, dev, DEADLINE_TICKS,
                                  memory=TuneMemory(memory_settings(text)))
        print(json.dumps({"settings": json.loads(text), "dev_tunes": len(dev),
                          "note_in_chord": round(m["note_in_chord"], 4),
                          "first": round(m["first"]["note_in_chord"], 4),
                          "repeated": round(m["repeated"]["note_in_chord"], 4),
                          "change_rate": round(m["change_rate"], 3),
                          "max_pitch_classes": m["max_pitch_classes"]}), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.adaptation", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("part", choices=("continuation", "accompaniment"))
    parser.add_argument("settings", nargs="*", help="accompaniment: MemorySettings as JSON")
    parser.add_argument("--models-dir", type=Path, default=SOURCE_MODELS_DIR)
    parser.add_argument("--limit", type=int, default=0, help="at most this many dev tunes")
    args = parser.parse_intermixed_args(argv)
    if args.part == "continuation":
        fit_continuation(args.models_dir, args.limit)
    else:
        score_memory(args.models_dir, args.settings, args.limit)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
