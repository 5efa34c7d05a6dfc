"""The Band: the one ``Part`` the engine talks to; it conducts the instrument's parts.

It owns the player's melody line, decodes the controls, switches modes, and asks the
``Responder`` (continue) and the ``Accompaniment`` (accompany) for their notes ahead of
time, on the beat its ``Transport`` (``instrument.parts.transport``) keeps. Modes:

- ``thru``: the player alone (their notes always sound, whatever the mode);
- ``continue``: call and response;
- ``accompany``: the band (comping, bass and drums in a style) on the beat;
- ``accompany+continue``: both; the accompaniment also harmonizes the responses.

Switching modes ends the notes of a part that stops (through ``cancel``), so nothing is
left sounding. While the beat follows the player, the Band re-times the band's notes the
beat moved under, and while the follower is unsure it has the band hold its chord (a
pad: the drums stop) and come back in on a downbeat.

The ending: when the player holds a note ``ENDING_AFTER_BEATS`` beats with no other
note, the band plays its ending (struck on the next beat, then held); when the player
then lets go and plays nothing for ``ENDING_GRACE`` (a legato next note comes sooner),
the band lets go with them. A new note instead goes on with the tune.

Everything runs on the engine thread, except ``status``, which the status server's
thread calls: it only reads counters and fixed histograms.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from instrument.config import PresetConfig
from instrument.engine.engine import PlayerState, TimedEvent
from instrument.midi import messages as mm
from instrument.models.accompaniment import ChordSamplingParams, density_hold
from instrument.models.sampling import SamplingParams
from instrument.music import GridNote, Meter
from instrument.names import BAND_PARTS, SOUNDING_PARTS, Mode, Part
from instrument.parts.accompaniment import Accompaniment
from instrument.parts.continuation import Responder, note_events
from instrument.parts.controls import Action, Controls
from instrument.parts.melody import LiveNote, MelodyLine
from instrument.parts.transport import FollowedBeat, Transport
from instrument.realtime.router import InputEvent
from instrument.styles.library import AUTO
from instrument.timing.beat import BeatClock

log = logging.getLogger(__name__)

HOLD_BELOW = 0.3  # follower confidence under which the accompaniment holds its chord...
RESUME_ABOVE = 0.45  # ...and over which it plays on again (hysteresis: no flapping)
#: Following, chords stay in the engine until this long before their beat, so a beat the
#: follower moves moves them too (``Engine.late_leads``).
RETIME_LEAD = 0.03
MELODY_WAITING = 64  # melody notes kept while the follower finds the beat
ENDING_AFTER_BEATS = 2.0  # a note held this long with nothing after it: the ending
ENDING_GRACE = 0.12  # seconds after the last note's release (at most a quarter beat)


#: Volume controls and the part each sets.
_VOLUME_OF = {"accompaniment_volume": Part.ACCOMPANIMENT, "bass_volume": Part.BASS,
              "drums_volume": Part.DRUMS}


@dataclass
class BandSettings:
    mode: Mode = Mode.THRU
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
        transport: Transport,
        responder: Responder,
        accompaniment: Accompaniment,
        controls: Controls,
        cancel: Callable[[str], None],
        set_part_volume: Callable[[str, float], None] | None = None,
        set_thru_muted: Callable[[bool], None] | None = None,
        retime: Callable[[str, Callable[[float], float]], int] | None = None,
    ) -> None:
        self.settings = settings
        self.transport = transport
        self.responder = responder
        self.accompaniment = accompaniment
        self.controls = controls
        self.cancel = cancel
        self.retime = retime
        self.set_part_volume = set_part_volume
        self.set_thru_muted = set_thru_muted
        self.melody = MelodyLine()
        self._holding = False  # following: the pulse is unsure, the accompaniment holds
        self.mode = Mode.THRU
        # When the player last fell silent (no key or pedal holding a note), and the times
        # that silence ends a phrase and sends the accompaniment to rest: stored once, so
        # a wake-up at one of them finds it due (``now >= stored``, never a difference).
        self.quiet_since: float | None = None
        self.phrase_ends_at: float | None = None
        self.rest_at: float | None = None
        self.last_note: float | None = None
        self.let_go_at: float | None = None  # the ending: when the band lets go
        self.sounding_until: float | None = None  # the last note of either side ends
        self.mode_changes = 0
        self.set_mode(settings.mode, 0.0)
        self.apply_density(settings.density)
        if settings.temperature is not None:
            self.apply_temperature(settings.temperature)

    @property
    def clock(self) -> BeatClock:
        """The transport's beat clock, which the parts plan on."""
        return self.transport.clock

    @property
    def late_leads(self) -> dict[str, float]:
        """The engine's hand-out leads for parts whose plans may be re-timed."""
        if not self.transport.following:
            return {}
        return dict.fromkeys(BAND_PARTS, RETIME_LEAD)

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
            self.accompaniment.begin(self.clock.next_beat(now + 0.05), self.clock.meter)
        log.info("mode: %s", mode)

    def apply_temperature(self, temperature: float) -> None:
        self.settings.temperature = temperature
        r = self.responder
        r.sampling = SamplingParams(temperature=temperature, top_p=self.settings.top_p)
        a = self.accompaniment
        a.sampling = ChordSamplingParams(
            temperature=temperature, top_p=self.settings.top_p, hold=a.sampling.hold
        )

    def apply_style(self, name: str) -> None:
        """Play style ``name`` (or ``"auto"``); an unknown name is logged and ignored."""
        try:
            self.accompaniment.choose_style(name)
        except KeyError as exc:
            log.error("%s", exc.args[0])
            return
        log.info("style: %s", name)

    def apply_energy(self, energy: float | None) -> None:
        """Fix the band's energy (0..1), or follow the player's again (None)."""
        self.accompaniment.energy_override = energy

    def apply_density(self, density: float, override_energy: bool = False) -> None:
        """0 sparse .. 1 busy: chords change less or more (the hold around the model's
        own, :func:`~instrument.models.accompaniment.density_hold`: 0.5 plays its
        manifest's hold); responses are shorter or longer; moved live
        (``override_energy``), it also sets the band's energy until the next tune."""
        self.settings.density = density
        if override_energy:
            self.apply_energy(density)
        a = self.accompaniment
        a.sampling = ChordSamplingParams(
            temperature=a.sampling.temperature, top_p=a.sampling.top_p,
            hold=density_hold(density, a.neutral_hold),
        )
        self.responder.settings.length_ratio = 0.5 + density

    def apply_preset(self, program: int, now: float) -> None:
        preset = self.settings.presets.get(program)
        if preset is None:
            log.info("program change %d: no preset with that number", program)
            return
        log.info("preset %d %s", program, preset.name)
        if preset.meter is not None:
            self.transport.set_meter(Meter.parse(preset.meter))
        if preset.tempo is not None:
            self.transport.set_tempo(preset.tempo, now)
        if preset.temperature is not None:
            self.apply_temperature(preset.temperature)
        if preset.density is not None:
            self.apply_density(preset.density)
        if preset.style is not None:
            self.apply_style(preset.style)
        if preset.mode is not None:
            self.set_mode(preset.mode, now)

    def _act(self, action: Action, now: float) -> None:
        f, v = action.function, action.value
        if f == "mode":
            self.set_mode(str(v), now)
        elif f == "temperature":
            self.apply_temperature(float(v))
        elif f == "density":
            self.apply_density(float(v), override_energy=True)
        elif f == "style":
            names = [AUTO, *self.accompaniment.styles.names]
            self.apply_style(names[min(len(names) - 1, int(float(v) * len(names)))])
        elif f == "drums":
            self.accompaniment.player.settings.drums = bool(v)
            if not v:
                self.cancel(Part.DRUMS)
        elif f in _VOLUME_OF:
            part = _VOLUME_OF[f]
            self.accompaniment.player.settings.volumes[part] = float(v)
            if self.set_part_volume is not None:
                self.set_part_volume(part, float(v))
        elif f == "lookahead":
            self.accompaniment.settings.lookahead = float(v)
            self.responder.settings.lookahead = float(v)
        elif f == "tap_tempo" and v:
            self.transport.tap(now)
        elif f == "start_stop":
            if v:
                self.transport.start(now)
                if self.accompanying:
                    self.accompaniment.begin(0, self.clock.meter)
            else:
                self._rest_accompaniment()
                self.transport.stop(now)
        elif f == "learn" and self.set_thru_muted is not None:
            self.set_thru_muted(bool(v))

    def _rest_accompaniment(self) -> None:
        self.accompaniment.rest()
        for part in BAND_PARTS:
            self.cancel(part)

    # -- Part interface ----------------------------------------------------------------

    def on_input(self, event: InputEvent, player: PlayerState) -> None:
        message, t = event.message, event.time
        status = message[0]
        if status >= 0xF8:
            self.transport.on_clock_message(status, t)
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
            self.transport.tap(t)
            return
        if self.sounding_until is not None and \
                t - self.sounding_until >= self.settings.new_tune_after:
            self.new_tune()
        self._sounds_until(t)
        self.transport.hear_onset(t, pitch, velocity)
        if self.responder.responding:
            self.responder.stop()
            self.cancel(self.responder.name)
        if (self.continuing or self.accompanying) and self.transport.start_on_first_note(t):
            self.responder.reset(0)
            self.accompaniment.reset()
        if self.accompanying and not self.accompaniment.playing and self.clock.running:
            self.accompaniment.begin(self.clock.next_beat(t + 0.05), self.clock.meter)
        self._fall_quiet(None)
        self.last_note = t
        self.accompaniment.hear_player(velocity, t)
        self.accompaniment.resume()
        self.melody.note_on(pitch, velocity, t)

    def new_tune(self) -> None:
        """A new tune starts (a program change, or ``new_tune_after`` seconds with no
        note from either side): the parts' tune memories start empty, and the band's
        energy follows the player again; the Markov model keeps what it learned of the
        player during the gig."""
        self.accompaniment.new_tune()
        self.responder.new_tune()
        self.apply_energy(None)

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
            if self.transport.following:
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

    def plan(self, now: float) -> list[TimedEvent]:
        events = self.transport.take_planned()
        clock = self.clock
        followed = self.transport.advance(now)
        if followed is not None:
            self._follow(followed, now)
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
                if self.transport.leads:
                    self.transport.stop(now)
            if self.accompaniment.playing and self._ending_note(now):
                self.accompaniment.end()
            if self.let_go_at is not None and now >= self.let_go_at:
                self.let_go_at = None
                if self.accompaniment.playing and self.accompaniment.ending:
                    self._rest_accompaniment()
            if not self._holding:
                events += self.accompaniment.plan(now, clock)
        for event in events:
            if event.part in SOUNDING_PARTS:
                self._sounds_until(event.due)
        events += self.transport.clock_out(now)
        return events

    def _follow(self, beat: FollowedBeat, now: float) -> None:
        """The transport brought the beat to the follower's (tempo source "follow").

        Planned chords the beat moved under are re-timed (still in the engine: they leave
        for the outputs only shortly before they are due); after a renumbering the
        accompaniment goes on after the beat it decided last. While the follower is
        unsure (under ``HOLD_BELOW``, until it is over ``RESUME_ABOVE`` again) the
        accompaniment holds its chord.
        """
        clock, accompaniment = self.clock, self.accompaniment
        lead = accompaniment.planning_lead(clock)
        if beat.move is not None:
            if self.retime is not None:
                for part in BAND_PARTS:
                    self.retime(part, beat.move)
            accompaniment.retimed(beat.move)
        if beat.renumbered:
            accompaniment.after_renumbering(clock, clock.next_beat(now + lead))
        unsure = beat.confidence < (RESUME_ABOVE if self._holding else HOLD_BELOW)
        if self._holding and not unsure:
            # Back in on a downbeat, the chord held (a pad, no drums) until then.
            accompaniment.skip_to(clock.next_downbeat(now + lead))
        if unsure and not self._holding:
            self.cancel(Part.DRUMS)
        self._holding = unsure
        if (self.accompanying and not accompaniment.playing and not unsure
                and self.last_note is not None and self.rest_at is None):
            accompaniment.begin(clock.next_beat(now + lead), clock.meter)
        self._take_melody()

    def _ending_note(self, now: float) -> bool:
        """The player holds a note long with nothing after it: the tune is ending."""
        if self.accompaniment.ending or self.quiet_since is not None or self.last_note is None:
            return False
        return now - self.last_note >= ENDING_AFTER_BEATS * self.clock.seconds_per_beat

    def _fall_quiet(self, t: float | None) -> None:
        """The player fell silent at ``t`` (None: they play again). After an ending the
        band lets go with them."""
        self.quiet_since = t
        if t is None:
            self.phrase_ends_at = self.rest_at = self.let_go_at = None
            return
        if self.accompaniment.playing and self.accompaniment.ending:
            self.let_go_at = t + min(ENDING_GRACE, 0.25 * self.clock.seconds_per_beat)
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

    def next_wakeup(self) -> float | None:
        clock = self.clock
        times = [
            self.responder.next_wakeup(clock) if self.continuing else None,
            self.accompaniment.next_wakeup(clock)
            if self.accompanying and not self._holding else None,
        ]
        if self.continuing and self.phrase_ends_at is not None and self.responder.call:
            times.append(self.phrase_ends_at)
        if self.let_go_at is not None:
            times.append(self.let_go_at)
        times.append(self.transport.next_wakeup())
        found = [t for t in times if t is not None]
        return min(found) if found else None

    def reset(self) -> None:
        """After a panic: forget plans and the melody; the beat stops until played again."""
        self.responder.reset()
        self.accompaniment.reset()
        self.melody.reset()
        self._fall_quiet(None)
        self._holding = False  # the follower keeps the player's beat: a panic is not a pause
        self.transport.reset()

    def status(self) -> dict:
        r, a, follower = self.responder, self.accompaniment, self.transport.follower
        return {
            "mode": self.mode,
            "tempo_bpm": round(self.clock.bpm, 2),
            "meter": str(self.clock.meter),
            "beat_running": self.clock.running,
            "responses": r.responses,
            "response_notes": {"neural": r.neural_notes, "fallback": r.fallback_notes},
            "accompaniment_beats": {"neural": a.neural_beats, "fallback": a.fallback_beats},
            "style": a.player.style.name,
            "chord_changes": str(a.player.style.chord_changes),
            "style_choice": a.settings.style,
            "section": str(a.section),
            "energy": round(a.last_energy, 2),
            "drums": a.player.settings.drums,
            "continuation_steps": r.runner.stats.summary(),
            "accompaniment_steps": a.runner.stats.summary(),
            "foresight_steps": a.foresight_summary(),
            "accompaniment_decision": a.decision_summary(),
            "tempo_source": str(self.transport.settings.tempo_source),
            "follow": follower.status() if follower is not None else None,
        }

