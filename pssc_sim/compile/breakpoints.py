"""Known discontinuities of a model in time, where an adaptive solver must restart.

STEP, PULSE, PULSE_TRAIN, RAMP, IF_THEN_ELSE on TIME and MIN/MAX/ABS of TIME switch or kink at
times fixed by numbers, parameters and the time block. An adaptive solver that steps over such a
point loses its order and wastes steps rejecting; stopping at each one and restarting from the
state there keeps every step smooth (Hairer, Nørsett and Wanner, *Solving ODEs I*, II.6,
"discontinuous right-hand sides"). The switching times come from the equations themselves:

- a relation ``lhs <op> rhs`` whose difference is ``a * TIME + b`` with ``a`` a number and ``b``
  constant in time switches at ``-b / a`` (STEP's ``TIME + SWITCH_SLACK * TIME_STEP / 2 > start``
  gives ``start`` on the adaptive methods' clock, where ``SWITCH_SLACK`` is 0);
- ``MIN``/``MAX`` of two such arguments, and ``ABS``, ``SIGN`` or ``HEAVISIDE`` of one, kink where
  the difference (or the argument) crosses zero;
- ``Mod(a * TIME + b, interval) <op> width`` (PULSE_TRAIN) switches every time the phase wraps
  and every time it passes ``width``.

"Constant in time" means the expression uses only parameters, ``TIME_STEP``, ``INITIAL_TIME``,
``FINAL_TIME``, ``SWITCH_SLACK`` and auxiliaries built from them. The times are evaluated for
every member of an ensemble and the union is taken, so every member switches at its own exact
time (a member whose switch is elsewhere only restarts its solver there, at no loss of accuracy).
A switch whose time depends on the state, or on a lookup or an auxiliary that changes in time, is
not found: the solver's step control meets it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import sympy
from sympy.core.relational import Relational

from pssc_sim.compile.equations import algebraic_equations, needed, stock_rates, symbol_names
from pssc_sim.compile.execute import execute
from pssc_sim.compile.printer import Dialect, Printer
from pssc_sim.compile.rows import SLACK, SLACK_BINDING
from pssc_sim.compile.runtime import kernel_namespace
from pssc_sim.ir.conditions import substituted
from pssc_sim.ir.functions import (
    FINAL_TIME,
    INITIAL_TIME,
    SWITCH_SLACK,
    TIME,
    TIME_STEP,
    variable_symbol,
)
from pssc_sim.ir.model import Model

if TYPE_CHECKING:
    from pssc_sim.compile.compiled import Clock

#: At most this many breakpoints in one solve; beyond it they are thinned evenly, since a solver
#: restart costs a few rate evaluations and a PULSE_TRAIN or an ensemble can ask for thousands.
MAX_BREAKPOINTS = 1000

_KINKS = (sympy.Abs, sympy.sign, sympy.Heaviside)


@dataclass(frozen=True, slots=True)
class Switch:
    """A condition that flips once, when TIME reaches ``time``."""

    time: sympy.Expr


@dataclass(frozen=True, slots=True)
class PeriodicSwitch:
    """``Mod(rate * TIME + phase, interval)`` compared with ``width``: flips twice a period."""

    rate: float
    phase: sympy.Expr
    interval: sympy.Expr
    width: sympy.Expr


@dataclass(frozen=True, slots=True, eq=False)
class BreakpointPlan:
    """The switches of a model and a generated function evaluating their constant parts.

    ``evaluate(clock, p)`` returns one value (or array over members) per expression of
    :attr:`switches`, in order: a :class:`Switch` has one, a :class:`PeriodicSwitch` three
    (phase, interval, width).
    """

    switches: tuple[Switch | PeriodicSwitch, ...]
    source: str
    evaluate: Any

    def times(self, clock: Clock, p: np.ndarray, limit: int = MAX_BREAKPOINTS) -> np.ndarray:
        """Sorted breakpoints strictly inside ``(start, stop)`` for the members of ``p``.

        ``clock`` is the run's ``(dt, start, stop)`` with, for the adaptive methods, a fourth
        entry 0: the value of ``SWITCH_SLACK``, which puts the switches at their exact times.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> from pssc_sim.parse import load_model
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "m.yaml"
        >>> _ = path.write_text("time: {stop: 10, dt: 0.5}\\nparameters: {t_on: 4}\\n"
        ...                     "stocks: {x: 0}\\nflows: {f: {to: x, rate: 'STEP(1, t_on)'}}\\n")
        >>> plan = breakpoint_plan(load_model(path))
        >>> plan.times((0.5, 0.0, 10.0, 0.0), np.array([[4.0, 6.0]])).tolist()
        [4.0, 6.0]
        """
        if not self.switches:
            return np.empty(0)
        with np.errstate(all="ignore"):
            values = [
                np.broadcast_to(np.asarray(v, dtype=float), (p.shape[1],))
                for v in self.evaluate(clock, p)
            ]
        span = (clock[1], clock[2])
        found = np.concatenate(list(_switch_times(self.switches, values, span, limit)))
        return _tidy(found, span, limit)


def _switch_times(
    switches: Iterable[Switch | PeriodicSwitch],
    values: list[np.ndarray],
    span: tuple[float, float],
    limit: int,
) -> Iterator[np.ndarray]:
    position = 0
    for switch in switches:
        if isinstance(switch, Switch):
            yield values[position]
            position += 1
            continue
        triples = np.unique(np.stack(values[position : position + 3], axis=1), axis=0)
        position += 3
        for phase, interval, width in triples:
            yield periodic_times(switch.rate, phase, interval, width, span, limit)


def periodic_times(
    rate: float,
    phase: float,
    interval: float,
    width: float,
    span: tuple[float, float],
    limit: int,
) -> np.ndarray:
    """Times where ``Mod(rate * t + phase, interval)`` wraps or passes ``width``.

    They cover the run ``span = (start, stop)`` (a period either side included) and are at
    most ``2 * limit``.

    Examples
    --------
    >>> periodic_times(1.0, -1.0, 4.0, 1.0, (0.0, 10.0), 100).tolist()
    [-3.0, -2.0, 1.0, 2.0, 5.0, 6.0, 9.0, 10.0, 13.0, 14.0]
    """
    if not np.isfinite([phase, interval, width]).all() or interval <= 0:
        return np.empty(0)
    ends = rate * np.array(span) + phase
    first, last = np.floor(ends.min() / interval), np.ceil(ends.max() / interval)
    cycles = first + np.arange(min(int(last - first) + 1, limit))
    crossings = np.concatenate([cycles * interval, cycles * interval + width])
    return np.sort((crossings - phase) / rate)


def _tidy(times: np.ndarray, span: tuple[float, float], limit: int) -> np.ndarray:
    """Finite, inside the run, sorted, without near-duplicates, at most ``limit`` of them."""
    start, stop = span
    margin = 1e-9 * (stop - start)
    times = np.unique(times[np.isfinite(times)])
    times = times[(times > start + margin) & (times < stop - margin)]
    if times.size > 1:
        times = times[np.concatenate([[True], np.diff(times) > margin])]
    if times.size > limit:
        times = times[np.linspace(0, times.size - 1, limit).round().astype(int)]
    return times


def breakpoint_plan(model: Model) -> BreakpointPlan:
    """The switches of ``model`` that can change its stock rates.

    A compiled model carries its plan (``CompiledModel.breakpoints``), made on first use.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from pssc_sim.parse import load_model
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "m.yaml"
    >>> _ = path.write_text("time: {stop: 10}\\nstocks: {x: 0}\\n"
    ...                     "flows: {f: {to: x, rate: 'PULSE(2, 3)'}}\\n")
    >>> [str(s.time) for s in breakpoint_plan(load_model(path)).switches]
    ['2 - 1.0e-6*SWITCH_SLACK', '5']
    """
    switches = _find_switches(model)
    expressions = [e for s in switches for e in _expressions(s)]
    source = _evaluator_source(model, expressions)
    space = execute(source, kernel_namespace(model.lookups), "breakpoints")
    return BreakpointPlan(tuple(switches), source, space["switching_values"])


def _expressions(switch: Switch | PeriodicSwitch) -> list[sympy.Expr]:
    if isinstance(switch, Switch):
        return [switch.time]
    return [switch.phase, switch.interval, switch.width]


def _evaluator_source(model: Model, expressions: list[sympy.Expr]) -> str:
    printer = Printer(Dialect.NUMPY, symbol_names(model))
    used = {s for e in expressions for s in e.free_symbols}
    printed = [printer(e) for e in expressions]
    lines = ["dt, t0, t1 = clock[:3]"]
    lines += [SLACK_BINDING] if any(SLACK.search(text) for text in printed) else []
    lines += [
        f"{printer(variable_symbol(n))} = p[{i}]"
        for i, n in enumerate(model.parameter_names)
        if variable_symbol(n) in used
    ]
    lines.append(f"return [{', '.join(printed)}]")
    return "def switching_values(clock, p):\n" + "".join(f"    {line}\n" for line in lines)


def _find_switches(model: Model) -> list[Switch | PeriodicSwitch]:
    equations = algebraic_equations(model)
    allowed = _constant_symbols(model)
    time_only = _time_only(equations, allowed)
    switches: dict[Switch | PeriodicSwitch, None] = {}
    # an arrayed model's stock rates are whole arrays: every flow feeds one (or a cloud)
    roots = (
        stock_rates(model)
        if not model.dimensions
        else [variable_symbol(f.name) for f in model.flows]
    )
    for name in needed(equations, roots):
        for node in _candidate_nodes(equations[name]):
            resolved = substituted(node, time_only)
            if TIME in resolved.free_symbols:
                switches.update(dict.fromkeys(_switches_of(resolved, allowed)))
    return list(switches)


def _candidate_nodes(expr: sympy.Expr) -> list[sympy.Basic]:
    """Relations and kinks in ``expr``, in a fixed order (sets of symbols hash by name)."""
    nodes = expr.atoms(Relational, sympy.Min, sympy.Max, *_KINKS)
    return sorted(nodes, key=sympy.default_sort_key)


def _constant_symbols(model: Model) -> frozenset[sympy.Symbol]:
    """Symbols that are constant during a run: the parameters and the time block."""
    return frozenset(
        {
            TIME_STEP,
            INITIAL_TIME,
            FINAL_TIME,
            SWITCH_SLACK,
            *map(variable_symbol, model.parameter_names),
        }
    )


def _time_only(
    equations: Mapping[str, sympy.Expr], allowed: frozenset[sympy.Symbol]
) -> dict[sympy.Symbol, sympy.Expr]:
    """Auxiliaries built from nothing but TIME and constants, as expressions of those."""
    resolved: dict[sympy.Symbol, sympy.Expr] = {}
    for name, equation in equations.items():
        value = substituted(equation, resolved)
        if value.free_symbols <= allowed | {TIME}:
            resolved[variable_symbol(name)] = value
    return resolved


def _switches_of(
    node: sympy.Basic, allowed: frozenset[sympy.Symbol]
) -> Iterator[Switch | PeriodicSwitch]:
    if isinstance(node, Relational):
        yield from _present(
            [
                _crossing(node.lhs - node.rhs, allowed),
                _periodic(node.lhs, node.rhs, allowed),
                _periodic(node.rhs, node.lhs, allowed),
            ]
        )
    elif isinstance(node, (sympy.Min, sympy.Max)):
        pairs = [(a, b) for i, a in enumerate(node.args) for b in node.args[i + 1 :]]
        yield from _present([_crossing(a - b, allowed) for a, b in pairs])
    else:
        yield from _present([_crossing(node.args[0], allowed)])


def _present(switches: list[Switch | PeriodicSwitch | None]) -> Iterator[Switch | PeriodicSwitch]:
    return (s for s in switches if s is not None)


def _linear(expr: sympy.Expr) -> tuple[sympy.Expr, sympy.Expr] | None:
    """``(a, b)`` with ``expr == a * TIME + b`` and ``a`` a non-zero number, else ``None``."""
    slope = sympy.diff(expr, TIME)
    if not slope.is_Number or slope == 0:
        return None
    return slope, expr.xreplace({TIME: sympy.S.Zero})


def _crossing(expr: sympy.Expr, allowed: frozenset[sympy.Symbol]) -> Switch | None:
    """The time at which ``expr``, linear in TIME, crosses zero."""
    linear = _linear(expr)
    if linear is None or not linear[1].free_symbols <= allowed:
        return None
    slope, offset = linear
    return Switch(-offset / slope)


def _periodic(
    side: sympy.Expr, other: sympy.Expr, allowed: frozenset[sympy.Symbol]
) -> PeriodicSwitch | None:
    """``Mod(a * TIME + b, interval)`` on ``side`` compared with a constant ``other``."""
    if not isinstance(side, sympy.Mod) or not other.free_symbols <= allowed:
        return None
    argument, interval = side.args
    linear = _linear(argument)
    if linear is None or not (linear[1].free_symbols | interval.free_symbols) <= allowed:
        return None
    return PeriodicSwitch(float(linear[0]), linear[1], interval, other)
