"""Teaching demos: a set of case-study scenarios run side by side over the same sampled worlds,
with the story in plain words and findings computed from the runs, written as one report.

A demo is data, a YAML file in ``pssc_sim/library/demos/``: a title, a story, the number of
sampled worlds (``members``), and cases, each with the measure its historical regime targets,
the outcome that matters, the scenario whose ``uncertainty:`` block gives the evidence ranges
(``evidence``), and scenarios in roles: ``blame`` (the regime in a blame culture), ``learning``
(the same regime in a learning culture) and ``pss`` (a Public Sector Scorecard outcome set), and
optionally ``none`` (no target: the reference) and ``audit`` (the blame regime under independent
audit). Scenario files are paths under the repository's ``scenarios/`` folder.

Every regime of a case runs over the same worlds (one design, one seed: see
:mod:`pssc_sim.report.robustness`), so each finding is a paired comparison tested world by world:
the findings give the share of worlds in which each claim holds and the parameters that decide
it. They are read from the runs, never written in the demo file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pssc_sim.errors import ModelError, did_you_mean
from pssc_sim.ir.lowering import hidden
from pssc_sim.ir.model import Better, Measure, TimeSpec
from pssc_sim.parse.yaml_reader import read_yaml
from pssc_sim.report.content import Section
from pssc_sim.report.figures import Picture
from pssc_sim.report.html import number
from pssc_sim.report.robustness import (
    LEAST_FOR_SENSITIVITY,
    Claim,
    Evidence,
    claims_picture,
    deciding,
)
from pssc_sim.report.words import label, points, quantity, when
from pssc_sim.scenario.definition import Scenario
from pssc_sim.scenario.runner import ScenarioResult, run
from pssc_sim.scenario.schema import ScenarioError
from pssc_sim.scenario.targets import Target, TargetKind
from pssc_sim.scorecard.scoring import ScorecardRow, compared, needed_columns, scorecard

#: The folder of the demo files shipped with the package.
DEMO_FOLDER = Path(__file__).resolve().parent.parent / "library" / "demos"
#: The roles every case plays.
ROLES = ("blame", "learning", "pss")
#: Roles a case may add: no target (the reference of every comparison) and the blame regime
#: under independent audit.
OPTIONAL_ROLES = ("none", "audit")
#: The order the scenarios are shown in.
ORDER = ("none", "blame", "learning", "pss", "audit")
#: Sampled worlds per regime when the demo file does not say.
DEFAULT_MEMBERS = 200
_TOP_KEYS = ("demo", "title", "narrative", "members", "cases")
_CASE_KEYS = ("title", "target", "outcome", "evidence", "narrative", "comparison", "scenarios")
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
    evidence: Path | None = None

    def scenario(self, role: str) -> DemoScenario:
        """The scenario playing ``role``."""
        return next(s for s in self.scenarios if s.role == role)

    def has(self, role: str) -> bool:
        """Whether a scenario plays ``role``."""
        return any(s.role == role for s in self.scenarios)


@dataclass(frozen=True, slots=True)
class Demo:
    """A teaching demo: title, story and cases (see the module docstring)."""

    name: str
    title: str
    narrative: str
    cases: tuple[Case, ...]
    members: int = DEFAULT_MEMBERS


@dataclass(frozen=True, slots=True)
class Finding:
    """What one scenario's run shows about a case's targeted measure and outcome.

    ``reported``, ``true`` and ``gap`` are the targeted measure's scorecard values at its target
    date (shares for a threshold-share target, rate x period for a count); ``outcome`` is the
    true value of the outcome measure at the end of the run (the median member's in an
    ensemble). ``worlds`` holds the same, world by world: the reported and true targeted
    quantity at the target date (of the case's blame regime) and the true outcome at the end.
    """

    role: str
    row: ScorecardRow
    outcome: float
    worlds: Mapping[str, np.ndarray] | None = None

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
    claims: tuple[Claim, ...] = ()

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
    raise DemoError(
        f"demo: no scenarios/ folder with a models/ folder beside it (got '{here}' "
        "and its parents). Run the demo from the pssc_sim checkout"
    )


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
                raise self.error(
                    f"{where}.{key}" if where else str(key), f"unknown key '{key}'.{hint}"
                )
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
        members = top.get("members", DEFAULT_MEMBERS)
        if isinstance(members, bool) or not isinstance(members, int) or members < 2:
            raise self.error(
                "members",
                f"expected a whole number of sampled worlds, at least 2 "
                f"(got {members!r}). Write members: 200",
            )
        return Demo(
            name,
            self.text(top, "title", "demo"),
            self.text(top, "narrative", "demo"),
            tuple(self.case(c, f"cases[{i}]") for i, c in enumerate(cases)),
            members,
        )

    def case(self, value: Any, where: str) -> Case:
        case = self.mapping(value, _CASE_KEYS, where)
        entries = case.get("scenarios")
        if not isinstance(entries, list):
            raise self.error(f"{where}.scenarios", f"expected a list (got {entries!r})")
        scenarios = tuple(
            self.scenario(s, f"{where}.scenarios[{i}]") for i, s in enumerate(entries)
        )
        roles = sorted(s.role for s in scenarios)
        if sorted(r for r in roles if r in ROLES) != sorted(ROLES) or len(set(roles)) < len(roles):
            raise self.error(
                f"{where}.scenarios",
                f"needs one scenario in each role {', '.join(ROLES)} (got {roles})",
            )
        order = {role: i for i, role in enumerate(ORDER)}
        evidence = None
        if case.get("evidence") is not None:
            evidence = self.file(case, "evidence", where)
        return Case(
            self.text(case, "title", where),
            self.text(case, "target", where),
            self.text(case, "outcome", where),
            self.text(case, "narrative", where),
            self.text(case, "comparison", where),
            tuple(sorted(scenarios, key=lambda s: order[s.role])),
            evidence,
        )

    def file(self, mapping: Mapping[str, Any], key: str, where: str) -> Path:
        path = self.scenarios / self.text(mapping, key, where)
        if not path.is_file():
            raise self.error(
                f"{where}.{key}",
                f"no such scenario file (got '{path}'). Give a path under the scenarios/ folder",
            )
        return path

    def scenario(self, value: Any, where: str) -> DemoScenario:
        entry = self.mapping(value, _SCENARIO_KEYS, where)
        role = self.text(entry, "role", where)
        if role not in ORDER:
            hint = did_you_mean(role, ORDER) or f" Roles: {', '.join(ORDER)}."
            raise self.error(f"{where}.role", f"unknown role '{role}'.{hint}")
        path = self.file(entry, "file", where)
        return DemoScenario(
            path, role, self.text(entry, "title", where), self.text(entry, "narrative", where)
        )


def run_case(case: Case, index: int = 0, members: int | None = None) -> CaseRun:
    """Run a case's scenarios, score them and read the findings.

    Each scenario runs once at the central value of every parameter (the run its section of the
    report shows). With an ``evidence`` scenario, each also runs over the same ``members``
    sampled worlds (default: the evidence block's own number), recording only what the claims
    read, and the findings carry their robustness.
    """
    blame = Scenario.load(case.scenario("blame").path)
    target = next((t for t in blame.targets if t.measure == case.target), None)
    if target is None:
        raise ScenarioError(
            f"{blame.label}: the blame regime has no target on the case's "
            f"target '{case.target}' (got targets on "
            f"{[t.measure for t in blame.targets]}). Name its targeted measure"
        )
    evidence = None
    if case.evidence is not None:
        evidence = Evidence.of(Scenario.load(case.evidence), members)
    central: dict[str, ScenarioResult] = {}
    worlds: dict[str, dict[str, np.ndarray]] = {}
    for entry in case.scenarios:
        scenario = Scenario.load(entry.path)
        if entry.role == "none" and target.threshold is not None:
            # No target, but the share the target would judge is still recorded.
            scenario = scenario.with_set(**{hidden(case.target, "threshold"): target.threshold})
        central[entry.role] = _run(scenario, case, target)
        if evidence is not None:
            # Only what the claims read: the outcome (a variable) and, recorded besides, the
            # targeted ledgers (some of them hidden variables, which outputs do not name).
            outcome = next(
                m.true_column for m in central[entry.role].model.measures if m.name == case.outcome
            )
            ensemble = run(
                evidence.for_regime(scenario).with_outputs(outcome),
                record=_columns(scenario, case, target),
            )
            worlds[entry.role] = _worlds(ensemble, case, target)
    sections, findings = [], []
    reference = central.get("none")
    for i, entry in enumerate(case.scenarios):
        result = central[entry.role]
        card = scorecard(result, None if entry.role == "none" else reference)
        sections.append(
            Section(f"case-{index + 1}-{i + 1}", entry.title, result, card, entry.narrative)
        )
        findings.append(
            Finding(
                entry.role, card.row(case.target), _end_value(result, case), worlds.get(entry.role)
            )
        )
    case_run = CaseRun(case, tuple(sections), tuple(findings))
    if evidence is None:
        return case_run
    names = evidence.names(blame)
    unit = evidence.unit(len(names))
    tested = evidence.members >= LEAST_FOR_SENSITIVITY
    claims = tuple(
        Claim(statement, margin, deciding(names, unit, margin, seed=evidence.seed), tested)
        for statement, margin in _claims(case_run, target)
    )
    return CaseRun(case, tuple(sections), tuple(findings), claims)


def _columns(scenario: Scenario, case: Case, target: Target) -> list[str]:
    """What a case's findings read of a run of ``scenario``."""
    model = scenario.load_model()
    names = {m.name: m for m in model.measures}
    for key in ("target", "outcome"):
        name = getattr(case, key)
        if name not in names:
            hint = did_you_mean(name, list(names))
            raise ScenarioError(
                f"{scenario.label}: the case's {key} '{name}' is not a measure "
                f"of model {model.name}.{hint}"
            )
    record = [
        *needed_columns(model, scenario.targets),
        *needed_columns(model, (target,)),
        names[case.outcome].true_column,
    ]
    return list(dict.fromkeys(record))


def _run(scenario: Scenario, case: Case, target: Target) -> ScenarioResult:
    return run(scenario, record=_columns(scenario, case, target))


def _end_value(result: ScenarioResult, case: Case) -> float:
    measure = next(m for m in result.model.measures if m.name == case.outcome)
    values = np.asarray(result.results[measure.true_column], dtype=float)
    last = values[-1] if values.ndim == 1 else values[-1, :]
    return float(np.median(last))


def _worlds(result: ScenarioResult, case: Case, target: Target) -> dict[str, np.ndarray]:
    """World by world: the targeted quantity (reported and true) at the target date, as the
    case's blame regime judges it, and the true outcome at the end."""
    measures = {m.name: m for m in result.model.measures}
    reported, true = compared(result, measures[case.target], target, target.by)
    values = np.asarray(result.results[measures[case.outcome].true_column], dtype=float)
    outcome = values[-1] if values.ndim == 1 else values[-1, :]
    return {"reported": reported, "true": true, "outcome": np.atleast_1d(outcome)}


def _claims(case_run: CaseRun, target: Target) -> list[tuple[str, np.ndarray]]:
    """The claims a case's runs test, each with its margin in every world (> 0: it holds)."""
    case = case_run.case
    model = case_run.sections[0].result.model
    measure = next(m for m in model.measures if m.name == case.target)
    outcome = case_run.outcome_measure()
    sign = 1.0 if target.higher_is_better(measure.better) else -1.0
    better = 1.0 if outcome.better is Better.HIGHER else -1.0
    worlds = {f.role: f.worlds for f in case_run.findings if f.worlds is not None}
    q = _quantity(case_run)
    out = label(outcome)

    def gap(role: str) -> np.ndarray:
        return np.asarray(sign * (worlds[role]["reported"] - worlds[role]["true"]))

    def real(role: str) -> np.ndarray:
        return np.asarray(sign * (worlds[role]["true"] - worlds["none"]["true"]))

    def ahead(role: str, other: str) -> np.ndarray:
        return np.asarray(better * (worlds[role]["outcome"] - worlds[other]["outcome"]))

    claims = [
        (
            f"under the target in a blame culture the reported {q} flatters the true one",
            gap("blame"),
        ),
        (
            "the gap between the ledgers is wider under blame than under learning",
            gap("blame") - gap("learning"),
        ),
    ]
    if "none" in worlds:
        claims += [
            (f"the target in a blame culture raises the true {q} above no target", real("blame")),
            (
                f"under the target in a blame culture, real improvement outweighs gaming: the "
                f"true {q} gains more over no target than the reported ledger flatters it",
                real("blame") - gap("blame"),
            ),
            (
                f"the target in a blame culture gives a better true {out} than no target",
                ahead("blame", "none"),
            ),
        ]
    claims += [
        (
            f"the PSS outcome set gives a better true {out} than the target in a blame culture",
            ahead("pss", "blame"),
        ),
        (
            f"the PSS outcome set gives a better true {out} than the target in a learning culture",
            ahead("pss", "learning"),
        ),
    ]
    if "audit" in worlds:
        claims.append(
            (
                "independent audit of the same target in a blame culture narrows the "
                "gap between the ledgers",
                gap("blame") - gap("audit"),
            )
        )
        if "none" in worlds:
            claims.append(
                (
                    f"under the audited target, real improvement outweighs gaming: the "
                    f"true {q} gains more over no target than the reported ledger "
                    "flatters it",
                    real("audit") - gap("audit"),
                )
            )
    return claims


def robustness_text(case_run: CaseRun) -> str:
    """Each claim of a case with the share of worlds in which it holds and what decides it
    (paragraphs separated by blank lines; empty without an evidence ensemble)."""
    return "\n\n".join(c.sentence() for c in case_run.claims)


def robustness_picture(case_run: CaseRun) -> Picture | None:
    """The share of worlds in which each claim of a case holds (see :func:`claims_picture`)."""
    return claims_picture(case_run.claims)


def findings_text(case_run: CaseRun) -> str:
    """The findings of a case in plain words, from its runs (paragraphs separated by blank
    lines)."""
    blame, learning, pss = (case_run.finding(role) for role in ROLES)
    result = case_run.sections[0].result
    quantity_name = _quantity(case_run)
    time = result.model.time
    paragraphs = [
        _ledgers("In the blame culture", quantity_name, blame, time),
        _ledgers("In the learning culture", quantity_name, learning, time),
    ]
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
        "parameter."
    )
    paragraphs += [c.sentence() for c in case_run.claims]
    return "\n\n".join(paragraphs)


def finding_sources(case_run: CaseRun) -> tuple[str, ...]:
    """For each paragraph of :func:`findings_text`, the id of the chart it is read from: the
    targeted measure's ledgers in the blame and learning runs, then the outcome's ledgers in the
    PSS run."""
    blame, learning, pss = (case_run.sections[i] for i in _role_indexes(case_run))
    target = next(
        (t for t in blame.result.scenario.targets if t.measure == case_run.case.target), None
    )
    share = target is not None and target.kind is TargetKind.THRESHOLD_SHARE
    ledger = f"ledger-{case_run.case.target}{'-share' if share else ''}"
    part = blame.anchor.rsplit("-", 1)[0]
    return (
        f"{blame.anchor}-{ledger}",
        f"{learning.anchor}-{ledger}",
        f"{blame.anchor}-{ledger}",
        f"{pss.anchor}-ledger-{case_run.case.outcome}",
        *[f"{part}-robustness"] * len(case_run.claims),
    )


def _role_indexes(case_run: CaseRun) -> list[int]:
    return [next(i for i, f in enumerate(case_run.findings) if f.role == role) for role in ROLES]


def _quantity(case_run: CaseRun) -> str:
    """What the targeted measure's scorecard values are, in words."""
    result = next(
        s.result
        for s in case_run.sections
        if any(t.measure == case_run.case.target for t in s.result.scenario.targets)
    )
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
    return (
        f"{prefix} the reported {quantity_name} {met} the target ({number(row.reported, kind)} "
        f"against {number(row.target, kind)} by {when(time, row.at)}) and the true value "
        f"{met_true} it ({number(row.true, kind)}): the reported ledger flatters by {by}."
    )


def _culture_sentence(blame: float, learning: float) -> str:
    """How the gap between the ledgers differs between the two cultures, in words."""
    wide, narrow = abs(blame), abs(learning)
    if wide == narrow:
        return "The gap between the ledgers is the same under blame as under learning."
    first, second = ("blame", "learning") if wide > narrow else ("learning", "blame")
    larger, smaller = max(wide, narrow), min(wide, narrow)
    if smaller == 0:
        return f"The ledgers part only under {first}: the same target, a different culture."
    return (
        f"The gap between the ledgers is {larger / smaller:.1f} times as wide under "
        f"{first} as under {second}: the same target, a different culture."
    )


def _comparison(measure: Measure, value: float, reference: float) -> str:
    """'better', 'worse' or 'no better and no worse': ``value`` against ``reference``."""
    if value == reference:
        return "no better and no worse"
    return "better" if _better(measure, value, reference) else "worse"


def _better(measure: Measure, value: float, reference: float) -> bool:
    return value > reference if measure.better is Better.HIGHER else value < reference


def run_demo(demo: Demo, members: int | None = None) -> tuple[CaseRun, ...]:
    """Run every case of ``demo`` over ``members`` sampled worlds (default: the demo's)."""
    count = demo.members if members is None else members
    return tuple(run_case(case, i, count) for i, case in enumerate(demo.cases))


def demo_html(demo: Demo, runs: Sequence[CaseRun]) -> str:
    """The demo's report as HTML text: its story, then per case the story, the findings, each
    scenario's section and the comparison of the three."""
    from pssc_sim.report.html import Part, render_parts

    parts = [
        Part(
            f"case-{i + 1}",
            r.case.title,
            r.case.narrative,
            findings_text(r),
            r.sections,
            r.case.comparison,
            finding_sources(r),
            tuple(p for p in (robustness_picture(r),) if p is not None),
        )
        for i, r in enumerate(runs)
    ]
    return render_parts(parts, title=demo.title, narrative=demo.narrative)


def write_demo(
    name: str, out: str | Path, *, scenarios: Path | None = None, members: int | None = None
) -> tuple[Path, tuple[CaseRun, ...]]:
    """Run the demo ``name`` over ``members`` sampled worlds (default: the demo file's) and
    write ``out/report.html`` (atomically).

    Returns the report's path and the runs, whose findings :func:`findings_text` words.
    """
    from pssc_sim.output import write_text

    demo = load_demo(name, scenarios=scenarios)
    runs = run_demo(demo, members)
    folder = Path(out)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DemoError(
            f"out: cannot create the folder ({exc.strerror}) (got '{out}'). Give a "
            "folder you can write to"
        ) from None
    path = write_text(demo_html(demo, runs), folder / "report.html")
    return path, runs
