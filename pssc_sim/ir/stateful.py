"""Lowering of stateful builtins into hidden stocks, flows, auxiliaries and discrete states.

Each stateful call in an equation is replaced by an expression over new hidden variables, named
``<owner>__<builtin><k>`` after the variable whose equation made the call, so results, loops and
diagrams can fold them back into what the user wrote. Formulations follow Sterman, *Business
Dynamics* (2000), ch. 11 (material delays and information smooths), and Vensim's documented
semantics for TREND, FORECAST, SAMPLE IF TRUE and DELAY FIXED:

- ``SMOOTHN(x, T, x0, n)``: n stages ``s_i`` with ``ds_i/dt = (s_{i-1} - s_i) * n / T``,
  ``s_0 = x``, all starting at ``x0``; the output is ``s_n``.
- ``DELAYN(x, D, x0, n)``: n stages of material ``L_i`` with outflow ``L_i * n / D``; each starts
  at ``x0 * D / n`` and the output is the last outflow. Material is conserved through the chain.
- ``TREND(x, T, g0)``: ``AV`` smooths ``x`` over ``T`` from ``x / (1 + g0 * T)``; the output is
  ``ZIDZ(x - AV, T * |AV|)``. ``FORECAST(x, T, h) = x * (1 + ZIDZ(x - AV, T * AV) * h)``.
- ``DELAYN_PIPELINE(x, D, x0, n[, h])``: Vensim's DELAY N. The same chain of material stages as
  ``DELAYN``, in which every stage drains at ``L_i * n / D(t)`` except the last, which drains at
  ``L_n * n / D(t - dt)``, the delay time of the step before (a one-step pipeline; at the start,
  ``D`` itself); the output is that last outflow, so material is conserved. Equal to ``DELAYN``
  for a constant delay. Fitted to Vensim's own runs: fed Vensim's input and delay time, this
  chain gives Vensim's output of an order-10 DELAY N with a delay time that changes every step
  (Earth4All's deaths) to its six printed digits, and the order-2 output of the SDXorg suite's
  ``delays`` test. With the fifth argument ``h`` (the importer gives ``TIME_STEP`` when the
  delay time is known only once the model is initialised), the order is lowered at
  initialisation, as Vensim does, to ``m = max(1, min(n, floor(D / h)))``: ``n`` stages are
  built, the input enters stage ``n - m + 1`` and the stages before it stay empty.
- ``NPV(x, r, v0, m)``: as Vensim defines it, a discount factor ``df`` (from 1, falling at
  ``df * r / (1 + r * dt)``) and an accumulation (from ``v0``, rising at ``x * df``); the
  output is ``(accumulation + x * dt * df) * m``, so the current step counts undiscounted.
- ``DEPRECIATE_STRAIGHTLINE(x, L, f, x0)``: as Vensim defines it, the investment of each
  fiscal period of length ``f`` is paid out in ``n = max(1, round(L / f))`` equal parts, one
  per period from its own; the part of the current period is ``x / n`` (the current value of
  the stream). A stock accumulates ``x``; its value at the first step of each period
  (SAMPLE_IF_TRUE) and that value ``(n - 1) f`` earlier (DELAY_FIXED) give the investment of
  the ``n - 1`` completed periods still paid out, divided by ``n f``; periods before the start
  invested ``x0`` per unit of time. Conserves what is invested; constant at ``x0`` when ``x``
  is.
- ``INITIAL(x)``: a stock with no flows, starting at ``x``.
- ``RANDOM_0_1``, ``RANDOM_UNIFORM``, ``RANDOM_NORMAL``, ``RANDOM_EXPONENTIAL``: one uniform draw
  ``u`` per time step (:class:`~pssc_sim.ir.functions.UniformDraw` of the call, the run's
  ``RANDOM_SEED``, the member's ``RANDOM_MEMBER`` and the step) through the inverse distribution
  function, conditioned on ``[min, max]`` as Vensim's functions are (a normal between 0 and
  1000 of mean 0 has the half-normal's mean, 0.798).
- ``RANDOM_GAMMA``, ``RANDOM_BETA``, ``RANDOM_WEIBULL``, ``RANDOM_POISSON``, ``RANDOM_BINOMIAL``,
  ``RANDOM_NEGATIVE_BINOMIAL``: ``shift + stretch X`` for ``X`` of the named distribution, and
  ``RANDOM_TRIANGULAR``, each conditioned on ``[min, max]`` the same way: the uniform draw
  through the conditioned inverse distribution function
  (:class:`~pssc_sim.ir.functions.Quantile`).
- ``RANDOM_PINK_NOISE(m, s, T, seed)``: ``m + p``, where ``p`` is white noise smoothed over
  ``T`` (a stock starting at 0, ``dp/dt = (w - p) / T``) and ``w = s sqrt(12 (2 - a) / a)
  (u - 1/2)`` with ``a = dt / T``: with Euler steps, ``p`` is the autoregressive process
  ``p' = (1 - a) p + a w``, whose stationary variance ``a var(w) / (2 - a)`` is then ``s^2``.
  With ``s = 0`` the noise is its mean.
- ``SAMPLE_IF_TRUE`` and ``DELAY_FIXED``: discrete states updated once per time step.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import sympy

from pssc_sim.errors import ModelError
from pssc_sim.ir.builtins import BUILTINS, as_condition
from pssc_sim.ir.conditions import piecewise, rebuilt
from pssc_sim.ir.functions import (
    INITIAL_TIME,
    QUANTILE_KINDS,
    RANDOM_MEMBER,
    RANDOM_SEED,
    TIME,
    TIME_STEP,
    Quantile,
    StatefulCall,
    TruncatedNormal,
    UniformDraw,
    variable_symbol,
)
from pssc_sim.ir.model import Auxiliary, DiscreteState, FixedDelay, Flow, Meta, SampleMemory, Stock


@dataclass(slots=True)
class Lowered:
    """What lowering adds to a model: hidden variables, collected while equations are rewritten."""

    stocks: list[Stock] = field(default_factory=list)
    flows: list[Flow] = field(default_factory=list)
    auxiliaries: list[Auxiliary] = field(default_factory=list)
    discrete: list[DiscreteState] = field(default_factory=list)
    #: parameters that fix the model's structure when it is built (an order of SMOOTHN or
    #: DELAYN), each with what it fixes: a run cannot change them
    structural: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class _Call:
    """One stateful call being lowered: where it is, and how to name what it creates."""

    owner: str
    builtin: str
    prefix: str
    where: str
    args: tuple[sympy.Expr, ...]
    constants: Mapping[str, float]
    out: Lowered
    element: sympy.Expr = sympy.S.Zero

    def stock(self, name: str, initial: sympy.Expr) -> sympy.Symbol:
        self.out.stocks.append(Stock(name, initial, origin=self.owner))
        return variable_symbol(name)

    def flow(
        self, name: str, rate: sympy.Expr, source: str | None, target: str | None
    ) -> sympy.Symbol:
        self.out.flows.append(Flow(name, rate, source, target, origin=self.owner))
        return variable_symbol(name)

    def order(self, value: sympy.Expr) -> int:
        """The order argument of SMOOTHN/DELAYN: a constant, truncated to an integer >= 1."""
        for symbol in value.free_symbols:
            if symbol.name in self.constants:
                self.out.structural.setdefault(
                    symbol.name, f"the order of {self.builtin} in {self.owner}"
                )
        number = value.subs({variable_symbol(k): v for k, v in self.constants.items()})
        if not number.is_Number:
            raise ModelError(
                f"{self.where}: the order of {self.builtin} must be a constant "
                f"(got {value}). Use a number or a parameter"
            )
        order = int(float(number))
        if order < 1:
            raise ModelError(
                f"{self.where}: the order must be at least 1 (got {value}). Use 1, 2, 3 ..."
            )
        return order


def _smooth(
    call: _Call, source: sympy.Expr, time: sympy.Expr, initial: sympy.Expr, order: int
) -> sympy.Expr:
    previous = source
    for i in range(1, order + 1):
        name = f"{call.prefix}" if i == 1 else f"{call.prefix}_s{i}"
        stage = variable_symbol(name)
        call.flow(f"{name}_rate", (previous - stage) * order / time, None, name)
        previous = call.stock(name, initial)
    return previous


def _delay(
    call: _Call, source: sympy.Expr, delay: sympy.Expr, initial: sympy.Expr, order: int
) -> sympy.Expr:
    upstream: str | None = None
    inflow = source
    stage_name = ""
    for i in range(1, order + 1):
        stage_name = call.prefix if i == 1 else f"{call.prefix}_s{i}"
        call.flow(f"{stage_name}_in", inflow, upstream, stage_name)
        call.stock(stage_name, initial * delay / order)
        inflow = variable_symbol(stage_name) * order / delay
        upstream = stage_name
    return call.flow(f"{call.prefix}_out", inflow, upstream, None)


def _delay_pipeline(call: _Call) -> sympy.Expr:
    x, delay, initial, order_value, *stage_time = call.args
    order = call.order(order_value)
    lagged = f"{call.prefix}_time"
    call.out.discrete.append(FixedDelay(lagged, delay, TIME_STEP, delay, call.owner))
    if not stage_time:
        return _vensim_chain(
            call,
            delay,
            variable_symbol(lagged),
            (initial,) * order,
            (x,) + (sympy.S.Zero,) * (order - 1),
            order,
        )
    # the order is known once the model is initialised: build n stages and let the input
    # enter the first of the m that are used
    used = call.stock(
        f"{call.prefix}_order",
        BUILTINS["MAX"].build(
            [
                sympy.S.One,
                BUILTINS["MIN"].build(
                    [
                        sympy.Integer(order),
                        BUILTINS["INTEGER"].build([delay / stage_time[0] + 1e-9]),
                    ]
                ),
            ]
        ),
    )
    # stage i is used when m >= n - i + 1, and the input enters it when m == n - i + 1
    half = sympy.Rational(1, 2)
    initials = tuple(
        piecewise((initial, used > order - i + half), (sympy.S.Zero, True))
        for i in range(1, order + 1)
    )
    entries = tuple(
        piecewise((x, abs(used - (order - i + 1)) < half), (sympy.S.Zero, True))
        for i in range(1, order + 1)
    )
    return _vensim_chain(call, delay, variable_symbol(lagged), initials, entries, used)


def _vensim_chain(
    call: _Call,
    delay: sympy.Expr,
    lagged: sympy.Expr,
    initials: Sequence[sympy.Expr],
    entries: Sequence[sympy.Expr],
    order: sympy.Expr | int,
) -> sympy.Expr:
    """The stages of DELAYN_PIPELINE: stage ``i`` starts at ``initials[i] * D / order``, takes
    ``entries[i]`` of the input from outside and the outflow of the stage before; every stage
    drains at ``L * order / D``, the last at ``L * order / D(t - dt)``."""
    upstream: str | None = None
    outflow: sympy.Expr = sympy.S.Zero
    stages = len(initials)
    for i in range(1, stages + 1):
        name = call.prefix if i == 1 else f"{call.prefix}_s{i}"
        if entries[i - 1] != 0:
            entry = f"{name}_in" if upstream is None else f"{name}_entry"
            call.flow(entry, entries[i - 1], None, name)
        if upstream is not None:
            call.flow(f"{name}_in", outflow, upstream, name)
        stage = call.stock(name, initials[i - 1] * delay / order)
        outflow = stage * order / (lagged if i == stages else delay)
        upstream = name
    return call.flow(f"{call.prefix}_out", outflow, upstream, None)


def _trend_average(
    call: _Call, source: sympy.Expr, time: sympy.Expr, initial: sympy.Expr
) -> sympy.Symbol:
    average = variable_symbol(call.prefix)
    call.flow(f"{call.prefix}_rate", (source - average) / time, None, call.prefix)
    return call.stock(call.prefix, initial)


def _zidz(a: sympy.Expr, b: sympy.Expr) -> sympy.Expr:
    return BUILTINS["ZIDZ"].build([a, b])


def _trend(call: _Call) -> sympy.Expr:
    x, time, initial_trend = call.args
    average = _trend_average(call, x, time, x / (1 + initial_trend * time))
    return _zidz(x - average, time * sympy.Abs(average))


def _forecast(call: _Call) -> sympy.Expr:
    x, time, horizon = call.args
    average = _trend_average(call, x, time, x)
    return x * (1 + _zidz(x - average, time * average) * horizon)


def _npv(call: _Call) -> sympy.Expr:
    stream, rate, initial, factor = call.args
    discount = variable_symbol(f"{call.prefix}_df")
    call.flow(
        f"{call.prefix}_df_rate",
        discount * rate / (1 + rate * TIME_STEP),
        f"{call.prefix}_df",
        None,
    )
    call.stock(f"{call.prefix}_df", sympy.S.One)
    call.flow(f"{call.prefix}_rate", stream * discount, None, call.prefix)
    accumulated = call.stock(call.prefix, initial)
    return (accumulated + stream * TIME_STEP * discount) * factor


def _depreciate_straightline(call: _Call) -> sympy.Expr:
    stream, life, fiscal, initial = call.args
    # the number of fiscal periods in the depreciation time (Vensim rounds the time to a
    # whole number of periods), and the fiscal period of each step
    periods = sympy.Max(sympy.floor(life / fiscal + sympy.Rational(1, 2)), 1)
    epsilon = sympy.Float(1e-6)
    period = sympy.floor((TIME - INITIAL_TIME) / fiscal + epsilon)
    before = sympy.floor((TIME - TIME_STEP - INITIAL_TIME) / fiscal + epsilon)
    # all invested so far: its values at the start of this period and of the period
    # periods - 1 before give the investment of the completed periods still depreciating
    call.flow(f"{call.prefix}_rate", stream, None, call.prefix)
    invested = call.stock(call.prefix, sympy.S.Zero)
    started = _sample_if_true(
        dataclasses.replace(
            call,
            prefix=f"{call.prefix}_start",
            args=(sympy.Gt(period, before), invested, sympy.S.Zero),
        )
    )
    oldest = _delay_fixed(
        dataclasses.replace(
            call,
            prefix=f"{call.prefix}_oldest",
            args=(started, (periods - 1) * fiscal, sympy.S.Zero),
        )
    )
    completed = piecewise(((started - oldest) / (periods * fiscal), periods > 1), (0, True))
    # periods before the start invested ``initial`` per unit of time
    earlier = sympy.Max(periods - 1 - period, 0) * initial / periods
    return stream / periods + completed + earlier


def _initial(call: _Call) -> sympy.Expr:
    return call.stock(call.prefix, call.args[0])


def _sample_if_true(call: _Call) -> sympy.Expr:
    condition, x, initial = call.args
    memory = f"{call.prefix}_memory"
    value = piecewise((x, as_condition(condition)), (variable_symbol(memory), True))
    call.out.auxiliaries.append(Auxiliary(call.prefix, value, Meta(), origin=call.owner))
    call.out.discrete.append(SampleMemory(memory, initial, call.prefix, call.owner))
    return variable_symbol(call.prefix)


def _delay_fixed(call: _Call) -> sympy.Expr:
    x, delay, initial = call.args
    call.out.discrete.append(FixedDelay(call.prefix, x, delay, initial, call.owner))
    return variable_symbol(call.prefix)


def _draw(call: _Call, call_seed: sympy.Expr) -> sympy.Expr:
    """The uniform draw of this call: its own stream (a checksum of its hidden name), held
    through each time step."""
    # an arrayed equation passes each element's position: every element its own stream
    stream = sympy.Integer(zlib.crc32(call.prefix.encode())) + call.element * 2**32
    step = sympy.floor((TIME - INITIAL_TIME) / TIME_STEP + sympy.Float(1e-6))
    return UniformDraw(stream, call_seed, RANDOM_SEED, RANDOM_MEMBER, step)


def _random_uniform(call: _Call) -> sympy.Expr:
    low, high, seed = call.args
    return low + (high - low) * _draw(call, seed)


def _random_normal(call: _Call) -> sympy.Expr:
    low, high, mean, deviation, seed = call.args
    standard = TruncatedNormal(
        _draw(call, seed), (low - mean) / deviation, (high - mean) / deviation
    )
    return piecewise(
        (mean + deviation * standard, deviation > 0), (sympy.Min(sympy.Max(mean, low), high), True)
    )


def _random_exponential(call: _Call) -> sympy.Expr:
    low, high, shift, stretch, seed = call.args
    lowest = 1 - sympy.exp(-sympy.Max((low - shift) / stretch, 0))
    highest = 1 - sympy.exp(-sympy.Max((high - shift) / stretch, 0))
    z = -sympy.log(1 - lowest - _draw(call, seed) * (highest - lowest))
    return piecewise(
        (shift + stretch * z, stretch > 0), (sympy.Min(sympy.Max(shift, low), high), True)
    )


_KIND = {name: sympy.Integer(k) for k, (name, _) in enumerate(QUANTILE_KINDS)}


def _shifted(call: _Call, kind: str) -> sympy.Expr:
    """``shift + stretch x`` a draw of ``kind``, conditioned on ``[min, max]`` after the
    stretch and shift (Vensim's RANDOM BETA, BINOMIAL, GAMMA, NEGATIVE BINOMIAL, POISSON and
    WEIBULL: ``(min, max, parameters ..., shift, stretch, seed)``); with a stretch of 0 or
    less, the shift held within ``[min, max]``."""
    low, high, *parameters, shift, stretch, seed = call.args
    standard = Quantile(
        _KIND[kind],
        _draw(call, seed),
        (low - shift) / stretch,
        (high - shift) / stretch,
        *parameters,
    )
    return piecewise(
        (shift + stretch * standard, stretch > 0), (sympy.Min(sympy.Max(shift, low), high), True)
    )


def _random_triangular(call: _Call) -> sympy.Expr:
    low, high, start, peak, end, seed = call.args
    return Quantile(_KIND["triangular"], _draw(call, seed), low, high, start, peak, end)


def _random_pink_noise(call: _Call) -> sympy.Expr:
    mean, deviation, correlation, seed = call.args
    share = TIME_STEP / correlation
    white = (
        deviation
        * sympy.sqrt(12 * sympy.Max(2 - share, 0) / share)
        * (_draw(call, seed) - sympy.Rational(1, 2))
    )
    noise = variable_symbol(call.prefix)
    call.flow(f"{call.prefix}_rate", (white - noise) / correlation, None, call.prefix)
    return mean + call.stock(call.prefix, sympy.S.Zero)


_Lowering = Callable[[_Call], sympy.Expr]

#: How each stateful builtin is lowered, by name.
LOWERINGS: Mapping[str, _Lowering] = {
    "SMOOTH": lambda c: _smooth(c, c.args[0], c.args[1], c.args[0], 1),
    "SMOOTHI": lambda c: _smooth(c, c.args[0], c.args[1], c.args[2], 1),
    "SMOOTH3": lambda c: _smooth(c, c.args[0], c.args[1], c.args[0], 3),
    "SMOOTH3I": lambda c: _smooth(c, c.args[0], c.args[1], c.args[2], 3),
    "SMOOTHN": lambda c: _smooth(c, c.args[0], c.args[1], c.args[2], c.order(c.args[3])),
    "DELAY1": lambda c: _delay(c, c.args[0], c.args[1], c.args[0], 1),
    "DELAY1I": lambda c: _delay(c, c.args[0], c.args[1], c.args[2], 1),
    "DELAY3": lambda c: _delay(c, c.args[0], c.args[1], c.args[0], 3),
    "DELAY3I": lambda c: _delay(c, c.args[0], c.args[1], c.args[2], 3),
    "DELAYN": lambda c: _delay(c, c.args[0], c.args[1], c.args[2], c.order(c.args[3])),
    "DELAYN_PIPELINE": _delay_pipeline,
    "TREND": _trend,
    "FORECAST": _forecast,
    "NPV": _npv,
    "INITIAL": _initial,
    "DEPRECIATE_STRAIGHTLINE": _depreciate_straightline,
    "SAMPLE_IF_TRUE": _sample_if_true,
    "DELAY_FIXED": _delay_fixed,
    "RANDOM_0_1": lambda c: _draw(c, sympy.S.Zero),
    "RANDOM_UNIFORM": _random_uniform,
    "RANDOM_NORMAL": _random_normal,
    "RANDOM_EXPONENTIAL": _random_exponential,
    "RANDOM_PINK_NOISE": _random_pink_noise,
    "RANDOM_GAMMA": lambda c: _shifted(c, "gamma"),
    "RANDOM_BETA": lambda c: _shifted(c, "beta"),
    "RANDOM_WEIBULL": lambda c: _shifted(c, "weibull"),
    "RANDOM_POISSON": lambda c: _shifted(c, "poisson"),
    "RANDOM_BINOMIAL": lambda c: _shifted(c, "binomial"),
    "RANDOM_NEGATIVE_BINOMIAL": lambda c: _shifted(c, "negative_binomial"),
    "RANDOM_TRIANGULAR": _random_triangular,
}


class Lowerer:
    """Rewrites equations of one model, numbering hidden variables per owner."""

    def __init__(self, constants: Mapping[str, float]) -> None:
        self.constants = constants
        self.out = Lowered()
        self._counts: dict[tuple[str, str], int] = {}
        self._element: sympy.Expr = sympy.S.Zero

    def lower(
        self, expr: sympy.Expr, *, owner: str, where: str, element: sympy.Expr = sympy.S.Zero
    ) -> sympy.Expr:
        """Return ``expr`` with every stateful call replaced by its hidden structure.

        ``element`` is, in an arrayed equation, the position of each element (an array
        expression): random functions then draw a stream per element."""
        if not expr.has(StatefulCall):
            return expr
        self._element = element
        return self._rewrite(expr, owner, where)

    def _rewrite(self, expr: sympy.Basic, owner: str, where: str) -> sympy.Expr:
        if not isinstance(expr, StatefulCall) and (not expr.args or not expr.has(StatefulCall)):
            return expr  # a call without arguments (RANDOM_0_1()) is lowered all the same
        args = tuple(self._rewrite(a, owner, where) for a in expr.args)
        if isinstance(expr, StatefulCall):
            return self._lower_call(expr.builtin, args, owner, where)
        return rebuilt(expr, args)

    def _lower_call(
        self, builtin: str, args: Sequence[sympy.Expr], owner: str, where: str
    ) -> sympy.Expr:
        key = (owner, builtin)
        self._counts[key] = self._counts.get(key, 0) + 1
        prefix = f"{owner}__{builtin.lower()}{self._counts[key]}"
        call = _Call(
            owner, builtin, prefix, where, tuple(args), self.constants, self.out, self._element
        )
        return LOWERINGS[builtin](call)
