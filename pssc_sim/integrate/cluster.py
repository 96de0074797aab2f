"""Running members on a Dask cluster: the connection, the blocks of members, the workers' side.

The public functions are in :mod:`pssc_sim.integrate.distributed` (and ``scheduler=`` of
:func:`~pssc_sim.simulate`); this module does the work. ``scheduler=`` is the address of a
running scheduler (``tcp://host:8786``, a cluster started with ``dask scheduler`` and ``dask
worker``), a number of local worker processes (``4`` or ``"processes:4"``: a
:class:`distributed.LocalCluster` on 127.0.0.1, one thread per process, no dashboard, closed when
the call ends), or a :class:`distributed.Client` the caller manages. Left out (``None``), it is
the Dask client current in the process, as ``dask.compute`` takes it: the client of a ``with
Client(address):`` block, else the last one created and not closed
(:func:`~pssc_sim.integrate.simulate.current_scheduler`, which looks only if distributed is
imported already); ``False`` keeps a run in the process even then. The clients this module makes
itself (:func:`connect`) are never made current: they serve the call that named them, and the
process's other Dask work does not move to them.

What travels to the workers is data, never generated code: the model (the validated IR, pickled,
a few kilobytes; sent once per call and shared by every task) and each block's rows of the
parameter matrix. A worker compiles the kernel itself with
:func:`~pssc_sim.compile.compiler.compile_model` (so the generated source goes through the same
check and the same :func:`~pssc_sim.compile.execute.execute` as anywhere), once per process,
cached under a hash of the pickled model and the recorded outputs (:func:`run_block`). The
members' parameters are fixed before anything is sent (drawn on the client, or made on the
workers from what a task carries, the same values: :class:`Members`), and the integrators are
deterministic and treat members one by one (the fixed-step methods) or chunk by chunk (the
adaptive ones, whose step control spans a chunk: blocks are whole multiples of ``chunk``), so the
values are bit-identical to a run in one process with the same chunk, whatever the number of
workers, the block size or the order blocks finish in. The chunk is the one the run's memory
plan chose (:func:`~pssc_sim.integrate.simulate.plan_run`), so a worker never works on more
members at a time than one process would. A worker that dies loses nothing: the scheduler runs
its blocks again elsewhere, and they give the same values.

Dask is imported only when a cluster is asked for (``pip install pssc_sim[distributed]``).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import math
import pickle
import re
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeAlias

import numpy as np

from pssc_sim.compile.cache import numba_version
from pssc_sim.compile.compiler import CompiledModel, compile_model
from pssc_sim.errors import ParameterError, PsscSimWarning, SimulationError
from pssc_sim.integrate.fixed import saved_times
from pssc_sim.integrate.grid import Grid
from pssc_sim.integrate.methods import METHODS
from pssc_sim.integrate.options import SolverOptions
from pssc_sim.integrate.progress import ProgressReport
from pssc_sim.ir.model import Model
from pssc_sim.netcdf import Layout, write_members
from pssc_sim.orderstats import (
    MEAN_GROUP,
    count_at_most,
    group_sums,
    key_floats,
    medians_from_order_statistics,
    members_between,
    needed_ranks,
    order_statistics,
    quantiles_from_order_statistics,
    sketch,
    sketch_brackets,
    sketch_points,
    sort_members,
)

#: Seconds to wait for a scheduler to answer before giving up.
CONNECT_TIMEOUT = 3.0

#: Kernels a worker process keeps compiled (the least recently used go first).
KERNEL_CACHE = 8

#: ``scheduler=``: an address, a number of local worker processes, or a ``distributed.Client``.
Scheduler = Any

_PROCESSES = re.compile(r"processes:(\d+)")
_ADDRESS = re.compile(r"(tcp|tls|inproc|ucx|ws|wss)://\S+")


class SchedulerError(ParameterError):
    """A cluster that cannot be used: a malformed address, or a scheduler that does not answer."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where to run, as parsed from ``scheduler=``: an ``address``, or ``workers`` local worker
    processes, or a ``client`` already connected."""

    address: str | None = None
    workers: int | None = None
    client: Any = None


def parse_scheduler(spec: Scheduler, where: str = "scheduler") -> Target:
    """``spec`` checked and classified (no connection is made).

    >>> parse_scheduler("processes:2").workers, parse_scheduler(3).workers
    (2, 3)
    >>> parse_scheduler("tcp://127.0.0.1:8786").address
    'tcp://127.0.0.1:8786'
    >>> parse_scheduler("somewhere")
    Traceback (most recent call last):
    ...
    pssc_sim.integrate.cluster.SchedulerError: scheduler: not a scheduler address (got \
'somewhere'). Give tcp://HOST:PORT, a number of local worker processes, or processes:N
    """
    if isinstance(spec, bool):
        raise SchedulerError(
            f"{where}: expected an address or a number of workers (got "
            f"{spec!r}). Give tcp://HOST:PORT or a number of worker processes"
        )
    if isinstance(spec, int):
        return Target(workers=_workers(spec, where))
    if isinstance(spec, str):
        text = spec.strip()
        found = _PROCESSES.fullmatch(text)
        if found:
            return Target(workers=_workers(int(found.group(1)), where))
        if text.isdigit():
            return Target(workers=_workers(int(text), where))
        if _ADDRESS.fullmatch(text):
            return Target(address=text)
        raise SchedulerError(
            f"{where}: not a scheduler address (got {spec!r}). Give "
            "tcp://HOST:PORT, a number of local worker processes, or "
            "processes:N"
        )
    if type(spec).__name__ == "Client" and hasattr(spec, "submit"):
        return Target(client=spec)
    raise SchedulerError(
        f"{where}: expected an address, a number of workers or a "
        f"distributed.Client (got {type(spec).__name__}). Give e.g. "
        "tcp://HOST:PORT"
    )


def _workers(count: int, where: str) -> int:
    if not 1 <= count <= 1024:
        raise SchedulerError(
            f"{where}: the number of worker processes must be 1 to 1024 (got {count}). Give e.g. 2"
        )
    return count


def _dask() -> Any:
    try:
        import distributed
    except ImportError:
        raise SchedulerError(
            "scheduler: running on a cluster needs dask and distributed (got "
            "them not installed). Install pssc_sim[distributed]"
        ) from None
    return distributed


#: Settings of the worker processes of a local cluster (``--workers N``), which share this
#: machine's cores with the client and the scheduler:
#:
#: - no statistical profiler: it wakes every 10 ms in each worker to walk the running task's
#:   stack, for a dashboard a local cluster does not have;
#: - one thread for numpy's libraries (as distributed sets by default), and glibc's own
#:   trimming of freed memory: distributed's default ``MALLOC_TRIM_THRESHOLD_=65536`` hands
#:   memory back to the system after every step's temporaries, so that each step faults the
#:   same pages in again (about 4,500 more page faults per 125,000 SIR members, measured with
#:   ``getrusage``).
LOCAL_WORKERS: Mapping[str, Any] = {
    "distributed.worker.profile.enabled": False,
    "distributed.nanny.pre-spawn-environ": {
        "OMP_NUM_THREADS": 1,
        "MKL_NUM_THREADS": 1,
        "OPENBLAS_NUM_THREADS": 1,
    },
}


def dask_config() -> Any:
    """``dask.config`` (imported with distributed, when a cluster is asked for)."""
    import dask.config

    return dask.config


@contextmanager
def connect(
    spec: Scheduler, *, timeout: float = CONNECT_TIMEOUT, where: str = "scheduler"
) -> Iterator[Any]:
    """A ``distributed.Client`` for ``spec``, closed on leaving (a given client is left open).

    A local cluster listens on 127.0.0.1 only, with one single-threaded process per worker and
    no dashboard. The client made is not made current (``set_as_default=False``): work goes to
    it only where it is named. A scheduler that does not answer within ``timeout`` seconds is a
    :class:`SchedulerError`.
    """
    target = parse_scheduler(spec, where)
    if target.client is not None:
        yield target.client
        return
    distributed = _dask()
    if target.workers is not None:
        with dask_config().set(LOCAL_WORKERS):
            cluster = distributed.LocalCluster(
                n_workers=target.workers,
                processes=True,
                threads_per_worker=1,
                dashboard_address=None,
                host="127.0.0.1",
                silence_logs=40,
                # the scheduler's small HTTP server (health and
                # metrics) on a free port of 127.0.0.1 too
                scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
            )
        try:
            with distributed.Client(cluster, set_as_default=False) as client:
                yield client
        finally:
            cluster.close()
        return
    try:
        client = distributed.Client(target.address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        if len(reason) > 160:
            reason = reason[:157] + "..."
        raise SchedulerError(
            f"{where}: no scheduler answered at {target.address} within "
            f"{timeout:g} s (got {reason}). Start one with 'dask scheduler' "
            "or check the address"
        ) from None
    try:
        yield client
    finally:
        client.close()


def model_document(model: Model) -> bytes:
    """The model as sent to workers: its IR, pickled (data only; no generated code)."""
    return pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)


def kernel_key(document: bytes, outputs: tuple[str, ...]) -> str:
    """The key a worker caches a compiled kernel under: a hash of the model and its outputs."""
    digest = hashlib.sha256(document)
    digest.update("\0".join(outputs).encode())
    return digest.hexdigest()


_KERNELS: OrderedDict[str, CompiledModel] = OrderedDict()


def worker_kernel(key: str, document: bytes, outputs: tuple[str, ...]) -> CompiledModel:
    """The compiled kernel of a model document, compiled once per worker process."""
    compiled = _KERNELS.get(key)
    if compiled is None:
        compiled = compile_model(pickle.loads(document), outputs)
        _KERNELS[key] = compiled
        while len(_KERNELS) > KERNEL_CACHE:
            _KERNELS.popitem(last=False)
    else:
        _KERNELS.move_to_end(key)
    return compiled


@dataclass(frozen=True, slots=True)
class Job:
    """Everything a block needs besides its parameter rows (small; sent with every task)."""

    key: str
    outputs: tuple[str, ...]
    grid: Grid
    method: str
    rtol: float
    atol: float
    chunk: int
    #: ``reduce(times, values, outputs)``: what a block returns instead of its values (an
    #: array with members on its last axis), computed on the worker; ``None`` returns them all.
    reduce: Reducer | None = None
    #: ``numpy`` or ``numba``: the back end the client chose for the fixed-step methods (a
    #: worker compiles the loop itself, once per process, as it does the kernels).
    backend: str = "numpy"

    @classmethod
    def of(
        cls,
        compiled: CompiledModel,
        document: bytes,
        grid: Grid,
        method: str,
        options: SolverOptions,
        reduce: Reducer | None = None,
    ) -> Job:
        """The job of a run of ``compiled`` (whose pickled model is ``document``)."""
        return cls(
            kernel_key(document, compiled.outputs),
            compiled.outputs,
            grid,
            method,
            options.rtol,
            options.atol,
            options.chunk,
            reduce,
            options.backend,
        )


def job_for(
    client: Any,
    compiled: CompiledModel,
    document: bytes,
    grid: Grid,
    method: str,
    options: SolverOptions,
    reduce: Reducer | None = None,
) -> Job:
    """:meth:`Job.of`, on the workers of ``client``: the numba back end only if every worker
    has numba (each compiles or loads the loop itself, once per process); else numpy for the
    whole run, so that every block runs alike, with a note saying so."""
    job = Job.of(compiled, document, grid, method, options, reduce)
    if job.backend != "numba":
        return job
    versions = client.run(numba_version)
    missing = sorted(worker for worker, version in versions.items() if version is None)
    if not missing:
        return job
    warnings.warn(
        f"backend: numba is not installed on {len(missing)} of {len(versions)} workers "
        f"(first {missing[0]}); the run uses numpy on every worker. Install "
        "pssc_sim[fast] on the workers to use numba there",
        PsscSimWarning,
        stacklevel=2,
    )
    return dataclasses.replace(job, backend="numpy")


#: Turns a block's saved times, values (times x outputs x members) and output names into an
#: array with the members on its last axis (a top-level, picklable callable).
Reducer = Callable[[np.ndarray, np.ndarray, tuple[str, ...]], np.ndarray]


class BlockRows(Protocol):
    """A block's parameters made on the worker: called with the compiled model, the block's
    rows (parameters x members), equal to those columns of the run's parameter matrix."""

    def __call__(self, compiled: CompiledModel) -> np.ndarray: ...


class Members(Protocol):
    """The members of a run without their parameter matrix: ``count`` of them, and what a task
    carries for the members ``start`` to ``stop`` (see
    :class:`~pssc_sim.integrate.distributed.Overrides`)."""

    @property
    def count(self) -> int: ...

    def block(self, start: int, stop: int) -> BlockRows: ...


#: The members of a cluster run: the parameter matrix (parameters x members), or
#: :class:`Members` whose rows the workers make.
Parameters: TypeAlias = "np.ndarray | Members"


def member_count(p: Parameters) -> int:
    """The number of members of ``p``."""
    return p.shape[1] if isinstance(p, np.ndarray) else p.count


def block_of(p: Parameters, start: int, stop: int) -> np.ndarray | BlockRows:
    """What the task of the members ``start`` to ``stop`` carries: their columns of the
    matrix (a copy of the block only), or what the workers make them from."""
    if isinstance(p, np.ndarray):
        return np.ascontiguousarray(p[:, start:stop])
    return p.block(start, stop)


def run_block(
    job: Job, document: bytes, p: np.ndarray | BlockRows, first_member: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """On a worker: integrate the members ``p`` (parameters x members, or made here from the
    compiled model; the first is member ``first_member`` of the run); the saved times and the
    values (times x outputs x members), or what ``job.reduce`` makes of them."""
    compiled = worker_kernel(job.key, document, job.outputs)
    if not isinstance(p, np.ndarray):
        p = p(compiled)
    options = SolverOptions(
        rtol=job.rtol,
        atol=job.atol,
        chunk=job.chunk,
        backend=job.backend,
        first_member=first_member,
    )
    times, values = METHODS[job.method].run(compiled, p, job.grid, options)
    if job.reduce is not None:
        return times, job.reduce(times, values, job.outputs)
    return times, values


def blocks(members: int, chunk: int, per_block: int | None = None) -> list[tuple[int, int]]:
    """Member ranges ``(start, stop)`` of the tasks: whole multiples of ``chunk`` members.

    >>> blocks(10, 4)
    [(0, 4), (4, 8), (8, 10)]
    >>> blocks(10, 2, per_block=5)
    [(0, 6), (6, 10)]
    """
    size = chunk if per_block is None else max(chunk, -(-per_block // chunk) * chunk)
    return [(start, min(start + size, members)) for start in range(0, members, size)]


#: Blocks per worker that a fixed-step run aims for (so that every worker has work and a slow
#: one delays the end little), and the fewest members a block is cut to.
BLOCKS_PER_WORKER, SMALLEST_BLOCK = 4, 256


def block_size(client: Any, members: int, method: str, chunk: int) -> int:
    """Members per task: ``chunk``, or fewer for a fixed-step method when that leaves workers
    idle (a fixed-step run treats members one by one, so any cut gives the same values; an
    adaptive one controls its step over a whole chunk, so its blocks stay whole chunks)."""
    if not METHODS[method].fixed_step:
        return chunk
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    share = -(-members // (BLOCKS_PER_WORKER * workers))
    return max(1, min(chunk, max(SMALLEST_BLOCK, share)))


#: Times a block whose values were lost with their worker is sent again before the run fails.
RESUBMITS = 3


def run_on_cluster(
    spec: Scheduler,
    compiled: CompiledModel,
    p: Parameters,
    grid: Grid,
    method: str,
    options: SolverOptions,
    per_block: int | None = None,
    reduce: Reducer | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Integrate the members ``p`` on the cluster ``spec``; the saved times and the values
    (times x outputs x members) gathered in member order, as one process would give them.

    A worker that dies while running a block has it rerun elsewhere by the scheduler; one that
    dies holding finished values the client had not fetched yet has its block sent again from
    here (up to :data:`RESUBMITS` times). A block that fails raises its error here; when several
    fail, the error of the first in member order is raised (as one process would), and the
    blocks after it are cancelled. With ``reduce``, each block returns what it makes of its
    values, and those are gathered instead (members on the last axis).
    """
    distributed = _dask()
    with connect(spec) as client:
        document = model_document(compiled.model)
        job = job_for(client, compiled, document, grid, method, options, reduce)
        # a key of its own for each call: a hashed key shared with an earlier call could be
        # released by that call while this one still needs it
        shared = client.scatter(document, broadcast=True, hash=False)
        members = member_count(p)
        ranges = blocks(members, block_size(client, members, method, options.chunk), per_block)

        def submit(index: int, model: Any) -> Any:
            start, stop = ranges[index]
            return client.submit(run_block, job, model, block_of(p, start, stop), start, pure=False)

        futures = [submit(i, shared) for i in range(len(ranges))]
        order = {future.key: i for i, future in enumerate(futures)}
        sent = [1] * len(ranges)
        report = ProgressReport(options.progress, grid, members)
        times: np.ndarray | None = None
        values: np.ndarray | None = None
        done, finished = 0, set[int]()
        pending = distributed.as_completed(futures, loop=client.loop)
        for future in pending:
            index = order[future.key]
            if index in finished or future is not futures[index]:
                continue  # seen again after its worker died, or replaced: nothing new
            if future.status == "error":
                _raise_first_error(client, futures, index, finished)
            try:
                block_times, block = future.result()
            except distributed.client.FutureCancelledError:
                if sent[index] > RESUBMITS:
                    start, stop = ranges[index]
                    raise SimulationError(
                        f"cluster: the values of members {start} to {stop - 1} were lost with "
                        f"their worker {sent[index]} times (got no result). Check the workers' "
                        "memory and logs, or run with fewer members per worker"
                    ) from None
                sent[index] += 1
                # the model's bytes go with the task: the lost worker may have held the copy
                futures[index] = submit(index, document)
                order[futures[index].key] = index
                pending.add(futures[index])
                continue
            start, stop = ranges[index]
            if values is None:
                times = block_times
                # in memory, or on disk when the run's plan said so (as in one process)
                values = options.allocate((*block.shape[:-1], members))
            values[..., start:stop] = block
            future.release()
            finished.add(index)
            done += stop - start
            report.chunk(0, done)
            report.reached(grid.stop)
        report.finish()
    assert times is not None
    assert values is not None
    return times, values


def _raise_first_error(client: Any, futures: list[Any], failed: int, finished: set[int]) -> None:
    """Raise the error of the first failing block up to ``failed`` (the blocks before it that
    have not ``finished`` are awaited), after cancelling the blocks after it."""
    client.cancel(futures[failed + 1 :])
    earlier = [future for i, future in enumerate(futures[:failed]) if i not in finished]
    with client.as_current():  # the client wait() uses: not made current by connect()
        _dask().wait(earlier)
    for future in [*earlier, futures[failed]]:
        if future.status == "error":
            try:
                future.result()  # raises the block's own exception
            except _dask().KilledWorker as exc:
                raise SimulationError(
                    f"cluster: a block of members killed every worker that ran it (got "
                    f"{' '.join(str(exc).split())[:200]}). Check the workers' memory and logs, "
                    "or run with fewer members per worker"
                ) from None


@dataclass(frozen=True, slots=True)
class Summary:
    """An ensemble reduced on the cluster: ``quantiles`` ``(n_q, n_times, n_outputs)`` at
    ``levels``, the ``mean`` ``(n_times, n_outputs)`` and the ``median`` (as
    :func:`numpy.median` takes it) across members. A summary of what a reducer made of each
    member (``reduce`` of :func:`summarise_on_cluster`) has ``(n_q, rows)``, ``(rows,)`` and
    ``(rows,)`` instead."""

    times: np.ndarray
    names: tuple[str, ...]
    levels: tuple[float, ...]
    quantiles: np.ndarray
    mean: np.ndarray
    members: int
    #: Exchanges with the blocks after their first answer: rounds of counts, and the one that
    #: brought members together (if any).
    rounds: int = 0
    median: np.ndarray | None = None


def submit_blocks(
    client: Any,
    compiled: CompiledModel,
    p: Parameters,
    grid: Grid,
    method: str,
    options: SolverOptions,
    ranges: list[tuple[int, int]],
    task: Callable[..., Any] | None = None,
    reduce: Reducer | None = None,
) -> list[Any]:
    """One task per block of members ``ranges``, each sent on its own (a single graph holding
    every block's rows would be as large as the parameter matrix); their futures, whose
    results (``(times, values)`` of :func:`run_block`, or what ``task``, called as it is, makes
    of them, ``reduce`` as in :class:`Job`) stay on the workers."""
    document = model_document(compiled.model)
    job = job_for(client, compiled, document, grid, method, options, reduce)
    shared = client.scatter(document, broadcast=True, hash=False)
    return [
        client.submit(task or run_block, job, shared, block_of(p, start, stop), start, pure=False)
        for start, stop in ranges
    ]


def ensemble_array(
    client: Any,
    compiled: CompiledModel,
    p: Parameters,
    grid: Grid,
    method: str,
    options: SolverOptions,
    per_block: int | None = None,
) -> tuple[np.ndarray, Any]:
    """The saved times, and the members ``p`` as a dask array (times x outputs x members) whose
    blocks are tasks on the cluster of ``client``."""
    import dask.array
    from dask.delayed import delayed

    from pssc_sim.integrate.fixed import saved_times

    da: Any = dask.array  # untyped
    times = saved_times(grid) if METHODS[method].fixed_step else grid.save_times()
    n_times, n_outputs, members = len(times), len(compiled.outputs), member_count(p)
    ranges = blocks(members, block_size(client, members, method, options.chunk), per_block)
    futures = submit_blocks(client, compiled, p, grid, method, options, ranges)
    parts = [
        da.from_delayed(delayed(future)[1], (n_times, n_outputs, stop - start), float)
        for future, (start, stop) in zip(futures, ranges, strict=True)
    ]
    return times, da.concatenate(parts, axis=2)


def summary_blocks(
    client: Any, members: int, chunk: int, per_block: int | None = None
) -> list[tuple[int, int]]:
    """Member ranges of a summary's tasks: :data:`BLOCKS_PER_WORKER` per worker (or about
    ``per_block`` members each), every block starting at a multiple of both ``chunk`` (so an
    adaptive method's chunks are those of one process) and
    :data:`~pssc_sim.orderstats.MEAN_GROUP` (so the partial sums of the mean are too)."""
    unit = math.lcm(chunk, MEAN_GROUP)
    if per_block is None:
        workers = max(1, len(client.scheduler_info().get("workers", {})))
        per_block = -(-members // (BLOCKS_PER_WORKER * workers))
    return blocks(members, unit, per_block)


def summary_block(
    job: Job,
    document: bytes,
    p: np.ndarray | BlockRows,
    first_member: int = 0,
    points: int = 2,
    ensemble: tuple[Path, Layout] | None = None,
) -> tuple[tuple[np.ndarray, int, np.ndarray, np.ndarray], np.ndarray]:
    """On a worker: :func:`run_block` (and ``job.reduce``, if any), then the block's first
    answer (its sketch of ``points`` members a row, :func:`~pssc_sim.orderstats.sketch`, whose
    ends are each row's smallest and largest value, and its partial sums for the mean,
    :func:`~pssc_sim.orderstats.group_sums`) and its rows (each saved time and output) with
    their members sorted, in place, where the block ran (what the rounds of the order
    statistics count in; they never move). With ``ensemble`` (a file started by
    :func:`~pssc_sim.netcdf.start_ensemble_file`), the block's values and parameters are first
    written into it."""
    if not isinstance(p, np.ndarray):
        p = p(worker_kernel(job.key, document, job.outputs))
    values = run_block(job, document, p, first_member)[1]
    if ensemble is not None:
        write_members(ensemble[0], ensemble[1], first_member, values, p)
    rows = np.ascontiguousarray(values.reshape(-1, values.shape[-1]), dtype=np.float64)
    sums = group_sums(rows)  # in member order, before the sort
    ordered = sort_members(rows)
    ranks, keys = sketch(ordered, points)
    return (ranks, ordered.shape[1], keys, sums), ordered


def block_sketch(
    block: tuple[tuple[np.ndarray, int, np.ndarray, np.ndarray], np.ndarray],
) -> tuple[np.ndarray, int, np.ndarray, np.ndarray]:
    """On a worker: what :func:`summary_block` sends back of a block."""
    return block[0]


def block_counts(block: tuple[Any, np.ndarray], rows: np.ndarray, pivots: np.ndarray) -> np.ndarray:
    """On a worker: :func:`~pssc_sim.orderstats.count_at_most` of a block."""
    return count_at_most(block[1], rows, pivots)


def block_members(
    block: tuple[Any, np.ndarray],
    rows: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
) -> list[np.ndarray]:
    """On a worker: :func:`~pssc_sim.orderstats.members_between` of a block."""
    return members_between(block[1], rows, low, high)


def add_up(arrays: list[np.ndarray]) -> np.ndarray:
    """On a worker: the sum of the blocks' counts (so that the client receives one)."""
    total = np.array(arrays[0])
    for array in arrays[1:]:
        total += array
    return total


def summarise_on_cluster(
    spec: Scheduler,
    compiled: CompiledModel,
    p: Parameters,
    grid: Grid,
    method: str,
    options: SolverOptions,
    levels: tuple[float, ...],
    per_block: int | None = None,
    ensemble: tuple[Path, Layout] | None = None,
    reduce: tuple[Reducer, int] | None = None,
) -> Summary:
    """Run the members ``p`` on the cluster and return only their quantiles, mean and median
    (and, with ``ensemble``, have each block write its members into that file, see
    :func:`summary_block`). With ``reduce``, ``(reducer, rows)``, the numbers summarised are
    the ``rows`` rows (rows x members) that the reducer makes of each block's values on its
    worker (:data:`Reducer`), instead of every saved time and output.

    The blocks of members stay on the workers. Each sorts its members where it ran and sends
    back a sketch (its members at a few hundred ranks spread evenly, the first and last its
    smallest and largest, at each saved time and output) and its partial sums for the mean.
    The sketches bound each order statistic the quantiles need to a narrow range of values
    (:func:`~pssc_sim.orderstats.sketch_brackets`); then, in as few rounds as that range
    needs (usually one), each block counts how many of its members lie up to the ends of the
    bins of the range, until few enough are left in it to send
    (:func:`~pssc_sim.orderstats.order_statistics`). The
    values travel only as counts and those few members, so the client receives arrays of
    about times x outputs numbers whatever the number of members, and no block moves between
    workers. The quantiles and the mean are those of
    :func:`~pssc_sim.output.ensemble_table` of the same run in one process, to the last bit.
    """
    _dask()  # installed, or a clear error
    if reduce is not None and ensemble is not None:
        raise ParameterError(
            "ensemble: a summary of reduced members cannot also write the members (got both "
            "reduce and ensemble). Write the ensemble in a run of its own"
        )
    members = member_count(p)
    with connect(spec) as client:
        times = saved_times(grid) if METHODS[method].fixed_step else grid.save_times()
        shape: tuple[int, ...] = (
            (len(times), len(compiled.outputs)) if reduce is None else (reduce[1],)
        )
        ranges = summary_blocks(client, members, options.chunk, per_block)
        points = sketch_points(math.prod(shape), len(ranges))
        ordered = submit_blocks(
            client,
            compiled,
            p,
            grid,
            method,
            options,
            ranges,
            task=functools.partial(summary_block, points=points, ensemble=ensemble),
            reduce=None if reduce is None else reduce[0],
        )
        answers = [client.submit(block_sketch, block) for block in ordered]
        if options.progress is None:
            first = client.gather(answers)
        else:  # the bar moves by the members of each block that has answered
            report = ProgressReport(options.progress, grid, members)
            done = 0
            for future in _dask().as_completed(answers, loop=client.loop):
                first_member, end = ranges[answers.index(future)]
                done += end - first_member
                report.chunk(0, done)
                report.reached(grid.stop)
            first = client.gather(answers)
        report = ProgressReport(options.progress, grid, 1)
        sums = np.concatenate([answer[3] for answer in first], axis=1)
        mean = (sums.sum(axis=1) / members).reshape(shape)
        ranks = needed_ranks(members, levels)
        sketches = [answer[:3] for answer in first]
        start = sketch_brackets(ranks, sketches)
        low = key_floats(np.min([keys[:, 0] for _, _, keys in sketches], axis=0))
        high = key_floats(np.max([keys[:, -1] for _, _, keys in sketches], axis=0))
        rounds = 0

        # a round's arguments are sent once, not with each block's task
        def counts_of(rows: np.ndarray, pivots: np.ndarray) -> np.ndarray:
            nonlocal rounds
            rounds += 1
            args = client.scatter([rows, pivots], hash=False)
            futures = [client.submit(block_counts, block, *args) for block in ordered]
            return np.asarray(client.submit(add_up, futures).result())

        def members_of(rows: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> list[np.ndarray]:
            nonlocal rounds
            rounds += 1
            args = client.scatter([rows, lo, hi], hash=False)
            found = client.gather([client.submit(block_members, block, *args) for block in ordered])
            return [np.sort(np.concatenate(pieces)) for pieces in zip(*found, strict=True)]

        try:
            found = order_statistics(members, ranks, low, high, counts_of, members_of, start)
        except RuntimeError as exc:
            raise SimulationError(
                f"summarise: {exc} (got different values from a block run twice). "
                "Check that every worker runs the same version of pssc_sim and its libraries"
            ) from None
        spread = quantiles_from_order_statistics(members, levels, ranks, found)
        median = medians_from_order_statistics(members, ranks, found, high)
        report.finish()
    return Summary(
        times,
        compiled.outputs,
        tuple(levels),
        spread.reshape(len(levels), *shape),
        mean,
        members,
        rounds,
        median.reshape(shape),
    )


def save_on_cluster(
    spec: Scheduler,
    compiled: CompiledModel,
    p: np.ndarray,
    grid: Grid,
    method: str,
    options: SolverOptions,
    path: str | Path,
    *,
    model_name: str = "",
    attributes: Mapping[str, str | int | float] | None = None,
    per_block: int | None = None,
) -> Path:
    """Run the members ``p`` on the cluster and write every member to a Zarr store at ``path``,
    each worker writing its own blocks (the client never holds them); return the path.

    The layout is that of :func:`~pssc_sim.output.write_netcdf`: one ``(time, member)`` array
    per recorded output, ``parameter_value`` over ``(parameter, member)``, the model and method
    as attributes, in Zarr format 2; ``xarray.open_zarr(path)`` reads it. The path must be on
    storage every worker can write to (any local path, for a local cluster). An existing store
    is refused.
    """
    import xarray as xr

    final = Path(path)
    if final.exists():
        raise ParameterError(
            f"path: {final} already exists (got an existing path). Choose a new name or remove it"
        )
    with connect(spec) as client:
        times, values = ensemble_array(client, compiled, p, grid, method, options, per_block)
        members = np.arange(p.shape[1])
        data = {
            name: (("time", "member"), values[:, j, :]) for j, name in enumerate(compiled.outputs)
        }
        data["parameter_value"] = (("parameter", "member"), p)
        dataset = xr.Dataset(
            data,
            coords={"time": times, "member": members, "parameter": list(compiled.parameter_names)},
            attrs={
                "model": model_name or compiled.model.name,
                "method": method,
                **(attributes or {}),
            },
        )
        # Zarr format 2: format 3 has no settled specification for the text labels yet
        writes = dataset.to_zarr(final, mode="w-", compute=False, zarr_format=2)
        client.compute(writes).result()
    return final
