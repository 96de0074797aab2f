"""The ``pssc`` command line: ``run``, ``compare``, ``schema``, ``scorecard``,
``filter-measures``, ``report``, ``demo``, ``methods``, ``mechanisms``,
``loops``, ``cld``, ``check`` and ``--version``.

Errors print one line, ``pssc: error: <message>``, with no traceback, and the exit status says
what went wrong: 2 for bad input (arguments, missing or invalid model files, unknown names), 1 for
a run that started and failed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from pssc_sim import __version__
from pssc_sim.cli import (
    analysis,
    demo,
    filtering,
    imports,
    mechanisms,
    report,
    run,
    scenario,
    scorecard,
)
from pssc_sim.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_FAILED_RUN,
    EXIT_OK,
    PROG,
    Parser,
    UsageError,
    check_method,
    parse_assignments,
    time_overrides,
)
from pssc_sim.errors import SimulationError

__all__ = ["EXIT_BAD_INPUT", "EXIT_FAILED_RUN", "EXIT_OK", "PROG", "UsageError", "build_parser",
           "check_method", "command_methods", "main", "parse_assignments", "time_overrides"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``pssc`` with its subcommands.

    Examples
    --------
    >>> build_parser().parse_args(["run", "models/sir", "--set", "infectivity=0.2"]).set
    ['infectivity=0.2']
    """
    parser = Parser(prog=PROG, description="System dynamics for public services.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
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
    commands.add_parser("methods", help="list the integration methods",
                        description="List the integration methods that --method accepts.")
    scenario.add_commands(commands)
    scorecard.add_commands(commands)
    filtering.add_commands(commands)
    report.add_commands(commands)
    demo.add_commands(commands)
    analysis.add_commands(commands)
    imports.add_commands(commands)
    mechanisms.add_commands(commands)
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
        return _dispatch(build_parser(), argv)
    except SimulationError as exc:
        return _fail(exc, EXIT_FAILED_RUN)
    except BrokenPipeError:  # the reader of our output went away (e.g. `| head`)
        return EXIT_OK
    except (ValueError, OSError) as exc:
        # Project errors that are ValueErrors are bad input; OSError is a file we could not use.
        return _fail(exc, EXIT_BAD_INPUT)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)


def _dispatch(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help and --version exit through argparse
        return int(exc.code or 0)
    if args.command == "run":
        if scenario.is_scenario_file(args.model):
            return scenario.command_run(args.model, method=args.method, out=args.out,
                                        assignments=args.set, stop=args.stop, dt=args.dt,
                                        save_ensemble=args.save_ensemble)
        if args.save_ensemble:
            raise UsageError(f"--save-ensemble: only a scenario with 'uncertainty:' runs an "
                             f"ensemble (got the model {args.model!r}). Run a scenario file")
        return run.command_run(args.model, method=args.method or "euler", out=args.out,
                           assignments=args.set, stop=args.stop, dt=args.dt)
    if args.command == "methods":
        return command_methods()
    handlers = {"compare": scenario.command_compare, "schema": scenario.command_schema,
                "scorecard": scorecard.command_scorecard,
                "filter-measures": filtering.command_filter_measures,
                "report": report.command_report, "demo": demo.command_demo,
                "loops": analysis.command_loops, "cld": analysis.command_cld,
                "check": analysis.command_check, "convert": imports.command_convert,
                "conformance": imports.command_conformance,
                "mechanisms": mechanisms.command_mechanisms}
    if args.command in handlers:
        return handlers[args.command](args)
    raise UsageError(f"a command is required (got none). Use one of: run, methods, "
                     f"{', '.join(handlers)}; see '{PROG} --help'")


def _fail(error: BaseException | str, status: int, stream: TextIO | None = None) -> int:
    text = " ".join(str(error).split())  # one line, whatever the message holds
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
    return EXIT_OK
