"""One contract for every hepsift learner.

Every public class of hepsift.models, hepsift.anomaly, hepsift.generative and hepsift.nplm that
learns (has ``fit``) is an :class:`hepsift._estimator.Estimator`; every concrete one is found
here without being listed and must pass: scikit-learn's clone, get/set_params round trip (nested
too), ``fit`` returns the estimator, one fitted check, save -> hepsift.load with identical
outputs, the one provenance layout and threshold-key format, and ``to_onnx`` whose ONNX Runtime
outputs equal the Python ones. A new learner that breaks it fails here.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re

import numpy as np
import pytest
from sklearn.base import clone

import hepsift
from hepsift import _saved
from hepsift._estimator import EFFICIENCIES, Estimator, threshold_table
from hepsift.export import onnx_predict, read_metadata, verify_digest
from hepsift.export._metadata import efficiency_key
from hepsift.models import BDTClassifier, MLPClassifier, ParameterizedClassifier

PACKAGES = ("hepsift.models", "hepsift.anomaly", "hepsift.generative", "hepsift.nplm")
NAMES = ["a", "b", "c", "d"]

#: Small settings for whichever of these parameters a learner has (tiny data, 1-2 epochs).
FAST = {"epochs": 2, "n_estimators": 5, "hidden_layers": (4,), "hidden": (4,), "latent_dim": 2, "batch_size": 64,
        "n_centers": 20, "early_stopping": False, "max_iter": 5, "n_bins": 10, "calibration_fraction": 0.5,
        "flow_layers": 1, "transforms": 1, "phi_layers": (4,), "rho_layers": (4,), "conv_layers": ((2, 3),),
        "local_layers": ((2, 3),), "dense_layers": (4,)}


def _public_classes() -> dict[str, type]:
    out = {}
    for pkg in PACKAGES:
        mod = importlib.import_module(pkg)
        for name in mod.__all__:
            obj = getattr(mod, name)
            if inspect.isclass(obj):
                out[f"{pkg}.{name}"] = obj
    return out


def _learners() -> list[type]:
    """Every concrete public Estimator (abstract family bases define no ``__init__``)."""
    found = {cls for cls in _public_classes().values()
             if issubclass(cls, Estimator) and cls.__init__ is not object.__init__}
    return sorted(found, key=lambda c: c.__name__)


LEARNERS = _learners()


def _make(cls: type) -> Estimator:
    params = set(inspect.signature(cls.__init__).parameters)
    kw = {k: v for k, v in FAST.items() if k in params}
    if cls is ParameterizedClassifier:
        kw["estimator"] = MLPClassifier(**{k: v for k, v in FAST.items()
                                           if k in inspect.signature(MLPClassifier.__init__).parameters})
    if cls.__name__ == "NPLM":
        kw["mode"] = "kernel"
    return cls(**kw)


def _data(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)).astype(np.float32)
    y = (X[:, 0] + 0.7 * rng.normal(size=n) > 0).astype(int)
    return X, y


def _input_kind(cls: type) -> str:
    """``flat`` ([N, F]), ``set`` (objects [N, P, F] + mask), ``jets`` (objects [N, J, P, F] + mask,
    one score per jet) or ``image`` ([N, C, H, W]), from the graph inputs a learner declares."""
    names = tuple(getattr(cls, "_input_names", ()))
    if names == ("images",):
        return "image"
    if names == ("objects", "mask"):
        return "jets" if len(cls._output_axes) == 2 else "set"
    return "flat"


def _lowlevel_data(kind: str, n: int = 200, seed: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Tiny fitting data of a set, jet or image learner: inputs by graph input name, and labels."""
    rng = np.random.default_rng(seed)
    if kind == "image":
        x = rng.random((n, 2, 8, 8)).astype(np.float32)
        y = (x[:, 0, 3:5, 3:5].sum(axis=(1, 2)) + 0.3 * rng.normal(size=n) > 2.0).astype(int)
        return {"images": x}, y
    shape = (n, 5) if kind == "set" else (n, 3, 4)
    x = rng.normal(size=(*shape, 2)).astype(np.float32)
    mask = (rng.random(shape) < 0.7).astype(np.float32)
    mask[..., 0] = 1.0
    y = (x[..., 0, 0] + 0.7 * rng.normal(size=shape[:-1]) > 0).astype(int)
    return {"objects": x, "mask": mask}, y


def _fit(m: Estimator) -> Estimator:
    kind = _input_kind(type(m))
    if kind != "flat":
        data, y = _lowlevel_data(kind)
        return m.fit(data["images"], y) if kind == "image" else m.fit(data["objects"], y, mask=data["mask"])
    if getattr(type(m), "_input_kind", None) == "object_lists":  # DarkMachines-like events
        from darkmachines_toy import toy_events

        return m.fit(toy_events(300, seed=0))
    X, y = _data()
    if isinstance(m, ParameterizedClassifier):
        X = X.copy()
        X[:, 3] = np.where(y == 1, np.random.default_rng(1).choice([1.0, 2.0], len(y)), 0.0)
        return m.fit(X, y)
    if type(m).__name__ == "NPLM":
        return m.fit(X[:300], X[300:] + 0.3)
    if hasattr(m, "predict_proba"):
        return m.fit(X, y)
    return m.fit(X, feature_names=NAMES)


def _inputs(m: Estimator) -> np.ndarray | dict[str, np.ndarray]:
    """Events (or noise, for a generator) on which the Python and the ONNX outputs are compared."""
    if hasattr(m, "decode"):
        return np.random.default_rng(5).standard_normal((64, m.latent_dim_)).astype(np.float32)
    kind = _input_kind(type(m))
    if kind != "flat":
        data, _ = _lowlevel_data(kind, 64, seed=7)
        return data["images"] if kind == "image" else data
    X, _ = _data(200, seed=7)
    if isinstance(m, ParameterizedClassifier):
        X[:, 3] = 1.0
    return X


def _outputs(m: Estimator) -> np.ndarray:
    """The Python output that the exported file computes (the score, or the generated events)."""
    x = _inputs(m)
    if isinstance(x, dict):  # a set learner: objects and mask; the score per event or per jet
        return m.predict_proba(x["objects"], x["mask"])[..., 1]
    if hasattr(m, "decode"):
        return m.decode(x)
    if hasattr(m, "predict_proba"):
        return m.predict_proba(x)[:, 1]
    return m.decision_function(x)


@pytest.fixture(scope="module")
def fitted():
    return {cls: _fit(_make(cls)) for cls in LEARNERS}


def test_every_public_learner_is_an_estimator():
    classes = _public_classes()
    not_estimators = [name for name, cls in classes.items()
                      if callable(getattr(cls, "fit", None)) and not issubclass(cls, Estimator)]
    assert not_estimators == []
    names = {c.__name__ for c in LEARNERS}
    assert {"MLPClassifier", "BDTClassifier", "RandomForestClassifier", "ParameterizedClassifier", "AutoEncoder",
            "DeepSVDD", "IsolationForest", "HBOS", "BetaVAE", "NormalizingFlow", "NPLM"} <= names
    # every learner is one the saved format knows (hepsift.load can read it back)
    assert names <= set(_saved.estimator_classes())


@pytest.mark.parametrize("cls", LEARNERS, ids=lambda c: c.__name__)
def test_contract(fitted, cls, tmp_path):
    m = fitted[cls]
    # clone: an unfitted copy with the same parameters; one fitted check before fit
    c = clone(m)
    assert type(c) is cls and c is not m and c.is_fitted is False and m.is_fitted is True
    with pytest.raises(hepsift.NotFittedError, match="not fitted"):
        c._check_fitted()
    with pytest.raises(hepsift.NotFittedError):
        c.sample(4) if hasattr(c, "sample") else _outputs(c)
    # parameters: declared in __init__ only, the same fields as the configuration dataclass
    assert [f.name for f in dataclasses.fields(cls.config_class)] == cls._param_names()
    assert not any(k.endswith("_") for k in vars(c)), "an unfitted estimator holds learned state"
    # parameters: round trip (nested included), repr, configuration dataclass
    deep = m.get_params(deep=True)
    assert c.set_params(**deep) is c and c.get_params(deep=True).keys() == deep.keys()
    assert type(c).from_config(c.to_config().to_json()).get_params(deep=False).keys() == deep.keys() & set(
        m.get_params(deep=False))
    assert repr(c).startswith(f"{cls.__name__}(")
    with pytest.raises(hepsift.ConfigurationError, match="no parameter 'bogus'"):
        c.set_params(bogus=1)
    # fit returns the estimator itself, which is then fitted
    assert _fit(c) is c and c.is_fitted
    # save -> hepsift.load: same class, identical outputs, same provenance
    path = m.save(tmp_path / "m.hsm")
    back = hepsift.load(path)
    assert type(back) is cls and cls.load(path).is_fitted
    np.testing.assert_array_equal(_outputs(back), _outputs(m))
    assert back.provenance_ == m.provenance_
    # one export spelling: .to_onnx(path); ONNX Runtime gives the Python outputs
    onnx_path = m.to_onnx(tmp_path / "m.onnx")
    assert verify_digest(onnx_path) is True
    np.testing.assert_allclose(onnx_predict(onnx_path, _inputs(m)), _outputs(m), rtol=1e-4, atol=1e-4)
    meta = read_metadata(onnx_path)
    assert meta["kind"] == m._onnx_kind()
    assert meta["provenance"]["estimator"] == cls.__name__ and meta["provenance"]["data"] == m.provenance_["data"]
    if getattr(m, "threshold_", None):
        assert meta["thresholds"] == pytest.approx(m.threshold_)


@pytest.mark.parametrize("cls", LEARNERS, ids=lambda c: c.__name__)
def test_one_provenance_layout_and_threshold_keys(fitted, cls):
    m = fitted[cls]
    p = m.provenance_
    assert {"estimator", "hepsift", "versions", "seed", "config", "data", "created"} <= set(p)
    assert (p["estimator"], p["hepsift"], p["seed"]) == (cls.__name__, hepsift.__version__, m.seed)
    assert p["config"] == m.to_config().to_dict() and p["versions"]["numpy"] == np.__version__
    assert set(p["data"]) == {"n_events", "feature_names", "weights_sum"} and p["data"]["n_events"] > 0
    assert len(p["data"]["feature_names"]) == m.n_features_in_
    for key in getattr(m, "threshold_", None) or {}:
        # the one key format of the metadata schema (hepsift.thresholds): "1e-2", "5e-3", ...
        assert re.fullmatch(r"[1-9](\.[0-9]*[1-9])?e-[1-9][0-9]*", key) and key == efficiency_key(float(key)), key


def test_threshold_table_is_a_weighted_quantile_with_efficiency_keys():
    s = np.arange(1000.0)
    t = threshold_table(s)
    assert list(t) == ["1e-2", "1e-3"]  # 1e-4 < 1/1000 is not resolvable from 1000 events
    assert np.mean(s > t["1e-2"]) == pytest.approx(1e-2) and np.mean(s > t["1e-3"]) == pytest.approx(1e-3)
    # doubling the weight of the top 10 events moves the 1e-2 cut up: their weight alone is ~2 %
    w = np.ones(1000)
    w[-10:] = 2.0
    tw = threshold_table(s, w)
    assert w[s > tw["1e-2"]].sum() / w.sum() <= 1e-2 < w[s >= tw["1e-2"]].sum() / w.sum()
    assert EFFICIENCIES == (1e-2, 1e-3, 1e-4) and efficiency_key(5e-3) == "5e-3"


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


def test_removed_spellings_are_gone():
    from hepsift import nplm

    assert not hasattr(Estimator, "export") and not hasattr(nplm.NPLM, "export_onnx")
    assert "export_onnx" not in nplm.__all__
