"""The Jacobian ``d(stock rates)/d(stocks)`` of a model, derived symbolically and generated as code.

Implicit solvers (BDF, Radau, the stiff mode of LSODA) solve linear systems with the Jacobian at
every step. Without it they estimate it by finite differences, and on a flattened ensemble they
would estimate a dense ``(stocks x members)^2`` matrix. The Jacobian of one member is derived
here from the IR by the chain rule through the flows and auxiliaries in evaluation order
(forward mode: each algebraic variable gets one local per stock it depends on), keeping only the
structurally non-zero entries; the ensemble Jacobian is block diagonal with that pattern.

The generated function is ``jacobian(t, clock, y, p, d, values)``: it writes entry ``j`` of the
pattern, for every member, into ``values[j]`` (shape ``(n_entries, n_members)``).

Derivatives of piecewise-constant functions (``floor``, ``INTEGER``, ``sign``, ``Heaviside``,
lookups with discrete steps) are zero; ``Mod(a, m)`` has derivative ``a' - floor(a/m) m'``;
``MIN``/``MAX`` give ``Heaviside`` and lookups their slope. When a model uses a function whose
derivative cannot be generated, only the pattern is kept and the solver estimates the entries by
finite differences on it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import sympy

from pssc_sim.compile.equations import (
    algebraic_equations,
    local_name,
    needed,
    stock_rates,
    symbol_names,
)
from pssc_sim.compile.execute import execute
from pssc_sim.compile.printer import Dialect, Printer
from pssc_sim.compile.rows import SLACK, SLACK_BINDING
from pssc_sim.compile.runtime import kernel_namespace
from pssc_sim.errors import ModelError
from pssc_sim.ir.functions import INTEGER, variable_symbol
from pssc_sim.ir.model import Model

if TYPE_CHECKING:
    from pssc_sim.compile.compiled import Clock

_PIECEWISE_CONSTANT = (sympy.floor, sympy.ceiling, INTEGER, sympy.sign, sympy.Heaviside)

#: d(variable)/d(stock k), by stock index, for every stock and algebraic variable so far.
Gradients = dict[sympy.Symbol, dict[int, sympy.Expr]]


class NotDerivableError(Exception):
    """An expression has no derivative that code can be generated for."""


@dataclass(frozen=True, slots=True, eq=False)
class JacobianKernel:
    """The Jacobian of one member: its sparsity pattern and, when derivable, its code.

    Attributes
    ----------
    n_stocks
        Size of the (square) Jacobian of one member.
    rows, cols
        Stock indices of the structurally non-zero entries ``d(rate[row])/d(stock[col])``.
    source
        The generated module, or ``None`` when only the pattern is known.
    function
        ``jacobian(t, clock, y, p, d, values)``, or ``None`` when only the pattern is known.
    """

    n_stocks: int
    rows: np.ndarray
    cols: np.ndarray
    source: str | None
    function: Any

    @property
    def n_entries(self) -> int:
        """Number of structurally non-zero entries of one member's Jacobian."""
        return int(self.rows.size)

    def evaluate(self, t: float, clock: Clock, y: np.ndarray, p: np.ndarray) -> np.ndarray:
        """Entry values shaped ``(n_entries, n_members)`` at stocks ``y`` ``(n_stocks, M)``."""
        if self.function is None:
            raise ModelError(
                "internal: this model's Jacobian has no generated code. "
                "Use the pattern with finite differences"
            )
        values = np.empty((self.n_entries, y.shape[1]))
        self.function(t, clock, y, p, np.empty((0, y.shape[1])), values)
        return values

    def dense(self, values: np.ndarray) -> np.ndarray:
        """One member's Jacobian as a dense matrix, from ``values[:, member]``."""
        matrix = np.zeros((self.n_stocks, self.n_stocks))
        matrix[self.rows, self.cols] = values
        return matrix


def jacobian_kernel(model: Model) -> JacobianKernel:
    """Derive and generate the Jacobian of ``model``.

    A compiled model carries its Jacobian (``CompiledModel.jacobian``), derived on first use.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> from pssc_sim.parse import load_model
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "m.yaml"
    >>> _ = path.write_text("time: {stop: 1}\\nparameters: {k: 2}\\nstocks: {x: 3, z: 1}\\n"
    ...                     "flows: {f: {from: x, to: z, rate: k * x * z}}\\n")
    >>> jac = jacobian_kernel(load_model(path))
    >>> values = jac.evaluate(0.0, (1.0, 0.0, 1.0), np.array([[3.0], [1.0]]), np.array([[2.0]]))
    >>> jac.dense(values[:, 0]).tolist()
    [[-2.0, -6.0], [2.0, 6.0]]
    """
    equations = algebraic_equations(model)
    rates = stock_rates(model)
    order = needed(equations, rates)
    entries = _pattern(model, equations, order, rates)
    rows = np.array([i for i, _ in entries], dtype=np.int64)
    cols = np.array([k for _, k in entries], dtype=np.int64)
    try:
        source = jacobian_source(model, equations, order, rates, entries)
    except (NotDerivableError, ModelError):
        return JacobianKernel(len(model.stocks), rows, cols, None, None)
    space = execute(source, kernel_namespace(model.lookups), "jacobian")
    return JacobianKernel(len(model.stocks), rows, cols, source, space["jacobian"])


def _pattern(
    model: Model,
    equations: Mapping[str, sympy.Expr],
    order: Sequence[str],
    rates: Sequence[sympy.Expr],
) -> list[tuple[int, int]]:
    """Structurally non-zero ``(row, col)`` entries, from which stocks each variable reads."""
    depends: dict[sympy.Symbol, set[int]] = {
        variable_symbol(name): {k} for k, name in enumerate(model.stock_names)
    }
    for name in order:
        symbols = equations[name].free_symbols
        depends[variable_symbol(name)] = set().union(*(depends.get(s, set()) for s in symbols))
    return [
        (i, k)
        for i, rate in enumerate(rates)
        for k in sorted(set().union(*(depends.get(s, set()) for s in rate.free_symbols)))
    ]


def jacobian_source(
    model: Model,
    equations: Mapping[str, sympy.Expr],
    order: Sequence[str],
    rates: Sequence[sympy.Expr],
    entries: Sequence[tuple[int, int]],
) -> str:
    """The Python source of ``jacobian(t, clock, y, p, d, values)`` for ``entries``."""
    names = symbol_names(model)
    gradients: Gradients = {
        variable_symbol(s): {k: sympy.S.One} for k, s in enumerate(model.stock_names)
    }
    assignments: list[tuple[str, sympy.Expr]] = []
    for name in order:
        assignments += _chain_rule(variable_symbol(name), equations[name], gradients, names)
    for j, (i, k) in enumerate(entries):
        value = sympy.Add(
            *(_gradient(gradients, s, k) * rates[i].coeff(s) for s in rates[i].free_symbols)
        )
        assignments.append((f"values[{j}]", value))
    values = needed(equations, [e for _, e in assignments])
    assignments = [(local_name(n), equations[n]) for n in values] + assignments
    printer = Printer(Dialect.NUMPY, names)
    lines = [f"{target} = {printer(e) if e != 0 else '0.0'}" for target, e in assignments]
    return _function(model, lines)


def _gradient(gradients: Gradients, symbol: sympy.Symbol, k: int) -> sympy.Expr:
    return gradients.get(symbol, {}).get(k, sympy.S.Zero)


def _chain_rule(
    symbol: sympy.Symbol, equation: sympy.Expr, gradients: Gradients, names: dict[sympy.Symbol, str]
) -> list[tuple[str, sympy.Expr]]:
    """The gradient of one variable: a local per stock it depends on, unless trivial."""
    totals: dict[int, list[sympy.Expr]] = {}
    for argument in sorted(equation.free_symbols & gradients.keys(), key=sympy.default_sort_key):
        partial = derivative(equation, argument)
        if partial != 0:
            for k, inner in gradients[argument].items():
                totals.setdefault(k, []).append(partial * inner)
    gradients[symbol] = {}
    assignments = []
    for k, terms in sorted(totals.items()):
        total = sympy.Add(*terms)
        if total.is_Number or total.is_Symbol:
            gradients[symbol][k] = total
            continue
        local = sympy.Symbol(f"j_{k}_{symbol.name}")
        names[local] = local.name
        gradients[symbol][k] = local
        assignments.append((local.name, total))
    return assignments


def derivative(expr: sympy.Expr, symbol: sympy.Symbol) -> sympy.Expr:
    """``d(expr)/d(symbol)`` with the derivatives sympy leaves unevaluated worked out.

    Examples
    --------
    >>> x, m = sympy.symbols("x m", real=True)
    >>> derivative(sympy.Mod(3 * x, m) + sympy.floor(x) + sympy.Abs(x), x)
    sign(x) + 3
    """
    result = sympy.diff(expr, symbol).replace(sympy.DiracDelta, lambda *args: sympy.S.Zero)
    result = result.xreplace({d: _evaluate(d) for d in result.atoms(sympy.Derivative)})
    # sympy's chain rule wraps an unevaluated inner derivative in Subs; substitute it now.
    return result.xreplace({s: s.doit() for s in result.atoms(sympy.Subs)})


def _evaluate(node: sympy.Derivative) -> sympy.Expr:
    inner, variables = node.expr, node.variables
    if len(variables) != 1:
        raise NotDerivableError(str(node))
    if isinstance(inner, _PIECEWISE_CONSTANT):
        return sympy.S.Zero
    if isinstance(inner, sympy.Mod):
        argument, modulus = inner.args
        return derivative(argument, variables[0]) - sympy.floor(argument / modulus) * derivative(
            modulus, variables[0]
        )
    raise NotDerivableError(str(node))


def _function(model: Model, lines: list[str]) -> str:
    printer = Printer(Dialect.NUMPY, symbol_names(model))
    text = "\n".join(lines)
    loads = [
        f"{printer(variable_symbol(n))} = {array}[{i}]"
        for array, group in (
            ("y", model.stock_names),
            ("p", model.parameter_names),
            ("d", tuple(s.name for s in model.discrete)),
        )
        for i, n in enumerate(group)
        if local_name(n) in text
    ]
    slack = [SLACK_BINDING] if SLACK.search(text) else []
    body = ["dt, t0, t1 = clock[:3]", *slack, *loads, *lines]
    return "def jacobian(t, clock, y, p, d, values):\n" + "".join(f"    {line}\n" for line in body)
