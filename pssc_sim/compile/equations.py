"""The parts of a kernel taken from the IR: equations, rates, names, and bodies of lines.

Shared by the kernels (:mod:`pssc_sim.compile.codegen`), the Jacobian
(:mod:`pssc_sim.compile.jacobian`) and the breakpoint evaluator
(:mod:`pssc_sim.compile.breakpoints`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import sympy

from pssc_sim.compile.printer import Dialect, Printer
from pssc_sim.compile.rows import local_name
from pssc_sim.ir.functions import (
    FINAL_TIME,
    INITIAL_TIME,
    SWITCH_SLACK,
    TIME,
    TIME_STEP,
    variable_symbol,
)
from pssc_sim.ir.model import Extrapolation, Lookup, Model, SampleMemory

__all__ = [
    "Body",
    "SharedTerms",
    "algebraic_equations",
    "discrete_updates",
    "local_name",
    "needed",
    "stock_rates",
    "symbol_names",
]

_CLOCK_NAMES = {
    TIME: "t",
    TIME_STEP: "dt",
    INITIAL_TIME: "t0",
    FINAL_TIME: "t1",
    SWITCH_SLACK: "slack",
}


def symbol_names(model: Model) -> dict[sympy.Symbol, str]:
    """Every symbol an equation of ``model`` can contain, mapped to its local name."""
    names: dict[sympy.Symbol, str] = dict(_CLOCK_NAMES)
    for item in model.declarations():
        names[variable_symbol(item.name)] = local_name(item.name)
    return names


def algebraic_equations(model: Model) -> dict[str, sympy.Expr]:
    """Flows and auxiliaries by name, in evaluation order."""
    equations = {f.name: f.rate for f in model.flows}
    equations.update({a.name: a.equation for a in model.auxiliaries})
    return {name: equations[name] for name in model.algebraic_order}


def discrete_updates(model: Model) -> list[sympy.Expr]:
    """The value each discrete state takes from one time step to be used at the next."""
    updates: list[sympy.Expr] = []
    for state in model.discrete:
        if isinstance(state, SampleMemory):
            updates.append(variable_symbol(state.update))
        else:
            updates.append(state.input)
    return updates


def stock_rates(model: Model) -> list[sympy.Expr]:
    """``d(stock)/dt`` of every stock as a sum of flow symbols, from the matrix ``N``.

    A stock over dimensions has one rate for its whole array: the flows that fill and drain it.
    """
    flows = [variable_symbol(f.name) for f in model.flows]
    if model.dimensions:
        terms: dict[str, list[sympy.Expr]] = {s.name: [] for s in model.stocks}
        for flow, symbol in zip(model.flows, flows, strict=True):
            if flow.source is not None:
                terms[flow.source].append(-symbol)
            if flow.target is not None:
                terms[flow.target].append(symbol)
        return [sympy.Add(*terms[s.name]) for s in model.stocks]
    matrix = model.stoichiometry()
    return [
        sympy.Add(*(int(matrix[i, j]) * flows[j] for j in np.flatnonzero(matrix[i])))
        for i in range(len(model.stocks))
    ]


def needed(equations: Mapping[str, sympy.Expr], roots: Iterable[sympy.Expr]) -> list[str]:
    """The algebraic variables that ``roots`` need, directly or through others, in order."""
    wanted: set[str] = set()
    stack = [s.name for root in roots for s in root.free_symbols]
    while stack:
        name = stack.pop()
        if name in equations and name not in wanted:
            wanted.add(name)
            stack.extend(s.name for s in equations[name].free_symbols)
    return [name for name in equations if name in wanted]


def used(exprs: Iterable[sympy.Basic]) -> set[str]:
    """Names of the symbols in ``exprs``."""
    return {s.name for e in exprs for s in e.free_symbols}


#: Common sub-expressions found in a list of expressions (``sympy.cse``), by that list.
SharedTerms = dict[
    tuple[sympy.Expr, ...], tuple[list[tuple[sympy.Symbol, sympy.Expr]], list[sympy.Expr]]
]


class Body:
    """Lines of one generated function, with common sub-expressions shared."""

    def __init__(
        self, printer: Printer, names: dict[sympy.Symbol, str], shared: SharedTerms | None = None
    ) -> None:
        self.printer = printer
        self.names = names
        self.lines: list[str] = []
        self.shared = {} if shared is None else shared

    def assign_all(
        self,
        targets: Sequence[str],
        exprs: Sequence[sympy.Expr],
        rows: Mapping[str, str] | None = None,
        scratch: bool = False,
    ) -> None:
        """Emit ``target = expr`` in order, sharing sub-expressions between them.

        A target in ``rows`` is bound to that array row and computed into it in place. With
        ``scratch``, so is every other target that is a sum or product of arrays, into a row
        named ``s_<target>`` that :func:`~pssc_sim.compile.rows.bound` assigns.
        """
        rows = rows or {}
        key = tuple(exprs)
        if key not in self.shared:  # the kernels of one module share their equations
            self.shared[key] = sympy.cse(
                list(exprs), symbols=sympy.numbered_symbols("cse"), order="none"
            )
        replacements, reduced = self.shared[key]
        pending = dict(replacements)
        for symbol, value in replacements:
            self.names[symbol] = f"c_{symbol.name}"
            if self.printer.is_scalar(value):  # in dependency order, so nested terms are known
                self.printer.scalars.add(symbol)
        for target, expr in zip(targets, reduced, strict=True):
            self._emit_pending(expr, pending)
            row = rows.get(target)
            if (
                row is None
                and scratch
                and isinstance(expr, sympy.Add | sympy.Mul)
                and not self.printer.is_scalar(expr)
            ):
                row = f"s_{target}"
            if row is not None:
                self.lines += [f"{target} = {row}", self.printer.into(expr, target)]
                continue
            text = self.printer(expr)
            if (
                expr.is_Number
                and self.printer.dialect is Dialect.NUMPY
                and not self.printer.named_numbers
            ):
                text = f"np.float64({text})"  # a constant: numpy's rules downstream, as the clock
            self.lines.append(f"{target} = {text}")

    def _emit_pending(self, expr: sympy.Basic, pending: dict[sympy.Symbol, sympy.Expr]) -> None:
        for symbol in sorted(expr.free_symbols & pending.keys(), key=lambda s: s.name):
            if symbol in pending:
                value = pending.pop(symbol)
                self._emit_pending(value, pending)
                self.lines.append(f"{self.names[symbol]} = {self.printer(value)}")


def flat_lookups(model: Model) -> list[Lookup]:
    return [lk for lk in model.lookups if lk.extrapolation is Extrapolation.FLAT]


def lookup_templates(model: Model, dialect: Dialect) -> dict[str, str]:
    """Call templates of the lookups generated inline, for :class:`Printer`."""
    if dialect is Dialect.NUMPY:
        template = "np.interp({{}}, _x_{0}, _y_{0})"
    else:
        template = "_lookup_{0}_flat({{}})"
    return {lk.name: template.format(lk.name) for lk in flat_lookups(model)}


def lookup_definitions(model: Model) -> str:
    """Point arrays and scalar functions of the lookups with flat extrapolation."""
    lines: list[str] = []
    for lookup in flat_lookups(model):
        xs, ys = (", ".join(repr(float(v)) for v in values) for values in (lookup.x, lookup.y))
        lines += [f"_x_{lookup.name} = np.array([{xs}])", f"_y_{lookup.name} = np.array([{ys}])"]
    for lookup in flat_lookups(model):
        lines += ["", *_scalar_lookup(lookup)]
    return "\n".join(lines) + "\n" if lines else ""


def _scalar_lookup(lookup: Lookup) -> list[str]:
    """A function evaluating ``lookup`` at a float, as ``Lookup.scalar`` does, without a search.

    Each segment is ``y0 + (y1 - y0) * (x - x0) / (x1 - x0)`` with the differences folded into
    constants, so the result is the same float; a NaN argument gives NaN.
    """
    xs, ys = [float(v) for v in lookup.x], [float(v) for v in lookup.y]
    lines = [
        f"def _lookup_{lookup.name}_flat(x):",
        f"    if x <= {xs[0]!r}:",
        f"        return {ys[0]!r}",
        f"    if x >= {xs[-1]!r}:",
        f"        return {ys[-1]!r}",
    ]
    if len(xs) == 1:
        return [*lines, "    return x"]
    return lines + _segments(xs, ys, 0, len(xs) - 2, "    ")


def _segments(xs: list[float], ys: list[float], low: int, high: int, indent: str) -> list[str]:
    """A balanced tree of tests choosing the segment ``i`` with ``xs[i] <= x < xs[i + 1]``."""
    if low == high:
        slope = f"({ys[low + 1] - ys[low]!r}) * (x - ({xs[low]!r})) / {xs[low + 1] - xs[low]!r}"
        return [f"{indent}return ({ys[low]!r}) + {slope}"]
    middle = (low + high + 1) // 2
    return [
        f"{indent}if x < {xs[middle]!r}:",
        *_segments(xs, ys, low, middle - 1, indent + "    "),
        *_segments(xs, ys, middle, high, indent),
    ]
