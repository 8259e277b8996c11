"""Image models scored inside RDataFrame: parity with ONNX Runtime's Python API event by event."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


def test_model_reports_image_input(cnn_onnx: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import argparse
    import json

    from hepsift.cli import info

    m = hepsift.rdf.Model(cnn_onnx)
    assert m.input_kind == "image"
    assert m.input_shape == SHAPE
    assert m.n_features == 2 * 6 * 5 and m.n_scores == 1
    assert info.run(argparse.Namespace(model=str(cnn_onnx), json=True)) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["input_kind"], shown["input_shape"]) == ("image", list(SHAPE))


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


# --- sets of objects ------------------------------------------------------------------------
SET_COLS = ["PFCand_pt", "PFCand_eta", "PFCand_charge"]
NSET = 50


@pytest.fixture(scope="module")
def sets() -> dict[str, ak.Array]:
    """Jagged float, float and int columns; events 0 and 9 have no objects."""
    rng = np.random.default_rng(5)
    counts = rng.integers(1, 7, NSET)
    counts[[0, 9]] = 0
    total = int(counts.sum())
    flat = {"PFCand_pt": rng.exponential(20.0, total).astype(np.float32) + 1.0,
            "PFCand_eta": rng.normal(0.0, 1.5, total).astype(np.float32),
            "PFCand_charge": rng.integers(-1, 2, total).astype(np.int32)}
    return {k: ak.unflatten(v, counts) for k, v in flat.items()}


@pytest.fixture(scope="module")
def set_file(sets: dict[str, ak.Array], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tree(tmp_path_factory.mktemp("sets") / "sets.root",
                      {**sets, "i": np.arange(NSET, dtype=np.int32)}, basket=16)


@pytest.fixture(scope="module")
def deepsets_onnx(sets: dict[str, ak.Array], tmp_path_factory: pytest.TempPathFactory) -> Path:
    from hepsift.models import DeepSetsClassifier

    y = (np.asarray(ak.sum(sets["PFCand_pt"], axis=1)) > 40).astype(int)
    ds = DeepSetsClassifier(inputs=tuple(SET_COLS), phi_layers=(8,), rho_layers=(8,), epochs=1, seed=1).fit(sets, y)
    return ds.to_onnx(tmp_path_factory.mktemp("ds") / "ds.onnx")


def _torch_set_model(path: Path, per_object: bool) -> Path:
    """An unmasked set model built with torch: per-object scores [N, P], or their sum [N]."""
    import warnings

    import torch

    torch.manual_seed(4)

    class SetNet(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 1))

        def forward(self, objects: torch.Tensor) -> torch.Tensor:
            s = self.net(objects * 0.05).squeeze(-1)
            return s if per_object else s.sum(dim=1)

    axes = {"objects": {0: "N", 1: "P"}, "score": {0: "N", 1: "P"} if per_object else {0: "N"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(SetNet().eval(), (torch.ones(2, 4, 3),), str(path), input_names=["objects"],
                          output_names=["score"], dynamic_axes=axes, opset_version=17, dynamo=False)
    return path


def _set_reference(path: Path, sets: dict[str, ak.Array], masked: bool, keep: int | None = None) -> list[np.ndarray]:
    """ONNX Runtime (Python API) fed each event alone; an empty event: one zero object, mask 0."""
    out = []
    for k in range(NSET):
        obj = np.stack([np.asarray(sets[c][k], dtype=np.float32) for c in SET_COLS], axis=1)[:keep]
        mask = np.ones(len(obj), dtype=np.float32)
        if len(obj) == 0:
            obj, mask = np.zeros((1, 3), np.float32), np.zeros(1, np.float32)
        feed = {"objects": obj[None], "mask": mask[None]} if masked else {"objects": obj[None]}
        out.append(np.asarray(onnx_predict(path, feed), dtype=np.float32).reshape(-1))
    return out


def test_model_reports_set_input(deepsets_onnx: Path, tmp_path: Path) -> None:
    m = hepsift.rdf.Model(deepsets_onnx)
    assert (m.input_kind, m.input_shape, m.masked, m.per_object, m.n_scores) == ("set", (-1, 3), True, False, 1)
    t = hepsift.rdf.Model(_torch_set_model(tmp_path / "po.onnx", per_object=True))
    assert (t.input_kind, t.masked, t.per_object) == ("set", False, True)


@pytest.mark.parametrize("n_threads", [1, 2])
def test_deep_sets_parity_with_empty_events(ROOT, deepsets_onnx: Path, set_file: Path, sets, n_threads: int) -> None:
    ref = np.concatenate(_set_reference(deepsets_onnx, sets, masked=True))
    assert np.ptp(ref) > 1e-4
    for strategy, batch in [("per-event", None), ("two-pass", 8), ("auto", 8)]:
        with threads(ROOT, n_threads):
            df = ROOT.RDataFrame("Events", str(set_file))
            out = hepsift.rdf.define(df, "score", deepsets_onnx, strategy=strategy, batch_size=batch)  # metadata inputs
            got = out.AsNumpy(["i", "score"])
        order = np.argsort(got["i"])
        np.testing.assert_allclose(got["score"][order], ref, rtol=0, atol=1e-5, err_msg=strategy)
    # max_objects keeps the first objects in collection order.
    ref2 = np.concatenate(_set_reference(deepsets_onnx, sets, masked=True, keep=2))
    df = ROOT.RDataFrame("Events", str(set_file))
    got2 = hepsift.rdf.define(df, "score", deepsets_onnx, inputs=SET_COLS, max_objects=2).AsNumpy(["score"])
    np.testing.assert_allclose(got2["score"], ref2, rtol=0, atol=1e-5)
    assert np.max(np.abs(ref2 - ref)) > 1e-4, "truncation changes some scores"


@pytest.mark.parametrize("n_threads", [1, 2])
def test_per_object_scores_are_aligned_with_the_collection(ROOT, set_file: Path, sets, tmp_path: Path,
                                                           n_threads: int) -> None:
    path = _torch_set_model(tmp_path / "po.onnx", per_object=True)
    ref = _set_reference(path, sets, masked=False)
    with threads(ROOT, n_threads):
        df = ROOT.RDataFrame("Events", str(set_file))
        got = hepsift.rdf.define(df, "PFCand_score", path, inputs=SET_COLS).AsNumpy(["i", "PFCand_score"])
    by_entry = dict(zip(got["i"], got["PFCand_score"]))
    for k in range(NSET):
        n = len(sets["PFCand_pt"][k])
        score = np.asarray(by_entry[k])
        assert len(score) == n
        np.testing.assert_allclose(score, ref[k][:n], rtol=0, atol=1e-5)
    df = ROOT.RDataFrame("Events", str(set_file))
    got = hepsift.rdf.define(df, "s", path, inputs=SET_COLS, max_objects=2).AsNumpy(["s"])["s"]
    for k in range(NSET):
        score = np.asarray(got[k])
        n = len(sets["PFCand_pt"][k])
        assert len(score) == n and np.all(np.isnan(score[2:]))
        np.testing.assert_allclose(score[:2], ref[k][:min(n, 2)], rtol=0, atol=1e-5)


def test_set_errors_name_columns_and_entry(ROOT, deepsets_onnx: Path, set_file: Path, sets,
                                           tmp_path: Path) -> None:
    df = ROOT.RDataFrame("Events", str(set_file))
    df = df.Define("eta2", "rdfentry_ == 4 ? ROOT::VecOps::Concatenate(PFCand_eta, ROOT::RVecF{1.f}) : PFCand_eta")
    out = hepsift.rdf.define(df, "score", deepsets_onnx, inputs=["PFCand_pt", "eta2", "PFCand_charge"])
    with pytest.raises(hepsift.EvaluationError, match=r"'PFCand_pt' \(\d+ values\) and 'eta2' \(\d+ values\) differ "
                                                      r"in length at entry 4"):
        out.Sum("score").GetValue()
    unmasked = _torch_set_model(tmp_path / "sum.onnx", per_object=False)
    out = hepsift.rdf.define(ROOT.RDataFrame("Events", str(set_file)), "score", unmasked, inputs=SET_COLS)
    with pytest.raises(hepsift.EvaluationError, match=r"entry 0 of .*sets.root/Events has no objects in 'PFCand_pt', "
                                                      r".* no 'mask' input"):
        out.Sum("score").GetValue()
    # Events with objects agree with ONNX Runtime; the empty ones are filtered out.
    ok = ROOT.RDataFrame("Events", str(set_file)).Filter("PFCand_pt.size() > 0")
    got = hepsift.rdf.define(ok, "score", unmasked, inputs=SET_COLS).AsNumpy(["i", "score"])
    assert len(got["i"]) == NSET - 2
    ref = _set_reference(unmasked, sets, masked=False)
    np.testing.assert_allclose(got["score"], [ref[k][0] for k in got["i"]], rtol=0, atol=1e-5)
    with pytest.raises(hepsift.ConfigurationError, match=r"cannot be scored in two passes \(it has no 'mask' input\)"):
        hepsift.rdf.define(df, "s2", unmasked, inputs=SET_COLS, strategy="two-pass")
    with pytest.raises(hepsift.ConfigurationError, match="strategy 'stream' cannot score: the node is not the RDataFrame"):
        hepsift.rdf.define(ok, "s2", deepsets_onnx, inputs=SET_COLS, strategy="stream")
    with pytest.raises(hepsift.InputMismatchError, match="takes 3 features per object"):
        hepsift.rdf.define(df, "s2", deepsets_onnx, inputs=SET_COLS[:2])
    with pytest.raises(hepsift.InputMismatchError, match="not vectors: 'i'"):
        hepsift.rdf.define(df, "s2", deepsets_onnx, inputs=["PFCand_pt", "PFCand_eta", "i"])


# --- sets streamed from jagged branches -----------------------------------------------------
@pytest.fixture(scope="module")
def set_chain(sets: dict[str, ak.Array], tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The same events in two files (30 + 20 events) of baskets of 7 entries: blocks of the
    streamed path cross baskets and files."""
    folder = tmp_path_factory.mktemp("chain")
    arrays = {**sets, "i": np.arange(NSET, dtype=np.int32)}
    return [str(write_tree(folder / f"part{k}.root", {c: v[lo:hi] for c, v in arrays.items()}, basket=7))
            for k, (lo, hi) in enumerate([(0, 30), (30, NSET)])]


def _scores_by_entry(df: Any, column: str, per_object: bool) -> dict[int, np.ndarray]:
    """Entry "i" -> its score(s), taken as one column: under ImplicitMT, AsNumpy of several
    columns can return them in different orders."""
    pair = (f"ROOT::VecOps::Concatenate(ROOT::RVecF{{float(i)}}, {column})" if per_object
            else f"ROOT::RVecF{{float(i), {column}}}")
    got = df.Define("__pair", pair).AsNumpy(["__pair"])["__pair"]
    return {int(v[0]): np.asarray(v, dtype=np.float32)[1:] for v in got}


@pytest.mark.parametrize("n_threads", [1, 2])
def test_streamed_set_scores_agree_with_onnx_runtime_event_by_event(ROOT, deepsets_onnx: Path, set_chain: list[str],
                                                                    sets, tmp_path: Path, n_threads: int) -> None:
    """The default path of a set model on jagged branches is streamed; masked per-event,
    unmasked per-event and per-object models agree with ONNX Runtime fed each event alone, with
    empty events, max_objects, across two files and their baskets, in blocks of 4 and 4096."""
    per_object = _torch_set_model(tmp_path / "po.onnx", per_object=True)
    unmasked = _torch_set_model(tmp_path / "sum.onnx", per_object=False)
    empty = [k for k in range(NSET) if len(sets["PFCand_pt"][k]) == 0]
    assert empty == [0, 9]
    for path, masked, keep in [(deepsets_onnx, True, None), (deepsets_onnx, True, 2), (per_object, False, None),
                               (per_object, False, 2), (unmasked, False, None)]:
        ref = _set_reference(path, sets, masked=masked, keep=keep)
        for batch in (4, None):
            with threads(ROOT, n_threads):
                df = ROOT.RDataFrame("Events", set_chain)
                assert hepsift.rdf.strategy_for(df, SET_COLS, batch_size=batch, model=path) == "stream"
                out = hepsift.rdf.define(df, "s", path, inputs=SET_COLS, batch_size=batch, max_objects=keep)
                if path == unmasked:  # cannot score an empty set: only the other events are read
                    out = out.Filter("PFCand_pt.size() > 0")
                got = _scores_by_entry(out, "s", per_object=path == per_object)
            assert sorted(got) == [k for k in range(NSET) if path != unmasked or k not in empty]
            for k, score in got.items():
                n = len(sets["PFCand_pt"][k])
                if path == per_object:  # aligned with the collection, NaN beyond max_objects
                    kept = min(n, keep or n)
                    assert len(score) == n and np.all(np.isnan(score[kept:]))
                    np.testing.assert_allclose(score[:kept], ref[k][:kept], rtol=0, atol=1e-5, err_msg=str(k))
                else:
                    np.testing.assert_allclose(score, ref[k], rtol=0, atol=1e-5, err_msg=f"{path.name} {k}")
    assert np.ptp(np.concatenate(_set_reference(deepsets_onnx, sets, masked=True))) > 1e-4


def test_the_one_rule_chooses_the_path_of_set_models(ROOT, deepsets_onnx: Path, set_chain: list[str],
                                                     tmp_path: Path) -> None:
    per_object = _torch_set_model(tmp_path / "po.onnx", per_object=True)
    df = ROOT.RDataFrame("Events", set_chain)
    choose = hepsift.rdf.strategy_for
    assert choose(df, SET_COLS, model=deepsets_onnx) == "stream"
    assert choose(df, SET_COLS, model=per_object) == "stream"
    assert choose(df, SET_COLS) == "per-event", "as a flat model's inputs, RVec branches do not stream"
    assert choose(df, SET_COLS, batch_size=1, model=deepsets_onnx) == "per-event"
    cut = df.Filter("i % 2 == 0")
    assert choose(cut, SET_COLS, model=deepsets_onnx) == "per-event"
    assert choose(cut, SET_COLS, batch_size=8, model=deepsets_onnx) == "two-pass"
    assert choose(cut, SET_COLS, batch_size=8, model=per_object) == "per-event", "it cannot be padded"
    defined = df.Define("eta", "PFCand_eta * 1.f")
    assert choose(defined, ["PFCand_pt", "eta", "PFCand_charge"], model=deepsets_onnx) == "per-event"
    varied = df.Vary("PFCand_pt", "ROOT::RVec<ROOT::RVecF>{PFCand_pt * 0.9f, PFCand_pt * 1.1f}", ["down", "up"])
    assert choose(varied, SET_COLS, model=deepsets_onnx) == "per-event"
    with pytest.raises(hepsift.ConfigurationError, match=r"'PFCand_pt' has systematic variations"):
        choose(varied, SET_COLS, "stream", model=deepsets_onnx)
    with pytest.raises(hepsift.ConfigurationError, match=r"'eta' is an expression or a Define, not a branch"):
        hepsift.rdf.define(defined, "s", deepsets_onnx, inputs=["PFCand_pt", "eta", "PFCand_charge"],
                           strategy="stream")
    with pytest.raises(hepsift.ConfigurationError, match=r"branch 'i' is not a variable-length array"):
        choose(df, ["PFCand_pt", "PFCand_eta", "i"], "stream", model=deepsets_onnx)
    with pytest.raises(hepsift.ConfigurationError, match=r"two passes \(it gives a score per object\)"):
        choose(df, SET_COLS, "two-pass", 8, model=per_object)
    # Explicit paths are taken as asked, and agree.
    values = {}
    for strategy in ("stream", "per-event", "two-pass"):
        out = hepsift.rdf.define(ROOT.RDataFrame("Events", set_chain), "s", deepsets_onnx, strategy=strategy)
        values[strategy] = out.AsNumpy(["s"])["s"]
    np.testing.assert_allclose(values["stream"], values["per-event"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(values["two-pass"], values["per-event"], rtol=0, atol=1e-6)


def test_streamed_set_errors_name_columns_and_entry(ROOT, deepsets_onnx: Path, sets, tmp_path: Path) -> None:
    """Columns of two collections differ in length at some entry; an empty event cannot be
    scored without a mask; a NaN object: each refused when its entry is scored, naming it."""
    other = {"Muon_pt": ak.concatenate([sets["PFCand_pt"][:5], sets["PFCand_pt"][5:6, :1], sets["PFCand_pt"][6:]]),
             "Muon_q": sets["PFCand_charge"]}  # entry 5 keeps one object; Muon_q has the others' lengths
    eta = ak.to_numpy(ak.flatten(sets["PFCand_eta"])).copy()
    nan_at = int(np.asarray(ak.num(sets["PFCand_eta"]))[:12].sum()) + 1  # object 1 of entry 12
    eta[nan_at] = np.nan
    f = write_tree(tmp_path / "two.root", {**sets, **other, "PFCand_etaNaN": ak.unflatten(eta, ak.num(sets["PFCand_eta"])),
                                           "i": np.arange(NSET, dtype=np.int32)}, basket=16)
    df = ROOT.RDataFrame("Events", str(f))
    out = hepsift.rdf.define(df, "s", deepsets_onnx, inputs=["Muon_pt", "PFCand_eta", "Muon_q"])
    assert len(out.Filter("i < 5").AsNumpy(["s"])["s"]) == 5, "entries before the bad one are scored"
    assert len(sets["PFCand_pt"][5]) > 1
    with pytest.raises(hepsift.EvaluationError, match=r"'Muon_pt' \(1 values\) and 'PFCand_eta' \(\d+ values\) differ "
                                                      r"in length at entry 5 of .*two.root/Events"):
        out.Sum("s").GetValue()
    out = hepsift.rdf.define(ROOT.RDataFrame("Events", str(f)), "s", deepsets_onnx,
                             inputs=["PFCand_pt", "PFCand_etaNaN", "PFCand_charge"])
    with pytest.raises(hepsift.NonFiniteInputError, match=r"'PFCand_etaNaN\[1\]' is NaN at entry 12 of .*two.root"):
        out.Sum("s").GetValue()
    out = hepsift.rdf.define(ROOT.RDataFrame("Events", str(f)), "s", deepsets_onnx, check_finite=False,
                             inputs=["PFCand_pt", "PFCand_etaNaN", "PFCand_charge"])
    assert np.isnan(out.AsNumpy(["s"])["s"][12])
    unmasked = _torch_set_model(tmp_path / "sum.onnx", per_object=False)
    out = hepsift.rdf.define(ROOT.RDataFrame("Events", str(f)), "s", unmasked, inputs=SET_COLS, batch_size=4)
    with pytest.raises(hepsift.EvaluationError, match=r"entry 9 of .*two.root/Events has no objects in 'PFCand_pt'"):
        out.Filter("i > 0").Sum("s").GetValue()


def test_jet_images_of_the_event_loop_feed_the_default_cnn(ROOT, tmp_path: Path) -> None:
    """The README's example: define_jet_image + define of a CNN (seed 001's 2 x 33 x 33 layout)
    on generated events agrees with ONNX Runtime on the NumPy images, event by event."""
    import uproot

    import hepsift.events as gen
    import hepsift.images as im

    f = gen.generate("zprime_tt_had", mass=2000, events=30, output=tmp_path / "top.root", seed=4, chunk_size=30,
                     workers=1, pythia_settings=("PartonLevel:MPI = off",), progress=False, constituents=True)
    ev = uproot.open(f)["Events"].arrays()
    x = im.jet_images(ev, 0)
    path = CNNClassifier(epochs=1, seed=1).fit(x, np.arange(len(x)) % 2).to_onnx(tmp_path / "cnn.onnx")
    assert hepsift.rdf.Model(path).input_shape == (2, 33, 33)
    df = im.define_jet_image(ROOT.RDataFrame("Events", str(f)), "jet0", 0)
    got = hepsift.rdf.define(df, "cnn_score", path, inputs=["jet0"]).AsNumpy(["cnn_score"])["cnn_score"]
    ref = _alone(path, x)
    assert np.ptp(ref) > 1e-4
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-5)
