"""The arithmetic of a MIDI file's time, once: ticks, quarter notes, grid beats, seconds.

A Standard MIDI File counts time in ticks of a quarter note (the header's division,
which mido calls ``ticks_per_beat``) and its tempo in microseconds per quarter note.
The instrument's grid beat (``instrument.music``, ``TICKS_PER_BEAT`` grid ticks) is a
quarter note, or a dotted quarter in compound meters: ``beat_quarters`` converts. The
files the instrument writes have ``FILE_TICKS_PER_QUARTER`` ticks to a quarter note.
"""

from __future__ import annotations

from collections.abc import Callable

import mido

from instrument.music import TICKS_PER_BEAT, Meter

FILE_TICKS_PER_QUARTER = 480
MAX_FILE_TEMPO = 0xFFFFFF  # microseconds per quarter note: a tempo event holds 24 bits


def beat_quarters(meter: Meter) -> float:
    """Length of one grid beat in quarter notes (a dotted quarter in 6/8)."""
    return (12 if meter.compound else 4) / meter.denominator


def grid_bpm(tempo: int, meter: Meter) -> float:
    """Grid beats a minute at ``tempo`` microseconds per quarter note."""
    return mido.tempo2bpm(tempo) / beat_quarters(meter)


def file_tempo(bpm: float, meter: Meter) -> int:
    """Microseconds per quarter note at ``bpm`` grid beats a minute."""
    return mido.bpm2tempo(bpm * beat_quarters(meter))


def file_tempo_at_speed(beats_per_second: float, meter: Meter) -> int:
    """Microseconds per quarter note at ``beats_per_second`` grid beats a second, within
    what a tempo event holds."""
    return max(1, min(MAX_FILE_TEMPO, round(1e6 / (beats_per_second * beat_quarters(meter)))))


def file_tick(beat: float, meter: Meter, ticks_per_quarter: int) -> int:
    """The file tick nearest grid beat ``beat``."""
    return round(beat * beat_quarters(meter) * ticks_per_quarter)


def grid_ticks_per_file_tick(ticks_per_quarter: int, meter: Meter) -> float:
    """Reading a file: its ticks to the grid's."""
    return TICKS_PER_BEAT / (ticks_per_quarter * beat_quarters(meter))


def file_ticks_per_grid_tick(ticks_per_quarter: int, meter: Meter) -> float:
    """Writing a file: the grid's ticks to its own."""
    return ticks_per_quarter * beat_quarters(meter) / TICKS_PER_BEAT


def tick_seconds(
    tempi: list[tuple[int, int]], ticks_per_quarter: int
) -> Callable[[int], float]:
    """A function from a file tick to seconds through the tempo changes ``tempi``
    ((tick, microseconds per quarter note), sorted; the first one's tempo holds from
    tick 0)."""
    starts = [(0, 0.0, tempi[0][1])]  # (tick, seconds at it, tempo from it)
    for tick, tempo in tempi[1:]:
        start_tick, start_s, previous = starts[-1]
        at = start_s + (tick - start_tick) * previous / 1e6 / ticks_per_quarter
        starts.append((tick, at, tempo))

    def seconds(tick: int) -> float:
        start_tick, start_s, tempo = next(s for s in reversed(starts) if s[0] <= tick)
        return start_s + (tick - start_tick) * tempo / 1e6 / ticks_per_quarter

    return seconds
