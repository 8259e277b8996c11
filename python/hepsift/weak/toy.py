"""A dijet resonance search in miniature: a smooth QCD-like m_jj spectrum and a W' -> X Y signal.

Not generated events: a parametric model with the features of the LHC Olympics 2020 R&D set
(Kasieczka et al., arXiv:2101.08320), used to demonstrate and test the weakly supervised search.

* Background: m_jj drawn from the dijet function (:func:`hepsift.weak.dijet_function`, default
  ``p1, p2, p3 = 10, 5, 0.2`` at 13 TeV). Each of the two large-radius jets has a log-normal mass
  whose median grows with the jet's momentum, ``60 GeV x (m_jj / 3 TeV)^0.5`` (width 0.5 in
  ln m), so the jet masses are correlated with m_jj as in QCD; N-subjettiness ratios
  tau21 ~ Beta(6, 3.5) (mean 0.63: one-prong jets).
* Signal: m_jj ~ Gaussian(``signal_mass``, 5%) (the dijet mass resolution); two-prong jets of
  masses Gaussian(500, 25) and Gaussian(100, 10) GeV with tau21 ~ Beta(3, 6) (mean 0.33).

Features (in this order): ``mj1`` (heavier jet mass), ``mj2`` (lighter), ``tau21_1``,
``tau21_2`` (of the heavier and lighter jet), in GeV where a mass.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hepsift.errors import ConfigurationError
from hepsift.weak._bump import dijet_function

__all__ = ["DijetToy", "dijet_toy", "TOY_FEATURES"]

#: Feature names of :func:`dijet_toy`.
TOY_FEATURES = ["mj1", "mj2", "tau21_1", "tau21_2"]


@dataclass
class DijetToy:
    """Events of :func:`dijet_toy`.

    Attributes
    ----------
    mass : ndarray, float64, shape (n_events,)
        m_jj in GeV.
    X : ndarray, float32, shape (n_events, 4)
        Features :data:`TOY_FEATURES`.
    signal : ndarray of bool, shape (n_events,)
        True for signal events (truth; unknown to the search).
    feature_names : list of str
    mass_range : (float, float)
        Range of the background m_jj.
    n_background_expected : float
        Expected number of background events in ``mass_range`` (the drawn number is Poisson).
    dijet_parameters : (p1, p2, p3)
    sqrt_s : float
    seed : int
    """

    mass: np.ndarray
    X: np.ndarray
    signal: np.ndarray
    feature_names: list[str]
    mass_range: tuple[float, float]
    n_background_expected: float
    dijet_parameters: tuple[float, float, float]
    sqrt_s: float
    seed: int
    _grid: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))
    _cdf: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))

    def expected_background(self, lo: float, hi: float) -> float:
        """Expected background events with ``lo <= m_jj < hi`` (the truth a fit should find)."""
        c = np.interp([lo, hi], self._grid, self._cdf)
        return float(self.n_background_expected * (c[1] - c[0]))


def _background_features(rng: np.random.Generator, mjj: np.ndarray, exponent: float) -> np.ndarray:
    median = 60.0 * (mjj / 3000.0) ** exponent
    masses = np.exp(np.log(median)[:, None] + 0.5 * rng.standard_normal((mjj.size, 2)))
    tau = rng.beta(6.0, 3.5, size=(mjj.size, 2))
    return _ordered(masses, tau)


def _ordered(masses: np.ndarray, tau: np.ndarray) -> np.ndarray:
    swap = masses[:, 1] > masses[:, 0]
    masses[swap], tau[swap] = masses[swap][:, ::-1], tau[swap][:, ::-1]
    return np.column_stack([masses, tau]).astype(np.float32)


def dijet_toy(
    n_background: float = 200_000,
    *,
    n_signal: int = 0,
    signal_mass: float = 3500.0,
    mass_range: tuple[float, float] = (2500.0, 5000.0),
    dijet_parameters: tuple[float, float, float] = (10.0, 5.0, 0.2),
    sqrt_s: float = 13000.0,
    jet_mass_exponent: float = 0.5,
    seed: int = 0,
) -> DijetToy:
    """Draw a toy dijet search sample (module docstring).

    Parameters
    ----------
    n_background : float
        Expected background events in ``mass_range``; the number drawn is Poisson(n_background).
    n_signal : int
        Signal events (exactly; their m_jj may fall outside ``mass_range``).
    signal_mass : float
        Resonance mass in GeV.
    mass_range : (lo, hi)
        m_jj range of the background, GeV.
    dijet_parameters : (p1, p2, p3)
        Shape of the background m_jj spectrum.
    sqrt_s : float
    seed : int

    Returns
    -------
    DijetToy
        Background first, then signal.
    """
    lo, hi = map(float, mass_range)
    if not 0 < lo < hi < sqrt_s or n_background < 0 or n_signal < 0:
        raise ConfigurationError(f"need 0 < lo < hi < sqrt_s and non-negative event counts; got mass_range={mass_range}, "
                                 f"sqrt_s={sqrt_s}, n_background={n_background}, n_signal={n_signal}")
    rng = np.random.default_rng(seed)
    grid = np.linspace(lo, hi, 20001)
    dens = dijet_function(grid, 1.0, *dijet_parameters, sqrt_s=sqrt_s)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (dens[1:] + dens[:-1]) * np.diff(grid))])
    cdf /= cdf[-1]
    n_b = int(rng.poisson(n_background))
    mjj_b = np.interp(rng.random(n_b), cdf, grid)
    X_b = _background_features(rng, mjj_b, float(jet_mass_exponent))
    mjj_s = signal_mass * (1.0 + 0.05 * rng.standard_normal(n_signal))
    masses_s = np.column_stack([rng.normal(500.0, 25.0, n_signal), rng.normal(100.0, 10.0, n_signal)])
    X_s = _ordered(masses_s, rng.beta(3.0, 6.0, size=(n_signal, 2)))
    return DijetToy(
        mass=np.concatenate([mjj_b, mjj_s]), X=np.concatenate([X_b, X_s]),
        signal=np.concatenate([np.zeros(n_b, bool), np.ones(n_signal, bool)]), feature_names=list(TOY_FEATURES),
        mass_range=(lo, hi), n_background_expected=float(n_background), dijet_parameters=tuple(dijet_parameters),
        sqrt_s=float(sqrt_s), seed=int(seed), _grid=grid, _cdf=cdf,
    )
