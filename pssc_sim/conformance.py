"""Conformance against the SDXorg test-models suite: canonical Vensim and Stella outputs.

:func:`run_conformance` runs every model of a test-models folder that has a canonical output
(``output.csv`` or ``output.tab``) with pssc_sim's own runtime (Euler at the model's time step)
and compares every column of the canonical file:

- the criterion is PySD's, ``|a - b| <= 1e-5 + 1e-5 * |b|`` with ``b`` the canonical value, with
  the per-folder tolerances PySD's own tests use;
- every canonical column must be present in the run (names compared without regard to case,
  spaces, underscores and quotes); the control variables come from the time block;
- times are aligned with a tolerance, since canonical files print about 6 significant digits;
- canonical-file quirks are handled: Vensim ``.tab`` prints a constant only in its first row,
  some files are Latin-1, some end lines with ``\\r``;
- known-bad canonical data is skipped with its reason (:data:`KNOWN_BAD`), and ``Roessler_Chaos``
  is compared only to t <= 30 (it is chaotic and the canonical run is single precision).

``pssc conformance`` is the command line (:func:`run_conformance` and :func:`summary`): one line
per file and ``N passed, M failed``.

A published model with its own Vensim or Stella output is compared the same way, series by
series (:func:`compare_model`): ``pssc conformance --pair MODEL OUTPUT [OUTPUT ...]`` counts the
series within the suite's tolerance and within 1e-3 (``|a - b| <= 1e-3 + 1e-3 * |b|``) and lists
the worst. Outputs may be the suite's tables (a time column, one column per variable) or
Vensim's exported text, one row per variable (``"name" : run`` then its values).
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pssc_sim.errors import ModelError, PsscSimError

#: PySD's default tolerances (``assert_frames_close``).
RTOL = 1e-5
ATOL = 1e-5
#: Looser tolerances PySD's own tests use for some folders, by folder.
FOLDER_RTOL: Mapping[str, float] = {"tests/allocate_available": 2e-2}
#: Compare only up to this time, by folder.
FOLDER_STOP: Mapping[str, float] = {"samples/Roessler_Chaos": 30.0}
#: Canonical data known to be wrong for a model file, with the reason.
_OTHER_MODEL = "the canonical output belongs to the other model of the folder"
_OTHER_STRUCTURE = "the canonical output does not match the structure of the .xmile variant"
KNOWN_BAD: Mapping[str, str] = {
    "tests/smooth_and_stock/test_smooth_and_stock.xmile": _OTHER_STRUCTURE,
    "tests/get_time_value/test_get_time_value.mdl": _OTHER_MODEL,
    "tests/data_from_other_model/model_to_generate_data.mdl": _OTHER_MODEL,
}
#: Formats and the suffixes of their files.
FORMATS: Mapping[str, tuple[str, ...]] = {
    "mdl": (".mdl",),
    "xmile": (".xmile", ".xml"),
    "stmx": (".stmx",),
}
_CONTROL = {
    "initial_time": "start",
    "final_time": "stop",
    "time_step": "dt",
    "saveper": "save_every",
}


@dataclass(frozen=True, slots=True)
class FileResult:
    """The outcome for one model file.

    ``status`` is ``pass``, ``fail`` (values differ, or a column or time is missing),
    ``unsupported`` (the model uses a construct pssc_sim does not import), ``error`` (it could
    not be read or run) or ``skipped`` (known-bad canonical data).
    """

    file: str
    tier: str
    format: str
    status: str
    detail: str = ""

    @property
    def passed(self) -> bool:
        """Whether the file passed."""
        return self.status == "pass"

    def line(self) -> str:
        """One line for the report."""
        text = f"{self.status.upper():<11} {self.tier} {self.format:<5} {self.file}"
        return f"{text}: {self.detail}" if self.detail else text


@dataclass(frozen=True, slots=True)
class _Case:
    folder: str
    file: Path
    output: Path
    tier: str
    format: str


def read_canonical(path: Path) -> pd.DataFrame:
    """A canonical output as a frame indexed by time, one column per variable.

    Handles Latin-1 files, ``\\r`` line ends, tab- or comma-separated values, and constants that
    Vensim prints only in the first row (carried forward; other blanks stay NaN).
    """
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    first = text.split("\n", 1)[0]
    separator = "\t" if path.suffix.lower() in (".tab", ".dat") or "\t" in first else ","
    rows = [
        r for r in csv.reader(io.StringIO(text), delimiter=separator) if any(c.strip() for c in r)
    ]
    if path.suffix.lower() == ".dat":
        rows = _dat_as_columns(rows)
    elif (
        len(rows) > 1
        and rows[0][0].strip().lower().startswith("time")
        and not _is_number(rows[1][0])
    ):
        rows = _variables_as_columns(rows)
    header = [h.strip() for h in rows[0]]
    frame = pd.DataFrame([r + [""] * (len(header) - len(r)) for r in rows[1:]], columns=header)
    frame = frame.apply(lambda c: pd.to_numeric(c.str.strip(), errors="coerce"))
    # A constant is printed only in the first row; a blank inside a printed series (Vensim's
    # :NA:) stays blank and is not compared.
    constant = frame.iloc[1:].isna().all() & frame.iloc[:1].notna().all()
    frame.loc[:, constant] = frame.loc[:, constant].ffill()
    indexed: pd.DataFrame = frame.set_index(header[0])
    indexed.index = indexed.index.astype(float)
    return indexed


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _variables_as_columns(rows: list[list[str]]) -> list[list[str]]:
    """Vensim's exported text (a row of times, then a row per variable named ``"name" : run``)
    turned into a table with a time column."""
    names = ["time", *(_series_name(r[0]) for r in rows[1:])]
    width = len(rows[0])
    padded = [r + [""] * (width - len(r)) for r in rows]
    return [names, *([row[j] for row in padded] for j in range(1, width))]


def _dat_as_columns(rows: list[list[str]]) -> list[list[str]]:
    """Vensim's ``.dat`` text (a variable's name on a line of its own, then a ``time value``
    line per saved time) turned into a table with a time column; a constant, written at its
    first time only, is blank at the others."""
    series: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for row in rows:
        cells = [c.strip() for c in row if c.strip()]
        if len(cells) == 2 and _is_number(cells[0]) and current is not None:
            current[cells[0]] = cells[1]
        else:
            current = series.setdefault(" ".join(cells), {})
    times = sorted({t for values in series.values() for t in values}, key=float)
    names = list(series)
    return [["time", *names], *([t, *(series[n].get(t, "") for n in names)] for t in times)]


def _series_name(label: str) -> str:
    """The variable of an exported row: ``"Deaths Mp/y" : E4A-220501 GL`` -> ``Deaths Mp/y``."""
    name = label.rsplit(" : ", 1)[0] if " : " in label else label
    name = name.strip()
    if len(name) > 1 and name[0] == name[-1] == '"':
        name = name[1:-1]
    return name


def find_cases(root: Path, tier: str | None = None, fmt: str | None = None) -> list[_Case]:
    """Model files of the suite under ``root`` that have a canonical output."""
    tiers = _manifest_tiers(root)
    cases = []
    for output in sorted([*root.rglob("output.csv"), *root.rglob("output.tab")]):
        folder = output.parent.relative_to(root).as_posix()
        folder_tier = tiers.get(folder, "?")
        if tier is not None and folder_tier != tier:
            continue
        for file in sorted(output.parent.iterdir()):
            kind = _format_of(file)
            if kind is None or (fmt is not None and kind != fmt):
                continue
            cases.append(_Case(folder, file, output, folder_tier, kind))
    return cases


def _format_of(file: Path) -> str | None:
    for name, suffixes in FORMATS.items():
        if file.suffix.lower() in suffixes:
            return name
    return None


def _manifest_tiers(root: Path) -> dict[str, str]:
    manifest = root / "MANIFEST.csv"
    if not manifest.is_file():
        return {}
    with manifest.open(encoding="utf-8", newline="") as handle:
        return {row["folder"]: row["tier"] for row in csv.DictReader(handle)}


def run_conformance(
    root: str | Path, tier: str | None = None, fmt: str | None = None
) -> Iterator[FileResult]:
    """Run and compare every model file of the suite at ``root`` (one result per file).

    Parameters
    ----------
    root
        The test-models folder.
    tier
        Only folders of this tier (``A``, ``B`` or ``C``, from ``MANIFEST.csv``).
    fmt
        Only files of this format: ``mdl``, ``xmile`` or ``stmx``.
    """
    base = Path(root)
    for case in find_cases(base, tier, fmt):
        yield check_case(case, base)


def check_case(case: _Case, root: Path) -> FileResult:
    """Run one model file and compare it with its canonical output."""
    name = case.file.relative_to(root).as_posix()

    def result(status: str, detail: str = "") -> FileResult:
        return FileResult(name, case.tier, case.format, status, detail)

    if name in KNOWN_BAD:
        return result("skipped", f"known-bad canonical data: {KNOWN_BAD[name]}")
    if b"???" in case.file.read_bytes():
        return result("skipped", "known-bad model file: it holds literal '???' equations")
    try:
        columns, times, drawing = _simulate(case.file)
        expected = read_canonical(case.output)
    except ModelError as exc:
        message = _short(str(exc))
        return result("unsupported" if "unsupported construct" in message else "error", message)
    except PsscSimError as exc:
        return result("error", _short(str(exc)))
    rtol = FOLDER_RTOL.get(case.folder, RTOL)
    stop = FOLDER_STOP.get(case.folder, math.inf)
    problem = compare(columns, times, expected, rtol=rtol, atol=ATOL, stop=stop)
    stella = case.output.with_name("output_stella.csv")
    # An XMILE file carries Stella's semantics: Stella's own output for it also counts.
    if (
        problem
        and case.format != "mdl"
        and stella.is_file()
        and not compare(columns, times, read_canonical(stella), rtol=rtol, atol=ATOL, stop=stop)
    ):
        return result("pass", "matches Stella's output (output_stella.csv)")
    if problem and drawing:
        # the run cannot be Vensim's: its draws come from another generator
        problem = (
            f"{case.file}: {', '.join(drawing)}: unsupported construct 'Vensim's own random "
            f"numbers' (pssc_sim draws from its own generator; Vensim's is not published). "
            f"{problem}"
        )
    return result("fail", problem) if problem else result("pass")


def _short(message: str) -> str:
    return " ".join(message.split())[:400]


def _simulate(
    file: Path, data_tags: Mapping[str, str | os.PathLike[str]] | None = None
) -> tuple[dict[str, np.ndarray], np.ndarray, list[str]]:
    """Every value of a run by original-name key: outputs, parameters and control variables;
    and the original names of the variables that draw random numbers."""
    from pssc_sim.integrate.simulate import simulate
    from pssc_sim.ir.functions import UniformDraw
    from pssc_sim.parse.translate import translate
    from pssc_sim.parse.translate.writer import read_translation

    translation = translate(file, data_tags)
    model = read_translation(translation)
    results = simulate(model)
    times = np.asarray(results.times, dtype=float)
    by_ident: dict[str, np.ndarray] = {}
    for i, ident in enumerate(results.names):
        by_ident[ident] = results.values[:, i, 0]
    for row, value in zip(model.parameter_names, model.parameter_values(), strict=True):
        by_ident.setdefault(row, np.full(times.shape, value))
    columns = {
        key: by_ident[ident] for key, ident in translation.identifiers.items() if ident in by_ident
    }
    for row, values in by_ident.items():  # elements of arrayed variables: name[e1,e2]
        base, bracket, rest = row.partition("[")
        if bracket and base in translation.original_names:
            columns[f"{translation.original_names[base]}[{rest}"] = values
    time = translation.document["time"]
    for key, field in _CONTROL.items():
        if key not in columns:  # else a variable (FINAL TIME given by an equation over TIME)
            columns[key] = np.full(times.shape, float(time[field]))
    columns.setdefault("time", times)
    columns = {_column_key(k): v for k, v in columns.items()}
    equations = [
        *((a.origin or a.name, a.equation) for a in model.auxiliaries),
        *((f.origin or f.name, f.rate) for f in model.flows),
    ]
    drawing = sorted(
        {translation.original_names.get(n, n) for n, e in equations if e.atoms(UniformDraw)}
    )
    return columns, times, drawing


def _column_key(name: str) -> str:
    """A column name compared without case, spacing, underscores, quotes, or spaces after the
    commas of subscripts."""
    from pssc_sim.parse.translate.names import name_key

    base, bracket, rest = name.partition("[")
    if not bracket:
        return name_key(name)
    elements = ",".join(name_key(e) for e in rest.rstrip("]").split(","))
    return f"{name_key(base)}[{elements}]"


def compare(
    columns: Mapping[str, np.ndarray],
    times: np.ndarray,
    expected: pd.DataFrame,
    *,
    rtol: float = RTOL,
    atol: float = ATOL,
    stop: float = math.inf,
) -> str:
    """Compare a run with a canonical frame; an empty string when every value is close,
    otherwise what is wrong (a missing column or time, or the worst value)."""

    keep = expected.index <= stop + 1e-9
    expected = expected[keep]
    rows = align_times(times, np.asarray(expected.index, dtype=float))
    missing_time = [t for t, r in zip(expected.index, rows, strict=True) if r < 0]
    if missing_time:
        return f"no saved row at time {missing_time[0]:g} (the run saves {times[:3]}...)"
    worst = (0.0, "", 0.0, 0.0, 0.0)
    for column in expected.columns:
        key = _column_key(str(column))
        if key not in columns:
            return f"column {column!r} is not in the run"
        got = columns[key][rows]
        want = expected[column].to_numpy(dtype=float)
        error = scaled_error(got, want, rtol=rtol, atol=atol)
        i = int(np.argmax(error))
        if error[i] > worst[0]:
            worst = (
                float(error[i]),
                str(column),
                float(expected.index[i]),
                float(got[i]),
                float(want[i]),
            )
    if worst[0] <= 1.0:
        return ""
    _, column, t, got_value, want_value = worst
    return f"worst column {column!r} at time {t:g}: got {got_value:.7g}, expected {want_value:.7g}"


def scaled_error(
    got: np.ndarray, want: np.ndarray, *, rtol: float = RTOL, atol: float = ATOL
) -> np.ndarray:
    """``|got - want| / (atol + rtol * |want|)``: at most 1 where the values are close. A blank
    expected value (NaN) is not compared; a NaN where a value is expected is infinitely far."""
    with np.errstate(all="ignore"):
        error = np.abs(got - want) / (atol + rtol * np.abs(want))
    error = np.where(np.isnan(want), 0.0, error)
    return np.where(np.isnan(got) & ~np.isnan(want), np.inf, error)


#: The looser tolerance published models are also counted at (relative and absolute).
LOOSE = 1e-3


@dataclass(frozen=True, slots=True)
class SeriesResult:
    """How one series of a model's own output compares with the run.

    ``error`` is the worst :func:`scaled_error` at the suite's tolerance (at most 1 is a match),
    ``loose`` the same at :data:`LOOSE`; ``time``, ``got`` and ``expected`` are where the worst
    error is. A series the run does not have has infinite errors.
    """

    name: str
    file: str
    error: float
    loose: float
    time: float = math.nan
    got: float = math.nan
    expected: float = math.nan

    def line(self) -> str:
        """One row of the table of worst series."""
        if math.isinf(self.error) and math.isnan(self.got):
            return f"{'missing':>10} {'':>10} {'':>10}  {self.name} ({self.file})"
        return (
            f"{self.error:10.3g} {self.loose:10.3g} {self.time:10g}  {self.name} "
            f"({self.file}: got {self.got:.7g}, expected {self.expected:.7g})"
        )


@dataclass(frozen=True, slots=True)
class ModelComparison:
    """A model run against its own output files, series by series (each series once)."""

    model: str
    series: tuple[SeriesResult, ...]
    seconds: float

    def count(self, *, loose: bool = False) -> int:
        """Series within the suite's tolerance (or within :data:`LOOSE`)."""
        return sum((r.loose if loose else r.error) <= 1.0 for r in self.series)

    @property
    def passed(self) -> bool:
        """Whether every series is within the suite's tolerance."""
        return self.count() == len(self.series)

    def worst(self, n: int) -> list[SeriesResult]:
        """The ``n`` series farthest from their output, worst first."""
        return sorted(self.series, key=lambda r: (-r.error, r.name))[:n]

    def lines(self, worst: int = 5) -> list[str]:
        """A summary line, then a table of the ``worst`` series that miss the suite's
        tolerance."""
        total = len(self.series)
        lines = [
            f"{'PASS' if self.passed else 'FAIL':<11} {self.model}: {self.count()}/{total} "
            f"series within {ATOL:g} + {RTOL:g}|b| ({100 * self.count() / total:.1f}%), "
            f"{self.count(loose=True)}/{total} within {LOOSE:g} + {LOOSE:g}|b|; "
            f"run in {self.seconds:.1f} s"
        ]
        shown = [r for r in self.worst(worst) if r.error > 1.0]
        if shown:
            lines.append(f"{'error':>10} {'at 1e-3':>10} {'time':>10}  series")
            lines += [r.line() for r in shown]
        return lines


def compare_model(
    model: str | Path,
    outputs: Sequence[str | Path],
    data_tags: Mapping[str, str | os.PathLike[str]] | None = None,
) -> ModelComparison:
    """Run ``model`` (Euler at its own time step) and compare every series of its ``outputs``.

    Parameters
    ----------
    model
        A Vensim ``.mdl`` or XMILE file.
    outputs
        Its own output files: tables with a time column (``.tab``, ``.csv``) or Vensim's
        exported text with one row per variable. A series found in several files is compared
        once, from the first.
    data_tags
        The data files named by tags in the model (``'?data'``), which Vensim takes from the
        settings of a run: ``{"data": "data.xlsx"}``.
    """
    import time as clock

    started = clock.perf_counter()
    columns, times, _ = _simulate(Path(model), data_tags)
    seconds = clock.perf_counter() - started
    results: dict[str, SeriesResult] = {}
    for output in outputs:
        path = Path(output)
        if not path.is_file():
            raise ModelError(
                f"{path}: no output file there (got {str(path)!r}). Give the "
                "model's own output (Vensim's exported .tab or text)"
            )
        expected = read_canonical(path)
        rows = align_times(times, np.asarray(expected.index, dtype=float))
        if (rows < 0).any():
            missing = float(expected.index[int(np.argmax(rows < 0))])
            raise ModelError(
                f"{path}: the run has no saved row at time {missing:g} (got "
                f"rows at {times[:3]}...). Compare with an output saved at the "
                "model's own time step"
            )
        for column in expected.columns:
            key = _column_key(str(column))
            if key not in results and not is_internal(str(column)):
                results[key] = _series(str(column), path.name, columns.get(key), rows, expected)
    return ModelComparison(str(model), tuple(results.values()), seconds)


def is_internal(name: str) -> bool:
    """Whether ``name`` is a variable Vensim adds inside a function and writes to its output,
    ``#NPV vs initial time>NPV>df#``: no variable of the model, so not compared.

    >>> is_internal("#NPV vs initial time>NPV#"), is_internal("NPV vs initial time")
    (True, False)
    """
    text = name.strip()
    return len(text) > 1 and text[0] == text[-1] == "#"


def _series(
    name: str, file: str, run: np.ndarray | None, rows: np.ndarray, expected: pd.DataFrame
) -> SeriesResult:
    if run is None:
        return SeriesResult(name, file, math.inf, math.inf)
    got, want = run[rows], expected[name].to_numpy(dtype=float)
    error = scaled_error(got, want)
    i = int(np.argmax(error))
    return SeriesResult(
        name,
        file,
        float(error[i]),
        float(np.max(scaled_error(got, want, rtol=LOOSE, atol=LOOSE))),
        float(expected.index[i]),
        float(got[i]),
        float(want[i]),
    )


def align_times(times: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Row of ``times`` matching each of ``wanted`` (within 1e-5 relative), or -1."""
    index = np.clip(np.searchsorted(times, wanted), 1, max(len(times) - 1, 1))
    left, right = times[index - 1], times[np.minimum(index, len(times) - 1)]
    nearest = np.where(
        np.abs(wanted - left) <= np.abs(wanted - right),
        index - 1,
        np.minimum(index, len(times) - 1),
    )
    tolerance = 1e-5 * np.maximum(1.0, np.abs(wanted))
    return np.where(np.abs(times[nearest] - wanted) <= tolerance, nearest, -1)


def summary(results: Sequence[FileResult]) -> str:
    """The closing line: ``N passed, M failed`` (skipped files are counted apart)."""
    passed = sum(r.passed for r in results)
    skipped = sum(r.status == "skipped" for r in results)
    failed = len(results) - passed - skipped
    text = f"{passed} passed, {failed} failed"
    return f"{text}, {skipped} skipped" if skipped else text
