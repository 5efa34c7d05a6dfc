"""The bar reader's tables, from the training split; its weights, tried on the dev split.

    python -m training.fit_bar            # print the tables' sizes
    python -m training.fit_bar --write    # -> instrument/follow/bar_data.py
    python -m training.fit_bar --search   # reader alone on dev tunes' grids, per weight set
    python -m training.fit_bar --fit-weights   # the cues' weights, on the fit part
    python -m training.fit_bar --fit-meter     # the meter's weights (meter heard)

Tunes come from the extraction cache (``training/corpus.py``: folk melodies and chorales,
repeats expanded as played; run ``python -m training.corpus`` first). The tables count,
per meter of :data:`instrument.follow.bar.METERS`, over the *fit* part of the training
split (``training.data.split_dev``: training without dev, never validation): how often
each tick of the bar holds an onset, the length class and the scale degree (in the causal
key estimate of :class:`instrument.follow.bar.KeyFinder`) of the notes at each place of the
bar, where tunes begin, and how many tunes each meter has; per kind (simple, compound) the
same figures for an average beat, and where off-beat onsets fall in the beat. Also per
place of the bar: the melodic interval into each note and the melody's turn there (up,
down or level on either side: peaks and valleys), and where the melody starts or stops
repeating itself 1, 2, 4 or 8 bars later; and the onset, length and degree tables again
per density style (:func:`instrument.follow.bar.density_style`: a reel is not a chorale).

``--fit-weights`` fits :class:`instrument.follow.bar.BarWeights` (with the meter
configured) as a softmax regression of the right reading on the cues' log-likelihood
ratios, read ``--bars`` bars after the first note of tunes of the fit part (never dev or
validation), with the reader's live history and decay; it prints the weights. With
``--whole``, read at each tune's end by a reader that forgets nothing (the recording's
reader in hindsight): fitted on 2707 tunes (start 0.73, harmony 0.31, phrase 0.1,
length_style 0.22, degree_style 0.14, interval 0.08, turn 0.1) these chose the phase of
75 % of 200 dev recordings right against 76.5 % with the live weights, so hindsight
keeps the live weights.
``--fit-meter`` does the same over every reading of every candidate meter (two, four and
eight bars in) for the weights that choose the meter (the kind, the meter's prior share,
the density's, the repetition features' coefficients ``REPETITION``), the phase cues'
weights fixed.

``--search`` runs :class:`instrument.follow.bar.BarReader` on the exact grid of dev tunes
(the tune's ticks, with the numbering shifted by a random number of beats), with each
weight set of a small grid, and prints the share of tunes whose best reading is right
after four bars (and the meter, with ``--auto``).
"""

from __future__ import annotations

import argparse
import itertools
import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from instrument.models.tune import Tune
from instrument.music import TICKS_PER_BEAT, Meter

TPB = TICKS_PER_BEAT
DATA_PATH = Path(__file__).resolve().parent.parent / "instrument" / "follow" / "bar_data.py"
SMOOTH = 1.0  # add this many to every count
#: A meter with too few tunes of its own (12/8: four) also counts those of a meter whose
#: bars pair into its (6/8 read two bars at a time), without their count in its prior share.
POOLED = {"12/8": "6/8"}
STYLE_PRIOR = 20.0  # a density style's tables count the overall ones as this many tunes


def _key(meter: Meter) -> str:
    return str(meter)


def _candidates(tunes: Sequence[Tune]) -> list[Tune]:
    from instrument.follow.bar import METERS

    return [t for t in tunes if t.meter in METERS and len(t.melody) >= 8]


def bar_stats(tunes: Sequence[Tune]) -> dict:
    """The tables of :mod:`instrument.follow.bar_data` (see the module docstring)."""
    from instrument.follow.bar import (
        DENSITY_EDGES,
        DURATION_EDGES,
        METERS,
        REPEAT_LAGS,
        STYLES,
        KeyFinder,
        bar_class,
        density_class,
        density_style,
        duration_class,
        interval_class,
        place_class,
        repeat_events,
        turn_class,
    )

    nd = len(DURATION_EDGES) + 1
    meters: dict[str, dict] = {}
    kinds: dict[str, dict] = {}
    for kind in ("simple", "compound"):
        kinds[kind] = {"bars": np.zeros(TPB), "onset": np.zeros(TPB),
                       "length": np.full((4, nd), SMOOTH), "degree": np.full((4, 12), SMOOTH),
                       "start": np.full(4, SMOOTH), "offbeat": np.full(TPB, SMOOTH),
                       "repeat": np.full((2, 4), SMOOTH),
                       "interval": np.full((4, 11), SMOOTH), "turn": np.full((4, 9), SMOOTH),
                       "styles": [{"bars": 0, "onset": np.zeros(TPB), "length": np.zeros((4, nd)),
                                   "degree": np.zeros((4, 12))} for _ in range(STYLES)]}
    for m in METERS:
        n = m.beats_per_bar * 4
        meters[_key(m)] = {"bars": 0, "onset": np.zeros(m.ticks_per_bar),
                           "length": np.full((n, nd), SMOOTH), "degree": np.full((n, 12), SMOOTH),
                           "start": np.full(n, SMOOTH), "repeat": np.full((2, n), SMOOTH),
                           "interval": np.full((n, 11), SMOOTH),
                           "turn": np.full((n, 9), SMOOTH), "tunes": 0,
                           "density": np.full(len(DENSITY_EDGES) + 1, SMOOTH),
                           "styles": [{"bars": 0, "onset": np.zeros(m.ticks_per_bar),
                                       "length": np.zeros((n, nd)), "degree": np.zeros((n, 12))}
                                      for _ in range(STYLES)]}
    def empty_kind() -> dict:
        return {"bars": np.zeros(TPB), "onset": np.zeros(TPB), "length": np.zeros((4, nd)),
                "degree": np.zeros((4, 12)), "start": np.zeros(4), "offbeat": np.zeros(TPB),
                "repeat": np.zeros((2, 4)), "interval": np.zeros((4, 11)),
                "turn": np.zeros((4, 9)),
                "styles": [{"bars": 0, "onset": np.zeros(TPB), "length": np.zeros((4, nd)),
                            "degree": np.zeros((4, 12))} for _ in range(STYLES)]}

    counted = [(t, t.meter, True) for t in _candidates(tunes)]
    counted += [(t, Meter.parse(big), False) for t in _candidates(tunes)
                for big, small in POOLED.items() if str(t.meter) == small]
    for t, m, own in counted:
        L = m.ticks_per_bar
        kind = kinds["compound" if m.compound else "simple"] if own else empty_kind()
        row = meters[_key(m)]
        row["tunes"] += own
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
        style = density_style(len(onsets), (onsets[-1] - onsets[0]) / TPB + 1.0, m.compound)
        srow, skind = row["styles"][style], kind["styles"][style]
        srow["bars"] += bars
        skind["bars"] += bars * m.beats_per_bar
        np.add.at(srow["onset"], onsets % L, 1.0)
        np.add.at(skind["onset"], onsets % TPB, 1.0)
        np.add.at(srow["length"], (cls[:-1], d), 1.0)
        np.add.at(skind["length"], (place[:-1], d), 1.0)
        np.add.at(srow["degree"], (cls, degree), 1.0)
        np.add.at(skind["degree"], (place, degree), 1.0)
        pitches = np.array([by_onset[o] for o in onsets])
        step = interval_class(np.diff(pitches))
        np.add.at(row["interval"], (cls[1:], step), 1.0)
        np.add.at(kind["interval"], (place[1:], step), 1.0)
        turn = turn_class(np.diff(pitches))
        np.add.at(row["turn"], (cls[1:-1], turn), 1.0)
        np.add.at(kind["turn"], (place[1:-1], turn), 1.0)
        for lag in REPEAT_LAGS:
            idx, event = repeat_events(onsets, pitches, lag * L)
            np.add.at(row["repeat"], (event, cls[idx]), 1.0)
            np.add.at(kind["repeat"], (event, place[idx]), 1.0)
        row["start"][cls[0]] += 1.0
        row["density"][density_class(len(onsets), (onsets[-1] - onsets[0]) / TPB + 1.0)] += 1.0
        kind["start"][place[0]] += 1.0
        off = onsets % TPB
        np.add.at(kind["offbeat"], off[off != 0], 1.0)

    def norm(a: np.ndarray) -> list:
        return np.round(a / a.sum(axis=-1, keepdims=True), 5).tolist()

    def by_style(row: dict) -> list:
        """Per density style: the tables, drawn towards the meter's (or kind's) overall
        ones by STYLE_PRIOR tunes' worth of counts (the sparse styles of rare meters)."""
        overall_on = (row["onset"] + 0.5) / (row["bars"] + 1.0)
        out = []
        for st in row["styles"]:
            w = STYLE_PRIOR * 25.0  # bars (or beats) of a tune, about
            out.append({
                "onset": np.round((st["onset"] + w * overall_on + 0.5)
                                  / (st["bars"] + w + 1.0), 5).tolist(),
                "length": norm(st["length"] + STYLE_PRIOR * row["length"]
                               / row["length"].sum(axis=-1, keepdims=True)),
                "degree": norm(st["degree"] + STYLE_PRIOR * row["degree"]
                               / row["degree"].sum(axis=-1, keepdims=True)),
            })
        return out

    out_m = {}
    for key, row in meters.items():
        out_m[key] = {
            "onset": np.round((row["onset"] + 0.5) / (row["bars"] + 1.0), 5).tolist(),
            "length": norm(row["length"]), "degree": norm(row["degree"]),
            "start": norm(row["start"]), "repeat": norm(row["repeat"]),
            "interval": norm(row["interval"]),
            "turn": norm(row["turn"]),
            "tunes": row["tunes"] + 1, "styles": by_style(row), "density": norm(row["density"]),
        }
    out_k, offbeat = {}, {}
    for key, kind in kinds.items():
        out_k[key] = {
            "onset": np.round((kind["onset"] + 0.5) / (kind["bars"] + 1.0), 5).tolist(),
            "length": norm(kind["length"]), "degree": norm(kind["degree"]),
            "start": norm(kind["start"]), "repeat": norm(kind["repeat"]),
            "interval": norm(kind["interval"]),
            "turn": norm(kind["turn"]),
            "styles": by_style(kind),
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
        "begin (``start``); ``tunes``: how many tunes (plus one); ``density``: the share of",
        "its tunes in each density class (onsets a beat, ``bar.DENSITY_EDGES``).",
        "``KINDS[kind]``: the same for an average beat of simple or compound meters;",
        "``OFFBEAT[kind]``: where in the beat off-beat onsets fall; ``TUNES``: all tunes",
        "counted.",
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


FITTED = ("start", "harmony", "phrase", "length_style", "degree_style", "interval", "turn")


def fit_weights(tunes: Sequence[Tune], bars: int, seed: int = 1,
                steps: int = 1500, whole: bool = False) -> dict[str, float]:
    """Weights of the cues in FITTED (see the module docstring), non-negative, by Adam on
    the mean log-likelihood of the right reading among the meter's readings. ``whole``:
    read at each tune's end by a reader that forgets nothing (the recording's reader in
    hindsight, :data:`instrument.midifile.hindsight.READER_HISTORY` onsets, no decay)."""
    from instrument.follow.bar import BarReader

    rng = np.random.default_rng(seed)
    feats, right = [], []
    for t in _candidates(tunes):
        shift = int(rng.integers(0, 12))
        if whole:
            from instrument.midifile.hindsight import READER_HISTORY

            reader = BarReader(t.meter, READER_HISTORY, 1.0)
        else:
            reader = BarReader(t.meter)
        onsets: dict[int, int] = {}
        for note in t.melody:
            onsets.setdefault(note.onset, note.pitch)
        ticks = sorted(onsets)
        stop = math.inf if whole else ticks[0] + bars * t.meter.ticks_per_bar
        for x in ticks:
            if x >= stop:
                break
            reader.hear(x + shift * TPB, x / TPB, onsets[x], 0.0, score=False)
        terms = reader.terms(set(FITTED))
        feats.append(np.stack([terms[name] for name in FITTED], axis=1))
        right.append(int(np.flatnonzero((reader.tables.phase - shift)
                                        % t.meter.beats_per_bar == 0)[0]))
    n, width = len(feats), max(len(f) for f in feats)
    A = np.zeros((n, width, len(FITTED)))
    valid = np.zeros((n, width), dtype=bool)
    for i, f in enumerate(feats):
        A[i, :len(f)], valid[i, :len(f)] = f, True
    y = np.array(right)
    w = _adam(A, valid, y, np.full(len(FITTED), 0.3), np.arange(len(FITTED)), True, steps)
    right_share = float(np.mean(np.where(valid, A @ w, -np.inf).argmax(axis=1) == y))
    print(f"{n} tunes, right reading {right_share:.3f} (in sample)")
    return {name: round(float(v), 2) for name, v in zip(FITTED, w, strict=True)}


def _adam(A: np.ndarray, valid: np.ndarray, y: np.ndarray, w: np.ndarray, free: np.ndarray,
          nonneg: bool, steps: int) -> np.ndarray:
    """Maximize the mean log-likelihood of reading ``y`` (softmax of ``A @ w`` over the
    valid readings) over the weights ``free``, by Adam."""
    n = len(y)
    m1, m2 = np.zeros(len(free)), np.zeros(len(free))
    w = w.copy()
    for k in range(1, steps + 1):
        s = np.where(valid, A @ w, -np.inf)
        p = np.exp(s - s.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        grad = -(A[np.arange(n), y][:, free]
                 - np.einsum("nr,nrf->nf", p, A[:, :, free])).mean(axis=0)
        m1 = 0.9 * m1 + 0.1 * grad
        m2 = 0.999 * m2 + 0.001 * grad * grad
        w[free] -= 0.02 * (m1 / (1 - 0.9**k)) / (np.sqrt(m2 / (1 - 0.999**k)) + 1e-8)
        if nonneg:
            w[free] = np.maximum(0.0, w[free])
    return w


def fit_meter(tunes: Sequence[Tune], checkpoints: Sequence[int] = (2, 4, 8), seed: int = 1,
              steps: int = 1000) -> dict:
    """With the meter heard: the weights of the kind and the meter's prior share, and the
    coefficients of the repetition features (``REPETITION``), the phase cues kept at
    their weights; read ``checkpoints`` bars after the first note of each tune."""
    from instrument.follow.bar import BarReader, BarWeights

    rng = np.random.default_rng(seed)
    w0 = BarWeights()
    phase = [name for name in (*FITTED, "accent") if getattr(w0, name)]
    rows, right = [], []
    for t in _candidates(tunes):
        shift, m = int(rng.integers(0, 12)), t.meter
        reader = BarReader(None)
        onsets: dict[int, int] = {}
        for note in t.melody:
            onsets.setdefault(note.onset, note.pitch)
        ticks = sorted(onsets)
        stops = [ticks[0] + b * m.ticks_per_bar for b in checkpoints]
        k = 0
        for x in [*ticks, math.inf]:
            while k < len(stops) and x >= stops[k]:
                terms = reader.terms({*phase, "kind", "meter_prior", "density"})
                order = reader._ordered()
                age = reader.decay ** np.arange(len(order) - 1, -1, -1, dtype=float)
                rep = reader.repetition_features(reader.x[order], reader.pitch[order], age)
                fixed = sum(getattr(w0, name) * terms[name] for name in phase)
                rows.append(np.column_stack([fixed, terms["kind"], terms["meter_prior"],
                                             terms["density"], rep[reader.tables.meter_of]]))
                tab = reader.tables
                right.append(int(np.flatnonzero((tab.meter_of == tab.meters.index(m))
                                                & ((tab.phase - shift) % m.beats_per_bar
                                                   == 0))[0]))
                k += 1
            if x == math.inf:
                break
            reader.hear(x + shift * TPB, x / TPB, onsets[x], 0.0)
    A = np.array(rows)
    y = np.array(right)
    w = np.array([1.0, w0.kind, w0.meter_prior, w0.density, *([0.0] * (A.shape[2] - 4))])
    w = _adam(A, np.ones(A.shape[:2], dtype=bool), y, w, np.arange(1, A.shape[2]), False, steps)
    meter_of = BarReader(None).tables.meter_of
    right_share = float(np.mean(meter_of[(A @ w).argmax(axis=1)] == meter_of[y]))
    print(f"{len(y)} readings, meter right {right_share:.3f} (in sample)")
    return {"kind": round(float(w[1]), 2), "meter_prior": round(float(w[2]), 2),
            "density": round(float(w[3]), 2), "REPETITION": [round(float(v), 3) for v in w[4:]]}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.fit_bar",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--write", action="store_true", help="write instrument/follow/bar_data.py")
    ap.add_argument("--search", action="store_true", help="try weight sets on dev tunes")
    ap.add_argument("--auto", action="store_true", help="with --search: the meter heard")
    ap.add_argument("--fit-weights", action="store_true",
                    help="fit the cues' weights on the fit part (meter configured)")
    ap.add_argument("--fit-meter", action="store_true",
                    help="fit the meter's weights on the fit part (meter heard)")
    ap.add_argument("--bars", type=int, default=4)
    ap.add_argument("--whole", action="store_true",
                    help="with --fit-weights: whole tunes, nothing forgotten (hindsight)")
    ap.add_argument("--limit", type=int, default=300,
                    help="dev tunes for --search; fit tunes for --fit-weights")
    args = ap.parse_args(argv)
    from training.data import split_dev
    from training.evaluate_follow import corpus_tunes, pick

    fit, dev, _val = split_dev([t for t in corpus_tunes() if t.melody])
    if args.search:
        search(pick(dev, args.limit, 4 * args.bars), args.auto, args.bars)
        return 0
    if args.fit_meter:
        print(fit_meter(pick(fit, args.limit, 32)))
        return 0
    if args.fit_weights:
        print(fit_weights(pick(fit, args.limit, 32), args.bars, whole=args.whole))
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
