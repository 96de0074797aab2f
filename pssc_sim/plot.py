"""Plots of results. Every function takes ``ax=None`` and returns what it drew.

matplotlib is imported here only, so ``import pssc_sim`` stays light.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

from pssc_sim.ir.model import Model
from pssc_sim.results import Results

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: The bands drawn around the median of an ensemble: (low, high, opacity), widest first.
ENSEMBLE_BANDS: tuple[tuple[float, float, float], ...] = ((0.05, 0.95, 0.15), (0.25, 0.75, 0.3))


def plain(text: object) -> str:
    """``text`` as matplotlib should show it, as written: every ``$`` escaped, so text taken from
    a model (a title, a label, units, a diagram's names) is never read as mathtext, which would
    change what it says (``$5 to $10``) or fail to draw (``$\\frac$``).

    Examples
    --------
    >>> print(plain("cost in $, $5 to $10"))
    cost in \\$, \\$5 to \\$10
    """
    return str(text).replace("$", r"\$")


def visible_stocks(model: Model) -> tuple[str, ...]:
    """The stocks a user wrote (not those created by stateful builtins), in model order.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from pssc_sim import load_model
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "m.yaml"
    >>> _ = path.write_text("time: {stop: 1}\\nstocks: {x: 1}\\n"
    ...                     "auxiliaries: {y: 'SMOOTH(x, 2)'}\\n")
    >>> visible_stocks(load_model(path))
    ('x',)
    """
    # an arrayed stock is drawn element by element
    return tuple(
        row for stock in model.stocks if not stock.hidden for row in model.rows(stock.name)
    )


def plot_stocks(
    results: Results, names: Sequence[str] | None = None, ax: Axes | None = None
) -> Axes:
    """Plot variables over time: a line per variable, or for an ensemble a median with bands.

    Parameters
    ----------
    results
        A single run or an ensemble from :func:`pssc_sim.simulate`.
    names
        The variables to draw. By default every recorded variable; pass
        ``visible_stocks(model)`` for the stocks alone (as ``pssc run`` does).
    ax
        The matplotlib Axes to draw on; the current Axes of pyplot when omitted.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on. For an ensemble each variable gets a median line and shaded
        5-95% and 25-75% bands across members.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> res = Results(np.array([0.0, 1.0]), ("x",), np.array([[[1.0, 3.0]], [[2.0, 4.0]]]),
    ...               ("k",), np.array([[0.5, 1.0]]), "euler", "demo")
    >>> ax = plot_stocks(res, ax=Figure().subplots())
    >>> [line.get_label() for line in ax.get_lines()]
    ['x (median)']
    >>> len(ax.collections)  # the 5-95% and the 25-75% band
    2
    """
    if ax is None:
        import matplotlib.pyplot as plt

        ax = plt.gca()
    selected = list(results.names if names is None else names)
    for name in selected:
        column = results.values[:, results.index(name), :]
        if results.is_ensemble:
            _draw_ensemble(ax, results.times, column, name)
        else:
            ax.plot(results.times, column[:, 0], label=plain(name))
    ax.set_xlabel("time")
    ax.set_title(plain(results.model_name))
    if selected:
        ax.legend(loc="best")
    return ax


def _draw_ensemble(ax: Axes, times: np.ndarray, column: np.ndarray, name: str) -> None:
    """A median line and shaded quantile bands of ``column`` (times x members)."""
    (line,) = ax.plot(times, np.median(column, axis=1), label=plain(f"{name} (median)"))
    for low, high, alpha in ENSEMBLE_BANDS:
        lower, upper = np.quantile(column, [low, high], axis=1)
        ax.fill_between(times, lower, upper, color=line.get_color(), alpha=alpha, linewidth=0)


def plot_variable(
    results: Results,
    name: str,
    ax: Axes | None = None,
    label: str | None = None,
    color: str | None = None,
) -> Axes:
    """Plot one variable: a line for a single run, a fan chart (median and bands) for an ensemble.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> res = Results(np.array([0.0, 1.0]), ("x",), np.array([[[1.0, 3.0]], [[2.0, 4.0]]]),
    ...               ("k",), np.array([[0.5, 1.0]]), "euler", "demo")
    >>> ax = plot_variable(res, "x", ax=Figure().subplots(), label="base")
    >>> [line.get_label() for line in ax.get_lines()], len(ax.collections)
    (['base'], 2)
    """
    if ax is None:
        import matplotlib.pyplot as plt

        ax = plt.gca()
    column = results.values[:, results.index(name), :]
    if not results.is_ensemble:
        ax.plot(results.times, column[:, 0], label=plain(label or name), color=color)
        return ax
    (line,) = ax.plot(
        results.times,
        np.median(column, axis=1),
        label=plain(label or f"{name} (median)"),
        color=color,
    )
    for low, high, alpha in ENSEMBLE_BANDS:
        lower, upper = np.quantile(column, [low, high], axis=1)
        ax.fill_between(
            results.times, lower, upper, color=line.get_color(), alpha=alpha, linewidth=0
        )
    return ax


class Quantiles(Protocol):
    """An ensemble's quantiles without its members (such as
    :class:`~pssc_sim.integrate.cluster.Summary`): ``quantiles`` at ``levels``, shaped levels x
    ``times`` x ``names``."""

    @property
    def times(self) -> np.ndarray: ...
    @property
    def names(self) -> tuple[str, ...]: ...
    @property
    def levels(self) -> tuple[float, ...]: ...
    @property
    def quantiles(self) -> np.ndarray: ...


def plot_summary(
    summary: Quantiles,
    name: str,
    ax: Axes,
    label: str | None = None,
) -> Axes:
    """:func:`plot_variable` of an ensemble reduced on a cluster: the same fan chart, from its
    quantiles (the summary must hold the median and the levels of :data:`ENSEMBLE_BANDS`)."""
    j = summary.names.index(name)

    def at(level: float) -> np.ndarray:
        return summary.quantiles[summary.levels.index(level), :, j]

    (line,) = ax.plot(summary.times, at(0.5), label=plain(label or f"{name} (median)"))
    for low, high, alpha in ENSEMBLE_BANDS:
        ax.fill_between(
            summary.times, at(low), at(high), color=line.get_color(), alpha=alpha, linewidth=0
        )
    return ax


def plot_panels(
    runs: Mapping[str, Results | Quantiles],
    names: Sequence[str],
    figure: Figure,
    time_label: str = "time",
) -> list[Axes]:
    """One panel per variable in ``names``, each run of ``runs`` (label -> results) overlaid.

    Returns the Axes drawn, in the order of ``names``.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> res = Results(np.array([0.0, 1.0]), ("x", "y"), np.zeros((2, 2, 1)),
    ...               ("k",), np.array([[0.5]]), "euler", "demo")
    >>> axes = plot_panels({"a": res, "b": res}, ["x", "y"], Figure())
    >>> [ax.get_title() for ax in axes], len(axes[0].get_lines())
    (['x', 'y'], 2)
    """
    columns = min(3, max(1, len(names)))
    rows = -(-len(names) // columns)
    grid = figure.subplots(rows, columns, squeeze=False)
    axes = list(grid.ravel())
    for ax, name in zip(axes, names, strict=False):
        for label, results in runs.items():
            if isinstance(results, Results):
                plot_variable(results, name, ax=ax, label=label)
            else:
                plot_summary(results, name, ax, label=label)
        ax.set_title(plain(name))
        ax.set_xlabel(plain(time_label))
        if len(runs) > 1:
            ax.legend(loc="best", fontsize="small")
    for ax in axes[len(names) :]:
        ax.set_visible(False)
    return axes[: len(names)]


def plot_ledgers(
    results: Results,
    reported: str,
    true: str,
    axes: Sequence[Axes],
    *,
    target: float | None = None,
    start: float | None = None,
    by: float | None = None,
) -> list[Axes]:
    """Draw a measure's two ledgers side by side: the reported value on ``axes[0]``, the true
    value on ``axes[1]``, on one y range, each with the other ledger as a thin grey line.

    Each ledger is a line for a single run and a fan chart (median with 5-95% and 25-75% bands)
    for an ensemble. A ``target`` is drawn on both as a dashed line from ``start`` (default the
    first saved time) to the end, with a marker at the target date ``by``.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> res = Results(np.array([0.0, 1.0]), ("x", "r"),
    ...               np.array([[[1.0], [1.0]], [[2.0], [3.0]]]), ("k",), np.array([[0.5]]),
    ...               "euler", "demo")
    >>> left, right = plot_ledgers(res, "r", "x", Figure().subplots(1, 2), target=2.5, by=1)
    >>> [line.get_label() for line in left.get_lines()]
    ['reported', 'true', 'target 2.5', '_target date']
    >>> left.get_ylim() == right.get_ylim()
    True
    """
    pairs = (
        (axes[0], reported, true, "reported", "true"),
        (axes[1], true, reported, "true", "reported"),
    )
    start = float(results.times[0]) if start is None else start
    for ax, name, other, label, other_label in pairs:
        plot_variable(results, name, ax=ax, label=label, color="tab:blue")
        median = np.median(results.values[:, results.index(other), :], axis=1)
        ax.plot(results.times, median, color="0.6", linewidth=0.8, label=other_label)
        if target is not None:
            ax.plot(
                [start, float(results.times[-1])],
                [target, target],
                color="tab:red",
                linestyle="--",
                linewidth=1,
                label=f"target {target:g}",
            )
            if by is not None:
                ax.plot(
                    [by],
                    [target],
                    marker="o",
                    color="tab:red",
                    linestyle="none",
                    label="_target date",
                )
        ax.set_title(f"{label} ledger")
        ax.set_xlabel("time")
    low = min(ax.get_ylim()[0] for ax in axes[:2])
    high = max(ax.get_ylim()[1] for ax in axes[:2])
    for ax in axes[:2]:
        ax.set_ylim(low, high)
    return list(axes[:2])
