"""Feedback loops of a causal graph: enumeration, polarity and stable names.

A loop's polarity is the product of its links' polarities: ``R`` (reinforcing) when positive,
``B`` (balancing) when negative, ``?`` when a link's sign is unknown. Loops are found with
networkx's simple-cycle enumeration (Johnson's algorithm), bounded in length and count for large
models. Each loop is written starting from its alphabetically first variable, and named ``R1``,
``B1`` ... in order of length, then of its variables, so names do not change between runs.
"""

from __future__ import annotations

from dataclasses import dataclass

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


def _canonical(cycle: list[str]) -> tuple[str, ...]:
    first = cycle.index(min(cycle))
    return tuple(cycle[first:] + cycle[:first])


def find_loops(graph: CausalGraph, *, max_length: int | None = None,
               max_loops: int = 10_000) -> tuple[Loop, ...]:
    """Every feedback loop of ``graph`` (up to ``max_length`` links, at most ``max_loops``).

    Examples
    --------
    >>> from pssc_sim.ir.causal import NodeKind
    >>> g = CausalGraph({"a": NodeKind.VARIABLE, "b": NodeKind.VARIABLE},
    ...                 (Link("a", "b", Polarity.POSITIVE), Link("b", "a", Polarity.NEGATIVE)))
    >>> [(lp.name, lp.variables) for lp in find_loops(g)]
    [('B1', ('a', 'b'))]
    """
    if max_length is not None and max_length < 1:
        raise ParameterError(f"max_length: must be at least 1 (got {max_length}). Use e.g. 12")
    digraph = nx.DiGraph()
    digraph.add_nodes_from(graph.nodes)
    by_pair = {(lk.cause, lk.effect): lk for lk in graph.links}
    digraph.add_edges_from(by_pair)
    cycles: list[tuple[str, ...]] = []
    for cycle in nx.simple_cycles(digraph, length_bound=max_length):
        cycles.append(_canonical(cycle))
        if len(cycles) >= max_loops:
            break
    cycles.sort(key=lambda c: (len(c), c))
    counts = {"R": 0, "B": 0, "U": 0}
    loops = []
    for cycle in cycles:
        links = tuple(by_pair[(a, b)] for a, b in zip(cycle, cycle[1:] + cycle[:1], strict=True))
        polarity = Polarity.POSITIVE
        for link in links:
            polarity = polarity * link.polarity
        letter = _LETTER[polarity]
        counts[letter] += 1
        loops.append(Loop(f"{letter}{counts[letter]}", polarity, cycle, links))
    return tuple(loops)
