"""Parameters drawn together: a multivariate normal over a few parameters, for estimates that
move together (a calibration's correlated estimates), drawn from the same design as the
independent ones.

A member's values are ``x = mean + L z`` with ``L`` the Cholesky factor of the covariance and
``z`` standard normals made from the member's row of the unit design, one parameter after the
other (the sums taken in a fixed order, member by member, never by a BLAS product whose
rounding may depend on the number of rows), so seeds, chunking and a worker's draw stay
bit-identical. Without bounds ``z_i = Φ⁻¹(u_i)``: the multivariate normal itself. Where ``low``
or ``high`` bound a parameter, ``z_i`` is drawn at ``u_i`` from the normal truncated to the
values that keep ``x_i`` in its range given the ``z`` before it (the sequential conditional draw
of Geweke, Hajivassiliou and Keane; Train, *Discrete Choice Methods with Simulation*, 2009,
§5.6.3). Every value stays in its range without rejection, and since ``x`` stays ``mean + L z``,
a combination the covariance fixes (estimates that trade off) stays fixed; the first parameter's
marginal is its truncated normal, the others' are conditioned on those before them, so the order
of ``parameters`` matters only near the bounds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pssc_sim.errors import shown
from pssc_sim.scenario.schema import ScenarioError

# Unit samples are kept this far inside (0, 1), as for the independent distributions.
_EDGE = 1e-12
# Relative tolerances of the symmetry and positive semi-definiteness checks (the rounding of a
# covariance written to a few figures).
_SYMMETRY = 1e-8
_DEFINITE = 1e-10


@dataclass(frozen=True, slots=True, init=False)
class JointNormal:
    """A multivariate normal over ``parameters``: their ``mean`` and ``covariance``, each
    optionally kept in ``[low, high]`` (``None`` for no bound), checked on construction.

    Examples
    --------
    >>> joint = JointNormal(("a", "b"), (1.0, 2.0), ((1.0, 0.9), (0.9, 1.0)))
    >>> joint.ppf(np.array([[0.5, 0.5]])).tolist()
    [[1.0, 2.0]]
    >>> JointNormal(("a", "b"), (1.0, 2.0), ((1.0, 2.0), (2.0, 1.0)))
    Traceback (most recent call last):
    ...
    pssc_sim.scenario.schema.ScenarioError: covariance: not positive semi-definite (got \
eigenvalues [-1, 3]). Use the covariance the calibration estimated
    """

    parameters: tuple[str, ...]
    mean: tuple[float, ...]
    covariance: tuple[tuple[float, ...], ...]
    low: tuple[float | None, ...]
    high: tuple[float | None, ...]

    def __init__(
        self,
        parameters: Sequence[str],
        mean: Sequence[float],
        covariance: Sequence[Sequence[float]],
        low: Sequence[float | None] | None = None,
        high: Sequence[float | None] | None = None,
    ) -> None:
        names = tuple(parameters)
        size = len(names)
        _check_names(names)
        values = {
            "parameters": names,
            "mean": tuple(_numbers("mean", mean, size)),
            "covariance": _matrix(covariance, size),
            "low": _bounds("low", low, size),
            "high": _bounds("high", high, size),
        }
        for key, value in values.items():
            object.__setattr__(self, key, value)
        _check_bounds(self.low, self.high)

    def factor(self) -> np.ndarray:
        """``L``, lower triangular with ``L Lᵀ`` the covariance (its Cholesky factor; for a
        singular covariance, estimates correlated ±1, that of the covariance with the least
        multiple of the largest variance added to its diagonal that makes it definite)."""
        covariance = np.asarray(self.covariance)
        jitter = 0.0
        while True:
            try:
                return np.linalg.cholesky(covariance + jitter * np.eye(len(covariance)))
            except np.linalg.LinAlgError:
                jitter = max(10 * jitter, 1e-14 * float(np.diag(covariance).max()))

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """The parameters' values (members x parameters) at the unit rows ``u`` of the same
        shape: each member's values depend on its own row only."""
        from scipy import stats

        unit: np.ndarray = np.clip(np.asarray(u, dtype=float), _EDGE, 1.0 - _EDGE)
        root = self.factor()
        z = np.empty_like(unit)
        out = np.empty_like(unit)
        for i in range(len(self.parameters)):
            shift = np.full(unit.shape[0], self.mean[i])
            for j in range(i):  # in a fixed order, member by member
                shift = shift + root[i, j] * z[:, j]
            given_low, given_high = self.low[i], self.high[i]
            low = -math.inf if given_low is None else given_low
            high = math.inf if given_high is None else given_high
            if math.isinf(low) and math.isinf(high):
                z[:, i] = stats.norm.ppf(unit[:, i])
            else:
                a, b = (low - shift) / root[i, i], (high - shift) / root[i, i]
                z[:, i] = stats.truncnorm.ppf(unit[:, i], a, b)
            # rounding (or a range the earlier parameters already leave) stays in the bounds
            out[:, i] = np.clip(shift + root[i, i] * z[:, i], low, high)
        return out

    def renamed(self, names: Sequence[str]) -> JointNormal:
        """The same distribution over parameters called ``names``."""
        return JointNormal(names, self.mean, self.covariance, self.low, self.high)

    def to_document(self) -> dict[str, Any]:
        """The block as written in a scenario file."""
        document: dict[str, Any] = {
            "parameters": list(self.parameters),
            "distribution": "normal",
            "mean": list(self.mean),
            "covariance": [list(row) for row in self.covariance],
        }
        for key in ("low", "high"):
            if any(v is not None for v in getattr(self, key)):
                document[key] = list(getattr(self, key))
        return document

    def __reduce__(self) -> tuple[type[JointNormal], tuple[Any, ...]]:
        # pickled as its fields, for a sampling specification sent to a cluster's workers
        return (JointNormal, (self.parameters, self.mean, self.covariance, self.low, self.high))


def _check_names(names: tuple[str, ...]) -> None:
    if len(names) < 2:
        raise ScenarioError(
            f"parameters: a joint draw needs two parameters or more (got "
            f"{shown(list(names))}). Sample a single parameter under parameters:"
        )
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ScenarioError(
            f"parameters: each parameter once (got {', '.join(repeated)} twice). Remove the repeat"
        )


def _numbers(key: str, raw: Any, size: int) -> list[float]:
    if not isinstance(raw, (list, tuple)) or len(raw) != size:
        raise ScenarioError(
            f"{key}: expected a list of {size} numbers, one per parameter (got {shown(raw)}). "
            f"Write {key}: [{', '.join(['1.0'] * size)}]"
        )
    for value in raw:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ScenarioError(f"{key}: expected numbers (got {shown(value)}). Write numbers")
        if not math.isfinite(value):
            raise ScenarioError(
                f"{key}: expected finite numbers (got {shown(value)}). Write a plain number"
            )
    return [float(v) for v in raw]


def _bounds(key: str, raw: Any, size: int) -> tuple[float | None, ...]:
    if raw is None:
        return (None,) * size
    if not isinstance(raw, (list, tuple)) or len(raw) != size:
        raise ScenarioError(
            f"{key}: expected a list of {size} numbers (null for no bound), one per "
            f"parameter (got {shown(raw)}). Write {key}: [{', '.join(['0.0'] * size)}]"
        )
    return tuple(None if v is None else _numbers(key, [v], 1)[0] for v in raw)


def _matrix(raw: Any, size: int) -> tuple[tuple[float, ...], ...]:
    fix = "Give one row of numbers per parameter, as many as the parameters"
    if not isinstance(raw, (list, tuple)) or len(raw) != size:
        raise ScenarioError(
            f"covariance: expected {size} rows of {size} numbers (got {shown(raw)}). {fix}"
        )
    rows = [_numbers("covariance", row, size) for row in raw]
    matrix = np.array(rows)
    scale = float(np.abs(matrix).max())
    if not np.allclose(matrix, matrix.T, rtol=0.0, atol=_SYMMETRY * scale):
        raise ScenarioError(
            f"covariance: not symmetric (got {shown(rows)}). Make row i, column j equal row j, "
            "column i"
        )
    variances = np.diag(matrix)
    if not (variances > 0).all():
        raise ScenarioError(
            f"covariance: every variance (the diagonal) must be positive (got "
            f"{shown(variances.tolist())}). A parameter without variance is not uncertain: "
            "set it under set: instead"
        )
    eigenvalues = np.linalg.eigvalsh((matrix + matrix.T) / 2)
    if eigenvalues.min() < -_DEFINITE * eigenvalues.max():
        raise ScenarioError(
            f"covariance: not positive semi-definite (got eigenvalues "
            f"[{', '.join(f'{v:.4g}' for v in eigenvalues)}]). Use the covariance the "
            "calibration estimated"
        )
    return tuple(tuple(row) for row in rows)


def _check_bounds(low: tuple[float | None, ...], high: tuple[float | None, ...]) -> None:
    for i, (a, b) in enumerate(zip(low, high, strict=True)):
        if a is not None and b is not None and not a < b:
            raise ScenarioError(
                f"low, high: the low bound must be below the high one (got low={a}, "
                f"high={b} for parameter {i + 1}). Swap them"
            )
