"""Hostile data files of imported Vensim models: subscript elements read from a file that are
code, a cell range far beyond the file, and a legacy workbook that is not one; each is read as
data or refused with one line, in bounded time, and nothing in a cell runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hostile.hostile_cli import assert_refused, run_cli

pytest.importorskip("pysd", reason="the vensim extra (PySD's translators) is not installed")

CONTROL = "INITIAL TIME = 0 ~~|\nFINAL TIME = 2 ~~|\nTIME STEP = 1 ~~|\nSAVEPER = 1 ~~|\n"


def _model(folder: Path, equations: str) -> Path:
    path = folder / "model.mdl"
    path.write_text("{UTF-8}\n" + equations + CONTROL, encoding="utf-8")
    return path


def test_elements_read_from_a_file_are_names_not_code(tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    (tmp_path / "names.csv").write_text(
        f"\"__import__('os').system('touch {canary}')\"\nplain\n", encoding="utf-8"
    )
    model = _model(
        tmp_path,
        "region: GET DIRECT SUBSCRIPT('names.csv', ',', 'A1', 'A2', '') ~~|\n"
        "k[region] = 1 ~~|\ntotal = SUM(k[region!]) ~~|\n",
    )
    run = run_cli("run", model, cwd=tmp_path)
    assert not canary.exists()
    assert "Traceback" not in run.stderr, run.stderr[-2000:]
    if run.returncode != 0:
        assert_refused(run, canary=canary)


def test_a_cell_range_beyond_the_file_reads_only_its_cells(tmp_path: Path) -> None:
    (tmp_path / "names.csv").write_text("north\nsouth\n", encoding="utf-8")
    model = _model(
        tmp_path,
        "region: GET DIRECT SUBSCRIPT('names.csv', ',', 'A1', 'XFD1048576', '') ~~|\n"
        "k[region] = 1 ~~|\ntotal = SUM(k[region!]) ~~|\n",
    )
    run = run_cli("run", model, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "total" in run.stdout


def test_a_legacy_workbook_that_is_not_one_is_refused(tmp_path: Path) -> None:
    pytest.importorskip("xlrd", reason="xlrd reads .xls workbooks")
    (tmp_path / "data.xls").write_bytes(b"\xd0\xcf\x11\xe0" + b"\x00" * 600)
    model = _model(tmp_path, "k = GET XLS CONSTANTS('data.xls', 'Sheet1', 'B2') ~~|\n")
    run = run_cli("run", model, cwd=tmp_path)
    assert_refused(run, match="the workbook could not be read")
