"""The chain of ``hepsift demo`` on the embedded default data.

1. events: the demo preset of :mod:`hepsift.events` (Pythia 8 Standard Model backgrounds
   and a Z' -> t tbar signal through the detector model, written as ROOT files; reused when
   already there);
2. training: an MLP (PyTorch) and a BDT on the high-level features, Z' against background;
3. export: one ONNX file per model with its preprocessing and metadata, checked at export;
4. inference in ROOT: both scores defined inside RDataFrame with ``hepsift.rdf.define``
   (batched and per event) under ImplicitMT, histogrammed in the same event loop, checked
   against ONNX Runtime's Python API;
5. anomaly detection: detectors trained on background only, evaluated on every signal;
6. statistics: significance, luminosity reach, expected CLs limit with bands, and a quick
   model-independent NPLM test on pseudo-data with injected signal. The background of the
   limit is the simulation of t tbar, W/Z + jets and dibosons in the selection, and for QCD a
   fake-lepton template (the QCD events without the lepton requirement times the fake rate
   measured on the QCD sample); the limit is checked against the MC statistics of each bin, a
   back-of-envelope estimate from s and b, and a refit of the written workspace with pyhf
   (:func:`hepsift.demo.statistics.demo_statistics`).

Everything goes into one output folder, with a ``summary.json``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from hepsift._atomic import atomic_output
from hepsift._version import __version__
from hepsift.errors import DataError

__all__ = ["run_demo"]

LUMINOSITY = 140_000.0  # pb^-1 (140 fb^-1, LHC Run 2)


def _step(title: str) -> float:
    print(f"\n== {title}", flush=True)
    return time.perf_counter()


def _load(files: dict[str, Path]) -> tuple[dict[str, np.ndarray], list[str]]:
    """Features (hepsift's flat features that the files have), weights, labels, process names,
    event numbers and process ids of every sample, read with :func:`hepsift.io.read_tree`."""
    from hepsift.io.features import FEATURE_NAMES
    from hepsift.io.root import read_tree

    first = next(iter(files.values()))
    features = list(read_tree(first, [], tree="Events", optional=FEATURE_NAMES, entry_stop=0))
    parts: dict[str, list[np.ndarray]] = {"X": [], "w": [], "y": [], "proc": [], "event": [], "pid": []}
    for name, path in files.items():
        a = read_tree(path, [*features, "weight", "signal_mass", "event", "process_id"], tree="Events")
        if len(a["weight"]) == 0:
            raise DataError(f"'{path}' holds no events")
        parts["X"].append(np.stack([a[f].astype(np.float32) for f in features], axis=1))
        parts["w"].append(a["weight"].astype(np.float64))
        parts["y"].append((a["signal_mass"] > 0).astype(np.float32))
        parts["proc"].append(np.full(len(a["weight"]), name))
        parts["event"].append(a["event"].astype(np.int64))
        parts["pid"].append(a["process_id"].astype(np.int64))
    return {k: np.concatenate(v) for k, v in parts.items()}, features


def run_demo(out_dir: Path, *, seed: int = 1, threads: int = 2, quick: bool = False) -> dict[str, Any]:
    """Run the demo chain; returns (and writes to ``out_dir/summary.json``) its numbers."""
    from hepsift import events, metrics
    from hepsift.export import onnx_predict
    from hepsift.models import BDTClassifier, MLPClassifier

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {"hepsift": __version__, "seed": seed}

    preset = "smoke" if quick else "demo"
    t0 = _step(f"1. events: Pythia 8 + detector model (preset '{preset}'; reused when present)")
    cpu0 = os.times()
    every = {k: Path(v) for k, v in events.generate_preset(preset, out_dir / "data" / preset, seed=seed,
                                                             log=lambda m: print(f"   {m}", flush=True)).items()}
    cpu1 = os.times()
    cpu = sum(getattr(cpu1, a) - getattr(cpu0, a) for a in ("user", "system", "children_user", "children_system"))
    print(f"   events ready in {time.perf_counter() - t0:.0f} s wall, {cpu:.0f} s CPU (this process and its workers)")
    # The supervised search: Z' -> t tbar (all masses) against the Standard Model backgrounds.
    files = {k: v for k, v in every.items() if not k.startswith(("tprime", "wprime"))}
    others = {k: v for k, v in every.items() if k.startswith(("tprime", "wprime"))}
    data, features = _load(files)
    n_sig, n_bkg = int(data["y"].sum()), int((1 - data["y"]).sum())
    print(f"   {len(every)} samples; Z' signal {n_sig} and background {n_bkg} events, {len(features)} features "
          f"({time.perf_counter() - t0:.0f} s)")
    summary["events"] = {"signal": n_sig, "background": n_bkg, "files": {k: str(v) for k, v in every.items()}}

    t0 = _step("2. training: MLP (PyTorch) and BDT (histogram gradient boosting) on the high-level features")
    # Even event numbers train, odd ones test (the same split inside RDataFrame below).
    train = data["event"] % 2 == 0
    Xtr, ytr = data["X"][train], data["y"][train]
    mlp = MLPClassifier(hidden_layers=(64, 64, 64), epochs=15, batch_size=256, seed=seed)
    mlp.fit(Xtr, ytr)
    bdt = BDTClassifier(seed=seed).fit(Xtr, ytr)  # the default: histogram boosting, scikit-learn's HGB
    print(f"   trained in {time.perf_counter() - t0:.0f} s")

    t0 = _step("3. export: one self-describing ONNX file per model, checked against the native model")
    paths = {"mlp": mlp.to_onnx(out_dir / "mlp.onnx", features, overwrite=True),
             "bdt": bdt.to_onnx(out_dir / "bdt.onnx", features, overwrite=True)}
    for name, path in paths.items():
        print(f"   {name}: {path} ({path.stat().st_size / 1024:.0f} kB)")

    t0 = _step(f"4. inference inside RDataFrame (ImplicitMT({threads})): both scores, histograms, one event loop")
    import hepsift.rdf

    ROOT = hepsift.rdf.load_library()
    if threads > 1:
        ROOT.EnableImplicitMT(threads)
    chain = ROOT.std.vector["std::string"]([str(p) for p in every.values()])
    df = ROOT.RDataFrame("Events", chain)
    scored = hepsift.rdf.define(df, "mlp", paths["mlp"], batch_size=4096)      # batched
    scored = hepsift.rdf.define(scored, "bdt", paths["bdt"])                   # per event
    zprime_id = events.get_process("zprime_tt").pid
    scored = scored.Define("zprime", f"process_id == {zprime_id}").Define("bkg", "signal_mass == 0")
    h_sig = scored.Filter("zprime").Histo1D(("sig", "Z' signal;MLP score;events", 40, 0.0, 1.0), "mlp", "weight")
    h_bkg = scored.Filter("bkg").Histo1D(("bkg", "background;MLP score;events", 40, 0.0, 1.0), "mlp", "weight")
    cols = scored.AsNumpy(["mlp", "bdt", "weight", "zprime", "bkg", "event", "signal_mass", "process_id", *features])
    dt = time.perf_counter() - t0
    if threads > 1:
        ROOT.DisableImplicitMT()
    X_rdf = np.stack([cols[f].astype(np.float32) for f in features], axis=1)
    parity = {name: float(np.max(np.abs(cols[name] - onnx_predict(path, X_rdf)))) for name, path in paths.items()}
    test = (cols["event"] % 2 == 1) & (cols["zprime"] | cols["bkg"])
    auc = {name: metrics.roc_auc(cols["zprime"][test], cols[name][test]) for name in paths}
    print(f"   scored {len(cols['mlp'])} events with two models in {dt:.1f} s")
    for name in paths:
        print(f"   {name}: max |hepsift - ONNX Runtime| = {parity[name]:.1e}; "
              f"ROC AUC (odd events, scored in RDataFrame) = {auc[name]:.3f}")
    print(f"   weighted Z' / background yields in the histograms at {LUMINOSITY / 1000:.0f} fb^-1: "
          f"{h_sig.Integral() * LUMINOSITY:.1f} / {h_bkg.Integral() * LUMINOSITY:.1f}")
    summary["inference"] = {"events": len(cols["mlp"]), "seconds": dt, "max_abs_diff_vs_onnxruntime": parity,
                            "auc_test": auc}
    # Score shapes, each normalised to unit area (the yields differ by orders of magnitude).
    ROOT.gStyle.SetOptStat(0)
    canvas = ROOT.TCanvas("c", "", 700, 500)
    canvas.SetLogy()
    h_bkg.SetLineColor(ROOT.kBlue + 1)
    h_sig.SetLineColor(ROOT.kRed + 1)
    h_bkg.SetTitle("MLP score (weighted, unit area);MLP score;fraction of events")
    drawn = [h_bkg.DrawNormalized("hist"), h_sig.DrawNormalized("hist same")]
    drawn[0].SetMinimum(1e-5)
    drawn[0].SetMaximum(2.0)
    legend = ROOT.TLegend(0.6, 0.75, 0.88, 0.88)
    legend.AddEntry(drawn[0], "SM background", "l")
    legend.AddEntry(drawn[1], "Z' -> t tbar (all masses)", "l")
    legend.Draw()
    with atomic_output(out_dir / "score.png", overwrite=True) as tmp:  # keeps the .png that SaveAs reads
        canvas.SaveAs(str(tmp))

    summary["anomaly"] = _anomaly(data, train, features, every, others, out_dir, seed, quick)

    t0 = _step("6. statistics (one lepton, >= 4 jets, >= 1 b-tag; Z' at 1 TeV): significance, "
               "luminosity reach, CLs limit, NPLM")
    # Odd events only (not used in training), their weights doubled to keep the yields.
    cols = dict(cols, weight=2.0 * cols["weight"])
    odd = cols["event"] % 2 == 1
    signal = cols["zprime"].astype(bool) & (cols["signal_mass"] == 1000.0) & odd & _selection(cols, lepton=True)
    backgrounds, norms = _background_model(cols, odd)
    summary["statistics"] = _statistics(cols, signal, backgrounds, norms, out_dir, seed, quick,
                                        nplm_masks=(cols["zprime"].astype(bool) & (cols["signal_mass"] == 1000.0) & odd,
                                                    (cols["process_id"] == events.get_process("ttbar").pid) & odd))
    print(f"   statistics in {time.perf_counter() - t0:.0f} s")

    with atomic_output(out_dir / "summary.json", overwrite=True) as tmp, open(tmp, "w") as fh:
        json.dump(summary, fh, indent=2, default=float)
    print(f"\nhepsift demo: done; results in {out_dir}/ (summary.json, score.png, ...)")
    return summary


def _anomaly(data: dict[str, np.ndarray], train: np.ndarray, features: list[str], every: dict[str, Path],
             others: dict[str, Path], out_dir: Path, seed: int, quick: bool) -> dict[str, Any]:
    """Anomaly detectors trained on background only (even events), exported, and scored on
    every sample inside RDataFrame; ROC AUC of each signal against the odd background events."""
    from hepsift import anomaly, events, metrics

    import hepsift.rdf

    t0 = _step("5. anomaly detection: trained on background only, scored on every signal in RDataFrame")
    bkg = data["y"] == 0
    detectors = {
        "isolation_forest": anomaly.IsolationForest(n_estimators=100, seed=seed),
        "autoencoder": anomaly.AutoEncoder(epochs=5 if quick else 20, seed=seed),
        "hbos": anomaly.HBOS(),
    }
    paths = {}
    for name, det in detectors.items():
        det.fit(data["X"][train & bkg], feature_names=features)
        paths[name] = det.to_onnx(out_dir / f"{name}.onnx", sample=data["X"][~train & bkg][:1000], overwrite=True)
    ROOT = hepsift.rdf.load_library()
    node = ROOT.RDataFrame("Events", ROOT.std.vector["std::string"]([str(p) for p in every.values()]))
    node = node.Filter("event % 2 == 1")
    for name, path in paths.items():
        node = hepsift.rdf.define(node, name, path, batch_size=4096)
    cols = node.AsNumpy([*paths, "process_id", "signal_mass"])
    names = {events.get_process(p).pid: p for p in events.list_processes()}
    background = cols["signal_mass"] == 0
    signals = sorted({(int(pid), float(m)) for pid, m in zip(cols["process_id"], cols["signal_mass"]) if m > 0})
    report: dict[str, Any] = {}
    header = [f"{names.get(pid, pid)}_{m:g}" for pid, m in signals]
    for name in paths:
        report[name] = {}
        for (pid, m), label in zip(signals, header):
            sel = (cols["process_id"] == pid) & (cols["signal_mass"] == m)
            scores = np.concatenate([cols[name][background], cols[name][sel]])
            report[name][label] = metrics.roc_auc(np.r_[np.zeros(background.sum()), np.ones(sel.sum())], scores)
    print(f"   ROC AUC against odd-numbered background events ({time.perf_counter() - t0:.0f} s)")
    print(f"   {'detector':18s}" + "".join(f"{h:>20s}" for h in header))
    for name, aucs in report.items():
        print(f"   {name:18s}" + "".join(f"{aucs[h]:20.3f}" for h in header))
    t1 = time.perf_counter()
    # Seed 001's comparison: the expected limit on mu each method gives at a fixed background
    # efficiency, against a supervised MLP trained per signal (full demo) and an H_T cut; the
    # detectors were trained on even events, the table uses the odd ones.
    table = anomaly.limit_table_from_root(detectors, every, luminosity=LUMINOSITY, features=features, seed=seed,
                                          eps_b=(1e-3,), supervised=False if quick else None)
    table.to_json(out_dir / "anomaly_limits.json", overwrite=True)
    table.to_csv(out_dir / "anomaly_limits.csv", overwrite=True)
    print(f"   expected 95% CL limits on mu at background efficiency 1e-3 ({time.perf_counter() - t1:.0f} s; "
          "anomaly_limits.json, .csv)")
    print("\n".join("   " + line for line in str(table).splitlines()))
    return {"auc": report, "limits": table.to_dict()}


def _selection(cols: dict[str, np.ndarray], *, lepton: bool) -> np.ndarray:
    """The semileptonic t tbar selection: >= 4 jets, >= 1 b-tag and (``lepton``) exactly one
    isolated electron or muon."""
    sel = (cols["n_jets"] >= 4) & (cols["n_bjets"] >= 1)
    return sel & (cols["n_leptons"] == 1) if lepton else sel


def _background_model(cols: dict[str, np.ndarray], odd: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Per-sample background masks and weights in the selection, and their normalisation
    uncertainties.

    t tbar, W/Z + jets and dibosons are taken from their simulation in the full selection.
    QCD multijet events almost never contain an isolated lepton (one in several thousand
    events above pT-hat = 100 GeV), so a direct simulation leaves either no event or a few
    carrying 1e5-1e8 events each. Its template is instead the QCD events of the selection
    without the lepton requirement, each weighted by the fake-lepton rate f, the fraction of
    all simulated QCD events that have exactly one isolated lepton (Jeffreys estimate, assumed
    independent of the jet and b-tag multiplicities and of pT-hat: the QCD events with a
    b-tag, where heavy-flavour leptons are more frequent, are too few to measure it); the
    Jeffreys 68% interval of f becomes a normalisation uncertainty of the template.
    """
    from hepsift import events
    from hepsift.demo.statistics import fake_rate

    pid = cols["process_id"]
    names = {events.get_process(p).pid: p for p in events.list_processes()}
    qcd_id = events.get_process("qcd").pid
    full, loose = _selection(cols, lepton=True) & odd, _selection(cols, lepton=False) & odd
    out: dict[str, np.ndarray] = {}
    for p in sorted(set(pid[cols["bkg"].astype(bool)].tolist())):
        if p != qcd_id:
            out[names[p]] = np.where(full & (pid == p), cols["weight"], 0.0)
    qcd = pid == qcd_id
    n_qcd, n_lep = int(qcd.sum()), int((qcd & (cols["n_leptons"] == 1)).sum())
    if n_qcd == 0:
        raise DataError("the data set has no QCD events: the fake-lepton rate cannot be measured")
    f, f_lo, f_hi = fake_rate(n_lep, n_qcd)
    out["qcd_fake"] = np.where(loose & qcd, f * cols["weight"], 0.0)
    direct = float(np.sum(cols["weight"][full & qcd]) * LUMINOSITY)
    print(f"   QCD multijet: {n_lep} of {n_qcd} simulated events (all, even and odd) have exactly one "
          f"isolated lepton: fake rate f = {f:.3g} (68% interval {f_lo:.2g}-{f_hi:.2g}); template = "
          f"{int((loose & qcd).sum())} QCD events with >= 4 jets, >= 1 b-tag, any lepton, times f: "
          f"{float(np.sum(out['qcd_fake'])) * LUMINOSITY:.3g} events (direct simulation in the selection: "
          f"{int((full & qcd).sum())} events, {direct:.3g})")
    return out, {"qcd_fake": (f_lo / f, f_hi / f)}


def _statistics(cols: dict[str, np.ndarray], signal: np.ndarray, backgrounds: dict[str, np.ndarray],
                norms: dict[str, Any], out_dir: Path, seed: int, quick: bool,
                nplm_masks: tuple[np.ndarray, np.ndarray]) -> dict[str, Any]:
    from hepsift.demo.statistics import demo_nplm, demo_statistics

    score, w = cols["mlp"], cols["weight"]
    masks = {k: v > 0 for k, v in backgrounds.items()}
    empty = [k for k, m in masks.items() if not m.any()]
    if empty:
        print(f"   no simulated event of {', '.join(empty)} passes the selection")
    masks = {k: m for k, m in masks.items() if m.any()}
    # A 10% background normalisation uncertainty in the significance; the limit has the MC
    # statistical uncertainties of the templates and the fake-rate uncertainty of QCD.
    report = demo_statistics(score[signal], w[signal], {k: score[m] for k, m in masks.items()},
                             {k: backgrounds[k][m] for k, m in masks.items()}, luminosity=LUMINOSITY,
                             out_dir=out_dir, seed=seed, rel_sigma_b=0.1, norm_uncertainties=norms,
                             n_bins=5 if quick else 10)
    # NPLM on two features of held-out, unweighted simulated events: reference = t tbar, data =
    # t tbar + 10% Z' (1 TeV). A mixture of all backgrounds would be shaped by how many events
    # each sample has (the QCD pT-hat slices, most of them at high jet pT), not by cross-sections.
    rng = np.random.default_rng(seed)
    X = np.stack([cols[f] for f in ("met_pt", "jet1_pt") if f in cols], axis=1).astype(np.float64)
    bkg, sig = X[nplm_masks[1]], X[nplm_masks[0]]
    rng.shuffle(bkg)
    n_data = min(len(bkg) // 6, 5000)  # pseudo-data: 1/6 of the background, plus 10% signal
    data = np.concatenate([bkg[:n_data], sig[rng.choice(len(sig), size=max(1, n_data // 10))]])
    report["nplm"] = demo_nplm(bkg[n_data:], data, out_dir=out_dir, seed=seed, n_toys=20 if quick else 40)
    return report
