"""Classification, discovery and regression metrics (scikit-learn underneath)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hepsift.errors import ConfigurationError, DataError

BACKGROUND_EFFICIENCIES = (1e-2, 1e-3, 1e-4)


def _arrays(y_true: Any, other: Any, sample_weight: Any = None, *, name: str = "scores") -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    y = np.asarray(y_true).ravel()
    o = np.asarray(other)
    if o.ndim > 1 and o.shape[1] == 1:
        o = o[:, 0]
    if y.size == 0:
        raise DataError("no events")
    if len(o) != len(y):
        raise DataError(f"{len(y)} labels but {len(o)} {name}")
    if o.dtype.kind in "fc" and not np.all(np.isfinite(o)):
        raise DataError(f"{name} hold NaN or infinite values")
    w = None
    if sample_weight is not None:
        w = np.asarray(sample_weight, dtype=np.float64).ravel()
        if len(w) != len(y):
            raise DataError(f"{len(y)} labels but {len(w)} weights")
        if not np.all(np.isfinite(w)):
            raise DataError("weights hold NaN or infinite values")
    return y, o, w


def _binary(y: np.ndarray) -> np.ndarray:
    classes = np.unique(y)
    if len(classes) != 2:
        raise DataError(f"a binary metric needs two classes in y_true; got {classes.tolist()}")
    return (y == classes[1]).astype(np.int64)


# ---- labels ------------------------------------------------------------------------------
def accuracy(y_true: Any, y_pred: Any, sample_weight: Any = None) -> float:
    """Fraction of (weighted) events whose predicted label equals the true one."""
    from sklearn.metrics import accuracy_score

    y, p, w = _arrays(y_true, y_pred, sample_weight, name="predictions")
    return float(accuracy_score(y, p, sample_weight=w))


def cohen_kappa(y_true: Any, y_pred: Any, sample_weight: Any = None) -> float:
    """Cohen's kappa (p_o - p_e) / (1 - p_e): agreement beyond chance (Cohen 1960)."""
    from sklearn.metrics import cohen_kappa_score

    y, p, w = _arrays(y_true, y_pred, sample_weight, name="predictions")
    return float(cohen_kappa_score(y, p, sample_weight=w))


def _prf(fn: str, y_true: Any, y_pred: Any, sample_weight: Any, average: str) -> float:
    import sklearn.metrics as skm

    y, p, w = _arrays(y_true, y_pred, sample_weight, name="predictions")
    return float(getattr(skm, fn)(y, p, sample_weight=w, average=average, zero_division=0))


def precision(y_true: Any, y_pred: Any, sample_weight: Any = None, average: str = "binary") -> float:
    """Purity TP / (TP + FP) of the positive (signal, label 1) class; ``average`` as scikit-learn."""
    return _prf("precision_score", y_true, y_pred, sample_weight, average)


def recall(y_true: Any, y_pred: Any, sample_weight: Any = None, average: str = "binary") -> float:
    """Sensitivity TP / (TP + FN): the signal efficiency of the selection."""
    return _prf("recall_score", y_true, y_pred, sample_weight, average)


def f1(y_true: Any, y_pred: Any, sample_weight: Any = None, average: str = "binary") -> float:
    """F1 = 2 precision recall / (precision + recall)."""
    return _prf("f1_score", y_true, y_pred, sample_weight, average)


def confusion_matrix(y_true: Any, y_pred: Any, sample_weight: Any = None, normalize: str | None = None,
                     labels: Sequence[Any] | None = None) -> np.ndarray:
    """Confusion matrix C[i, j] = (weighted) events of true class i predicted as j.

    ``normalize``: None, ``"true"`` (rows sum to 1), ``"pred"`` or ``"all"``.
    Returns ndarray, shape (n_classes, n_classes).
    """
    from sklearn.metrics import confusion_matrix as cm

    y, p, w = _arrays(y_true, y_pred, sample_weight, name="predictions")
    return np.asarray(cm(y, p, sample_weight=w, normalize=normalize, labels=labels))


def classification_report(y_true: Any, scores: Any, sample_weight: Any = None, threshold: float = 0.5) -> dict[str, float]:
    """Accuracy, kappa, F1, precision, recall (at ``score >= threshold``) and ROC AUC of a binary score."""
    y, s, w = _arrays(y_true, scores, sample_weight)
    yb = _binary(y)
    pred = (s >= threshold).astype(np.int64)
    return {
        "accuracy": accuracy(yb, pred, w),
        "kappa": cohen_kappa(yb, pred, w),
        "f1": f1(yb, pred, w),
        "precision": precision(yb, pred, w),
        "recall": recall(yb, pred, w),
        "auc": roc_auc(yb, s, w),
    }


# ---- ROC ---------------------------------------------------------------------------------
def roc_auc(y_true: Any, scores: Any, sample_weight: Any = None) -> float:
    """Area under the ROC curve of a binary score (higher score = more signal-like)."""
    from sklearn.metrics import roc_auc_score

    y, s, w = _arrays(y_true, scores, sample_weight)
    return float(roc_auc_score(_binary(y), s, sample_weight=w))


def roc_curve(y_true: Any, scores: Any, sample_weight: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC curve: (background efficiency, signal efficiency, thresholds), each shape (n_points,)."""
    from sklearn.metrics import roc_curve as rc

    y, s, w = _arrays(y_true, scores, sample_weight)
    fpr, tpr, thr = rc(_binary(y), s, sample_weight=w, drop_intermediate=False)
    return fpr, tpr, thr


def signal_efficiency_at(y_true: Any, scores: Any, sample_weight: Any = None,
                         background_efficiencies: Sequence[float] = BACKGROUND_EFFICIENCIES) -> dict[float, float]:
    """Signal efficiency eps_S at fixed background efficiencies eps_B (interpolated on the ROC).

    A working point below the resolution of the background sample (eps_B < 1 / n_background,
    or no event with positive weight above the cut) gives NaN rather than a number the sample
    cannot support.

    Returns
    -------
    dict eps_B -> eps_S
    """
    y, s, w = _arrays(y_true, scores, sample_weight)
    yb = _binary(y)
    fpr, tpr, _ = roc_curve(yb, s, w)
    n_b = int((yb == 0).sum())
    out = {}
    for e in background_efficiencies:
        if not 0 < e <= 1:
            raise ConfigurationError(f"background efficiency must be in (0, 1]; got {e}")
        if e < 1.0 / n_b or e < fpr[fpr > 0].min(initial=np.inf):
            out[float(e)] = float("nan")
        else:
            out[float(e)] = float(np.interp(e, fpr, tpr))
    return out


def significance_improvement(y_true: Any, scores: Any, sample_weight: Any = None,
                             background_efficiencies: Sequence[float] = BACKGROUND_EFFICIENCIES) -> dict[float, float]:
    """Significance improvement eps_S / sqrt(eps_B) at the given background efficiencies.

    The factor by which a cut multiplies s/sqrt(b) (e.g. Kasieczka et al., "The Machine Learning
    Landscape of Top Taggers", SciPost Phys. 7 (2019) 014).
    """
    eff = signal_efficiency_at(y_true, scores, sample_weight, background_efficiencies)
    return {e: v / np.sqrt(e) for e, v in eff.items()}


def max_significance_improvement(y_true: Any, scores: Any, sample_weight: Any = None,
                                 min_background_efficiency: float = 1e-3) -> tuple[float, float]:
    """Largest eps_S/sqrt(eps_B) over the ROC with eps_B >= ``min_background_efficiency``.

    Returns (improvement, eps_B at the maximum).
    """
    fpr, tpr, _ = roc_curve(y_true, scores, sample_weight)
    ok = fpr >= min_background_efficiency
    if not ok.any():
        return float("nan"), float("nan")
    sic = tpr[ok] / np.sqrt(fpr[ok])
    i = int(np.argmax(sic))
    return float(sic[i]), float(fpr[ok][i])


@dataclass
class ClassROC:
    """One-vs-rest ROC of one class: background efficiency, signal efficiency, AUC."""

    label: Any
    fpr: np.ndarray
    tpr: np.ndarray
    auc: float


def multiclass_roc(y_true: Any, proba: Any, sample_weight: Any = None, classes: Sequence[Any] | None = None) -> dict[Any, ClassROC]:
    """Per-class one-vs-rest ROC curves and AUCs.

    Parameters
    ----------
    y_true : shape (n,), class labels
    proba : shape (n, K), probabilities with columns in the order of ``classes``
        (default: the sorted labels)
    """
    y, p, w = _arrays(y_true, proba, sample_weight, name="probabilities")
    p = np.asarray(p, dtype=np.float64)
    classes = list(np.unique(y)) if classes is None else list(classes)
    if p.ndim != 2 or p.shape[1] != len(classes):
        raise DataError(f"probabilities must have shape (n, {len(classes)}); got {p.shape}")
    out = {}
    for k, c in enumerate(classes):
        t = (y == c).astype(np.int64)
        if t.min() == t.max():
            continue
        fpr, tpr, _ = roc_curve(t, p[:, k], w)
        out[c] = ClassROC(c, fpr, tpr, roc_auc(t, p[:, k], w))
    return out


# ---- discovery significance --------------------------------------------------------------
def ams(s: Any, b: Any, b_reg: float = 10.0) -> Any:
    """Approximate median significance of the ATLAS Higgs ML challenge.

    AMS = sqrt(2((s + b + b_r) ln(1 + s/(b + b_r)) - s)) with the regulariser b_r = 10
    (Adam-Bourdarios et al., JMLR W&CP 42 (2015) 19).
    """
    s_, b_ = np.asarray(s, dtype=np.float64), np.asarray(b, dtype=np.float64)
    br = b_ + b_reg
    with np.errstate(divide="ignore", invalid="ignore"):
        val = np.sqrt(np.clip(2.0 * ((s_ + br) * np.log1p(s_ / br) - s_), 0.0, None))
    return float(val) if val.ndim == 0 else val


@dataclass
class BestCut:
    """Best score cut of a significance scan: Z, cut, expected s and b there."""

    significance: float
    cut: float
    s: float
    b: float


def best_cut_significance(y_true: Any, scores: Any, sample_weight: Any = None, *, metric: str = "asimov",
                          luminosity: float = 1.0, rel_sigma_b: float = 0.0, min_background: float = 1.0,
                          b_reg: float = 10.0, n_cuts: int = 200) -> BestCut:
    """Significance at the best cut ``score >= cut``.

    Parameters
    ----------
    y_true, scores : shape (n,); label 1 (the larger label) is signal
    sample_weight : shape (n,); expected events per event at ``luminosity = 1`` (e.g. pb per
        event with luminosity in pb^-1); None: unit weights
    metric : ``"asimov"`` (Z_A with sigma_b = rel_sigma_b * b, :func:`hepsift.stats.best_cut`),
        ``"simple"`` (s/sqrt(b)) or ``"ams"`` (:func:`ams` with ``b_reg``)
    min_background : cuts that leave fewer expected background events are skipped
    """
    y, s, w = _arrays(y_true, scores, sample_weight)
    yb = _binary(y)
    w = np.ones(len(y)) if w is None else w
    s = np.asarray(s, dtype=np.float64)
    if metric in ("asimov", "simple"):
        from hepsift.stats import best_cut

        r = best_cut(s[yb == 1], w[yb == 1], s[yb == 0], w[yb == 0], luminosity=luminosity, rel_sigma_b=rel_sigma_b,
                     metric=metric, n_cuts=n_cuts, min_background=min_background)
        return BestCut(r.significance, r.cut, r.s, r.b)
    if metric != "ams":
        raise ConfigurationError(f"unknown significance metric {metric!r}; choose asimov, simple or ams")
    order = np.argsort(-s)
    ws = np.cumsum(np.where(yb[order] == 1, w[order], 0.0)) * luminosity
    wb = np.cumsum(np.where(yb[order] == 0, w[order], 0.0)) * luminosity
    z = ams(ws, np.clip(wb, 0, None), b_reg)
    # only cut between distinct score values, and keep at least min_background background events
    last = np.r_[s[order][1:] != s[order][:-1], True]
    z = np.where(last & (wb >= min_background), z, -np.inf)
    if not np.isfinite(z).any():
        raise DataError(f"no cut leaves at least min_background={min_background} background events")
    i = int(np.argmax(z))
    return BestCut(float(z[i]), float(s[order][i]), float(ws[i]), float(wb[i]))


# ---- regression --------------------------------------------------------------------------
@dataclass
class Resolution:
    """Bias and resolution of a regression: see :func:`regression_resolution`."""

    bias: float
    resolution: float
    bias_error: float
    n: int


def regression_resolution(y_true: Any, y_pred: Any, *, relative: bool = True, method: str = "std",
                          sample_weight: Any = None) -> Resolution:
    """Bias and resolution of a regression (e.g. an energy).

    With r = (y_pred - y_true) / y_true (``relative``) or y_pred - y_true:
    ``method="std"``: bias = weighted mean of r, resolution = weighted standard deviation;
    ``method="iqr"``: bias = median, resolution = half the 16-84 % interval (robust to tails,
    equal to sigma for a Gaussian).
    """
    y, p, w = _arrays(y_true, y_pred, sample_weight, name="predictions")
    y = y.astype(np.float64)
    p = np.asarray(p, dtype=np.float64)
    if relative:
        if np.any(y == 0):
            raise DataError("relative resolution needs non-zero true values")
        r = (p - y) / y
    else:
        r = p - y
    w = np.ones(len(r)) if w is None else w
    n_eff = w.sum() ** 2 / np.sum(w**2)
    if method == "std":
        bias = float(np.average(r, weights=w))
        res = float(np.sqrt(np.average((r - bias) ** 2, weights=w)))
    elif method == "iqr":
        order = np.argsort(r)
        cw = np.cumsum(w[order]) / w.sum()
        q16, q50, q84 = (float(np.interp(q, cw, r[order])) for q in (0.16, 0.5, 0.84))
        bias, res = q50, 0.5 * (q84 - q16)
    else:
        raise ConfigurationError(f"unknown method {method!r}; choose 'std' or 'iqr'")
    return Resolution(bias, res, float(res / np.sqrt(n_eff)), len(r))


def resolution_vs(y_true: Any, y_pred: Any, bins: Any, *, relative: bool = True, method: str = "std",
                  sample_weight: Any = None) -> dict[str, np.ndarray]:
    """:func:`regression_resolution` in bins of the true value.

    Returns dict with ``centers``, ``bias``, ``resolution``, ``n`` (arrays of shape (n_bins,)).
    """
    y = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    edges = np.asarray(bins, dtype=np.float64)
    out: dict[str, list[float]] = {"centers": [], "bias": [], "resolution": [], "n": []}
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (y >= lo) & (y < hi)
        out["centers"].append(0.5 * (lo + hi))
        if m.sum() < 2:
            out["bias"].append(np.nan)
            out["resolution"].append(np.nan)
            out["n"].append(int(m.sum()))
            continue
        r = regression_resolution(y[m], p[m], relative=relative, method=method,
                                  sample_weight=None if w is None else w[m])
        out["bias"].append(r.bias)
        out["resolution"].append(r.resolution)
        out["n"].append(r.n)
    return {k: np.asarray(v) for k, v in out.items()}
