"""Uncertainty ensembles: seeded, one vectorised call, quantiles against closed forms."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import pssc_sim as ps
from pssc_sim.output import ensemble_table
from pssc_sim.scenario import Distribution, Scenario, Uncertainty
from pssc_sim.scenario.sampling import sample, unit_samples

DECAY = """\
model: decay
time: {start: 0, stop: 4, dt: 0.125}
parameters:
  k: {value: 0.5, range: [0.2, 0.8]}
  x0: {value: 100, distribution: {distribution: normal, mean: 100, sd: 5}}
  fixed: 1
stocks:
  x: x0
flows:
  outflow: {from: x, rate: k * x * fixed}
"""


@pytest.fixture
def decay(tmp_path: Path) -> Path:
    path = tmp_path / "decay.yaml"
    path.write_text(DECAY)
    return path


def test_same_seed_gives_bit_identical_ensembles(decay: Path) -> None:
    for sampling in ("random", "latin-hypercube", "sobol"):
        scenario = Scenario(
            model=decay, uncertainty={"members": 50, "seed": 11, "sampling": sampling}
        )
        first, second = scenario.run(), scenario.run()
        assert first.seed == second.seed == 11
        assert np.array_equal(first.results.values, second.results.values)
        assert np.array_equal(first.results.parameters, second.results.parameters)
        other = scenario.with_uncertainty(seed=12).run()
        assert not np.array_equal(first.results.values, other.results.values)


def test_without_a_seed_one_is_drawn_and_reported(decay: Path) -> None:
    result = Scenario(model=decay, uncertainty={"members": 5}).run()
    assert isinstance(result.seed, int)
    again = Scenario(model=decay, uncertainty={"members": 5, "seed": result.seed}).run()
    assert np.array_equal(result.results.values, again.results.values)
    assert f"seed {result.seed}" in result.summary()


def test_the_whole_ensemble_is_one_simulate_call(
    decay: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    original = ps.simulate

    def counting(*args: object, **kwargs: object) -> ps.Results:
        result = original(*args, **kwargs)  # type: ignore[arg-type]
        calls.append(result.n_members)
        return result

    monkeypatch.setattr("pssc_sim.scenario.runner.simulate", counting)
    Scenario(model=decay, uncertainty={"members": 10_000, "seed": 1}).run(chunk=1000)
    assert calls == [10_000]


@pytest.mark.parametrize(
    ("sampling", "method"), [("latin-hypercube", "euler"), ("random", "euler"), ("sobol", "euler")]
)
def test_quantiles_match_exponential_decay_with_a_uniform_rate(
    decay: Path, sampling: str, method: str
) -> None:
    """x(t) = x0 (1 - k dt)^(t/dt) under Euler, decreasing in k ~ U(0.2, 0.8) (the model's
    range): the q-quantile of x is the map of the (1 - q)-quantile of k. Each estimated quantile,
    mapped back to the unit interval, must lie within four standard errors of its level."""
    members, dt = 10_000, 0.125
    scenario = Scenario(
        model=decay,
        method=method,
        set={"x0": 100.0},
        uncertainty={"members": members, "seed": 3, "sampling": sampling, "parameters": ["k"]},
    )
    result = scenario.run()
    levels = (0.05, 0.25, 0.5, 0.75, 0.95)
    table = result.quantiles(levels)
    final = table[(table["time"] == 4.0) & (table["variable"] == "x")]
    for level in levels:
        x = float(final[f"p{round(level * 100)}"].iloc[0])
        k = (1.0 - (x / 100.0) ** (dt / 4.0)) / dt  # invert the closed form
        u = (k - 0.2) / 0.6
        error = math.sqrt(level * (1 - level) / members)
        assert abs(u - (1 - level)) < 4 * error + 1.0 / members, (level, u)


def test_rk45_ensemble_matches_the_exact_exponential(decay: Path) -> None:
    scenario = Scenario(
        model=decay,
        method="rk45",
        set={"x0": 100.0},
        uncertainty={"members": 200, "seed": 5, "parameters": ["k"]},
    )
    result = scenario.run()
    k = result.samples["k"]
    exact = 100.0 * np.exp(-np.outer(result.results.times, k))
    np.testing.assert_allclose(result.results.values[:, 0, :], exact, rtol=1e-5)


def test_ranges_and_model_distributions_are_used_by_default(decay: Path) -> None:
    result = Scenario(model=decay, uncertainty={"members": 4000, "seed": 2}).run()
    assert list(result.samples) == ["k", "x0"]  # both, in model order; 'fixed' has neither
    k, x0 = result.samples["k"], result.samples["x0"]
    assert k.min() >= 0.2
    assert k.max() <= 0.8
    assert abs(x0.mean() - 100) < 0.5
    assert abs(x0.std() - 5) < 0.25
    row = result.results.parameter_names.index("x0")
    np.testing.assert_array_equal(result.results.parameters[row], x0)


def test_sampling_an_intervened_parameter_samples_its_base(decay: Path) -> None:
    scenario = Scenario(
        model=decay,
        interventions=[{"step": "k", "by": 1.0, "at": 2}],
        uncertainty={"members": 20, "seed": 4, "parameters": ["k"]},
        outputs=["k"],
    )
    result = scenario.run()
    k = result.samples["k"]
    np.testing.assert_array_equal(result["k"].loc[0.0].to_numpy(), k)
    np.testing.assert_allclose(result["k"].loc[3.0].to_numpy(), k + 1.0)


def test_samples_replace_set_values_of_the_same_parameter(decay: Path) -> None:
    result = Scenario(
        model=decay,
        set={"k": 0.01, "fixed": 2.0},
        uncertainty={"members": 10, "seed": 4, "parameters": ["k"]},
    ).run()
    names = result.results.parameter_names
    assert result.results.parameters[names.index("k")].min() >= 0.2
    assert set(result.results.parameters[names.index("fixed")]) == {2.0}


DISTRIBUTIONS = [
    (Distribution("uniform", {"low": 1.0, "high": 3.0}), stats.uniform(1.0, 2.0)),
    (Distribution("normal", {"mean": 2.0, "sd": 0.5}), stats.norm(2.0, 0.5)),
    (
        Distribution("normal", {"mean": 0.0, "sd": 1.0, "low": -0.5, "high": 2.0}),
        stats.truncnorm(-0.5, 2.0),
    ),
    (Distribution("normal", {"mean": 0.0, "sd": 1.0, "low": 0.0}), stats.truncnorm(0, np.inf)),
    (
        Distribution("triangular", {"low": 0.0, "mode": 1.0, "high": 4.0}),
        stats.triang(0.25, 0.0, 4.0),
    ),
    (Distribution("lognormal", {"mu": 0.5, "sigma": 0.3}), stats.lognorm(0.3, scale=np.exp(0.5))),
    (Distribution("beta", {"a": 2.0, "b": 5.0}), stats.beta(2.0, 5.0)),
    (
        Distribution("beta", {"a": 2.0, "b": 5.0, "low": 10.0, "high": 20.0}),
        stats.beta(2.0, 5.0, 10.0, 10.0),
    ),
]


@pytest.mark.parametrize(
    ("distribution", "frozen"), DISTRIBUTIONS, ids=[d.kind for d, _ in DISTRIBUTIONS]
)
def test_distributions_have_the_right_moments_and_support(
    distribution: Distribution, frozen: object
) -> None:
    values = sample({"p": distribution}, "latin-hypercube", 20_000, seed=8)["p"]
    mean, var = frozen.stats(moments="mv")  # type: ignore[attr-defined]
    assert abs(values.mean() - mean) < 0.01 * math.sqrt(var) + 1e-12
    assert abs(values.var() / var - 1) < 0.02
    low, high = frozen.support()  # type: ignore[attr-defined]
    assert low <= values.min()
    assert values.max() <= high


def test_discrete_choice_follows_its_weights() -> None:
    choice = Distribution("discrete", {"values": [1, 5, 10], "weights": [0.6, 0.3, 0.1]})
    values = sample({"p": choice}, "random", 50_000, seed=1)["p"]
    shares = [np.mean(values == v) for v in (1, 5, 10)]
    np.testing.assert_allclose(shares, [0.6, 0.3, 0.1], atol=0.01)
    equal = sample(
        {"p": Distribution("discrete", {"values": [2, 4]})}, "latin-hypercube", 100, seed=1
    )["p"]
    assert sorted(set(equal)) == [2.0, 4.0]
    assert np.mean(equal == 2.0) == 0.5


def test_unit_samples_are_stratified_and_sobol_needs_no_power_of_two() -> None:
    lhs = unit_samples("latin-hypercube", 100, 3, seed=0)
    for column in lhs.T:
        assert sorted(np.floor(column * 100).astype(int)) == list(range(100))
    sobol = unit_samples("sobol", 100, 2, seed=0)  # warnings are errors in this test run
    assert sobol.shape == (100, 2)
    assert ((sobol >= 0) & (sobol < 1)).all()
    assert unit_samples("random", 3, 0, seed=0).shape == (3, 0)


def test_ensemble_table_is_tidy_and_long(decay: Path) -> None:
    result = Scenario(model=decay, uncertainty=Uncertainty(members=64, seed=9)).run()
    table = ensemble_table(result.results)
    assert table.columns.tolist() == ["time", "variable", "p5", "p25", "p50", "p75", "p95", "mean"]
    assert len(table) == len(result.results.times) * len(result.results.names)
    row = table[(table["time"] == 2.0) & (table["variable"] == "outflow")].iloc[0]
    column = result["outflow"].loc[2.0].to_numpy()
    assert row["p25"] == np.quantile(column, 0.25)
    assert row["mean"] == column.mean()


def test_compare_shows_bands_for_ensembles(decay: Path) -> None:
    base = Scenario(model=decay, name="one", outputs=["x"])
    ensemble = base.with_name("many").with_uncertainty(members=100, seed=1, parameters=["k"])
    table = ps.compare(base, ensemble).table()
    assert {"p5", "p95"} <= set(table.columns)
    many = table[table["scenario"] == "many"].iloc[-1]
    assert many["p5"] < many["value"] < many["p95"]
