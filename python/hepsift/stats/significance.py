"""Counting-experiment significances, best-cut scans and luminosity projections.

References
----------
G. Cowan, K. Cranmer, E. Gross, O. Vitells, "Asymptotic formulae for likelihood-based tests
of new physics", Eur. Phys. J. C 71 (2011) 1554, arXiv:1007.1727 (Eq. 97: Z_A without
background uncertainty).
G. Cowan, "Discovery sensitivity for a counting experiment with background uncertainty"
(2012) (Z_A with an absolute background uncertainty sigma_b), the form used as the objective
of genetic-algorithm searches and of the Asimov loss (A. Elwood, D. Kruecker, arXiv:1806.00322).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hepsift.errors import DataError

__all__ = [
    "simple_significance",
    "asimov_significance",
    "CutScanResult",
    "best_cut",
    "LuminosityScan",
    "significance_vs_luminosity",
]


def _as_float_arrays(*values: Any) -> list[np.ndarray]:
    out = []
    for v in values:
        a = np.asarray(v, dtype=np.float64)
        if np.any(np.isnan(a)):
            raise DataError("significance inputs contain NaN")
        out.append(a)
    return out


def _counts(what: str, s: Any, b: Any, sigma_b: Any = 0.0) -> list[np.ndarray]:
    """The one sign and range check of every significance: finite ``s >= 0``, ``b > 0``,
    ``sigma_b >= 0``, with the offending values named."""
    arrays = _as_float_arrays(s, b, sigma_b)
    for name, a in zip(("s", "b", "sigma_b"), arrays):
        if not np.all(np.isfinite(a)):
            raise DataError(f"{what}: {name} must be finite, got {a[~np.isfinite(a)].ravel()[:3].tolist()}")
    s_, b_, sb_ = arrays
    if np.any(b_ <= 0):
        raise DataError(f"{what}: background must be positive, got b = {b_[b_ <= 0].ravel()[:3].tolist()}")
    if np.any(s_ < 0):
        raise DataError(f"{what}: signal must be non-negative, got s = {s_[s_ < 0].ravel()[:3].tolist()}")
    if np.any(sb_ < 0):
        raise DataError(f"{what}: sigma_b must be non-negative, got {sb_[sb_ < 0].ravel()[:3].tolist()}")
    return arrays


def _scalar_or_array(x: np.ndarray) -> float | np.ndarray:
    return float(x) if np.ndim(x) == 0 else x


def simple_significance(s: Any, b: Any) -> float | np.ndarray:
    """Return the naive significance ``Z = s / sqrt(b)``.

    Parameters
    ----------
    s, b : float or array_like (broadcastable)
        Expected signal and background event counts (b > 0).

    Returns
    -------
    float or ndarray
        ``s / sqrt(b)``; the ``s << b`` limit of :func:`asimov_significance`.

    Raises
    ------
    hepsift.errors.DataError
        If any ``b <= 0`` or ``s < 0``, or an input is NaN or infinite.

    Examples
    --------
    >>> simple_significance(10.0, 100.0)
    1.0
    """
    s_, b_, _ = _counts("s/sqrt(b)", s, b)
    return _scalar_or_array(s_ / np.sqrt(b_))


def asimov_significance(s: Any, b: Any, sigma_b: Any = 0.0) -> float | np.ndarray:
    r"""Return the median discovery significance of a counting experiment (Asimov Z_A).

    With an absolute background uncertainty :math:`\sigma_b` (Cowan 2012):

    .. math::

        Z_A = \sqrt{2\left[(s+b)\ln\frac{(s+b)(b+\sigma_b^2)}{b^2+(s+b)\sigma_b^2}
              - \frac{b^2}{\sigma_b^2}\ln\left(1+\frac{\sigma_b^2 s}{b(b+\sigma_b^2)}\right)\right]}

    and for :math:`\sigma_b \to 0` (arXiv:1007.1727, Eq. 97)

    .. math:: Z_A = \sqrt{2\left[(s+b)\ln(1+s/b) - s\right]},

    which tends to :math:`s/\sqrt{b}` for :math:`s \ll b`.

    Parameters
    ----------
    s, b : float or array_like (broadcastable)
        Expected signal (>= 0) and background (> 0) event counts.
    sigma_b : float or array_like, default 0
        Absolute background uncertainty in events (for a relative uncertainty ``r`` pass
        ``r * b``).

    Returns
    -------
    float or ndarray
        Z_A (0 where ``s == 0``).

    Raises
    ------
    hepsift.errors.DataError
        If ``b <= 0``, ``s < 0``, ``sigma_b < 0``, or an input is NaN or infinite.

    Examples
    --------
    >>> round(asimov_significance(10.0, 100.0), 4)
    0.9836
    """
    s_, b_, sb_ = _counts("Asimov significance", s, b, sigma_b)
    s_, b_, sb_ = np.broadcast_arrays(s_, b_, sb_)
    var = sb_**2
    with np.errstate(divide="ignore", invalid="ignore"):
        z0 = 2.0 * ((s_ + b_) * np.log1p(s_ / b_) - s_)
        t1 = (s_ + b_) * np.log((s_ + b_) * (b_ + var) / (b_**2 + (s_ + b_) * var))
        t2 = (b_**2 / var) * np.log1p(var * s_ / (b_ * (b_ + var)))
        zs = 2.0 * (t1 - t2)
    # below sigma_b^2 ~ 1e-10 b the two terms cancel to rounding level: use the exact limit
    z2 = np.where(var > 1e-10 * b_, zs, z0)
    return _scalar_or_array(np.sqrt(np.clip(z2, 0.0, None)))


@dataclass
class CutScanResult:
    """Result of :func:`best_cut`.

    Attributes
    ----------
    cut : float
        Best threshold: events with ``score >= cut`` are selected.
    significance : float
        Significance at the best cut.
    s, b : float
        Expected signal and background yields at the best cut (at the given luminosity).
    cuts, significances, s_values, b_values : ndarray, shape (n_cuts,)
        The full scan (significance is NaN where the background constraint fails).
    """

    cut: float
    significance: float
    s: float
    b: float
    cuts: np.ndarray = field(repr=False)
    significances: np.ndarray = field(repr=False)
    s_values: np.ndarray = field(repr=False)
    b_values: np.ndarray = field(repr=False)


def _cumulative_above(scores: np.ndarray, weights: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    order = np.argsort(scores)
    s_sorted = scores[order]
    w_cum = np.concatenate([[0.0], np.cumsum(weights[order])])  # w_cum[k] = sum of k smallest
    idx = np.searchsorted(s_sorted, cuts, side="left")  # number of events with score < cut
    return w_cum[-1] - w_cum[idx]


def _check_scores(scores: Any, weights: Any, label: str) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(scores, dtype=np.float64).ravel()
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if x.size == 0:
        raise DataError(f"{label}: no events")
    if w.shape != x.shape:
        raise DataError(f"{label}: {x.size} scores but {w.size} weights")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(w))):
        raise DataError(f"{label}: scores or weights contain NaN or infinite values")
    return x, w


def best_cut(
    sig_scores: Any,
    sig_weights: Any,
    bkg_scores: Any,
    bkg_weights: Any,
    *,
    luminosity: float = 1.0,
    rel_sigma_b: float = 0.0,
    metric: str = "asimov",
    cuts: Any = None,
    n_cuts: int = 200,
    min_background: float = 1.0,
) -> CutScanResult:
    """Scan a threshold on a classifier score and return the most significant working point.

    Parameters
    ----------
    sig_scores, bkg_scores : array_like, shape (n_sig,), (n_bkg,)
        Scores of the signal and background events (higher = more signal-like).
    sig_weights, bkg_weights : array_like or None, same shapes
        Per-event weights normalised to 1/pb of integrated luminosity (None: unit weights).
    luminosity : float, default 1
        Integrated luminosity in 1/pb; yields are ``luminosity * sum(weights)``.
    rel_sigma_b : float, default 0
        Relative background uncertainty, ``sigma_b = rel_sigma_b * b`` (Asimov metric only).
    metric : {"asimov", "simple"}
        :func:`asimov_significance` or :func:`simple_significance`.
    cuts : array_like, optional
        Thresholds to try; default ``n_cuts`` quantiles of the signal scores.
    min_background : float, default 1
        Cuts leaving fewer than this many expected background events are skipped (both
        formulas diverge as b -> 0 where the MC sample runs out).

    Returns
    -------
    CutScanResult
    """
    xs, ws = _check_scores(sig_scores, sig_weights, "signal")
    xb, wb = _check_scores(bkg_scores, bkg_weights, "background")
    if metric not in ("asimov", "simple"):
        raise DataError(f"unknown metric {metric!r}; expected 'asimov' or 'simple'")
    if luminosity <= 0:
        raise DataError(f"luminosity must be positive, got {luminosity}")
    if cuts is None:
        cuts = np.unique(np.quantile(xs, np.linspace(0.0, 1.0, n_cuts, endpoint=False)))
    cuts = np.asarray(cuts, dtype=np.float64)
    s = luminosity * _cumulative_above(xs, ws, cuts)
    b = luminosity * _cumulative_above(xb, wb, cuts)
    ok = (b >= min_background) & (b > 0) & (s >= 0)
    z = np.full(cuts.shape, np.nan)
    if metric == "asimov":
        z[ok] = asimov_significance(s[ok], b[ok], rel_sigma_b * b[ok])
    else:
        z[ok] = simple_significance(s[ok], b[ok])
    if not np.any(ok):
        raise DataError(f"no cut leaves at least min_background={min_background} background events")
    i = int(np.nanargmax(z))
    return CutScanResult(float(cuts[i]), float(z[i]), float(s[i]), float(b[i]), cuts, z, s, b)


@dataclass
class LuminosityScan:
    """Result of :func:`significance_vs_luminosity`.

    Attributes
    ----------
    luminosities : ndarray, shape (n,)
        Integrated luminosities in 1/pb.
    significances : ndarray, shape (n,)
        Asimov significance at each luminosity.
    lumi_3sigma, lumi_5sigma : float
        Luminosity (1/pb) at which Z reaches 3 and 5; ``inf`` if never: with a relative
        background uncertainty r, Z saturates at ``sqrt(2 (x - ln(1 + x))) / r`` with
        ``x = s / b`` (about ``s / (r b)`` for ``s << b``).
    z_max : float
        That saturation value (``inf`` without background uncertainty).
    """

    luminosities: np.ndarray
    significances: np.ndarray
    lumi_3sigma: float
    lumi_5sigma: float
    z_max: float = float("inf")

    def reach_text(self, z: float) -> str:
        """``"1.2e+05 /pb"``, or why ``z`` sigma is never reached."""
        lumi = self.lumi_3sigma if z == 3 else self.lumi_5sigma if z == 5 else float("nan")
        if math.isfinite(lumi):
            return f"{lumi:.4g} /pb"
        return f"never (the background uncertainty caps Z_A at {self.z_max:.3g})"


def significance_vs_luminosity(
    s: float,
    b: float,
    luminosities: Any = None,
    *,
    rel_sigma_b: float = 0.0,
    reference_luminosity: float = 1.0,
) -> LuminosityScan:
    """Asimov significance as a function of integrated luminosity.

    Yields scale linearly, ``s(L) = s * L / L_ref`` and ``b(L) = b * L / L_ref``, and
    ``sigma_b(L) = rel_sigma_b * b(L)``. Without background uncertainty, Z grows as sqrt(L).

    Parameters
    ----------
    s, b : float
        Expected signal and background yields at ``reference_luminosity``.
    luminosities : array_like, optional
        Luminosities (1/pb) to evaluate; default 100 log-spaced points spanning the 5 sigma
        luminosity (or 1e-2..1e4 times the reference when 5 sigma is never reached).
    rel_sigma_b : float, default 0
        Relative background uncertainty.
    reference_luminosity : float, default 1
        Luminosity (1/pb) at which ``s`` and ``b`` are given.

    Returns
    -------
    LuminosityScan
    """
    from scipy.optimize import brentq

    if b <= 0 or s < 0 or reference_luminosity <= 0:
        raise DataError(f"need s >= 0, b > 0 and a positive reference luminosity; got s={s}, b={b}")

    def z_of(lumi: float | np.ndarray) -> float | np.ndarray:
        k = np.asarray(lumi, dtype=np.float64) / reference_luminosity
        return asimov_significance(s * k, b * k, rel_sigma_b * b * k)

    # with a relative uncertainty r, Z saturates: Z^2 -> (2 / r^2) (x - ln(1 + x)), x = s / b
    x = s / b
    z_max = math.sqrt(2.0 * (x - math.log1p(x))) / rel_sigma_b if rel_sigma_b > 0 else float("inf")

    def reach(target: float) -> float:
        if s == 0 or target >= z_max:
            return float("inf")
        hi = reference_luminosity
        for _ in range(200):
            if z_of(hi) >= target:
                break
            hi *= 2.0
        else:
            return float("inf")
        lo = hi / 2.0
        while z_of(lo) >= target and lo > 1e-300:
            lo /= 2.0
        return float(brentq(lambda lumi: z_of(lumi) - target, lo, hi, rtol=1e-10))

    l3, l5 = reach(3.0), reach(5.0)
    if luminosities is None:
        top = l5 if np.isfinite(l5) else reference_luminosity * 1e4
        luminosities = np.geomspace(top / 1e3, top * 10.0, 100)
    lumis = np.asarray(luminosities, dtype=np.float64)
    return LuminosityScan(lumis, np.asarray(z_of(lumis)), l3, l5, z_max)
