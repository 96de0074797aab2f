"""Reading scenario files: YAML -> the checked arguments of a :class:`~pssc_sim.scenario.Scenario`.

Each value goes through its parser in :mod:`pssc_sim.scenario.fields`; this module reads the
files (YAML tags that would build objects are refused), follows ``extends`` chains, finds the
model a scenario names and checks a scenario's names against it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pssc_sim.errors import ModelError, did_you_mean, shown
from pssc_sim.ir.model import Model, TimeSpec
from pssc_sim.parse.yaml_reader import read_yaml
from pssc_sim.scenario.fields import (
    NO_CODE,
    Where,
    check_keys,
    model_instances,
    parse_compute,
    parse_culture,
    parse_interventions,
    parse_mechanisms,
    parse_method,
    parse_outputs,
    parse_set,
    parse_targets,
    parse_text,
    parse_time,
    scenario_name,
    where_in,
)
from pssc_sim.scenario.schema import TOP_KEYS, ScenarioError
from pssc_sim.scenario.targets import check_targets
from pssc_sim.scenario.uncertainty import parse_uncertainty

if TYPE_CHECKING:
    from pssc_sim.scenario.definition import Scenario

_MODEL_SUFFIXES = (".yaml", ".yml", ".mdl", ".xmile", ".xml", ".stmx", ".itmx")
_MODEL_SECTIONS = ("stocks", "flows", "auxiliaries", "parameters", "lookups", "measures")


_PARSERS: Mapping[str, Callable[[Any, Where], Any]] = {
    "time": parse_time,
    "method": parse_method,
    "set": parse_set,
    "interventions": parse_interventions,
    "uncertainty": parse_uncertainty,
    "outputs": parse_outputs,
    "targets": parse_targets,
    "culture": parse_culture,
    "mechanisms": parse_mechanisms,
    "compute": parse_compute,
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
            arguments[key] = parse_text(value, where(key))
    return arguments


# -- files ----------------------------------------------------------------------------------


def read_document(path: Path) -> Any:
    """Read a scenario's YAML document safely; tags that would build objects are refused."""
    return read_yaml(path, error=ScenarioError, no_code=NO_CODE)


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
        raise ScenarioError(
            f"{path}: no scenario file there (got {shown(str(path))}). Give the "
            "path "
            "of a scenario .yaml file"
        )
    chain: list[tuple[Path, Mapping[str, Any]]] = []
    seen: list[Path] = []
    while True:
        resolved = file.resolve()
        if resolved in seen:
            members = [p.stem for p in seen[seen.index(resolved) :]] + [resolved.stem]
            raise ScenarioError(
                f"{chain[-1][0]}: extends: cycle {' -> '.join(members)} (got "
                f"{len(members) - 1} scenarios extending each other). Remove "
                "'extends' from one of them"
            )
        seen.append(resolved)
        document = read_document(file)
        if not isinstance(document, Mapping):
            raise ScenarioError(
                f"{file}: a scenario file must be a YAML mapping (got "
                f"{type(document).__name__}). Start with 'scenario: name' and "
                "'model: folder'"
            )
        chain.append((file, document))
        if document.get("extends") is None:
            return chain[::-1]
        file = extended_file(document["extends"], file)


def extended_file(reference: Any, file: Path) -> Path:
    """The scenario file ``reference`` names, in the folder of ``file``."""
    text = parse_text(reference, f"{file}: extends")
    folder = file.parent
    for candidate in (folder / text, folder / f"{text}.yaml", folder / f"{text}.yml"):
        if candidate.is_file():
            return candidate
    names = sorted(p.stem for p in folder.glob("*.y*ml"))
    raise ScenarioError(
        f"{file}: extends: no scenario {shown(text)} in {folder} (got "
        f"{shown(text)})."
        f"{did_you_mean(text, names) or ' Name a scenario file of that folder.'}"
    )


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
        raise ScenarioError(
            f"{where}: no model file {shown(text)} (got {shown(text)}). Give a "
            "path "
            f"relative to {bases[0]}"
        )
    roots = [b / "models" for base in bases for b in (base, *base.resolve().parents)]
    for root in roots:
        if (root / text / "model.yaml").is_file():
            return root / text
    known = sorted({p.parent.name for r in roots if r.is_dir() for p in r.glob("*/model.yaml")})
    hint = did_you_mean(text, known) or (
        f" Models found: {', '.join(known)}." if known else " No models/ folder was found."
    )
    raise ScenarioError(
        f"{where}: unknown model {shown(text)} (got {shown(text)}).{hint} Name "
        "a folder "
        "under models/ or give a path to a .yaml, .mdl or .xmile file"
    )


def check_scenario_names(scenario: Scenario, model: Model) -> None:
    """Raise unless every name ``scenario`` uses exists in ``model`` (with a did-you-mean)."""
    where = where_in(scenario.source)
    parameters = model.parameter_names
    instances = model_instances(model)
    for key in scenario.mechanisms:
        if key not in instances:
            hint = did_you_mean(key, instances) or (
                f" Instances: {', '.join(instances)}."
                if instances
                else " The model includes no mechanisms."
            )
            raise ScenarioError(
                f"{where(f'mechanisms.{key}')}: unknown mechanism instance "
                f"{shown(key)} in {model.source or model.name}.{hint} Name an "
                "instance under the model's include:"
            )
    used = [(f"set.{key}", key) for key in scenario.set]
    used += [
        (f"interventions[{i}]", item.parameter) for i, item in enumerate(scenario.interventions)
    ]
    if scenario.uncertainty is not None and scenario.uncertainty.parameters:
        used += [(f"uncertainty.parameters.{key}", key) for key in scenario.uncertainty.parameters]
    if scenario.uncertainty is not None:
        used += [
            (f"uncertainty.joint[{i}].parameters", key)
            for i, block in enumerate(scenario.uncertainty.joint or ())
            for key in block.parameters
        ]
    for path, key in used:
        if model.parameter_rows(key) is None:
            kind = f"a {_kind(model, key)}, not a parameter" if key in model else "unknown"
            raise ScenarioError(
                f"{where(path)}: {shown(key)} is {kind} in "
                f"{model.source or model.name}.{did_you_mean(key, parameters)}"
                " Name a parameter of the model"
            )
    check_targets(scenario.targets, model, scenario_time(scenario, model), where(""))
    if scenario.culture is not None and "CULTURE" not in model.parameter_names:
        raise ScenarioError(
            f"{where('culture')}: the model never reads CULTURE, so the culture "
            f"would change nothing (got culture: {scenario.culture:g}). Remove "
            f"culture: or read CULTURE in an equation of "
            f"{model.source or model.name}"
        )
    lookups = {lookup.name for lookup in model.lookups}
    variables = {name for name, _ in model.default_outputs()} | {
        item.name
        for item in model.declarations()
        if not getattr(item, "hidden", False) and item.name not in lookups
    }
    for i, key in enumerate(scenario.outputs or ()):
        if key not in variables:
            raise ScenarioError(
                f"{where(f'outputs[{i}]')}: unknown variable {shown(key)} in "
                f"{model.source or model.name}.{did_you_mean(key, variables)}"
                " Name a stock, flow, auxiliary or parameter"
            )


def scenario_time(scenario: Scenario, model: Model) -> TimeSpec:
    """The time block ``scenario`` runs over: the model's, with the scenario's overrides."""
    time = model.time
    if time.steps and scenario.time:
        raise ScenarioError(
            f"{where_in(scenario.source)('time')}: the model lists its time steps (they change "
            f"during the run), so its time cannot be overridden (got {dict(scenario.time)}). "
            "Remove the scenario's time block"
        )
    if time.steps:
        return time
    try:
        start, stop, dt, save_every = (
            float(scenario.time.get(key, getattr(time, key)))
            for key in ("start", "stop", "dt", "save_every")
        )
        return TimeSpec(start, stop, dt, save_every, units=time.units, origin=time.origin)
    except ModelError as exc:
        raise ScenarioError(f"{where_in(scenario.source)('time')}: {exc}") from None


def _kind(model: Model, key: str) -> str:
    return type(model[key]).__name__.lower()
