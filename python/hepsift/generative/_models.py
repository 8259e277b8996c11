"""The beta-VAE and the normalising flow."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np

from hepsift import errors
from hepsift._deps import optional_import
from hepsift._estimator import Config
from hepsift._torch import (
    load_numpy_state,
    state_to_numpy,
    torch_seed,
    train_minibatches,
)
from hepsift.generative._base import Generator

__all__ = ["BetaVAE", "BetaVAEConfig", "NormalizingFlow", "NormalizingFlowConfig"]


def _load_state(module: Any, state: dict[str, np.ndarray]) -> Any:
    load_numpy_state(module, state)
    return module.eval()


def _mlp(sizes: list[int]) -> Any:
    import torch

    layers: list[Any] = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(torch.nn.SiLU())
    return torch.nn.Sequential(*layers)


# ======================================================================================
@dataclasses.dataclass
class BetaVAEConfig(Config):
    """Parameters of :class:`BetaVAE` (see there)."""

    latent_dim: int = 4
    hidden: tuple[int, ...] = (64, 64)
    beta: float = 0.05
    epochs: int = 60
    batch_size: int = 256
    learning_rate: float = 2e-3
    seed: int = 0


class BetaVAE(Generator):
    r"""beta-VAE (Higgins et al., ICLR 2017) on the standardised features of one process.

    Encoder :math:`q(z|x) = N(\mu(x), \mathrm{diag}\,\sigma^2(x))`, decoder :math:`\hat{x}(z)`
    (an MLP; its output is the generated event), prior :math:`N(0, 1)`. Loss per batch:

    .. math:: L = (1 - \beta)\, \frac{1}{n d} \sum_{i,j} (x_{ij} - \hat{x}_j(z_i))^2
              + \beta\, \frac{1}{n} \sum_i \frac{1}{2} \sum_k \left(\mu_{ik}^2 + \sigma_{ik}^2 - 1 - \ln \sigma_{ik}^2\right)

    with :math:`z_i = \mu(x_i) + \sigma(x_i) \epsilon`. Sampling feeds standard-normal noise
    ``(n, latent_dim)`` to the decoder; that decoder (with the de-standardisation) is what the
    ONNX file holds. Small ``beta`` reconstructs sharply but leaves holes in the prior; large
    ``beta`` blurs the events.

    Parameters
    ----------
    latent_dim, hidden : widths of the latent space and of the hidden layers (decoder mirrors)
    beta : weight of the KL term, in [0, 1]
    epochs, batch_size, learning_rate : Adam training
    seed : seeds initialisation, shuffling and the reparameterisation noise
    """

    config_class: ClassVar[type[Config]] = BetaVAEConfig
    _model_attrs: ClassVar[tuple[str, ...]] = ("decoder_state_", "encoder_state_", "loss_history_")

    def __init__(
        self, latent_dim: int = 4, hidden: tuple[int, ...] = (64, 64), beta: float = 0.05, epochs: int = 60,
        batch_size: int = 256, learning_rate: float = 2e-3, seed: int = 0,
    ) -> None:  # fmt: skip
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.beta = beta
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.seed = seed

    def _nets(self, d: int) -> tuple[Any, Any]:
        h = [int(x) for x in self.hidden]
        return _mlp([d, *h, 2 * int(self.latent_dim)]), _mlp([int(self.latent_dim), *h[::-1], d])

    def _latent_dim(self) -> int:
        return int(self.latent_dim)

    def _fit_core(self, Xs: np.ndarray, *, progress: bool = False) -> None:
        import torch

        if not 0.0 <= float(self.beta) <= 1.0:
            raise errors.ConfigurationError(f"beta must be in [0, 1], got {self.beta}")
        gen = torch_seed(self.seed)
        enc, dec = self._nets(Xs.shape[1])
        xt = torch.from_numpy(Xs)
        k = int(self.latent_dim)
        beta = float(self.beta)

        def batch_loss(xb: torch.Tensor) -> torch.Tensor:
            h = enc(xb)
            mu, logvar = h[:, :k], h[:, k:].clamp(-12.0, 8.0)
            z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=gen)
            mse = torch.mean((dec(z) - xb) ** 2)
            kl = torch.mean(0.5 * torch.sum(mu**2 + logvar.exp() - 1.0 - logvar, dim=1))
            return (1.0 - beta) * mse + beta * kl

        opt = torch.optim.Adam([*enc.parameters(), *dec.parameters()], lr=self.learning_rate)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(int(self.epochs), 1))
        history = train_minibatches(xt, gen, batch_loss, opt, epochs=self.epochs, batch_size=self.batch_size,
                                    desc="BetaVAE", show_progress=progress, scheduler=sched)  # fmt: skip
        self.encoder_state_ = state_to_numpy(enc)
        self.decoder_state_ = state_to_numpy(dec)
        self.loss_history_ = history

    def _sampler(self) -> Any:
        _, dec = self._nets(self.n_features_in_)
        return _load_state(dec, self.decoder_state_)


# ======================================================================================
@dataclasses.dataclass
class NormalizingFlowConfig(Config):
    """Parameters of :class:`NormalizingFlow` (see there)."""

    flow: str = "nsf"
    transforms: int = 3
    hidden: tuple[int, ...] = (64, 64)
    bins: int = 8
    epochs: int = 40
    batch_size: int = 256
    learning_rate: float = 2e-3
    seed: int = 0


class NormalizingFlow(Generator):
    r"""Normalising flow from the ``zuko`` library, trained by maximum likelihood.

    ``flow="nsf"``: neural spline flow (Durkan et al., NeurIPS 2019: monotonic
    rational-quadratic splines, ``bins`` bins, autoregressive conditioners);
    ``flow="maf"``: masked autoregressive flow with affine transforms (Papamakarios et al.,
    NeurIPS 2017). Trained on standardised events by minimising
    :math:`-\frac{1}{n}\sum_i \ln p(x_i)`. Sampling inverts the transformation on
    standard-normal noise ``(n, n_features)`` (the flow's base distribution); the inverse
    (``transform.inv``, with the de-standardisation) is what the ONNX file holds.

    Needs ``zuko`` (``pip install zuko==1.6.0``).

    Parameters
    ----------
    flow : ``"nsf"`` or ``"maf"``
    transforms, hidden, bins : number of transformations, conditioner widths, spline bins
    epochs, batch_size, learning_rate : Adam training
    seed : seeds initialisation and shuffling
    """

    config_class: ClassVar[type[Config]] = NormalizingFlowConfig
    _model_attrs: ClassVar[tuple[str, ...]] = ("flow_state_", "loss_history_")
    _double: ClassVar[bool] = True

    def __init__(
        self, flow: str = "nsf", transforms: int = 3, hidden: tuple[int, ...] = (64, 64), bins: int = 8,
        epochs: int = 40, batch_size: int = 256, learning_rate: float = 2e-3, seed: int = 0,
    ) -> None:  # fmt: skip
        self.flow = flow
        self.transforms = transforms
        self.hidden = hidden
        self.bins = bins
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.seed = seed

    def _build(self, d: int) -> Any:
        zuko = optional_import("zuko", "NormalizingFlow")
        hidden = tuple(int(h) for h in self.hidden)
        if self.flow == "nsf":
            return zuko.flows.NSF(d, transforms=int(self.transforms), hidden_features=hidden, bins=int(self.bins))
        if self.flow == "maf":
            return zuko.flows.MAF(d, transforms=int(self.transforms), hidden_features=hidden)
        raise errors.ConfigurationError(f"flow must be 'nsf' or 'maf', got {self.flow!r}")

    def _latent_dim(self) -> int:
        return int(self.n_features_in_)

    def _fit_core(self, Xs: np.ndarray, *, progress: bool = False) -> None:
        import torch

        gen = torch_seed(self.seed)
        self.n_features_in_ = Xs.shape[1]
        flow = self._build(Xs.shape[1])
        xt = torch.from_numpy(Xs)
        opt = torch.optim.Adam(flow.parameters(), lr=self.learning_rate)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(int(self.epochs), 1))
        history = train_minibatches(xt, gen, lambda xb: -flow().log_prob(xb).mean(), opt, epochs=self.epochs,
                                    batch_size=self.batch_size, desc="NormalizingFlow", show_progress=progress,
                                    scheduler=sched, max_grad_norm=5.0)  # fmt: skip
        if not np.all(np.isfinite(history)):
            raise errors.ModelError("the flow's training loss became non-finite; lower learning_rate")
        self.flow_state_ = state_to_numpy(flow)
        self.loss_history_ = history

    def _sampler(self) -> Any:
        import torch

        flow = _load_state(self._build(self.n_features_in_), self.flow_state_)

        class _Inverse(torch.nn.Module):
            def __init__(self, flow: torch.nn.Module) -> None:
                super().__init__()
                self.flow = flow

            def forward(self, z: torch.Tensor) -> torch.Tensor:
                return self.flow().transform.inv(z)

        return _Inverse(flow).eval()

    def log_prob(self, X: np.ndarray) -> np.ndarray:
        """Log density of events under the flow (in the original units).

        Returns
        -------
        ndarray, float64, shape (n_events,)
        """
        import torch

        self._check_fitted()
        arr = np.ascontiguousarray(X, dtype=np.float32)
        flow = _load_state(self._build(self.n_features_in_), self.flow_state_)
        with torch.no_grad():
            lp = flow().log_prob(torch.from_numpy((arr - self.mean_) / self.scale_)).numpy().astype(np.float64)
        return lp - float(np.sum(np.log(self.scale_.astype(np.float64))))
