"""Loop dominance (Loops That Matter) against behaviour derived by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import pssc_sim as ps
from pssc_sim.analysis.dominance import dominance_outputs, link_scores, loop_dominance

LOGISTIC = """
time: {stop: 40, dt: 0.0625}
parameters: {r: 0.5, capacity: 1000}
stocks: {population: 1}
flows:
  net_growth: {to: population, rate: population * growth_fraction}
auxiliaries:
  growth_fraction: r * (1 - population / capacity)
"""


def run(tmp_path: Path, text: str) -> tuple[ps.Model, ps.Results]:
    path = tmp_path / "model.yaml"
    path.write_text(text)
    model = ps.load_model(path)
    return model, ps.simulate(model, outputs=dominance_outputs(model))


def test_logistic_growth_switches_from_reinforcing_to_balancing_at_the_inflection(
    tmp_path: Path,
) -> None:
    model, results = run(tmp_path, LOGISTIC)
    dominance = loop_dominance(model, results)
    assert [(lp.name, lp.variables) for lp in dominance.loops] == [
        ("R1", ("net_growth", "population")),
        ("B1", ("growth_fraction", "net_growth", "population")),
    ]
    assert [phase.loop for phase in dominance.phases] == ["R1", "B1"]
    population = results["population"].to_numpy()
    inflection = results.times[np.argmax(population >= 500)]
    assert dominance.phases[0].stop == pytest.approx(inflection, abs=0.2)
    # Relative scores are signed shares: their absolute values sum to one.
    total = sum(np.abs(lp.scores) for lp in dominance.loops)
    np.testing.assert_allclose(total, 1.0, atol=1e-12)


def test_link_score_of_a_product_is_one_minus_the_other_share(tmp_path: Path) -> None:
    model, results = run(tmp_path, LOGISTIC)
    scores = link_scores(model, results)
    # Early on growth_fraction barely changes, so population explains all of net_growth's change;
    # the link growth_fraction -> net_growth is positive even while growth_fraction falls.
    assert scores[("population", "net_growth")][0] == pytest.approx(1.0, abs=2e-3)
    assert scores[("growth_fraction", "net_growth")][0] == pytest.approx(1e-3, abs=1e-3)
    assert scores[("population", "growth_fraction")][5] == pytest.approx(-1.0)
    assert scores[("net_growth", "population")][5] == pytest.approx(1.0)


ARRAYED_LOGISTIC = """
time: {stop: 40, dt: 0.0625}
dimensions:
  group: [a, b]
parameters: {r: 0.5, capacity: 1000}
stocks:
  population: 1
  cohort: {dims: [group], initial: 1}
flows:
  net_growth: {to: population, rate: population * growth_fraction}
  cohort_growth: {to: cohort, rate: cohort * r}
auxiliaries:
  growth_fraction: r * (1 - population / capacity)
  cohorts: SUM(cohort[group!])
"""


def test_an_arrayed_model_scores_its_links_without_dimensions(tmp_path: Path) -> None:
    """Beside arrayed variables, the links between variables without dimensions score as in a
    model without them; links into, out of or over arrays are left unscored."""
    model, results = run(tmp_path, ARRAYED_LOGISTIC)
    scores = link_scores(model, results)
    plain_model, plain = run(tmp_path, LOGISTIC)
    expected = link_scores(plain_model, plain)
    assert set(scores) == set(expected)
    for link, values in expected.items():
        np.testing.assert_allclose(scores[link], values, rtol=1e-9)


def test_sir_epidemic_phases(tmp_path: Path) -> None:
    text = """
time: {stop: 60, dt: 0.125}
parameters: {contact_rate: 6, infectivity: 0.25, duration: 2, total: 1000}
stocks: {susceptible: 999, infected: 1, recovered: 0}
flows:
  infection: {from: susceptible, to: infected,
              rate: contact_rate * infectivity * susceptible * infected / total}
  recovery: {from: infected, to: recovered, rate: infected / duration}
"""
    model, results = run(tmp_path, text)
    phases = [p.loop for p in loop_dominance(model, results).phases]
    # Contagion first, then the balancing loops: depletion of susceptibles and recovery.
    assert phases[0] == "R1"
    assert phases[-1] == "B1"
    assert set(phases) <= {"R1", "B1", "B2"}


def test_dominance_needs_a_single_run(tmp_path: Path) -> None:
    path = tmp_path / "model.yaml"
    path.write_text(LOGISTIC)
    model = ps.load_model(path)
    ensemble = ps.simulate(model, {"r": [0.4, 0.5]}, outputs=dominance_outputs(model))
    with pytest.raises(ps.ParameterError, match="loop dominance needs a single run"):
        loop_dominance(model, ensemble)


def test_sign_of_a_state_dependent_link_along_the_run(tmp_path: Path) -> None:
    text = """
time: {stop: 20, dt: 0.25}
parameters: {goal: 5, tau: 2}
stocks: {x: 1}
flows: {adjust: {to: x, rate: (goal - x) / tau}}
auxiliaries:
  bowl: x * x - 4 * x
"""
    from pssc_sim.analysis.dominance import link_sign_phases

    model, results = run(tmp_path, text)
    (phases,) = link_sign_phases(model, results, [("x", "bowl")]).values()
    # d(bowl)/dx = 2x - 4 changes sign when x passes 2, at t = 2 ln(4/3) = 0.575.
    assert [p.sign for p in phases] == ["-", "+"]
    assert phases[0].stop == pytest.approx(0.5)
    assert phases[-1].stop == 20.0
