"""One contract for every hepsift learner: scikit-learn's clone and (nested) parameters, fit
returns the estimator, one fitted check, save -> hepsift.load, and one export spelling,
.to_onnx(path). A new estimator class that breaks it fails here."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from test_saved_format import KINDS, NAMES, _data, _fit, _outputs

import hepsift
from hepsift import _saved
from hepsift.export import read_metadata, verify_digest
from hepsift.models import BDTClassifier, MLPClassifier, ParameterizedClassifier


@pytest.fixture(scope="module")
def fitted():
    return {k: _fit(k) for k in KINDS}


def _fit_args(m, kind):
    X, y, Xm = _data()
    if isinstance(m, ParameterizedClassifier):
        return (Xm, y), {}
    if kind == "mlp_regression":
        return (X, 1.5 * X[:, 1]), {}
    if kind == "mlp_multiclass":
        return (X, np.random.default_rng(1).integers(0, 3, len(X))), {}
    if hasattr(m, "predict_proba"):
        return (X, y), {}
    return (X,), {"feature_names": NAMES}


def test_every_class_is_covered():
    assert {type(_fit(k)).__name__ for k in ("mlp", "rf", "pnn", "autoencoder", "deepsvdd", "iforest", "hbos",
                                             "betavae", "flow", "bdt_gradient")} == set(_saved.estimator_classes())


@pytest.mark.parametrize("kind", KINDS)
def test_contract(fitted, kind, tmp_path):
    m = fitted[kind]
    # clone: an unfitted copy with the same parameters
    c = clone(m)
    assert type(c) is type(m) and c is not m
    assert c.get_params(deep=False).keys() == m.get_params(deep=False).keys()
    with pytest.raises(hepsift.NotFittedError):
        _outputs(c)
    # parameters round trip and set_params returns the estimator
    assert c.set_params(**m.get_params(deep=False)) is c
    # fit returns the estimator itself, which is then fitted
    args, kw = _fit_args(m, kind)
    assert c.fit(*args, **kw) is c
    assert np.all(np.isfinite(np.asarray(_outputs(c), dtype=float)))
    # save -> hepsift.load: same class, identical outputs
    back = hepsift.load(m.save(tmp_path / "m.hsm"))
    assert type(back) is type(m)
    np.testing.assert_array_equal(_outputs(back), _outputs(m))
    # one export spelling: .to_onnx(path) writes a sealed, self-describing file
    path = m.to_onnx(tmp_path / "m.onnx")
    meta = read_metadata(path)
    assert verify_digest(path) is True and meta["kind"] in ("classifier", "regressor", "anomaly", "generator")


def test_nested_parameters_of_a_sub_estimator():
    p = ParameterizedClassifier(estimator=MLPClassifier(epochs=5))
    assert p.get_params()["estimator__epochs"] == 5
    assert p.set_params(estimator__epochs=3, estimator__hidden_layers=(8,)) is p
    assert (p.estimator.epochs, p.estimator.hidden_layers) == (3, (8,))
    c = clone(p)
    assert c.estimator is not p.estimator and c.estimator.epochs == 3
    with pytest.raises(hepsift.ConfigurationError, match="no parameter 'bogus'"):
        p.set_params(bogus=1)
    with pytest.raises(hepsift.ConfigurationError, match="ParameterizedClassifier.estimator is NoneType"):
        ParameterizedClassifier().set_params(estimator__epochs=3)
    assert isinstance(clone(ParameterizedClassifier(estimator=BDTClassifier())).estimator, BDTClassifier)


def test_own_clone_and_repr_with_a_sub_estimator():
    p = ParameterizedClassifier(estimator=MLPClassifier(epochs=4, seed=2), seed=3)
    c = p.clone()
    assert type(c.estimator) is MLPClassifier and c.estimator is not p.estimator and c.estimator.epochs == 4
    assert "estimator__" not in repr(p)
