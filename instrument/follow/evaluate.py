"""The follower run as the band runs it, on played performances, scored against the beats.

:func:`simulate` replays a :class:`~instrument.follow.performance.Performance` through a
follower, causally, on a :class:`~instrument.timing.beat.BeatClock` the follower drives, and
plans beats as the accompaniment does: beat ``k`` is decided at
``clock.time_at(k) - lead`` (``lead`` = the larger of ``lookahead`` and
``deadline_ticks`` grid ticks, :class:`~instrument.parts.accompaniment.Accompaniment`'s
rule), and the time the clock gives for ``k`` at that moment is the prediction scored.
When the follower renumbers its beats the next beat to plan moves on to the first one
still ahead of the lead; a beat predicted in the past sounds at once (late). The
re-timed prediction (the last one before the beat sounds) is scored too.

Per tune, after its first two bars: the error of each planned beat to the nearest
played beat; how the followed beat relates to the played one (``ratio``: followed beat
length in played beats, 2 = half time, 0.5 = double time; the phase: on the beat or
between; the bar phase: followed downbeats on played ones); the bars it took to lock
(from the first note until two bars of planned beats in a row lie within
``LOCK_MS``); of the tunes with the wrong bar phase, those half a bar off (in 4/4 the
downbeat on beat 3; in 2/4 or 6/8 any wrong phase); the share of the scored beats
planned with the follower's confidence under ``LOW_CONFIDENCE`` (where the band would
hold rather than play: on these performances, which always have a pulse, the lower the
better). :func:`summarize`
pools tunes; ``cost_us`` is the follower's time per heard onset, measured here.

The bar, per tune (:func:`downbeat_f1`): the followed downbeats (planned beats whose
number is a multiple of the follower's bar *when planned*) against the played ones,
from two and from four bars after the first note (and from two bars to six,
``downbeat_f1_early``), each matched within ``DOWNBEAT_MS``: F1, a half-bar shift
counting as wrong; a tune is *in phase* when F1 >= ``IN_PHASE``.
``bars_to_bar``: bars from the first note to the first played downbeat from which on
the downbeat F1 (to the end) is ``IN_PHASE`` or more; None when there is none.
``meter_right``: the meter the follower hears at the end has the tune's beats per bar
and kind (simple or compound); None for a follower that was told the meter, and for
tunes in none of the heard meters' (beats, kind), such as 6/4.
``wrong_level``: the share of scored beats whose step from the one before is not one
played beat (half, double, 3:2... time), ``wrong_level_bars`` the longest run of them in
bars.

:class:`FixedTempo` is the instrument without following: the configured tempo, beat 0
at the player's first note: the baseline of the same run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from instrument.follow.bar import METERS
from instrument.follow.follower import BeatFollower
from instrument.follow.performance import Performance, PerformanceStyle, perform
from instrument.follow.settings import FollowSettings
from instrument.models.tune import Tune
from instrument.music import TICKS_PER_BEAT, Meter
from instrument.timing.beat import BeatClock, clamp_bpm

LOCK_MS = 50.0
DOWNBEAT_MS = 70.0  # a followed downbeat this close to a played one is right
IN_PHASE = 0.8  # downbeat F1 from which a tune counts as in phase
LOW_CONFIDENCE = 0.5  # the band holds rather than plays below this
RATIOS = (1 / 3, 1 / 2, 2 / 3, 1.0, 3 / 2, 2.0, 3.0)
RATIO_NAMES = {1 / 3: "1/3", 1 / 2: "double", 2 / 3: "2/3", 1.0: "same", 3 / 2: "3/2",
               2.0: "half", 3.0: "3"}


@dataclass(frozen=True)
class BandTiming:
    """When the band decides a beat: ``lead`` seconds before the predicted time."""

    lookahead: float = 0.02
    deadline_ticks: int = 2

    def lead(self, clock: BeatClock) -> float:
        return max(self.lookahead, self.deadline_ticks * clock.seconds_per_tick)


class FixedTempo:
    """Today's fixed clock: the configured tempo from the player's first note (beat 0)."""

    def __init__(self, meter: Meter, bpm: float = 100.0) -> None:
        self.meter = meter
        self.bpm = clamp_bpm(bpm)
        self.start: float | None = None
        self.onsets = 0
        self._started = False
        self.chord_due: float | None = None

    def onset(self, t: float, pitch: int, velocity: int) -> None:
        if self.start is None:
            self.start = t
        self.onsets += 1

    def advance(self, now: float) -> None:
        pass

    def drive(self, clock: BeatClock) -> bool:
        if self.start is not None and not self._started:
            clock.bpm = self.bpm
            clock.start(self.start, 0.0)
            self._started = True
        return False


@dataclass
class TuneResult:
    name: str
    meter: str
    start_bpm: float
    errors_ms: list[float]  # signed, planned beats after the first two bars
    retimed_ms: list[float]
    ratio: float | None  # followed beat length in played beats
    on_beat: bool | None  # followed beats on played beats (not between)
    bar_phase: bool | None  # followed downbeats on played downbeats
    bar_offset: int | None  # where in the played bar the followed downbeats mostly fall
    bars_to_lock: float | None
    cost_us: list[float] = field(default_factory=list)
    confidence: list[float] = field(default_factory=list)  # at each scored beat's plan
    bar_beats: int = 4
    downbeat_f1_2: float | None = None  # from two bars after the first note
    downbeat_f1_4: float | None = None  # from four bars
    downbeat_f1_early: float | None = None  # from two bars to six
    bars_to_bar: float | None = None
    meter_right: bool | None = None
    wrong_level: float = 0.0
    wrong_level_bars: float = 0.0
    bar_moves: int = 0

    @property
    def kind(self) -> str:
        """``same``, ``half``, ``double``, ``2/3``... or ``other``, from ``ratio``."""
        if self.ratio is None:
            return "none"
        best = min(RATIOS, key=lambda r: abs(np.log(self.ratio / r)))
        return RATIO_NAMES[best] if abs(np.log(self.ratio / best)) < 0.08 else "other"


def miss_kind(result: TuneResult) -> str | None:
    """Why a tune is not in phase after four bars, or None when it is: the beat
    (``level half`` and the like: the followed beat is not the played one; ``off-beat``:
    it sits between the played ones), ``phase 3/4 off 1`` (the right beat, the followed
    downbeats mostly on that beat of the played bar), ``lost mid-tune`` (mostly on the
    played downbeats, and in phase from the second bar to the sixth, but not after: the
    bar moved off later, the beat slipped, or the last downbeats fell off in a
    ritardando) or ``found late`` (the same, out of phase in those first bars)."""
    if result.downbeat_f1_4 is None or result.downbeat_f1_4 >= IN_PHASE:
        return None
    if result.kind != "same":
        return f"level {result.kind}"
    if result.on_beat is False:
        return "off-beat"
    if result.bar_phase is False:
        return f"phase {result.meter} off {result.bar_offset}"
    if result.downbeat_f1_early is not None and result.downbeat_f1_early >= IN_PHASE:
        return "lost mid-tune"
    return "found late"


def simulate(perf: Performance, follower, timing: BandTiming | None = None,
             measure_cost: bool = True) -> TuneResult:
    """Run ``follower`` over ``perf`` as the band would (see the module docstring)."""
    timing = timing or BandTiming()
    clock = BeatClock(bpm=100.0, meter=perf.tune.meter)
    onsets = perf.onsets
    end = perf.beat_times[-1]
    planned: list[tuple[int, float, float]] = []  # beat, decided at, predicted time
    downs: list[bool] = []  # whether each planned beat was a downbeat when planned
    confidence: list[float] = []  # the follower's confidence when each was planned
    retimed: dict[int, float] = {}
    sounding: list[int] = []  # planned beats not yet sounded
    costs: list[float] = []
    next_beat: int | None = None
    i = 0
    now = onsets[0][0]
    while True:
        t_on = onsets[i][0] if i < len(onsets) else np.inf
        due = follower.chord_due
        t_chord = due if due is not None else np.inf
        t_plan = np.inf
        if next_beat is not None and clock.running:
            t_plan = clock.time_at(next_beat) - timing.lead(clock)
        t = min(t_on, t_chord, max(t_plan, now))
        if t > end:
            break
        now = max(now, t)
        sounding = [b for b in sounding if retimed[b] > now]
        heard = follower.onsets
        start = time.perf_counter_ns() if measure_cost else 0
        if t == t_on:
            follower.onset(t, onsets[i][1], onsets[i][2])
            i += 1
        else:
            follower.advance(now)
        if measure_cost and follower.onsets != heard:
            costs.append((time.perf_counter_ns() - start) / 1000.0)
        renumbered = follower.drive(clock)
        if not clock.running:
            continue
        lead = timing.lead(clock)
        if next_beat is None:
            next_beat = clock.next_beat(now + 0.05)
        if renumbered:
            next_beat = max(next_beat, clock.next_beat(now + lead))
        for b in sounding:
            retimed[b] = max(now, clock.time_at(b))
        while clock.time_at(next_beat) - lead <= now:
            predicted = max(now, clock.time_at(next_beat))
            planned.append((next_beat, now, predicted))
            downs.append(next_beat % follower.meter.beats_per_bar == 0)
            confidence.append(getattr(follower, "confidence", 1.0))
            retimed[next_beat] = predicted
            sounding.append(next_beat)
            next_beat += 1
    result = _score(perf, planned, confidence, retimed, costs)
    _score_bar(result, perf, planned, downs, follower)
    return result


def _score(perf: Performance, planned: list[tuple[int, float, float]], confidence: list[float],
           retimed: dict[int, float], costs: list[float]) -> TuneResult:
    bar = perf.beats_per_bar
    first_note = perf.beat_of(perf.onsets[0][0])
    scored_from = perf.time_of(first_note + 2 * bar)
    last = perf.onsets[-1][0]
    lo, hi = perf.first_beat, perf.first_beat + len(perf.beat_times) - 1
    errors, again, positions, numbers, sure = [], [], [], [], []
    lock_run: list[tuple[float, bool]] = []
    for (beat, _decided, predicted), conf in zip(planned, confidence, strict=True):
        pos = perf.beat_of(predicted)
        nearest = int(np.clip(round(pos), lo, hi))
        err = (predicted - perf.time_of(nearest)) * 1000.0
        lock_run.append((pos, abs(err) <= LOCK_MS))
        if predicted < scored_from or predicted > last:
            continue
        errors.append(err)
        sure.append(conf)
        again.append((retimed[beat] - perf.time_of(
            int(np.clip(round(perf.beat_of(retimed[beat])), lo, hi)))) * 1000.0)
        positions.append(pos)
        numbers.append(beat)
    ratio = on_beat = bar_phase = bar_offset = None
    if len(positions) >= 4:
        pos = np.asarray(positions)
        num = np.asarray(numbers)
        steps = np.diff(pos) / np.maximum(np.diff(num), 1)
        ratio = float(np.median(steps))
        frac = pos - np.rint(pos)
        on_beat = bool(np.median(np.abs(frac)) < 0.2)
        down = num % bar == 0
        if down.any():
            where = np.rint(pos[down]).astype(int) % bar
            bar_phase = bool(np.mean(where == 0) > 0.5)
            bar_offset = int(np.bincount(where, minlength=bar).argmax())
    return TuneResult(
        perf.tune.name, str(perf.tune.meter), perf.start_bpm, errors, again, ratio,
        on_beat, bar_phase, bar_offset, _bars_to_lock(lock_run, first_note, bar), costs, sure,
        bar,
    )


def downbeat_f1(played: np.ndarray, followed: np.ndarray, tol: float) -> float:
    """F1 of ``followed`` downbeat times against ``played`` ones (sorted, seconds),
    each played downbeat matched at most once within ``tol``."""
    if not len(played) and not len(followed):
        return 1.0
    hits, j = 0, 0
    for t in followed:
        while j < len(played) and played[j] < t - tol:
            j += 1
        if j < len(played) and abs(played[j] - t) <= tol:
            hits += 1
            j += 1
    return 2.0 * hits / (len(played) + len(followed))


def _score_bar(result: TuneResult, perf: Performance, planned: list[tuple[int, float, float]],
               downs: list[bool], follower) -> None:
    """The bar figures of ``result`` (see the module docstring)."""
    bar = perf.beats_per_bar
    tol = DOWNBEAT_MS / 1000.0
    first_note = perf.beat_of(perf.onsets[0][0])
    last = perf.onsets[-1][0]
    beats = np.arange(len(perf.beat_times)) + perf.first_beat
    played = perf.beat_times[beats % bar == 0]
    followed = np.array(sorted(p for (_b, _d, p), down in zip(planned, downs, strict=True)
                               if down))
    for bars, until, name in ((2, None, "downbeat_f1_2"), (4, None, "downbeat_f1_4"),
                              (2, 6, "downbeat_f1_early")):
        start = perf.time_of(first_note + bars * bar) - tol
        end = last if until is None else min(last, perf.time_of(first_note + until * bar) - tol)
        setattr(result, name, downbeat_f1(
            played[(played >= start) & (played <= end)],
            followed[(followed >= start) & (followed <= end)], tol))
    ref = played[played <= last]
    for t in ref[ref >= perf.onsets[0][0] - tol]:
        rest = followed[(followed >= t - tol) & (followed <= last)]
        if downbeat_f1(ref[ref >= t], rest, tol) >= IN_PHASE:
            result.bars_to_bar = max(0.0, round((perf.beat_of(t) - first_note) / bar, 2))
            break
    heard = getattr(follower, "meter", None)
    tune = perf.tune.meter
    judged = any(m.beats_per_bar == tune.beats_per_bar and m.compound == tune.compound
                 for m in METERS)
    if getattr(follower, "meter_auto", False) and heard is not None and judged:
        result.meter_right = (heard.beats_per_bar == tune.beats_per_bar
                              and heard.compound == tune.compound)
    result.bar_moves = int(getattr(follower, "bar_moves", 0))
    scored_from = perf.time_of(first_note + 2 * bar)
    pos = np.array([perf.beat_of(p) for (_b, _d, p) in planned if scored_from <= p <= last])
    num = np.array([b for (b, _d, p) in planned if scored_from <= p <= last])
    if len(pos) >= 2:
        steps = np.diff(pos) / np.maximum(np.diff(num), 1)
        wrong = np.abs(np.log(np.maximum(steps, 1e-3))) > np.log(1.25)
        result.wrong_level = float(np.mean(wrong))
        run = longest = 0
        for w in wrong:
            run = run + 1 if w else 0
            longest = max(longest, run)
        result.wrong_level_bars = longest / bar


def _bars_to_lock(run: list[tuple[float, bool]], first: float, bar: int) -> float | None:
    """Bars from the first note to the first of ``2 * bar`` planned beats in a row that
    are each within LOCK_MS of a played beat, one played beat apart."""
    need = 2 * bar
    count = 0
    for j, (pos, ok) in enumerate(run):
        step_ok = j == 0 or abs(pos - run[j - 1][0] - 1.0) < 0.2
        count = count + 1 if ok and (count == 0 or step_ok) else (1 if ok else 0)
        if count >= need:
            return max(0.0, (run[j - need + 1][0] - first) / bar)
    return None


def _percentiles(values: Sequence[float], qs: Iterable[float]) -> list[float | None]:
    if not len(values):
        return [None for _ in qs]
    a = np.abs(np.asarray(values, dtype=float))
    return [round(float(np.percentile(a, q)), 2) for q in qs]


def summarize(results: Sequence[TuneResult]) -> dict:
    """Pooled figures over tunes (see the module docstring)."""
    errors = [e for r in results for e in r.errors_ms]
    again = [e for r in results for e in r.retimed_ms]
    costs = [c for r in results for c in r.cost_us]
    sure = [c for r in results for c in r.confidence]
    kinds: dict[str, int] = {}
    for r in results:
        kinds[r.kind] = kinds.get(r.kind, 0) + 1
    same = [r for r in results if r.kind == "same"]
    n = max(1, len(results))
    locks = [r.bars_to_lock for r in results if r.bars_to_lock is not None]
    p50, p90 = _percentiles(errors, (50, 90))
    r50, r90 = _percentiles(again, (50, 90))
    c50, c99 = _percentiles(costs, (50, 99))
    meters: dict[str, int] = {}
    for r in results:
        meters[r.meter] = meters.get(r.meter, 0) + 1
    f1_2 = [r.downbeat_f1_2 for r in results if r.downbeat_f1_2 is not None]
    f1_4 = [r.downbeat_f1_4 for r in results if r.downbeat_f1_4 is not None]
    found = [r.bars_to_bar for r in results if r.bars_to_bar is not None]
    judged = [r.meter_right for r in results if r.meter_right is not None]
    return {
        "tunes": len(results),
        "meters": dict(sorted(meters.items(), key=lambda kv: -kv[1])),
        "beats_scored": len(errors),
        "error_ms_p50": p50,
        "error_ms_p90": p90,
        "retimed_error_ms_p50": r50,
        "retimed_error_ms_p90": r90,
        "half_time_share": round(kinds.get("half", 0) / n, 4),
        "double_time_share": round(kinds.get("double", 0) / n, 4),
        "other_ratio_share": round(sum(v for k, v in kinds.items()
                                       if k not in ("same", "half", "double")) / n, 4),
        "off_beat_share": round(sum(1 for r in same if r.on_beat is False) / n, 4),
        "wrong_bar_phase_share": round(
            sum(1 for r in same if r.on_beat and r.bar_phase is False) / n, 4),
        "half_bar_off_share": round(sum(
            1 for r in same if r.on_beat and r.bar_phase is False and r.bar_offset is not None
            and 2 * r.bar_offset == r.bar_beats) / n, 4),
        "bars_to_lock_p50": _percentiles(locks, (50,))[0],
        "bars_to_lock_p90": _percentiles(locks, (90,))[0],
        "never_locked_share": round(1.0 - len(locks) / n, 4),
        "low_confidence_share": round(float(np.mean(np.asarray(sure) < LOW_CONFIDENCE)), 4)
        if sure else None,
        "in_phase_after_2_bars": round(sum(f >= IN_PHASE for f in f1_2) / n, 4),
        "in_phase_after_4_bars": round(sum(f >= IN_PHASE for f in f1_4) / n, 4),
        "downbeat_f1_4_mean": round(float(np.mean(f1_4)), 4) if f1_4 else None,
        "bars_to_bar_p50": _percentiles(found, (50,))[0],
        "bars_to_bar_p90": _percentiles(found, (90,))[0],
        "bar_never_found_share": round(1.0 - len(found) / n, 4),
        "meter_accuracy": round(float(np.mean(judged)), 4) if judged else None,
        "wrong_level_tunes": round(sum(r.wrong_level_bars >= 1 for r in results) / n, 4),
        "wrong_level_beats": round(float(np.mean([r.wrong_level for r in results])), 4)
        if results else None,
        "wrong_level_bars_p90": _percentiles([r.wrong_level_bars for r in results], (90,))[0],
        "bar_moves_mean": round(float(np.mean([r.bar_moves for r in results])), 2)
        if results else None,
        "cost_us_p50": c50,
        "cost_us_p99": c99,
        "ratios": dict(sorted(kinds.items())),
    }


Factory = Callable[[Performance], object]  # the clock that follows one performance
TOLD_OFF = 0.1  # a player who set the box's tempo roughly: this share too fast


def follower_factory(bpm: float | None = 100.0, settings: FollowSettings | None = None,
                     auto: bool = False, told_off: float = TOLD_OFF) -> Factory:
    """Followers told ``bpm`` and the tune's meter (``auto``: no meter, it is heard);
    ``bpm`` None: told the performance's starting tempo ``told_off`` too fast (a player
    who set the box's tempo roughly)."""
    def make(perf: Performance) -> BeatFollower:
        told = perf.start_bpm * (1.0 + told_off) if bpm is None else bpm
        return BeatFollower(None if auto else perf.tune.meter, told, settings)

    return make


def count_in(perf: Performance) -> tuple[float, float]:
    """A player's tap counting the tune in: the played tempo of its first beat, on the
    downbeat a bar before the bar of its first note (bpm, time)."""
    bar = perf.beats_per_bar
    period = float(perf.beat_times[1] - perf.beat_times[0])
    down = (perf.first_beat // bar - 1) * bar
    return 60.0 / period, float(perf.beat_times[0]) - (perf.first_beat - down) * period


def tapped_factory(settings: FollowSettings | None = None) -> Factory:
    """Followers told the tune's meter and tapped in (:func:`count_in`): the tap sets
    the tempo, the beat and the bar, as a player's tap does live."""
    def make(perf: Performance) -> BeatFollower:
        follower = BeatFollower(perf.tune.meter, 100.0, settings)
        bpm, t = count_in(perf)
        follower.seed(bpm, t, on_beat=True)
        return follower

    return make


def fixed_factory(bpm: float = 100.0) -> Factory:
    return lambda perf: FixedTempo(perf.tune.meter, bpm)


def usable(tune: Tune, min_beats: int = 0) -> bool:
    """Tunes worth playing: enough notes, and (optionally) long enough to score."""
    if len(tune.melody) < 8:
        return False
    span = (tune.melody[-1].onset - tune.melody[0].onset) // TICKS_PER_BEAT
    return span >= min_beats


def evaluate_tunes(
    tunes: Sequence[Tune], seed: int = 0, style: PerformanceStyle | None = None,
    timing: BandTiming | None = None, factories: dict[str, Factory] | None = None,
    progress: bool = False,
) -> dict:
    """Perform each tune once (seed + index) and run every follower on it.

    Returns ``{name: summary}`` for ``factories`` (default: the follower with default
    settings and the fixed clock, both told 100 bpm) and the performance settings.
    ``progress``: count the tunes on a terminal's stderr
    (:class:`~instrument.evaluation.progress.Progress`).
    """
    from instrument.evaluation.progress import Progress

    style = style or PerformanceStyle()
    factories = factories or {"follow": follower_factory(), "fixed": fixed_factory()}
    results: dict[str, list[TuneResult]] = {name: [] for name in factories}
    with Progress(len(tunes), "performances", progress) as shown:
        for k, tune in enumerate(tunes):
            perf = perform(tune, seed + k, style)
            for name, make in factories.items():
                results[name].append(simulate(perf, make(perf), timing))
            shown.step()
    return {name: summarize(rs) for name, rs in results.items()}, results
