"""Ableton Link through aalink: the beat clock follows the Link session."""

import time

import pytest

pytest.importorskip("aalink", reason="Ableton Link needs the link extra: pip install "
                    "'instrument[link]'")

from instrument.timing.link import LinkSession


def test_link_session_publishes_beat_and_tempo_on_our_clock():
    session = LinkSession(120.0, time.monotonic, quantum=4)
    session.start()
    try:
        deadline = time.monotonic() + 2
        while session.latest() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        t0, beat0, bpm = session.latest()
        assert bpm == pytest.approx(120.0)
        time.sleep(0.5)
        t1, beat1, _ = session.latest()
        # Link's beats advance at its tempo on our clock's time line.
        assert (beat1 - beat0) / (t1 - t0) == pytest.approx(2.0, rel=0.05)
        session.propose_tempo(90.0)
        time.sleep(0.2)
        assert session.latest()[2] == pytest.approx(90.0)
    finally:
        session.stop()


def test_band_follows_link(tmp_path):
    from instrument.baselines.markov import MarkovContinuator
    from instrument.config import Config
    from instrument.parts.factory import LoadedModels, build_band
    from instrument.timing.clock import LiveClock

    config = Config()
    config.tempo.source = "link"
    config.tempo.bpm = 132
    config.mode = "accompany"
    clock = LiveClock()
    markov = MarkovContinuator.from_prior(config.models_dir() / config.models.markov_prior)
    band = build_band(config, LoadedModels(None, None, markov, []), clock.now, lambda p: None)
    try:
        time.sleep(0.3)
        band.plan(clock.now())
        assert band.clock.running and band.clock.bpm == pytest.approx(132)
        sample_t, sample_beat, _ = band.transport.link.latest()
        assert band.clock.beat_at(sample_t) == pytest.approx(sample_beat)
    finally:
        band.transport.link.stop()


def test_following_the_player_proposes_the_followed_tempo_to_link():
    from instrument.baselines.markov import MarkovContinuator
    from instrument.config import Config
    from instrument.parts.factory import LoadedModels, build_band
    from instrument.realtime.router import InputEvent
    from instrument.timing.clock import LiveClock

    config = Config()
    config.tempo.source = "follow"
    config.tempo.propose_to_link = True
    config.mode = "accompany"
    clock = LiveClock()
    markov = MarkovContinuator.from_prior(config.models_dir() / config.models.markov_prior)
    band = build_band(config, LoadedModels(None, None, markov, []), clock.now, lambda p: None)
    try:
        start = clock.now()
        for i in range(12):  # quarter notes at 124 bpm, played well
            t = start + i * 60 / 124
            band.on_input(InputEvent(t, (0x90, 60 + i % 5, 90)), band_player())
            band.plan(t + 0.05)
        deadline = time.monotonic() + 2
        while abs(band.transport.link.latest()[2] - 124) > 2 and time.monotonic() < deadline:
            time.sleep(0.05)
            band.plan(clock.now())
        assert band.transport.link.latest()[2] == pytest.approx(124, abs=2)
    finally:
        band.transport.link.stop()


def band_player():
    from instrument.engine.engine import PlayerState

    return PlayerState()
