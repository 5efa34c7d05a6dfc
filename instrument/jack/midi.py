"""MIDI through our JACK client's ports (``instrument:midi_in`` and ``midi_out``).

The JACK cycle (``instrument.realtime.cycle``) reads and writes the port buffers; the
classes here keep the ports wired to the controller and to ``midi.output`` (hotplug),
from the hotplug watcher's thread.
"""

from __future__ import annotations

import logging

from instrument.jack.graph import JackGraph
from instrument.midi.ports import choose_port, describe_choice
from instrument.realtime.midi_out import MidiOutQueue

log = logging.getLogger(__name__)


class JackMidiInput:
    """Keeps the player's controller connected to our ``midi_in`` port (hotplug)."""

    def __init__(self, graph: JackGraph, port: str, wanted: str | None, own_names: tuple[str, ...]):
        self.graph = graph
        self.port = port
        self.wanted = wanted
        self.own_names = own_names
        self.connected_to: str | None = None

    def poll(self) -> None:
        """Hotplug watcher thread: connect the controller to our port if it is there."""
        if self.connected_to is not None:
            if self.graph.port_exists(self.connected_to):
                if self.connected_to not in self.graph.connected(self.port):
                    self.graph.connect(self.connected_to, self.port)
                return
            log.warning("MIDI input %s is gone; waiting for it to come back", self.connected_to)
            self.connected_to = None
        choice = choose_port(self.graph.midi_sources(), self.wanted, self.own_names)
        if choice is not None and self.graph.connect(choice.name, self.port):
            self.connected_to = choice.name
            log.info("MIDI input connected: %s -> %s", choice.name, self.port)

    def describe_wait(self) -> str:
        return f"waiting for {describe_choice(self.wanted)} (JACK MIDI, or connect to {self.port})"

    def close(self) -> None:
        return None


class JackMidiSender:
    """Keeps ``instrument:midi_out`` connected to the port named ``wanted`` (hotplug).

    The messages themselves wait in ``queue`` (a ``MidiOutQueue``) until the JACK cycle
    writes them at their frames.
    """

    def __init__(self, graph: JackGraph, port: str, wanted: str | None) -> None:
        self.graph = graph
        self.port = port
        self.wanted = wanted
        self.queue = MidiOutQueue()
        self.connected_to: str | None = None

    def poll(self) -> None:
        """Hotplug watcher thread: connect our output to ``wanted`` when it is there."""
        if not self.wanted:
            return
        if self.connected_to is not None and self.graph.port_exists(self.connected_to):
            return
        self.connected_to = None
        for candidate in self.graph.midi_destinations():
            if self.wanted.lower() in candidate.name.lower() and candidate.name != self.port:
                if self.graph.connect(self.port, candidate.name):
                    self.connected_to = candidate.name
                    log.info("MIDI output connected: %s -> %s", self.port, candidate.name)
                return

    def close(self) -> None:
        return None
