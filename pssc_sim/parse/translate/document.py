"""Imported models -> pssc_sim model documents (the DESIGN §2 YAML format, as a dict).

PySD's translators (:mod:`pysd.translators`) read a Vensim ``.mdl`` or an XMILE file into an
abstract model: sections of elements, each with an abstract syntax tree. This module walks that
tree and writes the same document a modeller would write by hand:

- the control variables (INITIAL TIME, FINAL TIME, TIME STEP, SAVEPER) become the ``time`` block;
- a constant becomes a parameter, ``INTEG`` a stock, a table a lookup, the rest auxiliaries;
- the net rate of each stock is split into flows, as Vensim's own diagram does: a top-level term
  that names a variable (``+ births``, ``- deaths``) makes that variable a flow into or out of the
  stock, provided no other stock claims it the same way; what is left becomes one net-rate flow;
- macros are expanded, one copy of their variables per call;
- units, documentation and the original name of each variable are kept as metadata.

The document then goes through the same validating reader as a YAML file, so one path checks
every model, and writing the document gives ``pssc convert``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import math
import os
import re
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pssc_sim.errors import ModelError, PsscSimError
from pssc_sim.parse.translate.arrays import (
    ArrayImport,
    MappingTo,
    emit_arrayed,
    values_by_element,
)
from pssc_sim.parse.translate.external import DataFiles, stepped
from pssc_sim.parse.translate.external import data_tags as read_data_tags
from pssc_sim.parse.translate.modules import flatten_modules
from pssc_sim.parse.translate.names import NameMap, name_key
from pssc_sim.parse.translate.precheck import check_vensim_text, check_xmile_file
from pssc_sim.parse.translate.syntax import (
    Context,
    is_number,
    number,
    render,
    render_value,
    signed_terms,
)
from pssc_sim.parse.translate.vensim_text import (
    failing_element,
    macros_first,
    mapping_lists,
    strip_equation_comments,
)

#: Vensim control variables and the key of the time block each one sets.
CONTROL = {
    "initial_time": "start",
    "final_time": "stop",
    "time_step": "dt",
    "saveper": "save_every",
}
_EXTRAPOLATION = {
    "interpolate": "flat",
    "continuous": "flat",
    "extrapolate": "linear",
    "hold_backward": "discrete",
    "discrete": "discrete",
}
_SECTIONS = ("parameters", "stocks", "flows", "auxiliaries", "lookups")


@dataclass(frozen=True, slots=True)
class Translation:
    """An imported model: its document, and the original name behind each identifier."""

    source: Path
    document: Mapping[str, Any]
    original_names: Mapping[str, str]
    identifiers: Mapping[str, str]

    def identifier(self, name: str) -> str | None:
        """The identifier given to the original variable ``name`` (any case or spacing)."""
        return self.identifiers.get(name_key(name))


def read_abstract_model(path: Path) -> Any:
    """Parse ``path`` with PySD's translator for its suffix; returns PySD's AbstractModel."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        reader_class = _reader_class(path)
        try:
            with tempfile.TemporaryDirectory() as folder:
                vensim = path.suffix.lower() == ".mdl"
                if not vensim:
                    check_xmile_file(path)  # before any XML parser reads it
                readable = path if vensim else _with_variables_element(path, Path(folder))
                reader = reader_class(readable)
                lists: dict[str, dict[str, tuple[str, ...]]] = {}
                if vensim:  # the text as the translator decoded it, before it is parsed
                    check_vensim_text(str(path), reader.model_text)
                    reader.model_text = macros_first(strip_equation_comments(reader.model_text))
                    lists = mapping_lists(reader.model_text)
                reader.parse()
                return _with_mapping_lists(reader.get_abstract_model(), lists)
        except ModelError:
            raise
        except Exception as exc:  # any failure of the translator is bad input
            text = getattr(reader, "model_text", "") if "reader" in locals() else ""
            equation = getattr(exc, "text", None)
            variable = failing_element(text, equation)
            if (
                variable is not None
                and isinstance(equation, str)
                and name_key(equation.split("[", 1)[0]) == name_key(variable)
            ):  # a name alone, subscripted or not
                raise _data_variable(f"{path}: {variable}") from None
            raise unreadable(path, exc, variable) from None


def _with_mapping_lists(abstract: Any, lists: Mapping[str, Mapping[str, tuple[str, ...]]]) -> Any:
    """``abstract`` with each mapping that lists its elements as a :class:`MappingTo` (the
    translator keeps only the target's name, and appends the list to the range's elements)."""
    keyed = {name_key(k): {name_key(t): (t, v) for t, v in m.items()} for k, m in lists.items()}
    for section in abstract.sections if keyed else ():
        for subscript_range in section.subscripts:
            listed = keyed.get(name_key(subscript_range.name), {})
            mapping = [
                MappingTo(*listed[name_key(m)]) if name_key(str(m)) in listed else m
                for m in subscript_range.mapping or ()
            ]
            elements = list(subscript_range.subscripts)
            for item in reversed([m for m in mapping if isinstance(m, MappingTo)]):
                if tuple(map(name_key, elements[-len(item.items) :])) == tuple(
                    map(name_key, item.items)
                ):
                    del elements[-len(item.items) :]
            subscript_range.subscripts, subscript_range.mapping = elements, mapping
    return abstract


def unreadable(path: Path, error: BaseException, variable: str | None = None) -> ModelError:
    """A failure of the translator (or of building the document from its output) on ``path``,
    as one line: the file's kind, the variable when known, the error's type and the start of its
    text.

    >>> print(unreadable(Path("m.mdl"), TypeError("INTEG() missing 2 arguments")))
    m.mdl: the Vensim file could not be read (TypeError: INTEG() missing 2 arguments). Check the \
file in Vensim, or simplify the equation the error names
    >>> print(unreadable(Path("m.mdl"), ValueError("bad"), "growth"))
    m.mdl: growth: the Vensim file could not be read at this equation (ValueError: bad). Check \
the file in Vensim, or simplify the equation
    """
    kind = "Vensim" if path.suffix.lower() == ".mdl" else "XMILE"
    text = " ".join(str(error).split())
    text = text.split(" Parse tree:")[0]  # parsimonious appends the whole parse tree
    if len(text) > 200:
        text = text[:197] + "..."
    program = "Vensim" if kind == "Vensim" else "Stella"
    if variable is not None:
        return ModelError(
            f"{path}: {variable}: the {kind} file could not be read at this "
            f"equation ({type(error).__name__}: {text}). Check the file in "
            f"{program}, or simplify the equation"
        )
    return ModelError(
        f"{path}: the {kind} file could not be read ({type(error).__name__}: "
        f"{text}). Check the file in {program}, or simplify the equation the "
        "error names"
    )


def _reader_class(path: Path) -> Any:
    try:
        if path.suffix.lower() == ".mdl":
            from pysd.translators.vensim.vensim_file import VensimFile

            return VensimFile
        from pysd.translators.xmile.xmile_file import XmileFile

        return XmileFile
    except ImportError:
        raise ModelError(
            f"{path}: reading {path.suffix} files needs PySD's translators (got no "
            "'pysd' package). Install them with: pip install 'pssc_sim[vensim]'"
        ) from None


_VARIABLE_TAGS = ("aux", "stock", "flow", "gf", "module", "group")


def _points_over_scales(tree: Any) -> bool:
    """Drop the ``<xscale>`` of every graphical function that lists its ``<xpts>``: XMILE
    spaces the points over the scale only when they are not given (files write ``min="0"
    max="0"`` beside the points), and the translator would use the scale."""
    from lxml import etree

    changed = False
    for gf in tree.getroot().iter("{*}gf"):
        tags = {etree.QName(c).localname: c for c in gf if isinstance(c.tag, str)}
        if "xpts" in tags and "xscale" in tags:
            gf.remove(tags["xscale"])
            changed = True
    return changed


#: Stella's ``LOOKUP(table, x)``, a graphical function called by name, up to its input.
_LOOKUP_CALL = re.compile(r"\bLOOKUP\s*\(\s*([A-Za-z_][\w.]*|\"[^\"]*\")\s*,", re.IGNORECASE)


def _lookup_calls(tree: Any) -> bool:
    """Write Stella's ``LOOKUP(table, x)`` as XMILE's ``table(x)``, which the translator
    reads (it takes ``LOOKUP`` for a table written in the equation)."""
    changed = False
    for eqn in tree.getroot().iter("{*}eqn"):
        if eqn.text and _LOOKUP_CALL.search(eqn.text):
            eqn.text = _LOOKUP_CALL.sub(r"\1(", eqn.text)
            changed = True
    return changed


def _with_variables_element(path: Path, folder: Path) -> Path:
    """``path``, or a copy in ``folder`` whose models hold their variables in a ``<variables>``
    element (older Stella files put them straight under ``<model>``, where the translator does
    not look) and whose modules are flattened into one model (:mod:`.modules`)."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, recover=True)
    try:
        tree = etree.parse(str(path), parser)
    except etree.XMLSyntaxError:
        return path  # the translator reports what is wrong with the file
    changed = False
    for model in tree.getroot().iter("{*}model"):
        children = [
            c
            for c in model
            if isinstance(c.tag, str) and etree.QName(c).localname in _VARIABLE_TAGS
        ]
        if not children or any(
            etree.QName(c).localname == "variables" for c in model if isinstance(c.tag, str)
        ):
            continue
        variables = etree.SubElement(
            model,
            f"{{{etree.QName(model).namespace}}}variables"
            if etree.QName(model).namespace
            else "variables",
        )
        for child in children:
            variables.append(child)
        changed = True
    changed = _points_over_scales(tree) or changed
    changed = _lookup_calls(tree) or changed
    changed = flatten_modules(tree, path) or changed
    if not changed:
        return path
    copy = folder / path.name
    tree.write(str(copy), xml_declaration=True, encoding="utf-8")
    return copy


def translate(
    path: str | Path, data_tags: Mapping[str, str | os.PathLike[str]] | None = None
) -> Translation:
    """Translate a Vensim or XMILE file into a pssc_sim model document; ``data_tags`` maps
    the tags that name data files in the model (``'?data'``) to the files."""
    source = Path(path)
    tags = read_data_tags(data_tags, "data_tags")
    abstract = read_abstract_model(source)
    try:
        return _Builder(source, abstract, tags).build()
    except PsscSimError:
        raise
    except (
        ArithmeticError,
        AttributeError,
        LookupError,
        TypeError,
        ValueError,
        RecursionError,
    ) as exc:  # the translator's output was not what the builder expects
        raise unreadable(source, exc) from None


@dataclass(slots=True)
class _Scope:
    """The names visible in one section: the main model, or one expanded macro call."""

    builder: _Builder
    ids: dict[str, str] = field(default_factory=dict)
    lookups: dict[str, str] = field(default_factory=dict)
    arguments: dict[str, str] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)
    active: dict[str, tuple[Any, str]] = field(default_factory=dict)
    items: dict[str, _Item] = field(default_factory=dict)

    def reference(self, key: str, *, initial: bool) -> str | None:
        k = name_key(key)
        if k in self.arguments:
            return self.arguments[k]
        if k in self.constants:
            return self.constants[k]
        ident = self.ids.get(k)
        if ident is not None and initial and ident in self.active:
            return self.builder.active_initial(self, ident)
        return ident

    def lookup(self, key: str) -> str | None:
        return self.lookups.get(name_key(key))

    def table(self, key: str) -> Any:
        item = self.items.get(name_key(key))
        if (
            item is not None
            and item.kind == "auxiliary"
            and _kind(item.ast) == ("InlineLookupsStructure")
        ):
            return item.ast.lookups  # Stella's graphical function of an input
        return item.ast if item is not None and item.kind == "lookup" else None

    def ranges(self, key: str) -> list[str] | None:
        item = self.items.get(name_key(key))
        arrays = self.builder.arrays
        if item is None or item.kind != "arrayed" or arrays is None:
            return None
        lefts = [c.subscripts[0] for c in item.ast]
        if not lefts[0] or any(len(left) != len(lefts[0]) for left in lefts):
            return None  # the variable's own translation says what is wrong
        return arrays.item_dims(item.ident, item.name, item.ast)


@dataclass(slots=True)
class _Item:
    """One element of a section with its identifier and kind."""

    ident: str
    element: Any
    kind: str  # parameter, stock, auxiliary, lookup
    ast: Any

    @property
    def name(self) -> str:
        return str(self.element.name)


class _Builder:
    def __init__(self, source: Path, abstract: Any, tags: Mapping[str, Path]) -> None:
        self.source = source
        self.abstract = abstract
        self.names = NameMap()
        self.document: dict[str, Any] = {s: {} for s in _SECTIONS}
        #: The control variables given by equations over TIME (also written as variables)
        self.moving: dict[str, Any] = {}
        main = [s for s in abstract.sections if s.type == "main" or s.name == "__main__"]
        if len(main) != 1:
            raise ModelError(
                f"{source}: expected one main model section (got {len(main)}). "
                "Modules are not supported; flatten the model"
            )
        self.main = main[0]
        self.macros = {
            name_key(s.name): s
            for s in abstract.sections
            if s is not self.main and s.type == "macro"
        }
        others = [s.name for s in abstract.sections if s is not self.main and s.type != "macro"]
        if others:
            raise ModelError(
                f"{source}: unsupported construct 'module' (got {others}). "
                "Flatten the modules into one model"
            )
        self.instances: dict[str, int] = {}
        self.active_texts: dict[str, str] = {}
        self.time_block: dict[str, Any] = {}
        self.data = DataFiles(source.parent, tags)
        self.arrays = (
            ArrayImport(self.main, self.names, str(source), self.read_subscript)
            if self.main.subscripts
            else None
        )

    def where(self, name: str) -> str:
        return f"{self.source}: {name}"

    def read_subscript(self, name: str, spec: Mapping[str, Any]) -> list[str]:
        """The elements of the range ``name`` defined by GET DIRECT SUBSCRIPT (or GET XLS
        SUBSCRIPT), read from its data file."""
        return self.data.subscript_elements(spec, self.where(name))

    # -- the whole model ---------------------------------------------------------------------

    def build(self) -> Translation:
        controls = {name_key(e.name): e for e in self.main.elements if name_key(e.name) in CONTROL}
        time = self.time(controls)
        self.time_block = time
        scope = _Scope(self)
        if "saveper" in controls and "saveper" not in self.moving:
            scope.constants["saveper"] = number(time["save_every"])
        elements = [
            e
            for e in self.main.elements
            if name_key(e.name) not in CONTROL or name_key(e.name) in self.moving
        ]
        if not elements:
            raise ModelError(
                f"{self.source}: the translator found no variables in the model "
                "(got only the time settings). Check that the file holds a model"
            )
        self.emit_section(elements, scope, prefix="")
        if "time_step" in self.moving:
            self.check_steps_unread()
        document: dict[str, Any] = {
            "model": self.names.add(self.source.stem, hidden=True),
            "title": f"{self.source.name} (imported)",
            "time": time,
        }
        if self.arrays is not None:
            document["dimensions"] = self.arrays.dimensions()
            self.document["parameters"].update(self.arrays.index_parameters)
        document.update({k: v for k, v in self.document.items() if v})
        return Translation(
            self.source, document, dict(self.names.original), dict(self.names.by_key)
        )

    def time(self, controls: Mapping[str, Any]) -> dict[str, Any]:
        values: dict[str, float] = {}

        def value(key: str, seen: tuple[str, ...] = ()) -> float:
            if key in values:
                return values[key]
            if key not in controls or key in seen:
                raise ModelError(
                    f"{self.source}: {key.replace('_', ' ').upper()}: the control "
                    "variable is missing. Define INITIAL TIME, FINAL TIME and "
                    "TIME STEP"
                )
            ast = controls[key].components[0].ast
            values[key] = self.constant(ast, controls[key].name, lambda k: value(k, (*seen, key)))
            return values[key]

        clock = _Clock(self, controls)
        self.moving = {k: controls[k] for k in controls if not clock.is_constant(k)}
        if set(self.moving) - {"final_time"}:
            # a time step or saving interval that changes: the steps are listed
            listed = clock.listed()
            units = str(getattr(controls.get("time_step"), "units", "") or "")
            return {**listed, "units": units} if units else listed
        if self.moving:
            # FINAL TIME given by an equation over time: the run stops at the first step at
            # which TIME reaches the value of the equation (it may grow during the run).
            for key in ("initial_time", "time_step", "saveper"):
                if key in controls:
                    values[key] = clock.constant(key)
            values["final_time"] = clock.stop(values["initial_time"], values["time_step"])
        else:
            for key in controls:
                with contextlib.suppress(ModelError):
                    values[key] = clock.constant(key)
        time: dict[str, Any] = {
            CONTROL[k]: value(k) for k in ("initial_time", "final_time", "time_step")
        }
        time["save_every"] = value("saveper") if "saveper" in controls else time["dt"]
        units = str(getattr(controls.get("time_step"), "units", "") or "")
        if units:
            time["units"] = units
        return time

    def check_steps_unread(self) -> None:
        """Refuse a TIME STEP that changes over time when an equation steps with it (a
        builtin such as DELAY FIXED, a random function, or TIME STEP inside a macro): the
        listed steps give Euler's widths, not the steps those equations would count."""
        for section in ("stocks", "flows", "auxiliaries"):
            for ident, entry in self.document[section].items():
                text = " ".join(str(v) for v in entry.values() if isinstance(v, str))
                if _STEPPED.search(text):
                    name = self.names.original.get(ident, ident)
                    raise ModelError(
                        f"{self.where(name)}: unsupported construct 'TIME STEP read by an "
                        "equation while it changes over time' (got a builtin that counts its "
                        "steps, or TIME STEP in a macro). Give TIME STEP a constant value"
                    )

    def constant(self, ast: Any, name: str, resolve: Any) -> float:
        """The value of a control variable: a number, or arithmetic over other controls."""
        if is_number(ast):
            return float(ast)
        kind = type(ast).__name__
        if kind == "ReferenceStructure" and name_key(ast.reference) in CONTROL:
            return float(resolve(name_key(ast.reference)))
        if kind == "ArithmeticStructure":
            args = [self.constant(a, name, resolve) for a in ast.arguments]
            if list(ast.operators) == ["negative"]:
                return -args[0]
            result = args[0]
            for op, arg in zip(ast.operators, args[1:], strict=True):
                result = {
                    "+": result + arg,
                    "-": result - arg,
                    "*": result * arg,
                    "/": result / arg if arg else float("nan"),
                    "^": result**arg,
                }.get(op, float("nan"))
            return result
        raise ModelError(
            f"{self.where(name)}: unsupported construct 'a control variable that "
            "changes over time'. Give it a constant value"
        )

    # -- one section (the main model or a macro call) ----------------------------------------

    def emit_section(self, elements: Sequence[Any], scope: _Scope, prefix: str) -> list[_Item]:
        items = [self.classify(e, scope, prefix) for e in elements]
        for item in items:
            scope.items[name_key(item.name)] = item
            if item.kind in ("lookup", "arrayed lookup", "arrayed file lookup"):
                scope.lookups[name_key(item.name)] = item.ident
            else:
                scope.ids[name_key(item.name)] = item.ident
            if item.kind == "auxiliary" and _is_active_initial(item.ast):
                scope.active[item.ident] = (item.ast.arguments[1], item.name)
        if self.arrays is not None:
            for item in _element_wise(items, self.arrays):
                self.arrays.split_elements(item.ident, item.name, item.ast, ranges=True)
        flows = self.assign_flows(items, scope)
        for item in items:
            self.emit(item, scope, flows)
        return items

    def classify(self, element: Any, scope: _Scope, prefix: str) -> _Item:
        name = str(element.name)
        where = self.where(name)
        components = list(element.components)
        if not components:
            raise ModelError(f"{where}: the variable has no equation. Give it one")
        if self.arrays is not None and (len(components) > 1 or components[0].subscripts[0]):
            ident = self.names.add(f"{prefix} {name}" if prefix else name, hidden=bool(prefix))
            components = [self.read_constants(c, where) for c in components]
            kind = "arrayed lookup" if components[0].type == "Lookup" else "arrayed"
            if any(_kind(c.ast) == "GetDataStructure" for c in components):
                kind = "arrayed data"
            elif any(_kind(c.ast) == "GetLookupsStructure" for c in components):
                kind = "arrayed file lookup"
            elif any(c.type == "Data" for c in components):
                raise _data_variable(where)
            return _Item(ident, element, kind, components)
        if any(c.subscripts and c.subscripts[0] for c in components) or len(components) > 1:
            raise ModelError(
                f"{where}: unsupported construct 'subscripts'. Subscripted "
                "variables are not supported yet; flatten them"
            )
        component = self.read_constants(components[0], where)
        ast = component.ast
        ident = self.names.add(f"{prefix} {name}" if prefix else name, hidden=bool(prefix))
        if component.type == "Lookup" or _kind(ast) == "GetLookupsStructure":
            return _Item(ident, element, "lookup", ast)
        if _kind(ast) == "GetDataStructure":
            return _Item(ident, element, "data", component)
        if component.type == "Data" and not is_number(ast):
            raise _data_variable(where)
        if type(ast).__name__ == "IntegStructure":
            return _Item(ident, element, "stock", ast)
        if is_number(ast):
            return _Item(ident, element, "parameter", ast)
        return _Item(ident, element, "auxiliary", ast)

    def read_constants(self, component: Any, where: str) -> Any:
        """``component``, with the values of a GET ... CONSTANTS call read from its file."""
        if _kind(component.ast) != "GetConstantsStructure":
            return component
        left = list(component.subscripts[0]) if component.subscripts else []
        arrays = self.arrays
        shape = (
            [len(arrays.elements_of(p)) for p in left if arrays.is_range(p)]
            if arrays is not None
            else []
        )
        values = self.data.constants(component.ast, shape, where)
        return dataclasses.replace(
            component, ast=np.asarray(values, dtype=float) if shape else values
        )

    def emit_data(self, item: _Item, meta: Mapping[str, Any]) -> None:
        """A data variable read by GET ... DATA: a hidden lookup over time, and the variable
        reading it at TIME; or a subscripted lookup read by GET ... LOOKUPS."""
        where = self.where(item.name)
        components = item.ast if isinstance(item.ast, list) else [item.ast]
        is_lookup = item.kind == "arrayed file lookup"
        lookup = item.ident if is_lookup else self.names.add(f"{item.name} data", hidden=True)
        wanted = "GetLookupsStructure" if is_lookup else "GetDataStructure"
        points: dict[str, Any] = {}
        for component in components:
            if not is_lookup and _is_constant_value(component.ast):
                # Elements given a number beside elements read from the file: a flat series.
                given = self.constant_elements(component)
                points.update({k: [[0.0, v]] for k, v in given.items()})
                continue
            if _kind(component.ast) != wanted:
                raise ModelError(
                    f"{where}: unsupported construct 'a variable read from a file "
                    "for some elements only' and an equation for others. Read every "
                    "element from the file, or give the others numbers"
                )
            mode = str(getattr(component, "keyword", None) or "interpolate")
            mode = "hold_backward" if mode == "raw" else mode
            if mode not in ("interpolate", "hold_backward", "look_forward"):
                raise ModelError(
                    f"{where}: unsupported construct 'data keyword "
                    f":{mode.upper().replace('_', ' ')}:'. Use :INTERPOLATE:, "
                    ":HOLD BACKWARD:, :LOOK FORWARD: or :RAW:"
                )
            combos = self.element_combos(component)
            found = self.data.series(component.ast, max(len(combos), 1), where)
            for combo, (xs, ys) in zip(combos or [()], found, strict=True):
                px, py = stepped(xs, ys, mode)
                points[", ".join(combo)] = [[x, y] for x, y in zip(px, py, strict=True)]
        source = f"Data of {item.name} from {components[0].ast.file}"
        if item.kind == "data":
            (x_y,) = points.values()
            self.document["lookups"][lookup] = {
                "x": [p[0] for p in x_y],
                "y": [p[1] for p in x_y],
                "description": source,
            }
            self.document["auxiliaries"][item.ident] = {"equation": f"{lookup}(TIME)", **meta}
            return
        arrays = self.arrays
        assert arrays is not None  # an arrayed item exists only in a model with subscripts
        lefts = [list(c.subscripts[0]) for c in components]
        dims = arrays.dims_document(arrays.variable_dims(lefts, item.name))
        if is_lookup:
            self.document["lookups"][lookup] = {"dims": dims, "points": points, **meta}
            return
        self.document["lookups"][lookup] = {"dims": dims, "points": points, "description": source}
        self.document["auxiliaries"][item.ident] = {
            "dims": dims,
            "equation": f"{lookup}(TIME)",
            **meta,
        }

    def constant_elements(self, component: Any) -> dict[str, float]:
        """The numbers of an equation giving constants, by element selector text."""
        arrays = self.arrays
        left = list(component.subscripts[0]) if component.subscripts else []
        if arrays is None or not left:
            return {"": float(component.ast)}
        given = values_by_element(arrays, left, component.ast)
        return {", ".join(c): given[c] for c in self.element_combos(component)}

    def element_combos(self, component: Any) -> list[tuple[str, ...]]:
        left = list(component.subscripts[0]) if component.subscripts else []
        if not left or self.arrays is None:
            return []
        selectors = self.arrays.selectors(left, list(component.subscripts[1]))
        return [combo for _, combos in selectors for combo in combos]

    def assign_flows(self, items: Sequence[_Item], scope: _Scope) -> dict[str, dict[str, str]]:
        """Auxiliaries that become flows, with their ``from``/``to`` stocks."""
        # A constant named in a net rate is a flow too (an XMILE flow with a fixed rate).
        auxiliaries = {
            i.ident
            for i in items
            if i.kind in ("auxiliary", "parameter") and i.ident not in scope.active
        }
        claims: dict[str, list[tuple[int, str]]] = {}
        for item in items:
            if item.kind != "stock":
                continue
            for sign, term in signed_terms(item.ast.flow):
                ident = _referenced(term, scope)
                if ident in auxiliaries:
                    claims.setdefault(ident, []).append((sign, item.ident))
        flows: dict[str, dict[str, str]] = {}
        for ident, claim in claims.items():
            targets = [stock for sign, stock in claim if sign > 0]
            sources = [stock for sign, stock in claim if sign < 0]
            if len(targets) > 1 or len(sources) > 1 or set(targets) & set(sources):
                continue
            ends = {"to": targets[0]} if targets else {}
            if sources:
                ends["from"] = sources[0]
            flows[ident] = ends
        return flows

    def context(self, item: _Item, scope: _Scope, *, initial: bool = False) -> Context:
        return self.new_context(item.name, item.ident, scope, initial=initial)

    def new_context(
        self, name: str, owner: str, scope: _Scope, *, initial: bool = False
    ) -> Context:
        return Context(
            self.where(name),
            owner,
            scope,
            self.inline_lookup,
            self.call_macro,
            self.fixed_order,
            initial,
            arrays=self.arrays,
        )

    def emit(self, item: _Item, scope: _Scope, flows: Mapping[str, Mapping[str, str]]) -> None:
        meta = self.meta(item, parameter=item.kind == "parameter" and item.ident not in flows)
        ctx = self.context(item, scope)
        if item.kind in ("data", "arrayed data", "arrayed file lookup"):
            self.emit_data(item, meta)
        elif item.kind in ("arrayed", "arrayed lookup"):
            emit_arrayed(self, item, scope, meta)
        elif item.kind == "parameter" and item.ident not in flows:
            self.document["parameters"][item.ident] = {"value": _plain(item.ast), **meta}
        elif item.kind == "lookup":
            self.document["lookups"][item.ident] = {**self.lookup_entry(item.ast, ctx), **meta}
        elif item.kind == "stock":
            self.emit_stock(item, scope, flows, meta)
        elif item.ident in flows:
            entry = {"rate": render_value(item.ast, ctx), **flows[item.ident], **meta}
            self.document["flows"][item.ident] = _ordered(entry)
        else:
            equation = render_value(item.ast, ctx)
            self.document["auxiliaries"][item.ident] = {"equation": equation, **meta}

    def emit_stock(
        self,
        item: _Item,
        scope: _Scope,
        flows: Mapping[str, Mapping[str, str]],
        meta: Mapping[str, Any],
    ) -> None:
        initial = render_value(item.ast.initial, self.context(item, scope, initial=True))
        entry: dict[str, Any] = {
            "initial": _plain(item.ast.initial) if is_number(item.ast.initial) else initial
        }
        if item.ast.non_negative:
            entry["non_negative"] = True
        self.document["stocks"][item.ident] = {**entry, **meta}
        ctx = self.context(item, scope)
        rest = []
        for sign, term in signed_terms(item.ast.flow):
            ident = _referenced(term, scope)
            ends = flows.get(ident or "", {})
            if ends.get("to" if sign > 0 else "from") == item.ident:
                continue
            rest.append(("+ " if sign > 0 else "- ") + render(term, ctx))
        if rest:
            rate = " ".join(rest).removeprefix("+ ")
            name = self.names.add(f"{item.name} net flow", hidden=True)
            self.document["flows"][name] = {
                "rate": rate,
                "to": item.ident,
                "description": f"Net rate of {item.name} not carried by named flows",
            }

    def meta(self, item: _Item, *, parameter: bool) -> dict[str, Any]:
        element = item.element
        meta: dict[str, Any] = {}
        units = str(element.units or "").strip()
        if units:
            meta["units"] = units
        description = " ".join(str(element.documentation or "").split())
        low, high = (*element.limits, None, None)[:2]
        if low is not None or high is not None:
            span = f"range [{_bound(low)}, {_bound(high)}]"
            if parameter and low is not None and high is not None and low <= high:
                meta["range"] = [float(low), float(high)]
            else:
                description = f"{description} ({span})" if description else span.capitalize()
        if description:
            meta["description"] = description
        meta["source"] = f"{self.source.name}: {item.name}"
        if self.names.get(item.name) == item.ident:  # not a hidden copy inside a macro call
            meta["original"] = item.name
        return meta

    def lookup_entry(self, ast: Any, ctx: Context) -> dict[str, Any]:
        if _kind(ast) == "GetLookupsStructure":
            ((xs, ys),) = self.data.series(ast, 1, ctx.where)
            return {"x": xs, "y": ys}
        if type(ast).__name__ != "LookupsStructure":
            raise ctx.error(
                f"unsupported construct '{type(ast).__name__}' as a lookup",
                "Give the lookup its points",
            )
        kind = _EXTRAPOLATION.get(str(ast.type))
        if kind is None:
            raise ctx.error(
                f"unsupported construct 'lookup of type {ast.type}'",
                "Use an interpolated, extrapolated or discrete lookup",
            )
        entry: dict[str, Any] = {"x": [_plain(v) for v in ast.x], "y": [_plain(v) for v in ast.y]}
        if kind != "flat":
            entry["extrapolation"] = kind
        return entry

    # -- callbacks of the equation writer ----------------------------------------------------

    def inline_lookup(self, owner: str, lookups: Any) -> str:
        name = self.names.add(f"{owner} lookup", hidden=True)
        ctx = self.new_context(owner, owner, _Scope(self))
        self.document["lookups"][name] = {
            **self.lookup_entry(lookups, ctx),
            "description": f"Table written inside the equation of {owner}",
        }
        return name

    def active_initial(self, scope: _Scope, ident: str) -> str:
        if ident not in self.active_texts:
            self.active_texts[ident] = "(pending)"
            ast, name = scope.active[ident]
            ctx = self.new_context(name, ident, scope, initial=True)
            self.active_texts[ident] = f"({render(ast, ctx)})"
        elif self.active_texts[ident] == "(pending)":
            raise ModelError(
                f"{self.where(ident)}: the initial values of ACTIVE INITIAL "
                "variables depend on each other in a cycle. Break the cycle"
            )
        return self.active_texts[ident]

    def call_macro(self, ctx: Context, name: str, args: Sequence[Any]) -> str | None:
        macro = self.macros.get(name_key(name))
        if macro is None:
            return None
        params = list(macro.params)
        if len(args) != len(params):
            raise ctx.error(
                f"the macro '{macro.name}' takes {len(params)} arguments, not {len(args)}",
                "Pass one argument per macro parameter",
            )
        count = self.instances.get(macro.name, 0) + 1
        self.instances[macro.name] = count
        prefix = f"{macro.name} {count}"
        scope = _Scope(self)
        for param, arg in zip(params, args, strict=True):
            text = render(arg, ctx)
            if not (text.isidentifier() or is_number(text.strip("()"))):
                ident = self.names.add(f"{prefix} {param}", hidden=True)
                self.document["auxiliaries"][ident] = {
                    "equation": text,
                    "description": f"Argument {param} of {macro.name}",
                }
                text = ident
            scope.arguments[name_key(param)] = text
        items = self.emit_section(list(macro.elements), scope, prefix)
        output = [i for i in items if name_key(i.name) == name_key(macro.name)]
        if not output:
            raise ctx.error(
                f"unsupported construct 'macro {macro.name} without an output "
                "variable of its own name'",
                "Give the macro an output",
            )
        return output[0].ident

    def fixed_order(self, ctx: Context, order: Any, delay: Any) -> int:
        """The order of SMOOTH N / DELAY N: its value at initialisation, truncated, and for a
        delay lowered until ``delay / order >= TIME STEP``."""
        scope = ctx.scope
        if not isinstance(scope, _Scope):
            raise ctx.error("unsupported construct 'order outside a model'", "Use a number")
        value = int(self.value_at_start(order, scope, ctx))
        if value < 1:
            raise ctx.error(f"the order must be at least 1 (got {value})", "Use 1, 2, 3 ...")
        if delay is not None:
            stage_limit = self.value_at_start(delay, scope, ctx) / self.time_block["dt"]
            while value > 1 and value > stage_limit + 1e-9:
                value -= 1
        return value

    def value_at_start(
        self, ast: Any, scope: _Scope, ctx: Context, seen: tuple[str, ...] = ()
    ) -> float:
        """The value of an expression at the initial time, for structure fixed at
        initialisation (orders of DELAY N and SMOOTH N)."""

        def again(node: Any) -> float:
            return self.value_at_start(node, scope, ctx, seen)

        if is_number(ast):
            return float(ast)
        if isinstance(ast, np.ndarray):
            return float(np.min(ast))
        kind = type(ast).__name__
        time = self.time_block
        if kind == "ReferenceStructure":
            key = name_key(ast.reference)
            clock = {
                "time": time["start"],
                "initial_time": time["start"],
                "time_step": time["dt"],
                "final_time": time["stop"],
                "saveper": time["save_every"],
            }
            if key in clock:
                return float(clock[key])
            item = scope.items.get(key)
            if item is not None and item.kind in ("parameter", "auxiliary") and key not in seen:
                return self.value_at_start(item.ast, scope, ctx, (*seen, key))
            if item is not None and item.kind == "arrayed" and key not in seen:
                # one order for every element: the smallest value bounds the stages
                return min(
                    float(np.min(self.value_at_start(c.ast, scope, ctx, (*seen, key))))
                    for c in item.ast
                )
        elif kind == "ArithmeticStructure":
            args = [again(a) for a in ast.arguments]
            if list(ast.operators) == ["negative"]:
                return -args[0]
            result = args[0]
            for op, arg in zip(ast.operators, args[1:], strict=True):
                result = {
                    "+": result + arg,
                    "-": result - arg,
                    "*": result * arg,
                    "/": result / arg if arg else math.nan,
                    "^": result**arg,
                }[op]
            return result
        elif kind == "CallStructure" and ast.function.reference == "step":
            height, start = (again(a) for a in ast.arguments)
            return height if time["start"] + time["dt"] / 2 > start else 0.0
        elif kind == "CallStructure" and ast.function.reference == "active_initial":
            return again(ast.arguments[1])
        raise ctx.error(
            "unsupported construct 'an order or delay that is not known at initialisation'",
            "Use a constant order",
        )


def _element_wise(items: Sequence[_Item], arrays: ArrayImport) -> list[_Item]:
    """The arrayed auxiliaries whose elements must be computed apart: those one element of
    which is read by an equation that they depend on, their own (``a[two] = a[one] * 2``) or
    another variable's (``a[A2] = y``, ``y = a[A1]``), which would otherwise be a cycle."""
    reads = {name_key(item.name): _references(item) for item in items}
    single = {name_key(item.name): _elements_read(item, arrays) for item in items}
    found = []
    for item in items:
        if item.kind != "arrayed" or any(_kind(c.ast) == "IntegStructure" for c in item.ast):
            continue
        own = name_key(item.name)
        readers = {k for k, read in single.items() if own in read}
        if readers and (own in readers or readers & _reachable(own, reads)):
            found.append(item)
    return found


def _references(item: _Item) -> set[str]:
    """The names an equation of ``item`` reads."""
    return {
        name_key(node.reference) for node in _nodes(item.ast) if _kind(node) == "ReferenceStructure"
    }


def _elements_read(item: _Item, arrays: ArrayImport) -> set[str]:
    """The variables of which the equations of ``item`` read single elements or subranges
    (``ecc[tPrev]``), not the whole of a range."""
    return {
        name_key(node.reference)
        for node in _nodes(item.ast)
        if _kind(node) == "ReferenceStructure"
        and (subscripts := getattr(getattr(node, "subscripts", None), "subscripts", None))
        and all(arrays.is_element(str(s)) or _is_subrange(arrays, str(s)) for s in subscripts)
    }


def _is_subrange(arrays: ArrayImport, subscript: str) -> bool:
    """Whether ``subscript`` is a range with fewer elements than its root (not a copy)."""
    if not arrays.is_range(subscript):
        return False
    key = name_key(subscript.rstrip("!"))
    return len(arrays.flat[key]) < len(arrays.flat[arrays.root_of(key)])


def _reachable(start: str, reads: Mapping[str, set[str]]) -> set[str]:
    """The names ``start`` reads, directly or through others."""
    seen: set[str] = set()
    stack = list(reads.get(start, ()))
    while stack:
        key = stack.pop()
        if key not in seen:
            seen.add(key)
            stack.extend(reads.get(key, ()))
    return seen


def _nodes(ast: Any) -> Any:
    """Every node of a syntax tree of the translator."""
    yield ast
    if dataclasses.is_dataclass(ast) and not isinstance(ast, type):
        for part in dataclasses.fields(ast):
            yield from _nodes(getattr(ast, part.name))
    elif isinstance(ast, (list, tuple)):
        for part in ast:
            yield from _nodes(part)


#: TIME STEP and the builtins that step with it: pipelines of so many steps, a draw per step,
#: a discount per step.
_STEPPED = re.compile(
    r"\b(TIME_STEP|DELAY_FIXED|DELAYN_PIPELINE|NPV|DEPRECIATE_STRAIGHTLINE|RANDOM_\w+)\s*\("
    r"|\bTIME_STEP\b"
)


class _NotClockError(Exception):
    """An equation a control variable reads that is not a function of TIME and constants."""


#: Functions the clock of a control variable may call: Vensim's name and the value.
_CLOCK_CALLS: Mapping[str, Any] = {
    "if_then_else": lambda c, a, b: a if c else b,
    "min": min,
    "max": max,
    "abs": abs,
    "exp": math.exp,
    "ln": math.log,
    "sqrt": math.sqrt,
    "integer": lambda x: float(math.trunc(x)),
}
_CLOCK_COMPARE: Mapping[str, Any] = {
    "=": lambda a, b: a == b,
    "<>": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    ":AND:": lambda a, b: bool(a) and bool(b),
    "and": lambda a, b: bool(a) and bool(b),
    ":OR:": lambda a, b: bool(a) or bool(b),
    "or": lambda a, b: bool(a) or bool(b),
}
#: Steps scanned for the time at which a FINAL TIME given by an equation is reached, at most.
MOST_CLOCK_STEPS = 1_000_000


class _Clock:
    """The values of the control variables, read from their equations: numbers, arithmetic,
    comparisons, IF THEN ELSE, MIN, MAX over constants, other control variables, TIME and
    variables of the model that are themselves such functions of TIME."""

    def __init__(self, builder: _Builder, controls: Mapping[str, Any]) -> None:
        self.builder = builder
        self.controls = controls
        self.elements = {name_key(e.name): e for e in builder.main.elements}
        self.used_time = False

    def equation(self, key: str) -> Any:
        element = self.elements.get(key)
        components = list(element.components) if element is not None else []
        if (
            len(components) != 1
            or (components[0].subscripts and components[0].subscripts[0])
            or components[0].type not in ("Auxiliary", "Constant")
        ):
            raise _NotClockError(key)
        return components[0].ast

    def value(self, ast: Any, t: float, seen: tuple[str, ...] = ()) -> float:
        if is_number(ast):
            return float(ast)
        kind = type(ast).__name__
        if kind == "ReferenceStructure" and ast.subscripts is None:
            key = name_key(ast.reference)
            if key == "time":
                self.used_time = True
                return t
            if key in seen:
                raise _NotClockError(key)
            return self.value(self.equation(key), t, (*seen, key))
        args = list(getattr(ast, "arguments", ()))
        if kind == "ArithmeticStructure":
            values = [self.value(a, t, seen) for a in args]
            operators = list(ast.operators)
            if operators in (["negative"], ["positive"]):
                return -values[0] if operators == ["negative"] else values[0]
            result = values[0]
            for op, arg in zip(operators, values[1:], strict=True):
                if op == "/":
                    result = result / arg if arg else math.nan
                elif op in ("+", "-", "*", "^"):
                    result = {"+": result + arg, "-": result - arg, "*": result * arg}.get(
                        op, result**arg
                    )
                else:
                    raise _NotClockError(op)
            return float(result)
        if kind == "LogicStructure":
            values = [self.value(a, t, seen) for a in args]
            operators = list(ast.operators)
            if operators and operators[0] in (":NOT:", "not"):
                return float(not values[0])
            result = values[0]
            for op, arg in zip(operators, values[1:], strict=True):
                if op not in _CLOCK_COMPARE:
                    raise _NotClockError(op)
                result = float(_CLOCK_COMPARE[op](result, arg))
            return result
        if kind == "CallStructure":
            function = _CLOCK_CALLS.get(str(ast.function.reference))
            if function is None:
                raise _NotClockError(str(ast.function.reference))
            return float(function(*(self.value(a, t, seen) for a in args)))
        raise _NotClockError(kind)

    def is_constant(self, key: str) -> bool:
        """Whether the control variable ``key`` keeps one value through the run."""
        self.used_time = False
        try:
            self.value(self.equation(key), 0.0, (key,))
        except (_NotClockError, ArithmeticError, TypeError, ValueError):
            return False
        return not self.used_time

    def constant(self, key: str) -> float:
        """The value of the control variable ``key`` when it does not change over time."""
        name = str(self.controls[key].name)
        if self.is_constant(key):
            return self.value(self.equation(key), 0.0, (key,))
        raise ModelError(
            f"{self.builder.where(name)}: unsupported construct 'a control variable that "
            "changes over time'. Give it a constant value (only FINAL TIME may be an equation "
            "over TIME)"
        )

    def at(self, key: str, t: float, default: float | None = None) -> float:
        """The value of the control variable ``key`` at time ``t`` (``default`` if absent)."""
        if key not in self.controls and default is not None:
            return default
        name = str(self.controls[key].name) if key in self.controls else key
        try:
            return self.value(self.equation(key), t, (key,))
        except (_NotClockError, ArithmeticError, TypeError, ValueError) as error:
            raise ModelError(
                f"{self.builder.where(name)}: unsupported construct 'a control variable that "
                "changes over time' other than a function of TIME and constants (got "
                f"{error}). Give it an equation over TIME, constants and variables that depend "
                "only on them"
            ) from None

    def listed(self) -> dict[str, Any]:
        """The time block of a run whose TIME STEP, SAVEPER or INITIAL TIME change over time:
        from INITIAL TIME (its value at TIME 0), each step as long as TIME STEP at its start;
        a step saved when its time is a whole number of SAVEPERs (at that time) from the
        start; the last step the first whose time reaches FINAL TIME."""
        start = self.at("initial_time", 0.0)
        t, steps, saved, first_save = start, [start], [], None
        for _ in range(MOST_CLOCK_STEPS):
            dt = self.at("time_step", t)
            every = self.at("saveper", t, dt)
            if not (dt > 0 and every > 0 and math.isfinite(dt + every)):
                raise ModelError(
                    f"{self.builder.where('TIME STEP')}: TIME STEP and SAVEPER must be "
                    f"positive (got {dt} and {every} at time {t}). Give them positive values"
                )
            first_save = every if first_save is None else first_save
            left = (t - start) % every
            if min(left, every - left) <= 1e-9 * max(every, 1.0):
                saved.append(t)
            if t >= self.at("final_time", t) - 1e-9 * dt:
                break
            t += dt
            steps.append(t)
        else:
            raise ModelError(
                f"{self.builder.where('FINAL TIME')}: FINAL TIME is not reached within "
                f"{MOST_CLOCK_STEPS} steps (got time {t} from {start}). Check the equations "
                "of FINAL TIME and TIME STEP"
            )
        if len(steps) < 2:
            raise ModelError(
                f"{self.builder.where('FINAL TIME')}: FINAL TIME is reached at INITIAL TIME "
                f"(got {t}). Give FINAL TIME a later value"
            )
        return {
            "start": start,
            "stop": t,
            "dt": steps[1] - steps[0],
            "save_every": first_save,
            "step_times": steps,
            "saved_times": saved,
        }

    def stop(self, start: float, dt: float) -> float:
        """The first time ``start + k * dt`` that reaches the value of FINAL TIME there."""
        name = str(self.controls["final_time"].name)
        ast = self.equation("final_time")
        where = self.builder.where(name)
        if not dt > 0:
            raise ModelError(f"{where}: TIME STEP must be positive (got {dt}). Give it one")
        try:
            for k in range(1, MOST_CLOCK_STEPS + 1):
                t = start + k * dt
                if t >= self.value(ast, t, ("final_time",)) - 1e-9 * dt:
                    return t
        except (_NotClockError, ArithmeticError, TypeError, ValueError) as error:
            raise ModelError(
                f"{where}: unsupported construct 'a control variable that changes over time' "
                f"other than a function of TIME and constants (got {error}). Give FINAL TIME "
                "an equation over TIME, constants and variables that depend only on them"
            ) from None
        raise ModelError(
            f"{where}: FINAL TIME is not reached within {MOST_CLOCK_STEPS} steps (got TIME "
            f"STEP {dt} from {start}). Check the equation of FINAL TIME"
        )


def _is_constant_value(ast: Any) -> bool:
    return isinstance(ast, np.ndarray) or is_number(ast)


def _kind(ast: Any) -> str:
    return type(ast).__name__


def _data_variable(where: str) -> ModelError:
    return ModelError(
        f"{where}: unsupported construct 'data variable' without GET DATA: its "
        "values come from a Vensim data file (.vdf) that pssc_sim does not read. "
        "Read the data with GET DIRECT DATA from a .csv file beside the model, or "
        "give the variable an equation or a lookup over time"
    )


def _is_active_initial(ast: Any) -> bool:
    return type(ast).__name__ == "CallStructure" and ast.function.reference == "active_initial"


def _referenced(term: Any, scope: _Scope) -> str | None:
    if type(term).__name__ != "ReferenceStructure" or term.subscripts is not None:
        return None
    k = name_key(term.reference)
    if k in scope.arguments or k in scope.constants:
        return None
    return scope.ids.get(k)


def _plain(value: Any) -> float | int:
    as_float = float(value)
    return int(as_float) if as_float.is_integer() and abs(as_float) < 1e15 else as_float


def _bound(value: Any) -> str:
    return "?" if value is None else f"{float(value):g}"


def _ordered(entry: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("rate", "from", "to")
    return {
        **{k: entry[k] for k in keys if k in entry},
        **{k: v for k, v in entry.items() if k not in keys},
    }
