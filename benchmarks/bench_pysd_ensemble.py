"""Cost per member of an ensemble in pssc_sim against PySD running the same ``.mdl`` per member.

For each model, PySD runs the ``.mdl`` once (``pysd.read_vensim(path).run()``, best of a few
runs, translation not counted): a PySD ensemble costs that much per member. pssc_sim loads the
same file and runs 1,000 members in one vectorised ``simulate`` call (one parameter spread by
+-1 % across members, the stocks recorded at every saved time), timed the same way. Prints both
costs per member and the ratio PySD / pssc_sim. Targets: at least 300x for models of 10-300
variables, 2,000x under 30 variables (SIR from the suite) and 10,000x for the lookup-heavy
Workforce model.

Models: the suite's ``samples/SIR/SIR.mdl`` and ``samples/Workforce/workforce.mdl`` (read from
``../shared/test-models``, skipped when absent) and the generated 100-stock ring.

Run from the repository root: ``.venv/bin/python benchmarks/bench_pysd_ensemble.py``.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import numpy as np
from harness import ROOT, best_time, machine
from network_model import model_mdl

import pssc_sim as ps

SUITE = ROOT.parent / "shared" / "test-models"
MEMBERS = 1_000
#: Timed runs of each side (within a budget): on a shared machine the best of a few more runs is
#: a steadier estimate of each side's own cost.
REPEAT = 5


def pysd_seconds(path: Path) -> float | str:
    """Best time of one PySD run of ``path``, or why it could not run."""
    try:
        import pysd
    except ImportError as error:
        return f"PySD is not installed ({error})"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = pysd.read_vensim(str(path))
            return best_time(lambda: model.run(), repeat=REPEAT, budget=20.0)
    except Exception as error:  # report any PySD failure and go on
        return f"PySD failed: {type(error).__name__}: {error}"


def pssc_seconds_per_member(path: Path) -> tuple[float, int]:
    """Best time per member of a 1,000-member ensemble, and the number of variables."""
    model = ps.load_model(path)
    name = model.parameter_names[0]
    base = model.parameters[0].value or 1.0
    spread = {name: base * np.linspace(0.99, 1.01, MEMBERS)}
    stocks = [s.name for s in model.stocks if not s.hidden]
    ps.simulate(model, spread, outputs=stocks)  # compile outside the timing
    seconds = best_time(lambda: ps.simulate(model, spread, outputs=stocks), repeat=REPEAT)
    size = len(model.stocks) + len(model.flows) + len(model.auxiliaries)
    return seconds / MEMBERS, size


def main() -> None:
    print(f"bench_pysd_ensemble: {MEMBERS:,} members per pssc_sim call; {machine()}")
    with tempfile.TemporaryDirectory() as folder:
        ring = Path(folder) / "ring100.mdl"
        ring.write_text(model_mdl())
        models = {
            "SIR (suite)": SUITE / "samples" / "SIR" / "SIR.mdl",
            "Workforce (suite)": SUITE / "samples" / "Workforce" / "workforce.mdl",
            "ring100 (generated)": ring,
        }
        print(
            f"{'model':<22}{'variables':>10}{'PySD ms/run':>14}{'pssc ms/member':>16}{'ratio':>10}"
        )
        for label, path in models.items():
            if not path.is_file():
                print(f"{label:<22} skipped: {path} not found")
                continue
            per_member, size = pssc_seconds_per_member(path)
            reference = pysd_seconds(path)
            if isinstance(reference, str):
                print(f"{label:<22}{size:>10}  {reference}")
                continue
            print(
                f"{label:<22}{size:>10}{reference * 1e3:>14.2f}{per_member * 1e3:>16.4f}"
                f"{reference / per_member:>10,.0f}"
            )


if __name__ == "__main__":
    main()
