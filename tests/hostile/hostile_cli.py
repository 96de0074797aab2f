"""Run the ``pssc`` command line on hostile input, as a stranger's file would reach it.

Each run is a child process with a cap on its address space and a wall-clock limit, so a file
that tries to exhaust the machine fails the test instead of the machine. A *canary* is a path that
hostile text tries to create: if it exists after the run, model text ran as code.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

#: Address-space cap of a child run. Python with numpy, scipy, sympy and pandas maps about
#: 1-1.5 GiB of address space before any model is read; 4 GiB leaves room for a small model.
MEMORY_CAP_BYTES = 4 * 1024**3
#: Wall-clock limit of a child run: every refusal must come well within this.
TIME_LIMIT_S = 60.0


@dataclass(frozen=True)
class CliRun:
    """The outcome of one ``pssc`` run in a child process."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP_BYTES, MEMORY_CAP_BYTES))


def run_cli(
    *args: str | Path, cwd: Path, timeout: float = TIME_LIMIT_S, env: dict[str, str] | None = None
) -> CliRun:
    """Run ``python -m pssc_sim ARGS`` in ``cwd`` under the memory cap and time limit."""
    child_env = dict(os.environ, **(env or {}))
    child_env["PYTHONUNBUFFERED"] = "1"
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pssc_sim", *map(str, args)],
        cwd=cwd,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=_cap_memory,
        check=False,
    )
    return CliRun(done.returncode, done.stdout, done.stderr, time.perf_counter() - start)


def assert_refused(run: CliRun, *, canary: Path | None = None, match: str = "") -> None:
    """Assert a clean refusal: exit 2, one ``pssc: error:`` line, no traceback, no canary."""
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert run.returncode == 2, (run.returncode, run.stderr[-2000:])
    assert "Traceback" not in run.stderr, run.stderr[-2000:]
    assert len(lines) == 1, run.stderr[-2000:]
    assert lines[0].startswith("pssc: error: "), lines[0]
    assert len(lines[0]) < 1000, lines[0][:300]
    assert match in lines[0], lines[0]
    if canary is not None:
        assert not canary.exists(), f"model text ran as code: {canary} was created"
