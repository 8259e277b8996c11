"""The one contract of every hepsift learner: :class:`Estimator`.

Every learner (the supervised models of :mod:`hepsift.models`, the anomaly detectors of
:mod:`hepsift.anomaly`, the generators of :mod:`hepsift.generative` and
:class:`hepsift.nplm.NPLM`) derives from :class:`Estimator`, which gives

* parameters declared in ``__init__`` only and stored unchanged (scikit-learn's rule, so that
  ``sklearn.base.clone`` and nested ``set_params(estimator__epochs=...)`` work), a ``repr``
  listing the non-default ones, and a configuration dataclass (:class:`Config`) that
  round-trips to JSON;
* ``fit`` returning ``self``; one fitted check (:attr:`Estimator.is_fitted`,
  ``_check_fitted()`` raising :class:`hepsift.NotFittedError`);
* one provenance layout (:meth:`Estimator._provenance`), written into saved files and ONNX
  metadata;
* one threshold table (:func:`threshold_table`, keys :func:`hepsift.export._metadata.efficiency_key`);
* ``save(path)``, ``Class.load(path)`` and :func:`hepsift.load` (format: :mod:`hepsift._saved`);
* one export spelling, ``to_onnx(path, ...)`` (through :func:`hepsift.export.to_onnx`).
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import platform
import time
import typing
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np

from hepsift._atomic import atomic_output
from hepsift._saved import Saveable
from hepsift._version import __version__
from hepsift.errors import ConfigurationError, DataError, InputMismatchError, NotFittedError

__all__ = ["Config", "EFFICIENCIES", "Estimator", "Parameters", "as_matrix", "threshold_table", "versions"]

P = TypeVar("P", bound="Parameters")
C = TypeVar("C", bound="Config")

_NO_DEFAULT = object()

#: Background efficiencies at which every estimator's threshold table is filled.
EFFICIENCIES: tuple[float, ...] = (1e-2, 1e-3, 1e-4)


class Parameters:
    """Mixin: ``get_params``, ``set_params`` and a ``repr`` listing the non-default parameters.

    Subclasses implement ``_param_names()`` (the constructor parameters, in order) and
    ``_param_defaults()`` (their default values; a name without a default always shows in
    the ``repr``). Parameters are stored unchanged as attributes of the same name.
    """

    #: Word that introduces the valid names in the error for an unknown parameter.
    _params_word: ClassVar[str] = "parameters"

    @classmethod
    def _param_names(cls) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def _param_defaults(cls) -> Mapping[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor parameters as a dict (as scikit-learn's ``get_params``).

        Parameters
        ----------
        deep : bool
            Also list the parameters of sub-estimators (e.g. the ``estimator`` of
            :class:`hepsift.models.ParameterizedClassifier`) as ``<name>__<parameter>``.

        Returns
        -------
        dict
            Parameter name -> current value.
        """
        out = {name: getattr(self, name) for name in self._param_names()}
        if deep:
            for name, value in list(out.items()):
                if hasattr(value, "get_params") and not isinstance(value, type):
                    out.update({f"{name}__{k}": v for k, v in value.get_params(deep=True).items()})
        return out

    def set_params(self: P, **params: Any) -> P:
        """Set constructor parameters; ``<name>__<parameter>`` sets a sub-estimator's.

        Returns
        -------
        self

        Raises
        ------
        hepsift.ConfigurationError
            A name that is not a parameter (the names before it are already set).
        """
        valid = set(self._param_names())
        nested: dict[str, dict[str, Any]] = {}
        for key, value in params.items():
            head, sep, rest = key.partition("__")
            if head not in valid:
                raise ConfigurationError(
                    f"{type(self).__name__} has no parameter {head!r}; {self._params_word}: {sorted(valid)}"
                )
            if sep:
                nested.setdefault(head, {})[rest] = value
            else:
                setattr(self, key, value)
        for head, sub in nested.items():
            inner = getattr(self, head)
            if not hasattr(inner, "set_params"):
                raise ConfigurationError(
                    f"{type(self).__name__}.{head} is {type(inner).__name__}, which has no parameters to set "
                    f"({', '.join(f'{head}__{k}' for k in sub)})"
                )
            inner.set_params(**sub)
        return self

    def __repr__(self) -> str:
        defaults = self._param_defaults()
        changed = [f"{k}={v!r}" for k, v in self.get_params(deep=False).items() if defaults.get(k, _NO_DEFAULT) != v]
        return f"{type(self).__name__}({', '.join(changed)})"


class Config:
    """Mixin for configuration dataclasses: dict and JSON round trips, files.

    Nested dataclasses become dicts and tuples lists; :meth:`from_dict` rebuilds them from
    the field types and refuses unknown keys. Every configuration in hepsift (estimators,
    event generation, the detector model) uses it.

    Examples
    --------
    >>> from hepsift.models import MLPConfig
    >>> cfg = MLPConfig(hidden_layers=(32, 32), dropout=0.1)
    >>> MLPConfig.from_json(cfg.to_json()) == cfg
    True
    """

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python dict (nested dataclasses become dicts, tuples lists)."""
        return json.loads(self.to_json())  # type: ignore[no-any-return]

    def to_json(self, indent: int | None = None) -> str:
        """JSON text of every field (keys sorted)."""
        return json.dumps(dataclasses.asdict(self), indent=indent, sort_keys=True, default=_jsonable)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[C], data: Mapping[str, Any]) -> C:
        """Build from a mapping; unknown keys raise :class:`hepsift.ConfigurationError`."""
        return _dataclass_from_dict(cls, data)

    @classmethod
    def from_json(cls: type[C], text: str) -> C:
        """Inverse of :meth:`to_json`."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigurationError(f"{cls.__name__}: not valid JSON ({exc})") from exc
        return cls.from_dict(data)

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


def _dataclass_from_dict(cls: type[Any], data: Any) -> Any:
    """Inverse of ``dataclasses.asdict`` + JSON: nested dataclasses and tuples are rebuilt from
    the field types; unknown keys raise :class:`hepsift.ConfigurationError`."""
    if not isinstance(data, Mapping):
        raise ConfigurationError(f"{cls.__name__}: expected a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigurationError(f"{cls.__name__}: unknown field(s) {unknown}; known: {sorted(fields)}")
    try:
        hints = typing.get_type_hints(cls)
    except (NameError, TypeError):  # pragma: no cover - unresolvable annotation
        hints = {}
    values: dict[str, Any] = {}
    for name, value in data.items():
        hint = hints.get(name)
        if isinstance(hint, type) and dataclasses.is_dataclass(hint) and isinstance(value, Mapping):
            value = _dataclass_from_dict(hint, value)
        elif isinstance(value, list) and (typing.get_origin(hint) is tuple or "tuple" in str(hint)
                                          or isinstance(fields[name].default, tuple)):
            value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
        values[name] = value
    return cls(**values)


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def versions(*packages: str) -> dict[str, str]:
    """Installed versions of ``packages`` (plus python, numpy and hepsift)."""
    from importlib import metadata

    out = {"hepsift": __version__, "python": platform.python_version(), "numpy": np.__version__}
    for p in packages:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = "absent"
    return out


def threshold_table(scores_bkg: Any, weights: Any = None,
                    efficiencies: Sequence[float] = EFFICIENCIES) -> dict[str, float]:
    """Score cuts at fixed (weighted) background efficiencies: the one threshold table.

    ``table[efficiency_key(eps)] = c`` where ``c`` is the weighted ``1 - eps`` quantile of the
    background scores (NumPy's ``inverted_cdf``): a cut ``score > c`` keeps a weighted
    fraction of at most ``eps`` of these events. An efficiency below ``1 / n_events`` is not
    resolvable with these events and is left out.

    Parameters
    ----------
    scores_bkg : ndarray, shape (n_events,); background scores (higher = more signal-like)
    weights : ndarray, shape (n_events,), optional; event weights (negative ones count as 0)
    efficiencies : background efficiencies in (0, 1)

    Returns
    -------
    dict: ``efficiency_key(eps)`` (e.g. ``"1e-3"``, the key of the ONNX metadata
    ``hepsift.thresholds``) -> score cut (float)
    """
    from hepsift.export._metadata import efficiency_key

    s = np.asarray(scores_bkg, dtype=np.float64).ravel()
    w = np.ones_like(s) if weights is None else np.clip(np.asarray(weights, dtype=np.float64).ravel(), 0, None)
    if len(s) == 0 or w.sum() <= 0:
        return {}
    out = {}
    for e in efficiencies:
        if not 0.0 < float(e) < 1.0:
            raise ConfigurationError(f"a background efficiency must be in (0, 1); got {e}")
        if e < 1.0 / len(s):
            continue
        out[efficiency_key(e)] = float(np.quantile(s, 1.0 - float(e), weights=w, method="inverted_cdf"))
    return out


def as_matrix(
    X: Any, feature_names: Sequence[str] | None = None, *, what: str = "X"
) -> tuple[np.ndarray, list[str] | None]:
    """Turn an array, a mapping ``name -> 1-D array`` or a DataFrame into a float32 matrix.

    Returns
    -------
    (ndarray float32 of shape (n_events, n_features), list of names or None)
    """
    if isinstance(X, Mapping) or (hasattr(X, "dtype") and getattr(X.dtype, "names", None)):
        keys = list(X.keys()) if isinstance(X, Mapping) else list(X.dtype.names)
        names = list(feature_names) if feature_names is not None else keys
        missing = [n for n in names if n not in keys]
        if missing:
            raise InputMismatchError(f"{what} has no column(s) {', '.join(missing)}; it has {', '.join(keys)}")
        cols = [np.asarray(X[n], dtype=np.float32).reshape(-1) for n in names]
        if len({len(c) for c in cols}) > 1:
            raise DataError(f"{what}: columns have different lengths")
        return np.ascontiguousarray(np.stack(cols, axis=1)), names
    if hasattr(X, "columns") and hasattr(X, "to_numpy"):  # a pandas DataFrame
        names = [str(c) for c in X.columns]
        return as_matrix({n: X[n].to_numpy() for n in names}, feature_names, what=what)
    arr = np.asarray(X)
    if arr.dtype == object:
        raise DataError(f"{what} must be a numeric array, got dtype object")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise DataError(f"{what} must have shape (n_events, n_features); got {arr.shape}")
    if feature_names is not None and len(feature_names) != arr.shape[1]:
        raise InputMismatchError(f"{what} has {arr.shape[1]} columns but {len(feature_names)} feature names were given")
    return arr, (list(feature_names) if feature_names is not None else None)


class Estimator(Saveable, Parameters):
    """The base of every hepsift learner (see the module documentation).

    A subclass defines

    * ``__init__`` with keyword parameters only, each stored unchanged under its own name,
      and ``config_class``, a :class:`Config` dataclass with the same fields;
    * ``fit(...)`` returning ``self`` and recording ``provenance_`` with :meth:`_provenance`;
    * ``_hepsift_onnx_(n_features, opset) -> (onnx.ModelProto, native(X), score output name)``,
      the graph that :meth:`to_onnx` writes.

    Class attributes that a family may change: ``_kind`` (the ONNX ``hepsift.kind``),
    ``_fitted_attrs`` and ``_model_attrs`` (what a fitted estimator of the family and of the
    class has), ``_packages`` (whose versions the provenance records), ``_transient`` (caches
    that are never saved), ``_onnx_rtol`` and ``_onnx_atol`` (parity tolerance of the export).
    """

    config_class: ClassVar[type[Any]]
    _kind: ClassVar[str] = "classifier"
    _fitted_attrs: ClassVar[tuple[str, ...]] = ("n_features_in_",)
    _model_attrs: ClassVar[tuple[str, ...]] = ()
    _packages: ClassVar[tuple[str, ...]] = ()
    _transient: ClassVar[tuple[str, ...]] = ("_module_cache",)
    _onnx_rtol: ClassVar[float] = 1e-5
    _onnx_atol: ClassVar[float] = 1e-5

    # ---- parameters ---------------------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p.name for p in sig.parameters.values()
                if p.name != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]

    @classmethod
    def _param_defaults(cls) -> dict[str, Any]:
        sig = inspect.signature(cls.__init__)
        return {p.name: p.default for p in sig.parameters.values()
                if p.name != "self" and p.default is not inspect.Parameter.empty}

    def clone(self) -> Estimator:
        """An unfitted copy with the same parameters (sub-estimators cloned too)."""
        return type(self)(**{k: v.clone() if isinstance(v, Estimator) else v
                             for k, v in self.get_params(deep=False).items()})

    def to_config(self) -> Any:
        """The parameters as the estimator's configuration dataclass (round-trips to JSON)."""
        params = self.get_params(deep=False)
        return self.config_class(**{f.name: params[f.name] for f in dataclasses.fields(self.config_class)})

    @classmethod
    def from_config(cls, config: Any) -> Estimator:
        """An unfitted estimator from a configuration: dataclass, mapping, JSON text or JSON file."""
        if isinstance(config, os.PathLike) or (isinstance(config, str) and not config.lstrip().startswith("{")):
            config = cls.config_class.load(config)
        elif isinstance(config, str):
            config = cls.config_class.from_json(config)
        elif isinstance(config, Mapping):
            config = cls.config_class.from_dict(config)
        if not isinstance(config, cls.config_class):
            raise ConfigurationError(f"{cls.__name__} needs a {cls.config_class.__name__}, got {type(config).__name__}")
        return cls(**{f.name: getattr(config, f.name) for f in dataclasses.fields(config)})

    # ---- fitted state -------------------------------------------------------------
    @property
    def is_fitted(self) -> bool:
        """Whether ``fit`` has run (every attribute of ``_fitted_attrs`` and ``_model_attrs`` exists)."""
        return all(hasattr(self, a) for a in (*self._fitted_attrs, *self._model_attrs))

    def _check_fitted(self) -> None:
        """Raise :class:`hepsift.NotFittedError` unless the estimator is fitted."""
        if not self.is_fitted:
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(...) before using it")

    def _provenance(self, n_events: int, sample_weight: Any = None, *, feature_names: Sequence[str] | None = None,
                    **extra: Any) -> dict[str, Any]:
        """The one provenance layout of a fit (saved with the estimator and in its ONNX metadata).

        Parameters
        ----------
        n_events : number of training events
        sample_weight : ndarray, shape (n_events,), optional; the training weights (their sum is kept)
        feature_names : names of the training features, in input order (default:
            ``feature_names_in_``, else ``f0, f1, ...``)
        **extra : estimator-specific entries (loss, best epoch, test statistic, ...)

        Returns
        -------
        dict with ``estimator`` (class name), ``hepsift`` (version), ``versions`` (python,
        numpy and the packages the estimator uses), ``seed``, ``config`` (the parameters),
        ``data`` (``n_events``, ``feature_names``, ``weights_sum``), ``created`` (local time)
        and the ``extra`` entries.
        """
        if feature_names is None:
            feature_names = getattr(self, "feature_names_in_", None) or [
                f"f{i}" for i in range(int(getattr(self, "n_features_in_", 0)))]
        w_sum = float(n_events) if sample_weight is None else float(np.sum(np.asarray(sample_weight, np.float64)))
        return {
            "estimator": type(self).__name__,
            "hepsift": __version__,
            "versions": versions(*self._packages),
            "seed": getattr(self, "seed", None),
            "config": self.to_config().to_dict(),
            "data": {"n_events": int(n_events), "feature_names": [str(n) for n in feature_names],
                     "weights_sum": w_sum},
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            **extra,
        }

    # ---- persistence (format and checks: hepsift._saved) -----------------------------
    def _saved_config_(self) -> dict[str, Any]:
        return self.to_config().to_dict()  # type: ignore[no-any-return]

    @classmethod
    def _from_saved_config_(cls, config: Mapping[str, Any]) -> Estimator:
        return cls.from_config(dict(config))

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        for name in self._transient:
            state.pop(name, None)
        return state

    def _saved_state_(self) -> dict[str, Any]:
        """Every attribute but the constructor parameters and the caches (as ``__getstate__`` gives them)."""
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
    def _onnx_feature_names(self) -> list[str]:
        """The input names of the exported file (default: ``feature_names_in_``, else ``f0, f1, ...``)."""
        names = getattr(self, "feature_names_in_", None)
        return list(names) if names else [f"f{i}" for i in range(int(self.n_features_in_))]  # type: ignore[attr-defined]

    def _onnx_kind(self) -> str:
        return self._kind

    def _onnx_sample(self) -> np.ndarray | None:
        """Events for the export's parity check (default: :func:`hepsift.export.to_onnx`'s)."""
        return None

    def _hepsift_onnx_(self, n_features: int, opset: int) -> tuple[Any, Callable[[np.ndarray], np.ndarray], str]:
        raise NotImplementedError  # pragma: no cover - abstract

    def to_onnx(self, path: str | os.PathLike[str], feature_names: Sequence[str] | None = None, *,
                sample: np.ndarray | None = None, rtol: float | None = None, atol: float | None = None,
                opset: int = 17, overwrite: bool = False) -> Path:
        """Export to one self-describing ONNX file with :func:`hepsift.export.to_onnx`.

        The file holds the preprocessing, the model and its score head; its metadata the
        feature names, the kind, the threshold table (``threshold_``, if any), the mass
        parameter (if any) and the provenance (``provenance_``). ONNX Runtime is checked
        against the Python outputs on ``sample`` before the file is kept.

        Parameters
        ----------
        path : output ``.onnx`` file
        feature_names : input names in column order (default: the names seen by ``fit``)
        sample : ndarray, shape (n, n_features), optional; events for the parity check
        rtol, atol : parity tolerance (default: the estimator's)
        opset : ONNX opset
        overwrite : replace an existing file (default False)

        Returns
        -------
        pathlib.Path of the written file

        Raises
        ------
        hepsift.NotFittedError, hepsift.ModelError (parity), hepsift.OutputError
        """
        from hepsift.export import to_onnx

        self._check_fitted()
        names = list(feature_names) if feature_names is not None else self._onnx_feature_names()
        mass = getattr(self, "mass_feature_", None)
        if mass is not None and mass not in names:
            names[self.mass_index_] = mass  # type: ignore[attr-defined]
        return to_onnx(self, path, feature_names=names, kind=self._onnx_kind(),
                       sample=self._onnx_sample() if sample is None else sample,
                       thresholds=getattr(self, "threshold_", None) or None, mass_parameter=mass,
                       provenance=self.provenance_,  # type: ignore[attr-defined]
                       rtol=self._onnx_rtol if rtol is None else rtol, atol=self._onnx_atol if atol is None else atol,
                       opset=opset, overwrite=overwrite)
