"""Supervised estimators with a scikit-learn-like API and ONNX export.

* :class:`MLPClassifier`: fully connected network (PyTorch): binary, multi-class (softmax, with
  the combined discriminant ``ln(p_sig / sum_k f_k p_k)``) and regression; BCE or the Asimov
  loss (:mod:`hepsift.models.losses`).
* :class:`BDTClassifier`: histogram gradient boosting (default; scikit-learn's
  ``HistGradientBoosting*``, exported by hepsift's own converter with float32-exact cuts), exact
  gradient boosting or AdaBoost; :class:`RandomForestClassifier` with its out-of-bag error.
* :class:`ParameterizedClassifier`: the signal mass as an input (Baldi et al. 2016), with
  :func:`leave_one_mass_out`.

Every estimator: ``__init__`` only stores parameters, ``fit(X, y, sample_weight=None)`` returns
the estimator, learned state ends in ``_``, ``predict_proba`` / ``decision_function`` /
``predict``, ``get_params`` / ``set_params``, a configuration dataclass (``to_config`` /
``from_config``, JSON round trip), ``save`` / :func:`load`, and export to one ONNX file with
the preprocessing and the score head inside, either by ``model.to_onnx(path, feature_names)``
or by :func:`hepsift.export.to_onnx`::

    from hepsift.models import MLPClassifier
    clf = MLPClassifier(hidden_layers=(64, 64), epochs=30, seed=1).fit(X, y, sample_weight=w)
    clf.to_onnx("mlp.onnx", feature_names)         # then hepsift.rdf.define(df, "score", "mlp.onnx")

Models of low-level inputs (binary classifiers, PyTorch):

* :class:`DeepSetsClassifier`: Deep Sets over a set of objects per event (padded ``[N, P, F]``
  with a mask ``[N, P]``, jagged awkward arrays or ROOT files);
* :class:`JetTagger`: Deep Sets over each jet's constituents, one score per jet (``[N, J]``);
* :class:`CNNClassifier` (seed 001's layout by default) and :class:`LCNNClassifier` (locally
  connected layers) on images ``[N, C, H, W]``.

Their ONNX inputs and metadata are described in :mod:`hepsift.models._lowlevel`.

Binary classifiers export one ``score`` output (the signal probability); multi-class ones
``probabilities`` (the score, K wide) and ``discriminant``; regressors ``prediction``.
"""

from __future__ import annotations

from hepsift.models._base import Config, Estimator, load, validation_split
from hepsift.models.images import CNNClassifier, CNNConfig, LCNNClassifier, LCNNConfig
from hepsift.models.mlp import PRESETS, MLPClassifier, MLPConfig
from hepsift.models.parameterized import (
    LeaveOneMassOut,
    ParameterizedClassifier,
    ParameterizedConfig,
    leave_one_mass_out,
)
from hepsift.models.sets import DeepSetsClassifier, DeepSetsConfig, JetTagger, JetTaggerConfig, group_by_jet, pad_sets
from hepsift.models.trees import BDTClassifier, BDTConfig, RandomForestClassifier, RandomForestConfig

__all__ = [
    "BDTClassifier",
    "BDTConfig",
    "CNNClassifier",
    "CNNConfig",
    "Config",
    "DeepSetsClassifier",
    "DeepSetsConfig",
    "Estimator",
    "JetTagger",
    "JetTaggerConfig",
    "LCNNClassifier",
    "LCNNConfig",
    "LeaveOneMassOut",
    "MLPClassifier",
    "MLPConfig",
    "PRESETS",
    "ParameterizedClassifier",
    "ParameterizedConfig",
    "RandomForestClassifier",
    "RandomForestConfig",
    "group_by_jet",
    "leave_one_mass_out",
    "load",
    "make",
    "pad_sets",
    "validation_split",
]

_NAMES = {"mlp": "MLPClassifier", "nn": "MLPClassifier", "bdt": "BDTClassifier", "rf": "RandomForestClassifier",
          "pnn": "ParameterizedClassifier"}


def make(name: str, **params: object) -> Estimator:
    """An estimator by short name: ``mlp``, ``bdt``, ``rf`` or ``pnn`` (parameters passed on).

    ``bdt`` takes ``boosting="hist"`` (default), ``"gradient"`` or ``"adaboost"``; ``pnn`` an ``estimator=``.
    """
    from hepsift.errors import ConfigurationError

    cls_name = _NAMES.get(name.lower())
    if cls_name is None:
        raise ConfigurationError(f"unknown model type {name!r}; choose one of {', '.join(sorted(_NAMES))}")
    cls = globals()[cls_name]
    return cls(**params)  # type: ignore[no-any-return]
