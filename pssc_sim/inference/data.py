"""Observed data for calibration: a CSV file of series against time, read and checked once.

The file has a ``time`` column and one column per observed variable or measure of the model
(empty cells are missing values). A column ``NAME:sd`` gives a standard deviation for each
observation of ``NAME``; an :class:`ErrorModel` per series (``sd`` or ``relative``) can be given
instead. Times are numbers in the model's time units, or ISO dates (``2021-03-15``) when the
model counts time in years: a date becomes a decimal year, the year plus the share of its days
gone by (2024-07-02 is 2024.5: 183 of 366 days).

Every problem is reported as ``file: row N, column 'x': what is wrong (got value). fix``.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pssc_sim.errors import ModelError, did_you_mean
from pssc_sim.parse.yaml_reader import read_yaml

#: Kinds of error model a series may declare: ``sd`` is a fixed standard deviation in the
#: series' units; ``relative`` is a fraction of each observed value.
ERROR_KINDS: tuple[str, ...] = ("sd", "relative")

#: A relative error model never lets an observation's sd fall below this share of the largest
#: observed magnitude of the series, so an observed zero does not get an infinite weight.
RELATIVE_FLOOR = 0.01

_YEAR_UNITS = ("year", "years", "yr", "yrs", "a")

#: The file beside an observed-data file that names the parameters a calibration to it fits.
PLAN_FILE = "calibration.yaml"


class DataError(ModelError):
    """An observed-data file or an error model is invalid (bad input: the command exits 2)."""


@dataclass(frozen=True, slots=True)
class ErrorModel:
    """How far an observation may lie from the truth: normal errors with a fixed ``sd``, or with
    an sd that is a ``relative`` share of the observed value.

    Examples
    --------
    >>> ErrorModel.parse("relative:0.05", "--error infected")
    ErrorModel(kind='relative', value=0.05)
    >>> ErrorModel("sd", 2.0).sd(np.array([10.0, 20.0])).tolist()
    [2.0, 2.0]
    """

    kind: str
    value: float

    def __post_init__(self) -> None:
        if self.kind not in ERROR_KINDS:
            raise DataError(
                f"error model: unknown kind '{self.kind}'."
                f"{did_you_mean(self.kind, ERROR_KINDS)} Use sd:VALUE or "
                "relative:FRACTION"
            )
        if not (math.isfinite(self.value) and self.value > 0):
            raise DataError(
                f"error model: {self.kind} must be a positive number (got "
                f"{self.value!r}). Write e.g. sd:50 or relative:0.05"
            )

    @classmethod
    def parse(cls, text: str, where: str) -> ErrorModel:
        """``sd:VALUE`` or ``relative:FRACTION`` as an :class:`ErrorModel`."""
        kind, sep, raw = (part.strip() for part in text.partition(":"))
        try:
            value = float(raw) if sep else math.nan
        except ValueError:
            value = math.nan
        if kind not in ERROR_KINDS or not (math.isfinite(value) and value > 0):
            hint = did_you_mean(kind, ERROR_KINDS) if kind not in ERROR_KINDS else ""
            raise DataError(
                f"{where}: expected sd:VALUE or relative:FRACTION with a positive "
                f"number (got {text!r}).{hint} Write e.g. sd:50 or relative:0.05"
            )
        return cls(kind, value)

    def sd(self, observed: np.ndarray) -> np.ndarray:
        """The standard deviation of each observation in ``observed``."""
        if self.kind == "sd":
            return np.full(observed.shape, self.value)
        magnitude = np.abs(observed)
        floor = RELATIVE_FLOOR * float(magnitude.max()) if magnitude.size else 0.0
        return np.asarray(self.value * np.maximum(magnitude, max(floor, np.finfo(float).tiny)))


@dataclass(frozen=True, slots=True, eq=False)
class ObservedSeries:
    """The observations of one variable: times, values and, where known, each one's sd."""

    name: str
    times: np.ndarray
    values: np.ndarray
    sd: np.ndarray | None = None

    @property
    def size(self) -> int:
        """The number of observations."""
        return int(self.times.size)


@dataclass(frozen=True, slots=True, eq=False)
class Observations:
    """Observed series read from one file, in the order of its columns."""

    source: str
    series: tuple[ObservedSeries, ...]

    @property
    def names(self) -> tuple[str, ...]:
        """The observed variables."""
        return tuple(s.name for s in self.series)

    @property
    def size(self) -> int:
        """The number of observations over all series."""
        return sum(s.size for s in self.series)

    def span(self) -> tuple[float, float]:
        """The first and last observed time."""
        first = min(float(s.times.min()) for s in self.series)
        last = max(float(s.times.max()) for s in self.series)
        return first, last

    def split(self, time: float) -> tuple[Observations, Observations]:
        """The observations up to and including ``time``, and those after it; a series with no
        observation on one side is left out of that side.

        >>> data = Observations("f", (ObservedSeries("x", np.array([1.0, 2.0, 3.0]),
        ...                                          np.array([5.0, 6.0, 7.0])),))
        >>> [s.times.tolist() for part in data.split(2) for s in part.series]
        [[1.0, 2.0], [3.0]]
        """
        parts: tuple[list[ObservedSeries], list[ObservedSeries]] = ([], [])
        for s in self.series:
            for side, keep in zip(parts, (s.times <= time, s.times > time), strict=True):
                if keep.any():
                    side.append(
                        ObservedSeries(
                            s.name,
                            s.times[keep],
                            s.values[keep],
                            None if s.sd is None else s.sd[keep],
                        )
                    )
        return Observations(self.source, tuple(parts[0])), Observations(
            self.source, tuple(parts[1])
        )

    def with_errors(self, errors: Mapping[str, ErrorModel]) -> Observations:
        """A copy whose series named in ``errors`` take that error model's sd."""
        for name in errors:
            if name not in self.names:
                raise DataError(
                    f"{self.source}: error model for '{name}', which the file does not"
                    f" observe.{did_you_mean(name, self.names)} Observed: "
                    f"{', '.join(self.names)}"
                )
        series = tuple(
            ObservedSeries(s.name, s.times, s.values, errors[s.name].sd(s.values))
            if s.name in errors
            else s
            for s in self.series
        )
        return Observations(self.source, series)


@dataclass(frozen=True, slots=True)
class CalibrationPlan:
    """What a calibration to a data file fits, from ``calibration.yaml``: ``parameters`` and
    their ``bounds`` (``{name: (low, high)}``, replacing ranges) when no parameters are named,
    and the ``scenario`` file the data were observed under (``None``: the model as it is), run
    when a model rather than a scenario is calibrated."""

    parameters: tuple[str, ...]
    bounds: dict[str, tuple[float, float]]
    scenario: Path | None = None
    starts: int | None = None


PLAN_KEYS = ("parameters", "bounds", "scenario", "starts")


def read_plan(data: str | Path) -> CalibrationPlan | None:
    """The ``calibration.yaml`` in the folder of the data file ``data``, or ``None`` if there is
    none: ``parameters: [a, b]``, optionally ``bounds: {a: [low, high]}``, ``scenario:
    path/to/scenario.yaml`` (relative to the ``calibration.yaml`` file's folder) and ``starts:
    N``.

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "calibration.yaml").write_text("parameters: [k]\\nbounds: {k: [0, 5]}\\n")
    >>> read_plan(folder / "observed.csv")
    CalibrationPlan(parameters=('k',), bounds={'k': (0.0, 5.0)}, scenario=None, starts=None)
    """
    file = Path(data).parent / PLAN_FILE
    if not file.is_file():
        return None
    document = read_yaml(file, error=DataError)
    shape = (
        "Write parameters: [a, b] and, if needed, bounds: {a: [low, high]}, scenario: "
        "a scenario file and starts: N"
    )
    if not isinstance(document, dict) or "parameters" not in document:
        raise DataError(
            f"{file}: expected a mapping with a parameters list (got {_clip(document)}). {shape}"
        )
    unknown = sorted(str(key) for key in document if key not in PLAN_KEYS)
    if unknown:
        raise DataError(
            f"{file}: unknown key '{unknown[0]}' (got {', '.join(unknown)})."
            f"{did_you_mean(unknown[0], PLAN_KEYS)} {shape}"
        )
    names = document["parameters"]
    if not (isinstance(names, list) and names and all(isinstance(n, str) for n in names)):
        raise DataError(
            f"{file}: parameters must be a list of parameter names (got {_clip(names)}). {shape}"
        )
    bounds = document.get("bounds") or {}
    if not isinstance(bounds, dict):
        raise DataError(
            f"{file}: bounds must map names to [low, high] (got {_clip(bounds)}). {shape}"
        )
    pairs = {}
    for name, pair in bounds.items():
        if not (
            isinstance(pair, list)
            and len(pair) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in pair)
            and math.isfinite(pair[0])
            and math.isfinite(pair[1])
            and pair[0] < pair[1]
        ):
            raise DataError(
                f"{file}: bounds of '{name}' must be [low, high], two numbers with low"
                f" below high (got {_clip(pair)}). {shape}"
            )
        pairs[str(name)] = (float(pair[0]), float(pair[1]))
    starts = document.get("starts")
    if starts is not None and (
        isinstance(starts, bool) or not isinstance(starts, int) or starts < 1
    ):
        raise DataError(
            f"{file}: starts must be a whole number of at least 1 (got {_clip(starts)}). {shape}"
        )
    scenario = _plan_scenario(file, document.get("scenario"))
    return CalibrationPlan(tuple(names), pairs, scenario, starts)


def _plan_scenario(file: Path, value: object) -> Path | None:
    if value is None:
        return None
    scenario = file.parent / value if isinstance(value, str) and value.strip() else None
    if scenario is None or scenario.suffix.lower() not in (".yaml", ".yml"):
        raise DataError(
            f"{file}: scenario must be the path of a scenario .yaml file, relative to this "
            f"file's folder (got {_clip(value)}). Write e.g. scenario: "
            "../../../scenarios/<model>/<scenario>.yaml"
        )
    if not scenario.is_file():
        raise DataError(
            f"{file}: no scenario file at '{scenario}' (got {_clip(value)}). Give its path "
            "relative to this file's folder"
        )
    return scenario


def _clip(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def decimal_year(text: str) -> float | None:
    """An ISO date as a decimal year, or ``None`` if ``text`` is not a date.

    >>> decimal_year("2024-07-02")  # noon of the year's middle day: 183 of 366 days gone
    2024.5
    >>> decimal_year("12.5") is None
    True
    """
    try:
        day = dt.date.fromisoformat(text.strip())
    except ValueError:
        return None
    start = dt.date(day.year, 1, 1)
    length = (dt.date(day.year + 1, 1, 1) - start).days
    return day.year + (day - start).days / length


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _rows(path: Path) -> tuple[list[str], list[list[str]]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = [row for row in csv.reader(handle) if any(cell.strip() for cell in row)]
    except FileNotFoundError:
        raise DataError(
            f"{path}: no data file there (got '{path}'). Give the path of a CSV "
            "file with a time column"
        ) from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(
            f"{path}: not a readable CSV file ({exc}) (got '{path}'). Save the data "
            "as UTF-8 comma-separated values"
        ) from None
    except OSError as exc:
        raise DataError(
            f"{path}: cannot read the file ({exc.strerror}) (got '{path}'). Give the "
            "path of a readable CSV file"
        ) from None
    if not rows:
        raise DataError(
            f"{path}: the file is empty (got no header). Write a header such as "
            "time,infected and one row per observation time"
        )
    return [cell.strip() for cell in rows[0]], rows[1:]


def _time(text: str, where: str, years: bool) -> float:
    value = _number(text)
    if value is None and years:
        value = decimal_year(text)
    if value is None:
        fix = (
            "a number or an ISO date such as 2021-03-15"
            if years
            else "a number in the model's time units (dates need a model whose time is in years)"
        )
        raise DataError(f"{where}: not a time (got {text!r}). Write {fix}")
    return value


def _cell(text: str, where: str) -> float:
    if not text.strip():
        return math.nan
    value = _number(text)
    if value is None:
        raise DataError(
            f"{where}: not a number (got {text!r}). Write a number or leave the cell "
            "empty for a missing value"
        )
    return value


def _check_header(path: Path, header: Sequence[str], variables: Sequence[str]) -> None:
    if "time" not in header:
        first = header[0] if header else ""
        hint = did_you_mean(first, ["time"]) or f" The header is {','.join(header)!r}."
        raise DataError(
            f"{path}: no 'time' column (got {first!r} first).{hint} Name the column "
            "of observation times 'time'"
        )
    seen: set[str] = set()
    for column in header:
        if column in seen:
            raise DataError(
                f"{path}: column '{column}' appears twice (got {','.join(header)!r})."
                " Keep one column per series"
            )
        seen.add(column)
        name, sep, suffix = column.partition(":")
        if column == "time":
            continue
        if sep and suffix != "sd":
            raise DataError(
                f"{path}: column '{column}': unknown suffix ':{suffix}' (got "
                f"{column!r}). Only NAME:sd columns give per-observation errors"
            )
        if name not in variables:
            hint = did_you_mean(name, variables) or " Name a stock, flow, auxiliary or measure."
            raise DataError(
                f"{path}: column '{column}': unknown variable '{name}' in the model.{hint}"
            )
        if sep and name not in header:
            raise DataError(
                f"{path}: column '{column}' gives errors for '{name}', which has no "
                f"column (got {','.join(header)!r}). Add a '{name}' column"
            )
    if len(header) == 1:
        raise DataError(
            f"{path}: no observed series (got only a time column). Add a column per "
            "observed variable, named as in the model"
        )


def read_observations(
    path: str | Path,
    variables: Sequence[str],
    *,
    years: bool = False,
    span: tuple[float, float] | None = None,
) -> Observations:
    """Read an observed-data CSV file, checked against the model.

    Parameters
    ----------
    path
        The CSV file: a ``time`` column, then one column per observed variable (empty cells are
        missing) and optional ``NAME:sd`` columns.
    variables
        The names the model can record (stocks, flows, auxiliaries, measures).
    years
        Whether the model counts time in years, so that ISO dates are accepted.
    span
        The ``(start, stop)`` of the run: observations outside it are errors.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> file = pathlib.Path(tempfile.mkdtemp()) / "observed.csv"
    >>> _ = file.write_text("time,x,y\\n1,2.5,\\n2,3.0,4\\n")
    >>> data = read_observations(file, ["x", "y"])
    >>> [(s.name, s.times.tolist(), s.values.tolist()) for s in data.series]
    [('x', [1.0, 2.0], [2.5, 3.0]), ('y', [2.0], [4.0])]
    """
    file = Path(path)
    header, rows = _rows(file)
    _check_header(file, header, variables)
    if not rows:
        raise DataError(
            f"{file}: no data rows (got only the header {','.join(header)!r}). Add "
            "one row per observation time"
        )
    table = np.full((len(rows), len(header)), math.nan)
    position = header.index("time")
    for i, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise DataError(
                f"{file}: row {i}: {len(row)} cells for {len(header)} columns (got "
                f"{','.join(row)!r}). Give every row one cell per column"
            )
        for j, text in enumerate(row):
            where = f"{file}: row {i}, column '{header[j]}'"
            table[i - 2, j] = _time(text, where, years) if j == position else _cell(text, where)
    times = table[:, position]
    if span is not None:
        _check_span(file, times, span)
    return Observations(str(file), _series(file, header, table, times))


def _check_span(file: Path, times: np.ndarray, span: tuple[float, float]) -> None:
    start, stop = span
    tolerance = 1e-9 * max(1.0, abs(stop - start))
    outside = times[(times < start - tolerance) | (times > stop + tolerance)]
    if outside.size:
        raise DataError(
            f"{file}: time {outside[0]:g} is outside the run, which goes from "
            f"{start:g} to {stop:g} (got {outside.size} such rows). Drop those rows "
            "or run the model over a longer time (the scenario's time block)"
        )


def _series(
    file: Path, header: Sequence[str], table: np.ndarray, times: np.ndarray
) -> tuple[ObservedSeries, ...]:
    series = []
    for j, column in enumerate(header):
        if column == "time" or ":" in column:
            continue
        values = table[:, j]
        sd = table[:, header.index(f"{column}:sd")] if f"{column}:sd" in header else None
        keep = ~np.isnan(values)
        if not keep.any():
            raise DataError(
                f"{file}: column '{column}' has no values (got only empty cells). "
                "Fill in observations or remove the column"
            )
        if sd is not None:
            bad = keep & ~(sd > 0)
            if bad.any():
                row = int(np.argmax(bad)) + 2
                raise DataError(
                    f"{file}: row {row}, column '{column}:sd': the sd of an "
                    f"observation must be a positive number (got {sd[bad][0]:g}). "
                    "Give a positive sd wherever the series has a value"
                )
            sd = sd[keep]
        order = np.argsort(times[keep], kind="stable")
        series.append(
            ObservedSeries(
                column, times[keep][order], values[keep][order], None if sd is None else sd[order]
            )
        )
    return tuple(series)


def counts_years(units: str) -> bool:
    """Whether a model's time ``units`` are years (so observation times may be ISO dates).

    >>> counts_years("Year"), counts_years("day")
    (True, False)
    """
    return units.strip().lower() in _YEAR_UNITS
