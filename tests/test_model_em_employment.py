"""The ethnic-minority employment model (models/em_employment): the figures of the domain
reference (section 3.5 and Model E) it reproduces, its checks, and the behaviour of its target
regimes. Calibration targets and held-out figures are listed in models/em_employment/README.md."""

from __future__ import annotations

import numpy as np
import pytest

from pssc_sim.scenario import Scenario
from tests.case_study import CaseStudy, nearest

STUDY = CaseStudy("em_employment")
MODEL, SCENARIOS = STUDY.folder, STUDY.scenarios

scenario, run = STUDY.recording_all, STUDY.run_all
at = nearest


def test_gap_in_1993() -> None:
    """Gap 17.3 pp in 1993, the start of the DWP series [S] (AOL/DWP 2016, domain reference 3.5).
    The start is the model's own steady state with 1993 labour demand. The stored press text
    breaks off before the figure's year, so the calibration weights it with an sd of 1 point
    (data/SOURCES.md) and the fit with the ethnic groups lands about 2 points above it: the
    tolerance is 2.5 points (README: Calibration)."""
    assert at(run("baseline"), "employment_gap", 1993) == pytest.approx(17.3, abs=2.5)


def test_gap_in_2004() -> None:
    """Gap 15 pp in 2004 [V] (Ethnicity Facts & Figures; domain reference 3.5). A fitted
    observation (data/observed.csv)."""
    assert at(run("baseline"), "employment_gap", 2004) == pytest.approx(15.0, abs=1.0)


def test_gap_in_2015() -> None:
    """Gap 11.1 pp in 2015 [V] (Lords Library LLN 2016/021; domain reference 3.5). A fitted
    observation (data/observed.csv)."""
    assert at(run("baseline"), "employment_gap", 2015) == pytest.approx(11.1, abs=1.0)


def test_gap_in_2016() -> None:
    """Gap 10 pp in 2016 [V] (Ethnicity Facts & Figures; domain reference 3.5). Fitted (the
    model's data/observed.csv); the 1.1 pp fall from the Lords Library's 2015 figure mixes two
    sources, so the tolerance is 1.5 pp."""
    assert at(run("baseline"), "employment_gap", 2016) == pytest.approx(10.0, abs=1.5)


def test_trend_closure_2004_2016() -> None:
    """Trend gap closure about 0.4 pp a year, 15 -> 10 pp over 2004-2016 [D] (domain reference
    5, Model E defaults)."""
    result = run("baseline")
    rate = (at(result, "employment_gap", 2004) - at(result, "employment_gap", 2016)) / 12
    assert rate == pytest.approx(0.4, abs=0.15)


def test_overall_rate_2014_and_2016() -> None:
    """Overall employment 72.9% in Q2 2014 [V] (BITC fact file) and 74% in 2016 [V] (Ethnicity
    Facts & Figures; domain reference 3.5). Fitted observations (data/observed.csv)."""
    result = run("baseline")
    assert at(result, "overall_employment_rate", 2014.375) == pytest.approx(0.729, abs=0.01)
    assert at(result, "overall_employment_rate", 2016) == pytest.approx(0.74, abs=0.01)


def test_em_rate_2006_07() -> None:
    """EM employment 60.5% in 2006/07 [V] (WPSC 3rd report 2006-07) and 60% in 2007 [V] (NEP
    Business Commission 2007; domain reference 3.5). A fitted observation (data/observed.csv)."""
    assert at(run("baseline"), "em_employment_rate", 2007) == pytest.approx(0.605, abs=0.015)


def test_hard_to_help_inactivity_2014() -> None:
    """Inactivity of Pakistani/Bangladeshi women 61.3% / 61.9% in Q2 2014 [V] (BITC fact file;
    domain reference 3.5: hard-to-help inactivity 0.61). A fitted observation
    (data/observed.csv)."""
    result = run("baseline")
    assert at(result, "hard_to_help_inactivity_rate", 2014.375) == pytest.approx(0.61, abs=0.03)


def test_unemployment_rates_2022() -> None:
    """Unemployment White 3.1%, EM 7.5% in Oct-Dec 2022 [S] (movementtowork; domain reference
    3.5). Fitted (data/observed.csv) with a wide error, reproduced loosely (2 points): the
    model's EM rate is above the comparison rate but the ratio is well below 2.4 (README.md)."""
    result = run("baseline")
    em = at(result, "em_unemployment_rate", 2022.875)
    comparison = at(result, "comparison_unemployment_rate", 2022.875)
    assert em == pytest.approx(0.075, abs=0.02)
    assert comparison == pytest.approx(0.031, abs=0.02)
    assert em > 1.3 * comparison


def test_north_south_difference_from_composition() -> None:
    """North 14.7 vs South 10.2 pp in 2016, a 4.5 pp difference [V] (Ethnicity Facts & Figures;
    domain reference 3.5). Not an independent validation: with the hard-to-help share 0.40
    (entrants 0.12) in the North and 0.20 (entrants 0.05) in the South, assumed [A] to bracket
    the national 0.257, composition alone gives the difference within 1 pp."""
    base = scenario("baseline")
    north = base.with_set(hard_share_1993=0.40, hard_share_entrants=0.12).run()
    south = base.with_set(hard_share_1993=0.20, hard_share_entrants=0.05).run()
    difference = at(north, "employment_gap", 2016) - at(south, "employment_gap", 2016)
    assert difference == pytest.approx(4.5, abs=1.0)


def test_programme_reports_the_published_job_outcome_rates() -> None:
    """Under the historical regime (the 33% minimum performance level from 2011, default
    culture) the reported rate is the published two-year job-outcome rate of the whole Work
    Programme, 26.7% to June 2016 (Learning and Work Institute [S]), within 2 points, and the
    hard to help achieve the 13.8% of new ESA claimants within 3 points: both missed the
    minimum, and so does the true rate (NAO 2014 via openDemocracy [S]: JSA 25+ 27% against 33%,
    new ESA 11% against 13%). Fitted (data/work_programme.csv), so this checks the mapping."""
    result = run("work-programme")
    assert at(result, "reported_outcome_rate", 2016.5) == pytest.approx(0.267, abs=0.02)
    assert at(result, "hard_programme_outcome_rate", 2016.5) == pytest.approx(0.138, abs=0.03)
    assert at(result, "programme_outcome_rate", 2016.5) < 0.33
    assert at(result, "reported_outcome_rate", 2016.5) < 0.33


def test_group_employment_rates_match_the_published_ones() -> None:
    """Indian employment 71.2% in 2015 (APS via Lancashire County Council [S]) and Pakistani
    employment 49.8% in April-June 2014 (BITC fact file [V]), each fitted (data/observed.csv)
    within 4 points and 6 points (the Pakistani rate stands for the Pakistani and Bangladeshi
    group); the groups keep their order, Indian above the EM average above Pakistani and
    Bangladeshi, throughout. The groups differ only in their share of the hard to help, and the
    fit leaves the Indian rate about 3 points low with its factor at its bound (README:
    Calibration): the tolerance is 4 points."""
    result = run("baseline")
    assert at(result, "indian_employment_rate", 2015.5) == pytest.approx(0.712, abs=0.04)
    assert at(result, "pakistani_bangladeshi_employment_rate", 2014.375) == pytest.approx(
        0.498, abs=0.06
    )
    indian = result["indian_employment_rate"].to_numpy()
    average = result["em_employment_rate"].to_numpy()
    pakistani_bangladeshi = result["pakistani_bangladeshi_employment_rate"].to_numpy()
    assert (indian > average).all()
    assert (average > pakistani_bangladeshi).all()


def test_the_groups_add_up_to_the_em_population() -> None:
    """The ethnic groups partition the EM population: their populations sum to it, each keeps
    its Census 2011 share (every stock grows and exits alike), and the EM rate is their
    population-weighted mean; the largest group gap is at least the headline gap."""
    result = run("baseline")
    total = result["em_population"].to_numpy()
    groups = ["indian", "pakistani_bangladeshi", "other_minorities"]
    populations = [result[f"group_population[{g}]"].to_numpy() for g in groups]
    np.testing.assert_allclose(sum(populations), total, rtol=1e-9)
    np.testing.assert_allclose(populations[0] / total, 0.18, rtol=1e-9)
    np.testing.assert_allclose(populations[1] / total, 0.20, rtol=1e-9)
    rates = [result[f"group_employment_rate[{g}]"].to_numpy() for g in groups]
    mean = sum(p * r for p, r in zip(populations, rates, strict=True)) / total
    np.testing.assert_allclose(mean, result["em_employment_rate"].to_numpy(), rtol=1e-9)
    assert (
        result["largest_group_gap"].to_numpy() >= result["employment_gap"].to_numpy() - 1e-9
    ).all()


@pytest.mark.parametrize(
    "name", ["work-programme", "work-programme-blame", "work-programme-learning"]
)
def test_creaming_and_short_spells_only_flatter_the_reported_rate(name: str) -> None:
    """Creaming and parking with short spells counted (Rees, Whitworth & Carter 2013; WPC HC162
    2013-14 [V]) move the reported outcome rate up, never down, in any culture."""
    result = run(name)
    reported = result["reported_outcome_rate"].to_numpy()
    true = result["programme_outcome_rate"].to_numpy()
    assert (reported >= true - 1e-12).all()
    assert reported[-1] > true[-1]


def test_composition_meets_the_psa_gap_target() -> None:
    """The 2008 PSA asked for the gap to fall at least 1 pp in three years [V] (HMT PSA archive;
    domain reference 3.5). The modelled gap falls by more than 1 pp over 2008-2011, but with the
    composition held at its 1993 mix it falls by less than 1 pp: the target is met by population
    change, not by policy (domain reference 3.5: composition effects)."""
    met = run("psa-gap-target")
    model = STUDY.model()
    share_1993 = next(p.value for p in model.parameters if p.name == "hard_share_1993")
    frozen = scenario("psa-gap-target").with_set(hard_share_entrants=share_1993).run()
    assert at(met, "employment_gap", 2008) - at(met, "employment_gap", 2011) > 1.0
    assert at(frozen, "employment_gap", 2008) - at(frozen, "employment_gap", 2011) < 1.0
    assert at(met, "composition_effect", 2016) > 3.0


def test_cycle_claim_only_narrows_the_reported_gap() -> None:
    """'Taking account of the economic cycle' [V] (HMT PSA archive; domain reference 3.5): the
    model's own cyclical part of the gap in 2011 is under 0.5 pp (a run without the cycle
    differs by less); the department's adjustment only ever takes points off the reported gap,
    and it claims something under the target."""
    with_cycle = run("psa-gap-target")
    without = scenario("psa-gap-target").with_set(cycle_elasticity=0.0).run()
    true_cyclical = at(with_cycle, "employment_gap", 2011) - at(without, "employment_gap", 2011)
    assert abs(true_cyclical) < 0.5
    claimed = with_cycle["cycle_claim_claimed"].to_numpy()
    assert (claimed >= 0).all()
    assert claimed.max() > 0
    assert (
        with_cycle["cycle_claim_reported"].to_numpy()
        <= with_cycle["employment_gap"].to_numpy() + 1e-12
    ).all()


def test_without_a_target_reported_equals_true() -> None:
    """No target: every gaming effort stays 0 and both ledgers agree exactly."""
    result = run("baseline")
    for effort in ("creaming_effort", "spells_effort", "cycle_claim_effort"):
        assert np.all(result[effort].to_numpy() == 0.0)
    np.testing.assert_array_equal(
        result["reported_outcome_rate"].to_numpy(), result["programme_outcome_rate"].to_numpy()
    )


def test_em_population_grows_geometrically_under_euler() -> None:
    """Entry is (exit + growth) x population and every stock exits at exit_rate, so each Euler
    step multiplies the EM population by exactly 1 + growth x dt (hand calculation)."""
    result = run("baseline")
    population = result["em_population"].to_numpy()
    times = result["em_population"].index.to_numpy()
    steps = np.round((times - times[0]) / 0.125)
    expected = 2_100_000 * (1 + 0.038 * 0.125) ** steps
    np.testing.assert_allclose(population, expected, rtol=1e-9)


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
            small = loaded.with_uncertainty({"members": 8, "seed": 1})
            result = small.run()
            assert result.results.n_members == 8
            probability = result.scorecard().row("programme_outcome_rate").probability_true
            assert probability is not None
            assert 0 <= probability <= 1
        else:
            assert np.isfinite(run(path.stem).results.values).all()
