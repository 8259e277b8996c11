"""Mass hypotheses for background events of a parameterised classifier (Baldi et al.,
arXiv:1601.07913): the signal events' masses, drawn at random."""

from __future__ import annotations

from typing import Any

import numpy as np

from hepsift.errors import DataError

__all__ = ["assign_background_masses"]


def assign_background_masses(mass: np.ndarray, y: np.ndarray, seed: int, signal_label: Any = 1) -> np.ndarray:
    """Masses for background events drawn from the signal events' masses.

    Parameters
    ----------
    mass : ndarray, shape (n,)
        Mass column (signal masses; anything for backgrounds).
    y : ndarray, shape (n,)
        Labels; ``signal_label`` marks signal.
    seed : int

    Returns
    -------
    ndarray, float32, shape (n,): signal masses unchanged, background masses sampled (with
    replacement, uniformly over signal events, so with the signal's mass distribution).
    """
    mass = np.asarray(mass, dtype=np.float32).copy()
    sig = np.asarray(y) == signal_label
    if not sig.any():
        raise DataError("no signal events: cannot draw background masses from the signal masses")
    rng = np.random.default_rng(seed)
    mass[~sig] = rng.choice(mass[sig], size=int((~sig).sum()), replace=True)
    return mass
