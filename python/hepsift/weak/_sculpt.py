"""Does a cut sculpt the background mass spectrum? Pass and fail shapes compared bin by bin."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hepsift.errors import ConfigurationError, DataError
from hepsift.weak._regions import as_mass, as_weights

__all__ = ["SculptingResult", "sculpting_check"]


@dataclass
class SculptingResult:
    """Result of :func:`sculpting_check`.

    Attributes
    ----------
    p_value : float
        p-value of the chi-square test that the cut's efficiency does not depend on the mass.
    sculpted : bool
        ``p_value < alpha``.
    alpha : float
        The threshold used.
    chi2, ndf : float, int
        The test statistic and its degrees of freedom (bins - 1).
    ks_p_value : float or None
        Two-sample Kolmogorov-Smirnov p-value of the masses of passing against failing events
        (unbinned; None for weighted events).
    efficiency : float
        Overall fraction (of weights) passing the cut.
    edges : ndarray, shape (n_bins + 1,)
        Mass bins (quantiles of the tested events: equal populations).
    ratio, ratio_error : ndarray, shape (n_bins,)
        Shape after the cut over the shape before it, both normalised: ``eps_i / eps``.
    slope, slope_error : float
        Weighted least-squares slope of ``eps_i / eps`` against ``ln(m)`` (0 for no sculpting).
    """

    p_value: float
    sculpted: bool
    alpha: float
    chi2: float
    ndf: int
    ks_p_value: float | None
    efficiency: float
    slope: float
    slope_error: float
    edges: np.ndarray = field(repr=False)
    ratio: np.ndarray = field(repr=False)
    ratio_error: np.ndarray = field(repr=False)

    def p_text(self, digits: int = 3) -> str:
        """The p-value for a table: ``digits`` significant digits, ``"<1e-99"`` below 1e-99."""
        return f"{self.p_value:.{digits}g}" if self.p_value > 1e-99 else "<1e-99"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (arrays as lists)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in out.items()}


def sculpting_check(
    mass: Any,
    passed: Any,
    *,
    weights: Any = None,
    sidebands: tuple[tuple[float, float], tuple[float, float]] | None = None,
    bins: int = 20,
    alpha: float = 0.01,
) -> SculptingResult:
    r"""Test whether a cut changes the shape of the (background) mass spectrum.

    The events (only those in ``sidebands`` when given: the signal region stays blind) are cut
    into up to ``bins`` mass bins of equal population; the cut's efficiency in bin i,
    :math:`\epsilon_i = W^{pass}_i / W_i`, is compared with the overall :math:`\epsilon`:

    .. math::

        \chi^2 = \sum_i \frac{(\epsilon_i - \epsilon)^2}{\epsilon (1-\epsilon) V_i / W_i^2},

    with :math:`W_i = \sum w` and :math:`V_i = \sum w^2` of bin i (the variance of
    :math:`\epsilon_i` if every event passed with probability :math:`\epsilon`); for unit
    weights this is Pearson's chi-square of the 2 x n_bins
    table of passing and failing counts (:func:`scipy.stats.chi2_contingency` without
    continuity correction), with ``n_bins - 1`` degrees of freedom. A cut that does not sculpt
    leaves the normalised shape unchanged (``eps_i / eps = 1``). Bins are fewer than ``bins``
    when needed for at least 5 passing and 5 failing events (effective counts) per bin.

    Parameters
    ----------
    mass : array_like, shape (n_events,)
    passed : array_like of bool, shape (n_events,)
        Whether each event passes the cut.
    weights : array_like, shape (n_events,), optional
    sidebands : ((lo1, hi1), (lo2, hi2)), optional
        Test only the events in these mass ranges.
    bins : int, default 20
    alpha : float, default 0.01
        ``sculpted = p_value < alpha``.

    Returns
    -------
    SculptingResult

    Raises
    ------
    hepsift.DataError
        Shapes differ, or too few events pass (or fail) the cut to form two bins.
    """
    from scipy import stats

    m = as_mass(mass)
    cut = np.asarray(passed)
    if cut.shape != m.shape or cut.dtype != bool:
        raise DataError(f"passed must be a boolean array of shape {m.shape}; got dtype {cut.dtype}, shape {cut.shape}")
    w = as_weights(weights, m.size)
    if not 0.0 < alpha < 1.0:
        raise ConfigurationError(f"alpha must be in (0, 1); got {alpha}")
    if int(bins) != bins or bins < 2:
        raise ConfigurationError(f"bins must be an integer >= 2; got {bins!r}")
    if sidebands is not None:
        (lo1, hi1), (lo2, hi2) = sidebands
        keep = ((m >= lo1) & (m < hi1)) | ((m >= lo2) & (m < hi2))
        m, cut, w = m[keep], cut[keep], w[keep]
    n_eff = [float(v.sum() ** 2 / (v * v).sum()) if v.sum() > 0 else 0.0 for v in (w[cut], w[~cut])]
    n_bins = int(min(bins, min(n_eff) // 5))
    if n_bins < 2:
        raise DataError(f"{n_eff[0]:.0f} passing and {n_eff[1]:.0f} failing events (effective counts): too few "
                        "to test the mass shape (need 10 of each for two bins)")
    edges = np.unique(np.quantile(m, np.linspace(0.0, 1.0, n_bins + 1)))
    idx = np.clip(np.searchsorted(edges, m, side="right") - 1, 0, edges.size - 2)
    nb = edges.size - 1

    def sums(v: np.ndarray) -> np.ndarray:
        return np.bincount(idx, weights=v, minlength=nb)

    w_pass, total, sumw2 = sums(w * cut), sums(w), sums(w * w)
    eps = float(w_pass.sum() / total.sum())
    eps_i = w_pass / total
    var_i = eps * (1.0 - eps) * sumw2 / total**2  # under the hypothesis eps_i = eps
    chi2 = float(np.sum((eps_i - eps) ** 2 / var_i))
    ndf = nb - 1
    p = float(stats.chi2.sf(chi2, ndf))
    ks = None
    if weights is None:
        ks = float(stats.ks_2samp(m[cut], m[~cut]).pvalue)
    ratio, ratio_err = eps_i / eps, np.sqrt(var_i) / eps
    lnm = np.log(0.5 * (edges[:-1] + edges[1:]))
    A = np.stack([np.ones(nb), lnm - lnm.mean()], axis=1) / ratio_err[:, None]
    coef, *_ = np.linalg.lstsq(A, ratio / ratio_err, rcond=None)
    slope_err = math.sqrt(float(np.linalg.inv(A.T @ A)[1, 1]))
    return SculptingResult(p_value=p, sculpted=p < alpha, alpha=float(alpha), chi2=chi2, ndf=ndf, ks_p_value=ks,
                           efficiency=eps, slope=float(coef[1]), slope_error=slope_err, edges=edges,
                           ratio=ratio, ratio_error=ratio_err)
