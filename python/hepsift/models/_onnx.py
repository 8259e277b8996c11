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
