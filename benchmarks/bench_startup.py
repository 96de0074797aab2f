"""Start-up: how long a fresh process takes to import the package and to run a tiny model.

Each command runs in a new Python process (so nothing is cached in memory), several times, the
commands taking turns; the best wall time of each is printed, with its ratio to ``python -c
"import sympy"`` measured in the same run (the model reader needs sympy, so that is the floor a
command that reads a model can reach). Goals: ``pssc run models/teacup`` within 1.5x of
importing sympy, and ``pssc --version`` under 0.3 s.

The package's byte-code is written first, as installing it does (pip compiles on install), so
that a child process with ``PYTHONDONTWRITEBYTECODE`` set does not compile every module each time.
"""

from __future__ import annotations

import subprocess
import sys
import time

from harness import ROOT, machine

REPEAT = 7
COMMANDS = {
    "import sympy": [sys.executable, "-c", "import sympy"],
    "import pssc_sim": [sys.executable, "-c", "import pssc_sim"],
    "pssc --version": [sys.executable, "-m", "pssc_sim", "--version"],
    "pssc run models/teacup": [sys.executable, "-m", "pssc_sim", "run", "models/teacup"],
    "import pssc_sim; load + simulate teacup": [
        sys.executable,
        "-c",
        "import pssc_sim as ps; ps.simulate(ps.load_model('models/teacup'))",
    ],
}


def wall_time(command: list[str]) -> float:
    """The wall time of one run of ``command`` in a child process, in seconds."""
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def best_times(repeat: int = REPEAT) -> dict[str, float]:
    """The fastest run of each command; the commands take turns, so that a change in the load
    of the machine touches them all alike."""
    best = dict.fromkeys(COMMANDS, float("inf"))
    for _ in range(repeat):
        for name, command in COMMANDS.items():
            best[name] = min(best[name], wall_time(command))
    return best


def main() -> None:
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "pssc_sim")], check=True)
    print(f"start-up, best of {REPEAT} fresh processes ({machine()})")
    times = best_times()
    floor = times["import sympy"]
    for name, seconds in times.items():
        print(f"  {name:<42} {seconds:6.3f} s  {seconds / floor:5.2f}x import sympy")


if __name__ == "__main__":
    main()
