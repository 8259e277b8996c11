"""Generative models: they reproduce a known 2-D Gaussian mixture, export their sampler to
ONNX, and generate events inside RDataFrame deterministically per seed."""

from __future__ import annotations

import numpy as np
import pytest

import hepsift
from hepsift.export import onnx_predict, read_metadata
from hepsift.generative import BetaVAE, NormalizingFlow, fidelity, load, two_sample_auc

NAMES = ["a", "b"]
# Two-sample AUC bounds (0.5 = indistinguishable); measured about 0.69 (VAE) and 0.53 (flow).
VAE_AUC_BOUND = 0.80
FLOW_AUC_BOUND = 0.62


def mixture(n: int, seed: int) -> np.ndarray:
    """A known 2-D Gaussian mixture: 40 % N((-2, 0), C1), 60 % N((2, 1), C2), correlated."""
    rng = np.random.default_rng(seed)
    pick = rng.random(n) < 0.4
    a = rng.multivariate_normal([-2.0, 0.0], [[0.5, 0.3], [0.3, 0.8]], n)
    b = rng.multivariate_normal([2.0, 1.0], [[0.6, -0.2], [-0.2, 0.4]], n)
    return np.where(pick[:, None], a, b).astype(np.float32)


@pytest.fixture(scope="module")
def models():
    X = mixture(5000, 0)
    vae = BetaVAE(latent_dim=2, hidden=(64, 64), beta=0.05, epochs=30, seed=1).fit(X, feature_names=NAMES)
    flow = NormalizingFlow(flow="maf", transforms=4, hidden=(64, 64), epochs=15, seed=1).fit(X, feature_names=NAMES)
    return {"vae": vae, "flow": flow}


def test_reference_two_sample_auc_is_half():
    assert abs(two_sample_auc(mixture(4000, 1), mixture(4000, 2)) - 0.5) < 0.04


@pytest.mark.parametrize("name,bound", [("vae", VAE_AUC_BOUND), ("flow", FLOW_AUC_BOUND)])
def test_reproduces_gaussian_mixture(models, name, bound):
    real = mixture(5000, 3)
    gen = models[name].sample(5000, seed=4)
    assert gen.shape == (5000, 2) and gen.dtype == np.float32
    f = fidelity(real, gen, feature_names=NAMES)
    assert f["two_sample_auc"] < bound, f
    assert f["wasserstein_rel_mean"] < 0.25 and f["corr_diff_max"] < 0.15
    np.testing.assert_array_equal(models[name].sample(100, seed=9), models[name].sample(100, seed=9))


@pytest.mark.parametrize("name", ["vae", "flow"])
def test_sampler_export_parity(models, name, tmp_path):
    m = models[name]
    path = m.to_onnx(tmp_path / f"{name}.onnx")
    meta = read_metadata(path)
    assert meta["kind"] == "generator" and meta["features"] == m.noise_names_
    assert meta["raw"]["hepsift.generated_features"] == '["a", "b"]'
    z = np.random.default_rng(5).standard_normal((2000, m.latent_dim_)).astype(np.float32)
    np.testing.assert_allclose(onnx_predict(path, z), m.decode(z), rtol=1e-5, atol=1e-5)


def test_generate_in_rdataframe(ROOT, models, tmp_path):
    from conftest import threads

    from hepsift.rdf import sample

    path = models["flow"].to_onnx(tmp_path / "flow.onnx")
    cols = ["event", "a", "b"]
    one = sample(str(path), 3000, seed=11).AsNumpy(cols)
    assert len(one["a"]) == 3000
    np.testing.assert_array_equal(one["event"], np.arange(3000))
    with threads(ROOT, 2):
        two = sample(str(path), 3000, seed=11).AsNumpy(cols)
    order = np.argsort(two["event"])
    np.testing.assert_array_equal(two["a"][order], one["a"])
    np.testing.assert_array_equal(two["b"][order], one["b"])
    other = sample(str(path), 3000, seed=12).AsNumpy(cols)
    assert not np.array_equal(other["a"], one["a"])
    gen = np.stack([one["a"], one["b"]], axis=1)
    assert two_sample_auc(mixture(3000, 13), gen) < FLOW_AUC_BOUND


def test_bad_input_gives_clear_errors(models, tmp_path, ROOT):
    from hepsift.anomaly import HBOS
    from hepsift.rdf import sample

    X = mixture(500, 20)
    X[3, 1] = np.nan
    with pytest.raises(hepsift.NonFiniteInputError, match=r"'b'.*event 3"):
        BetaVAE(epochs=1).fit(X, feature_names=NAMES)
    X[3, 1] = -999.0
    with pytest.raises(hepsift.DataError, match="sanitised"):
        NormalizingFlow(epochs=1).fit(X, feature_names=NAMES)
    with pytest.raises(hepsift.InputMismatchError, match="noise"):
        models["vae"].decode(np.zeros((3, 5), dtype=np.float32))
    with pytest.raises(hepsift.InputMismatchError, match="noise inputs"):
        hepsift.export.to_onnx(models["vae"], tmp_path / "v.onnx", feature_names=["x", "y", "z"], kind="generator")
    with pytest.raises(hepsift.NotFittedError):
        BetaVAE().sample(3)
    det = HBOS().fit(mixture(500, 21), feature_names=NAMES).to_onnx(tmp_path / "hbos.onnx")
    with pytest.raises(hepsift.ConfigurationError, match="generator"):
        sample(str(det), 10, seed=1)
    with pytest.raises(hepsift.ConfigurationError):
        sample(str(det), 10, seed=-1)


def test_save_load_and_config(models, tmp_path):
    for name, m in models.items():
        m.save(tmp_path / f"{name}.hsm")
        back = load(tmp_path / f"{name}.hsm")
        np.testing.assert_array_equal(back.sample(50, seed=2), m.sample(50, seed=2))
        assert type(m.to_config()).from_json(m.to_config().to_json()) == m.to_config()
    flow = models["flow"]
    lp = flow.log_prob(mixture(2000, 30))
    assert np.isfinite(lp).all() and lp.mean() > flow.log_prob(mixture(2000, 30) + 6).mean()
