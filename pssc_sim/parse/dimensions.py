"""Dimensions in model files: the ``dimensions:`` section and arrayed variables.

A model with a ``dimensions:`` section is read by :class:`ArrayReader`, the model reader with
``dims:`` on parameters, stocks, flows and auxiliaries, per-element values and equations,
``except:``, subscripted references and the array functions (``SUM``, ``PROD``, ``VMIN``,
``VMAX``, ``ELMCOUNT``). The format is documented in ``docs/dimensions.md``.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import sympy

from pssc_sim.errors import did_you_mean, shown
from pssc_sim.ir.dimensions import (
    ArrayOp,
    Assemble,
    Axis,
    Dimension,
    Dimensions,
    Values,
    array_op,
)
from pssc_sim.ir.functions import StatefulCall
from pssc_sim.ir.model import Auxiliary, Flow, Lookup, Measure, Parameter, Stock
from pssc_sim.ir.stateful import Lowerer
from pssc_sim.parse.array_scope import Scope
from pssc_sim.parse.expressions import Namespace, parse_expression
from pssc_sim.parse.model_file import KEYS, Entry, Reader

DIMENSION_KEYS = ("elements", "subrange_of", "count", "prefix", "maps_to", "description")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_BAD_ELEMENT = re.compile(r"[,\[\]!\"'\n]")
#: The key of an entry whose per-element form ``except:`` overrides.
_MAIN = {"stocks": "initial", "flows": "rate", "auxiliaries": "equation"}


def array_keys(section: str) -> tuple[str, ...]:
    """The keys an arrayed model adds to an entry of ``section``: ``dims`` (not for measures)
    and, for equations, ``except``."""
    if section == "measures":
        return ()
    return ("dims", "except") if section in _MAIN else ("dims",)


class ArrayReader(Reader):
    """The model reader for documents with a ``dimensions:`` section."""

    def __init__(self, file: str, document: Any) -> None:
        super().__init__(file, document)
        self.table = self.read_dimensions()
        self.dims_of: dict[str, tuple[str, ...]] = self.declared_dims()
        self.lowerer: Lowerer | None = None
        self.lookup_dims: dict[str, tuple[str, ...]] = {}
        self.lookup_tables: dict[str, tuple[tuple[tuple[float, ...], tuple[float, ...]], ...]] = {}

    # -- the dimensions section ---------------------------------------------------------------

    def read_dimensions(self) -> Dimensions:
        raw = self.document.get("dimensions")
        if not isinstance(raw, Mapping) or not raw:
            raise self.error(
                "dimensions",
                f"expected a mapping of dimension names to elements "
                f"(got {shown(raw)}). Write dimensions: "
                f"{{group: [A, B]}}",
            )
        dims: dict[str, Dimension] = {}
        pending: list[tuple[str, Mapping[str, Any]]] = []
        for key, value in raw.items():
            name = str(key)
            if not _NAME.match(name) or "__" in name:
                raise self.error(
                    f"dimensions.{name}",
                    f"the name '{name}' is not a valid "
                    f"dimension name (got {shown(name)}). Use a snake_case name",
                )
            spec = value if isinstance(value, Mapping) else {"elements": value}
            self.check_keys(spec, DIMENSION_KEYS, f"dimensions.{name}")
            if "subrange_of" in spec:
                pending.append((name, spec))
                continue
            dims[name] = Dimension(name, self.elements(name, spec))
        for name, spec in pending:
            dims[name] = self.subrange(name, spec, dims)
        self.check_unique_elements(dims)
        table = Dimensions(tuple(dims.values()))
        maps = {
            name: self.mapping(name, spec, table)
            for name, spec in (
                (n, v) for n, v in raw.items() if isinstance(v, Mapping) and "maps_to" in v
            )
        }
        items = [dataclasses.replace(d, maps=maps.get(d.name, ())) for d in dims.values()]
        return Dimensions(tuple(items))

    def elements(self, name: str, spec: Mapping[str, Any]) -> tuple[str, ...]:
        path = f"dimensions.{name}"
        if "count" in spec:
            count = spec["count"]
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                raise self.error(
                    f"{path}.count",
                    f"expected a positive whole number (got {shown(count)}). Write count: 10",
                )
            prefix = spec.get("prefix", "")
            return tuple(f"{prefix}{i}" for i in range(1, count + 1))
        raw = spec.get("elements")
        if not isinstance(raw, list) or not raw:
            raise self.error(
                f"{path}.elements",
                f"expected a non-empty list of elements (got "
                f"{shown(raw)}). Write {name}: [A, B, C]",
            )
        elements = []
        for value in raw:
            element = str(value)
            if isinstance(value, bool) or not element or _BAD_ELEMENT.search(element):
                raise self.error(
                    f"{path}.elements",
                    f"'{element}' is not a valid element name "
                    f"(got {shown(value)}). Use text without commas, brackets, quotes "
                    "or '!'",
                )
            if element in elements:
                raise self.error(
                    f"{path}.elements",
                    f"the element '{element}' is listed twice "
                    f"(got {shown(raw)}). List each element once",
                )
            elements.append(element)
        return tuple(elements)

    def subrange(
        self, name: str, spec: Mapping[str, Any], dims: Mapping[str, Dimension]
    ) -> Dimension:
        path = f"dimensions.{name}"
        parent = str(spec["subrange_of"])
        if parent not in dims:
            hint = did_you_mean(parent, dims) or f" Dimensions: {', '.join(dims)}."
            raise self.error(f"{path}.subrange_of", f"unknown dimension '{parent}'.{hint}")
        elements = self.elements(name, spec)
        for element in elements:
            if element not in dims[parent].elements:
                hint = did_you_mean(element, dims[parent].elements) or (
                    f" Use elements of '{parent}'."
                )
                raise self.error(
                    f"{path}.elements",
                    f"'{element}' is not an element of '{parent}' (got {list(elements)}).{hint}",
                )
        return Dimension(name, elements, parent)

    def check_unique_elements(self, dims: Mapping[str, Dimension]) -> None:
        owner: dict[str, str] = {}
        for dim in dims.values():
            for element in dim.elements if dim.parent is None else ():
                if element in dims:
                    raise self.error(
                        f"dimensions.{dim.name}",
                        f"the element '{element}' is "
                        f"also a dimension name (got {shown(element)}). Rename one",
                    )
                if element in owner:
                    raise self.error(
                        f"dimensions.{dim.name}",
                        f"the element '{element}' also "
                        f"belongs to '{owner[element]}' (got {shown(element)}). Give "
                        "each dimension its own element names",
                    )
                owner[element] = dim.name

    def mapping(
        self, name: str, spec: Mapping[str, Any], table: Dimensions
    ) -> tuple[tuple[str, tuple[str, ...]], ...]:
        path = f"dimensions.{name}.maps_to"
        raw = spec["maps_to"]
        targets = raw if isinstance(raw, Mapping) else {raw: None}
        result = []
        for key, images in targets.items():
            other = str(key)
            if other not in table:
                hint = did_you_mean(other, table.names()) or " Name a dimension."
                raise self.error(path, f"unknown dimension '{other}'.{hint}")
            size = table[name].size
            values = list(table[other].elements) if images is None else images
            if not isinstance(values, list) or len(values) != size:
                raise self.error(
                    path,
                    f"'{name}' has {size} elements but the mapping to "
                    f"'{other}' gives {len(values) if isinstance(values, list) else 0}"
                    f" (got {shown(images)}). Give one element of '{other}' for each",
                )
            for value in values:
                if str(value) not in table[other].elements:
                    hint = did_you_mean(str(value), table[other].elements)
                    raise self.error(
                        path,
                        f"'{value}' is not an element of '{other}' (got "
                        f"{values}).{hint or ' Use its elements.'}",
                    )
            result.append((other, tuple(str(v) for v in values)))
        return tuple(result)

    def declared_dims(self) -> dict[str, tuple[str, ...]]:
        dims: dict[str, tuple[str, ...]] = {}
        for section in ("parameters", "stocks", "flows", "auxiliaries"):
            raw = self.document.get(section)
            for name, value in raw.items() if isinstance(raw, Mapping) else ():
                if isinstance(value, Mapping) and "dims" in value:
                    dims[str(name)] = self.dims(f"{section}.{name}.dims", value["dims"])
        flows = self.document.get("flows")
        for name, value in flows.items() if isinstance(flows, Mapping) else ():
            if isinstance(value, Mapping) and "dims" not in value:
                ends = [value.get("from"), value.get("to")]
                for end in ends:
                    if isinstance(end, str) and dims.get(end):
                        dims[str(name)] = dims[end]
                        break
        return dims

    def dims(self, path: str, raw: Any) -> tuple[str, ...]:
        names = [raw] if isinstance(raw, str) else raw
        if not isinstance(names, list) or not names:
            raise self.error(
                path,
                f"expected a list of dimension names (got {shown(raw)}). Write dims: [age, group]",
            )
        for name in names:
            if name not in self.table:
                hint = did_you_mean(str(name), self.table.names()) or (
                    f" Dimensions: {', '.join(self.table.names())}."
                )
                raise self.error(path, f"unknown dimension '{name}'.{hint}")
        if len(set(names)) != len(names):
            raise self.error(path, f"a dimension is listed twice (got {names}). List each once")
        return tuple(str(n) for n in names)

    # -- the hooks of the model reader ---------------------------------------------------------

    def allowed_keys(self, section: str) -> tuple[str, ...]:
        extra = array_keys(section)
        return (*KEYS[section], *extra)

    def lookup(self, entry: Entry) -> Lookup:
        """A lookup; with ``dims``, ``points`` is one table for every element or a mapping of
        selectors to tables."""
        if "dims" not in entry.fields:
            return super().lookup(entry)
        dims = self.dims(f"{entry.path}.dims", entry.fields["dims"])
        path = f"{entry.path}.points"
        raw = self.required(entry, "points")
        if entry.fields.get("extrapolation", "flat") != "flat" or "x" in entry.fields:
            raise self.error(
                entry.path,
                "an arrayed lookup takes points and flat "
                f"extrapolation only (got keys {sorted(entry.fields)}). Give "
                "points: {selector: [[x, y], ...]}",
            )
        tables: dict[tuple[int, ...], Lookup] = {}
        for key, points in raw.items() if isinstance(raw, Mapping) else [(None, raw)]:
            where = path if key is None else f"{path}.{key}"
            one = super().lookup(Entry("lookups", entry.name, {"points": points}))
            positions = (
                [tuple(range(n)) for n in self.table.shape(dims)]
                if key is None
                else self.selector(where, str(key), dims)[0]
            )
            for combo in itertools.product(*positions):
                if combo in tables:
                    raise self.error(
                        where,
                        f"these elements already have a table (got "
                        f"{shown(key)}). Give each element one table",
                    )
                tables[combo] = one
        missing = np.ones(self.table.shape(dims), dtype=bool)
        for combo in tables:
            missing[combo] = False
        self.check_covered(path, missing, dims, "table")
        ordered = [
            tables[c] for c in itertools.product(*(range(n) for n in self.table.shape(dims)))
        ]
        self.lookup_dims[entry.name] = dims
        self.lookup_tables[entry.name] = tuple((t.x, t.y) for t in ordered)
        return Lookup(
            entry.name,
            ordered[0].x,
            ordered[0].y,
            meta=self.meta(entry),
            dims=dims,
            tables=self.lookup_tables[entry.name],
        )

    def dimension_table(self) -> Dimensions:
        return self.table

    def check_names(self, entries: Mapping[str, list[Entry]]) -> set[str]:
        names = super().check_names(entries)
        for entry in (e for section in entries.values() for e in section):
            if entry.name in self.table or self.table.element_root(entry.name):
                what = "a dimension" if entry.name in self.table else "an element"
                raise self.error(
                    entry.path,
                    f"the name '{entry.name}' is also {what} "
                    f"(got {shown(entry.name)}). Rename one of them",
                )
        return names

    def parameter(self, entry: Entry) -> Parameter:
        dims = self.dims_of.get(entry.name, ())
        if not dims:
            return super().parameter(entry)
        if "range" in entry.fields or "distribution" in entry.fields:
            raise self.error(
                entry.path,
                "range and distribution are given per element in "
                f"scenarios, not on an arrayed parameter (got dims {list(dims)}). "
                "Set them on an element in the scenario's uncertainty block",
            )
        raw = self.required(entry, "value")
        values = self.values(f"{entry.path}.value", raw, dims)
        common = values[0] if len(set(values)) == 1 else float("nan")
        return Parameter(entry.name, common, self.meta(entry), dims=dims, values=values)

    def values(self, path: str, raw: Any, dims: tuple[str, ...]) -> tuple[float, ...]:
        shape = self.table.shape(dims)
        if isinstance(raw, Mapping):
            array = np.full(shape, np.nan)
            for key, value in raw.items():
                positions, _ = self.selector(f"{path}.{key}", str(key), dims)
                block = array[np.ix_(*positions)]
                if not np.isnan(block).all():
                    raise self.error(
                        f"{path}.{key}",
                        f"these elements already have a value "
                        f"(got {shown(key)}). Give each element one value",
                    )
                array[np.ix_(*positions)] = self.number(value, f"{path}.{key}")
            self.check_covered(path, np.isnan(array), dims)
            return tuple(float(v) for v in array.ravel())
        if isinstance(raw, list):
            try:
                array = np.asarray(raw, dtype=float)
            except (TypeError, ValueError):
                raise self.error(
                    path, f"expected numbers (got {shown(raw)}). Write one number per element"
                ) from None
            if array.shape != shape:
                raise self.error(
                    path,
                    f"expected {'x'.join(map(str, shape))} values, one per "
                    f"element of {', '.join(dims)} (got shape "
                    f"{'x'.join(map(str, array.shape))}). Give one per element",
                )
            return tuple(float(v) for v in array.ravel())
        return (self.number(raw, path),) * self.table.size(dims)

    def check_covered(
        self, path: str, missing: np.ndarray, dims: tuple[str, ...], what: str = "value"
    ) -> None:
        if missing.any():
            first = next(zip(*np.nonzero(missing), strict=True))
            names = [self.table[d].elements[i] for d, i in zip(dims, first, strict=True)]
            raise self.error(
                path,
                f"{int(missing.sum())} element(s) have no {what}, such as "
                f"[{','.join(names)}] (got keys for the others). Cover every "
                f"element, or give one {what} for all",
            )

    def selector(
        self, path: str, text: str, dims: tuple[str, ...]
    ) -> tuple[list[tuple[int, ...]], list[Axis]]:
        """Element positions and axes of a key such as ``"0-4, A"`` or ``"young, group"``."""
        parts = [p.strip() for p in text.split(",")]
        if len(parts) != len(dims):
            raise self.error(
                path,
                f"expected {len(dims)} subscript(s), one for each of "
                f"{', '.join(dims)} (got {shown(text)}). Separate them with commas",
            )
        positions, axes = [], []
        for part, dim in zip(parts, dims, strict=True):
            if part in self.table:
                index = self.table.correspondence(dim, part)
                if index is None or self.table.root(part) != self.table.root(dim):
                    raise self.error(
                        path,
                        f"'{part}' is not '{dim}' or a subrange of it (got "
                        f"{shown(text)}). Use elements or subranges of '{dim}'",
                    )
                positions.append(index)
                axes.append(Axis(part, frozenset({dim, part})))
            elif part in self.table[dim].elements:
                index = (self.table[dim].elements.index(part),)
                positions.append(index)
                axes.append(Axis(self.singleton(dim, part), frozenset({dim})))
            else:
                hint = did_you_mean(part, [*self.table[dim].elements, *self.table.names()])
                raise self.error(
                    path,
                    f"'{part}' is not an element or subrange of '{dim}' "
                    f"(got {shown(text)}).{hint or ' Use its elements.'}",
                )
        return positions, axes

    def singleton(self, dim: str, element: str) -> str:
        """The one-element subrange of ``dim`` that a per-element equation runs over."""
        name = f"{dim}[{element}]"
        if name not in self.table:
            items = (*self.table.items, Dimension(name, (element,), dim))
            self.table = Dimensions(items)
        return name

    def stock(self, entry: Entry, namespace: Namespace) -> Stock:
        dims = self.dims_of.get(entry.name, ())
        stock = super().stock(entry, namespace)
        return dataclasses.replace(stock, dims=dims)

    def flow(self, entry: Entry, namespace: Namespace, lowerer: Lowerer, stocks: set[str]) -> Flow:
        dims = self.dims_of.get(entry.name, ())
        flow = super().flow(entry, namespace, lowerer, stocks)
        for key, end in (("from", flow.source), ("to", flow.target)):
            if end is not None and self.dims_of.get(end, ()) != dims:
                raise self.error(
                    f"{entry.path}.{key}",
                    f"the flow runs over "
                    f"[{', '.join(dims)}] but the stock '{end}' over "
                    f"[{', '.join(self.dims_of.get(end, ()))}] (got dims "
                    f"{list(dims)}). Give the flow the dimensions of its stocks",
                )
        return dataclasses.replace(flow, dims=dims)

    def auxiliary(self, entry: Entry, namespace: Namespace, lowerer: Lowerer) -> Auxiliary:
        aux = super().auxiliary(entry, namespace, lowerer)
        return dataclasses.replace(aux, dims=self.dims_of.get(entry.name, ()))

    def measure(
        self,
        entry: Entry,
        namespace: Namespace,
        lowerer: Lowerer,
        names: set[str],
        auxiliaries: list[Auxiliary],
    ) -> Measure:
        measure = super().measure(entry, namespace, lowerer, names, auxiliaries)
        arrayed = sorted(
            s.name
            for e in (measure.true, measure.reported)
            for s in e.free_symbols
            if self.dims_of.get(s.name)
        )
        if arrayed or measure.true.has(ArrayOp):
            raise self.error(
                entry.path,
                f"a measure must be a single value, but it reads the "
                f"arrayed '{arrayed[0] if arrayed else entry.name}' (got "
                f"{measure.true}). Measure a total, e.g. SUM(x[age!]), or one "
                "element, e.g. x[A]",
            )
        return measure

    def expression(self, entry: Entry, key: str, namespace: Namespace) -> sympy.Expr:
        """An equation on the axes of its variable; a mapping gives per-element equations and
        ``except:`` overrides elements of the main one."""
        if entry.section == "measures":
            return super().expression(entry, key, self.scoped(namespace, entry, key, []))
        dims = self.dims_of.get(entry.name, ())
        path = f"{entry.path}.{key}"
        raw = self.required(entry, key)
        exceptions = entry.fields.get("except") if key == _MAIN.get(entry.section) else None
        if not dims:
            if isinstance(raw, Mapping) or exceptions is not None:
                raise self.error(
                    path,
                    "per-element equations need dims (got a mapping). Add "
                    "dims: [...] to the variable",
                )
            return self.piece(entry, path, raw, namespace, [])
        target = [Axis(d, frozenset({d})) for d in dims]
        if isinstance(raw, list):
            values = self.values(path, raw, dims)
            raw = array_op(Values(self.table.shape(dims), values))()
        if not isinstance(raw, Mapping) and exceptions is None:
            return self.piece(entry, path, raw, namespace, target)
        pieces: list[tuple[list[tuple[int, ...]], sympy.Expr]] = []
        if not isinstance(raw, Mapping):
            full = [tuple(range(n)) for n in self.table.shape(dims)]
            pieces.append((full, self.piece(entry, path, raw, namespace, target)))
            raw = {}
        if exceptions is not None and not isinstance(exceptions, Mapping):
            raise self.error(
                f"{entry.path}.except",
                f"expected a mapping of elements to "
                f"equations (got {shown(exceptions)}). Write except: {{A: 0}}",
            )
        covered = np.zeros(self.table.shape(dims), dtype=bool)
        covered[...] = bool(pieces)
        for where, mapping in ((path, raw), (f"{entry.path}.except", exceptions or {})):
            for selector, text in mapping.items():
                sub = f"{where}.{selector}"
                positions, axes = self.selector(sub, str(selector), dims)
                block = np.ix_(*positions)
                if where == path and covered[block].any():
                    raise self.error(
                        sub,
                        f"these elements already have an equation (got "
                        f"{shown(selector)}). Give each element one equation, or use "
                        "except:",
                    )
                covered[block] = True
                pieces.append((positions, self.piece(entry, sub, text, namespace, axes)))
        self.check_covered(path, ~covered, dims, "equation")
        spec = Assemble(self.table.shape(dims), tuple(tuple(p) for p, _ in pieces))
        return array_op(spec)(*(e for _, e in pieces))

    def piece(
        self, entry: Entry, path: str, text: Any, namespace: Namespace, target: list[Axis]
    ) -> sympy.Expr:
        if isinstance(text, ArrayOp):
            return text
        where = self.where(path)
        scope = Scope(self, target, where)
        expr = parse_expression(
            text, where=where, namespace=dataclasses.replace(namespace, arrays=scope)
        )
        lowerer = self.lowerer
        if lowerer is None or not expr.has(StatefulCall):
            return expr
        if any(op.has(StatefulCall) for op in expr.atoms(ArrayOp)):
            raise self.error(
                path,
                f"a stateful builtin inside an array function (got "
                f"{shown(text)})."
                " Move it into an auxiliary of its own",
            )
        before = {kind: len(getattr(lowerer.out, kind)) for kind in _LOWERED}
        lowered = lowerer.lower(expr, owner=entry.name, where=where, element=self.positions(target))
        dims = tuple(a.dim for a in target)
        for kind in _LOWERED:
            items = getattr(lowerer.out, kind)
            for i in range(before[kind], len(items)):
                items[i] = dataclasses.replace(items[i], dims=dims)
        return lowered

    def positions(self, target: list[Axis]) -> sympy.Expr:
        """The position (0, 1, ... in row order) of each element of an equation over
        ``target``: random functions draw one stream per element."""
        if not target:
            return sympy.S.Zero
        shape = self.table.shape([a.dim for a in target])
        size = int(np.prod(shape))
        return array_op(Values(shape, tuple(float(i) for i in range(size))))()

    def scoped(self, namespace: Namespace, entry: Entry, key: str, target: list[Axis]) -> Namespace:
        return dataclasses.replace(
            namespace, arrays=Scope(self, target, self.where(f"{entry.path}.{key}"))
        )

    def make_lowerer(self, constants: Mapping[str, float]) -> Lowerer:
        self.lowerer = Lowerer(constants)
        return self.lowerer


_LOWERED = ("stocks", "flows", "auxiliaries", "discrete")
