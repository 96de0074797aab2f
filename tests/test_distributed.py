"""Ensembles on a Dask cluster: two local worker processes on 127.0.0.1 give exactly what one
process gives, for single runs, scenario ensembles, inference designs and the command line."""

from __future__ import annotations

import dataclasses
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import pssc_sim as ps
from pssc_sim.integrate.distributed import (
    SchedulerError,
    blocks,
    connect,
    parse_scheduler,
    worker_kernel,
)

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


@pytest.mark.parametrize(("members", "chunk", "per_block"), [(10, 3, None), (7, 7, 2),
                                                            (1, 4, 9), (100, 8, 30)])
def test_blocks_cover_every_member_once_in_whole_chunks(members: int, chunk: int,
                                                        per_block: int | None) -> None:
    ranges = blocks(members, chunk, per_block)
    covered = np.concatenate([np.arange(start, stop) for start, stop in ranges])
    np.testing.assert_array_equal(covered, np.arange(members))
    assert all((stop - start) % chunk == 0 for start, stop in ranges[:-1])


@pytest.mark.parametrize("method", ["euler", "rk4", "rk45"])
def test_simulate_on_the_cluster_is_bit_identical(client: Any, method: str) -> None:
    infectivity = np.linspace(0.1, 0.5, 300)
    here = ps.simulate(SIR, {"infectivity": infectivity}, method=method, chunk=64)
    there = ps.simulate(SIR, {"infectivity": infectivity}, method=method, chunk=64,
                        scheduler=client)
    np.testing.assert_array_equal(there.values, here.values)
    np.testing.assert_array_equal(there.times, here.times)
    np.testing.assert_array_equal(there.parameters, here.parameters)
    assert there.names == here.names


@pytest.mark.parametrize("method", ["euler", "rk4"])
def test_seeded_scenario_ensemble_is_the_same_on_any_cluster_and_chunking(
        client: Any, method: str) -> None:
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
    ps.simulate(SIR, {"infectivity": np.linspace(0.1, 0.5, 50)}, chunk=5, scheduler=client,
                progress=seen.append)
    assert seen[-1] == 1.0
    assert seen == sorted(seen)
    assert all(0.0 < f <= 1.0 for f in seen)


def test_a_failed_block_raises_the_error_one_process_raises(client: Any,
                                                            make_model: Any) -> None:
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


@pytest.mark.parametrize(("spec", "message"), [
    ("somewhere", r"scheduler: not a scheduler address \(got 'somewhere'\)"),
    (0, r"scheduler: the number of worker processes must be 1 to 1024 \(got 0\)"),
    ("processes:5000", r"must be 1 to 1024 \(got 5000\)"),
    (True, r"scheduler: expected an address or a number of workers \(got True\)"),
    (2.5, r"expected an address, a number of workers or a distributed.Client \(got float\)"),
])
def test_bad_scheduler_specs_are_refused(spec: Any, message: str) -> None:
    with pytest.raises(SchedulerError, match=message):
        parse_scheduler(spec)


def test_an_unreachable_scheduler_is_a_bad_input_error() -> None:
    message = (r"no scheduler answered at tcp://127\.0\.0\.1:9 within 1 s .*Start one with "
               r"'dask scheduler'")
    with pytest.raises(SchedulerError, match=message), connect(DEAD_ADDRESS, timeout=1.0):
        pass
