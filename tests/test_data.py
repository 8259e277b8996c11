"""hepsift.data.Dataset: ROOT files -> features, labels, weights; missing values; splits; SMOTE."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SHARED_DATA, write_tree

import hepsift
from hepsift.data import MISSING, Dataset


def ntuple(path, n, *, mass, weight, process, seed):
    """A small file in hepsift's schema: flat features with -999 holes, weight, signal_mass."""
    rng = np.random.default_rng(seed)
    n_jets = rng.integers(0, 6, n)
    jet3 = np.where(n_jets >= 3, rng.exponential(40, n) + 20, MISSING).astype(np.float32)
    fat = np.where(rng.random(n) < 0.4, rng.exponential(200, n) + 200, MISSING).astype(np.float32)
    arrays = {
        "lep_pt": (rng.exponential(50, n) + 25 + (mass > 0) * 30).astype(np.float32),
        "met_pt": rng.exponential(60, n).astype(np.float32),
        "n_jets": n_jets.astype(np.float32),
        "jet3_pt": jet3,
        "fatjet1_pt": fat,
        "weight": np.full(n, weight),
        "signal_mass": np.full(n, mass, dtype=np.float32),
        "process": np.full(n, process),
    }
    arrays.pop("process")  # strings: identified by the file mapping instead
    return write_tree(path, arrays)


@pytest.fixture
def files(tmp_path):
    return {
        "ttbar": ntuple(tmp_path / "tt.root", 3000, mass=0.0, weight=0.5, process="ttbar", seed=1),
        "wjets": ntuple(tmp_path / "wj.root", 2000, mass=0.0, weight=2.0, process="wjets", seed=2),
        "zprime_m1000": ntuple(tmp_path / "zp.root", 500, mass=1000.0, weight=0.01, process="zp", seed=3),
    }


def test_from_root_labels_weights_processes(files):
    ds = Dataset.from_root(files, ["lep_pt", "met_pt", "n_jets", "jet3_pt", "fatjet1_pt"], luminosity=100.0)
    assert ds.X.dtype == np.float32 and ds.X.shape == (5500, 5)
    assert ds.y.sum() == 500 and set(np.unique(ds.process)) == {"ttbar", "wjets", "zprime_m1000"}
    y = ds.yields()
    assert y["ttbar"] == pytest.approx(3000 * 0.5 * 100) and y["zprime_m1000"] == pytest.approx(500 * 0.01 * 100)
    assert ds.mass is not None and set(np.unique(ds.mass)) == {0.0, 1000.0}
    assert ds.missing_fraction()["jet3_pt"] > 0.3
    assert "5500 events" in ds.summary()
    # multi-class labels from a process mapping
    multi = Dataset.from_root(files, ["lep_pt", "met_pt"], labels={"ttbar": 0, "wjets": 1, "zprime_m1000": 2})
    assert multi.n_classes == 3 and multi.class_names == ["ttbar", "wjets", "zprime_m1000"]
    # a plain list of files, selection
    sel = Dataset.from_root(list(files.values()), ["lep_pt", "met_pt"], selection="(n_jets >= 2) & (met_pt > 10)")
    assert 0 < len(sel) < 5500


def test_missing_value_policies_and_sanitised(files):
    feats = ["lep_pt", "met_pt", "n_jets", "jet3_pt", "fatjet1_pt"]
    keep = Dataset.from_root(files, feats)
    assert (keep.X == MISSING).any()
    drop_f = keep.sanitise()
    assert drop_f.feature_names == ["lep_pt", "met_pt", "n_jets"] and len(drop_f) == len(keep)
    with pytest.raises(hepsift.ConfigurationError, match="unknown missing-value policy 'drop_features'"):
        Dataset.from_root(files, feats, missing="drop_features")
    drop_e = Dataset.from_root(files, feats, missing="drop_events")
    assert not (drop_e.X == MISSING).any() and len(drop_e) < len(keep)
    # "sanitised" with a required large-R jet keeps fatjet1_pt and drops the other holes
    san = Dataset.from_root(files, "sanitised", require=["fatjet1_pt"])
    assert "fatjet1_pt" in san.feature_names and "jet3_pt" not in san.feature_names
    assert not (san.X == MISSING).any()
    full = Dataset.from_root(files, "full")
    assert full.feature_names == feats  # the hepsift flat features present, in schema order


def test_split_class_weights_smote(files):
    ds = Dataset.from_root(files, ["lep_pt", "met_pt", "n_jets"], luminosity=10.0)
    tr, va, te = ds.split(0.2, validation_size=0.2, seed=4)
    assert len(tr) + len(va) + len(te) == len(ds)
    a, b = ds.split(0.3, seed=4), ds.split(0.3, seed=4)
    np.testing.assert_array_equal(a[0].X, b[0].X)  # seeded
    assert not np.array_equal(ds.split(0.3, seed=5)[0].X, a[0].X)
    for part in (tr, te):  # reweighted to the full expected yields per class
        assert part.weight[part.y == 1].sum() == pytest.approx(ds.weight[ds.y == 1].sum())
    assert abs(te.y.mean() - ds.y.mean()) < 0.01  # stratified
    cw = ds.class_weights()
    bw = ds.balanced_weights()
    assert bw[ds.y == 0].sum() == pytest.approx(bw[ds.y == 1].sum()) and set(cw) == {0, 1}
    sm = ds.smote(seed=1)
    assert (sm.y == 1).sum() == (sm.y == 0).sum() and len(sm) > len(ds)
    assert sm.weight[sm.y == 1].sum() == pytest.approx(ds.weight[ds.y == 1].sum())
    assert any(p.startswith("smote:") for p in np.unique(sm.process))
    np.testing.assert_array_equal(sm.X[: len(ds)], ds.X)
    np.testing.assert_array_equal(ds.smote(seed=1).X, sm.X)


def test_mass_feature_and_arrays():
    X = np.random.default_rng(0).normal(size=(100, 2))
    y = np.r_[np.ones(50), np.zeros(50)]
    ds = Dataset.from_arrays(X, y, mass=np.r_[np.full(50, 500.0), np.zeros(50)], feature_names=["a", "b"])
    m = ds.with_mass_feature("mass", seed=3)
    assert m.feature_names == ["a", "b", "mass"] and set(np.unique(m.X[:, 2])) == {500.0}


def test_bad_inputs(files, tmp_path):
    with pytest.raises(hepsift.DataError, match="no such file"):
        Dataset.from_root([tmp_path / "nope.root"], ["lep_pt"])
    with pytest.raises(hepsift.MissingBranchError,
                       match=r"^no branch 'lep_ptt' in tree 'Events' of '.*tt.root'; did you mean 'lep_pt' or 'met_pt'\? "
                             r"\(7 branches: lep_pt, met_pt, n_jets, "):
        Dataset.from_root(files, ["lep_ptt"])
    with pytest.raises(hepsift.ConfigurationError, match="missing-value policy"):
        Dataset.from_root(files, ["lep_pt"], missing="impute")
    with pytest.raises(hepsift.DataError, match="no entry in labels"):
        Dataset.from_root(files, ["lep_pt"], labels={"ttbar": 0})
    with pytest.raises(hepsift.NonFiniteInputError, match="feature 'f0' holds 1 NaN or infinite"):
        Dataset.from_arrays([[np.nan, 1.0]], [1])
    plain = write_tree(tmp_path / "plain.root", {"x": np.arange(5.0)})
    with pytest.raises(hepsift.MissingBranchError, match="no mass branch"):
        Dataset.from_root([plain], ["x"])
    (tmp_path / "text.root").write_text("not root")
    with pytest.raises(hepsift.DataError, match="not a readable ROOT file"):
        Dataset.from_root([tmp_path / "text.root"], ["x"])


@pytest.mark.skipif(not (SHARED_DATA / "atlas_higgsml").is_dir(), reason="shared HiggsML sample not present")
def test_higgsml_sample():
    ds = Dataset.from_higgsml(SHARED_DATA / "atlas_higgsml")
    assert ds.X.shape == (9998, 30) and ds.y.sum() == 4999
    assert ds.missing_fraction()["PRI_jet_subleading_pt"] > 0.3
    san = Dataset.from_higgsml(SHARED_DATA / "atlas_higgsml", "sanitised")
    assert not (san.X == MISSING).any() and "DER_mass_MMC" not in san.feature_names
