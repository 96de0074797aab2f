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
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from pssc_sim.ir.calendar import calendar, calendar_years
from pssc_sim.ir.lowering import hidden
from pssc_sim.ir.model import Better, Measure, Model, Perspective, TimeSpec
from pssc_sim.scenario.targets import Target, TargetKind

if TYPE_CHECKING:
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
    by_measure = {t.measure: t for t in targets}
    order = {p: i for i, p in enumerate(Perspective)}
    measures = sorted(result.model.measures, key=lambda m: order[m.perspective])
    rows = tuple(score(result, m, by_measure.get(m.name)) for m in measures)
    consequences: tuple[Consequence, ...] = ()
    if against is not None:
        against = with_columns(against, needed_columns(against.model, ()))
        consequences = unintended(result, against)
    from pssc_sim.scenario.reader import scenario_time

    return Scorecard(
        result.name,
        None if against is None else against.name,
        result.results.n_members,
        rows,
        consequences,
        scenario_time(result.scenario, result.model),
    )


def at_time(result: ScenarioResult, name: str, t: float) -> np.ndarray:
    """Each member's value of ``name`` at time ``t`` (linear between saved times)."""
    results = result.results
    return interpolated(results.times, results.values[:, results.index(name), :], t)


def interpolated(times: np.ndarray, column: np.ndarray, t: float) -> np.ndarray:
    """``np.interp(t, times, column[:, i])`` for every member ``i`` (a column of saved times
    by members), to the last bit, with the saved times around ``t`` found once for all members
    (an ensemble of 200 members took 200 calls before).

    >>> times = np.array([0.0, 1.0, 2.0])
    >>> interpolated(times, np.array([[0.0, 10.0], [1.0, 20.0], [4.0, 30.0]]), 1.5)
    array([ 2.5, 25. ])
    """
    members = column.shape[1]
    j = int(np.searchsorted(times, t, side="right")) - 1
    last = len(times) - 1
    repeated = (j > 0 and times[j - 1] == times[j]) or (j < last and times[j] == times[j + 1])
    if members < 2 or not 0 <= j <= last or repeated or not math.isfinite(t):
        return np.array([np.interp(t, times, column[:, i]) for i in range(members)])
    if times[j] == t:  # on a saved time (a target's date, the end): its values
        return np.array(column[j], dtype=float)
    if j == last:  # after the run: numpy's rule for the ends
        return np.array([np.interp(t, times, column[:, i]) for i in range(members)])
    # numpy's own formula (numpy/_core/src/multiarray/compiled_base.c), member by member
    slope = (column[j + 1] - column[j]) / (times[j + 1] - times[j])
    values = np.asarray(slope * (t - times[j]) + column[j], dtype=float)
    if np.isnan(values).any():  # numpy tries the other end first: leave it to numpy
        return np.array([np.interp(t, times, column[:, i]) for i in range(members)])
    return values


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
    ensemble = result.results.is_ensemble
    met = meets(reported, target, measure.better)
    met_true = meets(true, target, measure.better)
    return ScorecardRow(
        **{
            **asdict(row),
            "kind": target.kind.value,
            "target": target.value,
            "met": bool(meets(np.array([value]), target, measure.better)[0]),
            "met_true": bool(meets(np.array([true_value]), target, measure.better)[0]),
            "rag": rag(value, target, measure.better),
            "probability": float(met.mean()) if ensemble else None,
            "probability_true": float(met_true.mean()) if ensemble else None,
            "severity": target.severity,
            "consequence": target.consequence,
        }
    )


def unintended(result: ScenarioResult, reference: ScenarioResult) -> tuple[Consequence, ...]:
    """Measures whose true value at the end is worse than in ``reference``, largest first."""
    found = []
    names = {m.name for m in reference.model.measures}
    for measure in result.model.measures:
        if measure.name not in names:
            continue
        value = float(
            np.median(at_time(result, measure.true_column, float(result.results.times[-1])))
        )
        base = float(
            np.median(at_time(reference, measure.true_column, float(reference.results.times[-1])))
        )
        change = value - base
        worse = change < 0 if measure.better is Better.HIGHER else change > 0
        relative = abs(change) / max(abs(base), 1e-12)
        if worse and relative > _NOISE:
            found.append(
                Consequence(measure.name, measure.perspective.value, value, base, change, relative)
            )
    return tuple(sorted(found, key=lambda c: -c.relative))
