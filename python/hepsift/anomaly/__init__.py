"""Anomaly detectors trained on background only, exported to ONNX with their score head.

Four detectors share one contract (``fit(X)`` on background, ``decision_function(X)``
higher = more anomalous, thresholds at fixed background efficiencies in ``threshold_``,
``save``/``load``, configuration dataclasses that round-trip to JSON, and export with
:func:`hepsift.export.to_onnx` or the ``to_onnx`` method):

* :class:`AutoEncoder` -- reconstruction error;
* :class:`DeepSVDD` -- squared distance to a fixed centre in a bias-free embedding
  (Ruff et al., ICML 2018);
* :class:`IsolationForest` -- isolation depth (Liu, Ting & Zhou, ICDM 2008);
* :class:`HBOS` -- sum of -ln histogram heights (Goldstein & Dengel, 2012).

Example
-------
>>> import numpy as np
>>> from hepsift.anomaly import HBOS
>>> rng = np.random.default_rng(0)
>>> det = HBOS(n_bins=20).fit(rng.normal(size=(5000, 3)), feature_names=["a", "b", "c"])
>>> det.calibration_size_, sorted(det.threshold_)   # 1e-4 < 1/1000 is not resolvable: left out
(1000, ['1e-2', '1e-3'])
>>> bool(det.decision_function(np.array([[8.0, -8.0, 0.0]]))[0] > det.threshold_["1e-3"])
True

Expected CLs limits on the signal strength per detector, signal and background efficiency,
against a supervised classifier and an H_T cut: :func:`limit_table`.

Evaluation helpers (AUC, signal efficiency at fixed background efficiency, DarkMachines
metrics, score correlations, combinations, comparison tables) are in
:mod:`hepsift.anomaly.evaluate`.
"""

from __future__ import annotations

from hepsift.anomaly._base import EFFICIENCIES, Detector, efficiency_key
from hepsift._missing import MISSING, sanitised_features
from hepsift._saved import load
from hepsift.anomaly._forest import IsolationForest, IsolationForestConfig
from hepsift.anomaly._hbos import HBOS, HBOSConfig
from hepsift.anomaly._limit_table import LimitCell, LimitTable, limit_table, limit_table_from_root
from hepsift.anomaly._neural import AutoEncoder, AutoEncoderConfig, DeepSVDD, DeepSVDDConfig

__all__ = [
    "AutoEncoder",
    "AutoEncoderConfig",
    "DeepSVDD",
    "DeepSVDDConfig",
    "IsolationForest",
    "IsolationForestConfig",
    "HBOS",
    "HBOSConfig",
    "Detector",
    "DETECTORS",
    "EFFICIENCIES",
    "MISSING",
    "efficiency_key",
    "sanitised_features",
    "load",
    "LimitCell",
    "LimitTable",
    "limit_table",
    "limit_table_from_root",
]

#: Short name -> detector class (used by the command line).
DETECTORS: dict[str, type[Detector]] = {
    "autoencoder": AutoEncoder,
    "deepsvdd": DeepSVDD,
    "iforest": IsolationForest,
    "hbos": HBOS,
}
