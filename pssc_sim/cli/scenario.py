"""``pssc run SCENARIO``, ``pssc compare`` and ``pssc schema``: scenarios on the command line.

Long runs show a progress bar on stderr when it is a terminal: after a second, the scenario being
run, the fraction done with a bar and a percentage, the time spent and the time left.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from pssc_sim.cli.common import EXIT_OK
from pssc_sim.errors import PsscSimWarning

if TYPE_CHECKING:
    from pssc_sim.ir.model import Model
    from pssc_sim.scenario import Scenario, ScenarioResult
    from pssc_sim.scenario.compare import Comparison
    from pssc_sim.scenario.runner import ScenarioSummary

__all__ = [
    "ProgressBar",
    "add_commands",
    "add_memory_option",
    "add_run_options",
    "command_compare",
    "command_run",
    "command_schema",
    "is_scenario_file",
    "memory_limit",
    "progress",
    "write_comparison",
    "write_run",
]

#: Panels drawn at most in a results figure.
MAX_PANELS = 12


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``compare`` and ``schema`` to the ``pssc`` parser."""
    comparison = commands.add_parser(
        "compare",
        help="compare scenarios side by side",
        description="Run scenarios (or models) and compare the same variables at chosen times "
        "and at the end, with differences against the first; with --out, write "
        "DIR/comparison.csv and an overlay plot DIR/comparison.png.",
    )
    comparison.add_argument(
        "scenarios",
        nargs="+",
        metavar="SCENARIO",
        help="scenario files (or model files and folders); the first is the reference",
    )
    comparison.add_argument(
        "--at",
        type=float,
        nargs="+",
        default=[],
        metavar="T",
        help="times to compare at, besides the end",
    )
    comparison.add_argument(
        "--outputs",
        nargs="+",
        metavar="NAME",
        help="variables to compare (default: all that every scenario records)",
    )
    comparison.add_argument(
        "--out", type=Path, metavar="DIR", help="folder for comparison.csv and comparison.png"
    )
    add_memory_option(comparison)
    schema = commands.add_parser(
        "schema",
        help="print the JSON Schema of scenario files or of model files",
        description="Print the JSON Schema of scenario files ('pssc schema'), or of model "
        "files ('pssc schema model'), for editors that complete and check YAML; "
        "with --model, a scenario schema completes that model's parameter names.",
    )
    schema.add_argument(
        "kind",
        nargs="?",
        choices=("scenario", "model"),
        default="scenario",
        help="which files the schema describes (default: scenario)",
    )
    schema.add_argument(
        "--model", metavar="MODEL", help="a model whose parameter names the schema should list"
    )
    schema.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="FILE",
        help="write the schema to FILE instead of printing it",
    )


def add_run_options(run: argparse.ArgumentParser) -> None:
    """Options of ``pssc run`` that only scenarios use."""
    run.add_argument(
        "--save-ensemble",
        action="store_true",
        help="also write every member to DIR/ensemble.nc (netCDF)",
    )


#: The back ends ``--backend`` takes.
BACKEND_NAMES = ("numpy", "numba", "auto")


def add_backend_option(command: argparse.ArgumentParser) -> None:
    """The ``--backend`` option of a command that runs models (the names of
    :data:`pssc_sim.integrate.backends.BACKENDS`, written here: the command line starts without
    the compile stage)."""
    command.add_argument(
        "--backend",
        default="auto",
        choices=BACKEND_NAMES,
        help="how fixed-step runs are computed: numpy, numba (the whole loop "
        "compiled, from the 'fast' extra) or auto (default: numba where "
        "it wins once compiling is counted); see 'pssc --version'",
    )


def add_memory_option(command: argparse.ArgumentParser) -> None:
    """The ``--max-memory SIZE`` option of a command that runs models."""
    command.add_argument(
        "--max-memory",
        metavar="SIZE",
        help="memory a run may use, e.g. 2GiB or 512MiB (units B, KiB, MiB, "
        "GiB, TiB; default: $PSSC_MAX_MEMORY, else half the memory "
        "available). A run that would need more is refused before it "
        "starts",
    )


def memory_limit(args: argparse.Namespace) -> int | None:
    """The ``--max-memory`` of ``args`` in bytes, or None for the default."""
    from pssc_sim.integrate.budget import parse_size

    text = getattr(args, "max_memory", None)
    return None if text is None else parse_size(text)


class ProgressBar:
    """A fraction-done bar with percentage, time spent and time left, drawn on one line.

    The run calls the instance with the fraction done (``simulate(progress=bar)``); a drawing
    thread reads the latest value, so the run never waits on the terminal. ``phase(i, n)`` maps
    the fractions of the next run onto the ``i``-th of ``n`` equal parts of the bar, for commands
    that run several scenarios.

    Examples
    --------
    >>> bar = ProgressBar("running sir", width=10)
    >>> bar(0.5)
    >>> bar.line(elapsed=2.0)
    'running sir [#####.....]  50%  2.0 s, about 2.0 s left'
    >>> bar.phase(1, 2)
    >>> bar(0.5)
    >>> bar.fraction
    0.75
    """

    def __init__(self, label: str, width: int = 24) -> None:
        self.label, self.width = label, width
        self.fraction = 0.0
        self.offset, self.scale = 0.0, 1.0
        self.reported = False  # a command whose runs report nothing shows only the time

    def __call__(self, fraction: float) -> None:
        """The current run is ``fraction`` done (0 to 1)."""
        self.fraction = max(self.fraction, self.offset + self.scale * min(max(fraction, 0.0), 1.0))
        self.reported = True

    def phase(self, index: int, count: int) -> None:
        """The next run is the ``index``-th (from 0) of ``count`` runs of the command."""
        self.offset, self.scale = index / count, 1.0 / count
        self.fraction = max(self.fraction, self.offset)

    def line(self, elapsed: float, columns: int = 1000) -> str:
        """The bar as text, after ``elapsed`` seconds (the time alone until a fraction comes),
        with the label shortened to fit in ``columns``."""
        if not self.reported:
            status = f"  {elapsed:.1f} s"
        else:
            done = min(int(self.fraction * self.width), self.width)
            status = f" [{'#' * done}{'.' * (self.width - done)}] {self.fraction:4.0%}"
            status += f"  {elapsed:.1f} s"
            if 0.0 < self.fraction < 1.0:
                status += f", about {elapsed * (1 - self.fraction) / self.fraction:.1f} s left"
        room = max(columns - len(status), 4)
        label = self.label if len(self.label) <= room else self.label[: room - 3] + "..."
        return (label + status)[:columns]


@contextmanager
def progress(label: str, stream: TextIO | None = None, delay: float = 1.0) -> Iterator[ProgressBar]:
    """Draw a :class:`ProgressBar` for ``label`` on ``stream`` (stderr) while the body runs.

    The bar appears after ``delay`` seconds, only when the stream is a terminal, is redrawn ten
    times a second and is cleared at the end; the body passes the yielded bar to the runs as
    their progress callback. Nothing is written to a stream that is not a terminal.
    """
    out = stream or sys.stderr
    bar = ProgressBar(label)
    if not out.isatty():
        yield bar
        return
    done = threading.Event()
    start = time.perf_counter()

    def show() -> None:
        if done.wait(delay):
            return
        columns = _columns(out) - 1
        drawn = 0
        while not done.wait(0.1):
            text = bar.line(time.perf_counter() - start, columns)
            out.write("\r" + text.ljust(drawn))
            out.flush()
            drawn = max(drawn, len(text))
        out.write("\r" + " " * drawn + "\r")
        out.flush()

    thread = threading.Thread(target=show, daemon=True)
    thread.start()
    try:
        yield bar
    finally:
        done.set()
        thread.join()


def _columns(stream: TextIO) -> int:
    """The width of the terminal ``stream`` writes to (stdout may be redirected meanwhile)."""
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        import shutil  # loads zlib, bz2 and lzma: only when a bar needs a width

        return shutil.get_terminal_size().columns


def is_scenario_file(path: str | Path) -> bool:
    """Whether ``path`` is a scenario file (see :func:`pssc_sim.scenario.is_scenario_file`).

    A folder or a file that is not YAML is answered without loading the scenario stage, so
    ``pssc run models/teacup`` starts as fast as the model reader allows."""
    file = Path(path)
    if not file.is_file() or file.suffix.lower() not in (".yaml", ".yml"):
        return False
    from pssc_sim.scenario.reader import is_scenario_file as is_scenario

    return is_scenario(path)


def run(scenario: Scenario, **options: Any) -> ScenarioResult:
    """Run ``scenario`` with :func:`pssc_sim.scenario.runner.run` (the scenario stage is
    imported when a command first runs one)."""
    from pssc_sim.scenario.runner import run as run_scenario

    return run_scenario(scenario, **options)


def run_label(scenario: Scenario, position: str = "") -> str:
    """The progress label of a scenario run."""
    members = (scenario.uncertainty.members if scenario.uncertainty is not None else None) or 1
    kind = f"{members} members" if scenario.is_ensemble else "single run"
    return f"{position}running {scenario.label} ({kind})"


def command_run(
    path: str,
    *,
    method: str | None,
    out: Path | None,
    assignments: Sequence[str],
    stop: float | None,
    scales: Sequence[str] = (),
    dt: float | None,
    save_ensemble: bool = False,
    stream: TextIO | None = None,
    max_memory: int | None = None,
    compute: argparse.Namespace | None = None,
    backend: str = "auto",
) -> int:
    """Run a scenario file, print its summary and, with ``out``, write its files (``compute``:
    the command line's ``--workers`` or ``--scheduler``, see :mod:`pssc_sim.cli.compute`;
    ``backend``: see :func:`~pssc_sim.simulate`)."""
    from pssc_sim.cli.common import check_method, parse_assignments, time_overrides
    from pssc_sim.cli.compute import cluster
    from pssc_sim.scenario import Scenario

    scenario = Scenario.load(path)
    model = scenario.load_model()
    if method is not None:
        check_method(method)
        scenario = scenario.with_method(method)
    scenario = scenario.with_held(**parse_assignments(assignments, model))
    scenario = scenario.with_scaled(**parse_assignments(scales, model, "--scale"))
    scenario = scenario.with_time(**time_overrides(model, stop, dt))
    output = stream or sys.stdout
    with cluster(compute or argparse.Namespace(), scenario) as client:
        if client is not None and scenario.is_ensemble:
            return _run_on_cluster(
                scenario, client, out, (save_ensemble, max_memory, backend), output
            )
        with progress(run_label(scenario)) as bar, noted():
            result = run(
                scenario, progress=bar, max_memory=max_memory, scheduler=client, backend=backend
            )
    print(result.summary(), file=output)
    if out is not None:
        for written in write_run(result, out, save_ensemble):
            print(f"wrote {written}", file=output)
    return EXIT_OK


def _run_on_cluster(
    scenario: Scenario,
    client: Any,
    out: Path | None,
    settings: tuple[bool, int | None, str],
    output: TextIO,
) -> int:
    """``pssc run`` of an ensemble on a cluster: the quantiles and means reduced on the
    workers (:func:`~pssc_sim.scenario.runner.run_summarised`), so no member comes back here;
    with ``--save-ensemble``, ``ensemble.nc`` written by the workers, each its own blocks,
    into the staging folder of ``out`` (which must be on storage the workers share). The
    files are those the run in one process writes. ``settings`` is ``(save_ensemble,
    max_memory, backend)``: the back end each worker runs (numba if asked for and installed
    on every worker). Without ``out``, the workers draw the members themselves, so this
    process never holds them; with it, they are drawn here for ``parameters.csv``."""
    from pssc_sim.output import RUN_FILES, file_set
    from pssc_sim.scenario.runner import run_summarised

    save_ensemble, max_memory, backend = settings
    if out is None:
        with progress(run_label(scenario)) as bar, noted():
            result = run_summarised(
                scenario, scheduler=client, progress=bar, max_memory=max_memory, backend=backend
            )
        print(result.summary_text(), file=output)
        return EXIT_OK
    folder = _folder(out)
    with file_set(folder, RUN_FILES) as staging:
        with progress(run_label(scenario)) as bar, noted():
            result = run_summarised(
                scenario,
                scheduler=client,
                progress=bar,
                max_memory=max_memory,
                ensemble=staging / "ensemble.nc" if save_ensemble else None,
                backend=backend,
                draw_here=True,  # parameters.csv lists every member's values
            )
        print(result.summary_text(), file=output)
        written = _write_summary(result, staging)
        if save_ensemble:
            written.append(staging / "ensemble.nc")
    for path in written:
        print(f"wrote {folder / path.name}", file=output)
    return EXIT_OK


def _write_summary(result: ScenarioSummary, staging: Path) -> list[Path]:
    """``results.csv``, ``parameters.csv`` and ``results.png`` of a summarised ensemble, into
    ``staging``, as :func:`write_run` writes them of the full results."""
    import pandas as pd
    from matplotlib.figure import Figure

    from pssc_sim.output import dated, write_figure, write_table
    from pssc_sim.plot import plain, plot_panels
    from pssc_sim.report.words import date_axis
    from pssc_sim.scenario.reader import scenario_time

    time = scenario_time(result.scenario, result.model)
    written = [write_table(dated(result.table(), time), staging / "results.csv")]
    if result.samples:
        samples = pd.DataFrame({"member": range(result.summary.members), **result.samples})
        written.append(write_table(samples, staging / "parameters.csv"))
    names = plotted_names(result.scenario, result.model, result.summary.names)
    if names:
        figure = Figure(figsize=(11, 3.2 * -(-len(names) // 3)), layout="constrained")
        units = result.model.time.units
        plot_panels(
            {result.name: result.summary}, names, figure, f"time ({units})" if units else "time"
        )
        for ax in figure.axes:
            date_axis(ax, time)
        figure.suptitle(plain(f"{result.name} ({result.model.title or result.model.name})"))
        written.append(write_figure(figure, staging / "results.png"))
    return written


@contextmanager
def noted() -> Iterator[None]:
    """Print each :class:`~pssc_sim.errors.PsscSimWarning` raised inside as a ``pssc: note:``
    line on stderr; other warnings go on as usual."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PsscSimWarning)
        yield
    for warning in caught:
        if issubclass(warning.category, PsscSimWarning):
            print(f"pssc: note: {warning.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )


def _folder(out: Path) -> Path:
    from pssc_sim.cli.common import UsageError

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"--out: cannot create the folder ({exc.strerror}) (got '{out}'). "
            "Give a folder you can write to"
        ) from None
    return out


def plotted_variables(result: ScenarioResult) -> list[str]:
    """What the results figure shows: the scenario's outputs, or else the visible stocks and the
    parameters it intervenes on."""
    return plotted_names(result.scenario, result.model, result.results.names)


def plotted_names(scenario: Scenario, model: Model, names: Sequence[str]) -> list[str]:
    """:func:`plotted_variables` of a run of ``scenario`` on ``model`` that recorded ``names``."""
    if scenario.outputs is not None:
        chosen = list(scenario.outputs)
    else:
        chosen = [s.name for s in model.stocks if not s.hidden]
        chosen += list(dict.fromkeys(i.parameter for i in scenario.interventions))
    return [n for n in chosen if n in names][:MAX_PANELS]


def write_run(result: ScenarioResult, out: Path, save_ensemble: bool = False) -> list[Path]:
    """Write ``results.csv``, ``results.png`` and, for an ensemble, ``parameters.csv`` (and
    ``ensemble.nc`` when asked), moved into ``out`` together; return the paths.

    Files an earlier run left in ``out`` and this run does not write (``parameters.csv`` of an
    ensemble, ``ensemble.nc``) are removed, so ``out`` always holds one run's set."""
    import pandas as pd
    from matplotlib.figure import Figure

    from pssc_sim.output import (
        RUN_FILES,
        file_set,
        write_csv,
        write_figure,
        write_netcdf,
        write_table,
    )
    from pssc_sim.plot import plain, plot_panels
    from pssc_sim.report.words import date_axis
    from pssc_sim.scenario.reader import scenario_time

    folder = _folder(out)
    time = scenario_time(result.scenario, result.model)
    with file_set(folder, RUN_FILES) as staging:
        written = [write_csv(result.results, staging / "results.csv", time)]
        if result.samples:
            samples = pd.DataFrame({"member": range(result.results.n_members), **result.samples})
            written.append(write_table(samples, staging / "parameters.csv"))
        names = plotted_variables(result)
        if names:
            figure = Figure(figsize=(11, 3.2 * -(-len(names) // 3)), layout="constrained")
            plot_panels({result.name: result.results}, names, figure, _time_label(result))
            for ax in figure.axes:
                date_axis(ax, time)
            figure.suptitle(plain(f"{result.name} ({result.model.title or result.model.name})"))
            written.append(write_figure(figure, staging / "results.png"))
        if save_ensemble:
            attributes: dict[str, str | int | float] = {
                "scenario": result.name,
                "seed": -1 if result.seed is None else result.seed,
            }
            written.append(write_netcdf(result.results, staging / "ensemble.nc", attributes))
    return [folder / path.name for path in written]


def _time_label(result: ScenarioResult) -> str:
    units = result.model.time.units
    return f"time ({units})" if units else "time"


def as_scenario(path: str) -> Scenario:
    """A scenario file, or a model file or folder run as it is."""
    from pssc_sim.scenario import Scenario

    if is_scenario_file(path):
        return Scenario.load(path)
    return Scenario(model=Path(path), name=Path(path).stem, folder=Path.cwd())


def command_compare(args: argparse.Namespace, stream: TextIO | None = None) -> int:
    """Run and compare scenarios; print the comparison and, with ``--out``, write it.

    On a cluster (``--workers`` or ``--scheduler``), when any scenario is an ensemble, the
    comparison is reduced on the workers
    (:func:`~pssc_sim.scenario.compare.compare_on_cluster`): the printed summary and
    ``comparison.csv`` are those of the run in one process, and ``comparison.png`` draws each
    ensemble's median and 5-95% band from its quantiles over time, as ``pssc run`` on a
    cluster does."""
    from pssc_sim.cli.compute import cluster
    from pssc_sim.scenario import compare
    from pssc_sim.scenario.compare import compare_on_cluster

    scenarios = [as_scenario(path) for path in args.scenarios]
    limit = memory_limit(args)
    count = len(scenarios)
    results = []
    with cluster(args, *scenarios) as client:
        if client is not None and any(scenario.is_ensemble for scenario in scenarios):
            comparison = compare_on_cluster(
                *scenarios,
                scheduler=client,
                at=args.at,
                variables=args.outputs,
                max_memory=limit,
                plotted=args.out is not None,
                progress=lambda i, s: progress(run_label(s, f"[{i + 1}/{count}] ")),
            )
        else:
            for i, scenario in enumerate(scenarios):
                with progress(run_label(scenario, f"[{i + 1}/{count}] ")) as bar:
                    results.append(run(scenario, progress=bar, max_memory=limit, scheduler=client))
            comparison = compare(*results, at=args.at, variables=args.outputs)
    output = stream or sys.stdout
    print(comparison.summary(), file=output)
    if args.out is not None:
        for written in write_comparison(comparison, args.out):
            print(f"wrote {written}", file=output)
    return EXIT_OK


def write_comparison(comparison: Comparison, out: Path) -> list[Path]:
    """Write ``comparison.csv`` and ``comparison.png``, moved into ``out`` together; return
    the paths."""
    from matplotlib.figure import Figure

    from pssc_sim.output import COMPARISON_FILES, dated, file_set, write_figure, write_table
    from pssc_sim.plot import plain
    from pssc_sim.report.words import date_axis
    from pssc_sim.scenario.compare import Comparison
    from pssc_sim.scenario.reader import scenario_time

    folder = _folder(out)
    names = comparison.variables[:MAX_PANELS]
    figure = Figure(figsize=(11, 3.2 * max(1, -(-len(names) // 3))), layout="constrained")
    time = scenario_time(comparison.runs[0].scenario, comparison.runs[0].model)
    if names:
        trimmed = Comparison(comparison.runs, comparison.labels, names, comparison.times)
        trimmed.plot(figure)
        for ax in figure.axes:
            date_axis(ax, time)
    figure.suptitle(plain(" vs ".join(comparison.labels)))
    with file_set(folder, COMPARISON_FILES) as staging:
        write_table(dated(comparison.table(), time), staging / "comparison.csv")
        write_figure(figure, staging / "comparison.png")
    return [folder / name for name in COMPARISON_FILES]


def command_schema(args: argparse.Namespace, stream: TextIO | None = None) -> int:
    """Print (or write) the JSON Schema of scenario files, or of model files."""
    from pssc_sim.cli.common import UsageError
    from pssc_sim.output import write_text
    from pssc_sim.parse import load_model
    from pssc_sim.parse.schema import model_json_schema
    from pssc_sim.scenario import json_schema

    if args.kind == "model":
        if args.model:
            raise UsageError(
                f"--model: lists the parameters of the scenario schema; the model "
                f"file schema takes no model (got {args.model!r}). Run 'pssc "
                "schema model' alone"
            )
        schema = model_json_schema()
    else:
        schema = json_schema(load_model(args.model).parameter_names if args.model else ())
    import json

    text = json.dumps(schema, indent=2) + "\n"
    if args.output is None:
        (stream or sys.stdout).write(text)
    else:
        print(f"wrote {write_text(text, args.output)}", file=stream or sys.stdout)
    return EXIT_OK
