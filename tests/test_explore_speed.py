"""What keeps the explorer quick, without a browser: runs shared between sessions and moves by a
cache keyed by everything that decides them (the run without targets kept while only a target
moves), only changed columns sent to the page, chart ranges held by the server, and the
compiled loop built in the background when the server starts."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pssc_sim.explore import compute as compute_module
from pssc_sim.explore.compute import RunCache, compute, scenario_for
from pssc_sim.explore.controls import CULTURE, UNCERTAINTY, Control, controls_for, defaults
from pssc_sim.scenario import Scenario, load_scenario

ROOT = Path(__file__).resolve().parent.parent
SMOKING = ROOT / "scenarios" / "smoking" / "quit-count-target.yaml"

pytest.importorskip("panel", reason="the explorer needs the explore extra")


@pytest.fixture(scope="module")
def smoking() -> Scenario:
    return load_scenario(SMOKING)


@pytest.fixture(scope="module")
def controls(smoking: Scenario) -> tuple[Control, ...]:
    return controls_for(smoking)


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[Scenario]:
    """The scenarios actually run (not taken from the cache), with a fresh cache."""
    ran: list[Scenario] = []
    real = compute_module.run

    def counted(scenario: Scenario, **options: Any) -> Any:
        ran.append(scenario)
        return real(scenario, **options)

    monkeypatch.setattr(compute_module, "run", counted)
    monkeypatch.setattr(compute_module, "RUNS", RunCache())
    return ran


def level_key(smoking: Scenario) -> str:
    return f"target.{smoking.targets[0].measure}.level"


# -- the cache of runs ------------------------------------------------------------------------


def test_the_cache_drops_the_least_recently_used_within_its_budgets() -> None:
    cache = RunCache(max_bytes=100, max_entries=3)
    for key in "abc":
        cache.put(key, key.upper(), 10)
    assert cache.get("a") == "A"  # now the most recently used
    cache.put("d", "D", 10)
    assert cache.get("b") is None
    assert [cache.get(k) for k in "acd"] == ["A", "C", "D"]
    cache.put("e", "E", 95)  # the byte budget drops every older entry
    assert len(cache) == 1
    assert cache.get("e") == "E"
    cache.put("f", "F", 101)  # larger than the whole budget: not kept
    assert cache.get("f") is None
    assert cache.get("e") == "E"
    assert cache.hits > 0
    assert cache.misses > 0


def test_moving_a_slider_back_runs_nothing(
    smoking: Scenario, controls: tuple[Control, ...], runs: list[Scenario]
) -> None:
    state = defaults(controls)
    first = compute(scenario_for(smoking, controls, {**state, CULTURE: 0.3}))
    compute(scenario_for(smoking, controls, {**state, CULTURE: 0.4}))
    ran = len(runs)
    again = compute(scenario_for(smoking, controls, {**state, CULTURE: 0.3}))
    assert len(runs) == ran
    assert again.result is first.result
    assert again.reference is first.reference
    assert again.card is first.card  # nor scores anything


def test_a_target_control_reruns_the_scenario_but_not_the_run_without_targets(
    smoking: Scenario,
    controls: tuple[Control, ...],
    runs: list[Scenario],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state = {**defaults(controls), CULTURE: 0.7}
    measure = smoking.targets[0].measure
    first = compute(scenario_for(smoking, controls, state))
    assert len(runs) == 2  # the scenario and the same without targets
    moves = (
        (level_key(smoking), state[level_key(smoking)] * 1.5),
        (f"target.{measure}.severity", 2.5),
    )
    for key, value in moves:
        scenario = scenario_for(smoking, controls, {**state, key: value})
        moved = compute(scenario)
        assert runs[-1].targets  # only the targeted scenario ran again
        assert moved.reference is first.reference
        # and the kept run is the one a fresh computation gives
        shared = compute_module.RUNS
        monkeypatch.setattr(compute_module, "RUNS", RunCache())
        fresh = compute(scenario)
        monkeypatch.setattr(compute_module, "RUNS", shared)
        assert moved.reference is not None
        assert fresh.reference is not None
        np.testing.assert_array_equal(
            moved.reference.results.values, fresh.reference.results.values
        )
        np.testing.assert_array_equal(moved.result.results.values, fresh.result.results.values)
    assert len(runs) == 2 + 2 * 3


def test_every_other_control_reruns_the_run_without_targets(
    smoking: Scenario, controls: tuple[Control, ...], runs: list[Scenario]
) -> None:
    state = {**defaults(controls), CULTURE: 0.7}
    first = compute(scenario_for(smoking, controls, state))
    parameter = next(c for c in controls if c.key in smoking.load_model().parameter_names)
    for key, value in ((CULTURE, 0.9), (parameter.key, parameter.low)):
        before = len(runs)
        moved = compute(scenario_for(smoking, controls, {**state, key: value}))
        assert len(runs) == before + 2
        assert moved.reference is not first.reference
        assert not any(t for t in runs[-1].targets)  # the run without targets ran again


def test_the_ensemble_switch_keeps_the_run_without_targets(
    smoking: Scenario, controls: tuple[Control, ...], runs: list[Scenario]
) -> None:
    state = {**defaults(controls), CULTURE: 0.6}
    one = compute(scenario_for(smoking, controls, state))
    many = compute(scenario_for(smoking, controls, {**state, UNCERTAINTY: 1.0}))
    assert many.result.is_ensemble
    assert many.reference is one.reference
    assert len(runs) == 3


def test_an_ensemble_keeps_what_the_page_draws_and_the_scorecard_reads(
    smoking: Scenario, controls: tuple[Control, ...], runs: list[Scenario]
) -> None:
    state = {**defaults(controls), CULTURE: 0.6, UNCERTAINTY: 1.0}
    scenario = scenario_for(smoking, controls, state)
    many = compute(scenario, ["prevalence"])
    model = smoking.load_model()
    wanted = compute_module.recorded(model, scenario, ["prevalence"])
    assert set(many.result.results.names) == set(wanted)
    whole = compute_module.run(scenario, record=wanted).results  # every output recorded
    assert len(whole.names) > len(wanted)
    for name in wanted:  # the same members, to the bit
        np.testing.assert_array_equal(many.result[name].to_numpy(), whole[name].to_numpy())
    ran = len(runs)
    moved = compute(scenario_for(smoking, controls, {**state, CULTURE: 0.7}), ["prevalence"])
    again = compute(scenario, ["prevalence"])
    assert moved.result.results.n_members == many.result.results.n_members
    assert len(runs) == ran + 2  # the move back ran nothing
    assert again.result is many.result


def test_an_ensemble_without_a_seed_is_never_taken_from_the_cache(
    smoking: Scenario, runs: list[Scenario]
) -> None:
    unseeded = smoking.without_targets().with_uncertainty(members=3)
    assert unseeded.uncertainty is not None
    assert unseeded.uncertainty.seed is None
    compute(unseeded)
    compute(unseeded)
    assert len(runs) == 2


# -- the page ---------------------------------------------------------------------------------


def test_held_range_holds_the_data_and_stays_while_they_fill_it() -> None:
    from pssc_sim.explore.app import SNUG, held_range

    fitted = held_range((None, None), 2.0, 4.0)
    assert fitted[0] < 2.0
    assert fitted[1] > 4.0
    assert held_range(fitted, 2.1, 3.9) == fitted
    assert held_range(fitted, 2.0, 5.0) != fitted
    narrow = (3.0, 3.0 + SNUG * (fitted[1] - fitted[0]) * 0.9)
    assert held_range(fitted, *narrow) != fitted
    assert held_range(fitted, math.nan, math.nan) == fitted
    assert held_range((None, None), math.nan, math.nan) == (0.0, 1.0)


@given(
    start=st.floats(-1e6, 1e6),
    width=st.floats(0, 1e6),
    low=st.floats(-1e6, 1e6),
    span=st.floats(0, 1e6),
)
def test_a_held_range_always_holds_its_data(
    start: float, width: float, low: float, span: float
) -> None:
    from pssc_sim.explore.app import held_range

    high = low + span
    new_start, new_end = held_range((start, start + width), low, high)
    assert new_start <= low
    assert high <= new_end
    assert new_start < new_end


def page_events(explorer: Any) -> list[Any]:
    """The events the explorer's document sends the browser from now on."""
    from bokeh.document import Document

    document = Document()
    document.add_root(explorer.layout.get_root(document))
    events: list[Any] = []
    document.on_change(events.append)
    return events


def test_a_move_sends_only_the_columns_that_changed_and_keeps_the_charts(
    smoking: Scenario,
) -> None:
    from bokeh.document.events import ColumnDataChangedEvent

    from pssc_sim.explore.app import LEDGERS, Explorer

    explorer = Explorer(smoking, {"culture": "0.5"})
    explorer.views.active = LEDGERS
    charts = (explorer.output_pane.object, explorer.ledger_pane.object)
    events = page_events(explorer)
    level = level_key(smoking)
    explorer.set(level, explorer.state[level] * 1.2)
    sent = [e for e in events if isinstance(e, ColumnDataChangedEvent)]
    assert sent
    columns = {c for e in sent for c in (e.cols or [])}
    assert "t" not in columns  # the times did not change
    assert not any(c.endswith(":reference") for c in columns)  # nor the run without targets
    assert (explorer.output_pane.object, explorer.ledger_pane.object) == charts
    # what the page holds is what a full redraw would send
    from pssc_sim.explore.compute import ledger_columns

    for name, values in ledger_columns(explorer.runs).items():  # type: ignore[arg-type]
        np.testing.assert_array_equal(explorer.ledger_source.data[name], values)


def test_the_ledgers_are_drawn_when_their_tab_is_shown_and_not_before(smoking: Scenario) -> None:
    from pssc_sim.explore.app import LEDGERS, Explorer, drawn, extent
    from pssc_sim.explore.compute import ledger_columns

    explorer = Explorer(smoking, {"culture": "0.5"})
    assert explorer.ledger_pane.object is None  # no ledger chart made while it is hidden
    explorer.views.active = LEDGERS
    made = explorer.ledger_pane.object
    assert made is not None
    explorer.views.active = 0
    events = page_events(explorer)
    explorer.set(CULTURE, 0.9)
    changed = [getattr(e, "model", None) for e in events]
    assert explorer.output_source in changed
    assert explorer.ledger_source not in changed  # hidden: nothing sent
    explorer.views.active = LEDGERS  # shown: brought up to the run of culture 0.9
    assert explorer.ledger_pane.object is made
    assert explorer.ledger_source in [getattr(e, "model", None) for e in events]
    for name, values in ledger_columns(explorer.runs).items():  # type: ignore[arg-type]
        np.testing.assert_array_equal(explorer.ledger_source.data[name], values)
    for measure, y_range in explorer._y_ledger.items():
        low, high = extent(drawn(explorer.ledger_source, measure))
        assert y_range.start <= low
        assert high <= y_range.end


def test_the_parameter_sliders_are_made_when_their_card_is_opened(smoking: Scenario) -> None:
    import panel as pn
    from param.parameterized import edit_constant

    from pssc_sim.explore.app import Explorer
    from pssc_sim.explore.controls import Group

    explorer = Explorer(smoking, {})
    parameters = [c for c in explorer.controls if c.group is Group.PARAMETERS]
    assert parameters
    assert not any(c.key in explorer.widgets for c in parameters)
    first = parameters[0]
    value = first.clamp(first.low + 0.25 * (first.high - first.low))
    explorer.set(first.key, value)
    explorer.reset()  # with its slider not made yet
    explorer.set(first.key, value)
    card = next(c for c in explorer.layout.select(pn.Card) if c.title == Group.PARAMETERS.value)
    card.collapsed = False
    assert all(c.key in explorer.widgets for c in parameters)
    assert explorer.widgets[first.key].value == value  # made at the setting of the page
    with edit_constant(explorer.widgets[first.key]):  # as a release of the slider sends it
        explorer.widgets[first.key].value_throttled = first.high
    assert explorer.state[first.key] == first.high


def test_every_chart_range_holds_what_it_draws_after_each_move(smoking: Scenario) -> None:
    from pssc_sim.explore.app import LEDGERS, Explorer, drawn, extent

    explorer = Explorer(smoking, {})
    explorer.views.active = LEDGERS
    for culture in (0.0, 1.0, 0.5):
        explorer.set(CULTURE, culture)
        for source, ranges in (
            (explorer.output_source, explorer._y_output),
            (explorer.ledger_source, explorer._y_ledger),
        ):
            assert ranges
            for prefix, y_range in ranges.items():
                low, high = extent(drawn(source, prefix))
                assert y_range.start <= low
                assert high <= y_range.end


def test_a_zoomed_chart_keeps_its_view_and_resets_to_the_data(smoking: Scenario) -> None:
    from pssc_sim.explore.app import Explorer, drawn, extent

    explorer = Explorer(smoking, {"culture": "0.0"})
    prefix, y_range = next(iter(explorer._y_output.items()))
    zoom = (y_range.start + 1e-3, y_range.start + 2e-3)
    y_range.update(start=zoom[0], end=zoom[1])  # as the browser's zoom tool sends it
    explorer.set(CULTURE, 1.0)
    assert (y_range.start, y_range.end) == zoom
    low, high = extent(drawn(explorer.output_source, prefix))
    assert y_range.reset_start <= low
    assert high <= y_range.reset_end
    y_range.update(start=y_range.reset_start, end=y_range.reset_end)  # the reset tool
    explorer.set(CULTURE, 0.0)
    low, high = extent(drawn(explorer.output_source, prefix))
    assert y_range.start <= low
    assert high <= y_range.end


def test_one_run_sends_no_band(smoking: Scenario) -> None:
    from pssc_sim.explore.app import Explorer

    explorer = Explorer(smoking, {})
    assert not any(k.endswith((":low", ":high")) for k in explorer.output_source.data)
    explorer.set(UNCERTAINTY, 1.0)
    shown = explorer.outputs.value[0]
    low, high = (
        explorer.output_source.data[f"{shown}:low"],
        explorer.output_source.data[f"{shown}:high"],
    )
    assert np.all(low <= high)
    assert np.any(low < high)


# -- the server -------------------------------------------------------------------------------


def test_warm_up_loads_the_stored_loop_the_explorer_runs_with(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("numba", reason="the compiled loop needs the fast extra")
    from pssc_sim.explore.app import Explorer
    from pssc_sim.explore.compute import compiled_run
    from pssc_sim.explore.serve import first_run, warm_up
    from pssc_sim.integrate.simulate import compiled_for
    from pssc_sim.scenario import runner

    teacup = Scenario(model=ROOT / "models" / "teacup", name="teacup")
    start, outputs = first_run(teacup)
    compute(start, outputs, backend="numba")  # run compiled once: in the cache folder
    compiled_for.cache_clear()  # a new server: nothing built in the process
    assert not compiled_run(start, outputs).has_loop
    warm_up([teacup]).join(timeout=600)
    used: list[Any] = []
    real = runner.compiled_for

    def spied(*args: Any) -> Any:
        used.append(real(*args))
        return used[-1]

    monkeypatch.setattr(runner, "compiled_for", spied)
    monkeypatch.setattr(compute_module, "RUNS", RunCache())
    Explorer(teacup, {})
    assert used
    assert all(compiled.has_loop for compiled in used)


def test_a_failed_warm_up_is_silent_and_leaves_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    from pssc_sim.errors import ParameterError
    from pssc_sim.explore.serve import warm_up

    def refuse(*args: Any, **options: Any) -> Any:
        raise ParameterError("explore: the loop cannot be built (got a test)")

    monkeypatch.setattr(compute_module, "compiled_run", refuse)
    monkeypatch.setattr(compute_module, "compute", refuse)
    thread = warm_up([Scenario(model=ROOT / "models" / "teacup", name="teacup")])
    thread.join(timeout=60)
    assert not thread.is_alive()


def test_warm_up_compiles_a_slow_model_in_a_child_process_and_loads_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pytest.importorskip("numba", reason="the compiled loop needs the fast extra")
    import os

    from pssc_sim.compile.cache import is_stored
    from pssc_sim.explore import serve
    from pssc_sim.explore.compute import compiled_run
    from pssc_sim.integrate.simulate import compiled_for

    monkeypatch.setenv("PSSC_CACHE_DIR", str(tmp_path))  # an empty folder: nothing stored
    teacup = Scenario(model=ROOT / "models" / "teacup", name="teacup")
    start, outputs = serve.first_run(teacup)
    compiled_for.cache_clear()
    key = compiled_run(start, outputs).loop_key
    assert not is_stored(key)
    assert not serve.worth_compiling(start, outputs)  # teacup runs quickly on numpy
    serve.warm_up([teacup]).join(timeout=600)
    assert not is_stored(key)  # so nothing was compiled
    monkeypatch.setattr(serve, "worth_compiling", lambda *_: True)
    monkeypatch.setattr(serve, "COMPILERS", [])
    serve.warm_up([teacup]).join(timeout=600)
    assert [child.returncode for child in serve.COMPILERS] == [0]
    assert serve.COMPILERS[0].pid != os.getpid()
    assert is_stored(key)  # compiled by the child into the folder
    assert compiled_run(start, outputs).has_loop  # and loaded here


def test_a_move_slow_on_numpy_is_worth_compiling() -> None:
    from pssc_sim.explore import serve
    from pssc_sim.explore.compute import ENSEMBLE_MEMBERS, compiled_run
    from pssc_sim.integrate.backends import numpy_seconds
    from pssc_sim.integrate.grid import Grid
    from pssc_sim.integrate.methods import METHODS
    from pssc_sim.scenario.reader import scenario_time

    teacup = Scenario(model=ROOT / "models" / "teacup", name="teacup")
    for scenario in (teacup, load_scenario(SMOKING)):
        start, outputs = serve.first_run(scenario)
        compiled = compiled_run(start, outputs)
        grid = Grid.from_time(scenario_time(start, compiled.model))
        tableau = METHODS[start.method or "euler"].tableau
        assert tableau is not None
        slowest = max(numpy_seconds(compiled, grid, tableau, n) for n in (1, ENSEMBLE_MEMBERS))
        assert serve.worth_compiling(start, outputs) == (slowest > serve.QUICK_SECONDS)
        stop = scenario_time(start, compiled.model).stop
        longer = start.with_time(stop=stop * 40)
        assert serve.worth_compiling(longer, outputs) >= serve.worth_compiling(start, outputs)
        assert serve.worth_compiling(longer, outputs)  # forty times as many steps
