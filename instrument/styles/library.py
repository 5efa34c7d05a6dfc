"""The styles the band can play: the shipped ones and the player's own, and choosing one.

Shipped styles live beside this module (``shipped/*.toml``); a player's style is a
``*.toml`` file in the user styles directory (:func:`~instrument.places.user_styles_dir`),
picked up the same way, and one with a shipped style's name replaces it. A file that
does not parse is left out with its error (naming the file and line) kept in
:attr:`StyleLibrary.errors`, so one bad file never silences the band; ``instrument
check`` reports them.

:meth:`StyleLibrary.choose` picks a style for the meter heard and the player's feel.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from instrument.music import Meter
from instrument.styles.style import Feel, Style, StyleError, parse_style

log = logging.getLogger(__name__)

SHIPPED_DIR = Path(__file__).resolve().parent / "shipped"
#: The style that fits any meter: held chords and a bass note (the band at its plainest).
PAD = "pad"
#: Played in the order of how busy the player is (an unlisted feel is furthest).
_FEEL_ORDER = (Feel.SPARSE, Feel.STEADY, Feel.BUSY)
AUTO = "auto"


@dataclass
class StyleLibrary:
    styles: dict[str, Style] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, user_dir: Path | None = None) -> StyleLibrary:
        """The shipped styles, then the player's from ``user_dir`` (if it exists)."""
        library = cls()
        library._load_dir(SHIPPED_DIR)
        if user_dir is not None and user_dir.is_dir():
            library._load_dir(user_dir)
        if PAD not in library.styles:
            raise StyleError(f"the shipped style {PAD!r} is missing from {SHIPPED_DIR}")
        return library

    def _load_dir(self, directory: Path) -> None:
        for path in sorted(directory.glob("*.toml")):
            try:
                style = parse_style(path.read_text(encoding="utf-8"), source=str(path))
            except (OSError, UnicodeDecodeError) as exc:
                self.errors.append(f"{path}: cannot read: {exc}")
                continue
            except StyleError as exc:
                self.errors.append(str(exc))
                continue
            self.styles[style.name] = style

    @property
    def names(self) -> list[str]:
        return sorted(self.styles)

    def get(self, name: str) -> Style:
        """The style called ``name``; KeyError names the ones there are."""
        try:
            return self.styles[name]
        except KeyError:
            raise KeyError(f"no style {name!r}; styles: {', '.join(self.names)}") from None

    def choose(self, meter: Meter, feel: Feel) -> Style:
        """The style for ``meter`` nearest ``feel`` (the pad when none fits the meter)."""
        fitting = [s for s in self.styles.values() if s.fits(meter) and s.name != PAD]
        if not fitting:
            return self.styles[PAD]
        want = _FEEL_ORDER.index(feel)

        def distance(style: Style) -> tuple[int, int, str]:
            own = _FEEL_ORDER.index(style.feel)
            # Equal distances: the style written in this very meter, then by name.
            return abs(own - want), int(style.meter != meter), style.name

        return min(fitting, key=distance)
