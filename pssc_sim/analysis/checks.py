"""``pssc check``: the model checks a modeller runs before trusting a model.

- dimensional consistency of every equation, of every flow with the stocks it changes, and of
  every initial value (:mod:`pssc_sim.analysis.units`);
- parameters and lookups that nothing uses;
- parameters with no ``source`` note (every value should say where it comes from);
- parameters whose value lies outside their declared ``range`` (the evidence range);
- during a run: lookups called outside the range of their points, and stocks declared
  non-negative that their flows would drive below zero.

Undefined names never reach here: the model reader rejects them.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy

from pssc_sim.analysis.units import UNIT_HINT, Units, UnitsMismatch, UnitsOf, UnitsUnreadable, show
from pssc_sim.errors import PsscSimError
from pssc_sim.ir.functions import LookupFunction
from pssc_sim.ir.model import Auxiliary, Flow, Model, Parameter, Stock


class Kind(enum.Enum):
    """What a finding is about."""

    UNITS = "units"
    UNUSED = "unused"
    SOURCE = "source"
    RANGE = "range"
    LOOKUP_RANGE = "lookup range"
    NEGATIVE_STOCK = "negative stock"
    RUN = "run"


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem: where it is (``file: key.path``), what kind, and what to do."""

    kind: Kind
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass(frozen=True, slots=True)
class CheckReport:
    """Every finding of :func:`check_model`; ``ok`` when there are none."""

    model: str
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        """Whether the model passed every check."""
        return not self.findings


def check_model(model: Model, *, run: bool = True) -> CheckReport:
    """Run every check on ``model`` (``run=False`` skips the checks that need a simulation).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from pssc_sim.parse import load_model
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "m.yaml"
    >>> _ = path.write_text(
    ...     "time: {stop: 1, units: year}\\n"
    ...     "stocks: {people: {initial: 10, units: people}}\\n"
    ...     "flows: {births: {to: people, rate: people + 1, units: people/year}}\\n")
    >>> [f.kind.value for f in check_model(load_model(path)).findings]
    ['units']
    """
    findings = [*_units(model), *_unused(model), *_sources(model), *_ranges(model)]
    if run:
        findings += _run_checks(model)
    return CheckReport(model.source or model.name, tuple(findings))


def _where(model: Model, path: str) -> str:
    return f"{model.source or model.name}: {path}"


# -- units --------------------------------------------------------------------------------------


def _units(model: Model) -> Iterator[Finding]:
    units = Units.create()
    unreadable: list[Finding] = []

    def parse(text: str, path: str) -> Any | None:
        try:
            return units.parse(text)
        except UnitsUnreadable as error:
            unreadable.append(
                Finding(
                    Kind.UNITS,
                    _where(model, path),
                    f"the units cannot be read: {error.reason}. {UNIT_HINT}",
                )
            )
            return None

    time = parse(model.time.units, "time.units") if model.time.units else None
    declared: dict[str, Any] = {}
    items: list[tuple[str, Parameter | Stock | Flow | Auxiliary]] = [
        *(("parameters", p) for p in model.parameters),
        *(("stocks", s) for s in model.stocks),
        *(("flows", f) for f in model.flows),
        *(("auxiliaries", a) for a in model.auxiliaries),
    ]
    for section, item in items:
        if item.meta.units:
            parsed = parse(item.meta.units, f"{section}.{item.name}.units")
            if parsed is not None:
                declared[item.name] = parsed
    lookups = {
        lk.name: parse(lk.meta.units, f"lookups.{lk.name}.units")
        for lk in model.lookups
        if lk.meta.units
    }
    yield from unreadable
    infer = UnitsOf(units, declared, time, lookups)
    _infer_hidden(model, infer, declared)
    for stock in model.stocks:
        if not stock.hidden:
            yield from _compare(
                model,
                infer,
                stock.initial,
                declared.get(stock.name),
                f"stocks.{stock.name}.initial",
                stock.name,
            )
    for flow in model.flows:
        if flow.hidden:
            continue
        yield from _compare(
            model, infer, flow.rate, declared.get(flow.name), f"flows.{flow.name}.rate", flow.name
        )
        yield from _flow_against_stocks(
            model, units, declared, time, flow.name, (flow.source, flow.target)
        )
    for aux in model.auxiliaries:
        if not aux.hidden:
            yield from _compare(
                model,
                infer,
                aux.equation,
                declared.get(aux.name),
                f"auxiliaries.{aux.name}.equation",
                aux.name,
            )


def _infer_hidden(model: Model, infer: UnitsOf, declared: dict[str, Any]) -> None:
    """Units of the hidden variables of stateful builtins, from their equations."""
    equations: dict[str, sympy.Expr] = {s.name: s.initial for s in model.stocks if s.hidden}
    equations.update({f.name: f.rate for f in model.flows if f.hidden})
    equations.update({a.name: a.equation for a in model.auxiliaries if a.hidden})
    equations.update({d.name: d.initial for d in model.discrete})
    for name, expr in equations.items():
        try:
            unit = infer(expr)
        except UnitsMismatch:
            continue  # reported where the user wrote the call
        if unit is not None:
            declared[name] = unit


def _compare(
    model: Model, infer: UnitsOf, expr: sympy.Expr, expected: Any, path: str, name: str
) -> Iterator[Finding]:
    try:
        actual = infer(expr)
    except UnitsMismatch as mismatch:
        yield Finding(
            Kind.UNITS,
            _where(model, path),
            f"{mismatch.what}: '{mismatch.first}' and '{mismatch.second}' "
            f"(got {expr}). Make both sides the same units, or fix a declaration",
        )
        return
    if actual is not None and expected is not None and not infer.units.same(actual, expected):
        yield Finding(
            Kind.UNITS,
            _where(model, path),
            f"the equation gives '{show(actual)}' but {name} is declared in "
            f"'{show(expected)}' (got {expr}). Fix the equation or the units",
        )


def _flow_against_stocks(
    model: Model,
    units: Units,
    declared: dict[str, Any],
    time: Any,
    flow: str,
    stocks: tuple[str | None, str | None],
) -> Iterator[Finding]:
    rate = declared.get(flow)
    if rate is None or time is None:
        return
    for stock in stocks:
        level = declared.get(stock) if stock else None
        if level is not None and not units.same(rate * time, level):
            yield Finding(
                Kind.UNITS,
                _where(model, f"flows.{flow}.units"),
                f"the flow is in '{show(rate)}' but the stock {stock} is in "
                f"'{show(level)}' per '{show(time)}' (got {show(rate * time)} per "
                "step). Declare the flow in stock units per time unit",
            )


# -- structure ----------------------------------------------------------------------------------


def _used_names(model: Model) -> set[str]:
    exprs: list[sympy.Basic] = [s.initial for s in model.stocks]
    exprs += [f.rate for f in model.flows] + [a.equation for a in model.auxiliaries]
    exprs += [m.true for m in model.measures] + [m.reported for m in model.measures]
    for state in model.discrete:
        exprs += [
            state.initial,
            *(getattr(state, key) for key in ("input", "delay") if hasattr(state, key)),
        ]
    names = {s.name for e in exprs for s in e.free_symbols}
    names |= {f.lookup_name for e in exprs for f in e.atoms(LookupFunction)}
    return names


def _unused(model: Model) -> Iterator[Finding]:
    used = _used_names(model)
    for parameter in model.parameters:
        if parameter.name not in used:
            yield Finding(
                Kind.UNUSED,
                _where(model, f"parameters.{parameter.name}"),
                f"the parameter is never used (got {parameter.value}). Use it in an "
                "equation or remove it",
            )
    for lookup in model.lookups:
        if lookup.name not in used:
            yield Finding(
                Kind.UNUSED,
                _where(model, f"lookups.{lookup.name}"),
                f"the lookup is never called (got {len(lookup.x)} points). Call it "
                "as name(x) or remove it",
            )


def _sources(model: Model) -> Iterator[Finding]:
    for parameter in model.parameters:
        if not parameter.meta.source.strip():
            yield Finding(
                Kind.SOURCE,
                _where(model, f"parameters.{parameter.name}.source"),
                f"the value has no source (got value {_shown(parameter)}). Add "
                "source: with a reference, or 'assumption' and why",
            )


def _ranges(model: Model) -> Iterator[Finding]:
    for parameter in model.parameters:
        if parameter.range is None:
            continue
        low, high = parameter.range
        if not all(low <= value <= high for value in parameter.row_values()):
            yield Finding(
                Kind.RANGE,
                _where(model, f"parameters.{parameter.name}.value"),
                f"the value lies outside its range [{low:g}, {high:g}] (got value "
                f"{_shown(parameter)}). Move the value into the range, or give the "
                "range the evidence for this value supports",
            )


# -- run checks ---------------------------------------------------------------------------------


def _run_checks(model: Model) -> list[Finding]:
    probe, arguments = _probe_model(model)
    from pssc_sim.integrate.simulate import simulate

    outputs = [*arguments, *(s.name for s in model.stocks if s.non_negative)]
    try:
        results = simulate(probe, outputs=outputs or None)
    except PsscSimError as error:
        return [
            Finding(
                Kind.RUN,
                model.source or model.name,
                f"the run failed ({error}). Fix the error above first",
            )
        ]
    findings = list(_lookup_ranges(model, results, arguments))
    findings += _negative_stocks(model, results)
    return findings


def _probe_model(model: Model) -> tuple[Model, dict[str, tuple[str, str]]]:
    """A copy of ``model`` that records every lookup argument and never clamps stocks.

    Returns the copy and, for each recorded argument, the lookup and the variable calling it.
    """
    extra: list[Auxiliary] = []
    arguments: dict[str, tuple[str, str]] = {}
    for owner, expr in _equations(model):
        for k, call in enumerate(sorted(expr.atoms(LookupFunction), key=str)):
            name = f"{owner}__lookup_argument{k + 1}"
            extra.append(Auxiliary(name, call.args[0], origin=owner))
            arguments[name] = (call.lookup_name, owner)
    stocks = tuple(dataclasses.replace(s, non_negative=False) for s in model.stocks)
    probe = dataclasses.replace(
        model,
        stocks=stocks,
        auxiliaries=(*model.auxiliaries, *extra),
        algebraic_order=(*model.algebraic_order, *(a.name for a in extra)),
        _index={},
    )
    return probe, arguments


def _equations(model: Model) -> Iterator[tuple[str, sympy.Expr]]:
    for flow in model.flows:
        yield flow.origin or flow.name, flow.rate
    for aux in model.auxiliaries:
        yield aux.origin or aux.name, aux.equation


def _lookup_ranges(
    model: Model, results: Any, arguments: dict[str, tuple[str, str]]
) -> Iterator[Finding]:
    lookups = {lk.name: lk for lk in model.lookups}
    for name, (lookup_name, owner) in arguments.items():
        values = results.values[:, results.index(name), :]
        lookup = lookups[lookup_name]
        low, high = float(values.min()), float(values.max())
        if low < lookup.x[0] or high > lookup.x[-1]:
            yield Finding(
                Kind.LOOKUP_RANGE,
                _where(model, f"lookups.{lookup_name}"),
                f"called by {owner} with inputs from {low:g} to {high:g}, outside its "
                f"points {lookup.x[0]:g}..{lookup.x[-1]:g} (got "
                f"{lookup.extrapolation.value} extrapolation). Extend the points",
            )


def _negative_stocks(model: Model, results: Any) -> Iterator[Finding]:
    for stock in model.stocks:
        if not stock.non_negative:
            continue
        columns = [results.index(row) for row in model.rows(stock.name)]
        values = results.values[:, columns, :]
        if (values < 0).any():
            first = int(np.argmax((values < 0).any(axis=(1, 2))))
            yield Finding(
                Kind.NEGATIVE_STOCK,
                _where(model, f"stocks.{stock.name}"),
                f"declared non-negative but its flows drive it to {values.min():g} "
                f"(got a negative value first at time {results.times[first]:g}). "
                "Limit the outflows by what the stock holds",
            )


def _shown(parameter: Parameter) -> str:
    """The value of a parameter as a message shows it (the list of an arrayed one)."""
    values = parameter.row_values()
    return (
        str(parameter.value)
        if not parameter.dims
        else str(list(values[:6])) + (" ..." if len(values) > 6 else "")
    )
