"""Write the small MIDI files in ``tests/data/`` from validation-split tunes.

    python -m training.make_test_data [--out tests/data] [--bars 8]

Four files, each the first ``--bars`` bars of a tune the models never trained on: a Bach
chorale (soprano + alto/tenor/bass as the reference accompaniment track), a reel in 4/4
or 2/4, a jig in 6/8 and a waltz-time song in 3/4 (melody only).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from instrument.models.tune import Tune, write_midi
from training import corpus, data
from training.loop import REPO


def _first_bars(t: Tune, bars: int) -> Tune:
    end = bars * t.meter.ticks_per_bar
    mel = [n for n in t.melody if n.onset < end]
    acc = [n for n in t.accompaniment if n.onset < end]
    return Tune(t.name, t.meter, mel, acc)


def _pick(tunes: list[Tune], meter: str, contains: str) -> Tune:
    for t in tunes:
        if str(t.meter) == meter and contains in t.name and len(t.melody) >= 24:
            return t
    raise LookupError(f"no validation tune in {meter} from {contains}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=REPO / "tests" / "data")
    parser.add_argument("--bars", type=int, default=8)
    args = parser.parse_args(argv)
    _, chorales = data.split(data.tune_from_record(r) for r in corpus.chorales())
    _, folk = data.split(data.tune_from_record(r) for r in corpus.folk_tunes())
    picks = {
        "chorale_4-4.mid": _pick(chorales, "4/4", "bach"),
        "reel_4-4.mid": _pick(folk, "4/4", "ryansMammoth"),
        "jig_6-8.mid": _pick(folk, "6/8", "oneills1850"),
        "song_3-4.mid": _pick(folk, "3/4", "essenFolksong"),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    for name, tune in picks.items():
        write_midi(_first_bars(tune, args.bars), args.out / name)
        print(f"{args.out / name}: {tune.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
