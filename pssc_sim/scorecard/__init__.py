"""The Public Sector Scorecard: the stage above scenarios that judges their runs.

- :mod:`~pssc_sim.scorecard.scoring`: :class:`Scorecard`, the PSS scorecard of a run or an
  ensemble (measures by perspective, targets met, unintended consequences);
- :mod:`~pssc_sim.scorecard.filtering`: the PSS filtering stage, each candidate measure made the
  target in turn and ranked by what it does.

Targets themselves are scenario values (:mod:`pssc_sim.scenario.targets`); the hidden structure
through which they reach a model is part of the IR (:mod:`pssc_sim.ir.lowering`).
"""

from __future__ import annotations

from pssc_sim.scorecard.scoring import Scorecard, ScorecardRow, scorecard

__all__ = ["Scorecard", "ScorecardRow", "scorecard"]
