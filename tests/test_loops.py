"""Causal graphs and feedback loops against loops derived by hand."""

from __future__ import annotations

import itertools
from pathlib import Path

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pssc_sim.analysis.loops import find_loops, shortest_cycles
from pssc_sim.errors import ModelError, ParameterError
from pssc_sim.ir.causal import CausalGraph, Link, NodeKind, Polarity, causal_graph
from pssc_sim.parse import load_model
from pssc_sim.parse.cld_file import load_cld_file

SIR = """
time: {stop: 10, dt: 0.25}
parameters: {contact_rate: 6, infectivity: 0.25, duration: 2, total: 1000}
stocks: {susceptible: 999, infected: 1, recovered: 0}
flows:
  infection: {from: susceptible, to: infected,
              rate: contact_rate * infectivity * susceptible * infected / total}
  recovery: {from: infected, to: recovered, rate: infected / duration}
"""

CHAIN = """
time: {stop: 10}
parameters: {tau: 2, inflow_rate: 5}
stocks: {a: 1, b: 1, c: 1}
flows:
  supply: {to: a, rate: inflow_rate}
  ab: {from: a, to: b, rate: a / tau}
  bc: {from: b, to: c, rate: b / tau}
  out: {from: c, rate: c / tau}
auxiliaries:
  backlog_pressure: c / (a + 1)
"""


def write(tmp_path: Path, text: str, name: str = "model.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def summary(graph: CausalGraph) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(lp.name, lp.kind, lp.variables) for lp in find_loops(graph)]


def test_sir_has_one_reinforcing_and_two_balancing_loops(tmp_path: Path) -> None:
    graph = causal_graph(load_model(write(tmp_path, SIR)))
    assert summary(graph) == [
        ("R1", "R", ("infected", "infection")),
        ("B1", "B", ("infected", "recovery")),
        ("B2", "B", ("infection", "susceptible")),
    ]
    assert graph.link("total", "infection") == Link("total", "infection", Polarity.NEGATIVE)


def test_three_stock_chain_has_one_balancing_loop_per_outflow(tmp_path: Path) -> None:
    graph = causal_graph(load_model(write(tmp_path, CHAIN)))
    assert summary(graph) == [
        ("B1", "B", ("a", "ab")),
        ("B2", "B", ("b", "bc")),
        ("B3", "B", ("c", "out")),
    ]
    assert graph.link("a", "backlog_pressure") == Link("a", "backlog_pressure", Polarity.NEGATIVE)


def test_hidden_stocks_of_builtins_fold_into_the_user_variable(tmp_path: Path) -> None:
    text = """
time: {stop: 10}
stocks: {x: 1}
flows: {growth: {to: x, rate: 0.1 * perceived}}
auxiliaries:
  perceived: SMOOTH3(x, 2) + DELAY_FIXED(x, 1, 0)
"""
    graph = causal_graph(load_model(write(tmp_path, text)))
    assert set(graph.nodes) == {"x", "growth", "perceived"}
    assert graph.link("x", "perceived") == Link("x", "perceived", Polarity.POSITIVE)
    assert summary(graph) == [("R1", "R", ("growth", "x", "perceived"))]


def test_state_dependent_sign_is_unknown(tmp_path: Path) -> None:
    text = """
time: {stop: 10}
parameters: {goal: 5, tau: 2}
stocks: {x: 1}
flows: {adjust: {to: x, rate: (goal - x) / tau}}
lookups: {bump: {points: [[0, 0], [1, 1], [2, 0]]}, rising: {points: [[0, 0], [1, 2]]}}
auxiliaries:
  shaped: bump(x) + rising(x) * 0
"""
    graph = causal_graph(load_model(write(tmp_path, text)))
    assert graph.link("tau", "adjust") == Link("tau", "adjust", Polarity.UNKNOWN)
    assert graph.link("x", "adjust") == Link("x", "adjust", Polarity.NEGATIVE)
    assert graph.link("x", "shaped") == Link("x", "shaped", Polarity.UNKNOWN)


def test_monotone_lookup_has_its_direction(tmp_path: Path) -> None:
    text = """
time: {stop: 10}
stocks: {x: 1}
lookups: {falling: {points: [[0, 3], [1, 2], [5, 0]]}}
auxiliaries: {effect: falling(x)}
"""
    graph = causal_graph(load_model(write(tmp_path, text)))
    assert graph.link("x", "effect") == Link("x", "effect", Polarity.NEGATIVE)


def _ring_cld(n: int) -> str:
    """A ring of n variables (one loop) with chords that close shorter loops."""
    lines = ["cld: ring", "links:"]
    for i in range(n):
        sign = "-" if i in (3, 11) else "+"
        lines.append(f"  - [v{i:02d}, v{(i + 1) % n:02d}, '{sign}']")
    lines.append("  - [v05, v02, '-']")  # closes v02 -> v03 -> v04 -> v05 -> v02
    lines.append("  - {from: v15, to: v10, polarity: '+'}")  # closes v10 .. v15
    return "\n".join(lines) + "\n"


def test_qualitative_ring_of_twenty_finds_each_cycle_once(tmp_path: Path) -> None:
    graph = load_cld_file(write(tmp_path, _ring_cld(20), "map.yaml"))
    loops = find_loops(graph)
    assert [(lp.kind, len(lp.variables)) for lp in loops] == [("R", 4), ("B", 6), ("R", 20)]
    assert loops[0].variables == ("v02", "v03", "v04", "v05")
    assert {lp.name for lp in loops} == {"R1", "B1", "R2"}


def _brute_force_cycles(edges: dict[tuple[str, str], bool], nodes: list[str]) -> dict:
    """Every simple cycle by trying every ordered subset (only for tiny graphs)."""
    found = {}
    for size in range(2, len(nodes) + 1):
        for combo in itertools.permutations(nodes, size):
            if combo[0] != min(combo):
                continue
            pairs = list(zip(combo, combo[1:] + combo[:1], strict=True))
            if all(p in edges for p in pairs):
                negatives = sum(not edges[p] for p in pairs)
                found[combo] = "B" if negatives % 2 else "R"
    return found


@settings(max_examples=40, deadline=None)
@given(
    st.dictionaries(
        st.tuples(st.sampled_from("abcde"), st.sampled_from("abcde")).filter(
            lambda e: e[0] != e[1]
        ),
        st.booleans(),
        max_size=12,
    )
)
def test_every_cycle_of_a_random_diagram_is_found_once(edges: dict) -> None:
    nodes = sorted({n for e in edges for n in e})
    links = tuple(
        Link(a, b, Polarity.POSITIVE if positive else Polarity.NEGATIVE)
        for (a, b), positive in edges.items()
    )
    graph = CausalGraph(dict.fromkeys(nodes, NodeKind.VARIABLE), links)
    loops = find_loops(graph)
    assert {lp.variables: lp.kind for lp in loops} == _brute_force_cycles(edges, nodes)
    assert len({lp.variables for lp in loops}) == len(loops)


def test_loop_bound_limits_length(tmp_path: Path) -> None:
    graph = load_cld_file(write(tmp_path, _ring_cld(20), "map.yaml"))
    assert [len(lp.variables) for lp in find_loops(graph, max_length=5)] == [4]
    with pytest.raises(ParameterError, match="max_length: must be at least 1"):
        find_loops(graph, max_length=0)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("cld: x\nlinkz: []\n", r"map.yaml: linkz: unknown key 'linkz'. Did you mean 'links'\?"),
        ("cld: x\nlinks:\n  - [a, b, '*']\n", r"links\[0\].polarity: unknown polarity '\*'"),
        ("cld: x\nlinks:\n  - [a, a, '+']\n", r"links\[0\]: a link from 'a' to itself"),
        (
            "cld: x\nlinks:\n  - [a, b, '+']\n  - [a, b, '-']\n",
            r"links\[1\]: the link a -> b is already given as links\[0\]",
        ),
        ("cld: x\nlinks:\n  - {from: a, too: b}\n", r"links\[0\].too: unknown key 'too'"),
        ("cld: x\nlinks:\n  - 7\n", r"links\[0\]: expected \[cause, effect, polarity\]"),
        ("cld: x\nvariables: {a: {kind: flow}}\n", r"variables.a.kind: unknown kind 'flow'"),
        ("- a\n", r"a diagram file must be a YAML mapping"),
    ],
)
def test_diagram_errors(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(ModelError, match=match):
        load_cld_file(write(tmp_path, text, "map.yaml"))


@settings(max_examples=150, deadline=None)
@given(
    st.integers(1, 9).flatmap(
        lambda n: st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=4 * n)
    )
)
def test_the_cycles_found_are_every_simple_cycle_once(edges: list[tuple[int, int]]) -> None:
    digraph = nx.DiGraph(edges)
    expected = sorted(
        (tuple(c[c.index(min(c)) :] + c[: c.index(min(c))]) for c in nx.simple_cycles(digraph)),
        key=lambda c: (len(c), c),
    )
    search = shortest_cycles(digraph)
    assert list(search.cycles) == expected
    assert not search.truncated
