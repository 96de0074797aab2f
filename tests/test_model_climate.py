"""The climate model (models/climate): Sheffield in a global bathtub. The figures of the domain
reference (section 3.6 and Model F) it reproduces, its checks, hand calculations on its stocks,
and the behaviour of its target regimes."""

from __future__ import annotations

import numpy as np
import pytest

import pssc_sim as ps
from pssc_sim.scenario import Scenario
from tests.case_study import CaseStudy, nearest

STUDY = CaseStudy("climate")
MODEL, SCENARIOS = STUDY.folder, STUDY.scenarios
DT = 0.25

scenario, run = STUDY.recording_all, STUDY.run_all
at = nearest


def test_sheffield_2007_target_outcome() -> None:
    """Sheffield's 2007 target of -30% in six years achieved -18%, 3.9 -> 3.2 MtCO2 by about 2013
    [S] (DESNZ local-authority statistics via tellthetruthsheffield.org 2025; domain reference
    3.6). Under that target the modelled fall is 18% within 4 points and the target is missed.
    The campaigner's 3.9 is on neither of the model's bases (data/SOURCES.md): the model's 2007
    total on the carbon budget's basis, the sum of the calibrated sector levels (4.09), is within
    6% of it, and the series' 3.40 below it."""
    result = run("target-2007")
    fall = 1 - at(result, "territorial_emissions", 2013) / at(result, "territorial_emissions", 2007)
    assert at(result, "territorial_emissions", 2007) == pytest.approx(3.9, rel=0.06)
    assert at(result, "influence_emissions", 2007) < 3.9 < at(result, "territorial_emissions", 2007)
    assert fall == pytest.approx(0.18, abs=0.04)
    assert not result.scorecard().row("territorial_emissions").met_true


def test_sheffield_2019_and_the_fall_to_2022() -> None:
    """Sheffield 2.3 MtCO2 in 2019 [S] (DESNZ via tellthetruthsheffield.org 2025; domain
    reference 3.6) lies between the model's two bases: the published 'within the scope of
    influence' series it fits and the carbon budget's wider basis. The council reports 'a total
    17.2 per cent reduction in emissions between 2017 and 2022' (hellorayo.co.uk, 6 February
    2025), two years past the data: the baseline's fall is within 3 points of it (the same on
    both bases, which differ by a constant share)."""
    result = run("baseline")
    assert at(result, "influence_emissions", 2019) < 2.3 < at(result, "territorial_emissions", 2019)
    fall = 1 - at(result, "influence_emissions", 2022.5) / at(result, "influence_emissions", 2017.5)
    assert fall == pytest.approx(0.172, abs=0.03)


def test_budget_basis_reconciled_with_the_tyndall_budget() -> None:
    """The Tyndall Centre's 16 MtCO2 budget would be used 'within six years' at 2016 levels and
    the 2022 update's 15.2 MtCO2 'in less than 5 years from 2023' [V/S] (data/SOURCES.md): on the
    budget's basis the model emits 16 / 6 = 2.67 to 15.2 / 5 = 3.04 MtCO2 a year in 2016, while
    its 'scope of influence' series is the published 2.306 MtCO2 within 5%."""
    result = run("baseline")
    assert 16 / 6 < at(result, "territorial_emissions", 2016.5) < 15.2 / 5
    assert at(result, "influence_emissions", 2016.5) == pytest.approx(2.306, rel=0.05)


def test_budget_pathway_spends_the_budget_at_fourteen_per_cent_a_year() -> None:
    """The Tyndall pathway [V]: cuts of 14% a year from 2020 that spend the 16 MtCO2 budget. Hand
    calculation: a path E0 x 0.86^(t - 2020) sums to E0 / ln(1 / 0.86) over all time, so it
    starts at E0 = 16 x ln(1 / 0.86) = 2.413 MtCO2/yr, falls to 0.86 of that a year later, and
    has spent 16 x (1 - 0.86^30) = 15.83 MtCO2 by 2050."""
    result = run("baseline")
    pathway = result["budget_pathway"]
    start = 16 * np.log(1 / 0.86)
    assert at(result, "budget_pathway", 2020) == pytest.approx(start, rel=1e-9)
    assert at(result, "budget_pathway", 2021) == pytest.approx(0.86 * start, rel=1e-9)
    times = pathway.index.to_numpy()
    later = times >= 2020
    spent = float(np.sum(pathway.to_numpy()[later][:-1]) * DT)
    assert spent == pytest.approx(16 * (1 - 0.86**30), rel=0.02)


def test_trajectory_pressure_is_the_reported_excess_over_the_pathway() -> None:
    """Trajectory pressure: while the net-zero target bites and is missed, the pressure is the
    reported emissions above the budget's pathway, at the target's severity (high = 2) and the
    culture (0.5 + 0.9 under blame); none without a target."""
    result = run("net-zero-2030-blame")
    excess = np.maximum(0, result["offsets_reported"] - result["budget_pathway"]).to_numpy()
    pressure = result["trajectory_pressure"].to_numpy()
    times = result["trajectory_pressure"].index.to_numpy()
    biting = times >= 2019
    np.testing.assert_allclose(pressure[biting], 2 * 1.4 * excess[biting], rtol=1e-9)
    assert pressure[biting].max() > 0
    assert np.all(run("baseline")["trajectory_pressure"].to_numpy() == 0)


def test_a_missed_end_point_is_put_back_and_ambition_recovers() -> None:
    """Re-targeting after a missed end point [V]: councils put back a missed 2030 goal by 10 to
    20 years (Peterborough 2040, Cornwall 2045, South Oxfordshire 2045, North Northamptonshire
    2050; data in the parameter's source). Net zero is missed in 2030, so the goal moves to 2045,
    and again to 2060; with a goal 15 years away the goal no longer drifts, and ambition is higher
    five years after the re-set than at it, instead of decaying for ever. Without a target the
    goal never moves."""
    result = run("net-zero-2030-blame")
    assert at(result, "goal_date", 2029.75) == 2030
    assert at(result, "goal_date", 2030.25) == 2045
    assert at(result, "goal_date", 2050) == 2060
    assert at(result, "goal_drift", 2031) == 0
    assert at(result, "ambition", 2035) > at(result, "ambition", 2030.25)
    assert np.all(run("baseline")["goal_date"].to_numpy() == 2030)


def test_imported_share_2022() -> None:
    """The imported share of UK consumption emissions rose to 61% in 2022 [V] (ESCoE, 'The UK's
    hidden carbon footprint'; domain reference 3.6). The model starts from 47% in 2007 (the
    linear interpolation of 34% in 1990 and 61% in 2022) and reaches 61% within 3 points."""
    assert at(run("baseline"), "imported_share", 2022) == pytest.approx(0.61, abs=0.03)


def test_territorial_falls_faster_than_consumption() -> None:
    """UK territorial emissions fell 41% and consumption emissions 15% in 1990-2016 [V] (WWF
    2020; domain reference 3.6). Over 2007-2016 the modelled territorial fall is at least 1.4
    times the consumption fall (the UK ratio over 1990-2016 is 2.7; README.md says why the model's
    is smaller)."""
    result = run("baseline")

    def fall(name: str) -> float:
        return 1 - at(result, name, 2016) / at(result, name, 2007)

    assert fall("territorial_emissions") > 1.4 * fall("consumption_emissions") > 0


def test_atmospheric_co2_2022() -> None:
    """Atmospheric CO2 417.1 ppm in 2022 [V] (GCB 2023; domain reference 3.6), from 383.8 ppm in
    2007 [S] (NOAA), within 1%: the sinks are calibrated on the flux ('about half' of emissions),
    not on the concentration."""
    assert at(run("baseline"), "co2_ppm", 2022) == pytest.approx(417.1, rel=0.01)


def test_sinks_take_the_calibrated_share_in_2022() -> None:
    """Sinks absorb 'about half' of emissions [V] (GCB 2023): at the start of 2023 the uptake is
    the sink fraction (0.54) of the 40.7 GtCO2 emitted [V], within the drift of one year."""
    result = run("baseline")
    share = at(result, "sink_uptake", 2022) / at(result, "global_emissions", 2022)
    assert share == pytest.approx(0.54, abs=0.02)


def test_bathtub_concentration_rises_while_emissions_exceed_uptake() -> None:
    """Bathtub dynamics [V] (Sterman & Booth Sweeney 2007, Climatic Change 80:213-238):
    concentrations keep rising while emissions fall, as long as emissions exceed removal. With
    emissions falling 3% a year from 2023, CO2 rises every step while emissions exceed uptake,
    and peaks within one step of the time they become equal."""
    result = scenario("baseline").with_set(global_decline_rate=0.03).run()
    co2 = result["co2_ppm"].to_numpy()
    surplus = (result["global_emissions"] - result["sink_uptake"]).to_numpy()
    emissions = result["global_emissions"].to_numpy()
    times = result["co2_ppm"].index.to_numpy()
    falling = (times > 2023.5) & (surplus > 0)
    assert np.all(np.diff(emissions)[falling[:-1]] < 0)
    assert np.all(np.diff(co2)[falling[:-1]] > 0)
    peak = times[int(np.argmax(co2))]
    crossing = times[int(np.argmax(surplus <= 0))]
    assert abs(peak - crossing) <= 2 * DT


def test_stabilising_co2_needs_emissions_about_halved() -> None:
    """Emissions must 'fall by more than half even to stabilize CO2' [V] (Sterman & Booth
    Sweeney 2002, SDR 18(2)). In this model the emissions that hold the 2023 concentration are
    the uptake, 54% of emissions, so a cut of 46% holds it for an instant; held at that level,
    CO2 still rises over the next 20 years because the sinks weaken as warming goes on, so
    stabilising needs a deeper cut."""
    baseline = run("baseline")
    uptake = at(baseline, "sink_uptake", 2023)
    emissions = at(baseline, "global_emissions", 2023)
    assert 1 - uptake / emissions == pytest.approx(0.46, abs=0.03)
    held = (
        scenario("baseline")
        .with_intervention({"set": "global_emissions_cap", "to": uptake, "at": 2023})
        .run()
    )
    assert at(held, "global_emissions", 2030) == pytest.approx(uptake)
    assert at(held, "co2_ppm", 2043) > at(held, "co2_ppm", 2023.25)


def test_global_budget_spent_at_constant_emissions() -> None:
    """Remaining 1.5 degC budget 275 GtCO2 from the start of 2023 [V] (GCB 2023): at a constant
    40.7 GtCO2 a year it is spent in 2023 + 275 / 40.7 = 2029.76 [D], when the model's warming
    reaches 1.5 degC."""
    result = run("baseline")
    remaining = result["global_budget_remaining"]
    spent = float(remaining.index[(remaining.to_numpy() <= 0)][0])
    assert spent == pytest.approx(2023 + 275 / 40.7, abs=DT)
    assert at(result, "warming", spent) == pytest.approx(1.5, abs=0.45e-3 * 40.7 * DT)


def test_warming_follows_the_tcre() -> None:
    """TCRE 0.45 degC per 1000 GtCO2 [V] (IPCC AR6 WG1): between 2030 and 2050 at a constant
    40.7 GtCO2 a year warming rises by 0.45e-3 x 40.7 x 20 = 0.366 degC (hand calculation)."""
    result = run("baseline")
    rise = at(result, "warming", 2050) - at(result, "warming", 2030)
    assert rise == pytest.approx(0.45e-3 * 40.7 * 20, rel=1e-9)


def test_city_capital_plus_abatement_plus_leakage_is_conserved() -> None:
    """The three emitting stocks, the abated stock and the emissions leaked away add up to the
    2007 total (the three sector levels, 4.094 MtCO2/yr calibrated) at every step (the flows only
    move emissions between them); leakage is summed with the Euler rule the integrator uses."""
    result = run("baseline")
    values = {p.name: p.value for p in ps.load_model(MODEL).parameters}
    total = values["heat_2007"] + values["transport_2007"] + values["electricity_2007"]
    stocks = sum(result[n].to_numpy() for n in ("heat", "transport", "electricity", "abated"))
    leaked = np.concatenate([[0.0], np.cumsum(result["leakage"].to_numpy()[:-1]) * DT])
    np.testing.assert_allclose(stocks + leaked, total, rtol=1e-12)


@pytest.mark.parametrize("name", ["net-zero-2030", "net-zero-2030-blame", "net-zero-2030-learning"])
def test_offsets_only_lower_the_reported_emissions(name: str) -> None:
    """Net zero by 2030 with offsets allowed: offsets move the reported (net) emissions below
    the true territorial ones, never above, in any culture; the end-point target is missed on
    the true ledger ('it is already clear it is impossible to meet this target' [S])."""
    result = run(name)
    reported = result["offsets_reported"].to_numpy()
    true = result["territorial_emissions"].to_numpy()
    assert (reported <= true + 1e-12).all()
    assert reported[-1] < true[-1]
    assert not result.scorecard().row("territorial_emissions").met_true


def test_drifting_goals_erode_ambition() -> None:
    """Drifting goals (domain reference 4; R1 of Model F): under the end-point target in a blame
    culture the required cut soon exceeds the feasible one, so the goal drifts."""
    assert at(run("net-zero-2030-blame"), "goal_drift", 2028) > 0


def test_city_budget_blown_without_a_budget_target() -> None:
    """Tyndall budget 15.2 MtCO2 for 2023-2042 [V] (Sheffield City Council, October 2022): with
    no target the city emits more than the budget by 2042."""
    assert at(run("baseline"), "cumulative_city_co2", 2042) > 15.2


def test_boundary_choice_under_a_consumption_target_in_blame() -> None:
    """Boundary choice (domain reference 2.7, 3.6): the consumption target of the PSS set in a
    blame culture draws the boundary to leave imports outside it: the reported footprint falls
    below the true one."""
    blame = scenario("pss-outcomes").with_culture(0.9).run()
    row = blame.scorecard().row("consumption_emissions")
    assert row.reported < row.true


def test_without_a_target_reported_equals_true() -> None:
    """No target: both gaming efforts stay 0 and both ledgers agree exactly."""
    result = run("baseline")
    for effort in ("offsets_effort", "boundary_effort"):
        assert np.all(result[effort].to_numpy() == 0.0)
    np.testing.assert_array_equal(
        result["offsets_reported"].to_numpy(), result["territorial_emissions"].to_numpy()
    )


def test_every_scenario_file_loads_and_runs() -> None:
    """Every scenario of the model loads; the single runs run and the ensemble runs with a few
    members."""
    files = sorted(SCENARIOS.glob("*.yaml"))
    assert len(files) >= 7
    for path in files:
        loaded = Scenario.load(path)
        if loaded.is_ensemble:
            assert loaded.uncertainty is not None
            assert loaded.uncertainty.members == 300
            result = loaded.with_uncertainty({"members": 8, "seed": 1}).run()
            assert result.results.n_members == 8
            assert result.scorecard().row("territorial_emissions").probability_true == 0
        else:
            assert np.isfinite(run(path.stem).results.values).all()
