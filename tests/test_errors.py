"""Every error message of the parse, IR and API stages, in tables, matched with their text.

Model-file messages must start with ``<file>: <key.path>:``; equations that try to run code must be
rejected with the column, and nothing they name may run.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import pssc_sim as ps

BASE = """time: {stop: 10}
parameters: {room_temperature: 70, k: 1}
stocks: {cup: 180}
lookups:
  effect: {points: [[0, 1], [1, 2]]}
"""


def equation_model(equation: str) -> str:
    """A model whose auxiliary ``y`` has ``equation`` (YAML-quoted)."""
    quoted = "'" + equation.replace("'", "''") + "'"
    return BASE + f"auxiliaries:\n  y: {quoted}\n"


EQUATION_ERRORS = [
    # a cancellation sympy cannot fold into one condition
    (
        "XIDZ(k, cup + SIN(XIDZ(k, k * (XIDZ(0.0, cup + SIN(k), 7)), k)), 7)",
        r"auxiliaries\.y\.equation: XIDZ of these arguments cannot be folded into one condition "
        r"\(column 1, got .*\)\. Move the inner conditional expression into an auxiliary",
    ),
    # unknown names, with and without a did-you-mean
    (
        "room_temp",
        r"auxiliaries\.y\.equation: unknown name 'room_temp'\. "
        r"Did you mean 'room_temperature'\?$",
    ),
    (
        "zzz",
        r"auxiliaries\.y\.equation: unknown name 'zzz' \(column 1\)\. Define it under "
        r"parameters, stocks, flows or auxiliaries",
    ),
    ("cup + qqqq", r"unknown name 'qqqq' \(column 7\)"),
    # code injection: each rejected with its column, nothing runs
    (
        "__import__('os').system('touch pwned')",
        r"auxiliaries\.y\.equation: only named functions can be called \(column 1, got ",
    ),
    (
        "().__class__.__bases__",
        r"attribute access is not allowed \(column 1, got "
        r"'\(\)\.__class__\.__bases__'\)\. Use a plain variable name",
    ),
    ("cup.real", r"attribute access is not allowed \(column 1, got 'cup\.real'\)"),
    ("cup[0]", r"subscripts are not allowed \(column 1, got 'cup\[0\]'\)"),
    ("1 + (lambda: 1)", r"lambda is not allowed \(column 6, got"),
    ("[x for x in cup]", r"comprehensions are not allowed \(column 1"),
    ("2 * sum(x for x in cup)", r"comprehensions are not allowed \(column 8"),
    ("'text'", r"the constant 'text' is not a number \(column 1"),
    ("f'{cup}'", r"strings are not allowed \(column 1"),
    ("1 + (y := 3)", r"assignment expressions are not allowed \(column 6"),
    ("__builtins__", r"the name '__builtins__' contains a double underscore \(column 1"),
    ("cup + __file__", r"the name '__file__' contains a double underscore \(column 7"),
    ("__import__(1)", r"the name '__import__' contains a double underscore \(column 1"),
    ("open(1)", r"unknown function 'open' \(column 1"),
    ("eval(1)", r"unknown function 'eval' \(column 1"),
    ("MAX(a=1, b=2)", r"keyword arguments are not allowed \(column 1"),
    ("f(x)(y)", r"only named functions can be called \(column 1"),
    ("{1: 2}", r"dictionaries are not allowed \(column 1"),
    ("{1}", r"sets are not allowed \(column 1"),
    ("[1]", r"lists are not allowed \(column 1"),
    ("(1, 2)", r"tuples are not allowed \(column 1"),
    ("MAX(*cup)", r"starred arguments are not allowed \(column 5"),
    ("None", r"the constant None is not a number \(column 1"),
    ("True", r"the constant True is not a number \(column 1"),
    # operators that are not arithmetic
    ("cup ^ 2", r"'\^' is not a power here \(column 1, got 'cup \^ 2'\)\. Use \*\* for powers"),
    ("cup // 2", r"'//' is not supported \(column 1.*Use INTEGER\(a / b\)"),
    ("cup @ 2", r"'@' is not supported"),
    ("cup & 1", r"'&' is not supported.*Use 'and'"),
    ("cup | 1", r"'\|' is not supported.*Use 'or'"),
    ("cup << 1", r"'<<' is not supported"),
    ("~cup", r"'~' is not supported.*Use 'not'"),
    ("IF_THEN_ELSE(cup is 1, 1, 0)", r"'is' is not supported.*Use =="),
    ("IF_THEN_ELSE(cup in 1, 1, 0)", r"'in' is not supported"),
    # functions
    (
        "FOO(cup)",
        r"unknown function 'FOO' \(column 1, got 'FOO\(cup\)'\)\. Use a builtin or a "
        r"lookup defined under lookups",
    ),
    ("smoth(cup, 2)", r"unknown function 'smoth' \(column 1.*Did you mean 'SMOOTH'\?"),
    ("efect(cup)", r"unknown function 'efect'.*Did you mean 'effect'\?"),
    ("MAX(cup)", r"MAX takes at least 2 arguments, not 1 \(column 1.*Write MAX\(a, b, \.\.\.\)"),
    ("SMOOTH(cup)", r"SMOOTH takes 2 arguments, not 1 .*Write SMOOTH\(input, time\)"),
    ("RAMP(1)", r"RAMP takes 2 to 3 arguments, not 1"),
    ("STEP(1, 2, 3)", r"STEP takes 2 arguments, not 3"),
    (
        "effect(1, 2)",
        r"the lookup 'effect' takes 1 argument, not 2 \(column 1.*Call it as "
        r"effect\(x\)",
    ),
    ("effect", r"the lookup 'effect' is used as a value \(column 1.*Call it with an input"),
    ("MAX", r"the function 'MAX' is used as a value \(column 1.*Call it with its arguments"),
    ("cup(3)", r"unknown function 'cup'"),
    (
        "SMOOTHN(cup, 2, 0, cup)",
        r"the order of SMOOTHN must be a constant \(got cup\)\. Use a "
        r"number or a parameter",
    ),
    ("DELAYN(cup, 2, 0, 0)", r"the order must be at least 1 \(got 0\)"),
    # values
    ("cup >", r"invalid syntax at column \d+ \(got 'cup >'\)\. Use Python arithmetic"),
    ("a + (b", r"invalid syntax at column 5"),
    ("cup > 3", r"the equation is a condition, not a value \(got 'cup > 3'\)\. Wrap it"),
    ("not cup", r"the equation is a condition, not a value"),
    ("1e400", r"the number is not finite \(got inf\)"),
    ("10 ** 10 ** 10", r"the power .* cannot be computed \(got '10 \*\* 10 \*\* 10'\)"),
    ("   ", r"the equation is empty"),
]


@pytest.mark.parametrize(
    ("equation", "message"), EQUATION_ERRORS, ids=[e for e, _ in EQUATION_ERRORS]
)
def test_equation_errors_name_the_file_the_key_and_the_problem(
    model_path, tmp_path, equation, message, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    path = model_path(equation_model(equation))
    with pytest.raises(ps.ModelError, match=re.escape(f"{path}: auxiliaries.y.equation: ")) as info:
        ps.load_model(path)
    assert re.search(message, str(info.value)), str(info.value)
    assert not (tmp_path / "pwned").exists()


def test_injected_code_never_runs(model_path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    attempts = [
        "__import__('os').system('touch pwned')",
        "open('pwned', 'w')",
        "exec('open(1)')",
        "().__class__.__base__.__subclasses__()",
    ]
    for attempt in attempts:
        with pytest.raises(ps.ExpressionError):
            ps.load_model(model_path(equation_model(attempt)))
    assert not (tmp_path / "pwned").exists()


def test_equation_of_the_wrong_type_is_an_expression_error(model_path):
    path = model_path(BASE + "auxiliaries:\n  y: [1]\n  z: true\n")
    with pytest.raises(
        ps.ExpressionError,
        match=r"auxiliaries\.y\.equation: an equation must be "
        r"a number or a text expression \(got \[1\]\)",
    ):
        ps.load_model(path)
    path = model_path(BASE + "auxiliaries:\n  z: .nan\n")
    with pytest.raises(
        ps.ExpressionError,
        match=r"auxiliaries\.z\.equation: the number is not "
        r"finite \(got nan\)",
    ):
        ps.load_model(path)


FILE_ERRORS = [
    (
        "unknown key",
        "time: {stop: 10}\nstocks:\n  cup: {initial: 1, unit: x}\n",
        r"stocks\.cup\.unit: unknown key 'unit'\. Did you mean 'units'\?",
    ),
    (
        "unknown key without hint",
        "time: {stop: 10}\nstocks:\n  cup: {initial: 1, zz: x}\n",
        r"stocks\.cup\.zz: unknown key 'zz'\. Allowed keys: initial, non_negative, units",
    ),
    (
        "unknown section",
        "time: {stop: 10}\nstock:\n  cup: 1\n",
        r"stock: unknown key 'stock'\. Did you mean 'stocks'\?",
    ),
    (
        "unknown section without hint",
        "time: {stop: 10}\nwhatever: 1\n",
        r"whatever: unknown key 'whatever'\. Allowed keys: model, title",
    ),
    (
        "unknown time key",
        "time: {stop: 10, step: 1}\n",
        r"time\.step: unknown key 'step'\. Did you mean 'stop'\?",
    ),
    (
        "unknown measure key",
        "time: {stop: 10}\nstocks: {k: 1}\nmeasures:\n  k: {perspective: outcome, better: lower, "
        "tru: 1}\n",
        r"measures\.k\.tru: unknown key 'tru'\. Did you mean 'true'\?",
    ),
    (
        "missing time.stop",
        "time: {start: 0}\n",
        r"time\.stop: 'stop' is required \(got nothing\)\. Add stop: <time>",
    ),
    ("missing time", "stocks: {a: 1}\n", r"time: a time block is required \(got None\)"),
    (
        "stop before start",
        "time: {start: 5, stop: 1}\n",
        r"time\.stop: stop must be after start \(got start=5\.0, stop=1\.0\)",
    ),
    (
        "zero dt",
        "time: {stop: 5, dt: 0}\n",
        r"time\.dt: dt and save_every must be positive \(got dt=0\.0",
    ),
    (
        "negative save_every",
        "time: {stop: 5, save_every: -1}\n",
        r"time\.save_every: dt and save_every must be positive \(got dt=1\.0, save_every=-1\.0\)",
    ),
    ("infinite stop", "time: {stop: .inf}\n", r"time: every value must be finite"),
    (
        "text stop",
        "time: {stop: soon}\n",
        r"time\.stop: expected a number \(got 'soon'\)\. Write a plain number",
    ),
    ("not a mapping", "- a\n- b\n", r"a model file must be a YAML mapping \(got list\)"),
    (
        "invalid YAML",
        "time: {stop: 10\nstocks: [\n",
        r"invalid YAML at line 2, column 7 \(.*\)\. Fix the indentation or quoting there",
    ),
    (
        "invalid YAML indentation",
        "time:\n  stop: 10\n   dt: 1\n",
        r"invalid YAML at line 3, column 6 \(mapping values are not allowed here\)",
    ),
    (
        "duplicate name",
        "time: {stop: 10}\nstocks: {a: 1}\nauxiliaries: {a: 2}\n",
        r"auxiliaries\.a: the name 'a' is already defined under stocks\. Rename one of them",
    ),
    (
        "duplicate lookup",
        "time: {stop: 10}\nparameters: {f: 1}\nlookups: {f: {points: [[0, 1]]}}\n",
        r"lookups\.f: the name 'f' is already defined under parameters",
    ),
    (
        "invalid name",
        "time: {stop: 10}\nstocks: {2a: 1}\n",
        r"stocks\.2a: the name '2a' is not a valid name \(got '2a'\)\. Use a snake_case name",
    ),
    (
        "double underscore name",
        "time: {stop: 10}\nstocks: {a__b: 1}\n",
        r"stocks\.a__b: the name 'a__b' contains '__', which is reserved for hidden variables",
    ),
    (
        "reserved name",
        "time: {stop: 10}\nstocks: {TIME: 1}\n",
        r"stocks\.TIME: the name 'TIME' is reserved \(a builtin or a Python keyword\)",
    ),
    (
        "keyword name",
        "time: {stop: 10}\nstocks: {lambda: 1}\n",
        r"stocks\.lambda: the name 'lambda' is reserved",
    ),
    (
        "builtin name",
        "time: {stop: 10}\nstocks: {smooth: 1}\n",
        r"stocks\.smooth: the name 'smooth' is reserved",
    ),
    (
        "flow from an unknown stock",
        "time: {stop: 10}\nstocks: {cup: 1}\nflows:\n  f: {from: cap, rate: 1}\n",
        r"flows\.f\.from: 'cap' is not a stock\. Did you mean 'cup'\?",
    ),
    (
        "flow to a parameter",
        "time: {stop: 10}\nstocks: {cup: 1}\nparameters: {k: 1}\nflows:\n  f: {to: k, rate: 1}\n",
        r"flows\.f\.to: 'k' is not a stock\. Name a stock, or leave the key out for a cloud\.",
    ),
    (
        "flow from a number",
        "time: {stop: 10}\nstocks: {cup: 1}\nflows:\n  f: {from: 3, rate: 1}\n",
        r"flows\.f\.from: '3' is not a stock",
    ),
    (
        "flow to itself",
        "time: {stop: 10}\nstocks: {cup: 1}\nflows:\n  f: {from: cup, to: cup, rate: 1}\n",
        r"flows\.f\.to: the flow goes from a stock to itself \(got 'cup'\)",
    ),
    (
        "flow without rate",
        "time: {stop: 10}\nstocks: {cup: 1}\nflows:\n  f: {from: cup}\n",
        r"flows\.f\.rate: 'rate' is required \(got nothing\)\. Add 'rate: \.\.\.' to f",
    ),
    (
        "algebraic cycle",
        "time: {stop: 10}\nauxiliaries:\n  a: c + 1\n  b: a * 2\n  c: b - 1\n",
        r"algebraic cycle: a -> b -> c -> a \(got 3 variables that depend on each other\)\. Break "
        r"the loop with a stock",
    ),
    (
        "algebraic cycle through a flow",
        "time: {stop: 10}\nstocks: {s: 1}\nflows:\n  f: {from: s, rate: g}\n"
        "auxiliaries:\n  x: 1\n  g: f * 2\n",
        r"algebraic cycle: f -> g -> f",
    ),
    ("self reference", "time: {stop: 10}\nauxiliaries:\n  a: a + 1\n", r"algebraic cycle: a -> a"),
    (
        "initialisation cycle",
        "time: {stop: 10}\nstocks:\n  x: y\n  y: x\n",
        r"initialisation cycle: x -> y -> x",
    ),
    (
        "initialisation cycle through an auxiliary",
        "time: {stop: 10}\nstocks:\n  x: {initial: a}\nauxiliaries:\n  a: x * 2\n",
        r"initialisation cycle: x -> a -> x",
    ),
    (
        "repeated lookup x",
        "time: {stop: 10}\nlookups:\n  f: {points: [[0, 1], [0, 2]]}\n",
        r"lookups\.f\.points: x values must increase strictly \(got \[0\.0, 0\.0\]\)",
    ),
    (
        "decreasing lookup x",
        "time: {stop: 10}\nlookups:\n  f: {points: [[2, 1], [1, 2]]}\n",
        r"lookups\.f\.points: x values must increase strictly \(got \[2\.0, 1\.0\]\)\. Sort",
    ),
    (
        "lookup triple",
        "time: {stop: 10}\nlookups:\n  f: {points: [[0, 1, 2]]}\n",
        r"lookups\.f\.points: expected a list of \[x, y\] pairs \(got \[\[0, 1, 2\]\]\)",
    ),
    (
        "empty lookup",
        "time: {stop: 10}\nlookups:\n  f: {points: []}\n",
        r"lookups\.f\.points: x and y must have the same, non-zero length \(got 0 and 0\)",
    ),
    (
        "lookup with text",
        "time: {stop: 10}\nlookups:\n  f: {points: [[0, a]]}\n",
        r"lookups\.f\.points: expected a number \(got 'a'\)",
    ),
    (
        "lookup x and y lengths",
        "time: {stop: 10}\nlookups:\n  f: {x: [0, 1], y: [1]}\n",
        r"lookups\.f\.points: x and y must have the same, non-zero length \(got 2 and 1\)",
    ),
    (
        "lookup x not a list",
        "time: {stop: 10}\nlookups:\n  f: {x: 1, y: [1]}\n",
        r"lookups\.f\.x: expected lists of numbers for x and y",
    ),
    (
        "lookup without y",
        "time: {stop: 10}\nlookups:\n  f: {x: [1]}\n",
        r"lookups\.f\.y: 'y' is required",
    ),
    (
        "lookup extrapolation",
        "time: {stop: 10}\nlookups:\n  f: {points: [[0, 1]], extrapolation: linaer}\n",
        r"lookups\.f\.extrapolation: unknown extrapolation 'linaer'\. "
        r"Did you mean 'linear'\?",
    ),
    (
        "lookup shorthand",
        "time: {stop: 10}\nlookups:\n  f: [[0, 1]]\n",
        r"lookups\.f: expected a mapping \(got \[\[0, 1\]\]\)",
    ),
    (
        "parameter text",
        "time: {stop: 10}\nparameters:\n  k: {value: abc}\n",
        r"parameters\.k\.value: expected a number \(got 'abc'\)",
    ),
    (
        "parameter expression",
        "time: {stop: 10}\nparameters:\n  k: 2 * 3\n",
        r"parameters\.k\.value: expected a number \(got '2 \* 3'\)",
    ),
    (
        "parameter without value",
        "time: {stop: 10}\nparameters:\n  k: {units: x}\n",
        r"parameters\.k\.value: 'value' is required",
    ),
    (
        "parameter range",
        "time: {stop: 10}\nparameters:\n  k: {value: 1, range: [5]}\n",
        r"parameters\.k\.range: expected \[low, high\] \(got \[5\]\)",
    ),
    (
        "parameter range order",
        "time: {stop: 10}\nparameters:\n  k: {value: 1, range: [5, 1]}\n",
        r"parameters\.k\.range: low is above high \(got \[5, 1\]\)",
    ),
    (
        "parameter distribution",
        "time: {stop: 10}\nparameters:\n  k: {value: 1, distribution: u}\n",
        r"parameters\.k\.distribution: expected a mapping \(got 'u'\)",
    ),
    (
        "empty stock",
        "time: {stop: 10}\nstocks:\n  k:\n",
        r"stocks\.k: expected a mapping \(got None\)",
    ),
    (
        "non_negative text",
        "time: {stop: 10}\nstocks:\n  k: {initial: 1, non_negative: maybe}\n",
        r"stocks\.k\.non_negative: expected true or false \(got 'maybe'\)",
    ),
    (
        "stateful initial",
        "time: {stop: 10}\nstocks:\n  k: {initial: 'SMOOTH(1, 2)'}\n",
        r"stocks\.k\.initial: stateful builtins cannot set an initial value",
    ),
    (
        "unknown name in initial",
        "time: {stop: 10}\nparameters: {rate: 1}\nstocks:\n  k: rat\n",
        r"stocks\.k\.initial: unknown name 'rat'\. Did you mean 'rate'\?",
    ),
    (
        "section as a list",
        "time: {stop: 10}\nstocks: [a, b]\n",
        r"stocks: expected a mapping of names to entries \(got list\)",
    ),
    (
        "units as a list",
        "time: {stop: 10}\nstocks:\n  k: {initial: 1, units: [a]}\n",
        r"stocks\.k\.units: expected text \(got \['a'\]\)",
    ),
    (
        "measure perspective",
        "time: {stop: 10}\nstocks: {k: 1}\nmeasures:\n  k: {perspective: outcom, better: lower}\n",
        r"measures\.k\.perspective: unknown perspective 'outcom'\. Did you mean 'outcome'\?",
    ),
    (
        "measure direction",
        "time: {stop: 10}\nstocks: {k: 1}\nmeasures:\n  k: {perspective: outcome, better: up}\n",
        r"measures\.k\.better: unknown better 'up'\. Use one of: higher, lower\.",
    ),
    (
        "measure of no variable",
        "time: {stop: 10}\nstocks: {k: 1}\nmeasures:\n  kk: "
        "{perspective: outcome, better: lower}\n",
        r"measures\.kk: 'kk' is not a variable and has no 'true' expression\. Did you mean 'k'\?",
    ),
    (
        "measure without perspective",
        "time: {stop: 10}\nstocks: {k: 1}\nmeasures:\n  k: {better: lower}\n",
        r"measures\.k\.perspective: 'perspective' is required",
    ),
    (
        "unknown name in a flow",
        "time: {stop: 10}\nparameters: {room_temperature: 70}\n"
        "stocks: {cup: 180}\nflows:\n  heat_loss: {from: cup, rate: cup - room_temp}\n",
        r"flows\.heat_loss\.rate: unknown name 'room_temp'\. Did you mean 'room_temperature'\?$",
    ),
]


@pytest.mark.parametrize(
    ("text", "message"), [c[1:] for c in FILE_ERRORS], ids=[c[0] for c in FILE_ERRORS]
)
def test_model_file_errors_name_the_file_and_the_key_path(model_path, text, message):
    path = model_path(text)
    with pytest.raises(ps.ModelError, match=re.escape(f"{path}: ")) as info:
        ps.load_model(path)
    assert re.search(message, str(info.value)), str(info.value)
    assert isinstance(info.value, ValueError)


def test_the_design_example_message_is_exact(tmp_path, monkeypatch):
    folder = tmp_path / "models" / "teacup"
    folder.mkdir(parents=True)
    (folder / "model.yaml").write_text(
        "model: teacup\ntime: {stop: 30}\n"
        "parameters: {room_temperature: 70, characteristic_time: 10}\n"
        "stocks: {teacup_temperature: 180}\nflows:\n  heat_loss: {from: teacup_temperature, "
        "rate: (teacup_temperature - room_temp) / characteristic_time}\n"
    )
    monkeypatch.chdir(tmp_path)
    expected = (
        "models/teacup/model.yaml: flows.heat_loss.rate: unknown name 'room_temp'. "
        "Did you mean 'room_temperature'?"
    )
    for path in ("models/teacup/model.yaml", "models/teacup"):
        with pytest.raises(ps.ExpressionError, match=f"^{re.escape(expected)}$"):
            ps.load_model(path)


def test_missing_and_unsupported_model_files(tmp_path):
    with pytest.raises(
        ps.ModelError,
        match=r"nowhere\.yaml: no model file there \(got '.*'\)\. "
        r"Give a \.yaml model file",
    ):
        ps.load_model(tmp_path / "nowhere.yaml")
    with pytest.raises(ps.ModelError, match=r"no model file there"):
        ps.load_model(tmp_path)
    other = tmp_path / "model.txt"
    other.write_text("time: {stop: 1}\n")
    with pytest.raises(
        ps.ModelError,
        match=r"model\.txt: unsupported model format '\.txt' "
        r"\(got 'model\.txt'\)",
    ):
        ps.load_model(other)


# -- API errors -------------------------------------------------------------------------------


API_MODEL = """time: {stop: 10}
parameters: {room_temperature: 70, k: 1}
stocks: {cup: 180}
flows:
  loss: {from: cup, rate: k * (cup - room_temperature) / 10}
lookups:
  effect: {points: [[0, 1]]}
"""

API_ERRORS = [
    (
        "unknown method",
        {"method": "rk54"},
        r"^method: unknown method 'rk54'\. Did you mean 'rk4'\? Use one of: euler, rk4",
    ),
    (
        "unknown method without hint",
        {"method": "magic"},
        r"^method: unknown method 'magic'\. Use one of: euler",
    ),
    (
        "unknown parameter",
        {"params": {"room_temp": 1}},
        r"^params: unknown parameter 'room_temp'\. Did you mean 'room_temperature'\? Override a "
        r"parameter of the model",
    ),
    (
        "unknown parameter without hint",
        {"params": {"zzzz": 1}},
        r"^params: unknown parameter 'zzzz'\. Override",
    ),
    (
        "arrays of different lengths",
        {"params": {"k": [1, 2], "room_temperature": [1, 2, 3]}},
        r"^params: arrays have different lengths \(got \[2, 3\]\)\. Give every array one value",
    ),
    (
        "two-dimensional array",
        {"params": {"k": [[1, 2]]}},
        r"^params\['k'\]: expected a scalar or a 1-D array \(got shape \(1, 2\)\)",
    ),
    (
        "NaN parameter",
        {"params": {"k": [1, np.nan]}},
        r"^params\['k'\]: values must be finite \(got \[1, nan\]\)",
    ),
    ("empty array", {"params": {"k": []}}, r"^params: an array is empty \(got length 0\)"),
    (
        "unknown time key",
        {"time": {"stp": 3}},
        r"^time: unknown key 'stp'\. Did you mean 'stop'\? Use start, stop, dt or save_every",
    ),
    (
        "bad time override",
        {"time": {"stop": -1}},
        r"^time: need start < stop and positive dt and save_every \(got start=0\.0, stop=-1\.0",
    ),
    ("chunk", {"chunk": 0}, r"^chunk: must be at least 1 \(got 0\)"),
]


@pytest.mark.parametrize(
    ("arguments", "message"), [c[1:] for c in API_ERRORS], ids=[c[0] for c in API_ERRORS]
)
def test_api_errors_name_the_argument(make_model, arguments, message):
    model = make_model(API_MODEL)
    with pytest.raises(ps.ParameterError, match=message):
        ps.simulate(model, **arguments)


def test_unknown_outputs_are_rejected_with_a_hint(make_model):
    model = make_model(API_MODEL)
    with pytest.raises(
        ps.PsscSimError,
        match=r"^outputs: unknown variable 'cupp'.*"
        r"Did you mean 'cup'\?",
    ):
        ps.simulate(model, outputs=["cupp"])


def test_save_every_must_be_at_least_dt_for_fixed_steps(make_model):
    model = make_model(API_MODEL)
    with pytest.raises(
        ps.PsscSimError,
        match=r"time\.save_every: save_every must be at least "
        r"dt for fixed-step methods \(got "
        r"save_every=0\.3, dt=1\.0\)",
    ):
        ps.simulate(model, time={"save_every": 0.3})


def test_save_every_not_a_multiple_of_dt_saves_the_first_step_on_or_after(make_model):
    model = make_model(API_MODEL)
    every = ps.simulate(model, time={"dt": 0.25})
    rows = ps.simulate(model, time={"dt": 0.25, "save_every": 0.6})
    # Save times 0, 0.6, 1.2, ... fall on the steps 0, 0.75, 1.25, 2.0, ... and stop is last.
    assert rows.times[:5].tolist() == [0.0, 0.75, 1.25, 2.0, 2.5]
    assert rows.times[-1] == 10.0
    np.testing.assert_array_equal(rows["cup"].to_numpy(), every["cup"].loc[rows.times].to_numpy())


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        (["qqqqq"], r"^outputs: unknown variable 'qqqqq'\. Name a stock, flow, auxiliary"),
        (["effect"], r"^outputs: .*'effect' is a lookup"),
        ("cup", r"^outputs: expected a list of names \(got 'cup'\)"),
    ],
)
def test_bad_outputs_are_api_errors_with_a_fix(make_model, outputs, message):
    with pytest.raises(ps.ParameterError, match=message):
        ps.simulate(make_model(API_MODEL), outputs=outputs)


@pytest.mark.parametrize(
    "arguments", [{"params": {"k": "abc"}}, {"time": {"stop": "x"}}, {"time": {"stop": [1, 2]}}]
)
def test_text_values_are_parameter_errors(make_model, arguments):
    with pytest.raises(ps.ParameterError, match=r"^(params\['k'\]|time\['stop'\]): expected "):
        ps.simulate(make_model(API_MODEL), **arguments)


@pytest.mark.parametrize("path", ["models/teacup", Path("models/teacup")])
def test_simulate_takes_a_model_not_a_path(path):
    with pytest.raises(
        ps.ParameterError,
        match=r"^simulate: model: takes a Model \(got a path "
        r"'models/teacup'\)\. Load it first with "
        r"load_model\(path\)$",
    ):
        ps.simulate(path)


def test_results_errors(make_model):
    res = ps.simulate(make_model(API_MODEL))
    with pytest.raises(
        ps.ParameterError,
        match=r"^name: 'cupp' is not in the results\. "
        r"Did you mean 'cup'\?",
    ):
        res["cupp"]
    with pytest.raises(ps.ParameterError, match=r"^i: no member 3 \(got 3, members 0\.\.0\)"):
        res.member(3)
    with pytest.raises(
        ps.ParameterError,
        match=r"^q: quantiles must lie in \[0, 1\] "
        r"\(got \[2\]\)",
    ):
        res.quantiles([2])


def test_exceptions_subclass_the_matching_builtins():
    assert issubclass(ps.ModelError, ValueError)
    assert issubclass(ps.ModelError, ps.PsscSimError)
    assert issubclass(ps.ExpressionError, ps.ModelError)
    assert issubclass(ps.ParameterError, ValueError)
    assert issubclass(ps.SimulationError, RuntimeError)
