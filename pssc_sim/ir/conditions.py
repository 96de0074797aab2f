"""Conditions of ``Piecewise`` expressions in a form sympy leaves as it is.

Every time sympy builds a ``Piecewise`` (also when ``subs``, ``xreplace`` or a rewrite rebuilds
one) it puts each relation of its conditions into a canonical form, and builds itself again if
that changed anything. The canonical form is not always a fixed point: for some relations it
alternates between two forms, e.g.
``TIME + TIME_STEP/2 > -TIME + h`` -> ``TIME - h > -TIME - TIME_STEP/2`` -> back again, and the
``Piecewise`` rebuilds itself until Python's recursion limit (``STEP(1, h - TIME)``). Which
relations do this depends on the names and assumptions of the symbols, so a rename or a
substitution can turn a harmless condition into one that does.

:func:`piecewise` builds a ``Piecewise`` from conditions settled first (:func:`settled`),
:func:`rebuilt` rebuilds any expression from new arguments the same way, and :func:`substituted`
replaces parts of an expression through it, so that no part of the engine hands sympy a
condition it cannot settle.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import sympy
from sympy.core.relational import Relational
from sympy.core.relational import _canonical_coeff as _canonical  # what Piecewise applies
from sympy.logic.boolalg import Boolean


class UnsettledConditionError(ValueError):
    """A relation that sympy's canonicalisation settles in no form tried (not seen in practice;
    the parser and the compiler report it as an :class:`~pssc_sim.errors.ExpressionError`)."""


#: Most rounds of canonicalisation tried before a relation is taken to be cycling.
_ROUNDS = 8


def _fixed_point(relation: sympy.Basic) -> sympy.Basic | None:
    """The form sympy's canonicalisation ends in from ``relation``, or ``None`` if it cycles."""
    current = relation
    for _ in range(_ROUNDS):
        following = _canonical(current) if isinstance(current, Relational) else current
        if following == current:
            return current
        current = following
    return None


def settled_relation(relation: Relational) -> sympy.Basic:
    """``relation`` in a form that sympy's canonicalisation leaves unchanged.

    A relation whose canonical forms cycle is compared as a difference with zero instead
    (``a > b`` as ``a - b > 0``): the same truth value, as IEEE subtraction of two finite numbers
    is zero only when they are equal and otherwise has the sign of the exact difference.

    >>> from pssc_sim.ir.functions import TIME, TIME_STEP
    >>> h = sympy.Symbol("h")
    >>> settled_relation(TIME + TIME_STEP / 2 > h - TIME)
    2*TIME + TIME_STEP/2 - h > 0
    >>> settled_relation(TIME > 3)
    TIME > 3
    """
    fixed = _fixed_point(relation)
    if fixed is not None:
        return fixed
    difference = relation.func(relation.lhs - relation.rhs, sympy.S.Zero)
    fixed = _fixed_point(difference)
    if fixed is None:  # not seen: sympy settles a comparison with zero in two rounds
        raise UnsettledConditionError(f"the condition {relation} has no settled form")
    return fixed


def settled(condition: sympy.Basic) -> sympy.Basic:
    """``condition`` with each of its relations settled (:func:`settled_relation`)."""
    if not isinstance(condition, Boolean) or isinstance(condition, sympy.Expr):
        return condition
    relations = condition.atoms(Relational)
    if not relations:
        return condition
    if isinstance(condition, Relational) and len(relations) == 1:
        return settled_relation(condition)
    return condition.xreplace({r: settled_relation(r) for r in relations})


def piecewise(*pieces: tuple[sympy.Basic, sympy.Basic]) -> sympy.Expr:
    """``sympy.Piecewise(*pieces)`` with every condition settled first."""
    return sympy.Piecewise(*((value, settled(condition)) for value, condition in pieces))


def rebuilt(expr: sympy.Basic, args: Iterable[sympy.Basic]) -> sympy.Basic:
    """``expr.func(*args)``; a ``Piecewise`` settles its new conditions first (its ``args`` are
    ``(value, condition)`` pairs)."""
    if isinstance(expr, sympy.Piecewise):
        return piecewise(*((value, condition) for value, condition in args))
    return expr.func(*args)


def substituted(expr: sympy.Basic, replacements: Mapping[sympy.Basic, sympy.Basic]) -> sympy.Basic:
    """``expr.xreplace(replacements)``, rebuilding with :func:`rebuilt`.

    >>> a, b = sympy.symbols("a b")
    >>> substituted(piecewise((a, a > 1), (b, True)), {a: b - 1})
    Piecewise((b - 1, b > 2), (b, True))
    """
    if expr in replacements:
        return replacements[expr]
    if not expr.args:
        return expr
    args = [substituted(a, replacements) for a in expr.args]
    if all(new is old for new, old in zip(args, expr.args, strict=True)):
        return expr
    return rebuilt(expr, args)
