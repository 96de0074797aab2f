"""``pssc mechanisms [NAME]``: the library of gaming mechanisms on the command line.

Without a name it lists every mechanism (name, title, signature); with one it prints the
mechanism's description, inputs, parameters (default, units, range, source) and outputs.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from typing import TYPE_CHECKING, TextIO

from pssc_sim.errors import ModelError, did_you_mean

if TYPE_CHECKING:
    from pssc_sim.parse.fragments import Fragment

__all__ = ["add_commands", "command_mechanisms"]

EXIT_OK = 0
_WIDTH = 100


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``mechanisms`` to the ``pssc`` parser."""
    command = commands.add_parser(
        "mechanisms",
        help="list the library of gaming mechanisms",
        description="List the gaming mechanisms a model can include (name, title and the "
        "signature each leaves in a run), or, with NAME, print one mechanism's "
        "inputs, parameters with their defaults, and outputs. See docs/gaming.md.",
    )
    command.add_argument("name", metavar="NAME", nargs="?", help="a mechanism of the library")


def command_mechanisms(args: argparse.Namespace, stream: TextIO | None = None) -> int:
    """Print the library, or one mechanism."""
    output = stream or sys.stdout
    text = describe(args.name) if args.name else listing()
    print(text, file=output)
    return EXIT_OK


def listing() -> str:
    """One block per mechanism: name and title, then its signature.

    >>> "clock_start_offset" in listing()
    True
    """
    from pssc_sim.parse.documents import load_fragment
    from pssc_sim.parse.fragments import LIBRARY, library_mechanisms

    blocks = []
    for name in library_mechanisms():
        fragment = load_fragment(LIBRARY / f"{name}.yaml")
        blocks.append(f"{name}: {fragment.title}\n" + _wrap(f"signature: {fragment.signature}"))
    return "\n\n".join(blocks)


def describe(name: str) -> str:
    """The inputs, parameters and outputs of the mechanism ``name``.

    >>> print(describe("clock_start_offset").splitlines()[0])
    clock_start_offset: Clock-start offset
    """
    from pssc_sim.parse.documents import load_fragment
    from pssc_sim.parse.fragments import LIBRARY, library_mechanisms

    known = library_mechanisms()
    if name not in known:
        hint = did_you_mean(name, known) or f" Mechanisms: {', '.join(known)}."
        raise ModelError(
            f"mechanisms: unknown mechanism '{name}' (got {name!r}).{hint} Run "
            "'pssc mechanisms' for the list"
        )
    fragment = load_fragment(LIBRARY / f"{name}.yaml")
    lines = [
        f"{name}: {fragment.title}",
        _wrap(fragment.description),
        _wrap(f"signature: {fragment.signature}"),
        "",
        "inputs:",
    ]
    lines += [f"  {i.name} ({i.kind.value}): {i.description}" for i in fragment.inputs]
    lines += ["", "parameters:", *_parameters(fragment), "", "outputs:"]
    lines += [f"  {key}: {text}" for key, text in fragment.outputs.items()]
    lines += ["", "sources:", *(_wrap(f"- {s}", indent="  ") for s in fragment.sources)]
    return "\n".join(lines)


def _parameters(fragment: Fragment) -> list[str]:
    lines = []
    for key, entry in fragment.parameters.items():
        units = f" {entry['units']}" if entry.get("units") else ""
        bounds = f", range {list(entry['range'])}" if entry.get("range") else ""
        lines.append(f"  {key} = {entry['value']:g}{units}{bounds}: {entry.get('description', '')}")
        lines.append(_wrap(f"source: {entry.get('source', '')}", indent="      "))
    return lines


def _wrap(text: str, indent: str = "  ") -> str:
    return textwrap.fill(
        " ".join(text.split()), width=_WIDTH, initial_indent=indent, subsequent_indent=indent + "  "
    )
