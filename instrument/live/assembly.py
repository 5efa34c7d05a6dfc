"""The engine and what it drives, built from a config one way, live or offline.

``assemble`` builds the Band of parts (``build_band``) from loaded models, the
recorder (when there is a file to record to), and the ``Engine`` that plays the Band
into the sound's outputs and the recorder; the Band's cancel and retime reach that
engine. The live instrument (``instrument.live.engine_side.EngineSide``) then starts the
recorder's and the engine's threads; an offline render (``instrument.offline.render``)
advances the engine itself on an offline clock, with model steps taken at once
(``live=False``), so that it is deterministic for a seed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from instrument.config import Config
from instrument.engine.engine import Engine, Output
from instrument.midifile.recorder import SmfRecorder
from instrument.parts.band import Band
from instrument.parts.factory import LoadedModels, build_band
from instrument.realtime.router import InputQueue
from instrument.timing.clock import Clock


@dataclass
class Recording:
    """Where the recorder writes, and how often its thread flushes (live)."""

    path: Path
    flush_interval: float = 0.5


@dataclass
class EngineAssembly:
    """What ``assemble`` built; nothing started."""

    band: Band
    recorder: SmfRecorder | None
    engine: Engine


def assemble(
    config: Config,
    clock: Clock,
    models: LoadedModels,
    sound_outputs: list[Output],
    recording: Recording | None,
    *,
    live: bool = True,
    seed: int | None = None,
    beat_from_start: bool = False,
    set_part_volume: Callable[[str, float], None] | None = None,
    set_thru_muted: Callable[[bool], None] | None = None,
    listen_channel: int = 0,
    queue: InputQueue | None = None,
    on_fatal: Callable[[BaseException], None] | None = None,
) -> EngineAssembly:
    """The Band, the recorder and the engine (see the module docstring).

    ``beat_from_start``: the Band's beat runs from time 0 (a file's own grid) before the
    recorder reads it. The engine's outputs are ``sound_outputs``, then the recorder."""
    engine: Engine | None = None

    def cancel(part: str) -> None:
        assert engine is not None
        engine.cancel(part)

    def retime(part: str, move: Callable[[float], float]) -> int:
        assert engine is not None
        return engine.retime(part, move)

    def progress() -> float:
        return engine.handled_until if engine is not None else float("-inf")

    band = build_band(config, models, clock.now, cancel, live=live, seed=seed, retime=retime,
                      set_part_volume=set_part_volume, set_thru_muted=set_thru_muted)
    if beat_from_start:
        band.clock.start(0.0, 0.0)
    outputs = list(sound_outputs)
    recorder = None
    if recording is not None:
        recorder = SmfRecorder(
            recording.path, clock.now(), clock.now, beat=band.clock,
            flush_interval=recording.flush_interval, channels=config.midi.channels(),
            progress=progress, hear_meter=band.transport.settings.hear_meter,
        )
        outputs.append(recorder)
    engine = Engine(clock, outputs, parts=[band], listen_channel=listen_channel, queue=queue,
                    on_fatal=on_fatal, late_leads=band.late_leads)
    return EngineAssembly(band, recorder, engine)
