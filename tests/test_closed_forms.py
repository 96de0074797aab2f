"""Fixed-step runs against closed forms: discrete Euler recurrences, exact ODE solutions, orders.

Euler is checked against the recurrence it must reproduce (to round-off); RK4 against the exact
solution of the ODE at a small ``dt`` and by its order of convergence. Errors are scaled by the
size of the exact value.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import pssc_sim as ps


def scaled_error(actual: np.ndarray, exact: np.ndarray) -> float:
    """Largest error relative to the size of the exact value (absolute below 1)."""
    actual, exact = np.asarray(actual, dtype=float), np.asarray(exact, dtype=float)
    return float(np.max(np.abs(actual - exact) / np.maximum(1.0, np.abs(exact))))


def erlang_cdf(t: np.ndarray, stages: int, mean: float) -> np.ndarray:
    """CDF of the Erlang distribution with ``stages`` stages and total mean ``mean``."""
    rate = stages * np.asarray(t, dtype=float) / mean
    terms = sum(rate**i / math.factorial(i) for i in range(stages))
    return np.where(rate > 0, 1.0 - np.exp(-rate) * terms, 0.0)


# -- Euler recurrences ------------------------------------------------------------------------


DECAY = """
time: {start: 0, stop: 10, dt: 0.25, save_every: 0.25}
parameters: {k: 0.3}
stocks: {x: 100}
flows:
  out: {from: x, rate: k * x}
"""


@pytest.mark.parametrize("k", [0.3, 1.0, 3.9])
def test_euler_decay_is_the_discrete_recurrence(make_model, k):
    res = ps.simulate(make_model(DECAY), {"k": k})
    n = np.arange(41)
    exact = 100 * (1 - k * 0.25) ** n
    assert res.times.tolist() == (0.25 * n).tolist()
    assert scaled_error(res["x"].to_numpy(), exact) < 1e-9
    # Each row holds the flow computed from the stock of that row.
    assert scaled_error(res["out"].to_numpy(), k * exact) < 1e-9


def test_euler_rows_follow_save_every_and_end_at_stop(make_model):
    model = make_model(DECAY.replace("save_every: 0.25", "save_every: 1.5"))
    res = ps.simulate(model, {"k": 0.1})
    assert res.times.tolist() == [0, 1.5, 3, 4.5, 6, 7.5, 9, 10]
    steps = np.round(res.times / 0.25)
    assert scaled_error(res["x"].to_numpy(), 100 * 0.975**steps) < 1e-9


def test_euler_shortens_the_last_step_to_land_on_stop(make_model):
    model = make_model(
        DECAY.replace("stop: 10", "stop: 1.1").replace("save_every: 0.25", "save_every: 0.5")
    )
    res = ps.simulate(model, {"k": 1.0})
    assert res.times.tolist() == [0, 0.5, 1.0, 1.1]
    exact = 100 * 0.75**4 * (1 - 0.1)
    assert res["x"].iloc[-1] == pytest.approx(exact, rel=1e-12)


def test_euler_logistic_growth_is_the_discrete_recurrence(make_model):
    model = make_model("""
        time: {start: 0, stop: 30, dt: 0.5}
        parameters: {r: 0.4, capacity: 1000}
        stocks: {population: 10}
        flows:
          growth: {to: population, rate: r * population * (1 - population / capacity)}
    """)
    res = ps.simulate(model)
    x = [10.0]
    for _ in range(60):
        x.append(x[-1] + 0.5 * 0.4 * x[-1] * (1 - x[-1] / 1000))
    exact = np.array(x)
    assert scaled_error(res["population"].to_numpy(), exact) < 1e-9
    assert scaled_error(res["growth"].to_numpy(), 0.4 * exact * (1 - exact / 1000)) < 1e-9


def test_euler_two_stock_chain_is_the_discrete_recurrence(make_model):
    model = make_model("""
        time: {start: 0, stop: 20, dt: 0.125}
        parameters: {k1: 0.5, k2: 0.2}
        stocks: {a: 50, b: 5}
        flows:
          transfer: {from: a, to: b, rate: k1 * a}
          loss: {from: b, rate: k2 * b}
    """)
    res = ps.simulate(model)
    a, b, dt = [50.0], [5.0], 0.125
    for _ in range(160):
        a_now, b_now = a[-1], b[-1]
        a.append(a_now - dt * 0.5 * a_now)
        b.append(b_now + dt * (0.5 * a_now - 0.2 * b_now))
    assert scaled_error(res["a"].to_numpy(), np.array(a)) < 1e-9
    assert scaled_error(res["b"].to_numpy(), np.array(b)) < 1e-9


# -- orders of convergence --------------------------------------------------------------------


def _decay_error(make_model, method: str, dt: float) -> float:
    model = make_model(DECAY)
    res = ps.simulate(model, {"k": 1.0}, method=method, time={"stop": 4, "dt": dt})
    return abs(res["x"].iloc[-1] - 100 * math.exp(-4.0)) / (100 * math.exp(-4.0))


def test_rk4_converges_with_order_four(make_model):
    errors = [_decay_error(make_model, "rk4", dt) for dt in (0.1, 0.05, 0.025)]
    ratios = [errors[0] / errors[1], errors[1] / errors[2]]
    assert all(15 < r < 17 for r in ratios), ratios
    assert errors[-1] < 1e-5


def test_euler_converges_with_order_one(make_model):
    errors = [_decay_error(make_model, "euler", dt) for dt in (0.02, 0.01, 0.005)]
    ratios = [errors[0] / errors[1], errors[1] / errors[2]]
    assert all(1.9 < r < 2.1 for r in ratios), ratios


def test_rk4_is_exact_on_a_linear_input(make_model):
    model = make_model("""
        time: {start: 0, stop: 5, dt: 0.5}
        stocks: {x: 1}
        flows:
          inflow: {to: x, rate: 3 * TIME ** 2}
    """)
    res = ps.simulate(model, method="rk4")
    assert scaled_error(res["x"].to_numpy(), 1 + res.times**3) < 1e-12


# -- smooths and delays -----------------------------------------------------------------------


def test_smooth_of_a_step_is_the_euler_recurrence(make_model):
    model = make_model("""
        time: {start: 0, stop: 20, dt: 0.25}
        auxiliaries:
          signal: STEP(1, 5)
          smoothed: SMOOTH(signal, 2)
    """)
    res = ps.simulate(model)
    n = np.arange(81)
    exact = np.where(n >= 20, 1 - (1 - 0.25 / 2) ** np.maximum(n - 20, 0), 0.0)
    assert scaled_error(res["smoothed"].to_numpy(), exact) < 1e-12


@pytest.mark.parametrize(
    ("equation", "stages", "mean"),
    [
        ("SMOOTHI(1, 2, 0)", 1, 2.0),
        ("SMOOTH3I(1, 6, 0)", 3, 6.0),
        ("SMOOTHN(1, 4, 0, 5)", 5, 4.0),
        ("DELAY1I(1, 3, 0)", 1, 3.0),
        ("DELAY3I(1, 6, 0)", 3, 6.0),
        ("DELAYN(1, 4, 0, 2)", 2, 4.0),
    ],
)
def test_smooths_and_delays_of_a_unit_step_follow_the_erlang_cdf(
    make_model, equation, stages, mean
):
    model = make_model(f"""
        time: {{start: 0, stop: 20, dt: 0.03125, save_every: 0.5}}
        auxiliaries:
          response: {equation}
    """)
    res = ps.simulate(model, method="rk4")
    assert scaled_error(res["response"].to_numpy(), erlang_cdf(res.times, stages, mean)) < 1e-6


@pytest.mark.parametrize(
    ("equation", "stages"),
    [("SMOOTH3(signal, 6)", 3), ("DELAY3(signal, 6)", 3), ("DELAY1(signal, 6)", 1)],
)
def test_third_order_responses_to_a_later_step_converge_to_the_erlang_cdf(
    make_model, equation, stages
):
    text = f"""
        time: {{start: 0, stop: 30, dt: 0.25, save_every: 1}}
        auxiliaries:
          signal: STEP(1, 4)
          response: {equation}
    """
    model = make_model(text)
    errors = []
    for dt in (0.02, 0.01):
        res = ps.simulate(model, time={"dt": dt, "save_every": 1})
        exact = erlang_cdf(np.maximum(res.times - 4, 0), stages, 6.0)
        errors.append(scaled_error(res["response"].to_numpy(), exact))
    assert errors[1] < 0.01
    assert 1.8 < errors[0] / errors[1] < 2.2


def test_delay3_of_a_constant_starts_in_equilibrium(make_model):
    model = make_model("""
        time: {start: 0, stop: 10, dt: 0.25}
        auxiliaries:
          response: DELAY3(7, 3) + SMOOTH3(7, 3) + DELAY1(7, 2) + SMOOTH(7, 1)
    """)
    for method in ("euler", "rk4"):
        res = ps.simulate(model, method=method)
        assert scaled_error(res["response"].to_numpy(), np.full(41, 28.0)) < 1e-12


def test_delay_fixed_of_a_ramp_is_the_ramp_shifted_exactly(make_model):
    model = make_model("""
        time: {start: 0, stop: 12, dt: 0.25}
        parameters: {delay: 3}
        auxiliaries:
          rising: RAMP(2, 1)
          delayed: DELAY_FIXED(rising, delay, -5)
    """)
    res = ps.simulate(model)
    t = res.times
    ramp = np.where(t > 1, 2 * (t - 1), 0.0)
    assert scaled_error(res["rising"].to_numpy(), ramp) < 1e-12
    shifted = np.where(t >= 3, np.where(t - 3 > 1, 2 * (t - 4), 0.0), -5.0)
    assert scaled_error(res["delayed"].to_numpy(), shifted) < 1e-12


def test_sample_if_true_holds_the_last_sampled_value(make_model):
    model = make_model("""
        time: {start: 0, stop: 10, dt: 0.5}
        auxiliaries:
          held: SAMPLE_IF_TRUE(TIME >= 3 and TIME <= 5, 10 * TIME, -1)
          again: SAMPLE_IF_TRUE(MODULO(TIME, 4) < 0.25, TIME, 99)
    """)
    res = ps.simulate(model)
    t = res.times
    held = np.where(t < 3, -1.0, np.where(t <= 5, 10 * t, 50.0))
    assert scaled_error(res["held"].to_numpy(), held) < 1e-12
    assert scaled_error(res["again"].to_numpy(), 4 * np.floor(t / 4)) < 1e-12


def test_initial_is_frozen_at_the_start(make_model):
    model = make_model("""
        time: {start: 2, stop: 10, dt: 0.5}
        stocks: {x: 3}
        flows:
          growth: {to: x, rate: 0.1 * x + TIME}
        auxiliaries:
          first: INITIAL(x * 2 + TIME)
    """)
    for method in ("euler", "rk4"):
        res = ps.simulate(model, method=method)
        assert res["x"].iloc[-1] > 3
        assert (res["first"].to_numpy() == 8.0).all()


@pytest.mark.parametrize("initial_trend", [0.05, 0.0])
def test_trend_of_an_exponential_approaches_its_growth_rate(make_model, initial_trend):
    model = make_model(f"""
        time: {{start: 0, stop: 60, dt: 0.0625, save_every: 1}}
        parameters: {{g: 0.05}}
        auxiliaries:
          signal: 10 * EXP(g * TIME)
          growth_rate: TREND(signal, 4, {initial_trend})
    """)
    res = ps.simulate(model, method="rk4")
    trend = res["growth_rate"].to_numpy()
    if initial_trend == 0.05:
        # Started on the steady state x / (1 + g T): the trend is g from the first row.
        assert np.abs(trend - 0.05).max() < 1e-6
    else:
        assert trend[0] == 0.0
        assert abs(trend[-1] - 0.05) < 1e-5
        assert np.all(np.diff(trend) > 0)


def test_forecast_of_an_exponential_extrapolates_with_its_growth_rate(make_model):
    model = make_model("""
        time: {start: 0, stop: 80, dt: 0.0625, save_every: 1}
        auxiliaries:
          signal: 10 * EXP(0.02 * TIME)
          projection: FORECAST(signal, 5, 10)
          ratio: projection / signal
    """)
    res = ps.simulate(model, method="rk4")
    ratio = res["ratio"].to_numpy()
    assert ratio[0] == pytest.approx(1.0, abs=1e-12)
    assert ratio[-1] == pytest.approx(1 + 0.02 * 10, abs=1e-5)


# -- conservation -----------------------------------------------------------------------------


def test_a_closed_model_with_a_material_delay_conserves_its_total(make_model):
    model = make_model("""
        time: {start: 0, stop: 40, dt: 0.125}
        stocks: {waiting: 100, served: 0}
        flows:
          referrals: {from: waiting, to: served, rate: 0.2 * waiting}
          returns: {from: served, to: waiting, rate: "DELAY1(0.1 * served, 2)"}
    """)
    for method in ("euler", "rk4"):
        res = ps.simulate(model, method=method)
        total = res["waiting"].to_numpy() + res["served"].to_numpy()
        assert res["served"].iloc[-1] > 10
        assert np.abs(total - 100).max() < 1e-9 * 100
