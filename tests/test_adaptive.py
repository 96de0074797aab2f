"""Adaptive methods against closed forms, breakpoints, the generated Jacobian, and their errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.linalg

import pssc_sim as ps
from pssc_sim.compile.breakpoints import MAX_BREAKPOINTS, breakpoint_plan
from pssc_sim.compile.jacobian import derivative, jacobian_kernel
from pssc_sim.integrate.adaptive import block_pattern, exact_clock
from pssc_sim.integrate.grid import Grid
from pssc_sim.integrate.methods import METHODS

ADAPTIVE = ("rk45", "dop853", "lsoda", "bdf", "radau")
IMPLICIT = ("bdf", "radau", "lsoda")

DECAY = """
time: {stop: 10, dt: 0.25}
parameters: {k: 0.3}
stocks: {x: 100}
flows: {out: {from: x, rate: k * x}}
"""

TEACUP = """
time: {stop: 30, dt: 0.125}
parameters: {room_temperature: 70, characteristic_time: 10}
stocks: {teacup_temperature: 180}
flows:
  heat_loss: {from: teacup_temperature,
              rate: (teacup_temperature - room_temperature) / characteristic_time}
auxiliaries: {temperature_gap: teacup_temperature - room_temperature}
"""

STIFF = """
time: {stop: 5, dt: 0.1}
stocks: {fast: 1, slow: 1}
flows:
  decay_fast: {from: fast, rate: 1000 * fast}
  feed: {to: fast, rate: slow}
  decay_slow: {from: slow, rate: slow}
"""


def write(tmp_path: Path, text: str, name: str = "model.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def relative_error(got: np.ndarray, exact: np.ndarray) -> float:
    return float(np.max(np.abs(got - exact) / np.abs(exact)))


def test_registry_lists_the_adaptive_methods() -> None:
    for name in ADAPTIVE:
        assert not METHODS[name].fixed_step
        assert METHODS[name].name == name


@pytest.mark.parametrize(
    ("method", "rtol", "tolerance"),
    [
        ("rk45", 1e-6, 1e-4),
        ("dop853", 1e-9, 1e-6),
        ("lsoda", 1e-8, 1e-4),
        ("bdf", 1e-8, 1e-4),
        ("radau", 1e-8, 1e-4),
    ],
)
def test_exponential_decay(tmp_path: Path, method: str, rtol: float, tolerance: float) -> None:
    res = ps.simulate(ps.load_model(write(tmp_path, DECAY)), method=method, rtol=rtol, atol=1e-12)
    assert np.allclose(res.times, np.arange(0, 10.001, 0.25))
    assert relative_error(res["x"].to_numpy(), 100 * np.exp(-0.3 * res.times)) < tolerance


@pytest.mark.parametrize(
    ("method", "rtol", "tolerance"), [("rk45", 1e-6, 1e-4), ("dop853", 1e-9, 1e-6)]
)
def test_teacup_cooling_law(tmp_path: Path, method: str, rtol: float, tolerance: float) -> None:
    res = ps.simulate(ps.load_model(write(tmp_path, TEACUP)), method=method, rtol=rtol, atol=1e-12)
    exact = 70 + 110 * np.exp(-res.times / 10)
    assert relative_error(res["teacup_temperature"].to_numpy(), exact) < tolerance
    assert relative_error(res["heat_loss"].to_numpy(), (exact - 70) / 10) < tolerance


@pytest.mark.parametrize("method", IMPLICIT)
def test_stiff_linear_system_matches_matrix_exponential(tmp_path: Path, method: str) -> None:
    res = ps.simulate(ps.load_model(write(tmp_path, STIFF)), method=method, rtol=1e-8, atol=1e-12)
    matrix = np.array([[-1000.0, 1.0], [0.0, -1.0]])
    exact = np.array([scipy.linalg.expm(matrix * t) @ [1.0, 1.0] for t in res.times])
    got = np.stack([res["fast"].to_numpy(), res["slow"].to_numpy()], axis=1)
    assert relative_error(got, exact) < 1e-5


STEP_MODEL = """
time: {stop: 10, dt: 0.25}
stocks: {x: 0}
flows: {f: {to: x, rate: 'STEP(1, 5)'}}
"""


@pytest.mark.parametrize("method", ADAPTIVE)
def test_step_is_a_breakpoint_and_the_solution_is_exact(tmp_path: Path, method: str) -> None:
    res = ps.simulate(ps.load_model(write(tmp_path, STEP_MODEL)), method=method)
    # an adaptive method switches at the exact time, not half a time step early
    exact = np.maximum(0.0, res.times - 5.0)
    assert np.max(np.abs(res["x"].to_numpy() - exact)) < 1e-8
    # and the flow is on from the switching time on, off before it
    assert res["f"].to_numpy().tolist() == (res.times >= 5.0).astype(float).tolist()


def test_step_switching_time_is_the_exact_one(tmp_path: Path) -> None:
    model = ps.load_model(write(tmp_path, STEP_MODEL))
    grid = Grid(0.0, 10.0, 0.25, 0.25)
    times = breakpoint_plan(model).times(exact_clock(grid), np.zeros((0, 1)))
    assert times.tolist() == [5.0]


@pytest.mark.parametrize("method", ["rk45", "bdf"])
def test_pulse_and_ramp_integrate_exactly(tmp_path: Path, method: str) -> None:
    text = """
time: {stop: 10, dt: 0.5}
stocks: {pulsed: 0, ramped: 0}
flows:
  p: {to: pulsed, rate: 'PULSE(2, 3)'}
  r: {to: ramped, rate: 'RAMP(1, 2, 6)'}
"""
    res = ps.simulate(ps.load_model(write(tmp_path, text)), method=method, rtol=1e-9, atol=1e-12)
    t = res.times
    # exact switching: PULSE is 1 on [2, 5), RAMP rises from 2 to 6
    pulsed = np.clip(t - 2, 0, 3)
    inside = np.clip(t, 2, 6) - 2
    ramped = inside**2 / 2 + 4 * np.maximum(t - 6, 0)
    assert np.max(np.abs(res["pulsed"].to_numpy() - pulsed)) < 1e-8
    assert np.max(np.abs(res["ramped"].to_numpy() - ramped)) < 1e-6


def test_pulse_train_and_time_conditions_give_breakpoints(tmp_path: Path) -> None:
    text = """
time: {stop: 12, dt: 0.5}
parameters: {t_on: 4}
stocks: {x: 0}
auxiliaries: {clock_time: TIME * 2}
flows:
  f: {to: x, rate: 'PULSE_TRAIN(1, 0.5, 3, 8) + IF_THEN_ELSE(clock_time > t_on, 1, 0)'}
"""
    model = ps.load_model(write(tmp_path, text))
    grid = Grid(0.0, 12.0, 0.5, 0.5)
    times = breakpoint_plan(model).times(exact_clock(grid), np.array([[4.0, 10.0]]))
    for expected in (1.0, 1.5, 4.0, 4.5, 2.0, 5.0, 8.0):
        assert np.min(np.abs(times - expected)) < 1e-9
    res = ps.simulate(model, method="rk45")
    pulses = sum(np.clip(res.times - s, 0, 0.5) for s in (1, 4, 7))
    assert np.max(np.abs(res["x"].to_numpy() - pulses - np.maximum(res.times - 2, 0))) < 1e-8


def test_breakpoints_are_capped(tmp_path: Path) -> None:
    text = """
time: {stop: 1000, dt: 0.01}
stocks: {x: 0}
flows: {f: {to: x, rate: 'PULSE_TRAIN(0, 0.01, 0.02, 1000)'}}
"""
    model = ps.load_model(write(tmp_path, text))
    times = breakpoint_plan(model).times(Grid(0.0, 1000.0, 0.01, 1.0).clock, np.zeros((0, 1)))
    assert times.size == MAX_BREAKPOINTS
    assert np.all(np.diff(times) > 0)


@pytest.mark.parametrize("method", ["rk45", "bdf", "lsoda"])
def test_ensemble_matches_each_closed_form(tmp_path: Path, method: str) -> None:
    rates = np.linspace(0.05, 2.0, 50)
    res = ps.simulate(
        ps.load_model(write(tmp_path, DECAY)), {"k": rates}, method=method, rtol=1e-8, atol=1e-12
    )
    exact = 100 * np.exp(-np.outer(res.times, rates))
    assert relative_error(res["x"].to_numpy(), exact) < 1e-4


def test_chunks_give_the_same_ensemble(tmp_path: Path) -> None:
    model = ps.load_model(write(tmp_path, TEACUP))
    params = {"characteristic_time": np.linspace(5, 20, 23)}
    whole = ps.simulate(model, params, method="radau", rtol=1e-8, atol=1e-10)
    chunked = ps.simulate(model, params, method="radau", rtol=1e-8, atol=1e-10, chunk=5)
    assert np.allclose(whole.values, chunked.values, rtol=1e-6)


def test_adaptive_agrees_with_small_step_rk4(tmp_path: Path) -> None:
    text = """
time: {stop: 20, dt: 0.01, save_every: 1}
parameters: {delay: 3}
stocks: {x: 10}
flows: {f: {from: x, rate: 'x / 5 + 0 * SMOOTH(x, delay)'},
        g: {to: x, rate: 'DELAY3(f, delay)'}}
"""
    path = write(tmp_path, text)
    reference = ps.simulate(ps.load_model(path), method="rk4").values
    for method in ADAPTIVE:
        got = ps.simulate(ps.load_model(path), method=method, rtol=1e-9, atol=1e-12).values
        assert np.allclose(got, reference, rtol=1e-6, atol=1e-9), method


NONLINEAR = """
time: {stop: 5}
parameters: {k: 0.7, cap: 3}
stocks: {x: 2, z: 1, w: 0.5}
auxiliaries:
  pressure: 'MIN(x * z * k, cap) + effect(x / (1 + w))'
  level: 'MAX(z, 2 * w) + ABS(x - z) + EXP(-w) * SQRT(x)'
flows:
  f: {from: x, to: z, rate: pressure}
  g: {from: z, rate: 'level * z / (1 + x ** 2)'}
  h: {to: w, rate: 'IF_THEN_ELSE(x > 1, x * w, LN(1 + z)) - MODULO(3 * w, 2)'}
lookups:
  effect: {points: [[0, 0], [1, 0.5], [2, 2], [4, 2.5]]}
"""


def test_jacobian_equals_finite_differences(tmp_path: Path) -> None:
    compiled = ps.compile_model(ps.load_model(write(tmp_path, NONLINEAR)))
    kernel = jacobian_kernel(compiled.model)
    assert kernel.function is not None
    rng = np.random.default_rng(1)
    y = rng.uniform(0.2, 3.0, size=(3, 8))
    p = np.array([[0.7] * 8, [3.0] * 8])
    clock = (1.0, 0.0, 5.0)
    values = kernel.evaluate(0.0, clock, y, p)
    for member in range(y.shape[1]):
        exact = finite_difference_jacobian(compiled, y[:, member], p[:, [member]], clock)
        assert np.allclose(kernel.dense(values[:, member]), exact, rtol=1e-6, atol=1e-6)


def finite_difference_jacobian(
    compiled: ps.CompiledModel, y: np.ndarray, p: np.ndarray, clock: tuple[float, float, float]
) -> np.ndarray:
    def rates(state: np.ndarray) -> np.ndarray:
        dy = np.empty((state.size, 1))
        compiled.rates(0.0, clock, state[:, None], p, np.empty((0, 1)), dy, np.empty((0, 1)))
        return dy[:, 0]

    step = 1e-6
    columns = [(rates(y + step * e) - rates(y - step * e)) / (2 * step) for e in np.eye(y.size)]
    return np.stack(columns, axis=1)


def test_jacobian_pattern_is_block_diagonal(tmp_path: Path) -> None:
    kernel = jacobian_kernel(ps.load_model(write(tmp_path, NONLINEAR)))
    pattern = block_pattern(kernel, 4).toarray()
    assert pattern.shape == (12, 12)
    assert pattern[:3, 3:].sum() == 0
    assert pattern[3:6, :3].sum() == 0
    assert pattern.sum() == 4 * kernel.n_entries


def test_derivative_of_piecewise_constant_functions_is_zero() -> None:
    x = ps.ir.functions.variable_symbol("x")
    assert derivative(ps.ir.functions.INTEGER(x) + ps.ir.functions.sympy.floor(x), x) == 0


@pytest.mark.parametrize("method", ["bdf", "radau", "lsoda"])
def test_implicit_methods_run_the_nonlinear_model(tmp_path: Path, method: str) -> None:
    path = write(tmp_path, NONLINEAR)
    reference = ps.simulate(ps.load_model(path), method="dop853", rtol=1e-10, atol=1e-12).values
    got = ps.simulate(ps.load_model(path), method=method, rtol=1e-8, atol=1e-10).values
    assert np.allclose(got, reference, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    ("builtin", "equation"),
    [("DELAY_FIXED", "DELAY_FIXED(x, 1, 0)"), ("SAMPLE_IF_TRUE", "SAMPLE_IF_TRUE(TIME > 1, x, 0)")],
)
def test_discrete_states_are_rejected(tmp_path: Path, builtin: str, equation: str) -> None:
    text = f"time: {{stop: 2}}\nstocks: {{x: 1}}\nflows: {{f: {{to: x, rate: '{equation}'}}}}\n"
    with pytest.raises(
        ps.ModelError,
        match=rf"f: {builtin} keeps a discrete state .*"
        r"method='rk45'.*Use method='euler' or 'rk4'",
    ):
        ps.simulate(ps.load_model(write(tmp_path, text)), method="rk45")


BLOW_UP = """
time: {stop: 2, dt: 0.25}
stocks: {x: 1}
flows: {f: {to: x, rate: x * x}}
"""


def test_failed_solve_names_the_time_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(
        ps.SimulationError,
        match=r"rk45 solver failed at time 1 of 2 \(got 'Required step size.*"
        r"try method='bdf' or 'radau'",
    ):
        ps.simulate(ps.load_model(write(tmp_path, BLOW_UP)), method="rk45")
    with pytest.raises(ps.SimulationError, match=r"bdf solver failed at time 0\.99.*singularity"):
        ps.simulate(ps.load_model(write(tmp_path, BLOW_UP)), method="bdf")


def test_non_finite_output_names_the_variable(tmp_path: Path) -> None:
    text = """
time: {stop: 2, dt: 0.25}
stocks: {x: 1}
flows: {f: {from: x, rate: 1}}
auxiliaries: {log_x: LN(x)}
"""
    with pytest.raises(
        ps.SimulationError, match=r"log_x: the value is not finite at time 1 \(got -inf\)"
    ):
        ps.simulate(ps.load_model(write(tmp_path, text)), method="rk45")


def test_non_finite_initial_stock_is_reported(tmp_path: Path) -> None:
    text = """
time: {stop: 2}
parameters: {zero: 0}
stocks: {x: 1 / zero}
flows: {f: {from: x, rate: x}}
"""
    with pytest.raises(ps.SimulationError, match=r"x: the initial value is not finite \(got inf"):
        ps.simulate(ps.load_model(write(tmp_path, text)), method="bdf")


def test_ensemble_breakpoints_are_the_union_over_members(tmp_path: Path) -> None:
    text = """
time: {stop: 10, dt: 0.25}
parameters: {t_on: 5}
stocks: {x: 0}
flows: {f: {to: x, rate: 'STEP(2, t_on)'}}
"""
    starts = np.linspace(1.1, 8.9, 40)
    res = ps.simulate(ps.load_model(write(tmp_path, text)), {"t_on": starts}, method="rk45")
    # every member switches at its own exact time
    exact = 2 * np.maximum(0.0, res.times[:, None] - starts)
    assert np.max(np.abs(res["x"].to_numpy() - exact)) < 1e-8


def test_the_registry_and_the_solvers_agree_on_which_methods_are_implicit() -> None:
    from pssc_sim.integrate.adaptive import IMPLICIT, SOLVERS
    from pssc_sim.integrate.methods import METHODS

    assert {name for name, m in METHODS.items() if m.implicit} == IMPLICIT
    assert {name for name, m in METHODS.items() if not m.fixed_step} == set(SOLVERS)


def test_each_method_has_default_tolerances_for_what_it_is_for(make_model) -> None:
    model = make_model(
        "time: {start: 0, stop: 20, dt: 0.25}\nparameters:\n  r: {value: 0.7}\n"
        "  k: {value: 1000}\nstocks:\n  p: {initial: 10}\n"
        "flows:\n  growth: {to: p, rate: 'r * p * (1 - p / k)'}\n"
    )

    def error(method: str, rtol: float | None = None, atol: float | None = None) -> float:
        res = ps.simulate(model, method=method, rtol=rtol, atol=atol)
        t = np.asarray(res.times)
        exact = 1000 / (1 + 99 * np.exp(-0.7 * t))
        return float(np.max(np.abs(res["p"].to_numpy() - exact) / exact))

    # dop853, offered for tight tolerances, meets them by default; given ones still count
    assert error("dop853") < 1e-8
    assert error("dop853", rtol=1e-6, atol=1e-9) > 1e-7
    assert 1e-8 < error("rk45") < 1e-4


@pytest.mark.parametrize("method", ["rk45", "bdf"])
def test_a_member_among_quiet_ones_keeps_the_accuracy_it_has_alone(make_model, method) -> None:
    # logistic growth: one fast member among 63 slow ones; scipy's error norm averages over
    # the chunk, so without control per member the fast one would be solved more loosely
    model = make_model(
        "time: {start: 0, stop: 20, dt: 0.25}\nparameters:\n  r: {value: 0.7}\n"
        "  k: {value: 1000}\nstocks:\n  p: {initial: 10}\n"
        "flows:\n  growth: {to: p, rate: 'r * p * (1 - p / k)'}\n"
    )
    rates = np.full(64, 0.2)
    rates[0] = 3.0
    ensemble = ps.simulate(model, {"r": rates}, method=method)
    alone = ps.simulate(model, {"r": 3.0}, method=method)
    t = np.asarray(alone.times)
    exact = 1000 / (1 + 99 * np.exp(-3.0 * t))

    def error(values: np.ndarray) -> float:
        return float(np.max(np.abs(values - exact) / exact))

    assert error(ensemble["p"].to_numpy()[:, 0]) <= 1.5 * error(alone["p"].to_numpy())
