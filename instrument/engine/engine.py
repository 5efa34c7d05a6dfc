"""The engine: one thread that owns the musical state and schedules what is played.

Inputs arrive stamped on the ``InputQueue``. The engine forwards the player's own notes
to the outputs (MIDI out, the recorder; the synth already played them in the audio
callback), asks each ``Planner`` (what plans the instrument's parts: the Band) to plan its
notes ahead of time, and hands every planned ``TimedEvent`` to the outputs as soon as it
is within ``lead`` seconds of being due; the outputs play it at its due time. A part can
still be cut short (the player resumed, a mode changed): ``cancel`` makes the outputs
forget its events not yet due and ends its notes that had started, so nothing is left
sounding.

The same code runs live (``start``: its own thread on a ``LiveClock``) and offline
(``advance_to`` on an ``OfflineClock``), so musical behaviour is tested by exact
transcripts.

Real-time rules: nothing here runs in a MIDI or audio callback. The engine thread may
take a little time (model steps release the GIL); it must not hold the GIL for long
stretches, so heavy work belongs in generators that release it.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from instrument.midi import messages as mm
from instrument.midi.held import HeldNotes
from instrument.names import Part
from instrument.realtime.router import InputEvent, InputQueue
from instrument.timing.clock import Clock

log = logging.getLogger(__name__)

PLAYER = Part.PLAYER
#: Offline passes at one clock time after which ``advance_to`` gives up (a bug).
STALL_PASSES = 10_000


class EngineStalled(RuntimeError):
    """The offline engine kept waking at the same time with nothing due (a bug)."""


@dataclass(frozen=True, slots=True)
class TimedEvent:
    """A MIDI message of one part due at a clock time. Outputs set the channel."""

    due: float
    part: str
    message: tuple[int, ...]

    @property
    def is_note_on(self) -> bool:
        return self.message[0] & 0xF0 == mm.NOTE_ON and self.message[2] > 0

    @property
    def is_note_off(self) -> bool:
        return mm.is_note_off(self.message)


class Output(Protocol):
    """Where played events go: the synth, MIDI out, the recorder."""

    def play(self, event: TimedEvent) -> None:
        """Take an event a little before it is due (or at once, for the player's notes)."""
        ...

    def panic(self, now: float) -> None:
        """Silence everything now: no note may be left sounding."""
        ...

    def cancel(self, part: str, now: float) -> None:
        """Forget ``part``'s events due after ``now`` that were handed over (they will
        not happen); the engine then ends the notes of ``part`` that had started."""
        ...


class Planner(Protocol):
    """What plans one of the instrument's parts (accompaniment, continuation): the Band."""

    name: str

    def on_input(self, event: InputEvent, player: PlayerState) -> None:
        """The player did something (engine thread)."""
        ...

    def plan(self, now: float) -> list[TimedEvent]:
        """Return notes decided now (due later than ``now``); called on every wake-up."""
        ...

    def next_wakeup(self) -> float | None:
        """When ``plan`` next has something to do, if the engine has no reason to wake."""
        ...

    def reset(self) -> None:
        """Forget what is planned (after a panic or a mode change)."""
        ...


@dataclass
class PlayerState:
    """What the player is doing, as the engine sees it."""

    held: HeldNotes = field(default_factory=HeldNotes)


@dataclass
class EngineStats:
    inputs: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    planned: int = 0
    panics: int = 0
    errors: int = 0


def message_kind(message: Sequence[int]) -> str:
    status = message[0]
    if status >= 0xF0:
        return {mm.CLOCK: "clock", mm.START: "start", mm.STOP: "stop", mm.CONTINUE: "continue"}.get(
            status, "system"
        )
    return {
        0x80: "note_off", 0x90: "note_on", 0xA0: "aftertouch", 0xB0: "control_change",
        0xC0: "program_change", 0xD0: "channel_pressure", 0xE0: "pitchwheel",
    }[status & 0xF0]


class Engine:
    """Owns musical state; see the module docstring."""

    def __init__(
        self,
        clock: Clock,
        outputs: list[Output],
        parts: Sequence[Planner] = (),
        listen_channel: int = 0,
        lead: float = 0.25,
        queue: InputQueue | None = None,
        late_leads: dict[str, float] | None = None,
        on_fatal: Callable[[BaseException], None] | None = None,
    ) -> None:
        self.clock = clock
        self.outputs = list(outputs)
        self.parts = list(parts)
        self.listen_channel = listen_channel
        self.lead = lead
        # Parts whose plans may be re-timed (``retime``) stay here until this long before
        # they are due, where moving them is still possible.
        self.late_leads = dict(late_leads or {})
        self.queue = queue if queue is not None else InputQueue()
        self.player = PlayerState()
        self.stats = EngineStats()
        self._on_fatal = on_fatal
        # (hand-out time, seq, event): an event leaves ``lead`` before it is due; the
        # hand-out time is stored so the wake-up and the test use the same number.
        self._heap: list[tuple[float, int, TimedEvent]] = []
        # Inputs stamped later than the clock (offline feeding) wait here for their time.
        self._later: list[tuple[float, int, InputEvent]] = []
        self._seq = itertools.count()
        # part -> pitch -> its notes as handed to the outputs, oldest first: [note-on due,
        # note-off due or None]. A pitch can have two: one still sounding and its
        # re-strike, handed out ahead of time.
        self._notes: dict[str, dict[int, list[list]]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.loops = 0  # passes (``step`` calls): the watchdog sees them advance
        # Every input stamped before this time has been handled (and what it started,
        # such as the beat, has happened): the recorder writes up to here.
        self.handled_until = float("-inf")

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Run on a thread of its own (live)."""
        self._thread = threading.Thread(target=self._run, name="engine", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        """Live: the engine thread runs (it stops only when told to, or on a fatal error)."""
        return self._thread is not None and self._thread.is_alive()

    def stop(self) -> None:
        """Stop the thread, then silence everything that is still sounding."""
        self._stop.set()
        self.queue.wakeup.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)
        self.panic()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self.step()
                self.clock.wait(self.queue.wakeup, self._next_wakeup())
        except BaseException as exc:  # a fatal error must still silence everything
            self.stats.errors += 1
            log.exception("engine stopped by an error; silencing all outputs")
            self.panic()
            if self._on_fatal is not None:
                self._on_fatal(exc)

    # -- one pass ----------------------------------------------------------------------

    def step(self) -> None:
        """Take inputs, let parts plan, hand out what is due within ``lead``."""
        self.loops += 1
        now = self.clock.now()
        complete = self.queue.complete_until()  # read before collecting
        self._collect_inputs()
        while self._later and self._later[0][0] <= now:
            self._handle_input(heapq.heappop(self._later)[2])
        for part in self.parts:
            for event in part.plan(now):
                self.schedule(event)
        self._hand_out(now)
        self.handled_until = min(now, complete)

    def _collect_inputs(self) -> None:
        for event in self.queue.take_all():
            heapq.heappush(self._later, (event.time, next(self._seq), event))

    def advance_to(self, t: float) -> None:
        """Offline: run every wake-up up to clock time ``t``, in order.

        Every wake-up makes progress (a part asked to be woken at a time finds its work
        due then), so the clock moves on; ``EngineStalled`` is raised, rather than
        spinning, if it stays put for ``STALL_PASSES`` passes.
        """
        still, last = 0, self.clock.now()
        while True:
            self._collect_inputs()
            wake = min(self._next_wakeup(), t)
            self.clock.advance_to(max(wake, self.clock.now()))  # type: ignore[attr-defined]
            self.step()
            if wake >= t:
                return
            now = self.clock.now()
            still = still + 1 if now == last else 0
            last = now
            if still >= STALL_PASSES:
                raise EngineStalled(f"the engine woke {still} times at t={now:.6f} s "
                                    "without anything becoming due")

    def _next_wakeup(self) -> float:
        now = self.clock.now()
        wake = now + 0.05
        if self._heap:
            wake = min(wake, self._heap[0][0])
        if self._later:
            wake = min(wake, self._later[0][0])
        for part in self.parts:
            t = part.next_wakeup()
            if t is not None:
                wake = min(wake, t)
        return max(wake, now)

    # -- inputs ------------------------------------------------------------------------

    def submit(self, event: InputEvent) -> None:
        """Offline and tests: feed an input as if it came from the MIDI callback; it is
        handled when the clock reaches its time."""
        self.queue.put(event)

    def _handle_input(self, event: InputEvent) -> None:
        message = event.message
        self.stats.inputs += 1
        kind = message_kind(message)
        self.stats.by_kind[kind] += 1
        if not mm.accepts_channel(message[0], self.listen_channel):
            self.stats.by_kind["other_channel"] += 1
            return
        if mm.is_panic(message):
            log.warning("panic: CC %d from the controller", message[1])
            self.panic()
            return
        player = self.player
        if kind in ("note_on", "note_off"):
            if mm.is_note_on(message):
                player.held.note_on(message[1])
            else:
                player.held.note_off(message[1])
            self._to_outputs(TimedEvent(event.time, PLAYER, message))
        elif kind == "control_change" and message[1] == mm.CC_SUSTAIN:
            player.held.pedal(message[2] >= 64)
            self._to_outputs(TimedEvent(event.time, PLAYER, message))
        elif kind == "pitchwheel":
            self._to_outputs(TimedEvent(event.time, PLAYER, message))
        for part in self.parts:
            part.on_input(event, player)

    # -- scheduling --------------------------------------------------------------------

    def schedule(self, event: TimedEvent) -> None:
        """Plan an event; it reaches the outputs ``lead`` seconds before it is due."""
        self.stats.planned += 1
        lead = self.late_leads.get(event.part, self.lead)
        heapq.heappush(self._heap, (event.due - lead, next(self._seq), event))

    def _hand_out(self, now: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, _, event = heapq.heappop(heap)
            self._to_outputs(event)

    def _to_outputs(self, event: TimedEvent) -> None:
        notes = self._notes.setdefault(event.part, {})
        if event.is_note_on:
            # Notes that ended by now can never sound again; one that ends later (its
            # note-off handed out with this re-strike) is kept for a cancel before then.
            now = self.clock.now()
            spans = [n for n in notes.get(event.message[1], ()) if n[1] is None or n[1] > now]
            spans.append([event.due, None])
            notes[event.message[1]] = spans
        elif event.is_note_off:
            for note in notes.get(event.message[1], ()):
                if note[1] is None:  # the oldest note of that pitch still on
                    note[1] = event.due
                    break
        for output in self.outputs:
            output.play(event)

    def retime(self, part: str, move: Callable[[float], float]) -> int:
        """Move ``part``'s planned events not yet handed out: each to ``move(due)``
        (never earlier than now). Returns how many moved."""
        now = self.clock.now()
        kept, moved = [], []
        for item in self._heap:
            (moved if item[2].part == part else kept).append(item)
        if not moved:
            return 0
        self._heap = kept
        lead = self.late_leads.get(part, self.lead)
        for _, seq, event in moved:
            due = max(now, move(event.due))
            heapq.heappush(self._heap, (due - lead, seq, TimedEvent(due, event.part,
                                                                    event.message)))
        heapq.heapify(self._heap)
        return len(moved)

    def cancel(self, part: str, now: float | None = None) -> None:
        """Drop ``part``'s planned events, in the engine and in the outputs, and end
        the notes of ``part`` that had started by ``now``."""
        now = self.clock.now() if now is None else now
        self._heap = [item for item in self._heap if item[2].part != part]
        heapq.heapify(self._heap)
        for output in self.outputs:
            output.cancel(part, now)
        self._end_notes(part, now)

    def _sounding_at(self, part: str, now: float) -> list[int]:
        return sorted(
            pitch for pitch, spans in self._notes.get(part, {}).items()
            if any(on <= now and (off is None or off > now) for on, off in spans)
        )

    def _end_notes(self, part: str, now: float) -> None:
        """Note-offs at ``now`` for the part's notes sounding then; forget the rest."""
        for pitch in self._sounding_at(part, now):
            self._to_outputs(TimedEvent(now, part, (mm.NOTE_OFF, pitch, 0)))
        self._notes.pop(part, None)

    def sounding(self, part: str) -> set[int]:
        """Pitches of ``part`` sounding now, as handed to the outputs."""
        return set(self._sounding_at(part, self.clock.now()))

    def panic(self) -> None:
        """Drop every plan and silence every output now.

        Outputs first drop what they hold for later and silence themselves (CC 123/120
        on MIDI out, a fast release on the synth); then every note that had started
        gets its note-off and a held sustain pedal is lifted, so MIDI out and the
        recording end every note they began.
        """
        self.stats.panics += 1
        now = self.clock.now()
        self._heap.clear()
        for part in self.parts:
            part.reset()
        for output in self.outputs:
            try:
                output.panic(now)
            except Exception:  # one broken output must not keep the others sounding
                log.exception("output %r failed to silence", output)
        for part in list(self._notes):
            self._end_notes(part, now)
        if self.player.held.pedal_down:
            self._to_outputs(TimedEvent(now, PLAYER, (mm.CONTROL_CHANGE, mm.CC_SUSTAIN, 0)))
        self.player.held.clear()
