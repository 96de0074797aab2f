"""Scenarios (DESIGN §3): parameter overrides, time-phased interventions, uncertainty ensembles
and comparisons, read from YAML files or built in code.

- :mod:`~pssc_sim.scenario.schema`: the file format as data, and its JSON Schema;
- :mod:`~pssc_sim.scenario.reader`: checked reading of scenario files and ``extends`` chains;
- :mod:`~pssc_sim.scenario.definition`: :class:`Scenario` and :class:`Uncertainty` values;
- :mod:`~pssc_sim.scenario.interventions`: interventions as equations in TIME;
- :mod:`~pssc_sim.scenario.sampling`: distributions and seeded hypercube sampling;
- :mod:`~pssc_sim.scenario.runner`: :func:`run_scenario` and :class:`ScenarioResult`;
- :mod:`~pssc_sim.scenario.compare`: :func:`compare` and :class:`Comparison`.

Targets, culture and the scorecard live in :mod:`pssc_sim.targets`; :class:`Target` and
:class:`Scorecard` are re-exported here.
"""

from __future__ import annotations

from pssc_sim.scenario.compare import Comparison, compare
from pssc_sim.scenario.definition import Scenario, Uncertainty
from pssc_sim.scenario.interventions import Pulse, Ramp, Series, SetTo, Step, apply_interventions
from pssc_sim.scenario.reader import is_scenario_file, load_scenario
from pssc_sim.scenario.runner import ScenarioResult, run_scenario
from pssc_sim.scenario.sampling import Distribution
from pssc_sim.scenario.schema import ScenarioError, json_schema
from pssc_sim.targets.definition import Target, TargetKind
from pssc_sim.targets.scorecard import Scorecard

__all__ = [
    "Comparison",
    "Distribution",
    "Pulse",
    "Ramp",
    "Scenario",
    "ScenarioError",
    "ScenarioResult",
    "Scorecard",
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
