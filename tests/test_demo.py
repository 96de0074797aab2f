"""The target-gaming teaching demo: ``pssc demo gaming`` runs the ambulance and stop-smoking
services under a target in a blame culture, in a learning culture, and under a PSS outcome set,
and writes one report whose findings are read from the runs.

The demo reports what the runs find and claims no winner: these tests check that every sentence
of the findings agrees with the runs it is read from (met or missed, which culture's ledgers are
further apart, whether the outcome set does better or worse), and that gaming only ever makes
the reported ledger look better than the true one."""

from __future__ import annotations

import re
from pathlib import Path

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


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, tuple[CaseRun, ...]]:
    return write_demo("gaming", tmp_path_factory.mktemp("demo"))


def test_cases_are_the_ambulance_and_smoking_services() -> None:
    demo = load_demo("gaming")
    models = [{s.path.parent.name for s in case.scenarios} for case in demo.cases]
    assert models == [{"ambulance"}, {"smoking"}]
    assert [[s.role for s in case.scenarios] for case in demo.cases] == [
        ["blame", "learning", "pss"]] * 2


@pytest.mark.parametrize("case", [0, 1], ids=["ambulance", "smoking"])
@pytest.mark.parametrize("role", ["blame", "learning"])
def test_gaming_only_flatters_the_reported_ledger(demo: tuple[Path, tuple[CaseRun, ...]],
                                                  case: int, role: str) -> None:
    assert demo[1][case].finding(role).gap >= 0


@pytest.mark.parametrize("case", [0, 1], ids=["ambulance", "smoking"])
def test_findings_say_what_the_runs_show(demo: tuple[Path, tuple[CaseRun, ...]],
                                         case: int) -> None:
    run = demo[1][case]
    text = findings_text(run)
    for role, prefix in (("blame", "In the blame culture"),
                         ("learning", "In the learning culture")):
        row = run.finding(role).row
        met = "meets" if row.met else "misses"
        met_true = "meets" if row.met_true else "misses"
        assert re.search(rf"{prefix} the reported .* {met} the target .* and the true value "
                         rf"{met_true} it", text)
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
        demo: tuple[Path, tuple[CaseRun, ...]]) -> None:
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
        "[{file: sir/baseline.yaml, role: blamme, title: t, narrative: n}]}\n")
    with pytest.raises(DemoError, match=r"broken.yaml: cases\[0\].scenarios\[0\].role: unknown "
                                        r"role 'blamme'. Did you mean 'blame'"):
        load_demo("broken", folder=tmp_path, scenarios=ROOT / "scenarios")


def test_demo_file_needs_every_role(tmp_path: Path) -> None:
    (tmp_path / "short.yaml").write_text(
        "demo: short\ntitle: T\nnarrative: N\ncases:\n"
        "  - {title: A, target: x, outcome: x, narrative: N, comparison: C, scenarios: "
        "[{file: sir/baseline.yaml, role: blame, title: t, narrative: n}]}\n")
    with pytest.raises(DemoError, match=r"needs one scenario in each role blame, learning, pss"):
        load_demo("short", folder=tmp_path, scenarios=ROOT / "scenarios")


def test_missing_scenario_file(tmp_path: Path) -> None:
    (tmp_path / "lost.yaml").write_text(
        "demo: lost\ntitle: T\nnarrative: N\ncases:\n"
        "  - {title: A, target: x, outcome: x, narrative: N, comparison: C, scenarios: "
        "[{file: sir/nowhere.yaml, role: blame, title: t, narrative: n}]}\n")
    with pytest.raises(DemoError, match=r"scenarios\[0\].file: no such scenario file"):
        load_demo("lost", folder=tmp_path, scenarios=ROOT / "scenarios")


def test_scenarios_folder_is_found_from_anywhere(tmp_path: Path) -> None:
    assert scenarios_folder(tmp_path) == ROOT / "scenarios"
    assert scenarios_folder(ROOT / "models" / "sir") == ROOT / "scenarios"


def test_findings_link_to_their_charts_and_speak_plainly(
        demo: tuple[Path, tuple[CaseRun, ...]]) -> None:
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
