"""The compiled loop built ahead of time (an extension module in the cache folder), and a single
run on the compiled loop reporting progress in pieces.

Building a module costs seconds of compiling, so one module (of ``models/sir``) is built once for
the file, in this process (where warnings are errors: numba's pending deprecation of pycc must
not escape), and the tests read it; the background build is checked once, on ``models/teacup``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import pssc_sim as ps
from pssc_sim.cli import command_cache, main
from pssc_sim.compile import aot
from pssc_sim.compile.compiler import CompiledModel
from pssc_sim.compile.loop import RUN_ARGUMENTS, LoopFunction, load_loop
from pssc_sim.errors import ParameterError, SimulationError
from pssc_sim.integrate import backends, budget
from pssc_sim.integrate.fixed import DEFAULT_CHUNK, FixedStepPlan
from pssc_sim.integrate.simulate import compiled_for, make_grid, parameter_array
from pssc_sim.integrate.tableau import EULER, RK4, Tableau
from tests.conftest import WriteModel

pytest.importorskip("numba", reason="the fast extra (numba) is not installed")

ROOT = Path(__file__).parents[1]
SIR = ROOT / "models" / "sir"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A private cache folder holding the module of ``models/sir``, built by ``pssc cache
    build`` in this process."""
    folder = tmp_path_factory.mktemp("ahead")
    folder.chmod(0o700)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PSSC_CACHE_DIR", str(folder))
        assert main(["cache", "build", str(SIR)]) == 0
        yield folder


def sir_key() -> str:
    return compiled_for(ps.load_model(SIR), None).loop_key


def run_child(folder: Path, code: str, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PSSC_CACHE_DIR": str(folder), "PSSC_AOT": "off"}
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=environment,
        check=True,
        timeout=600,
    )


_CHILD = """
import json, sys
import numpy as np
import pssc_sim as ps
from pssc_sim.integrate.simulate import compiled_for
model = ps.load_model(sys.argv[1])
ensemble = {model.parameter_names[0]: model.parameter_values()[0] * np.linspace(0.8, 1.2, 5)}
one = ps.simulate(model, backend="numba").values
many = ps.simulate(model, ensemble, backend="numba").values
np.save(sys.argv[2], np.concatenate([one, many], axis=2))
print(json.dumps({"ahead": compiled_for(model, None).loop.ahead,
                  "numba": "numba" in sys.modules, "llvmlite": "llvmlite" in sys.modules}))
"""


def test_a_later_process_runs_the_built_module_without_numba(built: Path, tmp_path: Path) -> None:
    assert aot.extension_path(sir_key()).is_file()
    values = tmp_path / "values.npy"
    run = run_child(built, _CHILD, str(SIR), str(values))
    assert json.loads(run.stdout) == {"ahead": True, "numba": False, "llvmlite": False}
    model = ps.load_model(SIR)
    ensemble = {model.parameter_names[0]: model.parameter_values()[0] * np.linspace(0.8, 1.2, 5)}
    expected = np.concatenate(
        [
            ps.simulate(model, backend="numpy").values,
            ps.simulate(model, ensemble, backend="numpy").values,
        ],
        axis=2,
    )
    # SIR's arithmetic has no elementary function: the loop gives numpy's bits
    np.testing.assert_array_equal(np.load(values), expected)


def test_cache_build_says_when_the_module_was_there_and_clear_removes_it(
    built: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PSSC_CACHE_DIR", str(built))
    capsys.readouterr()
    assert main(["cache", "build", str(SIR)]) == 0
    assert capsys.readouterr().out.startswith("already built: ")
    copy = built.parent / "ahead-copy"
    shutil.copytree(built, copy)
    monkeypatch.setenv("PSSC_CACHE_DIR", str(copy))
    (copy / "notes.txt").write_text("kept")
    assert main(["cache", "clear"]) == 0
    assert sorted(p.name for p in copy.iterdir()) == ["notes.txt"]


def test_a_module_others_can_write_or_named_for_another_key_is_not_loaded(
    built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = sir_key()
    folder = tmp_path / "cache"
    folder.mkdir(mode=0o700)
    monkeypatch.setenv("PSSC_CACHE_DIR", str(folder))
    original = built / aot.extension_path(key).name
    other = "0" * 40
    shutil.copy2(original, aot.extension_path(other))
    assert aot.load(other) is None  # its initialisation function names the key it was built for
    shutil.copy2(original, aot.extension_path(key))
    aot.extension_path(key).chmod(0o775)
    assert aot.load(key) is None
    aot.extension_path(key).chmod(0o755)
    folder.chmod(0o777)
    assert aot.load(key) is None
    folder.chmod(0o700)
    assert aot.load(key) is not None


def test_cache_build_refuses_a_missing_model_and_a_model_given_to_clear(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(ParameterError, match=r"cache build: no model given \(got nothing\)"):
        command_cache("build")
    with pytest.raises(ParameterError, match=r"cache clear: takes no model \(got '.*sir'\)"):
        command_cache("clear", model=str(SIR))
    with pytest.raises(ParameterError, match=r"cache path: takes no model \(got 'extra'\)"):
        command_cache("path", model="extra")
    assert main(["cache", "build"]) == 2
    assert capsys.readouterr().err.startswith("pssc: error: cache build: no model given")


def test_cache_build_refuses_a_model_the_loop_cannot_run(
    make_model: WriteModel, capsys: pytest.CaptureFixture[str]
) -> None:
    model = make_model("""
        time: {stop: 1}
        dimensions: {g: [a, b]}
        stocks: {x: {dims: [g], initial: 1}}
        auxiliaries: {r: {dims: [g], equation: 'VECTOR_RANK(x, 1)'}}
    """)
    path = model.source
    assert path is not None
    with pytest.raises(ParameterError, match="numba back end cannot run this"):
        command_cache("build", model=str(path))
    assert main(["cache", "build", str(path)]) == 2
    assert "VECTOR RANK" in capsys.readouterr().err


def test_the_signature_is_that_of_the_loops_arguments() -> None:
    model = ps.load_model(ROOT / "models" / "smoking")
    compiled = compiled_for(model, None)
    seen: list[tuple[object, ...]] = []
    space = load_loop(compiled.loop_source(), lambda f: f)

    def record(*arguments: object) -> None:
        seen.append(arguments)
        space["run"](*arguments)

    grid = make_grid(model, {"stop": model.time.start + 2 * model.time.dt})
    p = parameter_array(compiled, None)
    with np.errstate(all="ignore"):
        backends.run_loop(compiled, p, grid, EULER, DEFAULT_CHUNK, function=record)
    (arguments,) = seen
    types = aot.signature(arguments)
    assert types is not None
    returned, _, argument_types = types.partition("(")
    assert returned == "b1"  # whether every saved value is finite
    parts = re.findall(r"(f8|i8|b1)(\[[^\]]*\])?", argument_types)
    assert len(parts) == len(RUN_ARGUMENTS.split(", ")) == len(arguments)
    for (code, axes), value in zip(parts, arguments, strict=True):
        if isinstance(value, np.ndarray):
            assert code == {"float64": "f8", "int64": "i8", "bool": "b1"}[value.dtype.name]
            assert axes.count(":") == value.ndim
        else:
            assert code == ("f8" if isinstance(value, float) else "i8")
            assert not axes


def test_the_first_run_builds_the_module_in_the_background(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "cache"
    folder.mkdir(mode=0o700)
    monkeypatch.setenv("PSSC_CACHE_DIR", str(folder))
    model = ps.load_model(ROOT / "models" / "teacup")
    key = compiled_for(model, None).loop_key
    monkeypatch.setenv("PSSC_AOT", "off")
    ps.simulate(model, backend="numba")
    assert key not in aot._children  # turned off: nothing started
    monkeypatch.delenv("PSSC_AOT")
    aot._tried.discard(key)
    compiled_for.cache_clear()
    model = ps.load_model(ROOT / "models" / "teacup")
    expected = ps.simulate(model, backend="numba").values
    child = aot._children[key]
    assert child.wait(timeout=900) == 0
    assert aot.is_built(key)
    values = tmp_path / "values.npy"
    run = run_child(folder, _CHILD, str(ROOT / "models" / "teacup"), str(values))
    assert json.loads(run.stdout)["ahead"] is True
    np.testing.assert_array_equal(np.load(values)[:, :, :1], expected)


def interpreted(compiled: CompiledModel) -> LoopFunction:
    return load_loop(compiled.loop_source(), lambda f: f)["run"]


@pytest.mark.parametrize("tableau", [EULER, RK4])
def test_a_single_run_in_pieces_gives_the_bits_of_one_call_and_reports_progress(
    tableau: Tableau, make_model: WriteModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = make_model("""
        time: {start: 0, stop: 30, dt: 0.25, save_every: 0.5}
        parameters: {lag: 2, drain: 3}
        stocks: {x: 1, y: {initial: 40, non_negative: true}}
        flows:
          grow: {to: x, rate: "x * 0.01 + DELAY_FIXED(x, lag, 0.5)"}
          empty: {from: y, rate: "drain"}
        auxiliaries:
          held: "SAMPLE_IF_TRUE(TIME >= 4, x, 0)"
    """)
    compiled = compiled_for(model, None)
    grid = make_grid(model, None)
    p = parameter_array(compiled, None)
    function = interpreted(compiled)
    whole = backends.run_loop(compiled, p, grid, tableau, 1, function=function)
    seen: list[float] = []
    monkeypatch.setattr(backends, "FIRST_SEGMENT", 7)
    monkeypatch.setattr(backends, "SEGMENT_SECONDS", 0.0)  # never grows: 7 steps a piece
    monkeypatch.setattr("pssc_sim.integrate.progress.INTERVAL", 0.0)
    pieces = backends.run_loop(compiled, p, grid, tableau, 1, seen.append, function=function)
    np.testing.assert_array_equal(pieces, whole)
    assert len(seen) == -(-120 // 7)  # a report after each of the 18 pieces, the last 1.0
    assert seen == sorted(seen)
    assert seen[-1] == 1.0
    assert seen[0] < 0.1


def test_a_compiled_single_run_reports_progress_with_the_same_bits(
    make_model: WriteModel,
) -> None:
    model = make_model("""
        time: {start: 0, stop: 400, dt: 0.01}
        stocks: {level: 1}
        flows: {growth: {to: level, rate: "level * (1 - level / 100) * 0.05"}}
    """)
    plain = ps.simulate(model, backend="numba").values
    seen: list[float] = []
    values = ps.simulate(model, backend="numba", progress=seen.append).values
    np.testing.assert_array_equal(values, plain)
    assert seen[-1] == 1.0


def sir_arguments(compiled: CompiledModel, p: np.ndarray) -> tuple[object, ...]:
    """The arguments of a whole run of ``models/sir`` on its own grid with parameters ``p``."""
    grid = make_grid(compiled.model, None)
    plan = FixedStepPlan.build(grid)
    head = backends.loop_head(compiled, grid, plan, p)
    out = np.empty((plan.n_rows, len(compiled.outputs), p.shape[1]))
    return (*head, *backends.tableau_arrays(EULER), out, 0, 0, len(plan.steps), 0)


def test_the_built_loop_says_whether_every_saved_value_is_finite(
    built: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PSSC_CACHE_DIR", str(built))
    compiled = compiled_for(ps.load_model(SIR), None)
    run = aot.load(compiled.loop_key)
    assert run is not None
    p = parameter_array(compiled, None)
    assert run(*sir_arguments(compiled, p)) is True
    p[compiled.parameter_names.index("duration")] = np.nan  # the recovery is not a number
    assert run(*sir_arguments(compiled, p)) is False


def test_a_value_that_is_not_finite_is_named_in_one_call_and_in_pieces(
    make_model: WriteModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = make_model("""
        time: {stop: 6, dt: 1}
        stocks: {x: 2}
        flows: {out: {from: x, rate: "1"}}
        auxiliaries: {ratio: "1 / x"}
    """)
    monkeypatch.setattr(backends, "FIRST_SEGMENT", 1)
    monkeypatch.setattr(backends, "SEGMENT_SECONDS", 0.0)  # a piece a step: finite ones after
    monkeypatch.setattr("pssc_sim.integrate.progress.INTERVAL", 0.0)
    seen: list[float] = []
    for progress in (None, seen.append):
        with pytest.raises(SimulationError, match=r"auxiliaries.ratio: the value is not finite "):
            ps.simulate(model, backend="numba", progress=progress)
    assert seen  # the run went in pieces
    values = ps.simulate(model, backend="numba", time={"stop": 1}).values
    assert np.isfinite(values).all()


def test_a_single_run_called_again_gives_new_arrays_and_is_planned_again_under_a_limit(
    make_model: WriteModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = make_model("""
        time: {stop: 10, dt: 0.5}
        parameters: {k: 0.1}
        stocks: {x: 5}
        flows: {out: {from: x, rate: "k * x"}}
    """)
    first = ps.simulate(model, backend="numba")
    again = ps.simulate(model, backend="numba")  # the options checked and planned before
    np.testing.assert_array_equal(again.values, first.values)
    for a, b in ((first.values, again.values), (first.parameters, again.parameters)):
        assert not np.shares_memory(a, b)
    assert ps.simulate(model, {"k": 0.2}, backend="numba")["x"].iloc[-1] < again["x"].iloc[-1]
    with budget.limit_runs(16), pytest.raises(budget.ResourceLimitError):
        ps.simulate(model, backend="numba")
    monkeypatch.setenv(budget.ENVIRONMENT, "16")
    with pytest.raises(budget.ResourceLimitError):
        ps.simulate(model, backend="numba")


def test_auto_takes_the_built_module_where_loading_it_pays(
    built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = ps.load_model(SIR)
    compiled = compiled_for(model, None)
    long = make_grid(model, {"dt": model.time.dt / 256})
    cost = backends.numpy_seconds(compiled, long, EULER, 1)
    assert backends.AHEAD_LOAD_SECONDS < cost < backends.LOAD_SECONDS
    monkeypatch.setenv("PSSC_CACHE_DIR", str(built))
    assert backends.choose_backend(compiled, long, EULER, "euler", 1, "auto") == "numba"
    short = make_grid(model, {"stop": model.time.start + model.time.dt})
    assert backends.choose_backend(compiled, short, EULER, "euler", 1, "auto") == "numpy"
    monkeypatch.setenv("PSSC_CACHE_DIR", str(tmp_path))  # nothing built: compiling does not pay
    assert backends.choose_backend(compiled, long, EULER, "euler", 1, "auto") == "numpy"
