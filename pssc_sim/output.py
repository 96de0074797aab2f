"""Writing results to disk: tables as CSV, figures as PNG, ensembles as netCDF, each atomically.

A file is first written to a temporary name in its own folder and then moved over the final name
with :func:`os.replace`, so a reader never sees a half-written file and an interrupted run leaves
the previous file in place (:mod:`pssc_sim.atomic`). Commands that write several files stage
them with :func:`~pssc_sim.atomic.file_set` and move them in together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pssc_sim.atomic import atomic_path, file_set
from pssc_sim.errors import ParameterError
from pssc_sim.ir.calendar import iso
from pssc_sim.ir.model import TimeSpec
from pssc_sim.orderstats import member_means
from pssc_sim.results import Results, member_quantiles

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "COMPARISON_FILES",
    "ENSEMBLE_QUANTILES",
    "LONG_QUANTILES",
    "RUN_FILES",
    "atomic_path",
    "ensemble_table",
    "file_set",
    "quantile_label",
    "results_table",
    "write_csv",
    "write_figure",
    "write_netcdf",
    "write_table",
    "write_text",
]

#: Every file ``pssc run --out DIR`` may write (a model run, a scenario, an ensemble): a run
#: replaces those it writes and removes the others, so DIR never mixes two runs.
RUN_FILES: tuple[str, ...] = (
    "results.csv",
    "stocks.png",
    "results.png",
    "parameters.csv",
    "ensemble.nc",
)
#: Every file ``pssc compare --out DIR`` writes.
COMPARISON_FILES: tuple[str, ...] = ("comparison.csv", "comparison.png")

#: Quantiles written next to the median for an ensemble.
ENSEMBLE_QUANTILES: tuple[float, ...] = (0.05, 0.25, 0.75, 0.95)
#: Quantiles of the long ensemble table (``p5, p25, p50, p75, p95``), followed by the mean.
LONG_QUANTILES: tuple[float, ...] = (0.05, 0.25, 0.5, 0.75, 0.95)


def results_table(
    results: Results, quantiles: Sequence[float] = ENSEMBLE_QUANTILES
) -> pd.DataFrame:
    """The results as one table: a ``time`` column, then one column per variable.

    For an ensemble, each variable's column holds the median across members and columns
    ``<name>.p05``, ``<name>.p25``, ... hold the other ``quantiles``.

    Examples
    --------
    >>> res = Results(np.array([0.0, 1.0]), ("x",), np.array([[[1.0]], [[2.0]]]),
    ...               ("k",), np.array([[0.5]]), "euler", "demo")
    >>> results_table(res).columns.tolist()
    ['time', 'x']
    """
    table = results.to_frame()
    if results.is_ensemble:
        levels = np.asarray(quantiles, dtype=float)
        spread = member_quantiles(results.values, levels)  # (n_q, n_times, n_vars)
        for j, name in enumerate(results.names):
            for i, level in enumerate(levels):
                table[f"{name}.p{round(level * 100):02d}"] = spread[i, :, j]
        ordered = [
            c
            for name in results.names
            for c in table.columns
            if c == name or c.startswith(f"{name}.p")
        ]
        table = table[ordered]
    return table.reset_index()


def quantile_label(level: float) -> str:
    """The column name of a quantile: ``p5`` for 0.05, ``p2.5`` for 0.025.

    >>> [quantile_label(q) for q in (0.05, 0.5, 0.025)]
    ['p5', 'p50', 'p2.5']
    """
    return f"p{round(level * 100, 6):g}"


def ensemble_table(results: Results, quantiles: Sequence[float] = LONG_QUANTILES) -> pd.DataFrame:
    """Quantiles and mean across members in tidy long form: ``time, variable, p5, ..., mean``.

    One row per saved time and variable, times first.

    Examples
    --------
    >>> res = Results(np.array([0.0, 1.0]), ("x",), np.array([[[1.0, 3.0]], [[2.0, 4.0]]]),
    ...               ("k",), np.array([[0.5, 1.0]]), "euler", "demo")
    >>> ensemble_table(res, [0.5]).values.tolist()
    [[0.0, 'x', 2.0, 2.0], [1.0, 'x', 3.0, 3.0]]
    """
    levels = np.asarray(quantiles, dtype=float)
    if levels.ndim != 1 or not ((levels >= 0) & (levels <= 1)).all():
        raise ParameterError(
            f"quantiles: must lie in [0, 1] (got {list(quantiles)}). Use e.g. [0.05, 0.5, 0.95]"
        )
    spread = member_quantiles(results.values, levels)  # (n_q, n_times, n_vars)
    return quantile_frame(
        results.times, results.names, levels, spread, member_means(results.values)
    )


def quantile_frame(
    times: np.ndarray,
    names: Sequence[str],
    levels: Sequence[float] | np.ndarray,
    spread: np.ndarray,
    mean: np.ndarray,
) -> pd.DataFrame:
    """The long table of :func:`ensemble_table` from quantiles ``spread`` (levels x times x
    variables) and means (times x variables)."""
    n_times, n_vars = len(times), len(names)
    table = pd.DataFrame(
        {
            "time": np.repeat(times, n_vars),
            "variable": np.tile(np.asarray(names, dtype=object), n_times),
        }
    )
    for i, level in enumerate(levels):
        table[quantile_label(float(level))] = spread[i].reshape(-1)
    table["mean"] = np.asarray(mean).reshape(-1)
    return table


def write_table(table: pd.DataFrame, path: str | Path) -> Path:
    """Write ``table`` (without its index) as CSV to ``path`` atomically; return the path."""
    final = Path(path)
    with atomic_path(final) as temporary:
        table.to_csv(temporary, index=False)
    return final


def write_text(text: str, path: str | Path) -> Path:
    """Write ``text`` to ``path`` atomically (UTF-8); return the path."""
    final = Path(path)
    with atomic_path(final) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return final


def write_netcdf(
    results: Results, path: str | Path, attributes: Mapping[str, str | int | float] | None = None
) -> Path:
    """Write every member of ``results`` to a netCDF file; return the path.

    Each variable is an array over ``(time, member)``; ``parameter_value`` holds the parameters
    of every member over ``(parameter, member)``. The file is netCDF classic (64-bit offset),
    streamed to disk a slice of members at a time by :mod:`pssc_sim.netcdf`, so writing never
    copies the ensemble; xarray or any netCDF reader opens it.

    Examples
    --------
    >>> import tempfile, pathlib, xarray
    >>> res = Results(np.array([0.0, 1.0]), ("x",), np.array([[[1.0, 3.0]], [[2.0, 4.0]]]),
    ...               ("k",), np.array([[0.5, 1.0]]), "euler", "demo")
    >>> path = write_netcdf(res, pathlib.Path(tempfile.mkdtemp()) / "ensemble.nc")
    >>> with xarray.open_dataset(path) as data:
    ...     data["x"].sel(member=1).values.tolist()
    [3.0, 4.0]
    """
    from pssc_sim.netcdf import write_ensemble

    final = Path(path)
    with atomic_path(final) as temporary:
        write_ensemble(
            results,
            temporary,
            {"model": results.model_name, "method": results.method, **(attributes or {})},
        )
    return final


def dated(table: pd.DataFrame, time: TimeSpec | None) -> pd.DataFrame:
    """``table`` with a ``date`` column after its ``time`` column (ISO dates, with hours and
    minutes for a model in hours or shorter units) when the model's clock reads a calendar
    (:mod:`pssc_sim.ir.calendar`) and its times are not the calendar years themselves.

    >>> spec = TimeSpec(0, 48, 24, 24, "hour", "2003-04-01")
    >>> dated(pd.DataFrame({"time": [0.0, 24.0], "x": [1, 2]}), spec).columns.tolist()
    ['time', 'date', 'x']
    """
    if time is None or not iso(time, time.start) or not time.origin:
        return table
    table = table.copy()
    table.insert(1, "date", [iso(time, float(t)) for t in table["time"]])
    return table


def write_csv(results: Results, path: str | Path, time: TimeSpec | None = None) -> Path:
    """Write the results to ``path`` atomically, at full precision; return the path.

    A single run is :func:`results_table` (``time``, then a column per variable); an ensemble is
    :func:`ensemble_table` (``time, variable, p5, p25, p50, p75, p95, mean``). With the model's
    ``time`` (a clock with an origin), a ``date`` column follows ``time`` (:func:`dated`).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> res = Results(np.array([0.0, 1.0]), ("x",), np.array([[[1.0]], [[2.0]]]),
    ...               ("k",), np.array([[0.5]]), "euler", "demo")
    >>> path = write_csv(res, pathlib.Path(tempfile.mkdtemp()) / "results.csv")
    >>> path.read_text().splitlines()
    ['time,x', '0.0,1.0', '1.0,2.0']
    """
    table = ensemble_table(results) if results.is_ensemble else results_table(results)
    return write_table(dated(table, time), path)


def write_figure(figure: Figure, path: str | Path, dpi: int = 120) -> Path:
    """Save ``figure`` as PNG to ``path`` atomically with the Agg renderer; return the path.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from matplotlib.figure import Figure
    >>> figure = Figure()
    >>> _ = figure.subplots().plot([0, 1], [1, 0])
    >>> path = write_figure(figure, pathlib.Path(tempfile.mkdtemp()) / "plot.png")
    >>> path.read_bytes()[:4]
    b'\\x89PNG'
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)  # attaches itself to the figure; no global backend is touched
    final = Path(path)
    with atomic_path(final) as temporary:
        figure.savefig(temporary, format="png", dpi=dpi)
    return final
