"""Conversion of histogram-like inputs into plain numpy arrays.

Accepted inputs (one function, :func:`as_histogram`, takes any of them):

* a 1-d array (or list) of bin counts: **expected yields without a Monte Carlo statistical
  uncertainty** (sumw2 = 0), as in pyhf's simple models or cabinetry; pass ``(counts, sumw2)``
  to include one;
* a tuple ``(counts, sumw2)`` or ``(counts, sumw2, edges)`` of 1-d arrays;
* a mapping with keys ``counts`` (or ``values``), optional ``sumw2`` (or ``variances``; without
  it: no MC statistical uncertainty) and optional ``edges``;
* a :class:`Histogram` (returned unchanged);
* a ``hist.Hist`` / ``boost_histogram.Histogram`` or any object following the UHI
  *PlottableHistogram* protocol (``values()``, ``variances()``, ``axes[0].edges``);
* a ROOT ``TH1`` (PyROOT object, e.g. ``df.Histo1D(...).GetValue()``) or an ``RResultPtr``
  to one. Under- and overflow bins are not used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from hepsift.errors import DataError

__all__ = ["Histogram", "as_histogram", "check_same_binning"]


@dataclass(frozen=True)
class Histogram:
    """A one-dimensional weighted histogram.

    Attributes
    ----------
    counts : ndarray, shape (n_bins,), float64
        Sum of weights per bin (expected events).
    sumw2 : ndarray, shape (n_bins,), float64
        Sum of squared weights per bin (MC statistical variance).
    edges : ndarray, shape (n_bins + 1,), or None
        Bin edges when known.
    name : str
        A label used in error messages and in the workspace.
    """

    counts: np.ndarray
    sumw2: np.ndarray
    edges: np.ndarray | None = None
    name: str = "histogram"

    @property
    def n_bins(self) -> int:
        return int(self.counts.shape[0])

    @property
    def total(self) -> float:
        return float(self.counts.sum())


def _from_root(obj: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if hasattr(obj, "GetValue") and not hasattr(obj, "GetNbinsX"):
        obj = obj.GetValue()  # RResultPtr<TH1D>
    if hasattr(obj, "GetDimension") and obj.GetDimension() != 1:
        raise DataError(f"ROOT histogram {obj.GetName()!r} has {obj.GetDimension()} dimensions; expected a TH1")
    n = int(obj.GetNbinsX())
    counts = np.array([obj.GetBinContent(i) for i in range(1, n + 1)], dtype=np.float64)
    errors = np.array([obj.GetBinError(i) for i in range(1, n + 1)], dtype=np.float64)
    axis = obj.GetXaxis()
    edges = np.array([axis.GetBinLowEdge(i) for i in range(1, n + 2)], dtype=np.float64)
    return counts, errors**2, edges


def as_histogram(obj: Any, *, name: str = "histogram", allow_empty: bool = False) -> Histogram:
    """Convert ``obj`` into a validated :class:`Histogram`.

    Parameters
    ----------
    obj : array_like, tuple, mapping, hist.Hist, ROOT TH1 or Histogram
        See the module documentation for the accepted forms.
    name : str
        Label used in error messages.
    allow_empty : bool
        Accept a histogram whose counts are all zero (data may be empty; a signal or a
        background template may not).

    Raises
    ------
    hepsift.errors.DataError
        Non-1-d input, NaN or infinite entries, negative variances, an empty histogram
        (zero bins, or all counts zero unless ``allow_empty``), or edges of the wrong length.
    """
    if isinstance(obj, Histogram):
        counts, sumw2, edges = obj.counts, obj.sumw2, obj.edges
    elif hasattr(obj, "GetNbinsX") or (hasattr(obj, "GetValue") and type(obj).__name__.startswith("RResultPtr")):
        counts, sumw2, edges = _from_root(obj)
    elif hasattr(obj, "values") and hasattr(obj, "axes") and callable(obj.values):
        if len(obj.axes) != 1:
            raise DataError(f"{name}: histogram has {len(obj.axes)} axes; expected exactly one")
        counts = np.asarray(obj.values(), dtype=np.float64)
        var = obj.variances() if hasattr(obj, "variances") else None
        sumw2 = np.abs(counts) if var is None else np.asarray(var, dtype=np.float64)
        edges = np.asarray(obj.axes[0].edges, dtype=np.float64)
    elif isinstance(obj, Mapping):
        key = "counts" if "counts" in obj else "values" if "values" in obj else None
        if key is None:
            raise DataError(f"{name}: a mapping histogram needs a 'counts' entry, got keys {sorted(obj)}")
        counts = np.asarray(obj[key], dtype=np.float64)
        var = obj.get("sumw2", obj.get("variances"))
        sumw2 = np.zeros_like(counts) if var is None else np.asarray(var, dtype=np.float64)
        edges = None if obj.get("edges") is None else np.asarray(obj["edges"], dtype=np.float64)
    elif isinstance(obj, tuple) and len(obj) in (2, 3):
        counts = np.asarray(obj[0], dtype=np.float64)
        sumw2 = np.asarray(obj[1], dtype=np.float64)
        edges = np.asarray(obj[2], dtype=np.float64) if len(obj) == 3 else None
    else:
        try:
            counts = np.asarray(obj, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise DataError(f"{name}: cannot interpret {type(obj).__name__} as a histogram") from exc
        sumw2 = np.zeros_like(counts)
        edges = None

    counts = np.atleast_1d(np.array(counts, dtype=np.float64))
    sumw2 = np.atleast_1d(np.array(sumw2, dtype=np.float64))
    if counts.ndim != 1:
        raise DataError(f"{name}: counts must be one-dimensional, got shape {counts.shape}")
    if counts.size == 0:
        raise DataError(f"{name}: histogram has no bins")
    if sumw2.shape != counts.shape:
        raise DataError(f"{name}: sumw2 has shape {sumw2.shape} but counts have shape {counts.shape}")
    if edges is not None:
        edges = np.atleast_1d(np.array(edges, dtype=np.float64))
        if edges.shape != (counts.size + 1,):
            raise DataError(f"{name}: {counts.size} bins need {counts.size + 1} edges, got {edges.size}")
        if not np.all(np.isfinite(edges)) or np.any(np.diff(edges) <= 0):
            raise DataError(f"{name}: bin edges must be finite and strictly increasing")
    for label, arr in (("counts", counts), ("sumw2", sumw2)):
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            raise DataError(f"{name}: {label} contain NaN or infinite values in bin(s) {bad.tolist()}")
    if np.any(sumw2 < 0):
        raise DataError(f"{name}: negative sumw2 in bin(s) {np.flatnonzero(sumw2 < 0).tolist()}")
    if not allow_empty and not np.any(counts != 0):
        raise DataError(f"{name}: histogram is empty (all {counts.size} bins are zero)")
    return Histogram(counts=counts, sumw2=sumw2, edges=edges, name=name)


def check_same_binning(histograms: list[Histogram]) -> None:
    """Raise :class:`~hepsift.errors.DataError` unless all histograms share one binning."""
    ref = histograms[0]
    for h in histograms[1:]:
        if h.n_bins != ref.n_bins:
            raise DataError(f"mismatched binning: {ref.name!r} has {ref.n_bins} bins but {h.name!r} has {h.n_bins}")
        if ref.edges is not None and h.edges is not None and not np.allclose(ref.edges, h.edges, rtol=1e-9, atol=1e-12):
            raise DataError(
                f"mismatched binning: edges of {ref.name!r} ({ref.edges[0]:g}..{ref.edges[-1]:g}) differ from "
                f"those of {h.name!r} ({h.edges[0]:g}..{h.edges[-1]:g})"
            )
