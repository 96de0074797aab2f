"""External data of Vensim models (GET DIRECT DATA / CONSTANTS / LOOKUPS, GET XLS ...): values
read from files beside the model, checked against the numbers written into those files here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import pssc_sim as ps

pytest.importorskip("pysd", reason="the vensim extra (PySD's translators) is not installed")

CONTROL = """
INITIAL TIME = 0 ~~|
FINAL TIME = 6 ~~|
TIME STEP = 0.5 ~~|
SAVEPER = TIME STEP ~~|
"""
T = np.arange(0, 6.5, 0.5)
#: data at times 1, 2, 4 (a gap at 3): 10, 20, 40 for the first series, 5, 6, 7 for the second
DOWN = "Time,first,second\n1,10,5\n2,20,6\n3,,\n4,40,7\n"
ACROSS = "Time;1;2;4\nfirst;10;20;40\nsecond;5;6;7\n"
TIMES, FIRST, SECOND = [1.0, 2.0, 4.0], [10.0, 20.0, 40.0], [5.0, 6.0, 7.0]


def model(tmp_path: Path, text: str, files: dict[str, str] | None = None) -> Path:
    for name, content in (files or {}).items():
        (tmp_path / name).write_text(content, encoding="utf-8")
    path = tmp_path / "model.mdl"
    path.write_text("{UTF-8}\n" + text + CONTROL, encoding="utf-8")
    return path


def held_backward(x: np.ndarray, xs: list[float], ys: list[float]) -> np.ndarray:
    return np.asarray(ys)[np.clip(np.searchsorted(xs, x, side="right") - 1, 0, len(xs) - 1)]


def looked_forward(x: np.ndarray, xs: list[float], ys: list[float]) -> np.ndarray:
    return np.asarray(ys)[np.clip(np.searchsorted(xs, x, side="left"), 0, len(xs) - 1)]


def test_data_down_a_column_and_across_a_row_interpolate(tmp_path: Path) -> None:
    path = model(
        tmp_path,
        "down := GET DIRECT DATA('down.csv', ',', 'A', 'B2') ~~|\n"
        "across := GET DIRECT DATA('across.csv', ';', '1', 'B3') ~~|\n"
        "twice = 2 * down ~~|\n",
        {"down.csv": DOWN, "across.csv": ACROSS},
    )
    res = ps.simulate(ps.load_model(path))
    np.testing.assert_allclose(res["down"].to_numpy(), np.interp(T, TIMES, FIRST), rtol=1e-14)
    np.testing.assert_allclose(res["across"].to_numpy(), np.interp(T, TIMES, SECOND), rtol=1e-14)
    np.testing.assert_allclose(res["twice"].to_numpy(), 2 * np.interp(T, TIMES, FIRST), rtol=1e-14)


def test_elements_given_numbers_beside_elements_read_from_a_file(tmp_path: Path) -> None:
    path = model(
        tmp_path,
        "d: one, two, three ~~|\n"
        "v[one] := GET DIRECT DATA('down.csv', ',', 'A', 'B2') ~~|\n"
        "v[two] = 7 ~~|\n"
        "v[three] := GET DIRECT DATA('down.csv', ',', 'A', 'C2') ~~|\n"
        "w[d] = 2 * v[d] ~~|\n",
        {"down.csv": DOWN},
    )
    res = ps.simulate(ps.load_model(path))
    np.testing.assert_allclose(res["v[one]"].to_numpy(), np.interp(T, TIMES, FIRST), rtol=1e-14)
    np.testing.assert_allclose(res["v[two]"].to_numpy(), np.full(T.size, 7.0))
    np.testing.assert_allclose(res["v[three]"].to_numpy(), np.interp(T, TIMES, SECOND), rtol=1e-14)
    np.testing.assert_allclose(res["w[two]"].to_numpy(), np.full(T.size, 14.0))


def test_data_keywords_hold_backward_and_look_forward(tmp_path: Path) -> None:
    path = model(
        tmp_path,
        "back :HOLD BACKWARD::= GET DIRECT DATA('down.csv', ',', 'A', 'B2')"
        " ~~|\nahead :LOOK FORWARD::= GET DIRECT DATA('down.csv', ',', 'A', "
        "'B2') ~~|\nraw :RAW::= GET DIRECT DATA('down.csv', ',', 'A', 'B2') "
        "~~|\n",
        {"down.csv": DOWN},
    )
    res = ps.simulate(ps.load_model(path))
    np.testing.assert_array_equal(res["back"].to_numpy(), held_backward(T, TIMES, FIRST))
    # :RAW: is Vensim's :NA: between points; here it holds the point before, like HOLD BACKWARD
    np.testing.assert_array_equal(res["raw"].to_numpy(), held_backward(T, TIMES, FIRST))
    np.testing.assert_array_equal(res["ahead"].to_numpy(), looked_forward(T, TIMES, FIRST))


def test_subscripted_data_reads_one_column_per_element(tmp_path: Path) -> None:
    path = model(
        tmp_path,
        "series: one, two ~~|\n"
        "values[series] := GET DIRECT DATA('down.csv', ',', 'A', 'B2') ~~|\n"
        "steps[series] :HOLD BACKWARD::= GET DIRECT DATA('across.csv', ';', "
        "'1', 'B2') ~~|\n",
        {"down.csv": DOWN, "across.csv": ACROSS},
    )
    res = ps.simulate(ps.load_model(path))
    np.testing.assert_allclose(res["values[one]"].to_numpy(), np.interp(T, TIMES, FIRST))
    np.testing.assert_allclose(res["values[two]"].to_numpy(), np.interp(T, TIMES, SECOND))
    np.testing.assert_array_equal(res["steps[two]"].to_numpy(), held_backward(T, TIMES, SECOND))


def test_constants_from_a_cell_a_row_a_column_and_a_block(tmp_path: Path) -> None:
    table = "name,a,b,c\nrow1,1,2,3\nrow2,4,5,6\n"
    path = model(
        tmp_path,
        "d: a, b, c ~~|\ne: x, y ~~|\n"
        "one = GET DIRECT CONSTANTS('t.csv', ',', 'C3') ~~|\n"
        "row[d] = GET DIRECT CONSTANTS('t.csv', ',', 'B2') ~~|\n"
        "column[e] = GET DIRECT CONSTANTS('t.csv', ',', 'D2*') ~~|\n"
        "block[e, d] = GET DIRECT CONSTANTS('t.csv', ',', 'B2') ~~|\n"
        "flipped[d, e] = GET DIRECT CONSTANTS('t.csv', ',', 'B2*') ~~|\n",
        {"t.csv": table},
    )
    loaded = ps.load_model(path)
    values = {
        name: loaded[name].row_values() for name in ("one", "row", "column", "block", "flipped")
    }
    grid = np.array([[1.0, 2, 3], [4, 5, 6]])
    assert values["one"] == (5.0,)
    assert values["row"] == tuple(grid[0])
    assert values["column"] == tuple(grid[:, 2])
    assert values["block"] == tuple(grid.ravel())
    assert values["flipped"] == tuple(grid.T.ravel())


def test_lookups_from_a_file(tmp_path: Path) -> None:
    path = model(
        tmp_path,
        "d: one, two ~~|\n"
        "table := GET DIRECT LOOKUPS('down.csv', ',', 'A', 'C2') ~~|\n"
        "tables[d] := GET DIRECT LOOKUPS('down.csv', ',', 'A', 'B2') ~~|\n"
        "value = table(Time) ~~|\nvalues[d] = tables[d](Time) ~~|\n",
        {"down.csv": DOWN},
    )
    res = ps.simulate(ps.load_model(path))
    np.testing.assert_allclose(res["value"].to_numpy(), np.interp(T, TIMES, SECOND))
    np.testing.assert_allclose(res["values[one]"].to_numpy(), np.interp(T, TIMES, FIRST))
    np.testing.assert_allclose(res["values[two]"].to_numpy(), np.interp(T, TIMES, SECOND))


def test_a_workbook_sheet_is_read_like_a_csv(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "inputs"
    for row in DOWN.splitlines():
        sheet.append(
            [float(c) if c.replace(".", "").isdigit() else (c or None) for c in row.split(",")]
        )
    book.save(tmp_path / "inputs.xlsx")
    path = model(
        tmp_path,
        "v := GET XLS DATA('inputs.xlsx', 'inputs', 'A', 'B2') ~~|\n"
        "k = GET XLS CONSTANTS('inputs.xlsx', 'inputs', 'C5') ~~|\n",
    )
    loaded = ps.load_model(path)
    np.testing.assert_allclose(ps.simulate(loaded)["v"].to_numpy(), np.interp(T, TIMES, FIRST))
    assert loaded["k"].row_values() == (7.0,)


def test_named_cell_ranges_of_a_workbook(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    from openpyxl.workbook.defined_name import DefinedName

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "data"
    sheet.append(["t", *TIMES])
    sheet.append(["first", *FIRST])
    sheet.append(["second", *SECOND])
    sheet.append(["k", 1.5, 2.5])
    for name, reference in (("times", "$B$1:$D$1"), ("series", "$B$2:$D$3"), ("pair", "$B$4:$C$4")):
        book.defined_names[name] = DefinedName(name, attr_text=f"data!{reference}")
    book.save(tmp_path / "named.xlsx")
    path = model(
        tmp_path,
        "d: one, two ~~|\n"
        "v[d] := GET XLS DATA('named.xlsx', 'data', 'times', 'series') ~~|\n"
        "k[d] = GET XLS CONSTANTS('named.xlsx', 'data', 'pair') ~~|\n",
    )
    loaded = ps.load_model(path)
    res = ps.simulate(loaded)
    np.testing.assert_allclose(res["v[one]"].to_numpy(), np.interp(T, TIMES, FIRST))
    np.testing.assert_allclose(res["v[two]"].to_numpy(), np.interp(T, TIMES, SECOND))
    assert loaded["k"].row_values() == (1.5, 2.5)


@pytest.mark.parametrize(
    ("equation", "files", "message"),
    [
        (
            "v := GET DIRECT DATA('missing.csv', ',', 'A', 'B2')",
            {},
            r"model\.mdl: v: the data file does not exist \(got 'missing\.csv'\)",
        ),
        (
            "v := GET DIRECT DATA('?data', ',', 'A', 'B2')",
            {},
            r"model\.mdl: v: the data file is named by the tag '\?data', which Vensim takes from "
            r"the settings of a run \(got tags for: none\)\. Map the tag to a file: --data-tag "
            r"data=FILE",
        ),
        (
            "v := GET DIRECT DATA('../outside.csv', ',', 'A', 'B2')",
            {},
            r"v: the data file must lie in the model's folder \(got '\.\./outside\.csv'\)",
        ),
        (
            "v := GET DIRECT DATA('down.csv', ',', 'A', 'Z9')",
            {"down.csv": DOWN},
            r"v: no numbers in the data file for element 1 \(got 'down\.csv' from cell Z9\)",
        ),
        (
            "v = GET DIRECT CONSTANTS('down.csv', ',', 'B4')",
            {"down.csv": DOWN},
            r"v: the data file has no number at row 4, column 2 \(got ''",
        ),
        (
            "v = GET DIRECT CONSTANTS('down.csv', ',', 'my range')",
            {"down.csv": DOWN},
            r"v: unsupported construct 'a named cell range' that the data file does not define "
            r"\(got 'my range'; it defines: none\)",
        ),
        (
            "v := GET DIRECT DATA('down.ods', ',', 'A', 'B2')",
            {"down.ods": DOWN},
            r"v: unsupported construct 'data file of type \.ods'",
        ),
        (
            "d: one, two ~~|\nv[one] := GET DIRECT DATA('down.csv', ',', 'A', 'B2') ~~|\n"
            "v[two] = 1 + Time",
            {"down.csv": DOWN},
            r"v: unsupported construct 'a variable read from a file for some elements only' "
            r"and an equation for others",
        ),
        (
            "v ~~|\nw = v",
            {},
            r"v: unsupported construct 'data variable' without GET DATA: its values come from a "
            r"Vensim data file \(\.vdf\)",
        ),
        (
            "d: one, two ~~|\nv[d] ~~|\nw = SUM(v[d!])",
            {},
            r"v: unsupported construct 'data variable' without GET DATA: its values come from a "
            r"Vensim data file \(\.vdf\)",
        ),
    ],
)
def test_data_that_cannot_be_read_is_refused_naming_file_and_variable(
    tmp_path: Path, equation: str, files: dict[str, str], message: str
) -> None:
    path = model(tmp_path, equation + " ~~|\n", files)
    with pytest.raises(ps.ModelError, match=message):
        ps.load_model(path)


def test_subscript_elements_read_from_a_file(tmp_path: Path) -> None:
    # a column of element names and a row of numbers with a prefix; the constants of the
    # block they frame are read rows by columns
    table = "name,1,2\nnorth,1,2\nsouth,3,4\neast,5,6\n"
    path = model(
        tmp_path,
        "region: GET DIRECT SUBSCRIPT('block.csv', ',', 'A2', 'A', '') ~~|\n"
        "depth: GET DIRECT SUBSCRIPT('block.csv', ',', 'B1', 'C1', 'd') ~~|\n"
        "k[region, depth] = GET DIRECT CONSTANTS('block.csv', ',', 'B2') ~~|\n"
        "total = SUM(k[region!, depth!]) ~~|\n",
        {"block.csv": table},
    )
    loaded = ps.load_model(path)
    assert [d.elements for d in loaded.dimensions.items] == [
        ("north", "south", "east"),
        ("d1", "d2"),
    ]
    res = ps.simulate(loaded)
    assert res["total"].to_numpy()[-1] == 21.0


def test_subscript_cells_without_elements_are_refused(tmp_path: Path) -> None:
    path = model(
        tmp_path,
        "region: GET DIRECT SUBSCRIPT('block.csv', ',', 'D2', 'D4', '') ~~|\nk[region] = 1 ~~|\n",
        {"block.csv": "a,b\n1,2\n"},
    )
    with pytest.raises(
        ps.ModelError,
        match=r"region: GET DIRECT SUBSCRIPT found no elements in the cells D2 to D4 \(got none "
        r"in 'block\.csv'\)\. Check the cells",
    ):
        ps.load_model(path)


SUITE = Path(__file__).resolve().parents[2] / "shared" / "test-models" / "tests"


@pytest.mark.skipif(
    not (SUITE / "get_subscript_3d_arrays_xls").is_dir(), reason="the SDXorg suite is absent"
)
def test_a_legacy_xls_workbook_is_read(tmp_path: Path) -> None:
    pytest.importorskip("xlrd", reason="xlrd reads .xls workbooks")
    folder = SUITE / "get_subscript_3d_arrays_xls"
    loaded = ps.load_model(folder / "test_get_subscript_3d_arrays_xls.mdl")
    # the sheet: entries 1..3 down B4:B6, depths 1, 2 across C3:D3, values in C4:F6
    assert sorted(d.elements for d in loaded.dimensions.items) == [
        ("Column1", "Column2"),
        ("Depth1", "Depth2"),
        ("Entry1", "Entry2", "Entry3"),
    ]
    res = ps.simulate(loaded).renamed(loaded.original_names())
    name = "Three Dimensional Variable[Entry2,Column2,Depth2]"
    assert res[name].to_numpy()[0] == 0.04


def test_a_data_file_named_by_a_tag_is_the_file_mapped_to_the_tag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pssc_sim.cli import main

    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "run1.csv").write_text(DOWN, encoding="utf-8")
    (inputs / "run2.csv").write_text(DOWN.replace(",10,", ",30,"), encoding="utf-8")
    path = model(tmp_path, "v := GET DIRECT DATA('?Data', ',', 'A', 'B2') ~~|\n")
    first = ps.simulate(ps.load_model(path, data_tags={"?data": inputs / "run1.csv"}))
    second = ps.simulate(ps.load_model(path, data_tags={"data": str(inputs / "run2.csv")}))
    np.testing.assert_allclose(first["v"].to_numpy(), np.interp(T, TIMES, FIRST), rtol=1e-14)
    np.testing.assert_allclose(
        second["v"].to_numpy(), np.interp(T, TIMES, [30.0, 20.0, 40.0]), rtol=1e-14
    )
    assert main(["run", str(path), "--data-tag", f"data={inputs / 'run2.csv'}"]) == 0
    assert "v " in capsys.readouterr().out


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        ({"lookups": "l.csv"}, r"named by the tag '\?data'.*\(got tags for: lookups\)"),
        ({"data": "absent.csv"}, r"the data file of the tag '\?data' does not exist"),
        ({"": "l.csv"}, r"data_tags: each tag must be a name and each file a path"),
        (["data"], r"data_tags: must map each tag to a file \(got list\)"),
    ],
)
def test_a_tag_without_a_usable_file_is_refused(tmp_path: Path, tags: object, message: str) -> None:
    path = model(tmp_path, "v := GET DIRECT DATA('?data', ',', 'A', 'B2') ~~|\n")
    with pytest.raises(ps.PsscSimError, match=message):
        ps.load_model(path, data_tags=tags)  # type: ignore[arg-type]


def test_data_tags_are_refused_for_a_yaml_model(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("time: {stop: 1}\nstocks: {x: 1}\n", encoding="utf-8")
    with pytest.raises(ps.ParameterError, match=r"load_model: data_tags name the data files"):
        ps.load_model(path, data_tags={"data": "d.csv"})


def test_a_data_tag_option_without_a_file_is_refused() -> None:
    from pssc_sim.cli.common import UsageError, parse_data_tags

    with pytest.raises(UsageError, match=r"--data-tag: expected TAG=FILE \(got 'data'\)"):
        parse_data_tags(["data"])
