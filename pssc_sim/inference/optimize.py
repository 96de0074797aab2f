"""Policy optimisation: the lever values that maximise or minimise an output, by differential
evolution (Storn and Price 1997) with each generation run as one vectorised ensemble.

The objective, levers and constraints are short texts parsed by strict regular expressions into
values (:class:`Objective`, :class:`Lever`, :class:`Constraint`); nothing is ever evaluated as
code. Constraints go to scipy's :class:`~scipy.optimize.NonlinearConstraint`, which differential
evolution handles by feasibility rules (a feasible candidate beats an infeasible one; among
infeasible ones the smaller violation wins; Lampinen 2002). Under uncertainty each candidate runs
with every member of the scenario's ``uncertainty:`` ensemble (population x members runs in one
call) and the objective is the mean or a percentile across members.
"""

from __future__ import annotations

import inspect
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pssc_sim.errors import ParameterError, did_you_mean
from pssc_sim.inference.design import Experiment, Request, Statistic
from pssc_sim.integrate.progress import Progress

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_NAME = r"[A-Za-z_][A-Za-z0-9_]*(?:\.reported)?"
_STATISTIC = rf"(?:at\s+(?P<at>{_NUMBER})|(?P<kind>final|mean|max|min))"
_OBJECTIVE = re.compile(
    rf"\s*(?P<sense>maximi[sz]e|minimi[sz]e)\s+(?P<name>{_NAME})"
    rf"(?:\s+{_STATISTIC})?\s*",
    re.IGNORECASE,
)
_CONSTRAINT = re.compile(
    rf"\s*(?P<name>{_NAME})(?:\s+{_STATISTIC})?\s*(?P<op><=|>=|<|>)\s*"
    rf"(?P<value>{_NUMBER})\s*"
)
_LEVER = re.compile(
    rf"\s*(?P<name>{_NAME})\s*(?:=\s*(?P<low>{_NUMBER})\s*:\s*"
    rf"(?P<high>{_NUMBER})\s*)?"
)
#: Runs one generation may hold at most (population x ensemble members).
MAX_GENERATION_RUNS = 5_000_000
_PERCENTILE = re.compile(r"p(?P<q>\d+(?:\.\d+)?)")


def _statistic(match: re.Match[str]) -> Statistic:
    if match["at"] is not None:
        return Statistic("at", float(match["at"]))
    return Statistic((match["kind"] or "final").lower())


@dataclass(frozen=True, slots=True)
class Objective:
    """``maximize NAME at T`` or ``minimize NAME mean`` (also ``final``, the default, ``max``
    and ``min``) as a value.

    Examples
    --------
    >>> Objective.parse("maximise infected_share at 20")
    Objective(maximize=True, name='infected_share', statistic=Statistic(kind='at', time=20.0))
    >>> Objective.parse("maximum infected")
    Traceback (most recent call last):
    ...
    pssc_sim.errors.ParameterError: --objective: expected 'maximize NAME' or 'minimize NAME', \
then optionally 'at T', final, mean, max or min (got 'maximum infected'). Did you mean \
'maximize'? Write e.g. --objective 'minimize temperature_gap at 10'
    """

    maximize: bool
    name: str
    statistic: Statistic = field(default_factory=Statistic)

    @classmethod
    def parse(cls, text: str, where: str = "--objective") -> Objective:
        """Read ``text``; raise a :class:`ParameterError` naming ``where`` if it is malformed."""
        match = _OBJECTIVE.fullmatch(text)
        if match is None:
            word = text.split()[0] if text.split() else ""
            hint = did_you_mean(word, ("maximize", "minimize"))
            raise ParameterError(
                f"{where}: expected 'maximize NAME' or 'minimize NAME', then "
                f"optionally 'at T', final, mean, max or min (got {text!r})."
                f"{hint} Write e.g. --objective 'minimize temperature_gap at "
                "10'"
            )
        return cls(match["sense"].lower().startswith("max"), match["name"], _statistic(match))

    @property
    def text(self) -> str:
        """The objective as written: ``maximize x at 5``."""
        return f"{'maximize' if self.maximize else 'minimize'} {self.name} {self.statistic.label}"


@dataclass(frozen=True, slots=True)
class Constraint:
    """``NAME [at T | final | mean | max | min] OP NUMBER`` with OP one of ``<=``, ``>=``, ``<``,
    ``>`` (strict and loose bounds are the same to an optimiser).

    Examples
    --------
    >>> Constraint.parse("cost_total mean <= 5e6")
    Constraint(name='cost_total', statistic=Statistic(kind='mean', time=None), upper=True, \
value=5000000.0)
    >>> Constraint.parse("cost_total <= __import__('os')")
    Traceback (most recent call last):
    ...
    pssc_sim.errors.ParameterError: --constraint: expected NAME [at T|final|mean|max|min] OP \
NUMBER with OP one of <=, >=, <, > (got "cost_total <= __import__('os')"). Write e.g. \
--constraint 'infected max <= 2000'
    """

    name: str
    statistic: Statistic
    upper: bool
    value: float

    @classmethod
    def parse(cls, text: str, where: str = "--constraint") -> Constraint:
        """Read ``text``; raise a :class:`ParameterError` naming ``where`` if it is malformed."""
        match = _CONSTRAINT.fullmatch(text)
        value = float(match["value"]) if match is not None else math.nan
        if match is None or not math.isfinite(value):
            raise ParameterError(
                f"{where}: expected NAME [at T|final|mean|max|min] OP NUMBER "
                f"with OP one of <=, >=, <, > (got {text!r}). Write e.g. "
                "--constraint 'infected max <= 2000'"
            )
        return cls(match["name"], _statistic(match), match["op"].startswith("<"), value)

    @property
    def text(self) -> str:
        """The constraint as written: ``x final <= 5``."""
        return f"{self.name} {self.statistic.label} {'<=' if self.upper else '>='} {self.value:g}"


@dataclass(frozen=True, slots=True)
class Lever:
    """A parameter the optimiser moves between ``low`` and ``high``."""

    name: str
    low: float
    high: float


def parse_levers(text: str, experiment: Experiment, where: str = "--levers") -> tuple[Lever, ...]:
    """``a=LOW:HIGH,b=LOW:HIGH`` (or a bare ``a``: its range in the model) as levers, checked
    against the model's parameters and their declared ranges.

    Examples
    --------
    >>> import pssc_sim
    >>> teacup = Experiment.load(Path(pssc_sim.__file__).parent.parent / "models" / "teacup")
    >>> parse_levers("room_temperature=50:90, characteristic_time", teacup)
    (Lever(name='room_temperature', low=50.0, high=90.0), Lever(name='characteristic_time', \
low=5.0, high=20.0))
    """
    levers: dict[str, Lever] = {}
    for item in text.split(","):
        match = _LEVER.fullmatch(item)
        if match is None:
            raise ParameterError(
                f"{where}: expected NAME=LOW:HIGH, comma-separated (got "
                f"{item.strip()!r}). Write e.g. --levers "
                "room_temperature=50:90,characteristic_time=5:20"
            )
        lever = _lever(match, experiment, where)
        if lever.name in levers:
            raise ParameterError(
                f"{where}: '{lever.name}' is given twice (got {text!r}). Give each lever once"
            )
        levers[lever.name] = lever
    return tuple(levers.values())


def _lever(match: re.Match[str], experiment: Experiment, where: str) -> Lever:
    name = match["name"]
    experiment.check_parameter(name, where)
    declared = next(p.range for p in experiment.base.parameters if p.name == name)
    if match["low"] is None:
        if declared is None:
            raise ParameterError(
                f"{where}: '{name}' has no range in {experiment.source} (got "
                f"{name!r} without bounds). Write {name}=LOW:HIGH"
            )
        return Lever(name, float(declared[0]), float(declared[1]))
    low, high = float(match["low"]), float(match["high"])
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ParameterError(
            f"{where}: the bounds of '{name}' must be finite with LOW below "
            f"HIGH (got {low:g}:{high:g}). Write {name}=LOW:HIGH"
        )
    if declared is not None and not declared[0] <= low < high <= declared[1]:
        raise ParameterError(
            f"{where}: {name}={low:g}:{high:g} goes outside the range "
            f"[{declared[0]:g}, {declared[1]:g}] declared in "
            f"{experiment.source} (got {low:g}:{high:g}). Keep the lever "
            "inside the declared range, or widen the range in the model"
        )
    return Lever(name, low, high)


@dataclass(frozen=True, slots=True)
class Robustness:
    """How each candidate's runs over the uncertainty ensemble become one number: the ``mean``
    (``percentile`` None) or a percentile.

    >>> Robustness.parse("p10").percentile
    10.0
    """

    percentile: float | None = None

    @classmethod
    def parse(cls, text: str, where: str = "--under-uncertainty") -> Robustness:
        if text == "mean":
            return cls()
        match = _PERCENTILE.fullmatch(text)
        if match is None or not 0 < float(match["q"]) < 100:
            raise ParameterError(
                f"{where}: expected mean or pN with 0 < N < 100 (got "
                f"{text!r}). Write e.g. --under-uncertainty p10"
            )
        return cls(float(match["q"]))

    @property
    def label(self) -> str:
        return "mean" if self.percentile is None else f"p{self.percentile:g}"

    def summary(self, values: np.ndarray, upper: bool | None = None) -> np.ndarray:
        """``values`` (candidates x members) summarised per candidate. For a constraint
        (``upper`` set), the percentile on the cautious side: an upper bound reads the
        ``100 - N``-th percentile, a lower bound the ``N``-th."""
        if self.percentile is None:
            return values.mean(axis=1)  # type: ignore[no-any-return]
        q = self.percentile
        if upper is not None:
            q = max(q, 100 - q) if upper else min(q, 100 - q)
        return np.percentile(values, q, axis=1)  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True, eq=False)
class OptimizationResult:
    """The best levers found, the objective there, each constraint's value and how many model
    runs it took (``runs``: every member of every candidate, polishing included)."""

    levers: Mapping[str, float]
    objective: float
    constraints: Mapping[str, float]
    runs: int
    generations: int
    feasible: bool
    message: str
    problem: Objective
    robustness: Robustness | None = None
    seed: int = 0
    ensemble_seed: int | None = None
    bounds: tuple[Lever, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        """``{"levers": {name: value}, "objective": value, "runs": n, ...}``."""
        return {
            "levers": dict(self.levers),
            "objective": self.objective,
            "runs": self.runs,
            "objective_text": self.problem.text,
            "constraints": dict(self.constraints),
            "feasible": self.feasible,
            "generations": self.generations,
            "under_uncertainty": self.robustness.label if self.robustness else None,
            "seed": self.seed,
        }


class _Evaluator:
    """Runs candidates (rows of lever values) and keeps the values of the last batch, so the
    objective and the constraints of one population come from one ensemble call."""

    def __init__(
        self,
        experiment: Experiment,
        levers: Sequence[Lever],
        objective: Objective,
        constraints: Sequence[Constraint],
        robustness: Robustness | None,
        ensemble: Mapping[str, np.ndarray],
        progress: Progress | None,
        expected_calls: int,
    ) -> None:
        self.experiment, self.levers = experiment, levers
        self.objective, self.constraints = objective, constraints
        self.robustness, self.ensemble = robustness, ensemble
        self.requests = [
            Request(objective.name, objective.statistic),
            *(Request(c.name, c.statistic) for c in constraints),
        ]
        self.cache: dict[bytes, np.ndarray] = {}
        self.runs = self.calls = 0
        self.progress, self.expected_calls = progress, expected_calls

    def values(self, candidates: np.ndarray) -> np.ndarray:
        """Objective then constraints, each summarised, for each candidate: (1 + C, S)."""
        candidates = np.atleast_2d(np.asarray(candidates, dtype=float))
        keys = [row.tobytes() for row in candidates]
        missing = {
            key: row for key, row in zip(keys, candidates, strict=True) if key not in self.cache
        }
        if missing:
            computed = self._run(np.array(list(missing.values()))).T
            # keep only this batch: the cache never grows past one population
            kept = {key: self.cache[key] for key in keys if key in self.cache}
            self.cache = {**kept, **dict(zip(missing, computed, strict=True))}
        return np.column_stack([self.cache[key] for key in keys])

    def _run(self, candidates: np.ndarray) -> np.ndarray:
        names = [lever.name for lever in self.levers]
        members = len(next(iter(self.ensemble.values()))) if self.ensemble else 1
        design = np.repeat(candidates, members, axis=0)
        if self.ensemble:
            names += list(self.ensemble)
            sampled = np.column_stack(list(self.ensemble.values()))
            design = np.hstack([design, np.tile(sampled, (len(candidates), 1))])
        report = (
            None if self.progress is None else _slot(self.progress, self.calls, self.expected_calls)
        )
        outputs = self.experiment.evaluate(names, design, self.requests, progress=report)
        self.runs += design.shape[0]
        self.calls += 1
        rows = []
        for i, values in enumerate(outputs):
            per_candidate = values.reshape(len(candidates), members)
            upper = None if i == 0 else self.constraints[i - 1].upper
            rows.append(
                per_candidate[:, 0]
                if self.robustness is None
                else self.robustness.summary(per_candidate, upper)
            )
        return np.array(rows)

    def cost(self, x: np.ndarray) -> np.ndarray | float:
        """What differential evolution minimises: x is (levers,) or (levers, candidates)."""
        values = self.values(np.asarray(x).T)[0]
        cost = -values if self.objective.maximize else values
        return float(cost[0]) if np.ndim(x) == 1 else cost

    def constraint_values(self, x: np.ndarray) -> np.ndarray:
        """Every constraint's value: (constraints,) or (constraints, candidates)."""
        values = self.values(np.asarray(x).T)[1:]
        return values[:, 0] if np.ndim(x) == 1 else values


def _slot(progress: Progress, call: int, calls: int) -> Progress:
    """``progress`` for the ``call``-th of about ``calls`` ensemble calls (polishing may add
    some: the fraction then stays at 1)."""

    def report(fraction: float) -> None:
        progress(min((call + fraction) / calls, 1.0))

    return report


def optimize(
    experiment: Experiment,
    objective: Objective | str,
    levers: Sequence[Lever] | str,
    constraints: Sequence[Constraint | str] = (),
    *,
    under_uncertainty: Robustness | str | None = None,
    seed: int = 0,
    popsize: int = 15,
    maxiter: int = 60,
    tol: float = 1e-3,
    polish: bool = False,
    progress: Progress | None = None,
) -> OptimizationResult:
    """The levers that maximise or minimise ``objective``, subject to ``constraints``.

    Parameters
    ----------
    experiment
        The model or scenario.
    objective
        An :class:`Objective` or its text, e.g. ``"minimize temperature_gap at 10"``.
    levers
        :class:`Lever` values or their text, ``"a=LOW:HIGH,b=LOW:HIGH"``.
    constraints
        :class:`Constraint` values or texts, e.g. ``"infected max <= 2000"``.
    under_uncertainty
        ``"mean"`` or ``"pN"``: run every candidate with each member of the scenario's
        ``uncertainty:`` ensemble and optimise the mean or N-th percentile across members.
        Constraints then hold for the mean, or on the cautious side at the same level (an upper
        bound at the ``100 - N``-th percentile, a lower bound at the ``N``-th).
    seed
        Seed of the optimiser (and of the ensemble when the scenario gives none).
    popsize, maxiter, tol
        Differential evolution's population (times the number of levers), its most
        generations and its relative convergence tolerance.
    polish
        Finish with scipy's local search from the best candidate (L-BFGS-B, or trust-constr
        with constraints); its runs are counted.
    progress
        Gets the fraction of the expected generations done.

    Examples
    --------
    >>> import pssc_sim
    >>> teacup = Experiment.load(Path(pssc_sim.__file__).parent.parent / "models" / "teacup")
    >>> best = optimize(teacup, "minimize temperature_gap at 10",
    ...                 "characteristic_time=5:20", seed=1, maxiter=20)
    >>> round(best.levers["characteristic_time"], 2)
    5.0
    """
    from scipy.optimize import NonlinearConstraint, differential_evolution

    problem = objective if isinstance(objective, Objective) else Objective.parse(objective)
    chosen = parse_levers(levers, experiment) if isinstance(levers, str) else tuple(levers)
    limits = [c if isinstance(c, Constraint) else Constraint.parse(c) for c in constraints]
    robust = (
        Robustness.parse(under_uncertainty)
        if isinstance(under_uncertainty, str)
        else under_uncertainty
    )
    _check(experiment, problem, chosen, limits, popsize, maxiter)
    ensemble: dict[str, np.ndarray] = {}
    ensemble_seed = None
    if robust is not None:
        ensemble = experiment.ensemble(seed)
        clash = sorted(set(ensemble) & {lever.name for lever in chosen})
        if clash:
            raise ParameterError(
                f"--levers: {', '.join(clash)} is also sampled in the "
                f"uncertainty: block of {experiment.source} (got a lever that "
                "is uncertain). Choose levers the ensemble does not sample"
            )
        uncertainty = experiment.uncertainty
        members = len(next(iter(ensemble.values()))) if ensemble else 1
        _check_size(popsize * len(chosen) * members)
        ensemble_seed = uncertainty.seed if uncertainty and uncertainty.seed is not None else seed
    _check_size(popsize * len(chosen))
    evaluator = _Evaluator(
        experiment,
        chosen,
        problem,
        limits,
        robust,
        ensemble,
        progress,
        maxiter + 1 + (1 if polish else 0),
    )
    options: dict[str, Any] = {
        "popsize": popsize,
        "maxiter": maxiter,
        "tol": tol,
        "polish": polish,
        "vectorized": True,
        "updating": "deferred",
        "init": "latinhypercube",
        _seed_keyword(differential_evolution): seed,
    }
    if limits:
        lower = [-np.inf if c.upper else c.value for c in limits]
        upper = [c.value if c.upper else np.inf for c in limits]
        options["constraints"] = NonlinearConstraint(evaluator.constraint_values, lower, upper)
    found = differential_evolution(evaluator.cost, [(v.low, v.high) for v in chosen], **options)
    best = np.asarray(found.x, dtype=float)
    values = evaluator.values(best[None, :])[:, 0]
    if progress is not None:
        progress(1.0)
    feasible = all(_holds(c, v) for c, v in zip(limits, values[1:], strict=True))
    return OptimizationResult(
        {lever.name: float(x) for lever, x in zip(chosen, best, strict=True)},
        float(values[0]),
        {c.text: float(v) for c, v in zip(limits, values[1:], strict=True)},
        evaluator.runs,
        int(found.nit),
        feasible,
        str(found.message),
        problem,
        robust,
        seed,
        ensemble_seed,
        chosen,
    )


def _check_size(runs: int) -> None:
    if runs > MAX_GENERATION_RUNS:
        raise ParameterError(
            f"--popsize: a generation would take {runs:,} runs, more than "
            f"{MAX_GENERATION_RUNS:,} (got population x levers x members = "
            f"{runs:,}). Use a smaller --popsize or fewer members"
        )


def _holds(constraint: Constraint, value: float) -> bool:
    slack = 1e-9 * max(1.0, abs(constraint.value))
    return (
        value <= constraint.value + slack
        if constraint.upper
        else (value >= constraint.value - slack)
    )


def _seed_keyword(function: Any) -> str:
    # scipy >= 1.15 names the seed ``rng``; older releases call it ``seed``.
    return "rng" if "rng" in inspect.signature(function).parameters else "seed"


def _check(
    experiment: Experiment,
    objective: Objective,
    levers: Sequence[Lever],
    constraints: Sequence[Constraint],
    popsize: int,
    maxiter: int,
) -> None:
    experiment.check_output(objective.name, "--objective")
    objective.statistic.check(*experiment.span, where="--objective")
    if objective.statistic.kind == "series":
        raise ParameterError(
            "--objective: an objective needs one number per run (got the "
            "series). Write 'at T', final, mean, max or min"
        )
    for constraint in constraints:
        experiment.check_output(constraint.name, "--constraint")
        constraint.statistic.check(*experiment.span, where="--constraint")
    if not levers:
        raise ParameterError(
            "--levers: no levers given (got none). Write e.g. --levers name=LOW:HIGH"
        )
    for name, value, least in (("--popsize", popsize, 1), ("--maxiter", maxiter, 1)):
        if value < least:
            raise ParameterError(
                f"{name}: must be at least {least} (got {value}). Use e.g. "
                f"{15 if name == '--popsize' else 60}"
            )


def scenario_document(
    result: OptimizationResult, experiment: Experiment, path: Path
) -> dict[str, Any]:
    """A scenario that extends the one optimised (or runs its model) with the best levers as
    ``set:``, written for the file ``path``."""
    source = Path(experiment.source).resolve()
    reference = os.path.relpath(source, path.resolve().parent)
    name = f"{experiment.scenario.label if experiment.scenario else experiment.base.name}-optimised"
    document: dict[str, Any] = {
        "scenario": name,
        "description": f"Levers chosen to {result.problem.text}"
        + (f" ({result.robustness.label} over the ensemble)" if result.robustness else "")
        + f"; objective {result.objective:.6g} after {result.runs} runs.",
        ("extends" if experiment.scenario is not None else "model"): reference,
        "set": {name: float(value) for name, value in result.levers.items()},
    }
    uncertainty = experiment.uncertainty
    if result.robustness is not None and uncertainty is not None and uncertainty.seed is None:
        document["uncertainty"] = {"seed": result.ensemble_seed}
    return document


def write_scenario(result: OptimizationResult, experiment: Experiment, path: str | Path) -> Path:
    """Write :func:`scenario_document` as YAML to ``path`` (atomically); return the path."""
    import yaml

    target = Path(path)
    document = scenario_document(result, experiment, target)
    text = (
        "# Written by pssc optimize: the best levers found, as a scenario to run or extend.\n"
        + yaml.safe_dump(document, sort_keys=False, width=100)
    )
    temporary = target.with_name(f".{target.name}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, target)
    except OSError as exc:
        raise ParameterError(
            f"--write-scenario: cannot write the file ({exc.strerror}) (got "
            f"'{target}'). Give a path in a folder you can write to"
        ) from None
    return target
