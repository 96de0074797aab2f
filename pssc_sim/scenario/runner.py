"""Running a scenario: interventions applied, overrides and samples mapped onto parameters, and
the whole run (or ensemble) done in one vectorised :func:`~pssc_sim.simulate` call."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pssc_sim.integrate import budget
from pssc_sim.integrate.progress import Progress
from pssc_sim.integrate.simulate import (
    check_options,
    compiled_for,
    make_grid,
    plan_run,
    simulate,
)
from pssc_sim.ir.model import Model, Parameter
from pssc_sim.results import Results
from pssc_sim.scenario.fields import parse_distribution, where_in
from pssc_sim.scenario.interventions import (
    Intervention,
    apply_interventions,
    base_name,
    warn_after_stop,
)
from pssc_sim.scenario.reader import scenario_time
from pssc_sim.scenario.sampling import Distribution, SampledMembers, sample
from pssc_sim.scenario.schema import ScenarioError
from pssc_sim.scenario.uncertainty import DEFAULT_SAMPLING

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

    from pssc_sim.integrate.cluster import Reducer, Summary
    from pssc_sim.scenario.definition import Scenario
    from pssc_sim.scenario.uncertainty import Uncertainty
    from pssc_sim.scorecard.scoring import Scorecard

#: Quantiles reported for ensembles (5/25/50/75/95 %).
DEFAULT_QUANTILES: tuple[float, ...] = (0.05, 0.25, 0.5, 0.75, 0.95)


@dataclass(frozen=True, slots=True, eq=False)
class ScenarioResult:
    """A scenario with its results.

    Attributes
    ----------
    scenario
        The scenario that ran (extends already layered).
    results
        The :class:`~pssc_sim.Results`: time x variables x members.
    model
        The model as run, with interventions applied.
    samples
        The sampled value of each uncertain parameter, one per member (empty for a single run).
    seed
        The seed of the ensemble (drawn at random and recorded when the scenario gives none).
    """

    scenario: Scenario
    results: Results
    model: Model
    samples: Mapping[str, np.ndarray]
    seed: int | None

    @property
    def name(self) -> str:
        """The scenario's label."""
        return self.scenario.label

    @property
    def is_ensemble(self) -> bool:
        """Whether the scenario ran as an ensemble."""
        return self.scenario.is_ensemble

    def __getitem__(self, name: str) -> pd.Series | pd.DataFrame:
        return self.results[name]

    def quantiles(self, q: Sequence[float] = DEFAULT_QUANTILES) -> pd.DataFrame:
        """Quantiles (and the mean) across members, long format: ``time, variable, p5, ...``."""
        from pssc_sim.output import ensemble_table

        return ensemble_table(self.results, q)

    def table(self) -> pd.DataFrame:
        """The table written to ``results.csv``: wide for one run, long quantiles for ensembles."""
        from pssc_sim.output import results_table

        return self.quantiles() if self.results.is_ensemble else results_table(self.results)

    def plot(self, names: Sequence[str] | None = None, ax: Axes | None = None) -> Axes:
        """Plot ``names`` (default all recorded) on one Axes: lines, or fans for an ensemble."""
        from pssc_sim.plot import plot_stocks

        return plot_stocks(self.results, names, ax=ax)

    def scorecard(self, against: ScenarioResult | None = None) -> Scorecard:
        """The PSS scorecard (see :mod:`pssc_sim.scorecard.scoring`): measures by perspective,
        targets met or not, reported-vs-true gaps, probabilities for an ensemble, and unintended
        consequences against ``against`` (default: this scenario without its targets)."""
        from pssc_sim.scorecard.scoring import scorecard

        return scorecard(self, against)

    def summary(self) -> str:
        """A plain-text description of the run and a table of every recorded variable."""
        return "\n".join([*describe(self), "", *variable_table(self.results)])


def describe(result: ScenarioResult | ScenarioSummary) -> list[str]:
    """Lines saying what ran: scenario, model, method, time, overrides, interventions, samples."""
    scenario = result.scenario
    if isinstance(result, ScenarioResult):
        method, times, members = (
            result.results.method,
            result.results.times,
            result.results.n_members,
        )
    else:
        method, times, members = result.method, result.summary.times, result.summary.members
    units = f" {result.model.time.units}" if result.model.time.units else ""
    lines = [
        f"scenario {scenario.label} (model {result.model.title or result.model.name}): "
        f"method {method}, time {times[0]:g} to {times[-1]:g}"
        f"{units}, " + (f"{members} members" if result.is_ensemble else "single run")
    ]
    if scenario.description:
        lines.append(" ".join(scenario.description.split()))
    if scenario.set:
        lines.append("set: " + ", ".join(f"{k} = {v:g}" for k, v in scenario.set.items()))
    lines += [f"intervention: {describe_intervention(i)}" for i in scenario.interventions]
    if scenario.culture is not None:
        lines.append(f"culture: {scenario.culture:g} (0 learning .. 1 blame)")
    lines += [
        "target: "
        + " ".join(
            f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in t.to_document().items()
        )
        for t in scenario.targets
    ]
    if result.is_ensemble and scenario.uncertainty is not None:
        sampling = scenario.uncertainty.sampling or "latin-hypercube"
        lines.append(
            f"ensemble: {sampling} sampling, seed {result.seed} (write seed: "
            f"{result.seed} to repeat it)"
        )
        spread = {
            key: (float(values.min()), float(values.max()), float(np.median(values)))
            for key, values in result.samples.items()
        }
        if isinstance(result, ScenarioSummary) and not result.samples:
            spread = dict(result.sampled)
        for key, (low, high, median) in spread.items():
            lines.append(f"sampled: {key} from {low:.4g} to {high:.4g} (median {median:.4g})")
    return lines


def describe_intervention(intervention: Intervention) -> str:
    """``{"step": "k", "by": 1, "at": 5}`` as ``step k by 1 at 5``.

    >>> from pssc_sim.scenario.interventions import Ramp
    >>> describe_intervention(Ramp("k", 2.0, 1.0, 3.0))
    'ramp k to 2 from 1 until 3'
    """
    words = []
    for key, value in intervention.to_document().items():
        text = (
            value
            if isinstance(value, str)
            else ", ".join(f"({t:g}, {v:g})" for t, v in value)
            if isinstance(value, list)
            else f"{value:g}"
        )
        words.append(f"{key} {text}")
    return " ".join(words)


def variable_table(results: Results) -> list[str]:
    """Rows of initial/final/min/max (one run) or final quantiles and mean (ensemble)."""
    width = max([len("variable"), *(len(n) for n in results.names)])
    if results.is_ensemble:
        final = results.values[-1]  # (n_vars, n_members)
        head = f"{'variable':<{width}}  " + " ".join(
            f"{c:>12}" for c in ("final p5", "final p50", "final p95", "final mean")
        )
        cells = np.column_stack(
            [*np.quantile(final, [0.05, 0.5, 0.95], axis=1), final.mean(axis=1)]
        )
    else:
        column = results.values[:, :, 0]
        head = f"{'variable':<{width}}  " + " ".join(
            f"{c:>12}" for c in ("initial", "final", "min", "max")
        )
        cells = np.column_stack([column[0], column[-1], column.min(axis=0), column.max(axis=0)])
    rows = [head]
    for name, row in zip(results.names, cells, strict=True):
        rows.append(f"{name:<{width}}  " + " ".join(f"{v:>12.6g}" for v in row))
    return rows


#: The final quantiles :func:`variable_table` shows of an ensemble.
FINAL_QUANTILES = (0.05, 0.5, 0.95)


def summary_table(summary: Summary) -> list[str]:
    """:func:`variable_table` of an ensemble reduced on a cluster: the final quantiles and
    mean of each recorded variable, from its :class:`~pssc_sim.integrate.cluster.Summary`
    (which must hold the levels of :data:`FINAL_QUANTILES`)."""
    width = max([len("variable"), *(len(n) for n in summary.names)])
    head = f"{'variable':<{width}}  " + " ".join(
        f"{c:>12}" for c in ("final p5", "final p50", "final p95", "final mean")
    )
    at = [summary.levels.index(q) for q in FINAL_QUANTILES]
    cells = np.column_stack([*summary.quantiles[at, -1, :], summary.mean[-1]])
    rows = [head]
    for name, row in zip(summary.names, cells, strict=True):
        rows.append(f"{name:<{width}}  " + " ".join(f"{v:>12.6g}" for v in row))
    return rows


def distributions(uncertainty: Uncertainty, model: Model) -> dict[str, Distribution]:
    """The distribution of every sampled parameter: given in the scenario, or else the model's
    ``distribution``, or else uniform over the model's ``range``. The parameters drawn jointly
    are not among them (see :attr:`Uncertainty.joint`)."""
    chosen = uncertainty.parameters
    if chosen is None:
        joint = set(uncertainty.joint_names)
        names = [
            p.name for p in model.parameters if (p.distribution or p.range) and p.name not in joint
        ]
        if not names and not joint:
            raise ScenarioError(
                f"uncertainty.parameters: nothing to sample in "
                f"{model.source or model.name} (got no parameters with a range or "
                "distribution). List parameters with distributions"
            )
        chosen = dict.fromkeys(names)
    by_name = {p.name: p for p in model.parameters}
    return {
        name: given if given is not None else model_distribution(model, by_name[name])
        for name, given in chosen.items()
    }


def model_distribution(model: Model, parameter: Parameter) -> Distribution:
    """The distribution a model file gives ``parameter``: its ``distribution``, or uniform over
    its ``range``."""
    where = where_in(model.source or model.name)(f"parameters.{parameter.name}")
    if parameter.distribution:
        found = parse_distribution(dict(parameter.distribution), f"{where}.distribution")
        if found is not None:
            return found
    if parameter.range is not None:
        low, high = parameter.range
        try:
            return Distribution("uniform", {"low": low, "high": high})
        except ScenarioError as exc:
            raise ScenarioError(f"{where}.range: {exc}") from None
    raise ScenarioError(
        f"uncertainty.parameters.{parameter.name}: no distribution given, and "
        f"{where} has no range or distribution (got nothing). Give one, e.g. "
        "{distribution: uniform, low: 1, high: 2}"
    )


def run(
    scenario: Scenario,
    *,
    chunk: int = 4096,
    record: Sequence[str] = (),
    progress: Progress | None = None,
    max_memory: int | None = None,
    scheduler: Any = None,
    backend: str = "auto",
) -> ScenarioResult:
    """Run ``scenario``; an ensemble runs as one vectorised :func:`simulate` call.

    ``record`` names variables to record besides the scenario's outputs (hidden ones too, such
    as the threshold shares a scorecard reads). ``progress`` and ``scheduler`` (a Dask cluster,
    see :mod:`pssc_sim.integrate.distributed`; ``None``, the Dask client current in this
    process if there is one; ``False``, this process) are passed to :func:`simulate`; the
    members are drawn here, before anything runs, so an ensemble is the same wherever it runs.
    ``max_memory`` is the bytes the run may use (default: a safe share of the machine): the run
    is sized before any member is sampled, and refused with
    :class:`~pssc_sim.integrate.budget.ResourceLimitError` if it cannot fit (see
    :mod:`pssc_sim.integrate.budget`). ``backend`` is :func:`simulate`'s.
    """
    ready = _prepare(scenario, chunk, record, max_memory)
    results = simulate(
        ready.model,
        ready.params,
        method=ready.method,
        time=ready.time,
        outputs=ready.outputs,
        chunk=ready.chunk,
        progress=progress,
        max_memory=ready.limit,
        scheduler=scheduler,
        backend=backend,
    )
    return ScenarioResult(scenario, results, ready.model, ready.samples, ready.seed)


@dataclass(frozen=True, slots=True, eq=False)
class ScenarioSummary:
    """An ensemble scenario run on a cluster and reduced there: its quantiles and means
    (``summary``, at :data:`DEFAULT_QUANTILES`), never its members; otherwise as
    :class:`ScenarioResult`. When the workers drew the members, ``samples`` is empty and
    ``sampled`` holds the smallest, largest and median value of each sampled parameter."""

    scenario: Scenario
    summary: Summary
    model: Model
    samples: Mapping[str, np.ndarray]
    seed: int | None
    method: str
    sampled: Mapping[str, tuple[float, float, float]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The scenario's label."""
        return self.scenario.label

    @property
    def is_ensemble(self) -> bool:
        """Always: only an ensemble is summarised."""
        return True

    def table(self) -> pd.DataFrame:
        """The table written to ``results.csv``: the long quantiles of
        :func:`~pssc_sim.output.ensemble_table`, the same numbers."""
        from pssc_sim.output import quantile_frame

        s = self.summary
        return quantile_frame(s.times, s.names, s.levels, s.quantiles, s.mean)

    def summary_text(self) -> str:
        """:meth:`ScenarioResult.summary`'s text, from the quantiles."""
        return "\n".join([*describe(self), "", *summary_table(self.summary)])


def run_summarised(
    scenario: Scenario,
    *,
    scheduler: Any,
    chunk: int = 4096,
    progress: Progress | None = None,
    max_memory: int | None = None,
    ensemble: Path | None = None,
    record: Sequence[str] = (),
    reduce: tuple[Reducer, int] | None = None,
    backend: str = "auto",
    draw_here: bool = False,
) -> ScenarioSummary:
    """Run the ensemble ``scenario`` on the cluster ``scheduler`` with
    :func:`~pssc_sim.integrate.distributed.summarise`: the members' series stay on the workers,
    and only their quantiles at :data:`DEFAULT_QUANTILES` and means come back (the numbers
    :func:`run` and :meth:`ScenarioResult.quantiles` give). With ``ensemble``, a path every
    worker can write to, the workers also write every member there, the file
    :func:`~pssc_sim.output.write_netcdf` writes of :func:`run`'s results (with the scenario's
    name and seed as attributes, as ``pssc run --save-ensemble`` writes it).

    ``record`` is :func:`run`'s; ``reduce``, ``(reducer, rows)``, summarises what the reducer
    makes of each member on its worker instead of the recorded series (see
    :func:`~pssc_sim.integrate.distributed.summarise`, as a scorecard's probabilities are
    counted); ``backend`` is :func:`simulate`'s.

    The workers draw the members themselves, each block its own from the scenario's sampling
    specification (:class:`~pssc_sim.scenario.sampling.SampledMembers`: the values
    :func:`run` draws, bit for bit), so this process never holds the ensemble's parameters;
    the smallest, largest and median sampled values are found on a worker too
    (:attr:`ScenarioSummary.sampled`). With ``draw_here``, this process draws them, as
    :func:`run` does, and keeps them (:attr:`ScenarioSummary.samples`, for
    ``parameters.csv``)."""
    from pssc_sim.integrate.cluster import connect
    from pssc_sim.integrate.distributed import summarise

    ready = _prepare(scenario, chunk, record, max_memory, draw_here)
    attributes: dict[str, str | int | float] = {
        "scenario": scenario.label,
        "seed": -1 if ready.seed is None else ready.seed,
    }
    sampled: dict[str, tuple[float, float, float]] = {}
    with connect(scheduler) as client:
        # on a worker, while the ensemble runs
        spread = (
            None
            if ready.made is None
            else client.submit(SampledMembers.summary, ready.made, pure=False)
        )
        summary = summarise(
            ready.model,
            ready.params if ready.made is None else ready.made,
            scheduler=client,
            method=ready.method,
            time=ready.time,
            outputs=ready.outputs,
            chunk=ready.chunk,
            quantiles=DEFAULT_QUANTILES,
            progress=progress,
            max_memory=ready.limit,
            ensemble=ensemble,
            attributes=attributes,
            reduce=reduce,
            backend=backend,
        )
        if spread is not None:  # by the names the scenario gives, as ``samples`` is
            sampled = dict(zip(ready.names, spread.result().values(), strict=True))
    return ScenarioSummary(
        scenario, summary, ready.model, ready.samples, ready.seed, ready.method, sampled
    )


def saved_layout(
    scenario: Scenario, max_memory: int | None = None
) -> tuple[np.ndarray, tuple[str, ...]]:
    """The saved times and the recorded names of a run of ``scenario`` (those of
    :func:`run_summarised`'s summary), found without running it or drawing its members: what
    a reducer of its members needs to know before the run starts."""
    from pssc_sim.integrate.fixed import saved_times
    from pssc_sim.integrate.methods import METHODS

    ready = _prepare(scenario, 4096, (), max_memory, draw_here=False)
    compiled = compiled_for(ready.model, None if ready.outputs is None else tuple(ready.outputs))
    grid = make_grid(compiled.model, ready.time)
    times = saved_times(grid) if METHODS[ready.method].fixed_step else grid.save_times()
    return times, tuple(compiled.outputs)


@dataclass(frozen=True, slots=True)
class _Ready:
    """A scenario checked, sized and sampled, ready to run."""

    model: Model
    params: dict[str, Any]
    method: str
    time: dict[str, float] | None
    outputs: Sequence[str] | None
    chunk: int
    limit: int
    samples: dict[str, np.ndarray]
    seed: int | None
    #: The sampled members as their specification, for the workers to draw (not drawn here).
    made: SampledMembers | None = None
    #: The sampled parameters as the scenario names them (``made`` names the parameters they
    #: set, which an intervention on a parameter renames).
    names: tuple[str, ...] = ()


def _prepare(
    scenario: Scenario,
    chunk: int,
    record: Sequence[str],
    max_memory: int | None,
    draw_here: bool = True,
) -> _Ready:
    """What :func:`run` and :func:`run_summarised` run: the model with the interventions, the
    parameters (set, target and sampled values), outputs, time, the chunk of the memory plan.
    Without ``draw_here``, the sampled values are left to the workers: the parameters hold the
    set and target values, and ``made`` the sampling specification."""
    base = scenario.load_model()
    scenario.check(base)
    model = apply_interventions(base, scenario.interventions)
    warn_after_stop(scenario.interventions, scenario.time.get("stop", base.time.stop))
    intervened = {i.parameter for i in scenario.interventions}

    def key(name: str) -> str:
        return base_name(name) if name in intervened else name

    params: dict[str, Any] = target_values(scenario, base, key)
    params.update({key(name): value for name, value in scenario.set.items()})
    outputs = scenario.outputs
    if record:
        chosen = outputs if outputs is not None else [name for name, _ in model.default_outputs()]
        outputs = tuple(dict.fromkeys([*chosen, *record]))
    method, time = scenario.method or "euler", dict(scenario.time) or None
    limit = budget.default_memory_limit() if max_memory is None else max_memory
    chunk = size_run(scenario, base, model, outputs, (method, time, chunk, limit))
    samples: dict[str, np.ndarray] = {}
    seed = None
    made = None
    names: tuple[str, ...] = ()
    if scenario.uncertainty is not None and not draw_here:
        given, sampling, members, seed = design(scenario.uncertainty, base)
        joint = scenario.uncertainty.joint or ()
        made = SampledMembers(
            tuple((key(name), spread) for name, spread in given.items()),
            sampling,
            members,
            seed,
            params,
            joint=tuple(block.renamed([key(n) for n in block.parameters]) for block in joint),
        )
        names = (*given, *scenario.uncertainty.joint_names)
    elif scenario.uncertainty is not None:
        samples, seed = draw(scenario.uncertainty, base)
        params.update({key(name): values for name, values in samples.items()})
    return _Ready(model, params, method, time, outputs, chunk, limit, samples, seed, made, names)


def size_run(
    scenario: Scenario,
    base: Model,
    model: Model,
    outputs: Sequence[str] | None,
    settings: tuple[str, Mapping[str, float] | None, int, int],
) -> int:
    """Check that ``scenario`` fits in the memory limit and step limit before anything is
    sampled or allocated; return the chunk of members to run at a time.

    ``settings`` is ``(method, time overrides, chunk, limit in bytes)``.
    """
    method, time, chunk, limit = settings
    check_options(method, 1e-6, 1e-9, chunk, limit)
    compiled = compiled_for(model, tuple(outputs) if outputs is not None else None)
    grid = make_grid(model, time)
    uncertainty = scenario.uncertainty
    members, sampled = 1, 0
    if uncertainty is not None and uncertainty.members is not None:
        members = uncertainty.members
        sampled = len(distributions(uncertainty, base)) + len(uncertainty.joint_names)
    return plan_run(compiled, grid, method, members, chunk, limit, sampled).chunk


def target_values(scenario: Scenario, model: Model, key: Callable[[str], str]) -> dict[str, float]:
    """The hidden parameters that carry the scenario's targets and culture into the model."""
    from pssc_sim.scenario.targets import target_parameters

    values = target_parameters(scenario.targets, model, scenario_time(scenario, model))
    if scenario.culture is not None and "CULTURE" in model.parameter_names:
        values["CULTURE"] = scenario.culture
    return {key(name): value for name, value in values.items()}


def draw(uncertainty: Uncertainty, model: Model) -> tuple[dict[str, np.ndarray], int]:
    """The sampled parameter values and the seed used."""
    if uncertainty.members is None:
        raise ScenarioError(
            "uncertainty.members: the number of members is required (got "
            "nothing). Write members: 1000"
        )
    chosen, sampling, members, seed = design(uncertainty, model)
    return sample(chosen, sampling, members, seed, uncertainty.joint or ()), seed


def design(uncertainty: Uncertainty, model: Model) -> tuple[dict[str, Distribution], str, int, int]:
    """The distributions, sampling, number of members and seed of an ensemble (the seed drawn
    at random when none is given)."""
    if uncertainty.members is None:
        raise ScenarioError(
            "uncertainty.members: the number of members is required (got "
            "nothing). Write members: 1000"
        )
    seed = uncertainty.seed if uncertainty.seed is not None else secrets.randbelow(2**32)
    chosen = distributions(uncertainty, model)
    return chosen, uncertainty.sampling or DEFAULT_SAMPLING, uncertainty.members, seed
