"""Vensim's vector functions on arrays: VECTOR SORT ORDER, VECTOR RANK, VECTOR REORDER, VECTOR
ELM MAP and INVERT MATRIX, in YAML models and through the Vensim import, against numpy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import pssc_sim as ps

GRID = "time: {start: 0, stop: 2, dt: 1}\n"
REVENUE = [5000.0, 3000.0, 8000.0, 3000.0]


def final(res: ps.Results, name: str, elements: list[str]) -> np.ndarray:
    return np.array([res[f"{name}[{e}]"].to_numpy()[-1] for e in elements])


def stable_order(values: np.ndarray, ascending: bool) -> np.ndarray:
    return np.argsort(values if ascending else -values, kind="stable")


def test_sort_order_rank_and_reorder_along_the_last_dimension(make_model) -> None:
    model = make_model(
        GRID
        + """
dimensions:
  company: {elements: [c1, c2, c3, c4]}
parameters:
  revenue: {dims: [company], value: [5000, 3000, 8000, 3000]}
  direction: 1
auxiliaries:
  order: {dims: [company], equation: 'VECTOR_SORT_ORDER(revenue, direction)'}
  rank: {dims: [company], equation: 'VECTOR_RANK(revenue, direction)'}
  sorted: {dims: [company], equation: 'VECTOR_REORDER(revenue, order)'}
"""
    )
    companies = ["c1", "c2", "c3", "c4"]
    revenue = np.array(REVENUE)
    for direction in (1, -1):
        res = ps.simulate(model, {"direction": direction})
        order = stable_order(revenue, direction > 0)
        np.testing.assert_array_equal(final(res, "order", companies), order)
        np.testing.assert_array_equal(final(res, "sorted", companies), revenue[order])
        rank = np.empty(4)
        rank[order] = np.arange(1, 5)
        np.testing.assert_array_equal(final(res, "rank", companies), rank)
    # ties keep element order: the two 3000s rank 1 and 2 ascending, 3 and 4 descending
    assert final(ps.simulate(model), "rank", companies).tolist() == [3.0, 1.0, 4.0, 2.0]


def test_sorting_runs_member_by_member(make_model) -> None:
    model = make_model(
        GRID
        + """
dimensions:
  d: {elements: [a, b, c]}
parameters:
  x: {dims: [d], value: [1, 2, 3]}
  tilt: 0
auxiliaries:
  y: {dims: [d], equation: 'x * (1 - tilt) + (4 - x) * tilt'}
  order: {dims: [d], equation: 'VECTOR_SORT_ORDER(y, 1)'}
"""
    )
    res = ps.simulate(model, {"tilt": [0.0, 1.0]})
    table = np.stack([res[f"order[{e}]"].to_numpy()[-1] for e in "abc"])
    np.testing.assert_array_equal(table[:, 0], [0, 1, 2])
    np.testing.assert_array_equal(table[:, 1], [2, 1, 0])


def test_element_map_reads_a_position_and_is_nan_outside(make_model) -> None:
    model = make_model(
        GRID
        + """
dimensions:
  d: {elements: [a, b, c]}
parameters:
  x: {dims: [d], value: [10, 20, 40]}
  k: 2
auxiliaries:
  picked: 'VECTOR_ELM_MAP(x[d!], k)'
"""
    )
    for k, expected in ((0, 10.0), (1, 20.0), (2, 40.0)):
        assert ps.simulate(model, {"k": k})["picked"].to_numpy()[-1] == expected
    with pytest.raises(ps.SimulationError, match=r"picked: the value is not finite"):
        ps.simulate(model, {"k": 3})


def test_invert_matrix_gives_the_inverse_of_each_matrix(make_model) -> None:
    model = make_model(
        GRID
        + """
dimensions:
  c: {elements: [e, f]}
  row: {elements: [r1, r2]}
  col: {elements: [k1, k2]}
parameters:
  m: {dims: [c, row, col], value: [[[4, 7], [2, 6]], [[0.6, -0.7], [-0.2, 0.4]]]}
auxiliaries:
  inverse: {dims: [c, row, col], equation: 'INVERT_MATRIX(m)'}
"""
    )
    res = ps.simulate(model)
    given = np.array([[[4, 7], [2, 6]], [[0.6, -0.7], [-0.2, 0.4]]])
    for i, c in enumerate("ef"):
        got = np.array(
            [[res[f"inverse[{c},r{r},k{k}]"].to_numpy()[-1] for k in (1, 2)] for r in (1, 2)]
        )
        np.testing.assert_allclose(got @ given[i], np.eye(2), atol=1e-12)


def test_vector_functions_refuse_misuse(make_model) -> None:
    header = GRID + "dimensions: {d: {elements: [a, b, c]}}\n"
    with pytest.raises(
        ps.ModelError,
        match=r"VECTOR_RANK runs along the last dimension of the "
        r"variable \(got a variable without dims\)",
    ):
        make_model(
            header + "parameters: {x: {dims: [d], value: [1, 2, 3]}}\n"
            "auxiliaries: {r: 'VECTOR_RANK(x[a], 1)'}\n"
        )
    with pytest.raises(
        ps.ModelError,
        match=r"INVERT_MATRIX needs a variable whose last two dims "
        r"have as many elements \(got shape \(3,\)\)",
    ):
        make_model(
            header + "parameters: {x: {dims: [d], value: [1, 2, 3]}}\n"
            "auxiliaries: {r: {dims: [d], equation: 'INVERT_MATRIX(x)'}}\n"
        )
    with pytest.raises(ps.ModelError, match=r"VECTOR_ELM_MAP has no dimension to run along"):
        make_model(header + "parameters: {x: 1}\nauxiliaries: {r: 'VECTOR_ELM_MAP(x, 1)'}\n")


def test_imported_vector_functions_follow_vensim(tmp_path: Path) -> None:
    pytest.importorskip("pysd", reason="the vensim extra (PySD's translators) is not installed")
    text = """{UTF-8}
company: c1, c2, c3, c4 -> scompany ~~|
scompany: s1, s2, s3, s4 -> company ~~|
revenue[company] = 5000, 3000, 8000, 3000 ~~|
so[scompany] = VECTOR SORT ORDER(revenue[company], 1) ~~|
rank[company] = VECTOR RANK(revenue[company], -1) ~~|
sorted rev[scompany] = VECTOR REORDER(revenue[company], so[scompany]) ~~|
minrev = VECTOR ELM MAP(revenue[c1], so[s1]) ~~|
maxrev = VECTOR ELM MAP(revenue[c1], so[s4]) ~~|
previous[company] = IF THEN ELSE(company = c1, 0, VECTOR ELM MAP(revenue[company], -1)) ~~|
INITIAL TIME = 0 ~~|
FINAL TIME = 1 ~~|
TIME STEP = 1 ~~|
SAVEPER = 1 ~~|
"""
    path = tmp_path / "vectors.mdl"
    path.write_text(text, encoding="utf-8")
    res = ps.simulate(ps.load_model(path))
    revenue = np.array(REVENUE)
    order = stable_order(revenue, ascending=True)
    np.testing.assert_array_equal(final(res, "so", ["s1", "s2", "s3", "s4"]), order)
    np.testing.assert_array_equal(
        final(res, "sorted_rev", ["s1", "s2", "s3", "s4"]), np.sort(revenue)
    )
    rank = np.empty(4)
    rank[stable_order(revenue, ascending=False)] = np.arange(1, 5)
    np.testing.assert_array_equal(final(res, "rank", ["c1", "c2", "c3", "c4"]), rank)
    assert res["minrev"].to_numpy()[-1] == revenue.min()
    assert res["maxrev"].to_numpy()[-1] == revenue.max()
    np.testing.assert_array_equal(
        final(res, "previous", ["c1", "c2", "c3", "c4"]), [0.0, *revenue[:-1]]
    )


# -- ALLOCATE BY PRIORITY --------------------------------------------------------------------

ALLOCATION = (
    GRID
    + """
dimensions:
  branch: {elements: [boston, dayton, fresno, austin]}
parameters:
  request: {dims: [branch], value: [8, 1, 3, 4]}
  priority: {dims: [branch], value: [5, 3, 0, 1.5]}
  width: 3
  supply: 6
auxiliaries:
  shipped: {dims: [branch], equation: 'ALLOCATE_BY_PRIORITY(request, priority, width, supply)'}
"""
)
BRANCHES = ["boston", "dayton", "fresno", "austin"]


def allocation_by_bisection(
    request: np.ndarray, priority: np.ndarray, width: float, supply: float
) -> np.ndarray:
    """Each request filled along a ramp of ``width`` below its priority, at the level where the
    total is the supply, found by bisection."""

    def given(level: float) -> np.ndarray:
        return request * np.clip((priority - level) / width, 0, 1)

    if supply >= request.sum():
        return request
    low, high = priority.min() - width, priority.max()
    for _ in range(200):
        middle = (low + high) / 2
        low, high = (low, middle) if given(middle).sum() < supply else (middle, high)
    return given((low + high) / 2)


@pytest.mark.parametrize("supply", [0.0, 2.0, 6.0, 9.5, 12.0, 16.0, 40.0])
def test_allocation_by_priority_matches_the_ramps(make_model, supply: float) -> None:
    res = ps.simulate(make_model(ALLOCATION), {"supply": supply})
    shipped = final(res, "shipped", BRANCHES)
    expected = allocation_by_bisection(
        np.array([8.0, 1, 3, 4]), np.array([5.0, 3, 0, 1.5]), 3.0, supply
    )
    np.testing.assert_allclose(shipped, expected, atol=1e-9)
    # the laws: nothing above a request, nothing negative, the supply shared out in full
    assert np.all(shipped <= np.array([8.0, 1, 3, 4]) + 1e-12)
    assert np.all(shipped >= 0)
    assert shipped.sum() == pytest.approx(min(supply, 16.0), abs=1e-9)


def test_a_gap_wider_than_width_serves_the_higher_priority_first(make_model) -> None:
    res = ps.simulate(make_model(ALLOCATION), {"width": 1.0, "supply": [4.0, 8.5]})
    table = np.stack([res[f"shipped[{b}]"].to_numpy()[-1] for b in BRANCHES])
    np.testing.assert_allclose(table[:, 0], [4.0, 0, 0, 0], atol=1e-12)
    np.testing.assert_allclose(table[:, 1], [8.0, 0.5, 0, 0], atol=1e-12)


def test_imported_allocate_by_priority(tmp_path: Path) -> None:
    pytest.importorskip("pysd", reason="the vensim extra (PySD's translators) is not installed")
    text = """{UTF-8}
branch: boston, dayton, fresno, austin ~~|
request[branch] = 8, 1, 3, 4 ~~|
priority[branch] = 5, 3, 0, 1.5 ~~|
shipped[branch] = ALLOCATE BY PRIORITY(request[branch], priority[branch], ELMCOUNT(branch), 3,
    Time) ~~|
INITIAL TIME = 0 ~~|
FINAL TIME = 20 ~~|
TIME STEP = 1 ~~|
SAVEPER = 1 ~~|
"""
    path = tmp_path / "allocation.mdl"
    path.write_text(text, encoding="utf-8")
    res = ps.simulate(ps.load_model(path))
    for t in (0, 3, 7, 12, 20):
        got = np.array([res[f"shipped[{b}]"].to_numpy()[t] for b in BRANCHES])
        expected = allocation_by_bisection(
            np.array([8.0, 1, 3, 4]), np.array([5.0, 3, 0, 1.5]), 3.0, float(t)
        )
        np.testing.assert_allclose(got, expected, atol=1e-9)
