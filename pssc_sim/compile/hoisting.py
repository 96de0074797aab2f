"""Loop-invariant hoisting: the parts of the equations that no step of a run changes.

A sub-expression whose symbols are all parameters (and possibly ``dt``, ``INITIAL TIME``,
``FINAL TIME``) has the same value at every step of a run, e.g. ``contact_rate * infectivity``
inside ``contact_rate * infected * infectivity * susceptible / total``, or ``1 / duration`` in
``infected / duration``. Each such term is computed once per run, by the generated
``prepare(clock, p)``, into an extra row of the parameter array, which the kernels then read like a
parameter. A step of a small ensemble is a few dozen numpy calls of about a microsecond each, so
every call taken out of the step counts.

In a model with dimensions a hoisted term is an array: it takes a block of rows, as an arrayed
parameter does, and is hoisted only when its shape is known from the shapes of its parts.

Products and sums are split: their invariant factors (terms) form one hoisted product (sum) and
the rest stays in the step. The regrouping changes the rounding of a product by at most a few
ulps, as any reordering of the same operations would.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import sympy
from sympy.logic.boolalg import Boolean

from pssc_sim.ir.conditions import rebuilt
from pssc_sim.ir.dimensions import (
    AllocateByPriority,
    ArrayOp,
    Assemble,
    Broadcast,
    ElementMap,
    InvertMatrix,
    Reduce,
    Values,
    VectorSelect,
    VectorSort,
    View,
)
from pssc_sim.ir.functions import (
    FINAL_TIME,
    INITIAL_TIME,
    SWITCH_SLACK,
    TIME_STEP,
    variable_symbol,
)
from pssc_sim.ir.model import Model

#: Clock symbols that are fixed during a run (``TIME`` is not).
_FIXED_CLOCK = frozenset({TIME_STEP, INITIAL_TIME, FINAL_TIME, SWITCH_SLACK})


@dataclass(frozen=True, slots=True)
class Invariants:
    """Hoisted terms: ``symbols[j]`` stands for ``exprs[j]``, whose value has ``shapes[j]``
    (``()`` without dimensions); each takes the next block of rows of ``p`` after the
    parameters."""

    symbols: tuple[sympy.Symbol, ...]
    exprs: tuple[sympy.Expr, ...]
    shapes: tuple[tuple[int, ...], ...] = field(default=(), repr=False)

    @property
    def locals(self) -> tuple[str, ...]:
        """Names of the generated locals holding the hoisted rows (``q_`` is no model local)."""
        return tuple(f"q_{j}" for j in range(len(self.symbols)))


class _Hoister:
    """Rewrites expressions, replacing each largest invariant term by a symbol."""

    def __init__(self, shapes: Mapping[sympy.Symbol, tuple[int, ...]]) -> None:
        self.parameters = set(shapes)
        self.shapes = shapes
        self.fixed = self.parameters | _FIXED_CLOCK
        self.arrayed = any(shapes.values())
        self.found: dict[sympy.Expr, sympy.Symbol] = {}

    def invariant(self, expr: sympy.Basic) -> bool:
        symbols = expr.free_symbols
        return bool(symbols) and symbols <= self.fixed and bool(symbols & self.parameters)

    def hoistable(self, expr: sympy.Basic) -> bool:
        """Worth a row: invariant, computed (not a bare symbol), and a number, not a truth value.

        A value spread to the shape of its variable stays a view made in the step; what it
        spreads is hoisted instead, in fewer rows.
        """
        if isinstance(expr, ArrayOp) and isinstance(expr.spec, Broadcast):
            return False
        return (
            isinstance(expr, sympy.Expr)
            and not isinstance(expr, Boolean | sympy.Symbol)
            and not expr.is_Relational
            and self.invariant(expr)
            and (not self.arrayed or element_shape(expr, self.shapes) is not None)
        )

    def symbol(self, expr: sympy.Expr) -> sympy.Symbol:
        if expr not in self.found:
            # ':' is in no model name, so the symbol cannot meet a variable of the model
            self.found[expr] = sympy.Symbol(f"hoisted:{len(self.found)}")
        return self.found[expr]

    def rewrite(self, expr: sympy.Basic) -> sympy.Basic:
        if not expr.args:
            return expr
        if self.hoistable(expr):
            return self.symbol(expr)
        if isinstance(expr, sympy.Mul | sympy.Add):
            return self.split(expr)
        return rebuilt(expr, [self.rewrite(a) for a in expr.args])

    def split(self, expr: sympy.Mul | sympy.Add) -> sympy.Basic:
        fixed = [a for a in expr.args if a.is_Number or self.invariant(a)]
        rest = [self.rewrite(a) for a in expr.args if not (a.is_Number or self.invariant(a))]
        group = expr.func(*fixed)
        worth = len(fixed) >= 2 or (fixed and not fixed[0].is_Symbol)
        if worth and self.hoistable(group):
            return expr.func(self.symbol(group), *rest)
        return expr.func(*fixed, *rest)


def hoist(model: Model, exprs: Sequence[sympy.Expr]) -> tuple[list[sympy.Expr], Invariants]:
    """``exprs`` with their invariant terms replaced by symbols, and those terms.

    Examples
    --------
    >>> from pssc_sim.parse.documents import load_model_file
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "m.yaml"
    >>> _ = path.write_text("time: {stop: 1}\\nparameters: {a: 2, b: 3}\\nstocks: {x: 1}\\n"
    ...                     "flows: {out: {from: x, rate: a * x * b}}\\n")
    >>> model = load_model_file(path)
    >>> hoist(model, [model.flows[0].rate])
    ([hoisted:0*x], Invariants(symbols=(hoisted:0,), exprs=(a*b,)))
    """
    shapes = {
        variable_symbol(p.name): model.dimensions.shape(p.dims) if p.dims else ()
        for p in model.parameters
    }
    hoister = _Hoister(shapes)
    rewritten = [hoister.rewrite(e) for e in exprs]
    found = hoister.found
    sizes = tuple(element_shape(e, shapes) or () for e in found)
    return rewritten, Invariants(tuple(found.values()), tuple(found), sizes)


def element_shape(
    expr: sympy.Basic, shapes: Mapping[sympy.Symbol, tuple[int, ...]]
) -> tuple[int, ...] | None:
    """The shape of ``expr``'s value without the member axis, or ``None`` if not known.

    Symbols take theirs from ``shapes`` (the clock has none); numpy broadcasts the rest.

    Examples
    --------
    >>> a, b = sympy.symbols("a b")
    >>> element_shape(a * b + 1, {a: (3,), b: (2, 1)})
    (2, 3)
    """
    if isinstance(expr, sympy.Symbol):
        return shapes.get(expr, ())
    if not expr.args:
        return ()
    args = [element_shape(a, shapes) for a in expr.args]
    if isinstance(expr, ArrayOp):
        return _operation_shape(expr.spec, args)
    known = [a for a in args if a is not None]
    if len(known) < len(args):
        return None
    try:
        return tuple(np.broadcast_shapes(*known))
    except ValueError:
        return None


def _operation_shape(spec: object, args: list[tuple[int, ...] | None]) -> tuple[int, ...] | None:
    """The shape of an array operation's value from its arguments' shapes."""
    if isinstance(
        spec, Broadcast | Values | Assemble | VectorSort | InvertMatrix | AllocateByPriority
    ):
        return spec.shape
    if isinstance(spec, Reduce | VectorSelect | ElementMap):
        axes = {a % (len(spec.shape) + 1) for a in spec.axes}
        return tuple(n for i, n in enumerate(spec.shape) if i not in axes)
    if isinstance(spec, View) and args[0] is not None and len(args[0]) == len(spec.picks):
        kept = [n for n, pick in zip(args[0], spec.picks, strict=True) if pick < 0]
        for k, positions in enumerate(spec.taken):
            if positions is not None:
                kept[k] = len(positions)
        if len(kept) != len(spec.places):
            return None
        if not spec.places:
            return ()
        at = dict(zip(spec.places, kept, strict=True))
        return tuple(at.get(j, 1) for j in range(spec.n_target))
    return None


def symbols_of(invariants: Invariants) -> Iterable[tuple[sympy.Symbol, str]]:
    """Each hoisted symbol with the local that holds it."""
    return zip(invariants.symbols, invariants.locals, strict=True)
