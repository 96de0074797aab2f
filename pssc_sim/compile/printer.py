"""sympy expressions -> Python source, in two dialects.

``numpy`` code works on arrays shaped ``(n_members,)`` (or scalars that broadcast) and evaluates
both branches of a condition, selecting with ``np.where``; the caller runs it under
``np.errstate(all="ignore")`` and checks the selected values. A condition on the clock alone
(``TIME``, ``TIME_STEP``, ``INITIAL_TIME``, ``FINAL_TIME`` and numbers) is the same for every
member, so it becomes a Python conditional: one test, and only the selected branch is computed.
``scalar`` code works on Python floats with the ``math`` module: it is lazy in conditions and
raises on domain errors, and is the fast path for a single run, where numpy's per-call overhead
would dominate.

Array operations (:class:`~pssc_sim.ir.dimensions.ArrayOp`: views, aggregations, per-element
pieces) print in the numpy dialect from their specs; the index arrays they need are named in
:attr:`Printer.constants`, which the module defines.

Only the node types listed in :data:`_FUNCTIONS` and the core arithmetic can be printed; anything
else raises, so generated code never contains an unknown call.
"""

from __future__ import annotations

import enum
import re
import struct
from collections.abc import Callable, Mapping
from typing import Any

import sympy
from sympy.core.relational import Relational

from pssc_sim.errors import ModelError
from pssc_sim.ir.dimensions import ArrayOp, Broadcast
from pssc_sim.ir.functions import (
    CLOCK_SYMBOLS,
    INTEGER,
    LookupFunction,
    LookupSlope,
    Quantile,
    TruncatedNormal,
    UniformDraw,
)


class Dialect(enum.Enum):
    """The kind of code to generate."""

    NUMPY = "numpy"
    SCALAR = "scalar"


_Emit = Callable[[list[str]], str]

# name: (numpy, scalar) -- each a function of the printed arguments.
_FUNCTIONS: Mapping[type[sympy.Basic], tuple[_Emit, _Emit]] = {
    sympy.exp: (lambda a: f"np.exp({a[0]})", lambda a: f"math.exp({a[0]})"),
    sympy.log: (lambda a: f"np.log({a[0]})", lambda a: f"math.log({a[0]})"),
    sympy.sin: (lambda a: f"np.sin({a[0]})", lambda a: f"math.sin({a[0]})"),
    sympy.cos: (lambda a: f"np.cos({a[0]})", lambda a: f"math.cos({a[0]})"),
    sympy.tan: (lambda a: f"np.tan({a[0]})", lambda a: f"math.tan({a[0]})"),
    sympy.atan: (lambda a: f"np.arctan({a[0]})", lambda a: f"math.atan({a[0]})"),
    sympy.Abs: (lambda a: f"np.abs({a[0]})", lambda a: f"abs({a[0]})"),
    sympy.sign: (lambda a: f"np.sign({a[0]})", lambda a: f"_sign({a[0]})"),
    sympy.floor: (lambda a: f"np.floor({a[0]})", lambda a: f"math.floor({a[0]})"),
    sympy.ceiling: (lambda a: f"np.ceil({a[0]})", lambda a: f"math.ceil({a[0]})"),
    INTEGER: (lambda a: f"np.trunc({a[0]})", lambda a: f"math.trunc({a[0]})"),
    sympy.Mod: (lambda a: f"np.mod({a[0]}, {a[1]})", lambda a: f"({a[0]} % {a[1]})"),
    sympy.Min: (lambda a: _fold("np.minimum", a), lambda a: f"min({', '.join(a)})"),
    sympy.Max: (lambda a: _fold("np.maximum", a), lambda a: f"max({', '.join(a)})"),
    sympy.Heaviside: (lambda a: f"np.heaviside({a[0]}, 0.5)", lambda a: f"_heaviside({a[0]})"),
    sympy.loggamma: (lambda a: f"_gammaln({a[0]})", lambda a: f"math.lgamma({a[0]})"),
    # the derivative of loggamma (Jacobians): polygamma(0, x) is the digamma function
    sympy.polygamma: (
        lambda a: f"_polygamma({a[0]}, {a[1]})",
        lambda a: f"float(_polygamma({a[0]}, {a[1]}))",
    ),
    sympy.And: (lambda a: _fold("np.logical_and", a), lambda a: "(" + " and ".join(a) + ")"),
    sympy.Or: (lambda a: _fold("np.logical_or", a), lambda a: "(" + " or ".join(a) + ")"),
    sympy.Not: (lambda a: f"np.logical_not({a[0]})", lambda a: f"(not {a[0]})"),
    UniformDraw: (
        lambda a: f"_uniform_draw({', '.join(a)})",
        lambda a: f"_uniform_draw_scalar({', '.join(a)})",
    ),
    TruncatedNormal: (
        lambda a: f"_truncated_normal({', '.join(a)})",
        lambda a: f"_truncated_normal_scalar({', '.join(a)})",
    ),
    Quantile: (
        lambda a: f"_quantile({', '.join(a)})",
        lambda a: f"_quantile_scalar({', '.join(a)})",
    ),
}

_RELATIONS = {"<": "<", "<=": "<=", ">": ">", ">=": ">=", "==": "==", "!=": "!="}


def _is_negative(term: sympy.Expr) -> bool:
    coefficient = term.as_coeff_Mul()[0]
    return bool(coefficient.is_Number and coefficient < 0)


def _numpy_float(text: str, plain: bool) -> str:
    return f"np.float64({text})" if plain else text


#: Most operands printed as one flat chain. Python's compiler refuses an expression nested a few
#: thousand levels deep, and ``a + b + c ...`` is nested as deep as it is long: longer sums,
#: products and folds are printed as chains of parenthesised groups of at most this many.
GROUP = 64


def _groups(items: list[str]) -> list[list[str]]:
    return [items[i : i + GROUP] for i in range(0, len(items), GROUP)]


def _joined(texts: list[str], operator: str) -> str:
    """``texts`` joined by ``operator`` (associative), grouped so the nesting stays shallow."""
    while len(texts) > GROUP:
        texts = [f"({f' {operator} '.join(group)})" for group in _groups(texts)]
    return f" {operator} ".join(texts)


def _fold(function: str, args: list[str]) -> str:
    while len(args) > GROUP:  # min, max, and, or: associative, so fold groups first
        args = [_fold(function, group) for group in _groups(args)]
    result = args[0]
    for arg in args[1:]:
        result = f"{function}({result}, {arg})"
    return result


_NUMBER_NAME = re.compile(r"\b_f_[0-9a-f]{16}\b")


def number_name(value: float) -> str:
    """The name of the module constant holding ``value``: its IEEE bits in hexadecimal.

    Examples
    --------
    >>> number_name(0.5)
    '_f_3fe0000000000000'
    """
    return f"_f_{struct.unpack('<Q', struct.pack('<d', value))[0]:016x}"


def number_definitions(source: str) -> list[str]:
    """Lines defining, as numpy floats, the named numbers that ``source`` uses.

    Examples
    --------
    >>> number_definitions("x = (_f_3fe0000000000000 * y)")
    ['_f_3fe0000000000000 = np.float64(0.5)']
    """
    names = sorted(set(_NUMBER_NAME.findall(source)))
    values = [struct.unpack("<d", struct.pack("<Q", int(name[3:], 16)))[0] for name in names]
    return [f"{name} = np.float64({value!r})" for name, value in zip(names, values, strict=True)]


class Printer:
    """Prints sympy expressions as Python source in one :class:`Dialect`.

    ``names`` maps each symbol to the local variable that holds its value. ``lookups`` maps a
    lookup name to a call template with one ``{}`` for the argument, replacing the default call
    of ``lookup_<name>`` (``lookup_<name>_scalar`` in the scalar dialect). ``scalars`` holds the
    symbols, besides the clock, whose value is the same for every member. With
    ``named_numbers``, numpy code names each finite number (see :func:`number_name`) instead of
    writing a Python float, which numpy would convert at every call; the module defines the
    names (:func:`number_definitions`).
    """

    def __init__(
        self,
        dialect: Dialect,
        names: Mapping[sympy.Symbol, str],
        lookups: Mapping[str, str] | None = None,
        scalars: set[sympy.Basic] | None = None,
        named_numbers: bool = False,
    ) -> None:
        self.dialect = dialect
        self.names = names
        self.lookups = lookups or {}
        self.named_numbers = named_numbers and dialect is Dialect.NUMPY
        self.scalars: set[sympy.Basic] = set(CLOCK_SYMBOLS) if scalars is None else scalars
        self.scalars.update(CLOCK_SYMBOLS)
        self.constants: dict[str, tuple[Any, ...]] = {}

    def is_scalar(self, expr: sympy.Basic) -> bool:
        """Whether ``expr`` has one value for every member (clock symbols and numbers only)."""
        return bool(expr.free_symbols <= self.scalars)

    def __call__(self, expr: sympy.Basic) -> str:
        return self.print(expr)

    def print(self, expr: sympy.Basic) -> str:
        if isinstance(expr, sympy.Symbol):
            return self.symbol(expr)
        if expr.is_Number or expr in (sympy.pi, sympy.E):
            return self.number(expr)
        if expr is sympy.zoo:
            # sympy folds x / 0 into zoo * x; as IEEE inf * x it keeps the sign of x, and 0 / 0
            # stays NaN. It only matters in a branch that is selected, where it is reported.
            return "inf"
        if expr is sympy.true or expr is sympy.false:
            return "True" if expr is sympy.true else "False"
        if isinstance(expr, sympy.Add):
            return self.add(expr)
        if isinstance(expr, sympy.Mul):
            return self.mul(expr)
        if isinstance(expr, sympy.Pow):
            return self.power(expr)
        if isinstance(expr, sympy.Piecewise):
            return self.piecewise(expr)
        if isinstance(expr, Relational):
            left, right = self.print(expr.lhs), self.print(expr.rhs)
            return f"({left} {_RELATIONS[expr.rel_op]} {right})"
        if isinstance(expr, LookupFunction):
            return self.lookup("lookup", expr.lookup_name, expr.args[0])
        if isinstance(expr, LookupSlope):
            return self.lookup("slope", expr.lookup_name, expr.args[0])
        if isinstance(expr, ArrayOp) and self.dialect is Dialect.NUMPY:
            return str(expr.spec.render([self.print(a) for a in expr.args], self.constants))
        return self.function(expr)

    def symbol(self, symbol: sympy.Symbol) -> str:
        try:
            return self.names[symbol]
        except KeyError:
            raise ModelError(
                f"internal: no value for the symbol '{symbol}' in generated code. Report this model"
            ) from None

    def number(self, value: sympy.Basic) -> str:
        if value.is_Integer:
            text = f"{int(value)}.0"
        elif value is sympy.nan:
            text = "nan"
        elif value in (sympy.oo, sympy.zoo):
            text = "inf"
        elif value is -sympy.oo:
            text = "-inf"
        else:
            text = repr(float(value))
        if self.named_numbers and text not in ("nan", "inf", "-inf"):
            return number_name(float(text))
        return f"({text})" if text.startswith("-") else text

    def one(self) -> str:
        """The number 1, as :meth:`number` prints it."""
        return self.number(sympy.Integer(1))

    def add(self, expr: sympy.Add) -> str:
        return f"({self._add_text(self._add_terms(expr))})"

    def _add_terms(self, expr: sympy.Add) -> list[tuple[str, str]]:
        """``(operator, text)`` of each term in the order of evaluation; the first has ``''``."""
        # sympy's display order costs time quadratic in the number of terms; a long sum keeps
        # the (also deterministic) order of its arguments
        terms = list(expr.as_ordered_terms() if len(expr.args) <= GROUP else expr.args)
        if _is_negative(terms[0]) and not _is_negative(terms[1]):
            # ``b - a`` is ``(-a) + b`` exactly in IEEE arithmetic, and one operation fewer.
            terms[0], terms[1] = terms[1], terms[0]
        printed = [("", self.print(terms[0]))]
        for term in terms[1:]:
            printed.append(
                ("-", self.print(-term)) if _is_negative(term) else ("+", self.print(term))
            )
        return printed

    @staticmethod
    def _add_text(terms: list[tuple[str, str]]) -> str:
        if len(terms) > GROUP:
            # a long sum adds its groups in order; a group that follows starts with its sign
            groups = []
            for start in range(0, len(terms), GROUP):
                (operator, first), *rest = terms[start : start + GROUP]
                sign = "-" if operator == "-" else ""
                groups.append(f"({Printer._add_text([('', sign + first), *rest])})")
            return _joined(groups, "+")
        return terms[0][1] + "".join(f" {operator} {text}" for operator, text in terms[1:])

    def mul(self, expr: sympy.Mul) -> str:
        coefficient, rest = expr.as_coeff_Mul()
        if coefficient == -1:
            return f"(-{self.print(rest)})"
        numerator, bottom = self._mul_parts(expr)
        top = _joined(numerator, "*") if numerator else self.one()
        return f"({top} / {bottom})" if bottom else f"({top})"

    def _mul_parts(self, expr: sympy.Mul) -> tuple[list[str], str | None]:
        """The factors of the numerator and the denominator (or ``None``), as printed."""
        coefficient, rest = expr.as_coeff_Mul()
        denominator: list[str] = []
        if isinstance(coefficient, sympy.Rational) and coefficient.q != 1:
            # x / 5 stays a division, as written and as Vensim computes it: x * 0.2 can round
            # to the other side of a whole number (INTEGER, MODULO)
            numerator = [self.number(sympy.Integer(coefficient.p))] if coefficient.p != 1 else []
            denominator.append(self.number(sympy.Integer(coefficient.q)))
        else:
            numerator = [self.number(coefficient)] if coefficient != 1 else []
        for factor in rest.as_ordered_factors():
            if isinstance(factor, sympy.Pow) and factor.exp.is_Number and factor.exp < 0:
                denominator.append(self.print(factor.base**-factor.exp))
            else:
                numerator.append(self.print(factor))
        if not denominator:
            return numerator, None
        bottom = denominator[0] if len(denominator) == 1 else f"({_joined(denominator, '*')})"
        return numerator, bottom

    def into(self, expr: sympy.Basic, target: str) -> str:
        """Numpy statements (joined by ``; ``) writing ``expr`` into the array ``target``.

        A sum or product is computed one operation at a time into ``target``, given as the
        ufunc's positional output (parsing ``out=`` costs about as much as the arithmetic of a
        thousand members): ``a * b / c`` is ``multiply(a, b, target); divide(target, c,
        target)``. The operations and their order are those of :meth:`print`, so the values are
        the same, without a temporary per operation. ``target`` must not be an input. A value
        spread to the shape of its variable is computed into the target, which has that shape.
        """
        if isinstance(expr, ArrayOp) and isinstance(expr.spec, Broadcast):
            return self.into(expr.args[0], target)
        if isinstance(expr, sympy.Add) and len(expr.args) <= GROUP:
            terms = self._add_terms(expr)
            return self._chain(
                terms[0][1],
                [
                    ("np.add" if operator == "+" else "np.subtract", text)
                    for operator, text in terms[1:]
                ],
                target,
            )
        if isinstance(expr, sympy.Mul) and len(expr.args) <= GROUP:
            coefficient, rest = expr.as_coeff_Mul()
            if coefficient == -1:
                if isinstance(rest, sympy.Add | sympy.Mul):
                    return f"{self.into(rest, target)}; np.negative({target}, {target})"
                return f"np.negative({self.print(rest)}, {target})"
            numerator, bottom = self._mul_parts(expr)
            steps = [("np.multiply", factor) for factor in numerator[1:]]
            steps += [("np.divide", bottom)] if bottom is not None else []
            if steps:
                return self._chain(numerator[0] if numerator else self.one(), steps, target)
        return f"{target}[...] = {self.print(expr)}"

    @staticmethod
    def _chain(first: str, steps: list[tuple[str, str]], target: str) -> str:
        """``first`` combined with each ``(ufunc, operand)`` in turn, into ``target``."""
        (function, operand), *rest = steps
        lines = [f"{function}({first}, {operand}, {target})"]
        lines += [f"{function}({target}, {operand}, {target})" for function, operand in rest]
        return "; ".join(lines)

    def power(self, expr: sympy.Pow) -> str:
        base, exponent = expr.base, expr.exp
        if exponent == sympy.Rational(1, 2):
            sqrt = "np.sqrt" if self.dialect is Dialect.NUMPY else "math.sqrt"
            return f"{sqrt}({self.print(base)})"
        if exponent.is_Number and exponent < 0:
            return f"({self.one()} / {self.print(base**-exponent)})"
        if exponent.is_Integer:
            return f"({self.print(base)} ** {int(exponent)})"
        if self.dialect is Dialect.SCALAR:
            return f"math.pow({self.print(base)}, {self.print(exponent)})"
        return f"np.power({self.print(base)}, {self.print(exponent)})"

    def piecewise(self, expr: sympy.Piecewise) -> str:
        text, plain = "nan", True  # plain: may be a Python float, not a numpy value
        for value, condition in reversed(expr.args):
            branch = self.print(value)
            if condition is sympy.true:
                text, plain = branch, self.is_scalar(value)
                continue
            test = self.print(condition)
            if self.dialect is Dialect.SCALAR:
                text = f"({branch} if {test} else {text})"
            elif self.is_scalar(condition):
                # np.where gives a numpy value even when both branches are Python floats; keep
                # numpy's rules downstream (inf, not ZeroDivisionError) with np.float64.
                branch = _numpy_float(branch, self.is_scalar(value))
                text = f"({branch} if {test} else {_numpy_float(text, plain)})"
            else:
                text = f"np.where({test}, {branch}, {text})"
            plain = False
        return text

    def lookup(self, kind: str, name: str, argument: sympy.Basic) -> str:
        template = self.lookups.get(name) if kind == "lookup" else None
        if template is not None:
            return template.format(self.print(argument))
        helper = f"{kind}_{name}" if self.dialect is Dialect.NUMPY else f"{kind}_{name}_scalar"
        return f"{helper}({self.print(argument)})"

    def function(self, expr: sympy.Basic) -> str:
        emitters = _FUNCTIONS.get(type(expr))
        if emitters is None:
            raise ModelError(
                f"internal: cannot generate code for '{type(expr).__name__}' in {expr}. "
                "Report this model"
            )
        numpy_emit, scalar_emit = emitters
        args = [self.print(a) for a in expr.args]
        return numpy_emit(args) if self.dialect is Dialect.NUMPY else scalar_emit(args)
