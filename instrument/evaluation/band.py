"""The band measured like a musician would: a played performance of a tune into the whole
Band (following the player, on the offline clock), and what its parts did.

- **onsets**: each bass and drum onset against the played eighths grid (the performance's
  own times of its eighths), after the first ``SETTLE_BARS`` bars (the beat and the bar
  found), in ms;
- **notes per bar**: the band's onsets per played bar (a chord struck counts once per
  part) against the player's, as a
  Spearman rank correlation over bars (per tune, and pooled over every tune's bars);
- **harmony**: the share of melody notes whose pitch class is in the chord the comping
  last struck (the chord heard under the note), to compare a style with the pad on the
  same chords;
- **where the harmony moves**: each change of the comping's chord (its pitch classes)
  after the first ``SETTLE_BARS`` bars, by its place in the played bar: on the bar line,
  on the half bar (duple meters), elsewhere; and the same for the tune's own second
  track when it has one (the chorales' lower voices: the human harmony);
- **cost**: the engine-thread time of rendering one beat through the style
  (:meth:`~instrument.parts.style_player.StylePlayer.play_beat`), in microseconds.

Single-threaded. The chords come from the rule arranger unless :func:`play_band` is
handed the accompaniment model (then the model with its harmony policy and the tune
memory, as live, each step taken at once): the harmony models themselves are measured by
``instrument evaluate``; here the figures are the band's rhythm and where its harmony
moves in the played bar.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field

import numpy as np

from instrument.baselines.markov import MarkovContinuator
from instrument.config import Config
from instrument.engine.engine import Engine, TimedEvent
from instrument.evaluation.progress import Progress
from instrument.follow.performance import Performance, perform
from instrument.music import TICKS_PER_BEAT
from instrument.names import BAND_PARTS, Part
from instrument.parts.factory import LoadedModels, build_band
from instrument.realtime.router import InputEvent
from instrument.timing.clock import OfflineClock

SETTLE_BARS = 4


class _Collect:
    """An engine output that keeps what it is handed."""

    def __init__(self) -> None:
        self.events: list[TimedEvent] = []

    def play(self, event: TimedEvent) -> None:
        self.events.append(event)

    def panic(self, now: float) -> None:
        pass

    def cancel(self, part: str, now: float) -> None:
        self.events = [e for e in self.events if e.part != part or e.due <= now]


@dataclass
class BandResult:
    name: str
    style: str
    onset_errors_ms: dict[str, list[float]] = field(default_factory=dict)
    band_per_bar: list[int] = field(default_factory=list)
    player_per_bar: list[int] = field(default_factory=list)
    harmony: float | None = None
    beat_cost_us: list[float] = field(default_factory=list)
    changes: dict[str, int] = field(default_factory=dict)  # the band's, by place in bar
    human_changes: dict[str, int] = field(default_factory=dict)  # the tune's own


def play_band(performance: Performance, style: str, meter: str | None = None,
              markov: MarkovContinuator | None = None,
              accompaniment: object | None = None,
              continuation: object | None = None) -> BandResult:
    """The Band (accompany mode, following) playing along with ``performance``; its
    chords from ``accompaniment`` (a loaded model; with its policy's foresight, from the
    ``continuation`` model's forecast as live) or, when None, the rule arranger."""
    config = Config()
    config.mode = "accompany"
    config.tempo.source = "follow"
    config.tempo.send_clock = False
    config.tempo.meter = meter or str(performance.tune.meter)
    config.accompaniment.style = style
    config.recording.enabled = False
    clock = OfflineClock()
    out = _Collect()
    if markov is None:
        markov = MarkovContinuator.from_prior(config.models_dir() / config.models.markov_prior)
    engine: Engine | None = None
    band = build_band(config, LoadedModels(continuation, accompaniment, markov, []), clock.now,
                      cancel=lambda part: engine.cancel(part), live=False, seed=0,
                      retime=lambda part, move: engine.retime(part, move))
    engine = Engine(clock, [out], parts=[band], late_leads=band.late_leads)
    costs: list[float] = []
    player = band.accompaniment.player
    timed = player.play_beat

    def play_beat(*args, **kwargs):
        start = time.perf_counter()
        events = timed(*args, **kwargs)
        costs.append((time.perf_counter() - start) * 1e6)
        return events

    player.play_beat = play_beat  # type: ignore[method-assign]
    engine.advance_to(submit_performance(engine, performance) + 5.5)
    result = BandResult(performance.tune.name, player.style.name, beat_cost_us=costs)
    _score(result, performance, out.events)
    return result


def submit_performance(engine: Engine, performance: Performance) -> float:
    """Queue ``performance``'s notes as the player's input, each held until just before
    the next (the last for half a second); returns when the last ends."""
    onsets = performance.onsets
    for i, (t, pitch, velocity) in enumerate(onsets):
        end = onsets[i + 1][0] - 0.02 if i + 1 < len(onsets) else t + 0.5
        engine.submit(InputEvent(t, (0x90, pitch, velocity)))
        engine.submit(InputEvent(max(t + 0.02, end), (0x80, pitch, 0)))
    return onsets[-1][0] + 0.5


def _score(result: BandResult, perf: Performance, events: list[TimedEvent]) -> None:
    meter = perf.tune.meter
    bar = meter.beats_per_bar
    eighths = 3 if meter.compound else 2
    first_bar = perf.first_beat - perf.first_beat % bar + (bar if perf.first_beat % bar else 0)
    settled = perf.time_of(first_bar + SETTLE_BARS * bar)
    last = perf.onsets[-1][0]
    for part in (Part.BASS, Part.DRUMS):
        errors = []
        for t in sorted({e.due for e in events if e.part == part and e.is_note_on}):
            if not settled <= t <= last:
                continue
            position = perf.beat_of(t) * eighths
            nearest = round(position) / eighths
            errors.append(1000 * abs(t - perf.time_of(nearest)))
        result.onset_errors_ms[str(part)] = errors
    # An onset per part and time: a chord struck is one onset, as a player's chord is.
    band_times = np.array(sorted({(e.part, round(e.due, 4)) for e in events
                                  if e.part in BAND_PARTS and e.is_note_on}))
    band_times = band_times[:, 1].astype(float) if band_times.size else np.zeros(0)
    player_times = np.array([t for t, _, _ in perf.onsets])
    bars = range(first_bar, int(perf.beat_of(last)) - bar + 1, bar)
    for b in bars:
        start, end = perf.time_of(b), perf.time_of(b + bar)
        if start < settled:
            continue
        result.band_per_bar.append(int(np.sum((band_times >= start) & (band_times < end))))
        result.player_per_bar.append(int(np.sum((player_times >= start) & (player_times < end))))
    strikes = _comping_strikes(events)
    result.harmony = _harmony(perf, strikes)
    result.changes = _band_changes(perf, strikes, settled)
    result.human_changes = _human_changes(perf)


PLACES = ("bar_line", "half_bar", "elsewhere")
_ON = 0.15  # beats: a change this close to a place is on it


def place_in_bar(position: float, beats_per_bar: int) -> str:
    """Where ``position`` (beats into the bar) is: see ``PLACES``."""
    if min(position, beats_per_bar - position) <= _ON:
        return "bar_line"
    if beats_per_bar % 2 == 0 and abs(position - beats_per_bar / 2) <= _ON:
        return "half_bar"
    return "elsewhere"


def _comping_strikes(events: list[TimedEvent]) -> dict[float, set[int]]:
    """The pitch classes the comping struck, by time (to 0.1 ms)."""
    strikes: dict[float, set[int]] = {}
    for e in events:
        if e.part == Part.ACCOMPANIMENT and e.is_note_on:
            strikes.setdefault(round(e.due, 4), set()).add(e.message[1] % 12)
    return strikes


def _band_changes(perf: Performance, strikes: dict[float, set[int]], settled: float) -> dict:
    bar = perf.tune.meter.beats_per_bar
    counts = dict.fromkeys(PLACES, 0)
    previous = None
    for t in sorted(strikes):
        chord = frozenset(strikes[t])
        if previous is not None and chord != previous and settled <= t <= perf.onsets[-1][0]:
            counts[place_in_bar(perf.beat_of(t) % bar, bar)] += 1
        previous = chord
    return counts


def _human_changes(perf: Performance) -> dict:
    """Changes of the sounding pitch classes of the tune's second track, by place."""
    tune = perf.tune
    if not tune.accompaniment:
        return {}
    bar = tune.meter.beats_per_bar
    counts = dict.fromkeys(PLACES, 0)
    onsets = sorted({n.onset for n in tune.accompaniment})
    previous = None
    for tick in onsets:
        sounding = frozenset(n.pitch % 12 for n in tune.accompaniment
                             if n.onset <= tick < n.onset + n.duration)
        if previous is not None and sounding != previous:
            counts[place_in_bar((tick / TICKS_PER_BEAT) % bar, bar)] += 1
        previous = sounding
    return counts


def _harmony(perf: Performance, strikes: dict[float, set[int]]) -> float | None:
    """Melody notes in the chord the comping last struck at or before them (4 ms)."""
    if not strikes:
        return None
    times = np.array(sorted(strikes))
    hits = total = 0
    for t, pitch, _ in perf.onsets:
        i = np.searchsorted(times, t + 0.004, side="right") - 1
        if i < 0:
            continue
        total += 1
        hits += pitch % 12 in strikes[times[i]]
    return hits / total if total else None


def spearman(x: list[float], y: list[float]) -> float | None:
    """Rank correlation (ties share their mean rank); None when either is constant."""
    if len(x) < 3:
        return None
    rx, ry = _ranks(np.asarray(x, float)), _ranks(np.asarray(y, float))
    if rx.std() == 0 or ry.std() == 0:
        return None
    return float(np.corrcoef(rx, ry)[0, 1])


def _ranks(values: np.ndarray) -> np.ndarray:
    order = values.argsort(kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values), dtype=float)
    for value in np.unique(values):
        same = values == value
        ranks[same] = ranks[same].mean()
    return ranks


def summarize(results: list[BandResult]) -> dict:
    """The figures over all tunes (see the module docstring)."""
    def pct(values, qs=(50, 90)):
        return [round(float(v), 1) for v in np.percentile(values, qs)] if values else None

    onsets = {part: pct([e for r in results for e in r.onset_errors_ms.get(part, [])])
              for part in (Part.BASS, Part.DRUMS)}
    per_tune = [c for r in results
                if (c := spearman(r.player_per_bar, r.band_per_bar)) is not None]
    band = [n for r in results for n in r.band_per_bar]
    player = [n for r in results for n in r.player_per_bar]
    harmony = [r.harmony for r in results if r.harmony is not None]

    def shares(key: str, only_with_human: bool = False) -> dict | None:
        totals = dict.fromkeys(PLACES, 0)
        for r in results:
            if only_with_human and not r.human_changes:
                continue
            for place, n in getattr(r, key).items():
                totals[place] += n
        count = sum(totals.values())
        return {p: round(n / count, 3) for p, n in totals.items()} | {"changes": count} \
            if count else None

    costs = [c for r in results for c in r.beat_cost_us]
    styles: dict[str, int] = {}
    for r in results:
        styles[r.style] = styles.get(r.style, 0) + 1
    return {
        "tunes": len(results),
        "styles": styles,
        "onset_error_ms_p50_p90": {str(k): v for k, v in onsets.items()},
        "notes_per_bar_spearman_pooled": spearman(player, band),
        "notes_per_bar_spearman_per_tune_median":
            round(float(np.median(per_tune)), 3) if per_tune else None,
        "tunes_with_a_correlation": len(per_tune),
        "band_notes_per_bar_mean": round(float(np.mean(band)), 2) if band else None,
        "harmony_note_in_struck_chord": round(float(np.mean(harmony)), 4) if harmony else None,
        "chord_changes_by_place": shares("changes"),
        "chord_changes_by_place_tunes_with_human_chords": shares("changes", True),
        "human_chord_changes_by_place": shares("human_changes"),
        "beat_cost_us_p50_p99": pct(costs, (50, 99)),
    }



#: What ``instrument evaluate --band`` compares: the style chosen from the playing, and
#: the pad (the band before it had styles).
STYLE_CHOICES = ("auto", "pad")


def evaluate_files(tunes: list, performances: int, seed: int, progress: bool = False) -> dict:
    """Each tune played ``performances`` times into the band, per style choice."""
    markov = MarkovContinuator.from_prior(Config().models_dir() / Config().models.markov_prior)
    out: dict = {"files": len(tunes), "performances": performances}
    for style in STYLE_CHOICES:
        results = []
        with Progress(len(tunes), f"{style}: files", progress) as shown:
            for i, tune in enumerate(tunes):
                for k in range(performances):
                    perf = perform(tune, seed + i * performances + k)
                    results.append(play_band(perf, style, markov=markov))
                shown.step()
        out[style] = summarize(results)
    return out


def run_command(args: argparse.Namespace) -> int:
    """``instrument evaluate DIR --band [--json] [--performances N] [--seed S]``."""
    from instrument.follow.report import command_tunes

    tunes = command_tunes(args.directory)
    if tunes is None:
        return 1
    result = evaluate_files(tunes, args.performances, args.seed or 0,
                            progress=not args.json)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{result['files']} files, {args.performances} performances each")
    print("style  bass/drums onset error p50 p90 (ms)  notes/bar rho pooled (per tune)  "
          "harmony  us/beat p50 p99")
    for style in STYLE_CHOICES:
        m = result[style]
        onsets = m["onset_error_ms_p50_p90"]
        rho = m["notes_per_bar_spearman_pooled"]
        print(f"{style:<6} {onsets['bass']} / {onsets['drums']}  "
              f"{rho if rho is None else round(rho, 2)} "
              f"({m['notes_per_bar_spearman_per_tune_median']})  "
              f"{m['harmony_note_in_struck_chord']}  {m['beat_cost_us_p50_p99']}")
    for style in STYLE_CHOICES:
        print(f"{style}: chord changes by place in the played bar "
              f"{result[style]['chord_changes_by_place']}")
    human = result[STYLE_CHOICES[0]]["human_chord_changes_by_place"]
    print(f"the files' own second track: {human if human else 'none'}")
    return 0
