"""The JSON Schema of model files, built from the key tables the model reader checks against.

The schema gives editors completion and early marks for misspelt keys; the reader still makes
every semantic check (names, equations, units of time) with messages that point into the file.
Because both read the same tables (:data:`~pssc_sim.parse.model_file.KEYS` and its
neighbours), a key the reader accepts is a key the schema lists, and no other.
"""

from __future__ import annotations

from typing import Any

from pssc_sim.parse.dimensions import DIMENSION_KEYS, array_keys
from pssc_sim.parse.includes import INCLUDE_KEYS, OVERRIDE_KEYS
from pssc_sim.parse.model_file import KEYS, SECTIONS, SHORTHAND, SPREAD_KEYS, TIME_KEYS, TOP_KEYS

_NUMBER = {"type": "number"}
_TEXT = {"type": "string"}
#: An equation: text, or a bare number.
_EQUATION = {"type": ["string", "number"]}
#: The values of ``time:`` keys that are not numbers: ``origin`` is a year or a date.
_TIME_VALUES: dict[str, dict[str, Any]] = {
    "units": _TEXT,
    "origin": {
        "oneOf": [{"type": "integer"}, {"type": "string", "pattern": r"^\d{4}(-\d{2}-\d{2})?$"}],
        "description": "the calendar date or year of time zero, e.g. 2004-04-01 or 2004",
    },
}
#: What each section's entries are, in words, for editors.
_DESCRIPTIONS = {
    "parameters": "constants a scenario may override: {name: value} or {name: {value: ...}}",
    "stocks": "accumulations: {name: initial} or {name: {initial: ...}}",
    "flows": "rates between stocks: {name: {rate: ..., from: stock, to: stock}}",
    "auxiliaries": "named equations: {name: equation} or {name: {equation: ...}}",
    "lookups": "graphical functions: {name: {points: [[x, y], ...]}}",
    "measures": "Public Sector Scorecard indicators: perspective, better, true and reported",
}


def _any(keys: tuple[str, ...]) -> dict[str, Any]:
    """Properties ``keys``, each of any value (the reader checks the values)."""
    return {key: {} for key in keys}


def _entry(section: str) -> dict[str, Any]:
    """The schema of one entry of ``section``: a mapping of its keys, or its shorthand."""
    properties = _any((*KEYS[section], *array_keys(section)))
    if section == "measures":
        properties["distribution"] = {
            "type": "object",
            "properties": _any(SPREAD_KEYS),
            "additionalProperties": False,
        }
    mapping = {"type": "object", "properties": properties, "additionalProperties": False}
    if section in SHORTHAND:
        return {"oneOf": [mapping, _EQUATION if section != "parameters" else _NUMBER]}
    return mapping


def _section(section: str) -> dict[str, Any]:
    return {
        "type": "object",
        "description": _DESCRIPTIONS[section],
        "additionalProperties": _entry(section),
    }


def model_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of model files.

    Examples
    --------
    >>> schema = model_json_schema()
    >>> sorted(schema["properties"]) == sorted(TOP_KEYS)
    True
    >>> sorted(schema["properties"]["time"]["properties"]) == sorted(TIME_KEYS)
    True
    """
    include_values = {
        "mechanism": _TEXT,
        "inputs": {"type": "object", "additionalProperties": _EQUATION},
        "parameters": {
            "type": "object",
            "additionalProperties": {
                "oneOf": [
                    _NUMBER,
                    {
                        "type": "object",
                        "properties": _any(OVERRIDE_KEYS),
                        "additionalProperties": False,
                    },
                ]
            },
        },
        "active": {"enum": [0, 1]},
    }
    include = {
        "type": "object",
        "properties": {key: include_values[key] for key in INCLUDE_KEYS},
        "required": ["mechanism"],
        "additionalProperties": False,
    }
    dimension = {
        "oneOf": [
            {"type": "array"},
            {
                "type": "object",
                "properties": _any(DIMENSION_KEYS),
                "additionalProperties": False,
            },
        ]
    }
    properties: dict[str, Any] = {
        "model": _TEXT,
        "title": _TEXT,
        "description": _TEXT,
        "time": {
            "type": "object",
            "properties": {key: _TIME_VALUES.get(key, _NUMBER) for key in TIME_KEYS},
            "additionalProperties": False,
        },
        "include": {
            "type": "object",
            "additionalProperties": include,
            "description": "gaming mechanisms from the library, by instance name",
        },
        "dimensions": {
            "type": "object",
            "additionalProperties": dimension,
            "description": "dimensions of arrayed variables, by name",
        },
        **{section: _section(section) for section in (*SECTIONS, "measures")},
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "pssc_sim model",
        "description": "A system dynamics model: stocks, flows, auxiliaries, parameters, "
        "lookups and Public Sector Scorecard measures. Equations are text in a "
        "small safe grammar; the model reader checks them.",
        "type": "object",
        "properties": {key: properties[key] for key in TOP_KEYS},
        "additionalProperties": False,
    }
