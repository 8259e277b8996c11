"""Compare hepsift's classifiers: random forest, BDT (AdaBoost and gradient), MLP, parameterised MLP,
against scikit-learn's HistGradientBoosting baseline.

1. ATLAS Higgs ML sample (``../shared/data/atlas_higgsml``): ROC AUC and the challenge's AMS
   (b_r = 10) at the best cut on the test half, with the sample's weights.
2. Z' masses (when ntuples from ``hepsift generate`` are given with ``--zprime-dir``; files named
   ``*zprime*m<MASS>*.root`` for signals, the others backgrounds): accuracy, Cohen's kappa and F1 per
   mass for RF, BDT, NN trained per mass and one parameterised NN trained on all masses.

Usage::

    python bench/compare_classifiers.py [--higgsml ../shared/data/atlas_higgsml] [--zprime-dir data/] [--seed 1]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import numpy as np


def models(seed: int) -> dict:
    from sklearn.ensemble import HistGradientBoostingClassifier

    from hepsift.models import BDTClassifier, MLPClassifier, RandomForestClassifier

    return {
        "RF (200 trees)": RandomForestClassifier(n_estimators=200, min_samples_leaf=5, seed=seed),
        "BDT AdaBoost (200, d3)": BDTClassifier(boosting="adaboost", n_estimators=200, max_depth=3, learning_rate=0.5, seed=seed),
        "BDT gradient (200, d3)": BDTClassifier(boosting="gradient", n_estimators=200, max_depth=3, learning_rate=0.1, seed=seed),
        "NN 3x64 relu": MLPClassifier(hidden_layers=(64, 64, 64), epochs=60, patience=8, learning_rate=1e-3,
                                      class_weight="balanced", seed=seed),
        "sklearn HistGB": HistGradientBoostingClassifier(max_iter=200, random_state=seed),
    }


def higgsml(folder: Path, seed: int) -> None:
    from hepsift import metrics
    from hepsift.data import Dataset

    ds = Dataset.from_higgsml(folder)
    train, test = ds.split(0.5, seed=seed)
    print(f"\n== ATLAS Higgs ML sample: {len(train)} training, {len(test)} test events, {ds.n_features} features "
          f"(-999 kept as the missing-value sentinel)")
    print(f"{'model':26s} {'AUC':>7s} {'AMS (b_r=10)':>13s} {'fit [s]':>8s}")
    for name, model in models(seed).items():
        t0 = time.perf_counter()
        model.fit(train.X, train.y, sample_weight=train.balanced_weights())
        dt = time.perf_counter() - t0
        score = model.predict_proba(test.X)[:, 1]
        auc = metrics.roc_auc(test.y, score, test.weight)
        ams = metrics.best_cut_significance(test.y, score, test.weight, metric="ams", b_reg=10.0).significance
        print(f"{name:26s} {auc:7.4f} {ams:13.3f} {dt:8.1f}")
    print("(AUC weighted with the physics weights; AMS on the test half scaled to the sample's total yields)")


def zprime(folder: Path, seed: int) -> None:
    from hepsift import metrics
    from hepsift.data import Dataset
    from hepsift.models import MLPClassifier, ParameterizedClassifier

    files = sorted(folder.glob("*.root"))
    sig = {}
    for f in files:
        m = re.search(r"zprime.*?m(\d+)", f.name)
        if m:
            sig[float(m.group(1))] = f
    bkg = [f for f in files if not re.search(r"_m\d+", f.name)]  # other signals (W', T', ...) are left out
    if not sig or not bkg:
        print(f"\n== Z' masses: no signal/background ntuples in {folder}; skipped")
        return
    masses = sorted(sig)
    ds = Dataset.from_root([*bkg, *sig.values()], "full")
    train, test = ds.split(0.3, seed=seed)
    print(f"\n== Z' -> t tbar at {', '.join(f'{m:g}' for m in masses)} GeV: {len(train)} training events, "
          f"{ds.n_features} features")
    pnn = ParameterizedClassifier(estimator=MLPClassifier(hidden_layers=(64, 64, 64), epochs=60, patience=8,
                                                          class_weight="balanced", seed=seed), seed=seed)
    trm = train.with_mass_feature("mass")
    pnn.fit(trm.X, trm.y, trm.weight)
    rows = []
    for m in masses:
        sel_tr = (train.y == 0) | (train.mass == m)
        sel_te = (test.y == 0) | (test.mass == m)
        Xtr, ytr = train.X[sel_tr], train.y[sel_tr]
        wtr = train.subset(sel_tr).balanced_weights()
        Xte, yte = test.X[sel_te], test.y[sel_te]
        for name, model in models(seed).items():
            if name == "sklearn HistGB":
                continue
            model.fit(Xtr, ytr, sample_weight=wtr)
            pred = model.predict(Xte)
            rows.append((m, name, metrics.accuracy(yte, pred), metrics.cohen_kappa(yte, pred), metrics.f1(yte, pred)))
        Xp = np.column_stack([Xte, np.full(len(Xte), m, np.float32)])
        pred = pnn.predict(Xp)
        rows.append((m, "parameterised NN", metrics.accuracy(yte, pred), metrics.cohen_kappa(yte, pred),
                     metrics.f1(yte, pred)))
    print(f"{'mass':>6s} {'model':26s} {'accuracy':>9s} {'kappa':>7s} {'F1':>7s}")
    for m, name, acc, kap, f1 in rows:
        print(f"{m:6g} {name:26s} {acc:9.4f} {kap:7.4f} {f1:7.4f}")


def main(argv: list[str] | None = None) -> int:
    here = Path(__file__).resolve().parent
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--higgsml", type=Path, default=here.parent.parent / "shared" / "data" / "atlas_higgsml")
    p.add_argument("--zprime-dir", type=Path, default=None, help="folder with hepsift generate ntuples")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    if args.higgsml.is_dir():
        higgsml(args.higgsml, args.seed)
    else:
        print(f"HiggsML sample not found at {args.higgsml}; skipped")
    if args.zprime_dir is not None:
        zprime(args.zprime_dir, args.seed)
    else:
        print("\n(no --zprime-dir: the per-mass Z' comparison needs ntuples from `hepsift generate --preset demo`)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
