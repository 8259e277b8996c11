"""ObjectListGenerator: DarkMachines-like events (typed object lists) from a CSV file, sampled in
Python and inside RDataFrame with the same post-processing."""

from __future__ import annotations

import json

import awkward as ak
import numpy as np
import pytest
from darkmachines_toy import B_PROB, ELECTRON_PROB, JET_MEAN, MUON_PROB, toy_events, write_toy
from scipy import stats

import hepsift
from hepsift.generative import OBJECT_LISTS_KEY, ObjectListGenerator, counter_noise
from hepsift.io import MISSING, read_darkmachines, write_darkmachines

N_TRAIN = 3000
N_SAMPLE = 4000


@pytest.fixture(scope="module")
def toy_csv(tmp_path_factory):
    return write_toy(tmp_path_factory.mktemp("dm") / "toy.csv", N_TRAIN, seed=1)


@pytest.fixture(scope="module")
def model(toy_csv):
    return ObjectListGenerator(max_objects=3, hidden=(64, 64), epochs=40, seed=2).fit(toy_csv)


@pytest.fixture(scope="module")
def onnx_file(model, tmp_path_factory):
    return model.to_onnx(tmp_path_factory.mktemp("onnx") / "objects.onnx")


def _truth(name: str, k: int) -> np.ndarray:
    """Probabilities of 0..k objects of a type in the toy (multiplicities above k count as k)."""
    m = np.arange(50)
    pmf = {"Jet": stats.poisson.pmf(m, JET_MEAN), "BJet": stats.binom.pmf(m, 2, B_PROB),
           "Electron": stats.binom.pmf(m, 1, ELECTRON_PROB), "Muon": stats.binom.pmf(m, 1, MUON_PROB)}[name]
    p = pmf[: k + 1].copy()
    p[k] += 1.0 - p.sum()
    return p


def test_write_darkmachines_round_trip(tmp_path):
    ev = toy_events(200, seed=3)
    back = read_darkmachines(write_darkmachines(tmp_path / "t.csv", ev), features=False)
    assert back.fields[:5] == ["event", "process", "weight", "MET_pt", "MET_phi"]
    for f in ("Jet_pt", "Jet_eta", "Jet_phi", "Jet_mass", "Electron_pt", "Muon_phi"):
        np.testing.assert_allclose(ak.to_numpy(ak.flatten(back[f])), ak.to_numpy(ak.flatten(ev[f])),
                                   rtol=2e-5, atol=2e-3)  # fmt: skip
    assert ak.all(back.Jet_btag == ev.Jet_btag) and ak.all(back.Electron_charge == ev.Electron_charge)
    np.testing.assert_allclose(np.asarray(back.MET_pt), np.asarray(ev.MET_pt), rtol=1e-6)
    with pytest.raises(hepsift.OutputError):
        write_darkmachines(tmp_path / "t.csv", ev)
    with pytest.raises(hepsift.DataError, match="Electron_charge"):
        write_darkmachines(tmp_path / "u.csv", ak.without_field(ev, "Electron_charge"))


def test_counter_noise_is_the_noise_of_the_event_loop(ROOT):
    df = ROOT.RDataFrame(3000).Define("z", "hepsift::noise(18446744073709551557ULL, rdfentry_, 7u)")
    z = np.stack([np.asarray(v) for v in df.AsNumpy(["z"])["z"]])
    np.testing.assert_array_equal(counter_noise(18446744073709551557, 3000, 7), z)
    np.testing.assert_array_equal(counter_noise(5, 10, 3, start=20), counter_noise(5, 30, 3)[20:])


def test_layout_from_the_data(model):
    # the types of the toy (no photons), capped at max_objects or the largest multiplicity seen
    assert [(x["name"], x["max_objects"]) for x in model.object_lists_] == [
        ("Jet", 3), ("BJet", 2), ("Electron", 1), ("Muon", 1)]
    names = model.generated_names_
    assert names[:4] == ["nJet", "Jet1_pt", "Jet2_pt", "Jet3_pt"] and names[-2:] == ["MET_pt", "MET_phi"]
    assert len(names) == 4 + 4 * (3 + 2 + 1 + 1) + 2 and model.provenance_["objects"]["unit"] == "GeV"
    # learnt: the leading pT and ratios of consecutive pTs; real events map onto the output layout
    assert model.feature_names_in_[4:7] == ["Jet1_pt", "Jet2_ptratio", "Jet3_ptratio"]
    real = toy_events(50, seed=10)
    back = model.to_jagged(model.to_flat(real, unit="GeV"))
    light, b = real.Jet_pt[~real.Jet_btag], real.Jet_pt[real.Jet_btag]
    assert ak.all(back.Jet_pt == light[:, :3]) and ak.all(back.BJet_eta == real.Jet_eta[real.Jet_btag][:, :2])
    assert np.array_equal(ak.to_numpy(back.nJet), np.minimum(ak.to_numpy(ak.num(light)), 3))
    assert np.array_equal(ak.to_numpy(back.nBJet), ak.to_numpy(ak.num(b)))


def test_multiplicities_follow_the_truth(model):
    s = model.sample(N_SAMPLE, seed=4)
    # stage 1 samples the combinations (nJet, nBJet, ...) with the training frequencies: chi-square test
    combos, probs = model.multiplicities_["counts"], model.multiplicities_["probabilities"]
    drawn = np.stack([np.asarray(s[x["count"]]) for x in model.object_lists_], axis=1)
    index = {tuple(c): i for i, c in enumerate(combos.astype(int))}
    observed = np.bincount([index[tuple(c)] for c in drawn], minlength=len(combos))
    common = probs * N_SAMPLE >= 5  # pool the rare combinations
    obs = np.r_[observed[common], observed[~common].sum()]
    exp = np.r_[probs[common], probs[~common].sum()] * N_SAMPLE
    assert stats.chisquare(obs[exp > 0], exp[exp > 0]).pvalue > 1e-3
    for lst in model.object_lists_:
        t, k = lst["name"], lst["max_objects"]
        n = np.asarray(s[f"n{t}"])
        assert n.min() >= 0 and n.max() <= k
        p = _truth(t, k)
        observed = np.bincount(n, minlength=k + 1)
        mean_true = float(np.sum(np.arange(k + 1) * p))
        # mean within 0.08 objects (jets) / 0.03 (b-jets, leptons): statistical error ~0.02 / 0.01
        assert abs(n.mean() - mean_true) < (0.08 if t == "Jet" else 0.03), (t, n.mean(), mean_true)
        # total variation distance between the generated and the true multiplicity distributions
        assert 0.5 * np.abs(observed / len(n) - p).sum() < 0.05, (t, observed / len(n), p)


def test_objects_are_ordered_positive_and_masked(model):
    s = model.sample(N_SAMPLE, seed=5)
    flat = model.sample(N_SAMPLE, seed=5, layout="flat")
    names = model.generated_names_
    for lst in model.object_lists_:
        t, k = lst["name"], lst["max_objects"]
        n = np.asarray(s[f"n{t}"])
        for f in ("pt", "eta", "phi", "mass"):
            assert np.array_equal(ak.to_numpy(ak.num(s[f"{t}_{f}"])), n)  # masks match the multiplicities
            slots = flat[:, names.index(f"{t}1_{f}") : names.index(f"{t}1_{f}") + k]
            present = np.arange(k)[None, :] < n[:, None]
            assert np.all(slots[~present] == MISSING) and np.all(slots[present] != MISSING)
        pt = s[f"{t}_pt"]
        assert ak.all(pt[:, 1:] <= pt[:, :-1])  # decreasing p_T
        assert ak.min(pt) >= model.pt_min_[t] > 0
        assert ak.all(abs(s[f"{t}_phi"]) <= np.pi) and ak.all(s[f"{t}_mass"] >= 0)
    assert np.all(ak.to_numpy(ak.flatten(s.Electron_mass)) == np.float32(0.000511))
    assert np.all(np.asarray(s.MET_pt) > 0) and np.all(np.abs(np.asarray(s.MET_phi)) <= np.pi)
    # the kinematics are learnt: leading-jet p_T and MET within 5 GeV of the truth's means
    real = toy_events(N_SAMPLE, seed=6)
    lead_real = ak.to_numpy(ak.firsts(real.Jet_pt[~real.Jet_btag])[ak.num(real.Jet_pt[~real.Jet_btag]) > 0])
    lead_gen = ak.to_numpy(ak.firsts(s.Jet_pt)[s.nJet > 0])
    assert abs(lead_gen.mean() - lead_real.mean()) < 5.0 and abs(np.mean(s.MET_pt) - np.mean(real.MET_pt)) < 5.0


def test_fit_from_csv_units_and_records_agree(tmp_path):
    ev = toy_events(300, seed=7)
    mev = write_darkmachines(tmp_path / "mev.csv", ev)
    gev = write_darkmachines(tmp_path / "gev.csv", ev, unit="GeV")
    kw = {"transforms": 1, "hidden": (8,), "epochs": 1, "seed": 3}
    a = ObjectListGenerator(**kw).fit(mev)
    b = ObjectListGenerator(**kw).fit(gev, unit="GeV")
    c = ObjectListGenerator(**kw).fit(read_darkmachines(mev, features=False))
    z = counter_noise(1, 50, a.latent_dim_)
    np.testing.assert_allclose(b.decode(z), a.decode(z), rtol=1e-4, atol=1e-3)
    np.testing.assert_array_equal(c.decode(z), a.decode(z))


def test_bad_input_is_refused(tmp_path):
    ev = toy_events(100, seed=8)
    with pytest.raises(hepsift.DataError, match="MET_pt"):
        ObjectListGenerator(epochs=1).fit(ak.without_field(ev, "MET_pt"))
    with pytest.raises(hepsift.ConfigurationError, match="max_objects"):
        ObjectListGenerator(max_objects=0, epochs=1).fit(ev)
    with pytest.raises(hepsift.DataError, match="no such file"):
        ObjectListGenerator(epochs=1).fit(tmp_path / "absent.csv")
    with pytest.raises(hepsift.DataError, match="no objects"):
        ObjectListGenerator(epochs=1).fit(ev[["MET_pt", "MET_phi"]])
    with pytest.raises(hepsift.NotFittedError):
        ObjectListGenerator().sample(3)


def test_rdataframe_columns_equal_the_python_sample(ROOT, model, onnx_file):
    from conftest import threads

    from hepsift.rdf import Model, sample

    session = Model(str(onnx_file))  # one ONNX Runtime session for both runs
    s = model.sample(400, seed=9)
    cols = ["event", "nJet", "Jet_pt", "Jet_eta", "Jet_phi", "Jet_mass", "nBJet", "BJet_pt", "nElectron",
            "Electron_pt", "Electron_mass", "nMuon", "Muon_phi", "MET_pt", "MET_phi"]  # fmt: skip
    for n_threads in (1, 2):
        with threads(ROOT, n_threads):
            node = sample(session, 400, seed=9)
            assert node.GetColumnType("Jet_pt") == "ROOT::VecOps::RVec<float>"
            assert node.GetColumnType("nJet") == "int" and node.GetColumnType("MET_pt") == "float"
            d = node.AsNumpy(cols)
        order = np.argsort(d["event"])
        for c in cols[1:]:
            got = d[c][order]
            if got.dtype == object:
                got = ak.Array([np.asarray(v).tolist() for v in got])
                assert ak.all(ak.num(got) == ak.num(s[c])), c
                assert ak.max(abs(got - s[c]), axis=None, initial=0.0) <= 1e-5, c
            else:
                np.testing.assert_allclose(got, np.asarray(s[c]), rtol=0, atol=1e-5, err_msg=c)


def test_save_load_and_metadata(model, onnx_file, tmp_path):
    from hepsift.export import read_metadata

    back = hepsift.load(model.save(tmp_path / "m.hsm"))
    assert type(back) is ObjectListGenerator
    np.testing.assert_array_equal(back.sample(500, seed=1, layout="flat"), model.sample(500, seed=1, layout="flat"))
    meta = read_metadata(onnx_file)
    assert meta["kind"] == "generator" and meta["features"] == model.noise_names_


def test_object_list_names_are_never_compiled(ROOT, onnx_file, tmp_path):
    from test_security import set_metadata

    marker = tmp_path / "pwned"
    import onnx

    props = {p.key: p.value for p in onnx.load(str(onnx_file)).metadata_props}
    lists = json.loads(props[OBJECT_LISTS_KEY])
    lists[0]["fields"][0] = f'pt; gSystem->Exec("touch {marker}")'
    bad = set_metadata(onnx_file, tmp_path / "bad.onnx", OBJECT_LISTS_KEY, json.dumps(lists))
    with pytest.raises(hepsift.MetadataError, match="hepsift.object_lists"):
        hepsift.rdf.sample(str(bad), 10, seed=1)
    lists = json.loads(props[OBJECT_LISTS_KEY])
    lists[0]["max_objects"] = 7  # more slots than the model has
    bad = set_metadata(onnx_file, tmp_path / "bad2.onnx", OBJECT_LISTS_KEY, json.dumps(lists))
    with pytest.raises(hepsift.MetadataError, match="not contiguous"):
        hepsift.rdf.sample(str(bad), 10, seed=1)
    assert not marker.exists()


@pytest.mark.validation
def test_fidelity_on_a_larger_toy():
    """6000 toy events, 60 epochs: multiplicities, leading objects and the two-sample AUC on the
    flattened padded vector (``bench/object_generators.py --source toy`` prints the same)."""
    from hepsift.generative import fidelity

    train, test = toy_events(6000, seed=21), toy_events(6000, seed=22)
    m = ObjectListGenerator(max_objects=4, epochs=60, seed=3).fit(train)
    gen = m.sample(len(test), seed=23, layout="flat")
    real = m.to_flat(test)
    names = m.generated_names_
    for lst in m.object_lists_:
        j, k = names.index(lst["count"]), lst["max_objects"]
        tv = 0.5 * np.abs(np.bincount(real[:, j].astype(int), minlength=k + 1) / len(real)
                          - np.bincount(gen[:, j].astype(int), minlength=k + 1) / len(gen)).sum()  # fmt: skip
        assert tv < 0.03, (lst["name"], tv)
    f = fidelity(real, gen, feature_names=names, seed=1)
    # measured (seed 3): KS 0.035/0.023 (Jet1 pT/eta), 0.036/0.031 (BJet1), 0.125/0.085 (Electron1, ~700
    # events), 0.065/0.052 (Muon1, ~480), MET 0.035; AUC 0.634. Bounds: jets and MET near the statistical
    # floor, the rare leptons looser; a unit or ordering error gives KS near 1.
    for t, bound in (("Jet", 0.06), ("BJet", 0.06), ("Electron", 0.2), ("Muon", 0.2)):
        assert f["per_feature"][f"{t}1_pt"]["ks"] < bound and f["per_feature"][f"{t}1_eta"]["ks"] < bound, t
    assert f["per_feature"]["MET_pt"]["ks"] < 0.06
    assert f["two_sample_auc"] < 0.70, f["two_sample_auc"]
