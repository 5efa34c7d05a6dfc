"""What the instrument learns while it plays, on top of the models and the baselines.

- ``tune_memory``: ``TuneMemory``, per beat the melody heard and, with hindsight, the
  chord that fitted the bar; repeats recognised and their chords blended into the
  accompaniment's distribution;
- ``hindsight``: the chord that fits a whole bar or beat, once it is over;
- ``note_memory``: the player's notes of this tune, for a copy model of continuation;
- ``adaptive``: ``AdaptiveContinuator``, the neural continuation mixed with the online
  Markov model (the gig) and the copy model (this tune).
"""
