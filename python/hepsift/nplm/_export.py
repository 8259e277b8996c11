"""Export of the learned log density ratio f(x) to ONNX (kind ``density_ratio``)."""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from hepsift.errors import DependencyError, ModelError

__all__ = ["export_onnx", "torch_module"]


def torch_module(model: Any) -> Any:
    """Build a float32 ``torch.nn.Module`` computing f(x) from raw features (shape (n, d) -> (n, 1))."""
    try:
        import torch
    except ImportError as exc:  # pragma: no cover
        raise DependencyError("exporting f(x) needs PyTorch: pip install 'torch==2.13.0'") from exc

    # f(x) depends only on the features in model.active_ (constant ones are left out of the fit)
    active = np.asarray(getattr(model, "active_", np.arange(model.n_features_in_)), dtype=np.int64)
    subset = active.size != int(model.n_features_in_)
    index = torch.as_tensor(active)
    mean = torch.as_tensor(model.mean_[active], dtype=torch.float32)
    scale = torch.as_tensor(model.scale_[active], dtype=torch.float32)

    if model.net_ is not None:
        import copy

        body = copy.deepcopy(model.net_).to(torch.float32)

        class _Neural(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.register_buffer("index", index)
                self.register_buffer("mean", mean)
                self.register_buffer("scale", scale)
                self.body = body

            def forward(self, x: Any) -> Any:
                if subset:
                    x = x.index_select(1, self.index)
                return self.body((x - self.mean) / self.scale)

        return _Neural().eval()

    # the kernel expansion has large cancelling coefficients (K_mm^-1/2): compute it in float64
    k = model.kernel_
    ny = k["nystroem"]
    f64 = torch.float64
    mean, scale = mean.to(f64), scale.to(f64)
    centers = torch.as_tensor(ny.components_, dtype=f64)
    # f(x) = exp(-gamma |z - c|^2) @ (normalization_.T @ coef) + intercept
    coef = torch.as_tensor(ny.normalization_.T @ k["coef"], dtype=f64).reshape(-1, 1)
    intercept = torch.tensor([float(k["intercept"])], dtype=f64)
    gamma = float(ny.gamma)

    class _Kernel(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("index", index)
            self.register_buffer("mean", mean)
            self.register_buffer("scale", scale)
            self.register_buffer("centers", centers)
            self.register_buffer("c2", (centers**2).sum(-1).reshape(1, -1))
            self.register_buffer("coef", coef)
            self.register_buffer("intercept", intercept)

        def forward(self, x: Any) -> Any:
            if subset:
                x = x.index_select(1, self.index)
            z = (x.to(torch.float64) - self.mean) / self.scale
            d2 = (z * z).sum(-1, keepdim=True) - 2.0 * z @ self.centers.T + self.c2
            f = torch.exp(-gamma * torch.clamp(d2, min=0.0)) @ self.coef + self.intercept
            return f.to(torch.float32)

    return _Kernel().eval()


def export_onnx(
    model: Any,
    path: str | os.PathLike[str] | None,
    *,
    features: Sequence[str] | None = None,
    check: bool = True,
    atol: float = 1e-4,
    overwrite: bool = False,
) -> Any:
    """Write the fitted f(x) of an :class:`~hepsift.nplm.NPLM` as an ONNX file.

    The graph has one input ``x`` (float32, shape (n, n_features)) and one output ``f``
    (float32, shape (n, 1)), the log density ratio log n(x|D)/n(x|R) including the feature
    standardisation. hepsift metadata (kind ``density_ratio``, feature names, the test
    statistic and fit configuration as provenance) is added, so the file can be evaluated
    inside RDataFrame.

    Parameters
    ----------
    model : NPLM
        A fitted estimator.
    path : path or None
        Output file; None returns the ``onnx.ModelProto`` without writing.
    features : sequence of str, optional
        Feature names in input order (default ``x0, x1, ...``).
    check : bool, default True
        Compare ONNX Runtime with the Python f(x) on a sample and refuse to write on
        disagreement beyond ``atol``.
    overwrite : bool, default False
        Replace an existing file (otherwise :class:`hepsift.OutputError`).

    Returns
    -------
    onnx.ModelProto
    """
    import onnx
    import torch

    from hepsift.export._metadata import add_metadata

    model._check_fitted()
    d = int(model.n_features_in_)
    names = [f"x{i}" for i in range(d)] if features is None else [str(f) for f in features]
    if len(names) != d:
        raise ModelError(f"{len(names)} feature names given for a model with {d} features")
    module = torch_module(model)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (torch.zeros(2, d, dtype=torch.float32),),
            buf,
            input_names=["x"],
            output_names=["f"],
            dynamic_axes={"x": {0: "n"}, "f": {0: "n"}},
            dynamo=False,
        )
    proto = onnx.load_from_string(buf.getvalue())
    add_metadata(
        proto,
        features=names,
        kind="density_ratio",
        score_output="f",
        provenance={
            "method": "NPLM",
            "mode": model.mode,
            "t": model.t_,
            "n_expected": model.n_expected_,
            "params": {k: (list(v) if isinstance(v, tuple) else v) for k, v in model.get_params().items()},
        },
    )
    if check:
        import onnxruntime as ort

        rng = np.random.default_rng(0)
        x = (model.mean_ + model.scale_ * rng.standard_normal((256, d))).astype(np.float32)
        sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
        got = sess.run(["f"], {"x": x})[0][:, 0]
        want = model.decision_function(x.astype(np.float64))
        err = float(np.max(np.abs(got - want)))
        if not err <= atol * max(1.0, float(np.max(np.abs(want)))):
            raise ModelError(f"ONNX Runtime disagrees with the fitted f(x) by {err:.3g}; not writing {path}")
    if path is not None:
        from hepsift._atomic import atomic_output

        with atomic_output(path, overwrite=overwrite, make_parents=True) as tmp:
            onnx.save(proto, os.fspath(tmp))
    return proto
