"""``pssc demo [NAME] [--out DIR]``: teaching demos run from the case-study scenarios."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from pssc_sim.cli.scenario import add_memory_option, progress

__all__ = ["add_commands", "command_demo"]

EXIT_OK = 0


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``demo`` to the ``pssc`` parser."""
    demo = commands.add_parser(
        "demo",
        help="run a teaching demo and write its report",
        description="Run a teaching demo: case-study scenarios side by side, with the story in "
        "plain words and the findings of the runs, written as one self-contained "
        "HTML report. 'pssc demo gaming' shows hitting the target and missing the "
        "point on the ambulance and stop-smoking services, each regime in the same "
        "sampled worlds, every finding with the share of worlds in which it holds. "
        "Without a name, lists the demos.",
    )
    add_memory_option(demo)
    demo.add_argument("name", nargs="?", help="the demo to run (e.g. gaming)")
    demo.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="the folder for report.html (default: out/demo-NAME)",
    )
    demo.add_argument(
        "--members",
        type=int,
        default=None,
        metavar="N",
        help="sampled worlds every regime runs in (default: the demo file's, 200 "
        "for gaming); fewer is quicker and less sure",
    )


def command_demo(args: argparse.Namespace, stream: TextIO | None = None) -> int:
    """Run the demo, write its report and print its findings."""
    from pssc_sim.report.demo import demo_names, findings_text, load_demo, write_demo

    out = stream or sys.stdout
    if args.name is None:
        print("demos: " + ", ".join(demo_names()) + "\nrun one with: pssc demo NAME", file=out)
        return EXIT_OK
    from pssc_sim.cli.common import UsageError

    if args.members is not None and args.members < 2:
        raise UsageError(
            f"--members: at least 2 sampled worlds (got {args.members}). Give e.g. --members 50"
        )
    demo = load_demo(args.name)
    folder = args.out or Path("out") / f"demo-{args.name}"
    with progress(f"running the {args.name} demo"):
        path, runs = write_demo(args.name, folder, members=args.members)
    print(demo.title, file=out)
    for case_run in runs:
        print(f"\n{case_run.case.title}\n", file=out)
        print(findings_text(case_run), file=out)
    print(f"\nwrote {path}", file=out)
    return EXIT_OK
