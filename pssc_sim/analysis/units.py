"""Dimensional analysis of equations with pint.

Every declared ``units`` string is read by a pint registry in which unknown names (``people``,
``FTE``, ``GBP``) become base dimensions of their own, ``dmnl`` and ``fraction`` are
dimensionless, and temperatures are differences (a flow of degF/minute changes a stock in degF).
Numbers adapt to what they are added to or compared with, and are dimensionless in products, as
in Vensim's unit check. Variables without declared units are not checked.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pint
import sympy
from sympy.core.relational import Relational

from pssc_sim.ir.dimensions import ArrayOp, Assemble, Broadcast, Reduce, View
from pssc_sim.ir.functions import INTEGER, TIME, TIME_STEP, LookupFunction, LookupSlope

_DIMENSIONLESS = {"", "1", "dmnl", "dimensionless", "fraction", "unitless", "ratio", "none"}
_TOKEN = re.compile(r"[^\W\d][\w]*", re.UNICODE)
_TEMPERATURES = {"degF": "delta_degF", "degC": "delta_degC", "degK": "kelvin"}
_UNCHANGED = (sympy.Abs, sympy.floor, sympy.ceiling, INTEGER)
_DIMENSIONLESS_FUNCTIONS = (sympy.exp, sympy.log, sympy.sin, sympy.cos, sympy.tan, sympy.atan)


#: The text of a unit: names that start with a letter, numbers, and ``* / ^ ** ( ) -`` between
#: them. Nothing else reaches pint, whose registry treats names starting with ``_`` (and
#: ``__class__``-like names) as Python attributes.
_UNIT_TEXT = re.compile(r"(?:[^\W\d_]\w*|\d+(?:\.\d+)?|\*\*|[*/^()\s-])+")
#: The longest unit text read; a declared unit is a few words.
MAX_UNIT_CHARS = 200
#: How to write a unit, for the messages that refuse one.
UNIT_HINT = (
    "Write names that start with a letter, joined by *, / and ^ with number powers, "
    "e.g. people/year"
)


class UnitsUnreadable(Exception):  # noqa: N818 - an internal signal, caught by the checker
    """A declared unit is not text pssc_sim reads as a unit; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def unit_text_problem(text: str) -> str | None:
    """Why ``text`` is not unit text that pssc_sim passes to pint, or ``None`` when it is.

    >>> unit_text_problem("people/year") is None
    True
    >>> unit_text_problem("__class__")
    "a unit name must start with a letter and hold no '__' (got '__class__')"
    """
    if len(text) > MAX_UNIT_CHARS:
        return f"a unit is at most {MAX_UNIT_CHARS} characters (got {len(text)})"
    if not _UNIT_TEXT.fullmatch(text):
        bad = next((c for c in text if not _UNIT_TEXT.fullmatch(c) and c != "_"), None)
        if bad is None:
            return f"a unit name must start with a letter and hold no '__' (got {text!r})"
        return f"a unit cannot hold {bad!r} (got {text!r})"
    if any("__" in token for token in _TOKEN.findall(text)):
        return f"a unit name must start with a letter and hold no '__' (got {text!r})"
    return None


class UnitsMismatch(Exception):  # noqa: N818 - an internal signal, caught by the checker
    """Two quantities that must agree do not; ``units`` are the two unit strings."""

    def __init__(self, what: str, first: str, second: str) -> None:
        super().__init__(what)
        self.what, self.first, self.second = what, first, second


@dataclass(slots=True)
class Units:
    """A unit registry for one model, growing base dimensions for unknown names."""

    registry: pint.UnitRegistry  # type: ignore[type-arg]

    @classmethod
    def create(cls) -> Units:
        return cls(pint.UnitRegistry())

    def parse(self, text: str) -> Any:
        """The pint unit of ``text``.

        Raises :class:`UnitsUnreadable` when ``text`` is not unit text (see
        :func:`unit_text_problem`) or pint cannot read it.
        """
        cleaned = text.strip()
        if cleaned.lower() in _DIMENSIONLESS:
            return self.registry.dimensionless
        problem = unit_text_problem(cleaned)
        if problem is not None:
            raise UnitsUnreadable(problem)
        for name, delta in _TEMPERATURES.items():
            cleaned = re.sub(rf"\b{name}\b", delta, cleaned)
        try:
            for token in sorted(set(_TOKEN.findall(cleaned))):
                if token.lower() in _DIMENSIONLESS:
                    cleaned = re.sub(rf"\b{token}\b", "dimensionless", cleaned)
                elif token not in self.registry:
                    self.registry.define(f"{token} = [{token}]")
            return self.registry.Unit(cleaned)
        except Exception as error:  # pint's parser raises many kinds, even AssertionError
            # ('^' alone); the text already passed the unit rule, so any failure is pint's.
            raise UnitsUnreadable(
                f"pint cannot read it, {type(error).__name__}: "
                f"{str(error)[:120].rstrip('.')} (got {text!r})"
            ) from None

    def same(self, first: Any, second: Any) -> bool:
        """Whether two units are equal (same dimension and scale)."""
        if first.dimensionality != second.dimensionality:
            return False
        factor = (1 * first).to(second).magnitude
        return bool(abs(factor - 1.0) < 1e-9)


def show(unit: Any) -> str:
    """A unit as short text."""
    text = f"{unit}" if unit is not None else "?"
    return text or "dimensionless"


@dataclass(slots=True)
class UnitsOf:
    """Infers the units of sympy expressions given the units of symbols."""

    units: Units
    symbols: Mapping[str, Any]  # variable name -> pint unit, absent when unknown
    time: Any | None
    lookups: Mapping[str, Any]

    def __call__(self, expr: sympy.Basic) -> Any | None:
        return self.infer(expr)

    def infer(self, expr: sympy.Basic) -> Any | None:
        if expr.is_Number or expr in (sympy.pi, sympy.E):
            return None
        if isinstance(expr, sympy.Symbol):
            if expr in (TIME, TIME_STEP):
                return self.time
            return self.symbols.get(expr.name)
        if isinstance(expr, (sympy.Add, sympy.Min, sympy.Max)):
            return self.agree(expr.args, "terms")
        if isinstance(expr, sympy.Mul):
            return self.product(expr.args)
        if isinstance(expr, sympy.Pow):
            return self.power(expr)
        if isinstance(expr, sympy.Piecewise):
            for _, condition in expr.args:
                self.infer(condition)
            return self.agree([value for value, _ in expr.args], "branches")
        if isinstance(expr, Relational):
            self.agree([expr.lhs, expr.rhs], "sides of a comparison")
            return None
        return self.function(expr)

    def function(self, expr: sympy.Basic) -> Any | None:
        if isinstance(expr, ArrayOp):
            return self.array(expr)
        if isinstance(expr, LookupFunction):
            self.infer(expr.args[0])
            return self.lookups.get(expr.lookup_name)
        if isinstance(expr, LookupSlope):
            return None
        if isinstance(expr, _UNCHANGED):
            return self.infer(expr.args[0])
        if isinstance(expr, ArrayOp):
            return self.array(expr)
        if isinstance(expr, sympy.Mod):
            return self.agree(expr.args, "arguments of MODULO")
        if isinstance(expr, _DIMENSIONLESS_FUNCTIONS):
            inner = self.infer(expr.args[0])
            if inner is not None and not inner.dimensionless:
                raise UnitsMismatch(
                    f"the argument of {type(expr).__name__} must be dimensionless",
                    show(inner),
                    "dimensionless",
                )
            return self.units.registry.dimensionless
        for arg in expr.args:
            self.infer(arg)
        return None if not isinstance(expr, sympy.Expr) else self.units.registry.dimensionless

    def array(self, expr: ArrayOp) -> Any | None:
        """Picking, re-indexing, spreading, summing, and taking the least or greatest element
        keep the units of the array; per-element equations must agree; other array operations
        (products, vector functions) are not checked."""
        spec = expr.spec
        if isinstance(spec, (View, Broadcast)) or (
            isinstance(spec, Reduce) and spec.function in ("sum", "min", "max")
        ):
            return self.infer(expr.args[0])
        if isinstance(spec, Assemble):
            return self.agree(expr.args, "per-element equations")
        for arg in expr.args:
            self.infer(arg)
        return None

    def agree(self, terms: Any, what: str) -> Any | None:
        known = [(term, u) for term in terms if (u := self.infer(term)) is not None]
        for (_, first), (_, other) in itertools.pairwise(known):
            if not self.units.same(first, other):
                raise UnitsMismatch(f"the {what} have different units", show(first), show(other))
        return known[0][1] if known else None

    def product(self, factors: Any) -> Any | None:
        result = self.units.registry.dimensionless
        for factor in factors:
            if factor.is_Number:
                continue
            unit = self.infer(factor)
            if unit is None:
                return None
            result = result * unit
        return result

    def power(self, expr: sympy.Pow) -> Any | None:
        base = self.infer(expr.base)
        exponent = self.infer(expr.exp)
        if exponent is not None and not exponent.dimensionless:
            raise UnitsMismatch(
                "an exponent must be dimensionless", show(exponent), "dimensionless"
            )
        if base is None:
            return None
        if not expr.exp.is_Number:
            return base if base.dimensionless else None
        return base ** float(expr.exp)
