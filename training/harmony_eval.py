"""Compare accompaniment models with the rule arranger, alone (no tune memory), on the
dev part of the training split (for choices) or the validation split (for reporting).

    python -m training.harmony_eval --split dev exported_models/accompaniment.json \
        /tmp/run/accompaniment.json

Per source (folk dance tunes, chorales) and pooled: note-in-chord overall / first pass /
repeated pass, change rate, coverage, the most pitch classes at once and the share of
played beats whose chord has four pitch classes; plus with ``--memory`` the same with the
tune memory (as the live part plays); with ``--policy`` each model also as it plays live,
with the rules between strong beats and the key prior (:mod:`instrument.models.harmony`;
its manifest's policy unless ``--key-weight`` is given).
Chords are drawn greedily with each model's manifest's ``sampling.hold`` (as the live
part draws them; ``--hold`` tries another), the rules' with 0.5. Scored as in
:mod:`instrument.evaluation.generators`.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

from instrument.baselines.rules import RuleArranger
from instrument.evaluation import generators as gen
from instrument.memory.tune_memory import TuneMemory
from instrument.models.accompaniment import Accompanist, BeatInput, ChordDistribution
from instrument.models.harmony import HarmonyPolicy, ModelWithRules, strong_beat
from instrument.models.loader import load_model
from instrument.music import TICKS_PER_BEAT
from training import accompaniment as A


class BarStartHybrid(Accompanist):
    """Both stepped every beat (as the engine steps model and fallback): the model's
    distribution on the first beat of each bar (and, with ``half``, of each half bar of
    an even meter), the rule arranger's on the other beats. Constant cost per beat."""

    def __init__(self, model: Accompanist, half: bool = False) -> None:
        self.model = model
        self.rules = RuleArranger(A.DEADLINE_TICKS)
        self.half = half

    def reset(self) -> None:
        self.model.reset()
        self.rules.reset()

    def step(self, beat: BeatInput) -> ChordDistribution:
        d_model, d_rules = self.model.step(beat), self.rules.step(beat)
        first = (beat.beat_tick // TICKS_PER_BEAT) % beat.meter.beats_per_bar == 0
        return d_model if first or (self.half and strong_beat(beat.beat_tick, beat.meter)) \
            else d_rules


def score(accompanist, tunes, memory: bool, hold: float | None = None) -> dict:
    """Greedy, with the accompanist's own hold (its manifest's) unless ``hold`` is given."""
    tally = gen._PassTallies()
    four = played = 0
    params = accompanist.decoding(0.0)
    if hold is not None:
        params = replace(params, hold=hold)
    for tune in tunes:
        chords = gen.run_accompanist(accompanist, tune, A.DEADLINE_TICKS, params,
                                     memory=TuneMemory() if memory else None)
        gen._score_chords(tally, tune, chords)
        span = [c for c in chords[gen.beat_range(tune).start:] if not c.is_silent]
        played += len(span)
        four += sum(len(c.pitch_classes) >= 4 for c in span)
    r = tally.result()
    return {"nic": round(r["note_in_chord"], 4), "first": round(r["first"]["note_in_chord"], 4),
            "repeated": round(r["repeated"]["note_in_chord"], 4),
            "change_rate": round(r["change_rate"], 4), "coverage": round(r["coverage"], 4),
            "max_pcs": r["max_pitch_classes"], "four_pc_share": round(four / max(played, 1), 4)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.harmony_eval", description=__doc__)
    p.add_argument("manifests", nargs="*", type=Path)
    p.add_argument("--split", choices=("dev", "validation"), default="dev")
    p.add_argument("--memory", action="store_true", help="also score with the tune memory")
    p.add_argument("--limit", type=int, default=0, help="at most this many tunes a source")
    p.add_argument("--hybrid", action="store_true",
                   help="also score each model on bar starts with the rules elsewhere")
    p.add_argument("--policy", action="store_true",
                   help="also score each model with the live harmony policy (its manifest's, "
                        "else the default settings)")
    p.add_argument("--key-weight", type=float, default=None,
                   help="the policy's key prior (log-probability per tone outside the key) "
                        "instead of the manifest's")
    p.add_argument("--hold", type=float, default=None,
                   help="draw the models' chords with this hold instead of their manifests' "
                        "sampling.hold (the rules keep 0.5)")
    p.add_argument("--json", type=Path, default=None, help="write the results here")
    args = p.parse_args(argv)
    splits = A.load_splits(False)
    sets = {s: (dv if args.split == "dev" else va) for s, (_, dv, va) in splits.items()
            if s in ("offline", "chorale")}
    if args.limit:
        sets = {s: t[: args.limit] for s, t in sets.items()}
    sets["all"] = [t for s in ("offline", "chorale") for t in sets[s]]
    models = {"rules": RuleArranger(A.DEADLINE_TICKS)}
    for m in args.manifests:
        model = load_model(m)
        model.warm_up()
        models[str(m)] = model
        if args.hybrid:
            models[f"{m} bar-start hybrid"] = BarStartHybrid(model)
            models[f"{m} half-bar hybrid"] = BarStartHybrid(model, half=True)
        if args.policy:
            policy = model.policy or HarmonyPolicy()
            if args.key_weight is not None:
                policy = replace(policy, key_weight=args.key_weight)
            models[f"{m} policy"] = ModelWithRules(model, RuleArranger(A.DEADLINE_TICKS), policy)
    out: dict = {"split": args.split, "tunes": {s: len(t) for s, t in sets.items()}}
    for name, model in models.items():
        t0 = time.time()
        hold = None if name == "rules" else args.hold
        row = {s: score(model, t, False, hold) for s, t in sets.items()}
        if args.memory:
            row["all_memory"] = score(model, sets["all"], True, hold)
            row["offline_memory"] = score(model, sets["offline"], True, hold)
        out[name] = row
        print(f"{name} ({time.time() - t0:.0f} s): {json.dumps(row)}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
