"""Deep Sets on jagged branches: hepsift in RDataFrame against uproot + awkward + ONNX Runtime.

One process, the same file and the same ONNX file (the default ``DeepSetsClassifier`` network:
phi 64-64-64, rho 64, sum pooling, with a mask; trained for one epoch on toy labels of the
first 2 000 events, since the rates do not depend on what it learned), the same batch size:

* **hepsift**: ``hepsift.rdf.define(ROOT.RDataFrame("Events", file), "s", model)``, the
  default call: streamed, each slot reads the next ``--batch-size`` events of the jagged
  branches from the tree and evaluates them grouped by equal numbers of objects; the
  ``AsNumpy`` of the scores is timed too. ONNX Runtime runs one intra-op thread per slot;
  ``ROOT.EnableImplicitMT(threads)`` gives the slots.
* **uproot + awkward + ONNX Runtime** (what a Python user writes): ``uproot`` reads the
  branches in steps of one cluster (100 000 events), each step is cut into batches of
  ``--batch-size`` events, each batch padded with ``ak.pad_none`` to its longest event, filled
  with 0, stacked to ``[B, P, 3]`` with the mask ``[B, P]``, and run by an ONNX Runtime session
  with ``intra_op_num_threads = threads``.

Two synthetic workloads written here with uproot (float32 ``Jet_pt, _eta, _phi`` with a
count branch, as NanoAOD): *jets*, 4-8 objects per event (``--events``, default 1 000 000),
and *constituents*, about 300 per event (``--constituent-events``, default 20 000; also at
``--constituent-batch`` 64, where the padded batches of the uproot side are smaller). Both
sides must agree to 1e-5 (event by event at one thread; with more threads RDataFrame returns
the entries in another order, so the sorted scores are compared); each case is timed ``--repeat`` times and the
fastest is kept (a shared machine). A first call on a small file compiles cling's code.

    python bench/sets_rdf.py                       # both workloads at 1 and 2 threads
    python bench/sets_rdf.py --memory              # peak RSS of scoring 1M and 10M events
    python bench/sets_rdf.py --grouping            # equal-length groups against padding (ORT alone)

``--memory`` writes 1 000 000- and 10 000 000-event jet files (about 0.1 and 0.8 GB, deleted
afterwards), then scores each in a fresh process (the default call, ``Sum`` of the scores)
and prints each process' peak resident memory.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

COLUMNS = ("Jet_pt", "Jet_eta", "Jet_phi")
CLUSTER = 100_000


def write_file(path: Path, events: int, mean: float, spread: float, seed: int) -> Path:
    """Synthetic jagged branches: counts ~ round(Normal(mean, spread)) clipped to >= 0."""
    import awkward as ak
    import numpy as np
    import uproot

    rng = np.random.default_rng(seed)
    with uproot.recreate(path) as f:
        f.mktree("Events", {"Jet": ak.types.ListType(ak.types.RecordType(
            [ak.types.NumpyType("float32")] * 3, ["pt", "eta", "phi"]))}, counter_name=lambda _: "nJet")
        for start in range(0, events, CLUSTER):
            n = min(CLUSTER, events - start)
            counts = np.clip(np.rint(rng.normal(mean, spread, n)), 0, None).astype(np.int64)
            total = int(counts.sum())
            flat = ak.zip({"pt": rng.exponential(30.0, total).astype(np.float32) + 20.0,
                           "eta": rng.normal(0.0, 1.5, total).astype(np.float32),
                           "phi": rng.uniform(-np.pi, np.pi, total).astype(np.float32)})
            f["Events"].extend({"Jet": ak.unflatten(flat, counts)})
    return path


def train(path: Path, out: Path, seed: int) -> Path:
    import numpy as np
    import uproot

    from hepsift.models import DeepSetsClassifier

    ev = uproot.open(path)["Events"].arrays(list(COLUMNS), entry_stop=2000)
    y = np.arange(len(ev)) % 2
    return DeepSetsClassifier(inputs=COLUMNS, epochs=1, seed=seed).fit(ev, y).to_onnx(out)


def uproot_scores(path: Path, model: Path, batch: int, threads: int) -> Any:
    import awkward as ak
    import numpy as np
    import onnxruntime as ort
    import uproot

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
    out = []
    for arrays in uproot.open(path)["Events"].iterate(list(COLUMNS), step_size=CLUSTER):
        for lo in range(0, len(arrays), batch):
            part = arrays[lo:lo + batch]
            counts = ak.to_numpy(ak.num(part[COLUMNS[0]]))
            p = max(int(counts.max()), 1)
            x = np.stack([ak.to_numpy(ak.fill_none(ak.pad_none(part[c], p, clip=True), 0.0)) for c in COLUMNS], axis=-1)
            mask = (np.arange(p) < counts[:, None]).astype(np.float32)
            out.append(sess.run(["score"], {"objects": x.astype(np.float32, copy=False), "mask": mask})[0].reshape(-1))
    return np.concatenate(out)


def hepsift_scores(ROOT: Any, path: Path, model: Any, batch: int) -> Any:
    import hepsift.rdf

    df = ROOT.RDataFrame("Events", str(path))
    return hepsift.rdf.define(df, "s", model, batch_size=batch).AsNumpy(["s"])["s"]


def timed(fn: Any, repeat: int) -> tuple[float, Any]:
    best, values = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        values = fn()
        best = min(best, time.perf_counter() - start)
    return best, values


def compare(args: argparse.Namespace, tmp: Path) -> None:
    import numpy as np

    import hepsift.rdf

    ROOT = hepsift.rdf.load_library()
    files = {"jets": write_file(tmp / "jets.root", args.events, 6.0, 1.3, args.seed),
             "constituents": write_file(tmp / "constituents.root", args.constituent_events, 300.0, 60.0, args.seed)}
    small = write_file(tmp / "small.root", 3000, 6.0, 1.3, args.seed + 1)
    onnx = train(files["jets"], tmp / "ds.onnx", args.seed)
    model = hepsift.rdf.Model(onnx, threads=1)
    hepsift_scores(ROOT, small, model, args.batch_size)  # cling compiles the define's code once
    print(f"best of {args.repeat}; events/s")
    print("| workload | threads | batch | hepsift (RDataFrame) | uproot + awkward + ONNX Runtime | ratio |")
    print("| --- | --- | --- | --- | --- | --- |")
    cases = [(name, path, args.batch_size) for name, path in files.items()]
    cases += [("constituents", files["constituents"], b) for b in args.constituent_batch if b != args.batch_size]
    for threads in args.threads:
        if threads > 1:
            ROOT.EnableImplicitMT(threads)
        for name, path, batch in cases:
            ta, a = timed(lambda: hepsift_scores(ROOT, path, model, batch), args.repeat)
            tb, b = timed(lambda: uproot_scores(path, onnx, batch, threads), args.repeat)
            a = np.asarray(a)
            if threads > 1:  # the order of the entries depends on the threads: compare sorted
                a, b = np.sort(a), np.sort(b)
            worst = float(np.max(np.abs(a - b)))
            assert len(a) == len(b) and worst <= 1e-5, (name, threads, worst)
            n = len(a)
            print(f"| {name} ({n:,} events) | {threads} | {batch} | {n / ta:,.0f} | {n / tb:,.0f} | {tb / ta:.2f} |",
                  flush=True)
        if threads > 1:
            ROOT.DisableImplicitMT()


def score_only(path: str, model: str, batch: int) -> None:
    """Child of --memory: the default call, Sum of the scores, then this process' peak RSS."""
    import resource

    import hepsift.rdf

    ROOT = hepsift.rdf.load_library()
    start = time.perf_counter()
    df = hepsift.rdf.define(ROOT.RDataFrame("Events", path), "s", model, batch_size=batch)
    total = df.Sum("s").GetValue()
    n = df.Count().GetValue()
    print(json.dumps({"events": int(n), "sum": float(total), "seconds": time.perf_counter() - start,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def memory(args: argparse.Namespace, tmp: Path) -> None:
    onnx = None
    print("| events | file size | peak RSS of the scoring process | seconds |\n| --- | --- | --- | --- |")
    for events in (1_000_000, 10_000_000):
        path = write_file(tmp / f"jets{events}.root", events, 6.0, 1.3, args.seed)
        onnx = onnx or train(path, tmp / "ds.onnx", args.seed)
        out = subprocess.run([sys.executable, __file__, "--score-only", str(path), str(onnx),
                              "--batch-size", str(args.batch_size)], check=True, capture_output=True, text=True)
        got = json.loads(out.stdout.strip().splitlines()[-1])
        assert got["events"] == events, got
        print(f"| {events:,} | {path.stat().st_size / 1e9:.2f} GB | {got['peak_rss_mb']:,.0f} MB | "
              f"{got['seconds']:.1f} |", flush=True)
        path.unlink()


def grouping(args: argparse.Namespace, tmp: Path) -> None:
    """How a block of events should enter a masked model: ONNX Runtime alone (Python API, one
    thread) on the same events, (a) grouped by equal numbers of objects (what the streamed path
    does; calls of at most 4096 objects), (b) sorted by number of objects and padded to the
    longest of each sub-batch of 64 events, (c) padded to the longest of the whole block (what
    the two-pass path does)."""
    import awkward as ak
    import numpy as np
    import onnxruntime as ort
    import uproot

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    print(f"ONNX Runtime alone, one thread, blocks of {args.batch_size} events; events/s")
    print("| workload | (a) equal-length groups | (b) sorted, padded per 64 events | (c) padded per block |")
    print("| --- | --- | --- | --- |")
    for name, events, mean, spread in [("jets", 50_000, 6.0, 1.3), ("constituents", 4 * args.batch_size, 300.0, 60.0)]:
        path = write_file(tmp / f"{name}.root", events, mean, spread, args.seed)
        onnx = train(path, tmp / f"{name}.onnx", args.seed)
        sess = ort.InferenceSession(str(onnx), opts, providers=["CPUExecutionProvider"])
        ev = uproot.open(path)["Events"].arrays(list(COLUMNS))
        counts = ak.to_numpy(ak.num(ev[COLUMNS[0]]))
        pmax = max(int(counts.max()), 1)
        x = np.stack([ak.to_numpy(ak.fill_none(ak.pad_none(ev[c], pmax, clip=True), 0.0)) for c in COLUMNS], -1)
        x = x.astype(np.float32)

        def run(idx: Any, p: int) -> Any:
            mask = (np.arange(p) < counts[idx][:, None]).astype(np.float32)
            return sess.run(["score"], {"objects": x[idx, :p], "mask": mask})[0].reshape(-1)

        def scheme(kind: str) -> Any:
            out = np.empty(len(counts), np.float32)
            for lo in range(0, len(counts), args.batch_size):
                block = np.arange(lo, min(lo + args.batch_size, len(counts)))
                if kind == "c":
                    out[block] = run(block, max(int(counts[block].max()), 1))
                    continue
                block = block[np.argsort(counts[block], kind="stable")]
                if kind == "b":
                    for k in range(0, len(block), 64):
                        part = block[k:k + 64]
                        out[part] = run(part, max(int(counts[part].max()), 1))
                    continue
                for p in np.unique(counts[block]):
                    same = block[counts[block] == p]
                    step = max(4096 // max(int(p), 1), 1)
                    for k in range(0, len(same), step):
                        out[same[k:k + step]] = run(same[k:k + step], max(int(p), 1))
            return out

        rates, values = [], []
        for kind in "abc":
            t, v = timed(lambda: scheme(kind), args.repeat)
            rates.append(len(counts) / t)
            values.append(v)
        assert max(float(np.max(np.abs(v - values[0]))) for v in values) <= 1e-5
        print(f"| {name} ({len(counts):,} events) | " + " | ".join(f"{r:,.0f}" for r in rates) + " |", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events of the jet workload (default 1e6)")
    parser.add_argument("--constituent-events", type=int, default=20_000, help="events of ~300 objects (2e4)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts (default 1 2)")
    parser.add_argument("--batch-size", type=int, default=4096, help="events per block / batch (default 4096)")
    parser.add_argument("--constituent-batch", type=int, nargs="*", default=[64],
                        help="further batch sizes for the constituents (default 64: ONNX Runtime on [4096, ~500, 3] "
                             "batches is slowed by its large intermediate tensors)")
    parser.add_argument("--repeat", type=int, default=2, help="timings per case; the fastest is kept (default 2)")
    parser.add_argument("--memory", action="store_true", help="peak RSS of scoring 1M and 10M events instead")
    parser.add_argument("--grouping", action="store_true",
                        help="ONNX Runtime alone: equal-length groups against padded batches instead")
    parser.add_argument("--score-only", nargs=2, metavar=("FILE", "MODEL"), help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if args.score_only:
        score_only(*args.score_only, args.batch_size)
        return 0
    with tempfile.TemporaryDirectory(dir=os.environ.get("HEPSIFT_BENCH_TMP")) as tmp:
        (memory if args.memory else grouping if args.grouping else compare)(args, Path(tmp))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
