"""Quantiles and means over members: the same numbers as numpy's, however the members are cut."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from pssc_sim import orderstats
from pssc_sim.orderstats import (
    MEAN_GROUP,
    count_at_most,
    float_keys,
    group_sums,
    key_floats,
    member_means,
    members_between,
    needed_ranks,
    order_statistics,
    quantiles_from_order_statistics,
    row_quantiles,
    sketch,
    sketch_brackets,
    sort_members,
    sorted_members,
)

#: Values as ensembles give them: spread, tied, of both signs and many magnitudes, signed zeros.
finite = st.one_of(
    st.floats(-1e300, 1e300, allow_nan=False, allow_subnormal=True),
    st.sampled_from([0.0, -0.0, 1.0, 2.0, 2.5]),
)
levels = st.lists(st.floats(0.0, 1.0), min_size=1, max_size=6)


@st.composite
def members(draw: st.DrawFn) -> np.ndarray:
    rows = draw(st.integers(1, 4))
    count = draw(st.integers(1, 700))
    return draw(arrays(np.float64, (rows, count), elements=finite))


@st.composite
def cuts(draw: st.DrawFn, count: int) -> list[int]:
    inner = draw(st.lists(st.integers(0, count), max_size=4))
    return sorted({0, count, *inner})


def blockwise(values: np.ndarray, bounds: list[int]) -> tuple[object, object]:
    """``counts_of`` and ``members_of`` over the blocks ``bounds`` cut ``values`` into."""
    pieces = [sorted_members(values[:, a:b]) for a, b in itertools.pairwise(bounds)]

    def counts_of(rows, pivots):  # type: ignore[no-untyped-def]
        return sum(count_at_most(p, rows, pivots) for p in pieces)

    def members_of(rows, lo, hi):  # type: ignore[no-untyped-def]
        found = [members_between(p, rows, lo, hi) for p in pieces]
        return [np.sort(np.concatenate(parts)) for parts in zip(*found, strict=True)]

    return counts_of, members_of


@settings(max_examples=150, deadline=None)
@given(values=members(), at=levels)
def test_row_quantiles_are_numpys(values: np.ndarray, at: list[float]) -> None:
    np.testing.assert_array_equal(row_quantiles(values, at), np.quantile(values, at, axis=1))


def test_a_row_holding_nan_has_nan_quantiles_as_in_numpy() -> None:
    values = np.array([[1.0, np.nan, 3.0], [1.0, 2.0, 3.0]])
    np.testing.assert_array_equal(
        row_quantiles(values, [0.2, 0.5]), np.quantile(values, [0.2, 0.5], axis=1)
    )


@settings(max_examples=150, deadline=None)
@given(data=st.data(), values=members(), at=levels, gathered=st.sampled_from([1, 50, 1 << 20]))
def test_order_statistics_found_in_blocks_give_numpys_quantiles(
    data: st.DataObject, values: np.ndarray, at: list[float], gathered: int
) -> None:
    count = values.shape[1]
    counts_of, members_of = blockwise(values, data.draw(cuts(count)))
    ranks = needed_ranks(count, at)
    old = orderstats.GATHERED
    orderstats.GATHERED = gathered  # a small limit makes the ranges narrow in many rounds
    try:
        found = order_statistics(count, ranks, values.min(1), values.max(1), counts_of, members_of)  # type: ignore[arg-type]
    finally:
        orderstats.GATHERED = old
    np.testing.assert_array_equal(found, np.sort(values, axis=1)[:, ranks])
    np.testing.assert_array_equal(
        quantiles_from_order_statistics(count, at, ranks, found),
        np.quantile(values, at, axis=1),
    )


def test_values_that_change_between_rounds_are_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    values = np.random.default_rng(0).normal(size=(1, 5000))
    counts_of, members_of = blockwise(values, [0, 5000])

    def fewer_counted(rows, pivots):  # type: ignore[no-untyped-def]
        return counts_of(rows, pivots) - 1  # type: ignore[operator]

    def fewer_found(rows, lo, hi):  # type: ignore[no-untyped-def]
        return [found[1:] for found in members_of(rows, lo, hi)]  # type: ignore[operator]

    low, high, ranks = values.min(1), values.max(1), np.array([10])
    with pytest.raises(RuntimeError, match="values changed"):
        order_statistics(5000, ranks, low, high, counts_of, fewer_found)  # type: ignore[arg-type]
    monkeypatch.setattr(orderstats, "GATHERED", 1)
    with pytest.raises(RuntimeError, match="values changed"):
        order_statistics(5000, ranks, low, high, fewer_counted, members_of)  # type: ignore[arg-type]


@settings(max_examples=100, deadline=None)
@given(values=members(), groups=st.lists(st.integers(1, 3), max_size=3))
def test_group_sums_of_aligned_blocks_are_those_of_the_whole(
    values: np.ndarray, groups: list[int]
) -> None:
    values = np.nan_to_num(values / 1e10)  # sums that stay finite
    count = values.shape[1]
    bounds = [0]
    for g in groups:
        bounds.append(min(count, bounds[-1] + g * MEAN_GROUP))
    bounds.append(count)
    parts = [group_sums(values[:, a:b]) for a, b in itertools.pairwise(bounds) if b > a]
    np.testing.assert_array_equal(np.concatenate(parts, axis=1), group_sums(values))
    np.testing.assert_allclose(member_means(values), values.mean(axis=1), rtol=1e-9, atol=1e-300)


@given(arrays(np.float64, st.integers(1, 50), elements=finite))
def test_keys_keep_the_order_of_the_values_and_give_them_back(values: np.ndarray) -> None:
    keys = float_keys(values)
    np.testing.assert_array_equal(key_floats(keys), values)
    order = np.argsort(keys, kind="stable")
    assert np.all(np.diff(values[order]) >= 0)
    # -0.0 sorts just below 0.0 by key, with nothing between them
    assert float_keys(np.array([-0.0]))[0] + 1 == float_keys(np.array([0.0]))[0]


@settings(max_examples=150, deadline=None)
@given(
    data=st.data(),
    values=members(),
    at=levels,
    points=st.integers(2, 12),
    gathered=st.sampled_from([1, 50, 1 << 20]),
)
def test_ranges_from_the_blocks_sketches_hold_the_order_statistics(
    data: st.DataObject, values: np.ndarray, at: list[float], points: int, gathered: int
) -> None:
    count = values.shape[1]
    bounds = data.draw(cuts(count))
    pieces = [sort_members(values[:, a:b].copy()) for a, b in itertools.pairwise(bounds)]
    sketches = [(*sketch(p, points)[:1], p.shape[1], sketch(p, points)[1]) for p in pieces]
    ranks = needed_ranks(count, at)
    low, high = sketch_brackets(ranks, sketches)
    truth = np.sort(values, axis=1)[:, ranks]
    keys = float_keys(truth.reshape(-1) + 0.0)
    assert ((low <= keys) & (keys <= high)).all()
    counts_of, members_of = blockwise(values, bounds)
    old = orderstats.GATHERED
    orderstats.GATHERED = gathered
    try:
        found = order_statistics(
            count,
            ranks,
            values.min(1),
            values.max(1),
            counts_of,  # type: ignore[arg-type]
            members_of,  # type: ignore[arg-type]
            (low, high),
        )
    finally:
        orderstats.GATHERED = old
    np.testing.assert_array_equal(found, truth)
    assert not (np.signbit(found) & (found == 0)).any()  # -0.0 members are found as 0.0


def test_a_range_from_sketches_that_misses_its_target_is_an_error() -> None:
    values = np.random.default_rng(0).normal(size=(1, 5000))
    counts_of, members_of = blockwise(values, [0, 5000])
    ranks = np.array([10])
    # a range above the target: the values cannot be those the sketches were made from
    low = float_keys(np.array([np.sort(values[0])[100]]))
    high = float_keys(values.max(1))
    with pytest.raises(RuntimeError, match="values changed"):
        order_statistics(
            5000,
            ranks,
            values.min(1),
            values.max(1),
            counts_of,  # type: ignore[arg-type]
            members_of,  # type: ignore[arg-type]
            (low, high),
        )


def test_one_round_of_counts_usually_follows_the_sketches() -> None:
    # members in no order across blocks, as sampled ensembles are: the sketches leave ranges
    # that one round of counts narrows to few enough members to bring together
    values = np.random.default_rng(2).lognormal(size=(20, 200_000))
    bounds = [0, 50_000, 100_000, 150_000, 200_000]
    pieces = [sort_members(values[:, a:b].copy()) for a, b in itertools.pairwise(bounds)]
    sketches = [(*sketch(p, 256)[:1], p.shape[1], sketch(p, 256)[1]) for p in pieces]
    ranks = needed_ranks(200_000, [0.05, 0.5, 0.95])
    counts_of, members_of = blockwise(values, bounds)
    calls: list[str] = []

    def counting(rows, pivots):  # type: ignore[no-untyped-def]
        calls.append("counts")
        return counts_of(rows, pivots)  # type: ignore[operator]

    def gathering(rows, lo, hi):  # type: ignore[no-untyped-def]
        calls.append("members")
        return members_of(rows, lo, hi)  # type: ignore[operator]

    within = sketch_brackets(ranks, sketches)
    found = order_statistics(
        200_000, ranks, values.min(1), values.max(1), counting, gathering, within
    )
    np.testing.assert_array_equal(found, np.sort(values, axis=1)[:, ranks])
    assert calls == ["counts", "members"]
