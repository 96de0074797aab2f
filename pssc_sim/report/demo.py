"""Teaching demos: a set of case-study scenarios run side by side, with the story in plain words
and findings computed from the runs, written as one report.

A demo is data, a YAML file in ``pssc_sim/library/demos/``: a title, a story, and cases, each
with the measure its historical regime targets, the outcome that matters, and scenarios in three
roles: ``blame`` (the regime in a blame culture), ``learning`` (the same regime in a learning
culture) and ``pss`` (a Public Sector Scorecard outcome set). Scenario files are paths under the
repository's ``scenarios/`` folder. The findings (reported against true at the target date, the
gap between the ledgers, the true outcome at the end) are read from the runs, never written in
the demo file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pssc_sim.errors import ModelError, did_you_mean
from pssc_sim.ir.model import Better, Measure, TimeSpec
from pssc_sim.parse.yaml_io import read_yaml
from pssc_sim.report.content import Section
from pssc_sim.report.html import number
from pssc_sim.report.words import label, points, quantity, when
from pssc_sim.scenario.definition import Scenario
from pssc_sim.scenario.runner import ScenarioResult, run
from pssc_sim.scenario.schema import ScenarioError
from pssc_sim.scenario.targets import TargetKind
from pssc_sim.scorecard.scoring import ScorecardRow, needed_columns, scorecard

#: The folder of the demo files shipped with the package.
DEMO_FOLDER = Path(__file__).resolve().parent.parent / "library" / "demos"
#: The roles a demo's scenarios play, in the order they are shown.
ROLES = ("blame", "learning", "pss")
_TOP_KEYS = ("demo", "title", "narrative", "cases")
_CASE_KEYS = ("title", "target", "outcome", "narrative", "comparison", "scenarios")
_SCENARIO_KEYS = ("file", "role", "title", "narrative")


class DemoError(ModelError):
    """A demo that does not exist or a demo file that is not valid."""


@dataclass(frozen=True, slots=True)
class DemoScenario:
    """A scenario of a case: its file, its role and its story."""

    path: Path
    role: str
    title: str
    narrative: str


@dataclass(frozen=True, slots=True)
class Case:
    """One service in a demo: the targeted measure, the outcome that matters, the scenarios."""

    title: str
    target: str
    outcome: str
    narrative: str
    comparison: str
    scenarios: tuple[DemoScenario, ...]

    def scenario(self, role: str) -> DemoScenario:
        """The scenario playing ``role``."""
        return next(s for s in self.scenarios if s.role == role)


@dataclass(frozen=True, slots=True)
class Demo:
    """A teaching demo: title, story and cases (see the module docstring)."""

    name: str
    title: str
    narrative: str
    cases: tuple[Case, ...]


@dataclass(frozen=True, slots=True)
class Finding:
    """What one scenario's run shows about a case's targeted measure and outcome.

    ``reported``, ``true`` and ``gap`` are the targeted measure's scorecard values at its target
    date (shares for a threshold-share target, rate x period for a count); ``outcome`` is the
    true value of the outcome measure at the end of the run (the median member's in an
    ensemble).
    """

    role: str
    row: ScorecardRow
    outcome: float

    @property
    def gap(self) -> float:
        """The reported-minus-true gap of the targeted measure, in its own direction (> 0 when
        the reported ledger flatters)."""
        share = self.row.kind == TargetKind.THRESHOLD_SHARE.value
        sign = 1.0 if share or self.row.better == Better.HIGHER.value else -1.0
        return sign * self.row.gap


@dataclass(frozen=True, slots=True, eq=False)
class CaseRun:
    """A case with its runs: the report sections and the findings, in role order."""

    case: Case
    sections: tuple[Section, ...]
    findings: tuple[Finding, ...]

    def finding(self, role: str) -> Finding:
        """The finding of the scenario playing ``role``."""
        return next(f for f in self.findings if f.role == role)

    def outcome_measure(self) -> Measure:
        """The outcome measure, as the model declares it."""
        model = self.sections[0].result.model
        return next(m for m in model.measures if m.name == self.case.outcome)


def demo_names(folder: Path = DEMO_FOLDER) -> list[str]:
    """The demos shipped with the package."""
    return sorted(p.stem for p in folder.glob("*.yaml"))


def load_demo(name: str, *, scenarios: Path | None = None, folder: Path = DEMO_FOLDER) -> Demo:
    """Read the demo ``name``; scenario paths resolve under ``scenarios`` (default: the
    repository's ``scenarios/`` folder, see :func:`scenarios_folder`).

    Examples
    --------
    >>> demo = load_demo("gaming")
    >>> [case.target for case in demo.cases]
    ['cat_a_response_time', 'four_week_quits']
    """
    names = demo_names(folder)
    if name not in names:
        hint = did_you_mean(name, names) or f" Demos: {', '.join(names)}."
        raise DemoError(f"demo: no demo named '{name}' (got {name!r}).{hint}")
    path = folder / f"{name}.yaml"
    document = read_yaml(path, error=DemoError)
    return _Reader(path, scenarios or scenarios_folder()).demo(name, document)


def scenarios_folder(start: Path | None = None) -> Path:
    """The ``scenarios/`` folder of the working directory or one of its parents, else of the
    checkout the package was installed from."""
    here = (start or Path.cwd()).resolve()
    for base in (here, *here.parents, Path(__file__).resolve().parents[2]):
        if (base / "scenarios").is_dir() and (base / "models").is_dir():
            return base / "scenarios"
    raise DemoError(f"demo: no scenarios/ folder with a models/ folder beside it (got '{here}' "
                    "and its parents). Run the demo from the pssc_sim checkout")


class _Reader:
    """Checks a demo document; messages name the demo file and the key path."""

    def __init__(self, path: Path, scenarios: Path) -> None:
        self.path = path
        self.scenarios = scenarios

    def error(self, where: str, message: str) -> DemoError:
        return DemoError(f"{self.path}: {where}: {message}")

    def mapping(self, value: Any, keys: tuple[str, ...], where: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.error(where, f"expected a mapping (got {type(value).__name__})")
        for key in value:
            if key not in keys:
                hint = did_you_mean(str(key), keys) or f" Allowed keys: {', '.join(keys)}."
                raise self.error(f"{where}.{key}" if where else str(key),
                                 f"unknown key '{key}'.{hint}")
        return value

    def text(self, mapping: Mapping[str, Any], key: str, where: str) -> str:
        value = mapping.get(key)
        if not isinstance(value, str) or not value.strip():
            raise self.error(f"{where}.{key}", f"expected text (got {value!r})")
        return value.strip()

    def demo(self, name: str, document: Any) -> Demo:
        top = self.mapping(document, _TOP_KEYS, "")
        cases = top.get("cases")
        if not isinstance(cases, list) or not cases:
            raise self.error("cases", f"expected a list of cases (got {cases!r})")
        return Demo(name, self.text(top, "title", "demo"), self.text(top, "narrative", "demo"),
                    tuple(self.case(c, f"cases[{i}]") for i, c in enumerate(cases)))

    def case(self, value: Any, where: str) -> Case:
        case = self.mapping(value, _CASE_KEYS, where)
        entries = case.get("scenarios")
        if not isinstance(entries, list):
            raise self.error(f"{where}.scenarios", f"expected a list (got {entries!r})")
        scenarios = tuple(self.scenario(s, f"{where}.scenarios[{i}]")
                          for i, s in enumerate(entries))
        roles = sorted(s.role for s in scenarios)
        if roles != sorted(ROLES):
            raise self.error(f"{where}.scenarios", f"needs one scenario in each role "
                                                   f"{', '.join(ROLES)} (got {roles})")
        order = {role: i for i, role in enumerate(ROLES)}
        return Case(self.text(case, "title", where), self.text(case, "target", where),
                    self.text(case, "outcome", where), self.text(case, "narrative", where),
                    self.text(case, "comparison", where),
                    tuple(sorted(scenarios, key=lambda s: order[s.role])))

    def scenario(self, value: Any, where: str) -> DemoScenario:
        entry = self.mapping(value, _SCENARIO_KEYS, where)
        role = self.text(entry, "role", where)
        if role not in ROLES:
            hint = did_you_mean(role, ROLES) or f" Roles: {', '.join(ROLES)}."
            raise self.error(f"{where}.role", f"unknown role '{role}'.{hint}")
        path = self.scenarios / self.text(entry, "file", where)
        if not path.is_file():
            raise self.error(f"{where}.file", f"no such scenario file (got '{path}'). Give a "
                                              "path under the scenarios/ folder")
        return DemoScenario(path, role, self.text(entry, "title", where),
                            self.text(entry, "narrative", where))


def run_case(case: Case, index: int = 0) -> CaseRun:
    """Run a case's scenarios, score them and read the findings."""
    sections, findings = [], []
    for i, entry in enumerate(case.scenarios):
        result = _run(Scenario.load(entry.path), case)
        card = scorecard(result)
        sections.append(Section(f"case-{index + 1}-{i + 1}", entry.title, result, card,
                                entry.narrative))
        findings.append(Finding(entry.role, card.row(case.target), _end_value(result, case)))
    return CaseRun(case, tuple(sections), tuple(findings))


def _run(scenario: Scenario, case: Case) -> ScenarioResult:
    model = scenario.load_model()
    names = {m.name: m for m in model.measures}
    for key in ("target", "outcome"):
        name = getattr(case, key)
        if name not in names:
            hint = did_you_mean(name, list(names))
            raise ScenarioError(f"{scenario.label}: the case's {key} '{name}' is not a measure "
                                f"of model {model.name}.{hint}")
    record = [*needed_columns(model, scenario.targets), names[case.outcome].true_column]
    return run(scenario, record=list(dict.fromkeys(record)))


def _end_value(result: ScenarioResult, case: Case) -> float:
    measure = next(m for m in result.model.measures if m.name == case.outcome)
    values = np.asarray(result.results[measure.true_column], dtype=float)
    last = values[-1] if values.ndim == 1 else values[-1, :]
    return float(np.median(last))


def findings_text(case_run: CaseRun) -> str:
    """The findings of a case in plain words, from its runs (paragraphs separated by blank
    lines)."""
    blame, learning, pss = (case_run.finding(role) for role in ROLES)
    result = case_run.sections[0].result
    quantity_name = _quantity(case_run)
    time = result.model.time
    paragraphs = [_ledgers("In the blame culture", quantity_name, blame, time),
                  _ledgers("In the learning culture", quantity_name, learning, time)]
    paragraphs.append(_culture_sentence(blame.gap, learning.gap))
    outcome = case_run.outcome_measure()
    units = outcome.meta.units
    paragraphs.append(
        f"The true {label(outcome)} at the end of the run is {quantity(pss.outcome, units)} "
        f"under the PSS outcome set, against {quantity(blame.outcome, units)} under the "
        f"{blame.row.kind or 'level'} target in the blame culture and "
        f"{quantity(learning.outcome, units)} in the learning culture "
        f"({outcome.better.value} is better). The outcome set does "
        f"{_comparison(outcome, pss.outcome, blame.outcome)} than the target in the blame "
        "culture for the people the service is for, in this run at the central value of every "
        "parameter.")
    return "\n\n".join(paragraphs)


def finding_sources(case_run: CaseRun) -> tuple[str, ...]:
    """For each paragraph of :func:`findings_text`, the id of the chart it is read from: the
    targeted measure's ledgers in the blame and learning runs, then the outcome's ledgers in the
    PSS run."""
    blame, learning, pss = (case_run.sections[i] for i in _role_indexes(case_run))
    target = next((t for t in blame.result.scenario.targets
                   if t.measure == case_run.case.target), None)
    share = target is not None and target.kind is TargetKind.THRESHOLD_SHARE
    ledger = f"ledger-{case_run.case.target}{'-share' if share else ''}"
    return (f"{blame.anchor}-{ledger}", f"{learning.anchor}-{ledger}",
            f"{blame.anchor}-{ledger}", f"{pss.anchor}-ledger-{case_run.case.outcome}")


def _role_indexes(case_run: CaseRun) -> list[int]:
    return [next(i for i, f in enumerate(case_run.findings) if f.role == role) for role in ROLES]


def _quantity(case_run: CaseRun) -> str:
    """What the targeted measure's scorecard values are, in words."""
    result = next(s.result for s in case_run.sections
                  if any(t.measure == case_run.case.target for t in s.result.scenario.targets))
    target = next(t for t in result.scenario.targets if t.measure == case_run.case.target)
    measure = next(m for m in result.model.measures if m.name == target.measure)
    name = label(measure)
    if target.kind is TargetKind.THRESHOLD_SHARE:
        within = quantity(target.threshold or 0.0, measure.meta.units)
        return f"share of cases with {name} under {within}"
    return name


def _ledgers(prefix: str, quantity_name: str, finding: Finding, time: TimeSpec) -> str:
    row = finding.row
    if row.target is None:
        return f"{prefix} the {quantity_name} has no target."
    kind = row.kind
    met = "meets" if row.met else "misses"
    met_true = "meets" if row.met_true else "misses"
    share = kind == TargetKind.THRESHOLD_SHARE.value
    by = points(finding.gap) if share else quantity(finding.gap, row.units)
    return (f"{prefix} the reported {quantity_name} {met} the target ({number(row.reported, kind)} "
            f"against {number(row.target, kind)} by {when(time, row.at)}) and the true value "
            f"{met_true} it ({number(row.true, kind)}): the reported ledger flatters by {by}.")


def _culture_sentence(blame: float, learning: float) -> str:
    """How the gap between the ledgers differs between the two cultures, in words."""
    wide, narrow = abs(blame), abs(learning)
    if wide == narrow:
        return "The gap between the ledgers is the same under blame as under learning."
    first, second = ("blame", "learning") if wide > narrow else ("learning", "blame")
    larger, smaller = max(wide, narrow), min(wide, narrow)
    if smaller == 0:
        return (f"The ledgers part only under {first}: the same target, a different "
                "culture.")
    return (f"The gap between the ledgers is {larger / smaller:.1f} times as wide under "
            f"{first} as under {second}: the same target, a different culture.")


def _comparison(measure: Measure, value: float, reference: float) -> str:
    """'better', 'worse' or 'no better and no worse': ``value`` against ``reference``."""
    if value == reference:
        return "no better and no worse"
    return "better" if _better(measure, value, reference) else "worse"


def _better(measure: Measure, value: float, reference: float) -> bool:
    return value > reference if measure.better is Better.HIGHER else value < reference


def run_demo(demo: Demo) -> tuple[CaseRun, ...]:
    """Run every case of ``demo``."""
    return tuple(run_case(case, i) for i, case in enumerate(demo.cases))


def demo_html(demo: Demo, runs: Sequence[CaseRun]) -> str:
    """The demo's report as HTML text: its story, then per case the story, the findings, each
    scenario's section and the comparison of the three."""
    from pssc_sim.report.html import Part, render_parts

    parts = [Part(f"case-{i + 1}", r.case.title, r.case.narrative, findings_text(r),
                  r.sections, r.case.comparison, finding_sources(r)) for i, r in enumerate(runs)]
    return render_parts(parts, title=demo.title, narrative=demo.narrative)


def write_demo(name: str, out: str | Path, *, scenarios: Path | None = None
               ) -> tuple[Path, tuple[CaseRun, ...]]:
    """Run the demo ``name`` and write ``out/report.html`` (atomically).

    Returns the report's path and the runs, whose findings :func:`findings_text` words.
    """
    from pssc_sim.output import write_text

    demo = load_demo(name, scenarios=scenarios)
    runs = run_demo(demo)
    folder = Path(out)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DemoError(f"out: cannot create the folder ({exc.strerror}) (got '{out}'). Give a "
                        "folder you can write to") from None
    path = write_text(demo_html(demo, runs), folder / "report.html")
    return path, runs
