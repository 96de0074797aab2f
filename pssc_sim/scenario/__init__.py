"""Scenarios (DESIGN §3): parameter overrides, time-phased interventions, uncertainty ensembles
and comparisons, read from YAML files or built in code.

- :mod:`~pssc_sim.scenario.schema`: the file format as data, and its JSON Schema;
- :mod:`~pssc_sim.scenario.fields`: one checked parser per value of a scenario;
- :mod:`~pssc_sim.scenario.uncertainty`: :class:`Uncertainty`, what makes a scenario an ensemble;
- :mod:`~pssc_sim.scenario.reader`: checked reading of scenario files and ``extends`` chains;
- :mod:`~pssc_sim.scenario.definition`: :class:`Scenario` values, :func:`load_scenario` and
  :func:`run_scenario`;
- :mod:`~pssc_sim.scenario.interventions`: interventions as equations in TIME;
- :mod:`~pssc_sim.scenario.sampling`: distributions and seeded hypercube sampling;
- :mod:`~pssc_sim.scenario.runner`: running a scenario into a :class:`ScenarioResult`;
- :mod:`~pssc_sim.scenario.compare`: :func:`compare` and :class:`Comparison`;
- :mod:`~pssc_sim.scenario.targets`: :class:`Target`, its kinds and severities, read from
  scenario files and checked against a model.

The hidden structure through which targets and culture reach a model's equations is part of the
IR (:mod:`pssc_sim.ir.lowering`); the scorecard of a run is the stage above
(:mod:`pssc_sim.scorecard`).
"""

from __future__ import annotations

from pssc_sim.scenario.compare import Comparison, compare
from pssc_sim.scenario.definition import Scenario, load_scenario, run_scenario
from pssc_sim.scenario.interventions import Pulse, Ramp, Series, SetTo, Step, apply_interventions
from pssc_sim.scenario.reader import is_scenario_file
from pssc_sim.scenario.runner import ScenarioResult
from pssc_sim.scenario.sampling import Distribution
from pssc_sim.scenario.schema import ScenarioError, json_schema
from pssc_sim.scenario.targets import Target, TargetKind
from pssc_sim.scenario.uncertainty import Uncertainty

__all__ = [
    "Comparison",
    "Distribution",
    "Pulse",
    "Ramp",
    "Scenario",
    "ScenarioError",
    "ScenarioResult",
    "Series",
    "SetTo",
    "Step",
    "Target",
    "TargetKind",
    "Uncertainty",
    "apply_interventions",
    "compare",
    "is_scenario_file",
    "json_schema",
    "load_scenario",
    "run_scenario",
]
