"""Summary statistics of the historical fit of a run to data (Sterman, "Appropriate summary
statistics for evaluating the historical fit of system dynamics models", *Dynamica* 10(2), 1984).

For simulated values ``S`` and actual values ``A`` of one series, with means ``mS`` and ``mA``,
standard deviations ``sS`` and ``sA`` (divided by n) and correlation ``r``, the mean square error
splits exactly into three parts:

    MSE = (mS - mA)**2 + (sS - sA)**2 + 2 (1 - r) sS sA

Theil's inequality statistics are those parts over MSE: ``U^M`` (bias), ``U^S`` (unequal
variation) and ``U^C`` (unequal covariation, the unsystematic part), and they sum to 1. A good fit
has its error in ``U^C``: the model tracks the trend and the swings, and misses only the noise.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import ArrayLike

from pssc_sim.errors import ParameterError


@dataclass(frozen=True, slots=True)
class FitStatistics:
    """The fit of one series: R², MAPE, RMSE and Theil's U^M, U^S, U^C.

    ``r2`` is the squared correlation of simulated and actual values, ``mape`` the mean absolute
    error as a fraction of the actual value (over non-zero actual values; 0.05 is 5%), ``rmse``
    the root mean square error in the series' units. The Theil shares are ``nan`` for a perfect
    fit (MSE of zero), and ``r2`` is ``nan`` when either series is constant.
    """

    n: int
    r2: float
    mape: float
    rmse: float
    theil_um: float
    theil_us: float
    theil_uc: float

    def to_dict(self) -> dict[str, float | int | None]:
        """The statistics as JSON-ready values (``None`` where undefined)."""
        return {
            key: None if isinstance(value, float) and not math.isfinite(value) else value
            for key, value in asdict(self).items()
        }


def fit_statistics(simulated: ArrayLike, actual: ArrayLike) -> FitStatistics:
    """Sterman's (1984) summary statistics of ``simulated`` against ``actual``.

    Examples
    --------
    >>> stats = fit_statistics([2.0, 3.0, 4.0], [1.0, 2.0, 3.0])  # off by a constant
    >>> stats.rmse, stats.theil_um, stats.theil_us, stats.theil_uc
    (1.0, 1.0, 0.0, 0.0)
    """
    s = np.asarray(simulated, dtype=float)
    a = np.asarray(actual, dtype=float)
    if s.shape != a.shape or s.ndim != 1 or s.size == 0:
        raise ParameterError(
            f"simulated, actual: expected two 1-D arrays of the same length, not "
            f"empty (got shapes {s.shape} and {a.shape}). Pair each simulated "
            "value with its observation"
        )
    error = s - a
    mse = float(np.mean(error**2))
    s_sd, a_sd = float(s.std()), float(a.std())
    r = (
        float(np.mean((s - s.mean()) * (a - a.mean())) / (s_sd * a_sd))
        if s_sd * a_sd > 0
        else (math.nan)
    )
    nonzero = a != 0
    with np.errstate(over="ignore"):  # a tiny actual value gives an infinite MAPE, as it should
        mape = (
            float(np.mean(np.abs(error[nonzero]) / np.abs(a[nonzero])))
            if nonzero.any()
            else (math.nan)
        )
    if mse > 0:
        um = (float(s.mean()) - float(a.mean())) ** 2 / mse
        us = (s_sd - a_sd) ** 2 / mse
        # U^C by its definition when r is defined; when a series is constant the covariation
        # term vanishes (sS sA = 0).
        uc = 2 * (1 - r) * s_sd * a_sd / mse if math.isfinite(r) else 0.0
    else:
        um = us = uc = math.nan
    return FitStatistics(int(s.size), r * r, mape, math.sqrt(mse), um, us, uc)
