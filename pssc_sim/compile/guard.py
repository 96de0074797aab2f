"""The one way generated source becomes code: parsed, checked against what a code generator
writes, then compiled.

Generated modules hold only identifiers that passed the name rule, numbers the printer wrote
and fixed text of the generators themselves. This check is a second line behind that rule: it
refuses, before anything runs, a module with a string constant the generators do not write, a
name that is neither defined in the module nor given in its namespace, a dunder or private
attribute, an import, or a statement a kernel never needs. A refusal is a bug of pssc_sim, not of
the model, and says so.

Comments are not in the syntax tree; the generators write only fixed comments (tests check that
no comment of a generated module holds text from a model file).
"""

from __future__ import annotations

import ast
import builtins
import re
from collections.abc import Iterable
from types import CodeType

from pssc_sim.errors import ModelError

# fmt: off
#: The strings generated code may hold: none (the generators write names and numbers only).
STRINGS: frozenset[str] = frozenset()
#: Builtins generated code may call.
BUILTINS = frozenset({"abs", "min", "max", "map", "range", "len", "float", "int", "tuple",
                      "list", "zip", "sum", "enumerate", "bool", "round", "pow", "slice"})
#: Attributes that reach files, processes or other modules; never generated.
FORBIDDEN_ATTRIBUTES = frozenset({
    "load", "loads", "save", "savez", "savez_compressed", "savetxt", "loadtxt", "genfromtxt",
    "fromfile", "tofile", "fromregex", "memmap", "ctypeslib", "lib", "testing", "f2py",
    "distutils", "DataSource", "system", "popen", "open", "dump", "dumps", "exec", "eval",
    "compile", "import_module"})
# every builtin but those above, whether or not the module shadows it
_OTHER_BUILTINS = frozenset(n for n in dir(builtins) if not n.startswith("_")) - BUILTINS
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ATTRIBUTE = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_NODES: tuple[type[ast.AST], ...] = (
    ast.Module, ast.FunctionDef, ast.arguments, ast.arg, ast.Return, ast.Assign, ast.AugAssign,
    ast.AnnAssign, ast.Delete, ast.If, ast.For, ast.With, ast.withitem, ast.Expr, ast.Pass,
    ast.Name, ast.Attribute, ast.Subscript, ast.Slice, ast.Starred, ast.Tuple, ast.List,
    ast.Constant, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp, ast.Call,
    ast.keyword, ast.Lambda, ast.ListComp, ast.GeneratorExp, ast.comprehension,
    ast.expr_context, ast.operator, ast.unaryop, ast.boolop, ast.cmpop,
)
# fmt: on
_NUMBERS = (int, float, complex, bool, type(None), type(Ellipsis))


def compile_generated(source: str, filename: str, namespace: Iterable[str]) -> CodeType:
    """Compile generated ``source`` after checking it (see the module docstring).

    ``namespace`` names what the module is executed with (``np``, lookup functions, ...).

    Examples
    --------
    >>> code = compile_generated("def f(x):\\n    return np.exp(x)\\n", "<f>", ["np"])
    >>> compile_generated("f = __import__('os')\\n", "<f>", [])
    Traceback (most recent call last):
    ...
    pssc_sim.errors.ModelError: internal: generated code <f> holds the name '__import__' (got line \
1). Report this as a bug: generated code holds only names and numbers
    """
    where = f"internal: generated code {filename}"
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as exc:
        raise ModelError(
            f"{where} is not valid Python (got {exc.msg} at line {exc.lineno}). "
            "Report this as a bug"
        ) from None
    nodes = list(ast.walk(tree))
    allowed = _defined_names(nodes) | set(namespace) | BUILTINS
    for node in nodes:
        problem = _problem(node, allowed)
        if problem:
            line = getattr(node, "lineno", "?")
            raise ModelError(
                f"{where} holds {problem} (got line {line}). Report this as a bug: "
                "generated code holds only names and numbers"
            )
    return compile(tree, filename, "exec")


def _defined_names(nodes: list[ast.AST]) -> set[str]:
    """Names the module defines: functions, their arguments and assigned variables."""
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.FunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.id)
    return names


def _problem(node: ast.AST, allowed: set[str]) -> str:
    """What is wrong with ``node`` in generated code, or ``""``."""
    if not isinstance(node, _NODES):
        return f"a {type(node).__name__} statement or expression"
    if isinstance(node, ast.Constant):
        if isinstance(node.value, str) and node.value in STRINGS:
            return ""
        if not isinstance(node.value, _NUMBERS):
            return (
                f"the string {node.value!r}"[:120]
                if isinstance(node.value, str)
                else (f"a {type(node.value).__name__} constant")
            )
    if isinstance(node, ast.Name):
        return _name_problem(node.id, allowed)
    if isinstance(node, ast.FunctionDef | ast.arg):
        name = node.name if isinstance(node, ast.FunctionDef) else node.arg
        return _name_problem(name, allowed)
    if isinstance(node, ast.Attribute) and (
        not _ATTRIBUTE.fullmatch(node.attr) or node.attr in FORBIDDEN_ATTRIBUTES
    ):
        return f"the attribute {node.attr!r}"
    return ""


def _name_problem(name: str, allowed: set[str]) -> str:
    if not _NAME.fullmatch(name) or name.startswith("__") or name not in allowed:
        return f"the name {name!r}"
    if name in _OTHER_BUILTINS:  # even where the module defines it: another function may not
        return f"the builtin {name!r}"
    return ""
