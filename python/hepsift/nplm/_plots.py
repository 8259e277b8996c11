"""Plot of an NPLM reference distribution (matplotlib Agg canvas, HEP style)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from hepsift.stats.plots import _save, hep_figure

__all__ = ["plot_nplm_null"]


def plot_nplm_null(null: Any, *, t_obs: float | None = None, path: str | os.PathLike[str] | None = None) -> Any:
    """Histogram of NPLM reference toys with the fitted chi-square density and the observed t.

    Parameters
    ----------
    null : NullDistribution
        Toys of :func:`hepsift.nplm.calibrate` (``t``, ``dof``, ``ks_pvalue``).
    t_obs : float, optional
        The observed test statistic, drawn as a dashed line.
    path : path, optional
        Where the figure is written (atomically; PNG, PDF, ... from the suffix).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from scipy import stats

    with hep_figure() as fig:
        ax = fig.add_subplot()
        t = np.asarray(null.t)
        hi = max(float(np.max(t)), t_obs or 0.0) * 1.1
        ax.hist(
            t,
            bins=max(10, int(np.sqrt(t.size)) + 1),
            range=(min(0.0, float(t.min())), hi),
            density=True,
            histtype="stepfilled",
            alpha=0.5,
            label=f"{t.size} reference toys",
        )
        x = np.linspace(1e-3, hi, 300)
        ax.plot(
            x, stats.chi2.pdf(x, null.dof), "r-", label=rf"$\chi^2_{{{null.dof:.2f}}}$ (KS p = {null.ks_pvalue:.2f})"
        )
        if t_obs is not None:
            ax.axvline(t_obs, color="k", ls="--", label=rf"$t_{{obs}}$ = {t_obs:.3g}")
        ax.set_xlabel("t")
        ax.set_ylabel("density")
        ax.legend(loc="best", fontsize="small")
        _save(fig, path)
    return fig
