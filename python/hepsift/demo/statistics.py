"""The statistics part of ``hepsift demo``: significance, luminosity reach, CLs limit, NPLM.

The score histograms come from :func:`hepsift.stats.score_histograms`.

The limit is only reported when its inputs and its result pass these checks:

* **Background MC statistics.** Score bins are merged from the top until the total
  background of every bin has a relative MC statistical uncertainty
  ``sqrt(sum w^2) / sum w <= max_mc_stat`` (20% by default); a background that cannot
  reach that even in one bin (a few heavily weighted events) is refused.
* **Independent refit.** The pyhf workspace written to disk is loaded again with plain
  pyhf and ``pyhf.infer.hypotest`` is evaluated at the reported expected limit and at each
  band: the median expected CLs at the expected limit, and the k-sigma expected CLs at the
  k-sigma band, must equal 1 - CL within ``cls_tolerance``.
* **Order of magnitude.** The expected limit must lie within a factor ``sanity_factor`` of
  the back-of-envelope estimate ``mu_up ~ 1.96 / sqrt(sum_i s_i^2 / (b_i + sigma_b,i^2))``
  (the median expected CLs limit of a Gaussian counting experiment, s << b: CLs = 0.05
  at CL_b = 0.5 means CL_s+b = 0.025, i.e. 1.96 standard deviations of mu), where
  sigma_b,i is the MC statistical uncertainty of the background of bin i (normalisation
  uncertainties are left out: the fit constrains them with the bins of little signal).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from hepsift._atomic import atomic_output
from hepsift.errors import ConfigurationError, DataError, EvaluationError

__all__ = [
    "demo_statistics",
    "demo_nplm",
    "fake_rate",
    "refit_workspace",
    "limit_estimate",
]


def fake_rate(n_pass: int, n_total: int, *, cl: float = 0.6827) -> tuple[float, float, float]:
    """Binomial efficiency ``n_pass / n_total`` with its Jeffreys interval.

    The estimate is the mean of the Jeffreys posterior Beta(n_pass + 1/2, n_total - n_pass + 1/2),
    ``(n_pass + 1/2) / (n_total + 1)``, which stays positive when no event passes; the interval
    is its central ``cl`` interval (Brown, Cai, DasGupta, Statist. Sci. 16 (2001) 101).

    Parameters
    ----------
    n_pass, n_total : int
        Events passing and events tried (unweighted counts).
    cl : float, default 0.6827
        Coverage of the interval (one standard deviation).

    Returns
    -------
    (float, float, float)
        Estimate, lower and upper end of the interval.

    Examples
    --------
    >>> f, lo, hi = fake_rate(50, 1000)
    >>> round(f, 4), lo < 0.05 < hi
    (0.0504, True)
    """
    from scipy.stats import beta

    if isinstance(n_pass, bool) or isinstance(n_total, bool):
        raise ConfigurationError("n_pass and n_total must be integer counts")
    n_pass, n_total = int(n_pass), int(n_total)
    if n_total < 1 or not 0 <= n_pass <= n_total:
        raise ConfigurationError(f"need 0 <= n_pass <= n_total and n_total >= 1, got {n_pass} of {n_total}")
    if not 0 < cl < 1:
        raise ConfigurationError(f"cl must be in (0, 1), got {cl}")
    a, b = n_pass + 0.5, n_total - n_pass + 0.5
    lo, hi = beta.ppf([(1 - cl) / 2, (1 + cl) / 2], a, b)
    return a / (a + b), float(lo), float(hi)


def limit_estimate(
    s: Any, b: Any, sigma_b: Any, *, z: float = 1.959964
) -> tuple[float, np.ndarray]:
    """Back-of-envelope expected upper limit on mu from per-bin s and b.

    Each bin measures mu with a Gaussian standard deviation sqrt(b_i + sigma_b,i^2) / s_i;
    the bins combine to ``sigma_mu = 1 / sqrt(sum_i s_i^2 / (b_i + sigma_b,i^2))`` and the
    median expected 95% CLs limit is ``z * sigma_mu`` with z = 1.96 (s << b).

    Parameters
    ----------
    s, b, sigma_b : array_like, shape (n_bins,)
        Signal at mu = 1, background, and the absolute uncertainty of the background per bin.

    Returns
    -------
    (float, numpy.ndarray)
        The combined estimate and the one-bin estimates ``z sqrt(b_i + sigma_b,i^2) / s_i``
        (inf where s_i = 0).
    """
    s, b, sb = (np.asarray(x, dtype=np.float64) for x in (s, b, sigma_b))
    var = b + sb**2
    with np.errstate(divide="ignore"):
        per_bin = np.where(s > 0, z * np.sqrt(var) / np.where(s > 0, s, 1.0), np.inf)
    info = float(np.sum(s**2 / var))
    if not info > 0:
        raise DataError("no bin has signal; no limit estimate")
    return z / math.sqrt(info), per_bin


@contextlib.contextmanager
def _pyhf_log_silenced() -> Iterator[None]:
    """pyhf logs every failed fit with its traceback; the refit retries or reports them itself."""
    import logging

    logger = logging.getLogger("pyhf.optimize.mixins")
    previous = logger.disabled
    logger.disabled = True
    try:
        yield
    finally:
        logger.disabled = previous


#: MINUIT settings tried in turn when a fit is not valid (MINUIT's EDM or Hesse checks fail).
_MINUIT_TRIES: tuple[dict[str, Any], ...] = (
    {"tolerance": 1e-3},
    {"tolerance": 1e-3, "strategy": 2},
    {"tolerance": 1e-2},
)


@contextlib.contextmanager
def _minuit(**options: Any) -> Iterator[None]:
    """pyhf with the MINUIT optimiser (numpy tensors) inside the block, the previous backend after.

    pyhf's default SLSQP fits stop at their starting point when the yields are large (1e6
    events per bin with a 20% MC statistical uncertainty: its first quasi-Newton step jumps
    to a parameter bound); MINUIT's variable-metric steps are scaled by the parameter errors.
    """
    import pyhf

    from hepsift.errors import DependencyError

    previous = pyhf.get_backend()
    try:
        pyhf.set_backend("numpy", pyhf.optimize.minuit_optimizer(**(options or {"tolerance": 1e-3})))
    except pyhf.exceptions.ImportBackendError as exc:
        raise DependencyError("the demo's limit needs MINUIT: pip install iminuit==2.33.0") from exc
    try:
        yield
    finally:
        pyhf.set_backend(*previous)


def refit_workspace(
    path: str | os.PathLike[str], expected: float, bands: Mapping[int, float], *, cl: float = 0.95
) -> dict[int, float]:
    """Expected CLs values of a written pyhf workspace at a reported limit and its bands.

    Loads ``path`` with plain pyhf (``pyhf.Workspace``, its model and data) and runs
    ``pyhf.infer.hypotest`` (test statistic q~_mu, asymptotic formulae, Cowan et al.,
    arXiv:1007.1727; MINUIT fits, retried with strategy 2 and then a looser tolerance when
    MINUIT declares a fit invalid) at each value; returns, for k in (-2, -1, 0, 1, 2), the k-sigma expected
    CLs evaluated at the k-sigma limit (``expected`` for k = 0, ``bands[k]`` otherwise).
    Each should equal 1 - ``cl`` when the limit is right.
    """
    import warnings

    import pyhf

    del cl
    with open(path, encoding="utf-8") as fh:
        spec = json.load(fh)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # pyhf's schema validation uses jsonschema.RefResolver
        ws = pyhf.Workspace(spec)
        model = ws.model()
        data = ws.data(model)
    points = {0: float(expected), **{int(k): float(v) for k, v in bands.items()}}
    out = {}
    for k, mu in sorted(points.items()):
        out[k] = math.nan  # stays NaN, which the caller reports, when every fit fails
        for options in _MINUIT_TRIES:
            try:
                with warnings.catch_warnings(), _minuit(**options), _pyhf_log_silenced():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    _, exp_set = pyhf.infer.hypotest(mu, data, model, test_stat="qtilde", return_expected_set=True)
            except (ValueError, RuntimeError, FloatingPointError, pyhf.exceptions.FailedMinimization):
                continue
            if math.isfinite(float(exp_set[k + 2])):
                out[k] = float(exp_set[k + 2])
                break
    return out


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
    max_mc_stat: float = 0.2,
    norm_uncertainties: Mapping[str, Any] | None = None,
    cls_tolerance: float = 0.005,
    sanity_factor: float = 2.0,
) -> dict[str, Any]:
    """Significance, luminosity reach and expected CLs limit of a classifier score, with the
    checks of the module docstring.

    Parameters
    ----------
    sig_scores, bkg_scores : array_like, shape (n_sig,), (n_bkg,), or mapping name -> array
        Classifier scores; the background may be given per sample (a mapping).
    sig_weights, bkg_weights : array_like, same shapes (or mapping, like the scores)
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
        Number of score bins before merging.
    max_mc_stat : float
        Largest relative MC statistical uncertainty of the total background in a bin.
    norm_uncertainties : mapping, optional
        Normalisation uncertainties of background samples, as for
        :func:`hepsift.stats.upper_limit`: a relative uncertainty or a ``(lo, hi)`` pair.
    cls_tolerance : float
        Largest allowed |CLs - (1 - CL)| in the independent refit.
    sanity_factor : float
        The expected limit must lie within this factor of :func:`limit_estimate`.

    Returns
    -------
    dict
        ``best_cut``, ``significance``, ``s``, ``b``, ``lumi_3sigma``, ``lumi_5sigma`` (1/pb),
        ``bins`` (edges, s, b, MC stat per bin), ``limit`` (expected, bands), ``refit_cls``,
        ``estimate``, ``files``.

    Raises
    ------
    DataError
        A degenerate background (see :func:`hepsift.stats.merge_bins`).
    EvaluationError
        The refit of the written workspace or the order-of-magnitude check disagrees with
        the limit.
    """
    from hepsift.stats import best_cut, build_workspace, score_histograms, significance_vs_luminosity
    from hepsift.stats import upper_limit_from_workspace
    from hepsift.stats.plots import hep_figure, plot_significance_vs_luminosity

    del seed
    out = os.fspath(out_dir)
    os.makedirs(out, exist_ok=True)
    bkg_map = bkg_scores if isinstance(bkg_scores, Mapping) else {"background": bkg_scores}
    wgt_map = bkg_weights if isinstance(bkg_weights, Mapping) else {"background": bkg_weights}
    hs, hb = score_histograms(sig_scores, sig_weights, bkg_map, wgt_map, luminosity=luminosity,
                              n_bins=n_bins, max_mc_stat=max_mc_stat)  # fmt: skip
    norms = dict(norm_uncertainties or {})
    xb = np.concatenate([np.asarray(bkg_map[k], float) for k in bkg_map])
    wb = np.concatenate([np.asarray(wgt_map[k], float) for k in bkg_map])
    scan = best_cut(sig_scores, sig_weights, xb, wb, luminosity=luminosity, rel_sigma_b=rel_sigma_b)
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
        with atomic_output(files["cut_scan"], overwrite=True) as tmp:
            fig.savefig(tmp, bbox_inches="tight", dpi=120)

    edges = hs.edges
    s = hs.counts
    b = np.sum([h.counts for h in hb.values()], axis=0)
    b_var = np.sum([h.sumw2 for h in hb.values()], axis=0)
    mc_stat = np.sqrt(b_var) / b
    # Normalisation uncertainties are left out of the estimate: one parameter for all bins, the
    # fit constrains them with the bins of little signal.
    estimate, per_bin = limit_estimate(s, b, np.sqrt(b_var))

    print(f"statistics at {luminosity:g} /pb:")
    print(f"  best cut score >= {scan.cut:.4g}: s = {scan.s:.4g}, b = {scan.b:.4g}, Z_A = {scan.significance:.3g}")
    print(f"  luminosity for 3 sigma: {lumi.reach_text(3)}, for 5 sigma: {lumi.reach_text(5)}")
    names = list(hb)
    print(f"  {len(s)} score bins (from {n_bins} background quantiles, merged from the top to background "
          f"MC stat <= {max_mc_stat:.0%}):")  # fmt: skip
    print(f"    {'score bin':>17s} {'s (mu=1)':>10s} {'b':>10s} {'MC stat':>8s} {'mu_up(bin)':>10s}  "
          + " ".join(f"{n:>10s}" for n in names))
    order = np.argsort(per_bin)
    for i in range(len(s)):
        mark = " *" if i in order[:3] else ""
        print(f"    [{edges[i]:7.4f},{edges[i + 1]:7.4f}) {s[i]:10.4g} {b[i]:10.4g} {mc_stat[i]:8.1%} "
              f"{per_bin[i]:10.3g}  " + " ".join(f"{hb[n].counts[i]:10.3g}" for n in names) + mark)
    best = order[0]
    print(f"  (* the most sensitive bins) back-of-envelope: best bin 1.96 sqrt(b + db^2) / s = "
          f"1.96 sqrt({b[best]:.3g} + ({math.sqrt(b_var[best]):.3g})^2) / {s[best]:.3g} "
          f"= {per_bin[best]:.3g}; all bins 1.96 / sqrt(sum s^2 / (b + db^2)) = {estimate:.3g}")
    # the POI range reaches far beyond the estimate, so the solver never meets its bound
    spec = build_workspace(hs, hb, norm_uncertainties=norms or None, poi_bounds=(0.0, 1000.0 * estimate))
    with atomic_output(files["workspace"], overwrite=True) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        json.dump(spec, fh, indent=2)
    import pyhf

    try:
        lim = upper_limit_from_workspace(files["workspace"], observed=False)
    except pyhf.exceptions.FailedMinimization as exc:
        raise EvaluationError(f"a fit of the CLs limit on {files['workspace']} did not converge (pyhf: {exc}); "
                              "no limit is reported") from exc
    refit = refit_workspace(files["workspace"], lim.expected, lim.bands)
    target = 1.0 - lim.cl
    print(
        f"  expected 95% CL limit on mu (pyhf, {len(s)} bins): {lim.expected:.4g} "
        f"(-1s {lim.bands[-1]:.4g}, +1s {lim.bands[1]:.4g}; -2s {lim.bands[-2]:.4g}, +2s {lim.bands[2]:.4g})"
    )
    for c in getattr(lim, "checks", None) or []:  # the limit's own verification, where it keeps one
        print(f"  self-check of the {c.quantity} limit {c.mu:.4g}: CLs {c.cls:.4f} there, {c.cls_below:.4f} / "
              f"{c.cls_above:.4f} just below / above (target {c.target:g})")
    labels = {-2: "-2s", -1: "-1s", 0: "median", 1: "+1s", 2: "+2s"}
    print("  independent refit of workspace.json with pyhf.infer.hypotest, expected CLs at each limit: "
          + ", ".join(f"{labels[k]} {v:.4f}" for k, v in refit.items()) + f" (target {target:g})")
    report = {
        "luminosity": luminosity,
        "best_cut": scan.cut,
        "significance": scan.significance,
        "s": scan.s,
        "b": scan.b,
        "lumi_3sigma": lumi.lumi_3sigma,
        "lumi_5sigma": lumi.lumi_5sigma,
        "bins": {"edges": edges.tolist(), "s": s.tolist(), "b": b.tolist(), "mc_stat": mc_stat.tolist(),
                 "b_per_sample": {n: hb[n].counts.tolist() for n in names}},
        "limit": lim.to_dict(),
        "refit_cls": {str(k): v for k, v in refit.items()},
        "estimate": {"combined": estimate, "best_bin": float(per_bin[best])},
        "files": files,
    }
    statistics_json = os.path.join(out, "statistics.json")
    with atomic_output(statistics_json, overwrite=True) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        json.dump(report, fh, indent=2, default=float)
    bad = {k: v for k, v in refit.items() if not abs(v - target) <= cls_tolerance}
    if bad:
        raise EvaluationError(
            "the refit of " + files["workspace"] + " with pyhf disagrees with the reported limit: expected CLs "
            + ", ".join(f"{labels[k]} {v:.4g}" for k, v in bad.items())
            + f" instead of {target:g} +- {cls_tolerance:g}; the limit is not reliable"
        )
    if not estimate / sanity_factor <= lim.expected <= estimate * sanity_factor:
        raise EvaluationError(
            f"the expected limit mu < {lim.expected:.4g} is not within a factor {sanity_factor:g} of the "
            f"back-of-envelope estimate {estimate:.4g} from s and b; the limit is not reliable"
        )
    print(f"  checks passed: background MC stat <= {max_mc_stat:.0%} in every bin (largest {mc_stat.max():.1%}), "
          f"refit CLs within {cls_tolerance:g} of {target:g}, limit / estimate = {lim.expected / estimate:.2f}")
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
    from hepsift.nplm import calibrate, p_value, plot_nplm_null, test_statistic

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
    model.to_onnx(files["onnx"], features, overwrite=True)
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
    with atomic_output(files["report"], overwrite=True) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        json.dump(report, fh, indent=2, default=float)
    return report
