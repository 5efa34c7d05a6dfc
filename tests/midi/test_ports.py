from instrument.midi.ports import PortInfo, choose_port

PORTS = [
    PortInfo("Midi Through:Midi Through Port-0 14:0", hardware=False),
    PortInfo("instrument:midi_out", hardware=False),
    PortInfo("VMPK Output:out 128:0", hardware=False),
    PortInfo("Keystation 49 MK3:Keystation 49 MK3 MIDI 1 20:0", hardware=True),
    PortInfo("Arturia MiniLab mkII:Arturia MiniLab mkII MIDI 1 24:0", hardware=True),
]


def test_default_is_first_hardware_port_not_through_or_own():
    choice = choose_port(PORTS, "", own_names=("instrument",))
    assert choice is not None and choice.name.startswith("Keystation")


def test_substring_match_is_case_insensitive_and_may_be_software():
    assert choose_port(PORTS, "arturia").name.startswith("Arturia")
    assert choose_port(PORTS, "vmpk").name.startswith("VMPK")


def test_own_ports_and_midi_through_are_never_chosen():
    assert choose_port(PORTS, "instrument", own_names=("instrument",)) is None
    assert choose_port(PORTS, "through") is None


def test_nothing_suitable_means_wait():
    assert choose_port([PortInfo("Midi Through Port-0")], "") is None
    assert choose_port(PORTS, "Roland") is None
    assert choose_port([], "") is None
