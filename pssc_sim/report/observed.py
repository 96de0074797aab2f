"""Observed data beside a model's run: ``data/observed.csv`` next to the model file.

The file has the format :func:`pssc_sim.inference.data.read_observations` reads (a ``time``
column and one column per observed variable or measure). Where it observes a measure's true
value, the scorecard says which value is data and which is model output, and the true ledger
shows the observations as points.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pssc_sim.ir.model import Measure, Model

if TYPE_CHECKING:
    from pssc_sim.inference.data import Observations, ObservedSeries
    from pssc_sim.scorecard.scoring import Scorecard

#: Where a model's observed data live, relative to its folder.
OBSERVED = Path("data") / "observed.csv"


def observed_file(model: Model) -> Path | None:
    """The model's ``data/observed.csv``, if it has one."""
    if not model.source:
        return None
    path = Path(model.source).parent / OBSERVED
    return path if path.is_file() else None


def observations(model: Model) -> Observations | None:
    """The model's observed data, checked against its variables and measures (None without)."""
    from pssc_sim.inference.data import read_observations

    path = observed_file(model)
    if path is None:
        return None
    names = [*model.visible_variables(), *(m.name for m in model.measures)]
    years = model.time.units.lower().rstrip("s") == "year"
    return read_observations(path, list(dict.fromkeys(names)), years=years)


def series_of(data: Observations | None, measure: Measure) -> ObservedSeries | None:
    """The observations of a measure's true value (by its variable or its own name)."""
    if data is None:
        return None
    return next((s for s in data.series if s.name in (measure.true_column, measure.name)), None)


def observed_values(model: Model, card: Scorecard) -> dict[str, tuple[float, float]]:
    """Measure -> (time, value) of the last observation at or before its scorecard time."""
    data = observations(model)
    found: dict[str, tuple[float, float]] = {}
    for measure in model.measures:
        series = series_of(data, measure)
        if series is None:
            continue
        at = card.row(measure.name).at
        before = np.flatnonzero(series.times <= at + 1e-9)
        if before.size:
            i = int(before[-1])
            found[measure.name] = (float(series.times[i]), float(series.values[i]))
    return found
