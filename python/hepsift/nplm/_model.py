r"""The NPLM density-ratio fit and its test statistic.

New Physics Learning Machine (R. T. D'Agnolo, A. Wulzer, "Learning New Physics from a
Machine", Phys. Rev. D 99 (2019) 015014, arXiv:1806.02350). A reference sample R of
:math:`N_R` events, weighted to :math:`N(R)` expected events, and a data sample D are
compared through a function :math:`f(x)` that models the log density ratio
:math:`\log n(x|D)/n(x|R)`. The extended likelihood ratio gives the loss

.. math:: L[f] = \sum_{x \in R} w_x \left(e^{f(x)} - 1\right) - \sum_{x \in D} f(x),
          \qquad w_x = N(R)/N_R,

and the test statistic :math:`t = -2 \min_f L[f]`, which under the reference hypothesis
follows a :math:`\chi^2` whose number of degrees of freedom is about the number of free
parameters of f (when training has converged and weights are clipped).

Two ways of finding f:

``mode="neural"``
    A small fully connected network (default one hidden layer of 4 sigmoid units) trained
    full-batch with Adam on L, with every weight clipped to ``[-weight_clip, weight_clip]``
    after each step (PyTorch).
``mode="kernel"``
    Kernel logistic regression on Nystroem features of a Gaussian kernel (scikit-learn's
    ``Nystroem``), weighted so that its minimiser is the same log density ratio, with an L2
    penalty; t is then evaluated with the formula above (M. Letizia, G. Losapio, M. Rando,
    G. Grosso, A. Wulzer, M. Pierini, M. Zanetti, L. Rosasco, "Learning new physics
    efficiently with nonparametric methods", Eur. Phys. J. C 82 (2022) 879,
    arXiv:2204.02317). Much faster; its effective number of degrees of freedom is set by
    the number of centres, the kernel width and the penalty.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from hepsift._estimator import Config, Estimator
from hepsift._missing import check_finite
from hepsift.errors import ConfigurationError, DataError, DependencyError

__all__ = ["NPLM", "NPLMConfig", "test_statistic", "MODES"]

MODES = ("neural", "kernel")


def _as_sample(x: Any, label: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise DataError(f"{label}: expected an array of shape (n_events, n_features), got shape {a.shape}")
    if a.shape[0] == 0:
        raise DataError(f"{label}: sample is empty")
    check_finite(a, what=label)
    return a


def _import_torch() -> Any:
    try:
        import torch
    except ImportError as exc:  # pragma: no cover
        raise DependencyError("the neural NPLM mode needs PyTorch: pip install 'torch==2.13.0'") from exc
    return torch


def _resolve_device(device: str) -> str:
    if device == "auto":
        torch = _import_torch()
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


@dataclass
class NPLMConfig(Config):
    """Parameters of :class:`NPLM` (see there)."""

    mode: str = "neural"
    hidden: tuple[int, ...] = (4,)
    activation: str = "sigmoid"
    weight_clip: float = 9.0
    epochs: int = 2000
    learning_rate: float = 0.05
    n_centers: int = 200
    sigma: float | None = None
    lam: float = 1e-4
    kernel_loss: str = "logistic"
    standardize: bool = True
    seed: int = 0
    device: str = "cpu"


class NPLM(Estimator):
    """NPLM estimator: learns f(x) = log n(x|D)/n(x|R) and the test statistic t.

    Parameters
    ----------
    mode : {"neural", "kernel"}
        Neural network (arXiv:1806.02350) or Nystroem kernel logistic regression
        (arXiv:2204.02317).
    hidden : tuple of int, default (4,)
        Hidden-layer widths of the network (neural mode).
    activation : {"sigmoid", "tanh", "relu"}
        Hidden activation (neural mode).
    weight_clip : float, default 9.0
        Every network weight is clipped to ``[-weight_clip, weight_clip]`` after each step;
        this bounds the network's flexibility and keeps t chi-square distributed.
    epochs : int, default 2000
        Full-batch Adam steps (neural mode).
    learning_rate : float, default 0.05
        Adam learning rate (neural mode).
    n_centers : int, default 200
        Number of Nystroem centres M (kernel mode).
    sigma : float, optional
        Gaussian kernel width in standardised units (kernel mode); default: the 90th percentile
        of pairwise distances in (a subsample of) the reference, as in arXiv:2204.02317.
    lam : float, default 1e-4
        L2 penalty on the RKHS norm, relative to the weight-averaged loss (kernel mode).
    kernel_loss : {"logistic", "nplm"}, default "logistic"
        Kernel-mode loss: the weighted logistic loss of arXiv:2204.02317, or the NPLM loss L
        itself (convex in the Nystroem coefficients; guarantees t >= 0).
    standardize : bool, default True
        Standardise features with the reference mean and standard deviation.
    seed : int, default 0
        Seed of the network initialisation / centre selection.
    device : str, default "cpu"
        Torch device for the neural mode ("cpu", "cuda", or "auto").

    Attributes
    ----------
    t_ : float
        Test statistic of the last fit.
    n_expected_ : float
        N(R) used in the fit.
    n_features_in_ : int
        Number of features.
    active_ : ndarray of int, shape (n_active,)
        Indices of the features f(x) depends on: all but those that are constant, with the same
        value, in reference and data (such a feature carries no information; it is left out
        with a warning, and t is then the same as without it).
    mean_, scale_ : ndarray, float64, shape (n_features,)
        The reference standardisation (a constant feature: its value and 1).
    net_, kernel_ : the fitted network (neural mode) or the Nystroem expansion as plain arrays
        (kernel mode: ``centers``, ``normalization``, ``gamma``, ``coef``, ``intercept``, ``sigma``)
    provenance_ : dict
        The provenance layout of every hepsift estimator, plus ``t``, ``n_expected``,
        ``n_reference`` and ``n_data``.

    Like every hepsift learner it saves with ``save(path)`` (read back by :func:`hepsift.load`)
    and exports f(x) with ``to_onnx(path, feature_names)``: one input ``x`` (float32, shape
    (n, n_features)), one output ``f`` (shape (n, 1)), kind ``density_ratio``, the
    standardisation inside; ONNX Runtime is checked against :meth:`decision_function`.
    """

    config_class: ClassVar[type[Config]] = NPLMConfig
    _kind: ClassVar[str] = "density_ratio"
    _packages: ClassVar[tuple[str, ...]] = ("torch", "scikit-learn", "scipy")
    _fitted_attrs: ClassVar[tuple[str, ...]] = ("n_features_in_", "mean_", "scale_", "active_", "t_", "provenance_")
    _onnx_rtol: ClassVar[float] = 1e-4
    _onnx_atol: ClassVar[float] = 1e-4

    def __init__(
        self, mode: str = "neural", hidden: tuple[int, ...] = (4,), activation: str = "sigmoid",
        weight_clip: float = 9.0, epochs: int = 2000, learning_rate: float = 0.05, n_centers: int = 200,
        sigma: float | None = None, lam: float = 1e-4, kernel_loss: str = "logistic", standardize: bool = True,
        seed: int = 0, device: str = "cpu",
    ) -> None:  # fmt: skip
        self.mode = mode
        self.hidden = hidden
        self.activation = activation
        self.weight_clip = weight_clip
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.n_centers = n_centers
        self.sigma = sigma
        self.lam = lam
        self.kernel_loss = kernel_loss
        self.standardize = standardize
        self.seed = seed
        self.device = device

    def _validate(self) -> None:
        if self.mode not in MODES:
            raise ConfigurationError(f"unknown NPLM mode {self.mode!r}; expected one of {MODES}")
        if self.mode == "neural":
            if not self.hidden or any(int(h) <= 0 for h in self.hidden):
                raise ConfigurationError(f"hidden layer widths must be positive, got {self.hidden}")
            if self.activation not in ("sigmoid", "tanh", "relu"):
                raise ConfigurationError(f"unknown activation {self.activation!r}")
            if self.weight_clip <= 0 or self.epochs <= 0 or self.learning_rate <= 0:
                raise ConfigurationError("weight_clip, epochs and learning_rate must be positive")
        else:
            if self.n_centers <= 0 or self.lam < 0 or (self.sigma is not None and self.sigma <= 0):
                raise ConfigurationError("n_centers must be positive, lam >= 0 and sigma > 0")
            if self.kernel_loss not in ("logistic", "nplm"):
                raise ConfigurationError(f"unknown kernel_loss {self.kernel_loss!r}; expected 'logistic' or 'nplm'")

    # fitting --------------------------------------------------------------------------------
    def fit(
        self,
        reference: Any,
        data: Any,
        *,
        n_expected: float | None = None,
        reference_weights: Any = None,
    ) -> NPLM:
        """Learn f and compute ``t_``.

        Parameters
        ----------
        reference : array_like, shape (N_R, n_features)
            Reference-hypothesis sample (e.g. Standard Model Monte Carlo).
        data : array_like, shape (N_D, n_features)
            Data sample.
        n_expected : float, optional
            N(R), the number of events expected in data under the reference hypothesis.
            Default: the sum of ``reference_weights`` if given, else ``N_D`` (then a pure
            excess in the number of events is not tested, only the shape).
        reference_weights : array_like, shape (N_R,), optional
            Relative event weights of the reference sample; they are rescaled to sum to N(R).

        Returns
        -------
        self

        Raises
        ------
        NonFiniteInputError
            NaN or infinite values (names the column and the count).
        DataError
            Samples that are empty or of different widths; a feature that is
            constant in the reference but takes other values in the data (the density ratio is
            then unbounded); every feature constant. A feature constant, with one value, in
            reference and data is not an error: it carries no information and is left out of
            f(x) with a ``UserWarning`` (``active_`` lists the features used); t is then exactly
            the t without that feature.
        """
        self._validate()
        ref = _as_sample(reference, "reference")
        dat = _as_sample(data, "data")
        if ref.shape[1] != dat.shape[1]:
            raise DataError(f"reference has {ref.shape[1]} features but data has {dat.shape[1]}")
        if reference_weights is None:
            w = np.ones(ref.shape[0])
        else:
            w = np.asarray(reference_weights, dtype=np.float64).ravel()
            if w.shape[0] != ref.shape[0] or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
                raise DataError("reference_weights must be finite, non-negative, not all zero, one per reference event")
        if n_expected is None:
            n_expected = float(w.sum()) if reference_weights is not None else float(dat.shape[0])
        if not (n_expected > 0 and math.isfinite(n_expected)):
            raise DataError(f"n_expected must be positive and finite, got {n_expected}")
        w = w * (n_expected / w.sum())
        active = _active_features(ref, dat, stacklevel=3)
        self.n_features_in_ = ref.shape[1]
        self.n_expected_ = float(n_expected)
        self.active_ = active
        ref_a, dat_a = ref[:, active], dat[:, active]  # the same numbers as without the constant features
        if self.standardize:
            mean = np.average(ref_a, axis=0, weights=w)
            std = np.sqrt(np.average((ref_a - mean) ** 2, axis=0, weights=w))
            std[std == 0] = 1.0
        else:
            mean, std = np.zeros(ref_a.shape[1]), np.ones(ref_a.shape[1])
        self.mean_, self.scale_ = ref[0].copy(), np.ones(ref.shape[1])  # constant features: their value, 1
        self.mean_[active], self.scale_[active] = mean, std
        zr, zd = (ref_a - mean) / std, (dat_a - mean) / std
        if self.mode == "neural":
            self._fit_neural(zr, w, zd)
        else:
            self._fit_kernel(zr, w, zd)
        fr, fd = self._f_standardized(zr), self._f_standardized(zd)
        self.t_ = float(2.0 * (fd.sum() - np.sum(w * np.expm1(fr))))
        self.provenance_ = self._provenance(len(ref) + len(dat), feature_names=[f"x{i}" for i in range(ref.shape[1])],
                                            n_reference=int(len(ref)), n_data=int(len(dat)), t=self.t_,
                                            n_expected=self.n_expected_, reference_weights_sum=float(w.sum()))
        return self

    def _fit_neural(self, zr: np.ndarray, w: np.ndarray, zd: np.ndarray) -> None:
        torch = _import_torch()
        device = _resolve_device(self.device)
        gen = torch.Generator().manual_seed(int(self.seed))
        net = _make_net(torch, zr.shape[1], tuple(int(h) for h in self.hidden), self.activation, gen)
        net = net.to(device=device, dtype=torch.float64)
        x = torch.as_tensor(np.concatenate([zr, zd]), dtype=torch.float64, device=device)
        wr = torch.as_tensor(w, dtype=torch.float64, device=device)
        n_r = zr.shape[0]
        opt = torch.optim.Adam(net.parameters(), lr=self.learning_rate)
        clip = float(self.weight_clip)
        weights = [p for name, p in net.named_parameters() if name.endswith("weight")]
        for _ in range(int(self.epochs)):
            opt.zero_grad(set_to_none=True)
            f = net(x).squeeze(-1)
            loss = torch.sum(wr * torch.expm1(f[:n_r])) - torch.sum(f[n_r:])
            loss.backward()
            opt.step()
            with torch.no_grad():
                for p in weights:
                    p.clamp_(-clip, clip)
        self.net_ = net.to("cpu").eval()
        self.kernel_ = None

    def _fit_kernel(self, zr: np.ndarray, w: np.ndarray, zd: np.ndarray) -> None:
        from scipy.optimize import minimize
        from sklearn.kernel_approximation import Nystroem

        rng = np.random.default_rng(self.seed)
        sigma = self.sigma
        if sigma is None:
            sub = zr[rng.choice(zr.shape[0], size=min(zr.shape[0], 1000), replace=False)]
            d = np.sqrt(((sub[:, None, :] - sub[None, :, :]) ** 2).sum(-1))
            sigma = float(np.quantile(d[np.triu_indices(sub.shape[0], k=1)], 0.9)) if sub.shape[0] > 1 else 1.0
        x = np.concatenate([zr, zd])
        m = min(int(self.n_centers), x.shape[0])
        ny = Nystroem(
            kernel="rbf", gamma=1.0 / (2.0 * sigma**2), n_components=m, random_state=int(rng.integers(2**31 - 1))
        )
        phi = ny.fit_transform(x)
        y = np.concatenate([np.zeros(zr.shape[0]), np.ones(zd.shape[0])])
        sw = np.concatenate([w, np.ones(zd.shape[0])])
        sw_norm = sw / sw.sum()
        lam = float(self.lam)
        sign = 2.0 * y - 1.0  # +1 data, -1 reference

        total = sw.sum()

        def logistic(theta: np.ndarray) -> tuple[float, np.ndarray]:
            a, c = theta[:-1], theta[-1]
            f = phi @ a + c
            z = -sign * f
            loss = np.logaddexp(0.0, z)  # log(1 + exp(-y f)) with y = +-1
            g = -sign * _expit(z) * sw_norm
            val = float(np.dot(sw_norm, loss) + lam * np.dot(a, a))
            grad = np.concatenate([phi.T @ g + 2.0 * lam * a, [g.sum()]])
            return val, grad

        def nplm_loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
            a, c = theta[:-1], theta[-1]
            f = phi @ a + c
            ef = np.exp(np.clip(f, None, 50.0))
            val = (np.sum(sw * (1 - y) * (ef - 1.0)) - np.sum(y * f)) / total
            g = (sw * (1 - y) * ef - y) / total
            return float(val + lam * np.dot(a, a)), np.concatenate([phi.T @ g + 2.0 * lam * a, [g.sum()]])

        objective = logistic if self.kernel_loss == "logistic" else nplm_loss

        theta0 = np.zeros(phi.shape[1] + 1)
        theta0[-1] = math.log(zd.shape[0] / w.sum())
        res = minimize(objective, theta0, jac=True, method="L-BFGS-B", options={"maxiter": 2000, "gtol": 1e-9})
        # f(z) = exp(-gamma |z - c|^2) @ (normalization.T @ coef) + intercept, as Nystroem.transform;
        # kept as plain arrays (what a saved file holds)
        self.kernel_ = {"centers": ny.components_.copy(), "normalization": ny.normalization_.copy(),
                        "gamma": float(ny.gamma), "coef": res.x[:-1].copy(), "intercept": float(res.x[-1]),
                        "sigma": float(sigma)}
        self.net_ = None

    # evaluation ----------------------------------------------------------------------------
    def _f_standardized(self, z: np.ndarray) -> np.ndarray:
        if self.net_ is not None:
            torch = _import_torch()
            with torch.no_grad():
                return self.net_(torch.as_tensor(z, dtype=torch.float64)).squeeze(-1).numpy()
        from sklearn.metrics.pairwise import rbf_kernel

        k = self.kernel_
        return rbf_kernel(z, k["centers"], gamma=k["gamma"]) @ (k["normalization"].T @ k["coef"]) + k["intercept"]

    def decision_function(self, x: Any) -> np.ndarray:
        """Learned log density ratio f(x) = log n(x|D)/n(x|R), shape (n_events,)."""
        self._check_fitted()
        x = _as_sample(x, "x")
        if x.shape[1] != self.n_features_in_:
            raise DataError(f"expected {self.n_features_in_} features, got {x.shape[1]}")
        a = self.active_
        return self._f_standardized((x[:, a] - self.mean_[a]) / self.scale_[a])

    @property
    def n_parameters_(self) -> int:
        """Number of trainable parameters of f (network weights and biases, or M + 1)."""
        self._check_fitted()
        if self.net_ is not None:
            return int(sum(p.numel() for p in self.net_.parameters()))
        return int(self.kernel_["coef"].size + 1)

    def to_torch(self) -> Any:
        """A float32 ``torch.nn.Module`` mapping raw features (n, d) to f(x) of shape (n, 1)."""
        self._check_fitted()
        from hepsift.nplm._export import torch_module

        return torch_module(self)

    # export and persistence -----------------------------------------------------------------
    def _onnx_feature_names(self) -> list[str]:
        return [f"x{i}" for i in range(int(self.n_features_in_))]

    def _onnx_sample(self) -> np.ndarray:
        rng = np.random.default_rng(0)
        return (self.mean_ + self.scale_ * rng.standard_normal((256, int(self.n_features_in_)))).astype(np.float32)

    def _hepsift_onnx_(self, n_features: int, opset: int) -> tuple[Any, Callable[[np.ndarray], np.ndarray], str]:
        """ONNX graph ``x (n, n_features) -> f (n, 1)``: f(x) with the standardisation inside."""
        from hepsift._torch import torch_to_onnx

        self._check_fitted()
        if n_features != self.n_features_in_:
            raise ConfigurationError(f"{n_features} feature names given for a model with {self.n_features_in_} features")
        proto, _ = torch_to_onnx(self.to_torch(), n_features, opset, input_name="x", output_name="f")
        return proto, lambda X: self.decision_function(np.asarray(X, dtype=np.float64)), "f"

    def __getstate__(self) -> dict[str, Any]:
        from hepsift._torch import state_to_numpy

        state = super().__getstate__()
        net = state.pop("net_", None)
        if net is not None:  # the network as plain arrays; rebuilt from the parameters on loading
            state["_net_state"] = state_to_numpy(net)
        elif "kernel_" in state:
            state["net_"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        net_state = state.pop("_net_state", None)
        self.__dict__.update(state)
        if net_state is not None:
            from hepsift._torch import load_numpy_state

            torch = _import_torch()
            net = _make_net(torch, len(self.active_), tuple(int(h) for h in self.hidden), self.activation,
                            torch.Generator().manual_seed(0)).to(torch.float64)
            load_numpy_state(net, net_state)
            self.net_ = net.eval()


def _active_features(ref: np.ndarray, dat: np.ndarray, *, stacklevel: int = 2) -> np.ndarray:
    """Indices of the features that vary in the reference sample.

    A feature that has one value in every reference event and the same value in every data
    event carries no information: f(x) cannot depend on it, so it is left out (with a
    warning) and t is exactly the t of the remaining features. A feature that is constant in
    the reference but takes other values in the data is refused: the reference has no events
    where those data are, the density ratio n(x|D)/n(x|R) is unbounded there and t would only
    measure the fit's regularisation.
    """
    spread = np.ptp(ref, axis=0)
    const = np.flatnonzero(spread == 0)
    for j in const:
        value = ref[0, j]
        off = np.flatnonzero(dat[:, j] != value)
        if off.size:
            raise DataError(
                f"feature {int(j)} (counting from 0) is constant ({value:g}) in the reference sample but takes "
                f"other values in the data ({dat[off[0], j]:g} at data row {int(off[0])}, {off.size} event(s) in all): "
                "the reference has no events there, so the density ratio and t are not defined. Use a reference "
                "sample that covers the data in this feature, or leave the feature out of both samples"
            )
    if const.size == ref.shape[1]:
        raise DataError(
            "every feature is constant, with the same value in reference and data: there is no shape to "
            "compare (only the number of events, a Poisson counting test); give NPLM features that vary"
        )
    if const.size:
        import warnings

        which = ", ".join(f"{int(j)} (= {ref[0, j]:g})" for j in const)
        warnings.warn(
            f"NPLM: feature(s) {which}, counting from 0, constant, with the same value in reference and "
            "data; it carries no information and f(x) is fitted without it",
            UserWarning,
            stacklevel=stacklevel + 1,
        )
    return np.flatnonzero(spread != 0)


def _expit(z: np.ndarray) -> np.ndarray:
    from scipy.special import expit

    return expit(z)


def _make_net(torch: Any, n_in: int, hidden: tuple[int, ...], activation: str, gen: Any) -> Any:
    act = {"sigmoid": torch.nn.Sigmoid, "tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}[activation]
    layers: list[Any] = []
    width = n_in
    for h in hidden:
        layers += [torch.nn.Linear(width, h), act()]
        width = h
    layers.append(torch.nn.Linear(width, 1))
    net = torch.nn.Sequential(*layers)
    with torch.no_grad():
        for layer in net:
            if isinstance(layer, torch.nn.Linear):
                bound = 1.0 / math.sqrt(layer.in_features)
                layer.weight.copy_(torch.rand(layer.weight.shape, generator=gen) * 2 * bound - bound)
                layer.bias.copy_(torch.rand(layer.bias.shape, generator=gen) * 2 * bound - bound)
        net[-1].weight.mul_(0.01)  # start close to f = 0 (data = reference)
        net[-1].bias.zero_()
    return net


def test_statistic(
    reference: Any,
    data: Any,
    *,
    n_expected: float | None = None,
    mode: str = "neural",
    seed: int = 0,
    reference_weights: Any = None,
    return_model: bool = False,
    **options: Any,
) -> float | tuple[float, NPLM]:
    r"""NPLM test statistic :math:`t = -2 \min_f L[f]` of data against a reference sample.

    Parameters
    ----------
    reference : array_like, shape (N_R, n_features)
        Reference sample.
    data : array_like, shape (N_D, n_features)
        Data sample.
    n_expected : float, optional
        N(R), the expected number of data events under the reference hypothesis
        (see :meth:`NPLM.fit`).
    mode : {"neural", "kernel"}
        See :class:`NPLM`.
    seed : int
        Seed of the fit.
    reference_weights : array_like, optional
        Relative weights of the reference events.
    return_model : bool
        Also return the fitted :class:`NPLM` (to look at f(x) or export it).
    **options
        Further :class:`NPLM` parameters (``hidden``, ``epochs``, ``n_centers``, ``lam``, ...).

    Returns
    -------
    float, or (float, NPLM)
    """
    model = NPLM(mode=mode, seed=seed, **options)
    model.fit(reference, data, n_expected=n_expected, reference_weights=reference_weights)
    return (model.t_, model) if return_model else model.t_


test_statistic.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
