"""Findings with their robustness: a claim about regimes tested in every sampled world.

A finding such as "the outcome set gives a lower true response time than the target" is read
from an *evidence ensemble*: the same sampled worlds (the same parameter values, drawn once from
the evidence ranges with one seed and one design) run under every regime, so each world gives a
paired comparison. A :class:`Claim` holds, for every world, its *margin*: how far the claim
holds in that world (> 0) or fails (<= 0). Its robustness is the share of worlds in which it
holds, and the parameters that decide it are those whose first-order RBD-FAST index of the
margin is largest (:func:`pssc_sim.inference.sensitivity.analyze` applied to the ensemble
already run, so no further runs are needed).

A regime that sets a parameter the evidence samples (an audit regime raising the probability of
detection, say) keeps that parameter at its own value in every world; the other parameters keep
the values of the shared design, so the worlds stay paired.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from pssc_sim.errors import ModelError
from pssc_sim.ir.model import Better, Perspective
from pssc_sim.report.figures import Picture
from pssc_sim.report.words import label
from pssc_sim.scenario.definition import Scenario
from pssc_sim.scenario.sampling import Distribution, unit_samples
from pssc_sim.scenario.uncertainty import DEFAULT_SAMPLING, Uncertainty

if TYPE_CHECKING:
    from pssc_sim.scenario.runner import ScenarioResult

#: Shares of worlds and the words that say how sure a finding is.
MOST = 0.5
ALMOST_ALL = 0.95
#: Parameters named as deciding a claim, at most.
DECIDING = 3
#: Worlds needed before the deciding parameters are estimated (RBD-FAST's least design).
LEAST_FOR_SENSITIVITY = 40
#: Margins closer to zero than this share of the compared values' scale count as a tie.
TIE = 1e-9


class EvidenceError(ModelError):
    """An evidence ensemble that cannot be run: no uncertainty block, or too few worlds."""


@dataclass(frozen=True, slots=True)
class Evidence:
    """The shared design of a comparison: which parameters are sampled, how, and how often."""

    uncertainty: Uncertainty
    members: int
    seed: int
    sampling: str

    @classmethod
    def of(cls, scenario: Scenario, members: int | None = None) -> Evidence:
        """The evidence ensemble of ``scenario``'s ``uncertainty:`` block, with ``members``
        worlds (default: the block's own)."""
        block = scenario.uncertainty
        if block is None:
            raise EvidenceError(
                f"{scenario.label}: no uncertainty block to sample worlds from "
                "(got none). Name a scenario with an uncertainty: block as the "
                "evidence"
            )
        # the deciding parameters are found by a sensitivity analysis of the design's columns
        block.require_independent("an evidence ensemble", scenario.source)
        count = members if members is not None else block.members
        if count is None or count < 2:
            raise EvidenceError(
                f"{scenario.label}: an evidence ensemble needs at least 2 worlds "
                f"(got {count}). Give members: 200 or more"
            )
        seed = 0 if block.seed is None else block.seed
        return cls(block, count, seed, block.sampling or DEFAULT_SAMPLING)

    def for_regime(self, scenario: Scenario) -> Scenario:
        """``scenario`` run over these worlds: the same design and seed, with each sampled
        parameter the regime sets held at the regime's value."""
        model = scenario.load_model()
        from pssc_sim.scenario.runner import distributions

        known = set(model.parameter_names)
        missing = [n for n in self.uncertainty.parameters or {} if n not in known]
        if missing:
            raise EvidenceError(
                f"{scenario.label}: the evidence samples parameters its model "
                f"{model.name} does not have (got {', '.join(missing[:5])}). "
                "Give evidence for the same model as the scenarios"
            )
        chosen = dict(distributions(self.uncertainty, model))
        for name, value in scenario.set.items():
            if name in chosen:
                chosen[name] = Distribution("discrete", {"values": [float(value)]})
        block = Uncertainty(self.members, self.sampling, self.seed, chosen)
        return scenario.with_uncertainty(None).with_uncertainty(block)

    def names(self, scenario: Scenario) -> tuple[str, ...]:
        """The sampled parameters, in the order of the design's columns."""
        from pssc_sim.scenario.runner import distributions

        return tuple(distributions(self.uncertainty, scenario.load_model()))

    def unit(self, dimensions: int) -> np.ndarray:
        """The design on the unit hypercube, (worlds x parameters): the same for every
        regime."""
        return unit_samples(self.sampling, self.members, dimensions, self.seed)


@dataclass(frozen=True, slots=True, eq=False)
class Claim:
    """A statement about regimes and its margin in every sampled world (> 0 where it holds).

    ``deciding`` lists the parameters with the largest first-order index of the margin, with
    the index, largest first: those whose index is clear of its bootstrap interval (none when
    too few worlds were run to tell).

    Examples
    --------
    >>> claim = Claim("audit narrows the gap", np.array([0.2, 0.1, -0.1, 0.3]))
    >>> claim.share, claim.worlds
    (0.75, 4)
    >>> claim.sentence()
    'Audit narrows the gap in 75% of 4 sampled worlds: in most worlds, not all.'
    """

    statement: str
    margin: np.ndarray
    deciding: tuple[tuple[str, float], ...] = ()
    tested: bool = False  # whether the deciding parameters were looked for

    @property
    def worlds(self) -> int:
        """How many sampled worlds tested the claim."""
        return int(self.margin.size)

    @property
    def holds(self) -> np.ndarray:
        """Whether the claim holds, world by world."""
        scale = float(np.max(np.abs(self.margin))) if self.margin.size else 0.0
        return np.asarray(self.margin > TIE * max(scale, 1e-300))

    @property
    def share(self) -> float:
        """The share of worlds in which the claim holds."""
        return float(self.holds.mean()) if self.margin.size else 0.0

    def sentence(self) -> str:
        """The claim with how sure the runs make it, in plain words."""
        share = self.share
        statement = self.statement[0].upper() + self.statement[1:]
        where = f"{_percent(share)} of {self.worlds:,} sampled worlds"
        if share >= ALMOST_ALL:
            text = f"{statement} in {where}."
        elif share > MOST:
            text = f"{statement} in {where}: in most worlds, not all."
        else:
            text = (
                f"{statement} in only {where}: the runs do not support this claim, it "
                "holds in no more than half of the plausible worlds."
            )
        if self.deciding:
            named = ", ".join(f"{name} ({index:.2f})" for name, index in self.deciding)
            text += f" What decides it most (first-order share of its variance): {named}."
        elif self.tested:
            text += (
                " No single parameter decides it clearly (no first-order index is clear "
                "of its bootstrap interval)."
            )
        return text


def _percent(share: float) -> str:
    value = 100 * share
    if 0 < value < 1:
        return "under 1%"
    if 99 < value < 100:
        return "over 99%"
    return f"{value:.0f}%"


def deciding(
    names: Sequence[str],
    unit: np.ndarray,
    margin: np.ndarray,
    *,
    seed: int = 0,
    top: int = DECIDING,
) -> tuple[tuple[str, float], ...]:
    """The ``top`` parameters with the largest first-order RBD-FAST index of ``margin`` over
    the design ``unit``, among those whose index exceeds its bootstrap interval (none when the
    design is too small or the margin does not vary)."""
    from pssc_sim.inference.sensitivity import analyze

    if len(margin) < LEAST_FOR_SENSITIVITY or not names:
        return ()
    indices, _, constant = analyze(
        "rbd-fast", list(names), unit, np.asarray(margin, float), seed=seed
    )
    if constant:
        return ()
    # Only indices clear of their bootstrap interval: with a few hundred worlds the estimate of
    # a parameter that does not matter is small but not zero.
    clear = [p for p in names if indices[p]["S1"] - indices[p]["S1_conf"] > 0]
    ranked = sorted(clear, key=lambda p: -indices[p]["S1"])
    return tuple((p, indices[p]["S1"]) for p in ranked[:top])


def claims_picture(claims: Sequence[Claim]) -> Picture | None:
    """The share of worlds in which each claim holds, as bars beside the line of half."""
    if not claims:
        return None
    from matplotlib.figure import Figure

    from pssc_sim.report.figures import data_uri

    figure = Figure(figsize=(9, 0.45 * len(claims) + 1.2), layout="constrained")
    ax = figure.subplots()
    shares = [100 * c.share for c in claims]
    colours = ["tab:green" if s >= 95 else "tab:olive" if s > 50 else "tab:red" for s in shares]
    rows = range(len(claims))
    ax.barh(rows, shares, color=colours)
    ax.axvline(50, color="0.3", linewidth=0.8, linestyle="--")
    ax.set_yticks(list(rows), [_short(c.statement) for c in claims], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel(f"share of {claims[0].worlds:,} sampled worlds in which the claim holds (%)")
    caption = (
        "How robust each finding is: the share of the sampled worlds (the same worlds "
        "under every regime) in which it holds; the dashed line is half."
    )
    return Picture(caption, data_uri(figure), "robustness")


def _short(statement: str, width: int = 70) -> str:
    text = statement.split(":")[0]
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def scenario_claims(scenarios: Sequence[Scenario], evidence: Evidence) -> tuple[Claim, ...]:
    """Every scenario run over the same worlds of ``evidence``, and the claims a report of them
    tests: each scenario's targets against their true values (does the reported ledger flatter
    the true one at the target date?) and each later scenario against the first on every
    outcome measure they share (is its true value at the end better?)."""
    from pssc_sim.scenario.runner import run
    from pssc_sim.scorecard.scoring import compared, needed_columns

    results: list[ScenarioResult] = []
    for scenario in scenarios:
        model = scenario.load_model()
        outcomes = [m.true_column for m in model.measures if m.perspective is Perspective.OUTCOME]
        paired = evidence.for_regime(scenario).with_outputs(*outcomes)
        results.append(run(paired, record=needed_columns(model, scenario.targets)))
    claims: list[tuple[str, np.ndarray]] = []
    for result in results:
        measures = {m.name: m for m in result.model.measures}
        for target in result.scenario.targets:
            measure = measures[target.measure]
            reported, true = compared(result, measure, target, target.by)
            sign = 1.0 if target.higher_is_better(measure.better) else -1.0
            claims.append(
                (
                    f"under {result.name} the reported {label(measure)} flatters the "
                    "true one at the target date",
                    np.asarray(sign * (reported - true)),
                )
            )
    first = results[0]
    for result in results[1:]:
        measures = {m.name: m for m in result.model.measures}
        for measure in first.model.measures:
            other = measures.get(measure.name)
            if measure.perspective is not Perspective.OUTCOME or other is None:
                continue
            better = 1.0 if measure.better is Better.HIGHER else -1.0
            ends = [
                np.asarray(r.results[measure.true_column], dtype=float)[-1] for r in (result, first)
            ]
            claims.append(
                (
                    f"{result.name} gives a better true {label(measure)} than "
                    f"{first.name} at the end of the run",
                    np.atleast_1d(better * (ends[0] - ends[1])),
                )
            )
    names = evidence.names(scenarios[0])
    unit = evidence.unit(len(names))
    tested = evidence.members >= LEAST_FOR_SENSITIVITY
    return tuple(
        Claim(s, m, deciding(names, unit, m, seed=evidence.seed), tested) for s, m in claims
    )
