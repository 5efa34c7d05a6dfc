"""The session recording and MIDI clock out, on played performances of held-out tunes.

    python -m training.evaluate_recording                # validation split, 40 tunes
    python -m training.evaluate_recording --live         # the file laid from live guesses
    python -m training.evaluate_recording --limit 100 --json
    python -m training.evaluate_recording --split dev --limit 200 --misses   # why off

Each tune (the validation split of ``training/data.py``, taken evenly as
``training.evaluate_follow`` does) is played in issue 17's drifting style
(:data:`~instrument.follow.performance.ISSUE_17`) into the Band following the player
(accompaniment, MIDI clock out on) on the offline clock, with the session recorder
flushed every half second as live. Per recording, read back with mido:

- ``bar_f1``: the file's bar lines (in seconds through its tempo map, placed by the
  first note) against the played downbeats, from two bars after the first note to the
  last, each matched within 70 ms (a half-bar shift counts wrong); the share of
  recordings with F1 >= 0.8 is ``bars_right_share``; ``--misses`` lists the others by
  why (:func:`miss_kind`: the file's beat at another level, between the played beats,
  or the right beats and the bar off);
- ``bars_right_on_played_beats_share``: the same share were the file's beats the
  played ones (the close's bar reading on them, :func:`bars_on_played_beats`): the part
  of the misses that is the bar reader's, the rest being the live beat's;
- the file's tempo range (quarter notes a minute) and its tempo events per beat played;
- the recorder's cost: each half-second flush (p50, p99, the largest) and the close,
  and the files whose bar moved at close (laid again: ``instrument.midifile.bar_path``).

MIDI clock out is read by a simulated receiver that counts clocks from Start (song
position 0 at the next clock), takes Song Position Pointer and Continue, and stops at
Stop: the error of each of its beats (24 clocks a quarter note: 36 a dotted-quarter beat)
to the nearest played beat (after two bars), its bar 1 on a played downbeat (within
70 ms) and how many played bars after the first note it came, and the most clocks it
got in any one clock's share of a played beat. ``--live``
records without hindsight (the tempo map the clock had live).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import mido
import numpy as np

from instrument.evaluation.progress import Progress
from instrument.follow.evaluate import DOWNBEAT_MS, IN_PHASE, downbeat_f1
from instrument.follow.performance import ISSUE_17, Performance, perform
from instrument.midi import messages as mm
from instrument.midifile.bar_path import bar_path
from instrument.midifile.hindsight import chords_heard
from instrument.midifile.recorder import SmfRecorder
from instrument.models.tune import Tune
from instrument.timing.midi_clock import clocks_per_beat
from instrument.timing.tempo_map import beat_quarters, tick_seconds


def file_bar_lines(path: Path, first_onset: float) -> tuple[np.ndarray, list[float], int]:
    """The bar lines of a recording in session seconds (its first player note placed at
    ``first_onset``), its tempi (bpm, quarter notes) and its number of tempo events."""
    lines, _beats, tempi, n_tempi = file_time_line(path, first_onset)
    return lines, tempi, n_tempi


def file_time_line(path: Path, first_onset: float
                   ) -> tuple[np.ndarray, np.ndarray, list[float], int]:
    """A recording's bar lines and beats in session seconds (its first player note
    placed at ``first_onset``, two bars past its last), its tempi (bpm, quarter notes)
    and its number of tempo events."""
    from instrument.music import Meter

    smf = mido.MidiFile(str(path))
    tpq = smf.ticks_per_beat
    tempi, meter, tick = [], (4, 4), 0
    for m in smf.tracks[0]:
        tick += m.time
        if m.type == "set_tempo":
            tempi.append((tick, m.tempo))
        elif m.type == "time_signature":
            meter = (m.numerator, m.denominator)
    seconds = tick_seconds(tempi, tpq)
    player = next(t for t in smf.tracks if t.name == "player")
    tick, first, last = 0, None, 0
    for m in player:
        tick += m.time
        if m.type == "note_on" and m.velocity > 0:
            first = tick if first is None else first
            last = tick
    file_meter = Meter(*meter)
    beat = round(beat_quarters(file_meter) * tpq)
    bar = file_meter.beats_per_bar * beat
    shift = first_onset - seconds(first)
    lines = np.array([seconds(b) + shift for b in range(0, last + 2 * bar, bar)])
    beats = np.array([seconds(b) + shift for b in range(0, last + 2 * bar, beat)])
    return lines, beats, [mido.tempo2bpm(t) for _, t in tempi], len(tempi)


def miss_kind(perf: Performance, beats: np.ndarray, lines: np.ndarray, span: tuple[float, float]
              ) -> str:
    """Why a recording's bar lines are off the played bars, from where its beats and bar
    lines fall among the played beats within ``span`` (the scored seconds): ``level
    half`` / ``level double`` (most file beats hold two played beats, or half of one),
    ``level changed`` (a tenth or more of them do: the live beat changed level part-way),
    ``between the beats`` (a quarter or more sit half a beat off the played ones), ``bar
    off N`` (the right beats, six in ten bar lines or more on beat N of the played bar)
    or ``right for part`` (the bar slipped, or moved, part-way)."""
    numbers = np.arange(len(perf.beat_times), dtype=float) + perf.first_beat
    inside = (beats >= span[0]) & (beats <= span[1])
    u = np.interp(beats[inside], perf.beat_times, numbers)
    level = np.clip(np.rint(np.log2(np.maximum(np.diff(u), 1e-3))), -1, 1)
    other = float(np.mean(level != 0)) if len(level) else 0.0
    if other >= 0.5:
        return "level half" if np.sum(level > 0) >= np.sum(level < 0) else "level double"
    if other >= 0.1:
        return "level changed"
    if len(u) and float(np.mean(np.abs(u - np.rint(u)) > 0.25)) >= 0.25:
        return "between the beats"
    bar = perf.beats_per_bar
    at = np.rint(np.interp(lines[(lines >= span[0]) & (lines <= span[1])],
                           perf.beat_times, numbers)).astype(int) % bar
    if len(at):
        beat, count = np.unique(at, return_counts=True)
        if beat[np.argmax(count)] != 0 and count.max() >= 0.6 * len(at):
            return f"bar off {int(beat[np.argmax(count)])}"
    return "right for part"


def bars_on_played_beats(perf: Performance, span: tuple[float, float]) -> float:
    """Downbeat F1 (as ``bar_f1``) of the bar the close reads over the whole performance
    (:func:`~instrument.midifile.bar_path.bar_path`, one phase throughout) when its
    beats are the played ones: what the file's bar lines would be with the live beat
    exactly right, the bar reader's own share of the misses."""
    meter = perf.tune.meter
    chords = chords_heard(perf.onsets)
    _times, down, _phases = bar_path(perf.beat_times, chords, meter,
                                     2 if meter.compound else 3, None, math.inf)
    bar = meter.beats_per_bar
    numbers = np.arange(len(perf.beat_times)) + perf.first_beat
    played = perf.beat_times[numbers % bar == 0]
    read = perf.beat_times[down::bar]
    tol = DOWNBEAT_MS / 1000.0
    return downbeat_f1(played[(played >= span[0]) & (played <= span[1])],
                       read[(read >= span[0]) & (read <= span[1])], tol)


def receiver(events: list) -> list[tuple[float, int]]:
    """(time, song position in clocks) of each clock a receiver counting from Start
    counts (see the module docstring)."""
    out, position, running = [], 0, False
    for e in sorted(events, key=lambda e: e.due):
        status = e.message[0]
        if status == mm.START:
            position, running = 0, True
        elif status == mm.CONTINUE:
            running = True
        elif status == mm.STOP:
            running = False
        elif status == 0xF2:
            position = 6 * (e.message[1] | (e.message[2] << 7))
        elif status == mm.CLOCK and running:
            out.append((e.due, position))
            position += 1
    return out


def clock_figures(clocks: list[tuple[float, int]], perf: Performance, bar: int) -> dict:
    beats = perf.beat_times
    first = perf.beat_of(perf.onsets[0][0])
    scored_from = perf.time_of(first + 2 * bar)
    last = perf.onsets[-1][0]
    tol = DOWNBEAT_MS / 1000.0
    per_beat = clocks_per_beat(perf.tune.meter)  # 24 a quarter note: 36 a dotted quarter
    beat_clocks = [(t, p) for t, p in clocks if p % per_beat == 0]
    errors = [1000.0 * float(np.min(np.abs(beats - t)))
              for t, _ in beat_clocks if scored_from <= t <= last]
    played_down = beats[(np.arange(len(beats)) + perf.first_beat) % bar == 0]
    bar1 = [t for t, p in clocks if p == 0]
    bar1_ok = bool(bar1) and bool(np.min(np.abs(played_down - bar1[0])) <= tol)
    # Bars played before the receiver's bar 1 (from the first note's beat).
    start_bars = (perf.beat_of(bar1[0]) - first) / bar if bar1 else None
    downs = np.array([t for t, p in beat_clocks if p % (per_beat * bar) == 0])
    window = (played_down >= scored_from - tol) & (played_down <= last)
    f1 = downbeat_f1(played_down[window], downs[(downs >= scored_from - tol) & (downs <= last)],
                     tol)
    times = np.array([t for t, _ in clocks])
    burst = 0
    if len(times):
        slot = np.median(np.diff(beats)) / per_beat
        burst = int(max(np.searchsorted(times, times + slot * 0.999) - np.arange(len(times))))
    return {"errors": errors, "bar1_ok": bar1_ok, "start_bars": start_bars, "bar_f1": f1,
            "burst": burst}


def record(perf: Performance, out: Path, hindsight: bool) -> tuple[Path, list, list, float,
                                                                  bool]:
    """Play ``perf`` into the Band and the recorder; the file, the clock events sent,
    each flush's cost and the close's (s), and whether the bar moved at close."""
    from tests.parts.test_follow_band import play, rig

    meter = str(perf.tune.meter)
    engine, band, transcript = rig("follow", send_clock=True, meter=meter)
    clock = engine.clock
    recorder = SmfRecorder(out, 0.0, clock.now, beat=band.clock, hindsight=hindsight,
                           progress=lambda: engine.handled_until)
    engine.outputs.append(recorder)
    end = play(engine, perf) + 1.0
    t, flushes = 0.0, []
    while t < end:
        t = min(end, t + 0.5)
        engine.advance_to(t)
        start = time.perf_counter()
        recorder.flush()
        flushes.append(time.perf_counter() - start)
    engine.stop()
    start = time.perf_counter()
    recorder.close()
    closed = time.perf_counter() - start
    return (out, [e for e in transcript.events if e.part == "clock"], flushes, closed,
            recorder.bar_moved_at_close)


def evaluate(tunes: Sequence[Tune], seed: int, hindsight: bool,
             rows: list | None = None, progress: bool = False) -> dict:
    """Summary over ``tunes`` (each played once, seed + index); ``rows`` gets the
    figures of each recording; ``progress``: count them on a terminal."""
    rows = [] if rows is None else rows
    with tempfile.TemporaryDirectory() as tmp, Progress(len(tunes), "recordings",
                                                        progress) as shown:
        for k, tune in enumerate(tunes):
            perf = perform(tune, seed + k, ISSUE_17)
            bar = tune.meter.beats_per_bar
            path, clock_events, flushes, closed, moved = record(
                perf, Path(tmp) / f"{k}.mid", hindsight)
            lines, file_beats, tempi, n_tempi = file_time_line(path, perf.onsets[0][0])
            first = perf.beat_of(perf.onsets[0][0])
            last = perf.onsets[-1][0]
            tol = DOWNBEAT_MS / 1000.0
            beats = np.arange(len(perf.beat_times)) + perf.first_beat
            played = perf.beat_times[beats % bar == 0]
            start = perf.time_of(first + 2 * bar) - tol
            f1 = downbeat_f1(played[(played >= start) & (played <= last)],
                             lines[(lines >= start) & (lines <= last)], tol)
            span = (start, last)
            rows.append({"tune": tune.name, "meter": str(tune.meter), "bar_f1": f1,
                         "miss": None if f1 >= IN_PHASE else miss_kind(perf, file_beats,
                                                                        lines, span),
                         "bar_f1_on_played_beats": bars_on_played_beats(perf, span),
                         "tempo_min": min(tempi), "tempo_max": max(tempi),
                         "tempo_events_per_beat": n_tempi / len(perf.beat_times),
                         "flush_ms": [1000 * f for f in flushes],
                         "close_ms": 1000 * closed, "bar_moved_at_close": moved,
                         "clock": clock_figures(receiver(clock_events), perf, bar)})
            shown.step()
    errors = [e for r in rows for e in r["clock"]["errors"]]
    starts = [r["clock"]["start_bars"] for r in rows if r["clock"]["start_bars"] is not None]
    n = len(rows)

    def pct(a, q):
        return round(float(np.percentile(a, q)), 1) if len(a) else None

    return {
        "recordings": n,
        "bars_right_share": round(sum(r["bar_f1"] >= IN_PHASE for r in rows) / n, 3),
        "bars_right_on_played_beats_share": round(sum(
            r["bar_f1_on_played_beats"] >= IN_PHASE for r in rows) / n, 3),
        "bar_f1_mean": round(float(np.mean([r["bar_f1"] for r in rows])), 3),
        "tempo_bpm_min": round(min(r["tempo_min"] for r in rows), 1),
        "tempo_bpm_max": round(max(r["tempo_max"] for r in rows), 1),
        "files_tempo_outside_30_300": sum(r["tempo_min"] < 30 or r["tempo_max"] > 300
                                          for r in rows),
        "tempo_events_per_beat": round(float(np.mean(
            [r["tempo_events_per_beat"] for r in rows])), 3),
        "flush_ms_p50": pct([f for r in rows for f in r["flush_ms"]], 50),
        "flush_ms_p99": pct([f for r in rows for f in r["flush_ms"]], 99),
        "flush_ms_max": round(max(max(r["flush_ms"]) for r in rows), 1),
        "close_ms_max": round(max(r["close_ms"] for r in rows), 1),
        "files_bar_moved_at_close": sum(r["bar_moved_at_close"] for r in rows),
        "clock_beat_error_ms_p50": pct(errors, 50),
        "clock_beat_error_ms_p90": pct(errors, 90),
        "clock_bar1_on_downbeat_share": round(sum(r["clock"]["bar1_ok"] for r in rows) / n, 3),
        "clock_bars_right_share": round(sum(r["clock"]["bar_f1"] >= IN_PHASE for r in rows)
                                        / n, 3),
        "clock_start_bars_p50": pct(starts, 50),
        "clock_start_bars_p90": pct(starts, 90),
        "clocks_never_started": sum(r["clock"]["start_bars"] is None for r in rows),
        "clock_most_ticks_per_24th_beat": max(r["clock"]["burst"] for r in rows),
    }


def misses(rows: list[dict]) -> dict[str, list[str]]:
    """The recordings whose bar lines are off, by :func:`miss_kind`, the commonest first;
    each as 'name (meter, bar F1; on the played beats F1)'."""
    from training.evaluate_follow import by_kind

    return by_kind(rows, lambda r: r["miss"], lambda r: (
        f"{r['tune']} ({r['meter']}, F1 {r['bar_f1']:.2f}; on the played beats "
        f"{r['bar_f1_on_played_beats']:.2f})"))


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.evaluate_recording",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--limit", type=int, default=40, help="tunes")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--min-bars", type=int, default=8)
    ap.add_argument("--live", action="store_true", help="no hindsight: the live tempo map")
    ap.add_argument("--split", choices=("validation", "dev"), default="validation",
                    help="dev: the dev part of the training split (to choose settings)")
    ap.add_argument("--misses", action="store_true",
                    help="list the recordings whose bar lines are off, by why")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    from training.data import split_dev
    from training.evaluate_follow import corpus_tunes, pick

    try:
        tunes = corpus_tunes()
    except FileNotFoundError as exc:
        print(f"evaluate_recording: {exc}", file=sys.stderr)
        return 1
    _fit, dev, val = split_dev(tunes)
    chosen = dev if args.split == "dev" else val
    picked = pick([t for t in chosen if t.melody], args.limit, args.min_bars * 4)
    started = time.perf_counter()
    rows: list = []
    result = evaluate(picked, args.seed, hindsight=not args.live, rows=rows,
                      progress=not args.json)
    if args.misses:
        result["misses"] = misses(rows)
    result["hindsight"] = not args.live
    result["split"] = args.split
    result["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result, indent=None if args.json else 1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
