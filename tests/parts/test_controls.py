import pytest

from instrument.parts.controls import Controls, decode


@pytest.mark.parametrize(
    ("function", "value", "expected"),
    [
        ("mode", 0, "thru"), ("mode", 40, "continue"), ("mode", 70, "accompany"),
        ("mode", 127, "accompany+continue"), ("temperature", 0, 0.1),
        ("temperature", 127, 1.5), ("density", 127, 1.0), ("accompaniment_volume", 0, 0.0),
        ("lookahead", 0, 0.005), ("tap_tempo", 127, True), ("start_stop", 10, False),
    ],
)
def test_cc_values_decode_to_documented_units(function, value, expected):
    assert decode(function, value).value == pytest.approx(expected) if isinstance(
        expected, float
    ) else decode(function, value).value == expected


def test_default_map_and_unmapped_ccs():
    controls = Controls()
    assert controls.control_change(21, 127).function == "temperature"
    assert controls.control_change(7, 100) is None


def test_midi_learn_assigns_a_knob_and_remembers_it(tmp_path):
    path = tmp_path / "learned.json"
    controls = Controls(learned_file=path)
    assert controls.control_change(27, 127).function == "learn"
    assert controls.learn_key(64)  # E: density
    learned = controls.control_change(74, 33)
    assert learned.function == "learned" and learned.value == "74:density"
    controls.control_change(27, 0)
    assert controls.control_change(74, 127).function == "density"
    assert controls.control_change(22, 127) is None  # the old CC no longer does it
    again = Controls(learned_file=path)
    assert again.control_change(74, 0).function == "density"


def test_keys_are_not_taken_outside_learn_mode():
    controls = Controls()
    assert not controls.learn_key(60)


def test_a_broken_learned_file_is_ignored(tmp_path):
    path = tmp_path / "learned.json"
    path.write_text("{not json")
    assert Controls(learned_file=path).control_change(22, 0).function == "density"


@pytest.mark.parametrize("reserved", [64, 120, 123])
def test_learn_never_takes_the_pedal_or_panic(tmp_path, reserved):
    controls = Controls(learned_file=tmp_path / "learned.json")
    controls.control_change(27, 127)
    controls.learn_key(62)  # D: temperature
    assert controls.control_change(reserved, 127) is None
    assert reserved not in controls.cc_map
    assert controls.control_change(75, 10).function == "learned"  # still waiting for a knob
