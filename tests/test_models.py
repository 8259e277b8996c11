"""hepsift.models: every estimator learns, exports with parity, and scores the same in RDataFrame."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import write_tree

import hepsift
from hepsift.export import onnx_predict, read_metadata, to_onnx
from hepsift.metrics import best_cut_significance, roc_auc
from hepsift.models import (
    BDTClassifier,
    MLPClassifier,
    MLPConfig,
    ParameterizedClassifier,
    RandomForestClassifier,
    leave_one_mass_out,
    load,
    make,
)

FEATURES = ["lep_pt", "met_pt", "m_jj", "jet3_pt", "n_jets"]


def toy(n: int = 3000, seed: int = 0, classes: int = 2):
    """Gaussian blobs per class; jet3_pt is absent (-999) in 30 % of the events."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    centres = np.array([[0.0, 0.0, 0.0, 0.0, 0.0], [1.5, 1.0, -1.0, 0.5, 1.0], [-1.0, 1.5, 1.0, -0.5, 0.0],
                        [1.0, -1.5, 1.5, 1.0, -1.0]])[:classes]
    X = (rng.normal(size=(n, 5)) + centres[y]).astype(np.float32)
    X[:, 0] = 50 + 20 * X[:, 0]  # physics-like scales
    X[:, 4] = np.round(X[:, 4] + 4)
    X[rng.random(n) < 0.3, 3] = -999.0
    w = rng.uniform(0.5, 1.5, n)
    return X, y, w


def quick(name: str):
    return {
        "mlp": lambda: MLPClassifier(hidden_layers=(32, 32), epochs=15, learning_rate=3e-3, seed=1),
        "adaboost": lambda: BDTClassifier(boosting="adaboost", n_estimators=40, max_depth=2),
        "gradient": lambda: BDTClassifier(boosting="gradient", n_estimators=40, max_depth=3, learning_rate=0.2),
        "rf": lambda: RandomForestClassifier(n_estimators=30, max_depth=8),
    }[name]()


MODELS = ["mlp", "adaboost", "gradient", "rf"]


@pytest.mark.parametrize("name", MODELS)
def test_binary_learns_exports_and_scores_in_rdataframe(name, tmp_path, ROOT):
    import hepsift.rdf

    X, y, w = toy(3000)
    Xt, yt, _ = toy(2000, seed=7)
    model = quick(name).fit(X, y, sample_weight=w)
    p = model.predict_proba(Xt)
    assert p.shape == (2000, 2) and p.dtype == np.float32
    assert roc_auc(yt, p[:, 1]) > 0.85  # chance is 0.5
    assert model.decision_function(Xt).shape == (2000,)
    assert set(np.unique(model.predict(Xt))) <= {0, 1}

    # export with hepsift.export.to_onnx directly: one score output, parity checked there
    path = to_onnx(model, tmp_path / f"{name}.onnx", feature_names=FEATURES, sample=Xt[:500])
    meta = read_metadata(path)
    assert meta["features"] == FEATURES and meta["score_output"] == "score" and meta["kind"] == "classifier"
    assert np.max(np.abs(onnx_predict(path, Xt) - p[:, 1])) <= 1e-5

    # the file scores raw ntuple columns (-999 included) in RDataFrame as predict_proba does
    root = write_tree(tmp_path / "events.root", {f: Xt[:, i] for i, f in enumerate(FEATURES)})
    out = hepsift.rdf.define(ROOT.RDataFrame("Events", str(root)), "score", str(path)).AsNumpy(["score", *FEATURES])
    Xr = np.stack([out[f] for f in FEATURES], axis=1)
    np.testing.assert_array_equal(Xr, Xt)
    assert np.max(np.abs(out["score"] - p[:, 1])) <= 1e-5

    # the convenience export fills thresholds and provenance
    path2 = model.export(tmp_path / f"{name}_2.onnx", FEATURES)
    meta2 = read_metadata(path2)
    assert meta2["provenance"]["estimator"] == type(model).__name__
    assert "1e-2" in meta2["thresholds"] or "0.01" in meta2["thresholds"]


@pytest.mark.parametrize("name", ["mlp", "gradient", "rf"])
def test_multiclass_softmax_discriminant_and_rdataframe(name, tmp_path, ROOT):
    import hepsift.rdf

    X, y, w = toy(3000, classes=4)
    Xt, yt, _ = toy(1500, seed=3, classes=4)
    model = quick(name).set_params(signal_class=1).fit(X, y, w)
    proba = model.predict_proba(Xt)
    assert proba.shape == (1500, 4)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert np.mean(model.predict(Xt) == yt) > 0.6  # chance is 0.25
    d = model.decision_function(Xt)
    # the discriminant ranks class 1 (signal) above the rest
    assert roc_auc((yt == 1).astype(int), d) > 0.85
    f = model.fractions_
    assert f[1] == 0 and abs(f.sum() - 1) < 1e-6
    ref = np.log(proba[:, 1] + 1e-7) - np.log(proba @ f + 1e-7)
    np.testing.assert_allclose(d, ref, atol=1e-4)

    path = model.export(tmp_path / "multi.onnx", FEATURES, sample=Xt[:300])
    assert np.max(np.abs(onnx_predict(path, Xt) - proba)) <= 1e-5
    assert np.max(np.abs(onnx_predict(path, Xt, output="discriminant") - d)) <= 1e-4
    root = write_tree(tmp_path / "events.root", {f: Xt[:, i] for i, f in enumerate(FEATURES)})
    node = hepsift.rdf.define(ROOT.RDataFrame("Events", str(root)), "p", str(path))
    got = np.array([list(v) for v in node.AsNumpy(["p"])["p"]], dtype=np.float32)
    assert np.max(np.abs(got - proba)) <= 1e-5


@pytest.mark.parametrize("name", ["mlp", "adaboost", "rf"])
def test_regression(name, tmp_path):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(2000, 3)).astype(np.float32)
    energy = 100 + 30 * X[:, 0] + 10 * X[:, 1] ** 2 + rng.normal(0, 3, 2000)
    model = quick(name)
    if name == "adaboost":
        model.set_params(max_depth=5)
    model.fit(X[:1500], energy[:1500])
    assert model.task_ == "regression"
    pred = model.predict(X[1500:])
    rms = np.sqrt(np.mean((pred - energy[1500:]) ** 2))
    assert rms < 0.5 * np.std(energy)  # clearly better than predicting the mean
    with pytest.raises(hepsift.ConfigurationError, match="use predict"):
        model.predict_proba(X)
    path = model.export(tmp_path / "reg.onnx", ["a", "b", "c"])
    assert read_metadata(path)["kind"] == "regressor"
    np.testing.assert_allclose(onnx_predict(path, X), model.predict(X), rtol=1e-5, atol=1e-4)


def mass_toy(n_per_mass: int, masses, seed: int):
    """Signal: a peak at the mass in x0; background: falling; x1 mildly discriminating."""
    rng = np.random.default_rng(seed)
    sig = [np.column_stack([rng.normal(m, 0.08 * m, n_per_mass), rng.normal(1, 1, n_per_mass), np.full(n_per_mass, m)])
           for m in masses]
    nb = n_per_mass * len(masses)
    bkg = np.column_stack([rng.exponential(600, nb) + 200, rng.normal(0, 1, nb), np.zeros(nb)])
    X = np.concatenate([*sig, bkg]).astype(np.float32)
    y = np.r_[np.ones(nb), np.zeros(nb)].astype(int)
    return X, y


def test_parameterized_interpolates_and_exports(tmp_path, ROOT):
    import hepsift.rdf

    masses = [500.0, 750.0, 1000.0, 1250.0, 1500.0]
    X, y = mass_toy(600, masses, 0)
    Xt, yt = mass_toy(300, masses, 1)
    pnn = ParameterizedClassifier(estimator=MLPClassifier(hidden_layers=(32, 32), epochs=20, learning_rate=3e-3, seed=2),
                                  mass_feature="mass", seed=3)
    pnn.fit(X, y)
    assert pnn.masses_.tolist() == masses
    bkg_mass = np.unique(X[y == 0, 2])  # untouched input
    assert bkg_mass.tolist() == [0.0]
    # the mass hypothesis matters: the score of 1 TeV signal is higher at m = 1000 than at m = 500
    sig1000 = Xt[(yt == 1) & (Xt[:, 2] == 1000.0)]
    assert pnn.predict_proba_at(sig1000, 1000.0)[:, 1].mean() > pnn.predict_proba_at(sig1000, 500.0)[:, 1].mean() + 0.2

    lomo = leave_one_mass_out(pnn, X, y, Xt, yt, masses=[1000.0])
    assert lomo.auc_all[1000.0] > 0.9
    assert lomo.auc_without[1000.0] > lomo.auc_all[1000.0] - 0.05  # interpolates to the unseen mass
    assert "mass left out" in lomo.table()

    path = pnn.export(tmp_path / "pnn.onnx", ["mjj", "x1", "mass"])
    meta = read_metadata(path)
    assert meta["mass_parameter"] == "mass" and meta["features"] == ["mjj", "x1", "mass"]
    root = write_tree(tmp_path / "ev.root", {"mjj": Xt[:, 0], "x1": Xt[:, 1]})
    df = ROOT.RDataFrame("Events", str(root)).Define("mass", "1000.f")
    got = hepsift.rdf.define(df, "score", str(path)).AsNumpy(["score"])["score"]
    assert np.max(np.abs(got - pnn.predict_proba_at(Xt, 1000.0)[:, 1])) <= 1e-5

    cfg = pnn.to_config()
    again = ParameterizedClassifier.from_config(cfg.to_json())
    assert again.estimator.get_params() == pnn.estimator.get_params()


def asimov_toy(n: int, seed: int):
    """100 signal against 10 000 background events; a quarter of the signal sits in a clean tail."""
    rng = np.random.default_rng(seed)
    nb = 4 * n
    tail = rng.random(n) < 0.25
    s = np.column_stack([rng.normal(1.0, 1, n), np.where(tail, rng.normal(3.5, 0.5, n), rng.normal(0, 1, n))])
    b = np.column_stack([rng.normal(-1.0, 1, nb), rng.normal(0, 1, nb)])
    X = np.concatenate([s, b]).astype(np.float32)
    y = np.r_[np.ones(n), np.zeros(nb)].astype(int)
    w = np.r_[np.full(n, 100 / n), np.full(nb, 10000 / nb)]
    return X, y, w


def test_asimov_loss_beats_bce_at_its_best_cut():
    """A linear model cannot follow both the bulk and the clean tail; with a 10-20 % background
    uncertainty the significance lives in the tail, which the Asimov loss finds and BCE does not."""
    X, y, w = asimov_toy(4000, 0)
    Xt, yt, wt = asimov_toy(4000, 1)
    z = {}
    for key, kw in {"bce": dict(class_weight="balanced"), "bce_raw": {},
                    "asimov": dict(loss="asimov", batch_size=2048, asimov_rel_sigma_b=0.2)}.items():
        m = MLPClassifier(hidden_layers=(), epochs=40, learning_rate=1e-2, seed=0, **kw).fit(X, y, w)
        z[key] = best_cut_significance(yt, m.predict_proba(Xt)[:, 1], wt, rel_sigma_b=0.1, min_background=5).significance
    assert z["asimov"] > 1.1 * z["bce"] and z["asimov"] > z["bce_raw"], z


def test_params_config_save_load(tmp_path):
    X, y, w = toy(800)
    m = MLPClassifier(hidden_layers=(8,), epochs=3, dropout=0.1, l2=1e-4, optimizer="nadam",
                      initializer="lecun_normal", activation="selu")
    assert m.get_params()["hidden_layers"] == (8,)
    assert not hasattr(m, "net_")  # __init__ only stores
    cfg = m.to_config()
    assert isinstance(cfg, MLPConfig) and MLPConfig.from_json(cfg.to_json()) == cfg
    assert MLPClassifier.from_config(cfg).get_params() == m.get_params()
    cfg.save(tmp_path / "cfg.json")
    assert MLPConfig.load(tmp_path / "cfg.json") == cfg
    with pytest.raises(hepsift.NotFittedError, match="not fitted"):
        m.predict_proba(X)
    assert m.fit(X, y, w) is m
    m.save(tmp_path / "m.hsm")
    again = load(tmp_path / "m.hsm")
    np.testing.assert_array_equal(again.predict_proba(X), m.predict_proba(X))
    assert again.provenance_["seed"] == 0 and "torch" in again.provenance_["versions"]
    assert json.dumps(again.provenance_)  # JSON-serialisable
    rf = RandomForestClassifier(n_estimators=10).fit(X, y)
    assert 0 <= rf.oob_error_ < 0.5
    rf.save(tmp_path / "rf.hsm")
    np.testing.assert_array_equal(RandomForestClassifier.load(tmp_path / "rf.hsm").predict_proba(X), rf.predict_proba(X))
    with pytest.raises(hepsift.ModelError, match="not a MLPClassifier"):
        MLPClassifier.load(tmp_path / "rf.hsm")
    assert make("bdt", boosting="gradient").boosting == "gradient"


def test_presets_build_the_classic_networks():
    sig = MLPClassifier.from_preset("sigmoid_4x512")
    assert sig.hidden_layers == (512, 512, 512, 512) and sig.activation == "sigmoid"
    selu = MLPClassifier.from_preset("selu_3x352", epochs=1)
    assert (selu.hidden_layers, selu.initializer, selu.dropout) == ((352, 352, 352), "lecun_normal", 0.1)
    X, y, _ = toy(300)
    selu.fit(X, y)
    assert selu.epochs == 1 and len(selu.history_["loss"]) == 1


def test_bad_inputs_raise_clear_errors(tmp_path):
    X, y, _ = toy(200)
    bad = X.copy()
    bad[5, 2] = np.nan
    with pytest.raises(hepsift.DataError, match="NaN or infinite .* row 5, column 2"):
        MLPClassifier(epochs=1).fit(bad, y)
    with pytest.raises(hepsift.DataError, match="single class"):
        BDTClassifier().fit(X, np.zeros(len(X)))
    with pytest.raises(hepsift.DataError, match="y has 10 entries"):
        RandomForestClassifier().fit(X, y[:10])
    with pytest.raises(hepsift.DataError, match="sample_weight has 3 entries"):
        BDTClassifier().fit(X, y, sample_weight=[1, 2, 3])
    with pytest.raises(hepsift.ConfigurationError, match="activation='swoosh'"):
        MLPClassifier(activation="swoosh").fit(X, y)
    with pytest.raises(hepsift.ConfigurationError, match="loss 'asimov' does not apply to a multiclass"):
        MLPClassifier(loss="asimov", epochs=1).fit(X, np.arange(len(X)) % 3)
    with pytest.raises(hepsift.ConfigurationError, match="no parameter 'depth'"):
        BDTClassifier().set_params(depth=3)
    with pytest.raises(hepsift.ConfigurationError, match="boosting='xgb'"):
        BDTClassifier(boosting="xgb").fit(X, y)
    with pytest.raises(hepsift.ConfigurationError, match="unknown model type"):
        make("svm")
    fitted = BDTClassifier(n_estimators=5).fit(X, y)
    with pytest.raises(hepsift.InputMismatchError, match="has 4 features .* fitted with 5"):
        fitted.predict_proba(X[:, :4])
    with pytest.raises(hepsift.InputMismatchError):
        to_onnx(fitted, tmp_path / "x.onnx", feature_names=["a", "b"])
    (tmp_path / "junk.pkl").write_bytes(b"not a model")
    with pytest.raises(hepsift.ModelError, match="not a hepsift estimator"):
        load(tmp_path / "junk.pkl")
    with pytest.raises(hepsift.DataError, match="three signal masses"):
        leave_one_mass_out(ParameterizedClassifier(), *mass_toy(20, [1.0, 2.0], 0), *mass_toy(20, [1.0, 2.0], 1))


def test_train_cli(tmp_path):
    from conftest import run

    X, y, w = toy(1500)
    sig, bkg = y == 1, y == 0
    branches = {f: X[:, i] for i, f in enumerate(FEATURES)}
    write_tree(tmp_path / "sig.root", {**{k: v[sig] for k, v in branches.items()}, "weight": w[sig],
                                       "signal_mass": np.full(sig.sum(), 1000.0, np.float32)})
    write_tree(tmp_path / "bkg.root", {**{k: v[bkg] for k, v in branches.items()}, "weight": w[bkg],
                                       "signal_mass": np.zeros(bkg.sum(), np.float32)})
    import sys

    code = ("import argparse, sys\nfrom hepsift.models._cli import add_arguments, run\n"
            "p = argparse.ArgumentParser(prog='hepsift train'); add_arguments(p); sys.exit(run(p.parse_args(sys.argv[1:])))")
    out = run([sys.executable, "-c", code, str(tmp_path / "sig.root"), str(tmp_path / "bkg.root"), "--model", "bdt",
               "--features", *FEATURES, "--param", "n_estimators=20", "-o", str(tmp_path / "out"), "--seed", "3"])
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "out" / "model.onnx").is_file() and (tmp_path / "out" / "model.hsm").is_file()
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["test"]["auc"] > 0.85
    bad = run([sys.executable, "-c", code, str(tmp_path / "sig.root"), "--features", "nope", "-o", str(tmp_path / "o2")])
    assert bad.returncode == 1 and "no branch 'nope'" in bad.stderr
