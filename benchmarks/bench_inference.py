"""Inference on the vectorised engine, timed: each section is one capability.

``sensitivity``: a Sobol' analysis (Saltelli's design with second order, N = 1,024) of the peak of
a 10-parameter SIR model, 22,528 runs in one chunked ensemble, against the same design run one
PySD run at a time (a sample of PySD runs of the suite's ``samples/SIR/SIR.mdl`` with
``run(params=...)``, scaled to the design). Both sides use the ``.mdl``'s time grid: 0 to 100
days in steps of 1/32 day (3,200 Euler steps a run). Targets: under 5 s, and at least 300x
faster than PySD.

``calibrate``: three SIR parameters (contact_rate, duration, initial_infected) fitted to 60
noisy daily points (infected and recovered on days 1..30, made from the model at known values
with 5% relative normal noise, seeded), by multi-start least squares (8 starts; target: under
10 s, with the true values inside the reported 95% intervals) and by MCMC (32 walkers x 2,000
steps; target: under 60 s). Prints wall time, model runs, runs per second, and whether each
true value lies inside its interval. Timings are one run each, not asserts.

Run from the repository root: ``.venv/bin/python benchmarks/bench_inference.py [SECTION ...]``
(all sections by default).
"""

from __future__ import annotations

import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from harness import ROOT, machine

SIR = ROOT / "models" / "sir"
SUITE_SIR = ROOT.parent / "shared" / "test-models" / "samples" / "SIR" / "SIR.mdl"
#: PySD runs timed to estimate the cost of one PySD run of the design.
PYSD_SAMPLE = 20

#: The SIR epidemic with ten uncertain parameters: the suite's SIR structure plus imported
#: cases, deaths, vaccination, waning immunity and distancing, each with a range.
SIR10 = """\
model: sir10
title: SIR epidemic with ten uncertain parameters
time: {start: 0, stop: 100, dt: 0.03125, units: day}
parameters:
  total_population: {value: 1000, range: [800, 1200]}
  initial_infected: {value: 1, range: [1, 10]}
  contact_infectivity: {value: 0.7, range: [0.4, 1.0]}
  duration: {value: 5, range: [3, 7]}
  imported_cases: {value: 0.1, range: [0, 0.5]}
  fatality: {value: 0.01, range: [0, 0.05]}
  vaccination_rate: {value: 0.005, range: [0, 0.02]}
  immunity_time: {value: 180, range: [60, 365]}
  distancing: {value: 0.2, range: [0, 0.5]}
  reporting_share: {value: 0.5, range: [0.2, 0.8]}
stocks:
  susceptible: total_population - initial_infected
  infectious: initial_infected
  recovered: 0
flows:
  succumbing:
    from: susceptible
    to: infectious
    rate: (1 - distancing) * contact_infectivity * susceptible * infectious / total_population
  importing: {to: infectious, rate: imported_cases}
  recovering: {from: infectious, to: recovered, rate: (1 - fatality) * infectious / duration}
  dying: {from: infectious, rate: fatality * infectious / duration}
  vaccinating: {from: susceptible, to: recovered, rate: vaccination_rate * susceptible}
  waning: {from: recovered, to: susceptible, rate: recovered / immunity_time}
auxiliaries:
  reported_cases: reporting_share * infectious
"""

SOBOL_N = 1024


def bench_sensitivity() -> None:
    """Sobol' with second order on the 10-parameter SIR model, against PySD run by run."""
    from pssc_sim.inference.design import Experiment, Statistic
    from pssc_sim.inference.sensitivity import sensitivity

    folder = Path(tempfile.mkdtemp(prefix="pssc_bench_"))
    (folder / "model.yaml").write_text(SIR10)
    experiment = Experiment.load(folder / "model.yaml")
    peak = Statistic("max")
    sensitivity(experiment, "reported_cases", peak, samples=16, seed=1)  # compile, warm up
    start = time.perf_counter()
    result = sensitivity(
        experiment, "reported_cases", peak, samples=SOBOL_N, second_order=True, seed=1
    )
    ours = time.perf_counter() - start
    print(
        f"sensitivity: Sobol' N = {SOBOL_N} with second order, {len(result.parameters)} "
        f"parameters, {result.runs:,} runs of 3,200 Euler steps: {ours:.2f} s "
        f"(target: under 5 s); {ours / result.runs * 1e6:.1f} us a run"
    )
    top = sorted(result.parameters, key=lambda p: -result.indices[p]["ST"])[:3]
    print(
        "  largest total indices: " + ", ".join(f"{p} {result.indices[p]['ST']:.2f}" for p in top)
    )
    per_run = pysd_seconds_per_run()
    if isinstance(per_run, str):
        print(f"  PySD: {per_run}")
        return
    design = per_run * result.runs
    print(
        f"  PySD, one run at a time: {per_run * 1e3:.1f} ms a run (mean of {PYSD_SAMPLE}), "
        f"{design:,.0f} s for the design; ratio PySD / pssc_sim {design / ours:,.0f}x "
        "(target: at least 300x)"
    )


def pysd_seconds_per_run() -> float | str:
    """Mean wall time of one PySD run of the suite's SIR with new parameters, or why not."""
    if not SUITE_SIR.is_file():
        return f"the suite's SIR model is not at {SUITE_SIR}"
    try:
        import pysd
    except ImportError as error:
        return f"PySD is not installed ({error})"
    rng = np.random.default_rng(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = pysd.read_vensim(str(SUITE_SIR))
        model.run(params={"Contact Infectivity": 0.7, "Duration": 5}, progress=False)
        start = time.perf_counter()
        for _ in range(PYSD_SAMPLE):
            model.run(
                params={
                    "Contact Infectivity": rng.uniform(0.4, 1.0),
                    "Duration": rng.uniform(3, 7),
                },
                progress=False,
            )
    return (time.perf_counter() - start) / PYSD_SAMPLE


TRUE = {"contact_rate": 5.0, "duration": 2.5, "initial_infected": 3.0}
BOUNDS = {"initial_infected": (0.5, 20.0)}


def _report_calibration(label: str, result: Any, seconds: float, target: float) -> None:
    inside = all(e.low < TRUE[e.name] < e.high for e in result.estimates)
    print(
        f"{label:<14} {seconds:8.2f} s (target < {target:g} s) {result.runs:>8} runs "
        f"{result.runs / seconds:>9.0f} runs/s  true values inside the 95% intervals: "
        f"{'yes' if inside else 'NO'}"
    )
    for e in result.estimates:
        print(
            f"    {e.name:<17} true {TRUE[e.name]:<5g} estimate {e.estimate:9.5g} "
            f"[{e.low:.5g}, {e.high:.5g}]"
        )
    for warning in result.warnings:
        print(f"    warning: {warning}")


def bench_calibrate() -> None:
    """Least squares and MCMC on 60 synthetic SIR observations."""
    from pssc_sim.inference.calibrate import calibrate, synthetic_data
    from pssc_sim.inference.data import ErrorModel

    errors = {"infected": ErrorModel("relative", 0.05), "recovered": ErrorModel("relative", 0.05)}
    folder = Path(tempfile.mkdtemp(prefix="pssc_bench_"))
    data = folder / "observed.csv"
    synthetic_data(SIR, TRUE, ["infected", "recovered"], range(1, 31), seed=2024).to_csv(
        data, index=False
    )
    print(
        "calibrate: SIR, 3 parameters, 60 daily points (infected and recovered, days 1..30), "
        "5% relative noise"
    )
    options = {"parameters": list(TRUE), "bounds": BOUNDS, "errors": errors}
    start = time.perf_counter()
    fit = calibrate(SIR, data, method="least-squares", starts=8, **options)  # type: ignore[arg-type]
    _report_calibration("least squares", fit, time.perf_counter() - start, 10)
    start = time.perf_counter()
    chain = calibrate(SIR, data, method="mcmc", walkers=32, steps=2000, **options)  # type: ignore[arg-type]
    _report_calibration("mcmc", chain, time.perf_counter() - start, 60)
    print(
        f"    acceptance {chain.diagnostics['acceptance_fraction']:.2f}, autocorrelation "
        "times "
        + ", ".join(f"{k} {v:.1f}" for k, v in chain.diagnostics["autocorrelation_time"].items())
    )


#: The sections by name, run in this order.
SECTIONS: dict[str, Callable[[], None]] = {
    "sensitivity": bench_sensitivity,
    "calibrate": bench_calibrate,
}


def main(argv: Sequence[str] | None = None) -> None:
    """Run the sections named in ``argv`` (default: all)."""
    names = list(argv if argv is not None else sys.argv[1:]) or list(SECTIONS)
    unknown = [name for name in names if name not in SECTIONS]
    if unknown:
        raise SystemExit(
            f"bench_inference: unknown section(s) {', '.join(unknown)}; use {', '.join(SECTIONS)}"
        )
    print(f"bench_inference: {machine()}")
    for name in names:
        print()
        SECTIONS[name]()


if __name__ == "__main__":
    main()
