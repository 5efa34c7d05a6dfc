"""A running instrument: everything built from a ``Config``, started in order, stopped safely.

Start order: recorder, pyo server (booted), MIDI input (its pyo object must precede the
synth voices), synths and bridge, audio start, MIDI output, engine thread, hotplug.
Stop order is the reverse, after a panic, so that whatever ends the session (SIGINT,
SIGTERM, a fatal error, the JACK server going away) leaves no note sounding: the synth
fades out, MIDI out gets every note-off plus CC 123/120, and the recording is closed.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from instrument.audio import server as audio_server
from instrument.audio.sound import SoundSystem
from instrument.audio.thru import ThruPlayer
from instrument.clock import LiveClock
from instrument.config import Config
from instrument.engine import Engine
from instrument.jack_graph import JackGraph, jack_server_running
from instrument.midi import rtmidi_io
from instrument.midi.hotplug import HotplugWatcher
from instrument.midi.pyo_jack import PyoJackMidiInput, PyoJackMidiOutput
from instrument.midi.router import InputQueue, InputRouter
from instrument.outputs import MidiOutput, SynthOutput
from instrument.recording import SmfRecorder, session_path

log = logging.getLogger(__name__)

# Python hands the GIL between threads every 5 ms by default; pyo's audio callback needs
# it every block (1.3 ms at 64 frames), so let it change hands more often.
SWITCH_INTERVAL = 0.0005
STATS_INTERVAL = 5.0


class SetupError(RuntimeError):
    """The instrument cannot start as configured (the message says why and what to do)."""


@dataclass(frozen=True)
class Plan:
    """How the configuration resolves on this machine."""

    audio: str
    audio_why: str
    midi_api: str
    midi_why: str

    @property
    def midi_on_audio_client(self) -> bool:
        """MIDI through the JACK ports of pyo's own client (``instrument:midi_in``)."""
        return self.audio == "jack" and self.midi_api == "jack"

    def describe(self, config: Config) -> str:
        c = config.audio.jack_client
        midi = (
            f"JACK ports {c}:midi_in / {c}:midi_out"
            if self.midi_on_audio_client
            else f"{self.midi_api.upper()} via python-rtmidi"
        )
        return (
            f"audio: {self.audio} ({self.audio_why}), {config.audio.rate} Hz, "
            f"{config.audio.buffer} frames; MIDI: {midi} ({self.midi_why})"
        )


def resolve(config: Config) -> Plan:
    audio, audio_why = audio_server.resolve_backend(config.audio.backend)
    api = config.midi.api
    if api == "auto":
        if rtmidi_io.alsa_available():
            api, midi_why = "alsa", "the ALSA sequencer is available"
        else:
            api, midi_why = "jack", "no ALSA sequencer (/dev/snd/seq) here, so JACK MIDI"
    else:
        midi_why = "as configured"
        if api == "alsa" and not rtmidi_io.alsa_available():
            raise SetupError(
                "midi.api is alsa but the ALSA sequencer is not available here "
                "(no /dev/snd/seq); use --midi-api jack"
            )
    if api == "jack" and not jack_server_running():
        raise SetupError("JACK MIDI needs a running JACK server; start jackd or use --midi-api alsa")
    return Plan(audio, audio_why, api, midi_why)


class Session:
    """The live instrument. ``start()``, then ``wait()`` until stopped, then ``stop()``."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.clock = LiveClock()
        self.plan = resolve(config)
        self.exit_code = 0
        self._stop_requested = threading.Event()
        self._stopped = False
        self._closers: list[tuple[str, object]] = []
        self.graph: JackGraph | None = None
        self.recorder: SmfRecorder | None = None
        self.paced: audio_server.PacedServer | None = None
        self.server = None
        self.engine: Engine | None = None
        self.watcher: HotplugWatcher | None = None

    # -- start -------------------------------------------------------------------------

    def start(self) -> None:
        cfg = self.config
        sys.setswitchinterval(SWITCH_INTERVAL)
        log.info("starting: %s", self.plan.describe(cfg))
        started = time.time()
        channels = {
            "player": cfg.midi.player_channel,
            "accompaniment": cfg.midi.accompaniment_channel,
            "continuation": cfg.midi.continuation_channel,
        }
        if cfg.recording.enabled:
            path = session_path(cfg.recordings_dir(), started)
            self.recorder = SmfRecorder(
                path, self.clock.now(), flush_interval=cfg.recording.flush_interval,
                channels=channels,
            )
            self.recorder.start()
            log.info("recording to %s", path)

        if self.plan.audio == "jack" or self.plan.midi_api == "jack":
            self.graph = JackGraph(f"{cfg.audio.jack_client}-ports")
        settings = audio_server.AudioSettings(
            backend=self.plan.audio,
            rate=cfg.audio.rate,
            buffer=cfg.audio.buffer,
            jack_client=cfg.audio.jack_client,
            device=cfg.audio.device,
            jack_midi=self.plan.midi_on_audio_client,
        )
        self.server = audio_server.boot(settings)

        self.queue = InputQueue()
        self.router = InputRouter(self.clock.now, self.queue, thru=None)
        inputs = self._open_inputs()  # before the synth: pyo processes in creation order
        self.sound = SoundSystem(cfg.synth, cfg.audio.rate, cfg.audio.buffer, self.clock.now)
        bridge = self.sound.bridge
        self.thru = ThruPlayer(
            self.sound.synths["player"], cfg.midi.input_channel,
            on_panic=lambda: bridge.silence_all(),
        )
        self.router.thru = self.thru
        bridge.add_hook(lambda _start: self.thru.drain())
        sender = self._open_output(bridge)
        self.server.setCallback(bridge.on_block)
        self._start_audio()

        outputs: list = [SynthOutput(bridge), MidiOutput(sender, channels, cfg.midi.send_player)]
        if self.recorder is not None:
            outputs.append(self.recorder)
        self.engine = Engine(
            self.clock, outputs, listen_channel=cfg.midi.input_channel, queue=self.queue,
            on_fatal=lambda exc: self.request_stop(1, f"engine error: {exc}"),
        )
        self.engine.start()
        self.watcher = HotplugWatcher([*inputs, sender], cfg.midi.hotplug_interval)
        self.watcher.start()
        for handler in inputs:
            if getattr(handler, "connected_to", "") is None:
                log.info("no controller yet: %s", handler.describe_wait())
        log.info("ready to play")

    def _open_inputs(self) -> list:
        cfg = self.config
        client = cfg.audio.jack_client
        deliver_rt = self.router.from_midi_thread
        if self.plan.midi_on_audio_client:
            assert self.graph is not None
            port = f"{client}:midi_in"
            handler = PyoJackMidiInput(
                self.router.from_audio_thread, self.graph, port, cfg.midi.input, (client + ":",)
            )
            self._closers.append(("MIDI input", handler))
            return [handler]
        handlers: list = [
            rtmidi_io.RtMidiInput(self.plan.midi_api, client, cfg.midi.input, deliver_rt)
        ]
        if self.plan.midi_api == "alsa" and cfg.midi.virtual_ports:
            handlers.append(rtmidi_io.RtMidiVirtualInput("alsa", client, deliver_rt))
        self._closers.extend(("MIDI input", h) for h in handlers)
        return handlers

    def _open_output(self, bridge):
        cfg = self.config
        client = cfg.audio.jack_client
        if self.plan.midi_on_audio_client:
            assert self.graph is not None
            sender = PyoJackMidiOutput(
                self.server, self.graph, f"{client}:midi_out", cfg.midi.output,
                cfg.audio.buffer / cfg.audio.rate,
            )
            bridge.add_hook(sender.on_block)
        else:
            virtual = cfg.midi.virtual_ports or self.plan.midi_api == "jack"
            sender = rtmidi_io.RtMidiOutput(
                self.plan.midi_api, f"{client}-out" if self.plan.midi_api == "jack" else client,
                cfg.midi.output, self.clock.now, virtual=virtual,
            )
            sender.start()
        self._closers.append(("MIDI output", sender))
        return sender

    def _start_audio(self) -> None:
        cfg = self.config
        if self.plan.audio == "offline":
            wav = Path(cfg.audio.wav) if cfg.audio.wav else self._default_wav()
            self.paced = audio_server.PacedServer(self.server, cfg.audio.rate, cfg.audio.buffer, wav)
            self.paced.start()
            log.info("no sound card: writing audio to %s", wav)
            return
        self.server.start()
        if self.plan.audio == "jack" and cfg.audio.connect_outputs and self.graph is not None:
            playback = self.graph.physical_playback()
            for i, dest in enumerate(playback[:2]):
                self.graph.connect(f"{cfg.audio.jack_client}:out_{i + 1}", dest)

    def _default_wav(self) -> Path:
        if self.recorder is not None:
            return self.recorder.path.with_suffix(".wav")
        return self.config.recordings_dir() / "instrument.wav"

    # -- running -----------------------------------------------------------------------

    def request_stop(self, code: int = 0, reason: str = "") -> None:
        """Any thread or a signal handler: ask the main thread to stop the session."""
        if reason:
            log.log(logging.ERROR if code else logging.INFO, "stopping: %s", reason)
        if code and not self.exit_code:
            self.exit_code = code
        self._stop_requested.set()

    def wait(self) -> int:
        """Main thread: block until a stop is requested; report counters meanwhile."""
        last_report = time.monotonic()
        reported: tuple = ()
        while not self._stop_requested.wait(0.2):
            if self.graph is not None and self.graph.server_lost.is_set():
                self.request_stop(1, "the JACK server went away")
            if time.monotonic() - last_report >= STATS_INTERVAL:
                last_report = time.monotonic()
                reported = self._report(reported)
        return self.exit_code

    def _report(self, previous: tuple) -> tuple:
        stats = self.stats()
        key = (stats["input_dropped"], stats["queue_dropped"], stats["thru_overflowed"],
               stats["voices_dropped"])
        if key != previous and any(v for v in key if v):
            log.warning(
                "input: %d received, dropped %s, queue full %d, thru overflow %d, "
                "notes dropped for lack of voices %d",
                stats["input_received"], stats["input_dropped"] or "none",
                stats["queue_dropped"], stats["thru_overflowed"], stats["voices_dropped"],
            )
        return key

    def stats(self) -> dict:
        return {
            "input_received": self.router.received,
            "input_dropped": dict(self.router.dropped),
            "queue_dropped": self.queue.dropped,
            "thru_overflowed": self.thru.overflowed,
            "voices_dropped": sum(s.dropped for s in self.sound.synths.values()),
            "engine_inputs": self.engine.stats.inputs,
            "late_events": self.sound.bridge.late_events,
        }

    # -- stop --------------------------------------------------------------------------

    def stop(self) -> None:
        """Silence everything, then close in reverse order. Safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        if self.watcher is not None:
            self._safely("hotplug", self.watcher.stop)
        if self.engine is not None:
            self._safely("engine", self.engine.stop)
        time.sleep(0.05)  # let the synth's fast release and MIDI note-offs leave
        for name, handler in self._closers:
            self._safely(name, handler.close)
        if self.paced is not None:
            self._safely("audio", self.paced.stop)
        elif self.server is not None:
            self._safely("audio", self.server.stop)
        if self.recorder is not None:
            self._safely("recording", self.recorder.close)
            log.info("recording saved: %s", self.recorder.path)
        if self.graph is not None:
            self._safely("JACK", self.graph.close)
        if self.engine is not None:
            self._report(())

    @staticmethod
    def _safely(name: str, action) -> None:
        try:
            action()
        except Exception:
            log.exception("error while stopping %s", name)
