"""Laws of scenario overrides: applying a scenario's overrides twice equals applying them once."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from conftest import load_text
from hypothesis import given, settings
from hypothesis import strategies as st

import pssc_sim as ps
from pssc_sim.scenario import Scenario, apply_interventions
from pssc_sim.scenario.interventions import Intervention, Pulse, Ramp, Series, SetTo, Step

MODEL = load_text("""\
model: decay
time: {start: 0, stop: 6, dt: 0.5}
parameters:
  k: {value: 0.5, range: [0.2, 0.8]}
  inflow_rate: 1
  x0: 100
stocks:
  x: x0
flows:
  outflow: {from: x, rate: k * x}
  inflow: {to: x, rate: inflow_rate}
""")
PARAMETERS = ("k", "inflow_rate", "x0")
VALUES = st.floats(0.0, 2.0, allow_nan=False).map(lambda v: round(v, 3))
TIMES = st.floats(0.0, 6.0, allow_nan=False).map(lambda v: round(v, 2))
NAMES = st.sampled_from(PARAMETERS)


@st.composite
def interventions(draw: st.DrawFn) -> Intervention:
    name = draw(NAMES)
    kind = draw(st.sampled_from(["set", "step", "ramp", "pulse", "series"]))
    at = draw(TIMES)
    if kind == "set":
        return SetTo(name, draw(VALUES), at)
    if kind == "step":
        return (
            Step(name, at, by=draw(VALUES))
            if draw(st.booleans())
            else Step(name, at, to=draw(VALUES))
        )
    if kind == "ramp":
        return Ramp(name, draw(VALUES), at, at + draw(st.floats(0.1, 3.0)))
    if kind == "pulse":
        return Pulse(name, draw(VALUES), at, draw(st.floats(0.1, 3.0)))
    times = sorted(set(draw(st.lists(TIMES, min_size=1, max_size=4))))
    return Series(name, tuple((t, draw(VALUES)) for t in times))


@st.composite
def overrides(draw: st.DrawFn) -> Scenario:
    arguments: dict[str, Any] = {
        "set": draw(st.dictionaries(NAMES, VALUES, max_size=3)),
        "interventions": draw(st.lists(interventions(), max_size=4)),
        "time": draw(st.dictionaries(st.just("stop"), st.sampled_from([3.0, 5.0, 6.0]))),
    }
    if draw(st.booleans()):
        arguments["method"] = draw(st.sampled_from(["euler", "rk4"]))
    if draw(st.booleans()):
        arguments["outputs"] = draw(
            st.lists(st.sampled_from(["x", "outflow", "k"]), min_size=1, max_size=3, unique=True)
        )
    if draw(st.booleans()):
        arguments["uncertainty"] = {
            "members": draw(st.integers(1, 4)),
            "seed": draw(st.integers(0, 9)),
            "parameters": ["k"],
        }
    return Scenario(**arguments)


def structure(model: ps.Model) -> tuple[object, ...]:
    return (
        tuple((p.name, p.value) for p in model.parameters),
        tuple((a.name, a.equation) for a in model.auxiliaries),
        model.algebraic_order,
    )


@given(overrides(), overrides())
@settings(max_examples=60, deadline=None)
def test_layering_overrides_twice_equals_once(base: Scenario, layer: Scenario) -> None:
    once = base.layered(layer)
    assert once.layered(layer) == once
    assert Scenario(model=MODEL).layered(once).layered(once) == Scenario(model=MODEL).layered(once)


@given(st.lists(interventions(), max_size=5))
@settings(max_examples=60, deadline=None)
def test_applying_interventions_twice_equals_once(items: list[Intervention]) -> None:
    once = apply_interventions(MODEL, items)
    assert structure(apply_interventions(once, items)) == structure(once)


@pytest.mark.filterwarnings("ignore::pssc_sim.errors.PsscSimWarning")  # interventions past stop
@given(overrides())
@settings(max_examples=20, deadline=None)
def test_running_overrides_applied_twice_equals_once(layer: Scenario) -> None:
    once = Scenario(model=MODEL).layered(layer)
    first, second = once.run(), once.layered(layer).run()
    assert first.results.names == second.results.names
    assert np.array_equal(first.results.values, second.results.values)
