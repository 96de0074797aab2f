"""Comparing scenarios: the same variables side by side at chosen times and at the end, with
differences against the first scenario."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pssc_sim.errors import did_you_mean
from pssc_sim.ir.model import Model
from pssc_sim.scenario.definition import Scenario
from pssc_sim.scenario.reader import is_scenario_file
from pssc_sim.scenario.runner import ScenarioResult
from pssc_sim.scenario.schema import ScenarioError

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

ScenarioLike = Scenario | ScenarioResult | Model | str | Path


@dataclass(frozen=True, slots=True, eq=False)
class Comparison:
    """Scenario results compared at ``times`` (the last one is the common end of the runs)."""

    runs: tuple[ScenarioResult, ...]
    labels: tuple[str, ...]
    variables: tuple[str, ...]
    times: tuple[float, ...]

    def table(self) -> pd.DataFrame:
        """One row per variable, time and scenario: ``value`` (the median for an ensemble),
        ``difference`` and ``relative_difference`` against the first scenario, and ``p5`` and
        ``p95`` when any scenario is an ensemble."""
        import pandas as pd

        rows = []
        ensembles = any(run.results.is_ensemble for run in self.runs)
        for variable in self.variables:
            members = [values_at(run, variable, self.times) for run in self.runs]
            first = np.median(members[0], axis=1)
            for label, values in zip(self.labels, members, strict=True):
                value = np.median(values, axis=1)
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
                        row["p5"], row["p95"] = np.quantile(values[i], [0.05, 0.95])
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
        """Overlay plots, one panel per variable (bands for ensembles); returns the Axes."""
        from matplotlib.figure import Figure

        from pssc_sim.plot import plot_panels

        figure = figure if figure is not None else Figure(figsize=(11, 7), layout="constrained")
        runs = {label: run.results for label, run in zip(self.labels, self.runs, strict=True)}
        return plot_panels(runs, self.variables, figure)


def _cell(value: float, difference: float, show: bool, width: int) -> str:
    change = f" ({difference:+.4g})" if show else ""
    return f"{f'{value:.6g}{change}':>{width + 12}}"


def values_at(run: ScenarioResult, variable: str, times: Sequence[float]) -> np.ndarray:
    """``variable`` of every member at ``times`` (linear between saved times): times x members."""
    results = run.results
    column = results.values[:, results.index(variable), :]
    saved = results.times
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
    names = [n for n in runs[0].results.names if all(n in run.results.names for run in runs)]
    if not names:
        raise ScenarioError(
            f"compare: the scenarios share no variable ({_recorded(labels, runs)})."
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
    return Comparison(runs, labels, chosen, _times(runs, at))


def _recorded(labels: Sequence[str], runs: Sequence[ScenarioResult], shown: int = 5) -> str:
    """What each run records, for a message: ``a: x, y; b: z`` (at most ``shown`` names each)."""
    parts = []
    for label, run in zip(labels, runs, strict=True):
        parts.append(f"{label}: {_listed(run.results.names, shown)}")
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


def _times(runs: Sequence[ScenarioResult], at: Sequence[float]) -> tuple[float, ...]:
    start = max(float(run.results.times[0]) for run in runs)
    end = min(float(run.results.times[-1]) for run in runs)
    for t in at:
        if not start <= t <= end:
            raise ScenarioError(
                f"at: time {t:g} is outside the runs (got {t:g}, runs cover "
                f"{start:g} to {end:g}). Choose a time inside the runs"
            )
    return (*sorted({float(t) for t in at if t != end}), end)
