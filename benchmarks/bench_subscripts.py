"""An arrayed model in pssc_sim and in PySD: 21 arrayed variables over a dimension of n cells.

Each cell is a locality with an epidemic (S, I, R), a hospital queue and a smoothed perception of
prevalence that drives vaccination; localities mix through the national prevalence (a SUM over the
dimension). The same equations are written as a Vensim ``.mdl`` text for PySD and as a pssc_sim
YAML model. Prints, for 100, 1,000 and 10,000 cells: read and compile time, peak memory of
compiling (tracemalloc) and the time of one run (best of 3); then the time of one PySD run of the
1,000-cell ``.mdl`` (translation not counted), the ratio PySD / pssc_sim and the largest relative
difference of the final stocks. ``--quick`` stops at 1,000 cells; ``--no-pysd`` skips PySD.

``--backends`` times the numba back end on the same model instead, at 10 and 30 cells: the
compiled loop's cold compile (CPU seconds, the cache folder a fresh one), then one run and an
ensemble of 100 members on each back end (best CPU time) and the largest relative difference of
the two back ends' values.
"""

from __future__ import annotations

import sys
import tempfile
import time
import traceback
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
from harness import best_time, machine

import pssc_sim as ps
from pssc_sim.compile.compiler import compile_model

STOP, DT, SAVE = 50, 0.25, 1


def values(n: int) -> tuple[list[float], list[float]]:
    """Per-cell contact rates and populations (deterministic)."""
    i = np.arange(n)
    beta = 0.2 + 0.2 * ((i * 37) % 101) / 100
    population = 1_000 + 100 * ((i * 53) % 97)
    return [round(float(b), 6) for b in beta], [float(p) for p in population]


def model_yaml(n: int) -> str:
    beta, population = values(n)
    return f"""model: localities
time: {{start: 0, stop: {STOP}, dt: {DT}, save_every: {SAVE}}}
dimensions:
  cell: {{count: {n}, prefix: c}}
parameters:
  beta: {{dims: [cell], value: {beta}}}
  pop0: {{dims: [cell], value: {population}}}
  gamma: 0.1
  mobility: 0.2
  vax_rate: 0.01
stocks:
  S: {{dims: [cell], initial: pop0 - 10}}
  I: {{dims: [cell], initial: 10}}
  R: {{dims: [cell], initial: 0}}
  queue: {{dims: [cell], initial: 0}}
flows:
  infection: {{from: S, to: I, rate: force * S}}
  recovery: {{from: I, to: R, rate: gamma * I}}
  vaccination: {{from: S, to: R, rate: vax_rate * S * perceived * 10}}
  admissions: {{to: queue, rate: 0.05 * I}}
  discharges: {{from: queue, rate: 'MIN(queue / 5, capacity)'}}
auxiliaries:
  N: {{dims: [cell], equation: S + I + R}}
  prevalence: {{dims: [cell], equation: I / N}}
  total_infected: SUM(I[cell!])
  total_population: SUM(N[cell!])
  mean_prevalence: total_infected / total_population
  mixed: {{dims: [cell], equation: (1 - mobility) * prevalence + mobility * mean_prevalence}}
  force: {{dims: [cell], equation: beta * mixed}}
  perceived: {{dims: [cell], equation: 'SMOOTH(prevalence, 3)'}}
  capacity: {{dims: [cell], equation: 0.002 * pop0}}
  occupancy: {{dims: [cell], equation: 'ZIDZ(queue, capacity)'}}
  peak_occupancy: VMAX(occupancy[cell!])
  pressure: {{dims: [cell], equation: prevalence / mean_prevalence}}
  excess: {{dims: [cell], equation: 'MAX(occupancy - 1, 0)'}}
  spare: {{dims: [cell], equation: capacity - discharges}}
"""


def model_mdl(n: int) -> str:
    beta, population = values(n)

    def eq(text: str) -> str:
        return f"{text}\n\t~\t\n\t~\t\n\t|\n\n"

    lines = [
        "{UTF-8}\n",
        eq(f"cell: (c1-c{n})"),
        eq(f"beta[cell] = {', '.join(map(str, beta))}"),
        eq(f"pop0[cell] = {', '.join(map(str, population))}"),
        eq("gamma = 0.1"),
        eq("mobility = 0.2"),
        eq("vax rate = 0.01"),
        eq("S[cell] = INTEG(-infection[cell] - vaccination[cell], pop0[cell] - 10)"),
        eq("I[cell] = INTEG(infection[cell] - recovery[cell], 10)"),
        eq("R[cell] = INTEG(recovery[cell] + vaccination[cell], 0)"),
        eq("queue[cell] = INTEG(admissions[cell] - discharges[cell], 0)"),
        eq("infection[cell] = force[cell] * S[cell]"),
        eq("recovery[cell] = gamma * I[cell]"),
        eq("vaccination[cell] = vax rate * S[cell] * perceived[cell] * 10"),
        eq("admissions[cell] = 0.05 * I[cell]"),
        eq("discharges[cell] = MIN(queue[cell] / 5, capacity[cell])"),
        eq("N[cell] = S[cell] + I[cell] + R[cell]"),
        eq("prevalence[cell] = I[cell] / N[cell]"),
        eq("total infected = SUM(I[cell!])"),
        eq("total population = SUM(N[cell!])"),
        eq("mean prevalence = total infected / total population"),
        eq("mixed[cell] = (1 - mobility) * prevalence[cell] + mobility * mean prevalence"),
        eq("force[cell] = beta[cell] * mixed[cell]"),
        eq("perceived[cell] = SMOOTH(prevalence[cell], 3)"),
        eq("capacity[cell] = 0.002 * pop0[cell]"),
        eq("occupancy[cell] = ZIDZ(queue[cell], capacity[cell])"),
        eq("peak occupancy = VMAX(occupancy[cell!])"),
        eq("pressure[cell] = prevalence[cell] / mean prevalence"),
        eq("excess[cell] = MAX(occupancy[cell] - 1, 0)"),
        eq("spare[cell] = capacity[cell] - discharges[cell]"),
        eq("INITIAL TIME = 0"),
        eq(f"FINAL TIME = {STOP}"),
        eq(f"TIME STEP = {DT}"),
        eq(f"SAVEPER = {SAVE}"),
        "\\\\\\---/// Sketch information - do not modify anything except names\n",
    ]
    return "".join(lines)


def measure(n: int, folder: Path) -> tuple[float, ps.Results]:
    path = folder / f"cells{n}.yaml"
    path.write_text(model_yaml(n))
    start = time.perf_counter()
    model = ps.load_model(path)
    read = time.perf_counter() - start
    tracemalloc.start()
    start = time.perf_counter()
    compiled = compile_model(model)
    compile_seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    run = best_time(lambda: ps.simulate(compiled), repeat=3, budget=10.0)
    print(
        f"{n:>7,} cells  {len(model.stock_names):>7,} stock rows  read {read:6.2f} s  "
        f"compile {compile_seconds:6.2f} s  compile peak {peak / 2**20:7.1f} MiB  "
        f"run {run * 1e3:9.1f} ms"
    )
    return run, ps.simulate(compiled)


def run_pysd(n: int, folder: Path) -> tuple[float, object] | str:
    try:
        import pysd
    except ImportError as error:
        return f"PySD is not installed ({error})"
    path = folder / f"cells{n}.mdl"
    path.write_text(model_mdl(n))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = pysd.read_vensim(str(path))
            start = time.perf_counter()  # one run: each takes minutes
            frame = model.run(progress=False)
            seconds = time.perf_counter() - start
    except Exception:
        return "PySD failed:\n" + traceback.format_exc(limit=3)
    return seconds, frame


def backends(n: int, folder: Path) -> None:
    """The compiled loop against the numpy back end on the model over ``n`` cells."""
    path = folder / f"cells{n}.yaml"
    path.write_text(model_yaml(n))
    model = ps.load_model(path)
    start = time.process_time()
    compiled_run = ps.simulate(model, backend="numba")
    compile_seconds = time.process_time() - start
    print(
        f"{n:>5,} cells, {len(model.stock_names):>5,} stock rows: loop compiled cold in "
        f"{compile_seconds:6.1f} CPU s"
    )
    worst = float(
        np.max(
            np.abs(compiled_run.values - ps.simulate(model, backend="numpy").values)
            / np.maximum(np.abs(ps.simulate(model, backend="numpy").values), 1e-300)
        )
    )
    params = {"gamma": np.linspace(0.05, 0.15, 100)}
    for label, members in (("one run", None), ("100 members", params)):
        times = {
            backend: best_time(
                lambda b=backend, p=members: ps.simulate(model, p, backend=b),
                repeat=5,
                budget=5.0,
                clock=time.process_time,
            )
            for backend in ("numpy", "numba")
        }
        print(
            f"  {label:<12} numpy {times['numpy'] * 1e3:9.2f} ms   numba "
            f"{times['numba'] * 1e3:9.2f} ms   numpy / numba {times['numpy'] / times['numba']:6.1f}"
        )
    print(f"  largest relative difference numba vs numpy: {worst:.1e}")


def main() -> None:
    if "--backends" in sys.argv:
        print(f"bench_subscripts --backends: Euler {STOP / DT:.0f} steps; {machine()}")
        folder = Path(tempfile.mkdtemp(prefix="pssc_bench_"))
        for n in (10, 30):
            backends(n, folder)
        return
    sizes = [100, 1_000] if "--quick" in sys.argv else [100, 1_000, 10_000]
    print(
        f"bench_subscripts: 21 arrayed variables over n cells, Euler {STOP / DT:.0f} steps; "
        f"{machine()}"
    )
    folder = Path(tempfile.mkdtemp(prefix="pssc_bench_"))
    runs = {n: measure(n, folder) for n in sizes}
    ours, results = runs[1_000]
    if "--no-pysd" in sys.argv:
        return
    outcome = run_pysd(1_000, folder)
    if isinstance(outcome, str):
        print(outcome)
        return
    theirs, frame = outcome
    worst = 0.0
    for stock in ("S", "I", "R", "queue"):
        for cell in ("c1", "c500", "c1000"):
            mine = results[f"{stock}[{cell}]"].iloc[-1]
            other = frame[f"{stock}[{cell}]"].iloc[-1]  # type: ignore[index]
            worst = max(worst, abs(mine - other) / max(abs(other), 1e-12))
    print(
        f"PySD, 1,000 cells: {theirs * 1e3:9.1f} ms   ratio PySD / pssc_sim "
        f"{theirs / ours:7.1f}   largest relative difference of final stocks {worst:.1e}"
    )


if __name__ == "__main__":
    main()
