"""Parsing: equations into sympy through the whitelist, model files into the lowered IR."""

from __future__ import annotations

import numpy as np
import pytest
import sympy
from hypothesis import example, given, settings
from strategies import integer_arithmetic

import pssc_sim as ps
from pssc_sim.ir.functions import StatefulCall, variable_symbol
from pssc_sim.ir.model import Extrapolation, FixedDelay, SampleMemory
from pssc_sim.parse.expressions import Namespace, parse_expression

NS = Namespace(variables={"a", "b"}, lookups={"f"})
a, b = variable_symbol("a"), variable_symbol("b")


def parse(text: object) -> sympy.Basic:
    return parse_expression(text, where="m.yaml: auxiliaries.x", namespace=NS)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a + 2 * b", a + 2 * b),
        ("a ** 2 - b / 4", a**2 - b / 4),
        ("-a % 3", sympy.Mod(-a, 3)),
        ("MAX(a, b, 1)", sympy.Max(a, b, 1)),
        ("POWER(a, 3)", a**3),
        ("SQRT(a)", sympy.sqrt(a)),
        ("LOG(a)", sympy.log(a, 10)),
        ("IF_THEN_ELSE(a > b, 1, 2)", sympy.Piecewise((1, a > b), (2, True))),
        ("1 if a <= b else 2", sympy.Piecewise((1, a <= b), (2, True))),
        ("IF_THEN_ELSE(a, 1, 2)", sympy.Piecewise((1, sympy.Ne(a, 0)), (2, True))),
        (3, sympy.Integer(3)),
        (2.5, sympy.Float(2.5)),
        ("2 ** 0.5", sympy.Float(2**0.5)),
    ],
)
def test_equations_become_sympy_expressions(text, expected):
    assert parse(text) == expected


def test_chained_comparisons_are_conjunctions():
    expr = parse("IF_THEN_ELSE(1 < a < 3, a, 0)")
    assert expr.subs(a, 2) == 2
    assert expr.subs(a, 3) == 0
    assert expr.subs(a, 0.5) == 0


def test_stateful_builtins_are_placeholders_before_lowering():
    expr = parse("SMOOTH(a, 2) + f(b)")
    assert expr.has(StatefulCall)
    assert {type(e).__name__ for e in expr.atoms(sympy.Function)} == {"SMOOTH", "lookup_f"}


def test_huge_integers_become_floats():
    assert parse("123456789012345678901234567890") == sympy.Float(1.2345678901234568e29)


@settings(max_examples=40, deadline=None)
@given(integer_arithmetic())
@example(("((-3) - (2 * 5))", -13))
def test_integer_arithmetic_is_exact(case):
    text, value = case
    assert parse(text) == value


MODEL = """
model: clinic
title: A clinic
time: {start: 2, stop: 12, dt: 0.5, units: week}
parameters:
  capacity: {value: 20, units: people/week, range: [10, 30], source: survey}
stocks:
  waiting: {initial: 2 * capacity, non_negative: true}
  seen: 0
flows:
  treat: {from: waiting, to: seen, rate: "MIN(waiting, capacity) * effect(waiting)"}
  arrive: {to: waiting, rate: "DELAY3(15, 4) + STEP(5, 6)"}
auxiliaries:
  pressure: waiting / capacity
  perceived: SMOOTH(pressure, 3)
  held: SAMPLE_IF_TRUE(TIME > 5, pressure, 0) + DELAY_FIXED(pressure, 1, 0)
lookups:
  effect: {x: [0, 50], y: [1, 0.5], extrapolation: linear}
measures:
  pressure: {perspective: process, better: lower}
"""


@pytest.fixture
def clinic(make_model) -> ps.Model:
    return make_model(MODEL)


def test_model_file_sections_become_the_ir(clinic):
    assert clinic.name == "clinic"
    assert clinic.title == "A clinic"
    assert (clinic.time.start, clinic.time.stop, clinic.time.dt, clinic.time.save_every) == (
        2,
        12,
        0.5,
        0.5,
    )
    capacity = clinic["capacity"]
    assert capacity.value == 20
    assert capacity.range == (10, 30)
    assert capacity.meta.units == "people/week"
    assert capacity.meta.source == "survey"
    assert clinic["waiting"].non_negative
    assert clinic["waiting"].initial == 2 * variable_symbol("capacity")
    assert clinic["effect"].extrapolation is Extrapolation.LINEAR
    assert clinic.visible_variables() == (
        "waiting",
        "seen",
        "treat",
        "arrive",
        "pressure",
        "perceived",
        "held",
    )


def test_stateful_calls_are_lowered_into_named_hidden_structure(clinic):
    hidden = [s.name for s in clinic.stocks if s.hidden]
    assert hidden == [
        "arrive__delay31",
        "arrive__delay31_s2",
        "arrive__delay31_s3",
        "perceived__smooth1",
    ]
    assert all(clinic[name].origin in {"arrive", "perceived"} for name in hidden)
    kinds = {type(state) for state in clinic.discrete}
    assert kinds == {SampleMemory, FixedDelay}
    assert not any(f.rate.has(StatefulCall) for f in clinic.flows)
    assert not any(x.equation.has(StatefulCall) for x in clinic.auxiliaries)


def test_stoichiometry_has_minus_one_at_the_source_and_plus_one_at_the_target(clinic):
    N = clinic.stoichiometry()
    stocks, flows = clinic.stock_names, clinic.flow_names
    assert N.shape == (len(stocks), len(flows))
    treat = flows.index("treat")
    assert N[stocks.index("waiting"), treat] == -1
    assert N[stocks.index("seen"), treat] == 1
    assert np.abs(N).sum(axis=0).max() <= 2
    # The material delay passes its input from stage to stage: columns of inner stages sum to 0.
    inner = [j for j, name in enumerate(flows) if name.endswith(("_s2_in", "_s3_in"))]
    assert inner
    assert (N[:, inner].sum(axis=0) == 0).all()


def test_algebraic_order_puts_every_equation_after_what_it_needs(clinic):
    order = clinic.algebraic_order
    position = {name: i for i, name in enumerate(order)}
    equations = {f.name: f.rate for f in clinic.flows}
    equations.update({x.name: x.equation for x in clinic.auxiliaries})
    for name, expr in equations.items():
        for symbol in expr.free_symbols:
            if symbol.name in position:
                assert position[symbol.name] < position[name], (symbol.name, name)


def test_shorthand_entries_and_defaults(make_model):
    model = make_model(
        "time: {stop: 3}\nparameters: {k: 2}\nstocks: {x: 1}\n"
        "flows: {out: k * x}\nauxiliaries: {y: x + 1}\n"
    )
    assert (model.time.start, model.time.dt, model.time.save_every) == (0, 1, 1)
    flow = model["out"]
    assert flow.source is None
    assert flow.target is None
    assert model["y"].equation == variable_symbol("x") + 1


def test_the_model_name_defaults_to_the_folder(tmp_path):
    folder = tmp_path / "teacup"
    folder.mkdir()
    (folder / "model.yaml").write_text("time: {stop: 1}\nstocks: {x: 1}\n")
    assert ps.load_model(folder).name == "teacup"


def test_yaml_tags_cannot_build_python_objects(model_path):
    path = model_path("time: {stop: 1}\nstocks:\n  x: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(ps.ModelError, match=r"invalid YAML at line 3"):
        ps.load_model(path)


def test_a_bare_true_key_of_a_measure_is_read_as_the_key_true(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "m.yaml"
    path.write_text(
        "time: {stop: 1}\nstocks: {x: 1}\nmeasures:\n"
        "  share: {perspective: outcome, better: lower, true: x / 2}\n"
    )
    (measure,) = ps.load_model(path).measures
    assert str(measure.true) == "x/2"


def test_listed_time_steps_give_the_euler_widths(make_model):
    model = make_model(
        "time: {stop: 3, step_times: [0, 1, 1.5, 3], saved_times: [0, 1.5]}\nstocks: {x: 1}\n"
        "flows: {grow: {rate: x, to: x}}\n"
    )
    res = ps.simulate(model)
    # Euler over widths 1, 0.5 and 1.5; rows at the saved times and at stop
    assert list(res.times) == [0.0, 1.5, 3.0]
    # the memory plan counts the listed steps and rows
    from pssc_sim.integrate.simulate import compiled_for, make_grid, run_counts

    counts = run_counts(compiled_for(model, None), make_grid(model, None), "euler", 1)
    assert (counts.n_steps, counts.n_rows) == (3, 3)
    np.testing.assert_allclose(res["x"].to_numpy(), [1.0, 2 * 1.5, 2 * 1.5 * 2.5])


@pytest.mark.parametrize(
    ("block", "message"),
    [
        (
            "{stop: 3, step_times: [0, 2, 1, 3]}",
            r"time\.step_times: the steps must rise from start to stop \(got \[0\.0, 2\.0, 1\.0, "
            r"3\.0\], start=0\.0, stop=3\.0\)",
        ),
        (
            "{stop: 3, step_times: [0, 1, 2]}",
            r"time\.step_times: the steps must rise from start to stop",
        ),
        (
            "{stop: 3, step_times: [0, 1, 3], saved_times: [0, 2]}",
            r"time\.saved_times: every saved time must be one of the steps \(got \[2\.0\]\)",
        ),
        ("{stop: 3, step_times: 0.5}", r"time\.step_times: expected a list of times \(got 0\.5\)"),
    ],
)
def test_listed_time_steps_that_cannot_be_run_are_refused(make_model, block, message):
    with pytest.raises(ps.ModelError, match=message):
        make_model(f"time: {block}\nstocks: {{x: 1}}\n")
