"""Out-of-fold CWoLa scores: signal region against sidebands, each event scored by a model that never saw it."""

from __future__ import annotations

from typing import Any

import numpy as np

from hepsift.errors import ConfigurationError, DataError
from hepsift.weak._regions import Regions, as_mass, as_weights

__all__ = ["cwola_scores", "check_mass_not_a_feature"]


def check_mass_not_a_feature(mass: np.ndarray, X: np.ndarray, feature_names: Any = None) -> None:
    """Refuse features that are the resonance mass itself (or a linear function of it).

    A classifier trained on signal region against sidebands separates them perfectly with the
    mass, and a cut on its score then carves a bump into the background spectrum (sculpting).

    Raises
    ------
    hepsift.ConfigurationError
        A column equals the mass to float32 precision, or has ``|corr| > 0.9999`` with it.
    """
    m32 = mass.astype(np.float32)
    for j in range(X.shape[1]):
        col = X[:, j]
        name = f"column {j}" + (f" ({feature_names[j]!r})" if feature_names is not None else "")
        same = np.array_equal(col.astype(np.float32), m32)
        if not same and np.std(col) > 0 and np.std(mass) > 0:
            same = abs(float(np.corrcoef(col, mass)[0, 1])) > 0.9999
        if same:
            raise ConfigurationError(
                f"feature {name} is the mass (or a linear function of it): a classifier of signal region "
                "against sidebands would learn the mass itself and its cut would sculpt the background "
                "spectrum into a bump; remove it from the features")


def _score(model: Any, X: np.ndarray) -> np.ndarray:
    if hasattr(model, "predict_proba"):
        p = np.asarray(model.predict_proba(X))
        return np.asarray(p[:, -1] if p.ndim == 2 else p, dtype=np.float64)
    return np.asarray(model.decision_function(X), dtype=np.float64).ravel()


def cwola_scores(
    mass: Any,
    X: Any,
    signal_region: tuple[float, float],
    sidebands: tuple[tuple[float, float], tuple[float, float]],
    *,
    estimator: Any = None,
    folds: int = 5,
    seed: int = 0,
    sample_weight: Any = None,
    return_folds: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Classification without labels (CWoLa): out-of-fold scores of signal region against sidebands.

    Events in the signal region get label 1, events in the sidebands label 0; a resonance that
    is also different in the features makes the two mixtures differ, so the optimal classifier
    of the mixtures is the optimal signal/background classifier (Metodiev, Nachman, Thaler,
    arXiv:1708.02949; the bump hunt: Collins, Howe, Nachman, arXiv:1805.02664). The labelled events
    are split into ``folds`` stratified folds; fold k is scored by a model trained on the other
    folds only, so no event's score comes from a model that saw it (a memorising model cannot
    fake a signal). Events outside both regions get the mean score of the ``folds`` models.

    Parameters
    ----------
    mass : array_like, shape (n_events,)
        The resonance mass (e.g. m_jj in GeV); only defines the regions, never a feature.
    X : array_like, shape (n_events, n_features)
        Features (finite; converted to float32). None of them may be the mass.
    signal_region : (lo, hi)
        Signal region ``[lo, hi)`` in units of ``mass``.
    sidebands : ((lo1, hi1), (lo2, hi2))
        Lower and upper sidebands, ``lo1 < hi1 <= lo < hi <= lo2 < hi2``.
    estimator : classifier, optional
        Any hepsift or scikit-learn classifier (``fit(X, y, sample_weight=...)`` and
        ``predict_proba`` or ``decision_function``); cloned per fold with
        :func:`sklearn.base.clone`. Default ``hepsift.models.BDTClassifier(seed=seed)``
        (histogram gradient boosting).
    folds : int, default 5
        Number of folds (>= 2).
    seed : int, default 0
        Seeds the fold assignment (and the default estimator).
    sample_weight : array_like, shape (n_events,), optional
        Event weights passed to ``fit``.
    return_folds : bool, default False
        Also return the fold of every event.

    Returns
    -------
    scores : ndarray, float64, shape (n_events,)
        The signal probability (``predict_proba[:, 1]``, or ``decision_function``) of each event.
    folds : ndarray, int64, shape (n_events,)
        Only with ``return_folds``: the fold of each event (its score comes from the model trained
        without that fold); -1 for events outside both regions.

    Raises
    ------
    hepsift.ConfigurationError
        Bad regions, ``folds < 2``, or a feature that is the mass (sculpting).
    hepsift.DataError
        Wrong shapes, non-finite values, or fewer events per region than folds.
    """
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold

    regions = Regions.make(signal_region, sidebands)
    m = as_mass(mass)
    Xa = np.asarray(X, dtype=np.float32)
    if Xa.ndim != 2 or Xa.shape[0] != m.size or Xa.shape[1] == 0:
        raise DataError(f"X must have shape (n_events={m.size}, n_features >= 1); got {Xa.shape}")
    if not np.all(np.isfinite(Xa)):
        raise DataError("X holds NaN or infinite values; use a finite sentinel such as -999 for missing objects")
    w = None if sample_weight is None else as_weights(sample_weight, m.size, "sample_weight")
    if int(folds) != folds or folds < 2:
        raise ConfigurationError(f"folds must be an integer >= 2; got {folds!r}")
    check_mass_not_a_feature(m, Xa)
    sr, sb = regions.in_signal_region(m), regions.in_sidebands(m)
    n_sr, n_sb = int(sr.sum()), int(sb.sum())
    if min(n_sr, n_sb) < folds:
        raise DataError(f"{n_sr} events in the signal region and {n_sb} in the sidebands: each needs at least "
                        f"folds={folds}; widen the regions or use fewer folds")
    if estimator is None:
        from hepsift.models import BDTClassifier

        estimator = BDTClassifier(seed=seed)
    labelled = np.flatnonzero(sr | sb)
    y = sr[labelled].astype(np.int64)
    fold_of = np.full(m.size, -1, dtype=np.int64)
    scores = np.zeros(m.size)
    outside = np.flatnonzero(~(sr | sb))
    splitter = StratifiedKFold(n_splits=int(folds), shuffle=True, random_state=seed)
    for k, (train, test) in enumerate(splitter.split(labelled, y)):
        model = clone(estimator)
        kw = {} if w is None else {"sample_weight": w[labelled[train]]}
        model.fit(Xa[labelled[train]], y[train], **kw)
        fold_of[labelled[test]] = k
        scores[labelled[test]] = _score(model, Xa[labelled[test]])
        if outside.size:
            scores[outside] += _score(model, Xa[outside]) / folds
    return (scores, fold_of) if return_folds else scores
