"""``pssc filter-measures SCENARIO``: the PSS filtering stage on the command line."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from pssc_sim.cli.scenario import add_memory_option, as_scenario, progress, run_label

__all__ = ["add_commands", "command_filter_measures"]

EXIT_OK = 0


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``filter-measures`` to the ``pssc`` parser."""
    command = commands.add_parser(
        "filter-measures",
        help="screen candidate measures by making each the target",
        description="The PSS filtering stage: make each candidate measure the only target of "
        "the scenario in turn and compare with the scenario with no targets. For "
        "each candidate: the change of its own true value, the mean change of the "
        "true outcomes, the growth of the reported-vs-true gap, and the other "
        "measures that end worse; ranked by score = improvement - gap - harm. A "
        "candidate without a target in the scenario gets a level target IMPROVEMENT "
        "better than the no-target end value, due at the end, severity medium.",
    )
    add_memory_option(command)
    command.add_argument("scenario", metavar="SCENARIO", help="a scenario file (or a model)")
    command.add_argument(
        "--candidates",
        metavar="M1,M2",
        help="measures to screen, comma-separated (default: every measure)",
    )
    command.add_argument(
        "--culture",
        type=float,
        metavar="X",
        help="culture for every run, 0 learning .. 1 blame (default: the scenario's)",
    )
    command.add_argument(
        "--improvement",
        type=float,
        default=0.1,
        metavar="SHARE",
        help="what a derived target asks for, as a share better than the "
        "no-target end value (default 0.1)",
    )
    command.add_argument(
        "--severity",
        default="medium",
        help="severity of derived targets: low, medium, high or a number (default medium)",
    )
    command.add_argument("--json", action="store_true", help="print the result as JSON")


def _severity(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def command_filter_measures(args: argparse.Namespace, stream: TextIO | None = None) -> int:
    """Screen the candidates and print the ranked table (or JSON)."""
    from pssc_sim.cli.common import UsageError
    from pssc_sim.scorecard.filtering import filter_measures

    candidates = None
    if args.candidates is not None:
        candidates = [name.strip() for name in args.candidates.split(",") if name.strip()]
        if not candidates:
            raise UsageError(
                f"--candidates: expected measure names separated by commas (got "
                f"{args.candidates!r}). Write e.g. --candidates mean_wait,treatments"
            )
    scenario = as_scenario(args.scenario)
    with progress(f"{run_label(scenario)}: filtering measures"):
        result = filter_measures(
            scenario,
            candidates,
            culture=args.culture,
            improvement=args.improvement,
            severity=_severity(args.severity),
        )
    output = stream or sys.stdout
    print(result.to_json() if args.json else result.to_text(), file=output)
    return EXIT_OK
