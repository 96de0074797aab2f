"""``simulate``: parameters in, :class:`~pssc_sim.results.Results` out."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from pssc_sim.compile.compiler import CompiledModel, compile_model
from pssc_sim.errors import ParameterError, SimulationError, did_you_mean
from pssc_sim.integrate import budget, storage
from pssc_sim.integrate.backends import check_backend, choose_backend, runs_blocks, single_run
from pssc_sim.integrate.fixed import DEFAULT_CHUNK
from pssc_sim.integrate.grid import Grid
from pssc_sim.integrate.methods import METHODS, SolverOptions
from pssc_sim.integrate.progress import Progress
from pssc_sim.ir.functions import RANDOM_MEMBER
from pssc_sim.ir.model import Model
from pssc_sim.results import Results

_TIME_KEYS = ("start", "stop", "dt", "save_every")


def current_scheduler(scheduler: Any) -> Any:
    """Where a run given ``scheduler=`` goes: ``scheduler`` itself when one is named; for
    ``None``, the Dask client current in this process (``distributed.default_client()``: the
    client of a ``with Client(...):`` block, else the last one created and not closed), if
    distributed is imported already; ``None`` (this process) when there is none, and for
    ``False``, which keeps a run here even with a client current.

    Dask is never imported here: a process that has not imported distributed has no client.

    >>> current_scheduler(False) is None, current_scheduler("processes:2")
    (True, 'processes:2')
    """
    if scheduler is False:
        return None
    if scheduler is not None:
        return scheduler
    distributed = sys.modules.get("distributed")
    if distributed is None:
        return None
    try:
        return distributed.default_client()
    except (AttributeError, ValueError):  # distributed half imported, or no client
        return None


@lru_cache(maxsize=32)
def compiled_for(model: Model, outputs: tuple[str, ...] | str | None) -> CompiledModel:
    """The compiled kernel of ``model`` (cached: models compare by identity)."""
    return compile_model(model, outputs)


@lru_cache(maxsize=32)
def _defaults(model: Model) -> np.ndarray:
    """The model's parameter values, made once per model (read-only: callers copy)."""
    values = np.array(model.parameter_values(), dtype=float)
    values.flags.writeable = False
    return values


#: The parameter holding a member's index (its stream of random numbers), where one is used.
MEMBER = RANDOM_MEMBER.name


def parameter_array(compiled: CompiledModel, params: Mapping[str, ArrayLike] | None) -> np.ndarray:
    """Parameters shaped ``(n_params, n_members)``: defaults, with ``params`` overriding.

    Scalars apply to every member; arrays must all have the same length, the number of members.
    """
    return fill_parameters(compiled, *parameter_overrides(compiled, params))


def parameter_overrides(
    compiled: CompiledModel, params: Mapping[str, ArrayLike] | None
) -> tuple[dict[str, np.ndarray], int]:
    """``params`` checked and as float arrays, with the number of members they give."""
    if params is not None and not isinstance(params, Mapping):
        raise ParameterError(
            f"params: expected a mapping of parameter names to values (got "
            f"{_shown(params)}). Pass e.g. {{'contact_rate': [5, 6, 7]}}"
        )
    names = compiled.parameter_names
    overrides = {}
    for name, value in (params or {}).items():
        if not isinstance(name, str) or not compiled.model.parameter_rows(name):
            raise ParameterError(
                f"params: unknown parameter {name!r}."
                f"{did_you_mean(str(name), names)} Override a parameter of the "
                "model"
            )
        array = _numbers(value, f"params['{name}']")
        if array.ndim > 1:
            raise ParameterError(
                f"params['{name}']: expected a scalar or a 1-D array (got shape "
                f"{array.shape}). Give one value per member"
            )
        if not np.isfinite(array).all():
            raise ParameterError(
                f"params['{name}']: values must be finite (got "
                f"{_shown(value)}). Remove NaN and infinite values"
            )
        _check_structural(compiled, name, array)
        overrides[name] = array
    sizes = {a.size for a in overrides.values() if a.ndim == 1}
    if len(sizes) > 1:
        raise ParameterError(
            f"params: arrays have different lengths (got {sorted(sizes)}). "
            "Give every array one value per member"
        )
    members = sizes.pop() if sizes else 1
    if members == 0:
        raise ParameterError("params: an array is empty (got length 0). Give at least one member")
    if MEMBER in names and MEMBER not in overrides and members > 1:
        # each member its own random stream: the members of an ensemble are independent
        overrides[MEMBER] = np.arange(members, dtype=float)
    return overrides, members


def _check_structural(compiled: CompiledModel, name: str, array: np.ndarray) -> None:
    """Refuse to change a parameter that fixed the model's structure when it was built."""
    fixes = compiled.model.structural.get(name)
    if fixes is None:
        return
    default = next(p.value for p in compiled.model.parameters if p.name == name)
    if np.any(array != default):
        raise ParameterError(
            f"params['{name}']: {name} is {fixes}, fixed when the model is built (got "
            f"{_shown(array.tolist())}, built with {default:g}). Change it in the model file "
            "and load the model again for each order"
        )


def fill_parameters(
    compiled: CompiledModel, overrides: Mapping[str, np.ndarray], members: int
) -> np.ndarray:
    """The ``(n_params, members)`` parameter array: defaults, with checked ``overrides``."""
    if not overrides and members == 1:
        return _defaults(compiled.model)[:, None].copy()
    p = np.repeat(_defaults(compiled.model)[:, None], members, axis=1)
    index = {name: i for i, name in enumerate(compiled.parameter_names)}
    for name, array in overrides.items():
        p[[index[row] for row in compiled.model.parameter_rows(name) or ()]] = array
    return p


def _shown(value: object) -> str:
    """``repr(value)``, cut to a couple of hundred characters."""
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + "..."


def _numbers(value: object, where: str) -> np.ndarray:
    """``value`` as a float array, or a :class:`ParameterError` naming the argument."""
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ParameterError(
            f"{where}: expected a number or an array of numbers (got "
            f"{value!r}). Give numeric values"
        ) from None


def _names(outputs: Sequence[str] | str) -> tuple[str, ...] | str:
    """Output names as a hashable tuple; a bare string is kept for the check to reject."""
    return outputs if isinstance(outputs, str) else tuple(outputs)


@lru_cache(maxsize=32)
def _model_grid(model: Model) -> Grid:
    """The grid of the model's own time block (a grid is immutable: made once per model)."""
    grid = Grid.from_time(model.time)
    if grid.steps:  # listed steps: the block is the grid, with nothing to check against it
        return grid
    return make_grid(model, {"start": model.time.start})


def build_ahead(model: Model) -> tuple[Path, bool]:
    """Build the extension module of the compiled loop of ``model`` (its default outputs) in
    the cache folder, so that later processes load it without numba (see
    :mod:`pssc_sim.compile.aot`); its path, and whether it was built now (``False``: it was
    there). Raises :class:`ParameterError` where the numba back end cannot run the model.

    The module's types are those of the arguments of a run with the model's own time and
    parameters.
    """
    from pssc_sim.compile import aot
    from pssc_sim.integrate.backends import loop_head, tableau_arrays
    from pssc_sim.integrate.fixed import FixedStepPlan
    from pssc_sim.integrate.tableau import EULER

    compiled = compiled_for(model, None)
    grid = make_grid(model, None)
    choose_backend(compiled, grid, EULER, "euler", 1, "numba")  # refuses what cannot run
    key = compiled.loop_key
    if aot.is_built(key):
        return aot.extension_path(key), False
    plan = FixedStepPlan.build(grid)
    head = loop_head(compiled, grid, plan, parameter_array(compiled, None))
    out = np.empty((plan.n_rows, len(compiled.outputs), 1))
    arguments = (*head, *tableau_arrays(EULER), out, 0, 0, len(plan.steps), 0)
    types = aot.signature(arguments)
    assert types is not None, "the loop's arguments are arrays and numbers"
    try:
        return aot.build(compiled.loop_source(), key, types), True
    except Exception as error:  # numba's and the C compiler's errors have no common base
        raise SimulationError(
            f"cache build: the loop of {model.source or model.name} could not be built ahead "
            f"of time (got {type(error).__name__}: {error}). It still runs, compiled in each "
            "process; check that a C compiler is installed"
        ) from error


def make_grid(model: Model, time: Mapping[str, float] | None) -> Grid:
    """The model's time block with ``time`` overrides applied."""
    if not time:
        return _model_grid(model)
    grid = Grid.from_time(model.time)
    if grid.steps and time:
        raise ParameterError(
            f"time: the model lists its time steps (they change during the run), so its time "
            f"cannot be overridden (got {dict(time)}). Change the model's time block instead"
        )
    if grid.steps:
        return grid
    values = {"start": grid.start, "stop": grid.stop, "dt": grid.dt, "save_every": None}
    for key, value in (time or {}).items():
        if key not in _TIME_KEYS:
            raise ParameterError(
                f"time: unknown key '{key}'.{did_you_mean(key, _TIME_KEYS)}"
                " Use start, stop, dt or save_every"
            )
        number = _numbers(value, f"time['{key}']")
        if number.ndim != 0:
            raise ParameterError(
                f"time['{key}']: expected one number (got {value!r}). Give a single time value"
            )
        values[key] = float(number)
    if values["save_every"] is None:
        changed_dt = time is not None and "dt" in time
        values["save_every"] = values["dt"] if changed_dt else grid.save_every
    start, stop, dt, save = (float(values[k]) for k in _TIME_KEYS)  # type: ignore[arg-type]
    if not (np.isfinite([start, stop, dt, save]).all() and stop > start and dt > 0 and save > 0):
        raise ParameterError(
            f"time: need start < stop and positive dt and save_every (got "
            f"start={start}, stop={stop}, dt={dt}, save_every={save}). "
            "Fix the time overrides"
        )
    return Grid(start, stop, dt, save)


def simulate(
    model: Model | CompiledModel,
    params: Mapping[str, ArrayLike] | None = None,
    *,
    method: str = "euler",
    time: Mapping[str, float] | None = None,
    outputs: Sequence[str] | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    chunk: int = DEFAULT_CHUNK,
    progress: Progress | None = None,
    max_memory: int | None = None,
    scheduler: Any = None,
    backend: str = "auto",
) -> Results:
    """Run a model, or an ensemble of it in one vectorised call.

    Parameters
    ----------
    model
        A :class:`Model` or a :class:`CompiledModel`. Read a model file or folder first with
        :func:`~pssc_sim.parse.load_model`.
    params
        Parameter overrides, ``{name: scalar or 1-D array}``. Arrays of length n run n members.
    method
        One of :data:`~pssc_sim.integrate.methods.METHODS`: ``euler`` (default), ``rk4``, and the
        adaptive ``rk45``, ``dop853``, ``lsoda``, ``bdf``, ``radau``.
    time
        Overrides of the time block: ``start``, ``stop``, ``dt``, ``save_every``.
    outputs
        Variables to record (all visible stocks, flows and auxiliaries by default).
    rtol, atol
        Tolerances of the adaptive methods; by default the method's own (``rtol=1e-6``,
        ``atol=1e-9``; ``1e-10`` and ``1e-12`` for ``dop853``, the method for tight ones).
    chunk
        Members evaluated together in an ensemble (made smaller when the working state of a
        chunk would not fit in ``max_memory``).
    progress
        Called now and then (at most every 0.1 s) with the fraction of the run done, from 0 to
        1: the time reached over the span, across the chunks of an ensemble; last with ``1.0``.
        Nothing is printed: a command-line tool draws its own bar from it.
    max_memory
        Bytes the run may use (default: a safe share of the machine, see
        :func:`~pssc_sim.integrate.budget.default_memory_limit`). The run's size is estimated
        before anything is allocated; a run over the limit, or with more than
        :data:`~pssc_sim.integrate.budget.MAX_STEPS` fixed steps, raises
        :class:`~pssc_sim.integrate.budget.ResourceLimitError` (a :class:`ParameterError`).
    scheduler
        Run the members on a Dask cluster (see :mod:`pssc_sim.integrate.distributed`): the
        address of a scheduler (``tcp://host:8786``), a number of local worker processes
        (``2`` or ``"processes:2"``), or a ``distributed.Client``. The values are bit-identical
        to a run in this process. ``None`` (default) runs on the Dask client current in this
        process, as ``dask.compute`` does (one made with ``with Client(address):`` or created
        and not closed, see :func:`current_scheduler`), else here; ``False`` runs here even
        with a client current. The run is sized and chunked as here (``max_memory`` bounds
        this process, which gathers the members, and every worker, which runs at most a chunk
        of them at a time).
    backend
        ``numpy``, ``numba`` or ``auto`` (default), for the fixed-step methods (see
        :mod:`pssc_sim.integrate.backends`). ``numba`` runs the whole step loop compiled to
        machine code (the ``fast`` extra): compiled on first use (seconds for a small model, a
        minute or more for hundreds of variables) and kept in the cache folder for later
        processes (:mod:`pssc_sim.compile.cache`). It agrees with numpy to the last few bits.
        ``auto`` takes numba when the loop is compiled already in this process (an ensemble
        of 16 members or more runs on the block loop, which steps blocks of members together),
        or when the run would take longer on numpy than loading or compiling the loop; numpy
        otherwise. The adaptive methods run on numpy, and so do the models
        using an array operation the loop cannot write element by element (VECTOR SORT ORDER,
        VECTOR RANK, VECTOR REORDER, ALLOCATE BY PRIORITY, INVERT MATRIX; ``backend='numba'``
        says so for them).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from pssc_sim import load_model
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "m.yaml"
    >>> _ = path.write_text("time: {stop: 2, dt: 1}\\nparameters: {k: 0.5}\\n"
    ...                     "stocks: {x: 1}\\nflows: {out: {from: x, rate: k * x}}\\n")
    >>> model = load_model(path)
    >>> simulate(model)["x"].tolist()
    [1.0, 0.5, 0.25]
    >>> simulate(model, {"k": [0.5, 1.0]})["x"].iloc[-1].tolist()
    [0.25, 0.0]
    >>> seen = []
    >>> _ = simulate(model, progress=seen.append)
    >>> seen[-1]
    1.0
    >>> simulate(model, {"k": np.zeros(10**6)}, max_memory=2**20)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    pssc_sim.integrate.budget.ResourceLimitError: run: the run would need ... MiB for ...
    """
    if isinstance(model, (str, Path)):
        raise ParameterError(
            f"simulate: model: takes a Model (got a path {str(model)!r}). "
            "Load it first with load_model(path)"
        )
    check_options(
        method, 1e-6 if rtol is None else rtol, 0.0 if atol is None else atol, chunk, max_memory
    )
    rtol = METHODS[method].rtol if rtol is None else rtol
    atol = METHODS[method].atol if atol is None else atol
    check_backend(backend)
    if isinstance(model, CompiledModel):
        compiled = model if outputs is None else compiled_for(model.model, _names(outputs))
    else:
        compiled = compiled_for(model, _names(outputs) if outputs is not None else None)
    key = (method, rtol, atol, chunk, backend)
    single = params is None and time is None and progress is None and max_memory is None
    if single and budget.configured_limit() is None and current_scheduler(scheduler) is None:
        prepared: SingleRun | None = compiled.runs.get(key)
        if prepared is not None:
            return prepared.run()
    overrides, members = parameter_overrides(compiled, params)
    grid = make_grid(compiled.model, time)
    if grid.steps and METHODS[method].tableau is None:
        raise ParameterError(
            f"method: the model lists its time steps (they change during the run), which an "
            f"adaptive method would not follow (got method={method!r}). Use euler or rk4"
        )
    scheduler = current_scheduler(scheduler)
    size = plan_run(compiled, grid, method, members, chunk, max_memory)
    p = fill_parameters(compiled, overrides, members)
    tableau = METHODS[method].tableau
    chosen = choose_backend(
        compiled, grid, tableau, method, members, backend, distributed=scheduler is not None
    )
    allocate = storage.on_disk() if size.on_disk else storage.in_memory
    blocks = (
        chosen == "numba"
        and tableau is not None
        and runs_blocks(compiled, grid, tableau, members, backend)
    )
    options = SolverOptions(
        rtol=rtol,
        atol=atol,
        chunk=size.chunk,
        progress=progress,
        allocate=allocate,
        backend=chosen,
        blocks=blocks,
    )
    if scheduler is None:
        times, values = METHODS[method].run(compiled, p, grid, options)
    else:
        from pssc_sim.integrate.cluster import run_on_cluster

        times, values = run_on_cluster(scheduler, compiled, p, grid, method, options)
    again = single and scheduler is None and members == 1 and chosen == "numba"
    if again and tableau is not None and compiled.has_loop and size.total <= budget.SMALL_RUN:
        # a call with the same options finds all this the same: the loop is built, the run small
        loop = single_run(compiled, grid, tableau, p.copy())
        compiled.runs[key] = SingleRun(compiled, times.copy(), method, loop, p.copy())
    return Results(
        times, compiled.outputs, values, compiled.parameter_names, p, method, compiled.model.name
    )


@dataclass(frozen=True, slots=True)
class SingleRun:
    """A single run of a model with its defaults on the built loop, checked, planned and
    prepared once (:func:`~pssc_sim.integrate.backends.single_run`): what :func:`simulate`
    finds again for the same options (kept in :attr:`CompiledModel.runs
    <pssc_sim.compile.compiled.CompiledModel.runs>`) while no memory limit is set and no
    cluster is current. It holds only what cannot change: the model's own grid and saved
    times, a small run's plan in memory, and the loop's choice once the loop is built."""

    compiled: CompiledModel
    times: np.ndarray
    method: str
    loop: Callable[[], np.ndarray]
    parameters: np.ndarray

    def run(self) -> Results:
        """The run, as :func:`simulate` makes it."""
        compiled = self.compiled
        return Results(
            self.times.copy(),
            compiled.outputs,
            self.loop(),
            compiled.parameter_names,
            self.parameters.copy(),
            self.method,
            compiled.model.name,
        )


def check_options(
    method: str, rtol: float, atol: float, chunk: int, max_memory: int | None
) -> None:
    """Raise :class:`ParameterError` naming the first bad option of :func:`simulate`."""
    if not isinstance(method, str) or method not in METHODS:
        hint = did_you_mean(method, METHODS) if isinstance(method, str) else ""
        raise ParameterError(
            f"method: unknown method {_shown(method)}.{hint} Use one of: {', '.join(METHODS)}"
        )
    for name, value, example in (("rtol", rtol, "1e-6"), ("atol", atol, "1e-9")):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
            raise ParameterError(
                f"{name}: expected a number (got {_shown(value)}). Give e.g. {name}={example}"
            )
        if not (math.isfinite(value) and (value > 0 if name == "rtol" else value >= 0)):
            kind = "positive" if name == "rtol" else "zero or positive"
            raise ParameterError(
                f"{name}: must be finite and {kind} (got {value!r}). Give e.g. {name}={example}"
            )
    if isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk < 1:
        raise ParameterError(
            f"chunk: must be at least 1 (got {_shown(chunk)}). Use e.g. {DEFAULT_CHUNK}"
        )
    if max_memory is not None and (
        isinstance(max_memory, bool)
        or not isinstance(max_memory, (int, np.integer))
        or max_memory < 1
    ):
        raise ParameterError(
            f"max_memory: expected a number of bytes of at least 1 (got "
            f"{_shown(max_memory)}). Give e.g. max_memory=2 * 1024**3, or "
            "parse_size('2GiB')"
        )


def run_counts(
    compiled: CompiledModel, grid: Grid, method: str, members: int, n_sampled: int = 0
) -> budget.Counts:
    """What the size of a run of ``compiled`` on ``grid`` depends on (nothing is built)."""
    fixed = METHODS[method].fixed_step
    rows = budget.row_count(grid.start, grid.stop, grid.save_every)
    steps = budget.step_count(grid.start, grid.stop, grid.dt) if fixed else 0.0
    if grid.steps:  # the steps and saved times are listed
        rows, steps = len(grid.saved) + 1.0, float(len(grid.steps) - 1)
    return budget.Counts(
        members=members,
        n_outputs=len(compiled.outputs),
        n_parameters=len(compiled.parameter_names),
        n_stocks=compiled.n_stocks,
        n_discrete=compiled.n_discrete,
        n_rows=min(rows, steps + 1) if fixed else rows,
        n_steps=steps,
        fixed_step=fixed,
        implicit=METHODS[method].implicit,
        scalar=members == 1 and not compiled.model.dimensions,
        n_sampled=n_sampled,
        n_pipelines=len(compiled.fixed_delays) if fixed else 0,
    )


#: The plans of the last small runs (fitting anywhere), by model, grid, method and counts.
_SMALL_RUNS: dict[tuple[int, Grid, str, int, int, int], tuple[CompiledModel, budget.Estimate]] = {}


def plan_run(
    compiled: CompiledModel,
    grid: Grid,
    method: str,
    members: int,
    chunk: int,
    max_memory: int | None,
    n_sampled: int = 0,
) -> budget.Estimate:
    """Check that the run fits in ``max_memory`` bytes (default: a safe share of the machine)
    and in :data:`~pssc_sim.integrate.budget.MAX_STEPS`; return its plan: the chunk of members
    to use, and whether an ensemble keeps its outputs on disk (:func:`budget.plan`)."""
    unlimited = max_memory is None and budget.configured_limit() is None
    key = (id(compiled), grid, method, members, chunk, n_sampled)
    kept = _SMALL_RUNS.get(key) if unlimited else None
    if kept is not None and kept[0] is compiled:
        return kept[1]  # a small run planned before: the same plan
    counts = run_counts(compiled, grid, method, members, n_sampled)
    budget.check_steps(counts, grid.dt, (grid.start, grid.stop))
    if unlimited:
        small = budget.estimate(counts, chunk)
        if small.total <= budget.SMALL_RUN:
            if len(_SMALL_RUNS) >= 64:
                del _SMALL_RUNS[next(iter(_SMALL_RUNS))]
            _SMALL_RUNS[key] = (compiled, small)
            return small  # fits anywhere: the machine's memory need not be read
    limit = budget.default_memory_limit() if max_memory is None else max_memory
    disk = storage.free_space(storage.spill_folder()) if members > 1 else None
    return budget.plan(counts, chunk, limit, disk)
