"""Statistics: significances, CLs upper limits, luminosity projections, transferability.

Light to import: pyhf, ROOT and matplotlib are imported only by the functions that need them.

Significance: :func:`simple_significance`, :func:`asimov_significance` (Cowan et al.,
arXiv:1007.1727), :func:`best_cut`, :func:`significance_vs_luminosity`.
Limits: :func:`upper_limit` (pyhf HistFactory model, asymptotic CLs with q~_mu, every
returned number verified, :class:`LimitCheck`), :func:`upper_limit_from_workspace`,
:func:`build_workspace`, :func:`upper_limit_roostats` (RooStats cross-check),
:func:`cross_section_limit`, :func:`signal_strength`; background MC statistics per bin
:func:`mc_stat_report` and :func:`rebin` (merge bins until each meets a limit).
Histogram inputs: :func:`as_histogram` (numpy, ``hist``, ROOT TH1; bare arrays are expected
yields without MC statistical uncertainty); :func:`score_histograms` bins per-event scores and
weights (numpy or RDataFrame results) into signal and background histograms with sumw2, on
background quantiles merged by :func:`merge_bins` to a MC statistics limit.
Plots and tables: :func:`brazil_plot`, :func:`transferability_matrix`.
"""

from __future__ import annotations

from hepsift.stats._hist import Histogram, as_histogram
from hepsift.stats._scores import merge_bins, score_histograms
from hepsift.stats.limits import (
    LimitCheck,
    MCStatReport,
    RebinResult,
    UpperLimitResult,
    build_workspace,
    cross_section_limit,
    mc_stat_report,
    rebin,
    signal_strength,
    upper_limit,
    upper_limit_from_workspace,
)
from hepsift.stats.plots import brazil_plot, plot_significance_vs_luminosity, plot_transferability
from hepsift.stats.roostats import upper_limit_roostats
from hepsift.stats.significance import (
    CutScanResult,
    LuminosityScan,
    asimov_significance,
    best_cut,
    significance_vs_luminosity,
    simple_significance,
)
from hepsift.stats.transfer import TransferabilityResult, transferability_matrix

__all__ = [
    "CutScanResult",
    "Histogram",
    "LimitCheck",
    "LuminosityScan",
    "MCStatReport",
    "RebinResult",
    "TransferabilityResult",
    "UpperLimitResult",
    "as_histogram",
    "asimov_significance",
    "best_cut",
    "brazil_plot",
    "build_workspace",
    "cross_section_limit",
    "mc_stat_report",
    "merge_bins",
    "plot_significance_vs_luminosity",
    "plot_transferability",
    "rebin",
    "score_histograms",
    "signal_strength",
    "significance_vs_luminosity",
    "simple_significance",
    "transferability_matrix",
    "upper_limit",
    "upper_limit_from_workspace",
    "upper_limit_roostats",
]
