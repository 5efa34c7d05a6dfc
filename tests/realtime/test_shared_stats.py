"""The shared stats block and the one table of the sound side's counters."""

from __future__ import annotations

from instrument.live.sound_stats import shown_in_status, sound_stats, stats_from_shared
from instrument.realtime.histogram import TimingHistogram
from instrument.realtime.shared_stats import (
    SOUND_COUNTERS,
    SharedStats,
    input_counters,
)


def test_every_counter_of_the_table_crosses_and_is_shown_the_same_on_both_sides():
    audio = SharedStats.create()
    engine = SharedStats.attach(audio.path)
    try:
        counts = {c.name: i + 1 for i, c in enumerate(SOUND_COUNTERS)}
        callback = TimingHistogram()
        callback.record(0.0004)
        for name, value in counts.items():
            audio.set(name, value)
        audio.set_histogram("callback", callback)
        audio.set_text("last_callback_error", "boom")
        here = sound_stats(counts, callback, None, "boom")
        there = stats_from_shared(engine)
        assert there == here
        assert here["input_dropped"] == {"malformed": counts["dropped_malformed"],
                                         "sysex": counts["dropped_sysex"],
                                         "unused": counts["dropped_unused"],
                                         "queue full": counts["dropped_queue_full"]}
        assert here["max_lateness"] == counts["midi_out_max_late_us"] / 1e6
        shown = shown_in_status(here)
        assert shown["late_notes"] == counts["late_events"] + counts["late_midi_out"]
        assert {c.name for c in SOUND_COUNTERS if c.shown} <= set(shown)
    finally:
        engine.close()
        audio.close()


def test_input_counters_cover_every_reason():
    counts = input_counters(5, {"sysex": 2})
    assert counts == {"input_received": 5, "dropped_malformed": 0, "dropped_sysex": 2,
                      "dropped_unused": 0, "dropped_queue_full": 0}


def test_the_engine_restarts_and_how_it_last_died_cross():
    audio = SharedStats.create()
    engine = SharedStats.attach(audio.path)
    try:
        audio.add("engine_restarts")
        audio.set_text("last_engine_death", "killed by SIGKILL")
        assert engine.get("engine_restarts") == 1
        assert engine.text("last_engine_death") == "killed by SIGKILL"
    finally:
        engine.close()
        audio.close()
