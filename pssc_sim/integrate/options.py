"""What every integration method is given besides the model: tolerances, chunking, progress."""

from __future__ import annotations

from dataclasses import dataclass

from pssc_sim.integrate.progress import Progress


@dataclass(frozen=True, slots=True)
class SolverOptions:
    """Tolerances, chunking and the progress callback shared by the methods (fixed-step methods
    ignore tolerances)."""

    rtol: float = 1e-6
    atol: float = 1e-9
    chunk: int = 4096
    progress: Progress | None = None
