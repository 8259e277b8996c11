"""The saved-estimator format: one zip of JSON + safetensors + skops for every estimator, never a pickle."""

from __future__ import annotations

import json
import os
import pickle
import stat
import zipfile
from pathlib import Path

import numpy as np
import pytest

import hepsift
from hepsift import _saved
from hepsift.anomaly import HBOS, AutoEncoder, DeepSVDD, IsolationForest
from hepsift.generative import BetaVAE, NormalizingFlow
from hepsift.models import BDTClassifier, MLPClassifier, ParameterizedClassifier, RandomForestClassifier

NAMES = ["a", "b", "c", "d"]


def _data(n: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)).astype(np.float32)
    y = (X[:, 0] + 0.7 * rng.normal(size=n) > 0).astype(int)
    Xm = X.copy()
    Xm[:, 3] = np.where(y == 1, rng.choice([1.0, 2.0, 3.0], n), 0.0)
    return X, y, Xm


def _fit(name: str):
    X, y, Xm = _data()
    rng = np.random.default_rng(1)
    makers = {
        "mlp": lambda: MLPClassifier(hidden_layers=(8,), epochs=3, dropout=0.1).fit(X, y),
        "mlp_multiclass": lambda: MLPClassifier(hidden_layers=(4,), epochs=2).fit(X, rng.integers(0, 3, len(X))),
        "mlp_regression": lambda: MLPClassifier(hidden_layers=(4,), epochs=2).fit(X, 1.5 * X[:, 1]),
        "bdt_adaboost": lambda: BDTClassifier(n_estimators=5).fit(X, y),
        "bdt_gradient": lambda: BDTClassifier(boosting="gradient", n_estimators=5).fit(X, y),
        "rf": lambda: RandomForestClassifier(n_estimators=20).fit(X, y),
        "pnn": lambda: ParameterizedClassifier(estimator=MLPClassifier(hidden_layers=(4,), epochs=2)).fit(Xm, y),
        "pnn_bdt": lambda: ParameterizedClassifier(estimator=BDTClassifier(n_estimators=4)).fit(Xm, y),
        "autoencoder": lambda: AutoEncoder(epochs=2).fit(X, feature_names=NAMES),
        "deepsvdd": lambda: DeepSVDD(epochs=2).fit(X, feature_names=NAMES),
        "iforest": lambda: IsolationForest(n_estimators=10).fit(X, feature_names=NAMES),
        "hbos": lambda: HBOS().fit(X, feature_names=NAMES),
        "betavae": lambda: BetaVAE(epochs=2).fit(X, feature_names=NAMES),
        "flow": lambda: NormalizingFlow(epochs=2).fit(X, feature_names=NAMES),
    }
    return makers[name]()


KINDS = ["mlp", "mlp_multiclass", "mlp_regression", "bdt_adaboost", "bdt_gradient", "rf", "pnn", "pnn_bdt",
         "autoencoder", "deepsvdd", "iforest", "hbos", "betavae", "flow"]


@pytest.fixture(scope="module")
def fitted():
    return {k: _fit(k) for k in KINDS}


@pytest.fixture(scope="module")
def saved(fitted, tmp_path_factory):
    folder = tmp_path_factory.mktemp("saved")
    return {k: m.save(folder / f"{k}.hsm") for k, m in fitted.items()}


def _outputs(m) -> np.ndarray:
    X, _, Xm = _data(300, seed=7)
    if hasattr(m, "sample"):
        return m.sample(64, seed=3)
    if isinstance(m, ParameterizedClassifier):
        return m.predict_proba(Xm)
    if getattr(m, "task_", None) == "regression":
        return m.predict(X)
    if hasattr(m, "predict_proba"):
        return m.predict_proba(X)
    return m.decision_function(X)


@pytest.mark.parametrize("kind", KINDS)
def test_round_trip_gives_identical_outputs(fitted, saved, kind):
    m, path = fitted[kind], saved[kind]
    assert zipfile.is_zipfile(path)
    back = hepsift.load(path)
    assert type(back) is type(m)
    np.testing.assert_array_equal(_outputs(back), _outputs(m))
    assert back.get_params().keys() == m.get_params().keys()
    assert back.provenance_ == m.provenance_
    again = type(m).load(path)
    np.testing.assert_array_equal(_outputs(again), _outputs(m))
    with zipfile.ZipFile(path) as zf:  # readable without hepsift: JSON manifest
        manifest = json.loads(zf.read("manifest.json"))
        assert not any(n.endswith((".pkl", ".pickle", ".pt")) for n in zf.namelist())
    assert (manifest["format"], manifest["format_version"], manifest["class"]) == (
        "hepsift-estimator", 2, type(m).__name__)
    if hasattr(m, "feature_names_in_"):
        assert manifest["feature_names"] == list(m.feature_names_in_)
    if getattr(m, "threshold_", None):
        assert manifest["thresholds"] == pytest.approx(m.threshold_)


def test_every_estimator_class_is_registered():
    from hepsift._estimator import Estimator

    def leaves(cls):
        subs = cls.__subclasses__()
        return {cls} if not subs else set().union(*(leaves(s) for s in subs))

    registry = _saved.estimator_classes()
    for cls in leaves(Estimator):
        assert registry.get(cls.__name__) is cls, f"{cls.__name__} cannot be saved"
    assert hepsift.models.load is hepsift.load and hepsift.anomaly.load is hepsift.load
    assert hepsift.generative.load is hepsift.load


@pytest.mark.parametrize("kind", KINDS)
def test_load_of_a_class_refuses_another_class(fitted, saved, kind):
    cls = type(fitted[kind])
    start = KINDS.index(kind)
    others = [k for k in KINDS[start + 1:] + KINDS[:start] if type(fitted[k]) is not cls]
    for other in (others[0], others[-1]):  # a neighbour and one from the far end of the list
        with pytest.raises(hepsift.ModelError, match=f"holds a {type(fitted[other]).__name__}, not a {cls.__name__}"):
            cls.load(saved[other])


def test_family_bases_load_their_own_family_only(saved):
    from hepsift.anomaly import Detector
    from hepsift.generative import Generator
    from hepsift.models import Estimator

    assert isinstance(Estimator.load(saved["pnn"]), ParameterizedClassifier)
    assert isinstance(Estimator.load(saved["hbos"]), HBOS)  # one base for every learner
    with pytest.raises(hepsift.ModelError, match="holds a HBOS, not a MLPClassifier"):
        MLPClassifier.load(saved["hbos"])
    with pytest.raises(hepsift.ModelError, match="not a Detector"):
        Detector.load(saved["betavae"])
    assert isinstance(Generator.load(saved["flow"]), NormalizingFlow)


# ---- malicious files ---------------------------------------------------------------------------
class _Exploit:
    """Unpickling this runs a shell command that creates ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _payload(marker: Path, protocol: int = pickle.HIGHEST_PROTOCOL, old_format: str = "hepsift-estimator/1") -> bytes:
    """A pickle laid out as an old saved estimator (models' or anomaly/generative format) that runs code."""
    if old_format == "hepsift-estimator/1":
        return pickle.dumps({"format": old_format, "class": "MLPClassifier", "estimator": _Exploit(marker)},
                            protocol=protocol)
    return pickle.dumps({"format": old_format, "class": "hepsift.anomaly._hbos:HBOS", "config": {},
                         "state": {"edges_": _Exploit(marker)}}, protocol=protocol)


def test_the_exploit_is_live(tmp_path):
    marker = tmp_path / "proof"
    pickle.loads(_payload(marker))
    assert marker.exists()  # so the tests below would notice a loader that unpickles
    marker.unlink()
    pickle.loads(_payload(marker, old_format="hepsift-estimator-1"))
    assert marker.exists()


@pytest.mark.parametrize("old_format", ["hepsift-estimator/1", "hepsift-estimator-1"])
@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_a_pickle_file_is_refused_without_unpickling(tmp_path, protocol, old_format):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.pkl"
    path.write_bytes(_payload(marker, protocol, old_format))
    with pytest.raises(hepsift.ModelError) as err:
        hepsift.load(path)
    assert not marker.exists()
    if protocol >= 2:
        assert "pickle" in str(err.value) and "save it again" in str(err.value)
    with pytest.raises(hepsift.ModelError):
        MLPClassifier.load(path)
    assert not marker.exists()


def _rewrite(path: Path, out: Path, replace: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            dst.writestr(name, replace.get(name, src.read(name)))
    return out


@pytest.fixture(scope="module")
def every_member(fitted, tmp_path_factory):
    """A saved MLP with a torch tensor attribute and a random forest: all four member kinds."""
    import torch

    folder = tmp_path_factory.mktemp("members")
    mlp = hepsift.load(fitted["mlp"].save(folder / "mlp.hsm"))
    mlp.extra_tensor_ = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    paths = [mlp.save(folder / "mlp_tensor.hsm"), fitted["rf"].save(folder / "rf.hsm")]
    kinds = set()
    for p in paths:
        with zipfile.ZipFile(p) as zf:
            kinds |= {n.split("/")[0] for n in zf.namelist()}
    assert kinds == {"manifest.json", "arrays.safetensors", "torch.safetensors", "sklearn"}
    back = hepsift.load(paths[0])
    assert torch.equal(back.extra_tensor_, mlp.extra_tensor_)
    return paths


def test_every_member_replaced_by_a_pickle_is_refused(every_member, tmp_path):
    marker = tmp_path / "pwned"
    evil = _payload(marker)
    n = 0
    for path in every_member:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
        for name in names:
            bad = _rewrite(path, tmp_path / f"bad{n}.hsm", {name: evil})
            n += 1
            with pytest.raises(hepsift.ModelError):
                hepsift.load(bad)
            assert not marker.exists(), name
    assert n >= 5


def _skops_member(obj) -> bytes:
    import skops.io as sio

    return sio.dumps(obj)


def test_skops_member_with_untrusted_types_is_refused(every_member, tmp_path):
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import FunctionTransformer

    marker = tmp_path / "pwned"
    rf = every_member[1]
    with zipfile.ZipFile(rf) as zf:
        member = next(n for n in zf.namelist() if n.endswith(".skops"))
    # a transformer that would call os.system: skops records the function as an untrusted type
    attack = FunctionTransformer(func=os.system, kw_args={})
    attack.fit(np.zeros((1, 1)))
    data = _skops_member(attack)
    assert "posix.system" in sio.get_untrusted_types(data=data) or "nt.system" in sio.get_untrusted_types(data=data)
    with pytest.raises(hepsift.ModelError, match="does not trust"):
        hepsift.load(_rewrite(rf, tmp_path / "fn.hsm", {member: data}))
    assert not marker.exists()
    # a scikit-learn estimator that skops trusts by default but hepsift never wraps
    lr = LogisticRegression().fit(np.array([[0.0], [1.0]]), [0, 1])
    with pytest.raises(hepsift.ModelError, match="not a scikit-learn estimator hepsift wraps"):
        hepsift.load(_rewrite(rf, tmp_path / "lr.hsm", {member: _skops_member(lr)}))


def test_class_names_come_from_the_registry_only(saved, tmp_path):
    with zipfile.ZipFile(saved["hbos"]) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    for name in ("os:system", "hepsift.anomaly._hbos:HBOS", "subprocess.Popen", "ImputingScaler"):
        bad = _rewrite(saved["hbos"], tmp_path / "cls.hsm", {"manifest.json": json.dumps({**manifest, "class": name})})
        with pytest.raises(hepsift.ModelError, match="unknown hepsift estimator class"):
            hepsift.load(bad)
    state = {**manifest["state"], "evil": {"$object": "posix:system", "state": {}}}
    bad = _rewrite(saved["hbos"], tmp_path / "obj.hsm", {"manifest.json": json.dumps({**manifest, "state": state})})
    with pytest.raises(hepsift.ModelError, match="unknown hepsift value class"):
        hepsift.load(bad)


# ---- versions, damage, junk -----------------------------------------------------------------------
def test_unknown_format_version_is_refused(saved, tmp_path):
    with zipfile.ZipFile(saved["mlp"]) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    for version, match in ((3, "format version 3; this hepsift reads version 2; it was written by a newer"),
                           (1, "format version 1; this hepsift reads version 2"), ("2", "format version '2'")):
        bad = _rewrite(saved["mlp"], tmp_path / "v.hsm",
                       {"manifest.json": json.dumps({**manifest, "format_version": version})})
        with pytest.raises(hepsift.ModelError, match=match):
            hepsift.load(bad)
    bad = _rewrite(saved["mlp"], tmp_path / "f.hsm", {"manifest.json": json.dumps({**manifest, "format": "other"})})
    with pytest.raises(hepsift.ModelError, match="not a hepsift estimator file .format 'other'"):
        hepsift.load(bad)


def test_truncated_and_junk_files_are_refused(saved, tmp_path):
    data = saved["rf"].read_bytes()
    for cut in (len(data) // 2, len(data) - 10, 10):
        short = tmp_path / "short.hsm"
        short.write_bytes(data[:cut])
        with pytest.raises(hepsift.ModelError, match="damaged or truncated"):
            hepsift.load(short)
    (tmp_path / "junk.hsm").write_bytes(b"not a model")
    with pytest.raises(hepsift.ModelError, match="not a hepsift estimator file"):
        hepsift.load(tmp_path / "junk.hsm")
    with pytest.raises(hepsift.ModelError, match="no such saved-estimator file"):
        hepsift.load(tmp_path / "absent.hsm")
    extra = _rewrite(saved["hbos"], tmp_path / "extra.hsm", {})
    with zipfile.ZipFile(extra, "a") as zf:
        zf.writestr("payload.pkl", b"x")
    with pytest.raises(hepsift.ModelError, match="differ from those listed"):
        hepsift.load(extra)


# ---- saving ------------------------------------------------------------------------------------------
def test_save_is_atomic_and_refuses_unknown_values(fitted, saved, tmp_path, monkeypatch):
    target = tmp_path / "m.hsm"
    fitted["mlp"].save(target)
    before = target.read_bytes()
    m = hepsift.load(target)
    m.bad_ = object()
    with pytest.raises(hepsift.OutputError, match="exists; pass --overwrite"):
        m.save(target)
    with pytest.raises(hepsift.ModelError, match="cannot save state/bad_: values of type builtins.object"):
        m.save(target, overwrite=True)
    del m.bad_

    def boom(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(zipfile.ZipFile, "writestr", boom)
    with pytest.raises(OSError, match="disk full"):
        m.save(target, overwrite=True)
    monkeypatch.undo()
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.hsm"]  # no temporary file left
    m.save(tmp_path / "sub" / "new.hsm")  # creates the folder; permissions as for any new file
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((tmp_path / "sub" / "new.hsm").stat().st_mode) == 0o666 & ~umask


def test_state_values_round_trip_exactly(fitted, tmp_path):
    m = hepsift.load(fitted["mlp"].save(tmp_path / "a.hsm"))
    m.extras_ = {
        "nan": float("nan"), "inf": -float("inf"), "f32": np.float32(0.1), "i64": np.int64(-3), "flag": np.bool_(True),
        "tuple": (1, "x", (2.5,)), "int_keys": {1: "a", 2: [1, 2]}, "dollar": {"$array": "not a reference"},
        "names": np.array(["pt", "eta"]), "a/b": np.ones(2), "a": {"b": np.zeros(3)}, "u8": np.arange(4, dtype=np.uint8).reshape(2, 2), "empty": np.zeros((0, 3)),
    }
    back = hepsift.load(m.save(tmp_path / "b.hsm")).extras_
    assert np.isnan(back["nan"]) and back["inf"] == -float("inf")
    assert type(back["f32"]) is np.float32 and back["f32"] == np.float32(0.1)
    assert type(back["i64"]) is np.int64 and back["i64"] == -3 and back["flag"] is np.True_
    assert back["tuple"] == (1, "x", (2.5,)) and back["int_keys"] == {1: "a", 2: [1, 2]}
    assert back["dollar"] == {"$array": "not a reference"}
    assert back["names"].tolist() == ["pt", "eta"]
    assert back["a/b"].tolist() == [1.0, 1.0] and back["a"]["b"].tolist() == [0.0, 0.0, 0.0]
    assert back["u8"].dtype == np.uint8 and back["u8"].tolist() == [[0, 1], [2, 3]] and back["empty"].shape == (0, 3)


def test_hist_gradient_boosting_round_trips(tmp_path):
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y, _ = _data()
    bdt = BDTClassifier(boosting="gradient", n_estimators=3).fit(X, y)
    bdt.estimator_ = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(X, y)
    back = hepsift.load(bdt.save(tmp_path / "hgb.hsm"))
    assert type(back.estimator_) is HistGradientBoostingClassifier
    np.testing.assert_array_equal(back.predict_proba(X), bdt.predict_proba(X))


def test_load_reads_no_pickle_module(saved):
    """Nothing on the load path goes through pickle (checked by making pickle unusable)."""
    import unittest.mock

    with unittest.mock.patch("pickle.loads", side_effect=AssertionError("pickle.loads called")), \
         unittest.mock.patch("pickle.load", side_effect=AssertionError("pickle.load called")), \
         unittest.mock.patch("pickle.Unpickler", side_effect=AssertionError("Unpickler used")):
        for path in saved.values():
            hepsift.load(path)
