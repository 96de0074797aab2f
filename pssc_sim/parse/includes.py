"""The ``include:`` section of model files (docs/gaming.md): fragments copied into the host.

Including a fragment copies it into the host model document before the model reader sees it:
every fragment name ``v`` becomes ``<instance>_v``, inputs are replaced by the host expressions
bound to them, and units placeholders (``[time]``, ``[<input>]``) by the host's units. Renaming
works on the expression tree (:mod:`ast`), never on the text, and the result is text the model
reader parses and checks like any other equation.
"""

from __future__ import annotations

import ast
import copy
import keyword
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pssc_sim.errors import ModelError, did_you_mean, shown
from pssc_sim.ir.builtins import MEASURE_FUNCTIONS
from pssc_sim.parse.fragments import (
    LIBRARY,
    PLACEHOLDER,
    SECTIONS,
    SWITCH,
    SWITCH_SOURCE,
    TIME_PLACEHOLDER,
    Fragment,
    FragmentInput,
    InputKind,
    ModelCheck,
    library_mechanisms,
    read_fragment,
)

#: The keys of an include entry, and of a parameter given as a mapping under its parameters.
INCLUDE_KEYS = ("mechanism", "inputs", "parameters", "active")
OVERRIDE_KEYS = ("value", "range", "distribution", "source", "description")
#: What a fragment parameter's evidence says about its value: dropped when an include sets a new
#: value without giving its own.
_DESCRIBES_VALUE = ("source", "range", "distribution")
# Which field of an entry holds an equation, per section; shorthand entries stand for it.
_EQUATION_KEYS = {"stocks": ("initial",), "flows": ("rate",), "auxiliaries": ("equation",)}
_SHORTHAND = {
    "parameters": "value",
    "stocks": "initial",
    "auxiliaries": "equation",
    "flows": "rate",
}
_INSTANCE = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class _Host:
    """What an include needs to know about the host model document."""

    file: str
    folder: Path
    document: Mapping[str, Any]
    check_model: ModelCheck

    def section(self, name: str) -> Mapping[str, Any]:
        raw = self.document.get(name)
        return raw if isinstance(raw, Mapping) else {}

    def defined(self) -> dict[str, str]:
        """Every name the host defines, with its section."""
        return {str(n): s for s in SECTIONS for n in self.section(s)}

    def units_of(self, name: str) -> str:
        for section in SECTIONS:
            entry = self.section(section).get(name)
            if isinstance(entry, Mapping):
                return str(entry.get("units", ""))
        return ""

    def measure_units(self, measure: str) -> str:
        entry = self.section("measures").get(measure)
        if isinstance(entry, Mapping) and entry.get("units"):
            return str(entry["units"])
        return self.units_of(measure)

    def measure_true(self, measure: str) -> ast.expr:
        entry = self.section("measures").get(measure)
        fields = (
            {("true" if k is True else k): v for k, v in entry.items()}
            if isinstance(entry, Mapping)
            else {}
        )
        return _expression_tree(fields["true"]) if "true" in fields else ast.Name(measure)


def expand_includes(
    file: str,
    document: Mapping[str, Any],
    check_binding: Callable[[str, Any, set[str]], None],
    check_model: ModelCheck,
) -> dict[str, Any]:
    """The model ``document`` with its ``include:`` section expanded into its own sections.

    ``check_binding(where, text, extra_names)`` parses a host expression bound to an input (the
    model reader passes a function that raises on unknown names, with ``where`` in the message);
    ``check_model`` checks each fragment's equations as a model (the model reader's own check).
    """
    raw = document.get("include")
    result = {key: value for key, value in document.items() if key != "include"}
    if raw is None:
        return result
    host = _Host(file, Path(file).parent, document, check_model)
    if not isinstance(raw, Mapping):
        raise ModelError(
            f"{file}: include: expected a mapping of instance names (got "
            f"{shown(raw)}). "
            "Write include: {time_correction: {mechanism: ..., inputs: {...}}}"
        )
    instances = [_Instance.read(host, str(name), spec) for name, spec in raw.items()]
    names = _check_clashes(host, instances)
    for instance in instances:
        instance.check_bindings(check_binding, names)
    sections = {s: dict(host.section(s)) for s in SECTIONS}
    for instance in instances:
        for section, entries in instance.expanded().items():
            sections[section].update(entries)
    result.update({s: entries for s, entries in sections.items() if entries})
    return result


def _check_clashes(host: _Host, instances: list[_Instance]) -> set[str]:
    taken = {name: f"{section} of the model" for name, section in host.defined().items()}
    for instance in instances:
        for original, renamed in instance.renames.items():
            if renamed in taken:
                raise ModelError(
                    f"{host.file}: include.{instance.name}: the name '{renamed}' of "
                    f"{instance.fragment.name}'s '{original}' is already defined under "
                    f"{taken[renamed]} (got '{renamed}'). Rename the instance or that variable"
                )
            taken[renamed] = f"include.{instance.name}"
    return set(taken)


@dataclass(frozen=True, slots=True)
class _Instance:
    """One entry of ``include:``: a fragment, its bindings and its parameter values."""

    host: _Host
    name: str
    fragment: Fragment
    bindings: Mapping[str, Any]
    overrides: Mapping[str, Mapping[str, Any]]
    active: float

    def where(self, key: str = "") -> str:
        return f"{self.host.file}: include.{self.name}{'.' + key if key else ''}"

    @classmethod
    def read(cls, host: _Host, name: str, spec: Any) -> _Instance:
        where = f"{host.file}: include.{name}"
        if not _INSTANCE.match(name) or "__" in name or keyword.iskeyword(name):
            raise ModelError(
                f"{where}: the instance name {shown(name)} is not a snake_case name "
                f"without '__' (got {shown(name)}). Use e.g. time_correction"
            )
        if not isinstance(spec, Mapping):
            raise ModelError(
                f"{where}: expected a mapping (got {shown(spec)}). Write {name}: "
                "{mechanism: ..., inputs: {measure: ...}}"
            )
        for key in spec:
            if key not in INCLUDE_KEYS:
                hint = did_you_mean(str(key), INCLUDE_KEYS) or (
                    f" Allowed keys: {', '.join(INCLUDE_KEYS)}."
                )
                raise ModelError(f"{where}.{key}: unknown key {shown(key)}.{hint}")
        fragment = read_fragment(
            _fragment_file(host, spec.get("mechanism"), f"{where}.mechanism"), host.check_model
        )
        bindings = _bindings(host, fragment, spec.get("inputs"), where)
        overrides = _overrides(fragment, spec.get("parameters"), where)
        active = spec.get("active", 1)
        if isinstance(active, (bool, int, float)) and active in (0, 1):
            return cls(host, name, fragment, bindings, overrides, float(active))
        raise ModelError(
            f"{where}.active: expected 1 (on) or 0 (off) (got {shown(active)}). Write "
            "active: 0 to include the mechanism switched off"
        )

    @property
    def renames(self) -> dict[str, str]:
        """Fragment name -> host name, the switch included."""
        names = {n: f"{self.name}_{n}" for n in self.fragment.variable_names}
        names[SWITCH] = f"{self.name}_{SWITCH}"
        return names

    def check_bindings(self, check: Callable[[str, Any, set[str]], None], names: set[str]) -> None:
        for key, value in self.bindings.items():
            if self.fragment.input(key).kind is InputKind.VALUE:
                check(self.where(f"inputs.{key}"), value, names)

    def expanded(self) -> dict[str, dict[str, Any]]:
        """The fragment's sections, renamed and bound, ready for the model reader."""
        renamer = _Renamer(self.renames, self.substitutions(), self.measures())
        result: dict[str, dict[str, Any]] = {}
        for section, entries in self.fragment.sections.items():
            result[section] = {
                self.renames[n]: self.entry(section, n, e, renamer) for n, e in entries.items()
            }
        result.setdefault("parameters", {})[self.renames[SWITCH]] = {
            "value": self.active,
            "units": "dimensionless",
            "description": f"switch of the {self.fragment.name} mechanism: 1 on, 0 off",
            "source": f"{SWITCH_SOURCE}{self.name}.active in {Path(self.host.file).name} "
            f"(default 1); a scenario's mechanisms: {{{self.name}: on|off}}",
        }
        return result

    def entry(self, section: str, name: str, raw: Any, renamer: _Renamer) -> dict[str, Any]:
        fields = dict(raw) if isinstance(raw, Mapping) else {_SHORTHAND[section]: raw}
        for key in _EQUATION_KEYS.get(section, ()):
            if key in fields:
                fields[key] = renamer.rename(fields[key])
        for key in ("from", "to"):
            if section == "flows" and fields.get(key) is not None:
                fields[key] = self.renames[str(fields[key])]
        if section == "parameters" and name in self.overrides:
            given = self.overrides[name]
            if "value" in given and given["value"] != fields.get("value"):
                # The library's source, range and distribution describe the library's value:
                # a new value carries the host's or none (``pssc check`` flags a missing
                # source; an ensemble does not sample a range the value may lie outside).
                for key in _DESCRIBES_VALUE:
                    fields.pop(key, None)
            fields.update(given)
        if "units" in fields:
            fields["units"] = self.units(str(fields["units"]))
        return fields

    def units(self, text: str) -> str:
        """``text`` with its placeholders replaced; empty when one has no units to give."""
        values: dict[str, str] = {TIME_PLACEHOLDER: self.host_time_units()}
        for item in self.fragment.inputs:
            values[item.name] = self.input_units(item)
        missing = [p for p in PLACEHOLDER.findall(text) if not values.get(p)]
        if missing:
            return ""
        return PLACEHOLDER.sub(lambda m: f"({values[m.group(1)]})", text)

    def host_time_units(self) -> str:
        time = self.host.document.get("time")
        return str(time.get("units", "")) if isinstance(time, Mapping) else ""

    def input_units(self, item: FragmentInput) -> str:
        bound = self.bindings[item.name]
        if item.kind is InputKind.MEASURE:
            return self.host.measure_units(str(bound))
        if item.units:
            return item.units
        return self.host.units_of(bound) if isinstance(bound, str) else ""

    def substitutions(self) -> dict[str, ast.expr]:
        """What each input stands for as a value inside an equation."""
        result: dict[str, ast.expr] = {}
        for key, value in self.bindings.items():
            if self.fragment.input(key).kind is InputKind.MEASURE:
                result[key] = self.host.measure_true(str(value))
            else:
                result[key] = _expression_tree(value)
        return result

    def measures(self) -> dict[str, str]:
        return {
            key: str(value)
            for key, value in self.bindings.items()
            if self.fragment.input(key).kind is InputKind.MEASURE
        }


def _fragment_file(host: _Host, reference: Any, where: str) -> Path:
    if not isinstance(reference, str) or not reference:
        raise ModelError(
            f"{where}: 'mechanism' is required (got {shown(reference)}). Name a "
            "library "
            "mechanism (pssc mechanisms) or a fragment .yaml file"
        )
    if reference.endswith((".yaml", ".yml")) or "/" in reference or "\\" in reference:
        path = host.folder / reference
        if not path.is_file():
            raise ModelError(
                f"{where}: no fragment file {shown(reference)} next to the model (got "
                f"{shown(str(path))}). Give a path relative to the model file"
            )
        return path
    known = library_mechanisms()
    if reference not in known:
        hint = did_you_mean(reference, known) or f" Mechanisms: {', '.join(known)}."
        raise ModelError(
            f"{where}: unknown mechanism {shown(reference)}.{hint} Name a library "
            "mechanism (pssc mechanisms) or a path to a fragment .yaml file"
        )
    return LIBRARY / f"{reference}.yaml"


def _bindings(host: _Host, fragment: Fragment, raw: Any, where: str) -> dict[str, Any]:
    raw = {} if raw is None else raw
    if not isinstance(raw, Mapping):
        raise ModelError(
            f"{where}.inputs: expected a mapping of inputs to host names (got "
            f"{shown(raw)}). Write inputs: {{measure: response_time}}"
        )
    expected = [i.name for i in fragment.inputs]
    for key in raw:
        if key not in expected:
            hint = did_you_mean(str(key), expected) or (
                f" Inputs of {fragment.name}: {', '.join(expected) or 'none'}."
            )
            raise ModelError(
                f"{where}.inputs.{key}: unknown input {shown(key)} of {fragment.name}.{hint}"
            )
    for item in fragment.inputs:
        if item.name not in raw or raw[item.name] is None:
            raise ModelError(
                f"{where}.inputs: missing input '{item.name}' of {fragment.name} "
                f"(got {sorted(map(str, raw))}). Add '{item.name}: <"
                f"{'a measure' if item.kind is InputKind.MEASURE else 'expression'}"
                ">' under inputs"
            )
        if item.kind is InputKind.MEASURE:
            _check_measure(host, raw[item.name], f"{where}.inputs.{item.name}")
        elif isinstance(raw[item.name], bool) or not isinstance(raw[item.name], (str, int, float)):
            raise ModelError(
                f"{where}.inputs.{item.name}: expected a number or an expression "
                f"(got {shown(raw[item.name])}). Write e.g. {item.name}: referrals"
            )
    return {str(k): v for k, v in raw.items()}


def _check_measure(host: _Host, value: Any, where: str) -> None:
    measures = [str(m) for m in host.section("measures")]
    if isinstance(value, str) and value in measures:
        return
    hint = did_you_mean(str(value), measures) or (
        f" Measures: {', '.join(measures)}." if measures else " Declare it under measures."
    )
    raise ModelError(
        f"{where}: {shown(value)} is not a measure of the model (got "
        f"{shown(value)}).{hint} "
        "An input of kind 'measure' takes a measure's name"
    )


def _overrides(fragment: Fragment, raw: Any, where: str) -> dict[str, dict[str, Any]]:
    """``parameters:`` of an include: a number (a new default value) or a mapping of
    :data:`OVERRIDE_KEYS` (a value with, say, a range in the host's units) per parameter."""
    raw = {} if raw is None else raw
    if not isinstance(raw, Mapping):
        raise ModelError(
            f"{where}.parameters: expected a mapping of parameter values (got "
            f"{shown(raw)}). Write parameters: {{window: 1.0}}"
        )
    names = list(fragment.parameters)
    result = {}
    for key, value in raw.items():
        path = f"{where}.parameters.{key}"
        if key not in names:
            hint = did_you_mean(str(key), names) or (
                f" Parameters of {fragment.name}: {', '.join(names)}."
            )
            raise ModelError(f"{path}: unknown parameter {shown(key)} of {fragment.name}.{hint}")
        fields = dict(value) if isinstance(value, Mapping) else {"value": value}
        for field in fields:
            if field not in OVERRIDE_KEYS:
                hint = did_you_mean(str(field), OVERRIDE_KEYS) or (
                    f" Allowed keys: {', '.join(OVERRIDE_KEYS)}."
                )
                raise ModelError(f"{path}.{field}: unknown key '{field}'.{hint}")
        number = fields.get("value", fragment.parameters[key]["value"])
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            raise ModelError(
                f"{path}: expected a number (got {shown(number)}). Write a plain "
                "number "
                "such as 1.5, or {value: 1.5, range: [1, 2]}"
            )
        result[str(key)] = fields
    return result


def _expression_tree(text: Any) -> ast.expr:
    """The expression tree of an equation (already checked by the model reader)."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return ast.Constant(text)
    source = " ".join(str(text).split("\n")).strip()
    return ast.parse(source, mode="eval").body


class _Renamer(ast.NodeTransformer):
    """Renames fragment names, substitutes inputs and points measure functions at the host's
    measures, on the expression tree."""

    def __init__(
        self,
        renames: Mapping[str, str],
        inputs: Mapping[str, ast.expr],
        measures: Mapping[str, str],
    ) -> None:
        self.renames = renames
        self.inputs = inputs
        self.measures = measures

    def rename(self, text: Any) -> Any:
        """The equation ``text`` in host names (a number stays a number)."""
        if isinstance(text, (int, float)) and not isinstance(text, bool):
            return text
        tree = self.visit(_expression_tree(text))
        return ast.unparse(tree)

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if node.id in self.renames:
            return ast.copy_location(ast.Name(self.renames[node.id], node.ctx), node)
        if node.id in self.inputs:
            return copy.deepcopy(self.inputs[node.id])
        return node

    def visit_Call(self, node: ast.Call) -> ast.expr:
        function = node.func
        if isinstance(function, ast.Name):
            if function.id in self.renames:  # a fragment's lookup
                node.func = ast.Name(self.renames[function.id], ast.Load())
            elif (
                function.id.upper() in MEASURE_FUNCTIONS
                and node.args
                and isinstance(node.args[0], ast.Name)
                and node.args[0].id in self.measures
            ):
                first = ast.Name(self.measures[node.args[0].id], ast.Load())
                node.args = [first, *(self.visit(a) for a in node.args[1:])]
                return node
        node.args = [self.visit(a) for a in node.args]
        return node
