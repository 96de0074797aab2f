"""Oversized runs: huge ensembles, tiny time steps, far stop times and huge save grids are sized
before anything is allocated and refused at once (exit 2, one line), under a 4 GiB address-space
cap; an ensemble over a small memory limit runs in smaller chunks with the same results."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hostile_cli import CliRun, assert_refused, run_cli

from pssc_sim.integrate import budget
from pssc_sim.integrate.simulate import compiled_for, make_grid, run_counts
from pssc_sim.output import ensemble_table
from pssc_sim.scenario import Scenario

ROOT = Path(__file__).resolve().parent.parent.parent
SIR = ROOT / "models" / "sir"
DISTANCING = ROOT / "scenarios" / "sir" / "uncertain-distancing.yaml"
#: A refusal comes before anything is allocated: this bounds hanging (interpreter start-up and
#: imports included), it is not a benchmark.
REFUSAL_SECONDS = 20.0


def refused(run: CliRun, match: str) -> None:
    assert_refused(run, match=match)
    assert run.seconds < REFUSAL_SECONDS, run.seconds


def scenario_file(folder: Path, members: int, extra: str = "") -> Path:
    path = folder / "big.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        scenario: big
        model: {SIR}
        uncertainty:
          members: {members}
          seed: 1
          parameters: {{contact_rate: , duration: }}
        """)
        + extra,
        encoding="utf-8",
    )
    return path


def test_a_billion_members_are_refused_before_sampling(tmp_path: Path) -> None:
    run = run_cli("run", scenario_file(tmp_path, 1_000_000_000), cwd=tmp_path)
    refused(run, "run: the run would need")
    assert "TiB for 1,000,000,000 members x" in run.stderr
    assert "Run fewer members" in run.stderr


def test_ten_million_members_are_refused_at_the_default_limit(tmp_path: Path) -> None:
    # 10^7 members x 241 saved times x 8 outputs is 140 GiB of outputs alone: no chunking can
    # keep the per-member values that exact quantiles need within the default limit
    run = run_cli(
        "run", scenario_file(tmp_path, 10_000_000), "--out", tmp_path / "out", cwd=tmp_path
    )
    refused(run, "run: the run would need")
    assert "GiB for 10,000,000 members" in run.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("--dt", "1e-9"), "time: the run would take 3e+10 steps of dt=1e-09"),
        (("--stop", "1e300"), "time: the run would take 8e+300 steps"),
        (("--dt", "1e-6"), "run: the run would need"),  # a row saved every step: 3e+07 rows
    ],
)
def test_tiny_steps_and_far_stop_times_are_refused(
    tmp_path: Path, args: tuple[str, ...], match: str
) -> None:
    refused(run_cli("run", SIR, *args, cwd=tmp_path), match)


def test_a_model_file_with_a_far_stop_time_is_refused(tmp_path: Path) -> None:
    model = tmp_path / "far.yaml"
    model.write_text(
        "time: {stop: 1.0e+12, dt: 1}\nstocks: {x: 1}\nflows: {f: {from: x, rate: 0.1 * x}}\n",
        encoding="utf-8",
    )
    refused(run_cli("run", model, cwd=tmp_path), "time: the run would take 1e+12 steps")
    refused(run_cli("compare", model, model, cwd=tmp_path), "steps")


def test_a_huge_save_grid_of_an_adaptive_scenario_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "grid.yaml"
    path.write_text(
        f"scenario: grid\nmodel: {SIR}\nmethod: rk45\ntime: {{save_every: 1e-9}}\n",
        encoding="utf-8",
    )
    run = run_cli("run", path, cwd=tmp_path)
    refused(run, "run: the run would need")
    assert "3e+10 saved times" in run.stderr
    assert "save fewer times (save_every)" in run.stderr


@pytest.mark.parametrize("command", ["run", "scorecard"])
def test_a_small_max_memory_refuses_what_the_default_runs(tmp_path: Path, command: str) -> None:
    run = run_cli(command, DISTANCING, "--max-memory", "1MiB", cwd=tmp_path)
    refused(run, "over the memory limit of 1 MiB")


def test_loops_dominance_takes_the_memory_limit(tmp_path: Path) -> None:
    refused(
        run_cli("loops", SIR, "--dominance", "--max-memory", "64KiB", cwd=tmp_path),
        "over the memory limit of 64 KiB",
    )


def test_the_environment_limits_commands_without_the_option(tmp_path: Path) -> None:
    scenario = ROOT / "scenarios" / "waiting_list" / "target-blame.yaml"
    run = run_cli("filter-measures", scenario, cwd=tmp_path, env={"PSSC_MAX_MEMORY": "256KiB"})
    refused(run, "over the memory limit of 256 KiB")


@pytest.mark.parametrize("size", ["2GB", "0"])
def test_a_bad_max_memory_is_refused(tmp_path: Path, size: str) -> None:
    refused(run_cli("run", SIR, "--max-memory", size, cwd=tmp_path), "--max-memory: ")


def test_an_ensemble_over_a_small_limit_runs_in_chunks_with_the_same_outputs(
    tmp_path: Path,
) -> None:
    xarray = pytest.importorskip("xarray")
    scenario = Scenario.load(DISTANCING)
    whole = scenario.run()  # in memory, chunks of the default size
    compiled = compiled_for(whole.model, scenario.outputs)
    counts = run_counts(
        compiled,
        make_grid(whole.model, dict(scenario.time)),
        "euler",
        whole.results.n_members,
        n_sampled=len(whole.samples),
    )
    limit = int(
        budget.MARGIN * (budget.estimate(counts, 1).kept + budget.working_bytes(counts, 50))
    )
    assert budget.fit_chunk(counts, 4096, limit) <= 50 < whole.results.n_members
    run = run_cli(
        "run",
        DISTANCING,
        "--max-memory",
        str(limit),
        "--out",
        tmp_path / "out",
        "--save-ensemble",
        cwd=tmp_path,
    )
    assert (run.returncode, run.stderr) == (0, ""), run.stderr[-2000:]
    table = pd.read_csv(tmp_path / "out" / "results.csv")
    expected = ensemble_table(whole.results)
    assert table.columns.tolist() == expected.columns.tolist()
    np.testing.assert_allclose(
        table.iloc[:, 2:].to_numpy(float), expected.iloc[:, 2:].to_numpy(float), rtol=1e-13, atol=0
    )
    results = whole.results
    reference = xarray.Dataset(
        {
            **{
                name: (("time", "member"), results.values[:, j, :])
                for j, name in enumerate(results.names)
            },
            "parameter_value": (("parameter", "member"), results.parameters),
        },
        coords={
            "time": results.times,
            "member": np.arange(results.n_members),
            "parameter": list(results.parameter_names),
        },
        attrs={
            "model": results.model_name,
            "method": results.method,
            "scenario": whole.name,
            "seed": whole.seed,
        },
    )
    reference.to_netcdf(tmp_path / "reference.nc")
    with (
        xarray.open_dataset(tmp_path / "out" / "ensemble.nc") as written,
        xarray.open_dataset(tmp_path / "reference.nc") as wanted,
    ):
        xarray.testing.assert_allclose(written.load(), wanted.load(), rtol=1e-13, atol=0)
        assert written.attrs == wanted.attrs


@pytest.mark.parametrize(
    "command",
    [
        ["report", str(DISTANCING), "-o", "{out}/report.html"],
        ["filter-measures", str(ROOT / "scenarios" / "waiting_list" / "baseline.yaml")],
        ["sensitivity", str(DISTANCING), "--output", "infected", "--samples", "8"],
        ["calibrate", str(SIR), "--data", str(SIR / "data" / "observed.csv")],
        ["demo", "gaming", "--out", "{out}/demo"],
    ],
)
def test_max_memory_bounds_every_run_of_commands_that_run_many(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pssc_sim.cli import main

    argv = [part.format(out=tmp_path) for part in command]
    assert main([*argv, "--max-memory", "64KiB"]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("pssc:")]
    assert len(lines) == 1
    assert "over the memory limit of 64 KiB" in lines[0], lines[0]
    assert list(tmp_path.iterdir()) == []  # nothing written
    assert budget.configured_limit() is None  # the limit ends with the command
