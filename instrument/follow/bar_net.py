"""The onset networks: the bar network and the meter network, heard from the melody.

Two small GRUs trained by ``python -m training.bar_net`` on the fit part of the training
split step once per onset of the melody on the follower's beat grid, on the same input
rows. Those rows say nothing about where the bar lines are, only what a listener hears
relative to the onsets before (:func:`onset_features`):

- where in the beat the onset falls (twelve ticks a beat), how many beats it lies past
  the onset before and the length class of that gap (a note's length), the melodic
  interval into it;
- its scale degree in the key heard so far (:class:`~instrument.follow.bar.KeyFinder`);
- whether the same pitch sounded exactly 1, 2, 3, 4, 6, 8, 12 or 16 beats earlier (a
  phrase and its repeat begin at the same place of the bar);
- the meter the bar network is told (one of :data:`~instrument.follow.bar.METERS`; 0
  for the meter network, which is told none).

- **The bar network** (task ``bar``, ``exported_models/bar.onnx``) gives, for the meter
  it is told, the log-probability of each beat of the bar for that onset. So its answer
  can be turned into a score for every bar reading of that meter: reading ``phase`` puts
  onset ``i`` on beat ``(beat_i - phase) mod bar`` of its bar.
- **The meter network** (task ``meter``, ``exported_models/meter.onnx``) gives, after each
  onset, the log-probability of each meter of :data:`~instrument.follow.bar.METERS`
  given the onsets heard so far.

:class:`~instrument.follow.bar.BarReader` weighs them as its ``net`` and ``meter_net``
cues. Each is a streaming step (one ONNX run per onset, and for the bar network per
meter, the GRU state fed back), run on the CPU with one thread: about 35 us a step on
the 2-vCPU VM. Each is loaded once per process (:func:`shipped`); where one cannot be,
the reader reads the bar without it and the reason is logged.
"""

from __future__ import annotations

import bisect
import functools

import numpy as np

from instrument.follow.bar import DURATION_EDGES, METERS, duration_class
from instrument.music import TICKS_PER_BEAT

TPB = TICKS_PER_BEAT
#: Beats back at which the same pitch is looked for (a repeat's lag).
REPEAT_BEATS = (1, 2, 3, 4, 6, 8, 12, 16)
#: Vocabulary of each integer input column, in order: place in the beat, beats since
#: the onset before (8 and more as 8; 9: none), the length class of that gap (9: none),
#: the interval into the onset (-12..12 as 0..24; 25: none), the scale degree, the
#: meter, then one 0/1 column per repeat lag.
VOCAB = (TPB, 10, 10, 26, 12, 6) + (2,) * len(REPEAT_BEATS)
NONE_BEATS, NONE_GAP, NONE_INTERVAL = 9, 9, 25
METER_COLUMN = 5
#: Beats of the bar the bar network tells apart (the most of any meter it knows).
CLASSES = 4
#: The networks by task: their output's name, and how many classes it has (the meter
#: network's are the meters of :data:`~instrument.follow.bar.METERS`, in order).
TASKS = {"bar": ("beat_logits", CLASSES), "meter": ("meter_logits", len(METERS))}


def encoding_spec(task: str = "bar") -> dict:
    """The input encoding this runtime implements for the network of ``task`` (the
    manifest's must equal it)."""
    return {"name": "bar-onsets/1", "ticks_per_beat": TPB, "vocab": list(VOCAB),
            "repeat_beats": list(REPEAT_BEATS), "meters": [str(m) for m in METERS],
            "classes": TASKS[task][1]}


def onset_features(x: np.ndarray, pitch: np.ndarray, tonic: np.ndarray,
                   meter_index: int, last: bool = False) -> np.ndarray:
    """The network's input rows ([onsets, len(VOCAB)], int64) for onsets at grid ticks
    ``x`` (sorted, distinct) with ``pitch`` and the key's ``tonic`` heard at each; the
    first has no onset before it. ``last``: the last onset's row only ([1, ...]; what
    the reader needs as each onset comes, at a fraction of the cost)."""
    x = np.asarray(x, dtype=np.int64)
    pitch = np.asarray(pitch, dtype=np.int64)
    n = len(x)
    if n == 0:
        return np.zeros((0, len(VOCAB)), dtype=np.int64)
    if last:
        return _last_row(x, pitch, int(np.asarray(tonic)[-1]), meter_index)
    rows = np.arange(n)
    xs, ps = x[rows], pitch[rows]
    prev = x[np.maximum(rows - 1, 0)]
    beats = np.where(rows > 0, np.clip(xs // TPB - prev // TPB, 0, 8), NONE_BEATS)
    gap = np.where(rows > 0, np.minimum(duration_class(xs - prev), 8), NONE_GAP)
    step = np.where(rows > 0, np.clip(ps - pitch[np.maximum(rows - 1, 0)], -12, 12) + 12,
                    NONE_INTERVAL)
    back = xs[:, None] - np.array(REPEAT_BEATS)[None, :] * TPB  # [rows, lags]
    j = np.minimum(np.searchsorted(x, back), n - 1)
    repeats = (x[j] == back) & (pitch[j] == ps[:, None]) & (back >= x[0])
    cols = np.stack([xs % TPB, beats, gap, step, (ps - np.asarray(tonic)[rows]) % 12,
                     np.full(len(rows), meter_index)], axis=1)
    return np.concatenate([cols, repeats.astype(np.int64)], axis=1)


def _last_row(x: np.ndarray, pitch: np.ndarray, tonic: int, meter_index: int) -> np.ndarray:
    """:func:`onset_features`'s last row, on scalars (a third of the cost, on the engine
    thread at every onset; tests/follow/test_bar_net.py holds the two equal)."""
    xn, pn = int(x[-1]), int(pitch[-1])
    row = [xn % TPB, NONE_BEATS, NONE_GAP, NONE_INTERVAL, (pn - tonic) % 12, meter_index]
    if len(x) > 1:
        xp = int(x[-2])
        row[1] = min(max(xn // TPB - xp // TPB, 0), 8)
        row[2] = min(bisect.bisect_right(DURATION_EDGES, xn - xp), 8)
        row[3] = min(max(pn - int(pitch[-2]), -12), 12) + 12
    back = xn - _REPEAT_TICKS
    j = np.minimum(np.searchsorted(x, back), len(x) - 1)
    repeats = (x[j] == back) & (pitch[j] == pn) & (back >= x[0])
    return np.array([row + repeats.astype(int).tolist()], dtype=np.int64)


_REPEAT_TICKS = np.array(REPEAT_BEATS) * TPB


class OnsetNet:
    """An onset network's ONNX step (see the module docstring); made by
    :func:`instrument.models.load_model` from a manifest of task ``bar`` or ``meter``."""

    def __init__(self, manifest, session) -> None:
        self.manifest = manifest
        self.session = session
        self.output = TASKS[manifest.task][0]
        self.state_shape = next(t.shape for t in manifest.inputs if t.name == "state_in")
        self.providers = session.get_providers()

    def zero_state(self) -> np.ndarray:
        return np.zeros(self.state_shape, dtype=np.float32)

    def step(self, row: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One onset: its input row -> (the logits of the beats of the bar, or of the
        meters, and the next state)."""
        logits, state = self.session.run(
            [self.output, "state_out"], {"features": row[None, :], "state_in": state})
        return logits[0], state

    def warm_up(self, steps: int = 8) -> None:
        state = self.zero_state()
        for _ in range(steps):
            _, state = self.step(np.zeros(len(VOCAB), dtype=np.int64), state)


@functools.cache
def shipped(task: str = "bar") -> OnsetNet | None:
    """The shipped network of ``task``, loaded once per process (None where it cannot be
    loaded: the bar is then read without it, and the reason is logged)."""
    import logging

    from instrument.models import ModelError, load_model

    try:
        net = load_model(task)
    except ModelError as exc:
        logging.getLogger(__name__).warning("%s network not loaded: %s", task, exc)
        return None
    assert isinstance(net, OnsetNet) and net.manifest.task == task
    return net
