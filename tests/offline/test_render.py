"""`instrument render`: the live engine offline over a MIDI file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import mido
import pytest

from instrument.config import Config
from instrument.evaluation.generators import reference_metrics
from instrument.midifile.performance import read_performance
from instrument.models.tune import read_midi
from instrument.offline.render import render

DATA = Path(__file__).parents[1] / "data"
REEL = DATA / "reel_4-4.mid"


def run_render(tmp_path, *args):
    out = tmp_path / "out.mid"
    done = subprocess.run(
        [sys.executable, "-m", "instrument", "render", str(REEL), "-o", str(out), *args],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return out


def test_same_seed_same_file_other_seed_other_file(tmp_path):
    a = run_render(tmp_path / "a", "--seed", "7", "--mode", "accompany+continue")
    b = run_render(tmp_path / "b", "--seed", "7", "--mode", "accompany+continue")
    c = run_render(tmp_path / "c", "--seed", "8", "--mode", "accompany+continue")
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


@pytest.mark.parametrize(
    ("mode", "parts"),
    [("accompany", ["accompaniment", "bass", "drums"]), ("continue", ["continuation"]),
     ("accompany+continue", ["accompaniment", "bass", "drums", "continuation"])],
)
def test_output_has_player_and_the_parts_played(tmp_path, mode, parts):
    out = tmp_path / f"{mode}.mid"
    render(Config(), read_performance(REEL), out, seed=1)  # default mode is thru in Config
    config = Config()
    config.mode = mode
    render(config, read_performance(REEL), out, seed=1)
    smf = mido.MidiFile(out)
    assert smf.type == 1
    names = [t.name for t in smf.tracks[1:]]
    assert names == ["player", *parts]
    player = [m.note for m in smf.tracks[1] if m.type == "note_on" and m.velocity > 0]
    source = [m.note for m in mido.MidiFile(REEL).tracks[1] if m.type == "note_on"
              and m.velocity > 0]
    assert player == source
    for track in smf.tracks[2:]:
        assert any(m.type == "note_on" for m in track)


def test_the_tail_lets_the_last_phrase_be_answered(tmp_path):
    config = Config()
    config.mode = "continue"
    performance = read_performance(REEL)
    render(config, performance, tmp_path / "short.mid", seed=2, tail_beats=0.5)
    full = render(config, performance, tmp_path / "full.mid", seed=2)
    def count(path):
        tracks = [t for t in mido.MidiFile(path).tracks if t.name == "continuation"]
        return sum(1 for t in tracks for m in t if m.type == "note_on" and m.velocity > 0)

    assert full.band_status["responses"] >= 1
    assert count(tmp_path / "full.mid") > count(tmp_path / "short.mid")


def test_wav_and_plot(tmp_path):
    pytest.importorskip("matplotlib", reason="--plot needs the plot extra")
    out = run_render(tmp_path, "--mode", "accompany", "--wav", str(tmp_path / "out.wav"),
                     "--plot", str(tmp_path / "roll.png"), "--tail", "2")
    import wave

    with wave.open(str(tmp_path / "out.wav")) as w:
        assert w.getnchannels() == 2 and w.getframerate() == 48000
        seconds = w.getnframes() / w.getframerate()
    assert seconds == pytest.approx(read_performance(REEL).end + 2 * 60 / 100 + 1, abs=0.2)
    assert (tmp_path / "roll.png").stat().st_size > 10_000
    assert out.exists()


#: A render's audio path (``_offline_sound``, ``_render_audio``) driven by a stand-in
#: engine that plays one bass note and one kick through ``SynthOutput``, as the Band will.
BASS_AND_KICK = """
import sys
from pathlib import Path

from instrument.config import Config
from instrument.engine.engine import TimedEvent
from instrument.engine.outputs import SynthOutput
from instrument.offline.render import _offline_sound, _render_audio


class Engine:
    def __init__(self, out):
        self.out, self.events = out, [
            TimedEvent(0.5, "bass", (0x93, 40, 100)), TimedEvent(1.0, "bass", (0x83, 40, 0)),
            TimedEvent(1.5, "drums", (0x99, 36, 110)), TimedEvent(1.6, "drums", (0x89, 36, 0)),
        ]

    def advance_to(self, t):
        while self.events and self.events[0].due <= t + 0.05:
            self.out.play(self.events.pop(0))


class Recorder:
    def flush(self):
        return True


sound = _offline_sound(Config())
_render_audio(Engine(SynthOutput(sound.planned)), sound, 2.0, Path(sys.argv[1]), Recorder())
"""


def test_a_render_plays_the_bass_and_the_drums_through_the_instruments_sound(tmp_path):
    import numpy as np

    from instrument.music import midi_to_hz
    from tests.support.analysis import cents, estimate_f0, read_wav, rms

    wav = tmp_path / "band.wav"
    done = subprocess.run([sys.executable, "-c", BASS_AND_KICK, str(wav)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    audio, rate = read_wav(wav)
    assert rms(audio[: int(0.45 * rate)]) < 1e-6
    bass = audio[int(0.55 * rate) : int(0.95 * rate)]
    assert abs(cents(estimate_f0(bass, rate, fmin=30.0), midi_to_hz(40))) < 25
    kick = audio[int(1.5 * rate) : int(1.8 * rate)]
    power = np.abs(np.fft.rfft(kick)) ** 2
    assert power[np.fft.rfftfreq(kick.size, 1 / rate) < 150].sum() > 0.8 * power.sum()


def test_every_sounding_part_has_its_colour_in_the_piano_roll():
    from instrument.names import SOUNDING_PARTS
    from instrument.offline.render import PART_COLOURS

    assert set(PART_COLOURS) == set(SOUNDING_PARTS)
    assert len(set(PART_COLOURS.values())) == len(PART_COLOURS)


def test_plot_without_its_library_says_so_before_doing_any_work(tmp_path):
    """As on a default install, where matplotlib (the plot extra) is absent."""
    blocker = tmp_path / "no_matplotlib"
    blocker.mkdir()
    (blocker / "matplotlib.py").write_text("raise ImportError('not installed')\n")
    out = tmp_path / "out.mid"
    done = subprocess.run(
        [sys.executable, "-m", "instrument", "render", str(REEL), "-o", str(out),
         "--plot", str(tmp_path / "roll.png")],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(blocker)},
    )
    assert done.returncode == 2
    assert "pip install 'instrument[plot]'" in done.stderr
    assert not out.exists()


def test_unreadable_input_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"not midi")
    done = subprocess.run(
        [sys.executable, "-m", "instrument", "render", str(bad), "-o", str(tmp_path / "o.mid")],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 1 and "cannot read" in done.stderr


def note_in_chord(path: Path) -> float:
    return reference_metrics([read_midi(path)])["note_in_chord"]


def test_rendered_accompaniment_fits_the_melody_at_least_as_well_as_the_rules(tmp_path):
    assert (Config().models_dir() / "accompaniment.onnx").exists(), "accompaniment model missing"
    results = {}
    for name in ("model", "rules"):
        config = Config()
        config.mode = "accompany"
        config.accompaniment.style = "pad"  # chords held through every beat: all are heard
        if name == "rules":
            config.models.accompaniment = "no-such-model"  # the fallback plays every beat
        total = []
        for tune in ("reel_4-4.mid", "jig_6-8.mid", "song_3-4.mid"):
            out = tmp_path / f"{name}-{tune}"
            result = render(config, read_performance(DATA / tune), out, seed=0)
            beats = result.band_status["accompaniment_beats"]
            assert beats["neural" if name == "model" else "fallback"] > 0
            total.append(note_in_chord(out))
        results[name] = sum(total) / len(total)
    print(f"\nnote-in-chord of rendered accompaniment: {results}")
    # On three tunes the two are within a few hundredths either way (the shipped model
    # is no better than the rules: issue 20); a model far below them is broken.
    assert results["model"] >= results["rules"] - 0.05


def test_rendered_chords_are_the_ones_evaluation_measures(tmp_path):
    """The live part steps the model (with its harmony policy, the rules and the melody
    forecast) and its tune memory as ``instrument evaluate`` does, from the piece's start:
    the chords it plays are the ones the published metrics were measured on (in the pad,
    whose harmony moves on any beat as the evaluators' does)."""
    from instrument.evaluation.generators import as_played, run_accompanist
    from instrument.memory.tune_memory import TuneMemory
    from instrument.parts.factory import load_models

    config = Config()
    config.mode = "accompany"
    config.accompaniment.style = "pad"
    result = render(config, read_performance(REEL), tmp_path / "out.mid", seed=0,
                    file_tempo=True)  # the file's grid, as evaluation steps it
    played = {c.beat: c.chord for c in result.chords if c.neural}
    assert len(played) > 20
    models = load_models(config)
    evaluated = run_accompanist(as_played(models.accompaniment, 2, models.continuation),
                                read_midi(REEL), 2, memory=TuneMemory())
    same = [b for b, chord in played.items() if b < len(evaluated) and evaluated[b] == chord]
    assert len(same) == len([b for b in played if b < len(evaluated)])


def accelerating(path: Path, out: Path) -> list[float]:
    """``path`` with a tempo map that speeds up from 90 to 126 bpm over the tune; returns
    the time of every beat (quarter) as played."""
    smf = mido.MidiFile(path)
    tpq = smf.ticks_per_beat
    end = max(sum(m.time for m in track) for track in smf.tracks)
    beats = end // tpq + 8
    conductor = mido.MidiTrack()
    seconds, now = [], 0.0
    for b in range(beats):
        bpm = 90 + 36 * b / beats
        conductor.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm),
                                          time=0 if b == 0 else tpq))
        seconds.append(now)
        now += 60 / bpm
    others = [mido.MidiTrack([m for m in t if m.type != "set_tempo"]) for t in smf.tracks]
    mido.MidiFile(type=1, ticks_per_beat=tpq, tracks=[conductor, *others]).save(out)
    return seconds


def test_render_follows_a_file_played_with_a_tempo_map(tmp_path):
    import numpy as np

    played = tmp_path / "accelerating.mid"
    beats = np.array(accelerating(REEL, played))
    config = Config()
    config.mode = "accompany"
    errors = {}
    for name, file_tempo in (("follow", False), ("file grid", True)):
        out = tmp_path / f"{name}.mid"
        performance = read_performance(played, tempo_map=not file_tempo)
        render(config, performance, out, seed=0, file_tempo=file_tempo)
        smf = mido.MidiFile(out)
        onsets, now, first = [], 0.0, None
        channel = config.midi.accompaniment_channel - 1
        player = config.midi.player_channel - 1
        for m in smf:  # through the recording's own tempo map
            now += m.time
            if m.type == "note_on" and m.velocity > 0 and m.channel == channel:
                onsets.append(now)
            elif m.type == "note_on" and m.velocity > 0 and m.channel == player:
                first = now if first is None else first
        # A recording laid in hindsight begins on a bar line, up to a bar before the
        # session: place it by the player's first note.
        shift = next(t for t, m in performance.events
                     if m[0] & 0xF0 == 0x90 and m[2] > 0) - first
        onsets = [t + shift for t in onsets]
        starts = sorted(set(round(t, 4) for t in onsets if t > beats[8]))
        errors[name] = np.array([1000 * np.abs(beats - t).min() for t in starts])
    print(f"\nchords vs the file's beats as played, p50: following "
          f"{np.median(errors['follow']):.1f} ms; --file-tempo (the file's grid at its first "
          f"tempo, as before) "
          f"{np.median(errors['file grid']):.1f} ms")
    assert np.median(errors["follow"]) <= 20
    assert np.median(errors["file grid"]) > 3 * np.median(errors["follow"])


#: A reel in G whose four-bar phrase (G G G D) comes round six times, in eighths.
REEL_BARS = ((67, 71, 74, 71, 79, 74, 71, 74), (67, 69, 71, 67, 74, 71, 67, 71),
             (79, 78, 79, 74, 71, 74, 67, 71), (74, 78, 81, 78, 74, 72, 69, 66))
PASSES = 6


def write_repeating_reel(path: Path) -> None:
    from instrument.models.tune import Tune, write_midi
    from instrument.music import TICKS_PER_BEAT, GridNote, Meter

    notes = [GridNote(pitch, ((p * 4 + bar) * 4) * TICKS_PER_BEAT + k * 6, 6, 80)
             for p in range(PASSES) for bar, pitches in enumerate(REEL_BARS)
             for k, pitch in enumerate(pitches)]
    write_midi(Tune("G G G D", Meter(4, 4), notes), path, bpm=110)


@pytest.mark.parametrize("accompanist", ["model", "rules"])
def test_the_accompaniment_changes_its_mind_on_the_repeat(tmp_path, accompanist):
    """Whatever chords the first time through gave the D bar, from the second time on it
    gets D's chord, learned from the melody heard there, and the chords fit better; the
    rule fallback learns the tune too."""
    tune = tmp_path / "reel.mid"
    write_repeating_reel(tune)
    config = Config()
    config.mode = "accompany"
    if accompanist == "rules":
        config.models.accompaniment = "no-such-model"  # the fallback plays every beat
    result = render(config, read_performance(tune), tmp_path / "out.mid", seed=0,
                    file_tempo=True)
    chords = {c.beat: c.chord for c in result.chords}

    def d_bar(p: int) -> list:
        return [chords.get((p * 4 + 3) * 4 + b) for b in range(4)]

    def fit(p: int) -> float:
        hits = [pitch % 12 in chords[(p * 4 + bar) * 4 + k // 2].pitch_classes
                for bar, pitches in enumerate(REEL_BARS) for k, pitch in enumerate(pitches)
                if (p * 4 + bar) * 4 + k // 2 in chords]
        return sum(hits) / len(hits)

    later = [c for p in range(1, PASSES) for c in d_bar(p)]
    assert all(c is not None and c.root == 2 for c in later[4:])  # D, from the third pass
    first = [c for c in d_bar(0) if c is not None]
    assert sum(c.root == 2 for c in first) < len(first)  # the first pass had not
    # Better by 0.1, or to 0.9 at least where the first pass already fitted nearly that well
    # (the model with its harmony policy fits 0.9 the first time through).
    assert min(fit(p) for p in range(2, PASSES)) >= min(fit(0) + 0.1, 0.9)
    assert max(len(c.pitch_classes) for c in chords.values()) <= 4
