"""``pssc calibrate MODEL_OR_SCENARIO --data observed.csv``: fit parameters to observed series.

Prints the estimates with 95% intervals, the fit statistics of each series and any warnings (or,
with ``--json``, the same as JSON); ``--write-scenario FILE`` writes a scenario that sets the
estimates, and ``--out DIR`` writes ``fit.csv`` and a plot of each series against its data.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from pssc_sim.cli.compute import cluster
from pssc_sim.cli.scenario import add_memory_option, progress
from pssc_sim.inference.catalogue import CALIBRATION_METHODS

if TYPE_CHECKING:
    from pssc_sim.inference.calibrate import Calibration
    from pssc_sim.inference.data import ErrorModel

__all__ = ["add_commands", "command_calibrate", "parse_bounds", "parse_errors", "write_fit"]

EXIT_OK = 0


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``calibrate`` to the ``pssc`` parser."""
    command = commands.add_parser(
        "calibrate",
        help="fit parameters to observed data",
        description="Fit a model's parameters to observed series by multi-start least squares "
        "or by MCMC, and print the estimates with 95% intervals, the correlation "
        "warnings, and the fit of each series (R², MAPE, RMSE, Theil's U^M, U^S, "
        "U^C). Every batch of runs is one vectorised ensemble.",
    )
    add_memory_option(command)
    command.add_argument(
        "model",
        metavar="MODEL_OR_SCENARIO",
        help="a scenario file, a model .yaml file, or a folder holding model.yaml",
    )
    command.add_argument(
        "--data",
        required=True,
        metavar="CSV",
        help="observed data: a time column (numbers, or ISO dates for a model "
        "in years) and one column per observed variable; NAME:sd columns "
        "give each observation's standard deviation",
    )
    command.add_argument(
        "--parameters",
        metavar="A,B,...",
        help="parameters to fit (default: the scenario's uncertain parameters, "
        "else every parameter with a range)",
    )
    command.add_argument(
        "--bounds",
        metavar="NAME=LOW:HIGH",
        action="append",
        default=[],
        help="bounds of a parameter to fit (replacing its range); repeat or separate with commas",
    )
    command.add_argument(
        "--error",
        metavar="SERIES=sd:X|relative:F",
        action="append",
        default=[],
        help="the error model of a series: a normal error with sd X, or with "
        "sd F times each observed value; repeat or separate with commas "
        "(default: each series' sd is estimated from the fit)",
    )
    command.add_argument(
        "--method",
        choices=CALIBRATION_METHODS,
        default="least-squares",
        help="least-squares (default) or mcmc",
    )
    command.add_argument(
        "--starts",
        type=int,
        default=None,
        metavar="N",
        help="least-squares starts from a Latin hypercube (default: the starts of a "
        "calibration.yaml beside the data, else 8)",
    )
    command.add_argument(
        "--seed", type=int, default=42, help="seed of the starts and the sampler (default 42)"
    )
    command.add_argument(
        "--walkers", type=int, default=32, metavar="N", help="MCMC walkers (default 32)"
    )
    command.add_argument(
        "--steps", type=int, default=2000, metavar="N", help="MCMC steps per walker (default 2000)"
    )
    command.add_argument(
        "--burn",
        type=int,
        default=None,
        metavar="N",
        help="MCMC steps dropped as burn-in (default a quarter of --steps)",
    )
    command.add_argument(
        "--fit-until",
        type=float,
        default=None,
        metavar="T",
        help="an out-of-sample check: fit only the observations up to time T "
        "and print the fit of the later ones",
    )
    command.add_argument(
        "--json", action="store_true", help="print the result as JSON (warnings also go to stderr)"
    )
    command.add_argument(
        "--write-scenario",
        type=Path,
        metavar="FILE",
        help="write a scenario that sets the estimates (for MCMC also an "
        "uncertainty block from the posterior)",
    )
    command.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="folder for fit.csv, a plot per series (fit-NAME.png) and, for MCMC, posterior.csv",
    )


def _items(values: Sequence[str]) -> list[str]:
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


def parse_bounds(values: Sequence[str]) -> dict[str, tuple[float, float]]:
    """``["a=1:2", "b=0:5,c=1:3"]`` as ``{name: (low, high)}``.

    >>> parse_bounds(["a=1:2,b=0:5e3"])
    {'a': (1.0, 2.0), 'b': (0.0, 5000.0)}
    """
    from pssc_sim.cli.common import UsageError

    bounds = {}
    for item in _items(values):
        name, _, span = (part.strip() for part in item.partition("="))
        low, _, high = span.partition(":")
        try:
            pair = (float(low), float(high))
        except ValueError:
            pair = (float("nan"), float("nan"))
        if not name or not (pair[0] < pair[1]) or not all(abs(v) < float("inf") for v in pair):
            raise UsageError(
                f"--bounds: expected NAME=LOW:HIGH with LOW below HIGH (got "
                f"{item!r}). Write e.g. --bounds initial_infected=0.5:20"
            )
        bounds[name] = pair
    return bounds


def parse_errors(values: Sequence[str]) -> dict[str, ErrorModel]:
    """``["infected=relative:0.05"]`` as ``{series: ErrorModel}``."""
    from pssc_sim.cli.common import UsageError
    from pssc_sim.inference.data import ErrorModel

    errors = {}
    for item in _items(values):
        name, sep, text = (part.strip() for part in item.partition("="))
        if not sep or not name:
            raise UsageError(
                f"--error: expected SERIES=sd:X or SERIES=relative:F (got "
                f"{item!r}). Write e.g. --error infected=relative:0.05"
            )
        errors[name] = ErrorModel.parse(text, f"--error {name}")
    return errors


def command_calibrate(args: argparse.Namespace, stream: TextIO | None = None) -> int:
    """Run the calibration, print it, and write what was asked for."""
    from pssc_sim.cli.common import UsageError
    from pssc_sim.inference.calibrate import calibrate, planned_scenario

    for option, example in (("starts", 8), ("walkers", 32), ("steps", 2000)):
        if getattr(args, option) is not None and getattr(args, option) < 1:
            raise UsageError(
                f"--{option}: must be at least 1 (got {getattr(args, option)}). "
                f"Use e.g. --{option} {example}"
            )
    if args.seed < 0:
        raise UsageError(
            f"--seed: must be a whole number of at least 0 (got {args.seed}). Use e.g. --seed 42"
        )
    if args.write_scenario is not None:
        _check_scenario_path(args.write_scenario)
    scenario = planned_scenario(args.model, args.data)
    parameters = _items([args.parameters]) if args.parameters else None
    label = f"calibrating {scenario.label} by {args.method}"
    with cluster(args, scenario) as client, progress(label) as bar:
        result = calibrate(
            scenario,
            args.data,
            parameters=parameters,
            bounds=parse_bounds(args.bounds),
            errors=parse_errors(args.error),
            method=args.method,
            starts=args.starts,
            seed=args.seed,
            walkers=args.walkers,
            steps=args.steps,
            burn=args.burn,
            fit_until=args.fit_until,
            progress=bar,
            scheduler=client,
        )
    output = stream or sys.stdout
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, allow_nan=False), file=output)
        for warning in result.warnings:
            print(f"pssc: warning: {warning}", file=sys.stderr)
    else:
        print(result.summary(), file=output)
    written = []
    if args.write_scenario is not None:
        written.append(write_scenario(result, args.write_scenario))
    if args.out is not None:
        written += write_fit(result, args.out)
    for path in written:
        print(f"wrote {path}", file=sys.stderr if args.json else output)
    return EXIT_OK


def write_scenario(result: Calibration, path: Path) -> Path:
    """Write the calibrated scenario to ``path`` (atomically); return the path."""
    import yaml

    from pssc_sim.output import write_text

    _check_scenario_path(path)
    document = result.scenario_document(path.parent, name=path.stem)
    head = f"# Written by pssc calibrate ({result.method}, {result.runs} runs).\n"
    return write_text(head + yaml.safe_dump(document, sort_keys=False, width=100), path)


def _check_scenario_path(path: Path) -> None:
    from pssc_sim.cli.common import UsageError

    if path.suffix.lower() not in (".yaml", ".yml"):
        raise UsageError(
            f"--write-scenario: a scenario file ends in .yaml (got '{path}'). "
            "Give e.g. calibrated.yaml"
        )
    if not path.parent.is_dir():
        raise UsageError(
            f"--write-scenario: no folder '{path.parent}' (got '{path}'). Create the folder first"
        )


def write_fit(result: Calibration, out: Path) -> list[Path]:
    """Write ``fit.csv``, ``fit-<series>.png`` and for MCMC ``posterior.csv``; return them."""

    from pssc_sim.cli.scenario import _folder
    from pssc_sim.output import file_set

    folder = _folder(out)
    series = result.problem.observations.series
    pictures = {s.name: "fit-" + re.sub(r"[^A-Za-z0-9_.-]", "_", s.name) + ".png" for s in series}
    names = ["fit.csv", *pictures.values(), "posterior.csv"]
    with file_set(folder, names) as staging:  # moved in together: never a mix of two fits
        written = _write_fit(result, staging, pictures)
    return [folder / path.name for path in written]


def _write_fit(result: Calibration, folder: Path, pictures: dict[str, str]) -> list[Path]:
    import pandas as pd
    from matplotlib.figure import Figure

    from pssc_sim.output import write_figure, write_table
    from pssc_sim.plot import plain

    written = [write_table(result.table(), folder / "fit.csv")]
    units = result.problem.time.units
    for s in result.problem.observations.series:
        figure = Figure(figsize=(7, 4), layout="constrained")
        ax = figure.subplots()
        times = result.run.times
        low, high = result.band[s.name]
        ax.fill_between(times, low, high, alpha=0.25, linewidth=0, label="95% band")
        ax.plot(times, result.run[s.name].to_numpy(), label="fitted run")
        ax.plot(s.times, s.values, "o", markersize=3, color="black", label="data")
        stats = result.fit[s.name]
        ax.set_title(plain(f"{s.name}: R² {stats.r2:.3f}, MAPE {stats.mape:.1%}"))
        ax.set_xlabel(plain(f"time ({units})" if units else "time"))
        ax.legend(loc="best", frameon=False)
        written.append(write_figure(figure, folder / pictures[s.name]))
    if result.samples is not None:
        samples = pd.DataFrame(result.samples, columns=list(result.problem.names))
        written.append(write_table(samples, folder / "posterior.csv"))
    return written
