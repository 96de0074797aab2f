"""The size of a run: estimated before allocating, an upper bound on what is allocated, and the
limits (memory and steps) refused with a message that says what to change."""

from __future__ import annotations

import errno
import math
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pssc_sim as ps
from pssc_sim.errors import ParameterError
from pssc_sim.integrate import budget, storage
from pssc_sim.integrate.budget import ResourceLimitError, format_size, parse_size
from pssc_sim.integrate.fixed import _plan
from pssc_sim.integrate.simulate import compiled_for, make_grid, run_counts
from pssc_sim.output import ensemble_table, results_table
from pssc_sim.results import member_medians, member_quantiles
from pssc_sim.scenario import Scenario

ROOT = Path(__file__).resolve().parent.parent
SIR_PATH = ROOT / "models" / "sir"
SIR = ps.load_model(SIR_PATH)
DISTANCING = ROOT / "scenarios" / "sir" / "uncertain-distancing.yaml"
MiB = 1024**2


# sizes ------------------------------------------------------------------------------------------


@given(st.integers(min_value=1, max_value=2**50))
def test_a_formatted_size_parses_back_within_its_rounding(size: int) -> None:
    text = format_size(size).replace(" ", "")
    assert parse_size(text) == pytest.approx(size, rel=0.05)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("2GiB", 2 * 1024**3),
        ("512 MiB", 512 * MiB),
        ("1.5kib", 1536),
        ("4096", 4096),
        ("1TiB", 1024**4),
        ("10B", 10),
    ],
)
def test_sizes_take_binary_units_and_plain_bytes(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["2GB", "lots", "", "-1GiB", "GiB", "1e400"])
def test_bad_sizes_are_refused_naming_the_option(text: str) -> None:
    with pytest.raises(
        ps.ParameterError,
        match=r"^--max-memory: (expected a size such as 2GiB"
        r"|the size must be at least one byte)",
    ):
        parse_size(text)


def test_the_default_limit_is_at_most_half_the_available_memory() -> None:
    limit = budget.default_memory_limit()
    assert 0 < limit <= budget._available_memory() // 2


def test_the_default_limit_keeps_within_half_the_address_space_left() -> None:
    cap = 3 * 1024**3

    def capped() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    script = (
        "from pssc_sim.integrate import budget; "
        "print(budget.default_memory_limit(), budget._address_space_room())"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        preexec_fn=capped,
        check=True,
        timeout=120,
    )
    limit, room = map(int, done.stdout.split())
    assert 0 < room < cap
    assert limit <= room // 2


def test_the_environment_sets_the_default_limit_of_every_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ps.simulate(SIR)  # a small run needs no limit
    monkeypatch.setenv("PSSC_MAX_MEMORY", "64KiB")
    assert budget.default_memory_limit() == 64 * 1024
    with pytest.raises(ResourceLimitError, match=r"over the memory limit of 64 KiB"):
        ps.simulate(SIR)
    ps.simulate(SIR, max_memory=64 * MiB)  # an explicit limit wins
    monkeypatch.setenv("PSSC_MAX_MEMORY", "plenty")
    with pytest.raises(
        ps.ParameterError,
        match=r"^PSSC_MAX_MEMORY: expected a size such as "
        r"2GiB, 512MiB or a number of bytes \(got "
        r"'plenty'\)",
    ):
        ps.simulate(SIR)


# the estimate is an upper bound -----------------------------------------------------------------

RUNS = [
    ("sir", {"contact_rate": np.linspace(2, 10, 2000)}, "euler", None),
    ("sir", {"contact_rate": np.linspace(2, 10, 2000)}, "rk4", None),
    ("sir", {"contact_rate": np.linspace(2, 10, 200)}, "rk45", None),
    ("sir", {"contact_rate": np.linspace(2, 10, 50)}, "bdf", None),
    ("sir", None, "euler", {"dt": 0.001}),
    # a year of its three: 1460 steps of 0.25 days, each allocating what any other would
    ("health_social_care", None, "euler", {"stop": 365}),
    ("climate", "first parameter x 3000", "euler", None),
]


@pytest.mark.parametrize(
    ("name", "params", "method", "time_block"), RUNS, ids=[f"{r[0]}-{r[2]}" for r in RUNS]
)
def test_the_estimate_bounds_what_a_run_allocates(
    name: str, params: object, method: str, time_block: dict[str, float] | None
) -> None:
    model = ps.load_model(ROOT / "models" / name)
    if isinstance(params, str):
        value = model.parameter_values()[0]
        params = {model.parameter_names[0]: value * np.linspace(0.9, 1.1, int(params.split()[-1]))}
    compiled = compiled_for(model, None)
    ps.simulate(compiled, params, method=method, time=time_block)  # kernels built and cached
    _plan.cache_clear()  # the step schedule is counted: build it again
    members = max([np.size(v) for v in (params or {}).values()] or [1])
    counts = run_counts(compiled, make_grid(model, time_block), method, members)
    estimate = budget.estimate(counts, 4096).total
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        ps.simulate(compiled, params, method=method, time=time_block)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert peak <= estimate < 5 * peak + budget.BASE_BYTES * budget.MARGIN


def test_the_estimate_grows_with_every_dimension_of_the_run() -> None:
    base = budget.Counts(
        members=100,
        n_outputs=5,
        n_parameters=4,
        n_stocks=3,
        n_discrete=0,
        n_rows=50,
        n_steps=400,
        fixed_step=True,
    )
    total = budget.estimate(base, 4096).total
    for change in (
        {"members": 200},
        {"n_outputs": 10},
        {"n_rows": 100},
        {"n_steps": 4000},
        {"n_parameters": 40},
        {"n_sampled": 3},
    ):
        bigger = budget.Counts(**{**{f: getattr(base, f) for f in base.__slots__}, **change})
        assert budget.estimate(bigger, 4096).total > total, change


# refusals ---------------------------------------------------------------------------------------


def test_an_ensemble_over_the_limit_is_refused_before_anything_is_allocated() -> None:
    params = {"contact_rate": np.linspace(2, 10, 10_000)}
    tracemalloc.start()
    try:
        with pytest.raises(
            ResourceLimitError,
            match=r"^run: the run would need \d+(\.\d)? MiB for 10,000 members x "
            r"241 saved times x 8 outputs, over the memory limit of 1 MiB "
            r"\(got 10,000 members, 241 saved times\)\. Run fewer members",
        ):
            ps.simulate(SIR, params, max_memory=MiB)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10 * MiB  # the run would allocate 20 MiB of outputs


@pytest.mark.parametrize(
    ("time_block", "match"),
    [
        (
            {"dt": 1e-9},
            r"^time: the run would take 3e\+10 steps of dt=1e-09 from 0 to 30, more than "
            r"a run can take \(limit 1e\+08; .*\) \(got dt=1e-09, stop=30\)\. Raise dt",
        ),
        ({"stop": 1e300}, r"^time: the run would take 8e\+300 steps"),
        (
            {"dt": 1e-5, "save_every": 1},
            r"^time: the run would need \d+(\.\d)? GiB for 3e\+06 steps, over the memory "
            r"limit of 64 MiB \(got 3e\+06 steps\)\. Raise dt or save fewer times "
            r"\(save_every\)",
        ),
    ],
)
def test_too_many_steps_are_refused_fast(time_block: dict[str, float], match: str) -> None:
    start = time.perf_counter()
    with pytest.raises(ResourceLimitError, match=match):
        ps.simulate(SIR, time=time_block, max_memory=64 * MiB)
    assert time.perf_counter() - start < 5


def test_a_huge_save_grid_of_an_adaptive_method_is_refused() -> None:
    with pytest.raises(
        ResourceLimitError,
        match=r"^run: the run would need .* TiB for 1 member "
        r"x 3e\+11 saved times x 8 outputs",
    ):
        ps.simulate(SIR, method="rk45", time={"save_every": 1e-10})


def test_a_scenario_ensemble_is_refused_before_its_members_are_sampled(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(
        f"scenario: big\nmodel: {SIR_PATH}\nuncertainty:\n  members: 1000000000\n"
        "  seed: 1\n  parameters: {contact_rate: }\n",
        encoding="utf-8",
    )
    start = time.perf_counter()
    with pytest.raises(
        ResourceLimitError,
        match=r"^run: the run would need \d+(\.\d)? TiB for "
        r"1,000,000,000 members",
    ):
        ps.run_scenario(path)
    assert time.perf_counter() - start < 5


# chunks: the same results in less memory --------------------------------------------------------


def test_a_small_limit_runs_the_ensemble_in_smaller_chunks_with_the_same_results() -> None:
    scenario = Scenario.load(DISTANCING)
    whole = scenario.run()
    compiled = compiled_for(whole.model, scenario.outputs)
    counts = run_counts(
        compiled, make_grid(whole.model, dict(scenario.time)), "euler", 1000, n_sampled=5
    )
    kept = budget.estimate(counts, 1).kept * budget.MARGIN
    limit = int(kept + budget.working_bytes(counts, 64) * budget.MARGIN)
    assert budget.fit_chunk(counts, 4096, limit) < 100  # chunking kicks in
    chunked = scenario.run(max_memory=limit)
    np.testing.assert_allclose(chunked.results.values, whole.results.values, rtol=1e-13, atol=0)
    np.testing.assert_allclose(
        ensemble_table(chunked.results).iloc[:, 2:].to_numpy(float),
        ensemble_table(whole.results).iloc[:, 2:].to_numpy(float),
        rtol=1e-13,
        atol=0,
    )
    with pytest.raises(ResourceLimitError, match=r"^run: the run would need"):
        scenario.run(max_memory=budget.BASE_BYTES)


def test_an_ensemble_whose_outputs_exceed_the_limit_keeps_them_on_disk_with_the_same_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(storage.SPILL_ENVIRONMENT, str(tmp_path))
    # 200 of its 1000 members: the limit below is cut from their outputs, so they spill as well
    scenario = Scenario.load(DISTANCING).with_uncertainty(members=200)
    whole = scenario.run()
    compiled = compiled_for(whole.model, scenario.outputs)
    counts = run_counts(
        compiled, make_grid(whole.model, dict(scenario.time)), "euler", 200, n_sampled=5
    )
    size = budget.estimate(counts, 1)
    limit = int(size.kept - size.outputs / 2)  # the outputs alone do not fit
    plan = budget.plan(counts, 4096, limit, disk_free=10 * size.outputs)
    assert plan.on_disk
    assert plan.total <= limit
    spilled = scenario.run(max_memory=limit)
    assert isinstance(spilled.results.values, np.memmap)
    np.testing.assert_array_equal(spilled.results.values, whole.results.values)
    np.testing.assert_array_equal(
        ensemble_table(spilled.results).iloc[:, 2:].to_numpy(float),
        ensemble_table(whole.results).iloc[:, 2:].to_numpy(float),
    )
    assert list(tmp_path.iterdir()) == []  # the file was unlinked as soon as it was mapped
    with pytest.raises(
        ResourceLimitError,
        match=r"^run: the outputs would need .* on disk .*"
        r"set PSSC_SPILL_DIR to a larger disk",
    ):
        budget.plan(counts, 4096, limit, disk_free=size.outputs / 2)


def test_a_full_disk_refuses_outputs_on_disk_before_the_run_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(handle: int, offset: int, length: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "posix_fallocate", full)
    with pytest.raises(
        ParameterError,
        match=r"^PSSC_SPILL_DIR: the outputs of the run need .* "
        r"more than is free in",
    ):
        storage.on_disk(tmp_path)((10, 2, 3))
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(
        ParameterError,
        match=r"^PSSC_SPILL_DIR: cannot keep the outputs of the "
        r"run in .*missing",
    ):
        storage.on_disk(tmp_path / "missing")((1, 1, 1))


@given(st.integers(1, 6), st.integers(1, 4), st.integers(1, 40), st.integers(0, 2**32 - 1))
def test_quantiles_one_variable_at_a_time_equal_numpy_over_the_whole_array(
    n_times: int, n_vars: int, members: int, seed: int
) -> None:
    values = np.random.default_rng(seed).normal(size=(n_times, n_vars, members))
    levels = [0.05, 0.25, 0.5, 0.75, 0.95]
    np.testing.assert_array_equal(
        member_quantiles(values, levels), np.quantile(values, levels, axis=2)
    )
    np.testing.assert_array_equal(member_medians(values), np.median(values, axis=2))


def test_the_results_table_of_an_ensemble_is_unchanged_by_the_per_variable_quantiles() -> None:
    results = ps.simulate(SIR, {"contact_rate": np.linspace(2, 10, 301)})
    table = results_table(results)
    spread = np.quantile(results.values, [0.05, 0.95], axis=2)
    np.testing.assert_array_equal(table["infected.p05"], spread[0, :, 1])
    np.testing.assert_array_equal(table["infected.p95"], spread[1, :, 1])
    np.testing.assert_array_equal(table["infected"], np.median(results.values[:, 1, :], axis=1))


# simulate's arguments ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"rtol": -1}, r"^rtol: must be finite and positive \(got -1\)\. Give e\.g\. rtol=1e-6"),
        ({"rtol": 0.0}, r"^rtol: must be finite and positive \(got 0\.0\)"),
        ({"rtol": math.nan}, r"^rtol: must be finite and positive \(got nan\)"),
        ({"atol": -1e-9}, r"^atol: must be finite and zero or positive \(got -1e-09\)"),
        ({"atol": math.inf}, r"^atol: must be finite and zero or positive \(got inf\)"),
        ({"rtol": "tight"}, r"^rtol: expected a number \(got 'tight'\)\. Give e\.g\. rtol=1e-6"),
        (
            {"params": [1, 2]},
            r"^params: expected a mapping of parameter names to values \(got "
            r"\[1, 2\]\)\. Pass e\.g\.",
        ),
        (
            {"params": {"contact_rate": [[1, 2], [3]]}},
            r"^params\['contact_rate'\]: expected a number or an array of numbers",
        ),
        (
            {"params": {"contact_rate": np.ones((2, 2))}},
            r"^params\['contact_rate'\]: expected a scalar or a 1-D array \(got shape \(2, 2\)\)",
        ),
        ({"params": {3: 1.0}}, r"^params: unknown parameter 3\. Override a parameter"),
        ({"method": "rk5"}, r"^method: unknown method 'rk5'\. Did you mean 'rk45'\? Use one of: "),
        ({"method": None}, r"^method: unknown method None\. Use one of: euler"),
        ({"chunk": 2.5}, r"^chunk: must be at least 1 \(got 2\.5\)"),
        ({"max_memory": 0}, r"^max_memory: expected a number of bytes of at least 1 \(got 0\)"),
        ({"max_memory": "2GiB"}, r"^max_memory: expected a number of bytes .*parse_size\('2GiB'\)"),
        (
            {"time": {"dt": math.nan}},
            r"^time: need start < stop and positive dt and save_every "
            r"\(got start=0\.0, stop=30\.0, dt=nan",
        ),
        ({"time": {"stop": math.inf}}, r"^time: need start < stop .*stop=inf"),
    ],
)
def test_bad_arguments_of_simulate_name_the_argument(
    arguments: dict[str, object], message: str
) -> None:
    with pytest.raises(ps.ParameterError, match=message):
        ps.simulate(SIR, **arguments)  # type: ignore[arg-type]


def test_a_long_bad_value_is_shown_cut_short() -> None:
    with pytest.raises(ps.ParameterError, match=r"^params: expected a mapping .*\.\.\.\)\. ") as e:
        ps.simulate(SIR, list(range(10_000)))  # type: ignore[arg-type]
    assert len(str(e.value)) < 400


DELAYED = """\
time: {stop: 20, dt: 0.5}
parameters: {delay: 1000000000.0}
stocks: {x: 1}
flows: {f: {to: x, rate: 'DELAY_FIXED(x, delay, 0.5)'}}
"""


@pytest.mark.parametrize("members", [1, 3])
def test_a_fixed_delay_longer_than_the_run_keeps_a_pipeline_of_the_run_only(
    make_model, members: int
) -> None:
    model = make_model(DELAYED)
    tracemalloc.start()
    try:
        huge = ps.simulate(model, {"delay": np.full(members, 1e9)})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10 * MiB  # a pipeline of 2e9 slots would take 16 GiB a member
    longer = ps.simulate(model, {"delay": np.full(members, 25.0)})  # just past the stop time
    np.testing.assert_array_equal(huge.values, longer.values)
    assert np.all(huge["f"].to_numpy() == 0.5)  # only ever the initial value
