"""hepsift.export.to_onnx: metadata, standardisation inside the graph, refusal to write a
file that disagrees with the native model."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import torch_mlp

import hepsift
from hepsift.export import onnx_predict, read_metadata, to_onnx


def test_metadata_and_scaling(tmp_path):
    import torch

    rng = np.random.default_rng(0)
    X = rng.normal(100.0, 20.0, size=(400, 3)).astype(np.float32)
    mean, scale = X.mean(axis=0), X.std(axis=0)
    net = torch_mlp(3)
    path = to_onnx(net, tmp_path / "m.onnx", feature_names=["a", "b", "c"], sample=X, mean=mean, scale=scale,
                   thresholds={"1e-2": 0.9}, provenance={"seed": 7})
    meta = read_metadata(path)
    assert meta["features"] == ["a", "b", "c"] and meta["kind"] == "classifier"
    assert meta["version"] == hepsift.__version__ and meta["score_output"] == "score"
    assert meta["thresholds"] == {"1e-2": 0.9} and meta["provenance"]["seed"] == 7
    with torch.no_grad():
        native = net(torch.from_numpy((X - mean) / scale)).numpy()[:, 0]
    np.testing.assert_allclose(onnx_predict(path, X), native, atol=1e-5)


def test_refuses_disagreeing_export(tmp_path):
    from sklearn.ensemble import GradientBoostingClassifier

    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 2)).astype(np.float32)
    est = GradientBoostingClassifier(n_estimators=20, random_state=0).fit(X, X[:, 0] > 0)
    target = tmp_path / "gbt.onnx"
    # float32 trees differ from the float64 native model by ~1e-7: a zero tolerance refuses.
    with pytest.raises(hepsift.ModelError, match="disagrees with the native model.*was not written"):
        to_onnx(est, target, feature_names=["u", "v"], sample=X, rtol=0.0, atol=0.0)
    assert not target.exists() and list(tmp_path.iterdir()) == []
    to_onnx(est, target, feature_names=["u", "v"], sample=X)
    assert target.exists()


def test_bad_arguments(tmp_path):
    with pytest.raises(hepsift.ConfigurationError, match="expected \\(n, 3\\)"):
        to_onnx(torch_mlp(3), tmp_path / "x.onnx", feature_names=["a", "b", "c"], sample=np.zeros((4, 2)))
    with pytest.raises(hepsift.ConfigurationError, match="unknown model kind"):
        to_onnx(torch_mlp(1), tmp_path / "x.onnx", feature_names=["a"], kind="oracle")
    with pytest.raises(hepsift.ConfigurationError, match="cannot export a dict"):
        to_onnx({}, tmp_path / "x.onnx", feature_names=["a"])
