"""Multi-layer perceptron (PyTorch) for binary, multi-class and regression targets."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from hepsift._estimator import Config
from hepsift._missing import MISSING, ImputingScaler
from hepsift._torch import load_numpy_state, state_to_numpy, torch_threads
from hepsift.errors import ConfigurationError, DataError
from hepsift.models._base import (
    Supervised,
    check_choice,
    check_weights,
    check_X,
    check_y,
    validation_split,
)
from hepsift.models._onnx import INPUT, GraphBuilder, combined_discriminant

__all__ = ["MLPClassifier", "MLPConfig", "ACTIVATIONS", "INITIALIZERS", "OPTIMIZERS", "PRESETS"]

ACTIVATIONS = ("relu", "selu", "sigmoid", "tanh", "elu", "leaky_relu", "gelu", "softplus", "silu")
INITIALIZERS = ("default", "lecun_normal", "glorot_uniform", "glorot_normal", "he_normal", "he_uniform", "random_normal")
OPTIMIZERS = ("adam", "nadam", "sgd", "rmsprop")
LOSSES = ("auto", "bce", "asimov", "cross_entropy", "mse")

#: Configurations of the classic Keras examples physicists start from.
PRESETS: dict[str, dict[str, Any]] = {
    # four hidden layers of 512 sigmoid units
    "sigmoid_4x512": {"hidden_layers": (512, 512, 512, 512), "activation": "sigmoid", "initializer": "glorot_uniform",
                      "optimizer": "adam", "learning_rate": 1e-3},
    # three hidden layers of 352 SELU units, LeCun-normal initialisation, 10 % dropout
    "selu_3x352": {"hidden_layers": (352, 352, 352), "activation": "selu", "initializer": "lecun_normal",
                   "dropout": 0.1, "optimizer": "nadam", "learning_rate": 1e-3},
}


@dataclass
class MLPConfig(Config):
    """Hyper-parameters of :class:`MLPClassifier` (see there for each field)."""

    task: str = "auto"
    hidden_layers: tuple[int, ...] = (256, 256)
    activation: str = "relu"
    initializer: str = "glorot_uniform"
    dropout: float = 0.1
    l1: float = 0.0
    l2: float = 0.0
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    epochs: int = 200
    batch_size: int = 256
    early_stopping: bool = True
    patience: int = 10
    validation_fraction: float = 0.1
    loss: str = "auto"
    asimov_rel_sigma_b: float = 0.1
    asimov_eps: float = 1e-3
    class_weight: str | None = None
    signal_class: int | None = None
    background_fractions: Any = None
    missing_value: float | None = MISSING
    standardize: bool = True
    seed: int = 0
    threads: int = 1
    progress: bool = False


class MLPClassifier(Supervised):
    """A fully connected network trained with PyTorch, exported with its preprocessing.

    Parameters
    ----------
    task : {"auto", "binary", "multiclass", "regression"}
        ``auto``: two integer labels -> binary, more -> multi-class (softmax), non-integer
        targets -> regression.
    hidden_layers : tuple of int
        Units per hidden layer, e.g. ``(512, 512, 512, 512)``; ``()`` is a linear model. The
        defaults (two layers of 256, dropout 0.1, Adam at 1e-3, batches of 256, up to 200
        epochs with early stopping after 10) beat scikit-learn's ``MLPClassifier()`` defaults in
        ROC AUC on every task of ``bench/compare_classifiers.py``.
    activation : one of :data:`ACTIVATIONS`
    initializer : one of :data:`INITIALIZERS`
        ``lecun_normal``: truncated normal with std sqrt(1/fan_in) (Klambauer et al.,
        arXiv:1706.02515, for SELU); ``random_normal``: N(0, 0.05^2) as Keras; ``glorot_*``
        (Glorot & Bengio 2010); ``he_*`` (He et al., arXiv:1502.01852); biases start at 0.
    dropout : float in [0, 1)
        Dropout after every hidden layer (training only).
    l1, l2 : float
        Penalties ``l1 * sum|W| + l2 * sum W^2`` over the weight matrices (as Keras' kernel
        regularisers), added to every batch loss.
    optimizer : {"adam", "nadam", "sgd", "rmsprop"}
    learning_rate : float
    epochs : int
        Maximum number of passes over the training data.
    batch_size : int
    early_stopping : bool
        Hold out ``validation_fraction`` of the events (stratified by class, seeded by ``seed``;
        their indices are kept in ``validation_indices_``), stop after ``patience`` epochs
        without a lower validation loss and restore the best weights. The held-out events take
        no part in training: not in the gradient steps, the input standardisation and
        imputation, or a regression target's scaling.
    patience : int
    validation_fraction : float
    loss : {"auto", "bce", "asimov", "cross_entropy", "mse"}
        ``auto``: binary cross-entropy, softmax cross-entropy or mean squared error by task.
        ``asimov`` (binary only): 1/(Z_A + eps) on weighted batches (see
        :mod:`hepsift.models.losses`); then ``sample_weight`` should be in expected events.
    asimov_rel_sigma_b : float
        Relative background uncertainty in the Asimov loss.
    asimov_eps : float
        ``eps`` of the Asimov loss.
    class_weight : {None, "balanced"}
        ``balanced`` rescales the weights so that every class has the same total.
    signal_class : int, optional
        Multi-class: the label of the signal class in the discriminant (default: the largest label).
    background_fractions : sequence or mapping label -> fraction, optional
        Multi-class: ``f_k`` of ``D = ln(p_sig / sum_k f_k p_k)`` (default: the weighted
        class fractions of the training sample).
    missing_value : float or None
        Sentinel of absent objects (hepsift and HiggsML write -999): such entries are replaced
        by ``min - std`` of the column's present values, just below the observed range (the one
        imputation of hepsift, :class:`hepsift._missing.ImputingScaler`), in Python and inside
        the exported graph alike. None: no imputation.
    standardize : bool
        Standardise each input to mean 0 and unit variance (statistics after imputation).
    seed : int
        Seeds weights, dropout, shuffling and the validation split.
    threads : int
        PyTorch intra-op threads during ``fit`` and prediction (small networks train fastest,
        and reproducibly, on one).
    progress : bool
        Show a progress bar over epochs.

    Attributes
    ----------
    classes_ : ndarray (classification)
    task_ : str
    n_features_in_ : int
    mean_, scale_, fill_ : ndarray, float32, shape (n_features,)
    history_ : dict of lists ``loss`` and ``val_loss`` per epoch
    best_epoch_ : int
    validation_indices_ : ndarray, int64, sorted; the events held out for early stopping
        (empty without early stopping)
    threshold_ : dict, score cuts at background efficiencies 1e-2/1e-3/1e-4 (binary; see
        :func:`hepsift._estimator.threshold_table`)
    provenance_ : dict

    Examples
    --------
    >>> import numpy as np
    >>> from hepsift.models import MLPClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 2)).astype("float32"); y = (X[:, 0] > 0).astype(int)
    >>> clf = MLPClassifier(hidden_layers=(8,), epochs=20, seed=1).fit(X, y)
    >>> clf.predict_proba(X).shape
    (400, 2)
    """

    _packages: ClassVar[tuple[str, ...]] = ("torch",)
    config_class: ClassVar[type[Any]] = MLPConfig

    def __init__(self, *, task: str = "auto", hidden_layers: tuple[int, ...] = (256, 256), activation: str = "relu",
                 initializer: str = "glorot_uniform", dropout: float = 0.1, l1: float = 0.0, l2: float = 0.0,
                 optimizer: str = "adam", learning_rate: float = 1e-3, epochs: int = 200, batch_size: int = 256,
                 early_stopping: bool = True, patience: int = 10, validation_fraction: float = 0.1,
                 loss: str = "auto", asimov_rel_sigma_b: float = 0.1, asimov_eps: float = 1e-3,
                 class_weight: str | None = None, signal_class: int | None = None,
                 background_fractions: Any = None, missing_value: float | None = MISSING,
                 standardize: bool = True, seed: int = 0, threads: int = 1, progress: bool = False) -> None:
        self.task = task
        self.hidden_layers = hidden_layers
        self.activation = activation
        self.initializer = initializer
        self.dropout = dropout
        self.l1 = l1
        self.l2 = l2
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.batch_size = batch_size
        self.early_stopping = early_stopping
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.loss = loss
        self.asimov_rel_sigma_b = asimov_rel_sigma_b
        self.asimov_eps = asimov_eps
        self.class_weight = class_weight
        self.signal_class = signal_class
        self.background_fractions = background_fractions
        self.missing_value = missing_value
        self.standardize = standardize
        self.seed = seed
        self.threads = threads
        self.progress = progress

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> MLPClassifier:
        """An estimator configured as one of :data:`PRESETS` (``sigmoid_4x512``, ``selu_3x352``)."""
        if name not in PRESETS:
            raise ConfigurationError(f"unknown MLP preset {name!r}; presets: {', '.join(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})

    # ---- validation ---------------------------------------------------------------
    def _validate(self) -> None:
        check_choice("activation", self.activation, ACTIVATIONS)
        check_choice("initializer", self.initializer, INITIALIZERS)
        check_choice("optimizer", str(self.optimizer).lower(), OPTIMIZERS)
        check_choice("loss", self.loss, LOSSES)
        check_choice("class_weight", self.class_weight, (None, "balanced"))
        layers = tuple(self.hidden_layers)
        if any(int(u) != u or u < 1 for u in layers):
            raise ConfigurationError(f"hidden_layers must be positive integers; got {layers}")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise ConfigurationError(f"dropout must be in [0, 1); got {self.dropout}")
        for name in ("l1", "l2", "asimov_rel_sigma_b"):
            if float(getattr(self, name)) < 0:
                raise ConfigurationError(f"{name} must be >= 0; got {getattr(self, name)}")
        for name in ("epochs", "batch_size"):
            if int(getattr(self, name)) < 1:
                raise ConfigurationError(f"{name} must be >= 1; got {getattr(self, name)}")
        if not float(self.learning_rate) > 0:
            raise ConfigurationError(f"learning_rate must be > 0; got {self.learning_rate}")
        if self.early_stopping and not 0.0 < float(self.validation_fraction) < 1.0:
            raise ConfigurationError(f"validation_fraction must be in (0, 1) with early stopping; got {self.validation_fraction}")
        if self.asimov_eps <= 0:
            raise ConfigurationError("asimov_eps must be > 0")

    # ---- preprocessing ------------------------------------------------------------
    def _fit_preprocessing(self, X: np.ndarray) -> None:
        """Learn the imputation and standardisation (:class:`hepsift._missing.ImputingScaler`)."""
        sc = ImputingScaler.fit(X, sentinel=self.missing_value, standardize=self.standardize)
        self.fill_, self.mean_, self.scale_ = sc.fill, sc.mean, sc.scale

    def _transform(self, X: np.ndarray) -> np.ndarray:
        return ImputingScaler(self.fill_, self.mean_, self.scale_, self.missing_value).transform(X)

    # ---- network ------------------------------------------------------------------
    def _build(self, n_in: int, n_out: int) -> Any:
        import torch

        act = {"relu": torch.nn.ReLU, "selu": torch.nn.SELU, "sigmoid": torch.nn.Sigmoid, "tanh": torch.nn.Tanh,
               "elu": torch.nn.ELU, "leaky_relu": torch.nn.LeakyReLU, "gelu": torch.nn.GELU,
               "softplus": torch.nn.Softplus, "silu": torch.nn.SiLU}[self.activation]
        layers: list[Any] = []
        width = n_in
        for units in self.hidden_layers:
            layers += [torch.nn.Linear(width, int(units)), act()]
            if self.dropout > 0:
                layers.append(torch.nn.AlphaDropout(self.dropout) if self.activation == "selu"
                              else torch.nn.Dropout(self.dropout))
            width = int(units)
        layers.append(torch.nn.Linear(width, n_out))
        net = torch.nn.Sequential(*layers)
        for m in net:
            if isinstance(m, torch.nn.Linear):
                self._init_linear(m)
        return net

    def _init_linear(self, m: Any) -> None:
        import torch

        init = self.initializer
        if init == "default":
            return
        fan_in = m.weight.shape[1]
        with torch.no_grad():
            if init == "lecun_normal":
                std = math.sqrt(1.0 / fan_in) / 0.87962566103423978  # Keras' truncation correction
                torch.nn.init.trunc_normal_(m.weight, std=std, a=-2 * std, b=2 * std)
            elif init == "glorot_uniform":
                torch.nn.init.xavier_uniform_(m.weight)
            elif init == "glorot_normal":
                torch.nn.init.xavier_normal_(m.weight)
            elif init == "he_normal":
                torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            elif init == "he_uniform":
                torch.nn.init.kaiming_uniform_(m.weight, nonlinearity="relu")
            elif init == "random_normal":
                torch.nn.init.normal_(m.weight, std=0.05)
            m.bias.zero_()

    def _optimizer(self, params: Any) -> Any:
        import torch

        name, lr = str(self.optimizer).lower(), float(self.learning_rate)
        if name == "adam":
            return torch.optim.Adam(params, lr=lr)
        if name == "nadam":
            return torch.optim.NAdam(params, lr=lr)
        if name == "rmsprop":
            return torch.optim.RMSprop(params, lr=lr)
        return torch.optim.SGD(params, lr=lr, momentum=0.9)

    # ---- fit ----------------------------------------------------------------------
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPClassifier:
        """Train the network.

        Parameters
        ----------
        X : array_like, shape (n_events, n_features)
            Converted to float32; must be finite (absent objects as ``missing_value``).
        y : array_like, shape (n_events,)
            Integer class labels, or real targets for regression.
        sample_weight : array_like, shape (n_events,), optional
            Event weights (luminosity-normalised for the Asimov loss).

        Returns
        -------
        self
        """
        with torch_threads(self.threads):
            return self._fit(X, y, sample_weight)

    def _fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPClassifier:
        """The body of :meth:`fit` (same parameters), run under the torch thread limit."""
        import torch

        self._validate()
        X = check_X(X)
        y, task = check_y(y, len(X), self.task)
        w_raw = check_weights(sample_weight, len(X))
        loss = self.loss
        if loss == "auto":
            loss = {"binary": "bce", "multiclass": "cross_entropy", "regression": "mse"}[task]
        allowed = {"binary": ("bce", "asimov"), "multiclass": ("cross_entropy",), "regression": ("mse",)}[task]
        if loss not in allowed:
            raise ConfigurationError(f"loss {loss!r} does not apply to a {task} task; use one of {allowed}")
        for attr in ("classes_", "signal_index_", "fractions_", "y_mean_", "y_std_", "threshold_",
                     "validation_indices_"):
            self.__dict__.pop(attr, None)

        target, w = self._fit_targets(y, task, w_raw)
        idx = np.arange(len(X), dtype=np.int64)
        if self.early_stopping:
            tr, va = validation_split(np.asarray(target), float(self.validation_fraction), int(self.seed),
                                      stratify=task != "regression")
        else:
            tr, va = idx, idx[:0]
        self.validation_indices_ = np.sort(va).astype(np.int64)
        # the held-out events stay out of everything the network learns from: the input
        # standardisation and imputation, and the regression target's standardisation
        if task == "regression":
            self.y_mean_ = float(np.average(y[tr], weights=np.abs(w_raw[tr])))
            self.y_std_ = float(np.std(y[tr])) or 1.0
            target = ((y - self.y_mean_) / self.y_std_).astype(np.float32)
            n_out = 1
        else:
            n_out = 1 if task == "binary" else len(self.classes_)
        self.task_ = task
        self.loss_ = loss
        self.n_features_in_ = X.shape[1]
        self._fit_preprocessing(X[tr])
        Xp = self._transform(X)
        torch.manual_seed(int(self.seed))
        gen = torch.Generator().manual_seed(int(self.seed))
        net = self._build(X.shape[1], n_out)
        opt = self._optimizer(net.parameters())
        tX, tt = torch.from_numpy(Xp), torch.from_numpy(np.asarray(target))
        tw, twr = torch.from_numpy(w.astype(np.float32)), torch.from_numpy(w_raw.astype(np.float32))
        if task == "binary" or task == "regression":
            tt = tt.float()
        sig_mask = (np.asarray(target) == 1) if task == "binary" else None
        totals = ((float(w_raw[tr][sig_mask[tr]].sum()), float(w_raw[tr][~sig_mask[tr]].sum()))
                  if sig_mask is not None else (0.0, 0.0))
        if loss == "asimov" and (totals[0] <= 0 or totals[1] <= 0):
            raise DataError("the Asimov loss needs positive total signal and background weights")
        vtotals = ((float(w_raw[va][sig_mask[va]].sum()), float(w_raw[va][~sig_mask[va]].sum()))
                   if sig_mask is not None and len(va) else (0.0, 0.0))

        def batch_loss(ix: Any, totals_: tuple[float, float]) -> Any:
            out = net(tX[ix])
            if loss == "bce":
                return torch.nn.functional.binary_cross_entropy_with_logits(out[:, 0], tt[ix], weight=tw[ix])
            if loss == "asimov":
                from hepsift.models.losses import asimov_loss

                return asimov_loss(torch.sigmoid(out[:, 0]), tt[ix], twr[ix], totals_[0], totals_[1],
                                   float(self.asimov_rel_sigma_b), float(self.asimov_eps))
            if loss == "cross_entropy":
                return (torch.nn.functional.cross_entropy(out, tt[ix], reduction="none") * tw[ix]).mean()
            return ((out[:, 0] - tt[ix]) ** 2 * tw[ix]).mean()

        linears = [m for m in net if isinstance(m, torch.nn.Linear)]

        def penalty() -> Any:
            total = torch.zeros(())
            if self.l1 > 0:
                total = total + float(self.l1) * sum(m.weight.abs().sum() for m in linears)
            if self.l2 > 0:
                total = total + float(self.l2) * sum((m.weight ** 2).sum() for m in linears)
            return total

        history: dict[str, list[float]] = {"loss": [], "val_loss": []}
        best = (math.inf, -1, None)
        bad_epochs = 0
        tr_t, va_t = torch.from_numpy(tr), torch.from_numpy(va)
        bs = int(self.batch_size)
        epochs = range(int(self.epochs))
        bar = None
        if self.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=int(self.epochs), desc=f"{type(self).__name__} ({loss})", unit="epoch")
        for epoch in epochs:
            net.train()
            perm = tr_t[torch.randperm(len(tr_t), generator=gen)]
            total, n_b = 0.0, 0
            for start in range(0, len(perm), bs):
                ix = perm[start:start + bs]
                opt.zero_grad()
                lval = batch_loss(ix, totals) + penalty()
                lval.backward()
                opt.step()
                total += float(lval.detach())
                n_b += 1
            history["loss"].append(total / max(n_b, 1))
            if len(va):
                net.eval()
                with torch.no_grad():
                    v = float(batch_loss(va_t, vtotals))
                history["val_loss"].append(v)
                if v < best[0] - 1e-7:
                    best = (v, epoch, {k: t.clone() for k, t in net.state_dict().items()})
                    bad_epochs = 0
                else:
                    bad_epochs += 1
            if bar is not None:
                bar.set_postfix(loss=f"{history['loss'][-1]:.4g}",
                                val=f"{history['val_loss'][-1]:.4g}" if history["val_loss"] else "-")
                bar.update(1)
            if self.early_stopping and bad_epochs >= int(self.patience):
                break
        if bar is not None:
            bar.close()
        if best[2] is not None:
            net.load_state_dict(best[2])
        self.best_epoch_ = best[1] if best[2] is not None else len(history["loss"]) - 1
        self.history_ = history
        net.eval()
        self.net_ = net
        self._store_fit_summary(X, task, target, w_raw)
        self.provenance_ = self._provenance(len(X), w_raw, loss=loss, best_epoch=self.best_epoch_,
                                            epochs_run=len(history["loss"]))
        return self

    # ---- inference ----------------------------------------------------------------
    def _raw(self, X: Any) -> np.ndarray:
        """Network output before the head (logits or standardised regression), float32 (n, n_out)."""
        import torch

        self._check_fitted()
        Xp = self._transform(check_X(X, self.n_features_in_))
        outs = []
        with torch.no_grad(), torch_threads(self.threads):
            for start in range(0, len(Xp), 65536):
                outs.append(self.net_(torch.from_numpy(Xp[start:start + 65536])).numpy())
        return np.concatenate(outs).astype(np.float32)

    def _proba(self, X: Any) -> np.ndarray:
        import torch

        raw = torch.from_numpy(self._raw(X))
        if self.task_ == "binary":
            p = torch.sigmoid(raw[:, 0]).numpy()
            return np.stack([1.0 - p, p], axis=1).astype(np.float32)
        return torch.softmax(raw, dim=1).numpy().astype(np.float32)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, float32, shape (n_events, n_classes) (column 1 = signal for binary)."""
        self._check_fitted()
        if self.task_ == "regression":
            raise ConfigurationError("predict_proba is for classifiers; this model was fitted for regression: use predict")
        return self._proba(X)

    def decision_function(self, X: Any) -> np.ndarray:
        """Binary: the logit ln(p/(1-p)); multi-class: ``ln(p_sig / sum_k f_k p_k)``; regression: predict.

        Returns ndarray, float32, shape (n_events,).
        """
        self._check_fitted()
        if self.task_ == "binary":
            return self._raw(X)[:, 0]
        if self.task_ == "multiclass":
            return combined_discriminant(self._proba(X), self.signal_index_, self.fractions_)
        return self.predict(X)

    def predict(self, X: Any) -> np.ndarray:
        """Class labels (highest probability), or regression predictions (float32)."""
        self._check_fitted()
        if self.task_ == "regression":
            return (self._raw(X)[:, 0] * np.float32(self.y_std_) + np.float32(self.y_mean_)).astype(np.float32)
        return self.classes_[np.argmax(self._proba(X), axis=1)]

    # ---- export -------------------------------------------------------------------
    def _hepsift_onnx_(self, n_features: int, opset: int) -> tuple[Any, Any, str]:
        import torch

        self._check_fitted()
        from hepsift.errors import InputMismatchError

        if n_features != self.n_features_in_:
            raise InputMismatchError(f"{n_features} feature names for a model fitted on {self.n_features_in_} features")
        g = GraphBuilder()
        x = g.preprocess(INPUT, self.mean_, self.scale_, self.missing_value, self.fill_)
        mods = list(self.net_)
        for i, m in enumerate(mods):
            if isinstance(m, torch.nn.Linear):
                W = m.weight.detach().numpy().astype(np.float32)
                b = m.bias.detach().numpy().astype(np.float32)
                x = g.op("Gemm", [x, g.const(W, "W"), g.const(b, "b")], "dense", transB=1)
            elif isinstance(m, (torch.nn.Dropout, torch.nn.AlphaDropout)):
                continue
            else:
                x = self._onnx_activation(g, x)
        if self.task_ == "binary":
            g.op("Sigmoid", [x], output="score")
            outputs: list[tuple[str, int | None]] = [("score", 1)]
            score = "score"

            def native(Z: np.ndarray) -> np.ndarray:
                return self.predict_proba(Z)[:, 1]
        elif self.task_ == "multiclass":
            g.op("Softmax", [x], output="probabilities", axis=1)
            g.discriminant("probabilities", self.signal_index_, self.fractions_, 1e-7, "discriminant")
            outputs = [("probabilities", len(self.classes_)), ("discriminant", 1)]
            score = "probabilities"

            def native(Z: np.ndarray) -> np.ndarray:
                return self.predict_proba(Z)
        else:
            y = g.op("Mul", [x, g.const(np.float32(self.y_std_), "y_std")])
            g.op("Add", [y, g.const(np.float32(self.y_mean_), "y_mean")], output="prediction")
            outputs = [("prediction", 1)]
            score = "prediction"

            def native(Z: np.ndarray) -> np.ndarray:
                return self.predict(Z)
        return g.model(outputs, n_features, opset, name="hepsift_mlp"), native, score

    def _onnx_activation(self, g: GraphBuilder, x: str) -> str:
        a = self.activation
        if a == "relu":
            return g.op("Relu", [x])
        if a == "selu":
            return g.op("Selu", [x])
        if a == "sigmoid":
            return g.op("Sigmoid", [x])
        if a == "tanh":
            return g.op("Tanh", [x])
        if a == "elu":
            return g.op("Elu", [x], alpha=1.0)
        if a == "leaky_relu":
            return g.op("LeakyRelu", [x], alpha=0.01)
        if a == "softplus":
            return g.op("Softplus", [x])
        if a == "silu":
            return g.op("Mul", [x, g.op("Sigmoid", [x])])
        # gelu (exact): 0.5 x (1 + erf(x / sqrt 2))
        erf = g.op("Erf", [g.op("Mul", [x, g.const(np.float32(1.0 / math.sqrt(2.0)))])])
        return g.op("Mul", [g.op("Mul", [x, g.const(np.float32(0.5))]), g.op("Add", [erf, g.const(np.float32(1.0))])])

    # ---- pickling (torch module as plain arrays) ----------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        net = state.pop("net_", None)
        if net is not None:
            state["_net_state"] = state_to_numpy(net)
            state["_net_shape"] = (self.n_features_in_, net[-1].out_features)
        return state

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        state = dict(state)
        net_state = state.pop("_net_state", None)
        shape = state.pop("_net_shape", None)
        self.__dict__.update(state)
        if net_state is not None and shape is not None:
            net = self._build(*shape)
            load_numpy_state(net, net_state)
            self.net_ = net.eval()


# the dataclass and the estimator must list the same parameters
assert [f.name for f in dataclasses.fields(MLPConfig)] == MLPClassifier._param_names()
