"""Adaptive integration with scipy's solvers: ``rk45``, ``dop853``, ``lsoda``, ``bdf``, ``radau``.

An ensemble is one ODE system: the stocks ``(n_stocks, M)`` are flattened member-major (each
member's stocks contiguous, ``y.T.ravel()``), so the Jacobian is block diagonal, and banded with
``n_stocks - 1`` diagonals either side. The implicit methods get that Jacobian from the
generated kernel of :mod:`pssc_sim.compile.jacobian` as a sparse (or, for small systems, dense)
matrix; LSODA gets it in banded form.

The switching builtins (STEP, PULSE, RAMP, PULSE_TRAIN, dated changes of interventions and
targets) switch at their exact times here: the kernels get the clock ``(dt, start, stop, 0)``,
whose ``SWITCH_SLACK`` of 0 drops Vensim's half-step and 1e-6 tolerances, which the fixed-step
methods keep. The run is split at the model's known discontinuities
(:mod:`pssc_sim.compile.breakpoints`), the union over the members of a chunk, and the solver
restarts at each one, so no step straddles a switch. Inside a segment the kernel sees time clamped
a hair inside the segment, so a condition evaluated exactly at a switching time takes the side of
the segment being integrated; a saved time on a switch is recorded as the start of the segment
that begins there (the value from the switch on). A switch the plan cannot find before the run (a
time that depends on the state, or on a lookup) is left to the solver's step control: it rejects
and shrinks the steps around it, to its tolerances. The solvers are stepped directly (scipy's
``OdeSolver.step`` contract, as ``solve_ivp`` does) and outputs are recorded at the saved times
by evaluating the full kernel on the dense-output state, as the fixed-step methods record them.
Each member of a chunk is held to the tolerances it would have alone (:func:`member_share`).

A stock declared non-negative is held at zero as the fixed-step methods hold it (where they clamp
it after each step): its rate is clipped to 0 while it is at zero and would fall, and the moment a
step carries it below zero is an event, located on the step's dense output (Brent's method) and
the solver restarted there with the stock at exactly zero, so the stock reaches zero at the time
the solution does and stays there until its net rate turns positive. The recorded flows are the
model's, unclipped, as with a fixed step.

Methods: Dormand and Prince RK5(4) and DOP853 (Hairer, Nørsett and Wanner, *Solving ODEs I*,
II.5 and II.10), LSODA (Petzold 1983), variable-order BDF/NDF and Radau IIA of order 5 (Hairer
and Wanner, *Solving ODEs II*, IV.8 and III.5).

Discrete states (DELAY_FIXED pipelines, SAMPLE_IF_TRUE memories) change once per ``dt`` step and
have no meaning for an adaptive solver: models with them are rejected.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.optimize
import scipy.sparse
from scipy.integrate import BDF, DOP853, LSODA, RK45, OdeSolver, Radau
from threadpoolctl import threadpool_limits

from pssc_sim.compile.compiled import Clock
from pssc_sim.compile.compiler import CompiledModel
from pssc_sim.compile.jacobian import JacobianKernel
from pssc_sim.errors import ModelError, SimulationError
from pssc_sim.integrate.fixed import check_finite, initial_state
from pssc_sim.integrate.grid import Grid
from pssc_sim.integrate.progress import ProgressReport
from pssc_sim.ir.model import FixedDelay

if TYPE_CHECKING:
    from pssc_sim.integrate.options import SolverOptions

#: scipy's solver class for each adaptive method.
SOLVERS: Mapping[str, type[OdeSolver]] = MappingProxyType(
    {
        "rk45": RK45,
        "dop853": DOP853,
        "lsoda": LSODA,
        "bdf": BDF,
        "radau": Radau,
    }
)
#: Methods that ask for a Jacobian (``Method.implicit`` in the registry says the same, for
#: callers that should not load scipy's solvers).
IMPLICIT: frozenset[str] = frozenset({"lsoda", "bdf", "radau"})
#: Up to this many unknowns a dense Jacobian (LU in LAPACK) beats a sparse one (SuperLU).
DENSE_LIMIT = 100

Rates = Callable[[float, np.ndarray], np.ndarray]


def run_adaptive(
    compiled: CompiledModel, p: np.ndarray, grid: Grid, method: str, options: SolverOptions
) -> np.ndarray:
    """Integrate with an adaptive ``method``; returns saved outputs ``(n_rows, n_outputs, M)``.

    Members are solved ``options.chunk`` at a time, each chunk its own ODE system, so a member
    that forces small steps slows only its chunk.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from pssc_sim.compile.compiler import compile_model
    >>> from pssc_sim.integrate.methods import SolverOptions
    >>> from pssc_sim.parse import load_model
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "m.yaml"
    >>> _ = path.write_text("time: {stop: 1}\\nparameters: {k: 1}\\n"
    ...                     "stocks: {x: 1}\\nflows: {out: {from: x, rate: k * x}}\\n")
    >>> compiled = compile_model(load_model(path))
    >>> values = run_adaptive(compiled, np.array([[1.0, 2.0]]), Grid(0.0, 1.0, 1.0, 1.0),
    ...                       "rk45", SolverOptions(rtol=1e-8, atol=1e-10))
    >>> np.round(values[-1, 0], 6).tolist()
    [0.367879, 0.135335]
    """
    if method not in SOLVERS:
        raise ModelError(
            f"method: '{method}' is not an adaptive method (got {method!r}). "
            f"Use one of: {', '.join(SOLVERS)}"
        )
    reject_discrete(compiled, method)
    members = p.shape[1]
    values = options.allocate((grid.save_times().size, len(compiled.outputs), members))
    report = ProgressReport(options.progress, grid, members)
    with threadpool_limits(limits=1), np.errstate(all="ignore"):
        for start in range(0, members, options.chunk):
            stop = min(start + options.chunk, members)
            report.chunk(start, stop)
            values[:, :, start:stop] = _solve_chunk(
                compiled, p[:, start:stop], grid, method, options, report, start
            )
    report.finish()
    return values


def reject_discrete(compiled: CompiledModel, method: str) -> None:
    """Raise :class:`ModelError` if the model has a discrete state ``method`` cannot integrate.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from pssc_sim.compile.compiler import compile_model
    >>> from pssc_sim.parse import load_model
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "m.yaml"
    >>> _ = path.write_text("time: {stop: 1}\\nstocks: {x: 1}\\n"
    ...                     "flows: {f: {to: x, rate: 'DELAY_FIXED(x, 1, 0)'}}\\n")
    >>> reject_discrete(compile_model(load_model(path)), "rk45")
    Traceback (most recent call last):
    ...
    pssc_sim.errors.ModelError: ...: f: DELAY_FIXED keeps a discrete state ...
    """
    if not compiled.model.discrete:
        return
    state = compiled.model.discrete[0]
    builtin = "DELAY_FIXED" if isinstance(state, FixedDelay) else "SAMPLE_IF_TRUE"
    raise ModelError(
        f"{_where(compiled)}: {state.origin}: {builtin} keeps a discrete state that changes once "
        f"per time step, which an adaptive solver cannot integrate (got method='{method}'). "
        "Use method='euler' or 'rk4'"
    )


def _where(compiled: CompiledModel) -> str:
    return compiled.model.source or compiled.model.name


@dataclass(frozen=True, slots=True)
class _Window:
    """A segment ``[a, b]`` between breakpoints; the kernel sees time strictly inside it."""

    a: float
    b: float
    low: float
    high: float

    @classmethod
    def between(cls, a: float, b: float) -> _Window:
        # a few hundred ulps: past the round-off of a switching time, far below any time scale
        margin = 1e-12 * max(1.0, abs(a), abs(b))
        if b - a <= 2 * margin:
            return cls(a, b, 0.5 * (a + b), 0.5 * (a + b))
        return cls(a, b, a + margin, b - margin)

    def inside(self, t: float) -> float:
        return min(max(t, self.low), self.high)


@dataclass(frozen=True, slots=True, eq=False)
class _System:
    """One chunk of members as a flat ODE system ``y' = f(t, y)`` of size ``n_stocks * M``."""

    compiled: CompiledModel
    p: np.ndarray  # as given, for the Jacobian kernel
    prepared: np.ndarray  # ``compiled.prepare(clock, p)``, for the rates kernels
    clock: Clock
    jacobian: JacobianKernel | None
    jacobian_options: Mapping[str, Any]
    assemble: Callable[[np.ndarray], Any] | None

    @property
    def n_stocks(self) -> int:
        return self.compiled.n_stocks

    @property
    def non_negative(self) -> np.ndarray:
        """Indices in the flat state of the stocks declared non-negative, every member."""
        rows = np.array(self.compiled.model.non_negative_rows(), dtype=np.int64)
        return (self.n_stocks * np.arange(self.members)[:, None] + rows).ravel()

    @property
    def members(self) -> int:
        return int(self.p.shape[1])

    def stocks(self, y: np.ndarray) -> np.ndarray:
        """Flat member-major ``y`` as a contiguous ``(n_stocks, M)`` array."""
        return np.ascontiguousarray(y.reshape(self.members, self.n_stocks).T)

    def rates(self, window: _Window, held: np.ndarray | None = None) -> Rates:
        """``f(t, y)`` on the flat state, with the rates of the ``held`` entries (stocks held at
        zero) clipped at 0 from below while they are at zero."""
        fun = self._model_rates(window)
        if held is None or held.size == 0:
            return fun

        def clipped(t: float, y: np.ndarray) -> np.ndarray:
            dy = fun(t, y)
            dy[held] = np.where((y[held] <= 0.0) & (dy[held] < 0.0), 0.0, dy[held])
            return dy

        return clipped

    def _model_rates(self, window: _Window) -> Rates:
        """``f(t, y)`` of the model: the scalar kernel for one member, else numpy."""
        if self.members == 1:
            return _scalar_rates(self, window)
        rates, p, clock = self.compiled.prepared.rates, self.prepared, self.clock
        shape = (self.n_stocks, self.members)
        d, dn = np.empty((0, shape[1])), np.empty((0, shape[1]))

        def fun(t: float, y: np.ndarray) -> np.ndarray:
            # contiguous rows for the kernel (strided rows measured slower), then member-major
            dy = np.empty(shape)
            rates(window.inside(t), clock, self.stocks(y), p, d, dy, dn)
            return dy.T.ravel()

        return fun


def _scalar_rates(system: _System, window: _Window) -> Rates:
    rates, clock, n = system.compiled.prepared.rates_scalar, system.clock, system.n_stocks
    params: list[float] = system.prepared[:, 0].tolist()

    def fun(t: float, y: np.ndarray) -> np.ndarray:
        try:
            dy = rates(window.inside(t), clock, y.tolist(), params, [])[0]
        except (ArithmeticError, ValueError):
            # a domain error at a trial state: NaN makes the solver reject the step, as numpy would
            return np.full(n, math.nan)
        return np.array(dy, dtype=float)

    return fun


def _block_indices(kernel: JacobianKernel, members: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of every member's entries in the flat system, member-major."""
    offsets = kernel.n_stocks * np.arange(members)[:, None]
    return (offsets + kernel.rows).ravel(), (offsets + kernel.cols).ravel()


def block_pattern(kernel: JacobianKernel, members: int) -> scipy.sparse.csc_matrix:
    """The sparsity pattern of the ensemble Jacobian (ones where entries may be non-zero)."""
    rows, cols = _block_indices(kernel, members)
    size = kernel.n_stocks * members
    return scipy.sparse.csc_matrix((np.ones(rows.size), (rows, cols)), shape=(size, size))


def _assembler(kernel: JacobianKernel, members: int, banded: bool) -> Callable[[np.ndarray], Any]:
    """A function from entry values ``(n_entries, M)`` to the Jacobian the solver wants."""
    rows, cols = _block_indices(kernel, members)
    size, n = kernel.n_stocks * members, kernel.n_stocks
    if banded:
        diagonals = n - 1 + rows - cols  # LSODA's packed form: jac[uband + i - j, j]

        def packed(values: np.ndarray) -> np.ndarray:
            matrix = np.zeros((2 * n - 1, size))
            matrix[diagonals, cols] = values.T.ravel()
            return matrix

        return packed
    if size <= DENSE_LIMIT:

        def dense(values: np.ndarray) -> np.ndarray:
            matrix = np.zeros((size, size))
            matrix[rows, cols] = values.T.ravel()
            return matrix

        return dense
    order = np.arange(1, rows.size + 1, dtype=float)
    template = scipy.sparse.csc_matrix((order, (rows, cols)), shape=(size, size))
    permutation = template.data.astype(np.int64) - 1

    def sparse(values: np.ndarray) -> scipy.sparse.csc_matrix:
        data = values.T.ravel()[permutation]
        return scipy.sparse.csc_matrix(
            (data, template.indices, template.indptr), shape=(size, size)
        )

    return sparse


def _jacobian_setup(
    kernel: JacobianKernel | None, members: int, method: str
) -> tuple[dict[str, Any], Callable[[np.ndarray], Any] | None]:
    """Once per chunk: the solver's fixed Jacobian arguments and the matrix assembler, if any."""
    if method not in IMPLICIT or kernel is None:
        return {}, None
    banded = method == "lsoda"
    band = kernel.n_stocks - 1
    options: dict[str, Any] = {"lband": band, "uband": band} if banded else {}
    if kernel.function is not None:
        return options, _assembler(kernel, members, banded)
    if not banded and kernel.n_stocks * members > DENSE_LIMIT:
        options["jac_sparsity"] = block_pattern(kernel, members)
    return options, None


def _solver_options(system: _System, window: _Window) -> dict[str, Any]:
    """The Jacobian arguments for one segment: the fixed ones and a ``jac`` callable."""
    options = dict(system.jacobian_options)
    kernel, assemble = system.jacobian, system.assemble
    if kernel is None or assemble is None:
        return options

    def jac(t: float, y: np.ndarray) -> Any:
        return assemble(kernel.evaluate(window.inside(t), system.clock, system.stocks(y), system.p))

    options["jac"] = jac
    return options


def _solve_chunk(
    compiled: CompiledModel,
    p: np.ndarray,
    grid: Grid,
    method: str,
    options: SolverOptions,
    report: ProgressReport,
    start: int = 0,
) -> np.ndarray:
    """Solve the members ``p`` (``start`` members into the block being run)."""
    clock = exact_clock(grid)
    y0 = initial_state(compiled, grid, p, clock)[0]
    _check_initial(compiled, y0)
    # an arrayed model's Jacobian is left to the solver's finite differences
    symbolic = method in IMPLICIT and not compiled.model.dimensions
    kernel = compiled.jacobian if symbolic else None
    prepared = compiled.prepare(clock, p)
    system = _System(
        compiled, p, prepared, clock, kernel, *_jacobian_setup(kernel, p.shape[1], method)
    )
    recorder = _Recorder(compiled, prepared, grid, options.first_member + start, clock)
    breaks = compiled.breakpoints.times(clock, p)
    edges = np.concatenate([[grid.start], breaks, [grid.stop]]).tolist()
    y = y0.T.ravel()
    for a, b in itertools.pairwise(edges):
        window = _Window.between(a, b)
        y = _solve_segment(system, method, options, window, y, recorder, report, b == grid.stop)
    return recorder.values


def exact_clock(grid: Grid) -> Clock:
    """The clock the adaptive methods give the kernels: ``SWITCH_SLACK`` 0, exact switches.

    >>> exact_clock(Grid(0.0, 10.0, 0.25, 1.0))
    (0.25, 0.0, 10.0, 0.0)
    """
    return (*grid.clock, 0.0)


#: scipy's solvers raise the relative tolerance to this with a warning.
_SMALLEST_RTOL = 100 * np.finfo(float).eps


def member_share(members: int) -> float:
    """The factor on the tolerances of a chunk of ``members`` solved as one system.

    scipy's error norm is the root mean square over every component of the system, so in a
    chunk one member's error counts for ``1 / members`` of it: a member with a sharp transient
    among quiet ones would be integrated more loosely than alone. With the tolerances scaled by
    ``1 / sqrt(members)``, a step is accepted only when the mean square over the chunk is below
    ``1 / members``, so every member's own norm is below 1: each member is held to the
    tolerances it would have alone, whatever the others do.

    >>> member_share(1), member_share(100)
    (1.0, 0.1)
    """
    return 1.0 / math.sqrt(members)


def _solve_segment(
    system: _System,
    method: str,
    options: SolverOptions,
    window: _Window,
    y: np.ndarray,
    recorder: _Recorder,
    report: ProgressReport,
    last: bool = True,
) -> np.ndarray:
    """Integrate over ``window`` from ``y``, recording the saved times it covers; the end state.

    The saved times recorded are those in ``[a, b)``, and ``b`` too in the ``last`` window (a
    saved time on a breakpoint belongs to the window that starts there). A non-negative stock
    that a step carries below zero restarts the solver where it reaches zero (see the module).
    Progress is reported after every step (``report`` calls its callback on a time budget).
    """
    t = window.a
    recorder.record(t, _constant(y), window)
    watched = system.non_negative
    y = np.array(y)
    y[watched] = np.maximum(y[watched], 0.0)  # as the fixed-step methods clamp after a step
    while True:
        # the stocks at zero are held (their rates clipped); the others run free, smoothly,
        # until a step takes one below zero
        held = watched[y[watched] <= 0.0]
        solver = _start_solver(system, method, options, window, t, y, held)
        while solver.status == "running":
            before = np.array(solver.y[watched])
            message = solver.step()
            if solver.status == "failed":
                raise _failure(system, method, solver.t, message)
            _check_state(system, solver.y, solver.t)
            zero: tuple[float, int | None] | None = _first_zero(solver, watched, before)
            if zero is None and np.any(solver.y[held] > 0.0):
                zero = solver.t, None  # a held stock rises: free it, so it is watched again
            if zero is not None:
                t, y = _held_at_zero(solver, watched, *zero)
                if recorder.pending(t):
                    recorder.record(t, solver.dense_output(), window, inclusive=False)
                report.reached(t)
                break
            if recorder.pending(solver.t):
                inclusive = last or solver.t < window.b
                recorder.record(solver.t, solver.dense_output(), window, inclusive)
            report.reached(solver.t)
        else:
            return np.array(solver.y)


def _start_solver(
    system: _System,
    method: str,
    options: SolverOptions,
    window: _Window,
    t: float,
    y: np.ndarray,
    held: np.ndarray,
) -> OdeSolver:
    share = member_share(system.members)
    return SOLVERS[method](
        system.rates(window, held),
        t,
        y,
        window.b,
        rtol=max(options.rtol * share, _SMALLEST_RTOL),
        atol=options.atol * share,
        **_solver_options(system, window),
    )


def _constant(y: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    return lambda times: np.repeat(y[:, None], times.size, axis=1)


def _first_zero(
    solver: OdeSolver, watched: np.ndarray, before: np.ndarray
) -> tuple[float, int] | None:
    """The earliest time in the last step at which a non-negative stock above zero reaches it,
    and the stock's index in the flat state.

    A stock already at zero is held there by its clipped rate and is no event.
    """
    if watched.size == 0:
        return None
    crossed = watched[(before > 0.0) & (solver.y[watched] < 0.0)]
    if crossed.size == 0:
        return None
    dense, lo, hi = solver.dense_output(), solver.t_old, solver.t
    xtol = 4 * np.finfo(float).eps * max(1.0, abs(hi))
    return min((_zero(_component(dense, int(i)), lo, hi, xtol), int(i)) for i in crossed)


def _component(dense: Callable[[float], np.ndarray], i: int) -> Callable[[float], float]:
    return lambda s: float(dense(s)[i])


def _zero(f: Callable[[float], float], lo: float, hi: float, xtol: float) -> float:
    """Where ``f`` (above zero at ``lo``, below at ``hi`` on the solver's own steps) falls to
    zero; an interpolant that does not bracket it gives the end that is already at zero."""
    if f(lo) <= 0.0:
        return lo
    if f(hi) >= 0.0:
        return hi
    return float(scipy.optimize.brentq(f, lo, hi, xtol=xtol))


def _held_at_zero(
    solver: OdeSolver, watched: np.ndarray, t: float, stock: int | None
) -> tuple[float, np.ndarray]:
    """The state at ``t`` from the last step, with ``stock`` (which reaches zero there) and the
    non-negative stocks below zero set to exactly zero."""
    y = np.array(solver.dense_output()(t))
    y[watched] = np.maximum(y[watched], 0.0)
    if stock is not None:
        y[stock] = 0.0
    return t, y


class _Recorder:
    """Outputs at the saved times, filled in order as the solution passes them."""

    def __init__(
        self,
        compiled: CompiledModel,
        p: np.ndarray,
        grid: Grid,
        first_member: int = 0,
        clock: Clock | None = None,
    ) -> None:
        """``p``: the prepared parameters (``compiled.prepare``); ``first_member``: the run's
        index of their first member (for messages); ``clock``: the kernels' clock."""
        self.compiled, self.p = compiled, p
        self.clock = grid.clock if clock is None else clock
        self.first_member = first_member
        self.times = grid.save_times()
        self.values = np.empty((self.times.size, len(compiled.outputs), p.shape[1]))
        self.done = 0

    def pending(self, t: float) -> bool:
        """Whether a saved time not yet recorded is at or before ``t``."""
        return self.done < self.times.size and self.times[self.done] <= t

    def record(
        self,
        t: float,
        states: Callable[[np.ndarray], np.ndarray],
        window: _Window,
        inclusive: bool = True,
    ) -> None:
        """Record every saved time up to ``t`` (``t`` itself if ``inclusive``) from
        ``states(times) -> (n_flat, n_times)``; the kernel sees time inside ``window``."""
        reached = int(np.searchsorted(self.times, t, side="right" if inclusive else "left"))
        if reached <= self.done:
            return
        times = self.times[self.done : reached]
        for row, flat in zip(range(self.done, reached), states(times).T, strict=True):
            self._record_row(row, flat, window)
        self.done = reached

    def _record_row(self, row: int, flat: np.ndarray, window: _Window) -> None:
        compiled, members, t = self.compiled, self.p.shape[1], float(self.times[row])
        inside = window.inside(t)
        if members == 1:
            try:
                values = compiled.prepared.full_scalar(
                    inside, self.clock, flat.tolist(), self.p[:, 0].tolist(), []
                )[2]
            except (ArithmeticError, ValueError):
                values = None  # the numpy path below names the variable that fails
            if values is not None and all(map(math.isfinite, values)):
                self.values[row, :, 0] = values
                return
        y = flat.reshape(members, compiled.n_stocks).T
        empty, dy = np.empty((0, members)), np.empty((compiled.n_stocks, members))
        compiled.prepared.full(inside, self.clock, y, self.p, empty, dy, empty, self.values[row])
        check_finite(compiled, self.values[row], t, self.first_member)


def _failure(system: _System, method: str, t: float, message: str | None) -> SimulationError:
    if method in IMPLICIT:
        hint = (
            "Look for a discontinuity or a singularity near that time, loosen rtol, or use "
            "method='euler' or 'rk4'"
        )
    else:
        hint = "The model may be stiff; try method='bdf' or 'radau', or loosen rtol"
    return SimulationError(
        f"{_where(system.compiled)}: the {method} solver failed at time {t:g} of "
        f"{system.clock[2]:g} (got {message!r}). {hint}"
    )


def _check_initial(compiled: CompiledModel, y0: np.ndarray) -> None:
    if np.isfinite(y0).all():
        return
    stock, member = (int(i) for i in np.argwhere(~np.isfinite(y0))[0])
    raise SimulationError(
        f"{_where(compiled)}: {compiled.model.stock_names[stock]}: the initial value is not "
        f"finite (got {y0[stock, member]}{_member(member, y0.shape[1])}). Look for a division by "
        "zero or an overflow in its initial equation"
    )


def _check_state(system: _System, y: np.ndarray, t: float) -> None:
    if np.isfinite(y).all():
        return
    index = int(np.flatnonzero(~np.isfinite(y))[0])
    member, stock = divmod(index, system.n_stocks)
    raise SimulationError(
        f"{_where(system.compiled)}: {system.compiled.model.stock_names[stock]}: the value is not "
        f"finite at time {t:g} (got {y[index]}{_member(member, system.members)}). Look for an "
        "overflow or a division by zero in what feeds it; if the model is stiff, try "
        "method='bdf' or 'radau'"
    )


def _member(member: int, members: int) -> str:
    return f", member {member}" if members > 1 else ""
