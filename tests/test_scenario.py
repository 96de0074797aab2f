"""Scenario files (DESIGN §3): every key changes what it says, and every error names its place."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest

import pssc_sim as ps
from pssc_sim.scenario import (
    Pulse,
    Ramp,
    Scenario,
    ScenarioError,
    Series,
    SetTo,
    Step,
    Uncertainty,
    apply_interventions,
    json_schema,
    load_scenario,
)
from pssc_sim.scenario.reader import is_scenario_document, is_scenario_file
from pssc_sim.scenario.schema import TOP_KEYS

ROOT = Path(__file__).resolve().parent.parent

DECAY = """\
model: decay
title: Decay with an inflow
time: {start: 0, stop: 10, dt: 0.25}
parameters:
  k: {value: 0.5, range: [0.2, 0.8]}
  inflow_rate: 1
  x0: 100
  no_range: 3
stocks:
  x: x0
flows:
  outflow: {from: x, rate: k * x}
  inflow: {to: x, rate: inflow_rate + 0 * no_range}
auxiliaries:
  doubled: 2 * x
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A folder with models/decay and an empty scenarios/decay folder."""
    (tmp_path / "models" / "decay").mkdir(parents=True)
    (tmp_path / "models" / "decay" / "model.yaml").write_text(DECAY)
    (tmp_path / "scenarios" / "decay").mkdir(parents=True)
    return tmp_path


def write(project: Path, name: str, text: str) -> Path:
    path = project / "scenarios" / "decay" / f"{name}.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def model_of(project: Path) -> ps.Model:
    return ps.load_model(project / "models" / "decay")


# -- keys --------------------------------------------------------------------------------------


def test_baseline_equals_simulate(project: Path) -> None:
    path = write(project, "baseline", "scenario: base\nmodel: decay\n")
    result = ps.run_scenario(path)
    expected = ps.simulate(model_of(project))
    assert result.name == "base"
    np.testing.assert_array_equal(result.results.values, expected.values)
    assert result.results.names == expected.names


def test_set_changes_exactly_the_parameters_named(project: Path) -> None:
    path = write(project, "s", "model: decay\nset: {k: 0.3, x0: 50}\n")
    result = ps.run_scenario(path)
    expected = ps.simulate(model_of(project), {"k": 0.3, "x0": 50})
    np.testing.assert_array_equal(result.results.values, expected.values)
    assert result.name == "s"  # the file name when 'scenario' is not given


def test_time_and_method_override_the_model(project: Path) -> None:
    path = write(
        project, "t", "model: decay\ntime: {stop: 4, dt: 0.5, save_every: 1}\nmethod: rk4\n"
    )
    result = ps.run_scenario(path)
    assert result.results.times.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert result.results.method == "rk4"
    expected = ps.simulate(
        model_of(project), method="rk4", time={"stop": 4, "dt": 0.5, "save_every": 1}
    )
    np.testing.assert_array_equal(result.results.values, expected.values)


def test_outputs_choose_the_recorded_variables(project: Path) -> None:
    path = write(project, "o", "model: decay\noutputs: [x, doubled, k]\n")
    result = ps.run_scenario(path)
    assert result.results.names == ("x", "doubled", "k")
    assert set(result.results.values[:, 2, 0]) == {0.5}


def test_description_is_kept_and_shown(project: Path) -> None:
    path = write(project, "d", "model: decay\ndescription: A plain run.\n")
    result = ps.run_scenario(path)
    assert result.scenario.description == "A plain run."
    assert "A plain run." in result.summary()


@pytest.mark.parametrize(
    "reference", ["decay", "../../models/decay/model.yaml", "../../models/decay"]
)
def test_model_reference_forms(project: Path, reference: str) -> None:
    path = write(project, "m", f"model: {reference}\n")
    assert load_scenario(path).load_model().name == "decay"


def test_model_name_is_found_from_the_current_directory(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    assert Scenario(model="decay").load_model().name == "decay"


# -- interventions -----------------------------------------------------------------------------


def at(result: ps.ScenarioResult, name: str, times: list[float]) -> list[float]:
    """The values of ``name`` at ``times`` (saved times) of a single run."""
    res = result.results
    column = res.values[:, res.index(name), 0]
    return [float(column[np.flatnonzero(res.times == t)[0]]) for t in times]


def k_at(result: ps.ScenarioResult, times: list[float]) -> list[float]:
    return at(result, "k", times)


@pytest.mark.parametrize("method", ["euler", "rk4"])
def test_set_leaves_earlier_times_untouched_and_restarts_from_the_state(
    project: Path, method: str
) -> None:
    path = write(
        project,
        "i",
        f"model: decay\nmethod: {method}\ninterventions: [{{set: k, to: 0.9, at: 5}}]\n",
    )
    result = ps.run_scenario(path)
    base = ps.simulate(model_of(project), method=method)
    times = result.results.times
    before = times < 5
    np.testing.assert_array_equal(result["x"].to_numpy()[before], base["x"].to_numpy()[before])
    assert k_at(result, [0, 4.75, 5, 10]) == [0.5, 0.5, 0.9, 0.9]
    if method == "euler":  # from t=5 on, the run is the model restarted there with k = 0.9
        x5 = at(result, "x", [5.0])[0]
        restart = ps.simulate(model_of(project), {"k": 0.9, "x0": x5}, time={"start": 5})
        np.testing.assert_allclose(
            result["x"].to_numpy()[~before], restart["x"].to_numpy(), rtol=1e-13
        )


def test_adaptive_methods_stop_at_an_intervention(project: Path) -> None:
    path = write(
        project,
        "i",
        "model: decay\nmethod: rk45\nset: {inflow_rate: 0}\n"
        "interventions: [{set: k, to: 0.9, at: 5}]\n",
    )
    result = ps.run_scenario(path)
    t = result.results.times
    exact = np.where(t < 5, 100 * np.exp(-0.5 * t), 100 * np.exp(-2.5 - 0.9 * (t - 5)))
    np.testing.assert_allclose(result["x"].to_numpy(), exact, rtol=1e-5)


def test_step_by_and_to(project: Path) -> None:
    path = write(
        project,
        "i",
        """\
        model: decay
        interventions:
          - {step: k, by: 0.25, at: 2}
          - {step: inflow_rate, to: 3, at: 4}
        outputs: [k, inflow_rate]
        """,
    )
    result = ps.run_scenario(path)
    assert k_at(result, [1.75, 2, 9]) == [0.5, 0.75, 0.75]
    assert at(result, "inflow_rate", [3.75, 4.0]) == [1.0, 3.0]


def test_ramp_is_linear_between_from_and_until(project: Path) -> None:
    path = write(
        project, "i", "model: decay\ninterventions: [{ramp: k, to: 0.9, from: 2, until: 6}]\n"
    )
    result = ps.run_scenario(path)
    np.testing.assert_allclose(k_at(result, [0, 2, 4, 5, 6, 10]), [0.5, 0.5, 0.7, 0.8, 0.9, 0.9])


def test_pulse_is_on_for_its_width(project: Path) -> None:
    path = write(
        project, "i", "model: decay\ninterventions: [{pulse: k, by: 0.2, at: 3, width: 1}]\n"
    )
    result = ps.run_scenario(path)
    assert k_at(result, [2.75, 3, 3.75, 4, 5]) == [0.5, 0.7, 0.7, 0.5, 0.5]


def test_series_is_linear_and_held_at_the_ends(project: Path) -> None:
    path = write(
        project,
        "i",
        "model: decay\ninterventions: [{series: k, points: [[2, 0.2], [4, 0.6], [8, 0.4]]}]\n",
    )
    result = ps.run_scenario(path)
    np.testing.assert_allclose(
        k_at(result, [0, 2, 3, 4, 6, 8, 10]), [0.2, 0.2, 0.4, 0.6, 0.5, 0.4, 0.4]
    )


def test_interventions_on_one_parameter_compose_in_order(project: Path) -> None:
    path = write(
        project,
        "i",
        """\
        model: decay
        set: {k: 0.4}
        interventions:
          - {step: k, by: 0.1, at: 2}
          - {set: k, to: 0.2, at: 6}
          - {pulse: k, by: 0.05, at: 8, width: 1}
        """,
    )
    result = ps.run_scenario(path)
    np.testing.assert_allclose(k_at(result, [1, 2, 5, 6, 8, 9.5]), [0.4, 0.5, 0.5, 0.2, 0.25, 0.2])


def test_an_intervened_parameter_keeps_its_base_value_as_a_parameter(project: Path) -> None:
    model = apply_interventions(model_of(project), [SetTo("k", 0.9, 5.0)])
    assert "k__base" in model.parameter_names
    assert "k" not in model.parameter_names
    assert "k" in model.visible_variables()
    assert model["k__base"].range == (0.2, 0.8)  # type: ignore[attr-defined]


def test_interventions_are_built_from_numbers() -> None:
    schedule = Ramp("k", 2.0, 1.0, 3.0).schedule(ps_symbol("k__base"))
    assert {s.name for s in schedule.free_symbols} == {"k__base", "TIME"}


def ps_symbol(name: str) -> object:
    from pssc_sim.ir.functions import variable_symbol

    return variable_symbol(name)


# -- extends -----------------------------------------------------------------------------------


def test_extends_layers_overrides_in_order(project: Path) -> None:
    write(
        project,
        "root",
        """\
        scenario: root
        model: decay
        time: {stop: 6, dt: 0.5}
        method: euler
        set: {k: 0.1, inflow_rate: 2}
        interventions: [{set: k, to: 0.3, at: 2}, {step: x0, by: 1, at: 1}]
        outputs: [x]
        uncertainty: {members: 8, seed: 1, parameters: {k: {distribution: uniform, low: 0.1,
                                                          high: 0.2}}}
        """,
    )
    write(
        project,
        "middle",
        """\
        extends: root
        time: {stop: 8}
        set: {k: 0.2}
        interventions: [{step: k, by: 0.5, at: 4}]
        uncertainty: {members: 4}
        """,
    )
    leaf = write(
        project,
        "leaf",
        """\
        scenario: leaf
        extends: middle
        method: rk4
        set: {inflow_rate: 3}
        outputs: [x, k]
        """,
    )
    scenario = load_scenario(leaf)
    assert scenario.name == "leaf"
    assert dict(scenario.time) == {"stop": 8.0, "dt": 0.5}
    assert scenario.method == "rk4"
    assert dict(scenario.set) == {"k": 0.2, "inflow_rate": 3.0}
    # the middle file's schedule for k replaces the root's; x0's schedule is kept
    assert scenario.interventions == (Step("x0", 1.0, by=1.0), Step("k", 4.0, by=0.5))
    assert scenario.outputs == ("x", "k")
    assert scenario.uncertainty is not None
    assert (scenario.uncertainty.members, scenario.uncertainty.seed) == (4, 1)
    result = scenario.run()
    assert result.results.n_members == 4
    assert result.results.times[-1] == 8.0


def test_layering_twice_equals_layering_once(project: Path) -> None:
    base = Scenario(model="decay", set={"k": 0.1}, interventions=[SetTo("k", 0.2, 1.0)])
    child = Scenario(
        set={"k": 0.4}, interventions=[{"step": "k", "by": 1, "at": 2}], time={"stop": 5}
    )
    assert base.layered(child).layered(child) == base.layered(child)


# -- Python API --------------------------------------------------------------------------------


def test_scenario_built_in_code_runs_and_changes_one_parameter(project: Path) -> None:
    scenario = Scenario(model=project / "models" / "decay", set={"k": 0.3})
    first = scenario.run()
    second = scenario.with_set(k=0.6).run()
    expected = ps.simulate(model_of(project), {"k": 0.6})
    np.testing.assert_array_equal(second.results.values, expected.values)
    assert first.results.values[-1, 0, 0] > second.results.values[-1, 0, 0]
    assert dict(scenario.set) == {"k": 0.3}  # unchanged: with_* returns a copy


def test_with_intervention_time_method_outputs_and_uncertainty(project: Path) -> None:
    scenario = (
        Scenario(model=project / "models" / "decay")
        .with_intervention(
            Pulse("k", 0.1, 1.0, 1.0), {"series": "inflow_rate", "points": [[0, 1], [10, 2]]}
        )
        .with_time(stop=5)
        .with_method("rk4")
        .with_outputs("x", "inflow_rate")
        .with_uncertainty(members=3, seed=0, sampling="random")
    )
    result = scenario.run()
    assert result.results.names == ("x", "inflow_rate")
    assert result.results.n_members == 3
    assert result.results.method == "rk4"
    np.testing.assert_allclose(result["inflow_rate"].loc[5.0].to_numpy(), [1.5] * 3)


def test_a_model_object_can_be_the_model(project: Path) -> None:
    model = model_of(project)
    result = Scenario(model=model, interventions=[Series("k", ((0.0, 0.1),))]).run()
    assert set(result["k"]) == {0.1}


def test_to_document_round_trips(project: Path) -> None:
    scenario = Scenario(
        model="decay",
        name="x",
        time={"stop": 3},
        method="rk4",
        set={"k": 0.2},
        interventions=[Ramp("k", 1.0, 0.0, 2.0)],
        uncertainty=Uncertainty(10, "sobol", 3, {"k": None}),
        outputs=("x",),
    )
    again = Scenario(
        **{("name" if k == "scenario" else k): v for k, v in scenario.to_document().items()}
    )
    assert again == scenario


def test_compare_reports_differences_against_the_first(project: Path) -> None:
    base = Scenario(model=project / "models" / "decay", name="base", outputs=["x"])
    faster = base.with_set(k=0.8).with_name("faster")
    comparison = ps.compare(base, faster, at=[2, 5])
    table = comparison.table()
    assert table["time"].tolist() == [2.0, 5.0, 10.0, 2.0, 5.0, 10.0]
    first = ps.simulate(model_of(project))["x"]
    second = ps.simulate(model_of(project), {"k": 0.8})["x"]
    np.testing.assert_allclose(table["value"].tolist()[3:], second.loc[[2.0, 5.0, 10.0]])
    np.testing.assert_allclose(
        table["difference"].tolist()[3:], (second - first).loc[[2.0, 5.0, 10.0]]
    )
    assert "faster" in comparison.summary()


def test_compare_rejects_times_outside_the_runs(project: Path) -> None:
    base = Scenario(model=project / "models" / "decay")
    with pytest.raises(ScenarioError, match=r"at: time 50 is outside the runs"):
        ps.compare(base, at=[50])
    with pytest.raises(ScenarioError, match=r"variables: 'xx' is not recorded.*Did you mean 'x'"):
        ps.compare(base, variables=["xx"])


# -- recognising scenario files ----------------------------------------------------------------


def test_scenario_documents_are_told_from_models(project: Path) -> None:
    assert is_scenario_document({"scenario": "a"})
    assert is_scenario_document({"extends": "a"})
    assert is_scenario_document({"model": "sir"})
    assert not is_scenario_document({"model": "sir", "stocks": {"x": 1}})
    assert not is_scenario_document(["model"])
    assert is_scenario_file(write(project, "a", "model: decay\n"))
    assert not is_scenario_file(project / "models" / "decay" / "model.yaml")


# -- the schema --------------------------------------------------------------------------------


def test_schema_lists_every_key_and_accepts_the_examples() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json_schema()
    assert set(schema["properties"]) == set(TOP_KEYS)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    examples = sorted((ROOT / "scenarios").glob("*/*.yaml"))
    assert len(examples) >= 6
    import yaml

    for path in examples:
        errors = list(validator.iter_errors(yaml.safe_load(path.read_text())))
        assert not errors, (path, errors[0].message if errors else "")
    assert not validator.is_valid({"model": "sir", "interventons": []})
    assert not validator.is_valid({"model": "sir", "interventions": [{"set": "k", "to": 1}]})
    assert not validator.is_valid({"model": "sir", "set": {"k": "2 * 3"}})


def test_schema_with_model_lists_parameters() -> None:
    schema = json_schema(("a", "b"))
    assert schema["properties"]["set"]["propertyNames"] == {"enum": ["a", "b"]}
    json.dumps(schema)  # plain JSON


def test_examples_show_every_key_and_every_intervention_and_distribution() -> None:
    import yaml

    documents = [yaml.safe_load(p.read_text()) for p in (ROOT / "scenarios").glob("*/*.yaml")]
    keys = {key for d in documents for key in d}
    assert keys == set(TOP_KEYS)
    kinds = {
        next(k for k in i if k in ("set", "step", "ramp", "pulse", "series"))
        for d in documents
        for i in d.get("interventions", [])
    }
    assert kinds == {"set", "step", "ramp", "pulse", "series"}
    distributions = {
        (v or {}).get("distribution", "model range")
        for d in documents
        for v in d.get("uncertainty", {}).get("parameters", {}).values()
    }
    assert distributions == {
        "uniform",
        "normal",
        "triangular",
        "lognormal",
        "beta",
        "discrete",
        "model range",
    }


@pytest.mark.parametrize(
    "path", sorted((ROOT / "scenarios").glob("*/*.yaml")), ids=lambda p: f"{p.parent.name}/{p.stem}"
)
def test_example_scenarios_load(path: Path) -> None:
    scenario = load_scenario(path)
    scenario.check()


def test_a_scenario_file_is_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # The reader parses each value once and builds the Scenario from the parsed values;
    # layering and the with_* copies never parse them again.
    from pssc_sim.scenario import fields, reader

    seen: list[object] = []
    parse_culture = fields.parse_culture

    def counting(raw: object, where: fields.Where) -> float:
        seen.append(raw)
        return parse_culture(raw, where)

    monkeypatch.setitem(reader._PARSERS, "culture", counting)
    monkeypatch.setattr(fields, "parse_culture", counting)
    root = Path(__file__).resolve().parent.parent
    scenario = load_scenario(root / "scenarios" / "ambulance" / "eight-minute-blame.yaml")
    assert scenario.culture == 0.9
    assert seen == [0.9]
    assert scenario.with_name("again").with_set().culture == 0.9
    assert seen == [0.9]
