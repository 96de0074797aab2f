"""The ``pssc`` command line: ``run``, ``compare``, ``schema``, ``scorecard``,
``filter-measures``, ``report``, ``demo``, ``methods``, ``cache``, ``mechanisms``,
``loops``, ``cld``, ``check`` and ``--version``.

Errors print one line, ``pssc: error: <message>``, with no traceback, and the exit status says
what went wrong: 2 for bad input (arguments, missing or invalid model files, unknown names, a run
too large for memory, a file that cannot be written), 1 for a run that started and failed, 130
for SIGINT (Ctrl-C) and 143 for SIGTERM. An interrupted command removes its temporary files and
leaves its output folder as it was.
"""

from __future__ import annotations

import argparse
import errno
import signal
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn, TextIO

import numpy as np

from pssc_sim import __version__
from pssc_sim.cli import (
    analysis,
    calibrate,
    demo,
    filtering,
    imports,
    inference,
    mechanisms,
    report,
    scenario,
    scorecard,
)
from pssc_sim.compile.cache import cache_dir, clear_cache
from pssc_sim.errors import PsscSimError, SimulationError, did_you_mean
from pssc_sim.integrate.backends import backend_status
from pssc_sim.integrate.methods import METHODS
from pssc_sim.integrate.simulate import simulate
from pssc_sim.ir.model import Model
from pssc_sim.parse import load_model
from pssc_sim.results import Results

PROG = "pssc"
EXIT_OK, EXIT_FAILED_RUN, EXIT_BAD_INPUT = 0, 1, 2
#: 128 + the signal number, as a shell reports a process ended by SIGINT or SIGTERM.
EXIT_INTERRUPTED, EXIT_TERMINATED = 128 + signal.SIGINT, 128 + signal.SIGTERM


class UsageError(PsscSimError, ValueError):
    """The command line itself is wrong: a bad option, argument or value."""


class _Parser(argparse.ArgumentParser):
    """An argparse parser that raises instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        where = f"{self.prog}: " if self.prog != PROG else ""  # the subcommand, if any
        raise UsageError(f"{where}{message}. Run '{self.prog} --help' for usage")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``pssc`` with its subcommands.

    Examples
    --------
    >>> build_parser().parse_args(["run", "models/sir", "--set", "infectivity=0.2"]).set
    ['infectivity=0.2']
    """
    parser = _Parser(prog=PROG, description="System dynamics for public services.")
    parser.add_argument("--version", action="version",
                        version=f"{PROG} {__version__}; {backend_status()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = commands.add_parser(
        "run", help="run a scenario or a model and summarise it",
        description="Run a scenario or a model, print a summary table (initial, final, min and "
                    "max of every variable; final quantiles for an ensemble) and, with --out, "
                    "write DIR/results.csv and plots (a model: DIR/stocks.png; a scenario: "
                    "DIR/results.png, and DIR/parameters.csv for an ensemble).")
    run.add_argument("model", metavar="MODEL",
                     help="a scenario file, a model .yaml file, or a folder holding model.yaml")
    run.add_argument("--method", default=None,
                     help="integration method (default: the scenario's, else euler; see "
                          "'pssc methods')")
    run.add_argument("--out", metavar="DIR", type=Path,
                     help="folder for results.csv and stocks.png (nothing is written without it)")
    run.add_argument("--set", metavar="NAME=VALUE", action="append", default=[],
                     help="override a parameter; repeat for several")
    run.add_argument("--stop", metavar="T", type=float, help="stop time (default: the model's)")
    run.add_argument("--dt", metavar="DT", type=float, help="time step (default: the model's)")
    scenario.add_run_options(run)
    scenario.add_memory_option(run)
    scenario.add_backend_option(run)
    commands.add_parser("methods", help="list the integration methods",
                        description="List the integration methods that --method accepts, and "
                                    "the back ends installed.")
    cache = commands.add_parser("cache", help="manage the cache of compiled kernels",
                                description="Manage the folder of compiled kernels "
                                            "($PSSC_CACHE_DIR, else ~/.cache/pssc_sim).")
    cache.add_argument("action", choices=["clear", "path"],
                       help="clear: remove every compiled kernel; path: print the folder")
    scenario.add_commands(commands)
    scorecard.add_commands(commands)
    filtering.add_commands(commands)
    report.add_commands(commands)
    demo.add_commands(commands)
    analysis.add_commands(commands)
    imports.add_commands(commands)
    mechanisms.add_commands(commands)
    inference.add_commands(commands)
    calibrate.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``pssc`` command line with ``argv`` (default ``sys.argv[1:]``); return the status.

    Examples
    --------
    >>> main(["methods"])  # doctest: +ELLIPSIS
    euler ...
    0
    """
    try:
        with _terminate_as_interrupt():
            return _dispatch(build_parser(), argv)
    except SimulationError as exc:
        return _fail(exc, EXIT_FAILED_RUN)
    except BrokenPipeError:  # the reader of our output went away (e.g. `| head`)
        return EXIT_OK
    except MemoryError as exc:
        return _fail(_too_large(exc), EXIT_BAD_INPUT)
    except ValueError as exc:
        # Project errors that are ValueErrors are bad input; so is a run too large for numpy.
        return _fail(_too_large(exc) if _is_size_error(exc) else exc, EXIT_BAD_INPUT)
    except OSError as exc:  # a file we could not use
        return _fail(exc if isinstance(exc, PsscSimError) else _file_error(exc), EXIT_BAD_INPUT)
    except KeyboardInterrupt:
        return _fail("interrupted (SIGINT); no output was left half written", EXIT_INTERRUPTED)
    except Terminated:
        return _fail("terminated (SIGTERM); no output was left half written", EXIT_TERMINATED)


class Terminated(BaseException):
    """SIGTERM arrived: unwinds like :class:`KeyboardInterrupt`, so every ``finally`` runs."""


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into :class:`Terminated` while the body runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum: int, frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut cleanup
        raise Terminated

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


#: numpy's words for an array larger than the address space (a ValueError, not a MemoryError).
_SIZE_MESSAGES = ("Maximum allowed size exceeded", "array is too big")


def _is_size_error(error: ValueError) -> bool:
    return not isinstance(error, PsscSimError) and any(
        text in str(error) for text in _SIZE_MESSAGES)


def _too_large(error: BaseException) -> str:
    detail = " ".join(str(error).split())[:200] or type(error).__name__
    return (f"the run is too large for the memory of this machine (got {detail!r}). Raise --dt, "
            "lower --stop or the number of members, or record fewer variables")


def _file_error(error: OSError) -> str:
    where = error.filename or "file"
    what = (error.strerror or str(error)).lower()
    code = errno.errorcode.get(error.errno or 0, "?")
    return f"{where}: {what} (got errno {code}). Check the path and its permissions"


def _dispatch(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help and --version exit through argparse
        return int(exc.code or 0)
    if args.command == "run":
        limit = scenario.memory_limit(args)
        if scenario.is_scenario_file(args.model):
            return scenario.command_run(args.model, method=args.method, out=args.out,
                                        assignments=args.set, stop=args.stop, dt=args.dt,
                                        save_ensemble=args.save_ensemble, max_memory=limit,
                                        backend=args.backend)
        if args.save_ensemble:
            raise UsageError(f"--save-ensemble: only a scenario with 'uncertainty:' runs an "
                             f"ensemble (got the model {args.model!r}). Run a scenario file")
        return command_run(args.model, method=args.method or "euler", out=args.out,
                           assignments=args.set, stop=args.stop, dt=args.dt, max_memory=limit,
                           backend=args.backend)
    if args.command == "methods":
        return command_methods()
    if args.command == "cache":
        return command_cache(args.action)
    handlers = {"compare": scenario.command_compare, "schema": scenario.command_schema,
                "scorecard": scorecard.command_scorecard,
                "filter-measures": filtering.command_filter_measures,
                "report": report.command_report, "demo": demo.command_demo,
                "loops": analysis.command_loops, "cld": analysis.command_cld,
                "check": analysis.command_check, "convert": imports.command_convert,
                "conformance": imports.command_conformance,
                "mechanisms": mechanisms.command_mechanisms,
                "calibrate": calibrate.command_calibrate, **inference.HANDLERS}
    if args.command in handlers:
        return handlers[args.command](args)
    raise UsageError(f"a command is required (got none). Use one of: run, methods, cache, "
                     f"{', '.join(handlers)}; see '{PROG} --help'")


def _fail(error: BaseException | str, status: int, stream: TextIO | None = None) -> int:
    text = " ".join(str(error).split())  # one line, whatever the message holds
    print(f"{PROG}: error: {text}", file=stream or sys.stderr)
    return status


def command_methods(stream: TextIO | None = None) -> int:
    """Print every integration method with its kind, order and description."""
    out = stream or sys.stdout
    width = max(len(name) for name in METHODS)
    for name, method in METHODS.items():
        kind = "fixed step" if method.fixed_step else "adaptive"
        print(f"{name:<{width}}  {kind}, order {method.order}: {method.description}", file=out)
    print(backend_status(), file=out)
    return EXIT_OK


def command_cache(action: str, stream: TextIO | None = None) -> int:
    """``pssc cache clear`` empties the folder of compiled kernels; ``pssc cache path`` prints
    it."""
    out = stream or sys.stdout
    if action == "path":
        print(cache_dir(), file=out)
        return EXIT_OK
    removed = clear_cache()
    print(f"removed {removed} cached file{'s' if removed != 1 else ''} from {cache_dir()}",
          file=out)
    return EXIT_OK


def command_run(model_path: str, *, method: str = "euler", out: Path | None = None,
                assignments: Sequence[str] = (), stop: float | None = None,
                dt: float | None = None, stream: TextIO | None = None,
                max_memory: int | None = None, backend: str = "auto") -> int:
    """Run a model, print its summary and, when ``out`` is given, write the CSV and the plot."""
    check_method(method)
    model = load_model(model_path)
    params = parse_assignments(assignments, model)
    results = simulate(model, params, method=method, time=time_overrides(model, stop, dt),
                       max_memory=max_memory, backend=backend)
    output = stream or sys.stdout
    print(summary(model, results), file=output)
    if out is not None:
        for path in write_outputs(model, results, out):
            print(f"wrote {path}", file=output)
    return EXIT_OK


def check_method(method: str) -> None:
    """Raise :class:`UsageError` unless ``method`` is a registered integration method.

    Examples
    --------
    >>> check_method("eulr")
    Traceback (most recent call last):
    ...
    pssc_sim.cli.UsageError: --method: unknown method 'eulr'. Did you mean 'euler'? ...
    """
    if method not in METHODS:
        raise UsageError(f"--method: unknown method '{method}'.{did_you_mean(method, METHODS)} "
                         f"Use one of: {', '.join(METHODS)} (see '{PROG} methods')")


def parse_assignments(assignments: Sequence[str], model: Model) -> dict[str, float]:
    """``["name=value", ...]`` as ``{name: value}``, checked against the model's parameters.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "m.yaml"
    >>> _ = path.write_text("time: {stop: 1}\\nparameters: {rate: 1}\\nstocks: {x: 1}\\n")
    >>> parse_assignments(["rate=0.5"], load_model(path))
    {'rate': 0.5}
    >>> parse_assignments(["rat=0.5"], load_model(path))
    Traceback (most recent call last):
    ...
    pssc_sim.cli.UsageError: --set: unknown parameter 'rat' ... Did you mean 'rate'?
    """
    names = model.parameter_names
    values: dict[str, float] = {}
    for text in assignments:
        name, sep, raw = (part.strip() for part in text.partition("="))
        if not sep or not name:
            example = name or (names[0] if names else "name")
            raise UsageError(f"--set: expected NAME=VALUE (got {text!r}). Write e.g. "
                             f"--set {example}=2.5")
        if name not in names:
            hint = did_you_mean(name, names) or (
                f" Parameters: {', '.join(names)}." if names else " The model has no parameters.")
            raise UsageError(f"--set: unknown parameter '{name}' in {model.source or model.name} "
                             f"(got {text!r}).{hint}")
        values[name] = _number(raw, f"--set {name}")
    return values


def _number(raw: str, where: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not np.isfinite(value):
        raise UsageError(f"{where}: expected a finite number (got {raw!r}). Write e.g. 2.5")
    return value


def time_overrides(model: Model, stop: float | None, dt: float | None) -> dict[str, float]:
    """The ``time`` argument of :func:`simulate` for ``--stop`` and ``--dt``."""
    time: dict[str, float] = {}
    if stop is not None:
        if not np.isfinite(stop) or stop <= model.time.start:
            raise UsageError(f"--stop: the stop time must be after the start, "
                             f"{model.time.start:g} (got {stop:g}). Give a later time")
        time["stop"] = stop
    if dt is not None:
        if not np.isfinite(dt) or dt <= 0:
            raise UsageError(f"--dt: the time step must be positive (got {dt:g}). "
                             "Give e.g. --dt 0.125")
        time["dt"] = dt
    return time


def summary(model: Model, results: Results) -> str:
    """A plain-text table: the initial, final, minimum and maximum of every recorded variable.

    For an ensemble the table describes the median across members.
    """
    frame = results.to_frame()
    units = f" {model.time.units}" if model.time.units else ""
    kind = (f"median of {results.n_members} members" if results.is_ensemble else "single run")
    head = (f"{model.title or model.name} ({model.name}): method {results.method}, "
            f"time {results.times[0]:g} to {results.times[-1]:g}{units}, {kind}")
    width = max([len("variable"), *(len(name) for name in frame.columns)])
    rows = [head, "", f"{'variable':<{width}}  {'initial':>12} {'final':>12} {'min':>12} "
                      f"{'max':>12}"]
    for name in frame.columns:
        column = frame[name].to_numpy()
        cells = " ".join(f"{v:>12.6g}" for v in (column[0], column[-1], column.min(),
                                                 column.max()))
        rows.append(f"{name:<{width}}  {cells}")
    return "\n".join(rows)


def write_outputs(model: Model, results: Results, out: Path) -> list[Path]:
    """Write ``out/results.csv`` and ``out/stocks.png`` (moved in together, see
    :func:`~pssc_sim.atomic.file_set`); return their paths."""
    from matplotlib.figure import Figure

    from pssc_sim.output import RUN_FILES, file_set, write_csv, write_figure
    from pssc_sim.plot import plot_stocks, visible_stocks

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out: cannot create the folder ({exc.strerror}) (got '{out}'). "
                         "Give a folder you can write to") from None
    figure = Figure(figsize=(8, 4.5), layout="constrained")
    ax = plot_stocks(results, visible_stocks(model), ax=figure.subplots())
    ax.set_title(model.title or model.name)
    ax.set_xlabel(f"time ({model.time.units})" if model.time.units else "time")
    units = _common_units(model, visible_stocks(model))
    if units:
        ax.set_ylabel(units)
    with file_set(out, RUN_FILES) as staging:
        write_csv(results, staging / "results.csv")
        write_figure(figure, staging / "stocks.png")
    return [out / "results.csv", out / "stocks.png"]


def _common_units(model: Model, names: Sequence[str]) -> str:
    """The units shared by all ``names``, or an empty string if they differ."""
    units: Mapping[str, str] = {s.name: s.meta.units for s in model.stocks}
    found = {units[name.partition("[")[0]] for name in names}  # elements: population[0-4,A]
    return found.pop() if len(found) == 1 else ""
