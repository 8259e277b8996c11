"""Tests of hepsift.stats: significances, CLs limits (vs pyhf and RooStats), inputs, plots, CLI."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hepsift import stats
from hepsift.demo import statistics as stats_demo
from hepsift.errors import ConfigurationError, DataError, HepsiftError


def _root():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pytest.importorskip("ROOT")


# --------------------------------------------------------------------------- public surface
def test_public_api_is_pinned():
    assert sorted(stats.__all__) == sorted(
        [
            "CutScanResult",
            "Histogram",
            "LimitCheck",
            "LuminosityScan",
            "MCStatReport",
            "RebinResult",
            "TransferabilityResult",
            "UpperLimitResult",
            "as_histogram",
            "merge_bins",
            "score_histograms",
            "asimov_significance",
            "best_cut",
            "brazil_plot",
            "build_workspace",
            "cross_section_limit",
            "mc_stat_report",
            "plot_significance_vs_luminosity",
            "plot_transferability",
            "rebin",
            "signal_strength",
            "significance_vs_luminosity",
            "simple_significance",
            "transferability_matrix",
            "upper_limit",
            "upper_limit_from_workspace",
            "upper_limit_roostats",
        ]
    )
    for name in stats.__all__:
        assert hasattr(stats, name)


def test_import_is_light():
    code = (
        "import sys, hepsift.stats, hepsift.nplm; "
        "print(sorted(m for m in ('torch', 'ROOT', 'pyhf', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------- significance
@pytest.mark.parametrize(
    ("s", "b", "sigma_b", "expected"),
    [
        # values from the closed forms evaluated with 30-digit arithmetic
        (10.0, 100.0, 0.0, 0.983991644756940611),
        (5.0, 1.0, 0.0, 3.39132918348199575),
        (10.0, 100.0, 10.0, 0.690196063296530200),
        (5.0, 1.0, 0.5, 2.76372394054430730),
        (20.0, 50.0, 5.0, 2.13322397384985467),
        (3.0, 0.5, 0.1, 2.69842729049800478),
    ],
)
def test_asimov_significance_hand_values(s, b, sigma_b, expected):
    assert stats.asimov_significance(s, b, sigma_b) == pytest.approx(expected, rel=1e-9)


def test_asimov_limits():
    # sigma_b -> 0 is continuous
    for s, b in [(10.0, 100.0), (5.0, 1.0), (0.3, 1e4)]:
        assert stats.asimov_significance(s, b, 1e-7 * b) == pytest.approx(stats.asimov_significance(s, b), rel=1e-6)
    # s << b: Z_A -> s / sqrt(b)
    assert stats.asimov_significance(1.0, 1e6) == pytest.approx(stats.simple_significance(1.0, 1e6), rel=1e-5)
    assert stats.simple_significance(10.0, 100.0) == 1.0
    # s ~ b: Z_A is clearly below s/sqrt(b)
    assert stats.asimov_significance(10.0, 10.0) < 0.9 * stats.simple_significance(10.0, 10.0)
    # background uncertainty lowers Z; for s << b it tends to s / sqrt(b + sigma_b^2)
    assert stats.asimov_significance(10.0, 100.0, 10.0) < stats.asimov_significance(10.0, 100.0)
    assert stats.asimov_significance(1.0, 1e4, 100.0) == pytest.approx(1.0 / math.sqrt(1e4 + 1e4), rel=1e-3)
    z = stats.asimov_significance(np.array([0.0, 1.0, 2.0]), 4.0, np.array([0.0, 0.5, 1.0]))
    assert z.shape == (3,) and z[0] == 0.0 and np.all(np.diff(z) > 0)


@pytest.mark.parametrize(
    ("s", "b", "sb"), [(1.0, 0.0, 0.0), (1.0, -1.0, 0.0), (-1.0, 1.0, 0.0), (1.0, 1.0, -1.0), (float("nan"), 1.0, 0.0)]
)
def test_significance_bad_input(s, b, sb):
    with pytest.raises(DataError):
        stats.asimov_significance(s, b, sb)


def test_best_cut_matches_brute_force():
    rng = np.random.default_rng(3)
    xs, xb = rng.normal(1.0, 1.0, 2000), rng.normal(-1.0, 1.0, 20000)
    ws, wb = np.full(2000, 0.01), np.full(20000, 0.05)
    res = stats.best_cut(xs, ws, xb, wb, luminosity=10.0, cuts=np.linspace(-2, 3, 51))
    brute = []
    for c in np.linspace(-2, 3, 51):
        s, b = 10.0 * ws[xs >= c].sum(), 10.0 * wb[xb >= c].sum()
        brute.append(stats.asimov_significance(s, b) if b >= 1.0 else -1.0)
    i = int(np.argmax(brute))
    assert res.cut == pytest.approx(np.linspace(-2, 3, 51)[i])
    assert res.significance == pytest.approx(brute[i], rel=1e-12)
    assert res.s == pytest.approx(10.0 * ws[xs >= res.cut].sum())
    # the optimum is an interior point, better than no cut at all
    assert res.significance > 1.5 * stats.asimov_significance(10 * ws.sum(), 10 * wb.sum())
    with pytest.raises(DataError, match="NaN"):
        stats.best_cut([np.nan], None, [0.0], None)


def test_significance_vs_luminosity():
    scan = stats.significance_vs_luminosity(2.0, 100.0, reference_luminosity=10.0)
    z_ref = stats.asimov_significance(2.0, 100.0)
    assert scan.lumi_5sigma == pytest.approx(10.0 * (5.0 / z_ref) ** 2, rel=1e-8)  # Z grows as sqrt(L)
    assert scan.lumi_3sigma == pytest.approx(10.0 * (3.0 / z_ref) ** 2, rel=1e-8)
    assert np.all(np.diff(scan.significances) > 0)
    # a 10% background uncertainty caps Z near s / (0.1 b) = 0.2 < 3: never reached
    capped = stats.significance_vs_luminosity(2.0, 100.0, rel_sigma_b=0.1)
    assert math.isinf(capped.lumi_3sigma) and math.isinf(capped.lumi_5sigma)


# --------------------------------------------------------------------------- limits
ONE_BIN = {"s": [6.0], "b": [40.0], "db": [4.0]}
MULTI = {
    "s": [1.0, 3.0, 7.0, 12.0],
    "b1": [120.0, 60.0, 20.0, 6.0],
    "b1w2": [120.0, 50.0, 18.0, 4.0],
    "b2": [30.0, 20.0, 10.0, 3.0],
    "b2w2": [9.0, 6.0, 3.0, 1.5],
    "data": [151, 77, 35, 13],
}


def _pyhf_direct_limit(spec_like, data):
    import pyhf
    from pyhf.infer.intervals.upper_limits import toms748_scan

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        model = pyhf.Model(spec_like)
        return toms748_scan(list(data) + model.config.auxdata, model, 0.1, 5.0, level=0.05, rtol=1e-6)


def test_one_bin_limit_vs_pyhf_and_roostats():
    res = stats.upper_limit((ONE_BIN["s"], [0.0]), [(ONE_BIN["b"], [16.0])], data=[44])
    import pyhf  # noqa: F401

    obs, exp = _pyhf_direct_limit(
        {
            "channels": [
                {
                    "name": "c",
                    "samples": [
                        {
                            "name": "s",
                            "data": ONE_BIN["s"],
                            "modifiers": [{"name": "mu", "type": "normfactor", "data": None}],
                        },
                        {
                            "name": "b",
                            "data": ONE_BIN["b"],
                            "modifiers": [{"name": "u", "type": "staterror", "data": ONE_BIN["db"]}],
                        },
                    ],
                }
            ]
        },
        [44],
    )
    assert res.observed == pytest.approx(float(obs), rel=1e-3)
    assert res.expected == pytest.approx(float(exp[2]), rel=1e-3)
    for k, j in zip((-2, -1, 1, 2), (0, 1, 3, 4), strict=True):
        assert res.bands[k] == pytest.approx(float(exp[j]), rel=1e-3)
    assert res.bands[-2] < res.bands[-1] < res.expected < res.bands[1] < res.bands[2]
    _root()
    rs = stats.upper_limit_roostats((ONE_BIN["s"], [0.0]), [(ONE_BIN["b"], [16.0])], data=[44])
    assert rs.observed == pytest.approx(res.observed, rel=0.02)
    assert rs.expected == pytest.approx(res.expected, rel=0.02)
    for k in (-2, -1, 1, 2):
        assert rs.bands[k] == pytest.approx(res.bands[k], rel=0.02)


def test_multi_bin_limit_vs_pyhf_and_roostats(tmp_path):
    sig = MULTI["s"]
    bkgs = {"ttbar": (MULTI["b1"], MULTI["b1w2"]), "wjets": (MULTI["b2"], MULTI["b2w2"])}
    norms = {"ttbar": 0.05, "wjets": 0.2}
    res = stats.upper_limit(
        sig, bkgs, data=MULTI["data"], norm_uncertainties=norms, workspace_path=tmp_path / "ws.json", sigma_theory=0.25
    )
    # the same model written by hand for pyhf
    obs, exp = _pyhf_direct_limit(
        {
            "channels": [
                {
                    "name": "sr",
                    "samples": [
                        {
                            "name": "signal",
                            "data": sig,
                            "modifiers": [{"name": "mu", "type": "normfactor", "data": None}],
                        },
                        {
                            "name": "ttbar",
                            "data": MULTI["b1"],
                            "modifiers": [
                                {"name": "st", "type": "staterror", "data": np.sqrt(MULTI["b1w2"]).tolist()},
                                {"name": "n1", "type": "normsys", "data": {"hi": 1.05, "lo": 0.95}},
                            ],
                        },
                        {
                            "name": "wjets",
                            "data": MULTI["b2"],
                            "modifiers": [
                                {"name": "st", "type": "staterror", "data": np.sqrt(MULTI["b2w2"]).tolist()},
                                {"name": "n2", "type": "normsys", "data": {"hi": 1.2, "lo": 0.8}},
                            ],
                        },
                    ],
                }
            ]
        },
        MULTI["data"],
    )
    assert res.observed == pytest.approx(float(obs), rel=1e-3)
    assert res.expected == pytest.approx(float(exp[2]), rel=1e-3)
    assert res.bands[2] == pytest.approx(float(exp[4]), rel=1e-3)
    # mu = sigma_up / sigma_theory
    assert res.xsec_expected == pytest.approx(0.25 * res.expected)
    assert stats.signal_strength(res.xsec_observed, 0.25) == pytest.approx(res.observed)
    # the workspace on disk is a valid pyhf workspace giving the same limit
    ws = json.loads((tmp_path / "ws.json").read_text())
    again = stats.upper_limit_from_workspace(ws)
    assert again.observed == pytest.approx(res.observed, rel=1e-3)
    assert again.expected == pytest.approx(res.expected, rel=1e-3)
    _root()
    rs = stats.upper_limit_roostats(sig, bkgs, data=MULTI["data"], norm_uncertainties=norms)
    assert rs.observed == pytest.approx(res.observed, rel=0.02)
    assert rs.expected == pytest.approx(res.expected, rel=0.02)
    for k in (-2, -1, 1, 2):
        assert rs.bands[k] == pytest.approx(res.bands[k], rel=0.02)


def test_expected_only_has_no_observed_and_scales_with_signal():
    a = stats.upper_limit([2.0, 5.0], [[50.0, 20.0]])
    b = stats.upper_limit([4.0, 10.0], [[50.0, 20.0]])
    assert a.observed is None and a.xsec_expected is None
    assert b.expected == pytest.approx(a.expected / 2.0, rel=1e-3)  # mu scales inversely with the template
    assert "expected" in str(a)


def test_histogram_input_forms_agree():
    hist = pytest.importorskip("hist")
    ROOT = _root()
    edges = np.linspace(0.0, 1.0, 5)
    counts = np.array([10.0, 20.0, 30.0, 5.0])
    sumw2 = np.array([4.0, 9.0, 16.0, 1.0])
    h = hist.Hist(hist.axis.Regular(4, 0.0, 1.0), storage=hist.storage.Weight())
    h.view().value = counts
    h.view().variance = sumw2
    # a ROOT histogram filled through RDataFrame with weights
    xs = np.repeat((edges[:-1] + edges[1:]) / 2, 4)
    ws = np.concatenate([np.full(4, c / 4) for c in counts])
    df = ROOT.RDF.FromNumpy({"x": xs, "w": ws})
    th1 = df.Histo1D(ROOT.RDF.TH1DModel("h", "", 4, 0.0, 1.0), "x", "w")
    forms = [(counts, sumw2, edges), {"counts": counts, "sumw2": sumw2}, h, stats.as_histogram((counts, sumw2))]
    for f in forms:
        got = stats.as_histogram(f)
        np.testing.assert_allclose(got.counts, counts)
        np.testing.assert_allclose(got.sumw2, sumw2)
    for f in (th1, th1.GetValue()):
        got = stats.as_histogram(f)
        np.testing.assert_allclose(got.counts, counts)
        np.testing.assert_allclose(got.sumw2, (counts / 4) ** 2 * 4)
        np.testing.assert_allclose(got.edges, edges)
    # plain counts are expected yields without MC statistical uncertainty
    np.testing.assert_allclose(stats.as_histogram([3.0, 4.0]).sumw2, [0.0, 0.0])
    # one limit function takes them all
    ws_hist = stats.build_workspace(h, th1)
    ws_np = stats.build_workspace((counts, sumw2), ((counts / 4) ** 2 * 0 + counts, (counts / 4) ** 2 * 4))
    assert ws_hist["channels"][0]["samples"][0]["data"] == ws_np["channels"][0]["samples"][0]["data"]
    np.testing.assert_allclose(
        ws_hist["channels"][0]["samples"][1]["modifiers"][0]["data"],
        ws_np["channels"][0]["samples"][1]["modifiers"][0]["data"],
    )


@pytest.mark.parametrize(
    ("signal", "background", "match"),
    [
        ([1.0, 2.0], [[10.0, 0.0]], "zero in bin"),
        ([1.0, 2.0], {"a": [10.0, -3.0], "b": [5.0, 5.0]}, "negative yield"),
        ([0.0, 0.0], [[10.0, 10.0]], "empty"),
        ([1.0, 2.0], [[10.0, 10.0, 10.0]], "mismatched binning"),
        (([1.0, 2.0], [1.0, 1.0], [0.0, 1.0, 2.0]), [([5.0, 5.0], [1.0, 1.0], [0.0, 0.5, 2.0])], "mismatched binning"),
        ([1.0, np.nan], [[10.0, 10.0]], "NaN"),
        ([1.0, 2.0], [[10.0, np.inf]], "NaN or infinite"),
        ([], [[]], "no bins"),
    ],
)
def test_limit_bad_input(signal, background, match):
    with pytest.raises(DataError, match=match) as info:
        stats.upper_limit(signal, background)
    assert isinstance(info.value, HepsiftError)


def test_limit_bad_configuration():
    with pytest.raises(ConfigurationError, match="unknown samples"):
        stats.upper_limit([1.0], [[10.0]], norm_uncertainties={"nope": 0.1})
    with pytest.raises(ConfigurationError, match="cl"):
        stats.upper_limit([1.0], [[10.0]], cl=1.5)
    with pytest.raises(DataError, match="mismatched"):
        stats.upper_limit([1.0, 1.0], [[10.0, 10.0]], data=[3])


# --------------------------------------------------------------------------- plots, transferability
def _fake_result(mu):
    return stats.UpperLimitResult(
        observed=mu * 1.1, expected=mu, bands={-2: mu * 0.5, -1: mu * 0.7, 1: mu * 1.4, 2: mu * 2.0}, sigma_theory=2.0
    )


def test_brazil_plot_writes_png(tmp_path):
    fig = stats.brazil_plot(
        [300, 100, 200], [_fake_result(m / 100) for m in (300, 100, 200)], path=tmp_path / "b.png", xsec=True
    )
    assert (tmp_path / "b.png").read_bytes()[:4] == b"\x89PNG"
    ax = fig.axes[0]
    # the median line is sorted by mass and scaled to cross-sections
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [100, 200, 300])
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [2.0, 4.0, 6.0])
    with pytest.raises(ConfigurationError):
        stats.brazil_plot([1, 2], [_fake_result(1.0)])


def test_transferability_matrix(tmp_path):
    # classifier "A" separates signal A well, "B" separates signal B; each is poor on the other
    good, poor = [0.5, 1.0, 8.0], [3.0, 3.5, 3.0]
    bkg = [[100.0, 50.0, 10.0]]
    res = stats.transferability_matrix({"A": {"A": good, "B": poor}, "B": {"A": poor, "B": good}}, {"A": bkg, "B": bkg})
    np.testing.assert_allclose(np.diag(res.ratio), 1.0)
    assert res.ratio[0, 1] > 1.5 and res.ratio[1, 0] > 1.5
    assert res.limits[0, 0] == pytest.approx(res.limits[1, 1], rel=1e-3)
    assert "A" in res.table() and res.table(ratio=True).count("\n") == 2
    res.plot(tmp_path / "t.png")
    assert (tmp_path / "t.png").stat().st_size > 1000
    with pytest.raises(ConfigurationError):
        stats.transferability_matrix({"A": {"A": good}}, {})


# --------------------------------------------------------------------------- demo and CLI
def test_demo_statistics(tmp_path, capsys):
    rng = np.random.default_rng(0)
    xs, xb = rng.beta(5, 2, 3000), rng.beta(2, 5, 30000)
    rep = stats_demo.demo_statistics(
        xs, np.full(3000, 1e-3), xb, np.full(30000, 1e-2), luminosity=100.0, out_dir=tmp_path
    )
    out = capsys.readouterr().out
    assert "best cut" in out and "5 sigma" in out and "expected 95% CL limit" in out
    assert rep["lumi_5sigma"] > rep["lumi_3sigma"] > 0
    assert rep["limit"]["expected"] > 0
    for f in rep["files"].values():
        assert os.path.getsize(f) > 0


def _run_cli(command, argv, cwd):
    return subprocess.run(
        [sys.executable, "-m", "hepsift.cli", command, *argv],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        timeout=300,
    )


def test_limits_cli_on_root_file(tmp_path):
    ROOT = _root()
    rng = np.random.default_rng(1)
    n = 4000
    label = (rng.random(n) < 0.2).astype(np.int32)
    score = np.where(label == 1, rng.beta(5, 2, n), rng.beta(2, 5, n))
    weight = np.where(label == 1, 0.01, 0.05)
    ROOT.RDF.FromNumpy({"label": label, "score": score, "weight": weight}).Snapshot("events", str(tmp_path / "s.root"))
    out = _run_cli(
        "limits",
        [
            str(tmp_path / "s.root"),
            "--score",
            "score",
            "--weight",
            "weight",
            "--signal",
            "label == 1",
            "--background",
            "bkg=label == 0",
            "--norm",
            "bkg=0.1",
            "--bins",
            "5",
            "--sigma-theory",
            "3.0",
            "--output-dir",
            "out",
        ],
        tmp_path,
    )
    assert out.returncode == 0, out.stderr
    lim = json.loads((tmp_path / "out" / "limit.json").read_text())
    assert lim["expected"] > 0 and lim["xsec_expected"] == pytest.approx(3.0 * lim["expected"])
    # the verification of each printed limit is printed and saved
    assert "checks (CLs at each limit" in out.stdout and "expected median" in out.stdout
    assert len(lim["checks"]) == 5
    for chk in lim["checks"]:
        assert abs(chk["cls"] / 0.05 - 1) <= 0.01 and chk["cls_below"] > 0.05 > chk["cls_above"]
    again = _run_cli("limits", ["--workspace", "out/workspace.json", "--output-dir", "out2"], tmp_path)
    assert again.returncode == 0, again.stderr
    assert json.loads((tmp_path / "out2" / "limit.json").read_text())["expected"] == pytest.approx(
        lim["expected"], rel=1e-3
    )
    bad = subprocess.run([sys.executable, "-m", "hepsift.cli", "limits", "--workspace", "missing.json"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=300,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert bad.returncode == 1 and "cannot read --workspace 'missing.json'" in bad.stderr
    assert "Traceback" not in bad.stderr


# --------------------------------------------------------------------------- score histograms
def test_score_histograms_match_root_histo1d_from_rdataframe_results():
    ROOT = _root()
    rng = np.random.default_rng(7)
    n = 3000
    label = (rng.random(n) < 0.3).astype(np.int32)
    score = np.where(label == 1, rng.beta(5, 2, n), rng.beta(2, 5, n))
    weight = rng.uniform(0.5, 2.0, n)
    df = ROOT.RDF.FromNumpy({"label": label, "score": score, "weight": weight})
    edges = np.linspace(0.0, 1.0, 9)
    sig, bkg = df.Filter("label == 1"), df.Filter("label == 0")
    takes = [node.Take["double"](col) for node in (sig, bkg) for col in ("score", "weight")]
    h_root = {name: node.Histo1D(("h" + name, "", 8, edges), "score", "weight")
              for name, node in (("s", sig), ("b", bkg))}
    hs, hb = stats.score_histograms(*takes[:2], {"bkg": takes[2]}, {"bkg": takes[3]}, edges=edges,
                                    luminosity=3.0)
    for ours, theirs in ((hs, h_root["s"].GetValue()), (hb["bkg"], h_root["b"].GetValue())):
        counts = np.array([theirs.GetBinContent(i) for i in range(1, 9)])
        sumw2 = np.array([theirs.GetBinError(i) ** 2 for i in range(1, 9)])
        np.testing.assert_allclose(ours.counts, 3.0 * counts, rtol=1e-12)
        np.testing.assert_allclose(ours.sumw2, 9.0 * sumw2, rtol=1e-12)  # weights scale, their squares twice
        assert ours.edges.tolist() == edges.tolist()
    # the same from AsNumpy columns, as one background array
    cols = bkg.AsNumpy(["score", "weight"])
    _, one = stats.score_histograms(takes[0], takes[1], cols["score"], cols["weight"], edges=edges, luminosity=3.0)
    np.testing.assert_allclose(one["background"].counts, hb["bkg"].counts, rtol=1e-12)
    # the histograms feed a limit as they are
    assert stats.as_histogram(hs).n_bins == 8


def test_score_histograms_quantile_binning_and_refusals():
    rng = np.random.default_rng(3)
    xb, wb = rng.beta(2, 5, 4000), np.full(4000, 0.5)
    xs = rng.beta(5, 2, 500)
    hs, hb = stats.score_histograms(xs, np.ones(500), xb, wb, n_bins=8, max_mc_stat=None)
    # quantile edges: the same number of background events in every bin, every event counted
    np.testing.assert_allclose(hb["background"].counts, np.full(8, 0.5 * 500), rtol=0.01)
    assert hb["background"].counts.sum() == pytest.approx(2000.0) and hs.counts.sum() == pytest.approx(500.0)
    with pytest.raises(DataError, match="signal scores: 1 value"):
        stats.score_histograms(np.r_[xs[:-1], np.nan], np.ones(500), xb, wb)
    with pytest.raises(ConfigurationError, match=r"signal: \(500,\) scores but \(3,\) weights"):
        stats.score_histograms(xs, np.ones(3), xb, wb)
    with pytest.raises(ConfigurationError, match="both be arrays or both be mappings"):
        stats.score_histograms(xs, np.ones(500), {"a": xb}, wb)
    with pytest.raises(DataError, match="no background events"):
        stats.score_histograms(xs, np.ones(500), [], [])
