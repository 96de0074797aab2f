"""Inference on the vectorised engine: calibration to data, global sensitivity and policy
optimisation.

Each method sends whole designs of parameter sets through one :func:`~pssc_sim.simulate` call
(an ensemble), where other tools need one run per point:

- :mod:`~pssc_sim.inference.design`: :class:`Experiment` (a model or scenario ready for designs),
  :class:`Statistic` (final, mean, max, min, at T, series) and the chunked ensemble evaluation;
- :mod:`~pssc_sim.inference.sensitivity`: Sobol', Morris and FAST indices with SALib;
- :mod:`~pssc_sim.inference.optimize`: differential evolution over levers, with constraints and
  optionally over an uncertainty ensemble;
- :mod:`~pssc_sim.inference.calibrate`: fits to observed series (:mod:`~pssc_sim.inference.data`)
  by multi-start least squares or MCMC, with the fit statistics of :mod:`~pssc_sim.inference.fit`.

The stage imports only the stages below it (parse, IR, compile, integrate, scenario, results).
The functions live in the modules named after them (``from pssc_sim.inference.sensitivity import
sensitivity``), so that no function hides its module.
"""

from __future__ import annotations

from pssc_sim.inference.design import Experiment, Request, Statistic
from pssc_sim.inference.optimize import (
    Constraint,
    Lever,
    Objective,
    OptimizationResult,
    Robustness,
    parse_levers,
    write_scenario,
)
from pssc_sim.inference.sensitivity import METHODS, SensitivityResult

__all__ = [
    "METHODS",
    "Constraint",
    "Experiment",
    "Lever",
    "Objective",
    "OptimizationResult",
    "Request",
    "Robustness",
    "SensitivityResult",
    "Statistic",
    "parse_levers",
    "write_scenario",
]
