"""Ensembles on a Dask cluster: a million-member SIR ensemble with quantiles, two local worker
processes against one process, and the costs that docs/scaling.md extrapolates from.

Wall times of a two-worker cluster mean little while other jobs load the machine's cores, so
the script prints, besides wall times, the CPU time each part costs per member (which load
changes much less) and what can be counted:

- ``one process``: ``simulate`` of the whole ensemble in this process, then the quantiles and
  mean of ``ensemble_table`` (wall time best of two after a warm-up, so its memory is warm; CPU
  per member of the run and of the table);
- ``one block here``: the task a worker runs for one block of a summary
  (``cluster.summary_block``), run in this process on a block of the size the workers get: its
  CPU per member is the like-with-like comparison with ``one process``;
- ``2 workers``: ``summarise`` on a ``LocalCluster`` of two single-threaded processes (wall
  time without the cluster's start, best of two after a warm-up), the CPU of the worker
  processes per member (``psutil``), the CPU of this process (client, scheduler and the nannies
  of a local cluster), the exchanges after the blocks' first answer (``Summary.rounds``), the
  tasks by kind and their compute time (distributed's task stream);
- ``speed-up``: one process over two workers, wall time (target: at least 1.6 on two cores), and
  the same from CPU per member (what two idle cores would give if the parts overlapped fully);
- the client's peak at 250,000 and 1,000,000 members, the cost per member-step of SIR and of
  the 100-stock ring, the overhead of one task, and the bytes one block moves;
- the client's peak of a sampled scenario ensemble (``run_summarised``, two parameters drawn
  by a Latin hypercube) at 250,000 and 1,000,000 members, drawn by the workers and drawn here;
- ``--compare``: a comparison of ``uncertain-distancing`` against a single run of SIR, its
  members gathered here (``compare`` of runs on the cluster) against reduced on the workers
  (``compare_on_cluster``): the client's peak traced memory and CPU time.

Run: ``python benchmarks/bench_distributed.py`` (``--members N`` to change the large ensemble,
``--quick`` for 100,000 members, ``--peaks`` for the sampled scenario's peaks alone,
``--compare`` for the comparison's alone).
"""

from __future__ import annotations

import argparse
import os
import pickle
import resource
import sys
import time
import tracemalloc
from collections import Counter
from typing import Any

import numpy as np
import psutil
from harness import ROOT, machine
from network_model import parameter_rows, write_model

import pssc_sim as ps
from pssc_sim.integrate import cluster
from pssc_sim.integrate.cluster import model_document, run_block
from pssc_sim.integrate.distributed import connect, prepare, summarise
from pssc_sim.orderstats import sketch_points
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


def one_process(model: ps.Model, members: int) -> dict[str, float]:
    """Wall seconds (best of two after a warm-up), CPU seconds of the run and of the table, and
    the peak RSS growth (MiB) of the ensemble and its quantiles in this process."""
    params = sir_params(members)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    best: dict[str, float] = {"wall": float("inf")}
    for _ in range(3):  # the first warms the memory
        start, cpu = time.perf_counter(), time.process_time()
        results = ps.simulate(model, params, outputs=OUTPUTS, time=TIME)
        ran = time.process_time()
        ensemble_table(results, QUANTILES)
        wall = time.perf_counter() - start
        if wall < best["wall"]:
            best = {"wall": wall, "run": ran - cpu, "table": time.process_time() - ran}
        del results
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    best["rss"] = (after - before) / 1024
    return best


def one_block_here(model: ps.Model, members: int, blocks: int) -> dict[str, float]:
    """CPU seconds per member of one summary block of ``members / blocks`` members run in this
    process, split into the run and the rest (sums, sort in place, sketch)."""
    size = members // blocks
    run = prepare(model, sir_params(size), "euler", TIME, OUTPUTS, (1e-6, 1e-9, 4096, None), None)
    document = model_document(run.compiled.model)
    job = cluster.Job.of(run.compiled, document, run.grid, "euler", run.options)
    rows = run.p.block(0, size)  # type: ignore[union-attr]
    points = sketch_points(61 * len(OUTPUTS), blocks)
    best = {"run": float("inf"), "block": float("inf")}
    for _ in range(3):
        cpu = time.process_time()
        run_block(job, document, rows)
        ran = time.process_time()
        cluster.summary_block(job, document, rows, 0, points)
        done = time.process_time()
        best = min(best, {"run": ran - cpu, "block": done - ran}, key=lambda b: b["block"])
    return {key: value / size for key, value in best.items()}


def on_cluster(client: Any, model: ps.Model, members: int, trace: bool = False) -> dict[str, Any]:
    """Wall seconds, CPU per part, rounds and tasks of the same ensemble through ``summarise``,
    and with ``trace`` the client's peak traced memory (MiB; tracing slows this process, which
    also runs the scheduler, so the timed runs are not traced)."""
    params = sir_params(members)
    workers = [psutil.Process(pid) for pid in client.run(os.getpid).values()]
    before = [w.cpu_times() for w in workers]
    if trace:
        tracemalloc.start()
    began = time.time()
    start, cpu = time.perf_counter(), time.process_time()
    summary = summarise(
        model, params, scheduler=client, outputs=OUTPUTS, quantiles=QUANTILES, time=TIME
    )
    elapsed, here = time.perf_counter() - start, time.process_time() - cpu
    peak = 0
    if trace:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    after = [w.cpu_times() for w in workers]
    spent = sum(b.user + b.system - a.user - a.system for a, b in zip(before, after, strict=True))
    tasks: Counter[str] = Counter()
    compute: Counter[str] = Counter()
    for task in client.get_task_stream(start=began):
        kind = str(task["key"]).split("-")[0]
        tasks[kind] += 1
        compute[kind] += sum(
            s["stop"] - s["start"] for s in task["startstops"] if s["action"] == "compute"
        )
    return {
        "wall": elapsed,
        "client": here,
        "workers": spent,
        "rounds": summary.rounds,
        "tasks": tasks,
        "compute": compute,
        "peak": peak / 2**20,
    }


def scenario_peak(client: Any, members: int, draw_here: bool) -> float:
    """The client's peak traced memory (MiB) of a sampled SIR scenario ensemble summarised on
    the cluster, its members drawn by the workers or, with ``draw_here``, by this process."""
    from pssc_sim.scenario.runner import run_summarised

    scenario = ps.Scenario(
        model=SIR,
        name="sampled",
        outputs=OUTPUTS,
        time=TIME,
        uncertainty={
            "members": members,
            "seed": 1,
            "parameters": {
                "infectivity": {"distribution": "uniform", "low": 0.1, "high": 0.5},
                "contact_rate": {"distribution": "uniform", "low": 2.0, "high": 10.0},
            },
        },
    )
    tracemalloc.start()
    try:
        run_summarised(scenario, scheduler=client, draw_here=draw_here)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20


def sampled_peaks(client: Any) -> None:
    """Print :func:`scenario_peak` at 250,000 and 1,000,000 members, both ways."""
    scenario_peak(client, 20_000, False)  # compile on the workers, warm up
    for count in (250_000, 1_000_000):
        there = scenario_peak(client, count, False)
        here = scenario_peak(client, count, True)
        print(
            f"sampled scenario, client peak at {count:>9,} members: {there:6.1f} MiB drawn by "
            f"the workers, {here:6.1f} MiB drawn here (the samples: "
            f"{2 * count * 8 / 2**20:.1f} MiB)"
        )


def comparison_cost(client: Any, members: int, reduced: bool) -> tuple[float, float]:
    """The client's peak traced memory (MiB) and CPU time (s) of comparing
    ``uncertain-distancing`` (``members`` members) with a single run of SIR at day 10.0625
    and the end, the ensemble gathered here or reduced on the workers."""
    from pssc_sim.scenario.compare import compare_on_cluster
    from pssc_sim.scenario.runner import run

    path = ROOT / "scenarios" / "sir" / "uncertain-distancing.yaml"
    ensemble = ps.Scenario.load(path).with_uncertainty(members=members).with_time(**TIME)
    single = ps.Scenario(model=SIR, name="sir", time=TIME)
    tracemalloc.start()
    start = time.process_time()
    try:
        if reduced:
            comparison = compare_on_cluster(ensemble, single, scheduler=client, at=[10.0625])
        else:
            runs = [run(scenario, scheduler=client) for scenario in (ensemble, single)]
            comparison = ps.compare(*runs, at=[10.0625])
        comparison.table()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20, time.process_time() - start


def comparison_costs(client: Any) -> None:
    """Print :func:`comparison_cost` at 20,000 and 100,000 members, both ways, twice."""
    comparison_cost(client, 2_000, True)  # compile on the workers, warm up
    for count in (20_000, 100_000):
        for _ in range(2):
            for reduced in (False, True):
                peak, cpu = comparison_cost(client, count, reduced)
                way = "reduced on the workers" if reduced else "gathered here"
                print(
                    f"comparison at {count:>7,} members, {way:>22}: client peak "
                    f"{peak:6.1f} MiB, client CPU {cpu:5.2f} s"
                )


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
    parser.add_argument(
        "--peaks", action="store_true", help="the sampled scenario's client peaks alone"
    )
    parser.add_argument(
        "--compare", action="store_true", help="the comparison's client peaks and CPU alone"
    )
    args = parser.parse_args()
    members = 100_000 if args.quick else args.members
    print(machine())
    print(f"load average at the start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if args.peaks or args.compare:
        with connect(2) as client:
            if args.peaks:
                sampled_peaks(client)
            if args.compare:
                comparison_costs(client)
        print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        return
    model = ps.load_model(SIR)
    steps = round((model.time.stop - model.time.start) / model.time.dt)
    print(
        f"SIR: {steps} steps, {len(model.stocks)} stocks; recording {OUTPUTS}, quantiles "
        f"{list(QUANTILES)} and the mean"
    )

    alone = one_process(model, members)
    per = 1e6 / members
    print(
        f"one process: {members:,} members in {alone['wall']:.2f} s wall (warm); CPU "
        f"{alone['run'] * per:.3f} us/member run + {alone['table'] * per:.3f} us/member "
        f"quantiles and mean = {(alone['run'] + alone['table']) * per:.3f} us/member "
        f"(peak RSS growth {alone['rss']:.0f} MiB)"
    )
    block = one_block_here(model, members, 8)
    print(
        f"one block here ({members // 8:,} members, the task a worker runs): CPU "
        f"{block['run'] * 1e6:.3f} us/member run + {block['block'] * 1e6 - block['run'] * 1e6:.3f}"
        f" us/member sums, sort and sketch = {block['block'] * 1e6:.3f} us/member"
    )

    started = time.perf_counter()
    with connect(2) as client:
        print(f"LocalCluster of 2 processes started in {time.perf_counter() - started:.1f} s")
        on_cluster(client, model, 20_000)  # compile on the workers, warm up
        best: dict[str, Any] = {"wall": float("inf")}
        for _ in range(2):
            found = on_cluster(client, model, members)
            if found["wall"] < best["wall"]:
                best = found
        print(
            f"2 workers: {members:,} members in {best['wall']:.2f} s wall; CPU of the worker "
            f"processes {best['workers'] * per:.3f} us/member, of this process (client, "
            f"scheduler, nannies) {best['client'] * per:.3f} us/member; "
            f"{best['rounds']} exchanges after the blocks' first answer"
        )
        print(
            "   tasks (count, compute s): "
            + ", ".join(
                f"{kind} {count} ({best['compute'][kind]:.3f} s)"
                for kind, count in sorted(best["tasks"].items())
            )
        )
        cpu_alone = alone["run"] + alone["table"]
        cpu_cluster = best["workers"] + best["client"]
        print(
            f"speed-up: {alone['wall'] / best['wall']:.2f}x wall (target >= 1.6x); from CPU "
            f"per member on two idle cores at most {2 * cpu_alone / cpu_cluster:.2f}x "
            f"(one process {cpu_alone * per:.3f} us/member; cluster, all processes, "
            f"{cpu_cluster * per:.3f} us/member over two cores)"
        )
        for count in (250_000, 1_000_000):
            peak = on_cluster(client, model, count, trace=True)["peak"]
            given = len(sir_params(1)) * count * 8 / 2**20
            matrix = len(model.parameters) * count * 8 / 2**20
            print(
                f"client peak at {count:>9,} members: {peak:6.1f} MiB (the given values "
                f"{given:.1f} MiB; the parameter matrix, built by the workers, would be "
                f"{matrix:.1f} MiB)"
            )
        sampled_peaks(client)
        points, rows = sketch_points(61 * len(OUTPUTS), 8), 61 * len(OUTPUTS)
        print(
            f"first answer of a block of {members // 8:,} members: {points} sketch points x "
            f"{rows} rows + partial sums = {8 * rows * (points + -(-members // 8 // 256)):,} bytes"
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
