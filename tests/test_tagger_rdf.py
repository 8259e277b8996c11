"""A per-jet tagger (JetTagger: the constituents of every jet, [N, J, P, F]) scored inside
RDataFrame: one score per jet, equal to JetTagger.predict_jets and to ONNX Runtime's Python API
fed each event alone."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
from conftest import run, threads, write_tree

import hepsift
import hepsift.rdf
from hepsift.export import onnx_predict
from hepsift.models import JetTagger, group_by_jet

COLS = ("PFCand_pt", "PFCand_eta", "PFCand_phi")
INDEX = "PFCand_fatJetIdx"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 generated Z' -> t tbar events (2 TeV) with their constituents."""
    import hepsift.events as gen

    return gen.generate("zprime_tt_had", mass=2000, events=40, output=tmp_path_factory.mktemp("gen") / "top.root",
                        seed=4, chunk_size=40, workers=1, pythia_settings=("PartonLevel:MPI = off",), progress=False,
                        constituents=True)


@pytest.fixture(scope="module")
def events(generated: Path) -> dict[str, ak.Array]:
    """The generated events with four edge cases written in: event 0 has no FatJet (its
    constituents in none), event 1 a leading jet without constituents, event 2 jets but no
    constituent in any, event 3 jets and no constituents at all."""
    import uproot

    ev = uproot.open(generated)["Events"].arrays([*COLS, INDEX, "FatJet_pt"])
    assert np.all(ak.num(ev.FatJet_pt)[:4] >= 2), "the edge cases below need two jets in events 0-3"
    out = {c: ak.to_list(ev[c]) for c in [*COLS, INDEX, "FatJet_pt"]}
    out[INDEX][0] = [-1] * len(out[INDEX][0])
    out["FatJet_pt"][0] = []
    out[INDEX][1] = [-1 if j == 0 else j for j in out[INDEX][1]]
    out[INDEX][2] = [-1] * len(out[INDEX][2])
    for c in [*COLS, INDEX]:
        out[c][3] = []
    types = {INDEX: np.int32}
    return {c: ak.values_astype(ak.Array(v), types.get(c, np.float32)) for c, v in out.items()}


@pytest.fixture(scope="module")
def derived(events: dict[str, ak.Array], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The edited events as a file (no nFatJet branch: the jets are counted by FatJet_pt)."""
    n = len(events["FatJet_pt"])
    return write_tree(tmp_path_factory.mktemp("tag") / "jets.root", {**events, "i": np.arange(n, dtype=np.int32)},
                      basket=8)


@pytest.fixture(scope="module")
def tagger(events: dict[str, ak.Array]) -> JetTagger:
    labels = ak.values_astype(ak.local_index(events["FatJet_pt"]) == 0, np.int64)  # toy labels: leading jet or not
    return JetTagger(inputs=COLS, phi_layers=(8,), rho_layers=(8,), epochs=1, seed=1).fit(events, labels)


@pytest.fixture(scope="module")
def tagger_onnx(tagger: JetTagger, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tagger.to_onnx(tmp_path_factory.mktemp("tagonnx") / "tagger.onnx")


def _alone(path: Path, events: dict[str, ak.Array], max_objects: int | None = None) -> list[np.ndarray]:
    """The reference: ONNX Runtime (Python API) fed each event alone, [1, J, P, F] with P its
    largest jet (at most max_objects); an event without jets has no scores."""
    out = []
    for k in range(len(events["FatJet_pt"])):
        one = {c: v[k:k + 1] for c, v in events.items()}
        n_jets = len(events["FatJet_pt"][k])
        if n_jets == 0:
            out.append(np.zeros(0, np.float32))
            continue
        X, m, _, _ = group_by_jet(one, list(COLS), index=INDEX, max_objects=max_objects)
        out.append(np.asarray(onnx_predict(path, {"objects": X, "mask": m}), np.float32).reshape(-1)[:n_jets])
    return out


@pytest.fixture(scope="module")
def reference(tagger_onnx: Path, events: dict[str, ak.Array]) -> dict[int | None, list[np.ndarray]]:
    """_alone for all constituents (key None) and for the first 5 of each jet (key 5)."""
    return {keep: _alone(tagger_onnx, events, keep) for keep in (None, 5)}


def _by_entry(got: dict[str, Any], column: str) -> list[np.ndarray]:
    order = np.argsort(got["i"])
    return [np.asarray(got[column][k], dtype=np.float32) for k in order]


def _assert_jets_equal(got: list[np.ndarray], ref: list[np.ndarray]) -> None:
    assert [len(g) for g in got] == [len(r) for r in ref]
    np.testing.assert_allclose(np.concatenate(got), np.concatenate(ref), rtol=0, atol=1e-5)


def test_model_reads_the_tagger(tagger_onnx: Path) -> None:
    m = hepsift.rdf.Model(tagger_onnx)
    assert (m.input_kind, m.input_shape, m.masked, m.per_object, m.n_scores) == ("grouped-set", (-1, -1, 3), True,
                                                                                 True, 1)
    with pytest.raises(hepsift.InputMismatchError, match="takes the objects of every jet; score it in the event loop"):
        m.evaluate(np.zeros((2, 3), np.float32))


@pytest.mark.parametrize("n_threads", [1, 2])
def test_per_jet_scores_equal_predict_jets_and_onnx_runtime(ROOT, tagger: JetTagger, tagger_onnx: Path,
                                                            derived: Path, events: dict[str, ak.Array],
                                                            reference, n_threads: int) -> None:
    ref = reference[None]
    python = [np.asarray(s, np.float32) for s in ak.to_list(tagger.predict_jets(events))]
    _assert_jets_equal(python, ref)
    flat = np.concatenate(ref)
    assert np.ptp(flat) > 1e-3, "the scores differ between jets"
    # the edge cases: no jets; a leading jet without constituents; jets without any; no constituents
    assert len(ref[0]) == 0 and ref[1][0] == 0 and ref[1][1] > 0
    assert np.all(ref[2] == 0) and np.all(ref[3] == 0) and len(ref[2]) >= 2 and len(ref[3]) >= 2
    with threads(ROOT, n_threads):
        df = ROOT.RDataFrame("Events", str(derived))
        out = hepsift.rdf.define(df, "FatJet_top", tagger_onnx)  # inputs, index and jets from the metadata
        out = hepsift.rdf.define(out, "FatJet_top5", tagger_onnx, max_objects=5)
        got = out.AsNumpy(["i", "FatJet_top", "FatJet_top5"])
    _assert_jets_equal(_by_entry(got, "FatJet_top"), ref)
    # max_objects keeps the first constituents of each jet (collection order)
    ref5 = reference[5]
    _assert_jets_equal(_by_entry(got, "FatJet_top5"), ref5)
    assert np.max(np.abs(np.concatenate(ref5) - flat)) > 1e-3, "truncation changes some scores"


def test_jets_counted_by_nfatjet_and_by_the_cpp_call(ROOT, tagger: JetTagger, tagger_onnx: Path,
                                                     generated: Path) -> None:
    """On the generated file hepsift.rdf.define counts the jets with nFatJet (an int column); the
    C++ call of the README, declared to cling, gives the same scores."""
    import uproot

    ref = [np.asarray(s, np.float32) for s in ak.to_list(tagger.predict_jets(uproot.open(generated)["Events"].arrays()))]
    assert any(len(r) == 0 for r in ref), "some generated events have no FatJet"
    df = ROOT.RDataFrame("Events", str(generated))
    assert "nFatJet" in hepsift.rdf.column_names(df)
    got = hepsift.rdf.define(df, "FatJet_top", tagger_onnx).AsNumpy(["FatJet_top"])["FatJet_top"]
    _assert_jets_equal([np.asarray(g) for g in got], ref)
    ROOT.gInterpreter.Declare("""
    #include <hepsift/SetScorer.hxx>
    ROOT::RDF::RNode hepsift_test_tag(ROOT::RDF::RNode df, const std::string &path) {
       auto tagger = std::make_shared<const hepsift::Model>(path);
       return hepsift::DefineGroupedSetScore<ROOT::RVecI, ROOT::RVecF, ROOT::RVecF, ROOT::RVecF, ROOT::RVecF>(
          df, "FatJet_top", tagger, {"PFCand_pt", "PFCand_eta", "PFCand_phi"}, "PFCand_fatJetIdx", "FatJet_pt");
    }""")
    got = ROOT.hepsift_test_tag(ROOT.RDF.AsRNode(df), str(tagger_onnx)).AsNumpy(["FatJet_top"])["FatJet_top"]
    _assert_jets_equal([np.asarray(g) for g in got], ref)


def test_errors_name_columns_and_entry(ROOT, tagger_onnx: Path, derived: Path, events) -> None:
    base = ROOT.RDataFrame("Events", str(derived))
    df = base.Define("eta2", "rdfentry_ == 4 ? ROOT::VecOps::Concatenate(PFCand_eta, ROOT::RVecF{1.f}) : PFCand_eta")
    n4 = len(events["PFCand_pt"][4])
    out = hepsift.rdf.define(df, "s", tagger_onnx, inputs=["PFCand_pt", "eta2", "PFCand_phi"])
    with pytest.raises(hepsift.EvaluationError, match=rf"'PFCand_pt' \({n4} values\) and 'eta2' \({n4 + 1} values\) "
                                                      r"differ in length at entry 4"):
        out.Take["ROOT::RVecF"]("s").GetValue()
    df = base.Define("idx", f"rdfentry_ == 5 ? ROOT::RVecI({INDEX}.begin(), {INDEX}.end() - 1) : {INDEX}")
    with pytest.raises(hepsift.EvaluationError, match=r"index column 'idx' \(\d+ values\) and the set column "
                                                      r"'PFCand_pt' \(\d+ values\) differ in length at entry 5"):
        hepsift.rdf.define(df, "s", tagger_onnx, index="idx").Take["ROOT::RVecF"]("s").GetValue()
    n6 = len(events["FatJet_pt"][6])
    for bad, value in (("FatJet_pt.size()", n6), ("-2", -2)):
        df = base.Define("idx", f"auto v = {INDEX}; if (rdfentry_ == 6) v[0] = {bad}; return v;")
        with pytest.raises(hepsift.EvaluationError, match=rf"object 0 of entry 6 has 'idx' = {value} but the event has "
                                                          rf"{n6} jets \('FatJet_pt'"):
            hepsift.rdf.define(df, "s", tagger_onnx, index="idx").Take["ROOT::RVecF"]("s").GetValue()
    # a non-finite constituent of a jet is refused; one in no jet never reaches the model (as in group_by_jet)
    idx8 = np.asarray(events[INDEX][8])
    inside, outside = int(np.flatnonzero(idx8 >= 0)[0]), int(np.flatnonzero(idx8 < 0)[0])
    for p, fails in ((inside, True), (outside, False)):
        df = base.Define("eta_nan", f"auto v = PFCand_eta; if (rdfentry_ == 8) v[{p}] = NAN; return v;")
        out = hepsift.rdf.define(df, "s", tagger_onnx, inputs=["PFCand_pt", "eta_nan", "PFCand_phi"])
        if fails:
            with pytest.raises(hepsift.NonFiniteInputError, match=rf"eta_nan\[{p}\].*entry 8"):
                out.Take["ROOT::RVecF"]("s").GetValue()
        else:
            assert np.all(np.isfinite(np.concatenate(list(out.Take["ROOT::RVecF"]("s").GetValue()))))
    with pytest.raises(hepsift.MissingBranchError, match=r"no column 'PFCand_fatJetIdxx' .*did you mean 'PFCand_fatJ"):
        hepsift.rdf.define(base, "s", tagger_onnx, index="PFCand_fatJetIdxx")
    for column in ("PFCand_eta", "i"):  # floats; one integer per event
        with pytest.raises(hepsift.InputMismatchError, match=rf"index column '{column}' .* an RVec of integers"):
            hepsift.rdf.define(base, "s", tagger_onnx, index=column)
    with pytest.raises(hepsift.InputMismatchError, match=r"jets column 'pt0' has type double; it must be an RVec"):
        hepsift.rdf.define(base.Define("pt0", "1.0 * FatJet_pt.size()"), "s", tagger_onnx, jets="pt0")
    with pytest.raises(hepsift.ConfigurationError, match=r"is scored per event \(strategy 'two-pass'"):
        hepsift.rdf.define(base, "s", tagger_onnx, strategy="two-pass", batch_size=8)
    with pytest.raises(hepsift.InputMismatchError, match="takes 3 features per object"):
        hepsift.rdf.define(base, "s", tagger_onnx, inputs=list(COLS[:2]))


def test_apply_writes_a_jagged_branch(tagger_onnx: Path, derived: Path, tmp_path: Path, reference) -> None:
    import uproot

    out = tmp_path / "scored.root"
    res = run([sys.executable, "-m", "hepsift.cli", "apply", str(tagger_onnx), str(derived), "-o", str(out),
               "--name", "FatJet_top", "--branches", "i", "FatJet_pt"], timeout=300)
    assert res.returncode == 0, res.stderr
    written = uproot.open(out)["Events"].arrays(["i", "FatJet_top"])
    got = [np.asarray(written.FatJet_top[k], np.float32) for k in np.argsort(written.i.to_numpy())]
    _assert_jets_equal(got, reference[None])


def test_index_and_jets_belong_to_grouped_set_models(ROOT, derived: Path, events: dict[str, ak.Array],
                                                     tmp_path: Path) -> None:
    from hepsift.models import DeepSetsClassifier

    y = np.arange(len(events["FatJet_pt"])) % 2
    ds = DeepSetsClassifier(inputs=COLS, phi_layers=(4,), rho_layers=(4,), epochs=1, seed=1).fit(events, y)
    path = ds.to_onnx(tmp_path / "ds.onnx")
    df = ROOT.RDataFrame("Events", str(derived))
    with pytest.raises(hepsift.ConfigurationError, match=r"index= and jets= apply to grouped set models.* takes set"):
        hepsift.rdf.define(df, "s", path, index=INDEX)
