"""The bar reader's tables, from the training split; its weights, tried on the dev split.

    python -m training.fit_bar            # print the tables' sizes
    python -m training.fit_bar --write    # -> instrument/follow/bar_data.py
    python -m training.fit_bar --search   # reader alone on dev tunes' grids, per weight set

Tunes come from the extraction cache (``training/corpus.py``: folk melodies and chorales,
repeats expanded as played; run ``python -m training.corpus`` first). The tables count,
per meter of :data:`instrument.follow.bar.METERS`, over the *fit* part of the training
split (``training.data.split_dev``: training without dev, never validation): how often
each tick of the bar holds an onset, the length class and the scale degree (in the causal
key estimate of :class:`instrument.follow.bar.KeyFinder`) of the notes at each place of the
bar, where tunes begin, and how many tunes each meter has; per kind (simple, compound) the
same figures for an average beat, and where off-beat onsets fall in the beat.

``--search`` runs :class:`instrument.follow.bar.BarReader` on the exact grid of dev tunes
(the tune's ticks, with the numbering shifted by a random number of beats), with each
weight set of a small grid, and prints the share of tunes whose best reading is right
after four bars (and the meter, with ``--auto``).
"""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from instrument.models.tune import Tune
from instrument.music import TICKS_PER_BEAT, Meter

TPB = TICKS_PER_BEAT
DATA_PATH = Path(__file__).resolve().parent.parent / "instrument" / "follow" / "bar_data.py"
SMOOTH = 1.0  # add this many to every count


def _key(meter: Meter) -> str:
    return str(meter)


def _candidates(tunes: Sequence[Tune]) -> list[Tune]:
    from instrument.follow.bar import METERS

    return [t for t in tunes if t.meter in METERS and len(t.melody) >= 8]


def bar_stats(tunes: Sequence[Tune]) -> dict:
    """The tables of :mod:`instrument.follow.bar_data` (see the module docstring)."""
    from instrument.follow.bar import (
        DURATION_EDGES,
        METERS,
        KeyFinder,
        bar_class,
        duration_class,
        place_class,
    )

    nd = len(DURATION_EDGES) + 1
    meters: dict[str, dict] = {}
    kinds: dict[str, dict] = {}
    for kind in ("simple", "compound"):
        kinds[kind] = {"bars": np.zeros(TPB), "onset": np.zeros(TPB),
                       "length": np.full((4, nd), SMOOTH), "degree": np.full((4, 12), SMOOTH),
                       "start": np.full(4, SMOOTH), "offbeat": np.full(TPB, SMOOTH)}
    for m in METERS:
        n = m.beats_per_bar * 4
        meters[_key(m)] = {"bars": 0, "onset": np.zeros(m.ticks_per_bar),
                           "length": np.full((n, nd), SMOOTH), "degree": np.full((n, 12), SMOOTH),
                           "start": np.full(n, SMOOTH), "tunes": 0}
    for t in _candidates(tunes):
        m = t.meter
        L = m.ticks_per_bar
        kind = kinds["compound" if m.compound else "simple"]
        row = meters[_key(m)]
        row["tunes"] += 1
        onsets = np.array(sorted({n.onset for n in t.melody}))
        first_bar, last_bar = onsets[0] // L, onsets[-1] // L
        bars = last_bar - first_bar + 1
        row["bars"] += bars
        np.add.at(row["onset"], onsets % L, 1.0)
        kind["bars"] += bars * m.beats_per_bar
        np.add.at(kind["onset"], onsets % TPB, 1.0)
        pos = onsets % L
        cls = bar_class(pos, m.compound)
        place = place_class(pos, m.compound)
        d = duration_class(np.diff(onsets))
        np.add.at(row["length"], (cls[:-1], d), 1.0)
        np.add.at(kind["length"], (place[:-1], d), 1.0)
        keys = KeyFinder()
        by_onset = {}
        for note in t.melody:
            by_onset.setdefault(note.onset, note.pitch)
        degree = np.array([(by_onset[o] - keys.hear(by_onset[o])) % 12 for o in onsets])
        np.add.at(row["degree"], (cls, degree), 1.0)
        np.add.at(kind["degree"], (place, degree), 1.0)
        row["start"][cls[0]] += 1.0
        kind["start"][place[0]] += 1.0
        off = onsets % TPB
        np.add.at(kind["offbeat"], off[off != 0], 1.0)

    def norm(a: np.ndarray) -> list:
        return np.round(a / a.sum(axis=-1, keepdims=True), 5).tolist()

    out_m = {}
    for key, row in meters.items():
        out_m[key] = {
            "onset": np.round((row["onset"] + 0.5) / (row["bars"] + 1.0), 5).tolist(),
            "length": norm(row["length"]), "degree": norm(row["degree"]),
            "start": norm(row["start"]), "tunes": row["tunes"] + 1,
        }
    out_k, offbeat = {}, {}
    for key, kind in kinds.items():
        out_k[key] = {
            "onset": np.round((kind["onset"] + 0.5) / (kind["bars"] + 1.0), 5).tolist(),
            "length": norm(kind["length"]), "degree": norm(kind["degree"]),
            "start": norm(kind["start"]),
        }
        off = kind["offbeat"].copy()
        off[0] = 1.0
        offbeat[key] = norm(off / off[1:].sum() * (off[1:].sum() / off.sum()))
    total = sum(v["tunes"] for v in out_m.values())
    return {"METERS": out_m, "KINDS": out_k, "OFFBEAT": offbeat, "TUNES": total}


def write_data(stats: dict, path: Path = DATA_PATH) -> None:
    """Write ``stats`` as the module :mod:`instrument.follow.bar_data`."""
    lines = [
        '"""The bar reader\'s tables, from the fit part of the corpora\'s training split.',
        "",
        "Generated by ``python -m training.fit_bar --write``; do not edit. ``METERS[meter]``:",
        "per tick of the bar the share of bars with an onset there (``onset``); per place",
        "class of the bar (beat * 4 + place in the beat) the distribution of the notes'",
        "length classes (``length``) and scale degrees (``degree``), and of where tunes",
        "begin (``start``); ``tunes``: how many tunes (plus one). ``KINDS[kind]``: the same",
        "for an average beat of simple or compound meters; ``OFFBEAT[kind]``: where in the",
        "beat off-beat onsets fall; ``TUNES``: all tunes counted.",
        '"""',
        "",
    ]
    for name in ("METERS", "KINDS", "OFFBEAT", "TUNES"):
        lines.append(f"{name} = {stats[name]!r}")
    text = "\n".join(lines) + "\n"
    path.write_text(_wrap(text))


def _wrap(text: str) -> str:
    """Break the long literal lines at commas so they stay under 100 characters."""
    out = []
    for line in text.splitlines():
        while len(line) > 99:
            cut = line.rfind(", ", 0, 98) + 1
            out.append(line[:cut])
            line = "    " + line[cut:].lstrip()
        out.append(line)
    return "\n".join(out) + "\n"


def read_grid(tune: Tune, shift: int, reader, bars: int = 4):
    """Run ``reader`` over ``tune``'s first ``bars`` bars from its first note, on the exact
    grid numbered ``shift`` beats on; return its best (meter, phase) read in the tune's
    own numbering."""
    m = tune.meter
    onsets: dict[int, int] = {}
    for note in tune.melody:
        onsets.setdefault(note.onset, note.pitch)
    ticks = sorted(onsets)
    stop = ticks[0] + bars * m.ticks_per_bar
    for x in ticks:
        if x >= stop:
            break
        reader.hear(x + shift * TPB, x / TPB, onsets[x], 0.0)
    meter, phase = reader.best()
    return meter, (phase - shift) % meter.beats_per_bar


def search(tunes: Sequence[Tune], auto: bool, bars: int, seed: int = 0) -> None:
    """Print the reader's phase (and meter) accuracy per weight set."""
    from instrument.follow.bar import BarReader, BarWeights

    rng = np.random.default_rng(seed)
    chosen = _candidates(tunes)
    shifts = rng.integers(0, 12, len(chosen))
    grid = {"repetition": (0.0, 1.0, 2.0, 4.0), "kind": (1.0, 2.0)} if auto else {
        "harmony": (0.0, 2.0, 4.0), "degree": (0.0, 0.5), "length": (1.0, 2.0),
        "start": (0.0, 1.0, 2.0)}
    for values in itertools.product(*grid.values()):
        w = replace(BarWeights(), **dict(zip(grid, values, strict=True)))
        right = meter_right = 0
        wrong: dict[str, int] = {}
        for t, s in zip(chosen, shifts, strict=True):
            reader = BarReader(None if auto else t.meter, weights=w)
            meter, phase = read_grid(t, int(s), reader, bars)
            same = meter.beats_per_bar == t.meter.beats_per_bar
            same = same and meter.compound == t.meter.compound
            meter_right += same
            right += same and phase == 0
            if not (same and phase == 0):
                wrong[str(t.meter)] = wrong.get(str(t.meter), 0) + 1
        n = max(1, len(chosen))
        print(f"{dict(zip(grid, values, strict=True))}: phase right {right / n:.3f}"
              + (f", meter right {meter_right / n:.3f}" if auto else "")
              + f"; wrong per meter {wrong}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.fit_bar",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--write", action="store_true", help="write instrument/follow/bar_data.py")
    ap.add_argument("--search", action="store_true", help="try weight sets on dev tunes")
    ap.add_argument("--auto", action="store_true", help="with --search: the meter heard")
    ap.add_argument("--bars", type=int, default=4)
    ap.add_argument("--limit", type=int, default=300, help="dev tunes for --search")
    args = ap.parse_args(argv)
    from training.data import split_dev
    from training.evaluate_follow import corpus_tunes, pick

    fit, dev, _val = split_dev([t for t in corpus_tunes() if t.melody])
    if args.search:
        search(pick(dev, args.limit, 4 * args.bars), args.auto, args.bars)
        return 0
    stats = bar_stats(fit)
    if args.write:
        write_data(stats)
        print(f"wrote {DATA_PATH}")
    for key, row in stats["METERS"].items():
        print(f"{key}: {row['tunes'] - 1} tunes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
