"""Vensim's random functions: one draw per time step from a stream of the run's seed, the
member and the call, through each distribution's inverse, conditioned on [min, max]."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import pssc_sim as ps
from pssc_sim.parse.translate import convert

pytest.importorskip("pysd", reason="the vensim extra (PySD's translators) is not installed")


def control(stop: float = 10, dt: float = 0.25) -> str:
    return (
        f"INITIAL TIME = 0 ~ Month ~ |\nFINAL TIME = {stop} ~ Month ~ |\n"
        f"TIME STEP = {dt} ~ Month ~ |\nSAVEPER = TIME STEP ~ Month ~ |\n"
    )


def load(tmp_path: Path, name: str, text: str, stop: float = 10) -> ps.Model:
    path = tmp_path / name
    path.write_text(text + control(stop), encoding="utf-8")
    return ps.load_model(path)


DRAWS = (
    "U = RANDOM UNIFORM(-3, 10, 0) ~~|\nN = RANDOM NORMAL(0, 1000, 0, 1, 0) ~~|\n"
    "E = RANDOM EXPONENTIAL(0, 7.2, 5, 5, 0) ~~|\nR = RANDOM 0 1() ~~|\n"
    "Twin = RANDOM UNIFORM(-3, 10, 0) ~~|\n"
)


@pytest.fixture(scope="module")
def long_run(tmp_path_factory: pytest.TempPathFactory) -> ps.Results:
    folder = tmp_path_factory.mktemp("draws")
    return ps.simulate(load(folder, "draws.mdl", DRAWS, stop=10_000))  # 40,001 draws each


def _truncated_exponential_mean(c: float) -> float:
    """E[Z | Z < c] for Z exponential of mean 1."""
    return 1 - c * math.exp(-c) / (1 - math.exp(-c))


@pytest.mark.parametrize(
    ("name", "low", "high", "mean", "variance"),
    [
        ("u", -3, 10, 3.5, 13**2 / 12),
        ("r", 0, 1, 0.5, 1 / 12),
        # a standard normal conditioned on [0, 1000]: the half-normal
        ("n", 0, 1000, math.sqrt(2 / math.pi), 1 - 2 / math.pi),
        ("e", 5, 7.2, 5 + 5 * _truncated_exponential_mean(2.2 / 5), None),
    ],
)
def test_draws_have_their_distributions_moments_and_bounds(
    long_run: ps.Results, name: str, low: float, high: float, mean: float, variance: float | None
) -> None:
    values = long_run[name].to_numpy()
    assert values.min() >= low
    assert values.max() <= high
    error = values.std() / math.sqrt(values.size)
    assert abs(values.mean() - mean) < 5 * error
    if variance is not None:
        assert values.var() == pytest.approx(variance, rel=0.05)


def test_each_call_draws_its_own_stream_without_serial_correlation(long_run: ps.Results) -> None:
    u, twin = long_run["u"].to_numpy(), long_run["twin"].to_numpy()
    assert abs(np.corrcoef(u, twin)[0, 1]) < 0.03
    assert abs(np.corrcoef(u[1:], u[:-1])[0, 1]) < 0.03


def test_seed_repeats_a_run_and_members_draw_independently(tmp_path: Path) -> None:
    model = load(tmp_path, "seed.mdl", "U = RANDOM UNIFORM(0, 1, 0) ~~|\n")
    single = ps.simulate(model)["u"].to_numpy()
    np.testing.assert_array_equal(single, ps.simulate(model)["u"].to_numpy())
    assert not np.array_equal(single, ps.simulate(model, {"RANDOM_SEED": 7})["u"].to_numpy())
    members = ps.simulate(model, {"RANDOM_SEED": [0, 0, 0, 0, 0]})["u"].to_numpy()
    np.testing.assert_array_equal(members[:, 0], single)  # member 0 is the single run
    assert len({tuple(column) for column in members.T}) == 5
    # the streams are the members' own, however the ensemble is cut into chunks
    chunked = ps.simulate(model, {"RANDOM_SEED": [0, 0, 0, 0, 0]}, chunk=2)["u"].to_numpy()
    np.testing.assert_array_equal(chunked, members)


def test_a_draw_is_held_through_a_time_step(tmp_path: Path) -> None:
    # RK4 evaluates mid-step; the draw it sees there is the step's own
    model = load(tmp_path, "held.mdl", "U = RANDOM 0 1() ~~|\nS = INTEG(U, 0) ~~|\n")
    euler, rk4 = ps.simulate(model), ps.simulate(model, method="rk4")
    np.testing.assert_array_equal(euler["u"].to_numpy(), rk4["u"].to_numpy())


def test_pink_noise_without_deviation_is_its_mean(tmp_path: Path) -> None:
    model = load(
        tmp_path,
        "pink.mdl",
        "Noise = RANDOM PINK NOISE(Mean, Deviation, 2, 1) ~~|\n"
        "Mean = 3 + RAMP(1, 2, 5) ~~|\nDeviation = 0 ~~|\n",
    )
    res = ps.simulate(model)
    np.testing.assert_array_equal(res["noise"], res["mean"])


def test_pink_noise_has_its_standard_deviation_and_correlation_time(tmp_path: Path) -> None:
    model = load(tmp_path, "pink.mdl", "Noise = RANDOM PINK NOISE(3, 0.5, 2, 1) ~~|\n", stop=20_000)
    values = ps.simulate(model)["noise"].to_numpy()[400:]  # past the start at the mean
    assert values.mean() == pytest.approx(3, abs=0.05)
    assert values.std() == pytest.approx(0.5, rel=0.05)
    # smoothed over 2 months (8 steps): correlation e^-1 one correlation time apart
    lag = np.corrcoef(values[8:], values[:-8])[0, 1]
    assert lag == pytest.approx((1 - 0.25 / 2) ** 8, abs=0.03)


def test_random_functions_over_subscripts_draw_each_element_its_own_stream(
    tmp_path: Path,
) -> None:
    model = load(
        tmp_path,
        "arrayed.mdl",
        "A: a1, a2, a3 ~~|\nB: b1, b2 ~~|\nX[A] = RANDOM UNIFORM(0, 1, 0) ~~|\n"
        "Y[A, B] = RANDOM POISSON(0, 100, 3, 0, 1, 0) ~~|\n"
        "P[A] = RANDOM PINK NOISE(3, 0.5, 2, 1) ~~|\n",
        stop=2_000,
    )
    res = ps.simulate(model)
    names = model.original_names()
    by_name = res.renamed(names)
    x = np.array([by_name[f"X[a{i}]"].to_numpy() for i in (1, 2, 3)])
    y = np.array([by_name[f"Y[a{i},b{j}]"].to_numpy() for i in (1, 2, 3) for j in (1, 2)])
    pink = np.array([by_name[f"P[a{i}]"].to_numpy()[400:] for i in (1, 2, 3)])
    for values in (x, y, pink):
        correlations = np.corrcoef(values)[np.triu_indices(len(values), 1)]
        assert np.abs(correlations).max() < 0.1
    error = 5 * math.sqrt(1 / 12 / x.shape[1])
    assert np.abs(x.mean(axis=1) - 0.5).max() < error
    assert np.abs(y.mean(axis=1) - 3).max() < 5 * math.sqrt(3 / y.shape[1])
    assert np.all(y == np.round(y))


def _moments(probabilities: dict[int, float]) -> tuple[float, float]:
    total = sum(probabilities.values())
    mean = sum(k * p for k, p in probabilities.items()) / total
    return mean, sum((k - mean) ** 2 * p for k, p in probabilities.items()) / total


def _poisson(mean: float, low: int, high: int) -> tuple[float, float]:
    return _moments(
        {k: mean**k * math.exp(-mean) / math.factorial(k) for k in range(low, high + 1)}
    )


SHAPES = (
    "Ga = RANDOM GAMMA(0, 1e9, 2.5, 1, 2, 0) ~~|\n"
    "Be = RANDOM BETA(0, 1e9, 2, 3, 10, 4, 0) ~~|\n"
    "We = RANDOM WEIBULL(0, 1e9, 1.5, 0, 1, 0) ~~|\n"
    "Po = RANDOM POISSON(0, 1e9, 3, 0, 1, 0) ~~|\n"
    "Pc = RANDOM POISSON(2, 4, 3, 0, 1, 0) ~~|\n"
    "Bi = RANDOM BINOMIAL(0, 1e9, 0.3, 10, 0, 1, 0) ~~|\n"
    "Nb = RANDOM NEGATIVE BINOMIAL(0, 1e9, 0.4, 3, 0, 1, 0) ~~|\n"
    "Tr = RANDOM TRIANGULAR(-1e9, 1e9, 1, 2, 5, 0) ~~|\n"
    "Tc = RANDOM TRIANGULAR(1, 2, 1, 2, 5, 0) ~~|\n"
)


@pytest.fixture(scope="module")
def shapes_run(tmp_path_factory: pytest.TempPathFactory) -> ps.Results:
    folder = tmp_path_factory.mktemp("shapes")
    # 100 members, each its own stream, of 200 saved steps: 20,000 draws of each variable
    model = load(folder, "shapes.mdl", SHAPES, stop=49.75)
    return ps.simulate(model, {"RANDOM_SEED": np.arange(1, 101)})


def _weibull_variance(shape: float) -> float:
    # scaled to mean 1: E[X^2] = G(1 + 2/k) / G(1 + 1/k)^2
    return math.gamma(1 + 2 / shape) / math.gamma(1 + 1 / shape) ** 2 - 1


@pytest.mark.parametrize(
    ("name", "low", "high", "mean", "variance", "integer"),
    [
        # shift + stretch x a gamma of order 2.5 (mean and variance 2.5)
        ("ga", 1, math.inf, 1 + 2 * 2.5, 4 * 2.5, False),
        ("be", 10, 14, 10 + 4 * 2 / 5, 16 * 6 / (25 * 6), False),
        ("we", 0, math.inf, 1, _weibull_variance(1.5), False),
        ("po", 0, math.inf, 3, 3, True),
        ("pc", 2, 4, *_poisson(3, 2, 4), True),
        ("bi", 0, 10, 3, 10 * 0.3 * 0.7, True),
        # trials needed for 3 successes of probability 0.4
        ("nb", 3, math.inf, 3 / 0.4, 3 * 0.6 / 0.4**2, True),
        ("tr", 1, 5, 8 / 3, (1 + 4 + 25 - 2 - 5 - 10) / 18, False),
        # the same triangle conditioned on [1, 2]: density 2 (x - 1) there
        ("tc", 1, 2, 5 / 3, 1 / 18, False),
    ],
)
def test_shaped_draws_have_vensims_distributions(
    shapes_run: ps.Results,
    name: str,
    low: float,
    high: float,
    mean: float,
    variance: float,
    integer: bool,
) -> None:
    values = shapes_run[name].to_numpy()
    assert values.min() >= low
    assert values.max() <= high
    assert np.all(values == np.round(values)) == integer
    assert abs(values.mean() - mean) < 5 * math.sqrt(variance / values.size)
    assert values.var() == pytest.approx(variance, rel=0.06)


def test_a_draw_with_no_value_within_its_bounds_is_not_finite(tmp_path: Path) -> None:
    model = load(tmp_path, "empty.mdl", "Po = RANDOM POISSON(2.2, 2.8, 3, 0, 1, 0) ~~|\n")
    with pytest.raises(ps.SimulationError, match="po"):
        ps.simulate(model)


def test_a_converted_model_draws_the_same_numbers(tmp_path: Path) -> None:
    source = tmp_path / "draws.mdl"
    source.write_text(
        DRAWS + "P = RANDOM PINK NOISE(3, 0.5, 2, 1) ~~|\n" + control(), encoding="utf-8"
    )
    target = convert(source, tmp_path / "draws.yaml")
    original = ps.simulate(ps.load_model(source), {"RANDOM_SEED": [1, 2]})
    converted = ps.simulate(ps.load_model(target), {"RANDOM_SEED": [1, 2]})
    np.testing.assert_array_equal(original.values, converted.values)
