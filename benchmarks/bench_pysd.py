"""A single run of the 100-stock model in pssc_sim and in PySD, from the same equations.

The model is written as a Vensim ``.mdl`` text for PySD (``pysd.read_vensim(path).run()``) and
as YAML for pssc_sim. Prints both times (best of a few runs, translation and compilation not
counted) and their ratio. If PySD is missing or fails, says why and stops.
"""

from __future__ import annotations

import tempfile
import traceback
import warnings
from pathlib import Path

import numpy as np
from harness import best_time, machine
from network_model import N_STOCKS, model_mdl, write_model

import pssc_sim as ps


def run_pysd(folder: Path) -> tuple[float, np.ndarray] | str:
    """Best time of a PySD run and its final stocks, or why it could not run."""
    try:
        import pysd
    except ImportError as error:
        return f"PySD is not installed ({error})"
    path = folder / "ring100.mdl"
    path.write_text(model_mdl())
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = pysd.read_vensim(str(path))
            frame = model.run(progress=False)  # also the warm-up
            seconds = best_time(
                lambda: model.run(progress=False), repeat=2, budget=10.0, warm_up=False
            )
    except Exception:
        return "PySD failed:\n" + traceback.format_exc(limit=3)
    final = frame.iloc[-1]
    return seconds, np.array([final[f"s{i}"] for i in range(N_STOCKS)])


def main() -> None:
    print(f"bench_pysd: one run of the 100-stock model; {machine()}")
    folder = Path(tempfile.mkdtemp(prefix="pssc_bench_"))
    model = ps.load_model(write_model(folder))
    ours = best_time(lambda: ps.simulate(model), repeat=5)
    results = ps.simulate(model)
    final = np.array([results[f"s{i}"].iloc[-1] for i in range(N_STOCKS)])
    print(f"pssc_sim: {ours * 1e3:9.2f} ms (all 301 variables recorded every step)")
    outcome = run_pysd(folder)
    if isinstance(outcome, str):
        print(outcome)
        return
    theirs, pysd_final = outcome
    print(
        f"PySD:     {theirs * 1e3:9.2f} ms   ratio PySD / pssc_sim {theirs / ours:6.1f}   "
        f"max |diff| of final stocks {np.abs(final - pysd_final).max():.1e}"
    )


if __name__ == "__main__":
    main()
