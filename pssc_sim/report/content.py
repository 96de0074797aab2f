"""What a report holds: each scenario run once, its scorecard, and its story.

Scenarios are given as :class:`ReportEntry` values (a scenario with an optional free-text
narrative) or as plain scenarios, results or scenario files. Each is run once, recording the
columns its scorecard reads, and scored against ``against`` (default: itself without targets).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pssc_sim.errors import did_you_mean
from pssc_sim.scenario.definition import Scenario
from pssc_sim.scenario.runner import ScenarioResult, run
from pssc_sim.scenario.schema import ScenarioError
from pssc_sim.scorecard.scoring import Scorecard, needed_columns, scorecard

ScenarioInput = Scenario | ScenarioResult | str | Path


@dataclass(frozen=True, slots=True)
class ReportEntry:
    """One scenario of a report and, optionally, a story in plain words shown above it.

    ``narrative`` is plain text: paragraphs are separated by blank lines; it is escaped, never
    read as HTML. ``title`` replaces the scenario's name as the section heading.

    Examples
    --------
    >>> ReportEntry("scenarios/waiting_list/baseline.yaml", "No target at all.").narrative
    'No target at all.'
    """

    scenario: ScenarioInput
    narrative: str = ""
    title: str = ""


@dataclass(frozen=True, slots=True, eq=False)
class Section:
    """A scenario as the report shows it: the run, its scorecard, heading and story."""

    anchor: str
    title: str
    result: ScenarioResult
    scorecard: Scorecard
    narrative: str


def as_entry(item: ReportEntry | ScenarioInput) -> ReportEntry:
    """``item`` as a :class:`ReportEntry` (with no narrative when it is a bare scenario)."""
    return item if isinstance(item, ReportEntry) else ReportEntry(item)


def load(item: ScenarioInput, where: str) -> Scenario | ScenarioResult:
    """A scenario or result; a path must be an existing scenario file."""
    if isinstance(item, (Scenario, ScenarioResult)):
        return item
    path = Path(item)
    if not path.is_file():
        siblings = [p.name for p in path.parent.glob("*.yaml")] if path.parent.is_dir() else []
        hint = did_you_mean(path.name, siblings)
        raise ScenarioError(
            f"{where}: no such scenario file (got '{item}').{hint} Give the "
            "path of a scenario .yaml file"
        )
    return Scenario.load(path)


def prepare(
    items: Sequence[ReportEntry | ScenarioInput], against: ScenarioInput | None = None
) -> tuple[Section, ...]:
    """Run every scenario once (and the reference) and score it."""
    entries = [as_entry(item) for item in items]
    if not entries:
        raise ScenarioError(
            "scenarios: a report needs at least one scenario (got none). Pass "
            "one or more scenario files"
        )
    loaded = [load(e.scenario, f"scenarios[{i}]") for i, e in enumerate(entries)]
    reference = None if against is None else _run(load(against, "against"))
    sections = []
    for i, (entry, item) in enumerate(zip(entries, loaded, strict=True)):
        result = _run(item)
        card = scorecard(result, reference)
        sections.append(
            Section(f"scenario-{i + 1}", entry.title or result.name, result, card, entry.narrative)
        )
    return tuple(sections)


def _run(item: Scenario | ScenarioResult) -> ScenarioResult:
    scenario = item.scenario if isinstance(item, ScenarioResult) else item
    model = item.model if isinstance(item, ScenarioResult) else scenario.load_model()
    names = needed_columns(model, scenario.targets)
    if isinstance(item, ScenarioResult) and all(n in item.results.names for n in names):
        return item
    if isinstance(item, ScenarioResult) and item.seed is not None:
        scenario = scenario.with_uncertainty(seed=item.seed)
    return run(scenario, record=names)
