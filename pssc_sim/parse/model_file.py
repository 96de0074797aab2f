"""Model files (YAML, DESIGN §2) -> validated, lowered IR.

Validation happens here, at the boundary: every error names ``file: key.path``, the problem, the
value and a fix, and unknown keys or names come with a did-you-mean.
"""

from __future__ import annotations

import datetime
import keyword
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sympy

from pssc_sim.errors import ModelError, did_you_mean, shown
from pssc_sim.ir import lowering
from pssc_sim.ir.builtins import BUILTINS, LEVER_NAMES, RESERVED_NAMES
from pssc_sim.ir.dimensions import Dimensions
from pssc_sim.ir.functions import StatefulCall, variable_symbol
from pssc_sim.ir.model import (
    Auxiliary,
    Better,
    Extrapolation,
    Flow,
    Lookup,
    Measure,
    Meta,
    Model,
    Origin,
    Parameter,
    Perspective,
    Spread,
    SpreadKind,
    Stock,
    TimeSpec,
)
from pssc_sim.ir.ordering import dependency_order, initial_order
from pssc_sim.ir.stateful import Lowerer
from pssc_sim.parse.expressions import Namespace, parse_expression
from pssc_sim.parse.identifiers import is_identifier

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
#: The keys of a model file, by place: the reader checks documents against these, and
#: :func:`pssc_sim.parse.schema.model_json_schema` publishes them.
SECTIONS = ("parameters", "stocks", "flows", "auxiliaries", "lookups")
TOP_KEYS = ("model", "title", "description", "time", "measures", "include", "dimensions", *SECTIONS)
TIME_KEYS = ("start", "stop", "dt", "save_every", "units", "origin", "step_times", "saved_times")
_ORIGIN = re.compile(r"\d{4}(-\d{2}-\d{2})?")
META_KEYS = ("units", "description", "source", "label", "original")
KEYS = {
    "parameters": ("value", "range", "distribution", *META_KEYS),
    "stocks": ("initial", "non_negative", *META_KEYS),
    "flows": ("rate", "from", "to", *META_KEYS),
    "auxiliaries": ("equation", *META_KEYS),
    "lookups": ("points", "x", "y", "extrapolation", *META_KEYS),
    "measures": ("perspective", "better", "true", "reported", "distribution", *META_KEYS),
}
SPREAD_KEYS = ("kind", "mean", "sd", "reported_share")
# The key a shorthand entry (a bare value instead of a mapping) stands for.
_BOOLEAN_KEYS = {True: "true", False: "false"}
SHORTHAND = {"parameters": "value", "stocks": "initial", "auxiliaries": "equation", "flows": "rate"}


def resolve_model_path(path: str | Path) -> Path:
    """The model file for ``path``: a file, or a folder holding ``model.yaml``."""
    candidate = Path(path)
    try:
        if candidate.is_dir():
            candidate = candidate / "model.yaml"
        found = candidate.is_file()
    except OSError as exc:  # a name too long for the file system, say
        raise ModelError(
            f"{shown(str(path))}: cannot use this path ({exc.strerror}). Give a "
            ".yaml model file or a folder that holds model.yaml"
        ) from None
    if not found:
        raise ModelError(
            f"{path}: no model file there (got {shown(str(candidate))}). Give a .yaml model "
            "file or a "
            "folder under models/ that holds model.yaml"
        )
    return candidate


def check_document(file: str, document: Mapping[str, Any]) -> Model:
    """Read a model document (already loaded) as :func:`load_model_file` reads a file; errors
    name ``file``. Fragment files are checked this way."""
    return Reader(file, document).read()


@dataclass(frozen=True, slots=True)
class Entry:
    section: str
    name: str
    fields: Mapping[str, Any]

    @property
    def path(self) -> str:
        return f"{self.section}.{self.name}"


class Reader:
    """Reads one model document; ``where(path)`` prefixes every message with the file."""

    def __init__(self, file: str, document: Any) -> None:
        self.file = file
        self.document = document
        # distribution.reported_share of each measure that gives one (lowered)
        self.reported_shares: dict[str, sympy.Expr] = {}
        self.switches: set[str] = set()

    def where(self, key_path: str) -> str:
        return f"{self.file}: {key_path}"

    def error(self, key_path: str, message: str) -> ModelError:
        return ModelError(f"{self.where(key_path)}: {message}")

    def read(self) -> Model:
        if not isinstance(self.document, Mapping):
            raise ModelError(
                f"{self.file}: a model file must be a YAML mapping (got "
                f"{type(self.document).__name__}). Start with 'model: name' and sections such as "
                "'stocks:'"
            )
        self.check_keys(self.document, TOP_KEYS, "")
        included = self.document.get("include")
        # the switches the includes add, one per instance (expand_includes checks the names)
        self.switches = (
            {f"{name}_active" for name in included} if isinstance(included, Mapping) else set()
        )
        if included is not None:  # the fragment readers load only for models that include
            from pssc_sim.parse.includes import expand_includes

            self.document = expand_includes(
                self.file, self.document, self.check_binding, check_document
            )
        entries = {section: self.entries(section) for section in (*SECTIONS, "measures")}
        names = self.check_names(entries)
        lookups = tuple(self.lookup(e) for e in entries["lookups"])
        namespace = Namespace(
            variables=names,
            lookups={lk.name for lk in lookups},
            measures=entries_names(entries["measures"]),
        )
        parameters = tuple(self.parameter(e) for e in entries["parameters"])
        constants = {p.name: p.value for p in parameters}
        lowerer = self.make_lowerer(constants)
        stocks = [self.stock(e, namespace) for e in entries["stocks"]]
        flows = [
            self.flow(e, namespace, lowerer, set(entries_names(entries["stocks"])))
            for e in entries["flows"]
        ]
        auxiliaries = [self.auxiliary(e, namespace, lowerer) for e in entries["auxiliaries"]]
        measures = [
            self.measure(e, namespace, lowerer, names, auxiliaries) for e in entries["measures"]
        ]
        stocks += lowerer.out.stocks
        flows += lowerer.out.flows
        auxiliaries += lowerer.out.auxiliaries
        auxiliaries += lowering.resolve_share_calls(
            stocks, flows, auxiliaries, measures, self.reported_shares, self.where
        )
        added, hidden = lowering.target_structure(
            stocks, flows, auxiliaries, measures, self.reported_shares
        )
        parameters += added
        auxiliaries += hidden
        order = self.order(flows, auxiliaries)
        rank = {name: i for i, name in enumerate(order)}
        auxiliaries.sort(key=lambda a: rank[a.name])
        model = Model(
            name=self.model_name(),
            title=str(self.document.get("title") or ""),
            time=self.time(),
            parameters=parameters,
            stocks=tuple(stocks),
            flows=tuple(flows),
            auxiliaries=tuple(auxiliaries),
            lookups=lookups,
            discrete=tuple(lowerer.out.discrete),
            measures=tuple(measures),
            algebraic_order=order,
            source=self.file,
            dimensions=self.dimension_table(),
            structural=dict(lowerer.out.structural),
        )
        check_initialisation(model)
        return model

    def model_name(self) -> str:
        """The ``model:`` name, or the name of the file's folder; either follows the name rule,
        so that it can never carry text into generated code, a terminal or a report."""
        raw = self.document.get("model")
        if raw is None or raw == "":
            folder = Path(self.file).parent.name
            if not is_identifier(folder):
                raise self.error(
                    "model",
                    f"the folder name is not a valid model name (got "
                    f"{shown(folder)}). Add 'model: a_name' of letters, "
                    "digits and underscores to the file",
                )
            return folder
        if not is_identifier(raw):
            raise self.error(
                "model",
                f"not a valid model name (got {shown(raw)}). Use a "
                "snake_case name of letters, digits and underscores; put "
                "free text under 'title:'",
            )
        return str(raw)

    def check_binding(self, where: str, text: Any, names: set[str]) -> None:
        """Parse an expression bound to an include's input against the host's names."""
        lookups = {str(n) for n in (self.document.get("lookups") or {})}
        measures = [str(n) for n in (self.document.get("measures") or {})]
        parse_expression(
            text,
            where=where,
            namespace=Namespace(variables=names - lookups, lookups=lookups, measures=measures),
        )

    # -- structure -------------------------------------------------------------------------

    def allowed_keys(self, section: str) -> tuple[str, ...]:
        """The keys an entry of ``section`` may have."""
        return KEYS[section]

    def dimension_table(self) -> Dimensions:
        """The model's dimensions (none: see :mod:`pssc_sim.parse.dimensions`)."""
        return Dimensions()

    def make_lowerer(self, constants: Mapping[str, float]) -> Lowerer:
        """The lowering of stateful builtins for this document."""
        return Lowerer(constants)

    def check_keys(self, mapping: Mapping[str, Any], allowed: tuple[str, ...], path: str) -> None:
        for key in mapping:
            if key not in allowed:
                where = f"{path}.{key}" if path else str(key)
                hint = did_you_mean(str(key), allowed) or f" Allowed keys: {', '.join(allowed)}."
                raise self.error(where, f"unknown key {shown(key)}.{hint}")

    def entries(self, section: str) -> list[Entry]:
        raw = self.document.get(section)
        if raw is None:
            return []
        if not isinstance(raw, Mapping):
            kind = type(raw).__name__
            raise self.error(
                section,
                f"expected a mapping of names to entries (got {kind}). "
                f"Write '{section}:' then 'name: ...' lines",
            )
        result = []
        for name, value in raw.items():
            fields = self.fields(section, str(name), value)
            result.append(Entry(section, str(name), fields))
        return result

    def fields(self, section: str, name: str, value: Any) -> Mapping[str, Any]:
        path = f"{section}.{name}"
        if isinstance(value, Mapping):
            # YAML 1.1 reads a bare `true:` key (a measure's true value) as the boolean True.
            fields: dict[str, Any] = {
                (_BOOLEAN_KEYS[k] if isinstance(k, bool) else k): v for k, v in value.items()
            }
            self.check_keys(fields, self.allowed_keys(section), path)
            return fields
        shorthand = SHORTHAND.get(section)
        if shorthand is None or value is None:
            raise self.error(
                path,
                f"expected a mapping (got {shown(value)}). Write "
                f"'{name}: {{{KEYS[section][0]}: ...}}'",
            )
        return {shorthand: value}

    def check_names(self, entries: Mapping[str, list[Entry]]) -> set[str]:
        seen: dict[str, str] = {}
        for section in SECTIONS:
            for entry in entries[section]:
                self.check_name(entry)
                if entry.name in seen:
                    raise self.error(
                        entry.path,
                        f"the name '{entry.name}' is already defined "
                        f"under {seen[entry.name]}. Rename one of them",
                    )
                seen[entry.name] = entry.section
        return {n for n, section in seen.items() if section != "lookups"}

    def check_name(self, entry: Entry) -> None:
        name = entry.name
        problem = ""
        if not _NAME.match(name):
            problem = "is not a valid name"
        elif "__" in name:
            problem = "contains '__', which is reserved for hidden variables"
        elif (
            name in RESERVED_NAMES | LEVER_NAMES
            or name.upper() in BUILTINS
            or keyword.iskeyword(name)
        ):
            problem = "is reserved (a builtin or a Python keyword)"
        if problem:
            raise self.error(
                entry.path,
                f"the name {shown(name)} {problem} (got "
                f"{shown(name)}). Use a "
                "snake_case name of letters, digits and single "
                "underscores",
            )

    # -- sections --------------------------------------------------------------------------

    def number(self, value: Any, path: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(
                path,
                f"expected a number (got {shown(value)}). Write a plain number "
                "such as 10 or 2.5e-3",
            )
        return float(value)

    def meta(self, entry: Entry) -> Meta:
        values = {}
        for key in META_KEYS:
            value = entry.fields.get(key, "")
            if not isinstance(value, (str, int, float)):
                raise self.error(
                    f"{entry.path}.{key}",
                    f"expected text (got {shown(value)}). Write it as a string",
                )
            values[key] = str(value)
        return Meta(**values)

    def required(self, entry: Entry, key: str) -> Any:
        if key not in entry.fields or entry.fields[key] is None:
            raise self.error(
                f"{entry.path}.{key}",
                f"'{key}' is required (got nothing). Add '{key}: ...' to {entry.name}",
            )
        return entry.fields[key]

    def parameter(self, entry: Entry) -> Parameter:
        value = self.number(self.required(entry, "value"), f"{entry.path}.value")
        bounds = None
        if "range" in entry.fields:
            raw = entry.fields["range"]
            if not isinstance(raw, (list, tuple)) or len(raw) != 2:
                raise self.error(
                    f"{entry.path}.range",
                    f"expected [low, high] (got {shown(raw)}). Write range: [5, 20]",
                )
            low, high = (self.number(v, f"{entry.path}.range") for v in raw)
            if low > high:
                raise self.error(
                    f"{entry.path}.range",
                    f"low is above high (got {list(raw)}). Write the smaller value first",
                )
            bounds = (low, high)
        distribution = entry.fields.get("distribution")
        if distribution is not None and not isinstance(distribution, Mapping):
            raise self.error(
                f"{entry.path}.distribution",
                f"expected a mapping (got {shown(distribution)}). Write "
                "{distribution: uniform, low: 1, high: 2}",
            )
        origin = Origin.INCLUDE if entry.name in self.switches else Origin.MODEL
        return Parameter(
            entry.name,
            value,
            self.meta(entry),
            bounds,
            dict(distribution) if distribution else None,
            origin=origin,
        )

    def expression(self, entry: Entry, key: str, namespace: Namespace) -> sympy.Expr:
        return parse_expression(
            self.required(entry, key), where=self.where(f"{entry.path}.{key}"), namespace=namespace
        )

    def stock(self, entry: Entry, namespace: Namespace) -> Stock:
        initial = self.expression(entry, "initial", namespace)
        if initial.has(StatefulCall):
            raise self.error(
                f"{entry.path}.initial",
                f"stateful builtins cannot set an initial value (got {initial}). Use an auxiliary",
            )
        non_negative = entry.fields.get("non_negative", False)
        if not isinstance(non_negative, bool):
            raise self.error(
                f"{entry.path}.non_negative",
                f"expected true or false (got {shown(non_negative)}). Write true or false",
            )
        return Stock(entry.name, initial, self.meta(entry), non_negative)

    def flow(self, entry: Entry, namespace: Namespace, lowerer: Lowerer, stocks: set[str]) -> Flow:
        ends: list[str | None] = []
        for key in ("from", "to"):
            end = entry.fields.get(key)
            if end is not None and (not isinstance(end, str) or end not in stocks):
                hint = did_you_mean(str(end), stocks)
                raise self.error(
                    f"{entry.path}.{key}",
                    f"'{end}' is not a stock."
                    f"{hint or ' Name a stock, or leave the key out for a cloud.'}",
                )
            ends.append(end)
        if ends[0] is not None and ends[0] == ends[1]:
            raise self.error(
                f"{entry.path}.to",
                f"the flow goes from a stock to itself (got "
                f"'{ends[0]}'). Use a different target or a cloud",
            )
        rate = self.expression(entry, "rate", namespace)
        rate = lowerer.lower(rate, owner=entry.name, where=self.where(f"{entry.path}.rate"))
        return Flow(entry.name, rate, ends[0], ends[1], self.meta(entry))

    def auxiliary(self, entry: Entry, namespace: Namespace, lowerer: Lowerer) -> Auxiliary:
        equation = self.expression(entry, "equation", namespace)
        equation = lowerer.lower(
            equation, owner=entry.name, where=self.where(f"{entry.path}.equation")
        )
        return Auxiliary(entry.name, equation, self.meta(entry))

    def lookup(self, entry: Entry) -> Lookup:
        path = entry.path
        if "points" in entry.fields:
            points = entry.fields["points"]
            if not isinstance(points, list) or not all(
                isinstance(p, (list, tuple)) and len(p) == 2 for p in points
            ):
                raise self.error(
                    f"{path}.points",
                    f"expected a list of [x, y] pairs (got "
                    f"{shown(points)}). Write points: [[0, 1], "
                    "[10, 2]]",
                )
            xs = [self.number(p[0], f"{path}.points") for p in points]
            ys = [self.number(p[1], f"{path}.points") for p in points]
        else:
            raw_x, raw_y = self.required(entry, "x"), self.required(entry, "y")
            if not isinstance(raw_x, list) or not isinstance(raw_y, list):
                raise self.error(
                    f"{path}.x",
                    "expected lists of numbers for x and y (got "
                    f"{shown(raw_x)}, {shown(raw_y)}). Write x: [0, "
                    "1], y: [2, 3]",
                )
            xs = [self.number(v, f"{path}.x") for v in raw_x]
            ys = [self.number(v, f"{path}.y") for v in raw_y]
        kind = entry.fields.get("extrapolation", "flat")
        options = [e.value for e in Extrapolation]
        if kind not in options:
            hint = did_you_mean(str(kind), options) or " Use flat, linear or discrete."
            raise self.error(f"{path}.extrapolation", f"unknown extrapolation {shown(kind)}.{hint}")
        try:
            return Lookup(entry.name, tuple(xs), tuple(ys), Extrapolation(kind), self.meta(entry))
        except ModelError as exc:
            raise ModelError(f"{self.file}: {exc}") from None

    def measure(
        self,
        entry: Entry,
        namespace: Namespace,
        lowerer: Lowerer,
        names: set[str],
        auxiliaries: list[Auxiliary],
    ) -> Measure:
        perspective = self.choice(entry, "perspective", Perspective)
        better = self.choice(entry, "better", Better)
        if "true" in entry.fields:
            true = self.expression(entry, "true", namespace)
        elif entry.name in names:
            true = variable_symbol(entry.name)
        else:
            hint = did_you_mean(entry.name, names)
            raise self.error(
                entry.path,
                f"'{entry.name}' is not a variable and has no 'true' "
                f"expression.{hint or ' Add true: <expression>.'}",
            )
        reported = (
            self.expression(entry, "reported", namespace) if "reported" in entry.fields else true
        )
        owner = f"measure_{entry.name}"
        true = lowerer.lower(true, owner=owner, where=self.where(f"{entry.path}.true"))
        reported = lowerer.lower(reported, owner=owner, where=self.where(f"{entry.path}.reported"))
        spread = self.spread(entry, namespace, lowerer, true)
        return Measure(entry.name, perspective, better, true, reported, self.meta(entry), spread)

    def spread(
        self, entry: Entry, namespace: Namespace, lowerer: Lowerer, true: sympy.Expr
    ) -> Spread | None:
        """A measure's ``distribution: {kind: lognormal, mean: <expr>, sd: <expr>}``; the mean
        defaults to the measure's true value."""
        raw = entry.fields.get("distribution")
        if raw is None:
            return None
        path = f"{entry.path}.distribution"
        if not isinstance(raw, Mapping):
            raise self.error(
                path,
                f"expected a mapping (got {shown(raw)}). Write distribution: "
                "{kind: lognormal, sd: 2.5}",
            )
        self.check_keys(raw, SPREAD_KEYS, path)
        sub = Entry(entry.section, f"{entry.name}.distribution", raw)
        kind = self.choice(sub, "kind", SpreadKind)
        owner = f"measure_{entry.name}"
        mean = (
            true
            if "mean" not in raw
            else lowerer.lower(
                self.expression(sub, "mean", namespace),
                owner=owner,
                where=self.where(f"{path}.mean"),
            )
        )
        sd = lowerer.lower(
            self.expression(sub, "sd", namespace), owner=owner, where=self.where(f"{path}.sd")
        )
        if "reported_share" in raw:
            self.reported_shares[entry.name] = lowerer.lower(
                self.expression(sub, "reported_share", namespace),
                owner=owner,
                where=self.where(f"{path}.reported_share"),
            )
        return Spread(kind, mean, sd)

    def choice(
        self, entry: Entry, key: str, kind: type[Perspective] | type[Better] | type[SpreadKind]
    ) -> Any:
        value = self.required(entry, key)
        options = [member.value for member in kind]
        if value not in options:
            hint = did_you_mean(str(value), options) or f" Use one of: {', '.join(options)}."
            raise self.error(f"{entry.path}.{key}", f"unknown {key} {shown(value)}.{hint}")
        return kind(value)

    def time(self) -> TimeSpec:
        raw = self.document.get("time")
        if not isinstance(raw, Mapping):
            raise self.error(
                "time",
                f"a time block is required (got {shown(raw)}). Write "
                "time: {start: 0, stop: 100, dt: 0.25}",
            )
        self.check_keys(raw, TIME_KEYS, "time")
        start = self.number(raw.get("start", 0), "time.start")
        if "stop" not in raw:
            raise self.error("time.stop", "'stop' is required (got nothing). Add stop: <time>")
        stop = self.number(raw["stop"], "time.stop")
        dt = self.number(raw.get("dt", 1), "time.dt")
        save_every = self.number(raw.get("save_every", dt), "time.save_every")
        steps, saved = (
            tuple(self.number(v, f"time.{key}[{i}]") for i, v in enumerate(self.times(raw, key)))
            for key in ("step_times", "saved_times")
        )
        try:
            return TimeSpec(
                start,
                stop,
                dt,
                save_every,
                str(raw.get("units", "")),
                self.origin(raw.get("origin")),
                steps,
                saved,
            )
        except ModelError as exc:
            raise ModelError(f"{self.file}: {exc}") from None

    def times(self, raw: Mapping[str, Any], key: str) -> list[Any]:
        """``time.step_times`` or ``time.saved_times``: a list of times, empty if absent."""
        value = raw.get(key, [])
        if not isinstance(value, list):
            raise self.error(
                f"time.{key}",
                f"expected a list of times (got {shown(value)}). Write {key}: [0, 1, 1.5]",
            )
        return value

    def origin(self, raw: Any) -> str:
        """``time.origin``: a year (2004) or a date (2004-04-01) as ISO text, '' if absent."""
        if raw is None:
            return ""
        if isinstance(raw, datetime.date):
            return raw.isoformat()[:10]
        text = str(raw).strip()
        if not isinstance(raw, bool) and _ORIGIN.fullmatch(text):
            try:
                datetime.date.fromisoformat(text if "-" in text else f"{text}-01-01")
                return text
            except ValueError:
                pass
        raise self.error(
            "time.origin",
            f"expected a year or a date YYYY-MM-DD (got {raw!r}). "
            "Write e.g. origin: 2004-04-01 or origin: 2004",
        )

    def order(self, flows: list[Flow], auxiliaries: list[Auxiliary]) -> tuple[str, ...]:
        needs = {f.name: [s.name for s in f.rate.free_symbols] for f in flows}
        needs.update({a.name: [s.name for s in a.equation.free_symbols] for a in auxiliaries})
        return dependency_order(needs, what="algebraic", where=self.file)


def entries_names(entries: list[Entry]) -> list[str]:
    """Names of the entries of one section."""
    return [e.name for e in entries]


def check_initialisation(model: Model) -> None:
    """Raise if the initial values depend on each other in a cycle (they cannot be computed)."""
    initial_order(model)
