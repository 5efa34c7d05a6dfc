"""Offline rendering: the live engine, on the offline clock, over a MIDI file.

The file's first note track is the player's performance (a second note track, if any,
is ignored), timed through the file's whole tempo map. The same ``Engine``, ``Band`` and
recorder as on stage, built the same way (``instrument.live.assembly``), run on an
``OfflineClock`` with model steps taken at once (``ImmediateRunner``), so a render is
deterministic for a seed; the beat follows the notes as played, as live (``file_tempo``
puts the instrument on the file's own grid instead), and the recording's tempo map is
the beat it followed. The result is a type-1
MIDI file with a ``player`` track and one track per part the instrument played;
optionally a WAV rendered block by block by the same synth (pyo's manual server, in step
with the clock), and a piano-roll plot.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from pathlib import Path

import mido

from instrument.config import Config
from instrument.engine.engine import Engine
from instrument.engine.outputs import SynthOutput
from instrument.live.assembly import Recording, assemble
from instrument.midifile.performance import MidiPerformance
from instrument.midifile.recorder import SmfRecorder
from instrument.names import Part, TempoSource
from instrument.parts.factory import load_models
from instrument.realtime.router import InputEvent
from instrument.timing.clock import OfflineClock

log = logging.getLogger(__name__)

FLUSH_EVERY = 0.25  # seconds of the performance between recorder flushes
PART_COLOURS = {
    Part.PLAYER: "#1f77b4", Part.ACCOMPANIMENT: "#ff7f0e", Part.CONTINUATION: "#2ca02c",
    Part.BASS: "#9467bd", Part.DRUMS: "#8c564b",
}


@dataclass
class RenderResult:
    midi: Path
    wav: Path | None
    duration: float
    band_status: dict
    chords: list  # ChordChoice per accompanied beat


def render(
    config: Config,
    performance: MidiPerformance,
    out: Path,
    wav: Path | None = None,
    seed: int = 0,
    tail_beats: float | None = None,
    file_tempo: bool = False,
) -> RenderResult:
    """Run the engine over the performance and write what was played (see module doc).

    The beat follows the notes as played (the config's tempo source, "follow" by default,
    in the file's meter, or heard when the config's meter is "auto"), or with
    ``file_tempo`` it is the file's own grid."""
    out.parent.mkdir(parents=True, exist_ok=True)
    config = copy.deepcopy(config)
    if config.tempo.meter != "auto" or file_tempo:
        config.tempo.meter = str(performance.meter)
    if file_tempo:
        config.tempo.source = TempoSource.FILE  # never restarted by the player, no clock out
        config.tempo.bpm = performance.bpm
    clock = OfflineClock(0.0)
    models = load_models(config)
    for note in models.notes:
        log.info(note)
    sound = _offline_sound(config) if wav is not None else None
    built = assemble(
        config, clock, models,
        [SynthOutput(sound.planned, play_player=True)] if sound is not None else [],
        Recording(out), live=False, seed=seed,
        beat_from_start=file_tempo,  # the file's own beat grid
    )
    band, recorder, engine = built.band, built.recorder, built.engine
    assert recorder is not None
    for t, message in performance.events:
        engine.submit(InputEvent(t, message))
    if tail_beats is None:
        tail_beats = config.continuation.max_beats + 4
    end = performance.end + tail_beats * 60.0 / performance.bpm
    if sound is None:
        t = 0.0
        while t < end:  # flushing as it goes: the tempo map is the beat as it was then
            t = min(end, t + FLUSH_EVERY)
            engine.advance_to(t)
            recorder.flush()
    else:
        _render_audio(engine, sound, end, wav, recorder)
    engine.stop()
    if not recorder.close():
        raise OSError(f"cannot write {out}")
    return RenderResult(out, wav, end, band.status(), list(band.accompaniment.history))


def _offline_sound(config: Config):
    from instrument.audio import server as audio_server
    from instrument.live.sound_system import SoundSystem

    rate, block = config.audio.rate, config.audio.buffer
    server = audio_server.boot(audio_server.AudioSettings("manual", rate, block))
    sound = SoundSystem(config.synth, rate, block)
    sound.server = server
    return sound


def _render_audio(engine: Engine, sound, end: float, wav: Path, recorder: SmfRecorder) -> None:
    """Advance the engine and the synth together, one audio block at a time."""
    server = sound.server
    rate, block = server.getSamplingRate(), server.getBufferSize()
    period = block / rate
    wav.parent.mkdir(parents=True, exist_ok=True)
    server.recordOptions(dur=-1, filename=str(wav), fileformat=0, sampletype=1)
    server.start()
    server.recstart()
    t, flushed = 0.0, 0.0
    while t < end + 1.0:  # a second more for the last release
        engine.advance_to(t)
        sound.planned.play_due(t)
        server.process()
        if t - flushed >= FLUSH_EVERY:
            recorder.flush()
            flushed = t
        t += period
    server.recstop()
    server.stop()


def plot_piano_roll(midi: Path, png: Path) -> None:
    """Draw player and instrument parts in different colours."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:  # an extra, not a runtime dependency
        raise RuntimeError("--plot needs matplotlib: pip install 'instrument[plot]'") from exc
    smf = mido.MidiFile(str(midi))
    tempo = next((m.tempo for m in smf.tracks[0] if m.type == "set_tempo"), 500000)
    fig, ax = plt.subplots(figsize=(14, 5))
    for track in smf.tracks[1:]:
        colour = PART_COLOURS.get(track.name, "#7f7f7f")
        tick, started = 0, {}
        for msg in track:
            tick += msg.time
            if msg.type == "note_on" and msg.velocity > 0:
                started[msg.note] = tick
            elif msg.type in ("note_on", "note_off") and msg.note in started:
                t0 = mido.tick2second(started.pop(msg.note), smf.ticks_per_beat, tempo)
                t1 = mido.tick2second(tick, smf.ticks_per_beat, tempo)
                ax.broken_barh([(t0, t1 - t0)], (msg.note - 0.4, 0.8), color=colour)
        ax.plot([], [], color=colour, linewidth=6, label=track.name)
    ax.set_xlabel("seconds")
    ax.set_ylabel("MIDI pitch")
    ax.legend(loc="upper right")
    ax.set_title(midi.name)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=100)
    plt.close(fig)
