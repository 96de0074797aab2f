"""Arrayed equations written element by element, for the compiled loop.

The numpy kernels compute a variable over dimensions as one array ``(*shape, M)``; compiled
code is fastest on scalars. :class:`ElementPrinter` prints the value of one element of an
arrayed expression as scalar code: each element of a variable is its own local
(:func:`element_local`), numpy's broadcasting picks the element of each operand (the shapes are
aligned on the right, an axis of one element gives its only element), and each array operation
of :mod:`pssc_sim.ir.dimensions` is written out over the elements it reads, in the order numpy
takes them (sums and products from the first element to the last).

An operation with no scalar form here (VECTOR SORT ORDER, VECTOR RANK, VECTOR REORDER, ALLOCATE
BY PRIORITY, INVERT MATRIX) is named by :func:`array_refusal`, and the model runs on numpy.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import sympy

from pssc_sim.compile.hoisting import _operation_shape
from pssc_sim.compile.printer import GROUP, Dialect, Printer
from pssc_sim.errors import ModelError
from pssc_sim.ir.dimensions import (
    AllocateAvailable,
    AllocateByPriority,
    ArrayOp,
    Assemble,
    AtPrice,
    Broadcast,
    ElementMap,
    FindMarketPrice,
    InvertMatrix,
    Reduce,
    TableLookup,
    Values,
    VectorSelect,
    VectorSort,
    View,
)

__all__ = ["ElementPrinter", "array_refusal", "element_local", "indices", "table_lookups"]

Shape = tuple[int, ...]

#: The array operations written element by element, and how each reduction combines two values.
_REDUCTIONS = {"sum": "+", "prod": "*", "min": "_min", "max": "_max"}
#: The operations refused, by the name the message gives them.
_REFUSED: Mapping[type, str] = {
    VectorSort: "VECTOR SORT ORDER, VECTOR RANK or VECTOR REORDER",
    AllocateByPriority: "ALLOCATE BY PRIORITY",
    AllocateAvailable: "ALLOCATE AVAILABLE",
    FindMarketPrice: "FIND MARKET PRICE",
    AtPrice: "DEMAND AT PRICE or SUPPLY AT PRICE",
    InvertMatrix: "INVERT MATRIX",
}


def array_refusal(exprs: Sequence[sympy.Basic]) -> str:
    """Why the arrayed ``exprs`` cannot be written element by element, or ``""``.

    >>> array_refusal([sympy.Symbol("x")])
    ''
    """
    for expr in exprs:
        for op in expr.atoms(ArrayOp):
            name = _REFUSED.get(type(op.spec))
            if name is not None:
                return f"an equation uses {name}, which runs on arrays only"
    return ""


def element_local(local: str, shape: Shape, position: int) -> str:
    """The local holding element ``position`` (row order) of the local ``local`` over
    ``shape``; the local itself without dimensions.

    The prefix keeps the names apart from every local of the loop and from each other (no
    local of the loop starts with ``e`` followed by a digit).

    >>> element_local("v_x", (2, 3), 4), element_local("v_y", (), 0)
    ('e4_v_x', 'v_y')
    """
    return f"e{position}_{local}" if shape else local


def indices(shape: Shape) -> Iterator[tuple[int, ...]]:
    """The element indices of ``shape`` in row order (one empty index without dimensions)."""
    return itertools.product(*(range(n) for n in shape))


def table_lookups(exprs: Sequence[sympy.Basic]) -> list[TableLookup]:
    """The arrayed lookups of ``exprs``, each once, in a stable order."""
    found = {op.spec for expr in exprs for op in expr.atoms(ArrayOp)}
    return sorted(
        (spec for spec in found if isinstance(spec, TableLookup)), key=lambda s: repr(s.tables)
    )


class ElementPrinter(Printer):
    """Prints one element of an arrayed expression as scalar code.

    ``shapes`` gives the shape of each symbol with dimensions (``()``, or absent, without);
    :meth:`element` prints ``expr`` at an index of the shape it is evaluated over (its frame).
    ``tables`` names the compiled function of each arrayed lookup's table.
    """

    def __init__(
        self,
        names: Mapping[sympy.Symbol, str],
        shapes: dict[sympy.Symbol, Shape],
        lookups: Mapping[str, str],
        tables: Mapping[tuple[tuple[float, ...], tuple[float, ...]], str],
    ) -> None:
        super().__init__(Dialect.SCALAR, names, lookups)
        self.shapes = shapes
        self.tables = tables
        self.at: tuple[int, ...] = ()
        #: Lines the line being printed needs first (see :meth:`temporary`).
        self.prelude: list[str] = []
        self.count = 0
        #: The shared terms (``sympy.cse``'s symbols) by symbol, to find numbers through them.
        self.definitions: dict[sympy.Symbol, sympy.Basic] = {}
        self._shape_memo: dict[sympy.Basic, Shape] = {}

    def element(self, expr: sympy.Basic, index: tuple[int, ...]) -> str:
        """Code for the element ``index`` of ``expr`` (an index of its frame); lines that must
        come first are left in :attr:`prelude`."""
        self.at = index
        return self.print(expr)

    def assign(self, target: str, expr: sympy.Basic, index: tuple[int, ...]) -> list[str]:
        """The lines computing element ``index`` of ``expr`` into ``target``."""
        text = self.element(expr, index)
        lines = [*self.prelude, f"{target} = {text}"]
        self.prelude.clear()
        return lines

    def temporary(self, text: str) -> str:
        """A local assigned ``text`` before the line being printed (a value used many times)."""
        name = f"w{self.count}_"
        self.count += 1
        self.prelude.append(f"{name} = {text}")
        return name

    def shape(self, expr: sympy.Basic) -> Shape:
        """The shape of ``expr``'s value (numpy's broadcasting of its parts' shapes)."""
        if isinstance(expr, sympy.Symbol):
            return self.shapes.get(expr, ())
        known = self._shape_memo.get(expr)
        if known is not None:
            return known
        args = [self.shape(a) for a in expr.args]
        shape: Shape | None = None
        if isinstance(expr, ArrayOp) and not isinstance(expr.spec, TableLookup):
            shape = _operation_shape(expr.spec, list(args))
        else:  # element by element (an arrayed lookup too: each element through its table)
            try:
                shape = tuple(np.broadcast_shapes(*args))
            except ValueError:
                shape = None
        if shape is None:
            raise ModelError(
                f"internal: the shape of {expr} is not known to the compiled loop. "
                "Run the model with backend='numpy' and report it"
            )
        self._shape_memo[expr] = shape
        return shape

    def local_index(self, shape: Shape) -> tuple[int, ...]:
        """The index into a value of ``shape`` broadcast to the current frame."""
        if not shape:
            return ()
        tail = self.at[len(self.at) - len(shape) :]
        if len(tail) < len(shape):  # a value with more axes than its frame: numpy would refuse
            raise ModelError(
                f"internal: a value over {shape} in an equation over {len(self.at)} axes. "
                "Run the model with backend='numpy' and report it"
            )
        return tuple(0 if n == 1 else i for n, i in zip(shape, tail, strict=True))

    def print(self, expr: sympy.Basic) -> str:
        if isinstance(expr, ArrayOp):
            return self.operation(expr)
        return super().print(expr)

    def symbol(self, symbol: sympy.Symbol) -> str:
        local = super().symbol(symbol)
        shape = self.shapes.get(symbol, ())
        if not shape:
            return local
        position = int(np.ravel_multi_index(self.local_index(shape), shape))
        return element_local(local, shape, position)

    def at_index(self, expr: sympy.Basic, index: tuple[int, ...]) -> str:
        """``expr`` printed in the frame ``index`` (restoring the current frame after)."""
        saved = self.at
        self.at = index
        try:
            return self.print(expr)
        finally:
            self.at = saved

    def operation(self, expr: ArrayOp) -> str:
        """One element of an array operation, from the elements of its arguments it reads."""
        spec = expr.spec
        here = self.local_index(self.shape(expr))
        args = expr.args
        if isinstance(spec, Broadcast):
            return self.at_index(args[0], here)
        if isinstance(spec, View):
            return self.at_index(args[0], _view_source(spec, here))
        if isinstance(spec, Values):
            position = int(np.ravel_multi_index(here, spec.shape)) if spec.shape else 0
            return _float_text(spec.values[position])
        if isinstance(spec, Reduce):
            frames = _reduced_frames(spec.shape, spec.axes, here)
            terms = [self.at_index(args[0], frame) for frame in frames]
            return _combine(_REDUCTIONS[spec.function], terms)
        if isinstance(spec, Assemble):
            return self.assembled(spec, args, here)
        if isinstance(spec, TableLookup):
            return self.table(spec, args, here)
        if isinstance(spec, VectorSelect):
            return self.select(spec, args, here)
        if isinstance(spec, ElementMap):
            return self.mapped(spec, args, here)
        raise ModelError(
            f"internal: no element-wise form of {type(spec).__name__}. "
            "Run the model with backend='numpy' and report it"
        )

    def assembled(self, spec: Assemble, args: Sequence[sympy.Basic], here: tuple[int, ...]) -> str:
        # later pieces overwrite earlier ones, as the numpy helper fills them in order
        for piece, arg in reversed(list(zip(spec.pieces, args, strict=True))):
            if all(i in positions for i, positions in zip(here, piece, strict=True)):
                inner = tuple(positions.index(i) for i, positions in zip(here, piece, strict=True))
                return self.at_index(arg, inner)
        return "nan"  # no piece defines the element

    def constant(self, expr: sympy.Basic, index: tuple[int, ...], what: str) -> float:
        """The number ``expr`` gives at ``index``, which must not depend on the run."""
        while expr.free_symbols & self.definitions.keys():
            expr = expr.xreplace(self.definitions)
        text = self.at_index(expr, index)
        try:
            return float(text.strip("()"))
        except ValueError:
            raise ModelError(
                f"internal: {what} is not a number known before the run (got {text}). "
                "Run the model with backend='numpy'"
            ) from None

    def table(self, spec: TableLookup, args: Sequence[sympy.Basic], here: tuple[int, ...]) -> str:
        which = int(self.constant(args[1], here, "the table of an arrayed lookup"))
        return f"{self.tables[spec.tables[which]]}({self.at_index(args[0], here)})"

    def select(self, spec: VectorSelect, args: Sequence[sympy.Basic], here: tuple[int, ...]) -> str:
        """VECTOR SELECT through the compiled ``_vector_select`` on tuples of the elements."""
        selection, values, missing, action = args
        frames = _reduced_frames(spec.shape, spec.axes, here)
        given = _tuple([self.at_index(selection, frame) for frame in frames])
        plain = _tuple([self.at_index(values, frame) for frame in frames])
        fallback, code = self.at_index(missing, here), self.at_index(action, here)
        return f"_vector_select({given}, {plain}, {fallback}, {code})"

    def mapped(self, spec: ElementMap, args: Sequence[sympy.Basic], here: tuple[int, ...]) -> str:
        """VECTOR ELM MAP through the compiled ``_element_at`` on a tuple of the elements."""
        values, offset = args
        frames = _reduced_frames(spec.shape, spec.axes, here)
        elements = _tuple([self.at_index(values, frame) for frame in frames])
        return f"_element_at({elements}, {self.at_index(offset, here)})"


def _tuple(items: list[str]) -> str:
    return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"


def _float_text(value: float) -> str:
    """A float as the scalar dialect writes a number."""
    if value != value:
        return "nan"
    if value in (math.inf, -math.inf):
        return "inf" if value > 0 else "(-inf)"
    return f"({value!r})" if value < 0 else repr(value)


def _view_source(spec: View, here: tuple[int, ...]) -> tuple[int, ...]:
    """The index of the viewed value that the element ``here`` of the view reads."""
    source, kept = [], 0
    for pick in spec.picks:
        if pick >= 0:
            source.append(pick)
            continue
        position = here[spec.places[kept]] if spec.places else 0
        taken = spec.taken[kept]
        source.append(taken[position] if taken is not None else position)
        kept += 1
    return tuple(source)


def _reduced_frames(
    shape: Shape, axes: tuple[int, ...], here: tuple[int, ...]
) -> list[tuple[int, ...]]:
    """Each index of ``shape`` whose axes other than ``axes`` are ``here``, in row order."""
    reduced = sorted({a % (len(shape) + 1) for a in axes})
    frames = []
    for combo in indices(tuple(shape[a] for a in reduced)):
        index, kept, taken = [], iter(here), iter(combo)
        for axis in range(len(shape)):
            index.append(next(taken) if axis in reduced else next(kept))
        frames.append(tuple(index))
    return frames


def _combine(operator: str, terms: list[str]) -> str:
    """``terms`` reduced from the first to the last (groups of :data:`GROUP` past that many,
    so the generated expression stays shallow)."""
    if operator in ("+", "*"):
        while len(terms) > GROUP:
            terms = [
                f"({f' {operator} '.join(terms[i : i + GROUP])})"
                for i in range(0, len(terms), GROUP)
            ]
        return f"({f' {operator} '.join(terms)})"
    while len(terms) > GROUP:
        terms = [_combine(operator, terms[i : i + GROUP]) for i in range(0, len(terms), GROUP)]
    text = terms[0]
    for term in terms[1:]:
        text = f"{operator}({text}, {term})"
    return text
