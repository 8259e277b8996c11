"""Models of sets of objects: :class:`DeepSetsClassifier` (one score per event) and
:class:`JetTagger` (one score per jet, Deep Sets over each jet's constituents).

Deep Sets (Zaheer et al., arXiv:1703.06114; as Energy Flow Networks in HEP, Komiske, Metodiev
and Thaler, JHEP 01 (2019) 121 [arXiv:1810.05165]): every object passes through the same
network phi, the results are summed (or averaged) over the real objects of the set, and a
network rho maps the sum to the score::

    score = sigmoid(rho( sum_p mask_p * phi((x_p - mean) / scale) ))

so the score does not depend on the order of the objects nor on the padding. Inputs are
padded arrays ``objects [N, P, F]`` with ``mask [N, P]`` (1 real, 0 padding), jagged awkward
arrays (``{column: ak.Array}`` or a record array, padded here with awkward; ``max_objects``
keeps the first objects in collection order) or ROOT files (read with
:func:`hepsift.io.read_root`). See :mod:`hepsift.models._lowlevel` for the ONNX conventions.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from hepsift._missing import check_finite
from hepsift.errors import ConfigurationError, DataError, InputMismatchError
from hepsift.models._base import check_choice
from hepsift.models._lowlevel import TensorClassifier, TrainingConfig, check_layers, config_fields, store_params

__all__ = ["DeepSetsClassifier", "DeepSetsConfig", "JetTagger", "JetTaggerConfig", "POOLINGS", "group_by_jet",
           "pad_sets"]

POOLINGS = ("sum", "mean")


# ---- inputs ------------------------------------------------------------------------------
def _read(data: Any, names: Sequence[str] | None, extra: Sequence[str] = ()) -> Any:
    """A ROOT file (or list of files) read into an awkward record array; other data unchanged."""
    paths = [data] if isinstance(data, (str, os.PathLike)) else data
    if isinstance(paths, (list, tuple)) and paths and all(isinstance(p, (str, os.PathLike)) for p in paths):
        if not names:
            raise ConfigurationError("reading ROOT files needs inputs=[...]: the branches of the collection")
        import awkward as ak

        from hepsift.io import read_root

        return ak.concatenate([read_root(p, [*names, *extra]) for p in paths])
    return data


def _fields(data: Any) -> list[str]:
    return list(data.keys()) if isinstance(data, Mapping) else list(getattr(data, "fields", []))


def _columns(data: Any, names: Sequence[str] | None, what: str) -> list[str]:
    fields = _fields(data)
    cols = list(names) if names else fields
    missing = [c for c in cols if c not in fields]
    if missing:
        raise InputMismatchError(f"{what}: no column(s) {', '.join(missing)}; the data hold {', '.join(fields)}")
    if not cols:
        raise DataError(f"{what}: no columns")
    return cols


def collection_of(columns: Sequence[str]) -> str:
    """The collection of NanoAOD-like columns (``PFCand_pt`` -> ``PFCand``), or ``""`` when they differ."""
    heads = {c.split("_", 1)[0] for c in columns if "_" in c}
    return heads.pop() if len(heads) == 1 and all("_" in c for c in columns) else ""


def _check_real(X: np.ndarray, mask: np.ndarray, names: Sequence[str], what: str) -> None:
    check_finite(X[mask > 0], names, what=what)


def pad_sets(data: Any, inputs: Sequence[str] | None = None, *, mask: Any = None,
             max_objects: int | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Padded arrays of a set of objects per event.

    Parameters
    ----------
    data : ndarray ``[N, P, F]``; mapping ``column -> jagged ak.Array``; awkward record array;
        ROOT file path(s) (read with :func:`hepsift.io.read_root`, needs ``inputs``)
    inputs : the per-object columns, in order (default: every field; names ``f0, f1, ...`` for arrays)
    mask : ndarray ``[N, P]`` for an array input (default: every object real); 1 real, 0 padding
    max_objects : keep the first ``max_objects`` objects of each event (collection order)

    Returns
    -------
    (objects, mask, names) : float32 ``[N, P, F]`` (padding 0), float32 ``[N, P]``, column names

    Raises
    ------
    hepsift.DataError
        Wrong shapes, columns of one collection with different lengths, non-finite real objects.
    hepsift.InputMismatchError
        A requested column that the data do not have.
    """
    if max_objects is not None and (isinstance(max_objects, bool) or int(max_objects) < 1):
        raise ConfigurationError(f"max_objects must be a positive integer or None; got {max_objects!r}")
    data = _read(data, inputs)
    if isinstance(data, np.ndarray) or (not isinstance(data, Mapping) and not _fields(data)):
        X = np.asarray(data, dtype=np.float32)
        if X.ndim != 3 or X.shape[0] == 0 or X.shape[2] == 0:
            raise DataError(f"a set of objects must have shape (n_events, n_objects, n_features); got {X.shape}")
        names = list(inputs) if inputs else [f"f{i}" for i in range(X.shape[2])]
        if len(names) != X.shape[2]:
            raise InputMismatchError(f"{len(names)} input names for {X.shape[2]} features per object")
        m = np.ones(X.shape[:2], dtype=np.float32) if mask is None else np.asarray(mask, dtype=np.float32)
        if m.shape != X.shape[:2]:
            raise DataError(f"mask has shape {m.shape}; the objects {X.shape} need ({X.shape[0]}, {X.shape[1]})")
        if not np.all((m == 0) | (m == 1)):
            raise DataError("mask must hold 1 (real object) and 0 (padding) only")
        if max_objects is not None:
            X, m = X[:, :int(max_objects)], m[:, :int(max_objects)]
        X = np.where(m[..., None] > 0, X, np.float32(0.0)).astype(np.float32)
        _check_real(X, m, names, "pad_sets")
        return np.ascontiguousarray(X), np.ascontiguousarray(m), names
    if mask is not None:
        raise ConfigurationError("mask= is for padded arrays; jagged inputs make their own")
    import awkward as ak

    names = _columns(data, inputs, "pad_sets")
    cols = [ak.Array(data[n]) for n in names]
    counts = [ak.to_numpy(ak.num(c, axis=1)) for c in cols]
    for n, c in zip(names[1:], counts[1:], strict=True):
        if not np.array_equal(c, counts[0]):
            raise DataError(f"columns {names[0]} and {n} have different numbers of objects (event "
                            f"{int(np.flatnonzero(c != counts[0])[0])}): they are not one collection")
    P = int(max_objects) if max_objects is not None else max(1, int(counts[0].max(initial=0)))
    padded = [ak.pad_none(c, P, axis=1, clip=True) for c in cols]
    m = ak.to_numpy(~ak.is_none(padded[0], axis=1)).astype(np.float32)
    X = np.stack([ak.to_numpy(ak.fill_none(p, 0.0)).astype(np.float32) for p in padded], axis=-1)
    _check_real(X, m, names, "pad_sets")
    return np.ascontiguousarray(X), np.ascontiguousarray(m), names


def _jet_counts(data: Any, jets: str) -> np.ndarray:
    import awkward as ak

    fields = _fields(data)
    if f"n{jets}" in fields:
        return np.asarray(ak.to_numpy(data[f"n{jets}"]), dtype=np.int64)
    cols = [f for f in fields if f.startswith(f"{jets}_")]
    if not cols:
        raise InputMismatchError(f"no n{jets} and no {jets}_* column to count the jets; the data hold {', '.join(fields)}")
    return np.asarray(ak.to_numpy(ak.num(data[cols[0]], axis=1)), dtype=np.int64)


def group_by_jet(data: Any, inputs: Sequence[str] | None = None, *, index: str = "PFCand_fatJetIdx",
                 jets: str = "FatJet", max_jets: int | None = None,
                 max_objects: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """The constituents of every jet as padded arrays ``[N, J, P, F]``, aligned with the jet collection.

    Parameters
    ----------
    data : mapping ``column -> jagged ak.Array``, awkward record array or ROOT file path(s) with
        the per-constituent ``inputs``, ``index`` and ``n<jets>`` (or a ``<jets>_*`` column)
    inputs : per-constituent columns (default: every field whose collection is that of ``index``)
    index : column with each constituent's jet index (-1: in no jet)
    jets : the jet collection (``FatJet``): jet ``j`` of an event is row ``j`` of the output
    max_jets, max_objects : keep the first jets of each event and the first constituents of
        each jet (collection order); default: the largest numbers in ``data``

    Returns
    -------
    (objects, mask, n_jets, names) : float32 ``[N, J, P, F]`` (padding 0), float32 ``[N, J, P]``,
        int64 ``[N]`` (jets per event, before ``max_jets``), column names
    """
    import awkward as ak

    for name, v in (("max_jets", max_jets), ("max_objects", max_objects)):
        if v is not None and (isinstance(v, bool) or int(v) < 1):
            raise ConfigurationError(f"{name} must be a positive integer or None; got {v!r}")
    data = _read(data, inputs, [index, f"{jets}_pt"])
    coll = index.split("_", 1)[0]
    names = _columns(data, inputs or [f for f in _fields(data) if f.startswith(f"{coll}_") and f != index],
                     "group_by_jet")
    n_jets = _jet_counts(data, jets)
    idx_j = ak.Array(data[_columns(data, [index], "group_by_jet")[0]])
    counts = ak.to_numpy(ak.num(idx_j, axis=1))
    idx = ak.to_numpy(ak.flatten(idx_j)).astype(np.int64)
    feats = []
    for n in names:
        col = ak.Array(data[n])
        if not np.array_equal(ak.to_numpy(ak.num(col, axis=1)), counts):
            raise DataError(f"columns {index} and {n} have different numbers of objects: they are not one collection")
        feats.append(ak.to_numpy(ak.flatten(col)).astype(np.float32))
    F = np.stack(feats, axis=-1) if feats else np.zeros((0, 0), np.float32)
    N = len(counts)
    J = int(max_jets) if max_jets is not None else max(1, int(n_jets.max(initial=0)))
    evt = np.repeat(np.arange(N), counts)
    keep = (idx >= 0) & (idx < np.minimum(n_jets[evt], J))
    key = evt[keep] * J + idx[keep]
    order = np.argsort(key, kind="stable")  # stable: constituents keep their collection order
    key_sorted = key[order]
    starts = np.searchsorted(key_sorted, key_sorted, side="left")
    rank = np.arange(len(key_sorted)) - starts
    P = int(max_objects) if max_objects is not None else max(1, int(rank.max(initial=-1)) + 1)
    ok = rank < P
    rows = np.flatnonzero(keep)[order][ok]
    X = np.zeros((N, J, P, len(names)), dtype=np.float32)
    m = np.zeros((N, J, P), dtype=np.float32)
    e, j, r = evt[rows], idx[rows], rank[ok]
    X[e, j, r] = F[rows]
    m[e, j, r] = 1.0
    _check_real(X, m, names, "group_by_jet")
    return X, m, n_jets, names


# ---- the network -------------------------------------------------------------------------
def _set_net(n_features: int, phi: Sequence[int], rho: Sequence[int], pooling: str, mean: np.ndarray,
             scale: np.ndarray) -> Any:
    """phi on the last axis, masked sum (mean) over the objects axis (-2), rho: works for ``[N, P, F]``
    (one logit per event) and ``[N, J, P, F]`` (one per jet)."""
    import torch

    def mlp(sizes: Sequence[int], last_act: bool) -> Any:
        layers: list[Any] = []
        for i in range(len(sizes) - 1):
            layers.append(torch.nn.Linear(int(sizes[i]), int(sizes[i + 1])))
            if last_act or i < len(sizes) - 2:
                layers.append(torch.nn.ReLU())
        return torch.nn.Sequential(*layers)

    class SetNet(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.phi = mlp([n_features, *phi], last_act=True)
            self.rho = mlp([phi[-1] if phi else n_features, *rho, 1], last_act=False)
            self.register_buffer("mean", torch.tensor(np.asarray(mean, np.float32)))
            self.register_buffer("inv_scale", torch.tensor(1.0 / np.asarray(scale, np.float32)))

        def forward(self, x: Any, mask: Any) -> Any:
            real = (mask > 0.5).unsqueeze(-1)
            x = torch.where(real, (x - self.mean) * self.inv_scale, torch.zeros_like(x))
            h = torch.where(real, self.phi(x), torch.zeros((), dtype=x.dtype))
            pooled = h.sum(dim=-2)
            if pooling == "mean":
                pooled = pooled / mask.sum(dim=-1, keepdim=True).clamp(min=1.0)
            return self.rho(pooled).squeeze(-1)

    return SetNet()


@dataclass
class DeepSetsConfig(TrainingConfig):
    """Hyper-parameters of :class:`DeepSetsClassifier` (model fields first, then training ones)."""

    phi_layers: tuple[int, ...] = (64, 64, 64)
    rho_layers: tuple[int, ...] = (64,)
    pooling: str = "sum"
    inputs: tuple[str, ...] | None = None
    max_objects: int | None = None


class _SetBase(TensorClassifier):
    """Shared parts of the set models: scaling over real objects, validation, metadata."""

    _input_names: ClassVar[tuple[str, ...]] = ("objects", "mask")

    def _validate(self) -> None:
        super()._validate()
        check_layers("phi_layers", self.phi_layers)
        check_layers("rho_layers", self.rho_layers)
        if not tuple(self.phi_layers):
            raise ConfigurationError("phi_layers needs at least one layer")
        check_choice("pooling", self.pooling, POOLINGS)

    def _fit_scaling(self, inputs: tuple[np.ndarray, ...]) -> None:
        X, m = inputs
        real = X[m > 0].astype(np.float64)
        if len(real) == 0:
            raise DataError(f"{type(self).__name__}.fit: the data hold no real object (the mask is all 0)")
        sd = real.std(axis=0)
        self.mean_ = real.mean(axis=0).astype(np.float32)
        self.scale_ = np.where(sd > 0, sd, 1.0).astype(np.float32)
        self.max_objects_ = int(X.shape[-2])

    def _build(self) -> Any:
        return _set_net(self.n_features_in_, tuple(self.phi_layers), tuple(self.rho_layers), self.pooling,
                        self.mean_, self.scale_)

    def _check_width(self, X: np.ndarray) -> None:
        if X.shape[-1] != self.n_features_in_:
            raise InputMismatchError(f"the objects have {X.shape[-1]} features; {type(self).__name__} was fitted "
                                     f"with {self.n_features_in_} ({', '.join(self.feature_names_in_)})")


class DeepSetsClassifier(_SetBase):
    """Deep Sets binary classifier of a set of objects per event (PyTorch).

    ``score = sigmoid(rho(sum_p mask_p phi((x_p - mean) / scale)))``: invariant under the
    order of the objects and their padding (see :mod:`hepsift.models.sets`).

    Parameters
    ----------
    phi_layers : tuple of int
        Widths of the per-object network phi (ReLU after each layer).
    rho_layers : tuple of int
        Hidden widths of rho (ReLU), followed by one output unit.
    pooling : {"sum", "mean"}
        Masked sum over the real objects, or their mean (sum / number of real objects).
    inputs : tuple of str, optional
        Per-object columns read from mappings, record arrays and ROOT files (e.g.
        ``("PFCand_pt", "PFCand_eta", "PFCand_phi")``); default every field.
    max_objects : int, optional
        Keep the first ``max_objects`` objects of each event (collection order) in ``fit``
        (scoring takes any number).
    epochs, batch_size, learning_rate : Adam training on binary cross-entropy.
    class_weight : {None, "balanced"}
    seed : int; seeds the weights and the shuffling.
    threads : int; torch intra-op threads.
    progress : bool; a progress bar over epochs.

    Attributes
    ----------
    n_features_in_ : int (F); feature_names_in_ : list of str; mean_, scale_ : float32 (F,)
    collection_ : str, the collection of the inputs (``PFCand``) or ""
    max_objects_ : int, P of the training arrays; threshold_, history_, provenance_

    ONNX
    ----
    Inputs ``objects`` float32 ``[N, P, F]`` and ``mask`` float32 ``[N, P]`` (P dynamic; padded
    entries may hold anything), output ``score`` ``[N]``; metadata ``hepsift.inputs``,
    ``hepsift.collections``.

    Examples
    --------
    >>> import numpy as np
    >>> from hepsift.models import DeepSetsClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 6, 2)).astype("float32"); y = rng.integers(0, 2, 400)
    >>> X[y == 1, 0, 0] += 4.0
    >>> clf = DeepSetsClassifier(phi_layers=(16,), rho_layers=(16,), epochs=5, seed=1).fit(X, y)
    >>> clf.predict_proba(X).shape
    (400, 2)
    """

    config_class: ClassVar[type[Any]] = DeepSetsConfig
    _dynamic_axes: ClassVar[dict[str, dict[int, str]]] = {"objects": {1: "P"}, "mask": {1: "P"}}

    def __init__(self, *, epochs: int = 20, batch_size: int = 128, learning_rate: float = 1e-3,
                 class_weight: str | None = None, seed: int = 0, threads: int = 1, progress: bool = False,
                 phi_layers: tuple[int, ...] = (64, 64, 64), rho_layers: tuple[int, ...] = (64,),
                 pooling: str = "sum", inputs: tuple[str, ...] | None = None,
                 max_objects: int | None = None) -> None:
        store_params(self, locals())

    def _arrays(self, X: Any, mask: Any, fit: bool) -> tuple[np.ndarray, np.ndarray, list[str]]:
        names = list(self.inputs) if self.inputs else (None if fit else self.feature_names_in_)
        return pad_sets(X, names, mask=mask, max_objects=self.max_objects if fit else None)

    def fit(self, X: Any, y: Any, sample_weight: Any = None, *, mask: Any = None) -> DeepSetsClassifier:
        """Train on sets of objects.

        Parameters
        ----------
        X : ndarray ``[N, P, F]`` (with ``mask``), jagged awkward columns or a record array,
            or ROOT file path(s) (see :func:`pad_sets`)
        y : array_like, shape (N,); 0 background, 1 signal
        sample_weight : array_like, shape (N,), optional
        mask : ndarray ``[N, P]``, optional; 1 real object, 0 padding (arrays only)

        Returns
        -------
        self
        """
        objects, m, names = self._arrays(X, mask, fit=True)
        self.collection_ = collection_of(names)
        self._fit_arrays((objects, m), np.asarray(y).reshape(-1), sample_weight, names)
        return self

    def predict_proba(self, X: Any, mask: Any = None) -> np.ndarray:
        """Class probabilities, float32, shape (N, 2) (column 1 = signal); ``X`` as in :meth:`fit`."""
        self._check_fitted()
        objects, m, _ = self._arrays(X, mask, fit=False)
        self._check_width(objects)
        p = self._scores((objects, m))
        return np.stack([1.0 - p, p], axis=1).astype(np.float32)

    def decision_function(self, X: Any, mask: Any = None) -> np.ndarray:
        """The logit ``ln(p / (1 - p))`` of every event, float32, shape (N,)."""
        self._check_fitted()
        objects, m, _ = self._arrays(X, mask, fit=False)
        self._check_width(objects)
        return self._logits((objects, m))

    def predict(self, X: Any, mask: Any = None) -> np.ndarray:
        """Labels 0/1 (probability > 0.5), int64, shape (N,)."""
        return (self.predict_proba(X, mask)[:, 1] > 0.5).astype(np.int64)

    def _metadata(self) -> dict[str, Any]:
        F = self.n_features_in_
        return {"inputs": [
            {"name": "objects", "kind": "objects", "shape": ["N", "P", F], "collection": self.collection_,
             "columns": list(self.feature_names_in_)},
            {"name": "mask", "kind": "mask", "shape": ["N", "P"]}],
            "collections": {self.collection_ or "objects": {"columns": list(self.feature_names_in_),
                                                           "max_objects": self.max_objects_}}}


@dataclass
class JetTaggerConfig(DeepSetsConfig):
    """Hyper-parameters of :class:`JetTagger`."""

    index: str = "PFCand_fatJetIdx"
    jets: str = "FatJet"
    max_jets: int | None = None


class JetTagger(_SetBase):
    """A per-jet tagger: Deep Sets over each jet's constituents, one score per jet.

    ``score[n, j] = sigmoid(rho(sum_p mask[n, j, p] phi((x[n, j, p] - mean) / scale)))`` for
    jet ``j`` of event ``n``; aligned with the jet collection (row ``j`` is ``<jets>`` number
    ``j``); jets without a real constituent (padding) score 0.

    Parameters
    ----------
    phi_layers, rho_layers, pooling, epochs, batch_size, learning_rate, class_weight, seed,
    threads, progress : as :class:`DeepSetsClassifier`
    inputs : tuple of str, optional
        Per-constituent columns (default: every column of ``index``'s collection but ``index``).
    max_objects : int, optional; constituents kept per jet in ``fit`` (collection order)
    index : str
        Column with each constituent's jet index (``PFCand_fatJetIdx``; -1: in no jet).
    jets : str
        The jet collection the scores align with (``FatJet``; its count is ``n<jets>`` or the
        length of a ``<jets>_*`` column).
    max_jets : int, optional; jets kept per event in ``fit`` (scoring takes any number).

    Labels are per jet: a jagged array (one list per event, as ``FatJet_truth`` mapped to 1
    signal / 0 background / -1 ignored) or a ``[N, J]`` array; -1 and padded jets take no part
    in training. ``sample_weight`` is per event.

    ONNX
    ----
    Inputs ``objects`` float32 ``[N, J, P, F]`` and ``mask`` float32 ``[N, J, P]`` (J and P
    dynamic), output ``score`` ``[N, J]``; ``hepsift.output_collection`` names ``jets``. Scored per
    jet inside RDataFrame by :func:`hepsift.rdf.define` (C++: ``hepsift::DefineGroupedSetScore``),
    which groups the constituents by ``index`` event by event (input kind ``"grouped-set"``).
    """

    config_class: ClassVar[type[Any]] = JetTaggerConfig
    _dynamic_axes: ClassVar[dict[str, dict[int, str]]] = {"objects": {1: "J", 2: "P"}, "mask": {1: "J", 2: "P"}}
    _output_axes: ClassVar[tuple[str, ...]] = ("N", "J")

    def __init__(self, *, epochs: int = 20, batch_size: int = 128, learning_rate: float = 1e-3,
                 class_weight: str | None = None, seed: int = 0, threads: int = 1, progress: bool = False,
                 phi_layers: tuple[int, ...] = (64, 64, 64), rho_layers: tuple[int, ...] = (64,),
                 pooling: str = "sum", inputs: tuple[str, ...] | None = None, max_objects: int | None = None,
                 index: str = "PFCand_fatJetIdx", jets: str = "FatJet", max_jets: int | None = None) -> None:
        store_params(self, locals())

    def _arrays(self, X: Any, mask: Any, fit: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
        if isinstance(X, np.ndarray) or (not isinstance(X, (Mapping, str, os.PathLike, list, tuple))
                                         and not _fields(X)):
            objects = np.asarray(X, dtype=np.float32)
            if objects.ndim != 4 or objects.shape[0] == 0:
                raise DataError(f"jets of constituents must have shape (N, J, P, F); got {objects.shape}")
            m = np.ones(objects.shape[:3], np.float32) if mask is None else np.asarray(mask, dtype=np.float32)
            if m.shape != objects.shape[:3]:
                raise DataError(f"mask has shape {m.shape}; the objects {objects.shape} need {objects.shape[:3]}")
            if not np.all((m == 0) | (m == 1)):
                raise DataError("mask must hold 1 (real object) and 0 (padding) only")
            if fit:
                if self.max_jets is not None:
                    objects, m = objects[:, :int(self.max_jets)], m[:, :int(self.max_jets)]
                if self.max_objects is not None:
                    objects, m = objects[:, :, :int(self.max_objects)], m[:, :, :int(self.max_objects)]
            objects = np.where(m[..., None] > 0, objects, np.float32(0.0)).astype(np.float32)
            names = list(self.inputs) if self.inputs else (
                self.feature_names_in_ if not fit else [f"f{i}" for i in range(objects.shape[-1])])
            if len(names) != objects.shape[-1]:
                raise InputMismatchError(f"{len(names)} input names for {objects.shape[-1]} features per object")
            _check_real(objects, m, names, type(self).__name__)
            n_jets = (m.max(axis=2) > 0).sum(axis=1).astype(np.int64)
            return np.ascontiguousarray(objects), np.ascontiguousarray(m), n_jets, names
        if mask is not None:
            raise ConfigurationError("mask= is for padded arrays; jagged inputs make their own")
        names_in = list(self.inputs) if self.inputs else (None if fit else self.feature_names_in_)
        return group_by_jet(X, names_in, index=self.index, jets=self.jets,
                            max_jets=self.max_jets if fit else None, max_objects=self.max_objects if fit else None)

    def fit(self, X: Any, y: Any, sample_weight: Any = None, *, mask: Any = None) -> JetTagger:
        """Train on the constituents of every jet.

        Parameters
        ----------
        X : ndarray ``[N, J, P, F]`` (with ``mask [N, J, P]``), or jagged awkward columns, a record
            array or ROOT file path(s) holding the constituents, ``index`` and the jet count
        y : per-jet labels: jagged (one list per event, in the order of the jet collection) or
            ``[N, J]``; 1 signal, 0 background, -1 ignored
        sample_weight : array_like, shape (N,), optional; per event
        mask : ndarray ``[N, J, P]`` for an array ``X``

        Returns
        -------
        self
        """
        objects, m, _, names = self._arrays(X, mask, fit=True)
        labels = self._labels(y, objects.shape[:2])
        labels[m.max(axis=2) == 0] = -1  # padded jets take no part
        self.collection_ = collection_of(names)
        self._fit_arrays((objects, m), labels, sample_weight, names)
        return self

    @staticmethod
    def _labels(y: Any, shape: tuple[int, int]) -> np.ndarray:
        N, J = shape
        if isinstance(y, np.ndarray) and y.ndim == 2:
            out = np.full((N, J), -1, dtype=np.int64)
            if y.shape[0] != N:
                raise DataError(f"y has {y.shape[0]} events; the jets {N}")
            k = min(J, y.shape[1])
            out[:, :k] = y[:, :k]
            return out
        import awkward as ak

        arr = ak.Array(y)
        if len(arr) != N:
            raise DataError(f"y has {len(arr)} events; the jets {N}")
        return ak.to_numpy(ak.fill_none(ak.pad_none(arr, J, axis=1, clip=True), -1)).astype(np.int64)

    def predict_proba(self, X: Any, mask: Any = None) -> np.ndarray:
        """Per-jet class probabilities, float32, shape (N, J, 2) (``[..., 1]``: signal; 0 for padded jets)."""
        self._check_fitted()
        objects, m, _, _ = self._arrays(X, mask, fit=False)
        self._check_width(objects)
        p = self._scores((objects, m))
        return np.stack([np.where(p > 0, 1.0 - p, 0.0), p], axis=-1).astype(np.float32)

    def decision_function(self, X: Any, mask: Any = None) -> np.ndarray:
        """Per-jet logits, float32, shape (N, J) (padded jets: -inf)."""
        self._check_fitted()
        objects, m, _, _ = self._arrays(X, mask, fit=False)
        self._check_width(objects)
        z = self._logits((objects, m))
        return np.where(m.max(axis=2) > 0, z, -np.inf).astype(np.float32)

    def predict_jets(self, X: Any, mask: Any = None) -> Any:
        """Per-jet signal probabilities as a jagged ``ak.Array``: one list per event, one entry per jet
        of the collection (in its order)."""
        import awkward as ak

        self._check_fitted()
        objects, m, n_jets, _ = self._arrays(X, mask, fit=False)
        self._check_width(objects)
        p = self._scores((objects, m))
        J = p.shape[1]
        keep = np.arange(J)[None, :] < np.minimum(n_jets, J)[:, None]
        return ak.unflatten(p[keep], np.minimum(n_jets, J))

    def _scores(self, inputs: tuple[np.ndarray, ...]) -> np.ndarray:
        p = super()._scores(inputs)
        return np.where(inputs[1].max(axis=-1) > 0, p, np.float32(0.0)).astype(np.float32)

    def _scored_module(self) -> Any:
        import torch

        net = self.net_

        class ScoredJets(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.net = net

            def forward(self, x: Any, mask: Any) -> Any:
                present = mask.sum(dim=-1) > 0.5
                return torch.where(present, torch.sigmoid(self.net(x, mask)), torch.zeros((), dtype=x.dtype))

        return ScoredJets().eval()

    def _metadata(self) -> dict[str, Any]:
        F = self.n_features_in_
        return {"inputs": [
            {"name": "objects", "kind": "objects", "shape": ["N", "J", "P", F], "collection": self.collection_,
             "columns": list(self.feature_names_in_), "grouped_by": self.index, "per": self.jets},
            {"name": "mask", "kind": "mask", "shape": ["N", "J", "P"]}],
            "collections": {self.collection_ or "objects": {"columns": list(self.feature_names_in_),
                                                           "max_objects": self.max_objects_},
                            self.jets: {"columns": [], "max_objects": self.max_jets_}},
            "output_collection": self.jets}

    def _fit_scaling(self, inputs: tuple[np.ndarray, ...]) -> None:
        super()._fit_scaling(inputs)
        self.max_jets_ = int(inputs[0].shape[1])


config_fields(DeepSetsClassifier, DeepSetsConfig)
config_fields(JetTagger, JetTaggerConfig)
