"""The numpy functions arrayed kernels call (see :mod:`pssc_sim.compile.codegen`): one for each
array operation of :mod:`pssc_sim.ir.dimensions` that is not plain indexing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


def reduce_array(
    function: Callable[..., Any], values: Any, shape: tuple[int, ...], axes: tuple[int, ...]
) -> Any:
    """Kernel helper of :class:`~pssc_sim.ir.dimensions.Reduce`: ``values`` spread to
    ``shape`` then reduced.

    >>> reduce_array(np.sum, np.ones((2, 1)), (3, 2), (1,)).tolist()
    [[2.0], [2.0], [2.0]]
    """
    array = np.asarray(values)
    members = array.shape[-1] if array.ndim else 1
    return function(np.broadcast_to(array, (*shape, members)), axis=axes)


def assemble_array(
    shape: tuple[int, ...], pieces: tuple[tuple[tuple[int, ...], ...], ...], *values: Any
) -> Any:
    """Kernel helper of :class:`~pssc_sim.ir.dimensions.Assemble`: one array from per-element
    values."""
    members = max((np.shape(v)[-1] if np.ndim(v) else 1) for v in values)
    result = np.empty((*shape, members))
    for positions, value in zip(pieces, values, strict=True):
        index: tuple[Any, ...] = (*np.ix_(*positions), slice(None))
        result[index] = value
    return result


def table_lookup(
    x: Any, index: Any, tables: Sequence[tuple[Sequence[float], Sequence[float]]]
) -> Any:
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
    0: ("weighted", _selected(np.sum, 0.0)),
    1: ("weighted", _selected(np.prod, 1.0)),
    2: ("weighted", _selected(np.min, np.inf)),
    3: ("weighted", _selected(np.max, -np.inf)),
    5: ("powered", _selected(np.prod, 1.0)),
    6: ("plain", _selected(np.sum, 0.0)),
    7: ("plain", _selected(np.prod, 1.0)),
    8: ("plain", _selected(np.min, np.inf)),
    9: ("plain", _selected(np.max, -np.inf)),
}


def vector_select(
    selection: Any,
    values: Any,
    missing: Any,
    action: Any,
    shape: tuple[int, ...],
    axes: tuple[int, ...],
) -> Any:
    """Kernel helper of :class:`~pssc_sim.ir.dimensions.VectorSelect`: the action over the
    elements whose selection is not zero; ``missing`` where every selection is zero. Actions 4
    and 10 are means."""
    members = max((np.shape(v)[-1] if np.ndim(v) else 1) for v in (selection, values))
    full = (*shape, members)
    chosen = np.broadcast_to(np.asarray(selection, dtype=float), full) != 0
    plain = np.broadcast_to(np.asarray(values, dtype=float), full)
    with np.errstate(all="ignore"):
        weighted = np.broadcast_to(selection, full) * plain
        terms = {
            "plain": plain,
            "weighted": weighted,
            "powered": plain ** np.broadcast_to(selection, full),
        }
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


def _members(*values: Any) -> int:
    return max((np.shape(v)[-1] if np.ndim(v) else 1) for v in values)


def vector_sort(kind: str, values: Any, control: Any, shape: tuple[int, ...], axis: int) -> Any:
    """Kernel helper of :class:`~pssc_sim.ir.dimensions.VectorSort` along ``axis``: the
    zero-based order of the elements (``order``), their rank from 1 (``rank``), ascending where
    ``control`` > 0 and descending elsewhere, ties in element order; or the values taken in the
    zero-based order ``control`` (``reorder``), NaN where it points outside.

    >>> vector_sort("order", np.array([[5.0], [3.0], [8.0]]), 1, (3,), 0)[:, 0].tolist()
    [1.0, 0.0, 2.0]
    >>> vector_sort("rank", np.array([[5.0], [3.0], [8.0]]), -1, (3,), 0)[:, 0].tolist()
    [2.0, 3.0, 1.0]
    """
    full = (*shape, _members(values, control))
    vector = np.broadcast_to(np.asarray(values, dtype=float), full)
    given = np.broadcast_to(np.asarray(control, dtype=float), full)
    if kind == "reorder":
        valid = np.isfinite(given) & (given >= -0.5) & (given < shape[axis] - 0.5)
        index = np.where(valid, np.rint(np.where(valid, given, 0)), 0).astype(int)
        return np.where(valid, np.take_along_axis(vector, index, axis=axis), np.nan)
    ascending = np.argsort(vector, axis=axis, kind="stable")
    descending = np.argsort(-vector, axis=axis, kind="stable")
    order = np.where(given > 0, ascending, descending)
    if kind == "rank":
        return (np.argsort(order, axis=axis, kind="stable") + 1).astype(float)
    return order.astype(float)


def element_map(values: Any, offset: Any, shape: tuple[int, ...], axes: tuple[int, ...]) -> Any:
    """Kernel helper of :class:`~pssc_sim.ir.dimensions.ElementMap`: ``values`` (over the
    equation's axes, then the mapped ``axes``) at the zero-based position ``offset`` along the
    mapped axes flattened in row order; NaN where it falls outside.

    >>> element_map(np.array([[1.0], [2.0], [4.0]]), np.array([2.0]), (3,), (0,)).tolist()
    [4.0]
    """
    members = _members(values, offset)
    outer = shape[: len(shape) - len(axes)]
    size = int(np.prod([shape[a] for a in axes]))
    flat = np.broadcast_to(np.asarray(values, dtype=float), (*shape, members)).reshape(
        (*outer, size, members)
    )
    given = np.broadcast_to(np.asarray(offset, dtype=float), (*outer, members))
    valid = np.isfinite(given) & (given >= -0.5) & (given < size - 0.5)
    index = np.where(valid, np.rint(np.where(valid, given, 0)), 0).astype(int)
    picked = np.take_along_axis(flat, index[..., None, :], axis=-2)[..., 0, :]
    return np.where(valid, picked, np.nan)


def invert_matrix(values: Any, shape: tuple[int, ...]) -> Any:
    """Kernel helper of :class:`~pssc_sim.ir.dimensions.InvertMatrix`: the inverse over the
    last two axes of ``shape`` (members last), NaN for a singular matrix.

    >>> invert_matrix(np.array([[[4.0], [7.0]], [[2.0], [6.0]]]), (2, 2))[:, :, 0].tolist()
    [[0.6000000000000001, -0.7000000000000001], [-0.2, 0.4]]
    """
    full = (*shape, _members(values))
    stacked = np.moveaxis(np.broadcast_to(np.asarray(values, dtype=float), full), -1, 0)
    result = np.full(stacked.shape, np.nan)
    flat_in = stacked.reshape(-1, *shape[-2:])
    flat_out = result.reshape(-1, *shape[-2:])
    for k, matrix in enumerate(flat_in):
        if np.all(np.isfinite(matrix)) and np.linalg.cond(matrix) < 1 / np.finfo(float).eps:
            flat_out[k] = np.linalg.inv(matrix)
    return np.moveaxis(result, 0, -1)


def _allocation(
    request: np.ndarray, priority: np.ndarray, width: float, supply: float
) -> np.ndarray:
    """One vector's allocation: each request i receives ``request_i * clip((priority_i - p) /
    width, 0, 1)``, at the level ``p`` where the allocations sum to ``supply``. The sum is
    piecewise linear in p with corners at ``priority_i`` and ``priority_i - width``, so p is
    found exactly by interpolating between its values at the corners."""
    request = np.maximum(request, 0.0)
    if supply >= request.sum():
        return request.copy()
    if supply <= 0 or not np.isfinite(supply):
        return np.zeros_like(request) if supply <= 0 else np.full_like(request, np.nan)
    width = max(width, 1e-12)

    def given(level: np.ndarray) -> np.ndarray:
        shares: np.ndarray = np.clip((priority[:, None] - level[None, :]) / width, 0, 1)
        weighted: np.ndarray = request[:, None] * shares
        return weighted

    corners = np.unique(np.concatenate([priority, priority - width]))  # ascending
    totals = given(corners).sum(axis=0)  # non-increasing along the corners
    level = np.interp(supply, totals[::-1], corners[::-1])
    allocated: np.ndarray = given(np.array([level]))[:, 0]
    return allocated


def allocate_by_priority(
    request: Any, priority: Any, width: Any, supply: Any, shape: tuple[int, ...]
) -> Any:
    """Kernel helper of :class:`~pssc_sim.ir.dimensions.AllocateByPriority`: the supply shared
    among the requests along the last axis of ``shape`` by priority, a gap of ``width`` in
    priority passing the supply entirely to the higher one (Vensim's Allocation reference);
    every request filled when the supply covers them all.

    >>> allocate_by_priority(np.array([[8.0], [1.0], [3.0]]), np.array([[5.0], [3.0], [0.0]]),
    ...                      3.0, 4.0, (3,))[:, 0].tolist()
    [4.0, 0.0, 0.0]
    """
    members = _members(request, priority, width, supply)
    full = (*shape, members)
    requests = np.broadcast_to(np.asarray(request, dtype=float), full)
    priorities = np.broadcast_to(np.asarray(priority, dtype=float), full)
    widths = np.take(np.broadcast_to(np.asarray(width, dtype=float), full), 0, axis=-2)
    supplies = np.take(np.broadcast_to(np.asarray(supply, dtype=float), full), 0, axis=-2)
    result = np.empty(full)
    for index in np.ndindex(*widths.shape):
        vector = (*index[:-1], slice(None), index[-1])
        result[vector] = _allocation(
            requests[vector], priorities[vector], float(widths[index]), float(supplies[index])
        )
    return result


def _rectangular(z: np.ndarray) -> np.ndarray:
    share: np.ndarray = np.clip(0.5 - z, 0.0, 1.0)
    return share


def _triangular(z: np.ndarray) -> np.ndarray:
    above = np.clip(z, -0.5, 0.5)
    share: np.ndarray = np.where(above < 0, 1 - 2 * (above + 0.5) ** 2, 2 * (0.5 - above) ** 2)
    return share


def _normal(z: np.ndarray) -> np.ndarray:
    from scipy.special import ndtr

    share: np.ndarray = ndtr(-z)
    return share


def _exponential(z: np.ndarray) -> np.ndarray:
    falling = 0.5 * np.exp(-np.abs(z))
    share: np.ndarray = np.where(z < 0, 1 - falling, falling)
    return share


#: Vensim's priority profiles by type (Allocation reference, "Specifying the Curves"): the share
#: of its request a requester asks for at a level ``z`` widths above its priority, one minus
#: the distribution function of the named shape: 1 rectangular of that width, 2 triangular of
#: that width, 3 normal of that standard deviation, 4 exponential falling both ways from the
#: priority (``0.5 exp(-|z|)``). Type 0, a fixed quantity, is the whole quantity at every level
#: on either side (:data:`FIXED`); the other types (5 constant elasticity, 11 to 15 in
#: integers) give NaN.
PROFILES: dict[int, Callable[[np.ndarray], np.ndarray]] = {
    1: _rectangular,
    2: _triangular,
    3: _normal,
    4: _exponential,
}


#: The profile type of a fixed quantity: the quantity whatever the level or price.
FIXED = 0


def _profile_shares(
    kind: np.ndarray, codes: np.ndarray, z: np.ndarray, *, supply: bool = False
) -> np.ndarray:
    """The shares at ``z`` of requesters of profile types ``kind`` (among ``codes``): of the
    quantity asked for, or with ``supply`` of the quantity offered (one minus the share of the
    shape); a fixed quantity is asked for or offered whole."""
    shares = _shape_shares(kind, codes, z)
    return np.where(kind == FIXED, 1.0, 1 - shares if supply else shares)


def _shape_shares(kind: np.ndarray, codes: np.ndarray, z: np.ndarray) -> np.ndarray:
    result = np.full(z.shape, np.nan)
    for code in codes:
        shape = PROFILES.get(int(code))
        if shape is not None:
            result = np.where(kind == code, shape(z), result)
    return result


def _available_allocation(
    request: np.ndarray, profiles: np.ndarray, supply: np.ndarray
) -> np.ndarray:
    """Allocations of vectors of requests ``(V, n)`` with profiles ``(V, n, 4)`` (type,
    priority, width, extra) from supplies ``(V,)``: each requester receives its request times
    its share at the one level where the shares sum to the supply. The total falls
    monotonically with the level, so the level is found by bisection to round-off."""
    request = np.maximum(request, 0.0)
    kind = np.rint(profiles[..., 0])
    codes = np.unique(kind[np.isfinite(kind)])
    priority = profiles[..., 1]
    width = np.maximum(profiles[..., 2], 1e-12)

    fixed = kind == FIXED
    fixed_total = np.where(fixed, request, 0.0).sum(axis=1)

    def total(level: np.ndarray) -> np.ndarray:
        shares = _profile_shares(kind, codes, (level[:, None] - priority) / width)
        summed: np.ndarray = (request * shares).sum(axis=1)
        return summed

    low = (priority - 40 * width).min(axis=1)  # every share 1 (up to exp(-40))
    high = (priority + 40 * width).max(axis=1)  # every share 0
    for _ in range(64):  # 80 widths halved 64 times: below round-off of the priorities
        middle = 0.5 * (low + high)
        over = total(middle) > supply
        low, high = np.where(over, middle, low), np.where(over, high, middle)
    level = 0.5 * (low + high)
    shares = _profile_shares(kind, codes, (level[:, None] - priority) / width)
    result = request * shares
    # fixed quantities that exceed the supply share it in proportion, as Vensim's own runs do
    rationed = np.where(
        fixed, request * supply[:, None] / np.maximum(fixed_total, 1e-300)[:, None], 0.0
    )
    result = np.where((fixed_total > supply)[:, None], rationed, result)
    covered = supply[:, None] >= request.sum(axis=1, keepdims=True)
    empty = supply[:, None] <= 0
    return np.where(covered, request, np.where(empty, 0.0, result))


def allocate_available(request: Any, profiles: Any, supply: Any, shape: tuple[int, ...]) -> Any:
    """Kernel helper of :class:`~pssc_sim.ir.dimensions.AllocateAvailable`: the supply shared
    among the requests along the last axis of the equation (``shape[:-1]``; the last axis of
    ``shape`` runs over the four elements of a priority profile), every request filled when the
    supply covers them all, none when there is no supply.

    >>> profiles = np.array([[[1.0], [5.0], [2.0], [0.0]], [[1.0], [7.0], [4.0], [0.0]]])
    >>> allocate_available(np.array([[500.0], [300.0]]), profiles, 400.0, (2, 4))[:, 0].tolist()
    [134.61538461538458, 265.38461538461536]
    """
    members = _members(request, profiles, supply)
    outer = shape[:-1]
    requests = np.broadcast_to(np.asarray(request, dtype=float), (*outer, members))
    given = np.broadcast_to(np.asarray(profiles, dtype=float), (*shape, members))
    supplies = np.take(
        np.broadcast_to(np.asarray(supply, dtype=float), (*outer, members)), 0, axis=-2
    )
    n = outer[-1]
    flat_request = np.moveaxis(requests, -1, -2).reshape(-1, n)
    flat_profiles = np.moveaxis(given, -1, -3).reshape(-1, n, shape[-1])
    allocated = _available_allocation(flat_request, flat_profiles, supplies.reshape(-1))
    return np.moveaxis(allocated.reshape(*outer[:-1], members, n), -2, -1)


def _market_price(
    demand: np.ndarray, demand_profiles: np.ndarray, supply: np.ndarray, supply_profiles: np.ndarray
) -> np.ndarray:
    """Prices of vectors of demands ``(V, d)`` with profiles ``(V, d, 4)`` and capacities
    ``(V, s)`` with profiles ``(V, s, 4)``: where the quantity demanded (each demand times its
    share at the price) equals the quantity supplied (each capacity times one minus its share).
    Demand falls and supply rises with the price, so the price is found by bisection between a
    price at which every share is 1 and one at which every share is 0, to round-off; NaN where
    a profile's type has no shape."""
    demand, supply = np.maximum(demand, 0.0), np.maximum(supply, 0.0)
    sides = []
    for profiles in (demand_profiles, supply_profiles):
        kind = np.rint(profiles[..., 0])
        codes = np.unique(kind[np.isfinite(kind)])
        sides.append((kind, codes, profiles[..., 1], np.maximum(profiles[..., 2], 1e-12)))

    def quantities(price: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        (dkind, dcodes, dpriority, dwidth), (skind, scodes, spriority, swidth) = sides
        wanted = _profile_shares(dkind, dcodes, (price[:, None] - dpriority) / dwidth)
        offered = _profile_shares(skind, scodes, (price[:, None] - spriority) / swidth, supply=True)
        demanded: np.ndarray = (demand * wanted).sum(axis=1)
        supplied: np.ndarray = (supply * offered).sum(axis=1)
        return demanded, supplied

    low = np.minimum(
        (sides[0][2] - 40 * sides[0][3]).min(axis=1), (sides[1][2] - 40 * sides[1][3]).min(axis=1)
    )
    high = np.maximum(
        (sides[0][2] + 40 * sides[0][3]).max(axis=1), (sides[1][2] + 40 * sides[1][3]).max(axis=1)
    )
    for _ in range(64):  # 80 widths halved 64 times: below round-off of the priorities
        middle = 0.5 * (low + high)
        demanded, supplied = quantities(middle)
        short = demanded >= supplied  # where any price clears, the highest
        low, high = np.where(short, middle, low), np.where(short, high, middle)
    price = 0.5 * (low + high)
    demanded, supplied = quantities(price)
    result: np.ndarray = np.where(np.isnan(demanded) | np.isnan(supplied), np.nan, price)
    return result


def find_market_price(
    demand: Any,
    demand_profiles: Any,
    supply: Any,
    supply_profiles: Any,
    shape: tuple[int, ...],
    demanders: int,
    suppliers: int,
) -> Any:
    """Kernel helper of :class:`~pssc_sim.ir.dimensions.FindMarketPrice`: the price at which
    the quantity demanded equals the quantity supplied, for every element of an equation over
    ``shape`` (the demanders, suppliers and profile elements are the trailing axes of the
    arguments).

    >>> demand = np.array([[100.0], [100.0]])
    >>> rectangular = np.array([[[1.0], [10.0], [4.0], [0.0]], [[1.0], [10.0], [4.0], [0.0]]])
    >>> cheap = np.array([[[1.0], [6.0], [4.0], [0.0]]])
    >>> float(find_market_price(demand, rectangular, np.array([[200.0]]), cheap, (), 2, 1)[0])
    8.0
    """
    members = _members(demand, demand_profiles, supply, supply_profiles)
    k = len(shape)

    def flat(value: Any, trailing: tuple[int, ...]) -> np.ndarray:
        full = np.broadcast_to(np.asarray(value, dtype=float), (*shape, *trailing, members))
        return np.moveaxis(full, -1, k).reshape(-1, *trailing)

    price = _market_price(
        flat(demand, (demanders,)),
        flat(demand_profiles, (demanders, 4)),
        flat(supply, (suppliers,)),
        flat(supply_profiles, (suppliers, 4)),
    )
    return price.reshape(*shape, members)


def at_price(side: str, quantity: Any, profiles: Any, price: Any, shape: tuple[int, ...]) -> Any:
    """Kernel helper of :class:`~pssc_sim.ir.dimensions.AtPrice`: each quantity times its share
    at the price (``demand``: the share of its profile; ``supply``: one minus it), over the
    equation's axes ``shape[:-1]``; NaN where a profile's type has no shape.

    >>> profiles = np.array([[[1.0], [10.0], [4.0], [0.0]]])
    >>> at_price("demand", np.array([[100.0]]), profiles, 9.0, (1, 4))[:, 0].tolist()
    [75.0]
    >>> at_price("supply", np.array([[100.0]]), profiles, 9.0, (1, 4))[:, 0].tolist()
    [25.0]
    """
    members = _members(quantity, profiles, price)
    outer = shape[:-1]
    quantities = np.broadcast_to(np.asarray(quantity, dtype=float), (*outer, members))
    given = np.broadcast_to(np.asarray(profiles, dtype=float), (*shape, members))
    prices = np.broadcast_to(np.asarray(price, dtype=float), (*outer, members))
    kind = np.rint(given[..., 0, :])
    codes = np.unique(kind[np.isfinite(kind)])
    width = np.maximum(given[..., 2, :], 1e-12)
    shares = _profile_shares(
        kind, codes, (prices - given[..., 1, :]) / width, supply=side == "supply"
    )
    return np.maximum(quantities, 0.0) * shares
