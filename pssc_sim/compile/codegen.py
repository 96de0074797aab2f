"""Generation of the model kernel: one Python module of numpy (and scalar) code per model.

The kernel is generated from the IR only: names are validated identifiers, numbers are printed
with ``repr(float)``, and every function comes from the printer's table. A variable over
dimensions is a numpy array ``(*shape, M)`` read and written as a view of a block of rows (see
:mod:`pssc_sim.compile.layout`); a variable without dimensions is the same with an empty shape,
one row. Every optimisation below serves both. The module defines

``initial(clock, p, y0, d0, delays)``
    initial values of the stocks, discrete states and fixed delays, in dependency order;
``prepare(clock, p)``
    the parameters with rows more for each term hoisted out of the step (see
    :mod:`pssc_sim.compile.hoisting`); the kernels below take this prepared ``p``;
``rates(t, clock, y, p, d, dy, dn)``
    ``dy = N @ flows`` and the discrete updates ``dn``, for arrays shaped ``(n, n_members)``;
``full(t, clock, y, p, d, dy, dn, out)``
    the same and every recorded output into ``out``;
``rates_scalar`` / ``full_scalar``
    the same on lists of floats for a single member, returning lists (models without
    dimensions: the compiler wraps the numpy kernels for the others);
``bind_rates(clock, y, p, d, dy, dn)``
    ``rates`` bound to arrays that a fixed-step loop updates in place, returned as ``rates(t)``:
    their rows and views are taken once per run, not at every step;
``bind_full(clock, y, p, d, dy, dn)``
    ``full`` bound in the same way, returned as ``full(t, out)``.

``clock`` is ``(dt, start, stop)``. Common sub-expressions are shared (sympy's ``cse``); each
shared term is emitted just before the first equation that uses it, which keeps the dependency
order valid.

Lookups with flat extrapolation (the Vensim default) are generated inline: ``np.interp`` on point
arrays made once per module, and a branch tree of the segments in the scalar kernels. The numpy
kernels write ``dy`` rows and computed outputs in place, giving the row as the ufunc's positional
output (``out=`` as a keyword costs several hundred nanoseconds a call to parse); a flow that is
the only flow of a stock is computed straight into that stock's rows of ``dy``, and recorded
stocks in consecutive rows are copied into ``out`` with one copy per run (see
:mod:`pssc_sim.compile.rows`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import sympy

from pssc_sim.compile.equations import (
    Body,
    SharedTerms,
    algebraic_equations,
    discrete_updates,
    lookup_definitions,
    lookup_templates,
    needed,
    stock_rates,
    symbol_names,
    used,
)
from pssc_sim.compile.hoisting import hoist
from pssc_sim.compile.layout import (
    Block,
    Layout,
    Output,
    shape_of,
    spread,
    stack,
    variable_shapes,
)
from pssc_sim.compile.printer import Dialect, Printer, number_definitions
from pssc_sim.compile.rows import (
    bound,
    flow_rows,
    function,
    local_name,
    output_rows,
    rate_line,
    release,
    stock_copies,
)
from pssc_sim.ir.model import FixedDelay, Model
from pssc_sim.ir.ordering import initial_order

__all__ = ["Output", "generate_source", "kernel_generator", "local_name"]


def generate_source(model: Model, outputs: Sequence[Output]) -> str:
    """The Python source of the kernel module for ``model``, recording ``outputs``."""
    return _Module(model, outputs).source()


def kernel_generator(model: Model, outputs: Sequence[Output]) -> _Module:
    """The generator of the kernel module (``.source()``), kept for the compiled loop: it
    reuses the hoisted terms and shared sub-expressions found once here."""
    return _Module(model, outputs)


class _Module:
    """Builds the kernel module of one model."""

    def __init__(self, model: Model, outputs: Sequence[Output]) -> None:
        self.model = model
        self.layout = Layout.of(model)
        self.shapes = variable_shapes(model)
        self.original = {
            name: self.spread(name, expr) for name, expr in algebraic_equations(model).items()
        }
        self.rates = stock_rates(model)
        updates = [
            self.spread(s.name, u)
            for s, u in zip(model.discrete, discrete_updates(model), strict=True)
        ]
        exprs, self.invariants = hoist(
            model, [*self.original.values(), *updates, *(o.expr for o in outputs)]
        )
        n, m = len(self.original), len(updates)
        self.equations = dict(zip(self.original, exprs[:n], strict=True))
        self.updates = exprs[n : n + m]
        self.outputs = [replace(o, expr=e) for o, e in zip(outputs, exprs[n + m :], strict=True)]
        self.hoisted = stack(
            zip(
                (s.name for s in self.invariants.symbols),
                self.invariants.shapes or [()] * len(self.invariants.symbols),
                strict=True,
            ),
            first=self.layout.n_parameter_rows,
        )
        self.out_blocks = list(
            stack(
                (str(i), o.shape if o.positions is None else ()) for i, o in enumerate(outputs)
            ).values()
        )
        self.constants: dict[str, tuple[Any, ...]] = {}
        self.shared: SharedTerms = {}

    def spread(self, name: str, expr: sympy.Expr) -> sympy.Expr:
        """``expr`` with the whole shape of the variable ``name`` (see :func:`spread`)."""
        return spread(self.model, name, expr, self.shapes)

    def source(self) -> str:
        """The whole module."""
        parts = [lookup_definitions(self.model), self.prepare()]
        dialects = [Dialect.NUMPY] if self.model.dimensions else list(Dialect)
        for dialect in dialects:
            suffix = "" if dialect is Dialect.NUMPY else "_scalar"
            parts += [
                self.kernel(dialect, False, f"rates{suffix}"),
                self.kernel(dialect, True, f"full{suffix}"),
            ]
        parts += [
            self.kernel(Dialect.NUMPY, False, "bind_rates", bind=True),
            self.kernel(Dialect.NUMPY, True, "bind_full", bind=True),
            self.initial(),
        ]
        text = "\n".join(parts)
        constants = [
            f"{name} = {_literal(value)}" for name, value in sorted(self.constants.items())
        ]
        head = [*number_definitions(text), *constants]
        return "\n".join([*head, *parts]) if head else text

    def printer(self, dialect: Dialect, hoisted: bool = True) -> tuple[Printer, Body]:
        """A printer of ``dialect`` on the module's names, and a body of lines using it."""
        names = symbol_names(self.model)
        if hoisted:
            names.update({s: f"q_{j}" for j, s in enumerate(self.invariants.symbols)})
        printer = Printer(dialect, names, lookup_templates(self.model, dialect), named_numbers=True)
        printer.constants = self.constants
        return printer, Body(printer, names, self.shared)

    def loads(
        self, names: set[str], dialect: Dialect, with_state: bool, hoisted: bool = True
    ) -> list[str]:
        """Lines that bind the stocks, parameters (hoisted rows too) and discrete states used."""
        layout = self.layout
        parameters = [(n, local_name(n), b) for n, b in layout.parameters.items()]
        if hoisted:
            parameters += [(n, f"q_{j}", b) for j, (n, b) in enumerate(self.hoisted.items())]
        groups = [("p", parameters)]
        if with_state:
            groups = [
                ("y", [(n, local_name(n), b) for n, b in layout.stocks.items()]),
                *groups,
                ("d", [(n, local_name(n), b) for n, b in layout.discrete.items()]),
            ]
        lines = []
        for array, entries in groups:
            if dialect is Dialect.SCALAR and any(n in names for n, _, _ in entries):
                targets = ", ".join(local if n in names else "_" for n, local, _ in entries)
                lines.append(f"{targets}, = {array}")
                continue
            lines += [f"{local} = {b.view(array)}" for n, local, b in entries if n in names]
        return lines

    def prepare(self) -> str:
        """``prepare(clock, p)``: ``p`` with rows more for the hoisted terms, or ``p`` itself."""
        if not self.invariants.symbols:
            return function("prepare", "clock, p", ["return p"])
        _, body = self.printer(Dialect.NUMPY)
        targets = [b.view("q") + ("[...]" if b.shape else "") for b in self.hoisted.values()]
        body.assign_all(targets, self.invariants.exprs)
        n_params = self.layout.n_parameter_rows
        rows = max(b.stop for b in self.hoisted.values())
        lines = [
            *self.loads(used(self.invariants.exprs), Dialect.NUMPY, False, hoisted=False),
            f"q = np.empty(({rows}, p.shape[1]))",
            f"q[:{n_params}] = p",
            # as in the kernels, a term that cannot be evaluated (in a branch not taken, or
            # reported with its variable at the first step) gives inf or nan, not a warning
            "with _quiet():",
            *(f"    {line}" for line in body.lines),
            "return q",
        ]
        return function("prepare", "clock, p", lines, Dialect.NUMPY)

    def kernel(self, dialect: Dialect, full: bool, name: str, bind: bool = False) -> str:
        """One kernel: ``rates`` or (with ``full``) ``full``, in ``dialect``, or bound."""
        outputs = self.outputs if full else []
        roots = [*self.rates, *self.updates, *(o.expr for o in outputs)]
        order = list(self.equations) if full else needed(self.equations, roots)
        printer, body = self.printer(dialect)
        exprs = [self.equations[n] for n in order]
        numpy = dialect is Dialect.NUMPY
        rows = self.rows(order, full) if numpy else {}
        scratch = bind and not self.model.dimensions
        body.assign_all([local_name(n) for n in order], exprs, rows, scratch=scratch)
        if numpy:
            tail, copied = self.tail(printer, rows, outputs)
            args = "t, clock, y, p, d, dy, dn" + (", out" if full else "")
        else:
            tail, copied = self.scalar_tail(printer, outputs, full), set()
            args = "t, clock, y, p, d"
        names = used(
            [
                *exprs,
                *self.rates,
                *self.updates,
                *(o.expr for i, o in enumerate(outputs) if i not in copied),
            ]
        )
        loads = self.loads(names, dialect, True)
        if bind:
            return bound(name, loads, [*body.lines, *tail], "full(t, out)" if full else "rates(t)")
        lines = [*loads, *body.lines, *tail]
        return function(name, args, release(lines) if numpy else lines, dialect)

    def rows(self, order: Sequence[str], full: bool) -> dict[str, str]:
        """Locals computed straight into rows of ``dy`` (and of ``out`` with ``full``)."""
        targets = []
        for rate, block in zip(self.rates, self.layout.stocks.values(), strict=True):
            fits = isinstance(rate, sympy.Symbol) and shape_of(self.model, rate.name) == block.shape
            targets.append(block.view("dy") if fits else None)
        rows = flow_rows(self.rates, order, targets)
        if not full:
            return rows
        whole = [
            o.expr.name
            if isinstance(o.expr, sympy.Symbol)
            and o.positions is None
            and o.expr.name in self.model
            else None
            for o in self.outputs
        ]
        return output_rows(whole, order, [b.view("out") for b in self.out_blocks], rows)

    def tail(
        self, printer: Printer, rows: dict[str, str], outputs: Sequence[Output]
    ) -> tuple[list[str], set[int]]:
        """Lines writing ``dy``, ``dn`` and ``out`` (numpy), and the outputs copied from ``y``."""
        done = set(rows.values())
        lines = []
        for rate, block in zip(self.rates, self.layout.stocks.values(), strict=True):
            if block.view("dy") not in done:
                text = printer(rate) if rate != 0 else "0.0"
                lines.append(
                    rate_line(printer, block.view("dy"), rate, text, block.assign("dy", text))
                )
        lines += [
            b.assign("dn", printer(e))
            for e, b in zip(self.updates, self.layout.discrete.values(), strict=True)
        ]
        stocks: list[tuple[int, int] | None] = []
        for o in outputs:
            stock = (
                self.layout.stocks.get(o.expr.name)
                if isinstance(o.expr, sympy.Symbol) and o.positions is None
                else None
            )
            stocks.append((stock.start, stock.stop) if stock and stock.shape == o.shape else None)
        blocks = self.out_blocks[: len(outputs)]
        copies, copied = stock_copies(stocks, [(b.start, b.stop) for b in blocks])
        lines += copies
        for i, (o, block) in enumerate(zip(outputs, blocks, strict=True)):
            if block.view("out") not in done and i not in copied:
                lines.append(_record(printer, o, block))
        return lines, copied

    def scalar_tail(self, printer: Printer, outputs: Sequence[Output], full: bool) -> list[str]:
        """``return`` of the rates, discrete updates (and outputs) as lists of floats."""
        values = [printer(e) if e != 0 else "0.0" for e in self.rates]
        results = [f"[{', '.join(values)}]", f"[{', '.join(printer(e) for e in self.updates)}]"]
        if full:
            results.append(f"[{', '.join(printer(o.expr) for o in outputs)}]")
        return [f"return {', '.join(results)}"]

    def initial(self) -> str:
        """``initial(clock, p, y0, d0, delays)``: initial values in dependency order."""
        model = self.model
        printer, body = self.printer(Dialect.NUMPY, hoisted=False)
        sources = {s.name: self.spread(s.name, s.initial) for s in model.stocks}
        sources.update({s.name: self.spread(s.name, s.initial) for s in model.discrete})
        sources.update(self.original)
        order = list(initial_order(model))
        body.assign_all([local_name(n) for n in order], [sources[n] for n in order])
        delays = [s for s in model.discrete if isinstance(s, FixedDelay)]
        names = used([*sources.values(), *(s.delay for s in delays)])
        lines = ["t = t0", *self.loads(names, Dialect.NUMPY, False, hoisted=False), *body.lines]
        lines += [b.assign("y0", local_name(n)) for n, b in self.layout.stocks.items()]
        lines += [b.assign("d0", local_name(n)) for n, b in self.layout.discrete.items()]
        lines += [
            self.layout.delays[s.name].assign("delays", printer(self.spread(s.name, s.delay)))
            for s in delays
        ]
        return function("initial", "clock, p, y0, d0, delays", lines, Dialect.NUMPY)


def _record(printer: Printer, output: Output, block: Block) -> str:
    """The line writing ``output`` into its rows of ``out``."""
    value = printer(output.expr)
    if output.positions is not None:
        flat = f"np.reshape({value}, (-1, M))" if output.shape else value
        return f"out[{block.start}] = {flat}[{output.positions[0]}]"
    if output.expr.is_Symbol:
        return block.assign("out", value)
    return printer.into(output.expr, block.view("out"))


def _literal(value: tuple[Any, ...]) -> str:
    """A constant of the module: index positions as an integer array, pieces as tuples."""
    if all(isinstance(v, int) for v in value):
        return f"np.array({list(value)!r}, dtype=np.intp)"
    if all(isinstance(v, float) for v in value):
        return f"np.array({list(value)!r}, dtype=float)"
    return repr(value)
