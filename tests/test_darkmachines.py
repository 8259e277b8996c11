"""DarkMachines challenge CSV files straight to a Dataset."""

from __future__ import annotations

import json
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
    with pytest.raises(MissingBranchError, match="no feature 'met_ptt' in DarkMachines file .*; did you mean 'met_pt'"):
        Dataset.from_darkmachines(files, process_labels=LABELS, features=["met_ptt"])
    with pytest.raises(ConfigurationError, match="process_labels is empty"):
        Dataset.from_darkmachines(files, process_labels={})


def test_background_only_labels_every_event_zero(files):
    ds = Dataset.from_darkmachines(files, process_labels=None, features=["met_pt"])
    assert ds.y.tolist() == [0] * 5 and ds.class_names == ["ttbar+z_jets+wjets+glgl1400_neutralino1100"]


def test_gzip_files_read_as_the_text(files, tmp_path):
    import gzip

    packed = tmp_path / "bkg.csv.gz"
    packed.write_bytes(gzip.compress(files[0].read_bytes()))
    plain, zipped = hio.read_darkmachines(files[0]), hio.read(packed)
    assert zipped.fields == plain.fields and zipped["met_pt"].tolist() == plain["met_pt"].tolist()
    (tmp_path / "junk.csv").write_bytes(b"\x1f\x8b\x08\x00broken")
    with pytest.raises(DataError, match="junk.csv: not a DarkMachines CSV text file"):
        hio.read_darkmachines(tmp_path / "junk.csv")


# ---- hepsift train / hepsift anomaly on DarkMachines files --------------------------------
def _event(rng, i: int, process: str, weight: float, signal: bool) -> str:
    """One line: signal has large MET and hard jets, background soft ones (MeV)."""
    met = rng.normal(400e3, 60e3) if signal else rng.exponential(40e3)
    objects = []
    for _ in range(rng.integers(3, 6) if signal else rng.integers(0, 3)):
        pt = rng.normal(250e3, 50e3) if signal else 30e3 + rng.exponential(40e3)
        eta = rng.uniform(-2.5, 2.5)
        objects.append(f"{rng.choice(['j', 'b'], p=[0.8, 0.2])},{pt * np.cosh(eta) * 1.01:.1f},{pt:.1f},{eta:.3f},"
                       f"{rng.uniform(-np.pi, np.pi):.3f}")
    if rng.random() < 0.3:
        objects.append(f"m-,{60e3:.1f},{50e3:.1f},0.5,1.0")
    return ";".join([str(i), process, f"{weight:g}", f"{abs(met):.1f}", f"{rng.uniform(-np.pi, np.pi):.3f}",
                     *objects]) + ";\n"


@pytest.fixture
def dm_files(tmp_path: Path) -> dict[str, Path]:
    """600 background (ttbar, wjets) and 150 signal events, separable by MET and jet p_T."""
    rng = np.random.default_rng(7)
    bkg = "".join(_event(rng, i, ["ttbar", "wjets"][i % 2], [0.5, 2.0][i % 2], False) for i in range(600))
    sig = "".join(_event(rng, i, "glgl1400_neutralino1100", 0.01, True) for i in range(150))
    (tmp_path / "bkg.csv").write_text(bkg)
    (tmp_path / "sig.txt").write_text(sig)  # no .csv suffix: recognised by its first line
    return {"bkg": tmp_path / "bkg.csv", "sig": tmp_path / "sig.txt", "tmp": tmp_path}


DM_LABELS = "ttbar=0,wjets=0,glgl1400_neutralino1100=1"


def _cli(*argv):
    import sys

    from conftest import run

    return run([sys.executable, "-m", "hepsift.cli", *map(str, argv)], timeout=300)


def test_train_cli_on_darkmachines_files(dm_files):
    from hepsift.export import onnx_predict, read_metadata
    from sklearn.metrics import roc_auc_score

    files, out = [dm_files["bkg"], dm_files["sig"]], dm_files["tmp"] / "trained"
    res = _cli("train", *files, "--process-labels", DM_LABELS, "--model", "bdt", "--param", "n_estimators=20",
               "--objects", "Jet=2", "--luminosity", "10", "-o", out, "--seed", "1")
    assert res.returncode == 0, res.stderr
    expected = Dataset.from_darkmachines(files, process_labels={"ttbar": 0, "wjets": 0, "glgl1400_neutralino1100": 1},
                                         objects={"Jet": 2}, luminosity=10.0)
    meta = read_metadata(out / "model.onnx")
    assert meta["features"] == expected.feature_names and {"met_pt", "Jet1_pt", "Jet2_btag"} <= set(meta["features"])
    score = onnx_predict(out / "model.onnx", expected.X)
    assert roc_auc_score(expected.y, score) > 0.8 and len(expected) == 750
    assert "class 1 (glgl1400_neutralino1100): 150 events, expected 15" in res.stdout  # 150 x 0.01 x 10


def test_anomaly_cli_on_darkmachines_files(dm_files):
    from hepsift.export import onnx_predict, read_metadata

    out, tmp = dm_files["tmp"] / "hbos.onnx", dm_files["tmp"]
    res = _cli("anomaly", dm_files["bkg"], "--detector", "hbos", "--features", "met_pt,ht,n_jets", "-o", out,
               "--seed", "2")
    assert res.returncode == 0, res.stderr
    assert "trained on 600 events, 3 features (met_pt, ht, n_jets)" in res.stdout
    meta = read_metadata(out)
    assert meta["kind"] == "anomaly" and meta["features"] == ["met_pt", "ht", "n_jets"]
    # 120 calibration events (20 %) resolve a background efficiency of 1e-2; the cut keeps about that
    # fraction of the whole background
    cut = meta["thresholds"]["1e-2"]
    assert f"background efficiency 1e-2: score > {cut:.6g}" in res.stdout
    bkg = Dataset.from_darkmachines(dm_files["bkg"], process_labels=None, features=meta["features"])
    assert 0 < np.mean(onnx_predict(out, bkg.X) > cut) < 0.04
    # with labels (here from a JSON file): the background (label 0) of a mixed file list only;
    # a gzip-compressed file is read as the text
    import gzip
    import json

    (tmp / "labels.json").write_text(json.dumps({"ttbar": 0, "wjets": 0, "glgl1400_neutralino1100": 1}))
    (tmp / "bkg.csv.gz").write_bytes(gzip.compress(dm_files["bkg"].read_bytes()))
    both = _cli("anomaly", dm_files["sig"], tmp / "bkg.csv.gz", "--process-labels", tmp / "labels.json",
                "--features", "met_pt", "-o", tmp / "b.onnx")
    assert both.returncode == 0, both.stderr
    assert "trained on 600 events, 1 features (met_pt)" in both.stdout
    few = _cli("anomaly", dm_files["bkg"], "--features", "met_pt", "--max-events", "250", "-o", tmp / "c.onnx")
    assert few.returncode == 0 and "trained on 250 events" in few.stdout, few.stderr


def test_tune_cli_on_darkmachines_files(dm_files):
    """The search reads the labels, weights and features of the files (the summary it prints), and its
    trials are those of the library's search on the same events."""
    from hepsift.models import make
    from hepsift.tune import GeneticSearch

    files, out = [dm_files["bkg"], dm_files["sig"]], dm_files["tmp"] / "tuned"
    res = _cli("tune", *files, "--process-labels", DM_LABELS, "--features", "met_pt", "ht", "--objects", "Jet=1",
               "--model", "bdt", "--pool", "max_depth=[1,3]", "--pool", "n_estimators=[3,20]", "--population", "3",
               "--parents", "1", "--generations", "2", "--luminosity", "10", "--seed", "4", "--no-progress", "-o", out)
    assert res.returncode == 0, res.stderr
    assert "750 events, 7 features, luminosity 10 pb^-1" in res.stdout  # met_pt, ht and Jet1_{pt,eta,phi,mass,btag}
    assert "class 0 (ttbar+wjets): 600 events, expected 7500" in res.stdout  # 300 x (0.5 + 2.0) x 10
    assert "class 1 (glgl1400_neutralino1100): 150 events, expected 15" in res.stdout
    ds = Dataset.from_darkmachines(files, process_labels={"ttbar": 0, "wjets": 0, "glgl1400_neutralino1100": 1},
                                   features=["met_pt", "ht"], objects={"Jet": 1}, luminosity=10.0)
    train, val = ds.split(0.3, seed=4)
    ref = GeneticSearch(make("bdt", seed=4), {"max_depth": [1, 3], "n_estimators": [3, 20]}, population=3, n_parents=1,
                        generations=2, mutation_rate=0.1, objective="auc", seed=4, progress=False)
    expected = ref.run(train.X, train.y, val.X, val.y, train.balanced_weights(), val.weight)
    assert f"best auc = {expected.best_objective:.4f} with {expected.best_params}" in res.stdout
    assert expected.best_objective > 0.95  # MET and H_T separate the two (on zeros it would be 0.5)
    trials = json.loads((out / "trials.json").read_text())["trials"]
    assert [t["objective"] for t in trials] == pytest.approx([t.objective for t in expected.trials], rel=1e-12)


def test_cli_refusals_on_darkmachines_files(dm_files, tmp_path):
    from conftest import write_tree

    root = write_tree(tmp_path / "r.root", {"met_pt": np.ones(10, np.float32)})
    bkg, sig, out = dm_files["bkg"], dm_files["sig"], tmp_path / "o"
    cases = [
        (("train", bkg, sig, "-o", out), 2, "DarkMachines CSV input needs --process-labels"),
        (("train", bkg, root, "--process-labels", DM_LABELS, "-o", out), 2,
         f"ROOT and DarkMachines CSV inputs cannot be mixed in one call (ROOT: {root}; DarkMachines: {bkg})"),
        (("train", root, "--process-labels", DM_LABELS, "-o", out), 2,
         "--process-labels applies to DarkMachines CSV input only; the inputs are ROOT files"),
        (("train", bkg, sig, "--process-labels", "ttbar=0,glgl1400_neutralino1100=1", "-o", out), 1,
         "process ID(s) ['wjets'] have no entry in process_labels"),
        (("train", bkg, "--process-labels", "ttbar=zero", "-o", out), 2,
         "the label of process 'ttbar' must be an integer >= 0, got 'zero'"),
        (("anomaly", bkg, "--objects", "Tau=2", "-o", tmp_path / "a.onnx"), 2, "unknown collection 'Tau'"),
        (("anomaly", bkg, "--tree", "Events", "-o", tmp_path / "a.onnx"), 2, "--tree applies to ROOT input only"),
        (("anomaly", root, "--unit", "GeV", "-o", tmp_path / "a.onnx"), 2,
         "--unit applies to DarkMachines CSV input only"),
        (("anomaly", bkg, "--process-labels", "ttbar=1,wjets=1", "-o", tmp_path / "a.onnx"), 1,
         "has label 0 in --process-labels"),
    ]
    for argv, code, needle in cases:
        res = _cli(*argv)
        lines = res.stderr.strip().splitlines()
        assert (res.returncode, len(lines)) == (code, 1) and needle in lines[0], (argv, res.stderr)
    assert not out.exists() and not (tmp_path / "a.onnx").exists()
