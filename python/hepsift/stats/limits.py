r"""Binned CLs upper limits on the signal strength with pyhf.

The statistical model is a HistFactory likelihood (one channel, the bins of a score
histogram): the signal template scaled by the parameter of interest :math:`\mu`, any number
of background templates with their Monte Carlo statistical uncertainty (one Barlow-Beeston-lite
``staterror`` parameter per bin, Gaussian constraint with the relative error of the summed
backgrounds) and optional log-normal-like normalisation uncertainties (``normsys``).
Limits use the asymptotic formulae for the :math:`\tilde q_\mu` test statistic and the CLs
prescription,

.. math:: \mathrm{CL_s}(\mu) = \frac{p_{s+b}(\mu)}{1 - p_b(\mu)},

the limit being the :math:`\mu` where CLs equals :math:`1 - \mathrm{CL}` (Cowan et al.,
arXiv:1007.1727; A. L. Read, J. Phys. G 28 (2002) 2693). The expected limit and its bands
are computed on the background-only Asimov data set.

Because the signal template is normalised to the theory cross-section, the limit on
:math:`\mu` is :math:`\mu_{up} = \sigma_{up} / \sigma_{theory}`, so
:math:`\sigma_{up} = \mu_{up}\,\sigma_{theory}`.

References: L. Heinrich, M. Feickert, G. Stark, K. Cranmer, "pyhf: pure-Python implementation
of HistFactory statistical models", JOSS 6 (2021) 2823; K. Cranmer et al., CERN-OPEN-2012-016.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hepsift.errors import ConfigurationError, DataError, DependencyError, EvaluationError
from hepsift.stats._hist import Histogram, as_histogram, check_same_binning

__all__ = [
    "UpperLimitResult",
    "build_workspace",
    "upper_limit",
    "upper_limit_from_workspace",
    "cross_section_limit",
    "signal_strength",
]

BAND_KEYS = (-2, -1, 1, 2)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence third-party deprecation chatter (pyhf's use of jsonschema.RefResolver)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=RuntimeWarning, module="pyhf")
        yield


def _import_pyhf() -> Any:
    try:
        with _quiet():
            import pyhf
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise DependencyError("hepsift.stats limits need pyhf: pip install 'pyhf==0.7.6'") from exc
    return pyhf


@dataclass
class UpperLimitResult:
    """An upper limit on the signal strength mu.

    Attributes
    ----------
    observed : float or None
        Observed limit (None when no data were given).
    expected : float
        Median expected limit (background-only Asimov data).
    bands : dict[int, float]
        Expected limit at -2, -1, +1, +2 standard deviations (keys ``-2, -1, 1, 2``).
    cl : float
        Confidence level (0.95 by default).
    sigma_theory : float or None
        Theory cross-section (pb) the signal template was normalised to.
    workspace : dict
        The pyhf JSON workspace of the model.
    workspace_path : str or None
        Where the workspace was written, if it was.
    """

    observed: float | None
    expected: float
    bands: dict[int, float]
    cl: float = 0.95
    sigma_theory: float | None = None
    workspace: dict[str, Any] = field(default_factory=dict, repr=False)
    workspace_path: str | None = None

    @property
    def xsec_observed(self) -> float | None:
        """Observed cross-section limit ``mu_up * sigma_theory`` (pb), if both are known."""
        if self.observed is None or self.sigma_theory is None:
            return None
        return self.observed * self.sigma_theory

    @property
    def xsec_expected(self) -> float | None:
        """Expected cross-section limit (pb), if ``sigma_theory`` is known."""
        return None if self.sigma_theory is None else self.expected * self.sigma_theory

    @property
    def xsec_bands(self) -> dict[int, float] | None:
        """Expected cross-section bands (pb), if ``sigma_theory`` is known."""
        if self.sigma_theory is None:
            return None
        return {k: v * self.sigma_theory for k, v in self.bands.items()}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable summary (without the workspace)."""
        return {
            "cl": self.cl,
            "observed": self.observed,
            "expected": self.expected,
            "bands": {str(k): v for k, v in self.bands.items()},
            "sigma_theory": self.sigma_theory,
            "xsec_observed": self.xsec_observed,
            "xsec_expected": self.xsec_expected,
            "workspace_path": self.workspace_path,
        }

    def __str__(self) -> str:
        obs = "n/a" if self.observed is None else f"{self.observed:.4g}"
        return (
            f"{100 * self.cl:g}% CL upper limit on mu: observed {obs}, expected {self.expected:.4g} "
            f"[-2s {self.bands[-2]:.4g}, -1s {self.bands[-1]:.4g}, +1s {self.bands[1]:.4g}, +2s {self.bands[2]:.4g}]"
        )


def cross_section_limit(mu_up: float, sigma_theory: float) -> float:
    """Return the cross-section upper limit ``sigma_up = mu_up * sigma_theory`` (units of sigma_theory)."""
    if sigma_theory <= 0:
        raise ConfigurationError(f"sigma_theory must be positive, got {sigma_theory}")
    return float(mu_up) * float(sigma_theory)


def signal_strength(sigma_up: float, sigma_theory: float) -> float:
    """Return ``mu = sigma_up / sigma_theory``."""
    if sigma_theory <= 0:
        raise ConfigurationError(f"sigma_theory must be positive, got {sigma_theory}")
    return float(sigma_up) / float(sigma_theory)


def _named_backgrounds(backgrounds: Any) -> dict[str, Any]:
    """Backgrounds: a mapping name -> histogram, a list of histograms, or one histogram.

    A ``tuple`` is read as one ``(counts, sumw2[, edges])`` histogram; use a list or a mapping
    for several backgrounds.
    """
    if isinstance(backgrounds, Mapping) and not ({"counts", "values"} & set(backgrounds)):
        if not backgrounds:
            raise DataError("no background histogram given")
        return {str(k): v for k, v in backgrounds.items()}
    if isinstance(backgrounds, list) and backgrounds and not np.isscalar(backgrounds[0]):
        return {f"background{i}": h for i, h in enumerate(backgrounds)}
    return {"background": backgrounds}


def _norm_modifier(name: str, value: Any) -> dict[str, Any]:
    if np.isscalar(value):
        u = float(value)
        if not 0 < u < 1:
            raise ConfigurationError(f"relative normalisation uncertainty of {name!r} must be in (0, 1), got {u}")
        lo, hi = 1.0 - u, 1.0 + u
    else:
        lo, hi = (float(v) for v in value)
        if not (0 < lo < 1 < hi):
            raise ConfigurationError(
                f"normalisation variations of {name!r} must satisfy 0 < lo < 1 < hi, got {lo}, {hi}"
            )
    return {"name": f"norm_{name}", "type": "normsys", "data": {"hi": hi, "lo": lo}}


def _prepare(signal: Any, backgrounds: Any, data: Any) -> tuple[Histogram, dict[str, Histogram], Histogram | None]:
    sig = as_histogram(signal, name="signal")
    bkgs = {name: as_histogram(h, name=f"background {name!r}") for name, h in _named_backgrounds(backgrounds).items()}
    obs = None if data is None else as_histogram(data, name="data", allow_empty=True)
    check_same_binning([sig, *bkgs.values(), *([obs] if obs is not None else [])])
    if np.any(sig.counts < 0):
        raise DataError(f"signal: negative expected yield in bin(s) {np.flatnonzero(sig.counts < 0).tolist()}")
    if not np.any(sig.counts > 0):
        raise DataError("signal: histogram has no positive bin; no limit can be set")
    for name, h in bkgs.items():
        neg = np.flatnonzero(h.counts < 0)
        if neg.size:
            raise DataError(
                f"background {name!r}: negative yield in bin(s) {neg.tolist()} "
                f"(values {h.counts[neg].tolist()}); merge bins or fix the negative weights"
            )
    total = np.sum([h.counts for h in bkgs.values()], axis=0)
    empty = np.flatnonzero(total <= 0)
    if empty.size:
        raise DataError(
            f"total background is zero in bin(s) {empty.tolist()}; a binned likelihood needs a positive "
            "background prediction in every bin: merge or drop those bins"
        )
    if obs is not None and np.any(obs.counts < 0):
        raise DataError(f"data: negative count in bin(s) {np.flatnonzero(obs.counts < 0).tolist()}")
    return sig, bkgs, obs


def build_workspace(
    signal: Any,
    backgrounds: Any,
    *,
    data: Any = None,
    norm_uncertainties: Mapping[str, Any] | None = None,
    mc_stat: bool = True,
    signal_mc_stat: bool = False,
    channel: str = "sr",
    poi_bounds: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """Build the pyhf JSON workspace (HistFactory model) of a one-channel binned search.

    Parameters
    ----------
    signal : histogram-like, n_bins bins
        Expected signal yield per bin at mu = 1 (see :func:`hepsift.stats.as_histogram`).
    backgrounds : histogram-like, list of them, or mapping name -> histogram-like
        Background templates (a tuple counts as one ``(counts, sumw2)`` histogram).
    data : histogram-like, optional
        Observed counts; default: the total background (Asimov background-only data).
    norm_uncertainties : mapping, optional
        Sample name (a background name, or ``"signal"``) -> relative uncertainty ``u``
        (variations ``1 -+ u``) or a pair ``(lo, hi)`` of multiplicative variations; each
        becomes a ``normsys`` modifier named ``norm_<sample>``.
    mc_stat : bool, default True
        Add a ``staterror`` modifier (MC statistical uncertainty from sumw2) to each background.
    signal_mc_stat : bool, default False
        Also give the signal a ``staterror`` modifier.
    channel : str
        Channel name.
    poi_bounds : (float, float), optional
        Bounds of mu; default ``(0, 10)`` or wider for weak signals.

    Returns
    -------
    dict
        A pyhf workspace specification (schema version 1.0.0).
    """
    sig, bkgs, obs = _prepare(signal, backgrounds, data)
    norms = dict(norm_uncertainties or {})
    unknown = set(norms) - set(bkgs) - {"signal"}
    if unknown:
        raise ConfigurationError(
            f"norm_uncertainties name unknown samples {sorted(unknown)}; samples are {['signal', *bkgs]}"
        )
    stat_name = f"staterror_{channel}"
    sig_mods: list[dict[str, Any]] = [{"name": "mu", "type": "normfactor", "data": None}]
    if signal_mc_stat:
        sig_mods.append({"name": stat_name, "type": "staterror", "data": np.sqrt(sig.sumw2).tolist()})
    if "signal" in norms:
        sig_mods.append(_norm_modifier("signal", norms["signal"]))
    samples = [{"name": "signal", "data": sig.counts.tolist(), "modifiers": sig_mods}]
    for name, h in bkgs.items():
        mods: list[dict[str, Any]] = []
        if mc_stat:
            mods.append({"name": stat_name, "type": "staterror", "data": np.sqrt(h.sumw2).tolist()})
        if name in norms:
            mods.append(_norm_modifier(name, norms[name]))
        samples.append({"name": name, "data": h.counts.tolist(), "modifiers": mods})
    total_b = np.sum([h.counts for h in bkgs.values()], axis=0)
    observed = total_b if obs is None else obs.counts
    if poi_bounds is None:
        poi_bounds = (0.0, max(10.0, 200.0 * _mu_guess(sig.counts, total_b)))
    return {
        "version": "1.0.0",
        "channels": [{"name": channel, "samples": samples}],
        "observations": [{"name": channel, "data": observed.tolist()}],
        "measurements": [
            {
                "name": "limit",
                "config": {"poi": "mu", "parameters": [{"name": "mu", "bounds": [list(map(float, poi_bounds))]}]},
            }
        ],
    }


def _mu_guess(s: np.ndarray, b: np.ndarray, var: np.ndarray | None = None) -> float:
    """A rough 95% CL limit on mu from the best single bin (only used to seed the search).

    ``var``: the background variance per bin (Poisson plus MC statistical); default ``b``.
    """
    ok = s > 0
    v = b if var is None else var
    return float(np.min((2.0 * np.sqrt(v[ok]) + 2.0) / s[ok]))


def _channel_guess(samples: list[dict[str, Any]], is_signal: Any) -> float | None:
    """_mu_guess for one channel of a pyhf specification, with the staterror variances."""
    nb = len(samples[0]["data"])
    s, b, mc = np.zeros(nb), np.zeros(nb), np.zeros(nb)
    for smp in samples:
        data = np.asarray(smp["data"], dtype=float)
        if is_signal(smp):
            s += data
            continue
        b += data
        for m in smp["modifiers"]:
            if m["type"] == "staterror":
                mc += np.asarray(m["data"], dtype=float) ** 2
    if not np.any(s > 0):
        return None
    b = np.maximum(b, 1e-9)
    return _mu_guess(s, b, b + mc)


def _pyhf_limits(model: Any, data: Any, cl: float, rtol: float, mu_guess: float) -> tuple[float, list[float]]:
    _import_pyhf()
    from pyhf.infer.intervals.upper_limits import toms748_scan

    level = 1.0 - cl
    hi_bound = model.config.suggested_bounds()[model.config.poi_index][1]
    lo, hi = mu_guess / 10.0, min(2.0 * mu_guess, hi_bound)
    try:
        with _quiet():
            obs, exp = toms748_scan(data, model, lo, hi, level=level, rtol=rtol, test_stat="qtilde")
        return float(obs), [float(e) for e in exp]
    except (ValueError, RuntimeError):
        # The root finder stops at the first failed fit (CLs = NaN), which large MC statistical
        # uncertainties can cause at some mu; a scan skips such points.
        return _scan_limits(model, data, level, lo, min(20.0 * mu_guess, hi_bound))


def _scan_limits(model: Any, data: Any, level: float, lo: float, hi: float,
                 n: int = 60) -> tuple[float, list[float]]:
    """CLs = ``level`` crossings on a log-spaced grid of mu (linear in log mu between points),
    skipping the points whose fit fails."""
    import pyhf

    mus = np.geomspace(lo, hi, n)
    cls = np.full((n, 6), np.nan)
    with _quiet():
        for k, mu in enumerate(mus):
            try:
                obs, exp = pyhf.infer.hypotest(float(mu), data, model, test_stat="qtilde", return_expected_set=True)
            except (ValueError, RuntimeError, FloatingPointError):
                continue
            cls[k] = [float(obs), *(float(e) for e in exp)]

    failed = int(np.sum(~np.isfinite(cls).all(axis=1)))
    if failed > n // 4:
        raise EvaluationError(
            f"the CLs fit failed at {failed} of {n} values of mu in [{lo:.3g}, {hi:.3g}]; the background model is "
            "probably dominated by MC statistical uncertainties (a few heavily weighted events): apply a selection, "
            "merge bins or use more simulated events"
        )

    def crossing(values: np.ndarray) -> float:
        ok = np.isfinite(values)
        m, c = np.log(mus[ok]), values[ok]
        below = np.nonzero((c[:-1] >= level) & (c[1:] < level))[0]
        if len(below) == 0:
            raise EvaluationError(
                f"no CLs = {level:g} crossing for mu in [{lo:.3g}, {hi:.3g}] (fits failed at "
                f"{int(np.sum(~ok))} of {n} points); the background model is probably dominated by MC statistical "
                "uncertainties: merge bins or use more simulated events"
            )
        i = below[0]
        t = (c[i] - level) / (c[i] - c[i + 1])
        return float(np.exp(m[i] + t * (m[i + 1] - m[i])))

    return crossing(cls[:, 0]), [crossing(cls[:, 1 + j]) for j in range(5)]


def upper_limit_from_workspace(
    workspace: Mapping[str, Any] | str | os.PathLike[str],
    *,
    cl: float = 0.95,
    measurement: str | None = None,
    sigma_theory: float | None = None,
    observed: bool = True,
    rtol: float = 1e-4,
) -> UpperLimitResult:
    """CLs upper limit from a pyhf JSON workspace (a dict or a path to a JSON file).

    Parameters
    ----------
    workspace : dict or path
        pyhf workspace specification.
    cl : float, default 0.95
        Confidence level.
    measurement : str, optional
        Measurement name (default: the first).
    sigma_theory : float, optional
        Theory cross-section for the cross-section limit.
    observed : bool, default True
        Report the observed limit computed on the workspace's observations.
    rtol : float
        Relative tolerance of the root finding in mu.
    """
    pyhf = _import_pyhf()
    path = None
    if not isinstance(workspace, Mapping):
        path = os.fspath(workspace)
        try:
            with open(path, encoding="utf-8") as fh:
                workspace = json.load(fh)
        except (OSError, json.JSONDecodeError) as exc:
            raise DataError(f"cannot read pyhf workspace {path!r}: {exc}") from exc
    if not 0 < cl < 1:
        raise ConfigurationError(f"cl must be in (0, 1), got {cl}")
    try:
        with _quiet():
            ws = pyhf.Workspace(dict(workspace))
            model = ws.model(measurement_name=measurement)
            data = ws.data(model)
    except pyhf.exceptions.InvalidSpecification as exc:
        raise DataError(f"invalid pyhf workspace: {exc}") from exc
    # seed the search with a rough per-channel estimate from the nominal templates
    guesses = []
    for ch in workspace["channels"]:
        guess = _channel_guess(ch["samples"], lambda smp: any(
            m["type"] == "normfactor" and m["name"] == model.config.poi_name for m in smp["modifiers"]))
        if guess is not None:
            guesses.append(guess)
    guess = min(guesses) if guesses else 1.0
    obs, exp = _pyhf_limits(model, data, cl, rtol, guess)
    return UpperLimitResult(
        observed=obs if observed else None,
        expected=exp[2],
        bands=dict(zip(BAND_KEYS, (exp[0], exp[1], exp[3], exp[4]), strict=True)),
        cl=cl,
        sigma_theory=sigma_theory,
        workspace=dict(workspace),
        workspace_path=path,
    )


def upper_limit(
    signal: Any,
    backgrounds: Any,
    *,
    data: Any = None,
    cl: float = 0.95,
    norm_uncertainties: Mapping[str, Any] | None = None,
    mc_stat: bool = True,
    signal_mc_stat: bool = False,
    sigma_theory: float | None = None,
    workspace_path: str | os.PathLike[str] | None = None,
    rtol: float = 1e-4,
) -> UpperLimitResult:
    r"""Binned CLs upper limit on the signal strength mu (asymptotic :math:`\tilde q_\mu`).

    Parameters
    ----------
    signal : histogram-like, shape (n_bins,)
        Expected signal per bin at mu = 1, normalised to ``sigma_theory`` x luminosity x
        efficiency. Numpy counts, ``(counts, sumw2[, edges])``, ``hist.Hist``, ROOT ``TH1`` or
        ``RResultPtr<TH1D>`` (e.g. from ``RDataFrame.Histo1D``).
    backgrounds : histogram-like, list or mapping name -> histogram-like
        Background templates with their sumw2 (MC statistical uncertainty).
    data : histogram-like, optional
        Observed counts per bin; without it only the expected limit is computed and
        ``observed`` is None.
    cl : float, default 0.95
        Confidence level; CLs is solved for ``1 - cl``.
    norm_uncertainties : mapping, optional
        Relative normalisation uncertainties per sample, see :func:`build_workspace`.
    mc_stat, signal_mc_stat : bool
        MC statistical uncertainties (``staterror``) on the backgrounds / on the signal.
    sigma_theory : float, optional
        Theory cross-section (pb); gives ``xsec_*`` limits ``sigma_up = mu_up * sigma_theory``.
    workspace_path : path, optional
        Write the pyhf JSON workspace there (refit with pyhf, cabinetry or ROOT).
    rtol : float, default 1e-4
        Relative tolerance of the root finding in mu.

    Returns
    -------
    UpperLimitResult

    Raises
    ------
    hepsift.errors.DataError
        Empty histograms, NaN entries, negative yields, a bin without background,
        mismatched binning.
    """
    if not 0 < cl < 1:
        raise ConfigurationError(f"cl must be in (0, 1), got {cl}")
    spec = build_workspace(
        signal,
        backgrounds,
        data=data,
        norm_uncertainties=norm_uncertainties,
        mc_stat=mc_stat,
        signal_mc_stat=signal_mc_stat,
    )
    pyhf = _import_pyhf()
    with _quiet():
        ws = pyhf.Workspace(spec)
        model = ws.model()
        obs_data = ws.data(model)
    samples = spec["channels"][0]["samples"]
    guess = _channel_guess(samples, lambda smp: smp is samples[0])
    obs, exp = _pyhf_limits(model, obs_data, cl, rtol, guess if guess is not None else 1.0)
    path = None
    if workspace_path is not None:
        from hepsift._atomic import atomic_output

        path = os.fspath(workspace_path)
        with atomic_output(path, overwrite=True, make_parents=True) as tmp, open(tmp, "w", encoding="utf-8") as fh:
            json.dump(spec, fh, indent=2)
    if math.isnan(exp[2]):
        raise DataError("the limit computation did not converge")  # pragma: no cover
    return UpperLimitResult(
        observed=obs if data is not None else None,
        expected=exp[2],
        bands=dict(zip(BAND_KEYS, (exp[0], exp[1], exp[3], exp[4]), strict=True)),
        cl=cl,
        sigma_theory=sigma_theory,
        workspace=spec,
        workspace_path=path,
    )
