"""``pssc sensitivity`` and :func:`pssc_sim.inference.sensitivity.sensitivity` against closed
forms (variance shares of a linear output, the Ishigami function), against SALib's own analysis
of the same design, and their bad input."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

import pssc_sim as ps
from pssc_sim.cli import main
from pssc_sim.inference.design import Experiment, Request, Statistic
from pssc_sim.inference.sensitivity import METHODS, sensitivity
from tests.conftest import write_yaml

COEFFICIENTS = {"a": 1.0, "b": -2.0, "c": 3.0}
RANGES = {"a": (0.0, 1.0), "b": (1.0, 2.0), "c": (0.0, 2.0)}

LINEAR = """\
    model: linear
    time: {start: 0, stop: 4, dt: 0.5}
    parameters:
      a: {value: 0.5, range: [0, 1]}
      b: {value: 1.5, range: [1, 2]}
      c: {value: 1, range: [0, 2]}
      unused: {value: 1, range: [0, 1]}
      fixed: 2
    stocks:
      x: 0
    flows:
      inflow: {to: x, rate: y}
    auxiliaries:
      y: 1 * a - 2 * b + 3 * c
"""

ISHIGAMI = """\
    model: ishigami
    time: {start: 0, stop: 1, dt: 1}
    parameters:
      x1: {value: 0, range: [-3.141592653589793, 3.141592653589793]}
      x2: {value: 0, range: [-3.141592653589793, 3.141592653589793]}
      x3: {value: 0, range: [-3.141592653589793, 3.141592653589793]}
    stocks:
      s: 0
    auxiliaries:
      y: SIN(x1) + 7 * SIN(x2) ** 2 + 0.1 * x3 ** 4 * SIN(x1)
"""


def linear_shares() -> dict[str, float]:
    """First-order (= total) indices of sum c_i p_i, p_i uniform of width w_i: c_i²w_i²/Σ."""
    variances = {k: (c * (RANGES[k][1] - RANGES[k][0])) ** 2 / 12 for k, c in COEFFICIENTS.items()}
    total = sum(variances.values())
    return {k: v / total for k, v in variances.items()}


@pytest.fixture
def linear(tmp_path: Path) -> Path:
    return write_yaml(tmp_path, LINEAR)


@pytest.fixture
def ishigami(tmp_path: Path) -> Path:
    return write_yaml(tmp_path, ISHIGAMI)


def test_sobol_first_order_of_a_linear_output_is_its_variance_share(linear: Path) -> None:
    result = sensitivity(
        Experiment.load(linear), "y", parameters=["a", "b", "c"], samples=1024, seed=3
    )
    for name, share in linear_shares().items():
        s1, st = result.indices[name]["S1"], result.indices[name]["ST"]
        assert abs(s1 - share) <= result.indices[name]["S1_conf"] + 1e-3
        assert abs(st - share) <= result.indices[name]["ST_conf"] + 1e-3
    assert result.runs == 1024 * (3 + 2)


def test_fast_first_order_of_a_linear_output_is_its_variance_share(linear: Path) -> None:
    result = sensitivity(
        Experiment.load(linear),
        "y",
        method="fast",
        parameters=["a", "b", "c"],
        samples=1000,
        seed=3,
    )
    for name, share in linear_shares().items():
        assert result.indices[name]["S1"] == pytest.approx(share, abs=0.02)
    assert result.runs == 3000


def test_sobol_recovers_the_ishigami_indices(ishigami: Path) -> None:
    # Ishigami and Homma (1990) with a = 7, b = 0.1: variances known in closed form
    a, b, pi = 7.0, 0.1, math.pi
    v1 = 0.5 * (1 + b * pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * pi**8 * (1 / 18 - 1 / 50)
    total = v1 + v2 + v13
    expected_s1 = {"x1": v1 / total, "x2": v2 / total, "x3": 0.0}
    expected_st = {"x1": (v1 + v13) / total, "x2": v2 / total, "x3": v13 / total}
    result = sensitivity(Experiment.load(ishigami), "y", samples=2048, seed=5)
    for name in ("x1", "x2", "x3"):
        got = result.indices[name]
        assert abs(got["S1"] - expected_s1[name]) <= got["S1_conf"] + 0.01
        assert abs(got["ST"] - expected_st[name]) <= got["ST_conf"] + 0.01


def test_indices_equal_salibs_own_analysis_of_its_design(ishigami: Path) -> None:
    from SALib.analyze import sobol as sobol_analysis
    from SALib.sample import sobol as sobol_sample

    bounds = [[-math.pi, math.pi]] * 3
    problem = {"num_vars": 3, "names": ["x1", "x2", "x3"], "bounds": bounds}
    x = sobol_sample.sample(problem, 256, calc_second_order=True, seed=11)
    params = {name: x[:, j] for j, name in enumerate(problem["names"])}
    runs = ps.simulate(ps.load_model(ishigami), params, outputs=["y"])
    theirs = sobol_analysis.analyze(
        problem, runs["y"].iloc[-1].to_numpy(), calc_second_order=True, seed=11
    )
    ours = sensitivity(Experiment.load(ishigami), "y", samples=256, second_order=True, seed=11)
    assert np.allclose(ours.values, x, atol=1e-9)
    for j, name in enumerate(problem["names"]):
        for key in ("S1", "S1_conf", "ST", "ST_conf"):
            assert ours.indices[name][key] == pytest.approx(theirs[key][j], abs=1e-7)
    assert ours.second_order[("x1", "x3")]["S2"] == pytest.approx(theirs["S2"][0, 2], abs=1e-7)


def test_morris_gives_no_effect_to_a_parameter_the_model_ignores(linear: Path) -> None:
    result = sensitivity(Experiment.load(linear), "y", method="morris", samples=20, seed=2)
    assert result.indices["unused"]["mu_star"] == 0.0
    assert result.indices["unused"]["sigma"] == 0.0
    # a linear output has one elementary effect per parameter: |c_i| times its width
    for name, c in COEFFICIENTS.items():
        width = RANGES[name][1] - RANGES[name][0]
        assert result.indices[name]["mu_star"] == pytest.approx(abs(c) * width)
        assert result.indices[name]["sigma"] == pytest.approx(0.0, abs=1e-9)
    assert result.runs == 20 * (4 + 1)


def test_scenario_distributions_map_the_unit_design(tmp_path: Path, linear: Path) -> None:
    scenario = write_yaml(
        tmp_path,
        """\
        scenario: uncertain
        model: model.yaml
        uncertainty:
          members: 10
          parameters:
            a: {distribution: normal, mean: 1, sd: 0.5}
            c:
        """,
        "uncertain.yaml",
    )
    result = sensitivity(Experiment.load(scenario), "y", samples=64, seed=1)
    assert result.parameters == ("a", "c")
    distributions = Experiment.load(scenario).distributions()
    assert np.allclose(result.values[:, 0], distributions["a"].ppf(result.unit[:, 0]))
    assert np.allclose(result.values[:, 1], result.unit[:, 1] * 2, atol=1e-9)  # c's range


def test_index_over_time_follows_the_stock(linear: Path) -> None:
    # x = y t: at every time after the start the variance shares are those of y
    result = sensitivity(
        Experiment.load(linear),
        "x",
        Statistic("series"),
        parameters=["a", "b", "c"],
        samples=512,
        seed=4,
    )
    assert result.times is not None
    assert result.times[0] == 0.0
    for name, share in linear_shares().items():
        series = result.over_time[name]["S1"]
        assert series[0] == 0.0  # every member starts at 0
        assert np.allclose(series[1:], share, atol=0.05)


def test_chunked_design_equals_one_call(linear: Path) -> None:
    experiment = Experiment.load(linear)
    design = np.random.default_rng(1).random((50, 2))
    requests = [Request("x", Statistic("mean")), Request("y", Statistic("at", 1.25))]
    whole = experiment.evaluate(["a", "c"], design, requests)
    chunked = experiment.evaluate(["a", "c"], design, requests, memory=1)  # one member a chunk
    for one, other in zip(whole, chunked, strict=True):
        assert np.allclose(one, other, rtol=1e-12, atol=1e-12)  # up to rounding
    # y is constant in time, and the mean of x = y t over [0, 4] is 2 y
    y = design[:, 0] - 2 * 1.5 + 3 * design[:, 1]
    assert np.allclose(whole[1], y)
    assert np.allclose(whole[0], 2 * y)


def test_statistics_reduce_series() -> None:
    times = np.array([0.0, 1.0, 3.0])
    values = np.array([[1.0], [3.0], [2.0]])
    assert Statistic("final").reduce(times, values).tolist() == [2.0]
    assert Statistic("max").reduce(times, values).tolist() == [3.0]
    assert Statistic("min").reduce(times, values).tolist() == [1.0]
    assert Statistic("mean").reduce(times, values).tolist() == [(2.0 + 5.0) / 3]
    assert Statistic("at", 2.0).reduce(times, values).tolist() == [2.5]


def test_a_constant_output_has_zero_indices(linear: Path) -> None:
    result = sensitivity(Experiment.load(linear), "fixed", samples=16, seed=1)
    assert result.constant
    assert all(v == 0.0 for values in result.indices.values() for v in values.values())


def test_cli_json_has_the_documented_keys(linear: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "sensitivity",
                str(linear),
                "--output",
                "y",
                "--samples",
                "64",
                "--parameters",
                "a,b",
                "c",
                "--json",
            ]
        )
        == 0
    )
    document = json.loads(capsys.readouterr().out)
    assert {"method", "output", "runs", "indices"} <= set(document)
    assert document["runs"] == 64 * 5
    assert set(document["indices"]) == {"a", "b", "c"}
    assert set(document["indices"]["a"]) == {"S1", "S1_conf", "ST", "ST_conf"}
    assert (
        main(
            [
                "sensitivity",
                str(linear),
                "--output",
                "y",
                "--method",
                "morris",
                "--samples",
                "4",
                "--json",
            ]
        )
        == 0
    )
    morris = json.loads(capsys.readouterr().out)
    assert {"mu_star", "sigma"} <= set(morris["indices"]["a"])


def test_cli_out_writes_indices_and_index_over_time(
    linear: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sens"
    assert (
        main(
            [
                "sensitivity",
                str(linear),
                "--output",
                "x",
                "--samples",
                "32",
                "--over-time",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "sobol" in text
    assert "unused" in text
    for name in ("indices.csv", "indices.png", "over_time.csv", "over_time.png"):
        assert (out / name).stat().st_size > 0
    header = (out / "over_time.csv").read_text().splitlines()[0]
    assert header == "time,parameter,S1,S1_conf,ST,ST_conf"
    # a second analysis replaces the whole set: no index over time is left from the first
    (out / "notes.txt").write_text("mine")
    assert (
        main(["sensitivity", str(linear), "--output", "x", "--samples", "32", "--out", str(out)])
        == 0
    )
    assert sorted(p.name for p in out.iterdir()) == ["indices.csv", "indices.png", "notes.txt"]


def test_methods_table_lists_the_four_methods() -> None:
    assert list(METHODS) == ["sobol", "morris", "fast", "rbd-fast"]
    assert METHODS["sobol"].runs(1024, 10, True) == 22_528
    assert METHODS["rbd-fast"].runs(500, 10, False) == 500


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (
            ["--method", "sobl"],
            r"--method: unknown sensitivity method 'sobl'.*Did you mean 'sobol'",
        ),
        (["--samples", "1000"], r"--samples: .*\(got 1000\). Sobol' designs need a power of two"),
        (["--samples", "10", "--method", "fast"], r"--samples: .*FAST needs more than 64"),
        (["--samples", "10", "--method", "rbd-fast"], r"--samples: .*RBD-FAST needs at least 40"),
        (["--parameters", "fixed"], r"--parameters: parameter 'fixed' has no bounds"),
        (["--parameters", "aa"], r"--parameters: 'aa' is unknown .*Did you mean 'a'"),
        (["--parameters", "y"], r"--parameters: 'y' is a variable, not a parameter"),
        (["--at", "9"], r"--at: time 9 is outside the run \(got 9, the run goes from 0 to 4\)"),
        (["--second-order", "--method", "morris"], r"--second-order: only Sobol'"),
        (["--over-time", "--at", "2"], r"--over-time: .*\(got --at 2\)\. Drop --at"),
        (["--samples", "1073741824"], r"--samples: the design would take"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(
    linear: Path, args: list[str], match: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sensitivity", str(linear), "--output", "y", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("pssc: error: ")
    assert re.search(match, err), err


def test_unknown_output_suggests_a_name(linear: Path) -> None:
    with pytest.raises(
        ps.ParameterError,
        match=r"--output: unknown variable 'inflw'.*"
        r"Did you mean 'inflow'",
    ):
        sensitivity(Experiment.load(linear), "inflw", samples=16)


def test_statistic_checks_its_settings() -> None:
    with pytest.raises(ps.ParameterError, match=r"statistic: a time goes with 'at'"):
        Statistic("final", 3.0)
    with pytest.raises(ps.ParameterError, match=r"statistic: the time must be finite"):
        Statistic("at", math.inf)
    with pytest.raises(ps.ParameterError, match=r"design: expected members x 1 parameters"):
        Experiment.from_model(
            ps.load_model(Path(ps.__file__).parent.parent / "models" / "teacup")
        ).evaluate(["room_temperature"], np.ones((2, 2)), [])


def test_progress_rises_to_one_across_chunks(linear: Path) -> None:
    seen: list[float] = []
    experiment = Experiment.load(linear)
    design = np.random.default_rng(2).random((40, 1))
    experiment.evaluate(["a"], design, [Request("y")], progress=seen.append, memory=200)
    assert seen[-1] == 1.0
    assert np.all(np.diff(seen) >= 0)
    assert len(seen) > 1  # one report at least per chunk


def test_a_model_with_nothing_to_vary_is_refused(tmp_path: Path) -> None:
    path = write_yaml(tmp_path, "time: {stop: 1}\nparameters: {k: 1}\nstocks: {x: k}\n")
    with pytest.raises(
        ps.ParameterError,
        match=r"model.yaml: nothing to vary \(got no "
        r"parameter with a range",
    ):
        sensitivity(Experiment.load(path), "x", samples=16)


@pytest.mark.parametrize(("method", "samples"), [("sobol", 128), ("fast", 130)])
def test_the_same_seed_gives_the_same_confidence_intervals(
    linear: Path, method: str, samples: int
) -> None:
    first, second = (
        sensitivity(Experiment.load(linear), "y", method=method, samples=samples, seed=0)
        for _ in range(2)
    )
    assert first.indices == second.indices
