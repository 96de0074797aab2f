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
"""

from __future__ import annotations

import csv
import io
import math
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
KNOWN_BAD: Mapping[str, str] = {
    "tests/smooth_and_stock/test_smooth_and_stock.xmile":
        "the canonical output does not match the structure of the .xmile variant",
    "tests/get_time_value/test_get_time_value.mdl":
        "the canonical output belongs to the other model of the folder",
    "tests/data_from_other_model/model_to_generate_data.mdl":
        "the canonical output belongs to the other model of the folder",
}
#: Formats and the suffixes of their files.
FORMATS: Mapping[str, tuple[str, ...]] = {"mdl": (".mdl",), "xmile": (".xmile", ".xml"),
                                          "stmx": (".stmx",)}
_CONTROL = {"initial_time": "start", "final_time": "stop", "time_step": "dt",
            "saveper": "save_every"}


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
    separator = "\t" if path.suffix.lower() == ".tab" else ","
    rows = [r for r in csv.reader(io.StringIO(text), delimiter=separator) if any(c.strip()
                                                                                  for c in r)]
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


def run_conformance(root: str | Path, tier: str | None = None,
                    fmt: str | None = None) -> Iterator[FileResult]:
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
        columns, times = _simulate(case.file)
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
    if (problem and case.format != "mdl" and stella.is_file()
            and not compare(columns, times, read_canonical(stella), rtol=rtol, atol=ATOL,
                            stop=stop)):
        return result("pass", "matches Stella's output (output_stella.csv)")
    return result("fail", problem) if problem else result("pass")


def _short(message: str) -> str:
    return " ".join(message.split())[:400]


def _simulate(file: Path) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Every value of a run by original-name key: outputs, parameters and control variables."""
    from pssc_sim.integrate.simulate import simulate
    from pssc_sim.parse.translate import translate
    from pssc_sim.parse.translate.writer import read_translation

    translation = translate(file)
    model = read_translation(translation)
    results = simulate(model)
    times = np.asarray(results.times, dtype=float)
    by_ident: dict[str, np.ndarray] = {}
    for i, ident in enumerate(results.names):
        by_ident[ident] = results.values[:, i, 0]
    for row, value in zip(model.parameter_names, model.parameter_values(), strict=True):
        by_ident.setdefault(row, np.full(times.shape, value))
    columns = {key: by_ident[ident] for key, ident in translation.identifiers.items()
               if ident in by_ident}
    for row, values in by_ident.items():  # elements of arrayed variables: name[e1,e2]
        base, bracket, rest = row.partition("[")
        if bracket and base in translation.original_names:
            columns[f"{translation.original_names[base]}[{rest}"] = values
    time = translation.document["time"]
    for key, field in _CONTROL.items():
        columns[key] = np.full(times.shape, float(time[field]))
    columns = {_column_key(k): v for k, v in columns.items()}
    return columns, times


def _column_key(name: str) -> str:
    """A column name compared without case, spacing, underscores, quotes, or spaces after the
    commas of subscripts."""
    from pssc_sim.parse.translate.names import name_key

    base, bracket, rest = name.partition("[")
    if not bracket:
        return name_key(name)
    elements = ",".join(name_key(e) for e in rest.rstrip("]").split(","))
    return f"{name_key(base)}[{elements}]"


def compare(columns: Mapping[str, np.ndarray], times: np.ndarray, expected: pd.DataFrame, *,
            rtol: float = RTOL, atol: float = ATOL, stop: float = math.inf) -> str:
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
        with np.errstate(all="ignore"):
            error = np.abs(got - want) / (atol + rtol * np.abs(want))
        error = np.where(np.isnan(want), 0.0, error)
        error = np.where(np.isnan(got) & ~np.isnan(want), np.inf, error)
        i = int(np.argmax(error))
        if error[i] > worst[0]:
            worst = (float(error[i]), str(column), float(expected.index[i]), float(got[i]),
                     float(want[i]))
    if worst[0] <= 1.0:
        return ""
    _, column, t, got_value, want_value = worst
    return (f"worst column {column!r} at time {t:g}: got {got_value:.7g}, expected "
            f"{want_value:.7g}")


def align_times(times: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Row of ``times`` matching each of ``wanted`` (within 1e-5 relative), or -1."""
    index = np.clip(np.searchsorted(times, wanted), 1, max(len(times) - 1, 1))
    left, right = times[index - 1], times[np.minimum(index, len(times) - 1)]
    nearest = np.where(np.abs(wanted - left) <= np.abs(wanted - right), index - 1,
                       np.minimum(index, len(times) - 1))
    tolerance = 1e-5 * np.maximum(1.0, np.abs(wanted))
    return np.where(np.abs(times[nearest] - wanted) <= tolerance, nearest, -1)


def summary(results: Sequence[FileResult]) -> str:
    """The closing line: ``N passed, M failed`` (skipped files are counted apart)."""
    passed = sum(r.passed for r in results)
    skipped = sum(r.status == "skipped" for r in results)
    failed = len(results) - passed - skipped
    text = f"{passed} passed, {failed} failed"
    return f"{text}, {skipped} skipped" if skipped else text
