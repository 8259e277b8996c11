"""A dijet resonance search on generated events: m_JJ and jet features of the two leading large-R jets."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hepsift.errors import ConfigurationError, DataError

__all__ = ["DijetEvents", "dijet_events", "inject_signal"]

_JET = ("FatJet_pt", "FatJet_eta", "FatJet_phi", "FatJet_mass", "FatJet_nConstituents")
_TAU = ("FatJet_tau1", "FatJet_tau2")


@dataclass
class DijetEvents:
    """Events of a dijet resonance search (:func:`dijet_events`).

    Attributes
    ----------
    mass : ndarray, float64, shape (n_events,)
        m_JJ, the invariant mass of the two leading large-R jets (GeV).
    X : ndarray, float32, shape (n_events, n_features)
        Features of the two jets ordered by jet mass (heavier first): ``mj1``, ``mj2`` (GeV),
        ``nconst1``, ``nconst2`` (constituents), and ``tau21_1``, ``tau21_2`` (tau2 / tau1)
        when the files hold ``FatJet_tau1`` and ``FatJet_tau2``.
    feature_names : list of str
    signal : ndarray of bool, shape (n_events,)
        Generator truth (``signal_mass > 0``); never an input of the search.
    """

    mass: np.ndarray
    X: np.ndarray
    feature_names: list[str]
    signal: np.ndarray = field(repr=False)

    def __len__(self) -> int:
        return int(self.mass.size)

    def subset(self, index: Any) -> DijetEvents:
        """The events selected by a boolean mask or an index array."""
        return DijetEvents(self.mass[index], self.X[index], list(self.feature_names), self.signal[index])

    @classmethod
    def concatenate(cls, parts: Sequence[DijetEvents]) -> DijetEvents:
        """The events of several parts in order; their feature names must agree."""
        names = parts[0].feature_names
        for p in parts[1:]:
            if p.feature_names != names:
                raise DataError(f"cannot concatenate dijet events with features {names} and {p.feature_names}")
        return cls(np.concatenate([p.mass for p in parts]), np.concatenate([p.X for p in parts]), list(names),
                   np.concatenate([p.signal for p in parts]))


def dijet_events(files: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], *, tree: str | None = None,
                 max_delta_eta: float | None = 1.3) -> DijetEvents:
    """m_JJ and jet features of the events with two large-R jets, from hepsift ntuples.

    Reads ``FatJet_pt/eta/phi/mass/nConstituents`` (and ``FatJet_tau1/2`` when present) through
    :func:`hepsift.io.read_tree`, keeps the events with at least two ``FatJet`` and
    ``|eta_1 - eta_2| < max_delta_eta`` for the two leading ones (the rapidity cut of the LHC dijet
    searches, which suppresses t-channel QCD), and computes
    ``m_JJ = sqrt((E_1 + E_2)^2 - |p_1 + p_2|^2)`` from (pt, eta, phi, mass).

    Parameters
    ----------
    files : path or sequence of paths
        ROOT files written by :mod:`hepsift.events` (or any tree with these branches).
    tree : str, optional
        Tree name (default ``Events``).
    max_delta_eta : float or None, default 1.3
        Cut on the pseudorapidity difference of the two leading jets; None keeps every event.

    Returns
    -------
    DijetEvents

    Raises
    ------
    hepsift.MissingBranchError
        A FatJet branch is missing.
    hepsift.DataError
        No event passes.
    """
    import awkward as ak

    from hepsift.io import read_tree

    if max_delta_eta is not None and not max_delta_eta > 0:
        raise ConfigurationError(f"max_delta_eta must be positive or None; got {max_delta_eta}")
    ev = read_tree(files, [*_JET, "signal_mass"], tree=tree, optional=_TAU, library="ak")
    ev = ev[ak.num(ev["FatJet_pt"]) >= 2]
    jets = {name: ak.to_numpy(ev[name][:, :2]).astype(np.float64) for name in ev.fields if name.startswith("FatJet_")}
    pt, eta, phi, m = (jets[f"FatJet_{v}"] for v in ("pt", "eta", "phi", "mass"))
    keep = np.ones(len(pt), dtype=bool) if max_delta_eta is None else np.abs(eta[:, 0] - eta[:, 1]) < max_delta_eta
    if not keep.any():
        raise DataError(f"no event of {files} has two large-R jets with |delta eta| < {max_delta_eta}")
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    energy = np.sqrt(px**2 + py**2 + pz**2 + m**2)
    mjj = np.sqrt(np.maximum(energy.sum(1) ** 2 - px.sum(1) ** 2 - py.sum(1) ** 2 - pz.sum(1) ** 2, 0.0))
    order = np.argsort(-m, axis=1, kind="stable")  # heavier jet first
    cols, names = [], []
    per_jet = [("mj", m), ("nconst", jets["FatJet_nConstituents"])]
    if all(t in jets for t in _TAU):
        with np.errstate(divide="ignore", invalid="ignore"):
            tau21 = np.where(jets["FatJet_tau1"] > 0, jets["FatJet_tau2"] / jets["FatJet_tau1"], 0.0)
        per_jet.append(("tau21_", tau21))
    for stem, values in per_jet:
        ordered = np.take_along_axis(values, order, axis=1)
        for i in range(2):
            cols.append(ordered[:, i])
            names.append(f"{stem}{i + 1}")
    X = np.stack(cols, axis=1).astype(np.float32)
    signal = ak.to_numpy(ev["signal_mass"]) > 0
    return DijetEvents(mjj[keep], X[keep], names, signal[keep])


def inject_signal(background: DijetEvents, signal: DijetEvents, s_over_b: float, signal_region: tuple[float, float],
                  *, seed: int) -> tuple[DijetEvents, DijetEvents]:
    """Background plus a random subset of signal events with ``S / B = s_over_b`` expected in the signal region.

    Draws ``n = round(s_over_b * B_SR / f_SR)`` signal events at random (``B_SR``: background
    events in ``[lo, hi)``; ``f_SR``: fraction of the signal events there), so that the expected
    signal count in the signal region is ``s_over_b * B_SR`` (the drawn one fluctuates
    binomially). Every event has unit weight.

    Returns
    -------
    sample : DijetEvents
        The background events followed by the injected ones (``signal`` marks them).
    unused : DijetEvents
        The signal events not injected (e.g. to train a supervised reference).

    Raises
    ------
    hepsift.ConfigurationError
        ``s_over_b`` negative, or a bad signal region.
    hepsift.DataError
        Fewer signal events than needed, or none in the signal region.
    """
    if not (np.isfinite(s_over_b) and s_over_b >= 0):
        raise ConfigurationError(f"s_over_b must be finite and >= 0; got {s_over_b}")
    lo, hi = (float(v) for v in signal_region)
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ConfigurationError(f"signal_region must be (lo, hi) with lo < hi; got {signal_region!r}")
    b_sr = int(((background.mass >= lo) & (background.mass < hi)).sum())
    f_sr = float(((signal.mass >= lo) & (signal.mass < hi)).mean()) if len(signal) else 0.0
    if s_over_b > 0 and f_sr == 0:
        raise DataError(f"no signal event in the signal region [{lo:g}, {hi:g})")
    n = int(round(s_over_b * b_sr / f_sr)) if s_over_b > 0 else 0
    if n > len(signal):
        raise DataError(f"S/B = {s_over_b:g} on {b_sr} background events in the signal region needs {n} signal events; "
                        f"only {len(signal)} given")
    perm = np.random.default_rng(seed).permutation(len(signal))
    return DijetEvents.concatenate([background, signal.subset(perm[:n])]), signal.subset(np.sort(perm[n:]))
