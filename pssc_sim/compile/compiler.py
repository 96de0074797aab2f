"""IR -> :class:`CompiledModel`: the stoichiometry matrix and the generated kernel functions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pssc_sim.compile.codegen import kernel_generator
from pssc_sim.compile.compiled import (
    Clock,
    CompiledModel,
    FullKernel,
    Kernels,
    Prepare,
    RatesKernel,
    ScalarFull,
    ScalarRates,
)
from pssc_sim.compile.execute import execute
from pssc_sim.compile.layout import Layout, default_outputs, select_outputs
from pssc_sim.compile.loop import loop_writer
from pssc_sim.compile.runtime import kernel_namespace
from pssc_sim.errors import ExpressionError
from pssc_sim.ir.conditions import UnsettledConditionError
from pssc_sim.ir.model import Model

__all__ = [
    "CompiledModel",
    "compile_model",
    "default_outputs",
    "kernel_namespace",
    "select_outputs",
]


def compile_model(model: Model, outputs: Sequence[str] | None = None) -> CompiledModel:
    """Compile ``model`` into its kernel functions, recording ``outputs`` (all by default).

    Examples
    --------
    >>> from pssc_sim.parse.documents import load_model_file
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "m.yaml"
    >>> _ = path.write_text("time: {stop: 1}\\nstocks: {x: 1}\\n"
    ...                     "flows: {out: {from: x, rate: x}}\\n")
    >>> compile_model(load_model_file(path)).N
    array([[-1.]])

    A model with dimensions records each element, and its matrix is sparse:

    >>> _ = path.write_text("time: {stop: 1}\\ndimensions: {g: [a, b]}\\n"
    ...                     "stocks: {x: {dims: [g], initial: 1}}\\n"
    ...                     "flows: {out: {from: x, rate: x}}\\n")
    >>> compiled = compile_model(load_model_file(path))
    >>> compiled.outputs, compiled.N.toarray().tolist()
    (('x[a]', 'x[b]', 'out[a]', 'out[b]'), [[-1.0, 0.0], [0.0, -1.0]])
    """
    chosen = select_outputs(model, outputs)
    try:
        generator = kernel_generator(model, chosen)
        source = generator.source()
    except (RecursionError, UnsettledConditionError):
        # sympy rewrites a condition rebuilt by the code generator without end; the parser
        # settles every condition it builds (pssc_sim.ir.conditions), so this is a last guard
        raise ExpressionError(
            f"{model.source or model.name}: an equation cannot be compiled: sympy keeps "
            "rewriting one of its conditions (got RecursionError). Move one side of the "
            "comparison into an auxiliary"
        ) from None
    space = execute(source, kernel_namespace(model.lookups), "kernel")
    labels = tuple(label for o in chosen for label in o.columns)
    prepare: Prepare = space["prepare"]
    rates_scalar: ScalarRates
    full_scalar: ScalarFull
    if model.dimensions:
        rates_scalar, full_scalar = _on_one_member(
            space["rates"], space["full"], model, len(labels)
        )
    else:
        rates_scalar, full_scalar = space["rates_scalar"], space["full_scalar"]
    prepared = Kernels(
        space["rates"],
        space["full"],
        rates_scalar,
        full_scalar,
        space["bind_rates"],
        space["bind_full"],
    )
    return CompiledModel(
        model=model,
        N=model.sparse_stoichiometry() if model.dimensions else model.stoichiometry(),
        outputs=labels,
        source=source,
        initial=space["initial"],
        rates=_on_parameters(prepared.rates, prepare),
        full=_on_parameters(prepared.full, prepare),
        rates_scalar=_on_parameters(prepared.rates_scalar, _scalar(prepare)),
        full_scalar=_on_parameters(prepared.full_scalar, _scalar(prepare)),
        prepare=prepare,
        prepared=prepared,
        fixed_delays=Layout.of(model).fixed_delay_rows(),
        write_loop=loop_writer(generator),
    )


def _on_parameters(kernel: Any, prepare: Any) -> Any:
    """``kernel`` called on the parameters as given, preparing them first."""

    def call(t: float, clock: Clock, y: Any, p: Any, *rest: Any) -> Any:
        return kernel(t, clock, y, prepare(clock, p), *rest)

    return call


def _scalar(prepare: Prepare) -> Any:
    """``prepare`` on the parameters of one member as a list of floats."""

    def prepare_list(clock: Clock, p: Sequence[float]) -> list[float]:
        prepared: list[float] = prepare(clock, np.array(p, dtype=float)[:, None])[:, 0].tolist()
        return prepared

    return prepare_list


def _on_one_member(
    rates: RatesKernel, full: FullKernel, model: Model, n_outputs: int
) -> tuple[ScalarRates, ScalarFull]:
    """``rates_scalar`` and ``full_scalar`` of a model with dimensions: its numpy kernels on
    one member, taking and returning lists."""
    n_stocks, n_discrete = len(model.stock_names), len(model.discrete_names)

    def arrays(y: Sequence[float], p: Sequence[float], d: Sequence[float]) -> tuple[Any, ...]:
        return (
            np.array(y, dtype=float)[:, None],
            np.array(p, dtype=float)[:, None],
            np.array(d, dtype=float).reshape(n_discrete, 1),
        )

    def rates_scalar(
        t: float,
        clock: Clock,
        y: Sequence[float],
        p: Sequence[float],
        d: Sequence[float],
    ) -> tuple[list[float], list[float]]:
        ya, pa, da = arrays(y, p, d)
        dy, dn = np.empty((n_stocks, 1)), np.empty((n_discrete, 1))
        rates(t, clock, ya, pa, da, dy, dn)
        return dy[:, 0].tolist(), dn[:, 0].tolist()

    def full_scalar(
        t: float,
        clock: Clock,
        y: Sequence[float],
        p: Sequence[float],
        d: Sequence[float],
    ) -> tuple[list[float], list[float], list[float]]:
        ya, pa, da = arrays(y, p, d)
        dy, dn = np.empty((n_stocks, 1)), np.empty((n_discrete, 1))
        out = np.empty((n_outputs, 1))
        full(t, clock, ya, pa, da, dy, dn, out)
        return dy[:, 0].tolist(), dn[:, 0].tolist(), out[:, 0].tolist()

    return rates_scalar, full_scalar
