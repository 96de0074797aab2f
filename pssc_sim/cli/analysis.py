"""``pssc loops``, ``pssc cld`` and ``pssc check``: the causal structure of a model."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from pssc_sim.cli.scenario import add_memory_option, memory_limit
from pssc_sim.errors import ModelError, PsscSimError

if TYPE_CHECKING:
    from pssc_sim.ir.causal import CausalGraph
    from pssc_sim.ir.model import Model

EXIT_OK, EXIT_FINDINGS = 0, 1
#: Loops listed by ``pssc loops``, and scored by ``--dominance`` (each score is a time series),
#: unless ``--max-loops`` says otherwise.
MAX_LOOPS, DOMINANCE_MAX_LOOPS = 10_000, 2_000


class CheckError(ModelError):
    """``pssc check`` broke on its input (exit 2), as opposed to finding problems (exit 1)."""


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the analysis subcommands to the ``pssc`` parser."""
    loops = commands.add_parser(
        "loops",
        help="list the feedback loops of a model or diagram",
        description="List every feedback loop with its polarity (R reinforcing, B balancing), "
        "derived from the equations of a model or the links of a diagram file.",
    )
    loops.add_argument("model", metavar="MODEL", help="a model file or folder, or a diagram file")
    loops.add_argument("--json", action="store_true", help="print the loops as a JSON list")
    loops.add_argument(
        "--max-length", type=int, metavar="N", help="only loops of at most N links (large models)"
    )
    loops.add_argument(
        "--max-loops",
        type=int,
        metavar="N",
        help="list the N shortest loops (default 10000, 2000 with --dominance); "
        "when a model has more, a note on stderr says how many at least",
    )
    loops.add_argument(
        "--dominance",
        nargs="?",
        const="",
        metavar="RUN",
        help="run the model (or the model file RUN) and report which loop "
        "dominates when (Loops That Matter)",
    )
    loops.add_argument("--method", default="euler", help="integration method for --dominance")
    loops.add_argument(
        "--plot",
        type=Path,
        metavar="FILE",
        help="with --dominance: write relative loop scores over time to FILE",
    )
    add_memory_option(loops)
    cld = commands.add_parser(
        "cld",
        help="draw the causal loop diagram",
        description="Draw the causal loop diagram derived from the equations (or a diagram "
        "file): stocks in boxes, polarity on every arrow, loops named R1, B1 ...",
    )
    cld.add_argument("model", metavar="MODEL", help="a model file or folder, or a diagram file")
    cld.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        metavar="FILE",
        help="the picture to write: .svg, .png or .pdf",
    )
    cld.add_argument("--around", metavar="VAR", help="only the neighbourhood of VAR")
    cld.add_argument(
        "--depth",
        type=int,
        default=2,
        metavar="N",
        help="with --around: links to follow each way (default 2)",
    )
    check = commands.add_parser(
        "check",
        help="check units, unused parameters, sources and run-time ranges",
        description="Check a model: units of every equation, unused parameters and lookups, "
        "parameters without a source, lookups called outside their points and "
        "non-negative stocks driven below zero during a run. Exit status: 0 clean, "
        "1 findings, 2 unreadable input.",
    )
    check.add_argument("model", metavar="MODEL", help="a model file or folder")
    check.add_argument("--no-run", action="store_true", help="skip the checks that need a run")
    check.add_argument("--json", action="store_true", help="print findings as JSON")


def load_structure(path: str) -> tuple[CausalGraph, Model | None]:
    """The causal graph of a model file or of a qualitative diagram file, and the model if any."""
    from pssc_sim.ir.causal import causal_graph
    from pssc_sim.parse import load_model
    from pssc_sim.parse.cld_file import is_cld_document, load_cld_file
    from pssc_sim.parse.model_file import resolve_model_path
    from pssc_sim.parse.yaml_reader import read_yaml

    file = resolve_model_path(path)
    if file.suffix.lower() in (".yaml", ".yml") and is_cld_document(read_yaml(file)):
        return load_cld_file(file), None
    model = load_model(file)
    return causal_graph(model), model


def command_loops(args: argparse.Namespace, stream: TextIO | None = None) -> int:
    """Print the loops of a model or diagram, and their dominance over a run when asked."""
    from pssc_sim.analysis.loops import list_loops
    from pssc_sim.cli.common import UsageError

    out = stream or sys.stdout
    for option, value in (("--max-loops", args.max_loops), ("--max-length", args.max_length)):
        if value is not None and value < 1:
            raise UsageError(
                f"{option}: must be at least 1 (got {value}). Give e.g. "
                f"{option} {10_000 if option == '--max-loops' else 12}"
            )
    graph, model = load_structure(args.model)
    if args.dominance is not None:
        return _dominance(args, model, out)
    found = list_loops(graph, max_length=args.max_length, max_loops=args.max_loops or MAX_LOOPS)
    loops = found.loops
    _note(found.search.note())
    if args.json:
        import json

        print(json.dumps([lp.as_dict() for lp in loops], indent=2), file=out)
        return EXIT_OK
    if not loops:
        print("no feedback loops", file=out)
    for loop in loops:
        kind = {"R": "reinforcing", "B": "balancing"}.get(loop.kind, "unknown polarity")
        chain = " -> ".join([*loop.variables, loop.variables[0]])
        print(f"{loop.name:<5} {kind:<17} {len(loop.variables):>2} links: {chain}", file=out)
    return EXIT_OK


def _note(note: str) -> None:
    """Say on stderr that the loop cap left loops out (stdout stays the listing, or valid JSON)."""
    if note:
        print(
            f"pssc: note: {note}. Raise --max-loops or lower --max-length to see others",
            file=sys.stderr,
        )


def _dominance(args: argparse.Namespace, model: Model | None, out: TextIO) -> int:
    from pssc_sim.analysis.dominance import (
        dominance_outputs,
        link_sign_phases,
        loop_dominance,
        plot_dominance,
    )
    from pssc_sim.cli.common import UsageError, check_method
    from pssc_sim.integrate.simulate import simulate
    from pssc_sim.ir.causal import Polarity, causal_graph
    from pssc_sim.parse import load_model

    if args.dominance:
        model = load_model(args.dominance)
    if model is None:
        raise UsageError(
            f"--dominance: a diagram file has no equations to run (got "
            f"{args.model!r}). Give a model file"
        )
    check_method(args.method)
    results = simulate(
        model, method=args.method, outputs=dominance_outputs(model), max_memory=memory_limit(args)
    )
    dominance = loop_dominance(
        model, results, max_length=args.max_length, max_loops=args.max_loops or DOMINANCE_MAX_LOOPS
    )
    _note(dominance.note)
    for loop in dominance.loops:
        chain = " -> ".join([*loop.variables, loop.variables[0]])
        peak = float(abs(loop.scores).max(initial=0.0))
        print(f"{loop.name:<5} peak relative score {peak:5.2f}: {chain}", file=out)
    print("dominant loops:", file=out)
    for phase in dominance.phases:
        print(f"  {phase.start:>10g} .. {phase.stop:<10g} {phase.loop}", file=out)
    unknown = [
        (lk.cause, lk.effect) for lk in causal_graph(model).links if lk.polarity is Polarity.UNKNOWN
    ]
    signs = link_sign_phases(model, results, unknown)
    if signs:
        print("links whose sign depends on the state, along the run:", file=out)
    for (cause, effect), phases in signs.items():
        spans = ", ".join(f"{p.sign} {p.start:g}..{p.stop:g}" for p in phases)
        print(f"  {cause} -> {effect}: {spans}", file=out)
    if args.plot is not None:
        from matplotlib.figure import Figure

        from pssc_sim.output import write_figure

        figure = Figure(figsize=(8, 4.5), layout="constrained")
        plot_dominance(dominance, ax=figure.subplots())
        print(f"wrote {write_figure(figure, args.plot)}", file=out)
    return EXIT_OK


def command_cld(args: argparse.Namespace, stream: TextIO | None = None) -> int:
    """Draw the causal loop diagram of a model or diagram file."""
    from pssc_sim.analysis.diagram import neighbourhood, save_cld

    graph, _ = load_structure(args.model)
    if args.around:
        graph = neighbourhood(graph, args.around, args.depth)
    path = save_cld(graph, args.output)
    print(f"wrote {path}", file=stream or sys.stdout)
    return EXIT_OK


def command_check(args: argparse.Namespace, stream: TextIO | None = None) -> int:
    """Check a model; exit 0 when clean and 1 with findings."""
    from pssc_sim.analysis.checks import check_model
    from pssc_sim.parse import load_model

    out = stream or sys.stdout
    model = load_model(args.model)
    try:
        report = check_model(model, run=not args.no_run)
    except PsscSimError:
        raise
    except (
        ArithmeticError,
        AttributeError,
        KeyError,
        IndexError,
        LookupError,
        TypeError,
        ValueError,
        RecursionError,
    ) as error:
        # A check that breaks on some input must not look like a finding (exit 1) nor print a
        # traceback: say which model and what broke, and exit 2 as for other unreadable input.
        raise CheckError(
            f"{model.source or model.name}: the model could not be checked "
            f"({type(error).__name__}: {str(error)[:200]}). Fix the value the "
            "error names, or run 'pssc check --no-run' to skip the run"
        ) from None
    if args.json:
        rows = [
            {"kind": f.kind.value, "where": f.where, "message": f.message} for f in report.findings
        ]
        import json

        print(json.dumps(rows, indent=2), file=out)
    else:
        for finding in report.findings:
            print(f"{finding.kind.value}: {finding}", file=out)
        count = len(report.findings)
        print(f"{report.model}: {'no findings' if report.ok else f'{count} findings'}", file=out)
    return EXIT_OK if report.ok else EXIT_FINDINGS
