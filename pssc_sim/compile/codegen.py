"""Generation of the model kernel: one Python module of numpy (and scalar) code per model.

The kernel is generated from the IR only: names are validated identifiers, numbers are printed
with ``repr(float)``, and every function comes from the printer's table. The module defines

``initial(clock, p, y0, d0, delays)``
    initial values of the stocks, discrete states and fixed delays, in dependency order;
``prepare(clock, p)``
    the parameters with a row more for each term hoisted out of the step (see
    :mod:`pssc_sim.compile.hoisting`); the kernels below take this prepared ``p``;
``rates(t, clock, y, p, d, dy, dn)``
    ``dy = N @ flows`` and the discrete updates ``dn``, for arrays shaped ``(n, n_members)``;
``full(t, clock, y, p, d, dy, dn, out)``
    the same and every recorded output into ``out``;
``rates_scalar`` / ``full_scalar``
    the same on lists of floats for a single member, returning lists.
``bind_rates(clock, y, p, d, dy, dn)``
    ``rates`` bound to arrays that a fixed-step loop updates in place, returned as ``rates(t)``:
    their rows are taken once per run, not at every step;
``bind_full(clock, y, p, d, dy, dn)``
    ``full`` bound in the same way, returned as ``full(t, out)``.

``clock`` is ``(dt, start, stop)``. Common sub-expressions are shared (sympy's ``cse``); each
shared term is emitted just before the first equation that uses it, which keeps the dependency
order valid.

Lookups with flat extrapolation (the Vensim default) are generated inline: ``np.interp`` on point
arrays made once per module, and a branch tree of the segments in the scalar kernels. The numpy
kernels write ``dy`` rows and computed outputs in place, giving the row as the ufunc's positional
output (``out=`` as a keyword costs several hundred nanoseconds a call to parse); a flow that is
the only flow of a stock is computed straight into that stock's row of ``dy``, and recorded
stocks in consecutive rows are copied into ``out`` with one copy per run. At a thousand members a
numpy call costs about as much as its arithmetic, so each call and copy taken out of a step
counts (``benchmarks/bench_scenario_ensemble.py``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import sympy

from pssc_sim.compile.hoisting import Invariants, hoist, symbols_of
from pssc_sim.compile.printer import GROUP, Dialect, Printer, number_definitions
from pssc_sim.ir.functions import FINAL_TIME, INITIAL_TIME, TIME, TIME_STEP, variable_symbol
from pssc_sim.ir.model import Extrapolation, FixedDelay, Lookup, Model, SampleMemory
from pssc_sim.parse.model_file import initial_order

_CLOCK_NAMES = {TIME: "t", TIME_STEP: "dt", INITIAL_TIME: "t0", FINAL_TIME: "t1"}
#: The locals a kernel binds: model variables (``v_``), shared sub-expressions (``c_``) and
#: hoisted rows of the parameters (``q_``).
_LOCAL = re.compile(r"\b[vcq]_\w+")
#: Reads of the clock in generated code (every other name there is ``v_``, ``c_``, ``np`` or
#: an array: ``y``, ``p``, ``d``, ``dy``, ``dn``, ``out``).
_CLOCK = re.compile(r"\b(dt|t0|t1)\b")
_TIME = re.compile(r"\bt\b")


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

    def assign_all(self, targets: Sequence[str], exprs: Sequence[sympy.Expr],
                   rows: Mapping[str, str] | None = None, scratch: bool = False) -> None:
        """Emit ``target = expr`` in order, sharing sub-expressions between them.

        A target in ``rows`` is bound to that array row and computed into it in place. With
        ``scratch``, so is every other target that is a sum or product of arrays, into a row
        named ``s_<target>`` that :func:`_bound` assigns (see :func:`_scratch_rows`).
        """
        rows = rows or {}
        replacements, reduced = sympy.cse(list(exprs), symbols=sympy.numbered_symbols("cse"),
                                          order="none")
        pending = dict(replacements)
        for symbol, value in replacements:
            self.names[symbol] = f"c_{symbol.name}"
            if self.printer.is_scalar(value):  # in dependency order, so nested terms are known
                self.printer.scalars.add(symbol)
        for target, expr in zip(targets, reduced, strict=True):
            self._emit_pending(expr, pending)
            row = rows.get(target)
            if row is None and scratch and isinstance(expr, sympy.Add | sympy.Mul) \
                    and not self.printer.is_scalar(expr):
                row = f"s_{target}"
            if row is not None:
                self.lines += [f"{target} = {row}", self.printer.into(expr, target)]
                continue
            text = self.printer(expr)
            if (expr.is_Number and self.printer.dialect is Dialect.NUMPY
                    and not self.printer.named_numbers):
                text = f"np.float64({text})"  # a constant: numpy's rules downstream, as the clock
            self.lines.append(f"{target} = {text}")

    def _emit_pending(self, expr: sympy.Basic, pending: dict[sympy.Symbol, sympy.Expr]) -> None:
        for symbol in sorted(expr.free_symbols & pending.keys(), key=lambda s: s.name):
            if symbol in pending:
                value = pending.pop(symbol)
                self._emit_pending(value, pending)
                self.lines.append(f"{self.names[symbol]} = {self.printer(value)}")


def _loads(model: Model, used: set[str], dialect: Dialect, with_state: bool,
           invariants: Invariants | None = None) -> list[str]:
    """Lines that bind the stocks, parameters (hoisted rows too) and discrete states used."""
    hoisted = invariants or Invariants((), ())
    parameters = [(n, local_name(n)) for n in model.parameter_names]
    parameters += [(s.name, name) for s, name in symbols_of(hoisted)]
    groups = [("p", parameters)]
    if with_state:
        groups = [("y", [(n, local_name(n)) for n in model.stock_names]), *groups,
                  ("d", [(s.name, local_name(s.name)) for s in model.discrete])]
    lines = []
    for array, names in groups:
        if dialect is Dialect.SCALAR and any(n in used for n, _ in names):
            targets = ", ".join(name if n in used else "_" for n, name in names)
            lines.append(f"{targets}, = {array}")
            continue
        lines += [f"{name} = {array}[{i}]" for i, (n, name) in enumerate(names) if n in used]
    return lines


def _used(exprs: Iterable[sympy.Expr]) -> set[str]:
    return {s.name for e in exprs for s in e.free_symbols}


def _function(name: str, args: str, lines: list[str], dialect: Dialect = Dialect.SCALAR) -> str:
    # The clock is bound only when the body reads it: a few hundred nanoseconds a call, which
    # counts in a step of a small model.
    text = "\n".join(lines)
    clock = ["dt, t0, t1 = clock"] if _CLOCK.search(text) else []
    if dialect is Dialect.NUMPY:
        # numpy floats: arithmetic on the clock alone gives inf or nan, as on arrays, where
        # Python floats would raise (e.g. in the branch of an IF_THEN_ELSE that is not taken).
        clock = ["dt, t0, t1 = map(np.float64, clock)"] if clock else []
        clock += ["t = np.float64(t)"] if args.startswith("t,") and _TIME.search(text) else []
    body = [*clock, *lines] if "clock" in args else lines
    return f"def {name}({args}):\n" + "".join(f"    {line}\n" for line in body or ["pass"])


def _flat_lookups(model: Model) -> list[Lookup]:
    return [lk for lk in model.lookups if lk.extrapolation is Extrapolation.FLAT]


def _lookup_templates(model: Model, dialect: Dialect) -> dict[str, str]:
    """Call templates of the lookups generated inline, for :class:`Printer`."""
    if dialect is Dialect.NUMPY:
        template = "np.interp({{}}, _x_{0}, _y_{0})"
    else:
        template = "_lookup_{0}_flat({{}})"
    return {lk.name: template.format(lk.name) for lk in _flat_lookups(model)}


def _lookup_definitions(model: Model) -> str:
    """Point arrays and scalar functions of the lookups with flat extrapolation."""
    lines: list[str] = []
    for lookup in _flat_lookups(model):
        xs, ys = (", ".join(repr(float(v)) for v in values) for values in (lookup.x, lookup.y))
        lines += [f"_x_{lookup.name} = np.array([{xs}])", f"_y_{lookup.name} = np.array([{ys}])"]
    for lookup in _flat_lookups(model):
        lines += ["", *_scalar_lookup(lookup)]
    return "\n".join(lines) + "\n" if lines else ""


def _scalar_lookup(lookup: Lookup) -> list[str]:
    """A function evaluating ``lookup`` at a float, as ``Lookup.scalar`` does, without a search.

    Each segment is ``y0 + (y1 - y0) * (x - x0) / (x1 - x0)`` with the differences folded into
    constants, so the result is the same float; a NaN argument gives NaN.
    """
    xs, ys = [float(v) for v in lookup.x], [float(v) for v in lookup.y]
    lines = [f"def _lookup_{lookup.name}_flat(x):",
             f"    if x <= {xs[0]!r}:", f"        return {ys[0]!r}",
             f"    if x >= {xs[-1]!r}:", f"        return {ys[-1]!r}"]
    if len(xs) == 1:
        return [*lines, "    return x"]
    return lines + _segments(xs, ys, 0, len(xs) - 2, "    ")


def _segments(xs: list[float], ys: list[float], low: int, high: int, indent: str) -> list[str]:
    """A balanced tree of tests choosing the segment ``i`` with ``xs[i] <= x < xs[i + 1]``."""
    if low == high:
        slope = f"({ys[low + 1] - ys[low]!r}) * (x - ({xs[low]!r})) / {xs[low + 1] - xs[low]!r}"
        return [f"{indent}return ({ys[low]!r}) + {slope}"]
    middle = (low + high + 1) // 2
    return [f"{indent}if x < {xs[middle]!r}:", *_segments(xs, ys, low, middle - 1, indent + "    "),
            *_segments(xs, ys, middle, high, indent)]


def generate_source(model: Model, outputs: Sequence[Output]) -> str:
    """The Python source of the kernel module for ``model``, recording ``outputs``."""
    original = algebraic_equations(model)
    rates, updates = stock_rates(model), discrete_updates(model)
    exprs, invariants = hoist(model, [*original.values(), *updates, *(o.expr for o in outputs)])
    equations = dict(zip(original, exprs[:len(original)], strict=True))
    updates = exprs[len(original):len(original) + len(updates)]
    outputs = [Output(o.name, e) for o, e in zip(outputs, exprs[-len(outputs):], strict=True)
               ] if outputs else []
    parts = ["# Generated by pssc_sim from the IR of model '" + model.name + "'.\n",
             _lookup_definitions(model), _prepare(model, invariants)]
    for dialect in Dialect:
        suffix = "" if dialect is Dialect.NUMPY else "_scalar"
        for full in (False, True):
            roots = [*rates, *updates, *(o.expr for o in outputs if full)]
            order = list(equations) if full else needed(equations, roots)
            name = f"{'full' if full else 'rates'}{suffix}"
            parts.append(_kernel(model, dialect, equations, order, rates, updates,
                                 outputs if full else None, name, invariants))
    order = needed(equations, [*rates, *updates])
    parts.append(_kernel(model, Dialect.NUMPY, equations, order, rates, updates, None,
                         "bind_rates", invariants, bound=True))
    parts.append(_kernel(model, Dialect.NUMPY, equations, list(equations), rates, updates,
                         outputs, "bind_full", invariants, bound=True))
    parts.append(_initial(model))
    source = "\n".join(parts)
    numbers = number_definitions(source)
    return "\n".join([parts[0], *numbers, *parts[1:]]) if numbers else source


def _prepare(model: Model, invariants: Invariants) -> str:
    """``prepare(clock, p)``: ``p`` with a row more for each hoisted term, or ``p`` itself."""
    if not invariants.symbols:
        return _function("prepare", "clock, p", ["return p"])
    names = symbol_names(model)
    printer = Printer(Dialect.NUMPY, names, _lookup_templates(model, Dialect.NUMPY),
                      named_numbers=True)
    body = _Body(printer, names)
    n_params = len(model.parameter_names)
    targets = [f"q[{n_params + j}]" for j in range(len(invariants.symbols))]
    body.assign_all(targets, invariants.exprs)
    lines = [*_loads(model, _used(invariants.exprs), Dialect.NUMPY, False),
             f"q = np.empty(({n_params + len(targets)}, p.shape[1]))", f"q[:{n_params}] = p",
             # as in the kernels, a term that cannot be evaluated (in a branch not taken, or
             # reported with its variable at the first step) gives inf or nan, not a warning
             "with np.errstate(all='ignore'):", *(f"    {line}" for line in body.lines),
             "return q"]
    return _function("prepare", "clock, p", lines, Dialect.NUMPY)


def _kernel(model: Model, dialect: Dialect, equations: Mapping[str, sympy.Expr], order: list[str],
            rates: list[sympy.Expr], updates: list[sympy.Expr], outputs: Sequence[Output] | None,
            name: str, invariants: Invariants, bound: bool = False) -> str:
    names = symbol_names(model)
    names.update(symbols_of(invariants))
    printer = Printer(dialect, names, _lookup_templates(model, dialect), named_numbers=True)
    body = _Body(printer, names)
    exprs = [equations[n] for n in order]
    tail = [*rates, *updates, *(o.expr for o in outputs or ())]
    rows = _flow_rows(rates, order) if dialect is Dialect.NUMPY else {}
    if dialect is Dialect.NUMPY and outputs is not None:
        rows = _output_rows(outputs, order, rows)
    body.assign_all([local_name(n) for n in order], exprs, rows, scratch=bound)
    printer = body.printer
    values = [printer(e) if e != 0 else "0.0" for e in rates]
    news = [printer(e) for e in updates]
    shown = [printer(o.expr) for o in outputs or ()]
    if dialect is Dialect.NUMPY:
        tail_lines = [_rate_line(printer, i, e, v) for i, (e, v) in enumerate(zip(rates, values,
                                                                                   strict=True))
                      if f"dy[{i}]" not in rows.values()]
        tail_lines += [f"dn[{i}] = {v}" for i, v in enumerate(news)]
        copies, copied = _stock_copies(model, outputs or ())
        tail_lines += copies
        tail_lines += [f"out[{i}] = {v}" if o.expr.is_Symbol else printer.into(o.expr, f"out[{i}]")
                       for i, (o, v) in enumerate(zip(outputs or (), shown, strict=True))
                       if f"out[{i}]" not in rows.values() and i not in copied]
        tail = [*rates, *updates,
                *(o.expr for i, o in enumerate(outputs or ()) if i not in copied)]
        args = "t, clock, y, p, d, dy, dn" + (", out" if outputs is not None else "")
    else:
        results = [f"[{', '.join(values)}]", f"[{', '.join(news)}]"]
        if outputs is not None:
            results.append(f"[{', '.join(shown)}]")
        tail_lines = [f"return {', '.join(results)}"]
        args = "t, clock, y, p, d"
    used = _used([*exprs, *tail])
    loads = _loads(model, used, dialect, True, invariants)
    if bound:
        return _bound(name, loads, [*body.lines, *tail_lines], len(rates), len(updates),
                      "full(t, out)" if outputs is not None else "rates(t)")
    lines = [*loads, *body.lines, *tail_lines]
    return _function(name, args, _release(lines) if dialect is Dialect.NUMPY else lines, dialect)


_ROW = re.compile(r"\b(dy|dn)\[(\d+)\]")
_ROW_ASSIGNMENT = re.compile(r"^(dy|dn)\[(\d+)\] =")
_STOCK_RUN = re.compile(r"\by\[(\d+):(\d+)\]")


def _bound(name: str, loads: list[str], lines: list[str], n_stocks: int, n_discrete: int,
           inner_call: str = "rates(t)") -> str:
    """``name(clock, y, p, d, dy, dn)``: the kernel bound to these arrays, as ``inner_call``.

    The arrays are updated in place from step to step, so their rows (and runs of stocks) are
    taken, and the clock converted, once per run instead of at every step. ``inner_call`` is
    ``rates(t)``, or ``full(t, out)`` for the kernel that also records the outputs into ``out``.
    """
    runs = sorted(set(_STOCK_RUN.findall("\n".join(lines))))
    lines, n_scratch = _scratch_rows(lines)
    outer = [*loads, *(f"dy_{i} = dy[{i}]" for i in range(n_stocks)),
             *(f"dn_{i} = dn[{i}]" for i in range(n_discrete)),
             *(f"y_{a}_{b} = y[{a}:{b}]" for a, b in runs)]
    if n_scratch:
        outer += [f"scratch = np.empty(({n_scratch}, y.shape[1]))",
                  *(f"s_{i} = scratch[{i}]" for i in range(n_scratch))]
    # a row assigned as a whole is written in place: ``dy_0[...] = x``, not a new ``dy_0``
    inner = [_STOCK_RUN.sub(r"y_\1_\2", _ROW.sub(r"\1_\2", _ROW_ASSIGNMENT.sub(
        r"\1_\2[...] =", line))) for line in lines]
    text = "\n".join(inner)
    if _CLOCK.search(text):
        outer.insert(0, "dt, t0, t1 = map(np.float64, clock)")
    if _TIME.search(text):
        inner.insert(0, "t = np.float64(t)")
    bound_names = {n for line in outer for n in _LOCAL.findall(line.split("=")[0])}
    body = _release(inner, keep=bound_names) or ["pass"]
    return (f"def {name}(clock, y, p, d, dy, dn):\n" + "".join(f"    {line}\n" for line in outer)
            + f"    def {inner_call}:\n" + "".join(f"        {line}\n" for line in body)
            + f"    return {inner_call.split('(')[0]}\n")


def _flow_rows(rates: Sequence[sympy.Expr], order: Sequence[str]) -> dict[str, str]:
    """Flows computed straight into the row of ``dy`` of a stock whose only flow they are.

    ``d(stock)/dt = flow`` would otherwise be the flow in a temporary, then a copy into ``dy``.
    """
    rows: dict[str, str] = {}
    computed = set(order)
    for i, rate in enumerate(rates):
        if isinstance(rate, sympy.Symbol) and rate.name in computed:
            rows.setdefault(local_name(rate.name), f"dy[{i}]")
    return rows


_SCRATCH = re.compile(r"^(v_\w+) = s_(v_\w+)$")
_ASSIGNMENT = re.compile(r"^([vc]_\w+) = (.*)$")


def _scratch_rows(lines: list[str]) -> tuple[list[str], int]:
    """``lines`` with each ``v_x = s_v_x`` bound to a numbered scratch row, and the row count.

    A row is taken where its local is defined and given back after the last line that reads
    the local or a local that may hold the same array (``v_y = v_x``, or a selection of it
    with a Python conditional), so a few rows serve every step, in cache, and no two live
    locals share one. A row is taken before the rows that its own line frees are given back:
    a chain of operations into it never overwrites one of its inputs.
    """
    holds: dict[str, set[str]] = {}  # local -> the scratch locals whose rows it may hold
    last: dict[str, int] = {}
    for i, line in enumerate(lines):
        scratch, assignment = _SCRATCH.match(line), _ASSIGNMENT.match(line)
        if scratch:
            holds[scratch.group(1)] = {scratch.group(2)}
        elif assignment:
            held = [holds[n] for n in _LOCAL.findall(assignment.group(2)) if n in holds]
            if held:
                holds[assignment.group(1)] = set().union(*held)
        for name in _LOCAL.findall(line):
            for owner in holds.get(name, ()):
                last[owner] = i
    ends: dict[int, list[str]] = {}
    for owner, i in last.items():
        ends.setdefault(i, []).append(owner)
    free: list[int] = []
    slots: dict[str, int] = {}
    count = 0
    result = []
    for i, line in enumerate(lines):
        match = _SCRATCH.match(line)
        if match:
            if not free:
                free, count = [count], count + 1
            slots[match.group(2)] = free.pop()
            line = f"{match.group(1)} = s_{slots[match.group(2)]}"
        result.append(line)
        free += sorted((slots[owner] for owner in ends.get(i, ())), reverse=True)
    return result, count


def _stock_copies(model: Model, outputs: Sequence[Output]) -> tuple[list[str], set[int]]:
    """Recorded stocks copied a run at a time (``out[a:b] = y[c:d]``), and the outputs copied.

    A run is recorded stocks in consecutive rows of ``out`` that are consecutive stocks: one
    copy for the run instead of one per stock. A stock alone is left to ``out[i] = v_stock``.
    """
    index = {name: i for i, name in enumerate(model.stock_names)}
    runs: list[list[int]] = []  # first output row, first stock row, length
    for i, output in enumerate(outputs):
        stock = index.get(output.expr.name) if isinstance(output.expr, sympy.Symbol) else None
        if stock is None:
            continue
        if runs and runs[-1][0] + runs[-1][2] == i and runs[-1][1] + runs[-1][2] == stock:
            runs[-1][2] += 1
        else:
            runs.append([i, stock, 1])
    runs = [run for run in runs if run[2] > 1]
    lines = [f"out[{a}:{a + n}] = y[{b}:{b + n}]" for a, b, n in runs]
    return lines, {a + j for a, _, n in runs for j in range(n)}


def _output_rows(outputs: Sequence[Output], order: Sequence[str],
                 rows: Mapping[str, str]) -> dict[str, str]:
    """``rows`` and the recorded auxiliaries and flows computed straight into their output row."""
    computed = set(order)
    chosen = dict(rows)
    for i, output in enumerate(outputs):
        name = output.expr.name if isinstance(output.expr, sympy.Symbol) else None
        if name in computed and local_name(name) not in chosen:
            chosen[local_name(name)] = f"out[{i}]"
    return chosen


def _release(lines: list[str], keep: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """``lines`` with each array local (but those in ``keep``) deleted after its last use.

    Freed temporaries are reused by the next allocations while still in cache, instead of every
    step of a large chunk touching fresh memory.
    """
    last = {name: i for i, line in enumerate(lines) for name in _LOCAL.findall(line)
            if name not in keep}
    dead: dict[int, list[str]] = {}
    for name, i in last.items():
        dead.setdefault(i, []).append(name)
    released = []
    for i, line in enumerate(lines):
        released.append(line)
        if i in dead and i < len(lines) - 1:
            released.append(f"del {', '.join(sorted(dead[i]))}")
    return released


def _rate_line(printer: Printer, row: int, rate: sympy.Expr, text: str) -> str:
    """``dy[row] = rate``, computed into the row (the positional output) when it is a sum of flows.

    The operations and their order are those of the printed sum (see ``Printer.add``), so the
    values are the same; only the temporaries go.
    """
    if len(rate.args) > GROUP:  # printed in groups (see printer.GROUP)
        return f"dy[{row}] = {text}"
    terms = list(rate.as_ordered_terms()) if isinstance(rate, sympy.Add) else [rate]
    signs, names = [], []
    for term in terms:
        coefficient, rest = term.as_coeff_Mul()
        if coefficient not in (1, -1) or not isinstance(rest, sympy.Symbol):
            return f"dy[{row}] = {text}"
        signs.append(coefficient == 1)
        names.append(printer(rest))
    if len(terms) == 1:
        return f"dy[{row}] = {text}" if signs[0] else f"np.negative({names[0]}, dy[{row}])"
    if not signs[0] and signs[1]:  # as the printer does: (-a) + b is b - a
        signs[:2], names[:2] = signs[1::-1], names[1::-1]
    lines = [f"np.negative({names[0]}, dy[{row}])" if not signs[0] else None]
    total = names[0] if signs[0] else f"dy[{row}]"
    for positive, name in zip(signs[1:], names[1:], strict=True):
        lines.append(f"np.{'add' if positive else 'subtract'}({total}, {name}, dy[{row}])")
        total = f"dy[{row}]"
    return "; ".join(line for line in lines if line)


def _initial(model: Model) -> str:
    names = symbol_names(model)
    printer = Printer(Dialect.NUMPY, names, _lookup_templates(model, Dialect.NUMPY),
                   named_numbers=True)
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
    return _function("initial", "clock, p, y0, d0, delays", lines, Dialect.NUMPY)
