"""The registry of integration methods: one entry per method, as data."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from pssc_sim.compile.compiler import CompiledModel
from pssc_sim.integrate.fixed import run_fixed_step
from pssc_sim.integrate.grid import Grid

#: ``run(compiled, p, grid, options) -> (times, values)`` with values ``(n_times, n_out, M)``.
Runner = Callable[[CompiledModel, np.ndarray, Grid, "SolverOptions"], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True, slots=True)
class SolverOptions:
    """Tolerances and chunking shared by the methods (fixed-step methods ignore tolerances)."""

    rtol: float = 1e-6
    atol: float = 1e-9
    chunk: int = 4096


@dataclass(frozen=True, slots=True)
class Method:
    """One integration method: its name, whether it steps by ``dt``, and how it runs."""

    name: str
    fixed_step: bool
    order: int
    run: Runner
    description: str


def _fixed(name: str) -> Runner:
    def run(compiled: CompiledModel, p: np.ndarray, grid: Grid,
            options: SolverOptions) -> tuple[np.ndarray, np.ndarray]:
        return grid.save_times(), run_fixed_step(compiled, p, grid, name, options.chunk)

    return run


#: Every integration method, by name.
METHODS: Mapping[str, Method] = MappingProxyType({
    "euler": Method("euler", True, 1, _fixed("euler"),
                    "explicit Euler at dt, Vensim/Stella semantics"),
    "rk4": Method("rk4", True, 4, _fixed("rk4"), "classical Runge-Kutta of order 4 at dt"),
})
