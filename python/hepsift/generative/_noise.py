"""The counter-based noise of ``hepsift/Noise.hxx``, in NumPy.

:func:`counter_noise` computes, for entries ``start .. start + n - 1``, exactly the numbers that
``hepsift::noise(seed, entry, dim)`` gives inside an RDataFrame event loop (the same SplitMix64
counters and Box-Muller transform in float64, rounded to float32), so that a Python sampler and
:func:`hepsift.rdf.sample` produce the same events for the same seed.
"""

from __future__ import annotations

import numpy as np

from hepsift import errors

__all__ = ["counter_noise"]

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_ENTRY_OFFSET = np.uint64(0x632BE59BD9B4E019)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 (Steele, Lea, Flood 2014) on a uint64 array (wrapping arithmetic)."""
    x = x + _GOLDEN
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))  # type: ignore[no-any-return]


def counter_noise(seed: int, n: int, dim: int, *, start: int = 0) -> np.ndarray:
    """Standard-normal noise of entries ``start .. start + n - 1``, as ``hepsift::noise`` makes it.

    Parameters
    ----------
    seed : int in [0, 2**64)
    n : number of entries (events)
    dim : numbers per entry (the generator's ``latent_dim_``)
    start : first entry number

    Returns
    -------
    ndarray, float32, shape (n, dim); row ``i`` depends only on ``(seed, start + i)``
    """
    if not 0 <= int(seed) < 2**64:
        raise errors.ConfigurationError(f"seed must be in [0, 2**64), got {seed}")
    if int(n) < 0 or int(dim) < 0 or int(start) < 0:
        raise errors.ConfigurationError(f"n, dim and start must be >= 0, got {n}, {dim}, {start}")
    n, dim = int(n), int(dim)
    entry = np.arange(int(start), int(start) + n, dtype=np.uint64)
    key = _splitmix64(np.uint64(int(seed)) ^ _splitmix64(entry + _ENTRY_OFFSET))
    pairs = (dim + 1) // 2
    i2 = np.arange(pairs, dtype=np.uint64) * np.uint64(4)  # 2 * i for i = 0, 2, 4, ... (Noise.hxx)
    a = _splitmix64(key[:, None] + i2[None, :])
    b = _splitmix64(key[:, None] + i2[None, :] + np.uint64(1))
    u1 = ((a >> np.uint64(11)).astype(np.float64) + 1.0) * 2.0**-53  # (0, 1]
    u2 = (b >> np.uint64(11)).astype(np.float64) * 2.0**-53  # [0, 1)
    r = np.sqrt(-2.0 * np.log(u1))
    angle = 6.283185307179586 * u2
    out = np.empty((n, 2 * pairs), dtype=np.float32)
    out[:, 0::2] = r * np.cos(angle)
    out[:, 1::2] = r * np.sin(angle)
    return out[:, :dim]
