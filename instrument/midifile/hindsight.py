"""The recording's time line in hindsight: the beat and the bar laid with everything heard.

Live, the beat follower guesses: it renumbers its beats when it changes its mind about
the bar, and its beat times are predictions. A file laid from those guesses has tempo
events of a few ticks (beats skipped) and bar lines wherever the follower was at the
time. :class:`Hindsight` keeps what was heard and lays the file's time line anew at every
flush of the recorder:

1. **One continuous beat sequence** (:class:`BeatHistory`): every whole beat the beat
   clock passed, in the order it passed them, numbered 0, 1, 2... from the start of the
   recording. A renumbering (the clock's beat jumping) is recorded as such
   (``renumberings``) and is no beat of its own: the sequence goes on from the beat
   before; a beat that comes less than half a beat after the one before is dropped, a gap
   of more than one and a half beats (the clock stopped) is filled with even beats.
   While the clock stands still the beats go on at the last tempo. A renumbering by a
   part of a beat before any beat is frozen (a clock started on a pickup's off-beat
   eighth that locks onto the player's beat at the first downbeat) lays the beats so
   far again on the new grid, back to the recording's start, as the clock's first beats
   are: else every note before it would sit half a beat early in its bar.
2. **A smoother**: each beat's time is refitted by a local weighted least-squares line
   through the player's onsets near it (within ``WINDOW`` beats, each at its place on
   the grid: a beat, or a half or third of one), so the file's beats are where the
   player played them, not where the follower predicted them.
3. **The bar**: a :class:`~instrument.follow.bar.BarReader` with no decay hears every
   onset (up to ``READER_HISTORY``) on the continuous numbering and chooses the bar phase
   (and the meter, when it is heard: among the meters of the beat's kind) for the whole
   performance, with the live cues and weights (the harmony and phrase cues, and weights
   fitted for a reader that forgets nothing, did no better on dev). Where the tune began
   (the start cue) is counted back from the bar after it (``START_FIT_BARS``), not read
   off the grid of the follower's first guesses; a new reading must lead the one in use
   by ``PHASE_MARGIN`` (a rewrite of the file's start costs a whole-file write). When
   the meter is heard, the file takes
   the meter the live follower hears (the clock's, shown to the player: it heard the
   same notes on its own grid) and reads the bar's phase in it; when that meter turns
   compound (or back), the file's beat unit follows (a 6/8 tune gets a 6/8 time
   signature, its beat a dotted quarter) and the whole file is laid anew.
4. **The tempo map**: knots at beats, a straight line between them, as few as keep every
   beat within ``KNOT_TOLERANCE`` beats of its time: tempo events only where the tempo
   changed. Every beat lasts 30 to 300 quarter notes a minute.

5. **At close**, the beats move half a beat later when the melody's motion says the
   live beat sat between the played ones (``bar_path.HALF_BEAT_MARGIN``), and the bar is
   read once more, bar by bar over the whole performance
   (:func:`~instrument.midifile.bar_path.bar_path`): where the live beat slipped (a
   beat gained or lost), one phase for the whole file puts every bar line after the slip
   off; the path moves the bar there (rarely: ``bar_path.SWITCH``). Either way the
   file's beats, knots and every event are laid anew (:attr:`Layout.relaid`); with the
   beats where they were and one phase throughout, the reading above stands.

What is older than the last ``TAIL_BEATS`` beats is *frozen*: its beat times, knots and
the events laid on them are never laid again, so a flush costs the tail, the same in the
third hour as in the first minute. Only a new bar phase (or meter) moves the frozen part,
and then only by whole bars: every event's tick moves by the same amount
(:attr:`Layout.offset`), which the recorder writes by changing the first delta time of
each track; the bar moved at close (5) lays everything again, once. Runs on the
recorder's thread.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from instrument.follow.bar import BarReader
from instrument.midifile.bar_path import (
    HALF_BEAT_MARGIN,
    bar_path,
    half_beat_later,
    half_beat_lead,
)
from instrument.music import TICKS_PER_BEAT, Meter
from instrument.timing.beat import BeatClock, BeatMapping, beat_at, time_at
from instrument.timing.tempo_map import FILE_TICKS_PER_QUARTER, beat_quarters

#: File tempo limits, quarter notes a minute.
MIN_FILE_BPM, MAX_FILE_BPM = 30.0, 300.0
WINDOW = 2  # beats either side of a beat whose onsets refit it
ON_GRID = 0.2  # an onset this far (share of a subdivision) from the grid is not fitted
TAIL_BEATS = 16  # beats re-laid at every flush; older ones are frozen
KNOT_TOLERANCE = 0.02  # beats: a beat further than this off a straight line is a knot
PHASE_MARGIN = 2.0  # log-likelihood a new bar reading must lead by to move the bar
#: What the live follower's last reading of the bar counts for, beside the reader's
#: scores (it heard the same notes, and where the tune began).
LIVE_BONUS = 0.0  # chosen on the dev split: 0, 4, 8, 16, 32 gave 78, 75, 75, 75, 75 % bars right
AT_BEAT = 0.01  # beats: a clock beat this close to a time is at it
READER_HISTORY = 2048  # onsets the bar reader weighs (no decay)
#: Where the tune began, for the reader's start cue, is placed on the grid the player
#: settled into: a line through the onsets from ``START_FIT_BARS`` bars after the first
#: (``START_FIT_ONSETS`` of them), extrapolated back to the first onset, not the grid of
#: the follower's guesses before it locked. Chosen on the dev split (200 recordings, bar
#: phase chosen at close on the captured onsets): bars right 76.5 % with the first onset
#: where the early grid put it; 78 % with 1 bar / 8 onsets (3 recordings gained, none
#: lost); 1 / 16: 78 %; 2 / 8: 77.5 %; 4 / 8: 77 %. Placing every early onset so
#: (not only the first) lost more than it gained (1 / 8: 77 %, 4 / 16: 73 %).
START_FIT_BARS = 1
START_FIT_ONSETS = 8
CHORD = 0.03  # s: onsets this close are one chord to the bar reader


@dataclass(frozen=True)
class Layout:
    """The file's time line at one flush.

    ``knot_index``/``knot_time``: the tempo map's knots (beat number, time), a straight
    line between them, extrapolated at the ends. A file tick is
    ``round((beat + offset) * ticks_per_beat)``: ``offset`` (whole beats) puts the chosen
    downbeats on the file's bar lines. ``frozen_time``: events before it are final.
    """

    knot_index: np.ndarray
    knot_time: np.ndarray
    meter: Meter
    offset: int
    frozen_knots: int  # knots before this one are final
    frozen_time: float
    ticks_per_beat: int
    relaid: bool = False  # every event laid anew (at close, the bar moved within the file)

    def beat(self, t: float) -> float:
        """The continuous beat number at time ``t``."""
        ki, kt = self.knot_index, self.knot_time
        j = int(np.searchsorted(kt, t, side="right")) - 1
        j = min(max(j, 0), len(kt) - 2)
        return float(ki[j] + (t - kt[j]) * (ki[j + 1] - ki[j]) / (kt[j + 1] - kt[j]))

    def beat_tick(self, t: float) -> int:
        """Ticks of time ``t`` from beat 0 (the file's tick less the offset's)."""
        return round(self.beat(t) * self.ticks_per_beat)

    @property
    def offset_ticks(self) -> int:
        return self.offset * self.ticks_per_beat

    def tempo_us(self, k: int) -> int:
        """Microseconds per quarter note of the segment from knot ``k``."""
        ki, kt = self.knot_index, self.knot_time
        k = min(k, len(kt) - 2)
        seconds = (kt[k + 1] - kt[k]) / (ki[k + 1] - ki[k])
        quarter = seconds / (self.ticks_per_beat / FILE_TICKS_PER_QUARTER)
        return round(quarter * 1e6)


class BeatHistory:
    """The beats a :class:`BeatClock` passed, as one continuous sequence (module doc)."""

    def __init__(self, start_time: float, seconds_per_beat: float, meter: Meter) -> None:
        quarters = beat_quarters(meter)
        self.shortest = 60.0 / MAX_FILE_BPM * quarters
        self.longest = 60.0 / MIN_FILE_BPM * quarters
        self.start_time = start_time
        self.times: list[float] = [start_time]
        self.renumberings: list[tuple[float, float]] = []  # (time, beats jumped)
        #: The continuous number less the clock's of the latest beat the clock passed:
        #: the live bar phase is this modulo the bar.
        self.live_offset: int | None = None
        self.period = self._clamp(seconds_per_beat)
        self._cursor = 0
        self._state: tuple[bool, BeatMapping] = (False, (start_time, 0.0, seconds_per_beat))
        self._until = start_time
        #: The first beat laid while the clock stood still (None while it runs).
        self._stopped_from: int | None = None
        #: Beats the file has frozen (set by :class:`Hindsight`): the beats before the
        #: clock first ran are laid again on its grid only while none is.
        self.frozen = 0

    def _clamp(self, period: float) -> float:
        return min(self.longest, max(self.shortest, period))

    def follow(self, clock: BeatClock, horizon: float) -> None:
        """Take the clock's changes and passed beats up to ``horizon``."""
        for number, running, mapping in clock.changes_since(self._cursor):
            was_running, old = self._state
            if running and not was_running:
                self._unwind_stop(mapping[0])
            start = max(mapping[0], self._until)
            if start > horizon:
                break  # set for later: the next flush
            self._advance(start)
            if running and was_running:
                jump = beat_at(mapping, start) - beat_at(old, start)
                if abs(jump) > 0.25:
                    self.renumberings.append((start, jump))
                if abs(jump - round(jump)) > 0.25 and self.frozen <= 1:
                    # The clock found the player's beat half a beat off its first
                    # guess (it started on an off-beat onset, a pickup's eighth): the
                    # beats laid so far sat between the player's. Nothing is frozen:
                    # they are laid again on the new grid, back to the recording's
                    # start, as for the clock's first beats (_advance).
                    self.live_offset = None
            self._state = (running, mapping)
            self._cursor = number
        self._advance(horizon)

    def _unwind_stop(self, t: float) -> None:
        """The clock starts again from a beat at ``t``, which may lie before what was
        laid while it stood still (the follower places a restarted beat at the onset
        that started it): the beats laid after ``t`` while it stood still go, and the
        clock's own beats take their place."""
        if t >= self._until or self._stopped_from is None:
            return
        keep = max(self._stopped_from, self.frozen, bisect.bisect_right(self.times, t), 1)
        del self.times[keep:]
        self._until = max(t, self.times[-1])

    def _advance(self, t: float) -> None:
        if t <= self._until:
            return
        running, mapping = self._state
        if running and self.live_offset is None and self.frozen <= 1:
            # The clock's first beats: what came before them (the recording's start, at
            # the configured tempo) is laid again on their grid, back to the first beat
            # at or before the start, so the file does not begin with a beat of its own.
            k = math.floor(beat_at(mapping, self.start_time))
            self.times = [time_at(mapping, k)]
            self.live_offset = -k
            self._until = self.times[0]
        if running:
            self.period = self._clamp(mapping[2])
            # The follower anchors a new mapping on a beat, where the old mapping's
            # prediction of that beat fell a hair after: the beat at the anchor
            # (``_until``) is the new mapping's to lay. One laid twice is dropped (_add).
            k = math.ceil(beat_at(mapping, self._until) - AT_BEAT)
            end = beat_at(mapping, t) + AT_BEAT
            while k <= end:
                if self._add(time_at(mapping, k)):
                    self.live_offset = len(self.times) - 1 - k
                k += 1
        else:
            if self._stopped_from is None:
                self._stopped_from = len(self.times)
            # Even beats at the last period (within the file's limits: no _add, whose
            # rounding would drop a beat at exactly the shortest and loop for ever).
            while self.times[-1] + self.period <= t:
                self.times.append(self.times[-1] + self.period)
        if running:
            self._stopped_from = None
        self._until = t

    def _add(self, t: float) -> bool:
        """A beat at ``t`` (and even ones before it to fill a gap); False if dropped."""
        last = self.times[-1]
        gap = t - last
        if gap < 0.5 * self.period or gap < self.shortest:
            return False  # the clock jumped: not a beat of its own
        n = max(1, round(gap / self.period))
        while gap / n > self.longest:
            n += 1
        self.times.extend(last + gap * (j + 1) / n for j in range(n))
        return True


def chord_groups(onsets: Sequence[tuple[float, int, int]]
                 ) -> list[list[tuple[float, int, int]]]:
    """Onsets (time, pitch, velocity; in time order) within ``CHORD`` of a group's
    first are one chord."""
    groups: list[list[tuple[float, int, int]]] = []
    for onset in onsets:
        if groups and onset[0] - groups[-1][0][0] <= CHORD:
            groups[-1].append(onset)
        else:
            groups.append([onset])
    return groups


def accented_chords(groups: Sequence[Sequence[tuple[float, int, int]]], mean: float,
                    sd: float) -> list[tuple[float, int, float]]:
    """Each chord as the bar reader hears it: its time, its highest pitch and its
    accent (its loudest velocity against the player's ``mean``, in deviations ``sd``
    of at least 4, within +-3)."""
    sd = max(4.0, sd)
    return [(g[0][0], max(p for _t, p, _v in g),
             max(-3.0, min(3.0, (max(v for _t, _p, v in g) - mean) / sd)))
            for g in groups]


def chords_heard(onsets: Sequence[tuple[float, int, int]]) -> list[tuple[float, int, float]]:
    """A whole performance's onsets as the close hears them: :func:`chord_groups`, each
    :func:`accented_chords` against the mean velocity of them all."""
    if not onsets:
        return []
    velocity = np.array([v for _t, _p, v in onsets], dtype=float)
    return accented_chords(chord_groups(onsets), float(velocity.mean()), float(velocity.std()))


def _weights(d: np.ndarray, width: float) -> np.ndarray:
    return np.clip(1.0 - (np.abs(d) / width) ** 3, 0.0, None) ** 3


class Hindsight:
    """The player's onsets and the clock's beats, laid as a file's time line (module doc).

    ``meter``: the configured meter, or None to hear it (among the meters of the
    ``clock``'s kind: the beat is the clock's)."""

    def __init__(self, start_time: float, clock: BeatClock, meter: Meter | None,
                 ticks_per_beat: int) -> None:
        self.clock = clock
        self.kind_meter = clock.meter
        self.history = BeatHistory(start_time, clock.seconds_per_beat, clock.meter)
        self.ticks_per_beat = ticks_per_beat
        self.subdivision = 3 if clock.meter.compound else 2
        # The bar reader hears onsets on sixteenths (grid ticks of 3 or 2).
        self.snap = 2 if clock.meter.compound else 3
        self.onset_times: list[float] = []
        self.onsets: list[tuple[float, int, int]] = []
        self.reader = BarReader(meter, READER_HISTORY, 1.0)
        self.meter = meter or clock.meter
        self.phase = 0
        self._beats: list[float] = []  # refined times of the frozen beats
        self._knots: list[tuple[int, float]] = []  # frozen knots
        self._heard = 0  # onsets the reader has heard
        self._start_placed = False  # the reader's first onset placed by _place_start
        self._velocity_sum = self._velocity_squares = 0.0

    def hear(self, t: float, pitch: int, velocity: int) -> None:
        """A note-on of the player (any order; later ones usually)."""
        j = bisect.bisect_right(self.onset_times, t)
        self.onset_times.insert(j, t)
        self.onsets.insert(j, (t, pitch, velocity))
        self._velocity_sum += velocity
        self._velocity_squares += velocity * velocity

    def _follow_kind(self) -> None:
        """With the meter heard: when the clock's meter turns compound (or simple), the
        file's beat unit (``ticks_per_beat``: a dotted quarter's ticks in 6/8), the grid
        and the meters read change with it, and the reader hears every onset again on
        the new kind (the recorder then lays the whole file anew)."""
        kind = self.clock.meter
        if self.reader.configured is not None or kind.compound == self.kind_meter.compound:
            return
        self.kind_meter = kind
        self.meter, self.phase = kind, 0
        self.subdivision = 3 if kind.compound else 2
        self.snap = 2 if kind.compound else 3
        self.ticks_per_beat = round(FILE_TICKS_PER_QUARTER * beat_quarters(kind))
        quarters = beat_quarters(kind)
        self.history.shortest = 60.0 / MAX_FILE_BPM * quarters
        self.history.longest = 60.0 / MIN_FILE_BPM * quarters
        self.reader.reset()
        self._heard = 0
        self._start_placed = False

    # -- the layout -------------------------------------------------------------------

    def layout(self, horizon: float, final: bool = False) -> Layout:
        """The time line with everything heard up to ``horizon``; ``final`` (at close):
        nothing is left unsettled."""
        self._follow_kind()
        self.history.frozen = len(self._beats)
        self.history.follow(self.clock, horizon)
        raw = self.history.times
        frozen = len(self._beats)
        beats = np.array(self._beats + raw[frozen:], dtype=float)
        if len(beats) < 2:
            beats = np.array([raw[0], raw[0] + self.history.period])
        beats = self._smooth(beats, frozen)
        knots = self._lay_knots(beats)
        settle = len(beats) if final else len(beats) - TAIL_BEATS
        if settle > frozen:
            self._beats = [float(b) for b in beats[:settle]]
        # Knots at or before the last settled beat are final (the segment after them
        # may still change).
        frozen_knots = len(self._knots)
        for k in range(len(self._knots), len(knots)):
            if knots[k][0] < len(self._beats) - 1 or (final and knots[k][0] < len(beats)):
                frozen_knots = k + 1
        frozen_knots = max(len(self._knots), frozen_knots)
        self._knots = knots[:frozen_knots]
        ki = np.array([k[0] for k in knots], dtype=float)
        kt = np.array([k[1] for k in knots])
        if len(ki) < 2:
            ki = np.array([0.0, 1.0])
            kt = np.array([beats[0], beats[0] + self.history.period])
        frozen_time = self._knots[-1][1] if self._knots else -math.inf
        if final:
            frozen_time = math.inf
        self._read_bar(ki, kt, frozen_time if not final else math.inf, final)
        relaid = final and self._move_bar(beats)
        if relaid:
            ki = np.array([k[0] for k in self._knots], dtype=float)
            kt = np.array([k[1] for k in self._knots])
        bar = self.meter.beats_per_bar
        return Layout(ki, kt, self.meter, (-self.phase) % bar, len(self._knots),
                      frozen_time, self.ticks_per_beat, relaid)

    def _move_bar(self, beats: np.ndarray) -> bool:
        """At close: read the bar bar by bar over the whole performance
        (:func:`~instrument.midifile.bar_path.bar_path`); where it moved within the
        performance, the beats, knots and phase are laid anew on the path (True: the
        whole file is laid again)."""
        chords = chords_heard(self.onsets)
        if len(chords) < 2 or len(beats) < 2 or self.reader.count == 0:
            return False
        start = int(self.reader.first[0])
        later = half_beat_lead(beats, chords, self.meter.compound) > HALF_BEAT_MARGIN
        if later:  # the live beat sat between the played ones
            beats = half_beat_later(beats)
            start += TICKS_PER_BEAT // 2
        times, downbeat, phases = bar_path(beats, chords, self.meter, self.snap, start)
        if (np.all(phases == phases[0]) and not later) or len(times) < 2:
            return False  # one bar phase throughout: the reader's reading stands
        h = self.history
        for j in range(1, len(times)):
            times[j] = min(max(times[j], times[j - 1] + h.shortest), times[j - 1] + h.longest)
        self._beats = [float(b) for b in times]
        self._knots = []
        self._knots = self._lay_knots(times)
        self.phase = downbeat
        return True

    def _smooth(self, beats: np.ndarray, frozen: int) -> np.ndarray:
        """Refit the beats from ``frozen`` on to the onsets near them (module doc)."""
        if frozen >= len(beats):
            return beats
        lo = bisect.bisect_left(self.onset_times, beats[max(0, frozen - WINDOW - 1)])
        times = np.asarray(self.onset_times[lo:])
        if len(times) < 3:
            return beats
        sub = self.subdivision
        idx = np.arange(len(beats), dtype=float)
        for _ in range(2):
            u = np.interp(times, beats, idx, left=-1.0, right=-1.0)
            inside = u >= 0.0
            q = np.round(u * sub) / sub
            near = inside & (np.abs(u - q) * sub < ON_GRID)
            qn, tn = q[near], times[near]
            new = beats.copy()
            for j in range(frozen, len(beats)):
                d = qn - j
                sel = np.abs(d) <= WINDOW + 0.5
                if np.count_nonzero(sel) < 3 or np.ptp(d[sel]) < 1.0:
                    continue
                w = _weights(d[sel], WINDOW + 1.0)
                A = np.stack([np.ones(int(sel.sum())), d[sel]], axis=1) * w[:, None]
                a, _b = np.linalg.lstsq(A, tn[sel] * w, rcond=None)[0]
                period = (beats[min(j + 1, len(beats) - 1)] - beats[max(j - 1, 0)]) / (
                    min(j + 1, len(beats) - 1) - max(j - 1, 0))
                if abs(a - beats[j]) < 0.25 * period:
                    new[j] = a
            # Keep every beat within the file's tempo range and in order.
            h = self.history
            for j in range(max(frozen, 1), len(new)):
                new[j] = min(max(new[j], new[j - 1] + h.shortest), new[j - 1] + h.longest)
            beats = new
        return beats

    def _lay_knots(self, beats: np.ndarray) -> list[tuple[int, float]]:
        """The frozen knots, then the fewest knots that keep every beat within
        ``KNOT_TOLERANCE`` of a straight line between them."""
        knots = list(self._knots) or [(0, float(beats[0]))]
        i0 = knots[-1][0]
        n = len(beats)
        while i0 < n - 1:
            e = i0 + 1
            while e + 1 < n:
                cand = e + 1
                speed = (cand - i0) / (beats[cand] - beats[i0])
                inner = np.arange(i0 + 1, cand)
                off = (beats[inner] - beats[i0]) * speed - (inner - i0)
                if np.max(np.abs(off)) > KNOT_TOLERANCE:
                    break
                e = cand
            knots.append((e, float(beats[e])))
            i0 = e
        return knots

    def _read_bar(self, ki: np.ndarray, kt: np.ndarray, until: float, final: bool) -> None:
        """The reader hears the onsets before ``until`` on the continuous numbering (a
        chord once, by its highest note; louder than the player's mean is an accent);
        the bar phase (and meter) moves when another reading leads by ``PHASE_MARGIN``
        (at the end: any lead)."""
        heard = self._heard
        end = bisect.bisect_left(self.onset_times, until)
        reader = self.reader
        if end > heard:
            groups = chord_groups(self.onsets[heard:end])
            if groups and not (final or end < len(self.onsets)):
                end -= len(groups.pop())  # the chord may not be complete: next time
            for t, pitch, accent in self._chords_of(groups):
                self._hear_chord(t, pitch, accent, ki, kt)
            self._heard = end
            self._place_start()
            reader.rescore()
        if reader.count == 0:
            return
        live = self.history.live_offset

        def score(meter: Meter, phase: int) -> float:
            bonus = LIVE_BONUS if (live is not None and meter == self.kind_meter
                                   and phase == live % meter.beats_per_bar) else 0.0
            return reader.score_of(meter, phase) + bonus

        heard = self.clock.meter
        if reader.configured is None and heard in reader.tables.meters and heard != self.meter:
            # The meter the live follower hears (and shows): its bar read afresh.
            self.meter, self.phase = heard, max(range(heard.beats_per_bar),
                                                key=lambda p: score(heard, p))
        current = (self.meter, self.phase)
        best, best_score = current, score(*current)
        for meter in reader.tables.meters:
            if meter != (heard if reader.configured is None else self.meter):
                continue
            for phase in range(meter.beats_per_bar):
                if score(meter, phase) > best_score:
                    best, best_score = (meter, phase), score(meter, phase)
        if best_score > score(*current) + (0.0 if final else PHASE_MARGIN):
            self.meter, self.phase = best

    def _place_start(self) -> None:
        """Place the tune's first onset for the reader's start cue by extrapolating back
        the line through the onsets heard from ``START_FIT_BARS`` bars after it (once
        ``START_FIT_ONSETS`` of them are heard; see the constants): before the follower
        locked, the clock's beats (and the grid laid on them) may be far off the
        player's, and where the tune began is the start cue's whole evidence."""
        reader = self.reader
        n = reader.count
        if self._start_placed or n > reader.history:
            return
        x, t = reader.x[:n], reader.time[:n]
        j = int(np.searchsorted(x, x[0] + START_FIT_BARS * self.meter.ticks_per_bar))
        if j + START_FIT_ONSETS > n:
            return
        sel = slice(j, j + START_FIT_ONSETS)
        if np.ptp(t[sel]) <= 0.0:
            return
        slope, intercept = np.polyfit(t[sel], x[sel].astype(float), 1)
        snap = self.snap
        reader.first[0] = round((intercept + slope * reader.first_time) / snap) * snap
        self._start_placed = True

    def _chords_of(self, groups: list[list[tuple[float, int, int]]]
                   ) -> list[tuple[float, int, float]]:
        """Each chord as the bar reader hears it (:func:`accented_chords`), against the
        mean velocity of every onset heard; none before the player's first note."""
        n = len(self.onsets)
        if n == 0:
            return []
        mean = self._velocity_sum / n
        sd = math.sqrt(max(0.0, self._velocity_squares / n - mean * mean))
        return accented_chords(groups, mean, sd)

    def _hear_chord(self, t: float, pitch: int, accent: float, ki: np.ndarray,
                    kt: np.ndarray) -> None:
        beat = float(np.interp(t, kt, ki)) if t <= kt[-1] else float(
            ki[-1] + (t - kt[-1]) * (ki[-1] - ki[-2]) / (kt[-1] - kt[-2]))
        snap = self.snap
        self.reader.hear(round(beat * TICKS_PER_BEAT / snap) * snap, t, pitch, accent, False)
