"""The whole fixed-step run of a model as one compiled function (the numba back end).

The numpy kernels (:mod:`pssc_sim.compile.codegen`) are called once per step from Python, which
costs microseconds a step whatever the model. Here the generator writes the step loop itself (of
any explicit Runge-Kutta tableau: Euler, RK4), saving, non-negative clamps and the discrete
states of SAMPLE_IF_TRUE and DELAY_FIXED, around scalar kernels, and numba compiles the module
to machine code: a run pays no Python per step, and an ensemble loops over its members inside
the same function.

The module is written from the IR as the numpy kernels are (checked names, numbers printed with
``repr(float)``, calls from the printer's table) and goes through the same check of generated
source (:mod:`pssc_sim.compile.guard`). Its arithmetic is that of the numpy kernels, operation
for operation: the same equations with the same shared terms, the rates kernel on steps that are
not saved and the recording kernel on those that are, the stages and the update of the tableau
in numpy's order, lookups as ``np.interp`` computes them and their slopes as ``Lookup.slope``
does. Only the elementary functions (``exp``, ``log``, ...) may differ in the last bits, where
numpy has its own implementations.
The module defines

``rates(t, dt, t0, t1, y, p, d, dy, dn)``
    the stock rates and discrete updates of one member, on 1-D arrays;
``full(t, dt, t0, t1, y, p, d, dy, dn, out, row, m)``
    the same, and the outputs into ``out[row, :, m]`` (through its view ``out_row``);
``run(times, widths, saved, clock, q, y0, d0, lengths, ring, a, c, weights, runs, denominator,
out, first, from_step, to_step, from_row)``
    the steps ``from_step`` to ``to_step`` of every member (column ``m`` of ``q``, ``y0`` and
    ``d0``) with the explicit Runge-Kutta method whose tableau is ``a`` and ``c``, and whose
    step adds the stages ``runs[g, 0]`` to ``runs[g, 1]`` times ``weights[g]`` over
    ``denominator`` (see :meth:`~pssc_sim.integrate.tableau.Tableau.weight_groups`), saving
    member ``m`` into
    ``out[:, :, first + m]`` from row ``from_row``. ``ring`` holds the DELAY_FIXED pipelines (a row
    each). A call ending before the last step writes the member's stocks and discrete states
    back into ``y0`` and ``d0``, and a call with ``from_step > 0`` starts from them and from
    ``ring`` as the previous call left it: a run in pieces (one member a call) gives the bits
    of the run in one call. It returns whether every value it saved is finite (each adds
    ``x - x`` to a sum, 0 while the values are finite), which spares the caller a pass over
    the outputs.

A model with dimensions is compiled element by element: each element of an arrayed variable is
a scalar local of its own, and the array operations are written out over the elements they read
(:mod:`pssc_sim.compile.elements`), so the loop holds scalar code alone. The few operations with
no scalar form there are refused (:class:`LoopUnsupportedError` says which).
"""

from __future__ import annotations

import functools
import math
import sys
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sympy

from pssc_sim.compile.cache import cache_key, numba_version, store
from pssc_sim.compile.codegen import _Module
from pssc_sim.compile.elements import (
    ElementPrinter,
    array_refusal,
    element_local,
    indices,
    table_lookups,
)
from pssc_sim.compile.equations import Body, needed, symbol_names, used
from pssc_sim.compile.execute import execute
from pssc_sim.compile.layout import Layout, Output
from pssc_sim.compile.printer import Dialect, Printer
from pssc_sim.compile.rows import SLACK, local_name
from pssc_sim.errors import ModelError
from pssc_sim.ir.functions import (
    LookupSlope,
    Quantile,
    TruncatedNormal,
    UniformDraw,
    variable_symbol,
)
from pssc_sim.ir.model import Extrapolation, FixedDelay, Lookup, Model

__all__ = [
    "CompiledLoop",
    "LoopUnsupportedError",
    "compile_loop",
    "generate_loop_source",
    "load_loop",
    "loop_key",
    "numba_version",
    "unsupported_reason",
]

#: The decorator the module's functions carry; the loader gives it (numba's ``njit``).
DECORATOR = "@_jit"
#: The name of ``out[row, :, m]`` in ``full``, which writes the outputs through it: a store
#: with one index is less code for numba and LLVM than one with three (measured: the ring's
#: compile, see benchmarks/README.md).
OUT_ROW = "out_row"
#: Functions of the scalar dialect that give an integer in compiled code, and numpy's versions
#: that keep a float, as the numpy kernels do (an int64 would overflow past 2**63).
_FLOAT_ROUNDING = {"math.floor(": "np.floor(", "math.ceil(": "np.ceil(", "math.trunc(": "np.trunc("}


#: Most elements of an arrayed model's stocks, flows and auxiliaries written into one loop: the
#: loop's source has a line per element, and numba's compile time grows faster than linearly
#: with it (measured: 20 CPU s for 210 elements, 135 for 630; see benchmarks/README.md).
MOST_ELEMENTS = 1_000


class LoopUnsupportedError(ModelError):
    """The model cannot be compiled into one loop (it runs on the numpy back end)."""


def unsupported_reason(model: Model) -> str:
    """Why ``model`` cannot be compiled into one loop, or ``""``.

    Examples
    --------
    >>> from pssc_sim.parse import load_model
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "m.yaml"
    >>> _ = path.write_text("time: {stop: 1}\\ndimensions: {g: [a, b]}\\n"
    ...                     "stocks: {x: {dims: [g], initial: 1}}\\n"
    ...                     "auxiliaries: {r: {dims: [g], equation: 'VECTOR_RANK(x, 1)'}}\\n")
    >>> unsupported_reason(load_model(path))
    'an equation uses VECTOR SORT ORDER, VECTOR RANK or VECTOR REORDER, which runs on arrays only'
    """
    exprs = [
        *(f.rate for f in model.flows),
        *(a.equation for a in model.auxiliaries),
        *(s.initial for s in model.stocks),
    ]
    if model.dimensions:
        measures = [m.true for m in model.measures]
        inputs = [s.input for s in model.discrete if isinstance(s, FixedDelay)]
        reason = array_refusal([*exprs, *measures, *inputs])
        if reason:
            return reason
        size = sum(b.size for b in Layout.of(model).stocks.values()) + sum(
            model.dimensions.size(getattr(item, "dims", ()))
            for item in (*model.flows, *model.auxiliaries)
        )
        if size > MOST_ELEMENTS:
            return (
                f"the model has {size} elements of stocks, flows and auxiliaries, more than "
                f"the {MOST_ELEMENTS} the compiled loop is written for"
            )
    if any(expr.atoms(TruncatedNormal) for expr in exprs):
        return (
            "an equation draws from a normal distribution (RANDOM NORMAL): its quantile is "
            "scipy's, which the compiled loop cannot call to the same bits"
        )
    if any(expr.atoms(Quantile) for expr in exprs):
        return (
            "an equation draws random numbers through a distribution's quantile (RANDOM "
            "GAMMA, BETA, POISSON, ...): it is scipy's, which the compiled loop cannot call"
        )
    return ""


def generate_loop_source(model: Model, outputs: Sequence[Output]) -> str:
    """The Python source of the compiled-loop module of ``model``, recording ``outputs``.

    Raises :class:`LoopUnsupportedError` for a model that :func:`unsupported_reason` refuses.
    """
    reason = unsupported_reason(model)
    if reason:
        raise LoopUnsupportedError(
            f"{model.source or model.name}: cannot compile the step loop "
            f"({reason}). Run it with backend='numpy'"
        )
    return _Loop(model, outputs).source()


def loop_writer(generator: _Module) -> Callable[[], str]:
    """A function writing the loop's source from the kernel module's ``generator`` (see
    :func:`~pssc_sim.compile.codegen.kernel_generator`), which found the equations' hoisted
    and shared terms already: only the printing is left (the sympy work is the expensive part).
    """

    def write() -> str:
        reason = unsupported_reason(generator.model)
        if reason:
            raise LoopUnsupportedError(
                f"{generator.model.source or generator.model.name}: "
                f"cannot compile the step loop ({reason}). Run it with "
                "backend='numpy'"
            )
        loop = _Loop.__new__(_Loop)
        loop.__dict__.update(generator.__dict__)
        return loop.source()

    return write


class _Loop(_Module):
    """Builds the compiled-loop module of one model."""

    def source(self) -> str:
        sloped = self.slopes()
        parts = [
            _HELPERS,
            *(_lookup(lk) for lk in self.model.lookups),
            *(_slope(lk) for lk in self.model.lookups if lk.name in sloped),
            *(self.array_helpers() if self.model.dimensions else []),
            *([_DRAWS] if self.draws() else []),
            self.scalar_kernel(False),
            self.scalar_kernel(True),
            self.run(),
        ]
        text = "\n".join(parts)
        for name, replacement in _FLOAT_ROUNDING.items():
            text = text.replace(name, replacement)
        return text

    def printer(self, dialect: Dialect, hoisted: bool = True) -> tuple[Printer, Body]:
        """A printer of the scalar dialect (whatever ``dialect``) calling the compiled lookups."""
        printer, body = super().printer(Dialect.SCALAR, hoisted)
        printer.lookups = {lk.name: f"_lookup_{lk.name}({{}})" for lk in self.model.lookups}
        return printer, body

    def scalar_kernel(self, full: bool) -> str:
        """``rates`` or ``full`` on the arrays of one member."""
        if self.model.dimensions:
            return self.element_kernel(full)
        outputs = self.outputs if full else []
        roots = [*self.rates, *self.updates, *(o.expr for o in outputs)]
        order = list(self.equations) if full else needed(self.equations, roots)
        printer, body = self.printer(Dialect.SCALAR)
        exprs = [self.equations[n] for n in order]
        body.assign_all([local_name(n) for n in order], exprs)
        names = used([*exprs, *self.rates, *self.updates, *(o.expr for o in outputs)])
        lines = [*self.loads(names, Dialect.NUMPY, True), *body.lines]
        lines += [f"dy[{i}] = {printer(r) if r != 0 else '0.0'}" for i, r in enumerate(self.rates)]
        lines += [f"dn[{i}] = {printer(u)}" for i, u in enumerate(self.updates)]
        args = "t, dt, t0, t1, y, p, d, dy, dn"
        if full:
            lines.append(f"{OUT_ROW} = out[row, :, m]")
            lines += [f"{OUT_ROW}[{j}] = {printer(o.expr)}" for j, o in enumerate(outputs)]
            args += ", out, row, m"
        return _function("full" if full else "rates", args, lines)

    def draws(self) -> bool:
        """Whether an equation draws uniform random numbers."""
        exprs = [*self.equations.values(), *self.updates, *(o.expr for o in self.outputs)]
        return any(expr.atoms(UniformDraw) for expr in exprs)

    def slopes(self) -> set[str]:
        """The lookups whose slope an equation takes."""
        exprs = [*self.equations.values(), *self.updates, *(o.expr for o in self.outputs)]
        return {f.lookup_name for expr in exprs for f in expr.atoms(LookupSlope)}

    def array_helpers(self) -> list[str]:
        """``_min``, ``_max`` and the compiled function of each table of an arrayed lookup."""
        self.tables: dict[tuple[tuple[float, ...], tuple[float, ...]], str] = {}
        parts = [_ARRAY_HELPERS]
        exprs = [*self.equations.values(), *self.updates, *(o.expr for o in self.outputs)]
        for spec in table_lookups(exprs):
            for xs, ys in spec.tables:
                if (xs, ys) not in self.tables:
                    name = f"_table_{len(self.tables)}"
                    self.tables[(xs, ys)] = name
                    text = _lookup(Lookup("table", xs, ys))
                    parts.append(text.replace("def _lookup_table(", f"def {name}(", 1))
        return parts

    def element_kernel(self, full: bool) -> str:
        """``rates`` or ``full`` of a model with dimensions: one scalar line per element."""
        outputs = self.outputs if full else []
        roots = [*self.rates, *self.updates, *(o.expr for o in outputs)]
        order = list(self.equations) if full else needed(self.equations, roots)
        exprs = [self.equations[n] for n in order]
        names = symbol_names(self.model)
        shapes: dict[sympy.Symbol, tuple[int, ...]] = dict(self.shapes)
        for j, (symbol, shape) in enumerate(
            zip(self.invariants.symbols, self.hoisted_shapes(), strict=True)
        ):
            names[symbol] = f"q_{j}"
            shapes[symbol] = shape
        printer = ElementPrinter(
            names,
            shapes,
            {lk.name: f"_lookup_{lk.name}({{}})" for lk in self.model.lookups},
            getattr(self, "tables", {}),
        )
        key = tuple(exprs)
        if key not in self.shared:  # as Body does: the numpy kernels' shared terms, if found
            self.shared[key] = sympy.cse(
                list(exprs), symbols=sympy.numbered_symbols("cse"), order="none"
            )
        replacements, reduced = self.shared[key]
        pending = dict(replacements)
        for symbol, value in replacements:
            names[symbol] = f"c_{symbol.name}"
            shapes[symbol] = printer.shape(value)
            printer.definitions[symbol] = value
        lines = self.element_loads(used([*exprs, *roots]))

        def emit(symbol: sympy.Symbol, value: sympy.Basic) -> None:
            for inner in sorted(value.free_symbols & pending.keys(), key=lambda s: s.name):
                if inner in pending:
                    emit(inner, pending.pop(inner))
            shape = shapes.get(symbol, ())
            for k, index in enumerate(indices(shape)):
                target = element_local(names[symbol], shape, k)
                lines.extend(printer.assign(target, value, index))

        for name, expr in zip(order, reduced, strict=True):
            emit(variable_symbol(name), expr)
        for rate, block in zip(self.rates, self.layout.stocks.values(), strict=True):
            for k, index in enumerate(indices(block.shape)):
                lines += printer.assign(f"dy[{block.start + k}]", rate, index)
        for update, block in zip(self.updates, self.layout.discrete.values(), strict=True):
            for k, index in enumerate(indices(block.shape)):
                lines += printer.assign(f"dn[{block.start + k}]", update, index)
        args = "t, dt, t0, t1, y, p, d, dy, dn"
        if full:
            lines.append(f"{OUT_ROW} = out[row, :, m]")
            for o, block in zip(outputs, self.out_blocks, strict=True):
                if o.positions is None:
                    chosen = list(indices(o.shape))
                else:
                    chosen = [tuple(int(i) for i in np.unravel_index(o.positions[0], o.shape))]
                for k, index in enumerate(chosen):
                    lines += printer.assign(f"{OUT_ROW}[{block.start + k}]", o.expr, index)
            args += ", out, row, m"
        return _function("full" if full else "rates", args, lines)

    def hoisted_shapes(self) -> list[tuple[int, ...]]:
        """The shape of each hoisted term (``()`` without dimensions)."""
        return [b.shape for b in self.hoisted.values()]

    def element_loads(self, names: set[str]) -> list[str]:
        """Lines binding each element of the stocks, parameters, hoisted terms and discrete
        states used to its own local."""
        layout = self.layout
        groups = [
            ("y", [(n, local_name(n), b) for n, b in layout.stocks.items()]),
            ("p", [(n, local_name(n), b) for n, b in layout.parameters.items()]),
            ("p", [(n, f"q_{j}", b) for j, (n, b) in enumerate(self.hoisted.items())]),
            ("d", [(n, local_name(n), b) for n, b in layout.discrete.items()]),
        ]
        return [
            f"{element_local(local, block.shape, k)} = {array}[{block.start + k}]"
            for array, entries in groups
            for name, local, block in entries
            if name in names
            for k in range(block.size)
        ]

    def run(self) -> str:
        """``run``: every step of every member.

        ``rates`` and ``full`` are each called from one place (numba's code generator inlines
        them where they are called: its time grows with the code it optimises at once). The
        method is data, an explicit Runge-Kutta tableau (see
        :mod:`pssc_sim.integrate.tableau`): the stages of a step are a loop, stage 0 the rates
        at the step's start (unless ``full`` gave them on a saved step), stage ``s`` the rates at
        ``t + c[s] h`` from ``y + h sum_j a[s, j] k_j``, then the step adds the runs of stages
        that share a weight. Every operation is the numpy loop's, in its order (see
        ``pssc_sim.integrate.fixed``), with the discrete states held within a step.
        """
        model = self.model
        n_stocks = max((b.stop for b in self.layout.stocks.values()), default=0)
        n_discrete = max((b.stop for b in self.layout.discrete.values()), default=0)
        n_parameters = max(
            (b.stop for b in self.hoisted.values()), default=self.layout.n_parameter_rows
        )
        fixed = list(self.layout.fixed_delay_rows())
        memories = [i for i in range(n_discrete) if i not in fixed]
        stocks = f"for i in range({n_stocks}):"
        lines = [
            "dt = clock[0]",
            "t0 = clock[1]",
            "t1 = clock[2]",
            "n_steps = times.shape[0]",
            "n_stages = c.shape[0]",
            f"y = np.empty({n_stocks})",
            f"trial = np.empty({n_stocks})",
            f"term = np.empty({n_stocks})",
            f"total = np.empty({n_stocks})",
            f"stages = np.empty((n_stages, {n_stocks}))",
            "dy = stages[0]",
            f"d = np.empty({n_discrete})",
            f"dn = np.empty({n_discrete})",
            f"spare = np.empty({n_discrete})",
            f"p = np.empty({n_parameters})",
            "check = 0.0",
            "for m in range(q.shape[1]):",
            f"    for i in range({n_parameters}):",
            "        p[i] = q[i, m]",
            f"    {stocks}",
            "        y[i] = y0[i, m]",
            f"    for i in range({n_discrete}):",
            "        d[i] = d0[i, m]",
        ]
        if fixed:
            lines.append("    if from_step == 0:")
        for j, i in enumerate(fixed):
            lines += [
                f"        for s in range(lengths[{j}, m]):",
                f"            ring[{j}, s] = d[{i}]",
            ]
        lines += [
            "    row = from_row",
            "    for k in range(from_step, to_step):",
            "        t = times[k]",
            "        h = widths[k]",
            "        begin = 0",
            "        if saved[k]:",
            "            full(t, dt, t0, t1, y, p, d, dy, dn, out, row, first + m)",
            *_CHECK_SAVED,
            "            row += 1",
            "            begin = 1",
            "        for s in range(begin, n_stages):",
            "            started = False",
            "            for j in range(s):",
            "                if a[s, j] != 0.0:",
            "                    coefficient = h * a[s, j]",
            "                    if started:",
            f"                        {stocks}",
            "                            trial[i] = trial[i] + stages[j, i] * coefficient",
            "                    else:",
            f"                        {stocks}",
            "                            trial[i] = stages[j, i] * coefficient",
            "                        started = True",
            f"            {stocks}",
            "                trial[i] = trial[i] + y[i] if started else y[i]",
            "            rates(t + c[s] * h, dt, t0, t1, trial, p, d, stages[s],"
            " dn if s == 0 else spare)",
            "        for g in range(weights.shape[0]):",
            "            low = runs[g, 0]",
            "            high = runs[g, 1]",
            "            w = weights[g]",
            f"            {stocks}",
            "                if high - low == 1:",
            "                    value = stages[low, i] if w == 1.0 else stages[low, i] * w",
            "                else:",
            "                    value = stages[low, i] + stages[low + 1, i]",
            "                    for j in range(low + 2, high):",
            "                        value = value + stages[j, i]",
            "                    if w != 1.0:",
            "                        value = value * w",
            "                total[i] = value if g == 0 else total[i] + value",
            "        scale = h / denominator",
            f"        {stocks}",
            "            y[i] = y[i] + total[i] * scale",
        ]
        for i in model.non_negative_rows():
            lines += [f"        if y[{i}] < 0.0:", f"            y[{i}] = 0.0"]
        lines += [f"        d[{i}] = dn[{i}]" for i in memories]
        for j, i in enumerate(fixed):
            lines += [
                f"        n = lengths[{j}, m]",
                f"        ring[{j}, k % n] = dn[{i}]",
                f"        d[{i}] = ring[{j}, (k + 1) % n]",
            ]
        lines += [
            "    if to_step == n_steps:",
            "        full(t1, dt, t0, t1, y, p, d, dy, dn, out, row, first + m)",
            *(line[4:] for line in _CHECK_SAVED),
            "    else:",
            f"        {stocks}",
            "            y0[i, m] = y[i]",
            f"        for i in range({n_discrete}):",
            "            d0[i, m] = d[i]",
            "return check == 0.0",
        ]
        return _function("run", f"{RUN_ARGUMENTS}", lines)


#: The lines of ``run`` after ``full`` saved a row: ``x - x`` of each value added to ``check``
#: (0 for a finite ``x``, NaN for an infinite or NaN one), read back while the row is in cache.
_CHECK_SAVED = (
    "            saved_sum = 0.0",
    "            for j in range(out.shape[1]):",
    "                saved_sum += out[row, j, first + m]",
    "            check += saved_sum - saved_sum",
)

#: The arguments of the generated ``run`` (see the module docstring).
RUN_ARGUMENTS = (
    "times, widths, saved, clock, q, y0, d0, lengths, ring, a, c, weights, runs, denominator, "
    "out, first, from_step, to_step, from_row"
)


def _indent(lines: list[str], spaces: int) -> list[str]:
    return [" " * spaces + line for line in lines]


def _function(name: str, args: str, lines: list[str]) -> str:
    if any(SLACK.search(line) for line in lines):
        # the loop runs the fixed-step methods only: Vensim's switching tolerances
        lines = ["slack = 1.0", *lines]
    return f"{DECORATOR}\ndef {name}({args}):\n" + "".join(
        f"    {line}\n" for line in lines or ["pass"]
    )


#: ``_sign`` and ``_heaviside`` of the scalar dialect, as compiled functions.
_HELPERS = f"""{DECORATOR}
def _sign(x):
    if x > 0.0:
        return 1.0
    if x < 0.0:
        return -1.0
    return 0.0 * x

{DECORATOR}
def _heaviside(x):
    if x > 0.0:
        return 1.0
    if x == 0.0:
        return 0.5
    if x < 0.0:
        return 0.0
    return x
"""


#: ``_min`` and ``_max`` of two values as numpy's ``minimum`` and ``maximum`` (NaN wins), for
#: the aggregations of arrayed models; ``_vector_select`` and ``_element_at`` as the numpy
#: kernels' helpers compute VECTOR SELECT (the action numbers of Vensim's documentation, as
#: ``pssc_sim.compile.array_kernels`` reads them) and VECTOR ELM MAP, on tuples of elements.
_ARRAY_HELPERS = f"""{DECORATOR}
def _min(a, b):
    if a != a:
        return a
    if b != b:
        return b
    return a if a <= b else b

{DECORATOR}
def _max(a, b):
    if a != a:
        return a
    if b != b:
        return b
    return a if a >= b else b

{DECORATOR}
def _vector_select(selection, values, missing, action):
    count = 0.0
    for i in range(len(values)):
        if selection[i] != 0.0:
            count = count + 1.0
    if count == 0.0:
        return missing
    code = np.rint(action)
    if not 0.0 <= code <= 10.0:
        return np.nan
    if code == 2.0 or code == 8.0:
        total = np.inf
    elif code == 3.0 or code == 9.0:
        total = -np.inf
    elif code == 1.0 or code == 5.0 or code == 7.0:
        total = 1.0
    else:
        total = 0.0
    for i in range(len(values)):
        if selection[i] != 0.0:
            if code <= 4.0:
                term = selection[i] * values[i]
            elif code == 5.0:
                term = values[i] ** selection[i]
            else:
                term = values[i]
            if code == 2.0 or code == 8.0:
                total = _min(total, term)
            elif code == 3.0 or code == 9.0:
                total = _max(total, term)
            elif code == 1.0 or code == 5.0 or code == 7.0:
                total = total * term
            else:
                total = total + term
    if code == 4.0 or code == 10.0:
        return total / count
    return total

{DECORATOR}
def _element_at(values, offset):
    if -0.5 <= offset < len(values) - 0.5:
        return values[int(np.rint(offset))]
    return np.nan
"""


#: ``_uniform_draw_scalar`` of :mod:`pssc_sim.compile.draws` on 64-bit words: each key rounded
#: to an integer (negative ones wrap), mixed into the state by the SplitMix64 finaliser, the top
#: 53 bits giving the number: the same bits as the numpy kernels draw.
_DRAWS = f"""{DECORATOR}
def _draw_mix(x):
    x = x + np.uint64({0x9E3779B97F4A7C15})
    x = (x ^ (x >> np.uint64(30))) * np.uint64({0xBF58476D1CE4E5B9})
    x = (x ^ (x >> np.uint64(27))) * np.uint64({0x94D049BB133111EB})
    return x ^ (x >> np.uint64(31))

{DECORATOR}
def _draw_word(value):
    return np.uint64(np.int64(np.rint(value)))

{DECORATOR}
def _uniform_draw_scalar(call, call_seed, seed, member, step):
    state = _draw_mix(np.uint64(0))
    state = _draw_mix(state ^ _draw_word(call))
    state = _draw_mix(state ^ _draw_word(call_seed))
    state = _draw_mix(state ^ _draw_word(seed))
    state = _draw_mix(state ^ _draw_word(member))
    state = _draw_mix(state ^ _draw_word(step))
    return (np.float64(state >> np.uint64(11)) + 0.5) * {2.0**-53!r}
"""


def _lookup(lookup: Lookup) -> str:
    """``_lookup_<name>(x)``: the lookup at ``x`` as ``Lookup.__call__`` computes it.

    Inside the points, numpy's ``interp``: ``slope * (x - x0) + y0`` with the segment's slope
    ``(y1 - y0) / (x1 - x0)``, found by a balanced tree of tests; outside, the end values (flat),
    the end segments continued (linear) or the value of the last point passed (discrete).
    """
    xs, ys = [float(v) for v in lookup.x], [float(v) for v in lookup.y]
    kind = lookup.extrapolation
    lines = [
        f"if x < {xs[0]!r}:",
        f"    return {_below(xs, ys, kind)}",
        f"if x > {xs[-1]!r}:",
        f"    return {_above(xs, ys, kind)}",
        f"if x >= {xs[-1]!r}:",
        f"    return {ys[-1]!r}",
    ]
    if len(xs) == 1:
        lines.append("return x")  # NaN, as np.interp gives
    elif kind is Extrapolation.DISCRETE:
        lines += [*_steps(xs, ys, 0, len(xs) - 1, ""), f"return {ys[-1]!r}"]  # NaN: the last
    else:
        lines += _segments(xs, ys, 0, len(xs) - 2, "")
    return _function(f"_lookup_{lookup.name}", "x", lines)


def _slope(lookup: Lookup) -> str:
    """``slope_<name>_scalar(x)``: the slope of the lookup at ``x`` as ``Lookup.slope`` gives
    it (the name the scalar dialect calls).

    The segment ``i`` with ``xs[i] <= x < xs[i + 1]``, the end segments continued beyond the
    points (a NaN takes the last, as numpy's ``searchsorted`` puts it last); 0 beyond the points
    of a flat lookup, and everywhere for a discrete lookup or a single point.
    """
    xs, ys = [float(v) for v in lookup.x], [float(v) for v in lookup.y]
    name = f"slope_{lookup.name}_scalar"
    if len(xs) < 2 or lookup.extrapolation is Extrapolation.DISCRETE:
        return _function(name, "x", ["return 0.0"])
    lines = []
    if lookup.extrapolation is Extrapolation.FLAT:
        lines += [f"if x < {xs[0]!r} or x > {xs[-1]!r}:", "    return 0.0"]
    lines += _slopes(xs, ys, 0, len(xs) - 2, "")
    return _function(name, "x", lines)


def _slopes(xs: list[float], ys: list[float], low: int, high: int, indent: str) -> list[str]:
    """Tests choosing the segment of ``x`` (the ends open), then its slope."""
    if low == high:
        return [f"{indent}return {(ys[low + 1] - ys[low]) / (xs[low + 1] - xs[low])!r}"]
    middle = (low + high + 1) // 2
    return [
        f"{indent}if x < {xs[middle]!r}:",
        *_slopes(xs, ys, low, middle - 1, indent + "    "),
        *_slopes(xs, ys, middle, high, indent),
    ]


def _below(xs: list[float], ys: list[float], kind: Extrapolation) -> str:
    if kind is Extrapolation.LINEAR and len(xs) > 1:
        slope = (ys[1] - ys[0]) / (xs[1] - xs[0])
        return f"{ys[0]!r} + (x - {xs[0]!r}) * {slope!r}"
    return repr(ys[0])


def _above(xs: list[float], ys: list[float], kind: Extrapolation) -> str:
    if kind is Extrapolation.LINEAR and len(xs) > 1:
        slope = (ys[-1] - ys[-2]) / (xs[-1] - xs[-2])
        return f"{ys[-1]!r} + (x - {xs[-1]!r}) * {slope!r}"
    return repr(ys[-1])


def _segments(xs: list[float], ys: list[float], low: int, high: int, indent: str) -> list[str]:
    """Tests choosing the segment ``i`` with ``xs[i] <= x < xs[i + 1]``, then its value."""
    if low == high:
        slope = (ys[low + 1] - ys[low]) / (xs[low + 1] - xs[low])
        value = f"{indent}return {slope!r} * (x - {xs[low]!r}) + {ys[low]!r}"
        if math.isfinite(slope):
            return [value]
        # points closer than a slope can say (data held between times): at the first point
        # its value, as np.interp gives, rather than 0 times an infinite slope
        return [f"{indent}if x == {xs[low]!r}:", f"{indent}    return {ys[low]!r}", value]
    middle = (low + high + 1) // 2
    return [
        f"{indent}if x < {xs[middle]!r}:",
        *_segments(xs, ys, low, middle - 1, indent + "    "),
        *_segments(xs, ys, middle, high, indent),
    ]


def _steps(xs: list[float], ys: list[float], low: int, high: int, indent: str) -> list[str]:
    """Tests choosing the last point ``i`` with ``xs[i] <= x`` (a discrete lookup)."""
    if low == high:
        return [f"{indent}if x >= {xs[low]!r}:", f"{indent}    return {ys[low]!r}"]
    middle = (low + high + 1) // 2
    return [
        f"{indent}if x < {xs[middle]!r}:",
        *_steps(xs, ys, low, middle - 1, indent + "    "),
        *_steps(xs, ys, middle, high, indent),
    ]


#: Runs steps of every member: ``run(times, widths, saved, clock, q, y0, d0, lengths, ring, a,
#: c, weights, runs, denominator, out, first, from_step, to_step, from_row)`` (see the module
#: docstring); whether every value saved is finite (``None`` from a stand-in that does not say).
LoopFunction = Callable[..., bool | None]


@dataclass(frozen=True, slots=True)
class CompiledLoop:
    """The compiled loop of a model, or why there is none (``run`` is then ``None``).

    ``ahead``: ``run`` was loaded from the extension module built ahead of time (see
    :mod:`pssc_sim.compile.aot`); ``digest``: the hash of the source compiled just in time,
    which a build of that module checks.
    """

    run: LoopFunction | None
    reason: str = ""
    key: str = ""
    ahead: bool = False
    digest: str = ""


def loop_key(model: Model, kernel_source: str) -> str:
    """The cache key of the loop of ``model``, whose numpy kernel module is ``kernel_source``
    (``""`` without numba, or for a model that cannot be compiled into one loop).

    The numpy kernels hold every equation and output; the loop adds the clamps, the kinds of
    the discrete states and the generator itself, so these are hashed too, with the versions of
    numba and numpy. Nothing is generated: the key is cheap enough to look for a stored loop
    before every run.
    """
    version = numba_version()
    if version is None:
        return ""
    fixed = list(Layout.of(model).fixed_delay_rows())
    return cache_key(
        kernel_source,
        repr(model.non_negative_rows()),
        repr(fixed),
        _generator_digest(),
        version,
        np.__version__,
    )


@functools.cache
def _generator_digest() -> str:
    """A hash of the modules that write the loop's source (a change to them is a new key)."""
    import hashlib  # loads OpenSSL: only where a compiled loop is looked for

    digest = hashlib.sha256()
    modules = ("codegen", "elements", "equations", "hoisting", "layout", "loop", "printer", "rows")
    for module in modules:
        digest.update((Path(__file__).parent / f"{module}.py").read_bytes())
    return digest.hexdigest()


def compile_loop(model: Model, write: Callable[[], str], key: str) -> CompiledLoop:
    """The loop of ``model`` compiled by numba, from the cache folder when it is there.

    ``write()`` gives its source (see :func:`loop_writer`); ``key`` is :func:`loop_key` of the
    model (it names the module in the cache folder). numba compiles the loop, or loads its
    machine code from its own cache beside the source (the extension module built ahead of
    time is looked for before: see :attr:`~pssc_sim.compile.compiled.CompiledModel.loop`).
    """
    version = numba_version()
    if version is None:
        return CompiledLoop(None, "numba is not installed (pip install 'pssc_sim[fast]')")
    reason = unsupported_reason(model)
    if reason:
        return CompiledLoop(None, reason)
    source = write()
    path = store(source, key)
    jit = loop_jit(cache=path is not None)
    name = f"_pssc_sim_kernel_{key}"
    space = load_loop(source, jit, name, None if path is None else str(path))
    # numba's cached machine code finds the globals of its functions by importing their
    # module's name: the module must be importable, as every module numba caches is
    module = types.ModuleType(name)
    module.__dict__.update(space)
    sys.modules.setdefault(name, module)
    return CompiledLoop(space["run"], key=key, digest=source_digest(source))


#: The functions of a loop module that Python calls: only these get numba's wrappers, which
#: convert Python's objects to the compiled function's arguments (the kernels, lookups and
#: helpers are called from compiled code alone, and each wrapper is compiled code too).
ENTRY_POINTS = frozenset({"run", "run_block"})


def loop_jit(cache: bool) -> Callable[[LoopFunction], LoopFunction]:
    """numba's compiler for the functions of a loop module: numpy's error model, and the
    wrappers for :data:`ENTRY_POINTS` alone; ``cache``: keep the machine code in numba's cache
    beside the source."""
    import numba

    njit: Any = numba.njit  # numba's hints do not list the wrapper options

    def jit(function: LoopFunction) -> LoopFunction:
        inner = function.__name__ not in ENTRY_POINTS
        compiled: LoopFunction = njit(
            cache=cache,
            error_model="numpy",
            no_cpython_wrapper=inner,
            no_cfunc_wrapper=inner,
        )(function)
        return compiled

    return jit


def source_digest(source: str) -> str:
    """The hash of a loop's source, which a build of its extension module checks the written
    file against (see :mod:`pssc_sim.compile.aot`)."""
    import hashlib  # loads OpenSSL: only where a compiled loop is looked for

    return hashlib.sha256(source.encode()).hexdigest()


def load_loop(
    source: str,
    jit: Callable[[LoopFunction], LoopFunction],
    name: str = "_pssc_sim_loop",
    filename: str | None = None,
) -> dict[str, LoopFunction]:
    """The functions of the loop module ``source`` (checked first, see
    :func:`~pssc_sim.compile.execute.execute`), each decorated with ``jit``.

    :func:`compile_loop` gives numba's compiler; the identity runs the same code on the Python
    interpreter, uncompiled: about as slow as the numpy back end's single runs, and a check of
    the generated arithmetic that costs no compiling.
    """
    namespace = {
        "np": np,
        "math": math,
        "inf": math.inf,
        "nan": math.nan,
        "_jit": jit,
        "__name__": name,
    }
    return execute(source, namespace, "loop", filename)
