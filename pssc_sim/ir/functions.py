"""sympy function classes for the builtins that sympy does not already provide.

Pure builtins are sympy expressions (``Piecewise``, ``Min``, ``Mod`` ...) wherever sympy has the
right object, so that derivatives, polarity and code generation come for free. The classes here
cover the rest: Vensim's truncating ``INTEGER``, graphical functions (lookups) and the placeholders
for stateful builtins, which the lowering stage replaces with hidden stocks before compilation.
"""

from __future__ import annotations

from functools import cache
from typing import Any, ClassVar

import sympy

#: Reserved symbols: the simulation clock and the time block of the run.
TIME = sympy.Symbol("TIME", real=True)
TIME_STEP = sympy.Symbol("TIME_STEP", positive=True)
INITIAL_TIME = sympy.Symbol("INITIAL_TIME", real=True)
FINAL_TIME = sympy.Symbol("FINAL_TIME", real=True)
#: The time tolerance of the switching builtins (STEP, PULSE, RAMP, PULSE_TRAIN, dated changes):
#: 1 under the fixed-step methods, which keep Vensim's tolerances (STEP half a time step early,
#: the 1e-6 guard of the others), 0 under the adaptive methods, which switch at the exact time.
#: The run sets it (the fourth entry of the clock); no equation can name it.
SWITCH_SLACK = sympy.Symbol("SWITCH_SLACK", nonnegative=True)
CLOCK_SYMBOLS: tuple[sympy.Symbol, ...] = (TIME, TIME_STEP, INITIAL_TIME, FINAL_TIME, SWITCH_SLACK)

#: The culture lever, 0 (learning) .. 1 (blame). Unlike the clock it is a parameter of the model
#: (named ``CULTURE``, added by the model reader where an equation uses it), so that scenarios set
#: it, interventions change it over time and ensembles sample it.
CULTURE = sympy.Symbol("CULTURE", real=True)

#: The seed of a run's random functions and the index of the member in its ensemble: parameters
#: added by the model reader where a random function is used. Every member draws its own stream,
#: a function of (seed, member, call, step), so a run is repeatable and members independent.
RANDOM_SEED = sympy.Symbol("RANDOM_SEED", real=True)
RANDOM_MEMBER = sympy.Symbol("RANDOM_MEMBER", real=True)


def variable_symbol(name: str) -> sympy.Symbol:
    """The sympy symbol that stands for the model variable ``name`` in every equation."""
    return sympy.Symbol(name, real=True)


class INTEGER(sympy.Function):  # type: ignore[misc]
    """Truncation toward zero (Vensim ``INTEGER``); piecewise constant, so its derivative is 0."""

    nargs = 1

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return sympy.S.Zero

    @classmethod
    def eval(cls, x: sympy.Expr) -> sympy.Expr | None:
        # Any real numeric expression (log(2)/log(3), not only literals) truncates here, so that
        # sympy can evaluate a substituted equation; int() of a sympy number truncates toward 0.
        if x.is_number and x.is_extended_real and x.is_finite:
            return sympy.Integer(int(x))
        return None


class UniformDraw(sympy.Function):  # type: ignore[misc]
    """``UniformDraw(call, call_seed, seed, member, step)``: a number uniform on (0, 1), the same
    for the same arguments and independent across them (a counter-based generator: a hash of
    the five integers). ``step`` counts time steps from the start, so the draw is held through
    a step; the value does not depend on the state, so its derivatives are 0."""

    nargs = 5

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return sympy.S.Zero


class TruncatedNormal(sympy.Function):  # type: ignore[misc]
    """``TruncatedNormal(u, low, high)``: the standard normal quantile of ``u`` within
    ``[low, high]``, ``Phi^-1(Phi(low) + u (Phi(high) - Phi(low)))``: a uniform ``u`` gives a
    standard normal number conditioned on lying in ``[low, high]``. Noise: derivatives 0."""

    nargs = 3

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return sympy.S.Zero


#: The distributions :class:`Quantile` draws from, by its first argument (an index into this
#: tuple), with the parameters each takes after ``(u, low, high)``: Vensim's RANDOM functions.
QUANTILE_KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("gamma", ("order",)),
    ("beta", ("alpha", "beta")),
    ("weibull", ("shape",)),
    ("triangular", ("start", "peak", "end")),
    ("poisson", ("mean",)),
    ("binomial", ("probability", "trials")),
    ("negative_binomial", ("probability", "successes")),
)


class Quantile(sympy.Function):  # type: ignore[misc]
    """``Quantile(kind, u, low, high, *parameters)``: the quantile of a uniform ``u`` under the
    distribution ``QUANTILE_KINDS[kind]`` conditioned on lying in ``[low, high]``, i.e.
    ``F^-1(F(low) + u (F(high) - F(low)))`` (for a distribution on the integers, ``F(low)`` is
    the probability below ``low``). Noise: derivatives 0."""

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return sympy.S.Zero


class LookupFunction(sympy.Function):  # type: ignore[misc]
    """A call of a graphical function; subclasses carry the lookup's name in ``lookup_name``."""

    nargs = 1
    lookup_name: ClassVar[str] = ""

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return lookup_slope_function(self.lookup_name)(self.args[0])


class LookupSlope(sympy.Function):  # type: ignore[misc]
    """The slope of a graphical function at a point (used by derivatives and Jacobians)."""

    nargs = 1
    lookup_name: ClassVar[str] = ""

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return sympy.S.Zero


@cache
def lookup_function(name: str) -> type[LookupFunction]:
    """The sympy function class for calls of the lookup ``name`` (one class per name)."""
    return type(
        f"lookup_{name}",
        (LookupFunction,),
        {"lookup_name": name, "__qualname__": f"{_LOOKUP}{name}"},
    )


@cache
def lookup_slope_function(name: str) -> type[LookupSlope]:
    """The sympy function class for the slope of the lookup ``name``."""
    return type(
        f"lookup_slope_{name}",
        (LookupSlope,),
        {"lookup_name": name, "__qualname__": f"{_SLOPE}{name}"},
    )


# The classes above are pickled by reference under these names (a model goes to worker
# processes by pickle); ``__getattr__`` below finds them again, the same class for the same name.
_LOOKUP, _SLOPE = "_lookup__", "_lookup_slope__"


def __getattr__(name: str) -> type[sympy.Function]:
    if name.startswith(_SLOPE):
        return lookup_slope_function(name.removeprefix(_SLOPE))
    if name.startswith(_LOOKUP):
        return lookup_function(name.removeprefix(_LOOKUP))
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class StatefulCall(sympy.Function):  # type: ignore[misc]
    """Placeholder for a stateful builtin (SMOOTH, DELAY3 ...) before it is lowered.

    Subclasses carry the builtin's name in ``builtin``; the lowering stage replaces each call by
    hidden stocks and flows (or a discrete state) and an expression over them.
    """

    builtin: ClassVar[str] = ""

    @classmethod
    def eval(cls, *args: Any) -> None:
        return None


@cache
def stateful_function(name: str) -> type[StatefulCall]:
    """The placeholder class for the stateful builtin ``name``."""
    return type(name, (StatefulCall,), {"builtin": name})
