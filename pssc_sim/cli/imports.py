"""``pssc convert`` and ``pssc conformance``: Vensim and XMILE models in."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

EXIT_OK, EXIT_FAILED = 0, 1


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the import subcommands to the ``pssc`` parser."""
    convert = commands.add_parser(
        "convert", help="convert a Vensim or XMILE model into a pssc_sim model file",
        description="Write a readable pssc_sim YAML model (units and documentation kept) from a "
                    "Vensim .mdl or XMILE .xmile/.stmx file; running it gives the same results.")
    convert.add_argument("source", metavar="FILE", help="a .mdl, .xmile, .xml or .stmx model")
    convert.add_argument("-o", "--output", type=Path, metavar="MODEL.yaml",
                         help="where to write (default: FILE with a .yaml suffix)")
    conformance = commands.add_parser(
        "conformance", help="run the SDXorg test-models suite against its canonical outputs",
        description="Run every model of a test-models folder that has a canonical output and "
                    "compare with |a-b| <= 1e-5 + 1e-5|b| on every column. Prints one line per "
                    "file and 'N passed, M failed'. Exit status 0 when nothing failed.")
    conformance.add_argument("path", metavar="PATH", type=Path,
                             help="the test-models folder (holding MANIFEST.csv)")
    conformance.add_argument("--tier", choices=("A", "B", "C"), help="only this tier")
    conformance.add_argument("--format", dest="fmt", metavar="FORMAT",
                             help="only files of this format: mdl, xmile or stmx")


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
    if not args.path.is_dir():
        raise UsageError(f"{args.path}: no test-models folder there (got {str(args.path)!r}). "
                         "Give the folder that holds MANIFEST.csv")
    if args.fmt is not None and args.fmt not in FORMATS:
        raise UsageError(f"--format: unknown format {args.fmt!r}. Use one of: "
                         f"{', '.join(FORMATS)}")
    results = []
    for result in run_conformance(args.path, args.tier, args.fmt):
        print(result.line(), file=out, flush=True)
        results.append(result)
    print(summary(results), file=out)
    return EXIT_OK if all(r.passed or r.status == "skipped" for r in results) else EXIT_FAILED
