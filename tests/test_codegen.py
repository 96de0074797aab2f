"""The code generator as a whole: one helper runs generated code, which holds no text of the
model file; a model with dimensions gets the kernel forms of one without; a compiled model
carries its Jacobian and breakpoints."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import load_text

import pssc_sim as ps
from pssc_sim.compile.breakpoints import breakpoint_plan
from pssc_sim.compile.execute import execute
from pssc_sim.errors import ModelError

CANARY = """
model: canary_name_q7
title: Canary title q7
description: Canary description q7
time: {start: 0, stop: 4, dt: 0.5}
parameters: {k: {value: 0.5, description: canary parameter q7}, start_at: 1}
stocks:
  x: {initial: 10, description: canary stock q7}
  z: 1
flows:
  drain: {from: x, to: z, rate: "k * x * STEP(1, start_at)"}
"""

ARRAYED = """
time: {start: 0, stop: 2, dt: 0.25}
dimensions:
  g: [a, b, c]
parameters:
  k: {dims: [g], value: [1, 2, 3]}
  scale: 0.2
stocks:
  x: {dims: [g], initial: 10 * k}
flows:
  out: {from: x, rate: "scale * k * x / SUM(k[g!])"}
  refill: {to: x, rate: "scale * 2"}
auxiliaries:
  share: {dims: [g], equation: "k / SUM(k[g!])"}
  total: SUM(x[g!])
"""


def test_generated_code_with_a_string_constant_is_refused() -> None:
    with pytest.raises(
        ModelError,
        match=r"internal: generated code <pssc_sim kernel> holds the "
        r"string 'text' \(got line 1\)",
    ):
        execute("x = 'text'\n", {}, "kernel")


def test_generated_code_holds_no_text_of_the_model_file() -> None:
    compiled = ps.compile_model(load_text(CANARY))
    jacobian, breakpoints = compiled.jacobian.source, compiled.breakpoints.source
    assert jacobian is not None
    for source in (compiled.source, jacobian, breakpoints):
        assert "q7" not in source
        assert not {"'", '"', "#"} & set(source)  # no string, no comment


def test_a_compiled_model_carries_its_jacobian_and_breakpoints() -> None:
    model = load_text(CANARY)
    compiled = ps.compile_model(model)
    assert compiled.jacobian is compiled.jacobian  # derived once
    assert compiled.breakpoints is compiled.breakpoints
    # the clock of the adaptive methods, which use the plan: exact switching times
    clock, p = (0.5, 0.0, 4.0, 0.0), np.array([[0.5, 0.25], [1.0, 2.0]])
    np.testing.assert_array_equal(
        compiled.breakpoints.times(clock, p), breakpoint_plan(model).times(clock, p)
    )
    assert compiled.breakpoints.times(clock, p).tolist() == [1.0, 2.0]


def _arrays(compiled: ps.CompiledModel, members: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(5)
    y = rng.uniform(0.5, 20.0, (compiled.n_stocks, members))
    p = compiled.default_parameters()[:, None] * rng.uniform(0.5, 2.0, (1, members))
    return y, p, np.empty((0, members)), np.empty((0, members))


def test_terms_of_arrayed_parameters_are_hoisted_and_bound_kernels_agree() -> None:
    compiled = ps.compile_model(load_text(ARRAYED))
    clock = (0.25, 0.0, 2.0)
    y, p, d, dn = _arrays(compiled, 4)
    q = compiled.prepare(clock, p)
    np.testing.assert_array_equal(q[: p.shape[0]], p)
    assert q.shape[0] > p.shape[0]  # SUM(k[g!]) and scale * 2, once per run
    n_out = len(compiled.outputs)
    dy, bound_dy = np.empty_like(y), np.empty_like(y)
    out, bound_out = np.empty((n_out, 4)), np.empty((n_out, 4))
    full = compiled.prepared.bind_full(clock, y, q, d, bound_dy, dn)
    rates = compiled.prepared.bind_rates(clock, y, q, d, bound_dy, dn)
    for t in (0.0, 1.25):
        y *= 1.5  # in place: the bound views see the new values
        compiled.full(t, clock, y, p, d, dy, dn, out)
        full(t, bound_out)
        np.testing.assert_array_equal(bound_out, out)
        np.testing.assert_array_equal(bound_dy, dy)
        rates(t)
        np.testing.assert_array_equal(bound_dy, dy)


def test_arrayed_kernel_of_one_member_is_a_column_of_the_ensemble_kernel() -> None:
    compiled = ps.compile_model(load_text(ARRAYED))
    clock = (0.25, 0.0, 2.0)
    y, p, d, dn = _arrays(compiled, 3)
    dy, out = np.empty_like(y), np.empty((len(compiled.outputs), 3))
    compiled.full(0.5, clock, y, p, d, dy, dn, out)
    for member in range(3):
        rates, _, values = compiled.full_scalar(
            0.5, clock, y[:, member].tolist(), p[:, member].tolist(), []
        )
        np.testing.assert_allclose(rates, dy[:, member], rtol=1e-15)
        np.testing.assert_allclose(values, out[:, member], rtol=1e-15)
