"""Neural anomaly detectors (PyTorch): the auto-encoder and Deep SVDD."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from hepsift import errors
from hepsift._estimator import Config
from hepsift._missing import ImputingScaler
from hepsift._torch import (
    load_numpy_state,
    state_to_numpy,
    torch_seed,
    torch_to_onnx,
    train_minibatches,
)
from hepsift.anomaly._base import Detector

__all__ = ["AutoEncoder", "AutoEncoderConfig", "DeepSVDD", "DeepSVDDConfig"]


def _mlp(sizes: list[int], activation: str, *, bias: bool = True, last_activation: bool = False) -> Any:
    import torch

    acts = {"elu": torch.nn.ELU, "relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "leaky_relu": torch.nn.LeakyReLU}
    if activation not in acts:
        raise errors.ConfigurationError(f"activation must be one of {sorted(acts)}, got {activation!r}")
    layers: list[Any] = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1], bias=bias))
        if i < len(sizes) - 2 or last_activation:
            layers.append(acts[activation]())
    return torch.nn.Sequential(*layers)


class _NeuralDetector(Detector):
    """Shared training and scoring of the neural detectors.

    Subclasses implement ``_network(n_features)``, the trained ``torch.nn.Module``, and
    ``_score_module(pre, net)``, the module mapping raw features ``(n, n_features)`` to the
    score ``(n, 1)`` given the imputing scaler module ``pre`` and the trained network ``net``.
    """

    _uses_torch: ClassVar[bool] = True

    seed: int
    epochs: int
    batch_size: int
    learning_rate: float
    weight_decay: float

    def _network(self, d: int) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _score_module(self, pre: Any, net: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _setup(self, X: np.ndarray) -> tuple[Any, Any, Any]:
        """Seed torch, fit :attr:`scaler_` and build the network.

        Returns
        -------
        (network, standardised ``X`` as a float32 tensor, ``torch.Generator`` for shuffling)
        """
        import torch

        gen = torch_seed(self.seed)
        self.scaler_ = ImputingScaler.fit(X)
        net = self._network(X.shape[1])
        xt = torch.from_numpy(self.scaler_.transform(X))
        return net, xt, gen

    def _train(self, net: Any, xt: Any, gen: Any, batch_loss: Callable[[Any], Any], *, desc: str,
               progress: bool) -> list[float]:  # fmt: skip
        """Train ``net`` with Adam (``learning_rate``, ``weight_decay``) for ``epochs`` epochs.

        See :func:`hepsift._torch.train_minibatches`; returns the loss of each epoch.
        """
        import torch

        opt = torch.optim.Adam(net.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay)
        return train_minibatches(xt, gen, batch_loss, opt, epochs=self.epochs, batch_size=self.batch_size, desc=desc,
                                 show_progress=progress)  # fmt: skip

    def _store_network(self, net: Any, history: list[float]) -> None:
        self.network_state_ = state_to_numpy(net)
        self.loss_history_ = history
        self._module_cache = None

    def _module(self) -> Any:
        cached = getattr(self, "_module_cache", None)
        if cached is not None and cached[0] is self.network_state_:
            return cached[1]
        net = self._network(self.n_features_in_)
        load_numpy_state(net, self.network_state_)
        module = self._score_module(self.scaler_.torch_module(), net).eval()
        self._module_cache = (self.network_state_, module)
        return module

    def _score(self, X: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            return self._module()(torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)))[:, 0].numpy().astype(
                np.float64)

    def _onnx_graph(self, opset: int) -> tuple[Any, Callable[[np.ndarray], np.ndarray]]:
        return torch_to_onnx(self._module(), self.n_features_in_, opset)



# ======================================================================================
@dataclasses.dataclass
class AutoEncoderConfig(Config):
    """Parameters of :class:`AutoEncoder` (see there)."""

    hidden: tuple[int, ...] = (32, 16)
    latent_dim: int = 4
    activation: str = "elu"
    epochs: int = 30
    batch_size: int = 256
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    feature_set: str = "full"
    calibration_fraction: float = 0.2
    seed: int = 0


class AutoEncoder(_NeuralDetector):
    r"""Auto-encoder anomaly detector; the score is the reconstruction error.

    The network maps the standardised features ``x'`` (see :class:`hepsift._missing.ImputingScaler`)
    through an encoder ``hidden -> latent_dim`` and a mirrored decoder back to ``x'``; it is
    trained on background to minimise the mean squared error. The anomaly score is

    .. math:: s(x) = \frac{1}{d} \sum_{j=1}^{d} \left(x'_j - \hat{x}'_j\right)^2 ,

    float64 shape (n_events,), computed in float32 by the network (the same graph is exported).

    Parameters
    ----------
    hidden : widths of the encoder's hidden layers (the decoder mirrors them)
    latent_dim : width of the bottleneck
    activation : ``"elu"``, ``"relu"``, ``"tanh"`` or ``"leaky_relu"``
    epochs, batch_size, learning_rate, weight_decay : Adam training
    feature_set : ``"full"`` (all given features; absent objects filled by the imputing scaler)
        or ``"sanitised"`` (drop features that hold -999 in the training background)
    calibration_fraction : fraction of the background held out to set :attr:`threshold_`
    seed : seeds initialisation, shuffling and the calibration split

    Attributes
    ----------
    feature_names_in_, n_features_in_ : the model's input features
    threshold_ : dict ``{"1e-2": cut, "1e-3": cut, "1e-4": cut}`` at those background efficiencies
    scaler_, network_state_, loss_history_, provenance_
    """

    config_class: ClassVar[type[Config]] = AutoEncoderConfig
    _model_attrs: ClassVar[tuple[str, ...]] = ("scaler_", "network_state_", "loss_history_")

    def __init__(
        self, hidden: tuple[int, ...] = (32, 16), latent_dim: int = 4, activation: str = "elu", epochs: int = 30,
        batch_size: int = 256, learning_rate: float = 1e-3, weight_decay: float = 0.0, feature_set: str = "full",
        calibration_fraction: float = 0.2, seed: int = 0,
    ) -> None:  # fmt: skip
        self.hidden = hidden
        self.latent_dim = latent_dim
        self.activation = activation
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.feature_set = feature_set
        self.calibration_fraction = calibration_fraction
        self.seed = seed

    def _network(self, d: int) -> Any:
        import torch

        sizes = [d, *[int(h) for h in self.hidden], int(self.latent_dim)]
        return torch.nn.Sequential(_mlp(sizes, self.activation), _mlp(sizes[::-1], self.activation))

    def _fit_core(self, X: np.ndarray, *, progress: bool = False) -> None:
        import torch

        net, xt, gen = self._setup(X)
        history = self._train(net, xt, gen, lambda xb: torch.mean((net(xb) - xb) ** 2), desc="AutoEncoder",
                              progress=progress)  # fmt: skip
        self._store_network(net, history)

    def _score_module(self, pre: Any, net: Any) -> Any:
        import torch

        class _Score(torch.nn.Module):
            def __init__(self, pre: torch.nn.Module, net: torch.nn.Module) -> None:
                super().__init__()
                self.pre, self.net = pre, net

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                z = self.pre(x)
                return torch.mean((self.net(z) - z) ** 2, dim=1, keepdim=True)

        return _Score(pre, net)


# ======================================================================================
@dataclasses.dataclass
class DeepSVDDConfig(Config):
    """Parameters of :class:`DeepSVDD` (see there)."""

    hidden: tuple[int, ...] = (32, 16)
    rep_dim: int = 8
    epochs: int = 30
    batch_size: int = 256
    learning_rate: float = 1e-3
    weight_decay: float = 1e-6
    centre_eps: float = 0.1
    feature_set: str = "full"
    calibration_fraction: float = 0.2
    seed: int = 0


class DeepSVDD(_NeuralDetector):
    r"""One-class Deep SVDD (Ruff et al., "Deep One-Class Classification", ICML 2018).

    A network :math:`\phi` without bias terms (bias-free ``Linear`` layers, leaky-ReLU, no
    bounded activation) maps the standardised features to ``rep_dim`` numbers and is
    trained on background to minimise the mean squared distance to a centre :math:`c`:

    .. math:: \min_W \frac{1}{n} \sum_i \lVert \phi(x_i; W) - c \rVert^2 + \lambda \lVert W \rVert^2 .

    The anomaly score is the squared distance :math:`s(x) = \lVert \phi(x; W) - c \rVert^2`
    (float64, shape (n_events,)).

    Guards against the collapsed solution (:math:`\phi \equiv c`, Ruff et al. sec. 3.3):
    ``c`` is fixed to the mean of the *initial* network's outputs on the training events and
    not trained; coordinates with ``|c_k| < centre_eps`` are pushed to ``+-centre_eps``;
    the network has no bias terms (a bias could represent ``c`` on its own); and after
    training a :class:`hepsift.ModelError` is raised if the training distances collapsed
    (their spread fell below 1e-9 of the initial spread).

    Parameters
    ----------
    hidden, rep_dim : widths of the hidden layers and of the representation
    epochs, batch_size, learning_rate, weight_decay : Adam training (``weight_decay`` = lambda)
    centre_eps : smallest allowed ``|c_k|``
    feature_set, calibration_fraction, seed : as for :class:`AutoEncoder`

    Attributes
    ----------
    centre_ : ndarray, float32, shape (rep_dim,)
    threshold_, scaler_, network_state_, loss_history_, provenance_
    """

    config_class: ClassVar[type[Config]] = DeepSVDDConfig
    _model_attrs: ClassVar[tuple[str, ...]] = ("scaler_", "network_state_", "centre_", "loss_history_")

    def __init__(
        self, hidden: tuple[int, ...] = (32, 16), rep_dim: int = 8, epochs: int = 30, batch_size: int = 256,
        learning_rate: float = 1e-3, weight_decay: float = 1e-6, centre_eps: float = 0.1, feature_set: str = "full",
        calibration_fraction: float = 0.2, seed: int = 0,
    ) -> None:  # fmt: skip
        self.hidden = hidden
        self.rep_dim = rep_dim
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.centre_eps = centre_eps
        self.feature_set = feature_set
        self.calibration_fraction = calibration_fraction
        self.seed = seed

    def _network(self, d: int) -> Any:
        sizes = [d, *[int(h) for h in self.hidden], int(self.rep_dim)]
        return _mlp(sizes, "leaky_relu", bias=False)

    def _fit_core(self, X: np.ndarray, *, progress: bool = False) -> None:
        import torch

        net, xt, gen = self._setup(X)
        with torch.no_grad():
            out0 = net(xt)
            c = out0.mean(dim=0)
            eps = float(self.centre_eps)
            c[(c.abs() < eps) & (c < 0)] = -eps
            c[(c.abs() < eps) & (c >= 0)] = eps
            spread0 = float(((out0 - c) ** 2).sum(dim=1).std())
        history = self._train(net, xt, gen, lambda xb: torch.mean(torch.sum((net(xb) - c) ** 2, dim=1)),
                              desc="DeepSVDD", progress=progress)  # fmt: skip
        with torch.no_grad():
            spread = float(((net(xt) - c) ** 2).sum(dim=1).std())
        if not np.isfinite(spread) or spread <= 1e-9 * max(spread0, 1e-30):
            raise errors.ModelError(
                f"Deep SVDD collapsed to the centre (spread of training distances {spread:.3g}, initially "
                f"{spread0:.3g}): increase weight_decay, reduce epochs or learning_rate"
            )
        self.centre_ = c.numpy().astype(np.float32).copy()
        self._store_network(net, history)

    def _score_module(self, pre: Any, net: Any) -> Any:
        import torch

        class _Score(torch.nn.Module):
            def __init__(self, pre: torch.nn.Module, net: torch.nn.Module, centre: np.ndarray) -> None:
                super().__init__()
                self.pre, self.net = pre, net
                self.register_buffer("centre", torch.from_numpy(centre.copy()))

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return torch.sum((self.net(self.pre(x)) - self.centre) ** 2, dim=1, keepdim=True)

        return _Score(pre, net, self.centre_)
