"""Models of sets of objects and of images: they learn toys whose answer is known, Deep Sets do
not see padding or order, locally connected weights are unshared, the jet tagger's scores are
aligned with the jet collection, and every exported file agrees with ONNX Runtime."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

import hepsift
from conftest import write_tree
from hepsift.export import onnx_predict, read_metadata
from hepsift.metrics import roc_auc
from hepsift.models import CNNClassifier, DeepSetsClassifier, JetTagger, LCNNClassifier, group_by_jet, pad_sets
from hepsift.models.images import locally_connected

SMALL = {"phi_layers": (16, 16), "rho_layers": (16,), "seed": 1}


def set_toy(n: int, seed: int, p_max: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Events of 1..p_max objects (3 features, N(0, 1)); signal events have one object (at a random
    place) whose feature 0 is raised by 4."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p_max, 3)).astype(np.float32)
    counts = rng.integers(1, p_max + 1, n)
    mask = (np.arange(p_max)[None] < counts[:, None]).astype(np.float32)
    y = rng.integers(0, 2, n)
    where = (rng.random(n) * counts).astype(int)
    X[np.arange(n)[y == 1], where[y == 1], 0] += 4.0
    return X, mask, y


@pytest.fixture(scope="module")
def deep_sets():
    X, mask, y = set_toy(1500, 0)
    return DeepSetsClassifier(epochs=6, **SMALL).fit(X, y, mask=mask)


def test_deep_sets_learns_the_set_toy(deep_sets):
    X, mask, y = set_toy(1000, 1)
    assert roc_auc(y, deep_sets.predict_proba(X, mask)[:, 1]) > 0.9


def test_padding_and_order_never_change_a_deep_sets_score(deep_sets, tmp_path):
    X, mask, _ = set_toy(50, 2)
    p5 = deep_sets.predict_proba(X, mask)[:, 1]
    # the same events padded to 50 objects, with NaN in the padding
    X50 = np.full((50, 50, 3), np.nan, dtype=np.float32)
    m50 = np.zeros((50, 50), dtype=np.float32)
    X50[:, :5], m50[:, :5] = np.where(mask[..., None] > 0, X, np.nan), mask
    np.testing.assert_allclose(deep_sets.predict_proba(X50, m50)[:, 1], p5, rtol=0, atol=1e-6)
    # a permutation of the objects of every event (padding moved too)
    perm = np.random.default_rng(3).permutation(5)
    np.testing.assert_allclose(deep_sets.predict_proba(X[:, perm], mask[:, perm])[:, 1], p5, rtol=0, atol=1e-6)
    # the exported file: P is dynamic, padding (NaN) ignored, parity with Python
    path = deep_sets.to_onnx(tmp_path / "ds.onnx")
    np.testing.assert_allclose(onnx_predict(path, {"objects": X, "mask": mask}), p5, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(onnx_predict(path, {"objects": X50, "mask": m50}), p5, rtol=1e-5, atol=1e-5)
    meta = read_metadata(path)
    assert [i["name"] for i in meta["inputs"]] == ["objects", "mask"]
    assert meta["inputs"][0]["shape"] == ["N", "P", 3] and meta["features"] == ["f0", "f1", "f2"]
    assert meta["output_collection"] is None


def test_mean_pooling_divides_by_the_number_of_real_objects():
    X, mask, y = set_toy(400, 4)
    m = DeepSetsClassifier(pooling="mean", epochs=1, **SMALL).fit(X, y, mask=mask)
    one = np.zeros((2, 4, 3), np.float32)
    one[:, :, 0] = 1.5  # the same object once, or four times: the same mean
    np.testing.assert_allclose(m.decision_function(one, np.array([[1, 0, 0, 0], [1, 1, 1, 1]], np.float32))[0],
                               m.decision_function(one, np.array([[1, 0, 0, 0], [1, 1, 1, 1]], np.float32))[1],
                               atol=1e-5)


def test_jagged_awkward_and_root_inputs(tmp_path):
    X, mask, y = set_toy(600, 5)
    counts = mask.sum(axis=1).astype(int)
    jag = {f"Part_{c}": ak.unflatten(X[..., i][mask > 0], counts) for i, c in enumerate(("a", "b", "c"))}
    objects, m, names = pad_sets(jag)
    np.testing.assert_array_equal(m, mask)
    np.testing.assert_array_equal(objects[mask > 0], X[mask > 0])
    assert names == ["Part_a", "Part_b", "Part_c"]
    # max_objects keeps the first objects in collection order
    o2, m2, _ = pad_sets(ak.zip(jag), max_objects=2)
    np.testing.assert_array_equal(o2, np.where(mask[:, :2, None] > 0, X[:, :2], 0))
    assert m2.shape == (600, 2)
    clf = DeepSetsClassifier(inputs=("Part_a", "Part_b", "Part_c"), epochs=1, **SMALL).fit(jag, y)
    assert clf.collection_ == "Part" and clf.feature_names_in_ == ["Part_a", "Part_b", "Part_c"]
    path = write_tree(tmp_path / "parts.root", {k: ak.values_astype(v, np.float32) for k, v in jag.items()})
    from_root = clf.predict_proba(path)[:, 1]
    np.testing.assert_allclose(from_root, clf.predict_proba(X, mask)[:, 1], atol=1e-6)
    meta = read_metadata(clf.to_onnx(tmp_path / "parts.onnx"))
    assert meta["inputs"][0]["collection"] == "Part" and meta["inputs"][0]["columns"] == names
    assert meta["collections"] == {"Part": {"columns": names, "max_objects": 5}}
    # refusals that name what is wrong
    with pytest.raises(hepsift.InputMismatchError, match="Part_x"):
        pad_sets(jag, ["Part_a", "Part_x"])
    with pytest.raises(hepsift.DataError, match="different numbers of objects"):
        pad_sets({"A_a": jag["Part_a"], "A_b": jag["Part_b"][::-1]})
    with pytest.raises(hepsift.DataError, match="mask has shape"):
        clf.predict_proba(X, mask[:, :3])
    with pytest.raises(hepsift.InputMismatchError, match="3 input names for 2 features"):
        clf.predict_proba(X[..., :2], mask)


def image_toy(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Noise images 2 x 12 x 12; signal adds a bright 2 x 2 block at a fixed place of channel 0."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, 2, 12, 12)).astype(np.float32)
    y = rng.integers(0, 2, n)
    x[y == 1, 0, 3:5, 7:9] += 1.5
    return x, y


@pytest.mark.parametrize("cls, layers", [(CNNClassifier, {"conv_layers": ((4, 3),)}),
                                         (LCNNClassifier, {"local_layers": ((4, 3),)})])
def test_image_models_learn_a_bright_pixel_pattern(cls, layers, tmp_path):
    x, y = image_toy(800, 0)
    m = cls(epochs=4, dense_layers=(8,), channels=("charged", "neutral"), seed=2, **layers).fit(x, y)
    xt, yt = image_toy(400, 1)
    p = m.predict_proba(xt)[:, 1]
    assert roc_auc(yt, p) > 0.9
    path = m.to_onnx(tmp_path / "img.onnx")
    np.testing.assert_allclose(onnx_predict(path, xt), p, rtol=1e-5, atol=1e-5)
    meta = read_metadata(path)
    assert meta["inputs"] == [{"name": "images", "kind": "image", "shape": ["N", 2, 12, 12],
                               "channels": ["charged", "neutral"]}]
    with pytest.raises(hepsift.InputMismatchError, match=r"fitted on \(2, 12, 12\)"):
        m.predict_proba(xt[:, :, :10])


def test_seed001_layout_is_the_cnn_default_and_fits_33x33_images():
    from hepsift.models.images import SEED001_LAYOUT, _image_net

    assert CNNClassifier().conv_layers == SEED001_LAYOUT["conv_layers"] == ((32, 4), (32, 3), (32, 3))
    import torch

    net = _image_net((2, 33, 33), SEED001_LAYOUT["conv_layers"], 2, (64,), np.ones(2), local=False)
    flat = [m for m in net.body if isinstance(m, torch.nn.Linear)][0]
    assert flat.in_features == 32 * 2 * 2  # 33 -> 30 -> 15 -> 13 -> 6 -> 4 -> 2


def test_locally_connected_weights_are_unshared():
    import torch

    torch.manual_seed(0)
    layer = locally_connected(2, 3, 6, 7, 3)  # output 3 channels on 4 x 5 positions
    x = torch.randn(4, 2, 6, 7)
    with torch.no_grad():
        before = layer(x).clone()
        # the patch weights of one position (i, j) = (1, 2): only that position's output moves
        layer.weight[1 * 5 + 2] += 0.5
        after = layer(x)
    changed = (after - before).abs().amax(dim=(0, 1)) > 1e-6
    expected = torch.zeros(4, 5, dtype=torch.bool)
    expected[1, 2] = True
    assert torch.equal(changed, expected)
    # against a direct sum over each position's own kernel
    W = layer.weight.detach().reshape(4, 5, 2, 3, 3, 3)
    direct = torch.einsum("ncijab,ijcabo->noij", x.unfold(2, 3, 1).unfold(3, 3, 1), W) + layer.bias.detach()
    torch.testing.assert_close(after, direct, rtol=1e-5, atol=1e-5)


def jet_toy(n: int, seed: int) -> dict[str, ak.Array]:
    """Events with 1-3 jets of 2-6 constituents each and some constituents in no jet (index -1).
    A signal jet (FatJet_truth 1, else 4) has one constituent with pT raised by 30."""
    rng = np.random.default_rng(seed)
    n_jets = rng.integers(1, 4, n)
    truth, cands = [], {"PFCand_pt": [], "PFCand_eta": [], "PFCand_fatJetIdx": []}
    for e in range(n):
        t = rng.choice([1, 4], n_jets[e])
        truth.append(t.tolist())
        idx = np.concatenate([np.full(rng.integers(2, 7), j) for j in range(n_jets[e])] + [np.full(2, -1)])
        rng.shuffle(idx)
        pt = rng.exponential(10.0, len(idx))
        for j in np.flatnonzero(t == 1):
            pt[np.flatnonzero(idx == j)[0]] += 30.0
        cands["PFCand_pt"].append(pt.tolist())
        cands["PFCand_eta"].append(rng.normal(size=len(idx)).tolist())
        cands["PFCand_fatJetIdx"].append(idx.tolist())
    return {"nFatJet": ak.Array(n_jets), "FatJet_truth": ak.Array(truth), **{k: ak.Array(v) for k, v in cands.items()}}


def test_group_by_jet_keeps_collection_order_and_alignment():
    data = {"nFatJet": ak.Array([2, 1]), "PFCand_pt": ak.Array([[1.0, 2.0, 3.0, 4.0], [5.0]]),
            "PFCand_fatJetIdx": ak.Array([[1, 0, -1, 1], [0]])}
    X, m, n_jets, names = group_by_jet(data, ["PFCand_pt"])
    assert names == ["PFCand_pt"] and n_jets.tolist() == [2, 1] and X.shape == (2, 2, 2, 1)
    assert X[0, 0, :, 0].tolist() == [2.0, 0.0] and X[0, 1, :, 0].tolist() == [1.0, 4.0] and X[1, 0, 0, 0] == 5.0
    assert m.tolist() == [[[1, 0], [1, 1]], [[1, 0], [0, 0]]]


def test_jet_tagger_of_one_jet_per_event_is_deep_sets():
    # same network, seed and batches: a tagger of events with one jet learns what Deep Sets learn
    X, mask, y = set_toy(300, 6)
    a = DeepSetsClassifier(epochs=2, **SMALL).fit(X, y, mask=mask)
    b = JetTagger(epochs=2, **SMALL).fit(X[:, None], y[:, None], mask=mask[:, None])
    np.testing.assert_allclose(b.predict_proba(X[:, None], mask[:, None])[:, 0, 1], a.predict_proba(X, mask)[:, 1],
                               rtol=0, atol=1e-6)


def test_jet_tagger_scores_every_jet_of_the_collection(tmp_path):
    data = jet_toy(500, 0)
    label = ak.where(data["FatJet_truth"] == 1, 1, 0)
    tagger = JetTagger(inputs=("PFCand_pt", "PFCand_eta"), epochs=10, batch_size=32, learning_rate=3e-3,
                       **SMALL).fit(data, label)
    test = jet_toy(300, 1)
    jets = tagger.predict_jets(test)
    # one score per jet, in the order of the collection
    assert ak.num(jets).tolist() == test["nFatJet"].tolist()
    truth = ak.flatten(test["FatJet_truth"]).to_numpy()
    assert roc_auc(truth == 1, ak.flatten(jets).to_numpy()) > 0.9
    X, m, n_jets, _ = group_by_jet(test, ["PFCand_pt", "PFCand_eta"])
    p = tagger.predict_proba(X, m)[..., 1]
    assert p.shape == (300, 3) and np.all(p[np.arange(3)[None] >= n_jets[:, None]] == 0)
    np.testing.assert_allclose(ak.flatten(jets).to_numpy(), p[np.arange(3)[None] < n_jets[:, None]], atol=1e-7)
    path = tagger.to_onnx(tmp_path / "tagger.onnx")
    np.testing.assert_allclose(onnx_predict(path, {"objects": X, "mask": m}), p, rtol=1e-5, atol=1e-5)
    # J and P are dynamic in the file: padding to 5 jets of 20 constituents scores the same jets alike
    X5 = np.zeros((300, 5, 20, 2), np.float32)
    m5 = np.zeros((300, 5, 20), np.float32)
    X5[:, :3, :X.shape[2]], m5[:, :3, :X.shape[2]] = X, m
    got = onnx_predict(path, {"objects": X5, "mask": m5})
    np.testing.assert_allclose(got[:, :3], p, rtol=1e-5, atol=1e-5)
    assert np.all(got[:, 3:] == 0)
    meta = read_metadata(path)
    assert meta["output_collection"] == "FatJet" and meta["inputs"][0]["grouped_by"] == "PFCand_fatJetIdx"
    assert meta["inputs"][0]["shape"] == ["N", "J", "P", 2]
    back = hepsift.load(tagger.save(tmp_path / "tagger.hsm"))
    np.testing.assert_array_equal(back.predict_proba(X, m), tagger.predict_proba(X, m))
    with pytest.raises(hepsift.DataError, match="labels 0"):
        JetTagger(epochs=1).fit(X, np.full((300, 3), 2), mask=m)


def test_lowlevel_metadata_refuses_malformed_input_entries():
    from hepsift.export._metadata import lowlevel_metadata

    with pytest.raises(hepsift.ConfigurationError, match="a kind in"):
        lowlevel_metadata(inputs=[{"name": "x", "kind": "table", "shape": ["N"]}])
    with pytest.raises(hepsift.ConfigurationError, match="needs its column names"):
        lowlevel_metadata(inputs=[{"name": "objects", "kind": "objects", "shape": ["N", "P", 2]}])
