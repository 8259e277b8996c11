"""How well generated events reproduce real ones, and how fast they come.

* per feature: the 1-Wasserstein distance (also in units of the real standard deviation)
  and the two-sample Kolmogorov-Smirnov statistic of the present values, and the fraction of
  events where the feature is present (not -999);
* the largest and the Frobenius norm of the difference of the Pearson correlation matrices;
* a classifier two-sample test: the ROC AUC of a gradient-boosted classifier separating real
  from generated events on a held-out half (0.5: indistinguishable; Lopez-Paz & Oquab,
  "Revisiting Classifier Two-Sample Tests", ICLR 2017);
* generation speed in events per second.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from hepsift import errors
from hepsift._missing import check_finite

__all__ = ["fidelity", "two_sample_auc", "correlation_difference", "generation_speed", "format_fidelity",
           "format_per_feature"]


def _pair(real: np.ndarray, generated: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r = np.asarray(real, dtype=np.float64)
    g = np.asarray(generated, dtype=np.float64)
    r = r[:, None] if r.ndim == 1 else r
    g = g[:, None] if g.ndim == 1 else g
    if r.ndim != 2 or g.ndim != 2 or r.shape[1] != g.shape[1]:
        raise errors.InputMismatchError(f"real {r.shape} and generated {g.shape} events need the same columns")
    if len(r) < 2 or len(g) < 2:
        raise errors.DataError("need at least two real and two generated events")
    check_finite(r, what="real events")
    check_finite(g, what="generated events")
    return r, g


def two_sample_auc(real: np.ndarray, generated: np.ndarray, *, seed: int = 0, max_events: int = 50000) -> float:
    """ROC AUC of a classifier separating real from generated events (0.5 = indistinguishable).

    Equal numbers of real and generated events (at most ``max_events`` each, randomly chosen
    with ``seed``) are split in halves; a ``HistGradientBoostingClassifier`` is trained on one
    half and the AUC computed on the other. Values below 0.5 are statistical fluctuations.

    Parameters
    ----------
    real, generated : ndarray, shape (n, n_features)

    Returns
    -------
    float
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    r, g = _pair(real, generated)
    rng = np.random.default_rng(seed)
    n = min(len(r), len(g), int(max_events))
    r = r[rng.permutation(len(r))[:n]]
    g = g[rng.permutation(len(g))[:n]]
    X = np.concatenate([r, g])
    y = np.concatenate([np.ones(n), np.zeros(n)])
    perm = rng.permutation(2 * n)
    half = n
    train, test = perm[:half], perm[half:]
    clf = HistGradientBoostingClassifier(max_iter=100, learning_rate=0.1, random_state=seed, early_stopping=False)
    with _one_thread():  # small problem: threads only compete with each other
        clf.fit(X[train], y[train])
        p = clf.predict_proba(X[test])[:, 1]
    return float(roc_auc_score(y[test], p))


def _one_thread() -> Any:
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - a scikit-learn dependency
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1)


def correlation_difference(real: np.ndarray, generated: np.ndarray) -> dict[str, Any]:
    """Difference of the Pearson correlation matrices (generated - real).

    Returns
    -------
    dict with ``matrix`` (ndarray float64, shape (d, d)), ``max_abs`` and ``frobenius``
    (float; the Frobenius norm over the off-diagonal elements).
    """
    r, g = _pair(real, generated)
    if r.shape[1] < 2:
        return {"matrix": np.zeros((1, 1)), "max_abs": 0.0, "frobenius": 0.0}
    with np.errstate(invalid="ignore", divide="ignore"):
        diff = np.nan_to_num(np.corrcoef(g, rowvar=False)) - np.nan_to_num(np.corrcoef(r, rowvar=False))
    off = diff[~np.eye(len(diff), dtype=bool)]
    return {"matrix": diff, "max_abs": float(np.abs(off).max()), "frobenius": float(np.sqrt(np.sum(off**2)))}


def fidelity(
    real: np.ndarray, generated: np.ndarray, *, feature_names: Sequence[str] | None = None, seed: int = 0,
) -> dict[str, Any]:
    """All fidelity measures of ``generated`` against held-out ``real`` events.

    Parameters
    ----------
    real : ndarray, shape (n_real, n_features); events not used in training
    generated : ndarray, shape (n_generated, n_features)
    feature_names : column names (default ``x0``, ``x1``, ...)
    seed : for the classifier two-sample test

    Returns
    -------
    dict with ``per_feature`` (name -> {"wasserstein", "wasserstein_rel", "ks", "present_real",
    "present_generated"}), ``wasserstein_rel_mean``, ``ks_max``, ``present_diff_max``,
    ``corr_diff_max``, ``corr_diff_frobenius`` and ``two_sample_auc``.

    Per feature, the 1-Wasserstein distance (``scipy.stats.wasserstein_distance``, in the
    feature's units; ``wasserstein_rel``: divided by the real standard deviation) and the
    two-sample Kolmogorov-Smirnov statistic (``scipy.stats.ks_2samp``; the statistic only, so
    the asymptotic method, which warns about nothing) compare the values of
    events where the feature is present (not :data:`hepsift.io.features.MISSING`);
    ``present_real`` and ``present_generated`` are the fractions of events where it is. The
    two-sample AUC (:func:`two_sample_auc`) uses all columns as they are.
    """
    from scipy.stats import ks_2samp, wasserstein_distance

    from hepsift.io.features import MISSING

    r, g = _pair(real, generated)
    names = list(feature_names) if feature_names is not None else [f"x{i}" for i in range(r.shape[1])]
    if len(names) != r.shape[1]:
        raise errors.InputMismatchError(f"{len(names)} feature names for {r.shape[1]} columns")
    per: dict[str, dict[str, float]] = {}
    for j, name in enumerate(names):
        rj, gj = r[r[:, j] != MISSING, j], g[g[:, j] != MISSING, j]
        entry = {"present_real": len(rj) / len(r), "present_generated": len(gj) / len(g)}
        if len(rj) and len(gj):
            w = float(wasserstein_distance(rj, gj))
            sd = float(rj.std()) or 1.0
            ks = float(ks_2samp(rj, gj, method="asymp").statistic)
            entry.update(wasserstein=w, wasserstein_rel=w / sd, ks=ks)
        else:  # present on one side only: as far apart as the statistics go
            entry.update(wasserstein=float("inf"), wasserstein_rel=float("inf"), ks=1.0)
        per[name] = entry
    corr = correlation_difference(r, g)
    return {
        "per_feature": per,
        "wasserstein_rel_mean": float(np.mean([v["wasserstein_rel"] for v in per.values()])),
        "ks_max": float(max(v["ks"] for v in per.values())),
        "present_diff_max": float(max(abs(v["present_real"] - v["present_generated"]) for v in per.values())),
        "corr_diff_max": corr["max_abs"],
        "corr_diff_frobenius": corr["frobenius"],
        "two_sample_auc": two_sample_auc(r, g, seed=seed),
    }


def generation_speed(generate: Callable[[int], Any], n: int = 100000, *, repeat: int = 3) -> float:
    """Events per second of ``generate(n)`` (best of ``repeat`` calls after one warm-up call)."""
    generate(min(n, 1000))
    best = np.inf
    for _ in range(int(repeat)):
        t0 = time.perf_counter()
        generate(n)
        best = min(best, time.perf_counter() - t0)
    return float(n / best)


def format_fidelity(results: dict[str, dict[str, Any]], seconds: dict[str, float] | None = None) -> str:
    """Markdown table of :func:`fidelity` results, one row per model name (and its training time)."""
    head = "| model | two-sample AUC | mean W1/sigma | max KS | max |d present| | max |d corr| |"
    lines = [head + (" fit [s] |" if seconds else ""), "|---" * (6 + bool(seconds)) + "|"]
    for name, f in results.items():
        row = (f"| {name} | {f['two_sample_auc']:.3f} | {f['wasserstein_rel_mean']:.3f} | {f['ks_max']:.3f} "
               f"| {f['present_diff_max']:.3f} | {f['corr_diff_max']:.3f} |")  # fmt: skip
        lines.append(row + (f" {seconds.get(name, float('nan')):.1f} |" if seconds else ""))
    return "\n".join(lines)


def format_per_feature(result: dict[str, Any]) -> str:
    """Markdown table of the per-feature part of one :func:`fidelity` result."""
    lines = ["| feature | W1 | W1/sigma | KS | present (real) | present (generated) |", "|---|---|---|---|---|---|"]
    for name, v in result["per_feature"].items():
        lines.append(f"| {name} | {v['wasserstein']:.4g} | {v['wasserstein_rel']:.3f} | {v['ks']:.3f} "
                     f"| {v['present_real']:.3f} | {v['present_generated']:.3f} |")  # fmt: skip
    return "\n".join(lines)
