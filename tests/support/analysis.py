"""Audio analysis for tests: pitch, cents, WAV files; loudness and the first onset come
from ``instrument.bench.analysis`` (the benchmarks use them too)."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from instrument.bench.analysis import first_onset, rms

__all__ = ["cents", "estimate_f0", "first_onset", "read_wav", "rms"]


def estimate_f0(x: np.ndarray, rate: int, fmin: float = 40.0, fmax: float = 2500.0) -> float:
    """Fundamental: the lowest spectral peak at least 25% as strong as the strongest.

    The synth's patches put most energy in harmonics of the fundamental, sometimes more
    in the second or third than in the first; the lowest strong peak is the fundamental.
    """
    n = 1 << int(np.ceil(np.log2(max(x.size, 4096))))
    window = np.hanning(x.size)
    spectrum = np.abs(np.fft.rfft(x * window, n))
    freqs = np.fft.rfftfreq(n, 1.0 / rate)
    band = (freqs >= fmin) & (freqs <= fmax)
    mags = np.where(band, spectrum, 0.0)
    strongest = mags.max()
    if strongest <= 0:
        return 0.0
    peaks = np.flatnonzero(
        (mags[1:-1] > mags[:-2]) & (mags[1:-1] >= mags[2:]) & (mags[1:-1] >= 0.25 * strongest)
    ) + 1
    k = int(peaks[0])
    # Parabolic interpolation around the peak bin for sub-bin accuracy.
    a, b, c = np.log(mags[k - 1] + 1e-12), np.log(mags[k] + 1e-12), np.log(mags[k + 1] + 1e-12)
    shift = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) != 0 else 0.0
    return float((k + shift) * rate / n)


def cents(f: float, ref: float) -> float:
    return 1200.0 * float(np.log2(f / ref))


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """The first channel of a PCM WAV file (16, 24 or 32-bit) as floats in [-1, 1], and
    its sample rate."""
    with wave.open(str(path)) as w:
        width, channels, rate = w.getsampwidth(), w.getnchannels(), w.getframerate()
        raw = np.frombuffer(w.readframes(w.getnframes()), dtype=np.uint8)
    samples = raw.reshape(-1, width)
    if width == 3:  # little-endian 24-bit: sign-extend into 32 bits
        padded = np.zeros((samples.shape[0], 4), dtype=np.uint8)
        padded[:, 1:] = samples
        values = padded.view("<i4").ravel().astype(np.float64) / 2**31
    else:
        kind = {2: "<i2", 4: "<i4"}[width]
        values = samples.copy().view(kind).ravel().astype(np.float64) / 2 ** (8 * width - 1)
    return values[0::channels].astype(np.float32), rate
