"""Results of imported models under the names of their own file (``--names original|ids``), and
constants in the table (``--all``), so that a Vensim user can compare tables directly."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

import pssc_sim as ps
from pssc_sim.cli import main

pytest.importorskip("pysd", reason="the vensim extra (PySD's translators) is not installed")

MODEL = """{UTF-8}
"100% true" = 3 ~~|
Population[Region] = INTEG("100% true" * Growth Rate[Region], 10) ~ people ~|
Region: north, south ~~|
Growth Rate[Region] = 0.1, 0.2 ~~|
Total = SUM(Population[Region!]) ~~|
INITIAL TIME = 0 ~~|
FINAL TIME = 2 ~~|
TIME STEP = 1 ~~|
SAVEPER = 1 ~~|
"""


def header(path: Path) -> list[str]:
    with path.open(newline="") as handle:
        return next(csv.reader(handle))


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "names.mdl"
    path.write_text(MODEL, encoding="utf-8")
    return path


def test_the_model_keeps_the_original_name_of_every_row(source: Path) -> None:
    model = ps.load_model(source)
    names = model.original_names()
    assert names["v_100_true"] == '"100% true"'
    assert names["population[north]"] == "Population[north]"
    assert names["growth_rate[south]"] == "Growth Rate[south]"
    assert "population_net_flow[north]" not in names  # structure the import added


def test_results_renamed_and_with_parameters_keep_the_values(source: Path) -> None:
    model = ps.load_model(source)
    res = ps.simulate(model, {"v_100_true": [3.0, 4.0]})
    shown = res.with_parameters().renamed(model.original_names())
    np.testing.assert_array_equal(
        shown["Population[south]"].to_numpy(), res["population[south]"].to_numpy()
    )
    np.testing.assert_array_equal(shown['"100% true"'].to_numpy(), np.tile([3.0, 4.0], (3, 1)))
    assert shown.names[: len(res.names)] == tuple(
        model.original_names().get(n, n) for n in res.names
    )


def test_pssc_run_writes_original_names_and_constants(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["run", str(source), "--all", "--out", str(out)]) == 0
    columns = header(out / "results.csv")
    assert {"Population[north]", "Total", '"100% true"', "Growth Rate[south]"} <= set(columns)
    assert "population[north]" not in columns
    with (out / "results.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    # Euler: each step adds 3 x 0.2 to the southern population
    assert [float(r["Population[south]"]) for r in rows] == pytest.approx([10, 10.6, 11.2])
    assert {float(r['"100% true"']) for r in rows} == {3.0}


def test_pssc_run_names_ids_and_leaves_constants_out_by_default(
    source: Path, tmp_path: Path
) -> None:
    out = tmp_path / "ids"
    assert main(["run", str(source), "--names", "ids", "--out", str(out)]) == 0
    columns = header(out / "results.csv")
    assert "population[north]" in columns
    assert "v_100_true" not in columns
    assert '"100% true"' not in columns


def test_a_yaml_model_keeps_its_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "model.yaml"
    path.write_text(
        "time: {start: 0, stop: 1, dt: 1}\nparameters: {k: {value: 2, label: the k}}"
        "\nauxiliaries: {double_k: 2 * k}\n",
        encoding="utf-8",
    )
    assert main(["run", str(path), "--all"]) == 0
    table = capsys.readouterr().out
    assert "double_k" in table
    assert "\nk " in table


def test_a_bad_names_choice_is_refused(source: Path) -> None:
    assert main(["run", str(source), "--names", "labels"]) == 2
