"""A running instrument: everything built from a ``Config``, started in order, stopped safely.

Two halves, each defined once: the ``SoundSide`` (``instrument.sound_side``: the JACK
client, pyo, the synths, thru, MIDI in and out, the real-time cycle, hotplug) and the
``EngineSide`` (``instrument.engine_side``: models, the Band, the engine, the recorder,
what `instrument status` shows). How they are put together depends on the resolved plan:

- audio and MIDI on JACK (``audio.engine_process``, the default): two processes. This
  one (``AudioHost``, in ``instrument.audio_host``) holds the sound side; its JACK cycle
  applies the engine's plans from a shared-memory ring and writes the player's input to
  another (``instrument.realtime.remote``). The engine side runs in a child,
  ``python -m instrument.engine_process``, so models, the Band, the recorder and the
  status server cannot delay the audio callback through the GIL. If the child dies, this
  process silences the instrument's parts (synth, and all notes/sound off on MIDI out),
  keeps the player's thru playing, and starts the child again;
- anything else (PortAudio or offline audio, MIDI through ALSA, ``engine_process =
  false``, the demo): one process, ``Session`` below. The engine hands its plans straight
  to the sound side's queues. With audio on JACK the cycle drives a manual pyo server;
  otherwise pyo's own PortAudio callback, or a pacing thread, runs the blocks
  (``PyoBlock``), and MIDI comes through ALSA (rtmidi, a sender thread for MIDI out) or
  through the JACK client's MIDI ports.

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
import sys
import time
from dataclasses import dataclass

from instrument import systemd
from instrument.audio import server as audio_server
from instrument.config import Config
from instrument.engine_side import EngineSide, LocalSound
from instrument.jack_graph import jack_server_running
from instrument.jack_server import EmbeddedJack
from instrument.midi import rtmidi_io
from instrument.midi.router import InputQueue
from instrument.names import AudioBackend, MidiApi
from instrument.sound_side import SetupError, SoundSide
from instrument.status import StatusServer, socket_path
from instrument.stopping import StopRequests, stop_safely

__all__ = ["Plan", "Session", "SetupError", "create", "resolve", "splits"]

log = logging.getLogger(__name__)

# Python hands the GIL between threads every 5 ms by default; the audio callback needs
# it every block (1.3 ms at 64 frames), so let it change hands more often.
SWITCH_INTERVAL = 0.0005
STATS_INTERVAL = 5.0


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


def splits(config: Config, plan: Plan) -> bool:
    """Whether the engine runs in a process of its own (see the module docstring)."""
    return (config.audio.engine_process and plan.audio == AudioBackend.JACK
            and plan.midi_api == MidiApi.JACK)


def create(config: Config):
    """The instrument for ``config``: an ``AudioHost`` (two processes) or a ``Session``
    (one). Both have ``start()``, ``wait()``, ``request_stop()``, ``stop()``,
    ``exit_code``."""
    plan = resolve(config)
    if splits(config, plan):
        from instrument.audio_host import AudioHost
        from instrument.sound_side import EngineLinks

        try:
            links = EngineLinks.create()
        except OSError as exc:  # e.g. a file size limit smaller than the rings
            log.warning("cannot create the shared memory for an engine process (%s); "
                        "running in one process", exc)
        else:
            return AudioHost(config, plan, links)
    return Session(config, plan)


class Session(StopRequests):
    """The live instrument in one process. ``start()``, then ``wait()`` until stopped,
    then ``stop()``."""

    def __init__(self, config: Config, plan: Plan | None = None) -> None:
        self.config = config
        self.plan = plan if plan is not None else resolve(config)
        StopRequests.__init__(self)
        self._stopped = False
        self.queue = InputQueue()
        self.sound_side = SoundSide(config, self.plan, self.queue)
        self.engine_side: EngineSide | None = None
        self.status_server: StatusServer | None = None
        self.watchdog: systemd.Watchdog | None = None

    # What the demo and the commands read.
    @property
    def clock(self):
        return self.sound_side.clock

    @property
    def thru(self):
        return self.sound_side.thru

    @property
    def paced(self) -> audio_server.PacedServer | None:
        return self.sound_side.paced

    @property
    def band(self):
        return self.engine_side.band if self.engine_side is not None else None

    @property
    def recorder(self):
        return self.engine_side.recorder if self.engine_side is not None else None

    # -- start -------------------------------------------------------------------------

    def start(self) -> None:
        sys.setswitchinterval(SWITCH_INTERVAL)
        sound = self.sound_side
        sound.start()
        self.engine_side = EngineSide(
            self.config, sound.clock, self.queue, LocalSound(sound), sound.recording_path,
            on_fatal=lambda exc: self.request_stop(1, f"engine error: {exc}"),
        )
        self.engine_side.start()
        sound.start_hotplug()
        self._start_service()
        # What exists now lives as long as the session: keep the collector from walking
        # it (from whichever thread, the audio thread included, triggers a collection).
        gc.freeze()
        log.info("ready to play")

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

    # -- running -----------------------------------------------------------------------

    def wait(self) -> int:
        """Main thread: block until a stop is requested; report counters meanwhile."""
        last_report = time.monotonic()
        reported: tuple = ()
        while not self.stop_requested.wait(0.2):
            if self.sound_side.server_lost:
                self.request_stop(1, "the JACK server went away")
            if time.monotonic() - last_report >= STATS_INTERVAL:
                last_report = time.monotonic()
                reported = self.sound_side.report(reported)
        return self.exit_code

    def health(self) -> dict:
        """What the watchdog checks: counters that advance while the engine and the audio
        run, and the threads or outputs that died. Any thread; a few attribute reads."""
        engine = self.engine_side
        return {
            "engine_loops": engine.loops if engine is not None else 0,
            "audio_cycles": self.sound_side.audio_cycles,
            "dead": (engine.dead() if engine is not None else []) + self.sound_side.dead(),
        }

    def status_snapshot(self) -> dict:
        """What `instrument status` shows (see instrument.status)."""
        assert self.engine_side is not None
        return self.engine_side.status_snapshot(self.health())

    def stats(self) -> dict:
        return self.sound_side.stats()

    # -- stop --------------------------------------------------------------------------

    def stop(self) -> None:
        """Silence everything, then close in reverse order. Safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        systemd.notify_stopping()
        if self.watchdog is not None:
            stop_safely("watchdog", self.watchdog.stop)
        if self.status_server is not None:
            stop_safely("status", self.status_server.stop)
        self.sound_side.stop_hotplug()
        engine = self.engine_side
        # Whatever reads the clock stops before the JACK client it reads goes away.
        if engine is not None:
            engine.stop()
        self.sound_side.close()
        if engine is not None and engine.engine is not None:
            self.sound_side.report(())
            log.info("%s", engine.summary_line(self.sound_side.stats()))
