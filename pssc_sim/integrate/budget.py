"""The size of a run, estimated before anything is allocated, and the limits it must fit in.

A run keeps its recorded outputs, ``saved times x outputs x members`` floats of 8 bytes, and the
parameters of every member; it works on one chunk of members at a time (stocks, rates, prepared
parameters and the temporaries of the generated kernel, or an adaptive solver's stages and
Jacobian), and a fixed-step run holds its step schedule (a few hundred bytes a step, built once
per time grid). :func:`estimate` adds these up from the model's counts and the time grid
alone, before the grid is built or a member is sampled; :func:`check_run` refuses a run over the
memory limit, or with more steps than a run can take, with a message saying what to change. The
chunk of members is made smaller when the working state of the default chunk does not fit in
what the kept outputs leave.

The estimate is an upper bound on what the run allocates (``tests/test_budget.py`` measures it
with :mod:`tracemalloc`); DELAY_FIXED pipelines, whose length depends on a delay computed at the
start of the run, count at their longest, the run's steps.

The default limit is the environment variable ``PSSC_MAX_MEMORY`` when it is set (an
administrator's limit for every run on a shared machine), else a safe share of the machine: half
the memory available now, and half of the address space left under ``ulimit -v``
(``RLIMIT_AS``), whichever is smaller.

An ensemble keeps every member's values of the recorded outputs, and nothing else of the run:
exact quantiles need all the members of a time x output cell, and the scorecard, comparisons and
fan charts read members too. Only the working state goes chunk by chunk; the quantiles are then
computed one output at a time (:func:`~pssc_sim.results.member_quantiles`) and ``ensemble.nc`` is
streamed to disk a slice of members at a time (:mod:`pssc_sim.netcdf`), so neither copies the
ensemble. An ensemble whose recorded outputs alone exceed the limit keeps them on disk instead
(:mod:`pssc_sim.integrate.storage`), when the disk has room: memory then holds the chunk being
written and the output being summarised, and the quantiles are as exact as in memory
(:func:`plan`). What fits neither is refused, with the choices that shrink it: fewer members,
fewer outputs, fewer saved times.
"""

from __future__ import annotations

import math
import os
import re
import resource
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from pssc_sim.errors import ParameterError

#: Bytes per unit of a memory size: plain bytes, or binary multiples.
SIZE_UNITS: dict[str, int] = {"b": 1, "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4}
#: Steps a fixed-step run may take, at most: at about a microsecond a step for one member, more
#: takes minutes to hours, and every step costs a few hundred bytes of schedule.
MAX_STEPS = 10**8
#: Bytes of the step schedule per step (measured about 300 with tracemalloc; see FixedStepPlan).
STEP_BYTES = 400
#: Bytes per saved value of a single run on the scalar path: a Python float and its slot in a
#: row list while the run goes, then 8 bytes in the array made from them.
SCALAR_VALUE_BYTES = 48
#: Bytes per saved row of a single run on the scalar path: the row list and its slot.
SCALAR_ROW_BYTES = 128
#: Fixed overhead of any run: small arrays, the kernel's closures, numpy's buffers.
BASE_BYTES = 1024**2
#: Margin over the sum of the parts, for the allocator's overhead and fragmentation (the parts
#: come within 5 % of the peak that tracemalloc measures on the example models).
MARGIN = 1.1
#: Arrays of one member's size alive at once in an adaptive solver, per stock: the state, its
#: stages (DOP853 keeps 13), the error estimate and the dense output between saved times.
ADAPTIVE_STATES = 48
#: A run of at most this many bytes fits on any machine that runs Python with numpy and scipy
#: (their import takes more): the default limit is not read for it, which costs more than the run.
SMALL_RUN = 32 * 1024**2
#: The environment variable that sets the default memory limit of every run (e.g. ``2GiB``).
ENVIRONMENT = "PSSC_MAX_MEMORY"
#: Unit samples, their sorting and mapping through inverse CDFs: arrays of the sample's size.
SAMPLING_COPIES = 6


#: The limit that :func:`limit_runs` sets for the runs of a block (None: not set).
_SCOPED_LIMIT: ContextVar[int | None] = ContextVar("pssc_sim_memory_limit", default=None)


class ResourceLimitError(ParameterError):
    """A run would need more memory or more steps than it may take (bad input: exit 2)."""


_SIZE = re.compile(r"\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([a-z]*)\s*", re.IGNORECASE)


def parse_size(text: str, where: str = "--max-memory") -> int:
    """A memory size such as ``2GiB``, ``512 MiB`` or ``1000000`` (bytes), in bytes.

    Examples
    --------
    >>> parse_size("2GiB"), parse_size("1.5 kib"), parse_size("4096")
    (2147483648, 1536, 4096)
    >>> parse_size("2GB")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    pssc_sim.errors.ParameterError: --max-memory: expected a size such as 2GiB... (got '2GB'). ...
    """
    match = _SIZE.fullmatch(str(text))
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in (*SIZE_UNITS, ""):
        raise ParameterError(
            f"{where}: expected a size such as 2GiB, 512MiB or a number of "
            f"bytes (got {text!r}). Use the units B, KiB, MiB, GiB or TiB"
        )
    size = float(match.group(1)) * SIZE_UNITS.get(unit, 1)
    if not 1 <= size < 2**63:
        raise ParameterError(
            f"{where}: the size must be at least one byte (got {text!r}). Give e.g. 2GiB"
        )
    return int(size)


def format_size(size: float) -> str:
    """``size`` bytes in the largest binary unit that keeps it at least 1: ``7.3 TiB``.

    >>> format_size(8e12), format_size(512), format_size(3 * 1024**2)
    ('7.3 TiB', '512 B', '3 MiB')
    """
    units = [("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)]
    for name, factor in units:
        if size >= factor:
            value = size / factor
            text = f"{value:.1f}".removesuffix(".0") if value < 1e4 else f"{value:.3g}"
            return f"{text} {name}"
    return f"{size:.0f} B"


def default_memory_limit() -> int:
    """The memory limit of a run when none is given: :data:`ENVIRONMENT` when set (a machine's
    own setting, e.g. on a shared workshop machine), else a safe share of the machine's memory:
    half of what is available, and half of the address space left under ``RLIMIT_AS`` when one
    is set.

    >>> default_memory_limit() > 0
    True
    """
    configured = configured_limit()
    if configured is not None:
        return configured
    limit = _available_memory() // 2
    room = _address_space_room()
    return max(1, min(limit, room // 2) if room is not None else limit)


def configured_limit() -> int | None:
    """The limit set for the runs of the current block (:func:`limit_runs`), else in the
    environment variable :data:`ENVIRONMENT`, or None."""
    scoped = _SCOPED_LIMIT.get()
    if scoped is not None:
        return scoped
    text = os.environ.get(ENVIRONMENT)
    return None if text is None else parse_size(text, ENVIRONMENT)


@contextmanager
def limit_runs(limit: int | None) -> Iterator[None]:
    """Within the block, every run given no limit of its own may use ``limit`` bytes (None:
    leave the default as it is). A command that runs many scenarios (a report, a demo, an
    analysis) sets its ``--max-memory`` this way.

    >>> with limit_runs(2**30):
    ...     default_memory_limit()
    1073741824
    """
    if limit is None:
        yield
        return
    token = _SCOPED_LIMIT.set(limit)
    try:
        yield
    finally:
        _SCOPED_LIMIT.reset(token)


def _available_memory() -> int:
    """Memory available to a new allocation: ``MemAvailable`` on Linux, else free pages."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    for pages in ("SC_AVPHYS_PAGES", "SC_PHYS_PAGES"):
        try:
            return int(os.sysconf(pages)) * int(os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):
            continue
    return 2 * 1024**3  # nothing to read: assume a small machine


def _address_space_room() -> int | None:
    """Address space left under ``RLIMIT_AS`` (``ulimit -v``), or None without a limit."""
    soft = resource.getrlimit(resource.RLIMIT_AS)[0]
    if soft == resource.RLIM_INFINITY:
        return None
    used = 0
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    used = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return max(0, soft - used)


@dataclass(frozen=True, slots=True)
class Counts:
    """What the size of a run depends on: the model's counts and the run's settings."""

    members: int
    n_outputs: int
    n_parameters: int
    n_stocks: int
    n_discrete: int
    #: Saved rows (an upper bound, from the time grid) and fixed steps (0 for adaptive methods).
    n_rows: float
    n_steps: float
    fixed_step: bool
    implicit: bool = False
    #: Whether a single member runs on the scalar kernel (Python floats).
    scalar: bool = False
    #: Values sampled per member (an ensemble's uncertain parameters), kept with the results.
    n_sampled: int = 0
    #: DELAY_FIXED pipelines: each holds at most ``n_steps + 1`` slots per member.
    n_pipelines: int = 0


@dataclass(frozen=True, slots=True)
class Estimate:
    """Bytes a run needs, by part, for ``chunk`` members worked on at a time."""

    counts: Counts
    chunk: int
    outputs: float
    parameters: float
    working: float
    schedule: float
    samples: float
    #: Quantiles of an ensemble, computed one output at a time: a sorted copy of one output.
    summary: float = 0.0
    #: Whether the outputs are kept on disk (:mod:`~pssc_sim.integrate.storage`); ``outputs``
    #: then counts the pages of one chunk, and ``disk`` the bytes of the file.
    on_disk: bool = False
    disk: float = 0.0

    @property
    def kept(self) -> float:
        """Bytes that do not shrink with the chunk: outputs, parameters, samples, schedule and
        the summary of an ensemble."""
        return (
            self.outputs
            + self.parameters
            + self.schedule
            + self.samples
            + self.summary
            + BASE_BYTES
        )

    @property
    def total(self) -> float:
        """Bytes of the whole run, with :data:`MARGIN`."""
        return MARGIN * (self.kept + self.working)


def row_count(start: float, stop: float, save_every: float) -> float:
    """Saved rows of a run from ``start`` to ``stop`` (at most; a float, never built)."""
    ratio = (stop - start) / save_every
    return math.floor(ratio + 1e-6) + 2.0 if math.isfinite(ratio) else math.inf


def step_count(start: float, stop: float, dt: float) -> float:
    """Steps of ``dt`` from ``start`` to ``stop`` (a float: it may be astronomically large)."""
    ratio = (stop - start) / dt
    return max(1.0, math.ceil(ratio - 1e-6)) if math.isfinite(ratio) else math.inf


def working_bytes(counts: Counts, chunk: int) -> float:
    """Bytes of the working state of one chunk of members."""
    pipelines = counts.n_pipelines * (counts.n_steps + 1)
    if counts.scalar:
        return 64.0 * (counts.n_stocks + counts.n_parameters + counts.n_outputs + 16) + 32.0 * (
            pipelines
        )
    # stocks, rates, RK4 stages, discrete states, prepared parameters, one saved row, and the
    # generated kernel's temporaries (one array per output at most)
    arrays: float = (
        7 * counts.n_stocks
        + 3 * counts.n_discrete
        + 2 * counts.n_parameters
        + 3 * counts.n_outputs
        + 16
        + pipelines
    )
    if not counts.fixed_step:
        arrays += ADAPTIVE_STATES * counts.n_stocks + counts.n_rows * counts.n_outputs
        if counts.implicit:  # the Jacobian blocks, their LU factors and the solver's copies
            arrays += 8 * counts.n_stocks**2
    return 8.0 * arrays * chunk


def estimate(counts: Counts, chunk: int) -> Estimate:
    """The bytes of a run of ``counts`` worked on ``chunk`` members at a time.

    Examples
    --------
    >>> counts = Counts(members=1000, n_outputs=5, n_parameters=4, n_stocks=3, n_discrete=0,
    ...                 n_rows=101, n_steps=800, fixed_step=True)
    >>> format_size(estimate(counts, 1000).outputs)
    '3.9 MiB'
    """
    members = counts.members
    chunk = max(1, min(chunk, members))
    if counts.scalar:
        outputs = counts.n_rows * (counts.n_outputs * SCALAR_VALUE_BYTES + SCALAR_ROW_BYTES)
    else:
        outputs = 8.0 * counts.n_rows * counts.n_outputs * members
    schedule = STEP_BYTES * counts.n_steps if counts.fixed_step else 0.0
    schedule += 24.0 * counts.n_rows  # the saved times and the rows chosen from them
    samples = 8.0 * SAMPLING_COPIES * counts.n_sampled * members
    summary = 16.0 * counts.n_rows * members if members > 1 else 0.0
    return Estimate(
        counts,
        chunk,
        outputs,
        8.0 * 2 * counts.n_parameters * members,
        working_bytes(counts, chunk),
        schedule,
        samples,
        summary,
    )


def on_disk(size: Estimate) -> Estimate:
    """``size`` with the outputs kept on disk: in memory only the pages of the chunk written."""
    counts = size.counts
    resident = 8.0 * counts.n_rows * counts.n_outputs * size.chunk
    return Estimate(
        counts,
        size.chunk,
        resident,
        size.parameters,
        size.working,
        size.schedule,
        size.samples,
        size.summary,
        on_disk=True,
        disk=size.outputs,
    )


def plan(counts: Counts, chunk: int, limit: float, disk_free: float | None = None) -> Estimate:
    """How a run of ``counts`` fits under ``limit`` bytes: the chunk of members, and whether
    the outputs of an ensemble go to disk (``disk_free`` bytes free there; None: never).

    Raises :class:`ResourceLimitError` when the run fits neither way.

    Examples
    --------
    >>> counts = Counts(members=10**6, n_outputs=4, n_parameters=3, n_stocks=3, n_discrete=0,
    ...                 n_rows=101, n_steps=800, fixed_step=True)
    >>> size = plan(counts, 4096, limit=2 * 1024**3, disk_free=100 * 1024**3)
    >>> size.on_disk, format_size(size.disk)
    (True, '3 GiB')
    """
    chunk = fit_chunk(counts, chunk, limit)
    size = estimate(counts, chunk)
    if size.total <= limit:
        return size
    if disk_free is not None and counts.members > 1 and not counts.scalar:
        spilled = on_disk(estimate(counts, _disk_chunk(counts, chunk, limit)))
        if spilled.total <= limit:
            if spilled.disk * MARGIN <= disk_free:
                return spilled
            raise ResourceLimitError(
                f"run: the outputs would need {format_size(spilled.disk)} on disk for "
                f"{counts.members:,} members x {counts.n_rows:.3g} saved times x "
                f"{counts.n_outputs} outputs, more than the memory limit of "
                f"{format_size(limit)} and the {format_size(disk_free)} free on disk (got "
                f"{counts.members:,} members). Run fewer members, record fewer outputs, save "
                "fewer times (save_every), or set PSSC_SPILL_DIR to a larger disk"
            )
    check_run(size, limit)
    return size


def _disk_chunk(counts: Counts, chunk: int, limit: float) -> int:
    """The largest chunk of at most ``chunk`` whose working state and written pages fit."""
    full = on_disk(estimate(counts, chunk))
    if full.total <= limit:
        return full.chunk
    per_member = working_bytes(counts, 1) + 8.0 * counts.n_rows * counts.n_outputs
    kept = full.kept - full.outputs
    return int(max(1, min(full.chunk, (limit / MARGIN - kept) // per_member)))


def fit_chunk(counts: Counts, chunk: int, limit: float) -> int:
    """The largest chunk of at most ``chunk`` members whose working state fits under ``limit``
    beside what the run keeps (1 when nothing fits: :func:`check_run` then refuses)."""
    full = estimate(counts, chunk)
    if full.total <= limit:
        return full.chunk
    per_member = working_bytes(counts, 1)
    return int(max(1, min(full.chunk, (limit / MARGIN - full.kept) // per_member)))


def check_steps(counts: Counts, dt: float, span: tuple[float, float]) -> None:
    """Refuse a fixed-step run with more than :data:`MAX_STEPS` steps."""
    if counts.fixed_step and not counts.n_steps <= MAX_STEPS:
        start, stop = span
        raise ResourceLimitError(
            f"time: the run would take {counts.n_steps:.3g} steps of dt={dt:g} from {start:g} to "
            f"{stop:g}, more than a run can take (limit {MAX_STEPS:.0e}; at a microsecond a step "
            f"that is {_duration(counts.n_steps * counts.members * 1e-6)}) (got dt={dt:g}, "
            f"stop={stop:g}). Raise dt or shorten the run"
        )


def check_run(size: Estimate, limit: float) -> None:
    """Refuse a run whose estimate exceeds ``limit`` bytes, naming its largest part."""
    if size.total <= limit:
        return
    counts = size.counts
    need = f"the run would need {format_size(size.total)}"
    over = f"over the memory limit of {format_size(limit)}"
    parts = {
        "outputs": size.outputs + size.summary,
        "schedule": size.schedule,
        "parameters": size.parameters + size.samples,
        "working": size.working,
    }
    largest = max(parts, key=lambda key: parts[key])
    if largest == "schedule":
        raise ResourceLimitError(
            f"time: {need} for {counts.n_steps:.3g} steps, {over} (got {counts.n_steps:.3g} "
            "steps). Raise dt or save fewer times (save_every), or raise the limit "
            "(--max-memory, max_memory=)"
        )
    members = f"{counts.members:,} member{'s' if counts.members > 1 else ''}"
    detail = f"{members} x {counts.n_rows:.3g} saved times x {counts.n_outputs} outputs"
    raise ResourceLimitError(
        f"run: {need} for {detail}, {over} (got {members}, "
        f"{counts.n_rows:.3g} saved times). Run fewer members, record fewer outputs, save fewer "
        "times (save_every) or raise the limit (--max-memory, max_memory=)"
    )


def _duration(seconds: float) -> str:
    for name, size in (("years", 3.15e7), ("days", 86400.0), ("hours", 3600.0), ("minutes", 60.0)):
        if seconds >= size:
            return f"{seconds / size:.3g} {name}"
    return f"{seconds:.3g} seconds"
