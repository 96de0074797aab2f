"""Timing helpers shared by the benchmark scripts (plain scripts, not tests)."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def pysd_errors(frame: Any, outputs: list[Path]) -> dict[str, tuple[float, float]]:
    """Each series of ``outputs`` (a model's own Vensim output) against PySD's run ``frame``:
    its largest error at the suite's tolerance and at 1e-3, as ``compare_model`` measures them
    (infinite where PySD lacks the series or a saved time; Vensim's internal series and missing
    values left out)."""
    import numpy as np

    from pssc_sim.conformance import LOOSE, _column_key, align_times, is_internal, read_canonical
    from pssc_sim.conformance import scaled_error as error_of

    columns = {_column_key(str(c)): frame[c].to_numpy(dtype=float) for c in frame.columns}
    times = frame.index.to_numpy(dtype=float)
    errors: dict[str, tuple[float, float]] = {}
    for output in outputs:
        expected = read_canonical(output)
        rows = align_times(times, expected.index.to_numpy(dtype=float))
        for column in expected.columns:
            key = _column_key(str(column))
            if key in errors or is_internal(str(column)):
                continue
            if key not in columns or (rows < 0).any():
                errors[key] = (np.inf, np.inf)
                continue
            got, want = columns[key][rows], expected[column].to_numpy(dtype=float)
            keep = ~np.isnan(want)
            errors[key] = (
                float(np.max(error_of(got[keep], want[keep]), initial=0.0)),
                float(np.max(error_of(got[keep], want[keep], rtol=LOOSE, atol=LOOSE), initial=0.0)),
            )
    return errors
