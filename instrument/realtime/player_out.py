"""The player's own messages on MIDI out, sent by the sound side the moment they arrive.

Gear driven from MIDI out (an external synth, a recorder) must hear the player as
immediately as the box's own thru synth does, whatever the engine is doing, and in
whichever process it runs. So the sound side sends them, not the engine:

- JACK MIDI: the JACK cycle that reads a key press writes it to ``midi_out`` in that
  same cycle, at the same frame (``CycleMessages``, merged into the cycle's MIDI out by
  ``MidiOutQueue.write_cycle``): one period after it arrived, as ``jack_midisine``
  sounds it;
- ALSA MIDI: the rtmidi callback that stamps it hands it to the sender thread's queue at
  once (``PlayerOut.send_now``).

The engine and the recording still see every message (through the input ring); the
engine's ``MidiOutput`` leaves the player's part alone live, so nothing goes out twice.

Forwarded: what the engine forwarded before (``FORWARDED``): notes, the sustain pedal and
pitch bend on the listened channel, re-channelled to ``midi.player_channel``.

Real-time rules (see ``instrument.realtime``): ``CycleMessages.add`` and ``reset`` run in
the JACK cycle: preallocated slots, no allocation, a fixed capacity (more is counted in
``overflow``); ``PlayerOut.send_now`` runs on an rtmidi callback thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from instrument.midi import messages as mm


class _Sender(Protocol):
    def send(self, message: Sequence[int], due: float | None = None) -> None: ...


class PlayerOut:
    """Which of the player's messages go to MIDI out, and on which channel.

    ``out_channel`` None: the player's messages are not sent (``midi.send_player =
    false``)."""

    def __init__(self, listen_channel: int, out_channel: int | None) -> None:
        self.listen_channel = listen_channel
        self.out_channel = out_channel
        self._low = (out_channel - 1) if out_channel is not None else 0

    def forwards(self, message: Sequence[int]) -> bool:
        """A checked message from the player: does it go to MIDI out?"""
        if self.out_channel is None:
            return False
        status = message[0]
        if status >= 0xF0 or not mm.accepts_channel(status, self.listen_channel):
            return False
        kind = status & 0xF0
        return (kind == mm.NOTE_ON or kind == mm.NOTE_OFF or kind == mm.PITCH_BEND
                or (kind == mm.CONTROL_CHANGE and message[1] == mm.CC_SUSTAIN))

    def status(self, status: int) -> int:
        """The status byte on the player's MIDI out channel."""
        return (status & 0xF0) | self._low

    def send_now(self, sender: _Sender, message: Sequence[int]) -> None:
        """rtmidi callback thread (ALSA): hand the message to MIDI out's sender at once."""
        if self.forwards(message):
            sender.send((self.status(message[0]), *message[1:]))


#: The player's messages one cycle can forward (the cycle's own input cap).
CAPACITY = 256


class CycleMessages:
    """The player's messages of one JACK cycle, for MIDI out at their frames: each
    copied, on the player's channel, into a preallocated 3-byte record (every forwarded
    kind is three bytes long), ready to be copied into JACK's buffer as it is."""

    def __init__(self, player: PlayerOut, capacity: int = CAPACITY) -> None:
        self.player = player
        self.offsets = [0] * capacity
        self.messages = [bytearray(3) for _ in range(capacity)]
        self.capacity = capacity
        self.count = 0
        self.overflow = 0

    def reset(self) -> None:
        """JACK cycle: start a new cycle's messages."""
        self.count = 0

    def add(self, message: Sequence[int], offset: int) -> None:
        """JACK cycle: keep ``message`` (checked, accepted) for MIDI out at ``offset``."""
        player = self.player
        if not player.forwards(message):
            return
        n = self.count
        if n >= self.capacity:
            self.overflow += 1
            return
        self.offsets[n] = offset
        record = self.messages[n]
        record[0] = player.status(message[0])
        record[1] = message[1]
        record[2] = message[2]
        self.count = n + 1


NO_MESSAGES = CycleMessages(PlayerOut(0, None), capacity=0)
