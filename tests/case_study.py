"""What the tests of each case-study model (``test_model_<name>.py``) share: its model and
scenario files, each loaded or run once per session, and reading values off a run."""

from __future__ import annotations

import dataclasses
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

import pssc_sim as ps
from pssc_sim.scenario import Scenario, ScenarioResult

ROOT = Path(__file__).resolve().parent.parent


class CaseStudy:
    """The model ``models/<name>`` and its scenarios ``scenarios/<name>/*.yaml``."""

    def __init__(self, name: str) -> None:
        self.folder = ROOT / "models" / name
        self.scenarios = ROOT / "scenarios" / name

    @cache  # noqa: B019 - one instance per module, alive for the session anyway
    def model(self) -> ps.Model:
        return ps.load_model(self.folder)

    @cache  # noqa: B019
    def baseline(self) -> ps.Results:
        """The model run as written (euler)."""
        return ps.simulate(self.model(), method="euler")

    @cache  # noqa: B019
    def scenario(self, name: str) -> ScenarioResult:
        """The run of ``scenarios/<name>.yaml``."""
        return ps.run_scenario(self.scenarios / f"{name}.yaml")

    @cache  # noqa: B019
    def frame(self, name: str) -> pd.DataFrame:
        """The run of scenario ``name`` as a table (the median member for an ensemble)."""
        return self.scenario(name).results.to_frame()

    @cache  # noqa: B019
    def recording_all(self, name: str) -> Scenario:
        """Scenario ``name`` recording every variable, whatever its ``outputs``."""
        return dataclasses.replace(Scenario.load(self.scenarios / f"{name}.yaml"), outputs=None)

    @cache  # noqa: B019
    def run_all(self, name: str) -> ScenarioResult:
        """The run of :meth:`recording_all`."""
        return self.recording_all(name).run()


def value(results: ps.Results | ScenarioResult, name: str, t: float) -> float:
    """The value of ``name`` at the saved time ``t``."""
    return float(np.asarray(results[name].loc[t]))


def nearest(result: ScenarioResult, name: str, t: float) -> float:
    """The value of ``name`` at the saved time nearest ``t``."""
    series = result[name]
    values = np.asarray(series, dtype=float)
    return float(values[int(np.argmin(np.abs(series.index.to_numpy() - t)))])
