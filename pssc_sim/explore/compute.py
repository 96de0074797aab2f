"""What the explorer computes, apart from any widget: control values become a scenario, the
scenario becomes runs (the run, the same run without targets, the scorecard), and the runs become
the columns the page plots. Every function here is pure, so it is tested without a browser.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from pssc_sim.explore.controls import CULTURE, UNCERTAINTY, Control, with_target
from pssc_sim.ir.model import Model
from pssc_sim.scenario.definition import Scenario
from pssc_sim.scenario.reader import resolve_model
from pssc_sim.scenario.runner import ScenarioResult, distributions, run
from pssc_sim.scenario.uncertainty import Uncertainty
from pssc_sim.scorecard.scoring import Scorecard, needed_columns, scorecard

__all__ = [
    "ENSEMBLE_MEMBERS",
    "ENSEMBLE_SEED",
    "Runs",
    "compute",
    "ledger_columns",
    "output_columns",
    "scenario_for",
    "scenario_yaml",
]

#: Members of the ensemble the uncertainty switch runs (one vectorised call).
ENSEMBLE_MEMBERS = 200
#: The seed of that ensemble when the scenario gives none (fixed, so a saved scenario repeats it).
ENSEMBLE_SEED = 20_260_101
#: Quantiles drawn as the fan of an ensemble (the band) around its median.
FAN = (0.05, 0.95)


@dataclass(frozen=True, slots=True, eq=False)
class Runs:
    """What one setting of the controls gives: the scenario, its run, the same scenario without
    targets (one member; ``None`` when there are no targets) and the scorecard."""

    scenario: Scenario
    result: ScenarioResult
    reference: ScenarioResult | None
    card: Scorecard


def changed_parameters(
    controls: Sequence[Control], state: Mapping[str, float], model: Model
) -> dict[str, float]:
    """The parameters (and mechanism switches) whose control differs from the scenario's."""
    names = set(model.parameter_names)
    found = {}
    for control in controls:
        name = control.key.removeprefix("set.")
        if name in names and control.key in state and state[control.key] != control.default:
            found[name] = state[control.key]
    return found


def ensemble(scenario: Scenario, model: Model, fixed: Mapping[str, float]) -> Uncertainty | None:
    """The uncertainty the switch runs: the scenario's own (or every parameter with a range or
    distribution), less the parameters a control fixed, with :data:`ENSEMBLE_MEMBERS` members
    and a fixed seed; ``None`` when nothing is left to sample."""
    given = scenario.uncertainty or Uncertainty()
    sampled = distributions(Uncertainty(parameters=given.parameters), model)
    chosen = {name: dist for name, dist in sampled.items() if name not in fixed}
    if not chosen:
        return None
    own = dict(given.parameters or {})
    parameters = (
        {name: own.get(name) for name in chosen} if len(chosen) < len(sampled) else given.parameters
    )
    return Uncertainty(
        members=ENSEMBLE_MEMBERS,
        sampling=given.sampling,
        seed=given.seed if given.seed is not None else ENSEMBLE_SEED,
        parameters=parameters,
    )


def scenario_for(
    base: Scenario,
    controls: Sequence[Control],
    state: Mapping[str, float],
    model: Model | None = None,
) -> Scenario:
    """``base`` with the control values in ``state``: parameters set, culture, targets,
    interventions switched on or off, and the ensemble on or off.

    Examples
    --------
    >>> from pathlib import Path
    >>> import pssc_sim
    >>> from pssc_sim.explore.controls import controls_for
    >>> base = Scenario(model=Path(pssc_sim.__file__).parent.parent / "models" / "teacup")
    >>> controls = controls_for(base)
    >>> scenario_for(base, controls, {"characteristic_time": 12.5}).set
    mappingproxy({'characteristic_time': 12.5})
    """
    model = model if model is not None else base.load_model()
    fixed = changed_parameters(controls, state, model)
    scenario = base.with_set(**fixed) if fixed else base
    keys = {c.key for c in controls}
    if (
        CULTURE in keys
        and CULTURE in state
        and (base.culture is not None or state[CULTURE] != _default(controls, CULTURE))
    ):
        scenario = scenario.with_culture(state[CULTURE])
    if scenario.targets:
        scenario = _changed(
            scenario, targets=tuple(with_target(t, state) for t in scenario.targets)
        )
    kept = tuple(
        item
        for i, item in enumerate(scenario.interventions)
        if state.get(f"intervention.{i}", 1.0) >= 0.5
    )
    if len(kept) != len(scenario.interventions):
        scenario = _changed(scenario, interventions=kept)
    if UNCERTAINTY in keys:
        wanted = state.get(UNCERTAINTY, _default(controls, UNCERTAINTY)) >= 0.5
        chosen = ensemble(base, model, fixed) if wanted else None
        scenario = _changed(scenario, uncertainty=chosen)
    return scenario.with_name(
        f"{base.label}-explored" if state_differs(controls, state) else base.label
    )


def _changed(scenario: Scenario, **changes: Any) -> Scenario:
    """A copy of ``scenario`` with field values already parsed (targets, interventions)."""
    values = {field.name: getattr(scenario, field.name) for field in fields(scenario)}
    return Scenario.from_values({**values, **changes})


def _default(controls: Sequence[Control], key: str) -> float:
    return next(c.default for c in controls if c.key == key)


def state_differs(controls: Sequence[Control], state: Mapping[str, float]) -> bool:
    """Whether any control in ``state`` differs from the scenario's value."""
    return any(c.key in state and state[c.key] != c.default for c in controls)


def recorded(model: Model, scenario: Scenario, outputs: Sequence[str]) -> list[str]:
    """The variables a run records for the page: the outputs, both ledgers of every measure and
    what the scorecard reads."""
    return list(dict.fromkeys([*outputs, *needed_columns(model, scenario.targets)]))


def compute(scenario: Scenario, outputs: Sequence[str] = (), backend: str = "auto") -> Runs:
    """Run ``scenario`` (an ensemble in one call when it has uncertainty), the same scenario
    without targets as one member, and its scorecard against that reference; ``backend`` is
    :func:`~pssc_sim.simulate`'s."""
    model = scenario.load_model()
    record = recorded(model, scenario, outputs)
    result = run(scenario, record=record, backend=backend)
    reference = None
    if scenario.targets:
        plain = (
            scenario.without_targets()
            .with_uncertainty()
            .with_name(f"{scenario.label} without targets")
        )
        reference = run(plain, record=record, backend=backend)
    return Runs(scenario, result, reference, scorecard(result, reference))


def band(result: ScenarioResult, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The median of ``name`` over time and the band of :data:`FAN` (equal for one member)."""
    results = result.results
    column = results.values[:, results.index(name), :]
    low, mid, high = np.quantile(column, [FAN[0], 0.5, FAN[1]], axis=1)
    return mid, low, high


def output_columns(runs: Runs, names: Sequence[str]) -> dict[str, list[float]]:
    """The columns of the outputs chart: ``t``, then per output its median ``name``, its fan
    ``name:low`` and ``name:high``, and the run without targets ``name:reference``."""
    results = runs.result.results
    data: dict[str, list[float]] = {"t": results.times.tolist()}
    for name in names:
        if name not in results.names:
            continue
        mid, low, high = band(runs.result, name)
        data[name], data[f"{name}:low"], data[f"{name}:high"] = (
            mid.tolist(),
            low.tolist(),
            high.tolist(),
        )
        reference = runs.reference if runs.reference is not None else runs.result
        data[f"{name}:reference"] = band(reference, name)[0].tolist()
    return data


def ledger_columns(runs: Runs) -> dict[str, list[float]]:
    """The columns of the ledger charts: ``t``, then per measure its reported and true values
    (medians across members) as ``measure:reported`` and ``measure:true``."""
    results = runs.result.results
    data: dict[str, list[float]] = {"t": results.times.tolist()}
    for measure in runs.result.model.measures:
        data[f"{measure.name}:reported"] = band(runs.result, measure.reported_column)[0].tolist()
        data[f"{measure.name}:true"] = band(runs.result, measure.true_column)[0].tolist()
    return data


def model_path(scenario: Scenario) -> str:
    """The absolute path of the scenario's model file, so a saved scenario runs from anywhere."""
    if isinstance(scenario.model, Model):
        return scenario.model.source or scenario.model.name
    path = resolve_model(scenario.model or "", scenario.folder).resolve()
    return str(path / "model.yaml" if path.is_dir() else path)


def scenario_document(scenario: Scenario, note: str = "") -> dict[str, Any]:
    """The scenario as a scenario file (no ``extends``: every layer is written out), its model
    named by absolute path."""
    document = scenario.to_document()
    head = {
        "scenario": document.pop("scenario", None) or scenario.label,
        "description": note or document.get("description", ""),
        "model": model_path(scenario),
    }
    rest = {k: v for k, v in document.items() if k not in head}
    return {k: v for k, v in head.items() if v} | rest


def scenario_yaml(scenario: Scenario, note: str = "") -> str:
    """:func:`scenario_document` as YAML text: what "save as scenario" downloads; ``pssc run``
    on it repeats the explorer's run exactly (numbers are written in full)."""
    import yaml

    header = "# Saved from pssc explore; run it with: pssc run FILE\n"
    return header + yaml.safe_dump(
        scenario_document(scenario, note), sort_keys=False, allow_unicode=True, width=100
    )
