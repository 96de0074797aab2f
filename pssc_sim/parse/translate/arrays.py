"""Vensim subscripts -> the ``dimensions:`` section and arrayed entries of a model document.

PySD's abstract model lists the subscript ranges of a model (elements, or other ranges nested in
them, copies and mappings) and, for each variable, one component per equation with the
subscripts it defines and those it excepts. This module writes them in the format of
``docs/dimensions.md``:

- a range whose elements all belong to a larger (or earlier) range becomes a subrange of it, a
  copy (``<->``) a subrange with every element; mappings (``->``) become ``maps_to``;
- a variable runs over the range named on the left of all its equations, or else the range
  its subscripts belong to; several equations, or ``:EXCEPT:``, become per-element equations;
- numbers given per element (``x[a] = 1, 2, 3``) become parameter values, element by element.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pssc_sim.errors import ModelError
from pssc_sim.parse.translate.element_wise import bound_equation, is_bindable
from pssc_sim.parse.translate.names import NameMap, name_key


@dataclass(frozen=True, slots=True)
class _Range:
    """A subscript range made here, in the shape of PySD's."""

    name: str
    subscripts: list[str]
    mapping: list[str]


@dataclass(frozen=True, slots=True)
class MappingTo:
    """A mapping of a range to ``target`` that lists, for each element of the range in order,
    the element or range of ``target`` it maps to, as written."""

    target: str
    items: tuple[str, ...]


class ArrayImport:
    """The subscript ranges of one model and what its equations need from them."""

    def __init__(
        self,
        section: Any,
        names: NameMap,
        where: str,
        read: Callable[[str, Mapping[str, Any]], list[str]] | None = None,
    ) -> None:
        self.where = where
        self.names = names
        self.index_parameters: dict[str, dict[str, Any]] = {}
        #: element-wise variables: (identifier, elements) -> the hidden auxiliary computing
        #: that one element (see :meth:`split_elements`)
        self.aliases: dict[tuple[str, tuple[str, ...]], str] = {}
        #: the ranges (keys) of each arrayed variable, by identifier (see :meth:`item_dims`)
        self.variable_ranges: dict[str, list[str]] = {}
        self.raw = {name_key(r.name): self.read_range(r, read) for r in section.subscripts}
        self.order = list(self.raw)
        self.flat: dict[str, tuple[str, ...]] = {k: self.expand(k, ()) for k in self.raw}
        self.ident = {k: names.add(self.raw[k].name, hidden=True) for k in self.order}
        self.parent: dict[str, str | None] = {}
        owner: dict[str, str] = {}
        ranked = sorted(self.order, key=lambda k: (-len(self.flat[k]), self.order.index(k)))
        for key in ranked:
            owners = {owner.get(e) for e in self.flat[key]}
            if owners == {None}:
                self.parent[key] = None
                owner.update(dict.fromkeys(self.flat[key], key))
            elif None not in owners and len(owners) == 1:
                self.parent[key] = owners.pop()
            else:
                raise ModelError(
                    f"{where}: unsupported construct 'subscript ranges that share "
                    f"only some elements' (got {self.raw[key].name}). Make one a "
                    "subrange of the other"
                )
        self.owner = owner

    def read_range(
        self, raw: Any, read: Callable[[str, Mapping[str, Any]], list[str]] | None
    ) -> Any:
        """``raw``, or for a range whose elements come from a data file (PySD leaves GET
        DIRECT SUBSCRIPT as the call's arguments), the range with the elements read."""
        if not isinstance(raw.subscripts, Mapping):
            return raw
        if read is None:
            raise ModelError(
                f"{self.where}: {raw.name}: unsupported construct 'GET DIRECT SUBSCRIPT' "
                "here. Write the elements in the model"
            )
        return _Range(raw.name, read(raw.name, raw.subscripts), list(raw.mapping or ()))

    def expand(self, key: str, seen: tuple[str, ...]) -> tuple[str, ...]:
        subscripts = self.raw[key].subscripts
        if isinstance(subscripts, str):
            subscripts = [subscripts]
        elements: list[str] = []
        for item in subscripts:
            inner = name_key(str(item))
            if inner in self.raw and inner != key and inner not in seen:
                elements.extend(self.expand(inner, (*seen, key)))
            else:
                elements.append(str(item))
        return tuple(elements)

    def dimensions(self) -> dict[str, Any]:
        """The ``dimensions:`` section."""
        section: dict[str, Any] = {}
        roots = [k for k in self.order if self.parent[k] is None]
        for key in [*roots, *(k for k in self.order if self.parent[k] is not None)]:
            entry: dict[str, Any] = {"elements": list(self.flat[key])}
            parent = self.parent[key]
            if parent is not None:
                entry["subrange_of"] = self.ident[parent]
            section[self.ident[key]] = entry
        for key in self.order:
            for mapping in self.raw[key].mapping or ():
                self.add_mapping(section, key, mapping)
        return section

    def add_mapping(self, section: dict[str, Any], key: str, mapping: Any) -> None:
        """Write the mapping of range ``key`` to another: element by element, or, where it
        maps an element to a range of the other (``DimB: B1, B2 -> (DimA: SubA, A3)``), as
        the other's mapping back, each of its elements to the element mapped to it."""
        target = name_key(mapping.target if isinstance(mapping, MappingTo) else str(mapping))
        if target not in self.raw:
            return
        if not isinstance(mapping, MappingTo):
            if len(self.flat[target]) == len(self.flat[key]):
                self.maps_to(section, key, target, self.flat[target])
            return
        items = [self.mapped_elements(key, target, item) for item in mapping.items]
        if len(items) != len(self.flat[key]):
            raise ModelError(
                f"{self.where}: {self.raw[key].name}: a mapping to {mapping.target} lists "
                f"{len(items)} item(s) for {len(self.flat[key])} element(s) (got "
                f"{', '.join(mapping.items)}). Give one element or range of {mapping.target} "
                "for each element"
            )
        if all(len(i) == 1 for i in items):
            self.maps_to(section, key, target, tuple(i[0] for i in items))
            return
        back = {e: source for source, item in zip(self.flat[key], items, strict=True) for e in item}
        missing = [e for e in self.flat[target] if e not in back]
        if missing or sum(map(len, items)) != len(back):
            raise ModelError(
                f"{self.where}: {self.raw[key].name}: unsupported construct 'a subscript "
                f"mapping to ranges that do not cover {mapping.target} once' (got "
                f"{', '.join(mapping.items)}). Map every element of {mapping.target} once"
            )
        self.maps_to(section, target, key, tuple(back[e] for e in self.flat[target]))

    def mapped_elements(self, key: str, target: str, item: str) -> tuple[str, ...]:
        """The elements of ``target`` one item of a mapping list names."""
        elements = self.elements_of(item)
        outside = [e for e in elements if e not in self.flat[target]]
        if outside:
            raise ModelError(
                f"{self.where}: {self.raw[key].name}: the mapping to {self.raw[target].name} "
                f"names '{item}', which is not in that range (got {', '.join(outside)}). Name "
                f"elements or subranges of {self.raw[target].name}"
            )
        return elements

    def maps_to(
        self, section: dict[str, Any], key: str, target: str, images: Sequence[str]
    ) -> None:
        targets = section[self.ident[key]].setdefault("maps_to", {})
        targets[self.ident[target]] = list(images)

    # -- names in equations ----------------------------------------------------------------

    def is_range(self, name: str) -> bool:
        return name_key(name.rstrip("!")) in self.raw

    def subscript(self, name: str) -> str:
        """A subscript as equation text: a range by its identifier (keeping ``!``), an element
        quoted when it is not a Python name."""
        bare = name.rstrip("!")
        if name_key(bare) in self.raw:
            return self.ident[name_key(bare)] + ("!" if name.endswith("!") else "")
        element = self.element(bare)
        return element if element.isidentifier() else repr(element)

    def element(self, name: str) -> str:
        if name in self.owner:
            return name
        matches = [e for e in self.owner if name_key(e) == name_key(name)]
        if not matches:
            raise ModelError(
                f"{self.where}: unknown subscript '{name}'. Declare it in a subscript range"
            )
        return matches[0]

    def reduce_all(self, text: str) -> str:
        """Equation text with every range in its subscripts marked ``!`` (summed out)."""
        idents = "|".join(
            sorted((re.escape(i) for i in self.ident.values()), key=len, reverse=True)
        )
        return re.sub(rf"\b({idents})\b(?=\s*[,\]])", r"\1!", text) if idents else text

    def is_element(self, name: str) -> bool:
        return any(name_key(e) == name_key(name) for e in self.owner)

    def element_value(self, name: str) -> int:
        """An element used as a value: its position (from 1) in its root range."""
        element = self.element(name)
        return self.flat[self.owner[element]].index(element) + 1

    def range_ident(self, name: str) -> str:
        return self.ident[name_key(name)]

    def range_value(self, name: str) -> str:
        """A range used as a value: each element's position (from 1) in its root range, read
        from a hidden parameter over the root."""
        root = self.root_of(name)
        ident = self.names.add(f"{self.raw[root].name} position", hidden=True)
        self.index_parameters[ident] = {
            "dims": [self.ident[root]],
            "value": list(range(1, len(self.flat[root]) + 1)),
            "description": f"Position of each element of {self.raw[root].name}",
        }
        return f"{ident}[{self.ident[name_key(name)]}]"

    def add_range(self, name: str, elements: Sequence[str], parent: str) -> str:
        """A new subrange of ``parent`` (a key) with ``elements``; returns its key."""
        key = name_key(name)
        self.raw[key] = _Range(name, list(elements), [])
        self.order.append(key)
        self.flat[key] = tuple(elements)
        self.parent[key] = parent
        self.ident[key] = self.names.add(name, hidden=True)
        return key

    # -- elements that depend on each other ----------------------------------------------------

    def split_elements(
        self, ident: str, name: str, components: Sequence[Any], ranges: bool = False
    ) -> None:
        """Give each element defined by an equation of its own (``a[one] = ...``) a hidden
        auxiliary, which references to that element then read: ``a[two] = a[one] * 2`` orders
        the elements instead of making ``a`` depend on itself. With ``ranges``, also each
        element of an equation over ranges whose ranges on the right each stand for one element
        (``ce[tNext] = ecc[tPrev] + 1``, see :mod:`.element_wise`)."""
        for component in components:
            left, excepts = list(component.subscripts[0]), list(component.subscripts[1])
            combos = [c for _, cs in self.selectors(left, excepts) for c in cs]
            over_ranges = bool(excepts) or any(self.is_range(p) for p in left)
            if over_ranges and not (
                ranges and all(is_bindable(self, component.ast, left, c) for c in combos)
            ):
                continue
            for combo in combos:
                self.aliases[(ident, combo)] = self.names.add(
                    f"{name}[{','.join(combo)}]", hidden=True
                )

    def mapping_images(self, key: str, target: str) -> tuple[str, ...] | None:
        """The element of ``target`` each element of range ``key`` maps to, in order, when
        ``key`` maps onto ``target`` element by element; else None."""
        for mapping in self.raw[key].mapping or ():
            named = mapping.target if isinstance(mapping, MappingTo) else str(mapping)
            if name_key(named) != target:
                continue
            if not isinstance(mapping, MappingTo):
                same = len(self.flat[target]) == len(self.flat[key])
                return self.flat[target] if same else None
            items = [self.elements_of(item) for item in mapping.items]
            if all(len(i) == 1 for i in items) and len(items) == len(self.flat[key]):
                return tuple(i[0] for i in items)
        return None

    def alias(self, ident: str, subscripts: Sequence[str]) -> str | None:
        """The hidden auxiliary of ``ident[subscripts]`` when the subscripts name one split
        element, else None."""
        if (
            not self.aliases
            or any(self.is_range(str(s)) for s in subscripts)
            or not all(self.is_element(str(s)) for s in subscripts)
        ):
            return None
        return self.aliases.get((ident, tuple(self.element(str(s)) for s in subscripts)))

    # -- variables -----------------------------------------------------------------------------

    def root_of(self, part: str) -> str:
        key = name_key(part)
        if key in self.raw:
            while self.parent[key] is not None:
                key = self.parent[key]  # type: ignore[assignment]
            return key
        return self.owner[self.element(part)]

    def variable_dims(
        self,
        lefts: Sequence[Sequence[str]],
        name: str,
        excepts: Sequence[Sequence[Sequence[str]]] = (),
    ) -> list[str]:
        """The dimensions of a variable from the subscripts on the left of its equations: the
        range they all name, or the root of their elements; a subrange of just the elements
        defined (those ``:EXCEPT:`` leaves out are not) when they do not cover it, and a copy
        where a range comes twice."""
        dims = self.common_dims(lefts)
        defined = [
            combo
            for left, excepted in itertools.zip_longest(lefts, excepts, fillvalue=())
            for _, combos in self.selectors(left, excepted)
            for combo in combos
        ]
        for position, dim in enumerate(dims):
            covered = {combo[position] for combo in defined}
            if covered != set(self.flat[dim]):
                root = self.root_of(dim)
                elements = [e for e in self.flat[root] if e in covered]
                dims[position] = self.add_range(f"{name} {position + 1} elements", elements, root)
            if dims[position] in dims[:position]:
                dims[position] = self.add_range(
                    f"{name} {position + 1} copy",
                    self.flat[dims[position]],
                    self.root_of(dims[position]),
                )
        return dims

    def item_dims(self, ident: str, name: str, components: Sequence[Any]) -> list[str]:
        """:meth:`variable_dims` of the arrayed variable ``ident``, worked out once: equations
        that sum it out over a range read them before it is written."""
        if ident not in self.variable_ranges:
            lefts = [list(c.subscripts[0]) for c in components]
            excepts = [list(c.subscripts[1]) for c in components]
            self.variable_ranges[ident] = self.variable_dims(lefts, name, excepts)
        return list(self.variable_ranges[ident])

    def summed_range(self, written: str, own: str) -> str:
        """The range a reference sums out (``g[DimA!]``): the variable's own range ``own``
        (a key) where it holds only some elements of the ``written`` one, so that the sum runs
        over the elements the variable has, as in PySD; else ``written``."""
        key = name_key(written.rstrip("!"))
        if key in self.raw and set(self.flat[own]) < set(self.flat[key]):
            return f"{self.raw[own].name}!"
        return written

    def left_out(
        self, dims: Sequence[str], defined: Sequence[tuple[str, ...]]
    ) -> list[tuple[str, ...]]:
        """The combinations of elements of ``dims`` no equation defines: those an ``:EXCEPT:``
        leaves out one by one (``p[DimA, DimC] :EXCEPT: [A1, C1]``) when no other equation
        gives them, which cannot be left out of the variable's ranges as whole elements are."""
        given = set(defined)
        return [c for c in itertools.product(*(self.flat[d] for d in dims)) if c not in given]

    def common_dims(self, lefts: Sequence[Sequence[str]]) -> list[str]:
        dims = []
        for position in range(len(lefts[0])):
            parts = {name_key(left[position]) for left in lefts}
            if len(parts) == 1 and next(iter(parts)) in self.raw:
                dims.append(next(iter(parts)))
            else:
                roots = {self.root_of(left[position]) for left in lefts}
                if len(roots) != 1:
                    raise ModelError(
                        f"{self.where}: the equations of one variable use "
                        f"different subscript ranges at position {position + 1} "
                        f"(got {sorted(parts)}). Use one range"
                    )
                dims.append(roots.pop())
        return dims

    def elements_of(self, part: str) -> tuple[str, ...]:
        key = name_key(part)
        return self.flat[key] if key in self.raw else (self.element(part),)

    def selectors(
        self, left: Sequence[str], excepts: Sequence[Sequence[str]]
    ) -> list[tuple[str, list[tuple[str, ...]]]]:
        """Selector texts of one equation, with the element tuples each covers."""
        lists = [self.elements_of(p) for p in left]
        if not excepts:
            text = ", ".join(
                self.ident[name_key(p)] if self.is_range(p) else self.element(p) for p in left
            )
            return [(text, list(itertools.product(*lists)))]
        removed: set[tuple[str, ...]] = set()
        for excluded in excepts:
            removed.update(itertools.product(*(self.elements_of(p) for p in excluded)))
        return [
            (", ".join(combo), [combo])
            for combo in itertools.product(*lists)
            if combo not in removed
        ]

    def dims_document(self, dims: Sequence[str]) -> list[str]:
        return [self.ident[d] for d in dims]


def values_by_element(
    arrays: ArrayImport, left: Sequence[str], value: Any
) -> dict[tuple[str, ...], float]:
    """Numbers of one equation by element tuple: a number for all, or an array over the ranges
    of ``left`` (elements on the left take no axis)."""
    lists = [arrays.elements_of(p) for p in left]
    if not isinstance(value, np.ndarray):
        return dict.fromkeys(itertools.product(*lists), float(value))
    axes = [i for i, p in enumerate(left) if arrays.is_range(p)]
    array = np.asarray(value, dtype=float).reshape([len(lists[i]) for i in axes])
    result = {}
    for combo in itertools.product(*lists):
        index = tuple(lists[i].index(combo[i]) for i in axes)
        result[combo] = float(array[index])
    return result


def nested(
    values: Mapping[tuple[str, ...], float], arrays: ArrayImport, dims: Sequence[str]
) -> list[Any] | None:
    """The values as nested lists in element order, or None if an element has no value."""
    lists = [arrays.flat[d] for d in dims]
    shape = [len(x) for x in lists]
    flat = []
    for combo in itertools.product(*lists):
        if combo not in values:
            return None
        flat.append(values[combo])
    result: list[Any] = np.array(flat).reshape(shape).tolist()
    return result


def _is_constant(ast: Any) -> bool:
    if isinstance(ast, np.ndarray):
        return True
    try:
        float(ast)
    except (TypeError, ValueError):
        return False
    return not isinstance(ast, str)


def emit_arrayed(builder: Any, item: Any, scope: Any, meta: Mapping[str, Any]) -> None:
    """Write the entry (or entries) of a subscripted variable into ``builder.document``."""
    from pssc_sim.parse.translate.syntax import number, render_value

    arrays: ArrayImport = builder.arrays
    components = list(item.ast)
    lefts = [list(c.subscripts[0]) for c in components]
    if any(len(left) != len(lefts[0]) for left in lefts) or not lefts[0]:
        raise ModelError(
            f"{builder.where(item.name)}: the equations of the variable have "
            f"different numbers of subscripts (got {lefts}). Subscript each alike"
        )
    if item.kind == "arrayed lookup":
        _emit_lookup(builder, item, scope, lefts, meta)
        return
    if any(c.type in ("Lookup", "Data") for c in components):
        raise ModelError(
            f"{builder.where(item.name)}: unsupported construct 'subscripted "
            f"{components[0].type.lower()}'. Give each element an equation"
        )
    dims = arrays.item_dims(item.ident, item.name, components)
    dims_text = arrays.dims_document(dims)
    ctx = builder.new_context(item.name, item.ident, scope)
    pieces = [
        (selector, combos, component)
        for component in components
        for selector, combos in arrays.selectors(
            list(component.subscripts[0]), list(component.subscripts[1])
        )
    ]
    # combinations an :EXCEPT: leaves out with no other equation are 0 (a reference to one
    # reads 0); Vensim writes no series for them
    left_out = arrays.left_out(dims, [c for _, combos, _ in pieces for c in combos])
    whole = (
        len(pieces) == 1
        and len(components) == 1
        and not components[0].subscripts[1]
        and [name_key(p) for p in lefts[0]] == dims
        and not any((item.ident, c) in arrays.aliases for _, combos, _ in pieces for c in combos)
    )
    kinds = {type(c.ast).__name__ for c in components}
    if all(_is_constant(c.ast) for c in components):
        values: dict[tuple[str, ...], float] = {}
        for _, combos, component in pieces:
            given = values_by_element(arrays, list(component.subscripts[0]), component.ast)
            values.update({combo: given[combo] for combo in combos})
        values.update(dict.fromkeys(left_out, 0.0))
        listed = nested(values, arrays, dims)
        value: Any = listed if listed is not None else {", ".join(k): v for k, v in values.items()}
        builder.document["parameters"][item.ident] = {"dims": dims_text, "value": value, **meta}
        return

    def split(combo: tuple[str, ...], text: Any) -> Any:
        """``text``, or the hidden auxiliary computing this one element, given ``text``."""
        alias = arrays.aliases.get((item.ident, combo))
        if alias is None:
            return text
        builder.document["auxiliaries"][alias] = {
            "equation": text if isinstance(text, str) else number(float(text)),
            "description": f"{item.name}[{','.join(combo)}] on its own, so that the elements "
            f"of {item.name} can depend on each other",
        }
        return alias

    def equations(part: str) -> Any:
        texts: dict[str, Any] = {}
        for selector, combos, component in pieces:
            if isinstance(component.ast, np.ndarray):
                given = values_by_element(arrays, list(component.subscripts[0]), component.ast)
                texts.update({", ".join(c): split(c, given[c]) for c in combos})
                continue
            left = list(component.subscripts[0])
            over_ranges = any(arrays.is_range(p) for p in left)
            if part == "" and over_ranges and combos and (item.ident, combos[0]) in arrays.aliases:
                for combo in combos:
                    node = bound_equation(arrays, component.ast, left, combo)
                    texts[", ".join(combo)] = split(combo, render_value(node, ctx))
                continue
            node = component.ast if part == "" else getattr(component.ast, part)
            node_ctx = ctx.in_initial() if part == "initial" else ctx
            text = render_value(node, node_ctx)
            texts[selector] = split(combos[0], text) if len(combos) == 1 and part == "" else text
        texts.update({", ".join(c): "0" for c in left_out})
        return next(iter(texts.values())) if whole else texts

    if kinds == {"IntegStructure"}:
        entry = {"dims": dims_text, "initial": equations("initial"), **meta}
        if any(c.ast.non_negative for c in components):
            entry["non_negative"] = True
        builder.document["stocks"][item.ident] = entry
        flow = builder.names.add(f"{item.name} net flow", hidden=True)
        builder.document["flows"][flow] = {
            "dims": dims_text,
            "rate": equations("flow"),
            "to": item.ident,
            "description": f"Net rate of {item.name}",
        }
        return
    if "IntegStructure" in kinds:
        raise ModelError(
            f"{builder.where(item.name)}: unsupported construct 'a stock defined "
            "by INTEG for some elements only'. Give every element an INTEG"
        )
    builder.document["auxiliaries"][item.ident] = {
        "dims": dims_text,
        "equation": equations(""),
        **meta,
    }


def _emit_lookup(
    builder: Any, item: Any, scope: Any, lefts: Sequence[Sequence[str]], meta: Mapping[str, Any]
) -> None:
    """A subscripted lookup: one table per equation, for the elements on its left."""
    arrays: ArrayImport = builder.arrays
    dims = arrays.variable_dims(lefts, item.name)
    ctx = builder.new_context(item.name, item.ident, scope)
    points: dict[str, Any] = {}
    for component in item.ast:
        if component.type != "Lookup":
            raise ModelError(
                f"{builder.where(item.name)}: a lookup with equations for some "
                "elements (got a mix). Give every element a table"
            )
        table = builder.lookup_entry(component.ast, ctx)
        if "extrapolation" in table:
            raise ModelError(
                f"{builder.where(item.name)}: unsupported construct 'a subscripted "
                f"lookup that extrapolates' (got {table['extrapolation']}). Use a "
                "flat lookup"
            )
        pairs = [[x, y] for x, y in zip(table["x"], table["y"], strict=True)]
        for selector, _ in arrays.selectors(
            list(component.subscripts[0]), list(component.subscripts[1])
        ):
            points[selector] = pairs
    builder.document["lookups"][item.ident] = {
        "dims": arrays.dims_document(dims),
        "points": points,
        **meta,
    }
