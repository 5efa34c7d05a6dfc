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
from collections.abc import Callable
from dataclasses import dataclass

from instrument.engine.engine import TimedEvent
from instrument.follow import BeatFollower
from instrument.midi import messages as mm
from instrument.music import Meter
from instrument.names import Part, TempoSource
from instrument.timing.beat import BeatClock
from instrument.timing.link import LinkSession
from instrument.timing.midi_clock import MidiClockFollower, midi_clock_times
from instrument.timing.tap import TapTempo

log = logging.getLogger(__name__)

CLICK_PITCHES = (96, 84)  # count-in: downbeat, other beats
CLOCK_AHEAD = 0.2  # seconds of MIDI clock out planned ahead (dropped at a stop)
CLOCK_AHEAD_FOLLOWING = 0.04  # ... while the beat follows the player


@dataclass
class TransportSettings:
    tempo_source: TempoSource = TempoSource.INTERNAL
    send_clock: bool = True  # MIDI clock out while the instrument leads the beat
    count_in_bars: int = 0


@dataclass(frozen=True)
class FollowedBeat:
    """What following the player did to the beat at one ``Transport.advance``."""

    #: Where a time planned on a beat goes now (that beat's new time); None: the beat
    #: did not move under what was planned.
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
            BeatFollower(clock.meter, clock.bpm)
            if settings.tempo_source == TempoSource.FOLLOW else None
        )
        clock.follows_player = self.follower is not None
        self._proposed_bpm, self._proposed_at = 0.0, float("-inf")  # to Link, following
        self._clock_sent_until: float | None = None
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
        before = clock.mapping()
        renumbered = follower.drive(clock)
        if not was_running:
            self._clock_sent_until = None
        moved = was_running and clock.mapping() != before
        self._propose_to_link(now)
        return FollowedBeat(self._same_beat_now if moved else None, renumbered,
                            follower.confidence)

    def _same_beat_now(self, due: float) -> float:
        """The time of the beat nearest ``due``, on the clock as it is now."""
        return self.clock.time_at(round(self.clock.beat_at(due)))

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
        self._clock_sent_until = None
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
        self._clock_sent_until = None
        return True

    def stop(self, now: float) -> None:
        """Stop the beat: MIDI clock planned ahead is dropped and Stop sent at ``now``."""
        self.clock.stop()
        if self._clock_sent_until is None:
            return
        self.cancel(Part.CLOCK)
        self._pending.append(TimedEvent(now, Part.CLOCK, (mm.STOP,)))
        self._clock_sent_until = None

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
        """MIDI clock out (Start first) up to a little ahead of ``now``, while the beat
        runs and the instrument leads it."""
        clock = self.clock
        if not (self.settings.send_clock and clock.running and self.leads):
            return []
        start = self._clock_sent_until
        events = []
        if start is None:
            start = max(now, clock.time_at(clock.beat_at(now)))
            events.append(TimedEvent(start, Part.CLOCK, (mm.START,)))
        end = now + self._clock_ahead()
        ticks = midi_clock_times(clock, start, end)
        events += [TimedEvent(t, Part.CLOCK, (mm.CLOCK,)) for t, _ in ticks]
        self._clock_sent_until = end
        return events

    def _clock_ahead(self) -> float:
        """How far ahead MIDI clock out is planned: less when the beat is followed, so
        a change of tempo reaches the drum machine within that."""
        return CLOCK_AHEAD_FOLLOWING if self.follower is not None else CLOCK_AHEAD

    def next_wakeup(self) -> float | None:
        """When the transport next has something to do: more MIDI clock to plan, the
        follower's next decision, a click or Stop to hand over."""
        times = []
        if self._clock_sent_until is not None and self.clock.running:
            times.append(self._clock_sent_until - self._clock_ahead() / 2)
        if self.follower is not None:
            times.append(self.follower.chord_due)
        if self._pending:
            times.append(min(e.due for e in self._pending))
        found = [t for t in times if t is not None]
        return min(found) if found else None
