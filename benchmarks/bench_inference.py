"""Inference on the vectorised engine: how long calibration takes on the SIR example.

``calibrate``: three SIR parameters (contact_rate, duration, initial_infected) fitted to 60
noisy daily points (infected and recovered on days 1..30, made from the model at known values
with 5% relative normal noise, seeded), by multi-start least squares (8 starts; target: under
10 s, with the true values inside the reported 95% intervals) and by MCMC (32 walkers x 2,000
steps; target: under 60 s). Prints wall time, model runs, runs per second, and whether each
true value lies inside its interval. Timings are one run each, not asserts.

Run from the repository root: ``.venv/bin/python benchmarks/bench_inference.py [SECTION ...]``
(sections: calibrate; all when none is named).
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from harness import ROOT, machine

from pssc_sim.inference.calibrate import Calibration, calibrate, synthetic_data
from pssc_sim.inference.data import ErrorModel

SIR = ROOT / "models" / "sir"
TRUE = {"contact_rate": 5.0, "duration": 2.5, "initial_infected": 3.0}
BOUNDS = {"initial_infected": (0.5, 20.0)}
ERRORS = {"infected": ErrorModel("relative", 0.05), "recovered": ErrorModel("relative", 0.05)}


def _report(label: str, result: Calibration, seconds: float, target: float) -> None:
    inside = all(e.low < TRUE[e.name] < e.high for e in result.estimates)
    print(f"{label:<14} {seconds:8.2f} s (target < {target:g} s) {result.runs:>8} runs "
          f"{result.runs / seconds:>9.0f} runs/s  true values inside the 95% intervals: "
          f"{'yes' if inside else 'NO'}")
    for e in result.estimates:
        print(f"    {e.name:<17} true {TRUE[e.name]:<5g} estimate {e.estimate:9.5g} "
              f"[{e.low:.5g}, {e.high:.5g}]")
    for warning in result.warnings:
        print(f"    warning: {warning}")


def bench_calibrate() -> None:
    """Least squares and MCMC on 60 synthetic SIR observations."""
    folder = Path(tempfile.mkdtemp(prefix="pssc_bench_"))
    data = folder / "observed.csv"
    synthetic_data(SIR, TRUE, ["infected", "recovered"], range(1, 31), seed=2024).to_csv(
        data, index=False)
    print("calibrate: SIR, 3 parameters, 60 daily points (infected and recovered, days 1..30), "
          "5% relative noise")
    options = {"parameters": list(TRUE), "bounds": BOUNDS, "errors": ERRORS}
    start = time.perf_counter()
    fit = calibrate(SIR, data, method="least-squares", starts=8, **options)  # type: ignore[arg-type]
    _report("least squares", fit, time.perf_counter() - start, 10)
    start = time.perf_counter()
    chain = calibrate(SIR, data, method="mcmc", walkers=32, steps=2000,
                      **options)  # type: ignore[arg-type]
    _report("mcmc", chain, time.perf_counter() - start, 60)
    print(f"    acceptance {chain.diagnostics['acceptance_fraction']:.2f}, autocorrelation "
          "times " + ", ".join(f"{k} {v:.1f}" for k, v in
                               chain.diagnostics["autocorrelation_time"].items()))


SECTIONS: dict[str, Callable[[], None]] = {"calibrate": bench_calibrate}


def main(argv: list[str] | None = None) -> None:
    names = (argv if argv is not None else sys.argv[1:]) or list(SECTIONS)
    unknown = [name for name in names if name not in SECTIONS]
    if unknown:
        raise SystemExit(f"bench_inference: unknown section {unknown[0]!r}; sections: "
                         f"{', '.join(SECTIONS)}")
    print(f"bench_inference: {machine()}")
    for name in names:
        print()
        SECTIONS[name]()


if __name__ == "__main__":
    main()
