"""The beat follower: the player's onsets in, a predicted beat and a confidence out.

:class:`BeatFollower` hears note-ons (``onset``), groups chords, and keeps a bank of
competing beat hypotheses (:mod:`instrument.follow.bank`). The first onset seeds the
bank with every starting tempo of the lock range, the onset on each point of the beat;
the configured tempo is a prior over them that settles half and double time (with a
second, weaker one around 120 bpm, the beat rate tunes are mostly felt at), and the
metrical prior and the melody settle the rest. The best hypothesis, with hysteresis, is
the *leader*: its beats are the follower's beats, numbered from 0 (the first downbeat)
with downbeats at multiples of the meter's beats per bar. Accents choose among
readings at the leader's tempo with the beat at different places (``sibling_margin``),
never the tempo. Once the leader has heard ``octave_after`` onsets,
half or double its tempo must beat it by ``octave_margin`` (not ``switch_margin``);
when that happens (a sudden tempo change), the next onset re-locks with the new tempo at
the old octave as the prior. A tapped beat holds until a pause: a reading at its tempo
with its beats between the tapped ones must beat it by ``tap_margin`` (in running
sixteenths the notes hardly tell which of them is the beat; the player's tap does). A
new leader keeps the downbeats where they were.

The bar: a :class:`~instrument.follow.bar.BarReader` scores rival bar readings (meter and
phase) on the leader's grid by the melody: long notes, tonal stability, harmony, where
the tune began, the rhythm at each place of the bar, accents. When another reading beats
the one in use by ``bar_margin`` (a heard meter by ``meter_margin``), the follower moves
the bar: at once in the first ``bar_early`` onsets (unless a tap set the bar) when the
notes heard lead by the margin on their own (where the tune began does not move it),
else after a long note (a beat or longer: a phrase end), once the reading has led for
``bar_wait`` onsets, or at once when it leads by ``bar_sure`` (unless a tap set the
bar). A bar that has held for ``bar_settled_onsets`` onsets while the beat stayed on its
grid (no bar move, no new leader placed on another grid, no re-lock) moves only when a
reading leads it by ``bar_settled_margin``. A heard meter must lead by ``meter_margin``
to replace the one in use, by ``bar_margin`` only while that one was taken fewer than
``meter_settle`` onsets ago (the 4/4 it starts from too): a meter chosen on the first
notes gives way easily, one that has held stays. A move renumbers the beats ahead so
that the new downbeats are multiples of the bar, skipping the fewest numbers (one bar is
1 to beats-per-bar - 1 beats shorter; no number is given twice); ``bar_moves`` counts
them.

``BeatFollower(None)`` (or ``configure(auto_meter=True)``) hears the meter too, among
2/4, 3/4, 4/4, 6/8, 9/8 and 12/8 (starting from 4/4), and ``meter`` is the meter heard;
a configured meter is kept. With the meter heard two banks hear the onsets, one with
the simple meters' rhythm prior (``AUTO_BANK_METER``, in use at the start) and one with
the compound meters' (6/8): the leader comes from the one in use, and they trade places
when the other's best hypothesis, its beat three eighths where the leader's has two (or
the other way round), beats the leader by ``kind_margin`` (a switch to the compound
bank once the simple one has held for ``kind_after`` onsets, by ``kind_late_margin``).
(One bank with the simple and compound styles mixed took many simple tunes at a beat of
three eighths.) When a new leader's tempo is ``meter_forget`` or more from the old one,
the bar reader starts its evidence afresh, the earlier onsets no longer placed on the
beats. For a status display: ``meter``, ``meter_auto``, ``bar_confidence`` and
``meter_confidence`` (0..1), ``bar_moves``.

Predictions: ``time_at(beat)``, ``beat_at(t)``, ``bpm``, and ``drive(clock)``, which sets
a :class:`~instrument.timing.beat.BeatClock` to the leader's beat. Beat numbers only move on:
when the leader changes (or its bar phase does), its beats are renumbered so that no
beat the band may already have planned (up to ``horizon`` seconds or ``horizon_ticks``
grid ticks ahead of now, whichever is longer) gets a number
again; numbers may be skipped, never replayed.

``confidence`` (0..1) is the product of how far the leader is ahead of the hypotheses
that predict other beats (``1 / (1 + sum of exp(rival - leader))``), how many of the
recent onsets lie close to its grid (``pulse_*``: random playing puts about 40 % there,
played music 80-90 %), and how recent the last onset is (it holds for ``hold_beats`` of
silence, then fades to 0 over ``fade_beats``): a long silence or playing off any pulse
takes it down. After a pause of ``pause_beats``, or when the leader stops fitting, the
next onset re-locks: a fresh bank with the old tempo as its prior, the old beat kept
with a head start.

Driving it (engine thread only; see ``FollowSettings`` for the parameters):
``onset(t, pitch, velocity)`` for every note-on at its time; before planning,
``advance(now)`` (also at ``chord_due``, when a chord is complete), then
``drive(clock)``; plan beat ``k`` at ``clock.time_at(k)`` as usual, and when ``drive``
returns True move the next unplanned beat to ``clock.next_beat(now + lead)`` and
re-time the planned ones that have not sounded to ``clock.time_at(k)``. Hold (or rest)
while ``confidence`` is under 0.5. ``seed`` for a tap or a preset, ``configure`` for the
configured tempo or meter, ``reset`` to start over.
"""

from __future__ import annotations

import math

import numpy as np

from instrument.follow.bank import HypothesisBank, lock_periods
from instrument.follow.bar import BarReader
from instrument.follow.onsets import Accents, Contour, Onset, OnsetGrouper
from instrument.follow.settings import FollowSettings
from instrument.music import TICKS_PER_BEAT, Meter
from instrument.timing.beat import BeatClock, clamp_bpm

AUTO_BANK_METER = Meter(2, 4)  # the beat's prior while the meter is heard


def _octave(ratio: float) -> float:
    """The nearest of the nested tempo ratios 1/3, 1/2, 2 and 3 to ``ratio``."""
    return min((1 / 3, 0.5, 2.0, 3.0), key=lambda r: abs(math.log(ratio / r)))


class BeatFollower:
    """Follows the player's beat from note onsets (see the module docstring)."""

    def __init__(
        self, meter: Meter | None = None, bpm: float = 100.0,
        settings: FollowSettings | None = None,
    ) -> None:
        """``meter``: the configured meter; None: the meter is heard (``meter_auto``)."""
        self.settings = settings or FollowSettings()
        self.tempo = clamp_bpm(bpm)
        self._grouper = OnsetGrouper(self.settings.chord_window)
        self._accents = Accents()
        self._contour = Contour()
        self._lock_periods = lock_periods(self.settings)
        self._set_meter(meter)

    def _set_meter(self, meter: Meter | None) -> None:
        """Configure ``meter`` (None: heard) and start over."""
        s = self.settings
        self.meter_auto = meter is None
        self._configured = meter
        self._bank = HypothesisBank(meter or AUTO_BANK_METER, s)
        self._other = None if meter is not None else HypothesisBank(Meter(6, 8), s)
        self._reader = BarReader(meter, s.bar_history, s.bar_decay, s.bar_weights)
        self.reset()

    # -- configuration ----------------------------------------------------------------

    def reset(self) -> None:
        """Forget the beat (panic, a new piece): the next onset locks afresh."""
        self._bank.clear()
        if self._other is not None:
            self._other.clear()
        self._reader.reset()
        self.meter = self._configured or Meter(4, 4)
        self._waited = 0
        self._meter_at = 0  # the bar reader's onset count when the meter last changed
        self._bar_at = 0  # the reader's onset count when the bar or the beat's grid last moved
        self._kind_at = 0  # the onset count when the banks last traded places
        self._tapped = False
        self._tap_holds = False  # a tapped beat, held against rivals between its beats
        self._heard_at: float | None = None  # the last onset heard (not a tap)
        self.bar_moves = 0
        self._grouper.clear()
        self._accents.reset()
        self._contour.reset()
        self._prior_period = 60.0 / self.tempo
        self._prior_octaves = self.settings.prior_octaves
        self._leader: int | None = None
        self._index: int | None = None
        self._index_version = -1
        self._rivals: np.ndarray | None = None
        self._rivals_at = -1
        self._phase = 0
        self._offset = 0
        self._anchor_time = 0.0
        self._anchor_beat = 0.0
        self._period = 60.0 / self.tempo
        self._has_beat = False
        self._frontier = -1.0
        self._last_onset: float | None = None
        self._relock_next = False
        self._relock_scale = 1.0
        self._dominance = 0.0
        self._renumbered = False
        self.confidence = 0.0
        self.onsets = 0
        self.renumberings = 0
        self.relocks = 0

    def configure(self, bpm: float | None = None, meter: Meter | None = None,
                  auto_meter: bool = False) -> None:
        """The configured tempo (the prior of the next lock), or meter, or ``auto_meter``
        (the meter heard); a new meter setting starts over."""
        if bpm is not None:
            self.tempo = clamp_bpm(bpm)
            if not self._has_beat:
                self._prior_period = 60.0 / self.tempo
        if auto_meter and not self.meter_auto:
            self._set_meter(None)
        elif meter is not None and (self.meter_auto or meter != self._configured):
            self._set_meter(meter)

    def seed(self, bpm: float, now: float, on_beat: bool = False) -> None:
        """Set the tempo from outside: tap tempo (``on_beat``: a beat falls at ``now``) or
        a preset (the tempo changes at ``now``, the phase stays).

        The set tempo becomes the prior and the beat the only hypothesis; the next onset
        brings rivals back, the set beat with a head start. A tapped beat holds until a
        pause: a rival with its beats between the tapped ones must win by ``tap_margin``
        (a rival at another tempo as before). A tap also sets the bar (its
        beat is a downbeat when its number is a multiple of the bar): the bar reader may
        move it only after a long note or ``bar_wait`` onsets, never at once.
        """
        period = 60.0 / clamp_bpm(bpm)
        self._prior_period = period
        self._prior_octaves = self.settings.relock_prior_octaves
        if not on_beat and not self._has_beat:
            return
        bank = self._bank
        if on_beat:
            beat = round(self.beat_at(now)) if self._has_beat else 0
            t = now
        else:
            beat = math.ceil(self.beat_at(now))
            t = self.time_at(beat)
        bank.clear()
        phase = (-beat) % self.meter.beats_per_bar
        self._leader = bank.add(t, 0, period, phase,
                                self.settings.tap_tempo_sd if on_beat else None)
        bank.restart_scores(self.settings.relock_bonus)
        self._phase = phase
        self._offset = beat
        self._publish(0)
        self._reader.remap(self.beat_at)
        self._tapped = self._tapped or on_beat
        self._tap_holds = self._tap_holds or on_beat
        self._heard_at = None
        self._frontier = max(self._frontier, self.beat_at(now + self.horizon))
        self._last_onset = now
        self._relock_next = True
        self._dominance = 1.0
        self.confidence = 1.0

    # -- input ------------------------------------------------------------------------

    def onset(self, t: float, pitch: int, velocity: int) -> None:
        """A note-on at ``t`` (engine clock seconds). Note-offs and pedal do not come here."""
        done = self._grouper.add(t, pitch, velocity)
        if done is not None:
            self._hear(done, t)

    def advance(self, now: float) -> None:
        """Bring the follower up to ``now``: a finished chord is heard, silence counted.

        Call before asking for predictions (the band's ``plan``).
        """
        done = self._grouper.flush(now)
        if done is not None:
            self._hear(done, now)
        self._note_frontier(now)
        self.confidence = self._dominance * self._fit() * self._freshness(now)

    def _hear(self, onset: Onset, now: float) -> None:
        self._note_frontier(now)
        bank = self._bank
        accent = self._accents.strength(onset)
        prev = self._last_onset
        length = self._accents.length(onset.time - prev) if prev is not None else 0.0
        length *= self.settings.length_accent
        contour = self._contour.step(onset)
        self.onsets += 1
        relock = self._relock_next or self._paused(onset.time) or self._lost()
        other = self._other
        if other is not None:
            if relock or not len(other):
                other.clear()
                other.seed(onset.time, self._lock_periods)
            else:
                other.hear(onset.time, accent, length, contour)
        if not len(bank):
            bank.seed(onset.time, self._lock_periods)
        elif relock:
            if self._paused(onset.time):
                self._reader.reset()
                self._meter_at = 0
                self._tap_holds = False  # after a pause the player may come in anywhere
            self._bar_at = self._reader.count
            self._relock(onset.time, accent, length, contour)
        else:
            bank.hear(onset.time, accent, length, contour)
        heard = self._heard_at
        long_note = heard is not None and (
            onset.time - heard >= self.settings.bar_long_note * self._period)
        self._heard_at = onset.time
        self._last_onset = onset.time
        self._relock_next = False
        self._choose(now, onset, accent, long_note)

    def _paused(self, t: float) -> bool:
        prev = self._last_onset
        return prev is not None and t - prev > self.settings.pause_beats * self._period

    def _lost(self) -> bool:
        i = self._leader_index()
        bank = self._bank
        return i is not None and bank.count[i] >= 8 and bank.fit[i] < self.settings.lost_fit

    def _relock(self, t: float, accent: float, length: float, contour: int) -> None:
        """Start a fresh bank at this onset; the old leader stays with a head start, and
        its tempo (at the octave of the one before, after an octave switch) is the prior."""
        s = self.settings
        bank = self._bank
        i = self._leader_index()
        self.relocks += 1
        if i is None:
            bank.clear()
        else:
            keep = np.zeros(len(bank), dtype=bool)
            keep[i] = True
            bank.keep(keep)
            bank.restart_scores(s.relock_bonus)
            self._prior_period = float(bank.P[0]) * self._relock_scale
            self._prior_octaves = s.relock_prior_octaves
            bank.hear(t, accent, length, contour)
        self._relock_scale = 1.0
        bank.seed(t, self._lock_periods)

    # -- the leader -------------------------------------------------------------------

    def _leader_index(self) -> int | None:
        """The leader's place in the bank (cached until the bank's entries change)."""
        bank = self._bank
        if self._index_version != bank.version:
            self._index = None if self._leader is None else bank.index_of(self._leader)
            self._index_version = bank.version
            self._rivals = None
        return self._index

    def _choose(self, now: float, onset: Onset, accent: float, long_note: bool) -> None:
        s = self.settings
        bank = self._bank
        before = (self._anchor_time, self._anchor_beat, self._period) if self._has_beat else None
        totals = bank.totals(self._prior_period, self._prior_octaves)
        if len(bank) > s.merge_every_above or self.onsets % 4 == 0:
            # A tapped beat merged into its twin stays the leader's (a twin scored
            # without the count-in's silence would else be one more rival).
            totals = bank.merge_and_prune(now, totals,
                                          self._leader if self._tap_holds else None)
        if self._other is not None:
            bank, totals = self._other_kind(now, totals)
        totals = self._with_accents(totals)
        best = int(np.argmax(totals))
        i = self._leader_index()
        changed = i is None or totals[best] > totals[i] + s.switch_margin
        if changed and i is not None and bank.count[i] >= s.octave_after:
            octave = self._octave_of(i, best)
            if octave is not None:
                # Half or double time of an established beat: it must win by far more
                # to change the band's tempo (the per-beat lattice slowly favours the
                # slower reading of a rhythm that repeats every two beats). When it
                # does (the leader fails: a sudden tempo change), the next onset
                # re-locks around the new tempo at the leader's octave.
                changed = bool(totals[best] > totals[i] + s.octave_margin)
                if changed:
                    self._relock_next = True
                    self._relock_scale = octave
        if changed and i is not None and self._tap_holds and self._between(i, best, now):
            # The player tapped this beat: a reading at its tempo with its beats between
            # the tapped ones (in running sixteenths the notes hardly tell which is the
            # beat) must win by far more.
            changed = bool(totals[best] > totals[i] + s.tap_margin)
        if changed:
            i = best
            self._index, self._rivals = i, None
            # A new leader keeps the downbeats where the band has been playing them.
            self._phase = self._continuing_phase(i, now) if self._has_beat else 0
            self._leader = int(bank.ids[i])
            self._renumber(i, now)
        self._publish(i)
        if changed and before is not None:
            self._carry_reader(before, onset.time)
        tick = int(bank.last[i]) + self._offset * TICKS_PER_BEAT
        self._reader.hear(tick, onset.time, onset.highest, accent)
        self._read_bar(i, now, long_note)
        rivals = self._rivals_of(i, now)
        self._dominance = 1.0 if not rivals.any() else float(
            1.0 / (1.0 + np.exp(totals[rivals] - totals[i]).sum()))
        self.confidence = self._dominance * self._fit() * self._freshness(now)

    def _other_kind(self, now: float, totals: np.ndarray) -> tuple[HypothesisBank, np.ndarray]:
        """With the meter heard: the bank of the other kind (simple or compound) scored
        too; when its best, at 3/2 of the leader's beat (to compound) or 2/3 of it (to
        simple) and within the lock's tempo range, beats the leader by ``kind_margin``
        (to compound after ``kind_after`` onsets of simple, by ``kind_late_margin``),
        the banks trade places (its best then becomes the leader, keeping the
        downbeats). Returns the bank in use and its totals."""
        s = self.settings
        other = self._other
        theirs = other.totals(self._prior_period, self._prior_octaves)
        if len(other) > s.merge_every_above or self.onsets % 4 == 0:
            theirs = other.merge_and_prune(now, theirs)
        i = self._leader_index()
        if not len(theirs) or i is None:
            return self._bank, totals
        j = int(np.argmax(theirs))
        # A compound beat is three eighths: 3/2 of a simple beat of two, or 3/4 of one
        # of four (a jig's eighths heard as a simple beat's sixteenths).
        steps = (1.5, 0.75) if other.meter.compound else (2.0 / 3.0, 4.0 / 3.0)
        ratio = float(other.P[j] / self._bank.P[i])
        bpm = 60.0 / float(other.P[j])
        near = min(abs(math.log(ratio / step)) for step in steps)
        late = other.meter.compound and self.onsets - self._kind_at >= s.kind_after
        margin = s.kind_late_margin if late else s.kind_margin
        if (near < 0.1 and s.min_lock_bpm <= bpm <= s.max_lock_bpm
                and theirs[j] > totals[i] + margin):
            self._bank, self._other = other, self._bank
            self._index_version = -1
            self._kind_at = self.onsets
            return other, theirs
        return self._bank, totals

    def _carry_reader(self, before: tuple[float, float, float], t: float) -> None:
        """The leader changed: move the bar reader's onsets to its numbering (by whole
        beats when the beat is the same, else placed afresh on the new grid). With the
        meter heard, a new leader ``meter_forget`` or more from the old tempo (in log
        ratio) also has the reader drop the onsets heard before it: the new grid,
        extrapolated back over a tempo that moved, puts them off the beats they were on,
        and a meter chosen on such a history then holds (``meter_margin``)."""
        anchor_time, anchor_beat, period = before
        old = anchor_beat + (t - anchor_time) / period
        moved = self.beat_at(t) - old
        if abs(period / self._period - 1.0) < 0.03 and abs(moved - round(moved)) < 0.1:
            self._reader.shift(round(moved))
            return
        self._bar_at = self._reader.count
        self._reader.remap(self.beat_at)
        forget = self.settings.meter_forget
        if self.meter_auto and forget > 0.0 and abs(math.log(period / self._period)) > forget:
            self._reader.forget()

    def _read_bar(self, i: int, now: float, long_note: bool) -> None:
        """Move the bar when the reader's best reading has beaten the one in use
        (see the module docstring)."""
        s = self.settings
        reader = self._reader
        meter, phase = reader.best()
        lead = float(reader.scores.max()) - reader.score_of(self.meter, 0)
        margin = s.bar_margin if meter == self.meter else s.meter_margin
        if meter != self.meter and reader.count - self._meter_at < s.meter_settle:
            margin = s.bar_margin  # a meter just taken (or the 4/4 it starts from) is held loosely
        if s.bar_settled_onsets and reader.count - self._bar_at >= s.bar_settled_onsets:
            margin = max(margin, s.bar_settled_margin)
        if (meter, phase) == (self.meter, 0) or lead <= margin:
            self._waited = 0
            return
        self._waited += 1
        # At once in the first onsets only when the notes heard lead by the margin on
        # their own: where the tune began (the corpora's pickups) does not move a bar.
        early = (reader.count <= s.bar_early and not self._tapped
                 and reader.melody_lead(meter, phase, self.meter, 0) > margin)
        sure = lead > max(s.bar_sure, margin) and not self._tapped
        if not (early or sure or long_note or self._waited >= s.bar_wait):
            return
        before = self._offset
        if meter != self.meter:
            self._meter_at = reader.count
        self.meter = meter
        self._phase = (phase - self._offset) % meter.beats_per_bar
        self._renumber(i, now)
        self._publish(i)
        reader.shift(self._offset - before)
        self._waited = 0
        self._bar_at = reader.count
        self.bar_moves += 1

    def _with_accents(self, totals: np.ndarray) -> np.ndarray:
        """The totals, the accents choosing among the best hypothesis's siblings.

        Siblings are at the best one's tempo, within ``sibling_margin`` of it: readings
        of the same rhythm with the beat at different places (in 6/8, on each eighth).
        Each loses ``bar_accent`` times how much less accent its best bar phase has than
        the most accented sibling's. Hypotheses at other tempos are not touched, so
        accents do not choose the tempo (they would favour the slowest reading whose
        beats are all accented).
        """
        s = self.settings
        bank = self._bank
        best = int(np.argmax(totals))
        family = (np.abs(bank.P / bank.P[best] - 1.0) < s.same_period) & (
            totals >= totals[best] - s.sibling_margin)
        if np.count_nonzero(family) < 2:
            return totals
        stress = bank.stress[family].max(axis=1)
        out = totals.copy()
        out[family] += s.bar_accent * (stress - stress.max())
        return out

    def _continuing_phase(self, i: int, now: float) -> int:
        """The bar phase of hypothesis ``i`` that puts a downbeat on its beat nearest
        to the published downbeat nearest to ``now``."""
        bank = self._bank
        bar = self.meter.beats_per_bar
        down = self.time_at(round(self.beat_at(now) / bar) * bar)
        own = float(bank.R[i]) + round((down - float(bank.T[i])) / float(bank.P[i]))
        return int(own) % bar

    def _renumber(self, i: int, now: float) -> None:
        """Number the leader's beats so that its next unplanned beat comes after the
        planned ones and downbeats fall on multiples of the bar."""
        bank = self._bank
        T, R, P = float(bank.T[i]), float(bank.R[i]), float(bank.P[i])
        first = math.floor(R + (now + self.horizon - T) / P) + 1
        lowest = math.floor(self._frontier) + 1
        bar = self.meter.beats_per_bar
        number = lowest + ((first - self._phase) - lowest) % bar
        self._offset = number - first
        if self._has_beat:
            self.renumberings += 1
            self._renumbered = True

    def _publish(self, i: int) -> None:
        bank = self._bank
        self._anchor_time = float(bank.T[i])
        self._anchor_beat = float(bank.R[i]) + self._offset
        self._period = float(bank.P[i])
        self._has_beat = True

    def _octave_of(self, i: int, j: int) -> float | None:
        """If hypothesis ``j``'s tempo is about half, double, a third or three times
        ``i``'s (within 15 %, loose, as during a tempo change): the ratio of their
        periods (i's over j's, rounded); else None."""
        ratio = float(self._bank.P[i] / self._bank.P[j])
        octave = _octave(ratio)
        return octave if abs(math.log(ratio / octave)) < 0.15 else None

    def _between(self, i: int, j: int, now: float) -> bool:
        """Whether hypothesis ``j`` is at ``i``'s tempo (within a tenth) with its beats
        between ``i``'s (a fifth of a beat or more off them)."""
        bank = self._bank
        if abs(math.log(float(bank.P[i] / bank.P[j]))) > 0.1:
            return False
        nb = bank.next_beats(now)
        gap = float(nb[j] - nb[i]) / float(bank.P[i])
        return abs(gap - round(gap)) >= 0.2

    def _rivals_of(self, i: int, now: float) -> np.ndarray:
        """The leader's rivals, cached for a few onsets while the bank is unchanged."""
        if self._rivals is None or self._rivals_at != self.onsets // 4:
            self._rivals = self._find_rivals(i, now)
            self._rivals_at = self.onsets // 4
        return self._rivals

    def _find_rivals(self, i: int, now: float) -> np.ndarray:
        """The hypotheses whose beats are neither the leader's nor a subset or superset
        of them (half or double time is no rival: its beats fall on the leader's)."""
        bank = self._bank
        P = bank.P
        nb = bank.next_beats(now)
        gap = nb - nb[i]
        tol = self.settings.same_phase
        ratio = P / P[i]
        slow = np.rint(ratio)
        fast = np.rint(1.0 / ratio)
        on_leader = np.abs(gap / P[i] - np.rint(gap / P[i])) < tol
        on_rival = np.abs(gap / P - np.rint(gap / P)) < tol
        nested = ((slow >= 1) & (np.abs(ratio - slow) < 0.04 * slow) & on_leader) | (
            (fast >= 2) & (np.abs(1.0 / ratio - fast) < 0.04 * fast) & on_rival
        )
        rival = ~nested
        rival[i] = False
        return rival

    def _fit(self) -> float:
        """How well the recent onsets sit on the leader's grid, 0..1 (no pulse: 0)."""
        i = self._leader_index()
        if i is None:
            return 0.0
        s = self.settings
        tight = (float(self._bank.tight[i]) - s.pulse_low) / (s.pulse_high - s.pulse_low)
        return max(0.0, min(1.0, tight, float(self._bank.fit[i]) / 0.9))

    def _freshness(self, now: float) -> float:
        if self._last_onset is None:
            return 0.0
        s = self.settings
        silent = (now - self._last_onset) / self._period
        if silent <= s.hold_beats:
            return 1.0
        return max(0.0, 1.0 - (silent - s.hold_beats) / s.fade_beats)

    @property
    def horizon(self) -> float:
        """How far ahead of now the band may have planned (s): beats up to this far ahead
        keep their numbers when the beat is renumbered. The band's lead must be shorter."""
        s = self.settings
        return max(s.horizon, s.horizon_ticks * self._period / TICKS_PER_BEAT)

    def _note_frontier(self, now: float) -> None:
        if self._has_beat:
            self._frontier = max(self._frontier, self.beat_at(now + self.horizon))

    # -- predictions ------------------------------------------------------------------

    @property
    def has_beat(self) -> bool:
        """True once an onset has been heard (or a tempo tapped): predictions exist."""
        return self._has_beat

    @property
    def chord_due(self) -> float | None:
        """When the chord being played is complete and will be heard (``advance`` then)."""
        pending = self._grouper.pending
        return None if pending is None else pending.time + self.settings.chord_window

    @property
    def bpm(self) -> float:
        return 60.0 / self._period

    @property
    def seconds_per_beat(self) -> float:
        return self._period

    def time_at(self, beat: float) -> float:
        """When beat ``beat`` (the follower's numbering) falls, as predicted now."""
        return self._anchor_time + (beat - self._anchor_beat) * self._period

    def beat_at(self, t: float) -> float:
        return self._anchor_beat + (t - self._anchor_time) / self._period

    def drive(self, clock: BeatClock) -> bool:
        """Set ``clock`` to the predicted beat (starting it if stopped), in one
        ``place``, and to the meter heard or configured; nothing is changed (or logged)
        when the clock already agrees.

        Returns True when the beats were renumbered since the last call (a new leader or
        bar phase): the band should move its next unplanned beat to
        ``clock.next_beat(now + lead)``; plans for beats that moved need re-timing.
        """
        if not self._has_beat:
            return False
        mapping = (self._anchor_time, self._anchor_beat, 60.0 / clamp_bpm(self.bpm))
        if clock.mapping() != mapping:
            clock.place(self._anchor_time, self._anchor_beat, self.bpm)
        if clock.meter != self.meter:
            clock.meter = self.meter
        clock.running = True
        renumbered, self._renumbered = self._renumbered, False
        return renumbered

    @property
    def bar_confidence(self) -> float:
        """How sure the follower is of its downbeats, 0..1: the bar reader's share of
        the reading in use among the readings of its meter (0 before any onset)."""
        return self._reader.confidence(self.meter, 0)[0]

    @property
    def meter_confidence(self) -> float:
        """How sure it is of ``meter``, 0..1: 1 for a configured meter, else the bar
        reader's share of the meter among the candidates."""
        if not self.meter_auto:
            return 1.0
        return self._reader.confidence(self.meter, 0)[1]

    def status(self) -> dict:
        return {
            "bpm": round(self.bpm, 2) if self._has_beat else None,
            "confidence": round(self.confidence, 3),
            "meter": str(self.meter),
            "meter_auto": self.meter_auto,
            "meter_confidence": round(self.meter_confidence, 3),
            "bar_confidence": round(self.bar_confidence, 3),
            "bar_moves": self.bar_moves,
            "hypotheses": len(self._bank),
            "onsets": self.onsets,
            "renumberings": self.renumberings,
            "relocks": self.relocks,
        }
