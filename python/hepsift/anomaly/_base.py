"""The common contract of hepsift's anomaly detectors.

Every detector is trained on background only (``fit(X)``), scores events with
``decision_function(X)`` (higher = more anomalous) and stores the score cuts that keep a
fixed fraction of the background (:attr:`Detector.threshold_`), measured on background
events that were not used for training, so that the working points are defined by the
background efficiency and not by a guessed "contamination".
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from hepsift import errors
from hepsift._estimator import EFFICIENCIES, Estimator, as_matrix, threshold_table
from hepsift._missing import FEATURE_SETS, check_finite, sanitised_features
from hepsift._torch import torch_threads
from hepsift.export._metadata import efficiency_key

__all__ = ["Detector", "EFFICIENCIES", "efficiency_key"]


class Detector(Estimator):
    """Base class of the anomaly detectors (see the module documentation).

    Subclasses implement ``_fit_core(X)`` (float32, already reduced to the model's
    features), ``_score(X) -> float64 (n,)`` and ``_onnx_graph(opset) -> onnx.ModelProto``
    with input ``features`` ``(n, n_features)`` float32 and output ``score`` ``(n, 1)``.
    """

    _kind: ClassVar[str] = "anomaly"
    _fitted_attrs: ClassVar[tuple[str, ...]] = (
        "feature_names_in_", "input_feature_names_", "n_features_in_", "threshold_", "calibration_size_",
        "provenance_",
    )  # fmt: skip
    _min_events: ClassVar[int] = 10
    _uses_torch: ClassVar[bool] = False

    feature_set: str
    calibration_fraction: float
    seed: int

    # -- fit --------------------------------------------------------------------------
    def fit(
        self,
        X: Any,
        y: Any = None,
        *,
        feature_names: Sequence[str] | None = None,
        calibration: Any = None,
        progress: bool = False,
    ) -> Detector:
        """Train on background events and set the thresholds.

        Parameters
        ----------
        X : ndarray, shape (n_events, n_features), or mapping feature name -> 1-D array
            Background events (float; absent objects = -999, never NaN).
        y : ignored
            Present for scikit-learn compatibility (detectors are trained on background only).
        feature_names : sequence of str, optional
            Names of the columns of an array ``X`` (default ``x0``, ``x1``, ...). With
            ``feature_set="sanitised"`` the columns holding -999 in any training event are
            dropped (:func:`hepsift._missing.sanitised_features`, the rule of ``Dataset.sanitise``).
        calibration : array or mapping, optional
            Independent background events for :meth:`calibrate`. Default: a random
            ``calibration_fraction`` of ``X`` is held out from training and used.
        progress : bool
            Show a progress bar over epochs (neural detectors).

        Returns
        -------
        self
        """
        if self.feature_set not in FEATURE_SETS:
            raise errors.ConfigurationError(f"feature_set must be one of {FEATURE_SETS}, got {self.feature_set!r}")
        if not 0.0 <= float(self.calibration_fraction) < 1.0:
            raise errors.ConfigurationError(f"calibration_fraction must be in [0, 1), got {self.calibration_fraction}")
        arr, names = as_matrix(X, feature_names, what="training events")
        names = names or [f"x{i}" for i in range(arr.shape[1])]
        if len(set(names)) != len(names):
            raise errors.ConfigurationError(f"feature names must be unique, got {names}")
        check_finite(arr, names, what=f"{type(self).__name__}.fit")
        if len(arr) < self._min_events:
            raise errors.DataError(f"{type(self).__name__}.fit needs at least {self._min_events} events, got {len(arr)}")
        kept = sanitised_features(arr, names) if self.feature_set == "sanitised" else list(names)
        self.input_feature_names_ = list(names)
        self.feature_names_in_ = kept
        self.n_features_in_ = len(kept)
        arr = np.ascontiguousarray(arr[:, [names.index(n) for n in kept]])

        rng = np.random.default_rng(self.seed)
        if calibration is None and self.calibration_fraction > 0 and len(arr) >= 2 * self._min_events:
            perm = rng.permutation(len(arr))
            n_cal = int(round(self.calibration_fraction * len(arr)))
            cal, train = arr[perm[:n_cal]], arr[perm[n_cal:]]
        else:
            cal, train = None, arr
        with torch_threads(1) if self._uses_torch else contextlib.nullcontext():
            self._fit_core(train, progress=progress)
        self.provenance_ = self._provenance(len(train))
        if calibration is not None:
            self.calibrate(calibration, feature_names=None if isinstance(calibration, Mapping) else names)
        elif cal is not None:
            self._calibrate_matrix(cal)
        else:
            self._calibrate_matrix(train)
            self.provenance_["calibration"] = "training events (biased: prefer an independent background sample)"
        return self

    def _fit_core(self, X: np.ndarray, *, progress: bool = False) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _score(self, X: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _onnx_graph(self, opset: int) -> tuple[Any, Callable[[np.ndarray], np.ndarray]]:  # pragma: no cover
        raise NotImplementedError

    # -- thresholds -------------------------------------------------------------------
    def calibrate(
        self, X: Any, *, feature_names: Sequence[str] | None = None, efficiencies: Sequence[float] = EFFICIENCIES
    ) -> Detector:
        """Set :attr:`threshold_` from background events not used for training.

        ``threshold_[key(eps)]`` is the ``1 - eps`` quantile of the background scores
        (:func:`hepsift._estimator.threshold_table`, the table of every hepsift estimator): a cut
        ``score > threshold_["1e-3"]`` keeps a fraction 1e-3 of the background. An efficiency
        below ``1 / n`` is not resolvable with ``n`` calibration events and is left out; the
        efficiency of a cut scatters by about ``sqrt(eps / n)``; ``n`` is stored in
        :attr:`calibration_size_`.
        """
        self._check_fitted_model()
        arr = self._select(X, feature_names)
        return self._calibrate_matrix(arr, efficiencies)

    def _calibrate_matrix(self, arr: np.ndarray, efficiencies: Sequence[float] = EFFICIENCIES) -> Detector:
        self.threshold_ = threshold_table(self._score(arr), None, efficiencies)
        if hasattr(self, "provenance_"):
            self.provenance_["calibration_size"] = int(len(arr))
        self.calibration_size_ = int(len(arr))
        return self

    # -- scoring ----------------------------------------------------------------------
    def _check_fitted_model(self) -> None:
        """The trained model exists (thresholds may not yet: :meth:`calibrate` sets them)."""
        if not all(hasattr(self, a) for a in (*self._model_attrs, "feature_names_in_")):
            self._check_fitted()

    def _select(self, X: Any, feature_names: Sequence[str] | None) -> np.ndarray:
        """Reduce the input to the model's features (by name when names are known)."""
        want = self.feature_names_in_
        if isinstance(X, Mapping) or (hasattr(X, "dtype") and getattr(X.dtype, "names", None)) or hasattr(X, "columns"):
            keys = list(X.keys()) if isinstance(X, Mapping) else (
                list(X.dtype.names) if hasattr(X, "dtype") and getattr(X.dtype, "names", None) else list(X.columns))
            self._require(want, keys)
            arr, _ = as_matrix(X, want)
        else:
            arr, _ = as_matrix(X)
            if feature_names is not None:
                names = list(feature_names)
                if len(names) != arr.shape[1]:
                    raise errors.InputMismatchError(
                        f"X has {arr.shape[1]} columns but {len(names)} feature names were given")
                self._require(want, names)
                arr = arr[:, [names.index(n) for n in want]]
            elif arr.shape[1] != self.n_features_in_:
                if arr.shape[1] == len(self.input_feature_names_):
                    idx = [self.input_feature_names_.index(n) for n in want]
                    arr = arr[:, idx]
                else:
                    raise errors.InputMismatchError(
                        f"{type(self).__name__} was fitted on {self.n_features_in_} features "
                        f"({', '.join(want)}); X has {arr.shape[1]} columns"
                    )
        arr = np.ascontiguousarray(arr)
        check_finite(arr, want, what=f"{type(self).__name__}.decision_function")
        return arr

    def _require(self, want: Sequence[str], have: Sequence[str]) -> None:
        missing = [n for n in want if n not in have]
        if missing:
            hints = []
            for m in missing[:5]:
                close = errors.near_names(m, have)
                hints.append(f"{m} (nearest: {', '.join(close)})" if close else m)
            raise errors.InputMismatchError(
                f"{type(self).__name__} was fitted on the features {', '.join(want)}; the input lacks "
                f"{', '.join(hints)}{' ...' if len(missing) > 5 else ''}"
            )

    def decision_function(self, X: Any, *, feature_names: Sequence[str] | None = None) -> np.ndarray:
        """Anomaly score per event: higher means more anomalous.

        Parameters
        ----------
        X : ndarray, shape (n_events, n_features), or mapping feature name -> 1-D array
            Columns in the order of :attr:`feature_names_in_` (or of the names given to
            ``fit``: a sanitised detector then picks its columns), or named via ``feature_names``.
        feature_names : names of the columns of an array ``X``; checked against the model's.

        Returns
        -------
        ndarray, float64, shape (n_events,)

        Raises
        ------
        hepsift.NotFittedError, hepsift.InputMismatchError, hepsift.NonFiniteInputError
        """
        self._check_fitted_model()
        return self._score(self._select(X, feature_names))

    def score_samples(self, X: Any, *, feature_names: Sequence[str] | None = None) -> np.ndarray:
        """scikit-learn convention: the opposite of :meth:`decision_function` (higher = more normal)."""
        return -self.decision_function(X, feature_names=feature_names)

    def predict(self, X: Any, *, efficiency: float = 1e-3, feature_names: Sequence[str] | None = None) -> np.ndarray:
        """``True`` for events above the threshold at background efficiency ``efficiency``.

        Returns
        -------
        ndarray, bool, shape (n_events,)
        """
        self._check_fitted()
        key = efficiency_key(efficiency)
        if key not in self.threshold_:
            raise errors.ConfigurationError(f"no threshold at background efficiency {key}; have {list(self.threshold_)}")
        return self.decision_function(X, feature_names=feature_names) > self.threshold_[key]

    # -- export -----------------------------------------------------------------------
    def _hepsift_onnx_(self, n_features: int, opset: int) -> tuple[Any, Callable[[np.ndarray], np.ndarray], str]:
        """ONNX graph with the score head, the native score function and the score output name."""
        self._check_fitted()
        if n_features != self.n_features_in_:
            raise errors.InputMismatchError(
                f"{type(self).__name__} was fitted on {self.n_features_in_} features ({', '.join(self.feature_names_in_)}); "
                f"the export was asked for {n_features}"
            )
        proto, native = self._onnx_graph(opset)
        return proto, native, "score"
