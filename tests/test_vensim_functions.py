"""Vensim functions beyond the core set: GAMMA LN, NPV, LOOKUP FORWARD and LOOKUP BACKWARD, in
YAML models and through the Vensim import, checked against values derived here directly."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import pssc_sim as ps

pytest.importorskip("pysd", reason="the vensim extra (PySD's translators) is not installed")

CONTROL = """
INITIAL TIME = 0 ~~|
FINAL TIME = 8 ~~|
TIME STEP = 0.5 ~~|
SAVEPER = TIME STEP ~~|
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def npv_by_sum(
    stream: np.ndarray, rate: float, dt: float, initial: float, factor: float
) -> np.ndarray:
    """Vensim's NPV as a sum: each step's stream x dt, discounted by (1 + r dt) per step."""
    discount = (1 + rate * dt) ** -np.arange(len(stream))
    return (initial + np.cumsum(stream * dt * discount)) * factor


def test_gamma_ln_is_the_log_gamma_function_for_every_member(make_model) -> None:
    model = make_model("""
time: {start: 0, stop: 4, dt: 0.5}
parameters: {x0: 0.5}
auxiliaries:
  value: GAMMA_LN(x0 + TIME)
""")
    t = np.arange(0, 4.5, 0.5)
    for x0 in (0.5, [0.25, 3.0, 7.5]):
        values = ps.simulate(model, {"x0": x0})["value"].to_numpy()
        starts = np.atleast_1d(x0)
        expected = np.array([[math.lgamma(s + ti) for s in starts] for ti in t])
        np.testing.assert_allclose(values.reshape(expected.shape), expected, rtol=1e-13)


def test_gamma_ln_in_a_rate_runs_under_an_implicit_method(make_model) -> None:
    # bdf differentiates the rate: d/dx GAMMA_LN(x) is the digamma function
    model = make_model("""
time: {start: 0, stop: 2, dt: 0.01}
stocks: {s: {initial: 3}}
flows: {grow: {rate: 0.1 * GAMMA_LN(s), to: s}}
""")
    fine = ps.simulate(model, method="rk4")["s"].to_numpy()
    implicit = ps.simulate(model, method="bdf", rtol=1e-9, atol=1e-12)["s"].to_numpy()
    np.testing.assert_allclose(implicit, fine, rtol=1e-7)
    assert fine[-1] > 3  # lgamma(3) = ln 2 > 0: the stock grows


def test_npv_discounts_each_step_like_the_sum(make_model) -> None:
    model = make_model("""
time: {start: 0, stop: 5, dt: 0.25}
parameters: {r: 0.1}
auxiliaries:
  stream: 10 + 2 * TIME
  value: NPV(stream, r, 3, 1.5)
""")
    t = np.arange(0, 5.25, 0.25)
    for rate in (0.1, [0.0, 0.05, 0.3]):
        values = ps.simulate(model, {"r": rate})["value"].to_numpy().reshape(len(t), -1)
        for k, r in enumerate(np.atleast_1d(rate)):
            expected = npv_by_sum(10 + 2 * t, float(r), 0.25, 3, 1.5)
            np.testing.assert_allclose(values[:, k], expected, rtol=1e-12)


def test_imported_npv_and_gamma_ln(tmp_path: Path) -> None:
    text = (
        "cash = 100 - 5 * Time ~~|\nrate = 0.08 ~~|\n"
        "value = NPV(cash, rate, 0, 1) ~~|\nlg = GAMMA LN(1 + Time) ~~|\n" + CONTROL
    )
    res = ps.simulate(ps.load_model(write(tmp_path, "npv.mdl", text)))
    t = np.arange(0, 8.5, 0.5)
    np.testing.assert_allclose(
        res["value"].to_numpy(), npv_by_sum(100 - 5 * t, 0.08, 0.5, 0, 1), rtol=1e-12
    )
    np.testing.assert_allclose(
        res["lg"].to_numpy(), [math.lgamma(1 + x) for x in t], rtol=1e-12, atol=1e-15
    )


def test_lookup_forward_and_backward_step_between_points(tmp_path: Path) -> None:
    # Vensim's reference examples on LOOK((0,1),(1,1),(2,2)) at -1, 1.5 and 2.5, and the points
    text = (
        "LOOK((0,1),(1,1),(2,2)) ~~|\ninput = Time - 1.5 ~~|\n"
        "forward = LOOKUP FORWARD(LOOK, input) ~~|\n"
        "backward = LOOKUP BACKWARD(LOOK, input) ~~|\n" + CONTROL
    )
    res = ps.simulate(ps.load_model(write(tmp_path, "look.mdl", text)))
    xs, ys = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 2.0])
    x = np.arange(0, 8.5, 0.5) - 1.5
    first_after = ys[np.clip(np.searchsorted(xs, x, side="left"), 0, 2)]
    last_before = ys[np.clip(np.searchsorted(xs, x, side="right") - 1, 0, 2)]
    np.testing.assert_array_equal(res["forward"].to_numpy(), first_after)
    np.testing.assert_array_equal(res["backward"].to_numpy(), last_before)
    at = dict(zip(x.tolist(), res["forward"].to_numpy().tolist(), strict=True))
    assert (at[-1.0], at[1.5], at[2.5], at[1.0]) == (1.0, 2.0, 2.0, 1.0)
    back = dict(zip(x.tolist(), res["backward"].to_numpy().tolist(), strict=True))
    assert (back[-1.0], back[1.5], back[2.5], back[2.0]) == (1.0, 1.0, 2.0, 2.0)


def test_lookup_forward_needs_a_lookup(tmp_path: Path) -> None:
    text = "k = 3 ~~|\nv = LOOKUP FORWARD(k, Time) ~~|\n" + CONTROL
    with pytest.raises(
        ps.ModelError,
        match=r"v: unsupported construct 'LOOKUP FORWARD of k': "
        r"not a lookup",
    ):
        ps.load_model(write(tmp_path, "bad.mdl", text))


# -- text the translator's grammar does not take --------------------------------------------


def test_comments_inside_equations_are_ignored(tmp_path: Path) -> None:
    text = (
        '{UTF-8}\nbase = 2 ~~|\n"odd {name}" = 1 ~~|\n'
        'total = base * {a comment} 3 + "odd {name}" {another\nover lines} ~ widgets {u} ~ '
        "Doc with {braces}. |\n" + CONTROL
    )
    model = ps.load_model(write(tmp_path, "comments.mdl", text))
    np.testing.assert_array_equal(ps.simulate(model)["total"].to_numpy(), np.full(17, 7.0))
    assert model["total"].meta.description == "Doc with {braces}."  # type: ignore[attr-defined]


def test_an_equation_the_translator_cannot_parse_names_its_variable(tmp_path: Path) -> None:
    text = "base = 2 ~~|\ngrowth = base +* 3 ~~|\n" + CONTROL
    with pytest.raises(
        ps.ModelError,
        match=r"bad\.mdl: growth: the Vensim file could not be "
        r"read at this equation \(IncompleteParseError: "
        r".*\+\* 3",
    ):
        ps.load_model(write(tmp_path, "bad.mdl", text))


def test_macros_after_a_group_header_and_each_other(tmp_path: Path) -> None:
    text = (
        "{UTF-8}\n" + "*" * 56 + "\n\t.Macros\n" + "*" * 56 + "~\n\t\tMacros.\n\t|\n\n"
        ":MACRO: DOUBLE(x)\nDOUBLE = 2 * x ~~|\n:END OF MACRO:\n"
        "base = 4 ~~|\n"
        ":MACRO: ADD ONE(x)\nADD ONE = x + 1 ~~|\n:END OF MACRO:\n"
        "y = DOUBLE(base) + ADD ONE(base) ~~|\n" + CONTROL
    )
    res = ps.simulate(ps.load_model(write(tmp_path, "macros.mdl", text)))
    np.testing.assert_array_equal(res["y"].to_numpy(), np.full(17, 2 * 4 + 4 + 1.0))


# -- elements of one variable that depend on each other -------------------------------------


def test_elements_that_read_other_elements_are_ordered_not_a_cycle(tmp_path: Path) -> None:
    text = (
        "d: one, two, three ~~|\ne: x, y ~~|\n"
        "a[one] = 1 + Time ~~|\na[two] = a[one] * 2 ~~|\na[three] = a[two] + b ~~|\n"
        "b = a[one] + 10 ~~|\n"
        "c[d, e] = 5 ~~|\n"  # an ordinary arrayed variable stays one array
        "fib[one] = 1 ~~|\nfib[two] = 1 ~~|\nfib[three] = fib[one] + fib[two] ~~|\n" + CONTROL
    )
    res = ps.simulate(ps.load_model(write(tmp_path, "elements.mdl", text)))
    t = np.arange(0, 8.5, 0.5)
    first = 1 + t
    np.testing.assert_allclose(res["a[one]"].to_numpy(), first)
    np.testing.assert_allclose(res["a[two]"].to_numpy(), 2 * first)
    np.testing.assert_allclose(res["a[three]"].to_numpy(), 2 * first + first + 10)
    np.testing.assert_allclose(res["b"].to_numpy(), first + 10)
    np.testing.assert_allclose(res["fib[three]"].to_numpy(), np.full(17, 2.0))


def test_an_element_that_reads_itself_is_still_a_cycle(tmp_path: Path) -> None:
    text = "d: one, two ~~|\na[one] = a[one] + 1 ~~|\na[two] = 1 ~~|\n" + CONTROL
    with pytest.raises(ps.ModelError, match=r"algebraic cycle: a_one -> a_one"):
        ps.load_model(write(tmp_path, "loop.mdl", text))


def test_stella_previous_and_size(tmp_path: Path) -> None:
    text = """<?xml version="1.0" encoding="utf-8"?>
<xmile version="1.0" xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0">
  <header><name>prev</name></header>
  <sim_specs><start>0</start><stop>4</stop><dt>0.5</dt></sim_specs>
  <dimensions><dim name="Region"><elem name="north"/><elem name="south"/><elem name="east"/>
  </dim></dimensions>
  <model><variables>
    <aux name="signal"><eqn>TIME * TIME</eqn></aux>
    <aux name="last"><eqn>PREVIOUS(signal, 7)</eqn></aux>
    <aux name="last own"><eqn>PREVIOUS(signal)</eqn></aux>
    <aux name="demand"><dimensions><dim name="Region"/></dimensions><eqn>2 + TIME</eqn></aux>
    <aux name="count"><eqn>SIZE(demand)</eqn></aux>
  </variables></model>
</xmile>
"""
    res = ps.simulate(ps.load_model(write(tmp_path, "previous.xmile", text)))
    t = np.arange(0, 4.5, 0.5)
    before = np.concatenate([[np.nan], (t * t)[:-1]])
    np.testing.assert_array_equal(res["last"].to_numpy(), np.where(t == 0, 7.0, before))
    np.testing.assert_array_equal(res["last_own"].to_numpy(), np.where(t == 0, 0.0, before))
    np.testing.assert_array_equal(res["count"].to_numpy(), np.full(9, 3.0))


def test_get_time_value_is_the_time_moved_by_the_offset(tmp_path: Path) -> None:
    path = write(tmp_path, "clock.mdl", "later = GET TIME VALUE(0, 2.5, 0) ~~|\n" + CONTROL)
    res = ps.simulate(ps.load_model(path))
    np.testing.assert_array_equal(res["later"].to_numpy(), np.asarray(res.times) + 2.5)


def test_get_time_value_of_the_computer_clock_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "clock.mdl", "year = GET TIME VALUE(2, 0, 1) ~~|\n" + CONTROL)
    with pytest.raises(
        ps.ModelError,
        match=r"year: unsupported construct 'GET TIME VALUE other than of the simulation time in "
        r"units of Time' \(got GET TIME VALUE\(2, 0, 1\)\)\. Use GET TIME VALUE\(0, offset, 0\)",
    ):
        ps.load_model(path)


def test_a_pulse_train_repeating_every_zero_is_one_pulse(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "train.mdl",
        "once = PULSE TRAIN(2, 1.5, 0, 8) ~~|\nevery = PULSE TRAIN(2, 1.5, gap, 8) ~~|\n"
        "gap = 0 ~~|\n" + CONTROL,
    )
    res = ps.simulate(ps.load_model(path))
    t = np.asarray(res.times)
    expected = ((t >= 2) & (t < 3.5)).astype(float)
    np.testing.assert_array_equal(res["once"].to_numpy(), expected)
    np.testing.assert_array_equal(res["every"].to_numpy(), expected)


def test_vensims_modulo_keeps_the_dividends_sign_and_the_yaml_one_the_divisors(
    tmp_path: Path, make_model
) -> None:
    path = write(tmp_path, "mod.mdl", "m = MODULO(Time - 7.25, 3) ~~|\n" + CONTROL)
    imported = ps.simulate(ps.load_model(path))["m"].to_numpy()
    t = np.arange(0, 8.5, 0.5)
    np.testing.assert_allclose(imported, np.fmod(t - 7.25, 3), atol=1e-12)
    yaml = make_model(
        "time: {start: 0, stop: 8, dt: 0.5}\n"
        "auxiliaries:\n  m: {equation: 'MODULO(TIME - 7.25, 3)'}\n"
    )
    np.testing.assert_allclose(ps.simulate(yaml)["m"].to_numpy(), np.mod(t - 7.25, 3), atol=1e-12)


def triangle_cdf(x: np.ndarray) -> np.ndarray:
    """The cumulative distribution of the density through (0, 0), (1, 1), (2, 0)."""
    x = np.clip(x, 0, 2)
    return np.where(x <= 1, x * x / 2, 1 - (2 - x) ** 2 / 2)


def test_random_lookup_draws_from_the_tables_density(tmp_path: Path) -> None:
    text = (
        "density([(0,0)-(2,1)],(0,0),(1,1),(2,0)) ~~|\n"
        "draw = RANDOM LOOKUP(density, 0, 10, 0, 1, 0) ~~|\n"
        "stretched = RANDOM LOOKUP(density, -100, 100, 3, 2, 0) ~~|\n"
        "narrow = RANDOM LOOKUP(density, 0.5, 1.5, 0, 1, 0) ~~|\n"
        "held = RANDOM LOOKUP(density, 0, 10, 4, 0, 0) ~~|\n"
        + CONTROL.replace("FINAL TIME = 8", "FINAL TIME = 4000").replace("0.5", "1")
    )
    res = ps.simulate(ps.load_model(write(tmp_path, "draws.mdl", text)))
    draw, stretched, narrow = (res[k].to_numpy() for k in ("draw", "stretched", "narrow"))
    n = draw.size
    # Kolmogorov-Smirnov distance to the exact distribution, well within the 1% critical value
    bound = 1.63 / math.sqrt(n)
    for sample, cdf in (
        (draw, triangle_cdf),
        ((stretched - 3) / 2, triangle_cdf),
        (narrow, lambda x: (triangle_cdf(x) - 0.125) / 0.75),
    ):
        ordered = np.sort(sample)
        distance = np.max(np.abs(cdf(ordered) - np.arange(1, n + 1) / n))
        assert distance < bound
    assert 0 <= draw.min()
    assert draw.max() <= 2
    assert 0.5 <= narrow.min()
    assert narrow.max() <= 1.5
    assert len(set(draw.tolist())) == n  # a new draw every step
    assert not np.array_equal(draw, narrow)
    # with no stretch the value is the shift, held within [min, max]
    np.testing.assert_array_equal(res["held"].to_numpy(), np.full(n, 4.0))


def test_random_lookup_flat_parts_of_the_table_are_never_drawn(tmp_path: Path) -> None:
    text = (
        "density([(0,0)-(4,1)],(0,0),(1,0),(2,1),(3,0),(4,0)) ~~|\n"
        "draw = RANDOM LOOKUP(density, 0, 10, 0, 1, 0) ~~|\n"
        + CONTROL.replace("FINAL TIME = 8", "FINAL TIME = 2000")
    )
    draw = ps.simulate(ps.load_model(write(tmp_path, "gap.mdl", text)))["draw"].to_numpy()
    assert 1 <= draw.min()
    assert draw.max() <= 3
    assert abs(draw.mean() - 2) < 0.05


@pytest.mark.parametrize(
    ("equation", "message"),
    [
        (
            "x = RANDOM LOOKUP(2, 0, 1, 0, 1, 0)",
            r"x: unsupported construct 'RANDOM LOOKUP other than of a lookup without "
            r"subscripts' \(got 6 arguments\)",
        ),
        (
            "t([(0,0)-(1,1)],(0,1),(1,-1)) ~~|\nx = RANDOM LOOKUP(t, 0, 1, 0, 1, 0)",
            r"x: the table of RANDOM LOOKUP is not a density \(got x \[0\.0, 1\.0\], y "
            r"\[1\.0, -1\.0\]\)",
        ),
    ],
)
def test_random_lookup_that_cannot_draw_is_refused(
    tmp_path: Path, equation: str, message: str
) -> None:
    with pytest.raises(ps.ModelError, match=message):
        ps.load_model(write(tmp_path, "bad.mdl", equation + " ~~|\n" + CONTROL))


def straightline_by_ledger(
    stream: np.ndarray, t: np.ndarray, dt: float, periods: int, fiscal: float, initial: float
) -> np.ndarray:
    """DEPRECIATE STRAIGHTLINE from its definition: each fiscal period's investment (the
    stream x dt summed over its steps, ``initial`` per unit of time before the start) is paid
    out in equal parts over ``periods`` periods; the current period's part is taken from the
    stream's current value."""
    period = np.floor(t / fiscal + 1e-9).astype(int)
    invested: dict[int, float] = {}
    for p, x in zip(period, stream, strict=True):
        invested[int(p)] = invested.get(int(p), 0.0) + x * dt
    out = np.empty_like(stream)
    for k, (p, x) in enumerate(zip(period, stream, strict=True)):
        older = sum(invested.get(int(p) - j, initial * fiscal) for j in range(1, periods))
        out[k] = x / periods + older / (periods * fiscal)
    return out


def test_depreciate_straightline_pays_each_investment_out_over_its_life(make_model) -> None:
    model = make_model("""
time: {start: 0, stop: 30, dt: 0.25}
parameters: {life: 4, fiscal: 1, before: 2}
auxiliaries:
  invest: 10 * (TIME < 3) + 3 * SIN(TIME) ** 2 * (TIME >= 7) * (TIME < 12)
  dep: DEPRECIATE_STRAIGHTLINE(invest, life, fiscal, before)
""")
    t = np.arange(0, 30.25, 0.25)
    for life, fiscal, initial in ((4, 1, 2.0), (6, 2, 0.0), (1, 1, 5.0), (4.2, 1, 1.0)):
        res = ps.simulate(model, {"life": life, "fiscal": fiscal, "before": initial})
        invest, dep = res["invest"].to_numpy(), res["dep"].to_numpy()
        periods = max(round(life / fiscal), 1)
        expected = straightline_by_ledger(invest, t, 0.25, periods, fiscal, initial)
        np.testing.assert_allclose(dep, expected, rtol=1e-12, atol=1e-12)
        # conservation: everything invested is depreciated, and what was left of the periods
        # before the start (initial x fiscal x (periods - 1) / 2)
        left = initial * fiscal * (periods - 1) / 2
        np.testing.assert_allclose(dep[:-1].sum() * 0.25, invest.sum() * 0.25 + left)
        assert (dep >= 0).all()


def test_depreciate_straightline_of_its_initial_value_is_constant(tmp_path: Path) -> None:
    text = (
        "dep = DEPRECIATE STRAIGHTLINE(7, 5, 1, 7) ~~|\n"
        "cold = DEPRECIATE STRAIGHTLINE(7, 5, 1, 0) ~~|\n" + CONTROL
    )
    res = ps.simulate(ps.load_model(write(tmp_path, "dep.mdl", text)))
    np.testing.assert_allclose(res["dep"].to_numpy(), 7.0, rtol=1e-13)
    cold = res["cold"].to_numpy()
    # from nothing invested before, the output climbs by a fifth each period to the stream
    assert (np.diff(cold) >= 0).all()
    assert cold[0] == pytest.approx(7 / 5)
    assert cold[-1] == pytest.approx(7.0)
