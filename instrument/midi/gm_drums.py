"""The drum kit's sounds by name, and the General MIDI drum notes they play on.

Styles name their drum lines by these names (``kick``, ``hat``...); the drum part sends
the note on the drums' MIDI channel (10 by default), where any GM kit plays it, and the
built-in kit (``instrument.audio.drums``) synthesizes the same notes.
"""

from __future__ import annotations

#: Drum name -> General MIDI note (channel 10).
DRUM_NOTES: dict[str, int] = {
    "kick": 36,
    "rim": 37,
    "snare": 38,
    "brush": 39,  # GM's hand clap; GS brush kits put a brush here too
    "tom_low": 41,
    "hat": 42,
    "tom_mid": 47,
    "pedal_hat": 44,
    "open_hat": 46,
    "tom_high": 50,
    "crash": 49,
    "ride": 51,
    "frame_high": 63,  # GM's open high conga
    "frame_low": 64,  # GM's low conga
}
