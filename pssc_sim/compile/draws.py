"""The random numbers generated code draws: a counter-based generator and the normal quantile.

A draw is a function of five integers, ``(call, call seed, run seed, member, step)``: each is
mixed into a 64-bit state by the SplitMix64 finaliser (Steele, Lea and Flood, "Fast splittable
pseudorandom number generators", OOPSLA 2014), and the top 53 bits give a number uniform on
(0, 1). Nothing is stored between steps, so a member's stream does not depend on how an ensemble
is cut into chunks or spread over workers, and every run with the same seed repeats exactly.
Both dialects of generated code (numpy arrays, Python floats) give the same numbers.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any

import numpy as np

_GOLDEN = 0x9E3779B97F4A7C15
_MIX1, _MIX2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB
_MASK = (1 << 64) - 1
_UNIT = 2.0**-53
#: Probabilities kept this far from 0 and 1, where the normal quantile is infinite.
_EDGE = 1e-300


def _mix_array(x: np.ndarray) -> np.ndarray:
    x = x + np.uint64(_GOLDEN)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(_MIX1)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(_MIX2)
    mixed: np.ndarray = x ^ (x >> np.uint64(31))
    return mixed


def _words(value: Any) -> np.ndarray:
    """``value`` rounded to integers, as 64-bit words (negative numbers wrap)."""
    return np.atleast_1d(np.rint(np.asarray(value, dtype=float))).astype(np.int64).astype(np.uint64)


def uniform_draw(*keys: Any) -> np.ndarray:
    """The uniform numbers of ``keys`` (numbers or arrays that broadcast), in (0, 1).

    Examples
    --------
    >>> a = uniform_draw(7, 0, 0, np.arange(3), 5)
    >>> a.shape, bool(((0 < a) & (a < 1)).all()), len(set(a.tolist()))
    ((3,), True, 3)
    >>> float(uniform_draw(7, 0, 0, 1, 5)[()]) == uniform_draw_scalar(7, 0, 0, 1, 5) == float(a[1])
    True
    """
    shape = np.broadcast_shapes(*(np.shape(k) for k in keys))
    with np.errstate(over="ignore"):
        state = _mix_array(np.zeros(1, dtype=np.uint64))
        for key in keys:
            state = _mix_array(state ^ _words(key))
    values = ((state >> np.uint64(11)).astype(np.float64) + 0.5) * _UNIT
    return values.reshape(shape)


def _mix(x: int) -> int:
    x = (x + _GOLDEN) & _MASK
    x = ((x ^ (x >> 30)) * _MIX1) & _MASK
    x = ((x ^ (x >> 27)) * _MIX2) & _MASK
    return x ^ (x >> 31)


def uniform_draw_scalar(*keys: float) -> float:
    """:func:`uniform_draw` of plain numbers, on Python integers."""
    state = _mix(0)
    for key in keys:
        state = _mix(state ^ (round(key) & _MASK))
    return ((state >> 11) + 0.5) * _UNIT


def truncated_normal(u: Any, low: Any, high: Any) -> np.ndarray:
    """The standard normal quantile of ``u`` within ``[low, high]``; computed in the tail
    nearer zero, where the distribution function keeps its precision.

    >>> float(truncated_normal(0.5, -np.inf, np.inf))
    0.0
    >>> bool(truncated_normal(0.999, 0.0, 1.0) <= 1.0)
    True
    """
    from scipy.special import ndtr, ndtri

    u, low, high = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (u, low, high)))
    upper = low > 0  # both bounds in the upper tail: mirror into the lower one
    a = np.where(upper, ndtr(-high), ndtr(low))
    b = np.where(upper, ndtr(-low), ndtr(high))
    p = np.clip(np.where(upper, b - u * (b - a), a + u * (b - a)), _EDGE, 1 - 1e-16)
    value = ndtri(p)
    result: np.ndarray = np.clip(np.where(upper, -value, value), low, high)
    return result


_STANDARD = NormalDist()


def truncated_normal_scalar(u: float, low: float, high: float) -> float:
    """:func:`truncated_normal` of plain numbers."""
    upper = low > 0
    a = _STANDARD.cdf(-high) if upper else _STANDARD.cdf(low)
    b = _STANDARD.cdf(-low) if upper else _STANDARD.cdf(high)
    p = b - u * (b - a) if upper else a + u * (b - a)
    value = _STANDARD.inv_cdf(min(max(p, _EDGE), 1 - 1e-16))
    value = -value if upper else value
    return min(max(value, low), high) if not math.isnan(value) else value


class _Shaped:
    """A scipy distribution with its shape, location and scale: :meth:`cdf` and :meth:`ppf`
    call the distribution's own methods with them. (A frozen scipy distribution copies the
    distribution and writes its docstring each time it is made: about a millisecond a draw.)"""

    def __init__(self, distribution: Any, *shapes: Any, **where: Any) -> None:
        self.distribution, self.shapes, self.where = distribution, shapes, where

    def cdf(self, x: Any) -> Any:
        return self.distribution.cdf(x, *self.shapes, **self.where)

    def ppf(self, q: Any) -> Any:
        return self.distribution.ppf(q, *self.shapes, **self.where)


def _distribution(kind: str, parameters: list[np.ndarray]) -> tuple[_Shaped, bool]:
    """The scipy distribution of ``kind`` with ``parameters``, and whether it lives on the
    integers. Vensim's definitions (Functions reference, RANDOM Number Functions): a gamma of
    order O and scale 1; a Weibull of shape S scaled to mean 1; a triangular between start and
    end peaking at peak; a binomial count of successes in N trials; a negative binomial count of
    the trials needed for N successes (from N up)."""
    from scipy import stats
    from scipy.special import gamma

    if kind == "gamma":
        return _Shaped(stats.gamma, parameters[0]), False
    if kind == "beta":
        return _Shaped(stats.beta, parameters[0], parameters[1]), False
    if kind == "weibull":
        shape = parameters[0]
        return _Shaped(stats.weibull_min, shape, scale=1 / gamma(1 + 1 / shape)), False
    if kind == "triangular":
        start, peak, end = parameters
        width = end - start
        return _Shaped(stats.triang, (peak - start) / width, loc=start, scale=width), False
    if kind == "poisson":
        return _Shaped(stats.poisson, parameters[0]), True
    if kind == "binomial":
        return _Shaped(stats.binom, np.rint(parameters[1]), parameters[0]), True
    if kind == "negative_binomial":
        successes = np.rint(parameters[1])
        return _Shaped(stats.nbinom, successes, parameters[0], loc=successes), True
    raise ValueError(kind)


def quantile(kind: Any, u: Any, low: Any, high: Any, *parameters: Any) -> np.ndarray:
    """The quantile of ``u`` under distribution ``kind`` (an index into
    :data:`~pssc_sim.ir.functions.QUANTILE_KINDS`) conditioned on ``[low, high]``; NaN where
    the parameters are outside the distribution's domain or no value lies within the bounds.

    >>> float(quantile(4, 0.5, 0, np.inf, 3.0))  # the median of a Poisson of mean 3
    3.0
    >>> float(quantile(4, 0.01, 5, 7, 3.0))  # conditioned on 5 to 7
    5.0
    """
    from pssc_sim.ir.functions import QUANTILE_KINDS

    name = QUANTILE_KINDS[int(np.asarray(kind).flat[0])][0]
    u, low, high, *given = np.broadcast_arrays(
        *(np.asarray(v, dtype=float) for v in (u, low, high, *parameters))
    )
    distribution, discrete = _distribution(name, given)
    if discrete:
        low, high = np.ceil(low - 1e-9), np.floor(high + 1e-9)
        below = distribution.cdf(low - 1)
    else:
        below = distribution.cdf(low)
    above = distribution.cdf(high)
    value = distribution.ppf(np.clip(below + u * (above - below), 0.0, 1.0))
    result: np.ndarray = np.where(low <= high, np.clip(value, low, high), np.nan)
    return result


def quantile_scalar(kind: float, u: float, low: float, high: float, *parameters: float) -> float:
    """:func:`quantile` of plain numbers."""
    return float(quantile(kind, u, low, high, *parameters))
