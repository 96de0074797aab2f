"""Ensembles on a Dask cluster: what a modeller calls, beside ``simulate(..., scheduler=...)``.

:func:`summarise` returns only an ensemble's quantiles and means, reduced on the workers;
:func:`save_ensemble` has the workers write every member to a Zarr store; :func:`run_reduced`
returns what a reducer makes of each member on its worker (an inference design's statistics).
In all three the client never holds the members' series, and :func:`summarise` and
:func:`run_reduced` do not build the parameter matrix either: each task carries the values
given for its members, and the worker fills in their rows (:class:`Overrides`), or what the
worker makes them from, such as a sampled ensemble's specification (:class:`Made`).

Each call is checked and sized as :func:`~pssc_sim.simulate` is: the memory limit
``max_memory`` bounds this process (which holds the members' parameters and what comes back)
and every worker (which runs one block of members as a run of its own), and the chunk of
members a worker works on at a time is the one the memory plan chose (:func:`plan_blocks`). How
blocks are cut, sent, rerun after a lost worker and gathered is in
:mod:`pssc_sim.integrate.cluster`.

Dask is imported only when a cluster is asked for (``pip install pssc_sim[distributed]``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike

from pssc_sim.compile.compiler import CompiledModel
from pssc_sim.errors import ParameterError
from pssc_sim.integrate import budget
from pssc_sim.integrate.backends import check_backend, choose_backend
from pssc_sim.integrate.cluster import (
    Reducer,
    Scheduler,
    SchedulerError,
    Summary,
    connect,
    parse_scheduler,
    run_on_cluster,
    save_on_cluster,
    summarise_on_cluster,
)
from pssc_sim.integrate.fixed import DEFAULT_CHUNK, saved_times
from pssc_sim.integrate.grid import Grid
from pssc_sim.integrate.methods import METHODS
from pssc_sim.integrate.options import SolverOptions
from pssc_sim.integrate.progress import Progress
from pssc_sim.integrate.simulate import (
    check_options,
    compiled_for,
    fill_parameters,
    make_grid,
    parameter_overrides,
    run_counts,
)
from pssc_sim.ir.model import Model
from pssc_sim.netcdf import start_ensemble_file
from pssc_sim.orderstats import GATHERED, MEAN_GROUP, ROUND_COUNTS, SKETCH_TOTAL

__all__ = [
    "Reducer",
    "Scheduler",
    "SchedulerError",
    "Summary",
    "connect",
    "parse_scheduler",
    "run_reduced",
    "save_ensemble",
    "summarise",
]

#: The bytes of results a cluster run brings back to this process, from the run's counts.
Sizer = Callable[[budget.Counts], float]


def summarise(
    model: Model | CompiledModel,
    params: Mapping[str, ArrayLike] | Made | None = None,
    *,
    scheduler: Scheduler,
    method: str = "euler",
    time: Mapping[str, float] | None = None,
    outputs: Sequence[str] | None = None,
    chunk: int = DEFAULT_CHUNK,
    quantiles: Sequence[float] = (0.05, 0.25, 0.5, 0.75, 0.95),
    rtol: float = 1e-6,
    atol: float = 1e-9,
    progress: Progress | None = None,
    max_memory: int | None = None,
    ensemble: str | Path | None = None,
    attributes: Mapping[str, str | int | float] | None = None,
    reduce: tuple[Reducer, int] | None = None,
    backend: str = "auto",
) -> Summary:
    """:func:`~pssc_sim.simulate` on a cluster, returning only quantiles and means over the
    members (the same numbers as :func:`~pssc_sim.output.ensemble_table` of the full run), so
    the caller never holds the members: a million-member ensemble costs the client the
    values given for its members and a few arrays of times x outputs.

    With ``ensemble``, a path on storage every worker can write to, every member is also
    written there as a netCDF file, each block by the worker that ran it: byte for byte the
    file :func:`~pssc_sim.output.write_netcdf` writes of the full run (its attributes the model,
    the method and ``attributes``).

    With ``reduce``, ``(reducer, rows)``, what is summarised is the ``rows`` numbers the
    reducer makes of each member on its worker (such as a scorecard's values at its target
    dates and whether each target is met): the summary's quantiles, mean and median are then
    ``(n_q, rows)``, ``(rows,)`` and ``(rows,)``. ``backend`` is :func:`~pssc_sim.simulate`'s.

    >>> summarise(None, scheduler=2)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    pssc_sim.errors.ParameterError: model: expected a Model or a CompiledModel (got NoneType). ...
    """
    levels = tuple(float(q) for q in quantiles)
    if not all(0.0 <= q <= 1.0 for q in levels):
        raise ParameterError(
            f"quantiles: must lie in [0, 1] (got {list(quantiles)}). Use e.g. [0.05, 0.5, 0.95]"
        )
    run = prepare(
        model,
        params,
        method,
        time,
        outputs,
        (rtol, atol, chunk, max_memory),
        progress,
        reduced=lambda counts: summary_bytes(counts, len(levels)),
        backend=backend,
    )
    target = None
    if ensemble is not None:
        assert not isinstance(run.p, np.ndarray)
        times = saved_times(run.grid) if METHODS[method].fixed_step else run.grid.save_times()
        path = Path(ensemble)
        try:
            layout = start_ensemble_file(
                path,
                times,
                run.compiled.outputs,
                run.compiled.parameter_names,
                run.p.count,
                {"model": run.compiled.model.name, "method": method, **(attributes or {})},
            )
        except OSError as exc:
            raise ParameterError(
                f"ensemble: cannot write the file ({exc.strerror}) (got '{path}'). Give a path "
                "in a folder that exists, on storage every worker can write to"
            ) from None
        target = (path, layout)
    return summarise_on_cluster(
        scheduler,
        run.compiled,
        run.p,
        run.grid,
        method,
        run.options,
        levels,
        ensemble=target,
        reduce=reduce,
    )


def summary_bytes(counts: budget.Counts, levels: int) -> float:
    """What a summary brings back to this process: the quantiles and the mean, each block's
    partial sums of the mean and sketch, a round's counts and the members brought together at
    the end."""
    cells = counts.n_rows * counts.n_outputs
    groups = -(-counts.members // MEAN_GROUP)
    return 8.0 * cells * (levels + 1 + groups) + 8.0 * (ROUND_COUNTS + GATHERED + SKETCH_TOTAL)


def save_ensemble(
    model: Model | CompiledModel,
    params: Mapping[str, ArrayLike] | None,
    path: str | Path,
    *,
    scheduler: Scheduler,
    method: str = "euler",
    time: Mapping[str, float] | None = None,
    outputs: Sequence[str] | None = None,
    chunk: int = DEFAULT_CHUNK,
    rtol: float = 1e-6,
    atol: float = 1e-9,
    max_memory: int | None = None,
    backend: str = "auto",
) -> Path:
    """:func:`~pssc_sim.simulate` on a cluster, every member written to a Zarr store at
    ``path`` by the workers in parallel (see
    :func:`~pssc_sim.integrate.cluster.save_on_cluster`); return the path.

    >>> save_ensemble(None, None, "x.zarr", scheduler=2)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    pssc_sim.errors.ParameterError: model: expected a Model or a CompiledModel (got NoneType). ...
    """
    run = prepare(
        model,
        params,
        method,
        time,
        outputs,
        (rtol, atol, chunk, max_memory),
        None,
        matrix=True,
        backend=backend,
    )
    assert isinstance(run.p, np.ndarray)  # the store holds every member's parameters
    return save_on_cluster(scheduler, run.compiled, run.p, run.grid, method, run.options, path)


def run_reduced(
    model: Model | CompiledModel,
    params: Mapping[str, ArrayLike] | Made | None,
    reduce: Reducer,
    *,
    scheduler: Scheduler,
    method: str = "euler",
    time: Mapping[str, float] | None = None,
    outputs: Sequence[str] | None = None,
    chunk: int = DEFAULT_CHUNK,
    rtol: float = 1e-6,
    atol: float = 1e-9,
    progress: Progress | None = None,
    max_memory: int | None = None,
    rows: float = 1.0,
    backend: str = "auto",
) -> np.ndarray:
    """Run an ensemble on the cluster, each block reduced on its worker by ``reduce``; the
    reduced blocks side by side (members on the last axis), in member order. An inference
    design that needs one number per member moves 8 bytes a member, not its whole series.
    ``rows`` is the numbers ``reduce`` makes of each member (for the memory plan); ``backend``
    is :func:`~pssc_sim.simulate`'s.
    """
    run = prepare(
        model,
        params,
        method,
        time,
        outputs,
        (rtol, atol, chunk, max_memory),
        progress,
        reduced=lambda counts: 8.0 * rows * counts.members,
        backend=backend,
    )
    return run_on_cluster(
        scheduler, run.compiled, run.p, run.grid, method, run.options, reduce=reduce
    )[1]


@dataclass(frozen=True, slots=True)
class Overrides:
    """Members as the parameter values given for them, ``values`` (checked float arrays: one
    value per member, or one for all), whose rows each worker fills in from the model's
    defaults: the client never builds the parameters x members matrix, and a task carries only
    the given values of its block.

    A block's rows are the columns of the matrix one process builds, bit for bit:

    >>> from pssc_sim.parse import load_model
    >>> import pathlib, pssc_sim
    >>> sir = load_model(pathlib.Path(pssc_sim.__file__).parent.parent / "models" / "sir")
    >>> compiled = compiled_for(sir, None)
    >>> values, members = parameter_overrides(compiled, {"infectivity": [0.1, 0.2, 0.3]})
    >>> rows = Overrides(values, members).block(1, 3)(compiled)
    >>> bool((rows == fill_parameters(compiled, values, members)[:, 1:3]).all())
    True
    """

    values: Mapping[str, np.ndarray]
    count: int

    def block(self, start: int, stop: int) -> Overrides:
        """The members ``start`` to ``stop``: the given values of those members alone."""
        return Overrides(
            {
                name: array if array.ndim == 0 else np.ascontiguousarray(array[start:stop])
                for name, array in self.values.items()
            },
            stop - start,
        )

    def __call__(self, compiled: CompiledModel) -> np.ndarray:
        """The rows (parameters x members) of these members, on the worker."""
        return fill_parameters(compiled, self.values, self.count)


class Made(Protocol):
    """Members whose parameter values the workers make themselves (such as
    :class:`~pssc_sim.scenario.sampling.SampledMembers`, a sampled ensemble's specification):
    ``count`` members; ``block(start, stop)`` what a task carries for some of them; called
    with the compiled model, the rows (parameters x members) of all of them; ``example()`` one
    plausible value of each parameter, which this process checks before anything is sent."""

    @property
    def count(self) -> int: ...

    def block(self, start: int, stop: int) -> Made: ...

    def example(self) -> Mapping[str, ArrayLike]: ...

    def __call__(self, compiled: CompiledModel) -> np.ndarray: ...


@dataclass(frozen=True, slots=True)
class Prepared:
    """A cluster run checked and sized: its kernel, members (the parameter matrix, or
    :class:`Overrides` that the workers fill in), grid and options."""

    compiled: CompiledModel
    p: np.ndarray | Overrides | Made
    grid: Grid
    options: SolverOptions


def prepare(
    model: Model | CompiledModel,
    params: Mapping[str, ArrayLike] | Made | None,
    method: str,
    time: Mapping[str, float] | None,
    outputs: Sequence[str] | None,
    settings: tuple[float, float, int, int | None],
    progress: Progress | None,
    reduced: Sizer | None = None,
    matrix: bool = False,
    backend: str = "auto",
) -> Prepared:
    """Check a call as :func:`~pssc_sim.simulate` does and size it with :func:`plan_blocks`
    (``settings`` is ``(rtol, atol, chunk, max_memory)``); the members as the parameter matrix
    with ``matrix``, else as :class:`Overrides`; the back end chosen as
    :func:`~pssc_sim.simulate` chooses it for a cluster (numpy for ``auto``; ``numba`` asked
    for runs the compiled loop on the workers, :func:`~pssc_sim.integrate.cluster.job_for`)."""
    rtol, atol, chunk, max_memory = settings
    if not isinstance(model, (Model, CompiledModel)):
        raise ParameterError(
            f"model: expected a Model or a CompiledModel (got "
            f"{type(model).__name__}). Load it with pssc_sim.load_model"
        )
    check_options(method, rtol, atol, chunk, max_memory)
    check_backend(backend)
    names = None if outputs is None else tuple(outputs)
    if isinstance(model, CompiledModel):
        compiled = model if names is None else compiled_for(model.model, names)
    else:
        compiled = compiled_for(model, names)
    made = None if params is None or isinstance(params, Mapping) else params
    if made is None:
        overrides, members = parameter_overrides(compiled, params)  # type: ignore[arg-type]
    else:
        overrides = parameter_overrides(compiled, made.example())[0]  # the names and values
        members = made.count
    grid = make_grid(compiled.model, time)
    # the given values, and the copies of blocks on their way to the workers
    given = None if matrix else 16.0 * sum(array.size for array in overrides.values())
    chunk = plan_blocks(compiled, grid, method, members, chunk, max_memory, reduced, given)
    p: np.ndarray | Overrides | Made
    if made is not None:
        p = made(compiled) if matrix else made
    else:
        p = (
            fill_parameters(compiled, overrides, members)
            if matrix
            else Overrides(overrides, members)
        )
    chosen = choose_backend(
        compiled, grid, METHODS[method].tableau, method, members, backend, distributed=True
    )
    options = SolverOptions(rtol=rtol, atol=atol, chunk=chunk, progress=progress, backend=chosen)
    return Prepared(compiled, p, grid, options)


def plan_blocks(
    compiled: CompiledModel,
    grid: Grid,
    method: str,
    members: int,
    chunk: int,
    max_memory: int | None,
    reduced: Sizer | None = None,
    parameters: float | None = None,
) -> int:
    """Size a run whose members' series stay on the workers; return the chunk of members to
    work on at a time (and the most a block holds).

    A worker runs a block of at most ``chunk`` members as a run of its own, keeping the block's
    series until it is reduced or written, so the chunk is made smaller until such a run fits in
    ``max_memory``. This process keeps ``parameters`` bytes of the members' parameters (by
    default the whole matrix) and ``reduced(counts)`` bytes of results. Each must fit in the
    limit, else a :class:`~pssc_sim.integrate.budget.ResourceLimitError` says what to change.

    >>> from pssc_sim.parse import load_model
    >>> import pathlib, pssc_sim
    >>> sir = load_model(pathlib.Path(pssc_sim.__file__).parent.parent / "models" / "sir")
    >>> compiled, grid = compiled_for(sir, None), make_grid(sir, None)
    >>> plan_blocks(compiled, grid, "rk45", 10_000, 4096, 200 * 2**20)
    4096
    >>> from pssc_sim.integrate.simulate import plan_run
    >>> block = plan_blocks(compiled, grid, "rk45", 10_000, 4096, 20 * 2**20)
    >>> block < 4096, plan_run(compiled, grid, "rk45", block, block, 20 * 2**20).chunk == block
    (True, True)
    """
    block = min(members, chunk)
    counts = run_counts(compiled, grid, method, block)
    budget.check_steps(counts, grid.dt, (grid.start, grid.stop))
    checked = (
        max_memory is not None
        or budget.configured_limit() is not None
        or budget.estimate(counts, block).total > budget.SMALL_RUN
    )
    limit = (
        (budget.default_memory_limit() if max_memory is None else max_memory)
        if checked
        else math.inf
    )
    size = budget.estimate(counts, block)
    if size.total > limit:
        # every part but the schedule and the fixed base grows with the block's members
        fixed = budget.MARGIN * (budget.BASE_BYTES + size.schedule)
        block = int(max(1, min(block, (limit - fixed) // ((size.total - fixed) / block))))
        counts = run_counts(compiled, grid, method, block)
        budget.check_run(budget.estimate(counts, block), limit)
    everyone = run_counts(compiled, grid, method, members)
    rows = 24.0 * everyone.n_rows  # the saved times, here and on each worker
    here = budget.Estimate(
        everyone,
        block,
        outputs=reduced(everyone) if reduced else 0.0,
        parameters=16.0 * everyone.n_parameters * members if parameters is None else parameters,
        working=0.0,
        schedule=rows,
        samples=0.0,
    )
    budget.check_run(here, limit)
    return block
