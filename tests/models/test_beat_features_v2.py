"""The extended beat encoding (beat-features/2): the key heard so far and the bar's place
in the phrase, computed causally as the model is stepped live."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from instrument.models.accompaniment import (
    BEAT_INT_COLUMNS_V2,
    ENCODING_NAME_V2,
    BeatEncoder,
    BeatInput,
    encoding_spec,
)
from instrument.models.keys import NO_KEY, KeyTracker, estimate_key
from instrument.music import TICKS_PER_BEAT, GridNote, Meter


def test_key_and_phrase_columns_follow_a_c_major_tune_from_its_first_notes():
    enc = BeatEncoder(2, ENCODING_NAME_V2)
    meter = Meter(4, 4)
    scale = [60, 62, 64, 65, 67, 69, 71, 72, 67, 64, 60, 67]
    rows = []
    for b in range(40):
        tick = b * TICKS_PER_BEAT
        pitch = scale[b % len(scale)]
        notes = (GridNote(pitch, tick - TICKS_PER_BEAT, TICKS_PER_BEAT),) if b else ()
        ints, _ = enc.encode(BeatInput(tick, meter, notes), 0)
        rows.append(ints)
    rows = np.array(rows)
    assert rows.shape[1] == len(BEAT_INT_COLUMNS_V2)
    assert rows[0, 6] == NO_KEY and rows[-1, 6] == 0  # nothing heard yet; then C major
    assert list(rows[::4, 7][:9]) == [0, 1, 2, 3, 4, 5, 6, 7, 0]  # bar in an 8-bar phrase
    enc.reset()
    assert enc.encode(BeatInput(0, meter), 0)[0][6] == NO_KEY


def test_the_tracker_agrees_with_the_rules_estimate_and_holds_against_small_changes():
    k = KeyTracker()
    hist = np.array([3, 0, 2, 0, 2, 1, 0, 3, 0, 1, 0, 1], dtype=float)
    assert k.update(hist) == estimate_key(hist) == (0, False)
    assert k.update(np.eye(12)[6] * 0.1) == (0, False)


def test_unknown_beat_encodings_are_refused():
    with pytest.raises(ValueError, match="unknown beat encoding"):
        BeatEncoder(2, "beat-features/9")
    assert encoding_spec(2, ENCODING_NAME_V2)["int_columns"] == list(BEAT_INT_COLUMNS_V2)


def test_the_forecast_columns_hold_the_same_beat_one_two_and_four_bars_back():
    from instrument.models.accompaniment import (
        BARS_BACK,
        BEAT_FLOAT_COLUMNS_V3,
        ENCODING_NAME_V3,
    )

    enc = BeatEncoder(2, ENCODING_NAME_V3)
    meter = Meter(3, 4)
    # One eighth-note pair a beat: beat b plays pitch classes b % 12 and (b + 5) % 12.
    notes = [GridNote(48 + b % 12 + 5 * h, b * 12 + 6 * h, 6)
             for b in range(30) for h in (0, 1)]
    heard = 0
    for b in range(31):
        tick = b * TICKS_PER_BEAT
        start = heard
        while heard < len(notes) and notes[heard].onset < tick - 2:
            heard += 1
        _, floats = enc.encode(BeatInput(tick, meter, tuple(notes[start:heard])), 0)
        assert floats.shape == (len(BEAT_FLOAT_COLUMNS_V3),)
        for j, k in enumerate(BARS_BACK):
            back = floats[24 + 12 * j: 36 + 12 * j]
            source = b - 3 * k
            expected = np.zeros(12)
            if source >= 0:
                expected[source % 12] += 1
                expected[(source + 5) % 12] += 1
            np.testing.assert_array_equal(back, expected, err_msg=f"beat {b}, {k} bars back")


def test_the_foresight_encoding_reads_the_beats_forecast_and_nothing_else_moves():
    from instrument.models.accompaniment import BEAT_FLOAT_COLUMNS_V4, ENCODING_NAME_V4

    meter = Meter(4, 4)
    notes = [GridNote(60 + 2 * b % 12, b * TICKS_PER_BEAT, TICKS_PER_BEAT) for b in range(8)]
    with_forecast, without, v3 = (BeatEncoder(2, name) for name in
                                  (ENCODING_NAME_V4, ENCODING_NAME_V4, "beat-features/3"))
    for b in range(1, 9):
        beat = BeatInput(b * TICKS_PER_BEAT, meter, (notes[b - 1],))
        forecast = np.zeros(12, dtype=np.float32)
        forecast[(2 * b) % 12] = 0.75
        forecast[(2 * b + 7) % 12] = 0.25
        ints, floats = with_forecast.encode(replace(beat, forecast=forecast), 0)
        ints_none, floats_none = without.encode(beat, 0)
        ints_v3, floats_v3 = v3.encode(beat, 0)
        assert floats.shape == (len(BEAT_FLOAT_COLUMNS_V4),)
        np.testing.assert_array_equal(floats[-12:], forecast)
        np.testing.assert_array_equal(floats_none[-12:], np.zeros(12))  # no forecast: zeros
        np.testing.assert_array_equal(floats[:-12], floats_v3)
        np.testing.assert_array_equal(ints, ints_v3)
        np.testing.assert_array_equal(ints_none, ints_v3)
