r"""The bump hunt: fit the sideband mass spectrum, interpolate the background into the signal region.

Background shapes (``x = m / sqrt(s)``):

* ``"dijet"``: :math:`f(m) = p_0 (1-x)^{p_1} / x^{p_2 + p_3 \ln x}`, the function of the
  CDF, ATLAS and CMS dijet searches (e.g. CMS, arXiv:1911.03947; ATLAS, arXiv:1910.08447);
* ``"dijet3"``: the same with :math:`p_3 = 0`;
* ``"logpoly"``: :math:`f(m) = \exp\sum_{k=0}^{K} c_k L^k`, :math:`L = \ln(m / m_c)`, with
  :math:`m_c = \sqrt{lo_1 hi_2}` the geometric centre of the fitted range.

Each is the exponential of a function linear in its parameters, so the binned Poisson
likelihood is convex in them. The fit runs in an orthonormalised basis (QR decomposition of
the design matrix at the bin centres; well conditioned even when :math:`p_1, p_2, p_3` are
strongly correlated over a narrow range), starts from a least-squares fit of the logarithm of
the counts and is minimised by MINUIT (iminuit's MIGRAD with the analytic gradient, HESSE for
the covariance). Bin contents are integrals of :math:`f` over each bin (8-point Gauss-Legendre).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hepsift.errors import ConfigurationError, DataError, FitError
from hepsift.stats import asimov_significance
from hepsift.weak._regions import Regions, as_mass, as_weights

__all__ = ["FITS", "BumpHuntResult", "bump_hunt", "dijet_function", "discovery_significance", "region_edges"]

#: Background shapes of :func:`bump_hunt`.
FITS = ("dijet", "dijet3", "logpoly")

_NODES, _NODE_WEIGHTS = np.polynomial.legendre.leggauss(8)


def dijet_function(mass: Any, p0: float, p1: float, p2: float, p3: float = 0.0, *, sqrt_s: float = 13000.0) -> np.ndarray:
    r"""The dijet function :math:`p_0 (1-x)^{p_1} / x^{p_2 + p_3 \ln x}` with ``x = mass / sqrt_s``.

    Parameters
    ----------
    mass : array_like
        Mass in the units of ``sqrt_s`` (GeV by default), ``0 < mass < sqrt_s``.
    p0, p1, p2, p3 : float
        ``p0``: the normalisation (events per unit mass); ``p3 = 0`` is the three-parameter form.
    sqrt_s : float, default 13000
        Centre-of-mass energy.

    Returns
    -------
    ndarray, float64, same shape as ``mass``: a density (events per unit mass).
    """
    x = np.asarray(mass, dtype=np.float64) / sqrt_s
    lx = np.log(x)
    return np.asarray(p0 * np.exp(p1 * np.log1p(-x) - (p2 + p3 * lx) * lx))


def discovery_significance(n: float, b: float, sigma_b: float = 0.0) -> float:
    r"""Observed local significance of ``n`` events on an expected background ``b +- sigma_b``.

    The profile-likelihood ratio test of ``s = 0`` for ``n ~ Poisson(s + b)`` with the background
    constrained by an auxiliary measurement ``m ~ Poisson(tau b)``, ``tau = b / sigma_b^2``, whose
    maximum-likelihood background is ``b`` (Cowan, "Discovery sensitivity for a counting
    experiment with background uncertainty", 2012; Li & Ma, ApJ 272 (1983) 317 for the on/off
    problem):

    .. math::

        Z = \sqrt{2\left[n\ln\frac{n(b+\sigma_b^2)}{b^2+n\sigma_b^2}
            - \frac{b^2}{\sigma_b^2}\ln\left(1+\frac{\sigma_b^2(n-b)}{b(b+\sigma_b^2)}\right)\right]}

    for ``n > b`` (one-sided: 0 for ``n <= b``); ``sigma_b -> 0`` gives the Poisson
    ``sqrt(2 (n ln(n/b) - n + b))``. It is :func:`hepsift.stats.asimov_significance` evaluated at
    ``s = n - b``.

    Examples
    --------
    >>> round(discovery_significance(130.0, 100.0), 4)
    2.8661
    """
    n, b, sigma_b = float(n), float(b), float(sigma_b)
    if not (math.isfinite(n) and n >= 0):
        raise DataError(f"observed count must be finite and >= 0; got {n}")
    if n <= b:
        asimov_significance(0.0, b, sigma_b)  # the same range checks on b and sigma_b
        return 0.0
    return float(asimov_significance(n - b, b, sigma_b))


def region_edges(regions: Regions, bins: Any) -> np.ndarray:
    """Bin edges from ``lo1`` to ``hi2`` on which every region boundary is an edge.

    ``bins`` an int: that many equal-width bins, with the boundaries ``hi1, lo, hi, lo2`` added as
    edges (a regular edge closer than a quarter bin to a boundary is dropped). A sequence: the
    edges themselves, which must contain the six boundaries.
    """
    (lo1, hi1), (lo2, hi2) = regions.sidebands
    lo, hi = regions.signal_region
    bounds = np.array([lo1, hi1, lo, hi, lo2, hi2])
    if np.ndim(bins) == 0:
        if int(bins) != bins or bins < 2:
            raise ConfigurationError(f"bins must be an integer >= 2 or a sequence of edges; got {bins!r}")
        regular = np.linspace(lo1, hi2, int(bins) + 1)
        width = (hi2 - lo1) / int(bins)
        keep = np.min(np.abs(regular[:, None] - bounds[None, :]), axis=1) > 0.25 * width
        return np.unique(np.concatenate([regular[keep], bounds]))
    edges = np.asarray(bins, dtype=np.float64)
    if edges.ndim != 1 or edges.size < 3 or np.any(np.diff(edges) <= 0):
        raise ConfigurationError("bin edges must be a strictly increasing 1-D sequence of at least 3 values")
    missing = [float(v) for v in bounds if not np.any(np.isclose(edges, v, rtol=1e-12, atol=0.0))]
    if missing or edges[0] != lo1 or edges[-1] != hi2:
        raise ConfigurationError(f"bin edges must run from lo1={lo1} to hi2={hi2} and contain every region "
                                 f"boundary; missing {missing or [lo1, hi2]}")
    return edges


@dataclass
class BumpHuntResult:
    """Result of :func:`bump_hunt`.

    Attributes
    ----------
    fit : str
        Background shape (:data:`FITS`).
    parameters : dict of str to float
        Fitted parameters: ``ln_p0, p1, p2, p3`` for the dijet shapes (``p0`` in events per unit
        mass; ``p3 = 0`` for ``dijet3``), ``c0``..``cK`` for ``logpoly``.
    background, background_uncertainty : float
        Background expected in the signal region from the sideband fit, and its uncertainty
        propagated from the fit covariance (events).
    observed : float
        Events (sum of weights) in the signal region.
    significance : float
        Local significance of the excess, :func:`discovery_significance` (``observed``,
        ``background``, ``background_uncertainty``); 0 for a deficit.
    pull : float
        ``(observed - background) / sqrt(background + background_uncertainty^2)`` (signed).
    chi2, ndf : float, int
        Poisson deviance (Baker-Cousins chi-square) of the sideband bins and its degrees of
        freedom (fitted bins minus parameters).
    fit_p_value : float
        ``P(chi2_ndf > chi2)``.
    converged : bool
        MIGRAD found a valid minimum with an accurate covariance (always True: otherwise the fit is refused).
    edges : ndarray, shape (n_bins + 1,)
    counts, expected : ndarray, shape (n_bins,)
        Observed sums of weights and fitted background per bin (the fit uses sideband bins only).
    fitted : ndarray of bool, shape (n_bins,)
        Which bins entered the fit (the sideband bins).
    covariance : ndarray, shape (n_par, n_par)
        Covariance of the fitted parameters in the order of ``parameters`` (without ``p3`` for ``dijet3``).
    """

    fit: str
    parameters: dict[str, float]
    background: float
    background_uncertainty: float
    observed: float
    significance: float
    pull: float
    chi2: float
    ndf: int
    fit_p_value: float
    converged: bool
    signal_region: tuple[float, float]
    sidebands: tuple[tuple[float, float], tuple[float, float]]
    edges: np.ndarray = field(repr=False)
    counts: np.ndarray = field(repr=False)
    expected: np.ndarray = field(repr=False)
    fitted: np.ndarray = field(repr=False)
    covariance: np.ndarray = field(repr=False)

    @property
    def chi2_ndf(self) -> float:
        """``chi2 / ndf``."""
        return self.chi2 / self.ndf

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (arrays as lists)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for key, value in out.items():
            if isinstance(value, np.ndarray):
                out[key] = value.tolist()
        out["chi2_ndf"] = self.chi2_ndf
        return out


def _basis(fit: str, m: np.ndarray, sqrt_s: float, m_c: float, order: int) -> tuple[np.ndarray, list[str]]:
    """Design matrix of ``ln f`` (shape ``m.shape + (n_par,)``) and the parameter names."""
    if fit in ("dijet", "dijet3"):
        x = m / sqrt_s
        lx = np.log(x)
        cols = [np.ones_like(m), np.log1p(-x), -lx] + ([-lx * lx] if fit == "dijet" else [])
        return np.stack(cols, axis=-1), ["ln_p0", "p1", "p2", "p3"][: len(cols)]
    L = np.log(m / m_c)
    return np.stack([L**k for k in range(order + 1)], axis=-1), [f"c{k}" for k in range(order + 1)]


def bump_hunt(
    mass: Any,
    weights: Any = None,
    *,
    signal_region: tuple[float, float],
    sidebands: tuple[tuple[float, float], tuple[float, float]],
    fit: str = "dijet",
    bins: Any = 30,
    sqrt_s: float = 13000.0,
    order: int = 3,
    max_chi2_ndf: float = 3.0,
) -> BumpHuntResult:
    """Fit the sideband mass spectrum and test the signal region for an excess.

    A binned Poisson likelihood of the sideband bins, ``-ln L = sum_i k (mu_i - n_i ln mu_i)``,
    is minimised for the background shape ``fit``; the fitted function, integrated over the
    signal-region bins, is the expected background ``b``, with the uncertainty
    ``sigma_b^2 = g^T C g`` (``C`` the parameters' covariance from HESSE, ``g`` the gradient of
    ``b``). The local significance of the observed count ``n`` is
    :func:`discovery_significance` ``(n, b, sigma_b)``. For weighted events ``n_i`` is the sum of
    weights and ``k = sum w / sum w^2`` over the fitted bins (the scaled Poisson likelihood of
    Bohm & Zech; ``k = 1`` for unit weights).

    Parameters
    ----------
    mass : array_like, shape (n_events,)
        Resonance mass (e.g. m_jj in GeV); events outside ``[lo1, hi2)`` are ignored.
    weights : array_like, shape (n_events,), optional
        Event weights (default 1).
    signal_region, sidebands : see :func:`hepsift.weak.cwola_scores`
    fit : {"dijet", "dijet3", "logpoly"}
        Background shape (module docstring).
    bins : int or sequence, default 30
        Equal-width bins over ``[lo1, hi2)`` plus the region boundaries, or edges
        (:func:`region_edges`).
    sqrt_s : float, default 13000
        Centre-of-mass energy for ``x = m / sqrt_s`` (dijet shapes; units of ``mass``).
    order : int, default 3
        Degree of the ``logpoly`` polynomial.
    max_chi2_ndf : float, default 3
        A fit with ``chi2 / ndf`` above this is refused: the shape does not describe the sidebands.

    Returns
    -------
    BumpHuntResult

    Raises
    ------
    hepsift.ConfigurationError
        Unknown ``fit``, bad regions or bins, ``hi2 >= sqrt_s``, fewer sideband bins than parameters + 1.
    hepsift.DataError
        Non-finite mass or weights; fewer (effective) events in either sideband than the fit has
        parameters.
    hepsift.FitError
        MIGRAD did not converge, HESSE gave no accurate covariance, or ``chi2 / ndf > max_chi2_ndf``.
    """
    from iminuit import Minuit
    from scipy import stats

    if fit not in FITS:
        raise ConfigurationError(f"unknown fit {fit!r}; choose one of {', '.join(FITS)}")
    regions = Regions.make(signal_region, sidebands)
    lo1, hi2 = regions.range
    if fit != "logpoly" and not hi2 < sqrt_s:
        raise ConfigurationError(f"the dijet function needs masses below sqrt_s={sqrt_s}; the upper sideband ends at {hi2}")
    if fit == "logpoly" and (int(order) != order or order < 1):
        raise ConfigurationError(f"order must be an integer >= 1; got {order!r}")
    if lo1 <= 0:
        raise ConfigurationError(f"masses must be positive for the fit; the lower sideband starts at {lo1}")
    m = as_mass(mass)
    w = as_weights(weights, m.size)
    edges = region_edges(regions, bins)
    counts = np.histogram(m, bins=edges, weights=w)[0]
    sumw2 = np.histogram(m, bins=edges, weights=w * w)[0]
    centres = 0.5 * (edges[:-1] + edges[1:])
    fitted = regions.in_sidebands(centres)
    in_sr = regions.in_signal_region(centres)

    m_c = math.sqrt(lo1 * hi2)
    half = 0.5 * np.diff(edges)
    nodes = centres[:, None] + half[:, None] * _NODES[None, :]
    phi_nodes, names = _basis(fit, nodes, sqrt_s, m_c, int(order))  # (n_bins, 8, n_par)
    phi_centres = _basis(fit, centres, sqrt_s, m_c, int(order))[0]
    n_par = len(names)
    ndf = int(fitted.sum()) - n_par
    if ndf < 1:
        raise ConfigurationError(f"{int(fitted.sum())} sideband bins for {n_par} parameters of the {fit!r} fit; "
                                 "use more bins or wider sidebands")
    n_fit = counts[fitted]
    if n_fit.sum() <= 0:
        raise DataError(f"no events in the sidebands {regions.sidebands}")
    # the fit interpolates across the signal region: with (almost) no events on one side its shape
    # there is free, the fitted background can fall to zero with a vanishing linearised uncertainty
    for name, (a, b) in zip(("lower", "upper"), regions.sidebands):
        side = fitted & (centres >= a) & (centres < b)
        n_eff = float(counts[side].sum() ** 2 / sumw2[side].sum()) if sumw2[side].sum() > 0 else 0.0
        if n_eff < n_par:
            raise DataError(f"the {name} sideband [{a:g}, {b:g}) holds {n_eff:.3g} (effective) events; the {fit!r} fit "
                            f"needs at least {n_par} (its parameters) on each side of the signal region to "
                            "interpolate the background: too few events (loosen the cut or widen the sidebands)")
    k = float(n_fit.sum() / sumw2[fitted].sum())

    # orthonormal basis at the fitted bin centres: ln f = phi theta = psi beta, beta = R theta
    _, R = np.linalg.qr(phi_centres[fitted])
    Rinv = np.linalg.inv(R)
    psi_nodes = phi_nodes @ Rinv
    quad = (half[:, None] * _NODE_WEIGHTS[None, :])  # (n_bins, 8)

    def mu_and_jac(beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        dens = np.exp(np.clip(psi_nodes @ beta, -700.0, 700.0)) * quad  # (n_bins, 8)
        return dens.sum(axis=1), np.einsum("bq,bqp->bp", dens, psi_nodes)

    def nll(beta: np.ndarray) -> float:
        mu = mu_and_jac(beta)[0][fitted]
        return float(k * np.sum(mu - n_fit * np.log(mu)))

    def grad(beta: np.ndarray) -> np.ndarray:
        mu, jac = mu_and_jac(beta)
        return np.asarray(k * ((1.0 - n_fit / mu[fitted]) @ jac[fitted]))

    # start: least squares of ln(density) on the non-empty sideband bins
    dens_obs = counts / (2.0 * half)
    ok = fitted & (counts > 0)
    if ok.sum() < n_par:
        raise DataError(f"only {int(ok.sum())} non-empty sideband bins for {n_par} parameters; use fewer bins")
    theta0 = np.linalg.lstsq(phi_centres[ok], np.log(dens_obs[ok]), rcond=None)[0]
    minuit = Minuit(nll, R @ theta0, grad=grad, name=[f"b{i}" for i in range(n_par)])
    minuit.errordef = Minuit.LIKELIHOOD
    minuit.strategy = 2
    minuit.migrad(ncall=20000)
    minuit.hesse()
    fmin = minuit.fmin
    if not (fmin.is_valid and fmin.has_accurate_covar and fmin.has_posdef_covar):
        raise FitError(f"the {fit!r} sideband fit did not converge (MIGRAD valid={fmin.is_valid}, accurate "
                       f"covariance={fmin.has_accurate_covar}, edm={fmin.edm:.3g}); try fit='dijet3' or "
                       "'logpoly', fewer bins or wider sidebands")
    beta = np.asarray(minuit.values)
    cov_beta = np.asarray(minuit.covariance)
    mu, jac = mu_and_jac(beta)
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(n_fit > 0, n_fit * np.log(n_fit / mu[fitted]), 0.0)
    chi2 = float(2.0 * k * np.sum(mu[fitted] - n_fit + term))
    p_fit = float(stats.chi2.sf(chi2, ndf))
    if not chi2 / ndf <= max_chi2_ndf:
        raise FitError(f"the {fit!r} fit does not describe the sidebands: chi2/ndf = {chi2:.1f}/{ndf} = "
                       f"{chi2 / ndf:.2f} > max_chi2_ndf={max_chi2_ndf} (p = {p_fit:.2g}); try another fit "
                       "function or narrower sidebands")
    b = float(mu[in_sr].sum())
    g = jac[in_sr].sum(axis=0)
    sigma_b = float(math.sqrt(max(g @ cov_beta @ g, 0.0)))
    n_obs = float(counts[in_sr].sum())
    theta = Rinv @ beta
    cov_theta = Rinv @ cov_beta @ Rinv.T
    params = dict(zip(names, map(float, theta)))
    if fit == "dijet3":
        params["p3"] = 0.0
    return BumpHuntResult(
        fit=fit, parameters=params, background=b, background_uncertainty=sigma_b, observed=n_obs,
        significance=discovery_significance(n_obs, b, sigma_b), pull=(n_obs - b) / math.sqrt(b + sigma_b**2),
        chi2=chi2, ndf=ndf, fit_p_value=p_fit, converged=True, signal_region=regions.signal_region,
        sidebands=regions.sidebands, edges=edges, counts=counts, expected=mu, fitted=fitted, covariance=cov_theta,
    )
