"""CWoLa hunting: cut on out-of-fold scores at fixed sideband efficiencies, then hunt for a bump."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hepsift.errors import ConfigurationError, DataError, FitError
from hepsift.weak._bump import BumpHuntResult, bump_hunt
from hepsift.weak._regions import Regions, as_mass, as_weights
from hepsift.weak._scores import cwola_scores
from hepsift.weak._sculpt import SculptingResult, sculpting_check

__all__ = ["HuntRow", "CWoLaHunt", "cwola_hunt", "sideband_threshold"]


def sideband_threshold(scores: np.ndarray, in_sidebands: np.ndarray, efficiency: float,
                       weights: np.ndarray | None = None) -> float:
    """The score cut ``t`` that keeps the fraction ``efficiency`` of the sideband events (``score > t``).

    The weighted ``1 - efficiency`` quantile of the sideband scores; efficiency 1 gives ``-inf``.
    """
    if not 0.0 < efficiency <= 1.0:
        raise ConfigurationError(f"background efficiencies must be in (0, 1]; got {efficiency}")
    if efficiency == 1.0:
        return -np.inf
    s = scores[in_sidebands]
    w = np.ones(s.size) if weights is None else weights[in_sidebands]
    order = np.argsort(s)
    cum = np.cumsum(w[order])
    k = int(np.searchsorted(cum, (1.0 - efficiency) * cum[-1], side="left"))
    return float(s[order][min(k, s.size - 1)])


@dataclass
class HuntRow:
    """One working point of :func:`cwola_hunt`.

    Attributes
    ----------
    efficiency : float
        Asked background efficiency (fraction of sideband events kept); 1 = no cut.
    threshold : float
        Score cut over all sideband events; applied to events outside both regions (and to all
        events when the scores were given without folds).
    fold_thresholds : list of float
        Score cut of each fold, from that fold's sideband events: an event of fold k passes when
        ``score > fold_thresholds[k]`` (each fold's model has its own score scale).
    sideband_efficiency : float
        Fraction of sideband events (weights) actually kept.
    result : BumpHuntResult or None
        The bump hunt of the passing events; None when refused.
    refused : str or None
        Why no significance is given (the fit's error message).
    sculpting : SculptingResult or None
        Sculpting test of the cut in the sidebands (None when too few events pass).
    """

    efficiency: float
    threshold: float
    sideband_efficiency: float
    result: BumpHuntResult | None
    refused: str | None
    sculpting: SculptingResult | None
    fold_thresholds: list[float] = field(default_factory=list)

    def passed(self, scores: np.ndarray, folds: np.ndarray) -> np.ndarray:
        """Which events pass this working point (boolean, shape (n_events,))."""
        keep = scores > self.threshold
        for k, t in enumerate(self.fold_thresholds):
            keep[folds == k] = scores[folds == k] > t
        return keep

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return {"efficiency": self.efficiency, "threshold": self.threshold if np.isfinite(self.threshold) else None,
                "sideband_efficiency": self.sideband_efficiency, "fold_thresholds": [t if np.isfinite(t) else None for t in self.fold_thresholds],
                "result": None if self.result is None else self.result.to_dict(), "refused": self.refused,
                "sculpting": None if self.sculpting is None else self.sculpting.to_dict()}


@dataclass
class CWoLaHunt:
    """Result of :func:`cwola_hunt`: one :class:`HuntRow` per efficiency, and the scores.

    Attributes
    ----------
    rows : list of HuntRow
    scores : ndarray, float64, shape (n_events,)
        Out-of-fold CWoLa scores (:func:`cwola_scores`).
    folds : ndarray, int64, shape (n_events,)
        Fold of each event (-1 outside the regions).
    """

    rows: list[HuntRow]
    scores: np.ndarray = field(repr=False)
    folds: np.ndarray = field(repr=False)

    def table(self) -> str:
        """The working points as a text table (one line each)."""
        lines = [f"{'eff_B':>8} {'cut':>9} {'observed':>10} {'background':>18} {'chi2/ndf':>10} "
                 f"{'Z_local':>8} {'sculpting p':>12}"]
        for r in self.rows:
            sc = "-" if r.sculpting is None else r.sculpting.p_text() + (" !" if r.sculpting.sculpted else "")
            head = f"{r.efficiency:>8.3g} {r.threshold:>9.4g}"
            if r.result is None:
                lines.append(f"{head}   refused: {r.refused}")
                continue
            b = r.result
            lines.append(f"{head} {b.observed:>10.1f} {b.background:>9.1f} +- {b.background_uncertainty:<5.1f} "
                         f"{b.chi2:>5.1f}/{b.ndf:<4d} {b.significance:>8.2f} {sc:>12}")
        lines.append("(eff_B: fraction of sideband events kept; Z_local includes the fit uncertainty of the "
                     "background; '!': the cut sculpts the sideband mass spectrum at p < "
                     f"{self.rows[-1].sculpting.alpha if self.rows and self.rows[-1].sculpting else 0.01:g})")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary of the rows (not the per-event scores)."""
        return {"rows": [r.to_dict() for r in self.rows]}


def cwola_hunt(
    mass: Any,
    X: Any,
    *,
    signal_region: tuple[float, float],
    sidebands: tuple[tuple[float, float], tuple[float, float]],
    efficiencies: Any = (1.0, 0.1, 0.01, 0.001),
    scores: Any = None,
    estimator: Any = None,
    folds: int = 5,
    seed: int = 0,
    sample_weight: Any = None,
    fit: str = "dijet",
    bins: Any = 30,
    sqrt_s: float = 13000.0,
    order: int = 3,
    max_chi2_ndf: float = 3.0,
    sculpting_alpha: float = 0.01,
) -> CWoLaHunt:
    """Weakly supervised bump hunt (Collins, Howe, Nachman, arXiv:1805.02664).

    Scores every event with :func:`cwola_scores` (out of fold), then for each background
    efficiency keeps the events whose score exceeds :func:`sideband_threshold` (measured in the
    sidebands, where no signal is expected; one threshold per fold), runs :func:`bump_hunt` on them and tests the cut for
    sculpting in the sidebands (:func:`sculpting_check`). A fit that fails or describes the
    sidebands badly gives a refused row with the reason, never a number.

    Parameters
    ----------
    mass, X, signal_region, sidebands, estimator, folds, seed, sample_weight :
        As for :func:`cwola_scores` (``sample_weight`` also weights the histograms; ``X`` is not
        used when ``scores`` are given).
    efficiencies : sequence of float in (0, 1]
        Background efficiencies; 1 is the search without a cut.
    scores : array_like, shape (n_events,), optional
        Scores computed before (skips the training; ``folds`` in the result are then all -1).
    fit, bins, sqrt_s, order, max_chi2_ndf :
        As for :func:`bump_hunt`.
    sculpting_alpha : float
        Threshold of :func:`sculpting_check`.

    Returns
    -------
    CWoLaHunt
    """
    regions = Regions.make(signal_region, sidebands)
    m = as_mass(mass)
    w = None if sample_weight is None else as_weights(sample_weight, m.size, "sample_weight")
    effs = [float(e) for e in np.atleast_1d(np.asarray(efficiencies, dtype=np.float64))]
    for e in effs:
        if not 0.0 < e <= 1.0:
            raise ConfigurationError(f"background efficiencies must be in (0, 1]; got {e}")
    if scores is None:
        s, fold_of = cwola_scores(m, X, signal_region, sidebands, estimator=estimator, folds=folds, seed=seed,
                                  sample_weight=w, return_folds=True)
    else:
        s = np.asarray(scores, dtype=np.float64)
        if s.shape != m.shape or not np.all(np.isfinite(s)):
            raise DataError(f"scores must be finite with shape {m.shape}; got {s.shape}")
        fold_of = np.full(m.size, -1, dtype=np.int64)
    sb = regions.in_sidebands(m)
    fold_ids = [int(k) for k in np.unique(fold_of) if k >= 0]
    rows = []
    for eff in effs:
        # one threshold per fold (each fold's model has its own score scale), the global one outside
        t = sideband_threshold(s, sb, eff, w)
        keep = s > t
        fold_t = []
        for k in fold_ids:
            in_k = fold_of == k
            fold_t.append(sideband_threshold(s, sb & in_k, eff, w))
            keep[in_k] = s[in_k] > fold_t[-1]
        wsb = np.ones(m.size) if w is None else w
        kept = float(wsb[sb & keep].sum() / wsb[sb].sum())
        result, refused, sculpt = None, None, None
        try:
            result = bump_hunt(m[keep], None if w is None else w[keep], signal_region=signal_region,
                               sidebands=sidebands, fit=fit, bins=bins, sqrt_s=sqrt_s, order=order,
                               max_chi2_ndf=max_chi2_ndf)
        except (FitError, DataError) as exc:
            refused = str(exc)
        if eff < 1.0:
            try:
                sculpt = sculpting_check(m, keep, weights=w, sidebands=regions.sidebands, alpha=sculpting_alpha)
            except DataError:
                sculpt = None
        rows.append(HuntRow(eff, t, kept, result, refused, sculpt, fold_t))
    return CWoLaHunt(rows, s, fold_of)
