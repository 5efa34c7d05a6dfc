"""The band on the corpora: held-out tunes played with drift into the whole Band.

    python -m training.evaluate_band                    # validation split, 200 tunes
    python -m training.evaluate_band --style pad        # the plain pad on the same tunes
    python -m training.evaluate_band --limit 50 --json  # figures only, as JSON
    python -m training.evaluate_band --harmony model    # the shipped model's chords

Tunes come from the extraction cache (``python -m training.corpus`` builds it) and the
validation split of ``training/data.py`` (the band's settings were chosen on ``--split
dev``, the training split's dev part; nothing was tuned on validation); each is played
once (:mod:`instrument.follow.performance`, ``--performance``: ``drift``, issue 17's
drifting case with accents, or ``steady``) into the Band with the style ``--style``
(``auto`` by default: chosen from the meter and the feel), its chords from the rule
arranger or, with ``--harmony model``, the shipped accompaniment model with its harmony
policy (its foresight read from the shipped continuation model) and the tune memory, as
live. What is measured:
:mod:`instrument.evaluation.band`. Progress on a terminal; quiet with ``--json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace

from instrument.baselines.markov import MarkovContinuator
from instrument.config import Config
from instrument.evaluation.band import play_band, summarize
from instrument.evaluation.progress import Progress
from instrument.follow.performance import ISSUE_17, STEADY, perform
from instrument.parts.factory import load_models
from training.evaluate_follow import corpus_tunes, pick

PERFORMANCES = {
    # Issue 17's drifting case, with a player's accents and a touch that wanders.
    "drift": replace(ISSUE_17, accent=(0.5, 1.0), level_walk=4.0, velocity_noise=6.0),
    "steady": STEADY,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--style", default="auto")
    parser.add_argument("--performance", choices=sorted(PERFORMANCES), default="drift")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--split", choices=("validation", "dev"), default="validation",
                        help="dev: the training split's dev part, where settings are chosen")
    parser.add_argument("--harmony", choices=("rules", "model"), default="rules",
                        help="the chords: the rule arranger, or the shipped model as live")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    from training.data import split_dev

    _, dev, validation = split_dev(corpus_tunes())
    tunes = pick(validation if args.split == "validation" else dev, args.limit, min_beats=48)
    markov = MarkovContinuator.from_prior(Config().models_dir() / Config().models.markov_prior)
    accompaniment = continuation = None
    if args.harmony == "model":
        models = load_models(Config())
        accompaniment, continuation = models.accompaniment, models.continuation
        if accompaniment is None:
            print("evaluate_band: the accompaniment model did not load", file=sys.stderr)
            return 1
    results = []
    with Progress(len(tunes), "tunes", not args.json) as progress:
        for i, tune in enumerate(tunes):
            performance = perform(tune, args.seed + i, PERFORMANCES[args.performance])
            results.append(play_band(performance, args.style, markov=markov,
                                     accompaniment=accompaniment, continuation=continuation))
            progress.step()
    summary = summarize(results)
    summary.update(style=args.style, performance=args.performance, split=args.split,
                   harmony=args.harmony)
    print(json.dumps(summary, indent=None if args.json else 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
