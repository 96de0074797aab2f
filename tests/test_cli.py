"""The ``pssc`` command line: outputs equal the API, and bad input gives one line and status 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pssc_sim as ps
from pssc_sim.cli import main
from pssc_sim.integrate.methods import METHODS

ROOT = Path(__file__).resolve().parent.parent
SIR = ROOT / "models" / "sir"
TEACUP = ROOT / "models" / "teacup"

TEACUP_TYPO = """\
model: typo
time: {stop: 5, dt: 0.5}
parameters:
  room_temperature: 70
stocks:
  teacup_temperature: 180
flows:
  heat_loss: {from: teacup_temperature, rate: (teacup_temperature - room_temp) / 10}
"""


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def assert_one_line_error(err: str, *fragments: str) -> None:
    assert err.startswith("pssc: error: ")
    assert err.count("\n") == 1
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err


@pytest.mark.parametrize("method", ["euler", "rk4"])
def test_run_writes_results_equal_to_simulate(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, method: str
) -> None:
    out = tmp_path / "out" / "sir"
    status, stdout, err = run_cli(capsys, "run", SIR, "--method", method, "--out", out)
    assert (status, err) == (0, "")
    table = pd.read_csv(out / "results.csv")
    expected = ps.simulate(ps.load_model(SIR), method=method).to_frame()
    assert table.columns.tolist() == ["time", *expected.columns]
    np.testing.assert_array_equal(table["time"].to_numpy(), expected.index.to_numpy())
    np.testing.assert_array_equal(table[list(expected.columns)].to_numpy(), expected.to_numpy())
    assert (out / "stocks.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in out.iterdir()) == ["results.csv", "stocks.png"]
    assert "susceptible" in stdout
    assert f"{expected['recovered'].iloc[-1]:.6g}" in stdout


def test_run_applies_set_stop_and_dt(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, _, _ = run_cli(
        capsys,
        "run",
        TEACUP,
        "--out",
        tmp_path,
        "--set",
        "characteristic_time=5",
        "--set",
        "room_temperature=60",
        "--stop",
        "10",
        "--dt",
        "0.5",
    )
    assert status == 0
    table = pd.read_csv(tmp_path / "results.csv")
    expected = ps.simulate(
        ps.load_model(TEACUP),
        {"characteristic_time": 5, "room_temperature": 60},
        time={"stop": 10, "dt": 0.5},
    )
    assert table["time"].iloc[-1] == 10
    np.testing.assert_array_equal(
        table["teacup_temperature"], expected["teacup_temperature"].to_numpy()
    )


def test_run_without_out_writes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    status, stdout, _ = run_cli(capsys, "run", TEACUP)
    assert status == 0
    assert "teacup_temperature" in stdout
    assert "final" in stdout
    assert list(tmp_path.iterdir()) == []


def test_module_runs_as_subprocess(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pssc_sim",
            "run",
            str(TEACUP),
            "--method",
            "rk4",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "teacup_temperature" in done.stdout
    table = pd.read_csv(tmp_path / "results.csv")
    expected = ps.simulate(ps.load_model(TEACUP), method="rk4")["teacup_temperature"]
    np.testing.assert_array_equal(table["teacup_temperature"], expected.to_numpy())
    assert (tmp_path / "stocks.png").is_file()


def test_methods_lists_the_registry(capsys: pytest.CaptureFixture[str]) -> None:
    status, stdout, _ = run_cli(capsys, "methods")
    assert status == 0
    *methods, back_ends = stdout.splitlines()
    assert [line.split()[0] for line in methods] == list(METHODS)
    assert back_ends.startswith("back ends: numpy")


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    status, stdout, _ = run_cli(capsys, "--version")
    assert status == 0
    assert stdout.strip().startswith(f"pssc {ps.__version__}; back ends: numpy")


def test_missing_model_path(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, stdout, err = run_cli(capsys, "run", tmp_path / "nowhere")
    assert (status, stdout) == (2, "")
    assert_one_line_error(err, "nowhere", "no model file")


def test_unknown_method_has_did_you_mean(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run_cli(capsys, "run", SIR, "--method", "eulr")
    assert status == 2
    assert_one_line_error(err, "--method", "'eulr'", "Did you mean 'euler'?")


def test_misspelled_name_names_file_and_key_path(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "typo.yaml"
    path.write_text(TEACUP_TYPO)
    status, _, err = run_cli(capsys, "run", path)
    assert status == 2
    assert_one_line_error(
        err, f"{path}: flows.heat_loss.rate", "'room_temp'", "Did you mean 'room_temperature'?"
    )


def test_model_file_cannot_run_code(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.yaml"
    path.write_text(
        "time: {stop: 1}\nstocks: {x: 1}\nflows:\n  out:\n    from: x\n"
        f"    rate: __import__('os').system('touch {marker}')\n"
    )
    status, _, err = run_cli(capsys, "run", path, "--out", tmp_path / "out")
    assert status == 2
    assert_one_line_error(err, f"{path}: flows.out.rate")
    assert not marker.exists()
    assert not (tmp_path / "out").exists()


def test_set_unknown_parameter(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run_cli(capsys, "run", SIR, "--set", "contact=3")
    assert status == 2
    assert_one_line_error(err, "--set", "'contact'", "Did you mean 'contact_rate'?")


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["run", str(SIR), "--set", "contact_rate"], "expected NAME=VALUE"),
        (["run", str(SIR), "--set", "contact_rate=fast"], "expected a finite number"),
        (["run", str(SIR), "--stop", "-1"], "--stop"),
        (["run", str(SIR), "--dt", "0"], "--dt"),
        (["run", str(SIR), "--bogus"], "unrecognized arguments"),
        (["run"], "required: MODEL"),
        ([], "a command is required"),
    ],
)
def test_bad_arguments(capsys: pytest.CaptureFixture[str], argv: list[str], fragment: str) -> None:
    status, _, err = run_cli(capsys, *argv)
    assert status == 2
    assert_one_line_error(err, fragment)


def test_failed_run_exits_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "blowup.yaml"
    path.write_text(
        "time: {stop: 1}\nparameters: {k: 1}\nstocks: {x: 1}\n"
        "flows: {out: {from: x, rate: x / (k - 1)}}\n"
    )
    status, _, err = run_cli(capsys, "run", path)
    assert status == 1
    assert_one_line_error(err, "not finite")
