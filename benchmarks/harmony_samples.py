"""Listening samples of the accompaniment's harmony: validation tunes (never trained on)
played through ``instrument render`` in accompany mode, first pass and repeat.

    python -m benchmarks.harmony_samples benchmarks/results/2026-12-05-harmony

For each tune: ``NAME-melody.mid`` (the tune as played, repeats written out, 100 beats a
minute on its own grid), ``NAME.mid`` (what the instrument played, whole), and two WAV
excerpts of ``SECONDS`` from the render: ``NAME-first.wav`` from the first note and
``NAME-repeat.wav`` from the first bar that repeats earlier music (where the tune memory
plays what it learned), mono 16-bit 22.05 kHz with a short fade at the end; the tunes
picked are listed in ``tunes.txt``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np

from instrument.evaluation.generators import repeated_bars
from instrument.models.tune import write_midi
from instrument.music import TICKS_PER_BEAT

BPM = 100.0
SECONDS = 16.0
RATE = 22050


def pick(tunes, n: int = 3):
    """Three validation folk tunes: one each of 4/4, 2/4 and 3/4, with four bars in a row
    that repeat earlier music inside the first 40 bars, at most 80 bars long: the first
    such in corpus order (no listening was done to choose)."""
    chosen: dict[str, object] = {}
    for t in tunes:
        key = f"{t.meter.numerator}/{t.meter.denominator}"
        if key not in ("4/4", "2/4", "3/4") or key in chosen:
            continue
        rep = repeated_bars(t)
        if any(all(rep[k: k + 4]) for k in range(1, 40)) and 16 <= len(rep) <= 80 \
                and t.melody[0].onset < t.meter.ticks_per_bar:
            chosen[key] = t
        if len(chosen) == n:
            break
    return list(chosen.values())


def repeat_start(rep: list[bool], run: int = 4) -> int:
    """The bar a repeat begins: before the first ``run`` bars in a row that repeat earlier
    music (a bar counts as repeated with the bar before it, so the repeat begins there)."""
    for k in range(1, len(rep) - run + 1):
        if all(rep[k: k + run]):
            return k - 1
    return rep.index(True) - 1 if any(rep) else 0


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        frames = w.readframes(w.getnframes())
        rate, channels, width = w.getframerate(), w.getnchannels(), w.getsampwidth()
    if width == 3:  # 24-bit little-endian: to 16-bit scale
        b = np.frombuffer(frames, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        x = (np.where(v >= 1 << 23, v - (1 << 24), v) / 256.0).astype(np.float64)
    elif width == 2:
        x = np.frombuffer(frames, dtype=np.int16).astype(np.float64)
    else:
        raise ValueError(f"{path}: {8 * width}-bit WAV not read here")
    x = x.reshape(-1, channels).mean(1)
    if rate != RATE:  # linear resampling: enough for a listening excerpt
        t = np.arange(0, len(x) / rate, 1 / RATE)
        x = np.interp(t, np.arange(len(x)) / rate, x)
    return x


def write_excerpt(x: np.ndarray, start: float, path: Path) -> None:
    a = int(start * RATE)
    y = x[a: a + int(SECONDS * RATE)].copy()
    fade = int(0.3 * RATE)
    y[-fade:] *= np.linspace(1.0, 0.0, fade)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(np.clip(y, -32768, 32767).astype(np.int16).tobytes())


def main(argv: list[str] | None = None) -> int:
    from training import accompaniment as A

    p = argparse.ArgumentParser(prog="python -m benchmarks.harmony_samples", description=__doc__)
    p.add_argument("out", type=Path)
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    splits = A.load_splits(False)
    tunes = pick(splits["offline"][2])
    lines = []
    for k, tune in enumerate(tunes, 1):
        name = f"tune{k}"
        melody = args.out / f"{name}-melody.mid"
        write_midi(type(tune)(tune.name, tune.meter, tune.melody), melody, bpm=BPM)
        out_mid, full_wav = args.out / f"{name}.mid", args.out / f"{name}-full.wav"
        subprocess.run([sys.executable, "-m", "instrument", "render", str(melody),
                        "-o", str(out_mid), "--wav", str(full_wav), "--mode", "accompany",
                        "--file-tempo"], check=True)
        x = read_wav(full_wav)
        full_wav.unlink()
        loud = np.flatnonzero(np.abs(x) > 300)
        first_sound = loud[0] / RATE if len(loud) else 0.0
        seconds_per_tick = 60.0 / BPM / TICKS_PER_BEAT * _quarters_per_beat(tune)
        rep = repeated_bars(tune)
        start_bar = repeat_start(rep)
        repeat_at = first_sound + (start_bar * tune.meter.ticks_per_bar
                                   - tune.melody[0].onset) * seconds_per_tick
        write_excerpt(x, first_sound, args.out / f"{name}-first.wav")
        write_excerpt(x, repeat_at, args.out / f"{name}-repeat.wav")
        lines.append(f"{name}: {tune.name} ({tune.meter.numerator}/{tune.meter.denominator}, "
                     f"{len(rep)} bars, repeat excerpt from bar {start_bar + 1})")
        print(lines[-1], flush=True)
    (args.out / "tunes.txt").write_text("\n".join(lines) + "\n")
    return 0


def _quarters_per_beat(tune) -> float:
    """Quarter notes per grid beat: the file's tempo counts quarters."""
    return 4.0 / tune.meter.denominator * (3 if tune.meter.compound else 1)


if __name__ == "__main__":
    raise SystemExit(main())
