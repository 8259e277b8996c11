"""hepsift.rdf.Model: an ONNX model loaded by hepsift's C++ library."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from hepsift import errors
from hepsift.rdf._library import _reraise, load_library

__all__ = ["Model"]


class Model:
    """An ONNX model loaded by hepsift's C++ library, ready for RDataFrame.

    Parameters
    ----------
    path : str or os.PathLike
        ONNX file. Files written by :func:`hepsift.export.to_onnx` carry their feature names,
        kind and version; any other ONNX model with one float input ``[batch, n]`` works too.
    provider : {"cpu", "cuda"}
        ONNX Runtime execution provider. ``"cuda"`` raises :class:`hepsift.ProviderError`
        where no GPU or CUDA provider is usable, unless ``allow_fallback`` is true.
    threads : int
        ONNX Runtime intra-op threads per evaluation (0: ONNX Runtime's choice). Inside a
        multi-threaded event loop keep 1: the slots already use the cores.
    output : str, optional
        Name of the output that is the score (default: the model's metadata, else the first
        float output).
    cpu_chunk : int, default 4096
        On the CPU, a batch of more events is evaluated in model calls of at most this many
        events, so that each call's intermediate results stay in the processor's caches
        (``bench/rdf_scoring.py``: 10^5-event calls of the 8-64-64-1 MLP are slower per event
        than 4096-event calls); 0 calls the model on whole batches. CUDA takes whole batches.
    verify : bool, default True
        Check the file's ``hepsift.digest`` (graph and metadata as exported) and raise
        :class:`hepsift.MetadataError` when it does not match, i.e. when the file was edited
        after export. Files without a digest (plain ONNX) are accepted.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        provider: str = "cpu",
        threads: int = 1,
        allow_fallback: bool = False,
        output: str | None = None,
        cpu_chunk: int = 4096,
        verify: bool = True,
    ) -> None:
        ROOT = load_library()
        self.path = str(Path(path))
        if int(cpu_chunk) < 0:
            raise errors.ConfigurationError(
                f"cpu_chunk must be 0 (whole batches) or a positive integer, got {cpu_chunk}")
        try:
            self._ptr = ROOT.hepsift.pyroot.load(self.path, int(threads), provider, bool(allow_fallback), output or "",
                                                 int(cpu_chunk))
        except errors.HepsiftError as exc:
            _reraise(exc)
        self._cpp = self._ptr  # cppyy proxies the shared_ptr as the Model itself
        if verify:
            from hepsift.export import verify_digest

            if verify_digest(self.path) is False:
                raise errors.MetadataError(
                    f"model '{self.path}' was modified after export: its graph or metadata no longer match the stored "
                    "'hepsift.digest'. Re-export it, or open it with hepsift.rdf.Model(path, verify=False) if you "
                    "trust the change"
                )

    @property
    def n_features(self) -> int:
        """Number of input features per event."""
        return int(self._cpp.nFeatures())

    @property
    def input_kind(self) -> str:
        """``"flat"`` (input ``[N, n_features]``), ``"image"`` (input ``[N, C, H, W]`` or
        ``[N, H, W, C]`` with fixed dimensions, fed from one ``RVec<float>`` column of
        ``n_features = C*H*W`` values per event, row-major in the order the file declares) or
        ``"set"`` (objects ``[N, P, F]`` with a dynamic P, optional ``mask`` ``[N, P]``, fed
        from ``n_features = F`` RVec columns of one collection) or ``"grouped-set"`` (the
        objects of every jet, ``[N, J, P, F]`` with dynamic J and P and a ``mask`` ``[N, J, P]``,
        a score per jet, such as :class:`hepsift.models.JetTagger`'s; fed from F RVec columns,
        the column of each object's jet and the number of jets, see :func:`hepsift.rdf.define`)."""
        return str(self._cpp.inputKind())

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one event's input, without the batch dimension: ``(n_features,)`` for a
        flat model, e.g. ``(2, 33, 33)`` for an image model, ``(-1, F)`` for a set model
        (-1: each event's own number of objects), ``(-1, -1, F)`` for a grouped set model (jets,
        objects per jet)."""
        shape = tuple(int(d) for d in self._cpp.eventShape())
        return shape or (self.n_features,)

    @property
    def masked(self) -> bool:
        """Set model with a ``mask`` input (an event without objects then has a score)."""
        return bool(self._cpp.masked())

    @property
    def per_object(self) -> bool:
        """Set model whose score has one value per object (``[N, P]`` or ``[N, P, 1]``); a grouped
        set model's has one per jet (``[N, J]``), so it is per object too."""
        return bool(self._cpp.perObject())

    @property
    def n_scores(self) -> int:
        """Width of the score output (1 for a single score)."""
        return int(self._cpp.nScores())

    @property
    def feature_names(self) -> list[str]:
        """Feature names stored in the model ([] for a plain ONNX model)."""
        return [str(s) for s in self._cpp.featureNames()]

    @property
    def kind(self) -> str:
        """``classifier``, ``anomaly``, ... from the metadata ("" for plain ONNX)."""
        return str(self._cpp.kind())

    @property
    def version(self) -> str:
        """hepsift version that wrote the model ("" for plain ONNX)."""
        return str(self._cpp.hepsiftVersion())

    @property
    def provider(self) -> str:
        """Execution provider in use."""
        return str(self._cpp.provider())

    @property
    def input_names(self) -> list[str]:
        return [str(s) for s in self._cpp.inputNames()]

    @property
    def output_names(self) -> list[str]:
        return [str(s) for s in self._cpp.outputNames()]

    @property
    def metadata(self) -> dict[str, str]:
        """All metadata properties of the ONNX file."""
        return {str(k): str(v) for k, v in self._cpp.metadataMap()}

    def evaluate(self, X: np.ndarray) -> np.ndarray:
        """Evaluate a batch with the C++ model.

        Parameters
        ----------
        X : ndarray, shape (n_events, n_features) or (n_events, *input_shape)
            Converted to C-contiguous float32; images may be given flat or with their shape.

        Returns
        -------
        ndarray, float32, shape (n_events,) or (n_events, n_scores)
        """
        if self.input_kind in ("set", "grouped-set"):
            what = "sets of objects" if self.input_kind == "set" else "the objects of every jet"
            raise errors.InputMismatchError(
                f"model '{self.path}' takes {what}; score it in the event loop with hepsift.rdf.define, or with "
                "hepsift.export.onnx_predict on padded arrays")
        X = np.ascontiguousarray(X, dtype=np.float32)
        if X.ndim == 1 and self.n_features == 1:
            X = X[:, None]
        if X.ndim > 2 and X.shape[1:] == self.input_shape:
            X = X.reshape(X.shape[0], -1)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise errors.InputMismatchError(
                f"model '{self.path}' takes {self.n_features} features per event; got an array of shape {X.shape}"
            )
        out = np.empty((X.shape[0], self.n_scores), dtype=np.float32)
        ROOT = load_library()
        try:
            ROOT.hepsift.pyroot.evaluate(self._cpp, X, X.shape[0], out)
        except errors.HepsiftError as exc:
            _reraise(exc)
        return out[:, 0] if self.n_scores == 1 else out

    def __repr__(self) -> str:
        return (
            f"hepsift.rdf.Model({self.path!r}, kind={self.kind or 'plain ONNX'!r}, "
            f"input={self.input_kind} {list(self.input_shape)}, scores={self.n_scores}, provider={self.provider!r})"
        )
