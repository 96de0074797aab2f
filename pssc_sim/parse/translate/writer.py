"""Imported models into the IR, and out as readable YAML model files (``pssc convert``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from pssc_sim.atomic import atomic_path
from pssc_sim.ir.model import Model
from pssc_sim.parse.documents import read_document
from pssc_sim.parse.identifiers import shown
from pssc_sim.parse.translate.document import Translation, translate

_SECTIONS = ("parameters", "stocks", "flows", "auxiliaries", "lookups")
_HEADINGS = {
    "parameters": "Parameters: constants a scenario may override.",
    "stocks": "Stocks: Vensim INTEG / XMILE stocks.",
    "flows": "Flows: named rates into and out of stocks, and net rates for what is left.",
    "auxiliaries": "Auxiliaries: evaluated in dependency order every time step.",
    "lookups": "Lookups: graphical functions, called like functions.",
}


def load_translated(
    path: str | Path, data_tags: Mapping[str, str | os.PathLike[str]] | None = None
) -> Model:
    """Read a Vensim or XMILE model into the IR (through :func:`translate`); ``data_tags``
    maps the tags that name data files in the model (``'?data'``) to the files.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "decay.mdl"
    >>> _ = path.write_text("Stock = INTEG(-drain, 10) ~~|\\ndrain = Stock / 2 ~~|\\n"
    ...     "INITIAL TIME = 0 ~~|\\nFINAL TIME = 1 ~~|\\n"
    ...     "TIME STEP = 0.5 ~~|\\nSAVEPER = 0.5 ~~|\\n")
    >>> model = load_translated(path)
    >>> [(f.name, f.source, f.target) for f in model.flows]
    [('drain', 'stock', None)]
    """
    translation = translate(path, data_tags)
    return read_translation(translation)


def read_translation(translation: Translation) -> Model:
    """Validate and lower a translated document into the IR."""
    return read_document(str(translation.source), dict(translation.document))


def write_yaml(translation: Translation) -> str:
    """The translated model as YAML text, with headings and the original name of each variable."""
    document = translation.document
    lines = [
        f"# Converted by pssc_sim from {shown(translation.source.name)}.",
        "# Names are snake_case identifiers; 'source' keeps the original name.",
        "",
    ]
    for key in ("model", "title", "description"):
        if key in document:
            lines.append(_dump({key: document[key]}).rstrip())
    lines.append("time: " + _flow_mapping(document["time"]))
    if document.get("dimensions"):
        lines += ["", "# Dimensions (Vensim subscript ranges)", "dimensions:"]
        for name, entry in document["dimensions"].items():
            lines.append(f"  {name}: " + _flow_mapping(entry))
    for section in _SECTIONS:
        entries = document.get(section)
        if not entries:
            continue
        lines += ["", f"# {_HEADINGS[section]}", f"{section}:"]
        for name, entry in entries.items():
            text = _dump({name: dict(entry)})
            lines += ["  " + line for line in text.rstrip().splitlines()]
    return "\n".join(lines) + "\n"


def convert(source_path: str | Path, target_path: str | Path) -> Path:
    """Convert a Vensim or XMILE model into a pssc_sim YAML model file.

    The file is checked by reading it back before it is written; running it gives the same
    results as running the original.
    """
    translation = translate(source_path)
    text = write_yaml(translation)
    target = Path(target_path)
    document = yaml.safe_load(text)
    read_document(str(translation.source), document)
    with atomic_path(target) as partial:
        partial.write_text(text, encoding="utf-8")
    return target


def convert_command(source: str | Path, output: str | Path | None = None) -> int:
    """``pssc convert SOURCE [-o OUTPUT]``: write the YAML model, return the exit code.

    ``output`` defaults to the source path with a ``.yaml`` suffix. Errors are raised as
    :class:`~pssc_sim.errors.ModelError` for the command line to print (exit 2).
    """
    target = Path(output) if output is not None else Path(source).with_suffix(".yaml")
    convert(source, target)
    return 0


def _dump(value: Mapping[str, Any]) -> str:
    return yaml.safe_dump(
        dict(value), sort_keys=False, allow_unicode=True, width=100, default_flow_style=False
    )


def _flow_mapping(value: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(value), sort_keys=False, default_flow_style=True, width=1000).strip()
