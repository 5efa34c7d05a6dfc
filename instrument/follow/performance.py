"""Played performances of grid tunes: the tempo curves of a musician without a click.

:func:`perform` turns a :class:`~instrument.models.tune.Tune` into note-ons in seconds
as a player might play it, seeded and reproducible:

- a starting tempo anywhere in ``PerformanceStyle.bpm`` (whatever the follower is told);
- a drift: at each phrase boundary (every 4 to 8 bars) the tempo heads for a new value
  up to ``drift`` away from the last one, linearly over the phrase;
- rubato: each beat's length is scaled by a random 1 to 2 % (the share is per tune);
- a ritardando over the last bars;
- each note a few ms off (motor noise), and now and then one tens of ms early or late;
- velocities around a level that wanders from bar to bar (``level_walk``, sd per bar) with
  ``velocity_noise`` per note, and accents on downbeats and beats whose strength differs
  from tune to tune (from none to clear); all three 0: flat velocities.

``ISSUE_17`` is the drifting case of issue 17 (80-150 bpm, drift of up to 12 % per
sixteen bars, 1.5 % rubato, 4 ms jitter, flat velocities); ``STEADY`` a steady player
(no drift, 0.5 % rubato, 4 ms jitter, flat velocities).

The played beats (``beat_times``: the time of every grid beat from the one holding the
first note to the one after the last) are the truth the follower is scored against.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from instrument.models.tune import Tune
from instrument.music import TICKS_PER_BEAT


@dataclass(frozen=True)
class PerformanceStyle:
    bpm: tuple[float, float] = (70.0, 140.0)  # starting tempo, uniform in this range
    drift: float = 0.12  # most relative tempo change over one phrase
    phrase_bars: tuple[int, int] = (4, 8)
    tempo_range: tuple[float, float] = (0.75, 1.33)  # drift stays within this of the start
    rubato: tuple[float, float] = (0.01, 0.02)  # sd of each beat's length (share)
    ritardando: tuple[float, float] = (0.15, 0.4)  # the last beat this much longer
    ritardando_bars: float = 2.0
    jitter: float = 0.008  # sd of each note's time (s)
    slips: float = 0.03  # share of notes played early or late ...
    slip: tuple[float, float] = (0.02, 0.06)  # ... by this much (s)
    accent: tuple[float, float] = (0.0, 1.0)  # accent strength per tune (1: clear)
    chords: float = 0.0  # chance that a tune's second track is played with the melody
    chord_spread: float = 0.02  # chord notes up to this late after the first (s)
    level_walk: float = 4.0  # sd of the velocity level's step from bar to bar
    velocity_noise: float = 6.0  # sd of each note's velocity around the level


ISSUE_17 = PerformanceStyle(
    bpm=(80.0, 150.0), drift=0.12, phrase_bars=(16, 16), rubato=(0.015, 0.015), jitter=0.004,
    accent=(0.0, 0.0), level_walk=0.0, velocity_noise=0.0)
STEADY = PerformanceStyle(
    bpm=(80.0, 150.0), drift=0.0, rubato=(0.005, 0.005), ritardando=(0.0, 0.0), jitter=0.004,
    slips=0.0, accent=(0.0, 0.0), level_walk=0.0, velocity_noise=0.0)


@dataclass
class Performance:
    tune: Tune
    onsets: list[tuple[float, int, int]]  # (time, pitch, velocity), in time order
    first_beat: int  # grid beat of beat_times[0]
    beat_times: np.ndarray  # played time of each grid beat from first_beat on
    start_bpm: float

    @property
    def beats_per_bar(self) -> int:
        return self.tune.meter.beats_per_bar

    def time_of(self, beat: float) -> float:
        """Played time of grid position ``beat`` (in beats; linear within a beat)."""
        x = np.arange(len(self.beat_times)) + self.first_beat
        return float(np.interp(beat, x, self.beat_times))

    def beat_of(self, t: float) -> float:
        """Grid position (in beats) played at time ``t``."""
        x = np.arange(len(self.beat_times)) + self.first_beat
        return float(np.interp(t, self.beat_times, x))


def _tempo_curve(n: int, bar: int, style: PerformanceStyle, rng: np.random.Generator):
    """Tempo multiplier per beat: piecewise linear, a new target at each phrase."""
    knots_at = [0]
    while knots_at[-1] < n:
        knots_at.append(knots_at[-1] + bar * int(rng.integers(style.phrase_bars[0],
                                                              style.phrase_bars[1] + 1)))
    lo, hi = style.tempo_range
    values = [1.0]
    for _ in knots_at[1:]:
        step = rng.uniform(1.0 - style.drift, 1.0 + style.drift)
        values.append(float(np.clip(values[-1] * step, lo, hi)))
    return np.interp(np.arange(n), knots_at, values)


def perform(tune: Tune, seed: int, style: PerformanceStyle | None = None) -> Performance:
    """A played performance of ``tune`` (see the module docstring)."""
    style = style or PerformanceStyle()
    rng = np.random.default_rng(seed)
    tpb = TICKS_PER_BEAT
    bar = tune.meter.beats_per_bar
    parts = [tune.melody]
    if tune.accompaniment and rng.random() < style.chords:
        parts.append(tune.accompaniment)
    notes = sorted((n for part in parts for n in part), key=lambda n: (n.onset, -n.pitch))
    first_beat = notes[0].onset // tpb
    last_beat = -(-max(n.onset + max(n.duration, 1) for n in notes) // tpb) + 1
    n_beats = last_beat - first_beat + 1

    start_bpm = float(rng.uniform(*style.bpm))
    curve = _tempo_curve(n_beats, bar, style, rng)
    lengths = 60.0 / (start_bpm * curve)
    lengths *= 1.0 + rng.normal(0.0, rng.uniform(*style.rubato), n_beats)
    rit_beats = max(1, round(style.ritardando_bars * bar))
    ramp = np.clip((np.arange(n_beats) - (n_beats - 1 - rit_beats)) / rit_beats, 0.0, 1.0)
    lengths *= 1.0 + rng.uniform(*style.ritardando) * ramp
    beat_times = np.concatenate([[0.0], np.cumsum(lengths[:-1])]) + 1.0
    perf = Performance(tune, [], first_beat, beat_times, start_bpm)

    accent = rng.uniform(*style.accent)
    level = rng.uniform(50.0, 90.0)
    levels: dict[int, float] = {}
    onsets = []
    prev_time = -np.inf
    prev_tick = None
    for n in notes:
        bar_index = n.onset // (bar * tpb)
        if bar_index not in levels:
            level = float(np.clip(level + rng.normal(0.0, style.level_walk), 35.0, 110.0))
            levels[bar_index] = level
        t = perf.time_of(n.onset / tpb) + rng.normal(0.0, style.jitter)
        if rng.random() < style.slips:
            t += rng.choice((-1.0, 1.0)) * rng.uniform(*style.slip)
        if prev_tick is not None and n.onset == prev_tick:  # a chord note
            t = prev_time + rng.uniform(0.0, style.chord_spread)
        elif prev_tick is not None:
            gap = perf.time_of(n.onset / tpb) - perf.time_of(prev_tick / tpb)
            t = max(t, prev_time + 0.5 * gap)
        in_beat = n.onset % tpb
        beat_in_bar = (n.onset // tpb) % bar
        stress = 0.0
        if in_beat == 0:
            stress = 10.0 if beat_in_bar == 0 else (5.0 if 2 * beat_in_bar == bar else 3.0)
        velocity = level + accent * stress + rng.normal(0.0, style.velocity_noise)
        onsets.append((float(t), n.pitch, int(np.clip(round(velocity), 1, 127))))
        if prev_tick is None or n.onset != prev_tick:
            prev_time, prev_tick = t, n.onset
    onsets.sort()
    perf.onsets = onsets
    return perf
