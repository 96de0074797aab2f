"""The registry of integration methods: one entry per method, as data."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from pssc_sim.compile.compiler import CompiledModel
from pssc_sim.integrate.backends import run_loop
from pssc_sim.integrate.fixed import run_fixed_step, saved_times
from pssc_sim.integrate.grid import Grid
from pssc_sim.integrate.options import SolverOptions
from pssc_sim.integrate.tableau import EULER, RK4, Tableau

__all__ = ["METHODS", "Method", "Runner", "SolverOptions"]

#: ``run(compiled, p, grid, options) -> (times, values)`` with values ``(n_times, n_out, M)``.
Runner = Callable[[CompiledModel, np.ndarray, Grid, SolverOptions], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True, slots=True)
class Method:
    """One integration method: its name, whether it steps by ``dt``, and how it runs; a
    fixed-step method is its Butcher tableau (``tableau``), whose order it has; an implicit
    method solves with the model's Jacobian."""

    name: str
    fixed_step: bool
    order: int
    run: Runner
    description: str
    tableau: Tableau | None = None
    implicit: bool = False
    #: the default tolerances of an adaptive method, for what it is for: the usual ones, and
    #: tight ones for the high-order method
    rtol: float = 1e-6
    atol: float = 1e-9


def _fixed(tableau: Tableau) -> Runner:
    def run(
        compiled: CompiledModel, p: np.ndarray, grid: Grid, options: SolverOptions
    ) -> tuple[np.ndarray, np.ndarray]:
        if options.backend == "numba":
            return saved_times(grid), run_loop(
                compiled,
                p,
                grid,
                tableau,
                options.chunk,
                options.progress,
                options.allocate,
                first_member=options.first_member,
                blocks=options.blocks,
            )
        return saved_times(grid), run_fixed_step(
            compiled,
            p,
            grid,
            tableau,
            options.chunk,
            options.progress,
            options.allocate,
            first_member=options.first_member,
        )

    return run


def _adaptive(name: str) -> Runner:
    def run(
        compiled: CompiledModel, p: np.ndarray, grid: Grid, options: SolverOptions
    ) -> tuple[np.ndarray, np.ndarray]:
        # scipy's solvers load when an adaptive method first runs, not with the registry
        from pssc_sim.integrate.adaptive import run_adaptive

        return grid.save_times(), run_adaptive(compiled, p, grid, name, options)

    return run


#: Every integration method, by name.
METHODS: Mapping[str, Method] = MappingProxyType(
    {
        "euler": Method(
            "euler",
            True,
            EULER.order,
            _fixed(EULER),
            "explicit Euler at dt, Vensim/Stella semantics",
            EULER,
        ),
        "rk4": Method(
            "rk4", True, RK4.order, _fixed(RK4), "classical Runge-Kutta of order 4 at dt", RK4
        ),
        "rk45": Method(
            "rk45",
            False,
            5,
            _adaptive("rk45"),
            "explicit Dormand-Prince RK5(4), adaptive step (scipy RK45)",
        ),
        "dop853": Method(
            "dop853",
            False,
            8,
            _adaptive("dop853"),
            "explicit Dormand-Prince of order 8, adaptive step, for tight tolerances "
            "(rtol 1e-10, atol 1e-12 unless given)",
            rtol=1e-10,
            atol=1e-12,
        ),
        "lsoda": Method(
            "lsoda",
            False,
            12,
            _adaptive("lsoda"),
            "Adams (order <= 12) or BDF (order <= 5) when stiff, banded Jacobian",
            implicit=True,
        ),
        "bdf": Method(
            "bdf",
            False,
            5,
            _adaptive("bdf"),
            "implicit variable-order BDF (order <= 5) for stiff models, sparse Jacobian",
            implicit=True,
        ),
        "radau": Method(
            "radau",
            False,
            5,
            _adaptive("radau"),
            "implicit Radau IIA of order 5 for stiff models, sparse Jacobian",
            implicit=True,
        ),
    }
)
