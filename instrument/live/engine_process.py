"""The engine process: ``python -m instrument.live.engine_process SPEC``.

Started by the audio process (``instrument.live.audio_process``), never by hand. ``SPEC`` is a
JSON file, or ``-`` to read it from stdin (as the audio process passes it): the
resolved config (TOML), the audio process's pid, the paths of the plan
ring, the input ring and the shared stats block, the eventfd it inherited, and the name
of the instrument's JACK client.

It runs the ``EngineSide`` (models, the Band, the engine thread, the recorder) and the
status server, reaching the sound through ``RemoteSound`` (``remote.PlanWriter`` and
the shared stats). Its clock is JACK's frame time, read through a JACK client of its own
that is never activated (no process callback, no ports: it takes no part in the graph).
Its main thread publishes its counters for the audio process's watchdog.

It dies with the audio process (``PR_SET_PDEATHSIG``); on SIGTERM or SIGINT it stops
its engine (a panic, through the plan ring), closes the recording and logs the
session's "session: ..." line. Exit code 0, or 1 after a fatal engine error.
"""

from __future__ import annotations

import ctypes
import gc
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

import jack
import tomllib

from instrument.config import parse
from instrument.jack.client import JackClock
from instrument.live.engine_side import EngineSide, RemoteSound
from instrument.live.logs import setup_logging
from instrument.live.running import health_report
from instrument.live.status import StatusServer, socket_path
from instrument.midifile.recorder import session_path
from instrument.realtime.remote import InputReader, PlanWriter
from instrument.realtime.router import InputQueue
from instrument.realtime.shared_ring import SharedRing
from instrument.realtime.shared_stats import SharedStats
from instrument.realtime.wakeup import Wakeup

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
#: Seconds between two publications of the engine process's counters.
PUBLISH_INTERVAL = 0.1


def die_with_parent(parent_pid: int) -> None:
    """SIGKILL when the audio process dies (the recording is safe on disk at every
    flush); exit at once if it is already gone."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass
    if os.getppid() != parent_pid:
        os._exit(1)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m instrument.live.engine_process SPEC (started by instrument run)",
              file=sys.stderr)
        return 2
    spec = json.loads(sys.stdin.read() if argv[0] == "-" else Path(argv[0]).read_text())
    die_with_parent(spec["parent_pid"])
    config = parse(tomllib.loads(spec["config"]), "the audio process")
    setup_logging(config.log_level)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda _s, _f: stop.set())
    stats = SharedStats.attach(spec["stats"])
    plans = SharedRing.attach(spec["plans"])
    inputs = SharedRing.attach(spec["inputs"])
    client = jack.Client(f"{spec['jack_client']}-engine", no_start_server=True)
    rate = float(client.samplerate)
    queue = InputQueue(Wakeup.from_fd(spec["wakeup_fd"]))
    queue.add_source(InputReader(inputs, rate, stats))
    sound = RemoteSound(PlanWriter(plans, stats, rate), stats, "jack")
    code = 0

    def fatal(exc: BaseException) -> None:
        nonlocal code
        log.error("stopping the engine process: engine error: %s", exc)
        code = 1
        stop.set()

    side = EngineSide(config, JackClock(client), queue, sound,
                      session_path(config.recordings_dir(), time.time()), on_fatal=fatal)
    status_server = None

    def health() -> dict:
        return health_report(side.loops, stats.get("cycles"), side.dead(),
                             ["engine process"] if stats.get("engine_down") else [])

    try:
        side.start()
        if config.service.status:
            status_server = StatusServer(socket_path(config.service.status_socket),
                                         lambda: side.status_snapshot(health()))
            status_server.start()
        stats.set("engine_pid", os.getpid())
        gc.freeze()
        while True:
            dead = side.dead()
            stats.set("engine_loops", side.loops)
            stats.set("engine_alive", int("engine" not in dead))
            stats.set("recorder_alive", int("recorder" not in dead))
            stats.set("engine_ready", 1)
            if stop.wait(PUBLISH_INTERVAL):
                break
    except Exception:
        log.exception("the engine process failed")
        code = 1
    finally:
        if status_server is not None:
            status_server.stop()
        side.stop()
        if side.engine is not None:
            log.info("%s", side.summary_line(sound.stats()))
        client.close()
        for thing in (plans, inputs, stats):
            thing.close()
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
