"""Long chains and deep nesting in equations: flat sums of thousands of terms run, deep nesting is
refused with a message, never a RecursionError."""

from __future__ import annotations

import ast
import random
import time
from fractions import Fraction
from pathlib import Path

import pytest
import sympy

import pssc_sim as ps
from pssc_sim.cli import main
from pssc_sim.compile.printer import GROUP, Dialect, Printer
from pssc_sim.ir.causal import Polarity, derivative_polarity
from pssc_sim.ir.functions import variable_symbol
from pssc_sim.parse.expressions import Namespace, parse_expression
from pssc_sim.parse.nesting import CHAIN, MAX_DEPTH, nesting_depth, regroup_chains

NAMES = Namespace(variables={"a", "b"}, lookups=set())


def parse(text: str) -> sympy.Expr:
    return parse_expression(text, where="m.yaml: auxiliaries.x", namespace=NAMES)


def flat_sum_model(n: int) -> tuple[str, int]:
    """A model whose auxiliary ``total`` sums ``n`` parameters (every seventh subtracted)."""
    parameters = "".join(f"  p{i}: {i}\n" for i in range(1, n + 1))
    terms = [f"- p{i}" if i % 7 == 0 else f"+ p{i}" for i in range(1, n + 1)]
    equation = " ".join(terms)[2:]
    expected = sum(-i if i % 7 == 0 else i for i in range(1, n + 1))
    text = (
        "model: flat\ntime: {start: 0, stop: 1, dt: 1}\nparameters:\n"
        f"{parameters}auxiliaries:\n  total: '{equation}'\n"
    )
    return text, expected


def test_a_sum_of_5000_terms_loads_compiles_and_runs(tmp_path: Path) -> None:
    text, expected = flat_sum_model(5000)
    path = tmp_path / "flat.yaml"
    path.write_text(text, encoding="utf-8")
    model = ps.load_model(path)
    results = ps.simulate(model)
    assert list(results["total"]) == [expected, expected]


def test_a_product_of_1000_factors_is_read_as_one_product() -> None:
    text = " * ".join(["a", "b"] * 500) + " / a"
    assert parse(text) == variable_symbol("a") ** 499 * variable_symbol("b") ** 500


@pytest.mark.parametrize("seed", range(5))
def test_regrouping_keeps_the_value_of_a_long_chain(seed: int) -> None:
    rng = random.Random(seed)
    pieces, value = [str(rng.randint(1, 9))], Fraction(0)
    term = Fraction(int(pieces[0]))
    for _ in range(rng.randint(4 * CHAIN, 8 * CHAIN)):
        op, number = rng.choice("+-*/"), rng.randint(1, 9)
        pieces += [op, str(number)]
        if op in "*/":
            term = term * number if op == "*" else term / number
        else:
            value += term
            term = Fraction(number if op == "+" else -number)
    value += term
    text = " ".join(pieces)
    assert regroup_chains(text).source != text
    assert parse(text) == sympy.Rational(value.numerator, value.denominator)


def test_regrouping_leaves_short_and_lower_precedence_chains_alone() -> None:
    assert regroup_chains("a + b * c").source == "a + b * c"
    long_comparison = " < ".join(["a"] * 200)
    assert regroup_chains(long_comparison).source == long_comparison


def test_a_long_sum_inside_a_call_is_regrouped() -> None:
    text = "MAX(0, " + " + ".join(f"{i} * a" for i in range(1, 301)) + ")"
    assert nesting_depth(ast.parse(regroup_chains(text).source, mode="eval").body) < 10
    assert parse(text) == sympy.Max(0, 45150 * variable_symbol("a"))


def test_an_error_in_a_regrouped_sum_names_its_column_as_written() -> None:
    text = " + ".join(["a"] * 200) + " + b.c"
    with pytest.raises(ps.ExpressionError, match=rf"attribute access .*column {len(text) - 2},"):
        parse(text)


@pytest.mark.parametrize(
    ("text", "got"),
    [
        ("-" * 3000 + "a", "more than the parser reads"),
        (" ** ".join(["a"] * 5000), "more than the parser reads"),
        ("not " * 3000 + "a", "more than the parser reads"),
        ("(" * 3000 + "a" + ")" * 3000, "more parentheses than the parser reads"),
        ("SIN(" * (MAX_DEPTH + 5) + "a" + ")" * (MAX_DEPTH + 5), f"{MAX_DEPTH + 6} levels"),
        ("".join(f"(a + {i} * " for i in range(60)) + "b" + ")" * 60, "121 levels"),
    ],
)
def test_deep_nesting_is_refused_with_its_limit(text: str, got: str) -> None:
    with pytest.raises(
        ps.ExpressionError,
        match=rf"^m\.yaml: auxiliaries\.x: the equation is too deeply nested \(limit {MAX_DEPTH}\) "
        rf"\(got {got} in '.*\.\.\. \(\d+ characters\)\)\. Split it into auxiliaries",
    ):
        parse(text)


def test_nesting_at_the_limit_is_read_and_runs(tmp_path: Path) -> None:
    depth = MAX_DEPTH - 2
    equation = "SIN(" * depth + "a" + ")" * depth
    path = tmp_path / "m.yaml"
    path.write_text(
        f"time: {{stop: 1}}\nparameters: {{a: 0.5}}\nauxiliaries: {{x: '{equation}'}}\n",
        encoding="utf-8",
    )
    value = 0.5
    for _ in range(depth):
        value = float(sympy.sin(value))
    assert ps.simulate(ps.load_model(path))["x"].iloc[-1] == pytest.approx(value, rel=1e-12)


def test_a_symbolic_failure_is_an_expression_error() -> None:
    with pytest.raises(
        ps.ExpressionError,
        match=r"the equation cannot be built \(got 'MODULO\(1, 0\)'\): Modulo by zero\. Look for "
        "a division or MODULO by zero",
    ):
        parse("MODULO(1, 0)")


@pytest.mark.parametrize("dialect", list(Dialect))
def test_a_long_sum_prints_in_shallow_groups_that_keep_its_value(dialect: Dialect) -> None:
    symbols = sympy.symbols(f"x0:{5 * GROUP * GROUP}")
    names = {s: s.name for s in symbols}
    expr = sympy.Add(*(s if i % 3 else -s for i, s in enumerate(symbols)))
    source = Printer(dialect, names)(expr)
    tree = ast.parse(source, mode="eval")
    assert nesting_depth(tree) < 3 * GROUP
    compile(tree, "<sum>", "eval")
    values = {s.name: float(i) for i, s in enumerate(symbols)}
    expected = sum(v if i % 3 else -v for i, v in enumerate(values.values()))
    assert eval(compile(tree, "<sum>", "eval"), {"np": None, "math": None}, values) == expected


def test_conditions_nested_in_a_divisor_are_refused_before_they_blow_up() -> None:
    # each level folds the conditions below it into its own: 4 levels took minutes to build
    equation = "XIDZ(a, b + LN(1 + " * 4 + "a" + "), 1)" * 4
    start = time.perf_counter()
    with pytest.raises(
        ps.ExpressionError,
        match=r"the divisor of XIDZ holds more than 8 conditions \(column 1, got 'XIDZ\(a, b \+ "
        r"LN.*\)\. Move the inner XIDZ, ZIDZ or IF_THEN_ELSE into an auxiliary",
    ):
        parse(equation)
    assert time.perf_counter() - start < 10


def test_a_few_nested_guarded_divisions_are_read() -> None:
    expr = parse("XIDZ(1, XIDZ(1, XIDZ(1, a, 1), 1), 1)")
    assert expr.subs(variable_symbol("a"), 2) == sympy.Rational(1, 2)


def test_a_vensim_sum_of_5000_terms_imports_and_runs(tmp_path: Path) -> None:
    pytest.importorskip("pysd")
    entries = [f"p{i} = {i}\n\t~\t\n\t~\t\n\t|\n" for i in range(1, 5001)]
    entries.append(
        "total = " + " + ".join(f"p{i}" for i in range(1, 5001)) + "\n\t~\t\n\t~\t\n\t|\n"
    )
    entries += [
        f"{name} = {value}\n\t~\t\n\t~\t\n\t|\n"
        for name, value in [
            ("INITIAL TIME", 0),
            ("FINAL TIME", 1),
            ("TIME STEP", 1),
            ("SAVEPER", 1),
        ]
    ]
    path = tmp_path / "flat.mdl"
    path.write_text("{UTF-8}\n" + "\n".join(entries), encoding="utf-8")
    results = ps.simulate(ps.load_model(path))
    assert list(results["total"]) == [5000 * 5001 / 2] * 2


def long_sum_loop_model(n: int) -> str:
    """A stock fed by an auxiliary that sums ``n`` parameters times the stock (one minus)."""
    parameters = "".join(f"  p{i}: {i}\n" for i in range(n))
    terms = " + ".join(f"p{i} * x" for i in range(1, n))
    return (
        "model: long\ntime: {start: 0, stop: 1, dt: 1}\nparameters:\n"
        f"{parameters}stocks: {{x: 1}}\nflows:\n  inflow: {{to: x, rate: total / 1e6}}\n"
        f"auxiliaries:\n  total: 'p0 / x + {terms}'\n"
    )


def test_loops_of_a_sum_of_2000_terms_are_found_in_time_linear_in_its_length(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "long.yaml"
    path.write_text(long_sum_loop_model(2000), encoding="utf-8")
    start = time.process_time()
    assert main(["loops", str(path)]) == 0
    seconds = time.process_time() - start
    out = capsys.readouterr().out
    # the sum rises with x through 1999 terms and falls through p0 / x: no sign for the link
    assert "U1    unknown polarity   3 links: inflow -> x -> total -> inflow" in out
    # quadratic in the number of terms, it took minutes (a slope of the whole sum per symbol)
    assert seconds < 30, seconds  # processor time


def test_the_slope_of_a_sum_is_the_slope_of_the_terms_that_hold_the_symbol() -> None:
    rng = random.Random(3)
    names = [variable_symbol(n) for n in "abcxyz"]
    for _ in range(40):
        terms = [
            rng.choice([1, -1, 2])
            * rng.choice(names)
            * rng.choice([*names, 1])
            / rng.choice([*names, 1])
            for _ in range(rng.randint(2, 6))
        ]
        expr = sympy.Add(*terms)
        positive = {s: sympy.Symbol(s.name, positive=True) for s in expr.free_symbols}
        for cause in sorted(expr.free_symbols, key=lambda s: s.name):
            slope = sympy.diff(expr.subs(positive), positive[cause])
            expected = (
                Polarity.POSITIVE
                if slope.is_nonnegative and not slope.is_zero
                else Polarity.NEGATIVE
                if slope.is_nonpositive and not slope.is_zero
                else Polarity.UNKNOWN
            )
            assert derivative_polarity(expr, cause) is expected, (expr, cause)


def test_loops_through_a_sum_of_2000_stocks_are_found_in_time_linear_in_their_number(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    n = 2000
    stocks = "".join(f"  s{i}: 1\n" for i in range(n))
    flows = "".join(f"  f{i}: {{from: s{i}, rate: 'total / {n} + s{i} / 10'}}\n" for i in range(n))
    total = " + ".join(f"s{i}" for i in range(n))
    path = tmp_path / "long.yaml"
    path.write_text(
        f"model: long\ntime: {{start: 0, stop: 1, dt: 1}}\nstocks:\n{stocks}"
        f"flows:\n{flows}auxiliaries:\n  total: '{total}'\n",
        encoding="utf-8",
    )
    start = time.process_time()
    assert main(["loops", str(path)]) == 0
    seconds = time.process_time() - start
    lines = capsys.readouterr().out.splitlines()
    # each stock drains through its own flow (B), and through the sum it feeds (B)
    assert len(lines) == 2 * n
    assert "B1    balancing          2 links: f0 -> s0 -> f0" in lines
    last = max(range(n), key=str)  # loops are named in order of their variables' names
    assert lines[-1].split() == [
        f"B{2 * n}",
        "balancing",
        "3",
        "links:",
        f"f{last}",
        "->",
        f"s{last}",
        "->",
        "total",
        "->",
        f"f{last}",
    ]
    # searching the cycles through an arbitrary node first took a minute here (processor time)
    assert seconds < 30, seconds
