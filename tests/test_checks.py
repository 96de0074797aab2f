"""Model checks: units, unused parameters, sources, values outside their ranges, lookup ranges,
negative stocks."""

from __future__ import annotations

from pathlib import Path

import pssc_sim as ps
from pssc_sim.analysis.checks import Kind, check_model

CLEAN = """
time: {stop: 10, dt: 0.25, units: year}
parameters:
  birth_fraction: {value: 0.03, units: 1/year, source: "ONS mid-year estimates 2020"}
  lifetime: {value: 80, units: year, source: "assumption: round life expectancy"}
stocks:
  people: {initial: 1000, units: people, non_negative: true}
flows:
  births: {to: people, rate: people * birth_fraction, units: people/year}
  deaths: {from: people, rate: people / lifetime * crowding(people / 1000), units: people/year}
lookups:
  crowding: {points: [[0, 1], [2, 1.5]], units: dmnl}
"""


def check(tmp_path: Path, text: str) -> list[tuple[str, str]]:
    path = tmp_path / "model.yaml"
    path.write_text(text)
    return [(f.kind.value, str(f)) for f in check_model(ps.load_model(path)).findings]


def test_a_clean_model_has_no_findings(tmp_path: Path) -> None:
    assert check(tmp_path, CLEAN) == []


def test_adding_people_to_people_per_year_names_the_key_path_and_both_units(tmp_path: Path) -> None:
    # The births flow no longer uses birth_fraction, and the population outgrows the lookup.
    text = CLEAN.replace("rate: people * birth_fraction", "rate: people + births_per_year")
    text = text.replace(
        "parameters:\n",
        "parameters:\n  births_per_year: {value: 30, units: people/year, source: ONS}\n",
    )
    found = check(tmp_path, text)
    assert [k for k, _ in found] == ["units", "unused", "lookup range"]
    message = found[0][1]
    assert "model.yaml: flows.births.rate: the terms have different units" in message
    assert "'people'" in message
    assert "'people / year'" in message


def test_equation_units_against_declared_units(tmp_path: Path) -> None:
    text = CLEAN + "auxiliaries:\n  density: {equation: people / 1000, units: people/year}\n"
    ((kind, message),) = check(tmp_path, text)
    assert kind == "units"
    assert "auxiliaries.density.equation: the equation gives 'people'" in message
    assert "declared in 'people / year'" in message


def test_flow_units_must_be_stock_units_per_time_unit(tmp_path: Path) -> None:
    text = CLEAN.replace(
        "rate: people * birth_fraction, units: people/year",
        "rate: people * birth_fraction * 12, units: people/month",
    )
    found = check(tmp_path, text)
    assert any("flows.births.units: the flow is in 'people / month'" in m for _, m in found)


def test_exponent_and_exp_arguments_must_be_dimensionless(tmp_path: Path) -> None:
    text = CLEAN + "auxiliaries:\n  wrong: {equation: EXP(people), units: dmnl}\n"
    ((_, message),) = check(tmp_path, text)
    assert "the argument of exp must be dimensionless: 'people'" in message


AGED = """
time: {stop: 4, dt: 0.25, units: year}
dimensions:
  group: [a, b]
  age: [young, old]
parameters:
  rate: {value: 0.1, units: 1/year, source: "assumption"}
stocks:
  people: {dims: [group, age], initial: 100, units: people}
flows:
  ageing:
    from: people
    rate: {"group, young": "people[group, young] * rate", "group, old": "people[group, old] * rate"}
    units: people/year
auxiliaries:
  total: {equation: "SUM(people[group!, age!])", units: people}
  oldest: {equation: "VMAX(people[group!, old])", units: people}
  young_a: {equation: "people[a, young]", units: people}
"""


def test_picking_and_summing_elements_keep_their_units(tmp_path: Path) -> None:
    """Selections, sums, maxima and per-element equations of an arrayed model carry the units of
    the array: a clean arrayed model has no findings, and a sum declared in other units, or
    per-element equations in different units, are found."""
    assert check(tmp_path, AGED) == []
    wrong = AGED.replace(
        'SUM(people[group!, age!])", units: people',
        'SUM(people[group!, age!])", units: people/year',
    )
    ((kind, message),) = check(tmp_path, wrong)
    assert kind == "units"
    assert "auxiliaries.total.equation: the equation gives 'people'" in message
    mixed = AGED.replace('"people[group, old] * rate"', '"people[group, old]"')
    ((kind, message),) = check(tmp_path, mixed)
    assert kind == "units"
    assert "flows.ageing.rate: the per-element equations have different units" in message


def test_unused_parameter_and_missing_source(tmp_path: Path) -> None:
    text = CLEAN.replace("parameters:\n", "parameters:\n  spare: {value: 3}\n")
    assert [k for k, _ in check(tmp_path, text)] == ["unused", "source"]


def test_a_value_outside_its_range(tmp_path: Path) -> None:
    text = CLEAN.replace("lifetime: {value: 80,", "lifetime: {value: 80, range: [60, 75],")
    ((kind, message),) = check(tmp_path, text)
    assert kind == Kind.RANGE.value
    assert message == (
        f"{tmp_path / 'model.yaml'}: parameters.lifetime.value: the value lies "
        "outside its range [60, 75] (got value 80.0). Move the value into the "
        "range, or give the range the evidence for this value supports"
    )
    assert (
        check(
            tmp_path,
            CLEAN.replace("lifetime: {value: 80,", "lifetime: {value: 80, range: [60, 80],"),
        )
        == []
    )


def test_lookup_called_outside_its_points(tmp_path: Path) -> None:
    text = CLEAN.replace("[[0, 1], [2, 1.5]]", "[[0, 1], [0.5, 1.5]]")
    ((kind, message),) = check(tmp_path, text)
    assert kind == Kind.LOOKUP_RANGE.value
    assert "lookups.crowding: called by deaths with inputs from 1 to" in message


ARRAYED = """
time: {stop: 10, dt: 0.25, units: year}
dimensions:
  group: [a, b]
parameters:
  drain: {dims: [group], value: [0.05, DRAIN], units: people/year, source: "assumption"}
stocks:
  people: {dims: [group], initial: 1, units: people, non_negative: true}
flows:
  leaving: {from: people, rate: drain, units: people/year}
"""


def test_an_arrayed_non_negative_stock_is_checked_element_by_element(tmp_path: Path) -> None:
    """Only the element a fixed outflow drives below zero is found; a clean array is not."""
    assert check(tmp_path, ARRAYED.replace("DRAIN", "0.02")) == []
    found = check(tmp_path, ARRAYED.replace("DRAIN", "0.5"))
    assert [k for k, _ in found] == ["negative stock"]
    assert "stocks.people: declared non-negative but its flows drive it to -4" in found[0][1]


def test_an_aggregation_keeps_the_units_of_what_it_sums(tmp_path: Path) -> None:
    """SUM, VMIN and VMAX over a dimension, an element picked and per-element equations keep the
    units of their argument, so a total of people is people and adding it to a rate is found."""
    totals = (
        "auxiliaries:\n"
        "  total: {equation: 'SUM(people[group!])', units: people}\n"
        "  most: {equation: 'VMAX(people[group!])', units: people}\n"
        "  first: {equation: 'people[a]', units: people}\n"
        "  rates: {dims: [group], equation: {a: drain, b: 2 * drain}, units: people/year}\n"
    )
    clean = ARRAYED.replace("DRAIN", "0.02") + totals
    assert check(tmp_path, clean) == []
    found = check(
        tmp_path, clean.replace("'SUM(people[group!])'", "'SUM(people[group!]) + drain[a]'")
    )
    assert [k for k, _ in found] == ["units"]
    assert "auxiliaries.total.equation: the terms have different units" in found[0][1]


def test_non_negative_stock_driven_below_zero(tmp_path: Path) -> None:
    text = CLEAN.replace("[[0, 1], [2, 1.5]]", "[[-10, 400], [10, 400]]")
    found = check(tmp_path, text)
    assert [k for k, _ in found] == ["negative stock"]
    assert any(
        "stocks.people: declared non-negative but its flows drive it to" in m for _, m in found
    )
