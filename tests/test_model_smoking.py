"""The Sheffield smoking model (models/smoking): validation against the figures of the domain
reference (§3.1, §5 Model A), its checks, and what its scenarios show about targets."""

from __future__ import annotations

import math

import numpy as np
import pytest

import pssc_sim as ps
from pssc_sim.scenario import Scenario
from tests.case_study import CaseStudy, value

STUDY = CaseStudy("smoking")
MODEL, SCENARIOS = STUDY.folder, STUDY.scenarios

model, baseline, scenario = STUDY.model, STUDY.baseline, STUDY.scenario


# -- checks ------------------------------------------------------------------------------------


def test_the_uncertainty_ensemble_runs_seeded() -> None:
    small = (
        Scenario.load(SCENARIOS / "quit-count-uncertain.yaml")
        .with_uncertainty(members=16)
        .with_time(stop=2023)
    )
    first, second = small.run(), small.run()
    assert first.is_ensemble
    prevalence = first["prevalence"]
    assert prevalence.shape[1] == 16
    assert (prevalence.to_numpy() == second["prevalence"].to_numpy()).all()
    assert prevalence.loc[2022].std() > 0.001  # the assumed parameters matter


# -- validation ----------------------------------------------------------------------------------


def test_sheffield_prevalence_2017() -> None:
    """Sheffield adult smoking prevalence 17% in 2017 (ONS Annual Population Survey, reported by
    Sheffield City Council decision 3068, "17% (2017) to 10.3% (2022)"; The Star 2019), within
    2 percentage points for survey noise (domain reference §3.1, §5 Model A validation)."""
    assert abs(value(baseline(), "prevalence", 2017) - 0.17) < 0.02


def test_sheffield_prevalence_2022() -> None:
    """Sheffield adult smoking prevalence 10.3% in 2022 (ONS Annual Population Survey via
    Sheffield City Council decision 3068 and smokefreesheffield.org), within 2 percentage points
    (domain reference §3.1, §5 Model A validation)."""
    assert abs(value(baseline(), "prevalence", 2022) - 0.103) < 0.02


def test_prevalence_falls_steadily_between_the_survey_years() -> None:
    """Sheffield fell 6.7 points in 2017-2022 (Sheffield City Council decision 3068); the
    calibrated model falls steadily, 0.6 to 1.6 points a year (faster at first, while the
    service's 2012 volume lasts), not the implausible 4.5-point single-year drop of the
    2017-2018 APS figures (domain reference §3.1: survey noise)."""
    yearly = [
        value(baseline(), "prevalence", t) - value(baseline(), "prevalence", t + 1)
        for t in range(2012, 2022)
    ]
    assert all(0.005 < fall < 0.02 for fall in yearly)


def test_e_cigarettes_account_for_part_of_the_fall_by_2019_within_the_simsmoke_figure() -> None:
    """England SimSmoke: nicotine vaping products account for a 20.2% relative reduction of adult
    smoking prevalence over 2012-2019 (Levy et al. 2021, Addiction 116(5):1196-1211). In the model
    e-cigarettes raise only the success of the unaided attempts that use one (risk ratio 1.63
    against NRT, Cochrane 2022), so their share of the fall is positive and below SimSmoke's."""
    without = ps.simulate(model(), {"ecig_attempt_share": 0}, method="euler")
    relative = 1 - value(baseline(), "prevalence", 2019) / value(without, "prevalence", 2019)
    assert 0.01 < relative < 0.202


def test_service_chain_reproduces_the_published_rates() -> None:
    """The service's official figure is its self-reported four-week count: 49-52% of quit dates
    (NHS Digital, Statistics on NHS Stop Smoking Services 2005-2017), of which 71-72% are
    CO-verified (same series): 0.50 and 0.50 x 0.71 = 0.355 by hand. The 2012 quit dates are
    Sheffield's 6,536 of 2012/13 times the dated volume at the start of 2012 (a quarter of the way
    from England's 2011/12 level, 1.127, to 1.0); from 2022/23 they are 6,536 x 0.182, England's
    176,566 quit dates of 2022/23 chained from Sheffield's 2013/14 count (NHS Digital)."""
    volume = 1.127 + (1.0 - 1.127) * 0.25
    assert value(baseline(), "four_week_quit_rate", 2012) == pytest.approx(0.50)
    assert value(baseline(), "quit_dates", 2012) == pytest.approx(6536 * volume)
    assert value(baseline(), "four_week_quits", 2012) == pytest.approx(6536 * volume * 0.50)
    assert value(baseline(), "co_validated_four_week_quits", 2012) == pytest.approx(
        6536 * volume * 0.355
    )
    assert value(baseline(), "quit_dates", 2025) == pytest.approx(6536 * 0.182, rel=0.01)
    # 52-week survival of truly abstinent four-week quitters: Wanless (2004) 30-40%.
    assert value(baseline(), "survival", 2012) == pytest.approx(0.40)


@pytest.mark.parametrize(
    "name", ["baseline", "quit-count-blame", "pss-outcomes", "quit-rate-blame"]
)
def test_survival_stays_within_the_evidence(name: str) -> None:
    """No quitter's abstinence is made permanent: 52-week survival of four-week quitters stays
    at or below the top of the Wanless range (40%) times the best advice quality (x1.4), far
    from 1, in every regime; it rises only with advice quality."""
    run = STUDY.run_all(name)["survival"].to_numpy()
    assert run.max() <= 0.40 * 1.4
    assert run.min() > 0


def test_routine_and_manual_prevalence_ratio_matches_ons() -> None:
    """UK smoking prevalence in routine and manual occupations against all adults (ONS, Adult
    smoking habits in the UK, APS): 25.5% against 14.7% in 2018 (1.73) and 23.4% against 14.1% in
    2019 (1.66); the calibrated model's ratio is within 0.1 of each. The 2012 ratio is set from
    the General Lifestyle Survey's 33% against 20% (1.65), so R&M prevalence starts at 0.21 x
    1.65 by hand."""
    assert value(baseline(), "rm_prevalence", 2012) == pytest.approx(0.21 * 1.65)
    assert abs(value(baseline(), "rm_prevalence_ratio", 2018.5) - 25.5 / 14.7) < 0.1
    assert abs(value(baseline(), "rm_prevalence_ratio", 2019.5) - 23.4 / 14.1) < 0.1


def test_the_groups_add_up_to_the_city() -> None:
    """Prevalence over all adults is the adult-weighted mean of the two groups' prevalences, and
    R&M smokers smoke more than the rest throughout."""
    run = baseline()
    shares = run["group_adults[routine_manual]"] / run["adults"]
    mean = shares * run["rm_prevalence"] + (1 - shares) * run["other_prevalence"]
    assert np.allclose(mean.to_numpy(), run["prevalence"].to_numpy())
    assert (run["rm_prevalence"] > run["other_prevalence"]).all()


def test_service_share_of_the_decline_is_below_the_england_estimate() -> None:
    """Song et al. (2020) attribute 0.11 of England's 0.72 points a year (about 15%) of the
    2001-2016 decline to the service. Sheffield's service sets few quit dates after 2013 (NHS
    Digital's dated volumes), so the model's share of the 2012-2022 decline is smaller: positive
    but below 15% (README: validation)."""
    without = ps.simulate(model(), {"service_quit_dates": 0}, method="euler")
    decline = value(baseline(), "prevalence", 2012) - value(baseline(), "prevalence", 2022)
    service = value(without, "prevalence", 2022) - value(baseline(), "prevalence", 2022)
    assert 0 < service / decline < 0.15


def test_adult_population_stays_about_level() -> None:
    """The adult population is held near its 470,000 [A] so prevalence changes come from the
    smoking flows, not from growth of the denominator."""
    adults = baseline()["adults"]
    assert adults.min() > 0.97 * 470_000
    assert adults.max() < 1.03 * 470_000


# -- targets, gaming and the scorecard -------------------------------------------------------


@pytest.mark.parametrize("name", ["quit-count-target", "quit-count-blame", "quit-count-learning"])
def test_the_reported_count_never_falls_below_the_true_count(name: str) -> None:
    """Counting quits beyond the standard self-report moves the returned four-week count up,
    never down, in any culture, and the CO-validated share of the returned count falls below the
    71% of standard practice (NHS Digital SSS); how far apart the ledgers end is for the runs to
    show."""
    result = scenario(name)
    reported = result["reported_four_week_quits"].to_numpy()
    true = result["four_week_quits"].to_numpy()
    assert (reported >= true - 1e-9).all()
    assert reported[-1] > true[-1]
    assert value(result, "reported_co_verified_share", 2035) < 0.71


@pytest.mark.parametrize("name", ["quit-count-target", "quit-count-blame", "quit-count-learning"])
def test_the_counts_move_smoothly_while_the_target_presses(name: str) -> None:
    """The service's capacity is a first-order adjustment integrated by Euler: a capacity time
    shorter than the step overshoots at every step, and the count then alternates about its
    target. Its range starts at two steps, and while the target presses (2017-2022) the
    step-to-step change of either ledger turns from rise to fall at most twice."""
    capacity = next(p for p in model().parameters if p.name == "capacity_time")
    assert capacity.range is not None
    assert capacity.range[0] >= 2 * model().time.dt
    for ledger in ("reported_four_week_quits", "four_week_quits"):
        series = scenario(name)[ledger]
        pressed = np.asarray(series.loc[2017:2022], dtype=float).ravel()
        steps = np.diff(pressed)
        turns = np.count_nonzero(np.sign(steps[1:]) * np.sign(steps[:-1]) < 0)
        assert turns <= 2, (ledger, turns)


def test_volume_over_quality_signature() -> None:
    """Bolton PCT (Hansard 14 Oct 2009): quit dates x2.45 while the success rate fell 75% -> 41%.
    Under the count target the model's quit dates rise and the four-week rate falls (domain
    reference §2.7: count up, rate down); the size of each is for the runs to show."""
    blame, base = scenario("quit-count-blame"), scenario("baseline")
    assert value(blame, "quit_dates", 2020) > value(base, "quit_dates", 2020)
    assert value(blame, "four_week_quit_rate", 2020) < value(base, "four_week_quit_rate", 2020)


def test_rate_target_parks_the_hard_to_help() -> None:
    """Cream-skimming (domain reference §5 Model A gaming (iii); Rees, Whitworth & Carter 2013 on
    creaming and parking): under a four-week rate target the rate over the clients counted is
    above the rate over all clients, and the hard-to-help clients' rate falls below the
    0.50 x 0.8 = 0.40 of the run without a target (by hand)."""
    result = scenario("quit-rate-blame")
    row = result.scorecard().row("four_week_quit_rate")
    assert row.reported > row.true
    assert value(scenario("baseline"), "hard_to_help_quit_rate", 2020) == pytest.approx(0.40)
    assert value(result, "hard_to_help_quit_rate", 2020) < 0.40


def test_no_target_means_no_gaming() -> None:
    """Without a target the gaming efforts stay exactly 0 and reported equals true."""
    base = scenario("baseline")
    assert float(np.abs(base["volume_effort"].to_numpy()).max()) == 0
    assert float(np.abs(base["myopia_effort"].to_numpy()).max()) == 0
    assert float(np.abs(base["creaming_effort"].to_numpy()).max()) == 0
    assert (base["reported_quit_rate"] == base["four_week_quit_rate"]).all()
    assert (base["reported_four_week_quits"] == base["four_week_quits"]).all()


@pytest.mark.parametrize("name", ["quit-count-blame", "quit-rate-blame", "pss-outcomes"])
def test_the_survey_prevalence_is_never_gamed(name: str) -> None:
    """Prevalence is the Annual Population Survey's self-reported figure, which the service
    neither runs nor records: its reported ledger equals the true one under every target."""
    row = scenario(name).scorecard().row("prevalence")
    assert row.reported == row.true


def test_prevention_shift_trades_quits_for_prevalence() -> None:
    """Sheffield's 2017 shift of GBP 220,000 from the service to tobacco control (decision
    AIId=14148): fewer four-week quitters (80% of the budget) but lower prevalence by 2030 through
    initiation and attempts (SimSmoke high media campaign, -6.5% / +6.5%)."""
    shift, base = scenario("prevention-shift"), scenario("baseline")
    assert value(shift, "four_week_quits", 2025) == pytest.approx(
        0.8 * value(base, "four_week_quits", 2025), rel=0.01
    )
    assert value(shift, "prevalence", 2030) < value(base, "prevalence", 2030)
    assert value(shift, "prevalence", 2016) == value(base, "prevalence", 2016)


def test_derived_excess_mortality() -> None:
    """About 1,000 smoking deaths a year over 79,260 smokers (smokefreesheffield.org; Sheffield
    tobacco strategy consultation 2016): 0.0126 a year by hand."""
    parameters = {p.name: p.value for p in model().parameters}
    assert math.isclose(parameters["excess_smoker_mortality"], 1000 / 79_260, rel_tol=0.01)
