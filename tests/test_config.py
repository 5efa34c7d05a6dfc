import pytest

from instrument import config as cfg


def write(tmp_path, text):
    path = tmp_path / "instrument.toml"
    path.write_text(text)
    return path


def test_defaults_work_without_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "none"))
    monkeypatch.delenv("INSTRUMENT_CONFIG", raising=False)
    config = cfg.load()
    assert config.mode == "accompany+continue"  # the first run plays the band
    assert config.audio.rate == 48000 and config.audio.buffer == 64
    assert config.audio.jack_client == "instrument"


def test_file_values_are_read_and_typed(tmp_path):
    path = write(
        tmp_path,
        'mode = "accompany"\n[audio]\nbuffer = 128\n[midi]\ninput = "Keystation"\n'
        "input_channel = 3\n[synth]\nvolume = 1\n",
    )
    config = cfg.load(path)
    assert config.mode == "accompany"
    assert config.audio.buffer == 128
    assert config.midi.input == "Keystation"
    assert config.midi.input_channel == 3
    assert config.synth.volume == 1.0 and isinstance(config.synth.volume, float)
    assert config.source == str(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[audio]\nbufer = 64\n", "unknown key audio.bufer in [audio]; allowed: backend, buffer"),
        ("colour = 1\n", "unknown key colour in the top level"),
        ("[audio]\nbuffer = 100\n", "audio.buffer must be one of 32, 64, 128, 256, 512, 1024"),
        ('[audio]\nrate = "fast"\n', "audio.rate must be an integer, got 'fast'"),
        ("[midi]\ninput_channel = 17\n", "midi.input_channel must be between 0 and 16; got 17"),
        ("[midi]\ndrums_channel = 0\n", "midi.drums_channel must be between 1 and 16; got 0"),
        ("[midi]\nbass_channel = 17\n", "midi.bass_channel must be between 1 and 16; got 17"),
        ('[synth]\nbass_patch = "tuba"\n', "synth.bass_patch must be one of epiano, pad"),
        ("[synth]\ndrums_volume = 2\n", "synth.drums_volume must be between 0.0 and 1.0"),
        ('mode = "karaoke"\n', "mode must be one of thru, continue, accompany"),
        ("[synth]\nvolume = true\n", "synth.volume must be a number, got True"),
        ('[recording]\nenabled = "yes"\n', "recording.enabled must be true or false"),
        ("audio = 5\n", "audio must be a table ([audio])"),
        ("[audio\n", "not valid TOML"),
    ],
)
def test_bad_values_are_rejected_naming_the_key(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(cfg.ConfigError) as err:
        cfg.load(path)
    assert message in str(err.value)
    assert str(path) in str(err.value)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(cfg.ConfigError, match="cannot read config file"):
        cfg.load(tmp_path / "nope.toml")


def test_command_line_overrides_file_and_is_validated(tmp_path):
    config = cfg.load(write(tmp_path, "[audio]\nbuffer = 256\n"))
    cfg.apply_overrides(config, {"audio.buffer": 128, "mode": None, "midi.input": "Arturia"})
    assert config.audio.buffer == 128
    assert config.midi.input == "Arturia"
    with pytest.raises(cfg.ConfigError, match=r"audio\.buffer must be one of"):
        cfg.apply_overrides(config, {"audio.buffer": 100})


def test_resolved_config_round_trips_through_toml(tmp_path):
    config = cfg.load(write(tmp_path, '[midi]\ninput = "a \\"b\\""\n[audio]\nbuffer = 32\n'))
    again = cfg.load(write(tmp_path, cfg.to_toml(config)))
    assert again.midi.input == 'a "b"'
    assert cfg.to_toml(again) == cfg.to_toml(config)


def test_default_search_path_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    user = tmp_path / "xdg" / "instrument" / "config.toml"
    user.parent.mkdir(parents=True)
    user.write_text("[audio]\nbuffer = 512\n")
    monkeypatch.delenv("INSTRUMENT_CONFIG", raising=False)
    assert cfg.load().audio.buffer == 512
    (tmp_path / "instrument.toml").write_text("[audio]\nbuffer = 32\n")
    assert cfg.load().audio.buffer == 32
    explicit = tmp_path / "explicit.toml"
    explicit.write_text("[audio]\nbuffer = 1024\n")
    monkeypatch.setenv("INSTRUMENT_CONFIG", str(explicit))
    assert cfg.load().audio.buffer == 1024


def test_keys_that_may_be_unset_are_none_and_names_are_typed(tmp_path):
    from instrument.names import Mode, Patch, Provider, TempoSource

    config = cfg.load(write(tmp_path, '[[presets]]\nprogram = 3\ntempo = 96.0\n'))
    preset = config.presets[0]
    assert preset.tempo == 96.0
    assert (preset.mode, preset.meter, preset.temperature, preset.density, preset.style) == \
        (None,) * 5
    assert config.models.temperature is None and config.models.seed is None
    assert config.tempo.tap_note is None and config.midi.input is None
    assert config.mode is Mode.ACCOMPANY_CONTINUE and config.synth.player_patch is Patch.EPIANO
    assert config.models.providers == [Provider.TENSORRT, Provider.CUDA, Provider.CPU]
    assert config.tempo.source in TempoSource
    # An unset key is shown as such and reads back unset.
    text = cfg.to_toml(config)
    assert "# temperature: unset" in text
    assert cfg.to_toml(cfg.load(write(tmp_path, text))) == text


def test_the_renderers_own_tempo_source_is_not_a_config_choice(tmp_path):
    with pytest.raises(cfg.ConfigError, match=r"tempo\.source must be one of"):
        cfg.load(write(tmp_path, '[tempo]\nsource = "file"\n'))


def test_an_empty_flag_unsets_a_key(tmp_path):
    config = cfg.load(write(tmp_path, '[midi]\ninput = "Keystation"\n'))
    cfg.apply_overrides(config, {"midi.input": ""})
    assert config.midi.input is None


def test_the_meter_may_be_heard():
    config = cfg.parse({"tempo": {"meter": "auto"}})
    assert config.tempo.meter == "auto"
    with pytest.raises(cfg.ConfigError, match=r"tempo\.meter"):
        cfg.parse({"tempo": {"meter": "7/7"}})



def test_every_sounding_part_has_a_channel_a_level_and_all_but_the_drums_a_patch(tmp_path):
    from instrument.names import SOUNDING_PARTS, Part, Patch

    config = cfg.Config()
    assert config.midi.channels() == {
        Part.PLAYER: 1, Part.ACCOMPANIMENT: 2, Part.CONTINUATION: 3, Part.BASS: 4,
        Part.DRUMS: 10,
    }
    assert list(config.synth.volumes()) == list(SOUNDING_PARTS)
    assert config.synth.patches()[Part.BASS] is Patch.BASS
    assert Part.DRUMS not in config.synth.patches()
    text = '[midi]\nbass_channel = 5\ndrums_channel = 11\n[synth]\nbass_patch = "pluck"\n' \
           "bass_volume = 0.5\ndrums_volume = 0.25\n"
    config = cfg.load(write(tmp_path, text))
    again = cfg.load(write(tmp_path, cfg.to_toml(config)))
    assert again.midi.channels()[Part.BASS] == 5 and again.midi.channels()[Part.DRUMS] == 11
    assert again.synth.patches()[Part.BASS] is Patch.PLUCK
    assert again.synth.volumes()[Part.BASS] == 0.5
    assert again.synth.volumes()[Part.DRUMS] == 0.25
