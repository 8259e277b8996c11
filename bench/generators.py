"""Generators side by side: fidelity of every generator on the same data, in one run.

For each data set, each generator is trained with its DEFAULT settings on one half of the
events and ``len(test)`` events are sampled; the table gives the classifier two-sample AUC
(:func:`hepsift.generative.two_sample_auc`: a gradient-boosted classifier trained on one half
of real + generated events and evaluated on the other; 0.5 = indistinguishable), the mean
1-Wasserstein distance per feature in units of the real standard deviation, the largest
Kolmogorov-Smirnov statistic, and the training time. "real vs real" compares the training
half with the held-out half: the floor that finite samples allow.

Data sets (each skipped when absent):

* ``atlas``: 7 continuous features of the ATLAS Higgs ML challenge sample in
  ``../shared/data/atlas_higgsml`` (signal + background, 9,998 events);
* ``demo``: every flat feature of the demo's t tbar sample (counts, b-tags and -999 for absent
  objects), from ``--demo`` (a folder written by :func:`hepsift.events.demo_dataset`);
* ``toy``: the 6-feature skewed toy background of ``bench/anomaly_generative.py``.

Usage::

    python bench/generators.py [--data ../shared/data] [--demo bench/cache/demo] [--events 10000]
                               [--seed 1] [--per-feature]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

ATLAS_FEATURES = ("DER_mass_transverse_met_lep", "DER_mass_vis", "DER_pt_h", "DER_deltar_tau_lep", "DER_pt_tot",
                  "DER_sum_pt", "DER_pt_ratio_lep_tau")  # fmt: skip


def atlas(folder: Path) -> tuple[np.ndarray, list[str]] | None:
    from hepsift.data import Dataset

    if not (folder / "atlas_higgsml").is_dir():
        return None
    ds = Dataset.from_higgsml(folder / "atlas_higgsml", list(ATLAS_FEATURES))
    return ds.X, list(ds.feature_names)


def demo(folder: Path) -> tuple[np.ndarray, list[str]] | None:
    path = folder / "ttbar.root"
    if not path.is_file():
        return None
    import uproot

    from hepsift.io.features import FEATURE_NAMES

    tree = uproot.open(path)["Events"]
    names = [n for n in FEATURE_NAMES if n in tree.keys()]
    arrays = tree.arrays(names, library="np")
    return np.stack([np.asarray(arrays[n], dtype=np.float32) for n in names], axis=1), names


def toy(n: int, seed: int) -> tuple[np.ndarray, list[str]]:
    from anomaly_generative import toy_background

    d = toy_background(n, seed)
    return np.stack([np.asarray(v, dtype=np.float32) for v in d.values()], axis=1), list(d)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(HERE.parent.parent / "shared" / "data"), help="folder with atlas_higgsml/")
    ap.add_argument("--demo", default=str(HERE / "cache" / "demo"), help="folder of the demo data set")
    ap.add_argument("--events", type=int, default=10000, help="toy events")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", default=None, help="comma-separated data sets (atlas, demo, toy)")
    ap.add_argument("--per-feature", action="store_true", help="also print the per-feature report")
    args = ap.parse_args(argv)

    from hepsift.generative import AlphaVAE, BetaVAE, NormalizingFlow, fidelity
    from hepsift.generative.fidelity import format_fidelity, format_per_feature

    sets = {"atlas": lambda: atlas(Path(args.data)), "demo": lambda: demo(Path(args.demo)),
            "toy": lambda: toy(args.events, args.seed)}  # fmt: skip
    only = set(args.only.split(",")) if args.only else set(sets)
    print("# generators side by side (default settings)\n")
    for key, get in sets.items():
        if key not in only:
            continue
        got = get()
        if got is None:
            print(f"## {key}: skipped (data not found)\n")
            continue
        X, names = got
        perm = np.random.default_rng(args.seed).permutation(len(X))
        train, test = X[perm[: len(X) // 2]], X[perm[len(X) // 2 :]]
        print(f"## {key}: {len(train)} training and {len(test)} held-out events, {len(names)} features\n")
        gens = {
            "beta-VAE (N(0,1) prior, latent 4, standardised)": BetaVAE(
                latent_dim=4, hidden=(64, 64), beta=0.05, prior="normal", marginals="standard", seed=args.seed),
            "beta-VAE": BetaVAE(seed=args.seed),
            "alpha-VAE": AlphaVAE(seed=args.seed),
            "flow (NSF)": NormalizingFlow(seed=args.seed),
        }
        results = {"real vs real": fidelity(test, train, feature_names=names, seed=args.seed)}
        times = {"real vs real": 0.0}
        for name, g in gens.items():
            t0 = time.perf_counter()
            g.fit(train, feature_names=names)
            times[name] = time.perf_counter() - t0
            results[name] = fidelity(test, g.sample(len(test), seed=args.seed + 7), feature_names=names,
                                     seed=args.seed)  # fmt: skip
        print(format_fidelity(results, times))
        if args.per_feature:
            for name, f in results.items():
                print(f"\n### {key}: {name}\n")
                print(format_per_feature(f))
        print()
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
