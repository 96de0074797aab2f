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

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

#: Public name -> the module that defines it, imported on first use (the command line reads
#: :mod:`pssc_sim.inference.catalogue` without loading the methods).
_LAZY = {
    "Experiment": "pssc_sim.inference.design",
    "Request": "pssc_sim.inference.design",
    "Statistic": "pssc_sim.inference.design",
    "Constraint": "pssc_sim.inference.optimize",
    "Lever": "pssc_sim.inference.optimize",
    "Objective": "pssc_sim.inference.optimize",
    "OptimizationResult": "pssc_sim.inference.optimize",
    "Robustness": "pssc_sim.inference.optimize",
    "parse_levers": "pssc_sim.inference.optimize",
    "write_scenario": "pssc_sim.inference.optimize",
    "METHODS": "pssc_sim.inference.sensitivity",
    "SensitivityResult": "pssc_sim.inference.sensitivity",
}

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


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'pssc_sim.inference' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
