"""Boosted decision trees and random forests (scikit-learn underneath).

Export: skl2onnx for the exact boosters and the random forest, hepsift's own converter
(:func:`hepsift.models._onnx.hist_graph`) for the histogram booster. Tree models take the raw
features: a cut between -999 and the smallest real value handles the sentinel of absent objects
without imputation, and without a preprocessing step the exported file compares the very same
float32 values against float32 thresholds that route every float32 event as scikit-learn does.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from hepsift._estimator import Config
from hepsift.errors import ConfigurationError
from hepsift.models._base import (
    Supervised,
    check_choice,
    check_weights,
    check_X,
    check_y,
)
from hepsift.models._onnx import combined_discriminant, float32_floor, hist_graph, sklearn_graph

__all__ = ["BOOSTER_DEFAULTS", "BDTClassifier", "BDTConfig", "RandomForestClassifier", "RandomForestConfig",
           "hist_thresholds", "threshold_probes"]


class _TreeEstimator(Supervised):
    """Shared fit/predict/export of the scikit-learn tree ensembles."""

    def _uniform_weights_as_none(self) -> bool:
        """Whether equal event weights are passed to scikit-learn as no weights."""
        return False

    def _make(self, task: str, n_events: int) -> Any:  # pragma: no cover - abstract
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
        for attr in ("classes_", "signal_index_", "fractions_", "threshold_", "oob_score_", "oob_error_",
                     "booster_params_", "n_iter_"):
            self.__dict__.pop(attr, None)
        target, w = self._fit_targets(y, task, w_raw)
        self.task_ = task
        self.n_features_in_ = X.shape[1]
        est = self._make(task, len(X))
        if self._uniform_weights_as_none() and np.all(w == w[0]):
            # equal weights are no weights; scikit-learn's histogram booster then takes its
            # unweighted (and faster) binning path
            w = None
        with self._thread_limit():
            est.fit(X, target, sample_weight=w)
        self.estimator_ = est
        self._after_fit(est)
        self._store_fit_summary(X, task, target, w_raw)
        extra = {"booster_params": self.booster_params_, "n_iter": self.n_iter_} if hasattr(self, "n_iter_") else {}
        self.provenance_ = self._provenance(len(X), w_raw, sklearn_estimator=type(est).__name__, **extra)
        return self

    def _after_fit(self, est: Any) -> None:
        pass

    def _thread_limit(self) -> Any:
        """Context that limits OpenMP to the ``threads`` parameter (when the estimator has one, not None)."""
        import contextlib

        n = getattr(self, "threads", None)
        if n is None:
            return contextlib.nullcontext()
        from threadpoolctl import threadpool_limits

        return threadpool_limits(limits=int(n), user_api="openmp")

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, float32, shape (n_events, n_classes) (column 1 = signal for binary)."""
        self._check_fitted()
        if self.task_ == "regression":
            raise ConfigurationError("predict_proba is for classifiers; this model was fitted for regression: use predict")
        Xc = check_X(X, self.n_features_in_)
        with self._thread_limit():
            return self.estimator_.predict_proba(Xc).astype(np.float32)

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
            with self._thread_limit():
                return self.estimator_.predict(Xc).astype(np.float32)
        with self._thread_limit():
            return self.classes_[np.argmax(self.estimator_.predict_proba(Xc), axis=1)]

    def _hepsift_onnx_(self, n_features: int, opset: int) -> tuple[Any, Any, str]:
        from hepsift.errors import InputMismatchError

        self._check_fitted()
        if n_features != self.n_features_in_:
            raise InputMismatchError(f"{n_features} feature names for a model fitted on {self.n_features_in_} features")
        convert = hist_graph if hasattr(self.estimator_, "_predictors") else sklearn_graph
        proto, score, _ = convert(self.estimator_, n_features, opset, self.task_,
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


#: Per-booster values of the parameters left at ``"auto"``.
BOOSTER_DEFAULTS: dict[str, dict[str, Any]] = {
    # scikit-learn's HistGradientBoostingClassifier defaults (Ke et al., LightGBM, NIPS 2017)
    "hist": {"n_estimators": 100, "max_depth": None, "learning_rate": 0.1, "min_samples_leaf": 20,
             "max_leaf_nodes": 31},
    "gradient": {"n_estimators": 200, "max_depth": 3, "learning_rate": 0.5, "min_samples_leaf": 1,
                 "max_leaf_nodes": None},
    "adaboost": {"n_estimators": 200, "max_depth": 3, "learning_rate": 0.5, "min_samples_leaf": 1,
                 "max_leaf_nodes": None},
}
#: Events above which ``early_stopping="auto"`` holds out a validation set (``boosting="hist"``).
AUTO_EARLY_STOPPING_EVENTS = 10_000
_HIST_ONLY = {"l2_regularization": 0.0, "max_bins": 255}


@dataclass
class BDTConfig(Config):
    """Hyper-parameters of :class:`BDTClassifier`."""

    boosting: str = "hist"
    task: str = "auto"
    n_estimators: Any = "auto"
    max_depth: Any = "auto"
    learning_rate: Any = "auto"
    subsample: float = 1.0
    min_samples_leaf: Any = "auto"
    max_leaf_nodes: Any = "auto"
    l2_regularization: float = 0.0
    max_bins: int = 255
    early_stopping: Any = "auto"
    validation_fraction: float = 0.1
    patience: int = 10
    class_weight: str | None = None
    signal_class: int | None = None
    background_fractions: Any = None
    threads: int | None = None
    seed: int = 0


class BDTClassifier(_TreeEstimator):
    """Boosted decision trees: histogram gradient boosting (default), exact gradient boosting or AdaBoost.

    Parameters
    ----------
    boosting : {"hist", "gradient", "adaboost"}
        ``hist`` (default): gradient boosting on binned features (scikit-learn's
        ``HistGradientBoosting*``; Ke et al., LightGBM, NIPS 2017): each feature is cut into at most
        ``max_bins`` bins (quantiles of the training sample), trees grow leaf-wise up to
        ``max_leaf_nodes`` leaves; about half a minute for a million events and 30 features
        on one core. ``gradient``: exact gradient boosting with log-loss or squared error
        (Friedman, Ann. Statist. 29 (2001) 1189), hundreds of times slower on large samples.
        ``adaboost``: SAMME AdaBoost of depth-``max_depth`` trees (Freund & Schapire 1997;
        Zhu et al. 2009), as in TMVA analyses.
    task : {"auto", "binary", "multiclass", "regression"}
    n_estimators : int or "auto"
        Boosting iterations (an upper bound when early stopping is on). ``"auto"``: 100 for
        ``hist``, 200 otherwise.
    max_depth : int, None or "auto"
        Depth limit of each tree (None: unlimited). ``"auto"``: None for ``hist`` (the trees are
        bounded by ``max_leaf_nodes``), 3 otherwise.
    learning_rate : float or "auto"
        Shrinkage (AdaBoost's ``learning_rate``, TMVA's ``AdaBoostBeta``). ``"auto"``: 0.1 for
        ``hist``, 0.5 otherwise.
    subsample : float
        ``gradient`` only: fraction of events per tree (stochastic boosting).
    min_samples_leaf : int or "auto"
        ``"auto"``: 20 for ``hist``, 1 otherwise.
    max_leaf_nodes : int, None or "auto"
        Leaves per tree (None: unlimited). ``"auto"``: 31 for ``hist``, None otherwise.
    l2_regularization : float
        ``hist`` only: L2 penalty on the leaf values.
    max_bins : int
        ``hist`` only: bins per feature (2 to 255).
    early_stopping : {"auto", True, False}
        Hold out ``validation_fraction`` of the events (stratified, seeded by ``seed``; never used
        to grow trees) and stop when the validation loss has not improved for ``patience``
        iterations. ``"auto"``: on for ``hist`` above 10 000 events (as scikit-learn), off for
        ``gradient``; ``adaboost`` does not support it.
    validation_fraction : float
    patience : int
    class_weight : {None, "balanced"}
    signal_class, background_fractions :
        Multi-class discriminant, as for :class:`hepsift.models.MLPClassifier`.
    threads : int or None
        OpenMP threads of ``fit`` and prediction (``hist``; the other boosters use one). None:
        scikit-learn's default, every core. On a machine shared with other jobs, threads that
        wait for each other can make ``hist`` ten times slower than ``threads=1``.
    seed : int
        Seeds the binning subsample (above 200 000 events), the early-stopping split and the
        stochastic parts of ``gradient`` and ``adaboost``.

    Attributes
    ----------
    estimator_ : the fitted scikit-learn ensemble
    booster_params_ : dict, the resolved values of the ``"auto"`` parameters
    n_iter_ : int, boosting iterations actually run
    classes_, task_, n_features_in_, threshold_, provenance_

    Notes
    -----
    Trees take the raw features, the -999 sentinel included (a cut between -999 and the
    smallest real value separates absent objects). A histogram booster places its cuts at
    float64 midpoints between float32 feature values, which an ONNX tree ensemble (float32
    thresholds) compares with float32 inputs; rounded to the nearest float32, a cut can land on
    the float32 just above it and send events at that value down the other branch. The export
    writes every cut ``t`` as the largest float32 ``t32 <= t`` instead
    (:func:`hepsift.models._onnx.float32_floor`): for every float32 ``x``, ``x <= t`` holds
    exactly when ``x <= t32`` does, and hepsift feeds float32 features to both the native
    model and the file. The parity sample of the export includes events exactly at the cuts
    and one float32 step either side (:func:`threshold_probes`).
    """

    _packages: ClassVar[tuple[str, ...]] = ("scikit-learn", "skl2onnx")
    config_class: ClassVar[type[Any]] = BDTConfig

    def __init__(self, *, boosting: str = "hist", task: str = "auto", n_estimators: Any = "auto",
                 max_depth: Any = "auto", learning_rate: Any = "auto", subsample: float = 1.0,
                 min_samples_leaf: Any = "auto", max_leaf_nodes: Any = "auto", l2_regularization: float = 0.0,
                 max_bins: int = 255, early_stopping: Any = "auto", validation_fraction: float = 0.1,
                 patience: int = 10, class_weight: str | None = None, signal_class: int | None = None,
                 background_fractions: Any = None, threads: int | None = None, seed: int = 0) -> None:
        self.boosting = boosting
        self.task = task
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.subsample = subsample
        self.min_samples_leaf = min_samples_leaf
        self.max_leaf_nodes = max_leaf_nodes
        self.l2_regularization = l2_regularization
        self.max_bins = max_bins
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.class_weight = class_weight
        self.signal_class = signal_class
        self.background_fractions = background_fractions
        self.threads = threads
        self.seed = seed

    def _uniform_weights_as_none(self) -> bool:
        return bool(self.boosting == "hist")

    def _resolved(self) -> dict[str, Any]:
        """The per-booster parameters with ``"auto"`` replaced by :data:`BOOSTER_DEFAULTS`."""
        defaults = BOOSTER_DEFAULTS[self.boosting]
        return {k: (v if (v := getattr(self, k)) != "auto" else d) for k, d in defaults.items()}

    def _validate(self) -> None:
        check_choice("boosting", self.boosting, tuple(BOOSTER_DEFAULTS))
        check_choice("class_weight", self.class_weight, (None, "balanced"))
        check_choice("early_stopping", self.early_stopping, ("auto", True, False))
        r = self._resolved()
        if not _is_int(r["n_estimators"], 1):
            raise ConfigurationError(f"n_estimators must be an integer >= 1 or 'auto'; got {self.n_estimators!r}")
        if r["max_depth"] is not None and not _is_int(r["max_depth"], 1):
            raise ConfigurationError(f"max_depth must be an integer >= 1, None or 'auto'; got {self.max_depth!r}")
        if not isinstance(r["learning_rate"], (int, float, np.number)) or not r["learning_rate"] > 0:
            raise ConfigurationError(f"learning_rate must be > 0 or 'auto'; got {self.learning_rate!r}")
        if not _is_int(r["min_samples_leaf"], 1):
            raise ConfigurationError(
                f"min_samples_leaf must be an integer >= 1 or 'auto'; got {self.min_samples_leaf!r}")
        if r["max_leaf_nodes"] is not None and not _is_int(r["max_leaf_nodes"], 2):
            raise ConfigurationError(
                f"max_leaf_nodes must be an integer >= 2, None or 'auto'; got {self.max_leaf_nodes!r}")
        if not 0.0 < float(self.subsample) <= 1.0:
            raise ConfigurationError(f"subsample must be in (0, 1]; got {self.subsample}")
        if self.subsample != 1.0 and self.boosting != "gradient":
            raise ConfigurationError(f"subsample applies to boosting='gradient' only; got boosting={self.boosting!r}")
        if self.boosting != "hist":
            for name, default in _HIST_ONLY.items():
                if getattr(self, name) != default:
                    raise ConfigurationError(f"{name} applies to boosting='hist' only; got boosting={self.boosting!r}")
        if not float(self.l2_regularization) >= 0:
            raise ConfigurationError(f"l2_regularization must be >= 0; got {self.l2_regularization}")
        if not 2 <= int(self.max_bins) <= 255:
            raise ConfigurationError(f"max_bins must be in [2, 255]; got {self.max_bins}")
        if self.early_stopping is True and self.boosting == "adaboost":
            raise ConfigurationError("early_stopping is not available for boosting='adaboost'; "
                                     "use boosting='hist' or 'gradient', or early_stopping=False")
        if not 0.0 < float(self.validation_fraction) < 1.0:
            raise ConfigurationError(f"validation_fraction must be in (0, 1); got {self.validation_fraction}")
        if int(self.patience) < 1:
            raise ConfigurationError(f"patience must be >= 1; got {self.patience}")
        if self.threads is not None and not _is_int(self.threads, 1):
            raise ConfigurationError(f"threads must be an integer >= 1 or None; got {self.threads!r}")

    def _make(self, task: str, n_events: int) -> Any:
        from sklearn import ensemble, tree

        r = self._resolved()
        self.booster_params_ = dict(r)
        depth = None if r["max_depth"] is None else int(r["max_depth"])
        leaves = None if r["max_leaf_nodes"] is None else int(r["max_leaf_nodes"])
        leaf = int(r["min_samples_leaf"])
        n_est, lr, seed = int(r["n_estimators"]), float(r["learning_rate"]), int(self.seed)
        stop = self.early_stopping
        if self.boosting == "hist":
            stop = n_events > AUTO_EARLY_STOPPING_EVENTS if stop == "auto" else bool(stop)
            kw: dict[str, Any] = dict(max_iter=n_est, max_depth=depth, learning_rate=lr, min_samples_leaf=leaf,
                                      max_leaf_nodes=leaves, l2_regularization=float(self.l2_regularization),
                                      max_bins=int(self.max_bins), early_stopping=stop,
                                      validation_fraction=float(self.validation_fraction),
                                      n_iter_no_change=int(self.patience), random_state=seed)
            self.booster_params_["early_stopping"] = stop
            if task == "regression":
                return ensemble.HistGradientBoostingRegressor(**kw)
            return ensemble.HistGradientBoostingClassifier(**kw)
        if self.boosting == "adaboost":
            self.booster_params_["early_stopping"] = False
            if task == "regression":
                base = tree.DecisionTreeRegressor(max_depth=depth, min_samples_leaf=leaf, max_leaf_nodes=leaves,
                                                  random_state=seed)
                return ensemble.AdaBoostRegressor(base, n_estimators=n_est, learning_rate=lr, random_state=seed)
            base = tree.DecisionTreeClassifier(max_depth=depth, min_samples_leaf=leaf, max_leaf_nodes=leaves,
                                               random_state=seed)
            return ensemble.AdaBoostClassifier(base, n_estimators=n_est, learning_rate=lr, random_state=seed)
        stop = stop is True
        self.booster_params_["early_stopping"] = stop
        kw = dict(n_estimators=n_est, max_depth=depth, learning_rate=lr, subsample=float(self.subsample),
                  min_samples_leaf=leaf, max_leaf_nodes=leaves, random_state=seed,
                  validation_fraction=float(self.validation_fraction),
                  n_iter_no_change=int(self.patience) if stop else None)
        if task == "regression":
            return ensemble.GradientBoostingRegressor(**kw)
        return ensemble.GradientBoostingClassifier(**kw)

    def _after_fit(self, est: Any) -> None:
        if self.boosting == "hist":
            self.n_iter_ = int(est.n_iter_)
        elif self.boosting == "gradient":
            self.n_iter_ = int(est.n_estimators_)
        else:
            self.n_iter_ = len(est.estimators_)

    def _store_fit_summary(self, X: np.ndarray, task: str, target: np.ndarray, w_raw: np.ndarray) -> None:
        """As the base class; for ``hist`` the parity sample also holds events exactly at, and one
        float32 step either side of, the cuts of the trees (the events an export must route
        as the native model does)."""
        super()._store_fit_summary(X, task, target, w_raw)
        if self.boosting == "hist":
            edges = threshold_probes(self.estimator_, self._parity_sample, seed=int(self.seed))
            self._parity_sample = np.concatenate([self._parity_sample, edges])


def _is_int(value: Any, minimum: int) -> bool:
    """``value`` is a whole number (int, NumPy integer or integral float, not bool) >= ``minimum``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        return False
    return float(value).is_integer() and value >= minimum


def hist_thresholds(estimator: Any) -> list[tuple[int, np.ndarray]]:
    """The numeric cuts of a fitted scikit-learn ``HistGradientBoosting*`` ensemble.

    Parameters
    ----------
    estimator : fitted ``HistGradientBoostingClassifier`` or ``HistGradientBoostingRegressor``

    Returns
    -------
    list of (feature index, ndarray float64 of the distinct cuts on that feature)
    """
    nodes = [p.nodes for per_iter in estimator._predictors for p in per_iter]
    if not nodes:
        return []
    allnodes = np.concatenate(nodes)
    splits = allnodes[~allnodes["is_leaf"].astype(bool)]
    return [(int(f), np.unique(splits["num_threshold"][splits["feature_idx"] == f]))
            for f in np.unique(splits["feature_idx"])]


def threshold_probes(estimator: Any, base: np.ndarray, seed: int = 0, n: int = 512) -> np.ndarray:
    """Events that sit on the cuts of a histogram ensemble: rows of ``base`` with one feature set to
    ``float32_floor(t)`` of a cut ``t`` (the last float32 that goes left), or to the float32 just
    below or just above it (the latter is where rounding ``t`` to the nearest float32 can land).

    Parameters
    ----------
    estimator : fitted ``HistGradientBoosting*``
    base : ndarray, float32, shape (m, n_features); events to start from
    seed : int
    n : int, number of probe events

    Returns
    -------
    ndarray, float32, shape (n, n_features) (shape (0, n_features) for an ensemble without cuts)
    """
    cuts = hist_thresholds(estimator)
    if not cuts or len(base) == 0:
        return np.empty((0, base.shape[1]), dtype=np.float32)
    rng = np.random.default_rng(seed)
    out = base[rng.integers(0, len(base), n)].copy()
    feats = rng.integers(0, len(cuts), n)
    for i, k in enumerate(feats):
        f, t = cuts[k]
        v = float32_floor(t[rng.integers(0, len(t))])
        step = rng.integers(-1, 2)
        if step:
            v = np.nextafter(v, np.float32(np.inf) if step > 0 else np.float32(-np.inf))
        out[i, f] = v
    return out


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
    estimator_, oob_score_, oob_error_, classes_, task_, n_features_in_, threshold_, provenance_
    """

    _packages: ClassVar[tuple[str, ...]] = ("scikit-learn", "skl2onnx")
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

    def _make(self, task: str, n_events: int) -> Any:
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
