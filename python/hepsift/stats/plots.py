"""Plots of the statistics layer (matplotlib Agg canvas, HEP style from mplhep).

Figures are created without pyplot's global state (``matplotlib.figure.Figure`` on an Agg
canvas), so they work in batch jobs and do not change the caller's backend.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from hepsift._deps import install_hint
from hepsift.errors import ConfigurationError, DependencyError

__all__ = ["brazil_plot", "plot_significance_vs_luminosity", "plot_transferability"]


@contextlib.contextmanager
def hep_figure(figsize: tuple[float, float] = (7.0, 5.5)) -> Iterator[Any]:
    """Yield a matplotlib ``Figure`` on an Agg canvas, drawn in the mplhep ROOT style."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import matplotlib.style
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover
        raise DependencyError(install_hint("matplotlib", "plots")) from exc
    try:
        import mplhep

        style: Any = mplhep.style.ROOT
    except ImportError:  # pragma: no cover - plain matplotlib style then
        style = "default"
    with matplotlib.style.context(style):
        fig = Figure(figsize=figsize)
        FigureCanvasAgg(fig)
        yield fig


def _save(fig: Any, path: str | os.PathLike[str] | None) -> None:
    if path is not None:
        from hepsift._atomic import atomic_output

        with atomic_output(path, overwrite=True, make_parents=True) as tmp:
            fig.savefig(os.fspath(tmp), bbox_inches="tight", dpi=120)


def brazil_plot(
    masses: Sequence[float],
    results: Sequence[Any],
    *,
    path: str | os.PathLike[str] | None = None,
    theory: Sequence[float] | None = None,
    xsec: bool = False,
    xlabel: str = "Signal mass [GeV]",
    ylabel: str | None = None,
    logy: bool = True,
    label: str | None = None,
) -> Any:
    """Expected (median, +-1 and +-2 sigma bands) and observed limits versus signal mass.

    Parameters
    ----------
    masses : sequence of float, shape (n,)
        Signal masses (GeV).
    results : sequence of :class:`~hepsift.stats.UpperLimitResult`, shape (n,)
        One limit per mass.
    path : path, optional
        Write the figure there (format from the suffix).
    theory : sequence of float, optional
        Theory curve (mu = 1, or the theory cross-section when ``xsec``).
    xsec : bool
        Plot cross-section limits (``xsec_*``; needs ``sigma_theory`` in the results).
    Returns
    -------
    matplotlib.figure.Figure
    """
    m = np.asarray(masses, dtype=float)
    if len(results) != m.size or m.size == 0:
        raise ConfigurationError(f"need one result per mass, got {m.size} masses and {len(results)} results")
    order = np.argsort(m)
    m = m[order]
    res = [results[i] for i in order]

    def pick(r: Any, what: str) -> float:
        if xsec:
            if r.sigma_theory is None:
                raise ConfigurationError("xsec=True needs results computed with sigma_theory")
            scale = r.sigma_theory
        else:
            scale = 1.0
        if what == "obs":
            return np.nan if r.observed is None else r.observed * scale
        if what == "exp":
            return r.expected * scale
        return r.bands[int(what)] * scale

    exp = np.array([pick(r, "exp") for r in res])
    b = {k: np.array([pick(r, str(k)) for r in res]) for k in (-2, -1, 1, 2)}
    obs = np.array([pick(r, "obs") for r in res])
    with hep_figure() as fig:
        ax = fig.add_subplot()
        ax.fill_between(m, b[-2], b[2], color="#F5BB54", label=r"Expected $\pm 2\sigma$")
        ax.fill_between(m, b[-1], b[1], color="#607641", label=r"Expected $\pm 1\sigma$")
        ax.plot(m, exp, "k--", label="Expected" if label is None else f"Expected ({label})")
        if np.any(np.isfinite(obs)):
            ax.plot(m, obs, "k-o", label="Observed")
        if theory is not None:
            ax.plot(m, np.asarray(theory, dtype=float)[order], "r-", label="Theory")
        elif not xsec:
            ax.axhline(1.0, color="r", lw=1, label=r"$\mu = 1$")
        ax.set_xlabel(xlabel)
        cl = getattr(res[0], "cl", 0.95)
        ax.set_ylabel(ylabel or (rf"{100 * cl:g}% CL upper limit on " + (r"$\sigma$ [pb]" if xsec else r"$\mu$")))
        if logy:
            ax.set_yscale("log")
        ax.legend(loc="best", fontsize="small")
        _save(fig, path)
    return fig


def plot_significance_vs_luminosity(scan: Any, *, path: str | os.PathLike[str] | None = None) -> Any:
    """Plot a :class:`~hepsift.stats.LuminosityScan` with the 3 and 5 sigma lines."""
    with hep_figure() as fig:
        ax = fig.add_subplot()
        ax.plot(scan.luminosities, scan.significances, "b-", label=r"Asimov $Z_A$")
        for z, lumi, c in ((3.0, scan.lumi_3sigma, "orange"), (5.0, scan.lumi_5sigma, "red")):
            ax.axhline(z, color=c, ls="--", lw=1)
            if np.isfinite(lumi):
                ax.axvline(lumi, color=c, ls=":", lw=1, label=rf"{z:g}$\sigma$ at {lumi:.3g} pb$^{{-1}}$")
        ax.set_xscale("log")
        ax.set_xlabel(r"Integrated luminosity [pb$^{-1}$]")
        ax.set_ylabel("Expected significance Z")
        ax.legend(loc="best", fontsize="small")
        _save(fig, path)
    return fig


def plot_transferability(result: Any, *, path: str | os.PathLike[str] | None = None, ratio: bool = True) -> Any:
    """Heat map of a :class:`~hepsift.stats.TransferabilityResult` (ratio to the diagonal by default)."""
    mat = result.ratio if ratio else result.limits
    with hep_figure(figsize=(1.2 * mat.shape[1] + 3.0, 1.0 * mat.shape[0] + 2.5)) as fig:
        ax = fig.add_subplot()
        im = ax.imshow(mat, cmap="viridis_r" if ratio else "viridis", aspect="auto")
        fig.colorbar(im, ax=ax, label="limit / limit of own classifier" if ratio else r"expected limit on $\mu$")
        ax.set_xticks(range(mat.shape[1]), result.signals, rotation=45, ha="right")
        ax.set_yticks(range(mat.shape[0]), result.classifiers)
        ax.set_xlabel("signal")
        ax.set_ylabel("classifier trained on")
        ax.minorticks_off()
        for i in range(mat.shape[0]):
            for j in range(mat.shape[1]):
                ax.text(j, i, f"{mat[i, j]:.3g}", ha="center", va="center", color="w", fontsize="small")
        _save(fig, path)
    return fig

