"""The PSS strategy map: arrows exactly where a measure-free chain of links joins two measures,
signed by the product of the link signs; feedback down the map kept; boxes that never overlap at
30 measures; the JSON shape; risks exactly where the true value ends worse than without targets;
and the command's refusals of bad input."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pssc_sim.analysis.dominance import dominance_outputs
from pssc_sim.cli import main
from pssc_sim.errors import ModelError, ParameterError
from pssc_sim.ir.causal import CausalGraph, Link, NodeKind, Polarity, causal_graph
from pssc_sim.parse import load_model
from pssc_sim.parse.cld_file import load_cld_file, load_cld_perspectives
from pssc_sim.report.strategy_drawing import box_text, check_format, draw_strategy_map
from pssc_sim.report.strategy_map import diagram_map, is_money, measure_links, model_map
from pssc_sim.scenario import Scenario

ROOT = Path(__file__).resolve().parent.parent

HAND = """\
model: hand
time: {start: 0, stop: 4, dt: 0.25}
parameters: {k: 0.5, base: 2}
stocks:
  skill: 1
flows:
  learning: {to: skill, rate: k * result}
auxiliaries:
  effort: skill * base
  throughput: 10 - effort
  result: throughput * 2
  spare: 1 / result
measures:
  skill: {perspective: capability, better: higher}
  throughput: {perspective: process, better: higher}
  result: {perspective: outcome, better: higher}
  spare: {perspective: outcome, better: higher, units: GBP}
"""


@pytest.fixture
def hand(tmp_path: Path) -> Path:
    path = tmp_path / "hand.yaml"
    path.write_text(HAND)
    return path


def _measure_free_path(graph: CausalGraph, a: str, b: str, measures: set[str]) -> bool:
    digraph = nx.DiGraph((lk.cause, lk.effect) for lk in graph.links)
    digraph.remove_nodes_from(measures - {a, b})
    digraph.remove_edges_from(
        [(u, a) for u in list(digraph.predecessors(a))] if a in digraph else []
    )
    return a in digraph and b in digraph and nx.has_path(digraph, a, b)


def test_an_arrow_exists_exactly_where_a_measure_free_path_does(hand: Path) -> None:
    model = load_model(hand)
    graph = causal_graph(model)
    strategy = model_map(model, graph)
    names = {m.name for m in model.measures}
    arrows = {(lk.cause, lk.effect) for lk in strategy.links}
    for a in names:
        for b in names - {a}:
            assert ((a, b) in arrows) == _measure_free_path(graph, a, b, names), (a, b)
    assert ("skill", "result") not in arrows  # only through the measure throughput


def test_polarity_is_the_product_of_the_link_signs(hand: Path) -> None:
    model = load_model(hand)
    graph = causal_graph(model)
    for link in model_map(model, graph).links:
        chain = [link.cause, *link.via, link.effect]
        product = Polarity.POSITIVE
        for cause, effect in itertools.pairwise(chain):
            found = graph.link(cause, effect)
            assert found is not None
            product = product * found.polarity
        assert link.polarity is product


def test_chains_of_both_signs_give_an_unknown_polarity() -> None:
    graph = CausalGraph(
        dict.fromkeys("abcd", NodeKind.VARIABLE),
        (
            Link("a", "b", Polarity.POSITIVE),
            Link("b", "d", Polarity.POSITIVE),
            Link("a", "c", Polarity.POSITIVE),
            Link("c", "d", Polarity.NEGATIVE),
        ),
    )
    (link,) = measure_links(graph, {"a": "a", "d": "d"})
    assert link.polarity is Polarity.UNKNOWN
    assert link.via == ("b", "c")
    resolved = measure_links(
        graph, {"a": "a", "d": "d"}, {("c", "d"): Polarity.POSITIVE}
    )  # only ? links are resolved
    assert resolved[0].run is None


def test_a_chain_through_another_measure_is_not_the_way() -> None:
    graph = CausalGraph(
        dict.fromkeys("amxyb", NodeKind.VARIABLE),
        (
            Link("a", "m", Polarity.POSITIVE),
            Link("m", "b", Polarity.POSITIVE),
            Link("a", "x", Polarity.NEGATIVE),
            Link("x", "y", Polarity.POSITIVE),
            Link("y", "b", Polarity.POSITIVE),
        ),
    )
    links = {(lk.cause, lk.effect): lk for lk in measure_links(graph, {n: n for n in "amb"})}
    assert links["a", "b"].via == ("x", "y")
    assert links["a", "b"].polarity is Polarity.NEGATIVE
    assert set(links) == {("a", "m"), ("m", "b"), ("a", "b")}


def test_a_run_resolves_a_state_dependent_sign() -> None:
    graph = CausalGraph(
        dict.fromkeys("abc", NodeKind.VARIABLE),
        (Link("a", "b", Polarity.UNKNOWN), Link("b", "c", Polarity.NEGATIVE)),
    )
    (link,) = list(measure_links(graph, {"a": "a", "c": "c"}, {("a", "b"): Polarity.POSITIVE}))
    assert link.polarity is Polarity.UNKNOWN
    assert link.run is Polarity.NEGATIVE


def test_feedback_down_the_map_is_kept(hand: Path) -> None:
    model = load_model(hand)
    strategy = model_map(model, causal_graph(model))
    down = [lk for lk in strategy.links if strategy.tier_of(lk.effect) < strategy.tier_of(lk.cause)]
    assert [(lk.cause, lk.effect, lk.via) for lk in down] == [("result", "skill", ("learning",))]
    ax = draw_strategy_map(strategy)
    arrows = [p for p in ax.patches if (p.get_gid() or "").startswith("link-")]
    assert len(arrows) == len(strategy.links)
    dashed = [p for p in arrows if p.get_linestyle() not in ("-", "solid")]
    assert len(dashed) == len(down)


def test_money_measures_form_the_value_for_money_tier(hand: Path) -> None:
    model = load_model(hand)
    strategy = model_map(model, causal_graph(model))
    assert list(strategy.tiers) == ["capability", "process", "outcome", "value_for_money"]
    assert strategy.tiers["value_for_money"] == ("spare",)
    assert is_money("GBP/day")
    assert is_money("£")
    assert not is_money("patient/GBP")


def _thirty(tmp_path: Path) -> Path:
    tiers = ["capability", "process", "outcome"]
    lines = ["cld: thirty", "variables:"]
    lines += [
        f"  measure_number_{i}_of_the_map: {{perspective: {tiers[i % 3]}}}" for i in range(30)
    ]
    lines.append("links:")
    for i in range(30):
        for j in (i + 1, i + 7):
            sign = "+" if (i + j) % 2 else "-"
            lines.append(
                f"  - [measure_number_{i}_of_the_map, measure_number_{j % 30}_of_the_map, '{sign}']"
            )
    path = tmp_path / "thirty.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_thirty_measures_have_no_overlapping_boxes(tmp_path: Path) -> None:
    path = _thirty(tmp_path)
    strategy = diagram_map(load_cld_file(path), load_cld_perspectives(path), "thirty")
    ax = draw_strategy_map(strategy)
    figure = ax.figure
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    boxes = [
        t.get_bbox_patch().get_window_extent(renderer)
        for t in ax.texts
        if (t.get_gid() or "").startswith("measure-")
    ]
    assert len(boxes) == 30
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not a.overlaps(b)
    signs = [t for t in ax.texts if (t.get_gid() or "").startswith("sign-")]
    assert len(signs) == len(strategy.links)


def test_ordering_does_not_add_crossings(tmp_path: Path) -> None:
    from pssc_sim.report.strategy_drawing import _place, box_size, crossings, layout

    path = _thirty(tmp_path)
    strategy = diagram_map(load_cld_file(path), load_cld_perspectives(path), "thirty")
    sizes = {n: box_size(box_text(m)) for n, m in strategy.measures.items()}
    declared = _place({t: list(ns) for t, ns in strategy.tiers.items()}, sizes)
    assert crossings(layout(strategy), strategy.links) <= crossings(declared, strategy.links)


def test_json_shape_and_svg_hover_text(
    hand: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    svg = tmp_path / "map.svg"
    assert main(["strategy-map", str(hand), "-o", str(svg), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) >= {"tiers", "links", "risks"}
    assert set(data["tiers"]) <= {"capability", "process", "outcome", "value_for_money"}
    for link in data["links"]:
        assert set(link) >= {"from", "to", "polarity", "via"}
        assert link["polarity"] in ("+", "-", "?")
    text = svg.read_text()
    assert "<title>result \u2192 skill (+) via learning</title>" in text


@pytest.mark.parametrize("origin", ["", "2004-04-01"])
def test_hover_text_says_when_the_values_are_in_calendar_time(tmp_path: Path, origin: str) -> None:
    from pssc_sim.cli.strategy import strategy_map_of
    from pssc_sim.report.strategy_drawing import measure_title
    from pssc_sim.report.words import calendar, when

    path = tmp_path / "hand.yaml"
    time = "time: {start: 0, stop: 4, dt: 0.25, units: year%s}" % (
        f", origin: {origin}" if origin else ""
    )
    path.write_text(HAND.replace("time: {start: 0, stop: 4, dt: 0.25}", time))
    model = load_model(path)
    strategy = strategy_map_of(str(path))
    for box in strategy.measures.values():
        assert box.at == 4.0
        assert box.when == when(model.time, 4.0)
        assert f"values at {box.when}" in measure_title(box)
    end = calendar(model.time, 4.0)
    if origin:
        assert end is not None
        assert end.year == 2008  # four years on from the origin
        assert str(end.year) in strategy.measures["result"].when
    else:
        assert end is None
        assert strategy.measures["result"].when == "year 4"


def test_risks_are_the_measures_that_end_worse_than_without_targets() -> None:
    from pssc_sim.report.strategy_map import scenario_map
    from pssc_sim.scorecard.scoring import at_time

    scenario = Scenario.load(ROOT / "scenarios" / "waiting_list" / "target-blame.yaml")
    result = scenario.run()
    plain = scenario.without_targets().run()
    strategy = scenario_map(result, result.scorecard(plain))
    risks = {m.name for m in strategy.risks}
    for measure in result.model.measures:
        end = float(result.results.times[-1])
        value = float(at_time(result, measure.true_column, end)[0])
        base = float(at_time(plain, measure.true_column, end)[0])
        worse = value < base if measure.better.value == "higher" else value > base
        assert (measure.name in risks) == worse, measure.name
        if worse:
            assert strategy.measures[measure.name].harm == pytest.approx(abs(value - base))
    assert risks  # the blame culture does harm


def test_every_run_the_map_makes_keeps_to_the_memory_limit(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from pssc_sim.integrate.budget import ResourceLimitError, limit_runs
    from pssc_sim.report.strategy_map import scenario_map

    path = ROOT / "scenarios" / "waiting_list" / "target-blame.yaml"
    result = Scenario.load(path).run()
    card = result.scorecard()
    assert not set(dominance_outputs(result.model)) <= set(result.results.names)
    with (
        limit_runs(64 * 1024),
        pytest.raises(ResourceLimitError, match="over the memory limit of 64 KiB"),
    ):
        scenario_map(result, card)  # the run again, recording every variable
    assert main(["strategy-map", str(path), "--json", "--max-memory", "64KiB"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "over the memory limit of 64 KiB" in err[0]


def test_a_gaming_mechanism_is_shown_on_the_measure_it_distorts() -> None:
    from pssc_sim.report.strategy_map import mechanism_measures

    model = load_model(ROOT / "models" / "ambulance")
    found = mechanism_measures(model)
    assert found["clock_start"] == ("clock_start_offset", "cat_a_response_time")
    assert {measure for _, measure in found.values()} <= {m.name for m in model.measures}


def test_a_model_without_measures_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "plain.yaml"
    path.write_text("time: {stop: 1}\nparameters: {k: 1}\nstocks: {x: 1}\n")
    with pytest.raises(ModelError, match="the model has no measures"):
        model_map(load_model(path), causal_graph(load_model(path)))
    assert main(["strategy-map", str(path), "-o", str(tmp_path / "m.svg")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("pssc: error:")
    assert "no measures" in err[0]


def test_bad_output_and_missing_output_are_refused(
    hand: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ParameterError, match=r"unsupported picture format '\.gif'"):
        check_format(tmp_path / "map.gif")
    assert main(["strategy-map", str(hand), "-o", str(tmp_path / "map.gif")]) == 2
    assert "unsupported picture format" in capsys.readouterr().err
    assert main(["strategy-map", str(hand)]) == 2
    assert "got neither -o nor --json" in capsys.readouterr().err


def test_a_diagram_perspective_must_be_known(tmp_path: Path) -> None:
    path = tmp_path / "map.yaml"
    path.write_text("cld: m\nvariables:\n  a: {perspective: outcomes}\nlinks:\n  - [b, a, '+']\n")
    with pytest.raises(ModelError, match=r"unknown perspective 'outcomes'\. Did you mean"):
        load_cld_perspectives(path)
    bare = tmp_path / "bare.yaml"
    bare.write_text("cld: m\nlinks:\n  - [b, a, '+']\n")
    with pytest.raises(ModelError, match="no variable has a perspective"):
        diagram_map(load_cld_file(bare), load_cld_perspectives(bare), "bare")


def test_the_command_runs_as_a_program(hand: Path, tmp_path: Path) -> None:
    out = tmp_path / "map.pdf"
    run = subprocess.run(
        [sys.executable, "-m", "pssc_sim", "strategy-map", str(hand), "-o", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert out.read_bytes().startswith(b"%PDF")


def test_the_report_shows_the_map_in_headless_chromium(tmp_path: Path) -> None:
    from browser import CHROMIUM_ARGS, chromium, open_page

    from pssc_sim.report import write_report

    path = write_report(
        [ROOT / "scenarios" / "waiting_list" / "target-blame.yaml"], tmp_path / "report.html"
    )
    text = path.read_text(encoding="utf-8")
    assert "<h3>Strategy map</h3>" in text
    assert "http://" not in text
    page = open_page(path)
    assert page.errors == []
    assert all(url.startswith(("file:", "data:")) for url in page.requests)
    executable = chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            view = browser.new_page()
            view.goto(path.as_uri(), wait_until="load")
            shown = view.evaluate(
                "Array.from(document.querySelectorAll('figure.strategy-map svg')).map(s => "
                "[s.getBoundingClientRect().width, s.getBoundingClientRect().height, "
                "s.querySelectorAll('title').length, s.textContent])"
            )
        finally:
            browser.close()
    ((width, height, titles, words),) = shown
    assert width > 200
    assert height > 100
    assert titles >= 3  # one per box at least
    assert "mean wait" in words


def _crosses(a: tuple[tuple[int, int], ...], b: tuple[tuple[int, int], ...]) -> bool:
    """Two segments cross at a point inside both (segments meeting at an end do not)."""
    if set(a) & set(b):
        return False

    def side(p: tuple[int, int], q: tuple[int, int], r: tuple[int, int]) -> int:
        value = (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])
        return (value > 0) - (value < 0)

    (p1, p2), (q1, q2) = a, b
    return side(p1, p2, q1) * side(p1, p2, q2) < 0 and side(q1, q2, p1) * side(q1, q2, p2) < 0


@given(
    st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=2, max_size=9, unique=True),
    st.lists(st.tuples(st.integers(0, 8), st.integers(0, 8)), max_size=12),
)
def test_crossings_counts_every_crossing_pair(
    points: list[tuple[int, int]], pairs: list[tuple[int, int]]
) -> None:
    from pssc_sim.report.strategy_drawing import crossings
    from pssc_sim.report.strategy_map import MapLink

    names = [f"m{i}" for i in range(len(points))]
    positions = {n: np.array(p, dtype=float) for n, p in zip(names, points, strict=True)}
    links = [
        MapLink(names[a % len(names)], names[b % len(names)], Polarity.POSITIVE, ())
        for a, b in pairs
        if a % len(names) != b % len(names)
    ]
    segments = [(points[names.index(lk.cause)], points[names.index(lk.effect)]) for lk in links]
    expected = sum(_crosses(a, b) for a, b in itertools.combinations(segments, 2))
    assert crossings(positions, links) == expected
