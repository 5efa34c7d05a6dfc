"""Print the README's benchmark table (markdown) from an ``instrument bench`` results.json.

    python benchmarks/readme_table.py benchmarks/results/<run>/results.json

The targets are the design guide's; the figures are copied from the file, never edited.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _fmt(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def machine_line(results: dict) -> str:
    m = results["machine"]
    return (
        f"{m['cpu']}, {m['cores']} cores ({m['arch']}), kernel {m['kernel']}, "
        f"Python {m['python']}, onnxruntime {m['onnxruntime']}, {m['jackd']}; "
        f"{m['jack_settings']}. Run {results['started']} to {results['finished']}."
    )


def rows(results: dict) -> list[tuple[str, str, str]]:
    """(measure, figure, target) rows."""
    out: list[tuple[str, str, str]] = []
    for r in results.get("key_to_sound", []):
        s = r.get("from_arrival") or {}
        if not s:
            continue
        who = "instrument (thru)" if r["synth"] != "jack_midisine" else "jack_midisine (floor)"
        target = "p50 <= 1.5 periods" if r["period"] == 64 and r["synth"] != "jack_midisine" else ""
        out.append((
            f"key-to-sound, {who}, {r['period']} frames, {r['notes']} notes",
            f"p50 {_fmt(s['p50_ms'], 3)} / p99 {_fmt(s['p99_ms'], 3)}"
            f" / max {_fmt(s['max_ms'], 3)} ms"
            f" beyond arrival (p50 {s['p50_periods']:.3f}, p99 {s['p99_periods']:.3f} periods)",
            target,
        ))
    for r in results.get("onsets", []):
        for path in ("midi_out", "audio"):
            s = r.get(path) or {}
            if not s:
                continue
            out.append((
                f"generated-note onset error, {path.replace('_', ' ')}, {r['period']} frames,"
                f" {s['count']} notes",
                f"p50 {s['p50_frames']:.0f} / p99 {s['p99_frames']:.0f} / max {s['max_frames']:.0f}"
                f" frames (p99 {s['p99_periods']:.3f} periods)",
                "p99 <= 1 period",
            ))
    for r in results.get("model_steps", []):
        if "error" in r:
            out.append((f"model step, {r['model']}, {r.get('provider', '')}", r["error"], ""))
            continue
        provider = r["provider"].replace("ExecutionProvider", "")
        out.append((
            f"model step, {r['model']}, {provider}, {r['options']} session options",
            f"p50 {r['p50_ms']:.3f} / p99 {r['p99_ms']:.3f} / p99.9 {r['p999_ms']:.3f} ms;"
            f" cold start {r['cold_start_ms']:.1f} ms",
            "p99 <= 1 ms (CPU)" if provider == "CPU" else "",
        ))
    svr = results.get("streaming_vs_recompute")
    if svr:
        out.append((
            f"streaming vs recomputing, {svr['model']}, {svr['history_notes']}-note history",
            f"{svr['stream_step_ms']:.3f} ms vs {svr['recompute_ms']:.1f} ms:"
            f" {svr['ratio']:.0f}x",
            "",
        ))
    if results.get("soak"):
        out += soak_rows(results["soak"], targets=True)
    for soak in results.get("wider_soaks", []):
        out += soak_rows(soak, targets=False)
    for versus in results.get("xruns_vs_midisine", []):
        if "error" in versus:
            continue
        out.append((
            f"xruns per minute at {versus['period']} frames, {versus['rounds']} interleaved"
            f" rounds of {versus['seconds_per_round']:.0f} s: instrument vs jack_midisine",
            f"{versus['instrument_xruns_per_minute']} vs"
            f" {versus['jack_midisine_xruns_per_minute']}",
            "no more than jack_midisine",
        ))
    for run in results.get("long_gig", {}).get("runs", []):
        if run["switch_interval_ms"] != 0.5:
            continue
        for kind, label, count in (("recorder_flush", "recorder flush", "events"),
                                   ("status_snapshot", "status snapshot", "steps")):
            first, last = run[kind][0], run[kind][-1]
            out.append((
                f"{label} after {first[count]:,} / {last[count]:,} {count}: GIL wait p99"
                " (probe floor with a core busy)",
                f"{first['gil_wait_ms']['p99']:.2f} / {last['gil_wait_ms']['p99']:.2f} ms"
                f" ({run['busy_floor_gil_wait_ms']['p99']:.2f} ms); took p50"
                f" {first['took_ms']['p50']:.2f} / {last['took_ms']['p50']:.2f} ms",
                "the same at hour three",
            ))
    return out


def soak_rows(soak: dict, targets: bool) -> list[tuple[str, str, str]]:
    """Rows of one soak; the guide's targets apply to the 64-frame one."""
    label = f"soak, accompany+continue, {soak['seconds']:.0f} s at {soak['period']} frames"
    cb = soak.get("callback_ms") or {}
    out = [
        (label + ": missed deadlines",
         f"{soak['missed_deadlines']} of {soak['model_steps']} steps"
         f" ({_fmt(soak['missed_percent'], 3)} %)", "< 0.1 %" if targets else ""),
        (label + ": xruns", f"{soak['xruns']} in {soak['jack_cycles']} JACK cycles",
         "0" if targets else ""),
        (label + ": audio callback, time it ran",
         f"p50 {_fmt(cb.get('p50'))} / p99 {_fmt(cb.get('p99'))}"
         f" / p99.9 {_fmt(cb.get('p999'))} / max {_fmt(cb.get('max'))} ms", ""),
    ]
    entry = soak.get("callback_start_ms")
    if entry:
        out.append((
            label + ": audio callback, entered after the cycle began",
            f"p50 {_fmt(entry.get('p50'))} / p99 {_fmt(entry.get('p99'))}"
            f" / p99.9 {_fmt(entry.get('p999'))} / max {_fmt(entry.get('max'))} ms;"
            f" {soak['cycles_over_period']} cycles ended more than a period after they began",
            "",
        ))
    out += [
        (label + ": late notes",
         f"synth {soak['late_notes_synth']}, MIDI out {soak['late_notes_midi_out']}"
         f" (max {_fmt(soak['max_late_ms'])} ms)", ""),
        (label + ": CPU, memory",
         f"{soak['cpu_percent']} % of one core; RSS {soak['rss_start_mib']} ->"
         f" {soak['rss_end_mib']} MiB", ""),
    ]
    return out


def table(results: dict) -> str:
    lines = ["| measure | figure | target |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows(results)]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    results = json.loads(Path(argv[0]).read_text())
    print(f"Machine: {machine_line(results)}\n")
    print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
