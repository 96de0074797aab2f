"""The forms of the generated kernel that integrators call: prepared parameters (terms of
parameters alone hoisted out of the step) and rates bound to arrays updated in place."""

from __future__ import annotations

import math

import numpy as np
import sympy
from conftest import load_text
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from strategies import equations

import pssc_sim as ps
from pssc_sim.compile.hoisting import hoist
from pssc_sim.ir.functions import FINAL_TIME, INITIAL_TIME, TIME, TIME_STEP, variable_symbol

MODEL = """
time: {start: 0, stop: 4, dt: 0.5}
parameters: {a: 2, b: 3, c: 0.5}
stocks:
  x: {initial: 10, non_negative: true}
  z: 1
flows:
  drain: {from: x, rate: a * x * b / (c + 1) + EXP(-c) * TIME}
  fill: {to: z, rate: "IF_THEN_ELSE(a > b, x, z * c) + 5"}
auxiliaries:
  share: x / (x + z) * a * b
"""


def test_terms_of_parameters_alone_become_rows_of_the_prepared_parameters():
    model = load_text(MODEL)
    a, b, x = (variable_symbol(n) for n in ("a", "b", "x"))
    (rewritten,), invariants = hoist(model, [a * x * b])
    assert invariants.exprs == (a * b,)
    assert rewritten == invariants.symbols[0] * x
    compiled = ps.compile_model(model)
    p = np.array([[2.0, 4.0], [3.0, 5.0], [0.5, 1.0]])
    prepared = compiled.prepare((0.5, 0.0, 4.0), p)
    np.testing.assert_array_equal(prepared[:3], p)
    assert prepared.shape[0] > 3


def test_bound_rates_equal_rates_and_follow_the_arrays_in_place():
    compiled = ps.compile_model(load_text(MODEL))
    rng = np.random.default_rng(3)
    clock = (0.5, 0.0, 4.0)
    y, p = rng.uniform(0.1, 50.0, (2, 5)), rng.uniform(0.1, 4.0, (3, 5))
    q = compiled.prepare(clock, p)
    d, dn = np.empty((0, 5)), np.empty((0, 5))
    bound_dy, dy = np.empty_like(y), np.empty_like(y)
    rates = compiled.prepared.bind_rates(clock, y, q, d, bound_dy, dn)
    for t in (0.0, 1.5):
        y *= 1.5  # in place: the bound rows see the new values
        rates(t)
        compiled.rates(t, clock, y, p, d, dy, dn)
        np.testing.assert_array_equal(bound_dy, dy)


def _value(expr: sympy.Basic, point: dict[sympy.Symbol, float]) -> float:
    try:
        value = float(expr.subs(point).evalf())
    except TypeError:  # a NaN comparison in a branch sympy evaluates: no oracle here
        assume(False)
        raise
    assume(math.isfinite(value))
    return value


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(equations, st.lists(st.floats(-4.0, 4.0), min_size=3, max_size=3))
def test_hoisting_keeps_the_value_of_an_equation(equation: str, values: list[float]):
    model = load_text(
        "time: {stop: 1}\nparameters: {a: 0, b: 0, c: 0}\n"
        f"stocks: {{x: 1}}\nflows: {{f: {{from: x, rate: '{equation}'}}}}\n"
    )
    rate = model.flows[0].rate
    (rewritten,), invariants = hoist(model, [rate])
    point = {variable_symbol(n): v for n, v in zip("abc", values, strict=True)}
    point.update(
        {variable_symbol("x"): 1.25, TIME: 0.5, TIME_STEP: 0.25, INITIAL_TIME: 0.0, FINAL_TIME: 1.0}
    )
    hoisted = {
        s: _value(e, point) for s, e in zip(invariants.symbols, invariants.exprs, strict=True)
    }
    expected = _value(rate, point)
    assert math.isclose(
        _value(rewritten.subs(hoisted), point), expected, rel_tol=1e-9, abs_tol=1e-12
    )
