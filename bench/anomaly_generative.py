"""Anomaly detectors and generative models: the numbers.

Prints (markdown):

1. AUC and signal efficiency at background efficiency 1e-3 per detector and signal, with a
   supervised classifier (gradient-boosted trees trained on that signal) and H_T alone as
   references, and the average / AND combinations of the four detectors;
2. generator fidelity (beta-VAE and normalising flow vs held-out real events);
3. generation speed (events/s) of the flow natively, in ONNX Runtime and inside RDataFrame,
   as a ratio to Pythia 8 + the detector model for the same process.

Data: the demo data set of :func:`hepsift.events.demo_dataset` when Pythia 8 is installed
(backgrounds = every background sample, signals = every signal sample; sanitised feature set);
otherwise a documented toy: a 6-feature "background" (``met_pt``, ``jet1_pt``, ``jet2_pt``,
``m_jj``, ``jet1_eta``, ``ht``) and three toy signals -- ``resonance`` (m_jj peak at 300 GeV),
``met_tail`` (+120 GeV missing E_T) and ``hard_jets`` (jet p_T scaled by 1.8).

Usage::

    python bench/anomaly_generative.py [--events 40000] [--seed 1] [--data bench/cache/demo]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
PYTHIA_EVENTS_PER_S_PER_CORE = 190.0  # t tbar, Pythia 8 + detector model, measured (see DESIGN.md)


def toy_background(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 6))
    met = 30 + 25 * np.abs(z[:, 0])
    j1 = 60 + 50 * rng.exponential(size=n) * (1 + 0.2 * np.abs(z[:, 1]))
    j2 = 30 + 0.5 * (j1 - 60) * rng.random(n) + 10 * np.abs(z[:, 2])
    mjj = 80.4 + 12 * z[:, 3] + 0.1 * (j1 - 60)
    eta = 1.4 * z[:, 4]
    return {"met_pt": met, "jet1_pt": j1, "jet2_pt": j2, "m_jj": mjj, "jet1_eta": eta,
            "ht": j1 + j2 + 20 * np.abs(z[:, 5])}


def toy_signals(n: int, seed: int) -> dict[str, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    res = toy_background(n, seed + 1)
    res["m_jj"] = 300 + 15 * rng.normal(size=n)
    met = toy_background(n, seed + 2)
    met["met_pt"] = met["met_pt"] + 120
    hard = toy_background(n, seed + 3)
    for k in ("jet1_pt", "jet2_pt"):
        hard[k] = hard[k] * 1.8
    hard["ht"] = hard["jet1_pt"] + hard["jet2_pt"] + (hard["ht"] - hard["jet1_pt"] / 1.8 - hard["jet2_pt"] / 1.8)
    return {"resonance": res, "met_tail": met, "hard_jets": hard}


def demo_data(folder: Path, seed: int) -> tuple[dict[str, np.ndarray], dict[str, dict[str, np.ndarray]], str] | None:
    try:
        import pythia8mc  # noqa: F401

        from hepsift.events import demo_dataset
    except ImportError:
        return None
    import uproot

    from hepsift.anomaly import sanitised_features
    from hepsift.io.features import FEATURE_NAMES

    files = demo_dataset(folder, seed=seed)
    backgrounds = [k for k in files if not any(s in k for s in ("prime",))]
    read = {}
    for name, f in files.items():
        t = uproot.open(f)["Events"]
        names = [n for n in FEATURE_NAMES if n in t.keys()]
        read[name] = {n: np.asarray(v, dtype=np.float32) for n, v in t.arrays(names, library="np").items()}
    bkg = {n: np.concatenate([read[b][n] for b in backgrounds]) for n in read[backgrounds[0]]}
    keep = sanitised_features(bkg)
    bkg = {n: bkg[n] for n in keep}
    sigs = {k: {n: v[n] for n in keep} for k, v in read.items() if k not in backgrounds}
    return bkg, sigs, f"demo data set ({', '.join(backgrounds)} as background)"


def matrix(d: dict[str, np.ndarray], names: list[str]) -> np.ndarray:
    return np.stack([np.asarray(d[n], dtype=np.float32) for n in names], axis=1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=40000, help="toy background events")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--data", default=str(HERE / "cache" / "demo"), help="folder of the demo data set")
    ap.add_argument("--toy", action="store_true", help="use the toy data even when Pythia 8 is installed")
    args = ap.parse_args(argv)

    from hepsift.anomaly import DETECTORS
    from hepsift.anomaly import evaluate as ev
    from hepsift.generative import BetaVAE, NormalizingFlow, fidelity
    from hepsift.generative.fidelity import format_fidelity, generation_speed

    got = None if args.toy else demo_data(Path(args.data), args.seed)
    if got is None:
        bkg, sigs = toy_background(args.events, args.seed), toy_signals(args.events // 4, args.seed + 100)
        origin = "toy data (no Pythia 8: see the module documentation)"
    else:
        bkg, sigs, origin = got
    names = list(bkg)
    X = matrix(bkg, names)
    rng = np.random.default_rng(args.seed)
    perm = rng.permutation(len(X))
    train, test = X[perm[: len(X) // 2]], X[perm[len(X) // 2 :]]
    print(f"# anomaly detectors and generative models\n\ndata: {origin}; {len(train)} training and {len(test)} "
          f"test background events; features: {', '.join(names)}\n")

    # ---- detectors ---------------------------------------------------------------------
    bscores: dict[str, np.ndarray] = {}
    sscores: dict[str, dict[str, np.ndarray]] = {}
    timing = {}
    for key, cls in DETECTORS.items():
        t0 = time.perf_counter()
        det = cls(seed=args.seed).fit(train, feature_names=names)
        timing[key] = time.perf_counter() - t0
        bscores[key] = det.decision_function(test)
        sscores[key] = {s: det.decision_function(matrix(v, names)) for s, v in sigs.items()}
    for method in ("average", "and"):
        bscores[f"combined ({method})"] = ev.combine_scores(
            {k: bscores[k] for k in DETECTORS}, {k: bscores[k] for k in DETECTORS}, method=method)
        sscores[f"combined ({method})"] = {
            s: ev.combine_scores({k: bscores[k] for k in DETECTORS}, {k: sscores[k][s] for k in DETECTORS},
                                 method=method) for s in sigs}  # fmt: skip
    # references: a supervised classifier per signal (trained on the training half) and H_T
    from sklearn.ensemble import HistGradientBoostingClassifier

    sup_b, sup_s = {}, {}
    for s, v in sigs.items():
        S = matrix(v, names)
        half = len(S) // 2
        clf = HistGradientBoostingClassifier(max_iter=200, random_state=args.seed).fit(
            np.concatenate([train, S[:half]]), np.r_[np.zeros(len(train)), np.ones(half)])
        sup_b[s] = clf.predict_proba(test)[:, 1]
        sup_s[s] = clf.predict_proba(S[half:])[:, 1]
    rows = ev.comparison_table(bscores, sscores)
    for s in sigs:
        rows += ev.comparison_table({"supervised (BDT)": sup_b[s]}, {"supervised (BDT)": {s: sup_s[s]}})
    if "ht" in names:
        j = names.index("ht")
        rows += ev.comparison_table({"H_T alone": test[:, j]},
                                    {"H_T alone": {s: matrix(v, names)[:, j] for s, v in sigs.items()}})
    print("## AUC and eps_S at eps_B = 1e-3\n")
    print(ev.format_table(rows, ("auc", "eps_s@1e-3")))
    print(f"\n(eps_B = 1e-3 on {len(test)} background events: the cut rests on {len(test) // 1000} events)")
    print("\ntraining time [s]: " + ", ".join(f"{k} {v:.1f}" for k, v in timing.items()))
    corr_names, corr = ev.score_correlation({k: bscores[k] for k in DETECTORS})
    print("\nscore rank correlation on background: " + "; ".join(
        f"{corr_names[i]}-{corr_names[j]} {corr[i, j]:.2f}" for i in range(4) for j in range(i + 1, 4)))
    plot = ev.plot_score_correlation({"background": (corr_names, corr)}, HERE / "cache" / "anomaly_correlation.png")
    print(f"(plot: {plot})")

    # ---- generators -----------------------------------------------------------------------
    gtrain, gtest = train[: 20000], test[: 20000]
    gens = {
        "beta-VAE": BetaVAE(seed=args.seed, epochs=60).fit(gtrain, feature_names=names),
        "flow (NSF)": NormalizingFlow(seed=args.seed, epochs=40).fit(gtrain, feature_names=names),
    }
    fid = {k: fidelity(gtest, g.sample(len(gtest), seed=args.seed + 7), feature_names=names, seed=args.seed)
           for k, g in gens.items()}  # fmt: skip
    print("\n## generator fidelity (vs held-out real events)\n")
    print(format_fidelity(fid))
    print("\nper-feature KS: " + "; ".join(
        f"{k}: " + ", ".join(f"{n} {v['ks']:.3f}" for n, v in f["per_feature"].items()) for k, f in fid.items()))

    # ---- speed -------------------------------------------------------------------------------
    import tempfile

    from hepsift.export import onnx_predict

    print("\n## generation speed (one core)\n")
    print(f"| generator | native torch [ev/s] | ONNX Runtime [ev/s] | RDataFrame [ev/s] | vs Pythia 8 + detector |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for k, g in gens.items():
            path = g.to_onnx(Path(tmp) / "g.onnx")
            native = generation_speed(lambda n: g.sample(n, seed=0), 100000)
            z = np.random.default_rng(0).standard_normal((100000, g.latent_dim_)).astype(np.float32)
            ort = generation_speed(lambda n: onnx_predict(path, z[:n]), 100000)
            rdf = rdf_speed(path, 100000)
            best = max(native, ort, rdf or 0.0)
            print(f"| {k} | {native:,.0f} | {ort:,.0f} | {'n/a' if rdf is None else f'{rdf:,.0f}'} "
                  f"| x{best / PYTHIA_EVENTS_PER_S_PER_CORE:,.0f} |")
    print(f"\nPythia 8 + detector model: {PYTHIA_EVENTS_PER_S_PER_CORE:.0f} t tbar events/s per core (measured on the "
          f"development machine; the ratio uses the fastest generator path)")
    return 0


def rdf_speed(path: Path, n: int) -> float | None:
    try:
        import hepsift.rdf
        from hepsift.rdf import sample
    except ImportError:
        return None
    ROOT = hepsift.rdf.load_library()

    df = sample(str(path), n, seed=1)
    cols = [c for c in hepsift.rdf.column_names(df) if not c.startswith("__") and c != "event"]
    df.Sum(cols[0]).GetValue()  # first loop: just-in-time compilation of the Defines, then the events
    sums = [df.Sum(c) for c in cols]
    t0 = time.perf_counter()
    ROOT.RDF.RunGraphs(sums)  # second loop over the same graph: the events only
    return n / (time.perf_counter() - t0)

if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
