"""YAML bombs, deep nesting, huge equations and careless values, through the command line.

Each file is refused in a few seconds under the memory cap, with one ``pssc: error:`` line; the
flat sum of 5,000 terms, which is legitimate, runs and gives the right value.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hostile_cli import assert_refused, run_cli

#: Wall-clock bound of a refusal (the interpreter and its imports take about a second of it).
REFUSED_WITHIN_S = 30.0


def canary_equation(canary: Path) -> str:
    """An equation that creates ``canary`` if model text ever runs as code."""
    return f"__import__('os').system('touch {canary}')"


def laughs(levels: int = 9, width: int = 9) -> str:
    lines = [f"  l0: &l0 [{', '.join(['lol'] * width)}]"]
    lines += [f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]" for i in range(1, levels)]
    return "\n".join(lines)


def write(folder: Path, text: str, name: str = "model.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_billion_laughs_model_is_refused(tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    text = (
        f"model: bomb\ntime: {{stop: 1}}\nparameters:\n{laughs()}\n"
        f'auxiliaries: {{x: "{canary_equation(canary)}"}}\n'
    )
    assert len(text.encode()) < 1024
    run = run_cli("run", write(tmp_path, text), cwd=tmp_path)
    assert_refused(run, canary=canary, match="the document expands to more than 100000 nodes")
    assert run.seconds < REFUSED_WITHIN_S


def test_a_billion_laughs_scenario_is_refused(tmp_path: Path) -> None:
    text = f"scenario: bomb\nmodel: teacup\nset:\n{laughs()}\n"
    run = run_cli("run", write(tmp_path, text, "bomb.yaml"), cwd=tmp_path)
    assert_refused(run, match="through aliases")
    assert run.seconds < REFUSED_WITHIN_S


def test_a_yaml_document_nested_10000_deep_is_refused(tmp_path: Path) -> None:
    text = "model: deep\ntime: {stop: 1}\nstocks: {x: " + "[" * 10_000 + "]" * 10_000 + "}\n"
    run = run_cli("run", write(tmp_path, text), cwd=tmp_path)
    assert_refused(run, match="too deeply nested (limit 100")
    assert run.seconds < REFUSED_WITHIN_S


def test_an_equation_nested_3000_deep_is_refused(tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    equation = "(a + " * 3000 + canary_equation(canary) + ")" * 3000
    text = (
        f'model: deep\ntime: {{stop: 1}}\nparameters: {{a: 1}}\nauxiliaries: {{x: "{equation}"}}\n'
    )
    run = run_cli("run", write(tmp_path, text), cwd=tmp_path)
    assert_refused(run, canary=canary, match="the equation is too deeply nested (limit 50)")
    assert run.seconds < REFUSED_WITHIN_S


@pytest.mark.parametrize("operator", ["-", "not "])
def test_a_chain_of_3000_unary_operators_is_refused(tmp_path: Path, operator: str) -> None:
    equation = operator * 3000 + "a"
    text = (
        f"model: deep\ntime: {{stop: 1}}\nparameters: {{a: 1}}\nauxiliaries: {{x: '{equation}'}}\n"
    )
    run = run_cli("check", write(tmp_path, text), cwd=tmp_path)
    assert_refused(run, match="too deeply nested")


def test_a_flat_sum_of_5000_terms_runs(tmp_path: Path) -> None:
    parameters = "".join(f"  p{i}: {i}\n" for i in range(1, 5001))
    equation = " + ".join(f"p{i}" for i in range(1, 5001))
    text = (
        "model: flat\ntime: {start: 0, stop: 1, dt: 1}\n"
        f"parameters:\n{parameters}auxiliaries:\n  total: '{equation}'\n"
    )
    out = tmp_path / "out"
    run = run_cli("run", write(tmp_path, text), "--out", out, cwd=tmp_path, timeout=240)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    rows = (out / "results.csv").read_text(encoding="utf-8").splitlines()
    assert rows[0].split(",")[-1] == "total"
    assert [float(row.split(",")[-1]) for row in rows[1:]] == [5000 * 5001 / 2] * 2


def test_a_duplicate_key_is_refused_naming_both_lines(tmp_path: Path) -> None:
    text = "model: dup\ntime: {stop: 1}\nstocks:\n  x: 1\n  y: 2\n  x: 3\n"
    run = run_cli("run", write(tmp_path, text), cwd=tmp_path)
    assert_refused(run, match="line 6: duplicate key 'x' (first at line 4)")


def test_a_nan_lookup_point_is_refused(tmp_path: Path) -> None:
    text = (
        "model: nan\ntime: {stop: 1}\nlookups:\n  f: {points: [[0, 1], [.nan, 2]]}\n"
        "auxiliaries: {y: f(TIME)}\n"
    )
    run = run_cli("run", write(tmp_path, text), cwd=tmp_path)
    assert_refused(run, match="every x value must be a finite number (got nan)")


def test_a_huge_value_is_echoed_in_a_few_hundred_characters(tmp_path: Path) -> None:
    # 20,000 items (60 kB) are a hundred times the echo's bound, and read in a second or two
    text = f"model: long\ntime: {{stop: 1}}\nstocks: {{x: [{', '.join(['1'] * 20_000)}]}}\n"
    run = run_cli("run", write(tmp_path, text), cwd=tmp_path)
    assert_refused(run)
    assert len(run.stderr) < 600
