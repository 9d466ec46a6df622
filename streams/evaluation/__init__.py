"""`cdrwatch evaluate`: score the detectors against labelled traffic (precision, recall, latency).

    evaluation = evaluate(events, labels, policy, campaigns)

The names below load on first use (PEP 562), so `cdrwatch evaluate --help`, which imports
the `cli` submodule, does not pay for the engine and scipy.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOME = {
    "EXPECTED": "streams.evaluation.expected",
    "expected_for": "streams.evaluation.expected",
    "Evaluation": "streams.evaluation.scoring",
    "Observation": "streams.evaluation.observe",
    "evaluate": "streams.evaluation.observe",
    "observe": "streams.evaluation.observe",
}
__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOME[name]), name)
