"""hypothesis strategies shared by the property tests: random models and random equations."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml
from hypothesis import strategies as st

#: Parameters every random equation may use, with the range their values are drawn from.
EQUATION_PARAMETERS = ("a", "b", "c")
# Tiny values are rounded to zero: their squares underflow in floating point but not in sympy,
# whose exponent range is wider.
PARAMETER_VALUES = st.floats(-4.0, 4.0, allow_nan=False, allow_infinity=False).map(
    lambda v: 0.0 if abs(v) < 1e-6 else v
)


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
        flows = "\n".join(
            f"  f{j}: {{from: s{a}, to: s{b}, rate: {k!r} * s{a}}}"
            for j, (a, b, k) in enumerate(self.flows)
        )
        return f"time: {{start: 0, stop: 5, dt: {self.dt!r}}}\nstocks:\n{stocks}\n" + (
            f"flows:\n{flows}\n" if flows else ""
        )


@st.composite
def closed_linear_models(draw: st.DrawFn) -> LinearModel:
    """Random stocks (2 to 5) and flows between distinct stocks with rate ``k * source``."""
    n = draw(st.integers(2, 5))
    initials = tuple(
        draw(st.lists(st.floats(0.0, 1e3, allow_subnormal=False), min_size=n, max_size=n))
    )
    pair = st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)).filter(lambda p: p[0] != p[1])
    flows = draw(
        st.lists(
            st.tuples(pair, st.floats(0.0, 1.0, allow_subnormal=False)), min_size=1, max_size=8
        )
    )
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
    return (
        f"time: {{start: 0, stop: {40 * dt!r}, dt: {dt!r}}}\nstocks:\n{stocks}\n"
        "flows:\n" + "\n".join(flows) + "\n"
    )


# -- equations --------------------------------------------------------------------------------

# Denominators of XIDZ/ZIDZ are never a bare conditional: sympy folds a division by a Piecewise
# with a zero branch into zoo (see test_builtins.test_a_guarded_division_by_a_conditional_zero...).
_LEAVES = st.one_of(
    st.sampled_from([*EQUATION_PARAMETERS, "(TIME + a)", "TIME_STEP * b"]),
    st.floats(-3.0, 3.0, allow_nan=False, allow_infinity=False).map(lambda v: repr(round(v, 3))),
)

# Builtins with their domains kept safe: every result is finite for finite arguments.
_UNARY = (
    "ABS({})",
    "SIN({})",
    "COS({})",
    "ARCTAN({})",
    "INTEGER({})",
    "EXP(SIN({}))",
    "SQRT(ABS({}))",
    "LN(1 + ABS({}))",
    "LOG(2 + ABS({}), 3)",
    "-({})",
    "({}) ** 2",
)
_BINARY = (
    "({}) + ({})",
    "({}) - ({})",
    "({}) * ({})",
    "MIN({}, {})",
    "MAX({}, {})",
    "XIDZ({}, b + SIN({}), 7)",
    "ZIDZ({}, c - COS({}))",
    "MODULO({}, 1 + ABS({}))",
    "IF_THEN_ELSE({} > {}, 1, -1)",
    "STEP({}, {})",
    "RAMP({}, {})",
    "POWER(1 + ABS({}), SIN({}))",
)
_TERNARY = (
    "IF_THEN_ELSE({} > 0, {}, {})",
    "MIN({}, {}, {})",
    "MAX({}, {}, {})",
    "RAMP({}, {}, {})",
    "XIDZ({}, a * ({}), {})",
)


def _extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(st.sampled_from(_UNARY), children).map(lambda t: t[0].format(t[1])),
        st.tuples(st.sampled_from(_BINARY), children, children).map(
            lambda t: t[0].format(t[1], t[2])
        ),
        st.tuples(st.sampled_from(_TERNARY), children, children, children).map(
            lambda t: t[0].format(t[1], t[2], t[3])
        ),
    )


#: Random equations over the parameters a, b, c and the clock, built from the pure builtins.
equations = st.recursive(_LEAVES, _extend, max_leaves=8)

#: Values of a, b, c for a few members.
parameter_sets = st.lists(
    st.tuples(PARAMETER_VALUES, PARAMETER_VALUES, PARAMETER_VALUES), min_size=1, max_size=4
)


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


# -- hostile input (the fuzz suite) -------------------------------------------------------------

#: The file that hostile text tries to create: if it ever exists, input ran as code.
CANARY = Path(tempfile.gettempdir()) / f"pssc_fuzz_canary_{os.getpid()}"

#: Ways text could run code if it ever reached eval, exec or a YAML object constructor.
CODE = (
    f"__import__('os').system('touch {CANARY}')",
    f"open('{CANARY}', 'w')",
    f"(lambda: open('{CANARY}', 'w'))()",
    f"[open('{CANARY}', 'w') for _ in [1]]",
    f"f\"{{open('{CANARY}', 'w')}}\"",
    f"exec(\"open('{CANARY}', 'w')\")",
    f'eval(\'open("{CANARY}", "w")\')',
    "().__class__.__bases__[0].__subclasses__()",
    "a.__class__.__init__.__globals__['os'].system('true')",
    f"getattr(__builtins__, 'open')('{CANARY}', 'w')",
    f"SIN.__call__(open('{CANARY}', 'w'))",
    f"(x := open('{CANARY}', 'w'))",
)
#: YAML tags that would build Python objects under an unsafe loader.
CODE_TAGS = (
    f"!!python/object/apply:os.system ['touch {CANARY}']",
    f"!!python/object/new:os.system ['touch {CANARY}']",
    "!!python/name:os.system",
    f"!!python/object/apply:builtins.open ['{CANARY}', 'w']",
)

_NAMES = (
    "a",
    "b",
    "c",
    "x",
    "f",
    "TIME",
    "TIME_STEP",
    "unknown",
    "__import__",
    "__class__",
    "os",
    "open",
    "eval",
    "True",
    "None",
    "lambda",
    "sum",
    "a__b",
    "time",
)
_BUILTIN_CALLS = (
    "SIN",
    "ABS",
    "MAX",
    "MIN",
    "XIDZ",
    "ZIDZ",
    "IF_THEN_ELSE",
    "STEP",
    "RAMP",
    "SMOOTH",
    "DELAY1",
    "DELAY_FIXED",
    "PULSE",
    "MODULO",
    "LN",
    "EXP",
    "SQRT",
    "INTEGER",
    "TARGET",
    "f",
    "max",
    "sin",
    "__import__",
    "getattr",
)
_NUMBERS = (
    "0",
    "1",
    "2.5",
    "-3",
    "1e308",
    "1e999",
    "0x10",
    "1_000",
    "10 ** 400",
    "0.0",
    "999999999999999999999999",
    "1j",
    ".5e-3",
    "nan",
    "inf",
)
_OPERATORS = (
    "+",
    "-",
    "*",
    "/",
    "**",
    "%",
    "//",
    "@",
    "<",
    ">",
    "==",
    "!=",
    "<=",
    ">=",
    "&",
    "|",
    "^",
    "~",
    "<<",
    ">>",
    "and",
    "or",
    "not",
    "if",
    "else",
    "in",
    "is",
    ":=",
)
_PUNCTUATION = (
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    ".",
    ";",
    "=",
    "'",
    '"',
    "f'",
    "\\",
    "\n",
    "\t",
    "#",
    "!",
    "$",
    "?",
    "`",
    "lambda x:",
    "for",
    "yield",
    "await",
)
_TOKENS = st.sampled_from(_NAMES + _BUILTIN_CALLS + _NUMBERS + _OPERATORS + _PUNCTUATION)


def _expression_extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    call = st.tuples(st.sampled_from(_BUILTIN_CALLS), st.lists(children, max_size=4)).map(
        lambda t: f"{t[0]}({', '.join(t[1])})"
    )
    return st.one_of(
        st.tuples(children, st.sampled_from(_OPERATORS[:20]), children).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        st.tuples(st.sampled_from(("-", "+", "not ", "~")), children).map("".join),
        call,
        st.tuples(children, st.sampled_from(("__class__", "real", "system", "__globals__"))).map(
            lambda t: f"{t[0]}.{t[1]}"
        ),
        st.tuples(children, children).map(lambda t: f"{t[0]}[{t[1]}]"),
        children.map(lambda c: f"(lambda: {c})()"),
        children.map(lambda c: f"[{c} for a in b]"),
        children.map(lambda c: f"f'{{{c}}}'"),
        st.tuples(children, children, children).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
    )


@st.composite
def _deep_expressions(draw: st.DrawFn) -> str:
    """Deep nesting and long chains, from a little past the limits to well beyond them."""
    n = draw(st.sampled_from([49, 51, 99, 199, 201, 1000, 3000]))
    kind = draw(st.sampled_from(["parens", "unary", "power", "call", "sum", "product", "ifexp"]))
    if kind == "parens":
        return "(" * n + "a" + ")" * n
    if kind == "unary":
        return draw(st.sampled_from(["-", "not ", "+", "~"])) * n + "a"
    if kind == "power":
        return " ** ".join(["a"] * n)
    if kind == "call":
        return "SIN(" * min(n, 199) + "a" + ")" * min(n, 199)
    if kind == "ifexp":
        return " if b else ".join(["a"] * n)
    operator = "+ -" if kind == "sum" else "* /"
    ops = draw(st.lists(st.sampled_from(operator.split()), min_size=n, max_size=n))
    return "a" + "".join(f" {op} {name}" for op, name in zip(ops, ["b", "c"] * n, strict=False))


#: Arbitrary equation text: token soup, nested syntax of every kind, code, deep nesting.
expression_texts = st.one_of(
    st.lists(_TOKENS, max_size=12).map(" ".join),
    st.lists(_TOKENS, max_size=12).map("".join),
    st.recursive(st.sampled_from(_NAMES + _NUMBERS), _expression_extend, max_leaves=6),
    st.sampled_from(CODE),
    _deep_expressions(),
    st.text(max_size=30),
)

_MODEL_KEYS = (
    "model",
    "title",
    "description",
    "time",
    "parameters",
    "stocks",
    "flows",
    "auxiliaries",
    "lookups",
    "measures",
    "include",
    "dimensions",
)
_ENTRY_KEYS = (
    "value",
    "initial",
    "rate",
    "from",
    "to",
    "equation",
    "points",
    "x",
    "y",
    "extrapolation",
    "units",
    "range",
    "distribution",
    "non_negative",
    "perspective",
    "better",
    "true",
    "reported",
    "kind",
    "mean",
    "sd",
    "start",
    "stop",
    "dt",
    "save_every",
    "mechanism",
    "inputs",
    "prefix",
)
_SCENARIO_KEYS = (
    "scenario",
    "model",
    "extends",
    "description",
    "time",
    "method",
    "set",
    "interventions",
    "uncertainty",
    "outputs",
    "targets",
    "culture",
    "mechanisms",
    "members",
    "sampling",
    "seed",
    "parameters",
    "step",
    "ramp",
    "pulse",
    "series",
    "at",
    "by",
    "from",
    "until",
    "width",
    "points",
    "measure",
    "value",
    "low",
    "high",
    "distribution",
)
_KEYS = st.sampled_from(_MODEL_KEYS + _ENTRY_KEYS + _SCENARIO_KEYS + _NAMES) | st.text(max_size=8)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True),
    st.sampled_from(("teacup", "euler", "uniform", "flat", "a", "x", "s0", "1e400", "-inf")),
    expression_texts,
    st.text(max_size=10),
)


def _document_extend(children: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.one_of(st.lists(children, max_size=4), st.dictionaries(_KEYS, children, max_size=5))


#: Arbitrary documents built from the keys of the model and scenario schemas.
documents = st.recursive(_SCALARS, _document_extend, max_leaves=20)


@st.composite
def model_documents(draw: st.DrawFn) -> dict[str, object]:
    """Model-shaped documents: known sections holding named entries of known fields."""
    document: dict[str, object] = {}
    for key in draw(st.lists(st.sampled_from(_MODEL_KEYS), unique=True, max_size=7)):
        if key in ("parameters", "stocks", "flows", "auxiliaries", "lookups", "measures"):
            entry = st.dictionaries(st.sampled_from(_ENTRY_KEYS), _SCALARS | documents, max_size=4)
            document[key] = draw(
                st.dictionaries(st.sampled_from(_NAMES), entry | _SCALARS, max_size=4)
            )
        elif key == "time":
            document[key] = draw(
                st.dictionaries(st.sampled_from(("start", "stop", "dt")), _SCALARS, max_size=3)
            )
        else:
            document[key] = draw(documents)
    return document


@st.composite
def aliased_texts(draw: st.DrawFn) -> str:
    """Flow-style YAML with anchors and aliases (some defined later than used, or recursive)."""
    anchors: list[str] = []

    def node(depth: int) -> str:
        choice = draw(st.integers(0, 5 if depth < 6 else 1))
        if choice == 0 or (choice == 1 and not anchors):
            return draw(st.sampled_from(_NAMES + _NUMBERS + CODE[:2]))
        if choice == 1:
            return "*" + draw(st.sampled_from(anchors))
        anchor = f"a{len(anchors)}"
        anchors.append(anchor)
        children = [node(depth + 1) for _ in range(draw(st.integers(0, 9)))]
        if choice in (2, 3):
            return f"&{anchor} [{', '.join(children)}]"
        keys = draw(
            st.lists(
                st.sampled_from(_MODEL_KEYS + _ENTRY_KEYS),
                min_size=len(children),
                max_size=len(children),
            )
        )
        pairs = ", ".join(f"{k}: {v}" for k, v in zip(keys, children, strict=True))
        return f"&{anchor} {{{pairs}}}"

    return node(0)


#: Arbitrary YAML text: random characters, dumped documents, anchors and aliases, code tags.
yaml_texts = st.one_of(
    st.text(alphabet=st.sampled_from("abx01:-[]{}&*!|>'\"#%@`,?. \n\t"), max_size=80),
    st.text(max_size=60),
    documents.map(lambda d: yaml.safe_dump(d, allow_unicode=True)),
    model_documents().map(lambda d: yaml.safe_dump(d, default_flow_style=False)),
    aliased_texts().map(lambda text: f"model: fuzz\ntime: {{stop: 1}}\nstocks: {text}\n"),
    aliased_texts(),
    st.sampled_from(CODE_TAGS).map(lambda tag: f"model: fuzz\nstocks: {{x: {tag}}}\n"),
)


# Vensim and XMILE text for the pre-check of imported models.

#: The control block every generated Vensim model ends with.
VENSIM_CONTROLS = (
    "INITIAL TIME = 0 ~~|\nFINAL TIME = 1 ~~|\nTIME STEP = 0.5 ~~|\nSAVEPER = 0.5 ~~|\n"
)
_RANGE_NUMBERS = st.one_of(
    st.integers(-(10**6), 10**6).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["1e+006", "-.5", "2.", "+3", "1E-3", "0"]),
)
_RANGE_PAIRS = st.tuples(_RANGE_NUMBERS, _RANGE_NUMBERS).map(lambda p: f"({p[0]},{p[1]})")
#: What may stand between a lookup's "(" and its range's "[": spaces, tabs, continued lines.
range_openers = st.sampled_from(["(", "( ", "(\t", "(\\\n", "( \\\n\t", "(\\\n\\\n  "])
#: A lookup range of plain numbers, with reference points or not.
numeric_ranges = st.builds(
    lambda a, b, refs: f"[{a}-{b}{''.join(',' + r for r in refs)}]",
    _RANGE_PAIRS,
    _RANGE_PAIRS,
    st.lists(_RANGE_PAIRS, max_size=2),
)
#: Code in each place of a range where the translator would evaluate it.
code_ranges = st.one_of(
    st.sampled_from(CODE).map(lambda code: f"[({code},0)-(1,1)]"),
    st.sampled_from(CODE).map(lambda code: f"[(0,0)-(1,{code})]"),
    st.sampled_from(CODE).map(lambda code: f"[(0,0)-(1,1),({code},1)]"),
    st.sampled_from(CODE).map(lambda code: f"[{code}]"),
)
#: Text of a lookup range from "[": plain numbers, code in every position, or anything at all.
range_texts = st.one_of(
    numeric_ranges,
    code_ranges,
    st.text(
        alphabet=st.sampled_from("()[]-,.0123456789eE+ \t\n\\_'\"aosx:;|~=*/"), max_size=40
    ).map(lambda text: "[" + text),
)
_LOOKUP_POINTS = st.sampled_from(["(0,0),(1,1)", "(0,0),(0.5,2),(1,1)", "(1,1)", ""])


@st.composite
def vensim_texts(draw: st.DrawFn) -> str:
    """A Vensim model whose lookup (a definition or a ``WITH LOOKUP``) has a generated range."""
    opener, text, points = draw(range_openers), draw(range_texts), draw(_LOOKUP_POINTS)
    if draw(st.booleans()):
        element = f"table{opener}{text},{points}) ~~|\ny = table(Time) ~~|\n"
    else:
        element = f"y = WITH LOOKUP(Time, {opener}{text},{points})) ~~|\n"
    noise = draw(st.sampled_from(["", "{UTF-8}\n", "x = y * 2 ~ unit ~ note |\n"]))
    return noise + element + VENSIM_CONTROLS


#: Vensim-like text of arbitrary shape around brackets, with the controls appended or not.
vensim_noise = st.tuples(
    st.text(alphabet=st.sampled_from("()[]-,.019eE+ \n\\_'\"abxy=~|:{}*"), max_size=120),
    st.booleans(),
).map(lambda pair: pair[0] + (VENSIM_CONTROLS if pair[1] else ""))

XMILE_HEAD = (
    '<xmile version="1.0" xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0">'
    "<header><name>fuzz</name></header>"
    "<sim_specs><start>0</start><stop>2</stop><dt>1</dt></sim_specs>"
)
_XMILE_WORDS = st.one_of(
    st.sampled_from(["1", "0.5", "-3", "Water * 2", "IF TIME > 1 THEN 1 ELSE 0", "v0 + 1"]),
    st.sampled_from(["", "x", "&amp;", "&lt;", "]]>", "<", "&e;", "&#0;", "\u00e9", "\ufeff"]),
    st.sampled_from(CODE),
)
_XMILE_NAMES = st.one_of(
    st.sampled_from(["v", "Water", "Fill rate"]),
    st.sampled_from(["a b", "x\n", "", "1x", *CODE[:2]]),
)
_DECLARATIONS = st.one_of(
    st.sampled_from(["", '<?xml version="1.0" encoding="utf-8"?>\n', "<?xml version='1.0'?>"]),
    st.sampled_from(
        [
            '<?xml version="1.0" encoding="latin-1"?>',
            '<?xml version="1.0" encoding="UTF-16"?>',
            '<!DOCTYPE xmile [<!ENTITY e "x">]>',
            "<!doctype xmile>",
            '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>',
            '<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>',
        ]
    ),
)


@st.composite
def xmile_fragments(draw: st.DrawFn) -> bytes:
    """An XMILE file: declarations, variables whose equations, names and graphical-function
    scales are generated (code among them), and sometimes bytes that are not UTF-8 text."""
    variables = []
    for i in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["aux", "stock", "flow"]))
        name = draw(_XMILE_NAMES) + str(i)
        equation = draw(_XMILE_WORDS)
        extra = ""
        if draw(st.booleans()):
            low, high = draw(_XMILE_WORDS), draw(_XMILE_WORDS)
            extra = f'<gf><xscale min="{low}" max="{high}"/><ypts>{draw(_XMILE_WORDS)}</ypts></gf>'
        variables.append(f'<{kind} name="{name}"><eqn>{equation}</eqn>{extra}</{kind}>')
    text = (
        draw(_DECLARATIONS)
        + XMILE_HEAD
        + "<model><variables>"
        + "".join(variables)
        + "</variables></model></xmile>"
    )
    data = text.encode("utf-8")
    if draw(st.integers(0, 3)) == 0:
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(max_size=4)) + data[at:]
    return data
