"""Boosted decision trees and random forests (scikit-learn underneath, skl2onnx for export).

Tree models take the raw features: a split on ``x <= -998`` handles the -999 sentinel of absent
objects without imputation, and without a preprocessing step the exported file compares the
very same float32 values against the very same thresholds as scikit-learn does.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from hepsift.errors import ConfigurationError
from hepsift.models._base import (
    Config,
    Estimator,
    check_choice,
    check_weights,
    check_X,
    check_y,
)
from hepsift.models._onnx import combined_discriminant, sklearn_graph

__all__ = ["BDTClassifier", "BDTConfig", "RandomForestClassifier", "RandomForestConfig"]


class _TreeEstimator(Estimator):
    """Shared fit/predict/export of the scikit-learn tree ensembles."""

    def _make(self, task: str) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _validate(self) -> None:
        check_choice("class_weight", self.class_weight, (None, "balanced"))
        if int(self.n_estimators) < 1:
            raise ConfigurationError(f"n_estimators must be >= 1; got {self.n_estimators}")
        if self.max_depth is not None and int(self.max_depth) < 1:
            raise ConfigurationError(f"max_depth must be >= 1 or None; got {self.max_depth}")

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> Any:
        """Fit the ensemble.

        Parameters
        ----------
        X : array_like, shape (n_events, n_features); converted to float32, must be finite
        y : array_like, shape (n_events,); integer labels, or real targets for regression
        sample_weight : array_like, shape (n_events,), optional

        Returns
        -------
        self
        """
        self._validate()
        X = check_X(X)
        y, task = check_y(y, len(X), self.task)
        w_raw = check_weights(sample_weight, len(X))
        for attr in ("classes_", "signal_index_", "fractions_", "thresholds_", "oob_score_", "oob_error_"):
            self.__dict__.pop(attr, None)
        target, w = self._fit_targets(y, task, w_raw)
        self.task_ = task
        self.n_features_in_ = X.shape[1]
        est = self._make(task)
        est.fit(X, target, sample_weight=w)
        self.estimator_ = est
        self._after_fit(est)
        self._store_fit_summary(X, task, target, w_raw)
        self.provenance_ = self._provenance(self.seed, len(X), ("scikit-learn", "skl2onnx"),
                                            sklearn_estimator=type(est).__name__)
        return self

    def _after_fit(self, est: Any) -> None:
        pass

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, float32, shape (n_events, n_classes) (column 1 = signal for binary)."""
        self._check_fitted()
        if self.task_ == "regression":
            raise ConfigurationError("predict_proba is for classifiers; this model was fitted for regression: use predict")
        return self.estimator_.predict_proba(check_X(X, self.n_features_in_)).astype(np.float32)

    def decision_function(self, X: Any) -> np.ndarray:
        """Binary: ln(p/(1-p)) (clipped at p = 1e-7); multi-class: ``ln(p_sig / sum_k f_k p_k)``.

        Returns ndarray, float32, shape (n_events,); regression: :meth:`predict`.
        """
        self._check_fitted()
        if self.task_ == "regression":
            return self.predict(X)
        p = self.predict_proba(X)
        if self.task_ == "binary":
            q = np.clip(p[:, 1], 1e-7, 1 - 1e-7)
            return np.log(q / (1 - q)).astype(np.float32)
        return combined_discriminant(p, self.signal_index_, self.fractions_)

    def predict(self, X: Any) -> np.ndarray:
        """Class labels, or regression predictions (float32)."""
        self._check_fitted()
        Xc = check_X(X, self.n_features_in_)
        if self.task_ == "regression":
            return self.estimator_.predict(Xc).astype(np.float32)
        return self.classes_[np.argmax(self.estimator_.predict_proba(Xc), axis=1)]

    def _hepsift_onnx_(self, n_features: int, opset: int) -> tuple[Any, Any, str]:
        from hepsift.errors import InputMismatchError

        self._check_fitted()
        if n_features != self.n_features_in_:
            raise InputMismatchError(f"{n_features} feature names for a model fitted on {self.n_features_in_} features")
        proto, score, _ = sklearn_graph(self.estimator_, n_features, opset, self.task_,
                                        signal_index=getattr(self, "signal_index_", 1),
                                        fractions=getattr(self, "fractions_", None))
        if self.task_ == "binary":
            def native(Z: np.ndarray) -> np.ndarray:
                return self.predict_proba(Z)[:, 1]
        elif self.task_ == "multiclass":
            def native(Z: np.ndarray) -> np.ndarray:
                return self.predict_proba(Z)
        else:
            def native(Z: np.ndarray) -> np.ndarray:
                return self.predict(Z)
        return proto, native, score


@dataclass
class BDTConfig(Config):
    """Hyper-parameters of :class:`BDTClassifier`."""

    boosting: str = "adaboost"
    task: str = "auto"
    n_estimators: int = 200
    max_depth: int | None = 3
    learning_rate: float = 0.5
    subsample: float = 1.0
    min_samples_leaf: int = 1
    class_weight: str | None = None
    signal_class: int | None = None
    background_fractions: Any = None
    seed: int = 0


class BDTClassifier(_TreeEstimator):
    """Boosted decision trees: AdaBoost (as in TMVA analyses) or gradient boosting.

    Parameters
    ----------
    boosting : {"adaboost", "gradient"}
        ``adaboost``: SAMME AdaBoost of depth-``max_depth`` trees (Freund & Schapire 1997;
        Zhu et al. 2009); ``gradient``: gradient boosting with log-loss or squared error
        (Friedman, Ann. Statist. 29 (2001) 1189).
    task : {"auto", "binary", "multiclass", "regression"}
    n_estimators : int
    max_depth : int or None
    learning_rate : float
        Shrinkage (AdaBoost's ``learning_rate``, TMVA's ``AdaBoostBeta``).
    subsample : float
        Gradient boosting only: fraction of events per tree (stochastic boosting).
    min_samples_leaf : int
    class_weight : {None, "balanced"}
    signal_class, background_fractions :
        Multi-class discriminant, as for :class:`hepsift.models.MLPClassifier`.
    seed : int

    Attributes
    ----------
    estimator_ : the fitted scikit-learn ensemble
    classes_, task_, n_features_in_, thresholds_, provenance_
    """

    config_class: ClassVar[type[Any]] = BDTConfig

    def __init__(self, *, boosting: str = "adaboost", task: str = "auto", n_estimators: int = 200,
                 max_depth: int | None = 3, learning_rate: float = 0.5, subsample: float = 1.0,
                 min_samples_leaf: int = 1, class_weight: str | None = None, signal_class: int | None = None,
                 background_fractions: Any = None, seed: int = 0) -> None:
        self.boosting = boosting
        self.task = task
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.subsample = subsample
        self.min_samples_leaf = min_samples_leaf
        self.class_weight = class_weight
        self.signal_class = signal_class
        self.background_fractions = background_fractions
        self.seed = seed

    def _validate(self) -> None:
        super()._validate()
        check_choice("boosting", self.boosting, ("adaboost", "gradient"))
        if not float(self.learning_rate) > 0:
            raise ConfigurationError(f"learning_rate must be > 0; got {self.learning_rate}")
        if not 0.0 < float(self.subsample) <= 1.0:
            raise ConfigurationError(f"subsample must be in (0, 1]; got {self.subsample}")

    def _make(self, task: str) -> Any:
        from sklearn import ensemble, tree

        depth = None if self.max_depth is None else int(self.max_depth)
        leaf = int(self.min_samples_leaf)
        seed = int(self.seed)
        if self.boosting == "adaboost":
            if task == "regression":
                base = tree.DecisionTreeRegressor(max_depth=depth, min_samples_leaf=leaf, random_state=seed)
                return ensemble.AdaBoostRegressor(base, n_estimators=int(self.n_estimators),
                                                  learning_rate=float(self.learning_rate), random_state=seed)
            base = tree.DecisionTreeClassifier(max_depth=depth, min_samples_leaf=leaf, random_state=seed)
            return ensemble.AdaBoostClassifier(base, n_estimators=int(self.n_estimators),
                                               learning_rate=float(self.learning_rate), random_state=seed)
        kw = dict(n_estimators=int(self.n_estimators), max_depth=depth, learning_rate=float(self.learning_rate),
                  subsample=float(self.subsample), min_samples_leaf=leaf, random_state=seed)
        if task == "regression":
            return ensemble.GradientBoostingRegressor(**kw)
        return ensemble.GradientBoostingClassifier(**kw)


@dataclass
class RandomForestConfig(Config):
    """Hyper-parameters of :class:`RandomForestClassifier`."""

    task: str = "auto"
    n_estimators: int = 200
    max_depth: int | None = None
    min_samples_leaf: int = 1
    max_features: Any = "sqrt"
    oob_score: bool = True
    class_weight: str | None = None
    signal_class: int | None = None
    background_fractions: Any = None
    n_jobs: int = 1
    seed: int = 0


class RandomForestClassifier(_TreeEstimator):
    """Random forest (Breiman, Mach. Learn. 45 (2001) 5) with its out-of-bag error.

    Parameters
    ----------
    task : {"auto", "binary", "multiclass", "regression"}
    n_estimators, max_depth, min_samples_leaf, max_features :
        As scikit-learn's ``RandomForestClassifier``.
    oob_score : bool
        Evaluate every event with the trees that did not see it: ``oob_error_`` =
        1 - out-of-bag accuracy (classification) or 1 - out-of-bag R^2 (regression), a
        validation estimate that costs no held-out data.
    class_weight : {None, "balanced"}
    signal_class, background_fractions : multi-class discriminant
    n_jobs : int
        Threads for fitting and prediction.
    seed : int

    Attributes
    ----------
    estimator_, oob_score_, oob_error_, classes_, task_, n_features_in_, thresholds_, provenance_
    """

    config_class: ClassVar[type[Any]] = RandomForestConfig

    def __init__(self, *, task: str = "auto", n_estimators: int = 200, max_depth: int | None = None,
                 min_samples_leaf: int = 1, max_features: Any = "sqrt", oob_score: bool = True,
                 class_weight: str | None = None, signal_class: int | None = None,
                 background_fractions: Any = None, n_jobs: int = 1, seed: int = 0) -> None:
        self.task = task
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.oob_score = oob_score
        self.class_weight = class_weight
        self.signal_class = signal_class
        self.background_fractions = background_fractions
        self.n_jobs = n_jobs
        self.seed = seed

    def _make(self, task: str) -> Any:
        from sklearn import ensemble

        kw = dict(n_estimators=int(self.n_estimators), max_depth=None if self.max_depth is None else int(self.max_depth),
                  min_samples_leaf=int(self.min_samples_leaf), max_features=self.max_features,
                  oob_score=bool(self.oob_score), bootstrap=True, n_jobs=int(self.n_jobs), random_state=int(self.seed))
        if task == "regression":
            return ensemble.RandomForestRegressor(**kw)
        return ensemble.RandomForestClassifier(**kw)

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> RandomForestClassifier:
        import warnings

        with warnings.catch_warnings():
            # few trees leave some events without out-of-bag predictions; the score is still defined
            warnings.filterwarnings("ignore", message="Some inputs do not have OOB scores")
            return super().fit(X, y, sample_weight)

    def _after_fit(self, est: Any) -> None:
        if self.oob_score:
            self.oob_score_ = float(est.oob_score_)
            self.oob_error_ = 1.0 - self.oob_score_


for _cfg, _cls in ((BDTConfig, BDTClassifier), (RandomForestConfig, RandomForestClassifier)):
    assert [f.name for f in dataclasses.fields(_cfg)] == _cls._param_names()
