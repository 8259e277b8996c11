"""Generative models: they reproduce a known 2-D Gaussian mixture and a skewed HEP-like toy,
generate integer counts and absent objects (-999) at the right rates, export their sampler to
ONNX, and generate the same events inside RDataFrame as in Python."""

from __future__ import annotations

import numpy as np
import pytest

import hepsift
from hepsift.export import onnx_predict, read_metadata
from hepsift.generative import AlphaVAE, BetaVAE, NormalizingFlow, fidelity, load, two_sample_auc
from hepsift.io.features import MISSING

from conftest import REPO, SHARED_DATA

NAMES = ["a", "b"]
MODELS = ["vae", "alpha", "flow"]
# Two-sample AUC bounds (0.5 = indistinguishable) on the Gaussian mixture, 5000 events, after
# the short trainings of the fixture; measured 0.520 (beta-VAE), 0.542 (alpha-VAE), 0.516 (flow).
MIXTURE_AUC_BOUND = {"vae": 0.60, "alpha": 0.60, "flow": 0.60}
# ... and on the skewed toy (4 features, 4000 training events); measured 0.527 (beta-VAE),
# 0.574 (alpha-VAE), 0.523 (flow); the same beta-VAE sampled from its N(0, 1) prior: 0.82.
TOY_AUC_BOUND = {"vae": 0.65, "alpha": 0.65, "flow": 0.62}

def mixture(n: int, seed: int) -> np.ndarray:
    """A known 2-D Gaussian mixture: 40 % N((-2, 0), C1), 60 % N((2, 1), C2), correlated."""
    rng = np.random.default_rng(seed)
    pick = rng.random(n) < 0.4
    a = rng.multivariate_normal([-2.0, 0.0], [[0.5, 0.3], [0.3, 0.8]], n)
    b = rng.multivariate_normal([2.0, 1.0], [[0.6, -0.2], [-0.2, 0.4]], n)
    return np.where(pick[:, None], a, b).astype(np.float32)


def skewed(n: int, seed: int) -> np.ndarray:
    """HEP-like toy: a falling p_T spectrum above a threshold, a softer correlated p_T, an
    acceptance-bounded pseudorapidity and a Z-like mass peak that drifts with p_T."""
    rng = np.random.default_rng(seed)
    pt1 = 30.0 + rng.exponential(50.0, n)
    pt2 = 25.0 + (pt1 - 25.0) * rng.beta(2.0, 3.0, n)
    eta = np.clip(rng.normal(0.0, 1.3, n), -2.5, 2.5)
    mass = 91.2 + 2.5 * rng.standard_normal(n) + 0.02 * pt1
    return np.stack([pt1, pt2, eta, mass], axis=1).astype(np.float32)


def counts_and_holes(n: int, seed: int) -> np.ndarray:
    """A count (Poisson n_jets), a b-tag (0/1), a jet p_T that is absent (-999) when n_jets < 2,
    and a mass with a point mass at 80.4 in 40 % of the events."""
    rng = np.random.default_rng(seed)
    n_jets = rng.poisson(2.2, n).astype(np.float64)
    btag = (rng.random(n) < 0.3).astype(np.float64)
    pt = np.where(n_jets >= 2, 25.0 + rng.exponential(40.0, n), MISSING)
    mass = np.where(rng.random(n) < 0.4, 80.4, 80.4 + rng.exponential(30.0, n))
    return np.stack([n_jets, btag, pt, mass], axis=1).astype(np.float32)


@pytest.fixture(scope="module")
def models():
    X = mixture(5000, 0)
    return {
        "vae": BetaVAE(hidden=(64, 64), epochs=30, seed=1).fit(X, feature_names=NAMES),
        "alpha": AlphaVAE(hidden=(64, 64), epochs=30, seed=1).fit(X, feature_names=NAMES),
        "flow": NormalizingFlow(flow="maf", transforms=4, hidden=(64, 64), epochs=15, seed=1).fit(
            X, feature_names=NAMES),
    }  # fmt: skip


def test_reference_two_sample_auc_is_half():
    assert abs(two_sample_auc(mixture(4000, 1), mixture(4000, 2)) - 0.5) < 0.04


@pytest.mark.parametrize("name", MODELS)
def test_reproduces_gaussian_mixture(models, name):
    real = mixture(5000, 3)
    gen = models[name].sample(5000, seed=4)
    assert gen.shape == (5000, 2) and gen.dtype == np.float32
    f = fidelity(real, gen, feature_names=NAMES)
    assert f["two_sample_auc"] < MIXTURE_AUC_BOUND[name], f
    assert f["wasserstein_rel_mean"] < 0.1 and f["corr_diff_max"] < 0.1
    np.testing.assert_array_equal(models[name].sample(100, seed=9), models[name].sample(100, seed=9))


@pytest.mark.parametrize("name", MODELS)
def test_reproduces_skewed_hep_features(name):
    cls = {"vae": BetaVAE, "alpha": AlphaVAE, "flow": NormalizingFlow}[name]
    kw = {"epochs": 20, "hidden": (64, 64)} if name == "flow" else {"epochs": 40, "hidden": (64, 64)}
    g = cls(seed=2, **kw).fit(skewed(4000, 10))
    gen = g.sample(4000, seed=5)
    real = skewed(4000, 11)
    assert two_sample_auc(real, gen, seed=1) < TOY_AUC_BOUND[name]
    # the quantile preprocessing keeps every generated value inside the training range
    assert gen[:, 0].min() >= 30.0 and np.abs(gen[:, 2]).max() <= 2.5


def test_normal_prior_beta_vae_is_worse_than_mixture_prior():
    """The prior hole: the same network sampled from N(0, 1) is far easier to tell from data."""
    X, real = skewed(4000, 10), skewed(4000, 11)
    normal = BetaVAE(prior="normal", hidden=(64, 64), epochs=40, seed=2).fit(X)
    mixed = BetaVAE(prior="gmm", hidden=(64, 64), epochs=40, seed=2).fit(X)
    assert normal.latent_dim_ == 4 and mixed.latent_dim_ == 5
    auc_normal = two_sample_auc(real, normal.sample(4000, seed=5), seed=1)
    auc_mixed = two_sample_auc(real, mixed.sample(4000, seed=5), seed=1)
    assert auc_mixed < auc_normal - 0.1, (auc_mixed, auc_normal)


@pytest.mark.parametrize("cls", [NormalizingFlow, AlphaVAE])
def test_counts_and_absent_objects(cls):
    from scipy.stats import poisson

    X = counts_and_holes(6000, 20)
    kw = {"epochs": 15, "hidden": (64, 64)} if cls is NormalizingFlow else {"epochs": 30, "hidden": (64, 64)}
    g = cls(seed=3, **kw).fit(X, feature_names=["n_jets", "btag", "pt", "mass"])
    assert g.n_encoded_ == 5  # four features + one "present" indicator for pt
    gen = g.sample(6000, seed=7)
    real = counts_and_holes(6000, 21)
    # counts are integers inside the training range; the b-tag is 0 or 1
    assert np.array_equal(gen[:, 0], np.floor(gen[:, 0])) and gen[:, 0].min() >= 0
    assert gen[:, 0].max() <= X[:, 0].max()
    assert set(np.unique(gen[:, 1])) <= {0.0, 1.0}
    truth = {0: {k: poisson.pmf(k, 2.2) for k in range(8)}, 1: {0: 0.7, 1: 0.3}}
    for j, pmf in truth.items():  # every count's frequency within 0.03 of its probability
        for v, p in pmf.items():
            assert abs((gen[:, j] == v).mean() - p) < 0.03, (j, v, (gen[:, j] == v).mean(), p)
    # -999 appears at the right rate, only as -999, and the present values stay above threshold
    absent_real, absent_gen = (real[:, 2] == MISSING).mean(), (gen[:, 2] == MISSING).mean()
    assert abs(absent_gen - absent_real) < 0.03, (absent_gen, absent_real)
    present = gen[:, 2] != MISSING
    assert gen[present, 2].min() >= 25.0
    # the absence follows n_jets (absent iff n_jets < 2) in most generated events
    assert np.mean((gen[:, 0] >= 2) == present) > 0.9
    # the point mass at 80.4 is generated exactly, at its rate
    assert abs((gen[:, 3] == np.float32(80.4)).mean() - 0.4) < 0.03
    f = fidelity(real, gen, feature_names=["n_jets", "btag", "pt", "mass"])
    assert abs(f["per_feature"]["pt"]["present_real"] - (1 - absent_real)) < 1e-12
    assert f["per_feature"]["pt"]["ks"] < 0.06


def test_codec_round_trip():
    """decode(encode(x)) == x: counts exactly, -999 exactly, continuous values to float precision."""
    import torch

    from hepsift.generative._codec import decoder_module, encode, fit_codec

    X = counts_and_holes(3000, 30)
    names = ["n_jets", "btag", "pt", "mass"]
    for marginals in ("quantile", "standard"):
        state = fit_codec(X, names, marginals=marginals, seed=0)
        y = encode(state, X, seed=1)
        assert y.shape == (3000, 5) and np.isfinite(y).all()
        if marginals == "quantile":  # Gaussian marginals
            assert np.abs(y.mean(axis=0)).max() < 0.05 and np.abs(y.std(axis=0) - 1).max() < 0.05
        with torch.no_grad():
            back = decoder_module(state)(torch.from_numpy(y)).numpy()
        np.testing.assert_array_equal(back[:, :2], X[:, :2])
        np.testing.assert_array_equal(back[:, 2] == MISSING, X[:, 2] == MISSING)
        np.testing.assert_allclose(back[:, 2:], X[:, 2:], rtol=1e-5)
    with pytest.raises(hepsift.DataError, match="every event"):
        fit_codec(np.full((20, 1), MISSING, dtype=np.float32), ["x"], marginals="quantile", seed=0)
    with pytest.raises(hepsift.ConfigurationError, match="marginals"):
        fit_codec(X, names, marginals="box-cox", seed=0)


@pytest.mark.parametrize("name", MODELS)
def test_sampler_export_parity(models, name, tmp_path):
    m = models[name]
    path = m.to_onnx(tmp_path / f"{name}.onnx")
    meta = read_metadata(path)
    assert meta["kind"] == "generator" and meta["features"] == m.noise_names_
    assert meta["raw"]["hepsift.generated_features"] == '["a", "b"]'
    z = np.random.default_rng(5).standard_normal((2000, m.latent_dim_)).astype(np.float32)
    np.testing.assert_allclose(onnx_predict(path, z), m.decode(z), rtol=1e-5, atol=1e-5)


def test_counts_export_parity(tmp_path):
    """Floors and "present" thresholds give the same events in ONNX Runtime as in torch."""
    X = counts_and_holes(2000, 40)
    m = BetaVAE(hidden=(32, 32), epochs=5, seed=4).fit(X, feature_names=["n_jets", "btag", "pt", "mass"])
    path = m.to_onnx(tmp_path / "counts.onnx")
    z = np.random.default_rng(6).standard_normal((5000, m.latent_dim_)).astype(np.float32)
    np.testing.assert_array_equal(onnx_predict(path, z), m.decode(z))


@pytest.mark.parametrize("name", MODELS)
def test_generate_in_rdataframe(ROOT, models, name, tmp_path):
    from conftest import threads

    from hepsift.generative import counter_noise
    from hepsift.rdf import sample

    m = models[name]
    path = m.to_onnx(tmp_path / f"{name}.onnx")
    cols = ["event", "a", "b"]
    node = sample(str(path), 3000, seed=11)
    one = node.AsNumpy([*cols, "__hepsift_noise"])
    assert len(one["a"]) == 3000
    np.testing.assert_array_equal(one["event"], np.arange(3000))
    # the same events as the Python sampler on the same noise
    noise = np.stack([np.asarray(v, dtype=np.float32) for v in one["__hepsift_noise"]])
    np.testing.assert_allclose(np.stack([one["a"], one["b"]], axis=1), m.decode(noise), rtol=1e-5, atol=1e-5)
    # and the Python sampler draws that noise itself: the same seed gives the same events
    np.testing.assert_array_equal(noise, counter_noise(11, 3000, m.latent_dim_))
    np.testing.assert_allclose(np.stack([one["a"], one["b"]], axis=1), m.sample(3000, seed=11), rtol=1e-5, atol=1e-5)
    with threads(ROOT, 2):
        two = sample(str(path), 3000, seed=11).AsNumpy(cols)
    order = np.argsort(two["event"])
    np.testing.assert_array_equal(two["a"][order], one["a"])
    np.testing.assert_array_equal(two["b"][order], one["b"])
    other = sample(str(path), 3000, seed=12).AsNumpy(cols)
    assert not np.array_equal(other["a"], one["a"])
    gen = np.stack([one["a"], one["b"]], axis=1)
    assert two_sample_auc(mixture(3000, 13), gen) < MIXTURE_AUC_BOUND[name] + 0.02


def test_bad_input_gives_clear_errors(models, tmp_path, ROOT):
    from hepsift.anomaly import HBOS
    from hepsift.rdf import sample

    X = mixture(500, 20)
    X[3, 1] = np.nan
    with pytest.raises(hepsift.NonFiniteInputError, match=r"'b'.*event 3"):
        BetaVAE(epochs=1).fit(X, feature_names=NAMES)
    X[:, 1] = MISSING
    with pytest.raises(hepsift.DataError, match="b hold -999 .* every event"):
        NormalizingFlow(epochs=1).fit(X, feature_names=NAMES)
    with pytest.raises(hepsift.ConfigurationError, match="prior"):
        BetaVAE(epochs=1, prior="vamp").fit(mixture(50, 1))
    with pytest.raises(hepsift.ConfigurationError, match="alpha"):
        AlphaVAE(epochs=1, alpha=0.0).fit(mixture(50, 1))
    with pytest.raises(hepsift.InputMismatchError, match="noise"):
        models["vae"].decode(np.zeros((3, 7), dtype=np.float32))
    with pytest.raises(hepsift.InputMismatchError, match="noise inputs"):
        hepsift.export.to_onnx(models["vae"], tmp_path / "v.onnx", feature_names=["x", "y"], kind="generator")
    with pytest.raises(hepsift.NotFittedError):
        AlphaVAE().sample(3)
    with pytest.raises(hepsift.ConfigurationError, match="continuous"):
        NormalizingFlow(epochs=1).fit(counts_and_holes(200, 1)).log_prob(counts_and_holes(10, 2))
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


def test_flow_log_prob_is_a_normalised_density(models):
    """The flow's density in the original units (quantile map's Jacobian included) integrates to 1."""
    flow = models["flow"]
    lo, hi = flow.codec_["knots_x"][:, 0], flow.codec_["knots_x"][:, -1]
    ga, gb = np.linspace(lo[0], hi[0], 301), np.linspace(lo[1], hi[1], 301)
    A, B = np.meshgrid(ga, gb, indexing="ij")
    p = np.exp(flow.log_prob(np.stack([A.ravel(), B.ravel()], axis=1))).reshape(A.shape)
    integral = np.trapezoid(np.trapezoid(p, gb, axis=1), ga)
    assert abs(integral - 1.0) < 0.03, integral
    lp = flow.log_prob(mixture(2000, 30))
    inside = np.all((mixture(2000, 30) >= lo) & (mixture(2000, 30) <= hi), axis=1)
    assert np.isfinite(lp[inside]).all() and np.isneginf(lp[~inside]).all()
    assert lp[inside].mean() > flow.log_prob(np.clip(mixture(2000, 30) + 3, lo, hi)).mean()


# --- validation suite: default settings on real ATLAS events ------------------------------
# Bounds on the two-sample AUC of the 7 continuous features of bench/generators.py (4999
# training and 4999 held-out events): beta-VAE and alpha-VAE at most 0.70, the flow at most 0.60.
ATLAS_AUC_BOUND = {"vae": 0.70, "alpha": 0.70, "flow": 0.60}


@pytest.mark.validation
@pytest.mark.skipif(not (SHARED_DATA / "atlas_higgsml").is_dir(), reason="shared HiggsML sample not present")
@pytest.mark.parametrize("name", MODELS)
def test_validation_atlas_features_with_defaults(name):
    import sys

    sys.path.insert(0, str(REPO / "bench"))
    from generators import atlas

    X, names = atlas(SHARED_DATA)
    perm = np.random.default_rng(1).permutation(len(X))
    train, test = X[perm[: len(X) // 2]], X[perm[len(X) // 2 :]]
    cls = {"vae": BetaVAE, "alpha": AlphaVAE, "flow": NormalizingFlow}[name]
    g = cls(seed=1).fit(train, feature_names=names)
    assert two_sample_auc(test, g.sample(len(test), seed=8), seed=1) < ATLAS_AUC_BOUND[name]
