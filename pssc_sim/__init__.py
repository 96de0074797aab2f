"""pssc_sim: system dynamics for public services, built around the Public Sector Scorecard.

>>> import pssc_sim as ps
>>> callable(ps.simulate) and callable(ps.load_model)
True
"""

from __future__ import annotations

from pssc_sim.compile.compiler import CompiledModel, compile_model
from pssc_sim.errors import (
    ExpressionError,
    ModelError,
    ParameterError,
    PsscSimError,
    SimulationError,
)
from pssc_sim.integrate.simulate import simulate
from pssc_sim.ir.model import Model
from pssc_sim.parse import load_model, load_model_text
from pssc_sim.results import Results
from pssc_sim.scenario import Scenario, ScenarioResult, compare, run_scenario

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
    "SimulationError",
    "compare",
    "compile_model",
    "load_model",
    "load_model_text",
    "run_scenario",
    "simulate",
]
__version__ = "0.1.0"
