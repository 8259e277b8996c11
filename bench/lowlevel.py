"""Top tagging on the boosted sample: models of constituents and images against high-level features.

Samples (generated once with ``hepsift.events``, constituents stored, cached in ``--cache``):
Z' -> t tbar (all hadronic, 2 TeV) and QCD multijets (``qcd_boosted``). Jets: the large-R
``FatJet``s with ``FatJet_truth`` top (signal, Z' sample) or quark/gluon (background, QCD
sample). Even events train, odd events test. Each jet is one example:

* **MLP**, **BDT**: ``FatJet_mass``, ``FatJet_pt``, ``FatJet_nConstituents``, and the same with the
  N-subjettiness ratios tau21 = ``FatJet_tau2 / FatJet_tau1`` and tau32 = ``FatJet_tau3 /
  FatJet_tau2`` added (the standard high-level top tagger);
* **CNN** (seed 001's layout), **LCNN**: 2 x 33 x 33 jet images (charged, neutral pT, summing to
  1; ``hepsift.images.jet_images``);
* **Deep Sets**: the constituents of the jet (log pT, pT / jet pT, delta eta, delta phi to the jet
  axis); **JetTagger**: the same network trained on whole events (the two leading FatJets, 64
  events per step, about as many jets as Deep Sets' 128), one score per jet;
* **CNN + kinematics**: a BDT on the CNN score and the three high-level features (and, in a second
  row, the two tau ratios too), trained and evaluated by two-fold cross-validation on the test jets
  (the CNN never saw them).

Prints ROC AUC and background rejection 1 / eps_B at eps_S = 50 % for every model, with the
standard deviation over 200 bootstrap resamples of the test jets (test-sample statistics only).

    python bench/lowlevel.py                 # 1500 Z' and 3000 QCD events, 10 epochs
    python bench/lowlevel.py --epochs 3 --zprime 500 --qcd 1000
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
HL = ("FatJet_mass", "FatJet_pt", "FatJet_nConstituents")
TAUS = ("FatJet_tau1", "FatJet_tau2", "FatJet_tau3")
PF = ("PFCand_pt", "PFCand_eta", "PFCand_phi")


def samples(cache: Path, n_zprime: int, n_qcd: int, seed: int) -> dict[str, Path]:
    from hepsift.events import generate

    cache.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, proc, mass, n in (("zprime", "zprime_tt_had", 2000.0, n_zprime), ("qcd", "qcd_boosted", None, n_qcd)):
        path = cache / (f"{proc}_m{mass:g}.root" if mass else f"{proc}.root")
        t0 = time.perf_counter()
        out[name] = generate(proc, mass=mass, events=n, seed=seed, constituents=True, output=path, workers=1,
                             progress=False)  # reused when a file of the same configuration exists
        print(f"{name}: {path.name} ({time.perf_counter() - t0:.0f} s)")
    return out


def relative(objects: np.ndarray, mask: np.ndarray, jet_pt: np.ndarray, jet_eta: np.ndarray,
             jet_phi: np.ndarray) -> np.ndarray:
    """(pt, eta, phi) of constituents [N, J, P, 3] -> (log pt, pt / jet pt, d eta, d phi) [N, J, P, 4]."""
    pt, eta, phi = objects[..., 0], objects[..., 1], objects[..., 2]
    dphi = np.mod(phi - jet_phi[..., None] + np.pi, 2 * np.pi) - np.pi
    out = np.stack([np.log(np.maximum(pt, 1e-3)), pt / jet_pt[..., None], eta - jet_eta[..., None], dphi], axis=-1)
    return np.where(mask[..., None] > 0, out, 0.0).astype(np.float32)


def load(paths: dict[str, Path], max_jets: int) -> dict[str, np.ndarray]:
    import awkward as ak

    from hepsift.images import jet_images
    from hepsift.io import read_root
    from hepsift.models import group_by_jet

    parts: dict[str, list[np.ndarray]] = {}
    for name, path in paths.items():
        a = read_root(path)
        X, m, _, _ = group_by_jet(a, PF, index="PFCand_fatJetIdx", jets="FatJet", max_jets=max_jets)
        J = X.shape[1]

        def pad(col: str, fill: float = 0.0) -> np.ndarray:
            return ak.to_numpy(ak.fill_none(ak.pad_none(a[col], J, axis=1, clip=True), fill)).astype(np.float64)

        truth = pad("FatJet_truth", -1)
        label = np.where(truth == 1, 1, np.where((truth == 4) | (truth == 5), 0, -1)) if name == "zprime" else \
            np.where((truth == 4) | (truth == 5), 0, -1)
        label[m.max(axis=2) == 0] = -1
        rel = relative(X, m, pad("FatJet_pt", 1.0), pad("FatJet_eta"), pad("FatJet_phi"))
        imgs = np.stack([jet_images(a, j, normalise="sum") for j in range(J)], axis=1)  # [N, J, 2, 33, 33]
        hl = np.stack([pad(c) for c in HL], axis=-1).astype(np.float32)
        t1, t2, t3 = (pad(c) for c in TAUS)
        ratios = [np.divide(a_, b_, out=np.zeros_like(a_), where=b_ > 0) for a_, b_ in ((t2, t1), (t3, t2))]
        hl_tau = np.concatenate([hl, np.stack(ratios, axis=-1).astype(np.float32)], axis=-1)  # + tau21, tau32
        even = (np.asarray(a["event"]) % 2 == 0) if "event" in a.fields else (np.arange(len(a)) % 2 == 0)
        for k, v in (("objects", rel), ("mask", m), ("label", label), ("images", imgs), ("hl", hl), ("hl_tau", hl_tau),
                     ("even", np.broadcast_to(even[:, None], label.shape))):
            parts.setdefault(k, []).append(v)
    return {k: np.concatenate([np.pad(x, [(0, 0)] * 2 + [(0, max(p.shape[2] for p in v) - x.shape[2])]
                                      + [(0, 0)] * (x.ndim - 3)) if k in ("objects", "mask") else x for x in v])
            for k, v in parts.items()}


def rejection_at(y: np.ndarray, s: np.ndarray, eff: float = 0.5) -> float:
    from hepsift.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, s)
    eps_b = float(np.interp(eff, tpr, fpr))
    return 1.0 / eps_b if eps_b > 0 else float("inf")


def bootstrap(y: np.ndarray, s: np.ndarray, n: int = 200, seed: int = 0) -> tuple[float, float]:
    """Standard deviations of the AUC and of the rejection over ``n`` bootstrap resamples of the test jets
    (the statistical uncertainty of the test sample; not the spread of retraining)."""
    from hepsift.metrics import roc_auc

    rng = np.random.default_rng(seed)
    draws = [rng.integers(0, len(y), len(y)) for _ in range(n)]
    return (float(np.std([roc_auc(y[i], s[i]) for i in draws])),
            float(np.std([rejection_at(y[i], s[i]) for i in draws])))


def main() -> int:
    from hepsift.metrics import roc_auc
    from hepsift.models import (
        BDTClassifier,
        CNNClassifier,
        DeepSetsClassifier,
        JetTagger,
        LCNNClassifier,
        MLPClassifier,
    )

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cache", type=Path, default=HERE / "cache" / "lowlevel")
    p.add_argument("--zprime", type=int, default=1500, help="Z' -> t tbar events (default 1500)")
    p.add_argument("--qcd", type=int, default=3000, help="QCD events (default 3000)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--max-jets", type=int, default=2, help="leading FatJets per event (default 2)")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()

    t0 = time.perf_counter()
    d = load(samples(args.cache, args.zprime, args.qcd, args.seed), args.max_jets)
    lab, even = d["label"], d["even"]
    tr, te = (lab >= 0) & even, (lab >= 0) & ~even
    y_tr, y_te = lab[tr], lab[te]
    print(f"jets: train {len(y_tr)} ({int(y_tr.sum())} top), test {len(y_te)} ({int(y_te.sum())} top); "
          f"constituents per jet <= {d['objects'].shape[2]}; loaded in {time.perf_counter() - t0:.0f} s")
    common = {"epochs": args.epochs, "seed": args.seed, "class_weight": "balanced"}
    results: dict[str, tuple[float, float, float, float, float]] = {}

    def record(name: str, fit, score) -> np.ndarray:  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        fit()
        s = np.asarray(score(), dtype=np.float64)
        dt = time.perf_counter() - t
        results[name] = (roc_auc(y_te, s), rejection_at(y_te, s), *bootstrap(y_te, s), dt)
        auc, rej, d_auc, d_rej, _ = results[name]
        print(f"  {name:<26s} AUC {auc:.4f} +- {d_auc:.4f}  1/eps_B(50%) {rej:6.1f} +- {d_rej:4.1f}  ({dt:.0f} s)",
              flush=True)
        return s

    mlp = MLPClassifier(hidden_layers=(64, 64), epochs=100, class_weight="balanced", seed=args.seed)
    record("MLP (m, pT, nConst)", lambda: mlp.fit(d["hl"][tr], y_tr), lambda: mlp.predict_proba(d["hl"][te])[:, 1])
    bdt = BDTClassifier(class_weight="balanced", seed=args.seed)
    record("BDT (m, pT, nConst)", lambda: bdt.fit(d["hl"][tr], y_tr), lambda: bdt.predict_proba(d["hl"][te])[:, 1])
    mlp_t = MLPClassifier(hidden_layers=(64, 64), epochs=100, class_weight="balanced", seed=args.seed)
    record("MLP (+ tau21, tau32)", lambda: mlp_t.fit(d["hl_tau"][tr], y_tr),
           lambda: mlp_t.predict_proba(d["hl_tau"][te])[:, 1])
    bdt_t = BDTClassifier(class_weight="balanced", seed=args.seed)
    record("BDT (+ tau21, tau32)", lambda: bdt_t.fit(d["hl_tau"][tr], y_tr),
           lambda: bdt_t.predict_proba(d["hl_tau"][te])[:, 1])
    cnn = CNNClassifier(channels=("charged", "neutral"), **common)
    s_cnn = record("CNN (seed 001)", lambda: cnn.fit(d["images"][tr], y_tr),
                   lambda: cnn.predict_proba(d["images"][te])[:, 1])
    lcnn = LCNNClassifier(channels=("charged", "neutral"), **common)
    record("LCNN", lambda: lcnn.fit(d["images"][tr], y_tr), lambda: lcnn.predict_proba(d["images"][te])[:, 1])
    names = ("log_pt", "pt_frac", "deta", "dphi")
    ds = DeepSetsClassifier(inputs=names, **common)
    record("Deep Sets (constituents)", lambda: ds.fit(d["objects"][tr], y_tr, mask=d["mask"][tr]),
           lambda: ds.predict_proba(d["objects"][te], d["mask"][te])[:, 1])
    ev_tr, ev_te = even[:, 0], ~even[:, 0]
    jt = JetTagger(inputs=names, **{**common, "batch_size": 64})  # 64 events: about 128 jets per step
    record("JetTagger (per event)",
           lambda: jt.fit(d["objects"][ev_tr], np.where(even, lab, -1)[ev_tr], mask=d["mask"][ev_tr]),
           lambda: jt.predict_proba(d["objects"][ev_te], d["mask"][ev_te])[..., 1][(lab >= 0)[ev_te]])
    # CNN score + kinematics: a BDT by two-fold cross-validation on the test jets
    fold = np.arange(len(y_te)) % 2 == 0

    def stacked(features: np.ndarray) -> tuple:  # type: ignore[type-arg]
        stack = np.column_stack([s_cnn, features[te]]).astype(np.float32)
        out = np.zeros(len(y_te))

        def fit_stack() -> None:
            for a in (fold, ~fold):
                b = BDTClassifier(seed=args.seed).fit(stack[a], y_te[a])
                out[~a] = b.predict_proba(stack[~a])[:, 1]

        return fit_stack, lambda: out

    record("CNN + kinematics (BDT)", *stacked(d["hl"]))
    record("CNN + kin. + taus (BDT)", *stacked(d["hl_tau"]))
    print("\n| model | ROC AUC | 1/eps_B at eps_S = 50% | fit time |\n| --- | --- | --- | --- |")
    for name, (auc, rej, d_auc, d_rej, dt) in results.items():
        print(f"| {name} | {auc:.3f} +- {d_auc:.3f} | {rej:.1f} +- {d_rej:.1f} | {dt:.0f} s |")
    print(f"(total {time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
