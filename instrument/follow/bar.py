"""Where the bar begins, and which meter it is: rival bar readings scored by the melody.

A *reading* is a meter and a phase: in the follower's beat numbering, the beats whose
number is ``phase`` modulo the meter's beats per bar are downbeats. :class:`BarReader`
keeps every reading of its candidate meters alive (one meter when the meter is
configured; 2/4, 3/4, 4/4, 6/8, 9/8 and 12/8 when it is heard) and scores each on the
last ``history`` onsets of the leader's beat grid, the older ones fading by ``decay`` an
onset. What it weighs, each as a log-likelihood ratio learned from the training split of
the corpora (:mod:`instrument.follow.bar_data`, written by ``python -m training.fit_bar``):

- the rhythm: at each position of the bar (twelve ticks a beat), an onset or none, against
  the same tick of an average beat of the meter's kind;
- long notes: the length of each note (its inter-onset interval on the grid, known when the
  next onset comes) at its place in the bar (beat of the bar and place in the beat);
- tonal stability: the note's scale degree in a key estimated causally (Krumhansl-Kessler
  profiles over a fading pitch-class histogram) at its place in the bar;
- the melody's motion: the interval into each note, and its turn (a peak, a valley, a
  step on), at its place in the bar;
- the start: where in the bar a tune's first note falls (downbeat or a pickup), kept
  after the note has left the history;
- the phrase: where the melody starts or stops repeating itself one, two, four or eight
  bars later (a phrase and its repeat begin at the same place in the bar);
- the harmony: the share of each bar's notes (by length) that the best-fitting triad holds,
  so a reading whose bars each sit in one chord wins over one that splits them (against
  the mean of the meter's readings: it chooses the phase, not the meter);
- accents: louder, lower or fuller onsets on the reading's downbeats;
- the bar network (:mod:`instrument.follow.bar_net`, a small GRU trained on the same
  split): for each onset, the log-probability of the beat of the bar the reading puts
  it on, given the melody up to it (against the mean of the meter's readings: it
  chooses the phase, not the meter), with the meter configured only;
- the meter network (the same inputs, another GRU), with the meter heard: the
  log-probability of the reading's meter given the onsets heard (the latest answer,
  not a sum over onsets: it chooses the meter, not the phase).

The networks step once per onset; when the onsets are placed on a new grid
(:meth:`BarReader.remap`) they hear the latest of them again, and where the onsets are
forgotten (:meth:`BarReader.forget`) they start afresh.

A configured meter with no tables of its own reads its bar as a whole number of bars of
the longest candidate meter of its kind that fits (8/4 as two 4/4 bars, 6/4 as two 3/4:
:func:`_part_meter`), where tunes begin put in its first beat or just before its next bar.
The rhythm, length and degree tables are kept per density style too (onsets a beat: a
reel's bar is not a chorale's), read with the style of what was heard. With the meter
heard, the meters' kinds (simple or compound) also differ by where off-beat onsets fall
in the beat, each meter has its prior share of folk tunes, and the onsets a beat heard
speak for the meters written in such notes (``density``: 2/4 tunes run in shorter notes
than 4/4 and 3/4 ones, so a busy tune is likelier 2/4). :class:`BarWeights` says
how much each cue counts; :meth:`BarReader.terms` gives each cue's part.

The cost per onset is a fixed number of array operations over ``history`` onsets and at
most 18 readings. The reader holds the onsets' grid positions in the follower's current
numbering: :meth:`shift` moves them when the follower renumbers its beats, :meth:`remap`
places them afresh on a new beat grid, :meth:`forget` drops them (where the tune began
is kept) when that grid no longer says where they fell.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from instrument.baselines.rules import MAJOR_PROFILE, MINOR_PROFILE
from instrument.follow.prior import COMPOUND_OFFSETS, SIMPLE_OFFSETS
from instrument.music import TICKS_PER_BEAT, Meter

TPB = TICKS_PER_BEAT
METERS = (Meter(2, 4), Meter(3, 4), Meter(4, 4), Meter(6, 8), Meter(9, 8), Meter(12, 8))
DURATION_EDGES = (3, 4, 6, 9, 12, 18, 24, 36)  # grid ticks: a note shorter than each edge


def duration_class(ticks: np.ndarray | int) -> np.ndarray:
    """A note's length in grid ticks as 0..len(DURATION_EDGES)."""
    return np.searchsorted(DURATION_EDGES, ticks, side="right")


def interval_class(steps: np.ndarray) -> np.ndarray:
    """Melodic intervals (semitones) as 0..10: unison, up 1..5+, down 1..5+ (as
    :func:`instrument.follow.prior.interval_code`)."""
    steps = np.asarray(steps)
    return np.where(steps == 0, 0, np.minimum(np.abs(steps), 5) + np.where(steps > 0, 0, 5))


def turn_class(steps: np.ndarray) -> np.ndarray:
    """The melody's turn at each note between two intervals (``steps``, one more than
    the notes): 3 * direction in + direction out, each 0 level, 1 up, 2 down (a peak
    is 1 * 3 + 2)."""
    sign = np.sign(np.asarray(steps))
    way = np.where(sign > 0, 1, np.where(sign < 0, 2, 0))
    return 3 * way[:-1] + way[1:]


_PLACES = np.array([[0, 3, 3, 2, 3, 3, 1, 3, 3, 2, 3, 3],  # simple: beat, half, quarters
                    [0, 3, 3, 3, 1, 3, 3, 3, 2, 3, 3, 3]])  # compound: beat, eighths


# The places in a beat where onsets are heard, and the next beat, per kind of meter.
_LATTICE = {kind: np.array([*sorted(set(offsets)), TPB]) for kind, offsets in (
    (False, SIMPLE_OFFSETS), (True, COMPOUND_OFFSETS),
    (None, SIMPLE_OFFSETS + COMPOUND_OFFSETS))}


def lattice_tick(beat: float, compound: bool | None) -> int:
    """The grid tick nearest ``beat`` (in beats) among the places in a beat where the
    follower hears onsets (:data:`~instrument.follow.prior.SIMPLE_OFFSETS`, or
    :data:`~instrument.follow.prior.COMPOUND_OFFSETS`; with ``compound`` None, the meter's
    kind not known, either)."""
    places = _LATTICE[compound]
    whole = math.floor(beat)
    return whole * TPB + int(places[np.argmin(np.abs(places - (beat - whole) * TPB))])


def place_class(ticks: np.ndarray, compound: np.ndarray | bool) -> np.ndarray:
    """Where in the beat a tick of the bar is: 0 the beat, 1 and 2 its main divisions,
    3 anything finer (as :func:`instrument.follow.prior.tick_class`); ``compound``
    broadcasts with ``ticks``."""
    return _PLACES[np.asarray(compound, dtype=np.int64), ticks % TPB]


def bar_class(ticks: np.ndarray, compound: np.ndarray | bool) -> np.ndarray:
    """Beat of the bar times four plus :func:`place_class`, for a tick of the bar."""
    return (ticks // TPB) * 4 + place_class(ticks, compound)


#: Density styles: onsets a beat (simple; compound) below each edge. A reel's bar is
#: not a chorale's: the tables are kept per style and read with the style heard.
STYLE_EDGES = {False: (1.15, 1.6), True: (2.2, 2.6)}
STYLES = 3


def density_style(onsets: int, beats: float, compound: bool) -> int:
    """The density style (0..STYLES - 1) of ``onsets`` onsets over ``beats`` beats."""
    return int(np.searchsorted(STYLE_EDGES[bool(compound)], onsets / max(beats, 1.0)))


#: Onsets the bar network hears again (the latest) when the reader's onsets are placed
#: on a new grid (:meth:`BarReader.remap`); the earlier ones then count nothing from it.
#: Hearing all 64 again took up to tens of ms on the engine thread.
NET_REHEAR = 16
#: The least log-probability an onset's network answer counts (nats): the network hears
#: no dynamics, and unbounded it outweighed a player's accented downbeats for bars.
NET_FLOOR = -1.0
#: The least log-probability of a meter the meter network's answer counts (nats).
METER_NET_FLOOR = -8.0
REPEAT_LAGS = (1, 2, 4, 8)  # bars: a phrase repeated this many bars later
#: Onsets a beat, the edges of the density classes that speak for a meter (with the meter
#: heard): 2/4 tunes are written in shorter notes than 4/4 and 3/4 ones (in the fit
#: tunes a median of 1.85 onsets a quarter, against 1.32 and 1.28).
DENSITY_EDGES = (0.8, 1.0, 1.15, 1.3, 1.6, 2.0, 2.6, 3.2)


def density_class(onsets: int, beats: float) -> int:
    """The density class (0..len(DENSITY_EDGES)) of ``onsets`` onsets over ``beats`` beats."""
    return int(np.searchsorted(DENSITY_EDGES, onsets / max(beats, 1.0), side="right"))


def repeat_events(x: np.ndarray, pitch: np.ndarray, lag: int) -> tuple[np.ndarray, np.ndarray]:
    """Where the melody starts or stops repeating itself ``lag`` grid ticks later.

    An onset *repeats* when an onset ``lag`` ticks before it (within the heard span
    ``x``, sorted) has its pitch. Returns the indices of the onsets whose repeating
    differs from the onset before (both within the span) and the event's kind: 0, a
    repeat starts there; 1, it stops there (a variation, a new phrase). A phrase and its
    repeat begin and end at the same place of the bar, so these fall on bar lines.
    """
    back = x - lag
    known = back >= x[0] if len(x) else np.zeros(0, dtype=bool)
    j = np.minimum(np.searchsorted(x, back), len(x) - 1)
    match = known & (x[j] == back) & (pitch[j] == pitch)
    change = known[1:] & known[:-1] & (match[1:] != match[:-1])
    idx = np.flatnonzero(change) + 1
    return idx, (~match[idx]).astype(np.int64)


def _triads() -> np.ndarray:
    """The 24 major and minor triads as pitch-class masks (24 x 12)."""
    out = np.zeros((24, 12))
    for root in range(12):
        for j, third in enumerate((4, 3)):
            out[2 * root + j, [root, (root + third) % 12, (root + 7) % 12]] = 1.0
    return out


TRIADS = _triads()
# The Krumhansl-Kessler profiles of every key, (major, minor) per tonic.
KEYS = np.array([np.roll(p, k) for k in range(12) for p in (MAJOR_PROFILE, MINOR_PROFILE)])
KEYS = (KEYS - KEYS.mean(axis=1, keepdims=True)) / KEYS.std(axis=1, keepdims=True)


class KeyFinder:
    """A causal key estimate: the tonic whose profile best fits the recent pitches."""

    def __init__(self, fade: float = 0.97) -> None:
        self.fade = fade
        self.reset()

    def reset(self) -> None:
        self.histogram = np.zeros(12)
        self.tonic = 0

    def hear(self, pitch: int) -> int:
        """Count ``pitch``; return the tonic (pitch class) of the best key now."""
        self.histogram *= self.fade
        self.histogram[pitch % 12] += 1.0
        self.tonic = int(np.argmax(KEYS @ self.histogram)) // 2
        return self.tonic


@dataclass(frozen=True)
class BarWeights:
    """How much each cue counts; a zero weight skips it. The phase cues (start, harmony,
    phrase, the style tables, interval, turn) are a softmax regression of the right
    reading on them two bars into tunes of the fit part of the training split (``python
    -m training.fit_bar --fit-weights --bars 2 --limit 1500``): the overall rhythm, length
    and degree tables add nothing there beside the style ones. The harmony (fitted 0.21)
    and the phrase (0.23) are off: with the other cues they move the dev tunes' phase by
    0.2 points (noise) at 180 us an onset on the engine thread. The meter's weights (kind,
    meter_prior, density, repetition: with the meter heard) come from the same regression over
    every candidate meter's readings (``python -m training.fit_bar --fit-meter --limit
    1500``; the density, added later, fitted 0.78 there with the others as they were,
    meter right in sample 85.7 -> 87.6 %); the accent (the corpora have no velocities)
    was chosen on played dev tunes and the synthetic accents of tests/follow. The bar
    network's (``net``) was chosen on 300 dev tunes played in issue 17's drifting style
    with the meter set (``python -m training.evaluate_follow --style issue17 --split dev
    --limit 300``), in phase after four bars: no network 80.3 %; 0.5 with the network
    started afresh at each new grid 69.7 % (it took each restart for a tune's first
    note), hearing all its onsets again 83.0 %; 0.2 hearing all again 83.7 %, the last
    ``NET_REHEAR`` 83.3 %, and with ``NET_FLOOR`` (shipped) 83.0 % (0.4: 83.7 %). With
    accents (``--style default``, before the floor): 83.0 -> 84.3 %. With the meter
    heard the network is not run: it skewed the choice of meter (78.1 -> 71.2 % right
    at 0.2). The meter network's (``meter_net``, with the meter heard only) was chosen on
    the same 300 dev tunes with the meter heard (``--auto``): meter right 78.1 % without
    it, 81.9 % at 1, 83.0 % at 2, 3 (shipped) and 5, 82.6 % at 10; in phase after four
    bars 68.0 -> 69.7 % at 3."""

    rhythm: float = 0.0
    length: float = 0.0
    degree: float = 0.0
    start: float = 1.08
    harmony: float = 0.0
    accent: float = 1.5
    kind: float = 3.93
    repetition: float = 1.0
    phrase: float = 0.0
    rhythm_style: float = 0.0
    length_style: float = 1.03
    degree_style: float = 0.66
    meter_prior: float = 1.42
    density: float = 0.78
    interval: float = 0.69
    turn: float = 0.43
    net: float = 0.2
    meter_net: float = 3.0


TERMS = tuple(f.name for f in fields(BarWeights))
#: How the melody's recurrence one and two bars later (any onset, the same pitch, the same
#: length: :meth:`BarReader.repetition_features`) speaks for a meter; fitted with the
#: meter's weights (``python -m training.fit_bar --fit-meter``). Onsets one bar later but
#: not two (or the other way round) tell the bar's length, as onset periodicity over
#: more than one bar does in Toiviainen & Eerola's classifier.
REPETITION = np.array([7.549, 0.983, -0.127, -8.654, 2.11, 8.982])


def _log(shares) -> np.ndarray:
    """Log of a table's shares, none below 1e-5 (the tables are rounded to 5 places)."""
    return np.log(np.maximum(np.asarray(shares, dtype=float), 1e-5))


def _floored_log_probs(logits: np.ndarray, floor: float) -> np.ndarray:
    """A network's logits as log-probabilities, none below ``floor``."""
    z = logits - logits.max()
    return np.maximum(z - math.log(float(np.exp(z).sum())), floor)


def _part_meter(meter: Meter) -> Meter | None:
    """The candidate meter whose bars ``meter``'s bar is read as: the one with its beats
    and kind (2/2 reads as 2/4), else, for a longer bar (8/4, 6/4, 12/4), the longest of
    its kind whose bars it holds a whole number of (8/4 as two 4/4 bars: its beats
    found, which of its halves is the downbeat left to the other cues); or None."""
    parts = [m for m in METERS if m.compound == meter.compound
             and meter.beats_per_bar % m.beats_per_bar == 0]
    return max(parts, key=lambda m: m.beats_per_bar) if parts else None


def _table_for(meter: Meter) -> dict | None:
    """The learned tables of ``meter``'s :func:`_part_meter`, tiled over its bar; or None."""
    from instrument.follow import bar_data  # generated by training.fit_bar, from here

    part = _part_meter(meter)
    if part is None or str(part) not in bar_data.METERS:
        return None
    table = bar_data.METERS[str(part)]
    reps = meter.beats_per_bar // part.beats_per_bar
    return table if reps == 1 else _tiled(table, reps)


def _tiled(table: dict, reps: int) -> dict:
    """A meter's tables for a bar of ``reps`` of its bars. A tune begins in its bar's
    first beat or with a pickup before the next bar: where tunes begin in the first beat
    is the first of the bars', anywhere else the last's."""
    out = {name: np.tile(np.asarray(table[name]), reps)
           for name in ("onset",) if name in table}
    for name in ("length", "degree", "interval", "turn"):
        if name in table:
            out[name] = np.tile(np.asarray(table[name]), (reps, 1))
    start = np.asarray(table["start"], dtype=float)
    out["start"] = np.zeros(len(start) * reps)
    out["start"][:4] = start[:4]  # the first beat's four places
    out["start"][-len(start) + 4:] = start[4:]
    if "repeat" in table:
        out["repeat"] = np.tile(np.asarray(table["repeat"]), (1, reps))
    out["tunes"] = table["tunes"]
    if "styles" in table:
        out["styles"] = [_tiled({**style, "start": table["start"], "tunes": 0}, reps)
                         for style in table["styles"]]
    return out


class _Tables:
    """The learned tables of the candidate meters as padded arrays, one row per reading."""

    def __init__(self, meters: tuple[Meter, ...]) -> None:
        from instrument.follow import bar_data

        rows = [(m, r) for m in meters for r in range(m.beats_per_bar)]
        self.meters = meters
        self.meter_of = np.array([meters.index(m) for m, _ in rows])
        self.phase = np.array([r for _, r in rows])
        self.bar_ticks = np.array([m.ticks_per_bar for m, _ in rows])
        self.compound = np.array([m.compound for m, _ in rows])
        width = max(m.ticks_per_bar for m in meters)
        classes = max(m.beats_per_bar for m in meters) * 4
        n = len(meters)
        S = STYLES + 1  # the density styles' tables, then the meter's overall ones
        self.cum_off = np.zeros((S, n, width + 1))
        self.on = np.zeros((S, n, width))
        self.length = np.zeros((S, n, classes, len(DURATION_EDGES) + 1))
        self.degree = np.zeros((S, n, classes, 12))
        self.start = np.zeros((n, classes))
        self.repeat = np.zeros((n, 2, classes))
        self.interval = np.zeros((n, classes, 11))
        self.turn = np.zeros((n, classes, 9))
        self.prior = np.zeros(n)
        self.density = np.zeros((n, len(DENSITY_EDGES) + 1))
        # The bar network's meter for each (its _part_meter, in METERS), or -1.
        parts = [_part_meter(m) for m in meters]
        self.net_meter = np.array([METERS.index(p) if p else -1 for p in parts])
        self.net_beats = np.array([p.beats_per_bar if p else 1 for p in parts])
        # Readings x meters: each reading's share of its meter's mean (``@`` gives it).
        self.meter_mean = ((self.meter_of[:, None] == np.arange(n)[None, :])
                           / np.bincount(self.meter_of, minlength=n).clip(1))
        for k, m in enumerate(meters):
            t = _table_for(m)
            if t is None:
                continue  # no tables: only the harmony and the accents speak
            kind = bar_data.KINDS["compound" if m.compound else "simple"]
            L = m.ticks_per_bar
            beat = np.arange(L) % TPB
            cls = np.arange(m.beats_per_bar * 4) % 4
            for st in range(S):
                ts = t["styles"][st] if st < STYLES and "styles" in t else t
                ks = kind["styles"][st] if st < STYLES and "styles" in kind else kind
                p_on = np.clip(np.asarray(ts["onset"]), 1e-3, 0.999)
                base = np.clip(np.asarray(ks["onset"])[beat], 1e-3, 0.999)
                self.on[st, k, :L] = np.log(p_on) - np.log(base)
                off = np.log1p(-p_on) - np.log1p(-base)
                self.cum_off[st, k, 1:L + 1] = np.cumsum(off)
                self.length[st, k, :len(cls)] = _log(ts["length"]) - _log(ks["length"])[cls]
                self.degree[st, k, :len(cls)] = _log(ts["degree"]) - _log(ks["degree"])[cls]
            self.start[k, :len(cls)] = _log(t["start"]) - _log(kind["start"])[cls]
            for name in ("interval", "turn"):
                if name in t:
                    getattr(self, name)[k, :len(cls)] = _log(t[name]) - _log(kind[name])[cls]
            if "repeat" in t:
                self.repeat[k, :, :len(cls)] = (_log(t["repeat"])
                                                 - _log(kind["repeat"])[:, cls])
            self.prior[k] = math.log(t["tunes"] / bar_data.TUNES)
            if "density" in t:
                self.density[k] = _log(t["density"])
        self.kind_ratio = _log(bar_data.OFFBEAT["compound"]) - _log(bar_data.OFFBEAT["simple"])
        # The repeat lags in ticks, and for each the readings whose bars it spans.
        lags = {L * k for L in self.bar_ticks for k in REPEAT_LAGS}
        self.lags = tuple(sorted(lags))
        spans = self.bar_ticks[None, :] * np.array(REPEAT_LAGS)[:, None]
        self.lag_rows = tuple((spans == lag).any(axis=0) for lag in self.lags)


class BarReader:
    """Rival bar readings on the leader's grid (see the module docstring)."""

    def __init__(self, meter: Meter | None, history: int = 64, decay: float = 0.99,
                 weights: BarWeights | None = None) -> None:
        self.configured = meter
        self.history = history
        self.decay = decay
        self.weights = weights or BarWeights()
        self.tables = _Tables((meter,) if meter is not None else METERS)
        self.keys = KeyFinder()
        from instrument.follow.bar_net import shipped

        self.net = shipped("bar") if self.weights.net and meter is not None else None
        self.meter_net = (shipped("meter") if self.weights.meter_net and meter is None
                          else None)
        self.reset()

    def reset(self) -> None:
        """Forget everything heard (a new piece)."""
        n = self.history
        self.x = np.zeros(n, dtype=np.int64)  # grid tick, follower's numbering
        self.time = np.zeros(n)
        self.pitch = np.zeros(n, dtype=np.int64)
        self.accent = np.zeros(n)
        self.count = 0  # onsets heard since the reset (the first is the tune's start)
        self.kept_from = 0  # the first of them still scored (see forget)
        self.first = np.zeros(1, dtype=np.int64)  # the first onset's grid tick
        self.first_time = 0.0
        self.keys.reset()
        self.scores = np.zeros(len(self.tables.phase))
        self._start_part: np.ndarray | float = 0.0
        self.tonic = np.zeros(n, dtype=np.int64)  # the key's tonic heard at each onset
        self._restart_net()

    def _restart_net(self) -> None:
        """The networks start afresh on the onsets heard from now on."""
        from instrument.follow.bar_net import CLASSES

        self.net_from = self.count
        meters = len(self.tables.meters)
        self.meter_lp = np.zeros(meters)  # the meter network's latest answer, floored
        if self.meter_net is not None:
            self._meter_state = self.meter_net.zero_state()
        if self.net is not None:
            self.net_lp = np.zeros((self.history, meters, CLASSES))
            self._net_state = [self.net.zero_state()] * meters

    def hear(self, tick: int, t: float, pitch: int, accent: float, score: bool = True) -> None:
        """An onset at grid tick ``tick`` of the follower's numbering, heard at ``t``
        (``score``: False leaves the scores as they were, until :meth:`rescore`)."""
        j = self.count % self.history
        self.x[j], self.time[j], self.pitch[j], self.accent[j] = tick, t, pitch, accent
        if self.count == 0:
            self.first[0], self.first_time = tick, t
        self.count += 1
        self.tonic[j] = self.keys.hear(pitch)
        if self.net is not None or self.meter_net is not None:
            self._step_net(j)
        if score:
            self.scores = self._score()

    def _step_net(self, j: int, order: np.ndarray | None = None) -> None:
        """The networks hear the onset in ring place ``j``, the last of ``order``
        (default: the newest of the onsets heard since they started): the bar network
        once per meter, the meter network once."""
        from instrument.follow.bar_net import METER_COLUMN, onset_features

        if order is None:
            order = self._ordered()[-min(self.count - self.net_from, self.history):]
        tab = self.tables
        row = onset_features(self.x[order], self.pitch[order], self.tonic[order], 0,
                             last=True)[0]
        if self.meter_net is not None:
            logits, self._meter_state = self.meter_net.step(row, self._meter_state)
            self.meter_lp = _floored_log_probs(logits, METER_NET_FLOOR)
        if self.net is None:
            return
        for k, mi in enumerate(tab.net_meter):
            if mi < 0:
                continue
            row[METER_COLUMN] = mi
            logits, self._net_state[k] = self.net.step(row, self._net_state[k])
            beats = tab.net_beats[k]
            self.net_lp[j, k, :beats] = _floored_log_probs(logits[:beats], NET_FLOOR)

    def rescore(self) -> None:
        """Score the readings on what was heard (after onsets heard without scoring)."""
        if self.count > self.kept_from:
            self.scores = self._score()

    def shift(self, beats: int) -> None:
        """The follower renumbered: the same beats now have numbers ``beats`` higher."""
        self.x += beats * TPB
        self.first += beats * TPB

    def remap(self, beat_at) -> None:
        """Place the onsets heard on a new grid: ``beat_at(t)`` is its beat at time t.
        Each goes to the nearest of the places in the beat where the follower hears
        onsets (:func:`lattice_tick`), as when it was heard: a tick between them would
        read as a note off the lattice (the tune's first onset so placed leaves no
        reading a better start than another). Onsets keep their order, a tick apart at
        least."""
        compound = self.tables.compound
        kind = bool(compound[0]) if compound.all() or not compound.any() else None
        order = self._ordered(since=0)
        last = None
        for j in order:
            tick = lattice_tick(beat_at(self.time[j]), kind)
            if last is not None and tick <= last:
                tick = last + 1
            self.x[j] = last = tick
        self.first[0] = lattice_tick(beat_at(self.first_time), kind)
        if self.net is not None or self.meter_net is not None:
            # Their answers were for the old grid: hear the latest onsets again.
            order = self._ordered()[-NET_REHEAR:]
            self._restart_net()
            self.net_from = self.count - len(order)
            for k, j in enumerate(order):
                self._step_net(j, order[:k + 1])

    def forget(self) -> None:
        """Score only the onsets heard from now on (and where the tune began): the grid
        the earlier ones were placed on is no longer known."""
        self.kept_from = self.count
        self._restart_net()

    # -- scoring --------------------------------------------------------------------

    def _ordered(self, since: int | None = None) -> np.ndarray:
        """The ring's places of the onsets scored (with ``since``, of those heard from
        that count on that it still holds), oldest first."""
        since = self.kept_from if since is None else since
        n = min(self.count - since, self.history)
        return np.arange(self.count - n, self.count) % self.history

    def _score(self) -> np.ndarray:
        w = self.weights
        used = {name for name in TERMS if getattr(w, name)}
        terms = self.terms(used)
        self._start_part = w.start * terms.get("start", 0.0)
        return sum(getattr(w, name) * term for name, term in terms.items())

    def melody_lead(self, meter: Meter, phase: int, other: Meter, other_phase: int) -> float:
        """How far reading (``meter``, ``phase``) leads (``other``, ``other_phase``) on
        the notes heard, without where the tune began."""
        tab = self.tables

        def without_start(m: Meter, p: int) -> float:
            k = np.flatnonzero((tab.meter_of == tab.meters.index(m))
                               & (tab.phase == p % m.beats_per_bar))[0]
            return float(self.scores[k] - np.broadcast_to(self._start_part, self.scores.shape)[k])

        if meter not in tab.meters or other not in tab.meters:
            return 0.0
        return without_start(meter, phase) - without_start(other, other_phase)

    def terms(self, used: set[str] | None = None,
              per_onset: bool = False) -> dict[str, np.ndarray]:
        """Each cue's log-likelihood ratio per reading, before its weight (of the cues
        in ``used``; None: all of :data:`TERMS`). ``per_onset``: each onset's part of
        the rhythm, length, degree, interval, turn and accent cues, as rows (onsets
        heard, oldest first, by readings; the others are left out), so that a listener
        with hindsight can sum them over any stretch of the tune with the whole tune's
        key and density style."""
        tab = self.tables
        need = set(TERMS) if used is None else used
        order = self._ordered()
        x, pitch, accent = self.x[order], self.pitch[order], self.accent[order]
        n = len(x)
        age = self.decay ** np.arange(n - 1, -1, -1, dtype=float)
        m, L = tab.meter_of, tab.bar_ticks
        rel = x[:, None] - TPB * tab.phase[None, :]  # [onset, reading]
        pos = rel % L
        cls = bar_class(pos, tab.compound[None, :])
        zero = np.zeros(len(L))
        out: dict[str, np.ndarray] = {name: zero for name in need}

        def total(part: np.ndarray, rows: slice = slice(None)) -> np.ndarray:
            """``part`` ([onsets in ``rows``, readings]) weighted by age: summed, or
            one row per onset heard with ``per_onset``."""
            weighted = age[rows, None] * part
            if not per_onset:
                return weighted.sum(axis=0)
            full = np.zeros((n, len(L)))
            full[rows] = weighted
            return full

        # The density style heard, per reading's kind (a reel's bar is not a chorale's).
        beats = (x[-1] - x[0]) / TPB + 1.0
        st = np.where(tab.compound, density_style(n, beats, True),
                      density_style(n, beats, False))
        degree = (pitch - self.keys.tonic) % 12
        d = duration_class(np.diff(x))
        step = np.diff(pitch)
        for suffix, style in (("", np.full_like(st, STYLES)), ("_style", st)):
            if "rhythm" + suffix in need:
                # Onsets at their places and none between them.
                on = tab.on[style, m, pos]
                if n > 1:
                    qa, ra = np.divmod(rel[:-1] + 1, L)
                    qb, rb = np.divmod(rel[1:], L)
                    cum = tab.cum_off[style, m]
                    rows = np.arange(len(L))
                    full = cum[rows, L]
                    on[1:] += (qb - qa) * full + cum[rows, rb] - cum[rows, ra]
                out["rhythm" + suffix] = total(on)
            if "length" + suffix in need and n > 1:
                length = tab.length[style, m, cls[:-1], d[:, None]]
                out["length" + suffix] = total(length, slice(0, n - 1))
            if "degree" + suffix in need:
                out["degree" + suffix] = total(tab.degree[style, m, cls, degree[:, None]])
        if "harmony" in need and n > 1 and not per_onset:
            out["harmony"] = self._harmony(rel, L, age)
        if "interval" in need and n > 1:
            out["interval"] = total(tab.interval[m, cls[1:], interval_class(step)[:, None]],
                                    slice(1, n))
        if "turn" in need and n > 2:
            out["turn"] = total(tab.turn[m, cls[1:-1], turn_class(step)[:, None]],
                                slice(1, n - 1))
        if "phrase" in need and not per_onset:
            out["phrase"] = self._phrase(x, pitch, rel, age)
        if "net" in need and self.net is not None:
            out["net"] = self._net_term(order, pos, total)
        if "accent" in need:
            out["accent"] = total(accent[:, None] * (pos == 0))
        if per_onset:
            return {name: v for name, v in out.items() if np.ndim(v) == 2}
        if "start" in need and self.count:
            start = (self.first[0] - TPB * tab.phase) % L
            out["start"] = tab.start[m, bar_class(start, tab.compound)]
        if self.configured is None:
            if "kind" in need:
                beat = x % TPB
                off_beat = beat != 0
                kind = float((age[off_beat] * tab.kind_ratio[beat[off_beat]]).sum())
                out["kind"] = kind * np.where(tab.compound, 0.5, -0.5)
            if "meter_prior" in need:
                out["meter_prior"] = tab.prior[m]
            if "density" in need:
                out["density"] = tab.density[m, density_class(n, beats)]
            if "repetition" in need:
                out["repetition"] = self._repetition(x, pitch, age)
            if "meter_net" in need:
                out["meter_net"] = self.meter_lp[m]
        else:
            for name in ("kind", "meter_prior", "density", "repetition", "meter_net"):
                out.pop(name, None)
        return out

    def repetition_features(self, x: np.ndarray, pitch: np.ndarray,
                            age: np.ndarray) -> np.ndarray:
        """Per candidate meter: how often the melody's onsets (any; with the same pitch;
        with the same length) recur one and two of its bars later, as shares of the
        heard onsets, each less its mean over the meters ([meters, 6])."""
        ticks = np.array([m.ticks_per_bar for m in self.tables.meters])
        ioi = np.append(np.diff(x), 0)
        feats = []
        for bars in (1, 2):
            back = x[None, :] - (ticks * bars)[:, None]
            j = np.minimum(np.searchsorted(x, back), len(x) - 1)
            known = back >= x[0]
            found = (x[j] == back) & known
            norm = max(1.0, float((known * age).sum(axis=1).max()))
            for f in (found, found & (pitch[j] == pitch), found & (ioi[j] == ioi)):
                v = (f * age).sum(axis=1) / norm
                feats.append(v - v.mean())
        return np.stack(feats, axis=1)

    def _repetition(self, x: np.ndarray, pitch: np.ndarray, age: np.ndarray) -> np.ndarray:
        """Per reading: the melody's periodicity over one and two bars of its meter
        (:meth:`repetition_features` weighted by REPETITION): it chooses the meter."""
        return (self.repetition_features(x, pitch, age) @ REPETITION)[self.tables.meter_of]

    def _phrase(self, x: np.ndarray, pitch: np.ndarray, rel: np.ndarray,
                age: np.ndarray) -> np.ndarray:
        """Per reading: where the melody starts and stops repeating itself one, two, four
        and eight bars of the reading's meter later (:func:`repeat_events`), at its place
        in the reading's bar, against the same at an average beat."""
        tab = self.tables
        out = np.zeros(len(tab.phase))
        for lag, rows in zip(tab.lags, tab.lag_rows, strict=True):
            idx, kind = repeat_events(x, pitch, lag)
            if not len(idx):
                continue
            r = np.flatnonzero(rows)
            pos = rel[idx][:, r] % tab.bar_ticks[r]
            cls = bar_class(pos, tab.compound[r][None, :])
            m = tab.meter_of[r]
            out[r] += (age[idx, None] * tab.repeat[m[None, :], kind[:, None], cls]).sum(axis=0)
        return out

    def _net_term(self, order: np.ndarray, pos: np.ndarray, total) -> np.ndarray:
        """Per reading (or per onset and reading, through ``total``): the bar network's
        log-probability that each onset falls on the beat the reading puts it on, less
        its mean over the meter's readings (it chooses the phase, not the meter); onsets
        heard before the network last started count nothing."""
        tab = self.tables
        m = tab.meter_of
        beat = (pos // TPB) % tab.net_beats[m][None, :]
        lp = self.net_lp[order[:, None], m[None, :], beat]
        lp[np.arange(self.count - len(order), self.count) < self.net_from] = 0.0
        return total(lp - (lp @ tab.meter_mean)[:, m])

    def _harmony(self, rel: np.ndarray, L: np.ndarray, age: np.ndarray) -> np.ndarray:
        """Per reading: the summed log share of each bar's note length held by the triad
        that fits that bar best (notes weighted by their length, up to a beat)."""
        pitch = self.pitch[self._ordered()]
        length = np.minimum(np.diff(rel[:, 0]), TPB).astype(float)
        bars = rel[:-1] // L  # [onset, reading]
        bars -= bars.min(axis=0)
        nb = int(bars.max()) + 1
        readings = rel.shape[1]
        weight = np.broadcast_to((length * age[:-1])[:, None], bars.shape)
        index = (np.arange(readings) * nb + bars) * 12 + (pitch[:-1, None] % 12)
        hist = np.bincount(index.ravel(), weight.ravel(), readings * nb * 12).reshape(
            readings, nb, 12)
        total = hist.sum(axis=2)
        fit = (hist @ TRIADS.T).max(axis=2)
        share = np.log((fit + 1.0) / (total + 1.0)).sum(axis=1)
        # Shorter bars fit one triad more easily: the harmony chooses the phase only.
        return share - (share @ self.tables.meter_mean)[self.tables.meter_of]

    # -- the verdict ----------------------------------------------------------------

    def best(self) -> tuple[Meter, int]:
        """The best reading: its meter and phase."""
        k = int(np.argmax(self.scores))
        return self.tables.meters[self.tables.meter_of[k]], int(self.tables.phase[k])

    def score_of(self, meter: Meter, phase: int) -> float:
        """The score of one reading (-inf for a meter that is not a candidate)."""
        tab = self.tables
        if meter not in tab.meters:
            return -math.inf
        k = np.flatnonzero((tab.meter_of == tab.meters.index(meter))
                           & (tab.phase == phase % meter.beats_per_bar))
        return float(self.scores[k[0]])

    def confidence(self, meter: Meter, phase: int) -> tuple[float, float]:
        """(bar phase, meter) confidence, 0..1: the posterior share of this reading among
        its meter's readings, and of its meter among the meters."""
        tab = self.tables
        if meter not in tab.meters or self.count == 0:
            return 0.0, 0.0
        s = self.scores - self.scores.max()
        p = np.exp(s)
        mine = tab.meter_of == tab.meters.index(meter)
        reading = self.score_of(meter, phase) - float(self.scores.max())
        return float(math.exp(reading) / p[mine].sum()), float(p[mine].sum() / p.sum())
