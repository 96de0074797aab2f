"""Pure builtins and lookups on the Euler grid, and the builtin table as data."""

from __future__ import annotations

import numpy as np
import pytest
import sympy

import pssc_sim as ps
from pssc_sim.ir.builtins import BUILTINS, RESERVED_NAMES
from pssc_sim.ir.stateful import LOWERINGS

GRID = "time: {start: 0, stop: 10, dt: 1}\n"


def run_auxiliary(
    make_model,
    equation: str,
    *,
    header: str = GRID,
    method: str = "euler",
    params: dict[str, object] | None = None,
) -> np.ndarray:
    """Values of one auxiliary ``value: equation`` at every saved row."""
    model = make_model(header + f"auxiliaries:\n  value: '{equation}'\n")
    return ps.simulate(model, params, method=method)["value"].to_numpy()


T = np.arange(11.0)


@pytest.mark.parametrize(
    ("equation", "expected"),
    [
        # STEP switches half a step early: STEP(1, 5) at dt=1 is 1 at t=5.
        ("STEP(1, 5)", np.where(T >= 5, 1.0, 0.0)),
        ("STEP(-2, 4.6)", np.where(T >= 5, -2.0, 0.0)),
        ("STEP(3, 4.4)", np.where(T >= 4, 3.0, 0.0)),
        ("PULSE(3, 2)", np.where((T >= 3) & (T < 5), 1.0, 0.0)),
        ("PULSE(3)", np.where(T == 3, 1.0, 0.0)),
        ("PULSE_TRAIN(1, 1, 3, 8)", np.where(np.isin(T, [1, 4, 7]), 1.0, 0.0)),
        ("PULSE_TRAIN(0, 2, 4, 10)", np.where(np.isin(T, [0, 1, 4, 5, 8, 9]), 1.0, 0.0)),
        ("RAMP(2, 2, 6)", 2 * (np.clip(T, 2, 6) - 2)),
        ("RAMP(0.5, 3)", 0.5 * np.maximum(T - 3, 0)),
        ("INTEGER(TIME - 2.5)", np.trunc(T - 2.5)),
        ("INTEGER(-2.5) + INTEGER(2.5) * 10", np.full(11, 18.0)),
        ("MODULO(TIME - 5, 3)", np.mod(T - 5, 3)),
        ("MODULO(TIME, -4)", np.mod(T, -4)),
        ("MIN(TIME, 4, 7 - TIME)", np.minimum(np.minimum(T, 4), 7 - T)),
        ("MAX(TIME, 4, 7 - TIME)", np.maximum(np.maximum(T, 4), 7 - T)),
        ("ABS(TIME - 4)", np.abs(T - 4)),
        ("EXP(TIME / 10) + LN(TIME + 1)", np.exp(T / 10) + np.log(T + 1)),
        ("LOG(TIME + 1) + LOG(TIME + 1, 2)", np.log10(T + 1) + np.log2(T + 1)),
        ("SQRT(TIME) + POWER(TIME, 1.5)", np.sqrt(T) + T**1.5),
        (
            "SIN(TIME) + COS(TIME) + TAN(TIME / 10) + ARCTAN(TIME)",
            np.sin(T) + np.cos(T) + np.tan(T / 10) + np.arctan(T),
        ),
        ("IF_THEN_ELSE(TIME > 4, 1, -1)", np.where(T > 4, 1.0, -1.0)),
        ("IF_THEN_ELSE(TIME, 5, 6)", np.where(T != 0, 5.0, 6.0)),
        ("2 if TIME >= 3 and not TIME > 6 else 0", np.where((T >= 3) & (T <= 6), 2.0, 0.0)),
        ("(TIME > 2) + (TIME > 8) * 10", (T > 2) + (T > 8) * 10.0),
        ("TIME_STEP + INITIAL_TIME * 0 + FINAL_TIME", np.full(11, 11.0)),
        ("TIME % 4", np.mod(T, 4)),
    ],
)
def test_pure_builtins_on_the_euler_grid(make_model, equation, expected):
    for method in ("euler", "rk4"):
        values = run_auxiliary(make_model, equation, method=method)
        np.testing.assert_allclose(values, expected, rtol=1e-12, atol=1e-12)


def test_step_pulse_and_ramp_on_a_fine_grid(make_model):
    header = "time: {start: 0, stop: 4, dt: 0.25}\n"
    t = np.arange(17) * 0.25
    step = run_auxiliary(make_model, "STEP(2, 1.5)", header=header)
    np.testing.assert_array_equal(step, np.where(t >= 1.5, 2.0, 0.0))
    pulse = run_auxiliary(make_model, "PULSE(1, 0.5)", header=header)
    np.testing.assert_array_equal(pulse, np.where((t >= 1) & (t < 1.5), 1.0, 0.0))
    ramp = run_auxiliary(make_model, "RAMP(1, 0.5, 2)", header=header)
    np.testing.assert_allclose(ramp, np.clip(t, 0.5, 2) - 0.5, atol=1e-12)


@pytest.mark.parametrize(
    ("equation", "k", "expected"),
    [
        ("XIDZ(3, k, 7)", 0.0, 7.0),
        ("XIDZ(3, k, 7)", 1e-7, 7.0),
        ("XIDZ(3, k, 7)", 2.0, 1.5),
        ("ZIDZ(3, k)", 0.0, 0.0),
        ("ZIDZ(3, k)", -1e-7, 0.0),
        ("ZIDZ(3, k)", -2.0, -1.5),
        ("IF_THEN_ELSE(k > 0, 1 / k, 0)", 0.0, 0.0),
        ("IF_THEN_ELSE(k > 0, LN(k), -1)", 0.0, -1.0),
        ("IF_THEN_ELSE(k >= 0, SQRT(k), 5)", -4.0, 5.0),
        ("IF_THEN_ELSE(k != 0, 1 / k, 0)", 4.0, 0.25),
    ],
)
def test_guarded_divisions_and_lazy_conditions(make_model, equation, k, expected):
    header = GRID + "parameters: {k: 1}\n"
    for method in ("euler", "rk4"):
        values = run_auxiliary(make_model, equation, header=header, method=method, params={"k": k})
        np.testing.assert_array_equal(values, np.full(11, expected))
    ensemble = make_model(header + f"auxiliaries:\n  value: '{equation}'\n")
    res = ps.simulate(ensemble, {"k": [k, 2.0]})
    assert (res["value"][0].to_numpy() == expected).all()


@pytest.mark.parametrize(
    "equation",
    [
        "IF_THEN_ELSE(x > 0, 1 / x, 0)",
        "ZIDZ(1, x)",
        "XIDZ(1, TIME - 3, 7)",
        "XIDZ(-0.693, TIME, -0.693) ** 2",
    ],
)
def test_lazy_branches_with_a_constant_auxiliary_or_time(make_model, equation):
    header = GRID + "parameters: {k: 1}\n"
    model = make_model(header + f"auxiliaries:\n  x: 0\n  value: '{equation}'\n")
    for params in (None, {"k": [1.0, 2.0]}):
        values = ps.simulate(model, params)["value"].to_numpy()
        assert np.isfinite(values).all()


def test_a_selected_division_by_zero_is_reported_with_its_variable(make_model):
    model = make_model(GRID + "parameters: {k: 0}\nauxiliaries:\n  ratio: 1 / k\n")
    with pytest.raises(
        ps.SimulationError,
        match=r"model\.yaml: (auxiliaries\.)?ratio: the value is "
        r"not finite at time 0 \(got inf\)\. Look for a "
        r"division by zero",
    ):
        ps.simulate(model)
    with pytest.raises(
        ps.SimulationError,
        match=r"ratio: the value is not finite at time 0 "
        r"\(got inf, member 1\)",
    ):
        ps.simulate(model, {"k": [1.0, 0.0]})


LOOKUP = (
    GRID
    + """parameters: {x: 0}
lookups:
  effect: {points: [[2, 0], [4, 1], [8, 0]]}
  stairs: {x: [0, 5], y: [1, 3], extrapolation: discrete}
  line: {points: [[0, 0], [1, 2]], extrapolation: linear}
auxiliaries:
  value: effect(x)
  stepped: stairs(x)
  extended: line(x)
"""
)


@pytest.mark.parametrize(
    ("x", "effect", "stepped", "extended"),
    [
        (2.0, 0.0, 1.0, 4.0),
        (4.0, 1.0, 1.0, 8.0),
        (8.0, 0.0, 3.0, 16.0),
        (3.0, 0.5, 1.0, 6.0),
        (3.5, 0.75, 1.0, 7.0),
        (5.0, 0.75, 3.0, 10.0),
        (7.0, 0.25, 3.0, 14.0),
        (-100.0, 0.0, 1.0, -200.0),
        (1.0, 0.0, 1.0, 2.0),
        (100.0, 0.0, 3.0, 200.0),
        (0.5, 0.0, 1.0, 1.0),
    ],
)
def test_lookups_interpolate_between_points_and_hold_outside(
    make_model, x, effect, stepped, extended
):
    model = make_model(LOOKUP)
    for params in ({"x": x}, {"x": [x, x]}):
        res = ps.simulate(model, params)
        for name, expected in (("value", effect), ("stepped", stepped), ("extended", extended)):
            assert np.all(res[name].to_numpy() == pytest.approx(expected, rel=1e-12)), name


def test_a_lookup_of_time_interpolates_on_the_grid(make_model):
    model = make_model(
        GRID
        + """lookups:
  effect: {points: [[2, 0], [4, 1], [8, 0]]}
auxiliaries:
  value: effect(TIME)
"""
    )
    expected = np.interp(T, [2, 4, 8], [0, 1, 0])
    for method in ("euler", "rk4"):
        np.testing.assert_allclose(
            ps.simulate(model, method=method)["value"], expected, rtol=1e-12, atol=1e-15
        )


# -- the table as data ------------------------------------------------------------------------


def test_every_stateful_builtin_has_a_lowering_and_only_those():
    stateful = {name for name, row in BUILTINS.items() if row.stateful}
    assert stateful == set(LOWERINGS)


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_every_builtin_row_is_consistent(name):
    row = BUILTINS[name]
    assert row.name == name
    # only a stateful builtin (a random draw) may take no argument: a pure one would be a number
    assert (0 if row.stateful else 1) <= row.min_args <= row.max_args
    assert row.description.startswith(f"{name}(")
    assert row.accepts(row.min_args)
    assert row.accepts(row.max_args)
    assert not row.accepts(row.min_args - 1)
    assert not row.accepts(row.max_args + 1)
    args = [sympy.Symbol(f"a{i}", real=True) for i in range(row.min_args)]
    assert isinstance(row.build(args), sympy.Basic)


def test_reserved_names_are_the_clock():
    assert {"TIME", "TIME_STEP", "INITIAL_TIME", "FINAL_TIME"} == RESERVED_NAMES


def test_builtins_are_called_case_insensitively(make_model):
    values = run_auxiliary(make_model, "max(TIME, 3) + Step(1, 5)")
    np.testing.assert_array_equal(values, np.maximum(T, 3) + (T >= 5))


def test_a_guarded_division_by_a_conditional_zero_compiles(make_model):
    values = run_auxiliary(
        make_model, "XIDZ(k, IF_THEN_ELSE(k > 0, k, 0), 7)", header=GRID + "parameters: {k: 0}\n"
    )
    np.testing.assert_array_equal(values, np.full(11, 7.0))


def test_an_ensemble_cannot_change_the_order_of_a_smooth(make_model) -> None:
    model = make_model(
        "time: {start: 0, stop: 10, dt: 0.25}\nparameters:\n  n: {value: 3}\n"
        "auxiliaries:\n  x: {equation: 'STEP(1, 1)'}\n  s: {equation: 'SMOOTHN(x, 2, 0, n)'}\n"
        "  d: {equation: 'DELAYN(x, 2, 0, n)'}\n"
    )
    built = ps.simulate(model)["s"].to_numpy()
    # the order it was built with may be passed; every member then runs that order
    same = ps.simulate(model, {"n": [3, 3]})
    np.testing.assert_array_equal(same["s"].to_numpy()[:, 1], built)
    with pytest.raises(
        ps.ParameterError,
        match=r"params\['n'\]: n is the order of (SMOOTHN in s|DELAYN in d), fixed when the "
        r"model is built \(got \[1\.0, 2\.0, 3\.0\], built with 3\)\. Change it in the model "
        r"file and load the model again for each order",
    ):
        ps.simulate(model, {"n": [1, 2, 3]})
