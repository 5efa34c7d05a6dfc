"""Musical types shared by the engine, the generators, the models and the tools.

Time on the metrical grid is counted in ticks: ``TICKS_PER_BEAT`` ticks to a beat (a
quarter note in simple meters, a dotted quarter in compound ones). Twelve ticks per beat
hold sixteenths (3), eighth triplets (4), sixteenth triplets (2) and, in 6/8, the
eighths of a dotted-quarter beat (4).
"""

from __future__ import annotations

from dataclasses import dataclass

#: Grid ticks per beat (the module docstring); a MIDI file's resolution is its own.
TICKS_PER_BEAT = 12
PITCH_CLASS_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


@dataclass(frozen=True)
class Meter:
    """A time signature as the beat grid sees it.

    ``beats_per_bar`` counts felt beats: 4/4 has 4, 3/4 has 3, 6/8 has 2 (compound).
    """

    numerator: int = 4
    denominator: int = 4

    @property
    def compound(self) -> bool:
        return self.denominator == 8 and self.numerator % 3 == 0 and self.numerator > 3

    @property
    def beats_per_bar(self) -> int:
        return self.numerator // 3 if self.compound else self.numerator

    @property
    def ticks_per_bar(self) -> int:
        return self.beats_per_bar * TICKS_PER_BEAT

    def __str__(self) -> str:
        return f"{self.numerator}/{self.denominator}"

    @classmethod
    def parse(cls, text: str) -> Meter:
        """Parse "4/4", "3/4", "6/8"...; raise ValueError naming what is allowed."""
        try:
            num_s, den_s = text.split("/")
            num, den = int(num_s), int(den_s)
        except ValueError:
            raise ValueError(f"meter must look like 4/4 or 6/8, got {text!r}") from None
        if num < 1 or num > 16 or den not in (2, 4, 8, 16):
            raise ValueError(f"meter {text!r} not supported: numerator 1..16, denominator 2/4/8/16")
        return cls(num, den)


@dataclass(frozen=True)
class GridNote:
    """A monophonic melody note on the metrical grid (ticks from the start of bar 0)."""

    pitch: int
    onset: int
    duration: int
    velocity: int = 80


def midi_to_hz(pitch: float) -> float:
    return 440.0 * 2.0 ** ((pitch - 69.0) / 12.0)


def grid_meter(numerator: int, denominator: int) -> Meter:
    """The meter a time signature is read as: halves become quarters (2/2 -> 4/4)."""
    if denominator == 2:
        numerator, denominator = numerator * 2, 4
    return Meter(numerator, denominator)
