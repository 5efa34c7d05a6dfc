"""MIDI through our JACK client's ports (``instrument:midi_in`` and ``midi_out``).

The process callback of ``JackHost`` reads and writes the port buffers; the classes here
keep the ports wired (hotplug) and hold MIDI out messages until their frame comes.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Sequence

import jack

from instrument.jack_graph import JackGraph
from instrument.midi.messages import on_channel
from instrument.midi.ports import choose_port, describe_choice
from instrument.timed_queue import TimedQueue

log = logging.getLogger(__name__)


class JackMidiInput:
    """Keeps the player's controller connected to our ``midi_in`` port (hotplug)."""

    def __init__(self, graph: JackGraph, port: str, wanted: str, own_names: tuple[str, ...]):
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
    """MIDI out through ``instrument:midi_out``: each message leaves at its due frame."""

    def __init__(self, graph: JackGraph, port: str, wanted: str) -> None:
        self.graph = graph
        self.port = port
        self.wanted = wanted
        self._pending: TimedQueue[tuple[int, ...]] = TimedQueue()  # planned, by due time
        self._now: deque[tuple[int, ...]] = deque()  # as soon as possible (the player's)
        self.connected_to: str | None = None
        self.sent = 0
        self.late = 0  # planned messages that left more than one period after their frame
        self.max_late = 0.0  # seconds

    def send(self, message: Sequence[int], due: float | None = None) -> None:
        """Engine thread: queue a message; ``None`` leaves with the next cycle, a due time
        at its frame (planned messages come in due order)."""
        if due is None:
            self._now.append(tuple(message))
        else:
            self._pending.push(due, tuple(message))

    def drop_pending(self) -> None:
        self._pending.clear()
        self._now.clear()

    def drop_channel(self, channel: int, after: float) -> None:
        """Forget queued messages on ``channel`` (1-16; 0: system messages) due after
        ``after``."""
        self._pending.drop(lambda due, m: due > after and on_channel(m, channel))

    def wait_sent(self, timeout: float) -> bool:
        """Block until every queued message has left (shutdown); False on timeout."""
        deadline = time.monotonic() + timeout
        while (self._pending or self._now) and time.monotonic() < deadline:
            time.sleep(0.002)
        return not (self._pending or self._now)

    def write(self, port: jack.OwnMidiPort, block_start: float, frames: int, rate: float) -> None:
        """Process callback: write what is due before the end of this block."""
        port.clear_buffer()
        now = self._now
        while now:
            try:
                port.write_midi_event(0, now.popleft())
            except jack.JackError:
                break  # buffer full this cycle
            self.sent += 1
        end = block_start + frames / rate
        for due, message in self._pending.pop_due(end):
            if due < block_start:
                lateness = block_start - due
                self.max_late = max(self.max_late, lateness)
                if lateness > frames / rate:
                    self.late += 1
            offset = min(frames - 1, max(0, round((due - block_start) * rate)))
            try:
                port.write_midi_event(offset, message)
            except jack.JackError:
                continue  # buffer full this cycle: the message is lost, not the audio
            self.sent += 1

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
