"""The player's input, from whichever thread delivered it, to the engine thread.

Each producer thread writes into an ``InputRing`` of its own (``InputQueue.ring``): the
JACK cycle (``instrument.realtime.cycle``) and each rtmidi input's callback thread
(through a ``MidiThreadInput``). The engine thread takes everything with
``InputQueue.take_all`` when its ``wakeup`` fires; offline feeding and tests ``put``
events directly.

With the engine in another process and ALSA MIDI, an rtmidi callback's ring is read by
the JACK cycle instead (``CycleInput``), which plays the thru note on its frame and
writes the message to the engine's shared ring, as it does with JACK MIDI.

Real-time rules: ``MidiThreadInput.__call__`` and ``CycleInput.__call__`` run on
python-rtmidi's callback thread (the JACK process thread with rtmidi's JACK API). They
only stamp the message, write it to its ring (which checks and counts), hand the
player's message to MIDI out's sender (``forward``: ``player_out.PlayerOut.send_now``)
and, for ``MidiThreadInput``, a thru note to the next audio block and the wakeup (one
eventfd write, no lock).
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from instrument.realtime.input_ring import InputRing
from instrument.realtime.thru import ThruPlayer
from instrument.realtime.wakeup import Wakeup


@dataclass(frozen=True, slots=True)
class InputEvent:
    """A checked MIDI message from the player, stamped on arrival (clock seconds)."""

    time: float
    message: tuple[int, ...]


class InputSource(Protocol):
    """One producer's records as the engine thread reads them: an ``InputRing``, or
    (the engine in a process of its own) ``realtime.remote.InputReader``."""

    complete_until: float
    received: int

    def read_into(self, emit: Callable[[float, tuple[int, ...]], None]) -> int: ...

    def dropped(self) -> dict[str, int]: ...

    def __len__(self) -> int: ...


class InputQueue:
    """Everything the engine is told, from every producer (see the module docstring).

    ``wakeup``: the engine's ``Wakeup`` (a shared one when the producer is another
    process)."""

    def __init__(self, wakeup: Wakeup | None = None) -> None:
        self.wakeup = wakeup if wakeup is not None else Wakeup()
        self._rings: list[InputSource] = []
        self._direct: deque[InputEvent] = deque()

    def ring(self) -> InputRing:
        """A ring for one more producer thread (set-up time, before it starts)."""
        ring = InputRing()
        self._rings.append(ring)
        return ring

    def add_source(self, source: InputSource) -> None:
        """Read another producer's records too (set-up time, before the engine starts)."""
        self._rings.append(source)

    def put(self, event: InputEvent) -> None:
        """Engine thread, offline feeding and tests: queue an event directly."""
        self._direct.append(event)
        self.wakeup.set()

    def take_all(self) -> list[InputEvent]:
        """Engine thread: everything queued so far (each producer's in its order)."""
        self.wakeup.clear()
        items: list[InputEvent] = []
        direct = self._direct
        while direct:
            items.append(direct.popleft())
        for ring in self._rings:
            ring.read_into(lambda t, m: items.append(InputEvent(t, m)))
        return items

    @property
    def received(self) -> int:
        return sum(ring.received for ring in self._rings)

    @property
    def dropped(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for ring in self._rings:
            total.update(ring.dropped())
        return total

    def complete_until(self) -> float:
        """Every input stamped before this time is in the queue already (the JACK cycle
        stamps events with its own start, a moment before it hands them over)."""
        return min((ring.complete_until for ring in self._rings), default=float("inf"))

    def __len__(self) -> int:
        return len(self._direct) + sum(len(ring) for ring in self._rings)


def _no_forward(message: Sequence[int]) -> None:
    return None


class MidiThreadInput:
    """An rtmidi callback's delivery: stamp, check into the ring, MIDI out, thru, wake
    the engine.

    The thru note waits for the next audio block (``ThruPlayer.enqueue``).
    """

    def __init__(
        self, ring: InputRing, wakeup: Wakeup, now: Callable[[], float], thru: ThruPlayer,
        forward: Callable[[Sequence[int]], None] = _no_forward,
    ) -> None:
        self.ring = ring
        self.wakeup = wakeup
        self.now = now
        self.thru = thru
        self.forward = forward

    def __call__(self, message: Sequence[int]) -> None:
        if self.ring.write(message, self.now()):
            self.forward(message)
            self.thru.enqueue(message)
            self.wakeup.set()


class CycleInput:
    """An rtmidi callback's delivery when the JACK cycle reads its ring: stamp (the
    JACK frame clock), check into the ring, MIDI out at once. The cycle does the rest."""

    def __init__(self, ring: InputRing, now: Callable[[], float],
                 forward: Callable[[Sequence[int]], None] = _no_forward) -> None:
        self.ring = ring
        self.now = now
        self.forward = forward

    def __call__(self, message: Sequence[int]) -> None:
        if self.ring.write(message, self.now()):
            self.forward(message)
