"""What every hepsift estimator shares: parameters, validation, configs, provenance, save/load."""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import platform
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np

from hepsift._atomic import atomic_output
from hepsift._estimator import Parameters
from hepsift._saved import Saveable, load  # noqa: F401  (re-exported as hepsift.models.load)
from hepsift._version import __version__
from hepsift.errors import ConfigurationError, DataError, NotFittedError
from hepsift.export._metadata import efficiency_key

TASKS = ("auto", "binary", "multiclass", "regression")

C = TypeVar("C", bound="Config")


class Config:
    """Mixin for the configuration dataclasses: JSON and dict round trips.

    Examples
    --------
    >>> from hepsift.models import MLPConfig
    >>> cfg = MLPConfig(hidden_layers=(32, 32), dropout=0.1)
    >>> MLPConfig.from_json(cfg.to_json()) == cfg
    True
    """

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python dict (tuples become lists)."""
        return json.loads(self.to_json())

    def to_json(self, indent: int | None = None) -> str:
        """JSON text of every field."""
        return json.dumps(dataclasses.asdict(self), indent=indent, sort_keys=True, default=_jsonable)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[C], data: Mapping[str, Any]) -> C:
        """Build from a dict; unknown keys raise :class:`hepsift.ConfigurationError`."""
        names = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise ConfigurationError(f"{cls.__name__}: unknown field(s) {unknown}; known: {sorted(names)}")
        values = {}
        for key, value in data.items():
            default = names[key].default
            if isinstance(value, list) and isinstance(default, tuple):
                value = tuple(value)
            values[key] = value
        return cls(**values)

    @classmethod
    def from_json(cls: type[C], text: str) -> C:
        """Inverse of :meth:`to_json`."""
        return cls.from_dict(json.loads(text))

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write the JSON to ``path`` (atomically; an existing file only with ``overwrite=True``)."""
        p = Path(path)
        with atomic_output(p, overwrite=overwrite) as tmp:
            tmp.write_text(self.to_json(indent=2) + "\n")
        return p

    @classmethod
    def load(cls: type[C], path: str | os.PathLike[str]) -> C:
        """Read a JSON file written by :meth:`save`."""
        return cls.from_json(Path(path).read_text())


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def check_X(X: Any, n_features: int | None = None, *, name: str = "X") -> np.ndarray:
    """Validate a feature matrix: 2-D, numeric, finite; returns C-contiguous float32.

    Raises
    ------
    hepsift.DataError
        Wrong shape, empty, non-numeric, NaN or infinite values (names row and column).
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
    bad = ~np.isfinite(arr)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise DataError(f"{name} holds {int(bad.sum())} NaN or infinite values (first at row {r}, column {c}); "
                        "hepsift uses a finite sentinel such as -999 for missing objects")
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


def versions(*packages: str) -> dict[str, str]:
    """Installed versions of ``packages`` (plus python and hepsift)."""
    from importlib import metadata

    out = {"hepsift": __version__, "python": platform.python_version(), "numpy": np.__version__}
    for p in packages:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = "absent"
    return out


class Estimator(Saveable, Parameters):
    """Base class: scikit-learn-like parameters, provenance and persistence.

    Subclasses define ``__init__`` with keyword parameters only (stored unchanged), a
    configuration dataclass ``config_class`` with the same fields, ``fit`` and the
    ``_hepsift_onnx_(n_features, opset)`` hook of :func:`hepsift.export.to_onnx`.
    """

    config_class: ClassVar[type[Any]]
    _kind: ClassVar[str] = "classifier"

    # ---- parameters ---------------------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p.name for p in sig.parameters.values()
                if p.name != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]

    @classmethod
    def _param_defaults(cls) -> dict[str, Any]:
        return {f.name: f.default for f in dataclasses.fields(cls.config_class)}

    def clone(self) -> Estimator:
        """An unfitted copy with the same parameters (sub-estimators cloned too)."""
        return type(self)(**{k: v.clone() if isinstance(v, Estimator) else v
                             for k, v in self.get_params(deep=False).items()})

    def to_config(self) -> Any:
        """The hyper-parameters as the estimator's configuration dataclass."""
        params = self.get_params(deep=False)
        return self.config_class(**{f.name: params[f.name] for f in dataclasses.fields(self.config_class)})

    @classmethod
    def from_config(cls, config: Any) -> Estimator:
        """Build an unfitted estimator from a configuration (dataclass, dict or JSON text)."""
        if isinstance(config, str):
            config = cls.config_class.from_json(config)
        elif isinstance(config, Mapping):
            config = cls.config_class.from_dict(config)
        return cls(**{f.name: getattr(config, f.name) for f in dataclasses.fields(config)})

    # ---- fitted state -------------------------------------------------------------
    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "n_features_in_")

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(X, y) first")

    def _provenance(self, seed: Any, n_events: int, packages: Sequence[str], **extra: Any) -> dict[str, Any]:
        return {
            "estimator": type(self).__name__,
            "config": self.to_config().to_dict(),
            "seed": seed,
            "n_events": int(n_events),
            "n_features": int(self.n_features_in_),
            "task": getattr(self, "task_", None),
            "fitted_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "versions": versions(*packages),
            **extra,
        }

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
        """Keep a parity sample of up to 512 training events and, for binary tasks, ``thresholds_``.

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
            self.thresholds_ = threshold_table(self.predict_proba(X[bkg])[:, 1], w_raw[bkg])

    # ---- persistence (format and checks: hepsift._saved) -----------------------------
    def _saved_config_(self) -> dict[str, Any]:
        return self.to_config().to_dict()  # type: ignore[no-any-return]

    @classmethod
    def _from_saved_config_(cls, config: Mapping[str, Any]) -> Estimator:
        return cls.from_config(config)

    def _saved_state_(self) -> dict[str, Any]:
        """Every attribute but the constructor parameters (as ``__getstate__`` gives them)."""
        params = set(self._param_names())
        return {k: v for k, v in dict(self.__getstate__() or {}).items() if k not in params}

    def _restore_saved_state_(self, state: dict[str, Any]) -> None:
        merged = {**self.__dict__, **state}
        setstate = getattr(self, "__setstate__", None)
        if setstate is not None:
            setstate(merged)
        else:
            self.__dict__.update(merged)

    # ---- export -------------------------------------------------------------------
    def export(self, path: str | os.PathLike[str], feature_names: Sequence[str] | None = None, *,
               sample: np.ndarray | None = None, opset: int = 17, overwrite: bool = False) -> Path:
        """Export to one ONNX file with :func:`hepsift.export.to_onnx`, filling the metadata.

        Parameters
        ----------
        path : output ``.onnx`` file
        feature_names : input names in column order (default: ``feature_names_in_`` if set,
            else ``f0, f1, ...``)
        sample : ndarray, shape (n, n_features), optional; events for the parity check
            (default: the stored training sample)
        overwrite : replace an existing file (default False)
        """
        from hepsift.export import to_onnx

        self._check_fitted()
        names = list(feature_names) if feature_names is not None else list(
            getattr(self, "feature_names_in_", None) or [f"f{i}" for i in range(self.n_features_in_)])
        if sample is None:
            sample = getattr(self, "_parity_sample", None)
        thresholds = getattr(self, "thresholds_", None)
        mass = getattr(self, "mass_feature_", None)
        if mass is not None and mass not in names:
            names[self.mass_index_] = mass
        return to_onnx(self, path, feature_names=names, kind=self._kind if getattr(self, "task_", "") != "regression"
                       else "regressor", sample=sample, thresholds=thresholds, mass_parameter=mass,
                       provenance=getattr(self, "provenance_", None), opset=opset, overwrite=overwrite)


    def to_onnx(self, path: str | os.PathLike[str], feature_names: Sequence[str] | None = None, *,
                sample: np.ndarray | None = None, opset: int = 17, overwrite: bool = False) -> Path:
        """Export to one ONNX file: the spelling every hepsift estimator shares (see :meth:`export`)."""
        return self.export(path, feature_names, sample=sample, opset=opset, overwrite=overwrite)


def threshold_table(scores_bkg: np.ndarray, w_bkg: np.ndarray, effs: Sequence[float] = (1e-2, 1e-3, 1e-4)) -> dict[str, float]:
    """Score cuts at which the weighted background efficiency is ``effs`` (where resolvable)."""
    order = np.argsort(-scores_bkg)
    s = scores_bkg[order]
    cw = np.cumsum(np.clip(w_bkg[order], 0, None))
    if cw[-1] <= 0:
        return {}
    frac = cw / cw[-1]
    out = {}
    for e in effs:
        if e < 1.0 / len(s):
            continue
        i = int(np.searchsorted(frac, e))
        out[efficiency_key(e)] = float(s[min(i, len(s) - 1)])
    return out
