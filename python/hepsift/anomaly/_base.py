"""The common contract of hepsift's anomaly detectors.

Every detector is trained on background only (``fit(X)``), scores events with
``decision_function(X)`` (higher = more anomalous) and stores the score cuts that keep a
fixed fraction of the background (:attr:`Detector.threshold_`), measured on background
events that were not used for training, so that the working points are defined by the
background efficiency and not by a guessed "contamination".
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from hepsift import errors
from hepsift.anomaly._common import (
    MISSING,
    Estimator,
    as_matrix,
    check_finite,
    set_metadata,
    torch_threads,
)
from hepsift.export._metadata import efficiency_key

__all__ = ["Detector", "EFFICIENCIES", "efficiency_key", "Standardiser"]

#: Background efficiencies at which thresholds are stored.
EFFICIENCIES: tuple[float, ...] = (1e-2, 1e-3, 1e-4)

FEATURE_SETS = ("full", "sanitised")


class Standardiser:
    """Input preprocessing of the neural detectors, learned on background.

    ``x' = (where(x == -999, fill, x) - mean) / scale`` per feature, where ``fill`` is
    ``min - std`` of the present values (absent objects sit just below the observed range
    instead of 1000 units away) and ``mean``/``scale`` are the mean and standard deviation
    after filling (``scale`` = 1 for a constant feature). Arrays are float32, shape (n_features,).
    """

    def __init__(self, fill: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> None:
        self.fill = np.asarray(fill, dtype=np.float32)
        self.mean = np.asarray(mean, dtype=np.float32)
        self.scale = np.asarray(scale, dtype=np.float32)

    @classmethod
    def fit(cls, X: np.ndarray) -> Standardiser:
        X = np.asarray(X, dtype=np.float64)
        present = X != MISSING
        fill = np.zeros(X.shape[1])
        for j in range(X.shape[1]):
            v = X[present[:, j], j]
            fill[j] = (v.min() - max(v.std(), 1e-3)) if len(v) else 0.0
        Xf = np.where(present, X, fill)
        mean = Xf.mean(axis=0)
        scale = Xf.std(axis=0)
        scale[scale < 1e-6] = 1.0
        return cls(fill, mean, scale)

    def transform(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        return ((np.where(X == np.float32(MISSING), self.fill, X) - self.mean) / self.scale).astype(np.float32)

    def torch_module(self) -> Any:
        """The same transformation as a ``torch.nn.Module`` (exported inside the ONNX graph)."""
        import torch

        class _Pre(torch.nn.Module):
            def __init__(self, fill: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> None:
                super().__init__()
                self.register_buffer("fill", torch.from_numpy(fill.copy()))
                self.register_buffer("mean", torch.from_numpy(mean.copy()))
                self.register_buffer("scale", torch.from_numpy(scale.copy()))

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                x = torch.where(x == MISSING, self.fill, x)
                return (x - self.mean) / self.scale

        return _Pre(self.fill, self.mean, self.scale)

    def __getstate__(self) -> dict[str, Any]:
        return {"fill": self.fill, "mean": self.mean, "scale": self.scale}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["fill"], state["mean"], state["scale"])  # type: ignore[misc]


class Detector(Estimator):
    """Base class of the anomaly detectors (see the module documentation).

    Subclasses implement ``_fit_core(X)`` (float32, already reduced to the model's
    features), ``_score(X) -> float64 (n,)`` and ``_onnx_graph(opset) -> onnx.ModelProto``
    with input ``features`` ``(n, n_features)`` float32 and output ``score`` ``(n, 1)``.
    """

    _state_attrs: ClassVar[tuple[str, ...]] = (
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
            ``feature_set="sanitised"`` the columns holding -999 anywhere are dropped.
        calibration : array or mapping, optional
            Independent background events for :meth:`calibrate`. Default: a random
            ``calibration_fraction`` of ``X`` is held out from training and used.
        progress : bool
            Show a progress bar over epochs (neural detectors).

        Returns
        -------
        self
        """
        self._check_params()
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
        keep = np.ones(arr.shape[1], dtype=bool)
        if self.feature_set == "sanitised":
            keep = ~np.any(arr == np.float32(MISSING), axis=0)
            if not keep.any():
                raise errors.DataError("feature_set='sanitised' leaves no feature: every column holds -999 values")
        self.input_feature_names_ = list(names)
        self.feature_names_in_ = [n for n, k in zip(names, keep) if k]
        self.n_features_in_ = len(self.feature_names_in_)
        arr = np.ascontiguousarray(arr[:, keep])

        rng = np.random.default_rng(self.seed)
        if calibration is None and self.calibration_fraction > 0 and len(arr) >= 2 * self._min_events:
            perm = rng.permutation(len(arr))
            n_cal = int(round(self.calibration_fraction * len(arr)))
            cal, train = arr[perm[:n_cal]], arr[perm[n_cal:]]
        else:
            cal, train = None, arr
        with torch_threads(1) if self._uses_torch else contextlib.nullcontext():
            self._fit_core(train, progress=progress)
        self.provenance_ = self._training_provenance(len(train))
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

        ``threshold_[key(eps)]`` is the ``1 - eps`` quantile of the background scores: a cut
        ``score > threshold_["1e-3"]`` keeps a fraction 1e-3 of the background. With ``n``
        calibration events the efficiency of the cut scatters by about ``sqrt(eps / n)``; the
        number of events is stored in :attr:`calibration_size_`.
        """
        self._check_fitted_model()
        arr = self._select(X, feature_names)
        return self._calibrate_matrix(arr, efficiencies)

    def _calibrate_matrix(self, arr: np.ndarray, efficiencies: Sequence[float] = EFFICIENCIES) -> Detector:
        s = self._score(arr)
        self.threshold_ = {efficiency_key(e): float(np.quantile(s, 1.0 - float(e))) for e in efficiencies}
        self.calibration_size_ = int(len(arr))
        return self

    # -- scoring ----------------------------------------------------------------------
    def _check_fitted_model(self) -> None:
        if not all(hasattr(self, a) for a in (*self._model_attrs, "feature_names_in_")):
            raise errors.NotFittedError(f"this {type(self).__name__} is not fitted yet: call fit(X) before using it")

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
        set_metadata(proto, {
            "hepsift.training": {"provenance": self.provenance_, "thresholds": self.threshold_,
                                 "calibration_size": self.calibration_size_},
        })  # fmt: skip
        return proto, native, "score"

    def to_onnx(
        self, path: str | os.PathLike[str], *, sample: np.ndarray | None = None, rtol: float = 1e-5,
        atol: float = 1e-5, opset: int = 17, overwrite: bool = False,
    ) -> Path:
        """Export with :func:`hepsift.export.to_onnx` (features, ``kind="anomaly"``, thresholds, provenance).

        Parameters
        ----------
        path : output ONNX file
        sample : ndarray, shape (n, n_features), optional
            Events for the parity check (default: standard-normal events).
        overwrite : replace an existing file (default False)
        """
        from hepsift.export import to_onnx

        self._check_fitted()
        return to_onnx(self, path, feature_names=self.feature_names_in_, kind="anomaly", sample=sample,
                       thresholds=self.threshold_, provenance=self.provenance_, rtol=rtol, atol=atol, opset=opset,
                       overwrite=overwrite)
