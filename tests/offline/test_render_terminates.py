"""Every render finishes: generated tunes (upbeats, tempi, meters, lengths, endings,
pedal) in every mode, each within a bounded number of engine passes."""

from __future__ import annotations

import pytest

from instrument.config import Config
from instrument.engine import engine as engine_module
from instrument.names import Mode
from instrument.offline.render import render
from tests.support.performances import performance

TUNES = range(24)


@pytest.fixture
def passes(monkeypatch):
    """Counts the engine passes of each render (the engine counts them in ``loops``)."""
    counted: list[int] = []
    stop = engine_module.Engine.stop

    def counting_stop(self):
        counted.append(self.loops)
        stop(self)

    monkeypatch.setattr(engine_module.Engine, "stop", counting_stop)
    return counted


@pytest.mark.parametrize("mode", list(Mode))
def test_every_generated_render_finishes_in_bounded_passes(tmp_path, mode, passes):
    worst = 0.0
    for seed in TUNES:
        config = Config()
        config.mode = mode
        perf = performance(seed)
        result = render(config, perf, tmp_path / f"{seed}.mid", seed=seed)
        # The engine wakes for each input, each planned beat or note and its hand-out,
        # and at most every 50 ms when idle: a few passes per event and per 50 ms.
        planned = sum(result.band_status["response_notes"].values()) + sum(
            result.band_status["accompaniment_beats"].values()
        )
        bound = 100 + 4 * (len(perf.events) + 3 * planned) + 2 * result.duration / 0.05
        assert passes[-1] <= bound, (seed, passes[-1], bound)
        worst = max(worst, passes[-1] / bound)
    print(f"\n{mode}: {len(TUNES)} renders, passes at most {worst:.0%} of the bound")
