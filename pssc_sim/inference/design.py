"""Parameter designs run as one vectorised ensemble: a matrix of members x parameters in, one
statistic of an output per member out.

An :class:`Experiment` is a model or a scenario made ready for many runs: the scenario's
interventions applied, its ``set:`` values, targets and culture fixed, its method and time block
kept. :meth:`Experiment.evaluate` sends a whole design through :func:`~pssc_sim.simulate` as one
call, cut into chunks of members small enough for memory, and reduces each member's output to a
:class:`Statistic` as soon as a chunk is done, so a design of any size needs memory for one chunk.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from pssc_sim.errors import ParameterError, did_you_mean
from pssc_sim.integrate.progress import Progress
from pssc_sim.integrate.simulate import current_scheduler, make_grid, simulate
from pssc_sim.ir.model import Model
from pssc_sim.parse import load_model
from pssc_sim.scenario import Scenario, Uncertainty, apply_interventions, is_scenario_file
from pssc_sim.scenario.interventions import base_name
from pssc_sim.scenario.runner import distributions as scenario_distributions
from pssc_sim.scenario.runner import draw, target_values
from pssc_sim.scenario.sampling import Distribution

#: Bytes of saved output one chunk of a design may hold (the rest of a run is much smaller).
MEMORY_BUDGET = 256 * 2**20


def _final(times: np.ndarray, values: np.ndarray) -> np.ndarray:
    return np.asarray(values[-1])


def _mean(times: np.ndarray, values: np.ndarray) -> np.ndarray:
    if len(times) < 2:
        return np.asarray(values[0])
    # the time average over the run (trapezoid rule on the saved times)
    steps = np.diff(times)[:, None]
    area = (0.5 * (values[1:] + values[:-1]) * steps).sum(axis=0)
    return np.asarray(area / (times[-1] - times[0]))


def _max(times: np.ndarray, values: np.ndarray) -> np.ndarray:
    return values.max(axis=0)  # type: ignore[no-any-return]


def _min(times: np.ndarray, values: np.ndarray) -> np.ndarray:
    return values.min(axis=0)  # type: ignore[no-any-return]


#: Statistics that reduce a member's series to one number, by name (``at T`` and the full
#: ``series`` are the two others).
REDUCERS: Mapping[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "final": _final,
    "mean": _mean,
    "max": _max,
    "min": _min,
}
#: Every statistic's name.
STATISTICS = (*REDUCERS, "at", "series")


@dataclass(frozen=True, slots=True)
class Statistic:
    """How each member's series of an output becomes the number a method works on: ``final``,
    ``mean`` (time average), ``max``, ``min``, ``at`` a time ``time`` (linear between saved
    times), or the whole ``series``.

    Examples
    --------
    >>> times = np.array([0.0, 1.0, 2.0])
    >>> values = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 2.0]])  # times x members
    >>> Statistic("at", 0.5).reduce(times, values).tolist()
    [1.0, 2.0]
    >>> Statistic("mean").reduce(times, values).tolist()
    [2.0, 2.25]
    >>> Statistic("median")
    Traceback (most recent call last):
    ...
    pssc_sim.errors.ParameterError: statistic: unknown statistic 'median' (got 'median'). \
Did you mean 'mean'? Use one of: final, mean, max, min, at, series
    """

    kind: str = "final"
    time: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in STATISTICS:
            raise ParameterError(
                f"statistic: unknown statistic {self.kind!r} (got "
                f"{self.kind!r}).{did_you_mean(self.kind, STATISTICS)} Use "
                f"one of: {', '.join(STATISTICS)}"
            )
        if (self.kind == "at") != (self.time is not None):
            raise ParameterError(
                f"statistic: a time goes with 'at' and only with it (got kind "
                f"{self.kind!r}, time {self.time!r}). Write Statistic('at', 5)"
            )
        if self.time is not None and not math.isfinite(self.time):
            raise ParameterError(
                f"statistic: the time must be finite (got {self.time!r}). "
                "Give a time inside the run"
            )

    @property
    def label(self) -> str:
        """``at 5``, ``final``, ``mean``, ..."""
        return f"at {self.time:g}" if self.time is not None else self.kind

    def check(self, start: float, stop: float, where: str = "--at") -> None:
        """Raise unless a time ``at`` lies inside the run ``start .. stop``."""
        if self.time is not None and not start <= self.time <= stop:
            raise ParameterError(
                f"{where}: time {self.time:g} is outside the run (got "
                f"{self.time:g}, the run goes from {start:g} to {stop:g}). "
                "Give a time inside the run"
            )

    def reduce(self, times: np.ndarray, values: np.ndarray) -> np.ndarray:
        """``values`` (times x members) as one number per member (a copy of all for series)."""
        if self.kind == "series":
            return np.array(values, dtype=float)
        if self.time is None:
            return np.asarray(REDUCERS[self.kind](times, values), dtype=float)
        after = int(np.clip(np.searchsorted(times, self.time), 1, len(times) - 1))
        if len(times) == 1:
            return np.array(values[0], dtype=float)
        before = after - 1
        weight = (self.time - times[before]) / (times[after] - times[before])
        return np.asarray((1 - weight) * values[before] + weight * values[after], dtype=float)


@dataclass(frozen=True, slots=True)
class Request:
    """One number per member: the ``statistic`` of the output ``name``."""

    name: str
    statistic: Statistic = Statistic()


@dataclass(frozen=True, slots=True, eq=False)
class Experiment:
    """A model or a scenario, ready to run designs of many parameter sets as ensembles.

    Build one with :meth:`load` (a scenario file, a model file or a model folder) or
    :meth:`from_scenario` / :meth:`from_model`.

    Examples
    --------
    >>> import pssc_sim
    >>> root = Path(pssc_sim.__file__).parent.parent
    >>> teacup = Experiment.load(root / "models" / "teacup")
    >>> design = np.array([[60.0], [80.0]])  # two members, one parameter
    >>> gap = teacup.evaluate(["room_temperature"], design, [Request("temperature_gap")])[0]
    >>> np.round(gap / (180 - design[:, 0]), 4).tolist()  # the gap shrinks by one factor
    [0.0489, 0.0489]
    """

    base: Model
    model: Model
    fixed: Mapping[str, Any]
    intervened: frozenset[str]
    method: str
    time: Mapping[str, float]
    scenario: Scenario | None
    source: str
    #: Where designs run: a Dask cluster as ``simulate(scheduler=...)`` takes it (set it with
    #: :meth:`on`); ``None``, the Dask client current in this process if there is one, else
    #: here; ``False``, here.
    scheduler: Any = None

    def on(self, scheduler: Any) -> Experiment:
        """This experiment, running its designs on ``scheduler`` (see :func:`simulate`;
        ``False`` keeps them in this process even with a Dask client current)."""
        return replace(self, scheduler=scheduler)

    @classmethod
    def load(cls, path: str | Path) -> Experiment:
        """A scenario file, a model file or a model folder, ready to run."""
        if is_scenario_file(path):
            return cls.from_scenario(Scenario.load(path))
        return cls.from_model(load_model(path))

    @classmethod
    def from_model(cls, model: Model) -> Experiment:
        """A model as written, integrated with ``euler`` over its own time block."""
        return cls(model, model, {}, frozenset(), "euler", {}, None, model.source or model.name)

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> Experiment:
        """A scenario with its interventions, ``set:``, targets, culture, method and time."""
        base = scenario.load_model()
        scenario.check(base)
        intervened = frozenset(i.parameter for i in scenario.interventions)

        def key(name: str) -> str:
            return base_name(name) if name in intervened else name

        fixed: dict[str, Any] = target_values(scenario, base, key)
        fixed.update({key(name): value for name, value in scenario.set.items()})
        return cls(
            base,
            apply_interventions(base, scenario.interventions),
            fixed,
            intervened,
            scenario.method or "euler",
            dict(scenario.time),
            scenario,
            scenario.source or scenario.label,
        )

    @property
    def span(self) -> tuple[float, float]:
        """The start and stop of the run."""
        grid = make_grid(self.model, dict(self.time) or None)
        return grid.start, grid.stop

    @property
    def uncertainty(self) -> Uncertainty | None:
        """The scenario's ``uncertainty:`` block, if any."""
        return self.scenario.uncertainty if self.scenario is not None else None

    def key(self, name: str) -> str:
        """The model parameter that carries ``name`` (its base value when intervened on)."""
        return base_name(name) if name in self.intervened else name

    def output_names(self) -> tuple[str, ...]:
        """The names an output may take: recorded variables, measures and parameters."""
        from pssc_sim.compile.compiler import default_outputs

        names = [o.name for o in default_outputs(self.model)]
        return tuple(dict.fromkeys([*names, *self.base.parameter_names]))

    def check_output(self, name: str, where: str = "--output") -> None:
        """Raise unless ``name`` is a variable the runs can record."""
        names = self.output_names()
        if name not in names:
            hint = did_you_mean(name, names) or (
                " Name a stock, flow, auxiliary or measure, e.g. " + ", ".join(names[:3]) + "."
            )
            raise ParameterError(
                f"{where}: unknown variable '{name}' in {self.source} (got {name!r}).{hint}"
            )

    def check_parameter(self, name: str, where: str = "--parameters") -> None:
        """Raise unless ``name`` is a parameter of the model."""
        names = self.base.parameter_names
        if self.base.parameter_rows(name) is None:
            kind = "a variable, not a parameter" if name in self.base else "unknown"
            hint = did_you_mean(name, names) or f" Parameters: {', '.join(names)}."
            raise ParameterError(
                f"{where}: '{name}' is {kind} in {self.source} (got {name!r}).{hint}"
            )

    def distributions(
        self, names: Sequence[str] | None = None, where: str = "--parameters"
    ) -> dict[str, Distribution]:
        """The distribution of each uncertain parameter: the scenario's ``uncertainty:`` block,
        else the model's ``distribution`` or ``range``; ``names`` chooses some of them.

        The inputs of a sensitivity analysis are independent: parameters the scenario draws
        jointly (``uncertainty.joint``) are refused, unless ``names`` leaves them out (they then
        keep their values)."""
        uncertainty = self.uncertainty or Uncertainty()
        if names is None or set(names) & set(uncertainty.joint_names):
            uncertainty.require_independent("a sensitivity analysis", self.source)
        given = dict(uncertainty.parameters or {})
        if names is None and not given:
            names = [p.name for p in self.base.parameters if p.range or p.distribution]
            if not names:
                raise ParameterError(
                    f"{self.source}: nothing to vary (got no parameter with a "
                    "range or distribution, and no uncertainty: block). Give "
                    "parameters 'range: [low, high]' in the model, or a "
                    "scenario with an uncertainty: block"
                )
        if names is None:
            return scenario_distributions(uncertainty, self.base)
        chosen: dict[str, Distribution] = {}
        for name in names:
            self.check_parameter(name, where)
            found = given.get(name)
            chosen[name] = found if found is not None else self._model_distribution(name, where)
        return chosen

    def _model_distribution(self, name: str, where: str) -> Distribution:
        from pssc_sim.scenario.runner import model_distribution

        parameter = next(p for p in self.base.parameters if p.name == name)
        if parameter.range is None and not parameter.distribution:
            raise ParameterError(
                f"{where}: parameter '{name}' has no bounds in {self.source} "
                f"(got no range or distribution for {name!r}). Give it "
                "'range: [low, high]' in the model, or a distribution in the "
                "scenario's uncertainty: block"
            )
        return model_distribution(self.base, parameter)

    def ensemble(self, seed: int | None = None) -> dict[str, np.ndarray]:
        """The scenario's uncertainty ensemble, one array of values per sampled parameter
        (seeded by the scenario's seed, else ``seed``)."""
        uncertainty = self.uncertainty
        if uncertainty is None:
            raise ParameterError(
                f"--under-uncertainty: {self.source} has no uncertainty: block "
                "(got none). Run a scenario with an uncertainty: block"
            )
        if uncertainty.seed is None and seed is not None:
            uncertainty = uncertainty.layered(Uncertainty(seed=seed))
        samples, _ = draw(uncertainty, self.base)
        return samples

    def evaluate(
        self,
        names: Sequence[str],
        design: np.ndarray,
        requests: Sequence[Request],
        *,
        progress: Progress | None = None,
        memory: int = MEMORY_BUDGET,
    ) -> list[np.ndarray]:
        """Run every row of ``design`` (members x ``names``) and return, for each request, one
        value per member (a ``series`` request: times x members).

        The rows run as one vectorised ensemble, in chunks that keep the saved output under
        ``memory`` bytes; ``progress`` gets the fraction of the design done.
        """
        design = np.asarray(design, dtype=float)
        if design.ndim != 2 or design.shape[1] != len(names):
            raise ParameterError(
                f"design: expected members x {len(names)} parameters (got shape "
                f"{design.shape}). Give one column per parameter"
            )
        outputs = list(dict.fromkeys(r.name for r in requests))
        cluster = current_scheduler(self.scheduler)
        if cluster is not None:
            return self._evaluate_on_cluster(cluster, names, design, requests, outputs, progress)
        grid = make_grid(self.model, dict(self.time) or None)
        per_member = len(grid.save_times()) * len(outputs) * 8 * 2
        size = max(1, memory // per_member)
        members = design.shape[0]
        chunks = [(start, min(start + size, members)) for start in range(0, members, size)]
        parts: list[list[np.ndarray]] = [[] for _ in requests]
        for i, (start, stop) in enumerate(chunks):
            report = None if progress is None else _share(progress, i, len(chunks))
            params = {
                **self.fixed,
                **{self.key(name): design[start:stop, j] for j, name in enumerate(names)},
            }
            results = simulate(
                self.model,
                params,
                method=self.method,
                time=dict(self.time) or None,
                outputs=outputs,
                progress=report,
                scheduler=False,
            )
            for part, request in zip(parts, requests, strict=True):
                values = results.values[:, results.index(request.name), :]
                part.append(request.statistic.reduce(results.times, values))
        return [np.concatenate(part, axis=-1) for part in parts]

    def _evaluate_on_cluster(
        self,
        cluster: Any,
        names: Sequence[str],
        design: np.ndarray,
        requests: Sequence[Request],
        outputs: list[str],
        progress: Progress | None,
    ) -> list[np.ndarray]:
        """The whole design as one ensemble on ``cluster``, each member reduced to its
        statistics on the worker (the client holds only those)."""
        from pssc_sim.integrate.distributed import run_reduced

        params = {**self.fixed, **{self.key(name): design[:, j] for j, name in enumerate(names)}}
        reduction = Reduction(tuple(requests))
        times = len(self.saved_times())
        stacked = run_reduced(
            self.model,
            params,
            reduction,
            scheduler=cluster,
            method=self.method,
            time=dict(self.time) or None,
            outputs=outputs,
            progress=progress,
            rows=sum(times if r.statistic.kind == "series" else 1 for r in requests),
        )
        series = sum(r.statistic.kind == "series" for r in requests)
        per_series = (stacked.shape[0] - (len(requests) - series)) // max(series, 1)
        found, row = [], 0
        for request in requests:
            rows = per_series if request.statistic.kind == "series" else 1
            part = stacked[row : row + rows]
            found.append(part if request.statistic.kind == "series" else part[0])
            row += rows
        return found

    def saved_times(self) -> np.ndarray:
        """The times each run saves (the rows of a ``series`` request)."""
        return make_grid(self.model, dict(self.time) or None).save_times()


@dataclass(frozen=True, slots=True)
class Reduction:
    """Each member's statistics of a block, stacked: one row per request (a ``series`` request:
    one row per saved time). Runs on cluster workers (see :func:`Experiment.evaluate`).

    >>> times = np.array([0.0, 1.0])
    >>> values = np.array([[[1.0, 2.0]], [[3.0, 5.0]]])  # times x outputs x members
    >>> Reduction((Request("x"), Request("x", Statistic("max"))))(times, values, ("x",)).tolist()
    [[3.0, 5.0], [3.0, 5.0]]
    """

    requests: tuple[Request, ...]

    def __call__(
        self, times: np.ndarray, values: np.ndarray, outputs: tuple[str, ...]
    ) -> np.ndarray:
        rows = [
            np.atleast_2d(r.statistic.reduce(times, values[:, outputs.index(r.name), :]))
            for r in self.requests
        ]
        return np.concatenate(rows, axis=0)


def _share(progress: Progress, index: int, count: int) -> Progress:
    """``progress`` for the ``index``-th of ``count`` equal parts of a run."""

    def report(fraction: float) -> None:
        progress((index + fraction) / count)

    return report


def unit_to_values(distributions: Mapping[str, Distribution], unit: np.ndarray) -> np.ndarray:
    """Points of the unit hypercube (members x parameters) mapped through each parameter's
    inverse CDF.

    >>> d = {"k": Distribution("uniform", {"low": 2.0, "high": 4.0})}
    >>> unit_to_values(d, np.array([[0.5], [0.25]])).ravel().tolist()
    [3.0, 2.5]
    """
    columns = [
        distribution.ppf(unit[:, j]) for j, distribution in enumerate(distributions.values())
    ]
    return np.column_stack(columns) if columns else np.empty((len(unit), 0))
