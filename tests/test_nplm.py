"""Tests of hepsift.nplm: null calibration, signal sensitivity, resumable toys, ONNX export."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from hepsift import nplm
from hepsift.errors import ConfigurationError, DataError, NonFiniteInputError, NotFittedError

KERNEL = {"mode": "kernel", "n_centers": 100}
NEURAL = {"mode": "neural", "epochs": 600, "hidden": (4,)}


@pytest.fixture(scope="module")
def reference():
    return np.random.default_rng(11).exponential(size=(4000, 1))


def _signal_data(seed, n_bkg=300, n_sig=40):
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.exponential(size=(n_bkg, 1)), rng.normal(2.5, 0.2, size=(n_sig, 1))])


def test_public_api_is_pinned():
    assert sorted(nplm.__all__) == sorted(
        [
            "MODES",
            "NPLM",
            "NPLMConfig",
            "NullDistribution",
            "PValue",
            "calibrate",
            "plot_nplm_null",
            "fit_chi2",
            "p_value",
            "test_statistic",
        ]
    )


def test_fit_chi2_recovers_dof():
    t = np.random.default_rng(0).chisquare(7.0, size=4000)
    dof, ks = nplm.fit_chi2(t)
    assert dof == pytest.approx(7.0, rel=0.03)
    assert ks > 0.01
    dof_bad, ks_bad = nplm.fit_chi2(np.random.default_rng(0).uniform(0, 1, 4000))
    assert ks_bad < 1e-6


def test_p_value_formulas():
    from scipy import stats

    toys = np.arange(1.0, 100.0)  # 99 toys
    pv = nplm.p_value(50.5, toys, dof=5.0)
    assert pv.p_empirical == pytest.approx((1 + 49) / 100)
    assert pv.p_chi2 == pytest.approx(stats.chi2.sf(50.5, 5.0))
    assert pv.z_chi2 == pytest.approx(stats.norm.isf(pv.p_chi2))
    with pytest.raises(DataError):
        nplm.p_value(float("nan"), toys)


@pytest.mark.parametrize("opts", [KERNEL, NEURAL], ids=["kernel", "neural"])
def test_null_calibration_and_signal(reference, opts):
    n_toys = 60 if opts["mode"] == "kernel" else 24
    null = nplm.calibrate(reference, 300, n_toys, seed=1, progress=False, n_jobs=2, **opts)
    assert null.n_toys == n_toys and null.t.shape == (n_toys,)
    # reference-only toys follow the fitted chi-square: mean close to dof, KS not small
    assert abs(null.mean - null.dof) < 3.0 * np.sqrt(2.0 * null.dof / n_toys) + 0.5
    assert null.ks_pvalue > 0.01
    if opts["mode"] == "neural":  # 13 parameters for a 1-4-1 network; an undertrained fit gives fewer
        assert 4.0 < null.dof < 16.0
    # an injected bump gives a clearly larger Z than the null toys do
    t_sig = nplm.test_statistic(reference, _signal_data(5), n_expected=300, seed=2, **opts)
    z_sig = nplm.p_value(t_sig, null).z_chi2
    z_null = [nplm.p_value(t, null).z_chi2 for t in null.t]
    assert t_sig > np.max(null.t)
    assert z_sig > 3.0 and z_sig > np.median(z_null) + 2.5


def test_toys_are_deterministic_and_resume(tmp_path, reference):
    path = tmp_path / "toys.jsonl"
    first = nplm.calibrate(reference, 200, 4, seed=3, progress=False, n_jobs=1, save_path=path, **KERNEL)
    lines = path.read_text().splitlines()
    assert len(lines) == 5 and json.loads(lines[0])["config_key"]
    # resuming computes only the 3 missing toys; the result equals a fresh run on 2 processes
    resumed = nplm.calibrate(reference, 200, 7, seed=3, progress=False, n_jobs=1, save_path=path, **KERNEL)
    assert len(path.read_text().splitlines()) == 8
    fresh = nplm.calibrate(reference, 200, 7, seed=3, progress=False, n_jobs=2, **KERNEL)
    # bit-identical in this process and in worker processes, whatever the number of workers
    np.testing.assert_array_equal(resumed.t, fresh.t)
    np.testing.assert_array_equal(resumed.t[:4], first.t)
    with pytest.raises(ConfigurationError, match="different configuration"):
        nplm.calibrate(reference, 250, 7, seed=3, progress=False, n_jobs=1, save_path=path, **KERNEL)


def test_nuisance_variation_broadens_the_null(reference):
    def energy_scale(x, rng):  # a 20% scale uncertainty, drawn per toy
        return x * (1.0 + 0.2 * rng.standard_normal())

    def tilt(x, rng):  # a shape nuisance as a per-event reweighting
        a = 0.5 * rng.standard_normal()
        return np.exp(a * (x[:, 0] - 1.0))

    nominal = nplm.calibrate(reference, 300, 40, seed=4, progress=False, n_jobs=2, **KERNEL)
    varied = nplm.calibrate(reference, 300, 40, seed=4, progress=False, n_jobs=2, vary=energy_scale, **KERNEL)
    tilted = nplm.calibrate(reference, 300, 40, seed=4, progress=False, n_jobs=2, reweight=tilt, **KERNEL)
    assert varied.mean > 1.5 * nominal.mean
    assert tilted.mean > 1.3 * nominal.mean


def test_reference_weights_and_normalisation(reference):
    rng = np.random.default_rng(8)
    data = rng.exponential(size=(300, 1))
    t_shape = nplm.test_statistic(reference, data, seed=0, **KERNEL)
    # a 30% excess in the number of events is seen only through N(R)
    t_excess = nplm.test_statistic(reference, data, n_expected=230, seed=0, **KERNEL)
    assert t_excess > t_shape + 10.0
    # uniform reference weights summing to N(R) are the same as n_expected
    t_w = nplm.test_statistic(reference, data, reference_weights=np.full(4000, 230 / 4000), seed=0, **KERNEL)
    assert t_w == pytest.approx(t_excess, rel=1e-6)


@pytest.mark.parametrize("opts", [KERNEL, {"mode": "neural", "epochs": 200}], ids=["kernel", "neural"])
def test_constant_feature_is_left_out(tmp_path, reference, opts):
    """A feature with one value in reference and data carries no information: t is exactly the t
    without it (with a warning that names it), and f(x) and its ONNX export ignore it."""
    ort = pytest.importorskip("onnxruntime")
    data = _signal_data(6)
    ref3 = np.column_stack([reference[:, 0], np.full(len(reference), 0.1), reference[::-1, 0]])
    dat3 = np.column_stack([data[:, 0], np.full(len(data), 0.1), data[::-1, 0]])
    with pytest.warns(UserWarning, match=r"feature\(s\) 1 \(= 0.1\), counting from 0, constant"):
        t3, model = nplm.test_statistic(ref3, dat3, n_expected=300, return_model=True, **opts)
    t2 = nplm.test_statistic(ref3[:, [0, 2]], dat3[:, [0, 2]], n_expected=300, **opts)
    assert t3 == t2  # the same to the last bit
    np.testing.assert_array_equal(model.active_, [0, 2])
    x = np.random.default_rng(2).exponential(size=(50, 3))
    moved = x.copy()
    moved[:, 1] = 7.0
    np.testing.assert_array_equal(model.decision_function(x), model.decision_function(moved))
    model.to_onnx(tmp_path / "f.onnx")  # checks ONNX Runtime against f(x) itself
    sess = ort.InferenceSession(str(tmp_path / "f.onnx"), providers=["CPUExecutionProvider"])
    f_onnx = sess.run(["f"], {"x": x.astype(np.float32)})[0][:, 0]
    np.testing.assert_allclose(f_onnx, model.decision_function(x), atol=1e-4)


def test_constant_feature_errors(reference):
    ref2 = np.column_stack([reference[:, 0], np.full(len(reference), 2.0)])
    dat2 = np.column_stack([reference[:300, 0], np.full(300, 2.0)])
    dat2[17, 1] = 3.0
    msg = r"feature 1 \(counting from 0\) is constant \(2\) in the reference sample .*\(3 at data row 17"
    with pytest.raises(DataError, match=msg):
        nplm.test_statistic(ref2, dat2, **KERNEL)
    # every feature constant (this was a ZeroDivisionError)
    with pytest.raises(DataError, match="every feature is constant"):
        nplm.test_statistic(np.full((500, 1), 2.0), np.full((40, 1), 2.0), **KERNEL)
    with pytest.raises(DataError, match="every feature is constant"):
        nplm.test_statistic(np.full((500, 1), 2.0), np.full((40, 1), 2.0), mode="neural", epochs=10)
    # calibrate warns once, and its toys equal the toys without the feature
    with pytest.warns(UserWarning, match=r"feature\(s\) 1 \(= 2\), counting from 0, constant") as rec:
        null = nplm.calibrate(ref2, 200, 3, seed=5, progress=False, n_jobs=1, **KERNEL)
    assert len(rec) == 1
    plain = nplm.calibrate(ref2[:, :1], 200, 3, seed=5, progress=False, n_jobs=1, **KERNEL)
    np.testing.assert_array_equal(null.t, plain.t)


@pytest.mark.parametrize("opts", [KERNEL, {"mode": "neural", "epochs": 200}], ids=["kernel", "neural"])
def test_onnx_export(tmp_path, reference, opts):
    ort = pytest.importorskip("onnxruntime")
    from hepsift.export._metadata import read_metadata

    data = np.concatenate([_signal_data(1), _signal_data(2)])[:, [0, 0]] * [1.0, 2.0]
    ref2 = reference[:, [0, 0]] * [1.0, 2.0] + np.random.default_rng(0).normal(0, 0.1, (4000, 2))
    t, model = nplm.test_statistic(ref2, data, n_expected=680, seed=0, return_model=True, **opts)
    path = tmp_path / "f.onnx"
    model.to_onnx(path, ["mjj", "met"])
    meta = read_metadata(str(path))
    assert meta["kind"] == "density_ratio" and meta["features"] == ["mjj", "met"]
    assert meta["provenance"]["t"] == pytest.approx(t)
    x = ref2[:50].astype(np.float32)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(sess.run(["f"], {"x": x})[0][:, 0], model.decision_function(x), atol=1e-4)
    # f is larger where the bump was injected
    bump = np.array([[2.5, 5.0]])
    assert model.decision_function(bump)[0] > model.decision_function(np.array([[0.5, 1.0]]))[0]


def test_bad_input(reference):
    with pytest.raises(NonFiniteInputError, match="data: feature 'x0' holds 1 NaN or infinite value"):
        nplm.test_statistic(reference, np.array([[1.0], [np.nan]]), **KERNEL)
    with pytest.raises(DataError, match="features"):
        nplm.test_statistic(reference, np.ones((10, 2)), **KERNEL)
    with pytest.raises(DataError, match="empty"):
        nplm.test_statistic(reference, np.empty((0, 1)), **KERNEL)
    with pytest.raises(ConfigurationError, match="mode"):
        nplm.test_statistic(reference, reference[:10], mode="magic")
    with pytest.raises(DataError, match="n_expected"):
        nplm.test_statistic(reference, reference[:10], n_expected=-1.0, **KERNEL)
    with pytest.raises(DataError, match="too small"):
        nplm.calibrate(reference[:100], 300, 5, **KERNEL)
    with pytest.raises(NotFittedError):
        nplm.NPLM().decision_function(reference)
    with pytest.raises(ConfigurationError):
        nplm.NPLM().set_params(bogus=1)


def test_nplm_cli_and_demo(tmp_path, reference):
    np.save(tmp_path / "ref.npy", reference)
    np.save(tmp_path / "data.npy", _signal_data(3))
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "hepsift.cli",
            "nplm",
            "--reference",
            "ref.npy",
            "--data",
            "data.npy",
            "--n-expected",
            "300",
            "--toys",
            "10",
            "--jobs",
            "1",
            "--centers",
            "50",
            "--no-progress",
            "--output-dir",
            "o",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert out.returncode == 0, out.stderr
    rep = json.loads((tmp_path / "o" / "nplm.json").read_text())
    assert rep["null"]["n_toys"] == 10 and rep["z_chi2"] > 2.0
    assert (tmp_path / "o" / "nplm_f.onnx").stat().st_size > 0
    from hepsift.demo.statistics import demo_nplm

    res = demo_nplm(reference, _signal_data(4), out_dir=tmp_path / "demo", n_expected=300, n_toys=10)
    assert res["z"] > 2.0 and os.path.exists(res["files"]["onnx"])


@pytest.mark.validation
def test_neural_null_long():
    """Validation: 200 well-trained toys of a 1-4-1 network follow chi2 with about 13 dof."""
    ref = np.random.default_rng(0).exponential(size=(20000, 1))
    null = nplm.calibrate(ref, 1000, 200, seed=0, mode="neural", epochs=5000, progress=False)
    assert null.ks_pvalue > 0.01
    assert 9.0 < null.dof < 16.0
    assert abs(null.mean - null.dof) < 1.5


@pytest.mark.validation
def test_kernel_null_long():
    """Validation: 500 kernel toys follow the fitted chi-square."""
    ref = np.random.default_rng(0).exponential(size=(20000, 1))
    null = nplm.calibrate(ref, 2000, 500, seed=0, mode="kernel", n_centers=300, progress=False)
    assert null.ks_pvalue > 0.01 and abs(null.mean - null.dof) < 1.0


@pytest.mark.parametrize("mode", ["kernel", "neural"])
def test_save_and_load_give_the_same_f(tmp_path, reference, mode):
    import hepsift

    opts = KERNEL if mode == "kernel" else {"mode": "neural", "epochs": 50}
    t, model = nplm.test_statistic(reference, _signal_data(4), seed=0, return_model=True, **opts)
    back = hepsift.load(model.save(tmp_path / "nplm.hsm"))
    assert type(back) is nplm.NPLM and back.t_ == t and back.get_params() == model.get_params()
    np.testing.assert_array_equal(back.decision_function(reference[:200]), model.decision_function(reference[:200]))
    assert back.provenance_["t"] == t and back.provenance_["data"]["n_events"] == len(reference) + len(_signal_data(4))
