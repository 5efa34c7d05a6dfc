"""Building the Band from the config: models (or their fallbacks), runners, settings,
and the transport that keeps its time (beat clock, tempo source, Link).

A model that is missing, corrupt or refused by every execution provider never stops the
instrument: the fallback (Markov continuation, rule arranger) plays in its place and the
log says why, in one line naming the file. Both parts get their in-tune memories
(:class:`~instrument.memory.tune_memory.TuneMemory` for the accompaniment,
:class:`~instrument.memory.note_memory.NoteMemory` for the continuation), which the
fallbacks use as well.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from instrument.baselines.markov import MarkovContinuator
from instrument.baselines.rules import RuleArranger
from instrument.config import Config
from instrument.memory.note_memory import NoteMemory
from instrument.memory.tune_memory import TuneMemory
from instrument.models.accompaniment import ChordSamplingParams
from instrument.models.harmony import forecast_for
from instrument.models.sampling import SamplingParams
from instrument.music import Meter
from instrument.names import TempoSource
from instrument.parts.accompaniment import Accompaniment, AccompanimentSettings
from instrument.parts.band import Band, BandSettings
from instrument.parts.continuation import Responder, ResponseSettings
from instrument.parts.controls import LEARN_CC, Controls
from instrument.parts.deadline import DeadlineRunner, ImmediateRunner
from instrument.parts.dynamics import Dynamics
from instrument.parts.transport import Transport, TransportSettings
from instrument.styles.library import AUTO, StyleLibrary
from instrument.timing.beat import BeatClock
from instrument.timing.link import LinkSession, LinkUnavailable

log = logging.getLogger(__name__)


@dataclass
class LoadedModels:
    continuation: object | None
    accompaniment: object | None
    markov: MarkovContinuator
    notes: list[str]  # one line per model: loaded on which provider, or why not


def load_models(config: Config, warm_up: bool = True) -> LoadedModels:
    """Load and warm up both models; a failure leaves None and a note, never an error."""
    from instrument.models import ModelError, load_model

    directory = config.models_dir()
    notes: list[str] = []
    loaded: dict[str, object | None] = {}
    for task in ("continuation", "accompaniment"):
        name = getattr(config.models, task)
        try:
            model = load_model(
                name, providers=config.models.providers, models_dir=directory,
                engine_cache_dir=config.engine_cache_dir(),
            )
            if warm_up:
                model.warm_up()
            loaded[task] = model
            provider = getattr(model, "provider", None) or _provider_of(model)
            notes.append(f"{task} model {name}: loaded ({provider})")
        except (ModelError, OSError, ValueError, RuntimeError) as exc:
            loaded[task] = None
            notes.append(f"{task} model {name} unavailable ({exc}): using the fallback")
    prior = directory / config.models.markov_prior
    try:
        markov = MarkovContinuator.from_prior(prior)
    except (OSError, ValueError, KeyError) as exc:
        markov = MarkovContinuator()
        notes.append(f"Markov prior {prior} unavailable ({exc}): starting it empty")
    return LoadedModels(loaded["continuation"], loaded["accompaniment"], markov, notes)


def _provider_of(model: object) -> str:
    stepper = getattr(model, "stepper", None)
    session = getattr(stepper, "session", None)
    if session is not None and hasattr(session, "get_providers"):
        return session.get_providers()[0]
    return "unknown provider"


def load_styles(config: Config) -> StyleLibrary:
    """The shipped styles and the player's; a style file that does not parse is logged
    (file, line, what is wrong) and left out."""
    styles = StyleLibrary.load(config.user_styles_dir())
    for error in styles.errors:
        log.error("style left out: %s", error)
    return styles


def build_band(
    config: Config,
    models: LoadedModels,
    now: Callable[[], float],
    cancel: Callable[[str], None],
    live: bool = True,
    seed: int | None = None,
    set_part_volume: Callable[[str, float], None] | None = None,
    set_thru_muted: Callable[[bool], None] | None = None,
    retime: Callable[[str, Callable[[float], float]], int] | None = None,
) -> Band:
    """The Band with everything the config asks for. ``live``: model steps on worker
    threads with deadlines; offline: at once and deterministic."""
    if seed is None:
        seed = config.models.seed
    rng = np.random.default_rng(seed)
    runner = DeadlineRunner if live else ImmediateRunner
    m = config.models

    def temperature(model: object | None, fallback: float) -> float:
        if m.temperature is not None:
            return m.temperature
        defaults = getattr(model, "default_params", None)
        return defaults.temperature if defaults is not None else fallback

    sampling = SamplingParams(temperature=temperature(models.continuation, 1.0), top_p=m.top_p)

    c = config.continuation
    response = ResponseSettings(
        silence=c.silence, grid_ticks=c.grid_ticks, length_ratio=c.length_ratio,
        min_beats=c.min_beats, max_beats=c.max_beats, follow_key=c.follow_key, learn=c.learn,
        lookahead=config.accompaniment.lookahead_ms / 1000.0,
    )
    responder = Responder(
        models.markov, models.continuation, runner("continuation", now), response, sampling,
        rng, memory=NoteMemory(),
    )

    a = config.accompaniment
    deadline_ticks = getattr(models.accompaniment, "deadline_ticks", 2)
    accomp_settings = AccompanimentSettings(
        lookahead=a.lookahead_ms / 1000.0, deadline_ticks=deadline_ticks,
        upper_range=(a.upper_low, a.upper_high), bass_range=(a.bass_low, a.bass_high),
        velocity=a.velocity, follow_dynamics=a.follow_dynamics,
        stop_after_bars=a.stop_after_bars, style=a.style,
    )
    styles = load_styles(config)
    if a.style != AUTO and a.style not in styles.styles:
        log.error("no style %r (styles: %s): choosing one from the playing",
                  a.style, ", ".join(styles.names))
        accomp_settings.style = AUTO
    dynamics = Dynamics()
    neural = models.accompaniment
    forecast = forecast_for(getattr(neural, "policy", None), models.continuation, neural)
    if forecast is not None and getattr(neural, "takes_forecast", False):
        neural.attach_forecast(forecast)  # the model reads it: stepped in the model's job
        forecast = None
    accompaniment = Accompaniment(
        RuleArranger(deadline_ticks=deadline_ticks), models.accompaniment,
        runner("accompaniment", now), accomp_settings,
        ChordSamplingParams(temperature=temperature(models.accompaniment, 0.0), top_p=m.top_p),
        rng, memory=TuneMemory(), dynamics=dynamics, styles=styles,
        forecast=forecast, forecast_runner=runner("foresight", now) if forecast else None,
    )
    accompaniment.player.settings.bass_range = (a.bass_low, a.bass_high)
    accompaniment.player.settings.drums = a.drums

    cc = config.controls
    controls = Controls(
        cc_map={
            cc.mode: "mode", cc.temperature: "temperature", cc.density: "density",
            cc.accompaniment_volume: "accompaniment_volume", cc.lookahead: "lookahead",
            cc.tap_tempo: "tap_tempo", cc.start_stop: "start_stop", cc.style: "style",
            cc.drums: "drums", cc.bass_volume: "bass_volume", cc.drums_volume: "drums_volume",
        },
        learn_cc=cc.learn if cc.learn else LEARN_CC,
        learned_file=config.state_dir() / "learned_controls.json" if live else None,
    )
    presets = {p.program: p for p in config.presets}
    t = config.tempo
    settings = BandSettings(
        mode=config.mode, tap_note=t.tap_note, temperature=m.temperature,
        top_p=m.top_p, density=a.density, presets=presets,
    )
    hear_meter = t.meter == "auto"
    if hear_meter and t.source != TempoSource.FOLLOW:
        log.warning("tempo.meter auto is heard only while following the player "
                    "(tempo.source follow); playing in 4/4")
    transport_settings = TransportSettings(
        tempo_source=t.source, send_clock=t.send_clock, count_in_bars=a.count_in_bars,
        hear_meter=hear_meter and t.source == TempoSource.FOLLOW,
    )
    clock = BeatClock(bpm=t.bpm, meter=Meter(4, 4) if hear_meter else Meter.parse(t.meter))
    link = None
    if live and (t.source == TempoSource.LINK
                 or (t.source == TempoSource.FOLLOW and t.propose_to_link)):
        try:
            link = LinkSession(t.bpm, now, quantum=clock.meter.beats_per_bar)
            link.start()
        except LinkUnavailable as exc:
            if t.source == TempoSource.LINK:
                log.error("%s; using the internal tempo", exc)
                transport_settings.tempo_source = TempoSource.INTERNAL
            else:
                log.error("%s; following the player without Link", exc)
    transport = Transport(transport_settings, clock, cancel, link=link)
    return Band(
        settings, transport, responder, accompaniment, controls, cancel,
        set_part_volume=set_part_volume, set_thru_muted=set_thru_muted, retime=retime,
    )
