"""Isolation forest (scikit-learn) with its own compact ONNX graph."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from hepsift import errors
from hepsift.anomaly._base import Detector
from hepsift._estimator import Config

__all__ = ["IsolationForest", "IsolationForestConfig", "average_path_length"]

_EULER_GAMMA = 0.5772156649015329


def average_path_length(n: np.ndarray) -> np.ndarray:
    r"""Average path length of an unsuccessful search in a binary search tree of ``n`` points.

    :math:`c(n) = 2 H(n-1) - 2 (n-1)/n` with :math:`H(i) \approx \ln i + \gamma`;
    :math:`c(1) = 0`, :math:`c(2) = 1` (Liu, Ting & Zhou, "Isolation Forest", ICDM 2008).

    Parameters
    ----------
    n : array of int, any shape

    Returns
    -------
    ndarray float64, same shape
    """
    n = np.asarray(n, dtype=np.float64)
    out = np.zeros_like(n)
    small = n <= 1
    two = n == 2
    big = ~(small | two)
    out[two] = 1.0
    out[big] = 2.0 * (np.log(n[big] - 1.0) + _EULER_GAMMA) - 2.0 * (n[big] - 1.0) / n[big]
    return out


def _floor32(threshold: float) -> float:
    """The largest float32 not above ``threshold``.

    scikit-learn compares float32 features with float64 thresholds; ONNX tree ensembles hold
    float32 thresholds. With the threshold rounded down, ``x <= t32`` holds exactly when
    ``x <= t`` for every float32 ``x``, so exported trees take the same branches.
    """
    t32 = np.float32(threshold)
    if float(t32) > threshold:
        t32 = np.nextafter(t32, np.float32(-np.inf))
    return float(t32)


@dataclasses.dataclass
class IsolationForestConfig(Config):
    """Parameters of :class:`IsolationForest` (see there)."""

    n_estimators: int = 200
    max_samples: int = 256
    max_features: float = 1.0
    feature_set: str = "full"
    calibration_fraction: float = 0.2
    seed: int = 0


class IsolationForest(Detector):
    r"""Isolation forest (Liu, Ting & Zhou, ICDM 2008) on background events.

    Wraps :class:`sklearn.ensemble.IsolationForest`. The score is

    .. math:: s(x) = 2^{-E[h(x)] / c(\psi)} \in (0, 1],

    where :math:`h(x)` is the path length of ``x`` in one tree (plus :math:`c(n_{leaf})`
    for the unresolved leaf), averaged over the trees, and :math:`\psi` = ``max_samples``
    (:func:`average_path_length`). This is ``-IsolationForest.score_samples``: higher = more
    anomalous. Float64, shape (n_events,). Trees are invariant under monotonic
    transformations of a feature, so no standardisation is applied; -999 for absent
    objects is a valid value.

    The ONNX export writes all trees into one ``ai.onnx.ml.TreeEnsembleRegressor`` whose leaf
    values are the path lengths, followed by the :math:`2^{-\cdot}` head: compact and fast
    (the generic converter writes one tree ensemble per tree).

    Parameters
    ----------
    n_estimators, max_samples, max_features : of :class:`sklearn.ensemble.IsolationForest`
    feature_set, calibration_fraction, seed : see :class:`~hepsift.anomaly.AutoEncoder`

    Attributes
    ----------
    model_ : the fitted :class:`sklearn.ensemble.IsolationForest`
    threshold_, feature_names_in_, provenance_
    """

    config_class: ClassVar[type[Config]] = IsolationForestConfig
    _model_attrs: ClassVar[tuple[str, ...]] = ("model_",)

    def __init__(
        self, n_estimators: int = 200, max_samples: int = 256, max_features: float = 1.0, feature_set: str = "full",
        calibration_fraction: float = 0.2, seed: int = 0,
    ) -> None:  # fmt: skip
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.max_features = max_features
        self.feature_set = feature_set
        self.calibration_fraction = calibration_fraction
        self.seed = seed

    def _fit_core(self, X: np.ndarray, *, progress: bool = False) -> None:
        from sklearn.ensemble import IsolationForest as _IF

        self.model_ = _IF(
            n_estimators=int(self.n_estimators), max_samples=min(int(self.max_samples), len(X)),
            max_features=self.max_features, random_state=int(self.seed), n_jobs=1,
        ).fit(X)  # fmt: skip

    def _score(self, X: np.ndarray) -> np.ndarray:
        return -np.asarray(self.model_.score_samples(np.asarray(X, dtype=np.float32)), dtype=np.float64)

    def _onnx_graph(self, opset: int) -> tuple[Any, Callable[[np.ndarray], np.ndarray]]:
        import onnx
        from onnx import TensorProto, helper

        m = self.model_
        attrs: dict[str, list[Any]] = {k: [] for k in (
            "nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_values", "nodes_modes",
            "nodes_truenodeids", "nodes_falsenodeids", "target_treeids", "target_nodeids", "target_ids",
            "target_weights")}  # fmt: skip
        for t, (tree, feats) in enumerate(zip(m.estimators_, m.estimators_features_)):
            tr = tree.tree_
            left, right = tr.children_left, tr.children_right
            depth = np.zeros(tr.node_count)
            for node in range(tr.node_count):  # nodes are numbered parents first
                if left[node] >= 0:
                    depth[left[node]] = depth[node] + 1
                    depth[right[node]] = depth[node] + 1
            leaf_value = depth + average_path_length(tr.n_node_samples)
            for node in range(tr.node_count):
                attrs["nodes_treeids"].append(t)
                attrs["nodes_nodeids"].append(node)
                if left[node] >= 0:
                    attrs["nodes_featureids"].append(int(feats[tr.feature[node]]))
                    attrs["nodes_values"].append(_floor32(tr.threshold[node]))
                    attrs["nodes_modes"].append("BRANCH_LEQ")
                    attrs["nodes_truenodeids"].append(int(left[node]))
                    attrs["nodes_falsenodeids"].append(int(right[node]))
                else:
                    attrs["nodes_featureids"].append(0)
                    attrs["nodes_values"].append(0.0)
                    attrs["nodes_modes"].append("LEAF")
                    attrs["nodes_truenodeids"].append(0)
                    attrs["nodes_falsenodeids"].append(0)
                    attrs["target_treeids"].append(t)
                    attrs["target_nodeids"].append(node)
                    attrs["target_ids"].append(0)
                    attrs["target_weights"].append(float(leaf_value[node]))
        n_trees = len(m.estimators_)
        denom = n_trees * float(average_path_length(np.array([m.max_samples_]))[0])
        if denom == 0:
            raise errors.ModelError("the isolation forest was trained on a single event per tree; cannot export")
        d = self.n_features_in_
        nodes = [
            helper.make_node("TreeEnsembleRegressor", ["features"], ["depth_sum"], domain="ai.onnx.ml",
                             n_targets=1, aggregate_function="SUM", post_transform="NONE", **attrs),
            helper.make_node("Mul", ["depth_sum", "neg_inv_denom"], ["exponent"]),
            helper.make_node("Pow", ["two", "exponent"], ["score"]),
        ]  # fmt: skip
        inits = [
            helper.make_tensor("neg_inv_denom", TensorProto.FLOAT, [], [-1.0 / denom]),
            helper.make_tensor("two", TensorProto.FLOAT, [], [2.0]),
        ]
        graph = helper.make_graph(
            nodes, "hepsift_isolation_forest",
            [helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, d])],
            [helper.make_tensor_value_info("score", TensorProto.FLOAT, [None, 1])], initializer=inits,
        )  # fmt: skip
        proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset),
                                                        helper.make_opsetid("ai.onnx.ml", 3)],
                                  producer_name="hepsift")  # fmt: skip
        proto.ir_version = min(proto.ir_version, 9)
        onnx.checker.check_model(proto)
        return proto, self._score
