"""``pssc sensitivity`` and ``pssc optimize``: which parameters drive an output, and the lever
values that make it best, each design or generation run as one vectorised ensemble."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from pssc_sim.cli.compute import cluster
from pssc_sim.cli.scenario import add_memory_option, progress

if TYPE_CHECKING:
    from pssc_sim.inference.design import Experiment, Statistic
    from pssc_sim.inference.optimize import OptimizationResult
    from pssc_sim.inference.sensitivity import SensitivityResult

__all__ = ["HANDLERS", "add_commands", "command_optimize", "command_sensitivity"]

EXIT_OK = 0
_STATISTIC_CHOICES = ("final", "mean", "max", "min")


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``sensitivity`` and ``optimize`` to the ``pssc`` parser."""
    _add_sensitivity(commands)
    _add_optimize(commands)


def _add_sensitivity(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from pssc_sim.inference.catalogue import SENSITIVITY_METHODS as METHODS

    command = commands.add_parser(
        "sensitivity",
        help="global sensitivity of an output to uncertain parameters",
        description="Vary the parameters of a scenario's uncertainty: block (or the model's "
        "ranges) over a SALib design, run the whole design as one ensemble and "
        "print each parameter's indices: Sobol' S1 and ST with confidence "
        "intervals, Morris mu_star and sigma, or FAST S1 and ST. With --out, write "
        "DIR/indices.csv and DIR/indices.png (and the index over time with "
        "--over-time).",
    )
    add_memory_option(command)
    command.add_argument(
        "model", metavar="SCENARIO", help="a scenario file, a model .yaml file or a model folder"
    )
    command.add_argument(
        "--output",
        required=True,
        metavar="NAME",
        help="the stock, flow, auxiliary or measure analysed",
    )
    which = command.add_mutually_exclusive_group()
    which.add_argument("--at", type=float, metavar="T", help="analyse the value at time T")
    which.add_argument(
        "--stat",
        choices=_STATISTIC_CHOICES,
        help="analyse the final value (default), the time mean, max or min",
    )
    command.add_argument(
        "--method",
        default="sobol",
        help="; ".join(f"{m.name}: {m.description}" for m in METHODS.values()),
    )
    command.add_argument(
        "--samples",
        type=int,
        metavar="N",
        help="base sample size (default: "
        + ", ".join(f"{m.name} {m.default_samples}" for m in METHODS.values())
        + ")",
    )
    command.add_argument(
        "--parameters",
        nargs="+",
        metavar="NAME",
        help="the parameters varied, space- or comma-separated (default: all "
        "with a distribution or range)",
    )
    command.add_argument(
        "--second-order", action="store_true", help="also Sobol' second-order indices"
    )
    command.add_argument("--seed", type=int, default=0, help="seed of the design (default 0)")
    command.add_argument("--json", action="store_true", help="print the indices as JSON")
    command.add_argument(
        "--out", type=Path, metavar="DIR", help="folder for indices.csv and indices.png"
    )
    command.add_argument(
        "--over-time",
        action="store_true",
        help="also the indices of the value at each saved time (needs --out "
        "for the plot; not with --at or --stat)",
    )


def _add_optimize(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    command = commands.add_parser(
        "optimize",
        help="find the lever values that maximise or minimise an output",
        description="Search levers (parameters between bounds) by differential evolution, each "
        "generation run as one ensemble, for the best value of an objective, "
        "subject to constraints; optionally over the scenario's uncertainty "
        "ensemble (the mean or a percentile across its members).",
    )
    add_memory_option(command)
    command.add_argument(
        "model", metavar="SCENARIO", help="a scenario file, a model .yaml file or a model folder"
    )
    command.add_argument(
        "--objective",
        required=True,
        metavar="TEXT",
        help="'maximize NAME' or 'minimize NAME', then optionally 'at T', "
        "final (default), mean, max or min",
    )
    command.add_argument(
        "--levers",
        required=True,
        metavar="NAME=LOW:HIGH,...",
        help="the parameters to move and their bounds; a bare NAME takes the model's range",
    )
    command.add_argument(
        "--constraint",
        action="append",
        default=[],
        metavar="TEXT",
        help="NAME [at T|final|mean|max|min] OP NUMBER, OP one of <=, >=, <, >; repeat for several",
    )
    command.add_argument(
        "--under-uncertainty",
        metavar="mean|pN",
        help="run each candidate over the scenario's ensemble and optimise "
        "the mean or N-th percentile across members",
    )
    command.add_argument("--seed", type=int, default=0, help="seed of the search (default 0)")
    command.add_argument(
        "--popsize", type=int, default=15, help="population per lever (default 15)"
    )
    command.add_argument("--maxiter", type=int, default=60, help="most generations (default 60)")
    command.add_argument(
        "--polish",
        action="store_true",
        help="finish with scipy's local search from the best candidate",
    )
    command.add_argument("--json", action="store_true", help="print the result as JSON")
    command.add_argument(
        "--write-scenario",
        type=Path,
        metavar="FILE",
        help="write a scenario file that sets the best levers",
    )


def _experiment(path: str) -> Experiment:
    from pssc_sim.inference.design import Experiment

    return Experiment.load(path)


def _statistic(args: argparse.Namespace) -> Statistic:
    from pssc_sim.cli.common import UsageError
    from pssc_sim.inference.design import Statistic

    if args.over_time:
        if args.at is not None or args.stat is not None:
            given = f"--at {args.at:g}" if args.at is not None else f"--stat {args.stat}"
            raise UsageError(
                f"--over-time: the index over time reads the value at every time "
                f"(got {given}). Drop {given.split()[0]}"
            )
        return Statistic("series")
    if args.at is not None:
        return Statistic("at", args.at)
    return Statistic(args.stat or "final")


def _parameter_names(raw: Sequence[str] | None) -> list[str] | None:
    if raw is None:
        return None
    return [name.strip() for text in raw for name in text.split(",") if name.strip()]


def command_sensitivity(args: argparse.Namespace, stream: TextIO | None = None) -> int:
    """Run the design, print the indices (or JSON) and write the files of ``--out``."""
    from pssc_sim.inference.sensitivity import sensitivity

    out = stream or sys.stdout
    experiment = _experiment(args.model)
    statistic = _statistic(args)
    with (
        cluster(args, experiment.scenario) as client,
        progress(f"sensitivity of {args.output} ({args.method})") as bar,
    ):
        result = sensitivity(
            experiment.on(client),
            args.output,
            statistic,
            method=args.method,
            samples=args.samples,
            parameters=_parameter_names(args.parameters),
            second_order=args.second_order,
            seed=args.seed,
            progress=bar,
        )
    if args.json:
        print(json.dumps(result.to_json(), indent=2), file=out)
    else:
        print(_sensitivity_text(result, experiment), file=out)
    if args.out is not None:
        for path in write_sensitivity(result, args.out):
            print(f"wrote {path}", file=sys.stderr if args.json else out)
    return EXIT_OK


def _sensitivity_text(result: SensitivityResult, experiment: Experiment) -> str:
    statistic = (
        "over time, at the end" if result.statistic.kind == "series" else (result.statistic.label)
    )
    lines = [
        f"sensitivity of {result.output} ({statistic}) in {experiment.source}: "
        f"{result.method}, N = {result.samples}, {len(result.parameters)} parameters, "
        f"{result.runs} runs, seed {result.seed}",
        "",
        result.table(),
    ]
    if result.constant:
        lines.append(f"note: {result.output} is the same in every run, so every index is 0")
    if result.second_order:
        lines += ["", "second order:"]
        lines += [
            f"  {a} x {b}: S2 {v['S2']:.4g} +/- {v['S2_conf']:.4g}"
            for (a, b), v in result.second_order.items()
        ]
    return "\n".join(lines)


def write_sensitivity(result: SensitivityResult, folder: Path) -> list[Path]:
    """Write ``indices.csv`` and ``indices.png`` (and ``over_time.csv`` and ``over_time.png``
    for an index over time) to ``folder``; return the paths."""
    import pandas as pd

    from pssc_sim.output import file_set, write_figure, write_table

    _make_folder(folder, "--out")
    table = pd.DataFrame([{"parameter": p, **values} for p, values in result.indices.items()])
    names = ["indices.csv", "indices.png", "over_time.csv", "over_time.png"]
    with file_set(folder, names) as staging:  # moved in together: never a mix of two analyses
        write_table(table, staging / "indices.csv")
        write_figure(_bar_chart(result), staging / "indices.png")
        if result.times is not None:
            rows = [
                {"time": t, "parameter": p, **{k: float(v[i]) for k, v in series.items()}}
                for p, series in result.over_time.items()
                for i, t in enumerate(result.times)
            ]
            write_table(pd.DataFrame(rows), staging / "over_time.csv")
            write_figure(_over_time_chart(result), staging / "over_time.png")
    return [folder / name for name in names[: 4 if result.times is not None else 2]]


def _main_indices(method: str) -> list[tuple[str, str | None]]:
    """(index, its confidence interval) drawn for each method."""
    if method == "morris":
        return [("mu_star", "mu_star_conf")]
    if method == "rbd-fast":
        return [("S1", "S1_conf")]
    return [("S1", "S1_conf"), ("ST", "ST_conf")]


def _bar_chart(result: SensitivityResult) -> Any:
    import numpy as np
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 1.5 + 0.4 * len(result.parameters)), layout="constrained")
    ax = figure.subplots()
    pairs = _main_indices(result.method)
    y = np.arange(len(result.parameters))
    height = 0.8 / len(pairs)
    for i, (index, conf) in enumerate(pairs):
        values = [result.indices[p][index] for p in result.parameters]
        errors = [result.indices[p][conf] for p in result.parameters] if conf else None
        ax.barh(y + i * height, values, height, xerr=errors, label=index, capsize=2)
    ax.set_yticks(y + height * (len(pairs) - 1) / 2, result.parameters)
    ax.invert_yaxis()
    ax.set_xlabel("index" if result.method != "morris" else f"mu* ({result.output} units)")
    ax.set_title(f"{result.method} sensitivity of {result.output} ({result.statistic.label})")
    ax.legend()
    return figure


def _over_time_chart(result: SensitivityResult) -> Any:
    import numpy as np
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 4.5), layout="constrained")
    ax = figure.subplots()
    indices = [index for index, _ in _main_indices(result.method)]
    times = np.asarray(result.times)
    for p in result.parameters:
        (line,) = ax.plot(times, result.over_time[p][indices[0]], label=p)
        for index in indices[1:]:  # ST dashed, in the parameter's colour
            ax.plot(times, result.over_time[p][index], linestyle="--", color=line.get_color())
    ax.set_xlabel("time")
    ax.set_ylabel(" (solid), ".join(indices) + (" (dashed)" if len(indices) > 1 else ""))
    ax.set_title(f"{result.method} {' and '.join(indices)} of {result.output} over time")
    ax.legend()
    return figure


def _make_folder(folder: Path, where: str) -> None:
    from pssc_sim.cli.common import UsageError

    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"{where}: cannot create the folder ({exc.strerror}) (got "
            f"'{folder}'). Give a folder you can write to"
        ) from None


def command_optimize(args: argparse.Namespace, stream: TextIO | None = None) -> int:
    """Search the levers, print the best (or JSON) and write ``--write-scenario``."""
    from pssc_sim.inference.optimize import (
        Constraint,
        Objective,
        Robustness,
        optimize,
        parse_levers,
        write_scenario,
    )

    out = stream or sys.stdout
    experiment = _experiment(args.model)
    objective = Objective.parse(args.objective)
    levers = parse_levers(args.levers, experiment)
    constraints = [Constraint.parse(text) for text in args.constraint]
    robust = (
        Robustness.parse(args.under_uncertainty) if args.under_uncertainty is not None else None
    )
    if args.write_scenario is not None and args.write_scenario.is_dir():
        from pssc_sim.cli.common import UsageError

        raise UsageError(
            f"--write-scenario: a folder, not a file (got "
            f"'{args.write_scenario}'). Give a file name such as best.yaml"
        )
    with (
        cluster(args, experiment.scenario) as client,
        progress(f"optimising {objective.text}") as bar,
    ):
        result = optimize(
            experiment.on(client),
            objective,
            levers,
            constraints,
            under_uncertainty=robust,
            seed=args.seed,
            popsize=args.popsize,
            maxiter=args.maxiter,
            polish=args.polish,
            progress=bar,
        )
    if args.json:
        print(json.dumps(result.to_json(), indent=2), file=out)
    else:
        print(_optimize_text(result, experiment), file=out)
    if args.write_scenario is not None:
        args.write_scenario.parent.mkdir(parents=True, exist_ok=True)
        path = write_scenario(result, experiment, args.write_scenario)
        print(f"wrote {path}", file=sys.stderr if args.json else out)
    return EXIT_OK


def _optimize_text(result: OptimizationResult, experiment: Experiment) -> str:
    how = f" ({result.robustness.label} over the ensemble)" if result.robustness else ""
    lines = [
        f"{result.problem.text}{how} in {experiment.source}: differential evolution, "
        f"{result.runs} runs over {result.generations} generations, seed {result.seed}",
        "",
    ]
    width = max(len(name) for name in result.levers)
    bounds = {lever.name: lever for lever in result.bounds}
    for name, value in result.levers.items():
        lever = bounds[name]
        lines.append(
            f"lever      {name:<{width}} = {value:.6g}  (bounds {lever.low:g} to {lever.high:g})"
        )
    lines.append(
        f"objective  {result.problem.name} {result.problem.statistic.label} = "
        f"{result.objective:.6g}"
    )
    for text, value in result.constraints.items():
        lines.append(f"constraint {text}: {value:.6g}")
    if not result.feasible:
        lines.append(
            "warning: no candidate met every constraint; the best shown is the least "
            "infeasible. Widen the levers or relax the constraints"
        )
    return "\n".join(lines)


#: The command handlers by command name, for the ``pssc`` dispatcher.
HANDLERS = {"sensitivity": command_sensitivity, "optimize": command_optimize}
