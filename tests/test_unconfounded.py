"""Unconfounded comparisons over every case-study scenario file.

Regimes differ only in their targets, their culture and their audit (the probability that gaming
is found and its sanction); a mechanism switched off, a parameter set or an intervention belongs
to a file that declares no target or culture of its own (a world or a policy, compared with the
file it extends). Every target can in principle be met by real improvement: its pressure reaches
the measure's true value through the model's real-improvement response (IMPROVEMENT_SHARE), and
it bites early enough to matter (a target the service would miss without it is already missed
in the first half of its period, so the pressure is there before the date, not only after it
has been missed for good).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pssc_sim.ir.lowering import hidden
from pssc_sim.ir.model import Model
from pssc_sim.parse.yaml_reader import read_yaml
from pssc_sim.report.demo import load_demo
from pssc_sim.scenario.definition import Scenario
from pssc_sim.scenario.runner import run
from pssc_sim.scenario.targets import Target, TargetKind
from pssc_sim.scorecard.scoring import compared, meets, needed_columns

ROOT = Path(__file__).resolve().parent.parent
CASES = ("ambulance", "child_obesity", "climate", "em_employment", "health_social_care", "smoking")
#: What a regime may declare besides its name and story: its targets, its culture, and (in
#: ``set``) the audit parameters.
REGIME_KEYS = frozenset({"targets", "culture"})
#: What makes a world or a policy: these never sit beside a regime's own targets or culture.
WORLD_KEYS = frozenset({"mechanisms", "interventions", "time", "model", "method"})
FILES = sorted(p for case in CASES for p in (ROOT / "scenarios" / case).glob("*.yaml"))


def is_audit(parameter: str) -> bool:
    """Whether a parameter is part of the audit regime: detection and sanction of gaming."""
    return any(
        parameter == word or parameter.endswith(f"_{word}") for word in ("detection", "sanction")
    )


def declared(path: Path) -> Mapping[str, Any]:
    document = read_yaml(path)
    assert isinstance(document, Mapping)
    return document


def world_keys(document: Mapping[str, Any]) -> set[str]:
    """The keys of ``document`` that change the world rather than the regime."""
    keys = set(document) & WORLD_KEYS
    if any(not is_audit(name) for name in document.get("set") or {}):
        keys.add("set")
    return keys


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_regime_file_declares_only_targets_culture_and_audit(path: Path) -> None:
    document = declared(path)
    if set(document) & REGIME_KEYS:
        assert world_keys(document) == set(), (
            f"{path.name} declares a regime (targets or culture) and also changes the world "
            f"({sorted(world_keys(document))}): put those in a file of their own"
        )


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_file_that_switches_a_mechanism_off_sets_no_target(path: Path) -> None:
    document = declared(path)
    switches = document.get("mechanisms") or {}
    if any(value in ("off", False) for value in switches.values()):
        assert "targets" not in document
        assert "culture" not in document


def world(scenario: Scenario) -> dict[str, Any]:
    """What a scenario runs in apart from its regime: everything but targets, culture, audit,
    the name, the story and the sampling."""
    document = dict(scenario.to_document())
    for key in ("scenario", "description", "targets", "culture", "uncertainty", "extends"):
        document.pop(key, None)
    document["set"] = {k: v for k, v in (document.get("set") or {}).items() if not is_audit(k)}
    return document


def demo_cases() -> Iterator[tuple[str, str, Path]]:
    for case in load_demo("gaming").cases:
        for entry in case.scenarios:
            yield case.title, entry.role, entry.path


@pytest.mark.parametrize("case", [c.title for c in load_demo("gaming").cases])
def test_the_demo_regimes_of_a_case_share_one_world(case: str) -> None:
    """The regimes the demo compares run in one world: the same model, clock, interventions,
    mechanisms and parameters, apart from the audit."""
    entries = [p for title, _, p in demo_cases() if title == case]
    worlds = {json.dumps(world(Scenario.load(p)), sort_keys=True, default=str) for p in entries}
    assert len(worlds) == 1


def graph(model: Model) -> dict[str, set[str]]:
    """Cause -> effects over the lowered model (hidden variables included)."""
    out: dict[str, set[str]] = {}
    for flow in model.flows:
        for symbol in flow.rate.free_symbols:
            out.setdefault(symbol.name, set()).add(flow.name)
        for stock in (flow.source, flow.target):
            if stock is not None:
                out.setdefault(flow.name, set()).add(stock)
    for aux in model.auxiliaries:
        for symbol in aux.equation.free_symbols:
            out.setdefault(symbol.name, set()).add(aux.name)
    return out


def downstream(links: Mapping[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for effect in links.get(todo.pop(), ()):
            if effect not in seen:
                seen.add(effect)
                todo.append(effect)
    return seen


def targeted() -> Iterator[tuple[Path, Target]]:
    for path in FILES:
        for target in Scenario.load(path).targets:
            yield path, target


@pytest.mark.parametrize(
    ("path", "target"),
    list(targeted()),
    ids=lambda v: v.measure if isinstance(v, Target) else v.name,
)
def test_every_target_can_be_met_by_real_improvement(path: Path, target: Target) -> None:
    """The target's pressure reaches the true value of its measure through a variable of the
    host model that takes the real-improvement share of the response."""
    scenario = Scenario.load(path)
    model = scenario.load_model()
    document = declared(Path(model.source))
    improving = {
        name
        for section in ("flows", "auxiliaries")
        for name, body in (document.get(section) or {}).items()
        if "IMPROVEMENT_SHARE" in json.dumps(body)
    }
    links = graph(model)
    pressed = downstream(links, hidden(target.measure, "target_pressure")) | downstream(
        links, hidden(target.measure, "target_gap")
    )
    true = next(m for m in model.measures if m.name == target.measure).true_column
    assert any(v in pressed and (v == true or true in downstream(links, v)) for v in improving)


def no_target_runs() -> Iterator[tuple[str, Scenario, Target]]:
    """Each target of the case studies once, with the run of its world without targets."""
    seen = set()
    for path, target in targeted():
        scenario = Scenario.load(path).with_uncertainty(None)
        key = (
            path.parent.name,
            json.dumps(world(scenario), sort_keys=True, default=str),
            json.dumps(target.to_document(), sort_keys=True),
        )
        if key in seen:
            continue
        seen.add(key)
        yield f"{path.parent.name}/{path.stem}:{target.measure}", scenario, target


@pytest.mark.parametrize(
    ("name", "scenario", "target"),
    list(no_target_runs()),
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_a_target_missed_without_it_bites_before_its_date(
    name: str, scenario: Scenario, target: Target
) -> None:
    """In the world without the target, if the measure misses the target at its date, it is
    already missed somewhere in the first half of the target's period: a target on it would
    press from early on (a level test on a running total that is only missed after the date
    passes would not)."""
    plain = scenario.without_targets()
    if target.kind is TargetKind.THRESHOLD_SHARE:
        plain = plain.with_set(**{hidden(target.measure, "threshold"): target.threshold or 0.0})
    model = plain.load_model()
    result = run(plain, record=needed_columns(model, (target,)))
    measure = next(m for m in model.measures if m.name == target.measure)
    start = result.results.times[0] if target.start is None else target.start
    reported_at_date, _ = compared(result, measure, target, target.by)
    if bool(meets(reported_at_date, target, measure.better)[0]):
        return
    early = np.linspace(start, start + (target.by - start) / 2, 25)
    missed = [
        not bool(meets(compared(result, measure, target, float(t))[0], target, measure.better)[0])
        for t in early
    ]
    assert any(missed), f"{name}: met throughout the first half of its period, missed at its date"
