"""The cheaper step of an ensemble: bound kernels, stock copies by run, named numbers, checks of
saved rows by block. Each gives the values of the plain kernels, bit for bit."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import pssc_sim as ps
from pssc_sim.compile.compiler import compile_model
from pssc_sim.compile.printer import number_definitions, number_name
from pssc_sim.compile.rows import scratch_rows
from pssc_sim.errors import SimulationError
from pssc_sim.integrate.fixed import CHECK_SIZE, FixedStepPlan, initial_state
from pssc_sim.integrate.grid import Grid
from pssc_sim.parse import load_model

ROOT = Path(__file__).resolve().parents[1]

SIR = """time: {stop: 20, dt: 0.25}
parameters: {contact: 0.3, duration: 5, population: 1000}
stocks: {infected: 5, recovered: 0, susceptible: population - 5}
flows:
  infection: {from: susceptible, to: infected, rate: susceptible * infected * contact / population}
  recovery: {from: infected, to: recovered, rate: "MAX(infected - 0.5, 0) / duration"}
auxiliaries:
  share: infected / population
"""


@pytest.fixture
def sir(tmp_path: Path) -> Path:
    path = tmp_path / "sir.yaml"
    path.write_text(SIR)
    return path


@pytest.mark.parametrize(
    "outputs",
    [
        None,
        ["infected", "recovered", "susceptible"],
        ["susceptible", "share", "infected", "recovered"],
    ],
)
def test_bound_full_records_what_full_records(sir: Path, outputs: list[str] | None) -> None:
    model = load_model(sir)
    compiled = compile_model(model, outputs)
    grid = Grid.from_time(model.time)
    p = np.repeat(compiled.default_parameters()[:, None], 4, axis=1)
    p[0] = [0.2, 0.3, 0.4, 0.5]
    y, d, _ = initial_state(compiled, grid, p)
    q = compiled.prepare(grid.clock, p)
    shape = (len(compiled.outputs), 4)
    dy, dn, plain, bound = np.empty(y.shape), np.empty((0, 4)), np.empty(shape), np.empty(shape)
    compiled.prepared.full(3.0, grid.clock, y, q, d, dy, dn, plain)
    expected_dy = dy.copy()
    compiled.prepared.bind_full(grid.clock, y, q, d, dy, dn)(3.0, bound)
    assert np.array_equal(plain, bound)
    assert np.array_equal(dy, expected_dy)


def test_recorded_stocks_in_a_row_are_copied_at_once(sir: Path) -> None:
    model = load_model(sir)
    stocks = list(model.stock_names)  # infected, recovered, susceptible: rows 0 to 2
    together = compile_model(model, stocks).source
    assert "out[0:3] = y[0:3]" in together
    assert "y_0_3 = y[0:3]" in together  # taken once per run by the bound kernel
    apart = compile_model(model, stocks[::-1]).source  # reversed: no run of consecutive rows
    assert "y[0:" not in apart
    assert "out[0] = v_susceptible" in apart


def test_kernels_write_numbers_as_numpy_floats(sir: Path) -> None:
    source = compile_model(load_model(sir)).source
    kernel = source[source.index("def bind_rates") : source.index("def bind_full")]
    assert number_name(0.5) in kernel  # MAX(infected - 0.5, 0) / duration
    assert " 0.5" not in kernel
    assert f"{number_name(0.5)} = np.float64(0.5)" in source


@pytest.mark.parametrize("value", [0.5, -2.0, 0.1, 1e-300, -0.0, 5e-324, 1.7976931348623157e308])
def test_named_numbers_hold_their_value_exactly(value: float) -> None:
    name = number_name(value)
    (line,) = number_definitions(f"x = {name} * y")
    space: dict[str, object] = {"np": np}
    exec(line, space)  # the line is generated here from a float
    held = space[name]
    assert isinstance(held, np.float64)
    assert float(held) == value
    assert math.copysign(1.0, float(held)) == math.copysign(1.0, value)


def test_ensembles_still_equal_single_runs_bit_for_bit(sir: Path) -> None:
    contact = np.array([0.2, 0.3, 0.45])
    ensemble = ps.simulate(ps.load_model(sir), {"contact": contact}, method="rk4")
    for i, value in enumerate(contact):
        single = ps.simulate(ps.load_model(sir), {"contact": value}, method="rk4")
        assert np.array_equal(ensemble.values[:, :, i], single.values[:, :, 0])


def test_blocks_cover_every_step_once() -> None:
    plan = FixedStepPlan.build(Grid(0.0, 10.0, 0.25, 0.5))
    blocks = plan.blocks(7)
    assert [b[0] for b in blocks] == list(range(0, 40, 7))
    assert blocks[-1][1:] == (40, 10.0)
    assert blocks[0][2] == 1.75  # the time reached after the first 7 steps


@pytest.mark.parametrize("members", [3, CHECK_SIZE // 2 + 1])
def test_the_first_non_finite_row_is_reported(tmp_path: Path, members: int) -> None:
    # k / (5 - TIME) is infinite at time 5 only; every later row is finite again, so only a check
    # of the right row finds it, and the message names the time of the first bad row
    path = tmp_path / "pole.yaml"
    path.write_text(
        "time: {stop: 10, dt: 0.5}\nparameters: {k: 1}\nstocks: {x: 0}\n"
        "flows: {inflow: {to: x, rate: k / (5 - TIME)}}\n"
    )
    spread = {"k": np.linspace(1.0, 2.0, members)}
    with pytest.raises(
        SimulationError,
        match=r"flows\.inflow: the value is not finite at time "
        r"5 \(got inf, member 0\)",
    ):
        ps.simulate(ps.load_model(path), spread, outputs=["inflow"])


def test_scratch_rows_are_reused_only_once_free() -> None:
    lines = [
        "v_a = s_v_a",
        "np.multiply(x, y, v_a)",
        "out[0] = v_a",
        "v_c = s_v_c",
        "np.add(x, x, v_c)",
    ]
    rewritten, count = scratch_rows(lines)
    assert (rewritten[0], rewritten[3], count) == ("v_a = s_0", "v_c = s_0", 1)
    # v_a is still read where v_c is computed: they need two rows
    lines[2:3] = []
    lines.append("np.add(v_a, v_c, dy_0)")
    rewritten, count = scratch_rows(lines)
    assert (rewritten[0], rewritten[2], count) == ("v_a = s_0", "v_c = s_1", 2)


def test_a_local_that_may_hold_a_scratch_row_keeps_it_busy() -> None:
    # v_b is v_a's row when t > 1: that row is busy until v_b's last use, not v_a's
    lines = [
        "v_a = s_v_a",
        "np.multiply(x, y, v_a)",
        "v_b = (v_a if (t > _f_3ff0000000000000) else v_z)",
        "v_c = s_v_c",
        "np.add(v_z, v_z, v_c)",
        "out[0] = v_b",
    ]
    rewritten, count = scratch_rows(lines)
    assert (rewritten[3], count) == ("v_c = s_1", 2)
