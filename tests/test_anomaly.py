"""Anomaly detectors: they find an injected signal, export to ONNX with the score head,
keep their stated background efficiency, and reject bad input with hepsift errors."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from conftest import run, write_tree

import hepsift
from hepsift.anomaly import (
    DETECTORS,
    HBOS,
    AutoEncoder,
    DeepSVDD,
    IsolationForest,
    efficiency_key,
    load,
    sanitised_features,
)
from hepsift.anomaly import evaluate as ev
from hepsift.export import onnx_predict, read_metadata

NAMES = ["met_pt", "jet1_pt", "jet1_eta", "m_jj", "jet3_pt"]
FAST = {
    "autoencoder": dict(hidden=(16,), latent_dim=2, epochs=8, batch_size=512),
    "deepsvdd": dict(hidden=(16,), rep_dim=4, epochs=8, batch_size=512),
    "iforest": dict(n_estimators=60),
    "hbos": dict(n_bins=30),
}


def background(n: int, seed: int) -> np.ndarray:
    """Correlated Gaussian-ish background; the last feature is absent (-999) in 20 % of events."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 5))
    X = np.empty((n, 5))
    X[:, 0] = 40 + 15 * np.abs(z[:, 0])
    X[:, 1] = 80 + 20 * np.abs(z[:, 1] + 0.5 * z[:, 0])
    X[:, 2] = 1.2 * z[:, 2]
    X[:, 3] = 80 + 10 * z[:, 3]
    X[:, 4] = 30 + 10 * np.abs(z[:, 4])
    X[rng.random(n) < 0.2, 4] = -999.0
    return X.astype(np.float32)


def signal(n: int, seed: int) -> np.ndarray:
    """Clearly different: hard jets and missing energy, a resonance at 300 GeV."""
    X = background(n, seed)
    X[:, 0] += 150
    X[:, 1] += 200
    X[:, 3] = 300 + 10 * np.random.default_rng(seed + 1).normal(size=n)
    return X


@pytest.fixture(scope="module")
def fitted():
    X = background(6000, 0)
    return {name: DETECTORS[name](**FAST[name], seed=1).fit(X, feature_names=NAMES) for name in DETECTORS}


@pytest.mark.parametrize("name", list(DETECTORS))
def test_signal_scores_above_background(fitted, name):
    det = fitted[name]
    b = det.decision_function(background(4000, 10))
    s = det.decision_function(signal(1000, 11))
    assert ev.roc_auc(b, s) > 0.9
    # 1200 calibration events resolve 1e-2 and 1e-3; 1e-4 (< 1/1200) is left out, not guessed
    assert det.calibration_size_ == 1200 and set(det.threshold_) == {"1e-2", "1e-3"}
    assert det.threshold_["1e-2"] <= det.threshold_["1e-3"]


@pytest.mark.parametrize("name", list(DETECTORS))
def test_export_parity(fitted, name, tmp_path):
    det = fitted[name]
    X = np.concatenate([background(2000, 20), signal(500, 21)])
    path = det.to_onnx(tmp_path / f"{name}.onnx", sample=X[:300])
    meta = read_metadata(path)
    got = onnx_predict(path, X)
    want = det.decision_function(X)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert meta["kind"] == "anomaly" and meta["thresholds"] == pytest.approx(det.threshold_)
    # And through the public entry point, with the thresholds stored in the file.
    path2 = hepsift.export.to_onnx(det, tmp_path / f"{name}_2.onnx", feature_names=NAMES, kind="anomaly",
                                   thresholds=det.threshold_, sample=X[:200])
    assert read_metadata(path2)["thresholds"] == pytest.approx(det.threshold_)


def test_hbos_exact_bins_at_edges(fitted, tmp_path):
    det = fitted["hbos"]
    path = det.to_onnx(tmp_path / "hbos.onnx")
    rng = np.random.default_rng(3)
    # Values exactly on bin edges, just beside them, absent and out of range.
    cols = []
    for j in range(det.n_features_in_):
        e = det.edges_[j][np.isfinite(det.edges_[j])]
        pick = rng.choice(e, 400)
        cols.append(np.concatenate([pick, np.nextafter(pick, -np.inf), np.nextafter(pick, np.inf),
                                    [-999.0, e[0] - 100, e[-1] + 100]]).astype(np.float32))
    X = np.stack(cols, axis=1)
    np.testing.assert_allclose(onnx_predict(path, X), det.decision_function(X), rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("name", ["hbos", "iforest"])
def test_scores_in_rdataframe(ROOT, fitted, name, tmp_path):
    import hepsift.rdf

    det = fitted[name]
    X = np.concatenate([background(1500, 30), signal(500, 31)])
    f = write_tree(tmp_path / "ev.root", {n: X[:, j] for j, n in enumerate(NAMES)})
    path = det.to_onnx(tmp_path / f"{name}.onnx")
    out = hepsift.rdf.define(ROOT.RDataFrame("Events", str(f)), "score", str(path)).AsNumpy(["score"])
    np.testing.assert_allclose(out["score"], det.decision_function(X), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", list(DETECTORS))
def test_thresholds_keep_stated_background_efficiency(fitted, name):
    det = fitted[name]
    n = 60000
    det_cal = load_copy(det)
    det_cal.calibrate(background(n, 40), feature_names=NAMES)
    assert det_cal.calibration_size_ == n
    s = det_cal.decision_function(background(n, 41))
    for eps in (1e-2, 1e-3):
        eff = float(np.mean(s > det_cal.threshold_[efficiency_key(eps)]))
        sigma = np.sqrt(eps * (1 - eps) * 2 / n)  # calibration and test sample each contribute
        assert abs(eff - eps) < 4 * sigma, (eps, eff)


def load_copy(det):
    import pickle

    return pickle.loads(pickle.dumps(det))


def test_sanitised_feature_set(tmp_path):
    X = background(3000, 50)
    assert sanitised_features(X, NAMES) == NAMES[:4]
    det = HBOS(feature_set="sanitised").fit(X, feature_names=NAMES)
    assert det.feature_names_in_ == NAMES[:4]
    # The full-width array is reduced to the model's columns, by position or by name.
    np.testing.assert_array_equal(det.decision_function(X), det.decision_function(X[:, :4]))
    by_name = {n: X[:, j] for j, n in enumerate(NAMES)}
    np.testing.assert_array_equal(det.decision_function(by_name), det.decision_function(X[:, :4]))
    path = det.to_onnx(tmp_path / "s.onnx")
    assert read_metadata(path)["features"] == NAMES[:4]


def test_deepsvdd_guards_against_collapse(fitted):
    det = fitted["deepsvdd"]
    module = det._module()
    linears = [m for m in module.net.modules() if m.__class__.__name__ == "Linear"]
    assert linears and all(m.bias is None for m in linears)
    assert np.all(np.abs(det.centre_) >= det.centre_eps - 1e-7)
    assert np.std(det.decision_function(background(2000, 60))) > 0


def test_bad_input_gives_clear_errors(fitted, tmp_path):
    det = fitted["autoencoder"]
    X = background(200, 70)
    X[17, 2] = np.nan
    with pytest.raises(hepsift.NonFiniteInputError, match=r"jet1_eta.*event 17"):
        det.decision_function(X)
    with pytest.raises(hepsift.NonFiniteInputError, match="jet1_eta"):
        AutoEncoder(epochs=1).fit(X, feature_names=NAMES)
    other = ["met_pt", "jet1_pt", "jet1_eta", "m_jjj", "jet3_pt"]
    with pytest.raises(hepsift.InputMismatchError, match=r"m_jj \(nearest: m_jjj\)"):
        det.decision_function(background(10, 71), feature_names=other)
    with pytest.raises(hepsift.InputMismatchError, match="fitted on 5 features"):
        det.decision_function(background(10, 71)[:, :3])
    with pytest.raises(hepsift.InputMismatchError, match="lacks"):
        det.decision_function({n: np.zeros(3) for n in other})
    with pytest.raises(hepsift.InputMismatchError):
        hepsift.export.to_onnx(det, tmp_path / "x.onnx", feature_names=NAMES[:3], kind="anomaly")
    with pytest.raises(hepsift.NotFittedError):
        IsolationForest().decision_function(X)
    with pytest.raises(hepsift.ConfigurationError):
        HBOS(feature_set="everything").fit(background(100, 72))
    with pytest.raises(hepsift.ConfigurationError):
        HBOS().set_params(bins=3)


@pytest.mark.parametrize("name", list(DETECTORS))
def test_save_load_and_config_round_trip(fitted, name, tmp_path):
    det = fitted[name]
    det.save(tmp_path / "det.hsm")
    back = load(tmp_path / "det.hsm")
    assert type(back) is type(det) and back.threshold_ == det.threshold_
    assert back.provenance_["hepsift"] == hepsift.__version__
    X = background(300, 80)
    np.testing.assert_array_equal(back.decision_function(X), det.decision_function(X))
    cfg = det.to_config()
    assert type(cfg).from_json(cfg.to_json()) == cfg
    assert type(det).from_config(cfg.to_json()).get_params() == det.get_params()
    clone = type(det)(**det.get_params())
    with pytest.raises(hepsift.NotFittedError):
        clone.decision_function(X)


def test_evaluation_helpers(fitted, tmp_path):
    bkg = background(5000, 90)
    sig = signal(1000, 91)
    bs = {n: d.decision_function(bkg) for n, d in fitted.items()}
    ss = {n: {"resonance": d.decision_function(sig)} for n, d in fitted.items()}
    dm = ev.darkmachines_metrics(bs, ss)
    assert dm["hbos"]["per_signal"]["resonance"]["auc"] > 0.9
    assert dm["hbos"]["median"]["si@1e-2"] == pytest.approx(dm["hbos"]["per_signal"]["resonance"]["si@1e-2"])
    names, corr = ev.score_correlation(bs)
    assert corr.shape == (4, 4) and np.allclose(np.diag(corr), 1)
    png = ev.plot_score_correlation({"background": (names, corr), "resonance": ev.score_correlation(
        {n: v["resonance"] for n, v in ss.items()})}, tmp_path / "corr.png")
    assert png.stat().st_size > 1000
    for method in ("average", "and"):
        comb_b = ev.combine_scores(bs, bs, method=method)
        comb_s = ev.combine_scores(bs, {n: v["resonance"] for n, v in ss.items()}, method=method)
        assert ev.roc_auc(comb_b, comb_s) > 0.9
    ht = {"H_T": bkg[:, 1]}
    rows = ev.comparison_table({**bs, **ht}, {**ss, "H_T": {"resonance": sig[:, 1]}})
    table = ev.format_table(rows)
    assert "H_T" in table and "resonance auc" in table
    # eps_S at a fixed eps_B: an exactly known case.
    assert ev.signal_efficiency(np.arange(1000.0), np.array([998.5, 10.0]), 1e-2) == 0.5
    assert float(ev.significance_improvement(0.5, 1e-2)) == pytest.approx(5.0)


def test_cli_trains_and_exports(tmp_path):
    X = background(3000, 100)
    f = write_tree(tmp_path / "bkg.root", {n: X[:, j] for j, n in enumerate(NAMES)})
    out = tmp_path / "hbos.onnx"
    res = run([sys.executable, "-m", "hepsift.cli", "anomaly", str(f), "--detector", "hbos", "--features", ",".join(NAMES),
               "-o", str(out), "--seed", "3", "--save", str(tmp_path / "hbos.hsm")])
    assert res.returncode == 0, res.stderr
    assert out.exists() and (tmp_path / "hbos.hsm").exists()
    # 600 calibration events (20 % of 3000) resolve a background efficiency of 1e-2, not 1e-3
    assert "background efficiency 1e-2: score >" in res.stdout and "1e-3" not in res.stdout
    meta = read_metadata(out)
    assert meta["features"] == NAMES and meta["kind"] == "anomaly"
    bad = run([sys.executable, "-m", "hepsift.cli", "anomaly", str(f), "--features", "met_pt,nope", "-o", str(out)])
    assert bad.returncode == 1 and "hepsift anomaly: error: no branch 'nope' in tree 'Events' of '" in bad.stderr
