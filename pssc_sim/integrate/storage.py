"""Where a run keeps its recorded outputs: in memory, or, for an ensemble whose outputs are
larger than its memory limit, in a file mapped into memory.

The file is made in :func:`spill_folder` (the environment variable ``PSSC_SPILL_DIR``, else the
system's temporary folder), its blocks reserved at once with ``posix_fallocate`` (so that a full
disk is an error when the run starts, never a crash while it writes), and removed from the
folder as soon as it is mapped: nothing is left behind on any exit path, and the operating
system frees the space when the last array using it is gone. The operating system pages the
values in and out as the run writes a chunk of members and the summaries read one output at a
time, so memory holds only the pages in use.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from pssc_sim.errors import ParameterError

#: ``allocate(shape)``: an uninitialised float array of ``shape`` for a run's outputs.
Allocate = Callable[[tuple[int, ...]], np.ndarray]
#: The environment variable naming the folder of outputs kept on disk.
SPILL_ENVIRONMENT = "PSSC_SPILL_DIR"


def in_memory(shape: tuple[int, ...]) -> np.ndarray:
    """Outputs in memory (the default)."""
    return np.empty(shape)


def spill_folder() -> Path:
    """The folder of outputs kept on disk: ``PSSC_SPILL_DIR``, else the temporary folder."""
    return Path(os.environ.get(SPILL_ENVIRONMENT) or tempfile.gettempdir())


def free_space(folder: Path) -> int:
    """Bytes free in ``folder`` (0 when it cannot be read)."""
    try:
        return int(shutil.disk_usage(folder).free)
    except OSError:
        return 0


def on_disk(folder: Path | None = None) -> Allocate:
    """An allocator of outputs in a file of ``folder`` mapped into memory (see the module).

    Examples
    --------
    >>> values = on_disk()((3, 2, 4))
    >>> values[:] = 1.0
    >>> float(values.sum()), type(values).__name__
    (24.0, 'memmap')
    """
    where = spill_folder() if folder is None else folder

    def allocate(shape: tuple[int, ...]) -> np.ndarray:
        size = int(np.prod(shape)) * 8
        try:
            handle, name = tempfile.mkstemp(prefix=".pssc-outputs-", suffix=".f8", dir=where)
        except OSError as exc:
            raise ParameterError(
                f"{SPILL_ENVIRONMENT}: cannot keep the outputs of the run in {where} "
                f"({(exc.strerror or str(exc)).lower()}) (got '{where}'). Set "
                f"{SPILL_ENVIRONMENT} to a folder you can write to"
            ) from None
        try:
            if size:
                os.posix_fallocate(handle, 0, size)
            return np.memmap(name, dtype=float, mode="r+", shape=shape)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise ParameterError(
                    f"{SPILL_ENVIRONMENT}: the outputs of the run need {size / 1024**3:.3g} GiB "
                    f"on disk, more than is free in {where} (got {free_space(where) / 1024**3:.3g}"
                    f" GiB free). Run fewer members, record fewer outputs, save fewer times, or "
                    f"set {SPILL_ENVIRONMENT} to a larger disk"
                ) from None
            raise
        finally:
            os.close(handle)
            os.unlink(name)

    return allocate
