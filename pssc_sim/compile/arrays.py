"""The kernel of a model with dimensions: every variable a numpy array ``(*dims, n_members)``.

The state, parameter, discrete and output arrays stay two-dimensional (rows x members), so the
integrators run arrayed models unchanged: an arrayed stock owns a block of consecutive rows, one
per element in row order (the last dimension fastest), which the kernel reads and writes as a
reshaped view. Equations print as whole-array numpy code, with :class:`ArrayOp` nodes (views,
aggregations, per-element pieces) printed from their specs; the generated code grows with the
number of variables, not of elements.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy

from pssc_sim.compile.array_kernels import (
    assemble_array,
    reduce_array,
    table_lookup,
    vector_select,
)
from pssc_sim.compile.codegen import _Body, _function, algebraic_equations, local_name, needed
from pssc_sim.compile.compiler import CompiledModel, Kernels, kernel_namespace
from pssc_sim.compile.printer import Dialect, Printer
from pssc_sim.errors import ParameterError, did_you_mean
from pssc_sim.ir.dimensions import (
    ArrayOp,
    ArraySpec,
    Broadcast,
    array_op,
)
from pssc_sim.ir.functions import FINAL_TIME, INITIAL_TIME, TIME, TIME_STEP, variable_symbol
from pssc_sim.ir.model import FixedDelay, Lookup, Model, SampleMemory
from pssc_sim.ir.ordering import initial_order

_CLOCK_NAMES = {TIME: "t", TIME_STEP: "dt", INITIAL_TIME: "t0", FINAL_TIME: "t1"}


class ArrayPrinter(Printer):
    """The numpy printer, with array operations; index arrays they need go to ``constants``."""

    def __init__(self, names: Mapping[sympy.Symbol, str], lookups: Mapping[str, str]) -> None:
        super().__init__(Dialect.NUMPY, names, lookups)
        self.constants: dict[str, tuple[Any, ...]] = {}

    def print(self, expr: sympy.Basic) -> str:
        if isinstance(expr, ArrayOp):
            spec: ArraySpec = expr.spec
            return spec.render([self.print(a) for a in expr.args], self.constants)
        return super().print(expr)


@dataclass(frozen=True, slots=True)
class Block:
    """Rows ``start:stop`` of an array holding a variable over ``shape``."""

    start: int
    stop: int
    shape: tuple[int, ...]

    def view(self, array: str) -> str:
        """Code for the block as an array ``(*shape, M)`` (a view, writable in place)."""
        if not self.shape:
            return f"{array}[{self.start}]"
        return f"{array}[{self.start}:{self.stop}].reshape({', '.join(map(str, self.shape))}, M)"


@dataclass(frozen=True, slots=True)
class ArrayOutput:
    """A recorded variable (all its elements, or those at ``positions``) at output rows."""

    name: str
    labels: tuple[str, ...]
    expr: sympy.Expr
    shape: tuple[int, ...]
    positions: tuple[int, ...] | None


def blocks(model: Model, names: Iterable[str]) -> dict[str, Block]:
    """Consecutive row blocks of the variables ``names``, in order."""
    result, row = {}, 0
    for name in names:
        item = model[name]
        shape = model.dimensions.shape(item.dims)  # type: ignore[attr-defined]
        size = int(np.prod(shape)) if shape else 1
        result[name] = Block(row, row + size, shape)
        row += size
    return result


def array_outputs(model: Model, names: Sequence[str] | None) -> list[ArrayOutput]:
    """Outputs of an arrayed model: visible variables whole by default; a name may be a whole
    variable, one element (``population[0-4,A]``) or a measure."""
    rows = _element_index(model)
    measures = {m.name: m for m in model.measures}
    if names is None:
        visible = [s.name for s in model.stocks if not s.hidden]
        visible += [f.name for f in model.flows if not f.hidden]
        visible += [a.name for a in model.auxiliaries if not a.hidden]
        chosen: list[str] = [*visible, *(m.name for m in model.measures
                                         if not isinstance(m.true, sympy.Symbol))]
    elif isinstance(names, str):
        raise ParameterError(f"outputs: expected a list of names (got {names!r}). "
                             f"Write outputs=[{names!r}]")
    else:
        chosen = list(names)
    outputs = []
    for name in chosen:
        if name in measures and name not in model:
            outputs.append(ArrayOutput(name, (name,), measures[name].true, (), None))
        elif name in model and not isinstance(model[name], Lookup):
            item = model[name]
            dims = item.dims  # type: ignore[attr-defined]
            outputs.append(ArrayOutput(name, model.rows(name), variable_symbol(name),
                                       model.dimensions.shape(dims), None))
        elif name in rows:
            variable, position = rows[name]
            dims = model[variable].dims  # type: ignore[attr-defined]
            outputs.append(ArrayOutput(variable, (name,), variable_symbol(variable),
                                       model.dimensions.shape(dims), (position,)))
        else:
            known = [*model.visible_variables(), *(i.name for i in model.declarations())]
            hint = did_you_mean(name, known) or " Name a stock, flow, auxiliary or parameter."
            raise ParameterError(f"outputs: unknown variable '{name}'.{hint}")
    return outputs


def _element_index(model: Model) -> dict[str, tuple[str, int]]:
    index = {}
    for item in model.declarations():
        if getattr(item, "dims", ()) and not isinstance(item, Lookup):
            for i, row in enumerate(model.rows(item.name)):
                index[row] = (item.name, i)
    return index


class _Source:
    """Builds the kernel module of one arrayed model."""

    def __init__(self, model: Model, outputs: Sequence[ArrayOutput]) -> None:
        self.model = model
        self.outputs = outputs
        self.names: dict[sympy.Symbol, str] = dict(_CLOCK_NAMES)
        for item in model.declarations():
            self.names[variable_symbol(item.name)] = local_name(item.name)
        self.templates = {lk.name: f"np.interp({{}}, _x_{lk.name}, _y_{lk.name})"
                          for lk in model.lookups if lk.extrapolation.value == "flat"}
        self.printer = ArrayPrinter(self.names, self.templates)
        self.stocks = blocks(model, [s.name for s in model.stocks])
        self.parameters = blocks(model, [p.name for p in model.parameters])
        self.discrete = blocks(model, [d.name for d in model.discrete])
        self.equations = {name: self.full(name, expr)
                          for name, expr in algebraic_equations(model).items()}

    def full(self, name: str, expr: sympy.Expr) -> sympy.Expr:
        """``expr`` spread to the whole shape of the variable ``name``."""
        dims = self.model[name].dims  # type: ignore[attr-defined]
        if not dims:
            return expr
        return array_op(Broadcast(self.model.dimensions.shape(dims)))(expr)

    def body(self) -> _Body:
        """Lines of one function, with a printer of their own for the shared terms."""
        names = dict(self.names)
        printer = ArrayPrinter(names, self.templates)
        printer.constants = self.printer.constants
        return _Body(printer, names)

    def loads(self, used: set[str], with_state: bool) -> list[str]:
        groups = [("p", self.parameters)]
        if with_state:
            groups += [("y", self.stocks), ("d", self.discrete)]
        return [f"{local_name(name)} = {block.view(array)}" for array, table in groups
                for name, block in table.items() if name in used]

    def rates(self) -> list[sympy.Expr]:
        matrix: dict[str, list[tuple[int, str]]] = {s: [] for s in self.stocks}
        for flow in self.model.flows:
            if flow.source is not None:
                matrix[flow.source].append((-1, flow.name))
            if flow.target is not None:
                matrix[flow.target].append((1, flow.name))
        return [sympy.Add(*(sign * variable_symbol(f) for sign, f in matrix[s]))
                for s in self.stocks]

    def updates(self) -> list[sympy.Expr]:
        result = []
        for state in self.model.discrete:
            value = (variable_symbol(state.update) if isinstance(state, SampleMemory)
                     else state.input)
            result.append(self.full(state.name, value))
        return result

    def kernel(self, name: str, with_outputs: bool) -> str:
        rates, updates = self.rates(), self.updates()
        outputs = [self.full_output(o) for o in self.outputs] if with_outputs else []
        roots = [*rates, *updates, *outputs]
        order = list(self.equations) if with_outputs else needed(self.equations, roots)
        body = self.body()
        targets = [local_name(n) for n in order]
        body.assign_all([*targets, *(f"_r{i}" for i in range(len(roots)))],
                        [*(self.equations[n] for n in order), *roots])
        lines = body.lines
        tail = [f"{block.view('dy')}[...] = _r{i}" for i, block in enumerate(self.stocks.values())]
        offset = len(rates)
        tail += [f"{block.view('dn')}[...] = _r{offset + i}"
                 for i, block in enumerate(self.discrete.values())]
        offset += len(updates)
        row = 0
        for i, output in enumerate(self.outputs if with_outputs else ()):
            value = f"_r{offset + i}"
            size = len(output.labels)
            if output.positions is None:
                block = Block(row, row + size, output.shape)
                tail.append(f"{block.view('out')}[...] = {value}")
            else:
                flat = f"np.reshape({value}, (-1, M))" if output.shape else value
                index = output.positions[0] if output.shape else None
                tail.append(f"out[{row}] = {flat}" if index is None
                            else f"out[{row}] = {flat}[{index}]")
            row += size
        used = {s.name for e in [*self.equations.values(), *roots] for s in e.free_symbols}
        loads = self.loads(used, True)
        args = "t, clock, y, p, d, dy, dn" + (", out" if with_outputs else "")
        text = [*loads, *lines, *tail]
        return _function(name, args, ["M = y.shape[1]", *text], Dialect.NUMPY)

    def full_output(self, output: ArrayOutput) -> sympy.Expr:
        if output.shape and isinstance(output.expr, sympy.Symbol):
            return array_op(Broadcast(output.shape))(output.expr)
        return output.expr

    def initial(self) -> str:
        model = self.model
        sources: dict[str, sympy.Expr] = {s.name: self.full(s.name, s.initial)
                                          for s in model.stocks}
        sources.update({s.name: self.full(s.name, s.initial) for s in model.discrete})
        sources.update(self.equations)
        order = list(initial_order(model))
        body = self.body()
        body.assign_all([local_name(n) for n in order], [sources[n] for n in order])
        delays = [s for s in model.discrete if isinstance(s, FixedDelay)]
        used = {s.name for e in [*sources.values(), *(s.delay for s in delays)]
                for s in e.free_symbols}
        lines = ["M = p.shape[1]", "t = t0", *self.loads(used, False), *body.lines]
        lines += [f"{b.view('y0')}[...] = {local_name(n)}" for n, b in self.stocks.items()]
        lines += [f"{b.view('d0')}[...] = {local_name(n)}" for n, b in self.discrete.items()]
        row = 0
        for state in delays:
            block = self.discrete[state.name]
            size = block.stop - block.start
            target = Block(row, row + size, block.shape)
            lines.append(f"{target.view('delays')}[...] = "
                         f"{self.printer(self.full(state.name, state.delay))}")
            row += size
        return _function("initial", "clock, p, y0, d0, delays", lines, Dialect.NUMPY)

    def module(self) -> str:
        parts = [f"# Generated by pssc_sim from the IR of model '{self.model.name}'.\n"]
        for lookup in self.model.lookups:
            if lookup.extrapolation.value == "flat":
                xs, ys = (", ".join(repr(float(v)) for v in values)
                          for values in (lookup.x, lookup.y))
                parts.append(f"_x_{lookup.name} = np.array([{xs}])\n"
                             f"_y_{lookup.name} = np.array([{ys}])\n")
        functions = [self.kernel("rates", False), self.kernel("full", True), self.initial()]
        for name, value in sorted(self.printer.constants.items()):
            parts.append(f"{name} = {_literal(value)}\n")
        return "\n".join([*parts, *functions])


def _literal(value: tuple[Any, ...]) -> str:
    """A constant of the module: index positions as an integer array, pieces as tuples."""
    if all(isinstance(v, int) for v in value):
        return f"np.array({list(value)!r}, dtype=np.intp)"
    if all(isinstance(v, float) for v in value):
        return f"np.array({list(value)!r}, dtype=float)"
    return repr(value)


def generate_array_source(model: Model, outputs: Sequence[ArrayOutput]) -> str:
    """The Python source of the kernel module of the arrayed ``model``."""
    return _Source(model, outputs).module()


def array_namespace() -> dict[str, Any]:
    """The helpers arrayed kernels call besides numpy."""
    return {"_reduce": reduce_array, "_assemble": assemble_array, "_table_lookup": table_lookup,
            "_vector_select": vector_select}


def scalar_kernels(rates: Any, full: Any, n_stocks: int, n_discrete: int,
                   n_outputs: int) -> tuple[Any, Any]:
    """``rates_scalar`` and ``full_scalar`` of an arrayed model: its numpy kernels on one
    member, taking and returning lists."""

    def arrays(y: Sequence[float], p: Sequence[float], d: Sequence[float]) -> tuple[Any, ...]:
        return (np.array(y, dtype=float)[:, None], np.array(p, dtype=float)[:, None],
                np.array(d, dtype=float).reshape(n_discrete, 1))

    def rates_scalar(t: float, clock: Any, y: Sequence[float], p: Sequence[float],
                     d: Sequence[float]) -> tuple[list[float], list[float]]:
        ya, pa, da = arrays(y, p, d)
        dy, dn = np.empty((n_stocks, 1)), np.empty((n_discrete, 1))
        rates(t, clock, ya, pa, da, dy, dn)
        return dy[:, 0].tolist(), dn[:, 0].tolist()

    def full_scalar(t: float, clock: Any, y: Sequence[float], p: Sequence[float],
                    d: Sequence[float]) -> tuple[list[float], list[float], list[float]]:
        ya, pa, da = arrays(y, p, d)
        dy, dn, out = np.empty((n_stocks, 1)), np.empty((n_discrete, 1)), np.empty((n_outputs, 1))
        full(t, clock, ya, pa, da, dy, dn, out)
        return dy[:, 0].tolist(), dn[:, 0].tolist(), out[:, 0].tolist()

    return rates_scalar, full_scalar


def compile_arrayed(model: Model, outputs: Sequence[str] | None = None) -> CompiledModel:
    """Compile a model with dimensions (see :func:`~pssc_sim.compile.compiler.compile_model`).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from pssc_sim.parse import load_model
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "m.yaml"
    >>> _ = path.write_text("time: {stop: 1}\\ndimensions: {g: [a, b]}\\n"
    ...                     "stocks: {x: {dims: [g], initial: 1}}\\n"
    ...                     "flows: {out: {from: x, rate: x}}\\n")
    >>> compiled = compile_arrayed(load_model(path))
    >>> compiled.outputs, compiled.N.toarray().tolist()
    (('x[a]', 'x[b]', 'out[a]', 'out[b]'), [[-1.0, 0.0], [0.0, -1.0]])
    """
    chosen = array_outputs(model, outputs)
    source = generate_array_source(model, chosen)
    space = kernel_namespace(model.lookups)
    space.update(array_namespace())
    exec(compile(source, f"<pssc_sim kernel {model.name}>", "exec"), space)
    labels = tuple(label for o in chosen for label in o.labels)
    n_stocks, n_discrete = len(model.stock_names), len(model.discrete_names)
    rates_scalar, full_scalar = scalar_kernels(space["rates"], space["full"], n_stocks,
                                               n_discrete, len(labels))
    rates, full = space["rates"], space["full"]

    def bind_rates(clock: Any, y: Any, p: Any, d: Any, dy: Any, dn: Any) -> Any:
        return lambda t: rates(t, clock, y, p, d, dy, dn)

    def bind_full(clock: Any, y: Any, p: Any, d: Any, dy: Any, dn: Any) -> Any:
        return lambda t, out: full(t, clock, y, p, d, dy, dn, out)

    def prepare(clock: Any, p: Any) -> Any:
        return p

    fixed: list[int] = []
    row = 0
    for state in model.discrete:
        size = len(model.rows(state.name))
        if isinstance(state, FixedDelay):
            fixed.extend(range(row, row + size))
        row += size
    prepared = Kernels(rates, full, rates_scalar, full_scalar, bind_rates, bind_full)
    return CompiledModel(model=model, N=model.sparse_stoichiometry(), outputs=labels, source=source,
                         initial=space["initial"], rates=rates, full=full,
                         rates_scalar=rates_scalar, full_scalar=full_scalar, prepare=prepare,
                         prepared=prepared, fixed_delays=tuple(fixed))
