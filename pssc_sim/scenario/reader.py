"""Reading scenario files: YAML -> checked values -> :class:`~pssc_sim.scenario.Scenario`.

Every value is checked at this boundary against the tables of :mod:`pssc_sim.scenario.schema`.
Errors name ``file: key.path``, the problem, the value and a fix, with a did-you-mean for unknown
keys and names. Values are numbers and names only: a string where a number belongs is rejected,
never evaluated, and YAML tags that would build objects are refused.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pssc_sim.errors import ModelError, did_you_mean, shown
from pssc_sim.ir.model import Model, TimeSpec
from pssc_sim.parse.identifiers import is_label
from pssc_sim.parse.model_file import read_yaml
from pssc_sim.scenario.interventions import Intervention, intervention_from_document
from pssc_sim.scenario.sampling import Distribution
from pssc_sim.scenario.schema import (
    INTERVENTIONS,
    METHOD_NAMES,
    NOT_YET,
    SAMPLING_NAMES,
    SWITCH_WORDS,
    TIME_KEYS,
    TOP_KEYS,
    UNCERTAINTY_KEYS,
    ScenarioError,
)
from pssc_sim.targets.definition import Target, check_targets, target_from_document

if TYPE_CHECKING:
    from pssc_sim.scenario.definition import Scenario, Uncertainty

# a name, or elements of an arrayed one: rate[A], rate[young, B]
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\[[^\[\]!'\"]+\])?$")
# YAML 1.1 reads 2e6 (no dot) as text; such plain numerals are accepted as numbers.
_NUMERAL = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_MODEL_SUFFIXES = (".yaml", ".yml", ".mdl", ".xmile", ".xml", ".stmx", ".itmx")
_MODEL_SECTIONS = ("stocks", "flows", "auxiliaries", "parameters", "lookups", "measures")
_NO_CODE = "A scenario holds numbers and names, never expressions or code"

Where = Callable[[str], str]


def where_in(file: str) -> Where:
    """``where(key_path)`` for messages about ``file`` (or about Python arguments if empty)."""
    return (lambda path: f"{file}: {path}") if file else (lambda path: path)


# -- values ---------------------------------------------------------------------------------


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
        raise ScenarioError(f"{where}: expected a number (got {shown(value)}). {_NO_CODE}")
    if not math.isfinite(value):
        raise ScenarioError(f"{where}: expected a finite number (got {shown(value)}). Write a "
                            "plain "
                            "number such as 10 or 2.5e-3")
    return float(value)


def name(value: Any, where: str) -> str:
    """A variable name (letters, digits and underscores), or a :class:`ScenarioError`."""
    if not isinstance(value, str) or not _NAME.match(value):
        raise ScenarioError(f"{where}: expected a variable name (got {shown(value)}). {_NO_CODE}")
    return value


def scenario_name(value: Any, where: str) -> str:
    """A scenario name (letters, digits, underscores and hyphens), or a :class:`ScenarioError`.

    >>> scenario_name("quit-count-target", "scenario")
    'quit-count-target'
    """
    if not is_label(value):
        raise ScenarioError(f"{where}: not a valid scenario name (got {shown(value)}). Use "
                            "letters, digits, underscores and hyphens, such as "
                            "'quit-count-target'; put free text under 'description:'")
    return str(value)


def mapping(value: Any, where: str, example: str) -> Mapping[str, Any]:
    """``value`` if it is a mapping, else a :class:`ScenarioError` with an example."""
    if not isinstance(value, Mapping):
        raise ScenarioError(f"{where}: expected a mapping (got {shown(value)}). Write {example}")
    return value


def check_keys(entry: Mapping[str, Any], allowed: Iterable[str], where: Where, path: str,
               what: str = "key") -> None:
    """Raise on the first key of ``entry`` that is not ``allowed``, with a did-you-mean."""
    allowed = tuple(allowed)
    for key in entry:
        if key not in allowed:
            hint = did_you_mean(str(key), allowed) or f" Allowed: {', '.join(allowed)}."
            later = (f" {shown(key)} is not supported yet: {' and '.join(NOT_YET)} come in a later "
                     "version." if key in NOT_YET else "")
            place = f"{path}.{key}" if path else str(key)
            raise ScenarioError(f"{where(place)}: unknown {what} {shown(key)}.{hint}{later}")


# -- sections -------------------------------------------------------------------------------


def parse_time(raw: Any, where: Where) -> dict[str, float]:
    """The ``time`` block: overrides of start, stop, dt and save_every."""
    block = mapping(raw, where("time"), "time: {stop: 50, dt: 0.25}")
    check_keys(block, TIME_KEYS, where, "time")
    return {key: number(value, where(f"time.{key}")) for key, value in block.items()}


def parse_method(raw: Any, where: Where) -> str:
    """The integration method, one of :data:`~pssc_sim.scenario.schema.METHOD_NAMES`."""
    if raw not in METHOD_NAMES:
        hint = did_you_mean(str(raw), METHOD_NAMES)
        raise ScenarioError(f"{where('method')}: unknown method {shown(raw)}.{hint} Use one of: "
                            f"{', '.join(METHOD_NAMES)}")
    return str(raw)


def parse_set(raw: Any, where: Where) -> dict[str, float]:
    """The ``set`` block: ``{parameter: number}``."""
    block = mapping(raw, where("set"), "set: {advisor_fte: 40}")
    return {name(key, where(f"set.{key}")): number(value, where(f"set.{key}"))
            for key, value in block.items()}


def parse_interventions(raw: Any, where: Where) -> tuple[Intervention, ...]:
    """The ``interventions`` list."""
    if not isinstance(raw, list):
        raise ScenarioError(f"{where('interventions')}: expected a list (got {shown(raw)}). Write "
                            "interventions: [{set: p, to: 2, at: 5}]")
    return tuple(parse_intervention(entry, where, f"interventions[{i}]")
                 for i, entry in enumerate(raw))


def parse_intervention(raw: Any, where: Where, path: str = "intervention") -> Intervention:
    """One intervention: ``{set: p, to: v, at: t}``, ``{step: ...}``, ``{ramp: ...}`` ..."""
    entry = mapping(raw, where(path), "{set: p, to: 2, at: 5}")
    kinds = [key for key in entry if key in INTERVENTIONS]
    if len(kinds) != 1:
        first = next(iter(entry), "")
        hint = did_you_mean(str(first), INTERVENTIONS) if not kinds else ""
        raise ScenarioError(f"{where(path)}: an intervention starts with exactly one of "
                            f"{', '.join(INTERVENTIONS)} (got {shown(dict(entry))}).{hint} "
                            "Write e.g. "
                            "{step: p, by: 1, at: 5}")
    kind = kinds[0]
    keys = INTERVENTIONS[kind]
    check_keys(entry, keys.allowed, where, path)
    for key in keys.required:
        if key not in entry:
            raise ScenarioError(f"{where(f'{path}.{key}')}: '{key}' is required (got nothing). "
                                f"A {kind} intervention needs: {', '.join(keys.required)}")
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
    if not isinstance(raw, list) or not raw or not all(
            isinstance(p, (list, tuple)) and len(p) == 2 for p in raw):
        raise ScenarioError(f"{where}: expected a list of [time, value] pairs (got {shown(raw)}). "
                            "Write points: [[2020, 1.0], [2025, 2.5]]")
    return [(number(t, where), number(v, where)) for t, v in raw]


def parse_uncertainty(raw: Any, where: Where) -> Uncertainty:
    """The ``uncertainty`` block: members, sampling, seed and parameters."""
    from pssc_sim.scenario.definition import Uncertainty

    block = mapping(raw, where("uncertainty"), "uncertainty: {members: 1000, seed: 42}")
    check_keys(block, UNCERTAINTY_KEYS, where, "uncertainty")
    members = block.get("members")
    seed = block.get("seed")
    for key, value in (("members", members), ("seed", seed)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < (1 if key == "members" else 0)):
            raise ScenarioError(f"{where(f'uncertainty.{key}')}: expected a whole number of at "
                                f"least {1 if key == 'members' else 0} (got {shown(value)}). Write "
                                f"{key}: {1000 if key == 'members' else 42}")
    sampling = block.get("sampling")
    if sampling is not None and sampling not in SAMPLING_NAMES:
        raise ScenarioError(f"{where('uncertainty.sampling')}: unknown sampling {shown(sampling)}."
                            f"{did_you_mean(str(sampling), SAMPLING_NAMES)} Use one of: "
                            f"{', '.join(SAMPLING_NAMES)}")
    parameters = (_distributions(block["parameters"], where)
                  if block.get("parameters") is not None else None)
    return Uncertainty(members, sampling, seed, parameters)


def _distributions(raw: Any, where: Where) -> dict[str, Distribution | None]:
    path = "uncertainty.parameters"
    if isinstance(raw, list):
        return {name(item, where(path)): None for item in raw}
    block = mapping(raw, where(path), "parameters: {k: {distribution: uniform, low: 1, high: 2}}")
    return {name(key, where(f"{path}.{key}")): parse_distribution(value, where(f"{path}.{key}"))
            for key, value in block.items()}


def parse_distribution(raw: Any, where: str) -> Distribution | None:
    """A distribution mapping ``{distribution: kind, ...}``; ``None`` (or ``{}``) defers to the
    model's own distribution or range."""
    if raw is None or raw == {}:
        return None
    entry = mapping(raw, where, "{distribution: uniform, low: 1, high: 2}")
    if "distribution" not in entry:
        raise ScenarioError(f"{where}.distribution: 'distribution' is required (got "
                            f"{shown(dict(entry))}). Write "
                            f"{{distribution: uniform, low: 1, high: 2}}")
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
        raise ScenarioError(f"{where('outputs')}: expected a list of variable names (got "
                            f"{shown(raw)}). Write outputs: [prevalence, cost]")
    return tuple(name(item, where(f"outputs[{i}]")) for i, item in enumerate(raw))


def parse_targets(raw: Any, where: Where) -> tuple[Target, ...]:
    """The ``targets`` list (see :mod:`pssc_sim.targets.definition`)."""
    if not isinstance(raw, (list, tuple)):
        raise ScenarioError(f"{where('targets')}: expected a list (got {shown(raw)}). Write "
                            "targets: "
                            "[{measure: m, kind: level, value: 8, by: 2030}]")
    return tuple(target_from_document(item, where(f"targets[{i}]")) for i, item in enumerate(raw))


def parse_culture(raw: Any, where: Where) -> float:
    """``culture``: a number from 0 (learning) to 1 (blame)."""
    value = number(raw, where("culture"))
    if not 0 <= value <= 1:
        raise ScenarioError(f"{where('culture')}: culture runs from 0 (learning) to 1 (blame) "
                            f"(got {value:g}). Write e.g. culture: 0.8")
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
            raise ScenarioError(f"{path}: expected on or off (got {shown(value)}). Write "
                                f"mechanisms: {{{key}: off}}")
    return result


def switch_name(instance: str) -> str:
    """The switch parameter of an included mechanism.

    >>> switch_name("time_correction")
    'time_correction_active'
    """
    return f"{instance}_active"


def model_instances(model: Model) -> list[str]:
    """The instances of gaming mechanisms (``include:``) in ``model``, by their switches."""
    from pssc_sim.parse.fragments import SWITCH_SOURCE

    return [p.name.removesuffix("_active") for p in model.parameters
            if p.name.endswith("_active") and p.meta.source.startswith(SWITCH_SOURCE)]


def _text(raw: Any, where: str) -> str:
    if not isinstance(raw, (str, int, float)) or isinstance(raw, bool):
        raise ScenarioError(f"{where}: expected text (got {shown(raw)}). Write it as a string")
    return str(raw)


_PARSERS: Mapping[str, Callable[[Any, Where], Any]] = {
    "time": parse_time, "method": parse_method, "set": parse_set,
    "interventions": parse_interventions, "uncertainty": parse_uncertainty,
    "outputs": parse_outputs, "targets": parse_targets, "culture": parse_culture,
    "mechanisms": parse_mechanisms,
}


def scenario_arguments(document: Mapping[str, Any], where: Where) -> dict[str, Any]:
    """The checked keyword arguments of :class:`Scenario` from a scenario document."""
    check_keys(document, TOP_KEYS, where, "")
    arguments: dict[str, Any] = {}
    for key, value in document.items():
        if key in _PARSERS:
            arguments[key] = _PARSERS[key](value, where)
        elif key == "scenario":
            arguments["name"] = scenario_name(value, where(key))
        elif key in ("description", "model", "extends"):
            arguments["name" if key == "scenario" else key] = _text(value, where(key))
    return arguments


# -- files ----------------------------------------------------------------------------------


def read_document(path: Path) -> Any:
    """Read a scenario's YAML document safely; tags that would build objects are refused."""
    return read_yaml(path, error=ScenarioError, no_code=_NO_CODE)


def is_scenario_document(document: Any) -> bool:
    """Whether a YAML document is a scenario (not a model): it has ``scenario:`` or
    ``extends:``, or a ``model:`` reference and none of a model's sections.

    >>> is_scenario_document({"model": "sir", "set": {"k": 1}})
    True
    >>> is_scenario_document({"model": "sir", "stocks": {"x": 1}})
    False
    """
    if not isinstance(document, Mapping):
        return False
    if "scenario" in document or "extends" in document:
        return True
    return "model" in document and not any(key in document for key in _MODEL_SECTIONS)


def is_scenario_file(path: str | Path) -> bool:
    """Whether ``path`` is a YAML file holding a scenario (see :func:`is_scenario_document`)."""
    file = Path(path)
    if not file.is_file() or file.suffix.lower() not in (".yaml", ".yml"):
        return False
    try:
        document = read_document(file)
    except ScenarioError:
        return False  # unreadable: the model reader reports it in its own terms
    return is_scenario_document(document)


def scenario_chain(path: str | Path) -> list[tuple[Path, Mapping[str, Any]]]:
    """The files of a scenario and those it extends, the root first. Cycles are errors."""
    file = Path(path)
    if not file.is_file():
        raise ScenarioError(f"{path}: no scenario file there (got {shown(str(path))}). Give the "
                            "path "
                            "of a scenario .yaml file")
    chain: list[tuple[Path, Mapping[str, Any]]] = []
    seen: list[Path] = []
    while True:
        resolved = file.resolve()
        if resolved in seen:
            members = [p.stem for p in seen[seen.index(resolved):]] + [resolved.stem]
            raise ScenarioError(f"{chain[-1][0]}: extends: cycle {' -> '.join(members)} (got "
                                f"{len(members) - 1} scenarios extending each other). Remove "
                                "'extends' from one of them")
        seen.append(resolved)
        document = read_document(file)
        if not isinstance(document, Mapping):
            raise ScenarioError(f"{file}: a scenario file must be a YAML mapping (got "
                                f"{type(document).__name__}). Start with 'scenario: name' and "
                                "'model: folder'")
        chain.append((file, document))
        if document.get("extends") is None:
            return chain[::-1]
        file = extended_file(document["extends"], file)


def extended_file(reference: Any, file: Path) -> Path:
    """The scenario file ``reference`` names, in the folder of ``file``."""
    text = _text(reference, f"{file}: extends")
    folder = file.parent
    for candidate in (folder / text, folder / f"{text}.yaml", folder / f"{text}.yml"):
        if candidate.is_file():
            return candidate
    names = sorted(p.stem for p in folder.glob("*.y*ml"))
    raise ScenarioError(f"{file}: extends: no scenario {shown(text)} in {folder} (got "
                        f"{shown(text)})."
                        f"{did_you_mean(text, names) or ' Name a scenario file of that folder.'}")


def resolve_model(reference: str | Path, folder: Path | None, where: str = "model") -> Path:
    """The model file or folder ``reference`` names.

    A path (with a model suffix or a slash) is taken relative to ``folder``, then the current
    directory. A bare name is a folder under ``models/`` in ``folder`` or any of its parents, or
    in the current directory.
    """
    text = str(reference)
    bases = [folder] if folder is not None else []
    bases.append(Path.cwd())
    if Path(text).suffix.lower() in _MODEL_SUFFIXES or "/" in text or "\\" in text:
        for base in bases:
            if (base / text).exists():
                return base / text
        raise ScenarioError(f"{where}: no model file {shown(text)} (got {shown(text)}). Give a "
                            "path "
                            f"relative to {bases[0]}")
    roots = [b / "models" for base in bases for b in (base, *base.resolve().parents)]
    for root in roots:
        if (root / text / "model.yaml").is_file():
            return root / text
    known = sorted({p.parent.name for r in roots if r.is_dir() for p in r.glob("*/model.yaml")})
    hint = did_you_mean(text, known) or (f" Models found: {', '.join(known)}." if known else
                                         " No models/ folder was found.")
    raise ScenarioError(f"{where}: unknown model {shown(text)} (got {shown(text)}).{hint} Name "
                        "a folder "
                        "under models/ or give a path to a .yaml, .mdl or .xmile file")


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario file and the files it extends, checked against its model.

    Examples
    --------
    >>> from pathlib import Path
    >>> import pssc_sim
    >>> root = Path(pssc_sim.__file__).parent.parent
    >>> load_scenario(root / "scenarios" / "sir" / "baseline.yaml").name
    'baseline'
    """
    from pssc_sim.scenario.definition import Scenario

    layers: list[Scenario] = []
    for file, document in scenario_chain(path):
        arguments = scenario_arguments(document, where_in(str(file)))
        arguments.pop("extends", None)
        arguments.setdefault("name", file.stem)
        layers.append(Scenario(**arguments, folder=file.parent, source=str(file)))
    scenario = layers[0]
    for layer in layers[1:]:
        scenario = scenario.layered(layer)
    if scenario.model is None:
        raise ScenarioError(f"{path}: model: no model is given (got nothing). Add 'model: "
                            "<folder under models/>' here or in the scenario it extends")
    model = scenario.load_model()
    for layer in layers:
        layer.check(model)
    return scenario


def check_scenario_names(scenario: Scenario, model: Model) -> None:
    """Raise unless every name ``scenario`` uses exists in ``model`` (with a did-you-mean)."""
    from pssc_sim.compile.compiler import default_outputs

    where = where_in(scenario.source)
    parameters = model.parameter_names
    instances = model_instances(model)
    for key in scenario.mechanisms:
        if key not in instances:
            hint = did_you_mean(key, instances) or (
                f" Instances: {', '.join(instances)}." if instances else
                " The model includes no mechanisms.")
            raise ScenarioError(f"{where(f'mechanisms.{key}')}: unknown mechanism instance "
                                f"{shown(key)} in {model.source or model.name}.{hint} Name an "
                                "instance under the model's include:")
    used = [(f"set.{key}", key) for key in scenario.set]
    used += [(f"interventions[{i}]", item.parameter)
             for i, item in enumerate(scenario.interventions)]
    if scenario.uncertainty is not None and scenario.uncertainty.parameters:
        used += [(f"uncertainty.parameters.{key}", key) for key in scenario.uncertainty.parameters]
    for path, key in used:
        if model.parameter_rows(key) is None:
            kind = f"a {_kind(model, key)}, not a parameter" if key in model else "unknown"
            raise ScenarioError(f"{where(path)}: {shown(key)} is {kind} in "
                                f"{model.source or model.name}.{did_you_mean(key, parameters)}"
                                " Name a parameter of the model")
    check_targets(scenario.targets, model, scenario_time(scenario, model), where(""))
    lookups = {lookup.name for lookup in model.lookups}
    variables = {o.name for o in default_outputs(model)} | {
        item.name for item in model.declarations()
        if "__" not in item.name and item.name not in lookups}
    for i, key in enumerate(scenario.outputs or ()):
        if key not in variables:
            raise ScenarioError(f"{where(f'outputs[{i}]')}: unknown variable {shown(key)} in "
                                f"{model.source or model.name}.{did_you_mean(key, variables)}"
                                " Name a stock, flow, auxiliary or parameter")


def scenario_time(scenario: Scenario, model: Model) -> TimeSpec:
    """The time block ``scenario`` runs over: the model's, with the scenario's overrides."""
    try:
        time = model.time
        values = {key: float(scenario.time.get(key, getattr(time, key)))
                  for key in ("start", "stop", "dt", "save_every")}
        return TimeSpec(**values, units=time.units)
    except ModelError as exc:
        raise ScenarioError(f"{where_in(scenario.source)('time')}: {exc}") from None


def _kind(model: Model, key: str) -> str:
    return type(model[key]).__name__.lower()
