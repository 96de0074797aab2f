"""Reading YAML documents safely, for every file format of the parse stage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from pssc_sim.errors import ModelError


def read_yaml(
    path: Path, *, error: type[ModelError] = ModelError, no_code: str | None = None
) -> Any:
    """Read a YAML document safely: tags that would construct Python objects are refused.

    ``error`` is the exception raised (a :class:`ModelError`); with ``no_code`` such a tag gets
    a message of its own ending with that fix, otherwise it is reported as invalid YAML.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read the file ({exc}). Check the path") from None
    try:
        return yaml.safe_load(text)
    except yaml.constructor.ConstructorError as exc:
        if no_code is None:
            raise error(_invalid_yaml(path, exc)) from None
        mark = exc.problem_mark
        place = f"line {mark.line + 1}" if mark else "unknown place"
        raise error(
            f"{path}: a YAML tag that builds objects at {place} (got {exc.problem}). {no_code}"
        ) from None
    except yaml.YAMLError as exc:
        raise error(_invalid_yaml(path, exc)) from None


def _invalid_yaml(path: Path, exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    place = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown place"
    problem = getattr(exc, "problem", None) or "invalid YAML"
    return f"{path}: invalid YAML at {place} ({problem}). Fix the indentation or quoting there"
