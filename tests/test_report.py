"""The HTML report: self-contained (inline CSS, PNG data URIs, no scripts, no external
addresses), every user string escaped, scorecards with RAG colours and the numbers of the
scorecard, ledgers and fan charts, the comparison, atomic writing, ``pssc report`` exit codes,
and the page opened in headless Chromium with no console errors and every picture loaded."""

from __future__ import annotations

import base64
import html
import re
import struct
from pathlib import Path

import pytest
from browser import open_page

from pssc_sim.cli import main
from pssc_sim.report import ReportEntry, build_report, write_report
from pssc_sim.report.html import number
from pssc_sim.scenario import Scenario, ScenarioError

ROOT = Path(__file__).resolve().parent.parent
WAITING = ROOT / "scenarios" / "waiting_list"
HOSTILE = "<script>alert('x')</script> & <img src=http://example.org/a.png>"

ENSEMBLE = f"""\
scenario: blame-uncertain
description: The 18-week target in a blame culture, with uncertain referrals.
model: {ROOT / "models" / "waiting_list"}
culture: 0.9
targets:
  - {{measure: mean_wait, kind: threshold share, threshold: 18, value: 0.92, by: 104,
     from: 26, severity: high, consequence: "{HOSTILE}"}}
uncertainty: {{members: 9, seed: 5, parameters: [referrals]}}
"""


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("report")
    ensemble = folder / "blame-uncertain.yaml"
    ensemble.write_text(ENSEMBLE)
    path = write_report(
        [
            ReportEntry(
                WAITING / "target-blame.yaml", f"Story one.\n\n{HOSTILE}", title="Blame culture"
            ),
            WAITING / "target-learning.yaml",
            ensemble,
        ],
        folder / "report.html",
        title=f"Waiting list {HOSTILE}",
        narrative="Why targets backfire.",
        comparison_narrative="Side by side.",
    )
    return path, path.read_text(encoding="utf-8")


def png_size(uri: str) -> tuple[int, int]:
    data = base64.b64decode(uri.removeprefix("data:image/png;base64,"), validate=True)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
    return width, height


def test_self_contained(report: tuple[Path, str]) -> None:
    _, text = report
    assert text.startswith("<!DOCTYPE html>")
    assert "<style>" in text
    assert "<script" not in text
    assert "<link" not in text
    addresses = re.findall(r'(?:src|href)="([^"]*)"', text)
    assert addresses
    assert all(a.startswith(("data:image/png;base64,", "#")) for a in addresses)
    assert "http://" not in text.replace(html.escape(HOSTILE, quote=True), "")
    sources = re.findall(r'<img src="([^"]+)"', text)
    # Per waiting-list scenario: three measures, the share ledger and the results figure; then
    # the comparison figure.
    assert len(sources) == 3 * 5 + 1
    assert all(png_size(uri)[0] > 100 for uri in sources)


def test_user_strings_are_escaped(report: tuple[Path, str]) -> None:
    _, text = report
    escaped = html.escape(HOSTILE, quote=True)
    assert HOSTILE not in text
    assert f"<title>Waiting list {escaped}</title>" in text
    assert f"<p>{escaped}</p>" in text  # the narrative's second paragraph
    consequence = text.split('id="scenario-3"')[1].split("<h3>Unintended")[0]
    assert f'<td class="name">{escaped}</td>' in consequence


def test_sections_narratives_and_comparison(report: tuple[Path, str]) -> None:
    _, text = report
    headings = re.findall(r'<section id="([^"]+)"><h2>([^<]+)</h2>', text)
    assert headings == [
        ("scenario-1", "Blame culture"),
        ("scenario-2", "target-learning"),
        ("scenario-3", "blame-uncertain"),
        ("comparison", "Comparison of the scenarios"),
    ]
    assert '<div class="narrative"><p>Why targets backfire.</p></div>' in text
    assert '<div class="narrative"><p>Side by side.</p></div>' in text
    assert text.count("<h4>Outcome</h4>") == 3


def test_scorecard_numbers_and_rag(report: tuple[Path, str]) -> None:
    _, text = report
    card = Scenario.load(WAITING / "target-blame.yaml").run().scorecard()
    row = card.row("mean_wait")
    blame = text.split('id="scenario-2"')[0]
    cells = (
        f"<td>{number(row.reported, row.kind)}</td><td>{number(row.true, row.kind)}</td>"
        f'<td>{number(row.gap, row.kind)}</td><td class="rag-{row.rag}">{row.rag}</td>'
    )
    assert row.rag == "amber"
    assert cells in blame
    worse = {c.measure: c.relative for c in card.consequences}
    assert f"<td>{worse['treatments']:.1%}</td>" in blame
    ensemble = text.split('id="scenario-3"')[1].split('id="comparison"')[0]
    assert "P(met)" in ensemble
    assert "median and 5-95% / 25-75% bands" in ensemble
    assert "P(met)" not in blame


def test_against_names_the_reference() -> None:
    text = build_report([WAITING / "target-blame.yaml"], against=WAITING / "target-learning.yaml")
    blame = Scenario.load(WAITING / "target-blame.yaml").run()
    card = blame.scorecard(Scenario.load(WAITING / "target-learning.yaml").run())
    assert [c.measure for c in card.consequences] == ["mean_wait", "treatments"]
    assert "True values at the end of the run against target-learning, the largest" in text
    for c in card.consequences:
        assert f"<td>{c.measure}</td>" not in text  # names are left-aligned name cells
        assert f'<td class="name">{c.measure}</td><td>{c.perspective}</td>' in text
        assert f"<td>{c.relative:.1%}</td>" in text
    assert 'id="comparison"' not in text  # one scenario: nothing to compare


def test_write_is_atomic(tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    path.write_text("previous")
    with pytest.raises(ScenarioError, match="no such scenario file"):
        write_report([tmp_path / "missing.yaml"], path)
    assert path.read_text() == "previous"
    write_report([WAITING / "baseline.yaml"], path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]
    assert "No reference run: the scenario has no targets" in path.read_text()


@pytest.mark.parametrize(
    ("scenarios", "message"),
    [
        ([], r"scenarios: a report needs at least one scenario \(got none\)"),
        (
            [WAITING / "target-blme.yaml"],
            r"scenarios\[0\]: no such scenario file \(got '.*"
            r"target-blme.yaml'\)\. Did you mean 'target-blame.yaml'\?",
        ),
    ],
)
def test_bad_scenarios(scenarios: list[Path], message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        build_report(scenarios)


def test_bad_reference() -> None:
    with pytest.raises(ScenarioError, match=r"against: no such scenario file"):
        build_report([WAITING / "baseline.yaml"], against=WAITING / "nothing.yaml")


def test_cli_writes_the_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sub" / "r.html"
    assert (
        main(
            [
                "report",
                str(WAITING / "baseline.yaml"),
                str(WAITING / "target-blame.yaml"),
                "-o",
                str(out),
                "--title",
                "Two runs",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.strip() == f"wrote {out}"
    assert "<title>Two runs</title>" in out.read_text()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["-o", "{tmp}/r.html"], "the following arguments are required: SCENARIO"),
        (["{waiting}/nope.yaml", "-o", "{tmp}/r.html"], "scenarios[0]: no such scenario file"),
        (["{waiting}/baseline.yaml"], "the following arguments are required: -o/--output"),
        (["{waiting}/baseline.yaml", "-o", "{tmp}"], "--output: a folder, not a file"),
        (
            ["{waiting}/baseline.yaml", "-o", "{tmp}/a_file/r.html"],
            "--output: cannot create the folder",
        ),
        (
            ["{waiting}/baseline.yaml", "-o", "{tmp}/r.html", "--against", "{waiting}/x.yaml"],
            "against: no such scenario file",
        ),
    ],
)
def test_cli_bad_input_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    (tmp_path / "a_file").write_text("not a folder")
    argv = [a.format(tmp=tmp_path, waiting=WAITING) for a in arguments]
    assert main(["report", *argv]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


# -- the page in a real browser -------------------------------------------------------------


def test_report_opens_in_headless_chromium(report: tuple[Path, str]) -> None:
    path, _ = report
    page = open_page(path)
    assert page.errors == []
    assert len(page.images) == 16
    assert all(done and width > 0 for done, width in page.images)
    assert all(url.startswith(("file:", "data:")) for url in page.requests)
    assert page.title == f"Waiting list {HOSTILE}"


COUNTING = """\
model: counting
time: {start: 0, stop: 8, dt: 1, units: week}
stocks:
  done: 0
  effort: 0
flows:
  work: {to: done, rate: 3 + effort}
  effort_growth: {to: effort, rate: 0.1 * TARGET_PRESSURE(work)}
measures:
  work: {perspective: process, better: higher, units: case/week}
  done: {perspective: outcome, better: higher}
"""


def test_count_target_is_drawn_on_the_rate_scale(tmp_path: Path) -> None:
    (tmp_path / "counting.yaml").write_text(COUNTING)
    scenario = Scenario(
        model=tmp_path / "counting.yaml",
        name="count",
        targets=[{"measure": "work", "kind": "count", "value": 20, "per": 4, "by": 8}],
    )
    text = build_report([scenario])
    # 20 cases per 4 weeks is 5 a week on the rate's scale; the scorecard shows 4 x the rate.
    assert (
        "work: reported ledger (left) and true ledger (right), one run; the dashed red line "
        "is the target 5." in text
    )
    assert "count &gt;= 20" in text
    assert "done: reported ledger (left) and true ledger (right), one run." in text
