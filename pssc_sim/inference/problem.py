"""A calibration problem: a scenario's model, the parameters to fit within their bounds, and the
observed series, with one method that runs many parameter sets as one ensemble.

Parameters to fit default to those in the scenario's ``uncertainty:`` block, else to every
parameter with a ``range:`` in the model. Bounds come from, in order: the ``bounds`` argument,
the scenario's distribution (its ``low`` and ``high``, or the extremes of a discrete choice), the
model's ``range``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pssc_sim.compile.compiler import default_outputs
from pssc_sim.errors import ParameterError, SimulationError, did_you_mean
from pssc_sim.inference.data import (
    ErrorModel,
    Observations,
    counts_years,
    read_observations,
)
from pssc_sim.integrate.backends import choose_backend
from pssc_sim.integrate.grid import Grid
from pssc_sim.integrate.methods import METHODS
from pssc_sim.integrate.simulate import compiled_for, make_grid, simulate
from pssc_sim.ir.model import Model, TimeSpec
from pssc_sim.results import Results
from pssc_sim.scenario import Distribution, Scenario, apply_interventions
from pssc_sim.scenario.interventions import base_name
from pssc_sim.scenario.reader import scenario_time
from pssc_sim.scenario.runner import target_values


@dataclass(frozen=True, slots=True)
class FitParameter:
    """A parameter to fit and the bounds it is searched within.

    >>> FitParameter("k", 1.0, 2.0).width
    1.0
    """

    name: str
    low: float
    high: float

    def __post_init__(self) -> None:
        if not (np.isfinite([self.low, self.high]).all() and self.low < self.high):
            raise ParameterError(
                f"bounds: {self.name}: low must be below high, both finite (got "
                f"{self.low:g}:{self.high:g}). Give e.g. {self.name}=1:2"
            )

    @property
    def width(self) -> float:
        """``high - low``."""
        return self.high - self.low


class Problem:
    """What a calibration fits: built by :func:`calibration_problem`.

    :meth:`predict` runs parameter sets (rows of ``theta``) as one ensemble and returns each
    series' simulated values at its observation times; :attr:`runs` counts the members run.
    """

    def __init__(
        self,
        scenario: Scenario,
        model: Model,
        fixed: Mapping[str, float],
        keys: Mapping[str, str],
        time: TimeSpec,
        observations: Observations,
        parameters: Sequence[FitParameter],
    ) -> None:
        self.scenario, self.model, self.time = scenario, model, time
        self.fixed, self.keys = dict(fixed), dict(keys)
        self.observations = observations
        self.parameters = tuple(parameters)
        self.method = scenario.method or "euler"
        self.runs = 0
        #: Where the runs go: ``None`` here, else a Dask cluster (see :func:`simulate`).
        self.scheduler: Any = None
        #: The back end of the runs of the observed series (:meth:`plan_backend` chooses it).
        self.backend = "auto"
        # Record every dt: observation times between saved points are read by linear
        # interpolation on the finest grid the run has.
        self.times = Grid(time.start, time.stop, time.dt, time.dt).save_times()
        self._weights = [_interpolation(self.times, s.times) for s in observations.series]

    @property
    def names(self) -> tuple[str, ...]:
        """The names of the fitted parameters."""
        return tuple(p.name for p in self.parameters)

    @property
    def lows(self) -> np.ndarray:
        """The lower bounds, in the order of :attr:`parameters`."""
        return np.array([p.low for p in self.parameters])

    @property
    def highs(self) -> np.ndarray:
        """The upper bounds, in the order of :attr:`parameters`."""
        return np.array([p.high for p in self.parameters])

    def params(self, theta: np.ndarray) -> dict[str, np.ndarray | float]:
        """The ``params`` of :func:`simulate` for parameter sets ``theta`` ``(members, p)``."""
        values: dict[str, np.ndarray | float] = dict(self.fixed)
        for j, parameter in enumerate(self.parameters):
            values[self.keys.get(parameter.name, parameter.name)] = theta[:, j]
        return values

    @property
    def _time(self) -> dict[str, float]:
        """The run's time block, recorded at every ``dt``."""
        time = self.time
        return {"start": time.start, "stop": time.stop, "dt": time.dt, "save_every": time.dt}

    def plan_backend(self, ensembles: int) -> str:
        """Choose the back end for a search that will run about ``ensembles`` ensembles of
        ``p + 1`` members (a Jacobian each), and return it.

        :func:`simulate`'s ``auto`` weighs one run against compiling the numba loop; a search
        makes hundreds or thousands of runs of the same model, which together repay compiling
        the loop (seconds, once; then loaded from the cache folder) many times over: on the
        case-study models the loop runs a Jacobian's ensemble 30 to 400 times faster than
        numpy's kernels stepped from Python. The choice is ``auto``'s, with the search's runs
        counted. On a cluster the runs stay with ``auto`` (numpy on the workers).
        """
        method = METHODS[self.method]
        if self.scheduler is None and method.tableau is not None:
            compiled = compiled_for(self.model, tuple(self.observations.names))
            grid = make_grid(self.model, self._time)
            members = len(self.parameters) + 1
            self.backend = choose_backend(
                compiled, grid, method.tableau, self.method, members, "auto", runs=ensembles
            )
        return self.backend

    def run(self, theta: np.ndarray, outputs: Sequence[str] | None = None) -> Results:
        """Run the parameter sets ``theta`` ``(members, p)`` as one ensemble (other
        ``outputs`` than the observed series on ``simulate``'s own choice of back end)."""
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        self.runs += theta.shape[0]
        observed = outputs is None or list(outputs) == list(self.observations.names)
        return simulate(
            self.model,
            self.params(theta),
            method=self.method,
            time=self._time,
            outputs=list(outputs or self.observations.names),
            scheduler=self.scheduler,
            backend=self.backend if observed else "auto",
        )

    def predict(self, theta: np.ndarray) -> list[np.ndarray]:
        """Each series' simulated values at its observation times, ``(n_obs, members)``.

        A member whose run fails (a value becomes infinite) gets NaN predictions; the others
        are kept, so one bad corner of the bounds does not stop a search.
        """
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        try:
            values = self.run(theta).values  # (times, series, members)
        except SimulationError:
            if theta.shape[0] == 1:
                return [np.full((s.size, 1), np.nan) for s in self.observations.series]
            parts = [self.predict(theta[i : i + 1]) for i in range(theta.shape[0])]
            return [
                np.hstack([part[k] for part in parts]) for k in range(len(self.observations.series))
            ]
        return [
            (1 - w)[:, None] * values[i, k] + w[:, None] * values[i + 1, k]
            for k, (i, w) in enumerate(self._weights)
        ]


def _interpolation(grid: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``i`` and weights ``w`` so that ``y(t) = (1 - w) y[i] + w y[i + 1]``."""
    index = np.clip(np.searchsorted(grid, times, side="right") - 1, 0, grid.size - 2)
    weight = np.clip((times - grid[index]) / (grid[index + 1] - grid[index]), 0.0, 1.0)
    return index, weight


def observable(model: Model) -> list[str]:
    """The names a data column may observe: visible variables and measures."""
    return [output.name for output in default_outputs(model)]


def calibration_problem(
    scenario: Scenario,
    data: str | Path | Observations,
    *,
    parameters: Sequence[str] | None = None,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    errors: Mapping[str, ErrorModel] | None = None,
) -> Problem:
    """The calibration problem of ``scenario`` against the observed ``data`` file.

    ``parameters`` to fit default to the scenario's uncertain parameters, else the model's
    parameters with a ``range``; ``bounds`` ``{name: (low, high)}`` replace or supply bounds;
    ``errors`` give an error model to series without ``NAME:sd`` columns.
    """
    base = scenario.load_model()
    scenario.check(base)
    model = apply_interventions(base, scenario.interventions)
    intervened = {i.parameter for i in scenario.interventions}
    keys = {name: base_name(name) for name in intervened}
    fixed = target_values(scenario, base, lambda name: keys.get(name, name))
    fixed.update({keys.get(name, name): value for name, value in scenario.set.items()})
    time = scenario_time(scenario, base)
    if isinstance(data, Observations):
        observations = data
    else:
        observations = read_observations(
            data, observable(model), years=counts_years(time.units), span=(time.start, time.stop)
        )
    if errors:
        observations = observations.with_errors(errors)
    chosen = fit_parameters(scenario, base, parameters, bounds or {})
    for parameter in chosen:
        fixed.pop(keys.get(parameter.name, parameter.name), None)
    return Problem(scenario, model, fixed, keys, time, observations, chosen)


def fit_parameters(
    scenario: Scenario,
    model: Model,
    names: Sequence[str] | None,
    bounds: Mapping[str, tuple[float, float]],
) -> list[FitParameter]:
    """The parameters to fit with their bounds (see the module's docstring for the order)."""
    source = model.source or model.name
    uncertain = dict(scenario.uncertainty.parameters or {}) if scenario.uncertainty else {}
    if names is None:
        names = list(uncertain) or [p.name for p in model.parameters if p.range is not None]
        if not names:
            raise ParameterError(
                f"{source}: no parameters to fit (got no parameter with a range "
                "and no uncertainty block). Name them with --parameters a,b and "
                "give bounds with --bounds a=LOW:HIGH, or add range: [low, high]"
                " to the model's parameters"
            )
    for name in bounds:
        if name not in names:
            raise ParameterError(
                f"bounds: '{name}' is not among the parameters to fit (got "
                f"{', '.join(names)}).{did_you_mean(name, names)} Name it in "
                "--parameters too"
            )
    by_name = {p.name: p for p in model.parameters}
    chosen = []
    for name in dict.fromkeys(names):
        if model.parameter_rows(name) is None:
            kind = "not a parameter" if name in model else "unknown"
            raise ParameterError(
                f"{source}: parameter '{name}' to fit is {kind} (got "
                f"{name!r}).{did_you_mean(name, model.parameter_names)} Name a "
                "parameter of the model"
            )
        low_high = bounds.get(name) or _distribution_bounds(uncertain.get(name))
        if low_high is None and name in by_name:
            low_high = by_name[name].range
        if low_high is None:
            raise ParameterError(
                f"{source}: parameters.{name}: no bounds to fit it within (got no"
                f" range). Add range: [low, high] to the parameter, list it in "
                f"the scenario's uncertainty block, or give --bounds "
                f"{name}=LOW:HIGH"
            )
        chosen.append(FitParameter(name, float(low_high[0]), float(low_high[1])))
    return chosen


def _distribution_bounds(distribution: Distribution | None) -> tuple[float, float] | None:
    if distribution is None:
        return None
    settings = distribution.settings
    if distribution.kind == "discrete":
        return min(settings["values"]), max(settings["values"])
    if distribution.kind == "beta":
        return settings.get("low", 0.0), settings.get("high", 1.0)
    if "low" in settings and "high" in settings:
        return settings["low"], settings["high"]
    return None
