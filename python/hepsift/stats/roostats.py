"""Cross-check of :func:`hepsift.stats.upper_limit` with ROOT's RooStats.

The same likelihood as the pyhf workspace of :func:`hepsift.stats.build_workspace` is built with
ROOT's HistFactory: the signal with a free normalisation mu; backgrounds with one
Barlow-Beeston-lite parameter per bin (``ActivateStatError``, Gaussian constraint with the
relative error of the summed templates that carry a sumw2, as pyhf's ``staterror``; bare
arrays of expected yields get none) and normalisation uncertainties as ``OverallSys`` whose
interpolation is set to code 1 (exponential, pyhf's ``normsys`` default; HistFactory's own
default in ROOT 6.40 is code 5). Lumi is held constant. CLs at a given mu comes from
``RooStats::AsymptoticCalculator`` (one-sided, q~_mu, Asimov data from the background-only fit
to the data), the expected values from ``AsymptoticCalculator::GetExpectedPValues``; the
limits are the roots of CLs - (1 - CL) found with TOMS 748 as in :func:`upper_limit`. Needs ROOT
with RooFit (``pip install ROOT`` provides it).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from hepsift._deps import install_hint
from hepsift.errors import ConfigurationError, DependencyError, EvaluationError, FitError
from hepsift.stats.limits import (
    BAND_KEYS,
    UpperLimitResult,
    _prepare,
    _solve,
    build_workspace,
    _spec_guess,
)

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


_COUNTER = [0]


def _th1(ROOT: Any, name: str, counts: np.ndarray, errors: np.ndarray) -> Any:
    _COUNTER[0] += 1
    h = ROOT.TH1D(f"{name}_{_COUNTER[0]}", name, len(counts), 0.0, float(len(counts)))
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
    signal_mc_stat: bool = False,
    rtol: float = 1e-4,
) -> UpperLimitResult:
    """CLs upper limit computed with RooStats (HistFactory + AsymptoticCalculator).

    Takes the same inputs as :func:`hepsift.stats.upper_limit` and builds the same likelihood
    (see the module documentation).

    Returns
    -------
    UpperLimitResult
        With an empty ``workspace`` and no ``checks``.

    Raises
    ------
    hepsift.errors.FitError
        A RooFit fit failed (NaN p-values) or CLs does not cross 1 - CL.
    """
    if not 0 < cl < 1:
        raise ConfigurationError(f"cl must be in (0, 1), got {cl}")
    sig, bkgs, obs = _prepare(signal, backgrounds, data)
    norms = dict(norm_uncertainties or {})
    spec = build_workspace(signal, backgrounds, data=data, norm_uncertainties=norms, mc_stat=mc_stat,
                           signal_mc_stat=signal_mc_stat)
    guess = _spec_guess(spec, "mu")
    ROOT = import_root()
    ROOT.RooMsgService.instance().setGlobalKillBelow(ROOT.RooFit.FATAL)
    old_level = ROOT.gErrorIgnoreLevel
    ROOT.gErrorIgnoreLevel = ROOT.kFatal
    HF = ROOT.RooStats.HistFactory
    total_b = np.sum([h.counts for h in bkgs.values()], axis=0)
    alpha = 1.0 - cl
    try:
        meas = HF.Measurement("hepsift", "hepsift")
        meas.SetPOI("mu")
        meas.SetLumi(1.0)
        meas.SetLumiRelErr(0.01)
        meas.AddConstantParam("Lumi")
        chan = HF.Channel("sr")
        observed = total_b if obs is None else obs.counts
        chan.SetData(_th1(ROOT, "hepsift_data", observed, np.sqrt(np.maximum(observed, 0))))
        chan.SetStatErrorConfig(1e-12, "Gaussian")
        s = HF.Sample("signal")
        s.SetHisto(_th1(ROOT, "hepsift_signal", sig.counts, np.sqrt(sig.sumw2)))
        s.SetNormalizeByTheory(False)
        s.AddNormFactor("mu", guess, 0.0, 1e4 * guess)
        if signal_mc_stat and np.any(sig.sumw2 > 0):
            s.ActivateStatError()
        if "signal" in norms:
            lo, hi = _lo_hi(norms["signal"])
            s.AddOverallSys("norm_signal", lo, hi)
        chan.AddSample(s)
        for name, h in bkgs.items():
            b = HF.Sample(name)
            b.SetHisto(_th1(ROOT, f"hepsift_bkg_{name}", h.counts, np.sqrt(h.sumw2)))
            b.SetNormalizeByTheory(False)
            if mc_stat and np.any(h.sumw2 > 0):
                b.ActivateStatError()
            if name in norms:
                lo, hi = _lo_hi(norms[name])
                b.AddOverallSys(f"norm_{name}", lo, hi)
            chan.AddSample(b)
        meas.AddChannel(chan)
        ws = HF.HistoToWorkspaceFactoryFast.MakeCombinedModel(meas)
        ROOT.SetOwnership(ws, True)
        # pyhf's normsys interpolates exponentially (code 1); HistFactory (ROOT 6.40) defaults to code 5
        for fn in ws.allFunctions():
            if fn.InheritsFrom("RooStats::HistFactory::FlexibleInterpVar"):
                fn.setAllInterpCodes(1)
        mc = ws.obj("ModelConfig")
        obs_data = ws.data("obsData")
        poi = mc.GetParametersOfInterest().first()
        sb = mc.Clone("hepsift_sb")
        poi.setVal(guess)
        sb.SetSnapshot(ROOT.RooArgSet(poi))
        bonly = mc.Clone("hepsift_b")
        poi.setVal(0.0)
        bonly.SetSnapshot(ROOT.RooArgSet(poi))
        ROOT.RooStats.AsymptoticCalculator.SetPrintLevel(-1)
        calc = ROOT.RooStats.AsymptoticCalculator(obs_data, bonly, sb)
        calc.SetOneSided(True)
        calc.SetQTilde(True)
        get_expected = ROOT.RooStats.AsymptoticCalculator.GetExpectedPValues

        def cls(mu: float) -> list[float]:
            poi.setVal(mu)
            sb.SetSnapshot(ROOT.RooArgSet(poi))
            calc.SetNullModel(sb)
            res = calc.GetHypoTest()
            pnull, palt = float(res.NullPValue()), float(res.AlternatePValue())
            ROOT.SetOwnership(res, True)
            # null = signal + background at mu, alternative = background only; RooStats' alternate
            # p-value is CL_b (the background-only tail on the other side), so CLs = p_null / p_alt
            out = [pnull / palt if palt > 0 else float("nan")] + [float(get_expected(pnull, palt, n, True)) for n in (-2, -1, 0, 1, 2)]
            if not np.all(np.isfinite(out)):
                raise FitError(f"RooStats: CLs at mu = {mu:.6g} is not finite ({out}); a RooFit fit failed")
            return out

        vals = _solve(cls, alpha, guess, 1e4 * guess, rtol)
    except FitError:
        raise
    except Exception as exc:  # cppyy turns C++ exceptions into Python ones
        if isinstance(exc, (ConfigurationError, DependencyError)):
            raise
        raise EvaluationError(f"RooStats limit computation failed: {exc}") from exc
    finally:
        ROOT.gErrorIgnoreLevel = old_level
    exp = [float(v) for v in vals[1:]]
    return UpperLimitResult(
        observed=float(vals[0]) if obs is not None else None,
        expected=exp[2],
        bands=dict(zip(BAND_KEYS, (exp[0], exp[1], exp[3], exp[4]), strict=True)),
        cl=cl,
    )


def _lo_hi(value: Any) -> tuple[float, float]:
    if np.isscalar(value):
        return 1.0 - float(value), 1.0 + float(value)
    lo, hi = (float(v) for v in value)
    return lo, hi
