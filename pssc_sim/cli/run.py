"""``pssc run MODEL``: run a model file, print its summary, and write its results and plot."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from pssc_sim.cli.common import (
    EXIT_OK,
    UsageError,
    check_method,
    collector_paused,
    parse_assignments,
    time_overrides,
)

if TYPE_CHECKING:
    from pssc_sim.ir.model import Model
    from pssc_sim.results import Results


def scaled(
    model: Model, params: Mapping[str, float], factors: Mapping[str, float]
) -> dict[str, float]:
    """Each parameter of ``factors`` at its value (``params``, else the model's) times its
    factor (``--scale``); an arrayed parameter is refused."""
    values = {}
    for name, factor in factors.items():
        parameter = next(p for p in model.parameters if p.name == name)
        if parameter.dims:
            raise UsageError(
                f"--scale: '{name}' is an arrayed parameter (got dimensions "
                f"{', '.join(parameter.dims)}). Scale a parameter that holds one number"
            )
        values[name] = params.get(name, parameter.value) * factor
    return values


def command_run(
    model_path: str,
    *,
    method: str = "euler",
    out: Path | None = None,
    assignments: Sequence[str] = (),
    scales: Sequence[str] = (),
    stop: float | None = None,
    dt: float | None = None,
    stream: TextIO | None = None,
    max_memory: int | None = None,
    scheduler: int | str | None = None,
    backend: str = "auto",
    names: str = "original",
    constants: bool = False,
    data_tags: Mapping[str, str] | None = None,
) -> int:
    """Run a model, print its summary and, when ``out`` is given, write the CSV and the plot
    (on the Dask cluster ``scheduler``, if given, and on the back end ``backend``: see
    :func:`~pssc_sim.simulate`).

    ``names="original"`` shows the variables of an imported model by their names in its file,
    ``"ids"`` by their identifiers; ``constants`` adds the parameters to the table;
    ``data_tags`` maps the tags naming data files in a Vensim model to the files."""
    with collector_paused():
        from pssc_sim.integrate.simulate import simulate
        from pssc_sim.parse import load_model

    check_method(method)
    model = load_model(model_path, data_tags=data_tags)
    params = parse_assignments(assignments, model)
    params.update(scaled(model, params, parse_assignments(scales, model, "--scale")))
    results = simulate(
        model,
        params,
        method=method,
        time=time_overrides(model, stop, dt),
        max_memory=max_memory,
        scheduler=scheduler,
        backend=backend,
    )
    if constants:
        results = results.with_parameters()
    shown = model.original_names() if names == "original" else {}
    results = results.renamed(shown)
    output = stream or sys.stdout
    print(summary(model, results), file=output)
    if out is not None:
        for path in write_outputs(model, results, out, shown):
            print(f"wrote {path}", file=output)
    return EXIT_OK


def summary(model: Model, results: Results) -> str:
    """A plain-text table: the initial, final, minimum and maximum of every recorded variable.

    For an ensemble the table describes the median across members.
    """
    values = results.central()
    units = f" {model.time.units}" if model.time.units else ""
    kind = f"median of {results.n_members} members" if results.is_ensemble else "single run"
    head = (
        f"{model.title or model.name} ({model.name}): method {results.method}, "
        f"time {results.times[0]:g} to {results.times[-1]:g}{units}, {kind}"
    )
    width = max([len("variable"), *(len(name) for name in results.names)])
    rows = [
        head,
        "",
        f"{'variable':<{width}}  {'initial':>12} {'final':>12} {'min':>12} {'max':>12}",
    ]
    for name, column in zip(results.names, values.T, strict=True):
        cells = " ".join(f"{v:>12.6g}" for v in (column[0], column[-1], column.min(), column.max()))
        rows.append(f"{name:<{width}}  {cells}")
    return "\n".join(rows)


def write_outputs(
    model: Model, results: Results, out: Path, names: Mapping[str, str] | None = None
) -> list[Path]:
    """Write ``out/results.csv`` and ``out/stocks.png`` (moved in together, see
    :func:`~pssc_sim.atomic.file_set`); return their paths. ``names`` maps the identifiers of
    the model to the names ``results`` uses, where they differ."""
    from matplotlib.figure import Figure

    from pssc_sim.output import RUN_FILES, file_set, write_csv, write_figure
    from pssc_sim.plot import plain, plot_stocks, visible_stocks
    from pssc_sim.report.words import date_axis

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"--out: cannot create the folder ({exc.strerror}) (got '{out}'). "
            "Give a folder you can write to"
        ) from None
    figure = Figure(figsize=(8, 4.5), layout="constrained")
    ax = plot_stocks(
        results,
        [(names or {}).get(name, name) for name in visible_stocks(model)],
        ax=figure.subplots(),
    )
    ax.set_title(plain(model.title or model.name))
    ax.set_xlabel(plain(f"time ({model.time.units})" if model.time.units else "time"))
    date_axis(ax, model.time)  # calendar dates or years where the model's clock has them
    units = _common_units(model, visible_stocks(model))
    if units:
        ax.set_ylabel(plain(units))
    with file_set(out, RUN_FILES) as staging:
        write_csv(results, staging / "results.csv", model.time)
        write_figure(figure, staging / "stocks.png")
    return [out / "results.csv", out / "stocks.png"]


def _common_units(model: Model, names: Sequence[str]) -> str:
    """The units shared by all ``names``, or an empty string if they differ."""
    units: Mapping[str, str] = {s.name: s.meta.units for s in model.stocks}
    found = {units[name.partition("[")[0]] for name in names}  # elements: population[0-4,A]
    return found.pop() if len(found) == 1 else ""
