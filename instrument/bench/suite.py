"""The benchmark suite behind ``instrument bench``: runs every measurement, writes
``results.json`` and PNG histograms into an output folder, and returns the results.

Benchmarks print figures and never fail on a timing. Each figure carries the machine
and the settings it came from.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from instrument.bench import jackd, latency, long_gig, onsets, soak, steps, xruns
from instrument.bench.rig import jack_environment

log = logging.getLogger(__name__)

# A few public-domain tunes from music21's corpora (the same as tests/data).
DATA = Path(__file__).resolve().parents[1] / "tunes"


@dataclass
class Sizes:
    periods: tuple[int, ...]
    latency_notes: int
    onset_phrases: int
    model_steps: int
    soak_seconds: float
    # Shorter soaks at larger periods, to show what a machine that xruns at 64 frames
    # can hold: (period, seconds).
    wider_soaks: tuple[tuple[int, float], ...] = ()
    # xruns against jack_midisine: periods, interleaved rounds, seconds a round.
    xrun_periods: tuple[int, ...] = (64,)
    xrun_rounds: int = 1
    xrun_seconds: float = 5.0
    # A synthetic long gig: recorder events and model steps behind it, and repeats.
    gig_events: int = 20_000
    gig_steps: int = 2_000
    gig_repeats: int = 20
    # The sound's cost per audio block (``sound_cost``): blocks per setup, rounds.
    sound_blocks: int = 3000
    sound_rounds: int = 3

    @classmethod
    def quick(cls) -> Sizes:
        return cls(periods=(64,), latency_notes=8, onset_phrases=1, model_steps=200,
                   soak_seconds=15.0, sound_blocks=300, sound_rounds=1)

    @classmethod
    def full(cls) -> Sizes:
        return cls(periods=(64, 128, 256), latency_notes=200, onset_phrases=10,
                   model_steps=20000, soak_seconds=600.0,
                   wider_soaks=((128, 120.0), (256, 120.0)),
                   xrun_periods=(64, 128), xrun_rounds=3, xrun_seconds=60.0,
                   gig_events=200_000, gig_steps=200_000, gig_repeats=200)


def _soak(work: Path, tune: Path, period: int, seconds: float) -> dict:
    """One soak on a JACK server started as on stage (see ``soak``)."""
    log.info("soak: %.0f s in accompany+continue at %d frames", seconds, period)
    server = jackd.start_private_jackd(period, jackd.STAGE_FLAGS)
    try:
        with jack_environment(server):
            return soak.measure(server, work, tune, seconds).summary()
    finally:
        server.stop()


def _sound_cost(sizes: Sizes) -> dict:
    """``sound_cost`` in a process of its own (pyo allows one server per process)."""
    done = subprocess.run(
        [sys.executable, "-m", "instrument.bench.sound_cost", "--json",
         "--blocks", str(sizes.sound_blocks), "--rounds", str(sizes.sound_rounds)],
        capture_output=True, text=True, timeout=600, env={**os.environ, "PYO_GUI_WX": "0"},
    )
    if done.returncode != 0:
        return {"error": done.stderr.strip()[-500:]}
    return json.loads(done.stdout)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    import onnxruntime

    jackd_version = subprocess.run(["jackd", "--version"], capture_output=True, text=True)
    return {
        "cpu": cpu_model(), "cores": os.cpu_count(), "arch": platform.machine(),
        "kernel": platform.release(), "python": platform.python_version(),
        "onnxruntime": onnxruntime.__version__,
        "jackd": (jackd_version.stdout or jackd_version.stderr).strip().splitlines()[0]
        if jackd_version.returncode == 0 or jackd_version.stdout else "unknown",
        "load_average_at_start": os.getloadavg(),
        "jack_settings": "dummy backend, 48 kHz, private servers: --no-realtime --sync for "
        "latency and onsets (no MIDI lost by the capture client), -R for the soak",
    }


def run(out: Path, sizes: Sizes, models_dir: Path, melody: Path | None = None) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    results: dict = {"machine": machine(), "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                     "sizes": sizes.__dict__}
    work = Path(tempfile.mkdtemp(prefix="instrument-bench-"))
    results["key_to_sound"] = []
    results["onsets"] = []
    raw: dict = {"latency": {}, "onsets": {}, "steps": {}}
    for period in sizes.periods:
        server = jackd.start_private_jackd(period, jackd.SYNC_FLAGS)
        try:
            with jack_environment(server):
                _live(server, work, period, sizes, results, raw, melody)
        finally:
            server.stop()

    tune = melody or DATA / "reel_4-4.mid"
    results["soak"] = _soak(work, tune, sizes.periods[0], sizes.soak_seconds)
    results["wider_soaks"] = [
        _soak(work, tune, period, seconds) for period, seconds in sizes.wider_soaks
    ]
    log.info("xruns against jack_midisine, interleaved")
    results["xruns_vs_midisine"] = [
        xruns.compare(work, tune, period, sizes.xrun_rounds, sizes.xrun_seconds)
        for period in sizes.xrun_periods
    ]
    log.info("a three-hour gig: recorder flushes and status snapshots")
    results["long_gig"] = long_gig.measure(sizes.gig_events, sizes.gig_steps, sizes.gig_repeats)
    log.info("the sound's cost per audio block: synths, bass and drum kit")
    results["sound_cost"] = _sound_cost(sizes)

    log.info("model steps")
    tunes = steps.tunes_from(DATA)
    results["model_steps"] = []
    for name in ("continuation", "accompaniment"):
        if not (models_dir / f"{name}.onnx").exists():
            results["model_steps"].append({"model": name, "error": "not shipped"})
            continue
        for provider in steps.available_providers():
            for tuned in (True, False):
                try:
                    b = steps.bench_model(name, models_dir, provider, tuned, tunes,
                                          sizes.model_steps)
                except Exception as exc:  # a provider that cannot run here is reported
                    results["model_steps"].append(
                        {"model": name, "provider": provider, "error": str(exc)[:200]}
                    )
                    break
                if b.provider != {"cpu": "CPUExecutionProvider",
                                  "cuda": "CUDAExecutionProvider",
                                  "tensorrt": "TensorrtExecutionProvider"}[provider]:
                    results["model_steps"].append(
                        {"model": name, "provider": provider,
                         "error": f"fell back to {b.provider}: not usable here"}
                    )
                    break
                results["model_steps"].append(b.summary())
        if name == "continuation":
            results["streaming_vs_recompute"] = steps.streaming_vs_recompute(
                name, models_dir, tunes
            )
    results["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    (out / "results.json").write_text(json.dumps(results, indent=2))
    _plots(out, raw, results)
    return results


def _live(server, work: Path, period: int, sizes: Sizes, results: dict, raw: dict,
          melody: Path | None) -> None:
    """The measurements that need the instrument running on JACK at one period size."""
    log.info("key-to-sound latency at %d frames", period)
    floor = latency.measure_midisine(server, notes=sizes.latency_notes)
    if floor is not None:
        results["key_to_sound"].append(floor.summary())
    inst = latency.measure_instrument(server, work, notes=sizes.latency_notes)
    results["key_to_sound"].append(inst.summary())
    raw["latency"][period] = inst.from_arrival
    log.info("generated-note onsets at %d frames", period)
    on = onsets.measure(server, work, phrases=sizes.onset_phrases)
    results["onsets"].append(on.summary())
    raw["onsets"][period] = on.midi_errors


def _plots(out: Path, raw: dict, results: dict) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log.warning("matplotlib missing (pip install 'instrument[bench]'): no PNG plots")
        return
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    for period, frames in raw["latency"].items():
        if frames:
            axes[0].hist([f / period for f in frames], bins=30, alpha=0.6,
                         label=f"{period} frames")
    axes[0].set_title("key-to-sound (thru), from arrival in JACK")
    axes[0].set_xlabel("periods")
    axes[0].legend()
    for period, errors in raw["onsets"].items():
        if errors:
            axes[1].hist([e / period for e in errors], bins=30, alpha=0.6,
                         label=f"{period} frames")
    axes[1].set_title("generated-note onset error vs planned (MIDI out)")
    axes[1].set_xlabel("periods")
    axes[1].legend()
    fig.tight_layout()
    fig.savefig(out / "latency.png", dpi=90)
    plt.close(fig)

    rows = [r for r in results.get("model_steps", []) if "p50_ms" in r]
    if rows:
        fig, ax = plt.subplots(figsize=(8, 4))
        labels = [f"{r['model']}\n{r['provider'].replace('ExecutionProvider', '')} "
                  f"{r['options']}" for r in rows]
        for i, key in enumerate(("p50_ms", "p99_ms", "p999_ms")):
            ax.bar([x + i * 0.27 for x in range(len(rows))], [r[key] for r in rows],
                   width=0.27, label=key.replace("_ms", ""))
        ax.set_xticks([x + 0.27 for x in range(len(rows))], labels, fontsize=8)
        ax.set_ylabel("ms per step")
        ax.set_title("model step latency")
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / "model_steps.png", dpi=90)
        plt.close(fig)
