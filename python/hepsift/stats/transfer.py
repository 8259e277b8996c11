"""Transferability of classifiers between signal hypotheses.

Train one classifier per signal hypothesis, then set an expected limit with each classifier's
score histograms on every signal. The matrix of expected mu upper limits, divided column by
column by the limit obtained with the classifier trained on that very signal (the diagonal),
shows how much sensitivity is lost when a classifier is applied to a signal it was not
trained on (J. Crispim Romao, N. F. Castro, J. G. Milhano, R. Pedro, T. Vale, "Use of a
generalized energy Mover's distance in the search for rare phenomena at colliders",
Phys. Rev. D 101 (2020) 035042).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from hepsift.errors import ConfigurationError

__all__ = ["TransferabilityResult", "transferability_matrix"]


@dataclass
class TransferabilityResult:
    """Expected limits of every classifier on every signal.

    Attributes
    ----------
    classifiers : list of str, length n_clf
        Row labels (the signal each classifier was trained on).
    signals : list of str, length n_sig
        Column labels.
    limits : ndarray, shape (n_clf, n_sig)
        Median expected upper limit on mu.
    ratio : ndarray, shape (n_clf, n_sig)
        ``limits[i, j] / limits[k(j), j]`` with ``k(j)`` the classifier trained on signal j
        (NaN in columns without such a classifier); >= 1 when the own classifier is best.
    """

    classifiers: list[str]
    signals: list[str]
    limits: np.ndarray
    ratio: np.ndarray

    def table(self, *, ratio: bool = False, fmt: str = "{:9.3g}") -> str:
        """Plain-text table of the limits (or of the ratio to the diagonal)."""
        mat = self.ratio if ratio else self.limits
        w = max(9, *(len(c) for c in self.classifiers))
        head = " " * (w + 1) + " ".join(f"{s:>9.9}" for s in self.signals)
        rows = [
            f"{c:>{w}} " + " ".join(fmt.format(v) for v in row) for c, row in zip(self.classifiers, mat, strict=True)
        ]
        return "\n".join([head, *rows])

    def to_dict(self) -> dict[str, Any]:
        return {
            "classifiers": self.classifiers,
            "signals": self.signals,
            "limits": self.limits.tolist(),
            "ratio": self.ratio.tolist(),
        }

    def plot(self, path: Any = None, *, ratio: bool = True) -> Any:
        """Heat map, see :func:`hepsift.stats.plots.plot_transferability`."""
        from hepsift.stats.plots import plot_transferability

        return plot_transferability(self, path=path, ratio=ratio)


def transferability_matrix(
    signal_histograms: Mapping[str, Mapping[str, Any]],
    background_histograms: Mapping[str, Any],
    *,
    cl: float = 0.95,
    **limit_options: Any,
) -> TransferabilityResult:
    """Matrix of expected limits: every classifier applied to every signal.

    Parameters
    ----------
    signal_histograms : mapping classifier -> mapping signal -> histogram-like
        ``signal_histograms[c][s]``: score histogram (of classifier ``c``) of signal ``s``,
        normalised to its expected yield. Every classifier must cover the same signals.
        A classifier whose name equals a signal name is the one trained on that signal.
    background_histograms : mapping classifier -> background(s)
        Score histogram(s) of the backgrounds for each classifier (anything
        :func:`hepsift.stats.upper_limit` takes as ``backgrounds``).
    cl : float
        Confidence level.
    **limit_options
        Passed to :func:`hepsift.stats.upper_limit` (``norm_uncertainties``, ``mc_stat`` ...).

    Returns
    -------
    TransferabilityResult
    """
    from hepsift.stats.limits import upper_limit

    classifiers = [str(c) for c in signal_histograms]
    if not classifiers:
        raise ConfigurationError("no classifier given")
    signals = [str(s) for s in next(iter(signal_histograms.values()))]
    for c in classifiers:
        if sorted(map(str, signal_histograms[c])) != sorted(signals):
            raise ConfigurationError(
                f"classifier {c!r} covers signals {sorted(signal_histograms[c])}, expected {sorted(signals)}"
            )
        if c not in background_histograms:
            raise ConfigurationError(f"no background histogram for classifier {c!r}")
    limits = np.empty((len(classifiers), len(signals)))
    for i, c in enumerate(classifiers):
        for j, s in enumerate(signals):
            res = upper_limit(signal_histograms[c][s], background_histograms[c], cl=cl, **limit_options)
            limits[i, j] = res.expected
    ratio = np.full_like(limits, np.nan)
    for j, s in enumerate(signals):
        if s in classifiers:
            ratio[:, j] = limits[:, j] / limits[classifiers.index(s), j]
    return TransferabilityResult(classifiers, signals, limits, ratio)
