"""Exceptions raised by pssc_sim.

Every exception subclasses :class:`PsscSimError` and the builtin exception it refines, so callers
can catch either. Messages follow one format: ``<where>: <what is wrong> (got <value>). <fix>``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path


class PsscSimError(Exception):
    """Base class of every error pssc_sim raises on purpose."""


class ModelError(PsscSimError, ValueError):
    """A model file or model object is invalid (bad input: the command line exits 2)."""


class ExpressionError(ModelError):
    """An equation uses syntax or names that pssc_sim does not accept."""


class ParameterError(PsscSimError, ValueError):
    """An argument of the Python API is invalid."""


class SimulationError(PsscSimError, RuntimeError):
    """A run failed after it started (the command line exits 1)."""


class OutputError(PsscSimError, OSError):
    """A result file could not be written: the disk is full, the folder read-only ... (exit 2).

    The message names the final file, never a temporary one.
    """

    def __init__(self, path: Path, what: str, got: str, fix: str, code: int = 0) -> None:
        super().__init__(f"{path}: {what} (got {got}). {fix}")
        self.path, self.what, self.got, self.fix, self.code = path, what, got, fix, code

    def __str__(self) -> str:
        return f"{self.path}: {self.what} (got {self.got}). {self.fix}"

    def __reduce__(self) -> tuple[type[OutputError], tuple[Path, str, str, str, int]]:
        return OutputError, (self.path, self.what, self.got, self.fix, self.code)

    def moved_to(self, path: Path) -> OutputError:
        """The same error about ``path`` (the final name of a file written in a staging folder)."""
        return OutputError(path, self.what, self.got, self.fix, self.code)


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """Return a ``" Did you mean 'x'?"`` hint, or an empty string when nothing is close.

    >>> did_you_mean("room_temp", ["room_temperature", "cup"])
    " Did you mean 'room_temperature'?"
    """
    matches = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    if not matches:
        lowered = {c.lower(): c for c in candidates}
        if name.lower() in lowered:
            matches = [lowered[name.lower()]]
    return f" Did you mean '{matches[0]}'?" if matches else ""
