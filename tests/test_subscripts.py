"""Subscripts: dimensions, arrayed variables, per-element equations, aggregation and mappings.

Values are checked against hand calculations on small models, and a hypothesis law checks that an
arrayed model gives the same results as the same model written out in scalars.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pssc_sim as ps
from tests.conftest import WriteModel, load_text

POPULATION = """
model: population
time: {start: 0, stop: 2, dt: 0.5}
dimensions:
  age: ["0-4", "5-14", "65+"]
  group: [A, B]
  young: {subrange_of: age, elements: ["0-4", "5-14"]}
parameters:
  mortality: {dims: [age], value: {"0-4": 0.01, "5-14": 0.002, "65+": 0.05}}
  weight: {dims: [group], value: [1, 2]}
  k: 0.5
stocks:
  population: {dims: [age, group], initial: 100 * weight}
flows:
  deaths: {from: population, rate: population * mortality}
  births:
    to: population
    rate: {"0-4, group": "k * SUM(population[young!, group])", "5-14, group": 0, "65+, group": 0}
auxiliaries:
  total: SUM(population[age!, group!])
  by_group: {dims: [group], equation: "SUM(population[age!, group])"}
  share: {dims: [age, group], equation: population / by_group}
  old_a: population["65+", A]
  tweak: {dims: [age], equation: mortality * 2, except: {"65+": 1}}
"""


def test_element_rows_and_stoichiometry(make_model: WriteModel) -> None:
    model = make_model(POPULATION)
    assert model.stock_names == (
        "population[0-4,A]",
        "population[0-4,B]",
        "population[5-14,A]",
        "population[5-14,B]",
        "population[65+,A]",
        "population[65+,B]",
    )
    assert model.parameter_names[:5] == (
        "mortality[0-4]",
        "mortality[5-14]",
        "mortality[65+]",
        "weight[A]",
        "weight[B]",
    )
    N = model.stoichiometry()
    # deaths (first 6 columns) leave each element, births (next 6) enter the same element
    assert np.array_equal(N, np.hstack([-np.eye(6), np.eye(6)]))


def test_hand_computed_first_step(make_model: WriteModel) -> None:
    res = ps.simulate(make_model(POPULATION))
    first = res.to_frame().iloc[0]
    # population[a, g] = 100 * weight[g]
    assert first["population[65+,B]"] == 200.0
    assert first["deaths[65+,B]"] == pytest.approx(200 * 0.05)
    # births[0-4, A] = k * (population[0-4,A] + population[5-14,A]) = 0.5 * 200
    assert first["births[0-4,A]"] == pytest.approx(100.0)
    assert first["births[5-14,B]"] == 0.0
    assert first["total"] == pytest.approx(900.0)
    assert first["by_group[B]"] == pytest.approx(600.0)
    assert first["share[0-4,B]"] == pytest.approx(200 / 600)
    assert first["tweak[0-4]"] == pytest.approx(0.02)
    assert first["tweak[65+]"] == 1.0
    second = res.to_frame().iloc[1]
    # Euler: 100 + 0.5 * (100 - 1) for population[0-4,A]
    assert second["population[0-4,A]"] == pytest.approx(149.5)
    assert second["old_a"] == pytest.approx(100 - 0.5 * 5)


AGGREGATES = """
time: {stop: 1}
dimensions:
  g: [a, b, c]
  h: [x, y]
parameters:
  v: {dims: [g], value: [2, 3, 4]}
  m: {dims: [g, h], value: [[1, 2], [3, 4], [5, 6]]}
auxiliaries:
  total: SUM(v[g!])
  product: PROD(v[g!])
  smallest: VMIN(v[g!])
  largest: VMAX(m[g!, h!])
  count: ELMCOUNT(g)
  bare: SUM(m)
  column: {dims: [h], equation: "SUM(m[g!, h])"}
  row_share: {dims: [g, h], equation: "m / SUM(m[g, h!])"}
  weighted: SUM(v[g!] * m[g!, y])
"""


def test_aggregations_by_hand(make_model: WriteModel) -> None:
    row = ps.simulate(make_model(AGGREGATES)).to_frame().iloc[0]
    assert row["total"] == 9.0
    assert row["product"] == 24.0
    assert row["smallest"] == 2.0
    assert row["largest"] == 6.0
    assert row["count"] == 3.0
    assert row["bare"] == 21.0
    assert (row["column[x]"], row["column[y]"]) == (9.0, 12.0)
    assert row["row_share[b,y]"] == pytest.approx(4 / 7)
    assert row["weighted"] == 2 * 2 + 3 * 4 + 4 * 6


MAPPED = """
time: {stop: 1}
dimensions:
  region: [north, south]
  area: {elements: [n, s], maps_to: region}
  ward: {elements: [w1, w2, w3], maps_to: {area: [n, n, s]}}
parameters:
  funding: {dims: [region], value: [10, 20]}
  ward_cost: {dims: [ward], value: [1, 2, 3]}
auxiliaries:
  area_funding: {dims: [area], equation: "funding[region]"}
  ward_funding: {dims: [ward], equation: "area_funding[area] - ward_cost"}
  picked: {dims: [ward], equation: "funding[south] + ward_cost[w2]"}
"""


def test_mappings_by_hand(make_model: WriteModel) -> None:
    row = ps.simulate(make_model(MAPPED)).to_frame().iloc[0]
    assert (row["area_funding[n]"], row["area_funding[s]"]) == (10.0, 20.0)
    assert [row[f"ward_funding[w{i}]"] for i in (1, 2, 3)] == [9.0, 8.0, 17.0]
    assert row["picked[w3]"] == 22.0


PIECES = """
time: {stop: 1}
dimensions:
  g: [a, b, c, d]
  first: {subrange_of: g, elements: [a, b]}
  h: [x, y]
parameters:
  p: {dims: [g, h], value: {"first, h": 1, "c, x": 2, "c, y": 3, "d, h": 4}}
auxiliaries:
  q: {dims: [g, h], equation: {"first, h": "p * 10", "c, h": "p[c, h] + 1", "d, x": 0, "d, y": 5}}
  r: {dims: [g, h], equation: p, except: {"a, x": -1, "last_one, h": 7}}
"""


def test_per_element_equations_and_except(make_model: WriteModel) -> None:
    text = PIECES.replace("last_one", "d")
    row = ps.simulate(make_model(text)).to_frame().iloc[0]
    assert [row[f"q[{g},y]"] for g in "abcd"] == [10.0, 10.0, 4.0, 5.0]
    assert [row[f"r[{g},x]"] for g in "abcd"] == [-1.0, 1.0, 2.0, 7.0]
    assert [row[f"r[{g},y]"] for g in "abcd"] == [1.0, 1.0, 3.0, 7.0]


def test_stateful_builtins_over_arrays(make_model: WriteModel) -> None:
    model = make_model("""
        time: {stop: 4, dt: 1}
        dimensions: {g: [a, b]}
        parameters: {level: {dims: [g], value: [10, 20]}}
        auxiliaries:
          input: {dims: [g], equation: "STEP(level, 1)"}
          smoothed: {dims: [g], equation: "SMOOTH(input, 2)"}
          late: {dims: [g], equation: "DELAY_FIXED(input, 2, -1)"}
    """)
    res = ps.simulate(model).to_frame()
    # SMOOTH: s += dt * (input - s) / 2 from s = 0; input steps up at t = 1
    assert res["smoothed[a]"].tolist() == [0.0, 0.0, 5.0, 7.5, 8.75]
    assert res["smoothed[b]"].tolist() == [0.0, 0.0, 10.0, 15.0, 17.5]
    assert res["late[b]"].tolist() == [-1.0, -1.0, 0.0, 20.0, 20.0]


def test_ensemble_equals_single_runs_and_methods_agree(make_model: WriteModel) -> None:
    model = make_model(POPULATION)
    values = np.array([0.1, 0.5, 0.9])
    ensemble = ps.simulate(model, {"k": values})
    for i, k in enumerate(values):
        single = ps.simulate(model, {"k": k})
        assert np.allclose(ensemble.values[:, :, i], single.values[:, :, 0], rtol=1e-12)
    rk4 = ps.simulate(model, method="rk4", time={"dt": 0.01})
    rk45 = ps.simulate(model, method="rk45", time={"save_every": 0.5}, rtol=1e-9)
    assert np.allclose(rk4.values[-1], rk45.values[-1], rtol=1e-6)


def test_overrides_of_one_element_a_slice_or_a_whole_array(make_model: WriteModel) -> None:
    model = make_model(POPULATION)
    whole = ps.simulate(model, {"mortality": 0.1}).to_frame().iloc[0]
    assert whole["deaths[0-4,A]"] == pytest.approx(10.0)
    assert whole["deaths[65+,A]"] == pytest.approx(10.0)
    part = ps.simulate(model, {"mortality[young]": 0.2, "weight[B]": 3}).to_frame().iloc[0]
    assert part["deaths[5-14,B]"] == pytest.approx(0.2 * 300)
    assert part["deaths[65+,B]"] == pytest.approx(0.05 * 300)
    with pytest.raises(ps.ParameterError, match=r"params: unknown parameter 'mortality\[old\]'"):
        ps.simulate(model, {"mortality[old]": 0.2})


def test_scenario_sets_a_slice(tmp_path: object, make_model: WriteModel) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    make_model(POPULATION)
    (folder / "s.yaml").write_text(
        "scenario: s\nmodel: model.yaml\nset: {'mortality[young]': 0.2}\n", encoding="utf-8"
    )
    result = ps.run_scenario(folder / "s.yaml")
    first = result.results.to_frame().iloc[0]
    assert first["deaths[0-4,A]"] == pytest.approx(20.0)


def test_outputs_by_variable_or_element(make_model: WriteModel) -> None:
    model = make_model(POPULATION)
    res = ps.simulate(model, outputs=["by_group", "population[65+,B]", "total"])
    assert res.names == ("by_group[A]", "by_group[B]", "population[65+,B]", "total")
    assert res["population[65+,B]"].iloc[0] == 200.0


def test_a_measure_reported_by_an_expression_is_recorded_and_scored(
    tmp_path: object, make_model: WriteModel
) -> None:
    """In an arrayed model a measure whose reported value is an expression is recorded as
    ``<measure>.reported`` by default and on request, and the scorecard reads it: here the
    reported total is the true total less one tenth of the old, by hand."""
    from pathlib import Path

    folder = Path(str(tmp_path))
    make_model(
        POPULATION
        + '  old_total: SUM(population["65+", group!])\n'
        + "measures:\n  total: {perspective: outcome, better: higher,"
        + " reported: total - 0.1 * old_total}\n"
    )
    (folder / "s.yaml").write_text("scenario: s\nmodel: model.yaml\n", encoding="utf-8")
    result = ps.run_scenario(folder / "s.yaml")
    first = result.results.to_frame().iloc[0]
    assert first["total.reported"] == pytest.approx(first["total"] - 0.1 * 300)
    row = result.scorecard().row("total")
    assert row.reported == pytest.approx(row.true - 0.1 * result.results["old_total"].iloc[-1])


def test_a_measure_reported_apart_is_recorded_in_an_arrayed_model(make_model: WriteModel) -> None:
    """A measure whose reported ledger is another variable is recorded as ``<measure>.reported``
    by default and when named, as in a model without dimensions, so a scorecard can read it."""
    model = make_model(
        POPULATION
        + "  counted: total * 1.1\n"
        + "measures:\n  total: {perspective: outcome, better: higher, reported: counted}\n"
    )
    whole = ps.simulate(model)
    named = ps.simulate(model, outputs=["total", "total.reported"])
    assert named.names == ("total", "total.reported")
    for res in (whole, named):
        assert np.allclose(res["total.reported"].to_numpy(), 1.1 * res["total"].to_numpy())


# -- arrayed == flattened by hand -----------------------------------------------------------


def _arrayed(rates: list[float], initial: list[float], coupling: float) -> str:
    n = len(rates)
    return f"""
time: {{stop: 3, dt: 0.25}}
dimensions: {{g: {{count: {n}, prefix: e}}}}
parameters:
  rate: {{dims: [g], value: {rates}}}
  coupling: {coupling:.17e}
stocks:
  x: {{dims: [g], initial: {initial}}}
flows:
  loss: {{from: x, rate: "rate * x + coupling * SUM(x[g!]) / ELMCOUNT(g)"}}
auxiliaries:
  spread: VMAX(x[g!]) - VMIN(x[g!])
"""


def _flattened(rates: list[float], initial: list[float], coupling: float) -> str:
    n = len(rates)
    names = [f"e{i + 1}" for i in range(n)]
    total = " + ".join(f"x_{e}" for e in names)
    lines = ["time: {stop: 3, dt: 0.25}", "parameters:", f"  coupling: {coupling:.17e}"]
    lines += [f"  rate_{e}: {r:.17e}" for e, r in zip(names, rates, strict=True)]
    lines += ["stocks:"] + [f"  x_{e}: {v:.17e}" for e, v in zip(names, initial, strict=True)]
    lines += ["flows:"] + [
        f"  loss_{e}: {{from: x_{e}, rate: 'rate_{e} * x_{e} + coupling * ({total}) / {n}'}}"
        for e in names
    ]
    xs = ", ".join(f"x_{e}" for e in names)
    spread = f"MAX({xs}) - MIN({xs})" if n > 1 else "0"
    lines += ["auxiliaries:", f"  spread: '{spread}'"]
    return "\n".join(lines) + "\n"


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0, 1), st.floats(0, 100)), min_size=1, max_size=5),
    st.floats(0, 0.5),
)
def test_arrayed_equals_flattened(elements: list[tuple[float, float]], coupling: float) -> None:
    rates, initial = [r for r, _ in elements], [v for _, v in elements]
    arrayed = ps.simulate(load_text(_arrayed(rates, initial, coupling)), method="rk4")
    flat = ps.simulate(load_text(_flattened(rates, initial, coupling)), method="rk4")
    for i in range(len(rates)):
        e = f"e{i + 1}"
        assert np.allclose(arrayed[f"x[{e}]"], flat[f"x_{e}"], rtol=1e-12, atol=1e-12)
        assert np.allclose(arrayed[f"loss[{e}]"], flat[f"loss_{e}"], rtol=1e-12, atol=1e-12)
    assert np.allclose(arrayed["spread"], flat["spread"], rtol=1e-12, atol=1e-12)


# -- every error message ----------------------------------------------------------------------

BASE = """time: {stop: 1}
dimensions:
  age: [young, old]
  group: [A, B]
  kids: {subrange_of: age, elements: [young]}
parameters:
  w: {dims: [group], value: [1, 2]}
stocks:
  pop: {dims: [age, group], initial: 1}
"""
DIMS = "time: {stop: 1}\ndimensions: "


def aux(text: str) -> str:
    return BASE + f"auxiliaries:\n  y: {text}\n"


ERRORS = [
    (
        DIMS + "{age: {elements: [a], colour: red}}",
        r"dimensions\.age\.colour: unknown key 'colour'\. Allowed keys: elements, subrange_of",
    ),
    (
        DIMS + "{age: []}",
        r"dimensions\.age\.elements: expected a non-empty list of elements "
        r"\(got \[\]\)\. Write age: \[A, B, C\]",
    ),
    (DIMS + "{}", r"dimensions: expected a mapping of dimension names to elements \(got \{\}\)"),
    (DIMS + "{age: [a, a]}", r"dimensions\.age\.elements: the element 'a' is listed twice"),
    (
        DIMS + "{age: ['a,b']}",
        r"'a,b' is not a valid element name \(got 'a,b'\)\. Use text "
        r"without commas",
    ),
    (DIMS + "{Age-x: [a]}", r"dimensions\.Age-x: the name 'Age-x' is not a valid dimension name"),
    (
        DIMS + "{age: {count: 0}}",
        r"dimensions\.age\.count: expected a positive whole number "
        r"\(got 0\)\. Write count: 10",
    ),
    (
        DIMS + "{age: [a, b], k: {subrange_of: agee, elements: [a]}}",
        r"dimensions\.k\.subrange_of: unknown dimension 'agee'\. Did you mean 'age'\?",
    ),
    (
        DIMS + "{age: [aa, young], k: {subrange_of: age, elements: [yung]}}",
        r"dimensions\.k\.elements: 'yung' is not an element of 'age' \(got \['yung'\]\)\. Did you "
        r"mean 'young'\?",
    ),
    (DIMS + "{age: [a, b], g: [a]}", r"dimensions\.g: the element 'a' also belongs to 'age'"),
    (DIMS + "{age: [g, b], g: [x]}", r"dimensions\.age: the element 'g' is also a dimension name"),
    (
        DIMS + "{age: {elements: [a], maps_to: grop}, group: [x]}",
        r"dimensions\.age\.maps_to: unknown dimension 'grop'\. Did you mean 'group'\?",
    ),
    (
        DIMS + "{age: {elements: [a, b], maps_to: {group: [x]}}, group: [x, y]}",
        r"'age' has 2 elements but the mapping to 'group' gives 1 \(got \['x'\]\)",
    ),
    (
        DIMS + "{age: {elements: [a], maps_to: {group: [nort]}}, group: [north]}",
        r"dimensions\.age\.maps_to: 'nort' is not an element of 'group' \(got \['nort'\]\)\. "
        r"Did you mean 'north'\?",
    ),
    (
        aux("{dims: [grup], equation: 1}"),
        r"auxiliaries\.y\.dims: unknown dimension 'grup'\. Did you mean 'group'\?",
    ),
    (aux("{dims: [age, age], equation: 1}"), r"a dimension is listed twice \(got \['age', 'age'"),
    (
        aux("{dims: 3, equation: 1}"),
        r"auxiliaries\.y\.dims: expected a list of dimension names "
        r"\(got 3\)",
    ),
    (
        BASE + "auxiliaries:\n  group: 1\n",
        r"auxiliaries\.group: the name 'group' is also a dimension",
    ),
    (
        BASE + "auxiliaries:\n  young: 1\n",
        r"auxiliaries\.young: the name 'young' is also an "
        r"element",
    ),
    (
        BASE.replace("value: [1, 2]", "value: [1, 2, 3]"),
        r"parameters\.w\.value: expected 2 values, one per element of group \(got shape 3\)",
    ),
    (
        BASE.replace("value: [1, 2]", "value: [1, x]"),
        r"parameters\.w\.value: expected numbers \(got \[1, 'x'\]\)",
    ),
    (
        BASE.replace("value: [1, 2]", "value: {A: 1}"),
        r"parameters\.w\.value: 1 element\(s\) have no value, such as \[B\]",
    ),
    (
        BASE.replace("value: [1, 2]", "value: {A: 1, group: 2}"),
        r"parameters\.w\.value\.group: these elements already have a value",
    ),
    (
        BASE.replace("value: [1, 2]", "value: [1, 2], range: [0, 3]"),
        r"parameters\.w: range and distribution are given per element in scenarios",
    ),
    (
        aux("{dims: [age, group], equation: {young: 1}}"),
        r"auxiliaries\.y\.equation\.young: expected 2 subscript\(s\), one for each of age, group",
    ),
    (
        aux("{dims: [age, group], equation: {'yung, A': 1}}"),
        r"'yung' is not an element or subrange of 'age' \(got 'yung, A'\)\. Did you mean 'young'",
    ),
    (
        aux("{dims: [age], equation: {group: 1}}"),
        r"auxiliaries\.y\.equation\.group: 'group' is not 'age' or a subrange of it",
    ),
    (
        aux("{dims: [age], equation: {young: 1, kids: 2, old: 3}}"),
        r"auxiliaries\.y\.equation\.kids: these elements already have an equation",
    ),
    (
        aux("{dims: [age], equation: {young: 1}}"),
        r"auxiliaries\.y\.equation: 1 element\(s\) have no equation, such as \[old\]",
    ),
    (
        aux("{dims: [age], equation: 1, except: [young]}"),
        r"auxiliaries\.y\.except: expected a mapping of elements to equations",
    ),
    (aux("{equation: {young: 1}}"), r"auxiliaries\.y\.equation: per-element equations need dims"),
    (
        aux("{dims: [age], equation: 'pop[age]'}"),
        r"'pop' has 2 dimension\(s\) \(age, group\) but 1 subscript\(s\) \(got pop\[age\]\)",
    ),
    (
        aux("{dims: [age], equation: 'pop[age, C]'}"),
        r"'C' is not an element of 'group' nor a dimension \(got pop\[age, C\]\)\. Use an element "
        r"of 'group' \(A, B\)",
    ),
    (
        aux("{dims: [age], equation: 'pop[age, grop]'}"),
        r"'grop' is not an element of 'group' "
        r"nor a dimension.*Did you mean 'group'",
    ),
    (
        aux("{dims: [age], equation: 'pop[age, group]'}"),
        r"the dimension 'group' of 'pop' is not a dimension of this equation \(got pop\[age, "
        r"group\]\)\. The equation runs over: age; sum it out with SUM\(pop\[group!\]\)",
    ),
    (
        BASE.replace("parameters:\n", "parameters:\n  k: 1\n")
        + "auxiliaries:\n  y: {dims: [age], equation: 'k[young]'}\n",
        r"'k' has no dimensions, so it takes no subscripts \(got k\[young\]\)\. Write k",
    ),
    (
        aux("{dims: [age], equation: 'popp[young, A]'}"),
        r"only variables take subscripts, not 'popp' \(column 1, got 'popp\[young, A\]'\)\. Did "
        r"you mean 'pop'",
    ),
    (
        aux("{dims: [age], equation: 'pop[age, 1 + 1]'}"),
        r"a subscript must be an element or a dimension \(column 10",
    ),
    (
        aux("{dims: [age], equation: 'SUM(w[A])'}"),
        r"SUM has no dimension to run over \(got SUM\(w\[A\]\)\)\. Mark it with '!'",
    ),
    (aux("'SUM(w[group!], 1)'"), r"SUM takes one argument \(got 2\)"),
    (aux("'SUM(w[grop!])'"), r"unknown dimension 'grop!'\. Did you mean 'group'\?"),
    (aux("'ELMCOUNT(grop)'"), r"ELMCOUNT takes a dimension \(got 'grop'\)\. Did you mean"),
    (
        "time: {stop: 1}\ndimensions: {a: [x, y], b: [u, v]}\n"
        "parameters: {p: {dims: [a], value: 1}}\n"
        "auxiliaries:\n  z: {dims: [b], equation: 'p[a]'}\n",
        r"auxiliaries\.z\.equation: the dimension 'a' of 'p' is not a dimension of this equation",
    ),
    (
        BASE + "flows:\n  f: {from: pop, dims: [age], rate: 1}\n",
        r"flows\.f\.from: the flow runs over \[age\] but the stock 'pop' over \[age, group\]",
    ),
    (
        BASE + "measures:\n  pop: {perspective: outcome, better: higher}\n",
        r"measures\.pop: a measure must be a single value, but it reads the arrayed 'pop'",
    ),
    (
        aux("'SUM(SMOOTH(w[group!], 1))'"),
        r"a stateful builtin inside an array function .*Move it into an auxiliary",
    ),
    (
        "time: {stop: 1}\nauxiliaries:\n  y: {dims: [a], equation: 1}\n",
        r"auxiliaries\.y\.dims: unknown key 'dims'",
    ),
]


@pytest.mark.parametrize(("text", "message"), ERRORS)
def test_error_messages(make_model: WriteModel, text: str, message: str) -> None:
    with pytest.raises(ps.ModelError, match=r"model\.yaml: " + ".*" + message):
        make_model(text)


def test_documented_example_runs() -> None:
    import re
    from pathlib import Path

    text = (Path(__file__).parent.parent / "docs" / "dimensions.md").read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(model: population.*?)```", text, re.S)
    assert block is not None
    model = load_text(block.group(1))
    first = ps.simulate(model).to_frame().iloc[0]
    # births into 0-4 of group B: 0.06 * population[15-64, B] * weight = 0.06 * 300
    assert first["births[0-4,B]"] == pytest.approx(0.06 * 300)
    assert first["emigration[65+,A]"] == 0.0
    assert first["total"] == pytest.approx(4 * 1000)


def test_lookups_and_implicit_methods_over_arrays(make_model: WriteModel) -> None:
    model = make_model("""
        time: {stop: 2, dt: 0.5}
        dimensions: {g: [a, b, c]}
        parameters: {k: {dims: [g], value: [0.5, 1.5, 3]}}
        stocks: {x: {dims: [g], initial: 1}}
        flows: {out: {from: x, rate: effect(k) * x}}
        lookups: {effect: {points: [[0, 0], [1, 1], [2, 4]]}}
    """)
    row = ps.simulate(model).to_frame().iloc[0]
    # effect: 0.5 -> 0.5, 1.5 -> 2.5, 3 -> 4 (flat beyond the last point)
    assert [row[f"out[{g}]"] for g in "abc"] == [0.5, 2.5, 4.0]
    exact = np.exp(-np.array([0.5, 2.5, 4.0]) * 2)
    for method in ("rk45", "bdf", "radau", "lsoda"):
        res = ps.simulate(model, method=method, rtol=1e-10, atol=1e-12)
        assert np.allclose([res[f"x[{g}]"].iloc[-1] for g in "abc"], exact, rtol=1e-6), method


ARRAYED_LOOKUPS = """
time: {stop: 2, dt: 1}
dimensions: {g: [a, b], h: [x, y, z]}
lookups:
  effect: {dims: [g], points: {a: [[0, 0], [1, 1]], b: [[0, 0], [1, 2]]}}
  both: {dims: [g, h], points: [[0, 1], [10, 11]]}
auxiliaries:
  e: {dims: [g], equation: effect(0.5)}
  f: {dims: [h, g], equation: "effect[g](TIME / 2)"}
  k: "effect[b](0.25)"
  m: {dims: [g, h], equation: "both(TIME)"}
"""


def test_arrayed_lookups_by_hand(make_model: WriteModel) -> None:
    res = ps.simulate(make_model(ARRAYED_LOOKUPS)).to_frame()
    assert (res["e[a]"].iloc[0], res["e[b]"].iloc[0]) == (0.5, 1.0)
    assert res["f[z,b]"].tolist() == [0.0, 1.0, 2.0]
    assert res["f[y,a]"].tolist() == [0.0, 0.5, 1.0]  # flat beyond x = 1
    assert res["k"].iloc[0] == 0.5
    assert res["m[b,z]"].tolist() == [1.0, 2.0, 3.0]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("a: [[0, 0], [1, 1]], b:", "a: [[0, 0], [1, 1]], g:"),
            r"lookups\.effect\.points\.g: these elements already have a table",
        ),
        (
            (", b: [[0, 0], [1, 2]]", ""),
            r"lookups\.effect\.points: 1 element\(s\) have no table, "
            r"such as \[b\]",
        ),
        (
            ("both: {dims: [g, h], points", "both: {dims: [g, h], extrapolation: linear, points"),
            r"lookups\.both: an arrayed lookup takes points and flat extrapolation only",
        ),
        (
            ('k: "effect[b](0.25)"', 'k: "effect(0.25)"'),
            r"auxiliaries\.k\.equation: the dimension 'g' of 'effect' is not a dimension of this "
            r"equation",
        ),
        (
            ('k: "effect[b](0.25)"', 'k: "effect[b](0.25, 1)"'),
            r"the lookup 'effect' takes 1 argument, not 2",
        ),
    ],
)
def test_arrayed_lookup_errors(
    make_model: WriteModel, change: tuple[str, str], message: str
) -> None:
    with pytest.raises(ps.ModelError, match=message):
        make_model(ARRAYED_LOOKUPS.replace(*change))


def test_scenario_ensemble_samples_elements(tmp_path: object, make_model: WriteModel) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    make_model(POPULATION)
    (folder / "u.yaml").write_text(
        "scenario: u\nmodel: model.yaml\nset: {weight: 2}\nuncertainty:\n  members: 40\n"
        "  seed: 3\n  parameters:\n    'mortality[65+]': {distribution: uniform, low: 0.1, "
        "high: 0.2}\n",
        encoding="utf-8",
    )
    result = ps.run_scenario(folder / "u.yaml")
    deaths = result.results["deaths[65+,B]"].iloc[0].to_numpy()
    sampled = result.samples["mortality[65+]"]
    # deaths = population * mortality with population = 100 * weight = 200 at the start
    assert deaths.shape == (40,)
    assert np.allclose(deaths, 200 * sampled)
    assert sampled.min() >= 0.1
    assert sampled.max() <= 0.2
    assert np.allclose(result.results["deaths[0-4,A]"].iloc[0], 200 * 0.01)


def test_pssc_run_writes_vensim_style_columns(
    capsys: pytest.CaptureFixture[str], model_path: object
) -> None:
    import pandas as pd

    from pssc_sim.cli import main

    path = model_path(POPULATION)  # type: ignore[operator]
    out = path.parent / "out"
    assert main(["run", str(path), "--out", str(out)]) == 0
    capsys.readouterr()
    table = pd.read_csv(out / "results.csv")
    assert table.columns[:3].tolist() == ["time", "population[0-4,A]", "population[0-4,B]"]
    assert table["births[0-4,A]"].iloc[0] == pytest.approx(100.0)
    assert (out / "stocks.png").read_bytes()[:4] == b"\x89PNG"


def test_vector_select_by_hand(make_model: WriteModel) -> None:
    model = make_model("""
        time: {stop: 2, dt: 1}
        dimensions: {g: [a, b, c], h: [x, y]}
        parameters:
          pick: {dims: [g], value: [1, 0, 2]}
          none: {dims: [g], value: 0}
          v: {dims: [g], value: [3, 5, 7]}
          grid: {dims: [g, h], value: [[1, 0], [0, 0], [1, 1]]}
        auxiliaries:
          weighted_sum: "VECTOR_SELECT(pick[g!], v[g!], -1, 0, 0)"
          plain_max: "VECTOR_SELECT(pick[g!], v[g!], -1, 9, 0)"
          powered: "VECTOR_SELECT(pick[g!], v[g!], -1, 5, 0)"
          mean: "VECTOR_SELECT(pick[g!], v[g!], -1, 10, 0)"
          missing: "VECTOR_SELECT(none[g!], v[g!], -1, 0, 0)"
          by_time: "VECTOR_SELECT(pick[g!], v[g!], -1, 6 + TIME, 0)"
          column: {dims: [h], equation: "VECTOR_SELECT(grid[g!, h], v[g!], -1, 8, 0)"}
    """)
    res = ps.simulate(model).to_frame()
    first = res.iloc[0]
    assert first["weighted_sum"] == 1 * 3 + 2 * 7
    assert first["plain_max"] == 7.0
    assert first["powered"] == 3 * 7**2
    assert first["mean"] == 5.0
    assert first["missing"] == -1.0
    assert res["by_time"].tolist() == [10.0, 21.0, 3.0]  # sum, product, minimum of 3 and 7
    assert (first["column[x]"], first["column[y]"]) == (3.0, 7.0)


def test_division_by_a_constant_rounds_as_written(make_model: WriteModel) -> None:
    # 10 - 46 / 5 is 0.8000000000000007 in floating point, so 4 / it is just below 5; written
    # as 10 - 0.2 * 46 it would be just above 5 and INTEGER would give 5 (Vensim gives 4)
    model = make_model("""
        time: {start: 46, stop: 47, dt: 1}
        auxiliaries: {whole: "INTEGER(4 / (10 - TIME / 5))"}
    """)
    assert ps.simulate(model)["whole"].iloc[0] == 4.0
