"""ROC and score-distribution plots in the HEP style (matplotlib Agg backend + mplhep)."""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from hepsift._deps import install_hint
from hepsift.errors import DependencyError


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - optional
        raise DependencyError(install_hint("matplotlib", "plots")) from exc
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    try:
        import mplhep

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            plt.style.use(mplhep.style.ROOT)
    except ImportError:  # the HEP style is optional; plain matplotlib still works
        pass
    return plt


def plot_roc(curves: Mapping[str, tuple[Any, Any] | tuple[Any, Any, Any]], path: str | os.PathLike[str] | None = None,
             *, log: bool = True, title: str | None = None) -> Any:
    """ROC curves as background rejection 1/eps_B against signal efficiency eps_S.

    Parameters
    ----------
    curves : mapping name -> (y_true, scores) or (y_true, scores, sample_weight)
    path : file to write (PNG/PDF by suffix); None: only return the figure
    log : logarithmic rejection axis

    Returns
    -------
    matplotlib.figure.Figure
    """
    from hepsift.metrics._weighted import roc_auc, roc_curve

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 6))
    for name, args in curves.items():
        y, s = args[0], args[1]
        w = args[2] if len(args) > 2 else None
        fpr, tpr, _ = roc_curve(y, s, w)
        ok = fpr > 0
        ax.plot(tpr[ok], 1.0 / fpr[ok], label=f"{name} (AUC {roc_auc(y, s, w):.3f})")
    ax.set_xlabel(r"signal efficiency $\varepsilon_S$")
    ax.set_ylabel(r"background rejection $1/\varepsilon_B$")
    if log:
        ax.set_yscale("log")
    ax.set_xlim(0, 1)
    ax.legend(loc="upper right", fontsize="small")
    if title:
        ax.set_title(title)
    _save(fig, path)
    return fig


def plot_scores(y_true: Any, scores: Any, sample_weight: Any = None, path: str | os.PathLike[str] | None = None, *,
                bins: int = 40, density: bool = True, labels: Mapping[int, str] | None = None,
                log: bool = False) -> Any:
    """Score distributions per class (step histograms, normalised by default).

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _pyplot()
    y = np.asarray(y_true)
    s = np.asarray(scores, dtype=np.float64)
    w = np.ones(len(s)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    edges = np.linspace(s.min(), s.max(), bins + 1)
    fig, ax = plt.subplots(figsize=(7, 6))
    names = {0: "background", 1: "signal", **(labels or {})}
    for c in np.unique(y):
        m = y == c
        h, _ = np.histogram(s[m], edges, weights=w[m])
        if density and h.sum() > 0:
            h = h / (h.sum() * np.diff(edges))
        ax.stairs(h, edges, label=names.get(int(c), str(c)))
    ax.set_xlabel("score")
    ax.set_ylabel("normalised events" if density else "events")
    if log:
        ax.set_yscale("log")
    ax.legend(fontsize="small")
    _save(fig, path)
    return fig


def _save(fig: Any, path: str | os.PathLike[str] | None) -> None:
    if path is None:
        return
    from hepsift._atomic import atomic_output

    with atomic_output(path, overwrite=True, make_parents=True) as tmp:
        fig.savefig(tmp, bbox_inches="tight")
