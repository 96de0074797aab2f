"""Cost per member-step of pssc_sim (euler) on the 100-stock model, from 1 to 100,000 members.

Records two outputs only, so memory stays bounded. A flat column means no blow-up past the
chunk size. ``--chunks`` also sweeps the chunk size at 20,000 members (how DEFAULT_CHUNK was
chosen).
"""

from __future__ import annotations

import sys

from harness import best_time, machine
from network_model import parameter_rows, write_model

import pssc_sim as ps
from pssc_sim.integrate.fixed import DEFAULT_CHUNK

MEMBERS = (1, 10, 100, 1_000, 10_000, 100_000)
STOP = 25.0  # 100 Euler steps: half the model's run, to keep 100,000 members quick
OUTPUTS = ["s0", "s50"]


def per_member_step(model: ps.Model, members: int, chunk: int = DEFAULT_CHUNK) -> float:
    params = parameter_rows(members)
    repeat = 3 if members < 10_000 else 1
    seconds = best_time(
        lambda: ps.simulate(model, params, time={"stop": STOP}, outputs=OUTPUTS, chunk=chunk),
        repeat,
    )
    return seconds / (members * STOP / 0.25)


def main() -> None:
    model = ps.load_model(write_model())
    print(
        f"bench_scaling: 100-stock model, {int(STOP / 0.25)} Euler steps, chunk {DEFAULT_CHUNK}; "
        f"{machine()}"
    )
    costs = {members: per_member_step(model, members) for members in MEMBERS}
    reference = costs[1_000]
    print(f"{'members':>8} {'ns/member-step':>15} {'vs 1,000':>9}")
    for members, cost in costs.items():
        print(f"{members:>8} {cost * 1e9:>15,.0f} {cost / reference:>9.2f}")
    if "--chunks" in sys.argv:
        print(f"chunk sweep at 20,000 members:\n{'chunk':>8} {'ns/member-step':>15}")
        for chunk in (256, 512, 1024, 2048, 4096, 8192, 20_000):
            print(f"{chunk:>8} {per_member_step(model, 20_000, chunk) * 1e9:>15,.0f}")


if __name__ == "__main__":
    main()
