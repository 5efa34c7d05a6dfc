"""Everything a performer steers from the controller: the CC map, presets, MIDI learn.

Default CC map (channel-independent; every number can be changed in the config or
learned live):

| CC | function | values |
|---|---|---|
| 20 | mode | 0-31 thru, 32-63 continue, 64-95 accompany, 96-127 accompany+continue |
| 21 | temperature | 0.1 (predictable) .. 1.5 (adventurous) |
| 22 | density | 0 sparse .. 127 busy: responses, chord changes, the band's energy (*) |
| 23 | accompaniment volume | 0 .. 127 (the band's chords) |
| 24 | lookahead | 5 .. 100 ms |
| 25 | tap tempo | any press (value >= 64) is a tap |
| 26 | start / stop | >= 64 starts (with the count-in), < 64 stops the accompaniment |
| 27 | MIDI learn | hold (>= 64): press a key to pick a function, move a knob to assign |
| 28 | style | 0 .. 127 across "auto" and the styles by name |
| 29 | drums | >= 64 on, < 64 off |
| 30 | bass volume | 0 .. 127 |
| 31 | drums volume | 0 .. 127 |
| 120, 123 | panic | all sound off, all notes off |

(*) Moving the density control fixes the band's energy until the next tune; until then
the band's energy follows the player (``instrument.parts.energy``).

MIDI learn: while the learn control is held, the next key pressed picks a function by
its pitch class (C mode, D temperature, E density, F accompaniment volume, G lookahead,
A tap tempo, B start/stop, C# style, D# drums, F# bass volume, G# drums volume), then
the next CC moved is assigned to it. Assignments are
kept in a file in the state directory and loaded at the next start.

Program change N selects the preset with ``program = N`` from the config.

Engine thread only. ``Controls`` only decodes; the ``Band`` acts.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from instrument.names import Mode

log = logging.getLogger(__name__)

FUNCTIONS = (
    "mode", "temperature", "density", "accompaniment_volume", "lookahead", "tap_tempo",
    "start_stop", "style", "drums", "bass_volume", "drums_volume",
)
DEFAULT_CC_MAP: dict[int, str] = {
    20: "mode", 21: "temperature", 22: "density", 23: "accompaniment_volume",
    24: "lookahead", 25: "tap_tempo", 26: "start_stop", 28: "style", 29: "drums",
    30: "bass_volume", 31: "drums_volume",
}
LEARN_CC = 27
# MIDI learn: the pitch class of the key pressed picks the function.
LEARN_KEYS = {0: "mode", 2: "temperature", 4: "density", 5: "accompaniment_volume",
              7: "lookahead", 9: "tap_tempo", 11: "start_stop", 1: "style", 3: "drums",
              6: "bass_volume", 8: "drums_volume"}
MODES_BY_CC = tuple(Mode)  # CC value // 32
# Never reassigned by MIDI learn: the sustain pedal, panic, and the channel-mode messages.
RESERVED_CCS = frozenset({64, 120, 121, 122, 123, 124, 125, 126, 127})


@dataclass(frozen=True)
class Action:
    """What a control message asks for: ``function`` with a decoded ``value``."""

    function: str
    value: float | str | bool


def decode(function: str, value: int) -> Action:
    """A CC value (0..127) in the units of ``function``."""
    x = value / 127.0
    if function == "mode":
        return Action("mode", MODES_BY_CC[min(3, value // 32)])
    if function == "temperature":
        return Action("temperature", round(0.1 + 1.4 * x, 3))
    if function in ("density", "accompaniment_volume", "bass_volume", "drums_volume", "style"):
        return Action(function, round(x, 3))
    if function == "lookahead":
        return Action("lookahead", round(0.005 + 0.095 * x, 4))
    if function in ("tap_tempo", "start_stop", "drums"):
        return Action(function, value >= 64)
    raise ValueError(f"unknown control function {function!r}; known: {', '.join(FUNCTIONS)}")


@dataclass
class Controls:
    """Decodes control changes; handles MIDI learn and its saved assignments."""

    cc_map: dict[int, str] = field(default_factory=lambda: dict(DEFAULT_CC_MAP))
    learn_cc: int = LEARN_CC
    learned_file: Path | None = None
    learning: bool = False
    _learn_function: str | None = None

    def __post_init__(self) -> None:
        if self.learned_file is not None and self.learned_file.is_file():
            self._load_learned()

    def _load_learned(self) -> None:
        assert self.learned_file is not None
        try:
            data = json.loads(self.learned_file.read_text())
            learned = {int(cc): str(fn) for cc, fn in data.items()}
        except (OSError, ValueError, AttributeError) as exc:
            log.warning("ignoring learned controls in %s: %s", self.learned_file, exc)
            return
        for cc, function in learned.items():
            if function in FUNCTIONS and 0 <= cc < 120 and cc not in RESERVED_CCS:
                self.assign(cc, function)

    def assign(self, cc: int, function: str) -> None:
        for old in [c for c, f in self.cc_map.items() if f == function]:
            del self.cc_map[old]
        self.cc_map[cc] = function

    def _save_learned(self) -> None:
        if self.learned_file is None:
            return
        try:
            self.learned_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.learned_file.with_suffix(".tmp")
            tmp.write_text(json.dumps({str(c): f for c, f in sorted(self.cc_map.items())}))
            os.replace(tmp, self.learned_file)
        except OSError as exc:
            log.warning("cannot save learned controls to %s: %s", self.learned_file, exc)

    def control_change(self, cc: int, value: int) -> Action | None:
        """A CC from the controller: an action, a step of MIDI learn, or nothing."""
        if cc == self.learn_cc:
            self.learning = value >= 64
            self._learn_function = None
            return Action("learn", self.learning)
        if self.learning and self._learn_function is not None and cc not in RESERVED_CCS:
            function = self._learn_function
            self.assign(cc, function)
            self._save_learned()
            self._learn_function = None
            log.info("MIDI learn: CC %d now controls %s", cc, function)
            return Action("learned", f"{cc}:{function}")
        function = self.cc_map.get(cc)
        return decode(function, value) if function is not None else None

    def learn_key(self, pitch: int) -> bool:
        """In learn mode, a key picks the function to assign. True if it was used so."""
        if not self.learning:
            return False
        self._learn_function = LEARN_KEYS.get(pitch % 12)
        return True
