"""The engine in one process, the sound in another: what crosses between them, and how.

With audio on JACK the instrument runs as two processes (``instrument.live.one_process``): the
audio process owns the JACK client, pyo, the player's thru and the planned-notes player;
the engine process owns the models, the Band, the engine and the recorder. Two
``SharedRing``s of fixed-size records, stamped in JACK frames, connect them:

- plans, engine to audio (``PlanWriter`` -> ``PlanReader``): planned notes, "release
  this part", "silence everything", MIDI out messages and their drops, a part's volume,
  thru muted (MIDI learn);
- inputs, audio to engine (``InputWriter`` -> ``InputReader``): the player's MIDI as the
  JACK cycle received it, checked, with its frame.

``PlanReader.apply`` and ``InputWriter.write`` run in the JACK cycle and follow the
rules of ``instrument.realtime``, with one allowance: ``apply`` creates the queue
entries (a ``SynthEvent``, a ``bytes``) that the engine thread creates when both sides
share a process, at most ``MAX_PLANS_PER_CYCLE`` a cycle. ``PlanWriter`` is called on
the engine thread (and ``wait_sent`` on the engine process's main thread at shutdown);
``InputReader`` on the engine thread. The engine is woken through an eventfd the two
processes share (``Wakeup(shared=True)``: every ``set`` writes it).

Times cross as JACK frames (``round(seconds * rate)``): both processes read the same
JACK frame clock, so a due time means the same sample on both sides.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from instrument.midi import messages as mm
from instrument.names import SOUNDING_PARTS
from instrument.realtime.input_ring import _REASON_INDEX, DROP_REASONS
from instrument.realtime.midi_out import MidiOutQueue
from instrument.realtime.planned import PlannedNotes, SynthEvent
from instrument.realtime.shared_ring import SharedRing
from instrument.realtime.shared_stats import DROPPED_BY_REASON, SharedStats
from instrument.realtime.thru import ThruPlayer

NOTE, CANCEL, PANIC, MIDI, MIDI_NOW, MIDI_CLEAR, MIDI_DROP, VOLUME, THRU_MUTED = range(1, 10)
MIDI_IN = 20
#: Plan records applied per JACK cycle; the rest wait for the next cycle.
MAX_PLANS_PER_CYCLE = 512
_PART_ID = {part: i for i, part in enumerate(SOUNDING_PARTS)}


def pack(message: Sequence[int]) -> int:
    """Up to three MIDI bytes in one integer (the length travels beside it)."""
    value = 0
    for i, byte in enumerate(message):
        value |= byte << (8 * i)
    return value


def unpack(value: int, length: int) -> tuple[int, ...]:
    return tuple((value >> (8 * i)) & 0xFF for i in range(length))


class PlanWriter:
    """The engine process's side of the plans: the planned-notes, MIDI-out and sound
    controls the engine's outputs and the Band call, sent to the audio process."""

    def __init__(self, ring: SharedRing, stats: SharedStats, rate: float) -> None:
        self._ring = ring
        self._stats = stats
        self._rate = rate

    @property
    def refused(self) -> int:
        """Records the ring had no room for (the audio process is stuck), as the ring
        counts them."""
        return self._ring.refused

    def _frame(self, t: float) -> int:
        return round(t * self._rate)

    def _write(self, kind: int, time: int = 0, a: int = 0, b: int = 0, c: int = 0) -> None:
        self._ring.write(kind, time, a, b, c)  # a refusal is counted by the ring

    # planned notes (``SynthOutput``)
    def schedule(self, event: SynthEvent) -> None:
        self._write(NOTE, self._frame(event.due), _PART_ID[event.part], event.pitch,
                    event.velocity)

    def cancel(self, part: str, now: float) -> None:
        """Only the parts with a synth: the engine cancels MIDI clock out too, which
        has nothing on the synth to cancel."""
        part_id = _PART_ID.get(part)
        if part_id is not None:
            self._write(CANCEL, self._frame(now), part_id)

    def panic(self) -> None:
        self._write(PANIC)

    # MIDI out (``MidiOutput``)
    def send(self, message: Sequence[int], due: float | None = None) -> None:
        if due is None:
            self._write(MIDI_NOW, 0, pack(message), len(message))
        else:
            self._write(MIDI, self._frame(due), pack(message), len(message))

    def drop_pending(self) -> None:
        self._write(MIDI_CLEAR)

    def drop_channel(self, channel: int, after: float) -> None:
        self._write(MIDI_DROP, self._frame(after), channel)

    def wait_sent(self, timeout: float) -> bool:
        """Until the audio process has taken every plan and sent every MIDI message: the
        ring is empty, then a publication of its counters made after that says nothing
        waits (a count published before the last records were applied proves nothing)."""
        deadline = time.monotonic() + timeout
        seen: int | None = None
        while time.monotonic() < deadline:
            if len(self._ring):
                seen = None
            elif seen is None:
                seen = self._stats.get("publishes")
            elif self._stats.get("publishes") > seen + 1:
                if not self._stats.get("midi_out_pending"):
                    return True
                seen = self._stats.get("publishes")
            time.sleep(0.005)
        return False

    # the sound
    def set_volume(self, part: str, volume: float) -> None:
        self._write(VOLUME, 0, _PART_ID[part], round(volume * 1_000_000))

    def set_thru_muted(self, muted: bool) -> None:
        self._write(THRU_MUTED, 0, int(muted))


class PlanReader:
    """The audio process's side: applies the plans in the JACK cycle, before its audio."""

    def __init__(
        self,
        ring: SharedRing,
        rate: float,
        planned: PlannedNotes,
        outgoing: MidiOutQueue,
        thru: ThruPlayer,
        set_volume: Callable[[str, float], None],
    ) -> None:
        self._ring = ring
        self._rate = rate
        self._planned = planned
        self._outgoing = outgoing
        self._thru = thru
        self._set_volume = set_volume

    def apply(self) -> None:
        """JACK cycle: apply the plans that arrived, at most ``MAX_PLANS_PER_CYCLE``."""
        self._ring.read(self._handle, MAX_PLANS_PER_CYCLE)

    def _handle(self, kind: int, time: int, a: int, b: int, c: int, d: int) -> None:
        t = time / self._rate
        if kind == NOTE:
            self._planned.schedule(SynthEvent(t, SOUNDING_PARTS[a], b, c))
        elif kind == MIDI:
            self._outgoing.send(unpack(a, b), t)
        elif kind == MIDI_NOW:
            self._outgoing.send(unpack(a, b))
        elif kind == CANCEL:
            self._planned.cancel(SOUNDING_PARTS[a], t)
        elif kind == PANIC:
            self._planned.panic()
        elif kind == MIDI_CLEAR:
            self._outgoing.drop_pending()
        elif kind == MIDI_DROP:
            self._outgoing.drop_channel(a, t)
        elif kind == VOLUME:
            self._set_volume(SOUNDING_PARTS[a], b / 1_000_000)
        elif kind == THRU_MUTED:
            self._thru.muted = bool(a)

    def __len__(self) -> int:
        return len(self._ring)


class InputWriter:
    """The JACK cycle's input ring, to the other process: the same ``write`` and
    ``dropped`` as ``InputRing`` (checks and counts by reason; "queue full" is the ring's
    own count of the writes it refused), records stamped in frames."""

    def __init__(self, ring: SharedRing, rate: float) -> None:
        self._ring = ring
        self._rate = rate
        self.received = 0
        self.dropped_counts = [0] * len(DROP_REASONS)  # "queue full" stays 0: see dropped

    @property
    def complete_until(self) -> float:
        return self._ring.mark / self._rate

    @complete_until.setter
    def complete_until(self, t: float) -> None:
        self._ring.mark = round(t * self._rate)

    def write(self, data: Sequence[int], time: float) -> bool:
        self.received += 1
        reason = mm.check(data)
        if reason is not None:
            self.dropped_counts[_REASON_INDEX[reason]] += 1
            return False
        n = len(data)
        value = data[0] | (data[1] << 8 if n > 1 else 0) | (data[2] << 16 if n > 2 else 0)
        return self._ring.write(MIDI_IN, round(time * self._rate), value, n)

    def dropped(self) -> dict[str, int]:
        counts = {r: n for r, n in zip(DROP_REASONS, self.dropped_counts, strict=True) if n}
        if self._ring.refused:
            counts["queue full"] = self._ring.refused
        return counts


class InputReader:
    """The engine process's side of the inputs: a source for ``InputQueue``."""

    def __init__(self, ring: SharedRing, rate: float, stats: SharedStats) -> None:
        self._ring = ring
        self._rate = rate
        self._stats = stats
        self._emit: Callable[[float, tuple[int, ...]], None] | None = None

    @property
    def complete_until(self) -> float:
        return self._ring.mark / self._rate

    def read_into(self, emit: Callable[[float, tuple[int, ...]], None]) -> int:
        self._emit = emit
        return self._ring.read(self._handle, 4096)

    def _handle(self, kind: int, time: int, a: int, b: int, c: int, d: int) -> None:
        if kind == MIDI_IN and self._emit is not None:
            self._emit(time / self._rate, unpack(a, b))

    @property
    def received(self) -> int:
        return self._stats.get("input_received")

    def dropped(self) -> dict[str, int]:
        counts = {r: self._stats.get(name) for r, name in DROPPED_BY_REASON.items()}
        return {r: n for r, n in counts.items() if n}

    def __len__(self) -> int:
        return len(self._ring)
