"""pssc_sim: system dynamics for public services, built around the Public Sector Scorecard.

>>> import pssc_sim as ps
>>> callable(ps.simulate) and callable(ps.load_model)
True

The names below are imported on first use, so ``import pssc_sim`` stays light: a command that
only reads a model never loads the integrators, pandas or matplotlib.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pssc_sim.errors import (
    ExpressionError,
    ModelError,
    ParameterError,
    PsscSimError,
    SimulationError,
)

if TYPE_CHECKING:
    from pssc_sim.compile.compiler import CompiledModel, compile_model
    from pssc_sim.integrate.simulate import simulate
    from pssc_sim.ir.model import Model
    from pssc_sim.parse import load_model, load_model_text
    from pssc_sim.results import Results
    from pssc_sim.scenario import Scenario, ScenarioResult, compare, run_scenario
    from pssc_sim.scorecard import Scorecard

#: Public name -> the module that defines it.
_LAZY = {
    "CompiledModel": "pssc_sim.compile.compiler",
    "compile_model": "pssc_sim.compile.compiler",
    "simulate": "pssc_sim.integrate.simulate",
    "Model": "pssc_sim.ir.model",
    "load_model": "pssc_sim.parse",
    "load_model_text": "pssc_sim.parse",
    "Results": "pssc_sim.results",
    "Scenario": "pssc_sim.scenario",
    "ScenarioResult": "pssc_sim.scenario",
    "compare": "pssc_sim.scenario",
    "run_scenario": "pssc_sim.scenario",
    "Scorecard": "pssc_sim.scorecard",
    "explore": "pssc_sim.explore",  # the live explorer; needs the explore extra when called
}

#: Sub-packages and modules reachable as attributes (``pssc_sim.scenario``), imported on first use.
_SUBMODULES = frozenset(
    {
        "analysis",
        "cli",
        "compile",
        "conformance",
        "integrate",
        "ir",
        "output",
        "parse",
        "plot",
        "report",
        "results",
        "scenario",
        "scorecard",
    }
)

__all__ = [
    "CompiledModel",
    "ExpressionError",
    "Model",
    "ModelError",
    "ParameterError",
    "PsscSimError",
    "Results",
    "Scenario",
    "ScenarioResult",
    "Scorecard",
    "SimulationError",
    "compare",
    "compile_model",
    "explore",
    "load_model",
    "load_model_text",
    "run_scenario",
    "simulate",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"pssc_sim.{name}")
    raise AttributeError(f"module 'pssc_sim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
