"""The numba back end: the whole fixed-step loop compiled, agreeing with the numpy back end.

Each model's loop is compiled once (the test run keeps a cache folder of its own, see
``conftest.kernel_cache``); the runs themselves take microseconds.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import pssc_sim as ps
from pssc_sim.cli import main
from pssc_sim.compile import cache
from pssc_sim.compile.loop import generate_loop_source, numba_version
from pssc_sim.conformance import KNOWN_BAD, find_cases
from pssc_sim.errors import ParameterError, PsscSimError, SimulationError
from pssc_sim.integrate import backends
from pssc_sim.integrate.simulate import compiled_for, make_grid
from pssc_sim.scenario.runner import run as run_scenario
from tests.conftest import WriteModel

pytest.importorskip("numba", reason="the fast extra (numba) is not installed")

ROOT = Path(__file__).parents[1]
SUITE = ROOT.parent / "shared" / "test-models"
EXAMPLES = sorted(p.name for p in (ROOT / "models").iterdir() if (p / "model.yaml").is_file())
#: Scenarios that write every construct of the scenario layer into their models: interventions
#: switching at their times, targets, gaming and learning, and an uncertain ensemble (all of them
#: agree; each is a model of its own, compiled once, so a few stand for the rest).
SCENARIOS = (
    "ambulance/eight-minute-uncertain.yaml",
    "ambulance/eight-minute-blame.yaml",
    "sir/staged-reopening.yaml",
    "sir/baseline.yaml",
    "smoking/quit-count-target.yaml",
    "waiting_list/target-learning.yaml",
    "child_obesity/whole-system.yaml",
    "teacup/cold-room.yaml",
    "climate/net-zero-2030-blame.yaml",
)
SUITE_FILES = (
    [c.file.relative_to(SUITE).as_posix() for c in find_cases(SUITE)]
    if (SUITE / "MANIFEST.csv").is_file()
    else []
)
#: A few ulps: the arithmetic is numpy's operation for operation; only elementary functions
#: (exp, sin, ...) and the single run's lookups (numpy's scalar path) may differ in the last bits.
RTOL = 1e-12


def assert_agree(numba: np.ndarray, numpy: np.ndarray, what: str = "") -> None:
    """Equal to :data:`RTOL` of each value, or of its output's largest value where it crosses
    zero (a lookup through zero: a few ulps of its scale)."""
    scale = np.abs(numpy).max(axis=(0, 2), keepdims=True)
    bound = RTOL * np.maximum(np.abs(numpy), scale)
    bad = ~(np.abs(numba - numpy) <= bound)
    assert not bad.any(), f"{what}: {bad.sum()} values differ, at {np.argwhere(bad)[:3].tolist()}"


def both(model: ps.Model, method: str, **options: Any) -> tuple[np.ndarray, np.ndarray]:
    numba = ps.simulate(model, method=method, backend="numba", **options).values
    numpy = ps.simulate(model, method=method, backend="numpy", **options).values
    return numba, numpy


@pytest.mark.slow
@pytest.mark.parametrize("name", SUITE_FILES)
def test_backends_agree_on_the_suite(name: str) -> None:
    if name in KNOWN_BAD:
        pytest.skip(f"known-bad canonical data: {KNOWN_BAD[name]}")
    try:
        model = ps.load_model(SUITE / name)
        ps.simulate(model, backend="numpy")
    except PsscSimError as error:
        pytest.skip(f"the numpy back end refuses it too: {str(error)[:120]}")
    if model.dimensions:
        with pytest.raises(ParameterError, match=r"backend: .*the model has dimensions"):
            ps.simulate(model, backend="numba")
        return
    for method in ("euler", "rk4"):
        numba, numpy = both(model, method)
        assert_agree(numba, numpy, method)


@pytest.mark.parametrize("folder", EXAMPLES)
def test_backends_agree_on_the_examples(folder: str) -> None:
    model = ps.load_model(ROOT / "models" / folder)
    rng = np.random.default_rng(7)
    names = model.parameter_names[:3]
    params = {
        n: v * rng.uniform(0.8, 1.2, 5)
        for n, v in zip(names, model.parameter_values(), strict=False)
    }
    for method in ("euler", "rk4"):
        numba, numpy = both(model, method)
        assert_agree(numba, numpy, method)
    # an ensemble on numpy steps every kernel call from Python: an eighth of the span will do
    span = model.time.stop - model.time.start
    numba, numpy = both(model, "euler", params=params, time={"stop": span / 8 + model.time.start})
    assert_agree(numba, numpy, "ensemble")


@pytest.mark.parametrize("path", SCENARIOS)
def test_backends_agree_on_the_scenarios(path: str) -> None:
    # interventions switch at their times, targets and gaming feed back: every construct the
    # scenario layer writes into a model goes through the loop
    scenario = ps.Scenario.load(ROOT / "scenarios" / path)
    result = run_scenario(scenario, backend="numba")
    numba = result.results
    numpy = run_scenario(scenario, backend="numpy").results
    np.testing.assert_array_equal(numba.parameters, numpy.parameters)
    if not numba.is_ensemble:
        assert_agree(numba.values, numpy.values)
        return
    # numpy's ensemble kernels take exp and log from numpy's own vectorised implementations,
    # its single runs from the C library as compiled code does: members are compared with the
    # numpy back end's single runs to the ulp, the whole ensemble to what ill-conditioned
    # formulas (1 - exp(-x) for small x, differences of shares) make of one ulp
    time, method = dict(scenario.time) or None, scenario.method or "euler"
    for member in (0, numba.n_members // 2, numba.n_members - 1):
        params = dict(zip(numba.parameter_names, numba.parameters[:, member], strict=True))
        alone = ps.simulate(
            result.model,
            params,
            time=time,
            method=method,
            outputs=list(numba.names),
            backend="numpy",
        ).values[:, :, 0]
        assert_agree(numba.values[:, :, member : member + 1], alone[:, :, None])
    np.testing.assert_allclose(numba.values, numpy.values, rtol=1e-6, atol=1e-12)


def test_an_ensemble_is_the_same_whatever_its_chunks() -> None:
    model = ps.load_model(ROOT / "models" / "sir")
    params = {"contact_rate": np.linspace(3.0, 9.0, 23)}
    whole = ps.simulate(model, params, backend="numba").values
    chunked = ps.simulate(model, params, backend="numba", chunk=5).values
    np.testing.assert_array_equal(whole, chunked)


def test_each_member_runs_as_it_would_alone() -> None:
    model = ps.load_model(ROOT / "models" / "sir")
    rates = np.array([3.0, 6.0, 9.0])
    ensemble = ps.simulate(model, {"contact_rate": rates}, backend="numba").values
    for i, rate in enumerate(rates):
        alone = ps.simulate(model, {"contact_rate": rate}, backend="numba").values[:, :, 0]
        np.testing.assert_array_equal(ensemble[:, :, i], alone)


def test_discrete_states_and_clamps_run_in_the_loop(make_model: WriteModel) -> None:
    model = make_model("""
        time: {stop: 12, dt: 0.5}
        parameters: {lag: 2, drain: 3}
        stocks: {x: 1, y: {initial: 2, non_negative: true}}
        flows:
          grow: {to: x, rate: "x * 0.1 + DELAY_FIXED(x, lag, 0.5)"}
          empty: {from: y, rate: "drain"}
        auxiliaries:
          held: "SAMPLE_IF_TRUE(TIME >= 4, x, 0)"
          shocks: "PULSE(3, 2) + STEP(1, 6) + RAMP(0.5, 2, 8)"
    """)
    for method in ("euler", "rk4"):
        numba, numpy = both(model, method)
        assert_agree(numba, numpy)
    results = ps.simulate(model, backend="numba")
    assert (results["y"] >= 0).all()
    assert results["y"].iloc[-1] == 0.0


def test_lookups_of_every_extrapolation(make_model: WriteModel) -> None:
    model = make_model("""
        time: {stop: 10, dt: 0.25}
        stocks: {x: -2}
        flows: {up: {to: x, rate: "1.3"}}
        lookups:
          flat: {points: [[0, 1], [2, 3], [5, -1]]}
          line: {points: [[0, 1], [2, 3], [5, -1]], extrapolation: linear}
          steps: {points: [[0, 1], [2, 3], [5, -1]], extrapolation: discrete}
          one: {points: [[1, 4]]}
        auxiliaries:
          a: "flat(x)"
          b: "line(x)"
          c: "steps(x)"
          d: "one(x)"
    """)
    numba, numpy = both(model, "euler")
    assert_agree(numba, numpy)


def test_a_value_that_is_not_finite_is_reported_as_on_numpy(make_model: WriteModel) -> None:
    model = make_model("""
        time: {stop: 4, dt: 1}
        stocks: {x: 2}
        flows: {out: {from: x, rate: "1"}}
        auxiliaries: {ratio: "1 / x"}
    """)
    with pytest.raises(
        SimulationError,
        match=r"auxiliaries.ratio: the value is not finite "
        r"at time 2",
    ) as numba:
        ps.simulate(model, backend="numba")
    with pytest.raises(SimulationError) as numpy:
        ps.simulate(model, backend="numpy")
    assert str(numba.value) == str(numpy.value)


def test_numba_refuses_what_it_cannot_run(make_model: WriteModel) -> None:
    model = make_model("time: {stop: 2}\nstocks: {x: 1}\nflows: {out: {from: x, rate: x}}\n")
    with pytest.raises(
        ParameterError,
        match=r"backend: the numba back end cannot run this "
        r"\(got backend='numba': it compiles the fixed-step"
        r" methods euler and rk4, not rk45\)",
    ):
        ps.simulate(model, method="rk45", backend="numba")
    with pytest.raises(
        ParameterError,
        match=r"backend: unknown back end 'numbaa'\. Did you "
        r"mean 'numba'\?",
    ):
        ps.simulate(model, backend="numbaa")
    arrayed = make_model(
        "time: {stop: 1}\ndimensions: {g: [a, b]}\nstocks: {x: {dims: [g], initial: 1}}\n",
        name="arrayed.yaml",
    )
    with pytest.raises(ParameterError, match="the model has dimensions"):
        ps.simulate(arrayed, backend="numba")
    assert ps.simulate(arrayed, backend="auto").values.shape[1] == 2  # auto: numpy


def test_auto_takes_the_loop_once_it_is_built(make_model: WriteModel) -> None:
    model = make_model("time: {stop: 2}\nstocks: {x: 1}\nflows: {out: {from: x, rate: x}}\n")
    compiled = compiled_for(model, None)
    grid = make_grid(model, None)
    # a tiny run on numpy costs less than compiling the loop
    assert backends.choose_backend(compiled, grid, True, "euler", 1, "auto") == "numpy"
    ps.simulate(model, backend="numba")
    assert backends.choose_backend(compiled, grid, True, "euler", 1, "auto") == "numba"
    assert backends.choose_backend(compiled, grid, False, "rk45", 1, "auto") == "numpy"
    # a large ensemble runs as fast on numpy's kernels over chunks of members
    assert backends.choose_backend(compiled, grid, True, "euler", 10_000, "auto") == "numpy"
    # a single run estimated to take longer on numpy than compiling the loop takes it
    other = make_model(
        "time: {stop: 2}\nstocks: {z: 1}\nflows: {out: {from: z, rate: z}}\n", name="other.yaml"
    )
    fresh = compiled_for(other, None)
    long = make_grid(other, {"dt": 1e-8})
    assert backends.numpy_seconds(fresh, long, "euler", 1) > backends.COMPILE_SECONDS + 10
    assert backends.choose_backend(fresh, long, True, "euler", 1, "auto") == "numba"


def test_without_numba_everything_runs_on_numpy(
    monkeypatch: pytest.MonkeyPatch, make_model: WriteModel
) -> None:
    model = make_model("time: {stop: 2}\nstocks: {x: 1}\nflows: {out: {from: x, rate: x}}\n")
    expected = ps.simulate(model, backend="numpy").values
    monkeypatch.setitem(sys.modules, "numba", None)  # `import numba` fails, find_spec gives None
    numba_version.cache_clear()
    try:
        assert numba_version() is None
        np.testing.assert_array_equal(ps.simulate(model).values, expected)
        np.testing.assert_array_equal(ps.simulate(model, backend="auto").values, expected)
        with pytest.raises(
            ParameterError,
            match=r"numba is not installed; pip install "
            r"'pssc_sim\[fast\]'",
        ):
            ps.simulate(model, backend="numba")
        assert "numba is not installed" in backends.backend_status()
    finally:
        monkeypatch.undo()
        numba_version.cache_clear()
    assert numba_version() is not None


def test_the_cache_folder_serves_a_second_process(tmp_path: Path) -> None:
    folder = tmp_path / "kernels"
    script = (
        "import pssc_sim as ps, sys; from pssc_sim.integrate.simulate import compiled_for; "
        "m = ps.load_model(sys.argv[1]); r = ps.simulate(m, backend='numba'); "
        "print(compiled_for(m, None).loop_key, r['infected'].iloc[-1])"
    )
    env = {"PSSC_CACHE_DIR": str(folder), "PATH": "/usr/bin:/bin"}
    runs = [
        subprocess.run(
            [sys.executable, "-c", script, str(ROOT / "models" / "sir")],
            capture_output=True,
            text=True,
            env=env,
            check=True,
            timeout=300,
        )
        for _ in range(2)
    ]
    assert runs[0].stdout == runs[1].stdout  # the same key (the source is deterministic)
    key = runs[0].stdout.split()[0]
    stored = folder / f"kernel_{key}.py"
    assert stored.is_file()
    assert list((folder / "__pycache__").glob(f"kernel_{key}.*.nbi"))
    assert len(list(folder.glob("kernel_*.py"))) == 1  # the second run wrote nothing new


def test_cache_clear_removes_only_kernels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PSSC_CACHE_DIR", str(tmp_path))
    model = ps.load_model(ROOT / "models" / "teacup")
    compiled = compiled_for(model, None)
    source = generate_loop_source(model, [])
    path = cache.store(source, "a" * 40)
    assert path is not None
    assert path.read_text() == source
    (tmp_path / "notes.txt").write_text("kept")
    assert main(["cache", "path"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path)
    assert main(["cache", "clear"]) == 0
    assert capsys.readouterr().out.startswith("removed 1 cached file from")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    assert compiled.loop_key  # a key needs nothing generated or stored


def test_the_stored_module_holds_no_text_of_the_model_file(
    make_model: WriteModel, tmp_path: Path
) -> None:
    model = make_model("""
        title: "CANARY title"
        description: "CANARY description __import__('os')"
        time: {stop: 2}
        stocks: {x: {initial: 1, description: "CANARY stock text"}}
        flows: {out: {from: x, rate: x}}
    """)
    ps.simulate(model, backend="numba")
    key = compiled_for(model, None).loop_key
    text = cache.module_path(key).read_text()
    assert "CANARY" not in text
    assert "import" not in text
    assert "'" not in text
    assert '"' not in text


def test_version_and_methods_name_the_back_ends(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    version = capsys.readouterr().out
    assert f"numba {numba_version()}" in version
    assert main(["methods"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == backends.backend_status()


def test_run_takes_a_backend(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(ROOT / "models" / "teacup"), "--backend", "numba"]) == 0
    numba = capsys.readouterr().out
    assert main(["run", str(ROOT / "models" / "teacup"), "--backend", "numpy"]) == 0
    assert capsys.readouterr().out == numba
    assert main(["run", str(ROOT / "models" / "teacup"), "--backend", "numbaa"]) == 2
    assert (
        "pssc: error: pssc run: argument --backend: invalid choice: 'numbaa'"
        in capsys.readouterr().err
    )
    assert (
        main(["run", str(ROOT / "models" / "teacup"), "--method", "rk45", "--backend", "numba"])
        == 2
    )
    assert "backend: the numba back end cannot run this" in capsys.readouterr().err
