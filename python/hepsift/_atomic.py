"""Outputs that never destroy inputs: every file hepsift writes goes through here.

:func:`atomic_output` yields a temporary path in the destination's folder (same file
system, same extension, so ROOT and ONNX writers are happy) and moves it over the
destination with :func:`os.replace` only when the block succeeds. A failure, Ctrl-C or
SIGTERM leaves the previous file byte-identical and no temporary file behind.
:func:`check_output` refuses, before any work starts, an output that is one of the inputs
(same device and inode, so also through symbolic and hard links), an existing file
without ``overwrite``, a folder, or a path in a missing folder::

    with atomic_output("scored.root", inputs=["events.root"], overwrite=False) as tmp:
        df.Snapshot("Events", str(tmp))

Temporary files in use are listed in :data:`PENDING`; the signal guard of
:mod:`hepsift.cli._signals` removes them when the process is stopped by a signal while C++
code holds the interpreter.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from hepsift.errors import OutputError

__all__ = ["atomic_output", "check_output", "PENDING"]

#: Temporary files being written now (absolute paths).
PENDING: set[str] = set()
_LOCK = threading.Lock()
#: Called with ("add" | "remove", path) whenever PENDING changes (the native signal guard).
_LISTENERS: list[Callable[[str, str], None]] = []

_TMP_TAG = ".hepsift-tmp"


def _same_file(a: Path, b: Path) -> bool:
    try:
        sa, sb = os.stat(a), os.stat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def check_output(
    path: str | os.PathLike[str],
    *,
    inputs: Iterable[str | os.PathLike[str]] = (),
    overwrite: bool = False,
    make_parents: bool = False,
    what: str = "output",
) -> Path:
    """Refuse an output path that would destroy an input or an existing file.

    Parameters
    ----------
    path : path-like
        The file to be written.
    inputs : iterable of path-like
        Files the job reads; the output may not be any of them (same device and inode).
    overwrite : bool
        Allow replacing an existing file (never an input, never a folder).
    make_parents : bool
        Create missing parent folders; otherwise a missing folder is an error.
    what : str
        How the output is named in messages (e.g. ``"-o/--output"``).

    Returns
    -------
    pathlib.Path
        ``path`` as a Path.

    Raises
    ------
    hepsift.OutputError
        The output is an input, an existing file without ``overwrite``, a folder, or lies in
        a folder that does not exist or cannot be written.
    """
    dest = Path(path)
    for src in inputs:
        if _same_file(dest, Path(src)):
            how = "is" if os.path.abspath(src) == os.path.abspath(dest) else "is the same file as"
            raise OutputError(f"{what} '{dest}' {how} the input '{src}'; write the result to another file")
    if dest.is_dir():
        raise OutputError(f"{what} '{dest}' is a folder; give a file name")
    if dest.exists() or dest.is_symlink():
        if not overwrite:
            raise OutputError(f"{what} '{dest}' exists; pass --overwrite (overwrite=True) to replace it")
        if not dest.is_file():
            raise OutputError(f"{what} '{dest}' exists and is not a regular file")
    parent = dest.parent
    if not parent.is_dir():
        if parent.exists():
            raise OutputError(f"cannot write {what} '{dest}': '{parent}' is not a folder")
        if not make_parents:
            raise OutputError(f"cannot write {what} '{dest}': folder '{parent}' does not exist")
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create folder '{parent}' for {what} '{dest}': {exc.strerror or exc}") from exc
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {what} '{dest}': folder '{parent}' is not writable")
    return dest


def _track(action: str, path: str) -> None:
    with _LOCK:
        (PENDING.add if action == "add" else PENDING.discard)(path)
        for listener in _LISTENERS:
            listener(action, path)


@contextmanager
def atomic_output(
    path: str | os.PathLike[str],
    *,
    inputs: Iterable[str | os.PathLike[str]] = (),
    overwrite: bool = False,
    make_parents: bool = False,
    what: str = "output",
) -> Iterator[Path]:
    """Write ``path`` atomically: yield a temporary file next to it, replace ``path`` on success.

    The checks of :func:`check_output` run first (with the same arguments). The temporary
    file exists (empty) when the block starts and keeps the destination's extension
    (``.x.root.1a2b3c.hepsift-tmp.root``); writers may replace or recreate it. When the block
    raises (any exception, also ``KeyboardInterrupt``), the temporary file is removed and the
    destination is untouched. On success it gets the usual permissions (those of the file
    it replaces, else ``0666 & ~umask``) and is moved over the destination with
    :func:`os.replace`.

    Yields
    ------
    pathlib.Path
        The temporary path to write.

    Raises
    ------
    hepsift.OutputError
        See :func:`check_output`; also when the temporary file cannot be created, or the
        block finished without leaving a file there.
    """
    dest = check_output(path, inputs=inputs, overwrite=overwrite, make_parents=make_parents, what=what)
    ext = "".join(dest.suffixes[-1:])
    try:
        fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=_TMP_TAG + ext, dir=dest.parent)
        os.close(fd)
    except OSError as exc:
        raise OutputError(f"cannot write {what} '{dest}': {exc.strerror or exc}") from exc
    tmp = Path(name).absolute()
    _track("add", str(tmp))
    try:
        yield tmp
        if not tmp.is_file():
            raise OutputError(f"{what} '{dest}' was not written (the writer left no file)")
        try:
            mode = os.stat(dest).st_mode & 0o7777 if dest.is_file() else None
        except OSError:
            mode = None
        if mode is None:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        os.replace(tmp, dest)
    except BaseException:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
        raise
    finally:
        _track("remove", str(tmp))
