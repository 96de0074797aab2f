"""Careless input that used to pass without a word or fail with a builtin error: duplicate keys,
non-finite lookup points, interventions after the stop time, text or None given as a path."""

from __future__ import annotations

import doctest
from collections.abc import Callable
from pathlib import Path

import pytest

import pssc_sim as ps
from pssc_sim.cli import main
from pssc_sim.errors import PsscSimWarning

ROOT = Path(__file__).parent.parent
TEACUP = ROOT / "models" / "teacup" / "model.yaml"
MODEL = "time: {stop: 4, dt: 1}\nstocks: {x: 1}\nflows: {out: {from: x, rate: x / 2}}\n"


def test_a_duplicate_key_in_a_model_file_is_refused(model_path: Callable[..., Path]) -> None:
    path = model_path("time: {stop: 1}\nstocks:\n  x: 1\n  y: 2\n  x: 3\n")
    with pytest.raises(
        ps.ModelError, match=r"model\.yaml: line 5: duplicate key 'x' \(first at line 3\)"
    ):
        ps.load_model(path)


@pytest.mark.parametrize(
    ("points", "axis", "got"),
    [("points: [[0, 1], [.nan, 2]]", "x", "nan"), ("x: [0, 1], y: [1, -.inf]", "y", "-inf")],
)
def test_a_lookup_point_that_is_not_finite_is_refused(
    make_model: Callable[..., ps.Model], points: str, axis: str, got: str
) -> None:
    with pytest.raises(
        ps.ModelError,
        match=rf"lookups\.f\.points: every {axis} value must be a finite number \(got {got}\)\. "
        "Give plain numbers",
    ):
        make_model(f"time: {{stop: 1}}\nlookups:\n  f: {{{points}}}\nauxiliaries: {{y: f(TIME)}}\n")


def test_lookup_x_values_out_of_order_are_refused(make_model: Callable[..., ps.Model]) -> None:
    with pytest.raises(
        ps.ModelError, match=r"x values must increase strictly \(got \[0\.0, 2\.0, 1\.0\]\)"
    ):
        make_model("time: {stop: 1}\nlookups:\n  f: {points: [[0, 1], [2, 2], [1, 3]]}\n")


def late_scenario(folder: Path, at: float) -> Path:
    path = folder / "late.yaml"
    path.write_text(
        f"scenario: late\nmodel: {TEACUP}\n"
        f"interventions:\n  - {{set: room_temperature, to: 80, at: {at}}}\n",
        encoding="utf-8",
    )
    return path


def test_an_intervention_after_the_stop_time_warns(tmp_path: Path) -> None:
    with pytest.warns(
        PsscSimWarning,
        match=r"interventions: set 'room_temperature' starts after the run stops at 30 \(got "
        r"at: 500\), so it never acts\. Raise time\.stop",
    ):
        result = ps.run_scenario(late_scenario(tmp_path, 500))
    assert set(result["room_temperature"]) == {70.0}


def test_an_intervention_within_the_run_does_not_warn(tmp_path: Path) -> None:
    result = ps.run_scenario(late_scenario(tmp_path, 30))  # warnings are errors in the tests
    assert result["room_temperature"].iloc[-1] == 80.0


def test_the_command_line_prints_a_note_and_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(late_scenario(tmp_path, 500))]) == 0
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines() == [
        "pssc: note: interventions: set 'room_temperature' starts after the run stops at 30 "
        "(got at: 500), so it never acts. Raise time.stop or move the intervention"
    ]
    assert "scenario late" in captured.out


@pytest.mark.parametrize(
    ("argument", "got"),
    [
        (MODEL, r"str of \d+ characters holding a newline\)\. For model text use load_model_text"),
        ("x" * 5000, r"str of 5000 characters too long for a path\)"),
        (123, r"int 123\)\. Give a str or pathlib\.Path; for model text use load_model_text"),
        (None, r"NoneType None\)"),
    ],
)
def test_load_model_refuses_what_is_not_a_path(argument: object, got: str) -> None:
    with pytest.raises(ps.ParameterError, match=rf"^load_model: takes a path \(got {got}"):
        ps.load_model(argument)  # type: ignore[arg-type]


def test_a_path_the_file_system_refuses_is_a_model_error() -> None:
    with pytest.raises(ps.ModelError, match=r"cannot use this path \(File name too long\)"):
        ps.load_model("x" * 300)


def test_load_model_text_reads_what_load_model_reads(tmp_path: Path) -> None:
    path = tmp_path / "drain" / "model.yaml"
    path.parent.mkdir()
    path.write_text(MODEL, encoding="utf-8")
    from_text, from_file = ps.load_model_text(MODEL, name="drain"), ps.load_model(path)
    assert from_text.name == from_file.name == "drain"
    assert list(ps.simulate(from_text)["x"]) == list(ps.simulate(from_file)["x"])


def test_load_model_text_names_its_errors_after_the_model() -> None:
    with pytest.raises(ps.ModelError, match=r"^queue: line 2: duplicate key 'time'"):
        ps.load_model_text("time: {stop: 1}\ntime: {stop: 2}\n", name="queue")
    with pytest.raises(ps.ParameterError, match=r"^load_model_text: takes the model as text"):
        ps.load_model_text(TEACUP)  # type: ignore[arg-type]
    with pytest.raises(ps.ParameterError, match=r"^load_model_text: name must be a non-empty"):
        ps.load_model_text(MODEL, name="")


def test_the_readme_examples_run() -> None:
    results = doctest.testfile(str(ROOT / "README.md"), module_relative=False)
    assert results.attempted >= 3
    assert results.failed == 0
