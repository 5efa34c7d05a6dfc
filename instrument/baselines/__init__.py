"""Classic generators: the fallbacks when a model misses its deadline, and the yardsticks.

- ``markov.MarkovContinuator``: variable-order (0-4) Markov continuation that learns
  online from the player, behind the same interface as the neural continuation model.
- ``rules.RuleArranger``: key estimate plus diatonic chord fit with hysteresis, behind
  the same interface as the neural accompaniment model.

Pure numpy; no model files needed (the Markov prior is optional).
"""

from instrument.baselines.markov import MarkovContinuator
from instrument.baselines.rules import RuleArranger

__all__ = ["MarkovContinuator", "RuleArranger"]
