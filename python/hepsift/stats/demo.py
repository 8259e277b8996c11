"""The statistics part of ``hepsift demo``: significance, luminosity reach, CLs limit, NPLM."""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from hepsift.errors import DataError

__all__ = ["demo_statistics", "demo_nplm", "score_histograms"]


def score_histograms(
    sig_scores: Any,
    sig_weights: Any,
    bkg_scores: Any,
    bkg_weights: Any,
    *,
    luminosity: float,
    n_bins: int = 10,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Signal and background score histograms (counts, sumw2, edges) scaled to ``luminosity``.

    Bin edges are quantiles of the background scores (equal numbers of background MC events
    per bin), so that every bin has background, as a binned likelihood requires.
    """
    xs, ws = np.asarray(sig_scores, float), np.asarray(sig_weights, float) * luminosity
    xb, wb = np.asarray(bkg_scores, float), np.asarray(bkg_weights, float) * luminosity
    edges = np.unique(np.quantile(xb, np.linspace(0.0, 1.0, n_bins + 1)))
    lo, hi = min(xs.min(), xb.min()), max(xs.max(), xb.max())
    edges[0], edges[-1] = lo - 1e-9 * (1 + abs(lo)), hi + 1e-9 * (1 + abs(hi))

    def h(x: np.ndarray, w: np.ndarray) -> dict[str, np.ndarray]:
        c, _ = np.histogram(x, edges, weights=w)
        v, _ = np.histogram(x, edges, weights=w**2)
        return {"counts": c, "sumw2": v, "edges": edges}

    return h(xs, ws), h(xb, wb)


def demo_statistics(
    sig_scores: Any,
    sig_weights: Any,
    bkg_scores: Any,
    bkg_weights: Any,
    *,
    luminosity: float,
    out_dir: str | os.PathLike[str],
    seed: int = 0,
    rel_sigma_b: float = 0.0,
    n_bins: int = 10,
) -> dict[str, Any]:
    """Significance, luminosity reach and expected CLs limit of a classifier score.

    Parameters
    ----------
    sig_scores, bkg_scores : array_like, shape (n_sig,), (n_bkg,)
        Classifier scores.
    sig_weights, bkg_weights : array_like, same shapes
        Per-event weights at 1/pb of integrated luminosity.
    luminosity : float
        Integrated luminosity (1/pb).
    out_dir : path
        Where plots (``significance_vs_luminosity.png``, ``score_cut_scan.png``) and the pyhf
        workspace (``workspace.json``) go.
    seed : int
        Unused by these deterministic steps; kept for a uniform demo interface.
    rel_sigma_b : float
        Relative background uncertainty for the significance.
    n_bins : int
        Number of score bins for the limit.

    Returns
    -------
    dict
        ``best_cut``, ``significance``, ``s``, ``b``, ``lumi_3sigma``, ``lumi_5sigma`` (1/pb),
        ``limit`` (expected, bands), ``files``.
    """
    from hepsift.stats.limits import upper_limit
    from hepsift.stats.plots import hep_figure, plot_significance_vs_luminosity
    from hepsift.stats.significance import best_cut, significance_vs_luminosity

    del seed
    out = os.fspath(out_dir)
    os.makedirs(out, exist_ok=True)
    scan = best_cut(sig_scores, sig_weights, bkg_scores, bkg_weights, luminosity=luminosity, rel_sigma_b=rel_sigma_b)
    lumi = significance_vs_luminosity(scan.s, scan.b, rel_sigma_b=rel_sigma_b, reference_luminosity=luminosity)
    files = {
        "significance_vs_luminosity": os.path.join(out, "significance_vs_luminosity.png"),
        "cut_scan": os.path.join(out, "score_cut_scan.png"),
        "workspace": os.path.join(out, "workspace.json"),
    }
    plot_significance_vs_luminosity(lumi, path=files["significance_vs_luminosity"])
    with hep_figure() as fig:
        ax = fig.add_subplot()
        ok = np.isfinite(scan.significances)
        ax.plot(scan.cuts[ok], scan.significances[ok], "b-")
        ax.axvline(scan.cut, color="r", ls="--", label=f"best cut {scan.cut:.3g}: Z = {scan.significance:.3g}")
        ax.set_xlabel("score cut")
        ax.set_ylabel(rf"$Z_A$ at {luminosity:g} pb$^{{-1}}$")
        ax.legend(loc="best", fontsize="small")
        fig.savefig(files["cut_scan"], bbox_inches="tight", dpi=120)
    hs, hb = score_histograms(sig_scores, sig_weights, bkg_scores, bkg_weights, luminosity=luminosity, n_bins=n_bins)
    if np.any(hb["counts"] <= 0):
        raise DataError("background score histogram has empty or negative bins; use fewer bins")
    # bins whose background MC statistical uncertainty exceeds 20% are merged with their neighbours
    lim = upper_limit(hs, {"background": hb}, workspace_path=files["workspace"], rebin=0.2)
    report = {
        "luminosity": luminosity,
        "best_cut": scan.cut,
        "significance": scan.significance,
        "s": scan.s,
        "b": scan.b,
        "lumi_3sigma": lumi.lumi_3sigma,
        "lumi_5sigma": lumi.lumi_5sigma,
        "limit": lim.to_dict(),
        "files": files,
    }
    print(f"statistics at {luminosity:g} /pb:")
    print(f"  best cut score >= {scan.cut:.4g}: s = {scan.s:.4g}, b = {scan.b:.4g}, Z_A = {scan.significance:.3g}")
    print(f"  luminosity for 3 sigma: {lumi.lumi_3sigma:.4g} /pb, for 5 sigma: {lumi.lumi_5sigma:.4g} /pb")
    n_fit = n_bins if lim.groups is None else len(lim.groups)
    print(
        f"  expected 95% CL limit on mu ({n_fit} score bins of at most 20% MC stat. uncertainty): {lim.expected:.4g} "
        f"(-1s {lim.bands[-1]:.4g}, +1s {lim.bands[1]:.4g}; -2s {lim.bands[-2]:.4g}, +2s {lim.bands[2]:.4g})"
    )
    with open(os.path.join(out, "statistics.json"), "w", encoding="utf-8") as fh:
        json.dump(report, fh, indent=2, default=float)
    return report


def demo_nplm(
    reference: Any,
    data: Any,
    *,
    out_dir: str | os.PathLike[str],
    seed: int = 0,
    n_expected: float | None = None,
    n_toys: int = 40,
    max_reference: int = 20000,
    features: Any = None,
) -> dict[str, Any]:
    """A quick NPLM test (kernel mode, a few toys) of data against a reference sample.

    Parameters
    ----------
    reference : array_like, shape (N_R, n_features)
        Reference (background-only) sample; subsampled to ``max_reference`` events.
    data : array_like, shape (N_D, n_features)
        Data sample (e.g. with injected signal).
    out_dir : path
        Where ``nplm_null.png``, ``nplm_f.onnx`` and ``nplm.json`` go.
    seed : int
        Seed of subsampling, fits and toys.
    n_expected : float, optional
        N(R); default the data size (a test of the shape only).

    Returns
    -------
    dict
        ``t``, ``dof``, ``ks_pvalue``, ``p``, ``z`` (chi-square), ``p_empirical``, ``n_toys``, ``files``.
    """
    from hepsift.nplm import calibrate, p_value, test_statistic
    from hepsift.stats.plots import plot_nplm_null

    out = os.fspath(out_dir)
    os.makedirs(out, exist_ok=True)
    ref = np.asarray(reference, dtype=np.float64)
    dat = np.asarray(data, dtype=np.float64)
    rng = np.random.default_rng(seed)
    if ref.shape[0] > max_reference:
        ref = ref[rng.choice(ref.shape[0], size=max_reference, replace=False)]
    n_exp = float(dat.shape[0]) if n_expected is None else float(n_expected)
    opts = {"mode": "kernel", "n_centers": 200}
    t, model = test_statistic(ref, dat, n_expected=n_exp, seed=seed, return_model=True, **opts)
    null = calibrate(ref, n_exp, n_toys, seed=seed, progress=True, **opts)
    pv = p_value(t, null)
    files = {
        "null": os.path.join(out, "nplm_null.png"),
        "onnx": os.path.join(out, "nplm_f.onnx"),
        "report": os.path.join(out, "nplm.json"),
    }
    plot_nplm_null(null, t_obs=t, path=files["null"])
    model.export_onnx(files["onnx"], features=features)
    report = {
        "t": t,
        "dof": null.dof,
        "ks_pvalue": null.ks_pvalue,
        "n_toys": null.n_toys,
        "p": pv.p_chi2,
        "z": pv.z_chi2,
        "p_empirical": pv.p_empirical,
        "z_empirical": pv.z_empirical,
        "files": files,
    }
    print(f"NPLM (kernel mode, {ref.shape[0]} reference events, {dat.shape[0]} data events, N(R) = {n_exp:g}):")
    print(f"  t = {t:.3g}; null from {null.n_toys} toys: chi2 dof = {null.dof:.3g}, KS p = {null.ks_pvalue:.2g}")
    print(
        f"  global p = {pv.p_chi2:.3g} (Z = {pv.z_chi2:.2f}) from the chi-square; "
        f"empirical p = {pv.p_empirical:.3g} (Z = {pv.z_empirical:.2f}, limited by the toys)"
    )
    with open(files["report"], "w", encoding="utf-8") as fh:
        json.dump(report, fh, indent=2, default=float)
    return report
