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
    validation_split,
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
        "hist": lambda: BDTClassifier(threads=1),  # default hyper-parameters; one thread is fastest on a busy machine
        "adaboost": lambda: BDTClassifier(boosting="adaboost", n_estimators=40, max_depth=2),
        "gradient": lambda: BDTClassifier(boosting="gradient", n_estimators=40, max_depth=3, learning_rate=0.2),
        "rf": lambda: RandomForestClassifier(n_estimators=30, max_depth=8),
    }[name]()


MODELS = ["mlp", "hist", "adaboost", "gradient", "rf"]


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
    path2 = model.to_onnx(tmp_path / f"{name}_2.onnx", FEATURES)
    meta2 = read_metadata(path2)
    assert meta2["provenance"]["estimator"] == type(model).__name__
    assert "1e-2" in meta2["thresholds"] and "0.01" not in meta2["thresholds"]


@pytest.mark.parametrize("name", ["mlp", "hist", "gradient", "rf"])
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

    path = model.to_onnx(tmp_path / "multi.onnx", FEATURES, sample=Xt[:300])
    assert np.max(np.abs(onnx_predict(path, Xt) - proba)) <= 1e-5
    assert np.max(np.abs(onnx_predict(path, Xt, output="discriminant") - d)) <= 1e-4
    root = write_tree(tmp_path / "events.root", {f: Xt[:, i] for i, f in enumerate(FEATURES)})
    node = hepsift.rdf.define(ROOT.RDataFrame("Events", str(root)), "p", str(path))
    got = np.array([list(v) for v in node.AsNumpy(["p"])["p"]], dtype=np.float32)
    assert np.max(np.abs(got - proba)) <= 1e-5


@pytest.mark.parametrize("name", ["mlp", "hist", "adaboost", "rf"])
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
    path = model.to_onnx(tmp_path / "reg.onnx", ["a", "b", "c"])
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

    path = pnn.to_onnx(tmp_path / "pnn.onnx", ["mjj", "x1", "mass"])
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
    with pytest.raises(hepsift.NonFiniteInputError, match=r"feature 'x2' holds 1 NaN or infinite value\(s\) \(first: nan in event 5"):
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

    out = run([sys.executable, "-m", "hepsift.cli", "train", str(tmp_path / "sig.root"), str(tmp_path / "bkg.root"),
               "--model", "bdt", "--features", *FEATURES, "--param", "n_estimators=20", "-o", str(tmp_path / "out"), "--seed", "3"])
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "out" / "model.onnx").is_file() and (tmp_path / "out" / "model.hsm").is_file()
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["test"]["auc"] > 0.85
    bad = run([sys.executable, "-m", "hepsift.cli", "train", str(tmp_path / "sig.root"), "--features", "nope",
               "-o", str(tmp_path / "o2")])
    assert bad.returncode == 1 and "hepsift train: error: no branch 'nope' in tree 'Events' of '" in bad.stderr


# ---- the default BDT: histogram boosting whose export routes every float32 event as scikit-learn does ----

def adjacent_floats_toy(n: int = 4000, seed: int = 0):
    """Six features; ``jet3_pt`` is -999 (absent) in 70 % of background and 20 % of signal events;
    ``adj`` takes two adjacent float32 values whose float64 midpoint (a histogram booster's cut)
    rounds *up* to the larger one (a tie, rounded to the even mantissa)."""
    rng = np.random.default_rng(seed)
    X, y, _ = toy(n, seed)
    present = rng.random(n) < np.where(y == 1, 0.8, 0.3)
    X[:, 3] = np.where(present, np.abs(X[:, 3]) * 30 + 20, -999.0)
    # 1000 + 1 ulp (odd mantissa) and 1000 + 2 ulp (even mantissa): 6e-5 apart, more than the
    # 1e-7 below which scikit-learn's exact trees take two values for one
    lo = np.nextafter(np.float32(1000.0), np.float32(2000.0))
    hi = np.nextafter(lo, np.float32(2000.0))
    adj = np.where((y == 1) ^ (rng.random(n) < 0.15), hi, lo).astype(np.float32)
    return np.column_stack([X, adj]).astype(np.float32), y, (lo, hi)


def test_hist_bdt_export_routes_events_at_the_cuts_and_at_minus_999_as_native(tmp_path, monkeypatch, ROOT):
    import hepsift.rdf
    from hepsift.models import _onnx
    from hepsift.models.trees import hist_thresholds, threshold_probes
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    X, y, (lo, hi) = adjacent_floats_toy()
    names = [*FEATURES, "adj"]
    model = BDTClassifier(seed=0, threads=1).fit(X, y)  # one OpenMP thread: fast on a loaded machine too
    assert model.booster_params_["max_leaf_nodes"] == 31 and model.n_iter_ == 100
    # the default booster is scikit-learn's histogram booster, unchanged
    with threadpool_limits(1):
        ref = HistGradientBoostingClassifier(random_state=0).fit(X, y)
    np.testing.assert_array_equal(model.predict_proba(X), ref.predict_proba(X).astype(np.float32))

    cuts = dict(hist_thresholds(model.estimator_))
    present_min = X[X[:, 3] > -999, 3].min()
    assert np.any((cuts[3] >= -999.0) & (cuts[3] < present_min))  # a cut separates the absent objects
    t_adj = cuts[5][0]
    assert lo < t_adj < hi and np.float32(t_adj) == hi  # nearest float32 rounding lands on a value

    rng = np.random.default_rng(1)
    probes = threshold_probes(model.estimator_, X, seed=2, n=4000)
    absent = X[rng.integers(0, len(X), 500)].copy()
    absent[:, 3] = -999.0
    at_adj = X[rng.integers(0, len(X), 500)].copy()
    at_adj[:, 5] = np.where(rng.random(500) < 0.5, lo, hi)
    P = np.concatenate([probes, absent, at_adj])
    native = model.predict_proba(P)[:, 1]

    path = model.to_onnx(tmp_path / "bdt.onnx", names)
    assert np.max(np.abs(onnx_predict(path, P) - native)) <= 1e-5
    root = write_tree(tmp_path / "probes.root", {f: P[:, i] for i, f in enumerate(names)})
    out = hepsift.rdf.define(ROOT.RDataFrame("Events", str(root)), "score", str(path)).AsNumpy(["score", *names])
    np.testing.assert_array_equal(np.stack([out[f] for f in names], axis=1), P)
    assert np.max(np.abs(out["score"] - native)) <= 1e-5

    # control: cuts rounded to the nearest float32 send the events at ``hi`` down the wrong branch
    monkeypatch.setattr(_onnx, "float32_floor", lambda t: np.asarray(t, dtype=np.float64).astype(np.float32))
    with pytest.raises(hepsift.ModelError, match="disagree|differ"):
        to_onnx(model, tmp_path / "nearest.onnx", feature_names=names, sample=at_adj)
    assert not (tmp_path / "nearest.onnx").exists()


def test_bdt_boosting_options_and_errors():
    X, y, _ = toy(1500)
    assert BDTClassifier().boosting == "hist" and BDTClassifier(boosting="adaboost").fit(X, y).booster_params_ == {
        "n_estimators": 200, "max_depth": 3, "learning_rate": 0.5, "min_samples_leaf": 1, "max_leaf_nodes": None,
        "early_stopping": False}
    big, yb, _ = toy(12000, seed=5)  # above 10 000 events early stopping switches on
    m = BDTClassifier(n_estimators=300, seed=1, threads=1).fit(big, yb)
    assert m.booster_params_["early_stopping"] is True and m.n_iter_ < 300
    g = BDTClassifier(boosting="gradient", n_estimators=300, early_stopping=True, patience=3).fit(X, y)
    assert g.n_iter_ < 300
    with pytest.raises(hepsift.ConfigurationError, match="early_stopping is not available for boosting='adaboost'"):
        BDTClassifier(boosting="adaboost", early_stopping=True).fit(X, y)
    with pytest.raises(hepsift.ConfigurationError, match="l2_regularization applies to boosting='hist' only"):
        BDTClassifier(boosting="gradient", l2_regularization=1.0).fit(X, y)
    with pytest.raises(hepsift.ConfigurationError, match="subsample applies to boosting='gradient' only"):
        BDTClassifier(subsample=0.5).fit(X, y)
    with pytest.raises(hepsift.ConfigurationError, match="n_estimators must be an integer >= 1 or 'auto'"):
        BDTClassifier(n_estimators="many").fit(X, y)
    with pytest.raises(hepsift.ConfigurationError, match="max_bins must be in"):
        BDTClassifier(max_bins=1000).fit(X, y)
    with pytest.raises(hepsift.ConfigurationError, match="threads must be an integer >= 1 or None"):
        BDTClassifier(threads=0).fit(X, y)


def test_bdt_weights_class_weight_save_load(tmp_path):
    X, y, w = toy(2000)
    m = BDTClassifier(class_weight="balanced", threads=1).fit(X, y, sample_weight=w)
    m.save(tmp_path / "bdt.pkl")
    again = load(tmp_path / "bdt.pkl")
    np.testing.assert_array_equal(again.predict_proba(X), m.predict_proba(X))
    assert again.provenance_["booster_params"]["learning_rate"] == 0.1
    # event weights matter: doubling the weight of signal events moves the scores up
    heavier = BDTClassifier(threads=1).fit(X, y, sample_weight=np.where(y == 1, 2.0, 1.0))
    plain = BDTClassifier(threads=1).fit(X, y)
    assert heavier.predict_proba(X)[:, 1].mean() > plain.predict_proba(X)[:, 1].mean() + 0.02


# ---- the default MLP: early stopping on events that never train ----

def test_mlp_validation_events_take_no_part_in_training():
    X, y, _ = toy(1200, seed=4)
    a = MLPClassifier(hidden_layers=(16,), epochs=6, patience=100, seed=3).fit(X, y)
    tr, va = validation_split(y, 0.1, 3)
    assert len(np.intersect1d(tr, va)) == 0 and len(tr) + len(va) == len(X)
    assert len(va) == 120 and abs(y[va].mean() - y.mean()) < 0.01  # stratified
    np.testing.assert_array_equal(a.validation_indices_, np.sort(va))
    # the same network trained on the training events alone, for as many epochs as the restored
    # best one, is the same network bit for bit: the validation events changed nothing but the
    # choice of epoch (nor the standardisation)
    b = MLPClassifier(hidden_layers=(16,), epochs=a.best_epoch_ + 1, early_stopping=False, seed=3).fit(X[tr], y[tr])
    np.testing.assert_array_equal(a.mean_, b.mean_)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    c = MLPClassifier(hidden_layers=(16,), epochs=a.best_epoch_ + 1, early_stopping=False, seed=3).fit(X, y)
    assert not np.array_equal(a.predict_proba(X), c.predict_proba(X))  # the control: all events differ
    # regression: the target's standardisation, too, comes from the training events alone
    t = X[:, 0] * 2.0 + 0.5
    ra = MLPClassifier(hidden_layers=(16,), epochs=4, patience=100, seed=3).fit(X, t)
    rtr, rva = validation_split(t, 0.1, 3, stratify=False)
    np.testing.assert_array_equal(ra.validation_indices_, np.sort(rva))
    rb = MLPClassifier(hidden_layers=(16,), epochs=ra.best_epoch_ + 1, early_stopping=False, seed=3).fit(X[rtr], t[rtr])
    assert (ra.y_mean_, ra.y_std_) == (rb.y_mean_, rb.y_std_)
    np.testing.assert_array_equal(ra.predict(X), rb.predict(X))


# ---- default-model quality against scikit-learn's defaults ----

def quality_task(name: str):
    if name == "higgsml":
        from conftest import SHARED_DATA

        from hepsift.data import Dataset

        folder = SHARED_DATA / "atlas_higgsml"
        if not folder.is_dir():
            pytest.skip("shared HiggsML sample not present")
        train, test = Dataset.from_higgsml(folder).split(0.5, seed=1)
        return train.X, train.y, test.X, test.y
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=10000, n_features=30, n_informative=12, n_redundant=6, flip_y=0.05,
                               class_sep=0.7, random_state=0)
    X = X.astype(np.float32)
    return X[:6000], y[:6000], X[6000:], y[6000:]


def default_aucs(data, models=("bdt", "hgb", "mlp", "skmlp")) -> dict[str, float]:
    """ROC AUC on the test part of hepsift's and scikit-learn's default models (one thread each)."""
    import warnings

    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.neural_network import MLPClassifier as SkMLP
    from threadpoolctl import threadpool_limits

    Xtr, ytr, Xte, yte = data
    make = {"bdt": lambda: BDTClassifier(seed=1), "hgb": lambda: HistGradientBoostingClassifier(random_state=1),
            "mlp": lambda: MLPClassifier(seed=1), "skmlp": lambda: SkMLP(random_state=1)}
    out = {}
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn's MLP may stop at max_iter
        for key in models:
            out[key] = float(roc_auc_score(yte, make[key]().fit(Xtr, ytr).predict_proba(Xte)[:, 1]))
    return out


#: AUC by which hepsift's default BDT / MLP may fall short of scikit-learn's default HGB / MLP.
AUC_TOLERANCE = 0.005


@pytest.mark.parametrize("task", ["higgsml", "synthetic"])
def test_default_models_match_scikit_learn_defaults(task):
    auc = default_aucs(quality_task(task))
    assert auc["bdt"] >= auc["hgb"] - AUC_TOLERANCE, auc
    assert auc["mlp"] >= auc["skmlp"] - AUC_TOLERANCE, auc
    assert auc["bdt"] > 0.85 and auc["mlp"] > 0.85, auc  # both learn (chance is 0.5)


@pytest.fixture(scope="module")
def generated_tasks(tmp_path_factory):
    pytest.importorskip("pythia8mc")
    from hepsift.data import Dataset
    from hepsift.events import generate

    out = tmp_path_factory.mktemp("quality")
    bkg = generate("ttbar", events=8000, seed=1, output=out / "ttbar.root", progress=False)
    tasks = {}
    for process, mass in (("zprime_tt", 1000.0), ("tprime_pair", 1200.0)):
        sig = generate(process, mass=mass, events=4000, seed=1, output=out / f"{process}.root", progress=False)
        train, test = Dataset.from_root([bkg, sig], "full").split(0.5, seed=1)
        tasks[process] = (train.X, train.y, test.X, test.y)
    return tasks


@pytest.mark.validation
@pytest.mark.parametrize("task", ["higgsml", "zprime_tt", "tprime_pair"])
def test_default_models_on_the_physics_tasks(task, request):
    data = quality_task("higgsml") if task == "higgsml" else request.getfixturevalue("generated_tasks")[task]
    auc = default_aucs(data)
    assert auc["bdt"] >= auc["hgb"] - AUC_TOLERANCE, auc
    assert auc["mlp"] >= auc["skmlp"] - AUC_TOLERANCE, auc


@pytest.mark.validation
def test_default_bdt_trains_as_fast_as_scikit_learn_hgb():
    """200k x 30 events, one thread each, best of two: hepsift's default BDT (fit, parity sample and
    threshold table included) within 1.5 times scikit-learn's ``HistGradientBoostingClassifier()``."""
    import time

    from sklearn.datasets import make_classification
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    X, y = make_classification(n_samples=220_000, n_features=30, n_informative=12, n_redundant=6, flip_y=0.05,
                               class_sep=0.7, random_state=0)
    X = X.astype(np.float32)
    data = (X[:200_000], y[:200_000], X[200_000:], y[200_000:])
    times: dict[str, float] = {"bdt": np.inf, "hgb": np.inf}
    with threadpool_limits(1):
        for _ in range(2):
            for key, make in (("hgb", lambda: HistGradientBoostingClassifier(random_state=1)),
                              ("bdt", lambda: BDTClassifier(seed=1))):
                t0 = time.perf_counter()
                make().fit(data[0], data[1])
                times[key] = min(times[key], time.perf_counter() - t0)
    assert times["bdt"] <= 1.5 * times["hgb"], times
    auc = default_aucs(data, ("bdt", "hgb"))
    assert auc["bdt"] >= auc["hgb"] - 1e-9, auc


@pytest.mark.parametrize("name", ["gradient", "adaboost", "rf"])
def test_exact_tree_exports_route_adjacent_floats_as_native(name, tmp_path):
    """skl2onnx moves the cuts of the exact trees (float64 midpoints too) to float32 values that
    preserve every comparison."""
    X, y, (lo, hi) = adjacent_floats_toy(2000)
    model = quick(name).fit(X, y)
    P = X[:600].copy()
    P[:, 5] = np.where(np.arange(600) % 2 == 0, lo, hi)
    P[::3, 3] = -999.0
    path = model.to_onnx(tmp_path / f"{name}.onnx", [*FEATURES, "adj"])
    assert np.max(np.abs(onnx_predict(path, P) - model.predict_proba(P)[:, 1])) <= 1e-5
    # the events at ``hi`` and ``lo`` do take different branches (else the check above would be empty)
    Q = P.copy()
    Q[:, 5] = lo
    assert np.any(model.predict_proba(P)[:, 1] != model.predict_proba(Q)[:, 1])
