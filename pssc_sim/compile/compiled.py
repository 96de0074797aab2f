""":class:`CompiledModel`: a model ready to integrate, and the typed kernels it carries.

The kernels are generated functions (see :mod:`pssc_sim.compile.codegen`); the protocols below
are their signatures, so integrators are checked against them. ``clock`` is
``(dt, start, stop)``, or ``(dt, start, stop, slack)`` with the value of ``SWITCH_SLACK`` (1 when
absent: Vensim's tolerances; the adaptive methods give 0); arrays are shaped
``(rows, n_members)``.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from pssc_sim.compile.block_loop import CompiledBlockLoop, block_key, compile_block_loop
from pssc_sim.compile.layout import select_outputs
from pssc_sim.compile.loop import (
    CompiledLoop,
    compile_loop,
    generate_loop_source,
    loop_key,
    unsupported_reason,
)
from pssc_sim.ir.model import Model

if TYPE_CHECKING:  # imported on first use: only the adaptive methods need them
    from pssc_sim.compile.breakpoints import BreakpointPlan
    from pssc_sim.compile.jacobian import JacobianKernel

Clock = tuple[float, float, float] | tuple[float, float, float, float]


class Initial(Protocol):
    """``initial(clock, p, y0, d0, delays)``: writes the initial stocks, discrete states and
    DELAY_FIXED delay times of every member."""

    def __call__(
        self, clock: Clock, p: np.ndarray, y0: np.ndarray, d0: np.ndarray, delays: np.ndarray, /
    ) -> None: ...


class Prepare(Protocol):
    """``prepare(clock, p)``: the parameters with the rows of the hoisted terms."""

    def __call__(self, clock: Clock, p: np.ndarray, /) -> np.ndarray: ...


class RatesKernel(Protocol):
    """``rates(t, clock, y, p, d, dy, dn)``: writes the stock rates and discrete updates."""

    def __call__(
        self,
        t: float,
        clock: Clock,
        y: np.ndarray,
        p: np.ndarray,
        d: np.ndarray,
        dy: np.ndarray,
        dn: np.ndarray,
        /,
    ) -> None: ...


class FullKernel(Protocol):
    """``full(t, clock, y, p, d, dy, dn, out)``: as ``rates``, and records the outputs."""

    def __call__(
        self,
        t: float,
        clock: Clock,
        y: np.ndarray,
        p: np.ndarray,
        d: np.ndarray,
        dy: np.ndarray,
        dn: np.ndarray,
        out: np.ndarray,
        /,
    ) -> None: ...


class ScalarRates(Protocol):
    """``rates_scalar(t, clock, y, p, d)`` on one member: the rates and discrete updates."""

    def __call__(
        self, t: float, clock: Clock, y: Sequence[float], p: Sequence[float], d: Sequence[float], /
    ) -> tuple[list[float], list[float]]: ...


class ScalarFull(Protocol):
    """``full_scalar(t, clock, y, p, d)`` on one member: rates, updates and outputs."""

    def __call__(
        self, t: float, clock: Clock, y: Sequence[float], p: Sequence[float], d: Sequence[float], /
    ) -> tuple[list[float], list[float], list[float]]: ...


class BindRates(Protocol):
    """``bind_rates(clock, y, p, d, dy, dn)``: ``rates`` bound to arrays updated in place,
    as a function of ``t``."""

    def __call__(
        self,
        clock: Clock,
        y: np.ndarray,
        p: np.ndarray,
        d: np.ndarray,
        dy: np.ndarray,
        dn: np.ndarray,
        /,
    ) -> Callable[[float], None]: ...


class BindFull(Protocol):
    """``bind_full(clock, y, p, d, dy, dn)``: ``full`` bound likewise, as ``full(t, out)``."""

    def __call__(
        self,
        clock: Clock,
        y: np.ndarray,
        p: np.ndarray,
        d: np.ndarray,
        dy: np.ndarray,
        dn: np.ndarray,
        /,
    ) -> Callable[[float, np.ndarray], None]: ...


@dataclass(frozen=True, slots=True)
class Kernels:
    """The generated kernels, on parameters made by ``CompiledModel.prepare`` (once per run).

    Integrators call these: the terms of parameters alone are then not computed at every step.
    """

    rates: RatesKernel
    full: FullKernel
    rates_scalar: ScalarRates
    full_scalar: ScalarFull
    bind_rates: BindRates
    bind_full: BindFull


@dataclass(frozen=True)
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
    initial
        Initial values from the parameters as given.
    rates, full, rates_scalar, full_scalar
        The kernels on the parameter array (``(n_params, M)``, or a list for one member), as
        documented in :mod:`pssc_sim.compile.codegen`; each call prepares the parameters.
    prepare
        ``prepare(clock, p)``: the parameter array with the rows of the hoisted terms, for the
        kernels of ``prepared``.
    prepared
        The kernels on prepared parameters, which the integrators call at every step.
    fixed_delays
        Rows of the discrete array that are DELAY_FIXED pipelines.
    """

    model: Model
    N: Any
    outputs: tuple[str, ...]
    source: str
    initial: Initial
    rates: RatesKernel
    full: FullKernel
    rates_scalar: ScalarRates
    full_scalar: ScalarFull
    prepare: Prepare
    prepared: Kernels
    fixed_delays: tuple[int, ...] = field(default=())
    #: Writes the source of the compiled loop from the kernel module's generator (its terms
    #: found once); ``None``: generated from the model when first needed.
    write_loop: Callable[[], str] | None = field(default=None, repr=False, compare=False)

    # the model is immutable: these are found once (each reads the labels of its variables)
    @cached_property
    def n_stocks(self) -> int:
        """Number of stocks, hidden ones included."""
        return len(self.model.stock_names)

    @cached_property
    def n_discrete(self) -> int:
        """Number of discrete states (SAMPLE_IF_TRUE memories and DELAY_FIXED pipelines)."""
        return len(self.model.discrete_names)

    @cached_property
    def runs(self) -> dict[Hashable, Any]:
        """What the integrators found for runs of this model, by the options of the run (a
        single run's checked grid, memory plan and back end: see
        :func:`~pssc_sim.integrate.simulate.simulate`), kept as long as the model is."""
        return {}

    @cached_property
    def parameter_names(self) -> tuple[str, ...]:
        """Names of the parameters, in the row order of the parameter array."""
        return self.model.parameter_names

    def default_parameters(self) -> np.ndarray:
        """The parameter values written in the model, shaped ``(n_params,)``."""
        return np.array(self.model.parameter_values(), dtype=float)

    @cached_property
    def jacobian(self) -> JacobianKernel:
        """The symbolic Jacobian of the stock rates, derived on first use (a model without
        dimensions: the solvers estimate an arrayed model's by finite differences)."""
        from pssc_sim.compile.jacobian import jacobian_kernel

        return jacobian_kernel(self.model)

    @cached_property
    def breakpoints(self) -> BreakpointPlan:
        """The times at which the rates switch or kink, found on first use."""
        from pssc_sim.compile.breakpoints import breakpoint_plan

        return breakpoint_plan(self.model)

    @cached_property
    def loop_key(self) -> str:
        """The cache key of the compiled loop (``""`` where there is none: see
        :func:`~pssc_sim.compile.loop.loop_key`)."""
        return loop_key(self.model, self.source)

    @cached_property
    def loop_refusal(self) -> str:
        """Why the model has no compiled loop whatever is installed, or ``""``."""
        return unsupported_reason(self.model)

    @property
    def has_loop(self) -> bool:
        """Whether the compiled loop is built in this process already."""
        return "loop" in self.__dict__

    @cached_property
    def loop(self) -> CompiledLoop:
        """The whole fixed-step loop compiled by numba, on first use: the extension module
        built ahead of time when the cache folder holds it (loaded without numba, see
        :mod:`pssc_sim.compile.aot`), else compiled (or loaded from numba's cache when it was
        compiled before; see :mod:`pssc_sim.compile.loop`)."""
        from pssc_sim.compile import aot

        ahead = aot.load(self.loop_key)
        if ahead is not None:
            return CompiledLoop(ahead, key=self.loop_key, ahead=True)
        return compile_loop(self.model, self.loop_source, self.loop_key)

    @property
    def has_block_loop(self) -> bool:
        """Whether the block loop is built in this process already."""
        return "block_loop" in self.__dict__

    @cached_property
    def block_key(self) -> str:
        """The cache key of the block loop (``""`` where there is no loop)."""
        return block_key(self.loop_key)

    @cached_property
    def block_loop(self) -> CompiledBlockLoop:
        """The fixed-step loop over blocks of members compiled by numba, on first use (or
        loaded from numba's cache; see :mod:`pssc_sim.compile.block_loop`)."""
        return compile_block_loop(self.model, self.loop_source, self.block_key)

    def loop_source(self) -> str:
        """The source of the compiled-loop module (see :mod:`pssc_sim.compile.loop`)."""
        if self.write_loop is not None:
            return self.write_loop()
        return generate_loop_source(self.model, select_outputs(self.model, list(self.outputs)))
