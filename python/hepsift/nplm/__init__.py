"""New Physics Learning Machine: a model-independent goodness-of-fit test.

D'Agnolo & Wulzer, arXiv:1806.02350 (neural mode); Letizia et al., arXiv:2204.02317
(kernel mode). :func:`test_statistic` computes t for data against a reference sample,
:func:`calibrate` makes its reference distribution from toys (fitted chi-square, KS check),
:func:`p_value` gives the global p-value and Z, :func:`export_onnx` writes the learned log
density ratio f(x) as ONNX, :func:`plot_nplm_null` draws the toys against the fitted
chi-square. Importing this package does not import PyTorch.
"""

from __future__ import annotations

from hepsift.nplm._core import MODES, NPLM, test_statistic
from hepsift.nplm._export import export_onnx
from hepsift.nplm._plots import plot_nplm_null
from hepsift.nplm._toys import NullDistribution, PValue, calibrate, fit_chi2, p_value

__all__ = [
    "MODES",
    "NPLM",
    "NullDistribution",
    "PValue",
    "calibrate",
    "export_onnx",
    "fit_chi2",
    "p_value",
    "plot_nplm_null",
    "test_statistic",
]
