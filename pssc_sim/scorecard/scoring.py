"""The Public Sector Scorecard of a run or an ensemble.

Measures are grouped by PSS perspective (outcome, process, capability). For each measure the
scorecard gives the reported and the true value at the target date (at the end of the run when
the measure has no target), the target, whether the reported value meets it, a RAG status, the
reported-vs-true gap and, for an ensemble, the probability of meeting the target: the fraction of
members whose reported value meets it (and the same for the true value).

RAG: green when the target is met; amber when it is missed by at most 5% of the target
(:data:`AMBER_SHARE`); red otherwise. For an ensemble the value, the status and the gap are those
of the median member value; the probabilities count members one by one.

Unintended consequences are measures whose *true* value at the end of the run is worse than in a
reference run (the same scenario without its targets by default), ranked by the size of the
change relative to the reference value.

Every number a scorecard reads of a member (a measure at its target date, at the end, whether it
meets its target) is made by one reducer, :class:`MemberScores`, of the run's saved times and
values; the scorecard is then the median of each and the share of members meeting each target.
In one process the reducer runs on the whole ensemble; on a Dask cluster
(:func:`scorecard_on_cluster`) it runs on each block of members where the block ran, and only
the medians and the counts come back, the same numbers to the last bit.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from pssc_sim.ir.calendar import calendar, calendar_years
from pssc_sim.ir.lowering import hidden
from pssc_sim.ir.model import Better, Measure, Model, Perspective, TimeSpec
from pssc_sim.scenario.targets import Target, TargetKind

if TYPE_CHECKING:
    from pssc_sim.integrate.progress import Progress
    from pssc_sim.scenario.definition import Scenario
    from pssc_sim.scenario.runner import ScenarioResult

#: A missed target is amber when the shortfall is at most this share of the target.
AMBER_SHARE = 0.05
#: Relative changes smaller than this are not consequences (round-off).
_NOISE = 1e-9


@dataclass(frozen=True, slots=True)
class ScorecardRow:
    """One measure on the scorecard (values are the median member's for an ensemble)."""

    measure: str
    perspective: str
    better: str
    units: str
    at: float
    reported: float
    true: float
    gap: float
    kind: str | None = None
    target: float | None = None
    met: bool | None = None
    met_true: bool | None = None
    rag: str | None = None
    probability: float | None = None
    probability_true: float | None = None
    severity: float | None = None
    consequence: str = ""


@dataclass(frozen=True, slots=True)
class Consequence:
    """A measure whose true value ends worse than in the reference run."""

    measure: str
    perspective: str
    value: float
    reference: float
    change: float
    relative: float


@dataclass(frozen=True, slots=True)
class Scorecard:
    """The scorecard of one scenario against a reference.

    ``rows`` are ordered by perspective (outcome, process, capability), then as declared;
    ``consequences`` are ranked, the largest relative worsening first.
    """

    scenario: str
    reference: str | None
    members: int
    rows: tuple[ScorecardRow, ...]
    consequences: tuple[Consequence, ...]
    time: TimeSpec | None = None  # the run's clock: ``at`` is shown as a date where it has one

    def when(self, at: float) -> str:
        """``at`` as a planner reads it: the year or an ISO date where the clock reads a
        calendar, else the model time."""
        if self.time is not None:
            if calendar_years(self.time) and float(at).is_integer():
                return f"{at:.0f}"
            date = calendar(self.time, at)
            if date is not None:
                return date.isoformat()
        return f"{at:.4g}"

    def row(self, measure: str) -> ScorecardRow:
        """The row of ``measure``."""
        for row in self.rows:
            if row.measure == measure:
                return row
        raise KeyError(measure)

    def to_dict(self) -> dict[str, Any]:
        """The scorecard as plain data (what ``pssc scorecard --json`` prints)."""
        groups: dict[str, list[dict[str, Any]]] = {p.value: [] for p in Perspective}
        for row in self.rows:
            entry = asdict(row)
            if self.time is not None and calendar(self.time, row.at) is not None:
                entry["date"] = self.when(row.at)
            groups[row.perspective].append(entry)
        return {
            "scenario": self.scenario,
            "reference": self.reference,
            "members": self.members,
            "perspectives": groups,
            "unintended_consequences": [asdict(c) for c in self.consequences],
        }

    def to_json(self) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), indent=2)

    def to_text(self) -> str:
        """A plain-text table per perspective, then the unintended consequences."""
        kind = f"{self.members} members" if self.members > 1 else "single run"
        lines = [f"scorecard: {self.scenario} ({kind})"]
        width = max([len("measure"), *(len(r.measure) for r in self.rows)])
        at = max([8, *(len(self.when(r.at)) for r in self.rows)])
        head = (
            f"  {'measure':<{width}}  {'target':>10} {'at':>{at}} {'reported':>10} "
            f"{'true':>10} {'gap':>10}  {'status':<6}"
        )
        if self.members > 1:
            head += f" {'P(met)':>7} {'P(true)':>7}"
        for perspective in Perspective:
            rows = [r for r in self.rows if r.perspective == perspective.value]
            if rows:
                lines += ["", perspective.value.upper(), head]
                lines += [_line(r, width, self.members > 1, (self.when(r.at), at)) for r in rows]
        lines += [
            "",
            f"unintended consequences (true values at the end, against "
            f"{self.reference or 'nothing'}):",
        ]
        if not self.consequences:
            lines.append("  none")
        for c in self.consequences:
            lines.append(
                f"  {c.measure} ({c.perspective}): {c.value:.6g} against "
                f"{c.reference:.6g} ({c.relative:+.1%} worse)"
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()


def _line(row: ScorecardRow, width: int, ensemble: bool, when: tuple[str, int]) -> str:
    target = "-" if row.target is None else f"{row.target:.4g}"
    status = row.rag or "-"
    at, at_width = when
    text = (
        f"  {row.measure:<{width}}  {target:>10} {at:>{at_width}} {row.reported:>10.4g} "
        f"{row.true:>10.4g} {row.gap:>10.4g}  {status:<6}"
    )
    if ensemble:
        for p in (row.probability, row.probability_true):
            text += f" {'-':>7}" if p is None else f" {p:>7.1%}"
    return text


def needed_columns(model: Model, targets: tuple[Target, ...]) -> list[str]:
    """The recorded variables a scorecard reads."""
    names = [c for m in model.measures for c in dict.fromkeys((m.true_column, m.reported_column))]
    names += [
        hidden(t.measure, part)
        for t in targets
        if t.kind is TargetKind.THRESHOLD_SHARE
        for part in ("share", "share_reported")
    ]
    return list(dict.fromkeys(names))


def with_columns(result: ScenarioResult, names: list[str]) -> ScenarioResult:
    """``result``, or the same run again (same seed) recording ``names`` as well."""
    from pssc_sim.scenario.runner import run

    if all(n in result.results.names for n in names):
        return result
    scenario = result.scenario
    if result.seed is not None:
        scenario = scenario.with_uncertainty(seed=result.seed)
    return run(scenario, record=names)


def scorecard(result: ScenarioResult, against: ScenarioResult | None = None) -> Scorecard:
    """The scorecard of ``result``; unintended consequences against ``against`` (default: the
    same scenario without targets, with the same ensemble seed)."""
    targets = result.scenario.targets
    result = with_columns(result, needed_columns(result.model, targets))
    if against is None and targets:
        plain = result.scenario.without_targets().with_name(f"{result.name} without targets")
        if result.seed is not None:
            plain = plain.with_uncertainty(seed=result.seed)
        against = plain.run()
    judged = judge(result)
    reference = None
    if against is not None:
        reference = judge(with_columns(against, needed_columns(against.model, ())), False)
    return card(judged, reference)


@dataclass(frozen=True, slots=True)
class Read:
    """One number a scorecard reads of each member: ``column`` at time ``at`` (linear between
    saved times; ``None``: the last saved time), times ``scale``."""

    column: str
    at: float | None
    scale: float = 1.0


@dataclass(frozen=True, slots=True)
class Meets:
    """Whether each member's number ``read`` (an index into the reads) meets ``value``:
    at least it when ``higher``, else at most it."""

    read: int
    value: float
    higher: bool


@dataclass(frozen=True, slots=True)
class MemberScores:
    """What a scorecard reads of each member, as one reducer of a run's saved times, values
    (times x outputs x members) and output names: one row per :class:`Read`, then one per
    :class:`Meets` (1.0 where the member meets it, else 0.0), members on the last axis. It
    travels to a cluster's workers as data (a top-level class, picklable)."""

    reads: tuple[Read, ...]
    tests: tuple[Meets, ...]

    @property
    def rows(self) -> int:
        """The rows it makes."""
        return len(self.reads) + len(self.tests)

    def __call__(
        self, times: np.ndarray, values: np.ndarray, outputs: tuple[str, ...]
    ) -> np.ndarray:
        out = np.empty((self.rows, values.shape[-1]))
        index = {name: i for i, name in enumerate(outputs)}
        for i, read in enumerate(self.reads):
            t = float(times[-1]) if read.at is None else read.at
            out[i] = read.scale * interpolate_members(t, times, values[:, index[read.column], :])
        for k, test in enumerate(self.tests):
            row = out[test.read]
            out[len(self.reads) + k] = row >= test.value if test.higher else row <= test.value
        return out


@dataclass(frozen=True, slots=True)
class Plan:
    """What a scenario's scorecard reads (:class:`MemberScores`) and how its rows map back:
    for measure ``i`` of ``measures`` (in scorecard order), its reported and true values at its
    target date (or the end) are rows ``2i`` and ``2i + 1``, its true value at the end row
    ``2n + i``; a measure with a target has its two tests' rows at ``tests[i]``."""

    measures: tuple[Measure, ...]
    targets: tuple[Target | None, ...]
    scores: MemberScores
    tests: tuple[int | None, ...]


def plan(scenario: Scenario, model: Model, targets: bool = True) -> Plan:
    """The :class:`Plan` of the scorecard of ``scenario`` run on ``model`` (without its
    ``targets``: of a reference run, whose true values at the end alone are read)."""
    from pssc_sim.scenario.reader import scenario_time

    by_measure = {t.measure: t for t in scenario.targets} if targets else {}
    order = {p: i for i, p in enumerate(Perspective)}
    measures = tuple(sorted(model.measures, key=lambda m: order[m.perspective]))
    chosen = tuple(by_measure.get(m.name) for m in measures)
    reads: list[Read] = []
    for measure, target in zip(measures, chosen, strict=True):
        at = None if target is None else target.by
        if target is not None and target.kind is TargetKind.THRESHOLD_SHARE:
            reads += [
                Read(hidden(measure.name, "share_reported"), at),
                Read(hidden(measure.name, "share"), at),
            ]
            continue
        scale = 1.0 if target is None else target.period(scenario_time(scenario, model))
        reads += [Read(measure.reported_column, at, scale), Read(measure.true_column, at, scale)]
    reads += [Read(measure.true_column, None) for measure in measures]
    tests: list[Meets] = []
    rows: list[int | None] = []
    for i, (measure, target) in enumerate(zip(measures, chosen, strict=True)):
        if target is None:
            rows.append(None)
            continue
        rows.append(len(reads) + len(tests))
        higher = target.higher_is_better(measure.better)
        tests += [Meets(2 * i, target.value, higher), Meets(2 * i + 1, target.value, higher)]
    return Plan(measures, chosen, MemberScores(tuple(reads), tuple(tests)), tuple(rows))


@dataclass(frozen=True, slots=True)
class Judged:
    """A run as its scorecard sees it: the :class:`Plan`, the median of each row over the
    members, the mean of each (for a test's row: the share of members meeting it), the last
    saved time, the number of members, the scenario and model, and the ensemble's seed."""

    name: str
    plan: Plan
    median: np.ndarray
    mean: np.ndarray
    end: float
    members: int
    ensemble: bool
    scenario: Scenario
    model: Model
    seed: int | None = None


def judge(result: ScenarioResult, targets: bool = True) -> Judged:
    """:class:`Judged` of a run in this process (every member here), ``targets`` as in
    :func:`plan`."""
    results = result.results
    found = plan(result.scenario, result.model, targets)
    rows = found.scores(results.times, results.values, results.names)
    return Judged(
        result.name,
        found,
        np.median(rows, axis=1),
        rows.mean(axis=1),
        float(results.times[-1]),
        results.n_members,
        results.is_ensemble,
        result.scenario,
        result.model,
        result.seed,
    )


def card(judged: Judged, reference: Judged | None) -> Scorecard:
    """The scorecard of ``judged``, unintended consequences against ``reference``."""
    from pssc_sim.scenario.reader import scenario_time

    found = judged.plan
    rows = []
    for i, (measure, target) in enumerate(zip(found.measures, found.targets, strict=True)):
        t = judged.end if target is None else target.by
        tests = found.tests[i]
        probabilities = (
            (float(judged.mean[tests]), float(judged.mean[tests + 1]))
            if judged.ensemble and tests is not None
            else (None, None)
        )
        value = float(judged.median[2 * i])
        true_value = float(judged.median[2 * i + 1])
        rows.append(row_of(measure, target, t, (value, true_value), probabilities))
    consequences: tuple[Consequence, ...] = ()
    if reference is not None:
        n = len(found.measures)
        ends = {m.name: float(judged.median[2 * n + i]) for i, m in enumerate(found.measures)}
        m_ref = len(reference.plan.measures)
        bases = {
            m.name: float(reference.median[2 * m_ref + i])
            for i, m in enumerate(reference.plan.measures)
        }
        consequences = worse(judged.model.measures, ends, bases)
    return Scorecard(
        judged.name,
        None if reference is None else reference.name,
        judged.members,
        tuple(rows),
        consequences,
        scenario_time(judged.scenario, judged.model),
    )


def row_of(
    measure: Measure,
    target: Target | None,
    t: float,
    values: tuple[float, float],
    probabilities: tuple[float | None, float | None],
) -> ScorecardRow:
    """The scorecard row of ``measure`` whose (median) reported and true ``values`` at ``t``
    are given, with the ``probabilities`` of meeting its target (an ensemble's)."""
    value, true_value = values
    row = ScorecardRow(
        measure.name,
        measure.perspective.value,
        measure.better.value,
        measure.meta.units,
        t,
        value,
        true_value,
        value - true_value,
    )
    if target is None:
        return row
    return ScorecardRow(
        **{
            **asdict(row),
            "kind": target.kind.value,
            "target": target.value,
            "met": bool(meets(np.array([value]), target, measure.better)[0]),
            "met_true": bool(meets(np.array([true_value]), target, measure.better)[0]),
            "rag": rag(value, target, measure.better),
            "probability": probabilities[0],
            "probability_true": probabilities[1],
            "severity": target.severity,
            "consequence": target.consequence,
        }
    )


def interpolate_members(t: float, times: np.ndarray, column: np.ndarray) -> np.ndarray:
    """Each member's value at time ``t``, linear between the saved ``times`` (``column`` is
    times x members): ``numpy.interp(t, times, column[:, i])`` for every member ``i``, to the
    last bit, in one pass over the members.

    >>> times = np.array([0.0, 1.0, 2.0])
    >>> column = np.array([[0.0, 10.0], [1.0, 30.0], [4.0, 20.0]])
    >>> interpolate_members(1.5, times, column).tolist()
    [2.5, 25.0]
    """
    n = len(times)
    j = int(np.searchsorted(times, t, side="right")) - 1
    repeated = (0 < j < n and times[j - 1] == times[j]) or (
        0 <= j < n - 1 and times[j] == times[j + 1]
    )
    if repeated or t != t:  # a saved time listed twice, or no time: numpy's own rules
        return np.array([np.interp(t, times, column[:, i]) for i in range(column.shape[1])])
    if n == 1 or t <= times[0]:
        return np.array(column[0], dtype=float)
    if t >= times[-1]:
        return np.array(column[-1], dtype=float)
    if times[j] == t:
        return np.array(column[j], dtype=float)
    # numpy's own steps: the slope from the left point, or from the right one where that
    # gives NaN (an infinite value), or the common value of two equal infinities
    low, high = column[j], column[j + 1]
    with np.errstate(invalid="ignore"):  # infinities, handled below as numpy.interp does
        slope = (high - low) / (times[j + 1] - times[j])
        out: np.ndarray = slope * (t - times[j]) + low
        bad = np.isnan(out)
        if bad.any():
            again = slope[bad] * (t - times[j + 1]) + high[bad]
            equal = np.isnan(again) & (low[bad] == high[bad])
            again[equal] = low[bad][equal]
            out[bad] = again
    return out


def at_time(result: ScenarioResult, name: str, t: float) -> np.ndarray:
    """Each member's value of ``name`` at time ``t`` (linear between saved times)."""
    results = result.results
    return interpolate_members(t, results.times, results.values[:, results.index(name), :])


def compared(
    result: ScenarioResult, measure: Measure, target: Target | None, t: float
) -> tuple[np.ndarray, np.ndarray]:
    """The reported and true quantity a target judges, per member, at time ``t``."""
    if target is not None and target.kind is TargetKind.THRESHOLD_SHARE:
        return (
            at_time(result, hidden(measure.name, "share_reported"), t),
            at_time(result, hidden(measure.name, "share"), t),
        )
    from pssc_sim.scenario.reader import scenario_time

    scale = 1.0 if target is None else target.period(scenario_time(result.scenario, result.model))
    return (
        scale * at_time(result, measure.reported_column, t),
        scale * at_time(result, measure.true_column, t),
    )


def meets(values: np.ndarray, target: Target, better: Better) -> np.ndarray:
    """Whether each value meets ``target``."""
    if target.higher_is_better(better):
        return np.asarray(values >= target.value)
    return np.asarray(values <= target.value)


def rag(value: float, target: Target, better: Better) -> str:
    """green (met), amber (missed by at most :data:`AMBER_SHARE` of the target) or red."""
    if bool(meets(np.array([value]), target, better)[0]):
        return "green"
    return "amber" if abs(value - target.value) <= AMBER_SHARE * abs(target.value) else "red"


def score(result: ScenarioResult, measure: Measure, target: Target | None) -> ScorecardRow:
    """The scorecard row of ``measure``."""
    t = float(result.results.times[-1]) if target is None else target.by
    reported, true = compared(result, measure, target, t)
    value, true_value = float(np.median(reported)), float(np.median(true))
    probabilities: tuple[float | None, float | None] = (None, None)
    if target is not None and result.results.is_ensemble:
        probabilities = (
            float(meets(reported, target, measure.better).mean()),
            float(meets(true, target, measure.better).mean()),
        )
    return row_of(measure, target, t, (value, true_value), probabilities)


def unintended(result: ScenarioResult, reference: ScenarioResult) -> tuple[Consequence, ...]:
    """Measures whose true value at the end is worse than in ``reference``, largest first."""
    names = {m.name for m in reference.model.measures}

    def ends(run: ScenarioResult, names: set[str]) -> dict[str, float]:
        end = float(run.results.times[-1])
        return {
            m.name: float(np.median(at_time(run, m.true_column, end)))
            for m in run.model.measures
            if m.name in names
        }

    return worse(result.model.measures, ends(result, names), ends(reference, names))


def worse(
    measures: Sequence[Measure], values: dict[str, float], bases: dict[str, float]
) -> tuple[Consequence, ...]:
    """Of ``measures``, those whose true value at the end, ``values``, is worse than the
    reference run's, ``bases`` (a measure the reference lacks is left out), largest relative
    change first."""
    found = []
    for measure in measures:
        if measure.name not in bases:
            continue
        value, base = values[measure.name], bases[measure.name]
        change = value - base
        is_worse = change < 0 if measure.better is Better.HIGHER else change > 0
        relative = abs(change) / max(abs(base), 1e-12)
        if is_worse and relative > _NOISE:
            found.append(
                Consequence(measure.name, measure.perspective.value, value, base, change, relative)
            )
    return tuple(sorted(found, key=lambda c: -c.relative))


def scorecard_on_cluster(
    scenario: Scenario,
    against: Scenario | None = None,
    *,
    scheduler: Any,
    progress: Progress | None = None,
    max_memory: int | None = None,
    backend: str = "auto",
    chunk: int = 4096,
) -> Scorecard:
    """:func:`scorecard` of ``scenario`` run on the Dask cluster ``scheduler`` (see
    :mod:`pssc_sim.integrate.distributed`), the same scorecard to the last bit.

    An ensemble is run with :func:`~pssc_sim.scenario.runner.run_summarised` and its
    :class:`MemberScores` as the reducer: each block of members is scored where it ran, and
    this process receives only the medians and the counts of members meeting each target, so
    it never holds the members. A single run is run on the cluster and scored here. The
    reference (``against``, or the scenario without its targets, with the ensemble's seed) is
    run the same way. ``chunk``, ``progress``, ``max_memory`` and ``backend`` are those of
    :func:`~pssc_sim.scenario.runner.run`."""
    settings = (progress, max_memory, backend, chunk)
    first = _judged_on_cluster(scenario, scheduler, settings, True)
    if against is None and scenario.targets:
        against = scenario.without_targets().with_name(f"{scenario.label} without targets")
        if first.seed is not None:
            against = against.with_uncertainty(seed=first.seed)
    reference = None if against is None else _judged_on_cluster(against, scheduler, settings, False)
    return card(first, reference)


def _judged_on_cluster(
    scenario: Scenario,
    scheduler: Any,
    settings: tuple[Progress | None, int | None, str, int],
    targets: bool,
) -> Judged:
    from pssc_sim.scenario.interventions import apply_interventions
    from pssc_sim.scenario.runner import run, run_summarised

    progress, max_memory, backend, chunk = settings
    model = apply_interventions(scenario.load_model(), scenario.interventions)
    record = needed_columns(model, scenario.targets if targets else ())
    if not scenario.is_ensemble:
        single = run(
            scenario,
            record=record,
            progress=progress,
            max_memory=max_memory,
            scheduler=scheduler,
            backend=backend,
            chunk=chunk,
        )
        return judge(single, targets)
    found = plan(scenario, model, targets)
    summary = run_summarised(
        scenario,
        scheduler=scheduler,
        progress=progress,
        max_memory=max_memory,
        record=record,
        reduce=(found.scores, found.scores.rows),
        backend=backend,
        chunk=chunk,
    )
    s = summary.summary
    assert s.median is not None
    return Judged(
        scenario.label,
        found,
        s.median,
        s.mean,
        float(s.times[-1]),
        s.members,
        True,
        scenario,
        summary.model,
        summary.seed,
    )
