"""hypothesis strategies shared by the property tests: random models and random equations."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

#: Parameters every random equation may use, with the range their values are drawn from.
EQUATION_PARAMETERS = ("a", "b", "c")
# Tiny values are rounded to zero: their squares underflow in floating point but not in sympy,
# whose exponent range is wider.
PARAMETER_VALUES = st.floats(-4.0, 4.0, allow_nan=False, allow_infinity=False).map(
    lambda v: 0.0 if abs(v) < 1e-6 else v)


@dataclass(frozen=True)
class LinearModel:
    """A closed model: stocks and first-order flows ``k * source`` between them."""

    initials: tuple[float, ...]
    flows: tuple[tuple[int, int, float], ...]  # (source, target, k)
    dt: float

    @property
    def total(self) -> float:
        return sum(self.initials)

    def yaml(self) -> str:
        stocks = "\n".join(f"  s{i}: {value!r}" for i, value in enumerate(self.initials))
        flows = "\n".join(f"  f{j}: {{from: s{a}, to: s{b}, rate: {k!r} * s{a}}}"
                          for j, (a, b, k) in enumerate(self.flows))
        return (f"time: {{start: 0, stop: 5, dt: {self.dt!r}}}\nstocks:\n{stocks}\n"
                + (f"flows:\n{flows}\n" if flows else ""))


@st.composite
def closed_linear_models(draw: st.DrawFn) -> LinearModel:
    """Random stocks (2 to 5) and flows between distinct stocks with rate ``k * source``."""
    n = draw(st.integers(2, 5))
    initials = tuple(draw(st.lists(st.floats(0.0, 1e3, allow_subnormal=False), min_size=n,
                                   max_size=n)))
    pair = st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)).filter(lambda p: p[0] != p[1])
    flows = draw(st.lists(st.tuples(pair, st.floats(0.0, 1.0, allow_subnormal=False)),
                          min_size=1, max_size=8))
    dt = draw(st.sampled_from([0.0625, 0.125, 0.25]))
    return LinearModel(initials, tuple((a, b, k) for (a, b), k in flows), dt)


@st.composite
def outflow_chains(draw: st.DrawFn) -> tuple[list[float], list[float], float]:
    """Initial stocks, first-order outflow times ``tau`` and a ``dt`` shorter than every tau.

    Each stock drains into the next (the last into a cloud) at ``stock / tau``.
    """
    n = draw(st.integers(1, 4))
    initials = draw(st.lists(st.floats(0.0, 1e4, allow_subnormal=False), min_size=n, max_size=n))
    taus = draw(st.lists(st.floats(0.05, 50.0), min_size=n, max_size=n))
    fraction = draw(st.floats(0.01, 0.999))
    return initials, taus, fraction * min(taus)


def outflow_chain_yaml(initials: list[float], taus: list[float], dt: float) -> str:
    """The model of :func:`outflow_chains`: stock ``s_i`` drains into ``s_{i+1}``."""
    n = len(initials)
    stocks = "\n".join(f"  s{i}: {{initial: {v!r}}}" for i, v in enumerate(initials))
    flows = []
    for i, tau in enumerate(taus):
        target = f", to: s{i + 1}" if i + 1 < n else ""
        flows.append(f"  f{i}: {{from: s{i}{target}, rate: s{i} / {tau!r}}}")
    return (f"time: {{start: 0, stop: {40 * dt!r}, dt: {dt!r}}}\nstocks:\n{stocks}\n"
            "flows:\n" + "\n".join(flows) + "\n")


# -- equations --------------------------------------------------------------------------------

# Denominators of XIDZ/ZIDZ are never a bare conditional: sympy folds a division by a Piecewise
# with a zero branch into zoo (see test_builtins.test_a_guarded_division_by_a_conditional_zero...).
_LEAVES = st.one_of(
    st.sampled_from([*EQUATION_PARAMETERS, "(TIME + a)", "TIME_STEP * b"]),
    st.floats(-3.0, 3.0, allow_nan=False, allow_infinity=False).map(lambda v: repr(round(v, 3))),
)

# Builtins with their domains kept safe: every result is finite for finite arguments.
_UNARY = ("ABS({})", "SIN({})", "COS({})", "ARCTAN({})", "INTEGER({})", "EXP(SIN({}))",
          "SQRT(ABS({}))", "LN(1 + ABS({}))", "LOG(2 + ABS({}), 3)", "-({})", "({}) ** 2")
_BINARY = ("({}) + ({})", "({}) - ({})", "({}) * ({})", "MIN({}, {})", "MAX({}, {})",
           "XIDZ({}, b + SIN({}), 7)", "ZIDZ({}, c - COS({}))", "MODULO({}, 1 + ABS({}))",
           "IF_THEN_ELSE({} > {}, 1, -1)", "STEP({}, {})", "RAMP({}, {})",
           "POWER(1 + ABS({}), SIN({}))")
_TERNARY = ("IF_THEN_ELSE({} > 0, {}, {})", "MIN({}, {}, {})", "MAX({}, {}, {})",
            "RAMP({}, {}, {})", "XIDZ({}, a * ({}), {})")


def _extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(st.sampled_from(_UNARY), children).map(lambda t: t[0].format(t[1])),
        st.tuples(st.sampled_from(_BINARY), children, children)
        .map(lambda t: t[0].format(t[1], t[2])),
        st.tuples(st.sampled_from(_TERNARY), children, children, children)
        .map(lambda t: t[0].format(t[1], t[2], t[3])),
    )


#: Random equations over the parameters a, b, c and the clock, built from the pure builtins.
equations = st.recursive(_LEAVES, _extend, max_leaves=8)

#: Values of a, b, c for a few members.
parameter_sets = st.lists(st.tuples(PARAMETER_VALUES, PARAMETER_VALUES, PARAMETER_VALUES),
                          min_size=1, max_size=4)


@st.composite
def integer_arithmetic(draw: st.DrawFn, depth: int = 3) -> tuple[str, int]:
    """An equation of small integers with + - * and parentheses, and its value."""
    if depth == 0 or draw(st.booleans()):
        value = draw(st.integers(-20, 20))
        return (f"({value})" if value < 0 else str(value)), value
    left, a = draw(integer_arithmetic(depth - 1))
    right, b = draw(integer_arithmetic(depth - 1))
    op = draw(st.sampled_from("+-*"))
    value = a + b if op == "+" else a - b if op == "-" else a * b
    return f"({left} {op} {right})", value
