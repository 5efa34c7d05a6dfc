"""The sound side's counters as the live instrument shows them, in either process.

``SoundSide.stats()`` (the sound side in this process) and ``stats_from_shared`` (the
engine process, from the shared stats block the audio process publishes) are both
``sound_stats`` of the same table, ``instrument.realtime.shared_stats.SOUND_COUNTERS``:
every counter under its own name, plus what is made of them (the input dropped by
reason, the worst lateness in seconds, the callback's timing summaries, its last error).
The periodic report, the "session: ..." line and `instrument status` read this dict.
"""

from __future__ import annotations

from collections.abc import Mapping

from instrument.realtime.histogram import TimingHistogram
from instrument.realtime.shared_stats import DROPPED_BY_REASON, SOUND_COUNTERS, SharedStats


def sound_stats(counts: Mapping[str, int], callback: TimingHistogram | None,
                callback_start: TimingHistogram | None, last_callback_error: str) -> dict:
    """``counts``: one value per ``SOUND_COUNTERS`` name; the histograms of the JACK
    cycle's duration and start delay (None without a JACK cycle)."""
    return {
        **counts,
        "input_dropped": {reason: counts[name] for reason, name in DROPPED_BY_REASON.items()
                          if counts[name]},
        "max_lateness": max(counts["max_lateness_us"], counts["midi_out_max_late_us"]) / 1e6,
        "callback_ms": callback.summary_ms() if callback is not None else {},
        "callback_start_ms": callback_start.summary_ms() if callback_start is not None else {},
        "last_callback_error": last_callback_error,
    }


def shown_in_status(stats: dict) -> dict:
    """The counters `instrument status` shows (``Counter.shown``), the input dropped by
    reason, and the late notes of both kinds together."""
    return {
        **{c.name: stats[c.name] for c in SOUND_COUNTERS if c.shown},
        "input_dropped": stats["input_dropped"],
        "late_notes": stats["late_events"] + stats["late_midi_out"],
    }


def stats_from_shared(stats: SharedStats) -> dict:
    """The engine process's view of ``SoundSide.stats()``, as the audio process last
    published it."""
    return sound_stats({c.name: stats.get(c.name) for c in SOUND_COUNTERS},
                       stats.histogram("callback"), stats.histogram("callback_start"),
                       stats.text("last_callback_error") or "")
