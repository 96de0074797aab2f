"""``--workers N`` and ``--scheduler ADDRESS``: where ``run``, ``compare``, ``scorecard``,
``sensitivity``, ``calibrate`` and ``optimize`` send their ensembles.

The options go on those commands in one place (:func:`add_options`); each command opens the
cluster with :func:`cluster` around its runs, so a local cluster starts once per command, and the
results are the same as in one process (see :mod:`pssc_sim.integrate.distributed`). Without the
options, a scenario's ``compute:`` key chooses; without that, everything runs here.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the command line starts without the scenario stage
    from pssc_sim.scenario.definition import Scenario

#: The commands that take ``--workers`` and ``--scheduler``.
COMMANDS = ("run", "compare", "scorecard", "sensitivity", "calibrate", "optimize")


def add_options(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``--workers`` and ``--scheduler`` to each command of :data:`COMMANDS` the parser has
    (a parser built for one command has only that one)."""
    for name in COMMANDS:
        if name not in commands.choices:
            continue
        group = commands.choices[name].add_mutually_exclusive_group()
        group.add_argument(
            "--workers",
            type=int,
            metavar="N",
            help="run the ensembles on N local worker processes (Dask; results "
            "are the same as in one process)",
        )
        group.add_argument(
            "--scheduler",
            metavar="ADDRESS",
            help="run the ensembles on the Dask cluster whose scheduler is at "
            "ADDRESS, e.g. tcp://host:8786",
        )


def requested(args: argparse.Namespace) -> int | str | None:
    """What the command line asks for: a number of workers, an address, or nothing."""
    workers: int | None = getattr(args, "workers", None)
    address: str | None = getattr(args, "scheduler", None)
    return workers if workers is not None else address


@contextmanager
def cluster(args: argparse.Namespace, *scenarios: Scenario | None) -> Iterator[Any]:
    """A connected ``distributed.Client`` (closed on leaving), or ``None`` to run here.

    The command line's option wins; else the first of ``scenarios`` with a ``compute:`` key.
    """
    spec: Any = requested(args)
    where = "--workers" if getattr(args, "workers", None) is not None else "--scheduler"
    if spec is None:
        for scenario in scenarios:
            if scenario is not None and scenario.compute:
                key, spec = next(iter(scenario.compute.items()))
                where = f"{scenario.source or scenario.label}: compute.{key}"
                break
    if spec is None:
        yield None
        return
    from pssc_sim.integrate.cluster import connect

    with connect(spec, where=where) as client:
        yield client
