"""DarkMachines challenge CSV files straight to a Dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import hepsift.io as hio
from hepsift.data import Dataset
from hepsift.errors import ConfigurationError, DataError, MissingBranchError

BACKGROUND = """\
1;ttbar;0.5;61276.3;-2.6;j,264538,212934,-0.57,2.85;b,152000,100000,0.9,-1.2;e-,50000,40000,0.3,0.2;
2;z_jets;0.25;10000;1.0;m+,60000,55000,-0.2,0.4;m-,45000,42000,0.1,-2.7;g,30000,25000,0.5,1.1;
3;wjets;1.5;85000;0.1;
"""
SIGNAL = """\
7;glgl1400_neutralino1100;0.002;450000;0.3;j,900000,700000,0.2,1.0;j,500000,300000,-1.0,-2.0;j,90000,80000,2.0,0.5;
8;glgl1400_neutralino1100;0.002;380000;-1.2;b,400000,350000,0.1,3.0;
"""
LABELS = {"ttbar": 0, "z_jets": 0, "wjets": 0, "glgl1400_neutralino1100": 1}


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    (tmp_path / "bkg.csv").write_text(BACKGROUND)
    (tmp_path / "sig.csv").write_text(SIGNAL)
    return [tmp_path / "bkg.csv", tmp_path / "sig.csv"]


def test_labels_weights_and_flat_features(files):
    ds = Dataset.from_darkmachines(files, process_labels=LABELS, features=["met_pt", "MET_phi", "nJet", "n_bjets"],
                                   luminosity=10.0)
    assert ds.y.tolist() == [0, 0, 0, 1, 1]
    assert ds.process.tolist() == ["ttbar", "z_jets", "wjets", "glgl1400_neutralino1100", "glgl1400_neutralino1100"]
    np.testing.assert_allclose(ds.weight, 10.0 * np.array([0.5, 0.25, 1.5, 0.002, 0.002]))
    assert ds.class_names == ["ttbar+z_jets+wjets", "glgl1400_neutralino1100"]
    assert ds.feature_names == ["met_pt", "MET_phi", "nJet", "n_bjets"]
    np.testing.assert_allclose(ds.X[:, 0], [61.2763, 10.0, 85.0, 450.0, 380.0], rtol=1e-6)  # MeV -> GeV
    np.testing.assert_allclose(ds.X[:, 1], [-2.6, 1.0, 0.1, 0.3, -1.2], rtol=1e-6)
    assert ds.X[:, 2].tolist() == [2, 0, 0, 3, 1] and ds.X[:, 3].tolist() == [1, 0, 0, 0, 1]
    assert ds.yields() == pytest.approx({"ttbar": 5.0, "z_jets": 2.5, "wjets": 15.0, "glgl1400_neutralino1100": 0.04})


def test_full_features_match_the_reader(files):
    ds = Dataset.from_darkmachines(files, process_labels=LABELS)
    events = [hio.read_darkmachines(f) for f in files]
    assert ds.feature_names == [f for f in hio.FEATURE_NAMES if f in events[0].fields]
    for j, name in enumerate(ds.feature_names):
        expected = np.concatenate([np.asarray(e[name], dtype=np.float32) for e in events])
        np.testing.assert_array_equal(ds.X[:, j], expected)
    sanitised = Dataset.from_darkmachines(files, process_labels=LABELS, features="sanitised")
    assert (sanitised.X != hio.MISSING).all() and set(sanitised.feature_names) < set(ds.feature_names)


def test_leading_objects_as_padded_columns(files):
    ds = Dataset.from_darkmachines(files, process_labels=LABELS, features=["met_pt"], objects={"Jet": 2, "Muon": 1})
    col = {n: ds.X[:, i] for i, n in enumerate(ds.feature_names)}
    np.testing.assert_allclose(col["Jet1_pt"], [212.934, -999, -999, 700.0, 350.0], rtol=1e-6)
    np.testing.assert_allclose(col["Jet2_pt"], [100.0, -999, -999, 300.0, -999], rtol=1e-6)
    assert col["Jet1_btag"].tolist() == [0, -999, -999, 0, 1] and col["Jet2_btag"].tolist()[0] == 1
    np.testing.assert_allclose(col["Muon1_pt"], [-999, 55.0, -999, -999, -999], rtol=1e-6)
    assert col["Muon1_charge"].tolist()[1] == 1
    assert Dataset.from_darkmachines(files, process_labels=LABELS, features=["met_pt"], objects={"Jet": 2},
                                     missing="drop_events").process.tolist() == ["ttbar"] + ["glgl1400_neutralino1100"]


def test_refusals(files):
    with pytest.raises(DataError, match=r"process ID\(s\) \['z_jets'\] have no entry"):
        Dataset.from_darkmachines(files, process_labels={k: v for k, v in LABELS.items() if k != "z_jets"})
    with pytest.raises(ConfigurationError, match="unknown object collection 'Tau'"):
        Dataset.from_darkmachines(files, process_labels=LABELS, objects={"Tau": 1})
    with pytest.raises(MissingBranchError, match="no branch 'met_ptt' \\(nearest: met_pt"):
        Dataset.from_darkmachines(files, process_labels=LABELS, features=["met_ptt"])
    with pytest.raises(ConfigurationError, match="process_labels is empty"):
        Dataset.from_darkmachines(files, process_labels={})
