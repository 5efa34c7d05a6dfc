"""The continuation event encoding, tested without any model."""

from __future__ import annotations

import numpy as np
import pytest

from instrument.models import melody as enc
from instrument.music import GridNote, Meter

M44, M34, M68 = Meter(4, 4), Meter(3, 4), Meter(6, 8)


def decode(row: np.ndarray) -> dict:
    return {
        "pitch": enc.PITCH_LOW + int(row[0]),
        "rest": enc.REST_TICKS[row[1]],
        "duration": enc.DURATION_TICKS[row[2]],
        "velocity": enc.velocity_of(int(row[3])),
    }


@pytest.mark.parametrize(
    ("meter", "notes"),
    [
        # 4/4: quarter, two eighths, a sixteenth pair, a dotted quarter after an eighth rest
        (M44, [(60, 0, 12), (62, 12, 6), (64, 18, 6), (65, 24, 3), (67, 27, 3), (69, 36, 18)]),
        # 4/4 triplet eighths (4 ticks) and a sixteenth triplet (2 ticks)
        (M44, [(72, 0, 4), (71, 4, 4), (69, 8, 4), (67, 12, 2), (65, 14, 2), (64, 16, 2)]),
        # 3/4 with a pickup on beat 3
        (M34, [(62, 24, 12), (67, 36, 24), (71, 60, 12), (74, 72, 36)]),
        # 6/8: eighths are 4 ticks, a dotted quarter is one beat (12)
        (M68, [(67, 20, 4), (72, 24, 8), (74, 32, 4), (76, 36, 12), (74, 48, 4)]),
    ],
)
def test_melody_round_trips_through_the_encoding(meter, notes):
    melody = [GridNote(p, on, d, 87) for p, on, d in notes]
    rows = enc.encode_melody(melody, meter)
    assert rows.shape == (len(melody) + 1, enc.N_COLUMNS)
    assert rows[0, 0] == enc.BOS
    onset = 0
    prev_end = None
    for note, row in zip(melody, rows[1:], strict=True):
        d = decode(row)
        onset = (note.onset - note.onset % meter.ticks_per_bar if prev_end is None
                 else prev_end) + d["rest"]
        assert (d["pitch"], onset, d["duration"]) == (note.pitch, note.onset, note.duration)
        assert d["velocity"] // 16 == 87 // 16
        prev_end = onset + d["duration"]


def test_positions_follow_the_bar_in_each_meter():
    assert enc.position_index(0, M44) == 0
    assert enc.position_index(12 * 4, M44) == 0  # next downbeat
    assert enc.position_index(12 * 3 + 4, M44) == 3 * 12 + 4  # beat 4, second triplet
    assert enc.position_index(12 * 3, M34) == 0  # 3/4 bar is 36 ticks
    assert enc.position_index(12 + 8, M68) == 12 + 8  # 6/8: beat 2, third eighth
    assert enc.position_index(24, M68) == 0
    assert len({enc.meter_index(m) for m in (M44, M34, M68, Meter(2, 4))}) == 4


def test_rests_and_durations_snap_to_the_nearest_class():
    assert enc.DURATION_TICKS[enc.duration_index(7)] in (6, 8)
    assert enc.DURATION_TICKS[enc.duration_index(500)] == max(enc.DURATION_TICKS)
    assert enc.REST_TICKS[enc.rest_index(-3)] == 0  # overlapping notes: no rest
    assert enc.REST_TICKS[enc.rest_index(11)] == 12


def test_pitches_outside_the_range_fold_by_octaves():
    assert enc.fold_pitch(enc.PITCH_LOW - 1) == enc.PITCH_LOW + 11
    assert enc.fold_pitch(enc.PITCH_HIGH + 1) == enc.PITCH_HIGH - 11
    assert enc.pitch_index(60) == 60 - enc.PITCH_LOW


def test_levels_and_velocities_round_trip():
    for level in range(enc.N_LEVELS):
        assert enc.level_of(enc.velocity_of(level)) == level
    assert enc.level_of(127) == enc.N_LEVELS - 1
