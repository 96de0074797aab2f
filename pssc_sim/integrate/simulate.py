"""``simulate``: parameters in, :class:`~pssc_sim.results.Results` out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from pssc_sim.compile.compiler import CompiledModel, compile_model
from pssc_sim.errors import ParameterError, did_you_mean
from pssc_sim.integrate.fixed import DEFAULT_CHUNK
from pssc_sim.integrate.grid import Grid
from pssc_sim.integrate.methods import METHODS, SolverOptions
from pssc_sim.integrate.progress import Progress
from pssc_sim.ir.model import Model
from pssc_sim.parse import load_model
from pssc_sim.results import Results

_TIME_KEYS = ("start", "stop", "dt", "save_every")


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


def parameter_array(compiled: CompiledModel,
                    params: Mapping[str, ArrayLike] | None) -> np.ndarray:
    """Parameters shaped ``(n_params, n_members)``: defaults, with ``params`` overriding.

    Scalars apply to every member; arrays must all have the same length, the number of members.
    """
    names = compiled.parameter_names
    defaults = _defaults(compiled.model)
    overrides = {}
    rows: dict[str, tuple[str, ...]] = {}
    for name, value in (params or {}).items():
        rows[name] = compiled.model.parameter_rows(name) or ()
        if not rows[name]:
            raise ParameterError(f"params: unknown parameter '{name}'.{did_you_mean(name, names)}"
                                 " Override a parameter of the model")
        array = _numbers(value, f"params['{name}']")
        if array.ndim > 1:
            raise ParameterError(f"params['{name}']: expected a scalar or a 1-D array (got shape "
                                 f"{array.shape}). Give one value per member")
        if not np.isfinite(array).all():
            raise ParameterError(f"params['{name}']: values must be finite (got {value!r}). "
                                 "Remove NaN and infinite values")
        overrides[name] = array
    sizes = {a.size for a in overrides.values() if a.ndim == 1}
    if len(sizes) > 1:
        raise ParameterError(f"params: arrays have different lengths (got {sorted(sizes)}). "
                             "Give every array one value per member")
    members = sizes.pop() if sizes else 1
    if members == 0:
        raise ParameterError("params: an array is empty (got length 0). Give at least one member")
    p = np.repeat(defaults[:, None], members, axis=1)
    index = {name: i for i, name in enumerate(names)}
    for name, array in overrides.items():
        p[[index[row] for row in rows[name]]] = array
    return p


def _numbers(value: object, where: str) -> np.ndarray:
    """``value`` as a float array, or a :class:`ParameterError` naming the argument."""
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ParameterError(f"{where}: expected a number or an array of numbers (got "
                             f"{value!r}). Give numeric values") from None


def _names(outputs: Sequence[str] | str) -> tuple[str, ...] | str:
    """Output names as a hashable tuple; a bare string is kept for the check to reject."""
    return outputs if isinstance(outputs, str) else tuple(outputs)


def make_grid(model: Model, time: Mapping[str, float] | None) -> Grid:
    """The model's time block with ``time`` overrides applied."""
    grid = Grid.from_time(model.time)
    values = {"start": grid.start, "stop": grid.stop, "dt": grid.dt, "save_every": None}
    for key, value in (time or {}).items():
        if key not in _TIME_KEYS:
            raise ParameterError(f"time: unknown key '{key}'.{did_you_mean(key, _TIME_KEYS)}"
                                 " Use start, stop, dt or save_every")
        number = _numbers(value, f"time['{key}']")
        if number.ndim != 0:
            raise ParameterError(f"time['{key}']: expected one number (got {value!r}). Give a "
                                 "single time value")
        values[key] = float(number)
    if values["save_every"] is None:
        changed_dt = time is not None and "dt" in time
        values["save_every"] = values["dt"] if changed_dt else grid.save_every
    start, stop, dt, save = (float(values[k]) for k in _TIME_KEYS)  # type: ignore[arg-type]
    if not (np.isfinite([start, stop, dt, save]).all() and stop > start and dt > 0 and save > 0):
        raise ParameterError(f"time: need start < stop and positive dt and save_every (got "
                             f"start={start}, stop={stop}, dt={dt}, save_every={save}). "
                             "Fix the time overrides")
    return Grid(start, stop, dt, save)


def simulate(model: Model | CompiledModel | str | Path,
             params: Mapping[str, ArrayLike] | None = None, *, method: str = "euler",
             time: Mapping[str, float] | None = None, outputs: Sequence[str] | None = None,
             rtol: float = 1e-6, atol: float = 1e-9, chunk: int = DEFAULT_CHUNK,
             progress: Progress | None = None, scheduler: Any = None) -> Results:
    """Run a model, or an ensemble of it in one vectorised call.

    Parameters
    ----------
    model
        A :class:`Model`, a :class:`CompiledModel`, or a path to a model file or folder.
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
        Tolerances of the adaptive methods.
    chunk
        Members evaluated together in an ensemble.
    progress
        Called now and then (at most every 0.1 s) with the fraction of the run done, from 0 to
        1: the time reached over the span, across the chunks of an ensemble; last with ``1.0``.
        Nothing is printed: a command-line tool draws its own bar from it.
    scheduler
        Run the members on a Dask cluster (see :mod:`pssc_sim.integrate.distributed`): the
        address of a scheduler (``tcp://host:8786``), a number of local worker processes
        (``2`` or ``"processes:2"``), or a ``distributed.Client``. The values are bit-identical
        to a run in this process. ``None`` (default) runs here.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "m.yaml"
    >>> _ = path.write_text("time: {stop: 2, dt: 1}\\nparameters: {k: 0.5}\\n"
    ...                     "stocks: {x: 1}\\nflows: {out: {from: x, rate: k * x}}\\n")
    >>> simulate(path)["x"].tolist()
    [1.0, 0.5, 0.25]
    >>> simulate(path, {"k": [0.5, 1.0]})["x"].iloc[-1].tolist()
    [0.25, 0.0]
    >>> seen = []
    >>> _ = simulate(path, progress=seen.append)
    >>> seen[-1]
    1.0
    """
    if isinstance(model, (str, Path)):
        model = load_model(model)
    if method not in METHODS:
        raise ParameterError(f"method: unknown method '{method}'.{did_you_mean(method, METHODS)}"
                             f" Use one of: {', '.join(METHODS)}")
    if chunk < 1:
        raise ParameterError(f"chunk: must be at least 1 (got {chunk}). Use e.g. {DEFAULT_CHUNK}")
    if isinstance(model, CompiledModel):
        compiled = model if outputs is None else compiled_for(model.model, _names(outputs))
    else:
        compiled = compiled_for(model, _names(outputs) if outputs is not None else None)
    p = parameter_array(compiled, params)
    grid = make_grid(compiled.model, time)
    options = SolverOptions(rtol=rtol, atol=atol, chunk=chunk, progress=progress)
    if scheduler is None:
        times, values = METHODS[method].run(compiled, p, grid, options)
    else:
        from pssc_sim.integrate.distributed import run_on_cluster

        times, values = run_on_cluster(scheduler, compiled, p, grid, method, options)
    return Results(times, compiled.outputs, values, compiled.parameter_names, p, method,
                   compiled.model.name)
