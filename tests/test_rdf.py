"""hepsift.rdf.define: scores inside RDataFrame equal ONNX Runtime's Python API, and bad
input gets a clear hepsift error."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import MIXED, mixed_arrays, threads, torch_mlp, write_tree

import hepsift
import hepsift.rdf
from hepsift.export import onnx_predict, to_onnx

ATOL = 1e-5


def scored_arrays(ROOT, path, model, inputs=None, name="score", **kw):
    df = ROOT.RDataFrame("Events", str(path))
    node = hepsift.rdf.define(df, name, model, inputs, **kw)
    cols = [name, *(inputs if inputs is not None and all(i in MIXED for i in inputs) else MIXED)]
    return node.AsNumpy(cols)


def features(arrays, names=MIXED):
    return np.stack([np.asarray(arrays[n]).astype(np.float32) for n in names], axis=1)


@pytest.mark.parametrize("n_threads", [1, 2])
def test_mlp_parity_mixed_types(ROOT, mixed_file, mlp_onnx, n_threads):
    path, _ = mixed_file
    with threads(ROOT, n_threads):
        out = scored_arrays(ROOT, path, mlp_onnx)
    assert len(out["score"]) == 5000
    ref = onnx_predict(mlp_onnx, features(out))
    assert np.max(np.abs(out["score"] - ref)) <= ATOL
    # Not a constant: the model really sees the inputs.
    assert np.std(out["score"]) > 1e-3


@pytest.mark.parametrize("kind", ["gbt", "rf"])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_sklearn_parity(ROOT, mixed_file, tmp_path, kind, n_threads):
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier

    path, arrays = mixed_file
    X = features(arrays)
    y = (X[:, 0] + 0.3 * X[:, 1] - 0.1 * X[:, 2] + 0.5 * X[:, 5] > 0.6).astype(int)
    est = (GradientBoostingClassifier(n_estimators=30, max_depth=3, random_state=0) if kind == "gbt"
           else RandomForestClassifier(n_estimators=20, max_depth=6, random_state=0)).fit(X, y)
    model = to_onnx(est, tmp_path / f"{kind}.onnx", feature_names=MIXED, sample=X[:500])
    with threads(ROOT, n_threads):
        out = scored_arrays(ROOT, path, str(model))
    ref = onnx_predict(model, features(out))
    assert np.max(np.abs(out["score"] - ref)) <= ATOL
    # And the score is the classifier's: AUC-like separation of the labels.
    assert np.mean(out["score"][ref > 0.5]) > np.mean(out["score"][ref < 0.5])


def test_plain_onnx_with_inputs_and_expressions(ROOT, mixed_file, tmp_path):
    import torch

    path, _ = mixed_file
    plain = tmp_path / "plain.onnx"
    torch.onnx.export(torch_mlp(3), (torch.zeros(2, 3),), str(plain), input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "n"}, "y": {0: "n"}}, dynamo=False)
    model = hepsift.rdf.Model(plain)
    assert model.feature_names == [] and model.kind == "" and model.n_features == 3
    with pytest.raises(hepsift.InputMismatchError, match="stores no feature names"):
        hepsift.rdf.define(ROOT.RDataFrame("Events", str(path)), "s", model)
    df = ROOT.RDataFrame("Events", str(path))
    node = hepsift.rdf.define(df, "s", model, ["x_f", "x_d/1000.", "x_i*2"])
    out = node.AsNumpy(["s", "x_f", "x_d", "x_i"])
    X = np.stack([out["x_f"], (out["x_d"] / 1000.0).astype(np.float32), (out["x_i"] * 2).astype(np.float32)], axis=1)
    assert np.max(np.abs(out["s"] - onnx_predict(plain, X))) <= ATOL


def test_vector_column_and_several_scores(ROOT, tmp_path):
    import awkward as ak
    import torch

    rng = np.random.default_rng(3)
    n = 2000
    jets = rng.normal(size=(n, 4)).astype(np.float32)
    path = write_tree(tmp_path / "vec.root", {"Jet_pt": ak.Array(jets.tolist())})
    # Three scores per event (softmax over three classes).
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3), torch.nn.Softmax(dim=1))
    model = to_onnx(net.eval(), tmp_path / "multi.onnx", feature_names=["j0", "j1", "j2", "j3"], kind="classifier")
    node = hepsift.rdf.define(ROOT.RDataFrame("Events", str(path)), "p", model, ["Jet_pt"])
    assert str(node.GetColumnType("p")) in ("ROOT::VecOps::RVec<float>", "ROOT::RVecF", "ROOT::RVec<float>")
    got = np.array([list(v) for v in node.AsNumpy(["p"])["p"]], dtype=np.float32)
    ref = onnx_predict(model, jets)
    assert got.shape == (n, 3)
    assert np.max(np.abs(got - ref)) <= ATOL
    np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-5)
    # The first jet alone is an expression input of another model: the caller passes it (a
    # name stored in the model is never compiled), here with the guarded accessor.
    single = to_onnx(torch_mlp(1), tmp_path / "one.onnx", feature_names=["Jet_pt[0]"])
    with pytest.raises(hepsift.MetadataError, match="Jet_pt"):
        hepsift.rdf.define(ROOT.RDataFrame("Events", str(path)), "s", single)
    out = hepsift.rdf.define(ROOT.RDataFrame("Events", str(path)), "s", single, ["hepsift::at(Jet_pt, 0)"]).AsNumpy(["s"])
    assert np.max(np.abs(out["s"] - onnx_predict(single, jets[:, :1]))) <= ATOL


def test_scores_feed_filters_and_histograms(ROOT, mixed_file, mlp_onnx):
    path, _ = mixed_file
    node = hepsift.rdf.define(ROOT.RDataFrame("Events", str(path)), "score", mlp_onnx)
    all_scores = node.AsNumpy(["score"])["score"]
    n_pass = node.Filter("score > 0.5").Count().GetValue()
    h = node.Histo1D(("h", "", 20, 0.0, 1.0), "score").GetValue()
    assert n_pass == int(np.sum(all_scores > 0.5))
    assert h.GetEntries() == len(all_scores)
    assert h.GetMean() == pytest.approx(float(np.mean(all_scores)), abs=1e-5)


# ---- bad input ------------------------------------------------------------------------
def test_missing_model_file(ROOT, mixed_file, tmp_path):
    with pytest.raises(hepsift.ModelError, match="does not exist"):
        hepsift.rdf.define(ROOT.RDataFrame("Events", str(mixed_file[0])), "s", tmp_path / "nope.onnx")


def test_corrupt_onnx(ROOT, tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage that is not a protobuf model")
    with pytest.raises(hepsift.ModelError, match="cannot load .* as an ONNX model") as info:
        hepsift.rdf.Model(bad)
    assert "bad.onnx" in str(info.value) and "=>" not in str(info.value)


def test_width_mismatch(ROOT, mixed_file, mlp_onnx):
    with pytest.raises(hepsift.InputMismatchError, match="takes 6 features .* but 2 inputs"):
        hepsift.rdf.define(ROOT.RDataFrame("Events", str(mixed_file[0])), "s", mlp_onnx, ["x_f", "x_d"])


def _int_input_model(path):
    import onnx
    from onnx import TensorProto, helper

    node = helper.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.INT64, [None, 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 2])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


def test_non_float_model_input(ROOT, tmp_path):
    with pytest.raises(hepsift.ModelError, match="element type int64"):
        hepsift.rdf.Model(_int_input_model(tmp_path / "int.onnx"))


def test_nan_and_inf_inputs(ROOT, tmp_path, mlp_onnx):
    arrays = mixed_arrays(100)
    arrays["x_d"][42] = np.nan
    arrays["x_f"][7] = np.inf
    path = write_tree(tmp_path / "nan.root", arrays)
    df = ROOT.RDataFrame("Events", str(path))
    with pytest.raises(hepsift.NonFiniteInputError, match="input column 'x_f' is infinite at entry 7"):
        hepsift.rdf.define(df, "s", mlp_onnx).Sum("s").GetValue()
    with pytest.raises(hepsift.NonFiniteInputError, match="'x_d' is NaN at entry 42"):
        hepsift.rdf.define(df.Filter("rdfentry_ != 7"), "s", mlp_onnx).Sum("s").GetValue()
    # Under implicit multi-threading the error reaches Python the same way.
    with threads(ROOT, 2), pytest.raises(hepsift.NonFiniteInputError, match="at entry 7"):
        hepsift.rdf.define(ROOT.RDataFrame("Events", str(path)), "s", mlp_onnx).Sum("s").GetValue()
    passed = hepsift.rdf.define(df, "s", mlp_onnx, check_finite=False).AsNumpy(["s"])["s"]
    assert np.isnan(passed[42]) and np.isfinite(passed[41])


def test_unknown_column_lists_nearest(ROOT, mixed_file, mlp_onnx):
    inputs = ["x_f", "x_dd", "x_i", "x_l", "x_u", "x_b"]
    with pytest.raises(hepsift.MissingBranchError, match="'x_dd'.*did you mean x_d"):
        hepsift.rdf.define(ROOT.RDataFrame("Events", str(mixed_file[0])), "s", mlp_onnx, inputs)


def test_unsupported_column_type(ROOT, mixed_file, mlp_onnx):
    df = ROOT.RDataFrame("Events", str(mixed_file[0])).Define("txt", 'std::string("a")')
    with pytest.raises(hepsift.InputMismatchError, match="input 'txt' has type .*string"):
        hepsift.rdf.define(df, "s", mlp_onnx, ["txt", "x_d", "x_i", "x_l", "x_u", "x_b"])


def test_existing_column_name(ROOT, mixed_file, mlp_onnx):
    with pytest.raises(hepsift.ConfigurationError, match="column 'x_f' already exists"):
        hepsift.rdf.define(ROOT.RDataFrame("Events", str(mixed_file[0])), "x_f", mlp_onnx)


def test_cuda_without_gpu(ROOT, mlp_onnx):
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("a CUDA provider is present")
    with pytest.raises(hepsift.ProviderError, match="'cuda' was requested"):
        hepsift.rdf.Model(mlp_onnx, provider="cuda")
    fallback = hepsift.rdf.Model(mlp_onnx, provider="cuda", allow_fallback=True)
    assert fallback.provider == "cpu"


def test_cuda_scores_match_the_cpu(ROOT, mixed_file, mlp_onnx):
    """On a machine with a GPU and onnxruntime-gpu (scripts/gpu_check.sh): the CUDA provider,
    streamed and two-pass batched and per event, gives the CPU's scores."""
    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        pytest.skip("no CUDA provider (install onnxruntime-gpu on a GPU machine)")
    path, _ = mixed_file
    gpu = hepsift.rdf.Model(mlp_onnx, provider="cuda")
    assert gpu.provider == "cuda"
    df = ROOT.RDataFrame("Events", str(path))
    node = hepsift.rdf.define(df, "stream", gpu, batch_size=1024, strategy="stream")
    node = hepsift.rdf.define(node, "two", gpu, batch_size=1024, strategy="two-pass")
    node = hepsift.rdf.define(node, "pe", gpu)
    node = hepsift.rdf.define(node, "cpu", hepsift.rdf.Model(mlp_onnx))
    out = node.AsNumpy(["stream", "two", "pe", "cpu"])
    for name in ("stream", "two", "pe"):  # TF32 matrix products on the GPU: 1e-3, not 1e-6
        assert np.max(np.abs(out[name] - out["cpu"])) <= 1e-3, name


def test_model_evaluate_matches_onnxruntime(ROOT, mlp_onnx):
    X = np.random.default_rng(5).normal(size=(300, 6))
    m = hepsift.rdf.Model(mlp_onnx)
    assert m.kind == "classifier" and m.version == hepsift.__version__ and m.feature_names == MIXED
    assert np.max(np.abs(m.evaluate(X) - onnx_predict(mlp_onnx, X))) <= 1e-6
    with pytest.raises(hepsift.InputMismatchError, match=r"shape \(300, 5\)"):
        m.evaluate(X[:, :5])
