"""A running instrument: everything built from a ``Config``, started in order, stopped safely.

Two halves, each defined once: the ``SoundSide`` (``instrument.live.sound_side``: the JACK
client, pyo, the synths, thru, MIDI in and out, the real-time cycle, hotplug) and the
``EngineSide`` (``instrument.live.engine_side``: models, the Band, the engine, the recorder,
what `instrument status` shows). How they are put together depends on the resolved plan:

- audio on JACK (``audio.engine_process``, the default; MIDI on JACK or ALSA): two
  processes. The
  audio process (``TwoProcessInstrument``, in ``instrument.live.audio_process``) holds
  the sound side; its JACK cycle applies the engine's plans from a shared-memory ring and writes
  the player's input to another (``instrument.realtime.remote``). The engine side runs in a child,
  ``python -m instrument.live.engine_process``, so models, the Band, the recorder and the
  status server cannot delay the audio callback through the GIL. If the child dies, this
  process silences the instrument's parts (synth, and all notes/sound off on MIDI out),
  keeps the player's thru playing, and starts the child again;
- anything else (PortAudio or offline audio, ``engine_process = false``, the demo):
  one process, ``OneProcessInstrument`` below. The engine hands its
  plans straight to the sound side's queues. With audio on JACK the cycle drives a
  manual pyo server; otherwise pyo's own PortAudio callback, or a pacing thread, runs
  the blocks (``PyoBlock``), and MIDI comes through ALSA (rtmidi, a sender thread for
  MIDI out) or through the JACK client's MIDI ports.

Both layouts are a ``RunningInstrument`` (``instrument.live.running``): the same wait
loop, stop requests and health report.

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

from instrument.audio import server as audio_server
from instrument.config import Config
from instrument.live import systemd
from instrument.live.backends import Backends, resolve_backends
from instrument.live.engine_side import EngineSide, LocalSound
from instrument.live.running import SWITCH_INTERVAL, RunningInstrument, health_report
from instrument.live.sound_side import SoundSide
from instrument.live.status import StatusServer, socket_path
from instrument.live.stopping import stop_safely
from instrument.realtime.router import InputQueue

log = logging.getLogger(__name__)


class OneProcessInstrument(RunningInstrument):
    """The live instrument in one process. ``start()``, then ``wait()`` until stopped,
    then ``stop()``."""

    def __init__(self, config: Config, backends: Backends | None = None) -> None:
        self.config = config
        self.backends = backends if backends is not None else resolve_backends(config)
        self.queue = InputQueue()
        super().__init__(SoundSide(config, self.backends, self.queue))
        self.engine_side: EngineSide | None = None
        self.status_server: StatusServer | None = None

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

    def health(self) -> dict:
        """``health_report`` of both sides. Any thread; a few attribute reads."""
        engine = self.engine_side
        return health_report(engine.loops if engine is not None else 0,
                             self.sound_side.audio_cycles,
                             engine.dead() if engine is not None else [], self.sound_side.dead())

    def status_snapshot(self) -> dict:
        """What `instrument status` shows (see instrument.live.status)."""
        assert self.engine_side is not None
        return self.engine_side.status_snapshot(self.health())

    # -- stop --------------------------------------------------------------------------

    def stop(self) -> None:
        """Silence everything, then close in reverse order. Safe to call twice."""
        if not self.begin_stop():
            return
        if self.status_server is not None:
            stop_safely("status", self.status_server.stop)
        self.sound_side.stop_hotplug()
        engine = self.engine_side
        # Whatever reads the clock stops before the JACK client it reads goes away.
        if engine is not None:
            engine.stop()
        sound = self.sound_side
        if sound.outgoing is not None and sound.release_midi_out():
            sound.outgoing.wait_sent(1.0)
        self.sound_side.close()
        if engine is not None and engine.engine is not None:
            self.sound_side.report(())
            log.info("%s", engine.summary_line(self.sound_side.stats()))
