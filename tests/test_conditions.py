"""Conditions sympy keeps as they are: a relation whose canonical forms alternate is settled
before any ``Piecewise`` holds it, when it is parsed and when the compiler rebuilds it."""

from __future__ import annotations

import numpy as np
import pytest
import sympy
from conftest import load_text
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sympy.core.relational import Relational

import pssc_sim as ps
from pssc_sim.compile.hoisting import hoist
from pssc_sim.ir import conditions
from pssc_sim.ir.conditions import piecewise, rebuilt, settled, settled_relation
from pssc_sim.ir.functions import TIME, TIME_STEP, variable_symbol

HOISTED = sympy.Symbol("hoisted:1")
#: sympy 1.14 alternates between this relation and ``TIME - h > -TIME - TIME_STEP/2``
CYCLING = sympy.StrictGreaterThan(TIME + TIME_STEP / 2, HOISTED - TIME)

SYMBOLS = (TIME, TIME_STEP, variable_symbol("a"), variable_symbol("b"), HOISTED)
RELATIONS = (
    sympy.StrictGreaterThan,
    sympy.GreaterThan,
    sympy.StrictLessThan,
    sympy.LessThan,
    sympy.Eq,
    sympy.Ne,
)


def _canonical(relation: sympy.Basic) -> sympy.Basic:
    # what Piecewise applies to each relation of a condition
    return sympy.Piecewise((1, relation), (0, True)).args[0].cond


def test_the_cycling_relation_is_settled_into_a_form_piecewise_keeps() -> None:
    form = settled_relation(CYCLING)
    assert _canonical(form) == form
    built = piecewise((sympy.Integer(1), CYCLING), (sympy.Integer(0), True))
    assert built.args[0].cond == form
    for t, dt, h in [(0, 1, -1), (1, 1, 2), (1, 2, 3), (5, 4, 12), (-2, 1, -3)]:
        values = {TIME: t, TIME_STEP: dt, HOISTED: h}
        assert bool(form.subs(values)) is bool(CYCLING.subs(values))
        assert built.subs(values) == (1 if CYCLING.subs(values) else 0)


def test_a_relation_that_settles_takes_the_form_piecewise_gives_it() -> None:
    relation = TIME + TIME_STEP / 2 > variable_symbol("a")
    assert settled_relation(relation) == _canonical(relation)
    assert settled_relation(relation).rhs != 0  # not rewritten as a difference
    both = sympy.And(relation, TIME < 3)
    assert settled(both) == sympy.And(_canonical(relation), TIME < 3)


linear = st.lists(
    st.tuples(st.sampled_from(SYMBOLS), st.integers(-3, 3)), min_size=1, max_size=4
).map(lambda terms: sympy.Add(*(c * s for s, c in terms)))
sides = st.tuples(linear, st.fractions(-3, 3, max_denominator=4)).map(
    lambda pair: pair[0] + sympy.Rational(pair[1].numerator, pair[1].denominator)
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(RELATIONS),
    sides,
    sides,
    st.lists(st.integers(-4, 4), min_size=len(SYMBOLS), max_size=len(SYMBOLS)),
)
@example(sympy.StrictGreaterThan, TIME + TIME_STEP / 2, HOISTED - TIME, [1, 1, 0, 0, 3])
def test_settled_relations_keep_their_truth_and_their_form(
    relation: type[Relational], left: sympy.Expr, right: sympy.Expr, numbers: list[int]
) -> None:
    original = relation(left, right)
    if not isinstance(original, Relational):
        return  # sympy decided it already (x > x)
    form = settled(original)
    # a Piecewise holding it builds (no rewriting without end) and keeps it
    built = sympy.Piecewise((sympy.Integer(1), form), (sympy.Integer(0), True))
    assert built.args[0].cond == _canonical(form)
    # exact numbers (TIME_STEP is positive): the settled form means the same
    values = dict(zip(SYMBOLS, numbers, strict=True))
    values[TIME_STEP] = abs(values[TIME_STEP]) + 1
    assert bool(form.subs(values)) is bool(original.subs(values))


def test_rebuilding_a_piecewise_with_a_cycling_condition_settles_it() -> None:
    old = sympy.Piecewise((TIME, TIME > variable_symbol("a")), (sympy.Integer(0), True))
    (value, _), otherwise = old.args
    new = rebuilt(old, [(value, CYCLING), otherwise])
    assert new.args[0].cond == settled_relation(CYCLING)


EQUATION = "STEP(ARCTAN(MIN(-0.081, TIME_STEP * b)), ((-0.081) - ((TIME + a))) - (ARCTAN(c)))"
HEADER = "time: {start: 0, stop: 3, dt: 0.25}\nparameters: {a: 1, b: 2, c: 0.5}\n"


def test_hoisting_a_term_of_a_condition_settles_the_condition() -> None:
    model = load_text(HEADER + f"auxiliaries:\n  value: '{EQUATION}'\n")
    (rewritten,), invariants = hoist(model, [model.auxiliaries[0].equation])
    assert invariants.exprs  # the invariant part of the start time is hoisted
    condition = rewritten.args[0].cond
    assert _canonical(condition) == condition


def test_a_step_whose_start_moves_with_time_switches_when_its_condition_holds() -> None:
    model = load_text(HEADER + f"auxiliaries:\n  value: STEP(1, a - TIME)\n  other: '{EQUATION}'\n")
    res = ps.simulate(model, {"a": np.array([0.5, 1.0, 2.0])})
    times = res.times[:, None]
    a, b, c = np.array([0.5, 1.0, 2.0]), 2.0, 0.5
    expected = np.where(times + 0.25 / 2 > a - times, 1.0, 0.0)
    np.testing.assert_array_equal(res.values[:, res.index("value"), :], expected)
    start = -0.081 - (times + a) - np.arctan(c)
    other = np.where(times + 0.25 / 2 > start, np.arctan(min(-0.081, 0.25 * b)), 0.0)
    np.testing.assert_allclose(res.values[:, res.index("other"), :], other, rtol=1e-12)


def test_a_condition_that_cannot_be_settled_is_an_expression_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(conditions, "_fixed_point", lambda relation: None)
    with pytest.raises(
        ps.ExpressionError,
        match=r"auxiliaries\.value\.equation: a comparison "
        r"cannot be kept in a form sympy leaves as it is \(got 'STEP\(1, a - "
        r"TIME\)'\)\. Move one side of the comparison into an auxiliary",
    ):
        load_text(HEADER + "auxiliaries:\n  value: STEP(1, a - TIME)\n")


def test_the_compiler_reports_a_condition_it_cannot_settle_as_an_expression_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = load_text(HEADER + f"auxiliaries:\n  value: '{EQUATION}'\n")
    monkeypatch.setattr(conditions, "_fixed_point", lambda relation: None)
    with pytest.raises(
        ps.ExpressionError,
        match=r": an equation cannot be compiled: sympy keeps "
        r"rewriting one of its conditions \(got RecursionError\)\. Move one side",
    ):
        ps.compile_model(model)


def test_a_start_time_read_from_an_auxiliary_runs_with_an_adaptive_method() -> None:
    # the breakpoints of an adaptive run substitute the time-only auxiliary 's' into the STEP
    model = load_text(HEADER + "auxiliaries:\n  s: a - TIME\n  value: STEP(1, s)\n")
    res = ps.simulate(model, {"a": np.array([0.5, 2.0])}, method="rk45")
    times = res.times[:, None]
    expected = np.where(times + 0.25 / 2 > np.array([0.5, 2.0]) - times, 1.0, 0.0)
    np.testing.assert_array_equal(res.values[:, res.index("value"), :], expected)
    assert res.values[:, res.index("value"), :].min() == 0.0
    assert res.values[:, res.index("value"), :].max() == 1.0
