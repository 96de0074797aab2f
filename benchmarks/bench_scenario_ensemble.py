"""Cost per member of uncertainty ensembles of the SIR example, against PySD, and peak memory.

pssc_sim runs each ensemble (1 to 100,000 members, contact_rate, infectivity and duration drawn
on a Latin hypercube over their ranges in models/sir/model.yaml) as one vectorised
``simulate`` call; the cost per member should fall and then stay flat past the chunk size. PySD
runs the same model, exported from the IR as a Vensim ``.mdl`` text, one ``run()`` per member
for a few members (``pysd.read_vensim(path).run(params=...)``). Both use Euler at dt 0.125 over
30 days and save every day. Prints milliseconds per member, the ratio PySD / pssc_sim per member
(target: at least 2,000 from 1,000 members on, for a model under 30 variables), the peak memory
of the call (tracemalloc, which sees numpy's buffers) and the scenario path (``run_scenario``
with sampling) at 1,000 members. Times are CPU time of this process, the best of a few calls.

Run from the repository root: ``.venv/bin/python benchmarks/bench_scenario_ensemble.py``
(``--quick`` stops at 10,000 members).
"""

from __future__ import annotations

import sys
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import sympy
from harness import ROOT, best_time, machine

import pssc_sim as ps
from pssc_sim.ir.functions import variable_symbol

SIZES = (1, 10, 100, 1_000, 10_000, 100_000)
TIME = {"save_every": 1.0}
PYSD_MEMBERS = 5


def cpu_best(run: Callable[[], object], repeat: int = 3, budget: float = 5.0) -> float:
    """The least CPU time of up to ``repeat`` calls of ``run`` after one warm-up call."""
    return best_time(run, repeat, budget, clock=time.process_time)


def peak_memory(run: Callable[[], object]) -> int:
    """Peak bytes allocated during ``run`` as tracemalloc sees them."""
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# -- the SIR model as Vensim text -------------------------------------------------------------


def vensim_name(name: str) -> str:
    return name.replace("_", " ")


def vensim_expression(expr: sympy.Expr) -> str:
    """An arithmetic expression (sums, products, quotients of names and numbers) in Vensim."""
    allowed = (sympy.Add, sympy.Mul, sympy.Pow, sympy.Symbol, sympy.Number)
    if not all(isinstance(node, allowed) for node in sympy.preorder_traversal(expr)):
        raise ValueError(f"only arithmetic can be exported here (got {expr})")
    text = sympy.sstr(expr, order="none")
    for symbol in sorted(expr.free_symbols, key=lambda s: -len(s.name)):
        text = text.replace(symbol.name, vensim_name(symbol.name))
    return text.replace("**", "^")


def model_mdl(model: ps.Model, save_every: float) -> str:
    """``model`` (stocks, flows, auxiliaries, parameters) as a Vensim ``.mdl`` text."""

    def entry(name: str, text: str, units: str = "") -> str:
        return f"{vensim_name(name)} = \n\t{text}\n\t~\t{units}\n\t~\t\n\t|\n"

    parts = ["{UTF-8}\n"]
    parts += [entry(p.name, repr(p.value), p.meta.units) for p in model.parameters]
    for stock in model.stocks:
        net = sum(
            (variable_symbol(f.name) for f in model.flows if f.target == stock.name), sympy.S.Zero
        )
        net -= sum(
            (variable_symbol(f.name) for f in model.flows if f.source == stock.name), sympy.S.Zero
        )
        parts.append(
            entry(
                stock.name,
                f"INTEG({vensim_expression(net)}, {vensim_expression(stock.initial)})",
                stock.meta.units,
            )
        )
    parts += [entry(f.name, vensim_expression(f.rate), f.meta.units) for f in model.flows]
    parts += [entry(a.name, vensim_expression(a.equation), a.meta.units) for a in model.auxiliaries]
    time_block = model.time
    parts += [
        entry("INITIAL TIME", repr(time_block.start)),
        entry("FINAL TIME", repr(time_block.stop)),
        entry("TIME STEP", repr(time_block.dt)),
        entry("SAVEPER", repr(save_every)),
    ]
    return "".join(parts)


# -- the runs -----------------------------------------------------------------------------------


def parameter_sets(model: ps.Model, members: int, seed: int = 1) -> dict[str, np.ndarray]:
    """Latin-hypercube values of every parameter with a range (the scenario sampler's)."""
    from pssc_sim.scenario.runner import model_distribution
    from pssc_sim.scenario.sampling import sample

    ranged = {p.name: model_distribution(model, p) for p in model.parameters if p.range}
    return sample(ranged, "latin-hypercube", members, seed)


def time_pysd(model: ps.Model, folder: Path) -> float | str:
    """CPU seconds per PySD run (one member per run), or why PySD could not run."""
    try:
        import pysd
    except ImportError as error:
        return f"PySD is not installed ({error})"
    path = folder / "sir.mdl"
    path.write_text(model_mdl(model, TIME["save_every"]))
    values = parameter_sets(model, PYSD_MEMBERS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        translated = pysd.read_vensim(str(path))
        check = translated.run(progress=False)

        def run_all() -> None:
            for i in range(PYSD_MEMBERS):
                translated.run(
                    params={vensim_name(k): float(v[i]) for k, v in values.items()}, progress=False
                )

        seconds = cpu_best(run_all, repeat=2, budget=20.0) / PYSD_MEMBERS
    ours = ps.simulate(model, time=TIME)["infected"].to_numpy()
    difference = np.abs(check["infected"].to_numpy() - ours).max()
    print(
        f"PySD {pysd.__version__}: {seconds * 1e3:8.3f} ms per run (best of 2 x "
        f"{PYSD_MEMBERS} runs); max |infected - pssc_sim| over the default run {difference:.1e}"
    )
    return seconds


def main() -> None:
    quick = "--quick" in sys.argv
    model = ps.load_model(ROOT / "models" / "sir")
    print(
        f"bench_scenario_ensemble: SIR example ({len(model.visible_variables())} visible "
        f"variables), Euler dt 0.125, 0..30 days, saved daily; {machine()}"
    )
    pysd_seconds = time_pysd(model, Path(tempfile.mkdtemp(prefix="pssc_bench_")))
    if isinstance(pysd_seconds, str):
        print(pysd_seconds)
    print(
        f"\n{'members':>8} {'ms/member':>10} {'us/member-step':>15} {'vs PySD':>9} "
        f"{'peak MiB':>9} {'KiB/member':>10}"
    )
    for members in SIZES:
        if quick and members > 10_000:
            break
        values = parameter_sets(model, members)

        def run(values: dict[str, np.ndarray] = values) -> ps.Results:
            return ps.simulate(model, values, time=TIME)

        seconds = cpu_best(run, repeat=3 if members < 100_000 else 1)
        per_member = seconds / members
        peak = peak_memory(run)
        ratio = (
            f"{pysd_seconds / per_member:9.0f}"
            if not isinstance(pysd_seconds, str)
            else f"{'-':>9}"
        )
        print(
            f"{members:>8} {per_member * 1e3:10.4f} {per_member / 240 * 1e6:15.4f} {ratio} "
            f"{peak / 2**20:9.1f} {peak / members / 1024:10.2f}"
        )
    scenario = ROOT / "scenarios" / "sir" / "uncertain-distancing.yaml"
    seconds = cpu_best(lambda: ps.run_scenario(scenario))
    print(
        f"\nrun_scenario({scenario.relative_to(ROOT)}): 1,000 members with sampling and a "
        f"stepped intervention, rk4, saved every 0.5 day: {seconds * 1e3:.1f} ms "
        f"({seconds / 1000 * 1e3:.4f} ms/member)"
    )


if __name__ == "__main__":
    main()
