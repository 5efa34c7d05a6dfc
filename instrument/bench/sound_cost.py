"""What the instrument's sound costs the audio callback, per block.

    python -m instrument.bench.sound_cost [--blocks 3000] [--rounds 3] [--json]

A manual pyo server (48 kHz, 64-frame blocks, no sound card) computes blocks as the
audio callback does: the planned notes due in the block (``PlannedNotes.play_due``:
voices started, paused and resumed from Python), then pyo's DSP (``server.process``).
Each block is timed; the figures are microseconds per block (mean, p50, p99, max; a
64-frame period is 1333 us). Setups, interleaved over ``rounds`` so a noisy machine
weighs on all of them alike:

- the synths alone (player, accompaniment, continuation: the sound before the band
  had a bass and drums), idle;
- every sounding part (the synths, the bass and the drum kit), idle;
- every part, the kit playing a busy pattern: eighth-note closed hats, the kick on 1
  and 3, the snare on 2 and 4, at 120 bpm;
- every part, the synths busy instead: a four-note pad chord every beat (for scale).

Benchmarks print figures and never fail on a timing. pyo allows one server per
process, so ``instrument bench`` runs this in a process of its own.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import time
from collections.abc import Callable

import numpy as np

RATE = 48000
BLOCK = 64
BPM = 120.0
SYNTHS_ONLY = ("player", "accompaniment", "continuation")

Pattern = Callable[[float], list[tuple[float, str, int, int]]]  # end -> (due, part, pitch, vel)


def _drum_pattern(end: float) -> list[tuple[float, str, int, int]]:
    from instrument.audio.drums import KIT_NOTES

    beat = 60.0 / BPM
    events = []
    for k in range(int(end / (beat / 2))):
        t = k * beat / 2
        events.append((t, "drums", KIT_NOTES["hat"], 90 if k % 2 == 0 else 70))
        if k % 2 == 0:
            events.append((t, "drums", KIT_NOTES["kick" if k % 4 == 0 else "snare"], 110))
    return events


def _chord_pattern(end: float) -> list[tuple[float, str, int, int]]:
    beat = 60.0 / BPM
    events = []
    for k in range(int(end / beat)):
        for pitch in (48, 55, 60, 64):
            events.append((k * beat, "accompaniment", pitch, 80))
            events.append(((k + 0.9) * beat, "accompaniment", pitch, 0))
    return events


def _no_notes(end: float) -> list[tuple[float, str, int, int]]:
    return []


SETUPS: dict[str, tuple[tuple[str, ...] | None, Pattern]] = {
    "synths alone, idle": (SYNTHS_ONLY, _no_notes),
    "all parts (synths, bass, kit), idle": (None, _no_notes),
    "all parts, kit busy (8th hats, kick, snare)": (None, _drum_pattern),
    "all parts, synths busy (4-note chord a beat)": (None, _chord_pattern),
}


def _run(server, parts: tuple[str, ...] | None, pattern: Pattern, blocks: int) -> np.ndarray:
    """Per-block times (seconds) of one setup, built fresh and removed afterwards."""
    from instrument.config import SynthConfig
    from instrument.live.sound_system import SoundSystem
    from instrument.names import SOUNDING_PARTS, Part
    from instrument.realtime.planned import SynthEvent

    chosen = SOUNDING_PARTS if parts is None else tuple(Part(p) for p in parts)
    sound = SoundSystem(SynthConfig(), RATE, BLOCK, parts=chosen)
    period = BLOCK / RATE
    for due, part, pitch, velocity in pattern(blocks * period):
        sound.planned.schedule(SynthEvent(due, part, pitch, velocity))
    for k in range(50):  # warm up
        sound.planned.play_due(-1.0 - (50 - k) * period)
        server.process()
    times = np.empty(blocks)
    clock = time.perf_counter
    for k in range(blocks):
        began = clock()
        sound.planned.play_due(k * period)
        server.process()
        times[k] = clock() - began
    sound.output.stop()
    del sound
    gc.collect()  # the setup's pyo objects leave the server
    return times


def measure(blocks: int = 3000, rounds: int = 3) -> dict:
    """The figures of every setup (microseconds per block) and the machine."""
    os.environ.setdefault("PYO_GUI_WX", "0")
    import pyo

    server = pyo.Server(sr=RATE, nchnls=2, buffersize=BLOCK, audio="manual", duplex=0)
    server.deactivateMidi()
    server.boot()
    server.start()
    times: dict[str, list[np.ndarray]] = {name: [] for name in SETUPS}
    for _ in range(rounds):
        for name, (parts, pattern) in SETUPS.items():
            times[name].append(_run(server, parts, pattern, blocks))
    server.stop()
    server.shutdown()
    setups = []
    for name, runs in times.items():
        us = np.concatenate(runs) * 1e6
        setups.append({
            "setup": name, "blocks": int(us.size),
            "mean_us": round(float(us.mean()), 1),
            # The median of each round's mean: what a noisy neighbour moves least.
            "round_mean_median_us": round(float(np.median([r.mean() * 1e6 for r in runs])), 1),
            "p50_us": round(float(np.percentile(us, 50)), 1),
            "p99_us": round(float(np.percentile(us, 99)), 1),
            "max_us": round(float(us.max()), 1),
        })
    return {"machine": _machine(), "rate": RATE, "block": BLOCK,
            "period_us": round(1e6 * BLOCK / RATE, 1), "setups": setups}


def _machine() -> str:
    from instrument.bench.suite import cpu_model

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{cpu_model()}, {os.cpu_count()} cores; load average {load} at the end"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m instrument.bench.sound_cost",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--blocks", type=int, default=3000, help="blocks per setup and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    res = measure(args.blocks, args.rounds)
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    print(f"{res['machine']}; {res['rate']} Hz, {res['block']}-frame blocks "
          f"(a period is {res['period_us']} us)")
    print(f"{'us per block':<46} {'mean':>7} {'p50':>7} {'p99':>7} {'max':>8}")
    for s in res["setups"]:
        print(f"{s['setup']:<46} {s['round_mean_median_us']:7.1f} {s['p50_us']:7.1f} "
              f"{s['p99_us']:7.1f} {s['max_us']:8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
