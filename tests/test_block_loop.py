"""The block loop of the numba back end: members stepped together, each as the member loop
steps it alone.

As in ``tests/test_backends.py``, a few models are compiled (one for each kind of construct)
and every model of the suite runs the generated code on the Python interpreter, where the block
loop must give the member loop's bits exactly: the same operations in the same order.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import pssc_sim as ps
from pssc_sim.compile.block_loop import (
    LARGEST_BLOCK,
    SMALLEST_BLOCK,
    CompiledBlockLoop,
    block_size,
    generate_block_source,
)
from pssc_sim.compile.compiler import CompiledModel
from pssc_sim.compile.loop import load_loop
from pssc_sim.conformance import KNOWN_BAD
from pssc_sim.errors import PsscSimError, SimulationError
from pssc_sim.integrate import backends
from pssc_sim.integrate.fixed import DEFAULT_CHUNK, run_fixed_step
from pssc_sim.integrate.simulate import compiled_for, make_grid, parameter_array
from pssc_sim.integrate.tableau import EULER, RK4
from tests.conftest import WriteModel
from tests.test_backends import (
    ROOT,
    SUITE,
    SUITE_FILES,
    assert_agree,
    interpreted,
    load,
    spread,
    uncompiled,
)

pytest.importorskip("numba", reason="the fast extra (numba) is not installed")

#: Compiled (each block loop costs seconds to compile): stocks and flows, and DELAY FIXED
#: pipelines with their rings; every model of the suite runs interpreted below.
BLOCK_MODELS = ("models/sir", "suite:tests/delay_fixed/test_delay_fixed.mdl")
#: Members and the block sizes they are cut into: one member, a block and its remainder, one
#: member a block, and blocks that do not divide the chunks.
CUTS = ((1, 4), (3, 2), (7, 4), (7, 1), (17, 5))


def interpreted_blocks(compiled: CompiledModel, size: int) -> CompiledBlockLoop:
    """The model's block loop on the Python interpreter, ``size`` members a block."""
    assert compiled.write_loop is not None
    source = generate_block_source(compiled.model, compiled.write_loop())
    return CompiledBlockLoop(load_loop(source, uncompiled)["run_block"], size)


def sized(compiled: CompiledModel, size: int) -> CompiledBlockLoop:
    """The model's compiled block loop, ``size`` members a block."""
    return CompiledBlockLoop(compiled.block_loop.run, size)


@pytest.mark.parametrize("name", BLOCK_MODELS)
def test_the_block_loop_runs_each_member_as_the_member_loop(name: str) -> None:
    model = load(name)
    compiled = compiled_for(model, None)
    grid = make_grid(model, None)
    for members, size in CUTS:
        p = parameter_array(compiled, spread(model, members) if members > 1 else None)
        for tableau in (EULER, RK4):
            alone = backends.run_loop(
                compiled, p, grid, tableau, DEFAULT_CHUNK, function=compiled.loop.run
            )
            for chunk in (DEFAULT_CHUNK, 3):
                blocks = backends.run_loop(
                    compiled, p, grid, tableau, chunk, block=sized(compiled, size)
                )
                what = f"{members} members, blocks of {size}, chunks of {chunk}"
                np.testing.assert_array_equal(blocks, alone, what)
            assert_agree(blocks, run_fixed_step(compiled, p, grid, tableau), name)


def test_an_ensemble_takes_the_block_loop_from_its_size() -> None:
    sir = ps.load_model(ROOT / "models" / "sir")
    few = backends.BLOCK_MEMBERS - 1
    compiled = compiled_for(sir, None)
    ps.simulate(sir, {"contact_rate": np.linspace(3.0, 9.0, few)}, backend="numba")
    assert not compiled.has_block_loop
    rates = np.linspace(3.0, 9.0, backends.BLOCK_MEMBERS + 3)
    many = ps.simulate(sir, {"contact_rate": rates}, backend="numba")
    assert compiled.has_block_loop
    np.testing.assert_array_equal(
        many.values, ps.simulate(sir, {"contact_rate": rates}, backend="numpy").values
    )
    # chunks of fewer members than a block are stepped one member at a time: the same bits
    chunked = ps.simulate(sir, {"contact_rate": rates}, backend="numba", chunk=few)
    np.testing.assert_array_equal(chunked.values, many.values)


def test_a_value_that_is_not_finite_is_found_in_the_block(make_model: WriteModel) -> None:
    model = make_model("""
        time: {stop: 2, dt: 1}
        parameters: {k: 1}
        stocks: {x: 1}
        flows: {out: {from: x, rate: "0"}}
        auxiliaries: {ratio: "1 / (k - 1)"}
    """)
    compiled = compiled_for(model, None)
    grid = make_grid(model, None)
    k = np.linspace(2.0, 5.0, 12)
    k[-2] = 1.0  # a member of the last block of the second chunk divides by zero
    blocks = interpreted_blocks(compiled, 4)
    with (
        np.errstate(all="ignore"),
        pytest.raises(SimulationError, match=r"ratio: the value is not finite .*, member 10\)"),
    ):
        backends.run_loop(
            compiled, parameter_array(compiled, {"k": k}), grid, EULER, 6, block=blocks
        )
    k[-2] = 3.0
    finite = backends.run_loop(
        compiled, parameter_array(compiled, {"k": k}), grid, EULER, 6, block=blocks
    )
    np.testing.assert_array_equal(
        finite, run_fixed_step(compiled, parameter_array(compiled, {"k": k}), grid, EULER)
    )


def test_draws_are_each_members_whatever_the_blocks(tmp_path: Path) -> None:
    source = tmp_path / "noise.mdl"
    source.write_text(
        "{UTF-8}\nx = INTEG(noise, 0)\n~ u\n~ |\nnoise = RANDOM UNIFORM(-10, 10, 3)\n"
        "~ u\n~ |\nINITIAL TIME = 0\n~ m\n~ |\nFINAL TIME = 5\n~ m\n~ |\n"
        "TIME STEP = 0.25\n~ m\n~ |\nSAVEPER = TIME STEP\n~ m\n~ |\n"
    )
    model = ps.load_model(source)
    compiled = compiled_for(model, None)
    grid = make_grid(model, None)
    p = parameter_array(compiled, {"RANDOM_SEED": [0, 0, 4, 4, 9, 9, 9]})
    numpy = run_fixed_step(compiled, p, grid, EULER)
    for size in (1, 2, 3, 7):
        for chunk in (7, 2):
            blocks = backends.run_loop(compiled, p, grid, EULER, chunk, block=sized(compiled, size))
            np.testing.assert_array_equal(blocks, numpy)
    assert len({tuple(numpy[:, 1, m]) for m in range(7)}) == 7


def test_a_block_holds_a_few_hundred_kilobytes_of_rows() -> None:
    small = "@_jit\ndef full(y):\n    a = y[0]\n    b = a * 2.0\n"
    assert block_size(small, 1) == LARGEST_BLOCK
    large = "@_jit\ndef full(y):\n" + "".join(f"    v{i} = y[0]\n" for i in range(500))
    assert block_size(large, 1000) == SMALLEST_BLOCK
    middle = block_size(large, 10)
    assert SMALLEST_BLOCK < middle < LARGEST_BLOCK
    assert middle % 8 == 0


# -- interpreted: every model ------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("name", SUITE_FILES)
def test_the_block_loop_gives_the_member_loops_bits_on_the_suite(name: str) -> None:
    if name in KNOWN_BAD:
        pytest.skip(f"known-bad canonical data: {KNOWN_BAD[name]}")
    try:
        model = ps.load_model(SUITE / name)
        compiled = compiled_for(model, None)
    except PsscSimError as error:
        pytest.skip(f"the model does not load: {str(error)[:120]}")
    if compiled.loop_refusal:
        pytest.skip(f"no compiled loop: {compiled.loop_refusal}")
    grid = make_grid(model, None)
    p = parameter_array(compiled, spread(model, 3))
    blocks = interpreted_blocks(compiled, 2)
    alone = interpreted(compiled)
    for tableau in (RK4,):  # its stages and saved steps: every path of the loop
        with np.errstate(all="ignore"):
            try:
                one = backends.run_loop(compiled, p, grid, tableau, 3, function=alone)
                both = backends.run_loop(compiled, p, grid, tableau, 3, block=blocks)
            except (ArithmeticError, ValueError) as error:
                if isinstance(error, PsscSimError):
                    raise
                pytest.skip(f"Python's arithmetic raises where compiled code does not: {error}")
        np.testing.assert_array_equal(both, one, f"{name}, {tableau.stages} stages")


def test_auto_runs_an_ensemble_on_the_loaded_member_loop_rather_than_compile_blocks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A program with the member loop loaded (the explorer) does not stop to compile the block
    loop for an ensemble it would not repay: ``auto`` runs the members one at a time on the
    loaded loop, with numpy's bits."""
    sir = ps.load_model(ROOT / "models" / "sir")
    compiled = compiled_for(sir, None)
    ps.simulate(sir, backend="numba")  # the member loop, loaded
    # as if the block loop were not built (an earlier test may have built it in this process)
    monkeypatch.delitem(compiled.__dict__, "block_loop", raising=False)
    assert compiled.has_loop
    assert not compiled.has_block_loop
    monkeypatch.setattr(backends, "is_stored", lambda key: False)
    monkeypatch.setattr(backends, "BLOCK_COMPILE_SECONDS_PER_EQUATION", 1e9)
    rates = np.linspace(3.0, 9.0, backends.BLOCK_MEMBERS + 3)
    grid = make_grid(sir, None)
    for cost in (0.5, 5.0):  # below and above loading anything
        monkeypatch.setattr(backends, "numpy_seconds", lambda *a, c=cost: c)
        assert backends.choose_backend(compiled, grid, EULER, "euler", len(rates), "auto") == (
            "numba"
        )
        assert not backends.runs_blocks(compiled, grid, EULER, len(rates), "auto")
        assert backends.runs_blocks(compiled, grid, EULER, len(rates), "numba")
        got = ps.simulate(sir, {"contact_rate": rates}, backend="auto")
        assert not compiled.has_block_loop
        np.testing.assert_array_equal(
            got.values, ps.simulate(sir, {"contact_rate": rates}, backend="numpy").values
        )
    too_many = backends.MEMBER_LOOP_MEMBERS + 1
    assert backends.choose_backend(compiled, grid, EULER, "euler", too_many, "auto") == "numpy"
