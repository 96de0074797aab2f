"""The one place where generated code is run.

Every kernel, Jacobian, breakpoint evaluator and link-score evaluator is Python source printed
from the IR: identifiers checked by the model reader, numbers printed with ``repr(float)`` and
calls from the printer's table. Nothing in it comes from the text of a file, so it never holds
a string. :func:`execute` checks that before running it, as a second line of defence behind the
reader: :func:`~pssc_sim.compile.guard.compile_generated` refuses source that holds a string
constant, a name it neither defines nor is given, a dunder or private attribute, an import or
any statement a kernel never needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pssc_sim.compile.guard import compile_generated


def execute(
    source: str, namespace: Mapping[str, Any], what: str, filename: str | None = None
) -> dict[str, Any]:
    """Run generated ``source`` in a copy of ``namespace`` and return the names it defined.

    ``what`` names the code in messages and tracebacks (``kernel``, ``jacobian``, ...), unless
    ``filename`` is given: the file the same source was written to (numba's cache of compiled
    functions is keyed by it). The source is checked first
    (:func:`~pssc_sim.compile.guard.compile_generated`).

    Examples
    --------
    >>> space = execute("def twice(x):\\n    return 2.0 * x\\n", {}, "example")
    >>> space["twice"](1.5)
    3.0
    """
    space = dict(namespace)
    exec(compile_generated(source, filename or f"<pssc_sim {what}>", space), space)
    return space
