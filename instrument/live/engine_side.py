"""The engine side of a running instrument: models, the Band, the engine, the recorder.

An ``EngineSide`` builds, from a ``Config``: the models (``load_models``), then the Band
of parts, the outputs (the synth's planned notes, MIDI out, the recorder) and the
``Engine`` as an offline render builds them (``instrument.live.assembly``), starts the
engine's thread, and makes what ``instrument status`` shows. It reaches the sound through a
``SoundControls``:

- ``LocalSound``: the ``SoundSide`` in the same process (``OneProcessInstrument``): plans
  go straight into ``PlannedNotes`` and ``MidiOutQueue``;
- ``RemoteSound``: the audio process (``instrument.live.engine_process``): plans go through
  ``remote.PlanWriter``, the sound side's counters come from the shared stats block.

``summary_line`` is the "session: ..." line the benchmarks read from the log.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from instrument import __version__
from instrument.config import Config
from instrument.engine.engine import Engine
from instrument.engine.outputs import MidiOutput, MidiSender, SynthOutput
from instrument.live.assembly import Recording, assemble
from instrument.live.sound_stats import shown_in_status, stats_from_shared
from instrument.live.stopping import stop_safely
from instrument.midifile.recorder import SmfRecorder
from instrument.parts.band import Band
from instrument.parts.factory import load_models
from instrument.realtime.planned import SynthEvent
from instrument.realtime.remote import PlanWriter
from instrument.realtime.router import InputQueue
from instrument.realtime.shared_stats import SharedStats
from instrument.timing.clock import Clock

log = logging.getLogger(__name__)


class PlanSink(Protocol):
    """Where the synth's planned notes go: ``PlannedNotes`` or ``PlanWriter``."""

    def schedule(self, event: SynthEvent) -> None: ...

    def cancel(self, part: str, now: float) -> None: ...

    def panic(self) -> None: ...


class SoundControls(Protocol):
    """What the engine side needs of the sound side, in this process or the other."""

    planned: PlanSink
    midi: MidiSender

    def set_volume(self, part: str, volume: float) -> None: ...

    def set_thru_muted(self, muted: bool) -> None: ...

    def wait_sent(self, timeout: float) -> bool:
        """Until every MIDI message handed over has left."""
        ...

    def stats(self) -> dict:
        """``SoundSide.stats()``."""
        ...

    def status(self) -> dict:
        """pid (of the process holding the JACK client), midi_in, midi_out, audio,
        audio_cycles; with the engine in a process of its own, also engine_restarts and
        last_engine_death (how it last died, or None)."""
        ...


class LocalSound:
    """The ``SoundSide`` of this very process."""

    def __init__(self, sound) -> None:  # a started instrument.live.sound_side.SoundSide
        self._sound = sound
        self.planned: PlanSink = sound.planned
        self.midi: MidiSender = sound.outgoing

    def set_volume(self, part: str, volume: float) -> None:
        self._sound.sound.set_volume(part, volume)

    def set_thru_muted(self, muted: bool) -> None:
        self._sound.thru.muted = muted

    def wait_sent(self, timeout: float) -> bool:
        return self._sound.outgoing.wait_sent(timeout)

    def stats(self) -> dict:
        return self._sound.stats()

    def status(self) -> dict:
        s = self._sound
        return {"pid": os.getpid(), "midi_in": s.midi_in_name(),
                "midi_out": s.midi_out_name(), "audio": s.audio_info(),
                "audio_cycles": s.audio_cycles}


class RemoteSound:
    """The audio process, through the plan ring and the shared stats block."""

    def __init__(self, writer: PlanWriter, stats: SharedStats, backend: str) -> None:
        self._writer = writer
        self._stats = stats
        self._backend = backend
        self.planned: PlanSink = writer
        self.midi: MidiSender = writer

    def set_volume(self, part: str, volume: float) -> None:
        self._writer.set_volume(part, volume)

    def set_thru_muted(self, muted: bool) -> None:
        self._writer.set_thru_muted(muted)

    def wait_sent(self, timeout: float) -> bool:
        return self._writer.wait_sent(timeout)

    def stats(self) -> dict:
        return stats_from_shared(self._stats)

    def status(self) -> dict:
        g = self._stats.get
        return {"pid": g("audio_pid"), "midi_in": self._stats.text("midi_in"),
                "midi_out": self._stats.text("midi_out"),
                "audio": {"backend": self._backend, "rate": g("rate"), "buffer": g("period")},
                "audio_cycles": g("cycles"),
                "engine_restarts": g("engine_restarts"),
                "last_engine_death": self._stats.text("last_engine_death")}


class EngineSide:
    """Models, Band, outputs, recorder and engine (see the module docstring)."""

    def __init__(self, config: Config, clock: Clock, queue: InputQueue,
                 sound: SoundControls, recording_path,
                 on_fatal: Callable[[BaseException], None]) -> None:
        self.config = config
        self.clock = clock
        self.queue = queue
        self.sound = sound
        self.recording_path = recording_path
        self._on_fatal = on_fatal
        self.engine: Engine | None = None
        self.recorder: SmfRecorder | None = None
        self.band: Band | None = None
        self.models = None
        self._started_at = time.monotonic()

    def start(self) -> None:
        """Load the models, ``assemble`` the Band, the recorder and the engine (as a
        render does), then start the recorder's and the engine's threads."""
        cfg, sound = self.config, self.sound
        models = load_models(cfg)
        for note in models.notes:
            (log.info if "loaded" in note else log.warning)(note)
        self.models = models
        recording = (Recording(self.recording_path, cfg.recording.flush_interval)
                     if cfg.recording.enabled else None)
        built = assemble(
            cfg, self.clock, models,
            [SynthOutput(sound.planned),  # type: ignore[arg-type]
             # The player's own messages leave from the sound side the moment they
             # arrive (realtime.player_out); the engine sends only the parts' notes.
             MidiOutput(sound.midi, cfg.midi.channels(), send_player=False)],
            recording, set_part_volume=sound.set_volume, set_thru_muted=sound.set_thru_muted,
            listen_channel=cfg.midi.input_channel, queue=self.queue, on_fatal=self._on_fatal,
        )
        self.band, self.recorder, self.engine = built.band, built.recorder, built.engine
        if self.recorder is not None:
            self.recorder.start()
            log.info("recording to %s", self.recording_path)
        self.engine.start()

    # -- running -----------------------------------------------------------------------

    def dead(self) -> list[str]:
        """The engine side's threads that died."""
        dead = []
        if self.engine is not None and not self.engine.alive:
            dead.append("engine")
        if self.recorder is not None and not self.recorder.alive:
            dead.append("recorder")
        return dead

    @property
    def loops(self) -> int:
        return self.engine.loops if self.engine is not None else 0

    def status_snapshot(self, health: dict) -> dict:
        """What `instrument status` shows (see instrument.live.status). Any thread; cheap:
        counters and fixed histograms, nothing that grows with the session."""
        band = self.band
        assert band is not None
        stats = self.sound.stats()
        sound = self.sound.status()
        band_status = band.status()
        models = {}
        for task, runner_key in (("continuation", "continuation_steps"),
                                 ("accompaniment", "accompaniment_steps")):
            model = getattr(self.models, task)
            steps = band_status[runner_key]
            models[task] = {
                "providers": model.stepper.providers if model is not None else [],
                "fallback": None if model is not None else next(
                    (n for n in self.models.notes if n.startswith(task)), "unavailable"
                ),
                "steps": steps.get("steps", 0),
                "p50_ms": steps.get("p50_ms"),
                "p99_ms": steps.get("p99_ms"),
                "missed_deadlines": steps.get("misses", 0),
            }
        ahead = band_status["foresight_steps"]
        if ahead is not None:  # the melody forecast, on its own worker or in the model's step
            models["accompaniment"]["foresight"] = {
                "steps": ahead.get("steps", 0), "p50_ms": ahead.get("p50_ms"),
                "p99_ms": ahead.get("p99_ms"), "missed_deadlines": ahead.get("misses", 0),
                "ahead_p50_ms": ahead.get("ahead_p50_ms"),
                "ahead_p99_ms": ahead.get("ahead_p99_ms")}
        decision = band_status["accompaniment_decision"]
        if decision is not None:  # the whole beat's decision, model step included
            models["accompaniment"]["decision"] = {
                "p50_ms": decision["p50"], "p99_ms": decision["p99"],
                "beats": decision["beats"], "stepped_ahead": decision["stepped_ahead"],
                "waited": decision["waited"]}
        follow = band_status["follow"] or {}
        return {
            "pid": sound["pid"],
            "version": __version__,
            "uptime_s": round(time.monotonic() - self._started_at, 1),
            "mode": band.mode,
            "tempo_bpm": band_status["tempo_bpm"] if band_status["beat_running"] else None,
            "tempo_source": band_status["tempo_source"],
            "tempo_confidence": follow.get("confidence"),
            "meter": band_status["meter"] + (" (heard)" if follow.get("meter_auto") else ""),
            "meter_confidence": follow.get("meter_confidence"),
            "bar_confidence": follow.get("bar_confidence"),
            "style": band_status["style"] + (" (auto)" if band_status["style_choice"] == "auto"
                                             else ""),
            "chords_move": band_status["chord_changes"],
            "section": band_status["section"],
            "energy": band_status["energy"],
            "drums": band_status["drums"],
            "midi_in": sound["midi_in"],
            "midi_out": sound["midi_out"],
            "audio": sound["audio"],
            "models": models,
            "steps": sum(m["steps"] for m in models.values()),
            "missed_deadlines": sum(m["missed_deadlines"] for m in models.values()),
            "recording": str(self.recorder.path) if self.recorder else None,
            **shown_in_status(stats),
            **{key: sound[key] for key in ("engine_restarts", "last_engine_death")
               if key in sound},
            **health,
        }

    # -- stop --------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop the engine (it panics: every note it began ends, on the synth, MIDI out
        and in the recording), let MIDI out send it, close the recording."""
        if self.engine is not None:
            stop_safely("engine", self.engine.stop)
            if self.band is not None and self.band.transport.link is not None:
                stop_safely("Ableton Link", self.band.transport.link.stop)
            if not self.sound.wait_sent(1.0):
                log.error("MIDI out did not send every note-off before closing")
        time.sleep(0.03)  # let the synth's fast release finish
        if self.recorder is not None:
            stop_safely("recording", self.recorder.close)
            log.info("recording saved: %s", self.recorder.path)

    def summary_line(self, stats: dict) -> str:
        """The session's closing line (``instrument.bench.soak.REPORT`` parses it)."""
        assert self.band is not None
        return (
            f"session: {stats['xruns']} xruns, {stats['cycles']} JACK cycles (callback ms "
            f"{stats['callback_ms']}; entered after ms {stats['callback_start_ms']}; "
            f"{stats['callback_overruns']} ended over a period); {stats['late_events']} "
            f"planned notes reached the synth late, {stats['late_midi_out']} MIDI out late "
            f"(at most {1000 * stats['max_lateness']:.1f} ms); band {self.band.status()}"
        )


__all__: Sequence[str] = ("EngineSide", "LocalSound", "RemoteSound", "SoundControls")
