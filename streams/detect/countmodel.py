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


def _grid(size: float) -> float:
    """Down to a step of 2**(1/4) (19%): a learned size takes few values, so the threshold
    cache holds, and rounding down only widens the threshold."""
    return 2.0 ** (math.floor(4 * math.log2(size)) / 4)


def nb_threshold(mean: float, size: float, p_value: float) -> int:
    """Smallest count k with P(X >= k) < p_value when X ~ NB(mean, size), for the mean to
    two significant digits and the size on its grid."""
    return _threshold(_round2(mean), _grid(size), p_value)


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


def silent_moments(excess: float, mean_sq: float, base: float, windows: int,
                   rate: float, base_rate: float) -> tuple[float, float]:
    """`excess` and `mean_sq` after `windows` windows without a call, in closed form.

    Silent window i (from 0) is a zero count where the decaying baseline said
    b_i = base * q**i (q = 1 - base_rate): it adds c * b_i**2 - b_i to the excess and
    b_i**2 to mean_sq (c as in `excess_sample`). With A = 1 - rate, the EW sums are
    A**w * M + rate * sum_i A**(w-1-i) * r**i, a geometric series in r = q and r = q**2.
    """
    keep = (1 - rate) ** windows
    q = 1 - base_rate
    lin, sq = _series(1 - rate, q, windows), _series(1 - rate, q * q, windows)
    c = (2 - base_rate) / 2
    return (keep * excess + rate * (c * base * base * sq - base * lin),
            keep * mean_sq + rate * base * base * sq)


def _series(a: float, r: float, n: int) -> float:
    """sum_{i<n} a**(n-1-i) * r**i."""
    if abs(a - r) < 1e-12:
        return n * a ** (n - 1)
    return (a ** n - r ** n) / (a - r)


def nb_phi(excess: float, mean_sq: float, windows: int, prior_size: float,
           prior_windows: float, rate: float) -> tuple[float, float]:
    """The key's over-dispersion phi = 1 / size and its standard error.

    Method of moments: phi = E[excess] / E[mean^2], averaged with the prior's 1 / size as
    if the prior were `prior_windows` windows of data. The error is the sampling error of a
    variance estimated from the EW's effective (2 - rate) / rate windows, with sd(r^2) =
    var * sqrt(2 + kurt) and the NB's own excess kurtosis kurt = 6 phi + 1 / mean:
    se(own) = (phi + 1 / mean) * sqrt((2 + kurt) / n_eff).
    """
    prior = 1.0 / prior_size
    if mean_sq <= 0 or windows <= 0:
        return prior, 0.0
    own = max(excess, 0.0) / mean_sq
    weight = windows / (windows + prior_windows)
    n_eff = min(windows, (2 - rate) / rate)
    rms_mean = math.sqrt(mean_sq / (1 - (1 - rate) ** windows))  # EW started at 0
    kurt = 6 * own + 1 / rms_mean
    se = weight * (own + 1 / rms_mean) * math.sqrt((2 + kurt) / n_eff)
    return weight * own + (1 - weight) * prior, se


def size_of(phi: float) -> float:
    """NB size of an over-dispersion, within [SIZE_MIN, SIZE_MAX]."""
    return SIZE_MAX if phi <= 1 / SIZE_MAX else max(SIZE_MIN, 1 / phi)
