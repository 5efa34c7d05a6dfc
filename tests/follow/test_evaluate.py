"""The follower's evaluation: played performances, the band's causal reading of the
predictions, the scoring, and `instrument evaluate DIR --follow`."""

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from instrument.follow import BeatFollower
from instrument.follow.evaluate import (
    IN_PHASE,
    FixedTempo,
    count_in,
    follower_factory,
    miss_kind,
    simulate,
    tapped_factory,
)
from instrument.follow.performance import ISSUE_17, PerformanceStyle, perform
from instrument.follow.report import evaluate_files, read_tunes
from instrument.models.tune import Tune
from instrument.music import GridNote, Meter

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"


def _scale_tune(bars: int = 16) -> Tune:
    """Eighths and quarters in 4/4, a varied line."""
    notes, tick = [], 0
    pitches = (60, 62, 64, 65, 67, 65, 64, 62)
    for i in range(bars * 6):
        length = 12 if i % 3 == 0 else 6
        notes.append(GridNote(pitches[i % 8], tick, length, 80))
        tick += length
    return Tune("scale", Meter(4, 4), notes, [])


STEADY_100 = PerformanceStyle(bpm=(100.0, 100.0), drift=0.0, rubato=(0.0, 0.0),
                              ritardando=(0.0, 0.0), jitter=0.0, slips=0.0)


def test_a_performance_follows_its_tempo_curve():
    tune = _scale_tune()
    perf = perform(tune, 1, PerformanceStyle(bpm=(80.0, 80.0), drift=0.12))
    lengths = np.diff(perf.beat_times)
    assert lengths[0] == pytest.approx(0.75, rel=0.1)  # 80 bpm at the start
    assert lengths[-1] > 1.1 * np.median(lengths[-12:-8])  # the ritardando
    assert perf.time_of(perf.beat_of(3.0)) == pytest.approx(3.0)
    times = [t for t, _p, _v in perf.onsets]
    assert times == sorted(times) and len(times) == len(tune.melody)


def test_at_the_configured_tempo_both_clocks_are_right_and_scored_as_such():
    perf = perform(_scale_tune(), 0, STEADY_100)
    fixed = simulate(perf, FixedTempo(Meter(4, 4), 100.0))
    assert max(abs(e) for e in fixed.errors_ms) < 1.0
    assert fixed.kind == "same" and fixed.bar_phase
    followed = simulate(perf, BeatFollower(Meter(4, 4), 100.0))
    assert max(abs(e) for e in followed.errors_ms) < 5.0
    assert followed.kind == "same" and followed.bar_phase and followed.on_beat
    assert followed.bars_to_lock is not None and followed.bars_to_lock <= 1.0
    assert len(followed.cost_us) == len(perf.onsets)


def test_away_from_the_configured_tempo_the_fixed_clock_drifts_off_and_the_follower_not():
    perf = perform(_scale_tune(), 0, PerformanceStyle(bpm=(120.0, 120.0), drift=0.0))
    fixed = simulate(perf, FixedTempo(Meter(4, 4), 100.0))
    followed = simulate(perf, BeatFollower(Meter(4, 4), 100.0))
    assert np.percentile(np.abs(fixed.errors_ms), 50) > 100.0
    assert np.percentile(np.abs(followed.errors_ms), 90) < 30.0
    assert fixed.kind == "other" and followed.kind == "same"


def test_a_follower_told_the_tempo_roughly_is_told_each_players_start_a_tenth_fast():
    perf = perform(_scale_tune(), 0, PerformanceStyle(bpm=(60.0, 180.0)))
    assert follower_factory(None)(perf).tempo == pytest.approx(1.1 * perf.start_bpm)
    assert follower_factory()(perf).tempo == 100.0
    assert follower_factory(None)(perf).meter == Meter(4, 4)


@pytest.mark.parametrize("name", ["chorale_4-4", "jig_6-8", "reel_4-4", "song_3-4"])
def test_a_tapped_in_follower_is_counted_in_on_a_played_downbeat_and_plays_in_phase(name):
    # Three of the four files begin with a pickup; the tap falls on the downbeat a bar
    # before the first note's bar, at the played tempo, and sets the beat and the bar.
    from instrument.models.tune import read_midi

    perf = perform(read_midi(DATA / f"{name}.mid"), 0, ISSUE_17)
    period = perf.beat_times[1] - perf.beat_times[0]
    bpm, t = count_in(perf)
    assert bpm == pytest.approx(60.0 / period)
    tapped_beat = perf.first_beat - (perf.beat_times[0] - t) / period
    bar = perf.beats_per_bar
    assert tapped_beat == pytest.approx(round(tapped_beat)) and round(tapped_beat) % bar == 0
    assert 0 < perf.onsets[0][0] - t <= 2 * bar * period  # within the two bars before
    followed = simulate(perf, tapped_factory()(perf), measure_cost=False)
    assert followed.kind == "same" and followed.downbeat_f1_4 >= IN_PHASE


def test_a_tune_out_of_phase_is_put_down_to_its_beat_or_its_bar():
    perf = perform(_scale_tune(), 0, STEADY_100)
    right = simulate(perf, FixedTempo(Meter(4, 4), 100.0))
    assert miss_kind(right) is None
    # The same clock started two beats late: the right beat, every downbeat on beat 3.
    late = FixedTempo(Meter(4, 4), 100.0)
    late.onset(perf.onsets[0][0] + 2 * 0.6, 60, 80)
    assert miss_kind(simulate(perf, late)) == "phase 4/4 off 2"
    # At half the played tempo: the beat itself is wrong.
    assert miss_kind(simulate(perf, FixedTempo(Meter(4, 4), 50.0))) == "level half"
    # Right for its first twelve bars, then a beat off: lost mid-tune, not found late.
    assert miss_kind(simulate(perf, _SlipsAt(Meter(4, 4), 100.0, 12 * 2.4))) == "lost mid-tune"
    # A beat off until the ninth bar of 24, then right: found late.
    longer = perform(_scale_tune(24), 0, STEADY_100)
    late = _SlipsAt(Meter(4, 4), 100.0, 9 * 2.4)
    late.onset(longer.onsets[0][0] + 0.6, 60, 80)
    assert miss_kind(simulate(longer, late)) == "found late"


class _SlipsAt(FixedTempo):
    """The fixed clock that, ``after`` seconds from its start, counts each beat as the
    one after it: its downbeats fall a beat earlier in the played bar from then on."""

    def __init__(self, meter: Meter, bpm: float, after: float) -> None:
        super().__init__(meter, bpm)
        self.after = after
        self.now = 0.0
        self.slipped = False

    def onset(self, t: float, pitch: int, velocity: int) -> None:
        super().onset(t, pitch, velocity)
        self.now = t

    def advance(self, now: float) -> None:
        self.now = now

    def drive(self, clock) -> bool:
        super().drive(clock)
        if self.slipped or self.start is None or self.now < self.start + self.after:
            return False
        self.slipped = True
        clock.start(self.start - 60.0 / self.bpm, 0.0)
        return True


def test_evaluating_the_shipped_files_reports_both_clocks():
    result = evaluate_files(read_tunes(DATA), performances=2, seed=0)
    assert result["files"] == 4
    follow, fixed = result["follow"], result["fixed"]
    assert follow["tunes"] == fixed["tunes"] == 8
    assert follow["beats_scored"] > 100 and fixed["beats_scored"] > 100
    assert follow["error_ms_p50"] < fixed["error_ms_p50"] / 4
    for key in ("error_ms_p90", "bars_to_lock_p50", "half_time_share", "double_time_share",
                "wrong_bar_phase_share", "cost_us_p50", "cost_us_p99"):
        assert key in follow


def test_instrument_evaluate_follow_prints_json(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "instrument", "evaluate", str(DATA), "--follow", "--json",
         "--performances", "1"],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert set(out) >= {"follow", "fixed", "files"}
    empty = subprocess.run(
        [sys.executable, "-m", "instrument", "evaluate", str(tmp_path), "--follow"],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )
    assert empty.returncode == 1 and "no .mid" in empty.stderr


def _stderr_on_a_terminal(args: list[str]) -> tuple[subprocess.CompletedProcess, str]:
    """Run ``args`` with stderr on a pseudo-terminal; the process and what it wrote there."""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=follower, text=True,
                              cwd=REPO, timeout=120)
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal's other end is closed: all read
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(leader)
    return proc, b"".join(chunks).decode()


def test_instrument_evaluate_follow_counts_performances_on_a_terminal_only():
    args = [sys.executable, "-m", "instrument", "evaluate", str(DATA), "--follow",
            "--performances", "1"]
    files = len(read_tunes(DATA))
    shown, terminal = _stderr_on_a_terminal(args)
    assert shown.returncode == 0
    assert f"performances: {files}/{files}" in terminal
    assert "performances:" not in shown.stdout  # the table stays clean
    quiet, terminal = _stderr_on_a_terminal([*args, "--json"])
    assert quiet.returncode == 0 and json.loads(quiet.stdout)["files"] == files
    assert "performances" not in terminal
