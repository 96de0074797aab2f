"""What every ``pssc`` command shares: the program name, exit statuses, the usage error and
the checks of options common to several commands. Imports nothing heavy, so ``pssc --version``
and ``pssc --help`` start fast."""

from __future__ import annotations

import argparse
import gc
import io
import math
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, NoReturn, TextIO

from pssc_sim.errors import PsscSimError, did_you_mean

if TYPE_CHECKING:
    from pssc_sim.ir.model import Model

PROG = "pssc"
EXIT_OK, EXIT_FAILED_RUN, EXIT_BAD_INPUT = 0, 1, 2


#: Control characters but newline and tab: C0, DEL and C1 (terminal escape sequences start so).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def visible(text: str) -> str:
    """``text`` with its control characters written as escapes, newlines and tabs kept: text
    from a file (a title, a description, a name in a message) cannot move the cursor, clear the
    screen or retitle the terminal.

    >>> print(visible("teacup" + chr(27) + "[2J cools"))
    teacup\\x1b[2J cools
    """
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


class VisibleText(io.TextIOBase):
    """A text stream that writes to ``stream`` through :func:`visible`."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(visible(text))
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()

    def writable(self) -> bool:
        return True


class UsageError(PsscSimError, ValueError):
    """The command line itself is wrong: a bad option, argument or value."""


class Parser(argparse.ArgumentParser):
    """An argparse parser that raises instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        where = f"{self.prog}: " if self.prog != PROG else ""  # the subcommand, if any
        raise UsageError(f"{where}{message}. Run '{self.prog} --help' for usage")


#: Whether this process is the ``pssc`` program (:func:`pssc_sim.cli.program` sets it), which
#: ends when its command does: see :func:`collector_paused`.
_IN_PROGRAM = False


def as_program() -> None:
    """Mark this process as the ``pssc`` program (see :func:`collector_paused`)."""
    global _IN_PROGRAM
    _IN_PROGRAM = True


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a command imports the stages it runs.

    Importing numpy, sympy and the pipeline makes a few hundred thousand objects that live as
    long as the process; the collector, triggered by their number, would go over them again and
    again (about a tenth of the time of a short command) to find nothing to free. Imports are
    bounded work, so the pause is short; the collector runs again as before once they are done.
    In the ``pssc`` program (:func:`as_program`) the objects alive then are also frozen
    (:func:`gc.freeze`), so that no later collection goes over them again: they live until the
    process ends. Called from Python, nothing is frozen, so garbage made before the call is
    still collected.

    >>> import gc
    >>> with collector_paused():
    ...     gc.isenabled()
    False
    >>> gc.isenabled()
    True
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if _IN_PROGRAM:
            gc.freeze()
        if enabled:
            gc.enable()


def check_method(method: str) -> None:
    """Raise :class:`UsageError` unless ``method`` is a registered integration method.

    Examples
    --------
    >>> check_method("eulr")
    Traceback (most recent call last):
    ...
    pssc_sim.cli.common.UsageError: --method: unknown method 'eulr'. Did you mean 'euler'? ...
    """
    from pssc_sim.integrate.methods import METHODS

    if method not in METHODS:
        raise UsageError(
            f"--method: unknown method '{method}'.{did_you_mean(method, METHODS)} "
            f"Use one of: {', '.join(METHODS)} (see '{PROG} methods')"
        )


def parse_assignments(
    assignments: Sequence[str], model: Model, option: str = "--set"
) -> dict[str, float]:
    """``["name=value", ...]`` as ``{name: value}``, checked against the model's parameters
    (``option`` names the command-line option in messages: ``--set`` or ``--scale``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from pssc_sim import load_model
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "m.yaml"
    >>> _ = path.write_text("time: {stop: 1}\\nparameters: {rate: 1}\\nstocks: {x: 1}\\n")
    >>> parse_assignments(["rate=0.5"], load_model(path))
    {'rate': 0.5}
    >>> parse_assignments(["rat=0.5"], load_model(path))
    Traceback (most recent call last):
    ...
    pssc_sim.cli.common.UsageError: --set: unknown parameter 'rat' ... Did you mean 'rate'?
    """
    names = model.parameter_names
    values: dict[str, float] = {}
    for text in assignments:
        name, sep, raw = (part.strip() for part in text.partition("="))
        if not sep or not name:
            example = name or (names[0] if names else "name")
            raise UsageError(
                f"{option}: expected NAME=VALUE (got {text!r}). Write e.g. {option} {example}=2.5"
            )
        if name not in names:
            hint = did_you_mean(name, names) or (
                f" Parameters: {', '.join(names)}." if names else " The model has no parameters."
            )
            raise UsageError(
                f"{option}: unknown parameter '{name}' in {model.source or model.name} "
                f"(got {text!r}).{hint}"
            )
        values[name] = _number(raw, f"{option} {name}")
    return values


def _number(raw: str, where: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not math.isfinite(value):
        raise UsageError(f"{where}: expected a finite number (got {raw!r}). Write e.g. 2.5")
    return value


def time_overrides(model: Model, stop: float | None, dt: float | None) -> dict[str, float]:
    """The ``time`` argument of :func:`simulate` for ``--stop`` and ``--dt``."""
    time: dict[str, float] = {}
    if stop is not None:
        if not math.isfinite(stop) or stop <= model.time.start:
            raise UsageError(
                f"--stop: the stop time must be after the start, "
                f"{model.time.start:g} (got {stop:g}). Give a later time"
            )
        time["stop"] = stop
    if dt is not None:
        if not math.isfinite(dt) or dt <= 0:
            raise UsageError(
                f"--dt: the time step must be positive (got {dt:g}). Give e.g. --dt 0.125"
            )
        time["dt"] = dt
    return time


DATA_TAG_HELP = (
    "map a tag that names a data file in a Vensim model ('?data', set in Vensim's run "
    "settings) to a file; repeat for several"
)


def parse_data_tags(pairs: Sequence[str]) -> dict[str, str]:
    """``["tag=path", ...]`` of ``--data-tag`` as ``{tag: path}``.

    >>> parse_data_tags(["data=inputs/data.xlsx", "?lookups=l.csv"])
    {'data': 'inputs/data.xlsx', '?lookups': 'l.csv'}
    """
    tags: dict[str, str] = {}
    for pair in pairs:
        tag, sep, path = pair.partition("=")
        if not sep or not tag.strip() or not path.strip():
            raise UsageError(
                f"--data-tag: expected TAG=FILE (got {pair!r}). Write, e.g., "
                "--data-tag data=data.xlsx"
            )
        tags[tag.strip()] = path.strip()
    return tags
