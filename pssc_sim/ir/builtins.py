"""The builtin table: every function an equation may call, as data.

A builtin is one row of :data:`BUILTINS`: its name, how many arguments it takes, how it becomes a
sympy expression, whether it carries state (then the lowering stage in :mod:`pssc_sim.ir.stateful`
replaces it with hidden stocks), and a one-line description. Pure builtins are written with sympy's
own objects (``Piecewise``, ``Min``, ``Mod``) so that derivatives, link polarity and the generated
numpy code follow from the expression; code generation for them lives in
:mod:`pssc_sim.compile.printer`.

The time tolerances follow Vensim as documented for PySD 3.14: ``STEP`` switches half a time step
early, ``RAMP`` and ``PULSE`` use a 1e-6 guard; ``XIDZ`` and ``ZIDZ`` treat ``|b| < 1e-6`` as zero.
Each tolerance is multiplied by ``SWITCH_SLACK``, 1 under the fixed-step methods (Vensim's
semantics, unchanged) and 0 under the adaptive ones, which then switch at the exact time: STEP is
``height`` from ``start`` on, PULSE is 1 on ``[start, start + width)``, and so on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import sympy
from sympy.logic.boolalg import Boolean

from pssc_sim.ir.conditions import piecewise
from pssc_sim.ir.functions import INTEGER, SWITCH_SLACK, TIME, TIME_STEP, stateful_function

#: Vensim's threshold for a zero denominator in XIDZ/ZIDZ (``SMALL_VENSIM`` in PySD).
SMALL = 1e-6
#: Guard used by RAMP, PULSE and PULSE_TRAIN against round-off in the accumulated time.
TIME_GUARD = 1e-6
#: The guard as it enters an equation: 0 under the adaptive methods (see ``SWITCH_SLACK``).
GUARD = TIME_GUARD * SWITCH_SLACK
#: STEP's half a time step, likewise.
HALF_STEP = SWITCH_SLACK * TIME_STEP / 2

Builder = Callable[[Sequence[sympy.Expr]], sympy.Expr]


@dataclass(frozen=True, slots=True)
class Builtin:
    """One row of the builtin table."""

    name: str
    min_args: int
    max_args: int
    build: Builder
    stateful: bool
    description: str

    def accepts(self, n_args: int) -> bool:
        """Whether a call with ``n_args`` arguments is valid."""
        return self.min_args <= n_args <= self.max_args

    @property
    def signature(self) -> str:
        """A human-readable arity, used in error messages."""
        if self.min_args == self.max_args:
            return f"{self.min_args}"
        if self.max_args >= 99:
            return f"at least {self.min_args}"
        return f"{self.min_args} to {self.max_args}"


def is_condition(value: sympy.Basic) -> bool:
    """Whether ``value`` is a truth value (a relation or logic), not a number.

    sympy's ``Symbol`` is both an expression and a ``Boolean``; only non-expressions count here.
    """
    return isinstance(value, Boolean) and not isinstance(value, sympy.Expr)


def as_condition(value: sympy.Basic) -> Boolean:
    """A condition for ``IF_THEN_ELSE``: relations stay as they are, numbers test ``!= 0``.

    A condition used as a number reads as ``Piecewise((1, c), (0, True))``; that form gives ``c``
    back.
    """
    if isinstance(value, sympy.Piecewise) and len(value.args) == 2:
        (one, condition), (zero, otherwise) = value.args
        if one == 1 and zero == 0 and otherwise == sympy.true:
            return condition
    if is_condition(value):
        return value
    return sympy.Ne(value, 0)


def _if_then_else(a: Sequence[sympy.Expr]) -> sympy.Expr:
    return piecewise((a[1], as_condition(a[0])), (a[2], True))


def _xidz(a: Sequence[sympy.Expr]) -> sympy.Expr:
    return piecewise((a[2], sympy.Abs(a[1]) < SMALL), (a[0] / a[1], True))


def _zidz(a: Sequence[sympy.Expr]) -> sympy.Expr:
    return piecewise((sympy.S.Zero, sympy.Abs(a[1]) < SMALL), (a[0] / a[1], True))


def _step(a: Sequence[sympy.Expr]) -> sympy.Expr:
    # half a step early under the fixed-step methods; from ``start`` on exactly under the
    # adaptive ones (the second relation adds nothing while the half step is positive)
    on = sympy.Or(TIME + HALF_STEP > a[1], TIME >= a[1] + HALF_STEP)
    return piecewise((a[0], on), (sympy.S.Zero, True))


def _ramp(a: Sequence[sympy.Expr]) -> sympy.Expr:
    slope, start = a[0], a[1]
    stop = sympy.Min(a[2], TIME) if len(a) > 2 else TIME
    rising = TIME + GUARD > start
    return piecewise((slope * (stop - start), rising), (sympy.S.Zero, True))


def _pulse(a: Sequence[sympy.Expr]) -> sympy.Expr:
    start = a[0]
    width = a[1] if len(a) > 1 else TIME_STEP / 2
    on = sympy.And(TIME + GUARD >= start, TIME < start + width)
    return piecewise((sympy.S.One, on), (sympy.S.Zero, True))


def _pulse_train(a: Sequence[sympy.Expr]) -> sympy.Expr:
    start, width, interval, end = a
    # an interval of 0 repeats nothing: one pulse of the width from the start (as PySD reads
    # Vensim's PULSE TRAIN)
    once = sympy.And(TIME + GUARD >= start, TIME < start + width)
    if interval.is_zero:
        return piecewise((sympy.S.One, once), (sympy.S.Zero, True))
    phase = sympy.Mod(TIME - start + GUARD, interval)
    on = sympy.And(TIME + GUARD >= start, TIME < end + GUARD, phase < width)
    if interval.is_number:
        return piecewise((sympy.S.One, on), (sympy.S.Zero, True))
    return piecewise(
        (sympy.S.One, sympy.And(sympy.Eq(interval, 0), once)),
        (sympy.S.One, sympy.And(sympy.Ne(interval, 0), on)),
        (sympy.S.Zero, True),
    )


def _log(a: Sequence[sympy.Expr]) -> sympy.Expr:
    return sympy.log(a[0], a[1]) if len(a) > 1 else sympy.log(a[0], 10)


def _arcsin(a: Sequence[sympy.Expr]) -> sympy.Expr:
    # Written with atan, which the code printers know: asin(x) = atan(x / sqrt(1 - x**2)).
    return sympy.atan(a[0] / sympy.sqrt(1 - a[0] ** 2))


def _arccos(a: Sequence[sympy.Expr]) -> sympy.Expr:
    return sympy.pi / 2 - _arcsin(a)


def _unit_interval(x: sympy.Expr) -> sympy.Expr:
    return sympy.Min(1, sympy.Max(0, x))


#: The floor of a denominator whose numerators vanish with it (see ``_response_shares``).
_TINY_SHARE = 1e-300


def _response_shares(a: Sequence[sympy.Expr]) -> tuple[sympy.Expr, sympy.Expr]:
    # A provider under target pressure chooses between three responses, each weighted by the
    # inverse of its cost (a ratio-form choice): accept the miss (cost: the pressure, gap x
    # severity x how a miss is treated), improve for real (cost: improvement_cost), or game
    # (cost: detection x sanction + scruple, open only as far as the opportunity allows). With
    # m, c, g, o for pressure, improvement cost, gaming cost and opportunity, the weights 1/m,
    # 1/c and o/g give gaming o m c / D and improvement m g / D, D = c g + m g + o m c
    # (domain reference 2.8; Becker's expected cost of an offence; Repenning & Sterman 2001).
    pressure = sympy.Max(0, a[0])
    opportunity, detection = _unit_interval(a[1]), _unit_interval(a[2])
    sanction, scruple, improvement_cost = (sympy.Max(0, x) for x in a[3:6])
    cost = detection * sanction + scruple
    denominator = (
        improvement_cost * cost + pressure * cost + opportunity * pressure * improvement_cost
    )
    gaming = opportunity * pressure * improvement_cost
    improvement = pressure * cost
    # Each numerator is a term of the denominator, so both shares are 0 when it is 0.
    guarded = sympy.Max(denominator, _TINY_SHARE)
    return gaming / guarded, improvement / guarded


def _gaming_share(a: Sequence[sympy.Expr]) -> sympy.Expr:
    return _response_shares(a)[0]


def _improvement_share(a: Sequence[sympy.Expr]) -> sympy.Expr:
    return _response_shares(a)[1]


def _pure(name: str, n: tuple[int, int], build: Builder, description: str) -> Builtin:
    return Builtin(name, n[0], n[1], build, stateful=False, description=description)


def _stateful(name: str, n: tuple[int, int], description: str) -> Builtin:
    placeholder = stateful_function(name)
    return Builtin(
        name, n[0], n[1], lambda a: placeholder(*a), stateful=True, description=description
    )


_ROWS: tuple[Builtin, ...] = (
    _pure("STEP", (2, 2), _step, "STEP(height, start): 0 before start, height from start"),
    _pure("PULSE", (1, 2), _pulse, "PULSE(start, width): 1 from start for width, else 0"),
    _pure(
        "PULSE_TRAIN",
        (4, 4),
        _pulse_train,
        "PULSE_TRAIN(start, width, interval, end): repeated pulses until end (one pulse when "
        "interval is 0)",
    ),
    _pure("RAMP", (2, 3), _ramp, "RAMP(slope, start, end): rises with slope between the times"),
    _pure("MIN", (2, 99), lambda a: sympy.Min(*a), "MIN(a, b, ...): the smallest argument"),
    _pure("MAX", (2, 99), lambda a: sympy.Max(*a), "MAX(a, b, ...): the largest argument"),
    _pure("ABS", (1, 1), lambda a: sympy.Abs(a[0]), "ABS(x): absolute value"),
    _pure("EXP", (1, 1), lambda a: sympy.exp(a[0]), "EXP(x): e to the power x"),
    _pure("LN", (1, 1), lambda a: sympy.log(a[0]), "LN(x): natural logarithm"),
    _pure("LOG", (1, 2), _log, "LOG(x, base): logarithm, base 10 when omitted"),
    _pure("SQRT", (1, 1), lambda a: sympy.sqrt(a[0]), "SQRT(x): square root"),
    _pure("POWER", (2, 2), lambda a: a[0] ** a[1], "POWER(x, y): x to the power y"),
    _pure("SIN", (1, 1), lambda a: sympy.sin(a[0]), "SIN(x): sine of x in radians"),
    _pure("COS", (1, 1), lambda a: sympy.cos(a[0]), "COS(x): cosine of x in radians"),
    _pure("TAN", (1, 1), lambda a: sympy.tan(a[0]), "TAN(x): tangent of x in radians"),
    _pure("ARCTAN", (1, 1), lambda a: sympy.atan(a[0]), "ARCTAN(x): inverse tangent"),
    _pure("ARCSIN", (1, 1), _arcsin, "ARCSIN(x): inverse sine, in radians"),
    _pure("ARCCOS", (1, 1), _arccos, "ARCCOS(x): inverse cosine, in radians"),
    _pure(
        "GAMMA_LN",
        (1, 1),
        lambda a: sympy.loggamma(a[0]),
        "GAMMA_LN(x): natural logarithm of the gamma function, for x > 0",
    ),
    _pure("INTEGER", (1, 1), lambda a: INTEGER(a[0]), "INTEGER(x): x truncated toward zero"),
    _pure(
        "MODULO",
        (2, 2),
        lambda a: sympy.Mod(a[0], a[1]),
        "MODULO(a, b): remainder with the sign of b",
    ),
    _pure(
        "IF_THEN_ELSE",
        (3, 3),
        _if_then_else,
        "IF_THEN_ELSE(condition, a, b): a where condition holds, else b (lazy)",
    ),
    _pure("XIDZ", (3, 3), _xidz, "XIDZ(a, b, x): a / b, or x when b is zero"),
    _pure("ZIDZ", (2, 2), _zidz, "ZIDZ(a, b): a / b, or 0 when b is zero"),
    _pure(
        "GAMING_SHARE",
        (6, 6),
        _gaming_share,
        "GAMING_SHARE(pressure, opportunity, detection, sanction, scruple, improvement_cost): "
        "the share of the response to target pressure spent on gaming, o m c / (c g + m g + "
        "o m c) with g = detection x sanction + scruple",
    ),
    _pure(
        "IMPROVEMENT_SHARE",
        (6, 6),
        _improvement_share,
        "IMPROVEMENT_SHARE(pressure, opportunity, detection, sanction, scruple, "
        "improvement_cost): the share spent on real improvement, m g / (c g + m g + o m c)",
    ),
    _stateful("SMOOTH", (2, 2), "SMOOTH(input, time): first-order exponential smooth"),
    _stateful("SMOOTHI", (3, 3), "SMOOTHI(input, time, initial): SMOOTH from a given initial"),
    _stateful("SMOOTH3", (2, 2), "SMOOTH3(input, time): third-order exponential smooth"),
    _stateful("SMOOTH3I", (3, 3), "SMOOTH3I(input, time, initial): SMOOTH3 from an initial"),
    _stateful("SMOOTHN", (4, 4), "SMOOTHN(input, time, initial, order): n-th order smooth"),
    _stateful("DELAY1", (2, 2), "DELAY1(input, delay): first-order material delay"),
    _stateful("DELAY1I", (3, 3), "DELAY1I(input, delay, initial): DELAY1 from an initial"),
    _stateful("DELAY3", (2, 2), "DELAY3(input, delay): third-order material delay"),
    _stateful("DELAY3I", (3, 3), "DELAY3I(input, delay, initial): DELAY3 from an initial"),
    _stateful("DELAYN", (4, 4), "DELAYN(input, delay, initial, order): n-th order delay"),
    _stateful(
        "DELAYN_PIPELINE",
        (4, 5),
        "DELAYN_PIPELINE(input, delay, initial, order[, stage_time]): Vensim's DELAY N, "
        "DELAYN whose last stage drains with the delay time of the step before; with "
        "stage_time, the order is lowered at initialisation until delay / order >= "
        "stage_time",
    ),
    _stateful("TREND", (3, 3), "TREND(input, average_time, initial_trend): fractional trend"),
    _stateful("FORECAST", (3, 3), "FORECAST(input, average_time, horizon): trend extrapolation"),
    _stateful(
        "NPV",
        (4, 4),
        "NPV(stream, discount_rate, initial, factor): net present value of the stream "
        "to now, discounted per time step, times factor (Vensim NPV)",
    ),
    _stateful(
        "DEPRECIATE_STRAIGHTLINE",
        (4, 4),
        "DEPRECIATE_STRAIGHTLINE(stream, depreciation_time, fiscal_period, initial): the "
        "stream's investment of each fiscal period depreciated in equal parts over the "
        "depreciation time (Vensim DEPRECIATE STRAIGHTLINE)",
    ),
    _stateful("INITIAL", (1, 1), "INITIAL(x): the value x had at the start, frozen"),
    _stateful(
        "SAMPLE_IF_TRUE",
        (3, 3),
        "SAMPLE_IF_TRUE(condition, input, initial): input while condition holds, else held",
    ),
    _stateful(
        "DELAY_FIXED",
        (3, 3),
        "DELAY_FIXED(input, delay, initial): input delayed by a fixed time (pipeline)",
    ),
    _stateful("RANDOM_0_1", (0, 0), "RANDOM_0_1(): uniform on (0, 1), a new draw each time step"),
    _stateful(
        "RANDOM_UNIFORM",
        (3, 3),
        "RANDOM_UNIFORM(min, max, seed): uniform between min and max, a new draw each time step",
    ),
    _stateful(
        "RANDOM_NORMAL",
        (5, 5),
        "RANDOM_NORMAL(min, max, mean, sd, seed): normal, conditioned on [min, max], a new "
        "draw each time step",
    ),
    _stateful(
        "RANDOM_EXPONENTIAL",
        (5, 5),
        "RANDOM_EXPONENTIAL(min, max, shift, stretch, seed): shift + stretch x an "
        "exponential of mean 1, conditioned on [min, max], a new draw each time step",
    ),
    _stateful(
        "RANDOM_GAMMA",
        (6, 6),
        "RANDOM_GAMMA(min, max, order, shift, stretch, seed): shift + stretch x a gamma of "
        "that order (scale 1), conditioned on [min, max]",
    ),
    _stateful(
        "RANDOM_BETA",
        (7, 7),
        "RANDOM_BETA(min, max, alpha, beta, shift, stretch, seed): shift + stretch x a beta, "
        "conditioned on [min, max]",
    ),
    _stateful(
        "RANDOM_WEIBULL",
        (6, 6),
        "RANDOM_WEIBULL(min, max, shape, shift, stretch, seed): shift + stretch x a Weibull "
        "of that shape and mean 1, conditioned on [min, max]",
    ),
    _stateful(
        "RANDOM_POISSON",
        (6, 6),
        "RANDOM_POISSON(min, max, mean, shift, stretch, seed): shift + stretch x a Poisson "
        "count of that mean, conditioned on [min, max]",
    ),
    _stateful(
        "RANDOM_BINOMIAL",
        (7, 7),
        "RANDOM_BINOMIAL(min, max, probability, trials, shift, stretch, seed): shift + "
        "stretch x the successes in that many trials, conditioned on [min, max]",
    ),
    _stateful(
        "RANDOM_NEGATIVE_BINOMIAL",
        (7, 7),
        "RANDOM_NEGATIVE_BINOMIAL(min, max, probability, successes, shift, stretch, seed): "
        "shift + stretch x the trials needed for that many successes, conditioned on "
        "[min, max]",
    ),
    _stateful(
        "RANDOM_TRIANGULAR",
        (6, 6),
        "RANDOM_TRIANGULAR(min, max, start, peak, end, seed): triangular between start and "
        "end with its mode at peak, conditioned on [min, max]",
    ),
    _stateful(
        "RANDOM_PINK_NOISE",
        (4, 4),
        "RANDOM_PINK_NOISE(mean, sd, correlation_time, seed): mean plus noise smoothed "
        "over the correlation time, of standard deviation sd",
    ),
)

#: Every builtin function, by the name used in equations.
BUILTINS: Mapping[str, Builtin] = MappingProxyType({row.name: row for row in _ROWS})

#: Names that equations may use as values without defining them.
RESERVED_NAMES: frozenset[str] = frozenset({"TIME", "TIME_STEP", "INITIAL_TIME", "FINAL_TIME"})

#: Levers equations may read without defining them: each is a parameter the model reader adds
#: when an equation uses it (see :mod:`pssc_sim.ir.lowering`).
LEVER_NAMES: frozenset[str] = frozenset({"CULTURE", "RANDOM_SEED", "RANDOM_MEMBER"})

#: Functions of a measure (their first argument is a measure's name, not a value), with the part
#: of the measure's hidden structure each one reads (see :mod:`pssc_sim.ir.lowering`).
#: ``THRESHOLD`` and ``SHARE_BELOW`` need a measure with a ``distribution``.
MEASURE_FUNCTIONS: Mapping[str, str] = MappingProxyType(
    {
        "TARGET": "target",
        "TARGET_GAP": "target_gap",
        "TARGET_PRESSURE": "target_pressure",
        "TARGET_SEVERITY": "severity",
        "THRESHOLD": "threshold",
        "SHARE_BELOW": "share_below",
    }
)

#: Measure functions that take values after the measure's name: how many.
MEASURE_VALUE_ARGUMENTS: Mapping[str, int] = MappingProxyType({"SHARE_BELOW": 1})

#: One line on each measure function, for error messages and documentation.
MEASURE_FUNCTION_DESCRIPTIONS: Mapping[str, str] = MappingProxyType(
    {
        "TARGET": "TARGET(m): the target level of measure m in force now (0 without a target)",
        "TARGET_GAP": "TARGET_GAP(m): the reported shortfall against m's target, >= 0",
        "TARGET_PRESSURE": "TARGET_PRESSURE(m): TARGET_GAP(m) x severity x (0.5 + CULTURE)",
        "TARGET_SEVERITY": "TARGET_SEVERITY(m): the severity of m's target (0 without one)",
        "THRESHOLD": "THRESHOLD(m): the threshold of m's threshold-share target (0 without one)",
        "SHARE_BELOW": "SHARE_BELOW(m, x): the share of m's true distribution below x",
    }
)


class ShareBelow(sympy.Function):  # type: ignore[misc]
    """``SHARE_BELOW(m, x)`` as parsed: ``ShareBelow(m__share_below, x)``.

    The model reader replaces each call with a hidden auxiliary holding the share of measure
    ``m``'s distribution below ``x`` (:func:`pssc_sim.ir.lowering.share_below`), once the
    measure's distribution is known; no later stage sees this function.
    """

    nargs = 2
