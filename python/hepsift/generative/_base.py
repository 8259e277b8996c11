"""The common contract of hepsift's generative models.

A generator learns the distribution of the high-level features of one process and maps
standard-normal noise ``z`` (shape (n, latent_dim), float32) to events (shape (n, n_features),
float32). Counts, absent objects (-999) and the shapes of the marginals are handled by the
preprocessing of :mod:`hepsift.generative._codec`, whose inverse is part of the sampler.
The same map is exported to ONNX (input ``noise``, output ``features``, ``kind="generator"``),
so that :func:`hepsift.rdf.sample` can produce events inside an RDataFrame event loop from
the noise columns alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np

from hepsift import errors
from hepsift._estimator import Estimator, as_matrix
from hepsift._missing import check_finite
from hepsift._torch import set_metadata, torch_threads, torch_to_onnx
from hepsift.generative._codec import decoder_module, encode, fit_codec
from hepsift.generative._noise import counter_noise

__all__ = ["Generator", "NOISE_PREFIX", "GENERATED_FEATURES_KEY"]

#: Names of the noise inputs of an exported generator: ``noise0``, ``noise1``, ...
NOISE_PREFIX = "noise"
#: ONNX metadata key holding the JSON list of the generated feature names, in output order.
GENERATED_FEATURES_KEY = "hepsift.generated_features"


class Generator(Estimator):
    """Base class of the generative models (see the module documentation).

    Subclasses implement ``_fit_core(Xs)`` on the encoded float32 events (``(n, d')``, see
    :func:`hepsift.generative._codec.encode`), ``_latent_dim()`` and ``_sampler() ->
    torch.nn.Module`` mapping noise ``(n, latent_dim)`` to encoded events ``(n, d')``; a
    ``marginals`` parameter (``"quantile"`` or ``"standard"``) chooses the preprocessing.
    """

    _kind: ClassVar[str] = "generator"
    _packages: ClassVar[tuple[str, ...]] = ("torch", "zuko")
    _fitted_attrs: ClassVar[tuple[str, ...]] = (
        "feature_names_in_", "n_features_in_", "codec_", "latent_dim_", "provenance_",
    )  # fmt: skip
    #: Evaluate the sampler in float64 (native and in the ONNX graph): spline inversions
    #: are ill-conditioned enough in float32 that ONNX Runtime and torch differ by ~1e-5.
    #: The preprocessing's inverse (floors, thresholds) always runs in float64.
    _double: ClassVar[bool] = False
    seed: int

    def fit(self, X: Any, y: Any = None, *, feature_names: Sequence[str] | None = None,
            progress: bool = False) -> Generator:  # fmt: skip
        """Learn the distribution of ``X``.

        Parameters
        ----------
        X : ndarray, shape (n_events, n_features), or mapping feature name -> 1-D array
            Events of one process; every value must be finite. Absent objects hold
            :data:`hepsift.io.features.MISSING` (-999) and are learnt through a "present"
            indicator; integer-valued features are learnt as counts.
        y : ignored
        feature_names : names of the columns of an array ``X`` (default ``x0``, ``x1``, ...)
        progress : show a progress bar over epochs

        Returns
        -------
        self
        """
        arr, names = as_matrix(X, feature_names, what="training events")
        names = names or [f"x{i}" for i in range(arr.shape[1])]
        check_finite(arr, names, what=f"{type(self).__name__}.fit")
        if len(arr) < 10:
            raise errors.DataError(f"{type(self).__name__}.fit needs at least 10 events, got {len(arr)}")
        self.feature_names_in_ = list(names)
        self.n_features_in_ = arr.shape[1]
        self.codec_ = fit_codec(arr, list(names), marginals=getattr(self, "marginals", "standard"), seed=self.seed)
        Xs = encode(self.codec_, arr, self.seed)
        with torch_threads(1):
            self._fit_core(Xs, progress=progress)
        self.latent_dim_ = int(self._latent_dim())
        self.provenance_ = self._provenance(len(arr))
        self._module_cache = None
        return self

    @property
    def n_encoded_(self) -> int:
        """Number of encoded columns ``d'`` (features + one "present" indicator per absence pattern)."""
        return int(len(self.codec_["discrete"]))

    def _fit_core(self, Xs: np.ndarray, *, progress: bool = False) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _latent_dim(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def _sampler(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def noise_names_(self) -> list[str]:
        """Names of the noise inputs of the exported model."""
        self._check_fitted()
        return [f"{NOISE_PREFIX}{i}" for i in range(self.latent_dim_)]

    def _module(self) -> Any:
        import torch

        cached = getattr(self, "_module_cache", None)
        if cached is not None:
            return cached

        class _Generate(torch.nn.Module):
            def __init__(self, inner: torch.nn.Module, decode: torch.nn.Module, post: torch.nn.Module,
                         dtype: torch.dtype) -> None:  # fmt: skip
                super().__init__()
                self.inner = inner.to(dtype)
                self.decode = decode
                self.post = post
                self.dtype = dtype

            def forward(self, z: torch.Tensor) -> torch.Tensor:
                return self.post(self.decode(self.inner(z.to(self.dtype)))).to(torch.float32)

        dtype = torch.float64 if self._double else torch.float32
        module = _Generate(self._sampler(), decoder_module(self.codec_), self._postprocess(), dtype).eval()
        self._module_cache = module
        return module

    def _postprocess(self) -> Any:
        """torch module applied (in float64) to the decoded events before the float32 output:
        the identity here; a subclass may shape the output (see ``generated_names_``)."""
        import torch

        return torch.nn.Identity()

    @property
    def generated_names_(self) -> list[str]:
        """Names of the columns of :meth:`decode`'s output (and of the exported ``features``)."""
        self._check_fitted()
        return list(self.feature_names_in_)

    def _generator_metadata(self) -> dict[str, Any]:
        """ONNX metadata of the exported sampler."""
        return {GENERATED_FEATURES_KEY: self.generated_names_}

    def decode(self, noise: np.ndarray) -> np.ndarray:
        """Map standard-normal noise to events (the function that is exported).

        Parameters
        ----------
        noise : ndarray, shape (n, latent_dim)

        Returns
        -------
        ndarray, float32, shape (n, len(generated_names_)); for the flat-feature generators the
        columns are :attr:`feature_names_in_`
        """
        import torch

        self._check_fitted()
        z = np.ascontiguousarray(noise, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != self.latent_dim_:
            raise errors.InputMismatchError(f"noise must have shape (n, {self.latent_dim_}); got {z.shape}")
        check_finite(z, self.noise_names_, what=f"{type(self).__name__}.decode")
        with torch.no_grad():
            return self._module()(torch.from_numpy(z)).numpy().astype(np.float32)

    def sample(self, n: int, seed: int = 0, *, batch_size: int = 65536) -> np.ndarray:
        """Generate ``n`` events from the noise of entries ``0 .. n-1`` of ``hepsift::noise(seed, ...)``.

        Parameters
        ----------
        n : number of events
        seed : int in [0, 2**64); the events equal those of ``hepsift.rdf.sample(file, n, seed)``
            on the exported sampler (the same counter-based noise, :func:`counter_noise`)
        batch_size : events per call of the sampler

        Returns
        -------
        ndarray, float32, shape (n, len(generated_names_)); for the flat-feature generators the
        columns are :attr:`feature_names_in_`
        """
        self._check_fitted()
        if int(n) < 0:
            raise errors.ConfigurationError(f"n must be >= 0, got {n}")
        parts = [self.decode(counter_noise(seed, min(batch_size, int(n) - i), self.latent_dim_, start=i))
                 for i in range(0, int(n), batch_size)]  # fmt: skip
        return np.concatenate(parts) if parts else np.zeros((0, len(self.generated_names_)), dtype=np.float32)

    # -- export -----------------------------------------------------------------------
    def _hepsift_onnx_(self, n_features: int, opset: int) -> tuple[Any, Callable[[np.ndarray], np.ndarray], str]:
        """ONNX graph ``noise (n, latent_dim) -> features (n, n_features)``."""
        self._check_fitted()
        if n_features != self.latent_dim_:
            raise errors.InputMismatchError(
                f"{type(self).__name__} takes {self.latent_dim_} noise inputs ({', '.join(self.noise_names_)}); "
                f"the export was asked for {n_features} (pass feature_names=model.noise_names_)"
            )
        proto, native = torch_to_onnx(self._module(), self.latent_dim_, opset, input_name="noise",
                                      output_name="features")  # fmt: skip
        set_metadata(proto, self._generator_metadata())
        return proto, native, "features"

    def _onnx_feature_names(self) -> list[str]:
        """The exported file's inputs are the noise columns :attr:`noise_names_`; its output
        ``features`` holds the generated features, named in the metadata key
        ``hepsift.generated_features``."""
        return self.noise_names_
