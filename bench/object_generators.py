"""Fidelity of the object-list generator on DarkMachines-format events.

The events are Pythia 8 t tbar events of :mod:`hepsift.events` (its parametric detector model),
converted to a DarkMachines CSV file (MeV) with :func:`hepsift.io.write_darkmachines`; no public
DarkMachines file is in the repository. ``--source toy`` uses the toy of the tests instead
(``tests/darkmachines_toy.py``: Poisson jets, binomial b-jets, rare leptons).

Half of the events train :class:`hepsift.generative.ObjectListGenerator` straight from the CSV
file; as many events as the other half are sampled. Printed:

* per object type, the multiplicity distribution (capped at the type's ``max_objects``):
  means (held-out, training, generated), the generated-versus-held-out total variation distance ``1/2 sum_k |p_real(k) - p_gen(k)|`` and the chi-square
  p-value of the real-versus-generated contingency table (``scipy.stats.chi2_contingency``);
* per object type, the leading object's pT, eta and phi: the 1-Wasserstein distance over the
  real standard deviation and the Kolmogorov-Smirnov statistic; the same for MET;
* the classifier two-sample AUC (:func:`hepsift.generative.two_sample_auc`) on the flattened
  padded vector (multiplicities, the slots' pT, eta, phi, mass with -999 where absent, MET),
  and "real vs real" (training half against held-out half) as the floor finite samples allow.

Usage::

    python bench/object_generators.py [--source pythia|toy] [--events 8000] [--epochs 60] [--seed 1]
                                      [--cache bench/cache/objgen]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def pythia_csv(events: int, seed: int, cache: Path) -> Path:
    """t tbar events of hepsift.events as a DarkMachines CSV file (cached)."""
    from hepsift.events import generate
    from hepsift.io import read_tree, write_darkmachines

    cache.mkdir(parents=True, exist_ok=True)
    csv = cache / f"ttbar_{events}_{seed}.csv"
    if csv.is_file():
        return csv
    root = cache / f"ttbar_{events}_{seed}.root"
    if not root.is_file():
        generate("ttbar", events=events, seed=seed, output=root, workers=1)
    branches = ["MET_pt", "MET_phi", "weight"]
    for coll, fields in (("Jet", ("pt", "eta", "phi", "mass", "btag")), ("Electron", ("pt", "eta", "phi", "charge")),
                         ("Muon", ("pt", "eta", "phi", "charge")), ("Photon", ("pt", "eta", "phi"))):  # fmt: skip
        branches += [f"{coll}_{f}" for f in fields]
    arrays = read_tree(root, branches=branches, library="ak")
    return write_darkmachines(csv, arrays, process="ttbar")


def toy_csv(events: int, seed: int, cache: Path) -> Path:
    sys.path.insert(0, str(HERE.parent / "tests"))
    from darkmachines_toy import write_toy

    cache.mkdir(parents=True, exist_ok=True)
    csv = cache / f"toy_{events}_{seed}.csv"
    return csv if csv.is_file() else write_toy(csv, events, seed)


def multiplicity_table(model, real: np.ndarray, gen: np.ndarray, train: np.ndarray) -> list[str]:
    from scipy.stats import chi2_contingency

    names = model.generated_names_
    lines = ["| type | max | mean held-out | mean training | mean generated | total variation | chi2 p-value |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for lst in model.object_lists_:
        j, k = names.index(lst["count"]), int(lst["max_objects"])
        r = np.bincount(real[:, j].astype(int), minlength=k + 1)
        g = np.bincount(gen[:, j].astype(int), minlength=k + 1)
        tv = 0.5 * np.abs(r / r.sum() - g / g.sum()).sum()
        table = np.stack([r, g])
        table = table[:, table.sum(axis=0) > 0]
        p = chi2_contingency(table)[1] if table.shape[1] > 1 else 1.0
        lines.append(f"| {lst['name']} | {k} | {real[:, j].mean():.3f} | {train[:, j].mean():.3f} | "
                     f"{gen[:, j].mean():.3f} | {tv:.3f} | {p:.3f} |")  # fmt: skip
    return lines


def leading_table(model, f: dict) -> list[str]:
    lines = ["| leading object | pT W1/sigma | pT KS | eta W1/sigma | eta KS | phi KS |", "|---|---|---|---|---|---|"]
    per = f["per_feature"]
    for lst in model.object_lists_:
        t = lst["name"]
        lines.append(f"| {t}1 | {per[f'{t}1_pt']['wasserstein_rel']:.3f} | {per[f'{t}1_pt']['ks']:.3f} | "
                     f"{per[f'{t}1_eta']['wasserstein_rel']:.3f} | {per[f'{t}1_eta']['ks']:.3f} | "
                     f"{per[f'{t}1_phi']['ks']:.3f} |")  # fmt: skip
    lines.append(f"| MET | {per['MET_pt']['wasserstein_rel']:.3f} | {per['MET_pt']['ks']:.3f} | - | - | "
                 f"{per['MET_phi']['ks']:.3f} |")  # fmt: skip
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", choices=("pythia", "toy"), default="pythia")
    ap.add_argument("--events", type=int, default=8000, help="events in all (half train, half held out)")
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--max-objects", type=int, default=4)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cache", default=str(HERE / "cache" / "objgen"))
    args = ap.parse_args(argv)

    from hepsift.generative import ObjectListGenerator, fidelity
    from hepsift.io import read_darkmachines, write_darkmachines

    cache = Path(args.cache)
    csv = (pythia_csv if args.source == "pythia" else toy_csv)(args.events, args.seed, cache)
    events = read_darkmachines(csv, features=False)
    perm = np.random.default_rng(args.seed).permutation(len(events))
    train, test = events[np.sort(perm[: len(events) // 2])], events[np.sort(perm[len(events) // 2 :])]
    train_csv = cache / f"{csv.stem}_train.csv"
    if not train_csv.is_file():
        write_darkmachines(train_csv, train)
    model = ObjectListGenerator(max_objects=args.max_objects, epochs=args.epochs, seed=args.seed)
    t0 = time.perf_counter()
    model.fit(train_csv)  # straight from the DarkMachines file (MeV)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    gen = model.sample(len(test), seed=args.seed + 7, layout="flat")
    sample_s = time.perf_counter() - t0
    real, real_train = model.to_flat(test, unit="GeV"), model.to_flat(train, unit="GeV")
    names = model.generated_names_
    f_gen = fidelity(real, gen, feature_names=names, seed=args.seed)
    f_real = fidelity(real, real_train[: len(real)], feature_names=names, seed=args.seed)
    print(f"# object-list generator on {args.source} events ({csv.name}): {len(train)} training, {len(test)} "
          f"held-out; {model!r}; fit {fit_s:.0f} s, sampling {len(test)} events {sample_s:.1f} s\n")  # fmt: skip
    print("\n".join(multiplicity_table(model, real, gen, real_train)))
    print()
    print("\n".join(leading_table(model, f_gen)))
    print()
    print("| comparison | two-sample AUC (flattened padded vector) | mean W1/sigma | max KS |\n|---|---|---|---|")
    for label, f in (("real vs real", f_real), ("generated vs real", f_gen)):
        print(f"| {label} | {f['two_sample_auc']:.3f} | {f['wasserstein_rel_mean']:.3f} | {f['ks_max']:.3f} |")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
