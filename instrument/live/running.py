"""What both layouts of a running instrument share (``instrument.live.layouts``).

``RunningInstrument`` is the base of ``OneProcessInstrument`` and
``TwoProcessInstrument``: how it is asked to stop (``StopRequests``) and the main
thread's wait loop (until a stop is requested: the JACK server watched, the sound side's
trouble counters reported every ``STATS_INTERVAL``, and whatever else the layout does
meanwhile, ``while_waiting``). ``SWITCH_INTERVAL`` is the GIL's switch interval both set
when they start. ``health_report`` is the one shape of the health the systemd watchdog
checks and `instrument status` shows, in either layout and in the engine process.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from instrument.live import systemd
from instrument.live.stopping import StopRequests, stop_safely

if TYPE_CHECKING:  # the engine process reads health_report only: no sound side there
    from instrument.live.sound_side import SoundSide

# Python hands the GIL between threads every 5 ms by default; the audio callback needs
# it every block (1.3 ms at 64 frames), so let it change hands more often.
SWITCH_INTERVAL = 0.0005
#: Seconds between two reports of the sound side's trouble counters (when they changed).
STATS_INTERVAL = 5.0


def health_report(engine_loops: int, audio_cycles: int, *dead: Iterable[str]) -> dict:
    """What the watchdog checks: counters that advance while the engine and the audio
    run, and the names of the threads, processes or outputs that died."""
    return {"engine_loops": engine_loops, "audio_cycles": audio_cycles,
            "dead": [name for names in dead for name in names]}


class RunningInstrument(StopRequests):
    """The part of the live instrument both layouts share (see the module docstring)."""

    #: Seconds between two turns of the wait loop.
    poll_interval = 0.2

    def __init__(self, sound_side: SoundSide) -> None:
        StopRequests.__init__(self)
        self.sound_side = sound_side
        self.watchdog: systemd.Watchdog | None = None
        self._stopped = False

    def wait(self) -> int:
        """Main thread: block until a stop is requested; report counters meanwhile."""
        last_report = time.monotonic()
        reported: tuple = ()
        sound = self.sound_side
        while not self.stop_requested.wait(self.poll_interval):
            self.while_waiting()
            if sound.server_lost:
                self.request_stop(1, "the JACK server went away")
            if time.monotonic() - last_report >= STATS_INTERVAL:
                last_report = time.monotonic()
                reported = sound.report(reported)
        return self.exit_code

    def begin_stop(self) -> bool:
        """The first steps of stopping either layout: systemd is told, the watchdog
        stops. False when the instrument was stopped already (``stop`` is safe twice)."""
        if self._stopped:
            return False
        self._stopped = True
        systemd.notify_stopping()
        if self.watchdog is not None:
            stop_safely("watchdog", self.watchdog.stop)
        return True

    def while_waiting(self) -> None:
        """What the layout does at each turn of the wait loop (nothing here)."""
