"""The numba back end: the whole fixed-step loop compiled, agreeing with the numpy back end.

Compiling a model's loop costs seconds, running it microseconds, so the checks are split in two:

- a representative handful of models, one for each kind of construct (plain stocks and flows,
  stateful builtins, DELAY_FIXED pipelines and SAMPLE_IF_TRUE memories, non-negative clamps,
  lookups of every extrapolation, elementary functions, logic, interventions, targets and gaming),
  is compiled by numba, once per test run (the run's own cache folder, shared by every test:
  ``conftest.kernel_cache``), and each compiled loop is checked on several methods and on an
  ensemble;
- every model of the suite, every example and the scenarios run the same generated loop on the
  Python interpreter (:func:`~pssc_sim.compile.loop.load_loop` with no compiler): the generated
  arithmetic checked against numpy at no compile cost. Where Python's arithmetic raises (a float
  division by zero, which compiled code turns into inf as numpy does), the model is compiled.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sympy

import pssc_sim as ps
from pssc_sim.cli import main
from pssc_sim.cli.scenario import BACKEND_NAMES
from pssc_sim.compile import cache
from pssc_sim.compile.compiler import CompiledModel
from pssc_sim.compile.loop import (
    LoopFunction,
    generate_loop_source,
    load_loop,
    numba_version,
)
from pssc_sim.conformance import KNOWN_BAD, find_cases
from pssc_sim.errors import ParameterError, PsscSimError, SimulationError
from pssc_sim.integrate import backends, budget, storage
from pssc_sim.integrate.budget import ResourceLimitError
from pssc_sim.integrate.cluster import Job, kernel_key, model_document, run_block
from pssc_sim.integrate.fixed import DEFAULT_CHUNK, run_fixed_step
from pssc_sim.integrate.methods import METHODS
from pssc_sim.integrate.simulate import compiled_for, make_grid, parameter_array, run_counts
from pssc_sim.integrate.tableau import EULER, RK4, Tableau
from pssc_sim.ir.functions import LookupSlope
from pssc_sim.scenario.runner import run as run_scenario
from tests.conftest import WriteModel

pytest.importorskip("numba", reason="the fast extra (numba) is not installed")

ROOT = Path(__file__).parents[1]
SUITE = ROOT.parent / "shared" / "test-models"
EXAMPLES = sorted(p.name for p in (ROOT / "models").iterdir() if (p / "model.yaml").is_file())
#: Scenarios that write every construct of the scenario layer into their models: interventions
#: switching at their times, targets, gaming and learning, and uncertain ensembles.
SCENARIOS = (
    "ambulance/eight-minute-blame.yaml",
    "teacup/uncertain-cooling.yaml",
    "sir/uncertain-distancing.yaml",
    "sir/staged-reopening.yaml",
    "sir/baseline.yaml",
    "smoking/quit-count-target.yaml",
    "waiting_list/target-learning.yaml",
    "waiting_list/target-blame.yaml",
    "child_obesity/whole-system.yaml",
    "teacup/cold-room.yaml",
    "climate/net-zero-2030-blame.yaml",
)
#: Of those, the ones compiled: interventions (set, ramp, pulse) on SIR; a target, gaming in a
#: blame culture and its hidden structure on the waiting list.
COMPILED_SCENARIOS = ("sir/staged-reopening.yaml", "waiting_list/target-blame.yaml")
SUITE_FILES = (
    [c.file.relative_to(SUITE).as_posix() for c in find_cases(SUITE)]
    if (SUITE / "MANIFEST.csv").is_file()
    else []
)
#: The models compiled, one for each kind of construct; ``suite:`` names a model of the suite.
COMPILED_MODELS = (
    "models/sir",  # stocks and flows, parameters, the example the benchmarks time
    "suite:tests/delays/test_delays.mdl",  # DELAY1, DELAY3, DELAY N: hidden stocks
    "suite:tests/delay_fixed/test_delay_fixed.mdl",  # DELAY FIXED pipelines
    "suite:tests/trig/test_trig.mdl",  # elementary functions, a division by zero
    "suite:tests/logicals/test_logicals.mdl",  # IF THEN ELSE, AND, OR, NOT, comparisons
    # dimensions: SUM, PROD, VMIN, VMAX over views, subranges and transposed axes
    "suite:tests/subscript_aggregation/test_subscript_aggregation.mdl",
    "suite:tests/subscripted_lookups/test_subscripted_lookups.mdl",  # arrayed lookups, pieces
)
#: A few ulps: the arithmetic is numpy's operation for operation; only elementary functions
#: (exp, sin, ...) and the single run's lookups (numpy's scalar path) may differ in the last bits.
RTOL = 1e-12
F = Fraction
#: Kutta's 3/8 rule, order 4: stages that add several earlier ones (RK4's add one each).
THREE_EIGHTHS = Tableau(
    a=((), (F(1, 3),), (F(-1, 3), F(1)), (F(1), F(-1), F(1))),
    b=(F(1, 8), F(3, 8), F(3, 8), F(1, 8)),
    order=4,
)
#: Ralston's method, order 2: a weight of zero and weights that differ.
RALSTON = Tableau(a=((), (F(2, 3),)), b=(F(1, 4), F(3, 4)), order=2)
TABLEAUX = (EULER, RK4, THREE_EIGHTHS, RALSTON)


def assert_agree(numba: np.ndarray, numpy: np.ndarray, what: str = "") -> None:
    """Equal to :data:`RTOL` of each value, or of its output's largest value where it crosses
    zero (a lookup through zero: a few ulps of its scale)."""
    assert numba.shape == numpy.shape, what
    if numpy.size == 0:
        return
    scale = np.abs(numpy).max(axis=(0, 2), keepdims=True)
    bound = RTOL * np.maximum(np.abs(numpy), scale)
    bad = ~(np.abs(numba - numpy) <= bound)
    assert not bad.any(), f"{what}: {bad.sum()} values differ, at {np.argwhere(bad)[:3].tolist()}"


def both(model: ps.Model, method: str, **options: Any) -> tuple[np.ndarray, np.ndarray]:
    numba = ps.simulate(model, method=method, backend="numba", **options).values
    numpy = ps.simulate(model, method=method, backend="numpy", **options).values
    return numba, numpy


def uncompiled(function: LoopFunction) -> LoopFunction:
    return function


def interpreted(compiled: CompiledModel) -> LoopFunction:
    """The model's generated loop on the Python interpreter."""
    assert compiled.write_loop is not None
    return load_loop(compiled.write_loop(), uncompiled)["run"]


def check_loop(
    compiled: CompiledModel,
    p: np.ndarray,
    time: Mapping[str, float] | None,
    what: str,
    tableaux: tuple[Tableau, ...] = (EULER, RK4),
) -> None:
    """The generated loop agrees with the numpy back end on the members ``p``: interpreted, or
    compiled where Python's arithmetic raises."""
    grid = make_grid(compiled.model, time)
    function: LoopFunction | None = interpreted(compiled)
    for tableau in tableaux:
        numpy = run_fixed_step(compiled, p, grid, tableau)
        try:
            # numpy's scalars give inf and NaN as compiled code does, Python's floats raise
            with np.errstate(all="ignore"):
                loop = backends.run_loop(
                    compiled, p, grid, tableau, DEFAULT_CHUNK, function=function
                )
        except (ArithmeticError, ValueError) as error:
            if isinstance(error, PsscSimError):
                raise
            function = None  # Python raises where compiled code gives inf or NaN: compile it
            loop = backends.run_loop(compiled, p, grid, tableau, DEFAULT_CHUNK)
        assert_agree(loop, numpy, f"{what}, order {tableau.order}, {tableau.stages} stages")


def spread(model: ps.Model, members: int) -> dict[str, np.ndarray]:
    """The first three parameters of ``model`` spread by +-20 % over ``members`` members."""
    rng = np.random.default_rng(7)
    return {
        name: value * rng.uniform(0.8, 1.2, members)
        for name, value in zip(model.parameter_names[:3], model.parameter_values(), strict=False)
    }


def load(name: str) -> ps.Model:
    if name.startswith("suite:"):
        if not SUITE_FILES:
            pytest.skip("the test-model suite is not here")
        return ps.load_model(SUITE / name.removeprefix("suite:"))
    return ps.load_model(ROOT / name)


@pytest.fixture(scope="module")
def sir() -> ps.Model:
    """The SIR example, loaded once: its loop compiles once and serves the module's tests."""
    return ps.load_model(ROOT / "models" / "sir")


# -- compiled: one model of each kind --------------------------------------------------------


@pytest.mark.parametrize("name", COMPILED_MODELS)
def test_the_compiled_loop_agrees_on_a_model_of_each_kind(name: str) -> None:
    model = load(name)
    for method in (m for m, v in METHODS.items() if v.fixed_step):
        numba, numpy = both(model, method)
        assert_agree(numba, numpy, method)
    # the same compiled loop runs any explicit tableau, and ensembles
    compiled = compiled_for(model, None)
    assert compiled.has_loop
    p = parameter_array(compiled, spread(model, 4))
    grid = make_grid(model, None)
    for tableau in TABLEAUX:
        loop = backends.run_loop(compiled, p, grid, tableau, 3)
        assert_agree(loop, run_fixed_step(compiled, p, grid, tableau), f"{tableau}")


@pytest.mark.parametrize("path", COMPILED_SCENARIOS)
def test_the_compiled_loop_agrees_on_scenarios(path: str) -> None:
    scenario = ps.Scenario.load(ROOT / "scenarios" / path)
    numba = run_scenario(scenario, backend="numba").results
    numpy = run_scenario(scenario, backend="numpy").results
    np.testing.assert_array_equal(numba.parameters, numpy.parameters)
    assert_agree(numba.values, numpy.values)


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
    # pipelines of different lengths in one call: each member keeps its own
    numba, numpy = both(model, "rk4", params={"lag": [0.5, 2.0, 3.5], "drain": [0.1, 3, 9]})
    assert_agree(numba, numpy, "ensemble")
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


#: A model with dimensions using each construct the compiled loop writes element by element:
#: aggregations, subranges, mappings, per-element pieces and exceptions, one element picked,
#: stateful builtins, DELAY_FIXED and SAMPLE_IF_TRUE over arrays, an arrayed lookup and a
#: non-negative arrayed stock.
ARRAYED = """
time: {stop: 10, dt: 0.25}
dimensions:
  age: [young, adult, old]
  group: [A, B]
  kids: {subrange_of: age, elements: [young, adult]}
  region: [north, south]
  area: {elements: [n, s], maps_to: region}
parameters:
  mortality: {dims: [age], value: [0.01, 0.002, 0.05]}
  weight: {dims: [group], value: [1, 2]}
  k: 0.5
  lag: 1.5
  funding: {dims: [region], value: [10, 20]}
lookups:
  effect: {points: [[0, 0.5], [100, 1], [400, 2]]}
stocks:
  population: {dims: [age, group], initial: 100 * weight}
  budget: {dims: [area], initial: 30, non_negative: true}
flows:
  deaths: {from: population, rate: population * mortality * effect(population)}
  births:
    to: population
    rate: {"young, group": "k * SUM(population[kids!, group]) / 10", "adult, group": 0,
           "old, group": 0}
  spending: {from: budget, rate: area_funding}
auxiliaries:
  total: SUM(population[age!, group!])
  product: PROD(weight[group!])
  smallest: VMIN(population[age!, group!])
  largest: VMAX(population[age!, group!])
  by_group: {dims: [group], equation: "SUM(population[age!, group])"}
  share: {dims: [age, group], equation: population / by_group}
  old_a: population[old, A]
  tweak: {dims: [age], equation: mortality * 2, except: {"old": 1}}
  area_funding: {dims: [area], equation: "funding[region] / 4"}
  late: {dims: [group], equation: "DELAY_FIXED(by_group, lag, 0)"}
  held: {dims: [group], equation: "SAMPLE_IF_TRUE(TIME >= 4, population[young, group], 0)"}
  smoothed: {dims: [age], equation: "SMOOTH(tweak * TIME, 2)"}
"""


def test_the_compiled_loop_runs_a_model_with_dimensions(make_model: WriteModel) -> None:
    model = make_model(ARRAYED)
    for method in ("euler", "rk4"):
        numba, numpy = both(model, method)
        assert_agree(numba, numpy, method)
    results = ps.simulate(model, backend="numba")
    assert (results["budget[s]"] >= 0).all()
    assert results["budget[s]"].iloc[-1] == 0.0  # emptied, then held at zero by the clamp
    # an ensemble: the same on both back ends, whatever its chunks, each member as alone
    params = {"k": np.linspace(0.1, 0.9, 7), "lag": np.linspace(0.25, 3.0, 7)}
    whole = ps.simulate(model, params, backend="numba").values
    numpy = ps.simulate(model, params, backend="numpy").values
    assert_agree(whole, numpy, "ensemble")
    np.testing.assert_array_equal(
        ps.simulate(model, params, backend="numba", chunk=3).values, whole
    )
    alone = ps.simulate(model, {"k": 0.9, "lag": 3.0}, backend="numba").values
    np.testing.assert_array_equal(alone[:, :, 0], whole[:, :, -1])
    # a single run of an arrayed model on numpy steps the numpy kernels: a call per equation
    compiled = compiled_for(model, None)
    grid = make_grid(model, None)
    steps = round((grid.stop - grid.start) / grid.dt)
    calls = steps * (len(model.flows) + len(model.auxiliaries) + len(model.stocks))
    assert backends.numpy_seconds(compiled, grid, EULER, 1) > calls * backends.CALL_SECONDS
    # auto takes the loop once it is built, for an arrayed model as for any other
    assert compiled.has_loop
    assert backends.choose_backend(compiled, grid, EULER, "euler", 1, "auto") == "numba"


def test_the_slope_of_a_lookup_runs_in_the_loop(make_model: WriteModel) -> None:
    model = make_model("""
        time: {stop: 10, dt: 0.25}
        stocks: {x: -2}
        flows: {up: {to: x, rate: "1.3"}}
        lookups:
          flat: {points: [[0, 1], [2, 3], [5, -1]]}
          line: {points: [[0, 1], [2, 3], [5, -1]], extrapolation: linear}
          steps: {points: [[0, 1], [2, 3], [5, -1]], extrapolation: discrete}
          one: {points: [[1, 4]]}
        auxiliaries: {a: "flat(x)", b: "line(x)", c: "steps(x)", d: "one(x)"}
    """)
    # no equation is written with a slope: it comes from differentiating a lookup's call
    x = sympy.Symbol("x", real=True)
    slopes = tuple(replace(a, equation=sympy.diff(a.equation, x)) for a in model.auxiliaries)
    assert all(a.equation.atoms(LookupSlope) for a in slopes)
    sloped = replace(model, auxiliaries=slopes)
    numba = ps.simulate(sloped, backend="numba")
    np.testing.assert_array_equal(numba.values, ps.simulate(sloped, backend="numpy").values)
    frame = numba.to_frame()
    for lookup, name in zip(model.lookups, "abcd", strict=True):
        np.testing.assert_array_equal(frame[name], lookup.slope(frame["x"].to_numpy()))
    assert set(frame["a"]) == {0.0, 1.0, -4 / 3}  # flat beyond the points


# -- interpreted: every model ------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("name", SUITE_FILES)
def test_the_loop_agrees_on_the_suite(name: str) -> None:
    if name in KNOWN_BAD:
        pytest.skip(f"known-bad canonical data: {KNOWN_BAD[name]}")
    try:
        model = ps.load_model(SUITE / name)
        ps.simulate(model, backend="numpy")
    except PsscSimError as error:
        pytest.skip(f"the numpy back end refuses it too: {str(error)[:120]}")
    compiled = compiled_for(model, None)
    if compiled.loop_refusal:
        # the array operations with no scalar form (VECTOR SORT ORDER, INVERT MATRIX, ...), or
        # more elements than the loop is written for
        refused = r"backend: .*(which runs on arrays only|more than the \d+ the compiled loop)"
        with pytest.raises(ParameterError, match=refused):
            ps.simulate(model, backend="numba")
        return
    check_loop(compiled, parameter_array(compiled, None), None, name, TABLEAUX)


@pytest.mark.parametrize("folder", EXAMPLES)
def test_the_loop_agrees_on_the_examples(folder: str) -> None:
    model = ps.load_model(ROOT / "models" / folder)
    compiled = compiled_for(model, None)
    check_loop(compiled, parameter_array(compiled, None), None, folder, (EULER,))
    # an ensemble on numpy steps every kernel call from Python, and the loop on the interpreter
    # takes its members one by one: three members over a sixteenth of the span (the whole span
    # ran above) take every path of the stages
    span = model.time.stop - model.time.start
    check_loop(
        compiled,
        parameter_array(compiled, spread(model, 3)),
        {"stop": model.time.start + span / 16},
        f"{folder} ensemble",
        (RK4,),
    )


@pytest.mark.parametrize("path", SCENARIOS)
def test_the_loop_agrees_on_the_scenarios(path: str) -> None:
    # interventions switch at their times, targets and gaming feed back: every construct the
    # scenario layer writes into a model goes through the loop
    scenario = ps.Scenario.load(ROOT / "scenarios" / path)
    result = run_scenario(scenario, backend="numpy")
    results = result.results
    compiled = compiled_for(result.model, tuple(results.names))
    # three members stand for an ensemble (the loop treats members one by one)
    members = sorted({0, results.n_members // 2, results.n_members - 1})
    p = np.ascontiguousarray(results.parameters[:, members])
    check_loop(
        compiled,
        p,
        dict(scenario.time) or None,
        path,
        (RK4,) if scenario.method == "rk4" else (EULER,),
    )


# -- the run around the loop -------------------------------------------------------------------


def test_an_ensemble_is_the_same_whatever_its_chunks(sir: ps.Model) -> None:
    params = {"contact_rate": np.linspace(3.0, 9.0, 23)}
    whole = ps.simulate(sir, params, backend="numba").values
    seen: list[float] = []
    chunked = ps.simulate(sir, params, backend="numba", chunk=5, progress=seen.append).values
    np.testing.assert_array_equal(whole, chunked)
    assert seen[-1] == 1.0
    assert seen == sorted(seen)


def test_each_member_runs_as_it_would_alone(sir: ps.Model) -> None:
    rates = np.array([3.0, 6.0, 9.0])
    ensemble = ps.simulate(sir, {"contact_rate": rates}, backend="numba").values
    for i, rate in enumerate(rates):
        alone = ps.simulate(sir, {"contact_rate": rate}, backend="numba").values[:, :, 0]
        np.testing.assert_array_equal(ensemble[:, :, i], alone)


def test_outputs_kept_on_disk_and_the_memory_limit(
    sir: ps.Model, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(storage.SPILL_ENVIRONMENT, str(tmp_path))
    params = {"contact_rate": np.linspace(3.0, 9.0, 400)}
    in_memory = ps.simulate(sir, params, backend="numba").values
    compiled = compiled_for(sir, None)
    counts = run_counts(compiled, make_grid(sir, None), "euler", 400)
    size = budget.estimate(counts, 1)
    limit = int(size.kept - size.outputs / 2)  # the outputs alone do not fit
    spilled = ps.simulate(sir, params, backend="numba", max_memory=limit).values
    assert isinstance(spilled, np.memmap)
    np.testing.assert_array_equal(spilled, in_memory)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ResourceLimitError, match=r"^run: the run would need"):
        ps.simulate(sir, {"contact_rate": np.zeros(10**6)}, backend="numba", max_memory=2**20)


def test_the_workers_of_a_cluster_run_the_back_end_chosen(sir: ps.Model) -> None:
    # what a worker does with a block: the client's back end travels with the job
    compiled = compiled_for(sir, None)
    grid = make_grid(sir, None)
    p = parameter_array(compiled, {"contact_rate": [4.0, 5.0, 6.0]})
    document = model_document(sir)
    job = Job(
        kernel_key(document, compiled.outputs) + "-numba",
        compiled.outputs,
        grid,
        "rk4",
        1e-6,
        1e-9,
        2,
        backend="numba",
    )
    _, values = run_block(job, document, p)
    expected = ps.simulate(
        sir, {"contact_rate": [4.0, 5.0, 6.0]}, method="rk4", backend="numba"
    ).values
    np.testing.assert_array_equal(values, expected)
    # auto keeps numpy on a cluster (every worker would compile); numba asked for goes there
    assert (
        backends.choose_backend(compiled, grid, RK4, "rk4", 3, "auto", distributed=True) == "numpy"
    )
    assert (
        backends.choose_backend(compiled, grid, RK4, "rk4", 3, "numba", distributed=True) == "numba"
    )


def test_a_cluster_run_on_numba_is_the_run_here(sir: ps.Model) -> None:
    pytest.importorskip("distributed")
    params = {"contact_rate": np.linspace(3.0, 9.0, 5)}
    here = ps.simulate(sir, params, backend="numba").values
    there = ps.simulate(sir, params, backend="numba", scheduler=1).values
    np.testing.assert_array_equal(there, here)


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


# -- choosing a back end -----------------------------------------------------------------------

TINY = "time: {stop: 2}\nstocks: {x: 1}\nflows: {out: {from: x, rate: x}}\n"


def test_numba_refuses_what_it_cannot_run(make_model: WriteModel) -> None:
    model = make_model(TINY)
    with pytest.raises(
        ParameterError,
        match=r"backend: the numba back end cannot run this "
        r"\(got backend='numba': it compiles the fixed-step"
        r" methods, not the adaptive rk45\)",
    ):
        ps.simulate(model, method="rk45", backend="numba")
    with pytest.raises(
        ParameterError,
        match=r"backend: unknown back end 'numbaa'\. Did you "
        r"mean 'numba'\?",
    ):
        ps.simulate(model, backend="numbaa")
    ranked = make_model(
        "time: {stop: 1}\ndimensions: {g: [a, b]}\nstocks: {x: {dims: [g], initial: 1}}\n"
        "auxiliaries: {r: {dims: [g], equation: 'VECTOR_RANK(x, 1)'}}\n",
        name="ranked.yaml",
    )
    with pytest.raises(
        ParameterError,
        match=r"backend: the numba back end cannot run this \(got backend='numba': an "
        r"equation uses VECTOR SORT ORDER, VECTOR RANK or VECTOR REORDER, which runs on "
        r"arrays only\)\. Use backend='numpy' or 'auto'",
    ):
        ps.simulate(ranked, backend="numba")
    assert ps.simulate(ranked, backend="auto").values.shape[1] == 4  # auto: numpy
    large = make_model(
        "time: {stop: 1}\ndimensions: {cell: {count: 600, prefix: c}}\n"
        "stocks: {x: {dims: [cell], initial: 1}}\n"
        "flows: {out: {dims: [cell], from: x, rate: x}}\n",
        name="large.yaml",
    )
    with pytest.raises(
        ParameterError,
        match=r"got backend='numba': the model has 1200 elements of stocks, flows and "
        r"auxiliaries, more than the 1000 the compiled loop is written for\)",
    ):
        ps.simulate(large, backend="numba")


def _noise_model(folder: Path, equation: str) -> ps.Model:
    source = folder / "noise.mdl"
    source.write_text(
        f"{{UTF-8}}\nx = INTEG(noise, 0)\n~ u\n~ |\nnoise = {equation}\n"
        "~ u\n~ |\nINITIAL TIME = 0\n~ m\n~ |\nFINAL TIME = 5\n~ m\n~ |\n"
        "TIME STEP = 0.25\n~ m\n~ |\nSAVEPER = TIME STEP\n~ m\n~ |\n"
    )
    return ps.load_model(source)


def test_uniform_draws_run_in_the_loop_to_the_same_bits(tmp_path: Path) -> None:
    model = _noise_model(tmp_path, "RANDOM UNIFORM(-10, 10, 3) + RANDOM EXPONENTIAL(0, 9, 1, 2, 0)")
    seeds = {"RANDOM_SEED": [0, 0, 4, 4, 9, 9, 9]}  # members of one seed draw apart
    numba = ps.simulate(model, seeds, backend="numba").values
    numpy = ps.simulate(model, seeds, backend="numpy").values
    assert_agree(numba, numpy)  # the draws bit for bit; the exponential's log to a few ulps
    uniform = _noise_model(tmp_path, "RANDOM UNIFORM(-10, 10, 3)")
    np.testing.assert_array_equal(
        ps.simulate(uniform, seeds, backend="numba").values,
        ps.simulate(uniform, seeds, backend="numpy").values,
    )
    # each member's stream is its own, however the ensemble is cut into chunks
    chunked = ps.simulate(model, seeds, backend="numba", chunk=2).values
    np.testing.assert_array_equal(chunked, numba)
    assert len({tuple(numba[:, 1, m]) for m in range(numba.shape[2])}) == 7


def test_normal_draws_stay_on_numpy(tmp_path: Path) -> None:
    model = _noise_model(tmp_path, "RANDOM NORMAL(-10, 10, 0, 1, 0)")
    with pytest.raises(
        ParameterError,
        match=r"backend: the numba back end cannot run this \(got backend='numba': an equation "
        r"draws from a normal distribution \(RANDOM NORMAL\): its quantile is scipy's, which "
        r"the compiled loop cannot call to the same bits\)",
    ):
        ps.simulate(model, backend="numba")
    np.testing.assert_array_equal(
        ps.simulate(model, backend="auto").values, ps.simulate(model, backend="numpy").values
    )


def test_auto_takes_the_loop_once_it_is_built(make_model: WriteModel) -> None:
    model = make_model(TINY)
    compiled = compiled_for(model, None)
    grid = make_grid(model, None)
    # a tiny run on numpy costs less than compiling the loop
    assert backends.choose_backend(compiled, grid, EULER, "euler", 1, "auto") == "numpy"
    ps.simulate(model, backend="numba")
    assert backends.choose_backend(compiled, grid, EULER, "euler", 1, "auto") == "numba"
    assert backends.choose_backend(compiled, grid, None, "rk45", 1, "auto") == "numpy"
    # an ensemble runs on the block loop once that is built; until then (a tiny run cannot pay
    # for compiling it) on the loaded member loop, a member at a time
    many = backends.BLOCK_MEMBERS
    assert backends.choose_backend(compiled, grid, EULER, "euler", many, "auto") == "numba"
    assert not backends.runs_blocks(compiled, grid, EULER, many, "auto")
    assert compiled.block_loop.run is not None  # built, as a numba run of an ensemble builds it
    assert backends.choose_backend(compiled, grid, EULER, "euler", many, "auto") == "numba"
    assert backends.runs_blocks(compiled, grid, EULER, many, "auto")
    assert backends.choose_backend(compiled, grid, EULER, "euler", 10_000, "auto") == "numba"
    # a single run estimated to take longer on numpy than compiling the loop takes it
    other = make_model(TINY.replace("x", "z"), name="other.yaml")
    fresh = compiled_for(other, None)
    long = make_grid(other, {"dt": 1e-8})
    assert backends.numpy_seconds(fresh, long, EULER, 1) > backends.COMPILE_SECONDS + 10
    assert backends.numpy_seconds(fresh, long, RK4, 1) == 4 * backends.numpy_seconds(
        fresh, long, EULER, 1
    )
    assert backends.choose_backend(fresh, long, EULER, "euler", 1, "auto") == "numba"


def test_auto_weighs_the_runs_a_caller_will_make_against_one_compile(
    make_model: WriteModel,
) -> None:
    model = make_model(TINY.replace("x", "w"), name="repeated.yaml")
    compiled = compiled_for(model, None)
    # a grid whose run costs a third of compiling the loop on numpy (the cost is linear in steps)
    compile_cost = backends.COMPILE_SECONDS + backends.COMPILE_SECONDS_PER_EQUATION * 3
    per_step = backends.numpy_seconds(compiled, make_grid(model, {"dt": 1.0}), EULER, 1) / 2
    grid = make_grid(model, {"dt": 2 / (compile_cost / 3 / per_step)})
    assert 0.3 * compile_cost < backends.numpy_seconds(compiled, grid, EULER, 1) < compile_cost
    assert backends.choose_backend(compiled, grid, EULER, "euler", 1, "auto") == "numpy"
    assert backends.choose_backend(compiled, grid, EULER, "euler", 1, "auto", runs=2) == "numpy"
    assert backends.choose_backend(compiled, grid, EULER, "euler", 1, "auto", runs=10) == "numba"
    # the runs count in the choice only: nothing is compiled until a run asks for the loop
    assert not compiled.has_loop


def test_without_numba_everything_runs_on_numpy(
    monkeypatch: pytest.MonkeyPatch, make_model: WriteModel
) -> None:
    model = make_model(TINY)
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
        assert "numba is not installed" in cache.backend_status()
    finally:
        monkeypatch.undo()
        numba_version.cache_clear()
    assert numba_version() is not None


# -- the cache folder --------------------------------------------------------------------------


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


def test_the_stored_module_holds_no_text_of_the_model_file(make_model: WriteModel) -> None:
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


# -- the command line --------------------------------------------------------------------------


def test_version_and_methods_name_the_back_ends(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    version = capsys.readouterr().out
    assert f"numba {numba_version()}" in version
    assert main(["methods"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == cache.backend_status()
    assert list(BACKEND_NAMES) == list(backends.BACKENDS)


def test_run_takes_a_backend(capsys: pytest.CaptureFixture[str]) -> None:
    teacup = str(ROOT / "models" / "teacup")
    assert main(["run", teacup, "--backend", "numba"]) == 0
    numba = capsys.readouterr().out
    assert main(["run", teacup, "--backend", "numpy"]) == 0
    assert capsys.readouterr().out == numba
    assert main(["run", teacup, "--backend", "numbaa"]) == 2
    assert (
        "pssc: error: pssc run: argument --backend: invalid choice: 'numbaa'"
        in capsys.readouterr().err
    )
    assert main(["run", teacup, "--method", "rk45", "--backend", "numba"]) == 2
    assert "backend: the numba back end cannot run this" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("backend", "method"), [("numpy", "euler"), ("numba", "euler"), ("numpy", "rk45")]
)
def test_a_member_that_is_not_finite_is_named_by_its_place_in_the_run(
    make_model: WriteModel, backend: str, method: str
) -> None:
    if backend == "numba":
        pytest.importorskip("numba", reason="the numba back end needs the fast extra")
    model = make_model("""
        time: {stop: 2, dt: 1}
        parameters: {k: 1}
        stocks: {x: 1}
        flows: {out: {from: x, rate: "0"}}
        auxiliaries: {ratio: "1 / (k - 1)"}
    """)
    k = np.array([2.0, 3.0, 4.0, 1.0, 5.0])  # member 3 divides by zero, in the second chunk
    with pytest.raises(SimulationError, match=r"ratio: the value is not finite .*, member 3\)"):
        ps.simulate(model, {"k": k}, chunk=2, backend=backend, method=method)
