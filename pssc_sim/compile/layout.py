"""Where each variable lives in the kernel's arrays, and which outputs are recorded.

Every array a kernel reads or writes is two-dimensional: rows x members. A variable over
dimensions owns a :class:`Block` of consecutive rows, one per element in row order (the last
dimension fastest), which the kernel reads and writes as a reshaped view ``(*shape, M)``. A
variable without dimensions is the same thing with an empty shape: one row, read as ``p[i]``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import sympy

from pssc_sim.compile.hoisting import element_shape
from pssc_sim.errors import ParameterError, did_you_mean
from pssc_sim.ir.dimensions import ArrayOp, Broadcast, array_op
from pssc_sim.ir.functions import CLOCK_SYMBOLS, variable_symbol
from pssc_sim.ir.model import Auxiliary, FixedDelay, Flow, Lookup, Model, Stock


@dataclass(frozen=True, slots=True)
class Block:
    """Rows ``start:stop`` of an array holding a variable over ``shape`` (``()``: one row)."""

    start: int
    stop: int
    shape: tuple[int, ...] = ()

    def view(self, array: str) -> str:
        """Code for the block as an array ``(*shape, M)`` (a view, writable in place).

        Examples
        --------
        >>> Block(2, 3).view("y"), Block(0, 6, (2, 3)).view("y")
        ('y[2]', 'y[0:6].reshape(2, 3, M)')
        """
        if not self.shape:
            return f"{array}[{self.start}]"
        return f"{array}[{self.start}:{self.stop}].reshape({', '.join(map(str, self.shape))}, M)"

    def assign(self, array: str, value: str) -> str:
        """Code storing ``value`` (broadcast to the block's shape) into the block of ``array``."""
        target = self.view(array)
        return f"{target} = {value}" if not self.shape else f"{target}[...] = {value}"

    @property
    def size(self) -> int:
        """Number of rows."""
        return self.stop - self.start


def stack(shapes: Iterable[tuple[str, tuple[int, ...]]], first: int = 0) -> dict[str, Block]:
    """Consecutive blocks for ``(name, shape)`` pairs, in order, from row ``first``."""
    result, row = {}, first
    for name, shape in shapes:
        size = int(np.prod(shape)) if shape else 1
        result[name] = Block(row, row + size, shape)
        row += size
    return result


def shape_of(model: Model, name: str) -> tuple[int, ...]:
    """The shape of the variable ``name`` (``()`` without dimensions)."""
    dims = getattr(model[name], "dims", ())
    return model.dimensions.shape(dims) if dims else ()


@dataclass(frozen=True, slots=True)
class Layout:
    """The blocks of the stocks (``y``), parameters (``p``) and discrete states (``d``)."""

    stocks: dict[str, Block]
    parameters: dict[str, Block]
    discrete: dict[str, Block]
    delays: dict[str, Block]

    @classmethod
    def of(cls, model: Model) -> Layout:
        """The layout of ``model``'s arrays."""

        def blocks(names: Iterable[str]) -> dict[str, Block]:
            return stack((n, shape_of(model, n)) for n in names)

        delays = [s.name for s in model.discrete if isinstance(s, FixedDelay)]
        return cls(
            blocks(s.name for s in model.stocks),
            blocks(p.name for p in model.parameters),
            blocks(s.name for s in model.discrete),
            blocks(delays),
        )

    @property
    def n_parameter_rows(self) -> int:
        """Rows of the parameter array."""
        return max((b.stop for b in self.parameters.values()), default=0)

    def fixed_delay_rows(self) -> tuple[int, ...]:
        """Rows of the discrete array that hold DELAY_FIXED pipelines."""
        return tuple(
            row
            for name in self.delays
            for row in range(self.discrete[name].start, self.discrete[name].stop)
        )


def spread(
    model: Model,
    name: str,
    expr: sympy.Expr,
    shapes: Mapping[sympy.Symbol, tuple[int, ...]] | None = None,
) -> sympy.Expr:
    """``expr`` spread to the whole shape ``(*shape, M)`` of the variable ``name``.

    Unchanged without dimensions, and where ``expr`` has that shape already: it reads a
    variable, so it has the member axis, and numpy's broadcasting of the ``shapes`` of its
    variables gives the variable's shape.
    """
    shape = shape_of(model, name)
    if not shape:
        return expr
    if shapes is not None and element_shape(expr, shapes) == shape and has_members(expr):
        return expr
    return array_op(Broadcast(shape))(expr)


def variable_shapes(model: Model) -> dict[sympy.Symbol, tuple[int, ...]]:
    """The shape of every variable of ``model`` with dimensions, by symbol."""
    return {
        variable_symbol(item.name): shape_of(model, item.name)
        for item in model.declarations()
        if getattr(item, "dims", ()) and not isinstance(item, Lookup)
    }


def has_members(expr: sympy.Basic) -> bool:
    """Whether the value of ``expr`` surely has the member axis: it is computed by numpy from
    at least one variable in every branch (numbers and the clock have no member axis)."""
    if isinstance(expr, sympy.Symbol):
        return expr not in CLOCK_SYMBOLS
    if isinstance(expr, ArrayOp):
        return isinstance(expr.spec, Broadcast) or any(has_members(a) for a in expr.args)
    if isinstance(expr, sympy.Piecewise):
        return all(has_members(value) for value, _ in expr.args)
    return any(has_members(a) for a in expr.args)


@dataclass(frozen=True, slots=True)
class Output:
    """A recorded output: its column ``labels``, the expression it takes over ``shape``, and
    the ``positions`` of the elements recorded (``None``: all of them)."""

    name: str
    expr: sympy.Expr
    labels: tuple[str, ...] = ()
    shape: tuple[int, ...] = ()
    positions: tuple[int, ...] | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        """The column names of the output (its name alone without dimensions)."""
        return self.labels or (self.name,)


def default_outputs(model: Model) -> list[Output]:
    """The outputs :meth:`Model.default_outputs` names, to compile."""
    return [Output(name, expr) for name, expr in model.default_outputs()]


def select_outputs(model: Model, names: Sequence[str] | None) -> list[Output]:
    """The outputs to record: all by default, or those named (any variable, hidden or not)."""
    if isinstance(names, str):
        raise ParameterError(
            f"outputs: expected a list of names (got {names!r}). Write outputs=[{names!r}]"
        )
    if model.dimensions:
        return _array_outputs(model, names)
    available = {o.name: o for o in default_outputs(model)}
    if names is None:
        return list(available.values())
    lookups = {lk.name for lk in model.lookups}
    known = {*available, *(item.name for item in model.declarations())} - lookups
    selected = []
    for name in names:
        if name in available:
            selected.append(available[name])
        elif name in known:
            selected.append(Output(name, variable_symbol(name)))
        elif name in lookups:
            raise ParameterError(
                f"outputs: '{name}' is a lookup, not a variable (got {name!r})."
                " Record the variable whose equation calls it"
            )
        else:
            hint = did_you_mean(name, known) or " Name a stock, flow, auxiliary or parameter."
            raise ParameterError(f"outputs: unknown variable '{name}'.{hint}")
    return selected


def _array_outputs(model: Model, names: Sequence[str] | None) -> list[Output]:
    """Outputs of an arrayed model: visible variables whole by default; a name may be a whole
    variable, one element (``population[0-4,A]``), a measure or a measure's reported ledger
    (``<measure>.reported``, recorded by default where it differs from the true value)."""
    measures = {m.name: m for m in model.measures}
    reported = {f"{m.name}.reported": m.reported for m in model.measures if m.reported != m.true}
    if names is None:
        items: list[Stock | Flow | Auxiliary] = [*model.stocks, *model.flows, *model.auxiliaries]
        chosen = [
            *(item.name for item in items if not item.hidden),
            *(m.name for m in model.measures if not isinstance(m.true, sympy.Symbol)),
            *reported,
        ]
    else:
        chosen = list(names)
    rows = _element_index(model)
    outputs = []
    for name in chosen:
        if name in reported:
            outputs.append(Output(name, reported[name]))
        elif name in measures and name not in model:
            outputs.append(Output(name, measures[name].true))
        elif name in model and not isinstance(model[name], Lookup):
            outputs.append(
                Output(name, variable_symbol(name), model.rows(name), shape_of(model, name))
            )
        elif name in rows:
            variable, position = rows[name]
            outputs.append(
                Output(
                    variable,
                    variable_symbol(variable),
                    (name,),
                    shape_of(model, variable),
                    (position,),
                )
            )
        else:
            known = [*model.visible_variables(), *(i.name for i in model.declarations())]
            hint = did_you_mean(name, known) or " Name a stock, flow, auxiliary or parameter."
            raise ParameterError(f"outputs: unknown variable '{name}'.{hint}")
    return outputs


def _element_index(model: Model) -> Mapping[str, tuple[str, int]]:
    index = {}
    for item in model.declarations():
        if getattr(item, "dims", ()) and not isinstance(item, Lookup):
            for i, row in enumerate(model.rows(item.name)):
                index[row] = (item.name, i)
    return index
