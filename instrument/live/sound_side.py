"""The sound side of a running instrument: audio, thru, MIDI in and out, the JACK client.

A ``SoundSide`` builds, from a ``Config`` and its resolved ``Backends``: the JACK client and
its ports (when JACK is used), pyo and the part synths (``SoundSystem``), the player's
thru (``ThruPlayer``), MIDI in and out (JACK ports, or ALSA through rtmidi) and the
real-time cycle that drives them (``instrument.realtime``), and the hotplug watcher
that keeps MIDI wired. It is used in both layouts of ``instrument.live.one_process``:

- one process (``OneProcessInstrument``): the engine, in the same process, hands its plans straight
  to ``sound.planned`` and ``sound.outgoing``, and reads the cycle's input ring through
  the ``InputQueue``;
- the audio process of two (``TwoProcessInstrument``): the plans arrive through a shared-memory
  ring that the cycle applies first thing (``remote.PlanReader``), and the cycle writes
  the player's input to a ring the engine process reads (``remote.InputWriter``),
  waking it through a shared eventfd. ``ProcessLinks`` carries those. With ALSA MIDI,
  rtmidi's callback stamps each message into a ring the cycle reads
  (``CycleInput``), so the input takes the same path as JACK MIDI's.

The player's own notes, pedal and pitch bend go to MIDI out from here
(``instrument.realtime.player_out``), not from the engine: in the JACK cycle they
arrive in, or from rtmidi's sender at once.

Its counters (``counters()``, one per name of ``shared_stats.SOUND_COUNTERS``) are shown
as ``stats()``; the audio process publishes them (``publish``) and the engine process
makes the same dict of them (``instrument.live.sound_stats.stats_from_shared``).
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from instrument.audio import server as audio_server
from instrument.config import Config
from instrument.jack.client import JackClient, JackPorts
from instrument.jack.midi import JackMidiInput, JackMidiSender
from instrument.live import rtmidi_ports as rtmidi_io
from instrument.live.backends import Backends, SetupError
from instrument.live.hotplug import HotplugWatcher
from instrument.live.sound_stats import sound_stats
from instrument.live.sound_system import SoundSystem
from instrument.live.stopping import stop_safely
from instrument.midifile.recorder import session_path
from instrument.names import SOUNDING_PARTS, Part
from instrument.realtime.cycle import (
    NO_PLANS,
    AudioStage,
    JackCycle,
    NoAudio,
    PlanSource,
    PyoBlock,
    PyoStage,
)
from instrument.realtime.input_ring import InputRing
from instrument.realtime.midi_out import MidiOutQueue
from instrument.realtime.planned import BlockTimer
from instrument.realtime.player_out import CycleMessages, PlayerOut
from instrument.realtime.remote import InputWriter, PlanReader
from instrument.realtime.router import CycleInput, InputQueue, MidiThreadInput
from instrument.realtime.shared_ring import SharedRing
from instrument.realtime.shared_stats import SharedStats, input_counters
from instrument.realtime.thru import ThruPlayer
from instrument.realtime.wakeup import Wakeup
from instrument.timing.clock import Clock, LiveClock

log = logging.getLogger(__name__)


#: The parts the instrument plays itself (silenced when its engine process dies).
INSTRUMENT_PARTS = tuple(part for part in SOUNDING_PARTS if part != Part.PLAYER)


@dataclass
class ProcessLinks:
    """What connects the audio process to the engine process (see the module doc)."""

    plans: SharedRing  # engine -> audio, read in the cycle
    inputs: SharedRing  # audio -> engine, written in the cycle
    wakeup: Wakeup  # shared: the cycle wakes the engine process's engine thread
    stats: SharedStats

    @classmethod
    def create(cls) -> ProcessLinks:
        remove_stale_links()
        return cls(SharedRing.create(prefix="instrument-plans"),
                   SharedRing.create(prefix="instrument-inputs"),
                   Wakeup(shared=True), SharedStats.create())

    def close(self) -> None:
        for thing in (self.plans, self.inputs, self.stats, self.wakeup):
            thing.close()


def remove_stale_links() -> None:
    """Remove the shared-memory files an audio process killed outright (SIGKILL, a
    power cut of the process) left behind: ``instrument-...-PID-...`` whose PID is gone."""
    from instrument.realtime.shared_ring import _shm_dir

    for path in _shm_dir().glob("instrument-*-*.*"):
        if path.suffix not in (".ring", ".stats"):
            continue
        pid = next((int(p) for p in path.stem.split("-") if p.isdigit()), None)
        if pid is None or pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            path.unlink(missing_ok=True)
        except PermissionError:  # another user's live process
            pass


class SoundSide:
    """Audio, thru and MIDI, built and started in order (see the module docstring)."""

    def __init__(self, config: Config, backends: Backends, queue: InputQueue,
                 links: ProcessLinks | None = None) -> None:
        self.config = config
        self.backends = backends
        self.queue = queue
        self.links = links
        self.clock: Clock = LiveClock()
        self.host: JackClient | None = None
        self.cycle: JackCycle | None = None
        self.server = None
        self.paced: audio_server.PacedServer | None = None
        self.watcher: HotplugWatcher | None = None
        self.sender = None
        self.outgoing: MidiOutQueue | None = None
        self.inputs: list = []
        self.input_writer: InputWriter | None = None
        # Rings rtmidi's callbacks stamp into and the JACK cycle reads (ALSA MIDI, two
        # processes).
        self.stamped: list[InputRing] = []
        midi = config.midi
        self.player_out = PlayerOut(
            midi.input_channel,
            midi.channels()[Part.PLAYER] if midi.send_player else None,
        )
        self._closers: list[tuple[str, object]] = []
        self.rate, self.block = config.audio.rate, config.audio.buffer
        self.recording_path = session_path(config.recordings_dir(), time.time())

    # -- start -------------------------------------------------------------------------

    def start(self) -> None:
        """The JACK client (its clock), pyo, the synths, then MIDI and the JACK ports
        (connectable at once, silent), then the real-time cycle: from here on thru plays.

        rtmidi's ports (ALSA MIDI) open before the JACK client is activated, and close
        after it is deactivated: python-rtmidi keeps the GIL through its calls, and
        where those wait on a JACK server (its JACK API: the test seam) the server waits
        in turn for this process's JACK cycle, which needs the GIL."""
        cfg = self.config
        ports: JackPorts | None = None
        if self.backends.embedded is not None:
            try:
                self.backends.embedded.start()
            except RuntimeError as exc:
                raise SetupError(str(exc)) from None
        if self.backends.audio == "jack" or self.backends.midi_api == "jack":
            self.host = JackClient(cfg.audio.jack_client)
            self.clock = self.host.clock
            if self.backends.audio == "jack":
                self.rate, self.block = self._adopt_jack_settings(self.host)
        rate, block = self.rate, self.block
        log.info("starting: %s; %d Hz, %d frames", self.backends.describe(cfg), rate, block)
        self.server = audio_server.boot(
            audio_server.AudioSettings(self.backends.audio, rate, block, cfg.audio.device)
        )
        self.sound = SoundSystem(cfg.synth, rate, block)
        self.planned = self.sound.planned
        self.thru = ThruPlayer(
            self.sound.synths[Part.PLAYER], cfg.midi.input_channel,
            on_panic=self.planned.silence_all,
        )
        if self.backends.midi_api != "jack":
            self.inputs, self.sender, self.outgoing = self._open_midi(None)
        if self.host is not None:
            ports = self.host.open_ports(with_audio=self.backends.audio == "jack")
        if self.backends.midi_api == "jack":
            self.inputs, self.sender, self.outgoing = self._open_midi(ports)
        self._start_audio(rate, block, ports)

    def start_hotplug(self) -> None:
        """Keep the controller and MIDI out wired (after the engine is up)."""
        self.watcher = HotplugWatcher([*self.inputs, self.sender],
                                      self.config.midi.hotplug_interval)
        self.watcher.start()
        for handler in self.inputs:
            if getattr(handler, "connected_to", "") is None:
                log.info("no controller yet: %s", handler.describe_wait())

    def _adopt_jack_settings(self, host: JackClient) -> tuple[int, int]:
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
        if self.backends.midi_api == "jack":
            host = self.host
            assert host is not None and ports is not None
            midi_in = JackMidiInput(
                host.graph, host.port("midi_in"), cfg.midi.input, (host.name + ":",)
            )
            sender = JackMidiSender(host.graph, host.port("midi_out"), cfg.midi.output)
            return [midi_in], sender, sender.queue
        client = cfg.audio.jack_client
        # MIDI out first: the player's messages go to its sender from the first one in.
        rt_sender = rtmidi_io.RtMidiOutput(
            "alsa", client, cfg.midi.output, self.clock.now, virtual=cfg.midi.virtual_ports
        )
        rt_sender.start()
        self._closers.append(("MIDI output", rt_sender))
        player_out, out_queue = self.player_out, rt_sender.queue

        def forward(message) -> None:
            player_out.send_now(out_queue, message)

        def deliver() -> MidiThreadInput | CycleInput:  # one ring per rtmidi callback thread
            if self.links is not None:  # two processes: the JACK cycle reads the ring
                ring = InputRing()
                self.stamped.append(ring)
                return CycleInput(ring, self.clock.now, forward)
            return MidiThreadInput(self.queue.ring(), self.queue.wakeup, self.clock.now,
                                   self.thru, forward)

        inputs: list = [rtmidi_io.RtMidiInput("alsa", client, cfg.midi.input, deliver())]
        if cfg.midi.virtual_ports:
            inputs.append(rtmidi_io.RtMidiVirtualInput("alsa", client, deliver()))
        self._closers[:0] = [("MIDI input", handler) for handler in inputs]
        return inputs, rt_sender, rt_sender.queue

    def _start_audio(self, rate: int, block: int, ports: JackPorts | None) -> None:
        cfg = self.config
        planned = self.planned
        stage: AudioStage
        if self.backends.audio == "jack":
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
            # With ALSA MIDI the cycle's own MIDI out carries only what reaches its JACK
            # midi_in port; the engine's plans go to rtmidi's sender (self.outgoing).
            outgoing = self.outgoing if self.backends.midi_api == "jack" else MidiOutQueue()
            links = self.links
            plans: PlanSource = NO_PLANS
            if links is None:
                inputs, wakeup = self.queue.ring(), self.queue.wakeup
            else:
                self.input_writer = inputs = InputWriter(links.inputs, float(rate))
                wakeup = links.wakeup
                plans = PlanReader(links.plans, float(rate), planned, self.outgoing,
                                   self.thru, self.sound.set_volume)
            self.cycle = JackCycle(host.client, ports.midi_in, ports.midi_out, inputs,
                                   wakeup, stage, outgoing, plans,
                                   CycleMessages(self.player_out), self.stamped)
            host.run(self.cycle)
        if self.backends.audio == "offline":
            wav = Path(cfg.audio.wav) if cfg.audio.wav else self.recording_path.with_suffix(".wav")
            self.paced = audio_server.PacedServer(self.server, rate, block, wav)
            self.paced.start()
            log.info("no sound card: writing audio to %s", wav)
        elif self.backends.audio == "portaudio":
            self.server.start()
        if self.backends.audio == "jack" and cfg.audio.connect_outputs:
            assert host is not None
            for i, dest in enumerate(host.graph.physical_playback()[:2]):
                host.graph.connect(host.port(f"out_{i + 1}"), dest)

    # -- running -----------------------------------------------------------------------

    @property
    def server_lost(self) -> bool:
        return self.host is not None and self.host.graph.server_lost.is_set()

    @property
    def audio_cycles(self) -> int:
        return self.cycle.cycles if self.cycle is not None else self.planned.blocks

    def midi_in_name(self) -> str | None:
        return next(
            (h.connected_to for h in self.inputs if getattr(h, "connected_to", None)), None
        )

    def midi_out_name(self) -> str | None:
        return getattr(self.sender, "connected_to", None)

    def dead(self) -> list[str]:
        return [] if getattr(self.sender, "alive", True) else ["MIDI out"]

    def audio_info(self) -> dict:
        return {"backend": str(self.backends.audio), "rate": self.rate, "buffer": self.block}

    def counters(self) -> dict[str, int]:
        """The sound side's counters, one per ``SOUND_COUNTERS`` name (any thread; cheap)."""
        host, cycle, outgoing, planned = self.host, self.cycle, self.outgoing, self.planned
        if self.input_writer is not None:
            received, dropped = self.input_writer.received, self.input_writer.dropped()
        else:
            received, dropped = self.queue.received, self.queue.dropped
        return {
            "cycles": cycle.cycles if cycle else 0,
            "xruns": host.graph.xruns if host else 0,
            "callback_overruns": cycle.overruns if cycle else 0,
            "callback_errors": cycle.errors if cycle else 0,
            **input_counters(received, dropped),
            "input_overflow": cycle.input_overflow if cycle else 0,
            "thru_overflowed": self.thru.overflowed,
            "voices_dropped": sum(s.dropped for s in self.sound.synths.values()),
            "late_events": planned.late_events,
            "max_lateness_us": round(1e6 * planned.max_lateness),
            "late_midi_out": outgoing.late if outgoing else 0,
            "midi_out_max_late_us": round(1e6 * outgoing.max_late) if outgoing else 0,
            "midi_out_deferred": outgoing.deferred if outgoing else 0,
            "midi_out_dropped": outgoing.dropped if outgoing else 0,
            "midi_out_sent": outgoing.sent if outgoing else 0,
            "midi_out_pending": len(outgoing) if outgoing else 0,
            "planned_pending": len(planned),
            "plans_refused": self.links.plans.refused if self.links else 0,
        }

    def stats(self) -> dict:
        """The counters as the live instrument shows them (``sound_stats``)."""
        cycle = self.cycle
        return sound_stats(self.counters(), cycle.cycle_times if cycle else None,
                           cycle.start_delays if cycle else None,
                           cycle.last_error if cycle else "")

    def report(self, previous: tuple) -> tuple:
        """Log the input and output trouble counters when they changed."""
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

    def publish(self, stats: SharedStats) -> None:
        """Main thread: the counters, for the engine process (``stats_from_shared``),
        and what the audio process tells it of itself."""
        for name, value in self.counters().items():
            stats.set(name, value)
        cycle = self.cycle
        if cycle is not None:
            stats.set_histogram("callback", cycle.cycle_times)
            stats.set_histogram("callback_start", cycle.start_delays)
            stats.set_text("last_callback_error", cycle.last_error)
        stats.set("audio_pid", os.getpid())
        stats.set("rate", self.rate)
        stats.set("period", self.block)
        stats.set_text("midi_in", self.midi_in_name())
        stats.set_text("midi_out", self.midi_out_name())
        stats.add("publishes")

    def silence_instrument_parts(self, now: float) -> int:
        """The engine process died (main thread, once the plans it left were applied):
        the instrument's own parts stop sounding; on MIDI out, what waited on their
        channels is dropped, and each note they sent that still sounds gets its
        note-off, then all notes off and all sound off. The player's thru and the
        player's MIDI out keep playing. Returns the note-offs sent."""
        for part in INSTRUMENT_PARTS:
            self.planned.cancel(part, float("-inf"))
        outgoing = self.outgoing
        if outgoing is None:
            return 0
        channels = self.config.midi.channels()
        outgoing.drop_channel(0, now)  # MIDI clock
        parts = sorted({channels[p] for p in INSTRUMENT_PARTS if p in channels})
        for channel in parts:
            outgoing.drop_channel(channel, float("-inf"))
        self._wait_synced(outgoing)
        return outgoing.release_sounding(parts)

    def release_midi_out(self) -> int:
        """Stopping (main thread, after the engine's own panic): a note-off for each note
        still sounding on any channel (the player's own included), the pedal up, all
        notes and sound off. Returns the note-offs sent."""
        outgoing = self.outgoing
        if outgoing is None:
            return 0
        self._wait_synced(outgoing)
        return outgoing.release_sounding(self.config.midi.channels().values())

    @staticmethod
    def _wait_synced(outgoing: MidiOutQueue, timeout: float = 0.2) -> None:
        """Until MIDI out's consumer (the cycle, or rtmidi's sender) took in every
        command sent so far: then what it remembers as sounding is final."""
        deadline = time.monotonic() + timeout
        while not outgoing.synced() and time.monotonic() < deadline:
            time.sleep(0.002)

    # -- stop --------------------------------------------------------------------------

    def stop_hotplug(self) -> None:
        if self.watcher is not None:
            stop_safely("hotplug", self.watcher.stop)

    def close(self) -> None:
        """After the engine stopped: no more JACK cycles, then close MIDI, pyo and the
        JACK client (rtmidi's ports after the cycles: see ``start``)."""
        if self.host is not None:
            stop_safely("JACK", self.host.deactivate)
        for name, handler in self._closers:
            stop_safely(name, handler.close)
        if self.paced is not None:
            stop_safely("audio", self.paced.stop)
        elif self.server is not None:
            stop_safely("audio", self.server.stop)
        if self.host is not None:
            stop_safely("JACK", self.host.close)
        if self.backends.embedded is not None:
            stop_safely("its JACK server", self.backends.embedded.stop)
