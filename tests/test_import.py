"""Importing Vensim and XMILE models through PySD's translators, and converting them to YAML."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pysd", reason="the vensim extra (PySD's translators) is not installed")

import pssc_sim as ps
from pssc_sim.parse.translate import convert, convert_command, translate

CONTROL = """
INITIAL TIME = 0 ~ Month ~ |
FINAL TIME = 10 ~ Month ~ |
TIME STEP = 0.5 ~ Month ~ |
SAVEPER = TIME STEP ~ Month ~ |
"""

POPULATION = (
    """{UTF-8}
Population = INTEG(Births - Deaths + Net Migration * 2, 100)
    ~ people
    ~ Everyone living in the town.
    |
Births = Population * Birth Rate ~ people/Month ~ |
Deaths = Population / Lifetime ~ people/Month ~ |
Net Migration = 1 + STEP(2, 5) ~ people/Month ~ |
Birth Rate = 0.02 ~ 1/Month [0, 1] ~ Fraction born each month. |
Lifetime = 40 ~ Month ~ |
"""
    + CONTROL
)

XMILE = """<?xml version="1.0" encoding="utf-8"?>
<xmile version="1.0" xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0">
  <header><name>tank</name></header>
  <sim_specs><start>0</start><stop>4</stop><dt>1</dt></sim_specs>
  <model><variables>
    <stock name="Water"><eqn>3</eqn><inflow>Fill</inflow><outflow>Drain</outflow>
      <non_negative/><units>litre</units></stock>
    <flow name="Fill"><eqn>0.5</eqn></flow>
    <flow name="Drain"><eqn>2</eqn><doc>Drains quickly.</doc></flow>
  </variables></model>
</xmile>
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_integ_net_rate_is_split_into_flows(tmp_path: Path) -> None:
    model = ps.load_model(write(tmp_path, "town.mdl", POPULATION))
    flows = {f.name: (f.source, f.target) for f in model.flows if not f.hidden}
    assert flows == {
        "births": (None, "population"),
        "deaths": ("population", None),
        "population_net_flow": (None, "population"),
    }
    assert str(model["population_net_flow"].rate) == "2*net_migration"  # type: ignore[attr-defined]


def test_names_map_back_to_the_original(tmp_path: Path) -> None:
    translation = translate(write(tmp_path, "town.mdl", POPULATION))
    assert translation.identifier("birth  RATE") == "birth_rate"
    assert translation.original_names["net_migration"] == "Net Migration"


def test_units_documentation_and_range_are_kept(tmp_path: Path) -> None:
    model = ps.load_model(write(tmp_path, "town.mdl", POPULATION))
    stock = model["population"]
    assert stock.meta.units == "people"  # type: ignore[attr-defined]
    assert stock.meta.description == "Everyone living in the town."  # type: ignore[attr-defined]
    rate = model["birth_rate"]
    assert rate.range == (0.0, 1.0)  # type: ignore[attr-defined]
    assert model.time.units == "Month"


def test_imported_model_runs_with_vensim_euler(tmp_path: Path) -> None:
    res = ps.simulate(ps.load_model(write(tmp_path, "town.mdl", POPULATION)))
    population, t = 100.0, 0.0
    for _ in range(20):
        migration = 1 + (2 if t + 0.25 > 5 else 0)
        population += 0.5 * (population * 0.02 - population / 40 + 2 * migration)
        t += 0.5
    assert res["population"].iloc[-1] == pytest.approx(population, rel=1e-12)
    assert np.allclose(res.times, np.arange(0, 10.5, 0.5))


def test_unsupported_construct_names_the_variable(tmp_path: Path) -> None:
    text = "Value = TIME BASE(10, 5) ~~|\n" + CONTROL
    with pytest.raises(
        ps.ModelError,
        match=r"value\.mdl: Value: unsupported construct 'function "
        r"TIME_BASE'",
    ):
        ps.load_model(write(tmp_path, "value.mdl", text))


def test_subscripts_are_imported_as_dimensions(tmp_path: Path) -> None:
    text = (
        "Region: north, south ~~|\nSouth only: south ~~|\nDemand[Region] = 1, 2 ~~|\n"
        "Served[Region] = INTEG(Demand[Region], 0) ~~|\n"
        "Total = SUM(Served[Region!]) ~~|\n"
        "Ratio[Region] :EXCEPT: [south] = Demand[Region] / (1 + Total) ~~|\n"
        "Ratio[south] = Demand[north] + Region ~~|\n" + CONTROL
    )
    model = ps.load_model(write(tmp_path, "regions.mdl", text))
    assert model.parameter_names[:2] == ("demand[north]", "demand[south]")
    row = ps.simulate(model).to_frame().loc[1.0]
    assert (row["served[north]"], row["served[south]"], row["total"]) == (1.0, 2.0, 3.0)
    # a range used as a value is the position of the element (south is the second)
    assert (row["ratio[north]"], row["ratio[south]"]) == (1.0 / 4.0, 1.0 + 2.0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "A: a1, a2 ~~|\nB: a2, b3 ~~|\nx[A] = 1 ~~|\n",
            r"unsupported construct 'subscript ranges that share only some elements' \(got ",
        ),
        (
            "A: a1, a2 ~~|\nx[a1] = INTEG(1, 0) ~~|\nx[a2] = 3 ~~|\n",
            r"x: unsupported construct 'a stock defined by INTEG for some elements only'",
        ),
        (
            "A: a1, a2 ~~|\nx[A] = 1 ~~|\nx[a1, A] = 2 ~~|\n",
            r"x: the equations of the variable have different numbers of subscripts",
        ),
    ],
)
def test_subscript_import_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ps.ModelError, match=message):
        ps.load_model(write(tmp_path, "bad.mdl", text + CONTROL))


def test_time_varying_control_is_reported(tmp_path: Path) -> None:
    text = CONTROL.replace("TIME STEP = 0.5", "TIME STEP = IF THEN ELSE(x > 4, 1, 0.5)")
    with pytest.raises(
        ps.ModelError,
        match=r"TIME STEP: unsupported construct 'a control variable that changes over time' "
        r"other than a function of TIME and constants \(got ",
    ):
        ps.load_model(write(tmp_path, "moving.mdl", text + "x = INTEG(1, 0) ~~|\n"))
    text = CONTROL.replace("TIME STEP = 0.5", "TIME STEP = IF THEN ELSE(Time < 4, 1, 0.5)")
    with pytest.raises(
        ps.ModelError,
        match=r"y: unsupported construct 'TIME STEP read by an equation while it changes over "
        r"time'",
    ):
        ps.load_model(write(tmp_path, "moving.mdl", text + "y = DELAY FIXED(Time, 1, 0) ~~|\n"))


def test_time_step_and_saveper_that_change_over_time_list_the_steps(tmp_path: Path) -> None:
    text = CONTROL.replace("TIME STEP = 0.5", "TIME STEP = IF THEN ELSE(Time < 4, 1, 0.25)")
    text = text.replace("SAVEPER = TIME STEP", "SAVEPER = IF THEN ELSE(Time < 6, TIME STEP, 2)")
    text += "Stock = INTEG(Inflow, 1) ~~|\nInflow = Stock * 0.1 + Time ~~|\n"
    model = ps.load_model(write(tmp_path, "moving.mdl", text))
    res = ps.simulate(model)
    # Euler by hand: each step as long as TIME STEP at its start, saved where the time is a
    # whole number of SAVEPERs from the start (SAVEPER at that time), until FINAL TIME
    t, stock, saved = 0.0, 1.0, {}
    while True:
        step = 1.0 if t < 4 else 0.25
        every = step if t < 6 else 2.0
        if abs(t / every - round(t / every)) < 1e-9:
            saved[t] = stock
        if t >= 10:
            break
        stock += step * (stock * 0.1 + t)
        t += step
    assert list(res.times) == list(saved)
    np.testing.assert_allclose(res["stock"].to_numpy(), list(saved.values()), rtol=1e-12)
    # the control variables are variables of the run, with their equations
    steps = res["time_step_value"].to_numpy()
    np.testing.assert_array_equal(steps, np.where(np.asarray(res.times) < 4, 1.0, 0.25))
    # the same run by rk4 on the listed steps; adaptive methods and new times are refused
    np.testing.assert_array_equal(ps.simulate(model, method="rk4").times, res.times)
    with pytest.raises(ps.ParameterError, match=r"method: the model lists its time steps"):
        ps.simulate(model, method="rk45")
    with pytest.raises(ps.ParameterError, match=r"time: the model lists its time steps"):
        ps.simulate(model, time={"dt": 0.1})


def test_final_time_given_by_an_equation_over_time_stops_where_time_reaches_it(
    tmp_path: Path,
) -> None:
    # the run stops at the first step whose time reaches FINAL TIME's value at that step
    text = CONTROL.replace(
        "FINAL TIME = 10", "FINAL TIME = IF THEN ELSE(Signal > 5, Time, Horizon)"
    )
    text += "Signal = 2 * Time - 1 ~~|\nHorizon = 100 ~~|\nStock = INTEG(2, 1) ~~|\n"
    res = ps.simulate(ps.load_model(write(tmp_path, "moving.mdl", text)))
    t = 0.0
    while not (t >= (t if 2 * t - 1 > 5 else 100.0)):
        t += 0.5
    assert res.times[-1] == t == 3.5
    np.testing.assert_allclose(res["stock"].to_numpy(), 1 + 2 * np.asarray(res.times))
    final = res["final_time_value"].to_numpy()
    assert final[-1] == t
    assert (final[:-1] == 100.0).all()


def test_final_time_from_constants_of_the_model(tmp_path: Path) -> None:
    text = CONTROL.replace("FINAL TIME = 10", "FINAL TIME = Start year + Horizon")
    text += "Start year = 0 ~~|\nHorizon = 3 * 2 ~~|\nx = 1 ~~|\n"
    res = ps.simulate(ps.load_model(write(tmp_path, "horizon.mdl", text)))
    assert res.times[-1] == 6.0
    assert len(res.times) == 13


@pytest.mark.parametrize(
    ("final", "extra", "message"),
    [
        (
            "IF THEN ELSE(Stock > 3, Time, 10)",
            "Stock = INTEG(1, 0) ~~|\n",
            r"FINAL TIME: unsupported construct 'a control variable that changes over time' "
            r"other than a function of TIME and constants \(got ",
        ),
        (
            "Time + 1",
            "x = 1 ~~|\n",
            r"FINAL TIME: FINAL TIME is not reached within 1000 steps \(got TIME STEP 0\.5 "
            r"from 0\.0\)",
        ),
    ],
)
def test_final_time_that_cannot_be_read_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, final: str, extra: str, message: str
) -> None:
    import pssc_sim.parse.translate.document as document

    monkeypatch.setattr(document, "MOST_CLOCK_STEPS", 1000)
    text = CONTROL.replace("FINAL TIME = 10", f"FINAL TIME = {final}") + extra
    with pytest.raises(ps.ModelError, match=message):
        ps.load_model(write(tmp_path, "moving.mdl", text))


def test_unreadable_file_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ps.ModelError, match=r"the Vensim file could not be read"):
        ps.load_model(write(tmp_path, "broken.mdl", "x = (1 + ~~|\n" + CONTROL))


def test_xmile_stock_flows_and_non_negative(tmp_path: Path) -> None:
    model = ps.load_model(write(tmp_path, "tank.xmile", XMILE))
    assert {f.name: (f.source, f.target) for f in model.flows} == {
        "fill": (None, "water"),
        "drain": ("water", None),
    }
    assert model["water"].non_negative  # type: ignore[attr-defined]
    res = ps.simulate(model)
    assert res["water"].tolist() == [3.0, 1.5, 0.0, 0.0, 0.0]


def test_convert_round_trip_gives_identical_results(tmp_path: Path) -> None:
    source = write(tmp_path, "town.mdl", POPULATION)
    target = convert(source, tmp_path / "town.yaml")
    text = target.read_text(encoding="utf-8")
    assert "Everyone living in the town." in text
    assert "units: people/Month" in text
    original, converted = ps.simulate(ps.load_model(source)), ps.simulate(ps.load_model(target))
    assert original.names == converted.names
    np.testing.assert_array_equal(original.values, converted.values)


def test_convert_command_defaults_to_a_yaml_next_to_the_source(tmp_path: Path) -> None:
    source = write(tmp_path, "tank.xmile", XMILE)
    assert convert_command(source) == 0
    converted = ps.simulate(ps.load_model(tmp_path / "tank.yaml"))
    np.testing.assert_array_equal(converted.values, ps.simulate(ps.load_model(source)).values)


def test_delay_n_sees_past_delay_times(tmp_path: Path) -> None:
    text = (
        "Out = DELAY N(In, D, 0, 2) ~~|\nIn = STEP(1, 1) ~~|\nD = 2 + STEP(2, 3) ~~|\n"
        + CONTROL.replace("TIME STEP = 0.5", "TIME STEP = 1")
    )
    res = ps.simulate(ps.load_model(write(tmp_path, "pipe.mdl", text)))
    constant = ps.simulate(
        ps.load_model(write(tmp_path, "pipe2.mdl", text.replace("2 + STEP(2, 3)", "2")))
    )
    assert res["out"].iloc[:4].tolist() == constant["out"].iloc[:4].tolist()
    assert res["out"].iloc[5] != constant["out"].iloc[5]


def test_elements_as_values_quantum_and_hyperbolic_functions(tmp_path: Path) -> None:
    text = (
        "A: a1, a2, a3 ~~|\nIs second[A] = IF THEN ELSE(A = a2, 1, 0) ~~|\n"
        "Q = QUANTUM(7.5, 2) ~~|\nKeep = QUANTUM(7.5, 0) ~~|\nH = COSH(1) - SINH(1) ~~|\n"
        "T = TANH(0.5) ~~|\n" + CONTROL
    )
    row = ps.simulate(ps.load_model(write(tmp_path, "values.mdl", text))).to_frame().iloc[0]
    assert [row[f"is_second[a{i}]"] for i in (1, 2, 3)] == [0.0, 1.0, 0.0]
    assert (row["q"], row["keep"]) == (6.0, 7.5)
    assert row["h"] == pytest.approx(np.exp(-1.0))
    assert row["t"] == pytest.approx(np.tanh(0.5))
