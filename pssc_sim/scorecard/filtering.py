"""The filtering stage of the Public Sector Scorecard: what each candidate measure does when it
is made the target.

The PSS measurement phase passes candidate measures through "a filtering stage to ensure that
they provide value, are cost effective and minimise any perverse effects" (Moullin, *How the
PSS works*). Here that stage is a simulation: each candidate measure in turn becomes the *only*
target of the scenario, and the run is compared with the same scenario with no targets at all
(the reference; same culture, same ensemble seed).

Which target a candidate gets
    the scenario's own target on that measure when it has one; else a target given in
    ``targets``; else a derived one: a ``level`` target asking for ``improvement`` (10% by
    default) better than the reference's true value at the end of the run, due at the end of the
    run, biting from the start, with ``severity`` medium. ``targets`` overrides the scenario's
    own targets too.

What is measured, per candidate (medians across members for an ensemble)
    ``own``: the relative change of the candidate's own true value at the end of the run;
    ``improvement``: the mean relative change of the true values of the model's *outcome*
    measures at the end (of every measure when the model declares no outcome), net of any that
    get worse; ``gap``: how much the flattering reported-vs-true gap of the targeted quantity at
    the target date grows, relative to the true value (``max(0, s (reported - true)) / |true|``
    with the target run's value minus the reference's, ``s`` = +1 when more meets the target);
    ``harm``: the sum of the relative worsenings of every *other* measure whose true value ends
    worse than in the reference (the unintended consequences, ranked largest first).
    Relative changes are signed so that positive is better.

How candidates are ranked
    "All targets are flawed, but some are useful" (Moullin 2004): candidates are ranked by
    ``score = improvement - gap_weight x gap - harm_weight x harm`` (weights 1 by default),
    highest first; ties keep the order of the candidates (the model's order by default). A
    worsening outcome counts twice, once in the net improvement and once as harm, because the
    filtering stage is there to catch perverse effects.

A target acts on a run only through equations that read ``TARGET*(measure)``; a candidate the
model's equations never read changes nothing (``responds`` is false) and scores 0.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pssc_sim.errors import did_you_mean
from pssc_sim.ir.lowering import hidden
from pssc_sim.ir.model import Better, Measure, Model, Perspective
from pssc_sim.scenario.fields import parse_targets, where_in
from pssc_sim.scenario.reader import scenario_time
from pssc_sim.scenario.schema import ScenarioError
from pssc_sim.scenario.targets import Target, TargetKind
from pssc_sim.scenario.targets import severity as parse_severity
from pssc_sim.scorecard.scoring import (
    Consequence,
    at_time,
    compared,
    meets,
    needed_columns,
    unintended,
)

if TYPE_CHECKING:
    from pssc_sim.scenario.definition import Scenario
    from pssc_sim.scenario.runner import ScenarioResult

#: Improvement a derived target asks for, as a share of the reference's true end value.
DEFAULT_IMPROVEMENT = 0.1
#: Severity of a derived target (medium).
DEFAULT_SEVERITY = "medium"
_TINY = 1e-12


@dataclass(frozen=True, slots=True)
class Candidate:
    """One candidate measure made the target (see the module docstring for each number).

    ``source`` says where the target came from: ``scenario``, ``given`` or ``derived``.
    """

    rank: int
    measure: str
    perspective: str
    better: str
    target: Target
    source: str
    responds: bool
    own: float
    improvement: float
    gap: float
    harm: float
    score: float
    met: bool
    met_true: bool
    consequences: tuple[Consequence, ...]

    def describe_target(self) -> str:
        """The target in words, e.g. ``<= 13.35 by 156 (derived)``."""
        t = self.target
        if t.kind is TargetKind.THRESHOLD_SHARE:
            text = f"share {t.value:.4g} within {t.threshold:g}"
        elif t.kind is TargetKind.COUNT:
            text = f"count >= {t.value:.4g}"
        else:
            text = f"{'<=' if self.better == Better.LOWER.value else '>='} {t.value:.4g}"
        return f"{text} by {t.by:g} ({self.source})"


@dataclass(frozen=True, slots=True)
class Filtering:
    """The candidates of a scenario, ranked by score (best first); made by
    :func:`filter_measures`, which shows an example."""

    scenario: str
    reference: str
    culture: float | None
    members: int
    gap_weight: float
    harm_weight: float
    candidates: tuple[Candidate, ...]

    def candidate(self, measure: str) -> Candidate:
        """The result of ``measure``."""
        for candidate in self.candidates:
            if candidate.measure == measure:
                return candidate
        raise KeyError(measure)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (what ``pssc filter-measures --json`` prints)."""
        rows = []
        for c in self.candidates:
            row = asdict(c)
            row["target"] = c.target.to_document()
            row["consequences"] = [asdict(x) for x in c.consequences]
            rows.append(row)
        return {
            "scenario": self.scenario,
            "reference": self.reference,
            "culture": self.culture,
            "members": self.members,
            "score": f"improvement - {self.gap_weight:g} x gap - {self.harm_weight:g} x harm",
            "candidates": rows,
        }

    def to_json(self) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), indent=2)

    def to_text(self) -> str:
        """The ranked table, then each candidate's unintended consequences."""
        kind = f"{self.members} members" if self.members > 1 else "single run"
        culture = "default culture" if self.culture is None else f"culture {self.culture:g}"
        lines = [
            f"measure filtering: {self.scenario} ({kind}, {culture}); each candidate is the "
            f"only target in turn, against {self.reference}",
            f"score = improvement - {self.gap_weight:g} x gap - {self.harm_weight:g} x harm"
            " (relative changes of true values at the end; + is better)",
            "",
        ]
        width = max([len("measure"), *(len(c.measure) for c in self.candidates)])
        targets = [c.describe_target() for c in self.candidates]
        twidth = max([len("target"), *(len(t) for t in targets)])
        lines.append(
            f"{'rank':>4}  {'measure':<{width}}  {'target':<{twidth}}  {'responds':<8} "
            f"{'own':>8} {'improve':>8} {'gap':>8} {'harm':>8} {'score':>8}  met"
        )
        for c, target in zip(self.candidates, targets, strict=True):
            met = f"{'yes' if c.met else 'no'} (true {'yes' if c.met_true else 'no'})"
            lines.append(
                f"{c.rank:>4}  {c.measure:<{width}}  {target:<{twidth}}  "
                f"{'yes' if c.responds else 'no':<8} {c.own:>+8.1%} "
                f"{c.improvement:>+8.1%} {c.gap:>8.1%} {c.harm:>8.1%} "
                f"{c.score:>+8.3f}  {met}"
            )
        lines += ["", "unintended consequences (other measures whose true value ends worse):"]
        for c in self.candidates:
            worse = ", ".join(f"{x.measure} {x.relative:.1%} worse" for x in c.consequences)
            note = "" if c.responds else " (no equation reads this target)"
            lines.append(f"  {c.measure}: {worse or 'none'}{note}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()


def filter_measures(
    scenario: Scenario | str | Path,
    candidates: Sequence[str] | None = None,
    *,
    culture: float | None = None,
    improvement: float = DEFAULT_IMPROVEMENT,
    severity: float | str = DEFAULT_SEVERITY,
    targets: Sequence[Target | Mapping[str, Any]] = (),
    gap_weight: float = 1.0,
    harm_weight: float = 1.0,
) -> Filtering:
    """Run each candidate measure as the only target and rank what it does.

    Parameters
    ----------
    scenario
        A :class:`~pssc_sim.scenario.Scenario` or a scenario file.
    candidates
        Measure names to screen (default: every measure of the model, in model order).
    culture
        0 (learning) .. 1 (blame) for every run, the reference included (default: the
        scenario's).
    improvement
        What a derived target asks for: this share better than the reference's true end value
        (0 < improvement < 1).
    severity
        Severity of derived targets (``low``, ``medium``, ``high`` or a number >= 0).
    targets
        Targets to use for some candidates instead of the scenario's own or a derived one.
    gap_weight, harm_weight
        Weights of the gap and of the harm in the score (>= 0).

    Returns
    -------
    Filtering
        The candidates ranked by score, best first.

    Examples
    --------
    >>> from pathlib import Path
    >>> import pssc_sim
    >>> root = Path(pssc_sim.__file__).parent.parent
    >>> result = filter_measures(root / "scenarios" / "waiting_list" / "target-learning.yaml")
    >>> [c.measure for c in result.candidates]
    ['treatments', 'capability', 'mean_wait']
    >>> result.candidate("mean_wait").source, result.candidate("treatments").responds
    ('scenario', False)
    """
    base = _scenario(scenario)
    if culture is not None:
        base = base.with_culture(culture)
    model = base.load_model()
    base.check(model)
    names = _candidates(model, candidates)
    settings = _settings(improvement, severity, gap_weight, harm_weight)
    given = {t.measure: t for t in parse_targets(list(targets), where_in(""))}
    for measure in given:
        if measure not in names:
            raise ScenarioError(
                f"targets: a target on '{measure}', which is not a candidate "
                f"(got candidates {', '.join(names)}). Add it to the candidates"
            )
    own = {t.measure: t for t in base.targets}
    chosen = {m: given.get(m) or own.get(m) for m in names}
    reference = _reference(base, model, [t for t in chosen.values() if t is not None])
    measures = {m.name: m for m in model.measures}
    plain = base.without_targets()
    if reference.seed is not None:
        plain = plain.with_uncertainty(seed=reference.seed)
    screened = []
    for name in names:
        target, source = chosen[name], "given" if name in given else "scenario"
        if target is None:
            target, source = _derived(reference, measures[name], settings), "derived"
        result = _run(plain.with_targets(target), model, (target,))
        screened.append(_screen(result, reference, measures[name], target, source, settings))
    ranked = sorted(screened, key=lambda c: -c.score)
    return Filtering(
        base.label,
        reference.name,
        base.culture,
        reference.results.n_members,
        settings[2],
        settings[3],
        tuple(replace(c, rank=i + 1) for i, c in enumerate(ranked)),
    )


def _scenario(scenario: Scenario | str | Path) -> Scenario:
    from pssc_sim.scenario.definition import Scenario

    return scenario if isinstance(scenario, Scenario) else Scenario.load(scenario)


def _candidates(model: Model, candidates: Sequence[str] | None) -> list[str]:
    declared = [m.name for m in model.measures]
    if candidates is None:
        chosen = declared
    else:
        chosen = list(dict.fromkeys(candidates))
        for name in chosen:
            if name not in declared:
                hint = did_you_mean(name, declared) or (
                    f" Measures: {', '.join(declared)}." if declared else ""
                )
                raise ScenarioError(
                    f"candidates: unknown measure '{name}' in {model.source or model.name}.{hint}"
                )
    if not chosen:
        raise ScenarioError(
            f"candidates: nothing to screen (got no measures in "
            f"{model.source or model.name}). Declare measures in the model file "
            "or name the candidates"
        )
    return chosen


def _settings(
    improvement: float, severity: float | str, gap_weight: float, harm_weight: float
) -> tuple[float, float, float, float]:
    if not (isinstance(improvement, (int, float)) and 0 < improvement < 1):
        raise ScenarioError(
            f"improvement: a derived target asks for a share better than the "
            f"reference, above 0 and below 1 (got {improvement!r}). Write e.g. "
            "0.1 for 10%"
        )
    for where, weight in (("gap_weight", gap_weight), ("harm_weight", harm_weight)):
        if not (isinstance(weight, (int, float)) and np.isfinite(weight) and weight >= 0):
            raise ScenarioError(
                f"{where}: a weight is a number >= 0 (got {weight!r}). Use 1 "
                "for the default ranking"
            )
    return (
        float(improvement),
        parse_severity(severity, "severity"),
        float(gap_weight),
        float(harm_weight),
    )


def _run(scenario: Scenario, model: Model, targets: Sequence[Target]) -> ScenarioResult:
    from pssc_sim.scenario.runner import run

    return run(scenario, record=needed_columns(model, tuple(targets)))


def _reference(base: Scenario, model: Model, targets: Sequence[Target]) -> ScenarioResult:
    """The scenario with no targets, recording the shares the candidate targets judge (their
    thresholds set: a threshold changes what is recorded, not the run)."""
    thresholds = {
        hidden(t.measure, "threshold"): t.threshold
        for t in targets
        if t.threshold is not None and hidden(t.measure, "threshold") in model.parameter_names
    }
    plain = base.without_targets().with_name(f"{base.label} without targets")
    return _run(plain.with_set(**thresholds), model, targets)


def _end(result: ScenarioResult, column: str) -> float:
    return float(np.median(at_time(result, column, float(result.results.times[-1]))))


def _derived(
    reference: ScenarioResult, measure: Measure, settings: tuple[float, float, float, float]
) -> Target:
    improvement, severity = settings[0], settings[1]
    value = _end(reference, measure.true_column)
    factor = 1 - improvement if measure.better is Better.LOWER else 1 + improvement
    if value < 0:  # "better" moves a negative value the other way in relative terms
        factor = 2 - factor
    stop = scenario_time(reference.scenario, reference.model).stop
    return Target(measure.name, TargetKind.LEVEL, value * factor, by=stop, severity=severity)


def relative_change(value: float, reference: float, better: Better) -> float:
    """The change from ``reference`` to ``value`` relative to ``|reference|``, positive when
    better.

    >>> relative_change(90.0, 100.0, Better.LOWER)
    0.1
    """
    sign = 1.0 if better is Better.HIGHER else -1.0
    return sign * (value - reference) / max(abs(reference), _TINY)


def flattering_gap(result: ScenarioResult, measure: Measure, target: Target) -> float:
    """How far the reported value flatters the true one at the target date, relative to the
    true value: ``max(0, s (reported - true)) / |true|`` (medians; ``s`` = +1 when more meets
    the target)."""
    reported, true = (float(np.median(v)) for v in compared(result, measure, target, target.by))
    sign = 1.0 if target.higher_is_better(measure.better) else -1.0
    return max(0.0, sign * (reported - true)) / max(abs(true), _TINY)


def _screen(
    result: ScenarioResult,
    reference: ScenarioResult,
    measure: Measure,
    target: Target,
    source: str,
    settings: tuple[float, float, float, float],
) -> Candidate:
    measures = result.model.measures
    changes = {
        m.name: relative_change(
            _end(result, m.true_column), _end(reference, m.true_column), m.better
        )
        for m in measures
    }
    outcomes = [m.name for m in measures if m.perspective is Perspective.OUTCOME] or list(changes)
    improvement = float(np.mean([changes[m] for m in outcomes]))
    gap = flattering_gap(result, measure, target) - flattering_gap(reference, measure, target)
    consequences = tuple(c for c in unintended(result, reference) if c.measure != measure.name)
    harm = float(sum(c.relative for c in consequences))
    reported, true = (float(np.median(v)) for v in compared(result, measure, target, target.by))
    return Candidate(
        0,
        measure.name,
        measure.perspective.value,
        measure.better.value,
        target,
        source,
        hidden(measure.name, "target_on") in result.model.parameter_names,
        changes[measure.name],
        improvement,
        gap,
        harm,
        improvement - settings[2] * gap - settings[3] * harm,
        bool(meets(np.array([reported]), target, measure.better)[0]),
        bool(meets(np.array([true]), target, measure.better)[0]),
        consequences,
    )
