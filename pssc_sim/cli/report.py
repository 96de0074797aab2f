"""``pssc report S1 S2 ... -o report.html [--against REF]``: one self-contained HTML report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from pssc_sim.cli.scenario import add_memory_option, progress

__all__ = ["add_commands", "command_report"]

EXIT_OK = 0


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``report`` to the ``pssc`` parser."""
    report = commands.add_parser(
        "report",
        help="write a self-contained HTML report of scenarios",
        description="Run scenarios and write one HTML file that any browser opens without "
        "Python or a network: per scenario what was run, the scorecard by "
        "perspective with red/amber/green status, the unintended consequences, the "
        "reported and true ledgers of every measure with the target marked, and the "
        "results over time (fan charts for ensembles); then a comparison of the "
        "scenarios.",
    )
    add_memory_option(report)
    report.add_argument("scenarios", nargs="+", metavar="SCENARIO", help="scenario files")
    report.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        metavar="FILE",
        help="the HTML file to write (written atomically)",
    )
    report.add_argument(
        "--against",
        metavar="REF",
        help="the reference scenario for unintended consequences (default: "
        "each scenario without its targets)",
    )
    report.add_argument("--title", default="pssc_sim report", help="the report's title")
    report.add_argument(
        "--evidence",
        metavar="SCENARIO",
        help="a scenario whose uncertainty: block gives the evidence ranges: "
        "every scenario is also run over the same sampled worlds, and the "
        "report gives the share of worlds in which each finding holds and "
        "the parameters that decide it",
    )
    report.add_argument(
        "--members",
        type=int,
        metavar="N",
        help="sampled worlds with --evidence (default: the evidence block's)",
    )


def command_report(args: argparse.Namespace, stream: TextIO | None = None) -> int:
    """Run the scenarios and write the report."""
    from pssc_sim.cli.common import UsageError
    from pssc_sim.report import write_report

    folder = args.output.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"--output: cannot create the folder ({exc.strerror}) (got "
            f"'{args.output}'). Give a file in a folder you can write to"
        ) from None
    if args.members is not None and (args.evidence is None or args.members < 2):
        raise UsageError(
            f"--members: needs --evidence and at least 2 worlds (got "
            f"{args.members}). Give --evidence SCENARIO --members 200"
        )
    if args.output.is_dir():
        raise UsageError(
            f"--output: a folder, not a file (got '{args.output}'). Give a file "
            "name such as report.html"
        )
    with progress(f"running {len(args.scenarios)} scenarios for the report"):
        path = write_report(
            args.scenarios,
            args.output,
            against=args.against,
            title=args.title,
            evidence=args.evidence,
            members=args.members,
        )
    print(f"wrote {path}", file=stream or sys.stdout)
    return EXIT_OK
