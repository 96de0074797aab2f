"""Calibration of a model to observed data: :func:`calibrate` and its :class:`Calibration`.

``method="least-squares"`` fits by multi-start weighted least squares
(:mod:`~pssc_sim.inference.least_squares`) and reports estimates with approximate 95% intervals
from the Jacobian; ``method="mcmc"`` then samples the posterior with emcee
(:mod:`~pssc_sim.inference.mcmc`) and reports posterior medians with 95% credible intervals.
Either way the result carries the fit statistics of each series (:mod:`~pssc_sim.inference.fit`),
the correlation of the estimates, warnings for parameters the data do not determine, the run at
the estimates with a 95% band over the parameters' uncertainty, and a scenario that sets the
estimates.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pssc_sim.errors import ParameterError, did_you_mean
from pssc_sim.inference.catalogue import CALIBRATION_METHODS
from pssc_sim.inference.data import DataError, ErrorModel, Observations, read_plan
from pssc_sim.inference.fit import FitStatistics, fit_statistics
from pssc_sim.inference.least_squares import LeastSquaresFit, fit_least_squares
from pssc_sim.inference.problem import FitParameter, Problem, calibration_problem
from pssc_sim.ir.model import Model
from pssc_sim.results import Results
from pssc_sim.scenario import Scenario, is_scenario_file
from pssc_sim.scenario.reader import resolve_model

#: Calibration methods.
METHODS: tuple[str, ...] = CALIBRATION_METHODS
#: Least-squares starts when neither the call nor a ``calibration.yaml`` gives them.
DEFAULT_STARTS = 8
#: Correlations of estimates beyond this size are reported: the data hardly tell them apart.
CORRELATED = 0.95
#: Parameter sets drawn to draw the band of the fitted run.
BAND_DRAWS = 200
#: Members of the uncertainty block written for an MCMC calibration.
SCENARIO_MEMBERS = 1000


@dataclass(frozen=True, slots=True)
class Estimate:
    """A fitted parameter: its estimate and 95% interval, and the bounds searched."""

    name: str
    estimate: float
    low: float
    high: float
    bound_low: float
    bound_high: float


@dataclass(frozen=True, slots=True, eq=False)
class Calibration:
    """The result of :func:`calibrate`.

    Attributes
    ----------
    method
        ``least-squares`` or ``mcmc``.
    estimates
        One :class:`Estimate` per fitted parameter: least-squares estimates with approximate 95%
        confidence intervals, or posterior medians with 95% credible intervals.
    correlation
        The correlation matrix of the estimates, in the order of ``estimates``.
    fit
        Sterman's fit statistics of each observed series, for the run at the estimates.
    runs
        Model runs made (ensemble members counted one by one).
    warnings
        Parameters the data do not determine, and for MCMC a chain that has not converged.
    diagnostics
        Method details: cost and starts that reached it; acceptance, autocorrelation times.
    run
        The run at the estimates, recorded at every ``dt``.
    band
        ``{series: (low, high)}``: the 2.5% and 97.5% of runs over the parameters' uncertainty.
    samples
        Posterior samples ``(n, p)`` for MCMC; ``None`` for least squares.
    seed
        The seed of the starts and of the sampler.
    fit_until, holdout
        For an out-of-sample check, the last time whose observations were fitted, and the fit
        statistics of each series over its later observations, which the fit never saw.
    covariance
        The covariance matrix of the estimates, in the order of ``estimates``: the
        least-squares approximation, or the posterior samples' for MCMC. With the estimates it
        is what a scenario's joint draw of correlated parameters takes (``uncertainty.joint``).
    """

    method: str
    estimates: tuple[Estimate, ...]
    correlation: np.ndarray
    fit: Mapping[str, FitStatistics]
    runs: int
    warnings: tuple[str, ...]
    diagnostics: Mapping[str, Any]
    problem: Problem = field(repr=False)
    run: Results = field(repr=False)
    band: Mapping[str, tuple[np.ndarray, np.ndarray]] = field(repr=False)
    samples: np.ndarray | None = field(repr=False)
    seed: int = 42
    fit_until: float | None = None
    holdout: Mapping[str, FitStatistics] = field(default_factory=dict)
    covariance: np.ndarray | None = field(default=None, repr=False)

    @property
    def values(self) -> dict[str, float]:
        """``{parameter: estimate}``."""
        return {e.name: e.estimate for e in self.estimates}

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready data: ``parameters``, ``fit``, ``method``, ``runs``, and
        ``correlation``, ``warnings`` and ``diagnostics``."""
        names = [e.name for e in self.estimates]
        return {
            "method": self.method,
            "runs": self.runs,
            "parameters": {
                e.name: {
                    **_json({"estimate": e.estimate, "low": e.low, "high": e.high}),
                    "bounds": [e.bound_low, e.bound_high],
                }
                for e in self.estimates
            },
            "fit": {name: stats.to_dict() for name, stats in self.fit.items()},
            "correlation": {
                a: {b: _finite(self.correlation[i, j]) for j, b in enumerate(names)}
                for i, a in enumerate(names)
            },
            **(
                {}
                if self.covariance is None
                else {
                    "covariance": {
                        a: {b: _finite(self.covariance[i, j]) for j, b in enumerate(names)}
                        for i, a in enumerate(names)
                    }
                }
            ),
            "warnings": list(self.warnings),
            "diagnostics": _json(self.diagnostics),
            **(
                {
                    "fit_until": self.fit_until,
                    "holdout": {name: stats.to_dict() for name, stats in self.holdout.items()},
                }
                if self.fit_until is not None
                else {}
            ),
        }

    def summary(self) -> str:
        """Estimates with intervals, the fit of each series, and the warnings, as text."""
        kind = (
            "estimate and approximate 95% interval"
            if self.method == "least-squares"
            else "posterior median and 95% interval"
        )
        width = max(len("parameter"), *(len(e.name) for e in self.estimates))
        lines = [
            f"calibration of {self.problem.model.name} to {self.problem.observations.source}"
            f" by {self.method}: {self.problem.observations.size} observations, "
            f"{self.runs} runs",
            "",
            f"{'parameter':<{width}}  {kind}",
        ]
        lines += [
            f"{e.name:<{width}}  {e.estimate:>12.6g}  [{e.low:.6g}, {e.high:.6g}]  "
            f"(bounds {e.bound_low:g} to {e.bound_high:g})"
            for e in self.estimates
        ]
        width = max(len("series"), *(len(n) for n in self.fit))
        lines += _fit_table(self.fit)
        if self.fit_until is not None:
            lines += ["", f"out of sample: observations after {self.fit_until:g}, not fitted"]
            lines += _fit_table(self.holdout)[1:] if self.holdout else ["(none)"]
        lines += [""] + [f"{k}: {_text(v)}" for k, v in self.diagnostics.items()]
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def table(self) -> pd.DataFrame:
        """The fit in long form: ``time, series, observed, simulated, band_low, band_high``
        at every recorded time (``observed`` empty where there is no observation)."""
        frames = []
        for s in self.problem.observations.series:
            times = np.union1d(self.run.times, s.times)
            observed = np.full(times.size, np.nan)
            observed[np.searchsorted(times, s.times)] = s.values
            low, high = self.band[s.name]
            frames.append(
                pd.DataFrame(
                    {
                        "time": times,
                        "series": s.name,
                        "observed": observed,
                        "simulated": np.interp(
                            times, self.run.times, self.run.values[:, self.run.index(s.name), 0]
                        ),
                        "band_low": np.interp(times, self.run.times, low),
                        "band_high": np.interp(times, self.run.times, high),
                    }
                )
            )
        return pd.concat(frames, ignore_index=True)

    def scenario_document(self, folder: str | Path, name: str = "") -> dict[str, Any]:
        """A scenario file's mapping that sets the estimates (for MCMC also an ``uncertainty:``
        block drawing them jointly from the posterior's mean and covariance, truncated to the
        bounds); the model
        path is written relative to ``folder``, where the file will be."""
        scenario = self.problem.scenario
        document = scenario.to_document()
        model = resolve_model(
            self.problem.model.source
            if isinstance(scenario.model, Model) or scenario.model is None
            else scenario.model,
            scenario.folder,
        ).resolve()
        document["model"] = Path(os.path.relpath(model, Path(folder).resolve())).as_posix()
        document["scenario"] = name or f"{scenario.label}-calibrated"
        description = (
            f"Calibrated by {self.method} to {self.problem.observations.source}: "
            + ", ".join(
                f"{e.name} {e.estimate:.6g} [{e.low:.6g}, {e.high:.6g}]" for e in self.estimates
            )
        )
        document["description"] = description
        document["set"] = {
            **document.get("set", {}),
            **{e.name: e.estimate for e in self.estimates},
        }
        uncertainty = self._uncertainty(document.pop("uncertainty", None))
        if uncertainty is not None:
            document["uncertainty"] = uncertainty
        order = ("scenario", "description", "model", "time", "method", "set")
        return {
            **{k: document[k] for k in order if k in document},
            **{k: v for k, v in document.items() if k not in order},
        }

    def _uncertainty(self, block: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """The uncertainty block of the calibrated scenario: the scenario's own uncertain
        parameters that were not fitted, and for MCMC the fitted ones drawn from the posterior
        (a joint normal with the posterior mean and covariance, truncated to the bounds: one
        parameter alone, a normal)."""
        fitted = {e.name for e in self.estimates}
        model = self.problem.scenario.load_model()
        given_joint = list((block or {}).get("joint") or [])
        joint = [b for b in given_joint if not set(b["parameters"]) & fitted]
        drawn = {n for b in given_joint for n in b["parameters"]}
        kept: dict[str, Any] = {}
        if block is not None:
            given = block.get("parameters")
            names = (
                list(given)
                if given is not None
                else [p.name for p in model.parameters if p.distribution or p.range]
            )
            kept = {
                name: (given or {}).get(name)
                for name in names
                if name not in fitted and name not in drawn
            }
        if self.samples is not None:
            posterior = self._posterior(self.samples)
            if len(self.estimates) == 1:
                kept[self.estimates[0].name] = posterior
            else:
                joint.append(posterior)
        if not kept and not joint:
            return None
        original = dict(block or {})
        return {
            "members": original.get("members") or SCENARIO_MEMBERS,
            "sampling": original.get("sampling") or "latin-hypercube",
            "seed": original.get("seed", self.seed),
            "parameters": kept,
            **({"joint": joint} if joint else {}),
        }

    def _posterior(self, samples: np.ndarray) -> dict[str, Any]:
        """The posterior ``samples`` as a (joint) normal truncated to the bounds: their mean
        and covariance, each variance kept above a floor (a posterior of one point)."""
        mean = samples.mean(axis=0)
        covariance = np.atleast_2d(np.cov(samples, rowvar=False, bias=True))
        floor = np.array([1e-12 * (e.bound_high - e.bound_low) for e in self.estimates])
        covariance = (covariance + covariance.T) / 2 + np.diag(floor**2)
        low = [e.bound_low for e in self.estimates]
        high = [e.bound_high for e in self.estimates]
        if len(self.estimates) == 1:
            sd = float(np.sqrt(covariance[0, 0]))
            return {
                "distribution": "normal",
                "mean": float(mean[0]),
                "sd": sd,
                "low": low[0],
                "high": high[0],
            }
        return {
            "parameters": [e.name for e in self.estimates],
            "distribution": "normal",
            "mean": mean.tolist(),
            "covariance": covariance.tolist(),
            "low": low,
            "high": high,
        }


def _fit_table(fit: Mapping[str, FitStatistics]) -> list[str]:
    """A blank line, the header and one line per series of fit statistics."""
    width = max(len("series"), *(len(n) for n in fit)) if fit else len("series")
    lines = [
        "",
        f"{'series':<{width}}  {'R²':>8} {'MAPE':>8} {'RMSE':>12} {'U^M':>6} {'U^S':>6} {'U^C':>6}",
    ]
    for name, s in fit.items():
        lines.append(
            f"{name:<{width}}  {s.r2:>8.4f} {s.mape:>8.2%} {s.rmse:>12.6g} "
            f"{s.theil_um:>6.3f} {s.theil_us:>6.3f} {s.theil_uc:>6.3f}"
        )
    return lines


def _finite(value: Any) -> Any:
    return float(value) if np.isfinite(value) else None


def _json(value: Any) -> Any:
    """``value`` with every float that is not finite (an undefined statistic) as ``None``."""
    if isinstance(value, Mapping):
        return {key: _json(item) for key, item in value.items()}
    if isinstance(value, (float, np.floating)):
        return _finite(value)
    return value


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {_text(v)}" for k, v in value.items())
    return str(value)


def as_scenario(model_or_scenario: str | Path | Model | Scenario) -> Scenario:
    """A scenario file, a :class:`Scenario`, or a model (a path or a :class:`Model`) as one."""
    if isinstance(model_or_scenario, Scenario):
        return model_or_scenario
    if isinstance(model_or_scenario, Model):
        return Scenario(model=model_or_scenario, name=model_or_scenario.name)
    if is_scenario_file(model_or_scenario):
        return Scenario.load(model_or_scenario)
    path = Path(model_or_scenario)
    return Scenario(model=path, name=path.stem, folder=Path.cwd())


def planned_scenario(
    model_or_scenario: str | Path | Model | Scenario, data: str | Path | Observations
) -> Scenario:
    """What a calibration to ``data`` runs: a scenario as it is; a model under the scenario its
    data were observed under when the ``calibration.yaml`` beside the data file names one
    (``scenario:``), which must run the same model; else the model as it is.

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "m.yaml").write_text(
    ...     "time: {stop: 4}\\nparameters: {k: {value: 1, range: [0, 5]}}\\n"
    ...     "stocks: {x: 0}\\nflows: {f: {to: x, rate: k}}\\n")
    >>> _ = (folder / "s.yaml").write_text("scenario: s\\nmodel: m.yaml\\nset: {k: 2}\\n")
    >>> _ = (folder / "calibration.yaml").write_text("parameters: [k]\\nscenario: s.yaml\\n")
    >>> planned_scenario(folder / "m.yaml", folder / "data.csv").set
    mappingproxy({'k': 2.0})
    """
    scenario = as_scenario(model_or_scenario)
    given_model = isinstance(model_or_scenario, (str, Path)) and not is_scenario_file(
        model_or_scenario
    )
    plan = None if isinstance(data, Observations) or not given_model else read_plan(data)
    if plan is None or plan.scenario is None:
        return scenario
    planned = Scenario.load(plan.scenario)
    model = Path(scenario.load_model().source).resolve()
    runs = Path(planned.load_model().source).resolve()
    if runs != model:
        folder = Path(data).parent if isinstance(data, (str, Path)) else Path()
        raise DataError(
            f"{folder / 'calibration.yaml'}: scenario '{plan.scenario}' runs "
            f"another model (got {runs}, calibrating {model}). Name a scenario of this "
            "model, or calibrate the scenario file itself"
        )
    return planned


def synthetic_data(
    model_or_scenario: str | Path | Model | Scenario,
    params: Mapping[str, float],
    series: Sequence[str],
    times: Sequence[float],
    *,
    relative: float = 0.05,
    seed: int = 42,
    decimals: int = 2,
) -> pd.DataFrame:
    """Observations made by running the model at ``params`` and adding seeded normal noise with
    an sd of ``relative`` times each value: a synthetic experiment whose true values are known.

    Examples
    --------
    >>> import pssc_sim
    >>> root = Path(pssc_sim.__file__).parent.parent
    >>> table = synthetic_data(root / "models" / "sir", {"contact_rate": 5.0}, ["infected"],
    ...                        [1, 2, 3], seed=1)
    >>> table.columns.tolist(), len(table)
    (['time', 'infected'], 3)
    """
    scenario = as_scenario(model_or_scenario).with_set(**params).with_uncertainty(None)
    result = scenario.with_time(save_every=scenario_time_dt(scenario)).run()
    rng = np.random.default_rng(seed)
    table = pd.DataFrame({"time": np.asarray(times, dtype=float)})
    for name in series:
        truth = np.interp(table["time"], result.results.times, result.results[name].to_numpy())
        noisy = truth * (1 + relative * rng.standard_normal(truth.size))
        table[name] = np.round(noisy, decimals)
    return table


def scenario_time_dt(scenario: Scenario) -> float:
    """The ``dt`` a scenario runs with."""
    from pssc_sim.scenario.reader import scenario_time

    return scenario_time(scenario, scenario.load_model()).dt


def calibrate(
    model_or_scenario: str | Path | Model | Scenario,
    data: str | Path | Observations,
    *,
    parameters: Sequence[str] | None = None,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    errors: Mapping[str, ErrorModel] | None = None,
    method: str = "least-squares",
    starts: int | None = None,
    seed: int = 42,
    walkers: int = 32,
    steps: int = 2000,
    burn: int | None = None,
    fit_until: float | None = None,
    progress: Callable[[float], None] | None = None,
    scheduler: Any = None,
) -> Calibration:
    """Fit a model's parameters to observed series.

    Parameters
    ----------
    model_or_scenario
        A scenario (file or object) or a model (path or :class:`Model`). A model given by its
        path runs under the scenario that a ``calibration.yaml`` beside the data file names
        (:func:`planned_scenario`).
    data
        A CSV file: a ``time`` column and one column per observed variable or measure (see
        :mod:`pssc_sim.inference.data`), or :class:`Observations` already read.
    parameters
        The parameters to fit (default: those of a ``calibration.yaml`` beside the data file,
        with its bounds; else the scenario's uncertain ones; else those with a range).
    bounds
        ``{name: (low, high)}``, replacing or supplying the bounds of parameters.
    errors
        ``{series: ErrorModel}``: a normal error with a fixed ``sd`` or a ``relative`` one.
    method
        ``least-squares`` or ``mcmc``.
    starts, seed
        Least-squares starts (a seeded Latin hypercube over the bounds; default those of the
        ``calibration.yaml`` beside the data file, else 8) and the seed.
    walkers, steps, burn
        The MCMC sampler: walkers, steps per walker, and steps dropped as burn-in (default a
        quarter).
    fit_until
        An out-of-sample check: fit only the observations up to this time, and report the fit
        of the later ones (:attr:`Calibration.holdout`).
    progress
        Called with the fraction done, from 0 to 1.
    scheduler
        Run the ensembles on a Dask cluster (see :func:`~pssc_sim.simulate`): by default on the
        Dask client current in this process, if there is one; ``False`` runs them here. The
        fit is the same as in one process.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "m.yaml").write_text(
    ...     "time: {stop: 4, dt: 0.5}\\nparameters: {k: {value: 1, range: [0, 5]}}\\n"
    ...     "stocks: {x: {initial: 0}}\\nflows: {inflow: {to: x, rate: k}}\\n")
    >>> _ = (folder / "data.csv").write_text("time,x\\n1,2.1\\n2,3.9\\n3,6.0\\n4,8.1\\n")
    >>> result = calibrate(folder / "m.yaml", folder / "data.csv", starts=2)
    >>> round(result.values["k"], 6)  # the least-squares slope through the origin, 60.3 / 30
    2.01
    """
    if method not in METHODS:
        raise ParameterError(
            f"method: unknown calibration method '{method}'."
            f"{did_you_mean(method, METHODS)} Use one of: {', '.join(METHODS)}"
        )
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ParameterError(
            f"seed: expected a whole number of at least 0 (got {seed!r}). Use e.g. seed=42"
        )
    scenario = planned_scenario(model_or_scenario, data)
    given = parameters is not None
    plan = None if isinstance(data, Observations) else read_plan(data)
    if starts is None:
        starts = plan.starts if plan is not None and plan.starts is not None else DEFAULT_STARTS
    if plan is not None and not given:
        parameters, bounds = list(plan.parameters), {**plan.bounds, **(bounds or {})}
    problem = calibration_problem(
        scenario, data, parameters=parameters, bounds=bounds, errors=errors
    )
    later = None
    if fit_until is not None:
        fitted, later = problem.observations.split(_until(fit_until, problem))
        problem = calibration_problem(scenario, fitted, parameters=parameters, bounds=bounds)
    problem.scheduler = scheduler
    share = 1.0 if method == "least-squares" else 0.1

    def part(offset: float, scale: float) -> Callable[[float], None] | None:
        if progress is None:
            return None
        report = progress
        return lambda fraction: report(offset + scale * fraction)

    fit = fit_least_squares(problem, starts=starts, seed=seed, progress=part(0.0, share))
    if method == "least-squares":
        result = _least_squares_result(problem, fit, seed)
    else:
        from pssc_sim.inference.mcmc import sample_posterior

        chain = sample_posterior(
            problem,
            fit,
            walkers=walkers,
            steps=steps,
            burn=burn,
            seed=seed,
            progress=part(share, 1.0 - share),
        )
        result = _mcmc_result(problem, fit, chain, seed)
    if later is not None:
        result = dataclasses.replace(
            result, fit_until=fit_until, holdout=_holdout(problem, result, later)
        )
    if progress is not None:
        progress(1.0)
    return result


def _until(time: float, problem: Problem) -> float:
    """``time`` checked as a cut-off that leaves observations on both sides."""
    if isinstance(time, bool) or not isinstance(time, (int, float)) or not math.isfinite(time):
        raise ParameterError(
            f"fit_until: expected a time in the model's units (got {time!r}). "
            "Give e.g. --fit-until 2018"
        )
    first, last = problem.observations.span()
    if not first <= time < last:
        raise ParameterError(
            f"fit_until: the cut-off must leave observations to fit and "
            f"observations after it (got {time:g}; the data run from {first:g} "
            f"to {last:g}). Give a time from {first:g} up to before {last:g}"
        )
    return float(time)


def _holdout(
    problem: Problem, result: Calibration, later: Observations
) -> dict[str, FitStatistics]:
    """The fit statistics of the run at the estimates over the observations in ``later``."""
    x = np.array([[e.estimate for e in result.estimates]])
    run = problem.run(x, outputs=later.names)
    return {
        s.name: fit_statistics(
            np.interp(s.times, run.times, run.values[:, run.index(s.name), 0]), s.values
        )
        for s in later.series
    }


def _least_squares_result(problem: Problem, fit: LeastSquaresFit, seed: int) -> Calibration:
    from scipy import stats

    se = np.sqrt(np.clip(np.diag(fit.covariance), 0.0, None))
    half = float(stats.t.ppf(0.975, fit.dof)) * se
    warnings = []
    if fit.singular:
        warnings.append(
            f"the data do not determine {', '.join(fit.singular)} separately "
            "(JᵀJ is near-singular): fix some of them or add data that tells them "
            "apart"
        )
    estimates = []
    for j, parameter in enumerate(problem.parameters):
        x = float(fit.x[j])
        warnings += _interval_warnings(parameter, x, x - half[j], x + half[j])
        estimates.append(
            Estimate(
                parameter.name,
                x,
                max(x - half[j], parameter.low),
                min(x + half[j], parameter.high),
                parameter.low,
                parameter.high,
            )
        )
    outer = np.outer(se, se)
    with np.errstate(invalid="ignore", divide="ignore"):
        correlation = np.clip(fit.covariance / outer, -1.0, 1.0)
    warnings += _correlated(problem.names, correlation)
    draws = _normal_draws(fit.x, fit.covariance, problem, seed)
    diagnostics = {
        "cost": fit.cost,
        "residual_variance": fit.residual_variance,
        "starts": fit.starts,
        "starts_reaching_best": fit.reached,
    }
    return _result(
        "least-squares",
        problem,
        fit.x,
        draws,
        estimates,
        correlation,
        warnings,
        diagnostics,
        None,
        seed,
        fit.covariance,
    )


def _interval_warnings(parameter: FitParameter, x: float, low: float, high: float) -> list[str]:
    """Warnings about one least-squares estimate: an interval wider than the bounds (before it
    is clipped to them), an estimate at a bound."""
    found = []
    if high - low > parameter.width:
        found.append(
            f"{parameter.name}: the 95% interval is wider than its bounds ({low:.4g} to "
            f"{high:.4g}, bounds {parameter.low:g} to {parameter.high:g}): the data "
            "hardly constrain it"
        )
    if min(x - parameter.low, parameter.high - x) <= 1e-6 * parameter.width:
        found.append(
            f"{parameter.name}: the estimate {x:.6g} is at a bound: widen the bounds if "
            "the value is plausible"
        )
    return found


def _mcmc_result(problem: Problem, fit: LeastSquaresFit, chain: Any, seed: int) -> Calibration:
    samples = chain.samples
    median = np.median(samples, axis=0)
    low, high = np.percentile(samples, [2.5, 97.5], axis=0)
    estimates = [
        Estimate(p.name, float(median[j]), float(low[j]), float(high[j]), p.low, p.high)
        for j, p in enumerate(problem.parameters)
    ]
    correlation = np.atleast_2d(np.corrcoef(samples, rowvar=False))
    warnings = _correlated(problem.names, correlation)
    for e, p in zip(estimates, problem.parameters, strict=True):
        if e.high - e.low > 0.9 * p.width:
            warnings.append(
                f"{p.name}: the 95% interval spans most of its bounds ({e.low:.4g} "
                f"to {e.high:.4g}): the data hardly constrain it"
            )
    longest = float(np.max(chain.tau))
    if not chain.kept >= 50 * longest:
        warnings.append(
            f"the chain may not have converged: {chain.kept} steps kept, fewer "
            f"than 50 autocorrelation times ({50 * longest:.0f}); run more --steps"
        )
    if not 0.2 <= chain.acceptance <= 0.5:
        warnings.append(
            f"the acceptance fraction {chain.acceptance:.2f} is outside 0.2 to 0.5:"
            " the sampler may be stuck or the posterior oddly shaped"
        )
    rng = np.random.default_rng(seed)
    draws = samples[
        rng.choice(samples.shape[0], size=min(BAND_DRAWS, samples.shape[0]), replace=False)
    ]
    diagnostics = {
        "walkers": chain.walkers,
        "steps_kept": chain.kept,
        "acceptance_fraction": chain.acceptance,
        "autocorrelation_time": {
            n: float(t) for n, t in zip(problem.names, chain.tau, strict=True)
        },
        "least_squares_estimate": {n: float(x) for n, x in zip(problem.names, fit.x, strict=True)},
    }
    return _result(
        "mcmc",
        problem,
        median,
        draws,
        estimates,
        correlation,
        warnings,
        diagnostics,
        samples,
        seed,
        np.atleast_2d(np.cov(samples, rowvar=False)),
    )


def _correlated(names: Sequence[str], correlation: np.ndarray) -> list[str]:
    found = []
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            value = correlation[i, j]
            if np.isfinite(value) and abs(value) > CORRELATED:
                found.append(
                    f"{names[i]} and {names[j]} are correlated ({value:+.3f}): the data "
                    "hardly tell them apart"
                )
    return found


def _normal_draws(x: np.ndarray, covariance: np.ndarray, problem: Problem, seed: int) -> np.ndarray:
    """Parameter sets drawn from the estimates' normal approximation, kept inside the bounds."""
    rng = np.random.default_rng(seed)
    values, vectors = np.linalg.eigh(covariance)
    root = vectors * np.sqrt(np.clip(values, 0.0, None))
    draws = x + rng.standard_normal((BAND_DRAWS, x.size)) @ root.T
    return np.asarray(np.clip(draws, problem.lows, problem.highs))


def _result(
    method: str,
    problem: Problem,
    x: np.ndarray,
    draws: np.ndarray,
    estimates: Sequence[Estimate],
    correlation: np.ndarray,
    warnings: Sequence[str],
    diagnostics: Mapping[str, Any],
    samples: np.ndarray | None,
    seed: int,
    covariance: np.ndarray | None = None,
) -> Calibration:
    """The run at ``x``, its fit statistics and the band over ``draws``."""
    run = problem.run(x[None, :])
    spread = problem.run(draws)
    band = {}
    for name in problem.observations.names:
        column = spread.values[:, spread.index(name), :]
        band[name] = (np.percentile(column, 2.5, axis=1), np.percentile(column, 97.5, axis=1))
    predictions = problem.predict(x[None, :])
    fit = {
        s.name: fit_statistics(prediction[:, 0], s.values)
        for s, prediction in zip(problem.observations.series, predictions, strict=True)
    }
    return Calibration(
        method,
        tuple(estimates),
        correlation,
        fit,
        problem.runs,
        tuple(warnings),
        dict(diagnostics),
        problem,
        run,
        band,
        samples,
        seed,
        covariance=covariance,
    )
