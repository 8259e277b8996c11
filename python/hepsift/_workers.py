"""Worker processes that run anywhere Python runs.

hepsift's parallel loops (NPLM toys, event generation) run their tasks in fresh interpreter
processes started with :mod:`subprocess`, never with :mod:`multiprocessing`:

- A ``spawn`` or ``forkserver`` child of :mod:`multiprocessing` first re-imports the parent's
  ``__main__`` module from its file. A script without an ``if __name__ == "__main__":`` guard
  then runs again in every worker (which starts workers of its own and breaks the pool), and a
  program read from standard input (``python - < script.py``) fails, since ``'<stdin>'`` is not
  a file. A ``fork`` child copies the parent's threads' locks (OpenMP, PyTorch, ROOT, a Jupyter
  kernel's I/O threads) in whatever state they are, which can deadlock.
- :mod:`multiprocessing` refuses to start any child from a daemonic process, which is what a
  Dask worker is.

Here each worker is ``sys.executable -c <bootstrap>``. The bootstrap reads the parent's
``sys.path`` from its standard input (so that whatever the parent could import, the worker can),
then serves tasks: the task function and the arguments common to all tasks arrive once, then one
``(index, item)`` at a time; the reply is the result or the exception with its traceback. Both
directions are pickle streams over the worker's own pipes; the function and the data travel
with ``cloudpickle``, so closures and functions defined in the caller's ``__main__`` (a script,
``python -c``, standard input, a notebook cell) work. The caller's ``__main__`` is never
imported. A worker's file descriptor 1 goes to a temporary file with its standard error, so
output of the task (or of C++ code it calls) cannot disturb the protocol; the last lines of it
are quoted when a worker dies.

A worker that dies (killed, segmentation fault, ``os._exit``) closes its end of the pipe: the
thread waiting on it sees end-of-file at once and the loop raises
:class:`~hepsift.errors.WorkerError` naming the task, the exit status and the worker's last
output; the other workers are killed. Nothing waits on a timeout.
"""

from __future__ import annotations

import os
import pickle
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import IO, Any

from hepsift.errors import ConfigurationError, HepsiftError, WorkerError

__all__ = ["map_unordered", "usable_cores"]

#: Runs in the worker before anything else: only the standard library is importable until the
#: parent's ``sys.path`` is in place.
_BOOTSTRAP = (
    "import os, pickle, sys\n"
    "inp, out = os.fdopen(os.dup(0), 'rb'), os.fdopen(os.dup(1), 'wb')\n"
    "sys.path[:] = pickle.load(inp)\n"
    "from hepsift._workers import _serve\n"
    "_serve(inp, out)\n"
)

_PROTOCOL = pickle.HIGHEST_PROTOCOL


class _RemoteTraceback(Exception):
    """Carries the formatted traceback of an exception raised in a worker (its ``__cause__``)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def usable_cores() -> int:
    """Number of CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def map_unordered(
    fn: Callable[..., Any],
    items: Iterable[Any],
    *,
    n_workers: int,
    common: tuple[Any, ...] = (),
    env: Mapping[str, str] | None = None,
    label: str = "task",
) -> Iterator[tuple[int, Any]]:
    """Run ``fn(item, *common)`` for every item in worker processes; yield results as they finish.

    Parameters
    ----------
    fn : callable
        Task function; it and ``common`` are sent to each worker once. It must be picklable by
        ``cloudpickle`` (module-level functions, closures, lambdas and functions of ``__main__``
        are).
    items : iterable
        Task arguments, one per task; each is sent to one worker when it is free.
    n_workers : int
        Number of worker processes (at least 1; at most one per item is started).
    common : tuple
        Further positional arguments, the same for every task (e.g. large arrays).
    env : mapping of str to str, optional
        Environment variables set in the workers on top of this process's environment.
    label : str
        What a task is, for error messages ("NPLM toy", "generation chunk").

    Yields
    ------
    (int, object)
        Position of the item in ``items`` and ``fn``'s return value, in the order tasks finish.

    Raises
    ------
    WorkerError
        A worker process died (signal, ``os._exit``, crash), could not start, or sent a reply
        that cannot be read. The other workers are killed first.
    ConfigurationError
        ``fn``, ``common`` or an item cannot be pickled, or this interpreter has no executable to
        start workers with (embedded Python): run the loop in this process instead.
    Exception
        Whatever ``fn`` raised in the worker, re-raised here with the worker's traceback as its
        ``__cause__`` (an exception that cannot be pickled becomes a :class:`WorkerError`
        holding that traceback).

    Notes
    -----
    Workers are plain subprocesses (``sys.executable -c ...``), never ``multiprocessing``
    children, so the loop works from a script without a main guard, ``python -c``, standard
    input, a Jupyter kernel and a daemonic process such as a Dask worker, and the caller's
    ``__main__`` is never imported. Closing the generator early (``contextlib.closing``
    around the loop, then an exception in the caller, a ``break`` or ``KeyboardInterrupt``)
    kills the workers.
    """
    import cloudpickle

    todo = list(enumerate(items))
    if not todo:
        return
    n_workers = max(1, min(int(n_workers), len(todo)))
    if not sys.executable or not os.path.exists(sys.executable):
        raise ConfigurationError(
            f"cannot start worker processes: this Python has no interpreter executable "
            f"(sys.executable = {sys.executable!r}, an embedded interpreter); run the {label}s in this "
            "process (one job / one worker)"
        )
    try:
        setup = cloudpickle.dumps((fn, tuple(common)), protocol=_PROTOCOL)
        payloads = [(i, cloudpickle.dumps(item, protocol=_PROTOCOL)) for i, item in todo]
    except Exception as exc:
        raise ConfigurationError(
            f"the {label} function or its arguments cannot be sent to worker processes ({exc}); "
            "use module-level functions and plain data, or run in this process (one job / one worker)"
        ) from exc

    names = [f"{label} {item}" if isinstance(item, int) else f"{label} #{i}" for i, item in todo]
    tasks: queue.SimpleQueue[tuple[int, bytes]] = queue.SimpleQueue()
    for p in payloads:
        tasks.put(p)
    results: queue.SimpleQueue[tuple[str, int, Any]] = queue.SimpleQueue()
    stop = threading.Event()
    workers = [_Worker(env) for _ in range(n_workers)]
    threads = [
        threading.Thread(target=w.run, args=(setup, tasks, results, stop, label, names), daemon=True)
        for w in workers
    ]
    finished = False
    try:
        for t in threads:
            t.start()
        for _ in range(len(payloads)):
            while True:  # a blocking get() would not see Ctrl-C until a result came
                try:
                    kind, index, value = results.get(timeout=0.2)
                    break
                except queue.Empty:
                    continue
            if kind != "ok":  # "raised": the task's own exception; "died": a WorkerError
                raise value
            yield index, value
        finished = True
    finally:
        stop.set()
        for w in workers:  # first tell every worker to go (end of input, or a kill) ...
            w.release(kill=not finished)
        for w in workers:  # ... then wait for them
            w.close()
        for t in threads:
            t.join(timeout=10.0)


class _Worker:
    """One worker process and the pipes to it (driven by one thread of the parent)."""

    def __init__(self, env: Mapping[str, str] | None) -> None:
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log: IO[bytes] | None = None
        self.lock = threading.Lock()
        self.closed = False

    def start(self) -> subprocess.Popen[bytes]:
        self.log = tempfile.TemporaryFile(prefix="hepsift-worker-")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _BOOTSTRAP],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            env=self.env,
            close_fds=True,
        )
        assert self.proc.stdin is not None
        pickle.dump([p for p in sys.path if isinstance(p, str)], self.proc.stdin, protocol=_PROTOCOL)
        return self.proc

    def run(
        self,
        setup: bytes,
        tasks: queue.SimpleQueue[tuple[int, bytes]],
        results: queue.SimpleQueue[tuple[str, int, Any]],
        stop: threading.Event,
        label: str,
        names: list[str],
    ) -> None:
        index = -1
        try:
            with self.lock:
                if self.closed:
                    return
                proc = self.start()
            assert proc.stdin is not None and proc.stdout is not None
            pickle.dump(("setup", setup), proc.stdin, protocol=_PROTOCOL)
            proc.stdin.flush()
            while not stop.is_set():
                try:
                    index, payload = tasks.get_nowait()
                except queue.Empty:
                    return
                pickle.dump(("task", index, payload), proc.stdin, protocol=_PROTOCOL)
                proc.stdin.flush()
                reply = pickle.load(proc.stdout)
                if reply[0] == "ok":
                    results.put(("ok", index, _loads(reply[2], names[index])))
                else:
                    results.put(("raised", index, _remote_exception(reply[2], reply[3], names[index])))
                    return
        except (EOFError, OSError, pickle.UnpicklingError) as exc:
            if not stop.is_set():
                what = f"while running {names[index]}" if index >= 0 else "before its first task"
                results.put(("died", index, self._death(label, what, exc)))
        except BaseException as exc:  # never leave the parent waiting on this thread
            if not stop.is_set():
                if isinstance(exc, HepsiftError):
                    err = exc
                else:
                    err = WorkerError(f"lost a worker process of the {label}s: {exc!r}")
                    err.__cause__ = exc
                results.put(("died", index, err))

    def _death(self, label: str, what: str, exc: BaseException) -> WorkerError:
        proc = self.proc
        code: int | None = None
        if proc is not None:
            try:
                code = proc.wait(timeout=5.0)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait()
        if code is None:
            how = f"could not be started ({exc})"
        elif code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            how = f"was killed by {name}"
        else:
            how = f"exited with status {code}"
        tail = self._log_tail()
        msg = f"a worker process {how} {what}; the {label}s were stopped"
        if tail:
            msg += f". Its last output:\n{tail}"
        err = WorkerError(msg)
        err.__cause__ = exc
        return err

    def _log_tail(self, n_chars: int = 2000) -> str:
        if self.log is None:
            return ""
        try:
            self.log.seek(0, os.SEEK_END)
            size = self.log.tell()
            self.log.seek(max(0, size - n_chars))
            return self.log.read().decode("utf-8", "replace").strip()
        except (OSError, ValueError):
            return ""

    def release(self, *, kill: bool) -> None:
        """Close the worker's input (it exits after its current task), or kill it."""
        with self.lock:
            self.closed = True
            proc = self.proc
        if proc is None:
            return
        if kill and proc.poll() is None:
            proc.kill()
        try:
            if proc.stdin is not None:
                proc.stdin.close()
        except OSError:
            pass

    def close(self) -> None:
        """Wait for the worker to exit (killing it after 10 s) and free its pipes and log."""
        proc = self.proc
        if proc is not None:
            try:
                proc.wait(timeout=10.0)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        if self.log is not None:
            self.log.close()


def _loads(data: bytes, name: str) -> Any:
    try:
        return pickle.loads(data)
    except Exception as exc:
        raise WorkerError(f"the result of {name} cannot be read back from its worker process: {exc}") from exc


def _remote_exception(data: bytes | None, tb: str, name: str) -> BaseException:
    """The exception a task raised in a worker, with the worker's traceback as its cause."""
    exc: BaseException | None = None
    if data is not None:
        try:
            exc = pickle.loads(data)
        except Exception:
            exc = None
    if not isinstance(exc, BaseException):
        exc = WorkerError(f"{name} failed in a worker process:\n{tb}")
    exc.__cause__ = _RemoteTraceback(f"\n\n(in the worker process running {name})\n{tb}")
    return exc


def _serve(inp: IO[bytes], out: IO[bytes]) -> None:
    """Worker side: read the task function, then tasks, from ``inp`` until it closes.

    ``inp`` and ``out`` are private duplicates of the pipes on file descriptors 0 and 1; those
    two are then pointed at the null device and at standard error, so that nothing the task
    reads or prints (from Python or C++) touches the protocol."""
    import faulthandler

    import cloudpickle

    faulthandler.enable()  # a crash in C code leaves the Python stack in the worker's output
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    sys.stdout.flush()
    os.dup2(2, 1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which stops us

    fn: Callable[..., Any] | None = None
    common: tuple[Any, ...] = ()
    while True:
        try:
            msg = pickle.load(inp)
        except EOFError:
            return
        if msg[0] == "setup":
            fn, common = cloudpickle.loads(msg[1])
            continue
        _, index, payload = msg
        try:
            assert fn is not None
            result = fn(cloudpickle.loads(payload), *common)
            reply: tuple[Any, ...] = ("ok", index, cloudpickle.dumps(result, protocol=_PROTOCOL))
        except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent
            tb = "".join(traceback.format_exception(exc))
            try:
                data: bytes | None = cloudpickle.dumps(exc, protocol=_PROTOCOL)
                pickle.loads(data)  # the parent must be able to rebuild it
            except BaseException:  # noqa: BLE001
                data = None
            reply = ("raised", index, data, tb)
        pickle.dump(reply, out, protocol=_PROTOCOL)
        out.flush()
