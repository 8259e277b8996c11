"""CLs limits that check themselves: refusals, scale, input semantics, MC-stat diagnostics, rebinning."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hepsift import stats
from hepsift.errors import DataError, EvaluationError, FitError, HepsiftError
from scipy.stats import norm

S = np.array([1.0, 3.0, 8.0])
B = np.array([50.0, 20.0, 5.0])


def _plain_pyhf(spec, lo, hi):
    """pyhf on its own (numpy backend, default optimiser): toms748_scan on the same workspace."""
    import pyhf
    from pyhf.infer.intervals.upper_limits import toms748_scan
    from threadpoolctl import threadpool_limits

    with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="blas"):
        warnings.simplefilter("ignore")
        ws = pyhf.Workspace(spec)
        model = ws.model()
        obs, exp = toms748_scan(ws.data(model), model, lo, hi, level=0.05, rtol=1e-6)
    return float(obs), [float(e) for e in exp]


def _assert_checked(res, cl=0.95):
    alpha = 1 - cl
    names = {c.quantity for c in res.checks}
    assert {"expected median", "expected -2 sigma", "expected -1 sigma", "expected +1 sigma",
            "expected +2 sigma"} <= names
    assert ("observed" in names) == (res.observed is not None)
    values = {"observed": res.observed, "expected median": res.expected, "expected -2 sigma": res.bands[-2],
              "expected -1 sigma": res.bands[-1], "expected +1 sigma": res.bands[1], "expected +2 sigma": res.bands[2]}
    for c in res.checks:
        assert c.mu == values[c.quantity]
        assert abs(c.cls / alpha - 1) <= 0.01 and abs(c.cls_pyhf / alpha - 1) <= 0.01
        assert c.cls_below > alpha > c.cls_above


# --------------------------------------------------------------------------- the self-check


def test_returned_limits_carry_their_checks_and_match_plain_pyhf():
    res = stats.upper_limit((S, 0.1 * S), [(B, 0.3 * B)], data=[55, 18, 7], norm_uncertainties={"background0": 0.1})
    _assert_checked(res)
    obs, exp = _plain_pyhf(res.workspace, 0.1, 5.0)
    assert res.observed == pytest.approx(obs, rel=1e-3)
    for got, want in zip([res.bands[-2], res.bands[-1], res.expected, res.bands[1], res.bands[2]], exp, strict=True):
        assert got == pytest.approx(want, rel=1e-3)
    assert [c.to_dict()["quantity"] for c in res.checks][0] == "observed"
    assert len(res.to_dict()["checks"]) == 6


def test_a_fit_that_does_not_converge_is_refused(monkeypatch, capsys):
    import hepsift.stats._fit as fit

    monkeypatch.setattr(fit, "GRADIENT_TOLERANCE", 1e-300)  # no fit can meet it
    with pytest.raises(FitError, match=r"free fit on the data did not converge: not converged: Newton decrement") as info:
        stats.upper_limit((S, 0.1 * S), [(B, 0.3 * B)], data=[55, 18, 7])
    assert isinstance(info.value, EvaluationError) and isinstance(info.value, HepsiftError)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""  # neither pyhf nor scipy printed the optimiser's result


def test_a_wrong_root_is_refused(monkeypatch):
    import hepsift.stats.limits as limits

    real = limits._solve
    monkeypatch.setattr(limits, "_solve", lambda *a, **k: real(*a, **k) * 1.03)
    with pytest.raises(FitError, match=r"limit mu = .*: CLs recomputed from the checked fits is 0\.04"):
        stats.upper_limit(S, B)


def test_a_limit_resting_on_a_removed_background_bin_is_refused():
    """100% MC statistical uncertainty (one event of weight 1e6 per bin): with the diagnostics
    switched off the fits behind the limit remove the background of bins and it is refused."""
    b = np.full(5, 1e6)
    s = np.array([1.0, 2.0, 5.0, 10.0, 20.0]) * 100
    with pytest.raises(FitError, match=r"mu = .* (did not converge|at a bound).*staterror_sr\[bin \d\] = "):
        stats.upper_limit(s, [(b, b**2)], max_mc_stat=None)


def test_bands_follow_the_asymptotic_formulae_and_pyhf():
    """Large counts: mu_up(N) = sigma (Phi^-1(1 - alpha Phi(N)) + N) with sigma^-2 = sum s^2 / b
    (Cowan et al., arXiv:1007.1727, eq. 89-90), and pyhf's own bands."""
    b = B * 1e6
    s = S * 200.0
    res = stats.upper_limit(s, b)
    _assert_checked(res)
    sigma = 1.0 / math.sqrt(np.sum(s**2 / b))
    alpha = 0.05
    for n, got in zip((-2, -1, 0, 1, 2), [res.bands[-2], res.bands[-1], res.expected, res.bands[1], res.bands[2]],
                      strict=True):
        assert got == pytest.approx(sigma * (norm.ppf(1 - alpha * norm.cdf(n)) + n), rel=2e-3)
    ratios = [res.bands[k] / res.expected for k in (-2, -1, 1, 2)]
    assert ratios == sorted(ratios) and 0.5 < ratios[0] and ratios[-1] < 2.0
    # pyhf's own bands (at counts where its finite-difference gradients still work)
    res = stats.upper_limit(S * 20.0, B * 1e3)
    _, exp = _plain_pyhf(res.workspace, res.expected / 3, 3 * res.expected)
    for got, want in zip([res.bands[-2], res.bands[-1], res.expected, res.bands[1], res.bands[2]], exp, strict=True):
        assert got == pytest.approx(want, rel=1e-3)


def test_large_counts_are_right():
    """1e9 events: plain pyhf (finite-difference gradients) is off by tens of percent there; the
    Gaussian limit 1.96 sigma (sigma^-2 = sum s^2 / (b + sumw2)) is exact to O(1e-4)."""
    b = B / B.sum() * 1e9
    s = S / S.sum() * 1e5
    for sumw2 in (None, (0.1 * b) ** 2):
        res = stats.upper_limit(s, [b if sumw2 is None else (b, sumw2)])
        var = b if sumw2 is None else b + sumw2
        assert res.expected == pytest.approx(norm.ppf(0.975) / math.sqrt(np.sum(s**2 / var)), rel=2e-3)


# --------------------------------------------------------------------------- scale


@pytest.mark.parametrize("mc_stat", [False, True])
def test_limit_is_scale_free(mc_stat):
    """k * mu_up(k s) does not depend on k for s/b from 1e-4 to 1e6 in every bin."""
    bkg = (B, 0.2 * B) if mc_stat else B
    products = []
    for k in (5e-3, 1.0, 6e5):
        assert 1e-4 <= np.min(k * S / B) and np.max(k * S / B) <= 1e6
        res = stats.upper_limit(k * S, [bkg])
        products.append([k * res.expected] + [k * res.bands[j] for j in (-2, -1, 1, 2)])
    np.testing.assert_allclose(products, [products[1]] * 3, rtol=1e-3)


def test_tiny_background_matches_plain_pyhf():
    b = B / B.sum() * 1e-2
    res = stats.upper_limit(S, b)
    _, exp = _plain_pyhf(res.workspace, 0.05, 1.0)
    assert res.expected == pytest.approx(exp[2], rel=1e-3)
    assert res.bands[2] == pytest.approx(exp[4], rel=1e-3)


# --------------------------------------------------------------------------- input semantics


def test_bare_arrays_are_expected_yields_without_mc_stat():
    bare = stats.upper_limit(S, B)
    assert all(m["type"] != "staterror" for smp in bare.workspace["channels"][0]["samples"] for m in smp["modifiers"])
    same = stats.upper_limit((S, np.zeros(3)), [(B, np.zeros(3))])
    assert same.expected == pytest.approx(bare.expected, rel=1e-6)
    # a pure Poisson model: what pyhf gives for the same expected yields without modifiers
    spec = {
        "version": "1.0.0",
        "channels": [{"name": "c", "samples": [
            {"name": "s", "data": S.tolist(), "modifiers": [{"name": "mu", "type": "normfactor", "data": None}]},
            {"name": "b", "data": B.tolist(), "modifiers": []}]}],
        "observations": [{"name": "c", "data": B.tolist()}],
        "measurements": [{"name": "m", "config": {"poi": "mu", "parameters": []}}],
    }
    _, exp = _plain_pyhf(spec, 0.1, 5.0)
    assert bare.expected == pytest.approx(exp[2], rel=1e-3)
    # with sumw2 = counts (unit-weight events) the MC statistical term is there and the limit is weaker
    unit = stats.upper_limit(S, [(B, B)])
    assert any(m["type"] == "staterror" for m in unit.workspace["channels"][0]["samples"][1]["modifiers"])
    assert unit.expected > 1.01 * bare.expected
    # lists and mappings without sumw2 behave as bare arrays
    np.testing.assert_array_equal(stats.as_histogram(list(B)).sumw2, 0.0)
    np.testing.assert_array_equal(stats.as_histogram({"counts": B}).sumw2, 0.0)


# --------------------------------------------------------------------------- diagnostics and rebinning

EDGES = np.linspace(0.0, 1.0, 7)
SIG6 = np.array([0.1, 0.2, 0.5, 1.0, 2.0, 4.0])
BKG6 = np.array([400.0, 200.0, 80.0, 20.0, 3.0, 1.0])
W2_6 = np.array([400.0, 300.0, 150.0, 60.0, 4.0, 2.0])  # rel. 5%, 8.7%, 15%, 39%, 67%, 141%


def test_mc_stat_report_figures():
    rep = stats.mc_stat_report((SIG6, SIG6 / 10, EDGES), [(BKG6 / 2, W2_6 / 2, EDGES)] * 2)
    np.testing.assert_allclose(rep.background, BKG6)
    np.testing.assert_allclose(rep.background_sumw2, W2_6)
    np.testing.assert_allclose(rep.rel_mc_stat, np.sqrt(W2_6) / BKG6)
    np.testing.assert_allclose(rep.n_eff, BKG6**2 / W2_6)
    np.testing.assert_allclose(rep.s_over_b, SIG6 / BKG6)
    assert rep.bad_bins(0.5).tolist() == [4, 5]
    assert "bin 5 [0.8333, 1): b = 1, s = 4, MC stat 141%, n_eff = 0.5" in str(rep)


def test_too_large_mc_stat_is_refused_with_the_bins_and_the_fix():
    with pytest.raises(DataError) as info:
        stats.upper_limit((SIG6, np.zeros(6), EDGES), [(BKG6, W2_6, EDGES)])
    msg = str(info.value)
    assert "max_mc_stat = 0.5" in msg and "in 2 of 6 bin(s)" in msg
    assert "bin 4 [0.6667, 0.8333): b = 3, s = 2, MC stat 66.7%, n_eff = 2.25" in msg
    assert "bin 3" not in msg
    assert "hepsift.stats.rebin(signal, backgrounds, max_mc_stat=0.2)" in msg and "rebin=0.2" in msg
    # a looser threshold accepts the model; mc_stat=False does not look at sumw2
    assert stats.upper_limit(SIG6, [(BKG6, W2_6)], max_mc_stat=1.5).expected > 0
    assert stats.upper_limit(SIG6, [(BKG6, W2_6)], mc_stat=False).expected > 0


def test_rebin_merges_until_every_bin_meets_the_limit():
    data = np.array([390, 210, 85, 18, 5, 2])
    bkgs = {"tt": (BKG6 * 0.75, W2_6 * 0.75, EDGES), "w": (BKG6 * 0.25, W2_6 * 0.25, EDGES)}
    r = stats.rebin((SIG6, SIG6 / 10, EDGES), bkgs, max_mc_stat=0.2, data=data)
    # bins 3-5 together still have 34%: the remainder joins bin 2
    assert r.groups == [[0], [1], [2, 3, 4, 5]]
    np.testing.assert_allclose(r.edges, [0.0, 1 / 6, 2 / 6, 1.0])
    tot_b = sum(h.counts for h in r.backgrounds.values())
    tot_w2 = sum(h.sumw2 for h in r.backgrounds.values())
    assert np.all(np.sqrt(tot_w2) / tot_b <= 0.2)
    # totals and sumw2 are conserved, per template and for signal and data
    assert set(r.backgrounds) == {"tt", "w"}
    np.testing.assert_allclose(r.backgrounds["tt"].counts.sum(), 0.75 * BKG6.sum())
    np.testing.assert_allclose(r.backgrounds["w"].sumw2.sum(), 0.25 * W2_6.sum())
    np.testing.assert_allclose(r.signal.counts, [0.1, 0.2, 7.5])
    np.testing.assert_allclose(r.signal.sumw2.sum(), np.sum(SIG6 / 10))
    np.testing.assert_array_equal(r.data.counts, [390, 210, 110])
    np.testing.assert_allclose(r.signal.edges, r.edges)
    # the merged histograms are inputs like any other; upper_limit(rebin=) does the same
    res = stats.upper_limit(r.signal, r.backgrounds, data=r.data)
    again = stats.upper_limit((SIG6, SIG6 / 10, EDGES), bkgs, data=data, rebin=0.2)
    assert again.groups == r.groups
    assert again.observed == pytest.approx(res.observed, rel=1e-6)
    assert again.expected == pytest.approx(res.expected, rel=1e-6)
    _assert_checked(again)
    np.testing.assert_allclose(again.diagnostics.background, tot_b)


def test_rebin_without_edges_and_impossible_limits():
    r = stats.rebin(SIG6, [(BKG6, W2_6)], max_mc_stat=0.5)
    assert r.groups == [[0], [1], [2], [3, 4, 5]]
    np.testing.assert_allclose(r.edges, [0, 1, 2, 3, 6])  # original bin indices
    assert set(r.backgrounds) == {"background0"}
    with pytest.raises(DataError, match="even all 6 bins merged"):
        stats.rebin(SIG6, [(BKG6, W2_6 * 100)], max_mc_stat=0.2)


# --------------------------------------------------------------------------- workspaces


def test_upper_limit_from_workspace_is_checked(tmp_path):
    import json

    res = stats.upper_limit((S, 0.1 * S), [(B, 0.3 * B)], data=[55, 18, 7], workspace_path=tmp_path / "ws.json")
    again = stats.upper_limit_from_workspace(tmp_path / "ws.json")
    _assert_checked(again)
    assert again.observed == pytest.approx(res.observed, rel=1e-4)
    assert again.bands[2] == pytest.approx(res.bands[2], rel=1e-4)
    # a workspace written elsewhere with a POI scaled by 1e6 gives a limit 1e6 times smaller
    spec = json.loads((tmp_path / "ws.json").read_text())
    spec["channels"][0]["samples"][0]["data"] = (S * 1e6).tolist()
    spec["measurements"][0]["config"]["parameters"] = []
    scaled = stats.upper_limit_from_workspace(spec)
    assert scaled.expected * 1e6 == pytest.approx(res.expected, rel=1e-3)


def test_workspace_with_too_large_mc_stat_is_refused():
    spec = stats.build_workspace(SIG6, [(BKG6, W2_6)])
    with pytest.raises(DataError, match=r"in 2 bin\(s\):\nchannel 'sr', staterror_sr\[bin 4\]: yield 3, MC stat 66.7%"):
        stats.upper_limit_from_workspace(spec)


def test_limits_leave_torch_and_pyhf_as_they_found_them():
    """The fits run pyhf's float64 torch backend; afterwards torch's default dtype (which
    every float32 network relies on) and pyhf's backend are what they were."""
    import pyhf
    import torch

    from hepsift import stats

    before = (torch.get_default_dtype(), type(pyhf.tensorlib).__name__, torch.get_num_threads())
    stats.upper_limit([1.0, 3.0, 8.0], [50.0, 20.0, 5.0])
    assert (torch.get_default_dtype(), type(pyhf.tensorlib).__name__, torch.get_num_threads()) == before
    assert torch.get_default_dtype() == torch.float32


def test_rebin_remainder_keeps_merging_until_it_meets_the_limit():
    """A noisy last bin that breaks the group before it takes the group before that as well:
    no merged bin is ever returned above max_mc_stat."""
    b = np.array([100.0, 100.0, 100.0, 1.0])
    w2 = np.array([400.0, 400.0, 400.0, 100.0])  # 20% each, the last bin 1000%
    r = stats.rebin(b, [(b, w2)], max_mc_stat=0.2)
    assert r.groups == [[0], [1, 2, 3]]
    rel = np.sqrt(r.backgrounds["background0"].sumw2) / r.backgrounds["background0"].counts
    assert np.all(rel <= 0.2 + 1e-12)
    top = stats.rebin(b[::-1], [(b[::-1], w2[::-1])], max_mc_stat=0.2, from_top=True)
    assert top.groups == [[0, 1, 2], [3]]


@pytest.mark.parametrize("b, rel, s", [(1.9e9, 0.07, 1.2e5), (1.9e9, 0.2, 1.2e5), (1.9e9, 0.26, 3e4), (2e9, 0.2, 1e7)])
def test_one_bin_with_huge_yield_and_mc_stat_matches_the_gaussian_limit(b, rel, s):
    # One bin: the signal strength and the bin's staterror share one direction, a valley 1e3-1e4
    # of the diagonal widths long; in the Gaussian regime the median expected limit is
    # 1.96 sigma_mu with sigma_mu = sqrt(b + sumw2) / s.
    r = stats.upper_limit([s], ([b], [(rel * b) ** 2]))
    assert r.expected == pytest.approx(1.959964 * np.sqrt(b + (rel * b) ** 2) / s, rel=2e-4)
