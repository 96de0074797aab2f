"""Drawing the PSS strategy map: tiers of measure boxes and signed arrows, with matplotlib.

Tiers are horizontal bands, capability at the bottom. Within a tier the boxes are ordered to
reduce crossing arrows by barycentre sweeps (Sugiyama, Tagawa and Toda, 1981, "Methods for visual
understanding of hierarchical system structures", IEEE SMC 11(2)): each tier in turn is sorted by
the mean position of the measures it is linked to, and the order with the fewest crossings is
kept. Boxes are then laid side by side from their text widths, so no two overlap. Arrows up the
map are solid; arrows down it (feedback from a higher tier to a lower one) are dashed and curved
so they stay visible. In SVG each box and arrow carries a ``<title>`` a browser shows on hover:
the variables an arrow passes through, and what a box's numbers mean.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pssc_sim.errors import ParameterError
from pssc_sim.ir.causal import CausalGraph, Polarity
from pssc_sim.plot import plain
from pssc_sim.report.strategy_map import TIERS, MapLink, MapMeasure, StrategyMap
from pssc_sim.report.words import points, quantity

if TYPE_CHECKING:
    from pssc_sim.scenario.runner import ScenarioResult
    from pssc_sim.scorecard.scoring import Scorecard

FORMATS = (".svg", ".png", ".pdf")
_FONT_SIZE = 8.5
_CHAR = 0.62 * _FONT_SIZE / 72  # inches per character, a little generous
_LINE = 1.35 * _FONT_SIZE / 72
_GAP = 0.35  # inches between boxes of a tier
_TIER_GAP = 1.1  # inches between the tallest boxes of two tiers
_PAD = 0.08
_WRAP = 24
_TIER_TITLE = {
    "capability": "Capability",
    "process": "Process",
    "outcome": "Outcome",
    "value_for_money": "Value for money",
}
_RAG_FILL = {"green": "#d7eed0", "amber": "#fce7b2", "red": "#f7c9c9", None: "#ffffff"}
_SIGN = {Polarity.POSITIVE: "+", Polarity.NEGATIVE: "\u2212", Polarity.UNKNOWN: "?"}
_COLOUR = {Polarity.POSITIVE: "#1f5fa8", Polarity.NEGATIVE: "#b2182b", Polarity.UNKNOWN: "#666666"}
_RISK = "#c0001a"


def check_format(path: str | Path) -> Path:
    """``path`` if its suffix is a picture format the map can be written in."""
    target = Path(path)
    if target.suffix.lower() not in FORMATS:
        raise ParameterError(
            f"output: unsupported picture format '{target.suffix}' (got "
            f"{str(target)!r}). Use a .svg, .png or .pdf file name"
        )
    return target


def number(value: float) -> str:
    """A value to three significant figures, without an exponent for everyday sizes."""
    if value == 0 or 1e-3 <= abs(value) < 1e6:
        text = f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
        return text
    return f"{value:.3g}"


def box_text(measure: MapMeasure) -> str:
    """The lines written in a measure's box."""
    lines = [_wrap(measure.label)]
    if measure.true is not None and measure.reported is not None:
        share = measure.kind == "threshold share"

        def value(v: float) -> str:
            return f"{v:.1%}" if share else quantity(v, measure.units)

        flatters = abs(measure.reported - measure.true) > 1e-9 * max(abs(measure.true), 1.0)
        if measure.target is not None:
            lines.append(f"target {value(measure.target)}: {str(measure.rag).upper()}")
        if measure.target is not None or flatters:
            lines.append(f"reported {value(measure.reported)}, true {value(measure.true)}")
        else:
            lines.append(value(measure.true))
        if flatters and measure.gap is not None:
            gap = points(measure.gap) if share else quantity(measure.gap, measure.units)
            lines.append(f"reported minus true: {gap}")
    if measure.harm is not None:
        lines.append(f"RISK: {measure.relative_harm or 0:.1%} worse than without targets")
    if measure.mechanisms:
        lines.append(
            _wrap("gamed by " + ", ".join(m.replace("_", " ") for m in measure.mechanisms))
        )
    return "\n".join(lines)


def _wrap(text: str, width: int = _WRAP) -> str:
    lines: list[str] = []
    line = ""
    for word in text.split():
        if line and len(line) + len(word) + 1 > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    return "\n".join(lines)


def box_size(text: str) -> np.ndarray:
    """Width and height of a box holding ``text``, in inches (padding included)."""
    lines = text.split("\n")
    return np.array([max(len(s) for s in lines) * _CHAR, len(lines) * _LINE]) + 2 * _PAD * 2


def crossings(positions: Mapping[str, np.ndarray], links: Sequence[MapLink]) -> int:
    """How many pairs of arrows cross when drawn as straight lines between box centres (arrows
    that share a box meet there, which is not a crossing)."""
    if len(links) < 2:
        return 0
    ends = np.array([(positions[lk.cause], positions[lk.effect]) for lk in links], dtype=float)
    first, second = np.triu_indices(len(links), 1)
    p1, p2 = ends[first, 0], ends[first, 1]
    q1, q2 = ends[second, 0], ends[second, 1]
    shared = np.zeros(first.size, dtype=bool)
    for x in (p1, p2):
        for y in (q1, q2):
            shared |= np.isclose(x, y).all(axis=1)
    crossed = (_turn(p1, p2, q1) * _turn(p1, p2, q2) < 0) & (
        _turn(q1, q2, p1) * _turn(q1, q2, p2) < 0
    )
    return int(np.count_nonzero(crossed & ~shared))


def _turn(p: np.ndarray, q: np.ndarray, r: np.ndarray) -> np.ndarray:
    """The side of the line p -> q on which r lies (+1 left, -1 right, 0 on it), row by row."""
    side: np.ndarray = np.sign(
        (q[:, 0] - p[:, 0]) * (r[:, 1] - p[:, 1]) - (q[:, 1] - p[:, 1]) * (r[:, 0] - p[:, 0])
    )
    return side


def layout(strategy: StrategyMap, sweeps: int = 8) -> dict[str, np.ndarray]:
    """Box centres in inches: tiers bottom to top, each ordered to reduce crossings."""
    orders = {t: list(names) for t, names in strategy.tiers.items()}
    sizes = {n: box_size(box_text(m)) for n, m in strategy.measures.items()}
    best = _place(orders, sizes)
    best_count = crossings(best, strategy.links)
    neighbours: dict[str, list[str]] = {n: [] for n in strategy.measures}
    for link in strategy.links:
        neighbours[link.cause].append(link.effect)
        neighbours[link.effect].append(link.cause)
    tiers = list(orders)
    for sweep in range(sweeps):
        sequence = tiers if sweep % 2 == 0 else tiers[::-1]
        for tier in sequence:
            current = _place(orders, sizes)
            orders[tier].sort(key=lambda n: _barycentre(n, neighbours[n], current, tier, strategy))
            placed = _place(orders, sizes)
            count = crossings(placed, strategy.links)
            if count < best_count:
                best, best_count = placed, count
    return best


def _barycentre(
    name: str,
    others: list[str],
    positions: Mapping[str, np.ndarray],
    tier: str,
    strategy: StrategyMap,
) -> float:
    xs = [positions[o][0] for o in others if strategy.measures[o].tier != tier]
    return float(np.mean(xs)) if xs else float(positions[name][0])


def _place(
    orders: Mapping[str, list[str]],
    sizes: Mapping[str, np.ndarray],
) -> dict[str, np.ndarray]:
    positions: dict[str, np.ndarray] = {}
    y = 0.0
    for tier in TIERS:
        names = orders.get(tier)
        if not names:
            continue
        widths = [sizes[n][0] for n in names]
        height = max(sizes[n][1] for n in names)
        x = -(sum(widths) + _GAP * (len(names) - 1)) / 2
        for name, width in zip(names, widths, strict=True):
            positions[name] = np.array([x + width / 2, y + height / 2])
            x += width + _GAP
        y += height + _TIER_GAP
    return positions


def draw_strategy_map(strategy: StrategyMap, *, ax: Any = None) -> Any:
    """Draw ``strategy`` on ``ax`` (a new figure sized to the map when ``None``); return the Axes.

    Boxes are text artists with a ``gid`` of ``measure-<name>``; arrows are patches with a
    ``gid`` of ``link-<index>``.
    """
    from matplotlib.figure import Figure

    positions = layout(strategy)
    sizes = {n: box_size(box_text(m)) for n, m in strategy.measures.items()}
    margin_low, margin_high = np.array([1.4, 1.0]), np.array([0.4, 1.1])  # room for arcs
    low = np.min([positions[n] - sizes[n] / 2 for n in positions], axis=0) - margin_low
    high = np.max([positions[n] + sizes[n] / 2 for n in positions], axis=0) + margin_high
    if ax is None:
        extent = high - low
        figure = Figure(figsize=(float(extent[0]), float(extent[1])))
        ax = figure.add_axes((0, 0, 1, 1))
    ax.set_xlim(low[0], high[0])
    ax.set_ylim(low[1], high[1])
    ax.set_axis_off()
    _draw_tiers(ax, strategy, positions, sizes, low, high)
    texts = {
        name: _draw_box(ax, strategy.measures[name], positions[name]) for name in strategy.measures
    }
    for index, link in enumerate(strategy.links):
        _draw_link(ax, strategy, link, index, positions, texts)
    ax.text(
        low[0] + 0.1,
        high[1] - 0.1,
        plain(strategy.title),
        fontsize=_FONT_SIZE + 3,
        va="top",
        fontweight="bold",
    )
    ax.text(
        low[0] + 0.1,
        high[1] - 0.38,
        "+ same direction, \u2212 opposite, ? depends on the "
        "state (the sign in the run in brackets); dashed: feedback down the map; red "
        "border: a risk",
        fontsize=_FONT_SIZE - 0.5,
        va="top",
        color="#444444",
    )
    return ax


def _draw_tiers(
    ax: Any,
    strategy: StrategyMap,
    positions: Mapping[str, np.ndarray],
    sizes: Mapping[str, np.ndarray],
    low: np.ndarray,
    high: np.ndarray,
) -> None:
    for k, (tier, names) in enumerate(strategy.tiers.items()):
        bottom = min(positions[n][1] - sizes[n][1] / 2 for n in names) - _TIER_GAP / 2 + 0.1
        top = max(positions[n][1] + sizes[n][1] / 2 for n in names) + _TIER_GAP / 2 - 0.1
        ax.axhspan(bottom, top, color="#f2f2f2" if k % 2 == 0 else "#fafafa", lw=0, zorder=0)
        ax.text(
            low[0] + 0.1,
            (bottom + top) / 2,
            _TIER_TITLE[tier],
            fontsize=_FONT_SIZE + 1,
            fontweight="bold",
            color="#555555",
            va="center",
            ha="left",
            zorder=1,
        )


def _draw_box(ax: Any, measure: MapMeasure, centre: np.ndarray) -> Any:
    edge = _RISK if measure.harm is not None else "#444444"
    text = ax.text(
        float(centre[0]),
        float(centre[1]),
        plain(box_text(measure)),
        ha="center",
        va="center",
        fontsize=_FONT_SIZE,
        zorder=4,
        linespacing=1.2,
        color=_RISK if measure.harm is not None else "#111111",
        bbox={
            "boxstyle": f"round,pad={_PAD * 72 / _FONT_SIZE:.2f}",
            "fc": _RAG_FILL.get(measure.rag, "#ffffff"),
            "ec": edge,
            "lw": 2.2 if measure.harm is not None else 0.9,
        },
    )
    text.set_gid(f"measure-{measure.name}")
    return text


def _draw_link(
    ax: Any,
    strategy: StrategyMap,
    link: MapLink,
    index: int,
    positions: Mapping[str, np.ndarray],
    texts: Mapping[str, Any],
) -> None:
    from matplotlib.patches import FancyArrowPatch

    rise = strategy.tier_of(link.effect) - strategy.tier_of(link.cause)
    down = rise < 0
    rad = 0.12 if rise > 0 else (0.35 if down else 0.45)
    colour = _COLOUR[link.polarity]
    start, end = positions[link.cause], positions[link.effect]
    arrow = FancyArrowPatch(
        (float(start[0]), float(start[1])),
        (float(end[0]), float(end[1])),
        connectionstyle=f"arc3,rad={rad}",
        arrowstyle="-|>",
        mutation_scale=11,
        color=colour,
        lw=1.0,
        zorder=2,
        linestyle="--" if down else "-",
        alpha=0.85,
        patchA=texts[link.cause].get_bbox_patch(),
        patchB=texts[link.effect].get_bbox_patch(),
    )
    arrow.set_gid(f"link-{index}")
    ax.add_patch(arrow)
    sign = _SIGN[link.polarity] + (f" ({_SIGN[link.run]})" if link.run is not None else "")
    mark = _mark(start, end, rad)
    label = ax.text(
        float(mark[0]),
        float(mark[1]),
        sign,
        color=colour,
        fontsize=_FONT_SIZE + 1,
        fontweight="bold",
        ha="center",
        va="center",
        zorder=3,
    )
    label.set_gid(f"sign-{index}")


def _mark(start: np.ndarray, end: np.ndarray, rad: float) -> np.ndarray:
    """A point on the curved arrow, two thirds of the way along (matplotlib's arc3 curve)."""
    chord = end - start
    control = (start + end) / 2 + rad * np.array([chord[1], -chord[0]])
    t = 0.68
    return np.asarray((1 - t) ** 2 * start + 2 * t * (1 - t) * control + t**2 * end)


def link_title(link: MapLink) -> str:
    """The hover text of an arrow: its ends, its sign and the variables it passes through."""
    via = ", ".join(link.via) if link.via else "a direct link"
    run = f"; in this run {link.run.value}" if link.run is not None else ""
    return f"{link.cause} \u2192 {link.effect} ({link.polarity.value}{run}) via {via}"


def measure_title(measure: MapMeasure) -> str:
    """The hover text of a box."""
    parts = [f"{measure.name} ({measure.tier.replace('_', ' ')}, {measure.better} is better)"]
    if measure.when:
        parts.append(f"values at {measure.when}")
    elif measure.at is not None:
        parts.append(f"values at time {number(measure.at)}")
    if measure.gap is not None:
        gap = (
            points(measure.gap)
            if measure.kind == "threshold share"
            else quantity(measure.gap, measure.units)
        )
        parts.append(f"reported minus true: {gap}")
    if measure.harm is not None:
        parts.append(
            f"true value ends {quantity(measure.harm, measure.units)} worse than in "
            "the same scenario without targets"
        )
    return "; ".join(parts)


def with_titles(svg: str, strategy: StrategyMap) -> str:
    """The SVG text with a ``<title>`` in the group of every arrow and box."""
    titles = {f"link-{i}": link_title(lk) for i, lk in enumerate(strategy.links)}
    titles.update({f"measure-{n}": measure_title(m) for n, m in strategy.measures.items()})

    def add(match: re.Match[str]) -> str:
        title = titles.get(match.group(1))
        return (
            match.group(0)
            if title is None
            else f"{match.group(0)}\n   <title>{html.escape(title)}</title>"
        )

    return re.sub(r'<g id="([^"]+)">', add, svg)


def svg_text(strategy: StrategyMap, *, inline: bool = False) -> str:
    """The map as SVG text with hover titles.

    ``inline`` gives an ``<svg>`` element for an HTML page: text kept as text (the page's fonts,
    searchable), no XML prolog or namespace addresses, and scaled to the page's width.
    """
    import io

    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    with rc_context({"svg.fonttype": "none" if inline else "path", "svg.hashsalt": "map"}):
        ax = draw_strategy_map(strategy)
        FigureCanvasAgg(ax.figure)
        buffer = io.StringIO()
        ax.figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = with_titles(buffer.getvalue(), strategy)
    if not inline:
        return text
    text = text[text.index("<svg") :]
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, flags=re.DOTALL)
    text = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", text)
    return re.sub(
        r'<svg([^>]*?) width="[^"]*" height="[^"]*"',
        r'<svg\1 style="max-width: 100%; height: auto"',
        text,
        count=1,
    )


def save_strategy_map(strategy: StrategyMap, path: str | Path) -> Path:
    """Draw the map and write it to ``path`` (``.svg``, ``.png`` or ``.pdf``).

    The file is staged and moved in with :func:`~pssc_sim.output.file_set`: a reader never sees
    half a picture, and an interrupted or failed write leaves the previous file as it was.
    """
    from pssc_sim.output import file_set

    target = check_format(path)
    suffix = target.suffix.lower()
    text = svg_text(strategy) if suffix == ".svg" else None
    with file_set(target.parent, [target.name]) as staging:
        staged = staging / target.name
        if text is not None:
            staged.write_text(text, encoding="utf-8")
        else:
            from matplotlib.backends.backend_agg import FigureCanvasAgg

            figure = draw_strategy_map(strategy).figure
            FigureCanvasAgg(figure)
            figure.savefig(
                staged,
                format=suffix[1:],
                dpi=150,
                metadata={"Creator": None} if suffix == ".pdf" else None,
            )
    return target


def map_html(result: ScenarioResult, card: Scorecard, graph: CausalGraph | None = None) -> str:
    """The strategy map of a run as an inline ``<figure>`` for a report page ('' without
    measures); ``graph`` is the model's causal graph when the caller keeps it."""
    from pssc_sim.report.strategy_map import scenario_map

    if not result.model.measures:
        return ""
    strategy = scenario_map(result, card, graph)
    caption = (
        "Strategy map: measures by perspective, capability at the bottom; an arrow where "
        "the model's causal links join two measures (hover for the variables in "
        "between); red borders mark measures that end worse than without targets"
    )
    return (
        f'<figure class="strategy-map">{svg_text(strategy, inline=True)}'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )
