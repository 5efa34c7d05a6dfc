"""Following the player's beat from their note onsets alone: no click, no score.

- ``follower``: :class:`BeatFollower`, what the band talks to: onsets in; the predicted
  beat (``time_at``, ``beat_at``, ``drive(clock)``) and a ``confidence`` out;
- ``bank``: the competing hypotheses, each a Kalman filter over beat time and period,
  scored by the metrical prior and the accents;
- ``bar``: rival bar readings (meter and phase) scored by the melody: where the bar
  begins, and the meter when it is not configured (tables in ``bar_data``);
- ``prior``: where in a beat onsets fall (the metrical lattice and its styles);
- ``onsets``: chords grouped into one onset, and each onset's accent;
- ``settings``: the parameters;
- ``performance`` and ``evaluate``: played performances of grid tunes with tempo curves,
  and the follower run on them as the band uses it (``instrument evaluate --follow``).

Everything the band calls runs on the engine thread in bounded time per onset.
"""

from instrument.follow.follower import BeatFollower
from instrument.follow.settings import FollowSettings

__all__ = ["BeatFollower", "FollowSettings"]
