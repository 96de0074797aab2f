"""Weighted least squares with multi-start: :func:`scipy.optimize.least_squares` from the points
of a Latin hypercube over the bounds, every batch of runs done as one ensemble.

- The starts' first residuals are one ensemble call; each Jacobian is one ensemble of ``p + 1``
  members (the point and one forward step per parameter, a backward step at an upper bound).
- Residuals are ``(simulated - observed) / sd``: the sd of each observation where the data give
  one (a ``NAME:sd`` column or an error model), else a scale per series. Series without a known
  sd are fitted twice: first scaled by the spread of their data, then by the root mean square
  of their own residuals at the first fit (a two-step weighted fit), so series in different
  units count alike and each by its own noise.
- The covariance of the estimates is ``s² (JᵀJ)⁻¹`` with ``s²`` the residual variance
  ``SSR / (n - p)`` (Bates and Watts, *Nonlinear Regression Analysis*, 1988, ch. 2); intervals
  are ``estimate ± t(0.975, n - p) · se``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pssc_sim.errors import ParameterError
from pssc_sim.inference.problem import Problem
from pssc_sim.scenario.sampling import unit_samples

#: Forward-difference step as a share of each parameter's bounds, for fixed-step runs (whose
#: results are smooth in the parameters to rounding error) and for adaptive runs (whose results
#: carry the solver's tolerance as noise).
STEP_FIXED, STEP_ADAPTIVE = 1e-6, 1e-4
#: ``JᵀJ`` counts as near-singular when the smallest singular value of the Jacobian (each
#: column scaled by its parameter's bounds) is below this share of the largest.
SINGULAR = 1e-6
#: Residual given to a run that failed, so the search turns away from it.
FAILED = 1e6
#: Two starts reached the same fit when their costs differ by less than this share.
SAME_COST = 1e-6
#: Jacobians a start takes at the least, counted when choosing the runs' back end (the case
#: studies' starts take from about 10 to 60).
JACOBIANS_PER_START = 10


@dataclass(frozen=True, slots=True, eq=False)
class LeastSquaresFit:
    """The best fit of a multi-start least-squares search.

    ``covariance`` is ``s² (JᵀJ)⁻¹`` in the parameters' units; ``singular`` lists parameters in
    a direction the data do not determine (near-singular ``JᵀJ``); ``reached`` is how many starts
    ended at the best cost.
    """

    x: np.ndarray
    covariance: np.ndarray
    residual_variance: float
    dof: int
    cost: float
    starts: int
    reached: int
    singular: tuple[str, ...]
    scales: tuple[np.ndarray, ...]


class Residuals:
    """Scaled residuals of the problem's series, for one parameter set or an ensemble of them."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        series = problem.observations.series
        self.known = tuple(s.sd is not None for s in series)
        self.scales = tuple(
            s.sd if s.sd is not None else np.full(s.size, _spread(s.values)) for s in series
        )
        self._cache: dict[bytes, np.ndarray] = {}

    def many(self, theta: np.ndarray) -> np.ndarray:
        """Residual vectors of parameter sets ``theta`` ``(members, p)``: ``(members, n)``."""
        predictions = self.problem.predict(theta)
        rows = [
            (prediction - s.values[:, None]) / scale[:, None]
            for prediction, s, scale in zip(
                predictions, self.problem.observations.series, self.scales, strict=True
            )
        ]
        residuals = np.vstack(rows).T
        residuals[~np.isfinite(residuals)] = FAILED
        for x, r in zip(theta, residuals, strict=True):
            self._cache[x.tobytes()] = r
        return residuals

    def one(self, x: np.ndarray) -> np.ndarray:
        """The residual vector at ``x`` (from the runs already made when it was among them)."""
        found = self._cache.get(np.asarray(x, dtype=float).tobytes())
        return found if found is not None else self.many(np.asarray(x, dtype=float)[None, :])[0]

    def jacobian(self, x: np.ndarray, step: float) -> np.ndarray:
        """Forward differences from one ensemble of ``p + 1`` members: ``(n, p)``."""
        problem = self.problem
        h = step * (problem.highs - problem.lows)
        h = np.where(x + h > problem.highs, -h, h)  # a backward step at the upper bound
        members = np.vstack([x, x + np.diag(h)])
        residuals = self.many(members)
        return np.asarray((residuals[1:] - residuals[0]).T / h)

    def reweighted(self, x: np.ndarray) -> Residuals:
        """Residuals whose series without a known sd are scaled by their own RMS residual at x."""
        fitted = Residuals(self.problem)
        r = self.one(x)
        sizes = np.cumsum([0, *(s.size for s in self.problem.observations.series)])
        scales = []
        for k, known in enumerate(self.known):
            part = r[sizes[k] : sizes[k + 1]] * self.scales[k]
            rms = float(np.sqrt(np.mean(part**2)))
            scales.append(self.scales[k] if known or rms == 0 else np.full(part.size, rms))
        fitted.scales = tuple(scales)
        return fitted


def _spread(values: np.ndarray) -> float:
    """A scale for a series with no known sd: its standard deviation, or its magnitude."""
    spread = float(values.std())
    if spread > 0:
        return spread
    magnitude = float(np.abs(values).max())
    return magnitude if magnitude > 0 else 1.0


def fit_least_squares(
    problem: Problem,
    *,
    starts: int = 8,
    seed: int = 42,
    progress: Callable[[float], None] | None = None,
) -> LeastSquaresFit:
    """The best of ``starts`` least-squares fits started from a seeded Latin hypercube."""
    from scipy.optimize import least_squares

    p, n = len(problem.parameters), problem.observations.size
    if starts < 1:
        raise ParameterError(f"starts: at least one start is needed (got {starts}). Use e.g. 8")
    if n <= p:
        raise ParameterError(
            f"{problem.observations.source}: {n} observations cannot determine "
            f"{p} parameters (got {n} <= {p}). Add observations or fit fewer "
            "parameters"
        )
    from pssc_sim.integrate.methods import METHODS

    step = STEP_FIXED if METHODS[problem.method].fixed_step else STEP_ADAPTIVE
    problem.plan_backend(starts * JACOBIANS_PER_START)
    lows, highs = problem.lows, problem.highs
    x0s = lows + unit_samples("latin-hypercube", starts, p, seed) * (highs - lows)
    residuals = Residuals(problem)
    first = residuals.many(x0s)
    order = np.argsort(np.sum(first**2, axis=1), kind="stable")

    def solve(res: Residuals, x0: np.ndarray) -> tuple[np.ndarray, float]:
        fit = least_squares(
            res.one,
            x0,
            jac=lambda x: res.jacobian(x, step),
            bounds=(lows, highs),
            method="trf",
            x_scale="jac",
        )
        return np.asarray(fit.x), float(fit.cost)

    ends = []
    for i, index in enumerate(order):
        ends.append(solve(residuals, x0s[index]))
        if progress is not None:
            progress((i + 1) / (starts + 1))
    costs = np.array([cost for _, cost in ends])
    best = ends[int(np.argmin(costs))][0]
    reached = int(np.sum(costs <= costs.min() * (1 + SAME_COST) + 1e-300))
    if not all(residuals.known):
        residuals = residuals.reweighted(best)
        best, _ = solve(residuals, best)
    return _summarise(problem, residuals, best, step, starts, reached)


def _summarise(
    problem: Problem, residuals: Residuals, x: np.ndarray, step: float, starts: int, reached: int
) -> LeastSquaresFit:
    """Covariance, residual variance and near-singular directions at the best fit ``x``."""
    r = residuals.one(x)
    jacobian = residuals.jacobian(x, step)
    n, p = jacobian.shape
    dof = n - p
    variance = float(r @ r) / dof
    widths = problem.highs - problem.lows
    _, sv, vt = np.linalg.svd(jacobian * widths, full_matrices=False)
    floor = sv[0] * 1e-12 if sv[0] > 0 else 1.0
    inverse = (vt.T / np.maximum(sv, floor) ** 2) @ vt  # (JᵀJ)⁻¹ in bounds-scaled units
    covariance = variance * inverse * np.outer(widths, widths)
    weak = sv < SINGULAR * sv[0] if sv[0] > 0 else np.ones(p, dtype=bool)
    involved = np.any(np.abs(vt[weak]) > 0.1, axis=0) if weak.any() else np.zeros(p, bool)
    singular = tuple(name for name, flag in zip(problem.names, involved, strict=True) if flag)
    return LeastSquaresFit(
        x,
        covariance,
        variance,
        dof,
        0.5 * float(r @ r),
        starts,
        reached,
        singular,
        residuals.scales,
    )
