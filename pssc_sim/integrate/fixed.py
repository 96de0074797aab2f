"""Fixed-step integration: ``euler`` (Vensim/Stella semantics) and classical ``rk4``.

Euler is synchronous: every flow is evaluated from the state at ``t``, then every stock moves by
``dt * d(stock)/dt``. Rows are saved at ``start + k * save_every`` and at ``stop``, each holding
the stocks at that time and the flows and auxiliaries computed from them. Time is ``start + k*dt``
(never accumulated), the last step is shortened to land on ``stop``. Discrete states (SAMPLE_IF_TRUE
memories, DELAY_FIXED pipelines) change once per step, from the values at the start of the step.
RK4 is the classical fourth-order method (Hairer, Nørsett and Wanner, *Solving ODEs I*, II.1),
holding discrete states fixed within a step.

A single member runs on the generated scalar kernel with Python floats; an ensemble runs on the
numpy kernel, in chunks of members so that temporaries stay in cache.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from pssc_sim.compile.compiled import Clock
from pssc_sim.compile.compiler import CompiledModel
from pssc_sim.errors import ModelError, SimulationError
from pssc_sim.integrate.grid import Grid
from pssc_sim.integrate.progress import Progress, ProgressReport
from pssc_sim.integrate.storage import Allocate, in_memory
from pssc_sim.integrate.tableau import Tableau
from pssc_sim.ir.model import Auxiliary, Flow, Model, Stock

#: Members evaluated together: a few thousand keeps a 100-stock model's temporaries in cache.
#: Measured with ``benchmarks/bench_scaling.py --chunks`` (2 cores, 48 MiB L3): 4096 is fastest;
#: 1024 costs 1.6x per member-step (numpy's per-call overhead), 8192 and more 2x (cache misses).
DEFAULT_CHUNK = 4096
#: Saved values checked for NaN and infinity at once, at most (about 1 MiB): one check per
#: block of rows instead of two numpy calls per row, on rows still in cache.
CHECK_SIZE = 1 << 17
#: Steps between two reports of progress (and two checks of the saved rows), at most.
BLOCK_STEPS = 64


@dataclass(frozen=True, slots=True)
class FixedStepPlan:
    """The steps of a fixed-step run and which of them are saved."""

    grid: Grid
    steps: np.ndarray  # step start times, shape (n_steps,)
    widths: np.ndarray  # step widths, shape (n_steps,)
    times: np.ndarray  # the times of the saved rows (steps that are saved, then stop)
    #: ``(k, t, h, saved)`` of every step as Python numbers, for the step loop of one member.
    schedule: tuple[tuple[int, float, float, bool], ...] = ()
    #: The same with ``h`` a numpy float, for the loop on arrays: numpy converts a Python float
    #: operand at every call, which costs more than the arithmetic of a thousand members.
    array_schedule: tuple[tuple[int, float, np.float64, bool], ...] = ()
    #: Whether each step is saved, as an array (for the compiled loop).
    saved: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    @classmethod
    def build(cls, grid: Grid) -> FixedStepPlan:
        """The plan of ``grid`` (made once per grid: a plan is immutable)."""
        return _plan(grid)

    @classmethod
    def _make(cls, grid: Grid) -> FixedStepPlan:
        if grid.steps:
            return cls._listed(grid)
        if grid.save_every < grid.dt * (1 - 1e-6):
            raise ModelError(
                "time.save_every: save_every must be at least dt for fixed-step methods "
                f"(got save_every={grid.save_every}, dt={grid.dt}). Use a multiple of dt"
            )
        n_steps = max(1, math.ceil((grid.stop - grid.start) / grid.dt - 1e-6))
        steps = grid.start + grid.dt * np.arange(n_steps)
        widths = np.full(n_steps, grid.dt)
        widths[-1] = grid.stop - steps[-1]
        # A row is saved at the first step on or after each save time: every k-th step when
        # save_every is k * dt, and Vensim's rule when it is not a multiple of dt.
        wanted = grid.save_times()[:-1] if grid.save_times()[-1] >= grid.stop else grid.save_times()
        first = np.ceil((wanted - grid.start) / grid.dt - 1e-6).astype(np.int64)  # sorted
        # the distinct steps, as np.unique finds them (which would also load numpy.ma)
        saved = first[np.concatenate(([True], first[1:] != first[:-1]))]
        saved = saved[saved < n_steps]
        flags = np.zeros(n_steps, dtype=bool)
        flags[saved] = True
        return cls._of_steps(grid, steps, widths, flags)

    @classmethod
    def _listed(cls, grid: Grid) -> FixedStepPlan:
        """The plan of a grid whose steps are listed: each step from one listed time to the
        next, the steps at the saved times saved, and stop."""
        listed = np.asarray(grid.steps, dtype=float)
        steps, widths = listed[:-1].copy(), np.diff(listed)
        flags = np.isin(steps, np.asarray(grid.saved, dtype=float))
        return cls._of_steps(grid, steps, widths, flags)

    @classmethod
    def _of_steps(
        cls, grid: Grid, steps: np.ndarray, widths: np.ndarray, flags: np.ndarray
    ) -> FixedStepPlan:
        """The plan of steps starting at ``steps`` with ``widths``, those flagged saved."""
        times = np.append(steps[flags], grid.stop)
        for array in (steps, widths, times, flags):
            array.flags.writeable = False  # plans are shared (cached)
        schedule = tuple(
            (k, t, h, bool(s))
            for k, (t, h, s) in enumerate(
                zip(steps.tolist(), widths.tolist(), flags.tolist(), strict=True)
            )
        )
        array_schedule = tuple((k, t, np.float64(h), saved) for k, t, h, saved in schedule)
        return cls(grid, steps, widths, times, schedule, array_schedule, flags)

    def blocks(self, size: int) -> list[tuple[int, int, float]]:
        """``(first, end, t)``: the steps in blocks of ``size``, each with the time it reaches."""
        n_steps = len(self.steps)
        return [
            (
                first,
                min(first + size, n_steps),
                self.grid.stop if first + size >= n_steps else float(self.steps[first + size]),
            )
            for first in range(0, n_steps, size)
        ]

    @property
    def n_rows(self) -> int:
        """Number of saved rows."""
        return len(self.times)


@lru_cache(maxsize=64)
def _plan(grid: Grid) -> FixedStepPlan:
    return FixedStepPlan._make(grid)


def pipeline_lengths(delays: np.ndarray, dt: float, most: int | None = None) -> np.ndarray:
    """Slots of each DELAY_FIXED pipeline: the delay in steps, at least one (PySD's rule).

    With ``most`` (the run's steps + 1), longer pipelines are cut to it: a delay longer than the
    run only ever gives its initial value, which a pipeline of ``most`` slots gives too.
    """
    if not np.isfinite(delays).all():
        raise ModelError(
            f"DELAY_FIXED: the delay time is not finite (got {delays.ravel()[:3]}). "
            "Give a finite delay"
        )
    slots = np.maximum(delays / dt, 1.0)
    if most is not None:
        slots = np.minimum(slots, most)
    return np.round(slots + 1e-6).astype(np.int64)


class _DiscreteArrays:
    """Discrete states of an ensemble chunk: memories copied, pipelines as ring buffers."""

    def __init__(
        self,
        compiled: CompiledModel,
        d0: np.ndarray,
        delays: np.ndarray,
        dt: float,
        most: int | None = None,
    ) -> None:
        self.fixed = list(compiled.fixed_delays)
        self.memories = [i for i in range(compiled.n_discrete) if i not in self.fixed]
        self.lengths = pipeline_lengths(delays, dt, most) if self.fixed else np.zeros((0, 1), int)
        size = int(self.lengths.max()) if self.fixed else 0
        self.rings = [np.repeat(d0[i][None, :], size, axis=0) for i in self.fixed]
        self.columns = np.arange(d0.shape[1])

    def advance(self, k: int, d: np.ndarray, dn: np.ndarray) -> None:
        """After step ``k``: memories take their new values, pipelines shift by one slot."""
        for i in self.memories:
            d[i] = dn[i]
        for j, (i, ring) in enumerate(zip(self.fixed, self.rings, strict=True)):
            ring[k % len(ring)] = dn[i]
            d[i] = ring[(k + 1 - self.lengths[j]) % len(ring), self.columns]


class _DiscreteLists:
    """Discrete states of one member, on Python lists."""

    def __init__(
        self,
        compiled: CompiledModel,
        d0: list[float],
        delays: np.ndarray,
        dt: float,
        most: int | None = None,
    ) -> None:
        self.fixed = list(compiled.fixed_delays)
        self.memories = [i for i in range(compiled.n_discrete) if i not in self.fixed]
        lengths = pipeline_lengths(delays, dt, most)[:, 0] if self.fixed else np.zeros(0, int)
        self.lengths = [int(n) for n in lengths]
        self.rings = [[d0[i]] * n for i, n in zip(self.fixed, self.lengths, strict=True)]

    def advance(self, k: int, d: list[float], dn: list[float]) -> list[float]:
        d = list(d)
        for i in self.memories:
            d[i] = dn[i]
        for i, ring, n in zip(self.fixed, self.rings, self.lengths, strict=True):
            ring[k % n] = dn[i]
            d[i] = ring[(k + 1) % n]
        return d


def initial_state(
    compiled: CompiledModel, grid: Grid, p: np.ndarray, clock: Clock | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Initial stocks ``(n_stocks, M)``, discrete states and DELAY_FIXED delays.

    ``clock`` is the kernels' clock, ``grid.clock`` unless given (the adaptive methods give
    theirs, with exact switching times)."""
    members = p.shape[1]
    y0 = np.empty((compiled.n_stocks, members))
    d0 = np.empty((compiled.n_discrete, members))
    delays = np.empty((len(compiled.fixed_delays), members))
    with np.errstate(all="ignore"):
        compiled.initial(grid.clock if clock is None else clock, p, y0, d0, delays)
    return y0, d0, delays


def saved_times(grid: Grid) -> np.ndarray:
    """The times of the rows a fixed-step run saves on ``grid``."""
    return FixedStepPlan.build(grid).times.copy()


def run_fixed_step(
    compiled: CompiledModel,
    p: np.ndarray,
    grid: Grid,
    tableau: Tableau,
    chunk: int = DEFAULT_CHUNK,
    progress: Progress | None = None,
    allocate: Allocate = in_memory,
    first_member: int = 0,
) -> np.ndarray:
    """Integrate with the explicit Runge-Kutta method ``tableau`` at ``dt``; returns saved
    outputs ``(n_rows, n_outputs, M)``, in an array made by ``allocate`` (see
    :mod:`pssc_sim.integrate.storage`). Messages count members from ``first_member`` (the
    first member's index in the whole run).

    ``progress(fraction)`` is called now and then with the fraction of the run done (see
    :mod:`pssc_sim.integrate.progress`), and with ``1.0`` at the end.
    """
    plan = FixedStepPlan.build(grid)
    members = p.shape[1]
    report = ProgressReport(progress, grid, members)
    if members == 1 and not compiled.model.dimensions:
        try:
            values = _run_scalar(compiled, p, plan, tableau, report)
            report.finish()
            return values
        except (ArithmeticError, ValueError):
            pass  # a domain error in the fast path: the numpy path reports it with its variable
    values = allocate((plan.n_rows, len(compiled.outputs), members))
    for start in range(0, members, chunk):
        stop = min(start + chunk, members)
        report.chunk(start, stop)
        _run_arrays(
            compiled,
            p[:, start:stop],
            plan,
            tableau,
            values[:, :, start:stop],
            report,
            first_member + start,
        )
    report.finish()
    return values


def _run_arrays(
    compiled: CompiledModel,
    p: np.ndarray,
    plan: FixedStepPlan,
    tableau: Tableau,
    values: np.ndarray,
    report: ProgressReport,
    first_member: int = 0,
) -> None:
    """Integrate one chunk of members (the first is member ``first_member`` of the run), writing
    its saved outputs into ``values``.

    The step loop runs in blocks of steps; after each block the rows it saved are checked for
    NaN and infinity at once (the first bad row is reported as a check after each row would) and
    progress is reported.
    """
    grid, clock = plan.grid, plan.grid.clock
    members = p.shape[1]
    y, d, delays = initial_state(compiled, grid, p)
    discrete = (
        _DiscreteArrays(compiled, d, delays, grid.dt, len(plan.steps) + 1)
        if compiled.n_discrete
        else None
    )
    shape = (compiled.n_stocks, members)
    dy, dn = np.empty(shape), np.empty((compiled.n_discrete, members))
    q = compiled.prepare(clock, p)
    # one stage is explicit Euler (consistency makes its weight 1): stepped inline below
    stepper = (
        None if tableau.stages == 1 else _stepper_arrays(tableau, compiled, clock, y, q, d, dy)
    )
    clamps = _clamps(_non_negative(compiled.model), y)
    bound = compiled.prepared
    full, rates = bound.bind_full(clock, y, q, d, dy, dn), bound.bind_rates(clock, y, q, d, dy, dn)
    multiply, add, maximum = np.multiply, np.add, np.maximum
    schedule = plan.array_schedule
    size = max(1, min(BLOCK_STEPS, CHECK_SIZE // max(1, values[0].size)))
    finite = np.empty((size + 1, *values.shape[1:]), dtype=bool)  # made once: not per check
    row = checked = 0
    with np.errstate(all="ignore"):
        for first, end, reached in plan.blocks(size):
            for k, t, h, saved in schedule[first:end]:
                if saved:
                    full(t, values[row])
                    row += 1
                else:
                    rates(t)
                if stepper is None:
                    multiply(dy, h, dy)
                    add(y, dy, y)
                else:
                    stepper(t, h)
                for rows, zeros in clamps:
                    maximum(rows, zeros, out=rows)
                if discrete is not None:
                    discrete.advance(k, d, dn)
            _check_rows(compiled, values, plan.times, checked, row, finite, first_member)
            checked = row
            report.reached(reached)
        full(grid.stop, values[row])
        _check_rows(compiled, values, plan.times, checked, row + 1, finite, first_member)


def _check_rows(
    compiled: CompiledModel,
    values: np.ndarray,
    times: np.ndarray,
    first: int,
    end: int,
    finite: np.ndarray,
    first_member: int = 0,
) -> None:
    """Check the saved rows ``first:end`` as :func:`check_finite` checks each, in one call.

    ``finite`` is a buffer of at least ``end - first`` rows for the test's result.
    """
    if first < end and not np.isfinite(values[first:end], finite[: end - first]).all():
        for row in range(first, end):
            check_finite(compiled, values[row], float(times[row]), first_member)


def key_path(model: Model, name: str) -> str:
    """Where the variable ``name`` is defined in its model file, e.g. ``auxiliaries.x``."""
    variable = name.partition("[")[0]  # an element of an arrayed variable: x[a,b]
    item = model[variable] if variable in model else None  # noqa: SIM401 - Model has no get()
    for kind, section in ((Stock, "stocks"), (Flow, "flows"), (Auxiliary, "auxiliaries")):
        if isinstance(item, kind):
            return f"{section}.{name}"
    return f"measures.{name.split('.')[0]}" if item is None else name


def check_finite(compiled: CompiledModel, row: np.ndarray, t: float, first_member: int = 0) -> None:
    """Raise :class:`SimulationError` naming the first output that is NaN or infinite (and its
    member, counted over the whole run when ``row`` holds a chunk whose first member is
    ``first_member``)."""
    if np.isfinite(row).all():
        return
    bad = np.argwhere(~np.isfinite(row))[0]
    variable, column = compiled.outputs[bad[0]], int(bad[1])
    member = first_member + column
    model = compiled.model
    where = f"{model.source or model.name}: {key_path(model, variable)}"
    many = row.shape[1] > 1 or first_member > 0
    raise SimulationError(
        f"{where}: the value is not finite at time {t:g} (got {row[bad[0], column]}"
        f"{', member ' + str(member) if many else ''}). Look for a division by zero, "
        "a logarithm or square root of a negative number, or an overflow in its equation or in "
        "what feeds it; XIDZ/ZIDZ guard divisions"
    )


def _stepper_arrays(
    tableau: Tableau,
    compiled: CompiledModel,
    clock: tuple[float, float, float],
    y: np.ndarray,
    q: np.ndarray,
    d: np.ndarray,
    dy: np.ndarray,
) -> Callable[[float, np.float64], None]:
    """One step of ``tableau`` of ``y`` in place from ``dy`` (its first stage), on prepared
    parameters: the stages at ``t + c_i h`` from ``y + h sum_j a_ij k_j``, then
    ``y + h / denominator * (sum of the weighted runs of stages)`` (see
    :meth:`~pssc_sim.integrate.tableau.Tableau.weight_groups`)."""
    stages = [dy, *(np.empty(y.shape) for _ in range(tableau.stages - 1))]
    trial, term, total = (np.empty(y.shape) for _ in range(3))
    scratch = np.empty((compiled.n_discrete, y.shape[1]))
    bind = compiled.prepared.bind_rates
    later = [
        (bind(clock, trial, q, d, k, scratch), row, float(c))
        for k, row, c in zip(stages[1:], tableau.stage_terms()[1:], tableau.c[1:], strict=True)
    ]
    denominator, runs = tableau.weight_groups()
    groups = [(np.float64(weight), [stages[i] for i in run]) for weight, run in runs]
    multiply, add, copy = np.multiply, np.add, np.copyto

    def weighted(weight: np.float64, run: list[np.ndarray]) -> np.ndarray:
        """``weight x (sum of run)``: a stage itself when alone with weight 1, else in ``term``."""
        if len(run) == 1 and weight == 1:
            return run[0]
        if len(run) == 1:
            multiply(run[0], weight, term)
            return term
        add(run[0], run[1], term)
        for k in run[2:]:
            add(term, k, term)
        if weight != 1:
            multiply(term, weight, term)
        return term

    def step(t: float, h: np.float64) -> None:
        # outputs given positionally, not as ``out=`` (see ``Printer.into``)
        for rates, row, c in later:
            if row:
                multiply(stages[row[0][0]], h * row[0][1], trial)
                for j, a in row[1:]:
                    multiply(stages[j], h * a, term)
                    add(trial, term, trial)
                add(trial, y, trial)
            else:
                copy(trial, y)
            rates(t + c * h)
        acc = weighted(*groups[0])
        if acc is term:
            copy(total, term)
            acc = total
        for weight, run in groups[1:]:
            add(acc, weighted(weight, run), total)
            acc = total
        multiply(acc, h / denominator, acc)
        add(y, acc, y)

    return step


def _clamps(rows: list[int], y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Views of ``y`` over each run of consecutive ``rows``, each with zeros of its shape.

    ``np.maximum(view, zeros, out=view)`` clamps in place: no copy as with fancy indexing, and
    against an array numpy takes its vectorised loop, which it does not against the scalar 0.0
    (about 2.5x slower measured). NaN stays NaN, as with ``np.maximum(y, 0.0)``.
    """
    runs: list[list[int]] = []
    for i in rows:
        if runs and runs[-1][1] == i:
            runs[-1][1] = i + 1
        else:
            runs.append([i, i + 1])
    zeros = np.zeros((max((b - a for a, b in runs), default=0), y.shape[1]))
    return [(y[a:b], zeros[: b - a]) for a, b in runs]


@lru_cache(maxsize=64)
def _non_negative(model: Model) -> list[int]:
    """Rows of the stocks declared non-negative (per model: models compare by identity)."""
    return list(model.non_negative_rows())


def _run_scalar(
    compiled: CompiledModel,
    p: np.ndarray,
    plan: FixedStepPlan,
    tableau: Tableau,
    report: ProgressReport,
) -> np.ndarray:
    grid, clock = plan.grid, plan.grid.clock
    y0, d0, delays = initial_state(compiled, grid, p)
    y, d = y0[:, 0].tolist(), d0[:, 0].tolist()
    params = compiled.prepare(clock, p)[:, 0].tolist()
    if not all(map(math.isfinite, y + d)):
        raise ValueError("non-finite initial value")
    discrete = _DiscreteLists(compiled, d, delays, grid.dt, len(plan.steps) + 1) if d else None
    full, rates = compiled.prepared.full_scalar, compiled.prepared.rates_scalar
    non_negative = _non_negative(compiled.model)
    # one stage is explicit Euler (consistency makes its weight 1): stepped inline below
    stepper = None if tableau.stages == 1 else _stepper_scalar(tableau, rates)
    rows: list[list[float]] = []
    for first, end, reached in plan.blocks(BLOCK_STEPS):
        for k, t, h, saved in plan.schedule[first:end]:
            if saved:
                dy, dn, out = full(t, clock, y, params, d)
                rows.append(out)
            else:
                dy, dn = rates(t, clock, y, params, d)
            if stepper is None:
                y = [a + h * b for a, b in zip(y, dy)]  # noqa: B905 - same length by construction
            else:
                y = stepper(t, h, clock, y, params, d, dy)
            for i in non_negative:
                y[i] = max(y[i], 0.0)
            if discrete is not None:
                d = discrete.advance(k, d, dn)
        report.reached(reached)
    rows.append(full(grid.stop, clock, y, params, d)[2])
    values = np.array(rows, dtype=float)
    if not np.isfinite(values).all():
        raise ValueError("non-finite value")
    return values[:, :, None]


ScalarRates = Callable[..., tuple[list[float], list[float]]]
ScalarStep = Callable[
    [float, float, tuple[float, float, float], list[float], list[float], list[float], list[float]],
    list[float],
]


def _stepper_scalar(tableau: Tableau, rates: ScalarRates) -> ScalarStep:
    """One step of ``tableau`` on lists (a single member), as :func:`_stepper_arrays` takes it:
    ``step(t, h, clock, y, p, d, k1)`` returns the new ``y``."""
    later = [
        (row, float(c)) for row, c in zip(tableau.stage_terms()[1:], tableau.c[1:], strict=True)
    ]
    denominator, runs = tableau.weight_groups()

    def weighted(weight: int, run: tuple[int, ...], stages: list[list[float]]) -> list[float]:
        if len(run) == 1:
            return stages[run[0]] if weight == 1 else [weight * k for k in stages[run[0]]]
        part = stages[run[0]]
        for i in run[1:]:
            part = [a + b for a, b in zip(part, stages[i], strict=True)]
        return part if weight == 1 else [weight * k for k in part]

    def step(
        t: float,
        h: float,
        clock: tuple[float, float, float],
        y: list[float],
        p: list[float],
        d: list[float],
        k1: list[float],
    ) -> list[float]:
        stages = [k1]
        for row, c in later:
            trial = y
            for j, a in row:
                coefficient = h * a
                trial = [v + coefficient * k for v, k in zip(trial, stages[j], strict=True)]
            stages.append(rates(t + c * h, clock, trial, p, d)[0])
        total = weighted(*runs[0], stages)
        for weight, run in runs[1:]:
            total = [a + b for a, b in zip(total, weighted(weight, run, stages), strict=True)]
        scale = h / denominator
        return [a + scale * b for a, b in zip(y, total, strict=True)]

    return step
