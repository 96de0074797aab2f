"""Exceptions raised by pssc_sim.

Every exception subclasses :class:`PsscSimError` and the builtin exception it refines, so callers
can catch either. Messages follow one format: ``<where>: <what is wrong> (got <value>). <fix>``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


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
