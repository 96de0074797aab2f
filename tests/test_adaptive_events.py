"""Adaptive methods see exact switching times and hold non-negative stocks at zero as events.

Laws: the solution of SMOOTH of a STEP is ``1 - exp(-(t - t0) / tau)`` from the switching time
``t0`` on; a stock drained at a constant rate reaches zero at ``x0 / rate`` and stays there; every
member of an ensemble gets its own switching and zero time; the fixed-step methods keep Vensim's
half-step semantics (the Euler recursion with the step switched on half a step early).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import pssc_sim as ps
from pssc_sim.integrate.adaptive import exact_clock
from pssc_sim.integrate.grid import Grid

ADAPTIVE = ("rk45", "dop853", "lsoda", "bdf", "radau")

SMOOTHED_STEP = """
time: {stop: 3, dt: 0.25, save_every: 0.0625}
parameters: {t0: 1, tau: 0.5}
stocks: {x: 0}
auxiliaries: {s: 'SMOOTH(STEP(1, t0), tau)'}
flows: {f: {to: x, rate: s}}
"""

DRAIN = """
time: {stop: 10, dt: 0.25, save_every: 0.125}
parameters: {x0: 10, rate: 3}
stocks: {x: {initial: x0, non_negative: true}, empty_time: 0}
flows:
  out: {from: x, rate: rate}
  clock: {to: empty_time, rate: 'IF_THEN_ELSE(x > 0, 1, 0)'}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "model.yaml"
    path.write_text(text)
    return path


def smoothed(t: np.ndarray, t0: float | np.ndarray, tau: float) -> np.ndarray:
    return np.where(t >= t0, 1 - np.exp(-np.maximum(t - t0, 0.0) / tau), 0.0)


@pytest.mark.parametrize("method", ADAPTIVE)
def test_smooth_of_a_step_matches_the_closed_form_at_and_after_the_switch(
    tmp_path: Path, method: str
) -> None:
    model = ps.load_model(write(tmp_path, SMOOTHED_STEP))
    res = ps.simulate(model, method=method, rtol=1e-8, atol=1e-10)
    t, s = res.times, res["s"].to_numpy()
    exact = smoothed(t, 1.0, 0.5)
    at = int(np.flatnonzero(t == 1.0)[0])
    assert s[at] == 0.0  # the step is on from t0, the smoothed value still 0 there
    assert np.max(np.abs(s - exact)) < 1e-6
    # right after the switch, where the half-step rule was off by 1 - exp(-dt / (2 tau))
    assert np.max(np.abs(s[at : at + 4] - exact[at : at + 4])) < 1e-7
    # the stock integrates the closed form: t - t0 - tau (1 - exp(-(t - t0) / tau)) after t0
    lag = np.maximum(t - 1.0, 0.0)
    assert np.max(np.abs(res["x"].to_numpy() - (lag - 0.5 * exact))) < 1e-6


def test_fixed_step_keeps_the_half_step_rule(tmp_path: Path) -> None:
    model = ps.load_model(write(tmp_path, SMOOTHED_STEP.replace("save_every: 0.0625", "")))
    res = ps.simulate(model, method="euler")
    dt, s = 0.25, [0.0]
    for t in res.times[:-1]:
        step = 1.0 if t + dt / 2 > 1.0 else 0.0  # Vensim: half a time step early
        s.append(s[-1] + dt * (step - s[-1]) / 0.5)
    assert res["s"].to_numpy().tolist() == s


def test_the_kernels_switch_exactly_on_the_adaptive_clock(tmp_path: Path) -> None:
    compiled = ps.compile_model(
        ps.load_model(
            write(
                tmp_path,
                "time: {stop: 3, dt: 0.25}\n"
                "stocks: {x: 0}\n"
                "flows: {f: {to: x, rate: 'STEP(2, 1) + "
                "PULSE(2, 0.5) + RAMP(1, 2.5)'}}\n",
            )
        )
    )
    p = compiled.default_parameters().tolist()
    grid = Grid(0.0, 3.0, 0.25, 0.25)

    def flow(t: float, clock: tuple[float, ...]) -> float:
        return float(compiled.rates_scalar(t, clock, [0.0], p, [])[0][0])

    fixed, exact = grid.clock, exact_clock(grid)
    assert flow(0.9, fixed) == 2.0
    assert flow(0.9, exact) == 0.0
    assert flow(1.0, fixed) == flow(1.0, exact) == 2.0
    assert flow(2.0 - 5e-7, fixed) == 3.0
    assert flow(2.0 - 5e-7, exact) == 2.0
    assert flow(2.0, exact) == 3.0
    assert flow(2.5, exact) == 2.0
    assert flow(2.75, exact) == pytest.approx(2.25)


@pytest.mark.parametrize("method", ["rk45", "bdf"])
def test_every_member_switches_at_its_own_time(tmp_path: Path, method: str) -> None:
    model = ps.load_model(write(tmp_path, SMOOTHED_STEP))
    starts = np.array([0.3, 0.71, 1.0, 1.137, 2.2])
    res = ps.simulate(model, {"t0": starts}, method=method, rtol=1e-8, atol=1e-10)
    exact = smoothed(res.times[:, None], starts[None, :], 0.5)
    assert np.max(np.abs(res["s"].to_numpy() - exact)) < 2e-6


@pytest.mark.parametrize("method", ADAPTIVE)
def test_a_drained_non_negative_stock_reaches_zero_at_the_exact_time_and_stays(
    tmp_path: Path, method: str
) -> None:
    res = ps.simulate(ps.load_model(write(tmp_path, DRAIN)), method=method, rtol=1e-9, atol=1e-12)
    t, x = res.times, res["x"].to_numpy()
    before, after = t < 10 / 3, t > 10 / 3
    assert np.max(np.abs(x[before] - (10 - 3 * t[before]))) < 1e-9
    assert np.all(x[after] == 0.0)  # held exactly at zero, never below
    # the time spent above zero is the time the stock reaches zero
    assert res["empty_time"].to_numpy()[-1] == pytest.approx(10 / 3, abs=1e-6)
    # the flow is the model's, as with a fixed step: only the stock is held
    assert np.all(res["out"].to_numpy() == 3.0)


@pytest.mark.parametrize("method", ["rk45", "radau"])
def test_a_held_stock_rises_again_when_its_net_rate_turns_positive(
    tmp_path: Path, method: str
) -> None:
    text = DRAIN + "  refill: {to: x, rate: 'STEP(5, 6)'}\n"
    res = ps.simulate(ps.load_model(write(tmp_path, text)), method=method, rtol=1e-9, atol=1e-12)
    t, x = res.times, res["x"].to_numpy()
    exact = np.maximum(10 - 3 * t, 0.0) + 2 * np.maximum(t - 6, 0.0)
    assert np.max(np.abs(x - exact)) < 1e-8
    assert x.min() >= 0.0


def test_members_reach_zero_each_at_their_own_time(tmp_path: Path) -> None:
    model = ps.load_model(write(tmp_path, DRAIN))
    rates = np.array([1.3, 2.0, 3.0, 4.7, 9.1])
    res = ps.simulate(model, {"rate": rates}, method="rk45", rtol=1e-9, atol=1e-12)
    exact = np.maximum(10 - np.outer(res.times, rates), 0.0)
    assert np.max(np.abs(res["x"].to_numpy() - exact)) < 1e-8
    np.testing.assert_allclose(res["empty_time"].to_numpy()[-1], 10 / rates, atol=1e-6)


def test_a_stock_that_is_not_non_negative_goes_below_zero(tmp_path: Path) -> None:
    text = DRAIN.replace("{initial: x0, non_negative: true}", "x0")
    res = ps.simulate(ps.load_model(write(tmp_path, text)), method="rk45", rtol=1e-9, atol=1e-12)
    assert res["x"].to_numpy()[-1] == pytest.approx(10 - 3 * 10)


def test_a_negative_initial_value_is_recorded_then_held_as_with_a_fixed_step(
    tmp_path: Path,
) -> None:
    text = DRAIN.replace("x0: 10", "x0: -1").replace(", save_every: 0.125", "")
    model = ps.load_model(write(tmp_path, text))
    for method in ("euler", "rk45"):
        x = ps.simulate(model, method=method)["x"].to_numpy()
        assert x[0] == -1.0, method
        assert np.all(x[1:] == 0.0), method


def test_a_dated_intervention_switches_at_its_exact_date(tmp_path: Path) -> None:
    (tmp_path / "model.yaml").write_text(
        "time: {stop: 5, dt: 0.25, save_every: 0.05}\nparameters: {inflow_rate: 0}\n"
        "stocks: {x: 0}\nflows: {inflow: {to: x, rate: inflow_rate}}\n"
    )
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        "scenario: dated\nmodel: model.yaml\nmethod: rk45\n"
        "interventions: [{set: inflow_rate, to: 1, at: 2.3}]\n"
    )
    result = ps.run_scenario(scenario)
    t = result.results.times
    # with Vensim's 1e-6 guard the stock would be 1e-6 ahead from the date on
    assert np.max(np.abs(result["x"].to_numpy() - np.maximum(t - 2.3, 0.0))) < 1e-10
    assert result["inflow"].to_numpy().tolist() == (t >= 2.3).astype(float).tolist()
