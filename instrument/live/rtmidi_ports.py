"""MIDI in and out with python-rtmidi, over ALSA or JACK.

``RtMidiInput`` connects to the player's controller (chosen by name, or the first
hardware port) and reconnects when it comes back after an unplug; ``poll`` is called by
the hotplug watcher. ``RtMidiOutput`` sends the messages of a ``MidiOutQueue`` (the same
due-time queue the JACK cycle reads) from its own thread at their due time.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence

import rtmidi

from instrument.midi.ports import PortInfo, choose_port, describe_choice
from instrument.realtime.midi_out import MidiOutQueue
from instrument.realtime.wakeup import Wakeup

log = logging.getLogger(__name__)

APIS = {"alsa": rtmidi.API_LINUX_ALSA, "jack": rtmidi.API_UNIX_JACK}
#: Test seam: set to 1, the "alsa" ports open with rtmidi's JACK API instead, and the
#: ALSA sequencer counts as available, so a machine without /dev/snd/seq (CI, a
#: container) runs the whole ALSA path of the instrument (rtmidi's callback thread, the
#: stamping ring, rtmidi's sender thread) end to end.
SEQ_VIA_JACK = "INSTRUMENT_TEST_ALSA_VIA_JACK"


def _seq_via_jack() -> bool:
    return os.environ.get(SEQ_VIA_JACK) == "1"


def _api(api: str) -> int:
    if api == "alsa" and _seq_via_jack():
        return rtmidi.API_UNIX_JACK
    return APIS[api]


class MidiUnavailable(RuntimeError):
    """The requested MIDI API cannot be used on this machine right now."""


def alsa_available() -> bool:
    """ALSA MIDI needs the kernel's sequencer device, absent in containers and CI."""
    if _seq_via_jack():
        return True
    if not os.path.exists("/dev/snd/seq"):
        return False
    try:
        rtmidi.MidiIn(rtmidi.API_LINUX_ALSA, name="instrument-probe").delete()
    except (rtmidi.SystemError, RuntimeError):
        return False
    return True


def _open_in(api: str, client_name: str) -> rtmidi.MidiIn:
    try:
        return rtmidi.MidiIn(_api(api), name=client_name, queue_size_limit=4096)
    except (rtmidi.SystemError, RuntimeError) as exc:
        raise MidiUnavailable(f"cannot open {api.upper()} MIDI input: {exc}") from None


def _open_out(api: str, client_name: str) -> rtmidi.MidiOut:
    try:
        return rtmidi.MidiOut(_api(api), name=client_name)
    except (rtmidi.SystemError, RuntimeError) as exc:
        raise MidiUnavailable(f"cannot open {api.upper()} MIDI output: {exc}") from None


def _hardware(api: str, name: str) -> bool:
    # ALSA names client ports "Client:Port c:p"; clients numbered >= 128 are software.
    if api == "alsa":
        try:
            client = int(name.rsplit(" ", 1)[-1].split(":")[0])
        except ValueError:
            return True
        return 16 <= client < 128
    return "system:" in name or "a2j:" in name


def list_ports(api: str, output: bool = False) -> list[PortInfo]:
    """The ports an rtmidi input (or output) of ``api`` could connect to."""
    probe = _open_out(api, "instrument-list") if output else _open_in(api, "instrument-list")
    try:
        return [PortInfo(name, _hardware(api, name)) for name in probe.get_ports()]
    finally:
        probe.delete()


class RtMidiInput:
    """The player's controller through rtmidi; reconnects on hotplug.

    The rtmidi callback runs on rtmidi's thread (the JACK process thread with the JACK
    API): it only calls ``deliver`` (which stamps and enqueues) and nothing else.
    """

    def __init__(
        self,
        api: str,
        client_name: str,
        wanted: str | None,
        deliver: Callable[[Sequence[int]], None],
        own_names: tuple[str, ...] = (),
        port_name: str = "midi_in",
    ) -> None:
        self.api = api
        self.wanted = wanted
        self.own_names = (*own_names, client_name)
        self.port_name = port_name
        self._deliver = deliver
        self._midi = _open_in(api, client_name)
        self._midi.ignore_types(sysex=False, timing=False, active_sense=True)
        self._midi.set_callback(self._on_message)
        self._midi.set_error_callback(self._on_error)
        self.connected_to: str | None = None
        self.errors = 0

    def _on_message(self, event: tuple[list[int], float], data: object = None) -> None:
        self._deliver(event[0])

    def _on_error(self, kind: int, text: str, data: object = None) -> None:
        self.errors += 1

    def poll(self) -> None:
        """Hotplug watcher thread: connect to the controller if it is (back) there."""
        names = self._midi.get_ports()
        if self.connected_to is not None:
            if self.connected_to in names:
                return
            log.warning("MIDI input %s is gone; waiting for it to come back", self.connected_to)
            self._midi.close_port()
            self.connected_to = None
        ports = [PortInfo(n, _hardware(self.api, n)) for n in names]
        choice = choose_port(ports, self.wanted, self.own_names)
        if choice is None:
            return
        self._midi.open_port(names.index(choice.name), self.port_name)
        self.connected_to = choice.name
        log.info("MIDI input connected: %s (%s)", choice.name, self.api.upper())

    def describe_wait(self) -> str:
        return f"waiting for {describe_choice(self.wanted)} ({self.api.upper()} MIDI)"

    def close(self) -> None:
        self._midi.cancel_callback()
        self._midi.close_port()
        self._midi.delete()


class RtMidiVirtualInput:
    """A virtual input port other software connects to (ALSA: "client:midi_in")."""

    def __init__(
        self, api: str, client_name: str, deliver: Callable[[Sequence[int]], None]
    ) -> None:
        self._deliver = deliver
        self._midi = _open_in(api, client_name)
        self._midi.ignore_types(sysex=False, timing=False, active_sense=True)
        self._midi.set_callback(lambda event, data=None: self._deliver(event[0]))
        self._midi.open_virtual_port("midi_in")

    def poll(self) -> None:
        return None

    def close(self) -> None:
        self._midi.cancel_callback()
        self._midi.close_port()
        self._midi.delete()


class RtMidiOutput:
    """Sends the messages of ``queue`` (a ``MidiOutQueue``) at their due time, from a
    sender thread of its own.

    Opens a virtual port (others connect to it) and, when ``wanted`` names a port,
    connects to that one too, reconnecting on hotplug. The thread cannot die of an error:
    a port that refuses a message keeps its error in ``last_error`` and the message is
    taken as sent; anything else is counted in ``errors`` and the thread goes on. Its
    health (``alive``) is reported to the watchdog and to ``instrument status``.
    """

    def __init__(
        self,
        api: str,
        client_name: str,
        wanted: str | None,
        now: Callable[[], float],
        virtual: bool = True,
    ) -> None:
        self.api = api
        self.wanted = wanted
        self.now = now
        self._virtual = _open_out(api, client_name) if virtual else None
        if self._virtual is not None:
            self._virtual.open_virtual_port("midi_out")
        self._direct = _open_out(api, client_name + "-direct") if wanted else None
        self.connected_to: str | None = None
        # An eventfd, not a threading.Event: the JACK cycle pushes to this queue too (the
        # engine's plans, with the engine in its own process) and must take no lock.
        self._wake = Wakeup()
        self.queue = MidiOutQueue(on_push=self._wake.set)
        self._ports_lock = threading.Lock()  # the sender thread and hotplug's reconnects
        self._stop = False
        self.errors = 0
        self.last_error = ""
        self._thread = threading.Thread(target=self._run, name="midi-out", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self._stop

    def _write(self, message: bytes) -> None:
        with self._ports_lock:
            for port in (self._virtual, self._direct):
                if port is not None and port.is_port_open():
                    try:
                        port.send_message(message)
                    except (rtmidi.RtMidiError, RuntimeError, ValueError) as exc:
                        self.last_error = repr(exc)

    def _run(self) -> None:
        queue = self.queue
        while not self._stop:
            try:
                now = self.now()
                due = queue.next_due()
                if due is not None and due <= now:
                    queue.take_due(now, self._write)
                    continue
                self._wake.wait(0.1 if due is None else max(0.0, min(due - now, 0.1)))
                self._wake.clear()
            except Exception as exc:  # the sender must outlive any one error
                self.errors += 1
                self.last_error = repr(exc)
                if self.errors == 1:
                    log.exception("MIDI out: error in the sender thread; going on")
                time.sleep(0.01)

    def poll(self) -> None:
        """Hotplug watcher thread: (re)connect the direct output to ``wanted``."""
        if self._direct is None:
            return
        names = self._direct.get_ports()
        if self.connected_to is not None:
            if self.connected_to in names:
                return
            with self._ports_lock:
                self._direct.close_port()
            self.connected_to = None
        choice = choose_port([PortInfo(n, True) for n in names], self.wanted)
        if choice is not None:
            with self._ports_lock:
                self._direct.open_port(names.index(choice.name), "midi_out")
            self.connected_to = choice.name
            log.info("MIDI output connected: %s", choice.name)

    def close(self) -> None:
        """Stop the sender and close the ports (safe to call twice)."""
        if self._stop:
            return
        self._stop = True
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=1.0)
        with self._ports_lock:
            for port in (self._virtual, self._direct):
                if port is not None:
                    port.close_port()
                    port.delete()
            self._virtual = self._direct = None
        self._wake.close()
