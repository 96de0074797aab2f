"""Findings with their robustness: claims tested world by world over one shared design."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pssc_sim.inference.design import Experiment, Statistic
from pssc_sim.inference.sensitivity import sensitivity
from pssc_sim.report.robustness import Claim, Evidence, EvidenceError, deciding
from pssc_sim.scenario.definition import Scenario
from pssc_sim.scenario.runner import run

ROOT = Path(__file__).resolve().parent.parent
SMOKING = ROOT / "scenarios" / "smoking"


@pytest.mark.parametrize("margins", [[1.0, -1.0, 2.0, 0.5], [-1.0, -2.0, 0.1], [0.0, 3.0]])
def test_share_is_the_share_of_worlds_with_a_positive_margin(margins: list[float]) -> None:
    claim = Claim("x", np.array(margins))
    assert claim.share == np.mean(np.array(margins) > 0)
    assert claim.worlds == len(margins)


def test_a_claim_that_fails_in_most_worlds_is_said_to_be_unsupported() -> None:
    weak = Claim("the outcome set does better", np.array([1.0, -1.0, -2.0, -0.5]))
    assert weak.sentence().startswith("The outcome set does better in only 25% of 4 sampled")
    assert "the runs do not support this claim" in weak.sentence()
    strong = Claim("it holds", np.ones(40))
    assert strong.sentence() == "It holds in 100% of 40 sampled worlds."
    half = Claim("it holds", np.array([1.0, -1.0]), tested=True)
    assert "no more than half" in half.sentence()
    assert "No single parameter decides it clearly" in half.sentence()
    most = Claim("it holds", np.array([1.0] * 7 + [-1.0] * 3))
    assert "in most worlds, not all" in most.sentence()


def test_deciding_parameters_are_those_the_margin_depends_on() -> None:
    generator = np.random.default_rng(3)
    unit = generator.random((300, 5))
    margin = 4 * unit[:, 2] + 0.5 * unit[:, 0] + 0.05 * generator.normal(size=300)
    found = deciding(["a", "b", "c", "d", "e"], unit, margin, seed=1)
    assert found[0][0] == "c"
    assert {name for name, _ in found} <= {"a", "c"}


def test_too_few_worlds_or_a_constant_margin_decide_nothing() -> None:
    unit = np.random.default_rng(0).random((200, 2))
    assert deciding(["a", "b"], unit[:10], unit[:10, 0]) == ()
    assert deciding(["a", "b"], unit, np.ones(200)) == ()


def test_regimes_run_in_the_same_worlds_with_their_own_audit() -> None:
    """Every sampled parameter takes the same value in each world under every regime, except
    those a regime sets (audit), which take the regime's value in every world."""
    evidence = Evidence.of(Scenario.load(SMOKING / "quit-count-uncertain.yaml"), members=6)
    blame = evidence.for_regime(Scenario.load(SMOKING / "quit-count-blame.yaml"))
    audited = evidence.for_regime(Scenario.load(SMOKING / "quit-count-audited.yaml"))
    a = run(blame.with_outputs("prevalence"))
    b = run(audited.with_outputs("prevalence"))
    assert a.samples.keys() == b.samples.keys()
    assert {"volume_detection", "myopia_detection"} <= set(audited.set) & set(a.samples)
    for name in a.samples:
        if name in audited.set:
            assert np.all(b.samples[name] == audited.set[name])
        else:
            assert np.array_equal(a.samples[name], b.samples[name])
    assert evidence.unit(len(evidence.names(blame))).shape == (6, len(a.samples))


def test_evidence_needs_an_uncertainty_block_and_worlds() -> None:
    with pytest.raises(
        EvidenceError,
        match=r"quit-count-blame: no uncertainty block to sample "
        r"worlds from \(got none\)",
    ):
        Evidence.of(Scenario.load(SMOKING / "quit-count-blame.yaml"))
    with pytest.raises(EvidenceError, match=r"needs at least 2 worlds \(got 1\)"):
        Evidence.of(Scenario.load(SMOKING / "quit-count-uncertain.yaml"), members=1)


def test_rbd_fast_is_a_sensitivity_method_of_its_own_design() -> None:
    teacup = Experiment.load(ROOT / "models" / "teacup")
    result = sensitivity(
        teacup, "teacup_temperature", Statistic("at", 10), method="rbd-fast", samples=100, seed=2
    )
    assert result.runs == 100
    assert result.indices["characteristic_time"]["S1"] > 0.9
    assert "S1_conf" in result.table()


def test_report_tests_its_findings_over_the_evidence(tmp_path: Path) -> None:
    """``pssc report --evidence``: every scenario over the same worlds; a claim per target and
    per outcome shared with the first scenario, each with its share of worlds."""
    from pssc_sim.cli import main

    out = tmp_path / "report.html"
    assert (
        main(
            [
                "report",
                str(SMOKING / "quit-count-blame.yaml"),
                str(SMOKING / "pss-outcomes.yaml"),
                "-o",
                str(out),
                "--evidence",
                str(SMOKING / "quit-count-uncertain.yaml"),
                "--members",
                "8",
            ]
        )
        == 0
    )
    text = out.read_text()
    assert '<section id="robustness">' in text
    # one target in the first, two in the second; the model's four outcome measures shared
    # (prevalence, R&M prevalence, the R&M gap and 52-week quits)
    assert text.count("of 8 sampled worlds") == 1 + 2 + 4
    assert "Pss-outcomes gives a better true prevalence than quit-count-blame" in text


def test_report_members_need_evidence(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from pssc_sim.cli import main

    assert (
        main(
            [
                "report",
                str(SMOKING / "baseline.yaml"),
                "-o",
                str(tmp_path / "r.html"),
                "--members",
                "10",
            ]
        )
        == 2
    )
    assert "--members: needs --evidence and at least 2 worlds (got 10)" in capsys.readouterr().err


def test_evidence_of_another_model_is_refused() -> None:
    evidence = Evidence.of(Scenario.load(SMOKING / "quit-count-uncertain.yaml"), members=4)
    ambulance = Scenario.load(ROOT / "scenarios" / "ambulance" / "baseline.yaml")
    with pytest.raises(
        EvidenceError,
        match=r"baseline: the evidence samples parameters its "
        r"model ambulance does not have \(got ",
    ):
        evidence.for_regime(ambulance)
