"""The scenario file format (DESIGN §3) as data: every key, intervention and distribution.

The reader (:mod:`pssc_sim.scenario.reader`) validates against these tables and
:func:`json_schema` turns the same tables into a JSON Schema for editors, so the two cannot
drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from pssc_sim.errors import ModelError
from pssc_sim.integrate.methods import METHODS
from pssc_sim.scenario.samplers import SAMPLERS

#: Top-level keys of a scenario file, with what each does.
TOP_KEYS: Mapping[str, str] = MappingProxyType(
    {
        "scenario": "name of the scenario (defaults to the file name)",
        "description": "free text describing the scenario",
        "model": "a folder under models/, or a path to a .yaml, .mdl or .xmile model file",
        "extends": "another scenario file in the same folder whose settings this one overrides",
        "time": "overrides of the model's time block: start, stop, dt, save_every",
        "method": "integration method: euler, rk4, rk45, dop853, lsoda, bdf or radau",
        "set": "parameter values from the start of the run, {name: number}",
        "interventions": "time-phased changes of parameters: set, step, ramp, pulse, series",
        "uncertainty": "makes the run an ensemble: members, sampling, seed, parameters, "
        "joint (parameters drawn together from a multivariate normal)",
        "targets": "targets on measures: measure, kind (level, threshold share, count), value, by, "
        "from, severity (low 0.5, medium 1, high 2, or a number), consequence, per, "
        "threshold",
        "culture": "organisational culture, 0 (learning) .. 1 (blame); 0.5 when not given",
        "mechanisms": "gaming mechanisms the model includes, switched on or off by instance name, "
        "{instance: on|off}; the same as set: {<instance>_active: 1|0}",
        "outputs": "the variables to record and write (all visible variables by default)",
        "compute": "where ensembles run: {scheduler: tcp://HOST:PORT} (a Dask cluster) or "
        "{workers: N} (N local worker processes); here in one process by default",
    }
)

TIME_KEYS: tuple[str, ...] = ("start", "stop", "dt", "save_every")
#: The integration methods a scenario may name: those of the method registry.
METHOD_NAMES: tuple[str, ...] = tuple(METHODS)
UNCERTAINTY_KEYS: tuple[str, ...] = ("members", "sampling", "seed", "parameters", "joint")
#: The keys of a joint draw (a multivariate normal over a few parameters): names, then numbers.
JOINT_KEYS: tuple[str, ...] = ("parameters", "distribution", "mean", "covariance", "low", "high")
#: The samplings an uncertainty block may name: those of the sampler registry.
SAMPLING_NAMES: tuple[str, ...] = tuple(SAMPLERS)
#: The words of a ``mechanisms:`` entry and the switch value each sets (YAML also reads a bare
#: on/off as true/false).
SWITCH_WORDS: Mapping[str, bool] = MappingProxyType({"on": True, "off": False})


@dataclass(frozen=True, slots=True)
class KeySet:
    """The keys of one kind of entry: the keys it needs, may have, and a one-line description.

    ``one_of`` lists alternatives of which exactly one must be given (``step`` takes ``by`` or
    ``to``).
    """

    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    one_of: tuple[str, ...] = ()
    description: str = ""

    @property
    def allowed(self) -> tuple[str, ...]:
        """Every key the entry may have."""
        return (*self.required, *self.one_of, *self.optional)


#: Intervention kinds by their leading key (which names the parameter).
INTERVENTIONS: Mapping[str, KeySet] = MappingProxyType(
    {
        "set": KeySet(("set", "to", "at"), description="from time 'at' on, the parameter is 'to'"),
        "step": KeySet(
            ("step", "at"),
            one_of=("by", "to"),
            description="at time 'at' the parameter rises by 'by' (or jumps to 'to')",
        ),
        "ramp": KeySet(
            ("ramp", "to", "from", "until"),
            description="the parameter moves linearly to 'to' between 'from' and 'until'",
        ),
        "pulse": KeySet(
            ("pulse", "by", "at", "width"),
            description="the parameter is raised by 'by' from 'at' for 'width'",
        ),
        "series": KeySet(
            ("series", "points"),
            description="the parameter follows [[t, value], ...], linear between points "
            "and held at the ends",
        ),
    }
)

#: Distributions by name: the keys each takes besides ``distribution``.
DISTRIBUTIONS: Mapping[str, KeySet] = MappingProxyType(
    {
        "uniform": KeySet(("low", "high"), description="equally likely between low and high"),
        "normal": KeySet(
            ("mean", "sd"),
            ("low", "high"),
            description="normal; with low and/or high, truncated there",
        ),
        "triangular": KeySet(
            ("low", "mode", "high"), description="triangular from low to high, peaking at mode"
        ),
        "lognormal": KeySet(
            ("mu", "sigma"), description="exp of a normal with mean mu and standard deviation sigma"
        ),
        "beta": KeySet(
            ("a", "b"),
            ("low", "high"),
            description="beta(a, b) scaled to [low, high] (default [0, 1])",
        ),
        "discrete": KeySet(
            ("values",),
            ("weights",),
            description="one of the values, with the given weights (equal by default)",
        ),
    }
)


def _number(description: str = "") -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "number"}
    if description:
        schema["description"] = description
    return schema


def _object(
    properties: Mapping[str, Any], required: tuple[str, ...] = (), description: str = ""
) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": dict(properties),
        "additionalProperties": False,
    }
    if required:
        schema["required"] = list(required)
    if description:
        schema["description"] = description
    return schema


_NAME = {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_]*$"}
_POINTS = {
    "type": "array",
    "minItems": 1,
    "items": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
}


def _intervention_schema(kind: str, keys: KeySet) -> dict[str, Any]:
    properties: dict[str, Any] = {key: _number() for key in keys.allowed}
    properties[kind] = {**_NAME, "description": "the parameter changed"}
    if kind == "series":
        properties["points"] = _POINTS
    schema = _object(properties, keys.required, keys.description)
    if keys.one_of:
        schema["oneOf"] = [{"required": [key]} for key in keys.one_of]
    return schema


def _distribution_schema(name: str, keys: KeySet) -> dict[str, Any]:
    properties: dict[str, Any] = {key: _number() for key in keys.allowed}
    properties["distribution"] = {"const": name}
    if name == "discrete":
        properties["values"] = {"type": "array", "items": {"type": "number"}, "minItems": 1}
        properties["weights"] = {"type": "array", "items": {"type": "number", "minimum": 0}}
    return _object(properties, ("distribution", *keys.required), keys.description)


def _joint_schema(name: Mapping[str, Any]) -> dict[str, Any]:
    numbers = {"type": "array", "items": {"type": "number"}, "minItems": 2}
    bounds = {"type": "array", "items": {"type": ["number", "null"]}, "minItems": 2}
    schema = _object(
        {
            "parameters": {"type": "array", "items": name, "minItems": 2, "uniqueItems": True},
            "distribution": {"const": "normal"},
            "mean": numbers,
            "covariance": {"type": "array", "items": numbers, "minItems": 2},
            "low": bounds,
            "high": bounds,
            "from_calibration": {
                "type": "string",
                "pattern": "\\.json$",
                "description": "a file pssc calibrate --json wrote, relative to the scenario: "
                "its estimates, covariance and bounds",
            },
        },
        ("parameters",),
        "parameters drawn together: a multivariate normal with this mean and covariance, each "
        "kept in [low, high] where given (null for no bound)",
    )
    schema["oneOf"] = [{"required": ["mean", "covariance"]}, {"required": ["from_calibration"]}]
    return schema


def json_schema(parameters: tuple[str, ...] = ()) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of scenario files, built from the tables of this module.

    ``parameters``, when given, become the allowed parameter names (editors then complete them).

    Examples
    --------
    >>> schema = json_schema()
    >>> sorted(schema["properties"]) == sorted(TOP_KEYS)
    True
    >>> schema["properties"]["uncertainty"]["properties"]["sampling"]["enum"]
    ['random', 'latin-hypercube', 'sobol']
    """
    name = {"enum": list(parameters)} if parameters else _NAME
    distributions = [_distribution_schema(n, k) for n, k in DISTRIBUTIONS.items()]
    uncertainty = _object(
        {
            "members": {"type": "integer", "minimum": 1},
            "sampling": {"enum": list(SAMPLING_NAMES)},
            "seed": {"type": "integer", "minimum": 0},
            "parameters": {
                "oneOf": [
                    {"type": "array", "items": name},
                    {
                        "type": "object",
                        "propertyNames": name,
                        "additionalProperties": {"oneOf": [{"type": "null"}, *distributions]},
                    },
                ]
            },
            "joint": {"type": "array", "items": _joint_schema(name)},
        },
        description=TOP_KEYS["uncertainty"],
    )
    properties: dict[str, Any] = {
        "scenario": {"type": "string"},
        "description": {"type": "string"},
        "model": {"type": "string"},
        "extends": {"type": "string"},
        "time": _object({key: _number() for key in TIME_KEYS}),
        "method": {"enum": list(METHOD_NAMES)},
        "set": {
            "type": "object",
            "propertyNames": name,
            "additionalProperties": {"type": "number"},
        },
        "interventions": {
            "type": "array",
            "items": {
                "oneOf": [_intervention_schema(kind, keys) for kind, keys in INTERVENTIONS.items()]
            },
        },
        "uncertainty": uncertainty,
        "outputs": {"type": "array", "items": _NAME},
        "targets": {
            "type": "array",
            "items": _object(
                {
                    "measure": _NAME,
                    "kind": {"enum": ["level", "threshold share", "count"]},
                    "value": _number(),
                    "by": _number(),
                    "from": _number(),
                    "severity": {
                        "oneOf": [
                            {"enum": ["low", "medium", "high"]},
                            {"type": "number", "minimum": 0},
                        ]
                    },
                    "consequence": {"type": "string"},
                    "per": {"type": ["number", "string"]},
                    "threshold": _number(),
                },
                ("measure", "value", "by"),
            ),
        },
        "culture": {"type": "number", "minimum": 0, "maximum": 1},
        "mechanisms": {
            "type": "object",
            "propertyNames": _NAME,
            "additionalProperties": {"oneOf": [{"enum": list(SWITCH_WORDS)}, {"type": "boolean"}]},
        },
        "compute": {
            "oneOf": [
                _object(
                    {"scheduler": {"type": "string", "pattern": "^(tcp|tls)://"}}, ("scheduler",)
                ),
                _object(
                    {"workers": {"type": "integer", "minimum": 1, "maximum": 1024}}, ("workers",)
                ),
            ]
        },
    }
    for key, text in TOP_KEYS.items():
        properties[key]["description"] = text
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "pssc_sim scenario",
        "description": "A scenario: a model, parameter overrides, time-phased interventions, "
        "uncertainty and outputs. Values are numbers and names, never code.",
        **_object(properties),
        "anyOf": [{"required": ["model"]}, {"required": ["extends"]}],
    }


class ScenarioError(ModelError):
    """A scenario file or :class:`~pssc_sim.scenario.Scenario` is invalid (bad input: exit 2)."""
