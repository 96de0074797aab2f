"""Long chains and deep nesting in equations.

A sum or product of thousands of terms is a legitimate equation (imported models have them), but
Python's parser builds it as a left-nested tree as deep as it is long, and refuses to build a tree
deeper than about 3,000 levels. :func:`regroup_chains` therefore rewrites every chain of more
than :data:`CHAIN` terms, at the level of tokens, into parenthesised groups of at most
:data:`CHAIN` terms (``a - b + c`` -> ``(a) + (0 - b + c)``): the same value, a tree as deep as
the logarithm of its length. Translation then reads each group as one n-ary operation
(:func:`chain`).

Anything else nested deeply (``-(-(-x))``, ``a ** b ** c ...``, ``IF_THEN_ELSE`` in
``IF_THEN_ELSE``) is measured by :func:`nesting_depth` without recursion and refused beyond
:data:`MAX_DEPTH`, before any recursive walk of the tree.
"""

from __future__ import annotations

import ast
import bisect
import io
import keyword
import tokenize
from dataclasses import dataclass

#: Most terms of a sum (or factors of a product) parsed as one flat group.
CHAIN = 64
#: Deepest nesting of an equation, counting a chain of + and - (or of * and /) as one level.
MAX_DEPTH = 50

_SUM = (ast.Add, ast.Sub)
_PRODUCT = (ast.Mult, ast.Div)
_OPEN, _CLOSE = "([{", ")]}"
# Tokens that bind less tightly than + and -: a chain never runs across them.
_SEPARATORS = frozenset(
    {
        ",",
        ":",
        ";",
        "=",
        ":=",
        "->",
        "<",
        ">",
        "<=",
        ">=",
        "==",
        "!=",
        "|",
        "^",
        "&",
        "<<",
        ">>",
        "<>",
    }
)
_VALUE_WORDS = frozenset({"True", "False", "None"})


@dataclass(frozen=True, slots=True)
class Regrouped:
    """A source with parentheses inserted, and where they were (to map columns back)."""

    source: str
    #: ``(position in source, characters inserted there)``, in order
    insertions: tuple[tuple[int, int], ...] = ()

    def original_column(self, column: int) -> int:
        """The 0-based column in the original text of ``column`` in :attr:`source`."""
        starts = [position for position, _ in self.insertions]
        shift, index = 0, bisect.bisect_right(starts, column)
        for _, length in self.insertions[:index]:
            shift += length
        return max(column - shift, 0)


def regroup_chains(source: str) -> Regrouped:
    """``source`` with every chain of more than :data:`CHAIN` terms grouped in parentheses.

    Examples
    --------
    >>> text = regroup_chains(" + ".join(f"x{i}" for i in range(CHAIN + 2))).source
    >>> text[:12], text[-23:]
    ('(x0 + x1 + x', 'x63 ) + (0 + x64 + x65)')
    >>> regroup_chains("a - b").source
    'a - b'
    """
    if sum(source.count(c) for c in "+-*/") <= CHAIN:
        return Regrouped(source)
    try:
        tokens = [
            t
            for t in tokenize.generate_tokens(io.StringIO(source).readline)
            if t.type not in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER)
        ]
    except (tokenize.TokenError, SyntaxError):
        return Regrouped(source)  # the parser reports what is wrong
    if any(
        t.type not in (tokenize.NAME, tokenize.NUMBER, tokenize.OP, tokenize.STRING) for t in tokens
    ):
        return Regrouped(source)
    inserts: dict[int, str] = {}
    for level in _levels(tokens):
        for segment in _segments(level):
            _group_sum(segment, inserts)
    if not inserts:
        return Regrouped(source)
    pieces, insertions, done, added = [], [], 0, 0
    for position in sorted(inserts):
        pieces += [source[done:position], inserts[position]]
        insertions.append((position + added, len(inserts[position])))
        added += len(inserts[position])
        done = position
    pieces.append(source[done:])
    return Regrouped("".join(pieces), tuple(insertions))


def _levels(tokens: list[tokenize.TokenInfo]) -> list[list[tokenize.TokenInfo]]:
    """The tokens of each bracket level, in order: a bracket belongs to the level around it."""
    levels: list[list[tokenize.TokenInfo]] = []
    stack: list[list[tokenize.TokenInfo]] = [[]]
    for token in tokens:
        if token.type == tokenize.OP and token.string in _CLOSE and len(stack) > 1:
            levels.append(stack.pop())
        stack[-1].append(token)
        if token.type == tokenize.OP and token.string in _OPEN:
            stack.append([])
    return levels + stack


def _segments(level: list[tokenize.TokenInfo]) -> list[list[tokenize.TokenInfo]]:
    """The runs of a level between tokens that bind less tightly than + and -."""
    segments: list[list[tokenize.TokenInfo]] = [[]]
    for token in level:
        if (token.type == tokenize.OP and token.string in _SEPARATORS) or (
            token.type == tokenize.NAME
            and keyword.iskeyword(token.string)
            and token.string not in _VALUE_WORDS
        ):
            segments.append([])
        else:
            segments[-1].append(token)
    return [s for s in segments if s]


def _ends_operand(token: tokenize.TokenInfo | None) -> bool:
    if token is None:
        return False
    if token.type == tokenize.OP:
        return token.string in _CLOSE
    return token.type in (tokenize.NUMBER, tokenize.STRING, tokenize.NAME)


def _split(
    segment: list[tokenize.TokenInfo], operators: str
) -> tuple[list[list[tokenize.TokenInfo]], list[tokenize.TokenInfo]]:
    """The operands of ``segment`` between binary ``operators``, and those operators."""
    parts: list[list[tokenize.TokenInfo]] = [[]]
    between: list[tokenize.TokenInfo] = []
    previous = None
    for token in segment:
        if (
            token.type == tokenize.OP
            and token.string in operators.split()
            and _ends_operand(previous)
        ):
            between.append(token)
            parts.append([])
        else:
            parts[-1].append(token)
        previous = token
    return parts, between


def _group_sum(segment: list[tokenize.TokenInfo], inserts: dict[int, str]) -> None:
    terms, operators = _split(segment, "+ -")
    if any(not term for term in terms):
        return  # malformed: left to the parser
    if len(terms) > CHAIN:
        _group(terms, operators, "0", "+", inserts)
    for term in terms:
        factors, products = _split(term, "* / % // @")
        if (
            len(factors) > CHAIN
            and all(factors)
            and all(op.string in ("*", "/") for op in products)
        ):
            _group(factors, products, "1", "*", inserts)


def _group(
    operands: list[list[tokenize.TokenInfo]],
    operators: list[tokenize.TokenInfo],
    neutral: str,
    join: str,
    inserts: dict[int, str],
) -> None:
    """Insert the parentheses that group ``operands`` in blocks of :data:`CHAIN`, then blocks of
    blocks: at an operator that starts a block of level ``l``, close ``l`` groups and open ``l``
    new ones starting from the neutral element, so ``a - b`` becomes ``(a) + (0 - b)``."""
    levels, span = 0, 1
    while span * CHAIN < len(operands):
        levels, span = levels + 1, span * CHAIN
    start, end = operands[0][0].start[1], operands[-1][-1].end[1]
    inserts[start] = inserts.get(start, "") + "(" * levels
    for index, operator in enumerate(operators, start=1):
        level, size = 0, CHAIN
        while level < levels and index % size == 0:
            level, size = level + 1, size * CHAIN
        if level:
            position = operator.start[1]
            boundary = f"{')' * level} {join} {'(' * level}{neutral} "
            inserts[position] = inserts.get(position, "") + boundary
    inserts[end] = ")" * levels + inserts.get(end, "")


def chain(node: ast.BinOp) -> list[tuple[ast.operator | None, ast.expr]]:
    """The operands of the chain of + and - (or * and /) that ``node`` ends, first to last,
    each with the operator before it (``None`` for the first); read without recursion."""
    family = _SUM if isinstance(node.op, _SUM) else _PRODUCT
    operands: list[tuple[ast.operator | None, ast.expr]] = []
    current: ast.expr = node
    while isinstance(current, ast.BinOp) and isinstance(current.op, family):
        operands.append((current.op, current.right))
        current = current.left
    operands.append((None, current))
    return operands[::-1]


def nesting_depth(tree: ast.AST) -> int:
    """The depth of ``tree``, counting a chain of + and - (or of * and /) as one level; measured
    without recursion, so any tree the parser builds can be measured.

    >>> nesting_depth(ast.parse("a + b + c + d", mode="eval").body)
    2
    >>> nesting_depth(ast.parse("-(-(-a))", mode="eval").body)
    4
    """
    deepest = 0
    stack: list[tuple[ast.AST, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(node, ast.BinOp) and isinstance(node.op, _SUM + _PRODUCT):
            stack.extend((operand, depth + 1) for _, operand in chain(node))
            continue
        stack.extend(
            (child, depth + 1)
            for child in ast.iter_child_nodes(node)
            if not isinstance(child, ast.expr_context)
        )
    return deepest
