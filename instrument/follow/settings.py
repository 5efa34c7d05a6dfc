"""The follower's parameters, in one place, with what each one trades."""

from __future__ import annotations

from dataclasses import dataclass, field

from instrument.follow.bar import BarWeights


@dataclass
class FollowSettings:
    """Parameters of :class:`instrument.follow.BeatFollower`.

    Times are in seconds; ``*_beats`` in beats of the current tempo. The defaults were
    chosen on the training split of the corpora (``python -m training.evaluate_follow``).
    """

    chord_window: float = 0.04  # notes this close to a group's first note are one onset

    # Tracking: a Kalman filter over (time of a beat, seconds per beat) per hypothesis.
    timing_noise: float = 0.018  # onsets' scatter around the grid (s)
    phase_noise: float = 0.012  # random walk of beat times, share of a beat per beat
    tempo_noise: float = 0.015  # random walk of the period, share of it per beat
    outlier_sigmas: float = 1.5  # an onset further off than this is down-weighted (Huber)
    outlier_power: float = 2.0  # its observation variance grows with (distance / that) ** this
    drift_rate: float = 0.3  # how fast the running mean of the onsets' lateness moves
    drift_gain: float = 16.0  # and how much it widens the tempo's random walk
    max_tempo_step: float = 0.05  # the period moves at most this share per beat (clamp)

    # Lock: competing hypotheses scored against the metrical prior and the accents.
    prior_octaves: float = 0.35  # sd of the tempo prior around the configured tempo
    # A second tempo prior, whatever the configured tempo: the beat rate music is mostly
    # felt and notated at (about 2 Hz; van Noorden & Moelants 1999, Moelants 2002). On
    # dev, 300 tunes told 100 bpm, played at 80-150 (issue17 / steady): in phase after
    # four bars 75.7 / 78.0 % without it, 80.3 / 82.0 % with it; half-time tunes
    # 29 / 28 -> 12 / 14, double-time 2 / 1 unchanged (sd 0.4: 81.3 %, 10 half;
    # 0.7: 79.0 %, 15; 1.0: 76.7 %, 25; issue17, before the fade near the told tempo,
    # which keeps a song told 90 and played at 90 from starting at 98).
    resonance_bpm: float = 120.0  # its centre ...
    resonance_octaves: float = 0.5  # ... and sd (0: none) ...
    resonance_near: float = 0.25  # ... fading out within about this of the told tempo
    min_lock_bpm: float = 40.0  # the tempos a lock may start from
    max_lock_bpm: float = 240.0
    lock_periods: int = 21  # starting tempos tried, log-spaced over that range
    bank_size: int = 160  # most hypotheses alive at once
    forget: float = 0.98  # per onset: old evidence fades (a window of ~50 onsets)
    style_forget: float = 0.98  # the same for the rhythm lattice's evidence ...
    style_weight: float = 1.0  # ... which counts this much (its styles are coarse)
    lattice_prior_beats: float = 32.0  # the styles count as this many beats of a tune
    count_forget: float = 0.995  # per onset: how fast the learned rhythm fades
    bar_accent: float = 0.5  # weight of accents on downbeats (choosing among siblings)
    length_accent: float = 0.25  # weight of a note's length in its accent
    melody_weight: float = 0.5  # weight of the melodic intervals at each place in the beat
    switch_margin: float = 1.5  # a rival must beat the leader by this (log-likelihood)
    sibling_margin: float = 3.0  # same-tempo hypotheses this close: accents choose
    octave_margin: float = 8.0  # half or double time of the leader must beat it by this ...
    octave_after: int = 16  # ... once the leader has heard this many onsets
    # A tapped beat (until a pause): a reading at its tempo with its beats between the
    # tapped ones must beat it by tap_margin, and the tapped tempo is sure to tap_tempo_sd
    # (sd, a share of the period; a preset's is 4 * tempo_noise). Tapped in (the played
    # tempo on the downbeat a bar before the first note's bar; training.evaluate_follow
    # --tapped), 300 dev tunes (issue17) in phase after four bars: 87.7 % before (a tap
    # overturned by any rival winning by switch_margin, its tempo as unsure as a
    # preset's, its beat lost to a twin that had not paid for the count-in's silence);
    # with the twin keeping its place (merge_and_prune's leader) and 0.03: tap_margin
    # 1.5 88.0 %, 4 89.7 %, 8 86.7 % (a tapped beat held against notes that rightly
    # correct it). Validation 88.0 -> 88.7 % (not tapped: 84.7 %).
    tap_margin: float = 4.0
    tap_tempo_sd: float = 0.03
    prune_margin: float = 30.0  # hypotheses this far behind the leader are dropped
    same_period: float = 0.03  # two hypotheses within this share of a period ...
    same_phase: float = 0.06  # ... and this share of a beat apart are one (merged)
    merge_every_above: int = 16  # merge at every onset above this many, else every 4th

    # The bar: rival readings (meter, phase) scored by the melody (instrument.follow.bar).
    bar_weights: BarWeights = field(default_factory=BarWeights)  # what each cue counts
    bar_history: int = 64  # onsets the bar reader scores ...
    bar_decay: float = 0.99  # ... each older one counting this much less
    # A reading must beat the one in use by this to move the bar ... On 600 dev tunes
    # (issue17 / steady, meter set) in phase after four bars 82.5 / 86.7 % at 1, 83.3 /
    # 87.0 % at 2 (1.5: 82.8 / 86.8, 2.5: 83.3 / 87.0, 3: 83.0 / 86.7, 4: 82.5 / 85.8),
    # bar moves per tune 1.13 / 1.01 -> 0.87 / 0.75: a lead of one nat was often noise.
    bar_margin: float = 2.0
    bar_early: int = 12  # ... at once within this many onsets of the start, later ...
    bar_long_note: float = 0.9  # ... after a note this many beats long (a phrase end) ...
    bar_wait: int = 24  # ... or once it has led for this many onsets
    # ... or at once when it leads by this much (unless a tap set the bar). On 600 dev
    # tunes (issue17 / steady; meter set, then heard) in phase after four bars 81.7 /
    # 86.5 %, 63.7 / 67.5 % without it, 82.5 / 86.7 %, 65.2 / 69.5 % at 6; at 4, 8 and
    # 16 on 300 of them the same within a point. A reading far ahead had waited up to
    # bar_wait onsets for a long note, playing a beat off for several bars.
    bar_sure: float = 6.0
    # A bar kept for this many onsets while the beat stayed on its grid (no bar move,
    # no new leader placed on another grid, no re-lock) is settled: a musician who has
    # counted it for bars does not move it on a small lead. Then a reading must lead by
    # bar_settled_margin to move it (by whatever trigger). The dev misses after four bars
    # were mostly a bar in phase moved off mid-tune on a lead of 2.4 to 4.3 nats at a
    # long note and moved back bars later. On 600 dev tunes (issue17 / steady, meter
    # set) in phase after four bars 84.5 / 86.8 % without it, 85.0 / 87.3 % at 32 and 6
    # (issue17: 32 and 4 84.8 %, 48 and 6 84.8 %, 16 and 4 or 6 83.8-84.0 %: a bar found
    # in the first bars still needs to move easily); with the meter heard (300 tunes)
    # unchanged. 0: off.
    bar_settled_onsets: int = 32
    bar_settled_margin: float = 6.0
    meter_margin: float = 4.0  # a heard meter must beat the one in use by this
    # ... or by bar_margin while the one in use was taken fewer than this many onsets ago.
    # Dev (issue17 600 / steady 300 tunes, meter heard): in phase after four bars 59.7 /
    # 69.7 -> 61.2 / 72.0 %, meter right 78.0 / 79.5 -> 78.0 / 81.6 % (48: 61.3 / 72.7,
    # 77.5 / 81.6 %); a 2/4 song read as 3/4 on its first bars had held 3/4 to the end.
    meter_settle: int = 24
    kind_margin: float = 6.0  # meter heard: the other kind's bank must beat the leader by this
    # ... and the compound one, once the simple one has held this many onsets, by
    # kind_late_margin. On 300 dev tunes (issue17) 10 of 12 switches to compound after
    # 24 onsets took a simple tune for 6/8 (7 of the 48 earlier ones); meter right 83.0 -> 84.4 %,
    # in phase after four bars 69.7 % either way (steady: 85.4 -> 85.8 %, 73.3 -> 73.0 %).
    kind_after: int = 24
    kind_late_margin: float = 12.0
    # Meter heard: a new leader at a tempo this far from the old one (log ratio) has the
    # bar reader start afresh (where the tune began kept). Dev (600 tunes, issue17): in
    # phase after four bars 58.8 -> 59.7 %, meter right 76.4 -> 78.0 % (for a set meter
    # it cost 0.7 points of phase: off there).
    meter_forget: float = 0.1

    # Pulse and pauses.
    hold_beats: float = 4.5  # silence this long leaves the confidence as it was ...
    fade_beats: float = 4.0  # ... then it falls to zero over this many more beats
    pause_beats: float = 8.0  # after silence this long the next onset re-locks
    relock_prior_octaves: float = 0.2  # after a pause the old tempo is the prior
    relock_bonus: float = 3.0  # and the old beat a head start, should the player be in time
    lost_fit: float = 0.5  # the leader's share of fitting onsets below which it re-locks
    pulse_window: float = 0.025  # an onset this close to the leader's grid is on it ...
    pulse_window_share: float = 24.0  # ... (or a beat over this at fast tempos)
    pulse_rate: float = 0.1  # how fast the share of onsets on the grid follows them
    pulse_low: float = 0.45  # confidence is 0 with this share of recent onsets on the grid
    pulse_high: float = 0.7  # ... and 1 from this share on (on top of the other terms)

    # Numbering: beats the band may already have planned are never renumbered.
    horizon: float = 0.15  # how far ahead of now the band plans (s) ...
    horizon_ticks: int = 3  # ... or grid ticks, whichever is longer (its lead: 2 ticks)
