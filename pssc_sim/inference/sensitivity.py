"""Global sensitivity analysis: which uncertain parameters drive an output, with SALib.

The design is drawn by SALib's samplers on the unit hypercube, mapped through each parameter's
distribution (its inverse CDF, as scenario ensembles are), run as one vectorised ensemble and
analysed by SALib's estimators:

- ``sobol``: Saltelli's design, first-order ``S1``, total ``ST`` (and second-order ``S2``) indices
  with bootstrap confidence intervals (Saltelli et al. 2010, *Comput. Phys. Commun.* 181:259);
- ``morris``: elementary effects on a grid of 4 levels, ``mu_star`` (the mean absolute effect,
  in output units per whole range of a parameter), ``sigma`` and ``mu_star_conf`` (Morris 1991;
  Campolongo, Cariboni and Saltelli 2007);
- ``fast``: extended FAST, ``S1`` and ``ST`` (Saltelli, Tarantola and Chan 1999);
- ``rbd-fast``: first-order ``S1`` from a Latin hypercube by random balance designs (Tarantola,
  Gatelli and Mara 2006; bias corrected as Tissot and Prieur 2012). It needs no design of its
  own: :func:`analyze` applies it to any ensemble already run, which is how a finding's
  deciding parameters are read from the ensemble that tested it.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pssc_sim.errors import ParameterError, did_you_mean
from pssc_sim.inference.catalogue import SENSITIVITY_METHODS
from pssc_sim.inference.design import Experiment, Request, Statistic, unit_to_values
from pssc_sim.integrate.progress import Progress

#: Interference factor of FAST's search curves (SALib's default).
FAST_M = 4
#: Grid levels of the Morris design.
MORRIS_LEVELS = 4
#: Harmonics of RBD-FAST (SALib's default).
RBD_M = 10
#: Runs RBD-FAST needs at least: enough for the harmonics and a bootstrap.
RBD_LEAST = 4 * RBD_M
#: Runs a design may hold at most (a larger one would not fit in memory as a design matrix).
MAX_RUNS = 50_000_000
#: Output times analysed at most for an index over time (evenly spread over the saved times).
MAX_TIMES = 61


def _problem(names: Sequence[str]) -> dict[str, Any]:
    return {"num_vars": len(names), "names": list(names), "bounds": [[0.0, 1.0]] * len(names)}


def _sample_sobol(problem: dict[str, Any], n: int, second_order: bool, seed: int) -> np.ndarray:
    from SALib.sample import sobol

    return np.asarray(sobol.sample(problem, n, calc_second_order=second_order, seed=seed))


def _analyze_sobol(
    problem: dict[str, Any], unit: np.ndarray, y: np.ndarray, second_order: bool, seed: int
) -> Mapping[str, Any]:
    from SALib.analyze import sobol

    indices: Mapping[str, Any] = sobol.analyze(
        problem, y, calc_second_order=second_order, seed=seed
    )
    return indices


def _sample_morris(problem: dict[str, Any], n: int, second_order: bool, seed: int) -> np.ndarray:
    from SALib.sample import morris

    return np.asarray(morris.sample(problem, n, num_levels=MORRIS_LEVELS, seed=seed))


def _analyze_morris(
    problem: dict[str, Any], unit: np.ndarray, y: np.ndarray, second_order: bool, seed: int
) -> Mapping[str, Any]:
    from SALib.analyze import morris

    indices: Mapping[str, Any] = morris.analyze(
        problem, unit, y, num_levels=MORRIS_LEVELS, seed=seed
    )
    return indices


def _sample_fast(problem: dict[str, Any], n: int, second_order: bool, seed: int) -> np.ndarray:
    from SALib.sample import fast_sampler

    return np.asarray(fast_sampler.sample(problem, n, M=FAST_M, seed=seed))


def _analyze_fast(
    problem: dict[str, Any], unit: np.ndarray, y: np.ndarray, second_order: bool, seed: int
) -> Mapping[str, Any]:
    from SALib.analyze import fast

    with warnings.catch_warnings():
        # SALib warns on every call that FAST's bootstrap intervals are indicative only; the
        # documentation of `pssc sensitivity` says so once.
        warnings.filterwarnings("ignore", message="FAST confidence intervals", category=UserWarning)
        return fast.analyze(problem, y, M=FAST_M, seed=seed)  # type: ignore[no-any-return]


def _sample_rbd(problem: dict[str, Any], n: int, second_order: bool, seed: int) -> np.ndarray:
    from SALib.sample import latin

    return np.asarray(latin.sample(problem, n, seed=seed))


def _analyze_rbd(
    problem: dict[str, Any], unit: np.ndarray, y: np.ndarray, second_order: bool, seed: int
) -> Mapping[str, Any]:
    from SALib.analyze import rbd_fast

    indices: Mapping[str, Any] = rbd_fast.analyze(problem, unit, y, M=RBD_M, seed=seed)
    return indices


def _runs_sobol(n: int, d: int, second_order: bool) -> int:
    return n * (2 * d + 2) if second_order else n * (d + 2)


def _runs_morris(n: int, d: int, second_order: bool) -> int:
    return n * (d + 1)


def _runs_fast(n: int, d: int, second_order: bool) -> int:
    return n * d


def _runs_rbd(n: int, d: int, second_order: bool) -> int:
    return n


def _check_sobol(n: int) -> str | None:
    if n < 2 or n & (n - 1):
        power = 2 ** max(1, round(math.log2(max(n, 1))))
        return f"Sobol' designs need a power of two, at least 2. Use {power}"
    return None


def _check_morris(n: int) -> str | None:
    return None if n >= 2 else "Morris needs at least 2 trajectories. Use e.g. 20"


def _check_fast(n: int) -> str | None:
    least = 4 * FAST_M**2 + 1
    return None if n >= least else f"FAST needs more than {4 * FAST_M**2}. Use e.g. 1000"


def _check_rbd(n: int) -> str | None:
    least = RBD_LEAST
    return None if n >= least else f"RBD-FAST needs at least {least} runs. Use e.g. 500"


@dataclass(frozen=True, slots=True)
class SensitivityMethod:
    """One entry of :data:`METHODS`: SALib's sampler and analyser of a method, the indices it
    reports, and the number of runs of a design of ``N`` samples over ``D`` parameters."""

    name: str
    description: str
    indices: tuple[str, ...]
    sample: Callable[[dict[str, Any], int, bool, int], np.ndarray]
    analyze: Callable[[dict[str, Any], np.ndarray, np.ndarray, bool, int], Mapping[str, Any]]
    runs: Callable[[int, int, bool], int]
    check: Callable[[int], str | None]
    default_samples: int


#: The sensitivity methods by name; the command line reads their names and descriptions from
#: :data:`pssc_sim.inference.catalogue.SENSITIVITY_METHODS`.
METHODS: Mapping[str, SensitivityMethod] = {
    "sobol": SensitivityMethod(
        "sobol",
        SENSITIVITY_METHODS["sobol"].description,
        ("S1", "S1_conf", "ST", "ST_conf"),
        _sample_sobol,
        _analyze_sobol,
        _runs_sobol,
        _check_sobol,
        SENSITIVITY_METHODS["sobol"].default_samples,
    ),
    "morris": SensitivityMethod(
        "morris",
        SENSITIVITY_METHODS["morris"].description,
        ("mu_star", "mu_star_conf", "sigma"),
        _sample_morris,
        _analyze_morris,
        _runs_morris,
        _check_morris,
        SENSITIVITY_METHODS["morris"].default_samples,
    ),
    "fast": SensitivityMethod(
        "fast",
        SENSITIVITY_METHODS["fast"].description,
        ("S1", "S1_conf", "ST", "ST_conf"),
        _sample_fast,
        _analyze_fast,
        _runs_fast,
        _check_fast,
        SENSITIVITY_METHODS["fast"].default_samples,
    ),
    "rbd-fast": SensitivityMethod(
        "rbd-fast",
        SENSITIVITY_METHODS["rbd-fast"].description,
        ("S1", "S1_conf"),
        _sample_rbd,
        _analyze_rbd,
        _runs_rbd,
        _check_rbd,
        SENSITIVITY_METHODS["rbd-fast"].default_samples,
    ),
}


@dataclass(frozen=True, slots=True, eq=False)
class SensitivityResult:
    """The indices of every parameter for one output.

    Attributes
    ----------
    indices
        ``{parameter: {index name: value}}`` (names as in :data:`METHODS`).
    second_order
        Sobol' ``S2`` and ``S2_conf`` by parameter pair, when asked for.
    over_time
        With a ``series`` statistic: times, and ``{parameter: {index: values over time}}``.
    unit, values, y
        The design on the unit hypercube, the parameter values run and the output of each run.
    constant
        Whether the output did not vary across the design (every index is then 0).
    """

    method: str
    output: str
    statistic: Statistic
    parameters: tuple[str, ...]
    samples: int
    seed: int
    indices: Mapping[str, Mapping[str, float]]
    unit: np.ndarray
    values: np.ndarray
    y: np.ndarray
    constant: bool = False
    second_order: Mapping[tuple[str, str], Mapping[str, float]] = field(default_factory=dict)
    times: np.ndarray | None = None
    over_time: Mapping[str, Mapping[str, np.ndarray]] = field(default_factory=dict)

    @property
    def runs(self) -> int:
        """How many runs the design took."""
        return int(self.unit.shape[0])

    def to_json(self) -> dict[str, Any]:
        """``{"method", "output", "statistic", "runs", "indices": {parameter: {...}}}`` (and
        ``"second_order"`` when computed)."""
        document: dict[str, Any] = {
            "method": self.method,
            "output": self.output,
            "statistic": self.statistic.label,
            "runs": self.runs,
            "samples": self.samples,
            "seed": self.seed,
            "indices": {p: dict(v) for p, v in self.indices.items()},
        }
        if self.second_order:
            document["second_order"] = {
                f"{a},{b}": dict(v) for (a, b), v in self.second_order.items()
            }
        return document

    def table(self) -> str:
        """The indices as a plain-text table, largest first by the method's main index."""
        names = METHODS[self.method].indices
        width = max([len("parameter"), *(len(p) for p in self.parameters)])
        rows = [f"{'parameter':<{width}}  " + " ".join(f"{n:>12}" for n in names)]
        # ST where the method has it, else mu_star or S1
        main = names[2] if len(names) > 2 and self.method != "morris" else names[0]
        for p in sorted(self.parameters, key=lambda p: -self.indices[p][main]):
            rows.append(f"{p:<{width}}  " + " ".join(f"{self.indices[p][n]:>12.4g}" for n in names))
        return "\n".join(rows)


def sensitivity(
    experiment: Experiment,
    output: str,
    statistic: Statistic | None = None,
    *,
    method: str = "sobol",
    samples: int | None = None,
    parameters: Sequence[str] | None = None,
    second_order: bool = False,
    seed: int = 0,
    progress: Progress | None = None,
) -> SensitivityResult:
    """Global sensitivity of ``output`` (reduced by ``statistic``) to uncertain parameters.

    Parameters
    ----------
    experiment
        The model or scenario (see :class:`~pssc_sim.inference.design.Experiment`).
    output
        A stock, flow, auxiliary or measure.
    statistic
        What of each run is analysed: ``final`` (default), ``mean``, ``max``, ``min``, ``at`` a
        time, or the ``series`` (indices at each saved time, up to :data:`MAX_TIMES` of them).
    method
        ``sobol``, ``morris`` or ``fast`` (see :data:`METHODS`).
    samples
        The base sample size ``N`` of the method (runs: Sobol' ``N(D+2)``, or ``N(2D+2)`` with
        second order; Morris ``N(D+1)`` trajectories' points; FAST ``N D``).
    parameters
        The parameters varied (default: those in the scenario's ``uncertainty:`` block, else every
        parameter with a range or distribution in the model).
    second_order
        Also Sobol' second-order indices.
    seed
        Seed of the design and of the bootstrap intervals.
    progress
        Gets the fraction of the design run.

    Examples
    --------
    >>> from pathlib import Path
    >>> import pssc_sim
    >>> teacup = Experiment.load(Path(pssc_sim.__file__).parent.parent / "models" / "teacup")
    >>> result = sensitivity(teacup, "teacup_temperature", Statistic("at", 10),
    ...                      samples=64, seed=1)
    >>> result.parameters, result.runs
    (('characteristic_time',), 192)
    >>> round(result.indices["characteristic_time"]["ST"], 1)
    1.0
    """
    statistic = statistic or Statistic()
    chosen = _method(method)
    n = chosen.default_samples if samples is None else samples
    problem_text = chosen.check(n)
    if problem_text is not None:
        raise ParameterError(
            f"--samples: too few or wrong samples for {method} (got {n}). {problem_text}"
        )
    experiment.check_output(output)
    statistic.check(*experiment.span)
    distributions = experiment.distributions(parameters)
    names = tuple(distributions)
    if second_order and (method != "sobol" or len(names) < 2):
        raise ParameterError(
            f"--second-order: only Sobol' with two parameters or more has "
            f"second-order indices (got method {method}, {len(names)} "
            "parameter(s)). Drop --second-order"
        )
    runs = chosen.runs(n, len(names), second_order)
    if runs > MAX_RUNS:
        raise ParameterError(
            f"--samples: the design would take {runs:,} runs, more than "
            f"{MAX_RUNS:,} (got N = {n}). Use a smaller N"
        )
    problem = _problem(names)
    unit = chosen.sample(problem, n, second_order, seed)
    values = unit_to_values(distributions, unit)
    (y,) = experiment.evaluate(names, values, [Request(output, statistic)], progress=progress)
    base = SensitivityResult(method, output, statistic, names, n, seed, {}, unit, values, y)
    if statistic.kind == "series":
        return _over_time(base, experiment, problem, second_order)
    return _analysed(base, problem, y, second_order)


def _method(method: str) -> SensitivityMethod:
    if method not in METHODS:
        raise ParameterError(
            f"--method: unknown sensitivity method {method!r} (got "
            f"{method!r}).{did_you_mean(method, METHODS)} Use one of: "
            f"{', '.join(METHODS)}"
        )
    return METHODS[method]


def analyze(
    method: str,
    names: Sequence[str],
    unit: np.ndarray,
    y: np.ndarray,
    *,
    second_order: bool = False,
    seed: int = 0,
) -> tuple[dict[str, dict[str, float]], dict[tuple[str, str], dict[str, float]], bool]:
    """SALib's indices of the outputs ``y`` of the design ``unit``: by parameter, by pair of
    parameters (Sobol' second order), and whether ``y`` was constant (all indices 0)."""
    chosen = _method(method)
    if np.ptp(y) <= np.finfo(float).eps * max(1.0, float(np.abs(y).max())):
        zeros = {p: dict.fromkeys(chosen.indices, 0.0) for p in names}
        return zeros, {}, True
    # SALib seeds its bootstrap only for a true seed (``if seed:``): 0 would draw fresh
    # confidence intervals each time, so it goes to SALib as the largest seed numpy takes.
    raw = chosen.analyze(_problem(names), unit, y, second_order, seed or 2**32 - 1)
    indices = {p: {key: float(raw[key][j]) for key in chosen.indices} for j, p in enumerate(names)}
    pairs: dict[tuple[str, str], dict[str, float]] = {}
    if second_order:
        for j, a in enumerate(names):
            for k in range(j + 1, len(names)):
                pairs[(a, names[k])] = {
                    "S2": float(raw["S2"][j, k]),
                    "S2_conf": float(raw["S2_conf"][j, k]),
                }
    return indices, pairs, False


def _analysed(
    base: SensitivityResult, problem: dict[str, Any], y: np.ndarray, second_order: bool
) -> SensitivityResult:
    indices, pairs, constant = analyze(
        base.method, base.parameters, base.unit, y, second_order=second_order, seed=base.seed
    )
    return _with(base, indices=indices, second_order=pairs, constant=constant)


def _over_time(
    base: SensitivityResult, experiment: Experiment, problem: dict[str, Any], second_order: bool
) -> SensitivityResult:
    times = experiment.saved_times()
    rows = np.unique(np.linspace(0, len(times) - 1, min(MAX_TIMES, len(times))).round().astype(int))
    keys = METHODS[base.method].indices
    series = {p: {k: np.zeros(len(rows)) for k in keys} for p in base.parameters}
    for i, row in enumerate(rows):
        indices, _, _ = analyze(
            base.method, base.parameters, base.unit, base.y[row], seed=base.seed
        )
        for p in base.parameters:
            for k in keys:
                series[p][k][i] = indices[p][k]
    final = _analysed(base, problem, base.y[-1], second_order)
    return _with(final, times=times[rows], over_time=series)


def _with(result: SensitivityResult, **changes: Any) -> SensitivityResult:
    from dataclasses import replace

    return replace(result, **changes)
