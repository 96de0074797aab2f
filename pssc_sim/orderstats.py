"""Quantiles and means over members that come out the same however the members are cut.

An ensemble's spread is reported as quantiles and a mean across members. One process has every
member in one array; a cluster has them in blocks on its workers. Both compute the numbers
here, so they agree to the last bit:

- the **quantiles** are numpy's default ("linear", Hyndman and Fan's 7th) from the two order
  statistics around each level (:func:`quantile_positions`, :func:`interpolate`); one process
  finds those order statistics by sorting, a cluster by narrowing a range of values around
  each one, with counts from every block's sorted members (:func:`count_at_most`), until few
  enough members are left in it to bring together (:func:`members_between`), so that no block
  of members leaves its worker (:func:`order_statistics`);
- the **mean** is a sum of partial sums over aligned groups of :data:`MEAN_GROUP` members
  (:func:`group_sums`): a cut into blocks that start at multiples of the group gives the same
  partial sums, so the same total.

To narrow a range, it is cut into bins of equal width in the integers that float64 values map
to in the same order (:func:`float_keys`): a few rounds whatever the spread of the values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

#: Members per partial sum of a mean (:func:`group_sums`).
MEAN_GROUP = 256

_MAGNITUDE = np.int64(0x7FFF_FFFF_FFFF_FFFF)


def quantile_positions(
    members: int, levels: Sequence[float] | np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For ``members`` sorted values, the order statistics below and above each level (0-based
    ranks) and the weight of the upper one, as :func:`numpy.quantile` computes them.

    >>> below, above, weight = quantile_positions(5, [0.0, 0.3, 1.0])
    >>> below.tolist(), above.tolist(), weight.round(6).tolist()
    ([0, 1, 4], [1, 2, 4], [0.0, 0.2, 0.0])
    """
    levels = np.asarray(levels, dtype=float)
    virtual = (members - 1) * levels
    below = np.floor(virtual)
    above = below + 1
    top = virtual >= members - 1
    below[top] = members - 1
    above[top] = members - 1
    below[virtual < 0] = 0
    above[virtual < 0] = 0
    # at the top both order statistics are the last, so the weight does not matter
    weight = np.where(top, 0.0, virtual - below)
    return below.astype(np.int64), above.astype(np.int64), weight


def interpolate(lower: np.ndarray, upper: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Linear interpolation between order statistics, with numpy's rounding: from the lower one
    for weights under a half, from the upper one from a half on.

    >>> interpolate(np.array([1.0]), np.array([3.0]), np.array([0.25])).tolist()
    [1.5]
    """
    step = upper - lower
    out = np.asarray(lower + step * weight)
    np.subtract(
        upper, step * (1 - weight), out=out, where=np.broadcast_to(weight >= 0.5, out.shape)
    )
    return out


def row_quantiles(rows: np.ndarray, levels: Sequence[float] | np.ndarray) -> np.ndarray:
    """Quantiles of each row of ``rows`` (rows x members): ``(len(levels), rows)``, equal to
    ``np.quantile(rows, levels, axis=1)`` (a row holding NaN gives NaN), computed on a sorted
    copy.

    >>> rows = np.array([[3.0, 1.0, 2.0, 4.0], [0.0, 8.0, 4.0, 2.0]])
    >>> np.array_equal(row_quantiles(rows, [0.1, 0.5]), np.quantile(rows, [0.1, 0.5], axis=1))
    True
    """
    below, above, weight = quantile_positions(rows.shape[1], levels)
    work = np.sort(rows, axis=1)  # numpy's vectorised sort beats its partition here
    out = interpolate(work[:, below].T, work[:, above].T, weight[:, None])
    out[:, np.isnan(work[:, -1])] = np.nan
    return out


def group_sums(values: np.ndarray) -> np.ndarray:
    """Sums over aligned groups of :data:`MEAN_GROUP` members on the last axis (the last group
    may be shorter): ``(..., groups)``. Blocks of members that start at multiples of the group
    give, side by side, the same sums as the whole.

    >>> x = np.random.default_rng(0).normal(size=(2, 1000))
    >>> whole = group_sums(x)
    >>> parts = np.concatenate([group_sums(x[:, :512]), group_sums(x[:, 512:])], axis=1)
    >>> np.array_equal(whole, parts), whole.shape
    (True, (2, 4))
    """
    members = values.shape[-1]
    full = members // MEAN_GROUP * MEAN_GROUP
    lead = values.shape[:-1]
    parts = [
        np.ascontiguousarray(values[..., :full])
        .reshape(*lead, full // MEAN_GROUP, MEAN_GROUP)
        .sum(axis=-1)
    ]
    if full < members:
        parts.append(np.ascontiguousarray(values[..., full:]).sum(axis=-1, keepdims=True))
    return np.concatenate(parts, axis=-1)


def member_means(values: np.ndarray) -> np.ndarray:
    """The mean over the last axis, from :func:`group_sums`.

    >>> member_means(np.array([[1.0, 2.0, 6.0]])).tolist()
    [3.0]
    """
    means: np.ndarray = group_sums(values).sum(axis=-1) / values.shape[-1]
    return means


def float_keys(values: np.ndarray) -> np.ndarray:
    """Integers (int64) in the order of the float64 ``values`` (``-0.0`` just below ``0.0``).

    >>> x = np.array([-np.inf, -2.0, -0.0, 0.0, 1e-300, 3.0, np.inf])
    >>> keys = float_keys(x)
    >>> bool(np.all(np.diff(keys) > 0)), np.array_equal(key_floats(keys), x)
    (True, True)
    """
    bits = np.ascontiguousarray(values, dtype=np.float64).view(np.int64)
    return np.where(bits < 0, bits ^ _MAGNITUDE, bits)


def key_floats(keys: np.ndarray) -> np.ndarray:
    """The float64 values of :func:`float_keys`."""
    keys = np.asarray(keys, dtype=np.int64)
    return np.where(keys < 0, keys ^ _MAGNITUDE, keys).view(np.float64)


def sorted_members(rows: np.ndarray) -> np.ndarray:
    """Each row's members sorted (a copy; :func:`sort_members` sorts in place)."""
    return sort_members(np.array(rows, dtype=np.float64, order="C"))


def sort_members(rows: np.ndarray) -> np.ndarray:
    """Sort each row's members in place and return ``rows``: one pass over rows that are in
    cache one at a time, no copy. ``-0.0`` and ``0.0`` compare equal, so they may be mixed in
    a sorted row; :func:`count_at_most` and :func:`members_between` treat ``-0.0`` as ``0.0``
    (the order of the keys, :func:`float_keys`, of the values with ``+ 0.0``).

    >>> sort_members(np.array([[3.0, -1.0, 2.0]])).tolist()
    [[-1.0, 2.0, 3.0]]
    """
    rows.sort(axis=1)
    return rows


#: Members per row of a block's sketch (:func:`sketch`) at most, and the sketches' numbers over
#: all blocks and rows at most (2 MiB).
SKETCH_POINTS, SKETCH_TOTAL = 256, 1 << 18


def sketch_points(rows: int, blocks: int) -> int:
    """How many members of each row a block puts in its sketch: :data:`SKETCH_POINTS`, fewer
    when the blocks' sketches would hold more than :data:`SKETCH_TOTAL` numbers (at least 2: the
    smallest and largest).

    >>> sketch_points(61, 8), sketch_points(10_000, 400)
    (256, 2)
    """
    return int(max(2, min(SKETCH_POINTS, SKETCH_TOTAL // max(1, rows * blocks))))


def sketch(ordered: np.ndarray, points: int) -> tuple[np.ndarray, np.ndarray]:
    """A block's sketch of its rows of sorted members ``ordered``: the members at ``points``
    ranks spread evenly from the first to the last (0-based, distinct), and their keys
    (:func:`float_keys`, rows x ranks). Its first and last columns are each row's smallest and
    largest value.

    >>> ranks, keys = sketch(sort_members(np.array([[4.0, 0.0, 2.0, 1.0, 3.0]])), 3)
    >>> ranks.tolist(), key_floats(keys).tolist()
    ([0, 2, 4], [[0.0, 2.0, 4.0]])
    """
    count = ordered.shape[1]
    ranks = np.unique(np.linspace(0, count - 1, max(2, points)).round().astype(np.int64))
    return ranks, float_keys(ordered[:, ranks] + 0.0)


#: A block's sketch: its local ranks, its number of members and its keys (rows x ranks).
Sketch = tuple[np.ndarray, int, np.ndarray]


def sketch_brackets(ranks: np.ndarray, sketches: Sequence[Sketch]) -> tuple[np.ndarray, ...]:
    """From the blocks' sketches (:func:`sketch`), a range of keys ``(low, high)`` for each
    target (every row, then every rank of ``ranks``, 0-based over all members) that holds its
    order statistic: as :func:`order_statistics` takes them in ``within``.

    A sketch bounds how many of a block's members lie at most a value: at least one more than
    the rank of its last point at most the value, at most the rank of its first point above it.
    Added over the blocks, the bounds give the last value known to have at most ``rank``
    members at most it (the target lies above it) and the first known to have more (the target
    lies at most it).

    >>> x = np.arange(100.0)[None, :]
    >>> parts = [sort_members(x[:, :50].copy()), sort_members(x[:, 50:].copy())]
    >>> sketches = [(*sketch(p, 6)[:1], 50, sketch(p, 6)[1]) for p in parts]
    >>> low, high = sketch_brackets(np.array([30]), sketches)
    >>> bool(key_floats(low)[0] <= 30.0 <= key_floats(high)[0])
    True
    """
    members = sum(count for _, count, _ in sketches)
    keys = np.concatenate([k for _, _, k in sketches], axis=1)
    # how the bounds grow past each point: the lower by its rank less the last point's, the
    # upper by the next point's rank (the block's count after its last) less its own
    lower = np.concatenate([np.diff(r, prepend=-1) for r, _, _ in sketches])
    upper = np.concatenate([np.diff(r, append=count) for r, count, _ in sketches])
    order = np.argsort(keys, axis=1, kind="stable")
    ordered = np.take_along_axis(keys, order, axis=1)
    at_least = np.cumsum(lower[order], axis=1)
    at_most = np.cumsum(upper[order], axis=1)
    # a value shared by several points has every one of them at most it: the upper bound of
    # a tie is its last point's
    last = np.ones(ordered.shape, dtype=bool)
    last[:, :-1] = ordered[:, 1:] != ordered[:, :-1]
    big = np.iinfo(np.int64).max
    at_most = np.minimum.accumulate(np.where(last, at_most, big)[:, ::-1], axis=1)[:, ::-1]
    n_rows, width = ordered.shape
    row = np.repeat(np.arange(n_rows, dtype=np.int64), len(ranks))
    rank = np.tile(np.asarray(ranks, dtype=np.int64), n_rows)
    # the rows' bounds one after the other in one increasing array (each at most members)
    shift = np.arange(n_rows, dtype=np.int64)[:, None] * (members + 1)
    target = row * (members + 1) + rank
    flat = ordered.ravel()
    high = flat[np.searchsorted((at_least + shift).ravel(), target + 1)]
    last_below = np.searchsorted((at_most + shift).ravel(), target, "right") - 1
    # none in the row: the target is at least the row's smallest value
    first = ordered[row, 0]
    low = np.where(last_below < row * width, first, flat[np.maximum(last_below, 0)] + 1)
    return low, high


def count_at_most(ordered: np.ndarray, rows: np.ndarray, pivots: np.ndarray) -> np.ndarray:
    """How many members of row ``rows[i]`` of ``ordered`` (rows of sorted members, from
    :func:`sorted_members`) are at most the key ``pivots[i, j]``: ``pivots.shape`` counts.

    >>> ordered = sorted_members(np.array([[3.0, -1.0, 0.0, 2.0]]))
    >>> count_at_most(ordered, np.array([0]), float_keys(np.array([[-2.0, -0.0, 0.0, 2.5]])))
    array([[0, 1, 2, 3]])
    """
    # keys of -0.0 and below zero: members below 0.0 (no member is -0.0 here)
    at = key_floats(np.where(pivots == -1, -2, pivots))
    counts = np.empty(pivots.shape, dtype=np.int64)
    for row in np.unique(rows):
        mine = rows == row
        counts[mine] = np.searchsorted(ordered[row], at[mine], side="right")
    return counts


def members_between(
    ordered: np.ndarray, rows: np.ndarray, low: np.ndarray, high: np.ndarray
) -> list[np.ndarray]:
    """The sorted members of row ``rows[i]`` of ``ordered`` whose keys lie from ``low[i]`` to
    ``high[i]``, one array each.

    >>> ordered = sorted_members(np.array([[0.5, 2.5, 1.5, 3.5]]))
    >>> low, high = float_keys(np.array([1.0])), float_keys(np.array([3.0]))
    >>> members_between(ordered, np.array([0]), low, high)
    [array([1.5, 2.5])]
    """
    first = count_at_most(ordered, rows, (low - 1)[:, None])[:, 0]
    last = count_at_most(ordered, rows, high[:, None])[:, 0]
    return [ordered[r, a:b] + 0.0 for r, a, b in zip(rows, first, last, strict=True)]


#: Counts of one round, over all targets, at most.
ROUND_COUNTS = 1 << 16
#: Pivots per target and round: at most 2**10, at least 2**4.
MOST_PIVOT_BITS, LEAST_PIVOT_BITS = 10, 4
#: Members brought together at the end, over all targets, at most (2 MiB).
GATHERED = 1 << 18

#: ``(rows, pivots)`` -> counts of members at most each pivot, summed over every block (see
#: :func:`count_at_most`).
CountsOf = Callable[[np.ndarray, np.ndarray], np.ndarray]
#: ``(rows, low, high)`` -> each bracket's members, sorted, over every block (see
#: :func:`members_between`).
MembersOf = Callable[[np.ndarray, np.ndarray, np.ndarray], list[np.ndarray]]


def order_statistics(
    members: int,
    ranks: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    counts_of: CountsOf,
    members_of: MembersOf,
    within: tuple[np.ndarray, ...] | None = None,
) -> np.ndarray:
    """The order statistics ``ranks`` (0-based) of every row of values that only ``counts_of``
    and ``members_of`` see, in rounds: ``(rows, len(ranks))``.

    ``low`` and ``high`` are each row's smallest and largest value. A target (a row and a
    rank) starts with the range of keys (:func:`float_keys`) from its row's smallest to its
    largest value; each round cuts the ranges still holding many members into bins of equal
    width, counts the members up to the end of each bin, and keeps the bin that holds the
    target. A range of one key is the answer; a range of few members (all targets' together at
    most :data:`GATHERED`) has its members brought together. Every round's counts are checked
    against what the last round found, so values that change between rounds are an error, not
    a wrong answer.

    ``within`` is a narrower range of keys for each target (every row, then every rank) known to
    hold it, such as :func:`sketch_brackets` gives; how many members lie below and in it is then
    unknown until the first round counts them.

    >>> x = np.random.default_rng(1).lognormal(size=(3, 1000))
    >>> ordered = sorted_members(x)
    >>> def counts_of(rows, pivots):
    ...     return count_at_most(ordered, rows, pivots)
    >>> def members_of(rows, low, high):
    ...     return members_between(ordered, rows, low, high)
    >>> ranks = np.array([0, 499, 500, 999])
    >>> found = order_statistics(1000, ranks, x.min(1), x.max(1), counts_of, members_of)
    >>> np.array_equal(found, np.sort(x, axis=1)[:, ranks])
    True
    """
    n_rows = len(low)
    row = np.repeat(np.arange(n_rows, dtype=np.int64), len(ranks))
    rank = np.tile(np.asarray(ranks, dtype=np.int64), n_rows)
    lo = float_keys(np.asarray(low, dtype=float) + 0.0)[row]
    hi = float_keys(np.asarray(high, dtype=float) + 0.0)[row]
    below = np.zeros(len(row), dtype=np.int64)
    count = np.full(len(row), members, dtype=np.int64)
    # whether ``below`` and ``count`` are known: the whole row's are
    known = np.ones(len(row), dtype=bool)
    if within is not None:
        lo, hi = (np.array(keys, dtype=np.int64) for keys in within)
        known[:] = lo == hi  # a range of one key is the answer, counted or not
    limit = max(64, GATHERED // max(1, len(row)))
    while True:
        narrow = np.flatnonzero((lo != hi) & ((count > limit) | ~known))
        if not len(narrow):
            break
        bits = int(np.log2(max(1, ROUND_COUNTS // len(narrow))))
        bits = min(MOST_PIVOT_BITS, max(LEAST_PIVOT_BITS, bits))
        start, stop = lo[narrow], hi[narrow]
        # widths and bin ends in unsigned arithmetic: a range may span more than int64 holds
        width = stop.view(np.uint64) - start.view(np.uint64)
        shift = np.array([max(0, int(w).bit_length() - bits) for w in width], dtype=np.uint64)
        steps = np.arange(1, (1 << bits) + 1, dtype=np.uint64)[None, :] << shift[:, None]
        ends = np.minimum(steps - np.uint64(1), width[:, None])
        pivots = np.concatenate(
            [(start - 1)[:, None], (start.view(np.uint64)[:, None] + ends).view(np.int64)], axis=1
        )
        at_most = np.asarray(counts_of(row[narrow], pivots), dtype=np.int64)
        was = known[narrow]
        if not (
            np.array_equal(at_most[was, 0], below[narrow][was])
            and np.array_equal(at_most[was, -1], (below + count)[narrow][was])
            # a range not counted before must hold its target
            and (at_most[~was, 0] <= rank[narrow][~was]).all()
            and (at_most[~was, -1] > rank[narrow][~was]).all()
        ):
            raise RuntimeError("the members' values changed while their quantiles were taken")
        known[narrow] = True
        # the first bin whose end has more members at most it than the target's rank
        j = np.argmax(at_most[:, 1:] > rank[narrow, None], axis=1)
        lo[narrow] = np.where(j == 0, start, pivots[np.arange(len(narrow)), j] + 1)
        hi[narrow] = pivots[np.arange(len(narrow)), j + 1]
        below[narrow] = at_most[np.arange(len(narrow)), j]
        count[narrow] = at_most[np.arange(len(narrow)), j + 1] - below[narrow]
    found = key_floats(lo)
    gather = np.flatnonzero(lo != hi)
    if len(gather):
        stacked = np.stack([row[gather], lo[gather], hi[gather]], axis=1)
        unique, which = np.unique(stacked, axis=0, return_inverse=True)
        inside = members_of(unique[:, 0], unique[:, 1], unique[:, 2])
        held = np.array([len(block) for block in inside], dtype=np.int64)
        if not np.array_equal(held[which.reshape(-1)], count[gather]):
            raise RuntimeError("the members' values changed while their quantiles were taken")
        for i, target in enumerate(gather):
            found[target] = inside[which.reshape(-1)[i]][rank[target] - below[target]]
    return found.reshape(n_rows, len(ranks))


def quantiles_from_order_statistics(
    members: int, levels: Sequence[float] | np.ndarray, ranks: np.ndarray, found: np.ndarray
) -> np.ndarray:
    """Quantiles ``(len(levels), rows)`` from the order statistics ``found`` (rows x ranks) at
    ``ranks`` (those :func:`needed_ranks` gives)."""
    below, above, weight = quantile_positions(members, levels)
    at = {int(r): i for i, r in enumerate(ranks)}
    lower = found[:, [at[int(r)] for r in below]].T
    upper = found[:, [at[int(r)] for r in above]].T
    return interpolate(lower, upper, weight[:, None])


def needed_ranks(members: int, levels: Sequence[float] | np.ndarray) -> np.ndarray:
    """The sorted distinct order statistics the quantiles at ``levels`` and the median
    (:func:`median_ranks`) are made from."""
    below, above, _ = quantile_positions(members, levels)
    return np.unique(np.concatenate([below, above, median_ranks(members)]))


def median_ranks(members: int) -> np.ndarray:
    """The order statistics (0-based) :func:`numpy.median` takes the mean of: the middle one,
    or the two middle ones of an even number of members.

    >>> median_ranks(5).tolist(), median_ranks(6).tolist()
    ([2], [2, 3])
    """
    return np.unique(np.array([(members - 1) // 2, members // 2], dtype=np.int64))


def medians_from_order_statistics(
    members: int, ranks: np.ndarray, found: np.ndarray, largest: np.ndarray
) -> np.ndarray:
    """Each row's :func:`numpy.median`, to the last bit, from the order statistics ``found``
    (rows x ranks) at ``ranks`` (holding :func:`median_ranks`) and each row's ``largest``
    value (a row holding NaN has a NaN median, as numpy gives).

    >>> x = np.random.default_rng(2).normal(size=(3, 10))
    >>> ranks = median_ranks(10)
    >>> found = np.sort(x, axis=1)[:, ranks]
    >>> np.array_equal(medians_from_order_statistics(10, ranks, found, x.max(1)),
    ...                np.median(x, axis=1))
    True
    """
    at = {int(r): i for i, r in enumerate(ranks)}
    middle = found[:, [at[int(r)] for r in median_ranks(members)]]
    # numpy's own mean of the middle members, as numpy.median takes it
    medians: np.ndarray = np.median(middle, axis=1)
    medians[np.isnan(largest)] = np.nan
    return medians
