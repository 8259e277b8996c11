"""Parameterised classifier: the signal mass as an input feature.

Baldi, Cranmer, Faucett, Sadowski, Whiteson, "Parameterized neural networks for high-energy
physics", Eur. Phys. J. C 76 (2016) 235 [arXiv:1601.07913]: one network trained on signals at
several masses, with the mass hypothesis as an extra input, interpolates to masses it never
saw. Background events have no mass; they are given masses drawn at random from the signal
events' masses, so that the mass input alone carries no information about the class.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from hepsift.data._masses import assign_background_masses
from hepsift.errors import ConfigurationError, DataError
from hepsift._estimator import Config
from hepsift.models._base import Supervised, check_weights, check_X, check_y

__all__ = ["ParameterizedClassifier", "ParameterizedConfig", "LeaveOneMassOut", "leave_one_mass_out",
]


def _estimator_classes() -> dict[str, type]:
    from hepsift.models.mlp import MLPClassifier
    from hepsift.models.trees import BDTClassifier, RandomForestClassifier

    return {c.__name__: c for c in (MLPClassifier, BDTClassifier, RandomForestClassifier)}


@dataclass
class ParameterizedConfig(Config):
    """Hyper-parameters of :class:`ParameterizedClassifier`.

    ``estimator`` is ``{"class": "MLPClassifier", "config": {...}}`` (or None: an MLP with
    default settings).
    """

    estimator: Any = None
    mass_index: int = -1
    mass_feature: str = "mass"
    seed: int = 0


class ParameterizedClassifier(Supervised):
    """A binary classifier whose input includes the signal-mass hypothesis.

    Parameters
    ----------
    estimator : hepsift estimator, optional
        The unfitted model to train (default :class:`hepsift.models.MLPClassifier` with
        default settings); it is cloned at ``fit``.
    mass_index : int
        Column of ``X`` that holds the mass (default: the last).
    mass_feature : str
        Name of the mass input, stored as ``hepsift.mass_parameter`` in the exported file. To
        score an ntuple at hypothesis m in RDataFrame, define that column first, e.g.
        ``df.Define("mass", "1000.f")``.
    seed : int
        Seeds the background-mass draw.

    Attributes
    ----------
    estimator_ : the fitted inner estimator
    masses_ : ndarray, the distinct signal masses seen in training
    mass_index_ : int (non-negative)
    classes_, n_features_in_, threshold_, provenance_

    Notes
    -----
    ``fit`` needs signal events at one or more masses in the mass column; background rows of
    that column are overwritten by draws from the signal masses
    (:func:`hepsift.data.assign_background_masses`).
    """

    _packages: ClassVar[tuple[str, ...]] = ("torch", "scikit-learn")
    config_class: ClassVar[type[Any]] = ParameterizedConfig

    def __init__(self, *, estimator: Any = None, mass_index: int = -1, mass_feature: str = "mass",
                 seed: int = 0) -> None:
        self.estimator = estimator
        self.mass_index = mass_index
        self.mass_feature = mass_feature
        self.seed = seed

    # configs hold the inner estimator as a plain dict
    def to_config(self) -> ParameterizedConfig:
        inner = self.estimator
        if inner is not None and not isinstance(inner, Mapping):
            inner = {"class": type(inner).__name__, "config": inner.to_config().to_dict()}
        return ParameterizedConfig(estimator=inner, mass_index=self.mass_index, mass_feature=self.mass_feature,
                                   seed=self.seed)

    @classmethod
    def from_config(cls, config: Any) -> ParameterizedClassifier:
        if isinstance(config, str):
            config = ParameterizedConfig.from_json(config)
        elif isinstance(config, Mapping):
            config = ParameterizedConfig.from_dict(config)
        inner = config.estimator
        if isinstance(inner, Mapping):
            classes = _estimator_classes()
            if inner.get("class") not in classes:
                raise ConfigurationError(f"unknown inner estimator {inner.get('class')!r}; known: {sorted(classes)}")
            inner = classes[inner["class"]].from_config(inner.get("config", {}))
        return cls(estimator=inner, mass_index=config.mass_index, mass_feature=config.mass_feature, seed=config.seed)

    def _inner(self) -> Any:
        if self.estimator is None:
            from hepsift.models.mlp import MLPClassifier

            return MLPClassifier()
        if isinstance(self.estimator, Mapping):
            return type(self).from_config(self.to_config()).estimator
        if not hasattr(self.estimator, "_hepsift_onnx_") or not hasattr(self.estimator, "clone"):
            raise ConfigurationError(f"estimator must be a hepsift estimator; got {type(self.estimator).__name__}")
        return self.estimator.clone()

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> ParameterizedClassifier:
        """Fit on events whose mass column holds the signal mass (backgrounds: any value).

        Parameters
        ----------
        X : array_like, shape (n_events, n_features); column ``mass_index`` is the mass [GeV]
        y : array_like, shape (n_events,); 1 signal, 0 background
        sample_weight : array_like, shape (n_events,), optional

        Returns
        -------
        self
        """
        X = check_X(X).copy()
        y, task = check_y(y, len(X), "binary")
        w = check_weights(sample_weight, len(X))
        n_f = X.shape[1]
        if not -n_f <= int(self.mass_index) < n_f:
            raise ConfigurationError(f"mass_index {self.mass_index} is outside the {n_f} features")
        self.mass_index_ = int(self.mass_index) % n_f
        signal_label = np.max(y)
        X[:, self.mass_index_] = assign_background_masses(X[:, self.mass_index_], y, int(self.seed), signal_label)
        self.masses_ = np.unique(X[y == signal_label, self.mass_index_])
        inner = self._inner()
        inner.fit(X, y, sample_weight=w)
        self.estimator_ = inner
        self.classes_ = inner.classes_
        self.task_ = task
        self.mass_feature_ = str(self.mass_feature)
        self.n_features_in_ = n_f
        self.threshold_ = getattr(inner, "threshold_", None)
        self._parity_sample = getattr(inner, "_parity_sample", None)
        self.provenance_ = self._provenance(len(X), w, masses=self.masses_.tolist(), inner=getattr(inner, "provenance_", None))
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities at the masses in the mass column, float32, shape (n_events, 2)."""
        self._check_fitted()
        return self.estimator_.predict_proba(X)

    def decision_function(self, X: Any) -> np.ndarray:
        """The inner estimator's decision function, float32, shape (n_events,)."""
        self._check_fitted()
        return self.estimator_.decision_function(X)

    def predict(self, X: Any) -> np.ndarray:
        self._check_fitted()
        return self.estimator_.predict(X)

    def with_mass(self, X: Any, mass: float) -> np.ndarray:
        """``X`` with its mass column set to the hypothesis ``mass`` (float32 copy)."""
        self._check_fitted()
        out = check_X(X, self.n_features_in_).copy()
        out[:, self.mass_index_] = np.float32(mass)
        return out

    def predict_proba_at(self, X: Any, mass: float) -> np.ndarray:
        """Probabilities of every event under the hypothesis ``mass`` [GeV], shape (n_events, 2)."""
        return self.predict_proba(self.with_mass(X, mass))

    def _hepsift_onnx_(self, n_features: int, opset: int) -> tuple[Any, Any, str]:
        self._check_fitted()
        return self.estimator_._hepsift_onnx_(n_features, opset)


@dataclass
class LeaveOneMassOut:
    """Result of :func:`leave_one_mass_out`: AUC per signal mass, for a model trained on all
    masses (``auc_all``) and one trained without that mass (``auc_without``, interpolation)."""

    masses: list[float]
    auc_all: dict[float, float]
    auc_without: dict[float, float]

    def table(self) -> str:
        """A printable table."""
        lines = [f"{'mass':>10} {'AUC (all masses)':>18} {'AUC (mass left out)':>21}"]
        for m in self.masses:
            lines.append(f"{m:10.1f} {self.auc_all[m]:18.4f} {self.auc_without[m]:21.4f}")
        return "\n".join(lines)


def leave_one_mass_out(model: ParameterizedClassifier, X_train: Any, y_train: Any, X_test: Any, y_test: Any,
                       w_train: Any = None, w_test: Any = None, masses: Any = None,
                       metric: Callable[..., float] | None = None) -> LeaveOneMassOut:
    """Leave-one-mass-out interpolation test of a parameterised classifier.

    For each signal mass m: fit ``model`` without the training signal at m, then score the test
    signal at m together with all test backgrounds (mass column set to m); compare with the
    model fitted on every mass. An interpolating model loses little AUC (Baldi et al. 2016, Fig. 4).

    Parameters
    ----------
    model : ParameterizedClassifier (unfitted; cloned)
    X_train, y_train, w_train : training events (mass column = signal mass)
    X_test, y_test, w_test : test events (same layout)
    masses : sequence of float, optional; the masses to leave out (default: every training
        mass except the lowest and the highest, which would be extrapolation)
    metric : callable ``metric(y, score, sample_weight)``; default ROC AUC

    Returns
    -------
    LeaveOneMassOut
    """
    if metric is None:
        from sklearn.metrics import roc_auc_score as metric  # type: ignore[no-redef]
    Xtr = check_X(X_train)
    ytr = np.asarray(y_train)
    Xte = check_X(X_test, Xtr.shape[1])
    yte = np.asarray(y_test)
    wtr = check_weights(w_train, len(Xtr))
    wte = check_weights(w_test, len(Xte))
    j = int(model.mass_index) % Xtr.shape[1]
    all_m = np.unique(Xtr[ytr == 1, j])
    if masses is None:
        if len(all_m) < 3:
            raise DataError(f"leave-one-mass-out needs at least three signal masses; got {all_m.tolist()}")
        masses = all_m[1:-1]
    masses = [float(m) for m in masses]
    full = model.clone().fit(Xtr, ytr, wtr)

    def score(est: Any, m: float) -> float:
        sel = (yte == 0) | ((yte == 1) & np.isclose(Xte[:, j], m))
        Xm = Xte[sel].copy()
        Xm[:, j] = np.float32(m)
        return float(metric(yte[sel], est.predict_proba(Xm)[:, 1], sample_weight=wte[sel]))

    auc_all, auc_without = {}, {}
    for m in masses:
        keep = ~((ytr == 1) & np.isclose(Xtr[:, j], m))
        est = model.clone().fit(Xtr[keep], ytr[keep], wtr[keep])
        auc_all[m] = score(full, m)
        auc_without[m] = score(est, m)
    return LeaveOneMassOut(masses, auc_all, auc_without)


assert [f.name for f in dataclasses.fields(ParameterizedConfig)] == ParameterizedClassifier._param_names()
