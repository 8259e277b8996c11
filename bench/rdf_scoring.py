"""Scoring MLPs over ROOT files: hepsift inside RDataFrame against the alternatives.

Everything is measured in one process run and printed as events/s and ratios (the machines
are shared and noisy: absolute rates drift, ratios hold). Files and models are made once and
cached in bench/cache/.

Small model (8-64-64-1 MLP, 8 float branches, ``--events`` events, default 2 M), with one
thread and with ImplicitMT(2) (ONNX Runtime with 2 intra-op threads for the Python rows):

* hepsift with no batching arguments (the default: streamed, 4096-event batches), streamed
  with 4096 and 10^5-event batches, per event (``strategy="per-event"``) and in two passes
  (``strategy="two-pass"``), file to histogram;
* hepsift's own bulk read of the 8 branches (the streamed path's reader alone: the I/O
  limit) and RDataFrame reading them through its column readers;
* uproot + ONNX Runtime in batches of 100k (what a Python user writes);
* ONNX Runtime on the whole feature matrix in memory, in 4096-event batches (its fastest: the
  compute limit, the reference of the tables) and in 100k batches;
* hepsift's own model call (C++ session) on the same matrix in 4096-event batches;
* the RDataFrame event loop and histogram alone, with a constant in place of the score (the
  per-entry machinery that the streamed path adds to the model call and the bulk read);
* the combined limit 1 / (1/bulk read + 1/compute) and the default as a fraction of it, and
  the default's time per event split into the model call, the loop, the read and the rest.

``--distributed``: the default define and a histogram on distributed RDataFrame (a Dask
``LocalCluster`` of 2 worker processes, one thread each: each worker streams its own entry
ranges) against the same graph locally under ImplicitMT(2), on the same files.

Large model (27 inputs, 4 x 512 sigmoid, compute-bound): hepsift batched and per-event
against ONNX Runtime in memory at the same thread count.

``--memory``: peak resident memory of scoring 1 M and 10 M events (per-event and streamed
batched with 4096 and 10^5-event batches: bounded; two-pass batched: 4 bytes per event for the
score table), each in a fresh process.

``--provider cuda``: the same with ONNX Runtime's CUDA provider (needs onnxruntime-gpu and a
GPU), for the large model at several batch sizes, against the CPU with two threads.

Usage::

    .venv/bin/python bench/rdf_scoring.py [--events 2000000] [--repeat 3] [--memory] [--distributed]
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
THREADS = (1, 2)  # thread counts of the tables; --threads


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


#: The clock of :func:`rates`: ``time.perf_counter`` (wall time, the default) or
#: ``time.process_time`` (``--clock cpu``: the CPU time of this process, which other jobs on a
#: shared machine disturb far less; for one thread it is the time the loop ran on its core).
CLOCK: Callable[[], float] = time.perf_counter


def rates(n: int, fns: dict[str, Callable[[], None]], repeat: int, once: tuple[str, ...] = ()) -> dict[str, float]:
    """Events/s of each alternative, best of ``repeat``, by ``CLOCK``. The alternatives take
    turns (round robin) so that a slow spell of the shared machine does not fall on one of them
    only; those in ``once`` run in the first round only (the slow ones)."""
    times: dict[str, list[float]] = {label: [] for label in fns}
    for r in range(repeat):
        for label, fn in fns.items():
            if r and label in once:
                continue
            t0 = CLOCK()
            fn()
            times[label].append(CLOCK() - t0)
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
// The same event loop and histogram with a constant in place of the score: RDataFrame's
// per-entry machinery alone.
double loopAlone(ROOT::RDF::RNode n) {{ return histo(n.Define("score", [] {{ return 0.5f; }})); }}
// hepsift's bulk read alone (the reader of the streamed path), on `threads` threads each
// reading its share of the entries in 4096-entry blocks.
double bulkRead(const std::string &sample, const std::vector<std::string> &c, Long64_t n, int threads)
{{
   std::vector<double> sums(threads);
   auto work = [&](int t) {{
      hepsift::detail::TreeBlockReader reader(sample, c);
      std::vector<float> block(4096 * c.size());
      const Long64_t first = n * t / threads, end = n * (t + 1) / threads;
      for (Long64_t e = first; e < end; e += 4096) {{
         const auto k = static_cast<std::size_t>(std::min<Long64_t>(4096, end - e));
         reader.read(e, k, block.data(), c.size());
         sums[t] += block[0];
      }}
   }};
   std::vector<std::thread> pool;
   for (int t = 1; t < threads; ++t) pool.emplace_back(work, t);
   work(0);
   for (auto &p : pool) p.join();
   return sums[0];
}}
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
        hepsift.rdf.define(self.ROOT.RDataFrame("Events", str(path)), "s", self.model).Range(10).Count().GetValue()

    def bulk_read(self) -> None:
        self.ROOT.hepsift_bench.bulkRead(f"{self.path}/Events", self._cols, self.n, self.threads)

    def hepsift(self, batch_size: int | None, strategy: str = "auto") -> None:
        df = self.ROOT.RDataFrame("Events", str(self.path))
        node = self.rdf.define(df, "score", self.model, batch_size=batch_size, strategy=strategy)
        assert self.ROOT.hepsift_bench.histo(node) == self.n

    def loop_alone(self) -> None:
        assert self.ROOT.hepsift_bench.loopAlone(self.ROOT.RDF.AsRNode(self.ROOT.RDataFrame("Events", str(self.path)))) \
            == self.n

    def hepsift_memory(self, X: np.ndarray, batch: int) -> None:
        """hepsift's own model call (its C++ ONNX Runtime session, with as many intra-op threads
        as the ONNX Runtime rows) on the matrix in memory."""
        if not hasattr(self, "_memory_model"):
            self._memory_model = self.rdf.Model(self.model_path, threads=self.threads)
        for start in range(0, len(X), batch):
            self._memory_model.evaluate(X[start:start + batch])

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

    def ort_memory(self, X: np.ndarray, batch: int) -> None:
        sess = self.session()
        name = sess.get_inputs()[0].name
        for start in range(0, len(X), batch):
            sess.run(None, {name: X[start:start + batch]})


def table(title: str, rows: dict[str, float], ref_label: str) -> None:
    ref = rows[ref_label]
    print(f"\n== {title}")
    print(f"{'':44s} {'M events/s':>11s} {'/ ' + ref_label[:18]:>22s}")
    for label, rate in rows.items():
        print(f"{label:44s} {rate / 1e6:11.3f} {rate / ref:22.2f}")


def per_thread(path: Path, model: Path, n: int, title: str,
               measure: Callable[[Bench, np.ndarray], dict[str, float]]) -> dict[int, dict[str, float]]:
    """Runs ``measure(bench, feature_matrix)`` with one thread and with ImplicitMT(2), printing
    each table of rates against ONNX Runtime in memory."""
    results: dict[int, dict[str, float]] = {}
    for threads in THREADS:
        b = Bench(path, model, n, threads)
        if threads > 1:
            b.ROOT.EnableImplicitMT(threads)
        try:
            results[threads] = measure(b, b.matrix())
        finally:
            if threads > 1:
                b.ROOT.DisableImplicitMT()
        table(f"{title}, {'one thread' if threads == 1 else f'ImplicitMT({threads})'}", results[threads], REFERENCE)
    return results


DEFAULT = "hepsift default (no batching arguments)"
REFERENCE = "ONNX Runtime in memory (4096 batches)"
LIMIT = "limit 1/(1/bulk read + 1/in-memory)"
LOOP = "RDataFrame loop alone (no score)"
HEPSIFT_MEMORY = "hepsift model call in memory (4096)"
SMALL = "hepsift streamed, 4096-event batches"
BIG = "hepsift streamed, 10^5-event batches"


def small_model(n: int, repeat: int) -> dict[int, dict[str, float]]:
    def measure(b: Bench, X: np.ndarray) -> dict[str, float]:
        rows = rates(n, {
            DEFAULT: lambda: b.hepsift(None),
            SMALL: lambda: b.hepsift(4096, "stream"),
            BIG: lambda: b.hepsift(100_000, "stream"),
            "hepsift batched, two passes (8192)": lambda: b.hepsift(8192, "two-pass"),
            "hepsift per-event": lambda: b.hepsift(None, "per-event"),
            LOOP: b.loop_alone,
            "hepsift bulk read of the inputs": b.bulk_read,
            "RDataFrame read of the inputs": b.rdf_read,
            "uproot + ONNX Runtime (100k batches)": b.uproot_ort,
            "ONNX Runtime in memory (100k batches)": lambda: b.ort_memory(X, 100_000),
            REFERENCE: lambda: b.ort_memory(X, 4096),
            HEPSIFT_MEMORY: lambda: b.hepsift_memory(X, 4096),
        }, repeat, once=("hepsift per-event",))
        rows[LIMIT] = 1.0 / (1.0 / rows["hepsift bulk read of the inputs"] + 1.0 / rows[REFERENCE])
        return rows

    results = per_thread(make_file(n, 8), make_model(8, [64, 64], "relu"), n,
                         f"8-64-64-1 MLP, {n} events, 8 float branches", measure)
    one, two = results.get(1), results.get(2)
    print("\nTargets:")
    for t, rows in results.items():
        print(f"  [{t} thread(s)] default / ONNX Runtime in memory = {rows[DEFAULT] / rows[REFERENCE]:.2f} (>= 0.9), "
              f"default / uproot+ORT = {rows[DEFAULT] / rows['uproot + ONNX Runtime (100k batches)']:.2f} (>= 1), "
              f"default / limit = {rows[DEFAULT] / rows[LIMIT]:.2f}, "
              f"10^5 / 4096 batches = {rows[BIG] / rows[SMALL]:.2f} (>= 1), "
              f"default / per-event = {rows[DEFAULT] / rows['hepsift per-event']:.1f}")
        per_event = {label: 1e9 / rows[label] for label in (DEFAULT, REFERENCE, LOOP, "hepsift bulk read of the inputs")}
        rest = per_event[DEFAULT] - per_event[REFERENCE] - per_event[LOOP] - per_event["hepsift bulk read of the inputs"]
        print(f"  [{t} thread(s)] ns per event: default {per_event[DEFAULT]:.0f} = ONNX Runtime in memory "
              f"{per_event[REFERENCE]:.0f} + RDataFrame loop alone {per_event[LOOP]:.0f} + bulk read "
              f"{per_event['hepsift bulk read of the inputs']:.0f} + rest {rest:.0f}; "
              f"hepsift model call / ONNX Runtime in memory = {rows[HEPSIFT_MEMORY] / rows[REFERENCE]:.2f}")
    if one and two:
        print(f"  ImplicitMT(2) default / one-thread default = {two[DEFAULT] / one[DEFAULT]:.2f} (>= 1.6)")
    return results


def distributed(n: int, repeat: int) -> None:
    """The default define + histogram on a Dask LocalCluster (2 worker processes, one thread
    each) against the same graph locally under ImplicitMT(2), on the same files (4 files)."""
    import ROOT
    from distributed import Client, LocalCluster

    import hepsift.rdf

    model = make_model(8, [64, 64], "relu")
    files = [str(make_file_part(n // 4, 8, k)) for k in range(4)]

    def graph(df) -> float:
        node = hepsift.rdf.define(df, "score", str(model))
        return node.Histo1D(("h", "", 50, 0.0, 1.0), "score").GetValue().GetEntries()

    ROOT.EnableImplicitMT(2)
    try:
        graph(ROOT.RDataFrame("Events", ROOT.std.vector["std::string"](files)))  # warm-up (cling)
        local = best(lambda: graph(ROOT.RDataFrame("Events", ROOT.std.vector["std::string"](files))), repeat)
    finally:
        ROOT.DisableImplicitMT()
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                           worker_dashboard_address=None)
    with Client(cluster) as client:
        def remote() -> None:
            assert graph(ROOT.RDataFrame("Events", files, executor=client, npartitions=4)) == n // 4 * 4

        remote()  # warm-up: workers load hepsift and compile the score handles
        dist = best(remote, repeat)
    cluster.close()
    print(f"\n== distributed (Dask LocalCluster, 2 worker processes x 1 thread, default define = streamed on the "
          f"workers) vs local ImplicitMT(2), {n // 4 * 4} events in 4 files")
    print(f"  local ImplicitMT(2): {n / local / 1e6:.3f} M events/s; distributed: {n / dist / 1e6:.3f} M events/s; "
          f"distributed / local = {local / dist:.2f}")


def make_file_part(n: int, n_branches: int, k: int) -> Path:
    """Part ``k`` of a data set split in files of ``n`` events (the same content layout as
    :func:`make_file`, another seed per part)."""
    path = CACHE / f"bench_{n_branches}x{n}_c{CLUSTER_EVENTS}_part{k}.root"
    if path.exists():
        return path
    import ROOT

    CACHE.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(100 + k)
    columns = {f"x{i}": rng.normal(size=n).astype(np.float32) for i in range(n_branches)}
    opts = ROOT.RDF.RSnapshotOptions()
    opts.fAutoFlush = CLUSTER_EVENTS
    tmp = path.with_suffix(".tmp.root")
    ROOT.RDF.FromNumpy(columns).Snapshot("Events", str(tmp), ROOT.std.vector["std::string"](list(columns)), opts)
    os.replace(tmp, path)
    return path


def large_model(n: int, repeat: int) -> None:
    def measure(b: Bench, X: np.ndarray) -> dict[str, float]:
        return rates(n, {
            DEFAULT: lambda: b.hepsift(None),
            BIG: lambda: b.hepsift(100_000, "stream"),
            "hepsift batched, two passes": lambda: b.hepsift(8192, "two-pass"),
            REFERENCE: lambda: b.ort_memory(X, 4096),
            "hepsift per-event": lambda: b.hepsift(None, "per-event"),
        }, repeat, once=("hepsift per-event",))

    results = per_thread(make_file(n, 27), make_model(27, [512, 512, 512, 512], "sigmoid"), n,
                       f"27-input 4x512 sigmoid MLP, {n} events", measure)
    for t, rows in results.items():
        print(f"  [{t} thread(s)] default / ONNX Runtime in memory = {rows[DEFAULT] / rows[REFERENCE]:.2f} (>= 0.90)")


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


def memory(sizes: list[int]) -> None:
    print("\n== peak resident memory (MiB), fresh process each, 8-64-64-1 MLP, one thread")
    print(f"{'events':>10s} {'path':>10s} {'at start':>10s} {'peak':>10s} {'growth':>10s}")
    for n in sizes:
        make_file(n, 8)
        for label, bs, strategy in (("per-event", None, "per-event"), ("default", None, "auto"),
                                    ("st. 10^5", 100_000, "stream"), ("two-pass", 8192, "two-pass")):
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
    cpu_rate = n / best(lambda: cpu.hepsift(None), repeat)
    cpu.ROOT.DisableImplicitMT()
    cuda = Bench(path, model, n, 1, provider="cuda")
    print(f"\n== 4x512 sigmoid MLP, {n} events: GPU (CUDA provider, {cuda.model.provider}) vs CPU ImplicitMT(2) "
          f"default ({cpu_rate / 1e6:.3f} M events/s)")
    for threads in (1, 2):
        if threads > 1:
            cuda.ROOT.EnableImplicitMT(threads)
        for bs in batches:
            rate = n / best(lambda bs=bs: cuda.hepsift(bs, "stream"), repeat)
            print(f"  {'one thread' if threads == 1 else f'ImplicitMT({threads})':14s} batch {bs:7d}: "
                  f"{rate / 1e6:8.3f} M events/s = {rate / cpu_rate:6.1f} x CPU")
        if threads > 1:
            cuda.ROOT.DisableImplicitMT()


def main() -> None:
    global CLUSTER_EVENTS, CLOCK, THREADS
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--large-events", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--memory", action="store_true", help="also measure peak memory (see --memory-events)")
    parser.add_argument("--memory-events", default="1000000,10000000", help="event counts of --memory, comma-separated")
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--distributed", action="store_true",
                        help="also the default define on a Dask LocalCluster (2 workers) against local ImplicitMT(2)")
    parser.add_argument("--provider", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--cluster-events", type=int, default=CLUSTER_EVENTS,
                        help="entries per cluster in the bench files (default 50000; 500000 gives 4 clusters)")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="time the small- and large-model rows by wall time (default) or by this process's CPU "
                             "time (steadier on a loaded machine; one thread only: under ImplicitMT(2) CPU time adds "
                             "up both threads, ONNX Runtime's spinning threads included)")
    parser.add_argument("--threads", default="1,2", help="thread counts of the small- and large-model tables")
    parser.add_argument("--_memory-child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    THREADS = tuple(int(t) for t in args.threads.split(","))
    CLUSTER_EVENTS = args.cluster_events
    if args._memory_child:
        n, bs, CLUSTER_EVENTS, strategy = args._memory_child
        CLUSTER_EVENTS = int(CLUSTER_EVENTS)
        _memory_child(int(n), int(bs) or None, strategy)
        return
    if args.provider == "cuda":
        gpu(args.large_events, args.repeat, [1_000, 10_000, 100_000, 1_000_000])
        return
    small_model(args.events, args.repeat)
    if not args.skip_large:
        large_model(args.large_events, args.repeat)
    if args.distributed:
        distributed(args.events, args.repeat)
    if args.memory:
        memory([int(x) for x in args.memory_events.split(",")])


if __name__ == "__main__":
    main()
