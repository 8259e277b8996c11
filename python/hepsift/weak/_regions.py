"""Signal region and sidebands of a resonance search: validation and event masks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hepsift.errors import ConfigurationError, DataError

__all__ = ["Regions", "as_mass", "as_weights"]


@dataclass(frozen=True)
class Regions:
    """A signal region ``[lo, hi)`` between a lower sideband ``[lo1, hi1)`` and an upper one ``[lo2, hi2)``.

    Requires ``lo1 < hi1 <= lo < hi <= lo2 < hi2`` (gaps between the regions are allowed:
    events there belong to no region). All values in the units of the mass (e.g. GeV).
    """

    signal_region: tuple[float, float]
    sidebands: tuple[tuple[float, float], tuple[float, float]]

    @classmethod
    def make(cls, signal_region: Any, sidebands: Any) -> Regions:
        """Validate and build; raises :class:`hepsift.ConfigurationError` naming the wrong bound."""
        try:
            lo, hi = (float(v) for v in signal_region)
            (lo1, hi1), (lo2, hi2) = ((float(a), float(b)) for a, b in sidebands)
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(
                "signal_region must be (lo, hi) and sidebands ((lo1, hi1), (lo2, hi2)); "
                f"got {signal_region!r} and {sidebands!r}") from exc
        values = [lo1, hi1, lo, hi, lo2, hi2]
        if not all(np.isfinite(values)):
            raise ConfigurationError(f"region bounds must be finite; got {values}")
        if not (lo1 < hi1 <= lo < hi <= lo2 < hi2):
            raise ConfigurationError(
                f"regions must satisfy lo1 < hi1 <= lo < hi <= lo2 < hi2 (lower sideband, signal region, "
                f"upper sideband); got sidebands ({lo1}, {hi1}), ({lo2}, {hi2}) and signal region ({lo}, {hi})")
        return cls((lo, hi), ((lo1, hi1), (lo2, hi2)))

    @property
    def range(self) -> tuple[float, float]:
        """``(lo1, hi2)``: from the start of the lower sideband to the end of the upper one."""
        return self.sidebands[0][0], self.sidebands[1][1]

    def in_signal_region(self, mass: np.ndarray) -> np.ndarray:
        """Boolean mask, shape (n_events,)."""
        lo, hi = self.signal_region
        return (mass >= lo) & (mass < hi)

    def in_sidebands(self, mass: np.ndarray) -> np.ndarray:
        """Boolean mask, shape (n_events,): in either sideband."""
        (lo1, hi1), (lo2, hi2) = self.sidebands
        return ((mass >= lo1) & (mass < hi1)) | ((mass >= lo2) & (mass < hi2))


def as_mass(mass: Any) -> np.ndarray:
    """The mass as a finite float64 array of shape (n_events,) (:class:`hepsift.DataError` otherwise)."""
    m = np.asarray(mass, dtype=np.float64)
    if m.ndim != 1 or m.size == 0:
        raise DataError(f"mass must be a non-empty 1-D array (one value per event); got shape {m.shape}")
    if not np.all(np.isfinite(m)):
        raise DataError(f"mass holds {int((~np.isfinite(m)).sum())} NaN or infinite values")
    return m


def as_weights(weights: Any, n: int, what: str = "weights") -> np.ndarray:
    """Event weights as float64 of shape (n,) (ones when None); finite and non-negative."""
    if weights is None:
        return np.ones(n)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (n,):
        raise DataError(f"{what} must have shape ({n},) like the mass; got {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise DataError(f"{what} must be finite and non-negative")
    return w
