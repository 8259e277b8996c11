"""The generators' feature preprocessing: counts, absent objects and marginal shapes.

A generator never sees the raw features. :func:`fit_codec` learns, and :func:`encode` applies,
a map from events ``(n, d)`` to continuous, roughly standard-normal columns ``(n, d')``; the
inverse map (:func:`decoder_module`, a torch module evaluated in float64) is part of every
exported sampler, so that ONNX Runtime and :func:`hepsift.rdf.sample` produce the same events.

* **Absent objects.** Features that hold :data:`hepsift.io.features.MISSING` in some events
  are grouped by their pattern of absence (``jet3_pt``, ``jet3_eta``, ... share one); each
  group gets a "present" indicator column (0/1, a count). Where the object is absent, the value
  column holds a random draw from the feature's present values, so that it carries no
  information; on sampling a feature is set to ``MISSING`` when its group's indicator is 0.
* **Counts.** A column whose (present) values are all integers (``n_jets``, b-tags, the
  indicators) is dequantised on fit, ``x + u`` with ``u ~ U[0, 1)`` (Uria, Murray & Larochelle,
  NeurIPS 2013; Theis, van den Oord & Bethge, ICLR 2016), and floored on sampling, so generated
  counts are integers within the training range.
* **Marginals.** ``marginals="quantile"``: each column is mapped to a standard normal by its
  empirical quantile function on ``K`` knots equally spaced in normal space, ``y_k = -a + k dy``
  with ``a = Phi^{-1}(1 - 1/(2n))``; ``x_k`` is the ``Phi(y_k)`` quantile of the column, and the
  map is linear between knots. The inverse is then one ``floor`` and one gather per value (exact
  in ONNX, no error function needed) and continuous, and it clamps to the training range, so
  generated values never leave the physical range of a feature (an eta acceptance, a p_T
  threshold). A point mass (a value repeated over several knots, e.g. ``m_lnu = m_W``) is
  mapped to a draw between its knots (uniform in probability, so the column stays normal),
  and back to exactly that value.
  ``marginals="standard"``: subtract the mean and divide by the standard deviation only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hepsift import errors
from hepsift.io.features import MISSING

__all__ = ["MARGINALS", "fit_codec", "encode", "decoder_module", "fill_absent", "log_jacobian", "is_continuous"]

MARGINALS = ("quantile", "standard")
#: Knots of the quantile map (equally spaced in normal space).
N_KNOTS = 401


def _kind(state: dict[str, np.ndarray]) -> int:
    """0: standardisation, 1: quantile map (stored as a one-element array)."""
    return int(np.asarray(state["kind"]).reshape(-1)[0])


def _is_integer(v: np.ndarray) -> bool:
    return bool(len(v)) and bool(np.all(v == np.round(v)))


def fit_codec(arr: np.ndarray, names: list[str], *, marginals: str, seed: int) -> dict[str, np.ndarray]:
    """Learn the preprocessing of events ``arr`` (see the module documentation).

    Parameters
    ----------
    arr : ndarray, float32, shape (n, d); finite, absent objects as ``MISSING``
    names : the ``d`` feature names (for error messages)
    marginals : ``"quantile"`` or ``"standard"``
    seed : seeds the dequantisation and the fill of absent values

    Returns
    -------
    dict of NumPy arrays (the codec's state, saved with the generator): ``kind`` (0 standard,
    1 quantile), ``knots_y`` (K,), ``knots_x`` (d', K) or ``mean``/``scale`` (d',), ``discrete``
    (d', bool), ``value_index`` (d,), ``present_index`` (d,: 0 always present, else 1 + the
    indicator column) and ``groups`` (g, d: the absence pattern of each indicator).
    """
    if marginals not in MARGINALS:
        raise errors.ConfigurationError(f"marginals must be one of {', '.join(MARGINALS)}, got {marginals!r}")
    x = np.asarray(arr, dtype=np.float64)
    n, d = x.shape
    absent = x == MISSING
    never = [nm for nm, a in zip(names, absent.all(axis=0)) if a]
    if never:
        raise errors.DataError(
            f"{', '.join(never)} hold {MISSING:g} (absent) in every event: nothing to learn; drop these features"
        )
    holey = np.flatnonzero(absent.any(axis=0))
    groups = np.unique(absent[:, holey].T, axis=0) if len(holey) else np.zeros((0, n), dtype=bool)
    present_index = np.zeros(d, dtype=np.int64)
    for g, pattern in enumerate(groups):
        for j in holey:
            if np.array_equal(absent[:, j], pattern):
                present_index[j] = d + g + 1  # column d + g of the encoded events, +1 for "always"
    cols = [x[:, j] for j in range(d)] + [(~p).astype(np.float64) for p in groups]
    discrete = np.array([_is_integer(c[~absent[:, j]]) if j < d else True for j, c in enumerate(cols)])
    group_masks = np.zeros((len(groups), d), dtype=bool)
    for g in range(len(groups)):
        group_masks[g] = present_index == d + g + 1
    state: dict[str, np.ndarray] = {
        "discrete": discrete, "value_index": np.arange(d, dtype=np.int64), "present_index": present_index,
        "groups": group_masks,
    }  # fmt: skip
    y = _prepare(state, x, seed)
    if marginals == "standard":
        state["kind"] = np.array([0], dtype=np.int64)
        state["mean"] = y.mean(axis=0)
        scale = y.std(axis=0)
        scale[scale < 1e-6] = 1.0
        state["scale"] = scale
        return state
    a = float(_ndtri(1.0 - 0.5 / n))
    knots_y = np.linspace(-a, a, N_KNOTS)
    state["kind"] = np.array([1], dtype=np.int64)
    state["knots_y"] = knots_y
    knots_x = np.quantile(y, _ndtr(knots_y), axis=0).T.copy()
    knots_x[:, 0], knots_x[:, -1] = y.min(axis=0), y.max(axis=0)  # the map spans the training range
    state["knots_x"] = knots_x
    return state


def _ndtri(p: Any) -> Any:
    from scipy.special import ndtri

    return ndtri(p)


def _ndtr(y: Any) -> Any:
    from scipy.special import ndtr

    return ndtr(y)


def fill_absent(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A copy of ``x`` (float64, (n, d)) whose ``MISSING`` values are random draws from the present
    values of the same column (so that they carry no information about the event).

    Raises
    ------
    hepsift.DataError
        A column is absent in every event.
    """
    out = np.array(x, dtype=np.float64, copy=True)
    for j in range(out.shape[1]):
        c = out[:, j]
        miss = c == MISSING
        if miss.any():
            present = c[~miss]
            if not len(present):
                raise errors.DataError(f"feature {j} is absent in every event")
            c[miss] = present[rng.integers(0, len(present), int(miss.sum()))]
    return out


def _prepare(state: dict[str, np.ndarray], x: np.ndarray, seed: int) -> np.ndarray:
    """Indicator columns, filled absent values and dequantised counts: (n, d) -> (n, d')."""
    rng = np.random.default_rng([int(seed), 0x5EED])
    n, d = x.shape
    cols = list(fill_absent(x, rng).T)
    for mask in state["groups"]:
        j = int(np.flatnonzero(mask)[0])
        cols.append((x[:, j] != MISSING).astype(np.float64))
    y = np.stack(cols, axis=1) if cols else np.zeros((n, 0))
    disc = state["discrete"].astype(bool)
    y[:, disc] += rng.random((n, int(disc.sum())))
    return y


def encode(state: dict[str, np.ndarray], arr: np.ndarray, seed: int) -> np.ndarray:
    """Events ``(n, d)`` -> the generator's training columns ``(n, d')``, float32.

    ``seed`` draws the dequantisation noise, the fill of absent values and the position of a
    value inside a point mass.
    """
    y = _prepare(state, np.asarray(arr, dtype=np.float64), seed)
    if _kind(state) == 0:
        return ((y - state["mean"]) / state["scale"]).astype(np.float32)
    rng = np.random.default_rng([int(seed), 0xC0DE])
    ky, kx = state["knots_y"], state["knots_x"]
    out = np.empty_like(y)
    for j in range(y.shape[1]):
        xs, v = kx[j], y[:, j]
        left = np.searchsorted(xs, v, side="left")
        right = np.searchsorted(xs, v, side="right")
        k = np.clip(right - 1, 0, len(xs) - 2)
        width = xs[k + 1] - xs[k]
        with np.errstate(divide="ignore", invalid="ignore"):
            lin = ky[k] + np.where(width > 0, (v - xs[k]) / width, 0.0) * (ky[1] - ky[0])
        flat = right - left >= 2  # a point mass spanning several knots: uniform in probability between them
        plo, phi = _ndtr(ky[np.clip(left, 0, len(ky) - 1)]), _ndtr(ky[np.clip(right - 1, 0, len(ky) - 1)])
        spread = _ndtri(plo + rng.random(len(v)) * (phi - plo))
        out[:, j] = np.clip(np.where(flat, spread, lin), ky[0], ky[-1])
    return out.astype(np.float32)


def is_continuous(state: dict[str, np.ndarray]) -> bool:
    """True when no feature is a count and none has absent objects (a density is defined)."""
    return not bool(state["discrete"].any()) and not len(state["groups"])


def log_jacobian(state: dict[str, np.ndarray], arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The encoded events and ``ln |d encode / d x|`` of continuous events.

    Returns
    -------
    (y, logdet): ndarray float32 (n, d) and float64 (n,); ``logdet`` is ``-inf`` for events
    outside the training range (where the quantile map, and so the model, has no density).
    """
    x = np.asarray(arr, dtype=np.float64)
    if _kind(state) == 0:
        return ((x - state["mean"]) / state["scale"]).astype(np.float32), np.full(
            len(x), -float(np.sum(np.log(state["scale"]))))
    ky, kx = state["knots_y"], state["knots_x"]
    dy = ky[1] - ky[0]
    y = np.empty_like(x)
    logdet = np.zeros(len(x))
    for j in range(x.shape[1]):
        xs, v = kx[j], x[:, j]
        k = np.clip(np.searchsorted(xs, v, side="right") - 1, 0, len(xs) - 2)
        width = xs[k + 1] - xs[k]
        inside = (v >= xs[0]) & (v <= xs[-1]) & (width > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            y[:, j] = np.where(inside, ky[k] + (v - xs[k]) / width * dy, 0.0)
            logdet += np.where(inside, np.log(dy) - np.log(width), -np.inf)
    return y.astype(np.float32), logdet


def decoder_module(state: dict[str, np.ndarray]) -> Any:
    """torch module (float64): generator columns ``(n, d')`` -> events ``(n, d)``."""
    import torch

    class _Decode(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.quantile = _kind(state) == 1
            t = lambda a, dt=torch.float64: torch.as_tensor(np.asarray(a), dtype=dt)  # noqa: E731
            if self.quantile:
                kx = np.asarray(state["knots_x"], dtype=np.float64)
                ky = np.asarray(state["knots_y"], dtype=np.float64)
                self.n_knots = kx.shape[1]
                self.register_buffer("y0", t(ky[0]))
                self.register_buffer("inv_dy", t(1.0 / (ky[1] - ky[0])))
                self.register_buffer("lo", t(kx[:, 0]))
                self.register_buffer("hi", t(kx[:, -1]))
                self.register_buffer("kx", t(kx[:, :-1].reshape(-1)))
                self.register_buffer("step", t(np.diff(kx, axis=1).reshape(-1)))
                self.register_buffer("offset", t(np.arange(kx.shape[0]) * (self.n_knots - 1), torch.int64))
            else:
                self.register_buffer("mean", t(state["mean"]))
                self.register_buffer("scale", t(state["scale"]))
            self.register_buffer("discrete", t(state["discrete"], torch.bool))
            self.register_buffer("value_index", t(state["value_index"], torch.int64))
            self.register_buffer("present_index", t(state["present_index"], torch.int64))
            self.register_buffer("missing", t(MISSING))

        def forward(self, y: torch.Tensor) -> torch.Tensor:
            y = y.to(torch.float64)
            if self.quantile:
                pos = (y - self.y0) * self.inv_dy
                k = torch.clamp(torch.floor(pos), 0.0, float(self.n_knots - 2)).to(torch.int64)
                flat = k + self.offset
                x = self.kx[flat] + (pos - k.to(torch.float64)) * self.step[flat]
                x = torch.minimum(torch.maximum(x, self.lo), self.hi)
            else:
                x = y * self.scale + self.mean
            x = torch.where(self.discrete, torch.floor(x), x)
            values = x[:, self.value_index]
            flags = torch.cat([torch.ones_like(x[:, :1]), x], dim=1)[:, self.present_index]
            return torch.where(flags >= 1.0, values, self.missing)

    return _Decode().eval()
