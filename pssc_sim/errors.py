"""Exceptions raised by pssc_sim.

Every exception subclasses :class:`PsscSimError` and the builtin exception it refines, so callers
can catch either. Messages follow one format: ``<where>: <what is wrong> (got <value>). <fix>``.
"""

from __future__ import annotations

import reprlib
from collections.abc import Iterable
from pathlib import Path

#: Most characters of a value that a message shows (:func:`shown`).
SHOWN_LIMIT = 200


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


class PsscSimWarning(UserWarning):
    """Something in the input is allowed but probably not what was meant (the command line
    prints it as a note and carries on)."""


def _bounded_repr() -> reprlib.Repr:
    # reprlib shortens containers and strings level by level, so a huge or deeply nested value
    # costs no more than what is shown
    bounded = reprlib.Repr()
    bounded.maxlevel = 3
    bounded.maxlist = bounded.maxtuple = bounded.maxset = bounded.maxfrozenset = 8
    bounded.maxdict = 6
    bounded.maxstring = bounded.maxother = bounded.maxlong = SHOWN_LIMIT
    return bounded


_REPR = _bounded_repr()


def shown(value: object, limit: int = SHOWN_LIMIT) -> str:
    r"""``repr(value)`` for a message: at most ``limit`` characters (a longer value is cut, with
    its length), control characters escaped.

    Every value from a file or an argument that a message echoes goes through here, so a message
    stays one short line whatever the input holds.

    >>> shown("rate * 2")
    "'rate * 2'"
    >>> len(shown("x" * 1000)) < 230
    True
    >>> shown("a\nb")
    "'a\\nb'"
    >>> shown([[1, 2], {"a": None}])
    "[[1, 2], {'a': None}]"
    """
    if isinstance(value, str):
        text = repr(value[: limit + 1]) if len(value) > limit else repr(value)
        length = f" ({len(value)} characters)"
    else:
        try:
            text = _REPR.repr(value)
        except Exception:  # a value whose repr fails (an int of too many digits) or is odd
            text = f"<{type(value).__name__}>"
        length = ""
    text = "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text
    )
    if len(text) <= limit:
        return text
    return f"{text[: limit - 3]}...{length}"


def clipped(text: str, limit: int = SHOWN_LIMIT) -> str:
    r"""A message from elsewhere (an exception's text) for one of ours: control characters
    escaped, at most ``limit`` characters.

    >>> clipped("bad\tvalue" + "!" * 500)[:12]
    'bad\\tvalue!!'
    """
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text[: limit * 2])
    return text if len(text) <= limit else text[:limit] + "..."


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
    import difflib  # only where a name is wrong: every command imports this module

    matches = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    if not matches:
        lowered = {c.lower(): c for c in candidates}
        if name.lower() in lowered:
            matches = [lowered[name.lower()]]
    return f" Did you mean {shown(matches[0])}?" if matches else ""
