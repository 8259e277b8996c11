"""Toy throughput of the NPLM neural and kernel modes, side by side in one process.

    PYTHONPATH=python python bench/nplm_toys.py [--toys 20] [--n-reference 20000] [--n-data 2000]

Both modes run the same null toys (1-d exponential reference, Poisson(n_data) pseudo-data)
through :func:`hepsift.nplm.calibrate` on all cores; printed: toys per second of each mode,
their ratio, and the fitted chi-square of each null distribution.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from hepsift import nplm


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--toys", type=int, default=20)
    p.add_argument("--n-reference", type=int, default=20000)
    p.add_argument("--n-data", type=float, default=2000.0)
    p.add_argument("--features", type=int, default=1)
    p.add_argument("--epochs", type=int, default=2000, help="neural-mode epochs (default 2000)")
    p.add_argument("--centers", type=int, default=200, help="kernel-mode Nystroem centres (default 200)")
    p.add_argument("--jobs", type=int, default=-1)
    p.add_argument("--device", default="cpu", help="neural-mode device (cpu, cuda, auto)")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    ref = np.random.default_rng(a.seed).exponential(size=(a.n_reference, a.features))
    rates = {}
    for mode, opts in (("neural", {"epochs": a.epochs, "device": a.device}), ("kernel", {"n_centers": a.centers})):
        t0 = time.perf_counter()
        null = nplm.calibrate(ref, a.n_data, a.toys, mode=mode, seed=a.seed, n_jobs=a.jobs, progress=False, **opts)
        dt = time.perf_counter() - t0
        rates[mode] = a.toys / dt
        print(f"{mode:>7}: {a.toys} toys in {dt:7.2f} s = {rates[mode]:8.3f} toys/s   ({null})")
    print(f"kernel / neural toy throughput: {rates['kernel'] / rates['neural']:.1f}x")


if __name__ == "__main__":
    main()
