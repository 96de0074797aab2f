"""``pssc convert`` and ``pssc conformance`` from the command line."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pysd", reason="the vensim extra (PySD's translators) is not installed")

import pssc_sim as ps
from pssc_sim.cli import main

TANK = """{UTF-8}
Water = INTEG(Fill - Drain, 10) ~ litre ~ The water in the tank. |
Fill = 2 ~ litre/Minute ~ |
Drain = Water / Drain Time ~ litre/Minute ~ |
Drain Time = 4 ~ Minute ~ |
INITIAL TIME = 0 ~ Minute ~ |
FINAL TIME = 2 ~ Minute ~ |
TIME STEP = 1 ~ Minute ~ |
SAVEPER = TIME STEP ~ Minute ~ |
"""


def test_convert_writes_a_model_that_runs_the_same(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "tank.mdl"
    source.write_text(TANK)
    target = tmp_path / "tank.yaml"
    assert main(["convert", str(source), "-o", str(target)]) == 0
    assert f"wrote {target}" in capsys.readouterr().out
    original, converted = ps.simulate(ps.load_model(source)), ps.simulate(ps.load_model(target))
    np.testing.assert_array_equal(original.values, converted.values)
    # Euler by hand: 10 -> 10 + (2 - 2.5) = 9.5 -> 9.5 + (2 - 2.375) = 9.125
    np.testing.assert_allclose(converted["water"].to_numpy(), [10.0, 9.5, 9.125])


def test_convert_of_a_missing_file_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["convert", str(tmp_path / "nothing.mdl")]) == 2
    assert "nothing.mdl" in capsys.readouterr().err


def _suite(tmp_path: Path, expected_water: str) -> Path:
    folder = tmp_path / "suite" / "tests" / "tank"
    folder.mkdir(parents=True)
    (folder / "tank.mdl").write_text(TANK)
    (folder / "output.tab").write_text(f"Time\tWater\n0\t10\n1\t9.5\n2\t{expected_water}\n")
    (tmp_path / "suite" / "MANIFEST.csv").write_text(
        "folder,tier,files,features,pysd\ntests/tank,A,tank.mdl,,\n"
    )
    return tmp_path / "suite"


def test_conformance_passes_and_fails_with_the_closing_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["conformance", str(_suite(tmp_path / "good", "9.125"))]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == "1 passed, 0 failed"
    assert main(["conformance", str(_suite(tmp_path / "bad", "9.2")), "--tier", "A"]) == 1
    out = capsys.readouterr().out
    assert "worst column 'Water' at time 2" in out
    assert out.splitlines()[-1] == "0 passed, 1 failed"


def test_conformance_rejects_a_bad_folder_and_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["conformance", str(tmp_path / "none")]) == 2
    assert "no test-models folder there" in capsys.readouterr().err
    assert main(["conformance", str(tmp_path), "--format", "vpm"]) == 2
    assert "--format: unknown format 'vpm'" in capsys.readouterr().err


def _export(tmp_path: Path, water: list[float], name: str = "run.txt") -> Path:
    """The tank's run as Vensim exports it: a row of times, then a row per variable."""
    path = tmp_path / name
    rows = [
        "Time (Minute)\t0\t1\t2",
        '"Drain" : tank run\t2.5\t2.375\t2.28125',
        "Water : tank run\t" + "\t".join(f"{w:.7g}" for w in water),
        "Fill : tank run\t2",
    ]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_conformance_pair_counts_series_within_each_tolerance(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "tank.mdl"
    model.write_text(TANK)
    good = _export(tmp_path, [10.0, 9.5, 9.125])
    assert main(["conformance", "--pair", str(model), str(good)]) == 0
    assert (
        "3/3 series within 1e-05 + 1e-05|b| (100.0%), 3/3 within 0.001" in capsys.readouterr().out
    )
    # 1e-4 off: outside the suite's tolerance, inside 1e-3; the worst series is listed
    off = _export(tmp_path, [10.0, 9.5, 9.125 * (1 + 1e-4)], "off.txt")
    assert main(["conformance", "--pair", str(model), str(off)]) == 1
    out = capsys.readouterr().out
    assert "2/3 series within 1e-05 + 1e-05|b| (66.7%), 3/3 within 0.001" in out
    assert out.splitlines()[-1].endswith("Water (off.txt: got 9.125, expected 9.125913)")


def test_conformance_pair_reports_a_series_the_run_lacks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "tank.mdl"
    model.write_text(TANK)
    extra = _export(tmp_path, [10.0, 9.5, 9.125])
    extra.write_text(extra.read_text() + "Spill : tank run\t0\t0\t0\n")
    assert main(["conformance", "--pair", str(model), str(extra)]) == 1
    assert "missing" in capsys.readouterr().out


def test_conformance_pair_leaves_out_vensim_internal_series(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Vensim writes variables of its own inside functions (#name>function#); they are not the
    # model's, so a run cannot lack them
    model = tmp_path / "tank.mdl"
    model.write_text(TANK)
    extra = _export(tmp_path, [10.0, 9.5, 9.125])
    extra.write_text(extra.read_text() + '"#Water>SMOOTH#" : tank run\t0\t0\t0\n')
    assert main(["conformance", "--pair", str(model), str(extra)]) == 0
    assert "3/3 series within" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--pair", "tank.mdl"], r"--pair: needs a model and at least one output"),
        (["--pair", "tank.mdl", "none.txt"], r"--pair: none.txt: no such file"),
        (
            ["suite", "--pair", "tank.mdl", "run.txt"],
            r"give a test-models folder or --pair, not "
            r"both",
        ),
        ([], r"nothing to run \(got no PATH and no --pair\)"),
        (["--worst", "-1", "--pair", "tank.mdl", "run.txt"], r"--worst: must be 0 or more"),
    ],
)
def test_conformance_pair_bad_input(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    arguments: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tank.mdl").write_text(TANK)
    _export(tmp_path, [10.0, 9.5, 9.125])
    assert main(["conformance", *arguments]) == 2
    assert re.search(message, capsys.readouterr().err)


def test_compare_model_refuses_an_output_on_another_time_grid(tmp_path: Path) -> None:
    from pssc_sim.conformance import compare_model

    model = tmp_path / "tank.mdl"
    model.write_text(TANK)
    halves = tmp_path / "halves.tab"
    halves.write_text("Time\tWater\n0\t10\n0.5\t9.75\n")
    with pytest.raises(
        ps.ModelError,
        match=r"halves.tab: the run has no saved row at time 0.5 "
        r"\(got rows at \[0\. 1\. 2\.\]\.\.\.\)\. Compare "
        r"with an output saved at the model's own time step",
    ):
        compare_model(model, [halves])
    with pytest.raises(ps.ModelError, match=r"none.tab: no output file there"):
        compare_model(model, [tmp_path / "none.tab"])
