"""Histogram-based outlier score (HBOS), in numpy, with a hand-written ONNX graph."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from hepsift import errors
from hepsift.anomaly._base import Detector
from hepsift._estimator import Config
from hepsift._missing import MISSING

__all__ = ["HBOS", "HBOSConfig"]


@dataclasses.dataclass
class HBOSConfig(Config):
    """Parameters of :class:`HBOS` (see there)."""

    n_bins: int = 50
    pseudo_count: float = 0.5
    feature_set: str = "full"
    calibration_fraction: float = 0.2
    seed: int = 0


class HBOS(Detector):
    r"""Histogram-based outlier score (Goldstein & Dengel, "Histogram-based Outlier Score
    (HBOS): A fast Unsupervised Anomaly Detection Algorithm", KI-2012 poster track, 2012).

    Each feature ``j`` gets a histogram of the background with ``n_bins`` equal-width bins
    between its smallest and largest present value, plus three extra cells: below the range,
    above the range, and "absent" (the value -999). Every cell holds the fraction of
    background events in it (``pseudo_count`` events for an empty cell), divided by the
    largest cell of that feature, so the fullest cell has height 1 (Goldstein & Dengel's
    normalisation). The score is

    .. math:: s(x) = \sum_{j=1}^{d} -\ln h_j\left(\mathrm{bin}_j(x_j)\right) \;\ge 0 ,

    float64, shape (n_events,); features are treated as independent. Bin edges are float32
    and the bin of ``x`` is the number of edges ``<= x``, identically in numpy and in the
    ONNX graph (comparisons with the edges, a sum, and a ``Gather`` from the table of
    ``-ln h``), so both agree on every bin.

    Parameters
    ----------
    n_bins : number of equal-width bins per feature (features with fewer distinct values get
        one bin per value)
    pseudo_count : content given to empty cells, in events
    feature_set, calibration_fraction, seed : see :class:`~hepsift.anomaly.AutoEncoder`

    Attributes
    ----------
    edges_ : ndarray float32, shape (n_features, n_edges); +inf pads features with fewer edges
    neg_log_height_ : ndarray float32, shape (n_features, n_edges + 2); column ``k`` for
        ``k`` edges ``<= x`` (0: below the range, ``n_edges``: at or above the last edge),
        the last column for absent objects
    threshold_, feature_names_in_, provenance_
    """

    config_class: ClassVar[type[Config]] = HBOSConfig
    _model_attrs: ClassVar[tuple[str, ...]] = ("edges_", "neg_log_height_")

    def __init__(
        self, n_bins: int = 50, pseudo_count: float = 0.5, feature_set: str = "full",
        calibration_fraction: float = 0.2, seed: int = 0,
    ) -> None:  # fmt: skip
        self.n_bins = n_bins
        self.pseudo_count = pseudo_count
        self.feature_set = feature_set
        self.calibration_fraction = calibration_fraction
        self.seed = seed

    def _fit_core(self, X: np.ndarray, *, progress: bool = False) -> None:
        if int(self.n_bins) < 1:
            raise errors.ConfigurationError(f"n_bins must be >= 1, got {self.n_bins}")
        if float(self.pseudo_count) <= 0:
            raise errors.ConfigurationError(f"pseudo_count must be > 0, got {self.pseudo_count}")
        n, d = X.shape
        per_feature_edges: list[np.ndarray] = []
        for j in range(d):
            v = X[X[:, j] != np.float32(MISSING), j]
            if len(v) == 0:
                per_feature_edges.append(np.array([0.0], dtype=np.float32))
                continue
            lo, hi = float(v.min()), float(v.max())
            distinct = np.unique(v)
            if len(distinct) <= int(self.n_bins):  # discrete feature: one bin per value
                mids = (distinct[:-1].astype(np.float64) + distinct[1:]) / 2
                e = np.concatenate([[lo], mids, [hi]])
            else:
                e = np.linspace(lo, hi, int(self.n_bins) + 1)
            e = e.astype(np.float32)
            e[-1] = np.nextafter(np.float32(hi), np.float32(np.inf))  # the maximum falls inside
            per_feature_edges.append(np.unique(e))
        n_edges = max(len(e) for e in per_feature_edges)
        edges = np.full((d, n_edges), np.inf, dtype=np.float32)
        table = np.zeros((d, n_edges + 2), dtype=np.float64)
        for j, e in enumerate(per_feature_edges):
            edges[j, : len(e)] = e
            x = X[:, j]
            absent = x == np.float32(MISSING)
            idx = np.searchsorted(e, x[~absent], side="right")  # number of edges <= x
            counts = np.bincount(idx, minlength=n_edges + 1).astype(np.float64)[: n_edges + 1]
            cells = np.concatenate([counts, [absent.sum()]])
            cells = np.maximum(cells, float(self.pseudo_count))
            table[j] = -np.log(cells / cells.max())
        self.edges_ = edges
        self.neg_log_height_ = table.astype(np.float32)

    def _bins(self, X: np.ndarray) -> np.ndarray:
        """Cell index per event and feature: int64, shape (n_events, n_features)."""
        X = np.asarray(X, dtype=np.float32)
        n_edges = self.edges_.shape[1]
        idx = np.empty(X.shape, dtype=np.int64)
        for j in range(X.shape[1]):
            e = self.edges_[j]
            e = e[np.isfinite(e)]
            idx[:, j] = np.searchsorted(e, X[:, j], side="right")
            idx[X[:, j] == np.float32(MISSING), j] = n_edges + 1
        return idx

    def _score(self, X: np.ndarray) -> np.ndarray:
        idx = self._bins(X)
        vals = np.take_along_axis(self.neg_log_height_, idx.T, axis=1).T
        return vals.astype(np.float64).sum(axis=1)

    def _onnx_graph(self, opset: int) -> tuple[Any, Callable[[np.ndarray], np.ndarray]]:
        import onnx
        from onnx import TensorProto, helper, numpy_helper

        d, n_edges = self.edges_.shape
        width = n_edges + 2
        inits = [
            numpy_helper.from_array(self.edges_[None, :, :].astype(np.float32), "edges"),  # (1, d, E)
            numpy_helper.from_array(self.neg_log_height_.reshape(-1).astype(np.float32), "table"),
            numpy_helper.from_array((np.arange(d, dtype=np.int64) * width), "offsets"),
            numpy_helper.from_array(np.full(d, n_edges + 1, dtype=np.int64), "absent_cell"),
            numpy_helper.from_array(np.array(MISSING, dtype=np.float32), "missing"),
            numpy_helper.from_array(np.array([2], dtype=np.int64), "axis2"),
            numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
        ]
        nodes = [
            helper.make_node("Unsqueeze", ["features", "axis2"], ["x3"]),              # (n, d, 1)
            helper.make_node("GreaterOrEqual", ["x3", "edges"], ["ge"]),               # (n, d, E)
            helper.make_node("Cast", ["ge"], ["ge_i"], to=TensorProto.INT64),
            helper.make_node("ReduceSum", ["ge_i", "axis2"], ["cell"], keepdims=0),    # (n, d)
            helper.make_node("Equal", ["features", "missing"], ["absent"]),
            helper.make_node("Where", ["absent", "absent_cell", "cell"], ["cell2"]),
            helper.make_node("Add", ["cell2", "offsets"], ["flat"]),
            helper.make_node("Gather", ["table", "flat"], ["terms"], axis=0),          # (n, d)
            helper.make_node("ReduceSum", ["terms", "axis1"], ["score"], keepdims=1),  # (n, 1)
        ]  # fmt: skip
        graph = helper.make_graph(
            nodes, "hepsift_hbos",
            [helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, d])],
            [helper.make_tensor_value_info("score", TensorProto.FLOAT, [None, 1])], initializer=inits,
        )  # fmt: skip
        proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", max(opset, 13))],
                                  producer_name="hepsift")
        proto.ir_version = min(proto.ir_version, 9)
        onnx.checker.check_model(proto)
        return proto, self._score
