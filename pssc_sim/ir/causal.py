"""The causal graph of a model: every link cause -> effect with its polarity.

A link's polarity is the sign of the partial derivative of the effect's equation with respect to
the cause (Richardson, *Feedback Thought in Social Science and Systems Theory*, 1991), decided
symbolically by sympy with every variable taken as positive, as system dynamics quantities are.
When the sign depends on the values (or the cause only switches a condition) the polarity is
``?``. A flow is a ``+`` link into its target stock and a ``-`` link into its source. Hidden
variables made by stateful builtins are folded back into the variable whose equation used them:
``y = SMOOTH(x, 3)`` gives the link ``x -> y`` with polarity ``+``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import sympy

from pssc_sim.ir.conditions import substituted
from pssc_sim.ir.functions import CLOCK_SYMBOLS, LookupSlope
from pssc_sim.ir.model import FixedDelay, Lookup, Model


class Polarity(enum.Enum):
    """The sign of a causal link or loop."""

    POSITIVE = "+"
    NEGATIVE = "-"
    UNKNOWN = "?"

    def __mul__(self, other: Polarity) -> Polarity:
        if Polarity.UNKNOWN in (self, other):
            return Polarity.UNKNOWN
        return Polarity.POSITIVE if self is other else Polarity.NEGATIVE


class NodeKind(enum.Enum):
    """What a node of the causal graph is."""

    STOCK = "stock"
    FLOW = "flow"
    AUXILIARY = "auxiliary"
    PARAMETER = "parameter"
    VARIABLE = "variable"  # a variable of a qualitative diagram, with no equation


@dataclass(frozen=True, slots=True)
class Link:
    """``cause -> effect`` with its polarity."""

    cause: str
    effect: str
    polarity: Polarity


@dataclass(frozen=True, slots=True)
class CausalGraph:
    """Nodes (name -> kind) and signed links."""

    nodes: Mapping[str, NodeKind]
    links: tuple[Link, ...]

    def link(self, cause: str, effect: str) -> Link | None:
        """The link from ``cause`` to ``effect``, if there is one."""
        return next((lk for lk in self.links if lk.cause == cause and lk.effect == effect), None)

    def causes(self, name: str) -> tuple[Link, ...]:
        """Links into ``name``."""
        return tuple(lk for lk in self.links if lk.effect == name)

    def uses(self, name: str) -> tuple[Link, ...]:
        """Links out of ``name``."""
        return tuple(lk for lk in self.links if lk.cause == name)


def derivative_polarity(
    expr: sympy.Expr, cause: sympy.Symbol, lookups: Mapping[str, Lookup] | None = None
) -> Polarity:
    """The sign of ``d expr / d cause``, with every symbol taken as positive.

    The slope of a monotone lookup has the sign of its direction.

    >>> a, b = sympy.symbols("a b", real=True)
    >>> derivative_polarity(a / b, b)
    <Polarity.NEGATIVE: '-'>
    """
    return _Slopes(expr, lookups or {}).polarity(cause)


class _Slopes:
    """The polarities of one equation with respect to each of its symbols.

    The equation is rewritten in positive symbols once, and the slope with respect to a symbol
    is taken of the terms of a sum that hold it only: the other terms have none. A sum of
    thousands of terms (imported models have them) then costs time linear in its length, not
    quadratic.
    """

    def __init__(self, expr: sympy.Expr, lookups: Mapping[str, Lookup]) -> None:
        self.lookups = lookups
        self.positive = {s: sympy.Symbol(s.name, positive=True) for s in expr.free_symbols}
        form = substituted(expr, self.positive)
        self.holding: dict[sympy.Basic, list[sympy.Expr]] = {}
        for term in form.args if isinstance(form, sympy.Add) else (form,):
            for symbol in term.free_symbols:
                self.holding.setdefault(symbol, []).append(term)

    def polarity(self, cause: sympy.Symbol) -> Polarity:
        symbol = self.positive.get(cause)
        if symbol is None:
            return Polarity.UNKNOWN  # not in the equation: no slope to sign
        slope = sympy.diff(sympy.Add(*self.holding[symbol]), symbol)
        slope = slope.replace(
            lambda e: isinstance(e, LookupSlope),
            lambda e: _monotone_sign(self.lookups.get(e.lookup_name), e),
        )
        if slope.is_nonnegative and not slope.is_zero:
            return Polarity.POSITIVE
        if slope.is_nonpositive and not slope.is_zero:
            return Polarity.NEGATIVE
        return Polarity.UNKNOWN


def _monotone_sign(lookup: Lookup | None, call: sympy.Expr) -> sympy.Expr:
    """+1 or -1 for a lookup whose points only rise or only fall; the call itself otherwise."""
    if lookup is None or len(lookup.y) < 2:
        return call
    steps = [b - a for a, b in zip(lookup.y, lookup.y[1:], strict=False)]
    if all(step >= 0 for step in steps) and any(steps):
        return sympy.S.One
    if all(step <= 0 for step in steps) and any(steps):
        return sympy.S.NegativeOne
    return call


def _equation_links(effect: str, expr: sympy.Expr, lookups: Mapping[str, Lookup]) -> list[Link]:
    causes = sorted((s for s in expr.free_symbols if s not in CLOCK_SYMBOLS), key=lambda s: s.name)
    slopes = _Slopes(expr, lookups)
    return [Link(c.name, effect, slopes.polarity(c)) for c in causes]


def _raw_links(model: Model) -> list[Link]:
    lookups = {lk.name: lk for lk in model.lookups}
    links: list[Link] = []
    for flow in model.flows:
        links += _equation_links(flow.name, flow.rate, lookups)
        if flow.source is not None:
            links.append(Link(flow.name, flow.source, Polarity.NEGATIVE))
        if flow.target is not None:
            links.append(Link(flow.name, flow.target, Polarity.POSITIVE))
    for aux in model.auxiliaries:
        links += _equation_links(aux.name, aux.equation, lookups)
    for state in model.discrete:
        if isinstance(state, FixedDelay):  # the pipeline passes its input on, unchanged in sign
            links += [
                Link(s.name, state.name, Polarity.POSITIVE)
                for s in state.input.free_symbols
                if s not in CLOCK_SYMBOLS
            ]
    return links


def _hidden(model: Model) -> dict[str, str]:
    """Hidden variable -> the user variable it belongs to."""
    owners: dict[str, str] = {}
    for item in (*model.stocks, *model.flows, *model.auxiliaries, *model.discrete):
        origin = getattr(item, "origin", None)
        if origin is not None:
            owners[item.name] = origin
    return owners


def _fold(links: Iterable[Link], hidden: Iterable[str]) -> list[Link]:
    """Contract hidden nodes: ``a -> h -> b`` becomes ``a -> b`` with the product polarity."""
    current = list(dict.fromkeys(links))
    for node in hidden:
        into = [lk for lk in current if lk.effect == node and lk.cause != node]
        out = [lk for lk in current if lk.cause == node and lk.effect != node]
        current = [lk for lk in current if node not in (lk.cause, lk.effect)]
        for a in into:
            for b in out:
                if a.cause != b.effect:
                    current.append(Link(a.cause, b.effect, a.polarity * b.polarity))
    return _merge(current)


def _merge(links: Iterable[Link]) -> list[Link]:
    """One link per (cause, effect); parallel links of different signs give ``?``."""
    merged: dict[tuple[str, str], Polarity] = {}
    for link in links:
        key = (link.cause, link.effect)
        previous = merged.get(key)
        merged[key] = link.polarity if previous in (None, link.polarity) else Polarity.UNKNOWN
    return [Link(c, e, p) for (c, e), p in merged.items()]


def causal_graph(model: Model) -> CausalGraph:
    """The causal graph of ``model``, with hidden variables folded into their owners.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from pssc_sim.parse import load_model
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "m.yaml"
    >>> _ = path.write_text("time: {stop: 1}\\nparameters: {k: 0.1}\\nstocks: {x: 1}\\n"
    ...                     "flows: {growth: {to: x, rate: k * x}}\\n")
    >>> [(lk.cause, lk.effect, lk.polarity.value) for lk in causal_graph(load_model(path)).links]
    [('k', 'growth', '+'), ('x', 'growth', '+'), ('growth', 'x', '+')]
    """
    nodes: dict[str, NodeKind] = {p.name: NodeKind.PARAMETER for p in model.parameters}
    nodes.update({s.name: NodeKind.STOCK for s in model.stocks if not s.hidden})
    nodes.update({f.name: NodeKind.FLOW for f in model.flows if not f.hidden})
    nodes.update({a.name: NodeKind.AUXILIARY for a in model.auxiliaries if not a.hidden})
    links = _fold(_raw_links(model), _hidden(model))
    return CausalGraph(nodes, tuple(lk for lk in links if lk.cause in nodes and lk.effect in nodes))
