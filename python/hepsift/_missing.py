"""The one owner of hepsift's missing-value convention.

Where an object a feature needs is absent (the third jet of a two-jet event) hepsift writes the
finite sentinel :data:`MISSING` = -999 (the ATLAS HiggsML convention), never NaN or infinity.
Everything that reads, selects, imputes or checks features calls this module:

* :data:`MISSING` and the feature sets :data:`FEATURE_SETS` (``"full"``: every feature, the
  sentinel included; ``"sanitised"``: only the features without a sentinel in the events used);
* :func:`sanitised_features`: the one rule for "sanitised" (the caller passes the events it
  trains on: a :class:`hepsift.data.Dataset` all its events, a detector its training background);
* :class:`ImputingScaler`: the one imputation (see there for why ``min - std``) and
  standardisation, used by the MLP and the neural anomaly detectors;
* :func:`check_finite`: the finite-value check, which always raises
  :class:`hepsift.NonFiniteInputError` naming the column and the number of bad values.

It is the lowest layer of hepsift's Python code: it imports only NumPy and :mod:`hepsift.errors`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hepsift.errors import DataError, NonFiniteInputError

__all__ = ["MISSING", "FEATURE_SETS", "ImputingScaler", "check_finite", "missing_mask", "sanitised_features"]

#: Value of a feature whose object is absent (e.g. ``jet3_pt`` in a two-jet event).
MISSING: float = -999.0

#: The named feature sets: every feature, or those without :data:`MISSING` in the events used.
FEATURE_SETS: tuple[str, ...] = ("full", "sanitised")


def _names(names: Sequence[str] | None, n: int) -> list[str]:
    return [str(v) for v in names] if names is not None else [f"x{i}" for i in range(n)]


def check_finite(X: Any, feature_names: Sequence[str] | None = None, *, what: str = "input") -> None:
    """Refuse NaN and infinite values.

    Parameters
    ----------
    X : array_like, shape (n_events, n_features) (or (n_events,): one feature)
    feature_names : names of the columns (default ``x0``, ``x1``, ...)
    what : what ``X`` is, for the message (e.g. ``"MLPClassifier.fit"``)

    Raises
    ------
    hepsift.NonFiniteInputError
        Names the first bad column, its first bad event and value, and the number of
        non-finite values in that column and in all.
    """
    arr = np.asarray(X)
    if arr.dtype.kind not in "fc":
        return  # integers and booleans are always finite
    arr2 = arr.reshape(len(arr), -1) if arr.ndim != 2 else arr
    bad = ~np.isfinite(arr2)
    if not bad.any():
        return
    per_column = bad.sum(axis=0)
    col = int(np.flatnonzero(per_column)[0])
    row = int(np.flatnonzero(bad[:, col])[0])
    name = _names(feature_names, arr2.shape[1])[col]
    raise NonFiniteInputError(
        f"{what}: feature {name!r} holds {int(per_column[col])} NaN or infinite value(s) (first: {arr2[row, col]} "
        f"in event {row}; {int(bad.sum())} in all features); absent objects must be written as {MISSING:g}, "
        "never NaN or infinity"
    )


def missing_mask(X: Any, sentinel: float = MISSING) -> np.ndarray:
    """``X == sentinel`` compared in float32 (the dtype hepsift stores features in).

    Returns
    -------
    ndarray of bool, the shape of ``X``
    """
    return np.asarray(X, dtype=np.float32) == np.float32(sentinel)


def sanitised_features(X: Any, feature_names: Sequence[str] | None = None) -> list[str]:
    """The "sanitised" feature set: the features that never hold :data:`MISSING` in ``X``.

    Parameters
    ----------
    X : array_like, shape (n_events, n_features)
        The events the caller works with (a data set's events, a detector's training
        background): which features are "sanitised" depends on them.
    feature_names : names of the columns (default ``x0``, ``x1``, ...)

    Returns
    -------
    list of str: the names of the columns without the sentinel, in input order.

    Raises
    ------
    hepsift.DataError
        No event, or every feature holds the sentinel somewhere (nothing would be left):
        require the objects first (:meth:`hepsift.data.Dataset.require`).

    Examples
    --------
    >>> import numpy as np
    >>> sanitised_features(np.array([[40.0, -999.0], [55.0, 31.0]]), ["met_pt", "jet3_pt"])
    ['met_pt']
    """
    arr = np.asarray(X, dtype=np.float32)
    if arr.ndim != 2:
        raise DataError(f"events must have shape (n_events, n_features); got {arr.shape}")
    names = _names(feature_names, arr.shape[1])
    if len(names) != arr.shape[1]:
        raise DataError(f"{len(names)} feature names for {arr.shape[1]} columns")
    if arr.shape[0] == 0:
        raise DataError("no events: the sanitised feature set is not defined")
    keep = ~missing_mask(arr).any(axis=0)
    if not keep.any():
        raise DataError(
            f"the sanitised feature set is empty: every feature ({', '.join(names)}) holds {MISSING:g} for an "
            "absent object in some event; require the objects first (Dataset.require) or use the full set"
        )
    return [n for n, k in zip(names, keep) if k]


class ImputingScaler:
    """Fill the sentinel, then standardise: ``x' = (where(x == sentinel, fill, x) - mean) / scale``.

    The one imputation of hepsift. ``fill`` is ``min - std`` of the present values of each
    feature: an absent object sits just below the observed range, so a network still sees
    that it is absent (mean imputation would make a two-jet event's ``jet3_pt`` look like an
    average third jet) while the standardised inputs stay a few units from zero (the raw -999
    would sit hundreds of standard deviations away). ``mean`` and ``scale`` are the mean and
    standard deviation after filling (``scale`` = 1 for a constant feature).

    Parameters
    ----------
    fill, mean, scale : array_like, shape (n_features,); stored as float32
    sentinel : float or None; the value that marks an absent object (None: nothing is filled)
    """

    def __init__(self, fill: Any, mean: Any, scale: Any, sentinel: float | None = MISSING) -> None:
        self.fill = np.asarray(fill, dtype=np.float32)
        self.mean = np.asarray(mean, dtype=np.float32)
        self.scale = np.asarray(scale, dtype=np.float32)
        self.sentinel = None if sentinel is None else float(sentinel)

    @classmethod
    def fit(cls, X: Any, *, sentinel: float | None = MISSING, standardize: bool = True) -> ImputingScaler:
        """Learn ``fill``, ``mean`` and ``scale`` from events ``X`` (shape (n_events, n_features)).

        ``standardize=False`` keeps ``mean`` = 0 and ``scale`` = 1 (imputation only). A feature
        that is absent in every event is filled with 0.
        """
        X = np.asarray(X, dtype=np.float64)
        present = np.ones(X.shape, dtype=bool) if sentinel is None else ~missing_mask(X, sentinel)
        fill = np.zeros(X.shape[1])
        for j in range(X.shape[1]):
            v = X[present[:, j], j]
            fill[j] = (v.min() - max(v.std(), 1e-3)) if len(v) else 0.0
        Xf = np.where(present, X, fill)
        if standardize:
            mean, scale = Xf.mean(axis=0), Xf.std(axis=0)
            scale[~(scale > 1e-6)] = 1.0
        else:
            mean, scale = np.zeros(X.shape[1]), np.ones(X.shape[1])
        return cls(fill, mean, scale, sentinel)

    def transform(self, X: Any) -> np.ndarray:
        """Fill and standardise; float32, the shape of ``X``."""
        X = np.asarray(X, dtype=np.float32)
        if self.sentinel is not None:
            X = np.where(missing_mask(X, self.sentinel), self.fill, X)
        inv = (np.float32(1.0) / self.scale).astype(np.float32)
        return ((X - self.mean) * inv).astype(np.float32)

    def torch_module(self) -> Any:
        """The same transformation as a ``torch.nn.Module`` (exported inside the ONNX graph)."""
        import torch

        sentinel = self.sentinel

        class _Pre(torch.nn.Module):
            def __init__(self, fill: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> None:
                super().__init__()
                self.register_buffer("fill", torch.from_numpy(fill.copy()))
                self.register_buffer("mean", torch.from_numpy(mean.copy()))
                self.register_buffer("inv_scale", torch.from_numpy((np.float32(1.0) / scale).astype(np.float32)))

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                if sentinel is not None:
                    x = torch.where(x == sentinel, self.fill, x)
                return (x - self.mean) * self.inv_scale

        return _Pre(self.fill, self.mean, self.scale)

    def __getstate__(self) -> dict[str, Any]:
        return {"fill": self.fill, "mean": self.mean, "scale": self.scale, "sentinel": self.sentinel}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["fill"], state["mean"], state["scale"], state.get("sentinel", MISSING))  # type: ignore[misc]
