"""Tunes on the metrical grid, and reading/writing them as Standard MIDI Files.

A :class:`Tune` is what evaluation and training work on: a monophonic melody of
:class:`~instrument.music.GridNote`, an optional polyphonic reference accompaniment, and
optional per-beat chord labels. Tick 0 is the start of bar 0; a pickup sits at the end
of bar 0.

MIDI files: the first track with notes is the melody (made monophonic: the highest of
simultaneous notes, each cut at the next onset), a second one, if present, is the
reference accompaniment. A format-0 file with notes on several channels is split by
channel instead. The first time signature sets the meter (4/4 when there is none);
meters in halves are read as the same bar in quarters (2/2 as 4/4), and times are
rounded to the 12-tick grid.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from instrument.models.chords import Chord
from instrument.music import TICKS_PER_BEAT, GridNote, Meter, grid_meter
from instrument.timing.tempo_map import file_ticks_per_grid_tick, grid_ticks_per_file_tick


@dataclass
class Tune:
    name: str
    meter: Meter
    melody: list[GridNote]
    accompaniment: list[GridNote] = field(default_factory=list)
    chords: list[Chord] | None = None  # one per beat from beat 0, when labelled

    @property
    def end_tick(self) -> int:
        ends = [n.onset + n.duration for n in (*self.melody, *self.accompaniment)]
        return max(ends, default=0)

    @property
    def n_beats(self) -> int:
        return -(-self.end_tick // TICKS_PER_BEAT)

    def transposed(self, semitones: int) -> Tune:
        def shift(notes: Iterable[GridNote]) -> list[GridNote]:
            return [GridNote(n.pitch + semitones, n.onset, n.duration, n.velocity) for n in notes]

        chords = None if self.chords is None else [c.transposed(semitones) for c in self.chords]
        return Tune(self.name, self.meter, shift(self.melody), shift(self.accompaniment), chords)


def monophonic(notes: Iterable[GridNote]) -> list[GridNote]:
    """Highest of simultaneous onsets, each note cut at the next onset, sorted by onset."""
    by_onset: dict[int, GridNote] = {}
    for n in notes:
        if n.onset not in by_onset or n.pitch > by_onset[n.onset].pitch:
            by_onset[n.onset] = n
    seq = [by_onset[k] for k in sorted(by_onset)]
    out = []
    for i, n in enumerate(seq):
        dur = n.duration if i + 1 == len(seq) else min(n.duration, seq[i + 1].onset - n.onset)
        out.append(GridNote(n.pitch, n.onset, max(1, dur), n.velocity))
    return out


def _track_notes(events: Iterable[tuple[int, object]], scale: float) -> list[GridNote]:
    """GridNotes from (absolute MIDI tick, message) pairs; unmatched note-ons are dropped."""
    open_notes: dict[tuple[int, int], tuple[int, int]] = {}
    notes = []
    for tick, msg in events:
        kind = getattr(msg, "type", "")
        if kind not in ("note_on", "note_off"):
            continue
        key = (msg.channel, msg.note)
        if kind == "note_on" and msg.velocity > 0:
            if key in open_notes:  # re-struck without a note-off: end the first one here
                start, vel = open_notes.pop(key)
                notes.append((msg.note, start, tick, vel))
            open_notes[key] = (tick, msg.velocity)
        elif key in open_notes:
            start, vel = open_notes.pop(key)
            notes.append((msg.note, start, tick, vel))
    out = []
    for pitch, start, end, vel in notes:
        on = round(start * scale)
        dur = max(1, round(end * scale) - on)
        out.append(GridNote(pitch, on, dur, vel))
    out.sort(key=lambda n: (n.onset, n.pitch))
    return out


def read_midi(path: os.PathLike | str) -> Tune:
    """Read a MIDI file as a Tune (melody from the first note track; see module doc)."""
    import mido

    mid = mido.MidiFile(str(path))
    meter = None
    tracks: list[list[tuple[int, object]]] = []
    for track in mid.tracks:
        tick = 0
        events = []
        for msg in track:
            tick += msg.time
            if msg.type == "time_signature" and meter is None:
                meter = grid_meter(msg.numerator, msg.denominator)
            events.append((tick, msg))
        tracks.append(events)
    meter = meter or Meter(4, 4)
    scale = grid_ticks_per_file_tick(mid.ticks_per_beat, meter)
    note_tracks = []
    for events in tracks:
        channels = sorted(
            {m.channel for _, m in events if getattr(m, "type", "") == "note_on"}
        )
        if not channels:
            continue
        if mid.type == 0 and len(channels) > 1:
            for ch in channels:
                chan_events = [(t, m) for t, m in events if getattr(m, "channel", None) == ch]
                note_tracks.append(_track_notes(chan_events, scale))
        else:
            note_tracks.append(_track_notes(events, scale))
    note_tracks = [t for t in note_tracks if t]
    if not note_tracks:
        raise ValueError(f"{path}: no notes")
    melody = monophonic(note_tracks[0])
    accompaniment = note_tracks[1] if len(note_tracks) > 1 else []
    return Tune(os.path.basename(str(path)), meter, melody, accompaniment)


def write_midi(
    tune: Tune, path: os.PathLike | str, ticks_per_beat: int = 480, bpm: float = 100.0
) -> None:
    """Write melody (channel 0) and accompaniment (channel 1) as a format-1 MIDI file."""
    import mido

    scale = file_ticks_per_grid_tick(ticks_per_beat, tune.meter)
    if abs(scale - round(scale)) > 1e-9:
        raise ValueError(f"ticks_per_beat {ticks_per_beat} cannot hold the grid of {tune.meter}")
    mid = mido.MidiFile(type=1, ticks_per_beat=ticks_per_beat)
    meta = mido.MidiTrack()
    meta.append(
        mido.MetaMessage(
            "time_signature", numerator=tune.meter.numerator, denominator=tune.meter.denominator
        )
    )
    meta.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm)))
    meta.append(mido.MetaMessage("track_name", name=tune.name[:60]))
    mid.tracks.append(meta)
    for channel, notes in ((0, tune.melody), (1, tune.accompaniment)):
        if not notes:
            continue
        mid.tracks.append(_notes_track(notes, channel, round(scale)))
    mid.save(str(path))


def _notes_track(notes: Sequence[GridNote], channel: int, scale: int):
    import mido

    events = []
    for n in notes:
        events.append((n.onset * scale, 1, n.pitch, n.velocity))
        events.append(((n.onset + n.duration) * scale, 0, n.pitch, 0))
    events.sort(key=lambda e: (e[0], e[1]))  # note-offs before note-ons at the same tick
    track = mido.MidiTrack()
    last = 0
    for tick, on, pitch, vel in events:
        kind = "note_on" if on else "note_off"
        track.append(
            mido.Message(kind, channel=channel, note=pitch, velocity=vel, time=tick - last)
        )
        last = tick
    return track
