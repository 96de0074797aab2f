"""The pictures of a report, drawn with matplotlib's Agg renderer and inlined as PNG data URIs.

Every figure is a :class:`Figure` (never pyplot's global state) and is encoded without the PNG
``Software`` text, so the same run gives the same bytes.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pssc_sim.ir.lowering import hidden
from pssc_sim.ir.model import Measure
from pssc_sim.plot import plain
from pssc_sim.report.words import label, quantity
from pssc_sim.scenario.reader import scenario_time
from pssc_sim.scenario.targets import Target, TargetKind

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from pssc_sim.report.content import Section
    from pssc_sim.scenario.runner import ScenarioResult

#: Resolution of the inlined pictures (dots per inch).
DPI = 90
#: Panels drawn at most in a scenario's results figure.
MAX_PANELS = 9


@dataclass(frozen=True, slots=True)
class Picture:
    """A PNG picture as a data URI, with the text that describes it."""

    caption: str
    uri: str
    anchor: str = ""  # the part of an ``id`` that names the picture within its section


def data_uri(figure: Figure) -> str:
    """``figure`` as a ``data:image/png;base64,...`` URI.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> figure = Figure(figsize=(1, 1))
    >>> _ = figure.subplots().plot([0, 1], [1, 0])
    >>> data_uri(figure)[:30]
    'data:image/png;base64,iVBORw0K'
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _time_label(result: ScenarioResult) -> str:
    units = result.model.time.units
    return f"time ({units})" if units else "time"


def _dates(figure: Figure, result: ScenarioResult) -> None:
    """Calendar dates on every time axis of ``figure`` when the model has ``time.origin``."""
    from pssc_sim.report.words import date_axis

    for ax in figure.axes:
        date_axis(ax, scenario_time(result.scenario, result.model))


def ledger_pictures(result: ScenarioResult) -> list[Picture]:
    """For each measure, its reported and true ledgers side by side, the target marked; a
    threshold-share target adds the ledgers of the shares it judges."""
    targets = {t.measure: t for t in result.scenario.targets}
    pictures = []
    for measure in result.model.measures:
        target = targets.get(measure.name)
        level = None if target is None or target.kind is TargetKind.THRESHOLD_SHARE else target
        pictures.append(
            _ledger(
                result,
                measure,
                level,
                measure.reported_column,
                measure.true_column,
                label(measure),
                f"ledger-{measure.name}",
            )
        )
        if target is not None and target.kind is TargetKind.THRESHOLD_SHARE:
            within = quantity(target.threshold or 0.0, measure.meta.units)
            title = f"{label(measure)}: share of cases within {within}"
            pictures.append(
                _ledger(
                    result,
                    measure,
                    target,
                    hidden(measure.name, "share_reported"),
                    hidden(measure.name, "share"),
                    title,
                    f"ledger-{measure.name}-share",
                )
            )
    return pictures


def _ledger(
    result: ScenarioResult,
    measure: Measure,
    target: Target | None,
    reported: str,
    true: str,
    title: str,
    anchor: str = "",
) -> Picture:
    from matplotlib.figure import Figure

    from pssc_sim.plot import plot_ledgers

    figure = Figure(figsize=(9, 2.8), layout="constrained")
    axes = figure.subplots(1, 2)
    value = None
    if target is not None:
        # A count target is a rate times a period: draw it on the rate's scale.
        value = target.value / target.period(scenario_time(result.scenario, result.model))
    plot_ledgers(
        result.results,
        reported,
        true,
        axes,
        target=value,
        start=None if target is None else target.start,
        by=None if target is None else target.by,
    )
    for ax in axes:
        ax.set_xlabel(plain(_time_label(result)))
    axes[0].legend(loc="best", fontsize="small")
    _observations(axes[1], result, measure, true)
    _dates(figure, result)
    units = (
        f" ({measure.meta.units})"
        if measure.meta.units not in ("", "dimensionless") and title == label(measure)
        else ""
    )
    figure.suptitle(plain(f"{title}{units}"))
    kind = "median and 5-95% / 25-75% bands of the ensemble" if result.is_ensemble else "one run"
    mark = "" if value is None else f"; the dashed red line is the target {value:.4g}"
    caption = f"{title}: reported ledger (left) and true ledger (right), {kind}{mark}."
    return Picture(caption, data_uri(figure), anchor)


def _observations(ax: Axes, result: ScenarioResult, measure: Measure, true: str) -> None:
    """The observed values of a measure's true value as points on its true ledger."""
    from pssc_sim.report.observed import observations, series_of

    series = series_of(observations(result.model), measure)
    if series is not None and true == measure.true_column:
        ax.plot(
            series.times, series.values, "o", color="black", markersize=3.5, label="observed (data)"
        )
        ax.legend(loc="best", fontsize="small")


def _variable_label(result: ScenarioResult, name: str) -> str:
    """A variable's ``label`` (the name with spaces when it has none)."""
    try:
        meta = getattr(result.model[name], "meta", None)
    except KeyError:  # an element of an arrayed variable, as population[0-4,A]
        meta = None
    return str(getattr(meta, "label", "")) or name.replace("_", " ")


def plotted(result: ScenarioResult) -> list[str]:
    """The variables of a scenario's results figure: its outputs, else its visible stocks."""
    names = result.results.names
    if result.scenario.outputs is not None:
        chosen = list(result.scenario.outputs)
    else:
        chosen = [s.name for s in result.model.stocks if not s.hidden]
    return [n for n in chosen if n in names][:MAX_PANELS]


def results_picture(result: ScenarioResult) -> Picture | None:
    """The scenario's main variables over time (fan charts for an ensemble)."""
    from matplotlib.figure import Figure

    from pssc_sim.plot import plot_panels

    names = plotted(result)
    if not names:
        return None
    figure = Figure(figsize=(9, 2.6 * -(-len(names) // 3)), layout="constrained")
    axes = plot_panels({result.name: result.results}, names, figure, _time_label(result))
    for ax, name in zip(axes, names, strict=True):
        ax.set_title(plain(_variable_label(result, name)))
    _dates(figure, result)
    kind = (
        "fan charts: median, 5-95% and 25-75% of the members" if result.is_ensemble else "one run"
    )
    return Picture(f"{result.name}: {', '.join(names)} over time ({kind}).", data_uri(figure))


def comparison_picture(sections: Sequence[Section], measures: Sequence[str]) -> Picture | None:
    """Each measure's reported and true values over time, every scenario overlaid."""
    from matplotlib.figure import Figure

    from pssc_sim.plot import plot_variable

    if not measures:
        return None
    figure = Figure(figsize=(9, 2.6 * len(measures)), layout="constrained")
    grid = figure.subplots(len(measures), 2, squeeze=False)
    colours = [f"C{i % 10}" for i in range(len(sections))]
    for row, name in zip(grid, measures, strict=True):
        for section, colour in zip(sections, colours, strict=True):
            measure = next(m for m in section.result.model.measures if m.name == name)
            for ax, column in zip(row, (measure.reported_column, measure.true_column), strict=True):
                plot_variable(
                    section.result.results, column, ax=ax, label=section.title, color=colour
                )
        for ax, ledger in zip(row, ("reported", "true"), strict=True):
            ax.set_title(plain(f"{name}: {ledger}"))
            ax.set_xlabel(plain(_time_label(sections[0].result)))
        row[0].legend(loc="best", fontsize="small")
    _dates(figure, sections[0].result)
    return Picture(
        "Each measure across the scenarios: the reported ledger (left) and the true "
        "ledger (right).",
        data_uri(figure),
    )
