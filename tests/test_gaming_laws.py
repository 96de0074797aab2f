"""Laws of the gaming formulation (docs/gaming.md): GAMING_SHARE and IMPROVEMENT_SHARE as
functions of pressure, opportunity, detection, sanction, scruple and improvement cost; and the
same laws on a run, for a library mechanism in a small host model with real improvement."""

from __future__ import annotations

import itertools
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pssc_sim.ir.builtins import BUILTINS
from pssc_sim.scenario import Scenario

ARGUMENTS = ("pressure", "opportunity", "detection", "sanction", "scruple", "improvement_cost")
#: Where each argument's value is drawn from: pressures up to 5 (a gap as large as the target at
#: high severity under blame is 3), shares in [0, 1], costs up to 5.
DRAWN = {
    "pressure": (0.0, 5.0),
    "opportunity": (0.0, 1.0),
    "detection": (0.0, 1.0),
    "sanction": (0.0, 5.0),
    "scruple": (0.0, 5.0),
    "improvement_cost": (0.0, 5.0),
}


def share(name: str, **values: float) -> float:
    return float(BUILTINS[name].build([values[a] for a in ARGUMENTS]))


def gaming(**values: float) -> float:
    return share("GAMING_SHARE", **values)


def improvement(**values: float) -> float:
    return share("IMPROVEMENT_SHARE", **values)


def arguments() -> st.SearchStrategy[dict[str, float]]:
    return st.fixed_dictionaries({a: st.floats(*DRAWN[a], allow_nan=False) for a in ARGUMENTS})


@settings(max_examples=150, deadline=None)
@given(arguments())
def test_shares_are_shares_of_one_response(values: dict[str, float]) -> None:
    g, i = gaming(**values), improvement(**values)
    assert 0 <= g <= 1
    assert 0 <= i <= 1
    assert g + i <= 1 + 1e-12  # the rest of the response is accepting the miss


@settings(max_examples=100, deadline=None)
@given(arguments())
def test_no_pressure_no_response(values: dict[str, float]) -> None:
    values["pressure"] = 0.0
    assert gaming(**values) == 0.0
    assert improvement(**values) == 0.0


@settings(max_examples=100, deadline=None)
@given(arguments())
def test_no_opportunity_no_gaming(values: dict[str, float]) -> None:
    values["opportunity"] = 0.0
    assert gaming(**values) == 0.0


@pytest.mark.parametrize(
    ("argument", "direction"),
    [
        ("pressure", 1),
        ("opportunity", 1),
        ("improvement_cost", 1),
        ("detection", -1),
        ("sanction", -1),
        ("scruple", -1),
    ],
)
@settings(max_examples=80, deadline=None)
@given(values=arguments(), step=st.floats(0.0, 3.0, allow_nan=False))
def test_gaming_is_monotone(
    argument: str, direction: int, values: dict[str, float], step: float
) -> None:
    """Gaming does not fall with pressure (the gap, the severity, how a miss is treated) or the
    opportunity, nor with the cost of real improvement; it does not rise with the probability of
    detection, the sanction or the provider's scruple."""
    high = DRAWN[argument][1]
    moved = dict(values, **{argument: min(high, values[argument] + step)})
    before, after = gaming(**values), gaming(**moved)
    assert direction * (after - before) >= -1e-12


@pytest.mark.parametrize(
    ("argument", "direction"),
    [
        ("pressure", 1),
        ("detection", 1),
        ("sanction", 1),
        ("scruple", 1),
        ("improvement_cost", -1),
        ("opportunity", -1),
    ],
)
@settings(max_examples=80, deadline=None)
@given(values=arguments(), step=st.floats(0.0, 3.0, allow_nan=False))
def test_improvement_is_monotone(
    argument: str, direction: int, values: dict[str, float], step: float
) -> None:
    high = DRAWN[argument][1]
    moved = dict(values, **{argument: min(high, values[argument] + step)})
    before, after = improvement(**values), improvement(**moved)
    assert direction * (after - before) >= -1e-12


@settings(max_examples=150, deadline=None)
@given(arguments())
def test_cheap_improvement_is_mostly_real(values: dict[str, float]) -> None:
    """Real improvement outweighs gaming exactly when improving costs less than gaming does,
    weighted by the opportunity: opportunity x improvement cost < detection x sanction +
    scruple."""
    values["pressure"] = max(values["pressure"], 1e-3)
    cost = values["detection"] * values["sanction"] + values["scruple"]
    weighted = values["opportunity"] * values["improvement_cost"]
    if abs(weighted - cost) < 1e-6 or (weighted == 0 and cost == 0):
        return
    g, i = gaming(**values), improvement(**values)
    assert (i > g) == (weighted < cost)


def test_the_defaults_give_the_evidence_range() -> None:
    """Under England's star ratings (a relative gap of 0.2, severity high 2, culture 0.9:
    pressure 0.2 x 2 x 1.4) with detection 0.1, sanction 1 and improvement cost 1, the scruple
    range [0.44, 3.1] spans a gaming share of 0.1 to 0.4 and the default 0.62 gives a third
    (domain reference 2.3, 2.5)."""
    england = {
        "pressure": 0.2 * 2 * 1.4,
        "opportunity": 1.0,
        "detection": 0.1,
        "sanction": 1.0,
        "improvement_cost": 1.0,
    }
    assert gaming(**england, scruple=0.44) == pytest.approx(0.4, abs=0.005)
    assert gaming(**england, scruple=0.62) == pytest.approx(1 / 3, abs=0.005)
    assert gaming(**england, scruple=3.1) == pytest.approx(0.1, abs=0.005)


# -- the laws on a run ----------------------------------------------------------------------------

HOST = """\
model: improvable_service
time: {start: 0, stop: 104, dt: 0.25, units: week}
parameters:
  base_time: {value: 10, units: minute, source: test}
  improvement_gain: {value: 0.5, units: dimensionless, source: test}
  improvement_time: {value: 8, units: week, source: test}
stocks:
  capability: {initial: 1, units: dimensionless}
flows:
  improving:
    to: capability
    rate: >-
      IMPROVEMENT_SHARE(game_pressure, game_opportunity, game_detection, game_sanction,
      game_scruple, game_improvement_cost) * improvement_gain / improvement_time
    units: 1/week
auxiliaries:
  response_time: {equation: base_time / capability, units: minute}
include:
  game:
    mechanism: clock_start_offset
    inputs: {measure: response_time}
    parameters: {adjustment_time: {value: 2, source: test}}
measures:
  response_time: {perspective: outcome, better: lower, units: minute, reported: game_reported}
"""


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("laws") / "service.yaml"
    path.write_text(textwrap.dedent(HOST))
    return path


def run(
    host: Path,
    *,
    target: float | None = 9.0,
    severity: float = 1.0,
    culture: float = 0.9,
    **values: float,
) -> dict[str, np.ndarray]:
    scenario = Scenario(model=host, culture=culture, set=values or None)
    if target is not None:
        scenario = scenario.with_targets(
            {"measure": "response_time", "value": target, "by": 104, "severity": severity}
        )
    result = scenario.run()
    return {
        name: np.asarray(result[name], dtype=float)
        for name in ("response_time", "game_reported", "game_effort")
    }


def test_no_target_keeps_the_ledgers_equal(host: Path) -> None:
    out = run(host, target=None)
    np.testing.assert_array_equal(out["game_reported"], out["response_time"])
    assert np.all(out["game_effort"] == 0.0)


@pytest.mark.parametrize("target", [9.5, 8.0, 5.0])
def test_no_opportunity_keeps_the_ledgers_equal_under_any_target(host: Path, target: float) -> None:
    out = run(host, target=target, severity=2.0, game_opportunity=0.0)
    np.testing.assert_array_equal(out["game_reported"], out["response_time"])


@pytest.mark.parametrize(
    ("setting", "values", "direction"),
    [
        ("severity", (0.5, 1.0, 2.0), 1),
        ("target", (9.5, 9.0, 8.0), 1),  # a wider gap (lower is better)
        ("game_detection", (0.0, 0.2, 0.6), -1),
        ("game_sanction", (0.0, 1.0, 2.0), -1),
    ],
)
def test_gaming_on_a_run_is_monotone(
    host: Path, setting: str, values: tuple[float, ...], direction: int
) -> None:
    """With the true value held (no improvement), effort over the whole run does not fall as
    the severity or the gap rise, and does not rise as detection or the sanction rise. (With
    improvement, a harsher target can end with less gaming: it closes the true gap sooner.)"""
    efforts = []
    for value in values:
        keywords: dict[str, float] = {setting: value, "improvement_gain": 0.0}
        if setting not in ("severity", "target"):
            keywords["severity"] = 2.0
        efforts.append(run(host, **keywords)["game_effort"])
    for before, after in itertools.pairwise(efforts):
        assert np.all(direction * (after - before) >= -1e-12)
    assert direction * (efforts[-1][-1] - efforts[0][-1]) > 0


def test_a_target_met_by_cheap_improvement_is_mostly_real(host: Path) -> None:
    """Improvement that costs a tenth of what gaming does closes most of the reported gain for
    real: the true response time falls by more than the clock is moved."""
    out = run(host, severity=2.0, game_improvement_cost=0.1)
    real = out["response_time"][0] - out["response_time"][-1]
    gamed = out["response_time"][-1] - out["game_reported"][-1]
    assert real > 0
    assert real > 2 * gamed
