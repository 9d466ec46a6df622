"""`cdrwatch evaluate`: score the detectors against labelled traffic (precision, recall, latency).

    evaluation = evaluate(events, labels, policy, campaigns)
"""

from streams.evaluation.expected import EXPECTED, expected_for
from streams.evaluation.observe import Observation, evaluate, observe
from streams.evaluation.scoring import Evaluation

__all__ = ["EXPECTED", "Evaluation", "Observation", "evaluate", "expected_for", "observe"]
