"""The Earth4All global model (Vensim, 2022): how long each stage takes, how many of Vensim's
series pssc_sim matches, and PySD on the same files.

``python benchmarks/bench_earth4all.py [--outputs DIR] [--pysd]``. The models and whole-year
outputs are ``tests/data/earth4all``; ``--outputs DIR`` compares with Vensim's full outputs
instead (``DIR/tltl/*.txt`` and ``DIR/gl/*.txt``, as in ``VensimOutput/`` of
github.com/worlddynamics/Earth4All.jl). ``--pysd`` also runs PySD on a copy of each model in
which the pink noise is its mean (its standard deviation is 0 in both scenarios; PySD does not
implement RANDOM PINK NOISE) and counts its series the same way.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from harness import ROOT, machine, pysd_errors

from pssc_sim.conformance import (
    compare_model,
)
from pssc_sim.integrate.simulate import simulate
from pssc_sim.parse.translate import translate
from pssc_sim.parse.translate.writer import read_translation

DATA = ROOT / "tests" / "data" / "earth4all"
MODELS = {"tltl": "E4A-global TLTL.mdl", "gl": "E4A-global GL.mdl"}
_NOISE = re.compile(r'RANDOM PINK NOISE\(\s*("Normal \(1\)")\s*,\s*"[^"]*"\s*,[^,]*,\s*\d+\s*\)')


def stages(model: Path) -> None:
    """Seconds of translating, reading, compiling with the first run, and a second run."""
    marks = [time.perf_counter()]
    translation = translate(model)
    marks.append(time.perf_counter())
    ir = read_translation(translation)
    marks.append(time.perf_counter())
    simulate(ir)
    marks.append(time.perf_counter())
    results = simulate(ir)
    marks.append(time.perf_counter())
    spans = np.diff(marks)
    print(
        f"  pssc_sim: translate {spans[0]:.1f} s, read {spans[1]:.1f} s, compile and run "
        f"{spans[2]:.1f} s, run again {spans[3]:.1f} s ({len(ir.stocks)} stocks, "
        f"{len(ir.flows)} flows, {len(ir.auxiliaries)} auxiliaries, "
        f"{len(results.times)} saved times)"
    )


def pysd_counts(model: Path, outputs: list[Path]) -> str:
    """PySD's run of ``model`` without its noise, counted as :func:`compare_model` counts."""
    try:
        import pysd
    except ImportError as error:
        return f"PySD is not installed ({error})"
    text = model.read_text(encoding="latin-1").replace("\\\r\n", "").replace("\\\n", "")
    folder = Path(tempfile.mkdtemp(prefix="pssc_e4a_"))
    copy = folder / model.name
    copy.write_text(_NOISE.sub(r"\1", text), encoding="latin-1")
    started = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = pysd.read_vensim(str(copy))
            read = time.perf_counter()
            frame = reader.run(progress=False)
    except Exception as error:  # PySD's failure is the result
        return f"PySD failed ({type(error).__name__}: {str(error)[:200]})"
    ran = time.perf_counter()
    errors = pysd_errors(frame, outputs)
    within = sum(e[0] <= 1 for e in errors.values())
    loose = sum(e[1] <= 1 for e in errors.values())
    return (
        f"PySD: {within}/{len(errors)} series within 1e-5, {loose}/{len(errors)} within "
        f"1e-3; translate {read - started:.1f} s, run {ran - read:.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outputs", type=Path, default=DATA)
    parser.add_argument("--pysd", action="store_true")
    args = parser.parse_args()
    print(f"bench_earth4all; {machine()}")
    for scenario, name in MODELS.items():
        model = DATA / name
        outputs = sorted((args.outputs / scenario).glob("*.txt"))
        print(f"{scenario}: {len(outputs)} output files from {args.outputs / scenario}")
        stages(model)
        for line in compare_model(model, outputs).lines(worst=5):
            print(f"  {line}")
        if args.pysd:
            print(f"  {pysd_counts(model, outputs)}")


if __name__ == "__main__":
    main()
