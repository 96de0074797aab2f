"""The inference methods by name, with what each does: the command line builds its options from
these tables without importing the methods (and SALib, emcee and scipy with them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

#: Calibration methods, the default first.
CALIBRATION_METHODS: tuple[str, ...] = ("least-squares", "mcmc")


@dataclass(frozen=True, slots=True)
class MethodInfo:
    """A method's name, a one-line description and its default base sample size."""

    name: str
    description: str
    default_samples: int


#: Sensitivity methods by name (:data:`pssc_sim.inference.sensitivity.METHODS` adds SALib's
#: sampler and analyser to each).
SENSITIVITY_METHODS: Mapping[str, MethodInfo] = {
    "sobol": MethodInfo(
        "sobol", "variance-based first-order and total indices (Saltelli's design)", 1024
    ),
    "morris": MethodInfo(
        "morris", "elementary effects screening (mean absolute effect and its spread)", 100
    ),
    "fast": MethodInfo(
        "fast", "extended Fourier amplitude sensitivity test (first-order and total)", 1000
    ),
    "rbd-fast": MethodInfo(
        "rbd-fast",
        "random balance design FAST on a Latin hypercube (first-order), also on "
        "an ensemble already run",
        500,
    ),
}
