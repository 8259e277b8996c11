"""Jet and event images: built in C++ inside the RDataFrame event loop against the NumPy builder.

One process, one file of boosted events with constituents (generated here, or ``--input``),
read ``--copies`` times. Each alternative reads the columns it needs from the file and builds
the images:

* **event loop**: ``hepsift.images.define_jet_image`` / ``define_event_image``
  (``hepsift::jetImage`` / ``eventImage``) in RDataFrame, plus a ``Sum`` of the pixels;
* **NumPy**: uproot reads the columns, ``hepsift.images.jet_images`` / ``event_images`` build
  the float32 arrays.

Rates are marginal: (copies - 1) x events / (time of ``copies`` files - time of one file), so
that the one-off costs (cling compiling the Define, Pythia start-up) do not count. The two
image kinds are checked to agree before anything is timed.

    python bench/images.py                       # 400 Z' -> t tbar (2 TeV) events, 10 copies
    python bench/images.py --input boosted/zprime_tt_had_m2000.root --threads 2
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main() -> int:
    import numpy as np
    import uproot

    import hepsift.images as im
    from hepsift.rdf import load_library

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", help="ROOT file with PFCand_* (default: generate --events Z' -> t tbar events)")
    parser.add_argument("--events", type=int, default=400, help="events to generate (default 400)")
    parser.add_argument("--copies", type=int, default=10, help="times the file is read (default 10)")
    parser.add_argument("--threads", type=int, default=1, help="RDataFrame ImplicitMT threads (default 1)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    ROOT = load_library()
    with tempfile.TemporaryDirectory() as tmp:
        if args.input:
            path = Path(args.input)
        else:
            from hepsift.generate import generate

            path = generate("zprime_tt_had", mass=2000, events=args.events, seed=args.seed, constituents=True,
                            output=Path(tmp) / "zp.root", workers=1, progress=False)  # fmt: skip
        n = uproot.open(path)["Events"].num_entries
        jet_cols = [*im.JET_IMAGE_COLUMNS, "PFCand_fatJetIdx"]

        def cpp(kind: str, copies: int) -> float:
            df = ROOT.RDataFrame("Events", [str(path)] * copies)
            if kind == "jet":
                df = im.define_jet_image(df, "img", 0)
            else:
                df = im.define_event_image(df, "img")
            t0 = time.perf_counter()
            df.Define("s", "ROOT::VecOps::Sum(img)").Sum("s").GetValue()
            return time.perf_counter() - t0

        def numpy(kind: str, copies: int) -> float:
            t0 = time.perf_counter()
            for _ in range(copies):
                tree = uproot.open(path)["Events"]
                if kind == "jet":
                    float(im.jet_images(tree.arrays(jet_cols), 0).sum())
                else:
                    float(im.event_images(tree.arrays(list(im.EVENT_IMAGE_COLUMNS))).sum())
            return time.perf_counter() - t0

        # agreement first
        arrays = uproot.open(path)["Events"].arrays([*jet_cols, *im.EVENT_IMAGE_COLUMNS])
        for kind, build, define, c in (("jet", lambda: im.jet_images(arrays, 0), im.define_jet_image, 2),
                                       ("event", lambda: im.event_images(arrays), im.define_event_image, 5)):  # fmt: skip
            df = ROOT.RDataFrame("Events", str(path))
            df = define(df, "img", 0) if kind == "jet" else define(df, "img")
            got = im.stack_images(df.AsNumpy(["img"])["img"], c, 33 if kind == "jet" else 32)
            diff = float(np.max(np.abs(got - build())))
            print(f"{kind} images: {n} events, max |C++ - NumPy| = {diff:.2g}")
            if diff > 1e-6:
                raise SystemExit(f"the {kind} images disagree")

        if args.threads > 1:
            ROOT.EnableImplicitMT(args.threads)
        print(f"\n{'image':8s} {'event loop ev/s':>16s} {'NumPy ev/s':>11s} {'ratio':>6s}   ({args.copies} x {n} events, "
              f"{args.threads} thread(s) in the event loop, NumPy single-threaded)")  # fmt: skip
        for kind in ("jet", "event"):
            rates = []
            for fn in (cpp, numpy):
                fn(kind, 1)  # warm-up: compile, caches
                t1 = fn(kind, 1)
                tk = fn(kind, args.copies)
                rates.append((args.copies - 1) * n / max(tk - t1, 1e-9))
            print(f"{kind:8s} {rates[0]:16.0f} {rates[1]:11.0f} {rates[0] / rates[1]:6.2f}")
    print("ratio: event loop / NumPy; both include reading the columns from the file.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
