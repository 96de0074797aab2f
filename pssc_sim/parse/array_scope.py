"""The subscripts of one equation of an arrayed model: which axes it runs over, how each
reference lines up with them, and the array functions (``SUM``, ``PROD``, ``VMIN``, ``VMAX``,
``ELMCOUNT`` and arrayed lookups). The model reader is :mod:`pssc_sim.parse.dimensions`.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import sympy

from pssc_sim.errors import ModelError, did_you_mean
from pssc_sim.ir.dimensions import (
    AllocateAvailable,
    AllocateByPriority,
    AtPrice,
    Axis,
    ElementMap,
    FindMarketPrice,
    InvertMatrix,
    Reduce,
    Reference,
    TableLookup,
    Values,
    VectorSelect,
    VectorSort,
    align,
    array_op,
)
from pssc_sim.ir.functions import variable_symbol
from pssc_sim.parse.expressions import REDUCED_SUFFIX

if TYPE_CHECKING:
    from pssc_sim.parse.dimensions import ArrayReader

#: Array functions: the numpy reduction each aggregation applies.
REDUCTIONS = {"SUM": "sum", "PROD": "prod", "VMIN": "min", "VMAX": "max"}
#: Vensim's functions over the last axis of an equation, by the kind of :class:`VectorSort`.
SORTS = {"VECTOR_SORT_ORDER": "order", "VECTOR_RANK": "rank", "VECTOR_REORDER": "reorder"}
ARRAY_FUNCTIONS = (
    *REDUCTIONS,
    "ELMCOUNT",
    "VECTOR_SELECT",
    *SORTS,
    "VECTOR_ELM_MAP",
    "INVERT_MATRIX",
    "ALLOCATE_BY_PRIORITY",
    "ALLOCATE_AVAILABLE",
    "FIND_MARKET_PRICE",
    "DEMAND_AT_PRICE",
    "SUPPLY_AT_PRICE",
)


class Scope:
    """Subscripts of one equation: the axes it runs over and the dimensions of every name."""

    def __init__(self, reader: ArrayReader, target: list[Axis], where: str) -> None:
        self.tables = {name.upper(): name for name in reader.lookup_dims}
        self.functions = (*ARRAY_FUNCTIONS, *self.tables)
        self.reader = reader
        self.target = list(target)
        self.where = where

    @contextmanager
    def _widened(self, axes: Sequence[Axis]) -> Iterator[None]:
        """The equation's axes with ``axes`` added, for arguments read along reduced ones."""
        outer = self.target
        self.target = [*outer, *axes]
        try:
            yield
        finally:
            self.target = outer

    def reference(self, name: str, subscripts: tuple[str, ...] | None) -> sympy.Expr:
        dims = self.reader.dims_of.get(name, ())
        symbol = variable_symbol(name)
        if not dims and subscripts is None:
            return symbol
        if not dims:
            raise ModelError(
                f"{self.where}: '{name}' has no dimensions, so it takes no "
                f"subscripts (got {name}[{', '.join(subscripts or ())}]). Write "
                f"{name}"
            )
        view = align(self.reader.table, Reference(name, dims, subscripts), self.target, self.where)
        return symbol if view is None else array_op(view)(symbol)

    def call(
        self, function: str, node: ast.Call, translate: Callable[[ast.AST], sympy.Expr]
    ) -> sympy.Expr:
        if function in self.tables:
            return self.table_call(self.tables[function], node, translate)
        if function == "VECTOR_SELECT":
            return self.vector_select(node, translate)
        if function in SORTS:
            return self.vector_sort(function, node, translate)
        if function == "VECTOR_ELM_MAP":
            return self.element_map(node, translate)
        if function == "INVERT_MATRIX":
            return self.invert_matrix(node, translate)
        if function == "ALLOCATE_BY_PRIORITY":
            return self.allocate_by_priority(node, translate)
        if function == "ALLOCATE_AVAILABLE":
            return self.allocate_available(node, translate)
        if function == "FIND_MARKET_PRICE":
            return self.find_market_price(node, translate)
        if function in ("DEMAND_AT_PRICE", "SUPPLY_AT_PRICE"):
            return self.at_price(function, node, translate)
        if len(node.args) != 1 or node.keywords:
            raise ModelError(
                f"{self.where}: {function} takes one argument (got "
                f"{len(node.args)}). Write {function}(x[dim!])"
            )
        if function == "ELMCOUNT":
            return self.count(node.args[0])
        reduced = self.reduced(node.args[0])
        if not reduced:
            raise ModelError(
                f"{self.where}: {function} has no dimension to run over (got "
                f"{ast.unparse(node).replace(REDUCED_SUFFIX, '!')}). Mark it with "
                "'!', e.g. SUM(x[age!])"
            )
        outer = self.target
        with self._widened(reduced):
            inner = translate(node.args[0])
        table = self.reader.table
        shape = table.shape([a.dim for a in (*outer, *reduced)])
        axes = tuple(range(len(outer), len(outer) + len(reduced)))
        return array_op(Reduce(REDUCTIONS[function], shape, axes))(inner)

    def table_call(
        self, name: str, node: ast.Call, translate: Callable[[ast.AST], sympy.Expr]
    ) -> sympy.Expr:
        """``lookup(x)`` or ``lookup[dims](x)`` of an arrayed lookup: each element of the
        equation reads the table of its element."""
        if len(node.args) != 1 or node.keywords:
            raise ModelError(
                f"{self.where}: the lookup '{name}' takes 1 argument, not "
                f"{len(node.args)}. Call it as {name}(x)"
            )
        subscripts = None
        if isinstance(node.func, ast.Subscript):
            items = (
                node.func.slice.elts
                if isinstance(node.func.slice, ast.Tuple)
                else [node.func.slice]
            )
            subscripts = tuple(
                i.id if isinstance(i, ast.Name) else str(getattr(i, "value", "")) for i in items
            )
        dims = self.reader.lookup_dims[name]
        table = self.reader.table
        shape = table.shape(dims)
        index = array_op(Values(shape, tuple(float(i) for i in range(table.size(dims)))))()
        view = align(table, Reference(name, dims, subscripts), self.target, self.where)
        if view is not None:
            index = array_op(view)(index)
        tables = self.reader.lookup_tables[name]
        return array_op(TableLookup(tables))(translate(node.args[0]), index)

    def vector_select(
        self, node: ast.Call, translate: Callable[[ast.AST], sympy.Expr]
    ) -> sympy.Expr:
        """``VECTOR_SELECT(selection[d!], values[d!], missing, action, error_action)``."""
        if len(node.args) != 5 or node.keywords:
            raise ModelError(
                f"{self.where}: VECTOR_SELECT takes 5 arguments (got "
                f"{len(node.args)}). Write VECTOR_SELECT(selection[d!], "
                "values[d!], missing, action, error_action)"
            )
        reduced = self.reduced(ast.Tuple(elts=node.args[:2], ctx=ast.Load()))
        if not reduced:
            raise ModelError(
                f"{self.where}: VECTOR_SELECT has no dimension to run over. Mark "
                "it with '!', e.g. VECTOR_SELECT(s[age!], x[age!], 0, 0, 0)"
            )
        outer = self.target
        with self._widened(reduced):
            selection, values = (translate(a) for a in node.args[:2])
        missing, action = (translate(a) for a in node.args[2:4])
        translate(node.args[4])  # checked; errors are not raised during a run
        shape = self.reader.table.shape([a.dim for a in (*outer, *reduced)])
        axes = tuple(range(len(outer), len(outer) + len(reduced)))
        return array_op(VectorSelect(shape, axes))(selection, values, missing, action)

    def vector_sort(
        self, function: str, node: ast.AST, translate: Callable[[ast.AST], sympy.Expr]
    ) -> sympy.Expr:
        """``VECTOR_SORT_ORDER(x, direction)``, ``VECTOR_RANK(x, direction)`` and
        ``VECTOR_REORDER(x, order)``, along the last dimension of the equation."""
        second = "order" if function == "VECTOR_REORDER" else "direction"
        args = getattr(node, "args", [])
        if len(args) != 2 or getattr(node, "keywords", []):
            raise ModelError(
                f"{self.where}: {function} takes 2 arguments (got {len(args)}). "
                f"Write {function}(x, {second})"
            )
        if not self.target:
            raise ModelError(
                f"{self.where}: {function} runs along the last dimension of the "
                "variable (got a variable without dims). Give the variable dims"
            )
        vector, control = (translate(a) for a in args)
        shape = self.reader.table.shape([a.dim for a in self.target])
        spec = VectorSort(SORTS[function], shape, len(shape) - 1)
        return array_op(spec)(vector, control)

    def allocate_by_priority(
        self, node: ast.Call, translate: Callable[[ast.AST], sympy.Expr]
    ) -> sympy.Expr:
        """``ALLOCATE_BY_PRIORITY(request, priority, width, supply)`` along the last dimension
        of the equation, which runs over the requesters."""
        if len(node.args) != 4 or node.keywords:
            raise ModelError(
                f"{self.where}: ALLOCATE_BY_PRIORITY takes 4 arguments (got "
                f"{len(node.args)}). Write ALLOCATE_BY_PRIORITY(request, priority, "
                "width, supply)"
            )
        if not self.target:
            raise ModelError(
                f"{self.where}: ALLOCATE_BY_PRIORITY runs along the last dimension "
                "of the variable (got a variable without dims). Give the variable "
                "the dims of the requests"
            )
        shape = self.reader.table.shape([a.dim for a in self.target])
        request, priority, width, supply = (translate(a) for a in node.args)
        return array_op(AllocateByPriority(shape))(request, priority, width, supply)

    def allocate_available(
        self, node: ast.Call, translate: Callable[[ast.AST], sympy.Expr]
    ) -> sympy.Expr:
        """``ALLOCATE_AVAILABLE(request, profiles[..., profile!], supply)`` along the last
        dimension of the equation, which runs over the requesters; the profiles run over the
        equation's dimensions and a marked dimension of four elements (type, priority, width,
        extra)."""
        if len(node.args) != 3 or node.keywords:
            raise ModelError(
                f"{self.where}: ALLOCATE_AVAILABLE takes 3 arguments (got "
                f"{len(node.args)}). Write ALLOCATE_AVAILABLE(request, "
                "profiles[requester, profile!], supply)"
            )
        reduced = self.reduced(node.args[1])
        table = self.reader.table
        if not self.target or len(reduced) != 1 or table.size([reduced[0].dim]) != 4:
            raise ModelError(
                f"{self.where}: ALLOCATE_AVAILABLE runs along the last dimension of the "
                "variable over priority profiles of four elements (got "
                f"{ast.unparse(node.args[1]).replace(REDUCED_SUFFIX, '!')} in a variable "
                f"over {[a.dim for a in self.target]}). Give the variable the dims of the "
                "requests and mark the profile dimension, e.g. profiles[branch, pprofile!]"
            )
        outer = self.target
        with self._widened(reduced):
            profiles = translate(node.args[1])
        request, supply = translate(node.args[0]), translate(node.args[2])
        shape = table.shape([a.dim for a in (*outer, *reduced)])
        return array_op(AllocateAvailable(shape))(request, profiles, supply)

    def find_market_price(
        self, node: ast.Call, translate: Callable[[ast.AST], sympy.Expr]
    ) -> sympy.Expr:
        """``FIND_MARKET_PRICE(demand[d!], demand_profiles[d!, p!], supply[s!],
        supply_profiles[s!, p!])``: the price at which the demanders' quantities meet the
        suppliers', for every element of the equation; the profiles run over the marked
        dimension of their quantities, then one of four elements (type, priority, width,
        extra)."""
        usage = (
            "Write FIND_MARKET_PRICE(demand[buyer!], demand_profiles[buyer!, pprofile!], "
            "supply[seller!], supply_profiles[seller!, pprofile!])"
        )
        if len(node.args) != 4 or node.keywords:
            raise ModelError(
                f"{self.where}: FIND_MARKET_PRICE takes 4 arguments (got {len(node.args)}). {usage}"
            )
        table = self.reader.table
        outer = self.target
        values: list[sympy.Expr] = []
        sizes: list[int] = []
        for quantity, profiles in ((node.args[0], node.args[1]), (node.args[2], node.args[3])):
            along, both = self.reduced(quantity), self.reduced(profiles)
            if (
                len(along) != 1
                or len(both) != 2
                or table.root(both[0].dim) != table.root(along[0].dim)
                or table.size([both[0].dim]) != table.size([along[0].dim])
                or table.size([both[1].dim]) != 4
            ):
                shown = ", ".join(
                    ast.unparse(a).replace(REDUCED_SUFFIX, "!") for a in (quantity, profiles)
                )
                raise ModelError(
                    f"{self.where}: FIND_MARKET_PRICE reads each side's quantities along one "
                    "marked dimension and their profiles along it and a marked dimension of "
                    f"four elements (got {shown}). {usage}"
                )
            for argument, axes in ((quantity, along), (profiles, both)):
                with self._widened(axes):
                    values.append(translate(argument))
            sizes.append(table.size([along[0].dim]))
        shape = table.shape([a.dim for a in outer])
        spec = FindMarketPrice(shape, sizes[0], sizes[1])
        return array_op(spec)(*values)

    def at_price(
        self, function: str, node: ast.Call, translate: Callable[[ast.AST], sympy.Expr]
    ) -> sympy.Expr:
        """``DEMAND_AT_PRICE(quantity, profiles[..., pprofile!], price)`` and
        ``SUPPLY_AT_PRICE``: each quantity times its share at the price, element by element;
        the profiles run over the equation's dimensions and a marked dimension of four
        elements (type, priority, width, extra)."""
        usage = f"Write {function}(quantity, profiles[buyer, pprofile!], price)"
        if len(node.args) != 3 or node.keywords:
            raise ModelError(
                f"{self.where}: {function} takes 3 arguments (got {len(node.args)}). {usage}"
            )
        reduced = self.reduced(node.args[1])
        table = self.reader.table
        if len(reduced) != 1 or table.size([reduced[0].dim]) != 4:
            shown = ast.unparse(node.args[1]).replace(REDUCED_SUFFIX, "!")
            raise ModelError(
                f"{self.where}: {function} reads priority profiles along a marked dimension "
                f"of four elements (got {shown}). {usage}"
            )
        outer = self.target
        with self._widened(reduced):
            profiles = translate(node.args[1])
        quantity, price = translate(node.args[0]), translate(node.args[2])
        shape = table.shape([a.dim for a in (*outer, *reduced)])
        side = "demand" if function == "DEMAND_AT_PRICE" else "supply"
        return array_op(AtPrice(side, shape))(quantity, profiles, price)

    def invert_matrix(
        self, node: ast.Call, translate: Callable[[ast.AST], sympy.Expr]
    ) -> sympy.Expr:
        """``INVERT_MATRIX(x)`` (or Vensim's ``INVERT_MATRIX(x, n)``): the inverse over the
        last two dimensions of the equation, which must have as many elements."""
        if len(node.args) not in (1, 2) or node.keywords:
            raise ModelError(
                f"{self.where}: INVERT_MATRIX takes the matrix and, optionally, its "
                f"size (got {len(node.args)} arguments). Write INVERT_MATRIX(x)"
            )
        shape = self.reader.table.shape([a.dim for a in self.target])
        if len(shape) < 2 or shape[-1] != shape[-2]:
            raise ModelError(
                f"{self.where}: INVERT_MATRIX needs a variable whose last two "
                f"dims have as many elements (got shape {shape}). Give it square "
                "dims"
            )
        if len(node.args) == 2:
            translate(node.args[1])  # checked; the size follows from the dims
        return array_op(InvertMatrix(shape))(translate(node.args[0]))

    def element_map(self, node: ast.Call, translate: Callable[[ast.AST], sympy.Expr]) -> sympy.Expr:
        """``VECTOR_ELM_MAP(x[d!], offset)``: x at the zero-based position offset along d."""
        if len(node.args) != 2 or node.keywords:
            raise ModelError(
                f"{self.where}: VECTOR_ELM_MAP takes 2 arguments (got "
                f"{len(node.args)}). Write VECTOR_ELM_MAP(x[d!], offset)"
            )
        reduced = self.reduced(node.args[0])
        if not reduced:
            raise ModelError(
                f"{self.where}: VECTOR_ELM_MAP has no dimension to run along. Mark "
                "it with '!', e.g. VECTOR_ELM_MAP(x[age!], 2)"
            )
        outer = self.target
        with self._widened(reduced):
            vector = translate(node.args[0])
        offset = translate(node.args[1])
        shape = self.reader.table.shape([a.dim for a in (*outer, *reduced)])
        axes = tuple(range(len(outer), len(outer) + len(reduced)))
        return array_op(ElementMap(shape, axes))(vector, offset)

    def count(self, node: ast.AST) -> sympy.Expr:
        name = node.id if isinstance(node, ast.Name) else ast.unparse(node)
        if name not in self.reader.table:
            hint = did_you_mean(name, self.reader.table.names()) or " Name a dimension."
            raise ModelError(f"{self.where}: ELMCOUNT takes a dimension (got '{name}').{hint}")
        return sympy.Integer(self.reader.table[name].size)

    def reduced(self, node: ast.AST) -> list[Axis]:
        """The axes an aggregation sums out: dimensions marked ``!``, and those of bare arrayed
        names that the equation does not run over."""
        table = self.reader.table
        axes: dict[str, Axis] = {}
        for item in ast.walk(node):
            if isinstance(item, ast.Name) and item.id.endswith(REDUCED_SUFFIX):
                dim = item.id[: -len(REDUCED_SUFFIX)]
                if dim not in table:
                    hint = did_you_mean(dim, table.names()) or " Mark a dimension with '!'."
                    raise ModelError(f"{self.where}: unknown dimension '{dim}!'.{hint}")
                axes.setdefault(dim, Axis(dim, frozenset({f"{dim}!"})))
        subscripted = {id(n.value) for n in ast.walk(node) if isinstance(n, ast.Subscript)}
        for item in ast.walk(node):
            if isinstance(item, ast.Name) and id(item) not in subscripted:
                for dim in self.reader.dims_of.get(item.id, ()):
                    if (
                        not any(table.root(a.dim) == table.root(dim) for a in self.target)
                        and dim not in axes
                    ):
                        axes[dim] = Axis(dim, frozenset({dim}))
        return list(axes.values())
