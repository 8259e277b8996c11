"""Ctrl-C and SIGTERM for the ``hepsift`` command, also while C++ holds the interpreter.

Python runs its signal handlers only between bytecodes, and an RDataFrame event loop is one
long C++ call made through cppyy with the interpreter lock held: a plain Python handler
would run only after the loop ends. :func:`install` sets Python handlers (SIGINT raises
``KeyboardInterrupt``, SIGTERM raises :class:`Terminated`) so that pure-Python work stops at
once and the ``with atomic_output(...)`` blocks remove their temporary files.
:func:`arm_native` (called once ROOT is loaded, before an event loop) adds a guard that does
not need the interpreter: Python's C-level handler writes the signal number to a pipe
(:func:`signal.set_wakeup_fd`), a C++ thread waiting on that pipe removes the temporary files
listed in :data:`hepsift._atomic.PENDING` and ends the process with ``_exit(128 + signal)``
(130 for SIGINT, 143 for SIGTERM). Previous outputs are never touched, as every write goes to
a temporary file first.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Any

from hepsift import _atomic, errors

__all__ = ["Terminated", "install", "arm_native", "EXIT_CODES"]

#: Exit status of the command for each signal.
EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


class Terminated(BaseException):
    """Raised in the main thread by SIGTERM (like ``KeyboardInterrupt`` for SIGINT)."""


_INSTALLED = False
_ARMED = False
_PIPE: tuple[int, int] | None = None



def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated()


def install() -> None:
    """Set the Python handlers (main thread only): SIGINT -> ``KeyboardInterrupt``, SIGTERM ->
    :class:`Terminated`. A signal that was ignored when the process started (``nohup``, a
    background job) stays ignored."""
    global _INSTALLED
    if _INSTALLED or threading.current_thread() is not threading.main_thread():
        return  # signal handlers can only be set from the main thread
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_IGN:
        signal.signal(signal.SIGTERM, _raise_terminated)
    # Forked workers (multiprocessing, the process pools of generate and of the toys) get the
    # usual handlers back: a pool stops its workers with SIGTERM, which must end them, and
    # they must not write their signals into the guard's pipe (a worker's SIGTERM would end us).
    os.register_at_fork(after_in_child=_forget_in_child)
    _INSTALLED = True


def arm_native(prefix: str = "hepsift") -> None:
    """Start the C++ guard that ends the process on SIGINT/SIGTERM even inside an event loop.

    Call from the main thread after :func:`install`, once ROOT is needed anyway (it declares the
    C++ guard of ``hepsift/SignalGuard.hxx`` to cling). ``prefix`` starts the one-line message on stderr. Idempotent.
    """
    global _ARMED, _PIPE
    if _ARMED or threading.current_thread() is not threading.main_thread():
        return
    install()
    from hepsift.rdf import load_library

    ROOT = load_library()
    if not ROOT.gInterpreter.Declare('#include "hepsift/SignalGuard.hxx"'):
        raise errors.ConfigurationError("cling could not compile hepsift's signal guard")
    guard = ROOT.hepsift.signalguard
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    _PIPE = (read_fd, write_fd)

    def mirror(action: str, path: str) -> None:
        (guard.add if action == "add" else guard.remove)(path)

    with _atomic._LOCK:
        for path in _atomic.PENDING:
            guard.add(path)
        _atomic._LISTENERS.append(mirror)
    guard.start(read_fd, os.dup(2), prefix)  # stderr as it is now, even if fd 2 is redirected later
    signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    # From now on the guard alone ends the process on a signal; Python handlers stay set
    # (the wakeup pipe is written only for signals with a Python handler) but do nothing, so
    # that the exit status and the message do not depend on which one runs first.
    for sig in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(sig) is not signal.SIG_IGN:
            signal.signal(sig, _ignore)
    _ARMED = True
    sys.stderr.flush()


def _ignore(signum: int, frame: Any) -> None:
    """Python-level handler while the native guard is armed (the guard acts)."""


def _forget_in_child() -> None:
    """In a forked child: no wake-up pipe, the usual handlers (the guard thread is not there)."""
    global _ARMED, _INSTALLED, _PIPE
    try:
        signal.set_wakeup_fd(-1)
        if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_IGN:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
    except ValueError:  # pragma: no cover - not the main thread of the child
        pass
    if _PIPE is not None:
        for fd in _PIPE:
            try:
                os.close(fd)
            except OSError:
                pass
    _ARMED, _INSTALLED, _PIPE = False, False, None
