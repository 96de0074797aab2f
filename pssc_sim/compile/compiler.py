"""IR -> :class:`CompiledModel`: the stoichiometry matrix and the generated kernel functions."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy

from pssc_sim.compile.codegen import Output, generate_source
from pssc_sim.compile.guard import compile_generated
from pssc_sim.errors import ParameterError, did_you_mean
from pssc_sim.ir.functions import variable_symbol
from pssc_sim.ir.model import FixedDelay, Lookup, Model

Kernel = Callable[..., Any]


@dataclass(frozen=True, slots=True)
class Kernels:
    """The generated kernels, on parameters made by ``CompiledModel.prepare`` (once per run).

    Integrators call these: the terms of parameters alone are then not computed at every step.
    ``bind_rates(clock, y, p, d, dy, dn)`` returns ``rates`` bound to these arrays as a function
    of ``t`` alone, for loops that update the arrays in place; ``bind_full`` likewise returns
    ``full(t, out)``, which also records the outputs into ``out``.
    """

    rates: Kernel
    full: Kernel
    rates_scalar: Kernel
    full_scalar: Kernel
    bind_rates: Kernel
    bind_full: Kernel


@dataclass(frozen=True, slots=True)
class CompiledModel:
    """A model ready to integrate.

    Attributes
    ----------
    model
        The IR it was compiled from.
    N
        The stoichiometry matrix, stocks x flows (``d(stocks)/dt = N @ flows``); a
        ``scipy.sparse.csr_array`` for a model with dimensions.
    outputs
        Names of the recorded outputs, in the row order of ``out``.
    source
        The generated kernel module, for inspection.
    rates, full, rates_scalar, full_scalar
        The kernels on the parameter array (``(n_params, M)``, or a list for one member), as
        documented in :mod:`pssc_sim.compile.codegen`; each call prepares the parameters.
    prepare
        ``prepare(clock, p)``: the parameter array with the rows of the hoisted terms, for the
        kernels of ``prepared``.
    prepared
        The kernels on prepared parameters, which the integrators call at every step.
    """

    model: Model
    N: Any
    outputs: tuple[str, ...]
    source: str
    initial: Kernel
    rates: Kernel
    full: Kernel
    rates_scalar: Kernel
    full_scalar: Kernel
    prepare: Kernel
    prepared: Kernels
    fixed_delays: tuple[int, ...] = field(default=())

    @property
    def n_stocks(self) -> int:
        """Number of stocks, hidden ones included."""
        return len(self.model.stock_names)

    @property
    def n_discrete(self) -> int:
        """Number of discrete states (SAMPLE_IF_TRUE memories and DELAY_FIXED pipelines)."""
        return len(self.model.discrete_names)

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """Names of the parameters, in the row order of the parameter array."""
        return self.model.parameter_names

    def default_parameters(self) -> np.ndarray:
        """The parameter values written in the model, shaped ``(n_params,)``."""
        return np.array(self.model.parameter_values(), dtype=float)


def default_outputs(model: Model) -> list[Output]:
    """Every visible stock, flow and auxiliary, then measures that are not plain variables."""
    outputs = [Output(name, variable_symbol(name)) for name in model.visible_variables()]
    for measure in model.measures:
        if not isinstance(measure.true, sympy.Symbol):
            outputs.append(Output(measure.name, measure.true))
        if measure.reported != measure.true:
            outputs.append(Output(f"{measure.name}.reported", measure.reported))
    return outputs


def select_outputs(model: Model, names: Sequence[str] | None) -> list[Output]:
    """The outputs to record: all by default, or those named (any variable, hidden or not)."""
    available = {o.name: o for o in default_outputs(model)}
    if names is None:
        return list(available.values())
    if isinstance(names, str):
        raise ParameterError(f"outputs: expected a list of names (got {names!r}). "
                             f"Write outputs=[{names!r}]")
    lookups = {lk.name for lk in model.lookups}
    known = {*available, *(item.name for item in model.declarations())} - lookups
    selected = []
    for name in names:
        if name in available:
            selected.append(available[name])
        elif name in known:
            selected.append(Output(name, variable_symbol(name)))
        elif name in lookups:
            raise ParameterError(f"outputs: '{name}' is a lookup, not a variable (got {name!r})."
                                 " Record the variable whose equation calls it")
        else:
            hint = did_you_mean(name, known) or " Name a stock, flow, auxiliary or parameter."
            raise ParameterError(f"outputs: unknown variable '{name}'.{hint}")
    return selected


def kernel_namespace(lookups: Sequence[Lookup]) -> dict[str, Any]:
    """The names generated kernel code may call: numpy, math, and each lookup with its slope.

    Examples
    --------
    >>> from pssc_sim.ir.model import Lookup
    >>> space = kernel_namespace([Lookup("comfort", (0.0, 1.0), (0.0, 2.0))])
    >>> float(space["slope_comfort"](0.5))
    2.0
    """
    space: dict[str, Any] = {
        "np": np, "math": math, "nan": math.nan, "inf": math.inf,
        "_sign": lambda x: (x > 0) - (x < 0),
        "_heaviside": lambda x: 1.0 if x > 0 else (0.5 if x == 0 else 0.0),
    }
    for lookup in lookups:
        space[f"lookup_{lookup.name}"] = lookup
        space[f"slope_{lookup.name}"] = lookup.slope
        space[f"lookup_{lookup.name}_scalar"] = lookup.scalar
        space[f"slope_{lookup.name}_scalar"] = lambda x, s=lookup.slope: float(s(x))
    return space


def compile_model(model: Model, outputs: Sequence[str] | None = None) -> CompiledModel:
    """Compile ``model`` into its kernel functions, recording ``outputs`` (all by default).

    Examples
    --------
    >>> from pssc_sim.parse.model_file import load_model_file
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "m.yaml"
    >>> _ = path.write_text("time: {stop: 1}\\nstocks: {x: 1}\\n"
    ...                     "flows: {out: {from: x, rate: x}}\\n")
    >>> compile_model(load_model_file(path)).N
    array([[-1.]])
    """
    if model.dimensions:
        from pssc_sim.compile.arrays import compile_arrayed  # numpy arrays per dimension

        return compile_arrayed(model, outputs)
    chosen = select_outputs(model, outputs)
    source = generate_source(model, chosen)
    space = kernel_namespace(model.lookups)
    exec(compile_generated(source, "<pssc_sim kernel>", space), space)
    delays = tuple(i for i, s in enumerate(model.discrete) if isinstance(s, FixedDelay))
    prepare = space["prepare"]
    prepared = Kernels(space["rates"], space["full"], space["rates_scalar"], space["full_scalar"],
                       space["bind_rates"], space["bind_full"])
    return CompiledModel(
        model=model,
        N=model.stoichiometry(),
        outputs=tuple(o.name for o in chosen),
        source=source,
        initial=space["initial"],
        rates=_on_parameters(prepared.rates, prepare),
        full=_on_parameters(prepared.full, prepare),
        rates_scalar=_on_parameters(prepared.rates_scalar, _scalar(prepare)),
        full_scalar=_on_parameters(prepared.full_scalar, _scalar(prepare)),
        prepare=prepare,
        prepared=prepared,
        fixed_delays=delays,
    )


def _on_parameters(kernel: Kernel, prepare: Kernel) -> Kernel:
    """``kernel`` called on the parameters as given, preparing them first."""

    def call(t: float, clock: tuple[float, float, float], y: Any, p: Any, *rest: Any) -> Any:
        return kernel(t, clock, y, prepare(clock, p), *rest)

    return call


def _scalar(prepare: Kernel) -> Kernel:
    """``prepare`` on the parameters of one member as a list of floats."""

    def prepare_list(clock: tuple[float, float, float], p: Sequence[float]) -> list[float]:
        prepared: list[float] = prepare(clock, np.array(p, dtype=float)[:, None])[:, 0].tolist()
        return prepared

    return prepare_list
