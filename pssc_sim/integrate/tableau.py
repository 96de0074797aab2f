"""Explicit Runge-Kutta methods as data: Butcher tableaux that check their own order.

A fixed-step method is its tableau (Butcher 1964; Hairer, Norsett and Wanner, *Solving Ordinary
Differential Equations I*, section II.1): stage ``i`` evaluates the rates at
``t + c_i h`` and ``y + h sum_j a_ij k_j``, and the step is ``y + h sum_i b_i k_i``. Entries are
exact fractions, so the order conditions are checked exactly when a tableau is made; the
step loops of :mod:`pssc_sim.integrate.fixed` read the coefficients from here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from pssc_sim.errors import ModelError

#: The highest order whose conditions :meth:`Tableau.conditions` knows.
MAX_CHECKED_ORDER = 4


@dataclass(frozen=True, slots=True)
class Tableau:
    """``a`` (row ``i`` holds the coefficients of the stages before ``i``) and the weights ``b``
    of an explicit Runge-Kutta method of order ``order``."""

    a: tuple[tuple[Fraction, ...], ...]
    b: tuple[Fraction, ...]
    order: int

    def __post_init__(self) -> None:
        if len(self.a) != len(self.b) or any(len(row) != i for i, row in enumerate(self.a)):
            raise ModelError(
                f"tableau: a must be strictly lower triangular with one row per "
                f"weight (got a={self.a}, b={self.b}). Give row i i entries"
            )
        if not 1 <= self.order <= MAX_CHECKED_ORDER or not self.satisfies(self.order):
            raise ModelError(
                f"tableau: the coefficients are not of order {self.order} (got "
                f"a={self.a}, b={self.b}). Check them against the order conditions"
            )

    @property
    def stages(self) -> int:
        """Number of stages (evaluations of the rates per step)."""
        return len(self.b)

    @property
    def c(self) -> tuple[Fraction, ...]:
        """The stage times, as fractions of the step: the row sums of ``a``."""
        return tuple(sum(row, Fraction(0)) for row in self.a)

    def conditions(self, order: int) -> list[tuple[Fraction, Fraction]]:
        """``(value, required)`` of every order condition up to ``order`` (at most 4), from the
        rooted trees of Hairer, Norsett and Wanner (Table II.2.1)."""
        b, c, a, n = self.b, self.c, self._square(), self.stages
        ac = [sum((a[i][j] * c[j] for j in range(n)), Fraction(0)) for i in range(n)]
        found: list[tuple[Fraction, Fraction]] = [(sum(b, Fraction(0)), Fraction(1))]
        if order >= 2:
            found.append((sum((b[i] * c[i] for i in range(n)), Fraction(0)), Fraction(1, 2)))
        if order >= 3:
            found += [
                (sum((b[i] * c[i] ** 2 for i in range(n)), Fraction(0)), Fraction(1, 3)),
                (sum((b[i] * ac[i] for i in range(n)), Fraction(0)), Fraction(1, 6)),
            ]
        if order >= 4:
            acc = [sum((a[i][j] * c[j] ** 2 for j in range(n)), Fraction(0)) for i in range(n)]
            aac = [sum((a[i][j] * ac[j] for j in range(n)), Fraction(0)) for i in range(n)]
            found += [
                (sum((b[i] * c[i] ** 3 for i in range(n)), Fraction(0)), Fraction(1, 4)),
                (sum((b[i] * c[i] * ac[i] for i in range(n)), Fraction(0)), Fraction(1, 8)),
                (sum((b[i] * acc[i] for i in range(n)), Fraction(0)), Fraction(1, 12)),
                (sum((b[i] * aac[i] for i in range(n)), Fraction(0)), Fraction(1, 24)),
            ]
        return found

    def satisfies(self, order: int) -> bool:
        """Whether every order condition up to ``order`` holds exactly."""
        return all(value == required for value, required in self.conditions(order))

    def _square(self) -> list[list[Fraction]]:
        return [[*row, *[Fraction(0)] * (self.stages - len(row))] for row in self.a]

    def stage_terms(self) -> tuple[tuple[tuple[int, float], ...], ...]:
        """For each stage, the earlier stages it adds and their coefficients ``a_ij`` (zeros
        left out), as floats."""
        return tuple(tuple((j, float(x)) for j, x in enumerate(row) if x) for row in self.a)

    def weight_groups(self) -> tuple[int, tuple[tuple[int, tuple[int, ...]], ...]]:
        """``(denominator, groups)``: the weights as whole numbers over one denominator, and the
        runs of consecutive stages that share a weight, ``(weight, stages)``.

        The step adds the runs in order, each summed then scaled by its weight, and multiplies
        by ``h / denominator``: for RK4, ``(k1 + 2 (k2 + k3) + k4) h / 6``, as it is written.
        """
        denominator = math.lcm(*(w.denominator for w in self.b))
        weights = [int(w * denominator) for w in self.b]
        groups: list[tuple[int, list[int]]] = []
        for i, weight in enumerate(weights):
            if groups and groups[-1][0] == weight and groups[-1][1][-1] == i - 1:
                groups[-1][1].append(i)
            elif weight:
                groups.append((weight, [i]))
        return denominator, tuple((w, tuple(stages)) for w, stages in groups)


_F = Fraction
#: Explicit Euler: one stage, order 1.
EULER = Tableau(a=((),), b=(_F(1),), order=1)
#: The classical Runge-Kutta method of order 4 (Kutta 1901).
RK4 = Tableau(
    a=((), (_F(1, 2),), (_F(0), _F(1, 2)), (_F(0), _F(0), _F(1))),
    b=(_F(1, 6), _F(1, 3), _F(1, 3), _F(1, 6)),
    order=4,
)
