"""Constituents and boosted samples from the generator; jet and event images in NumPy and in
the RDataFrame event loop (identical pixels), their invariants and their errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pythia8mc")
pytest.importorskip("fastjet")

import awkward as ak  # noqa: E402
import uproot  # noqa: E402

import hepsift.events as gen  # noqa: E402
import hepsift.images as im  # noqa: E402
from hepsift.errors import ConfigurationError, DataError, EvaluationError  # noqa: E402
from hepsift.events.detector import JetConfig, _jer  # noqa: E402
from hepsift.io import read_provenance  # noqa: E402

FAST = ("PartonLevel:MPI = off",)
PF = ("PFCand_pt", "PFCand_eta", "PFCand_phi", "PFCand_charge", "PFCand_type", "PFCand_jetIdx", "PFCand_fatJetIdx")


@pytest.fixture(scope="module")
def boosted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny all-hadronic Z' (2 TeV), W' -> W Z (2 TeV) and QCD samples with constituents."""
    out = tmp_path_factory.mktemp("boosted")
    kw = dict(seed=4, chunk_size=30, workers=1, pythia_settings=FAST, progress=False, constituents=True)
    return {
        "top": gen.generate("zprime_tt_had", mass=2000, events=30, output=out / "top.root", **kw),
        "wz": gen.generate("wprime_wz_had", mass=2000, events=30, output=out / "wz.root", **kw),
        "qcd": gen.generate("qcd_boosted", events=30, output=out / "qcd.root", **kw),
    }


def _events(path: Path) -> ak.Array:
    return uproot.open(path)["Events"].arrays()


# --- constituents -----------------------------------------------------------------------
def test_constituent_branches_are_consistent(boosted: dict[str, Path]) -> None:
    pulls: dict[str, list[float]] = {"Jet": [], "FatJet": []}
    for path in boosted.values():
        a = _events(path)
        n = np.asarray(a.nPFCand)
        for name in PF:  # one counter, equal jagged lengths
            assert np.array_equal(np.asarray(ak.num(a[name])), n), name
        types = np.asarray(ak.flatten(a.PFCand_type))
        charge = np.asarray(ak.flatten(a.PFCand_charge))
        assert set(np.unique(types)) <= {1, 2, 3, 4, 5}
        assert np.all(np.abs(charge[np.isin(types, (1, 4, 5))]) == 1)
        assert np.all(charge[np.isin(types, (2, 3))] == 0)
        assert np.all(np.asarray(ak.flatten(a.PFCand_jetIdx[a.PFCand_type == 5])) == -1), "muons are not jet inputs"
        for coll, index in (("Jet", "PFCand_jetIdx"), ("FatJet", "PFCand_fatJetIdx")):
            idx = a[index]
            assert ak.all(idx >= -1) and ak.all(idx < a[f"n{coll}"])
            for e in range(len(a)):
                i = np.asarray(idx[e])
                pt = np.asarray(a.PFCand_pt[e], dtype=np.float64)
                phi = np.asarray(a.PFCand_phi[e], dtype=np.float64)
                for j, jet_pt in enumerate(np.asarray(a[f"{coll}_pt"][e])):
                    m = i == j
                    assert m.any(), f"{coll} {j} of event {e} has no constituent"
                    if coll == "FatJet":
                        assert a.FatJet_nConstituents[e][j] == m.sum()
                    # the vector sum of the constituents is the jet before its energy smearing
                    s = np.hypot(np.sum(pt[m] * np.cos(phi[m])), np.sum(pt[m] * np.sin(phi[m])))
                    pulls[coll].append((jet_pt / s - 1.0) / _jer(JetConfig(), np.array([s]))[0])
    for coll, p in pulls.items():
        p = np.asarray(p)
        assert len(p) > 60, coll
        # jet pT / constituent pT sum follows the configured resolution: mean 0, width 1
        assert abs(np.mean(p)) < 4.0 / np.sqrt(len(p)), (coll, np.mean(p))
        assert 0.75 < np.std(p) < 1.3, (coll, np.std(p))


def test_constituents_change_no_other_branch(tmp_path: Path) -> None:
    kw = dict(events=20, seed=9, chunk_size=20, workers=1, pythia_settings=FAST, progress=False)
    plain = gen.generate("ttbar", output=tmp_path / "plain.root", **kw)
    full = gen.generate("ttbar", output=tmp_path / "full.root", constituents=True, **kw)
    a, b = _events(plain), _events(full)
    assert not any(f.startswith(("PFCand", "nPFCand")) for f in a.fields)
    assert set(b.fields) - set(a.fields) == {"nPFCand", *PF}
    for f in a.fields:
        assert ak.all(ak.ravel(a[f]) == ak.ravel(b[f])), f
    cfg = gen.GenerationConfig("ttbar", events=20, seed=9)
    assert cfg.digest() != gen.GenerationConfig("ttbar", events=20, seed=9, constituents=True).digest()
    with pytest.raises(ConfigurationError, match="constituents must be True or False"):
        gen.GenerationConfig("ttbar", events=20, seed=9, constituents="yes").validated()  # type: ignore[arg-type]


# --- boosted preset ---------------------------------------------------------------------
def test_boosted_preset_and_truth_labels(boosted: dict[str, Path]) -> None:
    assert {p for p, _, _ in gen.PRESETS["boosted"]} == {"zprime_tt_had", "wprime_wz_had", "qcd_boosted"}
    assert "boosted" in gen.core.CONSTITUENT_PRESETS and "demo" not in gen.core.CONSTITUENT_PRESETS
    share = {}
    for name, path in boosted.items():
        a = _events(path)
        lead = np.asarray(ak.flatten(a.FatJet_truth[:, :2]))
        assert len(lead) >= 30, name
        share[name] = {code: float(np.mean(lead == code)) for code in range(6)}
        codes = read_provenance(path)["codes"]  # the files describe their codes
        assert codes["FatJet_truth"]["1"].startswith("top") and codes["PFCand_type"]["3"] == "photon"
        if name == "top":
            mass = np.asarray(ak.flatten(a.FatJet_mass[:, :2]))[lead == 1]
            assert 140.0 < np.median(mass) < 200.0  # contained tops: the top mass
    assert share["top"][1] > 0.4  # 2 TeV Z': most leading large-R jets hold a whole top
    assert share["wz"][2] > 0.25 and share["wz"][3] > 0.25 and share["wz"][1] == 0.0
    assert share["qcd"][4] + share["qcd"][5] > 0.8 and share["qcd"][1] + share["qcd"][2] + share["qcd"][3] < 0.05


def test_nsubjettiness_separates_tops_and_ws_from_qcd(boosted: dict[str, Path]) -> None:
    taus: dict[str, dict[str, np.ndarray]] = {}
    for name, path in boosted.items():
        a = _events(path)
        t = {k: np.asarray(ak.flatten(a[f"FatJet_{k}"][:, :2]), dtype=np.float64) for k in ("tau1", "tau2", "tau3")}
        truth = np.asarray(ak.flatten(a.FatJet_truth[:, :2]))
        assert all(len(v) == len(truth) for v in t.values()) and min(v.min() for v in t.values()) >= 0.0
        assert t["tau1"].max() < 1.0  # every constituent lies within about R0 of the axis
        # winner-take-all axes: the N axes are among the N + 1 axes, so the order always holds
        assert np.all(t["tau3"] <= t["tau2"] * (1 + 1e-6)) and np.all(t["tau2"] <= t["tau1"] * (1 + 1e-6)), name
        code = {"top": 1, "wz": 2, "qcd": (4, 5)}[name]
        sel = np.isin(truth, code)
        taus[name] = {"tau21": t["tau2"][sel] / t["tau1"][sel], "tau32": t["tau3"][sel] / t["tau2"][sel]}
        assert sel.sum() >= 10, name
    median = {n: {k: float(np.median(v)) for k, v in d.items()} for n, d in taus.items()}
    # three prongs in a top jet, two in a W jet, one (plus radiation) in a QCD jet
    assert median["top"]["tau32"] < median["qcd"]["tau32"] - 0.1, median  # 0.54 against 0.81
    assert median["wz"]["tau21"] < median["qcd"]["tau21"] - 0.2, median  # 0.28 against 0.68


# --- images: Python against the event loop ------------------------------------------------
CONFIGS = [
    {},
    {"normalise": "sum", "pixels": (21, 27), "extent": 0.8, "channels": ("all", "photon", (1, 4))},
    {"rotate": False, "flip": False, "jet": 1, "index": "PFCand_jetIdx", "extent": 0.4, "pixels": 16},
]


@pytest.mark.parametrize("n_threads", [1, 2])
def test_python_and_event_loop_images_agree(ROOT, boosted: dict[str, Path], n_threads: int) -> None:
    from conftest import threads

    files = [str(boosted["top"]), str(boosted["qcd"])]  # a chain: two tasks for two threads
    arrays = ak.concatenate([_events(Path(f)) for f in files])
    key = np.asarray(arrays.process_id) * 1000 + np.asarray(arrays.event)
    with threads(ROOT, n_threads):
        df = ROOT.RDataFrame("Events", files)
        cols = ["process_id", "event"]
        for k, cfg in enumerate(CONFIGS):
            cfg = dict(cfg)
            df = im.define_jet_image(df, f"jet{k}", cfg.pop("jet", 0), **cfg)
            cols.append(f"jet{k}")
        df = im.define_event_image(df, "evt", normalise="sum")
        cols.append("evt")
        got = df.AsNumpy(cols)
    order = np.argsort(np.asarray(got["process_id"]) * 1000 + np.asarray(got["event"]))
    assert np.array_equal(np.sort(key), (np.asarray(got["process_id"]) * 1000 + np.asarray(got["event"]))[order])
    arrays = arrays[np.argsort(key)]
    for k, cfg in enumerate(CONFIGS):
        cfg = dict(cfg)
        jet = cfg.pop("jet", 0)
        py = im.jet_images(arrays, jet, **cfg)
        cpp = im.stack_images(got[f"jet{k}"][order], py.shape[1], cfg.get("pixels", 33))
        assert py.shape == cpp.shape and py.dtype == np.float32
        assert np.count_nonzero(py.sum(axis=(1, 2, 3))) > 20, "most events have the jet"
        assert np.max(np.abs(py - cpp)) <= 1e-6 * max(1.0, float(np.max(np.abs(py)))), k
    py = im.event_images(arrays, normalise="sum")
    cpp = im.stack_images(got["evt"][order], 5, 32)
    assert np.max(np.abs(py - cpp)) <= 1e-6
    assert np.allclose(py.sum(axis=(1, 2, 3)), 1.0, atol=1e-5)


# --- image invariants ---------------------------------------------------------------------
def _one_jet(pt: np.ndarray, eta: np.ndarray, phi: np.ndarray, typ: np.ndarray | None = None) -> dict[str, ak.Array]:
    typ = np.ones(len(pt), dtype=np.int32) if typ is None else typ
    return {"PFCand_pt": ak.Array([pt]), "PFCand_eta": ak.Array([eta]), "PFCand_phi": ak.Array([phi]),
            "PFCand_type": ak.Array([typ]), "PFCand_fatJetIdx": ak.Array([np.zeros(len(pt), dtype=np.int32)])}  # fmt: skip


def _moments(img: np.ndarray, extent: float) -> tuple[float, float, float, float, float]:
    """pT-weighted mean u, v and second moments of one image (pixel centres)."""
    h, w = img.shape
    v = -extent + (np.arange(h) + 0.5) * 2 * extent / h
    u = -extent + (np.arange(w) + 0.5) * 2 * extent / w
    uu, vv = np.meshgrid(u, v)
    s = img.sum()
    mu, mv = (img * uu).sum() / s, (img * vv).sum() / s
    return mu, mv, (img * (uu - mu) ** 2).sum() / s, (img * (vv - mv) ** 2).sum() / s, (img * (uu - mu) * (vv - mv)).sum() / s


@pytest.mark.parametrize("angle", [0.3, 1.2, 2.5, -0.9])
def test_image_is_centred_rotated_flipped_and_normalised(angle: float) -> None:
    rng = np.random.default_rng(1)
    n = 400
    a = rng.normal(0, 0.25, n)
    b = rng.normal(0, 0.06, n)
    a[:60] = np.abs(a[:60]) + 0.3  # a tail on one side of the major axis ...
    b[:60] = np.abs(b[:60]) + 0.05  # ... and of the minor axis
    eta = 0.7 + a * np.cos(angle) - b * np.sin(angle)
    phi = 3.0 + a * np.sin(angle) + b * np.cos(angle)  # crosses phi = pi: wrapped
    phi = np.where(phi > np.pi, phi - 2 * np.pi, phi)
    pt = rng.exponential(5.0, n) + 0.5
    keep = (np.abs(a) < 0.85) & (np.abs(b) < 0.85)
    pfc = _one_jet(pt[keep], eta[keep], phi[keep])
    img = im.jet_images(pfc, channels=("all",), normalise="sum")[0, 0]
    assert img.shape == (33, 33)
    assert abs(float(img.sum()) - 1.0) < 1e-6
    mu, mv, cuu, cvv, cuv = _moments(img, 1.0)
    w = 2.0 / 33
    assert abs(mu) <= w / 2 and abs(mv) <= w / 2, "the centroid lies in the centre pixel"
    assert cuu > 5 * cvv and abs(cuv) < 0.05 * cuu, "principal axis along the columns"
    assert img[:, 17:].sum() > img[:, :16].sum() and img[17:, :].sum() > img[:16, :].sum(), "flipped"
    unflipped = im.jet_images(pfc, channels=("all",), normalise="sum", flip=False)[0, 0]
    assert any(np.array_equal(img, m) for m in (unflipped, unflipped[::-1], unflipped[:, ::-1], unflipped[::-1, ::-1]))
    raw = im.jet_images(pfc, channels=("all",), rotate=False, flip=False)[0, 0]
    assert abs(float(raw.sum()) - float(pt[keep].sum())) < 1e-3 * float(pt[keep].sum())


def test_channels_split_by_type_and_empty_jets_give_zeros() -> None:
    pfc = _one_jet(np.array([10.0, 20.0, 30.0, 5.0]), np.array([0.0, 0.1, -0.1, 0.05]),
                   np.array([0.0, 0.1, 0.05, -0.1]), np.array([1, 2, 3, 5], dtype=np.int32))  # fmt: skip
    img = im.jet_images(pfc, channels=("charged", "neutral", "photon", (5,)))[0]
    assert np.allclose(img.sum(axis=(1, 2)), [15.0, 50.0, 30.0, 5.0])
    assert not im.jet_images(pfc, 1).any(), "no jet 1: all zeros"
    # an event image: one jet, one muon, MET at eta = 0
    ev = {"Jet_pt": [[100.0]], "Jet_eta": [[1.0]], "Jet_phi": [[0.5]], "Electron_pt": [[]], "Electron_eta": [[]],
          "Electron_phi": [[]], "Muon_pt": [[40.0]], "Muon_eta": [[-2.0]], "Muon_phi": [[-3.0]], "Photon_pt": [[]],
          "Photon_eta": [[]], "Photon_phi": [[]], "MET_pt": np.array([60.0]), "MET_phi": np.array([3.1])}  # fmt: skip
    e = im.event_images(ev, pixels=(20, 10), extent=5.0)[0]
    h, w = 2 * np.pi / 20, 1.0
    assert e[0, int((0.5 + np.pi) // h), int((1.0 + 5.0) // w)] == 100.0
    assert e[2, int((-3.0 + np.pi) // h), 3] == 40.0 and e[4, int((3.1 + np.pi) // h), 5] == 60.0
    assert e.sum() == 200.0


# --- errors ---------------------------------------------------------------------------------
def test_bad_inputs_raise_typed_errors(ROOT) -> None:
    pfc = _one_jet(np.array([10.0, 20.0]), np.array([0.0, 0.1]), np.array([0.0, 0.1]))
    bad = dict(pfc, PFCand_eta=ak.Array([[0.0]]))
    with pytest.raises(DataError, match="'PFCand_eta' has 1 entries in event 0 but 'PFCand_pt' has 2"):
        im.jet_images(bad)
    with pytest.raises(DataError, match="no column 'PFCand_jetIdx'"):
        im.jet_images(pfc, index="PFCand_jetIdx")
    with pytest.raises(DataError, match="non-finite"):
        im.jet_images(dict(pfc, PFCand_eta=ak.Array([[0.0, np.nan]])))
    with pytest.raises(ConfigurationError, match="unknown channel 'charge'"):
        im.jet_images(pfc, channels=("charge",))
    with pytest.raises(ConfigurationError, match="non-empty"):
        im.jet_images(pfc, channels=())
    with pytest.raises(ConfigurationError, match="codes 1-5"):
        im.jet_images(pfc, channels=((0, 7),))
    with pytest.raises(ConfigurationError, match="pixels"):
        im.jet_images(pfc, pixels=0)
    with pytest.raises(ConfigurationError, match="normalise"):
        im.jet_images(pfc, normalise="max")
    images = im.jet_images(pfc)
    with pytest.raises(DataError, match=r"holds 2178 pixels, expected channels x rows x cols = 3 x 33 x 33 = 3267; "
                                        r"2 channels"):  # fmt: skip
        im.stack_images(list(images.reshape(1, -1)), 3, 33)
    with pytest.raises(ConfigurationError, match="plain identifiers"):
        im.define_jet_image(ROOT.RDataFrame(1), "img", 0, index="PFCand_fatJetIdx; abort()")
    # the same refusals from C++ (typed through hepsift.rdf)
    F, Ii = ROOT.RVec["float"], ROOT.RVec["int"]
    jet_image = ROOT.hepsift.jetImage["float", "int", "int"]
    event_image = ROOT.hepsift.eventImage["float", "float", "float", "float", "double", "double"]
    args = (F([10.0, 20.0]), F([0.0]), F([0.0, 0.1]), Ii([1, 1]), Ii([0, 0]), 0)
    with pytest.raises(EvaluationError, match="column 'eta' has 1 entries but 'pt' has 2"):
        jet_image(*args)
    cfg = ROOT.hepsift.JetImageConfig()
    cfg.channels.clear()
    with pytest.raises(ConfigurationError, match="no channels"):
        jet_image(F([1.0]), F([0.0]), F([0.0]), Ii([1]), Ii([0]), 0, cfg)
    with pytest.raises(EvaluationError, match=r"eventImage \(Muon\): column 'phi' has 0 entries but 'pt' has 1"):
        event_image(F([1.0]), F([0.0]), F([0.0]), F(), F(), F(), F([1.0]), F([0.0]), F(), F(), F(), F(), 1.0, 0.0)


def test_cli_stores_constituents_on_request(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "python")}
    cmd = [sys.executable, "-m", "hepsift.cli", "generate", "--process", "qcd_boosted", "--events", "5", "--workers", "1",
           "--set", "PartonLevel:MPI = off", "--no-progress", "--constituents", "-o", "q.root"]  # fmt: skip
    r = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    a = _events(tmp_path / "q.root")
    assert "PFCand_fatJetIdx" in a.fields and ak.sum(a.nPFCand) > 100
    r = subprocess.run([sys.executable, "-m", "hepsift.cli", "generate", "--list"], env=env, capture_output=True, text=True)
    assert "boosted" in r.stdout and "wprime_wz_had" in r.stdout


# --- validation: the labels against the physics --------------------------------------------
@pytest.mark.validation
def test_validation_labelled_fatjet_masses_match_top_w_z(tmp_path: Path) -> None:
    # without the underlying event: ungroomed R = 1.0 jets gain about 20 GeV of mass from it
    # at 13 TeV (W median 86 -> 109 GeV in 200 events), which would hide the W-Z difference
    kw = dict(mass=2000, events=400, seed=21, chunk_size=200, workers=2, progress=False, pythia_settings=FAST)
    top = _events(gen.generate("zprime_tt_had", output=tmp_path / "t.root", **kw))
    wz = _events(gen.generate("wprime_wz_had", output=tmp_path / "wz.root", **kw))
    median = {}
    for arrays, code in ((top, 1), (wz, 2), (wz, 3)):
        truth = np.asarray(ak.flatten(arrays.FatJet_truth[:, :2]))
        mass = np.asarray(ak.flatten(arrays.FatJet_mass[:, :2]))[truth == code]
        assert len(mass) > 150, code
        median[code] = float(np.median(mass))
    assert 160.0 < median[1] < 195.0, median
    assert 75.0 < median[2] < 95.0 and 85.0 < median[3] < 108.0, median
    assert 4.0 < median[3] - median[2] < 25.0, median  # m_Z - m_W = 11 GeV
