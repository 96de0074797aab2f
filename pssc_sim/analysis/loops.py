"""Feedback loops of a causal graph: enumeration, polarity and stable names.

A loop's polarity is the product of its links' polarities: ``R`` (reinforcing) when positive,
``B`` (balancing) when negative, ``?`` when a link's sign is unknown. Loops are found by
Johnson's circuit search, through the hub of each strongly connected component first
(:func:`_hub_first_cycles`), or with networkx's bounded enumeration when their length is bounded;
their count is bounded for large models. When a model has more loops than the count allows, the
shortest are kept: the loops are enumerated again by increasing length bound, and the search
reports how many loops it saw at least (:class:`CycleSearch`). Each loop is written starting
from its alphabetically first variable, and named ``R1``, ``B1`` ... in order of length, then of
its variables, so names do not change between runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import networkx as nx

from pssc_sim.errors import ParameterError
from pssc_sim.ir.causal import CausalGraph, Link, Polarity

_LETTER = {Polarity.POSITIVE: "R", Polarity.NEGATIVE: "B", Polarity.UNKNOWN: "U"}


@dataclass(frozen=True, slots=True)
class Loop:
    """A feedback loop: its name, polarity and variables in causal order."""

    name: str
    polarity: Polarity
    variables: tuple[str, ...]
    links: tuple[Link, ...]

    @property
    def kind(self) -> str:
        """``R``, ``B`` or ``?``."""
        return {"R": "R", "B": "B"}.get(_LETTER[self.polarity], "?")

    def as_dict(self) -> dict[str, object]:
        """The loop as JSON-ready data."""
        return {"name": self.name, "polarity": self.kind, "variables": list(self.variables)}


#: When a graph has more loops than asked for, loops are counted (shortest first) up to this many
#: times the cap, to say how many there are at least.
COUNT_FACTOR = 4


@dataclass(frozen=True, slots=True)
class CycleSearch:
    """The shortest cycles of a graph, and whether the count cap left others out.

    ``cycles`` are canonical (each starts from its alphabetically first node) and sorted by
    length, then by nodes. When ``truncated``, the graph has at least ``at_least`` cycles and
    every cycle left out is at least as long as the longest one kept.
    """

    cycles: tuple[tuple[str, ...], ...]
    at_least: int
    truncated: bool

    def note(self, what: str = "loops") -> str:
        """``listing the N shortest of at least M loops``, or an empty string when complete."""
        if not self.truncated:
            return ""
        return f"listing the {len(self.cycles)} shortest of at least {self.at_least} {what}"


@dataclass(frozen=True, slots=True)
class LoopSearch:
    """The loops :func:`list_loops` found, with the count note of the underlying search."""

    loops: tuple[Loop, ...]
    search: CycleSearch


def _canonical(cycle: list[str]) -> tuple[str, ...]:
    first = cycle.index(min(cycle))
    return tuple(cycle[first:] + cycle[:first])


def _order(cycle: tuple[str, ...]) -> tuple[int, tuple[str, ...]]:
    return len(cycle), cycle


def shortest_cycles(
    digraph: nx.DiGraph, *, max_length: int | None = None, max_loops: int = 10_000
) -> CycleSearch:
    """The cycles of ``digraph`` up to ``max_length`` nodes, at most ``max_loops``, shortest first.

    A first enumeration stops one cycle past the cap. Only when it is reached are cycles
    enumerated again by increasing length bound, so that the cycles kept are the shortest ones
    and not the arbitrary first ones of Johnson's order.

    Examples
    --------
    >>> import networkx as nx
    >>> search = shortest_cycles(nx.complete_graph(4, nx.DiGraph), max_loops=7)
    >>> [len(c) for c in search.cycles], search.note()
    ([2, 2, 2, 2, 2, 2, 3], 'listing the 7 shortest of at least 20 loops')
    """
    if max_length is not None and max_length < 1:
        raise ParameterError(f"max_length: must be at least 1 (got {max_length}). Use e.g. 12")
    if max_loops < 1:
        raise ParameterError(f"max_loops: must be at least 1 (got {max_loops}). Use e.g. 10000")
    found: list[tuple[str, ...]] = []
    cycles = (
        _hub_first_cycles(digraph)
        if max_length is None
        else nx.simple_cycles(digraph, length_bound=max_length)
    )
    for cycle in cycles:
        found.append(_canonical(cycle))
        if len(found) > max_loops:
            break
    else:
        return CycleSearch(tuple(sorted(found, key=_order)), len(found), False)
    return _by_length(digraph, max_length or digraph.number_of_nodes(), max_loops)


def _hub_first_cycles(digraph: nx.DiGraph) -> Iterator[list[Any]]:
    """Every simple cycle of ``digraph``, in no particular order.

    Within each strongly connected component the cycles through its hub (the node with the most
    paths through it, in-links times out-links) are listed first; the hub is then removed and the
    components of what is left are searched the same way. Cutting the hub first keeps what is
    left in small components: a sum of 1,000 stocks that each feed back on themselves through it
    is searched in time linear in its size, where removing an arbitrary node first leaves one
    large component to search again, a thousand times over.
    """
    graph = nx.DiGraph(digraph)
    for node in sorted(nx.nodes_with_selfloops(graph), key=str):
        yield [node]
    graph.remove_edges_from(list(nx.selfloop_edges(graph)))
    components = [c for c in nx.strongly_connected_components(graph) if len(c) > 1]
    while components:
        component = graph.subgraph(components.pop()).copy()
        hub = max(
            sorted(component, key=str),
            key=lambda n: component.in_degree(n) * component.out_degree(n),
        )
        yield from _cycles_through(component, hub)
        component.remove_node(hub)
        components += [c for c in nx.strongly_connected_components(component) if len(c) > 1]


def _cycles_through(graph: nx.DiGraph, start: Any) -> Iterator[list[Any]]:
    """The simple cycles of ``graph`` through ``start`` (Johnson's circuit search).

    A node is blocked while on the path, and stays blocked after it if no cycle was closed
    through it; it is unblocked when a node it leads to is, so no dead end is walked twice.
    """
    path: list[Any] = [start]
    closed: list[bool] = [False]
    pending: list[Iterator[Any]] = [iter(graph[start])]
    blocked: set[Any] = {start}
    waiting: dict[Any, set[Any]] = {}
    while pending:
        for node in pending[-1]:
            if node == start:
                yield list(path)
                closed[-1] = True
            elif node not in blocked:
                path.append(node)
                closed.append(False)
                pending.append(iter(graph[node]))
                blocked.add(node)
                break
        else:
            pending.pop()
            node = path.pop()
            if closed.pop():
                if closed:
                    closed[-1] = True
                _unblock(node, blocked, waiting)
            else:
                for successor in graph[node]:
                    waiting.setdefault(successor, set()).add(node)


def _unblock(node: Any, blocked: set[Any], waiting: dict[Any, set[Any]]) -> None:
    stack = [node]
    while stack:
        current = stack.pop()
        if current in blocked:
            blocked.discard(current)
            stack.extend(waiting.pop(current, ()))


def _by_length(digraph: nx.DiGraph, longest: int, max_loops: int) -> CycleSearch:
    """The ``max_loops`` shortest cycles, found level by level of length."""
    kept: list[tuple[str, ...]] = []
    limit = COUNT_FACTOR * max_loops
    for length in range(1, longest + 1):
        level = []
        for cycle in nx.simple_cycles(digraph, length_bound=length):
            if len(cycle) == length:
                level.append(_canonical(cycle))
                if len(kept) + len(level) >= limit:
                    break
        kept += sorted(level)
        if len(kept) >= limit:
            break
    return CycleSearch(tuple(kept[:max_loops]), max(len(kept), max_loops + 1), True)


def list_loops(
    graph: CausalGraph, *, max_length: int | None = None, max_loops: int = 10_000
) -> LoopSearch:
    """The feedback loops of ``graph``, shortest first, with the note of a capped search.

    Examples
    --------
    >>> from pssc_sim.ir.causal import NodeKind
    >>> nodes = {name: NodeKind.VARIABLE for name in "abc"}
    >>> links = tuple(Link(x, y, Polarity.POSITIVE) for x in "abc" for y in "abc" if x != y)
    >>> found = list_loops(CausalGraph(nodes, links), max_loops=2)
    >>> [lp.variables for lp in found.loops], found.search.note()
    ([('a', 'b'), ('a', 'c')], 'listing the 2 shortest of at least 5 loops')
    """
    digraph = nx.DiGraph()
    digraph.add_nodes_from(graph.nodes)
    by_pair = {(lk.cause, lk.effect): lk for lk in graph.links}
    digraph.add_edges_from(by_pair)
    search = shortest_cycles(digraph, max_length=max_length, max_loops=max_loops)
    counts = {"R": 0, "B": 0, "U": 0}
    loops = []
    for cycle in search.cycles:
        links = tuple(by_pair[(a, b)] for a, b in zip(cycle, cycle[1:] + cycle[:1], strict=True))
        polarity = Polarity.POSITIVE
        for link in links:
            polarity = polarity * link.polarity
        letter = _LETTER[polarity]
        counts[letter] += 1
        loops.append(Loop(f"{letter}{counts[letter]}", polarity, cycle, links))
    return LoopSearch(tuple(loops), search)


def find_loops(
    graph: CausalGraph, *, max_length: int | None = None, max_loops: int = 10_000
) -> tuple[Loop, ...]:
    """Every feedback loop of ``graph`` (up to ``max_length`` links, the ``max_loops`` shortest).

    See :func:`list_loops` for whether the cap left loops out.

    Examples
    --------
    >>> from pssc_sim.ir.causal import NodeKind
    >>> g = CausalGraph({"a": NodeKind.VARIABLE, "b": NodeKind.VARIABLE},
    ...                 (Link("a", "b", Polarity.POSITIVE), Link("b", "a", Polarity.NEGATIVE)))
    >>> [(lp.name, lp.variables) for lp in find_loops(g)]
    [('B1', ('a', 'b'))]
    """
    return list_loops(graph, max_length=max_length, max_loops=max_loops).loops
