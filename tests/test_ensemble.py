"""Ensembles: one vectorised call equals the same members run one by one."""

from __future__ import annotations

import numpy as np
import pytest

import pssc_sim as ps

MODEL = """
time: {start: 0, stop: 8, dt: 0.25}
parameters: {capacity: 100, growth: 0.3, perception: 2, delay: 1.5, threshold: 40}
stocks:
  population: 10
  waiting: {initial: 0, non_negative: true}
flows:
  births: {to: population, rate: growth * population * crowding(population / capacity)}
  referrals: {from: population, to: waiting, rate: "DELAY_FIXED(births, delay, 0) * 0.1"}
  treatments: {from: waiting, rate: "MIN(waiting, SMOOTH(waiting, perception)) / 2"}
auxiliaries:
  seen: "SMOOTH3(population, perception) + INITIAL(capacity)"
  flagged: "SAMPLE_IF_TRUE(population > threshold, population, 0) + STEP(1, 3) + PULSE(2, 1)"
  ratio: XIDZ(waiting, population, 0)
lookups:
  crowding: {points: [[0, 1], [0.5, 0.8], [1, 0], [2, -0.5]]}
"""

MEMBERS = 2_000


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> ps.Model:
    path = tmp_path_factory.mktemp("ensemble") / "model.yaml"
    path.write_text(MODEL, encoding="utf-8")
    return ps.load_model(path)


def member_parameters(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "capacity": rng.uniform(50, 200, MEMBERS),
        "growth": rng.uniform(0.05, 0.6, MEMBERS),
        "perception": rng.uniform(0.5, 4, MEMBERS),
        # Per-member delays on and off the dt grid: each member reads its own ring offset.
        "delay": rng.choice([0.25, 0.5, 1.0, 1.5, 2.75, 4.0], MEMBERS),
        "threshold": rng.uniform(10, 60, MEMBERS),
    }


@pytest.mark.parametrize("method", ["euler", "rk4"])
def test_two_thousand_members_equal_two_thousand_single_runs(model, method):
    params = member_parameters(seed=7)
    ensemble = ps.simulate(model, params, method=method)
    assert ensemble.values.shape == (33, len(ensemble.names), MEMBERS)
    for i in range(MEMBERS):
        single = ps.simulate(model, {k: v[i] for k, v in params.items()}, method=method)
        np.testing.assert_allclose(
            ensemble.values[:, :, i],
            single.values[:, :, 0],
            rtol=1e-12,
            atol=1e-12,
            err_msg=f"member {i}",
        )


def test_chunks_do_not_change_the_result(model):
    params = {k: v[:300] for k, v in member_parameters(seed=3).items()}
    whole = ps.simulate(model, params)
    chunked = ps.simulate(model, params, chunk=7)
    np.testing.assert_array_equal(whole.values, chunked.values)


def test_delay_fixed_reads_each_members_own_delay(model):
    delays = np.array([0.25, 1.0, 2.75, 4.0])
    res = ps.simulate(model, {"delay": delays}, outputs=["births", "referrals"])
    births, referrals = res["births"].to_numpy(), res["referrals"].to_numpy()
    for j, delay in enumerate(delays):
        shift = round(delay / 0.25)
        np.testing.assert_allclose(referrals[shift:, j], 0.1 * births[:-shift, j], rtol=1e-12)
        assert (referrals[:shift, j] == 0).all()


def test_scalars_broadcast_and_results_label_members(model):
    res = ps.simulate(model, {"growth": [0.1, 0.2, 0.3], "capacity": 80})
    assert res.n_members == 3
    assert res.is_ensemble
    frame = res["population"]
    assert list(frame.columns) == [0, 1, 2]
    assert (res.parameters[res.parameter_names.index("capacity")] == 80).all()
    np.testing.assert_array_equal(res.member(1).values[:, :, 0], res.values[:, :, 1])
    quantiles = res.quantiles([0.0, 1.0])
    np.testing.assert_allclose(quantiles[("population", 1.0)], frame.max(axis=1))


@pytest.mark.parametrize(
    "params",
    [
        {"growth": [0.1, 0.2], "capacity": [1, 2, 3]},
        {"growth": np.ones(4), "perception": np.ones(5), "delay": 2.0},
    ],
)
def test_parameter_arrays_of_different_lengths_raise(model, params):
    with pytest.raises(
        ps.ParameterError,
        match=r"^params: arrays have different lengths "
        r"\(got \[\d, \d\]\)\. Give every array one "
        r"value per member",
    ):
        ps.simulate(model, params)
