"""Models of images ``[N, C, H, W]`` (jet images and event images of :mod:`hepsift.images`):
:class:`CNNClassifier` (shared convolution kernels) and :class:`LCNNClassifier` (locally
connected layers: a kernel of its own at every position).

Both put a per-channel scale (``x / scale_c``, ``scale_c`` the standard deviation of channel
c's pixels in the training images) and the score head (sigmoid) inside the exported graph:
one input ``images`` float32 ``[N, C, H, W]``, one output ``score`` ``[N]``.

The locally connected layer (:func:`locally_connected`) exports to plain ONNX operators:
the patches are extracted by a ``Conv`` with fixed one-hot ("identity") kernels (im2col),
then multiplied by a per-position weight with a batched ``MatMul``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from hepsift.errors import ConfigurationError, DataError, InputMismatchError
from hepsift.models._lowlevel import TensorClassifier, TrainingConfig, check_layers, config_fields, store_params

__all__ = ["CNNClassifier", "CNNConfig", "LCNNClassifier", "LCNNConfig", "SEED001_LAYOUT", "locally_connected"]

#: Seed 001's CNN for 2 x 33 x 33 jet images (charged, neutral pT): three convolutions of 32
#: filters (4x4, 3x3, 3x3, no padding), each followed by ReLU and 2x2 max-pooling
#: (33 -> 30 -> 15 -> 13 -> 6 -> 4 -> 2), then dense 64 (ReLU) and one output unit.
SEED001_LAYOUT: dict[str, Any] = {"conv_layers": ((32, 4), (32, 3), (32, 3)), "pool": 2, "dense_layers": (64,)}


def locally_connected(n_in: int, n_out: int, height: int, width: int, kernel: int) -> Any:
    """A locally connected 2-D layer (unshared weights, stride 1, no padding) as a torch module.

    ``y[n, o, i, j] = b[o, i, j] + sum_{c, a, b} W[(i, j), (c, a, b), o] x[n, c, i + a, j + b]``:
    every output position ``(i, j)`` has its own kernel ``W[(i, j)]``.

    Parameters
    ----------
    n_in, n_out : input and output channels
    height, width : input size (the output is ``height - kernel + 1`` x ``width - kernel + 1``)
    kernel : kernel size

    Returns
    -------
    torch.nn.Module mapping float32 ``[N, n_in, height, width]`` to ``[N, n_out, Ho, Wo]``;
    attributes ``weight`` ``[Ho * Wo, n_in * kernel^2, n_out]`` and ``bias`` ``[n_out, Ho, Wo]``
    """
    import torch

    ho, wo = height - kernel + 1, width - kernel + 1
    if ho < 1 or wo < 1:
        raise ConfigurationError(f"a {kernel}x{kernel} locally connected kernel does not fit a {height}x{width} input")
    k2 = kernel * kernel
    patch = n_in * k2

    class LocallyConnected2d(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            eye = torch.zeros(patch, 1, kernel, kernel)
            for c in range(n_in):
                for a in range(kernel):
                    for b in range(kernel):
                        eye[c * k2 + a * kernel + b, 0, a, b] = 1.0
            self.register_buffer("unfold", eye)  # im2col as a grouped Conv with one-hot kernels
            bound = 1.0 / np.sqrt(patch)
            self.weight = torch.nn.Parameter(torch.empty(ho * wo, patch, n_out).uniform_(-bound, bound))
            self.bias = torch.nn.Parameter(torch.zeros(n_out, ho, wo))

        def forward(self, x: Any) -> Any:
            cols = torch.nn.functional.conv2d(x, self.unfold, groups=n_in)  # [N, patch, Ho, Wo]
            cols = cols.reshape(-1, patch, ho * wo).permute(2, 0, 1)  # [L, N, patch]
            out = torch.matmul(cols, self.weight)  # [L, N, n_out]
            return out.permute(1, 2, 0).reshape(-1, n_out, ho, wo) + self.bias

    return LocallyConnected2d()


def _image_net(shape: tuple[int, int, int], layers: Sequence[tuple[int, int]], pool: int, dense: Sequence[int],
               scale: np.ndarray, local: bool) -> Any:
    import torch

    c, h, w = shape
    mods: list[Any] = []
    for filters, kernel in layers:
        if local:
            mods.append(locally_connected(c, int(filters), h, w, int(kernel)))
        else:
            mods.append(torch.nn.Conv2d(c, int(filters), int(kernel)))
        c, h, w = int(filters), h - int(kernel) + 1, w - int(kernel) + 1
        if h < 1 or w < 1:
            raise ConfigurationError(f"the layers {tuple(layers)} do not fit a {shape[1]}x{shape[2]} image")
        mods.append(torch.nn.ReLU())
        if pool > 1 and h >= pool and w >= pool:
            mods.append(torch.nn.MaxPool2d(pool))
            h, w = h // pool, w // pool
    mods.append(torch.nn.Flatten())
    width = c * h * w
    for units in dense:
        mods += [torch.nn.Linear(width, int(units)), torch.nn.ReLU()]
        width = int(units)
    mods.append(torch.nn.Linear(width, 1))

    class ImageNet(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = torch.nn.Sequential(*mods)
            self.register_buffer("inv_scale", torch.tensor((1.0 / np.asarray(scale, np.float32)).reshape(-1, 1, 1)))

        def forward(self, x: Any) -> Any:
            return self.body(x * self.inv_scale).squeeze(-1)

    return ImageNet()


class _ImageBase(TensorClassifier):
    """Shared parts of the image classifiers."""

    _input_names: ClassVar[tuple[str, ...]] = ("images",)
    _local: ClassVar[bool] = False
    _layers_param: ClassVar[str] = "conv_layers"

    def _validate(self) -> None:
        super()._validate()
        check_layers(self._layers_param, getattr(self, self._layers_param), width=2)
        check_layers("dense_layers", self.dense_layers)
        if isinstance(self.pool, bool) or int(self.pool) < 1:
            raise ConfigurationError(f"pool must be a positive integer (1: no pooling); got {self.pool!r}")
        if self.channels is not None and not all(isinstance(c, str) for c in self.channels):
            raise ConfigurationError(f"channels must be names (str); got {self.channels!r}")

    def _images(self, X: Any, fit: bool) -> np.ndarray:
        arr = np.asarray(X, dtype=np.float32)
        if arr.ndim != 4 or 0 in arr.shape:
            raise DataError(f"images must have shape (N, C, H, W); got {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise DataError(f"images hold {int((~np.isfinite(arr)).sum())} NaN or infinite pixel(s)")
        if not fit and tuple(arr.shape[1:]) != tuple(self.image_shape_):
            raise InputMismatchError(f"images of shape {tuple(arr.shape[1:])}; {type(self).__name__} was fitted on "
                                     f"{tuple(self.image_shape_)} (C, H, W)")
        return np.ascontiguousarray(arr)

    def _fit_scaling(self, inputs: tuple[np.ndarray, ...]) -> None:
        (X,) = inputs
        sd = X.astype(np.float64).transpose(1, 0, 2, 3).reshape(X.shape[1], -1).std(axis=1)
        self.scale_ = np.where(sd > 0, sd, 1.0).astype(np.float32)
        self.image_shape_ = tuple(int(s) for s in X.shape[1:])

    def _build(self) -> Any:
        layers = tuple(tuple(int(v) for v in item) for item in getattr(self, self._layers_param))
        return _image_net(tuple(self.image_shape_), layers, int(self.pool), tuple(self.dense_layers),  # type: ignore[arg-type]
                          self.scale_, self._local)

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> Any:
        """Train on images.

        Parameters
        ----------
        X : array_like, float32, shape (N, C, H, W); e.g. :func:`hepsift.images.jet_images`
        y : array_like, shape (N,); 0 background, 1 signal
        sample_weight : array_like, shape (N,), optional

        Returns
        -------
        self
        """
        self._validate()
        images = self._images(X, fit=True)
        names = list(self.channels) if self.channels else [f"c{i}" for i in range(images.shape[1])]
        if len(names) != images.shape[1]:
            raise InputMismatchError(f"{len(names)} channel names for images of {images.shape[1]} channels")
        self._fit_arrays((images,), np.asarray(y).reshape(-1), sample_weight, names)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, float32, shape (N, 2) (column 1 = signal)."""
        self._check_fitted()
        p = self._scores((self._images(X, fit=False),))
        return np.stack([1.0 - p, p], axis=1).astype(np.float32)

    def decision_function(self, X: Any) -> np.ndarray:
        """The logit ``ln(p / (1 - p))`` of every image, float32, shape (N,)."""
        self._check_fitted()
        return self._logits((self._images(X, fit=False),))

    def predict(self, X: Any) -> np.ndarray:
        """Labels 0/1 (probability > 0.5), int64, shape (N,)."""
        return (self.predict_proba(X)[:, 1] > 0.5).astype(np.int64)

    def _metadata(self) -> dict[str, Any]:
        return {"inputs": [{"name": "images", "kind": "image", "shape": ["N", *self.image_shape_],
                            "channels": list(self.feature_names_in_)}]}


@dataclass
class CNNConfig(TrainingConfig):
    """Hyper-parameters of :class:`CNNClassifier` (training fields first, then the model's)."""

    conv_layers: tuple[tuple[int, int], ...] = SEED001_LAYOUT["conv_layers"]
    pool: int = 2
    dense_layers: tuple[int, ...] = (64,)
    channels: tuple[str, ...] | None = None


class CNNClassifier(_ImageBase):
    """Convolutional binary classifier of images (PyTorch).

    Default layout: seed 001's (:data:`SEED001_LAYOUT`, for 2 x 33 x 33 jet images):
    ``conv(32, 4x4) - ReLU - maxpool 2 - conv(32, 3x3) - ReLU - maxpool 2 - conv(32, 3x3) -
    ReLU - maxpool 2 - dense 64 - ReLU - dense 1``, after dividing each channel by its pixel
    standard deviation in the training images.

    Parameters
    ----------
    epochs, batch_size, learning_rate, class_weight, seed, threads, progress :
        as :class:`hepsift.models.DeepSetsClassifier`
    conv_layers : tuple of (filters, kernel) pairs; convolutions without padding, stride 1
    pool : int; max-pooling size after every convolution (1: none; skipped once the map is
        smaller than ``pool``)
    dense_layers : tuple of int; hidden dense widths (ReLU) before the output unit
    channels : tuple of str, optional; channel names stored as the model's features (default
        ``c0, c1, ...``), e.g. ``("charged", "neutral")``

    Attributes
    ----------
    image_shape_ : (C, H, W); scale_ : float32 (C,); n_features_in_ : C; feature_names_in_ :
    the channel names; threshold_, history_, provenance_

    ONNX
    ----
    One input ``images`` float32 ``[N, C, H, W]`` (C, H, W fixed), output ``score`` ``[N]``;
    ``hepsift.inputs`` gives the shape and the channels.
    """

    config_class: ClassVar[type[Any]] = CNNConfig

    def __init__(self, *, epochs: int = 20, batch_size: int = 128, learning_rate: float = 1e-3,
                 class_weight: str | None = None, seed: int = 0, threads: int = 1, progress: bool = False,
                 conv_layers: tuple[tuple[int, int], ...] = SEED001_LAYOUT["conv_layers"], pool: int = 2,
                 dense_layers: tuple[int, ...] = (64,), channels: tuple[str, ...] | None = None) -> None:
        store_params(self, locals())


@dataclass
class LCNNConfig(TrainingConfig):
    """Hyper-parameters of :class:`LCNNClassifier`."""

    local_layers: tuple[tuple[int, int], ...] = ((8, 4), (8, 3))
    pool: int = 2
    dense_layers: tuple[int, ...] = (64,)
    channels: tuple[str, ...] | None = None


class LCNNClassifier(_ImageBase):
    """Locally connected binary classifier of images: as :class:`CNNClassifier`, but every
    output position of a layer has its own kernel (unshared weights; :func:`locally_connected`).

    Jet images are aligned (centred, rotated, flipped), so the same pattern means different
    physics at different positions: unshared weights can use that, at the price of many more
    parameters (Ho x Wo times a convolution's).

    Parameters
    ----------
    local_layers : tuple of (filters, kernel) pairs; default ``((8, 4), (8, 3))``: for 33 x 33
        images 30 x 30 positions of 8 kernels of 4 x 4 x C, pooling, 13 x 13 of 8 of 3 x 3 x 8
    pool, dense_layers, channels, epochs, batch_size, learning_rate, class_weight, seed, threads,
    progress : as :class:`CNNClassifier`

    ONNX
    ----
    As :class:`CNNClassifier`; the locally connected layers are a ``Conv`` with fixed one-hot
    kernels (patch extraction) and a batched ``MatMul``.
    """

    config_class: ClassVar[type[Any]] = LCNNConfig
    _local: ClassVar[bool] = True
    _layers_param: ClassVar[str] = "local_layers"

    def __init__(self, *, epochs: int = 20, batch_size: int = 128, learning_rate: float = 1e-3,
                 class_weight: str | None = None, seed: int = 0, threads: int = 1, progress: bool = False,
                 local_layers: tuple[tuple[int, int], ...] = ((8, 4), (8, 3)), pool: int = 2,
                 dense_layers: tuple[int, ...] = (64,), channels: tuple[str, ...] | None = None) -> None:
        store_params(self, locals())


config_fields(CNNClassifier, CNNConfig)
config_fields(LCNNClassifier, LCNNConfig)
