"""Scoring MLPs over ROOT files: hepsift inside RDataFrame against the alternatives.

Everything is measured in one process run and printed as events/s and ratios (the machines
are shared and noisy: absolute rates drift, ratios hold). Files and models are made once and
cached in bench/cache/.

Small model (8-64-64-1 MLP, 8 float branches, ``--events`` events, default 2 M), with one
thread and with ImplicitMT(2) (ONNX Runtime with 2 intra-op threads for the Python rows):

* hepsift per-event ``Define``, hepsift batched (``batch_size``, streamed: one event loop)
  and hepsift batched in two passes (``strategy="two-pass"``), file to histogram;
* RDataFrame reading the 8 branches alone (the I/O limit);
* uproot + ONNX Runtime in batches of 100k (what a Python user writes);
* ONNX Runtime on the whole feature matrix in memory (the compute limit);
* the combined limit 1 / (1/read + 1/compute) and hepsift batched as a fraction of it.

Large model (27 inputs, 4 x 512 sigmoid, compute-bound): hepsift batched and per-event
against ONNX Runtime in memory at the same thread count.

``--memory``: peak resident memory of scoring 1 M and 10 M events (per-event and streamed
batched: bounded; two-pass batched: 4 bytes per event for the score table), each in a fresh
process.

``--provider cuda``: the same with ONNX Runtime's CUDA provider (needs onnxruntime-gpu and a
GPU), for the large model at several batch sizes, against the CPU with two threads.

Usage::

    .venv/bin/python bench/rdf_scoring.py [--events 2000000] [--repeat 3] [--memory]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CACHE = HERE / "cache"


CLUSTER_EVENTS = 50_000  # entries per cluster (basket) of the bench files; --cluster-events


def make_file(n: int, n_branches: int) -> Path:
    """A TTree written by ROOT (RDataFrame Snapshot: ROOT's default ZSTD compression), with
    ``CLUSTER_EVENTS`` entries per cluster, of ``n_branches`` standard-normal float branches."""
    path = CACHE / f"bench_{n_branches}x{n}_c{CLUSTER_EVENTS}_root.root"
    if path.exists():
        return path
    import ROOT

    CACHE.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(42)
    columns = {f"x{i}": rng.normal(size=n).astype(np.float32) for i in range(n_branches)}
    opts = ROOT.RDF.RSnapshotOptions()
    opts.fAutoFlush = CLUSTER_EVENTS  # ImplicitMT parallelises over clusters: their size matters
    opts.fCompressionAlgorithm = ROOT.RCompressionSetting.EAlgorithm.kZSTD
    opts.fCompressionLevel = 5
    tmp = path.with_suffix(".tmp.root")
    ROOT.RDF.FromNumpy(columns).Snapshot("Events", str(tmp), ROOT.std.vector["std::string"](list(columns)), opts)
    os.replace(tmp, path)
    return path


def make_model(n_in: int, hidden: list[int], act: str) -> Path:
    import torch

    from hepsift.export import to_onnx

    path = CACHE / f"mlp_{n_in}_{'_'.join(map(str, hidden))}_1_{act}.onnx"
    if path.exists():
        return path
    torch.manual_seed(0)
    layers: list = []
    width = n_in
    for h in hidden:
        layers += [torch.nn.Linear(width, h), torch.nn.ReLU() if act == "relu" else torch.nn.Sigmoid()]
        width = h
    layers += [torch.nn.Linear(width, 1), torch.nn.Sigmoid()]
    return to_onnx(torch.nn.Sequential(*layers).eval(), path, feature_names=[f"x{i}" for i in range(n_in)])


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def rates(n: int, fns: dict[str, Callable[[], None]], repeat: int, once: tuple[str, ...] = ()) -> dict[str, float]:
    """Events/s of each alternative, best of ``repeat``. The alternatives take turns (round
    robin) so that a slow spell of the shared machine does not fall on one of them only;
    those in ``once`` run in the first round only (the slow ones)."""
    times: dict[str, list[float]] = {label: [] for label in fns}
    for r in range(repeat):
        for label, fn in fns.items():
            if r and label in once:
                continue
            t0 = time.perf_counter()
            fn()
            times[label].append(time.perf_counter() - t0)
    return {label: n / min(t) for label, t in times.items()}


class Bench:
    def __init__(self, path: Path, model: Path, n: int, threads: int, provider: str = "cpu") -> None:
        import hepsift.rdf

        self.rdf = hepsift.rdf
        self.ROOT = hepsift.rdf.load_library()
        self.path, self.model_path, self.n, self.threads = path, model, n, threads
        self.model = hepsift.rdf.Model(model, provider=provider)
        self.branches = self.model.feature_names
        # Typed (compiled-once) C++ for the RDataFrame-side work, so that no timing includes
        # cling's just-in-time compilation of string expressions.
        nb = len(self.branches)
        if not hasattr(self.ROOT, "hepsift_bench") or not hasattr(self.ROOT.hepsift_bench, f"read{nb}"):
            params = ", ".join(f"float x{i}" for i in range(nb))
            total = " + ".join(f"x{i}" for i in range(nb))
            self.ROOT.gInterpreter.Declare(f"""
namespace hepsift_bench {{
double read{nb}(ROOT::RDF::RNode df, const std::vector<std::string> &c)
{{ return df.Define("s", []({params}) {{ return {total}; }}, c).Sum<float>("s").GetValue(); }}
#ifndef HEPSIFT_BENCH_HISTO
#define HEPSIFT_BENCH_HISTO
double histo(ROOT::RDF::RNode n) {{ return n.Histo1D<float>({{"h", "", 50, 0., 1.}}, "score")->GetEntries(); }}
#endif
}}""")
        self._read = getattr(self.ROOT.hepsift_bench, f"read{nb}")
        self._cols = self.ROOT.std.vector["std::string"](self.branches)
        # Compile (cling) the per-event and batched definers once, outside the timings.
        warm = self.ROOT.RDataFrame("Events", str(path)).Range(10)
        hepsift.rdf.define(warm, "s", self.model).Count().GetValue()
        hepsift.rdf.define(self.ROOT.RDataFrame("Events", str(path)).Range(10), "s", self.model, batch_size=4)
        hepsift.rdf.define(self.ROOT.RDataFrame("Events", str(path)), "s", self.model, batch_size=4,
                           strategy="stream").Range(10).Count().GetValue()

    def hepsift(self, batch_size: int | None, strategy: str = "auto") -> None:
        df = self.ROOT.RDataFrame("Events", str(self.path))
        node = self.rdf.define(df, "score", self.model, batch_size=batch_size, strategy=strategy)
        assert self.ROOT.hepsift_bench.histo(node) == self.n

    def rdf_read(self) -> None:
        self._read(self.ROOT.RDF.AsRNode(self.ROOT.RDataFrame("Events", str(self.path))), self._cols)

    def session(self):
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = self.threads
        so.inter_op_num_threads = 1
        return ort.InferenceSession(str(self.model_path), so, providers=["CPUExecutionProvider"])

    def uproot_ort(self) -> None:
        import uproot

        sess = self.session()
        name = sess.get_inputs()[0].name
        hist = np.zeros(50)
        for batch in uproot.iterate(f"{self.path}:Events", self.branches, step_size=100_000, library="np"):
            X = np.stack([batch[b] for b in self.branches], axis=1)
            (y,) = sess.run(None, {name: X})
            hist += np.histogram(y[:, 0], bins=50, range=(0, 1))[0]
        assert hist.sum() == self.n

    def matrix(self) -> np.ndarray:
        import uproot

        X = uproot.open(f"{self.path}:Events").arrays(self.branches, library="np")
        return np.ascontiguousarray(np.stack([X[b] for b in self.branches], axis=1))

    def ort_memory(self, X: np.ndarray) -> None:
        sess = self.session()
        name = sess.get_inputs()[0].name
        for start in range(0, len(X), 100_000):
            sess.run(None, {name: X[start:start + 100_000]})


def table(title: str, rows: dict[str, float], ref_label: str) -> None:
    ref = rows[ref_label]
    print(f"\n== {title}")
    print(f"{'':44s} {'M events/s':>11s} {'/ ' + ref_label[:18]:>22s}")
    for label, rate in rows.items():
        print(f"{label:44s} {rate / 1e6:11.3f} {rate / ref:22.2f}")


def per_thread(path: Path, model: Path, n: int, title: str,
               measure: Callable[[Bench, np.ndarray], dict[str, float]]) -> dict[int, dict[str, float]]:
    """Runs ``measure(bench, feature_matrix)`` with one thread and with ImplicitMT(2), printing
    each table of rates against "hepsift batched"."""
    results: dict[int, dict[str, float]] = {}
    for threads in (1, 2):
        b = Bench(path, model, n, threads)
        if threads > 1:
            b.ROOT.EnableImplicitMT(threads)
        try:
            results[threads] = measure(b, b.matrix())
        finally:
            if threads > 1:
                b.ROOT.DisableImplicitMT()
        table(f"{title}, {'one thread' if threads == 1 else f'ImplicitMT({threads})'}", results[threads],
              "hepsift batched")
    return results


def small_model(n: int, repeat: int, batch: int) -> dict[int, dict[str, float]]:
    def measure(b: Bench, X: np.ndarray) -> dict[str, float]:
        rows = rates(n, {
            "hepsift batched": lambda: b.hepsift(batch),
            "hepsift batched, two passes": lambda: b.hepsift(8192, "two-pass"),
            "hepsift per-event": lambda: b.hepsift(None),
            "RDataFrame read of the inputs": b.rdf_read,
            "uproot + ONNX Runtime (100k batches)": b.uproot_ort,
            "ONNX Runtime in memory (100k batches)": lambda: b.ort_memory(X),
        }, repeat, once=("hepsift per-event",))
        rows["limit 1/(1/read + 1/in-memory)"] = 1.0 / (1.0 / rows["RDataFrame read of the inputs"]
                                                        + 1.0 / rows["ONNX Runtime in memory (100k batches)"])
        return rows

    results = per_thread(make_file(n, 8), make_model(8, [64, 64], "relu"), n,
                         f"8-64-64-1 MLP, {n} events, 8 float branches", measure)
    one, two = results[1], results[2]
    print("\nTargets:")
    for t, rows in results.items():
        print(f"  [{t} thread(s)] batched / uproot+ORT = "
              f"{rows['hepsift batched'] / rows['uproot + ONNX Runtime (100k batches)']:.2f} (>= 1), "
              f"batched / limit = {rows['hepsift batched'] / rows['limit 1/(1/read + 1/in-memory)']:.2f} (>= 0.70), "
              f"batched / per-event = {rows['hepsift batched'] / rows['hepsift per-event']:.1f}")
    print(f"  ImplicitMT(2) batched / one-thread batched = {two['hepsift batched'] / one['hepsift batched']:.2f} (>= 1.6)")
    return results


def large_model(n: int, repeat: int, batch: int) -> None:
    def measure(b: Bench, X: np.ndarray) -> dict[str, float]:
        return rates(n, {
            "hepsift batched": lambda: b.hepsift(batch),
            "hepsift batched, two passes": lambda: b.hepsift(8192, "two-pass"),
            "ONNX Runtime in memory (100k batches)": lambda: b.ort_memory(X),
            "hepsift per-event": lambda: b.hepsift(None),
        }, repeat, once=("hepsift per-event",))

    results = per_thread(make_file(n, 27), make_model(27, [512, 512, 512, 512], "sigmoid"), n,
                       f"27-input 4x512 sigmoid MLP, {n} events", measure)
    for t, rows in results.items():
        print(f"  [{t} thread(s)] batched / ONNX Runtime in memory = "
              f"{rows['hepsift batched'] / rows['ONNX Runtime in memory (100k batches)']:.2f} (>= 0.90)")


def _status_kib(field: str) -> float:
    """A field of /proc/self/status in KiB (VmRSS: resident now; VmHWM: peak resident)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return float(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _memory_child(n: int, batch: int | None, strategy: str) -> None:
    path = make_file(n, 8)
    model = make_model(8, [64, 64], "relu")
    b = Bench(path, model, n, 1)
    before = _status_kib("VmHWM")  # peak so far: ROOT, cling, ONNX Runtime loaded and warmed up
    b.hepsift(batch, strategy)
    after = _status_kib("VmHWM")
    print(json.dumps({"before_MiB": before / 1024, "peak_MiB": after / 1024}))


def memory(batch: int) -> None:
    print("\n== peak resident memory (MiB), fresh process each, 8-64-64-1 MLP, one thread")
    print(f"{'events':>10s} {'path':>10s} {'at start':>10s} {'peak':>10s} {'growth':>10s}")
    for n in (1_000_000, 10_000_000):
        make_file(n, 8)
        for label, bs, strategy in (("per-event", None, "auto"), ("streamed", batch, "stream"),
                                    ("two-pass", 8192, "two-pass")):
            out = subprocess.run([sys.executable, __file__, "--_memory-child", str(n), str(bs or 0), str(CLUSTER_EVENTS),
                                  strategy],
                                 capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{n:10d} {label:>10s} {r['before_MiB']:10.0f} {r['peak_MiB']:10.0f} "
                  f"{r['peak_MiB'] - r['before_MiB']:10.0f}")


def gpu(n: int, repeat: int, batches: list[int]) -> None:
    """The 4x512 model end to end from a ROOT file on the GPU (CUDA provider), one thread and
    ImplicitMT(2) (two slots feeding the GPU), against the CPU batched with ImplicitMT(2)."""
    path = make_file(n, 27)
    model = make_model(27, [512, 512, 512, 512], "sigmoid")
    cpu = Bench(path, model, n, 2)
    cpu.ROOT.EnableImplicitMT(2)
    cpu_rate = n / best(lambda: cpu.hepsift(4096), repeat)
    cpu.ROOT.DisableImplicitMT()
    cuda = Bench(path, model, n, 1, provider="cuda")
    print(f"\n== 4x512 sigmoid MLP, {n} events: GPU (CUDA provider, {cuda.model.provider}) vs CPU ImplicitMT(2) "
          f"batched ({cpu_rate / 1e6:.3f} M events/s)")
    for threads in (1, 2):
        if threads > 1:
            cuda.ROOT.EnableImplicitMT(threads)
        for bs in batches:
            rate = n / best(lambda bs=bs: cuda.hepsift(bs), repeat)
            print(f"  {'one thread' if threads == 1 else f'ImplicitMT({threads})':14s} batch {bs:7d}: "
                  f"{rate / 1e6:8.3f} M events/s = {rate / cpu_rate:6.1f} x CPU")
        if threads > 1:
            cuda.ROOT.DisableImplicitMT()


def main() -> None:
    global CLUSTER_EVENTS
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--large-events", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch", type=int, default=4096)
    parser.add_argument("--memory", action="store_true", help="also measure peak memory for 1 M and 10 M events")
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--provider", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--cluster-events", type=int, default=CLUSTER_EVENTS,
                        help="entries per cluster in the bench files (default 50000; 500000 gives 4 clusters)")
    parser.add_argument("--_memory-child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    CLUSTER_EVENTS = args.cluster_events
    if args._memory_child:
        n, bs, CLUSTER_EVENTS, strategy = args._memory_child
        CLUSTER_EVENTS = int(CLUSTER_EVENTS)
        _memory_child(int(n), int(bs) or None, strategy)
        return
    if args.provider == "cuda":
        gpu(args.large_events, args.repeat, [1024, 8192, 65536, 262144])
        return
    small_model(args.events, args.repeat, args.batch)
    if not args.skip_large:
        large_model(args.large_events, args.repeat, args.batch)
    if args.memory:
        memory(args.batch)


if __name__ == "__main__":
    main()
