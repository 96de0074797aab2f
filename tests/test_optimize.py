"""``pssc optimize`` and :func:`pssc_sim.inference.optimize.optimize`: known optima, constraints
at the optimum, robust choices that differ from nominal ones, the scenario round trip, and the
grammar of objectives, levers and constraints."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

import pssc_sim as ps
from pssc_sim.cli import main
from pssc_sim.inference.design import Experiment, Statistic
from pssc_sim.inference.optimize import (
    Constraint,
    Objective,
    Robustness,
    optimize,
    parse_levers,
    write_scenario,
)
from pssc_sim.scenario import Scenario, json_schema
from tests.conftest import write_yaml

POLICY = """\
    model: policy
    time: {start: 0, stop: 2, dt: 1}
    parameters:
      u: {value: 1, range: [0, 10]}
      v: {value: 0, range: [-5, 5]}
      w: {value: 0.5, range: [0, 1]}
      k: 1
    stocks:
      s: 0
    flows:
      gain: {to: s, rate: k}
    auxiliaries:
      y: -(u - 3.7) ** 2 - 2 * (v + 1) ** 2
      total: u + v
      risky: u - w * u ** 2 / 10
"""

UNCERTAIN = """\
    scenario: uncertain
    model: model.yaml
    uncertainty:
      members: 200
      seed: 3
      parameters:
        w:
"""


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    return write_yaml(tmp_path, POLICY)


@pytest.fixture
def uncertain(tmp_path: Path, policy: Path) -> Path:
    return write_yaml(tmp_path, UNCERTAIN, "uncertain.yaml")


def test_finds_the_maximum_of_a_quadratic(policy: Path) -> None:
    result = optimize(
        Experiment.load(policy), "maximize y final", "u=0:10,v=-5:5", seed=2, maxiter=200, tol=1e-8
    )
    assert result.levers["u"] == pytest.approx(3.7, abs=0.02)
    assert result.levers["v"] == pytest.approx(-1.0, abs=0.02)
    assert result.objective == pytest.approx(0.0, abs=1e-3)
    assert result.feasible


def test_each_generation_is_one_ensemble_and_runs_are_counted(policy: Path) -> None:
    popsize = 10
    result = optimize(
        Experiment.load(policy), "minimize total", "u,v", seed=1, popsize=popsize, maxiter=5
    )
    population = popsize * 2
    # the first population, then one trial population a generation (+1 if the best is re-run)
    assert result.runs - population * (result.generations + 1) in (0, 1)
    assert result.levers == pytest.approx({"u": 0.0, "v": -5.0}, abs=1.0)


def test_polishing_runs_are_counted(policy: Path) -> None:
    experiment = Experiment.load(policy)
    rough = optimize(experiment, "maximize y", "u,v", seed=1, maxiter=3)
    polished = optimize(experiment, "maximize y", "u,v", seed=1, maxiter=3, polish=True)
    assert polished.runs > rough.runs
    assert polished.objective >= rough.objective


def test_the_constraint_holds_at_the_constrained_optimum(policy: Path) -> None:
    # maximise -(u-3.7)² - 2(v+1)² with u + v <= 2: by Lagrange, v = -3.7/3, u = 2 - v
    result = optimize(
        Experiment.load(policy),
        "maximize y",
        "u=0:10,v=-5:5",
        ["total <= 2"],
        seed=4,
        maxiter=300,
        tol=1e-10,
    )
    assert result.feasible
    assert result.constraints["total final <= 2"] <= 2 + 1e-9
    assert result.levers["v"] == pytest.approx(-3.7 / 3, abs=0.05)
    assert result.levers["u"] == pytest.approx(2 + 3.7 / 3, abs=0.05)


def test_robust_percentile_picks_a_safer_lever(policy: Path, uncertain: Path) -> None:
    # risky = u - w u²/10 falls with w; nominal w = 0.5 puts the best u at the bound, 10; the
    # 10th percentile reads w near its 90th percentile, 0.9, so u = 10 / (2 * 0.9), about 5.6
    nominal = optimize(Experiment.load(uncertain), "maximize risky", "u", seed=1)
    robust = optimize(
        Experiment.load(uncertain), "maximize risky", "u", under_uncertainty="p10", seed=1
    )
    assert nominal.levers["u"] == pytest.approx(10.0, abs=0.05)
    assert robust.levers["u"] == pytest.approx(10 / 1.8, abs=0.3)
    assert robust.runs % 200 == 0  # every candidate ran with every member
    mean = optimize(
        Experiment.load(uncertain), "maximize risky", "u", under_uncertainty="mean", seed=1
    )
    assert mean.levers["u"] == pytest.approx(10.0, abs=0.3)  # E[w] is about 0.5


def test_written_scenario_reproduces_the_objective(policy: Path, tmp_path: Path) -> None:
    import jsonschema

    experiment = Experiment.load(policy)
    result = optimize(experiment, "maximize y at 1.5", "u=0:10", seed=2, maxiter=10)
    (tmp_path / "out").mkdir()
    path = write_scenario(result, experiment, tmp_path / "out" / "best.yaml")
    document = yaml.safe_load(path.read_text())
    jsonschema.validate(document, json_schema())
    rerun = Scenario.load(path).run()
    assert rerun.results.times[-1] == 2.0
    at = np.interp(1.5, rerun.results.times, rerun["y"].to_numpy())
    assert at == pytest.approx(result.objective, rel=1e-12)
    assert document["set"] == result.levers


def test_written_robust_scenario_reproduces_the_percentile(uncertain: Path, tmp_path: Path) -> None:
    experiment = Experiment.load(uncertain)
    result = optimize(experiment, "maximize risky", "u", under_uncertainty="p10", seed=1, maxiter=8)
    path = write_scenario(result, experiment, tmp_path / "robust.yaml")
    rerun = Scenario.load(path).run()
    final = rerun["risky"].iloc[-1].to_numpy()
    assert np.percentile(final, 10) == pytest.approx(result.objective, rel=1e-12)


def test_cli_prints_levers_and_json(
    policy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "optimize",
        str(policy),
        "--objective",
        "maximize y",
        "--levers",
        "u,v",
        "--constraint",
        "total max <= 2",
        "--maxiter",
        "5",
        "--seed",
        "3",
    ]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert re.search(r"lever +u += ", text)
    assert "constraint total max <= 2:" in text
    assert main([*args, "--json", "--write-scenario", str(tmp_path / "best.yaml")]) == 0
    document = json.loads(capsys.readouterr().out)
    assert {"levers", "objective", "runs"} <= set(document)
    assert set(document["levers"]) == {"u", "v"}
    assert (tmp_path / "best.yaml").is_file()


def test_grammar_reads_statistics() -> None:
    assert Objective.parse("minimize waiting_list mean").statistic == Statistic("mean")
    assert Objective.parse("  MAXIMISE x at 2.5e1 ").statistic.time == 25.0
    constraint = Constraint.parse("infected at 30 > 1e3")
    assert (constraint.upper, constraint.value, constraint.statistic.time) == (False, 1e3, 30.0)
    assert Robustness.parse("mean").summary(np.array([[1.0, 3.0]])).tolist() == [2.0]
    # an upper bound is read on the cautious side: the 90th percentile for p10
    assert Robustness.parse("p10").summary(np.arange(101.0)[None, :], upper=True).tolist() == [90.0]


def test_levers_default_to_the_declared_range(policy: Path) -> None:
    levers = parse_levers("u, v=-1:1", Experiment.load(policy))
    assert [(lv.name, lv.low, lv.high) for lv in levers] == [("u", 0, 10), ("v", -1, 1)]


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--objective", "maximize yy"], r"--objective: unknown variable 'yy'.*Did you mean 'y'"),
        (["--objective", "maximize nope at 5"], r"--objective: unknown variable 'nope'"),
        (
            ["--objective", "maximum y"],
            r"--objective: expected 'maximize NAME'.*Did you mean "
            r"'maximize'",
        ),
        (["--objective", "maximize y at 7"], r"--objective: time 7 is outside the run"),
        (["--levers", "u=0:20"], r"--levers: u=0:20 goes outside the range \[0, 10\] declared"),
        (["--levers", "uu=0:1"], r"--levers: 'uu' is unknown .*Did you mean 'u'"),
        (["--levers", "total=0:1"], r"--levers: 'total' is a variable, not a parameter"),
        (["--levers", "k"], r"--levers: 'k' has no range .*Write k=LOW:HIGH"),
        (["--levers", "u=3:1"], r"--levers: the bounds of 'u' must be finite with LOW below HIGH"),
        (["--levers", "u=1:2,u=3:4"], r"--levers: 'u' is given twice"),
        (["--levers", "u=1..2"], r"--levers: expected NAME=LOW:HIGH"),
        (["--constraint", "total <= 2; rm -rf /"], r"--constraint: expected NAME \[at T"),
        (["--constraint", "total <= __import__('os')"], r"--constraint: expected NAME"),
        (["--constraint", "totl <= 2"], r"--constraint: unknown variable 'totl'.*'total'"),
        (["--constraint", "total <= 1e999"], r"--constraint: expected NAME"),
        (["--under-uncertainty", "p100"], r"--under-uncertainty: expected mean or pN"),
        (["--under-uncertainty", "p10"], r"--under-uncertainty: .* has no uncertainty: block"),
        (["--popsize", "0"], r"--popsize: must be at least 1 \(got 0\)"),
        (["--popsize", "10000000"], r"--popsize: a generation would take"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(
    policy: Path, args: list[str], match: str, capsys: pytest.CaptureFixture[str]
) -> None:
    base = {"--objective": "maximize y", "--levers": "u"}
    for i in range(0, len(args), 2):
        base[args[i]] = args[i + 1]
    argv = ["optimize", str(policy), *(x for pair in base.items() for x in pair)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("pssc: error: ")
    assert re.search(match, err), err


def test_a_lever_the_ensemble_samples_is_refused(uncertain: Path) -> None:
    with pytest.raises(
        ps.ParameterError,
        match=r"--levers: w is also sampled in the "
        r"uncertainty: block",
    ):
        optimize(Experiment.load(uncertain), "maximize risky", "w", under_uncertainty="mean")


def test_progress_reaches_one(policy: Path) -> None:
    seen: list[float] = []
    optimize(Experiment.load(policy), "maximize y", "u", seed=1, maxiter=4, progress=seen.append)
    assert seen[-1] == 1.0
    assert all(0.0 <= f <= 1.0 for f in seen)
