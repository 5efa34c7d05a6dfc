"""Scoring the generators: teacher-forced, causal, beside the baselines.

- ``generators``: continuation and accompaniment figures, first passes and repeats,
  with and without what the instrument learns during a tune (``instrument evaluate``,
  the training scripts and the manifests' metrics).

The beat follower has its own evaluation, beside it: :mod:`instrument.follow.evaluate`.
"""
