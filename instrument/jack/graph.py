"""JACK port discovery and wiring with JACK-Client.

A ``JackGraph`` lists and connects ports through a JACK client: to find the player's
controller among the MIDI ports, to wire it to our input, and to connect our outputs to
the sound card. It reports when the JACK server goes away, and counts xruns.
"""

from __future__ import annotations

import logging
import threading

import jack

from instrument.midi.ports import PortInfo

log = logging.getLogger(__name__)

# libjack prints its own errors to stderr; route them through logging instead.
jack.set_error_function(lambda msg: log.debug("jack: %s", msg))
jack.set_info_function(lambda msg: log.debug("jack: %s", msg))


def jack_server_running() -> bool:
    """True if a JACK server (``$JACK_DEFAULT_SERVER`` or the default) accepts clients."""
    try:
        client = jack.Client("instrument-probe", no_start_server=True)
    except jack.JackError:
        return False
    client.close()
    return True


class JackGraph:
    """Lists and connects JACK ports; ``server_lost`` is set if the server shuts down.

    Give it the instrument's own client (before activation), or a name to open a
    client of its own for listing only (``instrument devices``).
    """

    def __init__(self, client: jack.Client | str = "instrument-ports") -> None:
        self._owns_client = isinstance(client, str)
        if isinstance(client, str):
            client = jack.Client(client, no_start_server=True)
        self.client = client
        self.server_lost = threading.Event()
        self.xruns = 0
        self._refused: set[tuple[str, str]] = set()
        self.client.set_shutdown_callback(self._on_shutdown)
        self.client.set_xrun_callback(self._on_xrun)
        if self._owns_client:
            self.client.activate()

    def _on_shutdown(self, status: jack.Status, reason: str) -> None:
        # Runs on a JACK thread: only set a flag.
        self.server_lost.set()

    def _on_xrun(self, delay_usecs: float) -> None:
        # Runs on a JACK thread: only count.
        self.xruns += 1

    def midi_sources(self) -> list[PortInfo]:
        """MIDI ports that produce events (controllers, apps), physical ones marked."""
        return [
            PortInfo(p.name, hardware=p.is_physical)
            for p in self.client.get_ports(is_midi=True, is_output=True)
        ]

    def midi_destinations(self) -> list[PortInfo]:
        return [
            PortInfo(p.name, hardware=p.is_physical)
            for p in self.client.get_ports(is_midi=True, is_input=True)
        ]

    def physical_playback(self) -> list[str]:
        return [
            p.name
            for p in self.client.get_ports(is_audio=True, is_input=True, is_physical=True)
        ]

    def connected(self, port: str) -> list[str]:
        try:
            return [p.name for p in self.client.get_all_connections(port)]
        except jack.JackError:
            return []

    def connect(self, source: str, destination: str) -> bool:
        """Connect if not yet connected; False (logged once per pair) if JACK refused."""
        try:
            if destination in self.connected(source):
                return True
            self.client.connect(source, destination)
            return True
        except jack.JackError as exc:
            if (source, destination) not in self._refused:
                self._refused.add((source, destination))
                log.warning("cannot connect %s to %s: %s", source, destination, exc)
            return False

    def port_exists(self, name: str) -> bool:
        try:
            self.client.get_port_by_name(name)
            return True
        except jack.JackError:
            return False

    def close(self) -> None:
        if not self._owns_client:
            return
        try:
            self.client.deactivate()
            self.client.close()
        except jack.JackError:
            pass
