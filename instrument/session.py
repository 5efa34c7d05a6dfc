"""A running instrument: everything built from a ``Config``, started in order, stopped safely.

Drivers, by how the configuration resolves:

- audio on JACK: our JACK client (``instrument.jack_host``) owns ``instrument:midi_in``,
  ``midi_out``, ``out_1`` and ``out_2``; its cycle (``instrument.realtime.cycle``) drives
  a manual pyo server;
- audio on PortAudio or offline: pyo's own PortAudio callback, or a pacing thread, runs
  the blocks (``PyoBlock``); MIDI comes through ALSA (rtmidi, a sender thread for MIDI
  out) or through the JACK client's MIDI ports.

Start-up order: the JACK client is activated and its ports registered first (connectable
the moment they appear; silent until the cycle is built), then pyo and the synths, the
real-time cycle (thru plays from here), the models, the Band, the recorder and the
engine. Then ``gc.freeze()``: what was built lives as long as the session.

Stopping (SIGINT, SIGTERM, a fatal error, the JACK server going away) panics first, so
no note is left sounding: the synth fades out, MIDI out gets every note-off plus CC
123/120, and the recording is closed.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from instrument import __version__, systemd
from instrument.audio import server as audio_server
from instrument.audio.sound import SoundSystem
from instrument.clock import Clock, LiveClock
from instrument.config import Config
from instrument.engine import Engine
from instrument.jack_graph import jack_server_running
from instrument.jack_host import JackHost, JackPorts
from instrument.jack_server import EmbeddedJack
from instrument.midi import rtmidi_io
from instrument.midi.hotplug import HotplugWatcher
from instrument.midi.jack_midi import JackMidiInput, JackMidiSender
from instrument.midi.router import InputQueue, MidiThreadInput
from instrument.names import AudioBackend, MidiApi, Part
from instrument.outputs import MidiOutput, SynthOutput
from instrument.parts.band import Band
from instrument.parts.factory import build_band, load_models
from instrument.realtime.cycle import AudioStage, JackCycle, NoAudio, PyoBlock, PyoStage
from instrument.realtime.midi_out import MidiOutQueue
from instrument.realtime.planned import BlockTimer
from instrument.realtime.thru import ThruPlayer
from instrument.recording import SmfRecorder, session_path
from instrument.status import StatusServer, socket_path

log = logging.getLogger(__name__)

# Python hands the GIL between threads every 5 ms by default; the audio callback needs
# it every block (1.3 ms at 64 frames), so let it change hands more often.
SWITCH_INTERVAL = 0.0005
STATS_INTERVAL = 5.0


class SetupError(RuntimeError):
    """The instrument cannot start as configured (the message says why and what to do)."""


@dataclass(frozen=True)
class Plan:
    """How the configuration resolves on this machine."""

    audio: AudioBackend
    audio_why: str
    midi_api: MidiApi
    midi_why: str
    #: The JACK server to start, when JACK is needed and none is running.
    embedded: EmbeddedJack | None = None

    def describe(self, config: Config) -> str:
        c = config.audio.jack_client
        midi = (
            f"JACK ports {c}:midi_in / {c}:midi_out"
            if self.midi_api == MidiApi.JACK
            else "ALSA via python-rtmidi"
        )
        text = f"audio: {self.audio} ({self.audio_why}); MIDI: {midi} ({self.midi_why})"
        if self.embedded is not None:
            text += f"; no JACK server is running: it starts {self.embedded.describe()}"
        return text


def resolve(config: Config) -> Plan:
    """How the instrument will run here. JACK is used when a server runs or when there is
    no ALSA sequencer; when it chose JACK itself and finds no server, it starts one of
    its own (``instrument.jack_server``). JACK asked for in the config with no server
    running is an error (the appliance's JACK service is down). Raises SetupError for
    what cannot work."""
    jack_running = jack_server_running()
    api = config.midi.api
    if api == MidiApi.AUTO:
        if rtmidi_io.alsa_available():
            api, midi_why = MidiApi.ALSA, "the ALSA sequencer is available"
        else:
            api, midi_why = MidiApi.JACK, "no ALSA sequencer (/dev/snd/seq) here, so JACK MIDI"
    else:
        midi_why = "as configured"
        if api == MidiApi.ALSA and not rtmidi_io.alsa_available():
            raise SetupError(
                "midi.api is alsa but the ALSA sequencer is not available here "
                "(no /dev/snd/seq); use --midi-api jack"
            )
    embedded = None
    if not jack_running:
        if config.audio.backend == AudioBackend.JACK or config.midi.api == MidiApi.JACK:
            # Asked for by name (the appliance's config): its JACK service must be up.
            raise SetupError(
                "JACK is configured but no JACK server is running; start jackd (or the "
                "instrument-jack service), or leave audio.backend and midi.api on auto"
            )
        if api == MidiApi.JACK:
            embedded = EmbeddedJack(config.audio.rate, config.audio.buffer)
    if config.audio.backend != AudioBackend.AUTO:
        audio, audio_why = config.audio.backend, "as configured"
    elif jack_running:
        audio, audio_why = AudioBackend.JACK, "a JACK server is running"
    elif embedded is not None and embedded.card is not None:
        audio, audio_why = AudioBackend.JACK, f"its own JACK server on {embedded.card}"
    else:
        audio, audio_why = audio_server.resolve_without_jack()
    return Plan(audio, audio_why, api, midi_why, embedded)


class Session:
    """The live instrument. ``start()``, then ``wait()`` until stopped, then ``stop()``."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.plan = resolve(config)
        self.exit_code = 0
        self.stop_requested = threading.Event()
        self._stopped = False
        self._closers: list[tuple[str, object]] = []
        self.host: JackHost | None = None
        self.cycle: JackCycle | None = None
        self.recorder: SmfRecorder | None = None
        self.paced: audio_server.PacedServer | None = None
        self.server = None
        self.engine: Engine | None = None
        self.watcher: HotplugWatcher | None = None
        self.sender = None
        self.outgoing: MidiOutQueue | None = None
        self.clock: Clock = LiveClock()
        self.status_server: StatusServer | None = None
        self.watchdog: systemd.Watchdog | None = None
        self.inputs: list = []
        self.models = None
        self._started_at = time.monotonic()

    # -- start -------------------------------------------------------------------------

    def start(self) -> None:
        cfg = self.config
        sys.setswitchinterval(SWITCH_INTERVAL)
        rate, block = cfg.audio.rate, cfg.audio.buffer
        ports: JackPorts | None = None
        if self.plan.embedded is not None:
            try:
                self.plan.embedded.start()
            except RuntimeError as exc:
                raise SetupError(str(exc)) from None
        if self.plan.audio == "jack" or self.plan.midi_api == "jack":
            # Active, with its ports, from here on (silent until the cycle is built).
            self.host = JackHost(cfg.audio.jack_client)
            self.clock = self.host.clock
            ports = self.host.open_ports(with_audio=self.plan.audio == "jack")
            if self.plan.audio == "jack":
                rate, block = self._adopt_jack_settings(self.host)
        log.info("starting: %s; %d Hz, %d frames", self.plan.describe(cfg), rate, block)

        self.server = audio_server.boot(
            audio_server.AudioSettings(self.plan.audio, rate, block, cfg.audio.device)
        )
        self.queue = InputQueue()
        self.sound = SoundSystem(cfg.synth, rate, block)
        planned = self.sound.planned
        self.thru = ThruPlayer(
            self.sound.synths[Part.PLAYER], cfg.midi.input_channel, on_panic=planned.silence_all
        )
        self._recording_path = session_path(cfg.recordings_dir(), time.time())
        inputs, sender, outgoing = self._open_midi(ports)
        self.sender, self.outgoing = sender, outgoing
        self._start_audio(rate, block, ports)
        self.inputs = inputs

        models = load_models(cfg)
        for note in models.notes:
            (log.info if "loaded" in note else log.warning)(note)
        self.models = models
        self.band: Band = build_band(
            cfg, models, self.clock.now, cancel=lambda part: self.engine.cancel(part),
            retime=lambda part, move: self.engine.retime(part, move),
            set_part_volume=self.sound.set_volume,
            set_thru_muted=lambda muted: setattr(self.thru, "muted", muted),
        )
        channels = cfg.midi.channels()
        outputs: list = [SynthOutput(planned), MidiOutput(outgoing, channels, cfg.midi.send_player)]
        if cfg.recording.enabled:
            path = self._recording_path
            self.recorder = SmfRecorder(
                path, self.clock.now(), self.clock.now, beat=self.band.clock,
                flush_interval=cfg.recording.flush_interval, channels=channels,
                progress=self._engine_progress,
            )
            self.recorder.start()
            outputs.append(self.recorder)
            log.info("recording to %s", path)
        self.engine = Engine(
            self.clock, outputs, parts=[self.band], listen_channel=cfg.midi.input_channel,
            queue=self.queue, on_fatal=lambda exc: self.request_stop(1, f"engine error: {exc}"),
            late_leads=self.band.late_leads,
        )
        self.engine.start()
        self.watcher = HotplugWatcher([*inputs, sender], cfg.midi.hotplug_interval)
        self.watcher.start()
        for handler in inputs:
            if getattr(handler, "connected_to", "") is None:
                log.info("no controller yet: %s", handler.describe_wait())
        self._start_service()
        # What exists now lives as long as the session: keep the collector from walking
        # it (from whichever thread, the audio thread included, triggers a collection).
        gc.freeze()
        log.info("ready to play")

    def _engine_progress(self) -> float:
        return self.engine.handled_until if self.engine is not None else float("-inf")

    def _start_service(self) -> None:
        """`instrument status`, and systemd's readiness and watchdog when under systemd."""
        service = self.config.service
        if service.status:
            self.status_server = StatusServer(
                socket_path(service.status_socket), self.status_snapshot
            )
            self.status_server.start()
        if service.watchdog:
            self.watchdog = systemd.Watchdog(self.health)
            self.watchdog.start()
        systemd.notify_ready()

    def _adopt_jack_settings(self, host: JackHost) -> tuple[int, int]:
        cfg = self.config
        if (host.rate, host.period) != (cfg.audio.rate, cfg.audio.buffer):
            log.info(
                "the JACK server runs at %d Hz / %d frames; using those (config asks %d / %d)",
                host.rate, host.period, cfg.audio.rate, cfg.audio.buffer,
            )
        return host.rate, host.period

    def _open_midi(self, ports: JackPorts | None) -> tuple[list, object, MidiOutQueue]:
        """MIDI inputs (for hotplug polling), the MIDI out sender and its queue."""
        cfg = self.config
        if self.plan.midi_api == "jack":
            host = self.host
            assert host is not None and ports is not None
            midi_in = JackMidiInput(
                host.graph, host.port("midi_in"), cfg.midi.input, (host.name + ":",)
            )
            sender = JackMidiSender(host.graph, host.port("midi_out"), cfg.midi.output)
            return [midi_in], sender, sender.queue
        client = cfg.audio.jack_client

        def deliver() -> MidiThreadInput:  # one ring per rtmidi callback thread
            return MidiThreadInput(self.queue.ring(), self.queue.wakeup, self.clock.now, self.thru)

        inputs: list = [rtmidi_io.RtMidiInput("alsa", client, cfg.midi.input, deliver())]
        if cfg.midi.virtual_ports:
            inputs.append(rtmidi_io.RtMidiVirtualInput("alsa", client, deliver()))
        rt_sender = rtmidi_io.RtMidiOutput(
            "alsa", client, cfg.midi.output, self.clock.now, virtual=cfg.midi.virtual_ports
        )
        rt_sender.start()
        self._closers.extend(("MIDI input", handler) for handler in inputs)
        self._closers.append(("MIDI output", rt_sender))
        return inputs, rt_sender, rt_sender.queue

    def _start_audio(self, rate: int, block: int, ports: JackPorts | None) -> None:
        cfg = self.config
        planned = self.sound.planned
        stage: AudioStage
        if self.plan.audio == "jack":
            assert ports is not None
            self.server.start()
            stage = PyoStage(
                self.thru, planned, audio_server.ManualRenderer(self.server, block),
                ports.audio_out,
            )
        else:
            stage = NoAudio(self.thru)
            timer = BlockTimer(block / rate, self.clock.now)
            self.server.setCallback(PyoBlock(self.thru, planned, timer))
        host = self.host
        if host is not None:
            assert ports is not None
            # With ALSA MIDI the cycle's own MIDI out stays empty.
            outgoing = self.outgoing if self.plan.midi_api == "jack" else MidiOutQueue()
            self.cycle = JackCycle(
                host.client, ports.midi_in, ports.midi_out, self.queue.ring(),
                self.queue.wakeup, stage, outgoing,
            )
            host.run(self.cycle)
        if self.plan.audio == "offline":
            wav = Path(cfg.audio.wav) if cfg.audio.wav else self._default_wav()
            self.paced = audio_server.PacedServer(self.server, rate, block, wav)
            self.paced.start()
            log.info("no sound card: writing audio to %s", wav)
        elif self.plan.audio == "portaudio":
            self.server.start()
        if self.plan.audio == "jack" and cfg.audio.connect_outputs:
            assert host is not None
            for i, dest in enumerate(host.graph.physical_playback()[:2]):
                host.graph.connect(host.port(f"out_{i + 1}"), dest)

    def _default_wav(self) -> Path:
        return self._recording_path.with_suffix(".wav")

    # -- running -----------------------------------------------------------------------

    def request_stop(self, code: int = 0, reason: str = "") -> None:
        """Any thread or a signal handler: ask the main thread to stop the session."""
        if reason:
            log.log(logging.ERROR if code else logging.INFO, "stopping: %s", reason)
        if code and not self.exit_code:
            self.exit_code = code
        self.stop_requested.set()

    def wait(self) -> int:
        """Main thread: block until a stop is requested; report counters meanwhile."""
        last_report = time.monotonic()
        reported: tuple = ()
        while not self.stop_requested.wait(0.2):
            if self.host is not None and self.host.graph.server_lost.is_set():
                self.request_stop(1, "the JACK server went away")
            if time.monotonic() - last_report >= STATS_INTERVAL:
                last_report = time.monotonic()
                reported = self._report(reported)
        return self.exit_code

    def health(self) -> dict:
        """What the watchdog checks: counters that advance while the engine and the audio
        run, and the threads or outputs that died. Any thread; a few attribute reads."""
        cycle = self.cycle
        dead = []
        if self.engine is not None and not self.engine.alive:
            dead.append("engine")
        if self.sender is not None and not getattr(self.sender, "alive", True):
            dead.append("MIDI out")
        if self.recorder is not None and not self.recorder.alive:
            dead.append("recorder")
        return {
            "engine_loops": self.engine.loops if self.engine else 0,
            "audio_cycles": cycle.cycles if cycle is not None else self.sound.planned.blocks,
            "dead": dead,
        }

    def status_snapshot(self) -> dict:
        """What `instrument status` shows (see instrument.status). Any thread; cheap:
        counters and fixed histograms, nothing that grows with the session."""
        cfg, host, band = self.config, self.host, self.band
        stats = self.stats()
        midi_in = next(
            (h.connected_to for h in self.inputs if getattr(h, "connected_to", None)), None
        )
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
        return {
            "pid": os.getpid(),
            "version": __version__,
            "uptime_s": round(time.monotonic() - self._started_at, 1),
            "mode": band.mode,
            "tempo_bpm": band_status["tempo_bpm"] if band_status["beat_running"] else None,
            "tempo_source": band_status["tempo_source"],
            "tempo_confidence": (band_status["follow"] or {}).get("confidence"),
            "midi_in": midi_in,
            "midi_out": getattr(self.sender, "connected_to", None),
            "audio": {
                "backend": self.plan.audio,
                "rate": host.rate if host else cfg.audio.rate,
                "buffer": host.period if host else cfg.audio.buffer,
            },
            "models": models,
            "steps": sum(m["steps"] for m in models.values()),
            "missed_deadlines": sum(m["missed_deadlines"] for m in models.values()),
            "late_notes": stats["late_events"] + stats["late_midi_out"],
            "midi_out_deferred": stats["midi_out_deferred"],
            "midi_out_dropped": stats["midi_out_dropped"],
            "xruns": stats["xruns"],
            "recording": str(self.recorder.path) if self.recorder else None,
            "input_received": stats["input_received"],
            "input_dropped": stats["input_dropped"],
            **self.health(),
        }

    def stats(self) -> dict:
        host, cycle, outgoing = self.host, self.cycle, self.outgoing
        return {
            "input_received": self.queue.received,
            "input_dropped": dict(self.queue.dropped),
            "input_overflow": cycle.input_overflow if cycle else 0,
            "thru_overflowed": self.thru.overflowed,
            "voices_dropped": sum(s.dropped for s in self.sound.synths.values()),
            "engine_inputs": self.engine.stats.inputs if self.engine else 0,
            "late_events": self.sound.planned.late_events,
            "late_midi_out": outgoing.late if outgoing else 0,
            "midi_out_deferred": outgoing.deferred if outgoing else 0,
            "midi_out_dropped": outgoing.dropped if outgoing else 0,
            "xruns": host.graph.xruns if host else 0,
            "callback_ms": cycle.cycle_times.summary_ms() if cycle else {},
            "callback_start_ms": cycle.start_delays.summary_ms() if cycle else {},
            "callback_overruns": cycle.overruns if cycle else 0,
            "callback_errors": cycle.errors if cycle else 0,
            "last_callback_error": cycle.last_error if cycle else "",
        }

    def _report(self, previous: tuple) -> tuple:
        s = self.stats()
        key = (
            sum(s["input_dropped"].values()), s["input_overflow"], s["thru_overflowed"],
            s["voices_dropped"], s["callback_errors"], s["midi_out_dropped"],
        )
        if key != previous and any(key):
            log.warning(
                "input: %d received; dropped %s; over the per-cycle limit %d; "
                "thru overflow %d; notes without a free voice %d; callback errors %d; "
                "stale MIDI out dropped %d",
                s["input_received"], s["input_dropped"] or "none", s["input_overflow"],
                s["thru_overflowed"], s["voices_dropped"], s["callback_errors"],
                s["midi_out_dropped"],
            )
            if s["last_callback_error"]:
                log.error("last error in the JACK callback: %s", s["last_callback_error"])
        return key

    # -- stop --------------------------------------------------------------------------

    def stop(self) -> None:
        """Silence everything, then close in reverse order. Safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        systemd.notify_stopping()
        if self.watchdog is not None:
            self._safely("watchdog", self.watchdog.stop)
        if self.status_server is not None:
            self._safely("status", self.status_server.stop)
        if self.watcher is not None:
            self._safely("hotplug", self.watcher.stop)
        if self.engine is not None:
            self._safely("engine", self.engine.stop)
            if self.band.link is not None:
                self._safely("Ableton Link", self.band.link.stop)
        if self.outgoing is not None and not self.outgoing.wait_sent(1.0):
            log.error("MIDI out did not send every note-off before closing")
        time.sleep(0.03)  # let the synth's fast release finish
        # Whatever reads the clock stops before the JACK client it reads goes away.
        if self.recorder is not None:
            self._safely("recording", self.recorder.close)
            log.info("recording saved: %s", self.recorder.path)
        for name, handler in self._closers:
            self._safely(name, handler.close)
        if self.host is not None:
            self._safely("JACK", self.host.deactivate)
        if self.paced is not None:
            self._safely("audio", self.paced.stop)
        elif self.server is not None:
            self._safely("audio", self.server.stop)
        if self.host is not None:
            self._safely("JACK", self.host.close)
        if self.plan.embedded is not None:
            self._safely("its JACK server", self.plan.embedded.stop)
        if self.engine is not None:
            self._report(())
            s = self.stats()
            outgoing_late = self.outgoing.max_late if self.outgoing else 0.0
            log.info(
                "session: %d xruns, %d JACK cycles (callback ms %s; entered after ms %s; "
                "%d ended over a period); %d planned notes reached "
                "the synth late, %d MIDI out late (at most %.1f ms); band %s", s["xruns"],
                self.cycle.cycles if self.cycle else 0, s["callback_ms"],
                s["callback_start_ms"], s["callback_overruns"], s["late_events"],
                s["late_midi_out"], 1000 * max(self.sound.planned.max_lateness, outgoing_late),
                self.band.status(),
            )

    @staticmethod
    def _safely(name: str, action) -> None:
        try:
            action()
        except Exception:
            log.exception("error while stopping %s", name)
