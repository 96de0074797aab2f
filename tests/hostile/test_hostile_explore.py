"""Hostile input to ``pssc explore``: what the command line is given is refused before a server
starts (one line, exit 2, nothing run); what a browser sends is covered in tests/test_explore.py
(names checked, values read with float() alone and clamped) and tests/test_explore_browser.py
(a crafted address in a real page)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hostile_cli import assert_refused, run_cli

ROOT = Path(__file__).resolve().parents[2]
SMOKING = ROOT / "scenarios" / "smoking" / "quit-count-target.yaml"

pytest.importorskip("panel", reason="the explorer needs the explore extra")


def test_a_model_whose_text_is_code_is_refused_before_serving(tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    model = tmp_path / "model.yaml"
    model.write_text(
        "time: {stop: 1}\nparameters:\n  k: {value: 1, range: [0, 2]}\n"
        "stocks: {x: 1}\nflows:\n"
        f"  f: {{to: x, rate: \"__import__('pathlib').Path('{canary}').touch()\"}}\n"
    )
    run = run_cli("explore", model, "--no-browser", "--port", "1", cwd=tmp_path)
    assert_refused(run, canary=canary, match="model.yaml")


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("no/such.yaml",), "explore: no such scenario or model"),
        ((str(SMOKING), "--port", "99999"), "--port: expected a port from 1 to 65535"),
        ((str(SMOKING), "--port", "http"), "--port"),
        (("--demo", "../../etc/passwd"), "demo: no demo named"),
    ],
)
def test_bad_arguments_are_refused_before_serving(
    tmp_path: Path, args: tuple[str, ...], match: str
) -> None:
    assert_refused(run_cli("explore", *args, "--no-browser", cwd=tmp_path), match=match)
