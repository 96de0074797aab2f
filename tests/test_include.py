"""The ``include:`` section of model files: renaming, input substitution, units placeholders,
parameter sources and overrides, the switch, every error message, and the scenario key
``mechanisms:``."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
import sympy
import yaml

from pssc_sim.analysis.checks import Kind, check_model
from pssc_sim.cli import main
from pssc_sim.errors import ExpressionError, ModelError
from pssc_sim.ir.functions import variable_symbol
from pssc_sim.ir.model import Model, Origin
from pssc_sim.parse import load_model
from pssc_sim.scenario import Scenario, ScenarioError, load_scenario
from pssc_sim.scenario.fields import model_instances
from pssc_sim.scenario.schema import json_schema

# A local fragment whose names are prefixes of each other (rate, rate_total) and of the host's,
# with a lookup, a flow between its own stocks, and every kind of input.
FRAGMENT = """\
fragment: toy
title: A toy fragment
description: Tests the include mechanism.
signature: none
sources: [test]
inputs:
  measure: {kind: measure, description: the measure}
  total: {kind: value, description: a total}
  share: {kind: value, units: dimensionless, description: a share}
parameters:
  rate: {value: 2, units: "1/[time]", range: [0, 5], source: toy source}
  rate_total: {value: 3, units: dimensionless, source: toy source 2}
  offset: {value: 1, units: "[measure]", source: toy source 3}
stocks:
  pool: {initial: 0, units: "[total]"}
  other: {initial: 1, units: "[total]"}
flows:
  move: {from: other, to: pool, rate: rate * other, units: "[total]/[time]"}
auxiliaries:
  scaled: {equation: rate_total * total / (share + 1), units: "[total]"}
  shifted: {equation: measure - offset * active, units: "[measure]"}
  pressure: {equation: "TARGET_PRESSURE(measure) * shape(share)", units: "[measure]"}
  rate_shifted: {equation: total * 2}
lookups:
  shape: {points: [[0, 0], [1, 1]]}
outputs:
  shifted: the shifted measure
"""

HOST = """\
model: host
time: {{start: 0, stop: 4, dt: 0.5, units: week}}
parameters:
  a: {{value: 1, units: person, source: test}}
  b: {{value: 2, units: person, source: test}}
  share_in: {{value: 0.5, units: dimensionless, source: test}}
auxiliaries:
  wait: {{equation: a + b, units: person}}
include:
  toy:
    mechanism: {mechanism}
    inputs: {{measure: waiting, total: {total}, share: share_in}}
    parameters: {{rate: {{value: 0.5, source: host source}}}}
{extra}measures:
  waiting: {{perspective: outcome, better: lower, units: person, true: wait * 1,
            reported: toy_shifted}}
"""


#: The include's parameter override in HOST.
OVERRIDE = "{{rate: {{value: 0.5, source: host source}}}}"


def write_host(
    folder: Path,
    *,
    total: str = "a + b",
    extra: str = "",
    mechanism: str = "toy.yaml",
    host: str = HOST,
) -> Path:
    (folder / "toy.yaml").write_text(FRAGMENT)
    path = folder / "host.yaml"
    path.write_text(host.format(total=total, extra=extra, mechanism=mechanism))
    return path


def equation(model: Model, name: str) -> sympy.Expr:
    for aux in model.auxiliaries:
        if aux.name == name:
            return aux.equation
    raise KeyError(name)


def parameter(model: Model, name: str) -> tuple[float, str, str]:
    for item in model.parameters:
        if item.name == name:
            return item.value, item.meta.units, item.meta.source
    raise KeyError(name)


S = variable_symbol


# -- expansion -----------------------------------------------------------------------------------


def test_names_are_renamed_on_the_expression_tree(tmp_path: Path) -> None:
    model = load_model(write_host(tmp_path))
    names = set(model.parameter_names)
    assert {"toy_rate", "toy_rate_total", "toy_offset", "toy_active"} <= names
    assert {"toy_pool", "toy_other"} <= set(model.stock_names)
    flow = next(f for f in model.flows if f.name == "toy_move")
    assert (flow.source, flow.target) == ("toy_other", "toy_pool")
    assert flow.rate == S("toy_rate") * S("toy_other")
    assert [lk.name for lk in model.lookups] == ["toy_shape"]


def test_inputs_are_substituted_as_subexpressions(tmp_path: Path) -> None:
    model = load_model(write_host(tmp_path, total="a + b"))
    # rate_total * total / (share + 1) with total = a + b: the sum stays one factor
    expected = S("toy_rate_total") * (S("a") + S("b")) / (S("share_in") + 1)
    assert sympy.simplify(equation(model, "toy_scaled") - expected) == 0
    assert equation(model, "toy_rate_shifted") == 2 * (S("a") + S("b"))


def test_measure_input_is_its_true_value_and_names_it_in_measure_functions(tmp_path: Path) -> None:
    model = load_model(write_host(tmp_path))
    # the measure's true expression (wait * 1), the offset switched by active
    assert equation(model, "toy_shifted") == S("wait") - S("toy_offset") * S("toy_active")
    assert S("waiting__target_pressure") in equation(model, "toy_pressure").free_symbols


def test_parameters_keep_sources_units_and_take_overrides(tmp_path: Path) -> None:
    model = load_model(write_host(tmp_path))
    assert parameter(model, "toy_rate") == (0.5, "1/(week)", "host source")
    assert parameter(model, "toy_rate_total") == (3.0, "dimensionless", "toy source 2")
    # [total] is bound to an expression: no units to give, so the variable is not unit-checked
    assert next(s for s in model.stocks if s.name == "toy_pool").meta.units == ""
    assert parameter(model, "toy_offset")[:2] == (1.0, "(person)")
    value, units, source = parameter(model, "toy_active")
    assert (value, units) == (1.0, "dimensionless")
    assert source.startswith("include.toy.active")
    # the library's range [0, 5] described the library's value 2, not the host's 0.5
    rate = next(p for p in model.parameters if p.name == "toy_rate")
    assert rate.range is None


def test_input_bound_to_a_name_gives_its_units(tmp_path: Path) -> None:
    model = load_model(write_host(tmp_path, total="a"))
    stock = next(s for s in model.stocks if s.name == "toy_pool")
    assert stock.meta.units == "(person)"


def test_host_with_include_checks_clean(tmp_path: Path) -> None:
    report = check_model(load_model(write_host(tmp_path, total="a")), run=False)
    assert report.findings == ()
    assert main(["check", str(tmp_path / "host.yaml")]) == 0


def test_placeholder_units_are_checked_in_the_host(tmp_path: Path) -> None:
    # the measure says minute but its true value is in persons: the offset ([measure], so
    # minute) subtracted from it is caught in the fragment's equation, under its host name
    path = write_host(tmp_path, total="a")
    path.write_text(path.read_text().replace("units: person, true:", "units: minute, true:"))
    findings = check_model(load_model(path), run=False).findings
    units = [f for f in findings if f.kind is Kind.UNITS]
    assert len(units) == 1
    assert units[0].where.endswith("auxiliaries.toy_shifted.equation")
    assert "'minute' and 'person'" in units[0].message or "'person' and 'minute'" in (
        units[0].message
    )


def test_active_zero_switches_off(tmp_path: Path) -> None:
    model = load_model(write_host(tmp_path, extra="    active: 0\n"))
    assert parameter(model, "toy_active")[0] == 0.0


def test_library_mechanism_runs_and_switches_off(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        textwrap.dedent("""\
        time: {start: 0, stop: 10, dt: 1, units: week}
        auxiliaries:
          wait: {equation: 10, units: week}
        include:
          clock:
            mechanism: clock_start_offset
            inputs: {measure: wait}
            parameters: {adjustment_time: 1}
        measures:
          wait: {perspective: outcome, better: lower, units: week, reported: clock_reported}
        """)
    )
    on = Scenario(model=path, culture=1.0).with_targets({"measure": "wait", "value": 9, "by": 10})
    off = on.with_mechanisms(clock="off")
    reported_on = np.asarray(on.run()["wait.reported"])
    reported_off = np.asarray(off.run()["wait.reported"])
    assert reported_on[-1] < 10
    np.testing.assert_array_equal(reported_off, 10.0)


# -- errors in the host --------------------------------------------------------------------------

#: id -> (arguments of write_host, a change to the host text or None, the error, its message).
HOST_ERRORS = {
    "unknown mechanism": (
        {"mechanism": "clock_start_ofset"},
        None,
        ModelError,
        r"host.yaml: include.toy.mechanism: unknown mechanism 'clock_start_ofset'. Did you mean "
        r"'clock_start_offset'\?",
    ),
    "missing fragment file": (
        {"mechanism": "nowhere/frag.yaml"},
        None,
        ModelError,
        r"include.toy.mechanism: no fragment file 'nowhere/frag.yaml' next to the model",
    ),
    "mechanism required": (
        {},
        ("    mechanism: {mechanism}\n", ""),
        ModelError,
        r"include.toy.mechanism: 'mechanism' is required \(got None\)",
    ),
    "missing input": (
        {},
        ("total: {total}, ", ""),
        ModelError,
        r"include.toy.inputs: missing input 'total' of toy \(got \['measure', 'share'\]\). Add "
        r"'total: ",
    ),
    "unknown input": (
        {},
        ("share: share_in}", "share: share_in, totl: 1}"),
        ModelError,
        r"include.toy.inputs.totl: unknown input 'totl' of toy. Did you mean 'total'\?",
    ),
    "measure input not a measure": (
        {},
        ("measure: waiting,", "measure: wait,"),
        ModelError,
        r"include.toy.inputs.measure: 'wait' is not a measure of the model \(got 'wait'\). Did "
        r"you mean 'waiting'\?",
    ),
    "value input with an unknown name": (
        {"total": "aa + b"},
        None,
        ExpressionError,
        r"host.yaml: include.toy.inputs.total: unknown name 'aa'. Did you mean 'a'\?",
    ),
    "value input not a number or text": (
        {"total": "[1, 2]"},
        None,
        ModelError,
        r"include.toy.inputs.total: expected a number or an expression \(got \[1, 2\]\)",
    ),
    "unknown parameter override": (
        {},
        (OVERRIDE, "{{rat: 0.5}}"),
        ModelError,
        r"include.toy.parameters.rat: unknown parameter 'rat' of toy. Did you mean 'rate'\?",
    ),
    "parameter override not a number": (
        {},
        (OVERRIDE, "{{rate: fast}}"),
        ModelError,
        r"include.toy.parameters.rate: expected a number \(got 'fast'\)",
    ),
    "parameter override with an unknown key": (
        {},
        (OVERRIDE, "{{rate: {{value: 0.5, rnge: [0, 1]}}}}"),
        ModelError,
        r"include.toy.parameters.rate.rnge: unknown key 'rnge'. Did you mean 'range'\?",
    ),
    "name clash with the host": (
        {},
        ("  a: {{value: 1,", "  toy_rate: {{value: 9, source: x}}\n  a: {{value: 1,"),
        ModelError,
        r"include.toy: the name 'toy_rate' of toy's 'rate' is already defined under parameters "
        r"of the model \(got 'toy_rate'\). Rename",
    ),
    # instance 'toy' defines toy_rate_shifted; so would instance 'toy_rate' (its 'shifted')
    "name clash between instances": (
        {},
        (
            "measures:",
            "  toy_rate:\n    mechanism: toy.yaml\n"
            "    inputs: {{measure: waiting, total: 1, share: 0}}\nmeasures:",
        ),
        ModelError,
        r"include.toy_rate: the name 'toy_rate_shifted' of toy's 'shifted' is already defined "
        r"under include.toy",
    ),
    "bad instance name": (
        {},
        ("  toy:\n", "  Toy__x:\n"),
        ModelError,
        r"include.Toy__x: the instance name 'Toy__x' is not a snake_case name",
    ),
    "unknown include key": (
        {"extra": "    activ: 0\n"},
        None,
        ModelError,
        r"include.toy.activ: unknown key 'activ'. Did you mean 'active'\?",
    ),
    "active not zero or one": (
        {"extra": "    active: 0.5\n"},
        None,
        ModelError,
        r"include.toy.active: expected 1 \(on\) or 0 \(off\) \(got 0.5\)",
    ),
}


@pytest.mark.parametrize(
    ("arguments", "change", "error", "message"), HOST_ERRORS.values(), ids=HOST_ERRORS.keys()
)
def test_errors_in_the_host(
    tmp_path: Path,
    arguments: dict[str, str],
    change: tuple[str, str] | None,
    error: type[Exception],
    message: str,
) -> None:
    host = HOST
    if change is not None:
        assert change[0] in HOST
        host = HOST.replace(*change)
    with pytest.raises(error, match=message):
        load_model(write_host(tmp_path, host=host, **arguments))


def test_parameter_override_with_a_range(tmp_path: Path) -> None:
    host = HOST.replace(
        "{{rate: {{value: 0.5, source: host source}}}}",
        "{{rate: {{value: 0.5, range: [0.1, 1], source: s2}}}}",
    )
    model = load_model(write_host(tmp_path, host=host))
    rate = next(p for p in model.parameters if p.name == "toy_rate")
    assert (rate.value, rate.range, rate.meta.source) == (0.5, (0.1, 1.0), "s2")


def override(tmp_path: Path, text: str) -> Model:
    host = HOST.replace(OVERRIDE, text)
    return load_model(write_host(tmp_path, host=host))


def test_a_new_value_without_a_source_loses_the_librarys(tmp_path: Path) -> None:
    """A value the host sets keeps neither the library's source nor its range: they describe
    the library's value. `pssc check` then asks for a source."""
    model = override(tmp_path, "{{rate: 0.5}}")
    rate = next(p for p in model.parameters if p.name == "toy_rate")
    assert (rate.value, rate.range, rate.meta.source) == (0.5, None, "")
    findings = check_model(model, run=False).findings
    assert [f.kind for f in findings] == [Kind.SOURCE]
    assert str(findings[0]) == (
        f"{tmp_path / 'host.yaml'}: parameters.toy_rate.source: the value has no source (got "
        "value 0.5). Add source: with a reference, or 'assumption' and why"
    )


def test_a_new_value_with_a_source_only_has_no_range(tmp_path: Path) -> None:
    model = override(tmp_path, "{{rate: {{value: 7, source: host survey}}}}")
    rate = next(p for p in model.parameters if p.name == "toy_rate")
    assert (rate.value, rate.range, rate.meta.source) == (7.0, None, "host survey")
    assert check_model(model, run=False).findings == ()


def test_the_librarys_value_keeps_the_librarys_evidence(tmp_path: Path) -> None:
    for text in ("{{rate: 2}}", "{{rate: {{value: 2}}}}", "{{rate: {{description: d}}}}"):
        rate = next(p for p in override(tmp_path, text).parameters if p.name == "toy_rate")
        assert (rate.value, rate.range, rate.meta.source) == (2.0, (0.0, 5.0), "toy source")


def test_check_flags_a_host_value_outside_the_hosts_range(tmp_path: Path) -> None:
    model = override(tmp_path, "{{rate: {{value: 0.5, range: [1, 4], source: s}}}}")
    findings = check_model(model, run=False).findings
    assert [f.kind for f in findings] == [Kind.RANGE]
    assert str(findings[0]) == (
        f"{tmp_path / 'host.yaml'}: parameters.toy_rate.value: the value lies outside its range "
        "[1, 4] (got value 0.5). Move the value into the range, or give the range the evidence "
        "for this value supports"
    )
    assert main(["check", str(tmp_path / "host.yaml")]) == 1


def test_include_must_be_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("time: {stop: 1}\ninclude: [a]\n")
    with pytest.raises(ModelError, match=r"m.yaml: include: expected a mapping of instance names"):
        load_model(path)


def test_host_reads_an_unknown_fragment_name(tmp_path: Path) -> None:
    path = write_host(tmp_path)
    path.write_text(path.read_text().replace("reported: toy_shifted", "reported: toy_shiftd"))
    with pytest.raises(
        ExpressionError,
        match=r"measures.waiting.reported: unknown name "
        r"'toy_shiftd'. Did you mean 'toy_shifted'\?",
    ):
        load_model(path)


# -- errors inside a fragment --------------------------------------------------------------------

#: id -> (text of the fragment, what replaces it, the error, its message: file and key first).
FRAGMENT_ERRORS = {
    "equation names the fragment file": (
        "rate * other",
        "rate * othr",
        ExpressionError,
        r"toy.yaml: flows.move.rate: unknown name 'othr'. Did you mean 'other'\?",
    ),
    "unknown key": (
        "signature: none",
        "signatur: none",
        ModelError,
        r"toy.yaml: signatur: unknown key 'signatur'. Did you mean 'signature'\?",
    ),
    "unknown units placeholder": (
        'units: "[measure]"}',
        'units: "[mesure]"}',
        ModelError,
        r"toy.yaml: auxiliaries.shifted.units: unknown units placeholder '\[mesure\]'. Did you "
        r"mean 'measure'\?",
    ),
    "output not a variable": (
        "  shifted: the shifted",
        "  shiftd: the shifted",
        ModelError,
        r"toy.yaml: outputs.shiftd: 'shiftd' is not a variable of the fragment. Did you mean "
        r"'shifted'\?",
    ),
    "variable named like an input": (
        "  rate_shifted: {equation:",
        "  total: {equation:",
        ModelError,
        r"toy.yaml: auxiliaries.total: the name 'total' is an input of the fragment",
    ),
    "variable named active": (
        "  rate_shifted: {equation:",
        "  active: {equation:",
        ModelError,
        r"toy.yaml: auxiliaries.active: the name 'active' is the switch",
    ),
    "unknown input kind": (
        "{kind: measure,",
        "{kind: measur,",
        ModelError,
        r"toy.yaml: inputs.measure.kind: unknown kind 'measur'. Did you mean 'measure'\?",
    ),
    "unknown input key": (
        "{kind: measure,",
        "{knd: measure,",
        ModelError,
        r"toy.yaml: inputs.measure.knd: unknown key 'knd'. Did you mean 'kind'\?",
    ),
    "sources not a list": (
        "sources: [test]",
        "sources: test",
        ModelError,
        r"toy.yaml: sources: expected a list of references",
    ),
}


@pytest.mark.parametrize(
    ("old", "new", "error", "message"), FRAGMENT_ERRORS.values(), ids=FRAGMENT_ERRORS.keys()
)
def test_errors_in_a_fragment(
    tmp_path: Path, old: str, new: str, error: type[Exception], message: str
) -> None:
    path = write_host(tmp_path)
    assert old in FRAGMENT
    (tmp_path / "toy.yaml").write_text(FRAGMENT.replace(old, new))
    with pytest.raises(error, match=message):
        load_model(path)


def test_fragment_must_be_a_mapping(tmp_path: Path) -> None:
    path = write_host(tmp_path)
    (tmp_path / "toy.yaml").write_text("- a\n")
    with pytest.raises(ModelError, match=r"toy.yaml: a fragment file must be a YAML mapping"):
        load_model(path)


# -- THRESHOLD, SHARE_BELOW and reported_share ---------------------------------------------------

SHARES = """\
time: {{start: 0, stop: 1, dt: 1}}
parameters:
  mean_time: {{value: 10, source: test}}
auxiliaries:
  response: mean_time
  below: {equation}
measures:
  response:
    perspective: outcome
    better: lower
    distribution: {{kind: normal, sd: 2{reported}}}
  other: {{perspective: outcome, better: lower, true: mean_time}}
"""


def shares_model(tmp_path: Path, equation: str, reported: str = "") -> Path:
    path = tmp_path / "shares.yaml"
    path.write_text(SHARES.format(equation=equation, reported=reported))
    return path


def test_share_below_is_the_normal_share(tmp_path: Path) -> None:
    path = shares_model(tmp_path, "SHARE_BELOW(response, 12)")
    result = Scenario(model=path).run()
    # Phi(1) = 0.8413 (Winitzki's closed form is within 2e-4)
    assert float(result["below"].iloc[0]) == pytest.approx(0.841345, abs=2e-4)


def test_share_below_the_threshold_is_the_scorecard_share(tmp_path: Path) -> None:
    path = shares_model(tmp_path, "SHARE_BELOW(response, THRESHOLD(response))")
    model = load_model(path)
    assert equation(model, "below") == S("response__share")


def test_reported_share_replaces_the_reported_share(tmp_path: Path) -> None:
    path = shares_model(tmp_path, "THRESHOLD(response) * 0 + 0.5", ", reported_share: below")
    scenario = Scenario(model=path).with_targets(
        {"measure": "response", "kind": "threshold share", "threshold": 12, "value": 0.9, "by": 1}
    )
    row = scenario.run().scorecard().row("response")
    assert row.reported == 0.5
    assert row.true == pytest.approx(0.841345, abs=2e-4)


def test_threshold_needs_a_distribution(tmp_path: Path) -> None:
    path = shares_model(tmp_path, "THRESHOLD(other)")
    with pytest.raises(
        ModelError,
        match=r"shares.yaml: auxiliaries.below.equation: "
        r"THRESHOLD\(other\) needs a measure with a "
        r"distribution \(got measure 'other' without one\)",
    ):
        load_model(path)


def test_share_below_needs_a_distribution(tmp_path: Path) -> None:
    path = shares_model(tmp_path, "SHARE_BELOW(other, 3)")
    with pytest.raises(
        ModelError,
        match=r"SHARE_BELOW\(other\) needs a measure with a "
        r"distribution",
    ):
        load_model(path)


def test_share_below_takes_a_measure_and_a_value(tmp_path: Path) -> None:
    path = shares_model(tmp_path, "SHARE_BELOW(response)")
    with pytest.raises(
        ExpressionError,
        match=r"SHARE_BELOW takes the name of one measure and 1 "
        r"value .* Write SHARE_BELOW\(measure_name, "
        r"value\)",
    ):
        load_model(path)


# -- the scenario key ----------------------------------------------------------------------------


def scenario_file(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_mechanisms_key_sets_the_switch(tmp_path: Path) -> None:
    write_host(tmp_path, total="a")
    path = scenario_file(tmp_path, "s", "scenario: s\nmodel: host.yaml\nmechanisms: {toy: off}\n")
    scenario = load_scenario(path)
    assert dict(scenario.mechanisms) == {"toy": False}
    assert scenario.set == {"toy_active": 0.0}
    assert scenario.to_document()["mechanisms"] == {"toy": "off"}
    assert "set" not in scenario.to_document()


def test_mechanisms_key_layers_with_extends(tmp_path: Path) -> None:
    write_host(tmp_path, total="a")
    scenario_file(tmp_path, "base", "scenario: base\nmodel: host.yaml\nmechanisms: {toy: off}\n")
    child = scenario_file(tmp_path, "child", "extends: base\nmechanisms: {toy: on}\n")
    assert load_scenario(child).set == {"toy_active": 1.0}
    by_set = scenario_file(tmp_path, "by_set", "extends: base\nset: {toy_active: 1}\n")
    assert load_scenario(by_set).set == {"toy_active": 1.0}


def test_unknown_instance_has_did_you_mean(tmp_path: Path) -> None:
    write_host(tmp_path, total="a")
    path = scenario_file(tmp_path, "s", "scenario: s\nmodel: host.yaml\nmechanisms: {tyo: off}\n")
    with pytest.raises(
        ScenarioError,
        match=r"s.yaml: mechanisms.tyo: unknown mechanism "
        r"instance 'tyo' in .*host.yaml. Did you mean "
        r"'toy'\?",
    ):
        load_scenario(path)


def test_unknown_instance_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_host(tmp_path, total="a")
    path = scenario_file(tmp_path, "s", "scenario: s\nmodel: host.yaml\nmechanisms: {tyo: off}\n")
    assert main(["run", str(path)]) == 2
    assert "Did you mean 'toy'?" in capsys.readouterr().err


def test_mechanisms_value_must_be_on_or_off() -> None:
    with pytest.raises(
        ScenarioError,
        match=r"mechanisms.toy: expected on or off \(got "
        r"'maybe'\). Write mechanisms: \{toy: off\}",
    ):
        Scenario(model="m", mechanisms={"toy": "maybe"})


def test_with_set_replaces_a_switch() -> None:
    scenario = Scenario(model="m").with_mechanisms(toy="off").with_set(toy_active=1)
    assert scenario.set == {"toy_active": 1.0}
    assert dict(scenario.mechanisms) == {}


def test_schema_has_the_mechanisms_key() -> None:
    schema = json_schema()["properties"]["mechanisms"]
    assert schema["additionalProperties"]["oneOf"][0] == {"enum": ["on", "off"]}
    assert "on|off" in schema["description"]


@pytest.mark.parametrize("folder", ["ambulance", "smoking"])
def test_parameters_carry_their_origin(folder: str) -> None:
    # Hidden and added parameters are told apart by their origin, which agrees with the
    # document: one switch per include instance, target structure only for measures.
    root = Path(__file__).resolve().parent.parent / "models" / folder
    model = load_model(root)
    document = yaml.safe_load((root / "model.yaml").read_text())
    by_origin = {
        origin: {p.name for p in model.parameters if p.origin is origin} for origin in Origin
    }
    assert by_origin[Origin.INCLUDE] == {f"{name}_active" for name in document["include"]}
    assert model_instances(model) == list(document["include"])
    measures = {m.name for m in model.measures}
    assert by_origin[Origin.TARGET]
    assert all(name.partition("__")[0] in measures for name in by_origin[Origin.TARGET])
    assert by_origin[Origin.CULTURE] <= {"CULTURE"}
    assert all(p.hidden == (p.origin is Origin.TARGET) for p in model.parameters)
    assert not any("__" in name for name in by_origin[Origin.MODEL] | by_origin[Origin.INCLUDE])
