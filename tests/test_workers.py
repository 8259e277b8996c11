"""Parallel loops run wherever Python runs, give the same numbers as in this process, and fail fast.

Each way of running is a real subprocess: a script without a main guard, ``python -c``, standard
input, a Jupyter kernel and a (daemonic) Dask worker. Each computes NPLM toys on two worker
processes and must give the in-process toys' t values to the last bit; in the Dask worker,
event generation on two workers must also give the events generated in this process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from hepsift import nplm
from hepsift.errors import ConfigurationError, DataError, WorkerError

# small and fast: kernel mode, few centres, 4 toys on 2 workers
SETUP = """\
import json
import numpy as np
from hepsift import nplm
reference = np.random.default_rng(11).exponential(size=(1500, 1))
def toys(n_jobs):
    null = nplm.calibrate(reference, 100, 4, seed=7, mode="kernel", n_centers=30, n_jobs=n_jobs, progress=False)
    return null.t.tolist()
"""
SCRIPT = SETUP + 'print("T=" + json.dumps(toys(2)))\n'  # no `if __name__ == "__main__":` guard


@pytest.fixture(scope="module")
def expected() -> np.ndarray:
    """The toys computed in this process (n_jobs=1: no worker at all)."""
    reference = np.random.default_rng(11).exponential(size=(1500, 1))
    return nplm.calibrate(reference, 100, 4, seed=7, mode="kernel", n_centers=30, n_jobs=1, progress=False).t


def _env(tmp_path: Path) -> dict[str, str]:
    # the child imports the same hepsift as this process; Jupyter keeps its files in tmp_path
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "jupyter"),
        "JUPYTER_DATA_DIR": str(tmp_path / "jupyter"),
        "PYTHONUNBUFFERED": "1",
    }


def _t_values(stdout: str) -> np.ndarray:
    lines = [ln for ln in stdout.splitlines() if ln.startswith("T=")]
    assert lines, f"no result line in the output:\n{stdout}"
    return np.array(json.loads(lines[-1][2:]))


def _run(args: list[str], tmp_path: Path, **kw: object) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(args, capture_output=True, text=True, cwd=tmp_path, env=_env(tmp_path), timeout=180, **kw)
    assert out.returncode == 0, out.stderr[-3000:]
    return out


def test_script_without_main_guard(tmp_path: Path, expected: np.ndarray) -> None:
    (tmp_path / "toys.py").write_text(SCRIPT)
    out = _run([sys.executable, "toys.py"], tmp_path)
    np.testing.assert_array_equal(_t_values(out.stdout), expected)
    assert out.stdout.count("T=") == 1, "the workers must not run the script again"


def test_python_c(tmp_path: Path, expected: np.ndarray) -> None:
    out = _run([sys.executable, "-c", SCRIPT], tmp_path)
    np.testing.assert_array_equal(_t_values(out.stdout), expected)


def test_standard_input(tmp_path: Path, expected: np.ndarray) -> None:
    out = _run([sys.executable, "-"], tmp_path, input=SCRIPT)
    np.testing.assert_array_equal(_t_values(out.stdout), expected)


def test_jupyter_kernel(tmp_path: Path, expected: np.ndarray) -> None:
    pytest.importorskip("ipykernel")
    manager = pytest.importorskip("jupyter_client.manager")
    env = _env(tmp_path)
    km = manager.KernelManager(kernel_name="python3")
    km.start_kernel(env=env, cwd=str(tmp_path))
    try:
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=120)
        stdout: list[str] = []
        errors: list[str] = []

        def collect(msg: dict) -> None:
            if msg["msg_type"] == "stream" and msg["content"]["name"] == "stdout":
                stdout.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                errors.append("\n".join(msg["content"]["traceback"]))

        for cell in (SETUP, 'print("T=" + json.dumps(toys(2)))'):
            reply = kc.execute_interactive(cell, timeout=180, output_hook=collect)
            assert reply["content"]["status"] == "ok", "\n".join(errors)
        kc.stop_channels()
    finally:
        km.shutdown_kernel(now=True)
    np.testing.assert_array_equal(_t_values("".join(stdout)), expected)


def test_dask_worker(tmp_path: Path, expected: np.ndarray) -> None:
    """Toys and event generation on two workers each, from inside a (daemonic) Dask worker."""
    pytest.importorskip("distributed")
    pytest.importorskip("pythia8mc")
    pytest.importorskip("fastjet")
    driver = textwrap.dedent(
        """\
        import json, multiprocessing
        from distributed import Client, LocalCluster

        def job():
            exec(SETUP, globals())
            return multiprocessing.current_process().daemon, toys(2)

        def generation():
            import hepsift.events as gen
            return str(gen.generate("ttbar", events=20, seed=5, output="dask.root", chunk_size=10, workers=2,
                                    pythia_settings=["PartonLevel:MPI = off"], progress=False))

        if __name__ == "__main__":  # Dask's own worker processes need the guard
            with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0",
                              scheduler_kwargs={"dashboard": False}) as cluster:
                with Client(cluster) as client:
                    daemon, t = client.submit(job, pure=False).result(timeout=150)
                    client.submit(generation, pure=False).result(timeout=150)
            print("daemon=" + str(daemon))
            print("T=" + json.dumps(t))
        """
    )
    (tmp_path / "driver.py").write_text(f"SETUP = {SETUP!r}\n" + driver)
    out = _run([sys.executable, "driver.py"], tmp_path)
    assert "daemon=True" in out.stdout, "the jobs must run in a daemonic Dask worker process"
    np.testing.assert_array_equal(_t_values(out.stdout), expected)

    import awkward as ak
    import hepsift.events as gen
    from hepsift.io import read_root

    here = gen.generate("ttbar", events=20, seed=5, output=tmp_path / "here.root", chunk_size=10, workers=1,
                        pythia_settings=["PartonLevel:MPI = off"], progress=False)  # fmt: skip
    a, b = read_root(here), read_root(tmp_path / "dask.root")
    assert a.fields == b.fields and len(a) == 20
    for f in a.fields:
        assert np.array_equal(np.asarray(ak.flatten(a[f], axis=None)), np.asarray(ak.flatten(b[f], axis=None))), f


def test_one_job_runs_in_this_process() -> None:
    reference = np.random.default_rng(11).exponential(size=(1500, 1))
    calls: list[int] = []

    def record(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        calls.append(os.getpid())
        return x

    kw = dict(seed=7, mode="kernel", n_centers=30, progress=False, vary=record)
    nplm.calibrate(reference, 100, 3, n_jobs=1, **kw)
    assert calls == [os.getpid()] * 3  # (with more jobs they run elsewhere: see test_dead_worker_raises_at_once)


def _children() -> list[int]:
    psutil = pytest.importorskip("psutil")
    return [p.pid for p in psutil.Process().children(recursive=True)]


@pytest.mark.parametrize("how", ["SIGKILL", "SIGSEGV", "os._exit"])
def test_dead_worker_raises_at_once(how: str) -> None:
    reference = np.random.default_rng(11).exponential(size=(1500, 1))
    parent = os.getpid()

    def die(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if os.getpid() == parent:  # never in the test process itself
            raise AssertionError("the toy ran in the test process")
        if how == "SIGKILL":
            os.kill(os.getpid(), signal.SIGKILL)
        elif how == "SIGSEGV":
            import ctypes

            ctypes.string_at(0)  # a real segmentation fault
        else:
            os._exit(3)
        return x

    before = _children()
    start = time.monotonic()
    with pytest.raises(WorkerError) as err:
        nplm.calibrate(reference, 100, 6, seed=1, mode="kernel", n_centers=30, n_jobs=2, progress=False, vary=die)
    assert time.monotonic() - start < 60.0
    msg = str(err.value)
    assert "NPLM toy" in msg
    expect = {"SIGKILL": "killed by SIGKILL", "SIGSEGV": "killed by SIGSEGV", "os._exit": "exited with status 3"}[how]
    assert expect in msg
    if how == "SIGSEGV":
        assert "Fatal Python error" in msg and "in die" in msg  # the worker's own stack is quoted
    assert _children() == before, "the other worker was stopped"


def test_ctrl_c_stops_the_workers(tmp_path: Path) -> None:
    psutil = pytest.importorskip("psutil")
    script = (
        "import signal\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal, even if started in background\n"
        "import numpy as np\n"
        "from hepsift import nplm\n"
        "reference = np.random.default_rng(11).exponential(size=(1500, 1))\n"
        "nplm.calibrate(reference, 100, 10_000, mode='kernel', n_centers=30, n_jobs=2, progress=False)\n"
    )
    (tmp_path / "long.py").write_text(script)
    proc = subprocess.Popen(
        [sys.executable, "long.py"], cwd=tmp_path, env=_env(tmp_path), stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60.0
        workers: list = []
        while len(workers) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
            workers = psutil.Process(proc.pid).children()
        assert len(workers) == 2, "two workers should have started"
        time.sleep(1.0)  # let them run toys
        proc.send_signal(signal.SIGINT)
        start = time.monotonic()
        err = proc.communicate(timeout=30)[1]
        assert time.monotonic() - start < 10.0
    finally:
        proc.kill()
    assert "KeyboardInterrupt" in err
    _, alive = psutil.wait_procs(workers, timeout=5)
    assert not alive, "no worker outlives the interrupted loop"


def test_task_errors_keep_their_type_and_traceback() -> None:
    reference = np.random.default_rng(11).exponential(size=(1500, 1))

    def negative(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return -np.ones(x.shape[0])

    with pytest.raises(DataError, match="reweight function must return finite non-negative weights") as err:
        nplm.calibrate(reference, 100, 4, mode="kernel", n_centers=30, n_jobs=2, progress=False, reweight=negative)
    cause = str(err.value.__cause__)
    assert "in the worker process running NPLM toy" in cause and "in _toy" in cause


def test_unpicklable_function_is_refused() -> None:
    import threading

    reference = np.random.default_rng(11).exponential(size=(1500, 1))
    lock = threading.Lock()

    def locked(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        with lock:
            return x

    with pytest.raises(ConfigurationError, match="cannot be sent to worker processes"):
        nplm.calibrate(reference, 100, 4, mode="kernel", n_centers=30, n_jobs=2, progress=False, vary=locked)
    # in this process the same function is fine
    null = nplm.calibrate(reference, 100, 2, mode="kernel", n_centers=30, n_jobs=1, progress=False, vary=locked)
    assert null.n_toys == 2
