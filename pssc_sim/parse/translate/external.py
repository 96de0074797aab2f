"""External data of Vensim models: GET DIRECT / GET XLS DATA, CONSTANTS and LOOKUPS.

The functions read a CSV file (``GET DIRECT ...('file.csv', ',', ...)``: the second argument is
the separator) or a sheet of an XLSX workbook (``GET XLS ...('file.xlsx', 'Sheet1', ...)``, read
with openpyxl, or of a legacy ``.xls`` one, read with xlrd) that lies in the model's folder or
below it. Cells are named as in a spreadsheet: ``B2`` is the second column of the second row.
GET DIRECT SUBSCRIPT reads the elements of a range from the cells of a row, a column or a block.

- DATA and LOOKUPS take a row or column of x values (time for DATA): a column letter (``'A'``)
  means the x values run down that column and the series down the columns from the first cell
  (``'B2'``) on, one column per element; a row number (``'1'``) means they run across that row
  and each series across a row. Empty or non-numeric cells are skipped, pairwise.
- In a workbook, the row or column of x values and the first cell may also be named cell ranges
  of the workbook (``'time_index'``, ``'revenue_A'``).
- CONSTANTS read the first cell for a scalar; one subscript reads across the row from it, two
  read rows (first subscript) by columns (second); a ``*`` after the cell (``'B2*'``) swaps rows
  and columns.

Data between points are interpolated (Vensim's default, ``:INTERPOLATE:``), or held from the
point before (``:HOLD BACKWARD:``) or taken from the point after (``:LOOK FORWARD:``); beyond the
first and last points the end values hold. ``:RAW:`` data, which Vensim leaves :NA: between its
points, hold the point before as well: a run sees the same values wherever the data has a point
at every saved time, the use ``:RAW:`` is made for. A stepped series is written as a lookup
with a jump between adjacent floating-point numbers, which linear interpolation reproduces
exactly.
"""

from __future__ import annotations

import csv
import itertools
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pssc_sim.errors import ModelError, ParameterError

#: The largest data file read, in bytes.
MAX_FILE_BYTES = 64 * 2**20
_CELL = re.compile(r"([A-Za-z]{1,3})([0-9]{1,7})(\*?)")
_COLUMN = re.compile(r"[A-Za-z]{1,3}")
_ROW = re.compile(r"[0-9]{1,7}")

Grid = list[list[Any]]


def column_index(letters: str) -> int:
    """The position (from 0) of a spreadsheet column.

    >>> column_index("A"), column_index("Z"), column_index("AB")
    (0, 25, 27)
    """
    index = 0
    for letter in letters.upper():
        index = index * 26 + ord(letter) - ord("A") + 1
    return index - 1


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def stepped(xs: Sequence[float], ys: Sequence[float], mode: str) -> tuple[list[float], list[float]]:
    """Points whose linear interpolation (flat beyond the ends) is the series in ``mode``:
    ``interpolate``, ``hold_backward`` (the y of the point at or before x) or ``look_forward``
    (the y of the point at or after x).

    >>> stepped([0, 1, 2], [5, 6, 7], "hold_backward")
    ([0.0, 0.9999999999999999, 1.0, 1.9999999999999998, 2.0], [5.0, 5.0, 6.0, 6.0, 7.0])
    >>> stepped([0, 1], [5, 6], "look_forward")
    ([0.0, 5e-324, 1.0], [5.0, 6.0, 6.0])
    """
    xs, ys = [float(x) for x in xs], [float(y) for y in ys]
    if mode == "interpolate" or len(xs) < 2:
        return xs, ys
    px, py = [xs[0]], [ys[0]]
    for x, y, previous_y in zip(xs[1:], ys[1:], ys, strict=False):
        if mode == "hold_backward":
            px += [math.nextafter(x, -math.inf), x]
            py += [previous_y, y]
        else:
            px += [math.nextafter(px[-1], math.inf), x]
            py += [y, y]
    return px, py


#: A named cell range of a workbook: its sheet, then first row, first column, last row and last
#: column (from 0).
Area = tuple[str, int, int, int, int]


@dataclass(frozen=True, slots=True)
class Book:
    """The sheets of one data file (a CSV file is one sheet, named by its separator) and the
    named cell ranges of a workbook, by lower-case name."""

    sheets: dict[str, Grid]
    names: dict[str, Area]


@dataclass(slots=True)
class DataFiles:
    """The data files of one model, each read once."""

    folder: Path
    #: the files of data named by a tag (``'?data'``), by lower-case tag (see :func:`data_tags`)
    tags: Mapping[str, Path] = field(default_factory=dict)
    books: dict[tuple[str, str], Book] = field(default_factory=dict)

    def book(self, file: str, tab: str, where: str) -> Book:
        path = self._path(file, where)
        key = (str(path), tab if path.suffix.lower() not in (".xlsx", ".xlsm") else "")
        if key not in self.books:
            self.books[key] = self._read(path, tab, where)
        return self.books[key]

    def grid(self, file: str, tab: str, where: str) -> Grid:
        book = self.book(file, tab, where)
        if len(book.sheets) == 1 and not book.names:
            return next(iter(book.sheets.values()))
        if tab not in book.sheets:
            raise ModelError(
                f"{where}: the workbook has no sheet '{tab}' (got "
                f"{list(book.sheets)}). Name one of its sheets"
            )
        return book.sheets[tab]

    def area(self, file: str, tab: str, name: str, where: str) -> tuple[Grid, Area]:
        """The named cell range ``name`` of a workbook, with the sheet it lies on."""
        book = self.book(file, tab, where)
        found = book.names.get(name.lower())
        if found is None:
            known = ", ".join(sorted(book.names)[:8]) or "none"
            raise ModelError(
                f"{where}: unsupported construct 'a named cell range' that the data "
                f"file does not define (got '{name}'; it defines: {known}). Name "
                "the first cell, e.g. 'B2', or a range defined in the workbook"
            )
        return book.sheets[found[0]], found

    def _path(self, file: str, where: str) -> Path:
        if file.startswith("?"):
            return self._tagged(file, where)
        name = Path(file.replace("\\", "/"))
        root = self.folder.resolve()
        path = (root / name).resolve()
        if name.is_absolute() or root not in (path, *path.parents):
            raise ModelError(
                f"{where}: the data file must lie in the model's folder (got "
                f"'{file}'). Copy it beside the model and name it relative to it"
            )
        if not path.is_file() and path.suffix.lower() == ".xls":
            path = path.with_suffix(".xlsx")  # Vensim models often name a saved .xlsx '.xls'
        if not path.is_file():
            raise ModelError(
                f"{where}: the data file does not exist (got '{file}'). Put it beside the model"
            )
        return _within_size(path, where)

    def _tagged(self, file: str, where: str) -> Path:
        """The file mapped to the tag ``file`` (``'?data'``): Vensim takes it from the
        settings of a run, pssc_sim from the mapping given with the model."""
        tag = file[1:]
        path = self.tags.get(tag.lower())
        if path is None:
            given = ", ".join(sorted(self.tags)) or "none"
            raise ModelError(
                f"{where}: the data file is named by the tag '{file}', which Vensim takes "
                f"from the settings of a run (got tags for: {given}). Map the tag to a file: "
                f"--data-tag {tag}=FILE, or data_tags={{'{tag}': FILE}}"
            )
        if not path.is_file():
            raise ModelError(
                f"{where}: the data file of the tag '{file}' does not exist (got "
                f"'{path}'). Map the tag to an existing file"
            )
        return _within_size(path, where)

    def _read(self, path: Path, tab: str, where: str) -> Book:
        suffix = path.suffix.lower()
        if suffix in (".csv", ".txt", ".tab"):
            delimiter = "\t" if tab in ("\\t", "\t", "") or suffix == ".tab" else tab
            if len(delimiter) != 1:
                raise ModelError(
                    f"{where}: the separator of a text data file must be one "
                    f"character (got '{tab}'). Use ',' or '\\t'"
                )
            with path.open(newline="", encoding="utf-8-sig") as handle:
                grid = [
                    [cell.strip() for cell in row]
                    for row in csv.reader(handle, delimiter=delimiter)
                ]
            return Book({tab: grid}, {})
        if suffix in (".xlsx", ".xlsm"):
            return _read_workbook(path, where)
        if suffix == ".xls":
            return _read_legacy_workbook(path, where)
        raise ModelError(
            f"{where}: unsupported construct 'data file of type {suffix}' (got "
            f"'{path.name}'). Save the data as .csv, .xlsx or .xls"
        )

    # -- reading values ------------------------------------------------------------------

    def series(self, ast: Any, count: int, where: str) -> list[tuple[list[float], list[float]]]:
        """``count`` series (x values, y values) of a GET ... DATA or GET ... LOOKUPS call."""
        axis = str(getattr(ast, "time_row_or_col", getattr(ast, "x_row_or_col", ""))).strip()
        if not (_COLUMN.fullmatch(axis) or _ROW.fullmatch(axis)):
            return self._named_series(ast, axis, count, where)
        grid = self.grid(ast.file, ast.tab, where)
        row, column, _ = _cell(str(ast.cell), where)
        if _COLUMN.fullmatch(axis):
            x_cells = [_at(grid, r, column_index(axis)) for r in range(row, len(grid))]
            lines = [
                [_at(grid, r, column + k) for r in range(row, len(grid))] for k in range(count)
            ]
        elif _ROW.fullmatch(axis):
            width = max((len(r) for r in grid), default=0)
            x_cells = [_at(grid, int(axis) - 1, c) for c in range(column, width)]
            lines = [[_at(grid, row + k, c) for c in range(column, width)] for k in range(count)]
        else:
            raise ModelError(
                f"{where}: unsupported construct 'a named cell range' (got "
                f"'{axis}'). Give a column letter or a row number"
            )
        return self._pairs(ast, x_cells, lines, where)

    def _named_series(
        self, ast: Any, axis: str, count: int, where: str
    ) -> list[tuple[list[float], list[float]]]:
        """Series whose x values are a named range (a row or a column) and whose values start
        at a cell or fill a named range: one row (or column) per element."""
        grid, (_, r0, c0, r1, c1) = self.area(ast.file, ast.tab, axis, where)
        across = r0 == r1
        x_cells = (
            [_at(grid, r0, c) for c in range(c0, c1 + 1)]
            if across
            else [_at(grid, r, c0) for r in range(r0, r1 + 1)]
        )
        cell = str(ast.cell).strip()
        if _CELL.fullmatch(cell):
            data, (row, column, _) = grid, _cell(cell, where)
        else:
            data, (_, row, column, _, _) = self.area(ast.file, ast.tab, cell, where)
        lines = [
            [_at(data, row + k, column + j) for j in range(len(x_cells))]
            if across
            else [_at(data, row + j, column + k) for j in range(len(x_cells))]
            for k in range(count)
        ]
        return self._pairs(ast, x_cells, lines, where)

    def _pairs(
        self, ast: Any, x_cells: list[Any], lines: list[list[Any]], where: str
    ) -> list[tuple[list[float], list[float]]]:
        result = []
        for k, line in enumerate(lines):
            pairs = [
                (x, y)
                for x, y in zip(map(_number, x_cells), map(_number, line), strict=True)
                if x is not None and y is not None
            ]
            if not pairs:
                raise ModelError(
                    f"{where}: no numbers in the data file for element {k + 1} "
                    f"(got '{ast.file}' from cell {ast.cell}). Check the cell "
                    "and the row or column of x values"
                )
            pairs.sort()
            xs = [x for x, _ in pairs]
            if any(b <= a for a, b in itertools.pairwise(xs)):
                raise ModelError(
                    f"{where}: the x values in the data file repeat (got "
                    f"'{ast.file}'). Give each x value once"
                )
            result.append((xs, [y for _, y in pairs]))
        return result

    def subscript_elements(self, spec: Any, where: str) -> list[str]:
        """The elements of a GET DIRECT SUBSCRIPT range: the non-empty cells from the first
        cell to the last (a cell, a row number or a column letter; empty: to the end of the
        sheet), row by row, each written after the prefix."""
        grid = self.grid(str(spec["file"]), str(spec["tab"]), where)
        row, column, _ = _cell(str(spec["firstcell"]), where)
        last = str(spec.get("lastcell") or "").strip()
        last_row, last_column = len(grid) - 1, max((len(r) for r in grid), default=0) - 1
        if _CELL.fullmatch(last):
            last_row, last_column, _ = _cell(last, where)
        elif _ROW.fullmatch(last):
            last_row = int(last) - 1
        elif _COLUMN.fullmatch(last):
            last_column = column_index(last)
        # a range past the file's cells reads only the cells the file has
        last_row = min(last_row, len(grid) - 1)
        last_column = min(last_column, max((len(r) for r in grid), default=0) - 1)
        prefix = str(spec.get("prefix") or "")
        elements = [
            prefix + _element_text(value)
            for r in range(row, last_row + 1)
            for c in range(column, last_column + 1)
            if (value := _at(grid, r, c)) is not None and str(value).strip()
        ]
        if not elements:
            raise ModelError(
                f"{where}: GET DIRECT SUBSCRIPT found no elements in the cells "
                f"{spec['firstcell']} to {last or 'the end'} (got none in '{spec['file']}'). "
                "Check the cells"
            )
        return elements

    def constants(self, ast: Any, shape: Sequence[int], where: str) -> Any:
        """The values of a GET ... CONSTANTS call: a number, or nested lists of ``shape``."""
        text = str(ast.cell).strip()
        if _CELL.fullmatch(text):
            grid = self.grid(ast.file, ast.tab, where)
            row, column, transposed = _cell(text, where)
        else:
            grid, (_, row, column, _, _) = self.area(ast.file, ast.tab, text.rstrip("*"), where)
            transposed = text.endswith("*")
        if len(shape) > 2:
            raise ModelError(
                f"{where}: unsupported construct 'GET CONSTANTS over more than two "
                f"subscripts' (got {len(shape)}). Read each slice separately"
            )

        def value(i: int, j: int) -> float:
            r, c = (row + j, column + i) if transposed else (row + i, column + j)
            number = _number(_at(grid, r, c))
            if number is None:
                raise ModelError(
                    f"{where}: the data file has no number at row {r + 1}, column "
                    f"{c + 1} (got {_at(grid, r, c)!r} in '{ast.file}'). Check "
                    "the cell and the subscripts"
                )
            return number

        if not shape:
            return value(0, 0)
        if len(shape) == 1:
            return [value(0, j) for j in range(shape[0])]
        return [[value(i, j) for j in range(shape[1])] for i in range(shape[0])]


def _element_text(value: Any) -> str:
    """A cell as an element name: whole numbers without their '.0'."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _cell(text: str, where: str) -> tuple[int, int, bool]:
    found = _CELL.fullmatch(text.strip())
    if found is None:
        raise ModelError(
            f"{where}: unsupported construct 'a named cell range' (got '{text}'). "
            "Name the first cell, e.g. 'B2'"
        )
    letters, digits, star = found.groups()
    return int(digits) - 1, column_index(letters), bool(star)


def _at(grid: Grid, row: int, column: int) -> Any:
    if 0 <= row < len(grid) and 0 <= column < len(grid[row]):
        return grid[row][column]
    return None


def _read_workbook(path: Path, where: str) -> Book:
    try:
        import openpyxl
    except ImportError:
        raise ModelError(
            f"{where}: reading {path.suffix} files needs openpyxl (got no "
            "'openpyxl' package). Install it, or save the data as .csv"
        ) from None
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # any failure to read the workbook is bad input
        raise ModelError(
            f"{where}: the workbook could not be read ({type(exc).__name__}: "
            f"{exc}). Save it again as .xlsx, or as .csv"
        ) from None
    try:
        sheets = {
            sheet.title: [list(row) for row in sheet.iter_rows(values_only=True)]
            for sheet in book.worksheets
        }
        names: dict[str, Area] = {}
        defined = [
            *book.defined_names.items(),
            *(
                item
                for sheet in book.worksheets
                for item in getattr(sheet, "defined_names", {}).items()
            ),
        ]
        for name, definition in defined:
            for title, reference in definition.destinations:
                area = _area(title, reference)
                if area is not None and title in sheets:
                    names.setdefault(name.lower(), area)
        return Book(sheets, names)
    finally:
        book.close()


def _read_legacy_workbook(path: Path, where: str) -> Book:
    """The sheets of an Excel 97-2003 ``.xls`` workbook, read with xlrd; empty cells are
    ``None`` as openpyxl gives them (named ranges are not read: name the first cell)."""
    try:
        import xlrd
    except ImportError:
        raise ModelError(
            f"{where}: reading .xls files needs xlrd (got no 'xlrd' package). Install "
            "it (pip install xlrd), or save the data as .xlsx or .csv"
        ) from None
    try:
        book = xlrd.open_workbook(str(path), on_demand=True)
    except Exception as exc:  # any failure to read the workbook is bad input
        raise ModelError(
            f"{where}: the workbook could not be read ({type(exc).__name__}: "
            f"{exc}). Save it again as .xlsx, or as .csv"
        ) from None
    try:
        empty = (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK)
        sheets = {}
        for sheet in book.sheets():
            sheets[sheet.name] = [
                [None if cell.ctype in empty else cell.value for cell in sheet.row(r)]
                for r in range(sheet.nrows)
            ]
        return Book(sheets, {})
    finally:
        book.release_resources()


_RANGE = re.compile(r"\$?([A-Za-z]{1,3})\$?([0-9]{1,7})(?::\$?([A-Za-z]{1,3})\$?([0-9]{1,7}))?")


def _area(title: str, reference: str) -> Area | None:
    """A cell range such as ``$B$1:$AZ$1`` on the sheet ``title``.

    >>> _area("Sheet1", "$B$1:$D$3")
    ('Sheet1', 0, 1, 2, 3)
    """
    found = _RANGE.fullmatch(reference.strip())
    if found is None:
        return None
    first_column, first_row, last_column, last_row = found.groups()
    r0, c0 = int(first_row) - 1, column_index(first_column)
    if last_column is None:
        return title, r0, c0, r0, c0
    return title, r0, c0, int(last_row) - 1, column_index(last_column)


def _within_size(path: Path, where: str) -> Path:
    """``path``, unless the file is too large to read."""
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ModelError(
            f"{where}: the data file is too large (got {path.stat().st_size} bytes, at most "
            f"{MAX_FILE_BYTES}). Keep only the data the model reads"
        )
    return path


def data_tags(tags: Mapping[str, str | os.PathLike[str]] | None, where: str) -> dict[str, Path]:
    """The data files named by tags in a Vensim model (``'?data'``), by lower-case tag,
    from a mapping of tags (with or without the ``?``) to paths; ``where`` names the argument.

    >>> data_tags({"?Data": "run/data.xlsx"}, "data_tags")["data"].as_posix()
    'run/data.xlsx'
    """
    if tags is None:
        return {}
    if not isinstance(tags, Mapping):
        raise ParameterError(
            f"{where}: must map each tag to a file (got {type(tags).__name__}). Give a dict "
            "such as {'data': 'data.xlsx'}"
        )
    found: dict[str, Path] = {}
    for tag, file in tags.items():
        name = tag.removeprefix("?") if isinstance(tag, str) else ""
        if not name or not isinstance(file, (str, os.PathLike)) or not str(file):
            raise ParameterError(
                f"{where}: each tag must be a name and each file a path (got {tag!r}: "
                f"{file!r}). Give a dict such as {{'data': 'data.xlsx'}}"
            )
        found[name.lower()] = Path(file)
    return found
