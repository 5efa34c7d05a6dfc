"""MIDI through the JACK MIDI ports of pyo's own client (``instrument:midi_in/midi_out``).

With both audio and MIDI on JACK, pyo's client owns all four ports, so a headless box is
wired by name, and the player's notes are read inside the audio callback: a key press
sounds in the same JACK cycle it arrives in.

Real-time rules: ``_on_raw`` runs in pyo's audio callback for each incoming message and
only rebuilds the message bytes and hands them to the router; ``on_block`` runs in the
block callback and only pops from a deque and calls pyo's MIDI out.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Sequence

import pyo

from instrument.jack_graph import JackGraph
from instrument.midi.ports import choose_port, describe_choice

log = logging.getLogger(__name__)

_CHANNEL_LENGTH = {0x80: 3, 0x90: 3, 0xA0: 3, 0xB0: 3, 0xC0: 2, 0xD0: 2, 0xE0: 3}
_SYSTEM_LENGTH = {0xF1: 2, 0xF2: 3, 0xF3: 2}


def rebuild(status: int, data1: int, data2: int) -> tuple[int, ...]:
    """pyo hands every event over as three ints; cut it back to its real length."""
    if status < 0xF0:
        return (status, data1, data2)[: _CHANNEL_LENGTH.get(status & 0xF0, 3)]
    return (status, data1, data2)[: _SYSTEM_LENGTH.get(status, 1)]


class PyoJackMidiInput:
    """pyo's JACK MIDI input; ``poll`` wires the chosen controller to it.

    Create this before any synth voice: pyo runs objects in creation order, so the
    player's note then reaches the voices in the same block.
    """

    def __init__(
        self,
        deliver: Callable[[Sequence[int]], None],
        graph: JackGraph,
        port: str,
        wanted: str,
        own_names: tuple[str, ...],
    ) -> None:
        self._deliver = deliver
        self.graph = graph
        self.port = port
        self.wanted = wanted
        self.own_names = own_names
        self._raw = pyo.RawMidi(self._on_raw)
        self.connected_to: str | None = None

    def _on_raw(self, status: int, data1: int, data2: int) -> None:
        self._deliver(rebuild(status, data1, data2))

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
        self._raw.stop()


class PyoJackMidiOutput:
    """pyo's JACK MIDI output: messages leave at their due time to within 1 ms."""

    def __init__(
        self, server: pyo.Server, graph: JackGraph, port: str, wanted: str, period: float
    ) -> None:
        self._server = server
        self.graph = graph
        self.port = port
        self.wanted = wanted
        self.period = period
        self._pending: deque[tuple[float, tuple[int, ...]]] = deque()
        self._now_block = 0.0
        self.connected_to: str | None = None
        self.sent = 0

    def send(self, message: Sequence[int], due: float | None = None) -> None:
        """Engine thread: queue a message for the audio callback (in due order)."""
        self._pending.append((due if due is not None else 0.0, tuple(message)))

    def drop_pending(self) -> None:
        """Forget messages not yet handed to pyo (panic)."""
        self._pending.clear()

    def on_block(self, block_start: float) -> None:
        """Audio callback: pass messages due before the block after next to pyo.

        pyo writes them in the next JACK cycle at their offset, rounded to 1 ms.
        """
        pending = self._pending
        horizon = block_start + 2 * self.period
        server = self._server
        while pending and pending[0][0] < horizon:
            due, message = pending.popleft()
            delay_ms = max(0, int((due - block_start) * 1000.0))
            kind = message[0] & 0xF0
            channel = (message[0] & 0x0F) + 1
            if kind == 0x90:
                server.noteout(message[1], message[2], channel, delay_ms)
            elif kind == 0x80:
                server.noteout(message[1], 0, channel, delay_ms)
            elif kind == 0xB0:
                server.ctlout(message[1], message[2], channel, delay_ms)
            elif kind == 0xC0:
                server.programout(message[1], channel, delay_ms)
            elif kind == 0xE0:
                server.bendout(message[2] << 7 | message[1], channel, delay_ms)
            else:
                continue
            self.sent += 1

    def poll(self) -> None:
        """Hotplug watcher thread: connect our output to ``wanted`` when it is there."""
        if not self.wanted:
            return
        if self.connected_to is not None and self.graph.port_exists(self.connected_to):
            return
        self.connected_to = None
        choice = choose_port(self.graph.midi_destinations(), self.wanted, (self.port,))
        if choice is not None and self.graph.connect(self.port, choice.name):
            self.connected_to = choice.name
            log.info("MIDI output connected: %s -> %s", self.port, choice.name)

    def close(self) -> None:
        return None
