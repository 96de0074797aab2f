"""The benchmark model: a ring of 100 stocks with first-order, nonlinear flows.

Stock ``s{i}`` drains into ``s{i+1}`` (the last into the first, so the ring conserves its total)
through ``f{i} = MIN(k{i%10} * s{i} * a{i} * policy, max_flow)``, where the auxiliary ``a{i}``
is, by ``i % 3``, a lookup of the load ``s{i} / capacity``, an IF_THEN_ELSE on a threshold, or a
MAX. ``policy`` switches at time 10. 100 stocks, 100 flows, 101 auxiliaries, 14 parameters.

The same equations are available three ways: as the YAML model text (:func:`model_yaml`), as a
hand-written numpy Euler loop (:func:`hand_euler` and :func:`hand_euler_matrix`), and as a Vensim
``.mdl`` text (:func:`model_mdl`).
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np

N_STOCKS = 100
N_RATES = 10
START, STOP, DT = 0.0, 50.0, 0.25
LOOKUP = ((0.0, 1.0), (0.5, 0.9), (1.0, 0.5), (2.0, 0.1))
PARAMETERS = {
    **{f"k{j}": 0.05 + 0.01 * j for j in range(N_RATES)},
    "capacity": 150.0,
    "max_flow": 12.0,
    "threshold": 120.0,
    "boost": 1.5,
}
N_STEPS = math.ceil((STOP - START) / DT)


def initial(i: int) -> float:
    """Initial value of stock ``s{i}``."""
    return 50.0 + (i * 37) % 101


def _auxiliary(i: int) -> str:
    if i % 3 == 0:
        return f"load(s{i} / capacity)"
    if i % 3 == 1:
        return f"IF_THEN_ELSE(s{i} > threshold, 1.2, 0.8)"
    return f"MAX(0.2, 1 - s{i} / capacity)"


def model_yaml() -> str:
    """The model in pssc_sim's YAML format."""
    lines = [
        "model: ring100",
        "title: Benchmark ring of 100 stocks",
        f"time: {{start: {START}, stop: {STOP}, dt: {DT}}}",
        "parameters:",
    ]
    lines += [f"  {name}: {value!r}" for name, value in PARAMETERS.items()]
    lines.append("stocks:")
    lines += [f"  s{i}: {initial(i)!r}" for i in range(N_STOCKS)]
    lines.append("flows:")
    for i in range(N_STOCKS):
        target = (i + 1) % N_STOCKS
        rate = f"MIN(k{i % N_RATES} * s{i} * a{i} * policy, max_flow)"
        lines.append(f"  f{i}: {{from: s{i}, to: s{target}, rate: '{rate}'}}")
    lines.append("auxiliaries:")
    lines.append("  policy: IF_THEN_ELSE(TIME > 10, boost, 1)")
    lines += [f"  a{i}: '{_auxiliary(i)}'" for i in range(N_STOCKS)]
    lines.append("lookups:")
    points = ", ".join(f"[{x!r}, {y!r}]" for x, y in LOOKUP)
    lines.append(f"  load: {{points: [{points}]}}")
    return "\n".join(lines) + "\n"


def write_model(folder: Path | None = None) -> Path:
    """Write the YAML model to ``folder`` (a new temporary folder by default)."""
    folder = folder or Path(tempfile.mkdtemp(prefix="pssc_bench_"))
    path = folder / "ring100.yaml"
    path.write_text(model_yaml())
    return path


def parameter_rows(members: int, seed: int = 1) -> dict[str, np.ndarray]:
    """Per-member values of ``k0``: a spread around its default, the rest at their defaults."""
    rng = np.random.default_rng(seed)
    return {"k0": PARAMETERS["k0"] * rng.uniform(0.5, 1.5, members)}


def hand_euler(params: dict[str, np.ndarray], members: int) -> np.ndarray:
    """Hand-written Euler loop, one equation at a time, vectorised over members.

    Returns the final stocks ``(N_STOCKS, members)``.
    """
    values = {name: np.full(members, value) for name, value in PARAMETERS.items()}
    values.update(params)
    k = [values[f"k{j}"] for j in range(N_RATES)]
    capacity, max_flow = values["capacity"], values["max_flow"]
    threshold, boost = values["threshold"], values["boost"]
    xs, ys = np.array([p[0] for p in LOOKUP]), np.array([p[1] for p in LOOKUP])
    y = np.array([np.full(members, initial(i)) for i in range(N_STOCKS)])
    flows = np.empty_like(y)
    for step in range(N_STEPS):
        t = START + step * DT
        h = min(DT, STOP - t)
        policy = boost if t > 10 else 1.0
        for i in range(N_STOCKS):
            s = y[i]
            if i % 3 == 0:
                a = np.interp(s / capacity, xs, ys)
            elif i % 3 == 1:
                a = np.where(s > threshold, 1.2, 0.8)
            else:
                a = np.maximum(0.2, 1 - s / capacity)
            np.minimum(k[i % N_RATES] * s * a * policy, max_flow, out=flows[i])
        flows *= h
        y -= flows
        y[1:] += flows[:-1]
        y[0] += flows[-1]
    return y


def hand_euler_matrix(params: dict[str, np.ndarray], members: int) -> np.ndarray:
    """Hand-written Euler loop on the whole state at once: ``(N_STOCKS, members)`` arrays.

    Uses the ring's regular structure (every third stock has the same kind of auxiliary), which
    a general engine cannot assume. Returns the final stocks.
    """
    values = {name: np.full(members, value) for name, value in PARAMETERS.items()}
    values.update(params)
    rates = np.array([values[f"k{i % N_RATES}"] for i in range(N_STOCKS)])
    capacity, max_flow = values["capacity"], values["max_flow"]
    threshold, boost = values["threshold"], values["boost"]
    xs, ys = np.array([p[0] for p in LOOKUP]), np.array([p[1] for p in LOOKUP])
    y = np.array([np.full(members, initial(i)) for i in range(N_STOCKS)])
    a = np.empty_like(y)
    for step in range(N_STEPS):
        t = START + step * DT
        h = min(DT, STOP - t)
        load = y / capacity
        a[0::3] = np.interp(load[0::3], xs, ys)
        a[1::3] = np.where(y[1::3] > threshold, 1.2, 0.8)
        a[2::3] = np.maximum(0.2, 1 - load[2::3])
        flows = rates * y * a
        if t > 10:
            flows *= boost
        np.minimum(flows, max_flow, out=flows)
        flows *= h
        y -= flows
        y[1:] += flows[:-1]
        y[0] += flows[-1]
    return y


def model_mdl() -> str:
    """The model as Vensim ``.mdl`` text (equations only, no sketch)."""

    def eq(name: str, text: str) -> str:
        return f"{name} = \n\t{text}\n\t~\t\n\t~\t\n\t|\n"

    parts = ["{UTF-8}\n"]
    for name, value in PARAMETERS.items():
        parts.append(eq(name, repr(value)))
    points = ",".join(f"({x!r},{y!r})" for x, y in LOOKUP)
    parts.append(f"load(\n\t[(0,0)-(2,1)],{points})\n\t~\t\n\t~\t\n\t|\n")
    parts.append(eq("policy", "IF THEN ELSE(Time > 10, boost, 1)"))
    for i in range(N_STOCKS):
        source = (i - 1) % N_STOCKS
        parts.append(eq(f"s{i}", f"INTEG(f{source} - f{i}, {initial(i)!r})"))
        parts.append(eq(f"f{i}", f"MIN(k{i % N_RATES} * s{i} * a{i} * policy, max_flow)"))
        if i % 3 == 0:
            aux = f"load(s{i} / capacity)"
        elif i % 3 == 1:
            aux = f"IF THEN ELSE(s{i} > threshold, 1.2, 0.8)"
        else:
            aux = f"MAX(0.2, 1 - s{i} / capacity)"
        parts.append(eq(f"a{i}", aux))
    parts += [
        eq("INITIAL TIME", repr(START)),
        eq("FINAL TIME", repr(STOP)),
        eq("TIME STEP", repr(DT)),
        eq("SAVEPER", "TIME STEP"),
    ]
    return "".join(parts)
