"""Vensim's DELAY N: a chain of material stages whose delay time may change during the run and
may be known only once the model is initialised."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import pssc_sim as ps

pytest.importorskip("pysd", reason="the vensim extra (PySD's translators) is not installed")


def control(stop: float = 10, dt: float = 0.5) -> str:
    return (
        f"INITIAL TIME = 0 ~ Month ~ |\nFINAL TIME = {stop} ~ Month ~ |\n"
        f"TIME STEP = {dt} ~ Month ~ |\nSAVEPER = TIME STEP ~ Month ~ |\n"
    )


def run(tmp_path: Path, name: str, text: str) -> ps.Results:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return ps.simulate(ps.load_model(path))


def test_material_is_conserved_while_the_delay_time_changes(tmp_path: Path) -> None:
    # what went in, plus what the delay held at the start, comes out once the delay is empty
    text = (
        "Out = DELAY N(In, D, 1.5, 4) ~~|\nIn = PULSE(2, 3) * 2 ~~|\n"
        "D = 2 + RAMP(0.5, 1, 9) ~~|\nCum in = INTEG(In, 0) ~~|\nCum out = INTEG(Out, 0) ~~|\n"
        + control(stop=200, dt=0.25)
    )
    res = run(tmp_path, "conserve.mdl", text)
    held_at_start = 1.5 * 2
    assert res["cum_out"].iloc[-1] == pytest.approx(
        res["cum_in"].iloc[-1] + held_at_start, rel=1e-9
    )


def test_the_last_stage_sees_the_delay_time_of_the_step_before(tmp_path: Path) -> None:
    # a step in the delay time at t = 3 changes the output one step later, not at once
    text = "Out = DELAY N(In, D, 0, 2) ~~|\nIn = STEP(1, 1) ~~|\nD = 2 + STEP(2, 3) ~~|\n"
    res = run(tmp_path, "step.mdl", text + control(dt=1))
    constant = run(tmp_path, "flat.mdl", text.replace("2 + STEP(2, 3)", "2") + control(dt=1))
    assert res["out"].iloc[:4].tolist() == constant["out"].iloc[:4].tolist()
    assert res["out"].iloc[4] != constant["out"].iloc[4]


def test_delay_time_known_only_at_initialisation_matches_the_same_constant(tmp_path: Path) -> None:
    # the delay time is a stock's initial value, which the importer cannot fold before the run;
    # the order 10 is lowered to 4 at initialisation (2 / 0.5), as it is for the constant 2
    text = (
        "Out = DELAY N(In, D, 3, 10) ~~|\nIn = 1 + STEP(2, 2) ~~|\nD = Level ~~|\n"
        "Level = INTEG(0, 2) ~~|\n" + control()
    )
    late = run(tmp_path, "late.mdl", text)
    known = run(tmp_path, "known.mdl", text.replace("D = Level", "D = 2"))
    np.testing.assert_allclose(late["out"], known["out"], rtol=1e-12, atol=1e-12)
    assert not np.allclose(
        known["out"], run(tmp_path, "four.mdl", text.replace("D = Level", "D = 8"))["out"]
    )


def test_an_order_that_is_not_known_before_the_run_is_refused(tmp_path: Path) -> None:
    text = "Out = DELAY N(In, 2, 0, Level) ~~|\nIn = 1 ~~|\nLevel = INTEG(0, 2) ~~|\n" + control()
    with pytest.raises(
        ps.ModelError,
        match=r"Out: unsupported construct 'an order or delay "
        r"that is not known at initialisation'",
    ):
        run(tmp_path, "order.mdl", text)
