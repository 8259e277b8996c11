"""The beta-VAE, the alpha-VAE (B-VAE with a density information buffer) and the normalising flow."""

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
from hepsift.generative._codec import is_continuous, log_jacobian

__all__ = ["AlphaVAE", "AlphaVAEConfig", "BetaVAE", "BetaVAEConfig", "NormalizingFlow", "NormalizingFlowConfig"]


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


def _bucket(thresholds: Any, v: Any) -> Any:
    """Number of ``thresholds`` (ascending, shape (m,)) below each ``v`` (shape (n,)): int64 (n,).

    An unrolled binary search (comparisons and gathers only): exact in float64 and the same
    in torch and in the exported ONNX graph.
    """
    import torch

    m = int(thresholds.shape[0])
    count = torch.zeros(v.shape, dtype=torch.int64)
    step = 1 << (m.bit_length() - 1) if m else 0
    while step:
        cand = count + step
        ok = (cand <= m) & (thresholds[torch.clamp(cand - 1, max=m - 1)] < v)
        count = torch.where(ok, cand, count)
        step >>= 1
    return count


def _mixture_latent(weights: np.ndarray, means: np.ndarray, factors: np.ndarray, decoder: Any) -> Any:
    r"""torch module: noise ``(n, 1 + k)`` -> decoder(latent point), the latent point drawn from a
    Gaussian mixture.

    Column 0 of the noise picks component ``c`` with probability ``weights[c]``: ``c`` is the
    number of thresholds :math:`\Phi^{-1}(\sum_{i \le j} w_i)` below it (a standard-normal number
    is below :math:`\Phi^{-1}(p)` with probability ``p``). The other ``k`` columns ``e`` give
    ``means[c] + factors[c] @ e`` (``factors`` (m, k, k): Cholesky factors of full covariances)
    or ``means[c] + factors[c] * e`` (``factors`` (m, k): standard deviations).
    """
    import torch
    from scipy.special import ndtri

    cum = np.cumsum(np.asarray(weights, dtype=np.float64))
    thresholds = ndtri(np.clip(cum[:-1] / cum[-1], 0.0, 1.0))

    class _Mixture(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("thresholds", torch.as_tensor(thresholds, dtype=torch.float64))
            self.register_buffer("means", torch.as_tensor(np.asarray(means), dtype=torch.float64))
            self.register_buffer("factors", torch.as_tensor(np.asarray(factors), dtype=torch.float64))
            self.full = np.asarray(factors).ndim == 3
            self.decoder = decoder.double()

        def forward(self, z: torch.Tensor) -> torch.Tensor:
            z = z.to(torch.float64)
            c = _bucket(self.thresholds, z[:, 0])
            e = z[:, 1:]
            if self.full:
                latent = self.means[c] + torch.matmul(self.factors[c], e.unsqueeze(-1)).squeeze(-1)
            else:
                latent = self.means[c] + self.factors[c] * e
            return self.decoder(latent)

    return _Mixture().eval()


# ======================================================================================
@dataclasses.dataclass
class BetaVAEConfig(Config):
    """Parameters of :class:`BetaVAE` (see there)."""

    latent_dim: int | None = None
    hidden: tuple[int, ...] = (128, 128)
    beta: float = 0.001
    prior: str = "gmm"
    components: int = 10
    marginals: str = "quantile"
    epochs: int = 60
    batch_size: int = 256
    learning_rate: float = 2e-3
    seed: int = 0


class _VAEBase(Generator):
    """Training shared by :class:`BetaVAE` and :class:`AlphaVAE` (loss, encoder, decoder)."""

    _double: ClassVar[bool] = True
    latent_dim: int | None
    hidden: tuple[int, ...]
    beta: float
    epochs: int
    batch_size: int
    learning_rate: float

    def _k(self, d: int) -> int:
        if self.latent_dim is None:
            return int(d)
        if int(self.latent_dim) < 1:
            raise errors.ConfigurationError(f"latent_dim must be >= 1 (or None: one per encoded column), got "
                                            f"{self.latent_dim}")  # fmt: skip
        return int(self.latent_dim)

    def _nets(self, d: int) -> tuple[Any, Any]:
        h = [int(x) for x in self.hidden]
        k = self._k(d)
        return _mlp([d, *h, 2 * k]), _mlp([k, *h[::-1], d])

    def _train_vae(self, Xs: np.ndarray, *, progress: bool) -> tuple[Any, Any, Any]:
        """Minimise the loss; return (encoder, decoder, torch generator)."""
        import torch

        if not 0.0 <= float(self.beta) <= 1.0:
            raise errors.ConfigurationError(f"beta must be in [0, 1], got {self.beta}")
        gen = torch_seed(self.seed)
        enc, dec = self._nets(Xs.shape[1])
        xt = torch.from_numpy(Xs)
        k = self._k(Xs.shape[1])
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
                                    desc=type(self).__name__, show_progress=progress, scheduler=sched)  # fmt: skip
        if not np.all(np.isfinite(history)):
            raise errors.ModelError(f"the {type(self).__name__}'s training loss became non-finite; lower learning_rate")
        self.encoder_state_ = state_to_numpy(enc)
        self.decoder_state_ = state_to_numpy(dec)
        self.loss_history_ = history
        return enc.eval(), dec.eval(), gen

    def _encode_latent(self, enc: Any, Xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Means and standard deviations of q(z|x) of the events ``Xs``: float64 (n, k) each."""
        import torch

        k = self._k(Xs.shape[1])
        with torch.no_grad():
            h = enc(torch.from_numpy(Xs)).numpy().astype(np.float64)
        return h[:, :k], np.exp(0.5 * np.clip(h[:, k:], -12.0, 8.0))

    def _decoder(self) -> Any:
        _, dec = self._nets(self.n_encoded_)
        return _load_state(dec, self.decoder_state_)


class BetaVAE(_VAEBase):
    r"""beta-VAE (Higgins et al., ICLR 2017) sampled from a Gaussian mixture fitted to its latent codes.

    Encoder :math:`q(z|x) = N(\mu(x), \mathrm{diag}\,\sigma^2(x))`, decoder :math:`\hat{x}(z)`
    (an MLP; its output is the generated event). Loss per batch:

    .. math:: L = (1 - \beta)\, \frac{1}{n d} \sum_{i,j} (x_{ij} - \hat{x}_j(z_i))^2
              + \beta\, \frac{1}{n} \sum_i \frac{1}{2} \sum_k \left(\mu_{ik}^2 + \sigma_{ik}^2 - 1 - \ln \sigma_{ik}^2\right)

    with :math:`z_i = \mu(x_i) + \sigma(x_i) \epsilon`, on the encoded events of
    :mod:`hepsift.generative._codec` (counts dequantised, "present" indicators for absent
    objects, each column mapped to a standard normal by its quantile function).

    **Why it samples well.** A beta-VAE sampled from its N(0, 1) prior misses the data: with the
    small beta that sharp reconstructions need, the aggregate posterior
    :math:`q(z) = \frac{1}{n}\sum_i q(z|x_i)` does not fill the prior, and decoded points from
    the "holes" are unlike any event (two-sample AUC 0.96 on 7 ATLAS features with the previous
    defaults: latent_dim 4, beta 0.05, N(0, 1) prior; 0.61 with these, ``bench/generators.py``).
    Three choices fix it:

    1. ``prior="gmm"`` (default): after training, a Gaussian mixture (``components`` full
       covariances, scikit-learn's ``GaussianMixture``) is fitted to one draw
       :math:`z_i \sim q(z|x_i)` per training event and latent points are sampled from it
       ("ex-post density estimation", Ghosh et al., "From Variational to Deterministic
       Autoencoders", ICLR 2020). ``prior="normal"`` samples N(0, 1) as before.
    2. ``latent_dim=None`` (default): one latent dimension per encoded column. A deterministic
       decoder maps the latent space onto a ``latent_dim``-dimensional surface; with fewer
       dimensions than features every generated event lies on it and a classifier finds it.
    3. ``marginals="quantile"``: Gaussian-shaped marginals (steeply falling p_T spectra
       otherwise dominate the squared error).

    Sampling takes ``latent_dim + 1`` standard-normal noise columns: the first picks the
    mixture component (by cumulative weight), the others give ``mean + L e``. The exported
    ONNX graph computes the same (comparisons and gathers in float64), so
    :func:`hepsift.rdf.sample` reproduces :meth:`decode` exactly.

    Parameters
    ----------
    latent_dim : width of the latent space; ``None``: the number of encoded columns
    hidden : widths of the hidden layers of the encoder (the decoder mirrors them)
    beta : weight of the KL term, in [0, 1]
    prior : ``"gmm"`` (mixture fitted to the latent codes) or ``"normal"``
    components : mixture components of ``prior="gmm"``
    marginals : ``"quantile"`` or ``"standard"`` (see :mod:`hepsift.generative._codec`)
    epochs, batch_size, learning_rate : Adam training (cosine-annealed learning rate)
    seed : seeds initialisation, shuffling, the reparameterisation noise, the mixture fit and
        the preprocessing
    """

    config_class: ClassVar[type[Config]] = BetaVAEConfig
    _model_attrs: ClassVar[tuple[str, ...]] = ("decoder_state_", "encoder_state_", "loss_history_", "prior_")

    def __init__(
        self, latent_dim: int | None = None, hidden: tuple[int, ...] = (128, 128), beta: float = 0.001,
        prior: str = "gmm", components: int = 10, marginals: str = "quantile", epochs: int = 60,
        batch_size: int = 256, learning_rate: float = 2e-3, seed: int = 0,
    ) -> None:  # fmt: skip
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.beta = beta
        self.prior = prior
        self.components = components
        self.marginals = marginals
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.seed = seed

    def _latent_dim(self) -> int:
        return self._k(self.n_encoded_) + (1 if self.prior == "gmm" else 0)

    def _fit_core(self, Xs: np.ndarray, *, progress: bool = False) -> None:
        if self.prior not in ("gmm", "normal"):
            raise errors.ConfigurationError(f"prior must be 'gmm' or 'normal', got {self.prior!r}")
        if self.prior == "gmm" and not 1 <= int(self.components) <= len(Xs):
            raise errors.ConfigurationError(f"components must be in [1, {len(Xs)}], got {self.components}")
        enc, _, _ = self._train_vae(Xs, progress=progress)
        if self.prior == "normal":
            self.prior_ = {}
            return
        from sklearn.mixture import GaussianMixture

        mu, sigma = self._encode_latent(enc, Xs)
        z = mu + sigma * np.random.default_rng([int(self.seed), 0x6A]).standard_normal(mu.shape)
        gmm = GaussianMixture(int(self.components), covariance_type="full", reg_covar=1e-6,
                              random_state=int(self.seed)).fit(z)  # fmt: skip
        self.prior_ = {"weights": gmm.weights_.astype(np.float64), "means": gmm.means_.astype(np.float64),
                       "cholesky": np.linalg.cholesky(gmm.covariances_).astype(np.float64)}  # fmt: skip

    def _sampler(self) -> Any:
        dec = self._decoder()
        if self.prior == "normal":
            return dec
        return _mixture_latent(self.prior_["weights"], self.prior_["means"], self.prior_["cholesky"], dec)


# ======================================================================================
@dataclasses.dataclass
class AlphaVAEConfig(Config):
    """Parameters of :class:`AlphaVAE` (see there)."""

    latent_dim: int | None = None
    hidden: tuple[int, ...] = (128, 128)
    alpha: float = 0.2
    beta: float = 0.001
    buffer_size: int | None = None
    marginals: str = "quantile"
    epochs: int = 60
    batch_size: int = 256
    learning_rate: float = 2e-3
    seed: int = 0


class AlphaVAE(_VAEBase):
    r"""The "B-VAE" with a density information buffer of Otten et al., sampled from the encoded training events.

    S. Otten, S. Caron, W. de Swart et al., "Event generation and statistical sampling for
    physics with deep generative models and a density information buffer", Nature Commun. 12
    (2021) 2985 [arXiv:1901.00875]. The network and its loss are those of :class:`BetaVAE`,

    .. math:: L = (1 - \beta)\, \mathrm{MSE}(x, \hat{x}(z)) + \beta\, \mathrm{KL}(q(z|x) \,\|\, N(0, 1)),

    with a small ``beta`` (sharp reconstructions). The prior is not sampled at all: after
    training, every training event ``i`` is encoded and its :math:`(\mu_i, \sigma_i)` kept
    (the *density information buffer*, ``buffer_size`` events at most, chosen at random); a new
    event decodes

    .. math:: z = \mu_i + \alpha\, \sigma_i \odot \epsilon, \qquad i \sim U\{1..N\},\ \epsilon \sim N(0, 1),

    i.e. a latent point of a buffered event "smudged" by ``alpha`` times its own posterior
    width. ``alpha -> 0`` reproduces the training events (up to reconstruction error);
    ``alpha = 1`` samples the aggregate posterior. The defaults ``alpha = 0.2``,
    ``beta = 0.001`` are those of the DarkMachines generative study that found this variant
    closer to the data than a beta-VAE. Sampling takes ``latent_dim + 1`` standard-normal noise
    columns (the first picks the buffered event, as in :class:`BetaVAE`'s mixture), and the
    ONNX graph holds the buffer.

    Parameters
    ----------
    latent_dim, hidden, beta, marginals, epochs, batch_size, learning_rate : as :class:`BetaVAE`
    alpha : smudging of the buffered latent points (> 0)
    buffer_size : events kept in the buffer (default: every training event); the ONNX file
        holds ``2 * buffer_size * latent_dim`` float64 numbers
    seed : seeds training, the buffer choice and the preprocessing
    """

    config_class: ClassVar[type[Config]] = AlphaVAEConfig
    _model_attrs: ClassVar[tuple[str, ...]] = ("decoder_state_", "encoder_state_", "loss_history_", "buffer_")

    def __init__(
        self, latent_dim: int | None = None, hidden: tuple[int, ...] = (128, 128), alpha: float = 0.2,
        beta: float = 0.001, buffer_size: int | None = None, marginals: str = "quantile", epochs: int = 60,
        batch_size: int = 256, learning_rate: float = 2e-3, seed: int = 0,
    ) -> None:  # fmt: skip
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.alpha = alpha
        self.beta = beta
        self.buffer_size = buffer_size
        self.marginals = marginals
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.seed = seed

    def _latent_dim(self) -> int:
        return self._k(self.n_encoded_) + 1

    def _fit_core(self, Xs: np.ndarray, *, progress: bool = False) -> None:
        if not float(self.alpha) > 0.0:
            raise errors.ConfigurationError(f"alpha must be > 0, got {self.alpha}")
        if self.buffer_size is not None and int(self.buffer_size) < 1:
            raise errors.ConfigurationError(f"buffer_size must be >= 1 (or None: every training event), got "
                                            f"{self.buffer_size}")  # fmt: skip
        enc, _, _ = self._train_vae(Xs, progress=progress)
        keep = np.arange(len(Xs))
        if self.buffer_size is not None and int(self.buffer_size) < len(Xs):
            keep = np.sort(np.random.default_rng([int(self.seed), 0xB0F]).choice(len(Xs), int(self.buffer_size),
                                                                                 replace=False))  # fmt: skip
        mu, sigma = self._encode_latent(enc, Xs[keep])
        self.buffer_ = {"mu": mu, "sigma": sigma}

    def _sampler(self) -> Any:
        mu = self.buffer_["mu"]
        weights = np.full(len(mu), 1.0 / len(mu))
        return _mixture_latent(weights, mu, float(self.alpha) * self.buffer_["sigma"], self._decoder())


# ======================================================================================
@dataclasses.dataclass
class NormalizingFlowConfig(Config):
    """Parameters of :class:`NormalizingFlow` (see there)."""

    flow: str = "nsf"
    transforms: int = 3
    hidden: tuple[int, ...] = (128, 128)
    bins: int = 8
    marginals: str = "quantile"
    epochs: int = 120
    batch_size: int = 256
    learning_rate: float = 2e-3
    seed: int = 0


class NormalizingFlow(Generator):
    r"""Normalising flow from the ``zuko`` library, trained by maximum likelihood.

    ``flow="nsf"``: neural spline flow (Durkan et al., NeurIPS 2019: monotonic
    rational-quadratic splines, ``bins`` bins, autoregressive conditioners);
    ``flow="maf"``: masked autoregressive flow with affine transforms (Papamakarios et al.,
    NeurIPS 2017). Trained on the encoded events of :mod:`hepsift.generative._codec` (counts
    dequantised, "present" indicators for absent objects, quantile-normalised marginals by
    default) by minimising :math:`-\frac{1}{n}\sum_i \ln p(y_i)`. Sampling inverts the
    transformation on standard-normal noise ``(n, d')`` (the flow's base distribution, one
    column per encoded column); the inverse (``transform.inv``, then the preprocessing's
    inverse) is what the ONNX file holds.

    Needs ``zuko`` (``pip install zuko==1.6.0``).

    Parameters
    ----------
    flow : ``"nsf"`` or ``"maf"``
    transforms, hidden, bins : number of transformations, conditioner widths, spline bins
    marginals : ``"quantile"`` or ``"standard"`` (see :mod:`hepsift.generative._codec`)
    epochs, batch_size, learning_rate : Adam training
    seed : seeds initialisation and shuffling
    """

    config_class: ClassVar[type[Config]] = NormalizingFlowConfig
    _model_attrs: ClassVar[tuple[str, ...]] = ("flow_state_", "loss_history_")
    _double: ClassVar[bool] = True

    def __init__(
        self, flow: str = "nsf", transforms: int = 3, hidden: tuple[int, ...] = (128, 128), bins: int = 8,
        marginals: str = "quantile", epochs: int = 120, batch_size: int = 256, learning_rate: float = 2e-3,
        seed: int = 0,
    ) -> None:  # fmt: skip
        self.flow = flow
        self.transforms = transforms
        self.hidden = hidden
        self.bins = bins
        self.marginals = marginals
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.seed = seed

    def _build(self, d: int, context: int = 0) -> Any:
        zuko = optional_import("zuko", type(self).__name__)
        hidden = tuple(int(h) for h in self.hidden)
        if self.flow == "nsf":
            return zuko.flows.NSF(d, context, transforms=int(self.transforms), hidden_features=hidden,
                                  bins=int(self.bins))  # fmt: skip
        if self.flow == "maf":
            return zuko.flows.MAF(d, context, transforms=int(self.transforms), hidden_features=hidden)
        raise errors.ConfigurationError(f"flow must be 'nsf' or 'maf', got {self.flow!r}")

    def _latent_dim(self) -> int:
        return self.n_encoded_

    def _fit_core(self, Xs: np.ndarray, *, progress: bool = False) -> None:
        self._train_flow(Xs, None, progress=progress)

    def _train_flow(self, x: np.ndarray, context: np.ndarray | None, *, progress: bool) -> None:
        """Maximum-likelihood training of the flow on ``x`` (n, d), conditioned on ``context`` (n, c) if given."""
        import torch

        gen = torch_seed(self.seed)
        c = 0 if context is None else int(context.shape[1])
        flow = self._build(x.shape[1], c)
        xt = torch.from_numpy(x if context is None else np.concatenate([context, x], axis=1).astype(np.float32))
        opt = torch.optim.Adam(flow.parameters(), lr=self.learning_rate)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(int(self.epochs), 1))

        def batch_loss(xb: torch.Tensor) -> torch.Tensor:
            return -(flow() if c == 0 else flow(xb[:, :c])).log_prob(xb[:, c:]).mean()

        history = train_minibatches(xt, gen, batch_loss, opt, epochs=self.epochs, batch_size=self.batch_size,
                                    desc=type(self).__name__, show_progress=progress, scheduler=sched,
                                    max_grad_norm=5.0)  # fmt: skip
        if not np.all(np.isfinite(history)):
            raise errors.ModelError("the flow's training loss became non-finite; lower learning_rate")
        self.flow_state_ = state_to_numpy(flow)
        self.loss_history_ = history

    def _sampler(self) -> Any:
        import torch

        flow = _load_state(self._build(self.n_encoded_), self.flow_state_)

        class _Inverse(torch.nn.Module):
            def __init__(self, flow: torch.nn.Module) -> None:
                super().__init__()
                self.flow = flow

            def forward(self, z: torch.Tensor) -> torch.Tensor:
                return self.flow().transform.inv(z)

        return _Inverse(flow).eval()

    def log_prob(self, X: np.ndarray) -> np.ndarray:
        """Log density of events under the flow (in the original units).

        Defined for continuous features only (no counts, no absent objects): the density of the
        encoded event times the Jacobian of the preprocessing; ``-inf`` outside the training
        range, where the quantile map gives the model no support.

        Returns
        -------
        ndarray, float64, shape (n_events,)

        Raises
        ------
        hepsift.ConfigurationError
            The model was trained on counts or on features with absent objects.
        """
        import torch

        self._check_fitted()
        if not is_continuous(self.codec_):
            raise errors.ConfigurationError(
                "log_prob needs continuous features: this flow was trained with counts or absent objects, whose "
                "probabilities are not densities"
            )
        arr = np.ascontiguousarray(X, dtype=np.float32)
        if arr.ndim != 2 or arr.shape[1] != self.n_features_in_:
            raise errors.InputMismatchError(f"X must have shape (n, {self.n_features_in_}); got {arr.shape}")
        y, logdet = log_jacobian(self.codec_, arr)
        flow = _load_state(self._build(self.n_encoded_), self.flow_state_)
        with torch.no_grad():
            lp = flow().log_prob(torch.from_numpy(y)).numpy().astype(np.float64)
        return np.where(np.isfinite(logdet), lp + logdet, -np.inf)
