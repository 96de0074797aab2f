"""Dependency order of equations, and cycles reported with their members in order."""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from pssc_sim.errors import ModelError

if TYPE_CHECKING:
    from pssc_sim.ir.model import Model


def dependency_order(
    dependencies: Mapping[str, Sequence[str]], *, what: str, where: str
) -> tuple[str, ...]:
    """Order ``dependencies`` (name -> names it needs) so every name follows what it needs.

    Names that are not keys (stocks, parameters) are inputs and impose no order. Ties keep the
    declaration order of the mapping, so the order is stable. A cycle raises :class:`ModelError`
    naming its members in order.

    >>> dependency_order({"b": ["a"], "a": [], "c": ["b", "a"]}, what="algebraic", where="m")
    ('a', 'b', 'c')
    """
    position = {name: i for i, name in enumerate(dependencies)}
    users: dict[str, list[str]] = {name: [] for name in dependencies}
    waiting = dict.fromkeys(dependencies, 0)
    for name, needs in dependencies.items():
        for need in set(needs):
            if need in position:
                users[need].append(name)
                waiting[name] += 1
    ready = [(position[n], n) for n, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, name = heapq.heappop(ready)
        order.append(name)
        for user in users[name]:
            waiting[user] -= 1
            if waiting[user] == 0:
                heapq.heappush(ready, (position[user], user))
    if len(order) < len(dependencies):
        cycle = find_cycle(dependencies, {n for n, c in waiting.items() if c > 0})
        raise ModelError(
            f"{where}: {what} cycle: {' -> '.join([*cycle, cycle[0]])} "
            f"(got {len(cycle)} variables that depend on each other). Break the loop with a stock "
            "(an accumulation) or a delay, or remove one of the dependencies"
        )
    return tuple(order)


def find_cycle(dependencies: Mapping[str, Sequence[str]], candidates: set[str]) -> list[str]:
    """One cycle among ``candidates``, as names each of which needs the next."""
    position = {name: i for i, name in enumerate(dependencies)}
    start = min(candidates, key=position.__getitem__)
    path: list[str] = []
    seen: dict[str, int] = {}
    node = start
    while node not in seen:
        seen[node] = len(path)
        path.append(node)
        node = next(n for n in dependencies[node] if n in candidates)
    cycle = path[seen[node] :]
    # Report the cycle in the direction of use: cause first, then what it feeds, starting from
    # the member declared first so the message reads in the order of the model file.
    cycle.reverse()
    first = min(range(len(cycle)), key=lambda i: position[cycle[i]])
    return cycle[first:] + cycle[:first]


def initial_order(model: Model) -> tuple[str, ...]:
    """The order in which initial values are computed: stocks by their ``initial``, flows and
    auxiliaries by their equations, discrete states by their initial values."""
    needs: dict[str, list[str]] = {}
    for stock in model.stocks:
        needs[stock.name] = [s.name for s in stock.initial.free_symbols]
    for state in model.discrete:
        needs[state.name] = [s.name for s in state.initial.free_symbols]
    for flow in model.flows:
        needs[flow.name] = [s.name for s in flow.rate.free_symbols]
    for aux in model.auxiliaries:
        needs[aux.name] = [s.name for s in aux.equation.free_symbols]
    return dependency_order(needs, what="initialisation", where=model.source or model.name)
