"""Targets and culture in models and scenarios: the hidden target structure, the gaming
fragment with and without a target, threshold shares, and every bad-target error (API and CLI)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scenario_files import scenario_folder, write
from scipy import stats

import pssc_sim as ps
from pssc_sim.cli import main
from pssc_sim.errors import ExpressionError, ModelError
from pssc_sim.ir.lowering import DEFAULT_CULTURE, hidden
from pssc_sim.scenario import Scenario, ScenarioError, load_scenario
from pssc_sim.scenario.runner import run
from pssc_sim.scenario.targets import SEVERITIES, Target, TargetKind

ROOT = Path(__file__).resolve().parent.parent

# True wait is constant; gaming (a stock) grows with TARGET_PRESSURE x CULTURE and is taken off
# the reported wait. With dt = 1 Euler, the first step closes the whole gap and more.
GAMING = """\
model: gaming
time: {start: 0, stop: 10, dt: 1, units: week}
parameters:
  true_level: {value: 10, range: [7, 12]}
  gaming_rate: 1
  spread: 2
stocks:
  gaming: 0
flows:
  gaming_growth: {to: gaming, rate: TARGET_PRESSURE(wait) * CULTURE * gaming_rate}
auxiliaries:
  wait: true_level
  reported_wait: wait - gaming
  seen_target: TARGET(wait)
  seen_gap: TARGET_GAP(wait)
  seen_pressure: TARGET_PRESSURE(wait)
  count_gap: TARGET_GAP(gaming)
measures:
  wait:
    perspective: outcome
    better: lower
    reported: reported_wait
    distribution: {kind: normal, sd: spread}
  gaming: {perspective: process, better: lower}
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return scenario_folder(tmp_path, "gaming", GAMING)


@pytest.fixture
def model(folder: Path) -> ps.Model:
    return ps.load_model(folder.parent / "models" / "gaming" / "model.yaml")


def wait_target(**changes: object) -> dict[str, object]:
    return {"measure": "wait", "value": 8, "by": 5, "severity": "high", **changes}


# -- the gaming fragment ---------------------------------------------------------------------


def test_without_a_target_true_equals_reported_exactly(model: ps.Model) -> None:
    result = Scenario(model=model, culture=1.0).run()
    np.testing.assert_array_equal(result["wait"], result["wait.reported"])
    for name in ("seen_target", "seen_gap", "seen_pressure", "gaming"):
        assert (result[name] == 0).all()


def test_blame_culture_meets_the_reported_target_and_misses_the_true_one(model: ps.Model) -> None:
    result = Scenario(model=model, targets=[wait_target()], culture=1.0).run()
    # t=0: gap 10 - 8 = 2, pressure 2 x severity 2 x (0.5 + 1) = 6; one Euler step games 6 weeks.
    assert result["seen_target"].tolist() == [8.0] * 11
    assert result["seen_gap"].tolist() == [2.0] + [0.0] * 10
    assert result["seen_pressure"].tolist() == [6.0] + [0.0] * 10
    assert result["wait.reported"].iloc[5] == 4.0 <= 8.0
    assert result["wait"].iloc[5] == 10.0 > 8.0


def test_learning_culture_keeps_the_gap_small(model: ps.Model) -> None:
    result = Scenario(model=model, targets=[wait_target()], culture=0.0).run()
    assert result["seen_pressure"].iloc[0] == 2.0 * 2.0 * 0.5  # still felt, at half weight
    np.testing.assert_array_equal(result["wait"], result["wait.reported"])


def test_the_target_bites_only_from_its_start(model: ps.Model) -> None:
    result = Scenario(model=model, targets=[wait_target(**{"from": 3, "by": 8})], culture=1.0).run()
    assert result["seen_target"].tolist() == [0.0] * 3 + [8.0] * 8
    assert result["seen_gap"].tolist() == [0.0] * 3 + [2.0] + [0.0] * 7
    assert result["wait.reported"].iloc[3] == 10.0
    assert result["wait.reported"].iloc[4] == 4.0


def test_one_model_and_kernel_serve_runs_with_and_without_targets(model: ps.Model) -> None:
    plain = Scenario(model=model).run()
    targeted = Scenario(model=model, targets=[wait_target()]).run()
    assert plain.model is targeted.model


def test_culture_defaults_to_a_documented_value_and_is_a_parameter(model: ps.Model) -> None:
    assert DEFAULT_CULTURE == 0.5
    assert model["CULTURE"].value == 0.5  # type: ignore[attr-defined]
    result = Scenario(model=model, targets=[wait_target()]).run()
    assert result["seen_pressure"].iloc[0] == 2.0 * 2.0 * 1.0


def test_culture_can_be_set_ramped_and_sampled(model: ps.Model) -> None:
    target = [wait_target()]
    by_set = Scenario(model=model, targets=target, set={"CULTURE": 1.0}).run()
    assert by_set["gaming"].iloc[1] == 6.0
    ramped = Scenario(
        model=model,
        targets=target,
        outputs=["CULTURE"],
        interventions=[{"ramp": "CULTURE", "to": 1.0, "from": 0, "until": 10}],
        culture=0.0,
    ).run()
    np.testing.assert_allclose(ramped["CULTURE"], np.linspace(0, 1, 11))
    sampled = Scenario(
        model=model,
        targets=target,
        uncertainty={
            "members": 16,
            "seed": 3,
            "parameters": {"CULTURE": {"distribution": "uniform", "low": 0, "high": 1}},
        },
    ).run()
    culture = sampled.samples["CULTURE"]
    np.testing.assert_allclose(sampled["gaming"].iloc[1], 2.0 * 2.0 * (0.5 + culture) * culture)


def test_models_that_never_read_targets_keep_their_variables() -> None:
    teacup = ps.load_model(ROOT / "models" / "teacup")
    assert teacup.parameter_names == ("room_temperature", "characteristic_time")
    assert not any("__" in a.name for a in teacup.auxiliaries)


def test_hidden_structure_names(model: ps.Model) -> None:
    for part in (
        "target_on",
        "target_value",
        "target_from",
        "target_sign",
        "target_scale",
        "target_share",
        "severity",
        "threshold",
    ):
        assert hidden("wait", part) in model.parameter_names
    assert model[hidden("wait", "target_sign")].value == -1.0  # type: ignore[attr-defined]
    for part in ("target", "target_gap", "target_pressure", "share", "share_reported"):
        assert hidden("wait", part) in model
    assert "wait__target" not in model.visible_variables()


# -- threshold shares --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "mean", "sd", "threshold"),
    [
        ("normal", 10.0, 2.0, 8.0),
        ("normal", 10.0, 2.0, 13.5),
        ("lognormal", 8.0, 4.8, 18.0),
        ("lognormal", 14.0, 8.4, 18.0),
        ("lognormal", 3.0, 0.5, 2.0),
    ],
)
def test_share_below_matches_the_distribution_function(
    tmp_path: Path, kind: str, mean: float, sd: float, threshold: float
) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        f"time: {{stop: 1}}\nparameters: {{m: {mean}, s: {sd}}}\n"
        f"auxiliaries: {{x: m}}\nmeasures:\n  x: {{perspective: outcome, better: "
        f"lower, distribution: {{kind: {kind}, sd: s}}}}\n"
    )
    result = ps.simulate(
        ps.load_model(path), {"x__threshold": threshold}, outputs=["x__share", "x__share_reported"]
    )
    if kind == "normal":
        expected = stats.norm.cdf(threshold, mean, sd)
    else:
        sigma = math.sqrt(math.log(1 + sd**2 / mean**2))
        expected = stats.lognorm.cdf(
            threshold, sigma, scale=math.exp(math.log(mean) - sigma**2 / 2)
        )
    assert abs(result["x__share"].iloc[0] - expected) < 2e-4
    assert result["x__share_reported"].iloc[0] == result["x__share"].iloc[0]


def test_threshold_share_target_drives_gaming_on_the_share(model: ps.Model) -> None:
    # share of N(10, 2) below 11 is 0.69; the target asks 0.9: gap 0.21, pressure x 2 x 1.5.
    target = {
        "measure": "wait",
        "kind": "threshold share",
        "threshold": 11,
        "value": 0.9,
        "by": 5,
        "severity": "high",
    }
    scenario = Scenario(model=model, targets=[target], culture=1.0, outputs=["seen_gap"])
    result = run(scenario, record=["wait__share"])
    share = float(stats.norm.cdf(11, 10, 2))
    assert result["wait__share"].iloc[0] == pytest.approx(share, abs=2e-4)
    assert result["seen_gap"].iloc[0] == pytest.approx(0.9 - share, abs=2e-4)


def test_count_target_compares_the_rate_over_the_period(model: ps.Model) -> None:
    target = {"measure": "gaming", "kind": "count", "value": 30, "per": 4, "by": 5}
    result = Scenario(model=model, targets=[target, wait_target()], culture=1.0).run()
    # At least 30 per 4 weeks (a count is "at least" whatever the measure's direction):
    # gap = 30 - 4 x gaming, with gaming 0 at t=0 and 6 from t=1.
    assert result["count_gap"].tolist()[:3] == [30.0, 6.0, 6.0]
    assert Target("g", TargetKind.COUNT, 5, 1, per="weeks").period(model.time) == 1.0


# -- scenario files -----------------------------------------------------------------------------


def test_targets_and_culture_read_from_files_and_layer(folder: Path) -> None:
    write(
        folder,
        """\
        model: gaming
        culture: 0.9
        targets:
          - {measure: wait, value: 8, by: 5, severity: high, consequence: named and shamed}
        """,
        "parent",
    )
    child = write(
        folder,
        """\
        extends: parent
        targets:
          - {measure: wait, value: 9, by: 6, from: 1, severity: 0.5}
        """,
        "child",
    )
    scenario = load_scenario(child)
    assert scenario.culture == 0.9
    assert scenario.targets == (Target("wait", TargetKind.LEVEL, 9.0, 6.0, 1.0, 0.5),)
    again = Scenario(
        **{k: v for k, v in scenario.to_document().items() if k in ("targets", "culture")},
        model=scenario.model,
        folder=scenario.folder,
    )
    assert again.targets == scenario.targets
    assert again.culture == 0.9
    assert SEVERITIES == {"low": 0.5, "medium": 1.0, "high": 2.0}


def test_with_targets_replaces_by_measure(model: ps.Model) -> None:
    scenario = Scenario(model=model).with_targets(wait_target()).with_targets(wait_target(value=9))
    assert [t.value for t in scenario.targets] == [9.0]
    assert scenario.without_targets().targets == ()
    assert scenario.with_culture(0.2).culture == 0.2


def test_example_scenarios_flatter_only_the_reported_share() -> None:
    """Gaming moves the reported share of waits under the threshold up, never down, in either
    culture; which culture ends with the better true share is for the runs to show."""
    folder = ROOT / "scenarios" / "waiting_list"
    for name in ("target-blame.yaml", "target-learning.yaml"):
        result = run(
            load_scenario(folder / name), record=["mean_wait__share_reported", "mean_wait__share"]
        )
        reported = np.asarray(result["mean_wait__share_reported"], dtype=float)
        true = np.asarray(result["mean_wait__share"], dtype=float)
        assert np.all(reported >= true - 1e-12)
        assert reported[-1] > true[-1]


# -- errors -----------------------------------------------------------------------------------

BAD = {
    "unknown measure": (
        "targets: [{measure: wiat, value: 8, by: 5}]",
        r"s\.yaml: targets\[0\]\.measure: unknown measure 'wiat'.*Did you mean "
        r"'wait'\?",
    ),
    "date after the run": (
        "targets: [{measure: wait, value: 8, by: 50}]",
        r"s\.yaml: targets\[0\]\.by: the time 50 is outside the run "
        r"\(0 to 10\)",
    ),
    "start before the run": (
        "targets: [{measure: wait, value: 8, by: 5, from: -1}]",
        r"s\.yaml: targets\[0\]\.from: the time -1 is outside the run",
    ),
    "start after the date": (
        "targets: [{measure: wait, value: 8, by: 5, from: 6}]",
        r"s\.yaml: targets\[0\]\.from: the target starts after its date",
    ),
    "share without distribution": (
        "targets: [{measure: gaming, kind: threshold share, threshold: 1, value: 0.5, by: 5}]",
        r"s\.yaml: targets\[0\]\.kind: a threshold share needs the measure's distribution, and "
        r"'gaming' declares none",
    ),
    "share above one": (
        "targets: [{measure: wait, kind: threshold share, threshold: 1, value: 92, by: 5}]",
        r"s\.yaml: targets\[0\]\.value: a threshold share is a share of cases from 0 to 1 "
        r"\(got 92\)\. Write 0\.92 for 92%",
    ),
    "share without threshold": (
        "targets: [{measure: wait, kind: threshold share, value: 0.9, by: 5}]",
        r"s\.yaml: targets\[0\]\.threshold: a threshold share target needs the threshold",
    ),
    "value as text": (
        "targets: [{measure: wait, value: eight, by: 5}]",
        r"s\.yaml: targets\[0\]\.value: expected a number \(got 'eight'\)",
    ),
    "negative count": (
        "targets: [{measure: gaming, kind: count, value: -1, by: 5}]",
        r"s\.yaml: targets\[0\]\.value: a count is at least 0",
    ),
    "unknown kind": (
        "targets: [{measure: wait, kind: levle, value: 8, by: 5}]",
        r"s\.yaml: targets\[0\]\.kind: unknown kind 'levle'\. Did you mean "
        r"'level'\?",
    ),
    "unknown severity": (
        "targets: [{measure: wait, value: 8, by: 5, severity: hgih}]",
        r"s\.yaml: targets\[0\]\.severity: unknown severity 'hgih'\. Did you "
        r"mean 'high'\?",
    ),
    "negative severity": (
        "targets: [{measure: wait, value: 8, by: 5, severity: -2}]",
        r"s\.yaml: targets\[0\]\.severity: severity must be >= 0",
    ),
    "unknown key": (
        "targets: [{measure: wait, value: 8, by: 5, sevrity: high}]",
        r"s\.yaml: targets\[0\]\.sevrity: unknown key 'sevrity'\. Did you mean "
        r"'severity'\?",
    ),
    "missing date": (
        "targets: [{measure: wait, value: 8}]",
        r"s\.yaml: targets\[0\]\.by: 'by' is required",
    ),
    "period unit": (
        "targets: [{measure: gaming, kind: count, value: 1, per: year, by: 5}]",
        r"s\.yaml: targets\[0\]\.per: the period 'year' is not the model's time "
        r"unit",
    ),
    "period on a level": (
        "targets: [{measure: wait, value: 8, per: 2, by: 5}]",
        r"s\.yaml: targets\[0\]\.per: only count targets take a period",
    ),
    "two targets on a measure": (
        "targets: [{measure: wait, value: 8, by: 5}, {measure: wait, value: 7, by: 6}]",
        r"s\.yaml: targets\[1\]\.measure: a second target on 'wait'",
    ),
    "targets not a list": ("targets: {measure: wait}", r"s\.yaml: targets: expected a list"),
    "culture above one": (
        "culture: 2",
        r"s\.yaml: culture: culture runs from 0 \(learning\) "
        r"to 1 \(blame\) \(got 2\)",
    ),
    "culture as text": ("culture: blame", r"s\.yaml: culture: expected a number"),
}


@pytest.mark.parametrize(("text", "pattern"), list(BAD.values()), ids=list(BAD))
def test_bad_targets_raise_one_clear_error(folder: Path, text: str, pattern: str) -> None:
    path = write(folder, f"model: gaming\n{text}\n")
    with pytest.raises(ScenarioError, match=pattern):
        load_scenario(path)


@pytest.mark.parametrize(("text", "pattern"), list(BAD.values()), ids=list(BAD))
def test_bad_targets_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str], folder: Path, text: str, pattern: str
) -> None:
    path = write(folder, f"model: gaming\n{text}\n")
    for command in ("run", "scorecard"):
        status = main([command, str(path)])
        err = capsys.readouterr().err
        assert status == 2
        assert err.startswith("pssc: error: ")
        assert err.count("\n") == 1
        assert "Traceback" not in err


def test_bad_targets_in_python_name_the_argument(model: ps.Model) -> None:
    with pytest.raises(ScenarioError, match=r"^targets\[0\]\.severity: unknown severity"):
        Scenario(model=model, targets=[wait_target(severity="huge")])
    with pytest.raises(ScenarioError, match=r"^targets\[0\]\.measure: unknown measure 'wiat'"):
        Scenario(model=model, targets=[wait_target(measure="wiat")]).run()
    with pytest.raises(ScenarioError, match=r"^culture: culture runs from 0"):
        Scenario(model=model).with_culture(-0.1)


MODEL_ERRORS = {
    "unknown measure": (
        "auxiliaries: {a: TARGET_GAP(wiat)}",
        r"auxiliaries\.a\.equation: TARGET_GAP: unknown measure 'wiat' "
        r"\(column 12\)\. Did you mean 'wait'\?",
    ),
    "not a name": (
        "auxiliaries: {a: TARGET(2 * wait)}",
        r"auxiliaries\.a\.equation: TARGET takes the name of one measure",
    ),
    "two arguments": (
        "auxiliaries: {a: 'TARGET_PRESSURE(wait, wait)'}",
        r"TARGET_PRESSURE takes the name of one measure",
    ),
    "culture as a name": (
        "auxiliaries: {CULTURE: 1}",
        r"auxiliaries\.CULTURE: the name 'CULTURE' is reserved",
    ),
    "distribution kind": (
        "measures: {wait: {perspective: outcome, better: lower, "
        "distribution: {kind: gamma, sd: 1}}}",
        r"measures\.wait\.distribution\.kind: unknown kind 'gamma'",
    ),
    "distribution key": (
        "measures: {wait: {perspective: outcome, better: lower, "
        "distribution: {kind: normal, sdev: 1}}}",
        r"measures\.wait\.distribution\.sdev: unknown key 'sdev'\. Did you "
        r"mean 'sd'\?",
    ),
    "distribution sd": (
        "measures: {wait: {perspective: outcome, better: lower, distribution: {kind: normal}}}",
        r"measures\.wait\.distribution\.sd: 'sd' is required",
    ),
}


@pytest.mark.parametrize(("text", "pattern"), list(MODEL_ERRORS.values()), ids=list(MODEL_ERRORS))
def test_bad_target_calls_in_models(tmp_path: Path, text: str, pattern: str) -> None:
    base = "time: {stop: 1}\nstocks: {wait: 1}\n"
    if not text.startswith("measures"):
        base += "measures: {wait: {perspective: outcome, better: lower}}\n"
    path = tmp_path / "m.yaml"
    path.write_text(base + text + "\n")
    with pytest.raises((ExpressionError, ModelError), match=pattern):
        ps.load_model(path)
