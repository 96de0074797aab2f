"""Vensim's FIND MARKET PRICE, DEMAND AT PRICE and SUPPLY AT PRICE: the price at which the
quantity demanded along the demanders' priority profiles equals the quantity supplied along the
suppliers' profiles (the curves of Vensim's Allocation reference), checked by the laws of a
market: it clears, demand falls and supply rises with the price, and by small cases worked by
hand."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import pssc_sim as ps

pytest.importorskip("pysd", reason="the vensim extra (PySD's translators) is not installed")

# The share of a quantity at z widths above its priority: one minus the distribution function
# of each profile's shape (rectangular, triangular, normal, exponential).
SHARES = {
    1: lambda z: min(max(0.5 - z, 0.0), 1.0),
    2: lambda z: (
        1.0 if z <= -0.5 else 1 - 2 * (z + 0.5) ** 2 if z < 0 else 2 * max(0.5 - z, 0) ** 2
    ),
    3: lambda z: 0.5 * math.erfc(z / math.sqrt(2)),
    4: lambda z: 1 - 0.5 * math.exp(z) if z < 0 else 0.5 * math.exp(-z),
}
WANTED = (500.0, 300.0)
DEMAND = ((5.0, 2.0), (7.0, 4.0))  # priority, width of each buyer
SUPPLY = ((1.0, 2.0), (3.0, 4.0), (5.0, 5.0))  # of each seller


def market(tmp_path: Path, kind: int, capacity: str = "200, 300, 450") -> Path:
    curves = "".join(
        f"demand curve[{b}, pprofile] = {kind}, {p}, {w}, 0 ~~|\n"
        for b, (p, w) in zip(("us", "them"), DEMAND, strict=True)
    ) + "".join(
        f"supply curve[{s}, pprofile] = {kind}, {p}, {w}, 0 ~~|\n"
        for s, (p, w) in zip(("s1", "s2", "s3"), SUPPLY, strict=True)
    )
    text = (
        "{UTF-8}\nbuyer: us, them ~~|\nseller: s1, s2, s3 ~~|\n"
        "pprofile: ptype, ppriority, pwidth, pextra ~~|\n"
        "wanted[buyer] = 500, 300 ~~|\n"
        f"capacity[seller] = {capacity} ~~|\n"
        "growth = 1 + 0.25 * Time ~~|\n"
        "demand now[buyer] = wanted[buyer] * growth ~~|\n"
        + curves
        + "price = FIND MARKET PRICE(demand now[us], demand curve[us, ptype], "
        "capacity[s1], supply curve[s1, ptype]) ~~|\n"
        "bought[buyer] = DEMAND AT PRICE(demand now[buyer], demand curve[buyer, ptype], "
        "price) ~~|\n"
        "sold[seller] = SUPPLY AT PRICE(capacity[seller], supply curve[seller, ptype], price) ~~|\n"
        "INITIAL TIME = 0 ~~|\nFINAL TIME = 8 ~~|\nTIME STEP = 1 ~~|\nSAVEPER = 1 ~~|\n"
    )
    path = tmp_path / f"market{kind}.mdl"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("kind", [1, 2, 3, 4])
def test_the_market_clears_at_the_price(tmp_path: Path, kind: int) -> None:
    res = ps.simulate(ps.load_model(market(tmp_path, kind)))
    price = res["price"].to_numpy()
    growth = 1 + 0.25 * np.asarray(res.times)
    capacity = (200.0, 300.0, 450.0)
    for t, p in enumerate(price):
        # the quantities at the price, from the curves written here
        demanded = sum(
            q * growth[t] * SHARES[kind]((p - pr) / w)
            for q, (pr, w) in zip(WANTED, DEMAND, strict=True)
        )
        supplied = sum(
            c * (1 - SHARES[kind]((p - pr) / w))
            for c, (pr, w) in zip(capacity, SUPPLY, strict=True)
        )
        assert demanded == pytest.approx(supplied, rel=1e-9)
        bought = sum(res[f"bought[{b}]"].to_numpy()[t] for b in ("us", "them"))
        sold = sum(res[f"sold[{s}]"].to_numpy()[t] for s in ("s1", "s2", "s3"))
        assert bought == pytest.approx(demanded, rel=1e-12)
        assert sold == pytest.approx(supplied, rel=1e-12)
    # demand grows over time against a fixed supply: the price rises
    assert (np.diff(price) > 0).all()


@pytest.mark.parametrize("kind", [1, 2, 3, 4])
def test_more_capacity_lowers_the_price(tmp_path: Path, kind: int) -> None:
    model = ps.load_model(market(tmp_path, kind))
    prices = ps.simulate(model, {"capacity[s3]": [100.0, 450.0, 900.0, 2000.0]})["price"]
    at_start = prices.to_numpy()[0]
    assert (np.diff(at_start) < 0).all()


def test_rectangular_curves_worked_by_hand(tmp_path: Path) -> None:
    # one buyer of 100 at 10 (width 4) and one seller of 50 at 6 (width 4): demand is
    # 100 (0.5 - (p - 10) / 4) and supply 50 (0.5 + (p - 6) / 4) between 8 and 12 and 4 and
    # 8; they meet where 100 (3 - p / 4) = 50: p = 10
    text = (
        "{UTF-8}\nb: b1 ~~|\ns: t1 ~~|\npprofile: ptype, ppriority, pwidth, pextra ~~|\n"
        "want[b] = 100 ~~|\nhave[s] = 50 ~~|\n"
        "dp[b1, pprofile] = 1, 10, 4, 0 ~~|\nsp[t1, pprofile] = 1, 6, 4, 0 ~~|\n"
        "price = FIND MARKET PRICE(want[b1], dp[b1, ptype], have[t1], sp[t1, ptype]) ~~|\n"
        "INITIAL TIME = 0 ~~|\nFINAL TIME = 1 ~~|\nTIME STEP = 1 ~~|\n"
    )
    path = tmp_path / "hand.mdl"
    path.write_text(text, encoding="utf-8")
    np.testing.assert_allclose(ps.simulate(ps.load_model(path))["price"].to_numpy(), 10.0)


def test_yaml_market_runs_on_numpy_and_is_refused_by_numba(make_model) -> None:
    model = make_model("""
time: {start: 0, stop: 2, dt: 1}
dimensions:
  buyer: [b1, b2]
  seller: [s1]
  pprofile: [ptype, ppriority, pwidth, pextra]
parameters:
  want: {dims: [buyer], value: [100, 100]}
  have: {dims: [seller], value: [200]}
  dp: {dims: [buyer, pprofile], value: [[1, 10, 4, 0], [1, 10, 4, 0]]}
  sp: {dims: [seller, pprofile], value: [[1, 6, 4, 0]]}
auxiliaries:
  price: FIND_MARKET_PRICE(want[buyer!], dp[buyer!, pprofile!], have[seller!],
    sp[seller!, pprofile!])
  got: {dims: [buyer], equation: 'DEMAND_AT_PRICE(want, dp[buyer, pprofile!], price)'}
""")
    res = ps.simulate(model, backend="auto")
    # supply is full from 8 and demand is full up to 8: they meet at 8
    np.testing.assert_allclose(res["price"].to_numpy(), 8.0)
    np.testing.assert_allclose(res["got[b1]"].to_numpy(), 100.0)
    with pytest.raises(
        ps.ParameterError,
        match=r"the numba back end cannot run this \(got backend='numba': an equation uses "
        r"(FIND MARKET PRICE|DEMAND AT PRICE or SUPPLY AT PRICE), which runs on arrays only\)",
    ):
        ps.simulate(model, backend="numba")


@pytest.mark.parametrize(
    ("equation", "message"),
    [
        (
            "price = FIND MARKET PRICE(want[b1], dp[b1, ptype], have[t1]) ~~|\n",
            r"price: FIND MARKET PRICE takes 4 arguments \(got 3\)",
        ),
        (
            "price = FIND MARKET PRICE(want[b2], dp[b1, ptype], have[t1], sp[t1, ptype]) ~~|\n",
            r"price: FIND MARKET PRICE reads whole ranges from their first element \(got "
            r"want\[b2\]\)",
        ),
        (
            "price = FIND MARKET PRICE(want[b1] * 2, dp[b1, ptype], have[t1], sp[t1, ptype]) ~~|\n",
            r"price: FIND MARKET PRICE takes subscripted variables passed at the first element "
            r"of each range it runs over \(got an expression\)",
        ),
        (
            "got[b] = DEMAND AT PRICE(want[b], dp[b, ppriority], 3) ~~|\n",
            r"got: DEMAND AT PRICE reads whole ranges from their first element",
        ),
    ],
)
def test_market_calls_that_cannot_be_read_are_refused(
    tmp_path: Path, equation: str, message: str
) -> None:
    text = (
        "{UTF-8}\nb: b1, b2 ~~|\ns: t1 ~~|\npprofile: ptype, ppriority, pwidth, pextra ~~|\n"
        "want[b] = 100 ~~|\nhave[s] = 50 ~~|\n"
        "dp[b1, pprofile] = 1, 10, 4, 0 ~~|\ndp[b2, pprofile] = 1, 9, 4, 0 ~~|\n"
        "sp[t1, pprofile] = 1, 6, 4, 0 ~~|\n"
        + equation
        + "INITIAL TIME = 0 ~~|\nFINAL TIME = 1 ~~|\nTIME STEP = 1 ~~|\n"
    )
    path = tmp_path / "bad.mdl"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ps.ModelError, match=message):
        ps.load_model(path)


def test_a_fixed_quantity_is_bought_or_sold_whole_at_any_price(tmp_path: Path) -> None:
    # a seller of a fixed 50 (type 0) against the buyer of the case above: the buyer's curve
    # alone clears the market, at 100 (0.5 - (p - 10) / 4) = 50, p = 10
    text = (
        "{UTF-8}\nb: b1 ~~|\ns: t1 ~~|\npprofile: ptype, ppriority, pwidth, pextra ~~|\n"
        "want[b] = 100 ~~|\nhave[s] = 50 ~~|\n"
        "dp[b1, pprofile] = 1, 10, 4, 0 ~~|\nsp[t1, pprofile] = 0, 6, 4, 0 ~~|\n"
        "price = FIND MARKET PRICE(want[b1], dp[b1, ptype], have[t1], sp[t1, ptype]) ~~|\n"
        "sold[s] = SUPPLY AT PRICE(have[s], sp[s, ptype], price + Time) ~~|\n"
        "fixed bought[b] = DEMAND AT PRICE(want[b], sp[t1, ptype], price + Time) ~~|\n"
        "INITIAL TIME = 0 ~~|\nFINAL TIME = 3 ~~|\nTIME STEP = 1 ~~|\n"
    )
    path = tmp_path / "fixed.mdl"
    path.write_text(text, encoding="utf-8")
    res = ps.simulate(ps.load_model(path))
    np.testing.assert_allclose(res["price"].to_numpy(), 10.0)
    np.testing.assert_allclose(res["sold[t1]"].to_numpy(), 50.0)
    np.testing.assert_allclose(res["fixed_bought[b1]"].to_numpy(), 100.0)
