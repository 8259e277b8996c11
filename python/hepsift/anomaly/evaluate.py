"""Evaluation of anomaly detectors against signals they were not trained on.

Per detector and signal: ROC AUC, signal efficiency eps_S at background efficiencies
eps_B = 1e-2, 1e-3, 1e-4, and the significance improvement SI = eps_S / sqrt(eps_B) (the
factor by which a cut multiplies s / sqrt(b)). These are the figures of merit of the
DarkMachines unsupervised challenge (Aarrestad et al., "The Dark Machines Anomaly Score
Challenge", SciPost Phys. 12 (2022) 043, arXiv:2105.14027), which also summarises each
detector over all signals; :func:`darkmachines_metrics` gives the per-signal values and
their mean and median over signals.

Also: the correlation of detectors' scores (matrix and plot), simple combinations of
normalised scores, and a comparison table with a supervised classifier and with H_T alone.
Metrics use :mod:`sklearn.metrics` underneath.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hepsift import errors
from hepsift.anomaly._base import EFFICIENCIES, efficiency_key

__all__ = [
    "roc_auc",
    "signal_efficiency",
    "significance_improvement",
    "evaluate_scores",
    "darkmachines_metrics",
    "score_correlation",
    "plot_score_correlation",
    "BackgroundNormaliser",
    "combine_scores",
    "comparison_table",
    "format_table",
]


def _scores(x: Any, what: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64).reshape(-1)
    if len(a) == 0:
        raise errors.DataError(f"{what}: no events")
    if not np.isfinite(a).all():
        raise errors.NonFiniteInputError(f"{what}: scores contain NaN or infinite values")
    return a


def roc_auc(background: Any, signal: Any, *, background_weights: Any = None, signal_weights: Any = None) -> float:
    """ROC AUC of separating ``signal`` (label 1) from ``background`` (label 0) by the score.

    Parameters
    ----------
    background, signal : 1-D arrays of scores (higher = more signal-like)
    background_weights, signal_weights : optional event weights

    Returns
    -------
    float in [0, 1]; 0.5 = no separation
    """
    from sklearn.metrics import roc_auc_score

    b, s = _scores(background, "background"), _scores(signal, "signal")
    y = np.concatenate([np.zeros(len(b)), np.ones(len(s))])
    w = None
    if background_weights is not None or signal_weights is not None:
        wb = np.ones(len(b)) if background_weights is None else np.asarray(background_weights, dtype=np.float64)
        ws = np.ones(len(s)) if signal_weights is None else np.asarray(signal_weights, dtype=np.float64)
        w = np.concatenate([wb, ws])
    return float(roc_auc_score(y, np.concatenate([b, s]), sample_weight=w))


def signal_efficiency(background: Any, signal: Any, background_efficiency: float) -> float:
    """Fraction of signal above the cut that keeps ``background_efficiency`` of the background.

    The cut is the ``1 - eps_B`` quantile of the background scores; with ``n_B`` background
    events it is only meaningful when ``eps_B * n_B`` is well above 1.

    Returns
    -------
    float eps_S in [0, 1]
    """
    b, s = _scores(background, "background"), _scores(signal, "signal")
    cut = np.quantile(b, 1.0 - float(background_efficiency))
    return float(np.mean(s > cut))


def significance_improvement(eps_s: float | np.ndarray, eps_b: float | np.ndarray) -> float | np.ndarray:
    r"""SI = :math:`\epsilon_S / \sqrt{\epsilon_B}`: the gain in :math:`s/\sqrt{b}` from the cut."""
    return np.asarray(eps_s, dtype=np.float64) / np.sqrt(np.asarray(eps_b, dtype=np.float64))


def evaluate_scores(
    background: Any, signal: Any, *, efficiencies: Sequence[float] = EFFICIENCIES
) -> dict[str, float]:
    """AUC, eps_S and SI at each background efficiency for one detector and one signal.

    Returns
    -------
    dict with ``auc``, ``eps_s@<key>``, ``si@<key>`` (key as ``"1e-3"``), ``n_background``
    and ``n_signal``.
    """
    b, s = _scores(background, "background"), _scores(signal, "signal")
    out: dict[str, float] = {"auc": roc_auc(b, s)}
    for e in efficiencies:
        key = efficiency_key(e)
        es = signal_efficiency(b, s, e)
        out[f"eps_s@{key}"] = es
        out[f"si@{key}"] = float(significance_improvement(es, e))
    out["n_background"] = float(len(b))
    out["n_signal"] = float(len(s))
    return out


def darkmachines_metrics(
    background_scores: Mapping[str, Any], signal_scores: Mapping[str, Mapping[str, Any]],
    *, efficiencies: Sequence[float] = EFFICIENCIES,
) -> dict[str, Any]:
    """DarkMachines figures of merit (arXiv:2105.14027) for several detectors and signals.

    Parameters
    ----------
    background_scores : detector name -> background scores (1-D)
    signal_scores : detector name -> {signal name -> signal scores}

    Returns
    -------
    dict detector -> {"per_signal": {signal -> :func:`evaluate_scores`},
    "mean": {metric -> mean over signals}, "median": {metric -> median over signals}}
    """
    out: dict[str, Any] = {}
    for det, b in background_scores.items():
        if det not in signal_scores:
            raise errors.InputMismatchError(f"no signal scores for detector {det!r}")
        per = {sig: evaluate_scores(b, s, efficiencies=efficiencies) for sig, s in signal_scores[det].items()}
        metrics = [k for k in next(iter(per.values())) if not k.startswith("n_")] if per else []
        out[det] = {
            "per_signal": per,
            "mean": {m: float(np.mean([v[m] for v in per.values()])) for m in metrics},
            "median": {m: float(np.median([v[m] for v in per.values()])) for m in metrics},
        }
    return out


def score_correlation(scores: Mapping[str, Any], *, method: str = "spearman") -> tuple[list[str], np.ndarray]:
    """Correlation matrix of several detectors' scores on the same events.

    Parameters
    ----------
    scores : detector name -> 1-D scores (same events, same order)
    method : ``"spearman"`` (rank correlation; insensitive to the scores' scales) or ``"pearson"``

    Returns
    -------
    (names, ndarray float64 of shape (k, k))
    """
    names = list(scores)
    mat = np.stack([_scores(scores[n], n) for n in names])
    if len({len(r) for r in mat}) != 1:
        raise errors.InputMismatchError("all detectors' scores must be for the same events")
    if method == "spearman":
        from scipy.stats import rankdata

        mat = np.stack([rankdata(r) for r in mat])
    elif method != "pearson":
        raise errors.ConfigurationError(f"method must be 'spearman' or 'pearson', got {method!r}")
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.corrcoef(mat)
    return names, np.nan_to_num(np.atleast_2d(corr))


def plot_score_correlation(
    matrices: Mapping[str, tuple[Sequence[str], np.ndarray]], path: str | os.PathLike[str]
) -> Path:
    """Plot one or more correlation matrices side by side (e.g. background and each signal).

    Parameters
    ----------
    matrices : title -> (names, matrix) as returned by :func:`score_correlation`
    path : image file to write (format from the suffix)
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    k = len(matrices)
    fig, axes = plt.subplots(1, k, figsize=(4.2 * k, 3.8), squeeze=False)
    image = None
    for ax, (title, (names, m)) in zip(axes[0], matrices.items()):
        image = ax.imshow(m, vmin=-1, vmax=1, cmap="RdBu_r")
        ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
        ax.set_yticks(range(len(names)), names)
        for i in range(len(names)):
            for j in range(len(names)):
                ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", fontsize=8)
        ax.set_title(title)
    if image is not None:
        fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8, label="correlation")
    from hepsift._atomic import atomic_output

    path = Path(path)
    with atomic_output(path, overwrite=True, make_parents=True) as tmp:
        fig.savefig(tmp, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


class BackgroundNormaliser:
    r"""Maps a detector's score to a common scale defined by the background.

    ``u(s) = -log10(max(1 - F_B(s), 1 / (2 n_B)))`` where ``F_B`` is the empirical CDF of the
    background scores: ``u = 2`` means "as rare as the 1e-2 tail of the background",
    whatever the detector. Fitted per detector on background scores (shape (n_B,)).
    """

    def __init__(self, background: Any) -> None:
        self.sorted_ = np.sort(_scores(background, "background"))

    def __call__(self, scores: Any) -> np.ndarray:
        s = _scores(scores, "scores")
        n = len(self.sorted_)
        above = n - np.searchsorted(self.sorted_, s, side="right")
        return -np.log10(np.maximum(above / n, 0.5 / n))


def combine_scores(
    background: Mapping[str, Any], scores: Mapping[str, Any], *, method: str = "average"
) -> np.ndarray:
    """Combine several detectors after normalising each by its background (:class:`BackgroundNormaliser`).

    Parameters
    ----------
    background : detector name -> background scores (defines the normalisation)
    scores : detector name -> scores of the events to combine (same events for all)
    method : ``"average"`` (mean of the normalised scores) or ``"and"`` (their minimum: an
        event passes a cut on the combination only if it passes that cut for every detector)

    Returns
    -------
    ndarray float64, shape (n_events,)
    """
    names = list(scores)
    missing = [n for n in names if n not in background]
    if missing:
        raise errors.InputMismatchError(f"no background scores for {', '.join(missing)}")
    u = np.stack([BackgroundNormaliser(background[n])(scores[n]) for n in names])
    if method == "average":
        return u.mean(axis=0)
    if method == "and":
        return u.min(axis=0)
    raise errors.ConfigurationError(f"method must be 'average' or 'and', got {method!r}")


def comparison_table(
    background: Mapping[str, Any], signals: Mapping[str, Mapping[str, Any]],
    *, efficiencies: Sequence[float] = EFFICIENCIES,
) -> list[dict[str, Any]]:
    """Rows ``{"method", "signal", "auc", "eps_s@1e-2", ...}`` for a table of methods x signals.

    Parameters
    ----------
    background : method name -> background scores. Methods may be anomaly detectors, a
        supervised classifier's output, or a single variable such as H_T.
    signals : method name -> {signal name -> scores}
    """
    rows = []
    for method, b in background.items():
        for sig, s in signals[method].items():
            rows.append({"method": method, "signal": sig, **evaluate_scores(b, s, efficiencies=efficiencies)})
    return rows


def format_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] = ("auc", "eps_s@1e-3")) -> str:
    """Markdown table: one row per method, one column group per signal."""
    signals = list(dict.fromkeys(r["signal"] for r in rows))
    methods = list(dict.fromkeys(r["method"] for r in rows))
    cell = {(r["method"], r["signal"]): r for r in rows}
    head = "| method | " + " | ".join(f"{s} {c}" for s in signals for c in columns) + " |"
    sep = "|---" * (1 + len(signals) * len(columns)) + "|"
    lines = [head, sep]
    for m in methods:
        vals = []
        for s in signals:
            for c in columns:
                r = cell.get((m, s))
                vals.append("" if r is None else f"{r[c]:.3f}")
        lines.append(f"| {m} | " + " | ".join(vals) + " |")
    return "\n".join(lines)
