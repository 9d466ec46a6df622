"""Count model for windowed volumes: a negative-binomial tail threshold that works at low counts.

A z-score is meaningless at a mean of 0.4 calls per window; the NB tail is not, and its
dispersion term keeps ordinary daily swings (variance above the Poisson mean) from alerting.
"""

from __future__ import annotations

import math
from functools import lru_cache

from scipy.stats import nbinom


def _round_mean(mean: float) -> float:
    """Two significant digits: thresholds barely move below that, and the cache stays small."""
    if mean <= 0:
        return 0.01
    exp = math.floor(math.log10(mean))
    return round(mean, 1 - exp)


@lru_cache(maxsize=4096)
def _threshold(mean: float, dispersion: float, p_value: float) -> int:
    p = dispersion / (dispersion + mean)
    return int(nbinom.isf(p_value, dispersion, p)) + 1


def nb_threshold(mean: float, dispersion: float, p_value: float) -> int:
    """Smallest count k with P(X >= k) < p_value when X ~ NB(mean, dispersion)."""
    return _threshold(_round_mean(mean), dispersion, p_value)


def nb_tail(observed: int, mean: float, dispersion: float) -> float:
    """P(X >= observed): the statistic an analyst reads next to the threshold."""
    p = dispersion / (dispersion + max(mean, 0.01))
    return float(nbinom.sf(observed - 1, dispersion, p))
