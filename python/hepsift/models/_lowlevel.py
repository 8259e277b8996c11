"""What the models of low-level inputs share: padded sets of objects and images, trained with
PyTorch, exported with several inputs and per-object outputs.

The ONNX conventions of these models (the C++ scorer follows them):

* **set models** (:class:`hepsift.models.DeepSetsClassifier`, :class:`hepsift.models.JetTagger`):
  input 0 ``objects``, float32, ``[N, P, F]`` (P dynamic; the tagger: ``[N, J, P, F]``, J and P
  dynamic), input 1 ``mask``, float32, ``[N, P]`` (``[N, J, P]``): 1 for a real object, 0 for
  padding. Padded entries may hold any value, NaN included: they never reach a score.
* **image models** (:class:`hepsift.models.CNNClassifier`, :class:`hepsift.models.LCNNClassifier`):
  one input ``images``, float32, ``[N, C, H, W]``.
* **outputs**: ``score`` (the signal probability), ``[N]`` per event or ``[N, J]`` per object
  (aligned with the collection named by ``hepsift.output_collection``; 0 for padded jets).
* **metadata** (:mod:`hepsift.export._metadata`): ``hepsift.features`` holds the per-object
  columns (sets) or the channel names (images); ``hepsift.inputs`` describes every graph input;
  ``hepsift.collections`` names the collections read; ``hepsift.output_collection`` the
  collection a per-object output is aligned with.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from hepsift._estimator import Config, threshold_table
from hepsift._torch import load_numpy_state, state_to_numpy, torch_seed, torch_threads, train_minibatches
from hepsift.errors import ConfigurationError, DataError, InputMismatchError
from hepsift.models._base import Supervised, check_weights, class_balance, check_choice

__all__ = ["TrainingConfig", "TensorClassifier", "store_params"]

#: Events per forward pass at prediction time.
_CHUNK = 4096


@dataclass
class TrainingConfig(Config):
    """Training parameters shared by the low-level models (the fields after each model's own)."""

    epochs: int = 20
    batch_size: int = 128
    learning_rate: float = 1e-3
    class_weight: str | None = None
    seed: int = 0
    threads: int = 1
    progress: bool = False


def store_params(est: Any, values: Mapping[str, Any]) -> None:
    """Store every constructor parameter of ``est`` from ``values`` (the ``__init__``'s ``locals()``)."""
    for name in est._param_names():
        setattr(est, name, values[name])


def check_layers(name: str, layers: Any, width: int = 1) -> tuple[Any, ...]:
    """Validate a tuple of positive integers (``width == 1``) or of positive integer tuples of ``width``."""
    out = tuple(layers)
    for item in out:
        parts = (item,) if width == 1 else tuple(item) if isinstance(item, (tuple, list)) else ()
        if len(parts) != width or any(isinstance(u, bool) or int(u) != u or u < 1 for u in parts):
            what = "positive integers" if width == 1 else f"pairs of positive integers ({width} each)"
            raise ConfigurationError(f"{name} must be a tuple of {what}; got {layers!r}")
    return out


def check_binary(y: Any, shape: tuple[int, ...], what: str = "y") -> np.ndarray:
    """Labels 0/1 of shape ``shape`` (and -1 = ignored); returns int64."""
    arr = np.asarray(y)
    if arr.shape != shape:
        raise DataError(f"{what} has shape {arr.shape}; expected {shape}")
    if arr.dtype.kind not in "biuf" or not np.all(np.isfinite(arr.astype(np.float64))):
        raise DataError(f"{what} must hold finite numeric labels")
    if not np.all(np.isin(arr, (-1, 0, 1))):
        raise DataError(f"{what} must hold the labels 0 (background) and 1 (signal) (-1: ignored); "
                        f"found {np.unique(arr)[:10].tolist()}")
    arr = arr.astype(np.int64)
    present = set(np.unique(arr[arr >= 0]).tolist())
    if present != {0, 1}:
        raise DataError(f"{what} holds only the class(es) {sorted(present)}; a classifier needs 0 and 1")
    return arr


class TensorClassifier(Supervised):
    """Base of the binary classifiers of padded sets and images (PyTorch, exported with their heads).

    A subclass defines ``_input_names`` (the graph inputs), ``_prepare(X, **kw)`` (validated
    float32 input arrays), ``_build()`` (the torch module: inputs -> logits), the network
    dimensions kept in ``dims_`` and ``_metadata()`` (the ``hepsift.inputs`` entries).
    """

    _packages: ClassVar[tuple[str, ...]] = ("torch",)
    _fitted_attrs: ClassVar[tuple[str, ...]] = ("n_features_in_", "net_")
    _input_names: ClassVar[tuple[str, ...]] = ()
    #: Axes of each input that vary between events in the ONNX file (beyond the batch axis 0).
    _dynamic_axes: ClassVar[dict[str, dict[int, str]]] = {}
    #: Shape of the output: ("N",) per event, ("N", "J") per object.
    _output_axes: ClassVar[tuple[str, ...]] = ("N",)

    # ---- subclass hooks --------------------------------------------------------------
    def _prepare(self, X: Any, **kw: Any) -> tuple[np.ndarray, ...]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _build(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _validate(self) -> None:
        check_choice("class_weight", self.class_weight, (None, "balanced"))
        for name in ("epochs", "batch_size"):
            if int(getattr(self, name)) < 1:
                raise ConfigurationError(f"{name} must be >= 1; got {getattr(self, name)}")
        if not float(self.learning_rate) > 0:
            raise ConfigurationError(f"learning_rate must be > 0; got {self.learning_rate}")

    def _fit_scaling(self, inputs: tuple[np.ndarray, ...]) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _metadata(self) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    # ---- fit -------------------------------------------------------------------------
    def _fit_arrays(self, inputs: tuple[np.ndarray, ...], y: np.ndarray, sample_weight: Any,
                    names: Sequence[str]) -> None:
        """Train on validated ``inputs`` with labels ``y`` (shape of the output; -1 = ignored)."""
        import torch

        self._validate()
        labels = check_binary(y, tuple(inputs[0].shape[:len(self._output_axes)]))
        w_raw = check_weights(sample_weight, len(labels))
        w_full = np.broadcast_to(w_raw.reshape((-1,) + (1,) * (labels.ndim - 1)), labels.shape)
        used = labels >= 0
        w = np.zeros(labels.shape, dtype=np.float64)
        w[used] = (class_balance(labels[used], w_full[used]) if self.class_weight == "balanced"
                   else w_full[used] / np.mean(np.abs(w_full[used])))
        for attr in ("threshold_", "net_"):
            self.__dict__.pop(attr, None)
        self.classes_ = np.array([0, 1])
        self.task_ = "binary"
        self.feature_names_in_ = [str(n) for n in names]
        self.n_features_in_ = len(self.feature_names_in_)
        self._fit_scaling(inputs)
        with torch_threads(self.threads):
            gen = torch_seed(int(self.seed))
            net = self._build()
            tensors = [torch.from_numpy(np.ascontiguousarray(a)) for a in inputs]
            tt = torch.from_numpy(np.clip(labels, 0, 1).astype(np.float32))
            tw = torch.from_numpy(w.astype(np.float32))
            opt = torch.optim.Adam(net.parameters(), lr=float(self.learning_rate))

            def batch_loss(idx: Any) -> Any:
                logits = net(*(t[idx] for t in tensors))
                loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, tt[idx], reduction="none")
                return (loss * tw[idx]).sum() / tw[idx].sum().clamp_min(1e-12)

            net.train()
            self.history_ = {"loss": train_minibatches(
                torch.arange(len(labels)), gen, batch_loss, opt, epochs=int(self.epochs),
                batch_size=int(self.batch_size), desc=type(self).__name__, show_progress=bool(self.progress))}
            self.net_ = net.eval()
        rng = np.random.default_rng(int(self.seed))
        pick = np.sort(rng.choice(len(labels), size=min(256, len(labels)), replace=False))
        self._parity_sample = {name: a[pick] for name, a in zip(self._input_names, inputs, strict=True)}
        scores = self._scores(inputs)
        bkg = labels == 0
        self.threshold_ = threshold_table(scores[bkg], w_full[bkg])
        self.provenance_ = self._provenance(len(labels), w_raw, feature_names=self.feature_names_in_,
                                            loss="bce", epochs_run=int(self.epochs),
                                            **({"n_objects": int(used.sum())} if labels.ndim > 1 else {}))

    # ---- inference -------------------------------------------------------------------
    def _logits(self, inputs: tuple[np.ndarray, ...]) -> np.ndarray:
        import torch

        self._check_fitted()
        outs = []
        with torch.no_grad(), torch_threads(self.threads):
            for start in range(0, len(inputs[0]), _CHUNK):
                outs.append(self.net_(*(torch.from_numpy(np.ascontiguousarray(a[start:start + _CHUNK]))
                                        for a in inputs)).numpy())
        return np.concatenate(outs).astype(np.float32)

    def _scores(self, inputs: tuple[np.ndarray, ...]) -> np.ndarray:
        """The signal probability of every event (or object), float32."""
        import torch

        return torch.sigmoid(torch.from_numpy(self._logits(inputs))).numpy()

    # ---- export ----------------------------------------------------------------------
    def _onnx_feature_names(self) -> list[str]:
        return list(self.feature_names_in_)

    def _onnx_sample(self) -> Any:
        return getattr(self, "_parity_sample", None)

    def _scored_module(self) -> Any:
        """The network with its score head (sigmoid), as the ONNX file computes it."""
        import torch

        net = self.net_

        class Scored(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.net = net

            def forward(self, *xs: Any) -> Any:
                return torch.sigmoid(self.net(*xs))

        return Scored().eval()

    def _hepsift_onnx_(self, n_features: int, opset: int) -> tuple[Any, Callable[[Any], np.ndarray], str]:
        import os
        import tempfile
        import warnings

        import onnx
        import torch

        from hepsift.export._metadata import lowlevel_metadata

        self._check_fitted()
        if n_features != self.n_features_in_:
            raise InputMismatchError(f"{n_features} feature names for a model fitted on {self.n_features_in_} "
                                     "features (per-object columns or image channels)")
        module = self._scored_module()
        example = tuple(torch.from_numpy(np.ascontiguousarray(self._parity_sample[n][:2])) for n in self._input_names)
        axes = {name: {0: "N", **self._dynamic_axes.get(name, {})} for name in self._input_names}
        axes["score"] = dict(enumerate(self._output_axes))
        with tempfile.TemporaryDirectory() as tmp, torch_threads(self.threads):
            f = os.path.join(tmp, "m.onnx")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(module, example, f, input_names=list(self._input_names), output_names=["score"],
                                  dynamic_axes=axes, opset_version=opset, dynamo=False)
            proto = onnx.load(f)
        meta = self._metadata()
        for key, value in lowlevel_metadata(**meta).items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value

        def native(sample: Any) -> np.ndarray:
            if not isinstance(sample, Mapping):
                sample = {self._input_names[0]: sample}
            return self._scores(tuple(np.asarray(sample[n], dtype=np.float32) for n in self._input_names))

        return proto, native, "score"

    # ---- saving (torch module as plain arrays) ---------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        net = state.pop("net_", None)
        if net is not None:
            state["_net_state"] = state_to_numpy(net)
        return state

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        state = dict(state)
        net_state = state.pop("_net_state", None)
        self.__dict__.update(state)
        if net_state is not None:
            net = self._build()
            load_numpy_state(net, net_state)
            self.net_ = net.eval()


def config_fields(cls: type, config: type) -> None:
    """Check that a configuration dataclass lists exactly the constructor parameters, in order."""
    fields = [f.name for f in dataclasses.fields(config)]
    if fields != cls._param_names():  # type: ignore[attr-defined]
        raise AssertionError(f"{config.__name__} fields {fields} differ from {cls.__name__} parameters")
