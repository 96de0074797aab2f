"""Equations: text -> sympy, through a whitelist of Python syntax.

Equations are read with :func:`ast.parse` and every node is translated by hand; a node type not
listed here is rejected with its column. No model text ever reaches ``eval``, ``exec``,
``sympify`` or ``parse_expr``, so a model file cannot run code.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Protocol

import sympy
from sympy.core.relational import Relational
from sympy.logic.boolalg import ITE

from pssc_sim.errors import ExpressionError, PsscSimError, clipped, did_you_mean, shown
from pssc_sim.ir.builtins import (
    BUILTINS,
    LEVER_NAMES,
    MEASURE_FUNCTIONS,
    MEASURE_VALUE_ARGUMENTS,
    RESERVED_NAMES,
    Builtin,
    ShareBelow,
    as_condition,
    is_condition,
)
from pssc_sim.ir.conditions import UnsettledConditionError, piecewise
from pssc_sim.ir.functions import (
    CULTURE,
    FINAL_TIME,
    INITIAL_TIME,
    RANDOM_MEMBER,
    RANDOM_SEED,
    TIME,
    TIME_STEP,
    lookup_function,
    variable_symbol,
)
from pssc_sim.parse import nesting

_CLOCK = {
    "TIME": TIME,
    "TIME_STEP": TIME_STEP,
    "INITIAL_TIME": INITIAL_TIME,
    "FINAL_TIME": FINAL_TIME,
    "CULTURE": CULTURE,
    "RANDOM_SEED": RANDOM_SEED,
    "RANDOM_MEMBER": RANDOM_MEMBER,
}

_BINARY: dict[type[ast.operator], Callable[[sympy.Expr, sympy.Expr], sympy.Expr]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Mod: lambda a, b: sympy.Mod(a, b),
}

_COMPARE: dict[type[ast.cmpop], Callable[[sympy.Expr, sympy.Expr], sympy.Basic]] = {
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
    ast.Eq: lambda a, b: sympy.Eq(a, b),
    ast.NotEq: lambda a, b: sympy.Ne(a, b),
}

# Constructs that are valid Python but never valid in an equation, with the fix to offer.
_REJECTED: dict[type[ast.AST], str] = {
    ast.Attribute: "attribute access is not allowed. Use a plain variable name",
    ast.Lambda: "lambda is not allowed. Write the expression directly",
    ast.ListComp: "comprehensions are not allowed. Write the expression directly",
    ast.SetComp: "comprehensions are not allowed. Write the expression directly",
    ast.DictComp: "comprehensions are not allowed. Write the expression directly",
    ast.GeneratorExp: "comprehensions are not allowed. Write the expression directly",
    ast.NamedExpr: "assignment expressions are not allowed. Define an auxiliary instead",
    ast.Starred: "starred arguments are not allowed. Pass each argument",
    ast.JoinedStr: "strings are not allowed. Use numbers and variable names",
    ast.List: "lists are not allowed. Use numbers and variable names",
    ast.Tuple: "tuples are not allowed. Use numbers and variable names",
    ast.Dict: "dictionaries are not allowed. Use numbers and variable names",
    ast.Set: "sets are not allowed. Use numbers and variable names",
    ast.Await: "await is not allowed. Write an arithmetic expression",
    ast.Yield: "yield is not allowed. Write an arithmetic expression",
    ast.YieldFrom: "yield is not allowed. Write an arithmetic expression",
}

_OPERATOR_HINTS: dict[type[ast.AST], str] = {
    ast.BitXor: "'^' is not a power here. Use ** for powers",
    ast.FloorDiv: "'//' is not supported. Use INTEGER(a / b)",
    ast.MatMult: "'@' is not supported. Use * for multiplication",
    ast.BitAnd: "'&' is not supported. Use 'and'",
    ast.BitOr: "'|' is not supported. Use 'or'",
    ast.LShift: "'<<' is not supported. Use arithmetic operators",
    ast.RShift: "'>>' is not supported. Use arithmetic operators",
    ast.Invert: "'~' is not supported. Use 'not'",
    ast.Is: "'is' is not supported. Use ==",
    ast.IsNot: "'is not' is not supported. Use !=",
    ast.In: "'in' is not supported. Use comparisons",
    ast.NotIn: "'not in' is not supported. Use comparisons",
}

#: The argument of a builtin that sympy folds into a condition, and the most conditions it may
#: hold.
_GUARDED = {"XIDZ": 1, "ZIDZ": 1}
_MAX_GUARDED = 8


def _conditionals(expr: sympy.Basic) -> int:
    """How many conditions ``expr`` holds (relations, with those of its conditional values)."""
    return sum(isinstance(e, Relational) for e in sympy.preorder_traversal(expr))


#: Largest integer literal kept exact; larger ones become floats.
_EXACT_INTEGER_LIMIT = 2**53


#: ``age!`` (sum over the dimension ``age``) as a Python name the parser accepts.
_REDUCED = re.compile(r"(\w)!(?!=)")
REDUCED_SUFFIX = "__ALL__"


class ArrayScope(Protocol):
    """What an equation of an arrayed model needs to read subscripts (see
    :mod:`pssc_sim.parse.dimensions`)."""

    @property
    def functions(self) -> Collection[str]:
        """Names of the array functions (upper case)."""

    def reference(self, name: str, subscripts: tuple[str, ...] | None) -> sympy.Expr:
        """The value of the variable ``name``, subscripted or bare, on the equation's axes."""

    def call(
        self, function: str, node: ast.Call, translate: Callable[[ast.AST], sympy.Expr]
    ) -> sympy.Expr:
        """An array function (``SUM`` ...) of the arguments in ``node``."""


@dataclass(frozen=True, slots=True)
class Namespace:
    """The names an equation may refer to; ``arrays`` reads subscripts where a model has
    dimensions."""

    variables: Collection[str]
    lookups: Collection[str]
    measures: Collection[str] = ()
    arrays: ArrayScope | None = None

    def candidates(self) -> list[str]:
        """Every name a did-you-mean may suggest."""
        return [
            *self.variables,
            *self.lookups,
            *RESERVED_NAMES,
            *LEVER_NAMES,
            *BUILTINS,
            *MEASURE_FUNCTIONS,
        ]


def parse_expression(text: object, *, where: str, namespace: Namespace) -> sympy.Expr:
    """Translate the equation ``text`` into a sympy expression.

    Parameters
    ----------
    text
        The equation as written in the model file; numbers are accepted as they are.
    where
        ``file: key.path`` of the equation, the prefix of every error message.
    namespace
        The variable and lookup names the equation may use.

    Examples
    --------
    >>> ns = Namespace(variables={"a", "b"}, lookups=set())
    >>> parse_expression("MAX(a, 2 * b)", where="m.yaml: auxiliaries.c", namespace=ns)
    Max(a, 2*b)
    """
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise ExpressionError(
            f"{where}: an equation must be a number or a text expression (got {shown(text)}). "
            "Write it as a number or a string such as 'a * b'"
        )
    if isinstance(text, (int, float)):
        return _number(text, where)
    source = " ".join(text.split("\n")).strip()
    if namespace.arrays is not None:
        source = _REDUCED.sub(r"\1" + REDUCED_SUFFIX, source)
    if not source:
        raise ExpressionError(
            f"{where}: the equation is empty (got {shown(text)}). Write an expression"
        )
    regrouped = nesting.regroup_chains(source)
    try:
        tree = ast.parse(regrouped.source, mode="eval")
    except SyntaxError as exc:
        column = regrouped.original_column((exc.offset or 1) - 1) + 1
        if "too many nested" in str(exc.msg):
            raise _too_deep(where, source, "more parentheses than the parser reads") from None
        raise ExpressionError(
            f"{where}: invalid syntax at column {column} (got {shown(source)}). "
            "Use Python arithmetic: + - * / **, comparisons, and function calls"
        ) from None
    except (RecursionError, MemoryError):  # the parser's own limit on nesting
        raise _too_deep(where, source, "more than the parser reads") from None
    depth = nesting.nesting_depth(tree.body)
    if depth > nesting.MAX_DEPTH:
        raise _too_deep(where, source, f"{depth} levels")
    translator = _Translator(where, source, namespace, regrouped)
    try:
        result = translator.visit(tree.body)
    except PsscSimError:
        raise
    except RecursionError:
        raise _too_deep(where, source, f"{depth} levels") from None
    except UnsettledConditionError:
        raise unsettled(where, source) from None
    except (ArithmeticError, TypeError, ValueError) as exc:
        raise ExpressionError(
            f"{where}: the equation cannot be built (got {shown(source)}): {_clipped(exc)}. "
            "Look for a division or MODULO by zero, or a comparison with an undefined value"
        ) from None
    if is_condition(result):
        raise ExpressionError(
            f"{where}: the equation is a condition, not a value (got {shown(source)}). "
            "Wrap it, e.g. IF_THEN_ELSE(condition, 1, 0)"
        )
    return _real(_without_ite(result), where, source)


def _real(expr: sympy.Expr, where: str, source: str) -> sympy.Expr:
    """``expr``, refused when sympy folded a negative constant into an imaginary number.

    ``SQRT(-1)`` or ``LN(-2)`` has no real value; Vensim stops such a run with a floating point
    error, and refusing at load time points at the equation instead of a failed run.
    """
    if isinstance(expr, sympy.Basic) and expr.has(sympy.I):
        raise ExpressionError(
            f"{where}: the equation is not a real number (got {source!r}: a square root, "
            "logarithm or fractional power of a negative constant). Check the sign of the "
            "constant, e.g. SQRT(ABS(x))"
        )
    return expr


def unsettled(where: str, source: str) -> ExpressionError:
    """The error for a condition sympy keeps in no form (see :mod:`pssc_sim.ir.conditions`)."""
    return ExpressionError(
        f"{where}: a comparison cannot be kept in a form sympy leaves as it is (got "
        f"{shown(source, 60)}). Move one side of the comparison into an auxiliary"
    )


def _too_deep(where: str, source: str, got: str) -> ExpressionError:
    return ExpressionError(
        f"{where}: the equation is too deeply nested (limit {nesting.MAX_DEPTH}) (got {got} in "
        f"{shown(source, 60)}). Split it into auxiliaries"
    )


def _clipped(exc: Exception) -> str:
    return clipped((str(exc) or type(exc).__name__).rstrip("."))


def _without_ite(expr: sympy.Basic) -> sympy.Expr:
    """``expr`` with sympy's ``ITE`` spelt out in And/Or/Not.

    sympy folds a relation of a ``Piecewise`` (``XIDZ(a, XIDZ(a, b, x), y)``) into an ``ITE``
    condition, which is not part of the vocabulary the later stages print.
    """
    if not expr.has(ITE):
        return expr
    return expr.replace(
        lambda e: isinstance(e, ITE),
        lambda e: sympy.Or(
            sympy.And(e.args[0], e.args[1]), sympy.And(sympy.Not(e.args[0]), e.args[2])
        ),
    )


def _number(value: float | int, where: str) -> sympy.Expr:
    if isinstance(value, float) and not math.isfinite(value):
        raise ExpressionError(
            f"{where}: the number is not finite (got {value}). Use a finite value"
        )
    if isinstance(value, int) and abs(value) < _EXACT_INTEGER_LIMIT:
        return sympy.Integer(value)
    return sympy.Float(float(value))


class _Translator:
    """Walks a Python expression tree, building sympy objects for whitelisted nodes only."""

    def __init__(
        self,
        where: str,
        source: str,
        namespace: Namespace,
        regrouped: nesting.Regrouped | None = None,
    ) -> None:
        self.where = where
        self.source = source
        self.namespace = namespace
        self.regrouped = regrouped or nesting.Regrouped(source)

    def visit(self, node: ast.AST) -> sympy.Basic:
        method = getattr(self, f"visit_{type(node).__name__}", None)
        if method is not None:
            return method(node)
        hint = _REJECTED.get(type(node))
        if hint is not None:
            what, fix = hint.split(". ", 1)
            raise self._rejected(node, what, fix)
        raise self._rejected(
            node,
            f"'{type(node).__name__}' is not allowed",
            "Use arithmetic, comparisons and function calls",
        )

    def column(self, node: ast.AST) -> int:
        """The 1-based column of ``node`` in the equation as written."""
        return self.regrouped.original_column(getattr(node, "col_offset", 0)) + 1

    def _rejected(self, node: ast.AST, what: str, fix: str) -> ExpressionError:
        return ExpressionError(
            f"{self.where}: {what} (column {self.column(node)}, got {shown(self.source)}). {fix}"
        )

    def visit_Constant(self, node: ast.Constant) -> sympy.Expr:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self._rejected(
                node,
                f"the constant {shown(value, 60)} is not a number",
                "Use numbers and variable names",
            )
        return _number(value, self.where)

    def visit_Name(self, node: ast.Name) -> sympy.Basic:
        name = node.id
        if "__" in name:
            raise self._rejected(
                node,
                f"the name {shown(name)} contains a double underscore",
                "Names with '__' are reserved; rename the variable",
            )
        if name in self.namespace.variables:
            if self.namespace.arrays is not None:
                return self.namespace.arrays.reference(name, None)
            return variable_symbol(name)
        if name in _CLOCK:
            return _CLOCK[name]
        if name in self.namespace.lookups:
            raise self._rejected(
                node,
                f"the lookup {shown(name)} is used as a value",
                f"Call it with an input, e.g. {name}(x)",
            )
        if name.upper() in BUILTINS:
            raise self._rejected(
                node,
                f"the function {shown(name)} is used as a value",
                f"Call it with its arguments, e.g. {name.upper()}(...)",
            )
        hint = did_you_mean(name, self.namespace.candidates())
        if hint:
            raise ExpressionError(f"{self.where}: unknown name {shown(name)}.{hint}")
        raise ExpressionError(
            f"{self.where}: unknown name {shown(name)} (column {self.column(node)}). Define it "
            "under parameters, stocks, flows or auxiliaries, or correct the spelling"
        )

    def visit_Subscript(self, node: ast.Subscript) -> sympy.Expr:
        arrays = self.namespace.arrays
        if arrays is None:
            raise self._rejected(
                node,
                "subscripts are not allowed",
                "Use a plain variable name, or declare dimensions",
            )
        if not isinstance(node.value, ast.Name) or node.value.id not in self.namespace.variables:
            what = node.value.id if isinstance(node.value, ast.Name) else "an expression"
            hint = (
                did_you_mean(what, self.namespace.variables).strip()
                or "Subscript a stock, flow, auxiliary or parameter."
            )
            raise self._rejected(node, f"only variables take subscripts, not {shown(what)}", hint)
        items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        subscripts = []
        for item in items:
            if isinstance(item, ast.Name):
                subscripts.append(item.id.replace(REDUCED_SUFFIX, "!"))
            elif isinstance(item, ast.Constant) and isinstance(item.value, (str, int)):
                subscripts.append(str(item.value))
            else:
                raise self._rejected(
                    item,
                    "a subscript must be an element or a dimension",
                    "Write x[A, age], quoting other names: x['0-4']",
                )
        return arrays.reference(node.value.id, tuple(subscripts))

    def visit_BinOp(self, node: ast.BinOp) -> sympy.Expr:
        if isinstance(node.op, (ast.Add, ast.Sub)):
            return sympy.Add(
                *(
                    self._value(operand) if not isinstance(op, ast.Sub) else -self._value(operand)
                    for op, operand in nesting.chain(node)
                )
            )
        if isinstance(node.op, (ast.Mult, ast.Div)):
            # folded in order, not as one Mul: x / 3 divides (a Mul of 1/3 would round twice)
            (_, first), *rest = nesting.chain(node)
            product = self._value(first)
            for op, operand in rest:
                value = self._value(operand)
                product = product / value if isinstance(op, ast.Div) else product * value
            return product
        left, right = self._value(node.left), self._value(node.right)
        if isinstance(node.op, ast.Pow):
            return self._power(left, right)
        operation = _BINARY.get(type(node.op))
        if operation is None:
            raise self._operator(node, node.op)
        return operation(left, right)

    def _power(self, base: sympy.Expr, exponent: sympy.Expr) -> sympy.Expr:
        if base.is_Number and exponent.is_Number:
            # Evaluate numeric powers in floating point: exact big-integer powers could hang.
            try:
                value = float(base) ** float(exponent)
            except (OverflowError, ZeroDivisionError, TypeError):
                raise ExpressionError(
                    f"{self.where}: the power {base}**{exponent} cannot be computed "
                    f"(got {shown(self.source)}). Use a smaller exponent"
                ) from None
            if isinstance(value, complex):
                raise ExpressionError(
                    f"{self.where}: the equation is not a real number (got {self.source!r}: "
                    f"({base})**({exponent}) is a fractional power of a negative number). "
                    "Check the sign, e.g. ABS(x)**0.5"
                )
            return sympy.Float(value)
        return base**exponent

    def visit_UnaryOp(self, node: ast.UnaryOp) -> sympy.Basic:
        if isinstance(node.op, ast.Not):
            return sympy.Not(as_condition(self.visit(node.operand)))
        operand = self._value(node.operand)
        if isinstance(node.op, ast.USub):
            return -operand
        if isinstance(node.op, ast.UAdd):
            return operand
        raise self._operator(node, node.op)

    def visit_Compare(self, node: ast.Compare) -> sympy.Basic:
        terms = [self._value(node.left), *(self._value(c) for c in node.comparators)]
        relations: list[sympy.Basic] = []
        for op, left, right in zip(node.ops, terms, terms[1:], strict=False):
            compare = _COMPARE.get(type(op))
            if compare is None:
                raise self._operator(node, op)
            relations.append(compare(left, right))
        return sympy.And(*relations) if len(relations) > 1 else relations[0]

    def visit_BoolOp(self, node: ast.BoolOp) -> sympy.Basic:
        values = [as_condition(self.visit(v)) for v in node.values]
        return sympy.And(*values) if isinstance(node.op, ast.And) else sympy.Or(*values)

    def visit_IfExp(self, node: ast.IfExp) -> sympy.Expr:
        condition = as_condition(self.visit(node.test))
        return piecewise((self._value(node.body), condition), (self._value(node.orelse), True))

    def visit_Call(self, node: ast.Call) -> sympy.Basic:
        arrays = self.namespace.arrays
        if (
            arrays is not None
            and isinstance(node.func, ast.Subscript)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id.upper() in arrays.functions
        ):
            return arrays.call(node.func.value.id.upper(), node, self._value)
        if not isinstance(node.func, ast.Name):
            raise self._rejected(
                node,
                "only named functions can be called",
                "Call a builtin such as MAX(a, b) or a lookup such as f(x)",
            )
        if node.keywords:
            raise self._rejected(
                node, "keyword arguments are not allowed", "Pass arguments by position"
            )
        name = node.func.id
        if "__" in name:
            raise self._rejected(
                node,
                f"the name {shown(name)} contains a double underscore",
                "Names with '__' are reserved; call a builtin or a lookup",
            )
        if name not in self.namespace.lookups and name.upper() in MEASURE_FUNCTIONS:
            return self._measure_call(node, name.upper())
        if arrays is not None and name.upper() in arrays.functions:
            return arrays.call(name.upper(), node, self._value)
        args = [self._value(a) for a in node.args]
        if name in self.namespace.lookups:
            return self._lookup_call(node, name, args)
        builtin = BUILTINS.get(name.upper())
        if builtin is None:
            # Lookups keep their spelling, builtins are matched in upper case.
            hint = did_you_mean(name, self.namespace.lookups) or did_you_mean(
                name.upper(), BUILTINS
            )
            raise self._rejected(
                node,
                f"unknown function {shown(name)}",
                (hint.strip() + " " if hint else "")
                + "Use a builtin or a lookup defined under lookups",
            )
        return self._builtin_call(node, builtin, args)

    def _measure_call(self, node: ast.Call, name: str) -> sympy.Expr:
        """``TARGET(m)`` and friends: the hidden variable of the measure ``m`` they read."""
        values = MEASURE_VALUE_ARGUMENTS.get(name, 0)
        argument = node.args[0] if len(node.args) == 1 + values else None
        if not isinstance(argument, ast.Name):
            usage = ", ".join(["measure_name", *["value"] * values])
            raise self._rejected(
                node,
                f"{name} takes the name of one measure"
                + (f" and {values} value" if values else ""),
                f"Write {name}({usage})",
            )
        measure = argument.id
        if measure not in self.namespace.measures:
            hint = did_you_mean(measure, self.namespace.measures) or (
                " Declare it under measures."
                if not self.namespace.measures
                else f" Measures: {', '.join(sorted(self.namespace.measures))}."
            )
            raise ExpressionError(
                f"{self.where}: {name}: unknown measure {shown(measure)} (column "
                f"{self.column(argument)}).{hint}"
            )
        marker = variable_symbol(f"{measure}__{MEASURE_FUNCTIONS[name]}")
        if not values:
            return marker
        return ShareBelow(marker, *(self._value(a) for a in node.args[1:]))

    def _lookup_call(self, node: ast.Call, name: str, args: list[sympy.Expr]) -> sympy.Expr:
        if len(args) != 1:
            raise self._rejected(
                node,
                f"the lookup {shown(name)} takes 1 argument, not {len(args)}",
                f"Call it as {name}(x)",
            )
        return lookup_function(name)(args[0])

    def _builtin_call(self, node: ast.Call, builtin: Builtin, args: list[sympy.Expr]) -> sympy.Expr:
        if not builtin.accepts(len(args)):
            raise self._rejected(
                node,
                f"{builtin.name} takes {builtin.signature} arguments, not {len(args)}",
                f"Write {builtin.description.split(':')[0]}",
            )
        guarded = _GUARDED.get(builtin.name)
        if guarded is not None and _conditionals(args[guarded]) > _MAX_GUARDED:
            # sympy folds each conditional of a guard into the guard's condition: the work and
            # the expression grow exponentially with their nesting
            raise self._rejected(
                node,
                f"the divisor of {builtin.name} holds more than {_MAX_GUARDED} conditions",
                "Move the inner XIDZ, ZIDZ or IF_THEN_ELSE into an auxiliary",
            )
        try:
            return builtin.build(args)
        except TypeError:
            # sympy folds nested conditions eagerly; where it cancels a division into x / 0 in a
            # branch, the folded comparison is undefined and sympy refuses to build it.
            raise self._rejected(
                node,
                f"{builtin.name} of these arguments cannot be folded into one condition",
                "Move the inner conditional expression into an auxiliary of its own",
            ) from None

    def _value(self, node: ast.AST) -> sympy.Expr:
        """Translate a node that must be a number, not a condition."""
        value = self.visit(node)
        if is_condition(value):
            return piecewise((sympy.S.One, value), (sympy.S.Zero, True))
        return value

    def _operator(self, node: ast.AST, op: ast.AST) -> ExpressionError:
        hint = _OPERATOR_HINTS.get(
            type(op), f"'{type(op).__name__}' is not supported. Use + - * / ** and comparisons"
        )
        what, fix = hint.split(". ", 1)
        return self._rejected(node, what, fix)
