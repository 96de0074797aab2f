"""Hostile XMILE modules: nesting that multiplies instances without bound is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from hostile_cli import assert_refused, run_cli

pytest.importorskip("pysd", reason="the vensim extra (PySD's translators) is not installed")


def _multiplying_modules(levels: int, width: int) -> str:
    """A root holding ``width`` instances of a model that holds ``width`` instances of the
    next, ``levels`` deep: width**levels instances from a few lines of text."""

    def modules(level: int) -> str:
        return "".join(f'<module name="m{level}_{i}" model="level{level}"/>' for i in range(width))

    models = "".join(
        f'<model name="level{level}"><variables><aux name="x"><eqn>1</eqn></aux>'
        f"{modules(level + 1) if level < levels else ''}</variables></model>"
        for level in range(1, levels + 1)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><xmile version="1.0" '
        'xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0"><header><name>m</name></header>'
        "<sim_specs><start>0</start><stop>1</stop><dt>1</dt></sim_specs>"
        f'<model><variables>{modules(1)}<aux name="y"><eqn>1</eqn></aux></variables></model>'
        f"{models}</xmile>"
    )


def test_modules_multiplying_past_the_limit_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "bomb.xmile"
    path.write_text(_multiplying_modules(levels=8, width=10), encoding="utf-8")
    run = run_cli("convert", path, cwd=tmp_path)
    assert_refused(run, match="bomb.xmile: the modules make more than 10000 instances")
