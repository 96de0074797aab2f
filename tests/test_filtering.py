"""The PSS filtering stage: each candidate measure made the target in turn, against hand
calculations on a small model whose targets close their gap geometrically under Euler; the
waiting-list example against its scorecard; ``pssc filter-measures`` and its JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pssc_sim.cli import main
from pssc_sim.errors import PsscSimError
from pssc_sim.ir.model import Better
from pssc_sim.scenario import Scenario
from pssc_sim.scenario.targets import TargetKind
from pssc_sim.scorecard.filtering import filter_measures, relative_change

ROOT = Path(__file__).resolve().parent.parent

# Pressure on output = gap x severity x (0.5 + CULTURE), split (1 - CULTURE) into effort (true
# output) and CULTURE into gaming (reported output only, and it costs quality). Pressure on
# satisfaction goes into care, which also raises quality. Nothing reads TARGET*(quality).
SCREENING = """\
model: screening
time: {start: 0, stop: 10, dt: 1}
parameters:
  base: {value: 10, range: [8, 12]}
stocks:
  effort: 0
  gaming: 0
  care: 0
flows:
  effort_growth: {to: effort, rate: TARGET_PRESSURE(output) * (1 - CULTURE)}
  gaming_growth: {to: gaming, rate: TARGET_PRESSURE(output) * CULTURE}
  care_growth: {to: care, rate: TARGET_PRESSURE(satisfaction)}
auxiliaries:
  output: base + effort
  reported_output: output + gaming
  quality: 100 - 10 * gaming + care
  satisfaction: 50 + care
measures:
  output: {perspective: outcome, better: higher, reported: reported_output}
  quality: {perspective: outcome, better: higher}
  satisfaction: {perspective: process, better: higher}
"""


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    (tmp_path / "models" / "screening").mkdir(parents=True)
    (tmp_path / "models" / "screening" / "model.yaml").write_text(SCREENING)
    (tmp_path / "scenarios").mkdir()
    path = tmp_path / "scenarios" / "plain.yaml"
    path.write_text("scenario: plain\nmodel: ../models/screening\n")
    return path


def test_default_culture_ranks_against_hand_calculation(scenario_file: Path) -> None:
    # Culture 0.5: pressure equals the gap, so each target closes its gap in one Euler step.
    # output: target 11 (10% over 10); half the gap of 1 goes to effort, half to gaming.
    # End: true output 10.5, reported 11, quality 100 - 10 x 0.5 = 95.
    # satisfaction: target 55; care 5 so satisfaction 55 and quality 105.
    result = filter_measures(scenario_file)
    assert [c.measure for c in result.candidates] == ["satisfaction", "quality", "output"]
    assert [c.rank for c in result.candidates] == [1, 2, 3]
    output = result.candidate("output")
    assert output.target.kind is TargetKind.LEVEL
    assert (output.target.value, output.target.by, output.target.severity) == (
        pytest.approx(11.0),
        10.0,
        1.0,
    )
    assert output.source == "derived"
    assert output.own == pytest.approx(0.05)
    assert output.improvement == pytest.approx((0.05 - 0.05) / 2, abs=1e-12)
    assert output.gap == pytest.approx(0.5 / 10.5)
    assert output.harm == pytest.approx(0.05)
    assert output.score == pytest.approx(0 - 0.5 / 10.5 - 0.05)
    assert (output.met, output.met_true) == (True, False)
    assert [(c.measure, c.relative) for c in output.consequences] == [
        ("quality", pytest.approx(0.05))
    ]
    satisfaction = result.candidate("satisfaction")
    assert satisfaction.own == pytest.approx(0.1)
    assert satisfaction.improvement == pytest.approx((0 + 0.05) / 2)
    assert (satisfaction.gap, satisfaction.harm) == (pytest.approx(0.0), 0.0)
    assert satisfaction.score == pytest.approx(0.025)
    quality = result.candidate("quality")
    assert not quality.responds
    assert (quality.own, quality.improvement, quality.gap, quality.harm) == (0, 0, 0, 0)
    assert quality.target.value == pytest.approx(110.0)


def test_learning_culture_closes_the_gap_geometrically(scenario_file: Path) -> None:
    # Culture 0: pressure is half the gap, all of it effort: the gap halves each step, so after
    # 10 steps effort = 1 - 2**-10 and care = 5 (1 - 2**-10); nothing is gamed.
    left = 1 - 2.0**-10
    result = filter_measures(scenario_file, culture=0.0)
    assert result.culture == 0.0
    assert [c.measure for c in result.candidates] == ["output", "satisfaction", "quality"]
    output = result.candidate("output")
    assert output.own == pytest.approx(left / 10)
    assert output.improvement == pytest.approx(left / 20)
    assert (output.gap, output.harm) == (pytest.approx(0.0, abs=1e-12), 0.0)
    assert result.candidate("satisfaction").improvement == pytest.approx(5 * left / 100 / 2)


def test_blame_culture_games_everything(scenario_file: Path) -> None:
    # Culture 1: pressure 1.5 x the gap, all of it gaming: reported 11.5, true 10, quality 85.
    output = filter_measures(scenario_file, ["output"], culture=1.0).candidate("output")
    assert output.own == pytest.approx(0.0, abs=1e-12)
    assert output.improvement == pytest.approx(-0.15 / 2)
    assert output.gap == pytest.approx(1.5 / 10)
    assert output.harm == pytest.approx(0.15)
    assert output.score == pytest.approx(-0.075 - 0.15 - 0.15)


def test_weights_improvement_and_severity_are_overridable(scenario_file: Path) -> None:
    result = filter_measures(
        scenario_file, ["output"], gap_weight=0.0, harm_weight=2.0, improvement=0.2, severity="low"
    )
    output = result.candidate("output")
    # Severity low halves the pressure: 0.5 x gap at culture 0.5, split evenly; target 12, gap
    # 2 halves each step: effort = gaming = (2 / 2)(1 - 2**-10) at the end.
    moved = 1 - 2.0**-10
    assert (output.target.value, output.target.severity) == (pytest.approx(12.0), 0.5)
    assert output.own == pytest.approx(moved / 10)
    assert output.harm == pytest.approx(10 * moved / 100)
    assert output.score == pytest.approx(output.improvement - 2 * output.harm)
    assert "improvement - 0 x gap - 2 x harm" in result.to_text()


def test_scenario_and_given_targets_take_precedence(scenario_file: Path) -> None:
    scenario = Scenario.load(scenario_file).with_targets(
        {"measure": "satisfaction", "value": 60, "by": 5}
    )
    result = filter_measures(scenario, targets=[{"measure": "output", "value": 12, "by": 10}])
    satisfaction, output = result.candidate("satisfaction"), result.candidate("output")
    assert (satisfaction.source, satisfaction.target.value) == ("scenario", 60.0)
    assert (output.source, output.target.value) == ("given", 12.0)
    # Satisfaction 60 by t=5: care 10 from t=1, so quality ends 110.
    assert satisfaction.own == pytest.approx(0.2)
    assert result.candidate("quality").source == "derived"


def test_ensemble_uses_medians_with_one_seed(scenario_file: Path) -> None:
    # Each member closes its own gap to 1.1 x the median base (the derived target) halfway, so
    # the median true output ends 1.05 x the median base: 5% better.
    scenario = Scenario.load(scenario_file).with_uncertainty(members=5, seed=3, parameters=["base"])
    base = np.median(scenario.run().samples["base"])
    result = filter_measures(scenario, ["output"])
    output = result.candidate("output")
    assert result.members == 5
    assert output.target.value == pytest.approx(1.1 * base)
    assert output.own == pytest.approx(0.05)
    assert output.harm == pytest.approx(0.5 * base / 100)


def test_waiting_list_agrees_with_the_scorecard() -> None:
    path = ROOT / "scenarios" / "waiting_list" / "target-blame.yaml"
    card = Scenario.load(path).run().scorecard()
    result = filter_measures(path)
    wait = result.candidate("mean_wait")
    row = card.row("mean_wait")
    assert wait.source == "scenario"
    assert wait.responds
    assert wait.gap == pytest.approx((row.reported - row.true) / row.true)
    by_measure = {c.measure: c for c in card.consequences}
    assert wait.own == pytest.approx(-by_measure["mean_wait"].relative)
    assert wait.harm == pytest.approx(by_measure["treatments"].relative)
    assert not result.candidate("treatments").responds
    assert result.candidates[-1].measure == "mean_wait"


def test_relative_change_is_positive_when_better() -> None:
    assert relative_change(110.0, 100.0, Better.HIGHER) == pytest.approx(0.1)
    assert relative_change(110.0, 100.0, Better.LOWER) == pytest.approx(-0.1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"candidates": ["outptu"]},
            r"candidates: unknown measure 'outptu' in .*Did you mean "
            r"'output'\?",
        ),
        ({"candidates": []}, r"candidates: nothing to screen \(got no measures"),
        ({"improvement": 1.0}, r"improvement: a derived target .* \(got 1.0\)"),
        ({"improvement": 0}, r"improvement: .* above 0 and below 1 \(got 0\)"),
        ({"severity": "hgih"}, r"severity: unknown severity 'hgih'\. Did you mean 'high'\?"),
        ({"gap_weight": -1}, r"gap_weight: a weight is a number >= 0 \(got -1\)"),
        ({"harm_weight": float("nan")}, r"harm_weight: a weight is a number >= 0"),
        (
            {"candidates": ["output"], "targets": [{"measure": "quality", "value": 1, "by": 2}]},
            r"targets: a target on 'quality', which is not a candidate \(got candidates output\)",
        ),
        ({"culture": 2}, r"culture"),
    ],
)
def test_bad_arguments(scenario_file: Path, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(PsscSimError, match=message):
        filter_measures(scenario_file, **kwargs)  # type: ignore[arg-type]


def test_cli_text_json_and_exit_codes(
    scenario_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["filter-measures", str(scenario_file)]) == 0
    text = capsys.readouterr().out
    lines = [line.split() for line in text.splitlines() if line.strip()[:1].isdigit()]
    assert [line[1] for line in lines] == ["satisfaction", "quality", "output"]
    assert "output: quality 5.0% worse" in text
    assert (
        main(
            [
                "filter-measures",
                str(scenario_file),
                "--json",
                "--culture",
                "0",
                "--candidates",
                "quality,output",
            ]
        )
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["culture"] == 0.0
    assert [c["measure"] for c in data["candidates"]] == ["output", "quality"]
    assert data["candidates"][0]["target"] == {
        "measure": "output",
        "kind": "level",
        "value": pytest.approx(11.0),
        "by": 10.0,
    }


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--candidates", "nope"], "candidates: unknown measure 'nope'"),
        (["--candidates", " , "], "--candidates: expected measure names"),
        (["--culture", "2"], "culture"),
        (["--improvement", "1.5"], "improvement"),
        (["--severity", "huge"], "severity: unknown severity 'huge'"),
    ],
)
def test_cli_bad_input_exits_2(
    scenario_file: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    assert main(["filter-measures", str(scenario_file), *arguments]) == 2
    assert message in capsys.readouterr().err


def test_cli_missing_scenario_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["filter-measures", str(tmp_path / "missing.yaml")]) == 2
    assert "pssc: error:" in capsys.readouterr().err
