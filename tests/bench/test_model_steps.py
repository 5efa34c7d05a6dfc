"""The latency benchmark runs and reports per-step percentiles for tuned and default options."""

from __future__ import annotations

from instrument.bench import model_steps as bench


def test_bench_reports_percentiles_for_both_session_settings():
    res = bench.run(steps=60, providers=["cpu"], models_dir=None)
    for name in ("continuation", "accompaniment"):
        for label in ("tuned", "default"):
            r = res[name][label]
            assert r["run"]["n"] >= 60 and r["step"]["n"] == 60
            assert 0 < r["run"]["p50"] <= r["run"]["p99"] <= r["run"]["p99.9"]
            assert r["step"]["p50"] >= r["run"]["p50"]  # a step includes its run
        adaptive = res[name]["tuned"]["adaptive"]
        assert adaptive["n"] == 60 and adaptive["p50"] >= res[name]["tuned"]["run"]["p50"]
    for name in ("markov", "rules", "markov_adaptive", "rules_adaptive"):
        assert res[name]["step"]["n"] == 60
    # The shipped accompaniment plays with its policy and the melody forecast, which steps
    # the continuation model mostly before the deadlines: timed apart, twice a beat (the
    # beat's notes as they are heard, the note sounding on after the decision).
    tuned = res["accompaniment"]["tuned"]
    assert tuned["adaptive_policy"]["n"] == tuned["adaptive_policy_foresight"]["n"] == 60
    ahead = tuned["adaptive_policy_foresight_ahead"]
    assert ahead["n"] == 2 * 60
    assert ahead["p99"] >= res["continuation"]["tuned"]["run"]["p50"]
