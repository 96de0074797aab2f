"""``pssc run SCENARIO``, ``pssc compare`` and ``pssc schema``: files written, outputs equal the
API, and the progress line appears only on a terminal."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pssc_sim as ps
from pssc_sim.cli import main
from pssc_sim.cli.scenario import progress
from pssc_sim.scenario import ScenarioError

ROOT = Path(__file__).resolve().parent.parent
SIR = ROOT / "scenarios" / "sir"
TEACUP = ROOT / "scenarios" / "teacup"


def run_cli(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_run_scenario_writes_results_plot_and_summary(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, out, err = run_cli(capsys, "run", TEACUP / "cold-room.yaml", "--out", tmp_path)
    assert (status, err) == (0, "")
    table = pd.read_csv(tmp_path / "results.csv")
    expected = ps.run_scenario(TEACUP / "cold-room.yaml").results
    assert table.columns.tolist() == ["time", "teacup_temperature", "room_temperature", "heat_loss"]
    np.testing.assert_array_equal(table["teacup_temperature"], expected.values[:, 0, 0])
    assert (tmp_path / "results.png").read_bytes()[:4] == b"\x89PNG"
    assert "scenario cold-room" in out
    assert "step room_temperature by -10 at 10" in out


def test_run_ensemble_writes_quantiles_samples_and_netcdf(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    xarray = pytest.importorskip("xarray")
    status, out, _ = run_cli(
        capsys,
        "run",
        TEACUP / "uncertain-cooling.yaml",
        "--out",
        tmp_path,
        "--save-ensemble",
        "--method",
        "euler",
    )
    assert status == 0
    table = pd.read_csv(tmp_path / "results.csv")
    assert table.columns.tolist() == ["time", "variable", "p5", "p25", "p50", "p75", "p95", "mean"]
    samples = pd.read_csv(tmp_path / "parameters.csv")
    assert samples.columns.tolist() == ["member", "room_temperature", "characteristic_time"]
    assert len(samples) == 1024
    with xarray.open_dataset(tmp_path / "ensemble.nc") as data:
        assert data["teacup_temperature"].shape == (241, 1024)
        assert data.attrs["seed"] == 7
    assert "1024 members" in out
    assert "method euler" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "ensemble.nc",
        "parameters.csv",
        "results.csv",
        "results.png",
    ]


def test_run_options_override_the_scenario(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, _, _ = run_cli(
        capsys,
        "run",
        SIR / "distancing.yaml",
        "--out",
        tmp_path,
        "--set",
        "duration=3",
        "--stop",
        "20",
        "--dt",
        "0.25",
    )
    assert status == 0
    table = pd.read_csv(tmp_path / "results.csv")
    expected = (
        ps.Scenario.load(SIR / "distancing.yaml")
        .with_set(duration=3)
        .with_time(stop=20, dt=0.25)
        .run()
    )
    assert table["time"].iloc[-1] == 20
    np.testing.assert_array_equal(table["infected"], expected["infected"].to_numpy())


def test_set_holds_a_scheduled_parameter_for_the_whole_run_and_scale_keeps_its_dates(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """distancing steps contact_rate from 6 to 3 on day 5. ``--set contact_rate=4`` holds it at
    4 on every day (the step no longer overrides it at day 5); ``--scale contact_rate=0.5``
    halves it in every period of its schedule: 3 before day 5 and 1.5 after."""
    scenario = SIR / "distancing.yaml"
    written = {}
    for option, value in (("--set", "contact_rate=4"), ("--scale", "contact_rate=0.5")):
        out = tmp_path / option.strip("-")
        status, _, err = run_cli(capsys, "run", scenario, option, value, "--out", out)
        assert (status, err) == (0, "")
        written[option] = pd.read_csv(out / "results.csv")
    plain = ps.Scenario.load(scenario).run()
    day = plain.results.times
    held = written["--set"]["contact_rate"].to_numpy()
    np.testing.assert_array_equal(held, np.full(day.size, 4.0))
    halved = written["--scale"]["contact_rate"].to_numpy()
    np.testing.assert_allclose(halved, 0.5 * plain["contact_rate"].to_numpy())
    assert set(halved[day < 5]) == {3.0}
    assert set(halved[day >= 5]) == {1.5}
    api = ps.Scenario.load(scenario).with_scaled(contact_rate=0.5).run()
    np.testing.assert_array_equal(written["--scale"]["infected"], api["infected"].to_numpy())


def test_set_and_scale_on_a_model_and_their_errors(capsys: pytest.CaptureFixture[str]) -> None:
    sir = ROOT / "models" / "sir"
    status, scaled, _ = run_cli(
        capsys, "run", sir, "--set", "contact_rate=4", "--scale", "contact_rate=2"
    )
    assert status == 0
    assert run_cli(capsys, "run", sir, "--set", "contact_rate=8")[1] == scaled
    assert run_cli(capsys, "run", sir)[1] != scaled
    status, _, err = run_cli(capsys, "run", SIR / "baseline.yaml", "--scale", "contact=2")
    assert status == 2
    assert "--scale: unknown parameter 'contact'" in err
    status, _, err = run_cli(capsys, "run", sir, "--scale", "contact_rate")
    assert status == 2
    assert "--scale: expected NAME=VALUE (got 'contact_rate')" in err
    with pytest.raises(ScenarioError, match=r"scale: 'contact' cannot be scaled \(no such"):
        ps.Scenario.load(SIR / "baseline.yaml").with_scaled(contact=2)


def test_run_bad_set_on_a_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run_cli(capsys, "run", SIR / "baseline.yaml", "--set", "contact=2")
    assert status == 2
    assert "--set: unknown parameter 'contact'" in err


def test_save_ensemble_needs_a_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run_cli(capsys, "run", ROOT / "models" / "sir", "--save-ensemble")
    assert status == 2
    assert "--save-ensemble: only a scenario" in err


def test_models_still_run_as_before(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, _, _ = run_cli(capsys, "run", ROOT / "models" / "teacup", "--out", tmp_path)
    assert status == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.csv", "stocks.png"]


def test_compare_prints_and_writes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, out, err = run_cli(
        capsys,
        "compare",
        SIR / "baseline.yaml",
        SIR / "distancing.yaml",
        "--at",
        "5",
        "20",
        "--outputs",
        "infected",
        "recovered",
        "--out",
        tmp_path,
    )
    assert (status, err) == (0, "")
    table = pd.read_csv(tmp_path / "comparison.csv")
    assert table["time"].unique().tolist() == [5.0, 20.0, 60.0]
    assert table["scenario"].unique().tolist() == ["baseline", "distancing"]
    at_five = table[(table["time"] == 5.0) & (table["variable"] == "recovered")]
    assert at_five["difference"].tolist() == [0.0, 0.0]  # distancing starts at day 5
    later = table[(table["time"] == 60.0) & (table["variable"] == "recovered")]
    assert later["difference"].iloc[1] < 0
    assert (tmp_path / "comparison.png").read_bytes()[:4] == b"\x89PNG"
    assert "compared against baseline" in out


def test_compare_accepts_models_and_rejects_bad_times(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_cli(
        capsys, "compare", ROOT / "models" / "teacup", TEACUP / "baseline.yaml"
    )
    assert status == 0
    assert "teacup_temperature" in out
    status, _, err = run_cli(capsys, "compare", TEACUP / "baseline.yaml", "--at", "99")
    assert status == 2
    assert "at: time 99 is outside the runs" in err


def test_schema_prints_json_and_writes_a_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, out, _ = run_cli(capsys, "schema")
    assert status == 0
    assert json.loads(out)["title"] == "pssc_sim scenario"
    status, _, _ = run_cli(
        capsys, "schema", "--model", ROOT / "models" / "sir", "-o", tmp_path / "schema.json"
    )
    schema = json.loads((tmp_path / "schema.json").read_text())
    assert "contact_rate" in schema["properties"]["set"]["propertyNames"]["enum"]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_shows_only_on_a_terminal_after_the_delay() -> None:
    quiet = io.StringIO()
    with progress("running", quiet, delay=0.0):
        time.sleep(0.3)
    assert quiet.getvalue() == ""
    terminal = _Terminal()
    with progress("running x", terminal, delay=0.05):
        time.sleep(0.4)
    text = terminal.getvalue()
    assert "running x" in text
    assert text.endswith("\r")
    fast = _Terminal()
    with progress("running", fast, delay=1.0):
        pass
    assert fast.getvalue() == ""
