"""The continuation models' event encoding: melody notes to integer rows and back.

One event per note, seven integer columns (:data:`EVENT_COLUMNS`):

- ``pitch``: MIDI pitch minus :data:`PITCH_LOW` (pitches outside the range are moved by
  octaves into it); :data:`BOS` for the step that starts a melody.
- ``rest``: index into :data:`REST_TICKS` of the silence before the note (onset minus the
  previous note's end; for the first note, its offset in its bar).
- ``duration``: index into :data:`DURATION_TICKS`.
- ``level``: dynamic level 0..7 (velocity // 16).
- ``position``: the onset's place in its bar, ``min(beat, 7) * 12 + tick in beat``.
- ``next_position``: the same for the note's end, where the next note would start
  without a rest.
- ``meter``: ``(min(beats per bar, 8) - 1) * 2 + compound``.

Rests and durations snap to the nearest class. The grid is 12 ticks a beat, so the
classes hold sixteenths (3), triplet eighths (4), the eighths of 6/8 (4) and sixteenth
triplets (2). Decoding a class gives its exact tick count. Pure numpy.
"""

from __future__ import annotations

import numpy as np

from instrument.music import TICKS_PER_BEAT, GridNote, Meter

PITCH_LOW = 36
PITCH_HIGH = 96  # inclusive
N_PITCHES = PITCH_HIGH - PITCH_LOW + 1
BOS = N_PITCHES  # input-only pitch index of the start step
#: Note lengths in ticks: every length that covers >= 0.002 % of the corpus notes.
DURATION_TICKS: tuple[int, ...] = (
    1, 2, 3, 4, 6, 8, 9, 12, 15, 16, 18, 20, 21, 24, 30, 36, 42, 48, 60, 72, 96, 120, 144,
)
REST_TICKS: tuple[int, ...] = (0, *DURATION_TICKS)
N_LEVELS = 8
MAX_BEATS = 8
N_POSITIONS = MAX_BEATS * TICKS_PER_BEAT
N_METERS = MAX_BEATS * 2
EVENT_COLUMNS = ("pitch", "rest", "duration", "level", "position", "next_position", "meter")
N_COLUMNS = len(EVENT_COLUMNS)
ENCODING_NAME = "melody-events/1"

_DUR = np.array(DURATION_TICKS)
_REST = np.array(REST_TICKS)


def encoding_spec() -> dict:
    """The vocabulary as recorded in manifests; loaders compare it with this code's."""
    return {
        "name": ENCODING_NAME,
        "ticks_per_beat": TICKS_PER_BEAT,
        "columns": list(EVENT_COLUMNS),
        "pitch_low": PITCH_LOW,
        "pitch_high": PITCH_HIGH,
        "bos": BOS,
        "duration_ticks": list(DURATION_TICKS),
        "rest_ticks": list(REST_TICKS),
        "levels": N_LEVELS,
        "max_beats": MAX_BEATS,
    }


def fold_pitch(pitch: int) -> int:
    """Move a MIDI pitch by octaves into [PITCH_LOW, PITCH_HIGH]."""
    while pitch < PITCH_LOW:
        pitch += 12
    while pitch > PITCH_HIGH:
        pitch -= 12
    return pitch


def pitch_index(pitch: int) -> int:
    return fold_pitch(pitch) - PITCH_LOW


def nearest(values: np.ndarray, ticks: int) -> int:
    return int(np.argmin(np.abs(values - ticks)))


def duration_index(ticks: int) -> int:
    return nearest(_DUR, ticks)


def rest_index(ticks: int) -> int:
    return nearest(_REST, max(0, ticks))


def level_of(velocity: int) -> int:
    return min(N_LEVELS - 1, max(0, int(velocity)) // 16)


def velocity_of(level: int) -> int:
    return min(127, 16 * int(level) + 8)


def position_index(tick: int, meter: Meter) -> int:
    in_bar = tick % meter.ticks_per_bar
    return min(in_bar // TICKS_PER_BEAT, MAX_BEATS - 1) * TICKS_PER_BEAT + in_bar % TICKS_PER_BEAT


def meter_index(meter: Meter) -> int:
    return (min(meter.beats_per_bar, MAX_BEATS) - 1) * 2 + int(meter.compound)


def bos_event(meter: Meter) -> np.ndarray:
    """The row for the start step (no note yet; the next note's rest counts from a bar line)."""
    return np.array([BOS, 0, 0, 0, 0, 0, meter_index(meter)], dtype=np.int64)


def first_rest(onset: int, meter: Meter) -> int:
    """The rest before a melody's first note: its offset in its bar."""
    return onset % meter.ticks_per_bar


def note_event(note: GridNote, rest_ticks: int, meter: Meter) -> np.ndarray:
    """The row for a committed note, given the silence before it."""
    return np.array(
        [
            pitch_index(note.pitch),
            rest_index(rest_ticks),
            duration_index(note.duration),
            level_of(note.velocity),
            position_index(note.onset, meter),
            position_index(note.onset + note.duration, meter),
            meter_index(meter),
        ],
        dtype=np.int64,
    )


def encode_melody(notes: list[GridNote], meter: Meter) -> np.ndarray:
    """Rows for a whole melody, BOS first: shape (len(notes) + 1, N_COLUMNS).

    Row ``i`` is the input of step ``i``; the note it predicts is ``notes[i]``.
    """
    rows = [bos_event(meter)]
    prev_end = None
    for n in notes:
        rest = first_rest(n.onset, meter) if prev_end is None else n.onset - prev_end
        rows.append(note_event(n, rest, meter))
        prev_end = n.onset + n.duration
    return np.stack(rows)


def targets(notes: list[GridNote], meter: Meter) -> np.ndarray:
    """Per-note target classes (pitch, rest, duration, level): shape (len(notes), 4)."""
    rows = encode_melody(notes, meter)[1:]
    return rows[:, :4].copy()
