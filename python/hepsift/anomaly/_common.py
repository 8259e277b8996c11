"""Machinery shared by hepsift's anomaly detectors and generative models.

* :class:`ConfigBase`: configuration dataclasses that round-trip to JSON;
* :class:`Estimator`: the scikit-learn-like contract (``get_params``/``set_params``,
  ``NotFittedError``, ``save``/``load`` in the format of :mod:`hepsift._saved`);
* input validation (finite values, feature lists, the ``-999`` convention for absent objects);
* the ONNX export of a ``torch.nn.Module`` whose forward pass already holds the score head.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import tempfile
import time
import typing
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np

from hepsift import errors
from hepsift._atomic import atomic_output
from hepsift._estimator import Parameters
from hepsift._saved import Saveable, load
from hepsift._version import __version__

__all__ = [
    "MISSING",
    "ConfigBase",
    "Estimator",
    "as_matrix",
    "check_finite",
    "sanitised_features",
    "provenance",
    "torch_to_onnx",
    "load",
]

#: Value of a feature whose object is absent (the convention of :mod:`hepsift.io.features`).
MISSING: float = -999.0

C = TypeVar("C", bound="ConfigBase")


@dataclasses.dataclass
class ConfigBase:
    """Base of the configuration dataclasses: ``to_dict``/``from_dict``, ``to_json``/``from_json``."""

    def to_dict(self) -> dict[str, Any]:
        """Plain ``dict`` (tuples become lists), suitable for JSON."""
        out = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            out[f.name] = list(v) if isinstance(v, tuple) else v
        return out

    @classmethod
    def from_dict(cls: type[C], data: Mapping[str, Any]) -> C:
        """Build from a mapping; unknown keys raise :class:`hepsift.ConfigurationError`."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise errors.ConfigurationError(
                f"unknown {cls.__name__} field(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}"
            )
        hints = typing.get_type_hints(cls)
        kwargs = {}
        for k, v in data.items():
            if isinstance(v, list) and "tuple" in str(hints.get(k, "")):
                v = tuple(v)
            kwargs[k] = v
        return cls(**kwargs)

    def to_json(self, path: str | os.PathLike[str] | None = None, *, overwrite: bool = False) -> str:
        """JSON text of the configuration; also written to ``path`` when given (atomically; an
        existing file only with ``overwrite=True``)."""
        text = json.dumps(self.to_dict(), indent=2, sort_keys=True)
        if path is not None:
            with atomic_output(path, overwrite=overwrite) as tmp:
                tmp.write_text(text + "\n")
        return text

    @classmethod
    def from_json(cls: type[C], text_or_path: str | os.PathLike[str]) -> C:
        """Read a configuration from JSON text or from a JSON file."""
        text = str(text_or_path)
        if not text.lstrip().startswith("{"):
            text = Path(text_or_path).read_text()
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise errors.ConfigurationError(f"{cls.__name__}: not valid JSON ({exc})") from exc
        return cls.from_dict(data)


def provenance(seed: int | None, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Versions, host and time of a training run (stored in saved models and ONNX metadata)."""
    import sys

    out: dict[str, Any] = {
        "hepsift": __version__,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "platform": platform.platform(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "seed": seed,
    }
    for mod in ("torch", "sklearn", "zuko"):
        m = sys.modules.get(mod)
        if m is not None:
            out[mod] = getattr(m, "__version__", "?")
    out.update(extra or {})
    return out


def check_finite(X: np.ndarray, names: Sequence[str], what: str = "input") -> None:
    """Raise :class:`hepsift.NonFiniteInputError` naming the first NaN/inf column and row."""
    bad = ~np.isfinite(X)
    if bad.any():
        row, col = (int(i) for i in np.argwhere(bad)[0])
        n_bad = int(bad.sum())
        raise errors.NonFiniteInputError(
            f"{what}: feature '{names[col]}' is {X[row, col]} in event {row} ({n_bad} non-finite value(s) in all); "
            f"absent objects must be encoded as {MISSING:g}, never NaN or infinity"
        )


def as_matrix(
    X: Any, feature_names: Sequence[str] | None = None, *, what: str = "X"
) -> tuple[np.ndarray, list[str] | None]:
    """Turn an array or a mapping ``name -> 1-D array`` into a float32 matrix.

    Returns
    -------
    (ndarray float32 of shape (n_events, n_features), list of names or None)
    """
    if isinstance(X, Mapping) or (hasattr(X, "dtype") and getattr(X.dtype, "names", None)):
        keys = list(X.keys()) if isinstance(X, Mapping) else list(X.dtype.names)
        names = list(feature_names) if feature_names is not None else keys
        missing = [n for n in names if n not in keys]
        if missing:
            raise errors.InputMismatchError(f"{what} has no column(s) {', '.join(missing)}; it has {', '.join(keys)}")
        cols = [np.asarray(X[n], dtype=np.float32).reshape(-1) for n in names]
        if len({len(c) for c in cols}) > 1:
            raise errors.DataError(f"{what}: columns have different lengths")
        return np.ascontiguousarray(np.stack(cols, axis=1)), names
    if hasattr(X, "columns") and hasattr(X, "to_numpy"):  # a pandas DataFrame
        names = [str(c) for c in X.columns]
        return as_matrix({n: X[n].to_numpy() for n in names}, feature_names, what=what)
    arr = np.asarray(X)
    if arr.dtype == object:
        raise errors.DataError(f"{what} must be a numeric array, got dtype object")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise errors.DataError(f"{what} must have shape (n_events, n_features); got {arr.shape}")
    if feature_names is not None and len(feature_names) != arr.shape[1]:
        raise errors.InputMismatchError(
            f"{what} has {arr.shape[1]} columns but {len(feature_names)} feature names were given"
        )
    return arr, (list(feature_names) if feature_names is not None else None)


def sanitised_features(X: Any, feature_names: Sequence[str] | None = None) -> list[str]:
    """The "sanitised" feature set: the features never equal to :data:`MISSING` in ``X``.

    Parameters
    ----------
    X : ndarray, shape (n_events, n_features), or mapping name -> array
    feature_names : names of the columns of an array ``X`` (default ``x0``, ``x1``, ...)

    Returns
    -------
    list of str: the names of the columns without holes from absent objects, in input order.
    """
    arr, names = as_matrix(X, feature_names)
    names = names or [f"x{i}" for i in range(arr.shape[1])]
    keep = ~np.any(arr == np.float32(MISSING), axis=0)
    return [n for n, k in zip(names, keep) if k]


class Estimator(Saveable, Parameters):
    """scikit-learn-like base: parameters are the fields of ``Config``; learned state ends in ``_``.

    The learned state is the attributes named in ``_state_attrs`` (common to a family of
    models) and ``_model_attrs`` (those of one model); the estimator is fitted when all exist.
    """

    Config: ClassVar[type[ConfigBase]]
    _state_attrs: ClassVar[tuple[str, ...]] = ()
    _model_attrs: ClassVar[tuple[str, ...]] = ()
    _params_word: ClassVar[str] = "known"

    # -- parameters -----------------------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls.Config)]

    @classmethod
    def _param_defaults(cls) -> dict[str, Any]:
        defaults = cls.Config()
        return {f.name: getattr(defaults, f.name) for f in dataclasses.fields(defaults)}

    @property
    def config(self) -> ConfigBase:
        """The parameters as a configuration dataclass (round-trips to JSON)."""
        return self.Config(**self.get_params(deep=False))

    @classmethod
    def from_config(cls, config: ConfigBase | Mapping[str, Any] | str) -> Estimator:
        """Build an unfitted estimator from a configuration (dataclass, mapping or JSON)."""
        if isinstance(config, str) or isinstance(config, os.PathLike):
            config = cls.Config.from_json(config)
        elif isinstance(config, Mapping):
            config = cls.Config.from_dict(config)
        if not isinstance(config, cls.Config):
            raise errors.ConfigurationError(f"{cls.__name__} needs a {cls.Config.__name__}, got {type(config).__name__}")
        return cls(**dataclasses.asdict(config))

    def _check_params(self) -> None:
        try:
            self.config
        except TypeError as exc:  # pragma: no cover - dataclass construction
            raise errors.ConfigurationError(str(exc)) from exc

    # -- fitted state ---------------------------------------------------------------
    def _is_fitted(self) -> bool:
        return all(hasattr(self, a) for a in (*self._state_attrs, *self._model_attrs))

    def _check_fitted(self) -> None:
        if not self._is_fitted():
            raise errors.NotFittedError(
                f"this {type(self).__name__} is not fitted yet: call fit(X) before using it"
            )

    def _get_state(self) -> dict[str, Any]:
        return {a: getattr(self, a) for a in (*self._state_attrs, *self._model_attrs)}

    def _training_provenance(self, n_train: int) -> dict[str, Any]:
        """:func:`provenance` of a fit on ``n_train`` events of the features ``feature_names_in_``."""
        return provenance(self.seed, {  # type: ignore[attr-defined]
            "class": type(self).__name__, "config": self.config.to_dict(), "n_train": int(n_train),
            "features": self.feature_names_in_,  # type: ignore[attr-defined]
        })  # fmt: skip

    def _set_state(self, state: Mapping[str, Any]) -> None:
        for k, v in state.items():
            setattr(self, k, v)

    # -- persistence (format and checks: hepsift._saved) ----------------------------
    def _saved_config_(self) -> dict[str, Any]:
        return self.config.to_dict()

    @classmethod
    def _from_saved_config_(cls, config: Mapping[str, Any]) -> Estimator:
        return cls.from_config(config)

    def _saved_state_(self) -> dict[str, Any]:
        self._check_fitted()
        return self._get_state()

    def _restore_saved_state_(self, state: dict[str, Any]) -> None:
        self._set_state(state)


def torch_to_onnx(
    module: Any, n_inputs: int, opset: int, *, input_name: str = "features", output_name: str = "score"
) -> tuple[Any, Callable[[np.ndarray], np.ndarray]]:
    """Export ``module`` (float32 ``(n, n_inputs)`` -> ``(n, k)``) with the TorchScript exporter.

    Returns
    -------
    (onnx.ModelProto, native) where ``native(X)`` evaluates the module in float32 and returns
    ``(n,)`` for ``k == 1`` else ``(n, k)``.
    """
    import onnx
    import torch

    module = module.eval()
    with tempfile.TemporaryDirectory() as tmp:
        f = os.path.join(tmp, "m.onnx")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module, (torch.zeros(2, n_inputs),), f, input_names=[input_name], output_names=[output_name],
                dynamic_axes={input_name: {0: "batch"}, output_name: {0: "batch"}}, opset_version=opset,
                dynamo=False,
            )
        proto = onnx.load(f)

    def native(X: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            y = module(torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))).numpy()
        y = y.reshape(len(y), -1)
        return y[:, 0] if y.shape[1] == 1 else y

    return proto, native


def set_metadata(proto: Any, values: Mapping[str, Any]) -> None:
    """Add (or replace) string metadata properties of an ``onnx.ModelProto``."""
    existing = {p.key: p for p in proto.metadata_props}
    for key, value in values.items():
        text = value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
        if key in existing:
            existing[key].value = text
        else:
            p = proto.metadata_props.add()
            p.key, p.value = key, text


def state_to_numpy(module: Any) -> dict[str, np.ndarray]:
    """Copy of the ``state_dict`` of a ``torch.nn.Module`` as NumPy arrays (picklable without torch)."""
    return {k: v.detach().cpu().numpy().copy() for k, v in module.state_dict().items()}


def load_numpy_state(module: Any, state: Mapping[str, np.ndarray]) -> None:
    """Load a state written by :func:`state_to_numpy` into ``module`` (in place)."""
    import torch

    module.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in state.items()})


def torch_seed(seed: int) -> Any:
    """Seed torch's global generator and return a dedicated ``torch.Generator`` for shuffling."""
    import torch

    torch.manual_seed(int(seed))
    g = torch.Generator()
    g.manual_seed(int(seed))
    return g


def iterate_minibatches(n: int, batch_size: int, generator: Any) -> Any:
    """Yield index tensors of a random permutation of ``range(n)`` in chunks of ``batch_size``."""
    import torch

    perm = torch.randperm(n, generator=generator)
    for start in range(0, n, batch_size):
        yield perm[start : start + batch_size]


def train_minibatches(
    xt: Any, generator: Any, batch_loss: Callable[[Any], Any], optimizer: Any, *, epochs: int, batch_size: int,
    desc: str, show_progress: bool, scheduler: Any = None, max_grad_norm: float | None = None,
) -> list[float]:
    """Minimise ``batch_loss`` over shuffled mini-batches of the training events.

    Parameters
    ----------
    xt : torch.Tensor, shape (n_events, ...); the training events
    generator : torch.Generator that shuffles the events (see :func:`torch_seed`)
    batch_loss : callable mapping a batch ``xt[idx]`` to a scalar loss tensor
    optimizer : torch optimizer over the trained parameters
    epochs, batch_size : passes over ``xt`` and events per step
    desc, show_progress : label of the progress bar over epochs, and whether to show it
    scheduler : learning-rate scheduler stepped after every epoch, optional
    max_grad_norm : clip the gradient norm of the optimizer's parameters before every step, optional

    Returns
    -------
    list of float: the event-weighted mean loss of each epoch
    """
    import torch

    clipped = [p for group in optimizer.param_groups for p in group["params"]] if max_grad_norm is not None else []
    history = []
    for _ in progress(range(int(epochs)), desc=desc, enabled=show_progress):
        total = 0.0
        for idx in iterate_minibatches(len(xt), int(batch_size), generator):
            loss = batch_loss(xt[idx])
            optimizer.zero_grad()
            loss.backward()
            if max_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(clipped, max_grad_norm)
            optimizer.step()
            total += float(loss.detach()) * len(idx)
        if scheduler is not None:
            scheduler.step()
        history.append(total / len(xt))
    return history


def progress(iterable: Any, *, desc: str, enabled: bool) -> Any:
    """A tqdm progress bar when ``enabled`` (and tqdm is installed), else the iterable."""
    if not enabled:
        return iterable
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover
        return iterable
    return tqdm(iterable, desc=desc, leave=False)


class torch_threads:
    """``with torch_threads(1):`` runs the block with that many torch intra-op threads.

    The networks here are small: one thread trains them fastest and does not compete with
    other processes on a shared machine.
    """

    def __init__(self, n: int = 1) -> None:
        self.n = int(n)

    def __enter__(self) -> None:
        import torch

        self._saved = torch.get_num_threads()
        torch.set_num_threads(self.n)

    def __exit__(self, *exc: object) -> None:
        import torch

        torch.set_num_threads(self._saved)
