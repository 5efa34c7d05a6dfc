"""A player's performance read from a Standard MIDI File: its first note track as timed
messages, through the file's tempo map (``instrument render``, ``demo``, the benchmarks)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mido

from instrument.music import Meter, grid_meter
from instrument.timing.tempo_map import file_tempo, grid_bpm, tick_seconds


@dataclass
class MidiPerformance:
    """The player's input: (seconds, message) in order, on a grid of ``bpm`` beats."""

    events: list[tuple[float, tuple[int, ...]]]
    meter: Meter
    bpm: float  # grid beats per minute (a dotted quarter is the beat in 6/8)

    @property
    def end(self) -> float:
        return self.events[-1][0] if self.events else 0.0


def read_performance(
    path: Path, bpm: float | None = None, tempo_map: bool = True
) -> MidiPerformance:
    """The first note track of ``path`` as timed messages (channel 1).

    Times are the file's own, through its whole tempo map (a file recorded from a player
    who drifted keeps the drift); without ``tempo_map``, at its first tempo throughout
    (the file's beat grid). With ``bpm``, the file's beats are played at that fixed
    tempo instead. ``MidiPerformance.bpm`` is the grid tempo: ``bpm``, else the file's first
    tempo (120 quarter notes a minute when it has none). Raises ValueError for a file
    with no notes.
    """
    mid = mido.MidiFile(str(path))
    meter: Meter | None = None
    tempi: list[tuple[int, int]] = []  # (tick, microseconds per quarter), from all tracks
    note_tracks = []
    for track in mid.tracks:
        tick, events = 0, []
        for msg in track:
            tick += msg.time
            if msg.type == "time_signature" and meter is None:
                meter = grid_meter(msg.numerator, msg.denominator)
            elif msg.type == "set_tempo":
                tempi.append((tick, msg.tempo))
            elif msg.type in ("note_on", "note_off") or (
                msg.type == "control_change" and msg.control == 64
            ):
                events.append((tick, msg))
        if any(m.type == "note_on" and m.velocity > 0 for _, m in events):
            note_tracks.append(events)
    if not note_tracks:
        raise ValueError(f"{path}: no notes")
    meter = meter or Meter(4, 4)
    tempi.sort()
    first_tempo = tempi[0][1] if tempi else mido.bpm2tempo(120.0)
    if bpm is not None:
        tempi = [(0, file_tempo(bpm, meter))]
    elif not tempo_map:
        tempi = [(0, first_tempo)]
    beats_a_minute = bpm if bpm is not None else grid_bpm(first_tempo, meter)
    seconds = tick_seconds(tempi or [(0, first_tempo)], mid.ticks_per_beat)
    out = []
    for tick, msg in note_tracks[0]:
        t = seconds(tick)
        if msg.type == "note_on" and msg.velocity > 0:
            out.append((t, (0x90, msg.note, msg.velocity)))
        elif msg.type in ("note_on", "note_off"):
            out.append((t, (0x80, msg.note, 0)))
        else:
            out.append((t, (0xB0, 64, msg.value)))
    out.sort(key=lambda e: (e[0], e[1][0] != 0x80))  # offs before ons at the same time
    return MidiPerformance(out, meter, beats_a_minute)
