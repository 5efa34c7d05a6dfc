"""Compare accompaniment models with the rule arranger, alone (no tune memory), on the
dev part of the training split (for choices) or the validation split (for reporting).

    python -m training.harmony_eval --split dev exported_models/accompaniment.json \
        /tmp/run/accompaniment.json

Per source (folk dance tunes, chorales) and pooled: note-in-chord overall / first pass /
repeated pass, change rate, coverage, the most pitch classes at once and the share of
played beats whose chord has four pitch classes; plus with ``--memory`` the same with the
tune memory (as the live part plays); with ``--policy`` each model also as it plays live,
with the rules between strong beats, the key prior and the weak-beat hold
(:mod:`instrument.models.harmony`; its manifest's policy unless ``--key-weight``,
``--rules-between``, ``--weak-hold``, ``--weak-hold-rules``, ``--foresight``,
``--held-foresight`` are given;
a foresight reads the shipped continuation model). Every row also says where in the bar
the chords change (on the bar line, the half bar, elsewhere; by the score's bars), beside
the same for the human chord symbols of every tune that has them (four lead sheets) and
for the chorales' own harmony (their lower voices, the split's chorales).
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
from instrument.evaluation.band import PLACES, place_in_bar
from instrument.memory.tune_memory import TuneMemory
from instrument.models.accompaniment import Accompanist, BeatInput, ChordDistribution
from instrument.models.harmony import ModelWithRules, forecast_for, strong_beat
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


def count_places(counts: dict[str, int], tune, chords) -> None:
    """Add where in the bar (by the score's own bars: :func:`~instrument.evaluation.band.
    place_in_bar`) the chord changes in ``chords`` (one per beat, over the tune's melody)
    to ``counts``."""
    bpb = tune.meter.beats_per_bar
    previous = None
    for b in gen.beat_range(tune):
        chord = chords[b] if b < len(chords) else None
        if chord is None or chord.is_silent:
            continue
        if previous is not None and chord.identity != previous.identity:
            counts[place_in_bar(b % bpb, bpb)] += 1
        previous = chord


def place_shares(counts: dict[str, int]) -> dict:
    total = max(sum(counts.values()), 1)
    return {p: round(counts[p] / total, 3) for p in PLACES}


def own_chord_places(tunes) -> dict:
    """Where the tunes' own chords (``tune.chords``) change, as shares, and how many
    tunes."""
    counts = dict.fromkeys(PLACES, 0)
    for tune in tunes:
        count_places(counts, tune, tune.chords)
    return place_shares(counts) | {"tunes": len(tunes)}


def score(accompanist, tunes, memory: bool, hold: float | None = None) -> dict:
    """Greedy, with the accompanist's own hold (its manifest's) unless ``hold`` is given."""
    tally = gen._PassTallies()
    places = dict.fromkeys(PLACES, 0)
    params = accompanist.decoding(0.0)
    if hold is not None:
        params = replace(params, hold=hold)
    for tune in tunes:
        chords = gen.run_accompanist(accompanist, tune, A.DEADLINE_TICKS, params,
                                     memory=TuneMemory() if memory else None)
        gen._score_chords(tally, tune, chords)
        count_places(places, tune, chords)
    r = tally.result()
    return {"nic": round(r["note_in_chord"], 4), "first": round(r["first"]["note_in_chord"], 4),
            "repeated": round(r["repeated"]["note_in_chord"], 4),
            "change_rate": round(r["change_rate"], 4), "coverage": round(r["coverage"], 4),
            "max_pcs": r["max_pitch_classes"],
            "four_pc_share": round(r["four_pitch_class_share"], 4),
            "changes_by_place": place_shares(places)}


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
    p.add_argument("--rules-between", type=A.on_off, default=None, metavar="on|off",
                   help="the policy's rules' chord where they change between strong beats "
                        "instead of the manifest's")
    p.add_argument("--weak-hold", type=float, default=None,
                   help="the policy's hold on beats that are not strong (log-probability) "
                        "instead of the manifest's")
    p.add_argument("--weak-hold-rules", type=float, default=None,
                   help="the same for the rule arranger's changes between strong beats")
    p.add_argument("--foresight", type=float, default=None,
                   help="the policy's weight of the continuation model's forecast of the "
                        "next melody note instead of the manifest's (the shipped "
                        "continuation model's forecast, after the tune memory's blend)")
    p.add_argument("--held-foresight", type=float, default=None,
                   help="the foresight times this on a beat whose chord the weak-beat hold "
                        "will hold through the next one, instead of the manifest's")
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
    continuation = None
    for m in args.manifests:
        model = load_model(m)
        model.warm_up()
        if model.takes_forecast:  # an input of the model's: given wherever it plays
            continuation = continuation or A.load_continuation(A.EXPORT_DIR)
            model.attach_forecast(forecast_for(None, continuation, model))
        models[str(m)] = model
        if args.hybrid:
            models[f"{m} bar-start hybrid"] = BarStartHybrid(model)
            models[f"{m} half-bar hybrid"] = BarStartHybrid(model, half=True)
        if args.policy:
            policy = A.policy_of(args, model.policy)
            if policy.foresight > 0 and continuation is None:
                continuation = A.load_continuation(A.EXPORT_DIR)
            forecast = model.forecast or forecast_for(policy, continuation)
            models[f"{m} policy"] = ModelWithRules(model, RuleArranger(A.DEADLINE_TICKS), policy,
                                                   forecast)
    out: dict = {"split": args.split, "tunes": {s: len(t) for s, t in sets.items()}}
    # References, not choices: every tune with chord symbols (there are few), and the
    # chorales scored below with their own harmony (their lower voices; the folk tunes
    # have no human chords).
    symbols = [t for part in splits["symbols"] for t in part]
    for key, label, tunes in (("human_chord_symbols", "human chord symbols", symbols),
                              ("human_chorale_harmony", "the chorales' own harmony",
                               sets["chorale"])):
        row = own_chord_places(tunes)
        out[f"{key}_changes_by_place"] = row
        print(f"{label}: {json.dumps(row)}", flush=True)
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
