"""The time grid of one run: the model's time block with any overrides applied."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pssc_sim.ir.model import TimeSpec


@dataclass(frozen=True, slots=True)
class Grid:
    """``start`` to ``stop`` in steps of ``dt``, rows saved every ``save_every``."""

    start: float
    stop: float
    dt: float
    save_every: float
    #: The times of the steps from start to stop and the times saved, when the steps are not
    #: ``dt`` apart (:attr:`pssc_sim.ir.model.TimeSpec.steps`); else empty.
    steps: tuple[float, ...] = ()
    saved: tuple[float, ...] = ()

    @classmethod
    def from_time(cls, time: TimeSpec) -> Grid:
        return cls(time.start, time.stop, time.dt, time.save_every, time.steps, time.saved)

    @property
    def clock(self) -> tuple[float, float, float]:
        """``(dt, start, stop)``: the values of TIME_STEP, INITIAL_TIME and FINAL_TIME."""
        return (self.dt, self.start, self.stop)

    def save_times(self) -> np.ndarray:
        """start, start + save_every, ... and stop (the saved times and stop, with steps)."""
        if self.steps:
            return np.asarray(sorted({*self.saved, self.stop}), dtype=float)
        n = int(np.floor((self.stop - self.start) / self.save_every + 1e-6))
        times = self.start + self.save_every * np.arange(n + 1)
        if self.stop - times[-1] > 1e-6 * self.dt:
            times = np.append(times, self.stop)
        else:
            times[-1] = min(times[-1], self.stop)
        return times
