"""Ensembles: distributions of uncertain parameters and seeded samples of the unit hypercube.

Samples are drawn in ``[0, 1)^d`` (random, Latin hypercube or scrambled Sobol', all seeded through
one :class:`numpy.random.Generator`) and mapped through each distribution's inverse CDF
(``scipy.stats`` ``ppf``), so the same seed gives bit-identical parameter sets whatever the
distributions (McKay, Beckman and Conover 1979 for Latin hypercubes; Owen 1998 for scrambled
Sobol' points).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from pssc_sim.errors import did_you_mean, shown
from pssc_sim.scenario.joint import JointNormal
from pssc_sim.scenario.samplers import SAMPLERS
from pssc_sim.scenario.schema import DISTRIBUTIONS, SAMPLING_NAMES, ScenarioError

if TYPE_CHECKING:
    from pssc_sim.compile.compiler import CompiledModel

# Unit samples are kept this far inside (0, 1): an inverse CDF of 0 or 1 may be infinite.
_EDGE = 1e-12


@dataclass(frozen=True, slots=True)
class Distribution:
    """A distribution of one parameter: a kind from :data:`~pssc_sim.scenario.schema.
    DISTRIBUTIONS` and its settings, checked on construction.

    Examples
    --------
    >>> Distribution("uniform", {"low": 2.0, "high": 4.0}).ppf(np.array([0.0, 0.5])).tolist()
    [2.000000000002, 3.0]
    >>> Distribution("uniform", {"low": 4.0, "high": 2.0})
    Traceback (most recent call last):
    ...
    pssc_sim.scenario.schema.ScenarioError: uniform: low must be below high (got low=4.0, \
high=2.0). Swap them
    """

    kind: str
    settings: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in DISTRIBUTIONS:
            raise ScenarioError(
                f"distribution: unknown distribution '{self.kind}'."
                f"{did_you_mean(self.kind, DISTRIBUTIONS) or ' Use one of: '}"
                f" {', '.join(DISTRIBUTIONS)}"
            )
        object.__setattr__(self, "settings", MappingProxyType(_settings(self.kind, self.settings)))
        _CHECKS[self.kind](self.kind, self.settings)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """The inverse CDF at ``u`` (values in ``[0, 1]``, kept just inside the ends)."""
        clipped = np.clip(np.asarray(u, dtype=float), _EDGE, 1.0 - _EDGE)
        return np.asarray(_PPF[self.kind](self.settings, clipped), dtype=float)

    def to_document(self) -> dict[str, Any]:
        """The distribution as written in a scenario file."""
        return {"distribution": self.kind, **self.settings}

    def __reduce__(self) -> tuple[type[Distribution], tuple[str, dict[str, Any]]]:
        # pickled as its kind and settings (a read-only mapping does not pickle), so that a
        # sampling specification travels to a cluster's workers
        return (Distribution, (self.kind, dict(self.settings)))


def _settings(kind: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    """The settings with their keys checked and their values as floats (lists for discrete)."""
    keys = DISTRIBUTIONS[kind]
    for key in settings:
        if key not in keys.allowed:
            hint = did_you_mean(str(key), keys.allowed)
            raise ScenarioError(
                f"{kind}: unknown key '{key}'.{hint} A {kind} distribution "
                f"takes: {', '.join(keys.allowed)}"
            )
    for key in keys.required:
        if key not in settings:
            raise ScenarioError(
                f"{kind}: '{key}' is required (got nothing). A {kind} "
                f"distribution needs: {', '.join(keys.required)}"
            )
    return {key: _value(kind, key, value) for key, value in settings.items()}


def _value(kind: str, key: str, value: Any) -> float | tuple[float, ...]:
    if key in ("values", "weights"):
        if not isinstance(value, (list, tuple)):
            raise ScenarioError(
                f"{kind}: {key} must be a list of numbers (got {shown(value)}). "
                f"Write {key}: [1, 2, 3]"
            )
        return tuple(_finite(kind, key, v) for v in value)
    return _finite(kind, key, value)


def _finite(kind: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ScenarioError(
            f"{kind}: {key} must be a finite number (got {shown(value)}). Write a plain number"
        )
    return float(value)


def _below(kind: str, low: float, high: float, names: str = "low and high") -> None:
    if not low < high:
        first, second = names.split(" and ")
        raise ScenarioError(
            f"{kind}: {first} must be below {second} (got {first}={low}, "
            f"{second}={high}). Swap them"
        )


def _positive(kind: str, name: str, value: float) -> None:
    if not value > 0:
        raise ScenarioError(
            f"{kind}: {name} must be positive (got {name}={value}). Give a {name} above 0"
        )


def _check_uniform(kind: str, s: Mapping[str, Any]) -> None:
    _below(kind, s["low"], s["high"])


def _check_normal(kind: str, s: Mapping[str, Any]) -> None:
    _positive(kind, "sd", s["sd"])
    if "low" in s and "high" in s:
        _below(kind, s["low"], s["high"])


def _check_triangular(kind: str, s: Mapping[str, Any]) -> None:
    _below(kind, s["low"], s["high"])
    if not s["low"] <= s["mode"] <= s["high"]:
        raise ScenarioError(
            f"{kind}: mode must lie between low and high (got low={s['low']}, "
            f"mode={s['mode']}, high={s['high']}). Move the mode inside"
        )


def _check_lognormal(kind: str, s: Mapping[str, Any]) -> None:
    _positive(kind, "sigma", s["sigma"])


def _check_beta(kind: str, s: Mapping[str, Any]) -> None:
    _positive(kind, "a", s["a"])
    _positive(kind, "b", s["b"])
    _below(kind, s.get("low", 0.0), s.get("high", 1.0))


def _check_discrete(kind: str, s: Mapping[str, Any]) -> None:
    values, weights = s["values"], s.get("weights")
    if len(values) == 0:
        raise ScenarioError(
            f"{kind}: values must not be empty (got {list(values)}). List the possible values"
        )
    if weights is None:
        return
    if len(weights) != len(values) or min(weights) < 0 or sum(weights) <= 0:
        raise ScenarioError(
            f"{kind}: weights must be one non-negative number per value, not all "
            f"zero (got values={list(values)}, weights={list(weights)}). Fix the "
            "weights"
        )


_CHECKS: Mapping[str, Callable[[str, Mapping[str, Any]], None]] = {
    "uniform": _check_uniform,
    "normal": _check_normal,
    "triangular": _check_triangular,
    "lognormal": _check_lognormal,
    "beta": _check_beta,
    "discrete": _check_discrete,
}


def _ppf_uniform(s: Mapping[str, Any], u: np.ndarray) -> np.ndarray:
    from scipy import stats

    return stats.uniform(loc=s["low"], scale=s["high"] - s["low"]).ppf(u)  # type: ignore[no-any-return]


def _ppf_normal(s: Mapping[str, Any], u: np.ndarray) -> np.ndarray:
    from scipy import stats

    mean, sd = s["mean"], s["sd"]
    if "low" not in s and "high" not in s:
        return stats.norm(loc=mean, scale=sd).ppf(u)  # type: ignore[no-any-return]
    a = (s.get("low", -math.inf) - mean) / sd
    b = (s.get("high", math.inf) - mean) / sd
    return stats.truncnorm(a, b, loc=mean, scale=sd).ppf(u)  # type: ignore[no-any-return]


def _ppf_triangular(s: Mapping[str, Any], u: np.ndarray) -> np.ndarray:
    from scipy import stats

    width = s["high"] - s["low"]
    shape = stats.triang((s["mode"] - s["low"]) / width, loc=s["low"], scale=width)
    return shape.ppf(u)  # type: ignore[no-any-return]


def _ppf_lognormal(s: Mapping[str, Any], u: np.ndarray) -> np.ndarray:
    from scipy import stats

    return stats.lognorm(s["sigma"], scale=math.exp(s["mu"])).ppf(u)  # type: ignore[no-any-return]


def _ppf_beta(s: Mapping[str, Any], u: np.ndarray) -> np.ndarray:
    from scipy import stats

    low, high = s.get("low", 0.0), s.get("high", 1.0)
    return stats.beta(s["a"], s["b"], loc=low, scale=high - low).ppf(u)  # type: ignore[no-any-return]


def _ppf_discrete(s: Mapping[str, Any], u: np.ndarray) -> np.ndarray:
    values = np.asarray(s["values"], dtype=float)
    weights = np.asarray(s.get("weights") or np.ones(len(values)), dtype=float)
    edges = np.cumsum(weights) / weights.sum()
    index = np.minimum(np.searchsorted(edges, u, side="right"), len(values) - 1)
    return values[index]


_PPF: Mapping[str, Callable[[Mapping[str, Any], np.ndarray], np.ndarray]] = {
    "uniform": _ppf_uniform,
    "normal": _ppf_normal,
    "triangular": _ppf_triangular,
    "lognormal": _ppf_lognormal,
    "beta": _ppf_beta,
    "discrete": _ppf_discrete,
}


def unit_samples(sampling: str, members: int, dimensions: int, seed: int) -> np.ndarray:
    """``members`` points in ``[0, 1)^dimensions``, shaped ``(members, dimensions)``.

    ``sobol`` draws the next power of two and keeps the first ``members`` points, so its balance
    properties hold exactly when ``members`` is a power of two.

    Examples
    --------
    >>> a = unit_samples("latin-hypercube", 4, 2, seed=7)
    >>> np.array_equal(a, unit_samples("latin-hypercube", 4, 2, seed=7))
    True
    >>> sorted(np.floor(a[:, 0] * 4).astype(int).tolist())  # one point in each quarter
    [0, 1, 2, 3]
    """
    if sampling not in SAMPLING_NAMES:
        raise ScenarioError(
            f"uncertainty.sampling: unknown sampling '{sampling}'."
            f"{did_you_mean(sampling, SAMPLING_NAMES)} Use one of: "
            f"{', '.join(SAMPLING_NAMES)}"
        )
    generator = np.random.default_rng(seed)
    if dimensions == 0:
        return np.empty((members, 0))
    return SAMPLERS[sampling].draw(generator, members, dimensions)


def sample(
    distributions: Mapping[str, Distribution],
    sampling: str,
    members: int,
    seed: int,
    joint: Sequence[JointNormal] = (),
) -> dict[str, np.ndarray]:
    """One array of ``members`` values per parameter, in the order of ``distributions`` and
    then of the ``joint`` blocks' parameters. The design has one column per parameter: those
    of ``distributions`` first, then those of each joint block.

    >>> values = sample({"k": Distribution("uniform", {"low": 0.0, "high": 1.0})},
    ...                 "random", 3, seed=1)
    >>> values["k"].shape
    (3,)
    """
    units = unit_samples(sampling, members, dimensions(distributions, joint), seed)
    return mapped(distributions, joint, units)


def dimensions(distributions: Mapping[str, Distribution], joint: Sequence[JointNormal]) -> int:
    """The columns of the design: one per sampled parameter."""
    return len(distributions) + sum(len(block.parameters) for block in joint)


def mapped(
    distributions: Mapping[str, Distribution], joint: Sequence[JointNormal], units: np.ndarray
) -> dict[str, np.ndarray]:
    """The values of the design's rows ``units``: each column through its parameter's inverse
    CDF, each joint block's columns through its :meth:`JointNormal.ppf`. Member by member: a
    row's values do not depend on the other rows."""
    values = {name: given.ppf(units[:, j]) for j, (name, given) in enumerate(distributions.items())}
    column = len(distributions)
    for block in joint:
        width = len(block.parameters)
        drawn = block.ppf(units[:, column : column + width])
        values.update({key: drawn[:, i] for i, key in enumerate(block.parameters)})
        column += width
    return values


@functools.lru_cache(maxsize=2)
def design_units(sampling: str, members: int, dimensions: int, seed: int) -> np.ndarray:
    """:func:`unit_samples`, kept (read-only) for the blocks of the same design that follow:
    a worker draws a design once, however many of its blocks it runs."""
    units = unit_samples(sampling, members, dimensions, seed)
    units.setflags(write=False)
    return units


@dataclass(frozen=True, slots=True)
class SampledMembers:
    """The members ``start`` to ``stop`` of a sampled ensemble, as its specification: the
    parameters' ``distributions`` (by the parameter each sets), the ``sampling``, the design's
    ``members`` and ``seed``, the values ``fixed`` for every member, and the ``joint`` blocks
    of parameters drawn together (by the parameters they set). This is what a task
    carries to a cluster's worker, which makes the block's rows itself (a few hundred bytes
    whatever the number of members, so the client never draws the ensemble): the worker draws
    the design's unit samples (:func:`design_units`, once per design), keeps its block's and
    maps them through the distributions, the values :func:`sample` gives those members, bit
    for bit (the inverse CDFs are taken member by member).

    >>> spec = SampledMembers(
    ...     (("k", Distribution("uniform", {"low": 0.0, "high": 1.0})),), "sobol", 8, 3, {}
    ... )
    >>> whole = sample({"k": Distribution("uniform", {"low": 0.0, "high": 1.0})}, "sobol", 8, 3)
    >>> bool((spec.block(2, 5).values()["k"] == whole["k"][2:5]).all())
    True
    """

    distributions: tuple[tuple[str, Distribution], ...]
    sampling: str
    members: int
    seed: int
    fixed: Mapping[str, float]
    start: int = 0
    stop: int | None = None
    joint: tuple[JointNormal, ...] = ()

    @property
    def count(self) -> int:
        """The members of this block."""
        return (self.members if self.stop is None else self.stop) - self.start

    def block(self, start: int, stop: int) -> SampledMembers:
        """The members ``start`` to ``stop`` of this block."""
        return replace(self, start=self.start + start, stop=self.start + stop)

    def values(self) -> dict[str, np.ndarray]:
        """The sampled values of these members, by parameter."""
        given = dict(self.distributions)
        columns = dimensions(given, self.joint)
        units = design_units(self.sampling, self.members, columns, self.seed)
        return mapped(given, self.joint, units[self.start : self.start + self.count])

    def example(self) -> dict[str, Any]:
        """One plausible value of every parameter (the medians of the distributions), for
        checking the names and values before anything is sent."""
        given = dict(self.distributions)
        middle = np.full((1, dimensions(given, self.joint)), 0.5)
        return {**self.fixed, **mapped(given, self.joint, middle)}

    def __call__(self, compiled: CompiledModel) -> np.ndarray:
        """The rows (parameters x members) of these members, on the worker: the columns of
        the parameter matrix one process builds of the whole ensemble."""
        from pssc_sim.integrate.simulate import MEMBER, fill_parameters, parameter_overrides

        given: dict[str, Any] = {**self.fixed, **self.values()}
        overrides, count = parameter_overrides(compiled, given)
        if MEMBER in compiled.parameter_names and MEMBER not in given and self.members > 1:
            # each member its own random stream, numbered in the whole ensemble
            overrides[MEMBER] = np.arange(self.start, self.start + count, dtype=float)
        return fill_parameters(compiled, overrides, count)

    def summary(self) -> dict[str, tuple[float, float, float]]:
        """The smallest, largest and median sampled value of each parameter, over the whole
        ensemble (what a scenario's description says of its samples)."""
        return {
            key: (float(v.min()), float(v.max()), float(np.median(v)))
            for key, v in replace(self, start=0, stop=None).values().items()
        }
