"""Configuration: one TOML file parsed into typed, validated dataclasses.

The file is found at ``--config FILE`` or, failing that, the first of ``DEFAULT_PATHS``
that exists; with none, the defaults below apply (they work out of the box). Unknown
keys, wrong types and out-of-range values raise ``ConfigError`` with a message naming
the key and what is allowed. Command-line flags override the file through
``apply_overrides``.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import typing
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from instrument import places
from instrument.names import (
    CONFIG_TEMPO_SOURCES,
    SOUNDING_PARTS,
    AudioBackend,
    MidiApi,
    Mode,
    Part,
    Patch,
    Provider,
    TempoSource,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 (JetPack 6)
    import tomli as tomllib

BUFFER_SIZES = (32, 64, 128, 256, 512, 1024)
SAMPLE_RATES = (22050, 32000, 44100, 48000, 88200, 96000)


def default_paths() -> list[Path]:
    """Where the config file is looked for, first match wins."""
    paths = []
    if os.environ.get("INSTRUMENT_CONFIG"):
        paths.append(Path(os.environ["INSTRUMENT_CONFIG"]))
    paths.append(Path("instrument.toml"))
    config_home = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config"))
    paths.append(config_home / "instrument" / "config.toml")
    paths.append(Path("/etc/instrument/config.toml"))
    return paths


class ConfigError(ValueError):
    """A configuration value is missing, unknown, of the wrong type or out of range."""


def _range(lo: float, hi: float) -> dict[str, Any]:
    return {"range": (lo, hi)}


def _choices(values: tuple) -> dict[str, Any]:
    return {"choices": values}


@dataclass
class AudioConfig:
    """Where sound goes."""

    backend: AudioBackend = AudioBackend.AUTO
    rate: int = field(default=48000, metadata=_choices(SAMPLE_RATES))
    buffer: int = field(default=64, metadata=_choices(BUFFER_SIZES))
    # PortAudio output device: a substring of its name (unset: the system default).
    device: str | None = None
    # JACK client name; its ports are out_1, out_2 and (with JACK MIDI) midi_in, midi_out.
    jack_client: str = "instrument"
    # Connect out_1/out_2 to the first physical playback ports on start.
    connect_outputs: bool = True
    # The offline backend writes here (unset: a file beside the session's recording).
    wav: str | None = None
    # With audio and MIDI on JACK, run the engine and models in a process of their own,
    # so they cannot delay the audio callback (instrument.live.one_process); false: one process.
    engine_process: bool = True


@dataclass
class MidiConfig:
    """Where notes come from and go to."""

    api: MidiApi = MidiApi.AUTO
    # Input port: a substring of its name (unset: the first hardware input).
    input: str | None = None
    # Output port to connect MIDI out to: a substring (unset: none; others connect to us).
    output: str | None = None
    # 0 listens on all channels (omni); 1..16 listens on one.
    input_channel: int = field(default=0, metadata=_range(0, 16))
    # Also open virtual ALSA ports other software can connect to.
    virtual_ports: bool = True
    # MIDI out channels (1..16) for the player's own notes and each part the instrument plays.
    player_channel: int = field(default=1, metadata=_range(1, 16))
    accompaniment_channel: int = field(default=2, metadata=_range(1, 16))
    continuation_channel: int = field(default=3, metadata=_range(1, 16))
    bass_channel: int = field(default=4, metadata=_range(1, 16))
    # General MIDI drum notes (instrument.audio.drums.KIT_NOTES); GM gear plays drums on 10.
    drums_channel: int = field(default=10, metadata=_range(1, 16))

    def channels(self) -> dict[Part, int]:
        """The MIDI out channel (1..16) of each part that sounds (``SOUNDING_PARTS``)."""
        return {part: getattr(self, f"{part}_channel") for part in SOUNDING_PARTS}

    # Forward the player's notes to MIDI out too.
    send_player: bool = True
    # How often (seconds) to look for a controller that appeared or came back.
    hotplug_interval: float = field(default=0.5, metadata=_range(0.05, 2.0))


@dataclass
class SynthConfig:
    """The built-in synth."""

    # One patch for the player's own notes, clearly different ones for the instrument's.
    player_patch: Patch = Patch.EPIANO
    accompaniment_patch: Patch = Patch.PAD
    continuation_patch: Patch = Patch.PLUCK
    bass_patch: Patch = Patch.BASS
    # Voices per part the synth plays; when all are held, further notes are dropped and
    # counted. (The drum kit has voices of its own: instrument.audio.drums.)
    voices: int = field(default=24, metadata=_range(1, 64))
    volume: float = field(default=0.8, metadata=_range(0.0, 1.0))
    player_volume: float = field(default=1.0, metadata=_range(0.0, 1.0))
    accompaniment_volume: float = field(default=0.7, metadata=_range(0.0, 1.0))
    continuation_volume: float = field(default=0.9, metadata=_range(0.0, 1.0))
    bass_volume: float = field(default=0.8, metadata=_range(0.0, 1.0))
    drums_volume: float = field(default=0.8, metadata=_range(0.0, 1.0))

    def patches(self) -> dict[Part, Patch]:
        """The patch of each part the synth plays (the drums are a kit: no patch)."""
        return {part: getattr(self, f"{part}_patch") for part in SOUNDING_PARTS
                if part != Part.DRUMS}

    def volumes(self) -> dict[Part, float]:
        """The level (0..1) of each part that sounds."""
        return {part: getattr(self, f"{part}_volume") for part in SOUNDING_PARTS}


@dataclass
class RecordingConfig:
    """Standard MIDI File recording of every session."""

    enabled: bool = True
    # unset: <state dir>/recordings
    directory: str | None = None
    # Seconds between rewrites of the file on disk: a crash loses at most this much.
    flush_interval: float = field(default=0.5, metadata=_range(0.05, 1.0))


METERS = ("2/4", "3/4", "4/4", "5/4", "6/8", "9/8", "12/8")


@dataclass
class TempoConfig:
    """The beat: where its tempo comes from, and MIDI clock out."""

    bpm: float = field(default=100.0, metadata=_range(30.0, 300.0))
    # "auto": heard from the playing (2/4, 3/4, 4/4, 6/8, 9/8 or 12/8; following the
    # player only, 4/4 otherwise); a meter set here is what the bar is read in.
    meter: str = field(default="4/4", metadata=_choices((*METERS, "auto")))
    # follow: the player's own beat, found from their notes (this tempo is where it
    # starts looking); internal: this tempo, tap tempo and presets, fixed once started;
    # midi_clock: follow MIDI clock in; link: an Ableton Link session (the `link` extra).
    source: TempoSource = field(
        default=TempoSource.FOLLOW, metadata=_choices(CONFIG_TEMPO_SOURCES)
    )
    send_clock: bool = True  # MIDI clock out while the beat runs (internal or follow)
    # Following the player: also propose the followed tempo to an Ableton Link session
    # (the `link` extra), so the other peers follow the player too.
    propose_to_link: bool = False
    tap_note: int | None = field(default=None, metadata=_range(0, 127))  # a key that taps


@dataclass
class ContinuationConfig:
    """Call and response."""

    silence: float = field(default=0.6, metadata=_range(0.0, 5.0))  # 0: one beat
    min_beats: float = field(default=2.0, metadata=_range(0.5, 64.0))
    max_beats: float = field(default=16.0, metadata=_range(0.5, 64.0))
    length_ratio: float = field(default=1.0, metadata=_range(0.1, 4.0))
    grid_ticks: int = field(default=6, metadata=_choices((2, 3, 4, 6, 12)))
    follow_key: bool = True
    learn: bool = True  # the Markov model learns the player's phrases during the gig


@dataclass
class AccompanimentConfig:
    """Chords and bass on the beat."""

    lookahead_ms: float = field(default=20.0, metadata=_range(2.0, 200.0))
    count_in_bars: int = field(default=0, metadata=_range(0, 4))
    stop_after_bars: float = field(default=2.0, metadata=_range(0.5, 64.0))
    density: float = field(default=0.5, metadata=_range(0.0, 1.0))
    # The chords' velocity before the player has played (or always, with follow off).
    velocity: int = field(default=72, metadata=_range(1, 127))
    # Play at 0.8 of the player's smoothed velocity, times the volume control.
    follow_dynamics: bool = True
    bass_low: int = field(default=36, metadata=_range(21, 72))
    bass_high: int = field(default=50, metadata=_range(33, 84))
    upper_low: int = field(default=52, metadata=_range(36, 96))
    upper_high: int = field(default=72, metadata=_range(48, 108))
    # The band's style: "auto" (chosen from the meter and the feel of the playing) or a
    # style's name: air, ballad, jig, pad, polka, reel, slip_jig, waltz, or your own.
    style: str = "auto"
    drums: bool = True  # the drum part plays (CC 29 switches it live)
    # Your own styles (*.toml); unset: ~/.config/instrument/styles.
    styles_dir: str | None = None


@dataclass
class ModelsConfig:
    """The neural models and how they run."""

    # unset: the models shipped with the instrument (see instrument.places).
    directory: str | None = None
    continuation: str = "continuation"
    accompaniment: str = "accompaniment"
    markov_prior: str = "markov_prior.npz"
    providers: list[Provider] = field(default_factory=lambda: list(Provider))
    # TensorRT engine cache (unset: <state dir>/trt-cache); built at install, not at a gig.
    engine_cache: str | None = None
    # unset: each model's own default from its manifest; 0 is greedy.
    temperature: float | None = field(default=None, metadata=_range(0.0, 2.0))
    top_p: float = field(default=0.95, metadata=_range(0.05, 1.0))
    seed: int | None = field(default=None, metadata=_range(0, 2**31 - 1))  # unset: a new one


@dataclass
class ControlsConfig:
    """CC numbers for the live controls (see instrument.parts.controls)."""

    mode: int = field(default=20, metadata=_range(0, 119))
    temperature: int = field(default=21, metadata=_range(0, 119))
    density: int = field(default=22, metadata=_range(0, 119))
    accompaniment_volume: int = field(default=23, metadata=_range(0, 119))
    lookahead: int = field(default=24, metadata=_range(0, 119))
    tap_tempo: int = field(default=25, metadata=_range(0, 119))
    start_stop: int = field(default=26, metadata=_range(0, 119))
    learn: int = field(default=27, metadata=_range(0, 119))
    style: int = field(default=28, metadata=_range(0, 119))
    drums: int = field(default=29, metadata=_range(0, 119))
    bass_volume: int = field(default=30, metadata=_range(0, 119))
    drums_volume: int = field(default=31, metadata=_range(0, 119))


@dataclass
class PresetConfig:
    """A preset a program change recalls ([[presets]] tables)."""

    program: int = field(default=0, metadata=_range(0, 127))
    name: str = ""
    # Each setting left out stays as it is.
    mode: Mode | None = None
    tempo: float | None = field(default=None, metadata=_range(30.0, 300.0))
    meter: str | None = field(default=None, metadata=_choices(METERS))
    temperature: float | None = field(default=None, metadata=_range(0.0, 2.0))
    density: float | None = field(default=None, metadata=_range(0.0, 1.0))
    style: str | None = None  # "auto" or a style's name


@dataclass
class Config:
    """The whole configuration."""

    mode: Mode = Mode.ACCOMPANY_CONTINUE  # the first run plays the band; thru: CC 20
    log_level: str = field(
        default="info", metadata=_choices(("debug", "info", "warning", "error"))
    )
    audio: AudioConfig = field(default_factory=AudioConfig)
    midi: MidiConfig = field(default_factory=MidiConfig)
    synth: SynthConfig = field(default_factory=SynthConfig)
    recording: RecordingConfig = field(default_factory=RecordingConfig)
    service: ServiceConfig = field(default_factory=lambda: ServiceConfig())
    tempo: TempoConfig = field(default_factory=TempoConfig)
    continuation: ContinuationConfig = field(default_factory=ContinuationConfig)
    accompaniment: AccompanimentConfig = field(default_factory=AccompanimentConfig)
    models: ModelsConfig = field(default_factory=ModelsConfig)
    controls: ControlsConfig = field(default_factory=ControlsConfig)
    presets: list[PresetConfig] = field(default_factory=list)
    # Where the config came from, for `instrument check` ("" = built-in defaults).
    source: str = field(default="", metadata={"internal": True})

    def state_dir(self) -> Path:
        return places.state_dir()

    def recordings_dir(self) -> Path:
        return places.recordings_dir(self.recording.directory)

    def models_dir(self) -> Path:
        return places.models_dir(self.models.directory)

    def engine_cache_dir(self) -> Path:
        return places.engine_cache_dir(self.models.engine_cache)

    def user_styles_dir(self) -> Path:
        return places.user_styles_dir(self.accompaniment.styles_dir)


def _type_name(tp: Any) -> str:
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(
        tp, getattr(tp, "__name__", str(tp))
    )


def _unset_allowed(tp: Any) -> tuple[Any, bool]:
    """(the type, whether the key may be left unset) for ``T | None`` and plain ``T``."""
    args = typing.get_args(tp)
    if type(None) in args:
        (inner,) = (a for a in args if a is not type(None))
        return inner, True
    return tp, False


def _check_value(key: str, value: Any, tp: Any, meta: typing.Mapping[str, Any]) -> Any:
    tp, _ = _unset_allowed(tp)
    if isinstance(tp, type) and issubclass(tp, Enum):
        allowed = meta.get("choices") or tuple(tp)
        if not isinstance(value, str) or value not in {str(c) for c in allowed}:
            names = ", ".join(str(c) for c in allowed)
            raise ConfigError(f"{key} must be one of {names}; got {value!r}")
        return tp(value)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if tp is bool and not isinstance(value, bool):
        raise ConfigError(f"{key} must be {_type_name(tp)}, got {value!r}")
    if tp is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(f"{key} must be {_type_name(tp)}, got {value!r}")
    if not isinstance(value, tp):
        raise ConfigError(f"{key} must be {_type_name(tp)}, got {value!r}")
    if "choices" in meta and value not in meta["choices"]:
        allowed = ", ".join(str(c) for c in meta["choices"])
        raise ConfigError(f"{key} must be one of {allowed}; got {value!r}")
    if "range" in meta:
        lo, hi = meta["range"]
        if not lo <= value <= hi:
            raise ConfigError(f"{key} must be between {lo} and {hi}; got {value!r}")
    return value


def _check_list(key: str, value: Any, tp: Any, meta: typing.Mapping[str, Any]) -> list:
    """A TOML array: of scalars (each checked like a value) or of tables (dataclasses)."""
    (item_tp,) = typing.get_args(_unset_allowed(tp)[0])
    if not isinstance(value, list):
        raise ConfigError(f"{key} must be a list, got {value!r}")
    if dataclasses.is_dataclass(item_tp):
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                raise ConfigError(f"{key}[{i}] must be a table ([[{key}]]), got {item!r}")
            out.append(_build(item_tp, item, f"{key}[{i}]."))
        return out
    return [_check_value(f"{key}[{i}]", item, item_tp, meta) for i, item in enumerate(value)]


def _is_list(tp: Any) -> bool:
    return typing.get_origin(_unset_allowed(tp)[0]) is list


def _build(cls: type, data: dict[str, Any], prefix: str) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        where = f"[{prefix.rstrip('.')}]" if prefix else "the top level"
        allowed = ", ".join(sorted(fields))
        raise ConfigError(f"unknown key {prefix}{unknown[0]} in {where}; allowed: {allowed}")
    kwargs = {}
    for name, value in data.items():
        tp = hints[name]
        key = prefix + name
        if dataclasses.is_dataclass(tp):
            if not isinstance(value, dict):
                raise ConfigError(f"{key} must be a table ([{key}]), got {value!r}")
            kwargs[name] = _build(tp, value, key + ".")
        elif _is_list(tp):
            kwargs[name] = _check_list(key, value, tp, fields[name].metadata)
        else:
            kwargs[name] = _check_value(key, value, tp, fields[name].metadata)
    return cls(**kwargs)


def parse(data: dict[str, Any], source: str = "") -> Config:
    """Build a validated Config from a TOML-shaped dict."""
    config = _build(Config, data, "")
    config.source = source
    return config


def load(path: str | os.PathLike[str] | None = None) -> Config:
    """Load the config from ``path``, or the first default path that exists, or defaults."""
    if path is None:
        path = next((p for p in default_paths() if p.is_file()), None)
        if path is None:
            return Config()
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        return parse(data, source=str(path))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def apply_overrides(config: Config, overrides: dict[str, Any]) -> Config:
    """Set dotted keys (``"audio.buffer": 128``) from the command line, validated alike.

    ``None`` values are skipped (flag not given).
    """
    for dotted, value in overrides.items():
        if value is None:
            continue
        *parents, name = dotted.split(".")
        target: Any = config
        for part in parents:
            target = getattr(target, part)
        hints = typing.get_type_hints(type(target))
        meta = next(f.metadata for f in dataclasses.fields(target) if f.name == name)
        if _is_list(hints[name]):
            setattr(target, name, _check_list(dotted, value, hints[name], meta))
        elif value == "" and _unset_allowed(hints[name])[1]:
            setattr(target, name, None)  # an empty flag value unsets the key
        else:
            setattr(target, name, _check_value(dotted, value, hints[name], meta))
    return config


def to_toml(config: Config) -> str:
    """Render the resolved config as TOML (for `instrument check`)."""
    lines: list[str] = []

    def fmt(value: Any) -> str:
        if isinstance(value, Enum):
            return fmt(str(value))
        if isinstance(value, list):
            return "[" + ", ".join(fmt(v) for v in value) + "]"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str):
            return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return repr(value)

    def emit(obj: Any, section: str) -> None:
        nested = []
        tables = []
        for f in dataclasses.fields(obj):
            if f.metadata.get("internal"):
                continue
            value = getattr(obj, f.name)
            if value is None:
                lines.append(f"# {f.name}: unset")
            elif dataclasses.is_dataclass(value):
                nested.append((f.name, value))
            elif isinstance(value, list) and value and dataclasses.is_dataclass(value[0]):
                tables.append((f.name, value))
            else:
                lines.append(f"{f.name} = {fmt(value)}")
        for name, value in nested:
            lines.append("")
            lines.append(f"[{section + name}]")
            emit(value, section + name + ".")
        for name, items in tables:
            for item in items:
                lines.append("")
                lines.append(f"[[{section + name}]]")
                emit(item, section + name + ".")

    emit(config, "")
    return "\n".join(lines) + "\n"


@dataclass
class ServiceConfig:
    """Running unattended: `instrument status` and systemd's watchdog."""

    # Answer `instrument status` on a local unix socket (mode 0600; never a network port).
    status: bool = True
    # The socket's path (unset: $RUNTIME_DIRECTORY/status.sock under systemd, else
    # $XDG_RUNTIME_DIR/instrument/status.sock, else <state dir>/run/status.sock).
    status_socket: str | None = None
    # Under systemd with WatchdogSec=, ping the watchdog while the engine and audio run.
    watchdog: bool = True
