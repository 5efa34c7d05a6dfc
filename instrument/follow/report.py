"""The follower's evaluation on MIDI files and its figures as a table.

``instrument evaluate DIR --follow`` reads every ``*.mid``/``*.midi`` under DIR with
:func:`instrument.models.tune.read_midi` (the melody and, when the file has one, the
second track as chords, played with it half of the time), performs each file
``--performances`` times with different seeds (:mod:`instrument.follow.performance`:
a start anywhere in 70-140 bpm while the follower and the fixed clock are told 100,
drift, rubato, a ritardando, early and late notes) and runs the follower and the fixed
clock on the same performances (:func:`instrument.follow.evaluate.evaluate_tunes`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from instrument.follow.evaluate import evaluate_tunes, usable
from instrument.follow.performance import PerformanceStyle
from instrument.models.tune import Tune

ROWS = (
    ("predicted beat error p50 / p90 (ms)", "error_ms_p50", "error_ms_p90"),
    ("  re-timed until it sounds (ms)", "retimed_error_ms_p50", "retimed_error_ms_p90"),
    ("bars to lock p50 / p90", "bars_to_lock_p50", "bars_to_lock_p90"),
    ("never locked (share of tunes)", "never_locked_share", None),
    ("half time / double time", "half_time_share", "double_time_share"),
    ("other tempo ratio", "other_ratio_share", None),
    ("between the beats / wrong bar phase", "off_beat_share", "wrong_bar_phase_share"),
    ("  of which half a bar off", "half_bar_off_share", None),
    ("beats planned with confidence < 0.5", "low_confidence_share", None),
    ("in phase after 2 / 4 bars (downbeat F1)", "in_phase_after_2_bars", "in_phase_after_4_bars"),
    ("downbeat F1 after 4 bars, mean", "downbeat_f1_4_mean", None),
    ("bars to find the bar p50 / p90", "bars_to_bar_p50", "bars_to_bar_p90"),
    ("bar never found (share of tunes)", "bar_never_found_share", None),
    ("meter heard right (auto)", "meter_accuracy", None),
    ("wrong tempo level: tunes >= 1 bar / beats", "wrong_level_tunes", "wrong_level_beats"),
    ("  longest wrong-level run p90 (bars)", "wrong_level_bars_p90", None),
    ("bar moves per tune", "bar_moves_mean", None),
    ("cost per onset p50 / p99 (us)", "cost_us_p50", "cost_us_p99"),
)


def format_summary(result: dict) -> str:
    """The figures of :func:`~instrument.follow.evaluate.evaluate_tunes`, one column per
    clock (the entries of ``result`` that are summaries)."""
    names = [k for k in result if isinstance(result[k], dict) and "tunes" in result[k]]
    first = result[names[0]]
    lines = [f"{first['tunes']} performances, {first['beats_scored']} beats scored; meters "
             + ", ".join(f"{m} {n}" for m, n in first["meters"].items())]
    lines.append(f"{'':40}" + "".join(f"{n:>22}" for n in names))
    for label, a, b in ROWS:
        cells = []
        for n in names:
            r = result[n]
            cells.append(f"{r.get(a)}" if b is None else f"{r.get(a)} / {r.get(b)}")
        lines.append(f"{label:40}" + "".join(f"{c:>22}" for c in cells))
    return "\n".join(lines)


def read_tunes(directory: Path) -> list[Tune]:
    """The files under ``directory`` that are worth playing (eight notes or more)."""
    from instrument.models.tune import read_midi

    files = sorted(p for p in directory.rglob("*") if p.suffix.lower() in (".mid", ".midi"))
    if not files:
        raise FileNotFoundError(f"no .mid or .midi files under {directory}")
    return [t for t in (read_midi(p) for p in files) if usable(t)]


def evaluate_files(tunes: Sequence[Tune], performances: int = 8, seed: int = 0,
                   progress: bool = False) -> dict:
    """Each tune performed ``performances`` times (seeds ``seed``, ``seed + 1``...);
    ``progress``: count them on a terminal."""
    style = PerformanceStyle(chords=0.5)
    start = time.perf_counter()
    played = [t for t in tunes for _ in range(performances)]
    result, _ = evaluate_tunes(played, seed=seed, style=style, progress=progress)
    result["files"] = len(tunes)
    result["seconds"] = round(time.perf_counter() - start, 1)
    return result


def command_tunes(directory: Path) -> list[Tune] | None:
    """The tunes an ``instrument evaluate`` mode plays from ``directory``; None, after
    saying why on stderr, when there are none."""
    try:
        tunes = read_tunes(directory)
    except (FileNotFoundError, OSError, ValueError) as exc:
        print(f"evaluate: {exc}", file=sys.stderr)
        return None
    if not tunes:
        print(f"evaluate: no file under {directory} has enough notes", file=sys.stderr)
        return None
    return tunes


def run_command(args: argparse.Namespace) -> int:
    """``instrument evaluate DIR --follow [--json] [--performances N] [--seed S]``."""
    tunes = command_tunes(args.directory)
    if tunes is None:
        return 1
    result = evaluate_files(tunes, args.performances, args.seed or 0, progress=not args.json)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['files']} files, {args.performances} performances each")
        print(format_summary(result))
    return 0
