"""The values of a scenario, one parser each: YAML values -> checked numbers, names and values.

Every value is checked at this boundary against the tables of :mod:`pssc_sim.scenario.schema`.
Errors name ``file: key.path``, the problem, the value and a fix, with a did-you-mean for unknown
keys and names. Values are numbers and names only: a string where a number belongs is rejected,
never evaluated. :mod:`~pssc_sim.scenario.reader` reads whole files with these parsers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pssc_sim.errors import did_you_mean, shown
from pssc_sim.ir.model import Model, Origin
from pssc_sim.parse.identifiers import is_label
from pssc_sim.scenario.interventions import Intervention, intervention_from_document
from pssc_sim.scenario.sampling import Distribution
from pssc_sim.scenario.schema import (
    INTERVENTIONS,
    METHOD_NAMES,
    SWITCH_WORDS,
    TIME_KEYS,
    ScenarioError,
)
from pssc_sim.scenario.targets import Target, target_from_document

#: The fix every refused string gets: scenarios carry no code.
NO_CODE = "A scenario holds numbers and names, never expressions or code"
# a name, or elements of an arrayed one: rate[A], rate[young, B]
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\[[^\[\]!'\"]+\])?$")

# YAML 1.1 reads 2e6 (no dot) as text; such plain numerals are accepted as numbers.
_NUMERAL = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")

Where = Callable[[str], str]


def where_in(file: str) -> Where:
    """``where(key_path)`` for messages about ``file`` (or about Python arguments if empty)."""
    return (lambda path: f"{file}: {path}") if file else (lambda path: path)


def number(value: Any, where: str) -> float:
    """A finite number, or a :class:`ScenarioError` saying where and why not.

    >>> number("2e6", "set.budget")
    2000000.0
    >>> number("__import__('os')", "set.budget")
    Traceback (most recent call last):
    ...
    pssc_sim.scenario.schema.ScenarioError: set.budget: expected a number (got \
"__import__('os')"). A scenario holds numbers and names, never expressions or code
    """
    if isinstance(value, str) and _NUMERAL.match(value.strip()):
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ScenarioError(f"{where}: expected a number (got {shown(value)}). {NO_CODE}")
    if not math.isfinite(value):
        raise ScenarioError(
            f"{where}: expected a finite number (got {shown(value)}). Write a plain "
            "number such as 10 or 2.5e-3"
        )
    return float(value)


def name(value: Any, where: str) -> str:
    """A variable name (letters, digits and underscores), or a :class:`ScenarioError`."""
    if not isinstance(value, str) or not _NAME.match(value):
        raise ScenarioError(f"{where}: expected a variable name (got {shown(value)}). {NO_CODE}")
    return value


def scenario_name(value: Any, where: str) -> str:
    """A scenario name (letters, digits, underscores and hyphens), or a :class:`ScenarioError`.

    >>> scenario_name("quit-count-target", "scenario")
    'quit-count-target'
    """
    if not is_label(value):
        raise ScenarioError(
            f"{where}: not a valid scenario name (got {shown(value)}). Use "
            "letters, digits, underscores and hyphens, such as "
            "'quit-count-target'; put free text under 'description:'"
        )
    return str(value)


def mapping(value: Any, where: str, example: str) -> Mapping[str, Any]:
    """``value`` if it is a mapping, else a :class:`ScenarioError` with an example."""
    if not isinstance(value, Mapping):
        raise ScenarioError(f"{where}: expected a mapping (got {shown(value)}). Write {example}")
    return value


def check_keys(
    entry: Mapping[str, Any], allowed: Iterable[str], where: Where, path: str, what: str = "key"
) -> None:
    """Raise on the first key of ``entry`` that is not ``allowed``, with a did-you-mean."""
    allowed = tuple(allowed)
    for key in entry:
        if key not in allowed:
            hint = did_you_mean(str(key), allowed) or f" Allowed: {', '.join(allowed)}."
            place = f"{path}.{key}" if path else str(key)
            raise ScenarioError(f"{where(place)}: unknown {what} {shown(key)}.{hint}")


def parse_time(raw: Any, where: Where) -> dict[str, float]:
    """The ``time`` block: overrides of start, stop, dt and save_every."""
    block = mapping(raw, where("time"), "time: {stop: 50, dt: 0.25}")
    check_keys(block, TIME_KEYS, where, "time")
    return {key: number(value, where(f"time.{key}")) for key, value in block.items()}


def parse_method(raw: Any, where: Where) -> str:
    """The integration method, one of :data:`~pssc_sim.scenario.schema.METHOD_NAMES`."""
    if raw not in METHOD_NAMES:
        hint = did_you_mean(str(raw), METHOD_NAMES)
        raise ScenarioError(
            f"{where('method')}: unknown method {shown(raw)}.{hint} Use one of: "
            f"{', '.join(METHOD_NAMES)}"
        )
    return str(raw)


def parse_set(raw: Any, where: Where) -> dict[str, float]:
    """The ``set`` block: ``{parameter: number}``."""
    block = mapping(raw, where("set"), "set: {advisor_fte: 40}")
    return {
        name(key, where(f"set.{key}")): number(value, where(f"set.{key}"))
        for key, value in block.items()
    }


def parse_interventions(raw: Any, where: Where) -> tuple[Intervention, ...]:
    """The ``interventions`` list."""
    if not isinstance(raw, list):
        raise ScenarioError(
            f"{where('interventions')}: expected a list (got {shown(raw)}). Write "
            "interventions: [{set: p, to: 2, at: 5}]"
        )
    return tuple(
        parse_intervention(entry, where, f"interventions[{i}]") for i, entry in enumerate(raw)
    )


def parse_intervention(raw: Any, where: Where, path: str = "intervention") -> Intervention:
    """One intervention: ``{set: p, to: v, at: t}``, ``{step: ...}``, ``{ramp: ...}`` ..."""
    entry = mapping(raw, where(path), "{set: p, to: 2, at: 5}")
    kinds = [key for key in entry if key in INTERVENTIONS]
    if len(kinds) != 1:
        first = next(iter(entry), "")
        hint = did_you_mean(str(first), INTERVENTIONS) if not kinds else ""
        raise ScenarioError(
            f"{where(path)}: an intervention starts with exactly one of "
            f"{', '.join(INTERVENTIONS)} (got {shown(dict(entry))}).{hint} Write e.g. "
            "{step: p, by: 1, at: 5}"
        )
    kind = kinds[0]
    keys = INTERVENTIONS[kind]
    check_keys(entry, keys.allowed, where, path)
    for key in keys.required:
        if key not in entry:
            raise ScenarioError(
                f"{where(f'{path}.{key}')}: '{key}' is required (got nothing). "
                f"A {kind} intervention needs: {', '.join(keys.required)}"
            )
    values: dict[str, Any] = {kind: name(entry[kind], where(f"{path}.{kind}"))}
    for key, value in entry.items():
        if key == "points":
            values[key] = _points(value, where(f"{path}.points"))
        elif key != kind:
            values[key] = number(value, where(f"{path}.{key}"))
    try:
        return intervention_from_document(values)
    except ScenarioError as exc:
        raise ScenarioError(f"{where(path)}: {exc}") from None


def _points(raw: Any, where: str) -> list[tuple[float, float]]:
    if (
        not isinstance(raw, list)
        or not raw
        or not all(isinstance(p, (list, tuple)) and len(p) == 2 for p in raw)
    ):
        raise ScenarioError(
            f"{where}: expected a list of [time, value] pairs (got {shown(raw)}). "
            "Write points: [[2020, 1.0], [2025, 2.5]]"
        )
    return [(number(t, where), number(v, where)) for t, v in raw]


def parse_distribution(raw: Any, where: str) -> Distribution | None:
    """A distribution mapping ``{distribution: kind, ...}``; ``None`` (or ``{}``) defers to the
    model's own distribution or range."""
    if raw is None or raw == {}:
        return None
    entry = mapping(raw, where, "{distribution: uniform, low: 1, high: 2}")
    if "distribution" not in entry:
        raise ScenarioError(
            f"{where}.distribution: 'distribution' is required (got "
            f"{shown(dict(entry))}). Write {{distribution: uniform, low: 1, high: 2}}"
        )
    settings = {key: value for key, value in entry.items() if key != "distribution"}
    for key, value in settings.items():
        if not isinstance(value, list):
            settings[key] = number(value, f"{where}.{key}")
    try:
        return Distribution(str(entry["distribution"]), settings)
    except ScenarioError as exc:
        raise ScenarioError(f"{where}: {exc}") from None


def parse_outputs(raw: Any, where: Where) -> tuple[str, ...]:
    """The ``outputs`` list of variable names."""
    if not isinstance(raw, list):
        raise ScenarioError(
            f"{where('outputs')}: expected a list of variable names (got "
            f"{shown(raw)}). Write outputs: [prevalence, cost]"
        )
    return tuple(name(item, where(f"outputs[{i}]")) for i, item in enumerate(raw))


def parse_targets(raw: Any, where: Where) -> tuple[Target, ...]:
    """The ``targets`` list (see :mod:`pssc_sim.scenario.targets`)."""
    if not isinstance(raw, (list, tuple)):
        raise ScenarioError(
            f"{where('targets')}: expected a list (got {shown(raw)}). Write targets: "
            "[{measure: m, kind: level, value: 8, by: 2030}]"
        )
    return tuple(target_from_document(item, where(f"targets[{i}]")) for i, item in enumerate(raw))


def parse_culture(raw: Any, where: Where) -> float:
    """``culture``: a number from 0 (learning) to 1 (blame)."""
    value = number(raw, where("culture"))
    if not 0 <= value <= 1:
        raise ScenarioError(
            f"{where('culture')}: culture runs from 0 (learning) to 1 (blame) "
            f"(got {value:g}). Write e.g. culture: 0.8"
        )
    return value


def parse_mechanisms(raw: Any, where: Where) -> dict[str, bool]:
    """``mechanisms``: ``{instance: on|off}`` (YAML's true/false and 1/0 too) -> on or not.

    >>> parse_mechanisms({"time_correction": "off", "clock": True}, where_in(""))
    {'time_correction': False, 'clock': True}
    """
    block = mapping(raw, where("mechanisms"), "mechanisms: {time_correction: off}")
    result = {}
    for key, value in block.items():
        path = where(f"mechanisms.{key}")
        name(key, path)
        if isinstance(value, str) and value.strip().lower() in SWITCH_WORDS:
            result[key] = SWITCH_WORDS[value.strip().lower()]
        elif isinstance(value, (bool, int)) and value in (0, 1):
            result[key] = bool(value)
        else:
            raise ScenarioError(
                f"{path}: expected on or off (got {shown(value)}). Write mechanisms: {{{key}: off}}"
            )
    return result


def parse_compute(raw: Any, where: Where) -> dict[str, Any]:
    """``compute: {scheduler: tcp://HOST:PORT}`` or ``{workers: N}``, checked (not connected).

    >>> parse_compute({"workers": 2}, where_in("s.yaml"))
    {'workers': 2}
    """
    from pssc_sim.integrate.cluster import SchedulerError, parse_scheduler

    block = mapping(raw, where("compute"), "compute: {workers: 2}")
    check_keys(block, ("scheduler", "workers"), where, "compute")
    if len(block) != 1:
        raise ScenarioError(
            f"{where('compute')}: give either scheduler or workers (got "
            f"{sorted(block) or 'nothing'}). Write compute: {{workers: 2}} or "
            "compute: {scheduler: tcp://HOST:8786}"
        )
    key, value = next(iter(block.items()))
    if key == "workers" and (isinstance(value, bool) or not isinstance(value, int)):
        raise ScenarioError(
            f"{where('compute.workers')}: expected a whole number of worker "
            f"processes (got {shown(value)}). Write e.g. workers: 2"
        )
    if key == "scheduler" and not isinstance(value, str):
        raise ScenarioError(
            f"{where('compute.scheduler')}: expected an address (got "
            f"{shown(value)}). Write e.g. scheduler: tcp://HOST:8786"
        )
    if key == "workers":
        try:
            parse_scheduler(value, where("compute.workers"))
        except SchedulerError as exc:
            raise ScenarioError(str(exc)) from None
        return {key: value}
    try:
        address = parse_scheduler(value).address
    except SchedulerError:
        address = None
    if address is None:
        raise ScenarioError(
            f"{where('compute.scheduler')}: not a scheduler address (got "
            f"{shown(value)}). Write e.g. scheduler: tcp://HOST:8786, or "
            "workers: N for local worker processes"
        )
    return {key: value}


def switch_name(instance: str) -> str:
    """The switch parameter of an included mechanism.

    >>> switch_name("time_correction")
    'time_correction_active'
    """
    return f"{instance}_active"


def model_instances(model: Model) -> list[str]:
    """The instances of gaming mechanisms (``include:``) in ``model``, by their switches."""
    return [p.name.removesuffix("_active") for p in model.parameters if p.origin is Origin.INCLUDE]


def parse_text(raw: Any, where: str) -> str:
    if not isinstance(raw, (str, int, float)) or isinstance(raw, bool):
        raise ScenarioError(f"{where}: expected text (got {shown(raw)}). Write it as a string")
    return str(raw)
