"""``pssc scorecard SCENARIO [--against OTHER] [--json]``: the PSS scorecard on the command line."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from pssc_sim.cli.scenario import (
    add_memory_option,
    as_scenario,
    memory_limit,
    progress,
    run_label,
)

__all__ = ["add_commands", "command_scorecard"]

EXIT_OK = 0


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``scorecard`` to the ``pssc`` parser."""
    card = commands.add_parser(
        "scorecard",
        help="the PSS scorecard of a scenario",
        description="Run a scenario and print its Public Sector Scorecard: measures by "
        "perspective, the reported and true value at each target date, target met "
        "or not (green met, amber missed by at most 5%%, red), the reported-vs-true "
        "gap, the probability of meeting each target across an ensemble, and the "
        "measures that end worse than in a reference run (the same scenario without "
        "targets, or --against).",
    )
    card.add_argument("scenario", metavar="SCENARIO", help="a scenario file (or a model)")
    card.add_argument(
        "--against",
        metavar="OTHER",
        help="the reference scenario for unintended consequences (default: the "
        "same scenario without its targets)",
    )
    card.add_argument("--json", action="store_true", help="print the scorecard as JSON")
    add_memory_option(card)


def command_scorecard(args: argparse.Namespace, stream: TextIO | None = None) -> int:
    """Run the scenario (and the reference) and print the scorecard; with ``--workers`` or
    ``--scheduler`` (or a scenario's ``compute:`` key), on that cluster, each ensemble scored
    on the workers where its members ran (the same scorecard)."""
    from pssc_sim.cli.compute import cluster
    from pssc_sim.scenario.runner import run
    from pssc_sim.scorecard import scorecard
    from pssc_sim.scorecard.scoring import scorecard_on_cluster

    scenario = as_scenario(args.scenario)
    reference = as_scenario(args.against) if args.against else None
    limit = memory_limit(args)
    with cluster(args, scenario, reference) as client, progress(run_label(scenario)) as bar:
        if client is not None:
            card = scorecard_on_cluster(
                scenario, reference, scheduler=client, progress=bar, max_memory=limit
            )
        else:
            if reference is not None:
                bar.phase(0, 2)
            result = run(scenario, progress=bar, max_memory=limit)
            if reference is not None:
                bar.phase(1, 2)
            against = (
                run(reference, progress=bar, max_memory=limit) if reference is not None else None
            )
            card = scorecard(result, against)
    output = stream or sys.stdout
    print(card.to_json() if args.json else card.to_text(), file=output)
    return EXIT_OK
