"""pssc_sim (euler) against a hand-written numpy Euler loop of the same 100-stock model.

Prints member-steps per second of each at 1, 100, 1,000 and 10,000 members and the ratio
pssc_sim time / hand-written time (below 1: pssc_sim is faster). Two hand-written loops:
``per-equation`` writes the equations one by one, vectorised over members (the shape of any
model); ``whole-state`` also vectorises over the stocks, which only this regular ring allows.
"""

from __future__ import annotations

import numpy as np
from harness import best_time, machine
from network_model import (
    N_STEPS,
    N_STOCKS,
    hand_euler,
    hand_euler_matrix,
    parameter_rows,
    write_model,
)

import pssc_sim as ps

MEMBERS = (1, 100, 1_000, 10_000)


def final_stocks(results: ps.Results) -> np.ndarray:
    final = [results[f"s{i}"].to_numpy()[-1] for i in range(N_STOCKS)]
    return np.array(final).reshape(N_STOCKS, -1)


def main() -> None:
    model = ps.load_model(write_model())
    outputs = [f"s{i}" for i in range(N_STOCKS)]
    ps.simulate(model, outputs=outputs)  # compile once, outside the timings
    print(
        f"bench_kernel: 100 stocks, 100 flows, 101 auxiliaries, {N_STEPS} Euler steps; {machine()}"
    )
    print(
        f"{'members':>8} {'pssc_sim':>12} {'per-eq':>12} {'ratio':>6} {'whole':>12} {'ratio':>6}"
        "   (member-steps/s; ratio = pssc time / hand time)"
    )
    for members in MEMBERS:
        params = parameter_rows(members)
        repeat = 5 if members <= 1_000 else 2
        results = ps.simulate(model, params, outputs=outputs)
        error = np.abs(final_stocks(results) - hand_euler(params, members)).max()
        ours = best_time(lambda p=params: ps.simulate(model, p, outputs=["s0"]), repeat)
        hand = best_time(lambda p=params, m=members: hand_euler(p, m), repeat)
        whole = best_time(lambda p=params, m=members: hand_euler_matrix(p, m), repeat)
        rate = members * N_STEPS
        print(
            f"{members:>8} {rate / ours:>12,.0f} {rate / hand:>12,.0f} {ours / hand:>6.2f} "
            f"{rate / whole:>12,.0f} {ours / whole:>6.2f}   max |diff| {error:.1e}"
        )


if __name__ == "__main__":
    main()
