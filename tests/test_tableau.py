"""Fixed-step methods are Butcher tableaux in the method registry: the tableaux check their own
order, and a new explicit method is a tableau alone (its step loops are the registry's)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from pssc_sim.compile.compiler import compile_model
from pssc_sim.errors import ModelError
from pssc_sim.integrate.fixed import run_fixed_step
from pssc_sim.integrate.grid import Grid
from pssc_sim.integrate.methods import METHODS
from pssc_sim.integrate.tableau import EULER, RK4, Tableau
from tests.conftest import load_text

F = Fraction

#: The explicit midpoint rule (order 2), known to the registry only as this tableau.
MIDPOINT = Tableau(a=((), (F(1, 2),)), b=(F(0), F(1)), order=2)
#: Heun's third-order method: three stages, one of them with two earlier stages.
HEUN3 = Tableau(a=((), (F(1, 3),), (F(0), F(2, 3))), b=(F(1, 4), F(0), F(3, 4)), order=3)
#: Kutta's 3/8 rule (order 4): stages that add several earlier ones, weights 1, 3, 3, 1.
THREE_EIGHTHS = Tableau(
    a=((), (F(1, 3),), (F(-1, 3), F(1)), (F(1), F(-1), F(1))),
    b=(F(1, 8), F(3, 8), F(3, 8), F(1, 8)),
    order=4,
)
DECAY = load_text(
    "time: {start: 0, stop: 2, dt: 0.1}\nparameters: {k: 1.3}\n"
    "stocks: {x: 1}\nflows: {out: {from: x, rate: k * x}}\n"
)


def test_fixed_step_methods_are_their_tableaux() -> None:
    for method in METHODS.values():
        assert (method.tableau is not None) == method.fixed_step
        if method.tableau is not None:
            assert method.order == method.tableau.order
    assert METHODS["euler"].tableau is EULER
    assert METHODS["rk4"].tableau is RK4


@pytest.mark.parametrize("tableau", [EULER, MIDPOINT, HEUN3, RK4, THREE_EIGHTHS])
def test_a_tableau_has_its_order_and_not_the_next(tableau: Tableau) -> None:
    assert tableau.satisfies(tableau.order)
    if tableau.order < 4:
        assert not tableau.satisfies(tableau.order + 1)
    assert tableau.c[0] == 0


def test_a_tableau_checks_itself() -> None:
    with pytest.raises(ModelError, match=r"^tableau: the coefficients are not of order 2 \(got "):
        Tableau(a=((), (F(1, 2),)), b=(F(1, 2), F(1, 2)), order=2)
    with pytest.raises(ModelError, match=r"^tableau: a must be strictly lower triangular"):
        Tableau(a=((), (F(1, 2), F(0))), b=(F(0), F(1)), order=2)


def final_error(tableau: Tableau, dt: float, members: int) -> np.ndarray:
    compiled = compile_model(DECAY, ("x",))
    p = np.full((1, members), 1.3)
    values = run_fixed_step(compiled, p, Grid(0.0, 2.0, dt, dt), tableau)
    return np.abs(values[-1, 0, :] - np.exp(-1.3 * 2.0))


@pytest.mark.parametrize("tableau", [EULER, MIDPOINT, HEUN3, RK4, THREE_EIGHTHS])
def test_a_tableau_converges_at_its_order(tableau: Tableau) -> None:
    # halving dt divides the error by 2^order (Hairer and Wanner's convergence check)
    coarse, fine = final_error(tableau, 0.1, 1)[0], final_error(tableau, 0.05, 1)[0]
    assert np.log2(coarse / fine) == pytest.approx(tableau.order, abs=0.25)


@pytest.mark.parametrize("tableau", [MIDPOINT, HEUN3, RK4, THREE_EIGHTHS])
def test_one_member_and_an_ensemble_step_alike(tableau: Tableau) -> None:
    # the single-member loop (lists) and the ensemble loop (arrays) read the same tableau
    np.testing.assert_array_equal(final_error(tableau, 0.1, 1), final_error(tableau, 0.1, 3)[:1])
