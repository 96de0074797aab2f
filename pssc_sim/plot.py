"""Plots of results. Every function takes ``ax=None`` and returns what it drew.

matplotlib is imported here only, so ``import pssc_sim`` stays light.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from pssc_sim.ir.model import Model
from pssc_sim.results import Results

if TYPE_CHECKING:
    from matplotlib.axes import Axes

#: The bands drawn around the median of an ensemble: (low, high, opacity), widest first.
ENSEMBLE_BANDS: tuple[tuple[float, float, float], ...] = ((0.05, 0.95, 0.15), (0.25, 0.75, 0.3))


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
    return tuple(stock.name for stock in model.stocks if not stock.hidden)


def plot_stocks(results: Results, names: Sequence[str] | None = None,
                ax: Axes | None = None) -> Axes:
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
            ax.plot(results.times, column[:, 0], label=name)
    ax.set_xlabel("time")
    ax.set_title(results.model_name)
    if selected:
        ax.legend(loc="best")
    return ax


def _draw_ensemble(ax: Axes, times: np.ndarray, column: np.ndarray, name: str) -> None:
    """A median line and shaded quantile bands of ``column`` (times x members)."""
    (line,) = ax.plot(times, np.median(column, axis=1), label=f"{name} (median)")
    for low, high, alpha in ENSEMBLE_BANDS:
        lower, upper = np.quantile(column, [low, high], axis=1)
        ax.fill_between(times, lower, upper, color=line.get_color(), alpha=alpha, linewidth=0)
