"""Vensim's ALLOCATE AVAILABLE: the supply shared among requesters along each one's priority
profile (rectangular, triangular, normal, exponential), at the one level where the shares sum to
the supply; checked against the curves written from Vensim's Allocation reference and the
SDXorg suite's Vensim output."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import pssc_sim as ps
from pssc_sim.conformance import compare_model

pytest.importorskip("pysd", reason="the vensim extra (PySD's translators) is not installed")

SUITE = Path(__file__).resolve().parents[2] / "shared" / "test-models" / "tests"


def load(tmp_path: Path, kind: int, supply: str, priorities: tuple[float, float]) -> ps.Model:
    text = f"""{{UTF-8}}
branch: boston, dayton ~~|
pprofile: ptype, ppriority, pwidth, pextra ~~|
request[branch] = 100, 100 ~~|
priority[boston, pprofile] = {kind}, {priorities[0]}, 2, 0 ~~|
priority[dayton, pprofile] = {kind}, {priorities[1]}, 2, 0 ~~|
supply = {supply} ~~|
shipped[branch] = ALLOCATE AVAILABLE(request[branch], priority[branch, ptype], supply) ~~|
INITIAL TIME = 0 ~~|
FINAL TIME = 10 ~~|
TIME STEP = 1 ~~|
SAVEPER = 1 ~~|
"""
    path = tmp_path / f"available{kind}.mdl"
    path.write_text(text, encoding="utf-8")
    return ps.load_model(path)


def shipped(res: ps.Results) -> np.ndarray:
    return np.stack([res[f"shipped[{b}]"].to_numpy() for b in ("boston", "dayton")])


# The share of a request at z widths above its priority: one minus the distribution function of
# each profile's shape.
SHARES = {
    1: lambda z: min(max(0.5 - z, 0.0), 1.0),
    2: lambda z: 1 - 2 * (z + 0.5) ** 2 if -0.5 < z < 0 else (2 * (0.5 - z) ** 2 if z < 0.5 else 0),
    3: lambda z: 0.5 * math.erfc(z / math.sqrt(2)),
    4: lambda z: 1 - 0.5 * math.exp(z) if z < 0 else 0.5 * math.exp(-z),
}


@pytest.mark.parametrize("kind", [1, 2, 3, 4])
def test_two_symmetric_requesters_meet_at_the_middle_priority(tmp_path: Path, kind: int) -> None:
    # equal requests at priorities 6 +- 0.5 and a supply of one request: by symmetry the level
    # is 6, a quarter width from each priority
    res = ps.simulate(load(tmp_path, kind, "100", (6.5, 5.5)))
    got = shipped(res)[:, -1]
    expected = [100 * SHARES[kind](-0.25), 100 * SHARES[kind](0.25)]
    np.testing.assert_allclose(got, expected, rtol=1e-9)


@pytest.mark.parametrize("kind", [1, 2, 3, 4])
def test_the_supply_is_shared_out_in_full_and_no_request_overfilled(
    tmp_path: Path, kind: int
) -> None:
    res = ps.simulate(load(tmp_path, kind, "25 * Time", (7, 5)))
    got = shipped(res)
    supply = 25 * np.arange(11.0)
    np.testing.assert_allclose(got.sum(axis=0), np.minimum(supply, 200), rtol=1e-9, atol=1e-9)
    assert np.all(got <= 100 + 1e-9)
    assert np.all(got[0] >= got[1] - 1e-9)  # the higher priority never receives less


def test_rectangular_profiles_give_the_linear_solution(tmp_path: Path) -> None:
    # Vensim's example: requests 500 and 300 at priorities 5 and 7, widths 2 and 4; with 400
    # available both are on their ramps, 500 (6 - x) / 2 + 300 (9 - x) / 4 = 400
    text = """{UTF-8}
branch: boston, dayton ~~|
pprofile: ptype, ppriority, pwidth, pextra ~~|
request[branch] = 500, 300 ~~|
priority[branch, pprofile] = 1, 5, 2, 0; 1, 7, 4, 0; ~~|
shipped[branch] = ALLOCATE AVAILABLE(request[branch], priority[branch, ptype], 400) ~~|
INITIAL TIME = 0 ~~|
FINAL TIME = 1 ~~|
TIME STEP = 1 ~~|
SAVEPER = 1 ~~|
"""
    path = tmp_path / "example.mdl"
    path.write_text(text, encoding="utf-8")
    level = (1500 + 675 - 400) / 325
    got = shipped(ps.simulate(ps.load_model(path)))[:, -1]
    np.testing.assert_allclose(got, [500 * (6 - level) / 2, 300 * (9 - level) / 4], rtol=1e-12)


def test_an_unknown_profile_type_is_not_finite(tmp_path: Path) -> None:
    with pytest.raises(ps.SimulationError, match="shipped"):
        ps.simulate(load(tmp_path, 5, "100", (6.5, 5.5)))


def test_profiles_not_at_their_first_element_are_refused(tmp_path: Path) -> None:
    text = """{UTF-8}
branch: boston, dayton ~~|
pprofile: ptype, ppriority, pwidth, pextra ~~|
request[branch] = 500, 300 ~~|
priority[branch, pprofile] = 1, 5, 2, 0; 1, 7, 4, 0; ~~|
shipped[branch] = ALLOCATE AVAILABLE(request[branch], priority[branch, ppriority], 400) ~~|
INITIAL TIME = 0 ~~|
FINAL TIME = 1 ~~|
TIME STEP = 1 ~~|
SAVEPER = 1 ~~|
"""
    path = tmp_path / "second.mdl"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(
        ps.ModelError,
        match=r"shipped: ALLOCATE AVAILABLE reads the priority profile from the first element "
        r"of its range \(got priority\[branch, ppriority\]\)\. Subscript the profiles by the "
        r"first element of pprofile",
    ):
        ps.load_model(path)


@pytest.mark.skipif(not SUITE.is_dir(), reason="the SDXorg test-models are not beside the tree")
def test_the_suites_model_follows_vensim_but_for_its_normal_profiles() -> None:
    folder = SUITE / "allocate_available"
    report = compare_model(folder / "test_allocate_available.mdl", [folder / "output.tab"])
    # Vensim's own solution is iterative: its allocations of the rectangular, triangular and
    # exponential profiles are within 1e-3 of the exact ones, its normal profile's tails
    # within 0.5%.
    outside = [s.name for s in report.series if s.loose > 1]
    assert all(name.startswith(("allocation3", "allocation mixed")) for name in outside)


def fixed_and(tmp_path: Path, other: int, supply: str) -> ps.Results:
    text = f"""{{UTF-8}}
branch: boston, dayton ~~|
pprofile: ptype, ppriority, pwidth, pextra ~~|
request[branch] = 100, 100 ~~|
priority[boston, pprofile] = 0, 1, 2, 0 ~~|
priority[dayton, pprofile] = {other}, 9, 2, 0 ~~|
supply = {supply} ~~|
shipped[branch] = ALLOCATE AVAILABLE(request[branch], priority[branch, ptype], supply) ~~|
INITIAL TIME = 0 ~~|
FINAL TIME = 6 ~~|
TIME STEP = 1 ~~|
SAVEPER = 1 ~~|
"""
    path = tmp_path / "fixed.mdl"
    path.write_text(text, encoding="utf-8")
    return ps.simulate(ps.load_model(path))


def test_fixed_quantities_short_of_supply_share_it_in_proportion(tmp_path: Path) -> None:
    # both fixed (type 0: the request at every priority): each gets half of a supply under 200
    got = shipped(fixed_and(tmp_path, 0, "40 * Time"))
    times = np.arange(7.0)
    np.testing.assert_allclose(got, np.minimum(100.0, 20.0 * times)[None, :].repeat(2, 0))


@pytest.mark.parametrize("kind", [1, 2, 3, 4])
def test_a_fixed_quantity_is_served_before_any_profile(tmp_path: Path, kind: int) -> None:
    got = shipped(fixed_and(tmp_path, kind, "40 * Time"))
    supply = 40.0 * np.arange(7.0)
    np.testing.assert_allclose(got[0], np.minimum(supply, 100.0), atol=1e-9)
    np.testing.assert_allclose(got[1], np.clip(supply - 100.0, 0.0, 100.0), atol=1e-9)
