"""An ensemble of 2,000 members in one call against 2,000 single runs one at a time.

For the teacup model (models/teacup) and the 100-stock model, recording the default outputs
(every visible variable at every saved time) and then two outputs only. Prints the time of each
and the ratio (single runs / ensemble); the target is at least 50. Times are CPU time of this
process (``time.process_time``), so other jobs on the machine disturb them less; the ensemble is
the median of five calls. For the 100-stock model the single runs are timed on a sample of 200
members and scaled to 2,000 (``--full`` runs all 2,000).
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np
from harness import ROOT, machine
from network_model import parameter_rows, write_model

import pssc_sim as ps

MEMBERS = 2_000


def compare(
    label: str,
    model: ps.Model,
    values: dict[str, np.ndarray],
    sample: int,
    outputs: list[str] | None = None,
) -> None:
    ps.simulate(model, values, outputs=outputs)  # compile and warm up
    calls = []
    for _ in range(5):
        start = time.process_time()
        ps.simulate(model, values, outputs=outputs)
        calls.append(time.process_time() - start)
    ensemble = statistics.median(calls)
    start = time.process_time()
    for i in range(sample):
        ps.simulate(model, {name: column[i] for name, column in values.items()}, outputs=outputs)
    single = (time.process_time() - start) * MEMBERS / sample
    scaled = "" if sample == MEMBERS else f" (from {sample} runs)"
    print(
        f"{label:>10}: ensemble {ensemble:8.3f} s, {MEMBERS} single runs {single:8.3f} s"
        f"{scaled}, one run {single / MEMBERS * 1e3:7.3f} ms, ratio {single / ensemble:6.1f}"
    )


def main() -> None:
    print(f"bench_ensemble: {MEMBERS} members; {machine()}")
    teacup = ps.load_model(ROOT / "models" / "teacup" / "model.yaml")
    times = {"characteristic_time": np.linspace(5.0, 20.0, MEMBERS)}
    ring = ps.load_model(write_model())
    sample = MEMBERS if "--full" in sys.argv else 200
    print("default outputs (every visible variable):")
    compare("teacup", teacup, times, MEMBERS)
    compare("ring100", ring, parameter_rows(MEMBERS), sample)
    print("two outputs:")
    compare("teacup", teacup, times, MEMBERS, ["teacup_temperature", "heat_loss"])
    compare("ring100", ring, parameter_rows(MEMBERS), sample, ["s0", "s50"])


if __name__ == "__main__":
    main()
