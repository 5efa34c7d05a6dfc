"""The engine's outputs: the synth (through ``PlannedNotes``) and MIDI out.

Both take ``TimedEvent``s a little before they are due and hand them to the real-time
side (``instrument.realtime``) with their due time; neither blocks the engine thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from instrument.engine.engine import TimedEvent
from instrument.midi import messages as mm
from instrument.midi.held import HeldNotes
from instrument.names import Part
from instrument.realtime.planned import PlannedNotes, SynthEvent


class MidiSender(Protocol):
    """Where MIDI out messages wait for their time (``MidiOutQueue``; fakes in tests)."""

    def send(self, message: Sequence[int], due: float | None = None) -> None: ...

    def drop_pending(self) -> None:
        """Forget messages not yet sent (panic: what was not due never happens)."""
        ...

    def drop_channel(self, channel: int, after: float) -> None:
        """Forget queued messages on ``channel`` (1-16; 0: system messages, i.e. MIDI
        clock) due after ``after``."""
        ...


class SynthOutput:
    """Plays events on the synth at their due time, sample-accurately.

    ``play_player``: whether the player's notes are played here too. Live, they are not:
    the audio callback already played them the moment they arrived (thru). Offline
    renders play them here.
    """

    def __init__(self, planned: PlannedNotes, play_player: bool = False) -> None:
        self.planned = planned
        self.play_player = play_player
        self._player_held = HeldNotes()

    def play(self, event: TimedEvent) -> None:
        message = event.message
        if event.part == Part.PLAYER:
            if not self.play_player:
                return
            self._play_player(event)
            return
        if event.is_note_on:
            self.planned.schedule(SynthEvent(event.due, event.part, message[1], message[2]))
        elif event.is_note_off:
            self.planned.schedule(SynthEvent(event.due, event.part, message[1], 0))

    def _play_player(self, event: TimedEvent) -> None:
        message = event.message
        if event.is_note_on:
            self._player_held.note_on(message[1])
            self.planned.schedule(SynthEvent(event.due, Part.PLAYER, message[1], message[2]))
        elif event.is_note_off:
            if self._player_held.note_off(message[1]):
                self.planned.schedule(SynthEvent(event.due, Part.PLAYER, message[1], 0))
        elif message[0] & 0xF0 == mm.CONTROL_CHANGE and message[1] == mm.CC_SUSTAIN:
            for pitch in self._player_held.pedal(message[2] >= 64):
                self.planned.schedule(SynthEvent(event.due, Part.PLAYER, pitch, 0))

    def panic(self, now: float) -> None:
        self._player_held.clear()
        self.planned.panic()

    def cancel(self, part: str, now: float) -> None:
        """Drop the part's planned notes and release its voices (next audio block)."""
        self.planned.cancel(part, now)


class MidiOutput:
    """Sends events on MIDI out, each part on its own channel."""

    def __init__(
        self, sender: MidiSender, channels: dict[str, int], send_player: bool = True
    ) -> None:
        self.sender = sender
        self.channels = channels  # part -> 1..16
        self.send_player = send_player

    def play(self, event: TimedEvent) -> None:
        if event.part == Part.PLAYER and not self.send_player:
            return
        message = event.message
        if message[0] >= 0xF0:  # MIDI clock and transport, sent as they are
            self.sender.send(message, event.due)
            return
        channel = self.channels.get(event.part)
        if channel is None:
            return
        status = (message[0] & 0xF0) | (channel - 1)
        # The player's notes have already happened: they leave at once.
        due = None if event.part == Part.PLAYER else event.due
        self.sender.send((status, *message[1:]), due)

    def cancel(self, part: str, now: float) -> None:
        if part == Part.CLOCK:
            self.sender.drop_channel(0, now)
            return
        channel = self.channels.get(part)
        if channel is not None:
            self.sender.drop_channel(channel, now)

    def panic(self, now: float) -> None:
        """Drop what waits, then all notes off and all sound off on every channel we use."""
        self.sender.drop_pending()
        for channel in sorted(set(self.channels.values())):
            status = mm.CONTROL_CHANGE | (channel - 1)
            self.sender.send((status, mm.CC_ALL_NOTES_OFF, 0))
            self.sender.send((status, mm.CC_ALL_SOUND_OFF, 0))
