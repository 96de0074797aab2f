"""What every integration method is given besides the model: tolerances, chunking, progress."""

from __future__ import annotations

from dataclasses import dataclass

from pssc_sim.integrate.progress import Progress
from pssc_sim.integrate.storage import Allocate, in_memory


@dataclass(frozen=True, slots=True)
class SolverOptions:
    """Tolerances, chunking, the progress callback, where the outputs are kept and the back
    end, shared by the methods (fixed-step methods ignore tolerances; adaptive methods run on
    numpy whatever ``backend``, which :func:`~pssc_sim.integrate.backends.choose_backend` has
    resolved to ``numpy`` or ``numba``)."""

    rtol: float = 1e-6
    atol: float = 1e-9
    chunk: int = 4096
    progress: Progress | None = None
    allocate: Allocate = in_memory
    backend: str = "numpy"
    #: On the numba back end, whether ensembles run on the block loop (see
    #: :func:`~pssc_sim.integrate.backends.runs_blocks`) or on the member loop.
    blocks: bool = True
    #: The run's index of the first member given (a block of a larger run on a cluster): what
    #: messages about a member count from.
    first_member: int = 0
