"""Hostile observed-data files for ``pssc calibrate``: a formula, a giant cell and a folder are
refused with one line, and nothing in a cell runs (binary bytes and overflowing numbers are
checked in-process in tests/test_calibrate.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hostile.hostile_cli import assert_refused, run_cli

SIR = Path(__file__).resolve().parents[2] / "models" / "sir"


def _data(folder: Path, kind: str) -> Path:
    path = folder / "observed.csv"
    canary = folder / "canary"
    if kind == "formula":
        path.write_text(f"time,infected\n1,\"=__import__('os').system('touch {canary}')\"\n")
    elif kind == "giant cell":
        path.write_text("time,infected\n1," + "9" * 300_000 + "\n")
    elif kind == "folder":
        path.mkdir()
    return path


@pytest.mark.parametrize(
    ("kind", "match"),
    [
        ("formula", "column 'infected': not a number"),
        ("giant cell", "not a readable CSV file"),
        ("folder", "cannot read the file"),
    ],
)
def test_hostile_data_files_are_refused(tmp_path: Path, kind: str, match: str) -> None:
    data = _data(tmp_path, kind)
    run = run_cli("calibrate", SIR, "--data", data, "--parameters", "duration", cwd=tmp_path)
    assert_refused(run, canary=tmp_path / "canary", match=match)
