"""hepsift.metrics: values against hand-computed cases and scikit-learn, plots, errors."""

from __future__ import annotations

import numpy as np
import pytest

import hepsift
from hepsift import metrics


def scores(n: int = 20000, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.5).astype(int)
    s = rng.normal(1.5 * y, 1.0)
    return y, s


def test_label_metrics_by_hand():
    y = np.array([1, 1, 1, 0, 0, 0, 0, 0])
    p = np.array([1, 1, 0, 1, 0, 0, 0, 0])
    assert metrics.accuracy(y, p) == pytest.approx(6 / 8)
    assert metrics.precision(y, p) == pytest.approx(2 / 3)
    assert metrics.recall(y, p) == pytest.approx(2 / 3)
    assert metrics.f1(y, p) == pytest.approx(2 / 3)
    # kappa = (p_o - p_e) / (1 - p_e); p_e = (3/8)(3/8) + (5/8)(5/8)
    pe = (3 / 8) ** 2 + (5 / 8) ** 2
    assert metrics.cohen_kappa(y, p) == pytest.approx((6 / 8 - pe) / (1 - pe))
    np.testing.assert_array_equal(metrics.confusion_matrix(y, p), [[4, 1], [1, 2]])
    np.testing.assert_allclose(metrics.confusion_matrix(y, p, normalize="true").sum(axis=1), 1.0)


def test_roc_efficiencies_and_sic():
    from scipy.stats import norm

    y, s = scores()
    auc = metrics.roc_auc(y, s)
    assert auc == pytest.approx(norm.cdf(1.5 / np.sqrt(2)), abs=0.01)  # binormal AUC
    fpr, tpr, thr = metrics.roc_curve(y, s)
    assert fpr[0] == 0 and fpr[-1] == 1 and np.all(np.diff(fpr) >= 0)
    eff = metrics.signal_efficiency_at(y, s)
    # eps_S at eps_B: 1 - Phi(Phi^-1(1 - eps_B) - 1.5)
    assert eff[1e-2] == pytest.approx(norm.sf(norm.isf(1e-2) - 1.5), abs=0.03)
    assert sorted(eff) == [1e-4, 1e-3, 1e-2]
    assert np.isnan(metrics.signal_efficiency_at(y, s, background_efficiencies=[1e-5])[1e-5])  # 10 000 bkg events
    sic = metrics.significance_improvement(y, s)
    assert sic[1e-2] == pytest.approx(eff[1e-2] / 0.1)
    best, at = metrics.max_significance_improvement(y, s)
    assert best >= sic[1e-2] - 1e-9 and at >= 1e-3
    rep = metrics.classification_report(y, s, threshold=0.75)
    assert set(rep) == {"accuracy", "kappa", "f1", "precision", "recall", "auc"} and rep["auc"] == auc


def test_weights_matter():
    y = np.array([0, 0, 1, 1])
    s = np.array([0.1, 0.6, 0.4, 0.9])
    assert metrics.roc_auc(y, s) == 0.75
    assert metrics.roc_auc(y, s, sample_weight=[1, 0.0001, 1, 1]) == pytest.approx(1.0, abs=1e-3)


def test_multiclass_roc():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 3000)
    logits = rng.normal(size=(3000, 3)) + 2 * np.eye(3)[y]
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    rocs = metrics.multiclass_roc(y, p)
    assert sorted(rocs) == [0, 1, 2]
    for c, r in rocs.items():
        assert r.auc > 0.85 and r.auc == pytest.approx(metrics.roc_auc((y == c).astype(int), p[:, c]))
    with pytest.raises(hepsift.DataError, match="shape"):
        metrics.multiclass_roc(y, p[:, :2])


def test_significance_at_best_cut():
    assert metrics.ams(10.0, 0.0) == pytest.approx(np.sqrt(2 * (20 * np.log(2) - 10)))
    y, s = scores(4000)
    w = np.where(y == 1, 0.01, 1.0)
    z = metrics.best_cut_significance(y, s, w, metric="asimov")
    z_simple = metrics.best_cut_significance(y, s, w, metric="simple")
    z_ams = metrics.best_cut_significance(y, s, w, metric="ams", b_reg=0.0)
    assert 0 < z.significance <= z_simple.significance + 1e-9
    assert z_ams.significance == pytest.approx(metrics.ams(z_ams.s, z_ams.b, 0.0))
    z_unc = metrics.best_cut_significance(y, s, w, metric="asimov", rel_sigma_b=0.2)
    assert z_unc.significance < z.significance
    assert metrics.best_cut_significance(y, s, w, luminosity=4.0).significance == pytest.approx(2 * z.significance, rel=0.05)
    with pytest.raises(hepsift.ConfigurationError, match="unknown significance metric"):
        metrics.best_cut_significance(y, s, w, metric="zbi")


def test_regression_resolution():
    rng = np.random.default_rng(2)
    e = rng.uniform(50, 500, 20000)
    pred = e * (1.02 + 0.1 * rng.normal(size=e.size))
    r = metrics.regression_resolution(e, pred)
    assert r.bias == pytest.approx(0.02, abs=0.003) and r.resolution == pytest.approx(0.1, abs=0.005)
    r2 = metrics.regression_resolution(e, pred, method="iqr")
    assert r2.resolution == pytest.approx(0.1, abs=0.005)
    binned = metrics.resolution_vs(e, pred, [50, 200, 500])
    assert binned["resolution"].shape == (2,) and np.all(np.abs(binned["resolution"] - 0.1) < 0.01)
    with pytest.raises(hepsift.DataError, match="non-zero true"):
        metrics.regression_resolution([0.0, 1.0], [1.0, 1.0])


def test_plots(tmp_path):
    y, s = scores(2000)
    fig = metrics.plot_roc({"gauss": (y, s), "worse": (y, s + np.random.default_rng(0).normal(size=s.size))},
                           tmp_path / "roc.png")
    assert (tmp_path / "roc.png").stat().st_size > 1000 and fig is not None
    metrics.plot_scores(y, s, path=tmp_path / "scores.pdf")
    assert (tmp_path / "scores.pdf").stat().st_size > 1000


def test_bad_inputs():
    with pytest.raises(hepsift.DataError, match="3 labels but 2"):
        metrics.roc_auc([0, 1, 1], [0.2, 0.3])
    with pytest.raises(hepsift.DataError, match="two classes"):
        metrics.roc_auc([1, 1, 1], [0.2, 0.3, 0.4])
    with pytest.raises(hepsift.DataError, match="NaN"):
        metrics.roc_auc([0, 1], [np.nan, 0.3])
    with pytest.raises(hepsift.DataError, match="no events"):
        metrics.accuracy([], [])
