"""Tests of hepsift.io: ROOT, DarkMachines, UCI HEPMASS/HIGGS and ATLAS HiggsML readers."""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

import hepsift.io as hio
from hepsift.errors import DataError, HepsiftError, MissingBranchError

REPO = Path(__file__).resolve().parents[1]
HIGGSML = REPO.parent / "shared" / "data" / "atlas_higgsml"


def _nano(path: Path, n: int = 4) -> Path:
    """A small NanoAOD-like file without the flat features."""
    jets = ak.Array([[120.0, 80.0, 50.0, 30.0], [60.0], [], [200.0, 90.0, 40.0, 35.0, 26.0]][:n])
    fields = {
        "Jet_pt": jets,
        "Jet_eta": ak.zeros_like(jets) + 0.5,
        "Jet_phi": ak.Array([[0.0, 2.0, -2.0, 1.0], [1.0], [], [0.1, 2.5, -2.0, -1.0, 0.5]][:n]),
        "Jet_mass": ak.zeros_like(jets) + 10.0,
        "Jet_btag": ak.Array([[True, False, False, True], [False], [], [True, True, False, False, False]][:n]),
        "Muon_pt": ak.Array([[40.0], [], [30.0, 20.0], [50.0]][:n]),
        "Muon_eta": ak.Array([[0.1], [], [0.2, -0.3], [1.0]][:n]),
        "Muon_phi": ak.Array([[1.5], [], [0.0, 3.0], [2.0]][:n]),
        "Muon_mass": ak.Array([[0.1], [], [0.1, 0.1], [0.1]][:n]),
    }
    branches = {k: v for k, v in fields.items()}
    branches["MET_pt"] = np.array([50.0, 10.0, 5.0, 70.0][:n], dtype=np.float32)
    branches["MET_phi"] = np.array([0.3, 1.0, 2.0, -1.0][:n], dtype=np.float32)
    branches["weight"] = np.ones(n)
    return hio.write_events(path, branches, provenance={"test": True})


# --- ROOT -------------------------------------------------------------------------------
def test_public_api_is_pinned() -> None:
    assert sorted(hio.__all__) == sorted([
        "read", "read_tree", "check_tree", "read_root", "read_darkmachines", "write_darkmachines", "read_uci",
        "read_hepmass", "read_higgs",
        "read_higgsml",
        "read_provenance", "write_events", "compute_features", "FEATURES", "FEATURE_NAMES",
        "HEPMASS_FEATURES", "HIGGS_FEATURES", "MISSING", "PROVENANCE_KEY",
    ])  # fmt: skip


def test_write_events_nanoaod_layout(tmp_path: Path) -> None:
    path = _nano(tmp_path / "nano.root")
    tree = uproot.open(path)["Events"]
    assert {"nJet", "Jet_pt", "Jet_btag", "nMuon", "Muon_pt", "MET_pt"} <= set(tree.keys())
    assert tree["nJet"].array().tolist() == [4, 1, 0, 5]
    assert hio.read_provenance(path) == {"test": True}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_read_root_branches_and_features(tmp_path: Path) -> None:
    path = _nano(tmp_path / "nano.root")
    ev = hio.read_root(path, ["Jet_pt", "MET_pt"])
    assert ev.fields == ["Jet_pt", "MET_pt"]
    ev = hio.read_root(path, features=True)
    assert set(hio.FEATURES) <= set(ev.fields)
    assert ev.n_jets.tolist() == [4, 1, 0, 5]
    assert ev.n_bjets.tolist() == [2, 0, 0, 2]
    assert ev.jet3_pt.tolist()[1] == hio.MISSING
    assert ev.m_jj.tolist()[1] == hio.MISSING and ev.m_jj.tolist()[0] > 0
    assert ev.n_leptons.tolist() == [1, 0, 2, 1]
    assert ev.ht.tolist()[0] == pytest.approx(280.0)


def test_read_root_errors(tmp_path: Path) -> None:
    path = _nano(tmp_path / "nano.root")
    with pytest.raises(MissingBranchError) as info:
        hio.read_root(path, ["Jet_ptt"])
    assert "Jet_pt" in str(info.value) and "nano.root" in str(info.value)
    with pytest.raises(MissingBranchError, match="Events"):
        hio.read_root(path, tree="Event")
    with pytest.raises(DataError, match="no such file"):
        hio.read_root(tmp_path / "absent.root")
    (tmp_path / "text.root").write_text("hello")
    with pytest.raises(DataError, match="not a readable ROOT file"):
        hio.read_root(tmp_path / "text.root")
    empty = tmp_path / "empty.root"
    with uproot.recreate(empty) as f:
        f.mktree("Events", {"x": np.float32})
    with pytest.raises(DataError, match="empty"):
        hio.read_root(empty)
    # a tree without object branches cannot give features: the missing branch is named
    flat = tmp_path / "flat.root"
    hio.write_events(flat, {"x": np.ones(3)})
    with pytest.raises(MissingBranchError, match="MET_pt"):
        hio.read_root(flat, features=True)


def test_read_any_tree_name(tmp_path: Path) -> None:
    path = tmp_path / "other.root"
    hio.write_events(path, {"a": np.arange(5.0)}, tree="mytree")
    assert hio.read_root(path).a.tolist() == [0, 1, 2, 3, 4]
    assert hio.read(path).a.tolist() == [0, 1, 2, 3, 4]


# --- features ---------------------------------------------------------------------------
def test_features_neutrino_and_masses() -> None:
    # one muon + MET whose W-mass solution is real: m(l nu) is m_W exactly
    ev = {
        "Muon_pt": ak.Array([[40.0]]), "Muon_eta": ak.Array([[0.3]]), "Muon_phi": ak.Array([[0.0]]),
        "Muon_mass": ak.Array([[0.1057]]), "MET_pt": np.array([35.0]), "MET_phi": np.array([2.5]),
        "Jet_pt": ak.Array([[100.0, 90.0, 60.0, 50.0]]), "Jet_eta": ak.Array([[0.0, 0.5, -0.5, 1.0]]),
        "Jet_phi": ak.Array([[0.5, 2.0, -2.0, 3.0]]), "Jet_mass": ak.Array([[10.0, 10.0, 5.0, 5.0]]),
        "Jet_btag": ak.Array([[False, True, False, True]]),
    }  # fmt: skip
    f = hio.compute_features(ev)
    assert list(f) == list(hio.FEATURES)
    assert f["m_lnu"][0] == pytest.approx(80.4, abs=0.01)
    assert f["n_bjets"][0] == 2 and f["n_leptons"][0] == 1
    assert f["jet1_btag"][0] == 0 and f["jet2_btag"][0] == 1
    assert f["m_ll"][0] == hio.MISSING and f["fatjet1_mass"][0] == hio.MISSING
    # the W jets are the two untagged jets: m_jj is their mass
    j = [(100.0, 0.0, 0.5, 10.0), (60.0, -0.5, -2.0, 5.0)]
    p = np.sum([[pt * np.cos(ph), pt * np.sin(ph), pt * np.sinh(eta), np.sqrt((pt * np.cosh(eta)) ** 2 + m**2)]
                for pt, eta, ph, m in j], axis=0)  # fmt: skip
    assert f["m_jj"][0] == pytest.approx(np.sqrt(p[3] ** 2 - p[0] ** 2 - p[1] ** 2 - p[2] ** 2), rel=1e-5)
    for v in f.values():
        assert v.dtype == np.float32 and np.all(np.isfinite(v))


# --- DarkMachines -------------------------------------------------------------------------
DM_TEXT = """\
1;ttbar;0.5;61276.3;-2.6;j,264538,212934,-0.57,2.85;b,152000,100000,0.9,-1.2;e-,50000,40000,0.3,0.2;
2;z_jets;0.25;10000;1.0;m+,60000,55000,-0.2,0.4;m-,45000,42000,0.1,-2.7;g,30000,25000,0.5,1.1;
3;wjets;1.5;85000;0.1;
"""


def test_darkmachines_reader(tmp_path: Path) -> None:
    path = tmp_path / "dm.csv"
    path.write_text(DM_TEXT)
    ev = hio.read_darkmachines(path)
    assert len(ev) == 3
    assert ev.process.tolist() == ["ttbar", "z_jets", "wjets"]
    assert ev.weight.tolist() == [0.5, 0.25, 1.5]
    assert ev.MET_pt.tolist()[0] == pytest.approx(61.2763, rel=1e-6)  # MeV -> GeV
    assert ev.nJet.tolist() == [2, 0, 0]
    assert ev.Jet_pt.tolist()[0] == pytest.approx([212.934, 100.0])  # sorted by pT
    assert ev.Jet_btag.tolist()[0] == [False, True]
    assert ev.Jet_mass[0][0] > 0
    assert ev.Electron_charge.tolist() == [[-1], [], []]
    assert ev.Muon_charge.tolist() == [[], [1, -1], []]
    assert ev.Photon_pt.tolist()[1] == pytest.approx([25.0])
    assert ev.n_bjets.tolist() == [1, 0, 0]
    assert ev.m_ll.tolist()[1] > 0 and ev.m_ll.tolist()[0] == hio.MISSING
    assert hio.read(path).weight.tolist() == [0.5, 0.25, 1.5]
    assert len(hio.read_darkmachines(path, max_events=2)) == 2


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("4;ttbar;1.0;100", "at least 5"),
        ("4;ttbar;x;100;0.1;", "malformed event header"),
        ("4;ttbar;1.0;100;0.1;q,1,2,3,4;", "object 1"),
        ("4;ttbar;1.0;100;0.1;j,1,2,3;", "object 1"),
        ("4;ttbar;1.0;100;0.1;j,1,2,3,4;j,a,2,3,4;", "object 2.*non-numeric"),
    ],
)
def test_darkmachines_malformed_line(tmp_path: Path, line: str, match: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(DM_TEXT + line + "\n")
    with pytest.raises(DataError, match=match) as info:
        hio.read_darkmachines(path)
    assert "bad.csv:4" in str(info.value)


def test_empty_inputs(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    for reader in (hio.read_darkmachines, hio.read_uci, hio.read_higgsml, hio.read):
        with pytest.raises(DataError, match="empty"):
            reader(empty)


# --- UCI HEPMASS / HIGGS --------------------------------------------------------------------
def _uci_rows(n: int, ncol: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows = rng.normal(size=(n, ncol))
    rows[:, 0] = np.arange(n) % 2
    return rows


def test_hepmass_reader(tmp_path: Path) -> None:
    rows = _uci_rows(5, 29)
    rows[:, -1] = [500, 750, 1000, 1250, 1500]
    header = "# label, " + ", ".join(f"f{i}" for i in range(27)) + ", mass"
    path = tmp_path / "hepmass.csv"
    np.savetxt(path, rows, delimiter=",", header=header, comments="", fmt="%.6f")
    ev = hio.read_uci(path)
    assert ev.label.tolist() == [0, 1, 0, 1, 0]
    assert ev.signal_mass.tolist() == [500, 750, 1000, 1250, 1500]
    assert set(hio.HEPMASS_FEATURES) <= set(ev.fields)
    assert ev.m_wwbb.tolist() == pytest.approx(rows[:, 27].tolist(), rel=1e-5)
    assert ev.n_jets.tolist() == pytest.approx(rows[:, 6].tolist(), rel=1e-5)
    assert len(hio.read_hepmass(path, max_events=3)) == 3
    assert hio.read(path).label.tolist() == [0, 1, 0, 1, 0]


def test_higgs_reader(tmp_path: Path) -> None:
    rows = _uci_rows(4, 29)
    path = tmp_path / "HIGGS.csv"
    np.savetxt(path, rows, delimiter=",", fmt="%.6e")
    ev = hio.read_uci(path)
    assert set(hio.HIGGS_FEATURES) <= set(ev.fields) and "signal_mass" not in ev.fields
    assert ev.m_bb.tolist() == pytest.approx(rows[:, 26].tolist(), rel=1e-5)
    assert hio.read_higgs(path).label.tolist() == [0, 1, 0, 1]


def test_uci_malformed_line(tmp_path: Path) -> None:
    rows = _uci_rows(4, 29)
    path = tmp_path / "HIGGS.csv"
    np.savetxt(path, rows, delimiter=",", fmt="%.6e")
    lines = path.read_text().splitlines()
    lines[2] = lines[2].replace(",", ",oops,", 1).split(",oops,")[0] + ",oops," + lines[2].split(",", 2)[2]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"HIGGS.csv:3"):
        hio.read_higgs(path)
    short = tmp_path / "short.csv"
    short.write_text("1,2,3\n")
    with pytest.raises(HepsiftError, match="layout"):
        hio.read_uci(short)


# --- ATLAS HiggsML -----------------------------------------------------------------------------
HIGGSML_HEADER = (
    "EventId,DER_mass_MMC,PRI_tau_pt,PRI_lep_pt,PRI_lep_eta,PRI_lep_phi,PRI_met,PRI_met_phi,"
    "PRI_jet_num,PRI_jet_leading_pt,PRI_jet_all_pt,Weight,Label"
)


def test_higgsml_reader_fixture(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text(
        HIGGSML_HEADER + "\n"
        "100000,138.47,32.6,51.6,2.27,-2.41,16.8,-0.27,2,67.4,113.5,0.0008,s\n"
        "100001,-999.0,42.0,60.0,0.1,1.0,20.0,0.5,0,-999.0,0.0,2.2,b\n"
    )
    ev = hio.read_higgsml(path)
    assert ev.label.tolist() == [1, 0]
    assert ev.event.tolist() == [100000, 100001]
    assert ev.weight.tolist() == [0.0008, 2.2]
    assert ev.lep_pt.tolist() == pytest.approx([51.6, 60.0])
    assert ev.jet1_pt.tolist()[1] == hio.MISSING and ev.DER_mass_MMC.tolist()[1] == hio.MISSING
    assert ev.n_jets.tolist() == [2, 0] and ev.ht.tolist()[0] == pytest.approx(113.5)
    assert hio.read(path).label.tolist() == [1, 0]
    bad = tmp_path / "bad.csv"
    bad.write_text(HIGGSML_HEADER + "\n100000,1,2,3,4,5,6,7,8,9,10,11,s\n100001,1,2,3\n")
    with pytest.raises(DataError, match="bad.csv:3"):
        hio.read_higgsml(bad)
    bad.write_text(HIGGSML_HEADER + "\n100000,1,2,3,4,5,6,7,8,9,10,11,x\n")
    with pytest.raises(DataError, match="bad.csv:2.*Label"):
        hio.read_higgsml(bad)


@pytest.mark.skipif(not HIGGSML.is_dir(), reason="../shared/data/atlas_higgsml not present")
def test_higgsml_real_sample() -> None:
    sig = hio.read_higgsml(HIGGSML / "train_sml_sig.csv")
    bkg = hio.read_higgsml(HIGGSML / "train_sml_bg.csv")
    assert len(sig) == 4999 and len(bkg) == 4999
    assert np.all(sig.label == 1) and np.all(bkg.label == 0)
    jets = np.asarray(bkg.n_jets)
    lead = np.asarray(bkg.jet1_pt)
    assert np.all(lead[jets == 0] == hio.MISSING) and np.all(lead[jets > 0] > 0)
    assert np.all(np.asarray(sig.weight) > 0)
    assert np.all(np.asarray(sig.lep_pt) > 0)
    assert "DER_mass_MMC" in sig.fields and "kaggle_set" in sig.fields
