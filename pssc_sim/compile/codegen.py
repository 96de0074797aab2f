"""Generation of the model kernel: one Python module of numpy (and scalar) code per model.

The kernel is generated from the IR only: names are validated identifiers, numbers are printed
with ``repr(float)``, and every function comes from the printer's table. The module defines

``initial(clock, p, y0, d0, delays)``
    initial values of the stocks, discrete states and fixed delays, in dependency order;
``rates(t, clock, y, p, d, dy, dn)``
    ``dy = N @ flows`` and the discrete updates ``dn``, for arrays shaped ``(n, n_members)``;
``full(t, clock, y, p, d, dy, dn, out)``
    the same and every recorded output into ``out``;
``rates_scalar`` / ``full_scalar``
    the same on lists of floats for a single member, returning lists.

``clock`` is ``(dt, start, stop)``. Common sub-expressions are shared (sympy's ``cse``); each
shared term is emitted just before the first equation that uses it, which keeps the dependency
order valid.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import sympy

from pssc_sim.compile.printer import Dialect, Printer
from pssc_sim.ir.functions import FINAL_TIME, INITIAL_TIME, TIME, TIME_STEP, variable_symbol
from pssc_sim.ir.model import FixedDelay, Model, SampleMemory
from pssc_sim.parse.model_file import initial_order

_CLOCK_NAMES = {TIME: "t", TIME_STEP: "dt", INITIAL_TIME: "t0", FINAL_TIME: "t1"}


@dataclass(frozen=True, slots=True)
class Output:
    """A recorded output: its column name and the expression it takes."""

    name: str
    expr: sympy.Expr


def local_name(name: str) -> str:
    """The local variable that holds the value of the model variable ``name``."""
    return f"v_{name}"


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
    """``d(stock)/dt`` of every stock as a sum of flow symbols, from the matrix ``N``."""
    matrix = model.stoichiometry()
    flows = [variable_symbol(f.name) for f in model.flows]
    return [sympy.Add(*(int(matrix[i, j]) * flows[j] for j in np.flatnonzero(matrix[i])))
            for i in range(len(model.stocks))]


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


class _Body:
    """Lines of one generated function, with common sub-expressions shared."""

    def __init__(self, printer: Printer, names: dict[sympy.Symbol, str]) -> None:
        self.printer = printer
        self.names = names
        self.lines: list[str] = []

    def assign_all(self, targets: Sequence[str], exprs: Sequence[sympy.Expr]) -> None:
        """Emit ``target = expr`` in order, sharing sub-expressions between them."""
        replacements, reduced = sympy.cse(list(exprs), symbols=sympy.numbered_symbols("cse"),
                                          order="none")
        pending = dict(replacements)
        for symbol in pending:
            self.names[symbol] = f"c_{symbol.name}"
        for target, expr in zip(targets, reduced, strict=True):
            self._emit_pending(expr, pending)
            self.lines.append(f"{target} = {self.printer(expr)}")

    def _emit_pending(self, expr: sympy.Basic, pending: dict[sympy.Symbol, sympy.Expr]) -> None:
        for symbol in sorted(expr.free_symbols & pending.keys(), key=lambda s: s.name):
            if symbol in pending:
                value = pending.pop(symbol)  # type: ignore[index]
                self._emit_pending(value, pending)
                self.lines.append(f"{self.names[symbol]} = {self.printer(value)}")  # type: ignore[index]


def _loads(model: Model, used: set[str], dialect: Dialect, with_state: bool) -> list[str]:
    """Lines that bind the stocks, parameters and discrete states a function uses."""
    lines = []
    groups = [("p", model.parameter_names)]
    if with_state:
        groups = [("y", model.stock_names), *groups, ("d", tuple(s.name for s in model.discrete))]
    for array, names in groups:
        if dialect is Dialect.SCALAR and names and any(n in used for n in names):
            targets = ", ".join(local_name(n) if n in used else "_" for n in names)
            lines.append(f"{targets}, = {array}")
            continue
        lines += [f"{local_name(n)} = {array}[{i}]" for i, n in enumerate(names) if n in used]
    return lines


def _used(exprs: Iterable[sympy.Expr]) -> set[str]:
    return {s.name for e in exprs for s in e.free_symbols}


def _function(name: str, args: str, lines: list[str]) -> str:
    body = ["dt, t0, t1 = clock", *lines] if "clock" in args else lines
    return f"def {name}({args}):\n" + "".join(f"    {line}\n" for line in body or ["pass"])


def generate_source(model: Model, outputs: Sequence[Output]) -> str:
    """The Python source of the kernel module for ``model``, recording ``outputs``."""
    equations = algebraic_equations(model)
    rates, updates = stock_rates(model), discrete_updates(model)
    parts = ["# Generated by pssc_sim from the IR of model '" + model.name + "'.\n"]
    for dialect in Dialect:
        suffix = "" if dialect is Dialect.NUMPY else "_scalar"
        for full in (False, True):
            roots = [*rates, *updates, *(o.expr for o in outputs if full)]
            order = list(equations) if full else needed(equations, roots)
            parts.append(_kernel(model, dialect, equations, order, rates, updates,
                                 outputs if full else None, f"{'full' if full else 'rates'}{suffix}"))
    parts.append(_initial(model))
    return "\n".join(parts)


def _kernel(model: Model, dialect: Dialect, equations: Mapping[str, sympy.Expr], order: list[str],
            rates: list[sympy.Expr], updates: list[sympy.Expr], outputs: Sequence[Output] | None,
            name: str) -> str:
    names = symbol_names(model)
    body = _Body(Printer(dialect, names), names)
    exprs = [equations[n] for n in order]
    tail = [*rates, *updates, *(o.expr for o in outputs or ())]
    body.assign_all([local_name(n) for n in order], exprs)
    printer = body.printer
    values = [printer(e) if e != 0 else "0.0" for e in rates]
    news = [printer(e) for e in updates]
    shown = [printer(o.expr) for o in outputs or ()]
    if dialect is Dialect.NUMPY:
        tail_lines = [f"dy[{i}] = {v}" for i, v in enumerate(values)]
        tail_lines += [f"dn[{i}] = {v}" for i, v in enumerate(news)]
        tail_lines += [f"out[{i}] = {v}" for i, v in enumerate(shown)]
        args = "t, clock, y, p, d, dy, dn" + (", out" if outputs is not None else "")
    else:
        results = [f"[{', '.join(values)}]", f"[{', '.join(news)}]"]
        if outputs is not None:
            results.append(f"[{', '.join(shown)}]")
        tail_lines = [f"return {', '.join(results)}"]
        args = "t, clock, y, p, d"
    used = _used([*exprs, *tail])
    return _function(name, args, [*_loads(model, used, dialect, True), *body.lines, *tail_lines])


def _initial(model: Model) -> str:
    names = symbol_names(model)
    printer = Printer(Dialect.NUMPY, names)
    equations = algebraic_equations(model)
    sources = {s.name: s.initial for s in model.stocks}
    sources.update({s.name: s.initial for s in model.discrete})
    sources.update(equations)
    order = list(initial_order(model))
    body = _Body(printer, names)
    body.assign_all([local_name(n) for n in order], [sources[n] for n in order])
    delays = [s for s in model.discrete if isinstance(s, FixedDelay)]
    used = _used([*sources.values(), *(s.delay for s in delays)])
    lines = ["t = t0", *_loads(model, used, Dialect.NUMPY, False), *body.lines]
    lines += [f"y0[{i}] = {local_name(n)}" for i, n in enumerate(model.stock_names)]
    lines += [f"d0[{i}] = {local_name(s.name)}" for i, s in enumerate(model.discrete)]
    lines += [f"delays[{i}] = {printer(s.delay)}" for i, s in enumerate(delays)]
    return _function("initial", "clock, p, y0, d0, delays", lines)
