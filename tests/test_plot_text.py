"""Text taken from a model (titles, labels, units, a diagram's names) is drawn as written:
matplotlib never reads a ``$`` in it as mathtext, which would change what the text says or fail
to draw the figure at all."""

from __future__ import annotations

import html
import io
import re
from pathlib import Path

import pytest
from matplotlib import rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from pssc_sim.analysis.diagram import draw_cld
from pssc_sim.cli import main
from pssc_sim.parse.cld_file import load_cld_file, load_cld_perspectives
from pssc_sim.plot import plain
from pssc_sim.report.strategy_drawing import svg_text
from pssc_sim.report.strategy_map import diagram_map

#: Texts a model may hold: dollar amounts (read as one formula between the first and second $),
#: a formula mathtext cannot parse, a lone dollar, and a dollar already escaped.
TEXTS = ["spend from $5 to $10 a day", r"cost $\frac$ per case", "budget in $", r"written \$ as is"]

MODEL = r"""
model: spend
title: 'Spend $\frac$ from $5 to $10'
time: {start: 0, stop: 4, dt: 0.5, units: year}
parameters: {k: 0.1}
stocks:
  cases: {initial: 10, units: case, label: 'cases $\frac$ open'}
flows:
  closing: {from: cases, rate: k * cases, units: case/year}
measures:
  cases: {perspective: outcome, better: lower, label: 'open cases, $\frac$ in $'}
"""

DIAGRAM = r"""
cld: money
title: 'Where the $ go: $5 to $10'
variables:
  'spend per case in $ and $': {perspective: outcome}
  'staff $\frac$': {perspective: capability}
links:
  - ['staff $\frac$', 'spend per case in $ and $', '+']
"""


def svg_of(figure: Figure) -> str:
    """``figure`` as SVG with its text kept as text, without the comments that repeat each
    string as given (the drawn text is what counts)."""
    FigureCanvasAgg(figure)
    buffer = io.StringIO()
    with rc_context({"svg.fonttype": "none"}):
        figure.savefig(buffer, format="svg")
    return re.sub(r"<!--.*?-->", "", buffer.getvalue(), flags=re.DOTALL)


def shown(text: str, svg: str) -> bool:
    return html.escape(text, quote=False) in svg


@pytest.mark.parametrize("text", TEXTS)
def test_plain_text_is_shown_as_written(text: str) -> None:
    figure = Figure()
    ax = figure.subplots()
    ax.set_title(plain(text))
    ax.plot([0, 1], [0, 1], label=plain(text))
    ax.legend()
    svg = svg_of(figure)
    assert svg.count(html.escape(text, quote=False)) == 2  # the title and the legend


def test_without_escaping_dollars_change_the_text() -> None:
    figure = Figure()
    figure.subplots().set_title(TEXTS[0])
    assert not shown(TEXTS[0], svg_of(figure))  # what the escaping prevents


def test_a_diagram_with_dollars_in_its_names_draws_them_as_written(tmp_path: Path) -> None:
    path = tmp_path / "money.yaml"
    path.write_text(DIAGRAM)
    graph = load_cld_file(path)
    cld = svg_of(draw_cld(graph).figure)
    strategy = svg_text(
        diagram_map(graph, load_cld_perspectives(path), "Where the $ go: $5 to $10"), inline=True
    )
    for name in graph.nodes:
        assert shown(name, cld), name
        assert shown(name, strategy), name
    assert shown("Where the $ go: $5 to $10", strategy)
    for picture in ("map.svg", "map.png"):
        assert main(["strategy-map", str(path), "-o", str(tmp_path / picture)]) == 0
    assert main(["cld", str(path), "-o", str(tmp_path / "cld.png")]) == 0


def test_run_and_report_draw_a_model_with_dollars_in_its_text(tmp_path: Path) -> None:
    model = tmp_path / "spend.yaml"
    model.write_text(MODEL)
    assert main(["run", str(model), "--out", str(tmp_path / "run")]) == 0
    assert (tmp_path / "run" / "stocks.png").read_bytes().startswith(b"\x89PNG")
    scenario = tmp_path / "halve.yaml"
    scenario.write_text(
        "scenario: halve\nmodel: spend.yaml\ntargets:\n  - {measure: cases, value: 5, by: 4}\n"
    )
    assert main(["report", str(scenario), "-o", str(tmp_path / "report.html")]) == 0
    page = (tmp_path / "report.html").read_text()
    assert html.escape("open cases, $\\frac$ in $", quote=False) in page
