"""Writing files so that readers never see half of them, and nothing is left behind.

- :func:`atomic_path`: one file, written under a hidden temporary name in its own folder and
  moved over the final name in one step (:func:`os.replace`).
- :func:`file_set`: the whole set of files of one command (``results.csv``, ``results.png`` ...)
  written into a hidden staging folder inside the output folder, then moved in together while
  holding an exclusive :func:`fcntl.flock` on ``DIR/.pssc.lock``, with SIGINT and SIGTERM held
  back. Two commands writing into one folder at once leave one complete set; an interrupted
  command leaves the previous set. Files of the folder that the command does not write are
  never touched.
- :class:`~pssc_sim.errors.OutputError`: an operating-system error while writing, as one line
  that names the final file (never the temporary one) and what to do.

Temporary files and folders are removed on every exit path; a staging folder left by a killed
process (``kill -9``) is removed by the next command that writes into the same folder.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import shutil
import signal
import time
import uuid
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from pathlib import Path

from pssc_sim.errors import OutputError, ParameterError

#: The lock file of an output folder: it exists, held exclusively, only while a set of files is
#: moved in. A reader that needs a consistent set opens it (creating it), takes a shared lock,
#: and checks that the path still names the file it locked.
LOCK_NAME = ".pssc.lock"
#: Prefix of the hidden staging folders of :func:`file_set`.
STAGING_PREFIX = ".pssc-"
_STAGING_SUFFIX = ".tmp"
#: Age in seconds after which an unlocked staging folder counts as abandoned.
ABANDONED_AFTER_S = 60.0
#: The hidden temporary name :func:`atomic_path` gives a file.
_TEMPORARY = re.compile(r"\.(.+)\.[0-9a-f]{32}\.tmp")
_HELD_SIGNALS = {signal.SIGINT, signal.SIGTERM}

#: What each errno means for the person running the command, and what to do about it.
_REASONS: dict[int, tuple[str, str]] = {
    errno.ENOSPC: ("no space left on the device", "Free space or write to another folder"),
    errno.EDQUOT: ("the disk quota is exceeded", "Free space or write to another folder"),
    errno.EACCES: ("permission denied", "Write to a folder you can write to"),
    errno.EPERM: ("operation not permitted", "Write to a folder you can write to"),
    errno.EROFS: ("the file system is read-only", "Write to another folder"),
    errno.EFBIG: ("the file is too large for the file system", "Write to another folder"),
    errno.ENAMETOOLONG: ("the file name is too long", "Choose a shorter name"),
    errno.ENOENT: ("the folder does not exist", "Create the folder, or write to another one"),
    errno.ENOTDIR: ("a part of the path is a file, not a folder", "Write to a folder"),
    errno.EISDIR: ("a folder is in the way", "Give a file name, not a folder"),
}


def write_error(path: str | Path, error: OSError) -> OutputError:
    """``error`` raised while writing ``path``, as a one-line :class:`OutputError`.

    >>> import errno
    >>> full = OSError(errno.ENOSPC, "No space left on device")
    >>> print(write_error("out/results.csv", full))  # doctest: +ELLIPSIS
    out/results.csv: no space left on the device (got errno ENOSPC). Free space or write to ...
    """
    if isinstance(error, OutputError):
        return error
    code = error.errno or 0
    what, fix = _REASONS.get(
        code,
        (
            f"cannot be written ({(error.strerror or str(error)).lower()})",
            "Check the folder and its permissions",
        ),
    )
    name = errno.errorcode.get(code, str(code))
    return OutputError(Path(path), what, f"errno {name}", fix, code)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success move it over ``path``.

    The temporary file is removed on every exit path, ``path`` is left untouched when the body
    raises, and an :class:`OSError` becomes an :class:`OutputError` naming ``path``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "note.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("done")
    >>> target.read_text(), sorted(p.name for p in target.parent.iterdir())
    ('done', ['note.txt'])
    """
    final = Path(path)
    # A unique hidden name in the same folder: os.replace is atomic only within a file system.
    temporary = final.with_name(f".{final.name}.{uuid.uuid4().hex}.tmp")
    try:
        yield temporary
        os.replace(temporary, final)
    except OSError as error:
        raise write_error(final, error) from None
    finally:
        _clean_up(lambda: temporary.unlink(missing_ok=True))


@contextmanager
def file_set(folder: str | Path, names: Collection[str]) -> Iterator[Path]:
    """Stage the files of one command and move them into ``folder`` together.

    ``names`` are every file name the command may write into ``folder``. The body writes its
    files into the yielded staging folder under those names; on success each one written
    replaces the file of that name in ``folder``, and each one not written this time is removed
    from ``folder`` (what an earlier command left, so the folder never holds a mix of two runs).
    Other files in ``folder`` are never touched. On any exception, or SIGINT/SIGTERM, ``folder``
    is left as it was and the staging folder is removed.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (out / "b.csv").write_text("old")
    >>> with file_set(out, ["a.csv", "b.csv"]) as staging:
    ...     _ = (staging / "a.csv").write_text("new")
    >>> sorted(p.name for p in out.iterdir())
    ['a.csv']
    """
    target = Path(folder)
    unknown = [name for name in names if Path(name).name != name or name.startswith(".")]
    if unknown:
        raise ParameterError(
            f"names: file names without folders, not hidden (got {unknown}). "
            "Give names such as 'results.csv'"
        )
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise write_error(target, error) from None
    _remove_abandoned(target)
    staging = target / f"{STAGING_PREFIX}{uuid.uuid4().hex}{_STAGING_SUFFIX}"
    owner: list[int] = []  # the staging folder's descriptor, once open
    try:
        try:
            staging.mkdir()
            owner.append(os.open(staging, os.O_RDONLY))
            fcntl.flock(owner[0], fcntl.LOCK_EX)  # marks the staging folder as in use
        except OSError as error:
            raise write_error(target, error) from None
        try:
            yield staging
        except OutputError as error:
            raise error.moved_to(
                target / error.path.relative_to(staging)
                if error.path.is_relative_to(staging)
                else error.path
            ) from None
        except OSError as error:
            raise write_error(_final(target, staging, error.filename), error) from None
        _commit(staging, target, names)
    finally:
        _clean_up(lambda: _remove_staging(staging, owner))


def _remove_staging(staging: Path, owner: list[int]) -> None:
    while owner:
        os.close(owner.pop())
    shutil.rmtree(staging, ignore_errors=True)


def _clean_up(action: Callable[[], None]) -> None:
    """Run ``action`` with SIGINT and SIGTERM held back; if a signal struck just before they were
    held (its exception is already on its way), run it again before letting the exception go."""
    try:
        with _signals_held():
            action()
    except BaseException:
        action()
        raise


def _final(target: Path, staging: Path, filename: object) -> Path:
    """The final path of a file an error names: ``target/results.csv`` for
    ``staging/.results.csv.<hex>.tmp``, the folder itself when the error names no file."""
    if not isinstance(filename, (str, os.PathLike)):
        return target
    path = Path(filename)
    hidden = _TEMPORARY.fullmatch(path.name)
    name = hidden.group(1) if hidden else path.name
    return target / name if path.parent == staging else path.with_name(name)


def _commit(staging: Path, target: Path, names: Collection[str]) -> None:
    """Move the staged files into ``target`` under the folder's lock, signals held back."""
    with _signals_held(), _locked(target):
        for name in names:
            staged, final = staging / name, target / name
            try:
                if staged.exists():
                    os.replace(staged, final)
                else:
                    final.unlink(missing_ok=True)
            except OSError as error:
                raise write_error(final, error) from None


@contextmanager
def _locked(target: Path) -> Iterator[None]:
    """Hold the folder's lock file exclusively; remove it on the way out.

    The file is removed while still locked, so a command that was waiting on it finds, once it
    holds the lock, that the path names another file (or none) and starts again on a new one.
    """
    path = target / LOCK_NAME
    while True:
        try:
            handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise write_error(path, error) from None
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            current = os.stat(path).st_ino == os.fstat(handle).st_ino
        except FileNotFoundError:
            current = False
        if current:
            break
        os.close(handle)
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
        os.close(handle)  # closing releases the lock


def _remove_abandoned(target: Path) -> None:
    """Remove staging folders whose command died without cleaning up (no one holds their lock)."""
    for entry in target.glob(f"{STAGING_PREFIX}*{_STAGING_SUFFIX}"):
        try:
            if time.time() - entry.stat().st_mtime < ABANDONED_AFTER_S:
                continue  # perhaps created a moment ago, by a command not yet holding its lock
            handle = os.open(entry, os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # a running command owns it
        finally:
            os.close(handle)
        shutil.rmtree(entry, ignore_errors=True)


@contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back while the body runs (delivered when it ends)."""
    try:
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD_SIGNALS)
    except (OSError, ValueError):  # not available here: run the body unprotected
        yield
        return
    try:
        yield
    finally:
        with contextlib.suppress(OSError, ValueError):
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
