"""Choosing ports by name: pure logic shared by the ALSA, JACK and rtmidi paths."""

from __future__ import annotations

from dataclasses import dataclass

# Port names that are never a player's controller.
_NOT_CONTROLLERS = ("midi through", "through port", "rtmidi", "a2j:midi through")


@dataclass(frozen=True)
class PortInfo:
    """A MIDI port as a backend lists it."""

    name: str
    hardware: bool = False  # a physical device, not a software port


def is_controller_candidate(port: PortInfo, own_names: tuple[str, ...] = ()) -> bool:
    lowered = port.name.lower()
    if any(own and own.lower() in lowered for own in own_names):
        return False
    return not any(word in lowered for word in _NOT_CONTROLLERS)


def choose_port(
    ports: list[PortInfo], wanted: str | None = None, own_names: tuple[str, ...] = ()
) -> PortInfo | None:
    """Pick the port to use.

    With ``wanted``, the first port whose name contains it (case-insensitive), our own
    ports excluded. Without, the first hardware port that is not a MIDI-through or one of
    our own ports. None when nothing fits (the caller waits and looks again).
    """
    candidates = [p for p in ports if is_controller_candidate(p, own_names)]
    if wanted:
        needle = wanted.lower()
        return next((p for p in candidates if needle in p.name.lower()), None)
    return next((p for p in candidates if p.hardware), None)


def describe_choice(wanted: str | None) -> str:
    return f"a port whose name contains {wanted!r}" if wanted else "the first hardware input"
