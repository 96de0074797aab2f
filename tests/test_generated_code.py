"""Generated code holds nothing from a model file but checked names and printed numbers.

For every example model and half the suite models the conformance test passes (every other
one, always the same), the kernel, Jacobian
and breakpoint modules are read back token by token: each identifier is generator vocabulary or
built from a model name that passed the name rule, the only strings are the generator's own, and
every comment is written literally in pssc_sim's source.
"""

from __future__ import annotations

import ast
import io
import keyword
import re
import tokenize
from functools import cache
from pathlib import Path

import pytest
from test_conformance import EXPECTED_PASS, SUITE

import pssc_sim as ps
from pssc_sim.compile.breakpoints import breakpoint_plan
from pssc_sim.compile.compiler import compile_model
from pssc_sim.compile.guard import STRINGS, compile_generated
from pssc_sim.compile.jacobian import jacobian_kernel
from pssc_sim.errors import ModelError
from pssc_sim.ir.model import Model
from pssc_sim.parse.identifiers import is_identifier

ROOT = Path(__file__).parents[1]
EXAMPLES = sorted(p.name for p in (ROOT / "models").iterdir() if (p / "model.yaml").is_file())
PACKAGE = ROOT / "pssc_sim"

#: Names the generators write whatever the model: arguments, results, helpers and modules.
GENERATOR_WORDS = frozenset(
    {"M", "_", "clock", "delays", "dn", "dt", "dy", "full", "initial", "jacobian", "out",
     "switching_values", "prepare", "bind_full", "bind_rates", "rates", "rates_scalar",
     "full_scalar", "scratch", "values", "x", "y", "t", "p", "d", "q", "np", "math", "float",
     "map", "max", "min", "abs", "sum", "_assemble", "_reduce", "_sign", "_table_lookup",
     "_vector_select", "_quiet", "t0", "t1", "y0", "d0", "_vector_sort_order", "_vector_rank",
     "_vector_reorder", "_element_map", "_invert_matrix", "_allocate_by_priority", "_gammaln",
     "_allocate_available", "_find_market_price", "_demand_at_price", "_supply_at_price",
     "_polygamma", "slack", "len"}
)  # fmt: skip
#: Numbered names the generators make: temporaries, rows, printed numbers, index constants.
GENERATOR_NUMBERED = re.compile(
    r"(?:_r|c_cse|q_|s_|dy_|dn_|y_|t|d|y)\d+(?:_\d+)*|_f_[0-9a-f]{16}|_ix_[0-9a-f]+"
)
#: A local or module name built from a model name.
FROM_NAME = r"(?:v_|s_v_|j_\d+_|_x_|_y_|lookup_|slope_|_lookup_)({names})(?:_flat|_scalar|_s\d+)?"


def model_names(model: Model) -> set[str]:
    items = (*model.parameters, *model.stocks, *model.flows, *model.auxiliaries,
             *model.lookups, *model.discrete, *model.measures)  # fmt: skip
    return {item.name for item in items}


def generated_sources(model: Model) -> list[str]:
    sources = [compile_model(model).source, breakpoint_plan(model).source]
    jacobian = jacobian_kernel(model).source
    return [*sources, jacobian] if jacobian else sources


@cache
def package_text() -> str:
    """The source of the code generators, where every generated comment must be written."""
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(PACKAGE.rglob("*.py")))


def check_module(source: str, model: Model) -> None:
    names = model_names(model)
    assert is_identifier(model.name), model.name
    assert all(is_identifier(n) for n in names), sorted(n for n in names if not is_identifier(n))
    alternatives = "|".join(sorted(map(re.escape, names), key=len, reverse=True)) or "(?!)"
    from_name = re.compile(FROM_NAME.format(names=alternatives))
    tree = ast.parse(source)
    # attribute and keyword-argument names of the generators' calls (np.errstate(all=...))
    members = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    members |= {n.arg for n in ast.walk(tree) if isinstance(n, ast.keyword) and n.arg}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        text = token.string
        if token.type == tokenize.COMMENT:
            assert text.rstrip() in package_text(), f"a comment from the model: {text!r}"
        elif token.type == tokenize.STRING:
            assert ast.literal_eval(text) in STRINGS, f"a string from the model: {text!r}"
        elif (
            token.type == tokenize.NAME
            and not keyword.iskeyword(text)
            and not (
                text in GENERATOR_WORDS
                or text in members
                or GENERATOR_NUMBERED.fullmatch(text)
                or from_name.fullmatch(text)
            )
        ):
            pytest.fail(f"an identifier neither generated nor built from a model name: {text!r}")


@pytest.mark.parametrize("example", EXAMPLES)
def test_example_kernels_hold_only_names_and_numbers(example: str) -> None:
    model = ps.load_model(ROOT / "models" / example)
    for source in generated_sources(model):
        check_module(source, model)


@pytest.mark.parametrize("file", EXPECTED_PASS[::2])  # every other file: a fixed half
def test_suite_kernels_hold_only_names_and_numbers(file: str) -> None:
    pytest.importorskip("pysd", reason="the vensim extra (PySD's translators) is not installed")
    if not (SUITE / file).is_file():
        pytest.skip(f"the test-models suite is not at {SUITE}")
    model = ps.load_model(SUITE / file)
    for source in generated_sources(model):
        check_module(source, model)


def test_the_check_fails_on_text_from_the_model() -> None:
    model = ps.load_model(ROOT / "models" / "teacup")
    source = compile_model(model).source
    with pytest.raises(AssertionError, match="a comment from the model"):
        check_module(f"# model {model.name}\n{source}", model)
    with pytest.raises(AssertionError, match="a string from the model"):
        check_module(f"{source}\nx = {model.name!r}\n", model)
    with pytest.raises(pytest.fail.Exception, match="an identifier neither generated"):
        check_module(f"{source}\nv_{model.name}_x = 1\n", model)


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("x = 'os'\n", "the string 'os'"),
        ("x = b'os'\n", "a bytes constant"),
        ("x = open\n", "the name 'open'"),
        ("x = y\n", "the name 'y'"),
        ("x = __builtins__\n", "the name '__builtins__'"),
        ("x = np.__class__\n", "the attribute '__class__'"),
        ("x = np.load\n", "the attribute 'load'"),
        ("import os\n", "a Import statement or expression"),
        ("class C:\n    pass\n", "a ClassDef statement or expression"),
        ("x = f'{np}'\n", "a JoinedStr statement or expression"),
        ("x = eval('1')\n", "the name 'eval'"),
        ("def f(eval):\n    return eval\n", "the builtin 'eval'"),
    ],
)
def test_the_guard_refuses_what_no_generator_writes(source: str, problem: str) -> None:
    with pytest.raises(
        ModelError,
        match=rf"^internal: generated code <m> holds {re.escape(problem)} \(got line \d\)\. "
        "Report this as a bug: generated code holds only names and numbers$",
    ):
        compile_generated(source, "<m>", ["np"])


def test_the_guard_refuses_invalid_source() -> None:
    with pytest.raises(
        ModelError, match=r"^internal: generated code <m> is not valid Python \(got .* at line 1\)"
    ):
        compile_generated("x = (\n", "<m>", [])


def test_the_guard_compiles_what_it_accepts() -> None:
    space: dict[str, object] = {"np": __import__("numpy")}
    exec(compile_generated("def f(x):\n    return np.exp(x) + abs(x)\n", "<m>", space), space)
    assert space["f"](0.0) == 1.0  # type: ignore[operator]
