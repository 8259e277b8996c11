"""Export trained models to one self-describing ONNX file.

:func:`to_onnx` writes the model (with its input standardisation, when given) and the hepsift
metadata (feature names in order, kind, version, score output, provenance: see
:mod:`hepsift.export._metadata`), then evaluates the file with ONNX Runtime on a sample and
refuses to keep a file whose scores disagree with the native model's.

Supported models: hepsift's own estimators (they provide ``_hepsift_onnx_(n_features, opset)``
returning the ONNX graph with its score head, a function giving the native scores, and the
score output's name), ``torch.nn.Module`` (exported with the TorchScript-based exporter,
which needs no extra package) and scikit-learn estimators and pipelines (through
``skl2onnx``; binary classifiers get a single ``score`` output = probability of class 1).
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hepsift._atomic import atomic_output
from hepsift._deps import install_hint
from hepsift._version import __version__
from hepsift.errors import ConfigurationError, DependencyError, ModelError
from hepsift.export._metadata import KINDS, add_metadata, read_metadata, seal, verify_digest

__all__ = ["to_onnx", "add_metadata", "read_metadata", "verify_digest", "onnx_predict", "KINDS"]


def onnx_predict(path: str | os.PathLike[str], X: np.ndarray, output: str | None = None) -> np.ndarray:
    """Evaluate an ONNX file with ONNX Runtime's Python API (the reference for parity checks).

    Parameters
    ----------
    path : ONNX file
    X : ndarray, shape (n_events, n_features) (or the N-D input of a model of images), converted
        to float32; or a mapping input name -> array for a model with several inputs (a set
        model's ``objects`` and ``mask``)
    output : name of the output to return; default: hepsift.score_output, else the first float output

    Returns
    -------
    ndarray, float32, shape (n_events,) for a one-wide score, else (n_events, k) (a per-object
    score: (n_events, n_objects))
    """
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    meta = sess.get_modelmeta().custom_metadata_map
    name = output or meta.get("hepsift.score_output")
    if name is None:
        name = next(o.name for o in sess.get_outputs() if o.type == "tensor(float)")
    if isinstance(X, Mapping):  # several inputs (sets of objects with their mask)
        feeds = {str(k): np.ascontiguousarray(v, dtype=np.float32) for k, v in X.items()}
        wanted = [i.name for i in sess.get_inputs()]
        if sorted(feeds) != sorted(wanted):
            raise ConfigurationError(f"{path} takes the inputs {wanted}; got {sorted(feeds)}")
        n = len(next(iter(feeds.values())))
    else:
        inp = sess.get_inputs()[0]
        X = np.ascontiguousarray(X, dtype=np.float32)
        if len(inp.shape) == 1 and X.ndim == 2:
            X = X[:, 0]
        feeds, n = {inp.name: X}, len(X)
    (y,) = sess.run([name], feeds)
    y = np.asarray(y, dtype=np.float32).reshape(n, -1)
    return y[:, 0] if y.shape[1] == 1 else y


def _torch_module(model: Any, n_features: int, mean: np.ndarray | None, scale: np.ndarray | None) -> Any:
    import torch

    class _WithScaling(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner
            m = np.zeros(n_features) if mean is None else np.asarray(mean, dtype=np.float64)
            s = np.ones(n_features) if scale is None else np.asarray(scale, dtype=np.float64)
            self.register_buffer("mean", torch.tensor(m, dtype=torch.float32))
            self.register_buffer("inv_scale", torch.tensor(1.0 / s, dtype=torch.float32))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.inner((x - self.mean) * self.inv_scale)
            return y.reshape(y.shape[0], -1)

    return _WithScaling(model).eval()


def _export_torch(model: Any, n_features: int, mean: Any, scale: Any, opset: int) -> tuple[Any, Any]:
    import onnx
    import torch

    wrapped = _torch_module(model, n_features, mean, scale)
    with tempfile.TemporaryDirectory() as tmp:
        f = os.path.join(tmp, "m.onnx")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                wrapped, (torch.zeros(2, n_features),), f, input_names=["features"], output_names=["score"],
                dynamic_axes={"features": {0: "batch"}, "score": {0: "batch"}}, opset_version=opset, dynamo=False,
            )
        proto = onnx.load(f)

    def native(X: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            y = wrapped(torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))).numpy()
        return y[:, 0] if y.shape[1] == 1 else y

    return proto, native


def _export_sklearn(model: Any, n_features: int, opset: int) -> tuple[Any, Any, str]:
    try:
        from skl2onnx import to_onnx as skl_to_onnx
    except ImportError as exc:  # pragma: no cover - dependency
        raise DependencyError(install_hint("skl2onnx", "exporting scikit-learn models")) from exc
    import onnx
    from onnx import helper

    is_classifier = hasattr(model, "predict_proba") and hasattr(model, "classes_")
    options = {"zipmap": False} if is_classifier else None
    sample = np.zeros((1, n_features), dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        proto = skl_to_onnx(model, sample, options=options, target_opset={"": opset, "ai.onnx.ml": 3})
    graph = proto.graph
    if is_classifier and len(model.classes_) == 2:
        prob = next(o.name for o in graph.output if o.type.tensor_type.elem_type == onnx.TensorProto.FLOAT)
        starts = helper.make_tensor("hs_start", onnx.TensorProto.INT64, [1], [1])
        ends = helper.make_tensor("hs_end", onnx.TensorProto.INT64, [1], [2])
        axes = helper.make_tensor("hs_axes", onnx.TensorProto.INT64, [1], [1])
        graph.initializer.extend([starts, ends, axes])
        graph.node.append(helper.make_node("Slice", [prob, "hs_start", "hs_end", "hs_axes"], ["score"], name="hs_score"))
        graph.output.append(helper.make_tensor_value_info("score", onnx.TensorProto.FLOAT, [None, 1]))
        score = "score"

        def native(X: np.ndarray) -> np.ndarray:
            return model.predict_proba(X)[:, 1]
    elif is_classifier:
        score = next(o.name for o in graph.output if o.type.tensor_type.elem_type == onnx.TensorProto.FLOAT)

        def native(X: np.ndarray) -> np.ndarray:
            return model.predict_proba(X)
    else:
        score = next(o.name for o in graph.output if o.type.tensor_type.elem_type == onnx.TensorProto.FLOAT)

        def native(X: np.ndarray) -> np.ndarray:
            return np.asarray(model.predict(X), dtype=np.float64).reshape(len(X), -1).squeeze(1)

    return proto, native, score


def to_onnx(
    model: Any,
    path: str | os.PathLike[str],
    *,
    feature_names: Sequence[str],
    kind: str = "classifier",
    sample: np.ndarray | None = None,
    mean: np.ndarray | None = None,
    scale: np.ndarray | None = None,
    rtol: float = 1e-5,
    atol: float = 1e-5,
    thresholds: Mapping[str, float] | None = None,
    mass_parameter: str | None = None,
    provenance: Mapping[str, Any] | None = None,
    opset: int = 17,
    overwrite: bool = False,
) -> Path:
    """Write ``model`` as one self-describing ONNX file and check it against the native model.

    Parameters
    ----------
    model : torch.nn.Module or scikit-learn estimator
        A torch module maps a float32 tensor ``(n, n_features)`` to ``(n,)`` or ``(n, k)``.
    path : output file (written atomically: a failed check leaves nothing behind)
    feature_names : names of the input columns in order (stored; used by :func:`hepsift.rdf.define`)
    kind : one of :data:`KINDS`
    sample : ndarray, shape (n, n_features), optional
        Events for the parity check (default: 256 standard-normal events, seed 0). Models of
        images take ``(n, C, H, W)``; models of sets a mapping of input name -> array.
    mean, scale : ndarray, shape (n_features,), optional
        Standardisation ``(x - mean) / scale`` applied before a torch module, inside the graph.
    rtol, atol : parity tolerance between ONNX Runtime and the native model.
    thresholds, mass_parameter, provenance : stored in the metadata.
    opset : ONNX opset.
    overwrite : replace an existing file (default False: refuse it with :class:`hepsift.OutputError`).

    Returns
    -------
    pathlib.Path of the written file.

    Raises
    ------
    hepsift.ModelError
        When ONNX Runtime's scores differ from the native ones beyond the tolerance.
    """
    import onnx

    n_features = len(feature_names)
    if n_features == 0:
        raise ConfigurationError("feature_names must name at least one feature")
    if sample is None:
        sample = np.random.default_rng(0).standard_normal((256, n_features)).astype(np.float32)
    if isinstance(sample, Mapping):
        # models of sets: one array per graph input; their own graph fixes the shapes
        sample = {str(k): np.ascontiguousarray(v, dtype=np.float32) for k, v in sample.items()}
    else:
        sample = np.ascontiguousarray(sample, dtype=np.float32)
        if sample.ndim < 2 or (sample.ndim == 2 and sample.shape[1] != n_features):
            raise ConfigurationError(f"sample has shape {sample.shape}; expected (n, {n_features}) for "
                                     f"{n_features} features")

    if hasattr(model, "_hepsift_onnx_"):
        # hepsift estimators build their own graph (score head included):
        # model._hepsift_onnx_(n_features, opset) -> (onnx.ModelProto, native(X) -> scores, score output name)
        proto, native, score = model._hepsift_onnx_(n_features, opset)
        if mean is not None or scale is not None:
            raise ConfigurationError("mean/scale are part of hepsift estimators already; do not pass them")
    elif _is_torch(model):
        proto, native = _export_torch(model, n_features, mean, scale, opset)
        score = "score"
    elif hasattr(model, "fit") and (hasattr(model, "predict") or hasattr(model, "predict_proba")):
        if mean is not None or scale is not None:
            raise ConfigurationError("mean/scale apply to torch modules; put a StandardScaler in the scikit-learn pipeline")
        proto, native, score = _export_sklearn(model, n_features, opset)
    else:
        raise ConfigurationError(f"cannot export a {type(model).__name__}: expected a torch.nn.Module or a scikit-learn estimator")

    prov = {"hepsift": __version__, "onnx": onnx.__version__}
    prov.update(provenance or {})
    add_metadata(proto, features=feature_names, kind=kind, score_output=score, thresholds=thresholds,
                 mass_parameter=mass_parameter, provenance=prov)
    onnx.checker.check_model(proto)
    seal(proto)

    path = Path(path)
    with atomic_output(path, overwrite=overwrite, make_parents=True) as tmp:
        onnx.save(proto, os.fspath(tmp))
        got = onnx_predict(tmp, sample)
        want = np.asarray(native(sample), dtype=np.float64).reshape(got.shape)
        bad = ~np.isclose(got, want, rtol=rtol, atol=atol)
        if bad.any():
            worst = float(np.max(np.abs(got - want)))
            raise ModelError(
                f"the ONNX export of {type(model).__name__} disagrees with the native model on {int(bad.sum())} of "
                f"{bad.size} values (largest difference {worst:.3g} > atol {atol} + rtol {rtol}); {path} was not written"
            )
    return path


def _is_torch(model: Any) -> bool:
    try:
        import torch
    except ImportError:
        return False
    return isinstance(model, torch.nn.Module)
