"""Hostile cluster settings: an address nobody answers at, absurd worker counts, and a
scenario whose ``compute:`` key holds code; refused in one line, in a few seconds, nothing run."""

from __future__ import annotations

import time
from pathlib import Path

from tests.hostile.hostile_cli import assert_refused, run_cli

ROOT = Path(__file__).resolve().parent.parent.parent
SIR = ROOT / "scenarios" / "sir" / "uncertain-distancing.yaml"


def test_a_scheduler_nobody_answers_at_is_refused_in_seconds(tmp_path: Path) -> None:
    started = time.perf_counter()
    run = run_cli("run", SIR, "--scheduler", "tcp://127.0.0.1:9", cwd=tmp_path)
    assert time.perf_counter() - started < 20  # a 3 s connect timeout, plus the start-up
    assert_refused(run, match="--scheduler: no scheduler answered at tcp://127.0.0.1:9")


def test_a_million_local_workers_are_refused_before_any_start(tmp_path: Path) -> None:
    run = run_cli("sensitivity", SIR, "--output", "infected", "--workers", "1000000", cwd=tmp_path)
    assert_refused(run, match="--workers: the number of worker processes must be 1 to 1024")


def test_code_in_the_compute_key_never_runs(tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        f"extends: {SIR}\ncompute: {{scheduler: \"__import__('pathlib')"
        f".Path('{canary}').touch()\"}}\n"
    )
    run = run_cli("run", scenario, cwd=tmp_path)
    assert_refused(run, canary=canary, match="compute.scheduler: not a scheduler address")
