"""The beat follower on the corpora: played performances of held-out tunes.

    python -m training.evaluate_follow                 # validation split, 400 tunes
    python -m training.evaluate_follow --split train   # where the settings were chosen
    python -m training.evaluate_follow --stats         # the rhythm prior's figures
    python -m training.evaluate_follow --write-prior   # ... into instrument/follow/
    python -m training.evaluate_follow --style issue17 --auto   # issue 17's case, meter heard
    python -m training.evaluate_follow --split dev --misses     # why tunes are out of phase

Tunes come from the extraction cache (``training/corpus.py``: folk melodies and
chorales, repeats expanded as played); it is never built here: run
``python -m training.corpus`` first. The split is ``training/data.py``'s, by content:
the follower's settings and its rhythm prior were chosen on the training split only.
``--limit`` tunes are taken evenly across the split (sorted by name), each performed
once with a seed from ``--seed`` (see :mod:`instrument.follow.performance`: a start at
70-140 bpm while the follower is told 100, drift, rubato, a ritardando, slips, accents;
chorales are played with all four voices as chords half of the time). The fixed clock
(today's behaviour) runs on the same performances. ``--style issue17`` plays issue 17's
drifting case instead (80-150 bpm, drift over sixteen bars, 1.5 % rubato, flat
velocities; ``steady``: no drift), ``--bpm LO HI`` starts each performance in another
range of tempi (the follower is still told 100: ``--bpm 50 80`` a slow player, ``--bpm
150 200`` a fast one; ``--told-near``: told each player's starting tempo 10 % too fast,
as a player who set the box's tempo roughly), ``--auto`` adds a follower that is not
told the meter, ``--tapped`` one tapped in (the played tempo tapped on the downbeat a bar
before the first note's bar: it sets the tempo, the beat and the bar, as a player's tap
does), and ``--split dev`` evaluates on the dev part of the training split.
Single-threaded.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from instrument.follow.evaluate import (
    TOLD_OFF,
    evaluate_tunes,
    fixed_factory,
    follower_factory,
    miss_kind,
    tapped_factory,
    usable,
)
from instrument.follow.performance import ISSUE_17, STEADY, PerformanceStyle
from instrument.follow.report import format_summary
from instrument.models.tune import Tune
from instrument.music import TICKS_PER_BEAT


def corpus_tunes() -> list[Tune]:
    """Folk melodies and chorales from the cache; raises if the cache is not built."""
    from training import corpus
    from training.data import tune_from_record

    paths = [corpus._cache_path(kind) for kind in ("folk", "chorales")]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise FileNotFoundError(
            f"no extraction cache ({', '.join(missing)}): run python -m training.corpus")
    records = corpus.folk_tunes() + corpus.chorales()
    return [tune_from_record(r) for r in records]


def pick(tunes: Sequence[Tune], limit: int, min_beats: int) -> list[Tune]:
    """Up to ``limit`` usable tunes spread evenly over the name-sorted list."""
    ok = sorted((t for t in tunes if usable(t, min_beats)), key=lambda t: t.name)
    if limit <= 0 or len(ok) <= limit:
        return ok
    idx = np.linspace(0, len(ok) - 1, limit).round().astype(int)
    return [ok[i] for i in idx]


STYLES = 5  # density quantiles of the rhythm prior
MIN_BAR_TUNES = 100  # a meter needs this many training tunes for its own bar table
PRIOR_PATH = Path(__file__).resolve().parent.parent / "instrument" / "follow" / "prior_data.py"


def _beat_grids(tunes: Sequence[Tune], compound: bool):
    """Per tune: (onsets per beat, onset grid [beats, 12], beat-in-bar of each beat)."""
    for t in tunes:
        if t.meter.compound != compound:
            continue
        on = {n.onset for n in t.melody}
        first, last = min(on) // TICKS_PER_BEAT, max(on) // TICKS_PER_BEAT
        grid = np.zeros((last - first + 1, TICKS_PER_BEAT))
        for x in on:
            grid[x // TICKS_PER_BEAT - first, x % TICKS_PER_BEAT] = 1
        yield len(on) / len(grid), grid, np.arange(first, last + 1) % t.meter.beats_per_bar, t


def rhythm_stats(tunes: Sequence[Tune]) -> dict:
    """What :mod:`instrument.follow.prior` holds, from ``tunes`` (the training split).

    Per meter kind: the share of beats (not downbeats) with an onset at each offset of
    the lattice, for each density quantile of tunes (the styles); and per meter with at
    least MIN_BAR_TUNES tunes, the share at each offset of each beat of the bar.
    """
    from instrument.follow.prior import COMPOUND_OFFSETS, SIMPLE_OFFSETS, interval_code, tick_class

    out: dict = {"styles": {}, "density": {}, "bars": {}, "melody": {}, "tunes": {}}
    for kind, offsets in (("simple", SIMPLE_OFFSETS), ("compound", COMPOUND_OFFSETS)):
        rows = list(_beat_grids(tunes, kind == "compound"))
        dens = np.array([r[0] for r in rows])
        cuts = np.percentile(dens, np.linspace(0, 100, STYLES + 1)[1:-1])
        group = np.searchsorted(cuts, dens, side="left")
        styles, density = [], []
        for m in range(STYLES):
            sel = [r for r, gm in zip(rows, group, strict=True) if gm == m]
            g = np.vstack([r[1][r[2] != 0] for r in sel])
            styles.append(tuple(round(float(v), 4) for v in g.mean(axis=0)[list(offsets)]))
            density.append(round(float(np.mean([r[0] for r in sel])), 3))
        out["styles"][kind] = tuple(styles)
        out["density"][kind] = tuple(density)
        by_bar: dict[int, list] = {}
        for r in rows:
            by_bar.setdefault(r[3].meter.beats_per_bar, []).append(r)
        for beats, sel in sorted(by_bar.items()):
            out["tunes"][f"{kind} {beats}"] = len(sel)
            if len(sel) < MIN_BAR_TUNES or beats < 2:
                continue
            grid = np.vstack([r[1] for r in sel])
            pos = np.concatenate([r[2] for r in sel])
            table = tuple(
                tuple(round(float(v), 4) for v in grid[pos == b].mean(axis=0)[list(offsets)])
                for b in range(beats)
            )
            out["bars"][(kind, beats)] = table
        counts = np.ones((4, 121))  # add-one smoothing
        for t in tunes:
            if t.meter.compound != (kind == "compound"):
                continue
            m = t.melody
            for a, b, c in zip(m, m[1:], m[2:], strict=False):
                f = interval_code(b.pitch - a.pitch) * 11 + interval_code(c.pitch - b.pitch)
                counts[tick_class(b.onset % TICKS_PER_BEAT, kind == "compound"), f] += 1
        given = counts / counts.sum(axis=1, keepdims=True)
        overall = counts.sum(axis=0) / counts.sum()
        out["melody"][kind] = tuple(
            tuple(round(float(v), 2) for v in row) for row in np.log(given / overall))
    return out


def write_prior(stats: dict, path: Path = PRIOR_PATH) -> None:
    """Write ``stats`` as the Python module :mod:`instrument.follow.prior_data`."""
    lines = [
        '"""The rhythm prior\'s figures, from the training split of the corpora.',
        "",
        "Generated by ``python -m training.evaluate_follow --write-prior``; do not edit.",
        "``STYLES[kind]``: per density style (mean onsets per beat in ``DENSITY``), the",
        "share of beats that are not downbeats with an onset at each lattice offset;",
        "``BARS[(kind, beats per bar)]``: the share at each offset of each beat of the bar;",
        "``MELODY[kind][c][f]``: log of how much likelier the intervals into and out of a",
        "note (code ``f``) are at tick class ``c`` of the beat than anywhere;",
        "``TUNES``: how many training tunes each figure comes from.",
        '"""',
        "",
        "STYLES = {",
    ]
    for kind, styles in stats["styles"].items():
        lines.append(f"    {kind!r}: (")
        lines += [f"        {s!r}," for s in styles]
        lines.append("    ),")
    lines += ["}", "DENSITY = {"]
    lines += [f"    {k!r}: {v!r}," for k, v in stats["density"].items()]
    lines += ["}", "BARS = {"]
    for key, table in stats["bars"].items():
        lines.append(f"    {key!r}: (")
        lines += [f"        {row!r}," for row in table]
        lines.append("    ),")
    lines += ["}", "MELODY = {"]
    for kind, table in stats["melody"].items():
        lines.append(f"    {kind!r}: (")
        for row in table:
            lines.append("        (")
            for i in range(0, len(row), 11):
                lines.append("            " + ", ".join(repr(v) for v in row[i:i + 11]) + ",")
            lines.append("        ),")
        lines.append("    ),")
    lines += ["}", "TUNES = {"]
    lines += [f"    {k!r}: {v}," for k, v in stats["tunes"].items()]
    lines += ["}", ""]
    path.write_text("\n".join(lines))


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.evaluate_follow",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--split", choices=("validation", "train", "dev"), default="validation")
    ap.add_argument("--style", choices=("default", "issue17", "steady"), default="default")
    ap.add_argument("--auto", action="store_true", help="also a follower not told the meter")
    ap.add_argument("--tapped", action="store_true",
                    help="also a follower tapped in: the played tempo tapped on the downbeat "
                    "a bar before the first note's bar")
    ap.add_argument("--bpm", type=float, nargs=2, metavar=("LO", "HI"),
                    help="start tempo range of the performances (default: the style's)")
    ap.add_argument("--told-near", action="store_true",
                    help=f"the followers are told each player's tempo, {100 * TOLD_OFF:.0f} %% "
                    "too fast (not 100)")
    ap.add_argument("--limit", type=int, default=400, help="tunes (0: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--min-bars", type=int, default=4, help="skip tunes shorter than this")
    ap.add_argument("--stats", action="store_true", help="print the rhythm prior's figures")
    ap.add_argument("--write-prior", action="store_true",
                    help="write them to instrument/follow/prior_data.py")
    ap.add_argument("--misses", action="store_true",
                    help="also list the tunes out of phase after four bars, by why")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.bpm and min(args.bpm) <= 0:
        ap.error("--bpm: tempi must be above 0")
    from training.data import split, split_dev

    try:
        tunes = corpus_tunes()
    except FileNotFoundError as exc:
        print(f"evaluate_follow: {exc}", file=sys.stderr)
        return 1
    train, val = split(tunes)
    if args.stats or args.write_prior:
        stats = rhythm_stats([t for t in train if t.melody])
        if args.write_prior:
            write_prior(stats)
            print(f"wrote {PRIOR_PATH}")
        else:
            stats["bars"] = {f"{k[0]} {k[1]}": v for k, v in stats["bars"].items()}
            print(json.dumps(stats, indent=1))
        return 0
    chosen = {"train": train, "validation": val, "dev": split_dev(tunes)[1]}[args.split]
    chosen = [t for t in chosen if t.melody]
    picked = pick(chosen, args.limit, args.min_bars * 4)
    style = {"default": PerformanceStyle(chords=0.5), "issue17": ISSUE_17,
             "steady": STEADY}[args.style]
    if args.bpm:
        style = replace(style, bpm=tuple(sorted(args.bpm)))
    told = None if args.told_near else 100.0
    factories = {"follow": follower_factory(told), "fixed": fixed_factory()}
    if args.auto:
        factories["auto"] = follower_factory(told, auto=True)
    if args.tapped:
        factories["tapped"] = tapped_factory()
    start = time.perf_counter()
    result, per_tune = evaluate_tunes(picked, seed=args.seed, style=style, factories=factories,
                                     progress=not args.json)
    if args.misses:
        result["misses"] = {name: misses(per_tune[name]) for name in factories
                            if name != "fixed"}
    result["split"] = args.split
    result["style"] = args.style
    result["start_bpm"] = list(style.bpm)
    result["told_bpm"] = (f"each player's, {100 * TOLD_OFF:.0f} % too fast" if args.told_near
                          else 100.0)
    result["seconds"] = round(time.perf_counter() - start, 1)
    if args.json:
        print(json.dumps(result))
        return 0
    print(format_summary(result))
    for name, kinds in result.get("misses", {}).items():
        print(f"\n{name}: out of phase after four bars")
        for kind, tunes in kinds.items():
            print(f"  {kind}: {len(tunes)}")
            for tune in tunes:
                print(f"    {tune}")
    return 0


def by_kind(items: Iterable, kind_of: Callable, line: Callable) -> dict[str, list[str]]:
    """``line`` of each of ``items`` whose ``kind_of`` is not None, grouped by it, the
    commonest kind first."""
    kinds: dict[str, list[str]] = {}
    for item in items:
        kind = kind_of(item)
        if kind is not None:
            kinds.setdefault(kind, []).append(line(item))
    return dict(sorted(kinds.items(), key=lambda kv: -len(kv[1])))


def misses(results) -> dict[str, list[str]]:
    """The tunes out of phase after four bars, by :func:`miss_kind`, the commonest
    first; each as 'name (meter, start bpm, downbeat F1 after four bars)'."""
    return by_kind(results, miss_kind, lambda r: (
        f"{r.name} ({r.meter}, {r.start_bpm:.0f} bpm, F1 {r.downbeat_f1_4:.2f})"))


if __name__ == "__main__":
    raise SystemExit(main())
