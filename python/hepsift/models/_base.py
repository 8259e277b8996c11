"""What hepsift's supervised models share on top of :class:`hepsift._estimator.Estimator`:
input and target validation, task resolution, class weights and the fit summary."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hepsift._estimator import Config, Estimator, threshold_table
from hepsift._missing import check_finite
from hepsift._saved import load  # noqa: F401  (re-exported as hepsift.models.load)
from hepsift.errors import ConfigurationError, DataError

__all__ = ["Config", "Estimator", "Supervised", "check_X", "check_weights", "check_y", "load"]

TASKS = ("auto", "binary", "multiclass", "regression")

def check_X(X: Any, n_features: int | None = None, *, name: str = "X") -> np.ndarray:
    """Validate a feature matrix: 2-D, numeric, finite; returns C-contiguous float32.

    Raises
    ------
    hepsift.DataError
        Wrong shape, empty or non-numeric.
    hepsift.NonFiniteInputError
        NaN or infinite values (names the column and the count; see :func:`hepsift._missing.check_finite`).
    hepsift.InputMismatchError
        ``n_features`` given and the width differs.
    """
    from hepsift.errors import InputMismatchError

    try:
        arr = np.asarray(X, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name} must be a numeric array of shape (n_events, n_features): {exc}") from exc
    if arr.ndim != 2:
        raise DataError(f"{name} must have shape (n_events, n_features); got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise DataError(f"{name} is empty (shape {arr.shape})")
    check_finite(arr, what=name)
    if n_features is not None and arr.shape[1] != n_features:
        raise InputMismatchError(f"{name} has {arr.shape[1]} features per event; the model was fitted with {n_features}")
    return np.ascontiguousarray(arr)


def check_weights(sample_weight: Any, n: int) -> np.ndarray:
    """Per-event weights as float64 (ones when None); finite and of length ``n``."""
    if sample_weight is None:
        return np.ones(n, dtype=np.float64)
    w = np.asarray(sample_weight, dtype=np.float64).ravel()
    if w.shape[0] != n:
        raise DataError(f"sample_weight has {w.shape[0]} entries for {n} events")
    if not np.all(np.isfinite(w)):
        raise DataError("sample_weight holds NaN or infinite values")
    if not np.any(w > 0):
        raise DataError("sample_weight has no positive entry")
    return w


def resolve_task(task: str, y: np.ndarray) -> str:
    """``auto`` -> binary (2 integer labels), multiclass (> 2) or regression (non-integer values)."""
    if task not in TASKS:
        raise ConfigurationError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
    if task != "auto":
        return task
    if np.issubdtype(y.dtype, np.floating) and not np.all(np.equal(np.mod(y, 1), 0)):
        return "regression"
    return "binary" if len(np.unique(y)) <= 2 else "multiclass"


def check_y(y: Any, n: int, task: str) -> tuple[np.ndarray, str]:
    """Validate targets; returns (y as float64 or int array, resolved task)."""
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise DataError(f"y must have shape (n_events,); got {arr.shape}")
    if arr.shape[0] != n:
        raise DataError(f"y has {arr.shape[0]} entries for {n} events in X")
    if arr.dtype.kind not in "biuf":
        raise DataError(f"y must be numeric (class labels or regression targets); got dtype {arr.dtype}")
    if not np.all(np.isfinite(arr.astype(np.float64))):
        raise DataError("y holds NaN or infinite values")
    task = resolve_task(task, arr)
    if task != "regression":
        if not np.all(np.equal(np.mod(arr, 1), 0)):
            raise DataError(f"task {task!r} needs integer class labels; y holds non-integer values")
        n_classes = len(np.unique(arr))
        if n_classes < 2:
            raise DataError(f"y holds a single class ({np.unique(arr)}); a classifier needs at least two")
        if task == "binary" and n_classes != 2:
            raise DataError(f"task 'binary' needs two classes; y holds {n_classes}")
        arr = arr.astype(np.int64)
    else:
        arr = arr.astype(np.float64)
    return arr, task


def check_choice(name: str, value: Any, choices: Sequence[Any]) -> None:
    if value not in choices:
        raise ConfigurationError(f"{name}={value!r} is not supported; choose one of {', '.join(map(repr, choices))}")


def validation_split(target: np.ndarray, fraction: float, seed: int,
                     stratify: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The (training, validation) event indices of an early-stopping hold-out.

    Parameters
    ----------
    target : ndarray, shape (n_events,); class indices (stratified) or regression targets
    fraction : float in (0, 1); share of the events held out
    seed : int
    stratify : bool; keep the class fractions in both parts (classification)

    Returns
    -------
    (train, validation) : two int64 arrays that partition ``arange(n_events)``: no event is in
        both (scikit-learn's ``train_test_split`` of the indices); ``train`` in the seeded
        shuffled order that training uses.

    Raises
    ------
    hepsift.DataError
        A class too small to be split.
    """
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(target), dtype=np.int64)
    try:
        tr, va = train_test_split(idx, test_size=float(fraction), random_state=int(seed),
                                  stratify=target if stratify else None)
    except ValueError as exc:
        raise DataError(f"cannot hold out a stratified validation set: {exc}") from exc
    return tr, va


def background_fractions(classes: np.ndarray, signal_index: int, given: Any, y_idx: np.ndarray,
                         w: np.ndarray) -> np.ndarray:
    """Fractions f_k of the combined discriminant (0 for the signal, sum 1)."""
    k = len(classes)
    if given is None:
        f = np.array([w[y_idx == i].sum() for i in range(k)], dtype=np.float64)
    else:
        if isinstance(given, Mapping):
            lookup = {int(c): i for i, c in enumerate(classes)}
            f = np.zeros(k)
            for c, v in given.items():
                if int(c) not in lookup:
                    raise ConfigurationError(f"background_fractions names class {c!r}; classes are {classes.tolist()}")
                f[lookup[int(c)]] = float(v)
        else:
            f = np.asarray(given, dtype=np.float64).ravel()
            if f.shape != (k,):
                raise ConfigurationError(f"background_fractions needs {k} entries (one per class); got {f.shape[0]}")
    if np.any(f < 0):
        raise ConfigurationError("background_fractions must be non-negative")
    f[signal_index] = 0.0
    if f.sum() <= 0:
        raise ConfigurationError("background_fractions give the backgrounds zero total weight")
    return (f / f.sum()).astype(np.float32)


def class_balance(y_idx: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Scale weights so that every class has the same total weight (the mean weight stays 1)."""
    out = w.astype(np.float64).copy()
    classes = np.unique(y_idx)
    for c in classes:
        m = y_idx == c
        s = out[m].sum()
        if s > 0:
            out[m] *= len(out) / (len(classes) * s)
    return out


class Supervised(Estimator):
    """Base of the supervised models: classifiers (binary, multi-class) and regressors.

    Adds the target handling of a supervised ``fit`` (:meth:`_fit_targets`), the stored
    parity sample and, for binary tasks, the threshold table (:meth:`_store_fit_summary`).
    """

    def _onnx_kind(self) -> str:
        return "regressor" if getattr(self, "task_", "") == "regression" else "classifier"

    def _onnx_sample(self) -> np.ndarray | None:
        return getattr(self, "_parity_sample", None)

    def _fit_targets(self, y: np.ndarray, task: str, w_raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Training targets and weights of a supervised ``fit``.

        A classifier gets ``classes_`` and, for a multi-class task, ``signal_index_`` (from the
        ``signal_class`` parameter) and ``fractions_`` (from ``background_fractions``).

        Parameters
        ----------
        y : ndarray, shape (n_events,); validated targets (see :func:`check_y`)
        task : resolved task
        w_raw : ndarray, float64, shape (n_events,); validated event weights

        Returns
        -------
        (target, w)
            Regression: ``y`` unchanged; classification: the class indices into ``classes_``.
            ``w``: the weights scaled to mean absolute value 1, or class-balanced when
            ``class_weight == "balanced"``.
        """
        if task == "regression":
            return y, w_raw / np.mean(np.abs(w_raw))
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        w = class_balance(y_idx, w_raw) if self.class_weight == "balanced" else w_raw / np.mean(np.abs(w_raw))
        if task == "multiclass":
            sig = self.classes_[-1] if self.signal_class is None else self.signal_class
            if sig not in self.classes_:
                raise ConfigurationError(f"signal_class {sig!r} is not among the classes {self.classes_.tolist()}")
            self.signal_index_ = int(np.flatnonzero(self.classes_ == sig)[0])
            self.fractions_ = background_fractions(self.classes_, self.signal_index_, self.background_fractions,
                                                   y_idx, w_raw)
        return y_idx, w

    def _store_fit_summary(self, X: np.ndarray, task: str, target: np.ndarray, w_raw: np.ndarray) -> None:
        """Keep a parity sample of up to 512 training events and, for binary tasks, ``threshold_``.

        Parameters
        ----------
        X : ndarray, float32, shape (n_events, n_features); the training events
        task : resolved task
        target : ndarray, shape (n_events,); class indices (0 = background for binary tasks)
        w_raw : ndarray, shape (n_events,); event weights as given to ``fit``
        """
        rng = np.random.default_rng(self.seed)
        self._parity_sample = X[rng.choice(len(X), size=min(512, len(X)), replace=False)]
        if task == "binary":
            bkg = target == 0  # the table needs the background scores only
            self.threshold_ = threshold_table(self.predict_proba(X[bkg])[:, 1], w_raw[bkg])
