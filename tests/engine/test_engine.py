"""Engine scheduling on the offline clock: exact transcripts of what reaches the outputs."""

from __future__ import annotations

from instrument.engine.engine import Engine, PlayerState, TimedEvent
from instrument.realtime.router import InputEvent
from instrument.timing.clock import OfflineClock


class RecordingOutput:
    """An output that writes down (time handed, due, part, message) and panics."""

    def __init__(self, clock):
        self.clock = clock
        self.log: list[tuple[float, float, str, tuple[int, ...]]] = []
        self.panics: list[float] = []

    def play(self, event: TimedEvent) -> None:
        self.log.append((round(self.clock.now(), 6), event.due, event.part, event.message))

    def panic(self, now: float) -> None:
        self.panics.append(now)

    def cancel(self, part: str, now: float) -> None:
        self.log = [e for e in self.log if e[2] != part or e[1] <= now]


class EchoPart:
    """Answers each note an octave up, ``delay`` seconds later, ``length`` long."""

    name = "continuation"

    def __init__(self, delay=0.5, length=0.25):
        self.delay, self.length = delay, length
        self.pending: list[TimedEvent] = []
        self.resets = 0

    def on_input(self, event: InputEvent, player: PlayerState) -> None:
        m = event.message
        if m[0] & 0xF0 == 0x90 and m[2] > 0:
            start = event.time + self.delay
            self.pending += [
                TimedEvent(start, self.name, (0x90, m[1] + 12, m[2])),
                TimedEvent(start + self.length, self.name, (0x80, m[1] + 12, 0)),
            ]

    def plan(self, now: float) -> list[TimedEvent]:
        out, self.pending = self.pending, []
        return out

    def next_wakeup(self):
        return None

    def reset(self) -> None:
        self.resets += 1
        self.pending = []


def make(lead=0.03, parts=()):
    clock = OfflineClock()
    out = RecordingOutput(clock)
    engine = Engine(clock, [out], parts=parts, lead=lead)
    return clock, out, engine


def test_player_notes_pass_to_outputs_at_their_arrival_time():
    _clock, out, engine = make()
    engine.submit(InputEvent(0.100, (0x90, 60, 90)))
    engine.submit(InputEvent(0.300, (0x80, 60, 0)))
    engine.advance_to(0.5)
    assert out.log == [
        (0.1, 0.100, "player", (0x90, 60, 90)),
        (0.3, 0.300, "player", (0x80, 60, 0)),
    ]


def test_planned_notes_are_handed_out_lead_seconds_before_due():
    part = EchoPart(delay=0.5, length=0.25)
    clock, out, engine = make(lead=0.03, parts=[part])
    clock.advance_to(1.0)
    engine.submit(InputEvent(1.0, (0x90, 60, 90)))
    engine.advance_to(3.0)
    assert out.log == [
        (1.0, 1.0, "player", (0x90, 60, 90)),
        (1.47, 1.5, "continuation", (0x90, 72, 90)),
        (1.72, 1.75, "continuation", (0x80, 72, 0)),
    ]


def test_channel_filter_drops_other_channels():
    clock = OfflineClock()
    out = RecordingOutput(clock)
    engine = Engine(clock, [out], listen_channel=2)
    engine.submit(InputEvent(0.0, (0x90, 60, 90)))  # channel 1
    engine.submit(InputEvent(0.0, (0x91, 62, 90)))  # channel 2
    engine.advance_to(0.1)
    assert [e[3] for e in out.log] == [(0x91, 62, 90)]
    assert engine.stats.by_kind["other_channel"] == 1


def test_cancel_drops_plans_and_ends_started_notes():
    part = EchoPart(delay=0.5, length=1.0)
    _clock, out, engine = make(parts=[part])
    engine.submit(InputEvent(0.0, (0x90, 60, 90)))
    engine.advance_to(0.6)  # the echo started at 0.5, its note-off is still planned
    assert engine.sounding("continuation") == {72}
    engine.cancel("continuation")
    engine.advance_to(3.0)
    assert out.log[-1] == (0.6, 0.6, "continuation", (0x80, 72, 0))
    assert engine.sounding("continuation") == set()


def test_cancel_before_a_restrike_ends_the_note_still_sounding():
    # A chord tone re-struck on the next beat: its note-off and the re-strike are handed
    # out together, ahead of time. Cancelled before they are due, the note sounding
    # then must still be ended (the re-strike had not begun: the outputs drop it).
    class Restrike(EchoPart):
        def on_input(self, event, player):
            if event.message[0] & 0xF0 == 0x90 and event.message[2] > 0:
                self.pending += [TimedEvent(0.2, self.name, (0x90, 67, 64)),
                                 TimedEvent(1.0, self.name, (0x80, 67, 0)),
                                 TimedEvent(1.0, self.name, (0x90, 67, 64)),
                                 TimedEvent(2.0, self.name, (0x80, 67, 0))]

    _clock, out, engine = make(lead=0.05, parts=[Restrike()])
    engine.submit(InputEvent(0.0, (0x90, 60, 90)))
    engine.advance_to(0.97)  # the note-off and re-strike due at 1.0 are handed out
    assert sum(e[3] == (0x90, 67, 64) for e in out.log) == 2
    engine.cancel("continuation")
    assert out.log[-1] == (0.97, 0.97, "continuation", (0x80, 67, 0))
    ons = sum(e[3] == (0x90, 67, 64) for e in out.log)
    offs = sum(e[3] == (0x80, 67, 0) for e in out.log)
    assert ons == offs == 1  # struck once, ended once: nothing left sounding
    assert engine.sounding("continuation") == set()


def test_controller_panic_silences_everything_and_ends_held_and_pedalled_notes():
    part = EchoPart(delay=0.2, length=1.0)
    _clock, out, engine = make(parts=[part])
    engine.submit(InputEvent(0.0, (0xB0, 64, 127)))  # pedal down
    engine.submit(InputEvent(0.0, (0x90, 60, 90)))
    engine.advance_to(0.5)
    engine.submit(InputEvent(0.5, (0xB0, 123, 0)))  # all notes off from the controller
    engine.advance_to(2.0)
    assert out.panics == [0.5]
    assert part.resets == 1
    tail = [(e[2], e[3]) for e in out.log if e[0] == 0.5]
    assert ("continuation", (0x80, 72, 0)) in tail
    assert ("player", (0x80, 60, 0)) in tail
    assert ("player", (0xB0, 64, 0)) in tail
    # Nothing planned before the panic reaches the outputs afterwards.
    assert all(e[0] <= 0.5 for e in out.log)


def test_panic_does_not_end_notes_that_had_not_started():
    part = EchoPart(delay=0.1, length=0.5)
    _clock, out, engine = make(lead=0.05, parts=[part])
    engine.submit(InputEvent(0.0, (0x90, 60, 90)))
    engine.advance_to(0.06)  # the echo's note-on (due 0.1) has been handed out
    assert any(e[3] == (0x90, 72, 90) for e in out.log)
    engine.panic()
    offs = [e for e in out.log if e[3][0] == 0x80 and e[3][1] == 72]
    assert offs == []  # outputs dropped the unplayed note-on themselves


def test_a_failing_output_does_not_stop_the_others_from_silencing():
    clock = OfflineClock()

    class Broken(RecordingOutput):
        def panic(self, now):
            raise RuntimeError("gone")

    good = RecordingOutput(clock)
    engine = Engine(clock, [Broken(clock), good])
    engine.panic()
    assert good.panics == [0.0]
