"""The Band: the one ``Part`` the engine talks to; it conducts the instrument's parts.

It owns the beat clock and the player's melody line, decodes the controls, switches
modes, and asks the ``Responder`` (continue) and the ``Accompaniment`` (accompany) for
their notes ahead of time. Modes:

- ``thru``: the player alone (their notes always sound, whatever the mode);
- ``continue``: call and response;
- ``accompany``: chords and bass on the beat;
- ``accompany+continue``: both; the accompaniment also harmonizes the responses.

Switching modes ends the notes of a part that stops (through ``cancel``), so nothing is
left sounding. The beat clock runs from the config's tempo, tap tempo, external MIDI
clock or Ableton Link; the Band sends MIDI clock out when it leads.

Everything runs on the engine thread, except ``status``, which the status server's
thread calls: it only reads counters and fixed histograms.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from instrument.config import PresetConfig
from instrument.engine.engine import PlayerState, TimedEvent
from instrument.follow import BeatFollower
from instrument.midi import messages as mm
from instrument.midi.router import InputEvent
from instrument.models.accompaniment import ChordSamplingParams
from instrument.models.sampling import SamplingParams
from instrument.music import GridNote, Meter
from instrument.names import SOUNDING_PARTS, Mode, Part, TempoSource
from instrument.parts.accompaniment import Accompaniment
from instrument.parts.continuation import Responder, note_events
from instrument.parts.controls import Action, Controls
from instrument.parts.melody import LiveNote, MelodyLine
from instrument.timing.beat import BeatClock, MidiClockFollower, TapTempo, midi_clock_times
from instrument.timing.link import LinkSession

log = logging.getLogger(__name__)

CLICK_PITCHES = (96, 84)  # count-in: downbeat, other beats
CLOCK_AHEAD = 0.2  # seconds of MIDI clock out planned ahead (dropped at a stop)
CLOCK_AHEAD_FOLLOWING = 0.04  # ... while the beat follows the player
HOLD_BELOW = 0.3  # follower confidence under which the accompaniment holds its chord...
RESUME_ABOVE = 0.45  # ...and over which it plays on again (hysteresis: no flapping)
#: Following, chords stay in the engine until this long before their beat, so a beat the
#: follower moves moves them too (``Engine.late_leads``).
RETIME_LEAD = 0.03
MELODY_WAITING = 64  # melody notes kept while the follower finds the beat


@dataclass
class BandSettings:
    mode: Mode = Mode.THRU
    tempo_source: TempoSource = TempoSource.INTERNAL
    send_clock: bool = True
    count_in_bars: int = 0
    tap_note: int | None = None  # a key that taps the tempo instead of playing
    temperature: float | None = None  # None: each model's own default
    top_p: float = 0.95
    density: float = 0.5
    presets: dict[int, PresetConfig] = field(default_factory=dict)  # by program number
    new_tune_after: float = 20.0  # seconds with no note from either side: a new tune


class Band:
    """See the module docstring."""

    name = "band"

    def __init__(
        self,
        settings: BandSettings,
        clock: BeatClock,
        responder: Responder,
        accompaniment: Accompaniment,
        controls: Controls,
        cancel: Callable[[str], None],
        set_part_volume: Callable[[str, float], None] | None = None,
        set_thru_muted: Callable[[bool], None] | None = None,
        link: LinkSession | None = None,
        retime: Callable[[str, Callable[[float], float]], int] | None = None,
    ) -> None:
        self.settings = settings
        self.link = link
        self.clock = clock
        self.responder = responder
        self.accompaniment = accompaniment
        self.controls = controls
        self.cancel = cancel
        self.retime = retime
        self.set_part_volume = set_part_volume
        self.set_thru_muted = set_thru_muted
        self.melody = MelodyLine()
        self.taps = TapTempo()
        self.midi_clock_in = MidiClockFollower(clock)
        # Following the player's beat (tempo source "follow"): see instrument.follow.
        self.beat_follower = (
            BeatFollower(clock.meter, clock.bpm)
            if settings.tempo_source == TempoSource.FOLLOW else None
        )
        self._holding = False  # following: the pulse is unsure, the accompaniment holds
        self._proposed_bpm, self._proposed_at = 0.0, float("-inf")  # to Link, following
        self.mode = Mode.THRU
        # When the player last fell silent (no key or pedal holding a note), and the times
        # that silence ends a phrase and sends the accompaniment to rest: stored once, so
        # a wake-up at one of them finds it due (``now >= stored``, never a difference).
        self.quiet_since: float | None = None
        self.phrase_ends_at: float | None = None
        self.rest_at: float | None = None
        self.last_note: float | None = None
        self.sounding_until: float | None = None  # the last note of either side ends
        self._clock_sent_until: float | None = None
        self._pending: list[TimedEvent] = []
        self.mode_changes = 0
        self.set_mode(settings.mode, 0.0)
        self.apply_density(settings.density)
        if settings.temperature is not None:
            self.apply_temperature(settings.temperature)

    @property
    def late_leads(self) -> dict[str, float]:
        """The engine's hand-out leads for parts whose plans may be re-timed."""
        if self.beat_follower is None:
            return {}
        return {self.accompaniment.name: RETIME_LEAD}

    # -- modes and settings ------------------------------------------------------------

    @property
    def continuing(self) -> bool:
        return Mode(self.mode).continues

    @property
    def accompanying(self) -> bool:
        return Mode(self.mode).accompanies

    def set_mode(self, mode: str, now: float) -> None:
        if mode == self.mode:
            return
        was_continuing, was_accompanying = self.continuing, self.accompanying
        self.mode = mode
        self.mode_changes += 1
        if was_continuing and not self.continuing:
            self.responder.stop()
            self.cancel(self.responder.name)
        if was_accompanying and not self.accompanying:
            self._rest_accompaniment()
        if self.accompanying and not was_accompanying and self.clock.running:
            self.accompaniment.begin(self.clock.next_beat(now + 0.05))
        log.info("mode: %s", mode)

    def apply_temperature(self, temperature: float) -> None:
        self.settings.temperature = temperature
        r = self.responder
        r.sampling = SamplingParams(temperature=temperature, top_p=self.settings.top_p)
        a = self.accompaniment
        a.sampling = ChordSamplingParams(
            temperature=temperature, top_p=self.settings.top_p, hold=a.sampling.hold
        )

    def apply_density(self, density: float) -> None:
        """0 sparse .. 1 busy: chords change less or more; responses are shorter or longer."""
        self.settings.density = density
        a = self.accompaniment
        a.sampling = ChordSamplingParams(
            temperature=a.sampling.temperature, top_p=a.sampling.top_p,
            hold=min(0.95, max(0.05, 1.0 - density)),
        )
        self.responder.settings.length_ratio = 0.5 + density

    def apply_preset(self, program: int, now: float) -> None:
        preset = self.settings.presets.get(program)
        if preset is None:
            log.info("program change %d: no preset with that number", program)
            return
        log.info("preset %d %s", program, preset.name)
        if preset.meter is not None:
            self.clock.meter = Meter.parse(preset.meter)
            if self.beat_follower is not None:
                self.beat_follower.configure(meter=self.clock.meter)
        if preset.tempo is not None:
            if self.beat_follower is not None:
                self.beat_follower.configure(bpm=preset.tempo)
                self.beat_follower.seed(preset.tempo, now)
            else:
                self.clock.set_tempo(preset.tempo, now)
        if preset.temperature is not None:
            self.apply_temperature(preset.temperature)
        if preset.density is not None:
            self.apply_density(preset.density)
        if preset.mode is not None:
            self.set_mode(preset.mode, now)

    def _act(self, action: Action, now: float) -> None:
        f, v = action.function, action.value
        if f == "mode":
            self.set_mode(str(v), now)
        elif f == "temperature":
            self.apply_temperature(float(v))
        elif f == "density":
            self.apply_density(float(v))
        elif f == "accompaniment_volume":
            self.accompaniment.volume = float(v)
            if self.set_part_volume is not None:
                self.set_part_volume(Part.ACCOMPANIMENT, float(v))
        elif f == "lookahead":
            self.accompaniment.settings.lookahead = float(v)
            self.responder.settings.lookahead = float(v)
        elif f == "tap_tempo" and v:
            self.tap(now)
        elif f == "start_stop":
            self.start_transport(now) if v else self.stop_transport(now)
        elif f == "learn" and self.set_thru_muted is not None:
            self.set_thru_muted(bool(v))

    # -- tempo and transport -----------------------------------------------------------

    def tap(self, t: float) -> None:
        bpm = self.taps.tap(t)
        if bpm is None:
            return
        if self.link is not None and self.settings.tempo_source == TempoSource.LINK:
            self.link.propose_tempo(bpm)  # every peer follows, us included
            log.info("tap tempo: %.1f bpm proposed to the Link session", bpm)
            return
        if self.beat_follower is not None:
            self.beat_follower.seed(bpm, t, on_beat=True)
            self.beat_follower.drive(self.clock)
        else:
            self.clock.set_tempo(bpm, t)
            if self.clock.running:
                self.clock.align(t, round(self.clock.beat_at(t)))
        log.info("tap tempo: %.1f bpm", bpm)

    def start_transport(self, now: float) -> None:
        """Start the beat (with a count-in if configured) and the accompaniment on beat 0."""
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
        if self.accompanying:
            self.accompaniment.begin(0)

    def stop_transport(self, now: float | None = None) -> None:
        self._rest_accompaniment()
        self.clock.stop()
        self._stop_clock_out(now)

    def _stop_clock_out(self, now: float | None) -> None:
        """Drop MIDI clock planned ahead and send Stop."""
        if self._clock_sent_until is None:
            return
        self.cancel(Part.CLOCK)
        t = now if now is not None else self._clock_sent_until
        self._pending.append(TimedEvent(t, Part.CLOCK, (mm.STOP,)))
        self._clock_sent_until = None

    def _rest_accompaniment(self) -> None:
        self.accompaniment.rest()
        self.cancel(self.accompaniment.name)

    def _ensure_clock(self, t: float) -> None:
        """The player's first note starts a stopped clock: it falls on beat 0."""
        if self.clock.running or self.settings.tempo_source != TempoSource.INTERNAL:
            return
        self.clock.start(t, 0.0)
        self._clock_sent_until = None
        self.responder.reset(0)
        self.accompaniment.reset()

    # -- Part interface ----------------------------------------------------------------

    def on_input(self, event: InputEvent, player: PlayerState) -> None:
        message, t = event.message, event.time
        status = message[0]
        if status >= 0xF8:
            if self.settings.tempo_source == TempoSource.MIDI_CLOCK:
                self.midi_clock_in.on_message(status, t)
            return
        kind = status & 0xF0
        if kind == mm.CONTROL_CHANGE:
            if message[1] == mm.CC_SUSTAIN:
                if not player.held.sounding():
                    self._fall_quiet(t)
                return
            action = self.controls.control_change(message[1], message[2])
            if action is not None:
                self._act(action, t)
            return
        if kind == mm.PROGRAM_CHANGE:
            self.new_tune()
            self.apply_preset(message[1], t)
            return
        if mm.is_note_on(message):
            self._note_on(message[1], message[2], t)
        elif mm.is_note_off(message):
            self._sounds_until(t)
            self.melody.note_off(message[1], t)
            if not player.held.sounding():
                self._fall_quiet(t)
        self._take_melody()

    def _note_on(self, pitch: int, velocity: int, t: float) -> None:
        if self.controls.learn_key(pitch):
            return
        if pitch == self.settings.tap_note:
            self.tap(t)
            return
        if self.sounding_until is not None and \
                t - self.sounding_until >= self.settings.new_tune_after:
            self.new_tune()
        self._sounds_until(t)
        if self.beat_follower is not None:
            self.beat_follower.onset(t, pitch, velocity)
        if self.responder.responding:
            self.responder.stop()
            self.cancel(self.responder.name)
        if self.continuing or self.accompanying:
            self._ensure_clock(t)
        if self.accompanying and not self.accompaniment.playing and self.clock.running:
            self.accompaniment.begin(self.clock.next_beat(t + 0.05))
        self._fall_quiet(None)
        self.last_note = t
        self.accompaniment.dynamics.hear(velocity, t)
        self.melody.note_on(pitch, velocity, t)

    def new_tune(self) -> None:
        """A new tune starts (a program change, or ``new_tune_after`` seconds with no
        note from either side): the parts' tune memories start empty; the Markov model
        keeps what it learned of the player during the gig."""
        self.accompaniment.new_tune()
        self.responder.new_tune()

    def _sounds_until(self, t: float) -> None:
        if self.sounding_until is None or t > self.sounding_until:
            self.sounding_until = t

    def _grid(self, note: LiveNote) -> GridNote:
        onset = self.clock.tick_at(note.onset)
        end = note.end if note.end is not None else note.onset
        duration = max(1, round((end - note.onset) / self.clock.seconds_per_tick))
        return GridNote(note.pitch, onset, duration, note.velocity)

    def _take_melody(self) -> None:
        if not self.clock.running:
            if self.beat_follower is not None:
                self.melody.trim(MELODY_WAITING)  # heard once the follower has the beat
                return
            self.melody.take_onsets()
            self.melody.take_completed()
            return
        for note in self.melody.take_onsets():
            if self.accompanying:
                self.accompaniment.hear_onset(self._grid(note))
        for note in self.melody.take_completed():
            if self.continuing:
                self.responder.hear(self._grid(note), self.clock)

    def _follow_link(self) -> None:
        sample = self.link.latest() if self.link is not None else None
        if sample is None:
            return
        t, beat, bpm = sample
        self.clock.bpm = bpm
        self.clock.align(t, beat)
        self.clock.running = True

    def plan(self, now: float) -> list[TimedEvent]:
        events, self._pending = self._pending, []
        clock = self.clock
        if self.settings.tempo_source == TempoSource.LINK:
            self._follow_link()
        if (self.settings.tempo_source == TempoSource.MIDI_CLOCK and self.midi_clock_in.active
                and self.midi_clock_in.stale(now)):
            self.midi_clock_in.active = False
        if self.beat_follower is not None:
            self._follow(now)
        if self.continuing and self._phrase_over(now):
            self.responder.start(now, clock)
        if self.continuing:
            for note in self.responder.plan(now, clock):
                events += note_events(note, clock, self.responder.name)
                if self.accompanying:
                    self.accompaniment.hear_onset(note)
        if self.accompanying:
            if self.accompaniment.playing and self._player_gone(now):
                self._rest_accompaniment()
                if self.settings.tempo_source in (TempoSource.INTERNAL, TempoSource.FOLLOW):
                    clock.stop()
                    self._stop_clock_out(now)
            if not self._holding:
                events += self.accompaniment.plan(now, clock)
        for event in events:
            if event.part in SOUNDING_PARTS:
                self._sounds_until(event.due)
        events += self._clock_out(now)
        return events

    def _follow(self, now: float) -> None:
        """Bring the beat clock to the follower's beat (tempo source "follow").

        Planned chords the beat moved under are re-timed (still in the engine: they leave
        for the outputs only shortly before they are due); after a renumbering the
        accompaniment goes on after the beat it decided last. While the follower is
        unsure (under ``HOLD_BELOW``, until it is over ``RESUME_ABOVE`` again) the
        accompaniment holds its chord; with no pulse left at all (a long silence) the beat
        stops, until the player plays again.
        """
        follower, clock = self.beat_follower, self.clock
        assert follower is not None
        follower.advance(now)
        if not follower.has_beat:
            return
        if follower.confidence <= 0.0:
            if clock.running:
                clock.stop()
                self._stop_clock_out(now)
            return
        was_running = clock.running
        before = clock.mapping()
        renumbered = follower.drive(clock)
        accompaniment = self.accompaniment
        lead = accompaniment.planning_lead(clock)
        if not was_running:
            self._clock_sent_until = None
        elif clock.mapping() != before:

            def move(due: float) -> float:
                return clock.time_at(round(clock.beat_at(due)))

            if self.retime is not None:
                self.retime(accompaniment.name, move)
            accompaniment.retimed(move)
        if renumbered:
            accompaniment.after_renumbering(clock, clock.next_beat(now + lead))
        self._propose_to_link(now)
        unsure = follower.confidence < (RESUME_ABOVE if self._holding else HOLD_BELOW)
        if self._holding and not unsure:
            accompaniment.skip_to(clock.next_beat(now + lead))
        self._holding = unsure
        if (self.accompanying and not accompaniment.playing and not unsure
                and self.last_note is not None and self.rest_at is None):
            accompaniment.begin(clock.next_beat(now + lead))
        self._take_melody()

    def _propose_to_link(self, now: float) -> None:
        """Following with a Link session: the peers hear the player's tempo as it
        changes (by half a bpm or more, at most twice a second)."""
        if self.link is None or self.beat_follower is None:
            return
        bpm = self.clock.bpm
        if abs(bpm - self._proposed_bpm) >= 0.5 and now - self._proposed_at >= 0.5:
            self.link.propose_tempo(bpm)
            self._proposed_bpm, self._proposed_at = bpm, now

    def _fall_quiet(self, t: float | None) -> None:
        """The player fell silent at ``t`` (None: they play again)."""
        self.quiet_since = t
        if t is None:
            self.phrase_ends_at = self.rest_at = None
            return
        silence = self.responder.settings.silence or self.clock.seconds_per_beat
        bars = self.accompaniment.settings.stop_after_bars
        self.phrase_ends_at = t + silence
        self.rest_at = t + bars * self.clock.meter.beats_per_bar * self.clock.seconds_per_beat

    def _phrase_over(self, now: float) -> bool:
        if self.phrase_ends_at is None or not self.responder.call or self.responder.responding:
            return False
        return now >= self.phrase_ends_at

    def _player_gone(self, now: float) -> bool:
        if self.responder.responding or self.last_note is None:
            return False
        return self.rest_at is not None and now >= self.rest_at

    def _clock_out(self, now: float) -> list[TimedEvent]:
        clock = self.clock
        if not (self.settings.send_clock and clock.running
                and self.settings.tempo_source in (TempoSource.INTERNAL, TempoSource.FOLLOW)):
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
        return CLOCK_AHEAD_FOLLOWING if self.beat_follower is not None else CLOCK_AHEAD

    def next_wakeup(self) -> float | None:
        clock = self.clock
        times = [
            self.responder.next_wakeup(clock) if self.continuing else None,
            self.accompaniment.next_wakeup(clock)
            if self.accompanying and not self._holding else None,
        ]
        if self.continuing and self.phrase_ends_at is not None and self.responder.call:
            times.append(self.phrase_ends_at)
        if self._clock_sent_until is not None and clock.running:
            times.append(self._clock_sent_until - self._clock_ahead() / 2)
        if self.beat_follower is not None:
            times.append(self.beat_follower.chord_due)
        if self._pending:
            times.append(min(e.due for e in self._pending))
        found = [t for t in times if t is not None]
        return min(found) if found else None

    def reset(self) -> None:
        """After a panic: forget plans and the melody; the beat stops until played again."""
        self.responder.reset()
        self.accompaniment.reset()
        self.melody.reset()
        self._fall_quiet(None)
        self._pending = []
        self._holding = False  # the follower keeps the player's beat: a panic is not a pause
        if self.settings.tempo_source in (TempoSource.INTERNAL, TempoSource.FOLLOW):
            self.clock.stop()

    def status(self) -> dict:
        r, a = self.responder, self.accompaniment
        return {
            "mode": self.mode,
            "tempo_bpm": round(self.clock.bpm, 2),
            "meter": str(self.clock.meter),
            "beat_running": self.clock.running,
            "responses": r.responses,
            "response_notes": {"neural": r.neural_notes, "fallback": r.fallback_notes},
            "accompaniment_beats": {"neural": a.neural_beats, "fallback": a.fallback_beats},
            "continuation_steps": r.runner.stats.summary(),
            "accompaniment_steps": a.runner.stats.summary(),
            "tempo_source": str(self.settings.tempo_source),
            "follow": self.beat_follower.status() if self.beat_follower is not None else None,
        }

