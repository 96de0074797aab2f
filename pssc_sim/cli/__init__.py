"""The ``pssc`` command line: ``run``, ``compare``, ``schema``, ``scorecard``,
``filter-measures``, ``report``, ``demo``, ``explore``, ``methods``, ``cache``, ``mechanisms``,
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
import gc
import importlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from pssc_sim import __version__
from pssc_sim.cli import compute, scenario
from pssc_sim.cli.common import (
    DATA_TAG_HELP,
    EXIT_BAD_INPUT,
    EXIT_FAILED_RUN,
    EXIT_OK,
    PROG,
    Parser,
    UsageError,
    VisibleText,
    as_program,
    check_method,
    parse_assignments,
    parse_data_tags,
    time_overrides,
    visible,
)
from pssc_sim.errors import ParameterError, PsscSimError, SimulationError

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_FAILED_RUN",
    "EXIT_OK",
    "PROG",
    "UsageError",
    "build_parser",
    "check_method",
    "command_methods",
    "main",
    "parse_assignments",
    "program",
    "time_overrides",
]

#: 128 + the signal number, as a shell reports a process ended by SIGINT or SIGTERM.
EXIT_INTERRUPTED, EXIT_TERMINATED = 128 + signal.SIGINT, 128 + signal.SIGTERM

#: The commands besides ``run``, ``methods`` and ``cache``: the module of :mod:`pssc_sim.cli`
#: whose ``add_commands`` adds each to the parser, and the function of that module that runs it.
#: A module is imported only when one of its commands runs (or ``pssc --help`` lists them all).
COMMANDS: dict[str, tuple[str, str]] = {
    "compare": ("scenario", "command_compare"),
    "schema": ("scenario", "command_schema"),
    "scorecard": ("scorecard", "command_scorecard"),
    "filter-measures": ("filtering", "command_filter_measures"),
    "report": ("report", "command_report"),
    "demo": ("demo", "command_demo"),
    "loops": ("analysis", "command_loops"),
    "cld": ("analysis", "command_cld"),
    "check": ("analysis", "command_check"),
    "convert": ("imports", "command_convert"),
    "conformance": ("imports", "command_conformance"),
    "mechanisms": ("mechanisms", "command_mechanisms"),
    "calibrate": ("calibrate", "command_calibrate"),
    "strategy-map": ("strategy", "command_strategy_map"),
    "explore": ("explore", "command_explore"),
    "sensitivity": ("inference", "command_sensitivity"),
    "optimize": ("inference", "command_optimize"),
}

#: The modules that add commands, in the order ``pssc --help`` lists their commands.
_COMMAND_MODULES = (
    "scenario",
    "scorecard",
    "filtering",
    "report",
    "demo",
    "analysis",
    "imports",
    "mechanisms",
    "inference",
    "calibrate",
    "strategy",
    "explore",
)


class _Version(argparse.Action):
    """``--version``: the version and the back ends installed (found only when asked: the
    command line starts without the compile stage)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        from pssc_sim.compile.cache import backend_status

        print(f"{PROG} {__version__}; {backend_status()}")
        parser.exit()


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser of ``pssc`` with its subcommands; with ``command``, with that
    subcommand only (and those its module adds with it; none for ``"--version"``), so that a
    command starts without importing or building the others. Each subcommand is the same in
    both.

    Examples
    --------
    >>> build_parser().parse_args(["run", "models/sir", "--set", "infectivity=0.2"]).set
    ['infectivity=0.2']
    >>> sorted(build_parser("loops")._subparsers._group_actions[0].choices)
    ['check', 'cld', 'loops']
    """
    parser = Parser(prog=PROG, description="System dynamics for public services.")
    parser.add_argument(
        "--version",
        action=_Version,
        nargs=0,
        help="show the version and the back ends installed, and exit",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    if command in (None, "run"):
        _add_run(commands)
    if command in (None, "methods"):
        commands.add_parser(
            "methods",
            help="list the integration methods",
            description="List the integration methods that --method accepts, and "
            "the back ends installed.",
        )
    if command in (None, "cache"):
        cache = commands.add_parser(
            "cache",
            help="manage the cache of compiled kernels",
            description="Manage the folder of compiled kernels "
            "($PSSC_CACHE_DIR, else ~/.cache/pssc_sim).",
        )
        cache.add_argument(
            "action",
            choices=["clear", "path", "build"],
            help="clear: remove every compiled kernel; path: print the folder; build: compile "
            "MODEL's loop ahead of time, so later processes load it without numba",
        )
        cache.add_argument("model", nargs="?", help="build: the model file or folder")
    wanted = COMMANDS[command][0] if command in COMMANDS else None
    for module in _COMMAND_MODULES:
        if command is None or module == wanted:
            importlib.import_module(f"pssc_sim.cli.{module}").add_commands(commands)
    compute.add_options(commands)
    return parser


def _add_run(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``run`` to the ``pssc`` parser."""
    run = commands.add_parser(
        "run",
        help="run a scenario or a model and summarise it",
        description="Run a scenario or a model, print a summary table (initial, final, min and "
        "max of every variable; final quantiles for an ensemble) and, with --out, "
        "write DIR/results.csv and plots (a model: DIR/stocks.png; a scenario: "
        "DIR/results.png, and DIR/parameters.csv for an ensemble).",
    )
    run.add_argument(
        "model",
        metavar="MODEL",
        help="a scenario file, a model .yaml file, or a folder holding model.yaml",
    )
    run.add_argument(
        "--method",
        default=None,
        help="integration method (default: the scenario's, else euler; see 'pssc methods')",
    )
    run.add_argument(
        "--out",
        metavar="DIR",
        type=Path,
        help="folder for results.csv and stocks.png (nothing is written without it)",
    )
    run.add_argument(
        "--set",
        metavar="NAME=VALUE",
        action="append",
        default=[],
        help="hold a parameter at VALUE for the whole run; a scenario's interventions on it "
        "are dropped, so no intervention date overrides it; repeat for several",
    )
    run.add_argument(
        "--scale",
        metavar="NAME=FACTOR",
        action="append",
        default=[],
        help="multiply a parameter's value in every period of its schedule by FACTOR: its "
        "starting value and each level a scenario's interventions set or add (after --set); "
        "repeat for several",
    )
    run.add_argument(
        "--data-tag", metavar="TAG=FILE", action="append", default=[], help=DATA_TAG_HELP
    )
    run.add_argument("--stop", metavar="T", type=float, help="stop time (default: the model's)")
    run.add_argument("--dt", metavar="DT", type=float, help="time step (default: the model's)")
    run.add_argument(
        "--names",
        choices=("original", "ids"),
        default="original",
        help="name the variables of a model imported from Vensim or XMILE by their "
        "names in that file (original, the default) or by their identifiers "
        "(ids)",
    )
    run.add_argument(
        "--all",
        action="store_true",
        help="also write the constants (parameters) into the table, as Vensim does",
    )
    scenario.add_run_options(run)
    scenario.add_memory_option(run)
    scenario.add_backend_option(run)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``pssc`` command line with ``argv`` (default ``sys.argv[1:]``); return the status.

    Examples
    --------
    >>> main(["methods"])  # doctest: +ELLIPSIS
    euler ...
    0
    """
    stdout = sys.stdout
    sys.stdout = VisibleText(stdout)
    try:
        with _terminate_as_interrupt():
            return _dispatch(build_parser(_command(argv)), argv)
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
    finally:
        sys.stdout = stdout


def program() -> int:
    """The ``pssc`` program (and ``python -m pssc_sim``): :func:`main` on this process's
    arguments; the exit status is returned for :class:`SystemExit`.

    Before the process ends, the objects still alive are frozen (:func:`gc.freeze`): the
    interpreter's last collection at exit would go over every object of numpy and sympy (hundreds
    of thousands) to free memory the process is about to give back, a third of the time of a
    short command. Files and streams are closed before :func:`main` returns; nothing the program
    writes waits for that collection. The stages a command imports are frozen once imported
    (:func:`~pssc_sim.cli.common.collector_paused`).
    """
    as_program()
    status = main()
    gc.freeze()
    return status


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
        text in str(error) for text in _SIZE_MESSAGES
    )


def _too_large(error: BaseException) -> str:
    detail = " ".join(str(error).split())[:200] or type(error).__name__
    return (
        f"the run is too large for the memory of this machine (got {detail!r}). Raise --dt, "
        "lower --stop or the number of members, or record fewer variables"
    )


def _file_error(error: OSError) -> str:
    where = error.filename or "file"
    what = (error.strerror or str(error)).lower()
    code = errno.errorcode.get(error.errno or 0, "?")
    return f"{where}: {what} (got errno {code}). Check the path and its permissions"


def _command(argv: Sequence[str] | None) -> str | None:
    """The command ``argv`` names first, if it is one, or ``--version`` (which needs none);
    else ``None`` (the whole parser)."""
    first = (sys.argv[1:] if argv is None else argv)[:1]
    known = (*COMMANDS, "run", "methods", "cache", "--version")
    return first[0] if first and first[0] in known else None


def _dispatch(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help and --version exit through argparse
        return int(exc.code or 0)
    if args.command == "run":
        limit = scenario.memory_limit(args)
        if scenario.is_scenario_file(args.model):
            if args.data_tag:
                raise UsageError(
                    f"--data-tag: maps the data files of a Vensim model (got the scenario "
                    f"{args.model!r}). Run the model itself with --data-tag"
                )
            return scenario.command_run(
                args.model,
                method=args.method,
                out=args.out,
                assignments=args.set,
                scales=args.scale,
                stop=args.stop,
                dt=args.dt,
                save_ensemble=args.save_ensemble,
                max_memory=limit,
                compute=args,
                backend=args.backend,
            )
        if args.save_ensemble:
            raise UsageError(
                f"--save-ensemble: only a scenario with 'uncertainty:' runs an "
                f"ensemble (got the model {args.model!r}). Run a scenario file"
            )
        from pssc_sim.cli.run import command_run

        return command_run(
            args.model,
            method=args.method or "euler",
            out=args.out,
            assignments=args.set,
            scales=args.scale,
            stop=args.stop,
            dt=args.dt,
            max_memory=limit,
            scheduler=compute.requested(args),
            backend=args.backend,
            names=args.names,
            constants=args.all,
            data_tags=parse_data_tags(args.data_tag),
        )
    if args.command == "methods":
        return command_methods()
    if args.command == "cache":
        return command_cache(args.action, model=args.model)
    if args.command in COMMANDS:
        module, function = COMMANDS[args.command]
        handler: Callable[[argparse.Namespace], int] = getattr(
            importlib.import_module(f"pssc_sim.cli.{module}"), function
        )
        with _runs_limited(args):
            return handler(args)
    raise UsageError(
        f"a command is required (got none). Use one of: run, methods, cache, "
        f"{', '.join(COMMANDS)}; see '{PROG} --help'"
    )


@contextmanager
def _runs_limited(args: argparse.Namespace) -> Iterator[None]:
    """Every run the command makes may use ``--max-memory`` (when the command has it and it is
    given), also runs made deep inside a report, a demo or an analysis."""
    if getattr(args, "max_memory", None) is None:
        yield
        return
    from pssc_sim.integrate.budget import limit_runs

    with limit_runs(scenario.memory_limit(args)):
        yield


def _fail(error: BaseException | str, status: int, stream: TextIO | None = None) -> int:
    text = visible(" ".join(str(error).split()))  # one line, whatever the message holds
    print(f"{PROG}: error: {text}", file=stream or sys.stderr)
    return status


def command_methods(stream: TextIO | None = None) -> int:
    """Print every integration method with its kind, order and description."""
    from pssc_sim.integrate.methods import METHODS

    out = stream or sys.stdout
    width = max(len(name) for name in METHODS)
    for name, method in METHODS.items():
        kind = "fixed step" if method.fixed_step else "adaptive"
        print(f"{name:<{width}}  {kind}, order {method.order}: {method.description}", file=out)
    from pssc_sim.compile.cache import backend_status

    print(backend_status(), file=out)
    return EXIT_OK


def command_cache(action: str, stream: TextIO | None = None, model: str | None = None) -> int:
    """``pssc cache clear`` empties the folder of compiled kernels; ``pssc cache path`` prints
    it; ``pssc cache build MODEL`` compiles the model's loop ahead of time into it."""
    from pssc_sim.compile.cache import cache_dir, clear_cache

    out = stream or sys.stdout
    if model is not None and action != "build":
        raise ParameterError(
            f"cache {action}: takes no model (got {model!r}). Use pssc cache {action}"
        )
    if action == "path":
        print(cache_dir(), file=out)
        return EXIT_OK
    if action == "build":
        if model is None:
            raise ParameterError(
                "cache build: no model given (got nothing). Name it: pssc cache build MODEL"
            )
        from pssc_sim.integrate.simulate import build_ahead
        from pssc_sim.parse import load_model

        path, fresh = build_ahead(load_model(model))
        print(f"{'built' if fresh else 'already built:'} {path}", file=out)
        return EXIT_OK
    removed = clear_cache()
    print(
        f"removed {removed} cached file{'s' if removed != 1 else ''} from {cache_dir()}", file=out
    )
    return EXIT_OK
