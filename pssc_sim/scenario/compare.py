"""Comparing scenarios: the same variables side by side at chosen times and at the end, with
differences against the first scenario.

On a Dask cluster (:func:`compare_on_cluster`), an ensemble is reduced where its members ran:
the workers read each member's values at the compared times (:class:`ComparedValues`) and
only their medians and 5% and 95% quantiles come back, the numbers :func:`compare` gives.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pssc_sim.errors import did_you_mean
from pssc_sim.integrate.cluster import Summary
from pssc_sim.integrate.progress import Progress
from pssc_sim.ir.model import Model
from pssc_sim.scenario.definition import Scenario
from pssc_sim.scenario.reader import is_scenario_file
from pssc_sim.scenario.runner import ScenarioResult, ScenarioSummary
from pssc_sim.scenario.schema import ScenarioError

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

ScenarioLike = Scenario | ScenarioResult | Model | str | Path

#: The 5% and 95% quantiles a comparison gives of an ensemble.
SPREAD = (0.05, 0.95)


@dataclass(frozen=True, slots=True, eq=False)
class ReducedEnsemble:
    """An ensemble compared on a cluster (:func:`compare_on_cluster`): of each compared
    variable (rows, in ``variables`` order) at each compared time (columns), the ``median``,
    ``p5`` and ``p95`` over the members, reduced on the workers; ``series``, when asked for,
    the quantiles over time that :func:`~pssc_sim.scenario.runner.run_summarised` gives (for
    the plot). ``run`` is the summarised run (its scenario, model and seed)."""

    run: ScenarioSummary
    variables: tuple[str, ...]
    median: np.ndarray
    p5: np.ndarray
    p95: np.ndarray
    series: Summary | None = None

    @property
    def name(self) -> str:
        """The scenario's label."""
        return self.run.name

    @property
    def scenario(self) -> Scenario:
        """The scenario run."""
        return self.run.scenario

    @property
    def model(self) -> Model:
        """The model as run, with interventions applied."""
        return self.run.model


Compared = ScenarioResult | ReducedEnsemble


@dataclass(frozen=True, slots=True, eq=False)
class Comparison:
    """Scenario results compared at ``times`` (the last one is the common end of the runs).

    Each run is a :class:`ScenarioResult` holding its members, or a :class:`ReducedEnsemble`
    holding only their medians and quantiles (:func:`compare_on_cluster`): the table and the
    summary are the same numbers either way."""

    runs: tuple[Compared, ...]
    labels: tuple[str, ...]
    variables: tuple[str, ...]
    times: tuple[float, ...]

    def table(self) -> pd.DataFrame:
        """One row per variable, time and scenario: ``value`` (the median for an ensemble),
        ``difference`` and ``relative_difference`` against the first scenario, and ``p5`` and
        ``p95`` when any scenario is an ensemble."""
        import pandas as pd

        rows = []
        ensembles = any(_is_ensemble(run) for run in self.runs)
        for variable in self.variables:
            spreads = [_spread(run, variable, self.times) for run in self.runs]
            first = spreads[0][0]
            for label, (value, spread) in zip(self.labels, spreads, strict=True):
                with np.errstate(divide="ignore", invalid="ignore"):
                    relative = np.where(first != 0, (value - first) / np.abs(first), np.nan)
                for i, t in enumerate(self.times):
                    row = {
                        "variable": variable,
                        "time": t,
                        "scenario": label,
                        "value": value[i],
                        "difference": value[i] - first[i],
                        "relative_difference": relative[i],
                    }
                    if ensembles:
                        row["p5"], row["p95"] = spread(i)
                    rows.append(row)
        return pd.DataFrame(rows)

    def summary(self) -> str:
        """A plain-text table: each variable and time, then each scenario's value with its
        difference from the first in brackets."""
        table = self.table()
        width = max([len("variable"), *(len(v) for v in self.variables)])
        cell = max(14, *(len(label) + 2 for label in self.labels))
        header = f"{'variable':<{width}}  {'time':>10}" + "".join(
            f"{label:>{cell + 12}}" for label in self.labels
        )
        lines = [f"compared against {self.labels[0]}; (differences in brackets)", "", header]
        for (variable, t), group in table.groupby(["variable", "time"], sort=False):
            cells = "".join(
                _cell(float(value), float(difference), i > 0, cell)
                for i, (value, difference) in enumerate(
                    zip(group["value"], group["difference"], strict=True)
                )
            )
            lines.append(f"{variable:<{width}}  {t:>10g}{cells}")
        return "\n".join(lines)

    def plot(self, figure: Figure | None = None) -> list[Axes]:
        """Overlay plots, one panel per variable (bands for ensembles); returns the Axes.

        An ensemble compared on a cluster is drawn from its quantiles over time (the median
        and the 5-95% band, as ``pssc run`` on a cluster draws them), which
        :func:`compare_on_cluster` brings back when asked to (``plotted``)."""
        from matplotlib.figure import Figure

        from pssc_sim.plot import Quantiles, plot_panels
        from pssc_sim.results import Results

        figure = figure if figure is not None else Figure(figsize=(11, 7), layout="constrained")
        runs: dict[str, Results | Quantiles] = {}
        for label, run in zip(self.labels, self.runs, strict=True):
            if isinstance(run, ScenarioResult):
                runs[label] = run.results
            elif run.series is not None:
                runs[label] = run.series
            else:
                raise ScenarioError(
                    f"plot: '{label}' was compared on a cluster without its quantiles over "
                    "time (got plotted=False). Compare with compare_on_cluster(..., "
                    "plotted=True) to plot it"
                )
        return plot_panels(runs, self.variables, figure)


def _is_ensemble(run: Compared) -> bool:
    return isinstance(run, ReducedEnsemble) or run.results.is_ensemble


def _spread(
    run: Compared, variable: str, times: Sequence[float]
) -> tuple[np.ndarray, Callable[[int], Any]]:
    """The median of ``variable`` over the members of ``run`` at ``times``, and what gives its
    5% and 95% quantiles at the ``i``-th time."""
    if isinstance(run, ReducedEnsemble):
        row = run.variables.index(variable)
        return run.median[row], lambda i: (run.p5[row, i], run.p95[row, i])
    values = values_at(run, variable, times)
    return np.median(values, axis=1), lambda i: np.quantile(values[i], SPREAD)


def _cell(value: float, difference: float, show: bool, width: int) -> str:
    change = f" ({difference:+.4g})" if show else ""
    return f"{f'{value:.6g}{change}':>{width + 12}}"


def values_at(run: ScenarioResult, variable: str, times: Sequence[float]) -> np.ndarray:
    """``variable`` of every member at ``times`` (linear between saved times): times x members."""
    results = run.results
    return interpolated(results.times, results.values[:, results.index(variable), :], times)


def interpolated(saved: np.ndarray, column: np.ndarray, times: Sequence[float]) -> np.ndarray:
    """Each member's value at ``times``, linear between the ``saved`` times (``column`` is
    saved times x members, the result times x members): the arithmetic of :func:`values_at`,
    member by member, so a block of members gives the same numbers as the whole ensemble."""
    if len(saved) == 1:
        return np.repeat(column, len(times), axis=0)
    rows = []
    for t in times:
        i = int(np.clip(np.searchsorted(saved, t, side="right") - 1, 0, len(saved) - 2))
        weight = (t - saved[i]) / (saved[i + 1] - saved[i])
        rows.append(column[i] * (1.0 - weight) + column[i + 1] * weight)
    return np.stack(rows)


def _as_result(item: ScenarioLike) -> ScenarioResult:
    if isinstance(item, ScenarioResult):
        return item
    if isinstance(item, Scenario):
        return item.run()
    if isinstance(item, Model):
        return Scenario(model=item).run()
    if is_scenario_file(item):
        return Scenario.load(item).run()
    return Scenario(model=Path(item), name=Path(item).stem).run()


def compare(
    *scenarios: ScenarioLike, at: Sequence[float] = (), variables: Sequence[str] | None = None
) -> Comparison:
    """Run (or take) ``scenarios`` and compare them at the times ``at`` and at the end.

    Each scenario may be a :class:`Scenario`, a :class:`ScenarioResult`, a scenario file, a model
    or a model path. ``variables`` defaults to the variables every scenario recorded.

    Examples
    --------
    >>> from pathlib import Path
    >>> import pssc_sim as ps
    >>> root = Path(ps.__file__).parent.parent
    >>> base = ps.Scenario(model=root / "models" / "teacup", name="base",
    ...                    outputs=["teacup_temperature"])
    >>> cold = base.with_set(room_temperature=50).with_name("cold room")
    >>> table = ps.compare(base, cold, at=[10]).table()
    >>> table[["time", "scenario"]].values.tolist()
    [[10.0, 'base'], [30.0, 'base'], [10.0, 'cold room'], [30.0, 'cold room']]
    >>> bool((table["difference"].iloc[2:] < 0).all())
    True
    """
    if len(scenarios) < 1:
        raise ScenarioError(
            "scenarios: give at least one scenario to compare (got none). Pass two or more"
        )
    runs = tuple(_as_result(item) for item in scenarios)
    labels = _labels([run.name for run in runs])
    chosen = _chosen(labels, [run.results.names for run in runs], variables)
    return Comparison(runs, labels, chosen, _times([run.results.times for run in runs], at))


class ComparedValues:
    """The reducer of an ensemble compared on a cluster: of a block's saved times, values
    (times x outputs x members) and output names, each member's value of each of
    ``variables`` at each of ``times`` (a row per variable and time, variable by variable,
    with the arithmetic of :func:`values_at`), then, with ``series``, every saved value (a row
    per saved time and output, time by time). It travels to the workers as data."""

    __slots__ = ("series", "times", "variables")

    def __init__(
        self, variables: Sequence[str], times: Sequence[float], series: bool = False
    ) -> None:
        self.variables = tuple(variables)
        self.times = tuple(times)
        self.series = series

    def rows(self, saved: int, outputs: int) -> int:
        """The rows it makes of a run of ``saved`` times and ``outputs`` outputs."""
        return len(self.variables) * len(self.times) + (saved * outputs if self.series else 0)

    def __call__(
        self, saved: np.ndarray, values: np.ndarray, outputs: tuple[str, ...]
    ) -> np.ndarray:
        index = {name: i for i, name in enumerate(outputs)}
        parts = [interpolated(saved, values[:, index[v], :], self.times) for v in self.variables]
        if self.series:
            parts.append(values.reshape(-1, values.shape[-1]))
        return np.concatenate(parts, axis=0)


def compare_on_cluster(
    *scenarios: Scenario,
    scheduler: Any,
    at: Sequence[float] = (),
    variables: Sequence[str] | None = None,
    max_memory: int | None = None,
    plotted: bool = False,
    progress: Callable[[int, Scenario], AbstractContextManager[Progress | None]] | None = None,
) -> Comparison:
    """:func:`compare` of ``scenarios`` run on the Dask cluster ``scheduler``: the same table
    and summary to the last bit, without bringing an ensemble's members back here.

    A single run is run on the cluster and comes back whole. An ensemble is run with
    :func:`~pssc_sim.scenario.runner.run_summarised` and :class:`ComparedValues` as its
    reducer: each block of members is read at the compared times where it ran, and only the
    median, 5% and 95% quantiles of each compared variable at each compared time come back
    (:class:`ReducedEnsemble`). The times and variables are settled before the ensembles run,
    from the single runs and from each ensemble's saved times and recorded names
    (:func:`~pssc_sim.scenario.runner.saved_layout`). With ``plotted``, the ensembles also
    bring back their quantiles over time, those ``pssc run`` on a cluster plots, for
    :meth:`Comparison.plot`. ``progress(i, scenario)`` gives the progress callback of the
    ``i``-th scenario's run as a context; ``max_memory`` is that of
    :func:`~pssc_sim.scenario.runner.run`."""
    from pssc_sim.scenario.runner import run, run_summarised, saved_layout

    if not scenarios:
        raise ScenarioError(
            "scenarios: give at least one scenario to compare (got none). Pass two or more"
        )

    def bar(i: int, scenario: Scenario) -> AbstractContextManager[Progress | None]:
        return nullcontext() if progress is None else progress(i, scenario)

    singles: dict[int, ScenarioResult] = {}
    layouts: list[tuple[np.ndarray, Sequence[str]]] = []
    for i, scenario in enumerate(scenarios):
        if scenario.is_ensemble:
            layouts.append(saved_layout(scenario, max_memory))
            continue
        with bar(i, scenario) as callback:
            single = run(scenario, progress=callback, max_memory=max_memory, scheduler=scheduler)
        singles[i] = single
        layouts.append((single.results.times, single.results.names))
    labels = _labels([scenario.label for scenario in scenarios])
    chosen = _chosen(labels, [names for _, names in layouts], variables)
    times = _times([saved for saved, _ in layouts], at)
    reducer = ComparedValues(chosen, times, plotted)
    runs: list[Compared] = []
    for i, scenario in enumerate(scenarios):
        if i in singles:
            runs.append(singles[i])
            continue
        saved, names = layouts[i]
        with bar(i, scenario) as callback:
            summary = run_summarised(
                scenario,
                scheduler=scheduler,
                progress=callback,
                max_memory=max_memory,
                reduce=(reducer, reducer.rows(len(saved), len(names))),
            )
        runs.append(_reduced(summary, chosen, len(times), plotted))
    return Comparison(tuple(runs), labels, chosen, times)


def _reduced(
    run: ScenarioSummary, variables: tuple[str, ...], times: int, plotted: bool
) -> ReducedEnsemble:
    """The :class:`ReducedEnsemble` of the summary of :class:`ComparedValues`' rows."""
    s = run.summary
    assert s.median is not None
    compared = len(variables) * times
    low, high = (s.quantiles[s.levels.index(q), :compared] for q in SPREAD)
    series = None
    if plotted:
        shape = (len(s.times), len(s.names))
        series = Summary(
            s.times,
            s.names,
            s.levels,
            s.quantiles[:, compared:].reshape(len(s.levels), *shape),
            s.mean[compared:].reshape(shape),
            s.members,
            s.rounds,
            s.median[compared:].reshape(shape),
        )
    return ReducedEnsemble(
        run,
        variables,
        s.median[:compared].reshape(len(variables), times),
        low.reshape(len(variables), times),
        high.reshape(len(variables), times),
        series,
    )


def _chosen(
    labels: Sequence[str], recorded: Sequence[Sequence[str]], variables: Sequence[str] | None
) -> tuple[str, ...]:
    """The variables compared: ``variables``, or else every one the runs (which recorded
    ``recorded``) share, in the first run's order; each checked to be shared."""
    names = [n for n in recorded[0] if all(n in run for run in recorded)]
    if not names:
        raise ScenarioError(
            f"compare: the scenarios share no variable ({_recorded(labels, recorded)})."
            " Compare scenarios of one model, or models whose variables have "
            "the same names"
        )
    chosen = tuple(variables) if variables is not None else tuple(names)
    for variable in chosen:
        if variable not in names:
            raise ScenarioError(
                f"variables: '{variable}' is not recorded by every scenario."
                f"{did_you_mean(variable, names)} Compare variables they share: "
                f"{_listed(names)}"
            )
    return chosen


def _recorded(labels: Sequence[str], recorded: Sequence[Sequence[str]], shown: int = 5) -> str:
    """What each run records, for a message: ``a: x, y; b: z`` (at most ``shown`` names each)."""
    parts = []
    for label, names in zip(labels, recorded, strict=True):
        parts.append(f"{label}: {_listed(names, shown)}")
    return "; ".join(parts)


def _listed(names: Sequence[str], shown: int = 10) -> str:
    """``x, y, z and 4 more``: a list of names that stays short in a message."""
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return f"{', '.join(names[:shown])}{more}"


def _labels(names: Sequence[str]) -> tuple[str, ...]:
    """Unique labels: a repeated name gets ``#2``, ``#3`` ..."""
    labels: list[str] = []
    for name in names:
        label, n = name, 1
        while label in labels:
            n += 1
            label = f"{name}#{n}"
        labels.append(label)
    return tuple(labels)


def _times(saved: Sequence[np.ndarray], at: Sequence[float]) -> tuple[float, ...]:
    """The compared times: ``at`` (each inside every run's ``saved`` times) and the common
    end."""
    start = max(float(times[0]) for times in saved)
    end = min(float(times[-1]) for times in saved)
    for t in at:
        if not start <= t <= end:
            raise ScenarioError(
                f"at: time {t:g} is outside the runs (got {t:g}, runs cover "
                f"{start:g} to {end:g}). Choose a time inside the runs"
            )
    return (*sorted({float(t) for t in at if t != end}), end)
