"""Tests of the demo's statistics: fake-lepton QCD template, MC-stat binning, the refusal of a
degenerate background, the back-of-envelope estimate and the independent pyhf refit of the
limit, on toy scores and on a small sample of generated events."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from hepsift.errors import ConfigurationError, DataError
from hepsift import stats
from hepsift.demo import statistics as sd


# --------------------------------------------------------------------------- fake rate
def test_fake_rate_jeffreys_values_and_coverage() -> None:
    from scipy.stats import beta

    f, lo, hi = sd.fake_rate(0, 1000)
    assert f == pytest.approx(0.5 / 1001) and 0 < lo < f < hi
    assert hi == pytest.approx(beta.ppf(0.84135, 0.5, 1000.5), rel=1e-3)
    # exact coverage of the 68% interval, averaged over rates 0.5-5 per mille at n = 2000 (Jeffreys'
    # mean coverage is close to nominal, Brown, Cai, DasGupta 2001), and the estimate's bias
    from scipy.stats import binom

    n, ks = 2000, np.arange(0, 61)
    intervals = np.array([sd.fake_rate(int(k), n) for k in ks])
    rates = np.linspace(0.0005, 0.005, 46)
    coverage = [np.sum(binom.pmf(ks, n, p) * ((intervals[:, 1] <= p) & (p <= intervals[:, 2]))) for p in rates]
    assert np.mean(coverage) == pytest.approx(0.6827, abs=0.03)  # 0.66: slightly low at n p < 10
    for p in (0.001, 0.004):
        mean = np.sum(binom.pmf(ks, n, p) * intervals[:, 0])
        assert mean == pytest.approx(p, abs=0.5 / n)
    for bad in ((3, 2), (-1, 5), (0, 0)):
        with pytest.raises(ConfigurationError, match="n_pass"):
            sd.fake_rate(*bad)


def test_background_model_weights_the_loose_qcd_selection_by_the_fake_rate() -> None:
    from hepsift.demo import chain

    rng = np.random.default_rng(0)
    n = 4000
    pid = rng.choice([1, 2, 5], size=n, p=[0.3, 0.2, 0.5])
    cols = {
        "process_id": pid,
        "bkg": np.ones(n, dtype=bool),
        "weight": rng.uniform(0.5, 2.0, n) * np.where(pid == 5, 1e4, 1.0),
        "n_jets": rng.integers(2, 7, n),
        "n_bjets": rng.integers(0, 3, n),
        "n_leptons": np.where(rng.random(n) < np.where(pid == 5, 0.01, 0.5), 1, 0),
        "event": np.arange(n),
    }
    odd = cols["event"] % 2 == 1
    bkgs, norms = chain._background_model(cols, odd)
    assert set(bkgs) == {"ttbar", "wjets", "qcd_fake"}
    full = (cols["n_jets"] >= 4) & (cols["n_bjets"] >= 1) & (cols["n_leptons"] == 1) & odd
    loose = (cols["n_jets"] >= 4) & (cols["n_bjets"] >= 1) & odd
    assert np.sum(bkgs["ttbar"]) == pytest.approx(np.sum(cols["weight"][full & (pid == 1)]))
    qcd = pid == 5
    f, lo, hi = sd.fake_rate(int(np.sum(qcd & (cols["n_leptons"] == 1))), int(qcd.sum()))
    assert np.sum(bkgs["qcd_fake"]) == pytest.approx(f * np.sum(cols["weight"][loose & (pid == 5)]))
    assert np.all(bkgs["qcd_fake"][pid != 5] == 0)
    assert norms["qcd_fake"] == pytest.approx((lo / f, hi / f))


# --------------------------------------------------------------------------- binning
def test_merge_bins_from_the_top() -> None:
    e = np.arange(6.0)
    assert stats.merge_bins([100] * 5, [100] * 5, e).tolist() == e.tolist()
    # a bin with 200% MC stat joins the bin below it, then the pair still fails and takes one more
    assert stats.merge_bins([100, 10, 100, 100, 100], [100, 400, 100, 100, 100], e).tolist() == [0, 3, 4, 5]
    # a failing remainder at the low end joins the group above it
    assert stats.merge_bins([1, 1, 1, 100, 100], [1, 1, 1, 100, 100], e).tolist() == [0, 4, 5]
    hs, hb = stats.score_histograms(np.linspace(0, 1, 50), np.ones(50), {"a": np.linspace(0, 1, 400)},
                                    {"a": np.ones(400)}, luminosity=1.0, n_bins=20)  # fmt: skip
    rel = np.sqrt(hb["a"].sumw2) / hb["a"].counts
    assert np.all(rel <= 0.2) and len(hb["a"].counts) == 10  # 20 bins of 20 events, 25 needed: pairs
    assert hs.counts.sum() == pytest.approx(50)


def test_degenerate_background_is_refused(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    xs, xb = rng.beta(5, 2, 2000), rng.beta(2, 5, 2000)
    wb = np.full(2000, 1e-3)
    wb[:3] = 1e3  # three events carry almost all of the background
    with pytest.raises(DataError, match="degenerate.*effective number of events 3"):
        sd.demo_statistics(xs, np.full(2000, 1e-3), xb, wb, luminosity=100.0, out_dir=tmp_path)
    assert not (tmp_path / "workspace.json").exists()


def test_limit_estimate() -> None:
    est, per_bin = sd.limit_estimate([100.0, 0.0], [1e4, 50.0], [0.0, 1.0])
    assert est == pytest.approx(1.959964 * 100 / 100) and per_bin[1] == np.inf
    est, _ = sd.limit_estimate([100.0, 100.0], [1e4, 1e4], [100.0, 100.0])
    assert est == pytest.approx(1.959964 / math.sqrt(2 * 100**2 / 2e4))
    with pytest.raises(DataError):
        sd.limit_estimate([0.0], [1.0], [0.0])


# --------------------------------------------------------------------------- limits and refit
def _check_report(rep: dict, out: str) -> None:
    refit = rep["refit_cls"]
    assert set(refit) == {"-2", "-1", "0", "1", "2"}
    assert all(abs(v - 0.05) <= 0.005 for v in refit.values()), refit
    assert 0.5 <= rep["limit"]["expected"] / rep["estimate"]["combined"] <= 2.0
    assert max(rep["bins"]["mc_stat"]) <= 0.2
    assert "independent refit of workspace.json" in out and "back-of-envelope" in out
    spec = json.loads(Path(rep["files"]["workspace"]).read_text())
    assert len(spec["channels"][0]["samples"][0]["data"]) == len(rep["bins"]["s"])


def test_demo_statistics_refit_on_toys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(0)
    xs, xb, xq = rng.beta(5, 2, 3000), rng.beta(2, 5, 30000), rng.beta(2, 3, 3000)
    rep = sd.demo_statistics(xs, np.full(3000, 1e-3), {"tt": xb, "qcd": xq},
                             {"tt": np.full(30000, 1e-2), "qcd": np.full(3000, 2e-2)}, luminosity=100.0,
                             out_dir=tmp_path, norm_uncertainties={"qcd": (0.2, 2.0)}, n_bins=6)  # fmt: skip
    _check_report(rep, capsys.readouterr().out)
    assert set(rep["bins"]["b_per_sample"]) == {"tt", "qcd"}


def test_demo_statistics_refit_on_generated_events(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("pythia8mc")
    pytest.importorskip("fastjet")
    import hepsift.events as gen
    from hepsift.io import read_root

    fast = ("PartonLevel:MPI = off",)
    tt = gen.generate("ttbar", events=600, seed=3, output=tmp_path / "tt.root", chunk_size=300, workers=2,
                      pythia_settings=fast, progress=False)  # fmt: skip
    zp = gen.generate("zprime_tt", mass=1000.0, events=300, seed=3, output=tmp_path / "zp.root", chunk_size=300,
                      workers=1, pythia_settings=fast, progress=False)  # fmt: skip
    cols = ["m_wwbb", "weight", "n_jets", "n_leptons"]
    b, s = read_root(tt, cols), read_root(zp, cols)

    def score(ev):  # the t tbar mass as a score, for one lepton and >= 4 jets
        ok = (np.asarray(ev.n_leptons) == 1) & (np.asarray(ev.n_jets) >= 4)
        return np.asarray(ev.m_wwbb)[ok] / 1000.0, np.asarray(ev.weight)[ok]

    (xs, ws), (xb, wb) = score(s), score(b)
    assert len(xb) > 50 and len(xs) > 30
    rep = sd.demo_statistics(xs, ws, xb, wb, luminosity=1000.0, out_dir=tmp_path / "stats", n_bins=5)
    _check_report(rep, capsys.readouterr().out)
