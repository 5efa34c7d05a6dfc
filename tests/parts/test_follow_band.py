"""The Band following the player (tempo source "follow") on the offline clock: chords land
on the beats the player played while the tempo drifts, a moved beat re-times its chord
and never doubles one, a free passage holds (MIDI clock out: tests/timing/test_transport.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from instrument.baselines.markov import MarkovContinuator
from instrument.config import Config
from instrument.engine.engine import Engine
from instrument.evaluation.band import submit_performance
from instrument.follow.performance import Performance, PerformanceStyle, perform
from instrument.models.tune import read_midi
from instrument.music import Meter
from instrument.parts.factory import LoadedModels, build_band
from instrument.realtime.router import InputEvent
from instrument.timing.clock import OfflineClock
from tests.parts.test_band import Transcript

DATA = Path(__file__).parents[1] / "data"


def rig(source="follow", mode="accompany", send_clock=False, meter="4/4", style="pad"):
    """The band following; the pad style by default, whose chords fall on beats only."""
    config = Config()
    config.mode = mode
    config.accompaniment.style = style
    config.tempo.source = source
    config.tempo.send_clock = send_clock
    config.tempo.meter = meter
    clock = OfflineClock()
    out = Transcript()
    markov = MarkovContinuator.from_prior(config.models_dir() / config.models.markov_prior)
    engine = None
    band = build_band(
        config, LoadedModels(None, None, markov, []), clock.now,
        cancel=lambda part: engine.cancel(part), live=False, seed=1,
        retime=lambda part, move: engine.retime(part, move),
    )
    engine = Engine(clock, [out], parts=[band], late_leads=band.late_leads)
    return engine, band, out


def play(engine, performance: Performance) -> float:
    """Note-ons as performed, each held until just before the next; returns the end."""
    return submit_performance(engine, performance)


def chord_errors(out, performance: Performance, after_bars: float = 2.0) -> np.ndarray:
    """Each chord onset against the nearest played beat, after the first bars and until
    the last note (ms)."""
    starts = sorted({t for t, _ in out.onsets("accompaniment")})
    beats = performance.beat_times
    first = beats[0] + after_bars * performance.beats_per_bar * np.median(np.diff(beats))
    last = performance.onsets[-1][0]
    return np.array([1000 * np.min(np.abs(beats - t)) for t in starts if first <= t <= last])


STYLE = PerformanceStyle(bpm=(75.0, 135.0), slips=0.0)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_chords_land_on_the_beats_the_player_plays_while_the_tempo_drifts(seed):
    performance = perform(read_midi(DATA / "reel_4-4.mid"), seed, STYLE)
    followed = []
    for source in ("follow", "internal"):
        engine, _band, out = rig(source)
        engine.advance_to(play(engine, performance) + 8.0)  # it rests two bars after
        errors = chord_errors(out, performance)
        assert errors.size >= 4, (source, errors)
        followed.append(errors)
        assert out.unfinished("accompaniment") == set()
    follow, fixed = followed
    print(f"\nstarting at {performance.start_bpm:.0f} bpm (configured 100): chord onsets vs "
          f"played beats p50/p90 {np.median(follow):.1f}/{np.percentile(follow, 90):.1f} ms "
          f"following, {np.median(fixed):.1f}/{np.percentile(fixed, 90):.1f} ms fixed")
    assert np.median(follow) <= 25 and np.percentile(follow, 90) <= 60
    assert np.median(follow) < np.median(fixed) / 2


def test_a_beat_is_never_decided_twice_and_nothing_is_left_sounding():
    for seed in range(4, 10):
        performance = perform(read_midi(DATA / "jig_6-8.mid"), seed)
        engine, band, out = rig("follow", meter="6/8")
        engine.advance_to(play(engine, performance) + 8.0)
        beats = [c.beat for c in band.accompaniment.history]
        assert len(beats) == len(set(beats)) and beats == sorted(beats), beats
        starts = sorted({t for t, _ in out.onsets("accompaniment")})
        gaps = np.diff(starts)
        assert gaps.size == 0 or gaps.min() > 0.2, gaps.min()  # never two chords a flam apart
        assert out.unfinished("accompaniment") == set()


def test_free_playing_holds_the_chord_instead_of_flailing():
    rng = np.random.default_rng(5)
    engine, band, out = rig("follow")
    # Two steady bars, then eight seconds of notes at random times: no pulse.
    times = [0.6 * i for i in range(8)]
    times += sorted(4.8 + rng.uniform(0, 8.0, 24))
    for t in times:
        pitch = int(rng.integers(60, 72))
        engine.submit(InputEvent(t, (0x90, pitch, 80)))
        engine.submit(InputEvent(t + 0.05, (0x80, pitch, 0)))
    unsure, decided = [], []
    for t in np.arange(4.8, 12.8, 0.1):
        engine.advance_to(t)
        unsure.append(band.transport.follower.confidence < 0.5)
        decided.append(len(band.accompaniment.history))
    # Within about two bars of free playing it loses the pulse and holds for a while
    # (a second at least), deciding fewer chords than there were beats.
    held = max(len(run) for run in "".join("x" if u else " " for u in unsure).split())
    beats = 8.0 / band.clock.seconds_per_beat
    print(f"\nfree playing: held {held / 10:.1f} s at most; {decided[-1] - decided[0]} chords "
          f"decided in 8 s ({beats:.0f} beats)")
    assert held >= 10
    assert decided[-1] - decided[0] < beats
    engine.advance_to(30.0)
    assert out.unfinished("accompaniment") == set()


def test_with_the_meter_auto_the_band_plays_in_the_meter_it_hears():
    """``[tempo] meter = "auto"``: a waltz played to a box told nothing of its meter; the
    beat clock (and so the chords' bars and the status) takes the 3/4 the follower hears."""
    from tests.follow.test_bar import FLAT, WALTZ, tune

    engine, band, out = rig(meter="auto")
    assert str(band.clock.meter) == "4/4"  # until the player has been heard
    performance = perform(tune("waltz", Meter(3, 4), WALTZ, unit=12), 0, FLAT)
    engine.advance_to(play(engine, performance))
    assert str(band.clock.meter) == "3/4"
    follow = band.status()["follow"]
    assert follow["meter_auto"] and follow["meter"] == "3/4"
    assert follow["meter_confidence"] > 0.5
    assert out.onsets("accompaniment")


def test_a_configured_meter_is_kept():
    from tests.follow.test_bar import FLAT, WALTZ, tune

    engine, band, _out = rig(meter="3/4")
    performance = perform(tune("waltz", Meter(3, 4), WALTZ, unit=12), 0, FLAT)
    engine.advance_to(play(engine, performance))
    follow = band.status()["follow"]
    assert str(band.clock.meter) == "3/4" and not follow["meter_auto"]
