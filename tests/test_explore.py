"""The explorer without a browser: its controls, the URL state (names checked, values clamped,
nothing evaluated), control values to scenarios, "save as scenario" repeated exactly by the
scenario reader and by ``pssc run``, and one session's page object (a failed run, pins)."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from urllib.parse import parse_qs

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pssc_sim.cli import main
from pssc_sim.explore.compute import (
    ENSEMBLE_MEMBERS,
    compute,
    ledger_columns,
    output_columns,
    scenario_for,
    scenario_yaml,
)
from pssc_sim.explore.controls import (
    CULTURE,
    UNCERTAINTY,
    Control,
    Group,
    Kind,
    controls_for,
    defaults,
    read_query,
    write_query,
)
from pssc_sim.scenario import Scenario, load_scenario

ROOT = Path(__file__).resolve().parent.parent
SMOKING = ROOT / "scenarios" / "smoking" / "quit-count-target.yaml"
PREVENTION = ROOT / "scenarios" / "smoking" / "prevention-shift.yaml"

pytest.importorskip("panel", reason="the explorer needs the explore extra")


@pytest.fixture(scope="module")
def smoking() -> Scenario:
    return load_scenario(SMOKING)


@pytest.fixture(scope="module")
def controls(smoking: Scenario) -> tuple[Control, ...]:
    return controls_for(smoking)


def number_controls(controls: tuple[Control, ...]) -> list[Control]:
    return [c for c in controls if c.kind is Kind.NUMBER]


# -- controls ---------------------------------------------------------------------------------


def test_every_ranged_parameter_has_a_slider_within_its_range(
    smoking: Scenario, controls: tuple[Control, ...]
) -> None:
    model = smoking.load_model()
    by_key = {c.key: c for c in controls}
    ranged = [p for p in model.parameters if p.range is not None and not p.dims and not p.hidden]
    assert ranged
    for parameter in ranged:
        control = by_key[parameter.name]
        assert control.low <= parameter.range[0]
        assert control.high >= parameter.range[1]
        assert control.low <= control.default <= control.high
        assert control.units == parameter.meta.units
        assert parameter.meta.source in control.tooltip
    unranged = {p.name for p in model.parameters if p.range is None}
    assert not unranged & {c.key for c in controls if c.group is Group.PARAMETERS}


def test_targets_culture_interventions_and_uncertainty_have_controls() -> None:
    scenario = load_scenario(PREVENTION)
    controls = controls_for(scenario)
    keys = [c.key for c in controls]
    assert CULTURE in keys
    assert UNCERTAINTY in keys
    assert [k for k in keys if k.startswith("intervention.")] == [
        f"intervention.{i}" for i in range(len(scenario.interventions))
    ]
    for target in load_scenario(SMOKING).targets:
        found = {c.key: c for c in controls_for(load_scenario(SMOKING))}
        level = found[f"target.{target.measure}.level"]
        assert level.low <= target.value <= level.high
        assert found[f"target.{target.measure}.by"].default == target.by


# -- the URL query ----------------------------------------------------------------------------


def test_unknown_names_are_ignored_and_values_clamped(controls: tuple[Control, ...]) -> None:
    state, notes = read_query(
        controls, {"culture": "7.5", "bogus": "1", "__class__": "2", "set.x": "1"}
    )
    assert state == {**defaults(controls), CULTURE: 1.0}
    assert len(notes) == 4


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('touch canary')",
        "1+1",
        "nan",
        "inf",
        "-inf",
        "",
        "0x10",
        "[1]",
        "1e999",
    ],
)
def test_values_that_are_not_finite_numbers_are_ignored_never_evaluated(
    controls: tuple[Control, ...], text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    state, notes = read_query(controls, {CULTURE: text})
    assert state == defaults(controls)
    assert notes == [f"culture: {text!r} is not a number: ignored"]
    assert not (tmp_path / "canary").exists()


def test_switches_read_as_on_or_off(controls: tuple[Control, ...]) -> None:
    state, _ = read_query(controls, {UNCERTAINTY: "0.7"})
    assert state[UNCERTAINTY] == 1.0
    state, _ = read_query(controls, {UNCERTAINTY: "-3"})
    assert state[UNCERTAINTY] == 0.0


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_a_query_written_reads_back_exactly(
    controls: tuple[Control, ...], data: st.DataObject
) -> None:
    chosen = data.draw(
        st.lists(st.sampled_from(number_controls(controls)), unique=True, max_size=6)
    )
    state = defaults(controls)
    for control in chosen:
        state[control.key] = data.draw(st.floats(control.low, control.high))
    query = parse_qs(write_query(controls, state))
    again, notes = read_query(controls, query)
    assert again == state
    assert notes == []


def test_only_changed_values_are_written(controls: tuple[Control, ...]) -> None:
    assert write_query(controls, defaults(controls)) == ""


# -- control values to scenarios and runs -----------------------------------------------------


def test_untouched_controls_repeat_the_scenario(
    smoking: Scenario, controls: tuple[Control, ...]
) -> None:
    scenario = scenario_for(smoking, controls, defaults(controls))
    assert scenario.to_document() == smoking.to_document()


def test_a_parameter_moved_is_set_and_stays_fixed_in_the_ensemble(
    smoking: Scenario, controls: tuple[Control, ...]
) -> None:
    parameter = next(c for c in controls if c.group is Group.PARAMETERS)
    state = {**defaults(controls), parameter.key: parameter.high, UNCERTAINTY: 1.0}
    scenario = scenario_for(smoking, controls, state)
    assert scenario.set[parameter.key] == parameter.high
    result = compute(scenario, ["prevalence"]).result
    assert result.results.n_members == ENSEMBLE_MEMBERS
    ranged = {p.name for p in smoking.load_model().parameters if p.range or p.distribution}
    assert set(result.samples) == ranged - {parameter.key}
    assert all(np.ptp(values) > 0 for values in result.samples.values())


def test_switching_an_intervention_off_removes_it() -> None:
    scenario = load_scenario(PREVENTION)
    controls = controls_for(scenario)
    state = {**defaults(controls), "intervention.0": 0.0}
    changed = scenario_for(scenario, controls, state)
    assert changed.interventions == scenario.interventions[1:]


def test_target_controls_move_the_target(smoking: Scenario, controls: tuple[Control, ...]) -> None:
    target = smoking.targets[0]
    key = f"target.{target.measure}"
    state = {
        **defaults(controls),
        f"{key}.level": 1000.0,
        f"{key}.by": 2025.0,
        f"{key}.severity": 0.5,
    }
    moved = scenario_for(smoking, controls, state).targets[0]
    assert (moved.value, moved.by, moved.severity) == (1000.0, 2025.0, 0.5)
    assert compute(scenario_for(smoking, controls, state)).card.row(target.measure).at == 2025.0


def test_culture_moves_the_gap_between_the_ledgers(
    smoking: Scenario, controls: tuple[Control, ...]
) -> None:
    measure = smoking.targets[0].measure
    gaps = [
        compute(scenario_for(smoking, controls, {**defaults(controls), CULTURE: c}))
        .card.row(measure)
        .gap
        for c in (0.1, 0.9)
    ]
    assert gaps[0] != gaps[1]


def test_plotted_columns_are_the_runs(smoking: Scenario, controls: tuple[Control, ...]) -> None:
    runs = compute(scenario_for(smoking, controls, defaults(controls)), ["prevalence"])
    outputs, ledgers = output_columns(runs, ["prevalence"]), ledger_columns(runs)
    assert outputs["prevalence"] == runs.result["prevalence"].tolist()
    assert outputs["prevalence:low"] == outputs["prevalence:high"] == outputs["prevalence"]
    assert runs.reference is not None
    assert outputs["prevalence:reference"] == runs.reference["prevalence"].tolist()
    for measure in runs.result.model.measures:
        assert ledgers[f"{measure.name}:reported"] == runs.result[measure.reported_column].tolist()


# -- save as scenario -------------------------------------------------------------------------


@pytest.mark.parametrize("ensemble", [False, True])
def test_a_saved_scenario_repeats_the_run_exactly(
    smoking: Scenario, controls: tuple[Control, ...], tmp_path: Path, ensemble: bool
) -> None:
    parameter = next(c for c in controls if c.group is Group.PARAMETERS)
    state = {
        **defaults(controls),
        CULTURE: 0.83,
        parameter.key: parameter.low,
        f"target.{smoking.targets[0].measure}.level": 1234.5,
        UNCERTAINTY: float(ensemble),
    }
    scenario = scenario_for(smoking, controls, state)
    explored = compute(scenario).result.results
    path = tmp_path / "saved.yaml"
    path.write_text(scenario_yaml(scenario, "moved three controls"))
    again = load_scenario(path).run().results
    if not ensemble:  # an ensemble keeps what the page draws and the scorecard reads
        assert set(again.names) <= set(explored.names)
    shared = [name for name in again.names if name in explored.names]
    assert shared
    for name in shared:
        np.testing.assert_array_equal(
            again.values[:, again.index(name)], explored.values[:, explored.index(name)]
        )
    assert again.n_members == (ENSEMBLE_MEMBERS if ensemble else 1)


def test_pssc_run_repeats_a_saved_scenario(
    smoking: Scenario,
    controls: tuple[Control, ...],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    state = {**defaults(controls), CULTURE: 0.27}
    scenario = scenario_for(smoking, controls, state)
    explored = compute(scenario).result
    path = tmp_path / "saved.yaml"
    path.write_text(scenario_yaml(scenario))
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 0
    capsys.readouterr()
    with (tmp_path / "out" / "results.csv").open() as file:
        rows = list(csv.DictReader(file))  # numbers read with float(): exact
    names = [name for name in rows[0] if name != "time"]
    assert names
    for name in names:
        assert [float(row[name]) for row in rows] == explored[name].tolist()


# -- one session's page -----------------------------------------------------------------------

DIVERGING = """\
model: blowup
time: {start: 0, stop: 10, dt: 0.5}
parameters:
  k: {value: 0, range: [0, 10], units: 1/day, description: growth per unit, source: a test}
stocks:
  x: {initial: 1}
flows:
  growth: {to: x, rate: k * x * x}
"""


def test_a_failed_run_shows_a_message_and_keeps_the_last_charts(tmp_path: Path) -> None:
    from pssc_sim.explore.app import Explorer

    path = tmp_path / "model.yaml"
    path.write_text(DIVERGING)
    explorer = Explorer(Scenario(model=path, name="blowup"), {"k": "0.01"})
    good = explorer.runs
    assert good is not None
    assert not explorer.message.visible
    explorer.set("k", 10.0)
    assert explorer.message.visible
    assert explorer.message.alert_type == "danger"
    assert "This run failed" in explorer.message.object
    assert explorer.runs is good
    explorer.set("k", 0.02)
    assert not explorer.message.visible
    assert explorer.runs is not good


def test_a_link_with_unknown_names_says_what_it_ignored(smoking: Scenario) -> None:
    from pssc_sim.explore.app import Explorer

    explorer = Explorer(smoking, {"culture": [b"2"], "no_such": [b"1"]})
    assert explorer.state[CULTURE] == 1.0
    assert explorer.message.visible
    assert "no_such" in explorer.message.object


def test_pins_keep_at_most_four_runs_and_overlay_them(smoking: Scenario) -> None:
    from pssc_sim.explore.app import MAX_PINS, Explorer

    explorer = Explorer(smoking, {})
    for i in range(MAX_PINS + 1):
        explorer.set(CULTURE, 0.1 * (i + 1))
        explorer.pin(f"culture {i}")
    assert [p.name for p in explorer.pins] == [f"culture {i}" for i in range(1, MAX_PINS + 1)]
    data = explorer.output_source.data
    shown = explorer.outputs.value[0]
    np.testing.assert_array_equal(data[f"{shown}:pin{MAX_PINS - 1}"], data[shown])
    assert not np.array_equal(data[f"{shown}:pin0"], data[shown])
    explorer.clear_pins()
    assert not any(":pin" in k for k in explorer.output_source.data)


def test_the_download_is_the_current_scenario(smoking: Scenario, tmp_path: Path) -> None:
    from pssc_sim.explore.app import Explorer

    explorer = Explorer(smoking, {"culture": "0.3"})
    path = tmp_path / "download.yaml"
    path.write_text(explorer.download().read())
    saved, current = load_scenario(path).to_document(), explorer.scenario().to_document()
    for document in (saved, current):
        del document["model"], document["description"]
    assert saved == current
    assert saved["culture"] == 0.3


# -- the command line -------------------------------------------------------------------------


def test_explore_refuses_a_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explore", "no/such/scenario.yaml", "--no-browser"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("pssc: error: explore: no such scenario or model")


@pytest.mark.parametrize("port", ["0", "70000"])
def test_explore_refuses_a_bad_port(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explore", str(SMOKING), "--port", port, "--no-browser"]) == 2
    assert "--port: expected a port from 1 to 65535" in capsys.readouterr().err


def test_explore_refuses_a_port_in_use(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["explore", str(SMOKING), "--port", str(port), "--no-browser"]) == 2
    assert f"--port: 127.0.0.1:{port} is in use" in capsys.readouterr().err


def test_explore_warns_when_not_on_loopback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pssc_sim.explore import serve

    served: list[tuple[str, int, bool, str]] = []
    monkeypatch.setattr(
        serve,
        "serve",
        lambda scenario, *, port, host, show, demo, backend: served.append(
            (host, port, show, backend)
        ),
    )
    assert (
        main(["explore", str(SMOKING), "--host", "0.0.0.0", "--port", "8765", "--no-browser"]) == 0
    )
    assert (
        main(["explore", str(SMOKING), "--port", "8766", "--no-browser", "--backend", "numpy"]) == 0
    )
    err = capsys.readouterr().err
    assert err.count("warning: serving on 0.0.0.0") == 1
    assert served == [("0.0.0.0", 8765, False, "auto"), ("127.0.0.1", 8766, False, "numpy")]


def test_explore_refuses_numba_where_it_cannot_run_before_serving(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("numba", reason="the numba back end needs the fast extra")
    from pssc_sim.explore import serve

    monkeypatch.setattr(serve, "serve", lambda *args, **kwargs: pytest.fail("served"))
    model = tmp_path / "ranked.yaml"  # VECTOR RANK: an array operation the loop does not write
    model.write_text(
        "time: {stop: 2}\ndimensions: {g: [a, b]}\n"
        "stocks: {x: {dims: [g], initial: 1}}\n"
        "flows: {out: {from: x, rate: 0.1 * x}}\n"
        "auxiliaries: {r: {dims: [g], equation: 'VECTOR_RANK(x, 1)'}}\n"
    )
    assert main(["explore", str(model), "--backend", "numba", "--no-browser"]) == 2
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.startswith("pssc: error: backend: the numba back end cannot run this")
    assert "VECTOR RANK" in last


def test_every_run_of_a_session_uses_its_back_end(
    smoking: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pssc_sim.explore import app, teaching

    used: list[str] = []

    def recording(scenario: Scenario, outputs: list[str], backend: str) -> object:
        used.append(backend)
        return compute(scenario, outputs, "numpy")

    monkeypatch.setattr(app, "compute", recording)
    explorer = app.build(smoking, {}, backend="numba")
    explorer.set(CULTURE, 0.2)
    steps = teaching.demo_steps("gaming")
    teaching.Teaching(steps, {}, backend="numba").go(1)
    assert used
    assert set(used) == {"numba"}


def test_explore_takes_a_model_folder() -> None:
    from pssc_sim.explore.serve import load_source

    scenario = load_source(ROOT / "models" / "teacup")
    assert scenario.label == "teacup"
    assert math.isfinite(compute(scenario).result["teacup_temperature"].iloc[-1])


# -- teaching mode ----------------------------------------------------------------------------


def test_the_gaming_demo_steps_through_target_blame_learning_and_outcomes() -> None:
    from pssc_sim.explore.teaching import demo_steps
    from pssc_sim.report.demo import load_demo

    steps = demo_steps("gaming")
    cases = load_demo("gaming").cases
    assert len(steps) == 4 * len(cases)
    for i, case in enumerate(cases):
        target, blame, learning, outcomes = steps[4 * i : 4 * i + 4]
        assert target.scenario.culture is None
        assert target.scenario.targets == blame.scenario.targets
        assert blame.scenario.source == str(case.scenario("blame").path)
        assert learning.scenario.source == str(case.scenario("learning").path)
        assert outcomes.scenario.source == str(case.scenario("pss").path)
        assert all(step.text for step in (target, blame, learning, outcomes))


def test_teaching_opens_each_step_as_a_preset_with_free_controls() -> None:
    from pssc_sim.explore.teaching import Teaching, demo_steps

    steps = demo_steps("gaming")[-3:]  # the smoking case's blame, learning, outcome set
    teaching = Teaching(steps, {"step": [b"2"], "culture": [b"0.42"]})
    assert teaching.index == 1
    assert teaching.explorer is not None
    assert teaching.explorer.state[CULTURE] == 0.42
    teaching.go(teaching.index + 1)
    assert teaching.explorer.base is steps[2].scenario
    assert teaching.explorer.state[CULTURE] == steps[2].scenario.culture
    teaching.go(99)
    assert teaching.index == len(steps) - 1
    teaching.explorer.set(CULTURE, 0.9)
    assert teaching.explorer.scenario().culture == 0.9
    assert "Step 3 of 3" in teaching.heading.object


def test_explore_wants_a_scenario_or_a_demo(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explore", "--no-browser"]) == 2
    assert "give a scenario or model, or --demo NAME, not neither" in capsys.readouterr().err
    assert main(["explore", str(SMOKING), "--demo", "gaming", "--no-browser"]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["explore", "--demo", "gamng", "--no-browser"]) == 2
    assert "Did you mean 'gaming'?" in capsys.readouterr().err


def test_the_strategy_map_is_drawn_when_opened_and_follows_the_controls(smoking: Scenario) -> None:
    from pssc_sim.explore.app import Explorer
    from pssc_sim.report.strategy_drawing import map_html

    explorer = Explorer(smoking, {})
    assert explorer.map_card.visible
    assert explorer.map_pane.object == ""
    explorer.map_card.collapsed = False
    assert explorer.runs is not None
    first = explorer.map_pane.object
    assert first == map_html(explorer.runs.result, explorer.runs.card)
    explorer.set(CULTURE, 0.1 if explorer.state[CULTURE] > 0.5 else 0.9)
    assert explorer.map_pane.object == map_html(explorer.runs.result, explorer.runs.card)
    assert explorer.map_pane.object != first
