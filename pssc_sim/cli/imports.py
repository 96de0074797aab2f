"""``pssc convert`` and ``pssc conformance``: Vensim and XMILE models in."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from pssc_sim.cli.common import DATA_TAG_HELP, parse_data_tags

EXIT_OK, EXIT_FAILED = 0, 1


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the import subcommands to the ``pssc`` parser."""
    convert = commands.add_parser(
        "convert",
        help="convert a Vensim or XMILE model into a pssc_sim model file",
        description="Write a readable pssc_sim YAML model (units and documentation kept) from a "
        "Vensim .mdl or XMILE .xmile/.stmx file; running it gives the same results.",
    )
    convert.add_argument("source", metavar="FILE", help="a .mdl, .xmile, .xml or .stmx model")
    convert.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="MODEL.yaml",
        help="where to write (default: FILE with a .yaml suffix)",
    )
    conformance = commands.add_parser(
        "conformance",
        help="run the SDXorg test-models suite against its canonical outputs",
        description="Run every model of a test-models folder that has a canonical output and "
        "compare with |a-b| <= 1e-5 + 1e-5|b| on every column. Prints one line per "
        "file and 'N passed, M failed'. With --pair, run a model and compare every "
        "series of its own outputs, counting the series within that tolerance and "
        "within 1e-3 and listing the worst. Exit status 0 when nothing failed.",
    )
    conformance.add_argument(
        "path",
        metavar="PATH",
        type=Path,
        nargs="?",
        help="the test-models folder (holding MANIFEST.csv)",
    )
    conformance.add_argument(
        "--pair",
        nargs="+",
        action="append",
        default=[],
        metavar="FILE",
        help="MODEL OUTPUT [OUTPUT ...]: a model and its "
        "own outputs (Vensim .tab or exported text, CSV); may be repeated",
    )
    conformance.add_argument(
        "--worst",
        type=int,
        default=10,
        metavar="N",
        help="with --pair, list up to N series outside the tolerance (default 10)",
    )
    conformance.add_argument(
        "--data-tag",
        metavar="TAG=FILE",
        action="append",
        default=[],
        help=f"with --pair, {DATA_TAG_HELP}",
    )
    conformance.add_argument("--tier", choices=("A", "B", "C"), help="only this tier")
    conformance.add_argument(
        "--format",
        dest="fmt",
        metavar="FORMAT",
        help="only files of this format: mdl, xmile or stmx",
    )


def command_convert(args: argparse.Namespace, stream: TextIO | None = None) -> int:
    """Convert a Vensim/XMILE file to YAML and say where it went."""
    from pssc_sim.parse.translate import convert

    target = args.output if args.output is not None else Path(args.source).with_suffix(".yaml")
    print(f"wrote {convert(args.source, target)}", file=stream or sys.stdout)
    return EXIT_OK


def command_conformance(args: argparse.Namespace, stream: TextIO | None = None) -> int:
    """Run the suite, printing a line per file and the closing count."""
    from pssc_sim.cli.common import UsageError
    from pssc_sim.conformance import FORMATS, run_conformance, summary

    out = stream or sys.stdout
    if args.pair:
        if args.path is not None:
            raise UsageError(
                f"conformance: give a test-models folder or --pair, not both (got "
                f"{str(args.path)!r} and --pair). Run them one at a time"
            )
        return _command_pairs(args.pair, args.worst, out, parse_data_tags(args.data_tag))
    if args.path is None:
        raise UsageError(
            "conformance: nothing to run (got no PATH and no --pair). Give the "
            "test-models folder, or --pair MODEL OUTPUT"
        )
    if not args.path.is_dir():
        raise UsageError(
            f"{args.path}: no test-models folder there (got {str(args.path)!r}). "
            "Give the folder that holds MANIFEST.csv"
        )
    if args.fmt is not None and args.fmt not in FORMATS:
        raise UsageError(f"--format: unknown format {args.fmt!r}. Use one of: {', '.join(FORMATS)}")
    results = []
    for result in run_conformance(args.path, args.tier, args.fmt):
        print(result.line(), file=out, flush=True)
        results.append(result)
    print(summary(results), file=out)
    return EXIT_OK if all(r.passed or r.status == "skipped" for r in results) else EXIT_FAILED


def _command_pairs(
    pairs: list[list[str]], worst: int, out: TextIO, data_tags: Mapping[str, str]
) -> int:
    """Run each model of ``pairs`` against its own outputs, printing counts and worst series."""
    from pssc_sim.cli.common import UsageError
    from pssc_sim.conformance import compare_model
    from pssc_sim.errors import PsscSimError

    if worst < 0:
        raise UsageError(f"--worst: must be 0 or more (got {worst}). Give a count such as 10")
    for pair in pairs:
        if len(pair) < 2:
            raise UsageError(
                f"--pair: needs a model and at least one output (got {pair}). "
                "Write --pair MODEL.mdl OUTPUT.tab"
            )
        for file in pair:
            if not Path(file).is_file():
                raise UsageError(
                    f"--pair: {file}: no such file (got {file!r}). Give a model "
                    "file and its own output files"
                )
    passed = True
    for model, *outputs in pairs:
        try:
            comparison = compare_model(model, outputs, data_tags)
        except PsscSimError as exc:
            print(f"{'ERROR':<11} {model}: {' '.join(str(exc).split())}", file=out, flush=True)
            passed = False
            continue
        for line in comparison.lines(worst):
            print(line, file=out, flush=True)
        passed = passed and comparison.passed
    return EXIT_OK if passed else EXIT_FAILED
