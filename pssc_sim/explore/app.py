"""The explorer's page: Panel widgets for the controls, Bokeh charts for the runs.

One :class:`Explorer` is one browser session (or one notebook cell): it keeps that session's
control values, pinned runs and last good runs, and nothing is shared between sessions but the
loaded model. The computing is :mod:`pssc_sim.explore.compute`; this module only shows it.
"""

from __future__ import annotations

import datetime
import html
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlencode

import numpy as np
import panel as pn
from bokeh.layouts import gridplot
from bokeh.models import ColumnDataSource, CustomJS, Range1d
from bokeh.models.annotations import Span
from bokeh.palettes import Category10_10
from bokeh.plotting import figure

from pssc_sim.errors import PsscSimError
from pssc_sim.explore.compute import (
    Runs,
    band,
    compute,
    ledger_columns,
    output_columns,
    scenario_for,
    scenario_yaml,
)
from pssc_sim.explore.controls import (
    Control,
    Group,
    Kind,
    controls_for,
    defaults,
    read_query,
    write_query,
)
from pssc_sim.ir.calendar import DAYS, origin_date, unit_word
from pssc_sim.ir.causal import CausalGraph
from pssc_sim.ir.model import Model, Perspective, TimeSpec
from pssc_sim.scenario.definition import Scenario
from pssc_sim.scenario.targets import TargetKind
from pssc_sim.scorecard.scoring import Scorecard, ScorecardRow

#: The kinds of message shown above the charts.
AlertType = Literal["info", "warning", "danger"]
#: Runs pinned for comparison at most; pinning another drops the oldest.
MAX_PINS = 4
#: Line styles of pinned runs, in the order they are pinned.
PIN_DASHES = ("dashed", "dotted", "dotdash", "dashdot")
#: Background of a scorecard status cell.
RAG_COLOURS = {"green": "#c8e6c9", "amber": "#ffe0b2", "red": "#ffcdd2"}
#: The tab of the ledger charts (the outputs' is 0).
LEDGERS = 1
#: Outputs shown first when the scenario lists none.
DEFAULT_OUTPUTS = 4
#: What a facilitator reads first.
GUIDE = (
    "Move a control and the run redraws. Solid lines are this run, the faint line is the "
    "same run without targets, and a shaded band is the 5-95% range of the ensemble. In "
    "the ledgers, the solid line is what is reported and the dashed line what is true: "
    "the space between them is gaming. Pin a run to compare it, and save the settings as "
    "a scenario file. The page's address holds the settings, so a copied link reopens "
    "this view."
)

#: Run in the browser before the charts are first drawn again (a fixed text; nothing is passed
#: to it). Bokeh writes the position style sheet of every element of a chart at every paint,
#: changed or not, and each write makes the browser recompute the styles of the whole page;
#: skipping a write of the same text leaves the page as it was at a fraction of the cost (in
#: a trace of one move, the browser's main thread went from 310 ms to 129 ms). Where Bokeh has
#: no such style sheet, it does nothing.
SKIP_UNCHANGED_STYLES = """
const sheet = (() => {
  try { return Bokeh.require("core/dom").InlineStyleSheet; } catch (error) { return null; }
})();
if (sheet != null && typeof sheet.prototype._update === "function"
    && !sheet.prototype._update_unchanged_skipped) {
  const update = sheet.prototype._update;
  sheet.prototype._update = function (css) {
    if (this.el == null || this.el.textContent !== css) { update.call(this, css); }
  };
  sheet.prototype._update_unchanged_skipped = true;
}
"""


@dataclass
class Pin:
    """A pinned run: its name and the median of each recorded variable over time."""

    name: str
    series: dict[str, np.ndarray]


def time_label(model: Model) -> str:
    """The axis label of time: the year for models run in years, the date for a clock with an
    origin, else the time units."""
    units = model.time.units
    if units.rstrip("s").lower() == "year":
        return "year"
    return "date" if origin_date(model.time) is not None else f"time ({units or 'model units'})"


#: Draws a tick (model time) as an ISO date: a fixed text; only numbers are passed to it.
_DATE_TICK = "return new Date(zero + tick * unit).toISOString().slice(0, 10);"


def date_ticks(chart: Any, time: TimeSpec) -> None:
    """Dates on the time axis of ``chart`` (drawn in model time) where the clock has an
    origin, as in the reports."""
    from bokeh.models import CustomJSTickFormatter

    zero = origin_date(time)
    if zero is None:
        return
    epoch = datetime.datetime.combine(zero, datetime.time()) - datetime.datetime(1970, 1, 1)
    unit = DAYS[unit_word(time.units)] * 86_400_000.0
    chart.xaxis.formatter = CustomJSTickFormatter(
        args={"zero": epoch.total_seconds() * 1000.0, "unit": unit}, code=_DATE_TICK
    )


def visible_outputs(model: Model) -> list[str]:
    """The variables the page offers to chart."""
    return [name for name, _ in model.default_outputs()]


def default_outputs(base: Scenario, model: Model) -> list[str]:
    """The outputs charted when a page opens: the scenario's, else the measures' true values,
    else the model's own, at most :data:`DEFAULT_OUTPUTS`."""
    chosen = list(base.outputs or [])
    if not chosen:
        chosen = [m.true_column for m in model.measures] or visible_outputs(model)
    visible = set(visible_outputs(model))
    return [n for n in dict.fromkeys(chosen) if n in visible][:DEFAULT_OUTPUTS]


class Explorer:
    """The explorer of one scenario for one session.

    Parameters
    ----------
    base
        The scenario the controls start from.
    query
        The page's URL query (``{name: [value, ...]}``); unknown names are ignored and values
        clamped (:func:`~pssc_sim.explore.controls.read_query`).
    title
        The page's heading (the scenario and the model's title by default).
    address
        Entries the page's address keeps before the controls (a teaching step).
    backend
        How the runs are computed (:func:`~pssc_sim.simulate`'s ``backend``).
    """

    def __init__(
        self,
        base: Scenario,
        query: Mapping[str, Any] | None = None,
        title: str = "",
        address: Mapping[str, str] | None = None,
        backend: str = "auto",
    ) -> None:
        self.base = base
        self.backend = backend
        self.address = dict(address or {})
        self.model = base.load_model()
        self.controls = controls_for(base, self.model)
        self.state, notes = read_query(self.controls, query or {})
        self.pins: list[Pin] = []
        self.runs: Runs | None = None
        self.widgets: dict[str, pn.widgets.Widget] = {}
        self.message = pn.pane.Alert(
            "", alert_type="warning", visible=False, sizing_mode="stretch_width"
        )
        self.outputs = pn.widgets.MultiChoice(
            label="outputs shown", options=self._visible(), value=self._default_outputs()
        )
        self.outputs.param.watch(lambda _: self.update(), "value")
        self.output_source = ColumnDataSource(name="outputs", data={"t": []})
        # every update changes the outputs: the browser is patched before it draws them
        self.output_source.js_on_change("data", CustomJS(code=SKIP_UNCHANGED_STYLES))
        self.ledger_source = ColumnDataSource(name="ledgers", data={"t": []})
        self.output_pane = pn.pane.Bokeh(sizing_mode="stretch_width")
        self.ledger_pane = pn.pane.Bokeh(sizing_mode="stretch_width")
        self.card_pane = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["scorecard"])
        self.map_pane = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["strategy-map"])
        self.map_card = pn.Card(
            self.map_pane,
            title="Strategy map",
            collapsed=True,
            sizing_mode="stretch_width",
            visible=bool(self.model.measures),
        )
        self.map_card.param.watch(lambda _: self.draw_map(), "collapsed")
        self._graph: CausalGraph | None = None
        self._ledgers_of: Runs | None = None  # the runs the ledger charts show
        self._shape: tuple[Any, ...] = ()
        self._target_lines: dict[str, list[Span]] = {}
        # the vertical range of each chart, by output or measure name
        self._y_output: dict[str, Range1d] = {}
        self._y_ledger: dict[str, Range1d] = {}
        # the outputs and the ledgers, one tab each; the tab not shown is drawn when shown
        self.views = pn.Tabs(
            ("Outputs over time", self.output_pane),
            ("Reported and true ledgers", self.ledger_pane),
            dynamic=False,
            sizing_mode="stretch_width",
        )
        self.views.param.watch(lambda _: self._show_view(), "active")
        self.layout = self._layout(title or f"{base.label}: {self.model.title or self.model.name}")
        self.update()
        if notes:
            self.show("From the link: " + "; ".join(notes[:8]), "info")

    # -- building -------------------------------------------------------------------------------

    def _visible(self) -> list[str]:
        return visible_outputs(self.model)

    def _default_outputs(self) -> list[str]:
        return default_outputs(self.base, self.model)

    def _widget(self, control: Control) -> pn.viewable.Viewable:
        value = self.state[control.key]
        widget: pn.widgets.Widget
        if control.kind is Kind.SWITCH:
            widget = pn.widgets.Checkbox(label=control.label, value=value >= 0.5)
            event = "value"
        else:
            widget = pn.widgets.FloatSlider(
                label=control.label,
                start=control.low,
                end=control.high,
                step=control.step,
                value=value,
                sizing_mode="stretch_width",
            )
            event = "value_throttled"  # on release (or a key press), not on every pixel
        widget.param.watch(lambda e: self.set(control.key, float(e.new)), event)
        self.widgets[control.key] = widget
        if not control.tooltip:
            return widget
        hover = pn.widgets.TooltipIcon(value=control.tooltip.replace("\n", "\n\n"), width=24)
        return pn.Row(widget, hover, sizing_mode="stretch_width")

    def _later(self, group: Group, controls: Sequence[Control]) -> pn.Card:
        """A closed card of ``controls`` whose widgets are made when it is first opened (a page
        opens with a fraction of the widgets, and the server sends and the browser draws that
        much less)."""
        card = pn.Card(title=group.value, sizing_mode="stretch_width", collapsed=True)

        def opened(_: Any) -> None:
            if not card.collapsed and not card.objects:
                card.objects = [self._widget(c) for c in controls]

        card.param.watch(opened, "collapsed")
        return card

    def _layout(self, title: str) -> pn.viewable.Viewable:
        groups = []
        for group in Group:
            chosen = [c for c in self.controls if c.group is group]
            if group is Group.PARAMETERS and chosen:
                # closed at first, and most of a page's widgets: made when first opened
                groups.append(self._later(group, chosen))
                continue
            members = [self._widget(c) for c in chosen]
            if group is Group.VIEW:
                members.append(self.outputs)
            if members:
                groups.append(pn.Card(*members, title=group.value, sizing_mode="stretch_width"))
        reset = pn.widgets.Button(label="Reset to the scenario")
        reset.on_click(lambda _: self.reset())
        pin_name = pn.widgets.TextInput(placeholder="name of this run", width=170)
        pin = pn.widgets.Button(label="Pin run", color="primary", width=80)
        pin.on_click(lambda _: self.pin(pin_name.value or ""))
        clear = pn.widgets.Button(label="Clear pins", width=90)
        clear.on_click(lambda _: self.clear_pins())
        save = pn.widgets.FileDownload(
            callback=self.download,
            label="Save as scenario",
            filename=f"{self.base.label}-explored.yaml",
            color="success",
            sizing_mode="stretch_width",
        )
        side = pn.Column(*groups, reset, pn.Row(pin_name, pin), clear, save, width=360)
        main = pn.Column(
            pn.pane.Markdown(f"## {html.escape(title)}\n\n{GUIDE}"),
            self.message,
            self.views,
            pn.pane.Markdown("### Scorecard"),
            self.card_pane,
            self.map_card,
            sizing_mode="stretch_width",
        )
        return pn.Row(side, main, sizing_mode="stretch_width")

    # -- actions --------------------------------------------------------------------------------

    def set(self, key: str, value: float) -> None:
        """Set one control (clamped to its bounds) and run again."""
        control = next((c for c in self.controls if c.key == key), None)
        if control is None:
            return
        self.state[key] = control.clamp(value)
        self.update()

    def reset(self) -> None:
        """Every control back to the scenario's value."""
        self.state = defaults(self.controls)
        for control in self.controls:
            widget = self.widgets.get(control.key)
            if widget is None:  # not made yet: it starts from the state when it is
                continue
            widget.value = (
                self.state[control.key] >= 0.5
                if control.kind is Kind.SWITCH
                else self.state[control.key]
            )
        self.update()

    def pin(self, name: str) -> None:
        """Keep the current run under ``name`` (the oldest pin goes beyond :data:`MAX_PINS`)."""
        if self.runs is None:
            return
        results = self.runs.result
        label = " ".join(name.split())[:40] or f"run {len(self.pins) + 1}"
        series = {n: band(results, n)[0] for n in results.results.names}
        self.pins = [*self.pins, Pin(label, series)][-MAX_PINS:]
        self._shape = ()
        self.redraw()

    def clear_pins(self) -> None:
        """Drop every pinned run."""
        self.pins = []
        self._shape = ()
        self.redraw()

    def scenario(self) -> Scenario:
        """The scenario the controls set now."""
        return scenario_for(self.base, self.controls, self.state, self.model)

    def download(self) -> io.StringIO:
        """The current settings as a scenario file (made in memory; nothing is written)."""
        return io.StringIO(scenario_yaml(self.scenario(), self._note()))

    def _note(self) -> str:
        changed = write_query(self.controls, self.state).replace("&", ", ")
        return (
            f"Explored from {self.base.label}"
            + (f" with {changed}" if changed else "")
            + (f". {self.base.description}" if self.base.description else "")
        )

    def show(self, text: str, kind: AlertType = "warning") -> None:
        """Show ``text`` above the charts (an empty text hides the message)."""
        self.message.object = text
        self.message.alert_type = kind
        self.message.visible = bool(text)

    def update(self) -> None:
        """Run the current settings and redraw; a failed run shows a message and keeps the last
        good charts."""
        try:
            runs = compute(self.scenario(), self.outputs.value, self.backend)
        except (PsscSimError, ArithmeticError, ValueError, MemoryError) as exc:
            self.show(
                f"This run failed: {' '.join(str(exc).split())[:400]}. Move the control "
                "back, or press 'Reset to the scenario'.",
                "danger",
            )
            return
        self.runs = runs
        # one message to the browser for the whole update: the charts' data, the scorecard,
        # the message and the address arrive together and are drawn in one frame
        with pn.io.hold():
            self.show("")
            self.redraw()
            self.write_location()

    def write_location(self) -> None:
        """Put the settings in the page's address (only values that differ from the scenario),
        so a copied link reopens this view."""
        location = pn.state.location
        if location is not None:
            query = "&".join(
                filter(None, [urlencode(self.address), write_query(self.controls, self.state)])
            )
            location.search = f"?{query}" if query else ""

    # -- drawing --------------------------------------------------------------------------------

    def redraw(self) -> None:
        """Put the current runs into the charts (new charts only when their shape changed).

        Only the columns that changed are sent to the browser, in the one message of the
        update; each chart's ranges are set here (:func:`held_range`), so the browser neither
        fits them nor sends them back."""
        if self.runs is None:
            return
        names = [n for n in self.outputs.value if n in self.runs.result.results.names]
        data: dict[str, Any] = output_columns(self.runs, names)
        if not self.runs.result.is_ensemble:  # no band is drawn: its columns stay here
            data = {k: v for k, v in data.items() if not k.endswith((":low", ":high"))}
        for i, pin in enumerate(self.pins):
            for name in names:
                if name in pin.series:
                    data[f"{name}:pin{i}"] = pin.series[name].tolist()
        shape = (tuple(names), self.runs.result.is_ensemble, tuple(p.name for p in self.pins))
        # numpy columns travel to the browser as binary buffers, lists as JSON text
        refresh(self.output_source, {k: np.asarray(v, dtype=float) for k, v in data.items()})
        if shape != self._shape:
            self._shape = shape
            self.output_pane.object = self._output_chart(names)
        self._fit_ranges(self.output_source, self._y_output)
        if self.views.active == LEDGERS:
            self._draw_ledgers()
        card = scorecard_html(self.runs.card)
        if card != self.card_pane.object:
            self.card_pane.object = card
        self.draw_map()

    def _draw_ledgers(self) -> None:
        """Put the current runs into the ledger charts, made when their tab is first shown;
        while it is not shown they are left as they are (a move costs the browser and the
        server nothing for them), and drawn when it is (:meth:`_show_view`)."""
        assert self.runs is not None  # redraw and _show_view check it
        columns = ledger_columns(self.runs)
        refresh(self.ledger_source, {k: np.asarray(v, dtype=float) for k, v in columns.items()})
        if self.ledger_pane.object is None:
            self.ledger_pane.object = self._ledger_chart()
        self._fit_ranges(self.ledger_source, self._y_ledger)
        self._move_target_lines()
        self._ledgers_of = self.runs

    def _show_view(self) -> None:
        """A tab was chosen: the ledgers brought up to the current runs, in one message."""
        shown = self.views.active == LEDGERS
        if self.runs is not None and shown and self._ledgers_of is not self.runs:
            with pn.io.hold():
                self._draw_ledgers()
        self.draw_map()

    @staticmethod
    def _fit_ranges(source: ColumnDataSource, ranges: Mapping[str, Range1d]) -> None:
        """The vertical range of each chart of ``source`` around what it draws now
        (:func:`held_range`), kept in its reset values; a chart the reader zoomed or panned
        keeps that view until its reset tool brings back the fitted range."""
        for prefix, y_range in ranges.items():
            fitted = (y_range.reset_start, y_range.reset_end)
            start, end = held_range(fitted, *extent(drawn(source, prefix)))
            if (start, end) == fitted:
                continue
            zoomed = (y_range.start, y_range.end) != fitted
            shown = {} if zoomed else {"start": start, "end": end}
            y_range.update(reset_start=start, reset_end=end, **shown)

    def _y_range(self, source: ColumnDataSource, prefix: str) -> Range1d:
        """A vertical range fitted to the columns of ``prefix`` in ``source``."""
        start, end = held_range((None, None), *extent(drawn(source, prefix)))
        return Range1d(start=start, end=end, reset_start=start, reset_end=end)

    def draw_map(self) -> None:
        """Draw the strategy map of the current run while its card is open (a closed card costs
        nothing; the model's causal graph is built once, on first opening)."""
        if self.runs is None or self.map_card.collapsed or not self.model.measures:
            return
        from pssc_sim.ir.causal import causal_graph
        from pssc_sim.report.strategy_drawing import map_html

        if self._graph is None:
            self._graph = causal_graph(self.model)
        self.map_pane.object = map_html(self.runs.result, self.runs.card, self._graph)

    def _output_chart(self, names: Sequence[str]) -> Any:
        assert self.runs is not None  # redraw checks it
        ensemble = self.runs.result.is_ensemble
        model = self.model
        units = {v.name: v.meta.units for v in model.stocks}
        units |= {v.name: v.meta.units for v in model.flows}
        units |= {v.name: v.meta.units for v in model.auxiliaries}
        charts: list[Any] = []
        self._y_output = {name: self._y_range(self.output_source, name) for name in names}
        for i, name in enumerate(names):
            colour = Category10_10[i % 10]
            chart = _figure(
                x_range=self._x_range(),
                y_range=self._y_output[name],
                title=name.replace("_", " "),
                height=230,
                x_axis_label=time_label(self.model),
                y_axis_label=units.get(name, ""),
                tools="pan,wheel_zoom,box_zoom,reset,save",
            )
            date_ticks(chart, model.time)
            key = _Key(i == 0)  # one legend for the grid: each costs the browser every move
            if ensemble:
                chart.varea(
                    x="t",
                    y1=f"{name}:low",
                    y2=f"{name}:high",
                    source=self.output_source,
                    fill_color=colour,
                    fill_alpha=0.2,
                    **key("5-95%"),
                )
            chart.line(
                "t",
                f"{name}:reference",
                source=self.output_source,
                color=colour,
                alpha=0.3,
                line_width=2,
                **key("without targets"),
            )
            for j, pin in enumerate(self.pins):
                chart.line(
                    "t",
                    f"{name}:pin{j}",
                    source=self.output_source,
                    color="#444444",
                    line_dash=PIN_DASHES[j],
                    **key(pin.name),
                )
            chart.line(
                "t",
                name,
                source=self.output_source,
                color=colour,
                line_width=2,
                **key("this run"),
            )
            if i == 0:
                chart.legend.location = "top_left"
                chart.legend.click_policy = "hide"
                chart.legend.background_fill_alpha = 0.6
            charts.append(chart)
        return gridplot(charts, ncols=2, sizing_mode="stretch_width") if charts else None

    def _x_range(self) -> Range1d:
        """The time axis of a chart: the whole run."""
        times = self.output_source.data["t"]
        start, end = (float(times[0]), float(times[-1])) if len(times) else (0.0, 1.0)
        if end <= start:
            end = start + 1.0
        return Range1d(start=start, end=end, reset_start=start, reset_end=end)

    def _move_target_lines(self) -> None:
        """The date (and level) of each target on its ledger chart, as the controls set them."""
        assert self.runs is not None  # redraw checks it
        for target in self.runs.scenario.targets:
            lines = self._target_lines.get(target.measure, [])
            for line, where in zip(lines, (target.by, target.value), strict=False):
                if line.location != where:
                    line.location = where

    def _ledger_chart(self) -> Any:
        assert self.runs is not None  # redraw checks it
        targets = {t.measure: t for t in self.runs.scenario.targets}
        charts: list[Any] = []
        self._y_ledger = {
            measure.name: self._y_range(self.ledger_source, measure.name)
            for measure in self.model.measures
        }
        for i, measure in enumerate(self.model.measures):
            colour = Category10_10[i % 10]
            chart = _figure(
                x_range=self._x_range(),
                y_range=self._y_ledger[measure.name],
                title=f"{measure.name.replace('_', ' ')} ({measure.perspective.value}, "
                f"{measure.better.value} is better)",
                height=200,
                x_axis_label=time_label(self.model),
                y_axis_label=measure.meta.units,
                tools="pan,wheel_zoom,reset",
            )
            date_ticks(chart, self.model.time)
            key = _Key(i == 0)
            chart.line(
                "t",
                f"{measure.name}:reported",
                source=self.ledger_source,
                color=colour,
                line_width=2,
                **key("reported"),
            )
            chart.line(
                "t",
                f"{measure.name}:true",
                source=self.ledger_source,
                color=colour,
                line_width=2,
                line_dash="dashed",
                **key("true"),
            )
            if measure.name in targets:
                lines = [Span(dimension="height", line_color="#888888", line_dash="dotted")]
                if targets[measure.name].kind is TargetKind.LEVEL:
                    lines.append(Span(dimension="width", line_color="#888888", line_dash="dotted"))
                for line in lines:
                    chart.add_layout(line)
                self._target_lines[measure.name] = lines
            if i == 0:
                chart.legend.location = "top_left"
                chart.legend.background_fill_alpha = 0.6
            charts.append(chart)
        return gridplot(charts, ncols=3, sizing_mode="stretch_width") if charts else None


@dataclass(frozen=True)
class _Key:
    """The legend entry of a glyph on the chart that carries the grid's one legend (a legend
    is laid out and drawn again at every repaint of its chart: one for the grid, on its first
    chart, serves them all, since every chart draws the same kinds of line the same way)."""

    shown: bool

    def __call__(self, label: str) -> dict[str, str]:
        return {"legend_label": label} if self.shown else {}


def refresh(source: ColumnDataSource, columns: dict[str, Any]) -> None:
    """Put ``columns`` into ``source``, sending the browser only the columns that changed (all
    of them when the set of columns or their length changed)."""
    old = source.data
    if set(old) != set(columns) or any(len(old[k]) != len(v) for k, v in columns.items()):
        source.data = columns
        return
    changed = {k: v for k, v in columns.items() if not np.array_equal(old[k], v, equal_nan=True)}
    if changed:
        source.data.update(changed)  # type: ignore[arg-type]  # Bokeh's column data, not pandas'


def drawn(source: ColumnDataSource, prefix: str) -> list[Any]:
    """The columns of ``source`` drawn on the chart of ``prefix`` (an output or a measure):
    ``prefix`` itself and every ``prefix:...``."""
    return [v for k, v in source.data.items() if k == prefix or str(k).startswith(f"{prefix}:")]


def extent(columns: Sequence[Any]) -> tuple[float, float]:
    """The smallest and largest finite value in ``columns`` (NaN, NaN when there is none)."""
    finite = [c[np.isfinite(c)] for c in (np.asarray(c, dtype=float) for c in columns)]
    values = [c for c in finite if c.size]
    if not values:
        return math.nan, math.nan
    return float(min(c.min() for c in values)), float(max(c.max() for c in values))


#: The share of a chart's range left empty on each side of the data.
PADDING = 0.05
#: A range is kept while the data fill at least this share of it.
SNUG = 0.5


def held_range(current: tuple[Any, Any], low: float, high: float) -> tuple[float, float]:
    """The vertical range of a chart whose data go from ``low`` to ``high``: ``current`` while
    it holds them and they fill at least :data:`SNUG` of it (so the axes stay still as a slider
    moves, and the movement shows), else the data with :data:`PADDING` on each side.

    >>> held_range((None, None), 0.0, 10.0)
    (-0.5, 10.5)
    >>> held_range((-0.5, 10.5), 1.0, 9.0)
    (-0.5, 10.5)
    >>> held_range((-0.5, 10.5), 2.0, 12.0)
    (1.5, 12.5)
    >>> held_range((-0.5, 10.5), 4.0, 6.0)
    (3.9, 6.1)
    """
    if not (math.isfinite(low) and math.isfinite(high)):
        start, end = current
        return (0.0, 1.0) if start is None or end is None else (float(start), float(end))
    start, end = current
    held = start is not None and end is not None and start <= low and high <= end
    if held and start < end and high - low >= SNUG * (end - start):
        return float(start), float(end)
    span = high - low
    if span <= 0:
        span = abs(high) or 1.0
    pad = PADDING * span
    new_start, new_end = low - pad, high + pad
    if not new_start < new_end:  # a span lost to rounding next to a large value
        new_start, new_end = math.nextafter(low, -math.inf), math.nextafter(high, math.inf)
    return new_start, new_end


def _figure(**options: Any) -> Any:
    """A Bokeh figure that fills the page's width (Bokeh's keyword arguments pass through; its
    stubs do not list the figure options under every set of installed packages)."""
    return figure(sizing_mode="stretch_width", **options)


def _cell(value: float | None, percent: bool = False) -> str:
    if value is None:
        return "<td>-</td>"
    return f"<td>{value:.0%}</td>" if percent else f"<td>{value:.4g}</td>"


def _row(row: ScorecardRow, ensemble: bool, card: Scorecard) -> str:
    status = row.rag or "-"
    colour = RAG_COLOURS.get(status, "transparent")
    cells = (
        f"<td>{html.escape(row.measure)}</td>{_cell(row.target)}"
        f"<td>{html.escape(card.when(row.at))}</td>"
        f"{_cell(row.reported)}{_cell(row.true)}{_cell(row.gap)}"
        f"<td class='rag' style='background:{colour}'>{status}</td>"
    )
    if ensemble:
        cells += _cell(row.probability, True) + _cell(row.probability_true, True)
    return (
        f"<tr data-measure='{html.escape(row.measure)}' data-gap='{row.gap!r}' "
        f"data-rag='{status}'>{cells}</tr>"
    )


def scorecard_html(card: Scorecard) -> str:
    """The scorecard as an HTML table by perspective, each status cell in its RAG colour."""
    ensemble = card.members > 1
    head = (
        "<tr><th>measure</th><th>target</th><th>at</th><th>reported</th><th>true</th>"
        "<th>gap</th><th>status</th>"
        + ("<th>P(met)</th><th>P(true met)</th>" if ensemble else "")
        + "</tr>"
    )
    parts = ["<table class='pss-scorecard' style='border-collapse:collapse'>"]
    for perspective in Perspective:
        rows = [r for r in card.rows if r.perspective == perspective.value]
        if rows:
            parts.append(
                f"<tr><th colspan='9' style='text-align:left;padding-top:6px'>"
                f"{perspective.value.upper()}</th></tr>{head}"
            )
            parts += [_row(r, ensemble, card) for r in rows]
    parts.append("</table>")
    worse = [
        f"<li>{html.escape(c.measure)} ({c.perspective}): {c.value:.4g} against "
        f"{c.reference:.4g} without targets ({c.relative:+.1%} worse)</li>"
        for c in card.consequences
    ]
    parts.append(
        "<p><b>Unintended consequences</b> (true values at the end, against the run "
        "without targets):</p>" + (f"<ul>{''.join(worse)}</ul>" if worse else "<p>none</p>")
    )
    return "".join(parts)


def build(
    base: Scenario, query: Mapping[str, Any] | None = None, backend: str = "auto"
) -> Explorer:
    """A new :class:`Explorer` of ``base`` for the current session (its URL query read)."""
    given = query if query is not None else dict(pn.state.session_args or {})
    explorer = Explorer(base, given, backend=backend)
    # the address the browser sent is synced once the page has loaded: rewrite it then
    pn.state.onload(explorer.write_location)
    return explorer
