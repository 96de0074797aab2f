"""Timing helpers shared by the benchmark scripts (plain scripts, not tests)."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def best_time(
    run: Callable[[], object],
    repeat: int = 3,
    budget: float = 2.0,
    warm_up: bool = True,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """The fastest of up to ``repeat`` runs of ``run`` after one untimed warm-up, in seconds.

    Stops early once the timed runs have taken ``budget`` seconds. ``clock`` is wall time by
    default; ``time.process_time`` measures CPU time of this process.
    """
    if warm_up:
        run()
    best, spent = float("inf"), 0.0
    for _ in range(repeat):
        start = clock()
        run()
        elapsed = clock() - start
        best, spent = min(best, elapsed), spent + elapsed
        if spent > budget:
            break
    return best


def machine() -> str:
    """One line describing where the figures were measured."""
    return (
        f"python {platform.python_version()}, {os.cpu_count()} cores, "
        f"{platform.machine()}, {platform.processor() or 'unknown cpu'}"
    )
