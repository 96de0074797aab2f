"""One run on the numba back end against PySD, the numpy back end and a hand-written numba loop.

For the suite's ``samples/SIR/SIR.mdl`` (5 variables, 3,200 Euler steps, every step saved) and
the 301-variable ring (``network_model.py``, 200 steps, every step saved), in one process:

- PySD: ``pysd.read_vensim(path).run()`` on the same ``.mdl`` (translation not counted);
- pssc_sim ``simulate(model, backend="numpy")`` and ``backend="numba"`` (the loop compiled and
  cached before timing: compiling is reported separately);
- a hand-written numba loop of the same equations, saving the same values every step (the
  machine's limit for this way of computing; written here, not generated);
- building the :class:`~pssc_sim.results.Results` of one run (its share of a run).

Then, each in a fresh process and in CPU seconds (user + system, which the other jobs on a
shared machine change less than wall time): the loop compiled just in time with an empty cache
folder (cold), built ahead of time as an extension module (``pssc cache build``, the C compiler
included), and loaded by a later process (warm: the built module, without numba); then the
crossover of the two back ends by number of members, numba's block loop and its member loop
alone (what ``backend="auto"`` and ``BLOCK_MEMBERS`` are tuned on; ``--full`` goes to 100,000
members for SIR, 10,000 for the ring, whose outputs at 100,000 would be 48 GB); and one SIR run
layer by layer in CPU time (the generated loop alone, ``run_loop``, ``simulate``) against the
hand-written loop. Prints times and
ratios; never asserts. Run from the repository root:
``.venv/bin/python benchmarks/bench_backends.py [--full]``.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numba
import numpy as np
from harness import ROOT, best_time, machine
from network_model import (
    DT,
    LOOKUP,
    N_RATES,
    N_STEPS,
    N_STOCKS,
    PARAMETERS,
    START,
    STOP,
    initial,
    model_mdl,
)

import pssc_sim as ps
from pssc_sim.integrate import backends
from pssc_sim.integrate.simulate import compiled_for, make_grid
from pssc_sim.integrate.tableau import EULER
from pssc_sim.results import Results

SUITE = ROOT.parent / "shared" / "test-models"
SIR = SUITE / "samples" / "SIR" / "SIR.mdl"


@numba.njit(cache=True)
def hand_sir(n_steps: int, dt: float, out: np.ndarray) -> None:
    """SIR.mdl by hand: Euler at ``dt``, stocks and flows saved every step and at the end."""
    susceptible, infectious, recovered = 1000.0, 5.0, 0.0
    for k in range(n_steps + 1):
        succumbing = susceptible * infectious / 1000.0 * 0.3
        recovering = infectious / 5.0
        out[k, 0], out[k, 1], out[k, 2] = susceptible, infectious, recovered
        out[k, 3], out[k, 4] = succumbing, recovering
        susceptible -= dt * succumbing
        infectious += dt * (succumbing - recovering)
        recovered += dt * recovering


@numba.njit(cache=True)
def hand_ring(
    y: np.ndarray,
    k: np.ndarray,
    xs: np.ndarray,
    ys: np.ndarray,
    settings: np.ndarray,
    out: np.ndarray,
) -> None:
    """The ring by hand: Euler, the 301 variables saved every step and at the end."""
    capacity, max_flow, threshold, boost = settings
    n = y.shape[0]
    flows = np.empty(n)
    for step in range(N_STEPS + 1):
        t = START + step * DT
        policy = boost if t > 10 else 1.0
        out[step, 300] = policy
        for i in range(n):
            s = y[i]
            if i % 3 == 0:
                a = np.interp(s / capacity, xs, ys)
            elif i % 3 == 1:
                a = 1.2 if s > threshold else 0.8
            else:
                a = max(0.2, 1 - s / capacity)
            flows[i] = min(k[i % N_RATES] * s * a * policy, max_flow)
            out[step, i], out[step, 100 + i], out[step, 200 + i] = s, flows[i], a
        if step == N_STEPS:
            break
        h = min(DT, STOP - t)
        for i in range(n):
            y[i] -= h * flows[i]
            y[(i + 1) % n] += h * flows[i]


def pysd_seconds(path: Path) -> float | str:
    """Best time of one PySD run of ``path``, or why it could not run."""
    try:
        import pysd
    except ImportError as error:
        return f"PySD is not installed ({error})"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = pysd.read_vensim(str(path))
            return best_time(lambda: model.run(progress=False), repeat=3, budget=10.0)
    except Exception as error:  # report any PySD failure and go on
        return f"PySD failed: {type(error).__name__}: {error}"


def one_run(label: str, path: Path, hand: float) -> None:
    """Times of one run of ``path`` on every side, and their ratios."""
    model = ps.load_model(path)
    numpy = best_time(lambda: ps.simulate(model, backend="numpy"), repeat=20, budget=3.0)
    numba_time = best_time(lambda: ps.simulate(model, backend="numba"), repeat=200, budget=3.0)
    result = ps.simulate(model, backend="numba")
    arrays = (
        result.times,
        result.names,
        result.values,
        result.parameter_names,
        result.parameters,
        result.method,
        result.model_name,
    )
    build = best_time(lambda: Results(*arrays), repeat=200, budget=1.0)
    theirs = pysd_seconds(path)
    print(f"\n{label}: {len(result.names)} outputs x {len(result.times)} saved times")
    print(f"  pssc numba (cached) {numba_time * 1e3:9.3f} ms")
    print(f"  pssc numpy          {numpy * 1e3:9.3f} ms   numpy / numba {numpy / numba_time:7.1f}")
    print(
        f"  hand-written numba  {hand * 1e3:9.3f} ms   pssc numba / hand {numba_time / hand:7.2f}"
    )
    if isinstance(theirs, str):
        print(f"  {theirs}")
    else:
        print(
            f"  PySD                {theirs * 1e3:9.3f} ms   PySD / pssc numba "
            f"{theirs / numba_time:7.0f}   PySD / pssc numpy {theirs / numpy:7.0f}"
        )
    print(f"  building Results    {build * 1e6:9.1f} us   ({build / numba_time:.1%} of the run)")


def hand_times(ring_path: Path) -> tuple[float, float]:
    """Best times of the two hand-written loops (compiled before timing)."""
    sir_out = np.empty((3201, 5))
    hand_sir(3200, 0.03125, sir_out)
    sir = best_time(lambda: hand_sir(3200, 0.03125, sir_out), repeat=200, budget=2.0)
    k = np.array([PARAMETERS[f"k{j}"] for j in range(N_RATES)])
    xs, ys = np.array([p[0] for p in LOOKUP]), np.array([p[1] for p in LOOKUP])
    settings = np.array([PARAMETERS[n] for n in ("capacity", "max_flow", "threshold", "boost")])
    out = np.empty((N_STEPS + 1, 301))
    y0 = np.array([initial(i) for i in range(N_STOCKS)], dtype=float)

    def ring() -> None:
        hand_ring(y0.copy(), k, xs, ys, settings, out)

    final = ps.simulate(ps.load_model(ring_path), backend="numba")
    ring()
    difference = np.abs(out[-1, :N_STOCKS] - final.values[-1, :N_STOCKS, 0]).max()
    print(f"ring: largest difference of the final stocks, hand vs pssc numba: {difference:.1e}")
    return sir, best_time(ring, repeat=100, budget=2.0)


def per_call(
    runs: dict[str, Callable[[], object]], calls: int = 300, rounds: int = 9
) -> dict[str, float]:
    """The best CPU seconds per call of each of ``runs``, over ``rounds`` rounds of ``calls``
    calls each, the runs taking turns within a round (a change of the machine's load hits them
    all)."""
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(rounds):
        for name, run in runs.items():
            start = time.process_time()
            for _ in range(calls):
                run()
            best[name] = min(best[name], (time.process_time() - start) / calls)
    return best


def around_the_loop(path: Path) -> None:
    """One run of the suite's SIR, layer by layer, in CPU time against the hand-written loop:
    the generated loop called alone, ``run_loop`` (the loop's arguments, the output array, the
    finite check) and ``simulate`` (checks, plan, back end, ``Results``)."""
    from pssc_sim.integrate.fixed import FixedStepPlan
    from pssc_sim.integrate.simulate import parameter_array

    model = ps.load_model(path)
    ps.simulate(model, backend="numba")
    compiled = compiled_for(model, None)
    grid = make_grid(model, None)
    plan = FixedStepPlan.build(grid)
    p = parameter_array(compiled, None)
    head = backends.loop_head(compiled, grid, plan, p)
    out = np.empty((plan.n_rows, len(compiled.outputs), 1))
    arguments = (*head, *backends.tableau_arrays(EULER), out, 0, 0, len(plan.steps), 0)
    loop = compiled.loop.run
    assert loop is not None
    hand_out = np.empty((3201, 5))
    layers = {
        "hand-written loop": lambda: hand_sir(3200, 0.03125, hand_out),
        "generated loop alone": lambda: loop(*arguments),
        "run_loop": lambda: backends.run_loop(compiled, p, grid, EULER, 4096, blocks=False),
        "simulate(backend='numba')": lambda: ps.simulate(model, backend="numba"),
        "simulate (auto)": lambda: ps.simulate(model),
    }
    times = per_call(layers)
    hand = times["hand-written loop"]
    print(
        "\nSIR (suite .mdl), one run layer by layer (best CPU us per call, 9 rounds of 300 "
        f"calls taking turns; loop built ahead of time: {compiled.loop.ahead})"
    )
    for name, spent in times.items():
        print(f"  {name:28s} {spent * 1e6:8.1f} us   / hand {spent / hand:5.2f}")


_CHILD = """
import resource, sys, time
def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
t0 = cpu()
import pssc_sim as ps
from pssc_sim.integrate.simulate import compiled_for
model = ps.load_model(sys.argv[1])
compiled = compiled_for(model, None)
t1 = cpu()
ps.simulate(model, backend="numba")
t2 = cpu()
ps.simulate(model, backend="numba")
t3 = cpu()
print(t1 - t0, t2 - t1, t3 - t2, int(compiled.loop.ahead), int("numba" in sys.modules))
"""


def child_cpu(command: list[str], env: dict[str, str]) -> tuple[str, float]:
    """Run ``command`` in a child process; its output and the CPU seconds (user + system) of
    the child and the processes it waited for (the C compiler of a build)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    run = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    spent = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return run.stdout, spent


def compile_times(label: str, path: Path) -> None:
    """CPU seconds of each way to get the loop of ``path``, each in a fresh process: compiled
    just in time with an empty cache folder (cold), built ahead of time (``pssc cache
    build``), then loaded by a later process (warm)."""
    folder = tempfile.mkdtemp(prefix="pssc_bench_cache_")
    env = {"PSSC_CACHE_DIR": folder, "PATH": "/usr/bin:/bin", "PSSC_AOT": "off"}
    lines = []
    for state in ("cold", "build", "warm"):
        if state == "build":
            out, spent = child_cpu(
                [sys.executable, "-m", "pssc_sim", "cache", "build", str(path)], env
            )
            lines.append(
                f"  build ahead of time (pssc cache build, whole process): {spent:6.2f} CPU s"
            )
            continue
        out, spent = child_cpu([sys.executable, "-c", _CHILD, str(path)], env)
        load, first, second, ahead, numba_loaded = out.split()
        how = "load the built module" if int(ahead) else "compile just in time"
        lines.append(
            f"  {state}: import+read+compile_model {float(load):5.2f}, first numba run ({how}) "
            f"{float(first):6.3f}, next run {float(second) * 1e3:6.3f} ms CPU; whole process "
            f"{spent:5.2f} CPU s; numba imported: {bool(int(numba_loaded))}"
        )
    print(f"\n{label}: the loop in a fresh process (CPU time)")
    print("\n".join(lines))


def crossover(label: str, path: Path, members: list[int]) -> None:
    """Time per run of both back ends by number of members, and the estimate ``auto`` uses."""
    model = ps.load_model(path)
    compiled = compiled_for(model, None)
    grid = make_grid(model, None)
    name = model.parameter_names[0]
    value = model.parameter_values()[0]
    print(
        f"\n{label}: members, numpy ms, numba ms, numpy / numba, numba's member loop alone ms, "
        "numpy / member loop, auto's numpy estimate ms"
    )
    for n in members:
        params = {name: value * np.linspace(0.99, 1.01, n)} if n > 1 else None
        repeat = 3 if n >= 10_000 else 10
        numpy = best_time(
            lambda p=params: ps.simulate(model, p, backend="numpy"), repeat=repeat, budget=5.0
        )
        fast = best_time(
            lambda p=params: ps.simulate(model, p, backend="numba"), repeat=repeat, budget=5.0
        )
        blocks = backends.BLOCK_MEMBERS
        backends.BLOCK_MEMBERS = n + 1  # the member loop, one member at a time, as before
        alone = best_time(
            lambda p=params: ps.simulate(model, p, backend="numba"), repeat=repeat, budget=5.0
        )
        backends.BLOCK_MEMBERS = blocks
        estimate = backends.numpy_seconds(compiled, grid, EULER, n)
        print(
            f"  {n:>7}  {numpy * 1e3:10.2f}  {fast * 1e3:10.2f}  {numpy / fast:7.1f}  "
            f"{alone * 1e3:10.2f}  {numpy / alone:7.1f}  {estimate * 1e3:10.2f}"
        )


def main() -> None:
    full = "--full" in sys.argv[1:]
    print(f"bench_backends: one run on each back end; {machine()}; numba {numba.__version__}")
    folder = Path(tempfile.mkdtemp(prefix="pssc_bench_"))
    ring_mdl = folder / "ring100.mdl"
    ring_mdl.write_text(model_mdl())
    start = time.perf_counter()
    hand_sir_time, hand_ring_time = hand_times(ring_mdl)
    print(f"(hand loops and the ring's loop compiled in {time.perf_counter() - start:.1f} s)")
    if SIR.is_file():
        one_run("SIR (suite .mdl)", SIR, hand_sir_time)
        around_the_loop(SIR)
    one_run("ring (301 variables, .mdl)", ring_mdl, hand_ring_time)
    if SIR.is_file():
        compile_times("SIR", SIR)
    compile_times("ring", ring_mdl)
    for model in ("ambulance", "health_social_care"):
        compile_times(f"models/{model}", ROOT / "models" / model)
    members = [1, 10, 100, 1_000, 10_000] + ([100_000] if full else [])
    crossover("SIR (models/sir, 240 steps)", ROOT / "models" / "sir", members)
    # the ring saves 301 values x 201 rows a member: 4.8 GB of outputs at 10,000 members,
    # 48 GB at 100,000 (not measured)
    crossover("ring (200 steps)", ring_mdl, members[:4] if not full else members[:5])


if __name__ == "__main__":
    main()
