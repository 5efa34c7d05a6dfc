"""The melody forecast at every beat of a tune, as the live part reads it, cached.

The foresight encoding (``beat-features/4``) gives the accompaniment model, at each
beat's deadline, the pitch classes the continuation model expects of the melody's next
note (:class:`~instrument.models.foresight.MelodyForecast`, fed the beats' notes as the
live part and the evaluators feed them). Training needs that forecast for every beat of
every training tune: :func:`tune_forecasts` computes it with the same code, on the
tune's own key (a training batch transposes it with the rest of the beat's pitch
classes), and keeps it in ``training/cache`` under the continuation model's sha256 and
the tune's notes, so a second run costs a read (the first: about a millisecond a beat,
on two processes).
"""

from __future__ import annotations

import hashlib
import multiprocessing as mp
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from instrument.evaluation.generators import heard_by_deadline
from instrument.models.accompaniment import BeatInput
from instrument.models.tune import Tune
from training.corpus import CACHE_DIR, default_workers

_worker: dict = {}


def tune_key(tune: Tune, deadline_ticks: int) -> str:
    """What a tune's forecasts depend on besides the model: its meter and notes."""
    text = f"{tune.meter}|{deadline_ticks}|" + ";".join(
        f"{n.pitch},{n.onset}" for n in tune.melody)
    return hashlib.sha1(text.encode()).hexdigest()


def forecasts_of(forecast, tune: Tune, deadline_ticks: int) -> np.ndarray:
    """(beats, 12): the forecast at each beat's deadline, beat 0 to the tune's last
    melody beat, each beat's notes as the accompaniment is handed them
    (:func:`~instrument.evaluation.generators.heard_by_deadline`)."""
    forecast.reset()
    return np.array([forecast.observe(BeatInput(tick, tune.meter, heard))
                     for tick, heard in heard_by_deadline(tune, deadline_ticks)],
                    dtype=np.float32).reshape(-1, 12)


def _init(manifest_path: str) -> None:
    from instrument.models.foresight import MelodyForecast
    from instrument.models.loader import load_model

    _worker["forecast"] = MelodyForecast.beside(load_model(manifest_path))


def _job(job: tuple[str, Tune, int]) -> tuple[str, np.ndarray]:
    key, tune, deadline_ticks = job
    return key, forecasts_of(_worker["forecast"], tune, deadline_ticks)


def tune_forecasts(tunes: Sequence[Tune], continuation_manifest: Path, sha256: str,
                   deadline_ticks: int, workers: int | None = None) -> list[np.ndarray]:
    """Each tune's :func:`forecasts_of` from the continuation model of
    ``continuation_manifest`` (whose ONNX file's ``sha256`` names the cache)."""
    path = CACHE_DIR / f"forecasts-{sha256[:16]}.npz"
    cached: dict[str, np.ndarray] = {}
    if path.exists():
        with np.load(path) as f:
            cached = {k: f[k] for k in f.files}
    keys = [tune_key(t, deadline_ticks) for t in tunes]
    todo = {k: t for k, t in zip(keys, tunes, strict=True) if k not in cached}
    if todo:
        jobs = [(k, t, deadline_ticks) for k, t in todo.items()]
        workers = workers or default_workers()
        if workers <= 1:
            _init(str(continuation_manifest))
            results = map(_job, jobs)
            pool = None
        else:
            pool = mp.get_context("spawn").Pool(workers, _init, (str(continuation_manifest),))
            results = pool.imap_unordered(_job, jobs, chunksize=8)
        try:
            for key, value in tqdm(results, total=len(jobs), desc="melody forecasts",
                                   unit="tune"):
                cached[key] = value
        finally:
            if pool is not None:
                pool.close()
                pool.join()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.stem + ".tmp.npz")
        np.savez_compressed(tmp, **cached)
        tmp.replace(path)
    return [cached[k] for k in keys]
