"""Hostile text in the grammar of ``pssc optimize`` and oversized designs of ``pssc sensitivity``
and ``pssc optimize``: refused in one line, nothing run as code, no memory exhausted."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hostile.hostile_cli import assert_refused, run_cli

ROOT = Path(__file__).resolve().parent.parent.parent
TEACUP = ROOT / "models" / "teacup"


@pytest.mark.parametrize("option", ["--objective", "--constraint", "--levers"])
def test_code_in_optimize_text_never_runs(tmp_path: Path, option: str) -> None:
    canary = tmp_path / "canary"
    code = f"__import__('pathlib').Path('{canary}').touch()"
    values = {"--objective": "minimize temperature_gap", "--levers": "characteristic_time"}
    values[option] = f"{code} <= 1" if option == "--constraint" else code
    args = [x for pair in values.items() for x in pair]
    run = run_cli("optimize", TEACUP, *args, cwd=tmp_path)
    assert_refused(run, canary=canary, match=option)


def test_a_design_too_large_for_memory_is_refused(tmp_path: Path) -> None:
    run = run_cli(
        "sensitivity", TEACUP, "--output", "temperature_gap", "--samples", str(2**40), cwd=tmp_path
    )
    assert_refused(run, match="--samples: the design would take")


def test_a_population_too_large_for_memory_is_refused(tmp_path: Path) -> None:
    run = run_cli(
        "optimize",
        TEACUP,
        "--objective",
        "minimize temperature_gap",
        "--levers",
        "characteristic_time",
        "--popsize",
        str(10**12),
        cwd=tmp_path,
    )
    assert_refused(run, match="--popsize: a generation would take")
