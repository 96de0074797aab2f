"""Time that planners read: every case-study model's clock reads the calendar, so results,
plots, scorecards and reports show dates or years, never hours or days from zero."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.figure import Figure

from pssc_sim.cli import main
from pssc_sim.ir.calendar import calendar_years, moment
from pssc_sim.ir.model import TimeSpec
from pssc_sim.parse import load_model
from pssc_sim.report.words import date_axis, when

ROOT = Path(__file__).resolve().parent.parent
CASES = ("ambulance", "child_obesity", "climate", "em_employment", "health_social_care", "smoking")


@pytest.mark.parametrize("case", CASES)
def test_every_case_study_clock_reads_the_calendar(case: str) -> None:
    time = load_model(ROOT / "models" / case).time
    start, stop = moment(time, time.start), moment(time, time.stop)
    assert start is not None
    assert stop is not None
    assert start < stop
    figure = Figure()
    ax = figure.subplots()
    ax.plot([time.start, time.stop], [0, 1])
    assert date_axis(ax, time)
    assert ax.get_xlabel() in ("date", "year")


@pytest.mark.parametrize(
    ("spec", "t", "date"),
    [
        (TimeSpec(0, 17520, 0.5, 24, "hour", "2003-04-01"), 17520, datetime.date(2005, 3, 31)),
        (TimeSpec(0, 1095, 0.25, 1, "day", "2016-04-01"), 365, datetime.date(2017, 4, 1)),
        (TimeSpec(2012, 2035, 0.125, 0.125, "year"), 2020, datetime.date(2020, 1, 1)),
    ],
)
def test_model_time_and_calendar_time_agree(spec: TimeSpec, t: float, date: datetime.date) -> None:
    found = moment(spec, t)
    assert found is not None
    assert found.date() == date


def test_only_calendar_years_read_as_years() -> None:
    assert calendar_years(TimeSpec(2012, 2035, 1, 1, "years"))
    assert not calendar_years(TimeSpec(0, 30, 1, 1, "year"))
    assert moment(TimeSpec(0, 30, 1, 1, "year"), 3) is None
    assert when(TimeSpec(2012, 2035, 1, 1, "year"), 2020) == "2020"


def test_results_table_of_a_model_in_days_carries_dates(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert (
        main(
            [
                "run",
                str(ROOT / "scenarios" / "health_social_care" / "baseline.yaml"),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    table = pd.read_csv(out / "results.csv")
    assert list(table.columns[:2]) == ["time", "date"]
    for t, date in zip(table["time"][::200], table["date"][::200], strict=True):
        expected = datetime.date(2016, 4, 1) + datetime.timedelta(days=float(t))
        assert date == expected.isoformat()


def test_scorecard_gives_the_target_date(capsys: pytest.CaptureFixture[str]) -> None:
    scenario = str(ROOT / "scenarios" / "health_social_care" / "dtoc-target.yaml")
    assert main(["scorecard", scenario]) == 0
    text = capsys.readouterr().out
    assert "2017-10-01" in text  # day 548 from 1 April 2016
    assert " 548 " not in text
    assert main(["scorecard", scenario, "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    rows = [r for rows in document["perspectives"].values() for r in rows]
    assert {r["measure"]: r["date"] for r in rows}["dtoc_share"] == "2017-10-01"


def test_explorer_charts_of_a_model_in_hours_show_dates() -> None:
    from bokeh.models import CustomJSTickFormatter

    from pssc_sim.explore.app import Explorer, time_label
    from pssc_sim.scenario.definition import Scenario

    scenario = Scenario.load(ROOT / "scenarios" / "ambulance" / "eight-minute-blame.yaml")
    explorer = Explorer(scenario, {})
    assert time_label(explorer.model) == "date"
    explorer.views.active = 1  # the ledgers' tab: its charts are made when it is shown
    grid = explorer.ledger_pane.object
    charts = [c for c, *_ in grid.children] if hasattr(grid, "children") else []
    assert charts
    assert all(isinstance(c.xaxis[0].formatter, CustomJSTickFormatter) for c in charts)
