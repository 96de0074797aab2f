"""Ensembles on a Dask cluster: two local worker processes on 127.0.0.1 give exactly what one
process gives, for single runs, scenario ensembles, inference designs and the command line."""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import re
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

import pssc_sim as ps
import pssc_sim.integrate.cluster as cluster_module
import pssc_sim.orderstats as orderstats
from pssc_sim.cli import main
from pssc_sim.errors import PsscSimWarning
from pssc_sim.integrate.budget import ResourceLimitError
from pssc_sim.integrate.cluster import blocks, worker_kernel
from pssc_sim.integrate.distributed import (
    Overrides,
    SchedulerError,
    connect,
    parse_scheduler,
    plan_blocks,
    save_ensemble,
    summarise,
)
from pssc_sim.integrate.simulate import (
    compiled_for,
    fill_parameters,
    make_grid,
    parameter_overrides,
    plan_run,
)
from pssc_sim.output import ensemble_table
from pssc_sim.scenario.schema import ScenarioError

distributed = pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parent.parent
SIR = ROOT / "models" / "sir"
UNCERTAIN = ROOT / "scenarios" / "sir" / "uncertain-distancing.yaml"

# Nobody listens here: the port below 1024 that the discard service would use is closed on
# the test machines, and a connection to it is refused at once.
DEAD_ADDRESS = "tcp://127.0.0.1:9"


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """Two single-threaded worker processes on 127.0.0.1, shared by the tests of this module."""
    with connect(2) as connected:
        yield connected


def test_model_pickles_to_an_equal_run() -> None:
    # the model is what travels to workers: a pickled copy runs to the same values
    for name in ("sir", "climate", "waiting_list"):
        model = ps.load_model(ROOT / "models" / name)
        copy = pickle.loads(pickle.dumps(model))
        assert copy is not model
        np.testing.assert_array_equal(ps.simulate(copy).values, ps.simulate(model).values)


def test_worker_kernel_is_compiled_once_per_document() -> None:
    document = pickle.dumps(ps.load_model(SIR))
    first = worker_kernel("a-key", document, ("infected",))
    assert worker_kernel("a-key", document, ("infected",)) is first
    assert worker_kernel("another-key", document, ("infected",)) is not first


@pytest.mark.parametrize(
    ("members", "chunk", "per_block"), [(10, 3, None), (7, 7, 2), (1, 4, 9), (100, 8, 30)]
)
def test_blocks_cover_every_member_once_in_whole_chunks(
    members: int, chunk: int, per_block: int | None
) -> None:
    ranges = blocks(members, chunk, per_block)
    covered = np.concatenate([np.arange(start, stop) for start, stop in ranges])
    np.testing.assert_array_equal(covered, np.arange(members))
    assert all((stop - start) % chunk == 0 for start, stop in ranges[:-1])


@pytest.mark.parametrize("method", ["euler", "rk4", "rk45"])
def test_simulate_on_the_cluster_is_bit_identical(client: Any, method: str) -> None:
    infectivity = np.linspace(0.1, 0.5, 300)
    here = ps.simulate(full_model(), {"infectivity": infectivity}, method=method, chunk=64)
    there = ps.simulate(
        full_model(), {"infectivity": infectivity}, method=method, chunk=64, scheduler=client
    )
    np.testing.assert_array_equal(there.values, here.values)
    np.testing.assert_array_equal(there.times, here.times)
    np.testing.assert_array_equal(there.parameters, here.parameters)
    assert there.names == here.names


def test_a_current_client_takes_the_runs_unless_scheduler_is_false(client: Any) -> None:
    from pssc_sim.inference.design import Experiment, Request, Statistic

    infectivity = np.linspace(0.1, 0.5, 120)
    here = ps.simulate(full_model(), {"infectivity": infectivity}, chunk=32)
    experiment = Experiment.load(SIR)
    request = Request("infected", Statistic("max"))
    design = np.linspace(0.1, 0.5, 6)[:, None]
    alone = experiment.evaluate(["infectivity"], design, [request])
    # the fixture's client, made by pssc_sim, is not current: nothing ran there above
    with pytest.raises(ValueError, match="No clients found"):
        distributed.default_client()
    with distributed.Client(client.scheduler.address) as current:

        def executed() -> int:  # tasks the workers have run so far
            counts = current.run(lambda dask_worker: dask_worker.state.executed_count)
            return sum(counts.values())

        before = executed()
        kept = ps.simulate(full_model(), {"infectivity": infectivity}, chunk=32, scheduler=False)
        experiment.on(False).evaluate(["infectivity"], design, [request])
        assert executed() == before
        there = ps.simulate(full_model(), {"infectivity": infectivity}, chunk=32)
        after = executed()
        assert after > before
        spread = experiment.evaluate(["infectivity"], design, [request])
        assert executed() > after
    np.testing.assert_array_equal(kept.values, here.values)
    np.testing.assert_array_equal(there.values, here.values)
    np.testing.assert_array_equal(spread[0], alone[0])


@pytest.mark.parametrize("method", ["euler", "rk4"])
def test_seeded_scenario_ensemble_is_the_same_on_any_cluster_and_chunking(
    client: Any, method: str
) -> None:
    scenario = ps.Scenario.load(UNCERTAIN)
    scenario = dataclasses.replace(scenario, method=method)
    here = scenario.run()
    for chunk in (1000, 128, 37):
        there = scenario.run(chunk=chunk, scheduler=client)
        np.testing.assert_array_equal(there.results.values, here.results.values)
        for key, values in here.samples.items():
            np.testing.assert_array_equal(there.samples[key], values)


def test_progress_is_fed_by_finished_blocks(client: Any) -> None:
    seen: list[float] = []
    ps.simulate(
        full_model(),
        {"infectivity": np.linspace(0.1, 0.5, 50)},
        chunk=5,
        scheduler=client,
        progress=seen.append,
    )
    assert seen[-1] == 1.0
    assert seen == sorted(seen)
    assert all(0.0 < f <= 1.0 for f in seen)


def test_progress_of_a_summary_is_fed_by_the_blocks_answers(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pssc_sim.integrate.progress as progress

    monkeypatch.setattr(progress, "INTERVAL", 0.0)  # every answer reported, however quick
    seen: list[float] = []
    summarise(
        full_model(),
        {"infectivity": np.linspace(0.1, 0.5, 3000)},
        scheduler=client,
        progress=seen.append,
        chunk=256,
    )
    assert len(seen) > 1  # not only the end
    assert seen[-1] == 1.0
    assert seen == sorted(seen)


def test_a_failed_block_raises_the_error_one_process_raises(client: Any, make_model: Any) -> None:
    model = make_model("""
        time: {stop: 2, dt: 1}
        parameters: {k: 2}
        stocks: {x: 1}
        flows: {grow: {to: x, rate: x / (k - 1)}}
    """)
    k = np.full(40, 2.0)
    k[[13, 30]] = 1.0  # two members divide by zero, in different blocks
    with pytest.raises(ps.SimulationError) as here:
        ps.simulate(model, {"k": k}, chunk=4)
    with pytest.raises(ps.SimulationError, match=r"flows\.grow: the value is not finite") as there:
        ps.simulate(model, {"k": k}, chunk=4, scheduler=client)
    assert str(there.value) == str(here.value)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("somewhere", r"scheduler: not a scheduler address \(got 'somewhere'\)"),
        (0, r"scheduler: the number of worker processes must be 1 to 1024 \(got 0\)"),
        ("processes:5000", r"must be 1 to 1024 \(got 5000\)"),
        (True, r"scheduler: expected an address or a number of workers \(got True\)"),
        (2.5, r"expected an address, a number of workers or a distributed.Client \(got float\)"),
    ],
)
def test_bad_scheduler_specs_are_refused(spec: Any, message: str) -> None:
    with pytest.raises(SchedulerError, match=message):
        parse_scheduler(spec)


def test_an_unreachable_scheduler_is_a_bad_input_error() -> None:
    message = (
        r"no scheduler answered at tcp://127\.0\.0\.1:9 within 1 s .*Start one with "
        r"'dask scheduler'"
    )
    with pytest.raises(SchedulerError, match=message), connect(DEAD_ADDRESS, timeout=1.0):
        pass


# -- command line ------------------------------------------------------------------------------


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(args)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_cli_run_on_the_cluster_writes_what_one_process_writes(
    client: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the members stay on the workers: the table, the summary's final quantiles and the
    # figure come from the quantiles reduced there, and ensemble.nc is written by the workers
    import pssc_sim.integrate.cluster as cluster

    here, there = tmp_path / "here", tmp_path / "there"
    status, alone, _ = _cli(["run", str(UNCERTAIN), "--out", str(here), "--save-ensemble"], capsys)
    assert status == 0

    def no_gathering(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the members were gathered")

    monkeypatch.setattr(cluster, "run_on_cluster", no_gathering)
    status, out, _ = _cli(
        [
            "run",
            str(UNCERTAIN),
            "--out",
            str(there),
            "--save-ensemble",
            "--scheduler",
            client.scheduler.address,
        ],
        capsys,
    )
    assert status == 0
    assert "1000 members" in out
    assert out.replace(str(there), str(here)) == alone
    for name in ("results.csv", "parameters.csv", "ensemble.nc"):
        assert (there / name).read_bytes() == (here / name).read_bytes(), name
    assert (there / "results.png").exists()


def test_cli_sensitivity_and_optimize_on_the_cluster_match_one_process(
    client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    sensitivity = [
        "sensitivity",
        str(SIR),
        "--output",
        "infected",
        "--stat",
        "max",
        "--samples",
        "64",
        "--json",
    ]
    optimize = [
        "optimize",
        str(SIR),
        "--objective",
        "minimize infected max",
        "--levers",
        "contact_rate=2:8",
        "--popsize",
        "4",
        "--maxiter",
        "3",
        "--json",
    ]
    for args in (sensitivity, optimize):
        status, here, _ = _cli(args, capsys)
        assert status == 0
        status, there, _ = _cli([*args, "--scheduler", client.scheduler.address], capsys)
        assert status == 0
        assert _without_bootstrap(json.loads(there)) == _without_bootstrap(json.loads(here))


def _without_bootstrap(value: Any) -> Any:
    """``value`` without the bootstrap confidence intervals of Sobol' indices, which SALib
    draws afresh on every analysis (they differ between two runs in one process too)."""
    if isinstance(value, dict):
        return {k: _without_bootstrap(v) for k, v in value.items() if not k.endswith("_conf")}
    return value


def test_cli_calibrate_on_the_cluster_matches_one_process(
    client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "calibrate",
        str(SIR),
        "--data",
        str(SIR / "data" / "observed.csv"),
        "--parameters",
        "contact_rate,duration",
        "--starts",
        "2",
        "--json",
    ]
    status, here, _ = _cli(args, capsys)
    assert status == 0
    status, there, _ = _cli([*args, "--scheduler", client.scheduler.address], capsys)
    assert status == 0
    assert json.loads(there) == json.loads(here)


def test_cli_unreachable_scheduler_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    started = time.perf_counter()
    status, out, err = _cli(["run", str(UNCERTAIN), "--scheduler", DEAD_ADDRESS], capsys)
    assert status == 2
    assert time.perf_counter() - started < 10
    assert out == ""
    assert err.count("\n") == 1
    assert re.fullmatch(
        r"pssc: error: --scheduler: no scheduler answered at "
        r"tcp://127\.0\.0\.1:9 within 3 s \(got .*\)\. Start one with 'dask "
        r"scheduler' or check the address\n",
        err,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--workers", "0"],
            r"--workers: the number of worker processes must be 1 to 1024 \(got 0\)",
        ),
        (["--scheduler", "localhost"], r"--scheduler: not a scheduler address \(got 'localhost'\)"),
        (["--workers", "2", "--scheduler", "tcp://127.0.0.1:9"], r"not allowed with argument"),
    ],
)
def test_cli_bad_cluster_options_are_refused(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = _cli(["run", str(UNCERTAIN), *args], capsys)
    assert status == 2
    assert re.search(message, err)


@pytest.mark.parametrize(
    ("compute", "message"),
    [
        ({"workers": 0}, r"compute\.workers: the number of worker processes must be 1 to 1024"),
        ({"scheduler": "8786"}, r"compute\.scheduler: not a scheduler address \(got '8786'\)"),
        (
            {"workers": 2, "scheduler": "tcp://127.0.0.1:1"},
            r"compute: give either scheduler or "
            r"workers",
        ),
        ({"workers": True}, r"compute\.workers: expected a whole number of worker processes"),
        ({"scheduler": 5}, r"compute\.scheduler: expected an address \(got 5\)"),
        ([2], r"compute: expected a mapping \(got \[2\]\)"),
    ],
)
def test_scenario_compute_key_is_checked(tmp_path: Path, compute: Any, message: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"model": str(SIR), "compute": compute}))
    with pytest.raises(ScenarioError, match=message):
        ps.Scenario.load(path)


def test_scenario_compute_key_sends_the_run_to_its_cluster(
    client: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(f"extends: {UNCERTAIN}\ncompute: {{scheduler: {DEAD_ADDRESS}}}\n")
    status, _, err = _cli(["run", str(path)], capsys)
    assert status == 2  # the scenario's own cluster is used, and it does not answer
    assert re.search(r"s\.yaml: compute\.scheduler: no scheduler answered", err)
    # the command line's option wins over the scenario's key
    status, out, _ = _cli(["run", str(path), "--scheduler", client.scheduler.address], capsys)
    assert status == 0
    assert "1000 members" in out
    assert ps.Scenario.load(path).to_document()["compute"] == {"scheduler": DEAD_ADDRESS}


# -- faults ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_worker_killed_mid_run_loses_nothing(client: Any) -> None:
    infectivity = np.linspace(0.1, 0.5, 2000)
    run = {"method": "rk4", "time": {"dt": 0.02}, "chunk": 50}
    here = ps.simulate(full_model(), {"infectivity": infectivity}, **run)
    before = client.run(os.getpid)
    victim = max(before.values())
    killed_at: list[float] = []

    def kill_once(fraction: float) -> None:
        if not killed_at:  # the first finished block: the others are still running
            killed_at.append(fraction)
            os.kill(victim, signal.SIGKILL)

    there = ps.simulate(
        full_model(), {"infectivity": infectivity}, scheduler=client, progress=kill_once, **run
    )
    assert killed_at
    assert killed_at[0] < 0.5
    np.testing.assert_array_equal(there.values, here.values)
    client.wait_for_workers(2, timeout=60)
    after = client.run(os.getpid)
    assert victim not in after.values()  # the nanny started a new process in its place


def _cancel_the_rest(client: Any) -> Callable[[float], None]:
    """A progress callback that, at the first finished block, cancels every block not fetched
    yet, as the scheduler does with values lost for good."""
    done: list[float] = []

    def cancel(fraction: float) -> None:
        if not done:
            done.append(fraction)
            client.cancel([distributed.Future(key, client) for key in list(client.futures)])

    return cancel


def test_blocks_lost_before_they_are_fetched_are_sent_again(client: Any) -> None:
    infectivity = np.linspace(0.1, 0.5, 400)
    here = ps.simulate(full_model(), {"infectivity": infectivity}, chunk=10)
    there = ps.simulate(
        full_model(),
        {"infectivity": infectivity},
        chunk=10,
        scheduler=client,
        progress=_cancel_the_rest(client),
    )
    np.testing.assert_array_equal(there.values, here.values)


def test_blocks_lost_too_often_fail_the_run(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cluster_module, "RESUBMITS", 0)
    with pytest.raises(
        ps.SimulationError,
        match=r"cluster: the values of members \d+ to \d+ "
        r"were lost with their worker 1 times",
    ):
        ps.simulate(
            full_model(),
            {"infectivity": np.linspace(0.1, 0.5, 400)},
            chunk=10,
            scheduler=client,
            progress=_cancel_the_rest(client),
        )


@pytest.mark.slow
def test_one_worker_gives_the_same_ensemble_and_a_block_that_kills_it_fails_the_run() -> None:
    import dask

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), connect(1) as alone:
        # one worker gives the seeded ensemble that one process and two workers give
        scenario = ps.Scenario.load(UNCERTAIN)
        np.testing.assert_array_equal(
            scenario.run(chunk=300, scheduler=alone).results.values, scenario.run().results.values
        )
        (victim,) = alone.run(os.getpid).values()

        def kill(fraction: float) -> None:
            os.kill(victim, signal.SIGKILL)

        with pytest.raises(
            ps.SimulationError,
            match=r"cluster: a block of members killed every "
            r"worker that ran it",
        ):
            ps.simulate(
                full_model(),
                {"infectivity": np.linspace(0.1, 0.5, 200)},
                method="rk4",
                time={"dt": 0.02},
                chunk=10,
                scheduler=alone,
                progress=kill,
            )


# -- reductions on the cluster -----------------------------------------------------------------


@pytest.mark.parametrize("method", ["euler", "rk45"])
def test_quantiles_reduced_on_the_cluster_equal_the_full_table(
    client: Any, method: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # few bins a round and few members brought together, so that the ranges narrow in rounds
    monkeypatch.setattr(orderstats, "ROUND_COUNTS", 64)
    monkeypatch.setattr(orderstats, "GATHERED", 1)
    params = {"infectivity": np.linspace(0.1, 0.5, 500), "duration": 2.5}
    outputs = ["infected", "recovered"]
    full = ps.simulate(full_model(), params, method=method, outputs=outputs, chunk=64)
    summary = summarise(
        full_model(),
        params,
        scheduler=client,
        method=method,
        outputs=outputs,
        chunk=64,
        quantiles=[0.05, 0.5, 0.95],
    )
    table = ensemble_table(full, [0.05, 0.5, 0.95])
    np.testing.assert_array_equal(summary.times, full.times)
    assert summary.members == 500
    for i, label in enumerate(("p5", "p50", "p95")):
        np.testing.assert_array_equal(summary.quantiles[i].reshape(-1), table[label].to_numpy())
    np.testing.assert_array_equal(summary.mean.reshape(-1), table["mean"].to_numpy())


def full_model() -> ps.Model:
    return ps.load_model(SIR)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"quantiles": [1.5]}, r"quantiles: must lie in \[0, 1\] \(got \[1\.5\]\)"),
        ({"method": "eulr"}, r"method: unknown method 'eulr'"),
    ],
)
def test_summarise_refuses_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ps.ParameterError, match=message):
        summarise(full_model(), scheduler=2, **kwargs)


def test_fixed_step_runs_are_cut_so_every_worker_has_work(client: Any) -> None:
    # two workers, four blocks each: 4,000 members in blocks of 500; never below 256 members;
    # an adaptive method keeps whole chunks, whose step control spans the chunk
    assert cluster_module.block_size(client, 4000, "euler", 4096) == 500
    assert cluster_module.block_size(client, 1000, "rk4", 4096) == 256
    assert cluster_module.block_size(client, 10**6, "euler", 4096) == 4096
    assert cluster_module.block_size(client, 4000, "rk45", 4096) == 4096


def test_ensemble_written_by_the_workers_reads_back_as_the_run(client: Any, tmp_path: Path) -> None:
    xarray = pytest.importorskip("xarray")
    params = {"infectivity": np.linspace(0.1, 0.5, 700)}
    here = ps.simulate(full_model(), params, outputs=["infected", "recovered"])
    path = save_ensemble(
        full_model(),
        params,
        tmp_path / "ensemble.zarr",
        scheduler=client,
        outputs=["infected", "recovered"],
        chunk=128,
    )
    with xarray.open_zarr(path) as data:
        for j, name in enumerate(here.names):
            np.testing.assert_array_equal(data[name].values, here.values[:, j, :])
        np.testing.assert_array_equal(data["parameter_value"].values, here.parameters)
        np.testing.assert_array_equal(data["time"].values, here.times)
        assert data.attrs["method"] == "euler"
    with pytest.raises(ps.ParameterError, match=r"path: .*ensemble\.zarr already exists"):
        save_ensemble(full_model(), params, path, scheduler=client)


def test_designs_on_the_cluster_reduce_each_member_on_its_worker(client: Any) -> None:
    from pssc_sim.inference.design import Experiment, Request, Statistic

    experiment = Experiment.load(UNCERTAIN)
    rng = np.random.default_rng(3)
    design = np.column_stack([rng.uniform(2, 10, 900), rng.uniform(0.1, 0.5, 900)])
    requests = [
        Request("infected", Statistic("max")),
        Request("infected", Statistic("series")),
        Request("recovered", Statistic("at", 12.5)),
        Request("infected", Statistic("mean")),
    ]
    names = ["contact_rate", "infectivity"]
    here = experiment.evaluate(names, design, requests)
    there = experiment.on(client).evaluate(names, design, requests)
    assert [a.shape for a in there] == [a.shape for a in here]
    for a, b in zip(there, here, strict=True):
        np.testing.assert_array_equal(a, b)


# -- the memory plan ---------------------------------------------------------------------------


def test_a_cluster_run_works_on_the_chunk_one_process_would(client: Any) -> None:
    # a limit that makes rk45's chunk smaller than the ensemble: the workers keep that chunk,
    # over which the adaptive step control runs, so the values are those of one process
    model = full_model()
    params = {"infectivity": np.linspace(0.1, 0.5, 2000)}
    limit = 55 * 2**20
    planned = plan_run(compiled_for(model, None), make_grid(model, None), "rk45", 2000, 4096, limit)
    assert planned.chunk < 2000
    assert not planned.on_disk
    here = ps.simulate(model, params, method="rk45", max_memory=limit)
    there = ps.simulate(model, params, method="rk45", max_memory=limit, scheduler=client)
    np.testing.assert_array_equal(there.values, here.values)


@pytest.mark.parametrize("call", ["simulate", "summarise", "save_ensemble"])
def test_cluster_runs_over_the_memory_limit_are_refused_before_any_connection(
    call: str, tmp_path: Path
) -> None:
    # the address answers nobody: the refusal comes from the plan, before a connection
    params = {"infectivity": np.linspace(0.1, 0.5, 1000)}
    run = {
        "simulate": lambda **kw: ps.simulate(full_model(), params, **kw),
        "summarise": lambda **kw: summarise(full_model(), params, **kw),
        "save_ensemble": lambda **kw: save_ensemble(
            full_model(), params, tmp_path / "e.zarr", **kw
        ),
    }[call]
    with pytest.raises(
        ps.ParameterError,
        match=r"run: the run would need .* over the memory "
        r"limit of 1 MiB",
    ):
        run(scheduler=DEAD_ADDRESS, max_memory=2**20)
    assert not (tmp_path / "e.zarr").exists()


def test_members_kept_on_the_workers_need_memory_for_a_block_not_the_ensemble() -> None:
    model = full_model()
    compiled, grid = compiled_for(model, None), make_grid(model, None)
    limit = 64 * 2**20
    with pytest.raises(ResourceLimitError, match="over the memory limit of 64 MiB"):
        plan_run(compiled, grid, "euler", 100_000, 4096, limit)
    block = plan_blocks(compiled, grid, "euler", 100_000, 4096, limit)
    assert 1 <= block <= 4096
    assert plan_run(compiled, grid, "euler", block, block, limit).chunk == block  # a block fits
    # what this process keeps still counts: every member's parameters
    with pytest.raises(
        ResourceLimitError,
        match=r"run: the run would need .* for "
        r"10,000,000 members",
    ):
        plan_blocks(compiled, grid, "euler", 10**7, 4096, limit)


def test_a_summary_under_a_memory_limit_equals_the_full_table(client: Any) -> None:
    params = {"infectivity": np.linspace(0.1, 0.5, 3000)}
    outputs = ["infected"]
    full = ps.simulate(full_model(), params, outputs=outputs)
    summary = summarise(
        full_model(),
        params,
        scheduler=client,
        outputs=outputs,
        quantiles=[0.1, 0.9],
        max_memory=48 * 2**20,
    )
    table = ensemble_table(full, [0.1, 0.9])
    np.testing.assert_array_equal(summary.quantiles[0].reshape(-1), table["p10"].to_numpy())
    np.testing.assert_array_equal(summary.mean.reshape(-1), table["mean"].to_numpy())


def test_a_summary_refuses_an_ensemble_file_it_cannot_write(tmp_path: Path) -> None:
    with pytest.raises(ps.ParameterError, match=r"ensemble: cannot write the file \(.*\) \(got '"):
        summarise(full_model(), scheduler=2, ensemble=tmp_path / "no" / "such.nc")


def test_a_sampled_summary_takes_one_round_of_counts_after_the_blocks_sketches(
    client: Any,
) -> None:
    # members drawn at random, as an uncertainty ensemble's are: each block's sketch bounds every
    # order statistic closely enough that one round of counts leaves few members to bring
    # together, whatever the order the blocks finish in
    rng = np.random.default_rng(5)
    params = {
        "infectivity": rng.uniform(0.1, 0.5, 40_000),
        "contact_rate": rng.uniform(2, 9, 40_000),
    }
    outputs, time = ["infected", "recovered"], {"save_every": 1.0}
    full = ps.simulate(full_model(), params, outputs=outputs, time=time)
    summary = summarise(full_model(), params, scheduler=client, outputs=outputs, time=time)
    table = ensemble_table(full, [0.05, 0.25, 0.5, 0.75, 0.95])
    assert summary.rounds == 2  # one round of counts, one that brings members together
    for i, label in enumerate(("p5", "p25", "p50", "p75", "p95")):
        np.testing.assert_array_equal(summary.quantiles[i].reshape(-1), table[label].to_numpy())
    np.testing.assert_array_equal(summary.mean.reshape(-1), table["mean"].to_numpy())


# -- members made on the workers ---------------------------------------------------------------


def test_members_filled_on_the_workers_are_the_columns_of_the_full_matrix() -> None:
    compiled = compiled_for(full_model(), None)
    values, members = parameter_overrides(
        compiled,
        {
            "infectivity": np.linspace(0.1, 0.5, 1000),
            "contact_rate": np.geomspace(2, 9, 1000),
            "duration": 2.5,
        },
    )
    full = fill_parameters(compiled, values, members)
    given = Overrides(values, members)
    for start, stop in blocks(members, 300):
        block = pickle.loads(pickle.dumps(given.block(start, stop)))  # as a task carries it
        np.testing.assert_array_equal(block(compiled), full[:, start:stop])


def test_a_summary_leaves_the_parameter_matrix_to_the_workers(client: Any) -> None:
    # the client holds the given values (one array here), their blocks on the way out and
    # small arrays of times x outputs; the parameters x members matrix one process builds (and
    # this process built before the workers filled in their rows) is never made here
    import tracemalloc

    members = 200_000
    params = {"infectivity": np.linspace(0.1, 0.5, members)}
    model = full_model()
    matrix = 8 * len(compiled_for(model, None).parameter_names) * members
    summarise(
        model, {"infectivity": params["infectivity"][:1000]}, scheduler=client, outputs=["infected"]
    )  # the workers compile first
    tracemalloc.start()
    try:
        summary = summarise(
            model, params, scheduler=client, outputs=["infected"], time={"save_every": 1.0}
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert summary.members == members
    assert peak < matrix


# -- the scorecard reduced on the cluster ------------------------------------------------------

# A queue served up to its capacity; the reported wait is flattered; the backlog's measure has
# a spread, so that a threshold-share target reads its hidden shares.
QUEUE = """\
model: queue
time: {start: 0, stop: 12, dt: 0.5, units: week}
parameters:
  arrivals: {value: 10, range: [6, 14]}
  capacity: {value: 10, range: [7, 13]}
  spread: 3
stocks:
  backlog: 20
flows:
  arriving: {to: backlog, rate: arrivals}
  served: {from: backlog, rate: "MIN(capacity, backlog)"}
auxiliaries:
  wait: backlog / capacity
  reported_wait: wait * 0.9
measures:
  wait: {perspective: outcome, better: lower, reported: reported_wait}
  served: {perspective: process, better: higher}
  backlog: {perspective: outcome, better: lower, distribution: {kind: normal, sd: spread}}
"""

QUEUE_TARGETS = [
    {"measure": "wait", "value": 2.0, "by": 5.25},  # between saved times
    {"measure": "served", "kind": "count", "value": 95, "per": 10, "by": 8},
    {"measure": "backlog", "kind": "threshold share", "threshold": 25, "value": 0.6, "by": 6},
]


def queue_scenario(tmp_path: Path, members: int, **kwargs: Any) -> ps.Scenario:
    folder = tmp_path / "queue"
    folder.mkdir(exist_ok=True)
    (folder / "model.yaml").write_text(QUEUE)
    return ps.Scenario(
        model=folder,
        name="queue",
        uncertainty={"members": members, "seed": 11},
        **kwargs,
    )


@pytest.mark.parametrize("members", [700, 701])
def test_scorecard_on_the_cluster_equals_the_one_process_scorecard(
    client: Any, tmp_path: Path, members: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # several blocks a run (chunk 64: blocks of 256 members), and ranges narrowed in rounds;
    # an even and an odd number of members (numpy's median of the two middle members, or one)
    from pssc_sim.scorecard.scoring import scorecard_on_cluster

    monkeypatch.setattr(orderstats, "ROUND_COUNTS", 64)
    monkeypatch.setattr(orderstats, "GATHERED", 1)
    scenario = queue_scenario(tmp_path, members, targets=QUEUE_TARGETS)
    here = scenario.run().scorecard()
    there = scorecard_on_cluster(scenario, scheduler=client, chunk=64)
    assert there.to_dict() == here.to_dict()
    assert there.to_text() == here.to_text()
    probabilities = [row.probability for row in here.rows if row.target is not None]
    assert len(probabilities) == 3
    assert any(p is not None and 0 < p < 1 for p in probabilities)  # members disagree
    assert here.reference == "queue without targets"
    # against another scenario, a single run with more capacity: the ensemble's backlog and
    # wait end worse
    single = ps.Scenario(model=scenario.model, name="more capacity", set={"capacity": 13})
    there = scorecard_on_cluster(scenario, single, scheduler=client, chunk=64)
    here = scenario.run().scorecard(single.run())
    assert there == here
    assert {c.measure for c in here.consequences} >= {"backlog", "wait"}


def test_member_scores_read_what_numpy_interp_reads() -> None:
    from pssc_sim.scorecard.scoring import interpolate_members

    rng = np.random.default_rng(4)
    times = np.array([0.0, 0.5, 1.25, 2.0, 3.0])
    column = rng.normal(size=(5, 200)) * 10.0 ** rng.integers(-3, 4, size=(5, 200))
    column[2, :3] = [np.inf, -np.inf, np.inf]
    column[3, :3] = [np.inf, np.inf, np.inf]
    column[1, 5] = np.nan
    for t in (-1.0, 0.0, 0.3, 0.5, 1.0, 1.6, 2.0, 2.9999, 3.0, 4.0):
        expected = np.array([np.interp(t, times, column[:, i]) for i in range(200)])
        np.testing.assert_array_equal(interpolate_members(t, times, column), expected)
    np.testing.assert_array_equal(interpolate_members(7.0, times[:1], column[:1]), column[0])


def test_cli_scorecard_on_the_cluster_prints_the_one_process_scorecard(
    client: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    queue_scenario(tmp_path, 1)  # writes the model
    path = tmp_path / "queue.yaml"
    document = {
        "scenario": "queue",
        "model": "./queue",
        "targets": QUEUE_TARGETS,
        "uncertainty": {"members": 300, "seed": 11},
    }
    path.write_text(yaml.safe_dump(document))
    assert main(["scorecard", str(path), "--json"]) == 0
    here = capsys.readouterr().out
    address = client.scheduler.address
    assert main(["scorecard", str(path), "--json", "--scheduler", address]) == 0
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == (here, "")
    assert json.loads(here)["members"] == 300


# -- comparisons reduced on the cluster -------------------------------------------------------


@pytest.mark.parametrize("members", [700, 701])
def test_comparison_on_the_cluster_equals_the_one_process_comparison(
    client: Any, tmp_path: Path, members: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # an ensemble against a single run and a second ensemble, at a time between saved times
    # (5.3), a saved time (8) and the end; an even and an odd number of members (numpy's
    # median of the two middle members, or one); ranges narrowed in rounds
    from pssc_sim.scenario.compare import ReducedEnsemble, compare_on_cluster

    monkeypatch.setattr(orderstats, "ROUND_COUNTS", 64)
    monkeypatch.setattr(orderstats, "GATHERED", 1)
    base = queue_scenario(tmp_path, members)
    single = ps.Scenario(model=base.model, name="more capacity", set={"capacity": 13})
    wider = base.with_uncertainty(members=members + 1, seed=5).with_name("wider")
    scenarios = (base, single, wider)
    here = ps.compare(*scenarios, at=[5.3, 8])
    there = compare_on_cluster(*scenarios, scheduler=client, at=[5.3, 8])
    kinds = [type(run) for run in there.runs]
    assert kinds == [ReducedEnsemble, ps.ScenarioResult, ReducedEnsemble]
    assert there.times == here.times == (5.3, 8.0, 12.0)
    assert there.variables == here.variables
    expected, table = here.table(), there.table()
    assert list(table.columns) == list(expected.columns)
    for column in table.columns:  # to the last bit (NaN where a reference value is 0)
        np.testing.assert_array_equal(table[column].to_numpy(), expected[column].to_numpy())
    assert there.summary() == here.summary()
    spread = table[table["scenario"] == "queue"]
    assert (spread["p5"] < spread["p95"]).any()  # the members disagree
    with pytest.raises(ScenarioError, match="plotted=True"):
        there.plot()


def test_compared_values_of_blocks_are_those_of_the_whole_ensemble() -> None:
    from pssc_sim.scenario.compare import ComparedValues, interpolated

    rng = np.random.default_rng(2)
    saved = np.array([0.0, 0.5, 1.25, 2.0])
    values = rng.normal(size=(4, 3, 50)) * 10.0 ** rng.integers(-3, 4, size=(4, 3, 50))
    reducer = ComparedValues(("b", "a"), (0.3, 1.25, 2.0), series=True)
    whole = reducer(saved, values, ("a", "b", "c"))
    assert whole.shape == (reducer.rows(4, 3), 50) == (2 * 3 + 4 * 3, 50)
    blocks = [reducer(saved, values[..., a:b], ("a", "b", "c")) for a, b in [(0, 7), (7, 50)]]
    np.testing.assert_array_equal(np.concatenate(blocks, axis=1), whole)
    np.testing.assert_array_equal(whole[:3], interpolated(saved, values[:, 1, :], (0.3, 1.25, 2.0)))
    np.testing.assert_array_equal(whole[6:].reshape(4, 3, 50), values)


def test_saved_layout_is_that_of_the_summarised_run(client: Any, tmp_path: Path) -> None:
    from pssc_sim.scenario.runner import run_summarised, saved_layout

    scenario = queue_scenario(tmp_path, 40, outputs=["wait", "backlog"], time={"stop": 7.25})
    times, names = saved_layout(scenario)
    summary = run_summarised(scenario, scheduler=client).summary
    np.testing.assert_array_equal(times, summary.times)
    assert names == summary.names == ("wait", "backlog")


def test_a_plotted_comparison_brings_back_the_quantiles_over_time_of_the_run(
    client: Any, tmp_path: Path
) -> None:
    from pssc_sim.scenario.compare import ReducedEnsemble, compare_on_cluster
    from pssc_sim.scenario.runner import run_summarised

    scenario = queue_scenario(tmp_path, 90, outputs=["wait", "backlog"])
    there = compare_on_cluster(scenario, scheduler=client, at=[3.7], plotted=True)
    reduced = there.runs[0]
    assert isinstance(reduced, ReducedEnsemble)
    assert reduced.series is not None
    expected = run_summarised(scenario, scheduler=client).summary
    for field in ("times", "levels", "quantiles", "mean", "median"):
        np.testing.assert_array_equal(getattr(reduced.series, field), getattr(expected, field))
    assert (reduced.series.names, reduced.series.members) == (expected.names, 90)
    assert len(there.plot()) == 2


def test_cli_compare_on_the_cluster_prints_and_writes_what_one_process_does(
    client: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the ensemble's members stay on the workers; the single run comes back whole
    import pssc_sim.integrate.cluster as cluster

    here, there = tmp_path / "here", tmp_path / "there"
    args = ["compare", str(UNCERTAIN), str(SIR), "--at", "10.0625", "--outputs", "infected"]
    status, alone, _ = _cli([*args, "--out", str(here)], capsys)
    assert status == 0
    gathered: list[int] = []
    gather = cluster.run_on_cluster

    def counted(*arguments: Any, **kwargs: Any) -> Any:
        gathered.append(1)
        return gather(*arguments, **kwargs)

    monkeypatch.setattr(cluster, "run_on_cluster", counted)
    address = client.scheduler.address
    status, out, _ = _cli([*args, "--out", str(there), "--scheduler", address], capsys)
    assert status == 0
    assert len(gathered) == 1  # the single run
    assert "10.0625" in out
    assert out.replace(str(there), str(here)) == alone
    assert (there / "comparison.csv").read_bytes() == (here / "comparison.csv").read_bytes()
    assert (there / "comparison.png").stat().st_size > 0


# -- the back end on the workers ---------------------------------------------------------------


def test_numba_asked_for_runs_numpy_everywhere_when_a_worker_lacks_it() -> None:
    from pssc_sim.integrate.options import SolverOptions

    class Workers:  # the answer of client.run(numba_version) on two workers, one without numba
        def run(self, function: Callable[[], str | None]) -> dict[str, str | None]:
            return {"tcp://10.0.0.2:1": function(), "tcp://10.0.0.1:1": None}

    compiled = compiled_for(full_model(), None)
    grid = make_grid(compiled.model, None)
    asked = SolverOptions(backend="numba")
    with pytest.warns(PsscSimWarning, match=r"numba is not installed on 1 of 2 workers"):
        job = cluster_module.job_for(Workers(), compiled, b"model", grid, "euler", asked)
    assert job.backend == "numpy"
    numpy_job = cluster_module.job_for(
        Workers(), compiled, b"model", grid, "euler", SolverOptions()
    )
    assert numpy_job.backend == "numpy"  # nothing asked of the workers


def workers_have_a_loop() -> bool:
    """On a worker: whether a kernel it compiled has a numba loop built (the member loop, or
    the block loop that ensembles of many members run on)."""
    return any(
        compiled.has_loop or compiled.has_block_loop
        for compiled in cluster_module._KERNELS.values()
    )


@pytest.mark.slow
def test_a_summary_runs_the_back_end_asked_for_on_the_workers(client: Any) -> None:
    pytest.importorskip("numba")
    model = ps.load_model(ROOT / "models" / "teacup")
    params = {"room_temperature": np.linspace(60.0, 80.0, 300)}
    for backend in ("numpy", "numba"):
        summary = summarise(model, params, scheduler=client, backend=backend, quantiles=[0.5])
        full = ps.simulate(model, params, backend=backend)
        table = ensemble_table(full, [0.5])
        np.testing.assert_array_equal(summary.quantiles[0].reshape(-1), table["p50"].to_numpy())
        assert any(client.run(workers_have_a_loop).values()) == (backend == "numba")


# -- members drawn on the workers --------------------------------------------------------------


@pytest.mark.parametrize("sampling", ["latin-hypercube", "sobol", "random"])
def test_members_drawn_on_the_workers_are_those_one_process_draws(
    client: Any, sampling: str
) -> None:
    from pssc_sim.scenario.runner import design, run_summarised
    from pssc_sim.scenario.sampling import SampledMembers, sample

    scenario = ps.Scenario.load(UNCERTAIN).with_uncertainty(members=700, sampling=sampling)
    here = scenario.run()
    drawn = run_summarised(scenario, scheduler=client, chunk=64)
    assert drawn.samples == {}  # nothing drawn in this process
    table = here.quantiles()
    for i, label in enumerate(("p5", "p25", "p50", "p75", "p95")):
        np.testing.assert_array_equal(
            drawn.summary.quantiles[i].reshape(-1), table[label].to_numpy()
        )
    np.testing.assert_array_equal(drawn.summary.mean.reshape(-1), table["mean"].to_numpy())
    assert (
        drawn.summary_text()
        == run_summarised(scenario, scheduler=client, draw_here=True).summary_text()
    )
    # a block's specification, as a task carries it, draws that block's members
    chosen, kind, count, seed = design(scenario.uncertainty, scenario.load_model())
    spec = SampledMembers(tuple(chosen.items()), kind, count, seed, {})
    whole = sample(chosen, kind, count, seed)
    for start, stop in blocks(count, 256):
        block = pickle.loads(pickle.dumps(spec.block(start, stop)))
        assert block.count == stop - start
        for name, values in block.values().items():
            np.testing.assert_array_equal(values, whole[name][start:stop])


def test_parameters_drawn_jointly_on_the_workers_are_those_one_process_draws(client: Any) -> None:
    from pssc_sim.scenario.runner import run_summarised

    # contact_rate is stepped by the scenario's intervention: the joint block follows its rename
    joint = {
        "parameters": ["contact_rate", "duration"],
        "mean": [6.0, 2.0],
        "covariance": [[4.0, -0.5], [-0.5, 0.25]],
        "low": [2.0, 1.5],
        "high": [10.0, None],
    }
    scenario = (
        ps.Scenario.load(UNCERTAIN)
        .with_uncertainty(None)
        .with_uncertainty(members=300, seed=3, parameters=["infectivity"], joint=[joint])
    )
    here = scenario.run()
    drawn = run_summarised(scenario, scheduler=client, chunk=64)
    table = here.quantiles()
    np.testing.assert_array_equal(drawn.summary.mean.reshape(-1), table["mean"].to_numpy())
    np.testing.assert_array_equal(drawn.summary.quantiles[2].reshape(-1), table["p50"].to_numpy())
    assert set(drawn.sampled) == {"infectivity", "contact_rate", "duration"}
    assert drawn.sampled["duration"][0] >= 1.5
