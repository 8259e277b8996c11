"""Score histograms for limits: classifier scores and event weights -> binned yields with sumw2.

:func:`score_histograms` bins the scores of a signal and of one or more background samples
on common edges (background quantiles, merged from the top until every bin meets a Monte Carlo
statistics limit, or edges given by the caller); :func:`merge_bins` is that merging step. The
results are :class:`hepsift.stats.Histogram` objects that :func:`hepsift.stats.upper_limit`
and :func:`hepsift.stats.build_workspace` take as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from hepsift.errors import ConfigurationError, DataError
from hepsift.stats._hist import Histogram

__all__ = ["score_histograms", "merge_bins"]


def merge_bins(counts: Any, sumw2: Any, edges: Any, *, max_mc_stat: float = 0.2) -> np.ndarray:
    """Merge adjacent bins, from the highest score down, until each bin's relative MC
    statistical uncertainty ``sqrt(sumw2) / counts`` is at most ``max_mc_stat``.

    Parameters
    ----------
    counts, sumw2 : array_like, shape (n_bins,)
        Total background yield and sum of squared weights per bin.
    edges : array_like, shape (n_bins + 1,)
        Bin edges, increasing.
    max_mc_stat : float, default 0.2
        Largest relative MC statistical uncertainty allowed in a bin.

    Returns
    -------
    numpy.ndarray, float64, shape (n_merged + 1,)
        The edges of the merged bins (a subset of ``edges``). A last group at the low end
        that cannot reach ``max_mc_stat`` on its own is merged into the group above it.

    Raises
    ------
    hepsift.ConfigurationError
        The shapes do not match.
    hepsift.DataError
        The whole background together has a relative MC statistical uncertainty above
        ``max_mc_stat`` (a degenerate background: a few heavily weighted events).
    """
    from hepsift.stats.limits import merge_groups

    c, v, e = (np.asarray(x, dtype=np.float64) for x in (counts, sumw2, edges))
    if c.ndim != 1 or c.shape != v.shape or e.shape != (len(c) + 1,):
        raise ConfigurationError(f"counts {c.shape}, sumw2 {v.shape} and edges {e.shape} do not match")
    groups = merge_groups(c, v, max_mc_stat, from_top=True)
    return e[[g[0] for g in groups] + [len(c)]]


def _values(x: Any, what: str) -> np.ndarray:
    """A float64 1-D array from numpy, a list, an ``AsNumpy`` column, or an RDataFrame result
    (``df.Take["double"]("score")``: an ``RResultPtr`` to a ``std::vector``)."""
    if hasattr(x, "GetValue") and type(x).__name__.startswith("RResultPtr"):
        x = x.GetValue()
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{what}: cannot read {type(x).__name__} as numbers") from exc
    if arr.ndim != 1:
        raise DataError(f"{what}: expected one value per event (1-D), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise DataError(f"{what}: {int(np.sum(~np.isfinite(arr)))} value(s) are NaN or infinite")
    return arr


def score_histograms(
    sig_scores: Any,
    sig_weights: Any,
    bkg_scores: Any,
    bkg_weights: Any,
    *,
    luminosity: float = 1.0,
    n_bins: int = 10,
    max_mc_stat: float | None = 0.2,
    edges: Any = None,
) -> tuple[Histogram, dict[str, Histogram]]:
    """Signal and background score histograms (counts and sumw2 per bin) on common edges.

    Without ``edges`` the starting edges are ``n_bins`` quantiles of all background scores
    (equal numbers of background MC events per bin), widened by a tiny margin to hold every
    signal and background score; bins are then merged from the top (:func:`merge_bins`) until
    the total background of each bin has a relative MC statistical uncertainty
    ``sqrt(sum w^2) / sum w`` of at most ``max_mc_stat`` (``None``: no merging). With
    ``edges`` those edges are used as they are (scores outside them are not counted).

    Parameters
    ----------
    sig_scores, sig_weights : array_like, shape (n_sig,)
        Signal scores and weights (events per 1/pb, or expected events when ``luminosity`` is
        1). NumPy arrays, lists, ``AsNumpy`` columns or RDataFrame ``Take`` results.
    bkg_scores, bkg_weights : array_like of shape (n_bkg,), or mappings name -> array
        Background scores and weights: one array (one sample called ``"background"``) or one
        per background sample (the same keys in both).
    luminosity : float, default 1
        Integrated luminosity (1/pb) multiplying every weight; counts scale with it and sumw2
        with its square.
    n_bins : int, default 10
        Number of background quantiles (without ``edges``).
    max_mc_stat : float or None, default 0.2
        Largest relative MC statistical uncertainty of the total background in a bin.
    edges : array_like, shape (n + 1,), optional
        Fixed, increasing bin edges.

    Returns
    -------
    (Histogram, dict of str to Histogram)
        The signal histogram and one histogram per background sample, each with ``counts``
        and ``sumw2`` (float64, shape (n,)) and ``edges`` (shape (n + 1,)).

    Raises
    ------
    hepsift.ConfigurationError
        Scores and weights of different shapes or kinds, other sample names, bad edges.
    hepsift.DataError
        No signal or no background event; NaN scores or weights; a degenerate background.

    Examples
    --------
    >>> import numpy as np
    >>> sig, bkg = score_histograms([0.9, 0.8], [1.0, 1.0], [0.1, 0.2, 0.7], [2.0, 2.0, 2.0],
    ...                             edges=[0.0, 0.5, 1.0])
    >>> sig.counts.tolist(), bkg["background"].counts.tolist(), bkg["background"].sumw2.tolist()
    ([0.0, 2.0], [4.0, 2.0], [8.0, 4.0])
    """
    if isinstance(bkg_scores, Mapping) != isinstance(bkg_weights, Mapping):
        raise ConfigurationError("bkg_scores and bkg_weights must both be arrays or both be mappings")
    if not isinstance(bkg_scores, Mapping):
        bkg_scores, bkg_weights = {"background": bkg_scores}, {"background": bkg_weights}
    if set(bkg_scores) != set(bkg_weights):
        raise ConfigurationError(f"background names differ: {sorted(bkg_scores)} vs {sorted(bkg_weights)}")
    if not (np.isfinite(luminosity) and luminosity > 0):
        raise ConfigurationError(f"luminosity must be a positive number (1/pb), got {luminosity}")
    xs = _values(sig_scores, "signal scores")
    ws = _values(sig_weights, "signal weights") * luminosity
    xb = {k: _values(v, f"background {k!r} scores") for k, v in bkg_scores.items()}
    wb = {k: _values(bkg_weights[k], f"background {k!r} weights") * luminosity for k in xb}
    for k in xb:
        if xb[k].shape != wb[k].shape:
            raise ConfigurationError(f"background {k!r}: {xb[k].shape} scores but {wb[k].shape} weights")
    if xs.shape != ws.shape:
        raise ConfigurationError(f"signal: {xs.shape} scores but {ws.shape} weights")
    if len(xs) == 0:
        raise DataError("no signal events")
    all_b = np.concatenate(list(xb.values()))
    if len(all_b) == 0:
        raise DataError("no background events")
    if edges is not None:
        e = np.asarray(edges, dtype=np.float64)
        if e.ndim != 1 or len(e) < 2 or not np.all(np.isfinite(e)) or np.any(np.diff(e) <= 0):
            raise ConfigurationError("edges must be at least two finite, strictly increasing numbers")
    else:
        if n_bins < 1:
            raise ConfigurationError(f"n_bins must be >= 1, got {n_bins}")
        e = np.unique(np.quantile(all_b, np.linspace(0.0, 1.0, n_bins + 1)))
        lo, hi = min(xs.min(), all_b.min()), max(xs.max(), all_b.max())
        if len(e) < 2:  # every background score equal
            e = np.array([lo, hi if hi > lo else lo + 1.0])
        e[0], e[-1] = lo - 1e-9 * (1 + abs(lo)), hi + 1e-9 * (1 + abs(hi))

    def hist(x: np.ndarray, w: np.ndarray, edges_: np.ndarray, name: str) -> Histogram:
        counts, _ = np.histogram(x, edges_, weights=w)
        sumw2, _ = np.histogram(x, edges_, weights=w**2)
        return Histogram(counts, sumw2, edges_, name)

    if max_mc_stat is not None and edges is None:
        total = hist(all_b, np.concatenate([wb[k] for k in xb]), e, "background")
        e = merge_bins(total.counts, total.sumw2, e, max_mc_stat=max_mc_stat)
    return hist(xs, ws, e, "signal"), {k: hist(xb[k], wb[k], e, k) for k in xb}
