"""XMILE modules: each instance's variables flattened under its name, inputs bound to sources."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pysd", reason="the vensim extra (PySD's translators) is not installed")

import pssc_sim as ps
from pssc_sim.parse.translate import translate

HEADER = """<?xml version="1.0" encoding="utf-8"?>
<xmile version="1.0" xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0">
  <header><name>modules</name></header>
  <sim_specs><start>0</start><stop>10</stop><dt>0.25</dt></sim_specs>
"""

# A population grows at a birth rate it takes from the root model
POPULATION = """
  <model name="population"><variables>
    <stock name="people"><eqn>100</eqn><inflow>births</inflow></stock>
    <flow name="births"><eqn>people * birth_rate</eqn></flow>
    <aux name="birth\\nrate" access="input">
      <eqn>{Enter equation for use when not hooked up}</eqn></aux>
  </variables></model>
"""

# Two modules: the population, and a counter of its births fed by the population's output;
# the root reads the counter's stock back.
TWO_MODULES = (
    HEADER
    + """
  <model><variables>
    <module name="population"><connect to="birth_rate" from=".birth_rate"/></module>
    <module name="counter"><connect to="counter.inflow_rate" from="population.births"/></module>
    <aux name="Birth Rate"><eqn>0.1</eqn></aux>
    <aux name="total births"><eqn>counter.counted</eqn></aux>
    <aux name="people now"><eqn>"Population" . people + 0 * total_births</eqn></aux>
  </variables></model>
"""
    + POPULATION
    + """
  <model name="counter"><variables>
    <stock name="counted"><eqn>0</eqn><inflow>counting</inflow></stock>
    <flow name="counting"><eqn>inflow_rate</eqn></flow>
    <aux name="inflow rate" access="input"><eqn>0</eqn></aux>
  </variables></model>
</xmile>
"""
)

# The root feeds a region, which feeds its own population module: two levels of nesting.
NESTED = (
    HEADER
    + """
  <model><variables>
    <module name="region"><connect to="local_rate" from=".rate"/></module>
    <aux name="rate"><eqn>0.05</eqn></aux>
  </variables></model>
  <model name="region"><variables>
    <module name="population"><connect to="birth_rate" from="local_rate"/></module>
    <aux name="local rate" access="input"><eqn>{input}</eqn></aux>
    <aux name="people\\ntwice"><eqn>2 * population.people</eqn></aux>
    <gf name="scale"><xpts>0,1000</xpts><ypts>0,1</ypts></gf>
    <aux name="scaled"><eqn>scale(population.people)</eqn></aux>
  </variables></model>
"""
    + POPULATION
    + "</xmile>\n"
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def euler_growth(rate: float, dt: float = 0.25, steps: int = 40) -> np.ndarray:
    """Euler's solution of dP/dt = rate * P from P(0) = 100 at every step."""
    return 100.0 * (1.0 + rate * dt) ** np.arange(steps + 1)


def test_two_modules_run_as_one_model(tmp_path: Path) -> None:
    model = ps.load_model(write(tmp_path, "two.xmile", TWO_MODULES))
    frame = ps.simulate(model).renamed(model.original_names()).to_frame()
    people = euler_growth(0.1)
    np.testing.assert_allclose(frame["population.people"], people, rtol=1e-12)
    # every birth the population makes is counted, and the root reads the count back
    np.testing.assert_allclose(frame["counter.counted"], people - 100.0, rtol=1e-12)
    np.testing.assert_array_equal(frame["total births"], frame["counter.counted"])
    # a module's variable named with a quoted part, and spaces about the period
    np.testing.assert_array_equal(frame["people now"], frame["population.people"])


def test_connected_inputs_add_no_variable_and_names_follow_the_file(tmp_path: Path) -> None:
    names = set(translate(write(tmp_path, "two.xmile", TWO_MODULES)).original_names.values())
    assert {
        "Birth Rate",
        "total births",
        "population.people",
        "population.births",
        "counter.counted",
        "counter.counting",
    } <= names
    assert not any("birth rate" in n or "inflow rate" in n for n in names)


def test_nested_modules_bind_through_each_level(tmp_path: Path) -> None:
    model = ps.load_model(write(tmp_path, "nested.xmile", NESTED))
    frame = ps.simulate(model).renamed(model.original_names()).to_frame()
    people = euler_growth(0.05)
    np.testing.assert_allclose(frame["region.population.people"], people, rtol=1e-12)
    np.testing.assert_allclose(frame["region.people twice"], 2 * people, rtol=1e-12)
    # a graphical function of the region, called from the region's own equation
    np.testing.assert_allclose(frame["region.scaled"], people / 1000, rtol=1e-12)


def test_an_unconnected_input_keeps_its_own_equation(tmp_path: Path) -> None:
    text = TWO_MODULES.replace('<connect to="counter.inflow_rate" from="population.births"/>', "")
    frame = ps.simulate(ps.load_model(write(tmp_path, "own.xmile", text))).to_frame()
    assert (frame["counter_counted"] == 0.0).all()


def test_an_input_passed_on_from_a_later_sibling_reads_the_root(tmp_path: Path) -> None:
    # the counter, listed first, counts the population's birth rate: an input of its sibling,
    # itself connected to the root
    text = TWO_MODULES.replace('from="population.births"', 'from="population.birth_rate"')
    start = text.index('    <module name="population">')
    end = text.index("</module>", start) + len("</module>\n")
    module = text[start:end]
    text = text.replace(module, "").replace(
        '    <aux name="Birth Rate">', module + '    <aux name="Birth Rate">'
    )
    model = ps.load_model(write(tmp_path, "order.xmile", text))
    frame = ps.simulate(model).renamed(model.original_names()).to_frame()
    np.testing.assert_allclose(frame["counter.counted"], 0.1 * frame.index, rtol=1e-12)


@pytest.mark.parametrize(
    ("old", "new", "match"),
    [
        (
            '<connect to="birth_rate" from=".birth_rate"/>',
            "",
            r"bad\.xmile: birth rate \(in module 'population'\): a module input is not "
            r"connected and has no equation of its own \(got '\{Enter equation",
        ),
        (
            'from=".birth_rate"',
            'from=".death_rate"',
            r"bad\.xmile: \.death_rate: the connection to module input 'population\.birth rate' "
            r"names no variable",
        ),
        (
            'to="birth_rate"',
            'to="fertility"',
            r"bad\.xmile: fertility \(in module 'population'\): a connection names no variable "
            r"of the module \(got to=\"fertility\"\)",
        ),
        (
            '<module name="counter">',
            '<module name="census">',
            r"bad\.xmile: census: unsupported construct 'module' of a model the file does not "
            r"hold \(got no <model name=\"census\">",
        ),
        (
            '<model name="counter"><variables>',
            '<model name="counter"><variables><module name="counter"/>',
            r"bad\.xmile: counter \(in module 'counter'\): a module instantiates the model "
            r"that holds it \(got model 'counter'\)",
        ),
        (
            'from=".birth_rate"',
            'from="counter.inflow_rate"/><connect to="x" from="x"',
            r"bad\.xmile: x \(in module 'population'\): a connection names no variable",
        ),
        (
            '<model name="population">',
            "<model>",
            r"bad\.xmile: a file with modules needs one root model, a <model> without a name "
            r"\(got 2\)",
        ),
    ],
)
def test_broken_modules_are_refused_with_the_place(
    tmp_path: Path, old: str, new: str, match: str
) -> None:
    assert old in TWO_MODULES
    with pytest.raises(ps.ModelError, match=match):
        ps.load_model(write(tmp_path, "bad.xmile", TWO_MODULES.replace(old, new, 1)))


def test_points_of_a_graphical_function_win_over_an_empty_x_scale(tmp_path: Path) -> None:
    # Stella writes <xscale min="0" max="0"/> beside the points it lists; the points count.
    scaled = NESTED.replace("<xpts>0,1000</xpts>", '<xscale min="0" max="0"/><xpts>0,1000</xpts>')
    assert scaled != NESTED
    model = ps.load_model(write(tmp_path, "scaled.xmile", scaled))
    frame = ps.simulate(model).renamed(model.original_names()).to_frame()
    np.testing.assert_allclose(frame["region.scaled"], euler_growth(0.05) / 1000, rtol=1e-12)


def test_module_connections_in_a_loop_are_refused(tmp_path: Path) -> None:
    text = TWO_MODULES.replace('from=".birth_rate"', 'from="counter.inflow_rate"').replace(
        'from="population.births"', 'from="population.birth_rate"'
    )
    with pytest.raises(
        ps.ModelError,
        match=r"loop\.xmile: .*: the module connections form a loop \(got \[.*\]\)\. Connect "
        r"each input to a variable with an equation",
    ):
        ps.load_model(write(tmp_path, "loop.xmile", text))
