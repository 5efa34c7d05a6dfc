"""Which layout ``instrument run`` starts: :func:`create`.

With audio on JACK (and ``audio.engine_process``, the default), whichever the MIDI API
(JACK MIDI, or ALSA MIDI through rtmidi), the instrument runs in two processes
(:class:`~instrument.live.audio_process.TwoProcessInstrument`);
otherwise, or when the shared memory between them cannot be made, in one
(:class:`~instrument.live.one_process.OneProcessInstrument`). Both have ``start()``,
``wait()``, ``request_stop()``, ``stop()`` and ``exit_code``.
"""

from __future__ import annotations

import logging

from instrument.config import Config
from instrument.live.audio_process import TwoProcessInstrument
from instrument.live.backends import engine_in_own_process, resolve_backends
from instrument.live.one_process import OneProcessInstrument
from instrument.live.sound_side import ProcessLinks

log = logging.getLogger(__name__)


def create(config: Config) -> OneProcessInstrument | TwoProcessInstrument:
    """The instrument for ``config`` in the layout it resolves to on this machine."""
    backends = resolve_backends(config)
    if engine_in_own_process(config, backends):
        try:
            links = ProcessLinks.create()
        except OSError as exc:  # e.g. a file size limit smaller than the rings
            log.warning("cannot create the shared memory for an engine process (%s); "
                        "running in one process", exc)
        else:
            return TwoProcessInstrument(config, backends, links)
    return OneProcessInstrument(config, backends)
