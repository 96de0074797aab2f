"""The folder of compiled kernels kept between processes.

A compiled-loop module (:mod:`pssc_sim.compile.loop`) is written to ``kernel_<key>.py`` in this
folder (and, built ahead of time, as the extension module ``kernel_<key>`` beside it: see
:mod:`pssc_sim.compile.aot`), where ``<key>`` is a hash of its source and of the versions that
compile it (numba, numpy, Python); numba keeps the machine code of its functions beside it
(``__pycache__``), so a second process with the same model loads them instead of compiling.
The source is generated again each time and checked before it runs
(:mod:`pssc_sim.compile.guard`); the file is only numba's key to its cache.

The folder is ``PSSC_CACHE_DIR`` when set, else ``$XDG_CACHE_HOME/pssc_sim``, else
``~/.cache/pssc_sim``. ``pssc cache clear`` empties it.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import platform
import shutil
import tempfile
from pathlib import Path

#: The environment variable naming the cache folder.
ENVIRONMENT = "PSSC_CACHE_DIR"
#: Bumped when the layout of the generated module or of the cache changes.
FORMAT = "1"
_PREFIX = "kernel_"


@functools.cache
def numba_version() -> str | None:
    """The version of numba installed, or ``None`` (numba is not imported to find it; the
    answer is kept for the process)."""
    if importlib.util.find_spec("numba") is None:
        return None
    from importlib import metadata  # reads the package's files: only where numba is installed

    try:
        return metadata.version("numba")
    except metadata.PackageNotFoundError:
        return None


def backend_status() -> str:
    """One line saying which back ends this installation has (cheap: ``pssc --version`` says
    it without loading the compile stage).

    Examples
    --------
    >>> backend_status().startswith("back ends: numpy")
    True
    """
    version = numba_version()
    if version is None:
        return "back ends: numpy (numba is not installed: pip install 'pssc_sim[fast]' for it)"
    return f"back ends: numpy, numba {version} (compiled fixed-step loops)"


def cache_dir() -> Path:
    """The folder of compiled kernels (not created here).

    Examples
    --------
    >>> import os
    >>> os.environ["PSSC_CACHE_DIR"] = "/tmp/example-cache"
    >>> cache_dir().as_posix()
    '/tmp/example-cache'
    >>> del os.environ["PSSC_CACHE_DIR"]
    """
    chosen = os.environ.get(ENVIRONMENT)
    if chosen:
        return Path(chosen).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pssc_sim"


def cache_key(source: str, *versions: str) -> str:
    """The key of a module: a hash of its source, the cache format and ``versions``."""
    import hashlib  # loads OpenSSL: only where a compiled loop is looked for

    digest = hashlib.sha256()
    for part in (FORMAT, platform.python_version(), *versions, source):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:40]


def module_path(key: str) -> Path:
    """Where the module with ``key`` is kept."""
    return cache_dir() / f"{_PREFIX}{key}.py"


def store(source: str, key: str) -> Path | None:
    """Write ``source`` as the module ``key`` unless it is there; its path, or ``None`` when
    the folder cannot be written (the kernel is then compiled in memory only)."""
    path = module_path(key)
    try:
        if path.is_file() and path.read_text(encoding="utf-8") == source:
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        # written whole then renamed: another process never reads half a module
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp_", suffix=".py")
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(source)
        os.replace(temporary, path)
    except OSError:
        return None
    return path


def is_stored(key: str) -> bool:
    """Whether the module ``key`` and numba's machine code for it are in the folder."""
    path = module_path(key)
    return path.is_file() and any((path.parent / "__pycache__").glob(f"{path.stem}.*.nbi"))


def clear_cache() -> int:
    """Remove every kept module and its machine code; the number of files removed.

    Only files this cache writes are removed (``kernel_*`` modules, the extension modules
    built ahead of time and their locks, and numba's files for them).
    """
    from importlib.machinery import EXTENSION_SUFFIXES

    folder = cache_dir()
    removed = 0
    patterns = (f"{_PREFIX}*.py", ".tmp_*.py", f"{_PREFIX}*{EXTENSION_SUFFIXES[0]}")
    for pattern in (*patterns, f"{_PREFIX}*.building"):
        for path in folder.glob(pattern):
            path.unlink(missing_ok=True)
            removed += 1
    for path in folder.glob(".tmp_aot_*"):
        shutil.rmtree(path, ignore_errors=True)
    compiled = folder / "__pycache__"
    for path in compiled.glob(f"{_PREFIX}*"):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed += 1
    if compiled.is_dir() and not any(compiled.iterdir()):
        compiled.rmdir()
    return removed
