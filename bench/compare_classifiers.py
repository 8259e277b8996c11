"""hepsift's default classifiers against scikit-learn's and XGBoost's defaults: ROC AUC and training time.

Every model is built with its library's defaults (hepsift: ``BDTClassifier()``, ``MLPClassifier()``;
scikit-learn: ``HistGradientBoostingClassifier()``, ``MLPClassifier()``; XGBoost: ``XGBClassifier()``),
only the seed fixed, and trained without event weights on the training half of each task; the AUC is
the unweighted ROC AUC on the other half. Tasks, in one process:

1. ``higgsml``: the ATLAS Higgs ML sample (``../shared/data/atlas_higgsml``, 5k signal + 5k
   background, 30 features with -999 for absent objects), split 50/50.
2. ``zprime``: Z' (1 TeV) -> t tbar against t tbar; 3. ``tprime``: T' T' (1.2 TeV) against t tbar;
   events from ``hepsift.events`` (8000 t tbar, 4000 of each signal, seed 1, about 8 minutes on
   one core the first time), cached in ``--cache`` and reused; ``full`` features, split 50/50.
4. ``synthetic``: ``sklearn.datasets.make_classification`` with 30 features (12 informative, 6
   redundant, 5 % label noise, seed 0): 20k training and 10k test events for every model, and
   (``--large``) 1M training events for the tree models, for the training time.

Times are wall-clock seconds of ``fit`` with ``--threads`` threads for every model (OpenMP and
BLAS through threadpoolctl, XGBoost's ``n_jobs``, hepsift MLP's ``threads``; default 1: on a
loaded shared machine, OpenMP threads that wait for each other make scikit-learn's and XGBoost's
tree boosters ten times slower and their times meaningless). Compare the ratios within one run.
Usage::

    python bench/compare_classifiers.py [--large] [--tasks higgsml zprime tprime synthetic] [--threads 1] [--seed 1]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
TASKS = ("higgsml", "zprime", "tprime", "synthetic")
SIGNALS = {"zprime": ("zprime_tt", 1000.0), "tprime": ("tprime_pair", 1200.0)}


def models(seed: int, threads: int) -> dict[str, Callable[[], Any]]:
    """Constructors of every model, defaults only (seed and threads fixed)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.neural_network import MLPClassifier as SkMLP

    from hepsift.models import BDTClassifier, MLPClassifier

    out: dict[str, Callable[[], Any]] = {
        "hepsift BDT": lambda: BDTClassifier(seed=seed),
        "sklearn HGB": lambda: HistGradientBoostingClassifier(random_state=seed),
    }
    try:
        import xgboost

        out["XGBoost"] = lambda: xgboost.XGBClassifier(random_state=seed, n_jobs=threads)
    except ImportError:
        print("(xgboost not installed: `pip install .[bench]` adds it; its column is skipped)")
    out["hepsift MLP"] = lambda: MLPClassifier(seed=seed, threads=threads)
    out["sklearn MLP"] = lambda: SkMLP(random_state=seed)
    return out


TREES = ("hepsift BDT", "sklearn HGB", "XGBoost")


def higgsml(folder: Path, seed: int) -> tuple[np.ndarray, ...] | None:
    from hepsift.data import Dataset

    if not folder.is_dir():
        print(f"\n== higgsml: {folder} not found; skipped")
        return None
    train, test = Dataset.from_higgsml(folder).split(0.5, seed=seed)
    return train.X, train.y, test.X, test.y


def generated(name: str, cache: Path, seed: int) -> tuple[np.ndarray, ...]:
    from hepsift.data import Dataset
    from hepsift.events import generate

    process, mass = SIGNALS[name]
    cache.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    bkg = generate("ttbar", events=8000, seed=1, output=cache / "ttbar.root", workers=1, progress=False)
    sig = generate(process, mass=mass, events=4000, seed=1, output=cache / f"{process}_m{mass:g}.root", workers=1,
                   progress=False)
    dt = time.perf_counter() - t0
    if dt > 5:
        print(f"(generated {name} samples in {dt:.0f} s, cached in {cache})")
    train, test = Dataset.from_root([bkg, sig], "full").split(0.5, seed=seed)
    return train.X, train.y, test.X, test.y


def synthetic(n_train: int, n_test: int = 10_000) -> tuple[np.ndarray, ...]:
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=n_train + n_test, n_features=30, n_informative=12, n_redundant=6,
                               flip_y=0.05, class_sep=0.7, random_state=0)
    X = X.astype(np.float32)
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:]


def run_task(name: str, data: tuple[np.ndarray, ...], makers: dict[str, Callable[[], Any]],
             only: tuple[str, ...] | None = None) -> dict[str, tuple[float, float]]:
    """Fit every model; print and return {model: (AUC, fit seconds)}."""
    from sklearn.metrics import roc_auc_score

    Xtr, ytr, Xte, yte = data
    print(f"\n== {name}: {len(Xtr)} training / {len(Xte)} test events, {Xtr.shape[1]} features, "
          f"signal fraction {np.mean(ytr):.2f}")
    print(f"{'model':14s} {'AUC':>7s} {'fit [s]':>8s}")
    res: dict[str, tuple[float, float]] = {}
    for label, make in makers.items():
        if only is not None and label not in only:
            continue
        model = make()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scikit-learn's MLP warns when it stops at max_iter
            t0 = time.perf_counter()
            model.fit(Xtr, ytr)
            dt = time.perf_counter() - t0
        auc = float(roc_auc_score(yte, model.predict_proba(Xte)[:, 1]))
        res[label] = (auc, dt)
        print(f"{label:14s} {auc:7.4f} {dt:8.2f}", flush=True)
    ratios = []
    if "hepsift BDT" in res and "sklearn HGB" in res:
        (a, t), (a0, t0) = res["hepsift BDT"], res["sklearn HGB"]
        ratios.append(f"BDT - HGB AUC {a - a0:+.4f}, BDT / HGB time {t / t0:.2f}")
    if "hepsift BDT" in res and "XGBoost" in res:
        (a, t), (a0, t0) = res["hepsift BDT"], res["XGBoost"]
        ratios.append(f"BDT - XGBoost AUC {a - a0:+.4f}, BDT / XGBoost time {t / t0:.2f}")
    if "hepsift MLP" in res and "sklearn MLP" in res:
        (a, t), (a0, t0) = res["hepsift MLP"], res["sklearn MLP"]
        ratios.append(f"MLP - sklearn MLP AUC {a - a0:+.4f}, time {t / t0:.2f}")
    for r in ratios:
        print("  " + r)
    return res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS))
    p.add_argument("--higgsml", type=Path, default=HERE.parent.parent / "shared" / "data" / "atlas_higgsml")
    p.add_argument("--cache", type=Path, default=Path("/tmp/hepsift-bench"), help="folder for generated samples")
    p.add_argument("--large", action="store_true", help="also time the tree models on 1M x 30 synthetic events")
    p.add_argument("--threads", type=int, default=1, help="threads of every model (default 1)")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    from threadpoolctl import threadpool_limits

    makers = models(args.seed, args.threads)  # imports the libraries: their thread pools exist from here on
    import torch  # noqa: F401  (hepsift's MLP sets its own threads; BLAS of the other MLP is limited below)

    with threadpool_limits(args.threads):
        return _run(args, makers)


def _run(args: argparse.Namespace, makers: dict[str, Callable[[], Any]]) -> int:
    print(f"(threads per model: {args.threads})")
    for task in args.tasks:
        if task == "higgsml":
            data = higgsml(args.higgsml, args.seed)
            if data is not None:
                run_task("higgsml (ATLAS Higgs ML sample, -999 kept)", data, makers)
        elif task in SIGNALS:
            label = {"zprime": "Z' (1 TeV) vs t tbar", "tprime": "T' T' (1.2 TeV) vs t tbar"}[task]
            run_task(label, generated(task, args.cache, args.seed), makers)
        else:
            run_task("synthetic 20k", synthetic(20_000), makers)
            if args.large:
                run_task("synthetic 1M (tree models only)", synthetic(1_000_000, 100_000), makers, only=TREES)
    return 0


if __name__ == "__main__":
    sys.exit(main())
