"""`instrument bench --quick`: the benchmark suite runs end to end and reports figures.

A smoke run, so the suite cannot rot; timings are printed, never asserted."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.jack, pytest.mark.slow]


def test_quick_bench_writes_results_and_plots(tmp_path):
    out = tmp_path / "bench"
    done = subprocess.run(
        [sys.executable, "-m", "instrument", "bench", "--quick", "--soak", "8", "--out", str(out)],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert results["machine"]["cores"] >= 1
    synths = {r["synth"] for r in results["key_to_sound"]}
    assert "instrument" in synths
    inst = next(r for r in results["key_to_sound"] if r["synth"] == "instrument")
    assert inst["notes"] + inst["missing"] == 8 and inst["notes"] >= 6
    assert results["onsets"][0]["chord_onsets"] > 0
    assert results["soak"]["notes_played"] > 0
    # Every cycle's callback time and entry delay, over the whole soak.
    assert results["soak"]["callback_ms"]["max"] >= results["soak"]["callback_ms"]["p99"] > 0
    assert results["soak"]["callback_start_ms"]["p50"] >= 0
    assert results["soak"]["cycles_over_period"] >= 0
    assert (out / "latency.png").stat().st_size > 5000
    steps = [r for r in results["model_steps"] if "p50_ms" in r]
    assert {r["options"] for r in steps} == {"tuned", "default"}
    assert results["streaming_vs_recompute"]["ratio"] > 1
    versus = results["xruns_vs_midisine"][0]
    assert len(versus["instrument_xruns_per_minute"]) == 1, versus
    assert len(versus["jack_midisine_xruns_per_minute"]) == 1, versus
    gig = results["long_gig"]["runs"]
    assert [r["events"] for r in gig[0]["recorder_flush"]] == [1000, 20_000]
    assert all(r["took_ms"]["p50"] > 0 for run in gig for r in run["status_snapshot"])
    print(json.dumps({k: results[k] for k in ("key_to_sound", "onsets", "soak")}, indent=1))

    # The README's table is printed from this same file; it must keep reading it.
    table_script = Path(__file__).parents[2] / "benchmarks" / "readme_table.py"
    table = subprocess.run(
        [sys.executable, str(table_script), str(out / "results.json")],
        capture_output=True, text=True, timeout=60,
    )
    assert table.returncode == 0, table.stderr
    assert table.stdout.startswith("Machine: ")
    for measure in ("key-to-sound, instrument (thru), 64 frames", "generated-note onset error",
                    "model step, continuation", "streaming vs recomputing", "xruns"):
        assert measure in table.stdout, measure
