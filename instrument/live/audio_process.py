"""The audio process of two: the sound side here, the engine side in a child process.

With audio on JACK (``instrument.live.backends.engine_in_own_process``; MIDI on JACK,
or ALSA through rtmidi),
``instrument run`` is a ``TwoProcessInstrument`` (a ``RunningInstrument``): it holds the
``SoundSide`` (the JACK client and its cycle, pyo, thru, planned notes, MIDI out,
hotplug), creates the shared-memory links (``ProcessLinks``: the plan ring, the input
ring, the shared stats block, an eventfd) and runs the engine side as
``python -m instrument.live.engine_process -`` (``EngineChild``; the spec through its
stdin). Its main thread publishes the sound side's counters a few times a second (the
engine process shows them in `instrument status` and in its closing "session: ..."
line), watches the JACK server, answers systemd (readiness and a watchdog fed by both
processes' counters) and supervises the child:

- the child dies (a crash, SIGKILL, a fatal engine error): the plans it left are
  applied, then the instrument's parts are silenced (their planned notes dropped and
  their voices released; on MIDI out, a note-off for each note their channels still
  sound, as MIDI out remembers them, then all notes off and all sound off). The
  player's thru and the player's MIDI out keep playing from the cycle (they never went
  through the engine). The death is logged, health reports
  "engine" dead, and the child is started again, at most ``MAX_RESTARTS`` times in
  ``RESTART_WINDOW`` seconds (then health keeps saying so, and systemd's watchdog
  restarts the service). `instrument status` shows how it last died
  (``last_engine_death``) and how many times it was started again
  (``engine_restarts``);
- stopping (SIGINT/SIGTERM here): the child gets SIGTERM, stops its engine (a panic,
  through the plan ring), closes the recording and logs the session's line; meanwhile
  this process keeps publishing so the child sees its MIDI out drain. Then this process
  panics its own synths and MIDI out, waits for MIDI out to empty, and closes JACK.

The child gets ``PR_SET_PDEATHSIG`` (it dies with this process) and no
``NOTIFY_SOCKET`` (only this process talks to systemd).
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import signal
import subprocess
import sys
import time

from instrument.config import Config, to_toml
from instrument.live import systemd
from instrument.live.backends import Backends, SetupError
from instrument.live.running import SWITCH_INTERVAL, RunningInstrument, health_report
from instrument.live.sound_side import ProcessLinks, SoundSide
from instrument.realtime.router import InputQueue

log = logging.getLogger(__name__)

#: Seconds between two publications of the sound side's counters.
PUBLISH_INTERVAL = 0.05
#: Seconds the cycle gets to apply the plans left in the ring.
DRAIN_TIMEOUT = 0.5
#: Seconds the engine process gets to become ready, and to stop.
READY_TIMEOUT = 120.0
STOP_TIMEOUT = 10.0
MAX_RESTARTS = 5
RESTART_WINDOW = 60.0


class EngineChild:
    """One run of ``python -m instrument.live.engine_process`` (see the module docstring)."""

    def __init__(self, config: Config, links: ProcessLinks, client_name: str) -> None:
        self.started = time.monotonic()
        spec = {
            "config": to_toml(config),
            "parent_pid": os.getpid(),
            "plans": str(links.plans.path),
            "inputs": str(links.inputs.path),
            "stats": str(links.stats.path),
            "wakeup_fd": links.wakeup.fileno(),
            "jack_client": client_name,
        }
        env = dict(os.environ)
        for key in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS",
                    "LISTEN_PID"):
            env.pop(key, None)
        # The spec through a pipe, not a file: no file to clean up, and no file size
        # limit to meet.
        self.process = subprocess.Popen(
            [sys.executable, "-m", "instrument.live.engine_process", "-"],
            env=env, pass_fds=(links.wakeup.fileno(),), stdin=subprocess.PIPE,
            # Its own process group: a Ctrl-C reaches this process only, which then
            # stops the child in order (PR_SET_PDEATHSIG still ties it to this one).
            process_group=0,
        )
        assert self.process.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            self.process.stdin.write(json.dumps(spec).encode())
            self.process.stdin.close()
        self.pid = self.process.pid

    def poll(self) -> int | None:
        return self.process.poll()

    def terminate(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
        self.process.wait()

    def cleanup(self) -> None:
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()


class TwoProcessInstrument(RunningInstrument):
    """``instrument run`` as the audio process (see the module docstring). The same
    ``start``, ``wait``, ``request_stop``, ``stop`` and ``exit_code`` as
    ``OneProcessInstrument``."""

    poll_interval = PUBLISH_INTERVAL

    def __init__(self, config: Config, backends: Backends, links: ProcessLinks) -> None:
        self.config = config
        self.backends = backends
        self.links = links
        super().__init__(SoundSide(config, backends, InputQueue(), links))
        self.child: EngineChild | None = None
        self._deaths: list[float] = []
        self._gave_up = False
        self._engine_ready = False

    # -- start -------------------------------------------------------------------------

    def start(self) -> None:
        sys.setswitchinterval(SWITCH_INTERVAL)
        sound = self.sound_side
        sound.start()
        sound.publish(self.links.stats)
        self._start_child()
        deadline = time.monotonic() + READY_TIMEOUT
        while not self._child_ready():
            code = self.child.poll() if self.child is not None else None
            if code is not None:
                raise SetupError(f"the engine process exited with code {code} before it "
                                 "was ready (its log is above)")
            if self.stop_requested.is_set():
                return
            if time.monotonic() > deadline:
                raise SetupError(f"the engine process was not ready within {READY_TIMEOUT:.0f} s")
            sound.publish(self.links.stats)
            time.sleep(0.02)
        self._engine_ready = True
        sound.start_hotplug()
        if self.config.service.watchdog:
            self.watchdog = systemd.Watchdog(self.health)
            self.watchdog.start()
        systemd.notify_ready()
        gc.freeze()
        log.info("ready to play (the engine runs in process %d)", self.child.pid)

    def _start_child(self) -> None:
        stats = self.links.stats
        stats.set("engine_ready", 0)
        stats.set("engine_alive", 0)
        self.child = EngineChild(self.config, self.links, self.sound_side.host.name)
        log.info("engine process %d started", self.child.pid)

    def _child_ready(self) -> bool:
        stats = self.links.stats
        return (self.child is not None and stats.get("engine_ready") == 1
                and stats.get("engine_pid") == self.child.pid)

    # -- running -----------------------------------------------------------------------

    def while_waiting(self) -> None:
        """Each turn of ``wait``: publish the counters, supervise the child."""
        self.sound_side.publish(self.links.stats)
        self._supervise()

    def _supervise(self) -> None:
        child = self.child
        if child is None:
            return
        code = child.poll()
        if code is None:
            if not self._engine_ready and self._child_ready():
                self._engine_ready = True
                self.links.stats.set("engine_down", 0)
                log.warning("engine process %d is back: the instrument plays again", child.pid)
            return
        self._engine_died(child, code)

    def _engine_died(self, child: EngineChild, code: int) -> None:
        how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
        log.error("the engine process %d died (%s); the instrument's parts are silenced, "
                  "your own notes still sound", child.pid, how)
        child.cleanup()
        self.child = None
        self._engine_ready = False
        stats = self.links.stats
        stats.set_text("last_engine_death", how)
        stats.set("engine_down", 1)
        stats.set("engine_ready", 0)
        stats.set("engine_alive", 0)
        self._release_what_it_left()
        now = time.monotonic()
        self._deaths = [t for t in self._deaths if now - t < RESTART_WINDOW] + [now]
        if len(self._deaths) > MAX_RESTARTS:
            if not self._gave_up:
                self._gave_up = True
                log.error("the engine process died %d times in %.0f s; not starting it "
                          "again (thru keeps playing)", len(self._deaths), RESTART_WINDOW)
            return
        stats.add("engine_restarts")
        self._start_child()

    def _release_what_it_left(self) -> None:
        """The dead child's plans are applied by the cycle (bounded wait), then its
        parts are silenced; the rings are made ready for the next child."""
        links = self.links
        self._drain_plans()
        released = self.sound_side.silence_instrument_parts(self.sound_side.clock.now())
        if released:
            log.warning("MIDI out: a note-off for each of the %d notes the instrument's "
                        "parts left sounding", released)
        links.plans.restart_writer()
        links.inputs.discard_unread()

    def _drain_plans(self) -> None:
        """Until the cycle has applied every plan in the ring, at most ``DRAIN_TIMEOUT``."""
        deadline = time.monotonic() + DRAIN_TIMEOUT
        while len(self.links.plans) > 0 and time.monotonic() < deadline:
            time.sleep(0.005)

    def health(self) -> dict:
        """``health_report`` of both processes, from the engine process's counters."""
        stats = self.links.stats
        engine_dead = []
        if self.child is None or not self._engine_ready:
            engine_dead.append("engine")
        else:
            if not stats.get("engine_alive"):
                engine_dead.append("engine")
            if not stats.get("recorder_alive"):
                engine_dead.append("recorder")
        return health_report(stats.get("engine_loops"), self.sound_side.audio_cycles,
                             engine_dead, self.sound_side.dead())

    # -- stop --------------------------------------------------------------------------

    def stop(self) -> None:
        """The child stops and closes its recording, then this side panics and closes.
        Safe to call twice."""
        if not self.begin_stop():
            return
        sound = self.sound_side
        sound.stop_hotplug()
        child = self.child
        clean = False
        if child is not None:
            child.terminate()
            deadline = time.monotonic() + STOP_TIMEOUT
            while child.poll() is None and time.monotonic() < deadline:
                sound.publish(self.links.stats)  # the child waits for MIDI out to drain
                time.sleep(0.01)
            if child.poll() is None:
                log.error("the engine process did not stop within %.0f s; killing it",
                          STOP_TIMEOUT)
                child.kill()
            clean = child.poll() == 0
            child.cleanup()
        try:
            self._silence_and_close(clean)
        finally:
            self.links.close()

    def _silence_and_close(self, clean: bool) -> None:
        sound = self.sound_side
        if sound.cycle is not None:
            if not clean:
                self._release_what_it_left()
            else:
                self._drain_plans()
            # Whatever still sounds (the player's own notes included) stops.
            sound.planned.panic()
            sound.release_midi_out()
            if sound.outgoing is not None and not sound.outgoing.wait_sent(1.0):
                log.error("MIDI out did not send every note-off before closing")
            time.sleep(0.03)  # let the synth's fast release finish
        sound.close()
        if sound.cycle is not None:
            sound.report(())
