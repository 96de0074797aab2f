"""Ensembles on a Dask cluster: a million-member SIR ensemble with quantiles, two local worker
processes against one process, and the costs that docs/scaling.md extrapolates from.

Prints, as plain lines:

- ``one process``: ``simulate`` of the whole ensemble in this process, then the quantiles and
  mean of ``ensemble_table`` (wall time, and this process's peak memory growth);
- ``2 workers``: ``summarise`` on a ``LocalCluster`` of two single-threaded processes (wall time
  without the cluster's start, which is printed apart; the client's peak traced memory);
- the speed-up (target: at least 1.6 on two cores);
- the client's peak at 250,000 and 1,000,000 members (it should not grow with the members
  beyond the values given for them and their blocks on the way out: the workers fill in the
  parameter matrix);
- the cost per member-step of SIR and of the 100-stock ring, the overhead of one task, and the
  bytes one block moves.

Run: ``python benchmarks/bench_distributed.py`` (``--members N`` to change the large ensemble,
``--quick`` for 100,000 members). Wall times on a shared machine vary; the script reports the
best of two repeats where that is affordable.
"""

from __future__ import annotations

import argparse
import pickle
import resource
import sys
import time
import tracemalloc

import numpy as np
from harness import ROOT, machine
from network_model import parameter_rows, write_model

import pssc_sim as ps
from pssc_sim.integrate.cluster import model_document, run_block
from pssc_sim.integrate.distributed import connect, summarise
from pssc_sim.output import ensemble_table

SIR = ROOT / "models" / "sir"
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
OUTPUTS = ["infected"]
#: Saved once a day (the run steps every quarter day): 61 rows of a million members.
TIME = {"save_every": 1.0}


def sir_params(members: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    return {
        "infectivity": rng.uniform(0.1, 0.5, members),
        "contact_rate": rng.uniform(2.0, 10.0, members),
    }


def one_process(model: ps.Model, members: int) -> tuple[float, float]:
    """Seconds and peak RSS growth (MiB) of the ensemble and its quantiles in this process."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    results = ps.simulate(model, sir_params(members), outputs=OUTPUTS, time=TIME)
    ensemble_table(results, QUANTILES)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    del results
    return elapsed, (after - before) / 1024


def on_cluster(client: object, model: ps.Model, members: int) -> tuple[float, float]:
    """Seconds and the client's peak traced memory (MiB) of the same ensemble on the cluster."""
    params = sir_params(members)
    tracemalloc.start()
    start = time.perf_counter()
    summarise(model, params, scheduler=client, outputs=OUTPUTS, quantiles=QUANTILES, time=TIME)
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return elapsed, peak / 2**20


def member_step_cost(model: ps.Model, params: dict[str, np.ndarray], members: int) -> float:
    """Seconds per member per time step of one process (best of two)."""
    steps = round((model.time.stop - model.time.start) / model.time.dt)
    ps.simulate(model, params)
    best = float("inf")
    for _ in range(2):
        start = time.perf_counter()
        ps.simulate(model, params)
        best = min(best, time.perf_counter() - start)
    return best / (members * steps)


def task_overhead(client: object, model: ps.Model, tasks: int = 400) -> float:
    """Seconds of scheduling per task: one-member blocks, whose work is negligible."""
    from pssc_sim.integrate.cluster import Job, kernel_key
    from pssc_sim.integrate.simulate import make_grid, parameter_array

    compiled = ps.compile_model(model, OUTPUTS)
    p = parameter_array(compiled, {"infectivity": np.full(tasks, 0.3)})
    grid = make_grid(model, {"stop": 1.0})

    document = model_document(model)
    job = Job(
        kernel_key(document, compiled.outputs), compiled.outputs, grid, "euler", 1e-6, 1e-9, 1
    )
    shared = client.scatter(document, broadcast=True)  # type: ignore[attr-defined]
    client.gather(
        [
            client.submit(run_block, job, shared, p[:, :1], pure=False)  # type: ignore
            for _ in range(4)
        ]
    )  # compile on the workers first
    start = time.perf_counter()
    futures = [
        client.submit(run_block, job, shared, p[:, i : i + 1], pure=False)  # type: ignore
        for i in range(tasks)
    ]
    client.gather(futures)  # type: ignore[attr-defined]
    return (time.perf_counter() - start) / tasks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="100,000 members")
    args = parser.parse_args()
    members = 100_000 if args.quick else args.members
    print(machine())
    model = ps.load_model(SIR)
    steps = round((model.time.stop - model.time.start) / model.time.dt)
    print(
        f"SIR: {steps} steps, {len(model.stocks)} stocks; recording {OUTPUTS}, quantiles "
        f"{list(QUANTILES)} and the mean"
    )

    alone, rss = one_process(model, members)
    print(f"one process: {members:,} members in {alone:.2f} s (peak RSS growth {rss:.0f} MiB)")

    started = time.perf_counter()
    with connect(2) as client:
        print(f"LocalCluster of 2 processes started in {time.perf_counter() - started:.1f} s")
        on_cluster(client, model, 20_000)  # compile on the workers, warm up
        best = float("inf")
        for _ in range(2):
            elapsed, peak = on_cluster(client, model, members)
            best = min(best, elapsed)
        print(
            f"2 workers: {members:,} members in {best:.2f} s; client peak traced memory "
            f"{peak:.0f} MiB"
        )
        print(f"speed-up: {alone / best:.2f}x (target >= 1.6x)")
        for count in (250_000, 1_000_000):
            _, peak = on_cluster(client, model, count)
            given = len(sir_params(1)) * count * 8 / 2**20
            matrix = len(model.parameters) * count * 8 / 2**20
            print(
                f"client peak at {count:>9,} members: {peak:6.1f} MiB (the given values "
                f"{given:.1f} MiB; the parameter matrix, built by the workers, would be "
                f"{matrix:.1f} MiB)"
            )
        overhead = task_overhead(client, model)
        print(f"overhead per task: {overhead * 1e3:.2f} ms (one-member blocks, 2 workers)")

    sir_cost = member_step_cost(model, sir_params(100_000), 100_000)
    ring = ps.load_model(write_model())
    ring_cost = member_step_cost(ring, parameter_rows(4096), 4096)
    n_ring = len(ring.stocks) + len(ring.flows) + len(ring.auxiliaries)
    n_sir = len(model.stocks) + len(model.flows) + len(model.auxiliaries)
    print(
        f"cost per member-step: SIR ({n_sir} variables) {sir_cost * 1e9:.1f} ns; 100-stock "
        f"ring ({n_ring} variables) {ring_cost * 1e9:.1f} ns "
        f"({ring_cost / n_ring * 1e9:.2f} ns per variable)"
    )
    chunk = 4096
    block_in = len(model.parameters) * chunk * 8
    saved = len(ps.simulate(model, time=TIME).times)
    block_out = saved * len(OUTPUTS) * chunk * 8
    document = len(pickle.dumps(model))
    ring_document = len(pickle.dumps(ring))
    print(
        f"bytes per block of {chunk} members: parameters in {block_in:,}; values kept on the "
        f"worker {block_out:,} (one output); model document {document:,} (SIR), "
        f"{ring_document:,} (ring), sent once per call"
    )


if __name__ == "__main__":
    sys.exit(main())
