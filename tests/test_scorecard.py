"""The PSS scorecard: values, targets, RAG, gaps, ensemble probabilities and unintended
consequences against hand calculations on small models; ``pssc scorecard`` and its JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import pssc_sim as ps
from pssc_sim.cli import main
from pssc_sim.scenario import Scenario
from pssc_sim.scorecard.scoring import AMBER_SHARE, Scorecard, interpolate_members

ROOT = Path(__file__).resolve().parent.parent

# x grows by 2 a week from 0; quality falls as x is pushed; capability is a constant.
LINEAR = """\
model: linear
time: {start: 0, stop: 10, dt: 1, units: week}
parameters:
  growth: {value: 2, range: [1, 3]}
  spread: 2
stocks:
  x: 0
flows:
  inflow: {to: x, rate: growth}
auxiliaries:
  quality: 100 - x
  skill: 1
measures:
  x: {perspective: outcome, better: higher, distribution: {kind: normal, sd: spread}}
  inflow: {perspective: process, better: higher}
  quality: {perspective: outcome, better: higher}
  skill: {perspective: capability, better: higher}
"""

# True wait constant at true_level; gaming closes the reported gap in one step (blame culture).
GAMING = """\
model: gaming
time: {start: 0, stop: 10, dt: 1}
parameters:
  true_level: {value: 10, range: [7, 12]}
  drag: 0.5
stocks:
  gaming: 0
flows:
  gaming_growth: {to: gaming, rate: TARGET_PRESSURE(wait) * CULTURE}
auxiliaries:
  wait: true_level + drag * gaming
  reported_wait: wait - gaming
  throughput: 10 - drag * gaming
measures:
  wait: {perspective: outcome, better: lower, reported: reported_wait}
  throughput: {perspective: process, better: higher}
"""


@pytest.fixture
def models(tmp_path: Path) -> Path:
    for name, text in (("linear", LINEAR), ("gaming", GAMING)):
        (tmp_path / "models" / name).mkdir(parents=True)
        (tmp_path / "models" / name / "model.yaml").write_text(text)
    (tmp_path / "scenarios").mkdir()
    return tmp_path


def linear(models: Path, *targets: dict[str, object], **kwargs: object) -> Scenario:
    return Scenario(model=models / "models" / "linear", targets=targets, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "rag"),
    [(15, "red"), (10.4, "amber"), (10, "green"), (10.0 / (1 - AMBER_SHARE) + 0.01, "red")],
)
def test_level_target_value_and_rag(models: Path, value: float, rag: str) -> None:
    card = linear(models, {"measure": "x", "value": value, "by": 5}).run().scorecard()
    row = card.row("x")
    assert (row.at, row.reported, row.true, row.gap) == (5.0, 10.0, 10.0, 0.0)
    assert (row.target, row.rag, row.met) == (value, rag, rag == "green")
    assert row.probability is None


def test_value_between_saved_times_is_interpolated(models: Path) -> None:
    row = linear(models, {"measure": "x", "value": 9, "by": 4.5}).run().scorecard().row("x")
    assert row.reported == 9.0
    assert row.met


def test_members_interpolated_together_equal_numpy_member_by_member() -> None:
    """Every member's value at a time, found once for all members, is numpy's interpolation of
    that member to the last bit: between saved times, on one, at either end, outside the run,
    with uneven or repeated saved times and with values that overflow."""
    rng = np.random.default_rng(7)
    for case in range(600):
        n, members = int(rng.integers(2, 40)), int(rng.integers(1, 12))
        times = (
            np.linspace(0.0, 10.0, n),
            np.sort(rng.uniform(-5.0, 5.0, n)),
            np.sort(rng.integers(0, 6, n).astype(float)),
        )[case % 3]
        column = rng.normal(size=(n, members)) * 10.0 ** rng.integers(-3, 300)
        for t in (rng.uniform(-6.0, 11.0), times[rng.integers(n)], times[0], times[-1]):
            expected = [np.interp(float(t), times, column[:, i]) for i in range(members)]
            got = interpolate_members(float(t), times, column)
            assert got.tobytes() == np.array(expected).tobytes(), (case, t)


def test_measures_without_target_show_the_end_value(models: Path) -> None:
    card = linear(models).run().scorecard()
    assert [r.perspective for r in card.rows] == ["outcome", "outcome", "process", "capability"]
    quality = card.row("quality")
    assert (quality.at, quality.reported, quality.target, quality.rag) == (10.0, 80.0, None, None)
    assert card.consequences == ()
    assert card.reference is None


def test_count_target_uses_rate_times_period(models: Path) -> None:
    card = (
        linear(models, {"measure": "inflow", "kind": "count", "value": 20, "per": 10, "by": 5})
        .run()
        .scorecard()
    )
    row = card.row("inflow")
    assert (row.reported, row.met, row.rag) == (20.0, True, "green")
    card = (
        linear(models, {"measure": "inflow", "kind": "count", "value": 3, "per": "weeks", "by": 5})
        .run()
        .scorecard()
    )
    assert (card.row("inflow").reported, card.row("inflow").rag) == (2.0, "red")


def test_threshold_share_is_the_share_below_the_threshold(models: Path) -> None:
    target = {"measure": "x", "kind": "threshold share", "threshold": 11, "value": 0.6, "by": 5}
    row = linear(models, target).run().scorecard().row("x")
    expected = stats.norm.cdf(11, 10, 2)  # 0.691
    assert row.reported == pytest.approx(expected, abs=2e-4)
    assert (row.kind, row.met, row.rag, row.gap) == ("threshold share", True, "green", 0.0)


def test_reported_true_gap_and_consequences_of_gaming(models: Path) -> None:
    scenario = Scenario(
        model=models / "models" / "gaming",
        culture=1.0,
        targets=[{"measure": "wait", "value": 8, "by": 5, "severity": "high"}],
    )
    card = scenario.run().scorecard()
    # pressure at t=0: (10 - 8) x 2 x 1.5 = 6 -> gaming 6 from t=1; true wait 10 + 0.5 x 6 = 13,
    # reported 13 - 6 = 7 <= 8; throughput 10 - 3 = 7 against 10 without the target.
    wait = card.row("wait")
    assert (wait.reported, wait.true, wait.gap, wait.met, wait.met_true) == (
        7.0,
        13.0,
        -6.0,
        True,
        False,
    )
    assert card.reference == f"{scenario.label} without targets"
    ranked = [(c.measure, c.value, c.reference, c.change) for c in card.consequences]
    assert ranked == [("wait", 13.0, 10.0, 3.0), ("throughput", 7.0, 10.0, -3.0)]
    assert card.consequences[0].relative == pytest.approx(0.3)


def test_against_another_scenario(models: Path) -> None:
    target = {"measure": "x", "value": 10, "by": 5}
    slower = linear(models, set={"growth": 1.0}, name="slow").run()
    card = linear(models, target, set={"growth": 3.0}).run().scorecard(against=slower)
    assert card.reference == "slow"
    assert [(c.measure, c.value, c.reference) for c in card.consequences] == [
        ("quality", 70.0, 90.0)
    ]


def test_ensemble_probability_is_the_fraction_of_members(models: Path) -> None:
    scenario = Scenario(
        model=models / "models" / "gaming",
        culture=0.3,
        targets=[{"measure": "wait", "value": 9, "by": 6, "severity": 1}],
        uncertainty={"members": 37, "seed": 5, "parameters": {"true_level": None}},
    )
    result = scenario.run()
    row = result.scorecard().row("wait")
    reported = result["wait.reported"].loc[6.0].to_numpy()
    true = result["wait"].loc[6.0].to_numpy()
    assert row.probability == np.count_nonzero(reported <= 9) / 37
    assert row.probability_true == np.count_nonzero(true <= 9) / 37
    assert 0 < row.probability < 1
    assert row.reported == float(np.median(reported))


def test_scorecard_records_what_it_needs_even_with_few_outputs(models: Path) -> None:
    target = {"measure": "x", "kind": "threshold share", "threshold": 11, "value": 0.6, "by": 5}
    card = (
        linear(models, target, outputs=["skill"], uncertainty={"members": 8, "seed": 2})
        .run()
        .scorecard()
    )
    assert card.members == 8
    assert card.row("x").probability is not None


def test_json_and_text_say_the_same(models: Path) -> None:
    card = linear(models, {"measure": "x", "value": 10, "by": 5}).run().scorecard()
    data = json.loads(card.to_json())
    assert data == card.to_dict()
    assert list(data["perspectives"]) == ["outcome", "process", "capability"]
    assert data["perspectives"]["outcome"][0]["rag"] == "green"
    assert "OUTCOME" in str(card)
    assert "green" in card.to_text()


def run_cli(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_command_prints_the_scorecard_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    path = ROOT / "scenarios" / "waiting_list" / "target-blame.yaml"
    status, out, err = run_cli(capsys, "scorecard", path, "--json")
    assert (status, err) == (0, "")
    expected = ps.run_scenario(path).scorecard()
    assert json.loads(out) == json.loads(expected.to_json())
    consequences = json.loads(out)["unintended_consequences"]
    assert [c["measure"] for c in consequences][:1] == ["mean_wait"]
    status, out, err = run_cli(
        capsys,
        "scorecard",
        path,
        "--against",
        ROOT / "scenarios" / "waiting_list" / "target-learning.yaml",
    )
    assert status == 0
    assert "against target-learning" in out
    assert "OUTCOME" in out


def test_command_rejects_a_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, _out, err = run_cli(capsys, "scorecard", tmp_path / "nothing.yaml")
    assert status == 2
    assert err.startswith("pssc: error: ")
    assert err.count("\n") == 1


def test_scorecard_types_are_exported() -> None:
    assert ps.Scorecard is Scorecard
    assert ps.scorecard.Scorecard is Scorecard
    assert ps.scenario.Target.__name__ == "Target"
