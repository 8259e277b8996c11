"""Metrics of classifiers and regressions for new-physics searches.

Labels: :func:`accuracy`, :func:`cohen_kappa`, :func:`f1`, :func:`precision`, :func:`recall`,
:func:`confusion_matrix`, :func:`classification_report`.
Scores: :func:`roc_auc`, :func:`roc_curve`, :func:`signal_efficiency_at` (eps_S at eps_B =
1e-2, 1e-3, 1e-4), :func:`significance_improvement` (eps_S / sqrt(eps_B)),
:func:`max_significance_improvement`, :func:`multiclass_roc` (one-vs-rest).
Discovery: :func:`best_cut_significance` (Asimov Z_A, s/sqrt(b) or the HiggsML :func:`ams` at
the best score cut).
Regression: :func:`regression_resolution`, :func:`resolution_vs`.
Plots (matplotlib, mplhep style): :func:`plot_roc`, :func:`plot_scores`.

All take optional per-event weights; scikit-learn computes the underlying curves and scores.

>>> from hepsift.metrics import roc_auc
>>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
0.75
"""

from __future__ import annotations

from hepsift.metrics._weighted import (
    BACKGROUND_EFFICIENCIES,
    BestCut,
    ClassROC,
    Resolution,
    accuracy,
    ams,
    best_cut_significance,
    classification_report,
    cohen_kappa,
    confusion_matrix,
    f1,
    max_significance_improvement,
    multiclass_roc,
    precision,
    recall,
    regression_resolution,
    resolution_vs,
    roc_auc,
    roc_curve,
    signal_efficiency_at,
    significance_improvement,
)
from hepsift.metrics.plots import plot_roc, plot_scores

__all__ = [
    "BACKGROUND_EFFICIENCIES",
    "BestCut",
    "ClassROC",
    "Resolution",
    "accuracy",
    "ams",
    "best_cut_significance",
    "classification_report",
    "cohen_kappa",
    "confusion_matrix",
    "f1",
    "max_significance_improvement",
    "multiclass_roc",
    "plot_roc",
    "plot_scores",
    "precision",
    "recall",
    "regression_resolution",
    "resolution_vs",
    "roc_auc",
    "roc_curve",
    "signal_efficiency_at",
    "significance_improvement",
]
