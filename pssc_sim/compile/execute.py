"""The one place where generated code is run.

Every kernel, Jacobian, breakpoint evaluator and link-score evaluator is Python source printed
from the IR: identifiers checked by the model reader, numbers printed with ``repr(float)`` and
calls from the printer's table. Nothing in it comes from the text of a file, so it never holds
a string. :func:`execute` checks that before running it, as a second line of defence behind the
reader: source that holds a string constant is refused.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

from pssc_sim.errors import ModelError


def check_source(source: str, what: str) -> ast.Module | None:
    """Refuse generated ``source`` if it holds a string constant; its syntax tree if parsed.

    Every string literal is written between quotes, so source without a quote character holds
    none and is not parsed here (``None``: Python's own compiler is faster than building the
    tree in Python, which matters for a model with thousands of elements). Source with a quote
    is parsed with :mod:`ast` and each constant checked.

    Examples
    --------
    >>> check_source("x = 1.5", "kernel") is None
    True
    >>> check_source("x = 1.5  # 'a comment'", "kernel").body[0].__class__.__name__
    'Assign'
    >>> check_source("x = 'text'", "kernel")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    pssc_sim.errors.ModelError: kernel: generated code holds a string constant (got 'text'). ...
    """
    if "'" not in source and '"' not in source:
        return None
    tree = ast.parse(source, filename=f"<pssc_sim {what}>", mode="exec")
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str | bytes):
            raise ModelError(
                f"{what}: generated code holds a string constant (got {node.value!r}). "
                "Generated code is made of names and numbers only; report this model"
            )
    return tree


def execute(source: str, namespace: Mapping[str, Any], what: str) -> dict[str, Any]:
    """Run generated ``source`` in a copy of ``namespace`` and return the names it defined.

    ``what`` names the code in messages and tracebacks (``kernel``, ``jacobian``, ...). The
    source is checked first (:func:`check_source`).

    Examples
    --------
    >>> space = execute("def twice(x):\\n    return 2.0 * x\\n", {}, "example")
    >>> space["twice"](1.5)
    3.0
    """
    tree = check_source(source, what)
    space = dict(namespace)
    exec(compile(source if tree is None else tree, f"<pssc_sim {what}>", "exec"), space)
    return space
