"""Equations of imported models: PySD's abstract syntax -> pssc_sim equation text.

Each node of the syntax tree PySD's translators build is written as text in pssc_sim's equation
language (Python arithmetic and the builtins of :mod:`pssc_sim.ir.builtins`), fully
parenthesised so that Vensim's precedence survives. The text is then read by the same validating
parser as a hand-written model, so an imported model and its converted YAML file are one thing.

A node with no pssc_sim counterpart raises :class:`~pssc_sim.errors.ModelError` naming the
variable and the construct; nothing is dropped silently.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from pssc_sim.errors import ModelError

# Comparison and logic operators of Vensim (``:AND:``) and XMILE (``and``), in Python.
_LOGIC = {":AND:": "and", "and": "and", ":OR:": "or", "or": "or"}
_COMPARE = {"=": "==", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_ARITHMETIC = {"+": "+", "-": "-", "*": "*", "/": "/", "^": "**"}

# Builtins called with the same arguments in Vensim, XMILE and pssc_sim.
_SAME = {
    "abs": "ABS",
    "exp": "EXP",
    "ln": "LN",
    "log": "LOG",
    "sqrt": "SQRT",
    "sin": "SIN",
    "cos": "COS",
    "tan": "TAN",
    "arctan": "ARCTAN",
    "arcsin": "ARCSIN",
    "arccos": "ARCCOS",
    "integer": "INTEGER",
    "xidz": "XIDZ",
    "zidz": "ZIDZ",
    "step": "STEP",
    "ramp": "RAMP",
    "Xramp": "RAMP",
    "pulse": "PULSE",
    "min": "MIN",
    "max": "MAX",
    "if_then_else": "IF_THEN_ELSE",
    "power": "POWER",
    "sum": "SUM",
    "prod": "PROD",
    "vmin": "VMIN",
    "vmax": "VMAX",
    "vmin_xmile": "VMIN",
    "vmax_xmile": "VMAX",
    "vector_select": "VECTOR_SELECT",
    "random_0_1": "RANDOM_0_1",
    "random_uniform": "RANDOM_UNIFORM",
    "random_normal": "RANDOM_NORMAL",
    "random_exponential": "RANDOM_EXPONENTIAL",
    "random_pink_noise": "RANDOM_PINK_NOISE",
    "random_gamma": "RANDOM_GAMMA",
    "random_beta": "RANDOM_BETA",
    "random_weibull": "RANDOM_WEIBULL",
    "random_poisson": "RANDOM_POISSON",
    "random_binomial": "RANDOM_BINOMIAL",
    "random_negative_binomial": "RANDOM_NEGATIVE_BINOMIAL",
    "random_triangular": "RANDOM_TRIANGULAR",
    "gamma_ln": "GAMMA_LN",
    "npv": "NPV",
    "depreciate_straightline": "DEPRECIATE_STRAIGHTLINE",
    "vector_sort_order": "VECTOR_SORT_ORDER",
    "vector_rank": "VECTOR_RANK",
    "vector_reorder": "VECTOR_REORDER",
    "invert_matrix": "INVERT_MATRIX",
}


class Scope(Protocol):
    """Resolves the names an equation refers to."""

    def reference(self, key: str, *, initial: bool) -> str | None:
        """The text standing for the variable ``key``, or ``None`` when it is not defined."""

    def lookup(self, key: str) -> str | None:
        """The identifier of the lookup ``key``, or ``None``."""

    def table(self, key: str) -> Any:
        """The points of the (not subscripted) lookup ``key`` as the translator read them, or
        ``None``."""

    def ranges(self, key: str) -> Sequence[str] | None:
        """The subscript ranges (keys) of the arrayed variable ``key``, or ``None``."""


@dataclass(slots=True)
class Context:
    """Where an equation is being written: for whom, in which scope, and in which mode.

    ``initial`` is true while writing an expression evaluated once at initialisation (a stock's
    initial value, the initial value of a delay or smooth): ACTIVE INITIAL variables then stand
    for their initial expression.
    """

    where: str
    owner: str
    scope: Scope
    inline_lookup: Callable[[str, Any], str]
    call_macro: Callable[[Context, str, Sequence[Any]], str | None]
    fixed_order: Callable[[Context, Any, Any], int]
    initial: bool = False
    notes: list[str] = field(default_factory=list)
    arrays: Any = None  # the subscript ranges (parse.translate.arrays.ArrayImport), if any

    def error(self, what: str, fix: str) -> ModelError:
        return ModelError(f"{self.where}: {what}. {fix}")

    def in_initial(self) -> Context:
        return Context(
            self.where,
            self.owner,
            self.scope,
            self.inline_lookup,
            self.call_macro,
            self.fixed_order,
            True,
            self.notes,
            self.arrays,
        )


def number(value: float) -> str:
    """A number as equation text (negative numbers parenthesised)."""
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int):
        text = str(value)
    else:
        as_float = float(value)
        if not math.isfinite(as_float):
            raise ValueError(as_float)
        text = (
            str(int(as_float)) if as_float.is_integer() and abs(as_float) < 1e15 else repr(as_float)
        )
    return f"({text})" if text.startswith("-") else text


def is_number(node: object) -> bool:
    """Whether ``node`` is a plain number in PySD's syntax tree."""
    try:
        float(node)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return not isinstance(node, str)


#: Vensim's :NA: value, -2**109 (PySD's translator reads :NA: as NaN).
NA = -(2.0**109)


def render(node: Any, ctx: Context) -> str:
    """The equation text of one syntax-tree node."""
    if is_number(node):
        if math.isnan(float(node)):
            return number(NA)
        try:
            return number(node)
        except ValueError:
            raise ctx.error(
                f"the number {node} is not finite",
                "Replace :NA: or infinite values with a finite number",
            ) from None
    kind = type(node).__name__
    handler = _HANDLERS.get(kind)
    if handler is None:
        raise ctx.error(
            f"unsupported construct {_construct(kind)}",
            "pssc_sim cannot import it; rewrite the equation without it",
        )
    return handler(node, ctx)


def render_value(node: Any, ctx: Context) -> str:
    """The text of a whole equation: a condition at the top becomes 1 where true, else 0."""
    text = render(node, ctx)
    if type(node).__name__ == "LogicStructure":
        return f"IF_THEN_ELSE({text}, 1, 0)"
    return text


def _construct(kind: str) -> str:
    names = {
        "DataStructure": "a data variable",
        "GetDataStructure": "GET DATA",
        "GetLookupsStructure": "GET LOOKUPS",
        "GetConstantsStructure": "GET CONSTANTS",
        "AllocateAvailableStructure": "ALLOCATE AVAILABLE",
        "AllocateByPriorityStructure": "ALLOCATE BY PRIORITY",
        "SubscriptsReferenceStructure": "subscripts",
        "str": "a text value",
    }
    return f"'{names.get(kind, kind.removesuffix('Structure'))}'"


def _reference(node: Any, ctx: Context) -> str:
    if ctx.arrays is not None and ctx.arrays.is_range(node.reference):
        return str(ctx.arrays.range_value(node.reference))
    if node.subscripts is not None and ctx.arrays is not None:
        base = _reference(type(node)(node.reference, None), ctx)
        alias = ctx.arrays.alias(base, node.subscripts.subscripts)
        if alias is not None:
            return str(alias)
        written = _summed_over(node, ctx)
        parts = ", ".join(ctx.arrays.subscript(s) for s in written)
        return f"{base}[{parts}]"
    if node.subscripts is not None:
        raise ctx.error(
            f"unsupported construct 'subscripts' (got {node.reference}"
            f"{list(node.subscripts.subscripts)})",
            "Subscripted models are not "
            "supported yet; flatten the subscripts into separate variables",
        )
    key = node.reference
    special = _SPECIAL.get(key.lower())
    if special is not None and key.lower() in _CONTROLS:
        # a control variable given by an equation over time is a variable of the model
        special = ctx.scope.reference(key, initial=ctx.initial) or special
    if special is not None:
        return special
    text = ctx.scope.reference(key, initial=ctx.initial)
    if text is None and ctx.arrays is not None and ctx.arrays.is_element(key):
        return str(ctx.arrays.element_value(key))
    if text is None:
        if ctx.scope.lookup(key) is not None:
            raise ctx.error(
                f"the lookup '{key}' is used as a value", "Call the lookup with an input"
            )
        raise ctx.error(f"unknown name '{key}'", "Define the variable in the model")
    return text


def _summed_over(node: Any, ctx: Context) -> list[str]:
    """The subscripts of a reference, a range summed out (``g[DimA!]``) narrowed to the
    variable's own range where that holds only some of its elements."""
    written = [str(s) for s in node.subscripts.subscripts]
    if not any(s.endswith("!") for s in written):
        return written
    own = ctx.scope.ranges(node.reference)
    if own is None or len(own) != len(written):
        return written
    return [
        ctx.arrays.summed_range(s, dim) if s.endswith("!") else s
        for s, dim in zip(written, own, strict=True)
    ]


_CONTROLS = ("time_step", "initial_time", "final_time")
_SPECIAL = {
    "time": "TIME",
    "time_step": "TIME_STEP",
    "initial_time": "INITIAL_TIME",
    "final_time": "FINAL_TIME",
    "dt": "TIME_STEP",
    "starttime": "INITIAL_TIME",
    "stoptime": "FINAL_TIME",
    "pi": number(math.pi),
}


def _arithmetic(node: Any, ctx: Context) -> str:
    args = [render(a, ctx) for a in node.arguments]
    operators = list(node.operators)
    if operators == ["negative"]:
        return f"(-{args[0]})"
    if operators == ["positive"]:
        return args[0]
    if len(operators) != len(args) - 1:
        raise ctx.error(f"unsupported operators {operators}", "Rewrite the equation")
    text = args[0]
    first = node.arguments[0]
    if operators[0] == "^" and is_number(first) and float(first) < 0:
        # The translator reads '-2^2' as (-2)^2; in Vensim the minus binds looser: -(2^2).
        text = f"(-{number(-float(first))} ** {args[1]})"
        operators, args = operators[1:], [text, *args[2:]]
    if len(operators) > 1 and set(operators) == {"^"}:
        # a chain of powers groups from the right, as in Vensim: 4^3^2 is 4^(3^2)
        text = args[-1]
        for arg in reversed(args[:-1]):
            text = f"({arg} ** {text})"
        return text
    symbols = [_ARITHMETIC.get(op) for op in operators]
    for op, symbol in zip(operators, symbols, strict=True):
        if symbol is None:
            raise ctx.error(f"unsupported operator '{op}'", "Rewrite the equation")
    if set(symbols) <= {"+", "-"} or set(symbols) <= {"*", "/"}:
        # one flat chain, which groups from the left as the nested form would: a sum of
        # thousands of terms stays a chain the equation parser reads (not thousands of brackets)
        return (
            "("
            + text
            + "".join(f" {symbol} {arg}" for symbol, arg in zip(symbols, args[1:], strict=True))
            + ")"
        )
    for symbol, arg in zip(symbols, args[1:], strict=True):
        text = f"({text} {symbol} {arg})"
    return text


def _logic(node: Any, ctx: Context) -> str:
    args = [render(a, ctx) for a in node.arguments]
    operators = list(node.operators)
    if operators and operators[0] in (":NOT:", "not"):
        return f"(not {args[0]})"
    text = args[0]
    for op, arg in zip(operators, args[1:], strict=True):
        symbol = _COMPARE.get(op) or _LOGIC.get(op)
        if symbol is None:
            raise ctx.error(f"unsupported operator '{op}'", "Rewrite the equation")
        text = f"({text} {symbol} {arg})"
    return text


def _call(node: Any, ctx: Context) -> str:
    name = node.function.reference
    args: Sequence[Any] = node.arguments
    if name == "active_initial":
        return render(args[1] if ctx.initial else args[0], ctx)
    if name in ("lookup_forward", "lookup_backward"):
        return _stepped_lookup(name, args, ctx)
    if name == "vector_elm_map":
        return _element_map(args, ctx)
    if name == "random_lookup":
        return _random_lookup(args, ctx)
    if name in ("find_market_price", "demand_at_price", "supply_at_price"):
        return _market(name, args, ctx)
    if name == "previous" and len(args) in (1, 2):
        # Stella's PREVIOUS(x, initial): x one time step ago, the initial value (x's own
        # when not given) at the start
        initial = render(args[-1], ctx.in_initial())
        return f"DELAY_FIXED({render(args[0], ctx)}, TIME_STEP, {initial})"
    if name == "get_time_value":
        return _time_value(args, ctx)
    if name == "size" and len(args) == 1 and ctx.arrays is not None:
        # Stella's SIZE(array): how many elements it has
        return f"SUM({ctx.arrays.reduce_all(f'0 * {render(args[0], ctx)} + 1')})"
    lookup = ctx.scope.lookup(name)
    if lookup is not None:
        if len(args) != 1:
            raise ctx.error(
                f"the lookup '{name}' is called with {len(args)} arguments",
                "Call a lookup with one input",
            )
        subscripts = node.function.subscripts
        if subscripts is not None and ctx.arrays is not None:
            parts = ", ".join(ctx.arrays.subscript(str(s)) for s in subscripts.subscripts)
            return f"{lookup}[{parts}]({render(args[0], ctx)})"
        return f"{lookup}({render(args[0], ctx)})"
    table = ctx.scope.table(name)
    if table is not None and len(args) == 1:
        # a variable given by a graphical function of its input, called with another input
        return f"{ctx.inline_lookup(ctx.owner, table)}({render(args[0], ctx)})"
    expanded = ctx.call_macro(ctx, name, args)
    if expanded is not None:
        return expanded
    if name in ("vmin_xmile", "vmax_xmile") and ctx.arrays is not None and len(args) == 1:
        # XMILE's MIN(array) and MAX(array) run over every dimension of the argument
        return f"{_SAME[name]}({ctx.arrays.reduce_all(render(args[0], ctx))})"
    if (
        name == "elmcount"
        and ctx.arrays is not None
        and args
        and type(args[0]).__name__ == "ReferenceStructure"
    ):
        return f"ELMCOUNT({ctx.arrays.range_ident(args[0].reference)})"
    special = _CALLS.get(name)
    if special is not None:
        return special([render(a, ctx) for a in args])
    builtin = _SAME.get(name)
    if builtin is None:
        raise ctx.error(
            f"unsupported construct 'function {name.upper()}'",
            "pssc_sim has no such builtin; rewrite the equation without it",
        )
    return f"{builtin}({', '.join(render(a, ctx) for a in args)})"


def _time_value(args: Sequence[Any], ctx: Context) -> str:
    """``GET TIME VALUE(0, offset, 0)``: the simulation time moved by ``offset``, in units of
    Time (Vensim's Functions reference). The other references (the initial time, the computer's
    clock) and measures (calendar years, months, days ...) are refused: a run must repeat."""
    fixed = (
        [float(a) if is_number(a) else None for a in (args[0], args[2])] if len(args) == 3 else []
    )
    if fixed != [0.0, 0.0]:
        shown = ", ".join(str(a) for a in args)
        raise ctx.error(
            f"unsupported construct 'GET TIME VALUE other than of the simulation time in "
            f"units of Time' (got GET TIME VALUE({shown}))",
            "Use GET TIME VALUE(0, offset, 0), or Time",
        )
    return f"(TIME + {render(args[1], ctx)})"


def _stepped_lookup(name: str, args: Sequence[Any], ctx: Context) -> str:
    """``LOOKUP BACKWARD(table, x)`` holds the y of the last point at or before x, ``LOOKUP
    FORWARD(table, x)`` takes the y of the first point at or after x (Vensim's Lookups
    reference); both hold the end values outside the table. Each becomes a hidden stepped
    lookup: the table itself for BACKWARD, and for FORWARD its y values each moved to just
    after the previous point (``nextafter``), so that x in (x[i-1], x[i]] reads y[i]."""
    function = name.upper().replace("_", " ")
    if len(args) != 2 or type(args[0]).__name__ != "ReferenceStructure":
        raise ctx.error(
            f"{function} takes a lookup and an input (got {len(args)} arguments)",
            f"Write {function}(table, x)",
        )
    table = ctx.scope.table(args[0].reference)
    if table is None:
        raise ctx.error(
            f"unsupported construct '{function} of {args[0].reference}': not a "
            "lookup without subscripts",
            "Name a lookup defined by its points",
        )
    xs = [float(v) for v in table.x]
    ys = [float(v) for v in table.y]
    if name == "lookup_forward":
        xs = [xs[0], *(math.nextafter(x, math.inf) for x in xs[:-1])]
    stepped = dataclasses.replace(table, x=tuple(xs), y=tuple(ys), type="hold_backward")
    lookup = ctx.inline_lookup(ctx.owner, stepped)
    return f"{lookup}({render(args[1], ctx)})"


#: Parts each segment of a RANDOM LOOKUP table is cut into for its cumulative distribution.
RANDOM_LOOKUP_PARTS = 64


def lookup_distribution(
    xs: Sequence[float], ys: Sequence[float]
) -> tuple[list[float], list[float]]:
    """Points ``(x, F(x))`` of the cumulative distribution whose density is the lookup through
    ``(xs, ys)`` (linear between points, zero outside), normalised to 1: exact at every point
    and at ``RANDOM_LOOKUP_PARTS`` points within each segment.

    >>> lookup_distribution([0, 2], [1, 1])[1][::32]
    [0.0, 0.5, 1.0]
    """
    px, pf = [float(xs[0])], [0.0]
    for x0, x1, y0, y1 in zip(xs, xs[1:], ys, ys[1:], strict=False):
        width, base = float(x1) - float(x0), pf[-1]
        for k in range(1, RANDOM_LOOKUP_PARTS + 1):
            s = width * k / RANDOM_LOOKUP_PARTS
            # the area under the density from x0 to x0 + s (linear from y0 to y1 over width)
            area = y0 * s + (y1 - y0) * s * s / (2 * width) if width > 0 else 0.0
            px.append(float(x0) + s)
            pf.append(base + area)
    total = pf[-1]
    return px, [f / total for f in pf]


def _random_lookup(args: Sequence[Any], ctx: Context) -> str:
    """``RANDOM LOOKUP(table, min, max, shift, stretch, seed)``: a draw from the distribution
    whose density is the table (Vensim's Random functions reference), multiplied by ``stretch``,
    shifted by ``shift`` and conditioned on ``[min, max]`` as the other random functions are:
    the uniform draw of RANDOM UNIFORM between the cumulative distribution's values at the
    ends, through its inverse. Both are hidden lookups: the cumulative distribution is exact at
    the table's points and at 64 points within each segment, linear between them."""
    table = ctx.scope.table(args[0].reference) if args and _is_reference(args[0]) else None
    if len(args) != 6 or table is None:
        raise ctx.error(
            f"unsupported construct 'RANDOM LOOKUP other than of a lookup without subscripts' "
            f"(got {len(args)} arguments)",
            "Write RANDOM LOOKUP(table, min, max, shift, stretch, seed) with a table defined by "
            "its points",
        )
    xs = [float(v) for v in table.x]
    ys = [float(v) for v in table.y]
    increasing = all(b > a for a, b in itertools.pairwise(xs))
    if len(xs) < 2 or min(ys) < 0 or not sum(ys) > 0 or not increasing:
        raise ctx.error(
            f"the table of RANDOM LOOKUP is not a density (got x {xs}, y {ys})",
            "Give at least two points in increasing x, no negative y and some positive y",
        )
    px, pf = lookup_distribution(xs, ys)
    # the inverse: F's levels in increasing order; where F is flat (no density) the inverse
    # jumps from the start of the flat part to its end just after that level
    ix, iy = [pf[0]], [px[0]]
    for x, f in zip(px[1:], pf[1:], strict=True):
        if f > ix[-1]:
            ix.append(f)
            iy.append(x)
        elif len(ix) == 1:
            iy[0] = x  # no density before x: the lowest draw is x
        elif x > iy[-1]:
            ix.append(math.nextafter(ix[-1], math.inf))
            iy.append(x)
    cumulative = ctx.inline_lookup(
        ctx.owner, dataclasses.replace(table, x=tuple(px), y=tuple(pf), type="interpolate")
    )
    inverse = ctx.inline_lookup(
        ctx.owner, dataclasses.replace(table, x=tuple(ix), y=tuple(iy), type="interpolate")
    )
    low, high, shift, stretch, seed = (f"({render(a, ctx)})" for a in args[1:])
    scale = f"MAX({stretch}, 1e-300)"
    lowest = f"{cumulative}(({low} - {shift}) / {scale})"
    highest = f"{cumulative}(({high} - {shift}) / {scale})"
    draw = f"{inverse}(RANDOM_UNIFORM({lowest}, {highest}, {seed}))"
    return (
        f"IF_THEN_ELSE({stretch} > 0, {shift} + {stretch} * {draw}, "
        f"MIN(MAX({shift}, {low}), {high}))"
    )


def _is_reference(node: Any) -> bool:
    return type(node).__name__ == "ReferenceStructure" and node.subscripts is None


def _element_map(args: Sequence[Any], ctx: Context) -> str:
    """``VECTOR ELM MAP(x[s1, t1], offset)``: x read at the position of ``[s1, t1]`` plus
    offset, counted over x's ranges in row order (Vensim's Arrays reference). A subscript that is
    a range stands for the element the equation is at."""
    first = args[0] if len(args) == 2 else None
    if (
        first is None
        or type(first).__name__ != "ReferenceStructure"
        or first.subscripts is None
        or ctx.arrays is None
    ):
        raise ctx.error(
            "VECTOR ELM MAP takes a subscripted variable and an offset (got "
            f"{len(args)} arguments)",
            "Write VECTOR ELM MAP(x[first element], offset)",
        )
    arrays = ctx.arrays
    base = _reference(type(first)(first.reference, None), ctx)
    roots, positions = [], []
    for subscript in (str(s) for s in first.subscripts.subscripts):
        root = arrays.root_of(subscript.rstrip("!"))
        roots.append(root)
        if arrays.is_range(subscript):
            positions.append(f"({arrays.range_value(subscript.rstrip('!'))} - 1)")
        else:
            positions.append(str(arrays.element_value(subscript) - 1))
    sizes = [len(arrays.flat[root]) for root in roots]
    terms = [f"{position} * {math.prod(sizes[k + 1 :])}" for k, position in enumerate(positions)]
    marked = ", ".join(f"{arrays.range_ident(arrays.raw[root].name)}!" for root in roots)
    return f"VECTOR_ELM_MAP({base}[{marked}], {' + '.join(terms)} + {render(args[1], ctx)})"


def _pulse_train(a: Sequence[str]) -> str:
    start, interval, width, end = a
    return f"PULSE_TRAIN({start}, {width}, {interval}, {end})"


def _xmile_pulse(a: Sequence[str]) -> str:
    start, magnitude = a
    return f"(PULSE({start}, TIME_STEP / 2) * {magnitude} / TIME_STEP)"


def _xmile_pulse_train(a: Sequence[str]) -> str:
    start, interval, magnitude = a
    single = f"PULSE({start}, TIME_STEP / 2)"
    train = f"PULSE_TRAIN({start}, TIME_STEP / 2, {interval}, FINAL_TIME + TIME_STEP)"
    pulses = single if interval == "0" else f"IF_THEN_ELSE({interval} > 0, {train}, {single})"
    return f"({pulses} * {magnitude} / TIME_STEP)"


def _modulo(a: Sequence[str]) -> str:
    # Vensim's MODULO keeps the sign of the dividend: a - b * INTEGER(a / b).
    x, m = a
    return f"({x} - {m} * INTEGER({x} / {m}))"


_CALLS: Mapping[str, Callable[[Sequence[str]], str]] = {
    "modulo": _modulo,
    "pulse_train": _pulse_train,
    "Xpulse": _xmile_pulse,
    "Xpulse_train": _xmile_pulse_train,
    "pi": lambda a: number(math.pi),
    # QUANTUM as PySD computes it: b * INTEGER(a / b), or a where b is below 1e-6
    "quantum": lambda a: f"IF_THEN_ELSE({a[1]} < 1e-06, {a[0]}, {a[1]} * INTEGER({a[0]} / {a[1]}))",
    "sinh": lambda a: f"((EXP({a[0]}) - EXP(-({a[0]}))) / 2)",
    "cosh": lambda a: f"((EXP({a[0]}) + EXP(-({a[0]}))) / 2)",
    "tanh": lambda a: f"((EXP({a[0]}) - EXP(-({a[0]}))) / (EXP({a[0]}) + EXP(-({a[0]}))))",
}


def _smooth(node: Any, ctx: Context) -> str:
    x, time = render(node.input, ctx), render(node.smooth_time, ctx)
    initial = render(node.initial, ctx.in_initial())
    order = node.order
    if is_number(order) and float(order) in (1.0, 3.0):
        name = "SMOOTHI" if float(order) == 1.0 else "SMOOTH3I"
        return f"{name}({x}, {time}, {initial})"
    return f"SMOOTHN({x}, {time}, {initial}, {ctx.fixed_order(ctx, order, None)})"


def _delay(node: Any, ctx: Context) -> str:
    x, time = render(node.input, ctx), render(node.delay_time, ctx)
    initial = render(node.initial, ctx.in_initial())
    order = node.order
    if type(node).__name__ == "DelayStructure":
        name = "DELAY1I" if float(order) == 1.0 else "DELAY3I"
        return f"{name}({x}, {time}, {initial})"
    # DELAY N fixes its order at initialisation, and, as Vensim does, lowers it until the
    # stage time delay/order is at least one time step: here when the delay time is known
    # before the run, else by the engine once the model is initialised.
    requested = ctx.fixed_order(ctx, order, None)
    try:
        order_value = ctx.fixed_order(ctx, order, node.delay_time)
    except ModelError:  # the delay time is known only once the model is initialised
        return f"DELAYN_PIPELINE({x}, {time}, {initial}, {requested}, TIME_STEP)"
    return f"DELAYN_PIPELINE({x}, {time}, {initial}, {order_value})"


def _delay_fixed(node: Any, ctx: Context) -> str:
    return (
        f"DELAY_FIXED({render(node.input, ctx)}, {render(node.delay_time, ctx)}, "
        f"{render(node.initial, ctx.in_initial())})"
    )


def _trend(node: Any, ctx: Context) -> str:
    return (
        f"TREND({render(node.input, ctx)}, {render(node.average_time, ctx)}, "
        f"{render(node.initial_trend, ctx.in_initial())})"
    )


def _forecast(node: Any, ctx: Context) -> str:
    if not (is_number(node.initial_trend) and float(node.initial_trend) == 0.0):
        raise ctx.error(
            "unsupported construct 'FORECAST with an initial trend'",
            "Use FORECAST(input, average time, horizon)",
        )
    return (
        f"FORECAST({render(node.input, ctx)}, {render(node.average_time, ctx)}, "
        f"{render(node.horizon, ctx)})"
    )


def _sample_if_true(node: Any, ctx: Context) -> str:
    return (
        f"SAMPLE_IF_TRUE({render(node.condition, ctx)}, {render(node.input, ctx)}, "
        f"{render(node.initial, ctx.in_initial())})"
    )


def _initial(node: Any, ctx: Context) -> str:
    return f"INITIAL({render(node.initial, ctx.in_initial())})"


def _inline_lookup(node: Any, ctx: Context) -> str:
    name = ctx.inline_lookup(ctx.owner, node.lookups)
    return f"{name}({render(node.argument, ctx)})"


def _allocate_by_priority(node: Any, ctx: Context) -> str:
    # Vensim's size argument is the number of requesters, which the dims already give
    args = [render(a, ctx) for a in (node.request, node.priority, node.width, node.supply)]
    return f"ALLOCATE_BY_PRIORITY({', '.join(args)})"


def _allocate_available(node: Any, ctx: Context) -> str:
    """``ALLOCATE AVAILABLE(request, pp[..., ptype], avail)``: the priority profile is passed at
    the first element of its range (Vensim's Allocation reference), and read over the whole
    range, which becomes a marked dimension."""
    pp = node.pp
    if (
        type(pp).__name__ != "ReferenceStructure"
        or pp.subscripts is None
        or ctx.arrays is None
        or len(pp.subscripts.subscripts) < 2
    ):
        raise ctx.error(
            "ALLOCATE AVAILABLE takes the priority profiles as a variable subscripted by "
            "the requesters and the first element of the profile range (got "
            f"{getattr(pp, 'reference', pp)})",
            "Write ALLOCATE AVAILABLE(request[branch], priority[branch, ptype], supply)",
        )
    arrays = ctx.arrays
    subscripts = [str(s) for s in pp.subscripts.subscripts]
    first = subscripts[-1]
    root = arrays.root_of(first)
    if arrays.is_range(first) or arrays.element_value(first) != 1:
        raise ctx.error(
            "ALLOCATE AVAILABLE reads the priority profile from the first element of its "
            f"range (got {pp.reference}[{', '.join(subscripts)}])",
            f"Subscript the profiles by the first element of {arrays.raw[root].name}",
        )
    base = _reference(type(pp)(pp.reference, None), ctx)
    parts = [arrays.subscript(s) for s in subscripts[:-1]]
    parts.append(f"{arrays.range_ident(arrays.raw[root].name)}!")
    request, supply = render(node.request, ctx), render(node.avail, ctx)
    return f"ALLOCATE_AVAILABLE({request}, {base}[{', '.join(parts)}], {supply})"


def _whole_ranges(node: Any, marked: int, ctx: Context, function: str, usage: str) -> str:
    """``x[..., e1, p1]`` passed at the first elements ``e1, p1`` of ranges, as Vensim's
    allocation functions take whole ranges: ``x[..., range!, profile!]``."""
    subscripts = (
        [str(s) for s in node.subscripts.subscripts]
        if type(node).__name__ == "ReferenceStructure" and node.subscripts is not None
        else []
    )
    arrays = ctx.arrays
    if arrays is None or len(subscripts) < marked:
        raise ctx.error(
            f"{function} takes subscripted variables passed at the first element of each range "
            f"it runs over (got {getattr(node, 'reference', None) or 'an expression'})",
            usage,
        )
    parts = [arrays.subscript(s) for s in subscripts[: len(subscripts) - marked]]
    for first in subscripts[len(subscripts) - marked :]:
        if arrays.is_range(first) or arrays.element_value(first) != 1:
            raise ctx.error(
                f"{function} reads whole ranges from their first element (got "
                f"{node.reference}[{', '.join(subscripts)}])",
                usage,
            )
        root = arrays.root_of(first)
        parts.append(f"{arrays.range_ident(arrays.raw[root].name)}!")
    base = _reference(type(node)(node.reference, None), ctx)
    return f"{base}[{', '.join(parts)}]"


def _market(name: str, args: Sequence[Any], ctx: Context) -> str:
    """``FIND MARKET PRICE(dq[d1], dp[d1, ptype], sq[s1], sp[s1, ptype])``, each argument at
    the first elements of its ranges (Vensim's Allocation reference); ``DEMAND AT PRICE(q[d],
    pp[d, ptype], price)`` and ``SUPPLY AT PRICE``, whose profiles are passed at ``ptype``."""
    function = name.upper().replace("_", " ")
    if name == "find_market_price":
        usage = (
            "Write FIND MARKET PRICE(demand[d1], demand profile[d1, ptype], supply[s1], "
            "supply profile[s1, ptype])"
        )
        if len(args) != 4:
            raise ctx.error(f"{function} takes 4 arguments (got {len(args)})", usage)
        rendered = [
            _whole_ranges(a, marked, ctx, function, usage)
            for a, marked in zip(args, (1, 2, 1, 2), strict=True)
        ]
        return f"FIND_MARKET_PRICE({', '.join(rendered)})"
    usage = f"Write {function}(quantity[d], profile[d, ptype], price)"
    if len(args) != 3:
        raise ctx.error(f"{function} takes 3 arguments (got {len(args)})", usage)
    profiles = _whole_ranges(args[1], 1, ctx, function, usage)
    return f"{name.upper()}({render(args[0], ctx)}, {profiles}, {render(args[2], ctx)})"


def _integ(node: Any, ctx: Context) -> str:
    raise ctx.error(
        "unsupported construct 'INTEG inside an expression'", "Give the stock its own variable"
    )


_HANDLERS: Mapping[str, Callable[[Any, Context], str]] = {
    "ReferenceStructure": _reference,
    "ArithmeticStructure": _arithmetic,
    "LogicStructure": _logic,
    "CallStructure": _call,
    "GameStructure": lambda node, ctx: render(node.expression, ctx),
    "SmoothStructure": _smooth,
    "SmoothNStructure": _smooth,
    "DelayStructure": _delay,
    "DelayNStructure": _delay,
    "DelayFixedStructure": _delay_fixed,
    "TrendStructure": _trend,
    "ForecastStructure": _forecast,
    "SampleIfTrueStructure": _sample_if_true,
    "InitialStructure": _initial,
    "InlineLookupsStructure": _inline_lookup,
    "IntegStructure": _integ,
    "AllocateByPriorityStructure": _allocate_by_priority,
    "AllocateAvailableStructure": _allocate_available,
}


def signed_terms(node: Any) -> list[tuple[int, Any]]:
    """The top-level terms of a sum, with their signs: ``a - b + c`` -> +a, -b, +c."""
    kind = type(node).__name__
    if kind == "ArithmeticStructure":
        operators = list(node.operators)
        if operators == ["negative"]:
            return [(-sign, term) for sign, term in signed_terms(node.arguments[0])]
        if operators and all(op in ("+", "-") for op in operators):
            terms = signed_terms(node.arguments[0])
            for op, argument in zip(operators, node.arguments[1:], strict=True):
                sign = 1 if op == "+" else -1
                terms += [(sign * s, t) for s, t in signed_terms(argument)]
            return terms
    return [(1, node)]
