r"""Expected CLs upper limits on the signal strength for anomaly detectors and their baselines.

For every signal, every method (the anomaly detectors, a supervised classifier trained on that
signal, and cuts on single variables such as :math:`H_T`) and every background efficiency
:math:`\epsilon_B`, the events are cut at the score that keeps a weighted fraction
:math:`\epsilon_B` of the background, the signal and background yields :math:`s, b` after the
cut are counted with the sum of squared background weights, and the expected CLs upper limit
on :math:`\mu` with its :math:`\pm 1\sigma` band is computed for that one-bin counting
experiment with :func:`hepsift.stats.upper_limit` (HistFactory likelihood with the background's
Monte Carlo statistical uncertainty, every number checked; a background with fewer than
:math:`1/\text{max\_mc\_stat}^2` effective simulated events after the cut is refused by that
function's rule). A cell that cannot be computed is *refused* with its reason, never given a
number.

**Which events are evaluated.** The detectors must not have seen the events given here: pass
background events that were not used to fit them (``training_background`` makes that a
check). With a supervised baseline the given samples are split at random (``seed``): a
fraction ``supervised_fraction`` of each sample trains the classifier and every method is
evaluated on the rest, whose weights are scaled by ``n / n_evaluated`` so that the yields are
unchanged. Without a supervised baseline every given event is evaluated.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hepsift import errors
from hepsift._version import __version__
from hepsift.data import MISSING, Dataset
from hepsift.stats.limits import MAX_MC_STAT

__all__ = ["LimitCell", "LimitTable", "limit_table", "limit_table_from_root"]

_JET_PT = re.compile(r"^jet(\d+)_pt$")


@dataclass(frozen=True)
class LimitCell:
    """The expected limit of one method, signal and background efficiency.

    Attributes
    ----------
    method, signal : str
    kind : str
        ``"detector"``, ``"supervised"`` or ``"baseline"``.
    eps_b : float
        Requested background efficiency.
    threshold : float
        Score cut (events with ``score > threshold`` pass): the weighted ``1 - eps_b``
        quantile of the evaluated background scores (inverted CDF).
    eps_b_achieved : float
        Weighted fraction of the background that passes (at most ``eps_b``).
    eps_s : float
        Weighted fraction of the signal that passes.
    s, b : float
        Expected signal (at mu = 1) and background events after the cut.
    b_sumw2, s_sumw2 : float
        Sums of squared background and signal weights after the cut (the signal's MC
        statistical uncertainty is reported, not put into the likelihood, as
        :func:`hepsift.stats.upper_limit` does by default).
    n_s, n_b : int
        Simulated signal and background events after the cut.
    expected, minus_1sigma, plus_1sigma : float or None
        Median expected CLs upper limit on mu and its -1 / +1 sigma band (None when refused).
    refused : str or None
        Why no limit is given.
    """

    method: str
    signal: str
    kind: str
    eps_b: float
    threshold: float
    eps_b_achieved: float
    eps_s: float
    s: float
    b: float
    b_sumw2: float
    s_sumw2: float
    n_s: int
    n_b: int
    expected: float | None = None
    minus_1sigma: float | None = None
    plus_1sigma: float | None = None
    refused: str | None = None

    @property
    def b_mc_stat(self) -> float:
        """Relative MC statistical uncertainty of ``b``: ``sqrt(b_sumw2) / b`` (inf when b = 0)."""
        return math.sqrt(self.b_sumw2) / self.b if self.b > 0 else math.inf

    @property
    def s_mc_stat(self) -> float:
        """Relative MC statistical uncertainty of ``s``: ``sqrt(s_sumw2) / s`` (inf when s = 0)."""
        return math.sqrt(self.s_sumw2) / self.s if self.s > 0 else math.inf

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of the attributes (and ``b_mc_stat``, ``s_mc_stat``; None when infinite)."""
        out = asdict(self)
        for key in ("b_mc_stat", "s_mc_stat"):
            value = getattr(self, key)
            out[key] = value if math.isfinite(value) else None
        return out

    def text(self) -> str:
        """``"0.123 [0.0883, 0.172]"`` (median and -1/+1 sigma band), or ``"refused"``."""
        if self.refused is not None or self.expected is None:
            return "refused"
        return f"{self.expected:.3g} [{self.minus_1sigma:.3g}, {self.plus_1sigma:.3g}]"


@dataclass
class LimitTable:
    """Expected limits of every method, signal and background efficiency (see :func:`limit_table`).

    ``str(table)`` is an aligned text table (rows: method and eps_b; columns: signals; refused
    cells point to a numbered reason below the table).

    Attributes
    ----------
    cells : list of LimitCell
    luminosity : float
        Luminosity [pb^-1] the weights correspond to.
    cl : float
        Confidence level of the limits.
    provenance : dict
        hepsift version, time, seed, split and event counts.
    """

    cells: list[LimitCell]
    luminosity: float
    cl: float = 0.95
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def methods(self) -> list[str]:
        return list(dict.fromkeys(c.method for c in self.cells))

    @property
    def signals(self) -> list[str]:
        return list(dict.fromkeys(c.signal for c in self.cells))

    @property
    def efficiencies(self) -> list[float]:
        return list(dict.fromkeys(c.eps_b for c in self.cells))

    def cell(self, method: str, signal: str, eps_b: float) -> LimitCell:
        """The cell of ``method``, ``signal`` and ``eps_b`` (KeyError naming what exists otherwise)."""
        for c in self.cells:
            if c.method == method and c.signal == signal and math.isclose(c.eps_b, eps_b):
                return c
        raise KeyError(f"no cell ({method!r}, {signal!r}, {eps_b:g}); methods {self.methods}, signals "
                       f"{self.signals}, eps_b {self.efficiencies}")

    def __str__(self) -> str:
        reasons: list[str] = []
        head = ["method", "eps_b", *self.signals]
        rows = []
        for m in self.methods:
            for e in self.efficiencies:
                got = self.cell(m, self.signals[0], e).eps_b_achieved
                row = [m, f"{e:g}" if math.isclose(got, e, rel_tol=0.01) else f"{e:g} ({got:.2g})"]
                for s in self.signals:
                    c = self.cell(m, s, e)
                    if c.refused is not None:
                        reasons.append(f"[{len(reasons) + 1}] {m}, {s}, eps_b = {e:g}: {' '.join(c.refused.split())}")
                        row.append(f"refused [{len(reasons)}]")
                    else:
                        row.append(c.text())
                rows.append(row)
        widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
        lines = [f"expected {100 * self.cl:g}% CLs upper limit on mu, median [-1 sigma, +1 sigma], at "
                 f"{self.luminosity / 1000:g} fb^-1: one-bin counting experiment above each method's cut at "
                 "background efficiency eps_b (weighted, evaluated events; in parentheses the efficiency the "
                 "cut achieves where ties in the score or large weights keep it below eps_b)",
                 "  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
        lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows]
        return "\n".join(lines + reasons)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable: luminosity, cl, provenance and one dict per cell."""
        return {"luminosity": self.luminosity, "cl": self.cl, "provenance": self.provenance,
                "cells": [c.to_dict() for c in self.cells]}

    def to_dataframe(self) -> Any:
        """One row per cell as a ``pandas.DataFrame`` (needs pandas, which hepsift does not require)."""
        from hepsift._deps import optional_import

        pd = optional_import("pandas", "LimitTable.to_dataframe")
        return pd.DataFrame([c.to_dict() for c in self.cells])

    def to_json(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write :meth:`to_dict` as JSON (atomically; an existing file is refused unless ``overwrite``)."""
        from hepsift._atomic import atomic_output

        with atomic_output(path, overwrite=overwrite, make_parents=True, what="limit table") as tmp, \
                open(tmp, "w", encoding="utf-8") as fh:
            json.dump(self.to_dict(), fh, indent=2)
        return Path(path)

    def to_csv(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write one row per cell as CSV (atomically; an existing file is refused unless ``overwrite``)."""
        from hepsift._atomic import atomic_output

        rows = [c.to_dict() for c in self.cells]
        with atomic_output(path, overwrite=overwrite, make_parents=True, what="limit table") as tmp, \
                open(tmp, "w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else [])
            writer.writeheader()
            writer.writerows(rows)
        return Path(path)


# --------------------------------------------------------------------------- inputs


def _sample(obj: Any, what: str, feature_names: Sequence[str] | None,
            luminosity: float | None) -> tuple[np.ndarray, np.ndarray, list[str], float | None]:
    """(X float32, weights in events, feature names, luminosity of a Dataset or None)."""
    if isinstance(obj, Dataset):
        return obj.X, obj.weight.astype(np.float64), list(obj.feature_names), float(obj.luminosity)
    if not (isinstance(obj, tuple) and len(obj) == 2):
        raise errors.ConfigurationError(
            f"{what}: give a hepsift.data.Dataset or a pair (X, weight) of a feature matrix (n_events, n_features) "
            f"and weights in expected events at the given luminosity; got {type(obj).__name__}")
    X = np.asarray(obj[0], dtype=np.float32)
    w = np.asarray(obj[1], dtype=np.float64).reshape(-1)
    if X.ndim != 2 or len(X) != len(w):
        raise errors.DataError(f"{what}: X must have shape (n_events, n_features) and weight (n_events,); got "
                               f"{X.shape} and {w.shape}")
    if feature_names is None:
        raise errors.ConfigurationError(f"{what}: an array sample needs feature_names= (the names of its columns)")
    if len(feature_names) != X.shape[1]:
        raise errors.InputMismatchError(f"{what}: {X.shape[1]} columns but {len(feature_names)} feature names")
    return X, w, list(feature_names), None


def _check_weights(w: np.ndarray, what: str) -> None:
    if len(w) == 0:
        raise errors.DataError(f"{what}: no events")
    if not np.all(np.isfinite(w)) or np.any(w < 0) or not w.sum() > 0:
        raise errors.DataError(f"{what}: weights must be finite and non-negative with a positive sum (a weighted "
                               "quantile defines the cut); drop or merge events with negative weights first")


def _ht(X: np.ndarray, names: list[str], column: str | None) -> tuple[np.ndarray, str]:
    """H_T from ``column``, the ``ht`` feature, or the sum of the ``jetN_pt`` columns present."""
    if column is not None or "ht" in names:
        col = column or "ht"
        if col not in names:
            raise errors.InputMismatchError(f"ht_column {col!r} is not among the features {names}")
        return X[:, names.index(col)].astype(np.float64), col
    jets = [i for i, n in enumerate(names) if _JET_PT.match(n)]
    if not jets:
        raise errors.ConfigurationError(
            f"the H_T baseline needs an 'ht' feature, ht_column= or jetN_pt features; the features are {names}: "
            "pass baselines=() to leave it out")
    pt = X[:, jets].astype(np.float64)
    return np.where(pt == MISSING, 0.0, pt).sum(axis=1), "+".join(names[i] for i in jets)


def _rows_in(a: np.ndarray, b: np.ndarray) -> int:
    """Number of rows of ``a`` that occur in ``b`` (bytewise equal float32 rows)."""
    def view(x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        return x.view(np.dtype((np.void, x.dtype.itemsize * x.shape[1]))).ravel()

    return int(np.isin(view(a), view(b)).sum())


# --------------------------------------------------------------------------- cells


def _cell(method: str, kind: str, signal: str, eps: float, sb: np.ndarray, wb: np.ndarray, ss: np.ndarray,
          ws: np.ndarray, cl: float, max_mc_stat: float | None) -> LimitCell:
    from hepsift.stats import upper_limit

    if not (np.all(np.isfinite(sb)) and np.all(np.isfinite(ss))):
        raise errors.NonFiniteInputError(f"{method}: scores contain NaN or infinite values")
    cut = float(np.quantile(sb, 1.0 - eps, weights=wb, method="inverted_cdf"))
    pb, ps = sb > cut, ss > cut
    b, b2, s = float(wb[pb].sum()), float(np.square(wb[pb]).sum()), float(ws[ps].sum())
    s2 = float(np.square(ws[ps]).sum())
    fig = dict(method=method, signal=signal, kind=kind, eps_b=float(eps), threshold=cut,
               eps_b_achieved=b / float(wb.sum()), eps_s=s / float(ws.sum()), s=s, b=b, b_sumw2=b2, s_sumw2=s2,
               n_s=int(ps.sum()), n_b=int(pb.sum()))
    if fig["n_b"] == 0:
        return LimitCell(**fig, refused=(
            f"no background event passes the cut (score > {cut:.6g}): the {len(sb)} evaluated background events "
            f"cannot define a background efficiency of {eps:g} (the cut needs a background prediction); use a larger "
            "eps_b or more background events"))
    if s <= 0:
        return LimitCell(**fig, refused=f"no signal passes the cut (score > {cut:.6g}): no limit on mu")
    try:
        res = upper_limit(np.array([s]), (np.array([b]), np.array([b2])), cl=cl, max_mc_stat=max_mc_stat)
    except (errors.DataError, errors.FitError) as exc:
        return LimitCell(**fig, refused=f"{type(exc).__name__}: {exc}")
    return LimitCell(**fig, expected=res.expected, minus_1sigma=res.bands[-1], plus_1sigma=res.bands[1])


def _score_of(model: Any) -> Callable[[np.ndarray], np.ndarray]:
    if hasattr(model, "decision_function"):
        return lambda X: np.asarray(model.decision_function(X), dtype=np.float64).reshape(-1)
    return lambda X: np.asarray(model.predict_proba(X), dtype=np.float64)[:, 1]


def _clone(model: Any) -> Any:
    if hasattr(model, "clone"):
        return model.clone()
    from sklearn.base import clone

    return clone(model)


# --------------------------------------------------------------------------- the table


def limit_table(
    detectors: Mapping[str, Any] | Sequence[Any],
    background: Any,
    signals: Mapping[str, Any],
    *,
    eps_b: Sequence[float] = (1e-2, 1e-3),
    supervised: Any = None,
    baselines: Sequence[str] = ("ht",),
    luminosity: float | None = None,
    feature_names: Sequence[str] | None = None,
    ht_column: str | None = None,
    supervised_fraction: float = 0.5,
    training_background: Any = None,
    cl: float = 0.95,
    max_mc_stat: float | None = MAX_MC_STAT,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> LimitTable:
    r"""Expected CLs upper limits on mu of anomaly detectors, a supervised classifier and cut baselines.

    For each signal, method and :math:`\epsilon_B`: cut at the weighted :math:`1-\epsilon_B`
    quantile of the evaluated background scores, count :math:`s` and :math:`b` (with
    :math:`\sum w^2`) above it, and solve the expected limit of that counting experiment with
    :func:`hepsift.stats.upper_limit` (background MC statistical uncertainty included; cells
    with too few effective background events, no background or no signal after the cut, or a
    failed fit check are refused with the reason). For a cut of efficiencies
    :math:`\epsilon_S, \epsilon_B` on a large background with uniform weights, the limit scales
    like :math:`\mu_{up} \propto \sqrt{b + \sum w^2}/s`, i.e. by
    :math:`\sqrt{\epsilon_B}/\epsilon_S` relative to no cut.

    Parameters
    ----------
    detectors : mapping name -> fitted detector, or sequence of fitted detectors
        Anything with ``decision_function(X, feature_names=...)`` (higher = more anomalous),
        e.g. :class:`hepsift.anomaly.HBOS`; a sequence is named by class name. They must not
        have been trained on the given events (see ``training_background``).
    background : Dataset or (X, weight)
        Background events: feature matrix (n_events, n_features) and weights in expected
        events at ``luminosity`` (a :class:`hepsift.data.Dataset`'s ``weight`` already is).
    signals : mapping name -> Dataset or (X, weight)
        One sample per signal, weights in expected events at mu = 1.
    eps_b : sequence of float in (0, 1), default (1e-2, 1e-3)
        Background efficiencies of the cuts.
    supervised : estimator, None or False
        Supervised baseline trained per signal (signal against background, event weights,
        ``fit(X, y, sample_weight)``; cloned for every signal). None: a
        :class:`hepsift.models.MLPClassifier` (two layers of 64, balanced classes, early
        stopping, ``seed``); False: no supervised baseline.
    baselines : sequence of str, default ("ht",)
        Single-variable cuts: ``"ht"`` (the ``ht`` feature, ``ht_column``, or the sum of the
        ``jetN_pt`` columns, absent jets counting 0) or any feature name.
    luminosity : float, pb^-1, optional
        Datasets are rescaled to it (default: their common luminosity); array samples need it.
    feature_names : sequence of str
        Column names of array samples (Datasets carry theirs); all samples must share them.
    ht_column : str, optional
        The feature holding H_T.
    supervised_fraction : float in (0, 1), default 0.5
        Fraction of every sample that trains the supervised baseline (not evaluated).
    training_background : Dataset or (X, weight) or ndarray, optional
        The events the detectors were trained on: evaluated events equal to any of them are
        refused (DataError).
    cl : float, default 0.95
    max_mc_stat : float or None, default 0.5
        Largest background MC statistical relative uncertainty after the cut (the rule of
        :func:`hepsift.stats.upper_limit`: at least ``1/max_mc_stat**2`` effective events).
    seed : int
        Seeds the split and the default supervised classifier.
    progress : callable, optional
        Called with a line of text per method and signal.

    Returns
    -------
    LimitTable

    Raises
    ------
    hepsift.errors.ConfigurationError
        Bad ``eps_b``, ``supervised_fraction``, baseline, or inputs without feature names or
        luminosity.
    hepsift.errors.InputMismatchError
        Samples with different features.
    hepsift.errors.DataError
        Empty samples, negative weights, evaluated events that trained the detectors.

    Examples
    --------
    >>> table = limit_table({"hbos": det}, (Xb, wb), {"zprime": (Xs, ws)},    # doctest: +SKIP
    ...                     feature_names=names, luminosity=140e3, supervised=False)
    >>> print(table)                                                          # doctest: +SKIP
    """
    try:
        effs = [float(e) for e in (eps_b if isinstance(eps_b, Sequence) and not isinstance(eps_b, str) else [eps_b])]
    except (TypeError, ValueError):
        effs = []
    if not effs or not all(0.0 < e < 1.0 for e in effs) or len(set(effs)) != len(effs):
        raise errors.ConfigurationError(f"eps_b must be distinct background efficiencies in (0, 1), got {eps_b!r}")
    if not 0.0 < float(cl) < 1.0:
        raise errors.ConfigurationError(f"cl must be in (0, 1), got {cl}")
    if supervised is not False and not 0.0 < float(supervised_fraction) < 1.0:
        raise errors.ConfigurationError(f"supervised_fraction must be in (0, 1), got {supervised_fraction}")
    if not isinstance(signals, Mapping) or not signals:
        raise errors.ConfigurationError("signals must be a non-empty mapping name -> Dataset or (X, weight)")
    dets = dict(detectors) if isinstance(detectors, Mapping) else {}
    if not isinstance(detectors, Mapping):
        for d in detectors:
            name = type(d).__name__
            dets[name if name not in dets else f"{name}_{len(dets)}"] = d

    if "background" in map(str, signals):
        raise errors.ConfigurationError("a signal may not be named 'background'")
    samples = {"background": _sample(background, "background", feature_names, luminosity)}
    for name, obj in signals.items():
        samples[str(name)] = _sample(obj, f"signal {name!r}", feature_names, luminosity)
    names = samples["background"][2]
    for what, (_, _, n, _) in samples.items():
        if n != names:
            raise errors.InputMismatchError(f"{what} has the features {n}; the background has {names}")
    lumis = {lu for (_, _, _, lu) in samples.values() if lu is not None}
    if luminosity is None:
        if any(lu is None for (_, _, _, lu) in samples.values()) or len(lumis) != 1:
            raise errors.ConfigurationError(
                f"give luminosity= (pb^-1): array samples carry none, and Datasets differ ({sorted(lumis)})"
                if len(lumis) > 1 else "give luminosity= (pb^-1) of the weights of array samples")
        luminosity = lumis.pop()
    data: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for what, (X, w, _, lu) in samples.items():
        _check_weights(w, what)
        data[what] = (X, w if lu is None else w * (float(luminosity) / lu))

    # the split: part trains the supervised classifier, the rest is evaluated for every method
    rng = np.random.default_rng(seed)
    train: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    evaluate: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for what, (X, w) in data.items():
        if supervised is False:
            evaluate[what] = (X, w)
            continue
        perm = rng.permutation(len(X))
        n_tr = int(round(float(supervised_fraction) * len(X)))
        if n_tr < 1 or n_tr >= len(X):
            raise errors.DataError(f"{what}: {len(X)} events cannot be split into a supervised training part "
                                   f"({supervised_fraction:g}) and an evaluated part")
        tr, ev = np.sort(perm[:n_tr]), np.sort(perm[n_tr:])
        train[what] = (X[tr], w[tr])
        evaluate[what] = (X[ev], w[ev] * (len(X) / len(ev)))
    if training_background is not None:
        seen = training_background.X if isinstance(training_background, Dataset) else np.asarray(
            training_background[0] if isinstance(training_background, tuple) else training_background)
        if seen.ndim != 2 or seen.shape[1] != len(names):
            raise errors.InputMismatchError(f"training_background must have {len(names)} columns ({names}); "
                                            f"got shape {seen.shape}")
        for what, (X, _) in evaluate.items():
            n_seen = _rows_in(X, seen)
            if n_seen:
                raise errors.DataError(
                    f"{n_seen} of the {len(X)} evaluated {what} events are among the detectors' training events: "
                    "their scores would be biased; evaluate on events the detectors did not see")

    Xb, wb = evaluate["background"]
    methods: dict[str, tuple[str, Callable[[np.ndarray], np.ndarray]]] = {}
    for name, det in dets.items():
        methods[str(name)] = ("detector", lambda X, d=det: np.asarray(d.decision_function(X, feature_names=names),
                                                                      dtype=np.float64))
    for base in baselines:
        if base == "ht":
            col = _ht(Xb, names, ht_column)[1]
            methods["ht"] = ("baseline", lambda X: _ht(X, names, ht_column)[0])
            if progress:
                progress(f"H_T baseline: {col}")
        elif base in names:
            methods[base] = ("baseline", lambda X, j=names.index(base): X[:, j].astype(np.float64))
        else:
            raise errors.ConfigurationError(f"unknown baseline {base!r}: use 'ht' or a feature name ({names})")
    if len(methods) != len(dets) + len(baselines):
        raise errors.ConfigurationError(f"method names must be distinct: detectors {list(dets)}, baselines "
                                        f"{list(baselines)}")
    template = None
    if supervised is not False:
        if supervised is None:
            from hepsift.models import MLPClassifier

            template = MLPClassifier(hidden_layers=(64, 64), epochs=100, patience=5, class_weight="balanced",
                                     seed=seed)
        else:
            template = supervised

    cells: list[LimitCell] = []
    background_scores = {m: f(Xb) for m, (_, f) in methods.items()}
    sup_name = "supervised"
    for sig in signals:
        sig = str(sig)
        Xs, ws = evaluate[sig]
        scored = {m: (kind, background_scores[m], f(Xs)) for m, (kind, f) in methods.items()}
        if template is not None:
            (Xbt, wbt), (Xst, wst) = train["background"], train[sig]
            model = _clone(template)
            model.fit(np.concatenate([Xbt, Xst]), np.r_[np.zeros(len(Xbt), np.int64), np.ones(len(Xst), np.int64)],
                      sample_weight=np.concatenate([wbt, wst]))
            score = _score_of(model)
            sup_name = f"supervised ({type(model).__name__})"
            scored[sup_name] = ("supervised", score(Xb), score(Xs))
        for m, (kind, sb, ss) in scored.items():
            if progress:
                progress(f"{m}: {sig}")
            cells.extend(_cell(m, kind, sig, e, sb, wb, ss, ws, cl, max_mc_stat) for e in effs)
    order = [*methods, sup_name]
    cells.sort(key=lambda c: order.index(c.method))  # stable: signals and eps_b keep their order
    prov = {"hepsift": __version__, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "seed": seed,
            "split": ("none: every given event evaluated" if supervised is False else
                      f"random, seed {seed}: {supervised_fraction:g} of each sample trains the supervised baseline, "
                      "the rest (weights scaled by n / n_evaluated) is evaluated"),
            "n_evaluated": {k: int(len(v[0])) for k, v in evaluate.items()},
            "detectors_checked_against_training_events": training_background is not None,
            "max_mc_stat": max_mc_stat}
    return LimitTable(cells=cells, luminosity=float(luminosity), cl=float(cl), provenance=prov)


def limit_table_from_root(
    detectors: Mapping[str, Any] | Sequence[Any],
    files: Mapping[str, str | os.PathLike[str]],
    *,
    luminosity: float,
    features: str | Sequence[str] = "full",
    selection: str | None = "event % 2 == 1",
    selected_fraction: float = 0.5,
    tree: str | None = None,
    **kwargs: Any,
) -> LimitTable:
    """:func:`limit_table` on hepsift ntuples: one background and one signal per signal sample.

    Every file is read with :meth:`hepsift.data.Dataset.from_root` (events with
    ``signal_mass > 0`` are signal); the background is every background event of every file,
    and each sample name (mapping key, e.g. ``zprime_tt_m1000``) holding signal events is one
    signal. ``selection`` keeps the events the detectors were not trained on (by default the
    odd event numbers, when the detectors were trained on the even ones), and the weights are
    divided by ``selected_fraction`` so that the yields stay those of the full samples.

    Parameters
    ----------
    detectors : as for :func:`limit_table`
    files : mapping sample name -> ROOT file (e.g. from :func:`hepsift.events.generate_preset`)
    luminosity : float, pb^-1
    features : feature set or list of branches (must hold the detectors' features)
    selection : NumPy expression over branches selecting the evaluated events, or None (all)
    selected_fraction : float in (0, 1]
        Fraction of every sample that ``selection`` keeps.
    tree : str, optional
        Tree name (default ``Events``, or the only tree).
    **kwargs
        Passed on to :func:`limit_table` (``eps_b``, ``supervised``, ``baselines``, ``seed``, ...).

    Returns
    -------
    LimitTable
    """
    if not 0.0 < float(selected_fraction) <= 1.0:
        raise errors.ConfigurationError(f"selected_fraction must be in (0, 1], got {selected_fraction}")
    if not isinstance(files, Mapping) or not files:
        raise errors.ConfigurationError("files must be a non-empty mapping sample name -> ROOT file")
    ds = Dataset.from_root(dict(files), features, tree=tree, luminosity=luminosity, selection=selection)
    ds.weight = ds.weight / float(selected_fraction)
    if not np.any(ds.y == 0):
        raise errors.DataError(f"no background event (signal_mass == 0) in {sorted(files)}")
    signals = {str(name): ds.subset(np.flatnonzero((ds.process == name) & (ds.y == 1)))
               for name in files if np.any((ds.process == name) & (ds.y == 1))}
    if not signals:
        raise errors.DataError(f"no signal event (signal_mass > 0) in {sorted(files)}")
    return limit_table(detectors, ds.subset(np.flatnonzero(ds.y == 0)), signals, luminosity=luminosity, **kwargs)
