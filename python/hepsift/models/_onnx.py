"""Small helpers that build the ONNX graphs of hepsift's estimators.

Every graph has one float32 input ``features`` of shape ``[batch, n_features]`` and puts the
preprocessing (missing-value imputation, standardisation) and the score head inside the
graph, so that the file scores raw ntuple columns exactly as the estimator does in Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

#: ONNX IR version written by hepsift (readable by every ONNX Runtime since 1.15).
IR_VERSION = 9
INPUT = "features"


class GraphBuilder:
    """Accumulates ONNX nodes and initialisers with unique names."""

    def __init__(self, prefix: str = "hs") -> None:
        self.prefix = prefix
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._count = 0

    def _name(self, hint: str) -> str:
        self._count += 1
        return f"{self.prefix}_{hint}_{self._count}"

    def const(self, value: Any, hint: str = "c", dtype: Any = np.float32) -> str:
        from onnx import numpy_helper

        name = self._name(hint)
        self.initializers.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name=name))
        return name

    def op(self, op_type: str, inputs: Sequence[str], hint: str | None = None, output: str | None = None,
           **attrs: Any) -> str:
        from onnx import helper

        out = output or self._name(hint or op_type.lower())
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], name=self._name(f"n_{op_type}"), **attrs))
        return out

    def preprocess(self, x: str, mean: np.ndarray | None, scale: np.ndarray | None,
                   missing_value: float | None, fill: np.ndarray | None = None) -> str:
        """``x -> where(x == missing_value, fill, x)`` then ``(x - mean) / scale``."""
        if missing_value is not None and fill is not None:
            mv = self.const(np.float32(missing_value), "missing")
            is_missing = self.op("Equal", [x, mv], "is_missing")
            x = self.op("Where", [is_missing, self.const(fill.reshape(1, -1), "fill"), x], "imputed")
        if mean is not None:
            x = self.op("Sub", [x, self.const(mean.reshape(1, -1), "mean")], "centred")
        if scale is not None:
            x = self.op("Mul", [x, self.const((1.0 / scale).reshape(1, -1), "inv_scale")], "scaled")
        return x

    def discriminant(self, prob: str, signal_index: int, fractions: np.ndarray, eps: float, output: str) -> str:
        """``ln(p_sig / sum_k f_k p_k)`` with ``f_sig = 0``; see :func:`combined_discriminant`."""
        k = len(fractions)
        sel = np.zeros((k, 1), dtype=np.float32)
        sel[signal_index, 0] = 1.0
        p_sig = self.op("MatMul", [prob, self.const(sel, "sel")], "p_sig")
        p_bkg = self.op("MatMul", [prob, self.const(np.asarray(fractions, np.float32).reshape(k, 1), "frac")], "p_bkg")
        e = self.const(np.float32(eps), "eps")
        num = self.op("Log", [self.op("Add", [p_sig, e])])
        den = self.op("Log", [self.op("Add", [p_bkg, e])])
        return self.op("Sub", [num, den], output=output)

    def model(self, outputs: Sequence[tuple[str, int | None]], n_features: int, opset: int,
              name: str = "hepsift") -> Any:
        """Finish the graph: ``outputs`` lists (name, width or None)."""
        from onnx import TensorProto, helper

        inp = helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, ["batch", n_features])
        outs = [helper.make_tensor_value_info(o, TensorProto.FLOAT, ["batch", w] if w else ["batch"]) for o, w in outputs]
        graph = helper.make_graph(self.nodes, name, [inp], outs, initializer=self.initializers)
        proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="hepsift")
        proto.ir_version = IR_VERSION
        return proto


def combined_discriminant(proba: np.ndarray, signal_index: int, fractions: np.ndarray, eps: float = 1e-7) -> np.ndarray:
    """The multi-class discriminant ``D = ln(p_sig / sum_{k != sig} f_k p_k)``.

    Parameters
    ----------
    proba : ndarray, shape (n, K)
        Class probabilities (softmax outputs).
    signal_index : int
        Column of the signal class.
    fractions : ndarray, shape (K,)
        Background fractions ``f_k`` (``f_sig = 0``, ``sum f_k = 1``).
    eps : float
        Added to numerator and denominator against ``log(0)``.

    Returns
    -------
    ndarray, float32, shape (n,)

    Notes
    -----
    As used by boosted-object taggers (e.g. CMS DeepAK8, JINST 15 (2020) P06005): for K = 2 it is
    the logit ``ln(p / (1 - p))``.
    """
    p = np.asarray(proba, dtype=np.float32)
    e = np.float32(eps)
    p_sig = p[:, signal_index] + e
    p_bkg = p @ np.asarray(fractions, dtype=np.float32) + e
    return (np.log(p_sig) - np.log(p_bkg)).astype(np.float32)


def sklearn_graph(estimator: Any, n_features: int, opset: int, task: str, signal_index: int = 1,
                  fractions: np.ndarray | None = None, eps: float = 1e-7) -> tuple[Any, str, list[str]]:
    """Convert a fitted scikit-learn estimator with skl2onnx and add hepsift's score heads.

    Returns ``(proto, score_output, outputs)``: binary classifiers get ``score`` = p(class 1)
    ``[batch, 1]``; multi-class ones ``probabilities`` ``[batch, K]`` (the score) and
    ``discriminant`` ``[batch, 1]``; regressors ``prediction`` ``[batch, 1]``.
    """
    import warnings

    from onnx import TensorProto, helper

    from hepsift.errors import DependencyError

    try:
        from skl2onnx import convert_sklearn
        from skl2onnx.common.data_types import FloatTensorType
    except ImportError as exc:  # pragma: no cover - dependency
        raise DependencyError("exporting tree models needs skl2onnx: `pip install skl2onnx==1.20.0`") from exc

    options = {id(estimator): {"zipmap": False}} if task != "regression" else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        proto = convert_sklearn(estimator, initial_types=[(INPUT, FloatTensorType([None, n_features]))],
                                options=options, target_opset={"": opset, "ai.onnx.ml": 3})
    g = GraphBuilder("hs_head")
    float_outs = [o.name for o in proto.graph.output if o.type.tensor_type.elem_type == TensorProto.FLOAT]
    raw = float_outs[0]
    if task == "binary":
        start, end, axes = (g.const(np.array([v]), h, np.int64) for v, h in ((1, "start"), (2, "end"), (1, "axes")))
        outs = [("score", 1)]
        g.op("Slice", [raw, start, end, axes], output="score")
        score = "score"
    elif task == "multiclass":
        assert fractions is not None
        if raw != "probabilities":
            g.op("Identity", [raw], output="probabilities")
        g.discriminant("probabilities", signal_index, fractions, eps, "discriminant_raw")
        g.op("Reshape", ["discriminant_raw", g.const(np.array([-1, 1]), "shape", np.int64)], output="discriminant")
        outs = [("probabilities", len(fractions)), ("discriminant", 1)]
        score = "probabilities"
    else:
        g.op("Reshape", [raw, g.const(np.array([-1, 1]), "shape", np.int64)], output="prediction")
        outs = [("prediction", 1)]
        score = "prediction"
    proto.graph.node.extend(g.nodes)
    proto.graph.initializer.extend(g.initializers)
    del proto.graph.output[:]
    proto.graph.output.extend([helper.make_tensor_value_info(o, TensorProto.FLOAT, ["batch", w]) for o, w in outs])
    # keep only the nodes that feed the kept outputs (drops the label output of classifiers)
    _prune(proto)
    return proto, score, [o for o, _ in outs]


def _prune(proto: Any) -> None:
    needed = {o.name for o in proto.graph.output}
    keep = []
    for node in reversed(list(proto.graph.node)):
        if any(o in needed for o in node.output):
            keep.append(node)
            needed.update(i for i in node.input if i)
    keep.reverse()
    del proto.graph.node[:]
    proto.graph.node.extend(keep)
    used = {i for n in proto.graph.node for i in n.input}
    inits = [t for t in proto.graph.initializer if t.name in used]
    del proto.graph.initializer[:]
    proto.graph.initializer.extend(inits)


def float32_floor(values: Any) -> np.ndarray:
    """The largest float32 ``t32 <= t`` for every float64 ``t``.

    For every float32 ``x``: ``x <= t`` exactly when ``x <= t32`` (``t32 <= t`` gives one
    direction; a float32 ``x <= t`` is at most the largest float32 below ``t``, the other). An
    ONNX tree ensemble compares float32 inputs with float32 thresholds; rounding ``t`` to the
    nearest float32 instead can land on the float32 just above ``t``, where ``x <= t`` and
    ``x <= round(t)`` disagree.

    Parameters
    ----------
    values : array_like, float64, any shape

    Returns
    -------
    ndarray, float32, same shape
    """
    t = np.asarray(values, dtype=np.float64)
    t32 = t.astype(np.float32)
    above = t32.astype(np.float64) > t
    t32[above] = np.nextafter(t32[above], np.float32(-np.inf))
    return t32


def hist_graph(estimator: Any, n_features: int, opset: int, task: str, signal_index: int = 1,
               fractions: np.ndarray | None = None, eps: float = 1e-7) -> tuple[Any, str, list[str]]:
    """ONNX graph of a fitted scikit-learn ``HistGradientBoostingClassifier`` / ``Regressor``.

    One ``ai.onnx.ml`` ``TreeEnsembleRegressor`` sums the leaf values of every tree onto the
    baseline (the raw score, one column per class for multi-class models), then the score head:
    binary ``score`` = sigmoid(raw) ``[batch, 1]``; multi-class ``probabilities`` = softmax(raw)
    ``[batch, K]`` and ``discriminant`` ``[batch, 1]``; regression ``prediction`` ``[batch, 1]``.

    Every cut ``t`` (a float64 midpoint between two training values) is written as
    :func:`float32_floor` ``(t)``, so that each float32 event takes the branch it takes in
    scikit-learn. Events are never NaN in hepsift (inputs are checked), so the missing-value
    branches of the ensemble are not exported.

    Returns
    -------
    (proto, score_output, outputs), as :func:`sklearn_graph`.
    """
    from onnx import helper

    predictors = estimator._predictors
    k = len(predictors[0]) if predictors else 1
    cols: dict[str, list[np.ndarray]] = {n: [] for n in ("tree", "node", "feat", "mode", "value", "true", "false")}
    leaf_tree, leaf_node, leaf_target, leaf_weight = [], [], [], []
    for it, per_iter in enumerate(predictors):
        for c, predictor in enumerate(per_iter):
            nodes = predictor.nodes
            n = len(nodes)
            tid = it * k + c
            is_leaf = nodes["is_leaf"].astype(bool)
            cols["tree"].append(np.full(n, tid, np.int64))
            cols["node"].append(np.arange(n, dtype=np.int64))
            cols["feat"].append(np.where(is_leaf, 0, nodes["feature_idx"]).astype(np.int64))
            cols["mode"].append(is_leaf)
            cols["value"].append(np.where(is_leaf, np.float32(0), float32_floor(nodes["num_threshold"])))
            cols["true"].append(np.where(is_leaf, 0, nodes["left"]).astype(np.int64))
            cols["false"].append(np.where(is_leaf, 0, nodes["right"]).astype(np.int64))
            leaves = np.flatnonzero(is_leaf)
            leaf_tree.append(np.full(len(leaves), tid, np.int64))
            leaf_node.append(leaves.astype(np.int64))
            leaf_target.append(np.full(len(leaves), c, np.int64))
            leaf_weight.append(nodes["value"][leaves].astype(np.float32))
    if getattr(estimator, "is_categorical_", None) is not None and np.any(estimator.is_categorical_):
        from hepsift.errors import ModelError

        raise ModelError("the histogram booster has categorical features, which hepsift does not export; "
                         "fit it on numeric features")
    cat = {name: np.concatenate(v) for name, v in cols.items()}
    baseline = np.asarray(estimator._baseline_prediction, dtype=np.float64).ravel()
    g = GraphBuilder("hs_hist")
    raw = g._name("raw")
    g.nodes.append(helper.make_node(
        "TreeEnsembleRegressor", [INPUT], [raw], name=g._name("n_trees"), domain="ai.onnx.ml",
        n_targets=k, aggregate_function="SUM", post_transform="NONE",
        base_values=[float(b) for b in baseline.astype(np.float32)],
        nodes_treeids=cat["tree"].tolist(), nodes_nodeids=cat["node"].tolist(),
        nodes_featureids=cat["feat"].tolist(),
        nodes_modes=["LEAF" if leaf else "BRANCH_LEQ" for leaf in cat["mode"]],
        nodes_values=cat["value"].astype(np.float32).tolist(),
        nodes_truenodeids=cat["true"].tolist(), nodes_falsenodeids=cat["false"].tolist(),
        target_treeids=np.concatenate(leaf_tree).tolist(), target_nodeids=np.concatenate(leaf_node).tolist(),
        target_ids=np.concatenate(leaf_target).tolist(),
        target_weights=np.concatenate(leaf_weight).tolist()))
    if task == "binary":
        g.op("Sigmoid", [raw], output="score")
        outs: list[tuple[str, int | None]] = [("score", 1)]
        score = "score"
    elif task == "multiclass":
        assert fractions is not None
        g.op("Softmax", [raw], output="probabilities", axis=1)
        g.discriminant("probabilities", signal_index, fractions, eps, "discriminant")
        outs = [("probabilities", k), ("discriminant", 1)]
        score = "probabilities"
    else:
        g.op("Identity", [raw], output="prediction")
        outs = [("prediction", 1)]
        score = "prediction"
    proto = g.model(outs, n_features, opset, name="hepsift_hist_bdt")
    proto.opset_import.append(helper.make_opsetid("ai.onnx.ml", 3))
    return proto, score, [o for o, _ in outs]
