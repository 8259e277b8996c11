"""Training losses: binary cross-entropy and the Asimov significance loss.

The Asimov loss of Elwood and Kruecker, "Direct optimisation of the discovery significance when
training neural networks to search for new physics in particle colliders", arXiv:1806.00322,
trains a network for the median discovery significance of a counting experiment directly:

.. math::

    L = \\frac{1}{Z_A(s, b, \\sigma_b) + \\epsilon},\\qquad
    s = \\sum_{i \\in \\mathrm{sig}} w_i\\, \\hat y_i,\\quad
    b = \\sum_{i \\in \\mathrm{bkg}} w_i\\, \\hat y_i,

with :math:`\\hat y` the network output (a soft selection), the weights :math:`w_i` in expected
events, and :math:`Z_A` the Asimov significance with background uncertainty
:math:`\\sigma_b` (Cowan, Cranmer, Gross, Vitells, arXiv:1007.1727; the form with
:math:`\\sigma_b` of Cowan's 2012 note, also Eq. (4) of arXiv:1806.00322). On a mini-batch the
sums are scaled up to the full sample: each class's batch sum is multiplied by
(total class weight) / (class weight in the batch), so that ``s`` and ``b`` estimate the yields
that the whole data set would give.
"""

from __future__ import annotations

from typing import Any

__all__ = ["asimov_significance_torch", "asimov_loss", "weighted_bce"]


def asimov_significance_torch(s: Any, b: Any, rel_sigma_b: float = 0.0) -> Any:
    """Differentiable Asimov significance Z_A(s, b, sigma_b = rel_sigma_b * b) (torch tensors).

    Parameters
    ----------
    s, b : torch.Tensor, scalar
        Expected signal and background yields (b is clamped to >= 1e-6).
    rel_sigma_b : float
        Relative background uncertainty.
    """
    import torch

    # float64: the two terms of the sigma_b form cancel to a small difference
    b = torch.clamp(b.double(), min=1e-6)
    s = torch.clamp(s.double(), min=0.0)
    if rel_sigma_b > 0:
        sb2 = (rel_sigma_b * b) ** 2
        t1 = (s + b) * torch.log((s + b) * (b + sb2) / (b * b + (s + b) * sb2))
        t2 = (b * b / sb2) * torch.log1p(sb2 * s / (b * (b + sb2)))
        z2 = 2.0 * (t1 - t2)
    else:
        z2 = 2.0 * ((s + b) * torch.log1p(s / b) - s)
    return torch.sqrt(torch.clamp(z2, min=1e-12))


def asimov_loss(p: Any, y: Any, w: Any, total_s: float, total_b: float, rel_sigma_b: float = 0.1,
                eps: float = 1e-3) -> Any:
    """The Asimov loss 1 / (Z_A + eps) on one weighted batch.

    Parameters
    ----------
    p : torch.Tensor, shape (n,)
        Network outputs in (0, 1) (sigmoid).
    y : torch.Tensor, shape (n,)
        1 for signal, 0 for background.
    w : torch.Tensor, shape (n,)
        Event weights in expected events (luminosity-normalised).
    total_s, total_b : float
        Total signal and background weight of the training sample.
    rel_sigma_b : float
        Relative background uncertainty sigma_b / b.
    eps : float
        Regulariser of the inverse.
    """
    import torch

    sig = y > 0.5
    ws, wb = w * sig, w * (~sig)
    s_batch, b_batch = ws.sum(), wb.sum()
    s = (ws * p).sum() * (total_s / torch.clamp(s_batch, min=1e-12))
    b = (wb * p).sum() * (total_b / torch.clamp(b_batch, min=1e-12))
    return (1.0 / (asimov_significance_torch(s, b, rel_sigma_b) + eps)).float()


def weighted_bce(logits: Any, y: Any, w: Any) -> Any:
    """Weighted binary cross-entropy on logits: ``mean_i w_i * BCE(sigmoid(logit_i), y_i)``."""
    import torch

    return (torch.nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="none") * w).mean()
