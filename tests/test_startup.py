"""What ``pssc run`` loads and does to start fast: only its own command's modules, none of the
stages it does not run, and the collector's work on objects that live until the process ends
skipped (:func:`pssc_sim.cli.program`). The times are in ``benchmarks/bench_startup.py``; these
tests check the mechanisms, never a timing."""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
from pathlib import Path

import pytest

from pssc_sim.cli import COMMANDS, build_parser, main
from pssc_sim.cli.common import collector_paused

ROOT = Path(__file__).resolve().parent.parent

#: Loaded only by the commands (or the methods) that need them.
NOT_FOR_A_RUN = (
    "pssc_sim.cli.analysis",
    "pssc_sim.cli.calibrate",
    "pssc_sim.cli.demo",
    "pssc_sim.cli.explore",
    "pssc_sim.cli.filtering",
    "pssc_sim.cli.imports",
    "pssc_sim.cli.inference",
    "pssc_sim.cli.mechanisms",
    "pssc_sim.cli.report",
    "pssc_sim.cli.scorecard",
    "pssc_sim.cli.strategy",
    "pssc_sim.inference",
    "pssc_sim.scenario",
    "pssc_sim.compile.breakpoints",
    "pssc_sim.compile.jacobian",
    "pssc_sim.integrate.adaptive",
    "hashlib",
    "difflib",
    "socket",
    "json",
)

#: ``python -m pssc_sim ARGS`` in this process, then what it loaded and froze, as JSON.
CHILD = """
import gc, runpy, sys
sys.argv = ["pssc"] + sys.argv[1:]
try:
    runpy.run_module("pssc_sim", run_name="__main__", alter_sys=True)
except SystemExit as exc:
    status = exc.code
modules = sorted(sys.modules)
import json
print(json.dumps({"status": status, "modules": modules,
                  "frozen": gc.get_freeze_count(), "collecting": gc.isenabled()}))
"""


def run_program(*args: str) -> dict[str, object]:
    run = subprocess.run(
        [sys.executable, "-c", CHILD, *args], capture_output=True, text=True, check=True, cwd=ROOT
    )
    report: dict[str, object] = json.loads(run.stdout.strip().splitlines()[-1])
    return report


def test_pssc_run_loads_only_what_a_fixed_step_run_of_a_model_needs() -> None:
    report = run_program("run", "models/teacup")
    assert report["status"] == 0
    modules = set(report["modules"])  # type: ignore[call-overload]
    assert {"pssc_sim.cli.run", "pssc_sim.integrate.simulate", "pssc_sim.parse"} <= modules
    loaded = [m for m in NOT_FOR_A_RUN if m in modules]
    assert loaded == [], loaded


def test_the_program_freezes_what_lives_until_it_ends_and_still_collects() -> None:
    report = run_program("run", "models/teacup")
    assert report["frozen"] > 100_000  # type: ignore[operator]  # numpy, sympy and the stages
    assert report["collecting"] is True


def test_pssc_version_loads_no_stage_and_no_command() -> None:
    report = run_program("--version")
    assert report["status"] == 0
    modules = set(report["modules"])  # type: ignore[call-overload]
    stages = {m for m in NOT_FOR_A_RUN if m.startswith("pssc_sim")}
    assert not {"numpy", "sympy", "yaml", "pssc_sim.cli.run", *stages} & modules


def test_main_called_from_python_freezes_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    before = gc.get_freeze_count()
    assert main(["run", str(ROOT / "models" / "teacup")]) == 0
    assert "teacup_temperature" in capsys.readouterr().out
    assert gc.get_freeze_count() == before
    assert gc.isenabled()


def test_the_collector_runs_again_after_a_pause_even_on_an_error() -> None:
    def fail_while_paused() -> None:
        with collector_paused():
            assert not gc.isenabled()
            raise KeyError("inside")

    with pytest.raises(KeyError, match="inside"):
        fail_while_paused()
    assert gc.isenabled()


def test_a_pause_inside_a_pause_leaves_the_collector_off_until_the_outer_one_ends() -> None:
    with collector_paused():
        with collector_paused():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(actions[0].choices)


def test_every_command_is_in_the_table_that_builds_it_alone() -> None:
    everything = subcommands(build_parser())
    assert set(everything) == {*COMMANDS, "run", "methods", "cache"}


@pytest.mark.parametrize("command", [*COMMANDS, "run", "methods", "cache"])
def test_a_command_built_alone_is_the_command_built_with_all(command: str) -> None:
    alone = subcommands(build_parser(command))
    assert command in alone
    assert set(alone) < set(subcommands(build_parser()))
    assert alone[command].format_help() == subcommands(build_parser())[command].format_help()
