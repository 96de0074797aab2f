"""What the explorer computes, apart from any widget: control values become a scenario, the
scenario becomes runs (the run, the same run without targets, the scorecard), and the runs become
the columns the page plots. Every function here is pure, so it is tested without a browser.

Runs are kept, for every session of a server, in a cache keyed by everything that decides them
(:class:`RunCache`): the model object, the scenario as written out, the variables recorded and the
back end. A slider moved back, a setting another session tried already and a target control (which
leaves the run without targets as it was) cost no run.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from pssc_sim.compile.compiled import CompiledModel
from pssc_sim.explore.controls import CULTURE, UNCERTAINTY, Control, with_target
from pssc_sim.integrate.simulate import compiled_for
from pssc_sim.ir.model import Model
from pssc_sim.scenario.definition import Scenario
from pssc_sim.scenario.interventions import apply_interventions
from pssc_sim.scenario.reader import resolve_model
from pssc_sim.scenario.runner import ScenarioResult, distributions, run
from pssc_sim.scenario.uncertainty import Uncertainty
from pssc_sim.scorecard.scoring import Scorecard, needed_columns, scorecard

__all__ = [
    "ENSEMBLE_MEMBERS",
    "ENSEMBLE_SEED",
    "RUNS",
    "RunCache",
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
    sampled = distributions(Uncertainty(parameters=given.parameters, joint=given.joint), model)
    chosen = {name: dist for name, dist in sampled.items() if name not in fixed}
    # a joint block a control touches is held at the values the controls and model give
    joint = tuple(b for b in given.joint or () if not set(b.parameters) & set(fixed))
    if not chosen and not joint:
        return None
    own = dict(given.parameters or {})
    dropped = len(chosen) < len(sampled) or len(joint) < len(given.joint or ())
    parameters = {name: own.get(name) for name in chosen} if dropped else given.parameters
    return Uncertainty(
        members=ENSEMBLE_MEMBERS,
        sampling=given.sampling,
        seed=given.seed if given.seed is not None else ENSEMBLE_SEED,
        parameters=parameters,
        joint=joint or None,
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


class RunCache:
    """The most recently used runs of a process, shared by its sessions, within a budget of
    bytes (the saved values of each run) and of entries; safe to use from several threads.

    Only what a key decides completely is kept: :func:`compute` keys a run by the model object
    (a model file edited on disk is read again as a new object), the scenario as written out
    (every value that changes a run, the ensemble's seed among them), the recorded variables
    and the back end, and keeps no ensemble drawn without a seed.
    """

    def __init__(self, max_bytes: int = 256 * 2**20, max_entries: int = 512) -> None:
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Any:
        """The value kept under ``key`` (now the most recently used), or ``None``."""
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                self.misses += 1
                return None
            self.hits += 1
            self._entries.move_to_end(key)
            return found[0]

    def put(self, key: Hashable, value: Any, size: int) -> None:
        """Keep ``value`` under ``key``, dropping the least recently used beyond the budgets (a
        value larger than the whole budget is not kept)."""
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._entries[key] = (value, size)
            self._bytes += size
            while self._bytes > self.max_bytes or len(self._entries) > self.max_entries:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._bytes -= dropped

    def clear(self) -> None:
        """Forget every run."""
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)


#: The runs of this process, for every session of the explorer.
RUNS = RunCache()


def run_key(
    scenario: Scenario, model: Model, record: Sequence[str], backend: str
) -> Hashable | None:
    """What decides a run of ``scenario``: its model object, the scenario as written out, the
    recorded variables and the back end; ``None`` for an ensemble drawn without a seed (each
    run of it differs)."""
    if scenario.uncertainty is not None and scenario.uncertainty.seed is None:
        return None
    return (model, repr(scenario.to_document()), tuple(record), backend)


def only(result: ScenarioResult, names: Sequence[str]) -> ScenarioResult:
    """``result`` with the recorded variables ``names`` alone (those it has), in its order."""
    results = result.results
    kept = [i for i, name in enumerate(results.names) if name in set(names)]
    if len(kept) == len(results.names):
        return result
    smaller = replace(
        results,
        names=tuple(results.names[i] for i in kept),
        values=np.ascontiguousarray(results.values[:, kept, :]),
    )
    return replace(result, results=smaller)


def cached_run(
    scenario: Scenario,
    model: Model,
    record: Sequence[str],
    backend: str,
    key: Hashable | None = None,
) -> Any:
    """:func:`~pssc_sim.scenario.runner.run` of ``scenario``, from :data:`RUNS` when it ran
    before with the same key (``key``, else :func:`run_key`).

    An ensemble keeps only ``record`` (what the page draws and the scorecard reads): the run
    records the model's outputs as well, so that one compiled loop serves every choice of
    outputs and both modes, but kept whole an ensemble of a large model fills the cache (92
    variables by 1,096 times by 200 members are 154 MiB); kept small, a setting moved back to
    is still there."""
    key = key if key is not None else run_key(scenario, model, record, backend)
    found = RUNS.get(("run", key)) if key is not None else None
    if found is not None:
        return found
    result = run(scenario, record=record, backend=backend)
    if result.results.n_members > 1:
        result = only(result, record)
    if key is not None:
        RUNS.put(("run", key), result, result.results.values.nbytes)
    return result


def compiled_run(scenario: Scenario, outputs: Sequence[str] = ()) -> CompiledModel:
    """The compiled model :func:`compute` runs ``scenario`` with, showing ``outputs``: the model
    with the scenario's interventions, recording what
    :func:`~pssc_sim.scenario.runner.run` records (the scenario's outputs, else the model's,
    then the recorded variables)."""
    base = scenario.load_model()
    model = apply_interventions(base, scenario.interventions)
    record = recorded(base, scenario, outputs)
    chosen = (
        scenario.outputs
        if scenario.outputs is not None
        else [name for name, _ in model.default_outputs()]
    )
    return compiled_for(model, tuple(dict.fromkeys([*chosen, *record])))


def compute(scenario: Scenario, outputs: Sequence[str] = (), backend: str = "auto") -> Runs:
    """Run ``scenario`` (an ensemble in one call when it has uncertainty), the same scenario
    without targets as one member, and its scorecard against that reference; ``backend`` is
    :func:`~pssc_sim.simulate`'s.

    Both runs come from :data:`RUNS` when they ran before: the run without targets depends on
    every control but the targets' and the ensemble switch, so moving a target's level, date
    or severity runs the scenario alone. So does the scorecard, which the two runs decide (a
    slider moved back scores nothing again)."""
    model = scenario.load_model()
    record = recorded(model, scenario, outputs)
    key = run_key(scenario, model, record, backend)
    result = cached_run(scenario, model, record, backend, key)
    reference, plain_key = None, None
    if scenario.targets:
        plain = (
            scenario.without_targets()
            .with_uncertainty()
            .with_name(f"{scenario.label} without targets")
        )
        plain_key = run_key(plain, model, record, backend)
        reference = cached_run(plain, model, record, backend, plain_key)
    card_key = None if key is None else ("card", key, plain_key)
    card = RUNS.get(card_key) if card_key is not None else None
    if card is None:
        card = scorecard(result, reference)
        if card_key is not None:
            RUNS.put(card_key, card, 0)  # small beside the runs it scores
    return Runs(scenario, result, reference, card)


def band(result: ScenarioResult, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The median of ``name`` over time and the band of :data:`FAN` (equal for one member)."""
    results = result.results
    column = results.values[:, results.index(name), :]
    if column.shape[1] == 1:  # one member: its own values, without sorting anything
        only = column[:, 0].copy()
        return only, only, only
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
