"""Back ends of the fixed-step methods: the numpy kernels stepped from Python, or the whole loop
compiled by numba.

``numpy`` is always there: one run steps the generated scalar kernel in Python, an ensemble the
numpy kernels, chunk by chunk. ``numba`` runs the loop of :mod:`pssc_sim.compile.loop`, compiled
on first use (or loaded from the cache folder, :mod:`pssc_sim.compile.cache`), with no Python per
step. ``auto`` takes numba where it wins, counting what it costs to get the compiled loop:

- nothing when the loop was built in this process already: numba, whatever the number of
  members (from :data:`BLOCK_MEMBERS` members, the block loop of
  :mod:`pssc_sim.compile.block_loop`, which steps a block of members together and is as fast
  as numpy's kernels on chunks of members or faster);
- loading it from the cache folder: milliseconds (:data:`AHEAD_LOAD_SECONDS`) for the extension
  module built ahead of time (:mod:`pssc_sim.compile.aot`), about :data:`LOAD_SECONDS` for
  numba's cached machine code (importing numba, reading it), when the numpy run is estimated to
  take longer;
- compiling it (about :data:`COMPILE_SECONDS` plus :data:`COMPILE_SECONDS_PER_EQUATION` per
  equation) when the numpy run is estimated to take longer than that.

The estimate of the numpy run and the constants are measured with ``benchmarks/bench_backends.py``
(see ``benchmarks/README.md``). The adaptive methods, and the few array operations the loop cannot
write element by element, always run on numpy. The loop takes the method as its Butcher tableau
(:mod:`pssc_sim.integrate.tableau`), its outputs from the run's allocator (in memory, or in a file
when they do not fit, :mod:`pssc_sim.integrate.storage`) and its members in the chunks the memory
plan chose. On a Dask cluster ``auto`` keeps numpy (each worker process would compile or load the
loop); ``numba`` asked for runs the loop on the workers.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from types import MappingProxyType

import numpy as np

from pssc_sim.compile.block_loop import CompiledBlockLoop
from pssc_sim.compile.cache import is_stored, numba_version
from pssc_sim.compile.compiled import CompiledModel
from pssc_sim.compile.loop import LoopFunction
from pssc_sim.errors import ParameterError, did_you_mean
from pssc_sim.integrate.fixed import (
    FixedStepPlan,
    check_finite,
    initial_state,
    pipeline_lengths,
)
from pssc_sim.integrate.grid import Grid
from pssc_sim.integrate.progress import Progress, ProgressReport
from pssc_sim.integrate.storage import Allocate, in_memory
from pssc_sim.integrate.tableau import Tableau

#: Every back end, with what it does.
BACKENDS: Mapping[str, str] = MappingProxyType(
    {
        "numpy": "generated numpy kernels stepped from Python (always available)",
        "numba": "the whole fixed-step loop compiled to machine code by numba (the 'fast' extra)",
        "auto": "numba where it wins once compiling or loading it is counted, numpy otherwise",
    }
)
#: Seconds to import numba and load a compiled loop from the cache folder (measured 0.3-2 s).
LOAD_SECONDS = 1.0
#: Seconds to load a loop built ahead of time (measured: 5 ms of CPU, no numba imported).
AHEAD_LOAD_SECONDS = 0.02
#: Seconds to compile the loop of a small model cold, and more per equation (measured in CPU
#: seconds at a load of 7 to 11 on 2 cores: 2.1 s for SIR, 8.4 s for models/ambulance, 14 s
#: for the 301-variable ring; see benchmarks/README.md).
COMPILE_SECONDS = 2.0
COMPILE_SECONDS_PER_EQUATION = 0.05
#: Members from which the numba back end runs the block loop rather than one member at a
#: time (measured crossover: 10 to 16 members for SIR; see ``benchmarks/README.md``).
BLOCK_MEMBERS = 16
#: Members up to which ``auto`` runs an ensemble on the member loop, one member at a time,
#: where that loop is ready and the block loop is not (measured crossover with numpy's chunked
#: kernels: a few hundred members; see ``benchmarks/README.md``).
MEMBER_LOOP_MEMBERS = 256
#: Seconds more per equation to compile the block loop (its loops over the members are
#: vectorised one by one: measured 10 CPU s for SIR on a loaded machine).
BLOCK_COMPILE_SECONDS_PER_EQUATION = 0.5
#: Seconds per equation and step of a single run on numpy (the scalar kernel in Python).
SCALAR_SECONDS = 6e-8
#: Seconds per numpy call and per equation, member and step of an ensemble on numpy.
CALL_SECONDS = 1.5e-6
ELEMENT_SECONDS = 3e-9


def check_backend(backend: str) -> None:
    """Raise :class:`ParameterError` unless ``backend`` is a known back end."""
    if not isinstance(backend, str) or backend not in BACKENDS:
        hint = did_you_mean(backend, BACKENDS) if isinstance(backend, str) else ""
        raise ParameterError(
            f"backend: unknown back end {backend!r}.{hint} Use one of: {', '.join(BACKENDS)}"
        )


def choose_backend(
    compiled: CompiledModel,
    grid: Grid,
    tableau: Tableau | None,
    method: str,
    members: int,
    backend: str,
    distributed: bool = False,
    runs: int = 1,
) -> str:
    """``numpy`` or ``numba`` for a run of ``method`` (whose tableau is ``tableau``, ``None``
    for an adaptive method; see the module docstring for ``auto``).

    ``runs`` counts the runs like this one that a caller will make of the same compiled model
    (a calibration's search): ``auto`` weighs their estimated time on numpy together against
    compiling or loading the loop once.

    ``numba`` asked for where it cannot run raises :class:`ParameterError` saying why. A run on
    a cluster (``distributed``) takes numba only when asked for: every worker process would
    compile or load the loop itself, and a cluster runs ensembles, where numpy is as fast.
    """
    check_backend(backend)
    if backend == "numpy":
        return "numpy"
    blocks = members >= BLOCK_MEMBERS
    built = compiled.has_block_loop if blocks else compiled.has_loop
    if blocks and members <= MEMBER_LOOP_MEMBERS and compiled.has_loop:
        built = True  # the member loop, loaded, runs them (see runs_blocks)
    if backend == "auto":
        if distributed or tableau is None:
            return "numpy"
        cost = runs * numpy_seconds(compiled, grid, tableau, members)
        if cost <= AHEAD_LOAD_SECONDS and not built:
            return "numpy"  # neither loading nor compiling the loop can pay: nothing looked up
        if cost <= LOAD_SECONDS and not built and (blocks or not _built_ahead(compiled)):
            return "numpy"
    reason = _refusal(compiled, tableau, method)
    if backend == "numba":
        if reason:
            raise ParameterError(
                f"backend: the numba back end cannot run this (got "
                f"backend='numba': {reason}). Use backend='numpy' or 'auto'"
            )
        return "numba"
    if reason or tableau is None:
        return "numpy"
    if blocks:
        cost = runs * numpy_seconds(compiled, grid, tableau, members)
        if _blocks_pay(compiled, cost):
            return "numba" if compiled.block_loop.run is not None else "numpy"
        return (
            "numba" if members <= MEMBER_LOOP_MEMBERS and _member_loop_ready(compiled) else "numpy"
        )
    if compiled.has_loop:
        return "numba" if compiled.loop.run is not None else "numpy"
    cost = runs * numpy_seconds(compiled, grid, tableau, members)
    if _built_ahead(compiled):
        return "numba" if cost > AHEAD_LOAD_SECONDS else "numpy"
    if is_stored(compiled.loop_key):
        return "numba" if cost > LOAD_SECONDS else "numpy"
    compile_cost = COMPILE_SECONDS + COMPILE_SECONDS_PER_EQUATION * _elements(compiled)
    return "numba" if cost > compile_cost else "numpy"


def _blocks_pay(compiled: CompiledModel, cost: float) -> bool:
    """Whether ``auto`` takes the block loop for an ensemble estimated to take ``cost`` seconds
    on numpy: once it is built (it is as fast as numpy's kernels or faster at every size
    measured), else when the numpy run would take longer than loading it from numba's cache or
    compiling it."""
    if compiled.has_block_loop:
        return True
    if is_stored(compiled.block_key):
        return cost > LOAD_SECONDS
    return cost > COMPILE_SECONDS + BLOCK_COMPILE_SECONDS_PER_EQUATION * _elements(compiled)


def _member_loop_ready(compiled: CompiledModel) -> bool:
    """Whether the member loop runs without compiling: loaded in this process, or built ahead
    of time (loaded in milliseconds)."""
    if compiled.has_loop:
        return compiled.loop.run is not None
    return _built_ahead(compiled)


def runs_blocks(
    compiled: CompiledModel,
    grid: Grid,
    tableau: Tableau,
    members: int,
    backend: str,
    runs: int = 1,
) -> bool:
    """Whether a run of ``members`` that :func:`choose_backend` gave to numba runs on the block
    loop: ``numba`` asked for takes it from :data:`BLOCK_MEMBERS` members; ``auto`` only where
    the block loop pays (built, stored, or worth compiling), else the ready member loop runs
    the members one at a time (as fast as numpy's kernels up to a few hundred members), so a
    program with the member loop loaded (the explorer) does not stop to compile the other."""
    if members < BLOCK_MEMBERS:
        return False
    if backend != "auto":
        return True
    return _blocks_pay(compiled, runs * numpy_seconds(compiled, grid, tableau, members))


def _built_ahead(compiled: CompiledModel) -> bool:
    """Whether the cache folder holds the loop as an extension module built ahead of time."""
    if numba_version() is None or compiled.loop_refusal:
        return False
    from pssc_sim.compile import aot

    return aot.is_built(compiled.loop_key)


def _refusal(compiled: CompiledModel, tableau: Tableau | None, method: str) -> str:
    if numba_version() is None:
        return "numba is not installed; pip install 'pssc_sim[fast]'"
    if tableau is None:
        return f"it compiles the fixed-step methods, not the adaptive {method}"
    return compiled.loop_refusal


def _equations(compiled: CompiledModel) -> int:
    model = compiled.model
    return len(model.stocks) + len(model.flows) + len(model.auxiliaries) + len(compiled.outputs)


def _elements(compiled: CompiledModel) -> int:
    """The equations of the compiled loop: one per element of an arrayed variable."""
    model = compiled.model
    if not model.dimensions:
        return _equations(compiled)
    arrayed = sum(model.dimensions.size(f.dims) for f in model.flows) + sum(
        model.dimensions.size(a.dims) for a in model.auxiliaries
    )
    return compiled.n_stocks + arrayed + len(compiled.outputs)


def numpy_seconds(compiled: CompiledModel, grid: Grid, tableau: Tableau, members: int) -> float:
    """The estimated time of the run on the numpy back end (a model of its measured costs).

    A single run of a model without dimensions steps the scalar kernel; an ensemble, and any
    run of an arrayed model, the numpy kernels: a call per equation and its elements' work.
    """
    steps = math.ceil((grid.stop - grid.start) / grid.dt - 1e-6)
    work = steps * tableau.stages * _equations(compiled)
    if members == 1 and not compiled.model.dimensions:
        return work * SCALAR_SECONDS
    chunks = math.ceil(members / 4096)
    elements = steps * tableau.stages * _elements(compiled)
    return work * chunks * CALL_SECONDS + elements * members * ELEMENT_SECONDS


@functools.cache
def tableau_arrays(
    tableau: Tableau,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """``(a, c, weights, runs, denominator)`` of ``tableau`` as the compiled loop takes them:
    ``a`` square (stages x stages), the runs of stages sharing a weight as ``[first, end)``
    rows (see :meth:`~pssc_sim.integrate.tableau.Tableau.weight_groups`).

    Examples
    --------
    >>> from pssc_sim.integrate.tableau import RK4
    >>> a, c, weights, runs, denominator = tableau_arrays(RK4)
    >>> c.tolist(), weights.tolist(), runs.tolist(), denominator
    ([0.0, 0.5, 0.5, 1.0], [1.0, 2.0, 1.0], [[0, 1], [1, 3], [3, 4]], 6.0)
    """
    n = tableau.stages
    a = np.zeros((n, n))
    for i, row in enumerate(tableau.stage_terms()):
        for j, value in row:
            a[i, j] = value
    c = np.array([float(x) for x in tableau.c])
    denominator, groups = tableau.weight_groups()
    weights = np.array([float(w) for w, _ in groups])
    runs = np.array([[run[0], run[-1] + 1] for _, run in groups], dtype=np.int64)
    for array in (a, c, weights, runs):
        array.flags.writeable = False
    return a, c, weights, runs, float(denominator)


def run_loop(
    compiled: CompiledModel,
    p: np.ndarray,
    grid: Grid,
    tableau: Tableau,
    chunk: int,
    progress: Progress | None = None,
    allocate: Allocate = in_memory,
    function: LoopFunction | None = None,
    first_member: int = 0,
    block: CompiledBlockLoop | None = None,
    blocks: bool = True,
) -> np.ndarray:
    """Integrate with the compiled loop of the explicit Runge-Kutta method ``tableau``; saved
    outputs ``(n_rows, n_outputs, M)`` in an array made by ``allocate`` (in memory, or on disk:
    see :mod:`pssc_sim.integrate.storage`), as :func:`~pssc_sim.integrate.fixed.run_fixed_step`
    gives them.

    Members go to the loop ``chunk`` at a time (the chunk the run's memory plan chose); each
    chunk's rows are checked for values that are not finite (the loop says whether it saved
    one: only then are the rows searched for the message), and progress is reported, when it
    is done. A single run with a ``progress`` callback runs in pieces of steps (see
    :data:`SEGMENT_SECONDS`), reporting after each: the same bits as in one call. ``function``
    is the loop to run, by default the model's compiled one (see
    :func:`~pssc_sim.compile.loop.load_loop` for the same code uncompiled). Chunks of
    :data:`BLOCK_MEMBERS` members or more run on the model's block loop instead (see
    :mod:`pssc_sim.compile.block_loop`), unless ``function`` is given; ``block`` is a block
    loop to run every chunk on; without ``blocks`` (see :func:`runs_blocks`) the member loop
    runs every chunk. Messages count members from ``first_member`` (the first member's index in
    the whole run).

    The first run of a loop compiled just in time starts the build of its extension module
    for later processes (:func:`~pssc_sim.compile.aot.build_in_background`), typed from the
    arguments of this call.
    """
    members = p.shape[1]
    if blocks and block is None and function is None and min(chunk, members) >= BLOCK_MEMBERS:
        block = compiled.block_loop
    if block is not None and block.run is not None:
        return _run_blocks(
            compiled, p, grid, tableau, chunk, block, progress, allocate, first_member
        )
    built = compiled.loop if function is None else None
    loop = function or (built.run if built is not None else None)
    if loop is None:
        raise ParameterError(
            f"backend: the numba back end cannot run this (got "
            f"backend='numba': {compiled.loop.reason}). Use backend='numpy'"
        )
    plan = FixedStepPlan.build(grid)
    report = ProgressReport(progress, grid, members)
    values = allocate((plan.n_rows, len(compiled.outputs), members))
    # a file mapped into memory goes to the loop as the plain array over the same pages
    out = values if type(values) is np.ndarray else values.view(np.ndarray)
    coefficients = tableau_arrays(tableau)
    n_steps = len(plan.steps)
    for start in range(0, members, chunk):
        stop = min(start + chunk, members)
        report.chunk(start, stop)
        head = loop_head(compiled, grid, plan, p[:, start:stop])
        if progress is None or stop - start > 1:
            arguments = (*head, *coefficients, out, start, 0, n_steps, 0)
            finite = loop(*arguments)
        else:
            arguments, finite = _in_pieces(loop, head, coefficients, out, start, plan, report)
        if built is not None and not built.ahead and start == 0:
            from pssc_sim.compile import aot

            aot.build_in_background(built.key, arguments, built.digest)
        if not finite:  # the loop saw a value that is not finite (or does not say): find it
            _check(compiled, plan, out[:, :, start:stop], first_member + start)
        report.reached(grid.stop)
    report.finish()
    return values


def single_run(
    compiled: CompiledModel, grid: Grid, tableau: Tableau, p: np.ndarray
) -> Callable[[], np.ndarray]:
    """A single run of the parameters ``p`` (one member) on the built member loop, its
    arguments made once: each call makes the output array and runs the loop in one call, as
    :func:`run_loop` does for one member with no progress and the outputs in memory."""
    loop = compiled.loop.run
    assert loop is not None, "a single run is prepared once its loop is built"
    plan = FixedStepPlan.build(grid)
    head = (*loop_head(compiled, grid, plan, p), *tableau_arrays(tableau))
    shape = (plan.n_rows, len(compiled.outputs), 1)
    n_steps = len(plan.steps)

    def run() -> np.ndarray:
        out = np.empty(shape)
        if not loop(*head, out, 0, 0, n_steps, 0):
            _check(compiled, plan, out, 0)
        return out

    return run


def _run_blocks(
    compiled: CompiledModel,
    p: np.ndarray,
    grid: Grid,
    tableau: Tableau,
    chunk: int,
    block: CompiledBlockLoop,
    progress: Progress | None,
    allocate: Allocate,
    first_member: int,
) -> np.ndarray:
    """:func:`run_loop` on the block loop ``block``: each chunk's members in blocks."""
    assert block.run is not None, "only a compiled block loop runs"
    plan = FixedStepPlan.build(grid)
    members = p.shape[1]
    report = ProgressReport(progress, grid, members)
    values = allocate((plan.n_rows, len(compiled.outputs), members))
    out = values if type(values) is np.ndarray else values.view(np.ndarray)
    coefficients = tableau_arrays(tableau)
    for start in range(0, members, chunk):
        stop = min(start + chunk, members)
        report.chunk(start, stop)
        steps, widths, saved, clock, q, y0, d0, lengths, _ = loop_head(
            compiled, grid, plan, p[:, start:stop]
        )
        finite = block.run(
            steps, widths, saved, clock, q, y0, d0, lengths, *coefficients, out, start, block.size
        )
        if not finite:  # the loop checked every saved value: find the first one for the message
            _check(compiled, plan, out[:, :, start:stop], first_member + start)
        report.reached(grid.stop)
    report.finish()
    return values


def _check(compiled: CompiledModel, plan: FixedStepPlan, written: np.ndarray, first: int) -> None:
    """Raise :class:`~pssc_sim.errors.SimulationError` at the first value of the rows
    ``written`` (of members from ``first``) that is not finite."""
    # the sum of the values is not finite where one is not (or, rarely, where finite values
    # overflow it): one pass, with no temporary array, and the search row by row only then
    if not math.isfinite(np.add.reduce(written, axis=None)):
        for row in range(plan.n_rows):
            check_finite(compiled, written[row], float(plan.times[row]), first)


def loop_head(
    compiled: CompiledModel, grid: Grid, plan: FixedStepPlan, p: np.ndarray
) -> tuple[np.ndarray, ...]:
    """The first arguments of the loop's ``run`` for the members ``p`` (see
    :mod:`pssc_sim.compile.loop`): ``times, widths, saved, clock, q, y0, d0, lengths, ring``,
    the initial values and hoisted terms computed by the numpy kernels.

    For a single member they are kept (the last :data:`MOST_KEPT` by model, grid and
    parameter values): a model run again with the same parameters (a tool calling it with
    a few sets in turn) takes the same arrays instead of calling the numpy kernels again,
    which costs more than the compiled run of a small model. The kernels are pure functions of
    the grid and the parameters, so the values are the same; a run in one call only reads
    ``y0`` and ``d0``, and fills ``ring`` before reading it (a run in pieces, which writes the
    member's state back, works on copies: see :func:`_in_pieces`).
    """
    members = p.shape[1]
    key = (id(compiled), grid, p.tobytes()) if members == 1 else None
    kept = _KEPT.get(key) if key is not None else None
    if kept is not None and kept[0] is compiled:
        return kept[1]
    y0, d0, delays = initial_state(compiled, grid, p)
    lengths = (
        pipeline_lengths(delays, grid.dt, len(plan.steps) + 1)
        if compiled.fixed_delays
        else np.zeros((0, members), dtype=np.int64)
    )
    q = np.ascontiguousarray(compiled.prepare(grid.clock, p))
    ring = np.empty((max(1, lengths.shape[0]), int(lengths.max()) if lengths.size else 1))
    clock = np.array(grid.clock)
    head = (plan.steps, plan.widths, plan.saved, clock, q, y0, d0, lengths, ring)
    if key is not None:
        if len(_KEPT) >= MOST_KEPT:
            del _KEPT[next(iter(_KEPT))]
        _KEPT[key] = (compiled, head)
    return head


#: Single runs whose initial values and hoisted terms :func:`loop_head` keeps.
MOST_KEPT = 64
_KEPT: dict[tuple[int, Grid, bytes], tuple[CompiledModel, tuple[np.ndarray, ...]]] = {}


#: Seconds a piece of a single run with progress takes, about: the first piece is
#: :data:`FIRST_SEGMENT` steps, and each next one doubles while pieces are quicker than this.
SEGMENT_SECONDS = 0.05
FIRST_SEGMENT = 16


def _in_pieces(
    loop: LoopFunction,
    head: tuple[np.ndarray, ...],
    coefficients: tuple[object, ...],
    out: np.ndarray,
    start: int,
    plan: FixedStepPlan,
    report: ProgressReport,
) -> tuple[tuple[object, ...], bool]:
    """Run one member's steps in pieces, reporting the time reached after each; the arguments
    of the last call, and whether every piece said that its saved values are finite."""
    import time

    n_steps = len(plan.steps)
    saved_before = np.concatenate(([0], np.cumsum(plan.saved, dtype=np.int64)))
    # each piece writes the member's stocks, discrete states and pipelines back for the next:
    # into copies, not the arrays loop_head keeps
    head = (*head[:5], *(np.array(a) for a in head[5:7]), head[7], np.array(head[8]))
    begin, size = 0, FIRST_SEGMENT
    arguments: tuple[object, ...] = ()
    finite = True
    while True:
        end = min(begin + size, n_steps)
        arguments = (*head, *coefficients, out, start, begin, end, int(saved_before[begin]))
        clock = time.perf_counter()
        finite = bool(loop(*arguments)) and finite
        if end == n_steps:
            return arguments, finite
        if time.perf_counter() - clock < SEGMENT_SECONDS:
            size *= 2
        report.reached(float(plan.steps[end]))
        begin = end
