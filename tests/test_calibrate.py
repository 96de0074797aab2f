"""``pssc calibrate``: Theil's decomposition, least squares against closed forms, recovery of
known parameters from seeded synthetic data, MCMC, the JSON shape, the written scenario, and
every error message about bad input."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import stats

import pssc_sim as ps
from pssc_sim.cli import main
from pssc_sim.inference.calibrate import Calibration, calibrate, synthetic_data
from pssc_sim.inference.data import DataError, ErrorModel, decimal_year, read_observations
from pssc_sim.inference.fit import fit_statistics
from pssc_sim.inference.problem import calibration_problem, fit_parameters
from pssc_sim.scenario import Scenario, json_schema

ROOT = Path(__file__).resolve().parent.parent
SIR = ROOT / "models" / "sir"
TRUE = {"contact_rate": 5.0, "duration": 2.5, "initial_infected": 3.0}
FITTED = ["contact_rate", "duration", "initial_infected"]
BOUNDS = {"initial_infected": (0.5, 20.0)}
RELATIVE = {"infected": ErrorModel("relative", 0.05), "recovered": ErrorModel("relative", 0.05)}

LINE = """\
time: {stop: 10, dt: 0.5}
parameters:
  start_level: {value: 1, range: [-10, 10]}
  slope: {value: 1, range: [-5, 5]}
stocks:
  x: {initial: start_level}
flows:
  inflow: {to: x, rate: slope}
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def sir_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Infected and recovered on days 1..30 from the SIR model at TRUE, 5% relative noise."""
    table = synthetic_data(SIR, TRUE, ["infected", "recovered"], range(1, 31), seed=7)
    path = tmp_path_factory.mktemp("sir") / "observed.csv"
    table.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def sir_fit(sir_data: Path) -> Calibration:
    return calibrate(SIR, sir_data, parameters=FITTED, bounds=BOUNDS, errors=RELATIVE, starts=4)


# -- fit statistics ----------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(-1e3, 1e3), st.floats(-1e3, 1e3)), min_size=2, max_size=40))
@example([(0.0, 0.0), (4.0, 2.2250738585072014e-308)])  # an infinite MAPE
def test_theil_shares_sum_to_one_and_split_the_mse(pairs: list[tuple[float, float]]) -> None:
    simulated, actual = (np.array(column) for column in zip(*pairs, strict=True))
    result = fit_statistics(simulated, actual)
    mse = float(np.mean((simulated - actual) ** 2))
    if mse <= 1e-9:
        return
    shares = (result.theil_um, result.theil_us, result.theil_uc)
    assert all(share >= -1e-9 for share in shares)
    assert sum(shares) == pytest.approx(1.0, abs=1e-7)
    assert result.rmse == pytest.approx(np.sqrt(mse))


def test_theil_closed_forms() -> None:
    actual = np.array([1.0, 3.0, 2.0, 5.0, 4.0])
    bias = fit_statistics(actual + 2.0, actual)  # all error in the mean
    assert (bias.theil_um, bias.theil_us, bias.theil_uc) == pytest.approx((1, 0, 0))
    assert (bias.rmse, bias.r2) == pytest.approx((2.0, 1.0))
    stretched = actual.mean() + 3.0 * (actual - actual.mean())  # all in the variation
    assert fit_statistics(stretched, actual).theil_us == pytest.approx(1.0)
    mirrored = 2 * actual.mean() - actual  # same mean and sd, r = -1
    mirror = fit_statistics(mirrored, actual)
    assert mirror.theil_uc == pytest.approx(1.0)
    assert mirror.r2 == pytest.approx(1.0)  # r² does not see the sign
    assert fit_statistics(actual * 1.1, actual).mape == pytest.approx(0.1)


def test_theil_of_a_perfect_fit_is_undefined_and_json_null() -> None:
    result = fit_statistics([1.0, 2.0], [1.0, 2.0])
    assert result.rmse == 0.0
    assert result.to_dict()["theil_um"] is None


def test_fit_statistics_rejects_mismatched_arrays() -> None:
    with pytest.raises(ps.ParameterError, match=r"simulated, actual: expected two 1-D arrays"):
        fit_statistics([1.0, 2.0], [1.0])


# -- least squares -----------------------------------------------------------------------------


def test_least_squares_gives_the_ordinary_regression_line_and_its_intervals(tmp_path: Path) -> None:
    """x(t) = start_level + slope t exactly under Euler: the fit is ordinary least squares."""
    model = write(tmp_path, "line.yaml", LINE)
    rng = np.random.default_rng(3)
    t = np.arange(1.0, 11.0)
    y = 2.0 + 0.7 * t + rng.normal(0, 0.5, t.size)
    rows = "".join(f"{a},{b}\n" for a, b in zip(t, y, strict=True))
    (tmp_path / "data.csv").write_text("time,x\n" + rows)
    result = calibrate(model, tmp_path / "data.csv", starts=3)
    design = np.column_stack([np.ones_like(t), t])
    beta, ssr, *_ = np.linalg.lstsq(design, y, rcond=None)
    cov = ssr[0] / (t.size - 2) * np.linalg.inv(design.T @ design)
    half = stats.t.ppf(0.975, t.size - 2) * np.sqrt(np.diag(cov))
    for j, estimate in enumerate(result.estimates):
        assert estimate.estimate == pytest.approx(beta[j], rel=1e-6)
        assert (estimate.low, estimate.high) == pytest.approx(
            (beta[j] - half[j], beta[j] + half[j]), rel=1e-4
        )
    assert result.correlation[0, 1] == pytest.approx(
        cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1]), rel=1e-4
    )
    # the covariance a scenario's joint draw takes, as --json prints it
    printed = result.to_dict()["covariance"]
    names = [e.name for e in result.estimates]
    np.testing.assert_allclose([[printed[a][b] for b in names] for a in names], cov, rtol=1e-4)
    assert result.fit["x"].rmse == pytest.approx(np.sqrt(ssr[0] / t.size), rel=1e-6)


def test_fit_until_fits_the_early_points_and_scores_the_later_ones(tmp_path: Path) -> None:
    """An out-of-sample check is the fit of the early points alone, scored on the later ones:
    the estimates are those of least squares on the points up to the cut-off, and the holdout
    statistics are those of that line's predictions against the points it never saw."""
    model = write(tmp_path, "line.yaml", LINE)
    rng = np.random.default_rng(5)
    t = np.arange(1.0, 11.0)
    y = 2.0 + 0.7 * t + rng.normal(0, 0.5, t.size)
    rows = "".join(f"{a},{b}\n" for a, b in zip(t, y, strict=True))
    (tmp_path / "data.csv").write_text("time,x\n" + rows)
    result = calibrate(model, tmp_path / "data.csv", starts=2, fit_until=6)
    early = t <= 6
    beta = np.polyfit(t[early], y[early], 1)[::-1]
    assert [e.estimate for e in result.estimates] == pytest.approx(beta, rel=1e-6)
    assert result.problem.observations.size == int(early.sum())
    predicted = beta[0] + beta[1] * t[~early]
    expected = fit_statistics(predicted, y[~early])
    assert result.holdout["x"].rmse == pytest.approx(expected.rmse, rel=1e-6)
    assert result.holdout["x"].mape == pytest.approx(expected.mape, rel=1e-6)
    document = result.to_dict()
    assert document["fit_until"] == 6
    assert document["holdout"]["x"]["n"] == int((~early).sum())
    assert "out of sample: observations after 6" in result.summary()
    assert "holdout" not in calibrate(model, tmp_path / "data.csv", starts=1).to_dict()


def test_a_calibration_yaml_beside_the_data_names_what_is_fitted(tmp_path: Path) -> None:
    """With no parameters named, ``calibration.yaml`` in the data file's folder gives them and
    their bounds; naming parameters overrides it; the fit equals the one named by hand."""
    model = write(tmp_path, "line.yaml", LINE)
    (tmp_path / "data.csv").write_text("time,x\n1,1.9\n2,2.4\n3,3.1\n4,3.4\n")
    (tmp_path / "calibration.yaml").write_text("parameters: [slope]\nbounds: {slope: [0, 2]}\n")
    planned = calibrate(model, tmp_path / "data.csv", starts=2)
    by_hand = calibrate(
        model, tmp_path / "data.csv", parameters=["slope"], bounds={"slope": (0.0, 2.0)}, starts=2
    )
    assert [(e.name, e.bound_low, e.bound_high) for e in planned.estimates] == [("slope", 0, 2)]
    assert planned.values == pytest.approx(by_hand.values)
    named = calibrate(model, tmp_path / "data.csv", parameters=["start_level"], starts=2)
    assert [e.name for e in named.estimates] == ["start_level"]


def test_a_calibration_yaml_names_the_scenario_the_data_were_observed_under(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``scenario:`` in ``calibration.yaml``: calibrating the bare model fits it under that
    scenario (here an intervention that doubles the slope from t = 5), exactly as calibrating
    the scenario file does, on the command line as in Python; a scenario file given directly
    is run as it is."""
    model = write(tmp_path, "line.yaml", LINE)
    write(
        tmp_path,
        "doubled.yaml",
        """\
        scenario: doubled
        model: line.yaml
        interventions:
          - {step: slope, by: 1, at: 5}
        """,
    )
    data = tmp_path / "data" / "observed.csv"
    data.parent.mkdir()
    data.write_text("time,x\n2,3.0\n4,5.1\n6,8.0\n8,12.1\n10,15.9\n")
    bare = calibrate(model, data, parameters=["slope"], starts=2)
    plan = "parameters: [slope]\nscenario: ../doubled.yaml\n"
    (data.parent / "calibration.yaml").write_text(plan)
    planned = calibrate(model, data, starts=2)
    direct = calibrate(tmp_path / "doubled.yaml", data, parameters=["slope"], starts=2)
    assert planned.values == pytest.approx(direct.values)
    assert planned.values["slope"] != pytest.approx(bare.values["slope"], rel=0.05)
    assert planned.fit["x"].r2 > bare.fit["x"].r2
    assert main(["calibrate", str(model), "--data", str(data), "--json", "--starts", "2"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["fit"]["x"]["r2"] == pytest.approx(planned.fit["x"].r2)


def test_a_calibration_yaml_gives_the_starts_unless_they_are_asked_for(tmp_path: Path) -> None:
    model = write(tmp_path, "line.yaml", LINE)
    (tmp_path / "data.csv").write_text("time,x\n1,1.9\n2,2.4\n3,3.1\n4,3.4\n")
    assert calibrate(model, tmp_path / "data.csv").diagnostics["starts"] == 8
    (tmp_path / "calibration.yaml").write_text("parameters: [slope]\nstarts: 3\n")
    assert calibrate(model, tmp_path / "data.csv").diagnostics["starts"] == 3
    asked = calibrate(model, tmp_path / "data.csv", starts=2)
    assert asked.diagnostics["starts"] == 2


def test_a_calibration_yaml_scenario_must_exist_and_run_the_same_model(tmp_path: Path) -> None:
    model = write(tmp_path, "line.yaml", LINE)
    write(tmp_path, "other.yaml", LINE)
    write(tmp_path, "elsewhere.yaml", "scenario: elsewhere\nmodel: other.yaml\n")
    (tmp_path / "data.csv").write_text("time,x\n1,1.9\n2,2.4\n3,3.1\n")
    plan = tmp_path / "calibration.yaml"
    plan.write_text("parameters: [slope]\nscenario: elsewhere.yaml\n")
    with pytest.raises(DataError, match=r"scenario '.*elsewhere.yaml' runs another model \(got "):
        calibrate(model, tmp_path / "data.csv", starts=1)
    plan.write_text("parameters: [slope]\nscenario: missing.yaml\n")
    with pytest.raises(DataError, match=r"no scenario file at '.*missing.yaml' \(got 'missing"):
        calibrate(model, tmp_path / "data.csv", starts=1)
    plan.write_text("parameters: [slope]\nscenario: 3\n")
    with pytest.raises(DataError, match=r"scenario must be the path of a scenario .yaml file"):
        calibrate(model, tmp_path / "data.csv", starts=1)


@pytest.mark.parametrize(
    ("plan", "match"),
    [
        (
            "- slope\n",
            r"calibration.yaml: expected a mapping with a parameters list \(got "
            r"\['slope'\]\)",
        ),
        (
            "parameters: [slope]\nbound: {}\n",
            r"calibration.yaml: unknown key 'bound' \(got bound\)"
            r"\. Did you mean 'bounds'\?",
        ),
        ("parameters: slope\n", r"parameters must be a list of parameter names \(got 'slope'\)"),
        (
            "parameters: [slope]\nbounds: [0, 1]\n",
            r"bounds must map names to \[low, high\] \(got "
            r"\[0, 1\]\)",
        ),
        (
            "parameters: [slope]\nbounds: {slope: [2, 1]}\n",
            r"bounds of 'slope' must be \[low, high\],"
            r" two numbers with low below high \(got "
            r"\[2, 1\]\)",
        ),
        ("parameters: [slope\n", r"calibration.yaml: invalid YAML"),
        (
            "parameters: [slope]\nstarts: 0\n",
            r"starts must be a whole number of at least 1 \(got 0\)",
        ),
    ],
)
def test_a_bad_calibration_yaml_is_refused(tmp_path: Path, plan: str, match: str) -> None:
    model = write(tmp_path, "line.yaml", LINE)
    (tmp_path / "data.csv").write_text("time,x\n1,1.9\n2,2.4\n3,3.1\n")
    (tmp_path / "calibration.yaml").write_text(plan)
    with pytest.raises(DataError, match=match):
        calibrate(model, tmp_path / "data.csv", starts=1)


@pytest.mark.parametrize("until", [0.5, 10, 12])
def test_a_cut_off_that_leaves_one_side_empty_is_refused(tmp_path: Path, until: float) -> None:
    model = write(tmp_path, "line.yaml", LINE)
    (tmp_path / "data.csv").write_text("time,x\n1,2\n2,3\n5,4\n10,6\n")
    with pytest.raises(
        ps.ParameterError,
        match=r"fit_until: the cut-off must leave "
        r"observations to fit and observations after it \(got ",
    ):
        calibrate(model, tmp_path / "data.csv", starts=1, fit_until=until)


def test_runs_that_fail_do_not_stop_the_search(tmp_path: Path) -> None:
    """LN(k) fails for k <= 0, inside the bounds: those members are set aside, not fatal."""
    model = write(
        tmp_path,
        "log.yaml",
        """\
        time: {stop: 4, dt: 0.5}
        parameters: {k: {value: 1, range: [-1, 3]}}
        stocks: {x: {initial: 0}}
        flows: {inflow: {to: x, rate: LN(k) + 1}}
        """,
    )
    data = write(tmp_path, "d.csv", "time,x\n1,1.7\n2,3.3\n3,5.1\n4,6.8\n")
    with pytest.raises(ps.SimulationError):
        ps.simulate(ps.load_model(model), {"k": [-0.5, 1.0]})
    result = calibrate(model, data, starts=4)
    slope = np.array([1.7, 3.3, 5.1, 6.8]) @ [1, 2, 3, 4] / 30  # x = (LN(k) + 1) t
    assert result.values["k"] == pytest.approx(np.exp(slope - 1), rel=1e-6)


def test_least_squares_recovers_true_sir_values_within_the_intervals(sir_fit: Calibration) -> None:
    for estimate in sir_fit.estimates:
        assert estimate.low < TRUE[estimate.name] < estimate.high, estimate
        assert estimate.high - estimate.low < 0.2 * (estimate.bound_high - estimate.bound_low)
    assert sir_fit.diagnostics["starts_reaching_best"] >= 2
    assert all(stats.r2 > 0.98 for stats in sir_fit.fit.values())


def test_band_contains_the_fitted_run(sir_fit: Calibration) -> None:
    for name, (low, high) in sir_fit.band.items():
        run = sir_fit.run.values[:, sir_fit.run.index(name), 0]
        assert np.all(low <= run + 1e-6 * np.abs(run).max())
        assert np.all(run <= high + 1e-6 * np.abs(run).max())


def test_least_squares_warns_of_parameters_the_data_cannot_separate(sir_data: Path) -> None:
    """Only the product contact_rate * infectivity enters the SIR model."""
    result = calibrate(
        SIR, sir_data, parameters=["contact_rate", "infectivity", "duration"], starts=2
    )
    text = " ".join(result.warnings)
    assert "do not determine contact_rate, infectivity separately" in text
    assert "contact_rate and infectivity are correlated (-1.000)" in text
    assert "duration" not in text  # the data do determine the duration


def test_progress_rises_to_one(sir_data: Path) -> None:
    seen: list[float] = []
    calibrate(SIR, sir_data, parameters=["duration"], starts=2, progress=seen.append)
    assert seen[-1] == 1.0
    assert seen == sorted(seen)


def test_shipped_sir_data_is_what_its_sources_say_and_the_worked_example_holds() -> None:
    """models/sir/data/SOURCES.md: the model at known values, 5% relative noise, seed 2024."""
    shipped = SIR / "data" / "observed.csv"
    table = synthetic_data(SIR, TRUE, ["infected", "recovered"], range(1, 31), seed=2024)
    table["time"] = table["time"].astype(int)
    assert table.to_csv(index=False) == shipped.read_text()
    result = calibrate(SIR, shipped, parameters=FITTED, bounds=BOUNDS, errors=RELATIVE)
    for estimate in result.estimates:
        assert estimate.low < TRUE[estimate.name] < estimate.high, estimate
    assert not result.warnings


# -- MCMC --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sir_mcmc(sir_data: Path) -> Calibration:
    return calibrate(
        SIR,
        sir_data,
        parameters=FITTED,
        bounds=BOUNDS,
        errors=RELATIVE,
        method="mcmc",
        starts=2,
        walkers=16,
        steps=400,
        seed=5,
    )


def test_mcmc_recovers_true_sir_values_within_the_credible_intervals(sir_mcmc: Calibration) -> None:
    for estimate in sir_mcmc.estimates:
        assert estimate.low < TRUE[estimate.name] < estimate.high, estimate
    assert sir_mcmc.samples is not None
    assert sir_mcmc.samples.shape == (16 * 300, 3)
    assert 0.0 < sir_mcmc.diagnostics["acceptance_fraction"] < 1.0
    assert sir_mcmc.runs >= 16 * 400


def test_mcmc_and_least_squares_agree_on_a_near_normal_posterior(
    sir_mcmc: Calibration, sir_fit: Calibration
) -> None:
    for bayes, classical in zip(sir_mcmc.estimates, sir_fit.estimates, strict=True):
        width = classical.high - classical.low
        assert bayes.estimate == pytest.approx(classical.estimate, abs=0.25 * width)
        assert bayes.high - bayes.low == pytest.approx(width, rel=0.5)


def test_short_chain_gets_a_convergence_warning(sir_data: Path) -> None:
    result = calibrate(
        SIR,
        sir_data,
        parameters=["duration"],
        method="mcmc",
        starts=1,
        walkers=8,
        steps=40,
        burn=10,
    )
    assert any("may not have converged" in w for w in result.warnings)


def test_unknown_sd_series_use_their_marginal_likelihood(sir_data: Path) -> None:
    """Without an error model the sd is integrated out: the posterior still covers the truth."""
    result = calibrate(
        SIR,
        sir_data,
        parameters=FITTED,
        bounds=BOUNDS,
        method="mcmc",
        starts=1,
        walkers=16,
        steps=300,
        seed=2,
    )
    for estimate in result.estimates:
        assert estimate.low < TRUE[estimate.name] < estimate.high, estimate


# -- data -------------------------------------------------------------------------------------


def test_missing_cells_sd_columns_and_measures(tmp_path: Path) -> None:
    names = ["infected", "recovered", "infected_share"]
    path = write(
        tmp_path,
        "d.csv",
        "time,infected,infected:sd,infected_share\n2,10,1,\n1,5,2,0.001\n3,,,0.002\n",
    )
    data = read_observations(path, names)
    infected, share = data.series
    assert infected.times.tolist() == [1.0, 2.0]
    assert infected.values.tolist() == [5.0, 10.0]
    assert infected.sd is not None
    assert infected.sd.tolist() == [2.0, 1.0]
    assert share.times.tolist() == [1.0, 3.0]
    assert share.sd is None


def test_iso_dates_become_decimal_years(tmp_path: Path) -> None:
    model = write(
        tmp_path,
        "yearly.yaml",
        """\
        time: {start: 2020, stop: 2023, dt: 0.25, units: year}
        parameters: {slope: {value: 1, range: [0, 5]}}
        stocks: {x: {initial: 0}}
        flows: {inflow: {to: x, rate: slope}}
        """,
    )
    data = write(tmp_path, "d.csv", "time,x\n2021-01-01,2\n2022-07-02,5\n2023-01-01,6\n")
    result = calibrate(model, data, starts=1)
    t = np.array([1.0, 2 + 182 / 365, 3.0])  # years since the start; 2022 has 365 days
    assert result.problem.observations.series[0].times.tolist() == pytest.approx(2020 + t)
    assert result.values["slope"] == pytest.approx(t @ [2, 5, 6] / (t @ t), rel=1e-6)
    assert decimal_year("2024-12-31") == pytest.approx(2024 + 365 / 366)


def test_bounds_come_from_the_scenario_uncertainty_block() -> None:
    scenario = Scenario.load(ROOT / "scenarios" / "sir" / "uncertain-distancing.yaml")
    chosen = {
        p.name: (p.low, p.high) for p in fit_parameters(scenario, scenario.load_model(), None, {})
    }
    assert chosen == {
        "contact_rate": (2.0, 10.0),
        "infectivity": (0.1, 0.5),
        "duration": (1.5, 3.0),
        "initial_infected": (1.0, 10.0),
        "initial_population": (9000.0, 11000.0),
    }


def test_relative_error_model_floors_zero_observations() -> None:
    sd = ErrorModel("relative", 0.1).sd(np.array([0.0, 50.0, 100.0]))
    assert sd.tolist() == pytest.approx([0.1, 5.0, 10.0])


# -- command line ------------------------------------------------------------------------------


def test_json_prints_the_documented_shape(
    capsys: pytest.CaptureFixture[str], sir_data: Path
) -> None:
    status = main(
        [
            "calibrate",
            str(SIR),
            "--data",
            str(sir_data),
            "--parameters",
            "contact_rate,duration",
            "--starts",
            "2",
            "--json",
        ]
    )
    out = capsys.readouterr().out
    assert status == 0
    result = json.loads(out)
    assert {"parameters", "fit", "method", "runs"} <= set(result)
    assert result["method"] == "least-squares"
    assert result["runs"] > 0
    assert set(result["parameters"]) == {"contact_rate", "duration"}
    for entry in result["parameters"].values():
        assert {"estimate", "low", "high"} <= set(entry)
        assert entry["low"] <= entry["estimate"] <= entry["high"]
    assert set(result["fit"]) == {"infected", "recovered"}
    for entry in result["fit"].values():
        assert {"r2", "mape", "rmse", "theil_um", "theil_us", "theil_uc"} <= set(entry)


def test_written_scenario_reproduces_the_fitted_run(
    capsys: pytest.CaptureFixture[str], sir_data: Path, sir_fit: Calibration, tmp_path: Path
) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    target = tmp_path / "scenarios" / "calibrated.yaml"
    target.parent.mkdir()
    status = main(
        [
            "calibrate",
            str(SIR),
            "--data",
            str(sir_data),
            "--parameters",
            ",".join(FITTED),
            "--bounds",
            "initial_infected=0.5:20",
            "--error",
            "infected=relative:0.05,recovered=relative:0.05",
            "--starts",
            "4",
            "--write-scenario",
            str(target),
            "--out",
            str(tmp_path / "out"),
        ]
    )
    out = capsys.readouterr().out
    assert status == 0, out
    document = yaml.safe_load(target.read_text())
    jsonschema.validate(document, json_schema(ps.load_model(SIR).parameter_names))
    fitted = sir_fit  # the same calibration through the API
    assert document["set"] == pytest.approx(fitted.values)
    rerun = ps.run_scenario(target).results
    for name in ("infected", "recovered"):
        np.testing.assert_allclose(rerun[name].to_numpy(), fitted.run[name].to_numpy(), rtol=1e-9)
    table = (tmp_path / "out" / "fit.csv").read_text().splitlines()
    assert table[0] == "time,series,observed,simulated,band_low,band_high"
    assert (tmp_path / "out" / "fit-infected.png").read_bytes()[:4] == b"\x89PNG"


def test_mcmc_on_the_command_line_writes_the_posterior(
    capsys: pytest.CaptureFixture[str], sir_data: Path, tmp_path: Path
) -> None:
    status = main(
        [
            "calibrate",
            str(SIR),
            "--data",
            str(sir_data),
            "--parameters",
            "duration",
            "--method",
            "mcmc",
            "--starts",
            "1",
            "--walkers",
            "4",
            "--steps",
            "20",
            "--out",
            str(tmp_path),
        ]
    )
    out = capsys.readouterr().out
    assert status == 0
    assert "posterior median and 95% interval" in out
    assert "acceptance_fraction" in out
    samples = (tmp_path / "posterior.csv").read_text().splitlines()
    assert samples[0] == "duration"
    assert len(samples) == 1 + 4 * 15


def test_mcmc_scenario_has_a_posterior_uncertainty_block(
    sir_mcmc: Calibration, tmp_path: Path
) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    document = sir_mcmc.scenario_document(tmp_path, name="posterior")
    jsonschema.validate(document, json_schema(ps.load_model(SIR).parameter_names))
    path = tmp_path / "posterior.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    result = ps.run_scenario(path)
    assert sir_mcmc.samples is not None
    for j, name in enumerate(FITTED):
        sampled = result.samples[name]
        assert sampled.mean() == pytest.approx(sir_mcmc.samples[:, j].mean(), rel=0.01)
        assert sampled.std() == pytest.approx(sir_mcmc.samples[:, j].std(), rel=0.1)
    # drawn jointly: the posterior's correlation carries over
    drawn = np.corrcoef([result.samples[name] for name in FITTED])
    np.testing.assert_allclose(drawn, np.corrcoef(sir_mcmc.samples, rowvar=False), atol=0.1)


def test_a_scenario_with_interventions_and_uncertainty_calibrates_and_writes_back(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """contact_rate steps to 3 on day 5: the fit finds its value before the step; the written
    scenario keeps the step, sets the estimates and keeps the uncertain parameters not fitted."""
    jsonschema = pytest.importorskip("jsonschema")
    scenario = ROOT / "scenarios" / "sir" / "uncertain-distancing.yaml"
    truth = {"contact_rate": 7.0, "duration": 2.5}
    data = tmp_path / "observed.csv"
    synthetic_data(scenario, truth, ["infected"], np.arange(1, 31), seed=3).to_csv(
        data, index=False
    )
    target = tmp_path / "calibrated.yaml"
    status = main(
        [
            "calibrate",
            str(scenario),
            "--data",
            str(data),
            "--parameters",
            "contact_rate,duration",
            "--error",
            "infected=relative:0.05",
            "--starts",
            "2",
            "--json",
            "--write-scenario",
            str(target),
        ]
    )
    result = json.loads(capsys.readouterr().out)
    assert status == 0
    for name, value in truth.items():
        entry = result["parameters"][name]
        assert entry["low"] < value < entry["high"]
    assert result["parameters"]["duration"]["high"] <= 3.0  # the triangular's bounds
    document = yaml.safe_load(target.read_text())
    jsonschema.validate(document, json_schema(ps.load_model(SIR).parameter_names))
    assert document["interventions"] == [{"step": "contact_rate", "to": 3.0, "at": 5.0}]
    assert set(document["uncertainty"]["parameters"]) == {
        "infectivity",
        "initial_infected",
        "initial_population",
    }
    rerun = Scenario.load(target).with_uncertainty(None).run().results
    estimates = {k: v["estimate"] for k, v in result["parameters"].items()}
    expected = Scenario.load(scenario).with_uncertainty(None).with_set(**estimates).run().results
    np.testing.assert_allclose(rerun["infected"], expected["infected"], rtol=1e-9)


# -- bad input ---------------------------------------------------------------------------------


def _problem(tmp_path: Path, csv: str, **options: object) -> object:
    data = write(tmp_path, "observed.csv", csv)
    return calibration_problem(Scenario(model=SIR), data, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("csv", "match"),
    [
        ("", r"observed\.csv: the file is empty \(got no header\)"),
        ("tme,infected\n1,2\n", r"no 'time' column \(got 'tme' first\)\. Did you mean 'time'\?"),
        (
            "time,infectd\n1,2\n",
            r"column 'infectd': unknown variable 'infectd' in the model\. "
            r"Did you mean 'infected'\?",
        ),
        ("time,infected:var\n1,2\n", r"column 'infected:var': unknown suffix ':var'"),
        ("time,infected,infected\n1,2,3\n", r"column 'infected' appears twice"),
        (
            "time,infected:sd\n1,2\n",
            r"'infected:sd' gives errors for 'infected', which has no "
            r"column",
        ),
        ("time\n1\n", r"no observed series \(got only a time column\)"),
        ("time,infected\n", r"no data rows \(got only the header 'time,infected'\)"),
        ("time,infected\n1,2,3\n", r"row 2: 3 cells for 2 columns"),
        ("time,infected\n1,many\n", r"row 2, column 'infected': not a number \(got 'many'\)"),
        ("time,infected\n1,1e999\n", r"row 2, column 'infected': not a number \(got '1e999'\)"),
        (
            "time,infected\n2021-01-01,5\n",
            r"row 2, column 'time': not a time \(got '2021-01-01'\)\. "
            r"Write a number in the model's time units \(dates need",
        ),
        (
            "time,infected\n1,5\n31,7\n45,8\n",
            r"time 31 is outside the run, which goes from 0 to 30 "
            r"\(got 2 such rows\)",
        ),
        ("time,infected,recovered\n1,5,\n", r"column 'recovered' has no values"),
        (
            "time,infected,infected:sd\n1,5,0\n",
            r"row 2, column 'infected:sd': the sd of an "
            r"observation must be a positive number \(got 0\)",
        ),
    ],
)
def test_bad_data_files_are_refused(tmp_path: Path, csv: str, match: str) -> None:
    with pytest.raises(DataError, match=match):
        _problem(tmp_path, csv)


def test_missing_or_unreadable_data_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nothing\.csv: no data file there"):
        calibration_problem(Scenario(model=SIR), tmp_path / "nothing.csv")
    (tmp_path / "binary.csv").write_bytes(b"time,x\n\xff\xfe\x00\n")
    with pytest.raises(DataError, match=r"binary\.csv: not a readable CSV file"):
        calibration_problem(Scenario(model=SIR), tmp_path / "binary.csv")
    with pytest.raises(DataError, match=r"cannot read the file"):
        calibration_problem(Scenario(model=SIR), tmp_path)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        (
            {"parameters": ["contact_rat"]},
            r"sir/model\.yaml: parameter 'contact_rat' to fit is "
            r"unknown .*Did you mean 'contact_rate'\?",
        ),
        ({"parameters": ["infected"]}, r"parameter 'infected' to fit is not a parameter"),
        (
            {"parameters": ["initial_infected"]},
            r"sir/model\.yaml: parameters\.initial_infected: no "
            r"bounds to fit it within \(got no range\)\..*--bounds "
            r"initial_infected=LOW:HIGH",
        ),
        (
            {"parameters": ["duration"], "bounds": {"durtion": (1.0, 2.0)}},
            r"bounds: 'durtion' is not among the parameters to fit .*Did you mean 'duration'\?",
        ),
        (
            {"parameters": ["duration"], "bounds": {"duration": (2.0, 1.0)}},
            r"bounds: duration: low must be below high, both finite \(got 2:1\)",
        ),
        (
            {"errors": {"infectd": ErrorModel("sd", 1.0)}},
            r"observed\.csv: error model for 'infectd', which the file does not observe\. "
            r"Did you mean 'infected'\?",
        ),
    ],
)
def test_bad_parameters_and_bounds_are_refused(
    tmp_path: Path, options: dict[str, object], match: str
) -> None:
    with pytest.raises(ps.ParameterError if "errors" not in options else DataError, match=match):
        _problem(tmp_path, "time,infected\n1,5\n2,9\n", **options)


def test_a_model_without_ranges_has_nothing_to_fit(tmp_path: Path) -> None:
    model = write(
        tmp_path,
        "plain.yaml",
        "time: {stop: 2}\nparameters: {k: 1}\nstocks: {x: 0}\nflows: {f: {to: x, rate: k}}\n",
    )
    data = write(tmp_path, "d.csv", "time,x\n1,1\n")
    with pytest.raises(
        ps.ParameterError,
        match=r"plain\.yaml: no parameters to fit \(got no "
        r"parameter with a range",
    ):
        calibrate(model, data)


def test_bad_methods_and_sampler_settings_are_refused(tmp_path: Path) -> None:
    data = write(tmp_path, "d.csv", "time,infected\n1,5\n2,9\n3,20\n")
    with pytest.raises(
        ps.ParameterError,
        match=r"method: unknown calibration method 'mcm'\. "
        r"Did you mean 'mcmc'\?",
    ):
        calibrate(SIR, data, method="mcm")
    with pytest.raises(ps.ParameterError, match=r"3 observations cannot determine 3 parameters"):
        calibrate(SIR, data)
    with pytest.raises(
        ps.ParameterError,
        match=r"seed: expected a whole number of at least 0 "
        r"\(got -3\)",
    ):
        calibrate(SIR, data, parameters=["duration"], seed=-3)
    with pytest.raises(ps.ParameterError, match=r"starts: at least one start is needed"):
        calibrate(SIR, data, parameters=["duration"], starts=0)
    with pytest.raises(
        ps.ParameterError,
        match=r"walkers: need an even number of at least "
        r"twice the parameters, 2 \(got 3\)",
    ):
        calibrate(SIR, data, parameters=["duration"], method="mcmc", starts=1, walkers=3)
    with pytest.raises(
        ps.ParameterError,
        match=r"burn: the burn-in must be shorter than the "
        r"chain \(got steps=10, burn=10\)",
    ):
        calibrate(
            SIR,
            data,
            parameters=["duration"],
            method="mcmc",
            starts=1,
            walkers=4,
            steps=10,
            burn=10,
        )


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            "relativ:0.1",
            r"--error x: expected sd:VALUE or relative:FRACTION with a positive number "
            r"\(got 'relativ:0\.1'\)\. Did you mean 'relative'\?",
        ),
        ("sd:-1", r"--error x: expected sd:VALUE .*\(got 'sd:-1'\)"),
    ],
)
def test_bad_error_models_are_refused(text: str, match: str) -> None:
    with pytest.raises(DataError, match=match):
        ErrorModel.parse(text, "--error x")
    with pytest.raises(DataError, match=r"error model: unknown kind 'var'"):
        ErrorModel("var", 1.0)
    with pytest.raises(DataError, match=r"error model: sd must be a positive number"):
        ErrorModel("sd", 0.0)


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (
            ["--bounds", "duration=2"],
            r"--bounds: expected NAME=LOW:HIGH with LOW below HIGH \(got "
            r"'duration=2'\)",
        ),
        (
            ["--error", "infected"],
            r"--error: expected SERIES=sd:X or SERIES=relative:F \(got "
            r"'infected'\)",
        ),
        (["--starts", "0"], r"--starts: must be at least 1 \(got 0\)"),
        (["--seed", "-1"], r"--seed: must be a whole number of at least 0 \(got -1\)"),
        (["--write-scenario", "out.txt"], r"--write-scenario: a scenario file ends in \.yaml"),
        (
            ["--write-scenario", "no/such/folder/c.yaml"],
            r"--write-scenario: no folder 'no/such/"
            r"folder'",
        ),
        (["--method", "powell"], r"calibrate: argument --method: invalid choice: 'powell'"),
        (["--parameters", "initial_infected"], r"no bounds to fit it within"),
        (["--fit-until", "40"], r"fit_until: the cut-off must leave observations to fit"),
    ],
)
def test_command_line_errors_are_one_line_with_status_2(
    capsys: pytest.CaptureFixture[str], sir_data: Path, extra: list[str], match: str
) -> None:
    status = main(["calibrate", str(SIR), "--data", str(sir_data), *extra])
    err = capsys.readouterr().err
    assert status == 2
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("pssc: error: ")
    assert re.search(match, err), err
