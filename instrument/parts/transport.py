"""The transport: it keeps the Band's time.

It owns the beat clock and moves it from the tempo source the config chose
(``TempoSource``): the config's or a preset's tempo (internal), tap tempo, the player's
own beat (follow: ``instrument.follow``, proposed to a Link session when there is one),
external MIDI clock, or Ableton Link. It starts and stops the beat (with a count-in of
clicks when configured) and sends MIDI clock out while the instrument leads the beat.

The Band conducts the parts and asks the transport where the beat is; what the transport
plays itself (count-in clicks, MIDI clock, Stop) goes out with the Band's plan.

Everything runs on the engine thread; other threads only read the clock through
``BeatClock.mapping()`` and the settings and counters the Band's ``status`` reports.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

from instrument.engine.engine import TimedEvent
from instrument.follow import BeatFollower
from instrument.midi import messages as mm
from instrument.music import Meter
from instrument.names import Part, TempoSource
from instrument.timing.beat import BeatClock, BeatMapping, beat_at, time_at
from instrument.timing.link import LinkSession
from instrument.timing.midi_clock import MidiClockFollower, clocks_per_beat
from instrument.timing.tap import TapTempo

log = logging.getLogger(__name__)

CLICK_PITCHES = (96, 84)  # count-in: downbeat, other beats
CLOCK_AHEAD = 0.2  # seconds of MIDI clock out planned ahead (dropped at a stop)
CLOCK_AHEAD_FOLLOWING = 0.04  # ... while the beat follows the player
CLOCK_LEAD = 0.002  # Start or Continue goes this long before the clock it announces
CLOCK_LATE = 0.01  # a clock this late still starts the receiver (the first note's beat)
CLOCK_SLIP = 2  # clocks the beat may move under the receiver before it is relocated
CLOCK_START_SURE = 0.9  # following: Start waits until the follower is this sure of its bar
CLOCK_START_BARS = 4  # ... or until the beat has run this many bars
CLOCKS_PER_SIXTEENTH = 6  # a Song Position Pointer counts sixteenths ("MIDI beats")
SONG_POSITIONS = 1 << 14  # a Song Position Pointer holds 14 bits


@dataclass
class TransportSettings:
    tempo_source: TempoSource = TempoSource.INTERNAL
    send_clock: bool = True  # MIDI clock out while the instrument leads the beat
    count_in_bars: int = 0
    hear_meter: bool = False  # following the player: the meter is heard, not configured


@dataclass(frozen=True)
class FollowedBeat:
    """What following the player did to the beat at one ``Transport.advance``."""

    #: Where a time planned on the clock goes now (the same place in its beat, on that
    #: beat's new time); None: the beat did not move under what was planned.
    move: Callable[[float], float] | None
    renumbered: bool  # the follower changed its mind about which beat is which
    confidence: float  # the follower's, 0..1


class Transport:
    """See the module docstring. ``cancel(part)`` drops the events of ``part`` still in
    the engine (MIDI clock planned ahead, at a stop)."""

    def __init__(
        self,
        settings: TransportSettings,
        clock: BeatClock,
        cancel: Callable[[str], None],
        link: LinkSession | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.cancel = cancel
        self.link = link
        self.taps = TapTempo()
        self.midi_clock_in = MidiClockFollower(clock)
        self.follower = (
            BeatFollower(None if settings.hear_meter else clock.meter, clock.bpm)
            if settings.tempo_source == TempoSource.FOLLOW else None
        )
        clock.follows_player = self.follower is not None
        self._proposed_bpm, self._proposed_at = 0.0, float("-inf")  # to Link, following
        # MIDI clock out: the next clock (clocks_per_beat a beat, 24 a quarter) the
        # receiver counts (None: it stands still), the clock at its song position 0
        # (None: never started), when the clock out is planned until, and the last
        # clock's time.
        self._clock_next: int | None = None
        self._clock_origin: int | None = None
        self._clock_sent_until: float | None = None
        self._clock_last = float("-inf")
        self._clocks_per_beat = clocks_per_beat(clock.meter)
        self._clock_wake = float("-inf")  # when clock_out has more to plan
        self._clock_waiting_since: float | None = None  # Start held for the bar since
        self._pending: list[TimedEvent] = []

    @property
    def following(self) -> bool:
        """The beat follows the player (tempo source "follow")."""
        return self.follower is not None

    @property
    def leads(self) -> bool:
        """The instrument keeps the beat itself (internal tempo or following the player),
        rather than an external MIDI clock, a Link session or a file's tempo."""
        return self.settings.tempo_source in (TempoSource.INTERNAL, TempoSource.FOLLOW)

    # -- what moves the beat -----------------------------------------------------------

    def on_clock_message(self, status: int, t: float) -> None:
        """A MIDI real-time message from the input (clock, start, continue, stop):
        followed when external MIDI clock is the tempo source."""
        if self.settings.tempo_source == TempoSource.MIDI_CLOCK:
            self.midi_clock_in.on_message(status, t)

    def hear_onset(self, t: float, pitch: int, velocity: int) -> None:
        """The player struck a note: the follower, if any, hears it."""
        if self.follower is not None:
            self.follower.onset(t, pitch, velocity)

    def tap(self, t: float) -> None:
        bpm = self.taps.tap(t)
        if bpm is None:
            return
        if self.link is not None and self.settings.tempo_source == TempoSource.LINK:
            self.link.propose_tempo(bpm)  # every peer follows, us included
            log.info("tap tempo: %.1f bpm proposed to the Link session", bpm)
            return
        if self.follower is not None:
            self.follower.seed(bpm, t, on_beat=True)
            self.follower.drive(self.clock)
        else:
            self.clock.set_tempo(bpm, t)
            if self.clock.running:
                self.clock.align(t, round(self.clock.beat_at(t)))
        log.info("tap tempo: %.1f bpm", bpm)

    def set_meter(self, meter: Meter) -> None:
        self.clock.meter = meter
        if self.follower is not None:
            self.follower.configure(meter=meter)

    def set_tempo(self, bpm: float, now: float) -> None:
        """A preset's tempo: the follower starts from it, or else the clock takes it."""
        if self.follower is not None:
            self.follower.configure(bpm=bpm)
            self.follower.seed(bpm, now)
        else:
            self.clock.set_tempo(bpm, now)

    def advance(self, now: float) -> FollowedBeat | None:
        """Bring the beat up to ``now`` from its tempo source: Link's latest sample,
        external MIDI clock going quiet, the follower's beat. Following the player, says
        what that did to the beat (None while the follower has no beat, or lost it)."""
        if self.settings.tempo_source == TempoSource.LINK:
            self._follow_link()
        if (self.settings.tempo_source == TempoSource.MIDI_CLOCK and self.midi_clock_in.active
                and self.midi_clock_in.stale(now)):
            self.midi_clock_in.active = False
        if self.follower is not None:
            return self._follow(now)
        return None

    def _follow_link(self) -> None:
        sample = self.link.latest() if self.link is not None else None
        if sample is None:
            return
        t, beat, bpm = sample
        self.clock.bpm = bpm
        self.clock.align(t, beat)
        self.clock.running = True

    def _follow(self, now: float) -> FollowedBeat | None:
        """Bring the beat clock to the follower's beat (tempo source "follow"). With no
        pulse left at all (a long silence) the beat stops, until the player plays again."""
        follower, clock = self.follower, self.clock
        assert follower is not None
        follower.advance(now)
        if not follower.has_beat:
            return None
        if follower.confidence <= 0.0:
            if clock.running:
                self.stop(now)
            return None
        was_running = clock.running
        before, meter = clock.mapping(), clock.meter
        renumbered = follower.drive(clock)
        if clock.meter != meter:
            log.info("the meter heard: %s", clock.meter)
        if not was_running:
            self._clock_sent_until = None  # the receiver joins again (Stop was sent)
        moved = was_running and clock.mapping() != before
        self._propose_to_link(now)
        move = None
        if moved:
            def move(due: float) -> float:
                return self._same_place_now(before, due)
        return FollowedBeat(move, renumbered, follower.confidence)

    def _same_place_now(self, before: BeatMapping, due: float) -> float:
        """Where ``due`` (planned on the clock as it was, ``before``) falls now: the same
        fraction of a beat after the beat nearest it, that beat taken as the clock's
        beat nearest its old time (so a renumbering moves nothing a whole beat)."""
        old = beat_at(before, due)
        whole = round(old)
        beat = round(self.clock.beat_at(time_at(before, whole)))
        return self.clock.time_at(beat + (old - whole))

    def _propose_to_link(self, now: float) -> None:
        """Following with a Link session: the peers hear the player's tempo as it
        changes (by half a bpm or more, at most twice a second)."""
        if self.link is None or self.follower is None:
            return
        bpm = self.clock.bpm
        if abs(bpm - self._proposed_bpm) >= 0.5 and now - self._proposed_at >= 0.5:
            self.link.propose_tempo(bpm)
            self._proposed_bpm, self._proposed_at = bpm, now

    # -- start and stop ----------------------------------------------------------------

    def start(self, now: float) -> None:
        """Start the beat shortly after ``now``, after a count-in of clicks on the
        accompaniment's channel if configured: beat 0 falls after the count-in."""
        bars = self.settings.count_in_bars
        beats = bars * self.clock.meter.beats_per_bar
        start = now + 0.1
        self.clock.start(start, -float(beats))
        self._new_song()
        for b in range(-beats, 0):
            t = self.clock.time_at(b)
            pitch = CLICK_PITCHES[0] if (b + beats) % self.clock.meter.beats_per_bar == 0 \
                else CLICK_PITCHES[1]
            self._pending += [
                TimedEvent(t, Part.ACCOMPANIMENT, (mm.NOTE_ON, pitch, 90)),
                TimedEvent(t + 0.05, Part.ACCOMPANIMENT, (mm.NOTE_OFF, pitch, 0)),
            ]

    def start_on_first_note(self, t: float) -> bool:
        """The player's first note starts a stopped clock (internal tempo): it falls on
        beat 0. True if it started the clock."""
        if self.clock.running or self.settings.tempo_source != TempoSource.INTERNAL:
            return False
        self.clock.start(t, 0.0)
        self._new_song()
        return True

    def stop(self, now: float) -> None:
        """Stop the beat: MIDI clock planned ahead is dropped and Stop sent at ``now``."""
        self.clock.stop()
        self._clock_sent_until = None
        if self._clock_next is None:
            return
        self.cancel(Part.CLOCK)
        self._pending.append(TimedEvent(now, Part.CLOCK, (mm.STOP,)))
        self._clock_next = None

    def _new_song(self) -> None:
        """The beat starts afresh: MIDI clock out starts with Start on a downbeat."""
        self._clock_sent_until = None
        if self._clock_next is None:
            self._clock_origin = None

    def reset(self) -> None:
        """After a panic: what the transport planned is dropped; a beat the instrument
        leads stops until played again."""
        self._pending = []
        if self.leads:
            self.clock.stop()

    # -- what the transport plays ------------------------------------------------------

    def take_planned(self) -> list[TimedEvent]:
        """The count-in clicks and MIDI Stop planned since the last call."""
        events, self._pending = self._pending, []
        return events

    def clock_out(self, now: float) -> list[TimedEvent]:
        """MIDI clock out up to a little ahead of ``now``, while the beat runs and the
        instrument leads it, in phase with the bar.

        After Start a receiver counts the next clock as song position 0 (MIDI 1.0), so
        Start goes out just before the clock of a downbeat (``CLOCK_LEAD``): the
        receiver's bar 1 is a bar of the instrument; following the player, the first
        downbeat once the follower is sure of its bar (``_sure_of_the_bar``). When the
        beat moves under the receiver by more than ``CLOCK_SLIP`` clocks (the follower
        renumbered its beats: the bar moved; or its phase jumped), the clock does not
        catch up in a burst: Stop, then Song Position Pointer (in sixteenths, 6 clocks,
        from the Start) and Continue just before the clock of the next sixteenth, where
        the receiver goes on counting from that position. The same joins a receiver
        again after the beat stopped and started mid-tune. Between, each clock goes at
        its beat's time, and never sooner than half a clock after the one before.
        """
        clock = self.clock
        if not (self.settings.send_clock and clock.running and self.leads):
            self._clock_waiting_since = None  # a beat that starts again waits afresh
            return []
        events: list[TimedEvent] = []
        end = now + self._clock_ahead()
        sent = self._clock_sent_until
        per_beat = clocks_per_beat(clock.meter)
        if per_beat != self._clocks_per_beat:
            # A meter heard anew with another beat (a simple meter found compound): the
            # clock numbers mean other times; the receiver stops and starts again on a
            # downbeat.
            if self._clock_next is not None:
                events.append(TimedEvent(max(now, sent or now), Part.CLOCK, (mm.STOP,)))
            self._clock_next, self._clock_origin = None, None
            self._clocks_per_beat = per_beat
        if self._clock_next is not None and sent is not None:
            at = math.ceil(clock.beat_at(sent) * per_beat - 1e-6)
            if abs(at - self._clock_next) > CLOCK_SLIP:
                events.append(TimedEvent(max(now, sent), Part.CLOCK, (mm.STOP,)))
                self._clock_next = None
        if self._clock_next is None:
            begin = now if sent is None else max(now, sent)
            joined = self._join(begin, end)
            events += joined
            if not joined:
                self._clock_sent_until = begin
                return events
        n = self._clock_next
        assert n is not None
        shortest = 0.5 * clock.seconds_per_beat / per_beat
        while True:
            t = max(clock.time_at(n / per_beat), self._clock_last + shortest)
            if t >= end:
                break
            events.append(TimedEvent(t, Part.CLOCK, (mm.CLOCK,)))
            self._clock_last = t
            n += 1
        self._clock_next = n
        self._clock_sent_until = end
        self._clock_wake = end - self._clock_ahead() / 2
        return events

    def _join(self, begin: float, end: float) -> list[TimedEvent]:
        """Start (the receiver's song position 0 on the next downbeat) or, once started,
        Song Position Pointer and Continue (on the next sixteenth), if it falls before
        ``end``; sets the next clock to send."""
        clock = self.clock
        per_beat = clocks_per_beat(clock.meter)
        per_bar = per_beat * clock.meter.beats_per_bar
        first = clock.beat_at(begin - CLOCK_LATE) * per_beat
        origin = self._clock_origin
        step = per_bar if origin is None else CLOCKS_PER_SIXTEENTH
        n = math.ceil(first / step - 1e-9) * step
        if origin is not None and n < origin:
            origin = None  # numbered before the Start: start afresh on a downbeat
            step = per_bar
            n = math.ceil(first / step - 1e-9) * step
        if origin is None and self._clock_waiting_since is None:
            self._clock_waiting_since = begin  # Start held for the bar from here
        due = clock.time_at(n / per_beat) - CLOCK_LEAD
        if due > end:
            self._clock_wake = due - self._clock_ahead()
            return []
        if origin is None and not self._sure_of_the_bar(begin):
            # Start goes only on a downbeat: ask again at the next one's.
            after = clock.time_at((n + per_bar) / per_beat) - CLOCK_LEAD
            self._clock_wake = after - self._clock_ahead()
            return []
        self._clock_next = n
        if origin is None:
            self._clock_origin = n
            self._clock_waiting_since = None
            return [TimedEvent(due, Part.CLOCK, (mm.START,))]
        sixteenths = (n - origin) // CLOCKS_PER_SIXTEENTH
        whole_bars = per_bar // CLOCKS_PER_SIXTEENTH
        sixteenths %= SONG_POSITIONS - SONG_POSITIONS % whole_bars
        return [TimedEvent(due - 0.0005, Part.CLOCK,
                           (mm.SONG_POSITION, sixteenths & 0x7F, sixteenths >> 7)),
                TimedEvent(due, Part.CLOCK, (mm.CONTINUE,))]

    def _sure_of_the_bar(self, t: float) -> bool:
        """Whether MIDI clock out may Start on the downbeat due now: at once on the
        instrument's own beat; following the player, once the follower is
        ``CLOCK_START_SURE`` sure of its downbeats (and of its meter, where it hears
        it), or ``CLOCK_START_BARS`` bars after the beat was found, whichever is first.
        A drum machine counts its bars from Start, so it comes in late rather than on
        the wrong beat of the bar."""
        follower = self.follower
        if follower is None or self._clock_waiting_since is None:
            return True
        sure = min(follower.bar_confidence, follower.meter_confidence)
        waited = (t - self._clock_waiting_since) / self.clock.seconds_per_beat
        return (sure >= CLOCK_START_SURE
                or waited >= CLOCK_START_BARS * self.clock.meter.beats_per_bar)

    def _clock_ahead(self) -> float:
        """How far ahead MIDI clock out is planned: less when the beat is followed, so
        a change of tempo reaches the drum machine within that."""
        return CLOCK_AHEAD_FOLLOWING if self.follower is not None else CLOCK_AHEAD

    def next_wakeup(self) -> float | None:
        """When the transport next has something to do: more MIDI clock to plan, the
        follower's next decision, a click or Stop to hand over."""
        times = []
        if (self._clock_sent_until is not None and self.clock.running
                and self.settings.send_clock and self.leads):
            times.append(self._clock_wake)
        if self.follower is not None:
            times.append(self.follower.chord_due)
        if self._pending:
            times.append(min(e.due for e in self._pending))
        found = [t for t in times if t is not None]
        return min(found) if found else None
