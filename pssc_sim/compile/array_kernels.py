"""The numpy functions arrayed kernels call (see :mod:`pssc_sim.compile.codegen`): one for each
array operation of :mod:`pssc_sim.ir.dimensions` that is not plain indexing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


def reduce_array(function: Callable[..., Any], values: Any, shape: tuple[int, ...],
                 axes: tuple[int, ...]) -> Any:
    """Kernel helper of :class:`~pssc_sim.ir.dimensions.Reduce`: ``values`` spread to
    ``shape`` then reduced.

    >>> reduce_array(np.sum, np.ones((2, 1)), (3, 2), (1,)).tolist()
    [[2.0], [2.0], [2.0]]
    """
    array = np.asarray(values)
    members = array.shape[-1] if array.ndim else 1
    return function(np.broadcast_to(array, (*shape, members)), axis=axes)


def assemble_array(shape: tuple[int, ...], pieces: tuple[tuple[tuple[int, ...], ...], ...],
                   *values: Any) -> Any:
    """Kernel helper of :class:`~pssc_sim.ir.dimensions.Assemble`: one array from per-element
    values."""
    members = max((np.shape(v)[-1] if np.ndim(v) else 1) for v in values)
    result = np.empty((*shape, members))
    for positions, value in zip(pieces, values, strict=True):
        index: tuple[Any, ...] = (*np.ix_(*positions), slice(None))
        result[index] = value
    return result


def table_lookup(x: Any, index: Any,
                 tables: Sequence[tuple[Sequence[float], Sequence[float]]]) -> Any:
    """Kernel helper of :class:`~pssc_sim.ir.dimensions.TableLookup`: each element through its
    own table."""
    values, which = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(index))
    result = np.empty(values.shape)
    for k, (xs, ys) in enumerate(tables):
        mask = which == k
        if mask.any():
            result[mask] = np.interp(values[mask], xs, ys)
    return result


def _selected(function: Callable[..., Any], fill: float) -> Callable[..., Any]:
    def apply(chosen: Any, values: Any, axes: tuple[int, ...]) -> Any:
        return function(np.where(chosen, values, fill), axis=axes)
    return apply


#: The numerical actions of VECTOR SELECT: (uses selection * values, values ** selection or the
#: values alone, and the reduction), by action number (Vensim's documentation, as PySD reads it).
_ACTIONS: dict[int, tuple[str, Callable[..., Any]]] = {
    0: ("weighted", _selected(np.sum, 0.0)), 1: ("weighted", _selected(np.prod, 1.0)),
    2: ("weighted", _selected(np.min, np.inf)), 3: ("weighted", _selected(np.max, -np.inf)),
    5: ("powered", _selected(np.prod, 1.0)), 6: ("plain", _selected(np.sum, 0.0)),
    7: ("plain", _selected(np.prod, 1.0)), 8: ("plain", _selected(np.min, np.inf)),
    9: ("plain", _selected(np.max, -np.inf)),
}


def vector_select(selection: Any, values: Any, missing: Any, action: Any,
                  shape: tuple[int, ...], axes: tuple[int, ...]) -> Any:
    """Kernel helper of :class:`~pssc_sim.ir.dimensions.VectorSelect`: the action over the
    elements whose selection is not zero; ``missing`` where every selection is zero. Actions 4
    and 10 are means."""
    members = max((np.shape(v)[-1] if np.ndim(v) else 1) for v in (selection, values))
    full = (*shape, members)
    chosen = np.broadcast_to(np.asarray(selection, dtype=float), full) != 0
    plain = np.broadcast_to(np.asarray(values, dtype=float), full)
    with np.errstate(all="ignore"):
        weighted = np.broadcast_to(selection, full) * plain
        terms = {"plain": plain, "weighted": weighted,
                 "powered": plain ** np.broadcast_to(selection, full)}
        count = chosen.sum(axis=axes)
        codes = np.rint(np.asarray(action, dtype=float)).astype(int)
        result = np.full(count.shape, np.nan)
        for code in np.unique(codes):
            if code in (4, 10):
                kind = "weighted" if code == 4 else "plain"
                value = _selected(np.sum, 0.0)(chosen, terms[kind], axes) / count
            elif int(code) in _ACTIONS:
                kind, reduce = _ACTIONS[int(code)]
                value = reduce(chosen, terms[kind], axes)
            else:
                continue  # not an action: NaN, reported by the run as a value that is not finite
            result = np.where(np.broadcast_to(codes, result.shape) == code, value, result)
    return np.where(count == 0, missing, result)
