"""Loop dominance over a run: Loops That Matter.

Link and loop scores after Schoenberg, Davidsen and Eberlein (2020), "Understanding model behavior
using the Loops that Matter method", *System Dynamics Review* 36(2). Between two saved times:

- for ``z = f(x, y, ...)``: ``score(x -> z) = |Δx z / Δz| * sign(Δx z / Δx)``, where ``Δx z`` is
  the change ``z`` would have made had only ``x`` changed (the others held at the earlier time);
- for a flow into a stock: ``|Δflow / Δnet flow|``, negative for an outflow;
- a loop's score is the product of its link scores, and its relative score divides by the sum of
  the absolute scores of every loop, so relative scores lie in [-1, 1] and the absolute values
  sum to 1. The dominant loop at a time is the one with the largest absolute relative score.

Scores are computed on the lowered model, hidden variables of stateful builtins included, and
each loop is then named by the user variables on it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np
import sympy

from pssc_sim.analysis.loops import shortest_cycles
from pssc_sim.compile.execute import execute
from pssc_sim.compile.printer import Dialect, Printer
from pssc_sim.compile.runtime import kernel_namespace
from pssc_sim.errors import ParameterError
from pssc_sim.ir.dimensions import ArrayOp
from pssc_sim.ir.functions import (
    CLOCK_SYMBOLS,
    FINAL_TIME,
    INITIAL_TIME,
    SWITCH_SLACK,
    TIME,
    TIME_STEP,
)
from pssc_sim.ir.model import Auxiliary, Flow, Model, Stock
from pssc_sim.results import Results

Evaluator = Callable[[Mapping[str, np.ndarray]], np.ndarray]


@dataclass(frozen=True, slots=True)
class LoopScore:
    """One loop's relative score at every interval of the run."""

    name: str
    polarity: str  # "R" or "B" (from the sign of its score) or "?" when it changes
    variables: tuple[str, ...]
    scores: np.ndarray  # relative loop score per interval, shape (n_times - 1,)


@dataclass(frozen=True, slots=True)
class Phase:
    """An interval of time over which one loop dominates."""

    start: float
    stop: float
    loop: str


@dataclass(frozen=True, slots=True)
class Dominance:
    """Relative loop scores over time and the phases of dominance."""

    times: np.ndarray  # end time of each interval
    loops: tuple[LoopScore, ...]
    phases: tuple[Phase, ...]
    #: ``listing the N shortest of at least M loops`` when the loop cap left loops out, else "".
    note: str = ""


def _evaluator(expr: sympy.Expr, model: Model) -> Evaluator:
    """A numpy function of a mapping name -> values, generated from the IR expression."""
    # the generated function takes the values by position: generated code holds no strings
    clock = {
        TIME: "TIME",
        TIME_STEP: "TIME_STEP",
        INITIAL_TIME: "INITIAL_TIME",
        FINAL_TIME: "FINAL_TIME",
        SWITCH_SLACK: "SWITCH_SLACK",
    }
    symbols = sorted(expr.free_symbols, key=lambda s: s.name)
    keys = [clock.get(s, s.name) for s in symbols]
    printer = Printer(Dialect.NUMPY, {s: f"a_{i}" for i, s in enumerate(symbols)})
    arguments = ", ".join(f"a_{i}" for i in range(len(symbols)))
    source = f"def evaluate({arguments}):\n    return {printer(expr)}\n"
    function = execute(source, kernel_namespace(model.lookups), "link score")["evaluate"]

    def evaluate(values: Mapping[str, np.ndarray]) -> np.ndarray:
        return function(*(values[key] for key in keys))  # type: ignore[no-any-return]

    return evaluate


def _series(model: Model, results: Results) -> dict[str, np.ndarray]:
    """Every recorded variable and parameter as an array over time (member 0)."""
    values = {name: results.values[:, i, 0] for i, name in enumerate(results.names)}
    values.update(
        {
            name: np.full(len(results.times), results.parameters[i, 0])
            for i, name in enumerate(results.parameter_names)
        }
    )
    values["TIME"] = results.times
    dt = model.time.dt
    values.update(
        TIME_STEP=np.full_like(results.times, dt),
        INITIAL_TIME=np.full_like(results.times, results.times[0]),
        FINAL_TIME=np.full_like(results.times, results.times[-1]),
        # link scores read the switching builtins with Vensim's tolerances, as a fixed step does
        SWITCH_SLACK=np.ones_like(results.times),
    )
    return values


def link_scores(model: Model, results: Results) -> dict[tuple[str, str], np.ndarray]:
    """Score of every link of the lowered model between consecutive saved times. In an arrayed
    model only the links between variables without dimensions are scored: an arrayed variable
    is recorded element by element, and an equation over arrays is not scored."""
    series = _series(model, results)
    later = {k: v[1:] for k, v in series.items()}
    earlier = {k: v[:-1] for k, v in series.items()}
    scores: dict[tuple[str, str], np.ndarray] = {}
    equations = {f.name: f.rate for f in model.flows}
    equations.update({a.name: a.equation for a in model.auxiliaries})
    with np.errstate(all="ignore"):
        for effect, expr in equations.items():
            if (
                effect not in series
                or expr.atoms(ArrayOp)
                or any(symbol.name not in series for symbol in expr.free_symbols)
            ):
                continue
            change = later[effect] - earlier[effect]
            evaluate = _evaluator(expr, model)
            for symbol in expr.free_symbols:
                cause = symbol.name
                if symbol in CLOCK_SYMBOLS or cause in model.parameter_names:
                    continue
                if cause not in series:
                    continue  # a discrete state: not scored
                partial = evaluate({**earlier, cause: later[cause]}) - earlier[effect]
                cause_change = later[cause] - earlier[cause]
                score = np.abs(partial / change) * np.sign(partial / cause_change)
                scores[(cause, effect)] = np.where((change == 0) | (cause_change == 0), 0.0, score)
        scores.update(_flow_scores(model, series))
    return scores


def _flow_scores(
    model: Model, series: Mapping[str, np.ndarray]
) -> dict[tuple[str, str], np.ndarray]:
    """The score of each flow on its stock; in an arrayed model, of the stocks without
    dimensions (the matrix has a row per element and a column per flow element)."""
    matrix = model.stoichiometry()
    stocks = [(row, s.name) for s in model.stocks for row in model.rows(s.name)]
    flows = [f.name for f in model.flows for _ in model.rows(f.name)]
    scores = {}
    for i, (row, stock) in enumerate(stocks):
        columns = np.flatnonzero(matrix[i])
        if not len(columns) or row != stock:
            continue
        net = sum(matrix[i, j] * series[flows[j]] for j in columns)
        net_change = np.diff(net)
        for j in columns:
            flow_change = np.diff(series[flows[j]])
            score = matrix[i, j] * np.abs(flow_change / net_change)
            scores[(flows[j], stock)] = np.where(net_change == 0, 0.0, score)
    return scores


def loop_dominance(
    model: Model, results: Results, *, max_length: int | None = None, max_loops: int = 2_000
) -> Dominance:
    """Relative loop scores of a single run and the phases where each loop dominates.

    The ``max_loops`` shortest loops are scored; ``note`` of the result says when others were
    left out.

    ``results`` must record every variable of the lowered model (see :func:`dominance_outputs`).
    """
    if results.is_ensemble:
        raise ParameterError(
            f"results: loop dominance needs a single run (got "
            f"{results.n_members} members). Run without an ensemble"
        )
    scores = link_scores(model, results)
    graph = nx.DiGraph(list(scores))
    items: list[Stock | Flow | Auxiliary] = [*model.stocks, *model.flows, *model.auxiliaries]
    hidden = {item.name for item in items if item.origin is not None}
    loops = []
    search = shortest_cycles(graph, max_length=max_length, max_loops=max_loops)
    for cycle in search.cycles:
        product = np.ones(len(results.times) - 1)
        for cause, effect in zip(cycle, cycle[1:] + cycle[:1], strict=True):
            product = product * scores[(cause, effect)]
        visible = tuple(n for n in cycle if n not in hidden) or (cycle[0],)
        loops.append((visible, product))
    return _relative(results, loops, search.note())


def _relative(
    results: Results, loops: list[tuple[tuple[str, ...], np.ndarray]], note: str = ""
) -> Dominance:
    total = np.sum([np.abs(score) for _, score in loops], axis=0) if loops else np.zeros(0)
    named: list[LoopScore] = []
    counts = {"R": 0, "B": 0, "?": 0}
    for variables, score in sorted(loops, key=lambda item: (len(item[0]), item[0])):
        with np.errstate(all="ignore"):
            relative = np.where(total > 0, score / total, 0.0)
        signs = set(np.sign(relative[relative != 0]).tolist())
        letter = "R" if signs == {1.0} else "B" if signs == {-1.0} else "?"
        counts[letter] += 1
        named.append(LoopScore(f"{letter}{counts[letter]}", letter, variables, relative))
    return Dominance(results.times[1:], tuple(named), _phases(results.times, named), note)


def _phases(times: np.ndarray, loops: list[LoopScore]) -> tuple[Phase, ...]:
    if not loops:
        return ()
    table = np.abs(np.array([lp.scores for lp in loops]))
    dominant = np.argmax(table, axis=0)
    active = table.max(axis=0) > 0
    phases: list[Phase] = []
    for i, index in enumerate(dominant):
        if not active[i]:
            continue
        name = loops[index].name
        if phases and phases[-1].loop == name and phases[-1].stop == times[i]:
            phases[-1] = Phase(phases[-1].start, float(times[i + 1]), name)
        else:
            phases.append(Phase(float(times[i]), float(times[i + 1]), name))
    return tuple(phases)


def dominance_outputs(model: Model) -> list[str]:
    """Every stock, flow and auxiliary of the lowered model: what loop scores need recorded."""
    return [*model.stock_names, *model.flow_names, *(a.name for a in model.auxiliaries)]


def plot_dominance(dominance: Dominance, *, ax: Any = None, most: int = 8) -> Any:
    """Relative loop scores over time (the ``most`` loops that matter most), on ``ax``.

    Dominance phases are shaded and named along the top. Returns the Axes.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.5))
    ranked = sorted(dominance.loops, key=lambda lp: -float(np.abs(lp.scores).max(initial=0)))
    for loop in ranked[:most]:
        label = f"{loop.name}: " + " \u2192 ".join(loop.variables)
        ax.plot(dominance.times, loop.scores, label=label, lw=1.6)
    for k, phase in enumerate(dominance.phases):
        if k % 2:
            ax.axvspan(phase.start, phase.stop, color="#000000", alpha=0.05, lw=0)
        ax.text(
            (phase.start + phase.stop) / 2,
            1.04,
            phase.loop,
            ha="center",
            va="bottom",
            fontsize=8,
            transform=ax.get_xaxis_transform(),
        )
    ax.axhline(0.0, color="#777777", lw=0.8)
    ax.set_ylim(-1.05, 1.05)
    ax.set_xlabel("time")
    ax.set_ylabel("relative loop score")
    ax.legend(fontsize=8, loc="best")
    return ax


@dataclass(frozen=True, slots=True)
class SignPhase:
    """An interval over which a link acts with one sign (``+``, ``-``, or ``0`` when inactive)."""

    start: float
    stop: float
    sign: str


def link_sign_phases(
    model: Model,
    results: Results,
    links: Iterable[tuple[str, str]],
) -> dict[tuple[str, str], tuple[SignPhase, ...]]:
    """The sign each of ``links`` takes along a run, as phases of constant sign.

    A link's sign over an interval is the sign of its link score: how the effect moves when the
    cause alone moves. Use it for links whose polarity is ``?`` because it depends on the state.
    """
    scores = link_scores(model, results)
    phases: dict[tuple[str, str], tuple[SignPhase, ...]] = {}
    for link in links:
        if link not in scores:
            continue
        signs = np.sign(scores[link])
        found: list[SignPhase] = []
        for i, value in enumerate(signs):
            sign = {1.0: "+", -1.0: "-"}.get(float(value), "0")
            start, stop = float(results.times[i]), float(results.times[i + 1])
            if found and found[-1].sign == sign:
                found[-1] = SignPhase(found[-1].start, stop, sign)
            else:
                found.append(SignPhase(start, stop, sign))
        phases[link] = tuple(found)
    return phases
