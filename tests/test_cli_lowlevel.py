"""``hepsift train --model deepsets|jettagger|cnn|lcnn`` on generated boosted files, run as a user runs it:
the ONNX file describes its inputs and scores the events as the saved estimator does; options of
the other models are refused."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pythia8mc")
pytest.importorskip("fastjet")
pytest.importorskip("torch")

import awkward as ak  # noqa: E402

import hepsift  # noqa: E402
import hepsift.events as gen  # noqa: E402
import hepsift.images as im  # noqa: E402
from hepsift.export import onnx_predict, read_metadata  # noqa: E402
from hepsift.io import read_tree  # noqa: E402
from hepsift.models import group_by_jet, pad_sets  # noqa: E402

SMALL_SET = ["--param", "phi_layers=[8]", "--param", "rho_layers=[8]"]
SMALL_IMAGE = ["--pixels", "12", "--param", "dense_layers=[8]"]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """A tiny all-hadronic Z' (2 TeV) and QCD sample with constituents."""
    out = tmp_path_factory.mktemp("boosted_cli")
    kw = dict(seed=5, chunk_size=20, workers=1, pythia_settings=("PartonLevel:MPI = off",), progress=False,
              constituents=True)
    return [gen.generate("zprime_tt_had", mass=2000, events=20, output=out / "top.root", **kw),
            gen.generate("qcd_boosted", events=20, output=out / "qcd.root", **kw)]


def _train(files: list[Path], out: Path, *argv: str):  # type: ignore[no-untyped-def]
    from conftest import run

    return run([sys.executable, "-m", "hepsift.cli", "train", *map(str, files), *argv, "--param", "epochs=1",
                "--no-progress", "-o", str(out), "--seed", "2"], timeout=300)


CASES = {
    "deepsets": ["--inputs", "PFCand_pt,PFCand_eta,PFCand_phi", "--max-objects", "50", *SMALL_SET],
    "jettagger": ["--jet-label", "FatJet_truth", "--signal-codes", "1", "--background-codes", "4,5", *SMALL_SET],
    "cnn": ["--image", "jet0", "--normalise", "sum", "--param", "conv_layers=[[4,3]]", *SMALL_IMAGE],
    "lcnn": ["--image", "jet1", "--channels", "all", "--jet-label", "FatJet_truth", "--background-codes", "4,5",
             "--param", "local_layers=[[2,3]]", *SMALL_IMAGE],
}


@pytest.mark.parametrize("model", list(CASES))
def test_train_lowlevel_models_export_what_they_learned(files: list[Path], tmp_path: Path, model: str) -> None:
    res = _train(files, tmp_path / model, "--model", model, *CASES[model])
    assert res.returncode == 0, res.stderr
    out = tmp_path / model
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.hsm", "model.onnx", "summary.json"]
    summary = json.loads((out / "summary.json").read_text())
    est = hepsift.load(out / "model.hsm")
    meta = read_metadata(out / "model.onnx")
    ev = read_tree(files, library="ak")
    if model in ("deepsets", "jettagger"):
        cols = ["PFCand_pt", "PFCand_eta", "PFCand_phi"] + (["PFCand_charge"] if model == "jettagger" else [])
        assert meta["features"] == cols and meta["collections"]["PFCand"]["columns"] == cols
        if model == "deepsets":
            assert [i["kind"] for i in meta["inputs"]] == ["objects", "mask"] and meta["inputs"][0]["shape"] == ["N", "P", 3]
            assert meta["collections"]["PFCand"]["max_objects"] == 50 and summary["labels"]["branch"] == "signal_mass"
            X, m, _ = pad_sets(ev, cols)
            want = est.predict_proba(X, m)[:, 1]
        else:
            assert meta["inputs"][0]["grouped_by"] == "PFCand_fatJetIdx" and meta["output_collection"] == "FatJet"
            assert summary["labels"] == {"per": "jet", "branch": "FatJet_truth", "signal_codes": [1],
                                         "background_codes": [4, 5]}
            X, m, _, _ = group_by_jet(ev, cols, index="PFCand_fatJetIdx", jets="FatJet")
            want = est.predict_proba(X, m)[..., 1]
            assert want.shape == (len(ev), int(np.max(ak.num(ev.FatJet_truth))))
        got = onnx_predict(out / "model.onnx", {"objects": X, "mask": m})
    else:
        spec = summary["images"]
        jet = int(spec["image"][3:])
        assert spec["pixels"] == [12, 12] and spec["jet"] == (0 if model == "cnn" else 1)
        assert spec["normalise"] == ("sum" if model == "cnn" else "none")
        channels = ["charged", "neutral"] if model == "cnn" else ["all"]
        assert meta["inputs"] == [{"name": "images", "kind": "image", "shape": ["N", len(channels), 12, 12],
                                   "channels": channels}]  # fmt: skip
        X = im.jet_images(ev, jet, pixels=12, extent=spec["extent"], channels=channels, normalise=spec["normalise"])
        if model == "lcnn":  # labelled by the second jet: events without one, or with another code, take no part
            truth = ak.fill_none(ak.pad_none(ev.FatJet_truth, 2, axis=1), -1)[:, 1]
            n_used = int(np.sum(np.isin(ak.to_numpy(truth), (1, 4, 5))))
            assert summary["n_train"] + summary["n_test"] == n_used < len(ev)
        want = est.predict_proba(X)[:, 1]
        got = onnx_predict(out / "model.onnx", X)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert 0.0 <= summary["test"]["auc"] <= 1.0 and summary["n_train"] > summary["n_test"] > 0


def test_options_of_other_models_are_refused(files: list[Path], tmp_path: Path) -> None:
    cases = [
        (["--model", "deepsets", "--features", "FatJet_pt"], 2,
         "--features applies to the flat models (mlp, bdt, ...); --model deepsets reads --inputs instead"),
        (["--model", "bdt", "--inputs", "PFCand_pt"], 2,
         "--inputs applies to the models of particle sets and images (deepsets, jettagger, cnn, lcnn), not to --model bdt"),
        (["--model", "deepsets", "--image", "jet0"], 2, "--image does not apply to --model deepsets"),
        (["--model", "cnn", "--image", "jetx"], 2, "expected jetN (N-th jet, from 0: jet0 the leading one) or event"),
        (["--model", "cnn", "--signal-codes", "1"], 2, "--signal-codes and --background-codes need --jet-label"),
        (["--model", "deepsets", "--inputs", "PFCand_ptt,PFCand_eta"], 1, "no branch 'PFCand_ptt' in tree 'Events'"),
    ]
    for argv, status, message in cases:
        res = _train(files, tmp_path / "refused", *argv)
        assert res.returncode == status and message in res.stderr, (argv, res.stderr)
    assert not (tmp_path / "refused").exists()
