"""Writing results to disk: the results table as CSV and figures as PNG, each written atomically.

A file is first written to a temporary name in its own folder and then moved over the final name
with :func:`os.replace`, so a reader never sees a half-written file and an interrupted run leaves
the previous file in place.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pssc_sim.results import Results

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Quantiles written next to the median for an ensemble.
ENSEMBLE_QUANTILES: tuple[float, ...] = (0.05, 0.25, 0.75, 0.95)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success move it over ``path``.

    The temporary file is removed if the body raises, and ``path`` is left untouched.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "note.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("done")
    >>> target.read_text(), sorted(p.name for p in target.parent.iterdir())
    ('done', ['note.txt'])
    """
    final = Path(path)
    # A unique hidden name in the same folder: os.replace is atomic only within a file system.
    temporary = final.with_name(f".{final.name}.{uuid.uuid4().hex}.tmp")
    try:
        yield temporary
        os.replace(temporary, final)
    finally:
        temporary.unlink(missing_ok=True)


def results_table(results: Results,
                  quantiles: Sequence[float] = ENSEMBLE_QUANTILES) -> pd.DataFrame:
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
        spread = np.quantile(results.values, levels, axis=2)  # (n_q, n_times, n_vars)
        for j, name in enumerate(results.names):
            for i, level in enumerate(levels):
                table[f"{name}.p{round(level * 100):02d}"] = spread[i, :, j]
        ordered = [c for name in results.names for c in table.columns
                   if c == name or c.startswith(f"{name}.p")]
        table = table[ordered]
    return table.reset_index()


def write_csv(results: Results, path: str | Path) -> Path:
    """Write :func:`results_table` to ``path`` atomically, at full precision; return the path.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> res = Results(np.array([0.0, 1.0]), ("x",), np.array([[[1.0]], [[2.0]]]),
    ...               ("k",), np.array([[0.5]]), "euler", "demo")
    >>> path = write_csv(res, pathlib.Path(tempfile.mkdtemp()) / "results.csv")
    >>> path.read_text().splitlines()
    ['time,x', '0.0,1.0', '1.0,2.0']
    """
    final = Path(path)
    with atomic_path(final) as temporary:
        results_table(results).to_csv(temporary, index=False)
    return final


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
