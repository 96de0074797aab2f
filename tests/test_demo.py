"""The target-gaming teaching demo: ``pssc demo gaming`` runs the ambulance and stop-smoking
services with no target, under a target in a blame culture, in a learning culture, under a PSS
outcome set and under the blame regime with independent audit, each over the same sampled
worlds, and writes one report whose findings are read from the runs.

The demo reports what the runs find and claims no winner: these tests check that every sentence
of the findings agrees with the runs it is read from (met or missed, which culture's ledgers are
further apart, whether the outcome set does better or worse), and that gaming only ever makes
the reported ledger look better than the true one."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from browser import open_page

from pssc_sim.cli import main
from pssc_sim.report.demo import (
    CaseRun,
    DemoError,
    findings_text,
    load_demo,
    scenarios_folder,
    write_demo,
)

ROOT = Path(__file__).resolve().parent.parent
#: Sampled worlds per regime in these tests (the demo file asks for more).
WORLDS = 16


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, tuple[CaseRun, ...]]:
    return write_demo("gaming", tmp_path_factory.mktemp("demo"), members=WORLDS)


def test_cases_are_the_ambulance_and_smoking_services() -> None:
    demo = load_demo("gaming")
    models = [{s.path.parent.name for s in case.scenarios} for case in demo.cases]
    assert models == [{"ambulance"}, {"smoking"}]
    assert [[s.role for s in case.scenarios] for case in demo.cases] == [
        ["none", "blame", "learning", "pss", "audit"]
    ] * 2
    assert all(case.evidence is not None for case in demo.cases)


@pytest.mark.parametrize("case", [0, 1], ids=["ambulance", "smoking"])
@pytest.mark.parametrize("role", ["blame", "learning"])
def test_gaming_only_flatters_the_reported_ledger(
    demo: tuple[Path, tuple[CaseRun, ...]], case: int, role: str
) -> None:
    assert demo[1][case].finding(role).gap >= 0


@pytest.mark.parametrize("case", [0, 1], ids=["ambulance", "smoking"])
def test_findings_say_what_the_runs_show(demo: tuple[Path, tuple[CaseRun, ...]], case: int) -> None:
    run = demo[1][case]
    text = findings_text(run)
    for role, prefix in (
        ("blame", "In the blame culture"),
        ("learning", "In the learning culture"),
    ):
        row = run.finding(role).row
        met = "meets" if row.met else "misses"
        met_true = "meets" if row.met_true else "misses"
        assert re.search(
            rf"{prefix} the reported .* {met} the target .* and the true value "
            rf"{met_true} it",
            text,
        )
    blame, learning = abs(run.finding("blame").gap), abs(run.finding("learning").gap)
    if blame != learning:
        wider = "blame" if blame > learning else "learning"
        assert re.search(rf"(as wide under|part only under) {wider}", text)
    measure = run.outcome_measure()
    pss, target = run.finding("pss").outcome, run.finding("blame").outcome
    if pss != target:
        better = (pss > target) if measure.better.value == "higher" else (pss < target)
        assert f"The outcome set does {'better' if better else 'worse'} than" in text


def test_findings_quote_the_scorecard(demo: tuple[Path, tuple[CaseRun, ...]]) -> None:
    run = demo[1][1]
    row = run.finding("blame").row
    text = findings_text(run)
    assert f"({row.reported:.4g} against {row.target:.4g}" in text
    assert "In the blame culture the reported four week quits" in text


def test_report_holds_stories_findings_and_every_scenario(
    demo: tuple[Path, tuple[CaseRun, ...]],
) -> None:
    path, runs = demo
    text = path.read_text()
    assert path.name == "report.html"
    assert text.count("What the runs show") == 2
    for run in runs:
        for section in run.sections:
            assert f'id="{section.anchor}"' in text
    assert "hitting the target and missing the point" in text
    assert "<script" not in text
    assert not re.search(r'src="https?:', text)


def test_report_opens_in_headless_chromium(demo: tuple[Path, tuple[CaseRun, ...]]) -> None:
    page = open_page(demo[0])
    assert page.errors == []
    assert page.images
    assert all(done and width > 0 for done, width in page.images)
    assert page.title == "Hitting the target and missing the point"


def test_cli_lists_demos(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    assert "gaming" in capsys.readouterr().out


def test_cli_unknown_demo_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "gamin"]) == 2
    assert re.search(r"no demo named 'gamin'.*Did you mean 'gaming'", capsys.readouterr().err)


def test_bad_demo_file(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text(
        "demo: broken\ntitle: T\nnarrative: N\ncases:\n"
        "  - {title: A, target: x, outcome: x, narrative: N, comparison: C, scenarios: "
        "[{file: sir/baseline.yaml, role: blamme, title: t, narrative: n}]}\n"
    )
    with pytest.raises(
        DemoError,
        match=r"broken.yaml: cases\[0\].scenarios\[0\].role: unknown "
        r"role 'blamme'. Did you mean 'blame'",
    ):
        load_demo("broken", folder=tmp_path, scenarios=ROOT / "scenarios")


def test_demo_file_needs_every_role(tmp_path: Path) -> None:
    (tmp_path / "short.yaml").write_text(
        "demo: short\ntitle: T\nnarrative: N\ncases:\n"
        "  - {title: A, target: x, outcome: x, narrative: N, comparison: C, scenarios: "
        "[{file: sir/baseline.yaml, role: blame, title: t, narrative: n}]}\n"
    )
    with pytest.raises(DemoError, match=r"needs one scenario in each role blame, learning, pss"):
        load_demo("short", folder=tmp_path, scenarios=ROOT / "scenarios")


def test_missing_scenario_file(tmp_path: Path) -> None:
    (tmp_path / "lost.yaml").write_text(
        "demo: lost\ntitle: T\nnarrative: N\ncases:\n"
        "  - {title: A, target: x, outcome: x, narrative: N, comparison: C, scenarios: "
        "[{file: sir/nowhere.yaml, role: blame, title: t, narrative: n}]}\n"
    )
    with pytest.raises(DemoError, match=r"scenarios\[0\].file: no such scenario file"):
        load_demo("lost", folder=tmp_path, scenarios=ROOT / "scenarios")


def test_scenarios_folder_is_found_from_anywhere(tmp_path: Path) -> None:
    assert scenarios_folder(tmp_path) == ROOT / "scenarios"
    assert scenarios_folder(ROOT / "models" / "sir") == ROOT / "scenarios"


def test_findings_link_to_their_charts_and_speak_plainly(
    demo: tuple[Path, tuple[CaseRun, ...]],
) -> None:
    path, runs = demo
    text = path.read_text()
    links = re.findall(r'<a href="#([^"]+)">\(see the chart\)</a>', text)
    assert len(links) == sum(len(findings_text(r).split("\n\n")) for r in runs)
    for anchor in links:
        assert f'<figure id="{anchor}">' in text
    ambulance = findings_text(runs[0])
    assert "under 8 minutes" in ambulance
    assert "flatters by" in ambulance
    assert "percentage point" in ambulance  # a difference of two shares
    assert "by 31 March 2005" in ambulance  # time.origin 1 April 2003; target at hour 17520
    assert "Category A response time" in ambulance  # the measure's label
    assert text.count("<h3>Strategy map</h3>") == sum(len(r.sections) for r in runs)


@pytest.mark.parametrize("case", [0, 1], ids=["ambulance", "smoking"])
def test_every_claim_is_tested_in_every_world(
    demo: tuple[Path, tuple[CaseRun, ...]], case: int
) -> None:
    """Each claim holds or fails in each of the same sampled worlds, and its sentence gives the
    share of them; a claim holding in at most half is said not to be supported."""
    run = demo[1][case]
    text = findings_text(run)
    assert len(run.claims) == 9
    for claim in run.claims:
        assert claim.worlds == WORLDS
        share = round(100 * claim.share)
        assert f"of {WORLDS} sampled worlds" in claim.sentence()
        assert claim.sentence() in text
        if claim.share <= 0.5:
            assert "the runs do not support this claim" in claim.sentence(), share


@pytest.mark.parametrize("case", [0, 1], ids=["ambulance", "smoking"])
def test_claims_are_read_from_paired_worlds(
    demo: tuple[Path, tuple[CaseRun, ...]], case: int
) -> None:
    """The gap claim's margin is the blame regime's reported-minus-true, world by world, and
    gaming never makes the reported ledger look worse than the true one in any world."""
    run = demo[1][case]
    for role in ("blame", "learning", "audit"):
        worlds = run.finding(role).worlds
        assert worlds is not None
        higher = run.finding(role).row.kind != "level" or run.finding(role).row.better == "higher"
        gap = (worlds["reported"] - worlds["true"]) * (1 if higher else -1)
        assert np.all(gap >= -1e-9)
    blame = run.finding("blame").worlds
    assert blame is not None
    higher = run.finding("blame").row.kind != "level"
    assert np.allclose(
        run.claims[0].margin, (blame["reported"] - blame["true"]) * (1 if higher else -1)
    )


def test_demo_file_members_must_be_a_count(tmp_path: Path) -> None:
    (tmp_path / "few.yaml").write_text(
        "demo: few\ntitle: T\nnarrative: N\nmembers: 1\ncases: [{}]\n"
    )
    with pytest.raises(
        DemoError,
        match=r"few.yaml: members: expected a whole number of sampled "
        r"worlds, at least 2 \(got 1\)",
    ):
        load_demo("few", folder=tmp_path, scenarios=ROOT / "scenarios")


def test_cli_demo_members_must_be_two_or_more(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "gaming", "--members", "1"]) == 2
    assert "--members: at least 2 sampled worlds (got 1)" in capsys.readouterr().err
