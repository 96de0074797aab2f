"""Causal loop diagrams drawn from a causal graph.

Stocks are drawn in boxes, other variables as plain labels; every arrow carries its polarity near
its head, and each feedback loop's name (R1, B1 ...) sits at the centre of its variables. The
layout starts from networkx's Kamada-Kawai placement and then pushes apart any two labels whose
boxes would overlap, so names stay readable on models of a few dozen variables.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

from pssc_sim.analysis.loops import Loop, find_loops
from pssc_sim.atomic import atomic_path, write_error
from pssc_sim.errors import ParameterError, did_you_mean
from pssc_sim.ir.causal import CausalGraph, NodeKind, Polarity
from pssc_sim.plot import plain

_FONT_SIZE = 9.0
_CURVATURE = 0.18
_STOCK_BOX = {"boxstyle": "square,pad=0.4", "fc": "#f3f3f3", "ec": "#333333"}
_VARIABLE_BOX = {"boxstyle": "round,pad=0.3", "fc": "white", "ec": "none"}
_POLARITY_TEXT = {Polarity.POSITIVE: "+", Polarity.NEGATIVE: "\u2212", Polarity.UNKNOWN: "?"}
_POLARITY_COLOUR = {
    Polarity.POSITIVE: "#1f5fa8",
    Polarity.NEGATIVE: "#b2182b",
    Polarity.UNKNOWN: "#555555",
}


def neighbourhood(graph: CausalGraph, variable: str, depth: int) -> CausalGraph:
    """The variables within ``depth`` links of ``variable``, upstream and downstream.

    This is the causes tree and the uses tree of ``variable`` together.
    """
    if variable not in graph.nodes:
        raise ParameterError(
            f"around: unknown variable '{variable}'."
            f"{did_you_mean(variable, graph.nodes)} Name a variable of the model"
        )
    if depth < 1:
        raise ParameterError(f"depth: must be at least 1 (got {depth}). Use e.g. 2")
    keep = {variable}
    for direction in ("cause", "effect"):
        frontier = {variable}
        for _ in range(depth):
            other = "effect" if direction == "cause" else "cause"
            frontier = {
                getattr(lk, direction) for lk in graph.links if getattr(lk, other) in frontier
            } - keep
            keep |= frontier
    nodes = {n: k for n, k in graph.nodes.items() if n in keep}
    links = tuple(lk for lk in graph.links if lk.cause in keep and lk.effect in keep)
    return CausalGraph(nodes, links)


def _label_size(name: str, scale: float) -> np.ndarray:
    """Approximate half-width and half-height of a label, in layout units."""
    lines = name.replace("_", " ").split("\n")
    width = max(len(line) for line in lines) * 0.6 * _FONT_SIZE
    height = 1.6 * _FONT_SIZE * len(lines)
    return np.array([width, height]) * scale / 2


def wrap_label(name: str, width: int = 14) -> str:
    """A variable name on lines of about ``width`` characters."""
    words, lines, line = name.split("_"), [], ""
    for word in words:
        if line and len(line) + len(word) + 1 > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    return "\n".join(lines)


def layout(graph: CausalGraph, *, seed: int = 1) -> dict[str, np.ndarray]:
    """Positions of the variables, with label boxes pushed apart until none overlap."""
    digraph = nx.DiGraph()
    digraph.add_nodes_from(sorted(graph.nodes))
    digraph.add_edges_from((lk.cause, lk.effect) for lk in graph.links)
    if len(digraph) == 1:
        return {n: np.zeros(2) for n in digraph}
    positions = (
        nx.kamada_kawai_layout(digraph.to_undirected())
        if len(digraph) > 2
        else nx.circular_layout(digraph)
    )
    names = list(digraph)
    points = np.array([positions[n] for n in names], dtype=float)
    points *= np.sqrt(len(names)) / max(np.ptp(points, axis=0).max(), 1e-9)
    sizes = np.array([_label_size(wrap_label(n), 1 / 72) for n in names]) * 1.25
    rng = np.random.default_rng(seed)
    for _ in range(500):
        moved = _separate(points, sizes, rng)
        if not moved:
            break
    return {n: points[i] for i, n in enumerate(names)}


def _separate(points: np.ndarray, sizes: np.ndarray, rng: np.random.Generator) -> bool:
    """One sweep pushing apart overlapping label boxes; whether anything moved."""
    moved = False
    for i in range(len(points)):
        for j in range(i + 1, len(points)):
            gap = points[j] - points[i]
            overlap = sizes[i] + sizes[j] - np.abs(gap)
            if (overlap > 0).all():
                axis = int(np.argmin(overlap))
                direction = np.sign(gap[axis]) or rng.choice([-1.0, 1.0])
                shift = np.zeros(2)
                shift[axis] = direction * (overlap[axis] / 2 + 1e-3)
                points[i] -= shift
                points[j] += shift
                moved = True
    return moved


def draw_cld(graph: CausalGraph, *, loops: Sequence[Loop] | None = None, ax: Any = None) -> Any:
    """Draw the causal loop diagram of ``graph`` on ``ax`` (a new figure when ``None``).

    Returns the Axes. Loops are found with :func:`find_loops` when not given.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch

    if ax is None:
        size = max(6.0, 1.4 * np.sqrt(len(graph.nodes)) * 2)
        _, ax = plt.subplots(figsize=(size, size * 0.8))
    positions = layout(graph)
    texts = {}
    for name, kind in graph.nodes.items():
        box = _STOCK_BOX if kind is NodeKind.STOCK else _VARIABLE_BOX
        x, y = positions[name]
        texts[name] = ax.text(
            x,
            y,
            plain(wrap_label(name)),
            ha="center",
            va="center",
            fontsize=_FONT_SIZE,
            bbox=box,
            zorder=3,
        )
    for link in graph.links:
        colour = _POLARITY_COLOUR[link.polarity]
        start, end = positions[link.cause], positions[link.effect]
        arrow = FancyArrowPatch(
            (float(start[0]), float(start[1])),
            (float(end[0]), float(end[1])),
            connectionstyle=f"arc3,rad={_CURVATURE}",
            arrowstyle="-|>",
            mutation_scale=12,
            color=colour,
            lw=1.1,
            zorder=2,
            patchA=texts[link.cause],
            patchB=texts[link.effect],
        )
        ax.add_patch(arrow)
        mark = _mark_position(positions[link.cause], positions[link.effect])
        ax.text(
            *mark,
            _POLARITY_TEXT[link.polarity],
            color=colour,
            fontsize=_FONT_SIZE + 3,
            fontweight="bold",
            ha="center",
            va="center",
            zorder=4,
        )
    chosen = loops if loops is not None else find_loops(graph, max_length=12, max_loops=1_000)
    for loop, centre in _loop_label_places(chosen, positions):
        ax.text(
            *centre,
            plain(f"\u21bb {loop.name}"),
            fontsize=_FONT_SIZE + 1,
            ha="center",
            va="center",
            color="#333333",
            style="italic",
            zorder=1,
        )
    points = np.array(list(positions.values()))
    low, high = points.min(axis=0), points.max(axis=0)
    margin = 0.12 * max(np.ptp(points, axis=0).max(), 1.0)
    ax.set_xlim(low[0] - margin, high[0] + margin)
    ax.set_ylim(low[1] - margin, high[1] + margin)
    ax.set_axis_off()
    return ax


def _loop_label_places(
    loops: Sequence[Loop], positions: dict[str, np.ndarray], most: int = 12
) -> list[tuple[Loop, np.ndarray]]:
    """Loop names worth writing: the shortest loops whose centres stay clear of other labels."""
    taken = [(p, _label_size(wrap_label(n), 1 / 72)) for n, p in positions.items()]
    places: list[tuple[Loop, np.ndarray]] = []
    clearance = _label_size("B10  ", 1 / 72)
    for loop in sorted(loops, key=lambda lp: (len(lp.variables), lp.name)):
        centre = np.mean([positions[v] for v in loop.variables], axis=0)
        if all((np.abs(centre - p) > size + clearance).any() for p, size in taken):
            places.append((loop, centre))
            taken.append((centre, clearance))
        if len(places) == most:
            break
    return places


def _mark_position(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Where the polarity sign goes: near the head, off the curved arrow."""
    chord = end - start
    normal = np.array([chord[1], -chord[0]])
    along = 0.75
    on_curve = start + along * chord + 2 * along * (1 - along) * _CURVATURE * normal
    length = float(np.hypot(*normal)) or 1.0
    return np.asarray(on_curve + 0.09 * normal / length, dtype=float)


def save_cld(graph: CausalGraph, path: str | Path, *, loops: Iterable[Loop] | None = None) -> Path:
    """Draw the diagram and write it to ``path`` (``.svg`` or ``.png``), atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    target = Path(path)
    if target.suffix.lower() not in (".svg", ".png", ".pdf"):
        raise ParameterError(
            f"output: unsupported diagram format '{target.suffix}' (got "
            f"{str(target)!r}). Use a .svg, .png or .pdf file name"
        )
    ax = draw_cld(graph, loops=list(loops) if loops is not None else None)
    figure = ax.figure
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(target) as partial:
            figure.savefig(partial, format=target.suffix[1:], bbox_inches="tight", dpi=150)
    except OSError as error:
        raise write_error(target, error) from None
    finally:
        plt.close(figure)
    return target
