"""Tests of hepsift.events: physics sanity, determinism, reuse, atomic output, errors, CLI.

The default run uses small samples with multiple parton interactions switched off (four
times faster Pythia); the ``validation`` suite repeats the physics checks on the default
configuration with larger samples.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pythia8mc")
pytest.importorskip("fastjet")

import hepsift.events as gen  # noqa: E402
from hepsift.errors import ConfigurationError, HepsiftError  # noqa: E402
from hepsift.io import FEATURES, read_provenance, read_root  # noqa: E402

FAST = ("PartonLevel:MPI = off",)
#: t tbar -> (W+ -> e/mu nu) (W- -> q q'): every event semileptonic.
SEMILEPTONIC = ("24:onMode = off", "24:onPosIfAny = 11 13", "24:onNegIfAny = 1 2 3 4 5")
REPO = Path(__file__).resolve().parents[1]


def _pythia_sigma(settings: list[str], n: int = 4000, seed: int = 7) -> tuple[float, float]:
    """Pythia's own cross-section (pb) for the hard process of ``settings``."""
    import pythia8mc

    py = pythia8mc.Pythia("", False)
    for s in [*gen.processes.BEAM_SETTINGS, "Print:quiet = on", "PartonLevel:all = off",
              "HadronLevel:all = off", "Random:setSeed = on", f"Random:seed = {seed}", *settings]:  # fmt: skip
        assert py.readString(s), s
    assert py.init()
    for _ in range(n):
        py.next()
    info = py.infoPython()
    return info.sigmaGen() * 1e9, info.sigmaErr() * 1e9


def _peak(values: np.ndarray, lo: float, hi: float, width: float) -> float:
    """Centre of the most populated bin of a histogram smoothed over three bins."""
    h, edges = np.histogram(values, bins=np.arange(lo, hi + width, width))
    smooth = np.convolve(h, [1, 1, 1], mode="same")
    i = int(np.argmax(smooth))
    return 0.5 * (edges[i] + edges[i + 1])


@pytest.fixture(scope="module")
def ttbar_semilep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tt") / "tt.root"
    return gen.generate("ttbar", events=2000, seed=11, output=out, chunk_size=500, workers=2,
                        pythia_settings=FAST + SEMILEPTONIC, progress=False)  # fmt: skip


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tiny") / "tiny.root"
    return gen.generate("ttbar", events=60, seed=5, output=out, chunk_size=30, workers=1,
                        pythia_settings=FAST, progress=False)  # fmt: skip


# --- API surface ------------------------------------------------------------------------
def test_public_api_is_pinned() -> None:
    assert sorted(gen.__all__) == sorted([
        "generate", "generate_many", "generate_preset", "demo_dataset", "sample_name",
        "GenerationConfig", "PRESETS", "PROCESSES", "Process", "get_process", "list_processes",
        "DetectorConfig", "ElectronConfig", "MuonConfig", "PhotonConfig", "JetConfig",
        "FatJetConfig", "BTagConfig", "MetConfig", "nsubjettiness",
    ])  # fmt: skip


def test_processes_cover_backgrounds_and_signals() -> None:
    names = gen.list_processes()
    for name in ("ttbar", "wjets", "zjets", "diboson", "qcd", "zprime_tt", "tprime_pair", "wprime_lnu"):
        assert name in names
    assert gen.PROCESSES["zprime_tt"].masses == (500.0, 750.0, 1000.0, 1250.0, 1500.0)
    assert gen.PROCESSES["tprime_pair"].masses == (1000.0, 1200.0, 1400.0)
    assert len({p.pid for p in gen.PROCESSES.values()}) == len(gen.PROCESSES)
    assert len(gen.PROCESSES["qcd"].slices) > 1


def test_configs_round_trip_json() -> None:
    det = gen.DetectorConfig()
    det.btag.eff_b = 0.77
    cfg = gen.GenerationConfig("zprime_tt", events=10, seed=3, mass=750.0, pythia_settings=FAST, detector=det)
    back = gen.GenerationConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert back == cfg
    assert back.detector.btag.eff_b == 0.77
    assert back.digest() == cfg.digest()
    with pytest.raises(ConfigurationError, match="unknown field"):
        gen.DetectorConfig.from_dict({"bogus": 1})


# --- bad input --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"process": "zprime_ttt"}, r"no process 'zprime_ttt'; did you mean 'zprime_tt'[^?]*\? \(12 processes: ttbar, "),
        ({"process": "zprime_tt", "mass": -500.0}, "mass must be positive"),
        ({"process": "zprime_tt", "mass": 50.0}, "outside the range"),
        ({"process": "ttbar", "mass": 1000.0}, "background"),
        ({"process": "ttbar", "events": 0}, "events must be a positive integer"),
        ({"process": "ttbar", "seed": -1}, "seed"),
    ],
)
def test_bad_configuration_raises(tmp_path: Path, kwargs: dict, match: str) -> None:
    args = {"events": 10, "seed": 1, "output": tmp_path / "x.root", **kwargs}
    with pytest.raises(ConfigurationError, match=match):
        gen.generate(**args)
    assert not (tmp_path / "x.root").exists()


def test_unwritable_output_raises(tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigurationError, match="cannot write"):
        gen.generate("ttbar", events=5, seed=1, output=blocker / "sub" / "out.root", progress=False)
    if os.geteuid() != 0:  # root can write anywhere
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        try:
            with pytest.raises(ConfigurationError, match="cannot write"):
                gen.generate("ttbar", events=5, seed=1, output=ro / "out.root", progress=False)
        finally:
            ro.chmod(0o700)


def test_bad_pythia_setting_raises(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="Pythia rejected"):
        gen.generate("ttbar", events=5, seed=1, output=tmp_path / "x.root", workers=1,
                     pythia_settings=["NoSuchThing:at = all"], progress=False)  # fmt: skip
    with pytest.raises(ConfigurationError, match="seed="):
        gen.generate("ttbar", events=5, seed=1, output=tmp_path / "x.root", pythia_settings=["Random:seed = 3"])
    with pytest.raises(ConfigurationError, match="unknown preset"):
        gen.generate_preset("nope", tmp_path)


# --- file content -----------------------------------------------------------------------
def test_file_schema_and_provenance(tiny: Path) -> None:
    import awkward as ak
    import uproot

    tree = uproot.open(tiny)["Events"]
    names = set(tree.keys())
    for b in ("nJet", "Jet_pt", "Jet_eta", "Jet_phi", "Jet_mass", "Jet_btag", "Jet_hadronFlavour",
              "nFatJet", "FatJet_pt", "FatJet_mass", "FatJet_tau1", "FatJet_tau2", "FatJet_tau3", "nElectron", "Electron_pt", "Electron_charge",
              "nMuon", "Muon_pt", "nPhoton", "Photon_pt", "MET_pt", "MET_phi", "weight",
              "process_id", "signal_mass", "event"):  # fmt: skip
        assert b in names, b
    assert set(FEATURES) <= names
    assert tree.num_entries == 60
    arrays = tree.arrays(["nJet", "Jet_pt", "weight", "process_id", "signal_mass"])
    assert np.all(np.asarray(arrays.nJet) == np.asarray([len(x) for x in arrays.Jet_pt]))
    assert ak.all(arrays.Jet_pt[:, 1:] <= arrays.Jet_pt[:, :-1]), "jets sorted by decreasing pT"
    assert np.all(arrays.process_id == gen.PROCESSES["ttbar"].pid)
    assert np.all(arrays.signal_mass == 0)
    prov = read_provenance(tiny)
    from hepsift._version import __version__

    assert prov["hepsift_version"] == __version__
    assert prov["seed"] == 5 and prov["events_generated"] == 60 and prov["process"] == "ttbar"
    assert "PartonLevel:MPI = off" in prov["slices"][0]["settings"]
    assert "Top:gg2ttbar = on" in prov["slices"][0]["settings"]
    assert prov["detector"] == gen.DetectorConfig().to_dict()
    assert prov["xsec_pb"] > 0 and prov["xsec_err_pb"] > 0
    assert prov["pythia_version"].startswith("8.3")
    # weight: cross-section / generated events (pb)
    assert np.isclose(np.sum(arrays.weight), prov["xsec_pb"], rtol=1e-9)
    assert str(uproot.open(tiny)["process"]) == "ttbar"


def test_same_seed_same_content_and_worker_independent(tmp_path: Path, tiny: Path) -> None:
    again = gen.generate("ttbar", events=60, seed=5, output=tmp_path / "again.root", chunk_size=30,
                         workers=2, pythia_settings=FAST, progress=False)  # fmt: skip
    import awkward as ak

    a, b = read_root(tiny), read_root(again)
    assert a.fields == b.fields
    for f in a.fields:
        assert np.array_equal(np.asarray(ak.flatten(a[f], axis=None)), np.asarray(ak.flatten(b[f], axis=None))), f
    pa, pb = read_provenance(tiny), read_provenance(again)
    assert pa == pb


def test_different_seed_differs(tmp_path: Path, tiny: Path) -> None:
    other = gen.generate("ttbar", events=60, seed=6, output=tmp_path / "other.root", chunk_size=30,
                         workers=1, pythia_settings=FAST, progress=False)  # fmt: skip
    a, b = read_root(tiny, ["MET_pt", "jet1_pt"]), read_root(other, ["MET_pt", "jet1_pt"])
    assert not np.array_equal(np.asarray(a.MET_pt), np.asarray(b.MET_pt))
    assert not np.array_equal(np.asarray(a.jet1_pt), np.asarray(b.jet1_pt))


def test_reuse_and_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "r.root"
    kw = dict(events=20, seed=2, chunk_size=20, workers=1, pythia_settings=FAST, progress=False)
    gen.generate("wjets", output=out, **kw)
    stamp = out.stat().st_mtime_ns
    gen.generate("wjets", output=out, **kw)
    assert out.stat().st_mtime_ns == stamp, "same configuration: file reused"
    gen.generate("wjets", output=out, overwrite=True, **kw)
    assert out.stat().st_mtime_ns != stamp
    stamp = out.stat().st_mtime_ns
    gen.generate("wjets", output=out, **{**kw, "seed": 3})
    assert out.stat().st_mtime_ns != stamp, "other configuration: regenerated"
    assert read_provenance(out)["seed"] == 3
    # a folder as output: the file is named after the sample
    p = gen.generate("zprime_tt", mass=750, output=tmp_path, **kw)
    assert p == tmp_path / "zprime_tt_m750.root"
    p = gen.generate("zprime_tt", mass=750, output=f"{tmp_path}/new/", **kw)
    assert p == tmp_path / "new" / "zprime_tt_m750.root" and p.is_file()
    leftovers = [x for x in tmp_path.rglob(".*") if x.is_file()]
    assert not leftovers, "no temporary files left"


def test_progress_bar_and_parallel_workers(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    gen.generate("diboson", events=40, seed=1, output=tmp_path / "d.root", chunk_size=20, workers=2,
                 pythia_settings=FAST, progress=True)  # fmt: skip
    captured = capfd.readouterr()
    assert "diboson" in captured.err and "ev" in captured.err
    assert "FastJet release" not in captured.out  # banner silenced; Pythia quiet
    assert "PYTHIA" not in captured.out


def test_output_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hepsift.io.root as root_io

    out = tmp_path / "atomic.root"

    class Interrupted:
        @staticmethod
        def dumps(*args: object, **kwargs: object) -> str:
            raise KeyboardInterrupt  # as if Ctrl-C arrived after the tree was written

    monkeypatch.setattr(root_io, "json", Interrupted)
    with pytest.raises(KeyboardInterrupt):
        gen.generate("ttbar", events=10, seed=1, output=out, chunk_size=10, workers=1,
                     pythia_settings=FAST, progress=False)  # fmt: skip
    assert list(tmp_path.iterdir()) == []


# --- physics sanity ---------------------------------------------------------------------
def test_w_to_jj_mass_peaks_near_80(ttbar_semilep: Path) -> None:
    ev = read_root(ttbar_semilep, ["n_leptons", "n_jets", "n_bjets", "m_jj"])
    sel = (ev.n_leptons == 1) & (ev.n_jets >= 4) & (ev.n_bjets == 2)
    m = np.asarray(ev.m_jj[sel])
    assert len(m) > 150
    peak = _peak(m, 20, 200, 8)
    assert 70 < peak < 92, peak


def test_btag_efficiency_matches_configuration(ttbar_semilep: Path) -> None:
    import awkward as ak

    ev = read_root(ttbar_semilep, ["Jet_btag", "Jet_hadronFlavour", "Jet_eta"])
    central = np.abs(ak.flatten(ev.Jet_eta)) < 2.5
    tag = np.asarray(ak.flatten(ev.Jet_btag))[central]
    flav = np.asarray(ak.flatten(ev.Jet_hadronFlavour))[central]
    cfg = gen.BTagConfig()
    for f, eff, tol in ((5, cfg.eff_b, 0.03), (4, cfg.eff_c, 0.04), (0, cfg.eff_light, 0.004)):
        assert (flav == f).sum() > 200
        measured = tag[flav == f].mean()
        assert abs(measured - eff) < tol, (f, measured, eff)


def test_cross_section_matches_pythia(ttbar_semilep: Path) -> None:
    prov = read_provenance(ttbar_semilep)
    settings = prov["slices"][0]["settings"]
    ref, ref_err = _pythia_sigma([s for s in settings if "MPI" not in s])
    tol = max(0.04 * ref, 3 * np.hypot(ref_err, prov["xsec_err_pb"]))
    assert abs(prov["xsec_pb"] - ref) < tol, (prov["xsec_pb"], ref)
    # semileptonic t tbar: sigma(tt) * BR(W -> e/mu nu) * BR(W -> q q')
    assert 60 < prov["xsec_pb"] < 95


def test_sliced_cross_sections_add_up(tmp_path: Path) -> None:
    # parton level only: the slices must reproduce Pythia's inclusive pT-hat > 100 GeV
    path = gen.generate("qcd", events=1200, seed=4, output=tmp_path / "qcd.root", chunk_size=300, workers=2,
                        pythia_settings=["PartonLevel:all = off", "HadronLevel:all = off"], progress=False)  # fmt: skip
    prov = read_provenance(path)
    assert len(prov["slices"]) == len(gen.PROCESSES["qcd"].slices)
    ev = read_root(path, ["weight", "gen_slice", "gen_pthat"])
    for s, info in enumerate(prov["slices"]):
        sel = np.asarray(ev.gen_slice) == s
        assert np.isclose(np.sum(ev.weight[sel]), info["xsec_pb"])
    ref, ref_err = _pythia_sigma(["HardQCD:all = on", "PhaseSpace:pTHatMin = 100."], n=20000)
    tol = max(0.05 * ref, 3 * np.hypot(ref_err, prov["xsec_err_pb"]))
    assert abs(prov["xsec_pb"] - ref) < tol, (prov["xsec_pb"], ref)
    # weighted pT-hat spectrum is falling, unweighted one is flat-ish across slices
    counts = np.bincount(np.asarray(ev.gen_slice))
    assert counts.min() == counts.max() == 300


def test_z_to_ll_mass_peaks_near_91(tmp_path: Path) -> None:
    path = gen.generate("zjets", events=800, seed=8, output=tmp_path / "z.root", chunk_size=400, workers=2,
                        pythia_settings=FAST, progress=False)  # fmt: skip
    ev = read_root(path, ["n_leptons", "m_ll", "nElectron", "nMuon"])
    sel = ((ev.nElectron == 2) | (ev.nMuon == 2)) & (ev.n_leptons == 2)
    m = np.asarray(ev.m_ll[sel])
    assert len(m) > 200
    assert abs(_peak(m, 50, 150, 2) - 91.2) < 3.0
    assert abs(np.median(m[(m > 70) & (m < 110)]) - 91.2) < 2.0


def test_zprime_ttbar_mass_peaks_near_generated_mass(tmp_path: Path) -> None:
    path = gen.generate("zprime_tt", mass=1000, events=800, seed=9, output=tmp_path / "zp.root", chunk_size=400,
                        workers=2, pythia_settings=FAST + SEMILEPTONIC, progress=False)  # fmt: skip
    ev = read_root(path, ["n_leptons", "n_jets", "m_wwbb", "signal_mass", "gen_mhat"])
    assert np.all(ev.signal_mass == 1000)
    assert abs(np.median(ev.gen_mhat) - 1000) < 30
    sel = (ev.n_leptons == 1) & (ev.n_jets >= 4)
    m = np.asarray(ev.m_wwbb[sel])
    assert len(m) > 150
    peak = _peak(m, 300, 1700, 40)
    assert 850 < peak < 1100, peak


# --- presets and CLI --------------------------------------------------------------------
def test_presets_are_valid() -> None:
    for name, jobs in gen.PRESETS.items():
        for process, mass, events in jobs:
            cfg = gen.GenerationConfig(process, events=events, seed=1, mass=mass).validated()
            assert cfg.events > 0, name
    demo = gen.PRESETS["demo"]
    masses = {m for p, m, _ in demo if p == "zprime_tt"}
    assert masses == {500.0, 750.0, 1000.0, 1250.0, 1500.0}
    boosted = {"qcd_boosted", "zprime_tt_had", "wprime_wz_had"}  # the boosted preset's own processes
    dijet = {"qcd_dijet"}  # the background of the CWoLa hunt on generated events (bench/cwola.py --pythia)
    assert {p for p, _, _ in demo} == set(gen.PROCESSES) - boosted - dijet
    assert {p for p, _, _ in gen.PRESETS["boosted"]} == boosted


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "python") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "hepsift.cli", "generate", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def test_cli_generates_and_reports_errors(tmp_path: Path) -> None:
    r = _cli("--process", "zprime_tt", "--mass", "750", "--events", "20", "--seed", "1", "-o", "out.root",
             "--workers", "1", "--set", "PartonLevel:MPI = off", "--no-progress", cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out.root").is_file()
    assert read_provenance(tmp_path / "out.root")["signal_mass_gev"] == 750
    r = _cli("--process", "zprime", "--events", "5", "-o", "x.root", cwd=tmp_path)
    assert r.returncode == 1 and "no process 'zprime'; did you mean 'zprime_tt'" in r.stderr
    r = _cli("--process", "zprime_tt", "--mass", "-3", "--events", "5", "-o", "x.root", cwd=tmp_path)
    assert r.returncode == 1 and "mass must be positive" in r.stderr
    r = _cli("--list", cwd=tmp_path)
    assert r.returncode == 0 and "tprime_pair" in r.stdout and "demo" in r.stdout
    r = _cli("--help", cwd=tmp_path)
    assert r.returncode == 0 and "--preset demo" in r.stdout


def test_preset_api_returns_named_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(gen.PRESETS, "unit", (("ttbar", None, 10), ("wprime_lnu", 2000.0, 10)))
    files = gen.generate_preset("unit", tmp_path / "d", workers=1, progress=False)
    assert list(files) == ["ttbar", "wprime_lnu_m2000"]
    assert all(p.is_file() for p in files.values())
    again = gen.generate_preset("unit", tmp_path / "d", workers=1, progress=False)
    assert again == files


def test_errors_are_hepsift_errors() -> None:
    with pytest.raises(HepsiftError):
        gen.get_process("nope")


# --- validation suite: default configuration (MPI on), larger samples -------------------
@pytest.mark.validation
def test_validation_ttbar_default_configuration(tmp_path: Path) -> None:
    path = gen.generate("ttbar", events=6000, seed=21, output=tmp_path / "tt.root",
                        pythia_settings=SEMILEPTONIC, progress=False)  # fmt: skip
    ev = read_root(path, ["n_leptons", "n_jets", "n_bjets", "m_jj", "m_jjj", "fatjet1_mass"])
    sel = (ev.n_leptons == 1) & (ev.n_jets >= 4) & (ev.n_bjets == 2)
    assert 72 < _peak(np.asarray(ev.m_jj[sel]), 20, 200, 5) < 92
    assert 150 < _peak(np.asarray(ev.m_jjj[sel]), 60, 400, 10) < 195
    prov = read_provenance(path)
    ref, ref_err = _pythia_sigma(prov["slices"][0]["settings"], n=20000)
    assert abs(prov["xsec_pb"] - ref) < max(0.03 * ref, 3 * np.hypot(ref_err, prov["xsec_err_pb"]))


@pytest.mark.validation
@pytest.mark.parametrize("mass", [500, 750, 1000, 1250, 1500])
def test_validation_zprime_masses(tmp_path: Path, mass: int) -> None:
    path = gen.generate("zprime_tt", mass=mass, events=3000, seed=mass, output=tmp_path / "zp.root",
                        pythia_settings=SEMILEPTONIC, progress=False)  # fmt: skip
    ev = read_root(path, ["n_leptons", "n_jets", "m_wwbb"])
    m = np.asarray(ev.m_wwbb[(ev.n_leptons == 1) & (ev.n_jets >= 4)])
    peak = _peak(m, 0.3 * mass, 1.7 * mass, 0.04 * mass)
    assert abs(peak - mass) < 0.12 * mass, (mass, peak)


@pytest.mark.validation
def test_validation_z_peak_and_wprime(tmp_path: Path) -> None:
    z = gen.generate("zjets", events=4000, seed=31, output=tmp_path / "z.root", progress=False)
    ev = read_root(z, ["n_leptons", "m_ll"])
    m = np.asarray(ev.m_ll[ev.n_leptons == 2])
    assert abs(_peak(m, 50, 150, 1) - 91.2) < 2.0
    w = gen.generate("wprime_lnu", mass=2000, events=2000, seed=32, output=tmp_path / "w.root", progress=False)
    ev = read_root(w, ["n_leptons", "mt_lnu"])
    mt = np.asarray(ev.mt_lnu[ev.n_leptons >= 1])
    # Jacobian peak: the transverse-mass edge sits at the W' mass
    assert 0.75 * 2000 < np.percentile(mt, 90) < 1.1 * 2000
    t = gen.generate("tprime_pair", mass=1200, events=1000, seed=33, output=tmp_path / "t.root", progress=False)
    prov = read_provenance(t)
    assert 0.003 < prov["xsec_pb"] < 0.02  # LO; NNLO+NNLL (Top++) is 0.012 pb
