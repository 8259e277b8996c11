"""Image models scored inside RDataFrame: parity with ONNX Runtime's Python API event by event."""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import pytest
from conftest import threads, write_tree

import hepsift
import hepsift.rdf
from hepsift.export import onnx_predict
from hepsift.models import CNNClassifier

SHAPE = (2, 6, 5)  # C, H, W: not square, so that a transposed layout would show
N = 60


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    rng = np.random.default_rng(11)
    x = rng.random((N, *SHAPE)).astype(np.float32)
    x[::3, 0, 1:3, 2:4] += 2.0
    return x


@pytest.fixture(scope="module")
def cnn_onnx(images: np.ndarray, tmp_path_factory: pytest.TempPathFactory) -> Path:
    y = np.arange(N) % 3 == 0
    cnn = CNNClassifier(conv_layers=((3, 2),), pool=1, dense_layers=(4,), epochs=1, seed=3,
                        channels=("charged", "neutral")).fit(images, y.astype(int))
    return cnn.to_onnx(tmp_path_factory.mktemp("cnn") / "cnn.onnx")


@pytest.fixture(scope="module")
def image_file(images: np.ndarray, tmp_path_factory: pytest.TempPathFactory) -> Path:
    flat = ak.unflatten(images.ravel(), images[0].size)  # jagged float32: an RVec<float> branch
    return write_tree(tmp_path_factory.mktemp("img") / "img.root", {"img": flat, "i": np.arange(N, dtype=np.int32)},
                      basket=16)


def _alone(path: Path, images: np.ndarray) -> np.ndarray:
    """The reference: ONNX Runtime (Python API) fed each event alone."""
    return np.concatenate([onnx_predict(path, images[k:k + 1]) for k in range(len(images))]).reshape(-1)


def test_model_reports_image_input(cnn_onnx: Path) -> None:
    m = hepsift.rdf.Model(cnn_onnx)
    assert m.input_kind == "image"
    assert m.input_shape == SHAPE
    assert m.n_features == 2 * 6 * 5 and m.n_scores == 1


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("strategy, batch", [("per-event", None), ("two-pass", 16)])
def test_image_model_parity(ROOT, cnn_onnx: Path, image_file: Path, images: np.ndarray, n_threads: int,
                            strategy: str, batch: int | None) -> None:
    ref = _alone(cnn_onnx, images)
    assert np.ptp(ref) > 1e-4, "the scores differ between events"
    with threads(ROOT, n_threads):
        df = ROOT.RDataFrame("Events", str(image_file))
        assert hepsift.rdf.strategy_for(df, ["img"], strategy, batch) == strategy
        out = hepsift.rdf.define(df, "score", cnn_onnx, inputs=["img"], strategy=strategy, batch_size=batch)
        got = out.AsNumpy(["i", "score"])
    order = np.argsort(got["i"])
    np.testing.assert_allclose(got["score"][order], ref, rtol=0, atol=1e-5)
    # The C++ model on the whole batch at once agrees too.
    np.testing.assert_allclose(hepsift.rdf.Model(cnn_onnx).evaluate(images), ref, rtol=0, atol=1e-5)


def test_image_of_wrong_size_names_column_entry_and_sizes(ROOT, cnn_onnx: Path, image_file: Path) -> None:
    df = ROOT.RDataFrame("Events", str(image_file))
    df = df.Define("cut", "rdfentry_ == 7 ? ROOT::RVecF(img.begin(), img.begin() + 59) : img")
    out = hepsift.rdf.define(df, "score", cnn_onnx, inputs=["cut"], strategy="per-event")
    with pytest.raises(hepsift.EvaluationError,
                       match=r"'cut' has 59 values at entry 7 .* takes images of 2 x 6 x 5 = 60 values"):
        out.Sum("score").GetValue()


def test_image_model_refuses_non_image_inputs(ROOT, cnn_onnx: Path, image_file: Path) -> None:
    df = ROOT.RDataFrame("Events", str(image_file)).Define("dimg", "ROOT::RVecD(img.begin(), img.end())")
    with pytest.raises(hepsift.InputMismatchError, match=r"one ROOT::RVec<float> column .* 'dimg'"):
        hepsift.rdf.define(df, "score", cnn_onnx, inputs=["dimg"])
    with pytest.raises(hepsift.InputMismatchError, match=r"pass inputs=\[image column\]"):
        hepsift.rdf.define(df, "score", cnn_onnx)
    with pytest.raises(hepsift.ConfigurationError, match="stream"):
        hepsift.rdf.define(df, "score", cnn_onnx, inputs=["img"], strategy="stream")
