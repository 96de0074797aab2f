"""Words for managers: calendar dates from ``time.origin``, labels, plural units and percentage
points; and the model reader's checks of ``time.origin`` and ``label``."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pssc_sim.errors import ModelError
from pssc_sim.ir.model import TimeSpec
from pssc_sim.parse import load_model
from pssc_sim.report.words import DAYS, calendar, date_axis, plural, points, quantity, when

ROOT = Path(__file__).resolve().parent.parent
MODEL = (
    "time: {{stop: 730, units: day{origin}}}\nstocks: {{x: 1}}\n"
    "measures: {{x: {{perspective: outcome, better: higher, label: people helped}}}}\n"
)


def _model(tmp_path: Path, origin: str) -> Path:
    path = tmp_path / "m.yaml"
    path.write_text(MODEL.format(origin=origin))
    return path


def test_origin_and_label_are_read(tmp_path: Path) -> None:
    model = load_model(_model(tmp_path, ", origin: 2016-04-01"))
    assert model.time.origin == "2016-04-01"
    assert model.measures[0].meta.label == "people helped"
    assert load_model(_model(tmp_path, ", origin: 2016")).time.origin == "2016"
    assert load_model(_model(tmp_path, "")).time.origin == ""


@pytest.mark.parametrize("origin", ["April 2016", "'2016-13-01'", "16", "true"])
def test_a_bad_origin_is_refused(tmp_path: Path, origin: str) -> None:
    with pytest.raises(ModelError, match=r"time\.origin: expected a year or a date YYYY-MM-DD"):
        load_model(_model(tmp_path, f", origin: {origin}"))


@given(st.floats(0, 5000), st.sampled_from(sorted(DAYS)))
def test_calendar_dates_advance_with_model_time(t: float, units: str) -> None:
    time = TimeSpec(0, 10_000, 1, 1, units, "2003-04-01")
    earlier, later = calendar(time, t), calendar(time, t + 400)
    assert earlier is not None
    assert later is not None
    assert earlier <= later
    assert abs((later - earlier).days - 400 * DAYS[units]) <= 1


def test_case_study_origins_put_targets_on_their_dates() -> None:
    ambulance = load_model(ROOT / "models" / "ambulance").time
    assert when(ambulance, 17520) == "31 March 2005"  # 730 days from 1 April 2003 (2004 leaps)
    care = load_model(ROOT / "models" / "health_social_care").time
    assert when(care, 548) == "1 October 2017"  # the DTOC target date, September 2017's end


def test_the_time_axis_reads_in_years() -> None:
    from matplotlib.figure import Figure

    ax = Figure().subplots()
    time = load_model(ROOT / "models" / "ambulance").time
    ax.plot([0, time.stop], [0, 1])
    assert date_axis(ax, time)
    ax.figure.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert labels
    assert all(
        label.startswith(
            (
                "Apr",
                "Jan",
                "Feb",
                "Mar",
                "May",
                "Jun",
                "Jul",
                "Aug",
                "Sep",
                "Oct",
                "Nov",
                "Dec",
                "20",
            )
        )
        for label in labels
    )
    assert ax.get_xlabel() == "date"
    assert not date_axis(Figure().subplots(), TimeSpec(0, 10, 1, 1, "week"))


def test_units_and_share_differences_in_words() -> None:
    assert quantity(8, "minute") == "8 minutes"
    assert quantity(1, "minute") == "1 minute"
    assert quantity(2, "patient/day") == "2 patients per day"
    assert plural("child") == "children"
    assert points(0.146) == "14.6 percentage points"


OBSERVED_MODEL = """\
model: clinic
time: {start: 0, stop: 10, dt: 0.5, units: week}
parameters: {arrivals: 5}
stocks: {waiting: 20}
flows:
  seen: {from: waiting, rate: waiting / 4}
  arriving: {to: waiting, rate: arrivals}
measures:
  waiting: {perspective: outcome, better: lower, units: patient}
  seen: {perspective: process, better: higher, units: patient/week}
"""


def test_the_report_marks_data_and_shows_it_beside_the_run(tmp_path: Path) -> None:
    from pssc_sim.report import write_report
    from pssc_sim.scenario import Scenario

    folder = tmp_path / "clinic"
    (folder / "data").mkdir(parents=True)
    (folder / "model.yaml").write_text(OBSERVED_MODEL)
    (folder / "data" / "observed.csv").write_text("time,waiting\n0,20\n4,19.5\n8,21.25\n")
    text = write_report([Scenario(model=folder, name="clinic")], tmp_path / "r.html").read_text(
        encoding="utf-8"
    )
    assert ">true value from</th>" in text
    assert "model output; data 21.25 at 8" in text  # the last observation before week 10
    assert text.count("<td>model output</td>") == 1  # seen: no data
    (folder / "data" / "observed.csv").unlink()
    plain = write_report([Scenario(model=folder, name="clinic")], tmp_path / "p.html").read_text(
        encoding="utf-8"
    )
    assert "true value from" not in plain


def test_panels_take_the_labels_of_variables(tmp_path: Path) -> None:
    from pssc_sim.report.figures import _variable_label
    from pssc_sim.scenario import Scenario

    path = tmp_path / "model.yaml"
    path.write_text(
        OBSERVED_MODEL.replace(
            "stocks: {waiting: 20}",
            "stocks: {waiting: {initial: 20, label: people waiting to be seen}}",
        )
    )
    result = Scenario(model=path, name="clinic").run()
    assert _variable_label(result, "waiting") == "people waiting to be seen"
    assert _variable_label(result, "arrivals") == "arrivals"
