"""The report as one self-contained HTML file: inline CSS, PNG pictures as data URIs, no
scripts and no external addresses. Every user string (names, descriptions, narratives,
consequences) goes through :func:`html.escape`."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pssc_sim.ir.model import Perspective
from pssc_sim.report.content import ReportEntry, ScenarioInput, Section, prepare
from pssc_sim.report.figures import (
    Picture,
    comparison_picture,
    ledger_pictures,
    results_picture,
)
from pssc_sim.report.robustness import Claim
from pssc_sim.scenario.runner import ScenarioResult, describe
from pssc_sim.scorecard.scoring import Scorecard, ScorecardRow

#: The style sheet, inlined in the page.
STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
       max-width: 64rem; margin: 2rem auto; padding: 0 1rem; color: #1b1b1b; line-height: 1.45; }
h1 { border-bottom: 3px solid #1b4f72; padding-bottom: .3rem; }
h2 { border-bottom: 1px solid #aab7c4; margin-top: 2.5rem; }
section { margin-bottom: 2rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: .92rem; }
th, td { border: 1px solid #c9d1d9; padding: .25rem .55rem; text-align: right; }
th { background: #eef2f6; text-align: left; }
td.name, th.name { text-align: left; }
.rag-green { background: #c8e6c9; } .rag-amber { background: #ffe0b2; }
.rag-red { background: #ffcdd2; }
.narrative { background: #f5f8fb; border-left: 4px solid #1b4f72; padding: .4rem .9rem; }
figure { margin: 1rem 0; } figure img { max-width: 100%; height: auto; }
figcaption { font-size: .85rem; color: #4a4a4a; }
.muted { color: #5f6b76; font-size: .9rem; }
.findings { background: #fdf6e3; border-left: 4px solid #b58900; padding: .4rem .9rem; }
h2.part { font-size: 1.7rem; border-bottom: 3px solid #1b4f72; margin-top: 3.5rem; }
"""


def e(text: object) -> str:
    """``text`` escaped for HTML text and attribute values.

    >>> e('<b title="x">&</b>')
    '&lt;b title=&quot;x&quot;&gt;&amp;&lt;/b&gt;'
    """
    return html.escape(str(text), quote=True)


def paragraphs(text: str, css: str = "narrative") -> str:
    """Plain text as escaped paragraphs (split on blank lines) in a ``div``; empty for none.

    >>> paragraphs("One <two>.\\n\\nThree.")
    '<div class="narrative"><p>One &lt;two&gt;.</p><p>Three.</p></div>'
    """
    blocks = [" ".join(block.split()) for block in text.strip().split("\n\n")]
    inner = "".join(f"<p>{e(block)}</p>" for block in blocks if block)
    return f'<div class="{css}">{inner}</div>' if inner else ""


def _table(head: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A table; cells are HTML already (escaped by the caller), the first column is a name."""
    header = "".join(f'<th class="{"name" if i == 0 else ""}">{h}</th>' for i, h in enumerate(head))
    body = "".join(
        f"<tr>{''.join(rows_cell(i, c) for i, c in enumerate(row))}</tr>" for row in rows
    )
    return f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


def rows_cell(index: int, cell: str) -> str:
    """A ``td``: the first column left-aligned; a cell may carry its own ``<td ...>``."""
    if cell.startswith("<td"):
        return cell
    return f'<td class="name">{cell}</td>' if index == 0 else f"<td>{cell}</td>"


def number(value: float | None, kind: str | None = None) -> str:
    """A value as the scorecard shows it: a share in percent, otherwise 4 significant digits.

    >>> number(0.9105, "threshold share"), number(23.3408), number(None)
    ('91.0%', '23.34', '-')
    """
    if value is None:
        return "-"
    return f"{value:.1%}" if kind == "threshold share" else f"{value:.4g}"


def _rag(row: ScorecardRow) -> str:
    if row.rag is None:
        return "<td>no target</td>"
    return f'<td class="rag-{e(row.rag)}">{e(row.rag)}</td>'


def _target(row: ScorecardRow) -> str:
    if row.target is None:
        return "-"
    sign = ">=" if row.kind != "level" or row.better == "higher" else "<="
    return e(f"{row.kind} {sign} {number(row.target, row.kind)}")


def scorecard_html(
    card: Scorecard, observed: Mapping[str, tuple[float, float]] | None = None
) -> str:
    """The scorecard: one table per perspective with RAG colours. With ``observed`` (measure ->
    time and value of data), a column says which true values are data and which model output."""
    ensemble = card.members > 1
    head = ["measure", "target", "at", "reported", "true", "gap (reported - true)", "status"]
    head += ["true value from"] if observed is not None else []
    head += ["P(met)", "P(true met)"] if ensemble else []
    head += ["if missed"]
    parts = []
    for perspective in Perspective:
        rows = [r for r in card.rows if r.perspective == perspective.value]
        if not rows:
            continue
        cells = []
        for r in rows:
            row = [
                e(r.measure),
                _target(r),
                e(card.when(r.at)),
                e(number(r.reported, r.kind)),
                e(number(r.true, r.kind)),
                e(number(r.gap, r.kind)),
                _rag(r),
            ]
            if observed is not None:
                row.append(e(_origin(observed.get(r.measure))))
            if ensemble:
                row += [
                    e("-" if p is None else f"{p:.0%}") for p in (r.probability, r.probability_true)
                ]
            row.append(f'<td class="name">{e(r.consequence or "-")}</td>')
            cells.append(row)
        parts.append(f"<h4>{e(perspective.value.capitalize())}</h4>{_table(head, cells)}")
    return "".join(parts)


def _origin(data: tuple[float, float] | None) -> str:
    if data is None:
        return "model output"
    return f"model output; data {data[1]:.4g} at {data[0]:g}"


def consequences_html(card: Scorecard) -> str:
    """The measures whose true value ends worse than in the reference run."""
    if card.reference is None:
        return (
            "<p>No reference run: the scenario has no targets. Give a reference scenario "
            "(<code>--against</code>) to compare with.</p>"
        )
    reference = e(card.reference)
    if not card.consequences:
        return f"<p>None: no measure ends worse than in {reference}.</p>"
    rows = [
        [
            e(c.measure),
            e(c.perspective),
            e(number(c.value)),
            e(number(c.reference)),
            e(f"{c.relative:.1%}"),
        ]
        for c in card.consequences
    ]
    head = ["measure", "perspective", "true value at the end", f"in {reference}", "worse by"]
    return (
        f"<p>True values at the end of the run against {reference}, the largest change "
        f"first.</p>{_table(head, rows)}"
    )


def figure_html(picture: Picture | None, prefix: str = "") -> str:
    """An ``img`` with its caption (the caption doubles as the alternative text); its ``id`` is
    ``prefix-anchor`` when both are given, so findings can link to it."""
    if picture is None:
        return ""
    anchor = f' id="{e(prefix)}-{e(picture.anchor)}"' if prefix and picture.anchor else ""
    return (
        f'<figure{anchor}><img src="{picture.uri}" alt="{e(picture.caption)}">'
        f"<figcaption>{e(picture.caption)}</figcaption></figure>"
    )


def section_html(section: Section) -> str:
    """One scenario: story, what ran, scorecard, consequences, ledgers and results."""
    result = section.result
    ran = "".join(f"<li>{e(line)}</li>" for line in describe(result))
    ledgers = "".join(figure_html(p, section.anchor) for p in ledger_pictures(result))
    return (
        f'<section id="{e(section.anchor)}"><h2>{e(section.title)}</h2>'
        f"{paragraphs(section.narrative)}"
        f"<h3>What was run</h3><ul>{ran}</ul>"
        f"<h3>Scorecard</h3>{scorecard_html(section.scorecard, _observed(section))}"
        f"<h3>Unintended consequences</h3>{consequences_html(section.scorecard)}"
        f"{_strategy_map(section)}"
        f"<h3>The two ledgers: reported and true</h3>{ledgers or '<p>No measures.</p>'}"
        f"<h3>Results over time</h3>{figure_html(results_picture(result))}</section>"
    )


def _observed(section: Section) -> Mapping[str, tuple[float, float]] | None:
    """The data beside a section's scorecard: None when the model has no observed file."""
    from pssc_sim.report.observed import observed_file, observed_values

    model = section.result.model
    return None if observed_file(model) is None else observed_values(model, section.scorecard)


def _strategy_map(section: Section) -> str:
    from pssc_sim.report.strategy_drawing import map_html

    figure = map_html(section.result, section.scorecard)
    return f"<h3>Strategy map</h3>{figure}" if figure else ""


def shared_measures(sections: Sequence[Section]) -> list[str]:
    """Measures every scenario's model declares, in the first model's order."""
    names = [m.name for m in sections[0].result.model.measures]
    return [
        n for n in names if all(any(m.name == n for m in s.result.model.measures) for s in sections)
    ]


def comparison_html(
    sections: Sequence[Section], narrative: str = "", anchor: str = "comparison"
) -> str:
    """The scenarios side by side: each measure's reported and true value and status, the
    targets met and the unintended consequences, and the ledgers overlaid."""
    measures = shared_measures(sections)
    head = ["measure", *(e(s.title) for s in sections)]
    rows = []
    for name in measures:
        row = [e(name)]
        for s in sections:
            r = s.scorecard.row(name)
            css = f' class="rag-{e(r.rag)}"' if r.rag else ""
            status = f" ({e(r.rag)})" if r.rag else ""
            row.append(
                f"<td{css}>{e(number(r.reported, r.kind))} reported, "
                f"{e(number(r.true, r.kind))} true{status}</td>"
            )
        rows.append(row)
    met = [sum(1 for r in s.scorecard.rows if r.met) for s in sections]
    targeted = [sum(1 for r in s.scorecard.rows if r.target is not None) for s in sections]
    rows.append(
        ["targets met (reported)", *(f"{m} of {t}" for m, t in zip(met, targeted, strict=True))]
    )
    rows.append(
        [
            "unintended consequences",
            *(
                e(", ".join(c.measure for c in s.scorecard.consequences) or "none")
                for s in sections
            ),
        ]
    )
    note = (
        "Values at each target date (the end of the run without a target)."
        if measures
        else "The scenarios share no measures."
    )
    return (
        f'<section id="{e(anchor)}"><h2>Comparison of the scenarios</h2>'
        f"{paragraphs(narrative)}<p>{note}</p>{_table(head, rows)}"
        f"{figure_html(comparison_picture(sections, measures))}</section>"
    )


def guide_html() -> str:
    """How to read the report, for a reader who has not used pssc_sim."""
    return (
        '<p class="muted">Each measure keeps two ledgers: the <em>reported</em> value '
        "(what the organisation records and publishes) and the <em>true</em> value (what "
        "actually happened). A gap between them is gaming. Status: "
        '<span class="rag-green">green</span> target met on the reported value, '
        '<span class="rag-amber">amber</span> missed by at most 5% of the target, '
        '<span class="rag-red">red</span> missed by more. Unintended consequences are '
        "measures whose true value ends worse than in the reference run.</p>"
    )


@dataclass(frozen=True, slots=True, eq=False)
class Part:
    """A group of scenarios with a heading, a story and findings in plain words, and a
    comparison of its own (a teaching demo shows one part per service)."""

    anchor: str
    title: str
    narrative: str
    findings: str
    sections: tuple[Section, ...]
    comparison: str = ""
    sources: tuple[str, ...] = ()  # per findings paragraph, the id of the chart it is read from
    figures: tuple[Picture, ...] = ()  # drawn after the findings, ids prefixed by the anchor


def _findings(part: Part) -> str:
    """The findings paragraphs, each linked to the chart it is read from."""
    blocks = [" ".join(b.split()) for b in part.findings.strip().split("\n\n") if b.strip()]
    sources = list(part.sources) + [""] * len(blocks)
    inner = "".join(
        f"<p>{e(block)}"
        + (f' <a href="#{e(source)}">(see the chart)</a>' if source else "")
        + "</p>"
        for block, source in zip(blocks, sources, strict=False)
    )
    return f'<div class="findings">{inner}</div>'


def _page(title: str, narrative: str, contents: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{e(title)}</h1>{paragraphs(narrative)}{guide_html()}"
        f"<nav><h2>Contents</h2><ul>{contents}</ul></nav>{body}</body></html>\n"
    )


def render_parts(parts: Sequence[Part], *, title: str, narrative: str = "") -> str:
    """The HTML text of a report in parts: per part its story, its findings, its scenarios and
    the comparison of them."""
    contents, body = [], []
    for part in parts:
        links = "".join(
            f'<li><a href="#{e(s.anchor)}">{e(s.title)}</a></li>' for s in part.sections
        )
        contents.append(
            f'<li><a href="#{e(part.anchor)}">{e(part.title)}</a><ul>{links}'
            f'<li><a href="#{e(part.anchor)}-comparison">Comparison</a></li>'
            "</ul></li>"
        )
        findings = f"<h3>What the runs show</h3>{_findings(part)}" if part.findings else ""
        findings += "".join(figure_html(p, part.anchor) for p in part.figures)
        body.append(
            f'<div class="part" id="{e(part.anchor)}"><h2 class="part">'
            f"{e(part.title)}</h2>{paragraphs(part.narrative)}{findings}"
            + "".join(section_html(s) for s in part.sections)
            + comparison_html(part.sections, part.comparison, f"{part.anchor}-comparison")
            + "</div>"
        )
    return _page(title, narrative, "".join(contents), "".join(body))


def render(
    sections: Sequence[Section],
    *,
    title: str = "pssc_sim report",
    narrative: str = "",
    comparison_narrative: str = "",
    claims: Sequence[Claim] = (),
) -> str:
    """The HTML text of a report of ``sections`` (and of the robustness of ``claims``)."""
    contents = "".join(f'<li><a href="#{e(s.anchor)}">{e(s.title)}</a></li>' for s in sections)
    if len(sections) > 1:
        contents += '<li><a href="#comparison">Comparison of the scenarios</a></li>'
    if claims:
        contents += '<li><a href="#robustness">How robust the findings are</a></li>'
    body = "".join(section_html(s) for s in sections)
    if len(sections) > 1:
        body += comparison_html(sections, comparison_narrative)
    if claims:
        body += robustness_html(claims)
    return _page(title, narrative, contents, body)


def robustness_html(claims: Sequence[Claim]) -> str:
    """The claims tested in every sampled world, each with its share, and their chart."""
    from pssc_sim.report.robustness import claims_picture

    worlds = claims[0].worlds
    intro = (
        f"Every scenario was run again in the same {worlds:,} sampled worlds (each a draw "
        "of the uncertain parameters from their evidence ranges), so each claim below is a "
        "paired comparison tested world by world."
    )
    items = "".join(f"<p>{e(c.sentence())}</p>" for c in claims)
    chart = figure_html(claims_picture(claims), "robustness")
    return (
        f'<section id="robustness"><h2>How robust the findings are</h2><p>{e(intro)}</p>'
        f'<div class="findings">{items}</div>{chart}</section>'
    )


def build_report(
    scenarios: Sequence[ReportEntry | ScenarioInput],
    *,
    against: ScenarioInput | None = None,
    title: str = "pssc_sim report",
    narrative: str = "",
    comparison_narrative: str = "",
    evidence: ScenarioInput | None = None,
    members: int | None = None,
) -> str:
    """Run ``scenarios`` and return the report as HTML text (see :func:`write_report`)."""
    sections = prepare(scenarios, against)
    claims: tuple[Claim, ...] = ()
    if evidence is not None:
        from pssc_sim.report.content import load
        from pssc_sim.report.robustness import Evidence, scenario_claims

        given = load(evidence, "evidence")
        block = given.scenario if isinstance(given, ScenarioResult) else given
        claims = scenario_claims([s.result.scenario for s in sections], Evidence.of(block, members))
    return render(
        sections,
        title=title,
        narrative=narrative,
        comparison_narrative=comparison_narrative,
        claims=claims,
    )


def write_report(
    scenarios: Sequence[ReportEntry | ScenarioInput],
    path: str | Path,
    *,
    against: ScenarioInput | None = None,
    title: str = "pssc_sim report",
    narrative: str = "",
    comparison_narrative: str = "",
    evidence: ScenarioInput | None = None,
    members: int | None = None,
) -> Path:
    """Run ``scenarios`` and write one self-contained HTML report to ``path`` (atomically).

    Parameters
    ----------
    scenarios
        Scenario files, :class:`~pssc_sim.scenario.Scenario` or
        :class:`~pssc_sim.scenario.ScenarioResult` values, or :class:`ReportEntry` values that
        add a plain-text narrative (and a heading) to a scenario's section.
    path
        The HTML file to write.
    against
        The reference run of every scorecard's unintended consequences (default: each scenario
        without its targets).
    title, narrative, comparison_narrative
        The report's title, a plain-text story at the top and one above the comparison.
    evidence, members
        A scenario whose ``uncertainty:`` block gives the evidence ranges: every scenario is run
        again over the same ``members`` sampled worlds (default: the block's own number), and a
        last section gives, for each claim (a target's reported ledger flatters the true one; a
        scenario gives a better true outcome than the first), the share of worlds in which it
        holds and the parameters that decide it (:mod:`pssc_sim.report.robustness`).

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import pssc_sim
    >>> folder = Path(pssc_sim.__file__).parent.parent / "scenarios" / "waiting_list"
    >>> out = Path(tempfile.mkdtemp()) / "report.html"
    >>> _ = write_report([ReportEntry(folder / "target-blame.yaml", "Blame <culture>.")], out,
    ...                  title="Waiting list")
    >>> text = out.read_text()
    >>> "Blame &lt;culture&gt;." in text, "<script" in text, text.count("<img")
    (True, False, 5)
    """
    from pssc_sim.output import write_text

    text = build_report(
        scenarios,
        against=against,
        title=title,
        narrative=narrative,
        comparison_narrative=comparison_narrative,
        evidence=evidence,
        members=members,
    )
    return write_text(text, path)
