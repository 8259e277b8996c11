"""Cross-check of :func:`hepsift.stats.upper_limit` with ROOT's RooStats.

The same model (signal with a free normalisation mu; backgrounds with Gaussian-constrained
per-bin MC statistical uncertainties and optional normalisation uncertainties) is built with
ROOT's HistFactory and the CLs limit is computed with ``RooStats::AsymptoticCalculator``
(one-sided, q~_mu) inside ``RooStats::HypoTestInverter``. Needs ROOT with RooFit
(``pip install ROOT`` provides it).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from hepsift._deps import install_hint
from hepsift.errors import ConfigurationError, DependencyError, EvaluationError
from hepsift.stats.limits import BAND_KEYS, UpperLimitResult, _mu_guess, _prepare

__all__ = ["upper_limit_roostats", "import_root"]


def import_root() -> Any:
    """Import PyROOT quietly in batch mode, or raise :class:`~hepsift.errors.DependencyError`."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import ROOT
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise DependencyError(install_hint("ROOT", "the RooStats cross-check")) from exc
    ROOT.gROOT.SetBatch(True)
    return ROOT


def _th1(ROOT: Any, name: str, counts: np.ndarray, errors: np.ndarray) -> Any:
    h = ROOT.TH1D(name, name, len(counts), 0.0, float(len(counts)))
    h.SetDirectory(0)
    h.Sumw2()
    for i, (c, e) in enumerate(zip(counts, errors, strict=True), start=1):
        h.SetBinContent(i, float(c))
        h.SetBinError(i, float(e))
    ROOT.SetOwnership(h, False)  # HistFactory keeps pointers to it
    return h


def upper_limit_roostats(
    signal: Any,
    backgrounds: Any,
    *,
    data: Any = None,
    cl: float = 0.95,
    norm_uncertainties: Mapping[str, Any] | None = None,
    mc_stat: bool = True,
    n_points: int = 200,
    mu_max: float | None = None,
) -> UpperLimitResult:
    """CLs upper limit computed with RooStats (HistFactory + AsymptoticCalculator).

    Takes the same inputs as :func:`hepsift.stats.upper_limit`. The limit is interpolated on a
    fixed scan of ``n_points`` values of mu in ``[0, mu_max]``; without ``mu_max`` a coarse
    scan first locates the +2 sigma expected limit and the fine scan spans 1.2 times it.

    Returns
    -------
    UpperLimitResult
        With an empty ``workspace``.
    """
    if not 0 < cl < 1:
        raise ConfigurationError(f"cl must be in (0, 1), got {cl}")
    sig, bkgs, obs = _prepare(signal, backgrounds, data)
    norms = dict(norm_uncertainties or {})
    ROOT = import_root()
    ROOT.RooMsgService.instance().setGlobalKillBelow(ROOT.RooFit.ERROR)
    old_level = ROOT.gErrorIgnoreLevel
    ROOT.gErrorIgnoreLevel = ROOT.kError
    HF = ROOT.RooStats.HistFactory
    total_b = np.sum([h.counts for h in bkgs.values()], axis=0)
    guess = _mu_guess(sig.counts, total_b)
    try:
        meas = HF.Measurement("hepsift", "hepsift")
        meas.SetPOI("mu")
        meas.SetLumi(1.0)
        meas.SetLumiRelErr(0.01)
        meas.AddConstantParam("Lumi")
        chan = HF.Channel("sr")
        observed = total_b if obs is None else obs.counts
        chan.SetData(_th1(ROOT, "hepsift_data", observed, np.sqrt(np.maximum(observed, 0))))
        chan.SetStatErrorConfig(0.0, "Gaussian")
        s = HF.Sample("signal")
        s.SetHisto(_th1(ROOT, "hepsift_signal", sig.counts, np.sqrt(sig.sumw2)))
        s.SetNormalizeByTheory(False)
        s.AddNormFactor("mu", 1.0, 0.0, max(10.0, 200.0 * guess))
        if "signal" in norms:
            lo, hi = _lo_hi(norms["signal"])
            s.AddOverallSys("norm_signal", lo, hi)
        chan.AddSample(s)
        for name, h in bkgs.items():
            b = HF.Sample(name)
            b.SetHisto(_th1(ROOT, f"hepsift_bkg_{name}", h.counts, np.sqrt(h.sumw2)))
            b.SetNormalizeByTheory(False)
            if mc_stat:
                b.ActivateStatError()
            if name in norms:
                lo, hi = _lo_hi(norms[name])
                b.AddOverallSys(f"norm_{name}", lo, hi)
            chan.AddSample(b)
        meas.AddChannel(chan)
        ws = HF.HistoToWorkspaceFactoryFast.MakeCombinedModel(meas)
        ROOT.SetOwnership(ws, True)
        mc = ws.obj("ModelConfig")
        obs_data = ws.data("obsData")
        poi = mc.GetParametersOfInterest().first()
        sb = mc.Clone("hepsift_sb")
        poi.setVal(1.0)
        sb.SetSnapshot(ROOT.RooArgSet(poi))
        bonly = mc.Clone("hepsift_b")
        poi.setVal(0.0)
        bonly.SetSnapshot(ROOT.RooArgSet(poi))
        ROOT.RooStats.AsymptoticCalculator.SetPrintLevel(-1)

        def scan(n: int, hi: float) -> Any:
            calc = ROOT.RooStats.AsymptoticCalculator(obs_data, bonly, sb)
            calc.SetOneSided(True)
            calc.SetQTilde(True)
            inv = ROOT.RooStats.HypoTestInverter(calc)
            inv.SetConfidenceLevel(cl)
            inv.UseCLs(True)
            inv.SetVerbose(False)
            inv.SetFixedScan(n, 0.0, hi)
            res = inv.GetInterval()
            return res

        hi = mu_max
        if hi is None:
            hi = 4.0 * guess
            for _ in range(20):
                coarse = scan(40, hi)
                top = max(coarse.GetExpectedUpperLimit(2), coarse.UpperLimit())
                if np.isfinite(top) and top < 0.95 * hi:
                    break
                hi *= 2.0
            hi = 1.2 * top
        res = scan(n_points, hi)
        exp = {k: float(res.GetExpectedUpperLimit(k)) for k in (-2, -1, 0, 1, 2)}
        observed_limit = float(res.UpperLimit()) if obs is not None else None
    except Exception as exc:  # cppyy turns C++ exceptions into Python ones
        if isinstance(exc, (ConfigurationError, DependencyError)):
            raise
        raise EvaluationError(f"RooStats limit computation failed: {exc}") from exc
    finally:
        ROOT.gErrorIgnoreLevel = old_level
    return UpperLimitResult(
        observed=observed_limit,
        expected=exp[0],
        bands={k: exp[k] for k in BAND_KEYS},
        cl=cl,
    )


def _lo_hi(value: Any) -> tuple[float, float]:
    if np.isscalar(value):
        return 1.0 - float(value), 1.0 + float(value)
    lo, hi = (float(v) for v in value)
    return lo, hi
