"""The learned log density ratio f(x) of an NPLM fit as a float32 ``torch.nn.Module`` (what
:meth:`hepsift.nplm.NPLM.to_onnx` exports, kind ``density_ratio``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from hepsift.errors import DependencyError

__all__ = ["torch_module"]


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
    f64 = torch.float64
    mean, scale = mean.to(f64), scale.to(f64)
    centers = torch.as_tensor(k["centers"], dtype=f64)
    # f(x) = exp(-gamma |z - c|^2) @ (normalization.T @ coef) + intercept
    coef = torch.as_tensor(k["normalization"].T @ k["coef"], dtype=f64).reshape(-1, 1)
    intercept = torch.tensor([float(k["intercept"])], dtype=f64)
    gamma = float(k["gamma"])

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
