"""The MIDI input callback's work: stamp, check, enqueue. Nothing else.

Real-time rules: ``from_midi_thread`` runs on python-rtmidi's callback thread;
``from_audio_thread`` runs inside the JACK process callback. Both only stamp the message,
drop and count what is malformed, append to bounded queues, and (audio thread only) play
the player's note at once, on its own sample.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from instrument.audio.thru import ThruPlayer
from instrument.midi import messages as mm


@dataclass(frozen=True, slots=True)
class InputEvent:
    """A checked MIDI message from the player, stamped on arrival (clock seconds)."""

    time: float
    message: tuple[int, ...]


class InputQueue:
    """Bounded hand-over from the input callbacks to the engine thread.

    ``put`` never blocks: when full, the event is dropped and counted.
    """

    def __init__(self, maxlen: int = 8192) -> None:
        self._items: deque[InputEvent] = deque()
        self._maxlen = maxlen
        self.wakeup = threading.Event()
        self.dropped = 0

    def put(self, event: InputEvent) -> bool:
        if len(self._items) >= self._maxlen:
            self.dropped += 1
            return False
        self._items.append(event)
        self.wakeup.set()
        return True

    def take_all(self) -> list[InputEvent]:
        """Engine thread: everything queued so far, oldest first."""
        self.wakeup.clear()
        items = []
        popleft = self._items.popleft
        while self._items:
            items.append(popleft())
        return items

    def __len__(self) -> int:
        return len(self._items)


class InputRouter:
    """Entry point of every input message, whichever backend delivered it."""

    def __init__(
        self, now: Callable[[], float], queue: InputQueue, thru: ThruPlayer | None
    ) -> None:
        self.now = now
        self.queue = queue
        self.thru = thru
        self.received = 0
        self.dropped: Counter[str] = Counter()

    def from_midi_thread(self, message: Sequence[int]) -> None:
        """rtmidi callback: stamped now; the thru note waits for the next audio block."""
        msg = self._accept(message, self.now())
        if msg is not None and self.thru is not None:
            self.thru.enqueue(msg)

    def from_jack_without_audio(self, message: Sequence[int], time: float, offset: int) -> None:
        """JACK process callback when pyo runs elsewhere (PortAudio): the event's own time;
        the thru note waits for pyo's next block."""
        msg = self._accept(message, time)
        if msg is not None and self.thru is not None:
            self.thru.enqueue(msg)

    def from_audio_thread(self, message: Sequence[int], time: float, offset: int) -> None:
        """JACK process callback: the event's own time; the thru note starts on the
        event's sample (``offset`` into the block being computed)."""
        msg = self._accept(message, time)
        if msg is not None and self.thru is not None:
            self.thru.handle(msg, offset)

    def _accept(self, message: Sequence[int], time: float) -> tuple[int, ...] | None:
        self.received += 1
        reason = mm.check(message)
        if reason is not None:
            self.dropped[reason] += 1
            return None
        msg = tuple(message)
        if not self.queue.put(InputEvent(time, msg)):
            self.dropped["queue full"] += 1
        return msg
