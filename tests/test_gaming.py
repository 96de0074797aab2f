"""The library of gaming mechanisms: each mechanism's signature (domain reference 2.7) on a small
host model, without a target, under blame (0.9) and learning (0.1) cultures and switched off;
and the `pssc mechanisms` command. The laws of the gaming share itself are in
test_gaming_laws.py."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pssc_sim.analysis.checks import check_model
from pssc_sim.cli import main
from pssc_sim.parse import load_model
from pssc_sim.parse.documents import load_fragment
from pssc_sim.parse.fragments import LIBRARY, library_mechanisms
from pssc_sim.scenario import Scenario
from pssc_sim.scenario.runner import ScenarioResult

BLAME, LEARNING = 0.9, 0.1

HEADER = "time: {start: 0, stop: 52, dt: 0.25, units: week}\n"

HOSTS: dict[str, str] = {
    # Response times spread lognormally around a mean of 10 minutes (sd 3); a threshold-share
    # target: at least 83% within 12 minutes. The true share is about 78%.
    "threshold_time_correction": """
        parameters:
          base_time: {value: 10, units: minute, source: test}
          spread: {value: 3, units: minute, source: test}
        auxiliaries:
          response_time: {equation: base_time, units: minute}
        include:
          game:
            mechanism: threshold_time_correction
            inputs: {measure: response_time}
            parameters: {adjustment_time: {value: 2, source: test}}
        measures:
          response_time:
            perspective: outcome
            better: lower
            units: minute
            distribution: {kind: lognormal, sd: spread, reported_share: game_reported_share}
        """,
    # A response time of 10 minutes against a level target of 9.
    "clock_start_offset": """
        parameters:
          base_time: {value: 10, units: minute, source: test}
        auxiliaries:
          response_time: {equation: base_time, units: minute}
        include:
          game:
            mechanism: clock_start_offset
            inputs: {measure: response_time}
            parameters: {adjustment_time: {value: 2, source: test}}
        measures:
          response_time: {perspective: outcome, better: lower, units: minute,
                          reported: game_reported}
        """,
    # 62% of 100 calls a week in the category are reached in time; recoded borderline calls
    # are reached in time 95% of the time. Target: a pass rate of 70%.
    "reclassification": """
        parameters:
          calls: {value: 100, units: call/week, source: test}
          pass_rate: {value: 0.62, units: dimensionless, source: test}
          easy_pass_rate: {value: 0.95, units: dimensionless, source: test}
        auxiliaries:
          category_pass_rate: {equation: pass_rate, units: dimensionless}
        include:
          game:
            mechanism: reclassification
            inputs: {measure: category_pass_rate, count: calls, moved_pass_rate: easy_pass_rate}
            parameters: {adjustment_time: {value: 2, source: test}}
        measures:
          category_pass_rate: {perspective: process, better: higher, units: dimensionless,
                               reported: game_reported}
        """,
    # 40% of referrals are easy to help (60% find work), 60% hard (20%). Target: 42%. Parked
    # people are not served: the served stock counts people served.
    "creaming": """
        parameters:
          referrals: {value: 50, units: person/week, source: test}
          easy_share: {value: 0.4, units: dimensionless, source: test}
          easy_rate: {value: 0.6, units: dimensionless, source: test}
          hard_rate: {value: 0.2, units: dimensionless, source: test}
        stocks:
          served: {initial: 0, units: person}
        flows:
          starts: {to: served, rate: referrals * game_served_share, units: person/week}
        include:
          game:
            mechanism: creaming
            inputs: {measure: job_rate, easy_share: easy_share, easy_rate: easy_rate,
                     hard_rate: hard_rate}
            parameters: {adjustment_time: {value: 2, source: test}}
        measures:
          job_rate: {perspective: outcome, better: higher, units: dimensionless,
                     true: game_population_rate, reported: game_served_rate}
        """,
    # 100 quit attempts a week succeed 75% of the time; a count target of 180 attempts a week.
    "volume_over_quality": """
        parameters:
          base_attempts: {value: 100, units: person/week, source: test}
          base_success: {value: 0.75, units: dimensionless, source: test}
        auxiliaries:
          attempts: {equation: base_attempts * game_volume_multiplier, units: person/week}
          success_rate: {equation: base_success * game_quality_multiplier,
                         units: dimensionless}
          quitters: {equation: attempts * success_rate, units: person/week}
        include:
          game:
            mechanism: volume_over_quality
            inputs: {measure: attempts}
            parameters: {adjustment_time: {value: 2, source: test}}
        measures:
          attempts: {perspective: process, better: higher, units: person/week}
          success_rate: {perspective: outcome, better: higher, units: dimensionless}
        """,
    # 60 of 100 delayed days are attributed to the hospital; target: at most 40.
    "attribution_shifting": """
        parameters:
          delayed_days: {value: 100, units: day/week, source: test}
          hospital_share: {value: 0.6, units: dimensionless, source: test}
        auxiliaries:
          hospital_delays: {equation: delayed_days * hospital_share, units: day/week}
        include:
          game:
            mechanism: attribution_shifting
            inputs: {measure: hospital_delays, total: delayed_days}
            parameters: {adjustment_time: {value: 2, source: test}}
        measures:
          hospital_delays: {perspective: outcome, better: lower, units: day/week,
                            reported: game_reported}
        """,
    # A provider could deliver 100 a week; the target starts at 80 and the centre ratchets it.
    "ratchet": """
        parameters:
          capacity: {value: 100, units: case/week, source: test}
        auxiliaries:
          performance: {equation: game_delivered, units: case/week}
        include:
          game:
            mechanism: ratchet
            inputs: {measure: performance, potential: capacity}
            parameters: {adjustment_time: {value: 2, source: test},
                         review_time: {value: 52, source: test}}
        measures:
          performance: {perspective: process, better: higher, units: case/week}
        """,
    # Consumption emissions fall 1% a year from 100; 40% of them are imported (leakable).
    # Target: at most 70 reported by the end.
    "boundary_choice": """
        parameters:
          decline: {value: 0.01, units: 1/year, source: test}
          import_share: {value: 0.4, units: dimensionless, source: test}
        stocks:
          consumption: {initial: 100, units: Mt/year}
        flows:
          reduction: {from: consumption, rate: decline * consumption, units: Mt/year/year}
        include:
          game:
            mechanism: boundary_choice
            inputs: {measure: consumption, leakable: import_share * consumption}
            parameters: {adjustment_time: {value: 1, source: test}}
        measures:
          consumption: {perspective: outcome, better: lower, units: Mt/year,
                        reported: game_reported}
        """,
    # A prevalence of 22%; target: at most 18%.
    "participation_bias": """
        parameters:
          true_prevalence: {value: 0.22, units: dimensionless, source: test}
        auxiliaries:
          prevalence: {equation: true_prevalence, units: dimensionless}
        include:
          game:
            mechanism: participation_bias
            inputs: {measure: prevalence}
            parameters: {adjustment_time: {value: 2, source: test}}
        measures:
          prevalence: {perspective: outcome, better: lower, units: dimensionless,
                       reported: game_reported}
        """,
    # A four-week quit rate of 35%, of which 35% last a year; target: 45% at four weeks.
    "myopia": """
        parameters:
          base_rate: {value: 0.35, units: dimensionless, source: test}
          lasting: {value: 0.35, units: dimensionless, source: test}
        auxiliaries:
          four_week_rate: {equation: base_rate, units: dimensionless}
        include:
          game:
            mechanism: myopia
            inputs: {measure: four_week_rate, persistence: lasting}
            parameters: {adjustment_time: {value: 2, source: test}}
        measures:
          four_week_rate: {perspective: outcome, better: higher, units: dimensionless,
                           reported: game_short_window}
        """,
}

TARGETS: dict[str, dict[str, Any]] = {
    "threshold_time_correction": {
        "measure": "response_time",
        "kind": "threshold share",
        "threshold": 12,
        "value": 0.83,
        "by": 52,
    },
    "clock_start_offset": {"measure": "response_time", "value": 9, "by": 52},
    "reclassification": {"measure": "category_pass_rate", "value": 0.7, "by": 52},
    "creaming": {"measure": "job_rate", "value": 0.42, "by": 52},
    "volume_over_quality": {
        "measure": "attempts",
        "kind": "count",
        "value": 180,
        "per": 1,
        "by": 52,
    },
    "attribution_shifting": {"measure": "hospital_delays", "value": 40, "by": 52},
    "ratchet": {"measure": "performance", "value": 80, "by": 52},
    "boundary_choice": {"measure": "consumption", "value": 70, "by": 30},
    "participation_bias": {"measure": "prevalence", "value": 0.18, "by": 52},
    "myopia": {"measure": "four_week_rate", "value": 0.45, "by": 52},
}
# Mechanisms whose signature is a reported value that meets the target while the true value
# misses it; the others change real behaviour (volume, ratchet).
REPORTING = (
    "threshold_time_correction",
    "clock_start_offset",
    "reclassification",
    "creaming",
    "attribution_shifting",
    "boundary_choice",
    "participation_bias",
    "myopia",
)


@pytest.fixture(scope="module")
def hosts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("hosts")
    paths = {}
    for name, body in HOSTS.items():
        header = (
            HEADER.replace("week", "year").replace("52", "30").replace("0.25", "0.125")
            if name == "boundary_choice"
            else HEADER
        )
        path = folder / f"{name}.yaml"
        path.write_text(f"model: {name}\n{header}{textwrap.dedent(body)}")
        paths[name] = path
    return paths


def scenario(
    path: Path, mechanism: str, *, target: bool = True, culture: float = BLAME, **switches: str
) -> Scenario:
    base = Scenario(model=path, culture=culture, mechanisms=switches or None)
    return base.with_targets(TARGETS[mechanism]) if target else base


def values(result: ScenarioResult, name: str) -> np.ndarray:
    return np.asarray(result[name], dtype=float)


def columns(path: Path, mechanism: str) -> tuple[str, str]:
    """The recorded reported and true value the target judges."""
    if mechanism == "threshold_time_correction":
        return "game_reported_share", "game_share_below"
    name = TARGETS[mechanism]["measure"]
    measure = next(m for m in load_model(path).measures if m.name == name)
    return measure.reported_column, measure.true_column


def test_library_holds_the_ten_mechanisms() -> None:
    assert library_mechanisms() == tuple(sorted(HOSTS))


@pytest.mark.parametrize("mechanism", sorted(HOSTS))
def test_fragment_is_documented(mechanism: str) -> None:
    fragment = load_fragment(LIBRARY / f"{mechanism}.yaml")
    assert fragment.name == mechanism
    assert fragment.title[0].isupper()
    for text in (fragment.description, fragment.signature):
        assert len(text) > 50
    assert len(fragment.sources) >= 2
    assert fragment.inputs[0].name == "measure"
    for name, entry in fragment.parameters.items():
        assert {"value", "units", "source", "description"} <= set(entry), name
        if "[time]" in entry["units"]:
            continue  # in the host's time unit: no range fits every host
        low, high = entry["range"]
        assert low <= entry["value"] <= high, name
    assert "effort" in fragment.outputs


@pytest.mark.parametrize("mechanism", sorted(HOSTS))
def test_host_with_mechanism_checks_clean(hosts: Mapping[str, Path], mechanism: str) -> None:
    report = check_model(load_model(hosts[mechanism]), run=False)
    assert report.findings == ()


@pytest.mark.parametrize("mechanism", sorted(HOSTS))
def test_without_target_reported_equals_true_exactly(
    hosts: Mapping[str, Path], mechanism: str
) -> None:
    result = scenario(hosts[mechanism], mechanism, target=False).run()
    assert np.all(values(result, "game_effort") == 0.0)
    reported, true = columns(hosts[mechanism], mechanism)
    np.testing.assert_array_equal(values(result, reported), values(result, true))


def flattery(path: Path, mechanism: str, result: ScenarioResult) -> np.ndarray:
    """How much better the reported value looks than the true one, at every step."""
    reported, true = columns(path, mechanism)
    better = next(
        m for m in load_model(path).measures if m.name == TARGETS[mechanism]["measure"]
    ).better.value
    sign = 1.0 if better == "higher" or mechanism == "threshold_time_correction" else -1.0
    return sign * (values(result, reported) - values(result, true))


@pytest.mark.parametrize("mechanism", REPORTING)
def test_gaming_only_ever_flatters_the_reported_value(
    hosts: Mapping[str, Path], mechanism: str
) -> None:
    result = scenario(hosts[mechanism], mechanism).run()
    gap = flattery(hosts[mechanism], mechanism, result)
    assert np.all(gap >= -1e-12)
    assert gap[-1] > 0
    assert np.all((values(result, "game_effort") >= 0) & (values(result, "game_effort") <= 1))


@pytest.mark.parametrize("mechanism", REPORTING)
def test_culture_acts_through_the_pressure(hosts: Mapping[str, Path], mechanism: str) -> None:
    """A blame culture makes a miss weigh more (the pressure), so the reported value never
    flatters less than under a learning culture, with the same target and audit."""
    path = hosts[mechanism]
    blame = flattery(path, mechanism, scenario(path, mechanism).run())
    learning = flattery(path, mechanism, scenario(path, mechanism, culture=LEARNING).run())
    assert np.all(blame >= learning - 1e-12)
    assert blame[-1] > learning[-1]


@pytest.mark.parametrize("mechanism", sorted(HOSTS))
def test_switched_off_leaves_no_gap(hosts: Mapping[str, Path], mechanism: str) -> None:
    switched = scenario(hosts[mechanism], mechanism, game="off")
    assert switched.set == {"game_active": 0.0}
    result = switched.run()
    assert np.all(values(result, "game_effort") == 0.0)
    reported, true = columns(hosts[mechanism], mechanism)
    np.testing.assert_array_equal(values(result, reported), values(result, true))


@pytest.mark.parametrize("mechanism", sorted(HOSTS))
def test_no_opportunity_leaves_no_gap_under_a_harsh_target(
    hosts: Mapping[str, Path], mechanism: str
) -> None:
    """With the opportunity to game at zero the ledgers agree exactly, whatever the target,
    severity and culture."""
    target = dict(TARGETS[mechanism], severity=2.0)
    result = (
        Scenario(model=hosts[mechanism], culture=1.0)
        .with_targets(target)
        .with_set(game_opportunity=0)
        .run()
    )
    assert np.all(values(result, "game_effort") == 0.0)
    reported, true = columns(hosts[mechanism], mechanism)
    np.testing.assert_array_equal(values(result, reported), values(result, true))


@pytest.mark.parametrize("mechanism", REPORTING)
@pytest.mark.parametrize(
    ("lever", "low", "high", "direction"),
    [("severity", 0.5, 2.0, 1), ("game_detection", 0.0, 0.5, -1), ("game_sanction", 0.5, 2.0, -1)],
)
def test_severity_detection_and_sanction_move_gaming(
    hosts: Mapping[str, Path], mechanism: str, lever: str, low: float, high: float, direction: int
) -> None:
    """Gaming effort never falls as the target's severity rises, and never rises as detection
    or the sanction rise; each of them moves it."""

    def effort(value: float) -> np.ndarray:
        base = Scenario(model=hosts[mechanism], culture=BLAME)
        if lever == "severity":
            return values(
                base.with_targets(dict(TARGETS[mechanism], severity=value)).run(), "game_effort"
            )
        run = base.with_targets(TARGETS[mechanism]).with_set(**{lever: value}).run()
        return values(run, "game_effort")

    before, after = effort(low), effort(high)
    assert np.all(direction * (after - before) >= -1e-12)
    assert direction * (after[-1] - before[-1]) > 0


def test_switch_by_set_equals_switch_by_mechanisms(hosts: Mapping[str, Path]) -> None:
    path = hosts["clock_start_offset"]
    by_key = scenario(path, "clock_start_offset", game="off").run()
    by_set = scenario(path, "clock_start_offset").with_set(game_active=0).run()
    np.testing.assert_array_equal(values(by_key, "game_reported"), values(by_set, "game_reported"))


# -- signatures (domain reference 2.7) -----------------------------------------------------------


def _lognormal_share(x: float, mean: float, sd: float) -> float:
    sigma2 = math.log(1 + sd**2 / mean**2)
    mu = math.log(mean) - sigma2 / 2
    return 0.5 * (1 + math.erf((math.log(x) - mu) / math.sqrt(2 * sigma2)))


def test_threshold_correction_spike_below_and_hole_above(hosts: Mapping[str, Path]) -> None:
    result = scenario(hosts["threshold_time_correction"], "threshold_time_correction").run()
    below = _lognormal_share(12, 10, 3)
    window = _lognormal_share(13, 10, 3) - below
    assert values(result, "game_share_below")[-1] == pytest.approx(below, abs=4e-4)
    assert values(result, "game_share_window")[-1] == pytest.approx(window, abs=4e-4)
    effort = values(result, "game_effort")[-1]
    corrected = values(result, "game_corrected")[-1]
    assert corrected == pytest.approx(effort * window, abs=4e-4)
    # the window empties by what the band just below the threshold gains
    hole = values(result, "game_reported_share_window")[-1]
    assert hole == pytest.approx(values(result, "game_share_window")[-1] - corrected)
    assert values(result, "game_reported_share")[-1] == pytest.approx(below + corrected, abs=4e-4)
    assert 0 < corrected <= window


def test_clock_offset_lowers_the_reported_mean_by_the_offset(hosts: Mapping[str, Path]) -> None:
    result = scenario(hosts["clock_start_offset"], "clock_start_offset").run()
    true, reported = values(result, "response_time"), values(result, "game_reported")
    offset = values(result, "game_offset")
    np.testing.assert_allclose(true - reported, offset, atol=1e-12)
    np.testing.assert_allclose(offset, 2 * values(result, "game_effort"), atol=1e-12)
    assert 0 < offset[-1] <= 2


def test_reclassification_jumps_the_pass_rate_without_true_change(
    hosts: Mapping[str, Path],
) -> None:
    result = scenario(hosts["reclassification"], "reclassification").run()
    true, reported = values(result, "category_pass_rate"), values(result, "game_reported")
    assert np.all(true == 0.62)
    moved = values(result, "game_moved")
    np.testing.assert_allclose(reported, (100 * 0.62 + moved * 0.95) / (100 + moved), atol=1e-12)
    assert reported[-1] > reported[0] == 0.62
    assert values(result, "game_reported_count")[-1] > 100


def test_creaming_raises_the_served_rate_and_lowers_the_hard_to_help(
    hosts: Mapping[str, Path],
) -> None:
    result = scenario(hosts["creaming"], "creaming").run()
    parking = values(result, "game_parking")
    served = values(result, "game_served_rate")
    direct = (0.4 * 0.6 + 0.6 * (1 - parking) * 0.2) / (0.4 + 0.6 * (1 - parking))
    np.testing.assert_allclose(served, direct, atol=1e-12)
    population = values(result, "game_population_rate")
    np.testing.assert_allclose(population, 0.24 + 0.6 * 0.2 * (1 - 0.5 * parking), atol=1e-12)
    assert served[-1] > 0.36 > population[-1]  # 0.36: the rate with nobody parked
    assert values(result, "game_hard_rate_achieved")[-1] < 0.2
    # real behaviour: fewer people served than referred
    assert values(result, "served")[-1] < 50 * 52 * (1 - 0.6 * parking[-1]) + 50


def test_volume_over_quality_count_up_quality_down(hosts: Mapping[str, Path]) -> None:
    result = scenario(hosts["volume_over_quality"], "volume_over_quality").run()
    row = result.scorecard().row("attempts")
    assert row.reported == row.true  # real behaviour: the count is real
    attempts, success = values(result, "attempts"), values(result, "success_rate")
    assert attempts[-1] > attempts[0] == 100
    assert success[-1] < 0.75
    quitters_per_attempt = values(result, "quitters") / attempts
    assert quitters_per_attempt[-1] < quitters_per_attempt[0]
    effort = values(result, "game_effort")[-1]
    assert values(result, "quitters")[-1] == pytest.approx(
        75 * (1 + 1.45 * effort) * (1 - 0.45 * effort)
    )


def test_attribution_moves_the_share_with_the_total_unchanged(hosts: Mapping[str, Path]) -> None:
    result = scenario(hosts["attribution_shifting"], "attribution_shifting").run()
    reported, other = values(result, "game_reported"), values(result, "game_reported_other")
    np.testing.assert_allclose(reported + other, 100, atol=1e-12)
    assert values(result, "game_reported_share")[-1] < values(result, "game_true_share")[-1]
    assert np.all(values(result, "game_true_share") == 0.6)


def test_ratchet_performance_hugs_the_target(hosts: Mapping[str, Path]) -> None:
    blame = scenario(hosts["ratchet"], "ratchet").run()
    learning = scenario(hosts["ratchet"], "ratchet", culture=LEARNING).run()
    slack = {c: values(r, "game_hidden_slack") for c, r in ((BLAME, blame), (LEARNING, learning))}
    assert np.all(slack[BLAME] >= slack[LEARNING] - 1e-12)
    assert slack[BLAME][-1] > 0
    target_now = values(blame, "game_target_now")
    delivered = values(blame, "performance")
    effort = values(blame, "game_effort")
    # the slack withheld is what the effort holds back above the target and its margin
    np.testing.assert_allclose(
        delivered, 100 - effort * np.maximum(0, 100 - target_now * 1.02), atol=1e-9
    )
    assert target_now[-1] > 80  # the target ratchets up
    np.testing.assert_array_equal(np.diff(target_now) >= 0, True)


def test_boundary_reported_falls_faster_than_true(hosts: Mapping[str, Path]) -> None:
    result = scenario(hosts["boundary_choice"], "boundary_choice").run()
    true, reported = values(result, "consumption"), values(result, "game_reported")
    assert reported[-1] / reported[0] < true[-1] / true[0]
    assert true[-1] == pytest.approx(100 * math.exp(-0.3), rel=2e-3)


def test_participation_bias_underestimates_prevalence(hosts: Mapping[str, Path]) -> None:
    result = scenario(hosts["participation_bias"], "participation_bias").run()
    s = values(result, "game_selectivity")
    np.testing.assert_allclose(
        values(result, "game_reported"), 0.22 * (1 - s) / (1 - 0.22 * s), atol=1e-12
    )
    assert values(result, "game_reported")[-1] < 0.22
    assert values(result, "game_participation_rate")[-1] < 0.94


def test_myopia_short_window_up_long_window_unchanged(hosts: Mapping[str, Path]) -> None:
    result = scenario(hosts["myopia"], "myopia").run()
    assert np.all(values(result, "game_long_window") == 0.35 * 0.35)
    short = values(result, "game_short_window")
    assert short[-1] > short[0] == 0.35
    assert values(result, "game_lasting_share")[-1] < 0.35


# -- pssc mechanisms -----------------------------------------------------------------------------


def test_cli_lists_the_library(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mechanisms"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    for name in HOSTS:
        assert f"{name}: " in out
    assert "a spike in the reported-time histogram just below the threshold" in out.lower()


def test_cli_shows_one_mechanism(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mechanisms", "clock_start_offset"]) == 0
    out = capsys.readouterr().out
    assert "measure (measure)" in out
    assert "max_offset = 2" in out
    assert "reported:" in out


def test_cli_unknown_mechanism(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mechanisms", "clock_start"]) == 2
    assert "Did you mean 'clock_start_offset'?" in capsys.readouterr().err
