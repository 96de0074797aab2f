"""The example models load, run with every fixed-step method and obey their laws."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import pssc_sim as ps
from pssc_sim.integrate.fixed import saved_times
from pssc_sim.integrate.grid import Grid

MODELS = Path(__file__).resolve().parent.parent / "models"


@pytest.mark.parametrize("folder", ["teacup", "sir"])
@pytest.mark.parametrize("method", ["euler", "rk4"])
def test_example_loads_and_runs(folder: str, method: str) -> None:
    model = ps.load_model(MODELS / folder)
    res = ps.simulate(model, method=method)
    assert res.times[0] == model.time.start
    assert res.times[-1] == model.time.stop
    assert np.isfinite(res.values).all()
    assert all(stock.name in res for stock in model.stocks if not stock.hidden)
    assert (MODELS / folder / "README.md").is_file()


@pytest.mark.parametrize("method", ["euler", "rk4"])
def test_sir_conserves_population(method: str) -> None:
    res = ps.simulate(ps.load_model(MODELS / "sir"), method=method)
    total = res["susceptible"] + res["infected"] + res["recovered"]
    np.testing.assert_allclose(total.to_numpy(), 10_000.0, rtol=1e-9)


def test_sir_final_size() -> None:
    # Kermack-McKendrick final-size relation: ln(s) = R0 (s - 1), R0 = 6 * 0.25 * 2 = 3.
    res = ps.simulate(ps.load_model(MODELS / "sir"), method="rk4", time={"stop": 100})
    s = res["susceptible"].iloc[-1] / 10_000
    assert np.log(s) == pytest.approx(3.0 * (s - 1), abs=1e-4)


def test_teacup_matches_newtons_law_with_rk4() -> None:
    res = ps.simulate(ps.load_model(MODELS / "teacup"), method="rk4")
    t = res.times
    exact = 70 + (180 - 70) * np.exp(-t / 10)
    np.testing.assert_allclose(res["teacup_temperature"].to_numpy(), exact, rtol=1e-6)


def test_teacup_euler_matches_its_recurrence() -> None:
    # Euler at dt applies (1 - dt / tau) to the gap each step.
    res = ps.simulate(ps.load_model(MODELS / "teacup"), method="euler")
    steps = np.rint(res.times / 0.125)
    exact = 70 + (180 - 70) * (1 - 0.125 / 10) ** steps
    np.testing.assert_allclose(res["teacup_temperature"].to_numpy(), exact, rtol=1e-12)


def test_teacup_comfort_lookup_peaks_at_140() -> None:
    res = ps.simulate(ps.load_model(MODELS / "teacup"), method="rk4", time={"stop": 60})
    comfort = res["drinking_comfort"]
    temperature = res["teacup_temperature"]
    peak = comfort.idxmax()
    assert comfort.max() == pytest.approx(1.0, abs=0.01)
    assert temperature[peak] == pytest.approx(140.0, abs=1.0)


def test_teacup_adaptive_method_agrees_with_rk4() -> None:
    adaptive = ps.simulate(ps.load_model(MODELS / "teacup"), method="rk45", rtol=1e-9, atol=1e-9)
    fixed = ps.simulate(ps.load_model(MODELS / "teacup"), method="rk4")
    np.testing.assert_allclose(
        adaptive["teacup_temperature"].to_numpy(), fixed["teacup_temperature"].to_numpy(), rtol=1e-6
    )


@pytest.mark.parametrize(
    "folder", sorted(p.name for p in MODELS.iterdir() if (p / "model.yaml").is_file())
)
def test_saved_times_follow_the_time_block(folder: str) -> None:
    # One time grid: every method saves start, start + save_every, ... and stop, whatever the
    # model's time block (the fixed-step methods save the first step on or after each time).
    time = ps.load_model(MODELS / folder).time
    grid = Grid.from_time(time)
    every = np.arange(0.0, (time.stop - time.start) / time.save_every + 1e-6)
    expected = np.unique(np.append(time.start + time.save_every * every, time.stop))
    np.testing.assert_allclose(grid.save_times(), expected, rtol=0, atol=1e-9 * time.stop)
    fixed = saved_times(grid)
    assert fixed[0] == time.start
    assert fixed[-1] == time.stop
    if math.isclose(time.save_every / time.dt, round(time.save_every / time.dt)):
        np.testing.assert_allclose(fixed, expected, rtol=0, atol=1e-9 * time.stop)
