"""Compiled loops kept as extension modules: a later process loads one without numba.

The first process that runs a model on the numba back end compiles its loop just in time
(:func:`~pssc_sim.compile.loop.compile_loop`) and runs it; numba's ahead-of-time compiler
(``numba.pycc``) then writes the same loop as a Python extension module into the cache folder
(:mod:`pssc_sim.compile.cache`), ``kernel_<key>`` plus the interpreter's extension suffix, in a
child process started in the background (:func:`build_in_background`) or at ``pssc cache build
MODEL`` (:func:`build`). A later process with the same model loads that module with
``importlib`` from its path (the folder is never put on ``sys.path``) and calls its ``run``: it
imports neither numba nor llvmlite, and pays no compiling.

The module exports one function, ``run``, with the arguments of the generated ``run`` (see
:mod:`pssc_sim.compile.loop`), typed explicitly: :func:`signature` derives the types from the
arguments of a real call, which the background build is given. ``run`` calls the loop's own
``run``, compiled as the just-in-time back end compiles it (numpy's error model), so both give
the same bits. The machine code is for a generic CPU of the architecture (pycc's default), so
a cache folder may be shared between machines of one architecture.

What is loaded is machine code, trusted as the folder is: a module is loaded only from a file
owned by this user that neither group nor others can write, in a folder that neither group nor
others can write (as ``~/.cache`` is). Its name carries the key (its initialisation function is
``PyInit_kernel_<key>``), so a module copied under another key's name fails to load and the
loop is compiled again. A build compiles the source written beside it only when the hash of
that source is the one the parent process generated (and the source passes the check of
generated code, :mod:`pssc_sim.compile.guard`, before it runs).

numba 0.68 warns on ``import numba.pycc`` that the module is pending deprecation; that one
warning is silenced where it is imported (:func:`_pycc`), nothing else.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pssc_sim.compile.cache import cache_dir, module_path, numba_version
from pssc_sim.compile.loop import RUN_ARGUMENTS, load_loop, source_digest

__all__ = [
    "ENVIRONMENT",
    "build",
    "build_in_background",
    "extension_path",
    "is_built",
    "load",
    "signature",
    "source_digest",
]

#: The environment variable that turns the background build off (``PSSC_AOT=off``).
ENVIRONMENT = "PSSC_AOT"
#: Seconds after which the lock of a build that never finished is taken over.
STALE_LOCK_SECONDS = 1800.0
_CODES = {np.dtype(np.float64): "f8", np.dtype(np.int64): "i8", np.dtype(np.bool_): "b1"}
_TYPE = r"(?:f8|i8|b1)(?:\[:(?:, :)*\])?"
_SIGNATURE = re.compile(rf"b1\({_TYPE}(?:, {_TYPE})*\)")
_KEY = re.compile(r"[0-9a-f]{40}")
_DIGEST = re.compile(r"[0-9a-f]{64}")
#: The exported function: the generated ``run`` called with the same arguments.
_ENTRY_NAME = "entry"
_loaded: dict[str, Any] = {}
_children: dict[str, subprocess.Popen[bytes]] = {}
_tried: set[str] = set()


def signature(arguments: Sequence[object]) -> str | None:
    """The numba signature of a call of ``run`` with ``arguments`` (it returns whether every
    saved value is finite), or ``None`` when one of them has a type the module is not built
    for.

    Arrays of float64, int64 and bool of any layout (``f8[:, :]``), Python or numpy integers,
    floats and booleans.

    Examples
    --------
    >>> import numpy as np
    >>> signature([np.zeros(3), np.zeros((2, 2), dtype=np.int64), 3, 0.5, np.ones(2, bool)])
    'b1(f8[:], i8[:, :], i8, f8, b1[:])'
    >>> signature(["text"]) is None
    True
    """
    parts = []
    for value in arguments:
        if isinstance(value, np.ndarray):
            code = _CODES.get(value.dtype)
            if code is None or value.ndim == 0:
                return None
            parts.append(f"{code}[{', '.join([':'] * value.ndim)}]")
        elif isinstance(value, bool | np.bool_):
            parts.append("b1")
        elif isinstance(value, int | np.integer):
            parts.append("i8")
        elif isinstance(value, float | np.floating):
            parts.append("f8")
        else:
            return None
    return f"b1({', '.join(parts)})"


def extension_path(key: str) -> Path:
    """Where the extension module of the loop ``key`` is kept."""
    return cache_dir() / f"kernel_{key}{importlib.machinery.EXTENSION_SUFFIXES[0]}"


def _private(path: Path) -> bool:
    """Whether ``path`` is this user's and neither group nor others can write it."""
    info = path.stat()
    owner = getattr(os, "getuid", None)
    if owner is not None and info.st_uid != owner():
        return False
    return not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def is_built(key: str) -> bool:
    """Whether the extension module of the loop ``key`` is in the cache folder."""
    return bool(key) and extension_path(key).is_file()


def load(key: str) -> Any | None:
    """The ``run`` of the extension module of the loop ``key``, or ``None`` when there is none
    that may be loaded (not built, not private, or built for another key: see the module
    docstring). numba is not imported."""
    if key in _loaded:
        return _loaded[key]
    if not _KEY.fullmatch(key):
        return None
    path = extension_path(key)
    try:
        if not (path.is_file() and _private(path) and _private(path.parent)):
            return None
        spec = importlib.util.spec_from_file_location(f"kernel_{key}", path)
        if spec is None or spec.loader is None:
            return None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        function = module.run
    except (ImportError, OSError, AttributeError):
        return None
    _loaded[key] = function
    return function


def _pycc() -> Any:
    """numba's ahead-of-time compiler class, its pending-deprecation warning silenced."""
    from numba.core.errors import NumbaPendingDeprecationWarning

    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore",
            message="The 'pycc' module is pending deprecation",
            category=NumbaPendingDeprecationWarning,
        )
        from numba.pycc.cc import CC
    return CC


def build(source: str, key: str, types: str) -> Path:
    """Compile the loop module ``source`` (see :mod:`pssc_sim.compile.loop`) ahead of time as
    the extension module of ``key``, its ``run`` typed ``types`` (see :func:`signature`); its
    path. Needs numba and a C compiler (pycc links numba's helpers into the module); raises
    what they raise when they fail.
    """
    import numba

    if not _SIGNATURE.fullmatch(types) or not _KEY.fullmatch(key):
        raise ValueError(f"aot.build: not a key and a signature (got {key!r}, {types!r})")
    entry = f"def {_ENTRY_NAME}({RUN_ARGUMENTS}):\n    return run({RUN_ARGUMENTS})\n"
    jit = numba.njit(error_model="numpy")
    space = load_loop(f"{source}\n{entry}", jit, f"_pssc_sim_aot_{key}")
    compiler = _pycc()(f"kernel_{key}")
    target = extension_path(key)
    target.parent.mkdir(parents=True, exist_ok=True)
    folder = tempfile.mkdtemp(dir=target.parent, prefix=".tmp_aot_")
    try:
        compiler.output_dir = folder
        compiler.output_file = target.name
        compiler.export("run", types)(space[_ENTRY_NAME])
        compiler.compile()
        # written whole then renamed: another process never loads half a module
        os.replace(Path(folder) / target.name, target)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return target


def _lock(key: str) -> Path:
    return cache_dir() / f"kernel_{key}.building"


def build_in_background(
    key: str, arguments: Sequence[object], digest: str
) -> subprocess.Popen[bytes] | None:
    """Start a child process building the extension module of the loop ``key``, typed from
    ``arguments`` (those of a call of its ``run``: see :func:`signature`), from the source
    written to the cache folder, whose hash is ``digest``; the child, or ``None`` when none is
    started: this process tried already (each key once: later runs pay a set lookup), the
    module is there, ``PSSC_AOT=off``, or numba is missing. A build of the same module running
    in another process makes the child stop at once (a lock file).

    The child runs at a lower priority, in a session of its own, with no input or output; it
    outlives the process that started it if need be.
    """
    if key in _tried:
        return None
    _tried.add(key)
    types = signature(arguments)
    if (
        types is None
        or not key
        or os.environ.get(ENVIRONMENT, "").lower() == "off"
        or numba_version() is None
        or key in _loaded
        or is_built(key)
        or not module_path(key).is_file()
    ):
        return None
    environment = {**os.environ, "PSSC_CACHE_DIR": str(cache_dir())}
    child = subprocess.Popen(
        [sys.executable, "-m", "pssc_sim.compile.aot", key, types, digest],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env=environment,
    )
    _children[key] = child  # kept: a child is never collected while it runs
    return child


def main(arguments: Sequence[str]) -> int:
    """``python -m pssc_sim.compile.aot KEY SIGNATURE DIGEST``: the background build (0 when
    the module is built or was there, 1 when it is not built)."""
    if len(arguments) != 3:
        return 1
    key, types, digest = arguments
    if not (_KEY.fullmatch(key) and _SIGNATURE.fullmatch(types) and _DIGEST.fullmatch(digest)):
        return 1
    if hasattr(os, "nice"):
        os.nice(10)
    lock = _lock(key)
    try:
        handle = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        try:
            if time.time() - lock.stat().st_mtime < STALE_LOCK_SECONDS:
                return 0 if is_built(key) else 1  # another process is building it
            lock.unlink()
            handle = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except OSError:
            return 1
    except OSError:
        return 1
    os.close(handle)
    try:
        if is_built(key):
            return 0
        source = module_path(key).read_text(encoding="utf-8")
        if source_digest(source) != digest:
            return 1
        build(source, key, types)
        return 0
    except Exception:  # the build is an optimisation: any failure leaves the JIT path
        return 1
    finally:
        lock.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
