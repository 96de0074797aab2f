"""The registry of samplers: how an ensemble's members are spread over the unit hypercube.

One entry per sampler, as data, as :data:`pssc_sim.integrate.methods.METHODS` holds the
integration methods: the scenario schema, the file reader and :func:`unit_samples
<pssc_sim.scenario.sampling.unit_samples>` all read :data:`SAMPLERS`, so a new sampler is one
entry here. scipy's quasi-Monte Carlo engines are imported when a sampler first draws.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

#: ``draw(generator, members, dimensions)`` -> points in ``[0, 1)^dimensions``, one row per member.
Draw = Callable[[np.random.Generator, int, int], np.ndarray]


@dataclass(frozen=True, slots=True)
class Sampler:
    """One way to place the members of an ensemble."""

    name: str
    draw: Draw
    description: str


def _engine(kind: type[Any], d: int, generator: np.random.Generator) -> Any:
    # scipy >= 1.15 takes the generator as ``rng``; older releases call it ``seed``.
    key = "rng" if "rng" in inspect.signature(kind).parameters else "seed"
    return kind(d, **{key: generator})


def _random(generator: np.random.Generator, members: int, dimensions: int) -> np.ndarray:
    return generator.random((members, dimensions))


def _latin_hypercube(generator: np.random.Generator, members: int, dimensions: int) -> np.ndarray:
    from scipy.stats import qmc

    return np.asarray(_engine(qmc.LatinHypercube, dimensions, generator).random(members))


def _sobol(generator: np.random.Generator, members: int, dimensions: int) -> np.ndarray:
    from scipy.stats import qmc

    power = max(0, math.ceil(math.log2(members)))
    return np.asarray(_engine(qmc.Sobol, dimensions, generator).random_base2(power)[:members])


#: Every sampler, by name.
SAMPLERS: Mapping[str, Sampler] = MappingProxyType(
    {
        "random": Sampler("random", _random, "independent uniform draws"),
        "latin-hypercube": Sampler(
            "latin-hypercube",
            _latin_hypercube,
            "one member in each of n equal slices of every parameter (the default)",
        ),
        "sobol": Sampler(
            "sobol",
            _sobol,
            "scrambled Sobol' points; balanced when the number of members is a power of two",
        ),
    }
)
