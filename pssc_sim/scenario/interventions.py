"""Time-phased interventions: parameter changes written as data and applied as equations.

An intervened parameter becomes a visible auxiliary of the same name whose equation is a
``Piecewise`` in TIME over the parameter's base value, which stays a parameter named
``<name>__base`` (so an ensemble can still sample it and ``set`` still changes it). The equation is
built from numbers with sympy's constructors, never from text, and its conditions are linear in
TIME, so the adaptive integrators find every switch as a breakpoint
(:mod:`pssc_sim.compile.breakpoints`) and restart there instead of stepping over it.

Discontinuous changes (``set``, ``step``, ``pulse``) switch at ``at - 1e-6``, the guard Vensim uses
for PULSE and RAMP, so a fixed-step run whose accumulated time lands a hair below ``at`` still
switches at ``at``; ``ramp`` and ``series`` are continuous and need no guard.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import sympy

from pssc_sim.errors import PsscSimWarning, did_you_mean, shown
from pssc_sim.ir.builtins import GUARD
from pssc_sim.ir.functions import TIME, variable_symbol
from pssc_sim.ir.model import Auxiliary, Model, Parameter
from pssc_sim.scenario.schema import ScenarioError

#: The name suffix of the parameter holding an intervened parameter's base value.
BASE_SUFFIX = "__base"


def base_name(name: str) -> str:
    """The parameter that keeps the base value of the intervened parameter ``name``.

    >>> base_name("advisor_fte")
    'advisor_fte__base'
    """
    return f"{name}{BASE_SUFFIX}"


def _number(value: float) -> sympy.Float:
    return sympy.Float(float(value))


def _from(at: float) -> sympy.Basic:
    """True from time ``at`` on (with the guard against round-off in the accumulated time)."""
    return sympy.Ge(TIME + GUARD, _number(at))


def _before(at: float) -> sympy.Basic:
    return sympy.Lt(TIME + GUARD, _number(at))


def _until(t: float) -> sympy.Basic:
    """True before ``t``, for continuous changes (no guard needed)."""
    return sympy.Lt(TIME, _number(t))


@dataclass(frozen=True, slots=True)
class SetTo:
    """From time ``at`` on, the parameter is ``to``."""

    parameter: str
    to: float
    at: float

    def schedule(self, previous: sympy.Expr) -> sympy.Expr:
        """The parameter's value over time, given its value ``previous`` without this change."""
        return sympy.Piecewise((previous, _before(self.at)), (_number(self.to), True))

    def scaled(self, factor: float) -> SetTo:
        """The change with every level it sets or adds multiplied by ``factor``."""
        return replace(self, to=self.to * factor)

    def to_document(self) -> dict[str, Any]:
        """The intervention as it is written in a scenario file."""
        return {"set": self.parameter, "to": self.to, "at": self.at}


@dataclass(frozen=True, slots=True)
class Step:
    """At time ``at`` the parameter rises by ``by``, or jumps to ``to``."""

    parameter: str
    at: float
    by: float | None = None
    to: float | None = None

    def __post_init__(self) -> None:
        if (self.by is None) == (self.to is None):
            raise ScenarioError(
                f"step: give exactly one of 'by' and 'to' (got by={self.by}, "
                f"to={self.to}). Write by: 5 for a change or to: 40 for a level"
            )

    def schedule(self, previous: sympy.Expr) -> sympy.Expr:
        """The parameter's value over time, given its value ``previous`` without this change."""
        if self.to is not None:
            return sympy.Piecewise((previous, _before(self.at)), (_number(self.to), True))
        jump = sympy.Piecewise((sympy.S.Zero, _before(self.at)), (_number(self.by or 0.0), True))
        return previous + jump

    def scaled(self, factor: float) -> Step:
        """The change with every level it sets or adds multiplied by ``factor``."""
        if self.to is not None:
            return replace(self, to=self.to * factor)
        return replace(self, by=(self.by or 0.0) * factor)

    def to_document(self) -> dict[str, Any]:
        """The intervention as it is written in a scenario file."""
        change = {"by": self.by} if self.by is not None else {"to": self.to}
        return {"step": self.parameter, **change, "at": self.at}


@dataclass(frozen=True, slots=True)
class Ramp:
    """The parameter moves linearly from its value at ``start`` to ``to`` at ``end``."""

    parameter: str
    to: float
    start: float
    end: float

    def __post_init__(self) -> None:
        if not self.end > self.start:
            raise ScenarioError(
                f"ramp: 'until' must be after 'from' (got from={self.start}, "
                f"until={self.end}). Give the ramp a positive duration"
            )

    def schedule(self, previous: sympy.Expr) -> sympy.Expr:
        """The parameter's value over time, given its value ``previous`` without this change."""
        to = _number(self.to)
        share = (TIME - _number(self.start)) / _number(self.end - self.start)
        return sympy.Piecewise(
            (previous, _until(self.start)),
            (previous + (to - previous) * share, _until(self.end)),
            (to, True),
        )

    def scaled(self, factor: float) -> Ramp:
        """The change with every level it sets or adds multiplied by ``factor``."""
        return replace(self, to=self.to * factor)

    def to_document(self) -> dict[str, Any]:
        """The intervention as it is written in a scenario file."""
        return {"ramp": self.parameter, "to": self.to, "from": self.start, "until": self.end}


@dataclass(frozen=True, slots=True)
class Pulse:
    """The parameter is raised by ``by`` from time ``at`` for ``width``."""

    parameter: str
    by: float
    at: float
    width: float

    def __post_init__(self) -> None:
        if not self.width > 0:
            raise ScenarioError(
                f"pulse: 'width' must be positive (got {self.width}). Give the "
                "pulse a duration, e.g. width: 1"
            )

    def schedule(self, previous: sympy.Expr) -> sympy.Expr:
        """The parameter's value over time, given its value ``previous`` without this change."""
        on = sympy.And(_from(self.at), _before(self.at + self.width))
        return previous + sympy.Piecewise((_number(self.by), on), (sympy.S.Zero, True))

    def scaled(self, factor: float) -> Pulse:
        """The change with every level it sets or adds multiplied by ``factor``."""
        return replace(self, by=self.by * factor)

    def to_document(self) -> dict[str, Any]:
        """The intervention as it is written in a scenario file."""
        return {"pulse": self.parameter, "by": self.by, "at": self.at, "width": self.width}


@dataclass(frozen=True, slots=True)
class Series:
    """The parameter follows ``points`` ``((t, value), ...)``: linear between them, held at the
    ends. It replaces the base value (and earlier interventions) over the whole run."""

    parameter: str
    points: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        times = [t for t, _ in self.points]
        if not times or any(b <= a for a, b in itertools.pairwise(times)):
            raise ScenarioError(
                f"series: times must increase strictly (got {times}). Sort the "
                "points by time and remove repeated times"
            )

    def schedule(self, previous: sympy.Expr) -> sympy.Expr:
        """The parameter's value over time (``previous`` is replaced)."""
        (t0, v0), pieces = self.points[0], []
        pieces.append((_number(v0), _until(t0)))
        for (ta, va), (tb, vb) in itertools.pairwise(self.points):
            slope = _number((vb - va) / (tb - ta))
            pieces.append((_number(va) + slope * (TIME - _number(ta)), _until(tb)))
        pieces.append((_number(self.points[-1][1]), True))
        return sympy.Piecewise(*pieces)

    def scaled(self, factor: float) -> Series:
        """The change with every level it sets or adds multiplied by ``factor``."""
        return replace(self, points=tuple((t, v * factor) for t, v in self.points))

    def to_document(self) -> dict[str, Any]:
        """The intervention as it is written in a scenario file."""
        return {"series": self.parameter, "points": [list(p) for p in self.points]}


Intervention = SetTo | Step | Ramp | Pulse | Series


def warn_after_stop(interventions: Sequence[Intervention], stop: float) -> None:
    """Warn (:class:`~pssc_sim.errors.PsscSimWarning`) about each intervention that starts after
    the run's ``stop``: it never acts, which is allowed but rarely meant."""
    for intervention in interventions:
        start = {SetTo: "at", Step: "at", Pulse: "at", Ramp: "start"}.get(type(intervention))
        if start is None or getattr(intervention, start) <= stop:
            continue
        kind = next(k for k, v in KINDS.items() if v is type(intervention))
        written = "from" if start == "start" else "at"
        warnings.warn(
            f"interventions: {kind} {shown(intervention.parameter)} starts after the "
            f"run stops at {stop:g} (got {written}: {getattr(intervention, start):g}), "
            "so it never acts. Raise time.stop or move the intervention",
            PsscSimWarning,
            stacklevel=3,
        )


#: The intervention class for each leading key of a scenario file.
KINDS: Mapping[str, type[Intervention]] = {
    "set": SetTo,
    "step": Step,
    "ramp": Ramp,
    "pulse": Pulse,
    "series": Series,
}


def intervention_from_document(entry: Mapping[str, Any]) -> Intervention:
    """An intervention from its file form (already checked for keys and numbers).

    >>> intervention_from_document({"ramp": "x", "to": 2.0, "from": 1.0, "until": 3.0})
    Ramp(parameter='x', to=2.0, start=1.0, end=3.0)
    """
    kind = next(key for key in entry if key in KINDS)
    name = str(entry[kind])
    if kind == "set":
        return SetTo(name, entry["to"], entry["at"])
    if kind == "step":
        return Step(name, entry["at"], entry.get("by"), entry.get("to"))
    if kind == "ramp":
        return Ramp(name, entry["to"], entry["from"], entry["until"])
    if kind == "pulse":
        return Pulse(name, entry["by"], entry["at"], entry["width"])
    return Series(name, tuple((float(t), float(v)) for t, v in entry["points"]))


def schedules(interventions: Iterable[Intervention]) -> dict[str, list[Intervention]]:
    """The interventions grouped by parameter, each group in the order written."""
    groups: dict[str, list[Intervention]] = {}
    for intervention in interventions:
        groups.setdefault(intervention.parameter, []).append(intervention)
    return groups


def layer_interventions(
    parent: Sequence[Intervention], child: Sequence[Intervention]
) -> tuple[Intervention, ...]:
    """``child`` over ``parent``: a parameter the child intervenes on takes the child's schedule.

    Layering is idempotent: ``layer(layer(a, b), b) == layer(a, b)``.

    >>> a, b = SetTo("x", 1.0, 2.0), SetTo("x", 5.0, 3.0)
    >>> layer_interventions([a, SetTo("y", 0.0, 1.0)], [b]) == (SetTo("y", 0.0, 1.0), b)
    True
    """
    replaced = {i.parameter for i in child}
    return (*(i for i in parent if i.parameter not in replaced), *child)


def strip_interventions(model: Model) -> Model:
    """``model`` without interventions: every ``<name>__base`` parameter is ``<name>`` again."""
    auxiliaries = {a.name for a in model.auxiliaries}
    restored = {
        p.name[: -len(BASE_SUFFIX)]
        for p in model.parameters
        if p.name.endswith(BASE_SUFFIX) and p.name[: -len(BASE_SUFFIX)] in auxiliaries
    }
    if not restored:
        return model
    parameters = tuple(
        replace(p, name=p.name[: -len(BASE_SUFFIX)])
        if p.name[: -len(BASE_SUFFIX)] in restored
        else p
        for p in model.parameters
    )
    return replace(
        model,
        parameters=parameters,
        auxiliaries=tuple(a for a in model.auxiliaries if a.name not in restored),
        algebraic_order=tuple(n for n in model.algebraic_order if n not in restored),
    )


def apply_interventions(model: Model, interventions: Sequence[Intervention]) -> Model:
    """``model`` with each intervened parameter turned into an auxiliary scheduled in TIME.

    Interventions already applied to ``model`` are replaced, not stacked, so applying the same
    interventions twice gives the same model as applying them once. Results are cached per model
    and interventions.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from pssc_sim import load_model, simulate
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "m.yaml"
    >>> _ = path.write_text("time: {stop: 4, dt: 1}\\nparameters: {k: 1}\\n"
    ...                     "stocks: {x: 0}\\nflows: {f: {to: x, rate: k}}\\n")
    >>> model = apply_interventions(load_model(path), [SetTo("k", 3.0, 2.0)])
    >>> model.parameter_names, simulate(model)["k"].tolist()
    (('k__base',), [1.0, 1.0, 3.0, 3.0, 3.0])
    """
    return _applied(strip_interventions(model), tuple(interventions))


@lru_cache(maxsize=64)
def _applied(model: Model, interventions: tuple[Intervention, ...]) -> Model:
    groups = schedules(interventions)
    if not groups:
        return model
    parameters = {p.name: p for p in model.parameters}
    for name in groups:
        _check_parameter(model, name, parameters)
    auxiliaries = [_scheduled(parameters[name], group) for name, group in groups.items()]
    renamed = tuple(
        replace(p, name=base_name(p.name)) if p.name in groups else p for p in model.parameters
    )
    return replace(
        model,
        parameters=renamed,
        auxiliaries=(*auxiliaries, *model.auxiliaries),
        algebraic_order=(*groups, *model.algebraic_order),
    )


def _check_parameter(model: Model, name: str, parameters: Mapping[str, Parameter]) -> None:
    if name not in parameters:
        raise ScenarioError(
            f"interventions: '{name}' is not a parameter of "
            f"{model.source or model.name}.{did_you_mean(name, parameters)} "
            "Interventions change parameters"
        )
    if base_name(name) in model:
        raise ScenarioError(
            f"interventions: the model already has a variable "
            f"'{base_name(name)}' (got '{name}'). Rename it in the model"
        )


def _scheduled(parameter: Parameter, group: Sequence[Intervention]) -> Auxiliary:
    value: sympy.Expr = variable_symbol(base_name(parameter.name))
    for intervention in group:
        value = intervention.schedule(value)
    return Auxiliary(parameter.name, value, parameter.meta)
