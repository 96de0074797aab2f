"""Subscripts: named dimensions, their elements, and the array operations equations use.

A variable with ``dims`` holds one value per combination of elements: the kernel evaluates it
as a numpy array shaped ``(*dims, n_members)`` (members last). Equations stay sympy
expressions over whole variables; where a reference must be re-indexed (one element picked, a
subrange taken, axes reordered, a mapping applied), or a dimension summed out, or per-element
equations pieced together, the expression holds an :class:`ArrayOp` whose ``spec`` says, as
data, how to compute it. The specs are frozen and hashable; the kernel prints them as numpy
indexing from validated integers only.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from types import MappingProxyType
from typing import Any, ClassVar

import sympy

from pssc_sim.errors import ModelError, did_you_mean


@dataclass(frozen=True, slots=True)
class Dimension:
    """A named list of elements; a subrange (``parent`` set) takes its elements from another.

    ``maps`` pairs another dimension with, for each element here in order, the element of that
    dimension it corresponds to (Vensim's ``A: a1, a2 -> B``).

    Examples
    --------
    >>> Dimension("group", ("A", "B")).size
    2
    """

    name: str
    elements: tuple[str, ...]
    parent: str | None = None
    maps: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def size(self) -> int:
        """Number of elements."""
        return len(self.elements)


@dataclass(frozen=True, slots=True)
class Axis:
    """An axis an equation is evaluated over: a dimension and the names that refer to it.

    A per-element equation of ``x[age]`` for the subrange ``young`` is evaluated over the axis
    ``Axis("young", {"age", "young"})``: references subscripted ``age`` or ``young`` align to it.
    """

    dim: str
    labels: frozenset[str]


def label(name: str, elements: Sequence[str]) -> str:
    """The name of one element of an arrayed variable, as Vensim writes it.

    >>> label("population", ["0-4", "A"])
    'population[0-4,A]'
    """
    return f"{name}[{','.join(elements)}]" if elements else name


@dataclass(frozen=True, slots=True, eq=False)
class Dimensions:
    """The dimensions of a model, with the queries the reader and the kernel need.

    Examples
    --------
    >>> table = Dimensions((Dimension("age", ("young", "old")),
    ...                     Dimension("kids", ("young",), parent="age")))
    >>> table.shape(("age",)), table.positions("kids"), table.root("kids")
    ((2,), (0,), 'age')
    """

    items: tuple[Dimension, ...] = ()
    _index: Mapping[str, Dimension] = field(default_factory=dict, repr=False)
    _owner: Mapping[str, str] = field(default_factory=dict, repr=False)
    _where: Mapping[str, Mapping[str, int]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        index = {d.name: d for d in self.items}
        owner: dict[str, str] = {}
        for dim in self.items:
            if dim.parent is None:
                for element in dim.elements:
                    owner.setdefault(element, dim.name)
        object.__setattr__(self, "_index", MappingProxyType(index))
        object.__setattr__(self, "_owner", MappingProxyType(owner))
        object.__setattr__(
            self,
            "_where",
            MappingProxyType(
                {d.name: {e: i for i, e in enumerate(d.elements)} for d in self.items}
            ),
        )

    def __reduce__(self) -> tuple[type[Dimensions], tuple[tuple[Dimension, ...]]]:
        """Pickled as its items (the lookup tables are rebuilt), so a model can go to a worker
        process."""
        return (Dimensions, (self.items,))

    def position(self, name: str, element: str) -> int | None:
        """The position of ``element`` in the dimension ``name``, None if it is not there."""
        return self._where[name].get(element)

    def __bool__(self) -> bool:
        return bool(self.items)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def __getitem__(self, name: str) -> Dimension:
        return self._index[name]

    def names(self) -> list[str]:
        """Names of the dimensions."""
        return list(self._index)

    def elements(self) -> list[str]:
        """Every element of every dimension."""
        return list(self._owner)

    def element_root(self, element: str) -> str | None:
        """The dimension (not a subrange) that declares ``element``, if any."""
        return self._owner.get(element)

    def root(self, name: str) -> str:
        """The dimension a subrange takes its elements from (itself if not a subrange)."""
        dim = self._index[name]
        while dim.parent is not None:
            dim = self._index[dim.parent]
        return dim.name

    def positions(self, name: str) -> tuple[int, ...]:
        """Positions of the elements of ``name`` among those of its root."""
        where = self._where[self.root(name)]
        return tuple(where[e] for e in self._index[name].elements)

    def shape(self, dims: Sequence[str]) -> tuple[int, ...]:
        """Number of elements along each of ``dims``."""
        return tuple(self._index[d].size for d in dims)

    def size(self, dims: Sequence[str]) -> int:
        """Number of values of a variable over ``dims``."""
        size = 1
        for n in self.shape(dims):
            size *= n
        return size

    def labels(self, name: str, dims: Sequence[str]) -> list[str]:
        """Element names of a variable over ``dims`` in row order (the last dimension fastest)."""
        if not dims:
            return [name]
        lists = [self._index[d].elements for d in dims]
        return [label(name, combo) for combo in itertools.product(*lists)]

    def correspondence(
        self, source: str, target: str, via: str | None = None
    ) -> tuple[int, ...] | None:
        """For each element of ``target``, its position in ``source``; None if they do not
        correspond.

        ``via`` is the dimension written in the reference (the source's own by default): each
        target element stands for an element of ``via`` (itself, or its image under a mapping
        between ``via`` and ``target``), which is then found in ``source`` by name.
        """
        via = via or source
        images = self._images(via, target)
        if images is None:
            return None
        src = self._where[source]
        if source == target == via:
            return tuple(range(len(images)))
        return tuple(src[e] for e in images) if all(e in src for e in images) else None

    def _images(self, via: str, target: str) -> tuple[str, ...] | None:
        """The element of ``via`` each element of ``target`` stands for."""
        tgt = self._index[target].elements
        if via == target:
            return tgt
        # a mapping between the families stands for its subranges too; within one family only
        # the mapping between these very dimensions counts
        for exact in (True, False) if self.root(via) != self.root(target) else (True,):
            mapped = self._mapped(via, target, exact)
            if mapped is not None:
                return mapped
        return tgt if self.root(via) == self.root(target) else None

    def _mapped(self, via: str, target: str, exact: bool) -> tuple[str, ...] | None:
        def same(a: str, b: str) -> bool:
            return a == b if exact else self.root(a) == self.root(b)

        tgt = self._index[target].elements
        for dim in self.items:
            for other, images in dim.maps:
                pairs = dict(zip(dim.elements, images, strict=True))
                if same(dim.name, target) and same(other, via) and all(e in pairs for e in tgt):
                    return tuple(pairs[e] for e in tgt)
                if same(dim.name, via) and same(other, target):
                    inverse: dict[str, list[str]] = {}
                    for element, image in pairs.items():
                        inverse.setdefault(image, []).append(element)
                    if all(len(inverse.get(e, ())) == 1 for e in tgt):
                        return tuple(inverse[e][0] for e in tgt)
        return None


# -- array operations in equations ----------------------------------------------------------


class ArraySpec:
    """How an :class:`ArrayOp` is computed; ``render`` prints it from its arguments' code."""

    def render(self, args: Sequence[str], constants: dict[str, tuple[Any, ...]]) -> str:
        """numpy code for the operation; index arrays go into ``constants`` by name."""
        raise NotImplementedError


def _digest(value: object) -> str:
    """A short name-safe digest of ``value`` (hashlib loads when an arrayed model compiles)."""
    import hashlib

    return hashlib.sha1(repr(value).encode()).hexdigest()[:12]


def _constant(constants: dict[str, tuple[Any, ...]], value: tuple[Any, ...]) -> str:
    digest = _digest(value)
    name = f"_ix_{digest}"
    constants[name] = value
    return name


@dataclass(frozen=True, slots=True)
class View(ArraySpec):
    """A reference re-indexed onto the axes of an equation.

    ``picks`` holds, for each source axis, an element position (the axis is dropped) or -1 (the
    axis is kept). Kept axes are then ``taken`` at the given positions (None: all, in order),
    and land on the target axes ``places`` of an equation over ``n_target`` axes.
    """

    picks: tuple[int, ...]
    taken: tuple[tuple[int, ...] | None, ...]
    places: tuple[int, ...]
    n_target: int

    def render(self, args: Sequence[str], constants: dict[str, tuple[Any, ...]]) -> str:
        text = f"({args[0]})" if not args[0].isidentifier() else args[0]
        if any(p >= 0 for p in self.picks):
            text += "[" + ", ".join(str(p) if p >= 0 else ":" for p in self.picks) + "]"
        for k, positions in enumerate(self.taken):
            if positions is not None:
                text += f".take({_constant(constants, positions)}, axis={k})"
        order = sorted(range(len(self.places)), key=lambda k: self.places[k])
        if order != list(range(len(order))):
            text += f".transpose({', '.join(map(str, order))}, {len(order)})"
        present = set(self.places)
        if self.places and len(present) < self.n_target:
            index = [":" if j in present else "None" for j in range(self.n_target)]
            text += "[" + ", ".join(index) + "]"
        return text


@dataclass(frozen=True, slots=True)
class Reduce(ArraySpec):
    """An aggregation (``sum``, ``prod``, ``min``, ``max``) of an argument evaluated over
    ``shape`` (the equation's axes, then the summed ones) along ``axes``."""

    function: str
    shape: tuple[int, ...]
    axes: tuple[int, ...]

    def render(self, args: Sequence[str], constants: dict[str, tuple[Any, ...]]) -> str:
        return f"_reduce(np.{self.function}, {args[0]}, {self.shape}, {self.axes})"


@dataclass(frozen=True, slots=True)
class Assemble(ArraySpec):
    """Per-element equations pieced into one array over ``shape``: argument ``i`` fills the
    element positions ``pieces[i]`` (one tuple of positions per axis)."""

    shape: tuple[int, ...]
    pieces: tuple[tuple[tuple[int, ...], ...], ...]

    def render(self, args: Sequence[str], constants: dict[str, tuple[Any, ...]]) -> str:
        index = _constant(constants, self.pieces)
        return f"_assemble({self.shape}, {index}, {', '.join(args)})"


@dataclass(frozen=True, slots=True)
class Values(ArraySpec):
    """Numbers given per element (row order) of a variable over ``shape``."""

    shape: tuple[int, ...]
    values: tuple[float, ...]

    def render(self, args: Sequence[str], constants: dict[str, tuple[Any, ...]]) -> str:
        return f"{_constant(constants, self.values)}.reshape({', '.join(map(str, self.shape))}, 1)"


@dataclass(frozen=True, slots=True)
class TableLookup(ArraySpec):
    """An arrayed lookup: argument 0 is the input, argument 1 the number of the table each
    element reads (a view of :class:`Values`); flat beyond the ends."""

    tables: tuple[tuple[tuple[float, ...], tuple[float, ...]], ...]

    def render(self, args: Sequence[str], constants: dict[str, tuple[Any, ...]]) -> str:
        return f"_table_lookup({args[0]}, {args[1]}, {_constant(constants, self.tables)})"


@dataclass(frozen=True, slots=True)
class VectorSelect(ArraySpec):
    """Vensim's VECTOR SELECT: arguments ``selection`` and ``values`` evaluated over ``shape``
    (the equation's axes, then the selected ones), ``missing`` and ``action``; reduces ``axes``."""

    shape: tuple[int, ...]
    axes: tuple[int, ...]

    def render(self, args: Sequence[str], constants: dict[str, tuple[Any, ...]]) -> str:
        return f"_vector_select({', '.join(args)}, {self.shape}, {self.axes})"


@dataclass(frozen=True, slots=True)
class VectorSort(ArraySpec):
    """Vensim's VECTOR SORT ORDER (``order``), VECTOR RANK (``rank``) and VECTOR REORDER
    (``reorder``) along the last axis ``axis`` of an equation over ``shape``. Arguments: the
    vector, then the direction (> 0 ascending) or, for ``reorder``, the zero-based order."""

    kind: str
    shape: tuple[int, ...]
    axis: int

    def render(self, args: Sequence[str], constants: dict[str, tuple[Any, ...]]) -> str:
        helper = {
            "order": "_vector_sort_order",
            "rank": "_vector_rank",
            "reorder": "_vector_reorder",
        }[self.kind]
        return f"{helper}({', '.join(args)}, {self.shape}, {self.axis})"


@dataclass(frozen=True, slots=True)
class AllocateByPriority(ArraySpec):
    """Vensim's ALLOCATE BY PRIORITY along the last axis of an equation over ``shape``:
    arguments request, priority (over the equation's axes), width and supply."""

    shape: tuple[int, ...]

    def render(self, args: Sequence[str], constants: dict[str, tuple[Any, ...]]) -> str:
        return f"_allocate_by_priority({', '.join(args)}, {self.shape})"


@dataclass(frozen=True, slots=True)
class AllocateAvailable(ArraySpec):
    """Vensim's ALLOCATE AVAILABLE along the last axis of an equation over ``shape[:-1]``:
    arguments request (over the equation's axes), priority profiles (the equation's axes, then
    the four elements of a profile, ``shape[-1]``) and supply."""

    shape: tuple[int, ...]

    def render(self, args: Sequence[str], constants: dict[str, tuple[Any, ...]]) -> str:
        return f"_allocate_available({', '.join(args)}, {self.shape})"


@dataclass(frozen=True, slots=True)
class FindMarketPrice(ArraySpec):
    """Vensim's FIND MARKET PRICE for every element of an equation over ``shape``: arguments
    the demanders' quantities (the equation's axes, then ``demanders``), their priority
    profiles (then the four elements of a profile), the suppliers' capacities (the equation's
    axes, then ``suppliers``) and their profiles."""

    shape: tuple[int, ...]
    demanders: int
    suppliers: int

    def render(self, args: Sequence[str], constants: dict[str, tuple[Any, ...]]) -> str:
        sizes = f"{self.shape}, {self.demanders}, {self.suppliers}"
        return f"_find_market_price({', '.join(args)}, {sizes})"


@dataclass(frozen=True, slots=True)
class AtPrice(ArraySpec):
    """Vensim's DEMAND AT PRICE (``side`` "demand") and SUPPLY AT PRICE ("supply") for every
    element of an equation over ``shape[:-1]``: arguments the quantities (over the equation's
    axes), their priority profiles (then the four elements of a profile, ``shape[-1]``) and the
    price."""

    side: str
    shape: tuple[int, ...]

    def render(self, args: Sequence[str], constants: dict[str, tuple[Any, ...]]) -> str:
        return f"_{self.side}_at_price({', '.join(args)}, {self.shape})"


@dataclass(frozen=True, slots=True)
class InvertMatrix(ArraySpec):
    """Vensim's INVERT MATRIX: the inverse of the square matrix over the last two axes of an
    equation over ``shape``, for every other element and member (NaN where it is singular)."""

    shape: tuple[int, ...]

    def render(self, args: Sequence[str], constants: dict[str, tuple[Any, ...]]) -> str:
        return f"_invert_matrix({args[0]}, {self.shape})"


@dataclass(frozen=True, slots=True)
class ElementMap(ArraySpec):
    """Vensim's VECTOR ELM MAP: argument 0 evaluated over ``shape`` (the equation's axes, then
    the mapped ones at ``axes``), read at the zero-based position argument 1 counts along the
    mapped axes in row order; NaN outside them."""

    shape: tuple[int, ...]
    axes: tuple[int, ...]

    def render(self, args: Sequence[str], constants: dict[str, tuple[Any, ...]]) -> str:
        return f"_element_map({', '.join(args)}, {self.shape}, {self.axes})"


@dataclass(frozen=True, slots=True)
class Broadcast(ArraySpec):
    """A value spread to the full ``shape`` of its variable (members last)."""

    shape: tuple[int, ...]

    def render(self, args: Sequence[str], constants: dict[str, tuple[Any, ...]]) -> str:
        return f"np.broadcast_to({args[0]}, ({', '.join(map(str, self.shape))}, M))"


class ArrayOp(sympy.Function):  # type: ignore[misc]
    """An array operation in an equation; subclasses carry their :class:`ArraySpec`."""

    spec: ClassVar[ArraySpec]

    @classmethod
    def eval(cls, *args: Any) -> None:
        return None


@cache
def array_op(spec: ArraySpec) -> type[ArrayOp]:
    """The sympy function class for ``spec`` (one class per distinct spec)."""
    digest = _digest(spec)
    return type(f"ARRAY_{digest}", (ArrayOp,), {"spec": spec})


# -- aligning a reference -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reference:
    """A reference ``name[subscripts]`` in an equation (subscripts None: written bare)."""

    name: str
    dims: tuple[str, ...]
    subscripts: tuple[str, ...] | None


def align(table: Dimensions, ref: Reference, target: Sequence[Axis], where: str) -> View | None:
    """The view that puts ``ref`` onto the ``target`` axes, or None if it is already there.

    Subscripts are elements (the axis is dropped) or dimension names; a bare reference uses the
    variable's own dimensions. A dimension lands on the target axis of that name, else on the one
    of the same family, else on one joined by a mapping.
    """
    subscripts = ref.subscripts if ref.subscripts is not None else ref.dims
    if len(subscripts) != len(ref.dims):
        raise ModelError(
            f"{where}: '{ref.name}' has {len(ref.dims)} dimension(s) "
            f"({', '.join(ref.dims) or 'none'}) but {len(subscripts)} subscript(s) "
            f"(got {_written(ref)}). Give one subscript per dimension"
        )
    picks: list[int] = []
    taken: list[tuple[int, ...] | None] = []
    places: list[int] = []
    for dim, subscript in zip(ref.dims, subscripts, strict=True):
        if subscript.rstrip("!") in table:
            j = _place(table, ref, dim, subscript, target, places, where)
            positions = table.correspondence(dim, target[j].dim, subscript.rstrip("!"))
            if positions is None:
                raise ModelError(
                    f"{where}: the dimension '{subscript}' of '{ref.name}' does not "
                    f"match '{target[j].dim}' (got {_written(ref)}). Use the same "
                    "dimension, a subrange of it, or declare a mapping"
                )
            picks.append(-1)
            places.append(j)
            identity = positions == tuple(range(table[dim].size))
            taken.append(None if identity else positions)
        else:
            picks.append(_pick(table, ref, dim, subscript, where))
    view = View(tuple(picks), tuple(taken), tuple(places), len(target))
    identity = (
        all(p < 0 for p in picks)
        and all(t is None for t in taken)
        and tuple(places) == tuple(range(len(target)))
    )
    return None if identity else view


def _written(ref: Reference) -> str:
    subscripts = ref.subscripts if ref.subscripts is not None else ref.dims
    return f"{ref.name}[{', '.join(subscripts)}]" if subscripts else ref.name


def _pick(table: Dimensions, ref: Reference, dim: str, subscript: str, where: str) -> int:
    elements = table[dim].elements
    if subscript in elements:
        return elements.index(subscript)
    known = [*elements, *table.names()]
    hint = did_you_mean(subscript, known) or (
        f" Use an element of '{dim}' ({', '.join(elements[:6])}"
        f"{', ...' if len(elements) > 6 else ''}) or a dimension."
    )
    raise ModelError(
        f"{where}: '{subscript}' is not an element of '{dim}' nor a dimension "
        f"(got {_written(ref)}).{hint}"
    )


def _place(
    table: Dimensions,
    ref: Reference,
    dim: str,
    subscript: str,
    target: Sequence[Axis],
    used: list[int],
    where: str,
) -> int:
    free = [j for j in range(len(target)) if j not in used]
    name = subscript.rstrip("!")
    tests: list[Callable[[Axis], bool]] = [
        lambda a: subscript in a.labels,
        lambda a: table.root(a.dim) == table.root(name),
        lambda a: table.correspondence(dim, a.dim, name) is not None,
    ]
    for test in tests:
        matches = [j for j in free if test(target[j])]
        if matches:
            return matches[0]
    owned = sorted({name for a in target for name in a.labels})
    hint = did_you_mean(subscript, owned) or (
        f" The equation runs over: {', '.join(owned) or 'no dimension'}; sum it out with "
        f"SUM({ref.name}[{subscript}!]) or pick an element."
    )
    raise ModelError(
        f"{where}: the dimension '{subscript}' of '{ref.name}' is not a dimension "
        f"of this equation (got {_written(ref)}).{hint}"
    )


def selected_rows(table: Dimensions, name: str, dims: Sequence[str], text: str) -> list[str] | None:
    """The element names of ``name`` that ``text`` selects, or None if it is not a selection.

    ``text`` is a list of subscripts, one per dimension: an element, a subrange or the dimension
    itself (all its elements).

    >>> table = Dimensions((Dimension("g", ("a", "b", "c")), Dimension("ab", ("a", "b"), "g")))
    >>> selected_rows(table, "x", ("g",), "ab"), selected_rows(table, "x", ("g",), "d")
    (['x[a]', 'x[b]'], None)
    """
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != len(dims):
        return None
    lists: list[tuple[str, ...]] = []
    for part, dim in zip(parts, dims, strict=True):
        if part in table and table.root(part) == table.root(dim):
            lists.append(table[part].elements)
        elif part in table[dim].elements:
            lists.append((part,))
        else:
            return None
    return [label(name, combo) for combo in itertools.product(*lists)]
