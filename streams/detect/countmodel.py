"""Count model for windowed volumes: a negative-binomial tail threshold that works at low
counts, with each key's over-dispersion learned from its own history.

A z-score is meaningless at a mean of 0.4 calls per window; the NB tail is not. Its size
`k` (variance = mu + mu^2 / k) is estimated by the method of moments on the key's residuals
against its seasonal mean, shrunk toward a prior while the key is young
(docs/count-model.md has the formulas).
"""

from __future__ import annotations

import math
from functools import lru_cache

from scipy.stats import nbinom

# Bounds on a learned NB size. Below 0.5 a window's count is wilder than a geometric
# distribution's and one noisy day would silence a key; above 1000 the NB is Poisson to
# within 0.1% of the variance at 1 call per window, and to 5% at 50.
SIZE_MIN = 0.5
SIZE_MAX = 1000.0


def _round2(value: float) -> float:
    """Two significant digits: thresholds barely move below that, and the cache stays small."""
    if value <= 0:
        return 0.01
    exp = math.floor(math.log10(value))
    return round(value, 1 - exp)


@lru_cache(maxsize=16384)
def _threshold(mean: float, size: float, p_value: float) -> int:
    p = size / (size + mean)
    return int(nbinom.isf(p_value, size, p)) + 1


def nb_threshold(mean: float, size: float, p_value: float) -> int:
    """Smallest count k with P(X >= k) < p_value when X ~ NB(mean, size)."""
    return _threshold(_round2(mean), _round2(size), p_value)


def nb_tail(observed: int, mean: float, size: float) -> float:
    """P(X >= observed): the statistic an analyst reads next to the threshold."""
    p = size / (size + max(mean, 0.01))
    return float(nbinom.sf(observed - 1, size, p))


def excess_sample(count: int, mean: float, base_rate: float) -> float:
    """One window's estimate of the variance beyond Poisson, (count - mean)^2 - mean.

    `mean` is itself an EWMA of the counts (weight `base_rate`), so the residual's variance
    is the count's times 2 / (2 - base_rate); the factor takes that back out.
    """
    resid = count - mean
    return resid * resid * (2 - base_rate) / 2 - mean


def nb_size(excess: float, mean_sq: float, windows: int, prior_size: float,
            prior_windows: float) -> float:
    """The key's NB size from its moments: phi = E[excess] / E[mean^2] (phi = 1 / size),
    averaged with the prior's phi as if the prior were `prior_windows` windows of data."""
    prior = 1.0 / prior_size
    own = max(excess, 0.0) / mean_sq if mean_sq > 0 else prior
    phi = (windows * own + prior_windows * prior) / (windows + prior_windows)
    return min(SIZE_MAX, max(SIZE_MIN, 1.0 / phi)) if phi > 0 else SIZE_MAX
