r"""Binned CLs upper limits on the signal strength with pyhf, checked before they are returned.

The statistical model is a HistFactory likelihood (one channel, the bins of a score
histogram): the signal template scaled by the parameter of interest :math:`\mu`, any number
of background templates with their Monte Carlo statistical uncertainty (one Barlow-Beeston-lite
``staterror`` parameter per bin, Gaussian constraint with the relative error of the summed
backgrounds) and optional normalisation uncertainties (``normsys``, pyhf's default
exponential interpolation, code 1).
Limits use the asymptotic formulae for the :math:`\tilde q_\mu` test statistic and the CLs
prescription,

.. math:: \mathrm{CL_s}(\mu) = \frac{p_{s+b}(\mu)}{1 - p_b(\mu)},

the limit being the :math:`\mu` where CLs equals :math:`\alpha = 1 - \mathrm{CL}` (Cowan et al.,
arXiv:1007.1727; A. L. Read, J. Phys. G 28 (2002) 2693). The expected limit and its bands
are computed on the background-only Asimov data set.

**Inputs.** A bare NumPy array or list is a vector of *expected yields* without any Monte Carlo
statistical uncertainty (as in pyhf's simple models or cabinetry). The MC statistical
uncertainty comes only from histograms that carry it: ``(counts, sumw2[, edges])``, a mapping
with ``sumw2``, ``hist.Hist``, ROOT ``TH1`` or ``RResultPtr<TH1D>``.

**Checks before fitting.** With ``mc_stat`` on, every bin's background MC statistical relative
uncertainty :math:`\sqrt{\sum w^2}/\sum w` must not exceed ``max_mc_stat`` (default 0.5, i.e.
an effective number of simulated events :math:`(\sum w)^2/\sum w^2 \ge 4`); above it the
Gaussian ``staterror`` constraint lets the fit remove the background of a bin and the limit is
meaningless. :func:`mc_stat_report` gives the per-bin figures, :func:`rebin` merges adjacent
bins until each meets a limit.

**Checks after fitting.** Every returned number (observed limit, median expected and the
four bands) is verified with the same likelihood before it is returned: the fits behind it
(free fit and fixed-:math:`\mu` fit on the data, background-only fit that makes the Asimov
data, free and fixed-:math:`\mu` fit on the Asimov data) converged, no nuisance parameter ended
on a bound, :math:`\mathrm{CL_s}(\mu_{up})` recomputed from those fits is within
``CLS_RTOL`` (1%) of :math:`\alpha`, and CLs is above :math:`\alpha` at
:math:`(1 - \delta)\mu_{up}` and below it at :math:`(1 + \delta)\mu_{up}` with
:math:`\delta` = ``BRACKET`` (1%). A failure raises :class:`hepsift.errors.FitError` naming
the fit, :math:`\mu` and the parameters involved; the checks of a success are kept in
:attr:`UpperLimitResult.checks`.

**Scale.** Fits run in coordinates scaled to each parameter's likelihood width (see
:mod:`hepsift.stats._fit`), the search for :math:`\mu_{up}` starts from an estimate made from
the templates and the bounds of :math:`\mu` follow it, so :math:`k\,\mu_{up}(k s)` does not
depend on :math:`k`.

Because the signal template is normalised to the theory cross-section, the limit on
:math:`\mu` is :math:`\mu_{up} = \sigma_{up} / \sigma_{theory}`, so
:math:`\sigma_{up} = \mu_{up}\,\sigma_{theory}`.

References: L. Heinrich, M. Feickert, G. Stark, K. Cranmer, "pyhf: pure-Python implementation
of HistFactory statistical models", JOSS 6 (2021) 2823; K. Cranmer et al., CERN-OPEN-2012-016;
R. Barlow, C. Beeston, Comput. Phys. Commun. 77 (1993) 219.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hepsift._deps import install_hint
from hepsift.errors import ConfigurationError, DataError, DependencyError, FitError
from hepsift.stats._hist import Histogram, as_histogram, check_same_binning

__all__ = [
    "LimitCheck",
    "MCStatReport",
    "RebinResult",
    "UpperLimitResult",
    "build_workspace",
    "cross_section_limit",
    "mc_stat_report",
    "rebin",
    "signal_strength",
    "upper_limit",
    "upper_limit_from_workspace",
]

BAND_KEYS = (-2, -1, 1, 2)
#: Default largest background MC statistical relative uncertainty per bin.
MAX_MC_STAT = 0.5
#: Largest relative difference between CLs at a returned limit and 1 - CL.
CLS_RTOL = 0.01
#: Relative step in mu either side of a returned limit where CLs must lie above / below 1 - CL.
BRACKET = 0.01
#: Tolerance on -2 ln L differences between fits (a free fit may not lie above a constrained one).
NLL_TOLERANCE = 1e-3

# pyhf's expected set is ordered N = 2, 1, 0, -1, -2 in the test statistic, i.e. the -2 sigma limit first
_QUANTITIES = ("observed", "expected -2 sigma", "expected -1 sigma", "expected median", "expected +1 sigma",
               "expected +2 sigma")


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence third-party deprecation chatter (pyhf's use of jsonschema.RefResolver)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=RuntimeWarning, module="pyhf")
        yield


def _import_pyhf() -> Any:
    try:
        with _quiet():
            import pyhf
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise DependencyError(install_hint("pyhf", "hepsift.stats limits")) from exc
    return pyhf


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class LimitCheck:
    """The verification of one returned limit with the likelihood that defines it.

    Attributes
    ----------
    quantity : str
        ``"observed"``, ``"expected median"``, ``"expected -1 sigma"`` ...
    mu : float
        The returned limit on mu.
    cls : float
        CLs at ``mu`` recomputed from fits whose convergence was checked.
    cls_below, cls_above : float
        CLs at ``(1 - BRACKET) * mu`` and ``(1 + BRACKET) * mu``.
    target : float
        1 - CL.
    cls_pyhf : float or None
        CLs at ``mu`` from ``pyhf.infer.hypotest`` (pyhf's own fits and formulae).
    """

    quantity: str
    mu: float
    cls: float
    cls_below: float
    cls_above: float
    target: float
    cls_pyhf: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"quantity": self.quantity, "mu": self.mu, "cls": self.cls, "cls_below": self.cls_below,
                "cls_above": self.cls_above, "target": self.target, "cls_pyhf": self.cls_pyhf}

    def __str__(self) -> str:
        pyhf = "" if self.cls_pyhf is None else f", pyhf hypotest {self.cls_pyhf:.5f}"
        return (f"{self.quantity:18s} mu = {self.mu:.5g}: CLs = {self.cls:.5f}{pyhf} (target {self.target:g}); "
                f"at {1 - BRACKET:g} mu {self.cls_below:.5f}, at {1 + BRACKET:g} mu {self.cls_above:.5f}")


@dataclass
class MCStatReport:
    """Per-bin figures of the background templates (see :func:`mc_stat_report`).

    Attributes
    ----------
    signal : ndarray, shape (n_bins,)
        Expected signal at mu = 1.
    background : ndarray, shape (n_bins,)
        Total expected background (sum of weights).
    background_sumw2 : ndarray, shape (n_bins,)
        Sum of squared weights of the total background.
    rel_mc_stat : ndarray, shape (n_bins,)
        ``sqrt(sumw2) / background`` (inf where the background is not positive).
    n_eff : ndarray, shape (n_bins,)
        Effective number of simulated events ``background**2 / sumw2`` (inf without sumw2).
    edges : ndarray, shape (n_bins + 1,), or None
        Bin edges, when known.
    """

    signal: np.ndarray
    background: np.ndarray
    background_sumw2: np.ndarray
    rel_mc_stat: np.ndarray
    n_eff: np.ndarray
    edges: np.ndarray | None = None

    @property
    def s_over_b(self) -> np.ndarray:
        """Signal over background per bin (inf where the background is not positive)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.background > 0, self.signal / np.where(self.background > 0, self.background, 1), np.inf)

    def bad_bins(self, max_mc_stat: float = MAX_MC_STAT) -> np.ndarray:
        """Indices of the bins with no positive background or ``rel_mc_stat > max_mc_stat``."""
        return np.flatnonzero((self.background <= 0) | (self.rel_mc_stat > max_mc_stat))

    def describe(self, bins: Any = None) -> str:
        """One line per bin (all bins, or those in ``bins``)."""
        idx = range(self.background.size) if bins is None else bins
        lines = []
        for i in idx:
            where = "" if self.edges is None else f" [{self.edges[i]:.4g}, {self.edges[i + 1]:.4g})"
            lines.append(
                f"bin {i}{where}: b = {self.background[i]:.4g}, s = {self.signal[i]:.4g}, "
                f"MC stat {100 * self.rel_mc_stat[i]:.3g}%, n_eff = {self.n_eff[i]:.3g}"
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.describe()


@dataclass
class RebinResult:
    """Histograms after merging adjacent bins (see :func:`rebin`).

    Attributes
    ----------
    signal : Histogram
    backgrounds : dict[str, Histogram]
        Same names as :func:`upper_limit` gives them (the mapping keys, or ``background0``...).
    data : Histogram or None
    groups : list of list of int
        The original bins merged into each new bin.
    edges : ndarray, shape (n_new_bins + 1,)
        New bin edges (original edges when known, else original bin indices).
    """

    signal: Histogram
    backgrounds: dict[str, Histogram]
    data: Histogram | None
    groups: list[list[int]]
    edges: np.ndarray


@dataclass
class UpperLimitResult:
    """An upper limit on the signal strength mu.

    Attributes
    ----------
    observed : float or None
        Observed limit (None when no data were given).
    expected : float
        Median expected limit (background-only Asimov data).
    bands : dict[int, float]
        Expected limit at -2, -1, +1, +2 standard deviations (keys ``-2, -1, 1, 2``).
    cl : float
        Confidence level (0.95 by default).
    sigma_theory : float or None
        Theory cross-section (pb) the signal template was normalised to.
    workspace : dict
        The pyhf JSON workspace of the model.
    workspace_path : str or None
        Where the workspace was written, if it was.
    checks : list of LimitCheck
        The verification of every returned number (empty for results not computed here).
    diagnostics : MCStatReport or None
        Per-bin background figures of the model that was fitted.
    groups : list of list of int, or None
        Original bins merged into each fitted bin, when ``rebin`` was used.
    """

    observed: float | None
    expected: float
    bands: dict[int, float]
    cl: float = 0.95
    sigma_theory: float | None = None
    workspace: dict[str, Any] = field(default_factory=dict, repr=False)
    workspace_path: str | None = None
    checks: list[LimitCheck] = field(default_factory=list, repr=False)
    diagnostics: MCStatReport | None = field(default=None, repr=False)
    groups: list[list[int]] | None = field(default=None, repr=False)

    @property
    def xsec_observed(self) -> float | None:
        """Observed cross-section limit ``mu_up * sigma_theory`` (pb), if both are known."""
        if self.observed is None or self.sigma_theory is None:
            return None
        return self.observed * self.sigma_theory

    @property
    def xsec_expected(self) -> float | None:
        """Expected cross-section limit (pb), if ``sigma_theory`` is known."""
        return None if self.sigma_theory is None else self.expected * self.sigma_theory

    @property
    def xsec_bands(self) -> dict[int, float] | None:
        """Expected cross-section bands (pb), if ``sigma_theory`` is known."""
        if self.sigma_theory is None:
            return None
        return {k: v * self.sigma_theory for k, v in self.bands.items()}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable summary (without the workspace)."""
        return {
            "cl": self.cl,
            "observed": self.observed,
            "expected": self.expected,
            "bands": {str(k): v for k, v in self.bands.items()},
            "sigma_theory": self.sigma_theory,
            "xsec_observed": self.xsec_observed,
            "xsec_expected": self.xsec_expected,
            "workspace_path": self.workspace_path,
            "checks": [c.to_dict() for c in self.checks],
            "groups": self.groups,
        }

    def __str__(self) -> str:
        obs = "n/a" if self.observed is None else f"{self.observed:.4g}"
        return (
            f"{100 * self.cl:g}% CL upper limit on mu: observed {obs}, expected {self.expected:.4g} "
            f"[-2s {self.bands[-2]:.4g}, -1s {self.bands[-1]:.4g}, +1s {self.bands[1]:.4g}, +2s {self.bands[2]:.4g}]"
        )


def cross_section_limit(mu_up: float, sigma_theory: float) -> float:
    """Return the cross-section upper limit ``sigma_up = mu_up * sigma_theory`` (units of sigma_theory)."""
    if sigma_theory <= 0:
        raise ConfigurationError(f"sigma_theory must be positive, got {sigma_theory}")
    return float(mu_up) * float(sigma_theory)


def signal_strength(sigma_up: float, sigma_theory: float) -> float:
    """Return ``mu = sigma_up / sigma_theory``."""
    if sigma_theory <= 0:
        raise ConfigurationError(f"sigma_theory must be positive, got {sigma_theory}")
    return float(sigma_up) / float(sigma_theory)


# --------------------------------------------------------------------------- inputs and diagnostics


def _named_backgrounds(backgrounds: Any) -> dict[str, Any]:
    """Backgrounds: a mapping name -> histogram, a list of histograms, or one histogram.

    A ``tuple`` is read as one ``(counts, sumw2[, edges])`` histogram; use a list or a mapping
    for several backgrounds.
    """
    if isinstance(backgrounds, Mapping) and not ({"counts", "values"} & set(backgrounds)):
        if not backgrounds:
            raise DataError("no background histogram given")
        return {str(k): v for k, v in backgrounds.items()}
    if isinstance(backgrounds, list) and backgrounds and not np.isscalar(backgrounds[0]):
        return {f"background{i}": h for i, h in enumerate(backgrounds)}
    return {"background": backgrounds}


def _norm_modifier(name: str, value: Any) -> dict[str, Any]:
    if np.isscalar(value):
        u = float(value)
        if not 0 < u < 1:
            raise ConfigurationError(f"relative normalisation uncertainty of {name!r} must be in (0, 1), got {u}")
        lo, hi = 1.0 - u, 1.0 + u
    else:
        lo, hi = (float(v) for v in value)
        if not (0 < lo < 1 < hi):
            raise ConfigurationError(
                f"normalisation variations of {name!r} must satisfy 0 < lo < 1 < hi, got {lo}, {hi}"
            )
    return {"name": f"norm_{name}", "type": "normsys", "data": {"hi": hi, "lo": lo}}


def _histograms(signal: Any, backgrounds: Any, data: Any) -> tuple[Histogram, dict[str, Histogram], Histogram | None]:
    sig = as_histogram(signal, name="signal")
    bkgs = {name: as_histogram(h, name=f"background {name!r}") for name, h in _named_backgrounds(backgrounds).items()}
    obs = None if data is None else as_histogram(data, name="data", allow_empty=True)
    check_same_binning([sig, *bkgs.values(), *([obs] if obs is not None else [])])
    return sig, bkgs, obs


def _prepare(signal: Any, backgrounds: Any, data: Any) -> tuple[Histogram, dict[str, Histogram], Histogram | None]:
    sig, bkgs, obs = _histograms(signal, backgrounds, data)
    if np.any(sig.counts < 0):
        raise DataError(f"signal: negative expected yield in bin(s) {np.flatnonzero(sig.counts < 0).tolist()}")
    if not np.any(sig.counts > 0):
        raise DataError("signal: histogram has no positive bin; no limit can be set")
    for name, h in bkgs.items():
        neg = np.flatnonzero(h.counts < 0)
        if neg.size:
            raise DataError(
                f"background {name!r}: negative yield in bin(s) {neg.tolist()} "
                f"(values {h.counts[neg].tolist()}); merge bins (hepsift.stats.rebin) or fix the negative weights"
            )
    total = np.sum([h.counts for h in bkgs.values()], axis=0)
    empty = np.flatnonzero(total <= 0)
    if empty.size:
        raise DataError(
            f"total background is zero in bin(s) {empty.tolist()}; a binned likelihood needs a positive "
            "background prediction in every bin: merge bins (hepsift.stats.rebin) or drop those bins"
        )
    if obs is not None and np.any(obs.counts < 0):
        raise DataError(f"data: negative count in bin(s) {np.flatnonzero(obs.counts < 0).tolist()}")
    return sig, bkgs, obs


def _report(sig: Histogram, bkgs: Mapping[str, Histogram]) -> MCStatReport:
    b = np.sum([h.counts for h in bkgs.values()], axis=0)
    w2 = np.sum([h.sumw2 for h in bkgs.values()], axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(b > 0, np.sqrt(w2) / np.where(b > 0, b, 1.0), np.inf)
        neff = np.where(w2 > 0, b**2 / np.where(w2 > 0, w2, 1.0), np.inf)
    edges = sig.edges
    if edges is None:
        edges = next((h.edges for h in bkgs.values() if h.edges is not None), None)
    return MCStatReport(signal=sig.counts.copy(), background=b, background_sumw2=w2, rel_mc_stat=rel, n_eff=neff,
                        edges=None if edges is None else edges.copy())


def mc_stat_report(signal: Any, backgrounds: Any) -> MCStatReport:
    """Per-bin background Monte Carlo statistics of a search.

    Parameters
    ----------
    signal : histogram-like, shape (n_bins,)
        Expected signal per bin at mu = 1 (any form :func:`upper_limit` takes).
    backgrounds : histogram-like, list or mapping name -> histogram-like
        Background templates; their sumw2 are added.

    Returns
    -------
    MCStatReport
        ``background``, ``background_sumw2``, ``rel_mc_stat = sqrt(sumw2)/background``,
        ``n_eff = background**2/sumw2`` (the effective number of simulated events; equal to
        ``1/rel_mc_stat**2``), ``signal``, ``s_over_b``; ``str(report)`` prints one line per bin.
    """
    sig, bkgs, _ = _histograms(signal, backgrounds, None)
    return _report(sig, bkgs)


def _check_mc_stat(report: MCStatReport, max_mc_stat: float) -> None:
    bad = report.bad_bins(max_mc_stat)
    if bad.size:
        raise DataError(
            f"the background Monte Carlo statistical uncertainty exceeds max_mc_stat = {max_mc_stat:g} "
            f"({100 * max_mc_stat:g}%, i.e. fewer than {1 / max_mc_stat**2:.3g} effective simulated events) in "
            f"{bad.size} of {report.background.size} bin(s):\n{report.describe(bad)}\n"
            "the fit could remove the background of such bins and the limit would be meaningless. Merge bins with "
            "hepsift.stats.rebin(signal, backgrounds, max_mc_stat=0.2) or upper_limit(..., rebin=0.2), use "
            "fewer bins or more simulated events"
        )


def _merge(h: Histogram, groups: list[list[int]], edges: np.ndarray) -> Histogram:
    counts = np.array([h.counts[g].sum() for g in groups])
    sumw2 = np.array([h.sumw2[g].sum() for g in groups])
    return Histogram(counts=counts, sumw2=sumw2, edges=edges.copy(), name=h.name)


def merge_groups(counts: Any, sumw2: Any, max_mc_stat: float, *, from_top: bool = False) -> list[list[int]]:
    """Groups of adjacent bins, each with ``sqrt(sum w^2) / sum w <= max_mc_stat`` and a positive total.

    Bins are accumulated in order (from the last bin down with ``from_top``: the high-score end
    keeps its fine bins) and a group closes as soon as it meets the limit. A remainder that
    fails on its own joins the groups before it, one at a time, until it passes.

    Parameters
    ----------
    counts, sumw2 : array_like, shape (n_bins,)
        Total background yield and sum of squared weights per bin.
    max_mc_stat : float
        Largest allowed relative MC statistical uncertainty of a group.
    from_top : bool, default False
        Accumulate from the last bin down instead of from the first up.

    Returns
    -------
    list of list of int
        Bin indices of each group, groups and indices in increasing order.

    Raises
    ------
    hepsift.errors.DataError
        All bins together do not meet the limit (a degenerate background).
    """
    b, w2 = np.asarray(counts, dtype=np.float64), np.asarray(sumw2, dtype=np.float64)
    if not max_mc_stat > 0:
        raise ConfigurationError(f"max_mc_stat must be positive, got {max_mc_stat}")

    def ok(group: list[int]) -> bool:
        cb = float(b[group].sum())
        return cb > 0 and math.sqrt(float(w2[group].sum())) <= max_mc_stat * cb

    groups: list[list[int]] = []
    current: list[int] = []
    for i in (range(b.size - 1, -1, -1) if from_top else range(b.size)):
        current.append(i)
        if ok(current):
            groups.append(current)
            current = []
    while current:
        if not groups:
            total, var = float(b.sum()), float(w2.sum())
            rel = math.sqrt(var) / total if total > 0 else math.inf
            raise DataError(
                f"the background is degenerate: even all {b.size} bins merged have a background MC statistical "
                f"uncertainty of {rel:.3g} (effective number of events {total**2 / var if var > 0 else 0:.1f}) > "
                f"max_mc_stat = {max_mc_stat:g}; a few heavily weighted events dominate it: generate more events "
                "where the selection is, or model that background from a looser selection"
            )
        current = groups.pop() + current
        if ok(current):
            groups.append(current)
            current = []
    return sorted(sorted(g) for g in groups)


def rebin(signal: Any, backgrounds: Any, *, max_mc_stat: float = 0.2, data: Any = None,
          from_top: bool = False) -> RebinResult:
    """Merge adjacent bins until every bin's background MC statistical uncertainty is small enough.

    Bins are accumulated from the first to the last until the group has a positive total
    background and ``sqrt(sum w^2) / sum w <= max_mc_stat``; a last group that does not meet
    the limit is merged into the previous one. Counts and sumw2 of every template (and the data)
    are summed, so totals are conserved.

    Parameters
    ----------
    signal, backgrounds, data :
        As for :func:`upper_limit`.
    max_mc_stat : float, default 0.2
        Largest allowed relative MC statistical uncertainty of the total background per bin.
    from_top : bool, default False
        Merge from the last bin down (for score histograms: the signal-like end keeps its
        fine bins); see :func:`merge_groups`.

    Returns
    -------
    RebinResult
        ``signal``, ``backgrounds`` (dict), ``data``, ``groups`` and ``edges`` of the merged
        histograms; pass them on to :func:`upper_limit`.

    Raises
    ------
    hepsift.errors.DataError
        If even all bins merged into one do not meet the limit.
    """
    sig, bkgs, obs = _histograms(signal, backgrounds, data)
    b = np.sum([h.counts for h in bkgs.values()], axis=0)
    w2 = np.sum([h.sumw2 for h in bkgs.values()], axis=0)
    groups = merge_groups(b, w2, max_mc_stat, from_top=from_top)
    src_edges = sig.edges
    if src_edges is None:
        src_edges = next((h.edges for h in bkgs.values() if h.edges is not None), None)
    if src_edges is None:
        src_edges = np.arange(b.size + 1, dtype=np.float64)
    edges = np.array([src_edges[g[0]] for g in groups] + [src_edges[-1]], dtype=np.float64)
    return RebinResult(
        signal=_merge(sig, groups, edges),
        backgrounds={name: _merge(h, groups, edges) for name, h in bkgs.items()},
        data=None if obs is None else _merge(obs, groups, edges),
        groups=groups,
        edges=edges,
    )


_rebin = rebin


# --------------------------------------------------------------------------- the model


def build_workspace(
    signal: Any,
    backgrounds: Any,
    *,
    data: Any = None,
    norm_uncertainties: Mapping[str, Any] | None = None,
    mc_stat: bool = True,
    signal_mc_stat: bool = False,
    channel: str = "sr",
    poi_bounds: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """Build the pyhf JSON workspace (HistFactory model) of a one-channel binned search.

    Parameters
    ----------
    signal : histogram-like, n_bins bins
        Expected signal yield per bin at mu = 1 (see :func:`hepsift.stats.as_histogram`).
    backgrounds : histogram-like, list of them, or mapping name -> histogram-like
        Background templates (a tuple counts as one ``(counts, sumw2)`` histogram). Bare
        arrays are expected yields without MC statistical uncertainty.
    data : histogram-like, optional
        Observed counts; default: the total background (Asimov background-only data).
    norm_uncertainties : mapping, optional
        Sample name (a background name, or ``"signal"``) -> relative uncertainty ``u``
        (variations ``1 -+ u``) or a pair ``(lo, hi)`` of multiplicative variations; each
        becomes a ``normsys`` modifier named ``norm_<sample>``.
    mc_stat : bool, default True
        Add a ``staterror`` modifier (MC statistical uncertainty from sumw2) to each background
        that has a sumw2 (not to bare arrays of expected yields).
    signal_mc_stat : bool, default False
        Also give the signal a ``staterror`` modifier.
    channel : str
        Channel name.
    poi_bounds : (float, float), optional
        Bounds of mu written into the workspace; default ``(0, 1000 * estimate)`` where the
        estimate is a rough expected limit from the templates. The limit functions set their
        own bounds per fit in any case.

    Returns
    -------
    dict
        A pyhf workspace specification (schema version 1.0.0).
    """
    sig, bkgs, obs = _prepare(signal, backgrounds, data)
    norms = dict(norm_uncertainties or {})
    unknown = set(norms) - set(bkgs) - {"signal"}
    if unknown:
        raise ConfigurationError(
            f"norm_uncertainties name unknown samples {sorted(unknown)}; samples are {['signal', *bkgs]}"
        )
    stat_name = f"staterror_{channel}"
    sig_mods: list[dict[str, Any]] = [{"name": "mu", "type": "normfactor", "data": None}]
    if signal_mc_stat and np.any(sig.sumw2 > 0):
        sig_mods.append({"name": stat_name, "type": "staterror", "data": np.sqrt(sig.sumw2).tolist()})
    if "signal" in norms:
        sig_mods.append(_norm_modifier("signal", norms["signal"]))
    samples = [{"name": "signal", "data": sig.counts.tolist(), "modifiers": sig_mods}]
    for name, h in bkgs.items():
        mods: list[dict[str, Any]] = []
        if mc_stat and np.any(h.sumw2 > 0):
            mods.append({"name": stat_name, "type": "staterror", "data": np.sqrt(h.sumw2).tolist()})
        if name in norms:
            mods.append(_norm_modifier(name, norms[name]))
        samples.append({"name": name, "data": h.counts.tolist(), "modifiers": mods})
    total_b = np.sum([h.counts for h in bkgs.values()], axis=0)
    observed = total_b if obs is None else obs.counts
    spec = {
        "version": "1.0.0",
        "channels": [{"name": channel, "samples": samples}],
        "observations": [{"name": channel, "data": observed.tolist()}],
        "measurements": [{"name": "limit", "config": {"poi": "mu", "parameters": []}}],
    }
    if poi_bounds is None:
        poi_bounds = (0.0, 1000.0 * _spec_guess(spec, "mu"))
    spec["measurements"][0]["config"]["parameters"] = [{"name": "mu", "bounds": [list(map(float, poi_bounds))]}]
    return spec


def _spec_guess(spec: Mapping[str, Any], poi: str) -> float:
    r"""A rough expected 95% CL limit on the POI from the nominal templates (seeds the search).

    Gaussian: :math:`1.96 / \sqrt{\sum_i s_i^2 / V_i}` with
    :math:`V_i = b_i + \sigma_{MC,i}^2 + \sum (u\,b_i)^2` over all bins of all channels, and at
    least the Poisson value :math:`3 / \sum_i s_i` for tiny backgrounds.
    """
    info, s_tot = 0.0, 0.0
    for ch in spec["channels"]:
        nb = len(ch["samples"][0]["data"])
        s, b, var = np.zeros(nb), np.zeros(nb), np.zeros(nb)
        for smp in ch["samples"]:
            data = np.abs(np.asarray(smp["data"], dtype=np.float64))
            if any(m["type"] == "normfactor" and m["name"] == poi for m in smp["modifiers"]):
                s += data
                continue
            b += data
            for m in smp["modifiers"]:
                if m["type"] in ("staterror", "shapesys") and m.get("data") is not None:
                    var += np.asarray(m["data"], dtype=np.float64) ** 2
                elif m["type"] == "normsys":
                    u = max(abs(float(m["data"]["hi"]) - 1.0), abs(1.0 - float(m["data"]["lo"])))
                    var += (u * data) ** 2
                elif m["type"] == "histosys":
                    d = np.maximum(np.abs(np.asarray(m["data"]["hi_data"], float) - data),
                                   np.abs(np.asarray(m["data"]["lo_data"], float) - data))
                    var += d**2
        var += b
        ok = (s > 0) & (var > 0)
        info += float(np.sum(s[ok] ** 2 / var[ok]))
        s_tot += float(s.sum())
    if s_tot <= 0:
        raise DataError(f"no sample scaled by {poi!r} has a positive yield; no limit can be set")
    gauss = 1.96 / math.sqrt(info) if info > 0 else math.inf
    return float(max(min(gauss, 1e300), 3.0 / s_tot)) if math.isfinite(gauss) else 3.0 / s_tot


# --------------------------------------------------------------------------- solving and checking


def _model_pars(model: Any, guess: float) -> tuple[list[float], list[tuple[float, float]]]:
    init = [float(v) for v in model.config.suggested_init()]
    bounds = [tuple(map(float, b)) for b in model.config.suggested_bounds()]
    i = model.config.poi_index
    init[i] = guess
    bounds[i] = (0.0, 1e4 * guess)
    return init, bounds  # type: ignore[return-value]


def _hypotest(pyhf: Any, mu: float, data: Any, model: Any, init: list[float],
              bounds: list[tuple[float, float]]) -> np.ndarray:
    try:
        obs, exp = pyhf.infer.hypotest(mu, data, model, init_pars=init, par_bounds=bounds, test_stat="qtilde",
                                       return_expected_set=True)
    except pyhf.exceptions.FailedMinimization as exc:
        raise FitError(f"a fit of the CLs computation at mu = {mu:.6g} did not converge: {exc}") from exc
    except (ValueError, RuntimeError, FloatingPointError) as exc:
        raise FitError(f"the CLs computation at mu = {mu:.6g} failed: {type(exc).__name__}: {exc}") from exc
    vals = np.array([float(obs), *(float(e) for e in exp)])
    if not np.all(np.isfinite(vals)):
        raise FitError(f"CLs at mu = {mu:.6g} is not finite ({vals.tolist()}): a fit of the CLs computation failed")
    return vals


def _solve(cls: Any, alpha: float, guess: float, mu_max: float, rtol: float, cls_k: Any = None,
           n: int = 6) -> np.ndarray:
    """The limits where the ``n`` curves ``cls(mu)`` (observed, expected -2..+2 sigma) cross ``alpha``.

    ``cls(mu)`` returns the ``n`` CLs values (``cls_k(mu, k)`` one of them, if cheaper); the
    bracket grows from ``[guess/4, 4 guess]``, each crossing is found with TOMS 748 (as in
    pyhf's ``toms748_scan``) between the closest evaluated points on either side.
    """
    from scipy.optimize import toms748

    cache: dict[float, np.ndarray] = {}
    single: dict[tuple[float, int], float] = {}

    def f(mu: float) -> np.ndarray:
        if mu not in cache:
            cache[mu] = np.asarray(cls(mu), dtype=np.float64)
        return cache[mu]

    def fk(mu: float, k: int) -> float:
        if mu in cache:
            return float(cache[mu][k])
        if cls_k is None:
            return float(f(mu)[k])
        if (mu, k) not in single:
            single[(mu, k)] = float(cls_k(mu, k))
        return single[(mu, k)]

    lo, hi = guess / 4.0, guess * 4.0
    for _ in range(12):
        if np.all(f(lo) >= alpha):
            break
        lo /= 8.0
    else:
        raise FitError(f"CLs stays below {alpha:g} down to mu = {lo:.4g} (estimate {guess:.4g}); the model or the "
                       "data look inconsistent (observed far below the background?)")
    while not np.all(f(hi) < alpha):
        if hi * 4.0 > mu_max:
            raise FitError(f"CLs stays above {alpha:g} up to mu = {hi:.4g}, {hi / guess:.3g} times the estimate "
                           f"{guess:.4g}: the search has no sensitivity; check the signal template and the "
                           "uncertainties")
        hi *= 4.0
    out = np.empty(n)
    for k in range(n):
        mus = np.array(sorted(cache))
        vals = np.array([cache[m][k] for m in mus])
        a = float(mus[vals >= alpha].max())
        below = mus[(vals < alpha) & (mus > a)]
        if below.size == 0:
            raise FitError(f"CLs ({_QUANTITIES[k + 6 - n]}) is not decreasing in mu: above {alpha:g} at mu = {a:.6g} but not "
                           "below it at any larger evaluated mu")
        b = float(below.min())
        out[k] = toms748(lambda m, k=k: fk(float(m), k) - alpha, a, b, k=2, xtol=1e-300, rtol=rtol)
    return out


class _CLsEngine:
    """CLs at any mu from explicit fits whose convergence is verified (pyhf's asymptotic formulae).

    The fits that do not depend on mu (free fit and background-only fit on the data, free fit on
    the Asimov data made from the latter) run once; each mu adds a fit with mu fixed on the
    Asimov data and, for the observed CLs, one on the data. Every fit must pass
    :func:`hepsift.stats._fit.run_fit`'s convergence criterion; a free fit above a constrained
    one, or a free fit on the Asimov data above the value at the parameters that generated it,
    is refused as a missed minimum.
    """

    def __init__(self, pyhf: Any, model: Any, data: Any, init: list[float], bounds: list[tuple[float, float]],
                 alpha: float, where: str) -> None:
        from hepsift.stats._fit import cls_from_q, run_fit

        self.pyhf, self.model, self.init, self.bounds, self.alpha, self.where = pyhf, model, init, bounds, alpha, where
        self._run_fit, self._cls_from_q = run_fit, cls_from_q
        self.data = np.asarray(data, dtype=np.float64)
        self.poi = model.config.poi_index
        self._cond: dict[tuple[str, float], float] = {}
        self._outcomes: dict[tuple[str, float], tuple[Any, str]] = {}
        self.n_fits = 0
        self.observed = True  # whether cls(mu) also fits the data (the observed CLs)
        self.free = self._fit("free fit on the data", self.data, None)
        self.bonly = self._fit("background-only fit (mu = 0) on the data, for the Asimov data", self.data, 0.0)
        t = pyhf.tensorlib
        self.asimov = np.asarray(model.expected_data(t.astensor(self.bonly.pars)), dtype=np.float64)
        self.free_a = self._fit("free fit on the Asimov data", self.asimov, None)
        floor = -2.0 * float(model.logpdf(t.astensor(self.bonly.pars), t.astensor(self.asimov))[0])
        if self.free_a.twice_nll > floor + NLL_TOLERANCE:
            raise FitError(
                f"{where}: the free fit on the Asimov data stopped at -2lnL = {self.free_a.twice_nll:.6g}, above "
                f"the value {floor:.6g} at the parameters that generated it: the fit did not find the minimum"
            )

    def _fit(self, label: str, data: np.ndarray, mu: float | None, strict: bool = True) -> Any:
        self.n_fits += 1
        out = self._run_fit(self.pyhf, label, data, self.model, self.init, self.bounds, poi=mu)
        at = "" if mu is None else f" at mu = {mu:.6g}"
        if not out.converged:
            raise FitError(f"{self.where}: {label}{at} did not converge: {out.error}")
        if strict:
            self._refuse_bounds(out, f"{label}{at}")
        return out

    def _refuse_bounds(self, out: Any, what: str) -> None:
        if out.at_bound:
            raise FitError(
                f"{self.where}: {what} ended with parameter(s) at a bound: {', '.join(out.at_bound)}; the result "
                "would depend on that bound (a staterror parameter at its lower bound means the fit removes the "
                "background of that bin: too large MC statistical uncertainties, see hepsift.stats.mc_stat_report "
                "and hepsift.stats.rebin)"
            )

    def _q(self, which: str, mu: float, strict: bool = False) -> float:
        key = (which, mu)
        if key not in self._cond:
            data, free = (self.data, self.free) if which == "data" else (self.asimov, self.free_a)
            label = f"fit with mu fixed on the {'Asimov ' if which == 'asimov' else ''}data"
            cond = self._fit(label, data, mu, strict=False)
            self._outcomes[key] = (cond, label)
            t = cond.twice_nll - free.twice_nll
            if t < -NLL_TOLERANCE:
                raise FitError(
                    f"{self.where}: the fit with mu fixed at {mu:.6g} on the {which} data gives -2lnL = "
                    f"{cond.twice_nll:.6g}, below the free fit's {free.twice_nll:.6g}: the free fit did not find "
                    "the minimum"
                )
            self._cond[key] = 0.0 if free.pars[self.poi] > mu else max(t, 0.0)
        if strict:
            cond, label = self._outcomes[key]
            self._refuse_bounds(cond, f"{label} at mu = {mu:.6g}")
        return self._cond[key]

    def cls(self, mu: float, k: int | None = None, strict: bool = False) -> Any:
        """CLs at ``mu``: all six values (observed, expected -2..+2 sigma), or only number ``k``.

        ``strict``: also refuse fits with a parameter at a bound (for the fits behind a result).
        """
        qa = self._q("asimov", mu, strict)
        q = self._q("data", mu, strict) if (k is None and self.observed) or k == 0 else 0.0
        obs, exp = self._cls_from_q(q, qa)
        vals = np.array([obs, *exp])
        if k is not None:
            return float(vals[k])
        return vals

    def check(self, mu: float, k: int, cls_pyhf: float) -> LimitCheck:
        """Verify the limit ``mu`` of quantity ``k``; ``cls_pyhf`` is pyhf's own hypotest there."""
        name = _QUANTITIES[k]
        c = self.cls(mu, k, strict=True)
        c_lo = self.cls(mu * (1.0 - BRACKET), k, strict=True)
        c_hi = self.cls(mu * (1.0 + BRACKET), k, strict=True)
        chk = LimitCheck(quantity=name, mu=float(mu), cls=c, cls_below=c_lo, cls_above=c_hi, target=self.alpha,
                         cls_pyhf=cls_pyhf)
        for label, value in (("recomputed from the checked fits", c), ("from pyhf.infer.hypotest", cls_pyhf)):
            if not (math.isfinite(value) and abs(value / self.alpha - 1.0) <= CLS_RTOL):
                raise FitError(f"{self.where}: {name} limit mu = {mu:.6g}: CLs {label} is {value:.6g}, not "
                               f"{self.alpha:g} within {100 * CLS_RTOL:g}% ({chk})")
        if not (c_lo > self.alpha > c_hi):
            raise FitError(f"{self.where}: {name} limit mu = {mu:.6g}: CLs does not cross {self.alpha:g} there "
                           f"(CLs {c_lo:.6g} at {1 - BRACKET:g} mu, {c_hi:.6g} at {1 + BRACKET:g} mu)")
        return chk


def _limits(pyhf: Any, model: Any, data: Any, cl: float, rtol: float, guess: float, observed: bool,
            where: str) -> tuple[float | None, list[float], list[LimitCheck]]:
    """Solve and verify; returns (observed or None, [exp -2, -1, 0, +1, +2], checks)."""
    alpha = 1.0 - cl
    init, bounds = _model_pars(model, guess)
    tensor = pyhf.tensorlib.astensor(np.asarray(data, dtype=np.float64))
    engine = _CLsEngine(pyhf, model, data, init, bounds, alpha, where)
    engine.observed = observed
    if observed:
        vals = _solve(engine.cls, alpha, guess, bounds[model.config.poi_index][1], rtol, engine.cls)
    else:
        vals = np.full(6, np.nan)
        vals[1:] = _solve(lambda mu: engine.cls(mu)[1:], alpha, guess, bounds[model.config.poi_index][1], rtol,
                          lambda mu, k: engine.cls(mu, k + 1), n=5)
    exp = [float(v) for v in vals[1:]]
    if not all(a < b for a, b in zip(exp[:-1], exp[1:], strict=True)):
        raise FitError(f"{where}: the expected limits are not ordered: -2s {exp[0]:.6g}, -1s {exp[1]:.6g}, "
                       f"median {exp[2]:.6g}, +1s {exp[3]:.6g}, +2s {exp[4]:.6g}")
    checks = []
    for k in ([0] if observed else []) + [3, 1, 2, 4, 5]:
        cls_pyhf = _hypotest(pyhf, float(vals[k]), tensor, model, init, bounds)[k]
        checks.append(engine.check(float(vals[k]), k, float(cls_pyhf)))
    return (float(vals[0]) if observed else None), exp, checks


def _result(obs: float | None, exp: list[float], checks: list[LimitCheck], cl: float, sigma_theory: float | None,
            spec: Mapping[str, Any], path: str | None, diagnostics: MCStatReport | None = None,
            groups: list[list[int]] | None = None) -> UpperLimitResult:
    return UpperLimitResult(
        observed=obs,
        expected=exp[2],
        bands=dict(zip(BAND_KEYS, (exp[0], exp[1], exp[3], exp[4]), strict=True)),
        cl=cl,
        sigma_theory=sigma_theory,
        workspace=dict(spec),
        workspace_path=path,
        checks=checks,
        diagnostics=diagnostics,
        groups=groups,
    )


def _check_workspace_mc_stat(spec: Mapping[str, Any], max_mc_stat: float) -> None:
    """Refuse ``staterror`` bins whose relative uncertainty (as pyhf computes it: the quadratic sum
    of the samples' uncertainties over the sum of their yields) exceeds ``max_mc_stat``."""
    lines = []
    for ch in spec["channels"]:
        mods: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
        for smp in ch["samples"]:
            for m in smp["modifiers"]:
                if m["type"] == "staterror":
                    mods.setdefault(m["name"], []).append(
                        (np.asarray(smp["data"], dtype=np.float64), np.asarray(m["data"], dtype=np.float64)))
        for name, parts in mods.items():
            nom = np.sum([p[0] for p in parts], axis=0)
            err = np.sqrt(np.sum([p[1] ** 2 for p in parts], axis=0))
            with np.errstate(divide="ignore", invalid="ignore"):
                rel = np.where(nom > 0, err / np.where(nom > 0, nom, 1.0), np.inf)
            for i in np.flatnonzero(rel > max_mc_stat):
                lines.append(f"channel {ch['name']!r}, {name}[bin {i}]: yield {nom[i]:.4g}, MC stat {100 * rel[i]:.3g}%, "
                             f"n_eff = {1 / rel[i] ** 2 if rel[i] > 0 else math.inf:.3g}")
    if lines:
        raise DataError(
            f"the MC statistical uncertainty of the workspace exceeds max_mc_stat = {max_mc_stat:g} in {len(lines)} "
            "bin(s):\n" + "\n".join(lines) + "\nthe fit could remove the yield of such bins and the limit would be "
            "meaningless: merge bins (hepsift.stats.rebin before writing the workspace) or use more simulated events"
        )


def _check_cl(cl: float) -> None:
    if not 0 < cl < 1:
        raise ConfigurationError(f"cl must be in (0, 1), got {cl}")


def upper_limit_from_workspace(
    workspace: Mapping[str, Any] | str | os.PathLike[str],
    *,
    cl: float = 0.95,
    measurement: str | None = None,
    sigma_theory: float | None = None,
    observed: bool = True,
    rtol: float = 1e-4,
    max_mc_stat: float | None = MAX_MC_STAT,
) -> UpperLimitResult:
    """CLs upper limit from a pyhf JSON workspace (a dict or a path to a JSON file).

    The limits are solved and verified as for :func:`upper_limit` (the bounds of the POI written
    in the workspace are replaced by bounds that follow the templates).

    Parameters
    ----------
    workspace : dict or path
        pyhf workspace specification.
    cl : float, default 0.95
        Confidence level.
    measurement : str, optional
        Measurement name (default: the first).
    sigma_theory : float, optional
        Theory cross-section for the cross-section limit.
    observed : bool, default True
        Report the observed limit computed on the workspace's observations.
    rtol : float
        Relative tolerance of the root finding in mu.
    max_mc_stat : float or None, default 0.5
        Refuse ``staterror`` bins whose relative uncertainty exceeds this (None: no check).

    Raises
    ------
    hepsift.errors.DataError
        Unreadable or invalid workspace, a ``staterror`` bin above ``max_mc_stat``.
    hepsift.errors.FitError
        A fit did not converge or a limit failed its check.
    """
    pyhf = _import_pyhf()
    path = None
    if not isinstance(workspace, Mapping):
        path = os.fspath(workspace)
        try:
            with open(path, encoding="utf-8") as fh:
                workspace = json.load(fh)
        except (OSError, json.JSONDecodeError) as exc:
            raise DataError(f"cannot read pyhf workspace {path!r}: {exc}") from exc
    _check_cl(cl)
    from hepsift.stats._fit import fit_backend

    with fit_backend() as pyhf:
        try:
            ws = pyhf.Workspace(dict(workspace))
            model = ws.model(measurement_name=measurement)
            data = ws.data(model)
        except (pyhf.exceptions.InvalidSpecification, pyhf.exceptions.InvalidMeasurement) as exc:
            raise DataError(f"invalid pyhf workspace: {exc}") from exc
        if max_mc_stat is not None:
            _check_workspace_mc_stat(workspace, max_mc_stat)
        guess = _spec_guess(workspace, model.config.poi_name)
        obs, exp, checks = _limits(pyhf, model, data, cl, rtol, guess, observed,
                                   where=f"workspace {path or '(dict)'}")
    return _result(obs, exp, checks, cl, sigma_theory, workspace, path)


def upper_limit(
    signal: Any,
    backgrounds: Any,
    *,
    data: Any = None,
    cl: float = 0.95,
    norm_uncertainties: Mapping[str, Any] | None = None,
    mc_stat: bool = True,
    signal_mc_stat: bool = False,
    sigma_theory: float | None = None,
    workspace_path: str | os.PathLike[str] | None = None,
    rtol: float = 1e-4,
    max_mc_stat: float | None = MAX_MC_STAT,
    rebin: float | None = None,
    overwrite: bool = False,
) -> UpperLimitResult:
    r"""Binned CLs upper limit on the signal strength mu (asymptotic :math:`\tilde q_\mu`), verified.

    Parameters
    ----------
    signal : histogram-like, shape (n_bins,)
        Expected signal per bin at mu = 1, normalised to ``sigma_theory`` x luminosity x
        efficiency. A bare array or list holds expected yields; ``(counts, sumw2[, edges])``,
        a mapping with ``sumw2``, ``hist.Hist``, ROOT ``TH1`` or ``RResultPtr<TH1D>`` (e.g. from
        ``RDataFrame.Histo1D``) also carry the MC statistical variance.
    backgrounds : histogram-like, list or mapping name -> histogram-like
        Background templates. **Bare arrays are expected yields with no MC statistical
        uncertainty**; give ``(counts, sumw2)`` or a histogram object to include it.
    data : histogram-like, optional
        Observed counts per bin; without it only the expected limit is computed and
        ``observed`` is None.
    cl : float, default 0.95
        Confidence level; CLs is solved for ``1 - cl``.
    norm_uncertainties : mapping, optional
        Relative normalisation uncertainties per sample, see :func:`build_workspace`.
    mc_stat, signal_mc_stat : bool
        MC statistical uncertainties (``staterror``) on the backgrounds / on the signal (only
        templates with a sumw2 get one).
    sigma_theory : float, optional
        Theory cross-section (pb); gives ``xsec_*`` limits ``sigma_up = mu_up * sigma_theory``.
    workspace_path : path, optional
        Write the pyhf JSON workspace there (refit with pyhf, cabinetry or ROOT).
    rtol : float, default 1e-4
        Relative tolerance of the root finding in mu.
    max_mc_stat : float or None, default 0.5
        With ``mc_stat``, refuse a model where a bin's background MC statistical relative
        uncertainty ``sqrt(sumw2)/counts`` exceeds this (equivalently an effective number of
        simulated events below ``1/max_mc_stat**2``). None disables the check (the fits and
        the result are still verified).
    rebin : float, optional
        First merge adjacent bins with :func:`rebin` until each bin's background MC
        statistical uncertainty is at most this value (data are merged alike).
    overwrite : bool, default False
        Replace an existing ``workspace_path`` (otherwise :class:`hepsift.OutputError`, raised
        before any fit).

    Returns
    -------
    UpperLimitResult
        With ``checks`` (CLs at every returned limit and either side of it), ``diagnostics``
        (per-bin background figures) and ``groups`` (merged bins) filled in.

    Raises
    ------
    hepsift.errors.DataError
        Empty histograms, NaN entries, negative yields, a bin without background,
        mismatched binning, a bin above ``max_mc_stat``.
    hepsift.errors.FitError
        A fit behind a returned number did not converge, or a number failed its check.
    """
    _check_cl(cl)
    if workspace_path is not None:
        from hepsift._atomic import check_output

        check_output(workspace_path, overwrite=overwrite, make_parents=True, what="workspace")
    groups = None
    if rebin is not None:
        merged = _rebin(signal, backgrounds, max_mc_stat=rebin, data=data)
        signal, backgrounds, data, groups = merged.signal, merged.backgrounds, merged.data, merged.groups
    sig, bkgs, _ = _prepare(signal, backgrounds, data)
    report = _report(sig, bkgs)
    if mc_stat and max_mc_stat is not None:
        _check_mc_stat(report, max_mc_stat)
    spec = build_workspace(
        signal,
        backgrounds,
        data=data,
        norm_uncertainties=norm_uncertainties,
        mc_stat=mc_stat,
        signal_mc_stat=signal_mc_stat,
    )
    from hepsift.stats._fit import fit_backend

    with fit_backend() as pyhf:
        with _quiet():
            ws = pyhf.Workspace(spec)
            model = ws.model()
            obs_data = ws.data(model)
        obs, exp, checks = _limits(pyhf, model, obs_data, cl, rtol, _spec_guess(spec, "mu"), data is not None,
                                   where="upper_limit")
    path = None
    if workspace_path is not None:
        from hepsift._atomic import atomic_output

        path = os.fspath(workspace_path)
        with atomic_output(path, overwrite=overwrite, make_parents=True) as tmp, open(tmp, "w", encoding="utf-8") as fh:
            json.dump(spec, fh, indent=2)
    return _result(obs, exp, checks, cl, sigma_theory, spec, path, report, groups)
