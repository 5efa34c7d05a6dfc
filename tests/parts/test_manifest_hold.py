"""The live accompaniment draws its chords with the hold its model's manifest names
(``sampling.hold``: the setting the model was chosen and measured with), as the
evaluators do: a model shipped with a higher hold changes chord less often in the band,
and the density control moves the hold around the manifest's, not around 0.5."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import pytest

from instrument.baselines.markov import MarkovContinuator
from instrument.config import Config
from instrument.engine.engine import Engine
from instrument.evaluation.generators import as_played, run_accompanist
from instrument.memory.tune_memory import TuneMemory
from instrument.models import load_model
from instrument.models.accompaniment import density_hold
from instrument.models.tune import read_midi
from instrument.music import TICKS_PER_BEAT
from instrument.parts.factory import LoadedModels, build_band
from instrument.places import models_dir
from instrument.realtime.router import InputEvent
from instrument.timing.clock import OfflineClock

from .test_band import BEAT, BPM, Transcript

REEL = Path(__file__).parents[1] / "data" / "reel_4-4.mid"


def model_with_hold(tmp_path: Path, hold: float):
    """The shipped accompaniment model with its manifest's ``sampling.hold`` set."""
    src = models_dir()
    for name in ("accompaniment.json", "accompaniment.onnx"):
        shutil.copy(src / name, tmp_path / name)
    manifest = tmp_path / "accompaniment.json"
    data = json.loads(manifest.read_text())
    data["sampling"]["hold"] = hold
    manifest.write_text(json.dumps(data))
    model = load_model(manifest)
    model.warm_up()
    return model


def changes(chords) -> int:
    played = [c.identity for c in chords if not c.is_silent]
    return sum(a != b for a, b in itertools.pairwise(played))


def band_chords(model, style: str = "pad") -> dict:
    """The chords the band plays to the reel (the model with its policy and the tune
    memory, on the offline clock at a fixed tempo) in ``style`` (the pad's harmony moves
    on any beat, as the evaluators' does)."""
    config = Config()
    config.mode = "accompany"
    config.accompaniment.style = style
    config.tempo.bpm = BPM
    config.tempo.source = "internal"
    config.tempo.send_clock = False
    markov = MarkovContinuator.from_prior(config.models_dir() / config.models.markov_prior)
    clock = OfflineClock()
    engine = None
    band = build_band(config, LoadedModels(None, model, markov, []), clock.now,
                      cancel=lambda part: engine.cancel(part), live=False, seed=0)
    engine = Engine(clock, [Transcript()], parts=[band])
    tune = read_midi(REEL)
    end = 0.0
    for n in tune.melody:
        start = n.onset / TICKS_PER_BEAT * BEAT
        stop = (n.onset + n.duration) / TICKS_PER_BEAT * BEAT
        engine.submit(InputEvent(start, (0x90, n.pitch, 90)))
        engine.submit(InputEvent(stop - 0.01, (0x80, n.pitch, 0)))
        end = max(end, stop)
    engine.advance_to(end)
    return {c.beat: c.chord for c in band.accompaniment.history}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return {hold: model_with_hold(tmp_path_factory.mktemp(f"hold{hold}"), hold)
            for hold in (0.5, 0.85)}


def test_a_manifest_with_a_higher_hold_changes_chord_less_often_in_the_band(models):
    neutral, held = band_chords(models[0.5]), band_chords(models[0.85])
    assert len(neutral) >= 30 and len(held) >= 30
    assert changes(held.values()) < 0.75 * changes(neutral.values())


def test_the_band_plays_the_chords_the_evaluators_score(models):
    tune = read_midi(REEL)
    for hold, model in models.items():
        played = as_played(model, model.deadline_ticks)
        assert played.decoding().hold == hold
        scored = run_accompanist(played, tune, model.deadline_ticks, memory=TuneMemory())
        band = band_chords(model)
        assert len(band) >= 30
        assert all(band[b] == scored[b] for b in band if b < len(scored))
        # The reel's band moves those chords only on its bar lines and half bars.
        reel = band_chords(model, "reel")
        bar = tune.meter.beats_per_bar
        assert all(reel[b] == scored[b] for b in reel if b < len(scored) and b % bar == 0)
        moved = [b for b in reel if b - 1 in reel and not reel[b - 1].is_silent
                 and reel[b].identity != reel[b - 1].identity]
        assert moved and all(b % bar in (0, bar // 2) for b in moved)


def test_the_density_control_moves_the_hold_around_the_manifests():
    assert density_hold(0.5, 0.65) == pytest.approx(0.65)
    assert density_hold(0.2, 0.65) > 0.65 > density_hold(0.8, 0.65)
    assert density_hold(0.5, 0.5) == pytest.approx(0.5)
    assert density_hold(0.0, 0.5) == 0.95 and density_hold(1.0, 0.5) == 0.05
