"""New Physics Learning Machine: a model-independent goodness-of-fit test.

D'Agnolo & Wulzer, arXiv:1806.02350 (neural mode); Letizia et al., arXiv:2204.02317
(kernel mode). :func:`test_statistic` computes t for data against a reference sample,
:func:`calibrate` makes its reference distribution from toys (fitted chi-square, KS check),
:func:`p_value` gives the global p-value and Z, :meth:`NPLM.to_onnx` writes the learned log
density ratio f(x) as ONNX, :func:`plot_nplm_null` draws the toys against the fitted
chi-square. Importing this package does not import PyTorch.
"""

from __future__ import annotations

from hepsift.nplm._model import MODES, NPLM, NPLMConfig, test_statistic
from hepsift.nplm._plots import plot_nplm_null
from hepsift.nplm._toys import NullDistribution, PValue, calibrate, fit_chi2, p_value

__all__ = [
    "MODES",
    "NPLM",
    "NPLMConfig",
    "NullDistribution",
    "PValue",
    "calibrate",
    "fit_chi2",
    "p_value",
    "plot_nplm_null",
    "test_statistic",
]
