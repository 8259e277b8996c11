"""One owner of the -999 convention (hepsift._missing): the sentinel, "sanitised", the one
imputation and the finite check, and every path that calls them."""

from __future__ import annotations

import numpy as np
import pytest

import hepsift
from hepsift import _missing
from hepsift._missing import MISSING, ImputingScaler, check_finite, sanitised_features
from hepsift.anomaly import HBOS, AutoEncoder, IsolationForest
from hepsift.data import Dataset
from hepsift.generative import BetaVAE, two_sample_auc
from hepsift.models import BDTClassifier, MLPClassifier
from hepsift.nplm import NPLM

NAMES = ["lep_pt", "met_pt", "jet3_pt", "fatjet1_pt"]


def _events(n: int = 300, seed: int = 0) -> np.ndarray:
    """Four features; jet3_pt absent in ~40 % of events, fatjet1_pt in a few."""
    rng = np.random.default_rng(seed)
    X = rng.exponential(50.0, size=(n, 4)).astype(np.float32) + 20
    X[rng.random(n) < 0.4, 2] = MISSING
    X[rng.random(n) < 0.05, 3] = MISSING
    return X


def test_one_definition_of_the_sentinel():
    import hepsift.anomaly
    import hepsift.data
    import hepsift.io
    import hepsift.models.mlp

    assert hepsift.io.MISSING is hepsift.data.MISSING is hepsift.anomaly.MISSING is _missing.MISSING == -999.0
    assert hepsift.models.mlp.MLPClassifier().missing_value == MISSING
    assert hepsift.data.FEATURE_SETS is _missing.FEATURE_SETS == ("full", "sanitised")
    assert hepsift.anomaly.sanitised_features is sanitised_features


def test_sanitised_rule_and_its_refusal():
    X = _events()
    assert sanitised_features(X, NAMES) == ["lep_pt", "met_pt"]
    assert sanitised_features(X[:, :2]) == ["x0", "x1"]
    holes = np.full((5, 2), MISSING, dtype=np.float32)
    with pytest.raises(hepsift.DataError, match="sanitised feature set is empty.*Dataset.require"):
        sanitised_features(holes, ["a", "b"])
    with pytest.raises(hepsift.DataError, match="no events"):
        sanitised_features(np.zeros((0, 2)), ["a", "b"])


def test_dataset_and_detector_sanitise_the_same_events_alike():
    X = _events(400, seed=3)
    ds = Dataset.from_arrays(X, np.zeros(len(X), dtype=int), feature_names=NAMES)
    det = HBOS(feature_set="sanitised").fit(X, feature_names=NAMES)
    assert ds.sanitise().feature_names == det.feature_names_in_ == sanitised_features(X, NAMES) == ["lep_pt", "met_pt"]
    # the rule follows the events given: without the events lacking a large-R jet, fatjet1_pt stays
    kept = X[X[:, 3] != MISSING]
    ds2 = Dataset.from_arrays(kept, np.zeros(len(kept), dtype=int), feature_names=NAMES)
    det2 = HBOS(feature_set="sanitised").fit(kept, feature_names=NAMES)
    assert ds2.sanitise().feature_names == det2.feature_names_in_ == ["lep_pt", "met_pt", "fatjet1_pt"]
    # nothing left: the same DataError from both
    holes = np.full((50, 2), MISSING, dtype=np.float32)
    with pytest.raises(hepsift.DataError, match="sanitised feature set is empty"):
        Dataset.from_arrays(holes, np.zeros(50, dtype=int)).sanitise()
    with pytest.raises(hepsift.DataError, match="sanitised feature set is empty"):
        HBOS(feature_set="sanitised").fit(holes, feature_names=["a", "b"])


def test_imputing_scaler_fills_below_the_range():
    X = _events(500, seed=1).astype(np.float64)
    sc = ImputingScaler.fit(X)
    present = X[:, 2][X[:, 2] != MISSING]
    assert sc.fill[2] == pytest.approx(present.min() - present.std(), rel=1e-5)
    Xf = np.where(X == MISSING, sc.fill.astype(np.float64), X)
    np.testing.assert_allclose(sc.mean, Xf.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(sc.scale, Xf.std(axis=0), rtol=1e-5)
    Z = sc.transform(X)
    assert Z.dtype == np.float32 and abs(Z).max() < 10  # the raw -999 would sit far outside
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=1e-4)
    torch = pytest.importorskip("torch")
    with torch.no_grad():
        zt = sc.torch_module()(torch.from_numpy(X.astype(np.float32))).numpy()
    np.testing.assert_array_equal(zt, Z)
    # imputation only, and no sentinel at all
    only = ImputingScaler.fit(X, standardize=False)
    assert np.all(only.mean == 0) and np.all(only.scale == 1)
    none = ImputingScaler.fit(X[:, :2], sentinel=None)
    np.testing.assert_allclose(none.transform(X[:, :2]), (X[:, :2] - X[:, :2].mean(0)) / X[:, :2].std(0), atol=1e-4)


def test_the_mlp_and_the_detectors_impute_alike():
    X = _events(400, seed=2)
    y = (np.random.default_rng(0).random(len(X)) < 0.5).astype(int)
    mlp = MLPClassifier(hidden_layers=(4,), epochs=1, early_stopping=False).fit(X, y)
    ref = ImputingScaler.fit(X)
    np.testing.assert_array_equal(mlp.fill_, ref.fill)
    np.testing.assert_array_equal(mlp.mean_, ref.mean)
    np.testing.assert_array_equal(mlp.scale_, ref.scale)
    ae = AutoEncoder(hidden=(4,), latent_dim=2, epochs=1, calibration_fraction=0.0).fit(X, feature_names=NAMES)
    assert isinstance(ae.scaler_, ImputingScaler)
    np.testing.assert_array_equal(ae.scaler_.fill, ref.fill)


@pytest.fixture(scope="module")
def fitted():
    X = _events(200, seed=4)[:, :2]
    y = np.arange(len(X)) % 2
    return {
        "mlp": MLPClassifier(hidden_layers=(4,), epochs=1, early_stopping=False).fit(X, y),
        "bdt": BDTClassifier(n_estimators=3).fit(X, y),
        "iforest": IsolationForest(n_estimators=5).fit(X, feature_names=NAMES[:2]),
        "vae": BetaVAE(hidden=(4,), latent_dim=2, epochs=1).fit(X, feature_names=NAMES[:2]),
    }


def _nan_events(bad: float) -> np.ndarray:
    X = _events(200, seed=4)[:, :2].copy()
    X[[3, 9, 11], 1] = bad
    return X


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
def test_non_finite_values_are_always_NonFiniteInputError(fitted, bad):
    X = _nan_events(bad)
    y = np.arange(len(X)) % 2
    msg = r"feature 'met_pt' holds 3 NaN or infinite value\(s\)"
    generic = r"feature 'x1' holds 3 NaN or infinite value\(s\)"
    paths = {
        "check_finite": (lambda: check_finite(X, NAMES[:2]), msg),
        "Dataset": (lambda: Dataset.from_arrays(X, y, feature_names=NAMES[:2]), msg),
        "MLPClassifier.fit": (lambda: MLPClassifier(epochs=1).fit(X, y), generic),
        "MLPClassifier.predict_proba": (lambda: fitted["mlp"].predict_proba(X), generic),
        "BDTClassifier.fit": (lambda: BDTClassifier(n_estimators=2).fit(X, y), generic),
        "BDTClassifier.predict_proba": (lambda: fitted["bdt"].predict_proba(X), generic),
        "Detector.fit": (lambda: HBOS().fit(X, feature_names=NAMES[:2]), msg),
        "Detector.decision_function": (lambda: fitted["iforest"].decision_function(X), msg),
        "Generator.fit": (lambda: BetaVAE(epochs=1).fit(X, feature_names=NAMES[:2]), msg),
        "NPLM.fit": (lambda: NPLM(mode="kernel", n_centers=10).fit(_events(200)[:, :2], X), generic),
        "fidelity": (lambda: two_sample_auc(X, _events(200)[:, :2]), generic),
    }
    for name, (call, pattern) in paths.items():
        with pytest.raises(hepsift.NonFiniteInputError, match=pattern):
            call()
    noise = np.zeros((4, fitted["vae"].latent_dim_), dtype=np.float32)
    noise[2, 1] = bad
    with pytest.raises(hepsift.NonFiniteInputError, match=r"feature 'noise1' holds 1"):
        fitted["vae"].decode(noise)
    assert issubclass(hepsift.NonFiniteInputError, hepsift.EvaluationError)


def test_drop_features_synonym_is_gone():
    from hepsift.data import MISSING_POLICIES

    assert MISSING_POLICIES == ("keep", "drop_events")
    ds = Dataset.from_arrays(_events(), np.zeros(300, dtype=int))
    with pytest.raises(hepsift.ConfigurationError, match="unknown missing-value policy 'drop_features'"):
        ds.apply_missing_policy("drop_features")
